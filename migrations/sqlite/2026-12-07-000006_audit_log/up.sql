-- The audit log: one entry per change and per security-relevant event, appended in the
-- transaction of the change it records. Entries form a hash chain: each carries the SHA-256
-- of its predecessor's hash and its own fields, so an edited, inserted or deleted entry breaks
-- the chain at the first place it touches. `audit_head` is the chain's end (one row), locked
-- by every append so that appends are serialised and never fork the chain.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    at TIMESTAMP NOT NULL,
    actor_id TEXT,
    actor TEXT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('person', 'service_account', 'cli', 'system', 'anonymous')),
    token_id TEXT,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    target TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
    client_address TEXT,
    user_agent TEXT,
    request_id TEXT,
    changes TEXT NOT NULL,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_target ON audit_events (target_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
