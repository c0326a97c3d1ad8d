//! `/api/v1/runs`: runs Switchboard triggered, their logs, cancelling them.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use switchboard_app::ListRuns;
use switchboard_domain::Problem;
use switchboard_domain::pipeline::{LogChunk, Run, RunPage, RunStatus};
use utoipa::IntoParams;

use super::run_id;
use crate::AppState;
use crate::auth::{Caller, Operator};
use crate::error::ApiError;
use crate::rate_limit::Costly;

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
    let ListRunsParams {
        limit,
        cursor,
        status,
        integration_id,
    } = params.into_inner();
    let query = ListRuns {
        limit,
        cursor,
        status,
        integration_id,
    };
    Ok(HttpResponse::Ok().json(state.app.list_runs(query).await?))
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
    let run = state.app.get_run(&run_id(&id)?).await?;
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
        (status = 429, description = "Too many of these from this user; see `Retry-After`", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[get("/runs/{id}/log")]
pub async fn get_run_log(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<LogParams>,
) -> Result<HttpResponse, ApiError> {
    state.charge(&caller, Costly::LogRead)?;
    let chunk = state
        .app
        .read_log(&run_id(&id)?, params.offset.unwrap_or(0))
        .await?;
    Ok(HttpResponse::Ok().json(chunk))
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
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let run = state
        .app
        .cancel_run(&operator.0.principal(), &run_id(&id)?)
        .await?;
    Ok(HttpResponse::Accepted().json(run))
}
