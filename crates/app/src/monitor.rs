//! Background work (docs/design.md §7): the run monitor, which follows every active run from
//! queue to result, and the periodic connection check + discovery of every integration (soon
//! again, backing off, after a failure).
//!
//! Both claim their work through the database (leases), so several replicas on one
//! PostgreSQL split it and never poll the same run or check the same integration at once; and
//! since everything a poll needs is stored, a restarted server simply claims the active runs
//! again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_connectors::{ConnectorError, RunHandle, RunState};
use switchboard_domain::pipeline::RunStatus;
use switchboard_store::{ActiveRun, RunUpdate};
use tokio::sync::Semaphore;

use crate::tooling::{Tooling, own_link};
use crate::unconfirmed::{self, Recovery};

/// The longest a run waits between polls while its tool keeps failing.
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(60);
/// How often idle loops look for due work (the monitor is also woken on every trigger).
const IDLE_TICK: Duration = Duration::from_millis(250);
const CHECK_TICK: Duration = Duration::from_secs(2);
/// How often change requests past their time are expired (reads expire them too).
const EXPIRY_TICK: Duration = Duration::from_secs(30);

/// Starts both loops (the second also expires change requests) on the current runtime; they end with it.
pub fn spawn(tooling: Arc<Tooling>) {
    tokio::spawn(follow_runs(tooling.clone()));
    if let Some(keep) = tooling.background.run_retention {
        tokio::spawn(purge_old_runs(tooling.clone(), keep));
    }
    tokio::spawn(recheck_integrations(tooling));
}

/// Runs deleted per transaction by the retention purge: a short hold of the database's
/// writer, however long the history.
const PURGE_BATCH: i64 = 500;
/// The pause between two batches, so that other writers get their turn.
const PURGE_PAUSE: Duration = Duration::from_millis(200);

/// Deletes finished runs older than `keep`, in batches, every purge interval.
async fn purge_old_runs(tooling: Arc<Tooling>, keep: Duration) {
    let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    let by_switchboard = switchboard_store::AuditActor::system();
    loop {
        let mut purged = 0;
        loop {
            let store = tooling.store.clone();
            let audit = switchboard_store::NewAuditEvent::new(
                &by_switchboard,
                switchboard_domain::audit::actions::RUNS_PURGED,
            );
            let cutoff = Utc::now()
                .checked_sub_signed(keep)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let batch = tokio::task::spawn_blocking(move || {
                store.purge_finished_runs(cutoff, PURGE_BATCH, &audit)
            })
            .await;
            match batch {
                Ok(Ok(deleted)) => {
                    purged += deleted;
                    if i64::try_from(deleted).unwrap_or(0) < PURGE_BATCH {
                        break;
                    }
                    tokio::time::sleep(PURGE_PAUSE).await;
                }
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "cannot purge old runs; trying again later");
                    break;
                }
                Err(err) => {
                    tracing::error!(error = %err, "purging old runs panicked");
                    break;
                }
            }
        }
        if purged > 0 {
            tracing::info!(purged, "finished runs past their retention deleted");
        }
        tokio::time::sleep(tooling.background.purge_interval).await;
    }
}

fn lease(tooling: &Tooling, per_item: Duration) -> chrono::Duration {
    chrono::Duration::from_std(per_item + Duration::from_secs(15))
        .unwrap_or(chrono::Duration::minutes(2))
        + chrono::Duration::from_std(tooling.background.run_poll_max).unwrap_or_default()
}

async fn follow_runs(tooling: Arc<Tooling>) {
    let slots = Arc::new(Semaphore::new(tooling.background.monitor_concurrency));
    let lease = lease(&tooling, tooling.outbound_timeout);
    loop {
        let free = slots.available_permits();
        if free == 0 {
            // Wait until a poll in flight ends.
            if let Ok(permit) = slots.clone().acquire_owned().await {
                drop(permit);
            }
            continue;
        }
        let store = tooling.store.clone();
        let owner = tooling.owner.clone();
        let claimed = tokio::task::spawn_blocking(move || {
            store.claim_due_runs(&owner, Utc::now(), lease, i64::try_from(free).unwrap_or(1))
        })
        .await;
        let runs = match claimed {
            Ok(Ok(runs)) => runs,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the run monitor cannot claim runs");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(err) => {
                tracing::error!(error = %err, "the run monitor's claim panicked");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if runs.is_empty() {
            tokio::select! {
                () = tooling.monitor_wake.notified() => {}
                () = tokio::time::sleep(IDLE_TICK) => {}
            }
            continue;
        }
        for run in runs {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let tooling = tooling.clone();
            tokio::spawn(async move {
                follow(&tooling, run).await;
                drop(permit);
            });
        }
    }
}

/// The next poll of an active run: soon while it is queued or young, then backing off with
/// its age (a tenth of it) up to the configured maximum.
fn next_poll_in(tooling: &Tooling, state: &RunState, now: DateTime<Utc>) -> Duration {
    let min = tooling.background.run_poll_min;
    let max = tooling.background.run_poll_max;
    let age = state
        .started_at
        .and_then(|started| (now - started).to_std().ok())
        .unwrap_or_default();
    (age / 10).clamp(min, max)
}

fn error_backoff(tooling: &Tooling, failures: i32) -> Duration {
    let exponent = u32::try_from(failures.clamp(0, 16)).unwrap_or(16);
    tooling
        .background
        .run_poll_min
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_ERROR_BACKOFF)
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// What a successful poll stores: the tool's state, and when to look again if still active.
fn polled(
    state: RunState,
    next_in: Duration,
    now: DateTime<Utc>,
) -> Result<RunUpdate, serde_json::Error> {
    Ok(RunUpdate {
        status: state.status,
        handle_json: serde_json::to_string(&state.handle)?,
        build_number: state.build_number,
        build_url: state.build_url,
        detail: state.detail,
        started_at: state.started_at,
        // A run cancelled in the queue never built: it ends when the tool says so.
        finished_at: state
            .finished_at
            .or_else(|| (!state.status.is_active()).then_some(now)),
        duration_ms: state.duration_ms,
        next_poll_at: state.status.is_active().then(|| now + to_chrono(next_in)),
        poll_failures: 0,
        now,
    })
}

async fn follow(tooling: &Tooling, run: ActiveRun) {
    let now = Utc::now();
    let handle: RunHandle = match serde_json::from_str(&run.handle_json) {
        Ok(handle) => handle,
        Err(err) => {
            tracing::error!(run = %run.id, error = %err, "unreadable run handle");
            let detail = format!("Switchboard cannot read how to follow this run: {err}");
            give_up(tooling, &run, detail, now).await;
            return;
        }
    };
    if unconfirmed::unconfirmed(&handle) {
        recover(tooling, &run, &handle, now).await;
        return;
    }
    let polled_state = match tooling.target(&run.integration_id).await {
        Ok((tool, target)) => match tooling.connector(&tool) {
            Ok(connector) => connector
                .poll(&target, &handle)
                .await
                .map(|mut state| {
                    state.build_url = state
                        .build_url
                        .as_deref()
                        .and_then(|url| own_link(url, &target.urls));
                    state
                })
                .map_err(|failure: ConnectorError| {
                    format!(
                        "Cannot reach the tool: {} {}",
                        failure.message, failure.hint
                    )
                }),
            Err(err) => Err(err.to_string()),
        },
        Err(err) => Err(format!("Cannot load the run's integration: {err}")),
    };
    match polled_state {
        Ok(state) => {
            let next_in = next_poll_in(tooling, &state, now);
            match polled(state, next_in, now) {
                Ok(update) => store_update(tooling, run.id.clone(), update).await,
                Err(err) => {
                    tracing::error!(run = %run.id, error = %err, "cannot store a run handle")
                }
            }
        }
        Err(detail) => back_off(tooling, &run, &detail, now).await,
    }
}

/// A poll that failed: the run is looked at again later, the longer the more failed in a row.
async fn back_off(tooling: &Tooling, run: &ActiveRun, detail: &str, now: DateTime<Utc>) {
    let failures = run.poll_failures.saturating_add(1);
    tracing::info!(run = %run.id, failures, %detail, "poll failed; backing off");
    defer(
        tooling,
        run,
        now + to_chrono(error_backoff(tooling, failures)),
        failures,
    )
    .await;
}

async fn defer(tooling: &Tooling, run: &ActiveRun, next: DateTime<Utc>, failures: i32) {
    let store = tooling.store.clone();
    let id = run.id.clone();
    let written = tokio::task::spawn_blocking(move || store.defer_run(&id, next, failures)).await;
    if let Ok(Err(err)) = written {
        tracing::warn!(error = %err, "cannot store a deferred poll");
    }
}

/// A run whose trigger never stored the tool's answer: follows the build found for it, or
/// ends it saying what is known (see [`unconfirmed`]).
async fn recover(tooling: &Tooling, run: &ActiveRun, handle: &RunHandle, now: DateTime<Utc>) {
    let path = &handle.pipeline_path;
    let lost = "Switchboard stopped before the tool confirmed this run";
    match unconfirmed::recover(tooling, run, path, now).await {
        Ok(Recovery::Found(found)) => {
            tracing::info!(run = %run.id, build = %unconfirmed::describe(&found), "found the build of a run whose trigger never completed");
            let handle_json = match serde_json::to_string(&found) {
                Ok(json) => json,
                Err(err) => {
                    tracing::error!(run = %run.id, error = %err, "cannot store a run handle");
                    return;
                }
            };
            let update = RunUpdate {
                status: RunStatus::Queued,
                handle_json,
                build_number: None,
                build_url: None,
                detail: None,
                started_at: None,
                finished_at: None,
                duration_ms: None,
                next_poll_at: Some(now),
                poll_failures: 0,
                now,
            };
            store_update(tooling, run.id.clone(), update).await;
            tooling.monitor_wake.notify_one();
        }
        Ok(Recovery::NotStarted) => {
            tracing::warn!(run = %run.id, "a run's trigger never completed and the tool has no build for it");
            let detail = format!(
                "{lost}, and the tool shows no build of {path} started for it: the run did not start. Trigger it again if it is still needed."
            );
            give_up(tooling, run, detail, now).await;
        }
        Ok(Recovery::FollowedByOthers(others)) => {
            tracing::warn!(run = %run.id, others = ?others, "a run's trigger never completed and the builds that fit it are other runs'");
            let detail = format!(
                "{lost}, and the only builds of {path} that fit it are followed by other runs ({}): the tool may have merged this run's request into theirs, or it did not start.",
                others.join(", ")
            );
            give_up(tooling, run, detail, now).await;
        }
        Ok(Recovery::Ambiguous(candidates)) => {
            let named: Vec<String> = candidates.iter().map(unconfirmed::describe).collect();
            tracing::warn!(run = %run.id, candidates = ?named, "a run's trigger never completed and several builds fit it");
            let detail = format!(
                "{lost}, and several builds of {path} may be its own ({}); none is followed here: look in the tool.",
                named.join(", ")
            );
            give_up(tooling, run, detail, now).await;
        }
        Ok(Recovery::Wait) => {
            let next = now + to_chrono(tooling.background.run_poll_max);
            defer(tooling, run, next, run.poll_failures).await;
        }
        Err(detail) => back_off(tooling, run, &detail, now).await,
    }
}

/// Ends a run Switchboard can no longer follow, with the reason.
async fn give_up(tooling: &Tooling, run: &ActiveRun, detail: String, now: DateTime<Utc>) {
    let update = RunUpdate {
        status: RunStatus::Error,
        handle_json: run.handle_json.clone(),
        build_number: None,
        build_url: None,
        detail: Some(detail),
        started_at: None,
        finished_at: Some(now),
        duration_ms: None,
        next_poll_at: None,
        poll_failures: run.poll_failures,
        now,
    };
    store_update(tooling, run.id.clone(), update).await;
}

async fn store_update(tooling: &Tooling, id: String, update: RunUpdate) {
    let store = tooling.store.clone();
    let written = tokio::task::spawn_blocking(move || store.update_run(&id, &update)).await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "cannot store a run's state"),
        Err(err) => tracing::error!(error = %err, "storing a run's state panicked"),
    }
}

async fn recheck_integrations(tooling: Arc<Tooling>) {
    let lease = lease(&tooling, tooling.outbound_timeout * 4);
    let mut last_expiry = std::time::Instant::now() - EXPIRY_TICK;
    loop {
        if last_expiry.elapsed() >= EXPIRY_TICK {
            last_expiry = std::time::Instant::now();
            let store = tooling.store.clone();
            match tokio::task::spawn_blocking(move || store.expire_due_requests(Utc::now())).await {
                Ok(Ok(0)) => {}
                Ok(Ok(expired)) => tracing::info!(expired, "change requests expired"),
                Ok(Err(err)) => tracing::warn!(error = %err, "cannot expire change requests"),
                Err(err) => tracing::error!(error = %err, "expiring change requests panicked"),
            }
        }
        let store = tooling.store.clone();
        let owner = tooling.owner.clone();
        let claimed = tokio::task::spawn_blocking(move || {
            store.claim_due_integrations(&owner, Utc::now(), lease, 2)
        })
        .await;
        let ids = match claimed {
            Ok(Ok(ids)) => ids,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot claim integrations to re-check");
                Vec::new()
            }
            Err(err) => {
                tracing::error!(error = %err, "claiming integrations panicked");
                Vec::new()
            }
        };
        if ids.is_empty() {
            tokio::time::sleep(CHECK_TICK).await;
            continue;
        }
        for id in ids {
            tooling.check_and_sync(&id).await;
            let store = tooling.store.clone();
            let owner = tooling.owner.clone();
            let released =
                tokio::task::spawn_blocking(move || store.release_integration(&id, &owner)).await;
            if let Ok(Err(err)) = released {
                tracing::warn!(error = %err, "cannot release an integration's lease");
            }
        }
    }
}

/// Parameters as a run shows them: password values masked.
pub fn shown_parameters(
    values: &BTreeMap<String, switchboard_domain::pipeline::ParameterValue>,
    definitions: &[switchboard_domain::pipeline::ParameterDefinition],
) -> BTreeMap<String, serde_json::Value> {
    values
        .iter()
        .map(|(name, value)| {
            let secret = definitions.iter().any(|definition| {
                &definition.name == name
                    && definition.kind == switchboard_domain::pipeline::ParameterType::Password
            });
            let shown = if secret {
                serde_json::Value::String("********".into())
            } else {
                value.to_json()
            };
            (name.clone(), shown)
        })
        .collect()
}
