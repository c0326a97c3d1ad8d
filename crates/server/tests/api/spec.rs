use serde_json::Value;

use crate::helpers::{Backend, TestApp};

/// `api-spec/openapi.json` is exactly what the server serves; regenerate it with `just spec`.
#[actix_web::test]
async fn the_committed_openapi_document_is_the_served_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let served = app
        .get("/api/openapi.json", None)
        .await
        .text()
        .await
        .expect("spec");
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../api-spec/openapi.json");
    let committed = std::fs::read_to_string(committed_path)
        .expect("api-spec/openapi.json exists (run `just spec`)");
    let served_json: Value = serde_json::from_str(&served).expect("json");
    let committed_json: Value = serde_json::from_str(&committed).expect("json");
    assert!(
        served_json == committed_json,
        "api-spec/openapi.json is stale: run `just spec` and commit it"
    );
    assert_eq!(
        served, committed,
        "same document, different formatting: run `just spec`"
    );
    assert_eq!(served_json["openapi"], "3.1.0");
}
