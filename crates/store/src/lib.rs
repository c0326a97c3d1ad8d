//! Switchboard persistence: one diesel schema over SQLite and PostgreSQL, embedded
//! migrations, and credentials sealed at rest.
//!
//! Every method is blocking; the server calls them from its blocking thread pool.

pub mod audit;
mod change_requests;
pub mod db;
mod error;
mod idempotency;
mod integrations;
pub mod key_file;
mod pipelines;
mod runs;
mod schema;
pub mod seal;
mod tally;
mod tokens;
mod tools;
mod users;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::PooledConnection;

pub use audit::{AuditActor, AuditQuery, NewAuditEvent};
pub use change_requests::{
    Actor, Apply, Decided, EventRecord, LiveIntegration, NewEvent, NewRequest, Outcome, Proposal,
    RequestQuery, RequestRecord, Revision, SYSTEM_ACTOR, Situation, default_policy,
};
pub use db::{DatabaseUrl, DbConnection, DbPool};
pub use error::{StoreError, StoreResult, Subject, Unique};
pub use idempotency::KeyClaim;
pub use integrations::{
    CheckSchedule, IntegrationQuery, OpenedIntegration, Resealed, StoredCredential,
};
pub use pipelines::{DiscoveryCounts, PipelineQuery};
pub use runs::{ActiveRun, NeighbourRun, NewRun, RunQuery, RunUpdate};
pub use seal::{KeySource, Keyring, MasterKey, SealError, Sealer};
pub use switchboard_domain::pipeline::DiscoveredPipeline;
pub use tally::StatementTally;
pub use tokens::{NewTokenRecord, StoredToken, TokenMatch};
pub use users::{StoredUser, UserChange};

/// The database and the sealer, shared by every request.
pub struct Store {
    pool: DbPool,
    /// Statements run on any of the pool's connections since the store was opened.
    statements: Arc<AtomicU64>,
    url: DatabaseUrl,
    sealer: Sealer,
    /// SQLite allows one writer: serialising writes here means a transaction never has to
    /// upgrade its lock while another waits, which SQLite answers with SQLITE_BUSY.
    sqlite_writer: Option<Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now() -> NaiveDateTime {
    // Microseconds: what both backends store exactly, so a value reads back unchanged.
    let now = Utc::now().naive_utc();
    let micros = now.and_utc().timestamp_micros();
    DateTime::from_timestamp_micros(micros).map_or(now, |t| t.naive_utc())
}

pub(crate) fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// A caller's instant as stored: UTC, to the microsecond (what both backends keep exactly).
pub(crate) fn stored(at: DateTime<Utc>) -> NaiveDateTime {
    let micros = at.timestamp_micros();
    DateTime::from_timestamp_micros(micros).map_or(at.naive_utc(), |t| t.naive_utc())
}

/// The `data_versions` row bumped by every change to integrations (and their credentials,
/// checks, syncs and pipeline counts).
pub const DATA_INTEGRATIONS: &str = "integrations";

/// Marks one kind of data as changed; call inside the changing transaction.
pub(crate) fn bump_data_version(conn: &mut DbConnection, name: &str) -> QueryResult<()> {
    use schema::data_versions;
    diesel::update(data_versions::table.find(name))
        .set(data_versions::version.eq(data_versions::version + 1))
        .execute(conn)
        .map(drop)
}

pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// The `LIKE` pattern matching `text` anywhere, with `\` as the escape character.
pub(crate) fn contains_pattern(text: &str) -> String {
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

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Store {
    /// Connects, and applies pending migrations when `migrate` is set.
    pub fn open(
        url: DatabaseUrl,
        pool_size: u32,
        sealer: Sealer,
        migrate: bool,
    ) -> StoreResult<Self> {
        let statements = Arc::new(AtomicU64::new(0));
        let pool = db::build_pool(&url, pool_size, statements.clone())?;
        let sqlite_writer = matches!(url, DatabaseUrl::Sqlite(_)).then(|| Mutex::new(()));
        let store = Self {
            pool,
            statements,
            url,
            sealer,
            sqlite_writer,
        };
        if migrate {
            store.migrate()?;
        }
        Ok(store)
    }

    pub fn backend_name(&self) -> &'static str {
        self.url.backend_name()
    }

    /// How many statements the store has run since it was opened (every connection,
    /// background work included).
    pub fn statements_run(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn migrate(&self) -> StoreResult<Vec<String>> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        db::run_migrations(&mut conn)
            .map_err(|err| StoreError::Corrupt(format!("migration failed: {err}")))
    }

    /// Whether the database answers a trivial query.
    pub fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1").map_err(StoreError::from)
    }

    /// A number that changes (on any replica) whenever the data kind `name` changes:
    /// [`DATA_INTEGRATIONS`] (the only one kept: the integrations' list pages are cached).
    /// `NotFound` for another name.
    pub fn data_version(&self, name: &str) -> StoreResult<i64> {
        use schema::data_versions;
        let mut conn = self.conn()?;
        Ok(data_versions::table
            .find(name)
            .select(data_versions::version)
            .first(&mut conn)?)
    }

    pub(crate) fn conn(&self) -> StoreResult<PooledConnection<db::ConnectionManager>> {
        Ok(self.pool.get()?)
    }

    pub(crate) fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        self.sqlite_writer.as_ref().map(|lock| match lock.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        })
    }
}
