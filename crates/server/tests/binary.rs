//! The `switchboard` binary as an operator runs it: first start, logs, shutdown and the
//! administrative commands.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");
const SECRET: &str = "binary-test-token-9d8c7b6a";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn switchboard(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SWITCHBOARD_DATA_DIR", data_dir);
    command
}

struct Server {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    base: String,
}

impl Server {
    fn start(data_dir: &Path) -> Self {
        // As one person trying it out would start it: integrations apply directly (the
        // approval rules have their own suite, tests/api/approvals.rs).
        Self::start_with(data_dir, "off")
    }

    /// Started with `SWITCHBOARD_APPROVAL` set to `approval` (`on` or `off`).
    fn start_with(data_dir: &Path, approval: &str) -> Self {
        let port = free_port();
        let mut child = switchboard(data_dir)
            .env("SWITCHBOARD_BIND", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_LOG_FORMAT", "json")
            // Integrations saved here are checked at once: keep that on loopback.
            .env("SWITCHBOARD_OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
            .env("SWITCHBOARD_APPROVAL", approval)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().expect("lock").push(line);
            }
        });
        Self {
            child,
            stderr,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if client
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server not ready: {:?}", self.log());
    }

    fn log(&self) -> Vec<String> {
        self.stderr.lock().expect("lock").clone()
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login")
}

/// The first administrator's password, as the first start printed it.
fn printed_password(server: &Server) -> String {
    server
        .log()
        .iter()
        .find(|line| line.contains("password:"))
        .expect("the first password is printed")
        .split_whitespace()
        .last()
        .expect("password")
        .to_owned()
}

/// While approval is on, a change request's secrets go through opening, a revision, a dry
/// run, a malformed change and withdrawal without reaching a log line or an error.
#[tokio::test]
async fn a_change_requests_secrets_never_reach_a_log_line_or_an_error() {
    const FIRST: &str = "first-request-token-5e4d3c2b1a";
    const SECOND: &str = "second-request-token-0f9e8d7c6b";
    const MALFORMED: &str = "malformed-request-token-a1b2c3d4";
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir.path(), "on");
    let client = switchboard_test_support::http_client()
        .build()
        .expect("client");
    server.wait_ready(&client).await;
    let admin: Value = login(&client, &server.base, "admin", &printed_password(&server))
        .await
        .json()
        .await
        .expect("json");
    let admin = admin["access_token"].as_str().expect("token").to_owned();
    let made = client
        .post(format!("{}/api/v1/users", server.base))
        .bearer_auth(&admin)
        .json(&json!({"username": "otto", "password": "otto password 123", "role": "operator"}))
        .send()
        .await
        .expect("user");
    assert_eq!(made.status(), 201);
    let otto: Value = login(&client, &server.base, "otto", "otto password 123")
        .await
        .json()
        .await
        .expect("json");
    let otto = otto["access_token"].as_str().expect("token").to_owned();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{}{path}", server.base))
            .bearer_auth(&otto)
            .json(&body)
            .send()
    };
    let opened = call(
        reqwest::Method::POST,
        "/api/v1/integrations",
        json!({"name": "CI", "tool": "jenkins", "urls": {"apiUrl": "http://127.0.0.1:9/"},
            "credentials": {"username": "alice", "apiToken": FIRST}, "business_need": "Payments."}),
    )
    .await
    .expect("open");
    assert_eq!(opened.status(), 202);
    let request: Value = opened.json().await.expect("json");
    let path = format!(
        "/api/v1/change-requests/{}",
        request["id"].as_str().expect("id")
    );
    let revised = call(
        reqwest::Method::PATCH,
        &path,
        json!({"change": {"name": "CI", "tool": "jenkins", "urls": {"apiUrl": "http://127.0.0.1:9/"},
            "credentials": {"username": "alice", "apiToken": SECOND}}}),
    )
    .await
    .expect("revise");
    assert_eq!(revised.status(), 200);
    let dry_run = call(reqwest::Method::POST, &format!("{path}/dry-run"), json!({}))
        .await
        .expect("dry run");
    assert_eq!(dry_run.status(), 200);
    let malformed = call(
        reqwest::Method::POST,
        "/api/v1/change-requests",
        json!({"kind": "create_integration", "business_need": "x",
            "change": {"name": "CI 2", "tool": "jenkins", "urls": MALFORMED}}),
    )
    .await
    .expect("malformed");
    assert_eq!(malformed.status(), 422);
    let refused = malformed.text().await.expect("body");
    assert!(
        !refused.contains(MALFORMED),
        "the error repeats a value: {refused}"
    );
    let withdrawn = call(
        reqwest::Method::POST,
        &format!("{path}/withdraw"),
        json!({}),
    )
    .await
    .expect("withdraw");
    assert_eq!(withdrawn.status(), 200);
    let log = server.log();
    assert!(server.terminate().success());
    assert!(
        log.iter()
            .any(|line| line.contains("change request opened"))
    );
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        stored.extend(
            std::fs::read(dir.path().join(format!("switchboard.db{suffix}"))).unwrap_or_default(),
        );
    }
    for secret in [FIRST, SECOND, MALFORMED] {
        for line in &log {
            assert!(!line.contains(secret), "a log line holds {secret}: {line}");
        }
        assert!(
            !stored
                .windows(secret.len())
                .any(|window| window == secret.as_bytes()),
            "the database file holds {secret}"
        );
    }
}

/// API tokens, personal and a service account's, from creation through use, a refused scope,
/// a typo, revocation and signing out, never reach a log line or the database file.
#[tokio::test]
async fn api_tokens_never_reach_a_log_line_or_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let client = switchboard_test_support::http_client()
        .build()
        .expect("client");
    server.wait_ready(&client).await;
    let admin: Value = login(&client, &server.base, "admin", &printed_password(&server))
        .await
        .json()
        .await
        .expect("json");
    let admin = admin["access_token"].as_str().expect("token").to_owned();
    let post = |path: String, token: String, body: Value| {
        client
            .post(format!("{}{path}", server.base))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let personal: Value = post(
        "/api/v1/tokens".into(),
        admin.clone(),
        json!({"name": "script", "scopes": ["read"]}),
    )
    .await
    .expect("token")
    .json()
    .await
    .expect("json");
    let account: Value = post(
        "/api/v1/service-accounts".into(),
        admin.clone(),
        json!({"name": "deploy-job", "role": "operator"}),
    )
    .await
    .expect("account")
    .json()
    .await
    .expect("json");
    let account_token: Value = post(
        format!(
            "/api/v1/service-accounts/{}/tokens",
            account["id"].as_str().expect("id")
        ),
        admin.clone(),
        json!({"name": "ci", "scopes": ["read", "trigger"]}),
    )
    .await
    .expect("token")
    .json()
    .await
    .expect("json");
    let tokens: Vec<String> = [&personal, &account_token]
        .iter()
        .map(|made| made["token"].as_str().expect("value").to_owned())
        .collect();
    for token in &tokens {
        let me = client
            .get(format!("{}/api/v1/auth/me", server.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("me");
        assert_eq!(me.status(), 200);
        let refused = post("/api/v1/users".into(), token.clone(), json!({}))
            .await
            .expect("refused");
        assert_eq!(refused.status(), 403);
        let typo = format!("{}x", &token[..token.len() - 1]);
        let typo = client
            .get(format!("{}/api/v1/auth/me", server.base))
            .bearer_auth(&typo)
            .send()
            .await
            .expect("typo");
        assert_eq!(typo.status(), 401);
        let out = post("/api/v1/auth/logout".into(), token.clone(), json!({}))
            .await
            .expect("logout");
        assert_eq!(out.status(), 204);
        let revoked = client
            .get(format!("{}/api/v1/auth/me", server.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("revoked");
        assert_eq!(revoked.status(), 401);
    }
    let log = server.log();
    assert!(server.terminate().success());
    assert!(
        log.iter().any(|line| line.contains("API token created")),
        "{log:?}"
    );
    // The audit log recorded all of it in an unbroken chain, and says so at the command line.
    let verify = switchboard(dir.path())
        .args(["audit", "verify"])
        .output()
        .expect("audit verify");
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(said.contains("the audit log holds"), "{said}");
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        stored.extend(
            std::fs::read(dir.path().join(format!("switchboard.db{suffix}"))).unwrap_or_default(),
        );
    }
    for token in &tokens {
        // The random part alone: a log line or a row must not hold even that.
        let random = &token[4..44];
        for line in &log {
            assert!(!line.contains(random), "a log line holds a token: {line}");
        }
        assert!(
            !stored
                .windows(random.len())
                .any(|window| window == random.as_bytes()),
            "the database file holds a token"
        );
    }
}

#[tokio::test]
async fn first_start_prints_the_password_logs_json_keeps_secrets_out_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let client = switchboard_test_support::http_client()
        .build()
        .expect("client");
    server.wait_ready(&client).await;

    let log = server.log();
    let password_line = log
        .iter()
        .find(|line| line.contains("password:"))
        .expect("the first password is printed");
    let password = password_line
        .split_whitespace()
        .last()
        .expect("password")
        .to_owned();
    assert!(password.len() >= 20);
    assert!(
        log.iter().any(|line| line.contains("approval is off")),
        "an installation started with approval off says so"
    );
    let session: Value = login(&client, &server.base, "admin", &password)
        .await
        .json()
        .await
        .expect("json");
    let token = session["access_token"].as_str().expect("token").to_owned();

    let created = client
        .post(format!("{}/api/v1/integrations", server.base))
        .bearer_auth(&token)
        .header("x-request-id", "req-create-1")
        .json(&json!({"name": "Jenkins", "tool": "jenkins", "urls": {"apiUrl": "https://jenkins.example.com/"},
            "credentials": {"username": "alice", "apiToken": SECRET}}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let bad = client
        .post(format!("{}/api/v1/integrations", server.base))
        .bearer_auth(&token)
        .json(&json!({"name": "", "tool": "jenkins", "credentials": {"apiToken": SECRET}}))
        .send()
        .await
        .expect("create");
    assert_eq!(bad.status(), 422);
    let wrong = login(&client, &server.base, "admin", SECRET).await;
    assert_eq!(wrong.status(), 401);

    let lines = server.stderr.clone();
    let status = server.terminate();
    assert!(status.success(), "graceful exit: {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let log = lines.lock().expect("lock").clone();

    for line in &log {
        assert!(!line.contains(SECRET), "a log line holds a secret: {line}");
    }
    let requests: Vec<Value> = log
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["message"] == "request")
        .collect();
    let create = requests
        .iter()
        .find(|entry| entry["request_id"] == "req-create-1")
        .expect("the create request is logged with its id");
    assert_eq!(create["method"], "POST");
    assert_eq!(create["route"], "/api/v1/integrations");
    assert_eq!(create["status"], 201);
    assert_eq!(create["user"], "admin");
    assert!(create["duration_ms"].is_number());
    assert!(requests.iter().all(|entry| {
        entry["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    }));
    assert!(log.iter().any(|line| line.contains("stopped")), "{log:?}");

    // The second start creates no new administrator and prints no password.
    let again = Server::start(dir.path());
    again.wait_ready(&client).await;
    assert_eq!(
        login(&client, &again.base, "admin", &password)
            .await
            .status(),
        200
    );
    assert!(!again.log().iter().any(|line| line.contains("password:")));
}

#[test]
fn the_openapi_command_prints_the_committed_document() {
    let output = Command::new(BINARY).arg("openapi").output().expect("run");
    assert!(output.status.success());
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../api-spec/openapi.json"
    ))
    .expect("committed spec");
    assert!(
        output.stdout == committed,
        "api-spec/openapi.json is stale: run `just spec`"
    );
}

#[test]
fn invalid_configuration_is_refused_with_what_to_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = switchboard(dir.path())
        .env("SWITCHBOARD_DATABASE_URL", "mysql://db/switchboard")
        .env("SWITCHBOARD_MASTER_KEY", "too-short")
        .env("SWITCHBOARD_BIND", "everywhere")
        .env("SWITCHBOARD_WEB_DIR", dir.path())
        .arg("serve")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "SWITCHBOARD_DATABASE_URL",
        "mysql",
        "SWITCHBOARD_MASTER_KEY",
        "SWITCHBOARD_BIND",
        "SWITCHBOARD_WEB_DIR",
        "has no index.html",
    ] {
        assert!(
            message.contains(expected),
            "{expected} missing from {message}"
        );
    }
    assert!(
        !message.contains("too-short"),
        "the key value is not echoed"
    );
}

#[tokio::test]
async fn user_add_migrate_and_rotate_key_work_on_the_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let migrate = switchboard(dir.path())
        .arg("migrate")
        .output()
        .expect("migrate");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let applied = String::from_utf8_lossy(&migrate.stdout).to_string();
    assert!(
        applied.starts_with("sqlite database: ") && !applied.contains(" 0 migration"),
        "{applied}"
    );
    let again = switchboard(dir.path())
        .arg("migrate")
        .output()
        .expect("migrate");
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "sqlite database: 0 migration(s) applied"
    );

    let mut add = switchboard(dir.path())
        .args([
            "user",
            "add",
            "Bob",
            "--role",
            "operator",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"bob's password 1\n")
        .expect("write");
    let added = add.wait_with_output().expect("wait");
    assert!(added.status.success());
    assert_eq!(
        String::from_utf8_lossy(&added.stdout).trim(),
        "created bob (operator)"
    );
    let duplicate = switchboard(dir.path())
        .args(["user", "add", "bob"])
        .output()
        .expect("run");
    assert!(
        !duplicate.status.success()
            && String::from_utf8_lossy(&duplicate.stderr)
                .contains(r#"the user name "bob" is taken"#)
    );
    let bad_role = switchboard(dir.path())
        .args(["user", "add", "x", "--role", "root"])
        .output()
        .expect("run");
    assert!(!bad_role.status.success());

    // bob exists, so the server creates no admin; add one to write an integration.
    let admin = switchboard(dir.path())
        .args(["user", "add", "root", "--role", "admin"])
        .output()
        .expect("run");
    let admin_out = String::from_utf8_lossy(&admin.stdout).to_string();
    let admin_password = admin_out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("generated password")
        .to_owned();

    let server = Server::start(dir.path());
    let client = switchboard_test_support::http_client()
        .build()
        .expect("client");
    server.wait_ready(&client).await;
    assert_eq!(
        login(&client, &server.base, "bob", "bob's password 1")
            .await
            .status(),
        200
    );
    let session: Value = login(&client, &server.base, "root", &admin_password)
        .await
        .json()
        .await
        .expect("json");
    let token = session["access_token"].as_str().expect("token");
    let created = client
        .post(format!("{}/api/v1/integrations", server.base))
        .bearer_auth(token)
        .json(&json!({"name": "Jenkins", "tool": "jenkins", "urls": {"apiUrl": "https://j.example.com/"},
            "credentials": {"username": "alice", "apiToken": SECRET}}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);

    // Rotation while the server runs: it re-seals in one transaction; the running server
    // picks the new key up from the key file when it meets a value sealed with it.
    let key_file = dir.path().join("master.key");
    let keys_before = std::fs::read_to_string(&key_file).expect("key file");
    let rotated = switchboard(dir.path())
        .arg("rotate-key")
        .output()
        .expect("rotate");
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let rotated_out = String::from_utf8_lossy(&rotated.stdout);
    assert!(
        rotated_out.contains("re-sealed 1 credential value(s)"),
        "{rotated_out}"
    );
    let keys_after = std::fs::read_to_string(&key_file).expect("key file");
    assert_ne!(keys_before, keys_after);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file)
                .expect("meta")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    // A second rotation must open every value the first one sealed.
    let again = switchboard(dir.path())
        .arg("rotate-key")
        .output()
        .expect("rotate");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("re-sealed 1"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(server.terminate().success());
}

#[test]
fn integration_add_registers_an_integration_with_its_secret_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let add = |name: &str, url: &str| {
        switchboard(dir.path())
            .env("SWITCHBOARD_CREDENTIAL_APITOKEN", SECRET)
            .args([
                "integration",
                "add",
                "--name",
                name,
                "--tool",
                "jenkins",
                "--url",
                &format!("apiUrl={url}"),
                "--credential",
                "username=alice",
            ])
            .output()
            .expect("integration add")
    };
    let added = add("CI", "http://127.0.0.1:9/");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(String::from_utf8_lossy(&added.stdout).starts_with("created integration CI ("));

    let duplicate = add("ci", "http://127.0.0.1:9/");
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let invalid = add("Other", "ftp://127.0.0.1/");
    assert!(!invalid.status.success());
    let message = String::from_utf8_lossy(&invalid.stderr).to_string();
    assert!(message.contains("urls.apiUrl"), "{message}");

    // The secret went in sealed: it is nowhere in the database file in plaintext.
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        stored.extend(
            std::fs::read(dir.path().join(format!("switchboard.db{suffix}"))).unwrap_or_default(),
        );
    }
    assert!(
        !stored
            .windows(SECRET.len())
            .any(|window| window == SECRET.as_bytes())
    );
}

/// The command line runs the same use cases as the API: for the same bad input it prints the
/// problem's detail and field errors the API answers.
#[tokio::test]
async fn the_command_line_and_the_api_refuse_bad_input_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = switchboard(dir.path())
        .args(["user", "add", "root", "--role", "admin"])
        .output()
        .expect("run");
    let admin_out = String::from_utf8_lossy(&admin.stdout).to_string();
    let password = admin_out
        .lines()
        .find_map(|line| line.strip_prefix("password: "))
        .expect("generated password")
        .to_owned();
    let cli_add = |body: &Value| {
        let mut command = switchboard(dir.path());
        command.args([
            "integration",
            "add",
            "--name",
            body["name"].as_str().expect("name"),
            "--tool",
            body["tool"].as_str().expect("tool"),
        ]);
        for (key, url) in body["urls"].as_object().expect("urls") {
            command.args(["--url", &format!("{key}={}", url.as_str().expect("url"))]);
        }
        for (key, value) in body["credentials"].as_object().expect("credentials") {
            command.args([
                "--credential",
                &format!("{key}={}", value.as_str().expect("value")),
            ]);
        }
        command.output().expect("integration add")
    };
    let good = json!({
        "name": "CI",
        "tool": "jenkins",
        "urls": {"apiUrl": "http://127.0.0.1:9/"},
        "credentials": {"username": "alice", "apiToken": SECRET}
    });
    assert!(cli_add(&good).status.success());

    let server = Server::start(dir.path());
    let client = switchboard_test_support::http_client()
        .build()
        .expect("client");
    server.wait_ready(&client).await;
    let session: Value = login(&client, &server.base, "root", &password)
        .await
        .json()
        .await
        .expect("json");
    let token = session["access_token"].as_str().expect("token").to_owned();

    let mut bad_inputs = Vec::new();
    let mut duplicate = good.clone();
    duplicate["name"] = json!("ci");
    bad_inputs.push(duplicate);
    let mut wrong_url = good.clone();
    wrong_url["name"] = json!("Other");
    wrong_url["urls"] = json!({"apiUrl": "ftp://127.0.0.1/"});
    bad_inputs.push(wrong_url);
    let mut unapproved = good.clone();
    unapproved["name"] = json!("Third");
    unapproved["tool"] = json!("gitlab");
    bad_inputs.push(unapproved);

    for body in &bad_inputs {
        let answer = client
            .post(format!("{}/api/v1/integrations", server.base))
            .bearer_auth(&token)
            .json(body)
            .send()
            .await
            .expect("create");
        assert!(answer.status().is_client_error(), "{body}");
        let problem: Value = answer.json().await.expect("problem");
        let detail = problem["detail"].as_str().expect("detail");

        let cli = cli_add(body);
        assert!(!cli.status.success(), "{body}");
        let printed = String::from_utf8_lossy(&cli.stderr).to_string();
        assert!(
            printed.contains(detail),
            "{body}: CLI {printed:?}, API {problem}"
        );
        for error in problem["errors"].as_array().cloned().unwrap_or_default() {
            let line = format!(
                "{}: {}",
                error["field"].as_str().expect("field"),
                error["message"].as_str().expect("message")
            );
            assert!(
                printed.contains(&line),
                "{body}: CLI {printed:?} lacks {line:?}"
            );
        }
    }
    assert!(server.terminate().success());
}
