//! Discovery through the `Connector` trait against the Jenkins simulator: nested folders
//! deeper than one request reaches, multibranch projects, an organization folder, every job
//! kind, parameters, last builds; a second discovery after the tree changed; and a number of
//! requests that does not depend on the number of jobs.

// The test tree is one deeply nested `json!`.
#![recursion_limit = "256"]

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::jenkins::{ADMIN_TOKEN, admin, connector, start, target};
use support::{TestServer, http};
use switchboard_connectors::jenkins::DISCOVERY_LEVELS;
use switchboard_connectors::{Connector, DiscoveredPipeline, Discovery};
use switchboard_domain::pipeline::{ParameterType, PipelineKind, RunStatus};

/// Levels 1–7 of folders (`l1/…/l7`), with jobs of every kind along the way, a multibranch
/// project and an empty folder at level 5 (the deepest level the first request expands),
/// a multibranch project and an organization folder at the root.
fn tree() -> Value {
    json!({
        "quiet_period_ms": 0,
        "jobs": [
            {"name": "top", "type": "freestyle", "history": ["SUCCESS"]},
            {"name": "grid", "type": "matrix", "history": ["UNSTABLE"]},
            {"name": "mvn", "type": "maven"},
            {"name": "off", "type": "freestyle", "disabled": true, "history": ["SUCCESS"]},
            {"name": "web", "type": "multibranch", "branches": [
                "main",
                {"name": "feature/x", "history": ["FAILURE"]}
            ]},
            {"name": "org", "type": "organization_folder", "jobs": [
                {"name": "repo1", "type": "multibranch", "branches": ["main"]}
            ]},
            {"name": "l1", "type": "folder", "jobs": [
                {"name": "deploy", "type": "pipeline", "history": ["FAILURE", "SUCCESS"],
                 "parameters": [
                    {"type": "string", "name": "VERSION", "default": "latest", "description": "Tag"},
                    {"type": "text", "name": "NOTES", "default": "none"},
                    {"type": "choice", "name": "ENV", "choices": ["staging", "production"]},
                    {"type": "boolean", "name": "DRY_RUN", "default": true}
                 ]},
                {"name": "l2", "type": "folder", "jobs": [
                    {"name": "stopped", "type": "pipeline", "history": ["ABORTED"]},
                    {"name": "l3", "type": "folder", "jobs": [
                        {"name": "skipped", "type": "freestyle", "history": ["NOT_BUILT"]},
                        {"name": "l4", "type": "folder", "jobs": [
                            {"name": "empty", "type": "folder"},
                            {"name": "mb5", "type": "multibranch", "branches": ["main"]},
                            {"name": "l5", "type": "folder", "jobs": [
                                {"name": "six", "type": "freestyle"},
                                {"name": "l6", "type": "folder", "jobs": [
                                    {"name": "seven", "type": "pipeline",
                                     "parameters": [{"type": "choice", "name": "REGION",
                                                     "choices": ["eu", "us"]}]}
                                ]}
                            ]}
                        ]}
                    ]}
                ]}
            ]}
        ]
    })
}

fn by_path(discovery: &Discovery) -> BTreeMap<&str, &DiscoveredPipeline> {
    discovery
        .pipelines
        .iter()
        .map(|p| (p.full_path.as_str(), p))
        .collect()
}

fn kinds(discovery: &Discovery) -> Vec<(&str, PipelineKind)> {
    discovery
        .pipelines
        .iter()
        .map(|p| (p.full_path.as_str(), p.kind))
        .collect()
}

#[tokio::test]
async fn discovery_finds_every_buildable_job_at_any_depth() {
    const {
        assert!(
            DISCOVERY_LEVELS < 7,
            "the tree must be deeper than one request"
        )
    };
    let sim = start(tree()).await;
    let discovery = connector().discover(&admin(&sim)).await.expect("discovers");

    assert_eq!(
        kinds(&discovery),
        vec![
            ("grid", PipelineKind::Matrix),
            ("l1/deploy", PipelineKind::Pipeline),
            ("l1/l2/l3/l4/l5/l6/seven", PipelineKind::Pipeline),
            ("l1/l2/l3/l4/l5/six", PipelineKind::Freestyle),
            ("l1/l2/l3/l4/mb5/main", PipelineKind::Branch),
            ("l1/l2/l3/skipped", PipelineKind::Freestyle),
            ("l1/l2/stopped", PipelineKind::Pipeline),
            ("mvn", PipelineKind::Maven),
            ("off", PipelineKind::Freestyle),
            ("org/repo1/main", PipelineKind::Branch),
            ("top", PipelineKind::Freestyle),
            ("web/feature%2Fx", PipelineKind::Branch),
            ("web/main", PipelineKind::Branch),
        ],
        "containers are not pipelines; branches are"
    );
    assert_eq!(discovery.pipelines.len(), sim.jobs);
    // The root request, then one each for the two level-5 containers that have children
    // (`l5`, `mb5`); the empty folder at level 5 needs none.
    assert_eq!(discovery.requests, 3);

    let found = by_path(&discovery);
    let seven = found["l1/l2/l3/l4/l5/l6/seven"];
    assert_eq!(seven.name, "seven");
    assert_eq!(seven.folder, "l1/l2/l3/l4/l5/l6");
    assert_eq!(seven.parameters.len(), 1);
    assert_eq!(seven.parameters[0].kind, ParameterType::Choice);
    assert_eq!(seven.parameters[0].default, Some(json!("eu")));
    assert_eq!(
        seven.url,
        format!(
            "{}job/l1/job/l2/job/l3/job/l4/job/l5/job/l6/job/seven/",
            sim.url
        )
    );
    assert!(seven.last_build.is_none(), "never built");

    let top = found["top"];
    assert_eq!((top.name.as_str(), top.folder.as_str()), ("top", ""));
    assert!(top.buildable && top.parameters.is_empty());
    assert!(!found["off"].buildable, "disabled");

    let branch = found["web/feature%2Fx"];
    assert_eq!(branch.name, "feature%2Fx");
    assert_eq!(branch.folder, "web");
    assert_eq!(
        branch.url,
        format!("{}job/web/job/feature%252Fx/", sim.url),
        "the branch API's encoded name, encoded again in the URL"
    );

    let deploy = found["l1/deploy"];
    let params: Vec<(&str, ParameterType, Option<Value>, Option<&str>)> = deploy
        .parameters
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.kind,
                p.default.clone(),
                p.description.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        params,
        vec![
            (
                "VERSION",
                ParameterType::String,
                Some(json!("latest")),
                Some("Tag")
            ),
            ("NOTES", ParameterType::Text, Some(json!("none")), None),
            ("ENV", ParameterType::Choice, Some(json!("staging")), None),
            ("DRY_RUN", ParameterType::Boolean, Some(json!(true)), None),
        ]
    );
    assert_eq!(deploy.parameters[2].choices, ["staging", "production"]);

    let last = |path: &str| {
        found[path]
            .last_build
            .as_ref()
            .map(|b| (b.number, b.status))
    };
    assert_eq!(last("l1/deploy"), Some((2, RunStatus::Succeeded)));
    assert_eq!(last("grid"), Some((1, RunStatus::Unstable)));
    assert_eq!(last("web/feature%2Fx"), Some((1, RunStatus::Failed)));
    assert_eq!(last("l1/l2/stopped"), Some((1, RunStatus::Cancelled)));
    assert_eq!(last("l1/l2/l3/skipped"), Some((1, RunStatus::Skipped)));
    assert_eq!(last("mvn"), None);
    let deploy_build = deploy.last_build.as_ref().expect("last build");
    assert!(deploy_build.started_at.is_some());
    assert_eq!(
        deploy_build.url.as_deref(),
        Some(format!("{}job/l1/job/deploy/2/", sim.url).as_str())
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_second_discovery_sees_added_and_removed_jobs() {
    let sim = start(tree()).await;
    let connector = connector();
    let first = connector.discover(&admin(&sim)).await.expect("first");

    let control = sim.control();
    let items = |v: Value| -> Vec<jenkins_sim::config::ItemConfig> {
        serde_json::from_value(v).expect("items")
    };
    control
        .add_items("", &items(json!([{"name": "fresh", "type": "pipeline"}])))
        .expect("added at the root");
    // The empty folder at level 5 gets a child: now it needs its own request.
    control
        .add_items(
            "l1/l2/l3/l4/empty",
            &items(json!([{"name": "eight", "type": "freestyle", "history": ["FAILURE"]}])),
        )
        .expect("added deep down");
    control.remove_item("top").expect("removed");
    control
        .remove_item("l1/l2/l3/l4/l5")
        .expect("folder removed");
    control
        .add_items(
            "org",
            &items(json!([{"name": "repo2", "type": "multibranch", "branches": ["dev"]}])),
        )
        .expect("new repository");

    let second = connector.discover(&admin(&sim)).await.expect("second");
    let before: Vec<&str> = by_path(&first).into_keys().collect();
    let after: Vec<&str> = by_path(&second).into_keys().collect();
    let added: Vec<&str> = after
        .iter()
        .filter(|p| !before.contains(p))
        .copied()
        .collect();
    let removed: Vec<&str> = before
        .iter()
        .filter(|p| !after.contains(p))
        .copied()
        .collect();
    assert_eq!(added, ["fresh", "l1/l2/l3/l4/empty/eight", "org/repo2/dev"]);
    assert_eq!(
        removed,
        ["l1/l2/l3/l4/l5/l6/seven", "l1/l2/l3/l4/l5/six", "top"]
    );
    let eight = by_path(&second)["l1/l2/l3/l4/empty/eight"];
    assert_eq!(eight.kind, PipelineKind::Freestyle);
    assert_eq!(
        eight.last_build.as_ref().map(|b| b.status),
        Some(RunStatus::Failed)
    );
    assert_eq!(by_path(&second)["org/repo2/dev"].kind, PipelineKind::Branch);
    // `l5` went, `empty` came: still the root and two follow-ups.
    assert_eq!(second.requests, 3);
    assert_eq!(second.pipelines.len(), control.job_count().expect("count"));
    sim.stop().await;
}

/// Seven folders nested in a line, `per_folder` jobs in each and `at_root` at the root.
async fn generated(at_root: u32, per_folder: u32) -> (jenkins_sim::Running, Discovery) {
    let sim = start(json!({
        "generate": {"folders_depth": 7, "folders_per_level": 1,
                     "jobs_per_folder": per_folder, "root_jobs": at_root}
    }))
    .await;
    let discovery = connector().discover(&admin(&sim)).await.expect("discovers");
    (sim, discovery)
}

#[tokio::test]
async fn the_number_of_requests_does_not_grow_with_the_number_of_jobs() {
    let (small_sim, small) = generated(3, 1).await;
    let (big_sim, big) = generated(300, 100).await;
    assert_eq!(small.pipelines.len(), 10);
    assert_eq!(big.pipelines.len(), 1_000);
    assert_eq!(small.pipelines.len(), small_sim.jobs);
    assert_eq!(big.pipelines.len(), big_sim.jobs);
    assert_eq!(small.requests, big.requests);
    // The root request, then one for the level-5 folder, which reaches down to level 10.
    assert_eq!(big.requests, 2);
    assert!(
        big.pipelines
            .iter()
            .any(|p| p.full_path.matches('/').count() == 7),
        "the jobs in the deepest folder are found"
    );
    small_sim.stop().await;
    big_sim.stop().await;
}

/// A controller with plugins' item types and sparse answers, as a hand-written server.
fn plugin_controller(recorded: &support::Recorded) -> Vec<u8> {
    let answer = |body: Value| {
        http(
            "200 OK",
            &[
                ("X-Jenkins", "2.479.3"),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        )
    };
    if recorded.target().starts_with("/job/") {
        // The follow-up for the level-5 folder whose answer had no `jobs` at all.
        return answer(
            json!({"_class": "com.cloudbees.hudson.plugins.folder.Folder",
            "jobs": [{"_class": "hudson.model.FreeStyleProject", "name": "x", "color": "blue"}]}),
        );
    }
    let mut deep = json!({"_class": "com.cloudbees.hudson.plugins.folder.Folder", "name": "a"});
    for _ in 1..DISCOVERY_LEVELS {
        deep = json!({"_class": "com.cloudbees.hudson.plugins.folder.Folder", "name": "a",
                      "jobs": [deep]});
    }
    answer(json!({"_class": "hudson.model.Hudson", "jobs": [
        deep,
        {"_class": "org.example.Group", "name": "group", "jobs": [
            {"_class": "org.example.Task", "name": "task", "color": "red_anime",
             "lastBuild": {"number": 3, "building": true}},
            {"_class": "org.example.Note", "name": "note"}
        ]},
        {"_class": "hudson.model.FreeStyleProject", "name": "paused", "color": "blue",
         "buildable": false},
        {"_class": "hudson.model.FreeStyleProject", "name": "greyed", "color": "disabled_anime"},
        {"_class": "hudson.model.FreeStyleProject", "name": "bare"},
        {"_class": "hudson.model.FreeStyleProject", "color": "blue"},
        {"_class": "hudson.model.FreeStyleProject", "name": "..", "color": "blue"}
    ]}))
}

#[tokio::test]
async fn discovery_is_defensive_about_what_plugins_export() {
    let server = TestServer::respond(plugin_controller).await;
    let discovery = connector()
        .discover(&target(&server.url("/"), "admin", ADMIN_TOKEN))
        .await
        .expect("discovers");
    assert_eq!(
        kinds(&discovery),
        vec![
            ("a/a/a/a/a/x", PipelineKind::Freestyle),
            ("bare", PipelineKind::Freestyle),
            ("greyed", PipelineKind::Freestyle),
            ("group/task", PipelineKind::Other),
            ("paused", PipelineKind::Freestyle),
        ]
    );
    let found = by_path(&discovery);
    assert!(!found["paused"].buildable && !found["greyed"].buildable);
    assert!(found["bare"].buildable && found["bare"].last_build.is_none());
    assert_eq!(
        found["bare"].url,
        server.url("/job/bare/"),
        "without a url, the job's address under the integration URL"
    );
    assert_eq!(
        found["group/task"].last_build.as_ref().map(|b| b.status),
        Some(RunStatus::Running)
    );
    assert_eq!(discovery.requests, 2);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0]
            .target()
            .starts_with("/api/json?tree=jobs%5B_class%2Cname"),
        "{}",
        requests[0].target()
    );
    assert_eq!(
        requests[1].target().split('?').next(),
        Some("/job/a/job/a/job/a/job/a/job/a/api/json")
    );
    assert!(requests.iter().all(|r| !r.target().contains("depth=")));
}
