//! The audit log: what each entry says, and the actions it names.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    /// Refused for who asked: a role or a scope that does not allow it.
    Denied,
    /// Tried and failed: a wrong password, a change that did not apply.
    Failed,
}

impl AuditOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Failed]
            .into_iter()
            .find(|outcome| outcome.as_str() == raw)
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Person,
    ServiceAccount,
    /// The installation's command line (`switchboard user add`, …).
    Cli,
    /// Switchboard itself (the first administrator at the first start).
    System,
    /// Someone not signed in (a failed sign-in).
    Anonymous,
}

impl ActorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::ServiceAccount => "service_account",
            Self::Cli => "cli",
            Self::System => "system",
            Self::Anonymous => "anonymous",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Person,
            Self::ServiceAccount,
            Self::Cli,
            Self::System,
            Self::Anonymous,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == raw)
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field an entry changed: its value before and after. A secret shows only as
/// `{"changed": true, "fingerprint": "…"}`, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditChange {
    pub field: String,
    /// Any JSON value; `null` when the field had none (a new record).
    pub before: Option<Value>,
    /// Any JSON value; `null` when the field has none now.
    pub after: Option<Value>,
}

/// An entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Its place in the chain: 1, 2, 3, … without gaps.
    pub seq: i64,
    pub id: String,
    pub at: DateTime<Utc>,
    /// The user's or service account's id; absent for the command line, Switchboard itself
    /// and anonymous attempts.
    pub actor_id: Option<String>,
    /// The actor's name (`cli`, `switchboard`, `anonymous` for the others).
    pub actor: String,
    pub actor_kind: ActorKind,
    /// The API token the actor used, if any.
    pub token_id: Option<String>,
    /// What was done, e.g. `token.created`; a denied request names its operation
    /// (`denied: POST /api/v1/users`).
    #[cfg_attr(feature = "openapi", schema(example = "token.created"))]
    pub action: String,
    /// The kind of thing acted on (`user`, `service_account`, `token`, `session`,
    /// `integration`, `run`, `tool`, `approval_policy`, `change_request`).
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// The target's name when it has one.
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The non-secret fields before and after; secrets as `changed` with their fingerprint.
    pub changes: Vec<AuditChange>,
    pub detail: Option<String>,
    /// The previous entry's `hash` (64 zeros before the first entry).
    pub prev_hash: String,
    /// SHA-256 (hex) over `prev_hash` and this entry's fields.
    pub hash: String,
}

/// `GET /api/v1/audit-events`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// Where the chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrokenLink {
    /// The entry at which the chain stops holding.
    pub seq: i64,
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "entry 41 is not the one its successor was chained to (edited or replaced)"
        )
    )]
    pub reason: String,
}

/// `GET /api/v1/audit-events/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditVerification {
    /// Whether every entry is as it was written, and none is missing.
    pub ok: bool,
    /// Entries checked.
    pub checked: i64,
    /// The first broken link, when `ok` is false.
    pub first_broken: Option<BrokenLink>,
}

/// The actions the log names.
pub mod actions {
    pub const SIGN_IN: &str = "auth.sign_in";
    pub const SIGN_OUT: &str = "auth.sign_out";
    pub const PASSWORD_CHANGED: &str = "auth.password_changed";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_CHANGED: &str = "user.changed";
    pub const SERVICE_ACCOUNT_CREATED: &str = "service_account.created";
    pub const SERVICE_ACCOUNT_CHANGED: &str = "service_account.changed";
    pub const TOKEN_CREATED: &str = "token.created";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const INTEGRATION_CREATED: &str = "integration.created";
    /// A rename, new URLs, a credential set, replaced or cleared: the changes say which.
    pub const INTEGRATION_CHANGED: &str = "integration.changed";
    pub const INTEGRATION_DELETED: &str = "integration.deleted";
    /// A connection check that used the integration's stored secrets, started by someone;
    /// the detail names the host it reached.
    pub const INTEGRATION_CHECKED: &str = "integration.checked";
    /// A draft tested with an integration's stored secrets (`POST …/test` with `id`).
    pub const INTEGRATION_TESTED: &str = "integration.tested";
    pub const INTEGRATION_SYNCED: &str = "integration.synced";
    pub const RUN_TRIGGERED: &str = "run.triggered";
    /// The tool refused a run just recorded (the run ends as failed).
    pub const RUN_NOT_STARTED: &str = "run.not_started";
    pub const RUN_CANCELLED: &str = "run.cancelled";
    /// Finished runs older than the retention period deleted (by Switchboard, in batches).
    pub const RUNS_PURGED: &str = "runs.purged";
    pub const TOOL_CHANGED: &str = "tool.changed";
    pub const APPROVAL_POLICY_CHANGED: &str = "approval_policy.changed";
    pub const CHANGE_REQUEST_OPENED: &str = "change_request.opened";
    pub const CHANGE_REQUEST_REVISED: &str = "change_request.revised";
    pub const CHANGE_REQUEST_COMMENTED: &str = "change_request.commented";
    pub const CHANGE_REQUEST_REVIEWED: &str = "change_request.reviewed";
    pub const CHANGE_REQUEST_DRY_RUN: &str = "change_request.dry_run";
    /// A request's state changed (approved, rejected, withdrawn, expired, conflict, open
    /// again); the detail names the state.
    pub const CHANGE_REQUEST_STATE: &str = "change_request.state";
    /// Prefix of a refused request's action: `denied: METHOD /route/{pattern}`.
    pub const DENIED_PREFIX: &str = "denied: ";
}
