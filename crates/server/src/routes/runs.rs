//! `/api/v1/runs`: runs Switchboard triggered, their logs, cancelling them.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use switchboard_connectors::RunHandle;
use switchboard_domain::Problem;
use switchboard_domain::pipeline::{LogChunk, Run, RunPage, RunStatus};
use switchboard_store::RunQuery;
use utoipa::IntoParams;

use super::{blocking, decode_cursor, encode_cursor, page_size};
use crate::AppState;
use crate::auth::{Caller, Operator};
use crate::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRunsParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^([0-9a-fA-F]{2})*$")]
    cursor: Option<String>,
    /// Only runs with this status.
    status: Option<RunStatus>,
    /// Only runs of this integration's pipelines.
    integration_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    /// Where to read from: 0, or the `next_offset` of the previous answer.
    #[param(minimum = 0)]
    offset: Option<u64>,
}

fn run_not_found(err: ApiError) -> ApiError {
    match err {
        ApiError::NotFound(_) => ApiError::NotFound("run"),
        other => other,
    }
}

async fn load_run(state: &AppState, id: String) -> Result<Run, ApiError> {
    let store = state.store.clone();
    blocking(move || Ok(store.get_run(&id)?))
        .await
        .map_err(run_not_found)
}

/// Recent runs across all pipelines, newest first.
#[utoipa::path(
    tag = "runs",
    params(ListRunsParams),
    responses((status = 200, description = "One page of runs", body = RunPage)),
    security(("bearer" = []))
)]
#[get("/runs")]
pub async fn list_runs(
    _caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListRunsParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let query = RunQuery {
        limit: page_size(params.limit)?,
        after: params.cursor.as_deref().map(decode_cursor).transpose()?,
        pipeline_id: None,
        integration_id: params.integration_id,
        status: params.status,
    };
    let store = state.store.clone();
    let (items, next) = blocking(move || Ok(store.list_runs(&query)?)).await?;
    Ok(HttpResponse::Ok().json(RunPage {
        items,
        next_cursor: next.as_deref().map(encode_cursor),
    }))
}

/// Read one run.
#[utoipa::path(
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/runs/{id}")]
pub async fn get_run(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let run = load_run(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(run))
}

/// Read a run's log from `offset` on; call again with `next_offset` until `complete`.
#[utoipa::path(
    tag = "runs",
    params(("id" = String, Path, description = "Run id"), LogParams),
    responses(
        (status = 200, description = "A piece of the log", body = LogChunk),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The tool refused or failed; `category` and `hint` say why", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The tool did not answer in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/runs/{id}/log")]
pub async fn get_run_log(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<LogParams>,
) -> Result<HttpResponse, ApiError> {
    let offset = params.offset.unwrap_or(0);
    let id = id.into_inner();
    let store = state.store.clone();
    let active = blocking(move || Ok(store.run_handle(&id)?))
        .await
        .map_err(run_not_found)?;
    let handle: RunHandle =
        serde_json::from_str(&active.handle_json).map_err(ApiError::internal)?;
    if handle.build_ref.is_none() && !active.status.is_active() {
        // Cancelled in the queue (or lost before it built): there is no log, and never will be.
        return Ok(HttpResponse::Ok().json(LogChunk {
            text: String::new(),
            next_offset: offset,
            complete: true,
        }));
    }
    let tooling = state.tooling.clone();
    let (integration, target) = tooling.target(&active.integration_id).await?;
    let piece = tooling
        .connector(&integration.tool)?
        .log(&target, &handle, offset)
        .await
        .map_err(ApiError::Tool)?;
    Ok(HttpResponse::Ok().json(LogChunk {
        text: piece.text,
        next_offset: piece.next_offset,
        complete: !piece.more && !active.status.is_active(),
    }))
}

/// Cancel a run: out of the queue if it is waiting, stopped if it is building. The run shows
/// `cancelled` once the tool confirms it.
#[utoipa::path(
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 202, description = "The tool was asked to cancel; the run follows", body = Run),
        (status = 403, description = "Viewers cannot cancel", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has already finished", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The tool refused or failed; `category` and `hint` say why", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The tool did not answer in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/runs/{id}/cancel")]
pub async fn cancel_run(
    _operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let store = state.store.clone();
    let run_id = id.clone();
    let active = blocking(move || Ok(store.run_handle(&run_id)?))
        .await
        .map_err(run_not_found)?;
    if !active.status.is_active() {
        return Err(ApiError::RunFinished);
    }
    let handle: RunHandle =
        serde_json::from_str(&active.handle_json).map_err(ApiError::internal)?;
    let tooling = state.tooling.clone();
    let (integration, target) = tooling.target(&active.integration_id).await?;
    tooling
        .connector(&integration.tool)?
        .cancel(&target, &handle)
        .await
        .map_err(ApiError::Tool)?;
    let store = state.store.clone();
    let run_id = id.clone();
    let failures = active.poll_failures;
    // Look again at once rather than at the run's backed-off time.
    blocking(move || Ok(store.defer_run(&run_id, chrono::Utc::now(), failures)?)).await?;
    tooling.monitor_wake.notify_one();
    let run = load_run(&state, id).await?;
    Ok(HttpResponse::Accepted().json(run))
}
