//! API tokens, service accounts, signing out and one's own password.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, fields, jenkins, problem};
use crate::on_both_backends;

on_both_backends!(
    a_token_is_shown_once_and_works_as_a_bearer_within_its_scopes,
    every_route_needs_its_scope_and_its_owners_role,
    the_owners_role_still_limits_a_token,
    revoked_and_expired_tokens_say_which_also_on_another_replica,
    last_use_is_recorded_at_most_once_a_minute,
    service_accounts_act_only_through_their_tokens,
    signing_out_ends_the_session_on_every_replica,
    changing_ones_own_password_needs_the_current_one,
    parallel_creations_never_pass_the_cap_of_active_tokens,
);

/// What each documented operation needs of a token — its scope, and the least role of the
/// token's owner (with approval off, as these apps start) — written out here rather than read
/// from the server, so that a route given the wrong scope or role fails this list. `-`: any
/// credential; `session`: no token at all.
fn expected_needs() -> BTreeMap<&'static str, (&'static str, &'static str)> {
    BTreeMap::from([
        ("GET /healthz", ("read", "viewer")),
        ("GET /readyz", ("read", "viewer")),
        ("GET /metrics", ("read", "viewer")),
        ("GET /api/openapi.json", ("read", "viewer")),
        ("GET /api/docs", ("read", "viewer")),
        ("POST /api/v1/auth/login", ("-", "viewer")),
        ("GET /api/v1/auth/me", ("-", "viewer")),
        ("POST /api/v1/auth/logout", ("-", "viewer")),
        ("POST /api/v1/auth/password", ("session", "viewer")),
        ("GET /api/v1/tools", ("read", "viewer")),
        ("GET /api/v1/tools/{id}", ("read", "viewer")),
        ("PATCH /api/v1/tools/{id}", ("manage_integrations", "admin")),
        ("GET /api/v1/integrations", ("read", "viewer")),
        (
            "POST /api/v1/integrations",
            ("manage_integrations", "admin"),
        ),
        (
            "POST /api/v1/integrations/test",
            ("manage_integrations", "admin"),
        ),
        ("GET /api/v1/integrations/{id}", ("read", "viewer")),
        (
            "DELETE /api/v1/integrations/{id}",
            ("manage_integrations", "admin"),
        ),
        (
            "PATCH /api/v1/integrations/{id}",
            ("manage_integrations", "admin"),
        ),
        (
            "POST /api/v1/integrations/{id}/test",
            ("trigger", "operator"),
        ),
        (
            "POST /api/v1/integrations/{id}/sync",
            ("trigger", "operator"),
        ),
        ("GET /api/v1/pipelines", ("read", "viewer")),
        ("GET /api/v1/pipelines/{id}", ("read", "viewer")),
        ("GET /api/v1/pipelines/{id}/runs", ("read", "viewer")),
        ("POST /api/v1/pipelines/{id}/runs", ("trigger", "operator")),
        ("GET /api/v1/runs", ("read", "viewer")),
        ("GET /api/v1/runs/{id}", ("read", "viewer")),
        ("GET /api/v1/runs/{id}/log", ("read", "viewer")),
        ("POST /api/v1/runs/{id}/cancel", ("trigger", "operator")),
        ("GET /api/v1/users", ("read", "admin")),
        ("POST /api/v1/users", ("manage_users", "admin")),
        ("GET /api/v1/users/{id}", ("read", "admin")),
        ("PATCH /api/v1/users/{id}", ("manage_users", "admin")),
        ("GET /api/v1/tokens", ("read", "viewer")),
        ("POST /api/v1/tokens", ("manage_users", "viewer")),
        ("DELETE /api/v1/tokens/{id}", ("manage_users", "viewer")),
        ("GET /api/v1/service-accounts", ("read", "admin")),
        ("POST /api/v1/service-accounts", ("manage_users", "admin")),
        ("GET /api/v1/service-accounts/{id}", ("read", "admin")),
        (
            "PATCH /api/v1/service-accounts/{id}",
            ("manage_users", "admin"),
        ),
        (
            "GET /api/v1/service-accounts/{id}/tokens",
            ("read", "admin"),
        ),
        (
            "POST /api/v1/service-accounts/{id}/tokens",
            ("manage_users", "admin"),
        ),
        ("GET /api/v1/approval-policy", ("read", "viewer")),
        (
            "PUT /api/v1/approval-policy",
            ("manage_integrations", "admin"),
        ),
        ("GET /api/v1/change-requests", ("read", "viewer")),
        (
            "POST /api/v1/change-requests",
            ("manage_integrations", "operator"),
        ),
        ("GET /api/v1/change-requests/{id}", ("read", "viewer")),
        (
            "PATCH /api/v1/change-requests/{id}",
            ("manage_integrations", "operator"),
        ),
        (
            "POST /api/v1/change-requests/{id}/comments",
            ("manage_integrations", "operator"),
        ),
        (
            "POST /api/v1/change-requests/{id}/reviews",
            ("manage_integrations", "admin"),
        ),
        (
            "POST /api/v1/change-requests/{id}/withdraw",
            ("manage_integrations", "viewer"),
        ),
        (
            "POST /api/v1/change-requests/{id}/dry-run",
            ("manage_integrations", "operator"),
        ),
        ("GET /api/v1/audit-events", ("read", "admin")),
        ("GET /api/v1/audit-events/export", ("read", "admin")),
        ("GET /api/v1/audit-events/verify", ("read", "admin")),
    ])
}

const SCOPES: [&str; 4] = ["read", "trigger", "manage_integrations", "manage_users"];

/// Makes a personal token with `scopes` for the holder of `session`; returns the whole answer.
async fn make_token(app: &TestApp, session: &str, scopes: &[&str]) -> Value {
    let response = app
        .post_json(
            "/api/v1/tokens",
            Some(session),
            &json!({"name": format!("{scopes:?}"), "scopes": scopes}),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn value(created: &Value) -> String {
    created["token"].as_str().expect("token").to_owned()
}

async fn status_of(app: &TestApp, method: Method, path: &str, token: &str) -> StatusCode {
    app.request(method, path, Some(token))
        .send()
        .await
        .expect("request")
        .status()
}

async fn me(app: &TestApp, token: &str) -> Value {
    let response = app.get("/api/v1/auth/me", Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn a_token_is_shown_once_and_works_as_a_bearer_within_its_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = make_token(&app, &app.admin_token, &["read"]).await;
    let token = value(&created);
    let pattern = regex_like(&token);
    assert!(pattern, "{token} has the documented format");
    assert_eq!(created["kind"], "personal");
    assert_eq!(created["scopes"], json!(["read"]));
    assert_eq!(created["state"], "active");
    let days = (chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().expect("at"))
        .expect("time")
        - chrono::DateTime::parse_from_rfc3339(created["created_at"].as_str().expect("at"))
            .expect("time"))
    .num_days();
    assert!((89..=90).contains(&days), "90 days by default, not {days}");

    let caller = me(&app, &token).await;
    assert_eq!(caller["username"], "admin");
    assert_eq!(caller["scopes"], json!(["read"]));
    assert_eq!(caller["token_id"], created["id"]);
    assert_eq!(
        status_of(&app, Method::GET, "/api/v1/integrations", &token).await,
        StatusCode::OK
    );
    let refused = app
        .post_json(
            "/api/v1/integrations",
            Some(&token),
            &jenkins("Not with read"),
        )
        .await;
    assert_eq!(
        refused
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(
            "Bearer realm=\"switchboard\", error=\"insufficient_scope\", scope=\"manage_integrations\""
        )
    );
    assert_eq!(
        problem(refused, StatusCode::FORBIDDEN).await["code"],
        "insufficient_scope"
    );
    assert_eq!(
        app.get_json("/api/v1/integrations").await["items"],
        json!([])
    );

    // A typo is refused by the checksum; a well-formed token never issued gets the same answer.
    let mut typo = token.clone().into_bytes();
    let last = typo.len() - 10;
    typo[last] = if typo[last] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).expect("ascii");
    // Issued by another installation: the right format and checksum, unknown here.
    let other = TestApp::spawn(Backend::Sqlite).await;
    let stranger = value(&make_token(&other, &other.admin_token, &["read"]).await);
    let typo_answer = problem(
        app.get("/api/v1/integrations", Some(&typo)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let stranger_answer = problem(
        app.get("/api/v1/integrations", Some(&stranger)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(typo_answer, stranger_answer);
    assert_eq!(typo_answer["code"], "unauthenticated");

    // Never again: not in lists, not in the database.
    let lists = [
        app.get_json("/api/v1/tokens").await,
        app.get_json("/api/v1/auth/me").await,
        me(&app, &token).await,
    ];
    for list in &lists {
        assert!(!list.to_string().contains(&token[4..]), "{list}");
    }
    assert_eq!(lists[0]["items"][0]["id"], created["id"]);
    assert!(lists[0]["items"][0].get("token").is_none());
    let stored = app.raw_database();
    assert!(
        !stored
            .windows(token.len() - 4)
            .any(|window| window == &token.as_bytes()[4..]),
        "the database keeps only a keyed hash"
    );
}

/// Whether `token` matches `\bsb[ps]_[0-9A-Za-z]{46}\b` (the README's expression).
fn regex_like(token: &str) -> bool {
    (token.starts_with("sbp_") || token.starts_with("sbs_"))
        && token.len() == 50
        && token[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

async fn every_route_needs_its_scope_and_its_owners_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let spec: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .expect("spec");
    let expected = expected_needs();
    let mut documented = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let listed: Vec<String> = expected.keys().map(|k| (*k).to_owned()).collect();
    assert_eq!(
        documented, listed,
        "every documented operation is listed here"
    );

    // Every scope each role can hold, each on a token of its own.
    let mut tokens = Vec::new();
    for (role, scopes) in [
        ("viewer", &SCOPES[..1]),
        ("operator", &SCOPES[..3]),
        ("admin", &SCOPES[..]),
    ] {
        let session = if role == "admin" {
            app.admin_token.clone()
        } else {
            app.user_token(&format!("{role}-owner"), role).await
        };
        for scope in scopes {
            tokens.push((
                role,
                *scope,
                value(&make_token(&app, &session, &[scope]).await),
            ));
        }
    }
    let rank = |role: &str| {
        ["viewer", "operator", "admin"]
            .iter()
            .position(|r| *r == role)
    };
    for (operation, (needed, least_role)) in &expected {
        if *operation == "POST /api/v1/auth/logout" {
            continue; // It would end the token; `signing_out…` covers it.
        }
        let (method, path) = operation.split_once(' ').expect("operation");
        let method: Method = method.parse().expect("method");
        let path = path.replace("{id}", "0000");
        for (role, scope, token) in &tokens {
            let mut request = app.request(method.clone(), &path, Some(token));
            if matches!(method, Method::POST | Method::PATCH | Method::PUT) {
                request = request.json(&json!({}));
            }
            let response = request.send().await.expect("request");
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let want = match *needed {
                "-" => None,
                "session" => Some("forbidden"),
                needed if needed != *scope => Some("insufficient_scope"),
                _ if rank(role) < rank(least_role) => Some("forbidden"),
                _ => None,
            };
            let case = format!("{operation} with a {role}'s `{scope}` token: {status} {body}");
            match want {
                Some(code) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{case}");
                    assert_eq!(body["code"], code, "{case}");
                    if code == "insufficient_scope" {
                        assert!(
                            body["detail"].as_str().is_some_and(|d| d.contains(needed)),
                            "{case}"
                        );
                    }
                }
                None => assert_ne!(status, StatusCode::FORBIDDEN, "{case}"),
            }
        }
    }
}

async fn the_owners_role_still_limits_a_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let viewer = app.user_token("vera", "viewer").await;
    let refused = app
        .post_json(
            "/api/v1/tokens",
            Some(&viewer),
            &json!({"name": "too much", "scopes": ["read", "trigger"]}),
        )
        .await;
    let refused = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&refused), ["scopes"]);
    assert_eq!(refused["errors"][0]["code"], "beyond_role");

    let operator = app.user_token("otto", "operator").await;
    let otto = me(&app, &operator).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let token =
        value(&make_token(&app, &operator, &["read", "trigger", "manage_integrations"]).await);
    // An operator's `manage_integrations` token still cannot do what an operator cannot.
    let denied = app
        .patch_json(
            "/api/v1/tools/jenkins",
            Some(&token),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(
        problem(denied, StatusCode::FORBIDDEN).await["code"],
        "forbidden"
    );
    assert_ne!(
        status_of(&app, Method::POST, "/api/v1/runs/0000/cancel", &token).await,
        StatusCode::FORBIDDEN
    );
    // Demoted, the token keeps its scopes but loses what the role no longer allows — at once.
    let demoted = app
        .patch_json(
            &format!("/api/v1/users/{otto}"),
            Some(&app.admin_token),
            &json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    let cancel = app
        .request(Method::POST, "/api/v1/runs/0000/cancel", Some(&token))
        .send()
        .await
        .expect("request");
    assert_eq!(
        problem(cancel, StatusCode::FORBIDDEN).await["code"],
        "forbidden"
    );
    assert_eq!(me(&app, &token).await["role"], "viewer");
    // A disabled owner's tokens stop at once.
    app.patch_json(
        &format!("/api/v1/users/{otto}"),
        Some(&app.admin_token),
        &json!({"disabled": true}),
    )
    .await;
    problem(
        app.get("/api/v1/integrations", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

async fn revoked_and_expired_tokens_say_which_also_on_another_replica(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let replica = app.replica();
    let created = make_token(&app, &app.admin_token, &["read"]).await;
    let token = value(&created);
    let id = created["id"].as_str().expect("id").to_owned();
    let on_replica = |path: &str| app.client.get(replica.url(path)).bearer_auth(&token).send();
    assert_eq!(
        on_replica("/api/v1/integrations")
            .await
            .expect("request")
            .status(),
        StatusCode::OK
    );
    let revoked = app
        .request(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let answer = on_replica("/api/v1/integrations").await.expect("request");
    assert_eq!(
        answer
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"switchboard\", error=\"invalid_token\"")
    );
    assert_eq!(
        problem(answer, StatusCode::UNAUTHORIZED).await["code"],
        "token_revoked"
    );
    let listed = app.get_json("/api/v1/tokens").await;
    assert_eq!(listed["items"][0]["state"], "revoked");
    assert_eq!(listed["items"][0]["revoked_by"], "admin");
    // Revoking again changes nothing.
    let again = app
        .request(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_json("/api/v1/tokens").await, listed);

    let expiring = make_token(&app, &app.admin_token, &["read"]).await;
    let expiring_id = expiring["id"].as_str().expect("id");
    app.execute_sql(&format!(
        "UPDATE api_tokens SET expires_at = created_at WHERE id = '{expiring_id}'"
    ));
    let expired = app
        .client
        .get(replica.url("/api/v1/integrations"))
        .bearer_auth(value(&expiring))
        .send()
        .await
        .expect("request");
    assert_eq!(
        problem(expired, StatusCode::UNAUTHORIZED).await["code"],
        "token_expired"
    );
    let bad_expiry = app
        .post_json(
            "/api/v1/tokens",
            Some(&app.admin_token),
            &json!({"name": "forever", "scopes": ["read"], "expires_in_days": 366}),
        )
        .await;
    assert_eq!(
        fields(&problem(bad_expiry, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["expires_in_days"]
    );
}

async fn last_use_is_recorded_at_most_once_a_minute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = make_token(&app, &app.admin_token, &["read"]).await;
    let token = value(&created);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["last_used_at"], Value::Null);
    let last_use = || async {
        let listed = app.get_json("/api/v1/tokens").await;
        let token = listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|t| t["id"] == json!(id))
            .cloned()
            .expect("listed");
        (
            token["last_used_at"].clone(),
            token["last_used_from"].clone(),
        )
    };
    me(&app, &token).await;
    let (first, from) = last_use().await;
    assert!(first.is_string(), "recorded");
    assert_eq!(from, "127.0.0.1");
    me(&app, &token).await;
    assert_eq!(last_use().await.0, first, "not again within the minute");
    app.execute_sql(&format!(
        "UPDATE api_tokens SET last_used_at = '2000-01-01 00:00:00' WHERE id = '{id}'"
    ));
    let (backdated, _) = last_use().await;
    assert_eq!(backdated, "2000-01-01T00:00:00Z");
    me(&app, &token).await;
    let (later, _) = last_use().await;
    assert_ne!(later, backdated, "recorded again a minute later");
}

async fn service_accounts_act_only_through_their_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app
        .post_json(
            "/api/v1/service-accounts",
            Some(&app.admin_token),
            &json!({"name": "release-bot", "role": "operator"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned();
    let account: Value = created.json().await.expect("json");
    assert_eq!(
        location,
        format!(
            "/api/v1/service-accounts/{}",
            account["id"].as_str().expect("id")
        )
    );
    assert_eq!(account["created_by"], "admin");
    assert_eq!(app.get_json(&location).await["name"], "release-bot");
    // One namespace with users; not a user in the users list; never signs in.
    let taken = app
        .post_json(
            "/api/v1/users",
            Some(&app.admin_token),
            &json!({"username": "release-bot", "password": "a password long enough", "role": "viewer"}),
        )
        .await;
    assert_eq!(
        problem(taken, StatusCode::CONFLICT).await["code"],
        "name_taken"
    );
    let users = app.get_json("/api/v1/users").await;
    assert!(!users.to_string().contains("release-bot"));
    let login = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "release-bot", "password": ""}),
        )
        .await;
    problem(login, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        app.get(
            &format!("/api/v1/users/{}", account["id"].as_str().expect("id")),
            Some(&app.admin_token)
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );

    let tokens_path = format!("{location}/tokens");
    let beyond = app
        .post_json(
            &tokens_path,
            Some(&app.admin_token),
            &json!({"name": "ci", "scopes": ["manage_users"]}),
        )
        .await;
    problem(beyond, StatusCode::UNPROCESSABLE_ENTITY).await;
    let minted = app
        .post_json(
            &tokens_path,
            Some(&app.admin_token),
            &json!({"name": "ci", "scopes": ["read", "trigger"], "expires_in_days": 30}),
        )
        .await;
    assert_eq!(minted.status(), StatusCode::CREATED);
    let minted: Value = minted.json().await.expect("json");
    let token = value(&minted);
    assert!(token.starts_with("sbs_"), "{token}");
    assert_eq!(minted["kind"], "service_account");
    assert_eq!(minted["owner_name"], "release-bot");
    let caller = me(&app, &token).await;
    assert_eq!(caller["kind"], "service_account");
    assert_eq!(caller["role"], "operator");
    let listed = app.get_json(&tokens_path).await;
    assert_eq!(listed["items"][0]["id"], minted["id"]);
    assert!(!listed.to_string().contains(&token[4..]));
    assert_eq!(app.get_json(&location).await["active_tokens"], 1);
    // A service account makes no tokens of its own, and has no password to change.
    let own = app
        .post_json(
            "/api/v1/tokens",
            Some(&token),
            &json!({"name": "self", "scopes": ["read"]}),
        )
        .await;
    problem(own, StatusCode::FORBIDDEN).await;

    // Only administrators manage service accounts.
    let operator = app.user_token("otto", "operator").await;
    for (method, path) in [
        (Method::GET, "/api/v1/service-accounts".to_owned()),
        (Method::GET, location.clone()),
        (Method::GET, tokens_path.clone()),
    ] {
        assert_eq!(
            status_of(&app, method, &path, &operator).await,
            StatusCode::FORBIDDEN
        );
    }
    let mint = app
        .post_json(
            &tokens_path,
            Some(&operator),
            &json!({"name": "x", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(mint.status(), StatusCode::FORBIDDEN);
    // Someone else's token is not theirs to revoke (and not told to exist).
    let minted_id = minted["id"].as_str().expect("id");
    assert_eq!(
        status_of(
            &app,
            Method::DELETE,
            &format!("/api/v1/tokens/{minted_id}"),
            &operator
        )
        .await,
        StatusCode::NOT_FOUND
    );

    // Disabling the account stops its tokens at once; enabling brings them back.
    let disabled = app
        .patch_json(
            &location,
            Some(&app.admin_token),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    problem(
        app.get("/api/v1/integrations", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    app.patch_json(
        &location,
        Some(&app.admin_token),
        &json!({"disabled": false}),
    )
    .await;
    assert_eq!(
        status_of(&app, Method::GET, "/api/v1/integrations", &token).await,
        StatusCode::OK
    );
    let page = app.get_json("/api/v1/service-accounts").await;
    assert_eq!(page["items"][0]["name"], "release-bot");
    assert_eq!(page["items"][0]["active_tokens"], 1);
}

async fn signing_out_ends_the_session_on_every_replica(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let replica = app.replica();
    let other_session = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let session = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let out = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&session))
        .send()
        .await
        .expect("request");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = app
        .client
        .get(replica.url("/api/v1/auth/me"))
        .bearer_auth(&session)
        .send()
        .await
        .expect("request");
    problem(after, StatusCode::UNAUTHORIZED).await;
    problem(
        app.get("/api/v1/auth/me", Some(&session)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        me(&app, &other_session).await["username"],
        "admin",
        "only that session"
    );

    // Signing out with a token ends that token.
    let token = value(&make_token(&app, &other_session, &["read"]).await);
    let out = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&token))
        .send()
        .await
        .expect("request");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        problem(
            app.get("/api/v1/auth/me", Some(&token)).await,
            StatusCode::UNAUTHORIZED
        )
        .await["code"],
        "token_revoked"
    );
}

async fn changing_ones_own_password_needs_the_current_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let session = app.user_token("vera", "viewer").await;
    let other = app.login("vera", "vera password 123").await;
    let wrong = app
        .post_json(
            "/api/v1/auth/password",
            Some(&session),
            &json!({"current_password": "not it at all", "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(
        fields(&problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["current_password"]
    );
    let changed = app
        .post_json(
            "/api/v1/auth/password",
            Some(&session),
            &json!({"current_password": "vera password 123", "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let fresh: Value = changed.json().await.expect("json");
    let fresh = fresh["access_token"].as_str().expect("token");
    for ended in [&session, &other] {
        problem(
            app.get("/api/v1/auth/me", Some(ended)).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    assert_eq!(me(&app, fresh).await["username"], "vera");
    app.login("vera", "a brand new password").await;

    // Tokens cannot change passwords.
    let token = value(&make_token(&app, &app.admin_token, &SCOPES).await);
    let by_token = app
        .post_json(
            "/api/v1/auth/password",
            Some(&token),
            &json!({"current_password": crate::helpers::ADMIN_PASSWORD, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(
        problem(by_token, StatusCode::FORBIDDEN).await["code"],
        "forbidden"
    );

    // An administrator setting their own password through the users API proves it too.
    let admin_id = me(&app, &app.admin_token).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/v1/users/{admin_id}");
    let unproven = app
        .patch_json(
            &path,
            Some(&app.admin_token),
            &json!({"password": "another new password"}),
        )
        .await;
    assert_eq!(
        fields(&problem(unproven, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["current_password"]
    );
    let proven = app
        .patch_json(
            &path,
            Some(&app.admin_token),
            &json!({"password": "another new password", "current_password": crate::helpers::ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(proven.status(), StatusCode::OK);
    app.login("admin", "another new password").await;
}

async fn parallel_creations_never_pass_the_cap_of_active_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for n in 0..95 {
        let response = app
            .post_json(
                "/api/v1/tokens",
                Some(&app.admin_token),
                &json!({"name": format!("t{n}"), "scopes": ["read"], "expires_in_days": 1}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let sent: Vec<_> = (0..10)
        .map(|n| {
            let request = app
                .request(Method::POST, "/api/v1/tokens", Some(&app.admin_token))
                .json(&json!({"name": format!("p{n}"), "scopes": ["read"]}));
            actix_web::rt::spawn(async move { request.send().await.expect("request").status() })
        })
        .collect();
    let mut answers = Vec::new();
    for answer in sent {
        answers.push(answer.await.expect("request task"));
    }
    let created = answers
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert_eq!((created, refused), (5, 5), "{answers:?}");
    let listed = app.get_json("/api/v1/tokens").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(100));
}
