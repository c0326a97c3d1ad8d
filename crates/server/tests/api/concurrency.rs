//! Writes that hold under concurrency, on both backends: an `If-Match` is compared in the
//! statement that writes (or under a row lock), so of many parallel changes from one version
//! exactly one lands; and the last-administrator rule holds when two administrators disable
//! each other at the same moment. SQLite's single writer hides these races; PostgreSQL
//! shows them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, jenkins, problem};
use crate::on_both_backends;

on_both_backends!(
    parallel_integration_updates_with_one_if_match_land_once,
    parallel_user_updates_with_one_if_match_land_once,
    parallel_tool_changes_with_one_if_match_land_once,
    users_and_tools_answer_with_etags_and_honour_if_match,
    two_admins_disabling_each_other_leave_one_enabled,
);

const PARALLEL: usize = 10;

/// Sends `PARALLEL` PATCHes to `path` at once as `token`, each with `If-Match: "<version>"`
/// and the body `body(i)`; returns each one's status and body, in order.
async fn parallel_patches(
    app: &TestApp,
    path: &str,
    version: i64,
    body: impl Fn(usize) -> Value,
) -> Vec<(StatusCode, Value)> {
    let sent: Vec<_> = (0..PARALLEL)
        .map(|i| {
            let request = app
                .request(Method::PATCH, path, Some(&app.admin_token))
                .header("if-match", format!("\"{version}\""))
                .json(&body(i));
            actix_web::rt::spawn(async move {
                let response = request.send().await.expect("request");
                let status = response.status();
                (status, response.json::<Value>().await.expect("json"))
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(PARALLEL);
    for answer in sent {
        answers.push(answer.await.expect("request task"));
    }
    answers
}

/// Checks that exactly one answer is 200 and every other one a 412 problem; returns the
/// index of the one that landed.
fn exactly_one_landed(answers: &[(StatusCode, Value)]) -> usize {
    let landed: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter(|(_, (status, _))| *status == StatusCode::OK)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(landed.len(), 1, "exactly one change lands: {answers:?}");
    for (status, body) in answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::OK)
    {
        assert_eq!(*status, StatusCode::PRECONDITION_FAILED, "{body}");
        assert_eq!(body["code"], "version_mismatch", "{body}");
    }
    landed[0]
}

async fn parallel_integration_updates_with_one_if_match_land_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create(&jenkins("Jenkins")).await;
    let path = format!(
        "/api/v1/integrations/{}",
        created["id"].as_str().expect("id")
    );
    let version = created["version"].as_i64().expect("version");

    let answers = parallel_patches(
        &app,
        &path,
        version,
        |i| json!({"name": format!("Jenkins {i}")}),
    )
    .await;
    let winner = exactly_one_landed(&answers);
    let shown = app.get_json(&path).await;
    assert_eq!(
        shown["name"],
        format!("Jenkins {winner}"),
        "the one change is stored"
    );
    assert_eq!(shown["version"], version + 1, "and only that one");
}

async fn parallel_user_updates_with_one_if_match_land_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user_token("carol", "viewer").await;
    let users = app.get_json("/api/v1/users").await;
    let carol = users["items"]
        .as_array()
        .and_then(|items| items.iter().find(|user| user["username"] == "carol"))
        .expect("carol")
        .clone();
    let path = format!("/api/v1/users/{}", carol["id"].as_str().expect("id"));
    let version = carol["version"].as_i64().expect("version");

    let roles = ["operator", "admin"];
    let answers = parallel_patches(&app, &path, version, |i| json!({"role": roles[i % 2]})).await;
    let winner = exactly_one_landed(&answers);
    let shown = app.get_json(&path).await;
    assert_eq!(shown["role"], roles[winner % 2]);
    assert_eq!(shown["version"], version + 1);
}

async fn parallel_tool_changes_with_one_if_match_land_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tool = app.get_json("/api/v1/tools/jenkins").await;
    let version = tool["version"].as_i64().expect("version");
    assert_eq!(version, 0, "never set: {tool}");

    let answers = parallel_patches(
        &app,
        "/api/v1/tools/jenkins",
        version,
        |i| json!({"enabled": i.is_multiple_of(2)}),
    )
    .await;
    let winner = exactly_one_landed(&answers);
    let shown = app.get_json("/api/v1/tools/jenkins").await;
    assert_eq!(shown["enabled"], winner.is_multiple_of(2));
    assert_eq!(shown["version"], version + 1);
}

fn etag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("etag")
        .and_then(|value| value.to_str().ok())
        .expect("an ETag")
        .to_owned()
}

async fn users_and_tools_answer_with_etags_and_honour_if_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    for (read, write, change) in [
        (
            "/api/v1/tools/buildbot",
            "/api/v1/tools/buildbot",
            json!({"enabled": false}),
        ),
        ("", "", json!({"role": "operator"})),
    ] {
        let (read, write) = if read.is_empty() {
            let created = app
                .post_json(
                    "/api/v1/users",
                    token,
                    &json!({"username": "dave", "password": "dave password 123", "role": "viewer"}),
                )
                .await;
            assert_eq!(created.status(), StatusCode::CREATED);
            let etag = etag_of(&created);
            let body: Value = created.json().await.expect("json");
            assert_eq!(
                etag,
                format!("\"{}\"", body["version"]),
                "the ETag is the version"
            );
            let path = format!("/api/v1/users/{}", body["id"].as_str().expect("id"));
            (path.clone(), path)
        } else {
            (read.to_owned(), write.to_owned())
        };
        let first = app.get(&read, token).await;
        assert_eq!(first.status(), StatusCode::OK);
        let first_tag = etag_of(&first);

        let changed = app
            .request(Method::PATCH, &write, token)
            .header("if-match", &first_tag)
            .json(&change)
            .send()
            .await
            .expect("request");
        assert_eq!(changed.status(), StatusCode::OK, "{write}");
        let second_tag = etag_of(&changed);
        assert_ne!(second_tag, first_tag);

        // The first tag is stale now: refused, and nothing changes.
        let before = app.get_json(&read).await;
        let stale = app
            .request(Method::PATCH, &write, token)
            .header("if-match", &first_tag)
            .json(&change)
            .send()
            .await
            .expect("request");
        let body = problem(stale, StatusCode::PRECONDITION_FAILED).await;
        assert_eq!(body["code"], "version_mismatch");
        assert_eq!(
            app.get_json(&read).await,
            before,
            "{write}: a refused change changes nothing"
        );
        assert_eq!(etag_of(&app.get(&read, token).await), second_tag);
    }
}

async fn two_admins_disabling_each_other_leave_one_enabled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let me = app.get_json("/api/v1/auth/me").await;
    let first_id = me["id"].as_str().expect("id").to_owned();
    let mut first_token = app.admin_token.clone();
    let mut second_token = app.user_token("second-admin", "admin").await;
    let users = app.get_json("/api/v1/users").await;
    let second_id = users["items"]
        .as_array()
        .and_then(|items| items.iter().find(|user| user["username"] == "second-admin"))
        .and_then(|user| user["id"].as_str())
        .expect("second admin")
        .to_owned();

    for round in 0..5 {
        let disable = |token: String, other: &str| {
            let request = app
                .request(
                    Method::PATCH,
                    &format!("/api/v1/users/{other}"),
                    Some(&token),
                )
                .json(&json!({"disabled": true}));
            actix_web::rt::spawn(async move { request.send().await.expect("request").status() })
        };
        let by_first = disable(first_token.clone(), &second_id);
        let by_second = disable(second_token.clone(), &first_id);
        let statuses = [
            by_first.await.expect("task"),
            by_second.await.expect("task"),
        ];
        assert_eq!(
            statuses
                .iter()
                .filter(|status| **status == StatusCode::OK)
                .count(),
            1,
            "round {round}: exactly one administrator disables the other: {statuses:?}"
        );
        for status in statuses.iter().filter(|status| **status != StatusCode::OK) {
            // Refused as the last administrator, or already disabled when it arrived.
            assert!(
                *status == StatusCode::CONFLICT || *status == StatusCode::UNAUTHORIZED,
                "round {round}: {statuses:?}"
            );
        }
        // Read straight from the store: the API needs an enabled admin's session.
        let enabled: Vec<String> = [&first_id, &second_id]
            .into_iter()
            .filter(|id| {
                app.store()
                    .find_user(id)
                    .expect("read")
                    .is_some_and(|user| !user.disabled)
            })
            .cloned()
            .collect();
        assert_eq!(
            enabled.len(),
            1,
            "round {round}: one enabled administrator remains"
        );

        // The one left enables the other again, who signs in anew (disabling ended their
        // sessions), for the next round.
        let first_left = enabled[0] == first_id;
        let (left_token, other) = if first_left {
            (first_token.clone(), second_id.clone())
        } else {
            (second_token.clone(), first_id.clone())
        };
        let enabled_again = app
            .patch_json(
                &format!("/api/v1/users/{other}"),
                Some(&left_token),
                &json!({"disabled": false}),
            )
            .await;
        assert_eq!(enabled_again.status(), StatusCode::OK, "round {round}");
        if first_left {
            second_token = app.login("second-admin", "second-admin password 123").await;
        } else {
            first_token = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
        }
    }
}
