//! Health, readiness, metrics and the API's own documentation.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use switchboard_domain::Problem;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::blocking;
use crate::AppState;
use crate::error::ApiError;

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(get_health)
        .service(get_readiness)
        .service(get_metrics)
        .service(get_openapi)
        .service(get_docs);
}

/// The Swagger UI, served from the binary: it loads nothing from elsewhere.
pub fn docs_service() -> SwaggerUi {
    SwaggerUi::new("/api/docs/{_:.*}").config(
        Config::new(["/api/openapi.json"])
            .validator_url("none")
            .display_operation_id(true)
            .try_it_out_enabled(true),
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ok")]
    status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    database: &'static str,
}

/// Whether the process is alive.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)), security(()))]
#[get("/healthz")]
pub async fn get_health() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Whether the server can serve requests: its database answers.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/readyz")]
pub async fn get_readiness(state: web::Data<AppState>) -> Result<web::Json<Readiness>, ApiError> {
    let store = state.store.clone();
    blocking(move || {
        store
            .ping()
            .map_err(|err| ApiError::DatabaseUnavailable(err.to_string()))
    })
    .await?;
    Ok(web::Json(Readiness {
        status: "ok",
        database: state.store.backend_name(),
    }))
}

/// Request counts and latencies in the Prometheus text format.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics", body = String, content_type = "text/plain; version=0.0.4")),
    security(())
)]
#[get("/metrics")]
pub async fn get_metrics(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let database_up = blocking(move || Ok(store.ping().is_ok()))
        .await
        .unwrap_or(false);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(
            state
                .metrics
                .render(database_up, state.store.statements_run()),
        )
}

/// This document.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")),
    security(())
)]
#[get("/api/openapi.json")]
pub async fn get_openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

/// The interactive API documentation.
#[utoipa::path(
    tag = "operations",
    responses((status = 308, description = "Redirects to /api/docs/")),
    security(())
)]
#[get("/api/docs")]
pub async fn get_docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/api/docs/"))
        .finish()
}
