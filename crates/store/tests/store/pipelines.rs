use switchboard_store::{DATA_INTEGRATIONS, DiscoveryCounts, PipelineQuery, StoreError, Subject};

use crate::helpers::{
    Backend, at, by_test, create_integration, found, new_run, pipeline_id, store, with_build,
};
use crate::on_both_backends;

on_both_backends!(
    discovery_counts_additions_changes_and_removals_once,
    removed_pipelines_keep_their_runs_and_come_back_with_them,
    pipelines_list_in_a_stable_order_page_by_page,
    pipelines_filter_by_integration_path_and_removal,
    deleting_an_integration_deletes_its_pipelines_and_runs,
    discovery_of_a_missing_integration_is_not_found,
);

fn counts(added: u64, updated: u64, removed: u64, total: u64) -> DiscoveryCounts {
    DiscoveryCounts {
        added,
        updated,
        removed,
        total,
    }
}

fn discovery_counts_additions_changes_and_removals_once(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    let id = jenkins.id.as_str();

    let first = store
        .apply_discovery(
            id,
            &[found("app/build"), found("app/deploy"), found("tools/lint")],
            at(0),
        )
        .expect("first sync");
    assert_eq!(first, counts(3, 0, 0, 3));
    assert_eq!(store.get_integration(id).expect("get").pipelines, 3);
    let deploy_id = pipeline_id(&store, id, "app/deploy");
    let discovered = store.get_pipeline(&deploy_id).expect("get").discovered_at;

    // Same definitions: nothing changes, no data version moves.
    let integrations_version = store.data_version(DATA_INTEGRATIONS).expect("version");
    let again = store
        .apply_discovery(
            id,
            &[found("app/build"), found("app/deploy"), found("tools/lint")],
            at(10),
        )
        .expect("unchanged sync");
    assert_eq!(again, counts(0, 0, 0, 3));
    assert_eq!(
        store.data_version(DATA_INTEGRATIONS).expect("version"),
        integrations_version
    );

    // deploy got a build, lint disappeared, docs is new; a duplicate counts once.
    let second = store
        .apply_discovery(
            id,
            &[
                found("app/build"),
                with_build(found("app/deploy"), 7),
                found("docs/publish"),
                found("docs/publish"),
            ],
            at(20),
        )
        .expect("second sync");
    assert_eq!(second, counts(1, 1, 1, 3));
    assert!(store.data_version(DATA_INTEGRATIONS).expect("version") > integrations_version);
    let deploy = store.get_pipeline(&deploy_id).expect("get");
    assert_eq!(
        deploy.last_build.as_ref().map(|build| build.number),
        Some(7)
    );
    assert_eq!(
        deploy.discovered_at, discovered,
        "an update keeps the first sighting"
    );
    assert_eq!(deploy.updated_at, at(20));
    let lint = store
        .get_pipeline(&pipeline_id(&store, id, "tools/lint"))
        .expect("get");
    assert!(lint.removed);
    assert_eq!(lint.updated_at, at(20));
    assert_eq!(store.get_integration(id).expect("get").pipelines, 3);

    // A removal is counted once, not on every later sync.
    let third = store
        .apply_discovery(
            id,
            &[
                found("app/build"),
                with_build(found("app/deploy"), 7),
                found("docs/publish"),
            ],
            at(30),
        )
        .expect("third sync");
    assert_eq!(third, counts(0, 0, 0, 3));

    // lint is back: added again, same id, no longer removed; a changed kind is an update.
    let mut build = found("app/build");
    build.kind = switchboard_domain::pipeline::PipelineKind::Freestyle;
    let fourth = store
        .apply_discovery(
            id,
            &[
                build,
                with_build(found("app/deploy"), 7),
                found("docs/publish"),
                found("tools/lint"),
            ],
            at(40),
        )
        .expect("fourth sync");
    assert_eq!(fourth, counts(1, 1, 0, 4));
    let lint_again = store.get_pipeline(&lint.id).expect("same id");
    assert!(!lint_again.removed);
    assert_eq!(store.get_integration(id).expect("get").pipelines, 4);

    // The tool lost everything.
    let empty = store.apply_discovery(id, &[], at(50)).expect("empty sync");
    assert_eq!(empty, counts(0, 0, 4, 0));
    assert_eq!(store.get_integration(id).expect("get").pipelines, 0);
}

fn removed_pipelines_keep_their_runs_and_come_back_with_them(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    let id = jenkins.id.as_str();
    store
        .apply_discovery(id, &[found("deploy"), found("build")], at(0))
        .expect("sync");
    let deploy = pipeline_id(&store, id, "deploy");
    let run = store
        .create_run(&new_run(id, &deploy, at(1)))
        .expect("create run");

    store
        .apply_discovery(id, &[found("build")], at(2))
        .expect("sync without deploy");
    let kept = store.get_run(&run.id).expect("the run is kept");
    assert_eq!(kept.pipeline_path, "deploy");
    assert!(store.get_pipeline(&deploy).expect("kept").removed);

    store
        .apply_discovery(id, &[found("build"), found("deploy")], at(3))
        .expect("deploy is back");
    assert!(!store.get_pipeline(&deploy).expect("same id").removed);
    let (runs, _) = store
        .list_runs(&switchboard_store::RunQuery {
            limit: 10,
            pipeline_id: Some(deploy.clone()),
            ..Default::default()
        })
        .expect("list runs");
    assert_eq!(runs.len(), 1);
}

fn pipelines_list_in_a_stable_order_page_by_page(backend: Backend) {
    let store = store(backend);
    // Listed by integration name ignoring case: alpha before Beta.
    let beta = create_integration(&store, "Beta");
    let alpha = create_integration(&store, "alpha");
    let beta_paths = ["z", "a/b", "a-b", "A/c", "a/b/c", "a"];
    let alpha_paths = ["x/y", "w"];
    store
        .apply_discovery(
            &beta.id,
            &beta_paths.iter().map(|p| found(p)).collect::<Vec<_>>(),
            at(0),
        )
        .expect("sync beta");
    store
        .apply_discovery(
            &alpha.id,
            &alpha_paths.iter().map(|p| found(p)).collect::<Vec<_>>(),
            at(0),
        )
        .expect("sync alpha");

    let (all, next) = store
        .list_pipelines(&PipelineQuery {
            limit: 100,
            ..Default::default()
        })
        .expect("list all");
    assert_eq!(next, None);
    let listed: Vec<(&str, &str)> = all
        .iter()
        .map(|p| (p.integration_name.as_str(), p.full_path.as_str()))
        .collect();
    // Full paths in byte order on both backends.
    assert_eq!(
        listed,
        vec![
            ("alpha", "w"),
            ("alpha", "x/y"),
            ("Beta", "A/c"),
            ("Beta", "a"),
            ("Beta", "a-b"),
            ("Beta", "a/b"),
            ("Beta", "a/b/c"),
            ("Beta", "z"),
        ]
    );
    assert!(all.iter().all(|p| p.tool == "jenkins"));
    let deploy = &all[4];
    assert_eq!(deploy.integration_id, beta.id);
    assert_eq!(deploy.parameters.len(), 1);

    for limit in [1, 2, 3, 7, 8] {
        let mut paged = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = store
                .list_pipelines(&PipelineQuery {
                    limit,
                    after: cursor.clone(),
                    ..Default::default()
                })
                .expect("page");
            assert!(page.len() as i64 <= limit);
            paged.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(paged, all, "pages of {limit}");
    }

    let bad = store.list_pipelines(&PipelineQuery {
        limit: 10,
        after: Some("not a cursor".to_owned()),
        ..Default::default()
    });
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
}

fn pipelines_filter_by_integration_path_and_removal(backend: Backend) {
    let store = store(backend);
    let one = create_integration(&store, "One");
    let two = create_integration(&store, "Two");
    store
        .apply_discovery(
            &one.id,
            &[
                found("Platform/Deploy"),
                found("platform/build"),
                found("100%_done"),
                found("old"),
            ],
            at(0),
        )
        .expect("sync one");
    store
        .apply_discovery(
            &one.id,
            &[
                found("Platform/Deploy"),
                found("platform/build"),
                found("100%_done"),
            ],
            at(1),
        )
        .expect("old is removed");
    store
        .apply_discovery(&two.id, &[found("platform/deploy")], at(0))
        .expect("sync two");

    let paths = |query: PipelineQuery| -> Vec<String> {
        store
            .list_pipelines(&PipelineQuery { limit: 50, ..query })
            .expect("list")
            .0
            .into_iter()
            .map(|p| format!("{}:{}", p.integration_name, p.full_path))
            .collect()
    };
    assert_eq!(
        paths(PipelineQuery {
            q: Some("PLATFORM/d".to_owned()),
            ..Default::default()
        }),
        vec!["One:Platform/Deploy", "Two:platform/deploy"]
    );
    assert_eq!(
        paths(PipelineQuery {
            q: Some("platform".to_owned()),
            integration_id: Some(one.id.clone()),
            ..Default::default()
        }),
        vec!["One:Platform/Deploy", "One:platform/build"]
    );
    // LIKE's wildcards are taken literally.
    assert_eq!(
        paths(PipelineQuery {
            q: Some("%_".to_owned()),
            ..Default::default()
        }),
        vec!["One:100%_done"]
    );
    assert_eq!(
        paths(PipelineQuery {
            q: Some("_".to_owned()),
            integration_id: Some(two.id.clone()),
            ..Default::default()
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        paths(PipelineQuery {
            integration_id: Some(one.id.clone()),
            ..Default::default()
        }),
        vec!["One:100%_done", "One:Platform/Deploy", "One:platform/build"]
    );
    assert_eq!(
        paths(PipelineQuery {
            integration_id: Some(one.id.clone()),
            include_removed: true,
            ..Default::default()
        }),
        vec![
            "One:100%_done",
            "One:Platform/Deploy",
            "One:old",
            "One:platform/build"
        ]
    );
    let (listed, _) = store
        .list_integrations(&switchboard_store::IntegrationQuery {
            limit: 10,
            ..Default::default()
        })
        .expect("list integrations");
    let counts: Vec<(String, u64)> = listed.into_iter().map(|i| (i.name, i.pipelines)).collect();
    assert_eq!(counts, vec![("One".to_owned(), 3), ("Two".to_owned(), 1)]);
}

fn deleting_an_integration_deletes_its_pipelines_and_runs(backend: Backend) {
    let store = store(backend);
    let doomed = create_integration(&store, "Doomed");
    let kept = create_integration(&store, "Kept");
    store
        .apply_discovery(&doomed.id, &[found("deploy")], at(0))
        .expect("sync");
    store
        .apply_discovery(&kept.id, &[found("deploy")], at(0))
        .expect("sync");
    let doomed_pipeline = pipeline_id(&store, &doomed.id, "deploy");
    let kept_pipeline = pipeline_id(&store, &kept.id, "deploy");
    let doomed_run = store
        .create_run(&new_run(&doomed.id, &doomed_pipeline, at(1)))
        .expect("run");
    let kept_run = store
        .create_run(&new_run(&kept.id, &kept_pipeline, at(1)))
        .expect("run");
    store
        .delete_integration(
            &doomed.id,
            Some(doomed.version),
            &by_test("integration.deleted"),
        )
        .expect("delete");
    assert!(matches!(
        store.get_pipeline(&doomed_pipeline),
        Err(StoreError::NotFound(Subject::Pipeline))
    ));
    assert!(matches!(
        store.get_run(&doomed_run.id),
        Err(StoreError::NotFound(Subject::Run))
    ));
    assert!(store.get_pipeline(&kept_pipeline).is_ok());
    assert!(store.get_run(&kept_run.id).is_ok());
}

fn discovery_of_a_missing_integration_is_not_found(backend: Backend) {
    let store = store(backend);
    let result = store.apply_discovery("no-such-integration", &[found("x")], at(0));
    assert!(
        matches!(result, Err(StoreError::NotFound(Subject::Integration))),
        "{result:?}"
    );
    assert!(matches!(
        store.get_pipeline("no-such-pipeline"),
        Err(StoreError::NotFound(Subject::Pipeline))
    ));
    assert!(matches!(
        store.data_version("no-such-data"),
        Err(StoreError::NotFound(Subject::Record))
    ));
}
