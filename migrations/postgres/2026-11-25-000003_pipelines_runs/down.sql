DELETE FROM data_versions WHERE name IN ('pipelines', 'runs');
DROP TABLE runs;
DROP TABLE pipelines;
DROP INDEX integrations_next_check;
ALTER TABLE integrations DROP COLUMN lease_until;
ALTER TABLE integrations DROP COLUMN lease_owner;
ALTER TABLE integrations DROP COLUMN next_check_at;
ALTER TABLE integrations DROP COLUMN last_sync;
ALTER TABLE integrations DROP COLUMN last_check;
