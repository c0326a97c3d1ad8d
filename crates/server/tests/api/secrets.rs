use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, jenkins};
use crate::on_both_backends;

on_both_backends!(
    secrets_appear_in_no_response_and_no_stored_row,
    a_sealed_value_moved_to_another_row_does_not_open
);

const SECRET: &str = "plaintext-jenkins-token-7f3a9c";
const REPLACED: &str = "replacement-token-b41d22e0";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn secrets_appear_in_no_response_and_no_stored_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let mut body = jenkins("Jenkins");
    body["credentials"]["apiToken"] = json!(SECRET);

    let mut seen = Vec::new();
    let created = app.post_json("/api/v1/integrations", token, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let headers = format!("{:?}", created.headers());
    let created = created.text().await.expect("body");
    seen.push(headers);
    seen.push(created.clone());
    let id = serde_json::from_str::<serde_json::Value>(&created).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/v1/integrations/{id}");

    seen.push(app.get(&path, token).await.text().await.expect("body"));
    seen.push(
        app.get("/api/v1/integrations", token)
            .await
            .text()
            .await
            .expect("body"),
    );
    seen.push(
        app.patch_json(
            &path,
            token,
            &json!({"credentials": {"apiToken": REPLACED}}),
        )
        .await
        .text()
        .await
        .expect("body"),
    );
    // A rejected request that carried a secret must not echo it back either.
    seen.push(
        app.patch_json(
            &path,
            token,
            &json!({"urls": {"apiUrl": "nope"}, "credentials": {"apiToken": SECRET}}),
        )
        .await
        .text()
        .await
        .expect("body"),
    );
    seen.push(
        app.request(Method::POST, "/api/v1/integrations", token)
            .header("content-type", "application/json")
            .body(format!(
                "{{\"name\": \"x\", \"credentials\": {{\"apiToken\": \"{SECRET}\"}}, }}"
            ))
            .send()
            .await
            .expect("post")
            .text()
            .await
            .expect("body"),
    );
    seen.push(app.get("/metrics", None).await.text().await.expect("body"));
    for text in &seen {
        assert!(
            !text.contains(SECRET) && !text.contains(REPLACED),
            "a response leaked a secret: {text}"
        );
    }

    let raw = app.raw_database();
    assert!(
        contains(&raw, "alice"),
        "the dump sees plain fields, so it would see a plaintext token"
    );
    assert!(
        !contains(&raw, SECRET) && !contains(&raw, REPLACED),
        "a stored row holds a secret in plaintext"
    );
    assert!(!contains(&raw, &base64_of(REPLACED)), "nor base64 of it");
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn a_sealed_value_moved_to_another_row_does_not_open(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.create(&jenkins("First")).await;
    let second = app.create(&jenkins("Second")).await;
    let (first, second) = (
        first["id"].as_str().expect("id"),
        second["id"].as_str().expect("id"),
    );
    assert!(app.store().open_credentials(second).is_ok());

    let moved = app.execute_sql(&format!(
        "UPDATE integration_credentials SET sealed_value = (SELECT sealed_value FROM integration_credentials \
         WHERE integration_id = '{first}' AND field = 'apiToken') WHERE integration_id = '{second}' AND field = 'apiToken'"
    ));
    assert_eq!(moved, 1);
    let err = app
        .store()
        .open_credentials(second)
        .expect_err("a copied ciphertext must not open");
    assert!(
        matches!(
            err,
            switchboard_store::StoreError::Seal(switchboard_store::SealError::Tampered)
        ),
        "{err:?}"
    );
    assert!(
        app.store().open_credentials(first).is_ok(),
        "the original still opens"
    );

    // Moving it to another field of the same row fails too.
    app.execute_sql(&format!("UPDATE integration_credentials SET field = 'password' WHERE integration_id = '{first}' AND field = 'apiToken'"));
    assert!(app.store().open_credentials(first).is_err());
}
