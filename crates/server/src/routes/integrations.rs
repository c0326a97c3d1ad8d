//! `/api/v1/integrations`: the organisation's configured CI/CD tools.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use switchboard_app::{ListIntegrations, Submitted};
use switchboard_domain::Problem;
use switchboard_domain::change_request::ChangeRequest;
use switchboard_domain::check::{ConnectionCheck, SyncReport, TestDraftRequest};
use switchboard_domain::integration::{
    CreateIntegrationRequest, Integration, IntegrationPage, UpdateIntegrationRequest,
};
use utoipa::IntoParams;

use super::{
    Body, IDEMPOTENT_REPLAYED, accepted, etag, idempotency_key, if_match_version, integration_id,
};
use crate::AppState;
use crate::auth::{Admin, Caller, Operator, Submitter};
use crate::error::ApiError;
use crate::rate_limit::Costly;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListIntegrationsParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^([0-9a-fA-F]{2})*$")]
    cursor: Option<String>,
    /// Only integrations of this tool.
    #[param(example = "jenkins")]
    tool: Option<String>,
    /// Only names containing this text, ignoring case.
    #[param(max_length = 100)]
    q: Option<String>,
}

fn with_etag(
    mut response: actix_web::HttpResponseBuilder,
    integration: &Integration,
) -> HttpResponse {
    response
        .insert_header(header::ETag(etag(integration.version)))
        .json(integration)
}

/// List integrations, ordered by name.
#[utoipa::path(
    tag = "integrations",
    params(ListIntegrationsParams),
    responses(
        (status = 200, description = "One page of integrations", body = IntegrationPage),
    ),
    security(("bearer" = []))
)]
#[get("/integrations")]
pub async fn list_integrations(
    _caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListIntegrationsParams>,
) -> Result<HttpResponse, ApiError> {
    let ListIntegrationsParams {
        limit,
        cursor,
        tool,
        q,
    } = params.into_inner();
    let listing = state
        .app
        .list_integrations(ListIntegrations {
            limit,
            cursor,
            tool,
            q,
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(listing.0))
}

/// Create an integration of an approved, enabled tool. While approval is on (see
/// `GET /api/v1/approval-policy`) operators and administrators submit it instead: the answer
/// is 202 with the change request, and the integration is listed as `pending_approval` until
/// the request is approved.
#[utoipa::path(
    tag = "integrations",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Any unique value (a UUID): a retry with the same key within 24 hours gets the first answer (with `Idempotent-Replayed: true`) and never adds a second integration; the same key with another request is refused (422). Credential values are not compared"),
    ),
    request_body = CreateIntegrationRequest,
    responses(
        (status = 201, description = "Created; `Location` and `ETag` name it", body = Integration,
            headers(("Location" = String, description = "The new integration's URL"), ("ETag" = String, description = "Its version"), ("Idempotent-Replayed" = String, description = "`true` when this is the kept answer to an earlier request with the same `Idempotency-Key`"))),
        (status = 202, description = "Approval is on: a change request was opened (`Location` names it); nothing is added until it is approved", body = ChangeRequest,
            headers(("Location" = String, description = "The change request's URL"), ("ETag" = String, description = "The request's version"), ("Idempotent-Replayed" = String, description = "`true` when this is the kept answer to an earlier request with the same `Idempotency-Key`"))),
        (status = 403, description = "Only administrators add integrations (operators too while approval is on)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is already used (or waits for approval), or a request with the same `Idempotency-Key` is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, a tool that is not approved or is switched off, or an `Idempotency-Key` used for another request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/integrations")]
pub async fn create_integration(
    operator: Submitter,
    req: HttpRequest,
    state: web::Data<AppState>,
    // The role is decided before the body: a malformed body from someone who may not
    // submit is still a 403.
    body: Result<Body<CreateIntegrationRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?;
    let created = state
        .app
        .create_integration(
            &operator.0.principal(),
            idempotency_key(&req)?.as_ref(),
            body.0,
        )
        .await
        .map_err(ApiError::from)?;
    let mut response = match &created.value {
        Submitted::Applied(integration) => {
            let location = format!("/api/v1/integrations/{}", integration.id);
            let mut response = HttpResponse::Created();
            response.insert_header((header::LOCATION, location));
            response.insert_header(header::ETag(etag(integration.version)));
            response
        }
        Submitted::Requested(request) => {
            let location = format!("/api/v1/change-requests/{}", request.id);
            let mut response = HttpResponse::Accepted();
            response.insert_header((header::LOCATION, location));
            response.insert_header(header::ETag(etag(request.version)));
            response
        }
    };
    if created.replayed {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    Ok(match created.value {
        Submitted::Applied(integration) => response.json(integration),
        Submitted::Requested(request) => response.json(request),
    })
}

/// Read one integration (secret credentials show only whether they are set).
#[utoipa::path(
    tag = "integrations",
    params(("id" = String, Path, description = "Integration id")),
    responses(
        (status = 200, description = "The integration", body = Integration, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/integrations/{id}")]
pub async fn get_integration(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let integration = state.app.get_integration(&integration_id(&id)?).await?;
    Ok(with_etag(HttpResponse::Ok(), &integration))
}

/// Change an integration. Secret fields: absent = keep, `null` = clear, a value = replace.
/// While approval is on, a change of its URLs or secrets becomes a change request (202;
/// operators and administrators); a new name or a plain field alone applies directly.
#[utoipa::path(
    tag = "integrations",
    params(
        ("id" = String, Path, description = "Integration id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; the update fails with 412 if it changed since"),
    ),
    request_body(content = UpdateIntegrationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated integration", body = Integration, headers(("ETag" = String, description = "Its new version"))),
        (status = 202, description = "Approval is on and the change touches URLs or secrets: a change request was opened (`Location` names it); the integration is unchanged until it is approved", body = ChangeRequest,
            headers(("Location" = String, description = "The change request's URL"))),
        (status = 403, description = "Only administrators change integrations directly", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new name is already used, or the integration waits for approval (`pending_approval`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed by someone else since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/integrations/{id}")]
pub async fn update_integration(
    operator: Submitter,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    // The role is decided before the body: a malformed body from someone who may not
    // submit is still a 403.
    body: Result<Body<UpdateIntegrationRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?;
    let submitted = state
        .app
        .update_integration(
            &operator.0.principal(),
            &integration_id(&id)?,
            if_match_version(&req),
            body.0,
        )
        .await
        .map_err(ApiError::from)?;
    Ok(match submitted {
        Submitted::Applied(integration) => with_etag(HttpResponse::Ok(), &integration),
        Submitted::Requested(request) => accepted(&request),
    })
}

/// Delete an integration and its credentials.
#[utoipa::path(
    tag = "integrations",
    params(
        ("id" = String, Path, description = "Integration id"),
        ("If-Match" = Option<String>, Header, description = "Delete only if still at this version"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only administrators delete integrations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It waits for approval (`pending_approval`): withdraw or reject its change request instead", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/integrations/{id}")]
pub async fn delete_integration(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .app
        .delete_integration(
            &admin.0.principal(),
            &integration_id(&id)?,
            if_match_version(&req),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Check a saved integration's connection now; the result also becomes its status.
#[utoipa::path(
    tag = "integrations",
    params(("id" = String, Path, description = "Integration id")),
    responses(
        (status = 200, description = "The check's result (a failed check is a result too: `ok` false)", body = ConnectionCheck),
        (status = 403, description = "Viewers cannot run checks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It waits for approval (`pending_approval`): nothing talks to its tool until its change request is approved", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many of these from this user; see `Retry-After`", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/integrations/{id}/test")]
pub async fn test_integration(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.charge(&operator.0, Costly::ConnectionTest)?;
    let check = state
        .app
        .check_integration(&operator.0.principal(), &integration_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(check))
}

/// Check a connection before saving it: the dialog's fields, with the stored secrets of
/// integration `id` (when given) filling the secret fields left out.
#[utoipa::path(
    tag = "integrations",
    request_body = TestDraftRequest,
    responses(
        (status = 200, description = "The check's result (a failed check is a result too: `ok` false)", body = ConnectionCheck),
        (status = 403, description = "Only those who may submit integrations test drafts: administrators, and operators while approval is on", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No integration with that `id`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The integration `id` waits for approval (`pending_approval`): its stored secrets are not used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or a tool that is not approved", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many of these from this user; see `Retry-After`", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/integrations/test")]
pub async fn test_integration_draft(
    operator: Submitter,
    state: web::Data<AppState>,
    // The role is decided before the body: a malformed body from someone who may not
    // submit is still a 403.
    body: Result<Body<TestDraftRequest>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let body = body?;
    state.charge(&operator.0, Costly::ConnectionTest)?;
    let check = state
        .app
        .test_draft(&operator.0.principal(), body.0)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(check))
}

/// Discover the integration's pipelines now.
#[utoipa::path(
    tag = "integrations",
    params(("id" = String, Path, description = "Integration id")),
    responses(
        (status = 200, description = "What changed", body = SyncReport),
        (status = 403, description = "Viewers cannot sync", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It waits for approval (`pending_approval`): nothing talks to its tool until its change request is approved", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The tool refused or failed; `category` and `hint` say why", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The tool did not answer in time", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many of these from this user; see `Retry-After`", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/integrations/{id}/sync")]
pub async fn sync_integration(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.charge(&operator.0, Costly::Sync)?;
    let report = state
        .app
        .sync_integration(&operator.0.principal(), &integration_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
