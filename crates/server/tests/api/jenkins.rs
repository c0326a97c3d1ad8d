//! Jenkins end to end through the API: connection checks on save and on demand, discovery,
//! triggering, following runs and their logs, cancelling, a restart mid-run. Jenkins is the
//! simulator (e2e/jenkins-sim), in-process on 127.0.0.1.

use std::future::Future;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

const ADMIN_TOKEN: &str = "11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3";
const WRONG_TOKEN: &str = "11ffffffffffffffffffffffffffffffff";

/// Generous: the bound only keeps a broken test from hanging; nothing asserts durations.
const DEADLINE: Duration = Duration::from_secs(30);

fn sim_config(quiet_period_ms: u64) -> jenkins_sim::Config {
    let log = [
        "+ ./deploy.sh --plan",
        "Plan: 3 to change",
        "+ ./deploy.sh --apply",
        "Applied 3 changes",
    ];
    serde_json::from_value(json!({
        "version": "2.516.1",
        "quiet_period_ms": quiet_period_ms,
        "executors": 4,
        "users": [
            {"name": "admin", "password": "admin-password", "tokens": [ADMIN_TOKEN],
             "permissions": ["Overall/Read", "Job/Read", "Job/Build", "Job/Cancel"]}
        ],
        "jobs": [
            {"name": "platform", "type": "folder", "jobs": [
                {"name": "deploy", "type": "pipeline",
                 "parameters": [
                    {"type": "choice", "name": "ENVIRONMENT", "choices": ["staging", "production"]},
                    {"type": "string", "name": "VERSION", "default": "latest"},
                    {"type": "boolean", "name": "DRY_RUN", "default": true}
                 ],
                 "build": {"duration_ms": 400, "result": "SUCCESS", "log": log}},
                {"name": "web", "type": "multibranch", "build": {"duration_ms": 300, "result": "SUCCESS"},
                 "branches": ["main", "feature-x"]}
            ]},
            {"name": "nightly", "type": "freestyle", "build": {"duration_ms": 300, "result": "UNSTABLE"}},
            {"name": "broken", "type": "freestyle", "build": {"duration_ms": 300, "result": "FAILURE"}},
            {"name": "slow", "type": "freestyle", "build": {"duration_ms": 5000, "result": "SUCCESS",
             "log": ["step 1", "step 2", "step 3", "step 4", "step 5"]}},
            {"name": "legacy", "type": "freestyle", "disabled": true}
        ]
    }))
    .expect("simulator config")
}

/// The buildable jobs of `sim_config`, by full path.
const PIPELINES: [&str; 7] = [
    "broken",
    "legacy",
    "nightly",
    "platform/deploy",
    "platform/web/feature-x",
    "platform/web/main",
    "slow",
];

async fn start_sim(quiet_period_ms: u64) -> jenkins_sim::Running {
    jenkins_sim::start(sim_config(quiet_period_ms), "127.0.0.1:0", "/jenkins")
        .await
        .expect("simulator starts")
}

fn integration(name: &str, url: &str, token: &str) -> Value {
    json!({
        "name": name,
        "tool": "jenkins",
        "urls": {"apiUrl": url},
        "credentials": {"username": "admin", "apiToken": token}
    })
}

/// Polls `probe` until it returns `Some`, failing the test after [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
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

async fn pipelines(app: &TestApp, query: &str) -> Vec<Value> {
    let page = app
        .get_json(&format!("/api/v1/pipelines?limit=200{query}"))
        .await;
    page["items"].as_array().expect("items").clone()
}

fn paths(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["full_path"].as_str().expect("path").to_owned())
        .collect()
}

/// Creates a connected Jenkins integration and waits for its first discovery.
async fn connected(app: &TestApp, sim: &jenkins_sim::Running) -> (Value, Vec<Value>) {
    let created = app
        .create(&integration("Jenkins", &sim.url, ADMIN_TOKEN))
        .await;
    assert_eq!(created["status"], "connected", "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let found = eventually("the first discovery", || async {
        let items = pipelines(app, &format!("&integration_id={id}")).await;
        (items.len() == PIPELINES.len()).then_some(items)
    })
    .await;
    (created, found)
}

fn pipeline_id(items: &[Value], path: &str) -> String {
    items
        .iter()
        .find(|item| item["full_path"] == path)
        .and_then(|item| item["id"].as_str())
        .unwrap_or_else(|| panic!("no pipeline {path}"))
        .to_owned()
}

async fn trigger(
    app: &TestApp,
    token: &str,
    pipeline: &str,
    parameters: Value,
) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/pipelines/{pipeline}/runs"),
        Some(token),
        &json!({ "parameters": parameters }),
    )
    .await
}

async fn run_until(app: &TestApp, run_id: &str, wanted: &[&str]) -> Value {
    eventually(&format!("run {run_id} to be one of {wanted:?}"), || async {
        let run = app.get_json(&format!("/api/v1/runs/{run_id}")).await;
        wanted
            .iter()
            .any(|status| run["status"] == *status)
            .then_some(run)
    })
    .await
}

async fn started_run(app: &TestApp, pipeline: &str, parameters: Value) -> String {
    let response = trigger(app, &app.admin_token, pipeline, parameters).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    let run: Value = response.json().await.expect("json");
    assert_eq!(
        location,
        format!("/api/v1/runs/{}", run["id"].as_str().expect("id"))
    );
    assert_eq!(run["status"], "queued");
    run["id"].as_str().expect("id").to_owned()
}

async fn done_number(app: &TestApp, run_id: &str) -> Value {
    app.get_json(&format!("/api/v1/runs/{run_id}")).await["build_number"].clone()
}

async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    response.json().await.expect("problem json")
}

async fn saving_checks_the_connection_and_pipelines_appear(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let (created, found) = connected(&app, &sim).await;
    let check = &created["last_check"];
    assert_eq!(check["ok"], true);
    assert_eq!(check["tool_version"], "2.516.1");
    assert_eq!(check["authenticated_as"], "admin");
    assert_eq!(paths(&found), PIPELINES);

    let deploy = found
        .iter()
        .find(|p| p["full_path"] == "platform/deploy")
        .expect("deploy");
    assert_eq!(deploy["kind"], "pipeline");
    assert_eq!(deploy["folder"], "platform");
    assert_eq!(deploy["integration_name"], "Jenkins");
    let parameters: Vec<&str> = deploy["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["type"].as_str().expect("type"))
        .collect();
    assert_eq!(parameters, ["choice", "string", "boolean"]);
    let branch = found
        .iter()
        .find(|p| p["full_path"] == "platform/web/main")
        .expect("branch");
    assert_eq!(branch["kind"], "branch");
    let legacy = found
        .iter()
        .find(|p| p["full_path"] == "legacy")
        .expect("legacy");
    assert_eq!(legacy["buildable"], false);

    let id = created["id"].as_str().expect("id");
    let shown = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(shown["pipelines"], PIPELINES.len());
    assert_eq!(shown["last_sync"]["total"], PIPELINES.len());
    assert_eq!(shown["status"], "connected");
    // A check is not an edit: the version the dialog holds stays valid.
    assert_eq!(shown["version"], created["version"]);

    let one = app
        .get_json(&format!(
            "/api/v1/pipelines/{}",
            deploy["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(&one, deploy);
    let filtered = pipelines(&app, "&q=WEB").await;
    assert_eq!(
        paths(&filtered),
        ["platform/web/feature-x", "platform/web/main"]
    );
    sim.stop().await;
}

async fn a_wrong_token_fails_with_its_category_until_it_is_fixed(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let created = app
        .create(&integration("Jenkins", &sim.url, WRONG_TOKEN))
        .await;
    assert_eq!(created["status"], "failed");
    let check = &created["last_check"];
    assert_eq!(check["ok"], false);
    assert_eq!(check["category"], "bad_credentials");
    assert!(
        check["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("People")),
        "{check}"
    );
    assert!(
        !created.to_string().contains(WRONG_TOKEN),
        "the token never comes back"
    );
    let id = created["id"].as_str().expect("id").to_owned();

    // Test before saving: the new token in the draft, the rest from the stored integration.
    let draft = app
        .post_json(
            "/api/v1/integrations/test",
            Some(&app.admin_token),
            &json!({"id": id, "tool": "jenkins", "urls": {"apiUrl": sim.url},
                    "credentials": {"apiToken": ADMIN_TOKEN}}),
        )
        .await;
    assert_eq!(draft.status(), StatusCode::OK);
    let draft: Value = draft.json().await.expect("json");
    assert_eq!(draft["ok"], true, "{draft}");
    let unchanged = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(
        unchanged["status"], "failed",
        "a draft test changes nothing stored"
    );

    let fixed = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"credentials": {"apiToken": ADMIN_TOKEN}}),
        )
        .await;
    assert_eq!(fixed.status(), StatusCode::OK);
    let fixed: Value = fixed.json().await.expect("json");
    assert_eq!(fixed["status"], "connected");
    assert_eq!(fixed["last_check"]["authenticated_as"], "admin");
    eventually("discovery after the fix", || async {
        (pipelines(&app, "").await.len() == PIPELINES.len()).then_some(())
    })
    .await;
    sim.stop().await;
}

async fn checks_need_the_right_role_and_valid_fields(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let created = app
        .create(&integration("Jenkins", &sim.url, ADMIN_TOKEN))
        .await;
    let id = created["id"].as_str().expect("id");
    let viewer = app.user_token("vera", "viewer").await;
    let operator = app.user_token("olga", "operator").await;
    let test_path = format!("/api/v1/integrations/{id}/test");

    let refused = app.post_json(&test_path, Some(&viewer), &json!({})).await;
    assert_eq!(
        problem(refused, StatusCode::FORBIDDEN).await["code"],
        "forbidden"
    );
    let ran = app.post_json(&test_path, Some(&operator), &json!({})).await;
    assert_eq!(ran.status(), StatusCode::OK);
    let ran: Value = ran.json().await.expect("json");
    assert_eq!(ran["ok"], true);
    assert_eq!(ran["permissions"], json!(["Overall/Read"]));

    let draft = json!({"tool": "jenkins", "urls": {"apiUrl": sim.url}, "credentials": {"username": "admin"}});
    let refused = app
        .post_json("/api/v1/integrations/test", Some(&operator), &draft)
        .await;
    assert_eq!(
        problem(refused, StatusCode::FORBIDDEN).await["code"],
        "forbidden"
    );
    let invalid = app
        .post_json("/api/v1/integrations/test", Some(&app.admin_token), &draft)
        .await;
    let invalid = problem(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(invalid["errors"][0]["field"], "credentials.apiToken");
    let bad_url = app
        .post_json(
            "/api/v1/integrations/test",
            Some(&app.admin_token),
            &json!({"tool": "jenkins", "urls": {"apiUrl": "ftp://x"}, "credentials": {"username": "a", "apiToken": "b"}}),
        )
        .await;
    assert_eq!(
        problem(bad_url, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"],
        "urls.apiUrl"
    );
    let missing = app
        .post_json(
            "/api/v1/integrations/test",
            Some(&app.admin_token),
            &json!({"id": "no-such-id", "tool": "jenkins", "urls": {"apiUrl": sim.url}}),
        )
        .await;
    assert_eq!(
        problem(missing, StatusCode::NOT_FOUND).await["code"],
        "not_found"
    );
    let unknown = app
        .post_json(
            "/api/v1/integrations/no-such-id/test",
            Some(&operator),
            &json!({}),
        )
        .await;
    assert_eq!(
        problem(unknown, StatusCode::NOT_FOUND).await["code"],
        "not_found"
    );
    sim.stop().await;
}

async fn a_sync_reports_added_and_removed_jobs(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let (created, _) = connected(&app, &sim).await;
    let id = created["id"].as_str().expect("id");
    let control = sim.control();
    let added: jenkins_sim::config::ItemConfig =
        serde_json::from_value(json!({"name": "release", "type": "freestyle"})).expect("item");
    control.add_items("platform", &[added]).expect("add");
    control.remove_item("broken").expect("remove");

    let operator = app.user_token("olga", "operator").await;
    let report = app
        .post_json(
            &format!("/api/v1/integrations/{id}/sync"),
            Some(&operator),
            &json!({}),
        )
        .await;
    assert_eq!(report.status(), StatusCode::OK);
    let report: Value = report.json().await.expect("json");
    assert_eq!(report["added"], 1, "{report}");
    assert_eq!(report["removed"], 1, "{report}");
    assert_eq!(report["total"], PIPELINES.len());
    assert!(
        report["requests"]
            .as_u64()
            .is_some_and(|n| (1..=5).contains(&n)),
        "{report}"
    );

    let listed = paths(&pipelines(&app, "").await);
    assert!(listed.contains(&"platform/release".to_owned()));
    assert!(!listed.contains(&"broken".to_owned()));
    let with_removed = pipelines(&app, "&include_removed=true").await;
    let broken = with_removed
        .iter()
        .find(|p| p["full_path"] == "broken")
        .expect("kept");
    assert_eq!(broken["removed"], true);

    let viewer = app.user_token("vera", "viewer").await;
    let refused = app
        .post_json(
            &format!("/api/v1/integrations/{id}/sync"),
            Some(&viewer),
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    sim.stop().await;
}

async fn an_unreachable_tool_is_a_failed_check_and_a_502_sync(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", closed.local_addr().expect("address"));
    drop(closed);
    let created = app.create(&integration("Gone", &url, ADMIN_TOKEN)).await;
    assert_eq!(created["status"], "failed");
    assert_eq!(created["last_check"]["category"], "connect");
    let id = created["id"].as_str().expect("id");
    let sync = app
        .post_json(
            &format!("/api/v1/integrations/{id}/sync"),
            Some(&app.admin_token),
            &json!({}),
        )
        .await;
    let body = problem(sync, StatusCode::BAD_GATEWAY).await;
    assert_eq!(body["code"], "tool_error");
    assert_eq!(body["category"], "connect");
    assert!(body["hint"].as_str().is_some_and(|hint| !hint.is_empty()));

    let named = app
        .create(&integration(
            "Nowhere",
            "https://jenkins.invalid/",
            ADMIN_TOKEN,
        ))
        .await;
    assert_eq!(named["last_check"]["category"], "dns");
}

async fn runs_reach_their_results_with_their_logs(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let (_, found) = connected(&app, &sim).await;

    let deploy = started_run(
        &app,
        &pipeline_id(&found, "platform/deploy"),
        json!({"ENVIRONMENT": "production", "DRY_RUN": false}),
    )
    .await;
    let nightly = started_run(&app, &pipeline_id(&found, "nightly"), json!({})).await;
    let broken = started_run(&app, &pipeline_id(&found, "broken"), json!({})).await;

    let done = run_until(&app, &deploy, &["succeeded"]).await;
    assert_eq!(
        done["parameters"],
        json!({"ENVIRONMENT": "production", "DRY_RUN": false})
    );
    assert_eq!(done["pipeline_path"], "platform/deploy");
    assert!(done["build_number"].as_i64().is_some());
    assert!(done["finished_at"].is_string());
    run_until(&app, &nightly, &["unstable"]).await;
    run_until(&app, &broken, &["failed"]).await;
    // The pipelines list shows a run's result at once, not only after the next discovery.
    let shown = app
        .get_json(&format!(
            "/api/v1/pipelines/{}",
            pipeline_id(&found, "broken")
        ))
        .await;
    assert_eq!(shown["last_build"]["status"], "failed");
    assert_eq!(
        shown["last_build"]["number"],
        done_number(&app, &broken).await
    );

    // The log, read piece by piece to the end.
    let mut offset = 0;
    let mut text = String::new();
    let mut reads = 0;
    loop {
        let piece = app
            .get_json(&format!("/api/v1/runs/{deploy}/log?offset={offset}"))
            .await;
        text.push_str(piece["text"].as_str().expect("text"));
        offset = piece["next_offset"].as_u64().expect("offset");
        reads += 1;
        if piece["complete"] == true {
            break;
        }
        assert!(reads < 200, "the log never completes");
    }
    assert!(text.contains("Applied 3 changes"), "{text}");
    let again = app
        .get_json(&format!("/api/v1/runs/{deploy}/log?offset={offset}"))
        .await;
    assert_eq!(again["text"], "");
    assert_eq!(again["complete"], true);

    let all = app.get_json("/api/v1/runs").await;
    let ids: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [broken.as_str(), nightly.as_str(), deploy.as_str()],
        "newest first"
    );
    let failed = app.get_json("/api/v1/runs?status=failed").await;
    assert_eq!(failed["items"].as_array().expect("items").len(), 1);
    let of_deploy = app
        .get_json(&format!(
            "/api/v1/pipelines/{}/runs",
            pipeline_id(&found, "platform/deploy")
        ))
        .await;
    assert_eq!(of_deploy["items"][0]["id"], deploy.as_str());
    sim.stop().await;
}

async fn bad_triggers_are_refused_and_start_nothing(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let (_, found) = connected(&app, &sim).await;
    let deploy = pipeline_id(&found, "platform/deploy");
    let admin = app.admin_token.clone();

    for (parameters, field, code) in [
        (json!({"NOPE": "x"}), "parameters.NOPE", "unknown_field"),
        (
            json!({"DRY_RUN": "yes"}),
            "parameters.DRY_RUN",
            "wrong_type",
        ),
        (
            json!({"ENVIRONMENT": "qa"}),
            "parameters.ENVIRONMENT",
            "not_a_choice",
        ),
    ] {
        let refused = problem(
            trigger(&app, &admin, &deploy, parameters).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], field);
        assert_eq!(refused["errors"][0]["code"], code);
    }
    let viewer = app.user_token("vera", "viewer").await;
    let refused = problem(
        trigger(&app, &viewer, &deploy, json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused["code"], "forbidden");
    let disabled = pipeline_id(&found, "legacy");
    let refused = problem(
        trigger(&app, &admin, &disabled, json!({})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(refused["code"], "pipeline_not_buildable");
    let missing = problem(
        trigger(&app, &admin, "no-such-pipeline", json!({})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(missing["code"], "not_found");
    let malformed = app
        .post_json(
            &format!("/api/v1/pipelines/{deploy}/runs"),
            Some(&admin),
            &json!({"parameters": [1]}),
        )
        .await;
    assert_eq!(
        problem(malformed, StatusCode::BAD_REQUEST).await["code"],
        "malformed_body"
    );

    let runs = app.get_json("/api/v1/runs").await;
    assert_eq!(runs["items"], json!([]), "nothing was triggered");
    sim.stop().await;
}

async fn queued_and_running_runs_can_be_cancelled(backend: Backend) {
    // A long quiet period keeps the first run in the queue while it is cancelled.
    let sim = start_sim(3_000).await;
    let app = TestApp::spawn(backend).await;
    let (_, found) = connected(&app, &sim).await;
    let slow = pipeline_id(&found, "slow");
    let operator = app.user_token("olga", "operator").await;
    let viewer = app.user_token("vera", "viewer").await;

    let queued = started_run(&app, &slow, json!({})).await;
    let refused = app
        .post_json(
            &format!("/api/v1/runs/{queued}/cancel"),
            Some(&viewer),
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let cancelled = app
        .post_json(
            &format!("/api/v1/runs/{queued}/cancel"),
            Some(&operator),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::ACCEPTED);
    let run = run_until(&app, &queued, &["cancelled"]).await;
    assert!(run["build_number"].is_null(), "it never left the queue");
    let log = app.get_json(&format!("/api/v1/runs/{queued}/log")).await;
    assert_eq!(log, json!({"text": "", "next_offset": 0, "complete": true}));
    let again = app
        .post_json(
            &format!("/api/v1/runs/{queued}/cancel"),
            Some(&operator),
            &json!({}),
        )
        .await;
    assert_eq!(
        problem(again, StatusCode::CONFLICT).await["code"],
        "run_finished"
    );

    let running = started_run(&app, &slow, json!({})).await;
    run_until(&app, &running, &["running"]).await;
    let stopped = app
        .post_json(
            &format!("/api/v1/runs/{running}/cancel"),
            Some(&operator),
            &json!({}),
        )
        .await;
    assert_eq!(stopped.status(), StatusCode::ACCEPTED);
    let run = run_until(&app, &running, &["cancelled"]).await;
    assert!(run["build_number"].is_i64());
    sim.stop().await;
}

async fn a_run_reaches_its_result_across_a_server_restart(backend: Backend) {
    let sim = start_sim(50).await;
    let mut app = TestApp::spawn(backend).await;
    let (_, found) = connected(&app, &sim).await;
    let run = started_run(&app, &pipeline_id(&found, "slow"), json!({})).await;
    run_until(&app, &run, &["running"]).await;
    app.restart();
    let done = run_until(&app, &run, &["succeeded"]).await;
    assert!(done["duration_ms"].as_u64().is_some_and(|ms| ms > 0));
    sim.stop().await;
}

async fn the_periodic_recheck_keeps_statuses_true(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn_with(backend, |config| {
        config.background.check_interval = Duration::from_secs(1);
    })
    .await;
    let (created, _) = connected(&app, &sim).await;
    let path = format!(
        "/api/v1/integrations/{}",
        created["id"].as_str().expect("id")
    );

    sim.control().set_outage(Some(503)).expect("outage");
    let failed = eventually("the re-check to see the outage", || async {
        let shown = app.get_json(&path).await;
        (shown["status"] == "failed").then_some(shown)
    })
    .await;
    assert_eq!(failed["last_check"]["category"], "upstream_error");

    sim.control().set_outage(None).expect("recovery");
    eventually("the re-check to see the recovery", || async {
        (app.get_json(&path).await["status"] == "connected").then_some(())
    })
    .await;
    sim.stop().await;
}

async fn runs_of_a_healthy_tool_go_on_while_another_is_down(backend: Backend) {
    let healthy = start_sim(50).await;
    let failing = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let (_, healthy_found) = connected(&app, &healthy).await;
    let second = app
        .create(&integration("Second", &failing.url, ADMIN_TOKEN))
        .await;
    let second_id = second["id"].as_str().expect("id").to_owned();
    let failing_found = eventually("the second discovery", || async {
        let items = pipelines(&app, &format!("&integration_id={second_id}")).await;
        (items.len() == PIPELINES.len()).then_some(items)
    })
    .await;

    let waiting = started_run(
        &app,
        &pipeline_id(&failing_found, "platform/deploy"),
        json!({}),
    )
    .await;
    failing.control().set_outage(Some(503)).expect("outage");
    let going = started_run(&app, &pipeline_id(&healthy_found, "nightly"), json!({})).await;
    run_until(&app, &going, &["unstable"]).await;
    let stuck = app.get_json(&format!("/api/v1/runs/{waiting}")).await;
    assert!(
        stuck["status"] == "queued" || stuck["status"] == "running",
        "a run of the failing tool waits: {stuck}"
    );

    failing.control().set_outage(None).expect("recovery");
    run_until(&app, &waiting, &["succeeded"]).await;
    healthy.stop().await;
    failing.stop().await;
}

on_both_backends!(
    the_periodic_recheck_keeps_statuses_true,
    runs_of_a_healthy_tool_go_on_while_another_is_down,
    saving_checks_the_connection_and_pipelines_appear,
    a_wrong_token_fails_with_its_category_until_it_is_fixed,
    checks_need_the_right_role_and_valid_fields,
    a_sync_reports_added_and_removed_jobs,
    an_unreachable_tool_is_a_failed_check_and_a_502_sync,
    runs_reach_their_results_with_their_logs,
    bad_triggers_are_refused_and_start_nothing,
    queued_and_running_runs_can_be_cancelled,
    a_run_reaches_its_result_across_a_server_restart,
);
