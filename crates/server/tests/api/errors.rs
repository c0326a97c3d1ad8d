use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, jenkins, problem};
use crate::on_both_backends;

on_both_backends!(
    malformed_oversized_and_misrouted_requests_get_problem_answers,
    health_readiness_and_metrics_answer
);

async fn malformed_oversized_and_misrouted_requests_get_problem_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let send = |method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = app.request(method, path, token).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };

    let bad_json = send(
        Method::POST,
        "/api/v1/integrations",
        Some("application/json"),
        b"{\"name\":".to_vec(),
    )
    .await
    .expect("send");
    assert_eq!(
        problem(bad_json, StatusCode::BAD_REQUEST).await["code"],
        "malformed_body"
    );

    let unknown_field = app
        .post_json(
            "/api/v1/integrations",
            token,
            &json!({"name": "x", "tool": "jenkins", "colour": "red"}),
        )
        .await;
    let unknown_field = problem(unknown_field, StatusCode::BAD_REQUEST).await;
    assert!(
        unknown_field["detail"]
            .as_str()
            .is_some_and(|d| d.contains("colour")),
        "{unknown_field}"
    );

    let text = send(
        Method::POST,
        "/api/v1/integrations",
        Some("text/plain"),
        b"{}".to_vec(),
    )
    .await
    .expect("send");
    assert_eq!(
        problem(text, StatusCode::UNSUPPORTED_MEDIA_TYPE).await["code"],
        "unsupported_media_type"
    );
    let missing_type = send(Method::POST, "/api/v1/integrations", None, b"{}".to_vec())
        .await
        .expect("send");
    problem(missing_type, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let merge_patch = app.create(&jenkins("Jenkins")).await;
    let path = format!(
        "/api/v1/integrations/{}",
        merge_patch["id"].as_str().expect("id")
    );
    let merge = send(
        Method::PATCH,
        &path,
        Some("application/merge-patch+json"),
        br#"{"name":"Renamed"}"#.to_vec(),
    )
    .await
    .expect("send");
    assert_eq!(
        merge.status(),
        StatusCode::OK,
        "JSON with a +json suffix is accepted"
    );

    let mut huge = jenkins("Huge");
    huge["urls"]["padding"] = json!(format!("https://x.example.com/{}", "a".repeat(70 * 1024)));
    let huge = app.post_json("/api/v1/integrations", token, &huge).await;
    assert_eq!(
        problem(huge, StatusCode::PAYLOAD_TOO_LARGE).await["code"],
        "payload_too_large"
    );

    let unknown_route = problem(
        app.get("/api/v1/pipelines-that-do-not-exist", token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(unknown_route["code"], "not_found");
    let nothing = problem(app.get("/nothing-here", None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(nothing["code"], "not_found");
    let wrong_method = app
        .request(Method::PUT, "/api/v1/integrations", token)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_method.headers()["allow"], "GET, POST");
    assert_eq!(
        problem(wrong_method, StatusCode::METHOD_NOT_ALLOWED).await["code"],
        "method_not_allowed"
    );
    let unknown_id = problem(
        app.get(
            "/api/v1/integrations/00000000-0000-0000-0000-000000000000",
            token,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        unknown_id["detail"]
            .as_str()
            .is_some_and(|d| d.contains("integration"))
    );

    // Each answer carries a request id, and a sane client-supplied one is kept.
    let traced = app
        .request(Method::GET, "/healthz", None)
        .header("x-request-id", "trace-42")
        .send()
        .await
        .expect("send");
    assert_eq!(traced.headers()["x-request-id"], "trace-42");
    let fresh = app.get("/healthz", None).await;
    assert!(
        fresh.headers()["x-request-id"]
            .to_str()
            .is_ok_and(|id| id.len() >= 16)
    );
    let count = app.get_json("/api/v1/integrations").await["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(count, 1, "only the one valid create was stored");
}

async fn health_readiness_and_metrics_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health: Value = app.get("/healthz", None).await.json().await.expect("json");
    assert_eq!(health, json!({"status": "ok"}));
    let ready: Value = app.get("/readyz", None).await.json().await.expect("json");
    assert_eq!(ready, json!({"status": "ok", "database": backend.name()}));
    app.get("/api/v1/integrations", Some(&app.admin_token))
        .await;
    let metrics = app.get("/metrics", None).await;
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let metrics = metrics.text().await.expect("text");
    assert!(metrics.contains("switchboard_up 1"));
    assert!(metrics.contains(r#"switchboard_http_requests_total{method="GET",route="/api/v1/integrations",status="200"} 1"#), "{metrics}");
    assert!(
        metrics.contains(r#"switchboard_http_request_duration_seconds_count{route="/readyz"} 1"#),
        "{metrics}"
    );
    // Statements are counted for the request that ran them: readiness runs one (`SELECT 1`),
    // liveness none, whatever the background work runs meanwhile.
    for expected in [
        r#"switchboard_http_request_db_statements_sum{method="GET",route="/readyz"} 1"#,
        r#"switchboard_http_request_db_statements_count{method="GET",route="/readyz"} 1"#,
        r#"switchboard_http_request_db_statements_sum{method="GET",route="/healthz"} 0"#,
    ] {
        assert!(metrics.contains(expected), "{expected} in {metrics}");
    }
    let total = metrics
        .lines()
        .find_map(|line| line.strip_prefix("switchboard_db_statements_total "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(total.is_some_and(|n| n > 1), "{metrics}");
}

on_both_backends!(an_internal_failure_answers_500_without_its_cause);

async fn an_internal_failure_answers_500_without_its_cause(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create(&jenkins("Jenkins")).await;
    let id = created["id"].as_str().expect("id");
    // A row no version of this server could have written.
    app.execute_sql(&format!(
        "UPDATE integrations SET status = 'exploded-status-x' WHERE id = '{id}'"
    ));
    for path in [
        format!("/api/v1/integrations/{id}"),
        "/api/v1/integrations".to_owned(),
    ] {
        let failed = problem(
            app.get(&path, Some(&app.admin_token)).await,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
        .await;
        assert_eq!(failed["code"], "internal");
        let text = failed.to_string();
        assert!(
            !text.contains("exploded") && !text.contains("inconsistent") && !text.contains(id),
            "{text}"
        );
    }
}

/// PostgreSQL only: a database that goes away makes readiness and requests answer 503.
#[actix_web::test]
async fn a_lost_database_answers_503() {
    if !switchboard_test_support::postgres_enabled() {
        return;
    }
    let mut app = TestApp::spawn(Backend::Postgres).await;
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    app.drop_database();
    let unready = problem(
        app.get("/readyz", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(unready["code"], "database_unavailable");
    let metrics = app
        .get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics");
    assert!(metrics.contains("switchboard_up 0"), "{metrics}");
}
