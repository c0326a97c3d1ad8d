//! Runs through the `Connector` trait against the Jenkins simulator: trigger with and
//! without parameters, follow the queue item to its build and result, read the log
//! piece by piece, cancel queued and running runs, find a build after Jenkins forgot its
//! queue item, CSRF crumbs, and the refusals a trigger can meet.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::jenkins::{
    ADMIN_PASSWORD, DEADLINE, VIEWER_TOKEN, admin, assert_no_secret, connector, inspect, inspector,
    poll_until, start, target,
};
use switchboard_connectors::jenkins::JenkinsConnector;
use switchboard_connectors::{
    Category, Connector, LogMask, Method, PipelineRef, RunHandle, RunState, Target,
};
use switchboard_domain::pipeline::{ParameterDefinition, ParameterType, ParameterValue, RunStatus};

fn config() -> Value {
    let chatter: Vec<String> = (1..=20).map(|i| format!("step {i} of 20 ✓")).collect();
    json!({
        "quiet_period_ms": 0,
        "executors": 4,
        "jobs": [
            {"name": "hello", "type": "freestyle", "build": {"duration_ms": 30}},
            {"name": "team a", "type": "folder", "jobs": [
                {"name": "fails", "type": "freestyle",
                 "build": {"duration_ms": 30, "result": "FAILURE"}},
                {"name": "flaky", "type": "pipeline",
                 "build": {"duration_ms": 30, "result": "UNSTABLE"}}
            ]},
            {"name": "deploy", "type": "pipeline", "build": {"duration_ms": 30},
             "parameters": [
                {"type": "string", "name": "VERSION", "default": "latest"},
                {"type": "text", "name": "NOTES", "default": "no notes"},
                {"type": "choice", "name": "ENV", "choices": ["staging", "production"]},
                {"type": "boolean", "name": "DRY_RUN", "default": true}
             ]},
            {"name": "slow", "type": "freestyle", "build": {"duration_ms": 600_000}},
            {"name": "patient", "type": "freestyle", "quiet_period_ms": 600_000},
            {"name": "chatty", "type": "pipeline", "build": {"duration_ms": 300, "log": chatter}},
            {"name": "off", "type": "freestyle", "disabled": true},
            {"name": "web", "type": "multibranch",
             "branches": [{"name": "feature/x", "build": {"duration_ms": 30}}]}
        ]
    })
}

fn pipeline(full_path: &str) -> PipelineRef {
    PipelineRef {
        full_path: full_path.to_owned(),
        parameters: Vec::new(),
    }
}

fn deploy_definitions() -> Vec<ParameterDefinition> {
    let define = |name: &str, kind| ParameterDefinition {
        name: name.to_owned(),
        kind,
        description: None,
        default: None,
        choices: Vec::new(),
    };
    vec![
        define("VERSION", ParameterType::String),
        define("NOTES", ParameterType::Text),
        ParameterDefinition {
            choices: vec!["staging".into(), "production".into()],
            ..define("ENV", ParameterType::Choice)
        },
        define("DRY_RUN", ParameterType::Boolean),
    ]
}

async fn trigger(connector: &JenkinsConnector, target: &Target, path: &str) -> RunHandle {
    connector
        .trigger(target, &pipeline(path), &BTreeMap::new(), "test-run")
        .await
        .expect("triggered")
}

async fn finish(connector: &JenkinsConnector, target: &Target, handle: &RunHandle) -> RunState {
    poll_until(connector, target, handle, |s| !s.status.is_active()).await
}

/// The whole log as Jenkins' `consoleText` has it.
async fn console_text(sim: &jenkins_sim::Running, build_path: &str) -> String {
    let client = inspector(sim);
    let answer = client
        .send(
            client
                .request(Method::GET, &format!("{build_path}consoleText"))
                .expect("request"),
        )
        .await
        .expect("answer");
    answer.text()
}

/// Reads the log from 0 until Jenkins says there is no more; returns the pieces.
async fn read_log(
    connector: &JenkinsConnector,
    target: &Target,
    handle: &RunHandle,
    from: u64,
) -> Vec<(String, bool)> {
    let give_up = Instant::now() + DEADLINE;
    let mut offset = from;
    let mut pieces = Vec::new();
    loop {
        let piece = connector
            .log(target, handle, offset, &LogMask::default())
            .await
            .expect("log");
        assert!(piece.next_offset >= offset, "offsets never go back");
        offset = piece.next_offset;
        pieces.push((piece.text, piece.more));
        if !piece.more {
            return pieces;
        }
        assert!(Instant::now() < give_up, "the log never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_job_without_parameters_runs_to_success() {
    let sim = start(config()).await;
    let (connector, target) = (connector(), admin(&sim));
    let handle = trigger(&connector, &target, "hello").await;
    assert_eq!(handle.pipeline_path, "hello");
    assert_eq!(handle.build_ref, None);
    let queue_id = handle.queue_ref.clone().expect("queue item");

    let done = finish(&connector, &target, &handle).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert_eq!(done.handle.queue_ref.as_deref(), Some(queue_id.as_str()));
    assert_eq!(done.handle.build_ref.as_deref(), Some("1"));
    assert_eq!(done.build_number, Some(1));
    assert_eq!(
        done.build_url.as_deref(),
        Some(format!("{}job/hello/1/", sim.url).as_str())
    );
    let started = done.started_at.expect("started");
    let duration = done.duration_ms.expect("duration");
    assert_eq!(
        done.finished_at,
        Some(started + chrono::Duration::milliseconds(i64::try_from(duration).expect("ms"))),
        "finished = started + duration, as Jenkins reports them"
    );
    let build = inspect(&sim, "job/hello/1/api/json?tree=queueId,result").await;
    assert_eq!(build["queueId"].to_string(), queue_id);
    sim.stop().await;
}

#[tokio::test]
async fn results_map_to_failed_unstable_and_branches_build_too() {
    let sim = start(config()).await;
    let (connector, target) = (connector(), admin(&sim));
    for (path, expected) in [
        ("team a/fails", RunStatus::Failed),
        ("team a/flaky", RunStatus::Unstable),
        ("web/feature%2Fx", RunStatus::Succeeded),
    ] {
        let handle = trigger(&connector, &target, path).await;
        let done = finish(&connector, &target, &handle).await;
        assert_eq!(done.status, expected, "{path}: {done:?}");
        assert_eq!(done.build_number, Some(1), "{path}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn parameters_reach_jenkins_and_left_out_ones_take_their_defaults() {
    let sim = start(config()).await;
    let (connector, target) = (connector(), admin(&sim));
    let deploy = PipelineRef {
        full_path: "deploy".into(),
        parameters: deploy_definitions(),
    };
    let values = BTreeMap::from([
        ("ENV".to_owned(), ParameterValue::Text("production".into())),
        ("DRY_RUN".to_owned(), ParameterValue::Boolean(false)),
        (
            "VERSION".to_owned(),
            ParameterValue::Text("1.2 & more=yes".into()),
        ),
    ]);
    let handle = connector
        .trigger(&target, &deploy, &values, "test-run")
        .await
        .expect("triggered");
    let done = finish(&connector, &target, &handle).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");

    let build = inspect(
        &sim,
        "job/deploy/1/api/json?tree=actions[parameters[name,value]]",
    )
    .await;
    let sent: BTreeMap<String, Value> = build["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["parameters"].as_array())
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().expect("name").to_owned(),
                p["value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        BTreeMap::from([
            ("DRY_RUN".to_owned(), json!(false)),
            ("ENV".to_owned(), json!("production")),
            ("NOTES".to_owned(), json!("no notes")),
            ("VERSION".to_owned(), json!("1.2 & more=yes")),
        ])
    );

    // No values at all: every parameter takes its default.
    let handle = connector
        .trigger(&target, &deploy, &BTreeMap::new(), "test-run")
        .await
        .expect("triggered with defaults");
    assert_eq!(
        finish(&connector, &target, &handle).await.status,
        RunStatus::Succeeded
    );
    let build = inspect(
        &sim,
        "job/deploy/2/api/json?tree=actions[parameters[name,value]]",
    )
    .await;
    assert!(build.to_string().contains("\"staging\""), "{build}");
    sim.stop().await;
}

#[tokio::test]
async fn a_running_build_is_stopped_and_ends_cancelled() {
    let sim = start(config()).await;
    let (connector, target) = (connector(), admin(&sim));
    let handle = trigger(&connector, &target, "slow").await;
    let running = poll_until(&connector, &target, &handle, |s| {
        s.status == RunStatus::Running
    })
    .await;
    assert!(running.handle.build_ref.is_some());
    assert!(running.started_at.is_some() && running.finished_at.is_none());
    assert_eq!(running.duration_ms, None);

    connector
        .cancel(&target, &running.handle)
        .await
        .expect("stopped");
    let done = finish(&connector, &target, &running.handle).await;
    assert_eq!(done.status, RunStatus::Cancelled, "{done:?}");
    assert!(
        console_text(&sim, "job/slow/1/")
            .await
            .contains("Aborted by Ada Admin")
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_queued_run_is_taken_out_of_the_queue() {
    let sim = start(config()).await;
    let (connector, target) = (connector(), admin(&sim));
    let handle = trigger(&connector, &target, "patient").await;
    let queued = connector.poll(&target, &handle).await.expect("poll");
    assert_eq!(queued.status, RunStatus::Queued);
    assert!(
        queued
            .detail
            .as_deref()
            .is_some_and(|why| why.starts_with("In the quiet period")),
        "{queued:?}"
    );
    assert_eq!(queued.build_number, None);
    let piece = connector
        .log(&target, &handle, 0, &LogMask::default())
        .await
        .expect("log");
    assert_eq!(
        (piece.text.as_str(), piece.next_offset, piece.more),
        ("", 0, true),
        "no build yet: nothing to read, more to come"
    );

    connector.cancel(&target, &handle).await.expect("cancelled");
    let done = connector.poll(&target, &handle).await.expect("poll");
    assert_eq!(done.status, RunStatus::Cancelled, "{done:?}");
    assert_eq!(done.handle.build_ref, None);
    let job = inspect(&sim, "job/patient/api/json?tree=inQueue,lastBuild[number]").await;
    assert_eq!(job["inQueue"], false);
    assert_eq!(job["lastBuild"], Value::Null);
    // Cancelling again is harmless.
    connector.cancel(&target, &handle).await.expect("again");
    sim.stop().await;
}

#[tokio::test]
async fn a_run_waiting_for_an_executor_is_queued_with_jenkins_reason() {
    let mut config = config();
    config["executors"] = json!(0);
    let sim = start(config).await;
    let (connector, target) = (connector(), admin(&sim));
    let handle = trigger(&connector, &target, "hello").await;
    let waiting = connector.poll(&target, &handle).await.expect("poll");
    assert_eq!(waiting.status, RunStatus::Queued, "{waiting:?}");
    assert_eq!(
        waiting.detail.as_deref(),
        Some("Waiting for next available executor")
    );
    connector.cancel(&target, &handle).await.expect("cancelled");
    assert_eq!(
        connector.poll(&target, &handle).await.expect("poll").status,
        RunStatus::Cancelled
    );
    sim.stop().await;
}

#[tokio::test]
async fn cancelling_a_handle_whose_item_already_became_a_build_stops_the_build() {
    let sim = start(config()).await;
    let (connector, target) = (connector(), admin(&sim));
    // No quiet period and free executors: the build starts as the item is queued, so the
    // handle (no build number yet) is already out of date.
    let handle = trigger(&connector, &target, "slow").await;
    assert_eq!(handle.build_ref, None);
    connector.cancel(&target, &handle).await.expect("stopped");
    let done = finish(&connector, &target, &handle).await;
    assert_eq!(done.status, RunStatus::Cancelled, "{done:?}");
    assert_eq!(
        done.build_number,
        Some(1),
        "the build was stopped, not the item"
    );
    sim.stop().await;
}

#[tokio::test]
async fn the_log_read_piece_by_piece_is_the_whole_log() {
    let sim = start(config()).await;
    let (connector, target) = (connector(), admin(&sim));

    // A build that writes for a while: read it while it runs, to its end.
    let handle = trigger(&connector, &target, "chatty").await;
    let running = poll_until(&connector, &target, &handle, |s| {
        s.handle.build_ref.is_some()
    })
    .await;
    let pieces = read_log(&connector, &target, &running.handle, 0).await;
    let whole: String = pieces.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(whole, console_text(&sim, "job/chatty/1/").await);
    assert!(whole.contains("step 20 of 20 ✓") && whole.ends_with("Finished: SUCCESS\n"));
    assert!(pieces.iter().rev().skip(1).all(|(_, more)| *more));

    // A build that runs until stopped: the first piece is read while it certainly runs.
    let handle = trigger(&connector, &target, "slow").await;
    let running = poll_until(&connector, &target, &handle, |s| {
        s.status == RunStatus::Running
    })
    .await;
    let first = connector
        .log(&target, &running.handle, 0, &LogMask::default())
        .await
        .expect("log");
    assert!(first.more, "still building");
    assert!(
        first.text.starts_with("Started by user Ada Admin"),
        "{first:?}"
    );
    assert_eq!(first.next_offset, first.text.len() as u64);
    connector
        .cancel(&target, &running.handle)
        .await
        .expect("stopped");
    let rest = read_log(&connector, &target, &running.handle, first.next_offset).await;
    let whole = first.text.clone() + &rest.iter().map(|(t, _)| t.as_str()).collect::<String>();
    assert_eq!(whole, console_text(&sim, "job/slow/1/").await);
    assert!(whole.ends_with("Finished: ABORTED\n"), "{whole}");
    assert_eq!(rest.last().map(|(_, more)| *more), Some(false));
    sim.stop().await;
}

#[tokio::test]
async fn a_forgotten_queue_item_is_found_again_by_its_queue_id() {
    let sim = start(config()).await;
    let (connector, target) = (connector(), admin(&sim));
    let control = sim.control();

    // As after a Switchboard restart some minutes later: Jenkins no longer has the item.
    let handle = trigger(&connector, &target, "hello").await;
    control.forget_left_items().expect("forgotten");
    let client = inspector(&sim);
    let queue_id = handle.queue_ref.clone().expect("queue item");
    let gone = client
        .send(
            client
                .request(Method::GET, &format!("queue/item/{queue_id}/api/json"))
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(gone.status().as_u16(), 404);
    let done = finish(&connector, &target, &handle).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert_eq!(done.handle.build_ref.as_deref(), Some("1"));

    // An item cancelled, then forgotten: no build came from it.
    let handle = trigger(&connector, &target, "patient").await;
    connector.cancel(&target, &handle).await.expect("cancelled");
    control.forget_left_items().expect("forgotten");
    let lost = connector.poll(&target, &handle).await.expect("poll");
    assert_eq!(lost.status, RunStatus::Error, "{lost:?}");
    let detail = lost.detail.expect("says why");
    assert!(
        detail.contains(handle.queue_ref.as_deref().expect("id")) && detail.contains("patient"),
        "{detail}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_password_in_the_token_field_gets_its_crumb() {
    // Password authentication needs a crumb, bound to the session it was issued in.
    let mut config = config();
    config["csrf"] = json!({"enabled": true, "session_bound": true});
    let sim = start(config).await;
    let (connector, target) = (connector(), target(&sim.url, "admin", ADMIN_PASSWORD));
    let handle = trigger(&connector, &target, "hello").await;
    assert_eq!(
        finish(&connector, &target, &handle).await.status,
        RunStatus::Succeeded
    );
    let handle = trigger(&connector, &target, "slow").await;
    connector.cancel(&target, &handle).await.expect("stopped");
    assert_eq!(
        finish(&connector, &target, &handle).await.status,
        RunStatus::Cancelled
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_root_url_other_than_the_integration_url_does_not_matter() {
    // Jenkins' configured URL (in Location headers, redirects and exported URLs) is a name
    // no resolver here knows: following any of them would fail.
    let mut config = config();
    config["root_url"] = json!("https://jenkins.example.test/");
    let sim = start(config).await;
    let (connector, target) = (connector(), admin(&sim));
    let handle = trigger(&connector, &target, "slow").await;
    let running = poll_until(&connector, &target, &handle, |s| {
        s.status == RunStatus::Running
    })
    .await;
    assert!(
        running
            .build_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://jenkins.example.test/job/slow/"))
    );
    connector
        .cancel(&target, &running.handle)
        .await
        .expect("the stop's redirect is an answer, not followed");
    assert_eq!(
        finish(&connector, &target, &handle).await.status,
        RunStatus::Cancelled
    );
    sim.stop().await;
}

#[tokio::test]
async fn refusals_have_their_categories_and_hints() {
    let sim = start(config()).await;
    let connector = connector();
    let (admin, viewer) = (admin(&sim), target(&sim.url, "viewer", VIEWER_TOKEN));

    let error = connector
        .trigger(&viewer, &pipeline("hello"), &BTreeMap::new(), "test-run")
        .await
        .expect_err("viewer may not build");
    assert_eq!(error.category, Category::Forbidden, "{error:?}");
    assert!(
        error.message.contains("Job/Build") && error.hint.contains("viewer"),
        "{error:?}"
    );
    assert_no_secret(&error);

    let handle = trigger(&connector, &admin, "slow").await;
    let error = connector
        .cancel(&viewer, &handle)
        .await
        .expect_err("viewer may not stop");
    assert_eq!(error.category, Category::Forbidden, "{error:?}");
    assert!(error.message.contains("Job/Cancel"), "{error:?}");
    connector.cancel(&admin, &handle).await.expect("admin may");

    let error = connector
        .trigger(
            &admin,
            &pipeline("team a/gone"),
            &BTreeMap::new(),
            "test-run",
        )
        .await
        .expect_err("no such job");
    assert_eq!(error.category, Category::NotFound, "{error:?}");
    assert!(error.hint.contains("team a/gone is gone"), "{error:?}");

    let error = connector
        .trigger(&admin, &pipeline("off"), &BTreeMap::new(), "test-run")
        .await
        .expect_err("disabled");
    assert_eq!(error.category, Category::Protocol, "{error:?}");
    assert!(error.message.contains("not buildable"), "{error:?}");
    assert!(error.hint.contains("Enable the job"), "{error:?}");

    // Definitions out of date: Jenkins wants parameters that Switchboard did not know of.
    let error = connector
        .trigger(&admin, &pipeline("deploy"), &BTreeMap::new(), "test-run")
        .await
        .expect_err("parameters changed");
    assert_eq!(error.category, Category::Protocol, "{error:?}");
    assert!(error.message.contains("Nothing is submitted"), "{error:?}");
    assert!(error.hint.contains("sync"), "{error:?}");

    let missing_build = RunHandle {
        pipeline_path: "hello".into(),
        queue_ref: None,
        build_ref: Some("99".into()),
    };
    let error = connector
        .poll(&admin, &missing_build)
        .await
        .expect_err("no build 99");
    assert_eq!(error.category, Category::NotFound, "{error:?}");
    let error = connector
        .log(&admin, &missing_build, 0, &LogMask::default())
        .await
        .expect_err("no build 99");
    assert_eq!(error.category, Category::NotFound, "{error:?}");
    sim.stop().await;
}
