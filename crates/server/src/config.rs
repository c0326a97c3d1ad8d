//! Configuration: flags and `SWITCHBOARD_*` variables, checked once at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::SecretString;
use switchboard_connectors::{OutboundPolicy, TrustedRoots};
use switchboard_store::DatabaseUrl;

use crate::rate_limit::{TrustedProxies, UserLimits};

pub const PASSWORD_ITERATIONS: u32 = 600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What every command needs: where the data lives.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Directory for the SQLite database and the generated key files.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; default: SQLite at DATA_DIR/switchboard.db.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The master key sealing credentials (base64 of 32 bytes); default: DATA_DIR/master.key.
    #[arg(long, env = "SWITCHBOARD_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Earlier master keys, comma-separated, still accepted for opening values.
    #[arg(long, env = "SWITCHBOARD_PREVIOUS_MASTER_KEYS", hide_env_values = true)]
    pub previous_master_keys: Option<String>,
    /// Database connections kept open; default: twice the number of cores, at least 4.
    #[arg(long, env = "SWITCHBOARD_DB_POOL_SIZE")]
    pub db_pool_size: Option<u32>,
}

/// `switchboard serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Secret signing session tokens (at least 32 characters); default: DATA_DIR/session.key.
    #[arg(long, env = "SWITCHBOARD_SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<String>,
    /// How long a session token lasts, in seconds (60 to 604800).
    #[arg(long, env = "SWITCHBOARD_SESSION_TTL_SECS", default_value_t = 3600)]
    pub session_ttl_secs: u64,
    /// The first administrator's password (12+ characters); generated and printed if unset.
    #[arg(long, env = "SWITCHBOARD_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// HTTP worker threads; default: one per core.
    #[arg(long, env = "SWITCHBOARD_WORKERS")]
    pub workers: Option<usize>,
    /// The web app's build output (a directory with index.html, e.g. frontend/dist), served
    /// at every path outside /api; default: no web app.
    #[arg(long, env = "SWITCHBOARD_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Refuse outbound connections to loopback and private addresses too (link-local and
    /// cloud metadata addresses are always refused).
    #[arg(long, env = "SWITCHBOARD_OUTBOUND_DENY_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub outbound_deny_private: bool,
    /// When set, the only hosts Switchboard may reach, comma-separated: host names, IP
    /// literals or `*.example.com` (an egress allow list; the address checks apply too).
    #[arg(
        long,
        env = "SWITCHBOARD_OUTBOUND_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub outbound_allowed_hosts: Vec<String>,
    /// A PEM file of CA certificates to trust besides the system's when talking to CI/CD
    /// tools (a tool behind a private CA).
    #[arg(long, env = "SWITCHBOARD_OUTBOUND_CA_FILE")]
    pub outbound_ca_file: Option<PathBuf>,
    /// Bound on one whole request to a CI/CD tool, in seconds (1 to 300).
    #[arg(long, env = "SWITCHBOARD_OUTBOUND_TIMEOUT_SECS", default_value_t = 30)]
    pub outbound_timeout_secs: u64,
    /// How often every integration's connection is re-checked and its pipelines
    /// re-discovered, in seconds (10 to 86400).
    #[arg(long, env = "SWITCHBOARD_CHECK_INTERVAL_SECS", default_value_t = 300)]
    pub check_interval_secs: u64,
    /// How soon a failed connection check (or discovery) is retried, in seconds (1 to the
    /// check interval); each further failure in a row doubles it, up to the check interval.
    #[arg(long, env = "SWITCHBOARD_CHECK_RETRY_SECS", default_value_t = 10)]
    pub check_retry_secs: u64,
    /// The run monitor's shortest polling interval for an active run, in milliseconds (100 to 60000).
    #[arg(long, env = "SWITCHBOARD_RUN_POLL_MIN_MS", default_value_t = 500)]
    pub run_poll_min_ms: u64,
    /// The longest interval an unchanged active run backs off to, in milliseconds (at least the minimum, at most 300000).
    #[arg(long, env = "SWITCHBOARD_RUN_POLL_MAX_MS", default_value_t = 1500)]
    pub run_poll_max_ms: u64,
    /// How many days finished runs are kept (with their logs' masks); older ones are deleted
    /// in the background, in small batches. 0 keeps them for ever (0 to 36500).
    #[arg(long, env = "SWITCHBOARD_RUN_RETENTION_DAYS", default_value_t = 90)]
    pub run_retention_days: u64,
    /// How many runs the monitor polls at once (1 to 256).
    #[arg(long, env = "SWITCHBOARD_MONITOR_CONCURRENCY", default_value_t = 8)]
    pub monitor_concurrency: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (sign-in throttling and
    /// logs), comma-separated addresses or networks (`10.0.0.0/8`); default: none, and the
    /// header is ignored.
    #[arg(long, env = "SWITCHBOARD_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Run triggers one user may make per minute (0: no limit).
    #[arg(long, env = "SWITCHBOARD_RATE_TRIGGERS_PER_MINUTE", default_value_t = UserLimits::default().triggers_per_minute)]
    pub rate_triggers_per_minute: u32,
    /// Pipeline syncs one user may start per minute (0: no limit).
    #[arg(long, env = "SWITCHBOARD_RATE_SYNCS_PER_MINUTE", default_value_t = UserLimits::default().syncs_per_minute)]
    pub rate_syncs_per_minute: u32,
    /// Connection tests (saved or draft) one user may run per minute (0: no limit).
    #[arg(long, env = "SWITCHBOARD_RATE_TESTS_PER_MINUTE", default_value_t = UserLimits::default().tests_per_minute)]
    pub rate_tests_per_minute: u32,
    /// Run log reads one user may make per minute (0: no limit).
    #[arg(long, env = "SWITCHBOARD_RATE_LOG_READS_PER_MINUTE", default_value_t = UserLimits::default().log_reads_per_minute)]
    pub rate_log_reads_per_minute: u32,
    /// `off` at an installation's first start: changes apply without prior approval (for a
    /// single person evaluating Switchboard; administrators see a warning). Once the policy
    /// is kept in the database, administrators change it there; this no longer applies.
    #[arg(long, env = "SWITCHBOARD_APPROVAL", default_value = "on", value_parser = ["on", "off"])]
    pub approval: String,
}

/// Validated settings for the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub storage: StorageConfig,
    pub session_secret: Option<SecretString>,
    pub session_ttl: Duration,
    pub admin_password: Option<SecretString>,
    pub workers: Option<usize>,
    /// The web app's build output, served outside `/api`; `None`: API only.
    pub web_dir: Option<PathBuf>,
    /// PBKDF2 rounds for new password hashes.
    pub password_iterations: u32,
    pub login_limits: LoginLimits,
    pub trusted_proxies: TrustedProxies,
    pub user_limits: UserLimits,
    pub outbound: OutboundConfig,
    pub background: BackgroundConfig,
    /// Test-only (no flag or variable sets it): every trigger stops here as if the server
    /// died there.
    pub trigger_fault: Option<switchboard_app::TriggerFault>,
    /// Whether changes need prior approval when the policy is first written (see
    /// `SWITCHBOARD_APPROVAL`).
    pub approval_at_first_start: bool,
}

pub use switchboard_app::{BackgroundConfig, OutboundConfig};

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub master_key: Option<SecretString>,
    pub previous_master_keys: Vec<SecretString>,
    pub db_pool_size: u32,
}

/// Sign-in throttling (see `rate_limit`): failures let through before attempts must wait,
/// and the waits.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failed sign-ins of one user name from one client address before each further
    /// attempt waits.
    pub per_user_and_address: u32,
    /// Failed sign-ins from one client address, whatever the user names, before the same.
    pub per_address: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Failures are forgotten this long after the last one.
    pub forget_after: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_user_and_address: 5,
            per_address: 20,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(60 * 60),
        }
    }
}

/// Every problem found in the settings, each with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

/// More connections than about twice the cores only add contention: measured on 2 cores, 16
/// PostgreSQL connections gave a p99 of 300–420 ms under load where 4 gave 10 ms (BENCHMARKS.md).
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    u32::try_from(cores * 2).unwrap_or(u32::MAX).max(4)
}

impl StorageArgs {
    pub fn validate(&self, problems: &mut Vec<String>) -> Option<StorageConfig> {
        let database = match &self.database_url {
            Some(url) => DatabaseUrl::parse(url)
                .map_err(|err| problems.push(format!("SWITCHBOARD_DATABASE_URL: {err}")))
                .ok(),
            None => Some(DatabaseUrl::Sqlite(self.data_dir.join("switchboard.db"))),
        };
        if let Some(key) = &self.master_key
            && let Err(err) = switchboard_store::MasterKey::from_base64(key)
        {
            problems.push(format!("SWITCHBOARD_MASTER_KEY: {err}; generate one with `head -c 32 /dev/urandom | base64`"));
        }
        let previous: Vec<SecretString> = self
            .previous_master_keys
            .iter()
            .flat_map(|keys| keys.split(','))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(SecretString::from)
            .collect();
        if !previous.is_empty() && self.master_key.is_none() {
            problems
                .push("SWITCHBOARD_PREVIOUS_MASTER_KEYS needs SWITCHBOARD_MASTER_KEY too".into());
        }
        let db_pool_size = self.db_pool_size.unwrap_or_else(default_pool_size);
        if !(1..=256).contains(&db_pool_size) {
            problems.push(format!(
                "SWITCHBOARD_DB_POOL_SIZE must be 1 to 256, not {db_pool_size}"
            ));
        }
        Some(StorageConfig {
            data_dir: self.data_dir.clone(),
            database: database?,
            master_key: self.master_key.clone().map(SecretString::from),
            previous_master_keys: previous,
            db_pool_size,
        })
    }

    pub fn into_config(self) -> Result<StorageConfig, ConfigError> {
        let mut problems = Vec::new();
        match self.validate(&mut problems) {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError(problems)),
        }
    }
}

impl ServeArgs {
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let storage = self.storage.validate(&mut problems);
        let bind = self
            .bind
            .parse::<SocketAddr>()
            .map_err(|_| {
                problems.push(format!(
                    "SWITCHBOARD_BIND: {:?} is not an address like 127.0.0.1:8080",
                    self.bind
                ))
            })
            .ok();
        if let Some(secret) = &self.session_secret
            && secret.len() < 32
        {
            problems.push("SWITCHBOARD_SESSION_SECRET must be at least 32 characters".into());
        }
        if !(60..=604_800).contains(&self.session_ttl_secs) {
            problems.push(format!(
                "SWITCHBOARD_SESSION_TTL_SECS must be 60 to 604800, not {}",
                self.session_ttl_secs
            ));
        }
        if let Some(password) = &self.admin_password
            && let Err((_, message)) = switchboard_domain::user::NewPassword::parse(password)
        {
            problems.push(format!("SWITCHBOARD_ADMIN_PASSWORD: {message}"));
        }
        if self.workers == Some(0) {
            problems.push("SWITCHBOARD_WORKERS must be at least 1".into());
        }
        if let Some(dir) = &self.web_dir {
            if !dir.is_dir() {
                problems.push(format!(
                    "SWITCHBOARD_WEB_DIR: {} is not a directory; point it at the web app's build output (frontend/dist, made by `just web`)",
                    dir.display()
                ));
            } else if !dir.join("index.html").is_file() {
                problems.push(format!(
                    "SWITCHBOARD_WEB_DIR: {} has no index.html; point it at the web app's build output (frontend/dist, made by `just web`)",
                    dir.display()
                ));
            }
        }
        let mut in_range = |name: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
            if !range.contains(&value) {
                problems.push(format!(
                    "{name} must be {} to {}, not {value}",
                    range.start(),
                    range.end()
                ));
            }
        };
        in_range(
            "SWITCHBOARD_OUTBOUND_TIMEOUT_SECS",
            self.outbound_timeout_secs,
            1..=300,
        );
        in_range(
            "SWITCHBOARD_CHECK_INTERVAL_SECS",
            self.check_interval_secs,
            10..=86_400,
        );
        in_range(
            "SWITCHBOARD_CHECK_RETRY_SECS",
            self.check_retry_secs,
            1..=self.check_interval_secs.max(1),
        );
        in_range(
            "SWITCHBOARD_RUN_RETENTION_DAYS",
            self.run_retention_days,
            0..=36_500,
        );
        in_range(
            "SWITCHBOARD_RUN_POLL_MIN_MS",
            self.run_poll_min_ms,
            100..=60_000,
        );
        in_range(
            "SWITCHBOARD_RUN_POLL_MAX_MS",
            self.run_poll_max_ms,
            self.run_poll_min_ms..=300_000,
        );
        in_range(
            "SWITCHBOARD_MONITOR_CONCURRENCY",
            self.monitor_concurrency as u64,
            1..=256,
        );
        let extra_roots = match &self.outbound_ca_file {
            None => TrustedRoots::default(),
            Some(path) => std::fs::read(path)
                .map_err(|err| err.to_string())
                .and_then(|pem| TrustedRoots::parse(&pem).map_err(|err| err.to_string()))
                .unwrap_or_else(|err| {
                    problems.push(format!(
                        "SWITCHBOARD_OUTBOUND_CA_FILE: {}: {err}; give a PEM file of CA certificates",
                        path.display()
                    ));
                    TrustedRoots::default()
                }),
        };
        let trusted_proxies =
            TrustedProxies::parse(&self.trusted_proxies).unwrap_or_else(|err| {
                problems.push(format!(
                    "SWITCHBOARD_TRUSTED_PROXIES: {err}; give addresses or networks such as 10.0.0.0/8, comma-separated"
                ));
                TrustedProxies::default()
            });
        let total_timeout = Duration::from_secs(self.outbound_timeout_secs);
        let outbound = OutboundConfig {
            policy: OutboundPolicy {
                deny_private: self.outbound_deny_private,
                allowed_hosts: self
                    .outbound_allowed_hosts
                    .iter()
                    .map(|host| host.trim().to_owned())
                    .filter(|host| !host.is_empty())
                    .collect(),
                total_timeout,
                connect_timeout: total_timeout.min(OutboundPolicy::default().connect_timeout),
                extra_roots,
                ..OutboundPolicy::default()
            },
            resolver: None,
        };
        let background = BackgroundConfig {
            check_interval: Duration::from_secs(self.check_interval_secs),
            check_retry: Duration::from_secs(self.check_retry_secs),
            run_poll_min: Duration::from_millis(self.run_poll_min_ms),
            run_poll_max: Duration::from_millis(self.run_poll_max_ms),
            monitor_concurrency: self.monitor_concurrency,
            run_retention: (self.run_retention_days > 0)
                .then(|| Duration::from_secs(self.run_retention_days * 24 * 3600)),
            ..BackgroundConfig::default()
        };
        match (storage, bind) {
            (Some(storage), Some(bind)) if problems.is_empty() => Ok(Config {
                bind,
                storage,
                session_secret: self.session_secret.map(SecretString::from),
                session_ttl: Duration::from_secs(self.session_ttl_secs),
                admin_password: self.admin_password.map(SecretString::from),
                workers: self.workers,
                web_dir: self.web_dir,
                password_iterations: PASSWORD_ITERATIONS,
                login_limits: LoginLimits::default(),
                trusted_proxies,
                user_limits: UserLimits {
                    triggers_per_minute: self.rate_triggers_per_minute,
                    syncs_per_minute: self.rate_syncs_per_minute,
                    tests_per_minute: self.rate_tests_per_minute,
                    log_reads_per_minute: self.rate_log_reads_per_minute,
                },
                outbound,
                trigger_fault: None,
                background,
                approval_at_first_start: self.approval != "off",
            }),
            _ => Err(ConfigError(problems)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["switchboard"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .expect("flags parse")
            .serve
            .into_config()
    }

    #[test]
    fn defaults_give_sqlite_in_the_data_directory_on_loopback() {
        let config = parse(&["--data-dir", "/tmp/sb"]).expect("valid");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.storage.database,
            DatabaseUrl::Sqlite("/tmp/sb/switchboard.db".into())
        );
        assert_eq!(config.password_iterations, 600_000);
        assert!(!config.outbound.policy.deny_private);
        assert_eq!(config.background, BackgroundConfig::default());
    }

    #[test]
    fn outbound_private_addresses_can_be_denied() {
        let config = parse(&["--outbound-deny-private", "true"]).expect("valid");
        assert!(config.outbound.policy.deny_private);
        let config =
            parse(&["--outbound-allowed-hosts", "127.0.0.1, *.corp.example"]).expect("valid");
        assert_eq!(
            config.outbound.policy.allowed_hosts,
            ["127.0.0.1", "*.corp.example"]
        );
        assert!(
            parse(&[])
                .expect("valid")
                .outbound
                .policy
                .allowed_hosts
                .is_empty()
        );
    }

    #[test]
    fn a_check_retry_longer_than_the_interval_is_refused() {
        let err = parse(&["--check-interval-secs", "60", "--check-retry-secs", "61"])
            .expect_err("invalid");
        assert!(
            err.to_string()
                .contains("SWITCHBOARD_CHECK_RETRY_SECS must be 1 to 60, not 61"),
            "{err}"
        );
        let config = parse(&["--check-retry-secs", "2"]).expect("valid");
        assert_eq!(config.background.check_retry, Duration::from_secs(2));
    }

    #[test]
    fn finished_runs_are_kept_90_days_unless_told_otherwise() {
        let days = |config: Config| {
            config
                .background
                .run_retention
                .map(|d| d.as_secs() / 86_400)
        };
        assert_eq!(days(parse(&[]).expect("valid")), Some(90));
        assert_eq!(
            days(parse(&["--run-retention-days", "7"]).expect("valid")),
            Some(7)
        );
        assert_eq!(
            days(parse(&["--run-retention-days", "0"]).expect("valid")),
            None,
            "0 keeps them for ever"
        );
        let err = parse(&["--run-retention-days", "40000"]).expect_err("invalid");
        assert!(
            err.to_string()
                .contains("SWITCHBOARD_RUN_RETENTION_DAYS must be 0 to 36500, not 40000"),
            "{err}"
        );
    }

    #[test]
    fn background_intervals_are_bounded() {
        let err = parse(&[
            "--check-interval-secs",
            "1",
            "--run-poll-min-ms",
            "900",
            "--run-poll-max-ms",
            "800",
        ])
        .expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("SWITCHBOARD_CHECK_INTERVAL_SECS"), "{text}");
        assert!(
            text.contains("SWITCHBOARD_RUN_POLL_MAX_MS must be 900"),
            "{text}"
        );
    }

    #[test]
    fn every_problem_is_reported_with_what_to_fix() {
        let err = parse(&[
            "--bind",
            "localhost",
            "--database-url",
            "mysql://x/y",
            "--master-key",
            "short",
            "--session-ttl-secs",
            "5",
            "--admin-password",
            "tiny",
        ])
        .expect_err("invalid");
        let text = err.to_string();
        for expected in [
            "SWITCHBOARD_BIND",
            "mysql",
            "SWITCHBOARD_MASTER_KEY",
            "SWITCHBOARD_SESSION_TTL_SECS",
            "SWITCHBOARD_ADMIN_PASSWORD",
        ] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
        assert!(!text.contains("tiny"), "secrets stay out of messages");
    }

    #[test]
    fn an_outbound_ca_file_must_hold_pem_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let err =
            parse(&["--outbound-ca-file", missing.to_str().expect("utf-8")]).expect_err("no file");
        assert!(
            err.to_string().contains("SWITCHBOARD_OUTBOUND_CA_FILE"),
            "{err}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").expect("write");
        let err = parse(&["--outbound-ca-file", garbage.to_str().expect("utf-8")])
            .expect_err("no certificate");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");

        let ca = dir.path().join("ca.pem");
        let certified = rcgen::generate_simple_self_signed(vec!["ci.corp.example".to_owned()])
            .expect("certificate");
        std::fs::write(&ca, certified.cert.pem()).expect("write");
        let config = parse(&["--outbound-ca-file", ca.to_str().expect("utf-8")]).expect("valid");
        assert_eq!(config.outbound.policy.extra_roots.len(), 1);
        assert!(
            parse(&[])
                .expect("valid")
                .outbound
                .policy
                .extra_roots
                .is_empty()
        );
    }

    #[test]
    fn a_web_dir_must_hold_index_html() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_str().expect("utf-8 path");
        let err = parse(&["--web-dir", path]).expect_err("no index.html");
        assert!(err.to_string().contains("has no index.html"), "{err}");
        let missing = format!("{path}/missing");
        let err = parse(&["--web-dir", &missing]).expect_err("no directory");
        assert!(err.to_string().contains("is not a directory"), "{err}");
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").expect("write");
        let config = parse(&["--web-dir", path]).expect("valid");
        assert_eq!(config.web_dir.as_deref(), Some(dir.path()));
        assert_eq!(parse(&[]).expect("valid").web_dir, None);
    }
}
