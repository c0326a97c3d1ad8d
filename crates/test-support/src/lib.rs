//! What every Switchboard test suite shares (dev only): which database a test runs on, a fresh
//! PostgreSQL database per test, and the rule that decides whether PostgreSQL tests run.
//!
//! PostgreSQL tests run when `SWITCHBOARD_TEST_PG_URL` names a server. Without it they are
//! skipped on a developer's machine, but **fail** when `CI` is set: a CI run that silently
//! skipped half of its tests would pass while proving nothing.

use diesel::prelude::*;

/// The URL of a PostgreSQL server (with a database path, e.g. `/postgres`) the tests may
/// create and drop databases on.
pub const PG_ENV: &str = "SWITCHBOARD_TEST_PG_URL";

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Whether a value of `CI` means "this is a CI run": set, and not empty, `0` or `false`.
fn means_ci(value: Option<&str>) -> bool {
    value.is_some_and(|value| !matches!(value.trim(), "" | "0" | "false"))
}

/// Whether a PostgreSQL test may run. Without [`PG_ENV`] it says so on stderr and returns
/// `false` (the caller returns early), except under CI, where it panics: the test fails.
pub fn postgres_enabled() -> bool {
    if std::env::var_os(PG_ENV).is_some() {
        return true;
    }
    assert!(
        !means_ci(std::env::var("CI").ok().as_deref()),
        "CI is set but {PG_ENV} is not: PostgreSQL tests must run in CI, not be skipped; \
         set {PG_ENV} to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres"
    );
    eprintln!("skipped: set {PG_ENV} to run on PostgreSQL");
    false
}

/// A fresh PostgreSQL database on the server [`PG_ENV`] names; dropped (with any connections
/// still open to it) when this value is.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates a database named `<prefix>_<random>`. Panics when the server cannot be
    /// reached: a test that asked for PostgreSQL must not pass without it.
    pub fn create(prefix: &str) -> Self {
        let admin_url = std::env::var(PG_ENV).unwrap_or_else(|_| panic!("{PG_ENV} is not set"));
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&admin_url)
            .unwrap_or_else(|err| panic!("cannot connect to PostgreSQL at {PG_ENV}: {err}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .unwrap_or_else(|err| panic!("cannot create database {name}: {err}"));
        let (base, _) = admin_url
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("{PG_ENV} must end in a database path, like /postgres"));
        let url = format!("{base}/{name}");
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// The new database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

/// A reqwest client builder for tests. reqwest is built without a crypto provider (the
/// workspace uses ring); this makes ring the process's provider first.
pub fn http_client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// Runs each `$test(Backend)` once on SQLite and once on PostgreSQL, as
/// `<test>::sqlite` and `<test>::postgres`; the PostgreSQL one follows [`postgres_enabled`].
/// `async:` makes them `#[actix_web::test] async fn` (the caller depends on actix-web).
#[macro_export]
macro_rules! on_both_backends {
    (async: $($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[actix_web::test]
                async fn sqlite() {
                    super::$test($crate::Backend::Sqlite).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if $crate::postgres_enabled() {
                        super::$test($crate::Backend::Postgres).await;
                    }
                }
            }
        )*
    };
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[test]
                fn sqlite() {
                    super::$test($crate::Backend::Sqlite);
                }

                #[test]
                fn postgres() {
                    if $crate::postgres_enabled() {
                        super::$test($crate::Backend::Postgres);
                    }
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_any_value_but_empty_zero_or_false() {
        for value in ["true", "1", "yes", "github"] {
            assert!(means_ci(Some(value)), "{value}");
        }
        for value in [None, Some(""), Some("0"), Some("false"), Some(" ")] {
            assert!(!means_ci(value), "{value:?}");
        }
    }
}
