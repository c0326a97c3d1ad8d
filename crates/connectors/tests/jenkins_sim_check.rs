//! The Jenkins connection check against the Jenkins simulator (e2e/jenkins-sim), which
//! follows docs/jenkins.md. All on 127.0.0.1.

use std::time::Duration;

use switchboard_connectors::{
    BaseUrl, Category, ConnectorError, Credentials, GuardedClient, OutboundPolicy, jenkins,
};

const ADMIN_TOKEN: &str = "11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3";
const OUTSIDER_TOKEN: &str = "11c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8";

fn config() -> jenkins_sim::Config {
    serde_json::from_value(serde_json::json!({
        "version": "2.516.1",
        "users": [
            {"name": "admin", "password": "admin-password", "tokens": [ADMIN_TOKEN],
             "permissions": ["Overall/Read", "Job/Read", "Job/Build", "Job/Cancel"]},
            {"name": "outsider", "password": "outsider-password", "tokens": [OUTSIDER_TOKEN], "permissions": []}
        ],
        "jobs": [{"name": "hello", "type": "freestyle"}]
    }))
    .expect("simulator config")
}

async fn check(
    base: &str,
    username: &str,
    token: &str,
) -> Result<switchboard_connectors::ConnectionReport, ConnectorError> {
    let policy = OutboundPolicy {
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_secs(2),
        max_body_bytes: 1024 * 1024,
        max_redirects: 3,
        deny_private: false,
        allowed_hosts: Vec::new(),
        ..OutboundPolicy::default()
    };
    let client = GuardedClient::new(policy).expect("client");
    let origin = client.for_origin(
        BaseUrl::parse(base).expect("base"),
        Some(Credentials::Basic {
            username: username.into(),
            secret: token.to_owned().into(),
        }),
    );
    jenkins::check(&origin).await
}

#[tokio::test]
async fn the_check_reports_each_case_as_jenkins_answers_it() {
    let sim = jenkins_sim::start(config(), "127.0.0.1:0", "/jenkins")
        .await
        .expect("simulator");

    let report = check(&sim.url, "admin", ADMIN_TOKEN)
        .await
        .expect("admin passes");
    assert_eq!(report.tool_version, "2.516.1");
    assert_eq!(report.authenticated_as, "admin");

    let wrong = check(&sim.url, "admin", "0000000000000000000000000000000000")
        .await
        .expect_err("wrong token");
    assert_eq!(wrong.category, Category::BadCredentials);
    assert!(wrong.hint.contains("People → admin → Security"));

    let outsider = check(&sim.url, "outsider", OUTSIDER_TOKEN)
        .await
        .expect_err("no Overall/Read");
    assert_eq!(outsider.category, Category::Forbidden);
    assert!(
        outsider.message.contains("hudson.model.Hudson.Read"),
        "{outsider:?}"
    );

    // The URL without Jenkins' context path.
    let root = sim
        .url
        .trim_end_matches('/')
        .trim_end_matches("jenkins")
        .to_owned();
    let missing_path = check(&root, "admin", ADMIN_TOKEN)
        .await
        .expect_err("wrong path");
    assert_eq!(
        missing_path.category,
        Category::NotFound,
        "{missing_path:?}"
    );

    for error in [&wrong, &outsider, &missing_path] {
        let shown = format!("{error:?}");
        assert!(!shown.contains(ADMIN_TOKEN) && !shown.contains(OUTSIDER_TOKEN));
    }
    sim.stop().await;
}
