//! Integrations and their credentials.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use secrecy::SecretString;
use switchboard_domain::ValidationErrors;
use switchboard_domain::integration::{
    CredentialChange, CredentialView, EndpointUrl, Integration, IntegrationDraft, IntegrationPatch,
    IntegrationStatus, SecretState, UrlKey,
};
use switchboard_domain::tools::{ToolSpec, find_tool};

use crate::schema::{data_versions, integration_credentials as creds, integrations};
use crate::seal::SealedValue;
use crate::{DbConnection, Store, StoreError, StoreResult, new_id, now, utc};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = integrations)]
struct IntegrationRow {
    id: String,
    name: String,
    name_key: String,
    tool: String,
    urls: String,
    status: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    created_by: String,
}

/// A credential row without its sealed bytes: enough to describe it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = creds)]
struct CredentialSummary {
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

fn view(row: IntegrationRow, credentials: &[CredentialSummary]) -> StoreResult<Integration> {
    let urls: BTreeMap<String, String> = serde_json::from_str(&row.urls)
        .map_err(|err| StoreError::Corrupt(format!("integration {} urls: {err}", row.id)))?;
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
        last_check: None,
        last_sync: None,
        pipelines: 0,
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
        created_by: row.created_by,
    })
}

fn load_row(conn: &mut DbConnection, id: &str) -> StoreResult<IntegrationRow> {
    integrations::table
        .find(id)
        .select(IntegrationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

fn load_view(conn: &mut DbConnection, id: &str) -> StoreResult<Integration> {
    let row = load_row(conn, id)?;
    let credentials = creds::table
        .filter(creds::integration_id.eq(id))
        .select(CredentialSummary::as_select())
        .load(conn)?;
    view(row, &credentials)
}

fn name_taken(conn: &mut DbConnection, name_key: &str, except_id: &str) -> QueryResult<bool> {
    let count: i64 = integrations::table
        .filter(integrations::name_key.eq(name_key))
        .filter(integrations::id.ne(except_id))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

const INTEGRATIONS_VERSION: &str = "integrations";

/// Marks the integrations as changed; call inside the changing transaction.
fn bump_version(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(data_versions::table.find(INTEGRATIONS_VERSION))
        .set(data_versions::version.eq(data_versions::version + 1))
        .execute(conn)
        .map(drop)
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

impl Store {
    /// A number that changes whenever any integration or credential changes, on any replica.
    pub fn integrations_version(&self) -> StoreResult<i64> {
        let mut conn = self.conn()?;
        Ok(data_versions::table
            .find(INTEGRATIONS_VERSION)
            .select(data_versions::version)
            .first(&mut conn)?)
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
                    .like(escape_like(&fragment.to_lowercase()))
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
        let items = rows
            .into_iter()
            .map(|row| {
                let credentials = by_integration.remove(&row.id).unwrap_or_default();
                view(row, &credentials)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((items, next))
    }

    pub fn get_integration(&self, id: &str) -> StoreResult<Integration> {
        let mut conn = self.conn()?;
        load_view(&mut conn, id)
    }

    pub fn create_integration(
        &self,
        draft: &IntegrationDraft,
        created_by: &str,
    ) -> StoreResult<Integration> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let id = new_id();
            let name_key = draft.name.key();
            if name_taken(conn, &name_key, &id)? {
                return Err(StoreError::NameTaken);
            }
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
            };
            diesel::insert_into(integrations::table)
                .values(&row)
                .execute(conn)?;
            self.write_credentials(conn, &id, draft.tool, &draft.credentials)?;
            bump_version(conn)?;
            load_view(conn, &id)
        })
    }

    /// Validates and applies a change in one transaction. `parse` gets the integration's tool
    /// and which credential fields are stored now; `expected_version` comes from `If-Match`
    /// and is checked after the body.
    pub fn update_integration(
        &self,
        id: &str,
        expected_version: Option<i64>,
        parse: impl FnOnce(
            &'static ToolSpec,
            &dyn Fn(&str) -> bool,
        ) -> Result<IntegrationPatch, ValidationErrors>,
    ) -> StoreResult<Integration> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let row = load_row(conn, id)?;
            let tool = find_tool(&row.tool).ok_or_else(|| {
                StoreError::Corrupt(format!("integration {id} has unknown tool {:?}", row.tool))
            })?;
            let stored_fields: Vec<String> = creds::table
                .filter(creds::integration_id.eq(id))
                .select(creds::field)
                .load(conn)?;
            let patch = parse(tool, &|key| stored_fields.iter().any(|field| field == key))
                .map_err(StoreError::Invalid)?;
            // The body is checked first: an invalid request is refused as such whatever its
            // precondition (RFC 9110 §13.2.1).
            if let Some(expected) = expected_version
                && expected != row.version
            {
                return Err(StoreError::VersionMismatch {
                    current: row.version,
                });
            }

            let (name, name_key) = match &patch.name {
                Some(name) => (name.as_str().to_owned(), name.key()),
                None => (row.name.clone(), row.name_key.clone()),
            };
            if name_key != row.name_key && name_taken(conn, &name_key, id)? {
                return Err(StoreError::NameTaken);
            }
            let urls = match &patch.urls {
                Some(urls) => urls_to_json(urls)?,
                None => row.urls.clone(),
            };
            diesel::update(integrations::table.find(id))
                .set((
                    integrations::name.eq(name),
                    integrations::name_key.eq(name_key),
                    integrations::urls.eq(urls),
                    integrations::version.eq(row.version + 1),
                    integrations::updated_at.eq(now()),
                ))
                .execute(conn)?;
            self.write_credentials(conn, id, tool, &patch.credentials)?;
            bump_version(conn)?;
            load_view(conn, id)
        })
    }

    pub fn delete_integration(&self, id: &str, expected_version: Option<i64>) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let version: i64 = integrations::table
                .find(id)
                .select(integrations::version)
                .first(conn)
                .optional()?
                .ok_or(StoreError::NotFound)?;
            if let Some(expected) = expected_version
                && expected != version
            {
                return Err(StoreError::VersionMismatch { current: version });
            }
            diesel::delete(creds::table.filter(creds::integration_id.eq(id))).execute(conn)?;
            diesel::delete(integrations::table.find(id)).execute(conn)?;
            bump_version(conn)?;
            Ok(())
        })
    }

    /// Opens every credential of an integration, for talking to its tool.
    pub fn open_credentials(&self, id: &str) -> StoreResult<BTreeMap<String, StoredCredential>> {
        let mut conn = self.conn()?;
        let rows: Vec<CredentialRow> = creds::table
            .filter(creds::integration_id.eq(id))
            .select(CredentialRow::as_select())
            .load(&mut conn)?;
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

    /// Re-seals every sealed credential under the current key, in one transaction.
    pub fn reseal_all(&self) -> StoreResult<usize> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
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
            Ok(count)
        })
    }
}
