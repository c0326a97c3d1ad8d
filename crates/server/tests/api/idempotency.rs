//! `Idempotency-Key` on the requests that start something: a retry with the same key gets the
//! first answer and never starts a second build (checked at the Jenkins simulator) or adds a
//! second integration; the same key with another request is refused. Both backends.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contract::tools::jenkins::{ADMIN_TOKEN, PIPELINES, job_builds, start_sim};
use crate::helpers::{Backend, TestApp, problem};
use crate::on_both_backends;

on_both_backends!(
    a_retried_trigger_starts_one_build_and_answers_alike,
    parallel_triggers_with_one_key_start_one_build,
    a_retried_create_adds_one_integration,
    a_malformed_key_is_refused,
);

const DEADLINE: Duration = Duration::from_secs(30);

/// Creates a connected Jenkins integration on `sim` and returns the id of its `nightly` job.
async fn nightly(app: &TestApp, sim: &jenkins_sim::Running) -> String {
    let created = app
        .create(&json!({
            "name": "Jenkins",
            "tool": "jenkins",
            "urls": {"apiUrl": sim.url},
            "credentials": {"username": "admin", "apiToken": ADMIN_TOKEN}
        }))
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let page = app
            .get_json(&format!("/api/v1/pipelines?limit=200&integration_id={id}"))
            .await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.len() == PIPELINES.len() {
            return items
                .iter()
                .find(|item| item["full_path"] == "nightly")
                .and_then(|item| item["id"].as_str())
                .expect("nightly")
                .to_owned();
        }
        assert!(tokio::time::Instant::now() < give_up, "no discovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn trigger(app: &TestApp, pipeline: &str, key: &str, parameters: Value) -> reqwest::RequestBuilder {
    app.request(
        Method::POST,
        &format!("/api/v1/pipelines/{pipeline}/runs"),
        Some(&app.admin_token),
    )
    .header("idempotency-key", key)
    .json(&json!({ "parameters": parameters }))
}

/// The builds the simulator started for `nightly` once the run `run_id` has ended: its next
/// build number minus one, and whether anything still waits in its queue.
async fn builds_at_the_tool(
    app: &TestApp,
    sim: &jenkins_sim::Running,
    run_id: &str,
) -> (i64, bool) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let run = app.get_json(&format!("/api/v1/runs/{run_id}")).await;
        if run["status"] == "unstable" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "run did not end: {run}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    job_builds(sim, "nightly").await
}

async fn a_retried_trigger_starts_one_build_and_answers_alike(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let pipeline = nightly(&app, &sim).await;

    let first = trigger(&app, &pipeline, "retry-1", json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");

    let again = trigger(&app, &pipeline, "retry-1", json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let location = again.headers().get("location").cloned();
    let again: Value = again.json().await.expect("json");
    assert_eq!(again, first, "the first answer, again");
    assert_eq!(
        location.as_ref().and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/runs/{}", first["id"].as_str().expect("id")).as_str())
    );

    // The same key with other parameters is another request: refused, nothing started.
    let other = trigger(&app, &pipeline, "retry-1", json!({"unused": "x"}))
        .send()
        .await
        .expect("send");
    let body = problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["code"], "idempotency_key_reused");

    let (builds, queued) = builds_at_the_tool(&app, &sim, first["id"].as_str().expect("id")).await;
    assert_eq!((builds, queued), (1, false), "one build at the tool");
    let runs = app
        .get_json(&format!("/api/v1/pipelines/{pipeline}/runs"))
        .await;
    assert_eq!(
        runs["items"].as_array().map(Vec::len),
        Some(1),
        "one run recorded"
    );
    sim.stop().await;
}

async fn parallel_triggers_with_one_key_start_one_build(backend: Backend) {
    let sim = start_sim(50).await;
    let app = TestApp::spawn(backend).await;
    let pipeline = nightly(&app, &sim).await;

    let sent: Vec<_> = (0..5)
        .map(|_| {
            let request = trigger(&app, &pipeline, "parallel-1", json!({}));
            actix_web::rt::spawn(async move {
                let response = request.send().await.expect("send");
                let status = response.status();
                (status, response.json::<Value>().await.expect("json"))
            })
        })
        .collect();
    let mut run_ids = Vec::new();
    for answer in sent {
        let (status, body) = answer.await.expect("task");
        match status {
            StatusCode::ACCEPTED => run_ids.push(body["id"].as_str().expect("id").to_owned()),
            StatusCode::CONFLICT => assert_eq!(body["code"], "idempotency_key_in_use", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(!run_ids.is_empty());
    run_ids.dedup();
    assert_eq!(run_ids.len(), 1, "every accepted answer names the same run");
    let (builds, queued) = builds_at_the_tool(&app, &sim, &run_ids[0]).await;
    assert_eq!((builds, queued), (1, false), "one build at the tool");
    sim.stop().await;
}

async fn a_retried_create_adds_one_integration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = crate::helpers::jenkins("Jenkins");
    let create = || {
        app.request(Method::POST, "/api/v1/integrations", Some(&app.admin_token))
            .header("idempotency-key", "create-1")
            .json(&body)
            .send()
    };
    let first = create().await.expect("send");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let again = create().await.expect("send");
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(
        again.json::<Value>().await.expect("json")["id"],
        first["id"]
    );
    let page = app.get_json("/api/v1/integrations").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));

    // Another request under the same key is refused; a new key is a new request (here: a
    // name taken, which is refused and leaves the key free).
    let mut renamed = body.clone();
    renamed["name"] = json!("Other");
    let reused = app
        .request(Method::POST, "/api/v1/integrations", Some(&app.admin_token))
        .header("idempotency-key", "create-1")
        .json(&renamed)
        .send()
        .await
        .expect("send");
    assert_eq!(
        problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await["code"],
        "idempotency_key_reused"
    );
    let taken = || {
        app.request(Method::POST, "/api/v1/integrations", Some(&app.admin_token))
            .header("idempotency-key", "create-2")
            .json(&body)
            .send()
    };
    for _ in 0..2 {
        let refused = taken().await.expect("send");
        assert_eq!(
            problem(refused, StatusCode::CONFLICT).await["code"],
            "name_taken"
        );
    }
}

async fn a_malformed_key_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let refused = app
        .request(Method::POST, "/api/v1/integrations", Some(&app.admin_token))
        .header("idempotency-key", "k".repeat(256))
        .json(&crate::helpers::jenkins("Jenkins"))
        .send()
        .await
        .expect("send");
    assert_eq!(
        problem(refused, StatusCode::BAD_REQUEST).await["code"],
        "invalid_parameter"
    );
    let page = app.get_json("/api/v1/integrations").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0));
}
