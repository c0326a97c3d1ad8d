//! Runs: list, read, read the log, cancel.

use secrecy::ExposeSecret;
use switchboard_connectors::{LogMask, RunHandle};
use switchboard_domain::audit::{AuditOutcome, actions};
use switchboard_domain::ids::RunId;
use switchboard_domain::pipeline::{LogChunk, Run, RunPage, RunStatus};
use switchboard_domain::user::Role;
use switchboard_store::{NewAuditEvent, RunQuery};

use crate::paging::{after, encode_cursor, page_size};
use crate::{AppError, AppResult, Principal, Switchboard, blocking};

/// `GET /api/v1/runs`'s query, as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct ListRuns {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub status: Option<RunStatus>,
    pub integration_id: Option<String>,
}

impl Switchboard {
    /// Recent runs across all pipelines, newest first.
    pub async fn list_runs(&self, query: ListRuns) -> AppResult<RunPage> {
        let query = RunQuery {
            limit: page_size(query.limit)?,
            after: after(query.cursor.as_deref())?,
            pipeline_id: None,
            integration_id: query.integration_id,
            status: query.status,
        };
        let store = self.store.clone();
        let (items, next) = blocking(move || Ok(store.list_runs(&query)?)).await?;
        Ok(RunPage {
            items,
            next_cursor: next.as_deref().map(encode_cursor),
        })
    }

    pub async fn get_run(&self, id: &RunId) -> AppResult<Run> {
        let store = self.store.clone();
        let id = id.to_string();
        blocking(move || Ok(store.get_run(&id)?)).await
    }

    /// A run's log from `offset` on, from its tool; `complete` once the run has ended and the
    /// tool has no more. The run's password parameters and the integration's secrets are
    /// masked wherever the build printed them ([`LogMask`], applied by the connector in the
    /// tool's own offsets).
    pub async fn read_log(&self, id: &RunId, offset: u64) -> AppResult<LogChunk> {
        let store = self.store.clone();
        let run_id = id.to_string();
        let (active, run_secrets) = blocking(move || Ok(store.run_for_log(&run_id)?)).await?;
        let handle: RunHandle =
            serde_json::from_str(&active.handle_json).map_err(AppError::internal)?;
        if handle.build_ref.is_none() && !active.status.is_active() {
            // Cancelled in the queue (or lost before it built): there is no log, and never
            // will be.
            return Ok(LogChunk {
                text: String::new(),
                next_offset: offset,
                complete: true,
            });
        }
        let (tool, target) = self.tooling.target(&active.integration_id).await?;
        let mask = LogMask::new(
            run_secrets
                .iter()
                .chain(target.secrets.values())
                .map(|secret| secret.expose_secret()),
        );
        let piece = self
            .tooling
            .connector(&tool)?
            .log(&target, &handle, offset, &mask)
            .await
            .map_err(AppError::Tool)?;
        Ok(LogChunk {
            text: piece.text,
            next_offset: piece.next_offset,
            complete: !piece.more && !active.status.is_active(),
        })
    }

    /// Cancels a run (operators and administrators): out of the queue if it is waiting,
    /// stopped if it is building. The run shows `cancelled` once the tool confirms it.
    pub async fn cancel_run(&self, by: &Principal, id: &RunId) -> AppResult<Run> {
        by.require(Role::Operator)?;
        let store = self.store.clone();
        let run_id = id.to_string();
        let active = blocking(move || Ok(store.run_handle(&run_id)?)).await?;
        if !active.status.is_active() {
            return Err(AppError::RunFinished);
        }
        let handle: RunHandle =
            serde_json::from_str(&active.handle_json).map_err(AppError::internal)?;
        let (tool, target) = self.tooling.target(&active.integration_id).await?;
        let cancelled = self
            .tooling
            .connector(&tool)?
            .cancel(&target, &handle)
            .await;
        let mut event = NewAuditEvent::new(&by.actor(), actions::RUN_CANCELLED).on(
            "run",
            Some(id.as_str()),
            Some(&handle.pipeline_path),
        );
        if let Err(failure) = &cancelled {
            event = event
                .outcome(AuditOutcome::Failed)
                .detail(format!("the tool refused: {}", failure.message));
        }
        let store = self.store.clone();
        blocking(move || Ok(store.record_audit(&event)?)).await?;
        cancelled.map_err(AppError::Tool)?;
        let store = self.store.clone();
        let run_id = id.to_string();
        let failures = active.poll_failures;
        // Look again at once rather than at the run's backed-off time.
        blocking(move || Ok(store.defer_run(&run_id, chrono::Utc::now(), failures)?)).await?;
        self.tooling.monitor_wake.notify_one();
        tracing::info!(run = %id, by = %by.username, "asked the tool to cancel a run");
        self.get_run(id).await
    }
}
