//! Runs through the `Connector` trait against a real Buildbot 4.3.0 master (one per test
//! binary; each test uses its own builders): force with parameters of every kind, follow
//! the build request to its build and result, read the log piece by piece while it is
//! written, cancel a queued request, stop a running build, and the refusals a force meets.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::buildbot::{DEADLINE, admin, assert_no_secret, connector, poll_until, shared};
use switchboard_connectors::buildbot::{BuildbotConnector, LOG_LINES_PER_READ};
use switchboard_connectors::{
    Category, Connector, LogMask, PipelineRef, RunHandle, RunState, Target,
};
use switchboard_domain::pipeline::{ParameterValue, RunStatus};

fn pipeline(name: &str) -> PipelineRef {
    PipelineRef {
        full_path: name.to_owned(),
        parameters: Vec::new(),
    }
}

async fn trigger(
    connector: &BuildbotConnector,
    target: &Target,
    name: &str,
    values: &BTreeMap<String, ParameterValue>,
) -> RunHandle {
    connector
        .trigger(target, &pipeline(name), values, "test-run")
        .await
        .expect("triggered")
}

async fn finish(connector: &BuildbotConnector, target: &Target, handle: &RunHandle) -> RunState {
    poll_until(connector, target, handle, |s| !s.status.is_active()).await
}

/// Reads the log from `from` until Buildbot says there is no more; returns the pieces.
async fn read_log(
    connector: &BuildbotConnector,
    target: &Target,
    handle: &RunHandle,
    from: u64,
) -> Vec<(String, u64, bool)> {
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
        let more = piece.more;
        pieces.push((piece.text, piece.next_offset, more));
        if !more {
            return pieces;
        }
        assert!(Instant::now() < give_up, "the log never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn joined(pieces: &[(String, u64, bool)]) -> String {
    pieces.iter().map(|(text, _, _)| text.as_str()).collect()
}

#[tokio::test]
async fn a_build_with_parameters_succeeds_and_its_log_reads_to_the_end_without_prefixes() {
    let master = shared();
    let connector = connector();
    let admin = admin(master);
    // More lines than one read returns, so the log comes in several pieces.
    let count = i64::try_from(LOG_LINES_PER_READ).expect("small") + 500;
    let values = BTreeMap::from([
        (
            "greeting".to_owned(),
            ParameterValue::Text("hi there".into()),
        ),
        ("loud".to_owned(), ParameterValue::Boolean(true)),
        (
            "target".to_owned(),
            ParameterValue::Text("production".into()),
        ),
        ("count".to_owned(), ParameterValue::Integer(count)),
        (
            "notes".to_owned(),
            ParameterValue::Text("release notes".into()),
        ),
        ("options_retries".to_owned(), ParameterValue::Integer(4)),
    ]);
    let handle = trigger(&connector, &admin, "greet", &values).await;
    assert_eq!(handle.pipeline_path, "greet");
    assert!(handle.queue_ref.is_some() && handle.build_ref.is_none());

    // Read while the build is queued and running: empty pieces until it starts.
    let live = read_log(&connector, &admin, &handle, 0).await;
    let live_text = joined(&live);

    let state = finish(&connector, &admin, &handle).await;
    assert_eq!(state.status, RunStatus::Succeeded, "{state:?}");
    let number = state.build_number.expect("a build number");
    assert!(number >= 1);
    let url = state.build_url.clone().expect("a build URL");
    assert!(
        url.starts_with(&master.url) && url.ends_with(&format!("/builds/{number}")),
        "{url}"
    );
    assert!(state.handle.build_ref.is_some());
    let (started, finished) = (
        state.started_at.expect("started"),
        state.finished_at.expect("finished"),
    );
    assert!(finished >= started);
    assert!(state.duration_ms.is_some());

    // The whole log again, from the finished build's handle.
    let pieces = read_log(&connector, &admin, &state.handle, 0).await;
    assert!(pieces.len() >= 2, "several pieces: {}", pieces.len());
    let text = joined(&pieces);
    assert_eq!(live_text, text, "the same log, read live or afterwards");

    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "greeting=hi there",
        "loud=True",
        "target=production",
        &format!("count={count}"),
        "notes=release notes",
        "options={'retries': 4}",
        "on stderr",
        "preparing",
        "two lines",
        "line 1 ✓",
        &format!("line {count} ✓"),
    ] {
        assert!(lines.contains(&expected), "{expected:?} in the log");
    }
    let counted = lines.iter().filter(|l| l.starts_with("line ")).count();
    assert_eq!(counted, usize::try_from(count).expect("small"));
    // Headings in step order, stream prefixes gone (o/e/h).
    let headings: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("--- "))
        .collect();
    assert_eq!(
        headings,
        ["--- prepare ---", "--- greet ---", "--- count ---"]
    );
    assert!(
        lines.iter().all(|l| !l.starts_with("ogreeting")
            && !l.starts_with("oline")
            && !l.starts_with("eon")),
        "prefixes stripped"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("program finished with exit code 0")),
        "header lines kept, without their prefix"
    );

    // Offsets are stable: reading from any piece's end gives the rest.
    let (first, first_end, _) = &pieces[0];
    let rest = joined(&read_log(&connector, &admin, &state.handle, *first_end).await);
    assert_eq!(format!("{first}{rest}"), text);
    // Past the end: nothing, and no more.
    let end = pieces.last().map(|(_, end, _)| *end).expect("pieces");
    let past = connector
        .log(&admin, &state.handle, end, &LogMask::default())
        .await
        .expect("log");
    assert_eq!(
        (past.text.as_str(), past.next_offset, past.more),
        ("", end, false)
    );
}

#[tokio::test]
async fn a_failing_build_is_failed() {
    let master = shared();
    let connector = connector();
    let admin = admin(master);
    let handle = trigger(&connector, &admin, "fails", &BTreeMap::new()).await;
    let state = finish(&connector, &admin, &handle).await;
    assert_eq!(state.status, RunStatus::Failed, "{state:?}");
    let text = joined(&read_log(&connector, &admin, &state.handle, 0).await);
    assert!(text.contains("\nabout to fail\n"), "{text}");
    assert!(text.contains("program finished with exit code 3"), "{text}");
}

#[tokio::test]
async fn a_build_with_warnings_is_unstable() {
    let master = shared();
    let connector = connector();
    let admin = admin(master);
    let handle = trigger(&connector, &admin, "warns", &BTreeMap::new()).await;
    let state = finish(&connector, &admin, &handle).await;
    assert_eq!(state.status, RunStatus::Unstable, "{state:?}");
}

#[tokio::test]
async fn a_queued_request_is_cancelled_and_a_running_build_stopped() {
    let master = shared();
    let connector = connector();
    let admin = admin(master);
    // The builder's worker runs one build at a time: the second request waits.
    let first = trigger(&connector, &admin, "one-at-a-time", &BTreeMap::new()).await;
    let running = poll_until(&connector, &admin, &first, |s| {
        s.status == RunStatus::Running
    })
    .await;
    let second = trigger(&connector, &admin, "one-at-a-time", &BTreeMap::new()).await;
    let queued = connector.poll(&admin, &second).await.expect("poll");
    assert_eq!(queued.status, RunStatus::Queued, "{queued:?}");
    assert_eq!(queued.detail.as_deref(), Some("Waiting for a worker"));
    assert!(queued.build_number.is_none());
    let piece = connector
        .log(&admin, &second, 0, &LogMask::default())
        .await
        .expect("log");
    assert_eq!((piece.text.as_str(), piece.more), ("", true));

    connector.cancel(&admin, &second).await.expect("cancelled");
    let cancelled = poll_until(&connector, &admin, &second, |s| !s.status.is_active()).await;
    assert_eq!(cancelled.status, RunStatus::Cancelled, "{cancelled:?}");
    assert!(cancelled.build_number.is_none(), "never built");
    let piece = connector
        .log(&admin, &second, 0, &LogMask::default())
        .await
        .expect("log");
    assert_eq!((piece.text.as_str(), piece.more), ("", false));
    // Cancelling again changes nothing.
    connector.cancel(&admin, &second).await.expect("still fine");

    // The first is still running; cancelling it stops its build.
    let still = connector.poll(&admin, &running.handle).await.expect("poll");
    assert_eq!(still.status, RunStatus::Running);
    connector.cancel(&admin, &first).await.expect("stopped");
    let stopped = finish(&connector, &admin, &first).await;
    assert_eq!(stopped.status, RunStatus::Cancelled, "{stopped:?}");
    assert_eq!(stopped.build_number, running.build_number);
}

#[tokio::test]
async fn a_running_build_is_stopped_and_its_log_ends() {
    let master = shared();
    let connector = connector();
    let admin = admin(master);
    let handle = trigger(&connector, &admin, "sleeper", &BTreeMap::new()).await;
    let running = poll_until(&connector, &admin, &handle, |s| {
        s.status == RunStatus::Running
    })
    .await;
    assert!(running.started_at.is_some() && running.finished_at.is_none());

    // The log so far, still open.
    let give_up = Instant::now() + DEADLINE;
    let mut text = String::new();
    let mut offset = 0;
    while !text.contains("sleeping") {
        let piece = connector
            .log(&admin, &running.handle, offset, &LogMask::default())
            .await
            .expect("log");
        assert!(piece.more, "the build is running");
        text.push_str(&piece.text);
        offset = piece.next_offset;
        assert!(Instant::now() < give_up, "no output: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Stop through a handle that knows only the build.
    let by_build = RunHandle {
        queue_ref: None,
        ..running.handle.clone()
    };
    connector.cancel(&admin, &by_build).await.expect("stopped");
    let stopped = finish(&connector, &admin, &handle).await;
    assert_eq!(stopped.status, RunStatus::Cancelled, "{stopped:?}");
    assert!(stopped.finished_at.is_some());
    let rest = read_log(&connector, &admin, &stopped.handle, offset).await;
    assert!(!rest.last().expect("a piece").2, "the log ends");
}

#[tokio::test]
async fn parameters_buildbot_refuses_are_protocol_naming_them() {
    let master = shared();
    let connector = connector();
    let admin = admin(master);
    let values = BTreeMap::from([
        ("count".to_owned(), ParameterValue::Text("many".into())),
        ("target".to_owned(), ParameterValue::Text("moon".into())),
    ]);
    let error = connector
        .trigger(&admin, &pipeline("greet"), &values, "test-run")
        .await
        .expect_err("refused");
    assert_no_secret(&error);
    assert_eq!(error.category, Category::Protocol, "{error:?}");
    assert!(
        error.message.contains("count") && error.message.contains("target"),
        "{error:?}"
    );
    assert!(error.hint.contains("sync"), "{error:?}");

    let unknown = BTreeMap::from([("colour".to_owned(), ParameterValue::Text("red".into()))]);
    let error = connector
        .trigger(&admin, &pipeline("greet"), &unknown, "test-run")
        .await
        .expect_err("refused");
    assert_eq!(error.category, Category::Protocol, "{error:?}");
    assert!(error.message.contains("colour"), "{error:?}");
}

#[tokio::test]
async fn an_unknown_builder_is_not_found() {
    let master = shared();
    let error = connector()
        .trigger(
            &admin(master),
            &pipeline("no-such-builder"),
            &BTreeMap::new(),
            "test-run",
        )
        .await
        .expect_err("not found");
    assert_eq!(error.category, Category::NotFound, "{error:?}");
    assert!(error.hint.contains("sync"), "{error:?}");
}

#[tokio::test]
async fn a_request_buildbot_does_not_know_is_an_error_state() {
    let master = shared();
    let handle = RunHandle {
        pipeline_path: "greet".to_owned(),
        queue_ref: Some("987654".to_owned()),
        build_ref: None,
    };
    let state = connector()
        .poll(&admin(master), &handle)
        .await
        .expect("poll");
    assert_eq!(state.status, RunStatus::Error, "{state:?}");
    assert!(
        state
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("987654")),
        "{state:?}"
    );
}
