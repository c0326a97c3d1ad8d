CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    session_epoch BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE tool_settings (
    tool_id TEXT PRIMARY KEY NOT NULL,
    enabled BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE integrations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    tool TEXT NOT NULL,
    urls TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX integrations_tool_name_key ON integrations (tool, name_key);

CREATE TABLE integration_credentials (
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    plain_value TEXT,
    sealed_value BYTEA,
    key_id TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (integration_id, field),
    CHECK ((plain_value IS NULL) <> (sealed_value IS NULL)),
    CHECK ((sealed_value IS NULL) = (key_id IS NULL))
);
