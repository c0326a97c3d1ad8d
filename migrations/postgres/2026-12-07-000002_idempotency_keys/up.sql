-- Idempotency-Key: the first answer to a request, kept for 24 hours per principal and key, so
-- a client retrying after a timeout gets it again instead of a second build or integration.
CREATE TABLE idempotency_keys (
    principal_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 (hex) of the operation and its body: the same key with another request is refused.
    request_hash TEXT NOT NULL,
    -- JSON of the first answer; NULL while the first request is being processed.
    response TEXT,
    created_at TIMESTAMP NOT NULL,
    -- While the response is NULL: when the request holding the key is presumed dead.
    held_until TIMESTAMP NOT NULL,
    PRIMARY KEY (principal_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
