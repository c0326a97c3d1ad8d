//! Every error category through the `Connector` trait, each as Jenkins (the simulator) or
//! whatever else stands at the URL answers it. All traffic stays on 127.0.0.1; host names go
//! through a `StaticResolver`, never real DNS.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::json;
use support::jenkins::{
    ADMIN_TOKEN, DEADLINE, OUTSIDER_TOKEN, admin, assert_no_secret, client_with, connector, policy,
    start, target,
};
use support::{TestServer, TlsTestServer, http};
use switchboard_connectors::jenkins::JenkinsConnector;
use switchboard_connectors::{
    Category, Connector, ConnectorError, OutboundPolicy, StaticResolver, Target,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn one_job() -> jenkins_sim::Running {
    start(json!({"jobs": [{"name": "hello", "type": "freestyle"}]})).await
}

async fn check_error(connector: &JenkinsConnector, target: &Target) -> ConnectorError {
    let error = tokio::time::timeout(DEADLINE, connector.check(target))
        .await
        .expect("the check ends")
        .expect_err("the check fails");
    assert_no_secret(&error);
    error
}

#[tokio::test]
async fn a_passing_check_names_version_user_and_permission() {
    let sim = one_job().await;
    let report = connector().check(&admin(&sim)).await.expect("passes");
    assert_eq!(report.tool_version, "2.516.1");
    assert_eq!(report.authenticated_as, "admin");
    assert_eq!(report.permissions, ["Overall/Read"]);
    sim.stop().await;
}

#[tokio::test]
async fn a_missing_or_malformed_url_is_invalid_url() {
    let mut missing = target("http://127.0.0.1:1/", "admin", ADMIN_TOKEN);
    missing.urls.clear();
    let error = check_error(&connector(), &missing).await;
    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert!(error.hint.contains("Jenkins URL"), "{error:?}");

    let ftp = target("ftp://127.0.0.1/", "admin", ADMIN_TOKEN);
    assert_eq!(
        check_error(&connector(), &ftp).await.category,
        Category::InvalidUrl
    );
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_bad_credentials() {
    let sim = one_job().await;
    let wrong = target(&sim.url, "admin", "0000000000000000000000000000000000");
    let error = check_error(&connector(), &wrong).await;
    assert_eq!(error.category, Category::BadCredentials, "{error:?}");
    assert!(
        error.hint.contains("People → admin → Security"),
        "{error:?}"
    );

    let mut tokenless = admin(&sim);
    tokenless.secrets.clear();
    let error = check_error(&connector(), &tokenless).await;
    assert_eq!(error.category, Category::BadCredentials, "{error:?}");
    assert!(
        error.hint.contains("API token") && error.hint.contains("admin"),
        "{error:?}"
    );
    // Discovery and runs refuse the same way, before sending anything.
    let error = connector()
        .discover(&tokenless)
        .await
        .expect_err("no token");
    assert_eq!(error.category, Category::BadCredentials);
    sim.stop().await;
}

#[tokio::test]
async fn a_user_without_overall_read_is_forbidden() {
    let sim = one_job().await;
    let outsider = target(&sim.url, "outsider", OUTSIDER_TOKEN);
    let error = check_error(&connector(), &outsider).await;
    assert_eq!(error.category, Category::Forbidden, "{error:?}");
    assert!(
        error.message.contains("Overall/Read") && error.hint.contains("outsider"),
        "{error:?}"
    );
    let error = connector()
        .discover(&outsider)
        .await
        .expect_err("forbidden");
    assert_eq!(error.category, Category::Forbidden);
    sim.stop().await;
}

#[tokio::test]
async fn a_url_without_the_context_path_is_not_found() {
    let sim = one_job().await;
    let root = sim.url.trim_end_matches('/').trim_end_matches("jenkins");
    let error = check_error(&connector(), &target(root, "admin", ADMIN_TOKEN)).await;
    assert_eq!(error.category, Category::NotFound, "{error:?}");
    assert!(error.hint.contains("context path"), "{error:?}");
    sim.stop().await;
}

#[tokio::test]
async fn a_server_that_is_not_jenkins_is_not_that_tool() {
    let nginx = TestServer::respond(|_| {
        http(
            "200 OK",
            &[("Content-Type", "text/html")],
            "<html>Welcome to nginx!</html>",
        )
    })
    .await;
    let other = target(&nginx.url("/"), "admin", ADMIN_TOKEN);
    let error = check_error(&connector(), &other).await;
    assert_eq!(error.category, Category::NotThatTool, "{error:?}");
    let error = connector().discover(&other).await.expect_err("not Jenkins");
    assert_eq!(error.category, Category::NotThatTool, "{error:?}");
}

#[tokio::test]
async fn a_closed_port_is_connect() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/jenkins/",
        listener.local_addr().expect("address")
    );
    drop(listener);
    let error = check_error(&connector(), &target(&url, "admin", ADMIN_TOKEN)).await;
    assert_eq!(error.category, Category::Connect, "{error:?}");
}

#[tokio::test]
async fn an_unresolvable_host_is_dns() {
    // The resolver knows no names at all: the lookup fails without any DNS traffic.
    let error = check_error(
        &connector(),
        &target("http://jenkins.example.test/", "admin", ADMIN_TOKEN),
    )
    .await;
    assert_eq!(error.category, Category::Dns, "{error:?}");
    assert!(error.hint.contains("jenkins.example.test"), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_timeout_within_the_bound() {
    let silent = TestServer::silent().await;
    let bounded = JenkinsConnector::new(client_with(
        OutboundPolicy {
            total_timeout: Duration::from_millis(400),
            ..policy()
        },
        StaticResolver::new(),
    ));
    let error = check_error(&bounded, &target(&silent.url("/"), "admin", ADMIN_TOKEN)).await;
    assert_eq!(error.category, Category::Timeout, "{error:?}");
    assert!(
        error.message.contains("400 ms"),
        "names the bound: {error:?}"
    );
}

#[tokio::test]
async fn a_failing_jenkins_is_upstream_error() {
    let sim = one_job().await;
    let control = sim.control();
    control.set_outage(Some(500)).expect("outage");
    let error = check_error(&connector(), &admin(&sim)).await;
    assert_eq!(error.category, Category::UpstreamError, "{error:?}");
    let error = connector()
        .discover(&admin(&sim))
        .await
        .expect_err("failing");
    assert_eq!(error.category, Category::UpstreamError, "{error:?}");
    control.set_outage(None).expect("recovered");
    connector().check(&admin(&sim)).await.expect("passes again");
    sim.stop().await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_tls() {
    let server = TlsTestServer::start().await;
    let resolving = JenkinsConnector::new(client_with(
        policy(),
        StaticResolver::new().with("localhost", &[LOCALHOST]),
    ));
    let url = format!("https://localhost:{}/", server.addr.port());
    let error = check_error(&resolving, &target(&url, "admin", ADMIN_TOKEN)).await;
    assert_eq!(error.category, Category::Tls, "{error:?}");
    assert!(error.message.contains("not trusted"), "{error:?}");
}

#[tokio::test]
async fn a_jenkins_answer_that_is_not_its_json_is_protocol() {
    let odd = TestServer::respond(|_| {
        http(
            "200 OK",
            &[("X-Jenkins", "2.516.1"), ("Content-Type", "text/html")],
            "<html>a login page in between</html>",
        )
    })
    .await;
    let error = check_error(&connector(), &target(&odd.url("/"), "admin", ADMIN_TOKEN)).await;
    assert_eq!(error.category, Category::Protocol, "{error:?}");
}
