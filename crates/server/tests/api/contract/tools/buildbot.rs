//! Buildbot in the contract: a real Buildbot 4.3.0 master with local workers
//! (`buildbot-harness`, e2e/buildbot-harness), with the builder `slow` of
//! `buildbot_extension.cfg` added to e2e/buildbot/master.cfg.
//!
//! One master serves every scenario of this test binary at once: they use different
//! builders, or builders whose worker runs one build at a time, where a test's run waits
//! for another test's run to end first (each test stops its own endless runs). Only
//! [`Needs::Quiet`] gets a master of its own, which is stopped when the test ends.

use std::sync::OnceLock;

use buildbot_harness::{ADMIN_PASSWORD, Extension, Master, VIEWER_PASSWORD};
use serde_json::{Value, json};

use crate::contract::{Contract, Invalid, Needs, ToolHarness};

const EXTENSION: Extension = Extension {
    config: include_str!("buildbot_extension.cfg"),
    builders: &["slow"],
};

fn start_master() -> Master {
    Master::start_extended(json!({}), Some(&EXTENSION))
}

enum Instance {
    Shared(&'static Master),
    Own(Master),
}

pub struct Buildbot {
    master: Instance,
}

impl Buildbot {
    fn master(&self) -> &Master {
        match &self.master {
            Instance::Shared(master) => master,
            Instance::Own(master) => master,
        }
    }
}

/// The master of this test binary, started on first use (it ends with the test process).
fn shared() -> &'static Master {
    static SHARED: OnceLock<Master> = OnceLock::new();
    SHARED.get_or_init(start_master)
}

impl ToolHarness for Buildbot {
    const TOOL: &'static str = "buildbot";
    const VERSION: &'static str = "4.3.0";
    const USER: &'static str = "admin";
    const SECRET_FIELD: &'static str = "password";
    // The hint names the user whose password was refused.
    const BAD_CREDENTIALS_HINT: &'static str = "admin";
    const PIPELINES: &'static [&'static str] = &[
        "fails",
        "greet",
        "one-at-a-time",
        "retired",
        "sleeper",
        "slow",
        "warns",
    ];
    const PARAMETERIZED: &'static str = "greet";
    const PARAMETER_TYPES: &'static [(&'static str, &'static str)] = &[
        ("greeting", "string"),
        ("loud", "boolean"),
        ("target", "choice"),
        ("count", "integer"),
        ("notes", "text"),
        ("options_retries", "integer"),
    ];
    const PARAMETERIZED_LOG: &'static [&'static str] = &[
        "greeting=hi from the contract",
        "loud=True",
        "target=production",
        "count=4",
        "line 4 ✓",
    ];
    const FAILS: &'static str = "fails";
    const UNSTABLE: &'static str = "warns";
    const UNBUILDABLE: Option<&'static str> = None;
    const SLOW: &'static str = "slow";
    const SLOW_LOG: &'static [&'static str] = &["step 1", "step 2", "step 3", "step 4", "step 5"];
    const ENDLESS: &'static str = "sleeper";
    const ENDLESS_LOG: &'static str = "sleeping";
    const QUEUED: &'static str = "one-at-a-time";

    async fn start(needs: Needs) -> Self {
        let master = if needs == Needs::Quiet {
            let master = tokio::task::spawn_blocking(start_master)
                .await
                .expect("the master starts");
            Instance::Own(master)
        } else {
            Instance::Shared(
                tokio::task::spawn_blocking(shared)
                    .await
                    .expect("the shared master starts"),
            )
        };
        Self { master }
    }

    async fn stop(self) {
        if let Instance::Own(master) = self.master {
            // Stopping waits for the processes to end.
            let _ = tokio::task::spawn_blocking(move || drop(master)).await;
        }
    }

    fn url(&self) -> String {
        self.master().url.clone()
    }

    fn credentials(&self) -> Value {
        json!({"username": "admin", "password": ADMIN_PASSWORD})
    }

    fn good_secret(&self) -> &'static str {
        ADMIN_PASSWORD
    }

    fn wrong_secret(&self) -> &'static str {
        "not-the-admin-password"
    }

    fn lacking_permission(&self) -> Value {
        // May read, may not force builds (not in the role 'admins').
        json!({"username": "viewer", "password": VIEWER_PASSWORD})
    }

    fn wrong_path_url(&self) -> String {
        format!("{}ci/", self.url())
    }

    fn valid_parameters(&self) -> Value {
        json!({"greeting": "hi from the contract", "loud": true, "target": "production", "count": 4})
    }

    fn invalid_parameters(&self) -> Vec<Invalid> {
        vec![
            Invalid {
                values: json!({"colour": "red"}),
                field: "parameters.colour",
                code: "unknown_field",
            },
            Invalid {
                values: json!({"count": "many"}),
                field: "parameters.count",
                code: "wrong_type",
            },
            Invalid {
                values: json!({"loud": "yes"}),
                field: "parameters.loud",
                code: "wrong_type",
            },
            Invalid {
                values: json!({"target": "moon"}),
                field: "parameters.target",
                code: "not_a_choice",
            },
        ]
    }

    /// Keeps the single worker of `one-at-a-time` busy with an endless build of it; the
    /// next request waits for the worker.
    async fn hold_queue(ctx: &Contract<Self>) -> Option<String> {
        let blocker = ctx
            .started_run("hold the queue: trigger", Self::QUEUED, &json!({}))
            .await;
        ctx.run_until("hold the queue: running", &blocker, &["running"])
            .await;
        Some(blocker)
    }
}
