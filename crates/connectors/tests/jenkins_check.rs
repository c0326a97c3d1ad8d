//! The Jenkins connection check against servers that answer as Jenkins (or something else)
//! would, per docs/jenkins.md. All on 127.0.0.1.

mod support;

use std::time::Duration;

use support::{TestServer, http};
use switchboard_connectors::{
    BaseUrl, Category, Credentials, GuardedClient, OutboundPolicy, jenkins,
};

const TOKEN: &str = "11aa22bb33cc-token";

fn policy() -> OutboundPolicy {
    OutboundPolicy {
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_millis(1500),
        max_body_bytes: 64 * 1024,
        max_redirects: 3,
        deny_private: false,
        allowed_hosts: Vec::new(),
        ..OutboundPolicy::default()
    }
}

async fn check(
    server: &TestServer,
) -> Result<switchboard_connectors::ConnectionReport, switchboard_connectors::ConnectorError> {
    let client = GuardedClient::new(policy()).expect("client");
    let origin = client.for_origin(
        BaseUrl::parse(&server.url("/jenkins/")).expect("base"),
        Some(Credentials::Basic {
            username: "alice".into(),
            secret: TOKEN.to_owned().into(),
        }),
    );
    jenkins::check(&origin).await
}

/// A Jenkins 2.479.3 where `alice`'s token is valid and she may read.
fn jenkins_answer(recorded: &support::Recorded) -> Vec<u8> {
    let authorized = recorded
        .header("authorization")
        .is_some_and(|v| v.starts_with("Basic "));
    if !authorized {
        return http(
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"Jenkins\"")],
            "<html>401</html>",
        );
    }
    if recorded.target().starts_with("/jenkins/whoAmI/api/json") {
        return http(
            "200 OK",
            &[
                ("X-Jenkins", "2.479.3"),
                ("Content-Type", "application/json"),
            ],
            r#"{"_class":"hudson.security.WhoAmI","anonymous":false,"authenticated":true,"authorities":["authenticated"],"name":"alice"}"#,
        );
    }
    if recorded.target().starts_with("/jenkins/api/json") {
        return http(
            "200 OK",
            &[
                ("X-Jenkins", "2.479.3"),
                ("Content-Type", "application/json"),
            ],
            r#"{"_class":"hudson.model.Hudson","mode":"NORMAL"}"#,
        );
    }
    http(
        "404 Not Found",
        &[("X-Jenkins", "2.479.3")],
        "<html>404</html>",
    )
}

#[tokio::test]
async fn a_reachable_jenkins_with_valid_credentials_passes() {
    let server = TestServer::respond(jenkins_answer).await;
    let report = check(&server).await.expect("passes");
    assert_eq!(report.tool_version, "2.479.3");
    assert_eq!(report.authenticated_as, "alice");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "who am I, then may I read");
    assert!(requests.iter().all(|r| r.header("authorization").is_some()));
}

#[tokio::test]
async fn a_refused_token_is_bad_credentials_with_a_hint_naming_the_user() {
    let server = TestServer::respond(|_| {
        http(
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"Jenkins\"")],
            "<html/>",
        )
    })
    .await;
    let error = check(&server).await.expect_err("refused");
    assert_eq!(error.category, Category::BadCredentials);
    assert!(
        error.hint.contains("People → alice → Security"),
        "{}",
        error.hint
    );
    assert!(!format!("{error:?}").contains(TOKEN));
}

#[tokio::test]
async fn credentials_that_were_not_applied_are_bad_credentials() {
    let server = TestServer::respond(|_| {
        http(
            "200 OK",
            &[("X-Jenkins", "2.479.3")],
            r#"{"_class":"hudson.security.WhoAmI","anonymous":true,"authenticated":false,"name":"anonymous"}"#,
        )
    })
    .await;
    assert_eq!(
        check(&server).await.expect_err("anonymous").category,
        Category::BadCredentials
    );
}

#[tokio::test]
async fn a_user_without_overall_read_is_forbidden_naming_the_permission() {
    let server = TestServer::respond(|recorded| {
        if recorded.target().contains("whoAmI") {
            return http(
                "200 OK",
                &[("X-Jenkins", "2.479.3")],
                r#"{"anonymous":false,"authenticated":true,"name":"bob"}"#,
            );
        }
        http(
            "403 Forbidden",
            &[
                ("X-Jenkins", "2.479.3"),
                ("X-You-Are-Authenticated-As", "bob"),
                ("X-Required-Permission", "hudson.model.Hudson.Read"),
            ],
            "<html>403</html>",
        )
    })
    .await;
    let error = check(&server).await.expect_err("forbidden");
    assert_eq!(error.category, Category::Forbidden);
    assert!(
        error.message.contains("hudson.model.Hudson.Read") && error.hint.contains("bob"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_wrong_path_is_not_found() {
    let server = TestServer::respond(|_| {
        http(
            "404 Not Found",
            &[("X-Jenkins", "2.479.3")],
            "<html>404</html>",
        )
    })
    .await;
    let error = check(&server).await.expect_err("not found");
    assert_eq!(error.category, Category::NotFound);
    assert!(error.hint.contains("context path"));
}

#[tokio::test]
async fn something_that_is_not_jenkins_is_not_that_tool() {
    let server = TestServer::respond(|_| {
        http(
            "200 OK",
            &[("Content-Type", "text/html")],
            "<html>Welcome to nginx!</html>",
        )
    })
    .await;
    assert_eq!(
        check(&server).await.expect_err("not Jenkins").category,
        Category::NotThatTool
    );
}

#[tokio::test]
async fn another_server_that_has_no_who_am_i_is_not_that_tool() {
    // A web server with a page at the URL and nothing under it answers whoAmI with 404,
    // as a wrong context path would; its page at the URL itself is what gives it away.
    let server = TestServer::respond(|recorded| {
        if recorded.target() == "/jenkins/" {
            return http(
                "200 OK",
                &[("Content-Type", "text/html")],
                "<html>Grafana</html>",
            );
        }
        http("404 Not Found", &[], "<html>404</html>")
    })
    .await;
    let error = check(&server).await.expect_err("not Jenkins");
    assert_eq!(error.category, Category::NotThatTool, "{error:?}");
    assert!(error.message.contains("/jenkins/"), "{}", error.message);
    let targets: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.target().to_owned())
        .collect();
    assert_eq!(targets, ["/jenkins/whoAmI/api/json", "/jenkins/"]);
}

#[tokio::test]
async fn a_path_where_nothing_answers_is_not_found() {
    // As Jenkins' servlet container answers for a path outside Jenkins' context path.
    let server = TestServer::respond(|_| http("404 Not Found", &[], "<html>404</html>")).await;
    let error = check(&server).await.expect_err("not found");
    assert_eq!(error.category, Category::NotFound, "{error:?}");
    assert!(error.hint.contains("context path"), "{}", error.hint);
}

#[tokio::test]
async fn a_failing_server_is_upstream_error() {
    let server = TestServer::respond(|_| http("502 Bad Gateway", &[], "bad gateway")).await;
    assert_eq!(
        check(&server).await.expect_err("failing").category,
        Category::UpstreamError
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_bound() {
    let server = TestServer::silent().await;
    assert_eq!(
        check(&server).await.expect_err("silent").category,
        Category::Timeout
    );
}
