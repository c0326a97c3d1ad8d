//! Finding the build request of a run whose trigger Switchboard never confirmed.
//!
//! The trigger writes the run's id into the force's reason, which Buildbot keeps in the
//! buildset (`A build was forced by '<owner>': <reason>`). The builder's newest build
//! requests submitted since the run was recorded are read, then each one's buildset; the
//! requests whose reason names the run are its.

use serde::Deserialize;

use super::About;
use super::runs::{builder_id, reason};
use super::session::Session;
use crate::ConnectorError;
use crate::connector::{CLOCK_SKEW, RunHandle, Unconfirmed};

/// How many of the builder's newest build requests are looked at (see the Jenkins
/// connector's search: a run is recovered within minutes of its trigger).
const REQUEST_SEARCH: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Requests {
    buildrequests: Vec<Request>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Request {
    buildrequestid: Option<i64>,
    buildsetid: Option<i64>,
    /// Epoch seconds.
    submitted_at: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Buildsets {
    buildsets: Vec<Buildset>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Buildset {
    reason: Option<String>,
}

pub(super) async fn find_started(
    session: &Session<'_>,
    run: &Unconfirmed,
) -> Result<Vec<RunHandle>, ConnectorError> {
    let name = run.pipeline_path.as_str();
    let builderid = builder_id(session, name).await?;
    let requests: Requests = session
        .get_json(
            &format!(
                "api/v2/builders/{builderid}/buildrequests?order=-buildrequestid&limit={REQUEST_SEARCH}"
            ),
            About::Builder(name),
        )
        .await?;
    let not_before = (run.recorded_at - CLOCK_SKEW).timestamp();
    let wanted = reason(&run.run_id);
    let mut found = Vec::new();
    for request in &requests.buildrequests {
        let (Some(brid), Some(bsid)) = (request.buildrequestid, request.buildsetid) else {
            continue;
        };
        if request.submitted_at.is_none_or(|at| at < not_before) {
            continue;
        }
        let buildsets: Buildsets = session
            .get_json(&format!("api/v2/buildsets/{bsid}"), About::Builder(name))
            .await?;
        let names_the_run = buildsets
            .buildsets
            .iter()
            .filter_map(|set| set.reason.as_deref())
            .any(|text| text.contains(&wanted));
        if names_the_run {
            found.push(RunHandle {
                pipeline_path: name.to_owned(),
                queue_ref: Some(brid.to_string()),
                build_ref: None,
            });
        }
    }
    Ok(found)
}
