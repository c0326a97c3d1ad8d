-- Versions for users and the tool policy, so their updates honour If-Match like integrations';
-- and the count of failed checks in a row, so a failed check is retried soon, backing off.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tool_settings ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE integrations ADD COLUMN check_failures INTEGER NOT NULL DEFAULT 0;
-- Only the integrations' counter is read (their list pages are cached); the pipelines' and
-- runs' counters cost a write on one hot row per poll and told nobody anything.
DELETE FROM data_versions WHERE name IN ('pipelines', 'runs');
