//! Runs whose trigger never completed: recorded, perhaps asked of the tool, but the tool's
//! answer never stored (the process that triggered died in between). Once the trigger's
//! hold ends, the monitor asks the tool which builds of the pipeline fit the run (see
//! [`switchboard_connectors::Connector::find_started`]), leaves out those other runs follow,
//! and decides:
//! - exactly one left: it is the run's build, followed from here like any other;
//! - none: the tool never started the run, which ends saying so (or, when those found are
//!   all followed by other runs, naming them: the tool may have merged the requests);
//! - several: nothing tells which is the run's, which ends naming them;
//! - another trigger of the pipeline still under way: its build may be among those found, so
//!   the decision waits until that trigger has stored its answer or run out of time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchboard_connectors::{RunHandle, Unconfirmed};
use switchboard_domain::pipeline::ParameterType;
use switchboard_store::{ActiveRun, NeighbourRun, StoreResult};

use crate::tooling::Tooling;

/// How far back other runs' builds are looked at: a build found may belong to any run still
/// active, or to one that ended in this time.
const NEIGHBOURHOOD: chrono::Duration = chrono::Duration::hours(1);

/// What the monitor does with a run whose trigger never completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// The one build that is the run's.
    Found(RunHandle),
    /// The tool shows no build for the run.
    NotStarted,
    /// The only builds that fit are followed by other runs (the ids): the tool may have
    /// merged the run's request into one of theirs (Jenkins does, for a job whose request
    /// is still waiting in the queue).
    FollowedByOthers(Vec<String>),
    /// Several builds fit the run and none is followed by another.
    Ambiguous(Vec<RunHandle>),
    /// Another trigger of the pipeline is still under way.
    Wait,
}

/// Finds what became of `run`, whose stored handle has neither a queue nor a build reference.
/// An error is a text for the run's log of failed polls (the tool or the store failed).
pub(crate) async fn recover(
    tooling: &Tooling,
    run: &ActiveRun,
    pipeline_path: &str,
    now: DateTime<Utc>,
) -> Result<Recovery, String> {
    let store = tooling.store.clone();
    let (run_id, pipeline_id) = (run.id.clone(), run.pipeline_id.clone());
    let loaded = tokio::task::spawn_blocking(move || -> StoreResult<_> {
        let recorded = store.get_run(&run_id)?;
        let pipeline = store.get_pipeline(&pipeline_id)?;
        let neighbours =
            store.neighbour_runs(&pipeline_id, &run_id, recorded.created_at - NEIGHBOURHOOD)?;
        Ok((recorded, pipeline, neighbours))
    })
    .await
    .map_err(|err| format!("Cannot load the run: {err}"))?;
    let (recorded, pipeline, neighbours) =
        loaded.map_err(|err| format!("Cannot load the run: {err}"))?;

    let neighbours: Vec<(NeighbourRun, Option<RunHandle>)> = neighbours
        .into_iter()
        .map(|n| {
            let handle = serde_json::from_str(&n.handle_json).ok();
            (n, handle)
        })
        .collect();
    let still_asking = tooling.trigger_hold();
    if neighbours.iter().any(|(neighbour, handle)| {
        neighbour.status.is_active()
            && handle.as_ref().is_some_and(unconfirmed)
            && neighbour.created_at > now - still_asking
    }) {
        return Ok(Recovery::Wait);
    }

    let secret = |name: &str| {
        pipeline
            .parameters
            .iter()
            .any(|d| d.name == name && d.kind == ParameterType::Password)
    };
    let wanted = Unconfirmed {
        run_id: recorded.id.clone(),
        pipeline_path: pipeline_path.to_owned(),
        recorded_at: recorded.created_at,
        parameters: recorded
            .parameters
            .iter()
            .filter(|(name, _)| !secret(name))
            .map(|(name, value)| (name.clone(), form_text(value)))
            .collect::<BTreeMap<_, _>>(),
    };
    let (tool, target) = tooling
        .target(&run.integration_id)
        .await
        .map_err(|err| format!("Cannot load the run's integration: {err}"))?;
    let connector = tooling.connector(&tool).map_err(|err| err.to_string())?;
    let found = connector
        .find_started(&target, &wanted)
        .await
        .map_err(|failure| {
            format!(
                "Cannot reach the tool: {} {}",
                failure.message, failure.hint
            )
        })?;
    let followers = |candidate: &RunHandle| -> Vec<String> {
        neighbours
            .iter()
            .filter(|(_, known)| known.as_ref().is_some_and(|k| same_build(candidate, k)))
            .map(|(neighbour, _)| neighbour.id.clone())
            .collect()
    };
    let mut followed = Vec::new();
    let mut left = Vec::new();
    for candidate in found {
        let others = followers(&candidate);
        if others.is_empty() {
            left.push(candidate);
        } else {
            followed.extend(others);
        }
    }
    Ok(match (left.len(), followed.is_empty()) {
        (0, true) => Recovery::NotStarted,
        (0, false) => Recovery::FollowedByOthers(followed),
        (1, _) => Recovery::Found(left.remove(0)),
        _ => Recovery::Ambiguous(left),
    })
}

/// Whether a handle says nothing yet of where the run is in its tool.
pub(crate) fn unconfirmed(handle: &RunHandle) -> bool {
    handle.queue_ref.is_none() && handle.build_ref.is_none()
}

/// Whether two handles name the same queued request or build.
fn same_build(a: &RunHandle, b: &RunHandle) -> bool {
    (a.queue_ref.is_some() && a.queue_ref == b.queue_ref)
        || (a.build_ref.is_some() && a.build_ref == b.build_ref)
}

/// A shown parameter value as the trigger's form wrote it.
fn form_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// How a candidate is named where a run says which builds may be it.
pub(crate) fn describe(handle: &RunHandle) -> String {
    match (&handle.build_ref, &handle.queue_ref) {
        (Some(build), _) => format!("build {build}"),
        (None, Some(queued)) => format!("queued request {queued}"),
        (None, None) => "an unknown build".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(queue: Option<&str>, build: Option<&str>) -> RunHandle {
        RunHandle {
            pipeline_path: "deploy".into(),
            queue_ref: queue.map(str::to_owned),
            build_ref: build.map(str::to_owned),
        }
    }

    #[test]
    fn a_build_is_known_by_its_queue_item_or_its_number() {
        let queued = handle(Some("7"), None);
        let built = handle(Some("7"), Some("12"));
        assert!(same_build(&queued, &built));
        assert!(same_build(&handle(None, Some("12")), &built));
        assert!(!same_build(&handle(Some("8"), None), &built));
        assert!(!same_build(&handle(None, None), &handle(None, None)));
    }

    #[test]
    fn shown_values_become_form_text() {
        assert_eq!(form_text(&serde_json::json!("staging")), "staging");
        assert_eq!(form_text(&serde_json::json!(true)), "true");
        assert_eq!(form_text(&serde_json::json!(3)), "3");
    }
}
