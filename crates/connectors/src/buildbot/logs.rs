//! A build's log: the logs of its steps, one after the other.
//!
//! Buildbot keeps a log per step (and sometimes several: `stdio`, plus files a step
//! watches), each a sequence of lines; stdio lines carry a one-character stream prefix
//! (`o` stdout, `e` stderr, `h` header) that is removed here. The build's log is every
//! `stdio` (type `s`) and plain text (type `t`) log in step order, then log id order; HTML
//! logs are left out.
//!
//! **Offsets are in lines**: the offset is the number of log lines already returned,
//! counted across the logs in that order. Reading never goes past a log that is still
//! being written, so a log's lines always sit at the same offsets: later logs only follow
//! a finished one. Each log that starts in a piece is preceded by a heading line
//! (`--- step name ---`) that does not count in the offset.
//!
//! Finished steps' log lists never change, so they are cached (per connector, bounded):
//! reading a long build's log again costs the build, its steps, the logs of unfinished
//! steps, and the contents read.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;

use super::discover::{BuildNode, RETRY};
use super::runs::{build, request_builds};
use super::{About, Session};
use crate::connector::{LogPiece, RunHandle};
use crate::{Category, ConnectorError};

/// At most this many lines per [`log`](crate::Connector::log) call.
pub const LOG_LINES_PER_READ: u64 = 2000;

/// At most this many `contents` requests per call (a build with many short logs).
const MAX_CONTENT_READS: usize = 16;

/// How many finished steps' log lists the cache keeps; it starts over when full.
const MAX_CACHED_STEPS: usize = 4096;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct LogInfo {
    logid: Option<i64>,
    name: Option<String>,
    num_lines: u64,
    complete: bool,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl LogInfo {
    /// Whether the log is part of the build's log, and whether its lines carry a prefix.
    fn shown(&self) -> Option<bool> {
        match self.kind.as_deref() {
            Some("s") => Some(true),
            Some("t") => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Logs {
    logs: Option<Vec<LogInfo>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Steps {
    steps: Option<Vec<StepNode>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StepNode {
    stepid: Option<i64>,
    number: Option<i64>,
    name: Option<String>,
    complete: bool,
    started_at: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Chunks {
    logchunks: Option<Vec<Chunk>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Chunk {
    firstline: Option<u64>,
    content: Option<String>,
}

/// Finished steps' logs by (base URL, step id).
#[derive(Default)]
pub(super) struct StepLogCache {
    steps: Mutex<HashMap<(String, i64), Vec<LogInfo>>>,
}

impl StepLogCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i64), Vec<LogInfo>>> {
        self.steps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &(String, i64)) -> Option<Vec<LogInfo>> {
        self.lock().get(key).cloned()
    }

    fn put(&self, key: (String, i64), logs: Vec<LogInfo>) {
        let mut steps = self.lock();
        if steps.len() >= MAX_CACHED_STEPS {
            steps.clear();
        }
        steps.insert(key, logs);
    }
}

fn empty(offset: u64, more: bool) -> LogPiece {
    LogPiece {
        text: String::new(),
        next_offset: offset,
        more,
    }
}

/// The build whose log a handle means: its build, else its request's newest build.
async fn build_of(
    session: &Session<'_>,
    handle: &RunHandle,
) -> Result<Result<BuildNode, bool>, ConnectorError> {
    let name = handle.pipeline_path.as_str();
    if let Some(buildid) = &handle.build_ref {
        let buildid: i64 = buildid.trim().parse().map_err(|_| {
            ConnectorError::generic(
                Category::Protocol,
                format!("{buildid:?} is not a Buildbot build id (run of {name})"),
            )
        })?;
        return Ok(Ok(build(session, name, buildid).await?));
    }
    let Some(brid) = &handle.queue_ref else {
        return Ok(Err(false));
    };
    let brid: i64 = brid.trim().parse().map_err(|_| {
        ConnectorError::generic(
            Category::Protocol,
            format!("{brid:?} is not a Buildbot build request id (run of {name})"),
        )
    })?;
    if let Some(build) = request_builds(session, name, brid).await?.pop() {
        return Ok(Ok(build));
    }
    // No build yet: more to come unless the request is finished (cancelled, skipped).
    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct Requests {
        buildrequests: Option<Vec<Request>>,
    }
    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct Request {
        complete: bool,
    }
    let id = brid.to_string();
    let requests: Requests = session
        .get_json(
            &format!("api/v2/buildrequests/{brid}"),
            About::BuildRequest(name, &id),
        )
        .await?;
    let complete = requests
        .buildrequests
        .and_then(|mut r| r.pop())
        .is_some_and(|r| r.complete);
    Ok(Err(!complete))
}

pub(super) async fn log(
    session: &Session<'_>,
    cache: &StepLogCache,
    handle: &RunHandle,
    offset: u64,
) -> Result<LogPiece, ConnectorError> {
    let name = handle.pipeline_path.as_str();
    let build = match build_of(session, handle).await? {
        Ok(build) => build,
        Err(more) => return Ok(empty(offset, more)),
    };
    let Some(buildid) = build.buildid else {
        return Err(ConnectorError::generic(
            Category::Protocol,
            format!("Buildbot lists a build of {name} without an id"),
        ));
    };
    let build_ref = buildid.to_string();
    // Read before the logs: once the build is finished, its logs are final.
    let finished = build.complete && build.results != Some(RETRY);

    let steps: Steps = session
        .get_json(
            &format!("api/v2/builds/{buildid}/steps"),
            About::Build(name, &build_ref),
        )
        .await?;
    let mut steps = steps.steps.unwrap_or_default();
    steps.sort_by_key(|step| step.number);

    let base = session.base().as_url().as_str().to_owned();
    let mut text = String::new();
    let mut position = offset;
    let mut budget = LOG_LINES_PER_READ;
    let mut reads = 0usize;
    // Lines of the logs before the current one.
    let mut before = 0u64;
    let mut reached_end = true;

    'steps: for step in &steps {
        let Some(stepid) = step.stepid else { continue };
        // A step that has not started has no logs yet; the logs it gets come after
        // everything read so far.
        if step.started_at.is_none() && !step.complete {
            continue;
        }
        let key = (base.clone(), stepid);
        let logs = match cache.get(&key) {
            Some(logs) => logs,
            None => {
                let logs: Logs = session
                    .get_json(
                        &format!("api/v2/steps/{stepid}/logs"),
                        About::Build(name, &build_ref),
                    )
                    .await?;
                let mut logs = logs.logs.unwrap_or_default();
                logs.sort_by_key(|log| log.logid);
                if step.complete && logs.iter().all(|log| log.complete) {
                    cache.put(key, logs.clone());
                }
                logs
            }
        };
        for log in &logs {
            let (Some(prefixed), Some(logid)) = (log.shown(), log.logid) else {
                continue;
            };
            // A finished build's logs are final even if one was never marked complete.
            let complete = log.complete || finished;
            let lines = log.num_lines;
            if complete && position >= before + lines {
                before += lines;
                continue;
            }
            if budget == 0 || reads == MAX_CONTENT_READS {
                reached_end = false;
                break 'steps;
            }
            let from = position.saturating_sub(before);
            let limit = if complete {
                budget.min(lines.saturating_sub(from))
            } else {
                budget
            };
            if limit > 0 {
                reads += 1;
                let got = contents(session, name, &build_ref, logid, from, limit, prefixed).await?;
                let count = got.len() as u64;
                if count > 0 && from == 0 {
                    text.push_str(&heading(step, log));
                }
                for line in &got {
                    text.push_str(line);
                    text.push('\n');
                }
                if count == 0 && complete && from < lines {
                    // Buildbot counts lines it no longer has (e.g. cleaned up): say so and
                    // go on, rather than asking for them forever.
                    text.push_str(&format!(
                        "[{} lines of this log are no longer available in Buildbot]\n",
                        lines - from
                    ));
                    position = before + lines;
                } else {
                    position += count;
                    budget = budget.saturating_sub(count);
                }
            }
            if !complete {
                // Later logs follow once this one is finished.
                reached_end = false;
                break 'steps;
            }
            if position < before + lines {
                reached_end = false;
                break 'steps;
            }
            before += lines;
        }
    }

    Ok(LogPiece {
        text,
        next_offset: position,
        more: !finished || !reached_end,
    })
}

fn heading(step: &StepNode, log: &LogInfo) -> String {
    let step_name = step.name.as_deref().unwrap_or("step");
    match log.name.as_deref() {
        Some("stdio") | None => format!("--- {step_name} ---\n"),
        Some(log_name) => format!("--- {step_name}: {log_name} ---\n"),
    }
}

/// Lines `from..from+limit` of a log, without stream prefixes when `prefixed`.
async fn contents(
    session: &Session<'_>,
    name: &str,
    build_ref: &str,
    logid: i64,
    from: u64,
    limit: u64,
    prefixed: bool,
) -> Result<Vec<String>, ConnectorError> {
    // Always with a limit: past the end without one Buildbot answers 404.
    let chunks: Chunks = session
        .get_json(
            &format!("api/v2/logs/{logid}/contents?offset={from}&limit={limit}"),
            About::Build(name, build_ref),
        )
        .await?;
    let mut chunks = chunks.logchunks.unwrap_or_default();
    chunks.sort_by_key(|chunk| chunk.firstline);
    let mut lines = Vec::new();
    for chunk in chunks {
        for line in chunk
            .content
            .as_deref()
            .unwrap_or("")
            .split_terminator('\n')
        {
            if lines.len() as u64 == limit {
                break;
            }
            lines.push(strip(line, prefixed).to_owned());
        }
    }
    Ok(lines)
}

/// A line without its stream prefix (`o`, `e`, `h`).
fn strip(line: &str, prefixed: bool) -> &str {
    if !prefixed {
        return line;
    }
    let mut chars = line.chars();
    match chars.next() {
        Some('o' | 'e' | 'h') => chars.as_str(),
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped_from_stdio_lines_only() {
        assert_eq!(strip("ohello", true), "hello");
        assert_eq!(strip("eoops", true), "oops");
        assert_eq!(strip("hprogram finished", true), "program finished");
        assert_eq!(strip("", true), "");
        assert_eq!(strip("ohello", false), "ohello");
        assert_eq!(strip("o✓ done", true), "✓ done");
    }
}
