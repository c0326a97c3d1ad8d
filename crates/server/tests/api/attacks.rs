//! Attacks from outside, each held off: what a hostile client or a careless administrator
//! tries against a running server. The next capability is held to these too.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contract::tools::jenkins::{ADMIN_TOKEN, PIPELINES, sim_config};
use crate::helpers::{ADMIN_PASSWORD, Backend, TestApp, jenkins, problem};
use crate::on_both_backends;

on_both_backends!(
    made_up_methods_do_not_grow_the_metrics,
    api_answers_are_not_cached_or_sniffed,
    names_that_impersonate_are_refused,
    the_docs_ui_has_a_content_security_policy,
    a_stored_secret_never_follows_a_changed_url,
    links_from_a_tool_stay_on_the_integrations_origins,
    password_parameters_and_secrets_are_masked_in_served_logs,
    nobody_elsewhere_can_lock_a_user_out,
    a_forwarded_address_counts_only_behind_a_trusted_proxy,
    one_user_cannot_make_the_server_work_without_end,
);

/// A Jenkins simulator run with `config`, and a connected integration of it (its id).
async fn connected_jenkins(
    app: &TestApp,
    config: jenkins_sim::Config,
) -> (jenkins_sim::Running, String) {
    let sim = jenkins_sim::start(config, "127.0.0.1:0", "/jenkins")
        .await
        .expect("simulator starts");
    let mut body = jenkins("Jenkins");
    body["urls"] = json!({"apiUrl": sim.url});
    body["credentials"] = json!({"username": "admin", "apiToken": ADMIN_TOKEN});
    let created = app.create(&body).await;
    assert_eq!(created["status"], "connected", "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    (sim, id)
}

/// The id of integration `id`'s pipeline at `path`, once discovered.
async fn pipeline_at(app: &TestApp, id: &str, path: &str) -> String {
    let pipelines = app
        .get_json(&format!("/api/v1/pipelines?limit=200&integration_id={id}"))
        .await;
    pipelines["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["full_path"] == path))
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("no pipeline {path}: {pipelines}"))
        .to_owned()
}

/// A listener on loopback that keeps the head of every request it gets and answers 401.
struct Recorder {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = heads.clone();
        // The thread ends with the test binary; it holds nothing but the socket.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                kept.lock()
                    .expect("heads")
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Self { url, heads }
    }

    fn heads(&self) -> String {
        self.heads.lock().expect("heads").join("\n")
    }
}

/// How a Jenkins user name and token travel: HTTP Basic.
fn basic(username: &str, token: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{token}"))
}

/// A stored secret is only ever sent to the origin it was entered for: a draft test or a
/// save that points an integration elsewhere must carry the secrets again.
async fn a_stored_secret_never_follows_a_changed_url(backend: Backend) {
    const STORED: &str = "jenkins-token-0123456789";
    const FRESH: &str = "entered-again-for-the-new-host";
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let created = app.create(&jenkins("Jenkins")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/integrations/{id}");
    let elsewhere = Recorder::start();
    let reenter = |refused: &Value| {
        assert_eq!(
            refused["errors"][0]["field"], "credentials.apiToken",
            "{refused}"
        );
        assert_eq!(refused["errors"][0]["code"], "reenter_secret", "{refused}");
    };

    // The draft test with the saved integration's id and another host.
    let draft = json!({"id": id, "tool": "jenkins", "urls": {"apiUrl": elsewhere.url}});
    let refused = problem(
        app.post_json("/api/v1/integrations/test", token, &draft)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    reenter(&refused);

    // The save that moves it without the secret changes nothing.
    let moved = json!({"urls": {"apiUrl": elsewhere.url}});
    let refused = problem(
        app.patch_json(&path, token, &moved).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    reenter(&refused);
    let unchanged = app.get_json(&path).await;
    assert_eq!(unchanged["version"], created["version"]);
    assert_eq!(unchanged["urls"], created["urls"]);
    assert_eq!(elsewhere.heads(), "", "nothing was sent there yet");

    // Entered again, the new secret goes there, and only it.
    let mut draft = draft;
    draft["credentials"] = json!({"apiToken": FRESH});
    let answer = app
        .post_json("/api/v1/integrations/test", token, &draft)
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let mut moved = moved;
    moved["credentials"] = json!({"apiToken": FRESH});
    let answer = app.patch_json(&path, token, &moved).await;
    assert_eq!(answer.status(), StatusCode::OK);
    // A new path on the same origin keeps the (new) stored secret.
    let same_origin = json!({"urls": {"apiUrl": format!("{}jenkins/", elsewhere.url)}});
    let answer = app.patch_json(&path, token, &same_origin).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let seen = elsewhere.heads();
    assert!(
        seen.matches(&basic("alice", FRESH)).count() >= 3,
        "the test, the check after the move and after the path change: {seen}"
    );
    assert!(
        !seen.contains(STORED) && !seen.contains(&basic("alice", STORED)),
        "{seen}"
    );
}

/// Every made-up method a client sends would otherwise become a series of its own in
/// `/metrics`, growing memory without bound: they share one label.
async fn made_up_methods_do_not_grow_the_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let send = |from: usize, to: usize| {
        let app = &app;
        async move {
            for n in from..to {
                let method = Method::from_bytes(format!("MADEUP{n}").as_bytes()).expect("method");
                app.request(method, "/api/v1/integrations", None)
                    .send()
                    .await
                    .expect("answered");
            }
        }
    };
    let metrics = || async {
        app.get("/metrics", None)
            .await
            .text()
            .await
            .expect("metrics")
    };
    // The first of each kind creates its series (the route's, /metrics' own).
    send(0, 5).await;
    metrics().await;
    let before = metrics().await;
    send(5, 305).await;
    let after = metrics().await;
    assert!(!after.contains("MADEUP"), "{after}");
    assert!(after.contains(r#"method="OTHER""#), "{after}");
    // Only counters went up (a few more digits); no series was added.
    assert_eq!(
        before.lines().count(),
        after.lines().count(),
        "{before}\n---\n{after}"
    );
    assert!(
        after.len() < before.len() + 100,
        "{} bytes before, {} after",
        before.len(),
        after.len()
    );
}

/// API answers (also errors, also unauthenticated ones) say `no-store` and `nosniff`.
async fn api_answers_are_not_cached_or_sniffed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (path, token) in [
        ("/api/v1/integrations", Some(app.admin_token.as_str())),
        ("/api/v1/integrations", None),
        ("/api/v1/no-such-thing", Some(app.admin_token.as_str())),
        ("/api/openapi.json", None),
        ("/readyz", None),
    ] {
        let answer = app.get(path, token).await;
        let headers = answer.headers();
        assert_eq!(
            headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{path} ({})",
            answer.status()
        );
        assert_eq!(
            headers
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{path}"
        );
    }
}

/// The docs UI carries a content security policy and refuses to be framed (the browser test
/// `12-api-docs` shows it still renders under it).
async fn the_docs_ui_has_a_content_security_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/api/docs/", "/api/docs/swagger-initializer.js"] {
        let answer = app.get(path, None).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let policy = header("content-security-policy");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
}

/// Integration names cannot hide characters that make one look like another (a
/// right-to-left override, a zero-width space); user names are plain ASCII.
async fn names_that_impersonate_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    app.create(&jenkins("Jenkins production")).await;
    for sneaky in [
        "Jenkins\u{200B} production",
        "Jenkins \u{202E}noitcudorp",
        "\u{2066}Jenkins production\u{2069}",
    ] {
        let refused = problem(
            app.post_json("/api/v1/integrations", token, &jenkins(sneaky))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], "name", "{refused}");
        assert_eq!(refused["errors"][0]["code"], "invalid_format", "{refused}");
    }
    let user = problem(
        app.post_json(
            "/api/v1/users",
            token,
            &json!({"username": "adm\u{200B}in", "password": "a-long-enough-password", "role": "viewer"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(user["errors"][0]["field"], "username", "{user}");
    let listed = app.get_json("/api/v1/integrations").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}

/// A job's or build's `url` comes from the tool; it is shown only on the integration's own
/// origins (a Jenkins whose root URL points elsewhere gets no links until that origin is one
/// of the integration's URLs).
async fn links_from_a_tool_stay_on_the_integrations_origins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let mut config = sim_config(50);
    config.root_url = Some("https://jenkins.elsewhere.example/".into());
    let (sim, id) = connected_jenkins(&app, config).await;
    let sync_path = format!("/api/v1/integrations/{id}/sync");
    let listing = format!("/api/v1/pipelines?limit=200&integration_id={id}");
    let sync = || {
        let (app, sync_path, listing) = (&app, &sync_path, &listing);
        async move {
            let answer = app.post_json(sync_path, token, &json!({})).await;
            assert_eq!(answer.status(), StatusCode::OK);
            let listed = app.get_json(listing).await;
            listed["items"].as_array().expect("items").clone()
        }
    };
    let items = sync().await;
    assert_eq!(items.len(), PIPELINES.len());
    for item in &items {
        assert_eq!(item["url"], "", "{item}");
    }

    // The other origin becomes one of the integration's own: its links show.
    // An extra URL is a link for people: it never receives the token, so it needs none.
    let with_web = json!({
        "urls": {"apiUrl": sim.url, "webUrl": "https://jenkins.elsewhere.example/"}
    });
    let answer = app
        .patch_json(&format!("/api/v1/integrations/{id}"), token, &with_web)
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let items = sync().await;
    for item in &items {
        let url = item["url"].as_str().expect("url");
        assert!(
            url.starts_with("https://jenkins.elsewhere.example/job/"),
            "{item}"
        );
    }
}

/// A build that prints its password parameter (and the integration's own token) shows
/// neither to anyone who reads the run's log, also when reads end inside a line.
async fn password_parameters_and_secrets_are_masked_in_served_logs(backend: Backend) {
    const PASSWORD: &str = "hunter2-deploy-passphrase";
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let mut config = sim_config(50);
    let job: jenkins_sim::config::ItemConfig = serde_json::from_value(json!({
        "name": "secret-deploy", "type": "freestyle",
        "parameters": [
            {"type": "password", "name": "DEPLOY_PASSWORD"},
            {"type": "string", "name": "TARGET", "default": "staging"}
        ],
        "build": {"duration_ms": 600, "result": "SUCCESS", "log": [
            "+ deploy --target ${TARGET} --password ${DEPLOY_PASSWORD}",
            format!("+ curl -u admin:{ADMIN_TOKEN} https://artifacts.example/"),
            "done"
        ]}
    }))
    .expect("job");
    config.jobs.push(job);
    let (_sim, id) = connected_jenkins(&app, config).await;
    let answer = app
        .post_json(
            &format!("/api/v1/integrations/{id}/sync"),
            token,
            &json!({}),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let pipeline = pipeline_at(&app, &id, "secret-deploy").await;
    let run: Value = app
        .post_json(
            &format!("/api/v1/pipelines/{pipeline}/runs"),
            token,
            &json!({"parameters": {"DEPLOY_PASSWORD": PASSWORD, "TARGET": "production"}}),
        )
        .await
        .json()
        .await
        .expect("run");
    let run_id = run["id"].as_str().expect("run id").to_owned();

    let viewer = app.user_token("vera", "viewer").await;
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut offset = 0u64;
    let mut log = String::new();
    loop {
        let piece: Value = app
            .request(
                Method::GET,
                &format!("/api/v1/runs/{run_id}/log?offset={offset}"),
                Some(&viewer),
            )
            .send()
            .await
            .expect("log")
            .json()
            .await
            .expect("json");
        let text = piece["text"].as_str().expect("text");
        assert!(
            !text.contains("hunter2") && !text.contains(ADMIN_TOKEN),
            "{text:?}"
        );
        log.push_str(text);
        offset = piece["next_offset"].as_u64().expect("offset");
        if piece["complete"] == true {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "the log never completed: {log:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert!(
        log.contains("+ deploy --target production --password ********\n"),
        "{log:?}"
    );
    assert!(
        log.contains("+ curl -u admin:******** https://artifacts.example/\n"),
        "{log:?}"
    );
    // Every read from an offset the log gave shows the same, masked.
    let again = app
        .get_json(&format!("/api/v1/runs/{run_id}/log?offset=0"))
        .await;
    assert_eq!(again["text"], log.as_str());
    assert_eq!(again["next_offset"], offset);
}

/// Sends `count` sign-ins at once from `client` (with `X-Forwarded-For` when given) and
/// answers their statuses.
async fn sign_ins(
    app: &TestApp,
    client: &reqwest::Client,
    count: usize,
    body: &Value,
    forwarded_for: Option<&str>,
) -> Vec<StatusCode> {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let mut request = client.post(app.url("/api/v1/auth/login")).json(body);
            if let Some(address) = forwarded_for {
                request = request.header("x-forwarded-for", address);
            }
            actix_web::rt::spawn(async move { request.send().await.expect("answered").status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    statuses
}

fn from_address(address: &str) -> reqwest::Client {
    switchboard_test_support::http_client()
        .local_address(Some(address.parse().expect("address")))
        .build()
        .expect("client")
}

/// Wrong passwords for `admin` from another address neither lock the real admin out nor get
/// evaluated beyond the few that are let through: the attempt is counted before the hash.
async fn nobody_elsewhere_can_lock_a_user_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let attacker = from_address("127.0.0.2");
    let wrong = json!({"username": "admin", "password": "not the password"});
    let statuses = sign_ins(&app, &attacker, 40, &wrong, None).await;
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // The tests let 3 failures of one user name from one address through.
    assert_eq!((refused, throttled), (3, 37), "{statuses:?}");
    // The attacker waits, even with the right password …
    let right = json!({"username": "admin", "password": ADMIN_PASSWORD});
    let again = sign_ins(&app, &attacker, 1, &right, None).await;
    assert_eq!(again, [StatusCode::TOO_MANY_REQUESTS]);
    // … while the real admin, from their own address, signs in.
    app.login("admin", ADMIN_PASSWORD).await;
}

/// `X-Forwarded-For` names the client only when the peer is a configured proxy: otherwise a
/// guesser could give every attempt a fresh address.
async fn a_forwarded_address_counts_only_behind_a_trusted_proxy(backend: Backend) {
    let wrong = json!({"username": "admin", "password": "not the password"});
    let right = json!({"username": "admin", "password": ADMIN_PASSWORD});
    let local = from_address("127.0.0.1");

    let direct = TestApp::spawn(backend).await;
    let mut statuses = Vec::new();
    for n in 0..4 {
        let address = format!("203.0.113.{n}");
        statuses.extend(sign_ins(&direct, &local, 1, &wrong, Some(&address)).await);
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    drop(direct);

    let proxied = TestApp::spawn_with(backend, |config| {
        config.trusted_proxies =
            switchboard_server::rate_limit::TrustedProxies::parse("127.0.0.1").expect("proxies");
    })
    .await;
    let attacker = sign_ins(&proxied, &local, 8, &wrong, Some("203.0.113.9")).await;
    assert!(
        attacker.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{attacker:?}"
    );
    let user = sign_ins(&proxied, &local, 1, &right, Some("198.51.100.7")).await;
    assert_eq!(user, [StatusCode::OK]);
}

/// Triggers, syncs, connection tests and log reads cost the server and the tool work: each
/// has a per-user allowance, answered past it with 429 and `Retry-After`.
async fn one_user_cannot_make_the_server_work_without_end(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.user_limits = switchboard_server::rate_limit::UserLimits {
            triggers_per_minute: 2,
            syncs_per_minute: 1,
            tests_per_minute: 1,
            log_reads_per_minute: 3,
        };
    })
    .await;
    let token = Some(app.admin_token.as_str());
    let (sim, id) = connected_jenkins(&app, sim_config(50)).await;
    let limited = |answer: reqwest::Response, what: &'static str| async move {
        let retry_after: u64 = answer
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{what}: no Retry-After"));
        assert!((1..=60).contains(&retry_after), "{what}: {retry_after}");
        let refused = problem(answer, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(refused["code"], "rate_limited", "{what}: {refused}");
    };

    let sync = format!("/api/v1/integrations/{id}/sync");
    assert_eq!(
        app.post_json(&sync, token, &json!({})).await.status(),
        StatusCode::OK
    );
    limited(app.post_json(&sync, token, &json!({})).await, "sync").await;

    let test = format!("/api/v1/integrations/{id}/test");
    assert_eq!(
        app.post_json(&test, token, &json!({})).await.status(),
        StatusCode::OK
    );
    limited(app.post_json(&test, token, &json!({})).await, "test").await;
    let draft = json!({"id": id, "tool": "jenkins", "urls": {"apiUrl": sim.url}});
    limited(
        app.post_json("/api/v1/integrations/test", token, &draft)
            .await,
        "draft test",
    )
    .await;

    let nightly = pipeline_at(&app, &id, "nightly").await;
    let trigger = format!("/api/v1/pipelines/{nightly}/runs");
    let mut runs = Vec::new();
    for _ in 0..2 {
        let answer = app.post_json(&trigger, token, &json!({})).await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        let run: Value = answer.json().await.expect("run");
        runs.push(run["id"].as_str().expect("id").to_owned());
    }
    limited(app.post_json(&trigger, token, &json!({})).await, "trigger").await;
    // Another user has an allowance of their own.
    let olga = app.user_token("olga", "operator").await;
    let answer = app.post_json(&trigger, Some(&olga), &json!({})).await;
    assert_eq!(answer.status(), StatusCode::ACCEPTED);

    let log = format!("/api/v1/runs/{}/log", runs[0]);
    for _ in 0..3 {
        assert_eq!(app.get(&log, token).await.status(), StatusCode::OK);
    }
    limited(app.get(&log, token).await, "log read").await;
}
