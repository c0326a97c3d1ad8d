//! Buildbot discovery against a real 4.3.0 master: builders, force scheduler parameters
//! of every kind, last builds, a bounded number of requests; a builder removed by a
//! reconfig; a session renewed after the user's roles changed.

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::buildbot::{Master, admin, connector, discovered, poll_until, shared, viewer};
use switchboard_connectors::{Connector, DiscoveredPipeline, PipelineRef};
use switchboard_domain::pipeline::{ParameterType, PipelineKind, RunStatus};

fn find<'a>(pipelines: &'a [DiscoveredPipeline], name: &str) -> &'a DiscoveredPipeline {
    pipelines
        .iter()
        .find(|p| p.full_path == name)
        .unwrap_or_else(|| panic!("{name} discovered: {pipelines:#?}"))
}

#[tokio::test]
async fn builders_are_pipelines_with_their_force_parameters() {
    let master = shared();
    let connector = connector();
    let discovery = discovered(&connector, &viewer(master)).await;
    assert_eq!(discovery.requests, 4, "a login and three reads");
    let again = discovered(&connector, &viewer(master)).await;
    assert_eq!(again.requests, 3, "the session is cached");
    let anonymous = discovered(
        &connector,
        &support::buildbot::target(&master.url, None, None),
    )
    .await;
    assert_eq!(anonymous.requests, 3);
    // What anonymous users see (last builds may differ: other tests build meanwhile).
    let shape = |pipelines: &[DiscoveredPipeline]| -> Vec<(String, usize, bool)> {
        pipelines
            .iter()
            .map(|p| (p.full_path.clone(), p.parameters.len(), p.buildable))
            .collect()
    };
    assert_eq!(shape(&anonymous.pipelines), shape(&discovery.pipelines));
    let names: Vec<&str> = discovery
        .pipelines
        .iter()
        .map(|p| p.full_path.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "fails",
            "greet",
            "one-at-a-time",
            "retired",
            "sleeper",
            "warns"
        ]
    );

    let greet = find(&discovery.pipelines, "greet");
    assert_eq!(greet.kind, PipelineKind::Builder);
    assert_eq!(greet.name, "greet");
    assert_eq!(greet.folder, "");
    assert!(greet.buildable);
    assert!(
        greet.url.starts_with(&master.url) && greet.url.contains("#/builders/"),
        "{}",
        greet.url
    );
    let parameters: Vec<(&str, ParameterType, Option<Value>)> = greet
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.kind, p.default.clone()))
        .collect();
    // No owner, reason, priority or codebase fields; the nested parameter's child under
    // its full name; the fixed one left out.
    assert_eq!(
        parameters,
        [
            ("greeting", ParameterType::String, Some(json!("hello"))),
            ("loud", ParameterType::Boolean, Some(json!(false))),
            ("target", ParameterType::Choice, Some(json!("staging"))),
            ("count", ParameterType::Integer, Some(json!(3))),
            ("notes", ParameterType::Text, Some(json!(""))),
            ("options_retries", ParameterType::Integer, Some(json!(1))),
        ]
    );
    let target = &greet.parameters[2];
    assert_eq!(target.choices, ["staging", "production"]);
    let count = &greet.parameters[3];
    assert_eq!(
        count.description.as_deref(),
        Some("How many lines to count")
    );

    let fails = find(&discovery.pipelines, "fails");
    assert!(fails.buildable);
    assert!(fails.parameters.is_empty(), "{:?}", fails.parameters);
}

#[tokio::test]
async fn the_last_build_comes_with_discovery() {
    let master = shared();
    let connector = connector();
    let handle = connector
        .trigger(
            &admin(master),
            &PipelineRef {
                full_path: "warns".to_owned(),
                parameters: Vec::new(),
            },
            &BTreeMap::new(),
            "test-run",
        )
        .await
        .expect("triggered");
    let finished = poll_until(&connector, &admin(master), &handle, |s| {
        !s.status.is_active()
    })
    .await;
    let discovery = discovered(&connector, &admin(master)).await;
    let warns = find(&discovery.pipelines, "warns");
    let last = warns.last_build.as_ref().expect("a last build");
    assert_eq!(Some(last.number), finished.build_number);
    assert_eq!(last.status, RunStatus::Unstable);
    assert_eq!(last.url, finished.build_url);
    assert!(last.started_at.is_some());
}

#[tokio::test]
async fn a_removed_builder_is_no_longer_discovered_and_a_new_role_needs_a_new_session() {
    let mut master = Master::start(json!({}));
    let connector = connector();
    let before = discovered(&connector, &viewer(&master)).await;
    find(&before.pipelines, "retired");

    // The viewer's session is cached now; its roles were fixed when it logged in.
    master.reconfigure(
        json!({"retired": true, "admins": ["admin", "viewer"]}),
        |builders| {
            builders["builders"].as_array().is_some_and(|builders| {
                builders.iter().any(|b| {
                    b["name"] == "retired" && b["masterids"].as_array().is_some_and(Vec::is_empty)
                })
            })
        },
    );
    let after = discovered(&connector, &viewer(&master)).await;
    assert!(
        after.pipelines.iter().all(|p| p.full_path != "retired"),
        "{:#?}",
        after.pipelines
    );
    assert_eq!(after.pipelines.len(), before.pipelines.len() - 1);

    // The cached session answers 403; a new login brings the new role.
    let handle = connector
        .trigger(
            &viewer(&master),
            &PipelineRef {
                full_path: "fails".to_owned(),
                parameters: Vec::new(),
            },
            &BTreeMap::new(),
            "test-run",
        )
        .await
        .expect("the viewer may force builds now");
    let state = poll_until(&connector, &viewer(&master), &handle, |s| {
        !s.status.is_active()
    })
    .await;
    assert_eq!(state.status, RunStatus::Failed);
}
