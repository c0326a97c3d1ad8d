//! Switchboard's use cases: one method of [`Switchboard`] per thing a person or script does —
//! sign in, add, change, delete, check and sync an integration, test a draft, trigger and
//! cancel a run, read its log, manage users and the tool policy. Each takes the acting [`Principal`] (when
//! the rule depends on who acts) and typed input, applies the rules once, and returns domain
//! types or an [`AppError`]. The HTTP handlers and the command line both call these methods,
//! so a rule lives in one place and both give the same answers.
//!
//! Below this layer are the store (`switchboard-store`) and the connectors
//! (`switchboard-connectors`, reached through [`Tooling`]); the background work
//! ([`monitor`]) lives here too. Nothing here knows an HTTP framework.

mod audit;
mod change_requests;
mod error;
mod idempotency;
mod integrations;
pub mod monitor;
pub mod page_cache;
pub mod paging;
pub mod passwords;
mod pipelines;
mod runs;
mod settings;
mod tokens;
pub mod tooling;
mod tools;
mod unconfirmed;
mod users;

use std::sync::Arc;

use switchboard_domain::audit::ActorKind;
use switchboard_domain::user::{AccountKind, Role};
use switchboard_store::{AuditActor, StatementTally, Store};

pub use audit::ListAudit;
pub use change_requests::{ListChangeRequests, Submitted};
pub use error::{AppError, AppResult};
pub use idempotency::{IdempotencyKey, Once};
pub use integrations::{IntegrationListing, ListIntegrations};
pub use pipelines::{ListPipelines, TriggerFault};
pub use runs::ListRuns;
pub use settings::{BackgroundConfig, OutboundConfig};
pub use tokens::TokenCheck;
pub use tooling::Tooling;

/// Who is acting: a signed-in user, or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: String,
    pub username: String,
    pub role: Role,
    /// A person, or a service account acting through a token.
    pub kind: AccountKind,
    /// Where the request came from, for the audit log (none for the command line).
    pub origin: Origin,
}

/// What the audit log records about where an action came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The API token used, if any.
    pub token_id: Option<String>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Principal {
    /// The operator at the command line: an administrator of the installation, recorded as
    /// `cli`.
    pub fn command_line() -> Self {
        Self {
            id: "cli".to_owned(),
            username: "cli".to_owned(),
            role: Role::Admin,
            kind: AccountKind::Person,
            origin: Origin::default(),
        }
    }

    /// The principal as the audit log names it.
    pub fn actor(&self) -> AuditActor {
        let kind = if self.is_command_line() {
            ActorKind::Cli
        } else {
            match self.kind {
                AccountKind::Person => ActorKind::Person,
                AccountKind::ServiceAccount => ActorKind::ServiceAccount,
            }
        };
        AuditActor {
            id: (!self.is_command_line()).then(|| self.id.clone()),
            name: self.username.clone(),
            kind: Some(kind),
            token_id: self.origin.token_id.clone(),
            client_address: self.origin.client_address.clone(),
            user_agent: self.origin.user_agent.clone(),
            request_id: self.origin.request_id.clone(),
        }
    }

    /// Whether this is the installation's command line: whoever runs it holds the database
    /// and its key already, so what it adds applies directly (it is how an installation is
    /// seeded before anyone can sign in) and is recorded as done by `cli`.
    pub fn is_command_line(&self) -> bool {
        self.id == "cli"
    }

    /// `Forbidden` unless the principal's role is at least `role`.
    pub fn require(&self, role: Role) -> AppResult<()> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AppError::Forbidden(role))
        }
    }
}

/// What follows the save of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterSave {
    /// Check the connection at once (the answer carries the outcome), then, when it is good,
    /// discover the pipelines in the background (the server).
    CheckNow,
    /// Leave the check and discovery to a running server's periodic work, which takes a new
    /// or changed integration at once (the command line: it exits right away, and the
    /// server's outbound policy is the one that must apply).
    LeaveToServer,
}

/// The use cases and what they share.
pub struct Switchboard {
    store: Arc<Store>,
    tooling: Arc<Tooling>,
    /// PBKDF2 rounds for new password hashes.
    password_iterations: u32,
    after_save: AfterSave,
    /// Integration list pages by query, valid for one data version.
    integration_pages: Arc<page_cache::PageCache>,
    /// Test-only: where triggers stop as if the server died.
    trigger_fault: Option<TriggerFault>,
}

impl Switchboard {
    pub fn new(tooling: Arc<Tooling>, password_iterations: u32, after_save: AfterSave) -> Self {
        Self {
            store: tooling.store.clone(),
            tooling,
            password_iterations,
            after_save,
            integration_pages: Arc::new(page_cache::PageCache::new(256)),
            trigger_fault: None,
        }
    }

    /// The store, for what is not a use case: authentication and readiness.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn tooling(&self) -> &Arc<Tooling> {
        &self.tooling
    }
}

/// Runs blocking store work off the async workers, counted for the request it serves.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(tallied(work)).await?
}

tokio::task_local! {
    /// The statements the store runs on behalf of the request this task serves.
    static REQUEST_STATEMENTS: StatementTally;
}

/// Runs `request` with the statements its store work runs (through [`tallied`]) counted in
/// `tally` (the server sets one per HTTP request).
pub async fn tallying<F: std::future::Future>(tally: StatementTally, request: F) -> F::Output {
    REQUEST_STATEMENTS.scope(tally, request).await
}

/// `work`, for a blocking thread, with the statements it runs counted for the current
/// request (when there is one).
pub fn tallied<R>(
    work: impl FnOnce() -> R + Send + 'static,
) -> impl FnOnce() -> R + Send + 'static {
    let tally = REQUEST_STATEMENTS.try_with(Clone::clone).ok();
    move || match tally {
        Some(tally) => tally.attach(work),
        None => work(),
    }
}
