//! The Buildbot connection check and the error categories, against a real Buildbot 4.3.0
//! master (one per test binary, only read from here) and against small HTTP servers that
//! are not Buildbot, or that play one to show how sessions are used.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::buildbot::{
    ADMIN_PASSWORD, DEADLINE, Master, admin, assert_no_secret, connector, discovered, shared,
    target, viewer,
};
use support::{Recorded, TestServer, http};
use switchboard_connectors::buildbot::{
    ANONYMOUS, BuildbotConnector, PERMISSION_CONTROL, PERMISSION_READ,
};
use switchboard_connectors::{Category, Connector, ConnectorError, PipelineRef, Target};
use switchboard_domain::pipeline::ParameterValue;

async fn check_error(connector: &BuildbotConnector, target: &Target) -> ConnectorError {
    let error = tokio::time::timeout(DEADLINE, connector.check(target))
        .await
        .expect("the check ends")
        .expect_err("the check fails");
    assert_no_secret(&error);
    error
}

fn greet() -> PipelineRef {
    PipelineRef {
        full_path: "greet".to_owned(),
        parameters: Vec::new(),
    }
}

#[tokio::test]
async fn an_admin_check_names_version_user_and_permissions() {
    let master = shared();
    let report = connector().check(&admin(master)).await.expect("passes");
    assert_eq!(report.tool_version, "4.3.0");
    assert_eq!(report.authenticated_as, "admin");
    assert_eq!(report.permissions, [PERMISSION_READ, PERMISSION_CONTROL]);
}

#[tokio::test]
async fn a_viewer_who_may_not_control_is_forbidden_at_the_check() {
    let master = shared();
    let error = check_error(&connector(), &viewer(master)).await;
    assert_eq!(error.category, Category::Forbidden, "{error:?}");
    assert!(error.message.contains("viewer"), "{error:?}");
    assert!(error.hint.contains("authz"), "{error:?}");
}

#[tokio::test]
async fn without_a_password_the_check_is_anonymous() {
    let master = shared();
    for anonymous in [
        target(&master.url, None, None),
        target(&master.url, Some("admin"), None),
        target(&master.url, Some("admin"), Some("")),
    ] {
        // This master lets anonymous users read but not control.
        let error = check_error(&connector(), &anonymous).await;
        assert_eq!(error.category, Category::Forbidden, "{error:?}");
        assert!(error.message.contains(ANONYMOUS), "{error:?}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_bad_credentials_naming_the_user() {
    let master = shared();
    let wrong = target(&master.url, Some("admin"), Some("not-the-password"));
    let error = check_error(&connector(), &wrong).await;
    assert_eq!(error.category, Category::BadCredentials, "{error:?}");
    assert!(error.hint.contains("admin"), "{error:?}");
    assert!(!error.message.contains("not-the-password"), "{error:?}");
    let error = connector().discover(&wrong).await.expect_err("refused");
    assert_eq!(error.category, Category::BadCredentials, "{error:?}");

    let unknown = target(&master.url, Some("nobody"), Some(ADMIN_PASSWORD));
    let error = check_error(&connector(), &unknown).await;
    assert_eq!(error.category, Category::BadCredentials, "{error:?}");
    assert!(error.hint.contains("nobody"), "{error:?}");
}

#[tokio::test]
async fn a_password_without_a_user_name_is_bad_credentials() {
    let master = shared();
    let nameless = target(&master.url, None, Some(ADMIN_PASSWORD));
    let error = check_error(&connector(), &nameless).await;
    assert_eq!(error.category, Category::BadCredentials, "{error:?}");
    assert!(error.hint.contains("user name"), "{error:?}");
}

#[tokio::test]
async fn a_viewer_cannot_trigger_forbidden_names_the_role() {
    let master = shared();
    let error = connector()
        .trigger(&viewer(master), &greet(), &BTreeMap::new(), "test-run")
        .await
        .expect_err("forbidden");
    assert_no_secret(&error);
    assert_eq!(error.category, Category::Forbidden, "{error:?}");
    assert!(error.message.contains("role 'admins'"), "{error:?}");
    assert!(
        error.hint.contains("viewer") && error.hint.contains("'admins'"),
        "{error:?}"
    );

    let anonymous = target(&master.url, None, None);
    let values = BTreeMap::from([("greeting".to_owned(), ParameterValue::Text("hi".into()))]);
    let error = connector()
        .trigger(&anonymous, &greet(), &values, "test-run")
        .await
        .expect_err("forbidden");
    assert_eq!(error.category, Category::Forbidden, "{error:?}");
    assert!(error.hint.contains("user name and password"), "{error:?}");
}

#[tokio::test]
async fn a_wrong_path_is_not_found() {
    let master = shared();
    let error = check_error(
        &connector(),
        &target(
            &format!("{}ci/", master.url),
            Some("admin"),
            Some(ADMIN_PASSWORD),
        ),
    )
    .await;
    assert_eq!(error.category, Category::NotFound, "{error:?}");
    assert!(error.hint.contains("root URL"), "{error:?}");

    // The API's URL instead of the root's.
    let error = check_error(
        &connector(),
        &target(
            &format!("{}api/v2/", master.url),
            Some("admin"),
            Some(ADMIN_PASSWORD),
        ),
    )
    .await;
    assert_eq!(error.category, Category::NotFound, "{error:?}");
    assert!(error.hint.contains("without /api/v2"), "{error:?}");
}

#[tokio::test]
async fn a_missing_url_is_invalid_url() {
    let mut missing = target("http://127.0.0.1:1/", Some("admin"), Some(ADMIN_PASSWORD));
    missing.urls.clear();
    let error = check_error(&connector(), &missing).await;
    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert!(error.hint.contains("Buildbot URL"), "{error:?}");
}

#[tokio::test]
async fn a_server_that_is_not_buildbot_is_not_that_tool() {
    let nginx = TestServer::respond(|_| {
        http(
            "200 OK",
            &[("Content-Type", "text/html")],
            "<html>Welcome to nginx!</html>",
        )
    })
    .await;
    let other = target(&nginx.url("/"), Some("admin"), Some(ADMIN_PASSWORD));
    let error = check_error(&connector(), &other).await;
    assert_eq!(error.category, Category::NotThatTool, "{error:?}");
    let anonymous = target(&nginx.url("/"), None, None);
    let error = connector()
        .discover(&anonymous)
        .await
        .expect_err("not Buildbot");
    assert_eq!(error.category, Category::NotThatTool, "{error:?}");

    let json = TestServer::respond(|_| {
        http(
            "200 OK",
            &[("Content-Type", "application/json")],
            r#"{"status": "ok", "version": "1.2.3"}"#,
        )
    })
    .await;
    let error = check_error(&connector(), &target(&json.url("/"), None, None)).await;
    assert_eq!(error.category, Category::NotThatTool, "{error:?}");
}

#[tokio::test]
async fn a_failing_server_is_upstream_error() {
    let failing = TestServer::respond(|_| http("502 Bad Gateway", &[], "bad gateway")).await;
    let error = check_error(&connector(), &target(&failing.url("/"), None, None)).await;
    assert_eq!(error.category, Category::UpstreamError, "{error:?}");
}

/// Plays a Buildbot that knows admin and says who a session belongs to; counts logins.
/// With `expire_first_read`, its first answer to `api/v2/builders` carries a new session
/// cookie, as Buildbot's does when the session sent has expired.
async fn fake_buildbot(logins: Arc<AtomicUsize>, expire_first_read: bool) -> TestServer {
    let reads = Arc::new(AtomicUsize::new(0));
    TestServer::respond(move |request: &Recorded| {
        let target = request.target();
        let cookie = request.header("cookie").unwrap_or_default();
        let json = [("Content-Type", "application/json")];
        if target.starts_with("/auth/login") {
            // "admin:secret"
            if request.header("authorization").as_deref() != Some("Basic YWRtaW46c2VjcmV0") {
                return http("401 Unauthorized", &[], "Unauthorized");
            }
            let n = logins.fetch_add(1, Ordering::SeqCst) + 1;
            let set = format!("TWISTED_SESSION=admin-session-{n}; Path=/");
            return http(
                "302 Found",
                &[
                    ("Location", "http://buildbot.elsewhere.test/#/"),
                    ("Set-Cookie", "TWISTED_SESSION=anonymous-session; Path=/"),
                    ("Set-Cookie", &set),
                ],
                "",
            );
        }
        let logged_in = cookie.starts_with("TWISTED_SESSION=admin-session-");
        if target == "/config" {
            let user = if logged_in {
                r#"{"username": "admin"}"#
            } else {
                r#"{"anonymous": true}"#
            };
            let body = format!(
                r#"{{"buildbotURL": "http://127.0.0.1/", "versions": [["Buildbot", "4.3.0"]], "user": {user}}}"#
            );
            return http("200 OK", &json, &body);
        }
        if target.starts_with("/api/v2/builders") {
            if expire_first_read && reads.fetch_add(1, Ordering::SeqCst) == 0 {
                return http(
                    "200 OK",
                    &[
                        ("Content-Type", "application/json"),
                        ("Set-Cookie", "TWISTED_SESSION=anonymous-again; Path=/"),
                    ],
                    r#"{"builders": []}"#,
                );
            }
            return http("200 OK", &json, r#"{"builders": []}"#);
        }
        if target.starts_with("/api/v2/forceschedulers") {
            return http(
                "501 Not Implemented",
                &json,
                r#"{"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "not supported"}}"#,
            );
        }
        http("404 Not Found", &[], "nothing here")
    })
    .await
}

#[tokio::test]
async fn a_session_is_logged_in_once_and_basic_credentials_go_only_to_the_login() {
    let logins = Arc::new(AtomicUsize::new(0));
    let fake = fake_buildbot(logins.clone(), false).await;
    let connector = connector();
    let target = target(&fake.url("/"), Some("admin"), Some("secret"));
    for _ in 0..3 {
        let report = connector.check(&target).await.expect("passes");
        assert_eq!(report.authenticated_as, "admin");
    }
    assert_eq!(
        logins.load(Ordering::SeqCst),
        1,
        "one login for three checks"
    );
    for request in fake.requests() {
        let is_login = request.target().starts_with("/auth/login");
        assert_eq!(
            request.header("authorization").is_some(),
            is_login,
            "{}",
            request.head
        );
        if !is_login && request.target() != "/config" {
            assert_eq!(
                request.header("cookie").as_deref(),
                Some("TWISTED_SESSION=admin-session-1"),
                "the last cookie of the login: {}",
                request.head
            );
        }
        assert_eq!(
            request.header("accept").as_deref(),
            Some("application/json")
        );
    }

    // Another password is another session.
    let other = support::buildbot::target(&fake.url("/"), Some("admin"), Some("other"));
    let error = connector.check(&other).await.expect_err("wrong password");
    assert_eq!(error.category, Category::BadCredentials, "{error:?}");
    assert_eq!(logins.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_session_is_renewed_and_the_request_sent_again() {
    let logins = Arc::new(AtomicUsize::new(0));
    let fake = fake_buildbot(logins.clone(), true).await;
    let target = target(&fake.url("/"), Some("admin"), Some("secret"));
    let connector = connector();
    connector.check(&target).await.expect("passes");
    assert_eq!(logins.load(Ordering::SeqCst), 2, "logged in again once");
    let builders: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.target().starts_with("/api/v2/builders"))
        .collect();
    assert_eq!(builders.len(), 2, "the read was sent again");
    assert_eq!(
        builders[1].header("cookie").as_deref(),
        Some("TWISTED_SESSION=admin-session-2")
    );
    // The renewed session is the cached one.
    connector.check(&target).await.expect("passes");
    assert_eq!(logins.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_viewer_cannot_cancel_either() {
    let master = shared();
    // A request that does not exist: reading its builds is allowed, cancelling is not.
    let handle = switchboard_connectors::RunHandle {
        pipeline_path: "greet".to_owned(),
        queue_ref: Some("987654".to_owned()),
        build_ref: None,
    };
    let error = connector()
        .cancel(&viewer(master), &handle)
        .await
        .expect_err("forbidden");
    assert_eq!(error.category, Category::Forbidden, "{error:?}");
    assert!(
        error.message.contains("cancel build request 987654"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_real_expired_session_is_renewed() {
    // Sessions that last three seconds.
    let master = Master::start(serde_json::json!({"cookie_expiration_seconds": 3}));
    let connector = connector();
    let admin = admin(&master);
    connector.check(&admin).await.expect("passes");
    let fresh = discovered(&connector, &admin).await;
    assert_eq!(fresh.requests, 3, "the check's session is reused");

    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    // Buildbot answers the expired cookie with a new anonymous session: log in again and
    // read again (the expired read, the login, the read again, then the other two).
    let renewed = discovered(&connector, &admin).await;
    assert_eq!(renewed.requests, 5, "one renewal");
    assert_eq!(renewed.pipelines.len(), fresh.pipelines.len());
    connector
        .trigger(
            &admin,
            &PipelineRef {
                full_path: "fails".to_owned(),
                parameters: Vec::new(),
            },
            &BTreeMap::new(),
            "test-run",
        )
        .await
        .expect("the renewed session may force builds");
}
