//! `/api/v1/pipelines`: the buildable jobs discovered in the integrations' tools, and
//! triggering them.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use serde::Deserialize;
use switchboard_connectors::PipelineRef;
use switchboard_domain::Problem;
use switchboard_domain::pipeline::{Pipeline, PipelinePage, Run, RunPage, TriggerRunRequest};
use switchboard_store::{NewRun, PipelineQuery, RunQuery};
use utoipa::IntoParams;

use super::{Body, blocking, decode_cursor, encode_cursor, page_size};
use crate::AppState;
use crate::auth::{Caller, Operator};
use crate::error::ApiError;
use crate::monitor::shown_parameters;

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

fn pipeline_not_found(err: ApiError) -> ApiError {
    match err {
        ApiError::NotFound(_) => ApiError::NotFound("pipeline"),
        other => other,
    }
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
    let params = params.into_inner();
    let limit = page_size(params.limit)?;
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    if params.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::InvalidParameter(
            "q has at most 200 characters".into(),
        ));
    }
    let query = PipelineQuery {
        limit,
        after,
        integration_id: params.integration_id,
        q: params.q.filter(|q| !q.trim().is_empty()),
        include_removed: params.include_removed.unwrap_or(false),
    };
    let store = state.store.clone();
    let (items, next) = blocking(move || Ok(store.list_pipelines(&query)?))
        .await
        .map_err(|err| match err {
            // The store reads the cursor; a client can only have made it up.
            ApiError::Validation(_) => {
                ApiError::InvalidParameter("cursor is not one this API returned".into())
            }
            other => other,
        })?;
    Ok(HttpResponse::Ok().json(PipelinePage {
        items,
        next_cursor: next.as_deref().map(encode_cursor),
    }))
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
    let store = state.store.clone();
    let pipeline = blocking(move || Ok(store.get_pipeline(&id)?))
        .await
        .map_err(pipeline_not_found)?;
    Ok(HttpResponse::Ok().json(pipeline))
}

/// Trigger a pipeline. Parameters left out take the tool's defaults.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = String, Path, description = "Pipeline id")),
    request_body = TriggerRunRequest,
    responses(
        (status = 202, description = "Accepted by the tool; the run is followed from here", body = Run,
            headers(("Location" = String, description = "The run's URL"))),
        (status = 403, description = "Viewers cannot trigger", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such pipeline", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tool disabled the pipeline or no longer has it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown parameters, values of the wrong type or outside the choices", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The tool refused or failed; `category` and `hint` say why", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The tool did not answer in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/pipelines/{id}/runs")]
pub async fn create_run(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<TriggerRunRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let pipeline = blocking(move || Ok(store.get_pipeline(&id)?))
        .await
        .map_err(pipeline_not_found)?;
    if pipeline.removed {
        return Err(ApiError::PipelineNotBuildable(format!(
            "{} no longer has {}; it is kept for its run history",
            pipeline.integration_name, pipeline.full_path
        )));
    }
    if !pipeline.buildable {
        return Err(ApiError::PipelineNotBuildable(format!(
            "{} is disabled in {}; enable it there first",
            pipeline.full_path, pipeline.integration_name
        )));
    }
    let values = body
        .parse(&pipeline.parameters)
        .map_err(ApiError::Validation)?;
    let tooling = state.tooling.clone();
    let (integration, target) = tooling.target(&pipeline.integration_id).await?;
    let reference = PipelineRef {
        full_path: pipeline.full_path.clone(),
        parameters: pipeline.parameters.clone(),
    };
    let handle = tooling
        .connector(&integration.tool)?
        .trigger(&target, &reference, &values)
        .await
        .map_err(ApiError::Tool)?;
    let handle_json = serde_json::to_string(&handle).map_err(ApiError::internal)?;
    let now = Utc::now();
    let new_run = NewRun {
        pipeline_id: pipeline.id.clone(),
        integration_id: pipeline.integration_id.clone(),
        parameters: shown_parameters(&values, &pipeline.parameters),
        handle_json,
        triggered_by: operator.0.username,
        now,
        next_poll_at: now,
    };
    let store = state.store.clone();
    let run = blocking(move || Ok(store.create_run(&new_run)?)).await?;
    tooling.monitor_wake.notify_one();
    tracing::info!(run = %run.id, pipeline = %pipeline.full_path, "triggered a run");
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/runs/{}", run.id)))
        .json(run))
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
    let params = params.into_inner();
    let limit = page_size(params.limit)?;
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let store = state.store.clone();
    let pipeline_id = id.into_inner();
    let (items, next) = blocking(move || {
        store
            .get_pipeline(&pipeline_id)
            .map_err(|err| pipeline_not_found(err.into()))?;
        let query = RunQuery {
            limit,
            after,
            pipeline_id: Some(pipeline_id),
            ..RunQuery::default()
        };
        Ok(store.list_runs(&query)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RunPage {
        items,
        next_cursor: next.as_deref().map(encode_cursor),
    }))
}
