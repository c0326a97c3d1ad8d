//! Integrations and their credentials.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use switchboard_domain::ValidationErrors;
use switchboard_domain::change_request::shown_fingerprint;
use switchboard_domain::check::{ConnectionCheck, SyncReport};
use switchboard_domain::integration::{
    CredentialChange, CredentialView, CurrentSettings, EndpointUrl, Integration, IntegrationDraft,
    IntegrationPatch, IntegrationStatus, SecretState, UrlKey,
};
use switchboard_domain::tools::{ToolSpec, find_tool};

use crate::audit::{NewAuditEvent, append};
use crate::schema::{integration_credentials as creds, integrations, pipelines};
use crate::seal::SealedValue;
use crate::{
    DATA_INTEGRATIONS, DbConnection, Store, StoreError, StoreResult, Subject, bump_data_version,
    contains_pattern, new_id, now, stored, to_json, utc,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = integrations)]
pub(crate) struct IntegrationRow {
    id: String,
    name: String,
    name_key: String,
    tool: String,
    urls: String,
    pub(crate) status: String,
    pub(crate) version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    created_by: String,
    /// JSON of the last `ConnectionCheck`.
    last_check: Option<String>,
    /// JSON of the last `SyncReport`.
    last_sync: Option<String>,
    /// When the periodic check is due; `NULL` = now.
    next_check_at: Option<NaiveDateTime>,
    lease_owner: Option<String>,
    lease_until: Option<NaiveDateTime>,
    /// Failed checks (or discoveries) in a row; the next retry backs off with it.
    check_failures: i32,
    /// For a new integration waiting for approval (status `pending_approval`): its request.
    change_request_id: Option<String>,
}

/// A credential row without its sealed bytes: enough to describe it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = creds)]
pub(crate) struct CredentialSummary {
    integration_id: String,
    field: String,
    plain_value: Option<String>,
    key_id: Option<String>,
    updated_at: NaiveDateTime,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = creds)]
struct CredentialRow {
    integration_id: String,
    field: String,
    plain_value: Option<String>,
    sealed_value: Option<Vec<u8>>,
    key_id: Option<String>,
    updated_at: NaiveDateTime,
}

/// What a key rotation re-sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    pub credentials: usize,
    pub runs: usize,
    pub change_requests: usize,
}

/// A credential opened for use by a connector. Its `Debug` hides secret values.
pub enum StoredCredential {
    Plain(String),
    Secret(SecretString),
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plain(value) => f.debug_tuple("Plain").field(value).finish(),
            Self::Secret(_) => f.write_str("Secret([REDACTED])"),
        }
    }
}

/// An integration as a connector takes it: its tool, URLs and opened credentials.
#[derive(Debug)]
pub struct OpenedIntegration {
    pub tool: String,
    pub urls: BTreeMap<String, String>,
    pub credentials: BTreeMap<String, StoredCredential>,
}

/// Which integrations to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationQuery {
    pub limit: i64,
    /// Only names (lowercased) after this one.
    pub after: Option<String>,
    pub tool: Option<String>,
    /// A piece of the name, ignoring case.
    pub name_contains: Option<String>,
}

fn urls_to_json(urls: &BTreeMap<UrlKey, EndpointUrl>) -> StoreResult<String> {
    let plain: BTreeMap<&str, &str> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    serde_json::to_string(&plain).map_err(|err| StoreError::Corrupt(err.to_string()))
}

fn view(
    row: IntegrationRow,
    credentials: &[CredentialSummary],
    pipelines: i64,
) -> StoreResult<Integration> {
    let urls: BTreeMap<String, String> = serde_json::from_str(&row.urls)
        .map_err(|err| StoreError::Corrupt(format!("integration {} urls: {err}", row.id)))?;
    let last_check: Option<ConnectionCheck> = row
        .last_check
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|err| StoreError::Corrupt(format!("integration {} last_check: {err}", row.id)))?;
    let last_sync: Option<SyncReport> = row
        .last_sync
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|err| StoreError::Corrupt(format!("integration {} last_sync: {err}", row.id)))?;
    let status = IntegrationStatus::parse(&row.status).ok_or_else(|| {
        StoreError::Corrupt(format!("integration {} status {:?}", row.id, row.status))
    })?;
    let mut shown = BTreeMap::new();
    if let Some(tool) = find_tool(&row.tool) {
        for field in tool.credential_fields.iter().filter(|field| field.secret) {
            shown.insert(
                field.key.to_owned(),
                CredentialView::Secret(SecretState {
                    configured: false,
                    updated_at: None,
                }),
            );
        }
    }
    for credential in credentials {
        let shown_as = match (&credential.plain_value, &credential.key_id) {
            (Some(value), _) => CredentialView::Plain(value.clone()),
            (None, _) => CredentialView::Secret(SecretState {
                configured: true,
                updated_at: Some(utc(credential.updated_at)),
            }),
        };
        shown.insert(credential.field.clone(), shown_as);
    }
    Ok(Integration {
        id: row.id,
        name: row.name,
        tool: row.tool,
        urls,
        credentials: shown,
        status,
        last_check,
        last_sync,
        pipelines: u64::try_from(pipelines).unwrap_or(0),
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
        created_by: row.created_by,
        change_request_id: row.change_request_id,
    })
}

fn load_row(conn: &mut DbConnection, id: &str) -> StoreResult<IntegrationRow> {
    integrations::table
        .find(id)
        .select(IntegrationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound(Subject::Integration))
}

/// [`load_row`] under a row lock on PostgreSQL, held until the transaction ends, so a
/// read-modify-write of the row is never interleaved with another one (SQLite's single
/// writer, held by the caller's write guard, already excludes that).
fn lock_row(conn: &mut DbConnection, id: &str) -> StoreResult<IntegrationRow> {
    let row = match conn {
        DbConnection::Postgres(pg) => integrations::table
            .find(id)
            .select(IntegrationRow::as_select())
            .for_update()
            .first(pg)
            .optional()?,
        DbConnection::Sqlite(_) => return load_row(conn, id),
    };
    row.ok_or(StoreError::NotFound(Subject::Integration))
}

/// An integration's row under its lock (see [`lock_row`]), its tool, its credentials and what
/// a change to it needs to know of them.
pub(crate) fn lock_settings(
    conn: &mut DbConnection,
    id: &str,
) -> StoreResult<(
    IntegrationRow,
    &'static ToolSpec,
    Vec<CredentialSummary>,
    CurrentSettings,
)> {
    let row = lock_row(conn, id)?;
    let tool = find_tool(&row.tool).ok_or_else(|| {
        StoreError::Corrupt(format!("integration {id} has unknown tool {:?}", row.tool))
    })?;
    let stored_fields: Vec<CredentialSummary> = creds::table
        .filter(creds::integration_id.eq(id))
        .select(CredentialSummary::as_select())
        .load(conn)?;
    let current = CurrentSettings {
        urls: serde_json::from_str(&row.urls)
            .map_err(|err| StoreError::Corrupt(format!("integration {id} urls: {err}")))?,
        filled: stored_fields
            .iter()
            .map(|stored| stored.field.clone())
            .collect(),
    };
    Ok((row, tool, stored_fields, current))
}

fn load_view(conn: &mut DbConnection, id: &str) -> StoreResult<Integration> {
    let row = load_row(conn, id)?;
    let credentials = creds::table
        .filter(creds::integration_id.eq(id))
        .select(CredentialSummary::as_select())
        .load(conn)?;
    let count = live_pipeline_counts(conn, &[id])?.remove(id).unwrap_or(0);
    view(row, &credentials, count)
}

/// How many pipelines that are not removed each of `ids` has, in one query (absent = 0).
fn live_pipeline_counts(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<HashMap<String, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let counts: Vec<(String, i64)> = pipelines::table
        .filter(pipelines::integration_id.eq_any(ids))
        .filter(pipelines::removed_at.is_null())
        .group_by(pipelines::integration_id)
        .select((pipelines::integration_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(counts.into_iter().collect())
}

/// The stored version of an integration, for a 412 answer; `NotFound` if it is gone.
fn current_version(conn: &mut DbConnection, id: &str) -> StoreResult<i64> {
    integrations::table
        .find(id)
        .select(integrations::version)
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound(Subject::Integration))
}

/// When an integration's periodic check runs next: `interval` after a success; after
/// `failures` failed checks or discoveries in a row, `first_retry` doubled per failure since
/// the first, never more than `interval` — so a tool that was briefly slow or down turns
/// Connected again by itself within seconds, while one that stays down is not hammered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSchedule {
    pub interval: chrono::Duration,
    pub first_retry: chrono::Duration,
}

impl CheckSchedule {
    pub fn delay_after(&self, failures: i32) -> chrono::Duration {
        if failures <= 0 {
            return self.interval;
        }
        let doublings = u32::try_from(failures - 1).unwrap_or(0).min(30);
        self.first_retry
            .checked_mul(1_i32 << doublings)
            .unwrap_or(self.interval)
            .min(self.interval)
    }
}

/// Sets when the periodic check is next due from the failure count this transaction just
/// wrote (the write holds the row's lock, so no other count can be read in between).
fn schedule_next_check(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
    schedule: CheckSchedule,
) -> StoreResult<()> {
    let failures: i32 = integrations::table
        .find(id)
        .select(integrations::check_failures)
        .first(conn)?;
    diesel::update(integrations::table.find(id))
        .set(integrations::next_check_at.eq(stored(now + schedule.delay_after(failures))))
        .execute(conn)?;
    Ok(())
}

/// Marks the integrations as changed; call inside the changing transaction.
fn bump_version(conn: &mut DbConnection) -> QueryResult<()> {
    bump_data_version(conn, DATA_INTEGRATIONS)
}

/// Whether applying `changes` alters what is stored in `stored` (field → plain value, `None`
/// for a sealed one). Replacing a secret always counts: it is not compared.
fn credentials_change(
    stored: &HashMap<&str, Option<&str>>,
    changes: &BTreeMap<&'static str, CredentialChange>,
) -> bool {
    changes.iter().any(|(field, change)| match change {
        CredentialChange::Set(value) => stored.get(field) != Some(&Some(value.expose())),
        CredentialChange::Clear => stored.contains_key(field),
    })
}

/// Each URL of a stored `urls` column as its own audit field (`urls.apiUrl`).
fn url_fields(urls_json: &str) -> StoreResult<BTreeMap<String, Value>> {
    let urls: BTreeMap<String, String> = serde_json::from_str(urls_json)
        .map_err(|err| StoreError::Corrupt(format!("integration urls: {err}")))?;
    Ok(urls
        .into_iter()
        .map(|(key, url)| (format!("urls.{key}"), Value::String(url)))
        .collect())
}

/// Records, on `event`, every URL that differs between two `urls` columns.
fn with_url_changes(
    mut event: NewAuditEvent,
    before: Option<&str>,
    after: Option<&str>,
) -> StoreResult<NewAuditEvent> {
    let before = before.map(url_fields).transpose()?.unwrap_or_default();
    let after = after.map(url_fields).transpose()?.unwrap_or_default();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        event = event.change(key, before.get(key).cloned(), after.get(key).cloned());
    }
    Ok(event)
}

/// A stored credential as the audit log shows its old value: a plain field's value, a
/// secret only as being there.
fn stored_credential_shown(summary: &CredentialSummary) -> Value {
    match &summary.plain_value {
        Some(value) => Value::String(value.clone()),
        None => json!({ "configured": true }),
    }
}

impl Store {
    /// A secret as the audit log shows it: that it changed, and its fingerprint's first
    /// digits (equal values, equal fingerprints) — never the value.
    fn secret_shown(&self, value: &str) -> Value {
        let fingerprint = self.sealer().fingerprint(&SecretString::from(value));
        json!({ "changed": true, "fingerprint": shown_fingerprint(&fingerprint) })
    }

    /// Records, on `event`, what `changes` do to the credentials `stored` now.
    fn with_credential_changes(
        &self,
        mut event: NewAuditEvent,
        tool: &ToolSpec,
        stored: &[CredentialSummary],
        changes: &BTreeMap<&'static str, CredentialChange>,
    ) -> NewAuditEvent {
        for (field, change) in changes {
            let before = stored
                .iter()
                .find(|summary| summary.field == *field)
                .map(stored_credential_shown);
            let secret = tool.credential_field(field).is_some_and(|spec| spec.secret);
            let after = match change {
                CredentialChange::Set(value) if secret => Some(self.secret_shown(value.expose())),
                CredentialChange::Set(value) => Some(Value::String(value.expose().to_owned())),
                CredentialChange::Clear => None,
            };
            let name = format!("credentials.{field}");
            if secret && after.is_some() {
                // A replaced secret is recorded even when it is the same value again.
                event.changes.push(switchboard_domain::audit::AuditChange {
                    field: name,
                    before,
                    after,
                });
            } else {
                event = event.change(&name, before, after);
            }
        }
        event
    }
}

impl Store {
    /// A number that changes whenever any integration or credential changes, on any replica.
    pub fn integrations_version(&self) -> StoreResult<i64> {
        self.data_version(DATA_INTEGRATIONS)
    }

    fn write_credentials(
        &self,
        conn: &mut DbConnection,
        integration_id: &str,
        tool: &ToolSpec,
        changes: &BTreeMap<&'static str, CredentialChange>,
    ) -> StoreResult<()> {
        let at = now();
        for (field, change) in changes {
            diesel::delete(creds::table.find((integration_id, *field))).execute(conn)?;
            let CredentialChange::Set(value) = change else {
                continue;
            };
            let secret = tool.credential_field(field).is_some_and(|spec| spec.secret);
            let row = if secret {
                let sealed = self.sealer().seal(
                    integration_id,
                    field,
                    &SecretString::from(value.expose()),
                )?;
                CredentialRow {
                    integration_id: integration_id.to_owned(),
                    field: (*field).to_owned(),
                    plain_value: None,
                    sealed_value: Some(sealed.blob),
                    key_id: Some(sealed.key_id),
                    updated_at: at,
                }
            } else {
                CredentialRow {
                    integration_id: integration_id.to_owned(),
                    field: (*field).to_owned(),
                    plain_value: Some(value.expose().to_owned()),
                    sealed_value: None,
                    key_id: None,
                    updated_at: at,
                }
            };
            diesel::insert_into(creds::table)
                .values(&row)
                .execute(conn)?;
        }
        Ok(())
    }

    pub fn list_integrations(
        &self,
        query: &IntegrationQuery,
    ) -> StoreResult<(Vec<Integration>, Option<String>)> {
        let mut conn = self.conn()?;
        let mut rows_query = integrations::table
            .select(IntegrationRow::as_select())
            .order(integrations::name_key.asc())
            .limit(query.limit + 1)
            .into_boxed();
        if let Some(after) = &query.after {
            rows_query = rows_query.filter(integrations::name_key.gt(after.clone()));
        }
        if let Some(tool) = &query.tool {
            rows_query = rows_query.filter(integrations::tool.eq(tool.clone()));
        }
        if let Some(fragment) = &query.name_contains {
            rows_query = rows_query.filter(
                integrations::name_key
                    .like(contains_pattern(&fragment.to_lowercase()))
                    .escape('\\'),
            );
        }
        let mut rows = rows_query.load(&mut conn)?;
        let more = rows.len() as i64 > query.limit;
        rows.truncate(query.limit.try_into().unwrap_or(usize::MAX));
        let next = if more {
            rows.last().map(|row| row.name_key.clone())
        } else {
            None
        };

        let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
        let mut by_integration: HashMap<String, Vec<CredentialSummary>> = HashMap::new();
        if !ids.is_empty() {
            let summaries: Vec<CredentialSummary> = creds::table
                .filter(creds::integration_id.eq_any(&ids))
                .select(CredentialSummary::as_select())
                .load(&mut conn)?;
            for summary in summaries {
                by_integration
                    .entry(summary.integration_id.clone())
                    .or_default()
                    .push(summary);
            }
        }
        let mut counts = live_pipeline_counts(&mut conn, &ids)?;
        let items = rows
            .into_iter()
            .map(|row| {
                let credentials = by_integration.remove(&row.id).unwrap_or_default();
                let count = counts.remove(&row.id).unwrap_or(0);
                view(row, &credentials, count)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((items, next))
    }

    pub fn get_integration(&self, id: &str) -> StoreResult<Integration> {
        let mut conn = self.conn()?;
        load_view(&mut conn, id)
    }

    /// Adds an integration, untested. Its periodic check is due at `check_due` (`None`: at
    /// once); a caller that checks it right after saving passes a moment after that check's
    /// bound, so the periodic work does not check it a second time meanwhile.
    pub fn create_integration(
        &self,
        draft: &IntegrationDraft,
        created_by: &str,
        check_due: Option<DateTime<Utc>>,
        audit: &NewAuditEvent,
    ) -> StoreResult<Integration> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let id = new_id();
            // A name taken (ignoring case) breaks `integrations.name_key`'s unique constraint,
            // which the error names: no statement is spent looking first.
            let name_key = draft.name.key();
            let at = now();
            let row = IntegrationRow {
                id: id.clone(),
                name: draft.name.as_str().to_owned(),
                name_key,
                tool: draft.tool.id.to_owned(),
                urls: urls_to_json(&draft.urls)?,
                status: IntegrationStatus::Untested.as_str().to_owned(),
                version: 1,
                created_at: at,
                updated_at: at,
                created_by: created_by.to_owned(),
                last_check: None,
                last_sync: None,
                next_check_at: check_due.map(stored),
                lease_owner: None,
                lease_until: None,
                check_failures: 0,
                change_request_id: None,
            };
            diesel::insert_into(integrations::table)
                .values(&row)
                .execute(conn)?;
            self.write_credentials(conn, &id, draft.tool, &draft.credentials)?;
            bump_version(conn)?;
            let event = audit
                .clone()
                .on("integration", Some(&id), Some(&row.name))
                .change("name", None, Some(Value::String(row.name.clone())))
                .change("tool", None, Some(Value::String(row.tool.clone())));
            let event = with_url_changes(event, None, Some(&row.urls))?;
            let event = self.with_credential_changes(event, draft.tool, &[], &draft.credentials);
            append(conn, &event)?;
            load_view(conn, &id)
        })
    }

    /// Validates and applies a change in one transaction. `parse` gets the integration's tool
    /// and which credential fields are stored now; `expected_version` comes from `If-Match`
    /// and is checked after the body. New URLs or credentials make the periodic check due at
    /// `check_due` (as in [`Store::create_integration`]).
    pub fn update_integration(
        &self,
        id: &str,
        expected_version: Option<i64>,
        check_due: Option<DateTime<Utc>>,
        parse: impl FnOnce(
            &'static ToolSpec,
            &CurrentSettings,
        ) -> Result<IntegrationPatch, ValidationErrors>,
        audit: &NewAuditEvent,
    ) -> StoreResult<Integration> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let (row, tool, stored_fields, current) = lock_settings(conn, id)?;
            if row.status == IntegrationStatus::PendingApproval.as_str() {
                return Err(StoreError::PendingApproval);
            }
            let patch = parse(tool, &current).map_err(StoreError::Invalid)?;
            // The body is checked first: an invalid request is refused as such whatever its
            // precondition (RFC 9110 §13.2.1).
            if let Some(expected) = expected_version
                && expected != row.version
            {
                return Err(StoreError::VersionMismatch {
                    current: row.version,
                });
            }
            let (saved, event) = self.save_patch(
                conn,
                row,
                tool,
                stored_fields,
                &patch,
                check_due,
                audit.clone(),
            )?;
            append(conn, &event)?;
            Ok(saved)
        })
    }

    /// Writes a validated `patch` over the locked `row` (whose credentials are
    /// `stored_fields`), conditional on its version; answers the saved integration and
    /// `audit` completed with what changed, for the caller to append as its transaction's
    /// last write.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn save_patch(
        &self,
        conn: &mut DbConnection,
        row: IntegrationRow,
        tool: &'static ToolSpec,
        stored_fields: Vec<CredentialSummary>,
        patch: &IntegrationPatch,
        check_due: Option<DateTime<Utc>>,
        audit: NewAuditEvent,
    ) -> StoreResult<(Integration, NewAuditEvent)> {
        let id = row.id.clone();
        let id = id.as_str();
        let (name, name_key) = match &patch.name {
            Some(name) => (name.as_str().to_owned(), name.key()),
            None => (row.name.clone(), row.name_key.clone()),
        };
        let urls = match &patch.urls {
            Some(urls) => urls_to_json(urls)?,
            None => row.urls.clone(),
        };
        // New URLs or credentials make the last check meaningless: the integration is
        // untested (its last check is kept, for the record) and its periodic check due
        // at once; the server checks it right after saving anyway.
        let stored: HashMap<&str, Option<&str>> = stored_fields
            .iter()
            .map(|stored| (stored.field.as_str(), stored.plain_value.as_deref()))
            .collect();
        // An approved new integration (saved over its pending row) is new: it is checked.
        let reconnect = urls != row.urls
            || credentials_change(&stored, &patch.credentials)
            || row.status == IntegrationStatus::PendingApproval.as_str();
        let (status, next_check_at) = if reconnect {
            (
                IntegrationStatus::Untested.as_str().to_owned(),
                check_due.map(crate::stored),
            )
        } else {
            (row.status.clone(), row.next_check_at)
        };
        let saved = IntegrationRow {
            name,
            name_key,
            urls,
            status,
            next_check_at,
            check_failures: if reconnect { 0 } else { row.check_failures },
            version: row.version + 1,
            updated_at: now(),
            ..row.clone()
        };
        // Conditional on the version read, besides the row lock: a write based on a stale
        // read can never land.
        let updated = diesel::update(
            integrations::table
                .find(id)
                .filter(integrations::version.eq(row.version)),
        )
        .set((
            integrations::name.eq(&saved.name),
            integrations::name_key.eq(&saved.name_key),
            integrations::urls.eq(&saved.urls),
            integrations::status.eq(&saved.status),
            integrations::next_check_at.eq(saved.next_check_at),
            integrations::check_failures.eq(saved.check_failures),
            integrations::version.eq(saved.version),
            integrations::updated_at.eq(saved.updated_at),
            // Only a pending integration names a request, and saving it is its approval.
            integrations::change_request_id.eq(None::<String>),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(StoreError::VersionMismatch {
                current: current_version(conn, id)?,
            });
        }
        self.write_credentials(conn, id, tool, &patch.credentials)?;
        bump_version(conn)?;
        let event = audit.on("integration", Some(id), Some(&saved.name)).change(
            "name",
            Some(Value::String(row.name.clone())),
            Some(Value::String(saved.name.clone())),
        );
        let event = with_url_changes(event, Some(&row.urls), Some(&saved.urls))?;
        let event = self.with_credential_changes(event, tool, &stored_fields, &patch.credentials);
        // The saved row is known; only what else changed is read back.
        let credentials = if patch.credentials.is_empty() {
            stored_fields
        } else {
            creds::table
                .filter(creds::integration_id.eq(id))
                .select(CredentialSummary::as_select())
                .load(conn)?
        };
        let count = live_pipeline_counts(conn, &[id])?.remove(id).unwrap_or(0);
        Ok((view(saved, &credentials, count)?, event))
    }

    pub fn delete_integration(
        &self,
        id: &str,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let row = lock_row(conn, id)?;
            if row.status == IntegrationStatus::PendingApproval.as_str() {
                return Err(StoreError::PendingApproval);
            }
            let version = row.version;
            if let Some(expected) = expected_version
                && expected != version
            {
                return Err(StoreError::VersionMismatch { current: version });
            }
            diesel::delete(creds::table.filter(creds::integration_id.eq(id))).execute(conn)?;
            // Its pipelines and runs go with it (ON DELETE CASCADE).
            let deleted = diesel::delete(
                integrations::table
                    .find(id)
                    .filter(integrations::version.eq(version)),
            )
            .execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::VersionMismatch {
                    current: current_version(conn, id)?,
                });
            }
            bump_version(conn)?;
            let event = audit
                .clone()
                .on("integration", Some(id), Some(&row.name))
                .change("name", Some(Value::String(row.name.clone())), None)
                .change("tool", Some(Value::String(row.tool.clone())), None);
            append(conn, &with_url_changes(event, Some(&row.urls), None)?)?;
            Ok(())
        })
    }

    /// Opens every credential of an integration, for talking to its tool.
    pub fn open_credentials(&self, id: &str) -> StoreResult<BTreeMap<String, StoredCredential>> {
        let mut conn = self.conn()?;
        self.open_credentials_on(&mut conn, id)
    }

    /// What a connector needs to reach an integration's tool — its tool, URLs and opened
    /// credentials — read on one connection in two queries (not the whole integration view).
    pub fn open_target(&self, id: &str) -> StoreResult<OpenedIntegration> {
        let mut conn = self.conn()?;
        let (tool, urls, status): (String, String, String) = integrations::table
            .find(id)
            .select((integrations::tool, integrations::urls, integrations::status))
            .first(&mut conn)
            .optional()?
            .ok_or(StoreError::NotFound(Subject::Integration))?;
        // Nothing talks to a tool for an integration that is not approved yet.
        if status == IntegrationStatus::PendingApproval.as_str() {
            return Err(StoreError::PendingApproval);
        }
        let urls = serde_json::from_str(&urls)
            .map_err(|err| StoreError::Corrupt(format!("integration {id} urls: {err}")))?;
        let credentials = self.open_credentials_on(&mut conn, id)?;
        Ok(OpenedIntegration {
            tool,
            urls,
            credentials,
        })
    }

    fn open_credentials_on(
        &self,
        conn: &mut DbConnection,
        id: &str,
    ) -> StoreResult<BTreeMap<String, StoredCredential>> {
        let rows: Vec<CredentialRow> = creds::table
            .filter(creds::integration_id.eq(id))
            .select(CredentialRow::as_select())
            .load(conn)?;
        rows.into_iter()
            .map(|row| {
                let value = match (row.plain_value, row.sealed_value, row.key_id) {
                    (Some(plain), _, _) => StoredCredential::Plain(plain),
                    (None, Some(blob), Some(key_id)) => {
                        StoredCredential::Secret(self.sealer().open(
                            &row.integration_id,
                            &row.field,
                            &SealedValue { key_id, blob },
                        )?)
                    }
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "credential {}/{} has no value",
                            row.integration_id, row.field
                        )));
                    }
                };
                Ok((row.field, value))
            })
            .collect()
    }

    /// Re-seals every sealed credential, every run's secret values and every open change
    /// request's, under the current key, in one transaction. Answers how many of each.
    pub fn reseal_all(&self) -> StoreResult<Resealed> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            // Requests first: a decision holds a request's lock before it writes credentials,
            // so this order never waits in a circle with one.
            let change_requests = self.reseal_request_secrets(conn)?;
            let rows: Vec<CredentialRow> = creds::table
                .filter(creds::sealed_value.is_not_null())
                .select(CredentialRow::as_select())
                .load(conn)?;
            let count = rows.len();
            for row in rows {
                let (Some(blob), Some(key_id)) = (row.sealed_value, row.key_id) else {
                    return Err(StoreError::Corrupt(format!(
                        "credential {}/{} lacks its key id",
                        row.integration_id, row.field
                    )));
                };
                let secret = self.sealer().open(
                    &row.integration_id,
                    &row.field,
                    &SealedValue { key_id, blob },
                )?;
                let sealed = self
                    .sealer()
                    .seal(&row.integration_id, &row.field, &secret)?;
                diesel::update(creds::table.find((&row.integration_id, &row.field)))
                    .set((
                        creds::sealed_value.eq(sealed.blob),
                        creds::key_id.eq(sealed.key_id),
                    ))
                    .execute(conn)?;
            }
            let runs = self.reseal_run_secrets(conn)?;
            Ok(Resealed {
                credentials: count,
                runs,
                change_requests,
            })
        })
    }
}

/// Connection checks, syncs, and the leases that share the periodic work between replicas.
impl Store {
    /// Keeps a connection check: status `connected` or `failed` (see
    /// [`IntegrationStatus::after`]), the check itself, the count
    /// of failures in a row, and when the next periodic check is due (per `schedule`). Not an
    /// edit: the integration's `version` (and so a pending `If-Match`) stays as it is, but the
    /// integrations' data version moves. `NotFound` if gone.
    pub fn record_check(
        &self,
        id: &str,
        check: &ConnectionCheck,
        now: DateTime<Utc>,
        schedule: CheckSchedule,
    ) -> StoreResult<()> {
        let status = IntegrationStatus::after(check);
        let check_json = to_json(check)?;
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let row = integrations::table.find(id);
            let updated = if check.ok {
                // No failures in a row: the next check is known without reading the row.
                diesel::update(row)
                    .set((
                        integrations::status.eq(status.as_str()),
                        integrations::last_check.eq(check_json),
                        integrations::check_failures.eq(0),
                        integrations::next_check_at.eq(stored(now + schedule.delay_after(0))),
                    ))
                    .execute(conn)?
            } else {
                diesel::update(row)
                    .set((
                        integrations::status.eq(status.as_str()),
                        integrations::last_check.eq(check_json),
                        integrations::check_failures.eq(integrations::check_failures + 1),
                    ))
                    .execute(conn)?
            };
            if updated == 0 {
                return Err(StoreError::NotFound(Subject::Integration));
            }
            if !check.ok {
                schedule_next_check(conn, id, now, schedule)?;
            }
            bump_version(conn)?;
            Ok(())
        })
    }

    /// Keeps the report of a discovery (see [`Store::apply_discovery`]); like a check, not an
    /// edit. `NotFound` if gone.
    pub fn record_sync(&self, id: &str, report: &SyncReport) -> StoreResult<()> {
        let report = to_json(report)?;
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let updated = diesel::update(integrations::table.find(id))
                .set(integrations::last_sync.eq(report))
                .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound(Subject::Integration));
            }
            bump_version(conn)?;
            Ok(())
        })
    }

    /// Counts a failed discovery like a failed check, so the integration is checked and
    /// discovered again soon (per `schedule`) rather than after the whole interval.
    /// `NotFound` if gone.
    pub fn record_sync_failure(
        &self,
        id: &str,
        now: DateTime<Utc>,
        schedule: CheckSchedule,
    ) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let updated = diesel::update(integrations::table.find(id))
                .set(integrations::check_failures.eq(integrations::check_failures + 1))
                .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound(Subject::Integration));
            }
            schedule_next_check(conn, id, now, schedule)
        })
    }

    /// Leases up to `limit` integrations whose periodic check is due (`next_check_at` unset or
    /// not after `now`) and that no one holds a live lease on, to `owner` until `now + lease`;
    /// returns their ids, the longest overdue first. Two replicas never get the same one while
    /// its lease holds. Give the lease back with [`Store::release_integration`].
    pub fn claim_due_integrations(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        let until = stored(now + lease);
        let now = stored(now);
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let ids: Vec<String> = match &mut **conn {
                // Dialect-specific: rows another replica is claiming right now are skipped,
                // not waited for.
                DbConnection::Postgres(pg) => integrations::table
                    .filter(
                        integrations::next_check_at
                            .is_null()
                            .or(integrations::next_check_at.le(now)),
                    )
                    .filter(
                        integrations::lease_until
                            .is_null()
                            .or(integrations::lease_until.le(now)),
                    )
                    .filter(integrations::status.ne(IntegrationStatus::PendingApproval.as_str()))
                    .order((
                        integrations::next_check_at.asc().nulls_first(),
                        integrations::id.asc(),
                    ))
                    .limit(limit)
                    .select(integrations::id)
                    .for_update()
                    .skip_locked()
                    .load(pg)?,
                // SQLite: the write guard and the transaction make this exclusive already;
                // NULLs sort first.
                DbConnection::Sqlite(sqlite) => integrations::table
                    .filter(
                        integrations::next_check_at
                            .is_null()
                            .or(integrations::next_check_at.le(now)),
                    )
                    .filter(
                        integrations::lease_until
                            .is_null()
                            .or(integrations::lease_until.le(now)),
                    )
                    .filter(integrations::status.ne(IntegrationStatus::PendingApproval.as_str()))
                    .order((integrations::next_check_at.asc(), integrations::id.asc()))
                    .limit(limit)
                    .select(integrations::id)
                    .load(sqlite)?,
            };
            if !ids.is_empty() {
                diesel::update(integrations::table.filter(integrations::id.eq_any(&ids)))
                    .set((
                        integrations::lease_owner.eq(owner),
                        integrations::lease_until.eq(until),
                    ))
                    .execute(conn)?;
            }
            Ok(ids)
        })
    }

    /// Gives back `owner`'s lease on an integration (nothing happens if `owner` no longer
    /// holds it).
    pub fn release_integration(&self, id: &str, owner: &str) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        diesel::update(
            integrations::table
                .find(id)
                .filter(integrations::lease_owner.eq(owner)),
        )
        .set((
            integrations::lease_owner.eq(None::<String>),
            integrations::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(&mut conn)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::CheckSchedule;
    use chrono::Duration;

    #[test]
    fn a_failed_check_is_retried_soon_then_less_often_up_to_the_interval() {
        let schedule = CheckSchedule {
            interval: Duration::seconds(300),
            first_retry: Duration::seconds(10),
        };
        let delays: Vec<i64> = (0..8)
            .map(|failures| schedule.delay_after(failures).num_seconds())
            .collect();
        assert_eq!(delays, [300, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(schedule.delay_after(i32::MAX), Duration::seconds(300));
        assert_eq!(schedule.delay_after(-1), Duration::seconds(300));
    }
}
