//! Finding the build of a run whose trigger Switchboard never confirmed.
//!
//! Jenkins gives a build triggered with user credentials no place for a caller's label (the
//! `cause` text needs a job's build token), so a build is recognised by what it shows: the
//! job, a time after the run was recorded, a `UserIdCause` of the integration's user, and the
//! parameter values given. Two places are read: the queue (items still waiting) and the
//! job's newest builds (items that left it); a build is known by its `queueId`, so one that
//! just left the queue is not counted twice.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{About, Session, job_path};
use crate::connector::{CLOCK_SKEW, RunHandle, Unconfirmed};
use crate::{ConnectorError, Credentials};

/// How many of the job's newest builds are looked at: a run is recovered within minutes of
/// its trigger, and a job seldom starts more builds than this in that time.
const BUILD_SEARCH: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Queue {
    items: Vec<QueueItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct QueueItem {
    id: Option<u64>,
    in_queue_since: Option<i64>,
    task: Option<Task>,
    actions: Vec<Option<Action>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Task {
    full_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Builds {
    builds: Vec<Build>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Build {
    number: Option<u64>,
    queue_id: Option<u64>,
    timestamp: Option<i64>,
    actions: Vec<Option<Action>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Action {
    parameters: Option<Vec<Option<Parameter>>>,
    causes: Option<Vec<Option<Cause>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Parameter {
    name: Option<String>,
    value: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Cause {
    user_id: Option<String>,
}

/// What identifies a build as the run's, whatever list it came from.
struct Shown<'a> {
    /// Epoch milliseconds: when it was queued (a queue item) or started (a build).
    at: Option<i64>,
    actions: &'a [Option<Action>],
}

pub(super) async fn find_started(
    session: &Session,
    run: &Unconfirmed,
) -> Result<Vec<RunHandle>, ConnectorError> {
    let full_path = run.pipeline_path.as_str();
    let job = job_path(full_path)?;
    let queue: Queue = session
        .get(
            "queue/api/json?tree=items%5Bid,inQueueSince,task%5BfullName%5D,actions%5Bparameters%5Bname,value%5D,causes%5BuserId%5D%5D%5D",
            About::Controller,
        )
        .await?
        .json()?;
    let builds: Builds = session
        .get(
            &format!(
                "{job}api/json?tree=builds%5Bnumber,queueId,timestamp,actions%5Bparameters%5Bname,value%5D,causes%5BuserId%5D%5D%5D%7B0,{BUILD_SEARCH}%7D"
            ),
            About::Job(full_path),
        )
        .await?
        .json()?;
    let user = match session.client.credentials() {
        Some(Credentials::Basic { username, .. }) => Some(username.as_str()),
        _ => None,
    };
    let not_before = (run.recorded_at - CLOCK_SKEW).timestamp_millis();
    let fits = |shown: &Shown<'_>| {
        shown.at.is_some_and(|at| at >= not_before)
            && user.is_none_or(|user| started_by(shown.actions, user))
            && same_parameters(shown.actions, &run.parameters)
    };

    let mut found: Vec<RunHandle> = Vec::new();
    for item in &queue.items {
        let Some(id) = item.id else { continue };
        let of_job = item
            .task
            .as_ref()
            .and_then(|task| task.full_name.as_deref())
            == Some(full_path);
        let shown = Shown {
            at: item.in_queue_since,
            actions: &item.actions,
        };
        if of_job && fits(&shown) {
            found.push(RunHandle {
                pipeline_path: full_path.to_owned(),
                queue_ref: Some(id.to_string()),
                build_ref: None,
            });
        }
    }
    for build in &builds.builds {
        let Some(number) = build.number else { continue };
        let shown = Shown {
            at: build.timestamp,
            actions: &build.actions,
        };
        let queue_ref = build.queue_id.map(|id| id.to_string());
        let listed = queue_ref.is_some() && found.iter().any(|h| h.queue_ref == queue_ref);
        if !listed && fits(&shown) {
            found.push(RunHandle {
                pipeline_path: full_path.to_owned(),
                queue_ref,
                build_ref: Some(number.to_string()),
            });
        }
    }
    Ok(found)
}

/// Whether a `UserIdCause` names `user` (Jenkins user ids are not case-sensitive by default).
fn started_by(actions: &[Option<Action>], user: &str) -> bool {
    actions
        .iter()
        .flatten()
        .flat_map(|action| action.causes.iter().flatten().flatten())
        .any(|cause| {
            cause
                .user_id
                .as_deref()
                .is_some_and(|id| id.eq_ignore_ascii_case(user))
        })
}

/// Whether every given value is what the build shows (Jenkins adds the defaults of those left
/// out, which say nothing).
fn same_parameters(actions: &[Option<Action>], given: &BTreeMap<String, String>) -> bool {
    let shown: BTreeMap<&str, String> = actions
        .iter()
        .flatten()
        .flat_map(|action| action.parameters.iter().flatten().flatten())
        .filter_map(|p| Some((p.name.as_deref()?, form_text(p.value.as_ref()?))))
        .collect();
    given
        .iter()
        .all(|(name, value)| shown.get(name.as_str()) == Some(value))
}

/// A parameter value as the form that set it wrote it.
fn form_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn actions(value: Value) -> Vec<Option<Action>> {
        serde_json::from_value(value).expect("actions")
    }

    #[test]
    fn a_build_is_the_users_when_a_user_id_cause_names_them() {
        let shown = actions(json!([
            {"_class": "hudson.model.CauseAction", "causes": [{"userId": "Deployer"}]},
            {},
            null
        ]));
        assert!(started_by(&shown, "deployer"));
        assert!(!started_by(&shown, "someone-else"));
        assert!(!started_by(&actions(json!([{"causes": [{}]}])), "deployer"));
    }

    #[test]
    fn given_values_must_match_and_defaults_do_not_matter() {
        let shown = actions(json!([{"parameters": [
            {"name": "ENV", "value": "staging"},
            {"name": "DRY_RUN", "value": true},
            {"name": "RETRIES", "value": 3},
            {"name": "SECRET"}
        ]}]));
        let given = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(same_parameters(&shown, &given(&[])));
        assert!(same_parameters(
            &shown,
            &given(&[("ENV", "staging"), ("DRY_RUN", "true"), ("RETRIES", "3")])
        ));
        assert!(!same_parameters(&shown, &given(&[("ENV", "production")])));
        assert!(!same_parameters(&shown, &given(&[("MISSING", "x")])));
    }
}
