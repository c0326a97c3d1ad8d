use switchboard_domain::pipeline::RunStatus;
use switchboard_store::{RunQuery, RunUpdate, StoreError, Subject};

use crate::helpers::{
    Backend, at, by_test, create_integration, found, new_run, pipeline_id, store,
};
use crate::on_both_backends;

on_both_backends!(
    a_run_starts_queued_and_takes_what_polls_learn,
    runs_list_newest_first_page_by_page_and_by_filter,
    a_run_needs_its_pipeline_under_its_integration,
    neighbours_are_the_pipelines_other_active_or_recent_runs,
    a_runs_password_values_are_kept_sealed_for_its_log,
    finished_runs_past_their_retention_are_purged_in_batches,
);

/// The retention purge deletes finished runs that ended before the cut-off, oldest first and
/// at most a batch at a time, each batch with its audit entry; active and recent runs stay.
fn finished_runs_past_their_retention_are_purged_in_batches(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    store
        .apply_discovery(&jenkins.id, &[found("deploy")], at(0))
        .expect("sync");
    let deploy = pipeline_id(&store, &jenkins.id, "deploy");
    let finish = |id: &str, finished: i64| {
        store
            .update_run(
                id,
                &RunUpdate {
                    status: RunStatus::Succeeded,
                    handle_json: r#"{"pipeline_path":"deploy","queue_ref":"1","build_ref":"1"}"#
                        .to_owned(),
                    build_number: Some(1),
                    build_url: None,
                    detail: None,
                    started_at: Some(at(finished - 1)),
                    finished_at: Some(at(finished)),
                    duration_ms: Some(1000),
                    next_poll_at: None,
                    poll_failures: 0,
                    now: at(finished),
                },
            )
            .expect("finish");
    };
    let mut old = Vec::new();
    for second in 1..=5 {
        let run = store
            .create_run(&new_run(&jenkins.id, &deploy, at(second)))
            .expect("run");
        finish(&run.id, 10 + second);
        old.push(run.id);
    }
    let recent = store
        .create_run(&new_run(&jenkins.id, &deploy, at(100)))
        .expect("run");
    finish(&recent.id, 200);
    let active = store
        .create_run(&new_run(&jenkins.id, &deploy, at(101)))
        .expect("run");

    let purge = |batch| {
        store
            .purge_finished_runs(at(100), batch, &by_test("runs.purged"))
            .expect("purge")
    };
    assert_eq!(purge(2), 2, "a batch at most");
    assert!(
        matches!(
            store.get_run(&old[0]),
            Err(StoreError::NotFound(Subject::Run))
        ),
        "oldest first"
    );
    assert!(store.get_run(&old[2]).is_ok());
    assert_eq!(purge(2), 2);
    assert_eq!(purge(2), 1);
    assert_eq!(purge(2), 0, "nothing left to purge");
    for id in &old {
        assert!(store.get_run(id).is_err(), "{id} purged");
    }
    assert_eq!(
        store.get_run(&recent.id).expect("kept").status,
        RunStatus::Succeeded
    );
    assert_eq!(
        store.get_run(&active.id).expect("kept").status,
        RunStatus::Queued
    );
    let verified = store.verify_audit().expect("verify");
    assert!(verified.ok, "{verified:?}");
    let (entries, _) = store
        .list_audit(&switchboard_store::AuditQuery {
            action: Some("runs.purged".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("entries");
    assert_eq!(entries.len(), 3, "one entry per batch that deleted runs");
}

/// The values of a run's password parameters are kept (sealed, bound to the run) only so
/// that its served log can mask them; they survive re-sealing.
fn a_runs_password_values_are_kept_sealed_for_its_log(backend: Backend) {
    use secrecy::{ExposeSecret, SecretString};
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    store
        .apply_discovery(&jenkins.id, &[found("platform/deploy")], at(0))
        .expect("sync");
    let deploy = pipeline_id(&store, &jenkins.id, "platform/deploy");
    let mut with_secret = new_run(&jenkins.id, &deploy, at(1));
    with_secret.secret_values = vec![
        SecretString::from("hunter2-deploy"),
        SecretString::from("second value"),
    ];
    let run = store.create_run(&with_secret).expect("create");
    let plain = store
        .create_run(&new_run(&jenkins.id, &deploy, at(2)))
        .expect("create");
    let opened = |id: &str| -> Vec<String> {
        let (active, secrets) = store.run_for_log(id).expect("run for its log");
        assert_eq!(active.id, id);
        secrets
            .iter()
            .map(|secret| secret.expose_secret().to_owned())
            .collect()
    };
    assert_eq!(opened(&run.id), ["hunter2-deploy", "second value"]);
    assert!(opened(&plain.id).is_empty());
    let resealed = store.reseal_all().expect("re-seal");
    assert_eq!(resealed.runs, 1);
    assert_eq!(opened(&run.id), ["hunter2-deploy", "second value"]);
    assert!(matches!(
        store.run_for_log("no-such-run"),
        Err(StoreError::NotFound(Subject::Run))
    ));
}

/// What recovering a cut-short trigger compares against: the other runs of the same pipeline
/// that are active or were recorded since a time — not the run itself, not another
/// pipeline's, not an old finished one.
fn neighbours_are_the_pipelines_other_active_or_recent_runs(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    store
        .apply_discovery(&jenkins.id, &[found("deploy"), found("nightly")], at(0))
        .expect("sync");
    let deploy = pipeline_id(&store, &jenkins.id, "deploy");
    let nightly = pipeline_id(&store, &jenkins.id, "nightly");
    let create = |pipeline: &str, second: i64| {
        store
            .create_run(&new_run(&jenkins.id, pipeline, at(second)))
            .expect("create")
            .id
    };
    let finish = |id: &str, second: i64| {
        store
            .update_run(
                id,
                &RunUpdate {
                    status: RunStatus::Succeeded,
                    handle_json: r#"{"pipeline_path":"deploy","queue_ref":"1","build_ref":"1"}"#
                        .to_owned(),
                    build_number: Some(1),
                    build_url: None,
                    detail: None,
                    started_at: Some(at(second)),
                    finished_at: Some(at(second)),
                    duration_ms: Some(0),
                    next_poll_at: None,
                    poll_failures: 0,
                    now: at(second),
                },
            )
            .expect("finish");
    };
    let old_active = create(&deploy, 1);
    let old_finished = create(&deploy, 2);
    finish(&old_finished, 3);
    let recent_finished = create(&deploy, 100);
    finish(&recent_finished, 101);
    let ours = create(&deploy, 110);
    create(&nightly, 111);

    let neighbours = store
        .neighbour_runs(&deploy, &ours, at(50))
        .expect("neighbours");
    let mut ids: Vec<&str> = neighbours.iter().map(|n| n.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![old_active.as_str(), recent_finished.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    let recent = neighbours
        .iter()
        .find(|n| n.id == recent_finished)
        .expect("recent");
    assert_eq!(recent.status, RunStatus::Succeeded);
    assert_eq!(recent.created_at, at(100));
    assert!(recent.handle_json.contains(r#""build_ref":"1""#));
}

fn a_run_starts_queued_and_takes_what_polls_learn(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    store
        .apply_discovery(&jenkins.id, &[found("platform/deploy")], at(0))
        .expect("sync");
    let deploy = pipeline_id(&store, &jenkins.id, "platform/deploy");
    let run = store
        .create_run(&new_run(&jenkins.id, &deploy, at(1)))
        .expect("create");
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.pipeline_name, "deploy");
    assert_eq!(run.pipeline_path, "platform/deploy");
    assert_eq!(run.integration_name, "Jenkins");
    assert_eq!(run.tool, "jenkins");
    assert_eq!(run.parameters["ENV"], serde_json::json!("staging"));
    assert_eq!(run.triggered_by, "alice");
    assert_eq!(run.created_at, at(1));
    assert_eq!(run.build_number, None);
    assert_eq!(store.get_run(&run.id).expect("get"), run);
    assert_eq!(store.active_runs_count().expect("count"), 1);

    let handle = store.run_handle(&run.id).expect("handle");
    assert_eq!(handle.status, RunStatus::Queued);
    assert_eq!(handle.integration_id, jenkins.id);
    assert_eq!(handle.pipeline_id, deploy);
    assert!(handle.handle_json.contains("queue_ref"));
    assert_eq!(handle.poll_failures, 0);

    let running = store
        .update_run(
            &run.id,
            &RunUpdate {
                status: RunStatus::Running,
                handle_json:
                    r#"{"pipeline_path":"platform/deploy","queue_ref":"17","build_ref":"18"}"#
                        .to_owned(),
                build_number: Some(18),
                build_url: Some("https://ci.example.com/job/platform/job/deploy/18/".to_owned()),
                detail: None,
                started_at: Some(at(2)),
                finished_at: None,
                duration_ms: None,
                next_poll_at: Some(at(5)),
                poll_failures: 0,
                now: at(3),
            },
        )
        .expect("running");
    assert_eq!(running.status, RunStatus::Running);
    assert_eq!(running.build_number, Some(18));
    assert_eq!(running.started_at, Some(at(2)));
    assert_eq!(running.updated_at, at(3));
    assert!(
        store
            .run_handle(&run.id)
            .expect("handle")
            .handle_json
            .contains("\"18\"")
    );

    let finished = store
        .update_run(
            &run.id,
            &RunUpdate {
                status: RunStatus::Failed,
                handle_json:
                    r#"{"pipeline_path":"platform/deploy","queue_ref":"17","build_ref":"18"}"#
                        .to_owned(),
                build_number: Some(18),
                build_url: Some("https://ci.example.com/job/platform/job/deploy/18/".to_owned()),
                detail: Some("tests failed".to_owned()),
                started_at: Some(at(2)),
                finished_at: Some(at(62)),
                duration_ms: Some(60_000),
                next_poll_at: None,
                poll_failures: 0,
                now: at(63),
            },
        )
        .expect("finished");
    assert_eq!(finished.status, RunStatus::Failed);
    assert_eq!(finished.duration_ms, Some(60_000));
    assert_eq!(finished.finished_at, Some(at(62)));
    assert_eq!(finished.detail.as_deref(), Some("tests failed"));
    assert_eq!(store.active_runs_count().expect("count"), 0);

    let missing = store.update_run(
        "no-such-run",
        &RunUpdate {
            status: RunStatus::Failed,
            handle_json: "{}".to_owned(),
            build_number: None,
            build_url: None,
            detail: None,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            next_poll_at: None,
            poll_failures: 0,
            now: at(0),
        },
    );
    assert!(matches!(missing, Err(StoreError::NotFound(Subject::Run))));
    assert!(matches!(
        store.get_run("no-such-run"),
        Err(StoreError::NotFound(Subject::Run))
    ));
    assert!(matches!(
        store.run_handle("no-such-run"),
        Err(StoreError::NotFound(Subject::Run))
    ));
}

fn runs_list_newest_first_page_by_page_and_by_filter(backend: Backend) {
    let store = store(backend);
    let one = create_integration(&store, "One");
    let two = create_integration(&store, "Two");
    store
        .apply_discovery(&one.id, &[found("build"), found("deploy")], at(0))
        .expect("sync");
    store
        .apply_discovery(&two.id, &[found("build")], at(0))
        .expect("sync");
    let one_build = pipeline_id(&store, &one.id, "build");
    let one_deploy = pipeline_id(&store, &one.id, "deploy");
    let two_build = pipeline_id(&store, &two.id, "build");

    let mut created = Vec::new();
    for (i, (integration, pipeline)) in [
        (&one.id, &one_build),
        (&one.id, &one_deploy),
        (&two.id, &two_build),
        (&one.id, &one_build),
        (&two.id, &two_build),
    ]
    .into_iter()
    .enumerate()
    {
        let run = store
            .create_run(&new_run(integration, pipeline, at(i as i64)))
            .expect("create");
        created.push(run.id);
    }
    // The second run finished.
    store
        .update_run(
            &created[1],
            &RunUpdate {
                status: RunStatus::Succeeded,
                handle_json: "{}".to_owned(),
                build_number: Some(1),
                build_url: None,
                detail: None,
                started_at: Some(at(1)),
                finished_at: Some(at(2)),
                duration_ms: Some(1000),
                next_poll_at: None,
                poll_failures: 0,
                now: at(2),
            },
        )
        .expect("finish");

    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    let ids = |query: RunQuery| -> Vec<String> {
        let mut ids = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = store
                .list_runs(&RunQuery {
                    after: after.clone(),
                    ..query.clone()
                })
                .expect("list runs");
            assert!(page.len() as i64 <= query.limit);
            ids.extend(page.into_iter().map(|run| run.id));
            match next {
                Some(next) => after = Some(next),
                None => return ids,
            }
        }
    };
    for limit in [1, 2, 5, 10] {
        assert_eq!(
            ids(RunQuery {
                limit,
                ..Default::default()
            }),
            newest_first,
            "pages of {limit}"
        );
    }
    assert_eq!(
        ids(RunQuery {
            limit: 2,
            pipeline_id: Some(one_build.clone()),
            ..Default::default()
        }),
        vec![created[3].clone(), created[0].clone()]
    );
    assert_eq!(
        ids(RunQuery {
            limit: 2,
            integration_id: Some(two.id.clone()),
            ..Default::default()
        }),
        vec![created[4].clone(), created[2].clone()]
    );
    assert_eq!(
        ids(RunQuery {
            limit: 2,
            status: Some(RunStatus::Succeeded),
            ..Default::default()
        }),
        vec![created[1].clone()]
    );
    assert_eq!(
        ids(RunQuery {
            limit: 2,
            status: Some(RunStatus::Queued),
            integration_id: Some(one.id.clone()),
            ..Default::default()
        }),
        vec![created[3].clone(), created[0].clone()]
    );
}

fn a_run_needs_its_pipeline_under_its_integration(backend: Backend) {
    let store = store(backend);
    let one = create_integration(&store, "One");
    let two = create_integration(&store, "Two");
    store
        .apply_discovery(&one.id, &[found("build")], at(0))
        .expect("sync");
    let build = pipeline_id(&store, &one.id, "build");
    let wrong_integration = store.create_run(&new_run(&two.id, &build, at(1)));
    assert!(matches!(
        wrong_integration,
        Err(StoreError::NotFound(Subject::Pipeline))
    ));
    let no_pipeline = store.create_run(&new_run(&one.id, "no-such-pipeline", at(1)));
    assert!(matches!(
        no_pipeline,
        Err(StoreError::NotFound(Subject::Pipeline))
    ));
}
