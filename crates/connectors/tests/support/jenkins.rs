//! The Jenkins connector against the simulator: a connector whose resolver knows no names
//! (so nothing ever asks real DNS), targets, and polling with an overall deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_connectors::jenkins::JenkinsConnector;
use switchboard_connectors::{
    BaseUrl, Connector, ConnectorError, Credentials, GuardedClient, OriginClient, OutboundPolicy,
    RunHandle, RunState, StaticResolver, Target,
};

pub const ADMIN_TOKEN: &str = "11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3";
pub const ADMIN_PASSWORD: &str = "admin-password-do-not-show";
pub const VIEWER_TOKEN: &str = "11b0f2e3d4c5b6a79881726354453627ab";
pub const OUTSIDER_TOKEN: &str = "11c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8";

/// How long any wait in these tests may take before it counts as a failure. Generous: it
/// only bounds a test that would otherwise hang.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn policy() -> OutboundPolicy {
    OutboundPolicy {
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_secs(5),
        max_body_bytes: 16 * 1024 * 1024,
        max_redirects: 3,
        deny_private: false,
        allowed_hosts: Vec::new(),
        ..OutboundPolicy::default()
    }
}

pub fn client_with(policy: OutboundPolicy, resolver: StaticResolver) -> GuardedClient {
    GuardedClient::with_resolver(policy, Arc::new(resolver)).expect("client")
}

pub fn connector() -> JenkinsConnector {
    JenkinsConnector::new(client_with(policy(), StaticResolver::new()))
}

/// The users every simulator here knows: `admin` may do everything, `viewer` only read,
/// `outsider` nothing at all.
pub fn users() -> Value {
    serde_json::json!([
        {"name": "admin", "full_name": "Ada Admin", "password": ADMIN_PASSWORD,
         "tokens": [ADMIN_TOKEN],
         "permissions": ["Overall/Read", "Job/Read", "Job/Build", "Job/Cancel"]},
        {"name": "viewer", "tokens": [VIEWER_TOKEN], "permissions": ["Overall/Read", "Job/Read"]},
        {"name": "outsider", "tokens": [OUTSIDER_TOKEN], "permissions": []}
    ])
}

/// A simulator under `/jenkins` (as behind a proxy) with `config` plus [`users`].
pub async fn start(mut config: Value) -> jenkins_sim::Running {
    config["users"] = users();
    let config: jenkins_sim::Config = serde_json::from_value(config).expect("simulator config");
    jenkins_sim::start(config, "127.0.0.1:0", "/jenkins")
        .await
        .expect("simulator")
}

pub fn target(url: &str, username: &str, token: &str) -> Target {
    Target {
        urls: BTreeMap::from([("apiUrl".to_owned(), url.to_owned())]),
        fields: BTreeMap::from([("username".to_owned(), username.to_owned())]),
        secrets: BTreeMap::from([("apiToken".to_owned(), token.to_owned().into())]),
    }
}

pub fn admin(sim: &jenkins_sim::Running) -> Target {
    target(&sim.url, "admin", ADMIN_TOKEN)
}

/// A client of the simulator for looking behind the connector's back.
pub fn inspector(sim: &jenkins_sim::Running) -> OriginClient {
    client_with(policy(), StaticResolver::new()).for_origin(
        BaseUrl::parse(&sim.url).expect("base"),
        Some(Credentials::Basic {
            username: "admin".into(),
            secret: ADMIN_TOKEN.to_owned().into(),
        }),
    )
}

/// GETs `path` under the simulator as admin and returns the JSON.
pub async fn inspect(sim: &jenkins_sim::Running, path: &str) -> Value {
    let client = inspector(sim);
    let answer = client
        .send(
            client
                .request(switchboard_connectors::Method::GET, path)
                .expect("request"),
        )
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
    connector: &JenkinsConnector,
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
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fails if any text of the error carries one of the secrets these tests use.
pub fn assert_no_secret(error: &ConnectorError) {
    let shown = format!("{error:?} {error}");
    for secret in [ADMIN_TOKEN, ADMIN_PASSWORD, VIEWER_TOKEN, OUTSIDER_TOKEN] {
        assert!(!shown.contains(secret), "secret leaked: {shown}");
    }
}
