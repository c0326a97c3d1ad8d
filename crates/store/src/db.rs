//! Connections: SQLite or PostgreSQL, chosen by the URL's scheme, never by guessing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::tally::CountStatements;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the database is.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
            Self::Postgres(url) => write!(f, "Postgres({})", redact_url(url)),
        }
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl DatabaseUrl {
    /// `postgres://…` or `postgresql://…` for PostgreSQL, `sqlite://PATH` or a plain path for SQLite.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            return if path.is_empty() {
                Err("sqlite:// needs a file path".into())
            } else {
                Ok(Self::Sqlite(path.into()))
            };
        }
        if raw.is_empty() {
            return Err("the database URL is empty".into());
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(format!(
                "unsupported database scheme {scheme:?}: use postgres://… for PostgreSQL or sqlite://PATH (or a file path) for SQLite"
            ));
        }
        Ok(Self::Sqlite(raw.into()))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Opens connections of the configured backend and sets each one up.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// Statements run by every connection this manager opened (see `tally`).
    statements: Arc<AtomicU64>,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl, statements: Arc<AtomicU64>) -> Self {
        Self { url, statements }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers proceed while one writer writes; the busy timeout makes a
                // second writer wait instead of failing.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                conn.set_instrumentation(CountStatements(self.statements.clone()));
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                conn.set_instrumentation(CountStatements(self.statements.clone()));
                Ok(DbConnection::Postgres(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

pub type DbPool = Pool<ConnectionManager>;

pub fn build_pool(
    url: &DatabaseUrl,
    max_size: u32,
    statements: Arc<AtomicU64>,
) -> Result<DbPool, r2d2::PoolError> {
    if let DatabaseUrl::Sqlite(_) = url {
        // Switching a new file to WAL needs it alone; the pool opens its connections at once,
        // and those racing for the switch fail with "database is locked" straight away. WAL
        // is kept in the file, so after one connection has switched it the others need nothing.
        if let Err(err) = ConnectionManager::new(url.clone(), statements.clone()).connect() {
            tracing::debug!(error = %err, "could not switch the SQLite file to WAL up front");
        }
    }
    Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(5))
        .test_on_check_out(false)
        .build(ConnectionManager::new(url.clone(), statements))
}

/// Applies every pending migration of the connection's backend; returns their names.
pub fn run_migrations(
    conn: &mut DbConnection,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let applied = match conn {
        DbConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS)?,
        DbConnection::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS)?,
    };
    Ok(applied
        .into_iter()
        .map(|version| version.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_follows_the_scheme_and_nothing_else() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/db").map(|u| u.backend_name()),
            Ok("postgres")
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/x.db"),
            Ok(DatabaseUrl::Sqlite("/var/lib/x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("data/x.db"),
            Ok(DatabaseUrl::Sqlite("data/x.db".into()))
        );
        assert!(DatabaseUrl::parse("mysql://h/db").is_err_and(|m| m.contains("mysql")));
        assert!(DatabaseUrl::parse("").is_err());
    }

    #[test]
    fn passwords_are_kept_out_of_printed_urls() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        let printed = format!(
            "{:?}",
            DatabaseUrl::Postgres("postgres://bob:s3cret@db/x".into())
        );
        assert!(!printed.contains("s3cret"));
    }
}
