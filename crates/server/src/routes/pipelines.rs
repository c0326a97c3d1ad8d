//! `/api/v1/pipelines`: the buildable jobs discovered in the integrations' tools, and
//! triggering them.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use switchboard_app::ListPipelines;
use switchboard_domain::Problem;
use switchboard_domain::pipeline::{Pipeline, PipelinePage, Run, RunPage, TriggerRunRequest};
use utoipa::IntoParams;

use super::{Body, IDEMPOTENT_REPLAYED, idempotency_key, pipeline_id};
use crate::AppState;
use crate::auth::{Caller, Operator};
use crate::error::ApiError;
use crate::rate_limit::Costly;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListPipelinesParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^([0-9a-fA-F]{2})*$")]
    cursor: Option<String>,
    /// Only pipelines of this integration.
    integration_id: Option<String>,
    /// Only pipelines whose full path contains this text, ignoring case.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Also list pipelines the tool no longer has (default false).
    include_removed: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^([0-9a-fA-F]{2})*$")]
    cursor: Option<String>,
}

/// List pipelines, ordered by integration name, then full path.
#[utoipa::path(
    tag = "pipelines",
    params(ListPipelinesParams),
    responses((status = 200, description = "One page of pipelines", body = PipelinePage)),
    security(("bearer" = []))
)]
#[get("/pipelines")]
pub async fn list_pipelines(
    _caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListPipelinesParams>,
) -> Result<HttpResponse, ApiError> {
    let ListPipelinesParams {
        limit,
        cursor,
        integration_id,
        q,
        include_removed,
    } = params.into_inner();
    let query = ListPipelines {
        limit,
        cursor,
        integration_id,
        q,
        include_removed,
    };
    Ok(HttpResponse::Ok().json(state.app.list_pipelines(query).await?))
}

/// Read one pipeline, with its parameter definitions.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = String, Path, description = "Pipeline id")),
    responses(
        (status = 200, description = "The pipeline", body = Pipeline),
        (status = 404, description = "No such pipeline", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/pipelines/{id}")]
pub async fn get_pipeline(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pipeline = state.app.get_pipeline(&pipeline_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(pipeline))
}

/// Trigger a pipeline. Parameters left out take the tool's defaults.
#[utoipa::path(
    tag = "pipelines",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Any unique value (a UUID): a retry with the same key within 24 hours gets the first answer (with `Idempotent-Replayed: true`) and never starts a second run; the same key with another body is refused (422)"),
    ),
    request_body = TriggerRunRequest,
    responses(
        (status = 202, description = "Accepted by the tool; the run is followed from here", body = Run,
            headers(("Location" = String, description = "The run's URL"), ("Idempotent-Replayed" = String, description = "`true` when this is the kept answer to an earlier request with the same `Idempotency-Key`"))),
        (status = 403, description = "Viewers cannot trigger", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such pipeline", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tool disabled the pipeline or no longer has it, or a request with the same `Idempotency-Key` is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown parameters, values of the wrong type or outside the choices, or an `Idempotency-Key` used for another request", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The tool refused or failed; `category` and `hint` say why", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The tool did not answer in time", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many of these from this user; see `Retry-After`", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/pipelines/{id}/runs")]
pub async fn create_run(
    operator: Operator,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<TriggerRunRequest>,
) -> Result<HttpResponse, ApiError> {
    state.charge(&operator.0, Costly::Trigger)?;
    let run = state
        .app
        .trigger_run(
            &operator.0.principal(),
            &pipeline_id(&id)?,
            idempotency_key(&req)?.as_ref(),
            body.0,
        )
        .await?;
    let mut response = HttpResponse::Accepted();
    response.insert_header((header::LOCATION, format!("/api/v1/runs/{}", run.value.id)));
    if run.replayed {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    Ok(response.json(run.value))
}

/// The runs of one pipeline, newest first.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = String, Path, description = "Pipeline id"), PageParams),
    responses(
        (status = 200, description = "One page of runs", body = RunPage),
        (status = 404, description = "No such pipeline", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/pipelines/{id}/runs")]
pub async fn list_pipeline_runs(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .app
        .list_pipeline_runs(&pipeline_id(&id)?, params.limit, params.cursor.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(page))
}
