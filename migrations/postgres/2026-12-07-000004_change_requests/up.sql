-- Prior discussion and approval. The approval policy is one row, written at first start
-- (on unless SWITCHBOARD_APPROVAL=off then). A change request holds a proposed change
-- without its secret values (those are sealed like credentials, bound to the request's id,
-- and destroyed when the request closes); its timeline (revisions, comments, reviews, dry
-- runs, state changes) is append-only. A new integration waiting for approval is an
-- integrations row with status 'pending_approval' that names its request.
CREATE TABLE approval_policy (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    enabled BOOLEAN NOT NULL,
    approvals_required INTEGER NOT NULL CHECK (approvals_required IN (1, 2)),
    open_days INTEGER NOT NULL CHECK (open_days BETWEEN 1 AND 365),
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE change_requests (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('create_integration', 'update_integration', 'enable_tool', 'propose_tool', 'update_policy')),
    state TEXT NOT NULL CHECK (state IN ('open', 'approved', 'changes_requested', 'rejected', 'withdrawn', 'expired', 'conflict')),
    integration_id TEXT,
    tool TEXT,
    revision INTEGER NOT NULL,
    author_id TEXT NOT NULL,
    author TEXT NOT NULL,
    business_need TEXT NOT NULL,
    change TEXT NOT NULL,
    secret_values BYTEA,
    secret_values_key TEXT,
    base_version BIGINT,
    dry_run TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    CHECK ((secret_values IS NULL) = (secret_values_key IS NULL))
);
CREATE INDEX change_requests_state ON change_requests (state, id);
CREATE INDEX change_requests_author ON change_requests (author_id, id);
CREATE INDEX change_requests_integration ON change_requests (integration_id);

CREATE TABLE change_request_events (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('opened', 'revised', 'comment', 'review', 'dry_run', 'state')),
    actor_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    revision INTEGER NOT NULL,
    decision TEXT,
    body TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX change_request_events_request ON change_request_events (request_id, id);

ALTER TABLE integrations ADD COLUMN change_request_id TEXT;
