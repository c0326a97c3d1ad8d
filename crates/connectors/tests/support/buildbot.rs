//! The connector's view of the real Buildbot master that the `buildbot-harness` crate
//! (e2e/buildbot-harness) starts: guarded clients, targets for its users, and polling.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_connectors::buildbot::BuildbotConnector;
use switchboard_connectors::{
    BaseUrl, Category, Connector, ConnectorError, Discovery, GuardedClient, Method, OriginClient,
    OutboundPolicy, RunHandle, RunState, StaticResolver, Target,
};

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use buildbot_harness::{ADMIN_PASSWORD, DEADLINE, Master, VIEWER_PASSWORD, shared};

pub fn policy() -> OutboundPolicy {
    OutboundPolicy {
        connect_timeout: Duration::from_secs(2),
        // Generous: a real master answered one request in more than 20 s while another test
        // of the same binary started a second master and its workers on the 2 cores; nothing
        // here waits for a master that never answers, and nothing asserts durations.
        total_timeout: Duration::from_secs(60),
        max_body_bytes: 16 * 1024 * 1024,
        max_redirects: 3,
        deny_private: false,
        allowed_hosts: Vec::new(),
        ..OutboundPolicy::default()
    }
}

pub fn client() -> GuardedClient {
    GuardedClient::with_resolver(policy(), Arc::new(StaticResolver::new())).expect("client")
}

pub fn connector() -> BuildbotConnector {
    BuildbotConnector::new(client())
}

pub fn target(url: &str, username: Option<&str>, password: Option<&str>) -> Target {
    Target {
        urls: BTreeMap::from([("apiUrl".to_owned(), url.to_owned())]),
        fields: username
            .map(|name| BTreeMap::from([("username".to_owned(), name.to_owned())]))
            .unwrap_or_default(),
        secrets: password
            .map(|pw| BTreeMap::from([("password".to_owned(), pw.to_owned().into())]))
            .unwrap_or_default(),
    }
}

/// Discovers with `connector`, failing the test on an error — after a second attempt when
/// the first timed out. A real master on a loaded machine has been seen silent for a minute
/// now and then; the product retries a failed discovery soon, and so does this. The stall is
/// reported with the masters' logs, so that it can be understood.
#[allow(dead_code)]
pub async fn discovered(connector: &BuildbotConnector, target: &Target) -> Discovery {
    let first = connector.discover(target).await;
    let outcome = match first {
        Err(error) if error.category == Category::Timeout => {
            eprintln!(
                "a discovery timed out ({}); trying again once\n{}",
                error.message,
                buildbot_harness::live_logs()
            );
            connector.discover(target).await
        }
        other => other,
    };
    outcome.unwrap_or_else(|error| panic!("discovers: {error:?}"))
}

pub fn admin(master: &Master) -> Target {
    target(&master.url, Some("admin"), Some(ADMIN_PASSWORD))
}

pub fn viewer(master: &Master) -> Target {
    target(&master.url, Some("viewer"), Some(VIEWER_PASSWORD))
}

/// A client of the master for looking behind the connector's back (anonymous reads).
pub fn inspector(master: &Master) -> OriginClient {
    client().for_origin(BaseUrl::parse(&master.url).expect("base"), None)
}

/// GETs `path` under the master anonymously and returns the JSON.
pub async fn inspect(master: &Master, path: &str) -> Value {
    let client = inspector(master);
    let answer = client
        .send(client.request(Method::GET, path).expect("request"))
        .await
        .expect("answer");
    assert!(
        answer.status().is_success(),
        "GET {path}: {}",
        answer.status()
    );
    answer.json().expect("json")
}

/// Polls until `done` holds, sleeping a little between polls; fails at [`DEADLINE`].
pub async fn poll_until(
    connector: &BuildbotConnector,
    target: &Target,
    handle: &RunHandle,
    done: impl Fn(&RunState) -> bool,
) -> RunState {
    let give_up = Instant::now() + DEADLINE;
    let mut handle = handle.clone();
    loop {
        let state = connector.poll(target, &handle).await.expect("poll");
        if done(&state) {
            return state;
        }
        assert!(
            Instant::now() < give_up,
            "the run never got there; last state {state:?}"
        );
        handle = state.handle;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fails if any text of the error carries one of the passwords these tests use.
pub fn assert_no_secret(error: &ConnectorError) {
    let shown = format!("{error:?} {error}");
    for secret in [ADMIN_PASSWORD, VIEWER_PASSWORD] {
        assert!(!shown.contains(secret), "secret leaked: {shown}");
    }
}
