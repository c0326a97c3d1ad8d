use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, jenkins, problem};
use crate::on_both_backends;

on_both_backends!(
    anonymous_callers_get_401_everywhere_but_the_public_routes,
    viewers_and_operators_get_403_on_every_write_and_can_read,
    bad_expired_or_ended_sessions_are_refused,
    repeated_failed_sign_ins_are_rate_limited,
);

/// Every documented operation, from the served document, with `{id}` filled in.
async fn operations(app: &TestApp) -> Vec<(Method, String, bool)> {
    let spec: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .expect("spec");
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let public = operation["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            found.push((method, path.replace("{id}", "jenkins"), public));
        }
    }
    found
}

async fn anonymous_callers_get_401_everywhere_but_the_public_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let operations = operations(&app).await;
    assert!(operations.len() >= 15, "{operations:?}");
    let mut public: Vec<String> = operations
        .iter()
        .filter(|(_, _, public)| *public)
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    public.sort();
    assert_eq!(
        public,
        vec![
            "GET /api/docs",
            "GET /api/openapi.json",
            "GET /healthz",
            "GET /metrics",
            "GET /readyz",
            "POST /api/v1/auth/login"
        ]
    );
    for (method, path, is_public) in &operations {
        let mut request = app.request(method.clone(), path, None);
        if matches!(*method, Method::POST | Method::PATCH) {
            request = request.json(&json!({}));
        }
        let response = request.send().await.expect("request");
        if *is_public {
            assert_ne!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
        } else {
            assert_eq!(
                response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap_or_default()),
                Some("Bearer realm=\"switchboard\"")
            );
            let body = problem(response, StatusCode::UNAUTHORIZED).await;
            assert_eq!(body["code"], "unauthenticated", "{method} {path}");
        }
    }
    let docs = app
        .client
        .get(app.url("/api/docs/"))
        .send()
        .await
        .expect("docs");
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.expect("html");
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "the docs page loads nothing from elsewhere"
    );
}

async fn viewers_and_operators_get_403_on_every_write_and_can_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create(&jenkins("Jenkins")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let admin_id = app.get_json("/api/v1/auth/me").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for role in ["viewer", "operator"] {
        let token = app.user_token(&format!("{role}1"), role).await;
        let token = Some(token.as_str());
        let writes: Vec<(Method, String, Value)> = vec![
            (Method::POST, "/api/v1/integrations".into(), jenkins("Mine")),
            (
                Method::PATCH,
                format!("/api/v1/integrations/{id}"),
                json!({"name": "Mine"}),
            ),
            (
                Method::DELETE,
                format!("/api/v1/integrations/{id}"),
                Value::Null,
            ),
            (
                Method::PATCH,
                "/api/v1/tools/jenkins".into(),
                json!({"enabled": false}),
            ),
            (
                Method::POST,
                "/api/v1/users".into(),
                json!({"username": "eve", "password": "eve password 123", "role": "admin"}),
            ),
            (
                Method::PATCH,
                format!("/api/v1/users/{admin_id}"),
                json!({"disabled": true}),
            ),
            (Method::GET, "/api/v1/users".into(), Value::Null),
            (
                Method::GET,
                format!("/api/v1/users/{admin_id}"),
                Value::Null,
            ),
            // Even a malformed body is refused for the role first.
            (
                Method::POST,
                "/api/v1/integrations".into(),
                json!("not an object"),
            ),
        ];
        for (method, path, body) in writes {
            let mut request = app.request(method.clone(), &path, token);
            if !body.is_null() {
                request = request.json(&body);
            }
            let refused = problem(
                request.send().await.expect("request"),
                StatusCode::FORBIDDEN,
            )
            .await;
            assert_eq!(refused["code"], "forbidden", "{role}: {method} {path}");
        }
        assert_eq!(
            app.get(&format!("/api/v1/integrations/{id}"), token)
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get("/api/v1/integrations", token).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get("/api/v1/tools", token).await.status(),
            StatusCode::OK
        );
        let me: Value = app
            .get("/api/v1/auth/me", token)
            .await
            .json()
            .await
            .expect("me");
        assert_eq!(me["role"], role);
    }
    assert_eq!(
        app.get_json(&format!("/api/v1/integrations/{id}")).await,
        created,
        "nothing changed"
    );
    assert_eq!(
        app.get_json("/api/v1/tools").await["items"][0]["enabled"],
        true
    );
}

async fn bad_expired_or_ended_sessions_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for header in ["Bearer not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer "] {
        let response = app
            .client
            .get(app.url("/api/v1/integrations"))
            .header("authorization", header)
            .send()
            .await
            .expect("request");
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
    // A token signed with another key.
    let other = TestApp::spawn(Backend::Sqlite).await;
    problem(
        app.get("/api/v1/auth/me", Some(&other.admin_token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Disabling a user ends their sessions at once; enabling again needs a new sign-in.
    let token = app.user_token("bob", "viewer").await;
    let users = app.get_json("/api/v1/users").await;
    let bob = users["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["username"] == "bob")
        .expect("bob")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    app.patch_json(
        &format!("/api/v1/users/{bob}"),
        Some(&app.admin_token),
        &json!({"disabled": true}),
    )
    .await;
    problem(
        app.get("/api/v1/auth/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let login = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "bob", "password": "bob password 123"}),
        )
        .await;
    assert_eq!(
        problem(login, StatusCode::UNAUTHORIZED).await["code"],
        "invalid_login"
    );
    app.patch_json(
        &format!("/api/v1/users/{bob}"),
        Some(&app.admin_token),
        &json!({"disabled": false}),
    )
    .await;
    problem(
        app.get("/api/v1/auth/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let fresh = app.login("bob", "bob password 123").await;

    // A new password ends existing sessions too.
    app.patch_json(
        &format!("/api/v1/users/{bob}"),
        Some(&app.admin_token),
        &json!({"password": "a new password 456"}),
    )
    .await;
    problem(
        app.get("/api/v1/auth/me", Some(&fresh)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    app.login("bob", "a new password 456").await;
}

async fn repeated_failed_sign_ins_are_rate_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let wrong = json!({"username": "admin", "password": "wrong password!"});
    for _ in 0..3 {
        let refused = problem(
            app.post_json("/api/v1/auth/login", None, &wrong).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_eq!(refused["code"], "invalid_login");
    }
    let limited = app.post_json("/api/v1/auth/login", None, &wrong).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        problem(limited, StatusCode::TOO_MANY_REQUESTS).await["code"],
        "rate_limited"
    );
    // Even the right password waits: the limit is checked before the password.
    let right = json!({"username": "ADMIN", "password": crate::helpers::ADMIN_PASSWORD});
    problem(
        app.post_json("/api/v1/auth/login", None, &right).await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    // Unknown user names are refused exactly like wrong passwords.
    let unknown = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "nobody", "password": "whatever123"}),
        )
        .await;
    assert_eq!(
        problem(unknown, StatusCode::UNAUTHORIZED).await["code"],
        "invalid_login"
    );
    // The per-client limit (10 in tests) then covers every user name from this address.
    for n in 0..6 {
        app.post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": format!("guess{n}"), "password": "x"}),
        )
        .await;
    }
    let other_user = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "someone", "password": "x"}),
        )
        .await;
    problem(other_user, StatusCode::TOO_MANY_REQUESTS).await;
}
