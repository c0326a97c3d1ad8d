//! Runs: trigger a job, follow its queue item to its build, read the log, cancel.
//!
//! A [`RunHandle`] holds the queue item id from the trigger's `Location` and, once the item
//! has left the queue, the build number. Jenkins forgets left queue items after a few
//! minutes (and on restart), so a handle without a build number that meets a 404 looks for
//! the build by its `queueId` among the job's recent builds.

use std::collections::BTreeMap;

use chrono::DateTime;
use secrecy::ExposeSecret;
use serde::Deserialize;
use switchboard_domain::pipeline::{ParameterType, ParameterValue, RunStatus};

use super::discover::{BuildNode, status_of_result};
use super::{About, Session, job_path, refusal};
use crate::connector::{LogPiece, PipelineRef, RunHandle, RunState};
use crate::log_filter::{LogMask, render_bytes};
use crate::{Category, ConnectorError, Credentials, Method, display_url, header};

/// How many of a job's newest builds are searched for a forgotten queue item's build.
/// Jenkins forgets left items about five minutes after they leave; fifty builds in five
/// minutes is already a very busy job.
const QUEUE_ID_SEARCH: usize = 50;

/// Jenkins has no place for Switchboard's run id in a build triggered with user credentials
/// (see `recover`), so `_run_id` goes nowhere.
pub(super) async fn trigger(
    session: &Session,
    pipeline: &PipelineRef,
    parameters: &BTreeMap<String, ParameterValue>,
    _run_id: &str,
) -> Result<RunHandle, ConnectorError> {
    let full_path = pipeline.full_path.as_str();
    let job = job_path(full_path)?;
    // Jenkins answers 400 to /build on a parameterized job and to /buildWithParameters on
    // one without parameters, so the definitions decide, not the values given.
    let request = if pipeline.parameters.is_empty() {
        session
            .client
            .request(Method::POST, &format!("{job}build"))?
    } else {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in parameters {
            form.append_pair(name, &value.to_form_text());
        }
        session
            .client
            .request(Method::POST, &format!("{job}buildWithParameters"))?
            .header(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(form.finish())
    };
    let passwords: Vec<String> = pipeline
        .parameters
        .iter()
        .filter(|d| d.kind == ParameterType::Password)
        .filter_map(|d| parameters.get(&d.name))
        .map(ParameterValue::to_form_text)
        .collect();
    let mut secrets: Vec<&str> = passwords.iter().map(String::as_str).collect();
    let token = token_of(session);
    secrets.extend(token.as_deref());

    let answer = session
        .post(request, About::Job(full_path))
        .await
        .map_err(|e| e.without(&secrets))?;
    let queue_id = answer
        .header("location")
        .and_then(queue_id_in)
        .ok_or_else(|| {
            ConnectorError::new(
                Category::Protocol,
                format!(
                    "Jenkins accepted the build of {full_path} ({} at {}) but did not say where it is queued",
                    answer.status().as_u16(),
                    display_url(answer.url())
                ),
                "Jenkins answers a build request with Location: …/queue/item/N/; a proxy that rewrites or drops the Location header prevents following the run",
            )
        })?;
    Ok(RunHandle {
        pipeline_path: full_path.to_owned(),
        queue_ref: Some(queue_id.to_string()),
        build_ref: None,
    })
}

fn token_of(session: &Session) -> Option<String> {
    match session.client.credentials() {
        Some(Credentials::Basic { secret, .. }) => Some(secret.expose_secret().to_owned()),
        _ => None,
    }
}

/// `N` from `…/queue/item/N/`.
fn queue_id_in(location: &str) -> Option<u64> {
    let (_, after) = location.rsplit_once("/queue/item/")?;
    after.trim_end_matches('/').parse().ok()
}

/// Where a queued run stands, as far as the queue (or the job's builds) can tell.
enum Located {
    /// Still in the queue; Jenkins' `why`.
    Queued(Option<String>),
    /// Taken out of the queue before it started.
    Cancelled,
    /// Left the queue as this build.
    Build(u64),
    /// Jenkins forgot the item and no recent build came from it.
    Lost,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueueItemNode {
    #[serde(rename = "_class")]
    class: Option<String>,
    why: Option<String>,
    cancelled: Option<bool>,
    executable: Option<Executable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Executable {
    number: Option<u64>,
}

async fn locate(
    session: &Session,
    full_path: &str,
    queue_id: &str,
) -> Result<Located, ConnectorError> {
    let id: u64 = queue_id.parse().map_err(|_| {
        ConnectorError::generic(
            Category::Protocol,
            format!("{queue_id:?} is not a Jenkins queue item id"),
        )
    })?;
    let answer = session
        .send(session.client.request(
            Method::GET,
            &format!("queue/item/{id}/api/json?tree=id,why,cancelled,executable%5Bnumber%5D"),
        )?)
        .await?;
    if answer.status().as_u16() == 404 {
        return find_by_queue_id(session, full_path, id).await;
    }
    if !answer.status().is_success() {
        return Err(refusal(
            &answer,
            &session.user,
            About::QueueItem(full_path, queue_id),
        ));
    }
    let item: QueueItemNode = answer.json()?;
    if let Some(number) = item.executable.and_then(|e| e.number) {
        return Ok(Located::Build(number));
    }
    if item.cancelled == Some(true) {
        return Ok(Located::Cancelled);
    }
    let left = item
        .class
        .as_deref()
        .is_some_and(|c| c.ends_with("$LeftItem"));
    // A LeftItem gets its executable a moment after it leaves; until then it is still
    // on its way to an executor.
    Ok(Located::Queued(if left {
        Some("Leaving the queue for an executor".to_owned())
    } else {
        item.why.filter(|w| !w.is_empty())
    }))
}

async fn find_by_queue_id(
    session: &Session,
    full_path: &str,
    queue_id: u64,
) -> Result<Located, ConnectorError> {
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Builds {
        builds: Vec<Entry>,
    }
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Entry {
        number: Option<u64>,
        #[serde(rename = "queueId")]
        queue_id: Option<u64>,
    }
    let path = format!(
        "{}api/json?tree=builds%5Bnumber,queueId%5D%7B0,{QUEUE_ID_SEARCH}%7D",
        job_path(full_path)?
    );
    let builds: Builds = session.get(&path, About::Job(full_path)).await?.json()?;
    Ok(builds
        .builds
        .iter()
        .find(|b| b.queue_id == Some(queue_id))
        .and_then(|b| b.number)
        .map_or(Located::Lost, Located::Build))
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

fn build_number(handle: &RunHandle, build_ref: &str) -> Result<u64, ConnectorError> {
    build_ref.parse().map_err(|_| {
        ConnectorError::generic(
            Category::Protocol,
            format!(
                "{build_ref:?} is not a Jenkins build number (run of {})",
                handle.pipeline_path
            ),
        )
    })
}

pub(super) async fn poll(
    session: &Session,
    handle: &RunHandle,
) -> Result<RunState, ConnectorError> {
    let mut handle = handle.clone();
    let full_path = handle.pipeline_path.clone();
    let number = match (&handle.build_ref, &handle.queue_ref) {
        (Some(build), _) => build_number(&handle, build)?,
        (None, Some(queue_id)) => match locate(session, &full_path, queue_id).await? {
            Located::Queued(why) => return Ok(state(handle, RunStatus::Queued, why)),
            Located::Cancelled => {
                return Ok(state(
                    handle,
                    RunStatus::Cancelled,
                    Some("Taken out of the Jenkins queue before it started".to_owned()),
                ));
            }
            Located::Lost => {
                let detail = format!(
                    "Jenkins no longer knows queue item {queue_id}, and none of the {QUEUE_ID_SEARCH} newest builds of {full_path} came from it (it was cancelled, or is older)"
                );
                return Ok(state(handle, RunStatus::Error, Some(detail)));
            }
            Located::Build(number) => {
                handle.build_ref = Some(number.to_string());
                number
            }
        },
        (None, None) => {
            return Ok(state(
                handle,
                RunStatus::Error,
                Some("The run has neither a Jenkins queue item nor a build".to_owned()),
            ));
        }
    };
    build_state(session, handle, number).await
}

async fn build_state(
    session: &Session,
    handle: RunHandle,
    number: u64,
) -> Result<RunState, ConnectorError> {
    let full_path = handle.pipeline_path.clone();
    let build_ref = number.to_string();
    let path = format!(
        "{}{number}/api/json?tree=number,url,building,result,duration,timestamp",
        job_path(&full_path)?
    );
    let build: BuildNode = session
        .get(&path, About::Build(&full_path, &build_ref))
        .await?
        .json()?;
    let started_at = build.timestamp.and_then(DateTime::from_timestamp_millis);
    let building = build.building == Some(true);
    let (status, detail) = if building {
        (RunStatus::Running, None)
    } else {
        match status_of_result(build.result.as_deref()) {
            Some(status) => (status, None),
            None => (
                RunStatus::Error,
                Some(match &build.result {
                    Some(other) => format!("Jenkins reports build #{number} finished as {other}"),
                    None => format!("Jenkins reports build #{number} finished without a result"),
                }),
            ),
        }
    };
    let duration_ms = if building {
        None
    } else {
        build.duration.and_then(|d| u64::try_from(d).ok())
    };
    let finished_at = match (building, build.timestamp, build.duration) {
        (false, Some(start), Some(duration)) => start
            .checked_add(duration)
            .and_then(DateTime::from_timestamp_millis),
        _ => None,
    };
    Ok(RunState {
        status,
        build_number: Some(
            build
                .number
                .unwrap_or_else(|| i64::try_from(number).unwrap_or(i64::MAX)),
        ),
        build_url: build.url,
        started_at,
        finished_at,
        duration_ms,
        detail,
        handle,
    })
}

pub(super) async fn log(
    session: &Session,
    handle: &RunHandle,
    offset: u64,
    mask: &LogMask,
) -> Result<LogPiece, ConnectorError> {
    let Some(build_ref) = &handle.build_ref else {
        return Ok(LogPiece {
            text: String::new(),
            next_offset: offset,
            more: true,
        });
    };
    let number = build_number(handle, build_ref)?;
    let full_path = handle.pipeline_path.as_str();
    // From a little earlier than asked, so that a value the offset cuts is masked whole.
    let start = offset.saturating_sub(mask.look_behind() as u64);
    let path = format!(
        "{}{number}/logText/progressiveText?start={start}",
        job_path(full_path)?
    );
    let answer = session
        .get(&path, About::Build(full_path, build_ref))
        .await?;
    Ok(log_piece(
        answer.body(),
        answer.header("x-text-size"),
        answer.header("x-more-data"),
        start,
        offset,
        mask,
    ))
}

/// A piece from a `progressiveText` answer read from byte `start` — its body and its
/// `X-Text-Size` and `X-More-Data` headers — shown from byte `offset` on.
fn log_piece(
    body: &[u8],
    text_size: Option<&str>,
    more_data: Option<&str>,
    start: u64,
    offset: u64,
    mask: &LogMask,
) -> LogPiece {
    let more = more_data.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let size = text_size.and_then(|size| size.trim().parse::<u64>().ok());
    // Stapler answers a start beyond the end (a log that was rewritten) from byte 0.
    let start = match size {
        Some(size) if size < start => size.saturating_sub(body.len() as u64),
        _ => start,
    };
    let visible_from = usize::try_from(offset.saturating_sub(start)).unwrap_or(usize::MAX);
    let piece = render_bytes(body, visible_from, more, mask);
    LogPiece {
        text: piece.text,
        next_offset: start + piece.consumed as u64,
        more,
    }
}

pub(super) async fn cancel(session: &Session, handle: &RunHandle) -> Result<(), ConnectorError> {
    let full_path = handle.pipeline_path.as_str();
    if let Some(build_ref) = &handle.build_ref {
        return stop(session, full_path, build_number(handle, build_ref)?).await;
    }
    let Some(queue_id) = &handle.queue_ref else {
        return Err(ConnectorError::generic(
            Category::NotFound,
            format!("the run of {full_path} has no Jenkins queue item or build to cancel"),
        ));
    };
    // The item may have become a build since the last poll: cancelling the item then
    // would leave the build running.
    match locate(session, full_path, queue_id).await? {
        Located::Build(number) => return stop(session, full_path, number).await,
        Located::Cancelled | Located::Lost => return Ok(()),
        Located::Queued(_) => {}
    }
    let request = session.client.request(
        Method::POST,
        &format!("queue/cancelItem?id={}", queue_id.trim()),
    )?;
    match session
        .post(request, About::QueueItem(full_path, queue_id))
        .await
    {
        Ok(_) => Ok(()),
        // Some Jenkins versions answer 404 even when they cancelled the item
        // (JENKINS-21311), and the item may have just left the queue: look again.
        Err(error) if error.category == Category::NotFound => {
            match locate(session, full_path, queue_id).await? {
                Located::Build(number) => stop(session, full_path, number).await,
                Located::Cancelled | Located::Lost => Ok(()),
                Located::Queued(_) => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

async fn stop(session: &Session, full_path: &str, number: u64) -> Result<(), ConnectorError> {
    let build_ref = number.to_string();
    let request = session.client.request(
        Method::POST,
        &format!("{}{number}/stop", job_path(full_path)?),
    )?;
    session
        .post(request, About::Build(full_path, &build_ref))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_come_from_the_location() {
        assert_eq!(
            queue_id_in("https://ci.example.com/jenkins/queue/item/42/"),
            Some(42)
        );
        assert_eq!(queue_id_in("http://127.0.0.1:8080/queue/item/7"), Some(7));
        assert_eq!(queue_id_in("https://ci.example.com/job/x/"), None);
        assert_eq!(queue_id_in("https://ci.example.com/queue/item/x/"), None);
    }

    #[test]
    fn a_piece_ending_inside_a_character_leaves_it_for_the_next_read() {
        let none = LogMask::default();
        let log = "ok ✓\n".as_bytes();
        // The first read ends after the first byte of the three-byte check mark.
        let first = log_piece(&log[..4], Some("4"), Some("true"), 0, 0, &none);
        assert_eq!(first.text, "ok ");
        assert_eq!(first.next_offset, 3);
        assert!(first.more);
        let second = log_piece(&log[3..], Some("7"), None, 3, first.next_offset, &none);
        assert_eq!(first.text + &second.text, "ok ✓\n");
        assert_eq!(second.next_offset, 7);
        assert!(!second.more);
    }

    /// As Jenkins 2.516.1 streams it (console notes) and a build that prints its password:
    /// read by a follower whose reads end at every possible byte, with the reads it would
    /// make (from the offset each answer gave, less the look-behind).
    #[test]
    fn notes_and_secrets_split_across_reads_never_show_and_no_text_is_lost() {
        let mask = LogMask::new(["hunter2-passphrase"]);
        let note = |payload: &str| format!("\u{1b}[8mha:////{payload}\u{1b}[0m");
        let log = format!(
            "{}Started by user {}Alice ✓\n{}[Pipeline] echo\n+ login -p hunter2-passphrase\n{}Finished: SUCCESS\n",
            note("H4sIAAAAAAAA/5VSTW"),
            note("aGVsbG8gd29ybGQ="),
            note("YWJjZGVm"),
            note("eHl6")
        );
        let shown =
            "Started by user Alice ✓\n[Pipeline] echo\n+ login -p ********\nFinished: SUCCESS\n";
        let bytes = log.as_bytes();
        let size = bytes.len();
        let read = |written: usize, offset: u64, more: bool| {
            let start = offset.saturating_sub(mask.look_behind() as u64);
            let from = usize::try_from(start).expect("offset");
            log_piece(
                &bytes[from..written],
                Some(&written.to_string()),
                more.then_some("true"),
                start,
                offset,
                &mask,
            )
        };
        for cut in 0..=size {
            let first = read(cut, 0, true);
            assert!(first.next_offset <= cut as u64, "cut {cut}");
            let second = read(size, first.next_offset, false);
            assert_eq!(first.text.clone() + &second.text, shown, "cut at {cut}");
            assert_eq!(second.next_offset, size as u64);
            for piece in [&first.text, &second.text] {
                assert!(
                    !piece.contains("ha:") && !piece.contains("hunt"),
                    "cut {cut}: {piece:?}"
                );
            }
        }
    }

    #[test]
    fn a_piece_without_a_size_header_ends_where_its_body_does() {
        let piece = log_piece(b"line\n", None, Some("TRUE"), 10, 10, &LogMask::default());
        assert_eq!((piece.next_offset, piece.more), (15, true));
    }
}
