//! Each test gets its own server on a free loopback port and its own database.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use diesel::prelude::*;
use diesel::sql_types::Text;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use switchboard_connectors::{OutboundPolicy, StaticResolver};
use switchboard_server::AppState;
use switchboard_server::config::{
    BackgroundConfig, Config, LoginLimits, OutboundConfig, StorageConfig,
};
use switchboard_server::rate_limit::{TrustedProxies, UserLimits};
use switchboard_store::DatabaseUrl;

pub const ADMIN_PASSWORD: &str = "admin password for tests";
pub use switchboard_test_support::{Backend, PgDatabase};

/// Runs `$test(Backend)` once on SQLite and once on PostgreSQL (see
/// `switchboard_test_support::postgres_enabled`).
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        switchboard_test_support::on_both_backends!(async: $($test),*);
    };
}

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    dump: String,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub state: web::Data<AppState>,
    storage: StorageConfig,
    config: Config,
    pub database: DatabaseUrl,
    _dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
    server_thread: Option<std::thread::JoinHandle<()>>,
    // Dropped last: after the server and its pool are gone.
    pg: Option<PgDatabase>,
}

pub fn test_config(dir: &std::path::Path, database: DatabaseUrl) -> Config {
    Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        storage: StorageConfig {
            data_dir: dir.to_owned(),
            database,
            master_key: None,
            previous_master_keys: Vec::new(),
            db_pool_size: 4,
        },
        session_secret: None,
        session_ttl: Duration::from_secs(600),
        admin_password: Some(SecretString::from(ADMIN_PASSWORD)),
        workers: Some(2),
        web_dir: None,
        // Fast hashes keep the suite quick; production uses config::PASSWORD_ITERATIONS.
        password_iterations: 1_000,
        // Waits long enough that no test sees one pass by itself.
        login_limits: LoginLimits {
            per_user_and_address: 3,
            per_address: 10,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(600),
        },
        trusted_proxies: TrustedProxies::default(),
        // Tests poll logs and trigger runs faster than people; `attacks.rs` sets limits.
        user_limits: UserLimits {
            triggers_per_minute: 0,
            syncs_per_minute: 0,
            tests_per_minute: 0,
            log_reads_per_minute: 0,
        },
        // Tests reach tools on 127.0.0.1 only: any host name fails like NXDOMAIN, without
        // asking real DNS; short bounds keep failing checks quick.
        outbound: OutboundConfig {
            policy: OutboundPolicy {
                connect_timeout: Duration::from_secs(2),
                // Generous for a real Buildbot master on a loaded 2-core machine; nothing
                // waits for it but a tool that never answers, which no test uses.
                total_timeout: Duration::from_secs(15),
                ..OutboundPolicy::default()
            },
            resolver: Some(Arc::new(StaticResolver::new())),
        },
        background: BackgroundConfig {
            check_interval: Duration::from_secs(3600),
            // A tool slowed down by a loaded machine fails a check or discovery now and then:
            // the retry comes a second later, not after the interval.
            check_retry: Duration::from_secs(1),
            run_poll_min: Duration::from_millis(100),
            run_poll_max: Duration::from_millis(300),
            monitor_concurrency: 8,
            // Runs that finished long ago are purged within a second or two.
            run_retention: Some(Duration::from_secs(90 * 24 * 3600)),
            purge_interval: Duration::from_secs(1),
        },
        trigger_fault: None,
        // The suites of the integrations API test it applying directly; `approvals.rs`
        // starts its apps with approval on.
        approval_at_first_start: false,
    }
}

/// A server on a free loopback port, on a thread of its own so that stopping it can wait
/// until it has released its database connections.
struct Launched {
    base: String,
    state: web::Data<AppState>,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

fn launch(config: Config) -> Launched {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (ready, started) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let started =
                switchboard_server::startup::start(&config, listener).expect("server starts");
            let _ = ready.send((started.server.handle(), started.state.clone()));
            let _ = started.server.await;
        });
    });
    let (handle, state) = started.recv().expect("server started");
    Launched {
        base,
        state,
        handle,
        thread,
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with `configure` changing the configuration first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (pg, database) = match backend {
            Backend::Sqlite => (None, DatabaseUrl::Sqlite(dir.path().join("switchboard.db"))),
            Backend::Postgres => {
                let pg = PgDatabase::create("switchboard_test");
                let url = pg.url().to_owned();
                (Some(pg), DatabaseUrl::Postgres(url))
            }
        };
        let mut config = test_config(dir.path(), database.clone());
        configure(&mut config);
        let storage = config.storage.clone();
        let launched = launch(config.clone());
        let client = switchboard_test_support::http_client()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut app = Self {
            base: launched.base,
            client,
            admin_token: String::new(),
            state: launched.state,
            storage,
            config,
            database,
            _dir: dir,
            handle: launched.handle,
            server_thread: Some(launched.thread),
            pg,
        };
        app.admin_token = app.login("admin", ADMIN_PASSWORD).await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let response = self
            .post_json(
                "/api/v1/auth/login",
                None,
                &json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login as {username}");
        let body: Value = response.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        self.request(Method::POST, path, token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        self.request(Method::PATCH, path, token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.request(Method::GET, path, token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path, Some(&self.admin_token)).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    /// Creates an integration as admin and returns its body.
    pub async fn create(&self, body: &Value) -> Value {
        let response = self
            .post_json("/api/v1/integrations", Some(&self.admin_token), body)
            .await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::CREATED, "{text}");
        serde_json::from_str(&text).expect("json")
    }

    /// Adds a user with `role` and returns a session token for them.
    pub async fn user_token(&self, username: &str, role: &str) -> String {
        let password = format!("{username} password 123");
        let response = self
            .post_json(
                "/api/v1/users",
                Some(&self.admin_token),
                &json!({"username": username, "password": password, "role": role}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        self.login(username, &password).await
    }

    /// Everything stored, as text: the raw database files on SQLite, every row on PostgreSQL.
    pub fn raw_database(&self) -> Vec<u8> {
        match &self.database {
            DatabaseUrl::Sqlite(path) => {
                let mut bytes = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let file = format!("{}{suffix}", path.display());
                    bytes.extend(std::fs::read(&file).unwrap_or_default());
                }
                bytes
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url).expect("connect");
                let mut text = String::new();
                for table in [
                    "users",
                    "tool_settings",
                    "integrations",
                    "integration_credentials",
                    "change_requests",
                    "change_request_events",
                    "api_tokens",
                    "revoked_sessions",
                ] {
                    let dump: Vec<Dump> = diesel::sql_query(format!(
                        "SELECT coalesce(string_agg(t::text, '\n'), '') AS dump FROM {table} t"
                    ))
                    .load(&mut conn)
                    .expect("dump");
                    text.extend(dump.into_iter().map(|d| d.dump));
                }
                text.into_bytes()
            }
        }
    }

    /// Runs raw SQL against the test database (for tampering in tests).
    pub fn execute_sql(&self, sql: &str) -> usize {
        match &self.database {
            DatabaseUrl::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(&path.to_string_lossy()).expect("connect");
                diesel::sql_query(sql).execute(&mut conn).expect("sql")
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url).expect("connect");
                diesel::sql_query(sql).execute(&mut conn).expect("sql")
            }
        }
    }

    pub fn store(&self) -> Arc<switchboard_store::Store> {
        self.state.store.clone()
    }

    /// Drops the PostgreSQL database under the running server.
    pub fn drop_database(&mut self) {
        if let Some(pg) = self.pg.take() {
            drop(pg);
        }
    }

    /// A second server on the same database and keys, as another replica would be.
    pub fn replica(&self) -> Replica {
        let launched = launch(self.config.clone());
        Replica {
            base: launched.base,
            handle: launched.handle,
            thread: Some(launched.thread),
        }
    }

    /// A second store on the same database and keys, as another replica would have.
    pub fn other_replica(&self) -> Arc<switchboard_store::Store> {
        switchboard_server::startup::open_store(&self.storage, false).expect("second store")
    }
}

impl TestApp {
    fn stop(&mut self) {
        // The stop command is sent at once; joining waits until the server has shut down.
        drop(self.handle.stop(false));
        if let Some(thread) = self.server_thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops the server and starts a new one on the same database and keys (on another
    /// port), as an upgrade or a crash-and-restart would. Sessions stay valid.
    pub fn restart(&mut self) {
        self.restart_with(|_| {});
    }

    /// Like [`TestApp::restart`], with `configure` changing the configuration first.
    pub fn restart_with(&mut self, configure: impl FnOnce(&mut Config)) {
        configure(&mut self.config);
        self.stop();
        let launched = launch(self.config.clone());
        self.base = launched.base;
        self.state = launched.state;
        self.handle = launched.handle;
        self.server_thread = Some(launched.thread);
    }
}

/// Another server on a [`TestApp`]'s database, stopped when dropped.
pub struct Replica {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A valid Jenkins integration body.
pub fn jenkins(name: &str) -> Value {
    json!({
        "name": name,
        "tool": "jenkins",
        "urls": {"apiUrl": "https://jenkins.example.com/"},
        "credentials": {"username": "alice", "apiToken": "jenkins-token-0123456789"}
    })
}

/// Reads a problem response, checking its media type and shape.
pub async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type {content_type:?}"
    );
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], json!(status.as_u16()));
    for key in ["type", "title", "detail", "code"] {
        assert!(body[key].is_string(), "problem lacks {key}: {body}");
    }
    body
}

/// The fields named in a validation problem.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Generous: it only keeps a broken test from hanging; nothing asserts durations.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `probe` until it returns `Some`, failing the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
