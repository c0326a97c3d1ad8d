//! Pipelines: the jobs discovery found in each integration's tool.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use switchboard_domain::pipeline::{
    DiscoveredPipeline, LastBuild, ParameterDefinition, Pipeline, PipelineKind,
};
use switchboard_domain::{FieldErrorCode, ValidationErrors};

use crate::schema::{integrations, pipelines};
use crate::{
    DATA_INTEGRATIONS, DbConnection, Store, StoreError, StoreResult, Subject, bump_data_version,
    contains_pattern, new_id, stored, to_json, utc,
};

/// Rows per multi-row statement: 14 binds a row stays well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters.
const CHUNK: usize = 1_000;

/// What [`Store::apply_discovery`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscoveryCounts {
    /// New pipelines, and removed ones that are back.
    pub added: u64,
    /// Known pipelines of which something (definition or last build) changed.
    pub updated: u64,
    /// Pipelines that were not removed and that this discovery did not find.
    pub removed: u64,
    /// Distinct pipelines found.
    pub total: u64,
}

/// Which pipelines to list. Ordered by integration name (ignoring case), then full path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineQuery {
    pub limit: i64,
    /// The `next` cursor of the previous page (opaque).
    pub after: Option<String>,
    pub integration_id: Option<String>,
    /// A piece of the full path, ignoring case.
    pub q: Option<String>,
    /// Also list pipelines the tool no longer has.
    pub include_removed: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pipelines, treat_none_as_default_value = false)]
struct PipelineRow {
    id: String,
    integration_id: String,
    full_path: String,
    path_key: String,
    name: String,
    folder: String,
    kind: String,
    url: String,
    buildable: bool,
    /// JSON: `[ParameterDefinition]`.
    parameters: String,
    /// JSON: `LastBuild`.
    last_build: Option<String>,
    removed_at: Option<NaiveDateTime>,
    discovered_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl PipelineRow {
    /// Whether `found` says anything different from this row (apart from it being removed).
    fn differs(
        &self,
        found: &DiscoveredPipeline,
        parameters: &str,
        last_build: Option<&str>,
    ) -> bool {
        self.name != found.name
            || self.folder != found.folder
            || self.kind != found.kind.as_str()
            || self.url != found.url
            || self.buildable != found.buildable
            || self.parameters != parameters
            || self.last_build.as_deref() != last_build
    }
}

/// A pipeline row with what the joined integration adds.
type Joined = (PipelineRow, String, String, String);

fn view((row, integration_name, tool, _name_key): Joined) -> StoreResult<Pipeline> {
    let corrupt = |what: &str, err: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("pipeline {} {what}: {err}", row.id))
    };
    let kind = PipelineKind::parse(&row.kind).ok_or_else(|| corrupt("kind", &row.kind))?;
    let parameters: Vec<ParameterDefinition> =
        serde_json::from_str(&row.parameters).map_err(|err| corrupt("parameters", &err))?;
    let last_build: Option<LastBuild> = row
        .last_build
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|err| corrupt("last_build", &err))?;
    Ok(Pipeline {
        id: row.id,
        integration_id: row.integration_id,
        integration_name,
        tool,
        name: row.name,
        full_path: row.full_path,
        folder: row.folder,
        kind,
        url: row.url,
        buildable: row.buildable,
        parameters,
        last_build,
        removed: row.removed_at.is_some(),
        discovered_at: utc(row.discovered_at),
        updated_at: utc(row.updated_at),
    })
}

/// The position after a listed pipeline: (integration name key, full path), as JSON.
type Cursor = (String, String);

fn parse_cursor(raw: &str) -> StoreResult<Cursor> {
    serde_json::from_str(raw).map_err(|_| {
        StoreError::Invalid(ValidationErrors::single(
            "cursor",
            FieldErrorCode::InvalidFormat,
            "not a cursor from a previous page",
        ))
    })
}

fn cursor_after(joined: &Joined) -> StoreResult<String> {
    let (row, _, _, name_key) = joined;
    to_json(&(name_key, &row.full_path))
}

/// Overwrites the rows of `rows`' (integration, full path): definition, last build,
/// `updated_at`, and clears `removed_at` (id and `discovered_at` stay as they are).
macro_rules! upsert_pipelines {
    ($conn:expr, $rows:expr) => {
        diesel::insert_into(pipelines::table)
            .values($rows)
            .on_conflict((pipelines::integration_id, pipelines::full_path))
            .do_update()
            .set((
                pipelines::name.eq(excluded(pipelines::name)),
                pipelines::folder.eq(excluded(pipelines::folder)),
                pipelines::kind.eq(excluded(pipelines::kind)),
                pipelines::url.eq(excluded(pipelines::url)),
                pipelines::buildable.eq(excluded(pipelines::buildable)),
                pipelines::parameters.eq(excluded(pipelines::parameters)),
                pipelines::last_build.eq(excluded(pipelines::last_build)),
                pipelines::removed_at.eq(excluded(pipelines::removed_at)),
                pipelines::updated_at.eq(excluded(pipelines::updated_at)),
            ))
            .execute($conn)
    };
}

/// Locks the integration against a concurrent discovery of it (PostgreSQL; on SQLite the
/// write guard does that); `NotFound` if it is gone.
fn lock_integration(conn: &mut DbConnection, id: &str) -> StoreResult<()> {
    let found: Option<String> = match conn {
        DbConnection::Postgres(pg) => integrations::table
            .find(id)
            .select(integrations::id)
            .for_update()
            .first(pg)
            .optional()?,
        DbConnection::Sqlite(sqlite) => integrations::table
            .find(id)
            .select(integrations::id)
            .first(sqlite)
            .optional()?,
    };
    found
        .map(drop)
        .ok_or(StoreError::NotFound(Subject::Integration))
}

impl Store {
    /// Makes the stored pipelines of an integration what discovery `found`, in one transaction:
    /// new paths are added, known ones updated where something changed, removed ones that are
    /// back un-removed (and counted as added), and live ones not found marked removed at `now`
    /// (their runs stay). A path found twice counts once (the first wins). `NotFound` if the
    /// integration is gone.
    pub fn apply_discovery(
        &self,
        integration_id: &str,
        found: &[DiscoveredPipeline],
        now: DateTime<Utc>,
    ) -> StoreResult<DiscoveryCounts> {
        let at = stored(now);
        // The JSON is made before the lock is taken.
        let mut seen = HashSet::with_capacity(found.len());
        let mut candidates = Vec::with_capacity(found.len());
        for pipeline in found {
            if seen.insert(pipeline.full_path.as_str()) {
                let parameters = to_json(&pipeline.parameters)?;
                let last_build = pipeline.last_build.as_ref().map(to_json).transpose()?;
                candidates.push((pipeline, parameters, last_build));
            }
        }

        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            lock_integration(conn, integration_id)?;
            let existing: Vec<PipelineRow> = pipelines::table
                .filter(pipelines::integration_id.eq(integration_id))
                .select(PipelineRow::as_select())
                .load(conn)?;
            let by_path: HashMap<&str, &PipelineRow> = existing
                .iter()
                .map(|row| (row.full_path.as_str(), row))
                .collect();

            let mut counts = DiscoveryCounts {
                total: candidates.len() as u64,
                ..DiscoveryCounts::default()
            };
            // New rows, and existing ones to overwrite (changed, or back after removal).
            let mut inserts = Vec::new();
            let mut overwrites = Vec::new();
            for (pipeline, parameters, last_build) in candidates {
                let existing = by_path.get(pipeline.full_path.as_str());
                match existing {
                    Some(old) if old.removed_at.is_some() => counts.added += 1,
                    Some(old) if old.differs(pipeline, &parameters, last_build.as_deref()) => {
                        counts.updated += 1;
                    }
                    Some(_) => continue,
                    None => counts.added += 1,
                }
                let row = PipelineRow {
                    // An overwrite keeps the existing id (the upsert does not set it); a fresh
                    // one here means (integration, full path) is the only constraint it meets.
                    id: new_id(),
                    integration_id: integration_id.to_owned(),
                    full_path: pipeline.full_path.clone(),
                    path_key: pipeline.full_path.to_lowercase(),
                    name: pipeline.name.clone(),
                    folder: pipeline.folder.clone(),
                    kind: pipeline.kind.as_str().to_owned(),
                    url: pipeline.url.clone(),
                    buildable: pipeline.buildable,
                    parameters,
                    last_build,
                    removed_at: None,
                    discovered_at: existing.map_or(at, |old| old.discovered_at),
                    updated_at: at,
                };
                if existing.is_some() {
                    overwrites.push(row);
                } else {
                    inserts.push(row);
                }
            }
            let gone: Vec<&str> = existing
                .iter()
                .filter(|row| row.removed_at.is_none() && !seen.contains(row.full_path.as_str()))
                .map(|row| row.id.as_str())
                .collect();
            counts.removed = gone.len() as u64;

            // Dialect-specific only in that diesel's multi-row inserts need the backend's own
            // connection type.
            match &mut **conn {
                DbConnection::Postgres(pg) => {
                    for chunk in inserts.chunks(CHUNK) {
                        diesel::insert_into(pipelines::table)
                            .values(chunk)
                            .execute(pg)?;
                    }
                    for chunk in overwrites.chunks(CHUNK) {
                        upsert_pipelines!(pg, chunk)?;
                    }
                }
                DbConnection::Sqlite(sqlite) => {
                    for chunk in inserts.chunks(CHUNK) {
                        diesel::insert_into(pipelines::table)
                            .values(chunk)
                            .execute(sqlite)?;
                    }
                    for chunk in overwrites.chunks(CHUNK) {
                        upsert_pipelines!(sqlite, chunk)?;
                    }
                }
            }
            for chunk in gone.chunks(CHUNK) {
                diesel::update(pipelines::table.filter(pipelines::id.eq_any(chunk)))
                    .set((pipelines::removed_at.eq(at), pipelines::updated_at.eq(at)))
                    .execute(conn)?;
            }

            if counts.added + counts.removed > 0 {
                // The integration's pipeline count changed.
                bump_data_version(conn, DATA_INTEGRATIONS)?;
            }
            Ok(counts)
        })
    }

    /// A page of pipelines and the cursor of the next one (`None` on the last page).
    ///
    /// Ordered by integration name (ignoring case), then full path (bytewise), which is a total
    /// order: name keys are unique, and full paths unique within an integration. The page is
    /// read one integration at a time, so every query is a range scan of the
    /// (integration, full path) index whatever the page's depth.
    pub fn list_pipelines(
        &self,
        query: &PipelineQuery,
    ) -> StoreResult<(Vec<Pipeline>, Option<String>)> {
        let after = query.after.as_deref().map(parse_cursor).transpose()?;
        let want = usize::try_from(query.limit).unwrap_or(0).saturating_add(1);
        let mut conn = self.conn()?;

        let mut scope_query = integrations::table
            .select((
                integrations::id,
                integrations::name,
                integrations::tool,
                integrations::name_key,
            ))
            .order(integrations::name_key.asc())
            .into_boxed();
        if let Some(integration_id) = &query.integration_id {
            scope_query = scope_query.filter(integrations::id.eq(integration_id.clone()));
        }
        if let Some((name_key, _)) = &after {
            scope_query = scope_query.filter(integrations::name_key.ge(name_key.clone()));
        }
        let scope: Vec<(String, String, String, String)> = scope_query.load(&mut conn)?;

        let pattern = query
            .q
            .as_ref()
            .map(|fragment| contains_pattern(&fragment.to_lowercase()));
        let mut rows: Vec<Joined> = Vec::new();
        for (integration_id, name, tool, name_key) in scope {
            let remaining = i64::try_from(want - rows.len()).unwrap_or(i64::MAX);
            let mut rows_query = pipelines::table
                .filter(pipelines::integration_id.eq(integration_id))
                .select(PipelineRow::as_select())
                .order(pipelines::full_path.asc())
                .limit(remaining)
                .into_boxed();
            if let Some((after_key, after_path)) = &after
                && *after_key == name_key
            {
                rows_query = rows_query.filter(pipelines::full_path.gt(after_path.clone()));
            }
            if let Some(pattern) = &pattern {
                rows_query =
                    rows_query.filter(pipelines::path_key.like(pattern.clone()).escape('\\'));
            }
            if !query.include_removed {
                rows_query = rows_query.filter(pipelines::removed_at.is_null());
            }
            let found: Vec<PipelineRow> = rows_query.load(&mut conn)?;
            rows.extend(
                found
                    .into_iter()
                    .map(|row| (row, name.clone(), tool.clone(), name_key.clone())),
            );
            if rows.len() >= want {
                break;
            }
        }

        let more = rows.len() >= want;
        rows.truncate(want - 1);
        let next = match rows.last() {
            Some(last) if more => Some(cursor_after(last)?),
            _ => None,
        };
        let items = rows.into_iter().map(view).collect::<StoreResult<_>>()?;
        Ok((items, next))
    }

    /// One pipeline, removed or not.
    pub fn get_pipeline(&self, id: &str) -> StoreResult<Pipeline> {
        let mut conn = self.conn()?;
        let joined: Joined = pipelines::table
            .inner_join(integrations::table)
            .filter(pipelines::id.eq(id))
            .select((
                PipelineRow::as_select(),
                integrations::name,
                integrations::tool,
                integrations::name_key,
            ))
            .first(&mut conn)
            .optional()?
            .ok_or(StoreError::NotFound(Subject::Pipeline))?;
        view(joined)
    }
}
