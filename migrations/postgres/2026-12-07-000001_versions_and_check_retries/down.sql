INSERT INTO data_versions (name, version) VALUES ('pipelines', 0), ('runs', 0);
ALTER TABLE integrations DROP COLUMN check_failures;
ALTER TABLE tool_settings DROP COLUMN version;
ALTER TABLE users DROP COLUMN version;
