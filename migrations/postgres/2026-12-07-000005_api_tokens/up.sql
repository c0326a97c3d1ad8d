-- Service accounts are users that never sign in: they share the user name namespace, the
-- role, the disabled flag and every reference to users (authors, reviewers).
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service_account'));
ALTER TABLE users ADD COLUMN created_by TEXT;

-- API tokens, stored only as a keyed hash (HMAC-SHA256 under a key derived from the master
-- key named by key_id).
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    key_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    last_used_from TEXT,
    revoked_at TIMESTAMP,
    revoked_by TEXT
);
CREATE INDEX api_tokens_owner ON api_tokens (owner_id, created_at);

-- Sessions ended by signing out, until they would have expired anyway.
CREATE TABLE revoked_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);
