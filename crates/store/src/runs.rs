//! Runs Switchboard triggered, and the leases the run monitor follows them under.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use switchboard_domain::audit::AuditOutcome;
use switchboard_domain::pipeline::{LastBuild, Run, RunStatus};

use crate::audit::{NewAuditEvent, append};
use crate::schema::{integrations, pipelines, runs};
use crate::seal::SealedValue;
use crate::{DbConnection, Store, StoreError, StoreResult, Subject, new_id, stored, to_json, utc};

/// A finished run is its pipeline's last build unless the tool reported a newer one, so the
/// pipelines list shows a run's result at once rather than after the next discovery.
fn remember_last_build(
    conn: &mut DbConnection,
    run_id: &str,
    number: i64,
    update: &RunUpdate,
) -> StoreResult<()> {
    let pipeline_id: String = runs::table
        .find(run_id)
        .select(runs::pipeline_id)
        .first(conn)?;
    let known: Option<String> = pipelines::table
        .find(&pipeline_id)
        .select(pipelines::last_build)
        .first(conn)?;
    let newer_known = known
        .as_deref()
        .and_then(|json| serde_json::from_str::<LastBuild>(json).ok())
        .is_some_and(|last| last.number > number);
    if newer_known {
        return Ok(());
    }
    let last = LastBuild {
        number,
        status: update.status,
        started_at: update.started_at,
        url: update.build_url.clone(),
    };
    diesel::update(pipelines::table.find(&pipeline_id))
        .set(pipelines::last_build.eq(Some(to_json(&last)?)))
        .execute(conn)?;
    Ok(())
}

/// The sealed field a run's secret values are bound to (with the run's id), apart from any
/// credential field name.
const SECRET_VALUES_FIELD: &str = "run:secret-values";

/// The statuses the run monitor follows.
const ACTIVE: [&str; 2] = [RunStatus::Queued.as_str(), RunStatus::Running.as_str()];

/// A run just triggered; it starts `queued`.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub pipeline_id: String,
    /// Must be the pipeline's integration.
    pub integration_id: String,
    /// The values as the API shows them (passwords masked).
    pub parameters: BTreeMap<String, Value>,
    /// The password parameters' values, kept sealed so that served logs can mask them.
    pub secret_values: Vec<SecretString>,
    /// The connector's `RunHandle` as JSON.
    pub handle_json: String,
    /// The user name of whoever triggered it.
    pub triggered_by: String,
    pub now: DateTime<Utc>,
    /// When the run monitor should first poll it.
    pub next_poll_at: DateTime<Utc>,
    /// A lease on the new run for whoever is asking the tool to start it (owner, until): the
    /// monitor leaves the run alone until the handle is stored ([`Store::run_started`]) or
    /// the lease runs out (the process died in between).
    pub held_by: Option<(String, DateTime<Utc>)>,
    /// Its `run.triggered` entry (who, from where); the store names the run in it.
    pub audit: NewAuditEvent,
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunQuery {
    pub limit: i64,
    /// The `next` cursor of the previous page (opaque).
    pub after: Option<String>,
    pub pipeline_id: Option<String>,
    pub integration_id: Option<String>,
    pub status: Option<RunStatus>,
}

/// What one poll learned: the run's whole state, written as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunUpdate {
    pub status: RunStatus,
    /// The connector's `RunHandle` as JSON.
    pub handle_json: String,
    pub build_number: Option<i64>,
    pub build_url: Option<String>,
    pub detail: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// When to poll again; `None` once the run has finished.
    pub next_poll_at: Option<DateTime<Utc>>,
    pub poll_failures: i32,
    pub now: DateTime<Utc>,
}

/// What the run monitor needs to poll a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRun {
    pub id: String,
    pub pipeline_id: String,
    pub integration_id: String,
    pub status: RunStatus,
    /// The connector's `RunHandle` as JSON.
    pub handle_json: String,
    /// Polls that failed in a row.
    pub poll_failures: i32,
}

/// Another run of the same pipeline, as [`Store::neighbour_runs`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourRun {
    pub id: String,
    pub status: RunStatus,
    /// The connector's `RunHandle` as JSON.
    pub handle_json: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = runs)]
struct RunRow {
    id: String,
    pipeline_id: String,
    integration_id: String,
    status: String,
    /// JSON: the shown parameter values.
    parameters: String,
    /// JSON: the connector's `RunHandle`.
    handle: String,
    build_number: Option<i64>,
    build_url: Option<String>,
    detail: Option<String>,
    triggered_by: String,
    created_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    duration_ms: Option<i64>,
    updated_at: NaiveDateTime,
    next_poll_at: Option<NaiveDateTime>,
    poll_failures: i32,
    lease_owner: Option<String>,
    lease_until: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = runs)]
struct ActiveRow {
    id: String,
    pipeline_id: String,
    integration_id: String,
    status: String,
    handle: String,
    poll_failures: i32,
}

fn parse_status(id: &str, raw: &str) -> StoreResult<RunStatus> {
    RunStatus::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("run {id} status {raw:?}")))
}

impl TryFrom<ActiveRow> for ActiveRun {
    type Error = StoreError;

    fn try_from(row: ActiveRow) -> StoreResult<Self> {
        Ok(Self {
            status: parse_status(&row.id, &row.status)?,
            id: row.id,
            pipeline_id: row.pipeline_id,
            integration_id: row.integration_id,
            handle_json: row.handle,
            poll_failures: row.poll_failures,
        })
    }
}

/// A run row with its pipeline's name and path and its integration's name and tool.
type Joined = (RunRow, String, String, String, String);

fn view((row, pipeline_name, pipeline_path, integration_name, tool): Joined) -> StoreResult<Run> {
    let status = parse_status(&row.id, &row.status)?;
    let parameters: BTreeMap<String, Value> = serde_json::from_str(&row.parameters)
        .map_err(|err| StoreError::Corrupt(format!("run {} parameters: {err}", row.id)))?;
    Ok(Run {
        id: row.id,
        pipeline_id: row.pipeline_id,
        pipeline_name,
        pipeline_path,
        integration_id: row.integration_id,
        integration_name,
        tool,
        status,
        parameters,
        build_number: row.build_number,
        build_url: row.build_url,
        detail: row.detail,
        triggered_by: row.triggered_by,
        created_at: utc(row.created_at),
        started_at: row.started_at.map(utc),
        finished_at: row.finished_at.map(utc),
        duration_ms: row.duration_ms.and_then(|ms| u64::try_from(ms).ok()),
        updated_at: utc(row.updated_at),
    })
}

macro_rules! joined_runs {
    () => {
        runs::table
            .inner_join(pipelines::table.inner_join(integrations::table))
            .select((
                RunRow::as_select(),
                pipelines::name,
                pipelines::full_path,
                integrations::name,
                integrations::tool,
            ))
    };
}

fn load_run(conn: &mut DbConnection, id: &str) -> StoreResult<Run> {
    let joined: Joined = joined_runs!()
        .filter(runs::id.eq(id))
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound(Subject::Run))?;
    view(joined)
}

impl Store {
    /// Stores a run as `queued`: one the tool accepted (its handle known), or one about to be
    /// asked for (`held_by` set, the handle without a queue or build reference yet). `NotFound`
    /// when the pipeline is gone or is not the integration's.
    pub fn create_run(&self, new: &NewRun) -> StoreResult<Run> {
        let at = stored(new.now);
        let parameters = to_json(&new.parameters)?;
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        // The pipeline first (checked to be the integration's, with what the run's view shows
        // of it), then, in one transaction, the insert — whose foreign key refuses a pipeline
        // deleted in between — and its audit entry. The view is built from both, not read
        // back.
        let (owner, pipeline_name, pipeline_path, integration_name, tool): (
            String,
            String,
            String,
            String,
            String,
        ) = pipelines::table
            .inner_join(integrations::table)
            .filter(pipelines::id.eq(&new.pipeline_id))
            .select((
                pipelines::integration_id,
                pipelines::name,
                pipelines::full_path,
                integrations::name,
                integrations::tool,
            ))
            .first(&mut conn)
            .optional()?
            .ok_or(StoreError::NotFound(Subject::Pipeline))?;
        if owner != new.integration_id {
            return Err(StoreError::NotFound(Subject::Pipeline));
        }
        let row = RunRow {
            id: new_id(),
            pipeline_id: new.pipeline_id.clone(),
            integration_id: new.integration_id.clone(),
            status: RunStatus::Queued.as_str().to_owned(),
            parameters,
            handle: new.handle_json.clone(),
            build_number: None,
            build_url: None,
            detail: None,
            triggered_by: new.triggered_by.clone(),
            created_at: at,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            updated_at: at,
            next_poll_at: Some(stored(new.next_poll_at)),
            poll_failures: 0,
            lease_owner: new.held_by.as_ref().map(|(owner, _)| owner.clone()),
            lease_until: new.held_by.as_ref().map(|(_, until)| stored(*until)),
        };
        let sealed = if new.secret_values.is_empty() {
            None
        } else {
            Some(self.seal_secret_values(&row.id, &new.secret_values)?)
        };
        let event = new
            .audit
            .clone()
            .on(
                "run",
                Some(&row.id),
                Some(&format!("{integration_name} / {pipeline_path}")),
            )
            .change(
                "parameters",
                None,
                Some(
                    serde_json::to_value(&new.parameters)
                        .map_err(|err| StoreError::Corrupt(format!("run parameters: {err}")))?,
                ),
            );
        conn.transaction(|conn| {
            match diesel::insert_into(runs::table)
                .values((
                    &row,
                    runs::secret_values.eq(sealed.as_ref().map(|sealed| sealed.blob.clone())),
                    runs::secret_values_key.eq(sealed.as_ref().map(|sealed| sealed.key_id.clone())),
                ))
                .execute(conn)
            {
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                    _,
                )) => return Err(StoreError::NotFound(Subject::Pipeline)),
                other => other?,
            };
            append(conn, &event)
        })?;
        view((row, pipeline_name, pipeline_path, integration_name, tool))
    }

    pub fn get_run(&self, id: &str) -> StoreResult<Run> {
        let mut conn = self.conn()?;
        load_run(&mut conn, id)
    }

    /// A page of runs, newest first (by id: UUIDv7, so creation order to the millisecond),
    /// and the cursor of the next page (`None` on the last).
    pub fn list_runs(&self, query: &RunQuery) -> StoreResult<(Vec<Run>, Option<String>)> {
        let mut conn = self.conn()?;
        let mut rows_query = joined_runs!()
            .order(runs::id.desc())
            .limit(query.limit.saturating_add(1))
            .into_boxed();
        if let Some(after) = &query.after {
            rows_query = rows_query.filter(runs::id.lt(after.clone()));
        }
        if let Some(pipeline_id) = &query.pipeline_id {
            rows_query = rows_query.filter(runs::pipeline_id.eq(pipeline_id.clone()));
        }
        if let Some(integration_id) = &query.integration_id {
            rows_query = rows_query.filter(runs::integration_id.eq(integration_id.clone()));
        }
        if let Some(status) = query.status {
            rows_query = rows_query.filter(runs::status.eq(status.as_str()));
        }
        let mut rows: Vec<Joined> = rows_query.load(&mut conn)?;
        let more = rows.len() as i64 > query.limit;
        rows.truncate(query.limit.try_into().unwrap_or(0));
        let next = if more {
            rows.last().map(|(row, ..)| row.id.clone())
        } else {
            None
        };
        let items = rows.into_iter().map(view).collect::<StoreResult<_>>()?;
        Ok((items, next))
    }

    /// What it takes to read a run's log: the run as [`Store::run_handle`] gives it, and the
    /// values its log must never show (its password parameters), opened.
    pub fn run_for_log(&self, id: &str) -> StoreResult<(ActiveRun, Vec<SecretString>)> {
        let mut conn = self.conn()?;
        let (row, blob, key_id): (ActiveRow, Option<Vec<u8>>, Option<String>) = runs::table
            .find(id)
            .select((
                ActiveRow::as_select(),
                runs::secret_values,
                runs::secret_values_key,
            ))
            .first(&mut conn)
            .optional()?
            .ok_or(StoreError::NotFound(Subject::Run))?;
        let secrets = match (blob, key_id) {
            (Some(blob), Some(key_id)) => {
                self.open_secret_values(&row.id, &SealedValue { key_id, blob })?
            }
            (None, _) => Vec::new(),
            (Some(_), None) => {
                return Err(StoreError::Corrupt(format!(
                    "run {id}: sealed values without a key id"
                )));
            }
        };
        Ok((row.try_into()?, secrets))
    }

    fn seal_secret_values(
        &self,
        run_id: &str,
        values: &[SecretString],
    ) -> StoreResult<SealedValue> {
        let exposed: Vec<&str> = values.iter().map(|value| value.expose_secret()).collect();
        let json = SecretString::from(to_json(&exposed)?);
        Ok(self.sealer().seal(run_id, SECRET_VALUES_FIELD, &json)?)
    }

    fn open_secret_values(
        &self,
        run_id: &str,
        sealed: &SealedValue,
    ) -> StoreResult<Vec<SecretString>> {
        let json = self.sealer().open(run_id, SECRET_VALUES_FIELD, sealed)?;
        let values: Vec<String> = serde_json::from_str(json.expose_secret())
            .map_err(|err| StoreError::Corrupt(format!("run {run_id} secret values: {err}")))?;
        Ok(values.into_iter().map(SecretString::from).collect())
    }

    /// Re-seals every run's secret values under the current key (part of a key rotation).
    pub(crate) fn reseal_run_secrets(&self, conn: &mut DbConnection) -> StoreResult<usize> {
        let rows: Vec<(String, Option<Vec<u8>>, Option<String>)> = runs::table
            .filter(runs::secret_values.is_not_null())
            .select((runs::id, runs::secret_values, runs::secret_values_key))
            .load(conn)?;
        let count = rows.len();
        for (id, blob, key_id) in rows {
            let (Some(blob), Some(key_id)) = (blob, key_id) else {
                return Err(StoreError::Corrupt(format!(
                    "run {id}: sealed values without a key id"
                )));
            };
            let values = self.open_secret_values(&id, &SealedValue { key_id, blob })?;
            let sealed = self.seal_secret_values(&id, &values)?;
            diesel::update(runs::table.find(&id))
                .set((
                    runs::secret_values.eq(Some(sealed.blob)),
                    runs::secret_values_key.eq(Some(sealed.key_id)),
                ))
                .execute(conn)?;
        }
        Ok(count)
    }

    /// What it takes to poll or cancel a run, whatever its status.
    pub fn run_handle(&self, id: &str) -> StoreResult<ActiveRun> {
        let mut conn = self.conn()?;
        runs::table
            .find(id)
            .select(ActiveRow::as_select())
            .first(&mut conn)
            .optional()?
            .ok_or(StoreError::NotFound(Subject::Run))?
            .try_into()
    }

    /// The other runs of `pipeline_id` whose builds could be confused with `run_id`'s: every
    /// active one, and every one recorded since `since`. For recovering a run whose trigger
    /// was never confirmed (the monitor leaves out the builds these already follow).
    pub fn neighbour_runs(
        &self,
        pipeline_id: &str,
        run_id: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<NeighbourRun>> {
        let mut conn = self.conn()?;
        let rows: Vec<(String, String, String, NaiveDateTime)> = runs::table
            .filter(runs::pipeline_id.eq(pipeline_id))
            .filter(runs::id.ne(run_id))
            .filter(
                runs::status
                    .eq_any(ACTIVE)
                    .or(runs::created_at.ge(stored(since))),
            )
            .select((runs::id, runs::status, runs::handle, runs::created_at))
            .load(&mut conn)?;
        rows.into_iter()
            .map(|(id, status, handle_json, created_at)| {
                Ok(NeighbourRun {
                    status: parse_status(&id, &status)?,
                    id,
                    handle_json,
                    created_at: utc(created_at),
                })
            })
            .collect()
    }

    /// Leases up to `limit` active (queued or running) runs that are due (`next_poll_at` not
    /// after `now`) and that no one holds a live lease on, to `owner` until `now + lease`; the
    /// longest overdue first. Two replicas never get the same run while its lease holds.
    /// [`Store::update_run`] and [`Store::defer_run`] give the lease back.
    pub fn claim_due_runs(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<ActiveRun>> {
        let until = stored(now + lease);
        let now = stored(now);
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let rows: Vec<ActiveRow> = match &mut **conn {
                // Dialect-specific: runs another replica is claiming right now are skipped,
                // not waited for.
                DbConnection::Postgres(pg) => runs::table
                    .filter(runs::status.eq_any(ACTIVE))
                    .filter(runs::next_poll_at.le(now))
                    .filter(runs::lease_until.is_null().or(runs::lease_until.le(now)))
                    .order((runs::next_poll_at.asc(), runs::id.asc()))
                    .limit(limit)
                    .select(ActiveRow::as_select())
                    .for_update()
                    .skip_locked()
                    .load(pg)?,
                // SQLite: the write guard and the transaction make this exclusive already.
                DbConnection::Sqlite(sqlite) => runs::table
                    .filter(runs::status.eq_any(ACTIVE))
                    .filter(runs::next_poll_at.le(now))
                    .filter(runs::lease_until.is_null().or(runs::lease_until.le(now)))
                    .order((runs::next_poll_at.asc(), runs::id.asc()))
                    .limit(limit)
                    .select(ActiveRow::as_select())
                    .load(sqlite)?,
            };
            if !rows.is_empty() {
                let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
                diesel::update(runs::table.filter(runs::id.eq_any(ids)))
                    .set((runs::lease_owner.eq(owner), runs::lease_until.eq(until)))
                    .execute(conn)?;
            }
            rows.into_iter().map(ActiveRun::try_from).collect()
        })
    }

    /// Writes what a poll (or a cancel) learned and gives back the run's lease.
    pub fn update_run(&self, id: &str, update: &RunUpdate) -> StoreResult<Run> {
        let duration_ms = update
            .duration_ms
            .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX));
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let updated = diesel::update(runs::table.find(id))
                .set((
                    runs::status.eq(update.status.as_str()),
                    runs::handle.eq(&update.handle_json),
                    runs::build_number.eq(update.build_number),
                    runs::build_url.eq(&update.build_url),
                    runs::detail.eq(&update.detail),
                    runs::started_at.eq(update.started_at.map(stored)),
                    runs::finished_at.eq(update.finished_at.map(stored)),
                    runs::duration_ms.eq(duration_ms),
                    runs::next_poll_at.eq(update.next_poll_at.map(stored)),
                    runs::poll_failures.eq(update.poll_failures),
                    runs::updated_at.eq(stored(update.now)),
                    runs::lease_owner.eq(None::<String>),
                    runs::lease_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound(Subject::Run));
            }
            if let (false, Some(number)) = (update.status.is_active(), update.build_number) {
                remember_last_build(conn, id, number, update)?;
            }
            load_run(conn, id)
        })
    }

    /// The tool accepted a run recorded with `held_by`: keeps its handle, gives back the lease
    /// and makes it due for the monitor at once. Only while `owner` still holds it; `false`
    /// when the lease was lost (the monitor took over, believing the trigger dead).
    pub fn run_started(
        &self,
        id: &str,
        owner: &str,
        handle_json: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        let updated = diesel::update(
            runs::table
                .find(id)
                .filter(runs::lease_owner.eq(owner))
                .filter(runs::status.eq(RunStatus::Queued.as_str())),
        )
        .set((
            runs::handle.eq(handle_json),
            runs::next_poll_at.eq(stored(now)),
            runs::updated_at.eq(stored(now)),
            runs::lease_owner.eq(None::<String>),
            runs::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(&mut conn)?;
        Ok(updated == 1)
    }

    /// Deletes at most `batch` runs that finished before `finished_before`, oldest first,
    /// with the audit entry `audit` saying how many; answers how many went. Active runs have
    /// no finish time and are never touched. Replicas purging at once each delete a run at
    /// most once (the delete repeats the condition).
    pub fn purge_finished_runs(
        &self,
        finished_before: DateTime<Utc>,
        batch: i64,
        audit: &NewAuditEvent,
    ) -> StoreResult<usize> {
        let cutoff = stored(finished_before);
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            // The finish time comes from the tool's clock: the status, Switchboard's own
            // word, keeps an active run out whatever that clock says.
            let ids: Vec<String> = runs::table
                .filter(runs::finished_at.lt(cutoff))
                .filter(runs::status.ne_all(ACTIVE))
                .order(runs::finished_at.asc())
                .select(runs::id)
                .limit(batch)
                .load(conn)?;
            if ids.is_empty() {
                return Ok(0);
            }
            let deleted = diesel::delete(
                runs::table
                    .filter(runs::id.eq_any(&ids))
                    .filter(runs::finished_at.lt(cutoff))
                    .filter(runs::status.ne_all(ACTIVE)),
            )
            .execute(conn)?;
            if deleted > 0 {
                append(
                    conn,
                    &audit.clone().on("run", None, None).detail(format!(
                        "{deleted} {} that finished before {} deleted (run retention)",
                        if deleted == 1 { "run" } else { "runs" },
                        finished_before.format("%Y-%m-%dT%H:%M:%SZ")
                    )),
                )?;
            }
            Ok(deleted)
        })
    }

    /// The tool refused or failed to start a run recorded with `held_by`: it ends as `error`
    /// with `detail` (the failure's category, message and hint) and `audit` is appended. Only
    /// while `owner` holds it.
    pub fn run_not_started(
        &self,
        id: &str,
        owner: &str,
        detail: &str,
        now: DateTime<Utc>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let ended = diesel::update(
                runs::table
                    .find(id)
                    .filter(runs::lease_owner.eq(owner))
                    .filter(runs::status.eq(RunStatus::Queued.as_str())),
            )
            .set((
                runs::status.eq(RunStatus::Error.as_str()),
                runs::detail.eq(detail),
                runs::finished_at.eq(stored(now)),
                runs::updated_at.eq(stored(now)),
                runs::next_poll_at.eq(None::<NaiveDateTime>),
                runs::lease_owner.eq(None::<String>),
                runs::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
            if ended == 1 {
                append(
                    conn,
                    &audit
                        .clone()
                        .on("run", Some(id), None)
                        .outcome(AuditOutcome::Failed)
                        .detail(detail),
                )?;
            }
            Ok(())
        })
    }

    /// After a failed poll: keeps the run as it is, counts the failure, says when to try
    /// again, and gives back the lease. Nothing a user sees changes.
    pub fn defer_run(
        &self,
        id: &str,
        next_poll_at: DateTime<Utc>,
        poll_failures: i32,
    ) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        let updated = diesel::update(runs::table.find(id))
            .set((
                runs::next_poll_at.eq(stored(next_poll_at)),
                runs::poll_failures.eq(poll_failures),
                runs::lease_owner.eq(None::<String>),
                runs::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(&mut conn)?;
        if updated == 0 {
            return Err(StoreError::NotFound(Subject::Run));
        }
        Ok(())
    }

    /// How many runs are queued or running.
    pub fn active_runs_count(&self) -> StoreResult<i64> {
        let mut conn = self.conn()?;
        Ok(runs::table
            .filter(runs::status.eq_any(ACTIVE))
            .count()
            .get_result(&mut conn)?)
    }
}
