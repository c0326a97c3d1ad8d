//! The approval policy, change requests and their timelines.
//!
//! The store keeps requests and carries out what the use-case layer decides: every change to
//! a request runs in one transaction that locks its row (on PostgreSQL; SQLite's single
//! writer already excludes others), hands what it read to the caller's decision, and writes
//! the outcome — the new state and timeline entries, a new revision, and when approved the
//! change itself — conditional on the version it read. So two approvers racing never apply a
//! change twice, and a refused step changes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use switchboard_domain::audit::actions;
use switchboard_domain::change_request::{
    ApprovalPolicy, ChangeKind, DryRun, PolicySettings, RequestState, ReviewDecision,
    TimelineEntry, TimelineKind,
};
use switchboard_domain::integration::{
    CurrentSettings, Integration, IntegrationDraft, IntegrationPatch, IntegrationStatus,
};
use switchboard_domain::tools::ToolSpec;
use switchboard_domain::user::{AccountKind, Role};

use crate::audit::{AuditActor, NewAuditEvent, append};
use crate::integrations::lock_settings;
use crate::schema::{
    approval_policy, change_request_events as events, change_requests as requests, integrations,
    users,
};
use crate::seal::SealedValue;
use crate::tools::set_tool_enabled_on;
use crate::{
    DbConnection, Store, StoreError, StoreResult, Subject, new_id, now, stored, to_json, utc,
};

/// The field name a request's secret values are sealed under (with the request's id).
const SECRETS_FIELD: &str = "change request secrets";
/// Who acts when nobody does (expiry).
pub const SYSTEM_ACTOR: &str = "system";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = requests)]
struct RequestRow {
    id: String,
    kind: String,
    state: String,
    integration_id: Option<String>,
    tool: Option<String>,
    revision: i32,
    author_id: String,
    author: String,
    business_need: String,
    /// JSON of [`StoredChange`].
    change: String,
    secret_values: Option<Vec<u8>>,
    secret_values_key: Option<String>,
    base_version: Option<i64>,
    /// JSON of the latest [`DryRun`].
    dry_run: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
struct EventRow {
    id: String,
    request_id: String,
    kind: String,
    actor_id: String,
    actor: String,
    revision: i32,
    decision: Option<String>,
    /// JSON of [`EventBody`].
    body: String,
    at: NaiveDateTime,
}

/// What an event carries besides its columns.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct EventBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<RequestState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dry_run: Option<DryRun>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sole_administrator: bool,
}

/// A proposed change as stored: the body without its secret values, and what it does to
/// each secret field (`set` or `clear`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StoredChange {
    change: serde_json::Value,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
}

/// A change request as stored (its secret values sealed apart).
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub id: String,
    pub kind: ChangeKind,
    pub state: RequestState,
    pub integration_id: Option<String>,
    pub tool: Option<String>,
    pub revision: i32,
    pub author_id: String,
    pub author: String,
    pub business_need: String,
    /// The proposed body without secret values.
    pub change: serde_json::Value,
    /// Per secret field: `set` or `clear`.
    pub secret_changes: BTreeMap<String, String>,
    /// The live integration's version the current revision was written against.
    pub base_version: Option<i64>,
    pub dry_run: Option<DryRun>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A timeline entry with who acted (by id, for the rules).
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub entry: TimelineEntry,
    pub actor_id: String,
}

impl EventRecord {
    /// Whether this entry wrote a revision (opening the request writes the first).
    pub fn wrote_revision(&self) -> bool {
        matches!(
            self.entry.kind,
            TimelineKind::Opened | TimelineKind::Revised
        )
    }
}

fn record(row: RequestRow) -> StoreResult<RequestRecord> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("change request {}: {what}", row.id));
    let kind = ChangeKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?;
    let state = RequestState::parse(&row.state).ok_or_else(|| corrupt("state"))?;
    let stored: StoredChange =
        serde_json::from_str(&row.change).map_err(|err| corrupt(&err.to_string()))?;
    let dry_run = row
        .dry_run
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|err| corrupt(&err.to_string()))?;
    Ok(RequestRecord {
        id: row.id,
        kind,
        state,
        integration_id: row.integration_id,
        tool: row.tool,
        revision: row.revision,
        author_id: row.author_id,
        author: row.author,
        business_need: row.business_need,
        change: stored.change,
        secret_changes: stored.secrets,
        base_version: row.base_version,
        dry_run,
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
        expires_at: utc(row.expires_at),
    })
}

fn event_record(row: EventRow) -> StoreResult<EventRecord> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("request event {}: {what}", row.id));
    let kind = TimelineKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?;
    let body: EventBody =
        serde_json::from_str(&row.body).map_err(|err| corrupt(&err.to_string()))?;
    let decision = match row.decision.as_deref() {
        Some(raw) => Some(ReviewDecision::parse(raw).ok_or_else(|| corrupt("decision"))?),
        None => None,
    };
    Ok(EventRecord {
        actor_id: row.actor_id,
        entry: TimelineEntry {
            id: row.id,
            kind,
            at: utc(row.at),
            actor: row.actor,
            revision: row.revision,
            text: body.text,
            reply_to: body.reply_to,
            decision,
            state: body.state,
            dry_run: body.dry_run,
            sole_administrator: body.sole_administrator,
        },
    })
}

/// Who acts on a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub name: String,
    /// The same, as the audit log names it (with where the request came from).
    pub audit: AuditActor,
}

/// The audit entry of a timeline entry about request `request_id`.
fn timeline_audit(actor: &Actor, request_id: &str, event: &NewEvent) -> NewAuditEvent {
    let action = match event.kind {
        TimelineKind::Opened => actions::CHANGE_REQUEST_OPENED,
        TimelineKind::Revised => actions::CHANGE_REQUEST_REVISED,
        TimelineKind::Comment => actions::CHANGE_REQUEST_COMMENTED,
        TimelineKind::Review => actions::CHANGE_REQUEST_REVIEWED,
        TimelineKind::DryRun => actions::CHANGE_REQUEST_DRY_RUN,
        TimelineKind::State => actions::CHANGE_REQUEST_STATE,
    };
    let audit =
        NewAuditEvent::new(&actor.audit, action).on("change_request", Some(request_id), None);
    let detail = match (event.kind, event.decision, event.state, &event.dry_run) {
        (TimelineKind::Review, Some(decision), _, _) if event.sole_administrator => {
            Some(format!("{} (as the sole administrator)", decision.as_str()))
        }
        (TimelineKind::Review, Some(decision), _, _) => Some(decision.as_str().to_owned()),
        (TimelineKind::State, _, Some(state), _) => Some(match &event.text {
            Some(reason) => format!("{}: {reason}", state.as_str()),
            None => state.as_str().to_owned(),
        }),
        (TimelineKind::DryRun, _, _, Some(dry_run)) => Some(if dry_run.check.ok {
            "the connection check succeeded".to_owned()
        } else {
            format!("the connection check failed: {}", dry_run.check.message)
        }),
        _ => None,
    };
    match detail {
        Some(detail) => audit.detail(detail),
        None => audit,
    }
}

/// A new timeline entry.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: TimelineKind,
    pub text: Option<String>,
    pub reply_to: Option<String>,
    pub decision: Option<ReviewDecision>,
    pub state: Option<RequestState>,
    pub dry_run: Option<DryRun>,
    pub sole_administrator: bool,
}

impl NewEvent {
    pub fn of(kind: TimelineKind) -> Self {
        Self {
            kind,
            text: None,
            reply_to: None,
            decision: None,
            state: None,
            dry_run: None,
            sole_administrator: false,
        }
    }

    pub fn state(state: RequestState, reason: Option<String>) -> Self {
        Self {
            state: Some(state),
            text: reason,
            ..Self::of(TimelineKind::State)
        }
    }
}

/// A proposed change, ready to keep: the body without secret values, the secret values
/// (sealed at once), and what it does to each secret field.
pub struct Proposal {
    pub change: serde_json::Value,
    pub secret_changes: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposal")
            .field("change", &self.change)
            .field("secret_changes", &self.secret_changes)
            .finish_non_exhaustive()
    }
}

/// A request to open.
#[derive(Debug)]
pub struct NewRequest {
    pub kind: ChangeKind,
    pub integration_id: Option<String>,
    pub tool: Option<String>,
    pub author: Actor,
    pub business_need: String,
    pub proposal: Proposal,
    pub base_version: Option<i64>,
    /// How long it stays open (from the moment it is kept).
    pub open_for: chrono::Duration,
    /// For `create_integration`: the validated draft, kept as a pending integration (which
    /// holds its name: a taken one is refused as for any integration).
    pub pending: Option<IntegrationDraft>,
}

/// What a decision on a request sees, read under the request's lock.
pub struct Situation {
    pub request: RequestRecord,
    pub events: Vec<EventRecord>,
    /// The request's secret values (opened), for applying or re-proposing them.
    pub secrets: BTreeMap<String, SecretString>,
    /// The ids of the enabled administrators.
    pub admins: Vec<String>,
    pub policy: ApprovalPolicy,
    /// Whether the request's tool (if it names one) is switched on now.
    pub tool_enabled: bool,
    /// For an integration request: the live integration's version, tool and settings, read
    /// under its lock; `None` when it is gone.
    pub live: Option<LiveIntegration>,
    pub now: DateTime<Utc>,
}

/// The integration a request targets, as it is now.
pub struct LiveIntegration {
    pub version: i64,
    pub tool: &'static ToolSpec,
    pub current: CurrentSettings,
    pub pending: bool,
}

/// What to apply with an approval.
#[derive(Debug)]
pub enum Apply {
    /// Save the pending integration with its draft (name, URLs, credentials).
    CreateIntegration(IntegrationPatch),
    UpdateIntegration(IntegrationPatch),
    EnableTool(String),
    Policy(PolicySettings),
    /// A tool proposal accepted: nothing to apply.
    Nothing,
}

/// What a decision does to a request.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Timeline entries to append, in order.
    pub events: Vec<NewEvent>,
    pub state: Option<RequestState>,
    /// A new revision.
    pub revision: Option<Revision>,
    pub dry_run: Option<DryRun>,
    pub apply: Option<Apply>,
}

/// A new revision's content.
#[derive(Debug)]
pub struct Revision {
    pub business_need: String,
    pub proposal: Proposal,
    pub base_version: Option<i64>,
    /// For `create_integration`: the pending integration's new name and URLs.
    pub pending: Option<IntegrationDraft>,
}

/// What a changed request brought about.
#[derive(Debug)]
pub struct Decided {
    pub request: RequestRecord,
    pub events: Vec<EventRecord>,
    /// The integration saved by an approval, to check and discover.
    pub applied_integration: Option<Integration>,
}

/// `GET /api/v1/change-requests`'s filters.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    pub limit: i64,
    /// The last id of the previous page (newest first).
    pub before: Option<String>,
    pub state: Option<RequestState>,
    pub kind: Option<ChangeKind>,
    pub author_id: Option<String>,
    /// Open requests this administrator may still review: not one of its authors, and not
    /// yet approved by them in its current revision.
    pub reviewable_by: Option<String>,
}

fn policy_view(row: (bool, i32, i32, i64, NaiveDateTime, String)) -> ApprovalPolicy {
    let (enabled, approvals, days, version, updated_at, updated_by) = row;
    ApprovalPolicy {
        enabled,
        approvals_required: u8::try_from(approvals).unwrap_or(1),
        open_days: u32::try_from(days).unwrap_or(14),
        version,
        updated_at: utc(updated_at),
        updated_by,
    }
}

/// The default policy, before first start wrote one: on, one approval, 14 days.
pub fn default_policy() -> PolicySettings {
    PolicySettings {
        enabled: true,
        approvals_required: 1,
        open_days: 14,
    }
}

fn read_policy(conn: &mut DbConnection) -> StoreResult<ApprovalPolicy> {
    let row = approval_policy::table
        .find(1)
        .select((
            approval_policy::enabled,
            approval_policy::approvals_required,
            approval_policy::open_days,
            approval_policy::version,
            approval_policy::updated_at,
            approval_policy::updated_by,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some(row) => policy_view(row),
        None => {
            let settings = default_policy();
            ApprovalPolicy {
                enabled: settings.enabled,
                approvals_required: settings.approvals_required,
                open_days: settings.open_days,
                version: 0,
                updated_at: Utc::now(),
                updated_by: SYSTEM_ACTOR.to_owned(),
            }
        }
    })
}

/// Writes the policy; answers it and `audit` completed with what changed, for the caller to
/// append as its transaction's last write.
fn write_policy(
    conn: &mut DbConnection,
    settings: PolicySettings,
    by: &str,
    expected_version: Option<i64>,
    audit: NewAuditEvent,
) -> StoreResult<(ApprovalPolicy, NewAuditEvent)> {
    let current = read_policy(conn)?;
    if let Some(expected) = expected_version
        && expected != current.version
    {
        return Err(StoreError::VersionMismatch {
            current: current.version,
        });
    }
    let at = now();
    let values = (
        approval_policy::enabled.eq(settings.enabled),
        approval_policy::approvals_required.eq(i32::from(settings.approvals_required)),
        approval_policy::open_days.eq(i32::try_from(settings.open_days).unwrap_or(14)),
        approval_policy::updated_at.eq(at),
        approval_policy::updated_by.eq(by),
    );
    // Conditional on the version read: of two changes from one version one lands.
    let updated = diesel::update(
        approval_policy::table
            .find(1)
            .filter(approval_policy::version.eq(current.version)),
    )
    .set((values, approval_policy::version.eq(current.version + 1)))
    .execute(conn)?;
    if updated == 0 {
        if current.version != 0 {
            return Err(StoreError::VersionMismatch {
                current: read_policy(conn)?.version,
            });
        }
        diesel::insert_into(approval_policy::table)
            .values((
                approval_policy::id.eq(1),
                values,
                approval_policy::version.eq(1_i64),
            ))
            .execute(conn)?;
    }
    let policy = read_policy(conn)?;
    let event = audit
        .on("approval_policy", None, None)
        .change(
            "enabled",
            Some(current.enabled.into()),
            Some(policy.enabled.into()),
        )
        .change(
            "approvals_required",
            Some(current.approvals_required.into()),
            Some(policy.approvals_required.into()),
        )
        .change(
            "open_days",
            Some(current.open_days.into()),
            Some(policy.open_days.into()),
        );
    Ok((policy, event))
}

/// Deletes the pending integration a closed request would have added.
fn drop_pending(conn: &mut DbConnection, integration_id: &str) -> StoreResult<()> {
    diesel::delete(
        integrations::table
            .find(integration_id)
            .filter(integrations::status.eq(IntegrationStatus::PendingApproval.as_str())),
    )
    .execute(conn)?;
    crate::bump_data_version(conn, crate::DATA_INTEGRATIONS)?;
    Ok(())
}

fn lock_request(conn: &mut DbConnection, id: &str) -> StoreResult<RequestRow> {
    let row = match conn {
        DbConnection::Postgres(pg) => requests::table
            .find(id)
            .select(RequestRow::as_select())
            .for_update()
            .first(pg)
            .optional()?,
        DbConnection::Sqlite(sqlite) => requests::table
            .find(id)
            .select(RequestRow::as_select())
            .first(sqlite)
            .optional()?,
    };
    row.ok_or(StoreError::NotFound(Subject::ChangeRequest))
}

fn load_events(conn: &mut DbConnection, id: &str) -> StoreResult<Vec<EventRecord>> {
    events::table
        .filter(events::request_id.eq(id))
        .order(events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(event_record)
        .collect()
}

fn insert_event(
    conn: &mut DbConnection,
    request_id: &str,
    actor: &Actor,
    revision: i32,
    event: NewEvent,
) -> StoreResult<()> {
    let body = EventBody {
        text: event.text,
        reply_to: event.reply_to,
        state: event.state,
        dry_run: event.dry_run,
        sole_administrator: event.sole_administrator,
    };
    diesel::insert_into(events::table)
        .values(EventRow {
            id: new_id(),
            request_id: request_id.to_owned(),
            kind: event.kind.as_str().to_owned(),
            actor_id: actor.id.clone(),
            actor: actor.name.clone(),
            revision,
            decision: event.decision.map(|decision| decision.as_str().to_owned()),
            body: to_json(&body)?,
            at: now(),
        })
        .execute(conn)?;
    Ok(())
}

fn stored_change(proposal: &Proposal) -> StoreResult<String> {
    to_json(&StoredChange {
        change: proposal.change.clone(),
        secrets: proposal.secret_changes.clone(),
    })
}

fn enabled_admins(conn: &mut DbConnection) -> StoreResult<Vec<String>> {
    Ok(users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::disabled.eq(false))
        .filter(users::kind.eq(AccountKind::Person.as_str()))
        .select(users::id)
        .load(conn)?)
}

fn pending_row_values(draft: &IntegrationDraft) -> StoreResult<(String, String, String)> {
    let urls: BTreeMap<&str, &str> = draft
        .urls
        .iter()
        .map(|(key, url)| (key.as_str(), url.as_str()))
        .collect();
    Ok((
        draft.name.as_str().to_owned(),
        draft.name.key(),
        to_json(&urls)?,
    ))
}

impl Store {
    /// The ids of the enabled administrators.
    pub fn enabled_admin_ids(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn()?;
        enabled_admins(&mut conn)
    }

    /// The approval policy (the default one before first start wrote it).
    pub fn approval_policy(&self) -> StoreResult<ApprovalPolicy> {
        let mut conn = self.conn()?;
        read_policy(&mut conn)
    }

    /// Writes the policy at first start, unless one is kept already (then it stays). Of
    /// replicas starting at once, one writes it (`ON CONFLICT DO NOTHING`) and all read it.
    pub fn ensure_approval_policy(&self, enabled: bool) -> StoreResult<ApprovalPolicy> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        let defaults = default_policy();
        let row = (
            approval_policy::id.eq(1),
            approval_policy::enabled.eq(enabled),
            approval_policy::approvals_required.eq(i32::from(defaults.approvals_required)),
            approval_policy::open_days.eq(i32::try_from(defaults.open_days).unwrap_or(14)),
            approval_policy::version.eq(1_i64),
            approval_policy::updated_at.eq(now()),
            approval_policy::updated_by.eq(SYSTEM_ACTOR),
        );
        // Dialect-specific only in type: both backends write `ON CONFLICT DO NOTHING`.
        match &mut *conn {
            DbConnection::Postgres(pg) => diesel::insert_into(approval_policy::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(pg)?,
            DbConnection::Sqlite(sqlite) => diesel::insert_into(approval_policy::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(sqlite)?,
        };
        read_policy(&mut conn)
    }

    /// Sets the policy directly (while approval is off, or when an approval applies it).
    pub fn set_approval_policy(
        &self,
        settings: PolicySettings,
        by: &str,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> StoreResult<ApprovalPolicy> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let (policy, event) =
                write_policy(conn, settings, by, expected_version, audit.clone())?;
            append(conn, &event)?;
            Ok(policy)
        })
    }

    fn seal_request_secrets(
        &self,
        request_id: &str,
        secrets: &BTreeMap<String, SecretString>,
    ) -> StoreResult<Option<SealedValue>> {
        if secrets.is_empty() {
            return Ok(None);
        }
        let exposed: BTreeMap<&str, &str> = secrets
            .iter()
            .map(|(field, value)| (field.as_str(), value.expose_secret()))
            .collect();
        let json = SecretString::from(to_json(&exposed)?);
        Ok(Some(self.sealer().seal(
            request_id,
            SECRETS_FIELD,
            &json,
        )?))
    }

    fn open_request_secrets(
        &self,
        request_id: &str,
        blob: Option<Vec<u8>>,
        key_id: Option<String>,
    ) -> StoreResult<BTreeMap<String, SecretString>> {
        let (Some(blob), Some(key_id)) = (blob, key_id) else {
            return Ok(BTreeMap::new());
        };
        let json = self
            .sealer()
            .open(request_id, SECRETS_FIELD, &SealedValue { key_id, blob })?;
        let values: BTreeMap<String, String> =
            serde_json::from_str(json.expose_secret()).map_err(|err| {
                StoreError::Corrupt(format!("change request {request_id} secrets: {err}"))
            })?;
        Ok(values
            .into_iter()
            .map(|(field, value)| (field, SecretString::from(value)))
            .collect())
    }

    /// A short, non-reversible fingerprint of a secret value (hex of an HMAC under a key
    /// derived from the master key): equal values have equal fingerprints.
    pub fn fingerprint(&self, value: &SecretString) -> String {
        self.sealer().fingerprint(value)
    }

    /// Opens a request (with its first timeline entry and, for a new integration, its
    /// pending integration) in one transaction.
    pub fn open_request(&self, new: NewRequest) -> StoreResult<Decided> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        let id = new_id();
        let sealed = self.seal_request_secrets(&id, &new.proposal.secrets)?;
        conn.transaction(|conn| {
            let at = now();
            let mut integration_id = new.integration_id.clone();
            if let Some(draft) = &new.pending {
                let pending_id = new_id();
                let (name, name_key, urls) = pending_row_values(draft)?;
                diesel::insert_into(integrations::table)
                    .values((
                        integrations::id.eq(&pending_id),
                        integrations::name.eq(name),
                        integrations::name_key.eq(name_key),
                        integrations::tool.eq(draft.tool.id),
                        integrations::urls.eq(urls),
                        integrations::status.eq(IntegrationStatus::PendingApproval.as_str()),
                        integrations::version.eq(1_i64),
                        integrations::created_at.eq(at),
                        integrations::updated_at.eq(at),
                        integrations::created_by.eq(&new.author.name),
                        integrations::check_failures.eq(0),
                        integrations::change_request_id.eq(Some(&id)),
                    ))
                    .execute(conn)?;
                crate::bump_data_version(conn, crate::DATA_INTEGRATIONS)?;
                integration_id = Some(pending_id);
            }
            let row = RequestRow {
                id: id.clone(),
                kind: new.kind.as_str().to_owned(),
                state: RequestState::Open.as_str().to_owned(),
                integration_id,
                tool: new.tool.clone(),
                revision: 1,
                author_id: new.author.id.clone(),
                author: new.author.name.clone(),
                business_need: new.business_need.clone(),
                change: stored_change(&new.proposal)?,
                secret_values: sealed.as_ref().map(|sealed| sealed.blob.clone()),
                secret_values_key: sealed.as_ref().map(|sealed| sealed.key_id.clone()),
                base_version: new.base_version,
                dry_run: None,
                version: 1,
                created_at: at,
                updated_at: at,
                expires_at: stored(utc(at) + new.open_for),
            };
            diesel::insert_into(requests::table)
                .values(&row)
                .execute(conn)?;
            let opened = NewEvent {
                text: Some(new.business_need.clone()),
                ..NewEvent::of(TimelineKind::Opened)
            };
            insert_event(conn, &id, &new.author, 1, opened.clone())?;
            append(
                conn,
                &timeline_audit(&new.author, &id, &opened)
                    .detail(new.kind.as_str())
                    .change("change", None, Some(new.proposal.change.clone())),
            )?;
            Ok(Decided {
                request: record(row)?,
                events: load_events(conn, &id)?,
                applied_integration: None,
            })
        })
    }

    /// A request and its timeline.
    pub fn get_request(&self, id: &str) -> StoreResult<(RequestRecord, Vec<EventRecord>)> {
        let mut conn = self.conn()?;
        let row = requests::table
            .find(id)
            .select(RequestRow::as_select())
            .first(&mut conn)
            .optional()?
            .ok_or(StoreError::NotFound(Subject::ChangeRequest))?;
        let events = load_events(&mut conn, id)?;
        Ok((record(row)?, events))
    }

    /// A page of requests, newest first, and the last id when there are more.
    pub fn list_requests(
        &self,
        query: &RequestQuery,
    ) -> StoreResult<(Vec<RequestRecord>, Option<String>)> {
        let mut conn = self.conn()?;
        let mut rows = requests::table
            .select(RequestRow::as_select())
            .order(requests::id.desc())
            .limit(query.limit + 1)
            .into_boxed();
        if let Some(before) = &query.before {
            rows = rows.filter(requests::id.lt(before.clone()));
        }
        if let Some(state) = query.state {
            rows = rows.filter(requests::state.eq(state.as_str()));
        }
        if let Some(kind) = query.kind {
            rows = rows.filter(requests::kind.eq(kind.as_str()));
        }
        if let Some(author) = &query.author_id {
            rows = rows.filter(requests::author_id.eq(author.clone()));
        }
        if let Some(reviewer) = &query.reviewable_by {
            let wrote = events::table
                .filter(events::request_id.eq(requests::id))
                .filter(events::actor_id.eq(reviewer.clone()))
                .filter(events::kind.eq_any([
                    TimelineKind::Opened.as_str(),
                    TimelineKind::Revised.as_str(),
                ]));
            let approved = events::table
                .filter(events::request_id.eq(requests::id))
                .filter(events::actor_id.eq(reviewer.clone()))
                .filter(events::kind.eq(TimelineKind::Review.as_str()))
                .filter(events::decision.eq(ReviewDecision::Approve.as_str()))
                .filter(events::revision.eq(requests::revision));
            rows = rows
                .filter(requests::state.eq(RequestState::Open.as_str()))
                .filter(not(exists(wrote)))
                .filter(not(exists(approved)));
        }
        let mut rows = rows.load(&mut conn)?;
        let more = rows.len() as i64 > query.limit;
        rows.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
        let next = if more {
            rows.last().map(|row| row.id.clone())
        } else {
            None
        };
        let items = rows.into_iter().map(record).collect::<StoreResult<_>>()?;
        Ok((items, next))
    }

    /// The names of the integrations `ids`, for requests' titles (a missing one is left out).
    pub fn integration_names(&self, ids: &[String]) -> StoreResult<BTreeMap<String, String>> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut conn = self.conn()?;
        let names: Vec<(String, String)> = integrations::table
            .filter(integrations::id.eq_any(ids))
            .select((integrations::id, integrations::name))
            .load(&mut conn)?;
        Ok(names.into_iter().collect())
    }

    /// An integration's version, tool and settings as a change to it needs them, and whether
    /// it waits for approval.
    pub fn integration_settings(&self, id: &str) -> StoreResult<LiveIntegration> {
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let (row, tool, _, current) = lock_settings(conn, id)?;
            Ok(LiveIntegration {
                version: row.version,
                tool,
                current,
                pending: row.status == IntegrationStatus::PendingApproval.as_str(),
            })
        })
    }

    /// The full paths of an integration's pipelines that the tool still has.
    pub fn live_pipeline_paths(&self, integration_id: &str) -> StoreResult<Vec<String>> {
        use crate::schema::pipelines;
        let mut conn = self.conn()?;
        Ok(pipelines::table
            .filter(pipelines::integration_id.eq(integration_id))
            .filter(pipelines::removed_at.is_null())
            .select(pipelines::full_path)
            .order(pipelines::path_key.asc())
            .load(&mut conn)?)
    }

    /// A request's secret values, opened (for a dry run).
    pub fn request_secrets(&self, id: &str) -> StoreResult<BTreeMap<String, SecretString>> {
        let mut conn = self.conn()?;
        let (blob, key_id): (Option<Vec<u8>>, Option<String>) = requests::table
            .find(id)
            .select((requests::secret_values, requests::secret_values_key))
            .first(&mut conn)
            .optional()?
            .ok_or(StoreError::NotFound(Subject::ChangeRequest))?;
        self.open_request_secrets(id, blob, key_id)
    }

    /// Changes a request as `decide` says, given what it reads under the request's lock —
    /// all in one transaction, conditional on the request's version (and `expected_version`
    /// from `If-Match`, when given). `decide` refuses with [`StoreError::Refused`] (or any
    /// error), which changes nothing.
    pub fn decide_request(
        &self,
        id: &str,
        actor: &Actor,
        expected_version: Option<i64>,
        decide: impl FnOnce(&Situation) -> StoreResult<Outcome>,
    ) -> StoreResult<Decided> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let row = lock_request(conn, id)?;
            let secrets = self.open_request_secrets(
                id,
                row.secret_values.clone(),
                row.secret_values_key.clone(),
            )?;
            let request = record(row.clone())?;
            if let Some(expected) = expected_version
                && expected != request.version
            {
                return Err(StoreError::VersionMismatch {
                    current: request.version,
                });
            }
            let live = match (&request.integration_id, request.kind) {
                (
                    Some(integration_id),
                    ChangeKind::CreateIntegration | ChangeKind::UpdateIntegration,
                ) => match lock_settings(conn, integration_id) {
                    Ok((live_row, tool, _, current)) => Some(LiveIntegration {
                        version: live_row.version,
                        tool,
                        current,
                        pending: live_row.status == IntegrationStatus::PendingApproval.as_str(),
                    }),
                    Err(StoreError::NotFound(_)) => None,
                    Err(other) => return Err(other),
                },
                _ => None,
            };
            let tool_enabled = match &request.tool {
                Some(tool) => crate::tools::tool_enabled_on(conn, tool)?,
                None => true,
            };
            let situation = Situation {
                tool_enabled,
                events: load_events(conn, id)?,
                secrets,
                admins: enabled_admins(conn)?,
                policy: read_policy(conn)?,
                live,
                now: Utc::now(),
                request,
            };
            let outcome = decide(&situation)?;
            self.carry_out(conn, row, situation, actor, outcome)
        })
    }

    fn carry_out(
        &self,
        conn: &mut DbConnection,
        mut row: RequestRow,
        situation: Situation,
        actor: &Actor,
        outcome: Outcome,
    ) -> StoreResult<Decided> {
        let id = row.id.clone();
        let read_version = row.version;
        // Appended last, after every row this transaction locks (see `audit::append`).
        let mut audit = Vec::new();
        if let Some(revision) = outcome.revision {
            row.revision += 1;
            row.business_need = revision.business_need.clone();
            row.change = stored_change(&revision.proposal)?;
            let sealed = self.seal_request_secrets(&id, &revision.proposal.secrets)?;
            row.secret_values = sealed.as_ref().map(|sealed| sealed.blob.clone());
            row.secret_values_key = sealed.map(|sealed| sealed.key_id);
            row.base_version = revision.base_version;
            if let (Some(draft), Some(integration_id)) = (&revision.pending, &row.integration_id) {
                let (name, name_key, urls) = pending_row_values(draft)?;
                diesel::update(integrations::table.find(integration_id))
                    .set((
                        integrations::name.eq(name),
                        integrations::name_key.eq(name_key),
                        integrations::urls.eq(urls),
                        integrations::updated_at.eq(now()),
                    ))
                    .execute(conn)?;
                crate::bump_data_version(conn, crate::DATA_INTEGRATIONS)?;
            }
            let revised = NewEvent {
                text: Some(revision.business_need),
                ..NewEvent::of(TimelineKind::Revised)
            };
            insert_event(conn, &id, actor, row.revision, revised.clone())?;
            audit.push(
                timeline_audit(actor, &id, &revised)
                    .detail(format!("revision {}", row.revision))
                    .change("change", None, Some(revision.proposal.change.clone())),
            );
        }
        for event in outcome.events {
            audit.push(timeline_audit(actor, &id, &event));
            insert_event(conn, &id, actor, row.revision, event)?;
        }
        if let Some(dry_run) = &outcome.dry_run {
            row.dry_run = Some(to_json(dry_run)?);
        }
        let mut applied_integration = None;
        if let Some(apply) = outcome.apply {
            let (applied, event) = self.apply(conn, &row, actor, apply)?;
            applied_integration = applied;
            audit.extend(event);
        }
        if let Some(state) = outcome.state {
            row.state = state.as_str().to_owned();
            if state.is_final() {
                // A closed request's secrets are destroyed: applied ones live on sealed in
                // the integration, refused ones nowhere.
                row.secret_values = None;
                row.secret_values_key = None;
                if state != RequestState::Approved
                    && row.kind == ChangeKind::CreateIntegration.as_str()
                    && let Some(integration_id) = &row.integration_id
                {
                    drop_pending(conn, integration_id)?;
                }
            }
        }
        row.version += 1;
        row.updated_at = now();
        let updated = diesel::update(
            requests::table
                .find(&id)
                .filter(requests::version.eq(read_version)),
        )
        .set((
            requests::state.eq(&row.state),
            requests::revision.eq(row.revision),
            requests::business_need.eq(&row.business_need),
            requests::change.eq(&row.change),
            requests::secret_values.eq(&row.secret_values),
            requests::secret_values_key.eq(&row.secret_values_key),
            requests::base_version.eq(row.base_version),
            requests::dry_run.eq(&row.dry_run),
            requests::version.eq(row.version),
            requests::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
        if updated == 0 {
            // Not reachable under the row lock; kept so a stale write can never land.
            return Err(StoreError::VersionMismatch {
                current: read_version,
            });
        }
        drop(situation);
        for event in &audit {
            append(conn, event)?;
        }
        Ok(Decided {
            request: record(row)?,
            events: load_events(conn, &id)?,
            applied_integration,
        })
    }

    /// Applies an approved request; answers the integration it saved, if any, and the audit
    /// entry of the change (appended by the caller, last).
    fn apply(
        &self,
        conn: &mut DbConnection,
        row: &RequestRow,
        by: &Actor,
        apply: Apply,
    ) -> StoreResult<(Option<Integration>, Option<NewAuditEvent>)> {
        let applied = format!("approved change request {}", row.id);
        match apply {
            Apply::CreateIntegration(patch) | Apply::UpdateIntegration(patch) => {
                let integration_id = row.integration_id.as_deref().ok_or_else(|| {
                    StoreError::Corrupt(format!("change request {} has no integration", row.id))
                })?;
                let (live_row, tool, stored_fields, _) = lock_settings(conn, integration_id)?;
                let action = if row.kind == ChangeKind::CreateIntegration.as_str() {
                    actions::INTEGRATION_CREATED
                } else {
                    actions::INTEGRATION_CHANGED
                };
                // Checked at once, like any save by a person.
                let (saved, mut event) = self.save_patch(
                    conn,
                    live_row,
                    tool,
                    stored_fields,
                    &patch,
                    None,
                    NewAuditEvent::new(&by.audit, action).detail(applied),
                )?;
                if row.kind == ChangeKind::CreateIntegration.as_str() {
                    // Its pending row held the name and URLs already: the entry of a new
                    // integration shows them all, as a direct creation's does.
                    let mut created = NewAuditEvent::new(&by.audit, action)
                        .change("name", None, Some(saved.name.clone().into()))
                        .change("tool", None, Some(saved.tool.clone().into()));
                    for (key, url) in &saved.urls {
                        created =
                            created.change(&format!("urls.{key}"), None, Some(url.clone().into()));
                    }
                    event.changes.retain(|change| {
                        change.field != "name" && !change.field.starts_with("urls.")
                    });
                    created.changes.append(&mut event.changes);
                    event.changes = created.changes;
                }
                Ok((Some(saved), Some(event)))
            }
            Apply::EnableTool(tool) => {
                let (_, event) = set_tool_enabled_on(
                    conn,
                    &tool,
                    true,
                    &by.name,
                    None,
                    NewAuditEvent::new(&by.audit, actions::TOOL_CHANGED).detail(applied),
                )?;
                Ok((None, Some(event)))
            }
            Apply::Policy(settings) => {
                let (_, event) = write_policy(
                    conn,
                    settings,
                    &by.name,
                    None,
                    NewAuditEvent::new(&by.audit, actions::APPROVAL_POLICY_CHANGED).detail(applied),
                )?;
                Ok((None, Some(event)))
            }
            Apply::Nothing => Ok((None, None)),
        }
    }

    /// Expires every request still undecided after its time (as `system`): its secrets are
    /// destroyed and a pending integration it would have added goes. Nothing is opened, so a
    /// request whose secrets cannot be opened expires too; one that fails does not keep the
    /// others from expiring (the first failure is answered after). Answers how many expired.
    pub fn expire_due_requests(&self, at: DateTime<Utc>) -> StoreResult<usize> {
        let undecided = [
            RequestState::Open.as_str(),
            RequestState::ChangesRequested.as_str(),
            RequestState::Conflict.as_str(),
        ];
        let due: Vec<String> = {
            let mut conn = self.conn()?;
            requests::table
                .filter(requests::state.eq_any(undecided))
                .filter(requests::expires_at.le(stored(at)))
                .select(requests::id)
                .load(&mut conn)?
        };
        let system = Actor {
            id: SYSTEM_ACTOR.to_owned(),
            name: SYSTEM_ACTOR.to_owned(),
            audit: AuditActor::system(),
        };
        let mut expired = 0;
        let mut failure = None;
        for id in due {
            let _writer = self.write_guard();
            let mut conn = self.conn()?;
            let done = conn.transaction(|conn| {
                let row = lock_request(conn, &id)?;
                if !undecided.contains(&row.state.as_str()) || utc(row.expires_at) > at {
                    return Ok(false);
                }
                let expired = NewEvent::state(
                    RequestState::Expired,
                    Some("nobody decided within the approval policy's time".to_owned()),
                );
                let event = timeline_audit(&system, &id, &expired);
                insert_event(conn, &id, &system, row.revision, expired)?;
                diesel::update(
                    requests::table
                        .find(&id)
                        .filter(requests::version.eq(row.version)),
                )
                .set((
                    requests::state.eq(RequestState::Expired.as_str()),
                    requests::secret_values.eq(None::<Vec<u8>>),
                    requests::secret_values_key.eq(None::<String>),
                    requests::version.eq(row.version + 1),
                    requests::updated_at.eq(now()),
                ))
                .execute(conn)?;
                if row.kind == ChangeKind::CreateIntegration.as_str()
                    && let Some(integration_id) = &row.integration_id
                {
                    drop_pending(conn, integration_id)?;
                }
                append(conn, &event)?;
                Ok::<_, StoreError>(true)
            });
            match done {
                Ok(true) => expired += 1,
                Ok(false) => {}
                Err(err) => {
                    failure.get_or_insert(err);
                }
            }
        }
        match failure {
            Some(err) if expired == 0 => Err(err),
            _ => Ok(expired),
        }
    }

    /// Re-seals every open request's secret values under the current key (part of a key
    /// rotation).
    pub(crate) fn reseal_request_secrets(&self, conn: &mut DbConnection) -> StoreResult<usize> {
        // Locked (PostgreSQL) so a request closed or revised meanwhile waits: its secrets are
        // never brought back or replaced by the ones read here.
        let query = requests::table
            .filter(requests::secret_values.is_not_null())
            .select((
                requests::id,
                requests::secret_values,
                requests::secret_values_key,
            ));
        let rows: Vec<(String, Option<Vec<u8>>, Option<String>)> = match conn {
            DbConnection::Postgres(pg) => query.for_update().load(pg)?,
            DbConnection::Sqlite(sqlite) => query.load(sqlite)?,
        };
        let count = rows.len();
        for (id, blob, key_id) in rows {
            let secrets = self.open_request_secrets(&id, blob, key_id)?;
            let sealed = self.seal_request_secrets(&id, &secrets)?;
            diesel::update(requests::table.find(&id))
                .set((
                    requests::secret_values.eq(sealed.as_ref().map(|s| s.blob.clone())),
                    requests::secret_values_key.eq(sealed.map(|s| s.key_id)),
                ))
                .execute(conn)?;
        }
        Ok(count)
    }
}
