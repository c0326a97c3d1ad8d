//! Prior discussion and approval, on both backends: the integrations API answers 202 with a
//! change request while approval is on; four eyes (an author or editor never approves, a
//! sole administrator only with a reason); a new revision resets approvals; racing approvals
//! apply once; a request written against a changed integration is a conflict; expiry; a
//! pending integration is never contacted; a request's secrets never leave sealed.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contract::plain_http::PlainHttp;
use crate::contract::tools::jenkins::{ADMIN_TOKEN, start_sim};
use crate::helpers::{Backend, TestApp, eventually, fields, problem};
use crate::on_both_backends;

on_both_backends!(
    an_operator_submits_and_another_administrator_approves_four_eyes,
    a_sole_administrator_approves_their_own_request_only_with_a_reason,
    a_new_revision_resets_approvals_and_a_review_of_an_older_one_is_refused,
    administrators_approving_at_the_same_moment_apply_once,
    a_request_written_against_a_changed_integration_is_a_conflict_until_rebased,
    an_undecided_request_expires_and_takes_its_pending_integration,
    a_pending_integration_is_never_contacted,
    a_requests_secret_is_never_shown_and_never_stored_in_plaintext,
    only_urls_and_secrets_need_approval_and_the_safe_direction_stays_direct,
    the_policy_and_tools_are_changed_through_requests_while_approval_is_on,
    a_dry_run_checks_the_proposed_connection_and_counts_pipelines,
    a_dry_run_with_a_kept_secret_is_in_the_integrations_history,
);

const SECRET: &str = "11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3";

async fn approval_on(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| config.approval_at_first_start = true).await
}

fn jenkins_body(name: &str, url: &str, token: &str) -> Value {
    json!({
        "name": name,
        "tool": "jenkins",
        "urls": {"apiUrl": url},
        "credentials": {"username": "admin", "apiToken": token},
        "business_need": "The payments team deploys from this controller."
    })
}

async fn json_of(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).expect("json")
}

/// Submits a new integration through the integrations API: 202, `Location` the request.
async fn submit(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = app
        .post_json("/api/v1/integrations", Some(token), body)
        .await;
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let request = json_of(response, StatusCode::ACCEPTED).await;
    assert_eq!(
        location.as_deref(),
        Some(
            format!(
                "/api/v1/change-requests/{}",
                request["id"].as_str().expect("id")
            )
            .as_str()
        )
    );
    assert_eq!(request["state"], "open");
    assert_eq!(request["kind"], "create_integration");
    request
}

async fn review(
    app: &TestApp,
    token: &str,
    request: &Value,
    decision: &str,
    comment: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"decision": decision, "revision": request["revision"]});
    if let Some(comment) = comment {
        body["comment"] = json!(comment);
    }
    app.post_json(
        &format!(
            "/api/v1/change-requests/{}/reviews",
            request["id"].as_str().expect("id")
        ),
        Some(token),
        &body,
    )
    .await
}

async fn read(app: &TestApp, token: &str, request: &Value) -> Value {
    let response = app
        .get(
            &format!(
                "/api/v1/change-requests/{}",
                request["id"].as_str().expect("id")
            ),
            Some(token),
        )
        .await;
    json_of(response, StatusCode::OK).await
}

fn states(request: &Value) -> Vec<String> {
    request["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|entry| entry["kind"] == "state")
        .map(|entry| entry["state"].as_str().expect("state").to_owned())
        .collect()
}

async fn integrations(app: &TestApp) -> Vec<Value> {
    app.get_json("/api/v1/integrations?limit=200").await["items"]
        .as_array()
        .expect("items")
        .clone()
}

async fn an_operator_submits_and_another_administrator_approves_four_eyes(backend: Backend) {
    let sim = start_sim(0).await;
    let app = approval_on(backend).await;
    let operator = app.user_token("otto", "operator").await;
    let ada = app.user_token("ada", "admin").await;
    let bea = app.user_token("bea", "admin").await;

    // Without a business need the submission is refused on that field.
    let mut without_need = jenkins_body("Jenkins", &sim.url, ADMIN_TOKEN);
    without_need
        .as_object_mut()
        .expect("object")
        .remove("business_need");
    let refused = problem(
        app.post_json("/api/v1/integrations", Some(&operator), &without_need)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&refused), ["business_need"]);

    let request = submit(
        &app,
        &operator,
        &jenkins_body("Jenkins", &sim.url, ADMIN_TOKEN),
    )
    .await;
    assert_eq!(request["author"], "otto");
    assert_eq!(request["actions"]["approve"]["allowed"], false);
    // The new integration is listed, pending, naming its request; nothing else is live.
    let listed = integrations(&app).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "pending_approval");
    assert_eq!(listed[0]["change_request_id"], request["id"]);
    let integration_id = listed[0]["id"].as_str().expect("id").to_owned();

    // An administrator comments; the operator revises; ada wrote no revision.
    let comment = app
        .post_json(
            &format!(
                "/api/v1/change-requests/{}/comments",
                request["id"].as_str().expect("id")
            ),
            Some(&ada),
            &json!({"body": "Which team owns it?\nPlease name it after them."}),
        )
        .await;
    let commented = json_of(comment, StatusCode::CREATED).await;
    let comment_id = commented["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|entry| entry["kind"] == "comment")
        .expect("the comment")["id"]
        .clone();
    let reply = app
        .post_json(
            &format!(
                "/api/v1/change-requests/{}/comments",
                request["id"].as_str().expect("id")
            ),
            Some(&operator),
            &json!({"body": "Payments. Renamed.", "reply_to": comment_id}),
        )
        .await;
    let replied = json_of(reply, StatusCode::CREATED).await;
    let answer = replied["timeline"]
        .as_array()
        .expect("timeline")
        .last()
        .expect("entry")
        .clone();
    assert_eq!(answer["reply_to"], comment_id);
    assert_eq!(answer["actor"], "otto");
    let revised = app
        .request(
            Method::PATCH,
            &format!(
                "/api/v1/change-requests/{}",
                request["id"].as_str().expect("id")
            ),
            Some(&operator),
        )
        .header("if-match", format!("\"{}\"", replied["version"]))
        .json(&json!({"change": {
            "name": "Payments Jenkins",
            "tool": "jenkins",
            "urls": {"apiUrl": sim.url},
            "credentials": {"username": "admin"}
        }}))
        .send()
        .await
        .expect("revise");
    let revised = json_of(revised, StatusCode::OK).await;
    assert_eq!(revised["revision"], 2);
    // The token the first revision proposed is kept (same origin): set, not shown.
    assert_eq!(revised["secret_changes"]["apiToken"], "set");

    // Bea opens a request of her own: she may not approve it, ada may.
    let own = submit(
        &app,
        &bea,
        &jenkins_body("Bea's Jenkins", &sim.url, ADMIN_TOKEN),
    )
    .await;
    assert_eq!(own["actions"]["approve"]["allowed"], false);
    assert_eq!(
        own["actions"]["approve"]["reason"],
        "You opened this request"
    );
    let mine = problem(
        review(&app, &bea, &own, "approve", None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(mine["code"], "self_approval");
    // Ada writes a revision of bea's request: now neither of them may approve it.
    let edited = app
        .patch_json(
            &format!(
                "/api/v1/change-requests/{}",
                own["id"].as_str().expect("id")
            ),
            Some(&ada),
            &json!({"business_need": "The mobile team needs it too."}),
        )
        .await;
    let edited = json_of(edited, StatusCode::OK).await;
    assert_eq!(edited["editors"], json!(["bea", "ada"]));
    let editor = problem(
        review(&app, &ada, &edited, "approve", None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(editor["code"], "self_approval");
    // The operator cannot review at all.
    let operator_review = review(&app, &operator, &revised, "approve", None).await;
    assert_eq!(operator_review.status(), StatusCode::FORBIDDEN);

    // Ada approves the operator's request: applied at once, checked, pipelines discovered.
    let approved = json_of(
        review(&app, &ada, &revised, "approve", None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(approved["state"], "approved");
    assert_eq!(states(&approved), ["approved"]);
    let live = eventually(
        "the approved integration to connect and discover",
        || async {
            let live = app
                .get_json(&format!("/api/v1/integrations/{integration_id}"))
                .await;
            (live["status"] == "connected" && live["pipelines"].as_u64().unwrap_or(0) > 0)
                .then_some(live)
        },
    )
    .await;
    assert_eq!(live["name"], "Payments Jenkins");
    assert_eq!(live["change_request_id"], Value::Null);
    assert_eq!(live["credentials"]["apiToken"]["configured"], true);
    // A decided request takes no more reviews.
    let again = problem(
        review(&app, &bea, &approved, "approve", None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(again["code"], "request_not_open");

    // Lists: what awaits my review, mine.
    let for_admin = app
        .get(
            "/api/v1/change-requests?reviewable_by=me&state=open",
            Some(&app.admin_token),
        )
        .await;
    let for_admin = json_of(for_admin, StatusCode::OK).await;
    assert_eq!(for_admin["items"].as_array().expect("items").len(), 1);
    assert_eq!(for_admin["items"][0]["id"], own["id"]);
    let for_ada = json_of(
        app.get("/api/v1/change-requests?reviewable_by=me", Some(&ada))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        for_ada["items"].as_array().expect("items").is_empty(),
        "{for_ada}"
    );
    let mine = json_of(
        app.get("/api/v1/change-requests?author=me", Some(&operator))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["items"].as_array().expect("items").len(), 1);
    assert_eq!(mine["items"][0]["title"], "Payments Jenkins");

    // The audit log holds the discussion and the decision, each by its actor, and the
    // change applied by the approving review — never the proposed token.
    let request_id = request["id"].as_str().expect("id");
    let log = app
        .get_json(&format!(
            "/api/v1/audit-events?limit=200&target={request_id}"
        ))
        .await;
    let by_action: Vec<(String, String, String)> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .rev()
        .map(|entry| {
            (
                entry["action"].as_str().expect("action").to_owned(),
                entry["actor"].as_str().expect("actor").to_owned(),
                entry["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("change_request.opened", "otto", "create_integration"),
        ("change_request.commented", "ada", ""),
        ("change_request.commented", "otto", ""),
        ("change_request.revised", "otto", "revision 2"),
        ("change_request.reviewed", "ada", "approve"),
        (
            "change_request.state",
            "ada",
            "approved: approved and applied",
        ),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(by_action, expected);
    let applied = app
        .get_json(&format!(
            "/api/v1/audit-events?action=integration.created&target={integration_id}"
        ))
        .await;
    let applied = &applied["items"][0];
    assert_eq!(applied["actor"], "ada");
    assert_eq!(
        applied["detail"],
        format!("approved change request {request_id}")
    );
    assert_eq!(applied["target"], "Payments Jenkins");
    let everything = app
        .get_json("/api/v1/audit-events?limit=200")
        .await
        .to_string();
    assert!(!everything.contains(ADMIN_TOKEN), "the log holds a secret");
    sim.stop().await;
}

async fn a_sole_administrator_approves_their_own_request_only_with_a_reason(backend: Backend) {
    let sim = start_sim(0).await;
    let app = approval_on(backend).await;
    let request = submit(
        &app,
        &app.admin_token,
        &jenkins_body("Jenkins", &sim.url, ADMIN_TOKEN),
    )
    .await;
    assert_eq!(request["actions"]["approve"]["allowed"], true);
    assert_eq!(request["actions"]["approve"]["needs_comment"], true);
    let without = problem(
        review(&app, &app.admin_token, &request, "approve", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&without), ["comment"]);
    // Rejecting one's own request is not a review: withdraw it instead.
    let reject = problem(
        review(&app, &app.admin_token, &request, "reject", Some("no")).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(reject["code"], "self_approval");
    let approved = json_of(
        review(
            &app,
            &app.admin_token,
            &request,
            "approve",
            Some("I am the only administrator during the pilot."),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(approved["state"], "approved");
    let review_entry = approved["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|entry| entry["kind"] == "review")
        .expect("review")
        .clone();
    assert_eq!(review_entry["sole_administrator"], true);
    assert_eq!(
        review_entry["text"],
        "I am the only administrator during the pilot."
    );
    let state_entry = approved["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|entry| entry["kind"] == "state")
        .expect("state")
        .clone();
    assert_eq!(
        state_entry["text"],
        "approved by the sole administrator and applied"
    );

    // With a second administrator, the first is no longer alone: four eyes again.
    let _second = app.user_token("bea", "admin").await;
    let next = submit(
        &app,
        &app.admin_token,
        &jenkins_body("Other", &sim.url, ADMIN_TOKEN),
    )
    .await;
    let refused = problem(
        review(&app, &app.admin_token, &next, "approve", Some("alone?")).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused["code"], "self_approval");
    sim.stop().await;
}

/// Approval off at first start; then the policy is switched on with two approvals (directly,
/// as approval is off).
async fn two_approvals(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let response = app
        .request(
            Method::PUT,
            "/api/v1/approval-policy",
            Some(&app.admin_token),
        )
        .json(&json!({"enabled": true, "approvals_required": 2, "open_days": 14}))
        .send()
        .await
        .expect("put");
    let policy = json_of(response, StatusCode::OK).await;
    assert_eq!(policy["approvals_required"], 2);
    app
}

async fn a_new_revision_resets_approvals_and_a_review_of_an_older_one_is_refused(backend: Backend) {
    let app = two_approvals(backend).await;
    let operator = app.user_token("otto", "operator").await;
    let bea = app.user_token("bea", "admin").await;
    let body = jenkins_body("Jenkins", "http://127.0.0.1:9/", SECRET);
    let request = submit(&app, &operator, &body).await;
    assert_eq!(request["approvals_required"], 2);
    let first = json_of(
        review(&app, &app.admin_token, &request, "approve", None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["state"], "open");
    assert_eq!(first["approvals"], 1);
    // The same administrator cannot count twice.
    let twice = problem(
        review(&app, &app.admin_token, &first, "approve", None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(twice["code"], "already_reviewed");

    let revised = app
        .patch_json(
            &format!(
                "/api/v1/change-requests/{}",
                request["id"].as_str().expect("id")
            ),
            Some(&operator),
            &json!({"business_need": "The payments team deploys from it, every day."}),
        )
        .await;
    let revised = json_of(revised, StatusCode::OK).await;
    assert_eq!(revised["revision"], 2);
    assert_eq!(revised["approvals"], 0, "a new revision resets approvals");
    // A revision from a stale read is refused.
    let stale_write = app
        .request(
            Method::PATCH,
            &format!(
                "/api/v1/change-requests/{}",
                request["id"].as_str().expect("id")
            ),
            Some(&operator),
        )
        .header("if-match", format!("\"{}\"", request["version"]))
        .json(&json!({"business_need": "Overwriting what I did not read."}))
        .send()
        .await
        .expect("revise");
    problem(stale_write, StatusCode::PRECONDITION_FAILED).await;
    let stale = problem(
        review(&app, &bea, &request, "approve", None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(stale["code"], "stale_revision");

    let one = json_of(
        review(&app, &bea, &revised, "approve", None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(one["state"], "open");
    let two = json_of(
        review(&app, &app.admin_token, &revised, "approve", None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(two["state"], "approved");
    let approval_entries: Vec<i64> = two["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|entry| entry["kind"] == "review")
        .map(|entry| entry["revision"].as_i64().expect("revision"))
        .collect();
    assert_eq!(
        approval_entries,
        [1, 2, 2],
        "each approval names its revision"
    );
    let listed = integrations(&app).await;
    assert_eq!(listed.len(), 1);
    assert_ne!(listed[0]["status"], "pending_approval");
}

async fn administrators_approving_at_the_same_moment_apply_once(backend: Backend) {
    let app = approval_on(backend).await;
    let operator = app.user_token("otto", "operator").await;
    let mut admins = vec![app.admin_token.clone()];
    for name in ["ada", "bea", "cy"] {
        admins.push(app.user_token(name, "admin").await);
    }
    let request = submit(
        &app,
        &operator,
        &jenkins_body("Jenkins", "http://127.0.0.1:9/", SECRET),
    )
    .await;
    let sent: Vec<_> = admins
        .iter()
        .map(|token| {
            let call = app
                .request(
                    Method::POST,
                    &format!(
                        "/api/v1/change-requests/{}/reviews",
                        request["id"].as_str().expect("id")
                    ),
                    Some(token),
                )
                .json(&json!({"decision": "approve", "revision": 1}));
            actix_web::rt::spawn(async move {
                let response = call.send().await.expect("review");
                response.status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for answer in sent {
        statuses.push(answer.await.expect("task"));
    }
    let applied = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::CONFLICT)
        .count();
    assert_eq!((applied, refused), (1, admins.len() - 1), "{statuses:?}");
    let read = read(&app, &operator, &request).await;
    assert_eq!(states(&read), ["approved"], "applied once");
    let reviews = read["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|entry| entry["kind"] == "review")
        .count();
    assert_eq!(reviews, 1);
    let listed = integrations(&app).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["version"], 2, "saved once over its pending row");
}

/// An integration added while approval was off, then approval switched on.
async fn live_integration(app: &TestApp, url: &str) -> Value {
    let created = app
        .post_json(
            "/api/v1/integrations",
            Some(&app.admin_token),
            &jenkins_body("Jenkins", url, SECRET),
        )
        .await;
    let created = json_of(created, StatusCode::CREATED).await;
    let response = app
        .request(
            Method::PUT,
            "/api/v1/approval-policy",
            Some(&app.admin_token),
        )
        .json(&json!({"enabled": true, "approvals_required": 1, "open_days": 14}))
        .send()
        .await
        .expect("put");
    json_of(response, StatusCode::OK).await;
    created
}

async fn a_request_written_against_a_changed_integration_is_a_conflict_until_rebased(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let live = live_integration(&app, "http://127.0.0.1:9/").await;
    let id = live["id"].as_str().expect("id");
    let operator = app.user_token("otto", "operator").await;
    let change = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&operator),
            &json!({
                "urls": {"apiUrl": "http://127.0.0.1:10/"},
                "credentials": {"apiToken": "22b8f2e7c2d3e4f5a6b7c8d9e0f1a2b3c4"},
                "business_need": "The controller moved."
            }),
        )
        .await;
    let request = json_of(change, StatusCode::ACCEPTED).await;
    assert_eq!(request["kind"], "update_integration");
    let diff: Vec<(String, String)> = request["diff"]
        .as_array()
        .expect("diff")
        .iter()
        .map(|line| {
            (
                line["field"].as_str().expect("field").to_owned(),
                line["change"].as_str().expect("change").to_owned(),
            )
        })
        .collect();
    assert!(
        diff.contains(&("urls.apiUrl".to_owned(), "changed".to_owned())),
        "{diff:?}"
    );
    assert!(
        diff.contains(&("credentials.apiToken".to_owned(), "changed".to_owned())),
        "{diff:?}"
    );
    assert!(
        diff.contains(&("credentials.username".to_owned(), "unchanged".to_owned())),
        "{diff:?}"
    );
    // Nothing live changed yet.
    let unchanged = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(unchanged["urls"]["apiUrl"], "http://127.0.0.1:9/");

    // Meanwhile an administrator renames it directly (no approval needed for a name).
    let renamed = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"name": "Jenkins (old)"}),
        )
        .await;
    json_of(renamed, StatusCode::OK).await;
    let conflict = problem(
        review(&app, &app.admin_token, &request, "approve", None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(conflict["code"], "request_conflict");
    let read_back = read(&app, &operator, &request).await;
    assert_eq!(read_back["state"], "conflict");
    assert_eq!(read_back["actions"]["revise"]["allowed"], true);
    let unchanged = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(unchanged["urls"]["apiUrl"], "http://127.0.0.1:9/");

    // The author rebases it: a new revision against what is live now.
    let rebased = app
        .patch_json(
            &format!(
                "/api/v1/change-requests/{}",
                request["id"].as_str().expect("id")
            ),
            Some(&operator),
            &json!({}),
        )
        .await;
    let rebased = json_of(rebased, StatusCode::OK).await;
    assert_eq!(rebased["state"], "open");
    assert_eq!(rebased["revision"], 2);
    let approved = json_of(
        review(&app, &app.admin_token, &rebased, "approve", None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(states(&approved), ["conflict", "open", "approved"]);
    let moved = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(moved["urls"]["apiUrl"], "http://127.0.0.1:10/");
    assert_eq!(moved["name"], "Jenkins (old)");
}

async fn an_undecided_request_expires_and_takes_its_pending_integration(backend: Backend) {
    let app = approval_on(backend).await;
    let operator = app.user_token("otto", "operator").await;
    let request = submit(
        &app,
        &operator,
        &jenkins_body("Jenkins", "http://127.0.0.1:9/", SECRET),
    )
    .await;
    let expires_at = request["expires_at"].as_str().expect("expires_at");
    let open_for = chrono::DateTime::parse_from_rfc3339(expires_at).expect("time")
        - chrono::DateTime::parse_from_rfc3339(request["created_at"].as_str().expect("created"))
            .expect("time");
    assert_eq!(
        open_for.num_days(),
        14,
        "the default policy keeps a request open 14 days"
    );
    assert_eq!(integrations(&app).await.len(), 1);
    // Time passes (the store's clock is the database's rows): it is due.
    app.execute_sql(&format!(
        "UPDATE change_requests SET expires_at = '2020-01-01 00:00:00' WHERE id = '{}'",
        request["id"].as_str().expect("id")
    ));
    let expired = read(&app, &operator, &request).await;
    assert_eq!(expired["state"], "expired");
    assert_eq!(states(&expired), ["expired"]);
    let entry = expired["timeline"]
        .as_array()
        .expect("timeline")
        .last()
        .expect("entry")
        .clone();
    assert_eq!(entry["actor"], "system");
    assert!(
        integrations(&app).await.is_empty(),
        "the pending integration went"
    );
    assert_eq!(
        app.execute_sql("UPDATE change_requests SET state = state WHERE secret_values IS NOT NULL"),
        0,
        "its secrets are destroyed"
    );
    let late = problem(
        review(&app, &app.admin_token, &expired, "approve", Some("late")).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(late["code"], "request_not_open");
}

async fn a_pending_integration_is_never_contacted(backend: Backend) {
    let tool = PlainHttp::start();
    let app = approval_on(backend).await;
    let bea = app.user_token("bea", "admin").await;
    let request = submit(
        &app,
        &app.admin_token,
        &jenkins_body("Jenkins", &tool.url(), SECRET),
    )
    .await;
    let id = integrations(&app).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for action in ["test", "sync"] {
        let refused = problem(
            app.post_json(
                &format!("/api/v1/integrations/{id}/{action}"),
                Some(&app.admin_token),
                &json!({}),
            )
            .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(refused["code"], "pending_approval", "{action}");
    }
    let edit = problem(
        app.patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"name": "x"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(edit["code"], "pending_approval");
    let delete = app
        .request(
            Method::DELETE,
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .expect("delete");
    problem(delete, StatusCode::CONFLICT).await;
    // The periodic work runs every few seconds; give it several turns.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        tool.requests(),
        0,
        "nothing talked to the tool of a pending integration"
    );

    // Approved, it is checked at once: the same server does talk to it now.
    json_of(
        review(&app, &bea, &request, "approve", None).await,
        StatusCode::CREATED,
    )
    .await;
    eventually("the approved integration to be checked", || async {
        (tool.requests() > 0).then_some(())
    })
    .await;
}

async fn a_requests_secret_is_never_shown_and_never_stored_in_plaintext(backend: Backend) {
    let app = approval_on(backend).await;
    let operator = app.user_token("otto", "operator").await;
    let bea = app.user_token("bea", "admin").await;
    let secret = "s3cr3t-token-of-the-request-0123456789";
    let body = jenkins_body("Jenkins", "http://127.0.0.1:9/", secret);
    let response = app
        .post_json("/api/v1/integrations", Some(&operator), &body)
        .await;
    let text = response.text().await.expect("body");
    assert!(!text.contains(secret));
    let request: Value = serde_json::from_str(&text).expect("json");
    let token_line = request["diff"]
        .as_array()
        .expect("diff")
        .iter()
        .find(|line| line["field"] == "credentials.apiToken")
        .expect("token line")
        .clone();
    assert_eq!(token_line["change"], "set");
    assert_eq!(token_line["secret"], true);
    assert_eq!(token_line["after"], Value::Null);
    assert_eq!(
        token_line["fingerprint_after"]
            .as_str()
            .expect("fingerprint")
            .len(),
        8
    );
    assert_eq!(request["secret_changes"]["apiToken"], "set");
    assert_eq!(request["change"]["credentials"].get("apiToken"), None);

    let path = format!(
        "/api/v1/change-requests/{}",
        request["id"].as_str().expect("id")
    );
    for (who, token) in [("operator", &operator), ("admin", &bea)] {
        for url in [
            path.clone(),
            "/api/v1/change-requests".to_owned(),
            "/api/v1/integrations".to_owned(),
        ] {
            let answer = app.get(&url, Some(token)).await.text().await.expect("body");
            assert!(!answer.contains(secret), "{who} {url}");
        }
    }
    let raw = app.raw_database();
    assert!(
        !raw.windows(secret.len())
            .any(|window| window == secret.as_bytes()),
        "the database holds the request's secret sealed only"
    );
    // Rejected: its secrets are destroyed, the pending integration goes.
    let rejected = json_of(
        review(
            &app,
            &bea,
            &request,
            "reject",
            Some("We use the central controller."),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(rejected["state"], "rejected");
    assert!(integrations(&app).await.is_empty());
    assert_eq!(
        app.execute_sql("UPDATE change_requests SET state = state WHERE secret_values IS NOT NULL"),
        0
    );
    // Withdrawn by its author: the same.
    let other = submit(
        &app,
        &operator,
        &jenkins_body("Other", "http://127.0.0.1:9/", secret),
    )
    .await;
    let stranger = app
        .post_json(
            &format!(
                "/api/v1/change-requests/{}/withdraw",
                other["id"].as_str().expect("id")
            ),
            Some(&bea),
            &json!({}),
        )
        .await;
    problem(stranger, StatusCode::FORBIDDEN).await;
    let withdrawn = app
        .post_json(
            &format!(
                "/api/v1/change-requests/{}/withdraw",
                other["id"].as_str().expect("id")
            ),
            Some(&operator),
            &json!({}),
        )
        .await;
    let withdrawn = json_of(withdrawn, StatusCode::OK).await;
    assert_eq!(states(&withdrawn), ["withdrawn"]);
    assert!(integrations(&app).await.is_empty());
}

async fn only_urls_and_secrets_need_approval_and_the_safe_direction_stays_direct(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let live = live_integration(&app, "http://127.0.0.1:9/").await;
    let id = live["id"].as_str().expect("id");
    let operator = app.user_token("otto", "operator").await;
    // A rename applies directly, by administrators only.
    let by_operator = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&operator),
            &json!({"name": "CI"}),
        )
        .await;
    problem(by_operator, StatusCode::FORBIDDEN).await;
    let renamed = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"name": "CI", "credentials": {"username": "bob"}}),
        )
        .await;
    assert_eq!(json_of(renamed, StatusCode::OK).await["name"], "CI");
    // A new token, even from an administrator, is a request.
    let token = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"credentials": {"apiToken": "33c9a3f8d3e4f5a6b7c8d9e0f1a2b3c4d5"}}),
        )
        .await;
    problem(token, StatusCode::UNPROCESSABLE_ENTITY).await;
    let token = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"credentials": {"apiToken": "33c9a3f8d3e4f5a6b7c8d9e0f1a2b3c4d5"}, "business_need": "Rotation."}),
        )
        .await;
    assert_eq!(token.status(), StatusCode::ACCEPTED);
    // Deleting and switching a tool off stay direct.
    let off = app
        .patch_json(
            "/api/v1/tools/buildbot",
            Some(&app.admin_token),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(json_of(off, StatusCode::OK).await["enabled"], false);
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
}

async fn the_policy_and_tools_are_changed_through_requests_while_approval_is_on(backend: Backend) {
    let app = approval_on(backend).await;
    let bea = app.user_token("bea", "admin").await;
    let policy = app.get_json("/api/v1/approval-policy").await;
    assert_eq!(policy["enabled"], true);
    assert_eq!(policy["approvals_required"], 1);
    assert_eq!(policy["open_days"], 14);

    let put = app
        .request(Method::PUT, "/api/v1/approval-policy", Some(&app.admin_token))
        .json(&json!({"enabled": true, "approvals_required": 2, "open_days": 7, "business_need": "Production tools need two reviewers."}))
        .send()
        .await
        .expect("put");
    let request = json_of(put, StatusCode::ACCEPTED).await;
    assert_eq!(request["kind"], "update_policy");
    assert_eq!(
        app.get_json("/api/v1/approval-policy").await["approvals_required"],
        1
    );
    json_of(
        review(&app, &bea, &request, "approve", None).await,
        StatusCode::CREATED,
    )
    .await;
    let changed = app.get_json("/api/v1/approval-policy").await;
    assert_eq!(changed["approvals_required"], 2);
    assert_eq!(changed["open_days"], 7);

    // Switching a tool off is direct; on again is a request.
    let off = app
        .patch_json(
            "/api/v1/tools/buildbot",
            Some(&app.admin_token),
            &json!({"enabled": false}),
        )
        .await;
    json_of(off, StatusCode::OK).await;
    let on = app
        .patch_json(
            "/api/v1/tools/buildbot",
            Some(&app.admin_token),
            &json!({"enabled": true, "business_need": "The data team uses Buildbot."}),
        )
        .await;
    let enable = json_of(on, StatusCode::ACCEPTED).await;
    assert_eq!(enable["kind"], "enable_tool");
    assert_eq!(
        app.get_json("/api/v1/tools/buildbot").await["enabled"],
        false
    );

    // A tool that is not in the registry is proposed; accepted, it is listed as such.
    let proposal = app
        .post_json(
            "/api/v1/change-requests",
            Some(&bea),
            &json!({"kind": "propose_tool", "change": {"name": "GitLab CI", "url": "https://about.gitlab.com/"}, "business_need": "Half of our repositories live on GitLab."}),
        )
        .await;
    let proposal = json_of(proposal, StatusCode::CREATED).await;
    assert_eq!(proposal["kind"], "propose_tool");
    let known = app
        .post_json(
            "/api/v1/change-requests",
            Some(&bea),
            &json!({"kind": "propose_tool", "change": {"name": "Jenkins", "url": "https://jenkins.io/"}, "business_need": "x"}),
        )
        .await;
    problem(known, StatusCode::UNPROCESSABLE_ENTITY).await;
    let accepted = json_of(
        review(&app, &app.admin_token, &proposal, "approve", None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(accepted["state"], "approved");
}

async fn a_dry_run_checks_the_proposed_connection_and_counts_pipelines(backend: Backend) {
    let sim = start_sim(0).await;
    let app = approval_on(backend).await;
    let operator = app.user_token("otto", "operator").await;
    let viewer = app.user_token("vera", "viewer").await;
    let bea = app.user_token("bea", "admin").await;
    let request = submit(
        &app,
        &operator,
        &jenkins_body("Jenkins", &sim.url, ADMIN_TOKEN),
    )
    .await;
    assert_eq!(request["dry_run"], Value::Null);
    let path = format!(
        "/api/v1/change-requests/{}/dry-run",
        request["id"].as_str().expect("id")
    );
    problem(
        app.post_json(&path, Some(&viewer), &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let ran = json_of(
        app.post_json(&path, Some(&operator), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let dry_run = &ran["dry_run"];
    assert_eq!(dry_run["check"]["ok"], true, "{dry_run}");
    assert_eq!(dry_run["check"]["authenticated_as"], "admin");
    assert!(
        dry_run["pipelines"].as_u64().expect("count") > 0,
        "{dry_run}"
    );
    assert_eq!(dry_run["revision"], 1);
    assert_eq!(dry_run["ran_by"], "otto");
    let entries: Vec<&str> = ran["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|entry| entry["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(entries, ["opened", "dry_run"]);
    // Nothing live: the integration is still pending, with no pipelines.
    let listed = integrations(&app).await;
    assert_eq!(listed[0]["status"], "pending_approval");
    assert_eq!(listed[0]["pipelines"], 0);

    // A reviewer runs it again, with a wrong token proposed in a new revision.
    let revised = app
        .patch_json(
            &format!("/api/v1/change-requests/{}", request["id"].as_str().expect("id")),
            Some(&operator),
            &json!({"change": {
                "name": "Jenkins", "tool": "jenkins", "urls": {"apiUrl": sim.url},
                "credentials": {"username": "admin", "apiToken": "11ffffffffffffffffffffffffffffffff"}
            }}),
        )
        .await;
    let revised = json_of(revised, StatusCode::OK).await;
    let token_line = revised["diff"]
        .as_array()
        .expect("diff")
        .iter()
        .find(|line| line["field"] == "credentials.apiToken")
        .expect("token")
        .clone();
    assert_ne!(
        token_line["fingerprint_after"],
        request["diff"]
            .as_array()
            .expect("diff")
            .iter()
            .find(|line| line["field"] == "credentials.apiToken")
            .expect("token")["fingerprint_after"],
        "another token, another fingerprint"
    );
    let again = json_of(
        app.post_json(&path, Some(&bea), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["dry_run"]["check"]["ok"], false);
    assert_eq!(again["dry_run"]["check"]["category"], "bad_credentials");
    assert_eq!(again["dry_run"]["revision"], 2);
    assert_eq!(again["dry_run"]["pipelines"], Value::Null);
    sim.stop().await;
}

/// A dry run of a change to a live integration tries the proposed URL with the secret it
/// keeps: that use is in the integration's history, with the origin it went to.
async fn a_dry_run_with_a_kept_secret_is_in_the_integrations_history(backend: Backend) {
    let sim = start_sim(0).await;
    let app = TestApp::spawn(backend).await;
    let live = live_integration(&app, &sim.url).await;
    let id = live["id"].as_str().expect("id");
    let operator = app.user_token("otto", "operator").await;
    // Another path on the same origin: the stored token is kept for it.
    let moved = format!("{}/view/all/", sim.url.trim_end_matches('/'));
    let change = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&operator),
            &json!({"urls": {"apiUrl": moved}, "business_need": "A new path on the same host."}),
        )
        .await;
    let request = json_of(change, StatusCode::ACCEPTED).await;
    let dry_run = app
        .post_json(
            &format!(
                "/api/v1/change-requests/{}/dry-run",
                request["id"].as_str().expect("id")
            ),
            Some(&operator),
            &json!({}),
        )
        .await;
    json_of(dry_run, StatusCode::OK).await;
    let tested = app
        .get_json(&format!(
            "/api/v1/audit-events?action=integration.tested&target={id}"
        ))
        .await;
    let entry = &tested["items"][0];
    assert_eq!(entry["actor"], "otto", "{tested}");
    let detail = entry["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&format!(
            "the dry run of change request {}",
            request["id"].as_str().expect("id")
        )),
        "{detail}"
    );
    let origin = sim.url.trim_end_matches('/').trim_end_matches("/jenkins");
    assert!(
        detail.contains(&format!("its stored secrets were sent to {origin}")),
        "{detail}"
    );
    sim.stop().await;
}
