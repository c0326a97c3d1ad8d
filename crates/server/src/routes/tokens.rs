//! `/api/v1/tokens` (one's own API tokens) and `/api/v1/service-accounts` (administrators').

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use switchboard_domain::Problem;
use switchboard_domain::token::{
    CreateServiceAccountRequest, CreateTokenRequest, CreatedToken, ServiceAccount,
    ServiceAccountPage, TokenList, UpdateServiceAccountRequest,
};
use utoipa::IntoParams;

use super::{Body, etag, if_match_version, user_id};
use crate::AppState;
use crate::auth::{Admin, Caller};
use crate::error::ApiError;

/// Make an API token for yourself. Its value is in `token`, in this answer only.
#[utoipa::path(
    tag = "tokens",
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "Created: store `token` now, it is never shown again", body = CreatedToken),
        (status = 401, description = "No valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A service account (its tokens are made by administrators), or a token without `manage_users`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a scope beyond your role, an expiry outside 1–365 days, or 100 active tokens already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/tokens")]
pub async fn create_token(
    caller: Caller,
    state: web::Data<AppState>,
    body: Body<CreateTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = state
        .app
        .create_personal_token(&caller.principal(), body.0)
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Your own API tokens, newest first (the latest 200), with their last use. Never their values.
#[utoipa::path(
    tag = "tokens",
    responses(
        (status = 200, description = "Your tokens", body = TokenList),
        (status = 401, description = "No valid credentials", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tokens")]
pub async fn list_tokens(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<web::Json<TokenList>, ApiError> {
    Ok(web::Json(
        state.app.list_own_tokens(&caller.principal()).await?,
    ))
}

/// Revoke a token: your own, or any token for an administrator. It stops working at the
/// next request, on every replica. Revoking a revoked token changes nothing.
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A token without `manage_users`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such token of yours", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/tokens/{id}")]
pub async fn revoke_token(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&id).map_err(|_| ApiError::NotFound("token"))?;
    state
        .app
        .revoke_token(&caller.principal(), id.as_str())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListServiceAccountsParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^([0-9a-fA-F]{2})*$")]
    cursor: Option<String>,
}

/// Service accounts, by name.
#[utoipa::path(
    tag = "service-accounts",
    params(ListServiceAccountsParams),
    responses(
        (status = 200, description = "One page of service accounts", body = ServiceAccountPage),
        (status = 403, description = "Only administrators manage service accounts", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/service-accounts")]
pub async fn list_service_accounts(
    admin: Admin,
    state: web::Data<AppState>,
    params: web::Query<ListServiceAccountsParams>,
) -> Result<web::Json<ServiceAccountPage>, ApiError> {
    let page = state
        .app
        .list_service_accounts(&admin.0.principal(), params.limit, params.cursor.as_deref())
        .await?;
    Ok(web::Json(page))
}

/// Add a service account: an identity for a CI job or a script, with a role, that acts only
/// through its API tokens and never signs in.
#[utoipa::path(
    tag = "service-accounts",
    request_body = CreateServiceAccountRequest,
    responses(
        (status = 201, description = "Created", body = ServiceAccount, headers(("Location" = String, description = "Its URL"), ("ETag" = String, description = "Its version"))),
        (status = 403, description = "Only administrators add service accounts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A user or service account has that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/service-accounts")]
pub async fn create_service_account(
    admin: Admin,
    state: web::Data<AppState>,
    body: Body<CreateServiceAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let account = state
        .app
        .create_service_account(&admin.0.principal(), body.0)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/service-accounts/{}", account.id),
        ))
        .insert_header(header::ETag(etag(account.version)))
        .json(account))
}

fn with_etag(account: ServiceAccount) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(header::ETag(etag(account.version)))
        .json(account)
}

fn account_id(raw: &str) -> Result<switchboard_domain::ids::UserId, ApiError> {
    user_id(raw).map_err(|_| ApiError::NotFound("service account"))
}

/// Read one service account.
#[utoipa::path(
    tag = "service-accounts",
    params(("id" = String, Path, description = "Service account id")),
    responses(
        (status = 200, description = "The service account", body = ServiceAccount, headers(("ETag" = String, description = "Its version"))),
        (status = 403, description = "Only administrators read service accounts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/service-accounts/{id}")]
pub async fn get_service_account(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = state
        .app
        .get_service_account(&admin.0.principal(), &account_id(&id)?)
        .await?;
    Ok(with_etag(account))
}

/// Change a service account's role, or disable it (its tokens stop working at once) or
/// enable it again.
#[utoipa::path(
    tag = "service-accounts",
    params(
        ("id" = String, Path, description = "Service account id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; the update fails with 412 if the account changed since"),
    ),
    request_body = UpdateServiceAccountRequest,
    responses(
        (status = 200, description = "The updated service account", body = ServiceAccount, headers(("ETag" = String, description = "Its new version"))),
        (status = 403, description = "Only administrators change service accounts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service account", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed by someone else since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/service-accounts/{id}")]
pub async fn update_service_account(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<UpdateServiceAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let account = state
        .app
        .update_service_account(
            &admin.0.principal(),
            &account_id(&id)?,
            if_match_version(&req),
            body.0,
        )
        .await?;
    Ok(with_etag(account))
}

/// Make an API token for a service account. Its value is in `token`, in this answer only.
#[utoipa::path(
    tag = "service-accounts",
    params(("id" = String, Path, description = "Service account id")),
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "Created: store `token` now, it is never shown again", body = CreatedToken),
        (status = 403, description = "Only administrators make service-account tokens", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a scope beyond the account's role, an expiry outside 1–365 days, or 100 active tokens already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/service-accounts/{id}/tokens")]
pub async fn create_service_account_token(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<CreateTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = state
        .app
        .create_service_account_token(&admin.0.principal(), &account_id(&id)?, body.0)
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// A service account's tokens, newest first, with their last use. Never their values.
#[utoipa::path(
    tag = "service-accounts",
    params(("id" = String, Path, description = "Service account id")),
    responses(
        (status = 200, description = "Its tokens", body = TokenList),
        (status = 403, description = "Only administrators read service accounts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/service-accounts/{id}/tokens")]
pub async fn list_service_account_tokens(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<TokenList>, ApiError> {
    let tokens = state
        .app
        .list_service_account_tokens(&admin.0.principal(), &account_id(&id)?)
        .await?;
    Ok(web::Json(tokens))
}
