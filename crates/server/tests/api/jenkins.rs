//! Jenkins through the API beyond the connector contract (`crate::contract`, which covers
//! checks, discovery, runs, logs, cancelling and restarts for every tool): Jenkins' item
//! kinds, roles and field validation of connection tests, jobs added and removed, an
//! unreachable tool, the periodic re-check and a tool outage. Jenkins is the simulator
//! (e2e/jenkins-sim), in-process on 127.0.0.1, configured as in the contract.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::contract::tools::jenkins::{ADMIN_TOKEN, PIPELINES, job_builds, start_sim};
use crate::helpers::{Backend, TestApp, eventually};
use crate::on_both_backends;

fn integration(name: &str, url: &str, token: &str) -> Value {
    json!({
        "name": name,
        "tool": "jenkins",
        "urls": {"apiUrl": url},
        "credentials": {"username": "admin", "apiToken": token}
    })
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

async fn jobs_are_pipelines_with_their_kinds_folders_and_branches(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let (_, found) = connected(&app, &sim).await;
    let deploy = found
        .iter()
        .find(|p| p["full_path"] == "platform/deploy")
        .expect("deploy");
    assert_eq!(deploy["kind"], "pipeline");
    assert_eq!(deploy["folder"], "platform");
    assert_eq!(deploy["name"], "deploy");
    assert_eq!(deploy["integration_name"], "Jenkins");
    let branch = found
        .iter()
        .find(|p| p["full_path"] == "platform/web/main")
        .expect("branch");
    assert_eq!(branch["kind"], "branch");
    assert_eq!(branch["folder"], "platform/web");
    let legacy = found
        .iter()
        .find(|p| p["full_path"] == "legacy")
        .expect("legacy");
    assert_eq!(legacy["kind"], "freestyle");
    assert_eq!(legacy["buildable"], false);

    let filtered = pipelines(&app, "&q=WEB").await;
    assert_eq!(
        paths(&filtered),
        ["platform/web/feature-x", "platform/web/main"]
    );
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

async fn a_tool_down_at_save_turns_connected_by_itself(backend: Backend) {
    let sim = start_sim(50).await;
    // The periodic check is an hour away (the test configuration): only the retry of a
    // failed check can bring the integration back within the deadline.
    let app = TestApp::spawn(backend).await;
    sim.control().set_outage(Some(503)).expect("outage");
    let created = app
        .create(&integration("Jenkins", &sim.url, ADMIN_TOKEN))
        .await;
    assert_eq!(created["status"], "failed", "{created}");
    let id = created["id"].as_str().expect("id").to_owned();

    sim.control().set_outage(None).expect("recovery");
    eventually("the retried check and its discovery", || async {
        let shown = app.get_json(&format!("/api/v1/integrations/{id}")).await;
        (shown["status"] == "connected" && shown["last_sync"]["total"] == PIPELINES.len())
            .then_some(())
    })
    .await;
    sim.stop().await;
}

/// A server killed while triggering leaves no run stuck and no build unknown: the run was
/// recorded before the tool was asked and held by the triggering process; after a restart
/// the monitor takes it over once the hold ends and asks the tool what became of it. Killed
/// before asking, the tool has no build for it and the run says it did not start; killed
/// after the tool accepted, its build is found and followed to its result. Another run of
/// the same job, by the same user, triggered right after the restart keeps its own build.
async fn a_trigger_cut_short_by_a_crash_leaves_no_run_stuck(backend: Backend) {
    use switchboard_app::TriggerFault;
    for fault in [TriggerFault::AfterRecorded, TriggerFault::AfterAsked] {
        let sim = start_sim(50).await;
        let mut app =
            TestApp::spawn_with(backend, |config| config.trigger_fault = Some(fault)).await;
        let (_, found) = connected(&app, &sim).await;
        let nightly = pipeline_id(&found, "nightly");
        let cut_short = trigger(&app, &app.admin_token, &nightly, json!({})).await;
        assert_eq!(
            cut_short.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{fault:?}"
        );
        let recorded = app
            .get_json(&format!("/api/v1/pipelines/{nightly}/runs"))
            .await;
        let runs = recorded["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            runs.len(),
            1,
            "{fault:?}: recorded before the tool was asked"
        );
        assert_eq!(runs[0]["status"], "queued");
        let crashed = runs[0]["id"].as_str().expect("id").to_owned();

        if fault == TriggerFault::AfterAsked {
            // Jenkins merges a second request for a job into one still waiting in the queue;
            // the next run must get a build of its own.
            let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
            while job_builds(&sim, "nightly").await != (1, false) {
                assert!(
                    tokio::time::Instant::now() < give_up,
                    "the build never left the queue"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        app.restart_with(|config| config.trigger_fault = None);
        let next = trigger(&app, &app.admin_token, &nightly, json!({})).await;
        assert_eq!(next.status(), StatusCode::ACCEPTED, "{fault:?}");
        let next: Value = next.json().await.expect("run");
        let next = next["id"].as_str().expect("id").to_owned();

        let crashed_run = ended(&app, &crashed).await;
        let next_run = ended(&app, &next).await;
        // nightly ends unstable.
        assert_eq!(next_run["status"], "unstable", "{fault:?}: {next_run}");
        let log = app
            .get_json(&format!("/api/v1/runs/{crashed}/log?offset=0"))
            .await;
        assert_eq!(log["complete"], true);
        match fault {
            TriggerFault::AfterRecorded => {
                assert_eq!(crashed_run["status"], "error", "{crashed_run}");
                assert!(
                    crashed_run["detail"]
                        .as_str()
                        .is_some_and(|detail| detail.contains("did not start")),
                    "{crashed_run}"
                );
                assert_eq!(next_run["build_number"], 1, "{next_run}");
                assert_eq!(
                    job_builds(&sim, "nightly").await,
                    (1, false),
                    "the tool was asked once, for the next run"
                );
            }
            TriggerFault::AfterAsked => {
                assert_eq!(
                    crashed_run["status"], "unstable",
                    "found and followed: {crashed_run}"
                );
                assert_eq!(crashed_run["build_number"], 1, "{crashed_run}");
                assert_eq!(next_run["build_number"], 2, "{next_run}");
                assert_eq!(job_builds(&sim, "nightly").await, (2, false));
            }
        }
        sim.stop().await;
    }
}

/// Waits (at most 90 s) until the run has ended; returns it.
async fn ended(app: &TestApp, run_id: &str) -> Value {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let run = app.get_json(&format!("/api/v1/runs/{run_id}")).await;
        if !matches!(run["status"].as_str(), Some("queued" | "running")) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "the run never ended: {run}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_refused_trigger_leaves_a_run_that_failed_to_start(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let (_, found) = connected(&app, &sim).await;
    let deploy = pipeline_id(&found, "platform/deploy");
    sim.control().set_outage(Some(503)).expect("outage");
    let refused = trigger(&app, &app.admin_token, &deploy, json!({})).await;
    let body = problem(refused, StatusCode::BAD_GATEWAY).await;
    assert_eq!(body["category"], "upstream_error");
    let recorded = app
        .get_json(&format!("/api/v1/pipelines/{deploy}/runs"))
        .await;
    let runs = recorded["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 1, "the attempt is on record");
    assert_eq!(runs[0]["status"], "error");
    assert!(
        runs[0]["detail"]
            .as_str()
            .is_some_and(|detail| detail.starts_with("Failed to start (upstream_error)")),
        "{}",
        runs[0]
    );
    assert!(runs[0]["finished_at"].is_string());
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
    jobs_are_pipelines_with_their_kinds_folders_and_branches,
    checks_need_the_right_role_and_valid_fields,
    a_sync_reports_added_and_removed_jobs,
    an_unreachable_tool_is_a_failed_check_and_a_502_sync,
    the_periodic_recheck_keeps_statuses_true,
    a_tool_down_at_save_turns_connected_by_itself,
    a_trigger_cut_short_by_a_crash_leaves_no_run_stuck,
    a_refused_trigger_leaves_a_run_that_failed_to_start,
    runs_of_a_healthy_tool_go_on_while_another_is_down,
);
