//! The audit log: who did what to accounts and tokens, refused attempts, the hash chain and
//! its verification, and the rule that a change whose entry cannot be written does not happen.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contract::tools::jenkins::{ADMIN_TOKEN, start_sim};
use crate::helpers::{ADMIN_PASSWORD, Backend, TestApp, eventually, jenkins, problem};
use crate::on_both_backends;

on_both_backends!(
    account_and_token_events_name_their_actor_and_origin,
    refused_requests_are_recorded_as_denied,
    verify_finds_an_edited_a_deleted_and_a_truncated_entry,
    a_change_whose_entry_cannot_be_written_does_not_happen,
    the_export_is_every_entry_as_ndjson_and_only_administrators_read_the_log,
    parallel_changes_keep_one_unbroken_chain,
    an_integrations_life_is_recorded_with_what_changed_and_where_secrets_went,
);

/// Entries matching `query` (a query string), newest first.
async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let page = app
        .get_json(&format!("/api/v1/audit-events?limit=200&{query}"))
        .await;
    page["items"].as_array().expect("items").clone()
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.get("/api/v1/auth/me", Some(token))
        .await
        .json()
        .await
        .expect("json")
}

async fn account_and_token_events_name_their_actor_and_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A failed sign-in names the user name tried, not an actor.
    let wrong = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "admin", "password": "not the password"}),
        )
        .await;
    problem(wrong, StatusCode::UNAUTHORIZED).await;
    let made = app
        .request(Method::POST, "/api/v1/tokens", Some(&app.admin_token))
        .header("user-agent", "audit-test/1.0")
        .header("x-request-id", "audit-request-1")
        .json(&json!({"name": "nightly", "scopes": ["read"]}))
        .send()
        .await
        .expect("token");
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.expect("json");
    let token = made["token"].as_str().expect("value").to_owned();
    let revoke = app
        .request(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", made["id"].as_str().expect("id")),
            Some(&app.admin_token),
        )
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let viewer = app.user_token("vera", "viewer").await;
    let vera = me(&app, &viewer).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.patch_json(
        &format!("/api/v1/users/{vera}"),
        Some(&app.admin_token),
        &json!({"role": "operator"}),
    )
    .await;
    let out = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&viewer))
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);

    let created = entries(&app, "action=token.created").await;
    assert_eq!(created.len(), 1, "{created:?}");
    let created = &created[0];
    assert_eq!(created["actor"], "admin");
    assert_eq!(created["actor_kind"], "person");
    assert_eq!(created["outcome"], "success");
    assert_eq!(created["target_type"], "token");
    assert_eq!(created["target_id"], made["id"]);
    assert_eq!(created["target"], "nightly");
    assert_eq!(created["client_address"], "127.0.0.1");
    assert_eq!(created["user_agent"], "audit-test/1.0");
    assert_eq!(created["request_id"], "audit-request-1");
    assert_eq!(created["changes"][0]["field"], "scopes");
    assert_eq!(created["changes"][0]["after"], json!(["read"]));
    assert_eq!(entries(&app, "action=token.revoked").await.len(), 1);

    let sign_ins = entries(&app, "action=auth.sign_in").await;
    let failed: Vec<_> = sign_ins
        .iter()
        .filter(|e| e["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{sign_ins:?}");
    assert_eq!(failed[0]["actor_kind"], "anonymous");
    assert_eq!(failed[0]["target"], "admin");
    assert!(
        sign_ins
            .iter()
            .any(|e| e["outcome"] == "success" && e["actor"] == "vera")
    );

    let role = entries(&app, &format!("action=user.changed&target={vera}")).await;
    assert_eq!(role.len(), 1, "{role:?}");
    assert_eq!(
        role[0]["changes"],
        json!([{"field": "role", "before": "viewer", "after": "operator"}])
    );
    let by_vera = entries(&app, "actor=vera").await;
    assert!(
        by_vera.iter().any(|e| e["action"] == "auth.sign_out"),
        "{by_vera:?}"
    );
    // Created users and the first administrator are there too.
    assert_eq!(
        entries(&app, "action=user.created&target=vera").await.len(),
        1
    );
    let first = entries(&app, "action=user.created&actor=switchboard").await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["actor_kind"], "system");

    // Reading the log shows no secret: no token value, no password.
    let everything = app
        .get_json("/api/v1/audit-events?limit=200")
        .await
        .to_string();
    for secret in [
        &token[4..],
        ADMIN_PASSWORD,
        "not the password",
        "vera password 123",
    ] {
        assert!(!everything.contains(secret), "the log holds a secret");
    }
}

async fn refused_requests_are_recorded_as_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let viewer = app.user_token("vera", "viewer").await;
    let refused = app
        .post_json(
            "/api/v1/users",
            Some(&viewer),
            &json!({"username": "eve", "password": "eve password 123", "role": "admin"}),
        )
        .await;
    problem(refused, StatusCode::FORBIDDEN).await;
    let read_only: Value = app
        .post_json(
            "/api/v1/tokens",
            Some(&app.admin_token),
            &json!({"name": "reader", "scopes": ["read"]}),
        )
        .await
        .json()
        .await
        .expect("json");
    let scoped = app
        .request(
            Method::POST,
            "/api/v1/runs/0000/cancel",
            Some(read_only["token"].as_str().expect("token")),
        )
        .send()
        .await
        .expect("request");
    problem(scoped, StatusCode::FORBIDDEN).await;

    let denied = entries(&app, "outcome=denied").await;
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert_eq!(denied[0]["action"], "denied: POST /api/v1/runs/{id}/cancel");
    assert_eq!(denied[0]["actor"], "admin");
    assert_eq!(denied[0]["token_id"], read_only["id"]);
    assert!(
        denied[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("trigger")),
        "{denied:?}"
    );
    assert_eq!(denied[1]["action"], "denied: POST /api/v1/users");
    assert_eq!(denied[1]["actor"], "vera");
    assert_eq!(
        entries(&app, "action=user.created&target=eve").await.len(),
        0
    );
}

async fn verified(app: &TestApp) -> Value {
    app.get_json("/api/v1/audit-events/verify").await
}

async fn some_events(app: &TestApp) {
    for name in ["a", "b", "c", "d"] {
        let response = app
            .post_json(
                "/api/v1/tokens",
                Some(&app.admin_token),
                &json!({"name": name, "scopes": ["read"]}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

async fn verify_finds_an_edited_a_deleted_and_a_truncated_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    some_events(&app).await;
    let good = verified(&app).await;
    assert_eq!(good["ok"], true, "{good}");
    assert!(good["checked"].as_i64().is_some_and(|n| n >= 5), "{good}");
    assert_eq!(good["first_broken"], Value::Null);

    // Edited: entry 3 says another action than it was written with.
    app.execute_sql("UPDATE audit_events SET target = 'renamed' WHERE seq = 3");
    let edited = verified(&app).await;
    assert_eq!(edited["ok"], false);
    assert_eq!(edited["first_broken"]["seq"], 3, "{edited}");
    assert_eq!(edited["checked"], 2);

    let app = TestApp::spawn(backend).await;
    some_events(&app).await;
    app.execute_sql("DELETE FROM audit_events WHERE seq = 2");
    let deleted = verified(&app).await;
    assert_eq!(deleted["first_broken"]["seq"], 2, "{deleted}");
    assert!(
        deleted["first_broken"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("missing")),
        "{deleted}"
    );

    let app = TestApp::spawn(backend).await;
    some_events(&app).await;
    let last = verified(&app).await["checked"].as_i64().expect("checked");
    app.execute_sql(&format!("DELETE FROM audit_events WHERE seq = {last}"));
    let truncated = verified(&app).await;
    assert_eq!(truncated["first_broken"]["seq"], last, "{truncated}");
}

async fn a_change_whose_entry_cannot_be_written_does_not_happen(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.execute_sql("ALTER TABLE audit_events RENAME TO audit_events_away");
    let refused = app
        .post_json(
            "/api/v1/tokens",
            Some(&app.admin_token),
            &json!({"name": "unrecorded", "scopes": ["read"]}),
        )
        .await;
    problem(refused, StatusCode::INTERNAL_SERVER_ERROR).await;
    let user = app
        .post_json(
            "/api/v1/users",
            Some(&app.admin_token),
            &json!({"username": "ghost", "password": "ghost password 123", "role": "viewer"}),
        )
        .await;
    problem(user, StatusCode::INTERNAL_SERVER_ERROR).await;
    let integration = app
        .post_json(
            "/api/v1/integrations",
            Some(&app.admin_token),
            &jenkins("Unrecorded"),
        )
        .await;
    problem(integration, StatusCode::INTERNAL_SERVER_ERROR).await;
    app.execute_sql("ALTER TABLE audit_events_away RENAME TO audit_events");
    assert_eq!(
        app.get_json("/api/v1/integrations").await["items"],
        json!([]),
        "the integration was not added"
    );
    assert_eq!(app.get_json("/api/v1/tokens").await["items"], json!([]));
    let users = app.get_json("/api/v1/users").await.to_string();
    assert!(!users.contains("ghost"), "the user was not added");
    assert_eq!(verified(&app).await["ok"], true);
}

async fn the_export_is_every_entry_as_ndjson_and_only_administrators_read_the_log(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    some_events(&app).await;
    let response = app
        .get("/api/v1/audit-events/export", Some(&app.admin_token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-ndjson")
    );
    let text = response.text().await.expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let listed = entries(&app, "").await;
    assert_eq!(lines.len(), listed.len());
    let seqs: Vec<i64> = lines.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert_eq!(
        seqs,
        (1..=lines.len() as i64).collect::<Vec<_>>(),
        "oldest first"
    );
    let filtered = app
        .get(
            "/api/v1/audit-events/export?action=token.created",
            Some(&app.admin_token),
        )
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(filtered.lines().count(), 4);

    // Paging newest first, by cursor.
    let first = app.get_json("/api/v1/audit-events?limit=2").await;
    let cursor = first["next_cursor"].as_str().expect("more");
    let second = app
        .get_json(&format!("/api/v1/audit-events?limit=2&cursor={cursor}"))
        .await;
    assert!(
        second["items"][0]["seq"].as_i64() < first["items"][1]["seq"].as_i64(),
        "{first} {second}"
    );

    let operator = app.user_token("otto", "operator").await;
    for path in [
        "/api/v1/audit-events",
        "/api/v1/audit-events/export",
        "/api/v1/audit-events/verify",
    ] {
        problem(app.get(path, Some(&operator)).await, StatusCode::FORBIDDEN).await;
    }
}

async fn parallel_changes_keep_one_unbroken_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sent: Vec<_> = (0..10)
        .map(|n| {
            let request = app
                .request(Method::POST, "/api/v1/tokens", Some(&app.admin_token))
                .json(&json!({"name": format!("p{n}"), "scopes": ["read"]}));
            actix_web::rt::spawn(async move { request.send().await.expect("request").status() })
        })
        .collect();
    for answer in sent {
        assert_eq!(answer.await.expect("task"), StatusCode::CREATED);
    }
    assert_eq!(entries(&app, "action=token.created").await.len(), 10);
    let chain = verified(&app).await;
    assert_eq!(chain["ok"], true, "{chain}");
}

/// The entry of `action` about `target`, the only one.
async fn only_entry(app: &TestApp, action: &str, target: &str) -> Value {
    let found = entries(app, &format!("action={action}&target={target}")).await;
    assert_eq!(found.len(), 1, "{action}: {found:?}");
    found[0].clone()
}

fn change_of<'a>(entry: &'a Value, field: &str) -> &'a Value {
    entry["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|change| change["field"] == field)
        .unwrap_or_else(|| panic!("no change of {field} in {entry}"))
}

async fn an_integrations_life_is_recorded_with_what_changed_and_where_secrets_went(
    backend: Backend,
) {
    let sim = start_sim(0).await;
    let app = TestApp::spawn(backend).await;
    let origin = sim
        .url
        .trim_end_matches('/')
        .trim_end_matches("/jenkins")
        .to_owned();
    let created = app
        .create(&json!({
            "name": "Payments Jenkins",
            "tool": "jenkins",
            "urls": {"apiUrl": sim.url},
            "credentials": {"username": "admin", "apiToken": ADMIN_TOKEN}
        }))
        .await;
    let id = created["id"].as_str().expect("id").to_owned();

    let entry = only_entry(&app, "integration.created", &id).await;
    assert_eq!(entry["actor"], "admin");
    assert_eq!(entry["target_type"], "integration");
    assert_eq!(entry["target"], "Payments Jenkins");
    assert_eq!(change_of(&entry, "name")["after"], "Payments Jenkins");
    assert_eq!(change_of(&entry, "tool")["after"], "jenkins");
    assert_eq!(change_of(&entry, "urls.apiUrl")["after"], json!(sim.url));
    assert_eq!(change_of(&entry, "credentials.username")["after"], "admin");
    let secret = change_of(&entry, "credentials.apiToken");
    assert_eq!(secret["before"], Value::Null);
    assert_eq!(secret["after"]["changed"], true);
    let fingerprint = secret["after"]["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();
    assert_eq!(fingerprint.len(), 8);

    // A rename records the name only; the same secret entered again records its
    // replacement with the same fingerprint.
    let renamed = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"name": "Payments CI"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let replaced = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"credentials": {"apiToken": ADMIN_TOKEN}}),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let changed = entries(&app, &format!("action=integration.changed&target={id}")).await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    let (replacement, rename) = (&changed[0], &changed[1]);
    assert_eq!(
        rename["changes"],
        json!([{"field": "name", "before": "Payments Jenkins", "after": "Payments CI"}])
    );
    assert_eq!(
        replacement["changes"],
        json!([{
            "field": "credentials.apiToken",
            "before": {"configured": true},
            "after": {"changed": true, "fingerprint": fingerprint}
        }])
    );

    // Uses of the stored secrets name the origin they were sent to.
    let checked = app
        .post_json(
            &format!("/api/v1/integrations/{id}/test"),
            Some(&app.admin_token),
            &json!({}),
        )
        .await;
    assert_eq!(checked.status(), StatusCode::OK);
    let entry = only_entry(&app, "integration.checked", &id).await;
    assert_eq!(entry["outcome"], "success");
    assert!(
        entry["detail"].as_str().expect("detail").contains(&origin),
        "{entry}"
    );
    let tested = app
        .post_json(
            "/api/v1/integrations/test",
            Some(&app.admin_token),
            &json!({"id": id, "tool": "jenkins", "urls": {"apiUrl": sim.url},
                    "credentials": {"username": "admin"}}),
        )
        .await;
    assert_eq!(tested.status(), StatusCode::OK);
    let entry = only_entry(&app, "integration.tested", &id).await;
    assert!(
        entry["detail"].as_str().expect("detail").contains(&origin),
        "{entry}"
    );
    let synced = app
        .post_json(
            &format!("/api/v1/integrations/{id}/sync"),
            Some(&app.admin_token),
            &json!({}),
        )
        .await;
    assert_eq!(synced.status(), StatusCode::OK);
    assert_eq!(
        only_entry(&app, "integration.synced", &id).await["outcome"],
        "success"
    );

    // Runs triggered and cancelled.
    let endless = app
        .get_json(&format!("/api/v1/pipelines?integration_id={id}&q=endless"))
        .await["items"][0]["id"]
        .as_str()
        .expect("pipeline")
        .to_owned();
    let run: Value = app
        .post_json(
            &format!("/api/v1/pipelines/{endless}/runs"),
            Some(&app.admin_token),
            &json!({"parameters": {}}),
        )
        .await
        .json()
        .await
        .expect("run");
    let run_id = run["id"].as_str().expect("run id").to_owned();
    let entry = only_entry(&app, "run.triggered", &run_id).await;
    assert_eq!(entry["actor"], "admin");
    assert_eq!(entry["target_type"], "run");
    assert_eq!(entry["target"], "Payments CI / endless");
    eventually("the run to start", || async {
        let run = app.get_json(&format!("/api/v1/runs/{run_id}")).await;
        (run["status"] == "running").then_some(())
    })
    .await;
    let cancel = app
        .post_json(
            &format!("/api/v1/runs/{run_id}/cancel"),
            Some(&app.admin_token),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    assert_eq!(
        only_entry(&app, "run.cancelled", &run_id).await["outcome"],
        "success"
    );

    // Once past the retention period, the finished run is purged by Switchboard itself.
    eventually("the run to end as cancelled", || async {
        let run = app.get_json(&format!("/api/v1/runs/{run_id}")).await;
        (run["status"] == "cancelled").then_some(())
    })
    .await;
    app.execute_sql(&format!(
        "UPDATE runs SET finished_at = '2001-01-01 00:00:00' WHERE id = '{run_id}'"
    ));
    eventually("the run to be purged", || async {
        let answer = app
            .get(&format!("/api/v1/runs/{run_id}"), Some(&app.admin_token))
            .await;
        (answer.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    let purged = entries(&app, "action=runs.purged").await;
    assert_eq!(purged.len(), 1, "{purged:?}");
    assert_eq!(purged[0]["actor_kind"], "system");
    assert!(
        purged[0]["detail"]
            .as_str()
            .expect("detail")
            .starts_with("1 run that finished before"),
        "{}",
        purged[0]
    );

    // Settings: a tool switched off, the approval policy.
    let off = app
        .patch_json(
            "/api/v1/tools/buildbot",
            Some(&app.admin_token),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let entry = only_entry(&app, "tool.changed", "buildbot").await;
    assert_eq!(
        entry["changes"],
        json!([{"field": "enabled", "before": true, "after": false}])
    );
    let policy = app
        .request(
            Method::PUT,
            "/api/v1/approval-policy",
            Some(&app.admin_token),
        )
        .json(&json!({"enabled": false, "approvals_required": 2, "open_days": 14}))
        .send()
        .await
        .expect("policy");
    assert_eq!(policy.status(), StatusCode::OK);
    let entry = entries(&app, "action=approval_policy.changed").await;
    assert_eq!(entry.len(), 1, "{entry:?}");
    assert_eq!(
        entry[0]["changes"],
        json!([{"field": "approvals_required", "before": 1, "after": 2}])
    );

    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let entry = only_entry(&app, "integration.deleted", &id).await;
    assert_eq!(change_of(&entry, "name")["before"], "Payments CI");

    // The integration's history, newest first; no secret anywhere in the log.
    let history: Vec<String> = entries(&app, &format!("target={id}"))
        .await
        .iter()
        .map(|entry| entry["action"].as_str().expect("action").to_owned())
        .collect();
    assert_eq!(
        history,
        [
            "integration.deleted",
            "integration.synced",
            "integration.tested",
            "integration.checked",
            "integration.changed",
            "integration.changed",
            "integration.created",
        ]
    );
    let everything = app
        .get_json("/api/v1/audit-events?limit=200")
        .await
        .to_string();
    assert!(!everything.contains(ADMIN_TOKEN), "the log holds a secret");
    assert_eq!(verified(&app).await["ok"], true);
}
