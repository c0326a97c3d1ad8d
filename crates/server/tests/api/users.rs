use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, fields, problem};
use crate::on_both_backends;

on_both_backends!(admins_manage_users_and_roles, the_last_enabled_admin_stays);

async fn admins_manage_users_and_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let created = app
        .post_json(
            "/api/v1/users",
            token,
            &json!({"username": "Carol", "password": "carol password 1", "role": "operator"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let carol: Value = created.json().await.expect("json");
    assert_eq!(carol["username"], "carol");
    assert_eq!(carol["role"], "operator");
    assert_eq!(carol["disabled"], false);
    assert!(carol.get("password").is_none() && carol.get("password_hash").is_none());
    assert_eq!(app.get_json(&location).await, carol);

    let duplicate = app
        .post_json(
            "/api/v1/users",
            token,
            &json!({"username": "CAROL", "password": "another password", "role": "viewer"}),
        )
        .await;
    assert_eq!(
        problem(duplicate, StatusCode::CONFLICT).await["code"],
        "name_taken"
    );
    let invalid = app
        .post_json(
            "/api/v1/users",
            token,
            &json!({"username": "-bad", "password": "short", "role": "viewer"}),
        )
        .await;
    let invalid = problem(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&invalid), vec!["username", "password"]);
    let bad_role = app
        .post_json(
            "/api/v1/users",
            token,
            &json!({"username": "dave", "password": "dave password 1", "role": "root"}),
        )
        .await;
    problem(bad_role, StatusCode::BAD_REQUEST).await;

    let promoted: Value = app
        .patch_json(&location, token, &json!({"role": "admin"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(promoted["role"], "admin");
    let carol_token = app.login("carol", "carol password 1").await;
    let by_carol = app
        .post_json(
            "/api/v1/integrations",
            Some(&carol_token),
            &crate::helpers::jenkins("Carol's"),
        )
        .await;
    assert_eq!(by_carol.status(), StatusCode::CREATED);
    let by_carol: Value = by_carol.json().await.expect("json");
    assert_eq!(by_carol["created_by"], "carol");

    // A role change applies to existing sessions at once.
    app.patch_json(&location, token, &json!({"role": "viewer"}))
        .await;
    problem(
        app.post_json(
            "/api/v1/integrations",
            Some(&carol_token),
            &crate::helpers::jenkins("Again"),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    let page = app.get_json("/api/v1/users?limit=1").await;
    assert_eq!(page["items"][0]["username"], "admin");
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let next = app
        .get_json(&format!("/api/v1/users?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(next["items"][0]["username"], "carol");
    assert_eq!(next["next_cursor"], Value::Null);
    problem(
        app.patch_json("/api/v1/users/nobody", token, &json!({"role": "admin"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn the_last_enabled_admin_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let me = app.get_json("/api/v1/auth/me").await;
    let path = format!("/api/v1/users/{}", me["id"].as_str().expect("id"));
    for change in [json!({"role": "operator"}), json!({"disabled": true})] {
        let refused = problem(
            app.patch_json(&path, token, &change).await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(refused["code"], "last_admin");
    }
    assert_eq!(app.get_json(&path).await["role"], "admin");
    // With a second admin, the first may step down.
    app.user_token("second", "admin").await;
    let stepped_down = app
        .patch_json(&path, token, &json!({"role": "viewer"}))
        .await;
    assert_eq!(stepped_down.status(), StatusCode::OK);
}
