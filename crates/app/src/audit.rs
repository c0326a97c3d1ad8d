//! Reading and verifying the audit log (administrators), and the entries that change nothing
//! else: sign-ins and refused requests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use switchboard_domain::audit::{AuditEvent, AuditOutcome, AuditPage, AuditVerification, actions};
use switchboard_domain::check::ConnectionCheck;
use switchboard_domain::integration::origin_of;
use switchboard_domain::tools::find_tool;
use switchboard_domain::user::Role;
use switchboard_store::{AuditActor, AuditQuery, NewAuditEvent, StoredUser};

use crate::paging::page_size;
use crate::{AppError, AppResult, Principal, Switchboard, blocking};

/// The filters of `GET /api/v1/audit-events`, as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct ListAudit {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// What the log says of a use of an integration's stored secrets.
pub(crate) struct SecretUse {
    pub action: &'static str,
    pub ok: bool,
    /// How it ended, in a few words.
    pub result: String,
    /// The URLs the secrets went to, when not the integration's own (a tested draft).
    pub urls: Option<BTreeMap<String, String>>,
}

/// A check's outcome as the audit log says it.
pub(crate) fn check_result(check: &ConnectionCheck) -> String {
    match (check.ok, check.category) {
        (true, _) => "the connection check succeeded".to_owned(),
        (false, Some(category)) => format!("the connection check failed ({category})"),
        (false, None) => "the connection check failed".to_owned(),
    }
}

impl Switchboard {
    /// Records that `by` had integration `id`'s stored secrets used — a check, a test of a
    /// draft, a discovery — with the origins they were sent to and how it ended. Nothing else
    /// changes, so the entry is appended on its own; if it cannot be, the caller is answered
    /// the error (the log never silently misses a use).
    pub(crate) async fn record_secret_use(
        &self,
        by: &Principal,
        id: &str,
        used: SecretUse,
    ) -> AppResult<()> {
        let store = self.store.clone();
        let actor = by.actor();
        let id = id.to_owned();
        blocking(move || {
            let integration = store.get_integration(&id)?;
            let urls = used.urls.unwrap_or(integration.urls);
            let mut origins: Vec<String> = urls
                .iter()
                .filter(|(key, _)| {
                    find_tool(&integration.tool).is_none_or(|tool| tool.url_field(key).is_some())
                })
                .filter_map(|(_, url)| origin_of(url))
                .collect();
            origins.sort();
            origins.dedup();
            let holds_secrets = integration.credentials.values().any(|credential| {
                matches!(
                    credential,
                    switchboard_domain::integration::CredentialView::Secret(state) if state.configured
                )
            });
            let reached = if holds_secrets {
                "its stored secrets were sent to"
            } else {
                "it holds no secret; reached"
            };
            let event = NewAuditEvent::new(&actor, used.action)
                .on("integration", Some(&id), Some(&integration.name))
                .outcome(if used.ok {
                    AuditOutcome::Success
                } else {
                    AuditOutcome::Failed
                })
                .detail(format!("{}; {reached} {}", used.result, origins.join(", ")));
            Ok(store.record_audit(&event)?)
        })
        .await
    }

    /// Entries newest first, filtered (administrators). The cursor is the last entry's `seq`.
    pub async fn list_audit(&self, by: &Principal, request: ListAudit) -> AppResult<AuditPage> {
        by.require(Role::Admin)?;
        let limit = page_size(request.limit)?;
        let before_seq = request
            .cursor
            .as_deref()
            .map(|cursor| {
                cursor.parse::<i64>().map_err(|_| {
                    AppError::InvalidParameter("cursor is not one this API returned".into())
                })
            })
            .transpose()?;
        let query = AuditQuery {
            actor: request.actor,
            action: request.action,
            target: request.target,
            outcome: request.outcome,
            since: request.since,
            until: request.until,
            before_seq,
            limit,
        };
        let store = self.store.clone();
        let (items, more) = blocking(move || Ok(store.list_audit(&query)?)).await?;
        let next_cursor = if more {
            items.last().map(|event| event.seq.to_string())
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }

    /// The next entries after `after_seq`, oldest first, for an export (administrators);
    /// empty at the end.
    pub async fn audit_after(&self, by: &Principal, after_seq: i64) -> AppResult<Vec<AuditEvent>> {
        by.require(Role::Admin)?;
        let store = self.store.clone();
        blocking(move || Ok(store.audit_after(after_seq)?)).await
    }

    /// Walks the whole chain and reports its first broken link (administrators, and the
    /// command line).
    pub async fn verify_audit(&self, by: &Principal) -> AppResult<AuditVerification> {
        by.require(Role::Admin)?;
        let store = self.store.clone();
        blocking(move || Ok(store.verify_audit()?)).await
    }

    /// Records a request refused for its caller's role or scope.
    pub async fn record_denied(&self, by: &Principal, operation: &str, detail: &str) {
        let event = NewAuditEvent::new(
            &by.actor(),
            &format!("{}{operation}", actions::DENIED_PREFIX),
        )
        .outcome(AuditOutcome::Denied)
        .detail(detail);
        self.record_alone(event).await;
    }

    /// Records a sign-in: by the user when it succeeded, by nobody (naming the user name
    /// tried) when it failed.
    pub(crate) async fn record_sign_in(
        &self,
        from: &AuditActor,
        username: &str,
        user: Option<&StoredUser>,
    ) {
        let event = match user {
            Some(user) => {
                let actor = AuditActor {
                    id: Some(user.id.clone()),
                    name: user.username.clone(),
                    kind: Some(switchboard_domain::audit::ActorKind::Person),
                    ..from.clone()
                };
                NewAuditEvent::new(&actor, actions::SIGN_IN).on(
                    "user",
                    Some(&user.id),
                    Some(&user.username),
                )
            }
            None => NewAuditEvent::new(from, actions::SIGN_IN)
                .on("user", None, Some(username))
                .outcome(AuditOutcome::Failed)
                .detail("wrong user name or password, or a disabled account"),
        };
        self.record_alone(event).await;
    }

    /// An entry that changes nothing else. Failing to write it is logged, not answered: the
    /// request it describes has been decided already.
    async fn record_alone(&self, event: NewAuditEvent) {
        let store = self.store.clone();
        let action = event.action.clone();
        if let Err(err) = blocking(move || Ok(store.record_audit(&event)?)).await {
            tracing::error!(action = %action, error = %err, "could not write an audit entry");
        }
    }
}
