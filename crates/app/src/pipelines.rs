//! Pipelines: list, read, and trigger a run.

use chrono::Utc;
use std::collections::BTreeMap;
use switchboard_connectors::{Category, ConnectorError, LogMask, PipelineRef, RunHandle};
use switchboard_domain::ids::PipelineId;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use switchboard_domain::audit::actions;
use switchboard_domain::pipeline::{
    ParameterDefinition, ParameterType, ParameterValue, Pipeline, PipelinePage, Run, RunPage,
    TriggerRunRequest,
};
use switchboard_domain::user::Role;
use switchboard_store::{NewAuditEvent, NewRun, PipelineQuery, RunQuery, StoreError};

use crate::monitor::shown_parameters;
use crate::paging::{after, encode_cursor, page_size};
use crate::{AppError, AppResult, IdempotencyKey, Once, Principal, Switchboard, blocking};

/// Test-only: where a trigger stops as if the server died there (see
/// [`Switchboard::with_trigger_fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerFault {
    /// The run is recorded; the tool has not been asked.
    AfterRecorded,
    /// The tool accepted the run; its handle is not stored.
    AfterAsked,
}

/// What a password parameter's value is replaced by where a request is identified.
const MASKED: Value = Value::Null;

/// `GET /api/v1/pipelines`'s query, as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct ListPipelines {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub integration_id: Option<String>,
    pub q: Option<String>,
    pub include_removed: Option<bool>,
}

impl Switchboard {
    /// Test-only: makes every trigger stop at `fault`, leaving the database as a server
    /// killed there would.
    pub fn with_trigger_fault(mut self, fault: Option<TriggerFault>) -> Self {
        self.trigger_fault = fault;
        self
    }

    fn inject(&self, at: TriggerFault) -> AppResult<()> {
        if self.trigger_fault == Some(at) {
            return Err(AppError::Internal(format!("test fault injected: {at:?}")));
        }
        Ok(())
    }

    pub async fn list_pipelines(&self, query: ListPipelines) -> AppResult<PipelinePage> {
        let limit = page_size(query.limit)?;
        let after = after(query.cursor.as_deref())?;
        if query.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(AppError::InvalidParameter(
                "q has at most 200 characters".into(),
            ));
        }
        let query = PipelineQuery {
            limit,
            after,
            integration_id: query.integration_id,
            q: query.q.filter(|q| !q.trim().is_empty()),
            include_removed: query.include_removed.unwrap_or(false),
        };
        let store = self.store.clone();
        let (items, next) = blocking(move || {
            store.list_pipelines(&query).map_err(|err| match err {
                // The store reads the cursor; a client can only have made it up.
                StoreError::Invalid(_) => {
                    AppError::InvalidParameter("cursor is not one this API returned".into())
                }
                other => other.into(),
            })
        })
        .await?;
        Ok(PipelinePage {
            items,
            next_cursor: next.as_deref().map(encode_cursor),
        })
    }

    pub async fn get_pipeline(&self, id: &PipelineId) -> AppResult<Pipeline> {
        let store = self.store.clone();
        let id = id.to_string();
        blocking(move || Ok(store.get_pipeline(&id)?)).await
    }

    /// The runs of one pipeline, newest first.
    pub async fn list_pipeline_runs(
        &self,
        id: &PipelineId,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> AppResult<RunPage> {
        let query = RunQuery {
            limit: page_size(limit)?,
            after: after(cursor)?,
            pipeline_id: Some(id.to_string()),
            ..RunQuery::default()
        };
        let store = self.store.clone();
        let id = id.to_string();
        let (items, next) = blocking(move || {
            store.get_pipeline(&id)?;
            Ok(store.list_runs(&query)?)
        })
        .await?;
        Ok(RunPage {
            items,
            next_cursor: next.as_deref().map(encode_cursor),
        })
    }

    /// Triggers a pipeline (operators and administrators); parameters left out take the
    /// tool's defaults. The run is followed by the monitor from here.
    pub async fn trigger_run(
        &self,
        by: &Principal,
        id: &PipelineId,
        key: Option<&IdempotencyKey>,
        request: TriggerRunRequest,
    ) -> AppResult<Once<Run>> {
        by.require(Role::Operator)?;
        let pipeline = self.get_pipeline(id).await?;
        // Password parameters' values are left out of what identifies the request, as
        // credentials are for integrations: no form of a secret is kept with the key.
        let identity: BTreeMap<&str, &Value> = request
            .parameters
            .iter()
            .map(|(name, value)| {
                let secret = pipeline.parameters.iter().any(|definition| {
                    &definition.name == name && definition.kind == ParameterType::Password
                });
                (name.as_str(), if secret { &MASKED } else { value })
            })
            .collect();
        let operation = format!("trigger_run {id}");
        self.once(by, key, &operation, &identity, || {
            self.trigger_run_now(by, &pipeline, &request)
        })
        .await
    }

    async fn trigger_run_now(
        &self,
        by: &Principal,
        pipeline: &Pipeline,
        request: &TriggerRunRequest,
    ) -> AppResult<Run> {
        if pipeline.removed {
            return Err(AppError::PipelineNotBuildable(format!(
                "{} no longer has {}; it is kept for its run history",
                pipeline.integration_name, pipeline.full_path
            )));
        }
        if !pipeline.buildable {
            return Err(AppError::PipelineNotBuildable(format!(
                "{} is disabled in {}; enable it there first",
                pipeline.full_path, pipeline.integration_name
            )));
        }
        let values = request
            .parse(&pipeline.parameters)
            .map_err(AppError::Validation)?;
        let (tool, target) = self.tooling.target(&pipeline.integration_id).await?;
        let connector = self.tooling.connector(&tool)?;
        let reference = PipelineRef {
            full_path: pipeline.full_path.clone(),
            parameters: pipeline.parameters.clone(),
        };

        // 1. The run is recorded before the tool is asked, held by this process for as long as
        //    asking can take: if the process dies before the tool's answer is stored, the run
        //    is not lost — the monitor takes it over when the hold ends and finds the build
        //    the tool started for it, if any (see `unconfirmed`).
        let now = Utc::now();
        let unconfirmed = RunHandle {
            pipeline_path: pipeline.full_path.clone(),
            queue_ref: None,
            build_ref: None,
        };
        let hold = self.tooling.trigger_hold();
        let owner = self.tooling.owner.clone();
        let new_run = NewRun {
            pipeline_id: pipeline.id.clone(),
            integration_id: pipeline.integration_id.clone(),
            parameters: shown_parameters(&values, &pipeline.parameters),
            secret_values: password_values(&values, &pipeline.parameters),
            handle_json: serde_json::to_string(&unconfirmed).map_err(AppError::internal)?,
            triggered_by: by.username.clone(),
            now,
            next_poll_at: now,
            held_by: Some((owner.clone(), now + hold)),
            audit: NewAuditEvent::new(&by.actor(), actions::RUN_TRIGGERED),
        };
        let store = self.store.clone();
        let run = blocking(move || Ok(store.create_run(&new_run)?)).await?;
        self.inject(TriggerFault::AfterRecorded)?;

        // 2. The tool is asked — within the hold, so that the monitor never takes over a run
        //    whose trigger is still going; 3. its handle is stored, or the refusal ends the
        //    run.
        let asked = tokio::time::timeout(
            self.tooling.outbound_timeout,
            connector.trigger(&target, &reference, &values, &run.id),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ConnectorError::new(
                Category::Timeout,
                format!(
                    "the tool did not accept the run within {} s; it may still start a build",
                    self.tooling.outbound_timeout.as_secs()
                ),
                "Check the tool for a build of this pipeline before triggering it again.",
            ))
        });
        let store = self.store.clone();
        let run_id = run.id.clone();
        match asked {
            Ok(handle) => {
                self.inject(TriggerFault::AfterAsked)?;
                let handle_json = serde_json::to_string(&handle).map_err(AppError::internal)?;
                let started = blocking(move || {
                    Ok(store.run_started(&run_id, &owner, &handle_json, Utc::now())?)
                })
                .await?;
                if !started {
                    tracing::warn!(run = %run.id, "the tool accepted a run after its hold had ended; the monitor had taken it over");
                }
                self.tooling.monitor_wake.notify_one();
                tracing::info!(run = %run.id, pipeline = %pipeline.full_path, by = %by.username, "triggered a run");
                Ok(run)
            }
            Err(mut failure) => {
                // A tool may quote a refused value back (Buildbot's force scheduler does, for
                // a parameter that fails its pattern): the run's password values and the
                // integration's secrets are masked before the refusal is kept, recorded in
                // the audit log or answered.
                let passwords = password_values(&values, &pipeline.parameters);
                let mask = LogMask::new(
                    passwords
                        .iter()
                        .chain(target.secrets.values())
                        .map(ExposeSecret::expose_secret),
                );
                failure.message = mask.mask_lines(&failure.message);
                failure.hint = mask.mask_lines(&failure.hint);
                let detail = format!(
                    "Failed to start ({}): {} {}",
                    failure.category, failure.message, failure.hint
                );
                let audit = NewAuditEvent::new(&by.actor(), actions::RUN_NOT_STARTED);
                let ended = blocking(move || {
                    Ok(store.run_not_started(&run_id, &owner, &detail, Utc::now(), &audit)?)
                })
                .await;
                if let Err(err) = ended {
                    tracing::warn!(run = %run.id, error = %err, "cannot record a run that failed to start");
                }
                Err(AppError::Tool(failure))
            }
        }
    }
}

/// The values given to password parameters: served logs mask them (a value left to the tool's
/// default is not known to Switchboard, so it cannot be masked).
fn password_values(
    values: &BTreeMap<String, ParameterValue>,
    definitions: &[ParameterDefinition],
) -> Vec<SecretString> {
    values
        .iter()
        .filter(|(name, _)| {
            definitions.iter().any(|definition| {
                &definition.name == *name && definition.kind == ParameterType::Password
            })
        })
        .map(|(_, value)| SecretString::from(value.to_form_text()))
        .collect()
}
