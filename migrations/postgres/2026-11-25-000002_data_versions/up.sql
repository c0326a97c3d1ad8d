-- A counter per kind of data, bumped in the same transaction as every change to it, so any
-- replica can tell with one cheap read whether what it cached is still current.
CREATE TABLE data_versions (
    name TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO data_versions (name, version) VALUES ('integrations', 0);
