//! The connector contract: one set of scenarios, written once, that every approved tool must
//! pass through the real server API ([`TestApp`]) on both database backends.
//!
//! A tool takes part through a [`ToolHarness`]: it starts the tool (Jenkins: the simulator,
//! in-process; Buildbot: a real master and workers) and says what the scenarios need of it —
//! integration bodies with good, bad and too weak credentials, the pipelines discovery must
//! find, a pipeline with parameters and values it takes or refuses, pipelines that succeed,
//! fail, run slowly or until stopped, and how a run is kept waiting in the queue.
//!
//! [`contract_tests!`] makes one `#[test]` per (tool, scenario, backend), named
//! `contract::<tool>::<scenario>::<backend>`; every assertion message starts with
//! `[<tool>] <scenario> › <step>:`. Adding a tool: a harness module in `tools/`, and one line
//! in the `contract_tests!` invocation at the end of this file.

pub mod plain_http;
mod scenarios;

/// The tools' harnesses.
pub mod tools {
    pub mod buildbot;
    pub mod jenkins;
}

use std::future::Future;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

/// Generous: the bound only keeps a broken test from hanging; nothing asserts durations.
/// Runs on a shared Buildbot worker may wait for another test's run to be stopped first.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// What a scenario needs of the tool beyond an admin who may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Nothing special: the tool may be shared with other tests running at the same time.
    Nothing,
    /// No other test builds on it meanwhile (a sync must find nothing changed).
    Quiet,
    /// Runs of [`ToolHarness::QUEUED`] wait in the queue until cancelled (with
    /// [`ToolHarness::hold_queue`]).
    HeldQueue,
}

/// Parameter values the parameterized pipeline refuses: the values, the field named and
/// the code given.
pub struct Invalid {
    pub values: Value,
    pub field: &'static str,
    pub code: &'static str,
}

/// One tool taking part in the contract.
pub trait ToolHarness: Sized {
    /// The tool's id in the registry (and in test names and messages).
    const TOOL: &'static str;
    /// The version a check reports.
    const VERSION: &'static str;
    /// Who the good credentials authenticate as.
    const USER: &'static str;
    /// The key of the secret among the tool's credential fields.
    const SECRET_FIELD: &'static str;
    /// A text the hint of a bad-credentials check contains.
    const BAD_CREDENTIALS_HINT: &'static str;
    /// Every pipeline discovery finds, by full path, in the order the API lists them.
    const PIPELINES: &'static [&'static str];
    /// A pipeline with parameters, and its parameters' (name, type) as discovered.
    const PARAMETERIZED: &'static str;
    const PARAMETER_TYPES: &'static [(&'static str, &'static str)];
    /// Lines the parameterized pipeline's log has when run with [`ToolHarness::valid_parameters`].
    const PARAMETERIZED_LOG: &'static [&'static str];
    /// A pipeline that fails, one that ends unstable, and one that cannot be built (if the
    /// tool has such a thing).
    const FAILS: &'static str;
    const UNSTABLE: &'static str;
    const UNBUILDABLE: Option<&'static str>;
    /// A pipeline that runs a few seconds, writing [`ToolHarness::SLOW_LOG`] over time, and
    /// succeeds.
    const SLOW: &'static str;
    const SLOW_LOG: &'static [&'static str];
    /// A pipeline that runs until it is stopped (well beyond any test), and a text its log
    /// shows soon after it starts.
    const ENDLESS: &'static str;
    const ENDLESS_LOG: &'static str;
    /// The pipeline whose runs wait in the queue under [`Needs::HeldQueue`].
    const QUEUED: &'static str;

    /// Starts the tool (or takes a running one that meets `needs`).
    fn start(needs: Needs) -> impl Future<Output = Self>;
    /// Stops what [`ToolHarness::start`] started for this test alone.
    fn stop(self) -> impl Future<Output = ()>;

    /// The tool's URL for an integration.
    fn url(&self) -> String;
    /// The credentials of a user who may do everything.
    fn credentials(&self) -> Value;
    /// The secret of [`ToolHarness::credentials`] alone, and a wrong one.
    fn good_secret(&self) -> &'static str;
    fn wrong_secret(&self) -> &'static str;
    /// The credentials of a user lacking a permission the integration needs.
    fn lacking_permission(&self) -> Value;
    /// The tool's URL with a path where the tool is not.
    fn wrong_path_url(&self) -> String;
    /// Values the parameterized pipeline takes, and values it refuses.
    fn valid_parameters(&self) -> Value;
    fn invalid_parameters(&self) -> Vec<Invalid>;

    /// Under [`Needs::HeldQueue`], does whatever keeps the next run of
    /// [`ToolHarness::QUEUED`] in the queue; returns a run to cancel afterwards, if it
    /// started one.
    fn hold_queue(ctx: &Contract<Self>) -> impl Future<Output = Option<String>>;
}

/// A scenario under way: the tool, a fresh server, and what messages name.
pub struct Contract<T: ToolHarness> {
    // Dropped first, while the server still runs.
    cleanup: CancelOnFailure,
    pub tool: T,
    pub app: TestApp,
    pub scenario: &'static str,
    /// The pipelines of the integration [`Contract::connected`] made.
    pub found: Vec<Value>,
}

impl<T: ToolHarness> Contract<T> {
    pub async fn start(scenario: &'static str, needs: Needs, backend: Backend) -> Self {
        Self::start_with(scenario, needs, backend, |_| {}).await
    }

    /// Like [`Contract::start`], with `configure` changing the server's configuration first.
    pub async fn start_with(
        scenario: &'static str,
        needs: Needs,
        backend: Backend,
        configure: impl FnOnce(&mut switchboard_server::config::Config),
    ) -> Self {
        let tool = T::start(needs).await;
        let app = TestApp::spawn_with(backend, configure).await;
        Self {
            cleanup: CancelOnFailure {
                base: app.base.clone(),
                token: app.admin_token.clone(),
            },
            tool,
            app,
            scenario,
            found: Vec::new(),
        }
    }

    pub async fn finish(self) {
        drop(self.app);
        self.tool.stop().await;
    }

    /// Restarts the server (see [`TestApp::restart`]).
    pub fn restart(&mut self) {
        self.app.restart();
        self.cleanup.base = self.app.base.clone();
    }

    /// The prefix of every message: `[tool] scenario › step`.
    pub fn at(&self, step: &str) -> String {
        format!("[{}] {} › {step}", T::TOOL, self.scenario)
    }

    /// An integration body of this tool.
    pub fn body(&self, name: &str, url: &str, credentials: Value) -> Value {
        json!({"name": name, "tool": T::TOOL, "urls": {"apiUrl": url}, "credentials": credentials})
    }

    /// Sends a request and checks its status; returns the body as JSON (or as a string
    /// when it is not JSON).
    pub async fn expect(
        &self,
        step: &str,
        response: reqwest::Response,
        status: StatusCode,
    ) -> Value {
        let got = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(
            got,
            status,
            "{}: expected {}, got {}: {text}",
            self.at(step),
            status.as_u16(),
            got.as_u16()
        );
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// Checks a problem answer's status and code; returns it.
    pub async fn problem(
        &self,
        step: &str,
        response: reqwest::Response,
        status: StatusCode,
        code: &str,
    ) -> Value {
        let media = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = self.expect(step, response, status).await;
        assert_eq!(
            media,
            "application/problem+json",
            "{}: media type",
            self.at(step)
        );
        assert_eq!(
            body["code"],
            code,
            "{}: problem code: {body}",
            self.at(step)
        );
        body
    }

    pub async fn get(&self, step: &str, path: &str) -> Value {
        let response = self.app.get(path, Some(&self.app.admin_token)).await;
        self.expect(&format!("{step} (GET {path})"), response, StatusCode::OK)
            .await
    }

    /// Creates an integration as admin; returns it.
    pub async fn create(&self, step: &str, body: &Value) -> Value {
        let response = self
            .app
            .post_json("/api/v1/integrations", Some(&self.app.admin_token), body)
            .await;
        self.expect(step, response, StatusCode::CREATED).await
    }

    /// Polls `probe` until it returns `Some`, failing after [`DEADLINE`] with what the last
    /// probe saw.
    pub async fn eventually<R, F, Fut>(&self, step: &str, mut probe: F) -> R
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<R, String>>,
    {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        loop {
            let last = match probe().await {
                Ok(found) => return found,
                Err(last) => last,
            };
            assert!(
                tokio::time::Instant::now() < give_up,
                "{}: gave up waiting; last seen: {last}",
                self.at(step)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pipelines of the integration `id` (removed ones left out).
    pub async fn pipelines(&self, step: &str, id: &str) -> Vec<Value> {
        let page = self
            .get(
                step,
                &format!("/api/v1/pipelines?limit=200&integration_id={id}"),
            )
            .await;
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the integration `id` has been synced once and lists every expected pipeline.
    pub async fn discovered(&self, step: &str, id: &str) -> Vec<Value> {
        let want = T::PIPELINES.len();
        self.eventually(step, || async {
            let shown = self.get(step, &format!("/api/v1/integrations/{id}")).await;
            if shown["last_sync"]["total"] != want {
                return Err(format!("last sync {}", shown["last_sync"]));
            }
            let items = self.pipelines(step, id).await;
            if items.len() == want {
                Ok(items)
            } else {
                Err(format!("pipelines {:?}", paths(&items)))
            }
        })
        .await
    }

    /// Creates an integration with good credentials, checks that it is connected and waits
    /// for its first discovery; keeps its pipelines in `found` and returns it.
    pub async fn connected(&mut self) -> Value {
        let body = self.body(T::TOOL, &self.tool.url(), self.tool.credentials());
        let created = self.create("create with good credentials", &body).await;
        assert_eq!(
            created["status"],
            "connected",
            "{}: {created}",
            self.at("create with good credentials")
        );
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        self.found = self.discovered("the first discovery", &id).await;
        created
    }

    pub fn pipeline_id(&self, path: &str) -> String {
        self.found
            .iter()
            .find(|item| item["full_path"] == path)
            .and_then(|item| item["id"].as_str())
            .unwrap_or_else(|| {
                panic!(
                    "{}: no pipeline {path} among {:?}",
                    self.at("find pipeline"),
                    paths(&self.found)
                )
            })
            .to_owned()
    }

    pub async fn trigger(
        &self,
        token: &str,
        pipeline_id: &str,
        parameters: &Value,
    ) -> reqwest::Response {
        self.app
            .post_json(
                &format!("/api/v1/pipelines/{pipeline_id}/runs"),
                Some(token),
                &json!({ "parameters": parameters }),
            )
            .await
    }

    /// Triggers `path` as admin, checks the 202 answer and returns the run's id.
    pub async fn started_run(&self, step: &str, path: &str, parameters: &Value) -> String {
        let response = self
            .trigger(&self.app.admin_token, &self.pipeline_id(path), parameters)
            .await;
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let run = self.expect(step, response, StatusCode::ACCEPTED).await;
        let id = run["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            location,
            Some(format!("/api/v1/runs/{id}")),
            "{}: Location",
            self.at(step)
        );
        assert_eq!(run["status"], "queued", "{}: {run}", self.at(step));
        assert_eq!(run["pipeline_path"], path, "{}: {run}", self.at(step));
        assert_eq!(run["tool"], T::TOOL, "{}: {run}", self.at(step));
        id
    }

    /// Waits until the run is in one of `wanted`; fails at once if it ends otherwise.
    pub async fn run_until(&self, step: &str, run_id: &str, wanted: &[&str]) -> Value {
        self.eventually(step, || async {
            let run = self.get(step, &format!("/api/v1/runs/{run_id}")).await;
            let status = run["status"].as_str().unwrap_or_default();
            if wanted.contains(&status) {
                return Ok(run);
            }
            let active = matches!(status, "queued" | "running");
            assert!(
                active,
                "{}: expected {wanted:?}, the run ended {status}: {run}",
                self.at(step)
            );
            Err(run.to_string())
        })
        .await
    }

    /// Cancels a run as `token`, expecting `status`.
    pub async fn cancel(&self, step: &str, run_id: &str, token: &str, status: StatusCode) -> Value {
        let response = self
            .app
            .post_json(
                &format!("/api/v1/runs/{run_id}/cancel"),
                Some(token),
                &json!({}),
            )
            .await;
        self.expect(step, response, status).await
    }

    /// Reads a run's log piece by piece from `from` until it is complete; returns the
    /// text and the final offset.
    pub async fn read_log(&self, step: &str, run_id: &str, from: u64) -> (String, u64) {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        let mut offset = from;
        let mut text = String::new();
        loop {
            let piece = self
                .get(step, &format!("/api/v1/runs/{run_id}/log?offset={offset}"))
                .await;
            let next = piece["next_offset"]
                .as_u64()
                .unwrap_or_else(|| panic!("{}: no next_offset: {piece}", self.at(step)));
            assert!(
                next >= offset,
                "{}: the offset went back from {offset} to {next}",
                self.at(step)
            );
            let piece_text = piece["text"].as_str().unwrap_or_default();
            assert!(
                !piece_text.contains("\u{1b}[8mha:"),
                "{}: a console note in the log: {piece_text:?}",
                self.at(step)
            );
            text.push_str(piece_text);
            offset = next;
            if piece["complete"] == true {
                return (text, offset);
            }
            assert!(
                tokio::time::Instant::now() < give_up,
                "{}: the log never completed; so far: {text:?}",
                self.at(step)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// When a scenario fails, cancels the runs it left queued or running, so that a failed test
/// does not keep a worker of a shared tool busy with an endless build for the tests after it.
struct CancelOnFailure {
    base: String,
    token: String,
}

impl Drop for CancelOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let (base, token) = (self.base.clone(), self.token.clone());
        // The test's own runtime is unwinding: ask from a runtime of its own.
        let cleaner = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(client) = switchboard_test_support::http_client()
                    .timeout(Duration::from_secs(10))
                    .build()
                else {
                    return;
                };
                let Ok(answer) = client
                    .get(format!("{base}/api/v1/runs?limit=100"))
                    .bearer_auth(&token)
                    .send()
                    .await
                else {
                    return;
                };
                let runs: Value = answer.json().await.unwrap_or_default();
                for run in runs["items"].as_array().into_iter().flatten() {
                    if run["status"] == "queued" || run["status"] == "running" {
                        let id = run["id"].as_str().unwrap_or_default();
                        let _ = client
                            .post(format!("{base}/api/v1/runs/{id}/cancel"))
                            .bearer_auth(&token)
                            .json(&json!({}))
                            .send()
                            .await;
                    }
                }
            });
        });
        let _ = cleaner.join();
    }
}

pub fn paths(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["full_path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// One test per scenario and backend for the tool `$harness`:
/// `<scenario>::{sqlite,postgres}`.
macro_rules! scenario_tests {
    ($harness:path; $($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[actix_web::test]
                async fn sqlite() {
                    $crate::contract::scenarios::$scenario::<$harness>(
                        $crate::helpers::Backend::Sqlite,
                    )
                    .await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if !switchboard_test_support::postgres_enabled() {
                        return;
                    }
                    $crate::contract::scenarios::$scenario::<$harness>(
                        $crate::helpers::Backend::Postgres,
                    )
                    .await;
                }
            }
        )+
    };
}

/// Every scenario for every tool listed: `contract::<tool>::<scenario>::<backend>`.
macro_rules! contract_tests {
    ($($tool:ident: $harness:path),+ $(,)?) => {
        $(
            mod $tool {
                scenario_tests!(
                    $harness;
                    check_ok,
                    check_bad_credentials,
                    check_forbidden,
                    check_not_found,
                    check_not_that_tool,
                    discover,
                    trigger_with_parameters,
                    trigger_failing,
                    trigger_unstable,
                    trigger_bad_parameters,
                    log_read_incrementally,
                    cancel_queued,
                    stop_running,
                    restart_mid_run,
                    trigger_cut_short_by_a_crash,
                );
            }
        )+
    };
}

// The approved tools: one line each.
contract_tests! {
    jenkins: crate::contract::tools::jenkins::Jenkins,
    buildbot: crate::contract::tools::buildbot::Buildbot,
}
