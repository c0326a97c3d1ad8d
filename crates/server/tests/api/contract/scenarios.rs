//! The contract's scenarios, each generic over the tool. Every assertion names the tool,
//! the scenario and the step (see [`Contract::at`]).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::plain_http::PlainHttp;
use super::{Contract, Needs, ToolHarness, paths};
use crate::helpers::Backend;

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

/// Saving with good credentials checks the connection: connected, with the tool's version
/// and the user; a check on demand agrees, and it is not an edit.
pub async fn check_ok<T: ToolHarness>(backend: Backend) {
    let c = Contract::<T>::start("check ok", Needs::Nothing, backend).await;
    let body = c.body("Good", &c.tool.url(), c.tool.credentials());
    let created = c.create("create", &body).await;
    let at = c.at("create");
    assert_eq!(created["status"], "connected", "{at}: {created}");
    assert_eq!(created["tool"], T::TOOL, "{at}: {created}");
    let check = &created["last_check"];
    assert_eq!(check["ok"], true, "{at}: {check}");
    assert_eq!(check["tool_version"], T::VERSION, "{at}: {check}");
    assert_eq!(check["authenticated_as"], T::USER, "{at}: {check}");
    assert!(
        check["permissions"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{at}: permissions named: {check}"
    );
    assert!(
        !created.to_string().contains(c.tool.good_secret()),
        "{at}: the secret never comes back"
    );

    let id = id_of(&created);
    let operator = c.app.user_token("olga", "operator").await;
    let response = c
        .app
        .post_json(
            &format!("/api/v1/integrations/{id}/test"),
            Some(&operator),
            &json!({}),
        )
        .await;
    let tested = c.expect("test on demand", response, StatusCode::OK).await;
    assert_eq!(tested["ok"], true, "{}: {tested}", c.at("test on demand"));
    assert_eq!(
        tested["authenticated_as"],
        T::USER,
        "{}: {tested}",
        c.at("test on demand")
    );

    let shown = c.get("show", &format!("/api/v1/integrations/{id}")).await;
    assert_eq!(shown["status"], "connected", "{}: {shown}", c.at("show"));
    assert_eq!(
        shown["version"],
        created["version"],
        "{}: a check is not an edit",
        c.at("show")
    );
    c.finish().await;
}

/// A wrong secret is a failed check with its category and a hint; a draft test with the
/// right secret passes without changing anything stored; saving the right one connects
/// and discovers.
pub async fn check_bad_credentials<T: ToolHarness>(backend: Backend) {
    let c = Contract::<T>::start("check bad_credentials", Needs::Nothing, backend).await;
    let mut credentials = c.tool.credentials();
    credentials[T::SECRET_FIELD] = json!(c.tool.wrong_secret());
    let created = c
        .create("create", &c.body("Wrong", &c.tool.url(), credentials))
        .await;
    let at = c.at("create");
    assert_eq!(created["status"], "failed", "{at}: {created}");
    let check = &created["last_check"];
    assert_eq!(check["ok"], false, "{at}: {check}");
    assert_eq!(check["category"], "bad_credentials", "{at}: {check}");
    assert!(
        check["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains(T::BAD_CREDENTIALS_HINT)),
        "{at}: the hint mentions {:?}: {check}",
        T::BAD_CREDENTIALS_HINT
    );
    assert!(
        !created.to_string().contains(c.tool.wrong_secret()),
        "{at}: the secret never comes back"
    );
    let id = id_of(&created);

    // Test before saving: the right secret in the draft, the rest from the stored integration.
    let response = c
        .app
        .post_json(
            "/api/v1/integrations/test",
            Some(&c.app.admin_token),
            &json!({"id": id, "tool": T::TOOL, "urls": {"apiUrl": c.tool.url()},
                    "credentials": {T::SECRET_FIELD: c.tool.good_secret()}}),
        )
        .await;
    let draft = c.expect("draft test", response, StatusCode::OK).await;
    assert_eq!(draft["ok"], true, "{}: {draft}", c.at("draft test"));
    let unchanged = c
        .get(
            "after the draft test",
            &format!("/api/v1/integrations/{id}"),
        )
        .await;
    assert_eq!(
        unchanged["status"],
        "failed",
        "{}: a draft test changes nothing stored",
        c.at("after the draft test")
    );

    let response = c
        .app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&c.app.admin_token),
            &json!({"credentials": {T::SECRET_FIELD: c.tool.good_secret()}}),
        )
        .await;
    let fixed = c
        .expect("save the right secret", response, StatusCode::OK)
        .await;
    let at = c.at("save the right secret");
    assert_eq!(fixed["status"], "connected", "{at}: {fixed}");
    assert_eq!(
        fixed["last_check"]["authenticated_as"],
        T::USER,
        "{at}: {fixed}"
    );
    let found = c.discovered("discovery after the fix", &id).await;
    assert_eq!(
        paths(&found),
        T::PIPELINES,
        "{}",
        c.at("discovery after the fix")
    );
    c.finish().await;
}

/// A user lacking a permission the integration needs (Jenkins: Overall/Read; Buildbot: the
/// role that may force builds) fails the check with `forbidden` and a hint.
pub async fn check_forbidden<T: ToolHarness>(backend: Backend) {
    let c = Contract::<T>::start("check forbidden", Needs::Nothing, backend).await;
    let body = c.body("Weak", &c.tool.url(), c.tool.lacking_permission());
    let created = c.create("create", &body).await;
    let at = c.at("create");
    assert_eq!(created["status"], "failed", "{at}: {created}");
    assert_eq!(
        created["last_check"]["category"], "forbidden",
        "{at}: {created}"
    );
    assert!(
        created["last_check"]["hint"]
            .as_str()
            .is_some_and(|hint| !hint.is_empty()),
        "{at}: a hint: {created}"
    );
    c.finish().await;
}

/// A URL with a path where the tool is not: `not_found`, at the check and at a sync.
pub async fn check_not_found<T: ToolHarness>(backend: Backend) {
    let c = Contract::<T>::start("check not_found", Needs::Nothing, backend).await;
    let body = c.body("Wrong path", &c.tool.wrong_path_url(), c.tool.credentials());
    let created = c.create("create", &body).await;
    let at = c.at("create");
    assert_eq!(created["status"], "failed", "{at}: {created}");
    assert_eq!(
        created["last_check"]["category"], "not_found",
        "{at}: {created}"
    );
    let id = id_of(&created);
    let response = c
        .app
        .post_json(
            &format!("/api/v1/integrations/{id}/sync"),
            Some(&c.app.admin_token),
            &json!({}),
        )
        .await;
    let sync = c
        .problem("sync", response, StatusCode::BAD_GATEWAY, "tool_error")
        .await;
    assert_eq!(sync["category"], "not_found", "{}: {sync}", c.at("sync"));
    c.finish().await;
}

/// A web server that is not the tool: `not_that_tool`.
pub async fn check_not_that_tool<T: ToolHarness>(backend: Backend) {
    let c = Contract::<T>::start("check not_that_tool", Needs::Nothing, backend).await;
    let other = PlainHttp::start();
    let body = c.body("Not it", &other.url(), c.tool.credentials());
    let created = c.create("create", &body).await;
    let at = c.at("create");
    assert_eq!(created["status"], "failed", "{at}: {created}");
    assert_eq!(
        created["last_check"]["category"], "not_that_tool",
        "{at}: {created}"
    );
    assert!(
        other.requests() > 0,
        "{at}: the check asked the plain server"
    );
    c.finish().await;
}

/// Discovery finds every pipeline with its parameters; the integration counts them; a sync
/// of an unchanged tool reports no changes.
pub async fn discover<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("discover", Needs::Quiet, backend).await;
    let created = c.connected().await;
    let id = id_of(&created);
    let at = c.at("the first discovery");
    assert_eq!(paths(&c.found), T::PIPELINES, "{at}");
    for pipeline in &c.found {
        assert_eq!(pipeline["integration_id"], id.as_str(), "{at}: {pipeline}");
        assert_eq!(pipeline["tool"], T::TOOL, "{at}: {pipeline}");
        assert_eq!(pipeline["removed"], false, "{at}: {pipeline}");
    }
    let parameterized = c
        .found
        .iter()
        .find(|p| p["full_path"] == T::PARAMETERIZED)
        .cloned()
        .unwrap_or_default();
    let parameters: Vec<(String, String)> = parameterized["parameters"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or_default().to_owned(),
                        p["type"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<(String, String)> = T::PARAMETER_TYPES
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()))
        .collect();
    assert_eq!(
        parameters,
        expected,
        "{}: parameters of {}: {parameterized}",
        c.at("the first discovery"),
        T::PARAMETERIZED
    );
    let one = c
        .get(
            "one pipeline",
            &format!("/api/v1/pipelines/{}", id_of(&parameterized)),
        )
        .await;
    assert_eq!(one, parameterized, "{}", c.at("one pipeline"));

    let shown = c
        .get("the integration", &format!("/api/v1/integrations/{id}"))
        .await;
    let at = c.at("the integration");
    assert_eq!(shown["pipelines"], T::PIPELINES.len(), "{at}: {shown}");
    assert_eq!(shown["status"], "connected", "{at}: {shown}");

    let operator = c.app.user_token("olga", "operator").await;
    for step in ["a second sync", "a third sync"] {
        let response = c
            .app
            .post_json(
                &format!("/api/v1/integrations/{id}/sync"),
                Some(&operator),
                &json!({}),
            )
            .await;
        let report = c.expect(step, response, StatusCode::OK).await;
        let at = c.at(step);
        assert_eq!(
            (&report["added"], &report["updated"], &report["removed"]),
            (&json!(0), &json!(0), &json!(0)),
            "{at}: no changes: {report}"
        );
        assert_eq!(report["total"], T::PIPELINES.len(), "{at}: {report}");
        assert!(
            report["requests"].as_u64().is_some_and(|n| n >= 1),
            "{at}: {report}"
        );
    }
    let viewer = c.app.user_token("vera", "viewer").await;
    let response = c
        .app
        .post_json(
            &format!("/api/v1/integrations/{id}/sync"),
            Some(&viewer),
            &json!({}),
        )
        .await;
    c.problem(
        "a viewer's sync",
        response,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    c.finish().await;
}

/// A run with parameters reaches `succeeded`, shows its parameters and build, and becomes
/// its pipeline's last build.
pub async fn trigger_with_parameters<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("trigger with parameters", Needs::Nothing, backend).await;
    c.connected().await;
    let parameters = c.tool.valid_parameters();
    let run = c
        .started_run("trigger", T::PARAMETERIZED, &parameters)
        .await;
    let done = c
        .run_until("follow to the result", &run, &["succeeded"])
        .await;
    let at = c.at("the finished run");
    assert_eq!(done["parameters"], parameters, "{at}: {done}");
    assert_eq!(done["triggered_by"], "admin", "{at}: {done}");
    assert!(done["build_number"].as_i64().is_some(), "{at}: {done}");
    assert!(done["build_url"].is_string(), "{at}: {done}");
    for key in ["started_at", "finished_at"] {
        assert!(done[key].is_string(), "{at}: {key}: {done}");
    }
    assert!(done["duration_ms"].as_u64().is_some(), "{at}: {done}");

    let pipeline = c
        .get(
            "the pipeline",
            &format!("/api/v1/pipelines/{}", c.pipeline_id(T::PARAMETERIZED)),
        )
        .await;
    let at = c.at("the pipeline");
    assert_eq!(
        pipeline["last_build"]["status"], "succeeded",
        "{at}: {pipeline}"
    );
    assert_eq!(
        pipeline["last_build"]["number"], done["build_number"],
        "{at}: {pipeline}"
    );
    let runs = c
        .get(
            "the pipeline's runs",
            &format!("/api/v1/pipelines/{}/runs", c.pipeline_id(T::PARAMETERIZED)),
        )
        .await;
    assert_eq!(
        runs["items"][0]["id"],
        run.as_str(),
        "{}: {runs}",
        c.at("the pipeline's runs")
    );
    c.finish().await;
}

/// A failing pipeline's run is `failed`, and so is its pipeline's last build; the runs list
/// filters by status.
pub async fn trigger_failing<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("trigger failing", Needs::Nothing, backend).await;
    c.connected().await;
    let run = c.started_run("trigger", T::FAILS, &json!({})).await;
    let done = c.run_until("follow to the result", &run, &["failed"]).await;
    let pipeline = c
        .get(
            "the pipeline",
            &format!("/api/v1/pipelines/{}", c.pipeline_id(T::FAILS)),
        )
        .await;
    let at = c.at("the pipeline");
    assert_eq!(
        pipeline["last_build"]["status"], "failed",
        "{at}: {pipeline}"
    );
    assert_eq!(
        pipeline["last_build"]["number"], done["build_number"],
        "{at}: {pipeline}"
    );
    let failed = c.get("failed runs", "/api/v1/runs?status=failed").await;
    assert_eq!(
        failed["items"][0]["id"],
        run.as_str(),
        "{}: {failed}",
        c.at("failed runs")
    );
    let succeeded = c
        .get("succeeded runs", "/api/v1/runs?status=succeeded")
        .await;
    assert_eq!(succeeded["items"], json!([]), "{}", c.at("succeeded runs"));
    c.finish().await;
}

/// A pipeline that ends with warnings (Jenkins UNSTABLE, Buildbot WARNINGS): `unstable`.
pub async fn trigger_unstable<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("trigger unstable", Needs::Nothing, backend).await;
    c.connected().await;
    let run = c.started_run("trigger", T::UNSTABLE, &json!({})).await;
    c.run_until("follow to the result", &run, &["unstable"])
        .await;
    c.finish().await;
}

/// Parameters the pipeline does not take are refused at their field with a 422, as are
/// viewers, unknown and unbuildable pipelines and malformed bodies; nothing is triggered.
pub async fn trigger_bad_parameters<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("trigger bad parameters", Needs::Nothing, backend).await;
    c.connected().await;
    let pipeline = c.pipeline_id(T::PARAMETERIZED);
    let admin = c.app.admin_token.clone();
    for invalid in c.tool.invalid_parameters() {
        let step = format!("trigger with {}", invalid.values);
        let response = c.trigger(&admin, &pipeline, &invalid.values).await;
        let refused = c
            .problem(
                &step,
                response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
        let at = c.at(&step);
        assert_eq!(
            refused["errors"][0]["field"], invalid.field,
            "{at}: {refused}"
        );
        assert_eq!(
            refused["errors"][0]["code"], invalid.code,
            "{at}: {refused}"
        );
    }
    let viewer = c.app.user_token("vera", "viewer").await;
    let response = c
        .trigger(&viewer, &pipeline, &c.tool.valid_parameters())
        .await;
    c.problem(
        "trigger as a viewer",
        response,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    if let Some(unbuildable) = T::UNBUILDABLE {
        let response = c
            .trigger(&admin, &c.pipeline_id(unbuildable), &json!({}))
            .await;
        c.problem(
            "trigger an unbuildable pipeline",
            response,
            StatusCode::CONFLICT,
            "pipeline_not_buildable",
        )
        .await;
    }
    let response = c.trigger(&admin, "no-such-pipeline", &json!({})).await;
    c.problem(
        "trigger an unknown pipeline",
        response,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = c
        .app
        .post_json(
            &format!("/api/v1/pipelines/{pipeline}/runs"),
            Some(&admin),
            &json!({"parameters": [1]}),
        )
        .await;
    c.problem(
        "trigger with a malformed body",
        response,
        StatusCode::BAD_REQUEST,
        "malformed_body",
    )
    .await;
    let runs = c.get("the runs", "/api/v1/runs").await;
    assert_eq!(
        runs["items"],
        json!([]),
        "{}: nothing was triggered",
        c.at("the runs")
    );
    c.finish().await;
}

/// The log of a run, read from while it is queued and running until `complete`: every line,
/// the same as read again afterwards; past the end, nothing more.
pub async fn log_read_incrementally<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("log read incrementally", Needs::Nothing, backend).await;
    c.connected().await;
    let first = c.started_run("trigger", T::SLOW, &json!({})).await;
    let run = first.clone();
    let (live, end) = c.read_log("read while it runs", &run, 0).await;
    let at = c.at("the log read live");
    for line in T::SLOW_LOG {
        assert!(
            live.lines().any(|l| l == *line),
            "{at}: the line {line:?} in {live:?}"
        );
    }
    let done = c.get("the run", &format!("/api/v1/runs/{run}")).await;
    assert_eq!(
        done["status"],
        "succeeded",
        "{}: a complete log belongs to a finished run: {done}",
        c.at("the run")
    );
    let (again, again_end) = c.read_log("read again from 0", &run, 0).await;
    let at = c.at("read again from 0");
    assert_eq!(again, live, "{at}: the same log");
    assert_eq!(again_end, end, "{at}: the same end");
    let past = c
        .get(
            "read past the end",
            &format!("/api/v1/runs/{run}/log?offset={end}"),
        )
        .await;
    assert_eq!(
        past,
        json!({"text": "", "next_offset": end, "complete": true}),
        "{}",
        c.at("read past the end")
    );

    // The parameterized pipeline's log shows what it was given.
    let parameters = c.tool.valid_parameters();
    let run = c
        .started_run("trigger with parameters", T::PARAMETERIZED, &parameters)
        .await;
    let (text, _) = c.read_log("read the parameterized log", &run, 0).await;
    for line in T::PARAMETERIZED_LOG {
        assert!(
            text.lines().any(|l| l == *line),
            "{}: the line {line:?} in {text:?}",
            c.at("read the parameterized log")
        );
    }
    let runs = c.get("the runs", "/api/v1/runs").await;
    let ids: Vec<&str> = runs["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        ids,
        [run.as_str(), first.as_str()],
        "{}: newest first",
        c.at("the runs")
    );
    c.finish().await;
}

/// A run waiting in the queue is cancelled: `cancelled`, never built, an empty complete log;
/// viewers may not cancel, and a finished run cannot be cancelled again.
pub async fn cancel_queued<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("cancel queued", Needs::HeldQueue, backend).await;
    c.connected().await;
    let blocker = T::hold_queue(&c).await;
    let queued = c.started_run("trigger", T::QUEUED, &json!({})).await;
    // The monitor has asked the tool: the run waits, and says why.
    let waiting = c
        .eventually("the tool queues it", || async {
            let run = c
                .get("the queued run", &format!("/api/v1/runs/{queued}"))
                .await;
            if run["status"] == "queued" && run["detail"].is_string() {
                Ok(run)
            } else {
                Err(run.to_string())
            }
        })
        .await;
    assert!(
        waiting["build_number"].is_null(),
        "{}: {waiting}",
        c.at("the tool queues it")
    );

    let viewer = c.app.user_token("vera", "viewer").await;
    let operator = c.app.user_token("olga", "operator").await;
    let response = c
        .app
        .post_json(
            &format!("/api/v1/runs/{queued}/cancel"),
            Some(&viewer),
            &json!({}),
        )
        .await;
    c.problem(
        "cancel as a viewer",
        response,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    c.cancel(
        "cancel as an operator",
        &queued,
        &operator,
        StatusCode::ACCEPTED,
    )
    .await;
    let run = c
        .run_until("follow to cancelled", &queued, &["cancelled"])
        .await;
    let at = c.at("follow to cancelled");
    assert!(
        run["build_number"].is_null(),
        "{at}: it never left the queue: {run}"
    );
    assert!(
        run["finished_at"].is_string(),
        "{at}: a run cancelled in the queue has ended: {run}"
    );
    let log = c
        .get("the log", &format!("/api/v1/runs/{queued}/log"))
        .await;
    assert_eq!(
        log,
        json!({"text": "", "next_offset": 0, "complete": true}),
        "{}",
        c.at("the log")
    );
    let response = c
        .app
        .post_json(
            &format!("/api/v1/runs/{queued}/cancel"),
            Some(&operator),
            &json!({}),
        )
        .await;
    c.problem(
        "cancel again",
        response,
        StatusCode::CONFLICT,
        "run_finished",
    )
    .await;

    if let Some(blocker) = blocker {
        c.cancel(
            "stop the run holding the queue",
            &blocker,
            &operator,
            StatusCode::ACCEPTED,
        )
        .await;
        c.run_until("the run holding the queue ends", &blocker, &["cancelled"])
            .await;
    }
    c.finish().await;
}

/// A running run is stopped: `cancelled`, with its build, and its log ends.
pub async fn stop_running<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("stop running", Needs::Nothing, backend).await;
    c.connected().await;
    let run = c.started_run("trigger", T::ENDLESS, &json!({})).await;
    let running = c.run_until("follow to running", &run, &["running"]).await;
    let at = c.at("follow to running");
    assert!(running["build_number"].is_i64(), "{at}: {running}");
    assert!(running["started_at"].is_string(), "{at}: {running}");
    // The log so far: not complete while the build runs.
    c.eventually("the log while it runs", || async {
        let piece = c
            .get("the log while it runs", &format!("/api/v1/runs/{run}/log"))
            .await;
        assert_eq!(
            piece["complete"],
            false,
            "{}: {piece}",
            c.at("the log while it runs")
        );
        let text = piece["text"].as_str().unwrap_or_default();
        if text.contains(T::ENDLESS_LOG) {
            Ok(())
        } else {
            Err(format!("{text:?}"))
        }
    })
    .await;
    let operator = c.app.user_token("olga", "operator").await;
    c.cancel("stop as an operator", &run, &operator, StatusCode::ACCEPTED)
        .await;
    let stopped = c
        .run_until("follow to cancelled", &run, &["cancelled"])
        .await;
    let at = c.at("follow to cancelled");
    assert_eq!(
        stopped["build_number"], running["build_number"],
        "{at}: {stopped}"
    );
    assert!(stopped["finished_at"].is_string(), "{at}: {stopped}");
    c.read_log("the log ends", &run, 0).await;
    c.finish().await;
}

/// The server restarts while a run is building: the new server follows it to its result.
pub async fn restart_mid_run<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start("restart mid-run", Needs::Nothing, backend).await;
    c.connected().await;
    let run = c.started_run("trigger", T::SLOW, &json!({})).await;
    c.run_until("follow to running", &run, &["running"]).await;
    c.restart();
    let done = c
        .run_until(
            "follow to the result after the restart",
            &run,
            &["succeeded"],
        )
        .await;
    let at = c.at("follow to the result after the restart");
    assert!(
        done["duration_ms"].as_u64().is_some_and(|ms| ms > 0),
        "{at}: {done}"
    );
    let (text, _) = c.read_log("the whole log", &run, 0).await;
    for line in T::SLOW_LOG {
        assert!(
            text.lines().any(|l| l == *line),
            "{}: the line {line:?} in {text:?}",
            c.at("the whole log")
        );
    }
    c.finish().await;
}

/// The server dies after the tool accepted a run and before it stored the tool's answer: after
/// a restart, the monitor finds the build the tool started for the run and follows it to its
/// result.
pub async fn trigger_cut_short_by_a_crash<T: ToolHarness>(backend: Backend) {
    let mut c = Contract::<T>::start_with(
        "trigger cut short by a crash",
        Needs::Nothing,
        backend,
        |config| config.trigger_fault = Some(switchboard_app::TriggerFault::AfterAsked),
    )
    .await;
    c.connected().await;
    let parameters = c.tool.valid_parameters();
    let pipeline = c.pipeline_id(T::PARAMETERIZED);
    let cut_short = c.trigger(&c.app.admin_token, &pipeline, &parameters).await;
    c.expect(
        "trigger, cut short",
        cut_short,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    let runs = c
        .get(
            "the recorded run",
            &format!("/api/v1/pipelines/{pipeline}/runs"),
        )
        .await;
    let run = runs["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        runs["items"][0]["status"],
        "queued",
        "{}: {runs}",
        c.at("the recorded run")
    );

    c.restart();
    let done = c
        .run_until("found and followed after the restart", &run, &["succeeded"])
        .await;
    let at = c.at("found and followed after the restart");
    assert_eq!(done["parameters"], parameters, "{at}: {done}");
    assert!(done["build_number"].as_i64().is_some(), "{at}: {done}");
    let (text, _) = c.read_log("the run's log", &run, 0).await;
    for line in T::PARAMETERIZED_LOG {
        assert!(
            text.lines().any(|l| l == *line),
            "{}: the line {line:?} in {text:?}",
            c.at("the run's log")
        );
    }
    c.finish().await;
}
