//! Jenkins in the contract: the simulator (e2e/jenkins-sim), one per test, in-process on
//! 127.0.0.1 under the context path `/jenkins`.

use serde_json::{Value, json};

use crate::contract::{Contract, Invalid, Needs, ToolHarness};

pub const ADMIN_TOKEN: &str = "11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3";
pub const WRONG_TOKEN: &str = "11ffffffffffffffffffffffffffffffff";
/// A user without Overall/Read.
pub const OUTSIDER_TOKEN: &str = "11c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8";

/// The simulator's configuration; runs wait `quiet_period_ms` in the queue first.
pub fn sim_config(quiet_period_ms: u64) -> jenkins_sim::Config {
    let log = [
        "+ ./deploy.sh --plan",
        "Plan: 3 to change",
        "+ ./deploy.sh --apply",
        "Applied 3 changes",
    ];
    serde_json::from_value(json!({
        "version": "2.516.1",
        // As 2.516.1 streams logs: with encoded console notes, which runs' logs never show.
        "console_notes": true,
        "quiet_period_ms": quiet_period_ms,
        "executors": 4,
        "users": [
            {"name": "admin", "password": "admin-password", "tokens": [ADMIN_TOKEN],
             "permissions": ["Overall/Read", "Job/Read", "Job/Build", "Job/Cancel"]},
            {"name": "outsider", "password": "outsider-password", "tokens": [OUTSIDER_TOKEN],
             "permissions": []}
        ],
        "jobs": [
            {"name": "platform", "type": "folder", "jobs": [
                {"name": "deploy", "type": "pipeline",
                 "parameters": [
                    {"type": "choice", "name": "ENVIRONMENT", "choices": ["staging", "production"]},
                    {"type": "string", "name": "VERSION", "default": "latest"},
                    {"type": "boolean", "name": "DRY_RUN", "default": true}
                 ],
                 "build": {"duration_ms": 400, "result": "SUCCESS", "log": log}},
                {"name": "web", "type": "multibranch", "build": {"duration_ms": 300, "result": "SUCCESS"},
                 "branches": ["main", "feature-x"]}
            ]},
            {"name": "nightly", "type": "freestyle", "build": {"duration_ms": 300, "result": "UNSTABLE"}},
            {"name": "broken", "type": "freestyle", "build": {"duration_ms": 300, "result": "FAILURE"}},
            {"name": "slow", "type": "freestyle", "build": {"duration_ms": 2500, "result": "SUCCESS",
             "log": ["step 1", "step 2", "step 3", "step 4", "step 5"]}},
            {"name": "endless", "type": "freestyle", "build": {"duration_ms": 3_600_000, "result": "SUCCESS",
             "log": ["waiting"]}},
            {"name": "legacy", "type": "freestyle", "disabled": true}
        ]
    }))
    .expect("simulator config")
}

/// The buildable jobs of [`sim_config`], by full path.
pub const PIPELINES: &[&str] = &[
    "broken",
    "endless",
    "legacy",
    "nightly",
    "platform/deploy",
    "platform/web/feature-x",
    "platform/web/main",
    "slow",
];

/// A top-level job's `nextBuildNumber` and `inQueue`, read from the simulator as its admin:
/// how many builds the tool started for it, and whether one still waits.
pub async fn job_builds(sim: &jenkins_sim::Running, job: &str) -> (i64, bool) {
    let answer: serde_json::Value = switchboard_test_support::http_client()
        .build()
        .expect("client")
        .get(format!(
            "{}job/{job}/api/json?tree=nextBuildNumber,inQueue",
            sim.url
        ))
        .basic_auth("admin", Some(ADMIN_TOKEN))
        .send()
        .await
        .expect("simulator")
        .json()
        .await
        .expect("json");
    (
        answer["nextBuildNumber"].as_i64().expect("nextBuildNumber") - 1,
        answer["inQueue"].as_bool().expect("inQueue"),
    )
}

pub async fn start_sim(quiet_period_ms: u64) -> jenkins_sim::Running {
    jenkins_sim::start(sim_config(quiet_period_ms), "127.0.0.1:0", "/jenkins")
        .await
        .expect("simulator starts")
}

pub struct Jenkins {
    sim: jenkins_sim::Running,
}

impl ToolHarness for Jenkins {
    const TOOL: &'static str = "jenkins";
    const VERSION: &'static str = "2.516.1";
    const USER: &'static str = "admin";
    const SECRET_FIELD: &'static str = "apiToken";
    const BAD_CREDENTIALS_HINT: &'static str = "People";
    const PIPELINES: &'static [&'static str] = PIPELINES;
    const PARAMETERIZED: &'static str = "platform/deploy";
    const PARAMETER_TYPES: &'static [(&'static str, &'static str)] = &[
        ("ENVIRONMENT", "choice"),
        ("VERSION", "string"),
        ("DRY_RUN", "boolean"),
    ];
    const PARAMETERIZED_LOG: &'static [&'static str] = &["Plan: 3 to change", "Applied 3 changes"];
    const FAILS: &'static str = "broken";
    const UNSTABLE: &'static str = "nightly";
    const UNBUILDABLE: Option<&'static str> = Some("legacy");
    const SLOW: &'static str = "slow";
    const SLOW_LOG: &'static [&'static str] = &["step 1", "step 2", "step 3", "step 4", "step 5"];
    const ENDLESS: &'static str = "endless";
    // Jenkins' first line.
    const ENDLESS_LOG: &'static str = "Started by user admin";
    const QUEUED: &'static str = "slow";

    async fn start(needs: Needs) -> Self {
        // Held in the queue: a quiet period longer than any test.
        let quiet_period_ms = if needs == Needs::HeldQueue {
            3_600_000
        } else {
            50
        };
        Self {
            sim: start_sim(quiet_period_ms).await,
        }
    }

    async fn stop(self) {
        self.sim.stop().await;
    }

    fn url(&self) -> String {
        self.sim.url.clone()
    }

    fn credentials(&self) -> Value {
        json!({"username": "admin", "apiToken": ADMIN_TOKEN})
    }

    fn good_secret(&self) -> &'static str {
        ADMIN_TOKEN
    }

    fn wrong_secret(&self) -> &'static str {
        WRONG_TOKEN
    }

    fn lacking_permission(&self) -> Value {
        json!({"username": "outsider", "apiToken": OUTSIDER_TOKEN})
    }

    fn wrong_path_url(&self) -> String {
        // The root, without Jenkins' context path.
        let url = self.url();
        url.trim_end_matches('/')
            .trim_end_matches("jenkins")
            .to_owned()
    }

    fn valid_parameters(&self) -> Value {
        json!({"ENVIRONMENT": "production", "VERSION": "1.2.3", "DRY_RUN": false})
    }

    fn invalid_parameters(&self) -> Vec<Invalid> {
        vec![
            Invalid {
                values: json!({"NOPE": "x"}),
                field: "parameters.NOPE",
                code: "unknown_field",
            },
            Invalid {
                values: json!({"DRY_RUN": "yes"}),
                field: "parameters.DRY_RUN",
                code: "wrong_type",
            },
            Invalid {
                values: json!({"ENVIRONMENT": "qa"}),
                field: "parameters.ENVIRONMENT",
                code: "not_a_choice",
            },
        ]
    }

    async fn hold_queue(_: &Contract<Self>) -> Option<String> {
        // The quiet period holds it; nothing to start.
        None
    }
}
