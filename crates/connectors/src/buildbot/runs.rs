//! Runs: force a build, follow its build request to its build and result, stop or cancel.
//!
//! A [`RunHandle`] holds the build request id (`queue_ref`) from the force call and, once
//! the request has a build, the build id (`build_ref`; users know the build by its
//! number, which [`RunState::build_number`] carries). A request whose build ends RETRY
//! (e.g. its worker was lost) goes back to the queue and gets a new build: a poll always
//! follows the request's newest build.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_domain::pipeline::{ParameterType, ParameterValue, RunStatus};

use super::discover::{
    BuildNode, Builders, ForceScheduler, ForceSchedulers, RETRY, build_url, parameters,
    reason_field, status_of_results,
};
use super::{About, Session};
use crate::connector::{PipelineRef, RunHandle, RunState};
use crate::{Category, ConnectorError};

/// The reason Buildbot shows for builds Switchboard forces; the run's id follows it, so that
/// `recover` can tell the run's build request from others.
const REASON: &str = "Triggered from Switchboard";

/// The reason given for forcing the run `run_id` (Buildbot keeps it in the buildset).
pub(super) fn reason(run_id: &str) -> String {
    format!("{REASON} (run {run_id})")
}

pub(super) async fn trigger(
    session: &Session<'_>,
    pipeline: &PipelineRef,
    values: &BTreeMap<String, ParameterValue>,
    run_id: &str,
) -> Result<RunHandle, ConnectorError> {
    let name = pipeline.full_path.as_str();
    let builderid = builder_id(session, name).await?;
    let schedulers: ForceSchedulers = session
        .get_json(
            &format!("api/v2/builders/{builderid}/forceschedulers"),
            About::Builder(name),
        )
        .await?;
    let schedulers: Vec<ForceScheduler> = schedulers
        .forceschedulers
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.enabled() && s.name.as_deref().is_some_and(|n| !n.is_empty()))
        .collect();
    // The first scheduler that has every parameter given (discovery merged them all).
    let scheduler = schedulers
        .iter()
        .find(|s| {
            let definitions = parameters(s);
            values
                .keys()
                .all(|key| definitions.iter().any(|d| &d.name == key))
        })
        .or(schedulers.first())
        .ok_or_else(|| {
            ConnectorError::new(
                Category::Protocol,
                format!("no force scheduler of Buildbot lists builder {name}, so it cannot be started"),
                format!(
                    "Add a ForceScheduler for {name} to the master's configuration (or enable it), then sync the integration's pipelines"
                ),
            )
        })?;
    let scheduler_name = scheduler.name.clone().unwrap_or_default();

    let definitions = parameters(scheduler);
    let mut params = Map::new();
    for (key, value) in values {
        let Some(definition) = definitions.iter().find(|d| &d.name == key) else {
            return Err(ConnectorError::new(
                Category::Protocol,
                format!(
                    "the force scheduler {scheduler_name} of builder {name} has no parameter {key}"
                ),
                "The builder's parameters have changed since the last sync: sync the integration's pipelines and try again",
            ));
        };
        params.insert(key.clone(), json_value(definition.kind, value));
    }
    if let Some(field) = reason_field(scheduler) {
        params.insert(field, Value::String(reason(run_id)));
    }
    params.insert("builderid".to_owned(), Value::String(builderid.to_string()));

    let result = session
        .rpc(
            &format!("api/v2/forceschedulers/{}", segment(&scheduler_name)?),
            "force",
            Value::Object(params),
            About::Builder(name),
        )
        .await?;
    let brid = request_id(&result, builderid).ok_or_else(|| {
        ConnectorError::new(
            Category::Protocol,
            format!(
                "Buildbot accepted the build of {name} but did not say which build request it made (result {})",
                super::shorten(&result.to_string())
            ),
            "Buildbot 4 answers a force with [buildset id, {builder id: build request id}]; check the master's version (Switchboard supports 4.x)",
        )
    })?;
    Ok(RunHandle {
        pipeline_path: name.to_owned(),
        queue_ref: Some(brid.to_string()),
        build_ref: None,
    })
}

/// A value as the force scheduler parses it: booleans must be JSON booleans (Buildbot
/// compares with `True`), integers go as numbers, everything else as text.
fn json_value(kind: ParameterType, value: &ParameterValue) -> Value {
    match (kind, value) {
        (ParameterType::Boolean, ParameterValue::Boolean(flag)) => Value::Bool(*flag),
        (ParameterType::Boolean, ParameterValue::Text(text)) => {
            Value::Bool(text.trim().eq_ignore_ascii_case("true"))
        }
        (ParameterType::Integer, ParameterValue::Integer(number)) => Value::from(*number),
        (ParameterType::Integer, ParameterValue::Text(text)) => text
            .trim()
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.clone()), Value::from),
        (_, value) => Value::String(value.to_form_text()),
    }
}

/// The build request id for `builderid` in a force result `[bsid, {"<builderid>": brid}]`.
fn request_id(result: &Value, builderid: i64) -> Option<i64> {
    let requests = result.as_array()?.get(1)?.as_object()?;
    requests
        .get(&builderid.to_string())
        .or_else(|| {
            (requests.len() == 1)
                .then(|| requests.values().next())
                .flatten()
        })?
        .as_i64()
}

/// A path segment: builder and scheduler names may hold any character. `.` and `..` are
/// refused: a URL parser takes them as a dot segment even percent-encoded (`%2E%2E`), which
/// would send the request to another resource under the base URL.
fn segment(name: &str) -> Result<String, ConnectorError> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(ConnectorError::new(
            Category::NotFound,
            format!("{name:?} cannot name a Buildbot scheduler in a URL"),
            "Rename the scheduler in the master's configuration, then sync the integration's pipelines",
        ));
    }
    Ok(percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string())
}

/// The id of the configured builder `name`.
pub(super) async fn builder_id(session: &Session<'_>, name: &str) -> Result<i64, ConnectorError> {
    let mut request = session.request(crate::Method::GET, "api/v2/builders")?;
    request
        .url_mut()
        .query_pairs_mut()
        .append_pair("name", name);
    let answer = session.send(request).await?;
    if !answer.status().is_success() {
        return Err(super::refusal(&answer, &session.user, About::Builder(name)));
    }
    let builders: Builders = super::parse(&answer)?;
    let builder = builders
        .builders
        .unwrap_or_default()
        .into_iter()
        .find(|b| b.name.as_deref() == Some(name));
    match builder {
        Some(builder) if builder.configured() => builder.builderid.ok_or_else(|| {
            ConnectorError::generic(
                Category::Protocol,
                format!("Buildbot lists builder {name} without an id"),
            )
        }),
        _ => Err(ConnectorError::new(
            Category::NotFound,
            format!("Buildbot has no configured builder {name}"),
            format!(
                "The builder {name} was removed from the master's configuration (or renamed): sync the integration's pipelines"
            ),
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BuildRequests {
    buildrequests: Option<Vec<BuildRequestNode>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BuildRequestNode {
    claimed: bool,
    complete: bool,
    results: Option<i64>,
}

fn state(handle: RunHandle, status: RunStatus, detail: Option<String>) -> RunState {
    RunState {
        status,
        handle,
        build_number: None,
        build_url: None,
        started_at: None,
        finished_at: None,
        duration_ms: None,
        detail,
    }
}

fn id_of(handle: &RunHandle, raw: &str, what: &str) -> Result<i64, ConnectorError> {
    raw.trim().parse().map_err(|_| {
        ConnectorError::generic(
            Category::Protocol,
            format!(
                "{raw:?} is not a Buildbot {what} id (run of {})",
                handle.pipeline_path
            ),
        )
    })
}

/// The builds of build request `brid`, newest (highest id) last.
pub(super) async fn request_builds(
    session: &Session<'_>,
    name: &str,
    brid: i64,
) -> Result<Vec<BuildNode>, ConnectorError> {
    let id = brid.to_string();
    let builds: super::discover::Builds = session
        .get_json(
            &format!("api/v2/buildrequests/{brid}/builds"),
            About::BuildRequest(name, &id),
        )
        .await?;
    let mut builds = builds.builds.unwrap_or_default();
    builds.sort_by_key(|b| b.buildid);
    Ok(builds)
}

/// The build `buildid`.
pub(super) async fn build(
    session: &Session<'_>,
    name: &str,
    buildid: i64,
) -> Result<BuildNode, ConnectorError> {
    let id = buildid.to_string();
    let builds: super::discover::Builds = session
        .get_json(&format!("api/v2/builds/{buildid}"), About::Build(name, &id))
        .await?;
    builds
        .builds
        .and_then(|mut builds| builds.pop())
        .ok_or_else(|| {
            ConnectorError::generic(
                Category::Protocol,
                format!("Buildbot's answer for build {buildid} of {name} has no build"),
            )
        })
}

pub(super) async fn poll(
    session: &Session<'_>,
    handle: &RunHandle,
) -> Result<RunState, ConnectorError> {
    let mut handle = handle.clone();
    let name = handle.pipeline_path.clone();
    let brid = match (&handle.queue_ref, &handle.build_ref) {
        (Some(brid), _) => id_of(&handle, brid, "build request")?,
        (None, Some(buildid)) => {
            let buildid = id_of(&handle, buildid, "build")?;
            let build = build(session, &name, buildid).await?;
            return Ok(build_state(session, handle, &build));
        }
        (None, None) => {
            return Ok(state(
                handle,
                RunStatus::Error,
                Some("The run has neither a Buildbot build request nor a build".to_owned()),
            ));
        }
    };

    let lost = |handle| {
        state(
            handle,
            RunStatus::Error,
            Some(format!(
                "Buildbot no longer knows build request {brid} (a new database, or its history was cleaned)"
            )),
        )
    };
    let builds = match request_builds(session, &name, brid).await {
        Ok(builds) => builds,
        Err(error) if error.category == Category::NotFound => return Ok(lost(handle)),
        Err(error) => return Err(error),
    };
    let newest = builds.last();
    if let Some(build) = newest {
        if let Some(buildid) = build.buildid {
            handle.build_ref = Some(buildid.to_string());
        }
        // A finished build is the run's end unless it ended RETRY: then the request is
        // queued again (or was cancelled meanwhile), which only the request tells.
        if !build.complete || build.results != Some(RETRY) {
            return Ok(build_state(session, handle, build));
        }
    }

    let id = brid.to_string();
    let requests: BuildRequests = match session
        .get_json(
            &format!("api/v2/buildrequests/{brid}"),
            About::BuildRequest(&name, &id),
        )
        .await
    {
        Ok(requests) => requests,
        Err(error) if error.category == Category::NotFound => return Ok(lost(handle)),
        Err(error) => return Err(error),
    };
    let Some(request) = requests.buildrequests.and_then(|mut r| r.pop()) else {
        return Err(ConnectorError::generic(
            Category::Protocol,
            format!("Buildbot's answer for build request {brid} of {name} has no build request"),
        ));
    };
    let retried = newest.and_then(|b| b.number).map(|number| {
        format!("Buildbot will retry the build: #{number} ended RETRY (e.g. its worker was lost)")
    });
    if request.complete {
        let results = request.results.unwrap_or(-1);
        let (status, detail) = match results {
            6 => (
                RunStatus::Cancelled,
                "Cancelled in Buildbot before a build started".to_owned(),
            ),
            3 => (
                RunStatus::Skipped,
                "Buildbot skipped the request (e.g. merged into a newer one)".to_owned(),
            ),
            other => (
                status_of_results(other).unwrap_or(RunStatus::Error),
                format!("Buildbot completed the request without a build (results {other})"),
            ),
        };
        return Ok(state(handle, status, Some(detail)));
    }
    let detail = retried.or(Some(if request.claimed {
        "Starting on a worker".to_owned()
    } else {
        "Waiting for a worker".to_owned()
    }));
    Ok(state(handle, RunStatus::Queued, detail))
}

fn build_state(session: &Session<'_>, handle: RunHandle, build: &BuildNode) -> RunState {
    let (status, detail) = if build.complete {
        match build.results {
            Some(RETRY) => (
                RunStatus::Queued,
                Some("Buildbot will retry the build (it ended RETRY)".to_owned()),
            ),
            Some(results) => match status_of_results(results) {
                Some(status) => (status, build.state_string.clone()),
                None => (
                    RunStatus::Error,
                    Some(format!(
                        "Buildbot reports the build finished with results {results}"
                    )),
                ),
            },
            None => (
                RunStatus::Error,
                Some("Buildbot reports the build finished without results".to_owned()),
            ),
        }
    } else {
        (RunStatus::Running, build.state_string.clone())
    };
    let started_at = build
        .started_at
        .and_then(|s| DateTime::from_timestamp(s, 0));
    let finished_at = if build.complete {
        build
            .complete_at
            .and_then(|s| DateTime::from_timestamp(s, 0))
    } else {
        None
    };
    let duration_ms = match (build.started_at, build.complete_at, build.complete) {
        (Some(start), Some(end), true) => end
            .checked_sub(start)
            .and_then(|seconds| u64::try_from(seconds).ok())
            .map(|seconds| seconds.saturating_mul(1000)),
        _ => None,
    };
    let build_url = match (build.builderid, build.number) {
        (Some(builderid), Some(number)) => Some(build_url(session, builderid, number)),
        _ => None,
    };
    RunState {
        status,
        handle,
        build_number: build.number,
        build_url,
        started_at,
        finished_at,
        duration_ms,
        detail: detail.filter(|d| !d.is_empty()),
    }
}

pub(super) async fn cancel(
    session: &Session<'_>,
    handle: &RunHandle,
) -> Result<(), ConnectorError> {
    let name = handle.pipeline_path.as_str();
    let reason = json!({"reason": "Cancelled from Switchboard"});
    let Some(brid) = &handle.queue_ref else {
        let Some(buildid) = &handle.build_ref else {
            return Err(ConnectorError::generic(
                Category::NotFound,
                format!("the run of {name} has no Buildbot build request or build to cancel"),
            ));
        };
        let buildid = id_of(handle, buildid, "build")?;
        return stop(session, name, buildid).await;
    };
    let brid = id_of(handle, brid, "build request")?;
    // The request may have become a build since the last poll: stop that build.
    let builds = request_builds(session, name, brid).await?;
    if let Some(buildid) = builds
        .iter()
        .rev()
        .find(|b| !b.complete)
        .and_then(|b| b.buildid)
    {
        return stop(session, name, buildid).await;
    }
    // Still queued (or finished: then cancelling changes nothing). Should a worker claim
    // it meanwhile, Buildbot stops the build the request became.
    let id = brid.to_string();
    session
        .rpc(
            &format!("api/v2/buildrequests/{brid}"),
            "cancel",
            reason,
            About::BuildRequest(name, &id),
        )
        .await
        .map(|_| ())
}

async fn stop(session: &Session<'_>, name: &str, buildid: i64) -> Result<(), ConnectorError> {
    let id = buildid.to_string();
    session
        .rpc(
            &format!("api/v2/builds/{buildid}"),
            "stop",
            json!({"reason": "Stopped from Switchboard"}),
            About::Build(name, &id),
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_names_never_become_dot_segments() {
        let base = url::Url::parse("http://buildbot.example/bb/").expect("base");
        let path = |name: &str| {
            segment(name).map(|segment| {
                base.join(&format!("api/v2/forceschedulers/{segment}"))
                    .expect("joins")
                    .path()
                    .to_owned()
            })
        };
        // Percent-encoded or not, the URL standard resolves these as dot segments.
        assert_eq!(
            base.join("api/v2/forceschedulers/%2E%2E")
                .expect("joins")
                .path(),
            "/bb/api/v2/"
        );
        for dots in ["..", ".", ""] {
            assert!(path(dots).is_err(), "{dots:?}");
        }
        for (name, expected) in [
            ("...", "/bb/api/v2/forceschedulers/%2E%2E%2E"),
            ("%2e%2e", "/bb/api/v2/forceschedulers/%252e%252e"),
            ("../x", "/bb/api/v2/forceschedulers/%2E%2E%2Fx"),
            ("force deploy", "/bb/api/v2/forceschedulers/force%20deploy"),
        ] {
            assert_eq!(path(name).expect(name), expected);
        }
    }

    #[test]
    fn values_take_the_json_types_buildbot_parses() {
        assert_eq!(
            json_value(ParameterType::Boolean, &ParameterValue::Boolean(true)),
            json!(true)
        );
        assert_eq!(
            json_value(ParameterType::Boolean, &ParameterValue::Text("TRUE".into())),
            json!(true)
        );
        assert_eq!(
            json_value(ParameterType::Integer, &ParameterValue::Integer(5)),
            json!(5)
        );
        assert_eq!(
            json_value(ParameterType::Integer, &ParameterValue::Text(" 7".into())),
            json!(7)
        );
        assert_eq!(
            json_value(ParameterType::Integer, &ParameterValue::Text("x".into())),
            json!("x")
        );
        assert_eq!(
            json_value(ParameterType::Choice, &ParameterValue::Text("prod".into())),
            json!("prod")
        );
        assert_eq!(
            json_value(ParameterType::String, &ParameterValue::Integer(3)),
            json!("3")
        );
    }

    #[test]
    fn request_ids_come_from_the_force_result() {
        assert_eq!(request_id(&json!([1, {"3": 7}]), 3), Some(7));
        assert_eq!(request_id(&json!([1, {"9": 7}]), 3), Some(7));
        assert_eq!(request_id(&json!([1, {"9": 7, "8": 6}]), 3), None);
        assert_eq!(request_id(&json!(null), 3), None);
    }
}
