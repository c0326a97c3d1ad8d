//! Attacks from outside, each held off: what a hostile client or a careless administrator
//! tries against a running server. The next capability is held to these too.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, jenkins, problem};
use crate::on_both_backends;

on_both_backends!(
    made_up_methods_do_not_grow_the_metrics,
    api_answers_are_not_cached_or_sniffed,
    names_that_impersonate_are_refused,
);

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
