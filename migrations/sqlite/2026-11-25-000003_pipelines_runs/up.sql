-- Connection checks, discovered pipelines and triggered runs (issue 4).

-- The last connection check and sync as JSON (domain ConnectionCheck / SyncReport), when the
-- periodic check is next due, and the lease of the replica checking it now.
ALTER TABLE integrations ADD COLUMN last_check TEXT;
ALTER TABLE integrations ADD COLUMN last_sync TEXT;
ALTER TABLE integrations ADD COLUMN next_check_at TIMESTAMP;
ALTER TABLE integrations ADD COLUMN lease_owner TEXT;
ALTER TABLE integrations ADD COLUMN lease_until TIMESTAMP;
CREATE INDEX integrations_next_check ON integrations (next_check_at);

-- One row per job a tool has (or had: removed ones stay, with their runs).
CREATE TABLE pipelines (
    id TEXT PRIMARY KEY NOT NULL,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    full_path TEXT NOT NULL,
    -- full_path lowercased, for case-insensitive search on both backends.
    path_key TEXT NOT NULL,
    name TEXT NOT NULL,
    folder TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    buildable BOOLEAN NOT NULL,
    -- JSON: [ParameterDefinition]
    parameters TEXT NOT NULL,
    -- JSON: LastBuild
    last_build TEXT,
    removed_at TIMESTAMP,
    discovered_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (integration_id, full_path)
);
-- Counting and listing an integration's live pipelines.
CREATE INDEX pipelines_live ON pipelines (integration_id, full_path) WHERE removed_at IS NULL;

-- Runs Switchboard triggered. Ids are UUIDv7, so ordering by id is ordering by creation.
CREATE TABLE runs (
    id TEXT PRIMARY KEY NOT NULL,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'unstable', 'cancelled', 'skipped', 'error')),
    -- JSON: the parameter values as shown (passwords masked)
    parameters TEXT NOT NULL,
    -- JSON: the connector's RunHandle
    handle TEXT NOT NULL,
    build_number BIGINT,
    build_url TEXT,
    detail TEXT,
    triggered_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    duration_ms BIGINT,
    updated_at TIMESTAMP NOT NULL,
    next_poll_at TIMESTAMP,
    poll_failures INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TIMESTAMP
);
CREATE INDEX runs_by_pipeline ON runs (pipeline_id, id);
CREATE INDEX runs_by_integration ON runs (integration_id, id);
CREATE INDEX runs_by_status ON runs (status, id);
-- The run monitor's work: active runs by when they are next due.
CREATE INDEX runs_due ON runs (next_poll_at) WHERE status IN ('queued', 'running');

INSERT INTO data_versions (name, version) VALUES ('pipelines', 0), ('runs', 0);
