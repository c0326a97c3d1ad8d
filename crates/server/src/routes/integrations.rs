//! `/api/v1/integrations`: the organisation's configured CI/CD tools.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::ExposeSecret;
use switchboard_connectors::Target;
use switchboard_domain::check::{ConnectionCheck, SyncReport, TestDraftRequest};
use switchboard_domain::integration::{
    CreateIntegrationRequest, CredentialChange, Integration, IntegrationPage,
    UpdateIntegrationRequest,
};
use switchboard_domain::tools::{APPROVED_TOOLS, find_tool};
use switchboard_domain::{FieldErrorCode, Problem, ValidationErrors};
use switchboard_store::{IntegrationQuery, StoredCredential};
use utoipa::IntoParams;

use super::{Body, blocking, decode_cursor, encode_cursor, etag, if_match_version, page_size};
use crate::AppState;
use crate::auth::{Admin, Caller, Operator};
use crate::error::ApiError;
use crate::tooling::Tooling;

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

fn approved_tool_list() -> String {
    APPROVED_TOOLS
        .iter()
        .map(|tool| tool.id)
        .collect::<Vec<_>>()
        .join(", ")
}

fn with_etag(
    mut response: actix_web::HttpResponseBuilder,
    integration: &Integration,
) -> HttpResponse {
    response
        .insert_header(header::ETag(etag(integration.version)))
        .json(integration)
}

/// Every save checks the connection (its result is the answer's `status` and `last_check`)
/// and, when it succeeded, discovers the pipelines in the background.
async fn check_after_save(tooling: &Arc<Tooling>, saved: Integration) -> Integration {
    match tooling
        .check_integration(&saved.id, Some(crate::tooling::SAVE_CHECK_BOUND))
        .await
    {
        Ok((checked, check)) => {
            if check.ok {
                let tooling = tooling.clone();
                let id = checked.id.clone();
                actix_web::rt::spawn(async move {
                    if let Err(err) = tooling.sync_integration(&id).await {
                        tracing::warn!(integration = %id, error = %err, "discovery after save failed");
                    }
                });
            }
            checked
        }
        Err(err) => {
            // The save itself succeeded; the periodic re-check will record a result.
            tracing::warn!(integration = %saved.id, error = %err, "cannot check after saving");
            saved
        }
    }
}

fn name_taken(name: &str) -> ApiError {
    ApiError::NameTaken(format!(
        "an integration named {name:?} already exists (names are compared ignoring case)"
    ))
}

fn not_found(err: ApiError) -> ApiError {
    match err {
        ApiError::NotFound(_) => ApiError::NotFound("integration"),
        other => other,
    }
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
    let params = params.into_inner();
    let limit = page_size(params.limit)?;
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    if let Some(tool) = &params.tool
        && find_tool(tool).is_none()
    {
        return Err(ApiError::InvalidParameter(format!(
            "tool {tool:?} is not approved; approved tools: {}",
            approved_tool_list()
        )));
    }
    if params.q.as_ref().is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::InvalidParameter(
            "q has at most 100 characters".into(),
        ));
    }
    let query = IntegrationQuery {
        limit,
        after,
        tool: params.tool,
        name_contains: params.q.filter(|q| !q.trim().is_empty()),
    };
    let cache_key = format!("{:?}", query);
    let state = state.into_inner();
    let page = blocking(move || {
        let version = state.store.integrations_version()?;
        if let Some(page) = state.integration_pages.get(&cache_key, version) {
            return Ok(page);
        }
        let (items, next) = state.store.list_integrations(&query)?;
        let page = IntegrationPage {
            items,
            next_cursor: next.as_deref().map(encode_cursor),
        };
        let body = web::Bytes::from(serde_json::to_vec(&page).map_err(ApiError::internal)?);
        state
            .integration_pages
            .put(cache_key, version, body.clone());
        Ok(body)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(page))
}

/// Create an integration of an approved, enabled tool.
#[utoipa::path(
    tag = "integrations",
    request_body = CreateIntegrationRequest,
    responses(
        (status = 201, description = "Created; `Location` and `ETag` name it", body = Integration,
            headers(("Location" = String, description = "The new integration's URL"), ("ETag" = String, description = "Its version"))),
        (status = 403, description = "Only administrators add integrations", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is already used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or a tool that is not approved or is switched off", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/integrations")]
pub async fn create_integration(
    admin: Admin,
    state: web::Data<AppState>,
    body: Body<CreateIntegrationRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let store = state.store.clone();
    let integration = blocking(move || {
        let enabled_tool = match find_tool(&request.tool) {
            Some(tool) if store.tool_enabled(tool.id)? => Some(tool),
            _ => None,
        };
        let Some(tool) = enabled_tool else {
            let policy = store.tool_policy()?;
            let allowed: Vec<&str> = APPROVED_TOOLS
                .iter()
                .filter(|tool| policy.get(tool.id).is_none_or(|setting| setting.enabled))
                .map(|tool| tool.id)
                .collect();
            let reason = if find_tool(&request.tool).is_some() {
                "is switched off by an administrator"
            } else {
                "is not an approved tool"
            };
            let detail = format!(
                "{:?} {reason}; the approved, enabled tools are: {}",
                request.tool,
                if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                }
            );
            return Err(ApiError::ToolNotApproved(detail));
        };
        let draft = request.parse(tool).map_err(ApiError::Validation)?;
        store
            .create_integration(&draft, &admin.0.username)
            .map_err(|err| match ApiError::from(err) {
                ApiError::NameTaken(_) => name_taken(draft.name.as_str()),
                other => other,
            })
    })
    .await?;
    let integration = check_after_save(&state.tooling, integration).await;
    let location = format!("/api/v1/integrations/{}", integration.id);
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, location));
    Ok(with_etag(response, &integration))
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
    let store = state.store.clone();
    let integration = blocking(move || Ok(store.get_integration(&id)?))
        .await
        .map_err(not_found)?;
    Ok(with_etag(HttpResponse::Ok(), &integration))
}

/// Change an integration. Secret fields: absent = keep, `null` = clear, a value = replace.
#[utoipa::path(
    tag = "integrations",
    params(
        ("id" = String, Path, description = "Integration id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; the update fails with 412 if it changed since"),
    ),
    request_body(content = UpdateIntegrationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated integration", body = Integration, headers(("ETag" = String, description = "Its new version"))),
        (status = 403, description = "Only administrators change integrations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new name is already used", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed by someone else since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/integrations/{id}")]
pub async fn update_integration(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<UpdateIntegrationRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match_version(&req);
    let request = body.0;
    let store = state.store.clone();
    let new_name = request.name.clone();
    let integration = blocking(move || {
        Ok(store.update_integration(&id, expected, |tool, stored| request.parse(tool, stored))?)
    })
    .await
    .map_err(|err| match not_found(err) {
        ApiError::NameTaken(_) => name_taken(new_name.as_deref().unwrap_or_default().trim()),
        other => other,
    })?;
    let integration = check_after_save(&state.tooling, integration).await;
    Ok(with_etag(HttpResponse::Ok(), &integration))
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
        (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/integrations/{id}")]
pub async fn delete_integration(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match_version(&req);
    let store = state.store.clone();
    blocking(move || Ok(store.delete_integration(&id, expected)?))
        .await
        .map_err(not_found)?;
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
    ),
    security(("bearer" = []))
)]
#[post("/integrations/{id}/test")]
pub async fn test_integration(
    _operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (_, check) = state
        .tooling
        .check_integration(&id, None)
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(check))
}

/// Check a connection before saving it: the dialog's fields, with the stored secrets of
/// integration `id` (when given) filling the secret fields left out.
#[utoipa::path(
    tag = "integrations",
    request_body = TestDraftRequest,
    responses(
        (status = 200, description = "The check's result (a failed check is a result too: `ok` false)", body = ConnectionCheck),
        (status = 403, description = "Only administrators test drafts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No integration with that `id`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or a tool that is not approved", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/integrations/test")]
pub async fn test_integration_draft(
    _admin: Admin,
    state: web::Data<AppState>,
    body: Body<TestDraftRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let Some(tool) = find_tool(&request.tool) else {
        return Err(ApiError::ToolNotApproved(format!(
            "{:?} is not an approved tool; approved tools: {}",
            request.tool,
            approved_tool_list()
        )));
    };
    let mut credentials = request.credentials;
    if let Some(id) = request.id {
        let store = state.store.clone();
        let (stored_tool, stored) = blocking(move || {
            let integration = store.get_integration(&id)?;
            Ok((integration.tool, store.open_credentials(&id)?))
        })
        .await
        .map_err(not_found)?;
        if stored_tool != tool.id {
            return Err(ApiError::Validation(ValidationErrors::single(
                "tool",
                FieldErrorCode::InvalidFormat,
                format!("the integration is a {stored_tool} integration; its tool cannot change"),
            )));
        }
        for (key, credential) in stored {
            let slot = credentials.entry(key).or_insert(None);
            if slot.is_none() {
                *slot = Some(match credential {
                    StoredCredential::Plain(value) => value,
                    StoredCredential::Secret(secret) => secret.expose_secret().to_owned(),
                });
            }
        }
    }
    let draft = CreateIntegrationRequest {
        name: tool.name.to_owned(),
        tool: tool.id.to_owned(),
        urls: request.urls,
        credentials,
    }
    .parse(tool)
    .map_err(ApiError::Validation)?;
    let mut target = Target {
        urls: draft
            .urls
            .iter()
            .map(|(key, url)| (key.as_str().to_owned(), url.as_str().to_owned()))
            .collect(),
        fields: BTreeMap::new(),
        secrets: BTreeMap::new(),
    };
    for (key, change) in draft.credentials {
        let CredentialChange::Set(value) = change else {
            continue;
        };
        if tool.credential_field(key).is_some_and(|field| field.secret) {
            target
                .secrets
                .insert(key.to_owned(), value.into_inner().into());
        } else {
            target.fields.insert(key.to_owned(), value.into_inner());
        }
    }
    let check = state.tooling.check(tool.id, &target, None).await;
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
        (status = 502, description = "The tool refused or failed; `category` and `hint` say why", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The tool did not answer in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/integrations/{id}/sync")]
pub async fn sync_integration(
    _operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let report = state
        .tooling
        .sync_integration(&id)
        .await
        .map_err(not_found)?;
    Ok(HttpResponse::Ok().json(report))
}
