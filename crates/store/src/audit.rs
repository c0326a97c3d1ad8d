//! The audit log's hash chain: appended in the transaction of the change it records, read
//! newest first, and verified link by link.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use switchboard_domain::audit::{
    ActorKind, AuditChange, AuditEvent, AuditOutcome, AuditVerification, BrokenLink,
};

use crate::schema::{audit_events, audit_head};
use crate::{DbConnection, Store, StoreError, StoreResult, new_id, now, stored, to_json, utc};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Entries read per statement while verifying or exporting.
const BATCH: i64 = 1000;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    seq: i64,
    id: String,
    at: NaiveDateTime,
    actor_id: Option<String>,
    actor: String,
    actor_kind: String,
    token_id: Option<String>,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    target: Option<String>,
    outcome: String,
    client_address: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    changes: String,
    detail: Option<String>,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    /// SHA-256 (hex) of `prev_hash` and every other field, in a fixed order and encoding
    /// (a JSON array), so that no two different entries hash alike.
    fn digest(&self) -> String {
        let fields = serde_json::json!([
            self.prev_hash,
            self.seq,
            self.id,
            self.at
                .and_utc()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string(),
            self.actor_id,
            self.actor,
            self.actor_kind,
            self.token_id,
            self.action,
            self.target_type,
            self.target_id,
            self.target,
            self.outcome,
            self.client_address,
            self.user_agent,
            self.request_id,
            self.changes,
            self.detail,
        ]);
        ring::digest::digest(&ring::digest::SHA256, fields.to_string().as_bytes())
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    fn into_event(self) -> StoreResult<AuditEvent> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("audit entry {}: {what}", self.seq));
        Ok(AuditEvent {
            seq: self.seq,
            actor_kind: ActorKind::parse(&self.actor_kind).ok_or_else(|| corrupt("actor kind"))?,
            outcome: AuditOutcome::parse(&self.outcome).ok_or_else(|| corrupt("outcome"))?,
            changes: serde_json::from_str(&self.changes).map_err(|_| corrupt("changes"))?,
            id: self.id,
            at: utc(self.at),
            actor_id: self.actor_id,
            actor: self.actor,
            token_id: self.token_id,
            action: self.action,
            target_type: self.target_type,
            target_id: self.target_id,
            target: self.target,
            client_address: self.client_address,
            user_agent: self.user_agent,
            request_id: self.request_id,
            detail: self.detail,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// Who acted, and from where: what every entry by them carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditActor {
    pub id: Option<String>,
    pub name: String,
    pub kind: Option<ActorKind>,
    pub token_id: Option<String>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl AuditActor {
    /// Switchboard itself: work nobody started (the first administrator, requests that
    /// expire).
    pub fn system() -> Self {
        Self {
            name: "switchboard".into(),
            kind: Some(ActorKind::System),
            ..Default::default()
        }
    }
}

/// An entry to append. Its target id may be left for the store to fill in (a row it creates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub actor: AuditActor,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub changes: Vec<AuditChange>,
    pub detail: Option<String>,
}

impl NewAuditEvent {
    pub fn new(actor: &AuditActor, action: &str) -> Self {
        Self {
            actor: actor.clone(),
            action: action.to_owned(),
            target_type: None,
            target_id: None,
            target: None,
            outcome: AuditOutcome::Success,
            changes: Vec::new(),
            detail: None,
        }
    }

    pub fn on(mut self, target_type: &str, target_id: Option<&str>, target: Option<&str>) -> Self {
        self.target_type = Some(target_type.to_owned());
        self.target_id = target_id.map(str::to_owned);
        self.target = target.map(str::to_owned);
        self
    }

    pub fn outcome(mut self, outcome: AuditOutcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Records `field` going from `before` to `after`, when they differ.
    pub fn change(
        mut self,
        field: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Self {
        if before != after {
            self.changes.push(AuditChange {
                field: field.to_owned(),
                before,
                after,
            });
        }
        self
    }

    /// The same entry about the row `id` (`name`) the store just created.
    pub(crate) fn about(mut self, id: &str, name: &str) -> Self {
        self.target_id = Some(id.to_owned());
        self.target = Some(name.to_owned());
        self
    }
}

/// Appends `event` to the chain on `conn`, inside the caller's transaction: the head is
/// locked (PostgreSQL; SQLite's writer is alone already), so the entry follows exactly the
/// last one. If this fails, the caller's change fails with it.
pub(crate) fn append(conn: &mut DbConnection, event: &NewAuditEvent) -> StoreResult<()> {
    let head = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash));
    let (last_seq, last_hash): (i64, String) = match conn {
        DbConnection::Postgres(pg) => head.for_update().first(pg)?,
        DbConnection::Sqlite(sqlite) => head.first(sqlite)?,
    };
    let actor_kind = event.actor.kind.unwrap_or(ActorKind::Anonymous);
    let mut row = AuditRow {
        seq: last_seq + 1,
        id: new_id(),
        at: now(),
        actor_id: event.actor.id.clone(),
        actor: event.actor.name.clone(),
        actor_kind: actor_kind.as_str().to_owned(),
        token_id: event.actor.token_id.clone(),
        action: event.action.clone(),
        target_type: event.target_type.clone(),
        target_id: event.target_id.clone(),
        target: event.target.clone(),
        outcome: event.outcome.as_str().to_owned(),
        client_address: event.actor.client_address.clone(),
        user_agent: event.actor.user_agent.clone(),
        request_id: event.actor.request_id.clone(),
        changes: to_json(&event.changes)?,
        detail: event.detail.clone(),
        prev_hash: last_hash,
        hash: String::new(),
    };
    row.hash = row.digest();
    diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(conn)?;
    let moved = diesel::update(
        audit_head::table
            .find(1)
            .filter(audit_head::seq.eq(last_seq)),
    )
    .set((audit_head::seq.eq(row.seq), audit_head::hash.eq(&row.hash)))
    .execute(conn)?;
    if moved != 1 {
        return Err(StoreError::Corrupt(
            "the audit log's head moved under its lock".into(),
        ));
    }
    Ok(())
}

/// Filters of `GET /api/v1/audit-events`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Entries before this `seq` (the cursor), newest first.
    pub before_seq: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Appends one entry on its own (an event that changes nothing else: a sign-in, a
    /// refused request).
    pub fn record_audit(&self, event: &NewAuditEvent) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| append(conn, event))
    }

    /// Entries matching `query`, newest first; one more than the limit tells whether more
    /// exist. `target` matches the target's id or name.
    pub fn list_audit(&self, query: &AuditQuery) -> StoreResult<(Vec<AuditEvent>, bool)> {
        let mut conn = self.conn()?;
        let mut select = audit_events::table
            .select(AuditRow::as_select())
            .order(audit_events::seq.desc())
            .limit(query.limit + 1)
            .into_boxed();
        if let Some(actor) = &query.actor {
            select = select.filter(
                audit_events::actor
                    .eq(actor.clone())
                    .or(audit_events::actor_id.eq(actor.clone())),
            );
        }
        if let Some(action) = &query.action {
            select = select.filter(audit_events::action.eq(action.clone()));
        }
        if let Some(target) = &query.target {
            select = select.filter(
                audit_events::target_id
                    .eq(target.clone())
                    .or(audit_events::target.eq(target.clone())),
            );
        }
        if let Some(outcome) = query.outcome {
            select = select.filter(audit_events::outcome.eq(outcome.as_str()));
        }
        if let Some(since) = query.since {
            select = select.filter(audit_events::at.ge(stored(since)));
        }
        if let Some(until) = query.until {
            select = select.filter(audit_events::at.lt(stored(until)));
        }
        if let Some(before) = query.before_seq {
            select = select.filter(audit_events::seq.lt(before));
        }
        let rows: Vec<AuditRow> = select.load(&mut conn)?;
        let more = rows.len() as i64 > query.limit;
        let events = rows
            .into_iter()
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .map(AuditRow::into_event)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((events, more))
    }

    /// Up to `BATCH` entries after `after_seq`, oldest first (for export).
    pub fn audit_after(&self, after_seq: i64) -> StoreResult<Vec<AuditEvent>> {
        self.audit_rows_after(after_seq)?
            .into_iter()
            .map(AuditRow::into_event)
            .collect()
    }

    fn audit_rows_after(&self, after_seq: i64) -> StoreResult<Vec<AuditRow>> {
        let mut conn = self.conn()?;
        Ok(audit_events::table
            .filter(audit_events::seq.gt(after_seq))
            .order(audit_events::seq.asc())
            .limit(BATCH)
            .select(AuditRow::as_select())
            .load(&mut conn)?)
    }

    /// Walks the chain from its first entry: each must follow the previous one without a
    /// gap, carry its hash, and hash to what it says; the last must be the head. Reports the
    /// first link that does not hold.
    pub fn verify_audit(&self) -> StoreResult<AuditVerification> {
        let (head_seq, head_hash): (i64, String) = {
            let mut conn = self.conn()?;
            audit_head::table
                .find(1)
                .select((audit_head::seq, audit_head::hash))
                .first(&mut conn)?
        };
        let broken = |seq: i64, reason: String, checked: i64| AuditVerification {
            ok: false,
            checked,
            first_broken: Some(BrokenLink { seq, reason }),
        };
        let (mut expected_seq, mut prev_hash, mut checked) = (1_i64, GENESIS_HASH.to_owned(), 0);
        loop {
            let rows = self.audit_rows_after(expected_seq - 1)?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                if row.seq != expected_seq {
                    return Ok(broken(
                        expected_seq,
                        format!("entry {expected_seq} is missing (deleted)"),
                        checked,
                    ));
                }
                if row.prev_hash != prev_hash {
                    return Ok(broken(
                        row.seq,
                        format!(
                            "entry {} is not chained to the entry before it (that one was edited, or this one replaced)",
                            row.seq
                        ),
                        checked,
                    ));
                }
                if row.digest() != row.hash {
                    return Ok(broken(
                        row.seq,
                        format!("entry {} was changed after it was written", row.seq),
                        checked,
                    ));
                }
                checked += 1;
                expected_seq += 1;
                prev_hash = row.hash;
            }
        }
        let last_seq = expected_seq - 1;
        if last_seq == head_seq && prev_hash != head_hash {
            return Ok(broken(
                last_seq,
                format!(
                    "entry {last_seq} is not the one that was written last (edited or replaced)"
                ),
                checked,
            ));
        }
        if last_seq != head_seq {
            return Ok(broken(
                last_seq + 1,
                format!(
                    "the log ends at entry {last_seq} but {head_seq} were written (the last ones were deleted)"
                ),
                checked,
            ));
        }
        Ok(AuditVerification {
            ok: true,
            checked,
            first_broken: None,
        })
    }
}
