//! `/api/v1/tools`: the approved-tool registry and the administrators' policy over it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, web};
use switchboard_domain::Problem;
use switchboard_domain::tools::{Tool, ToolList, UpdateToolRequest};

use switchboard_app::Submitted;
use switchboard_domain::change_request::ChangeRequest;

use super::{Body, accepted, etag, if_match_version};
use crate::AppState;
use crate::auth::{Admin, Caller};
use crate::error::ApiError;

/// List the approved tools with their form schema, capabilities and whether they are enabled.
#[utoipa::path(
    tag = "tools",
    responses((status = 200, description = "Every approved tool", body = ToolList)),
    security(("bearer" = []))
)]
#[get("/tools")]
pub async fn list_tools(
    _caller: Caller,
    state: web::Data<AppState>,
) -> Result<web::Json<ToolList>, ApiError> {
    Ok(web::Json(state.app.list_tools().await?))
}

fn with_etag(tool: Tool) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(header::ETag(etag(tool.version)))
        .json(tool)
}

/// Read one approved tool with its form schema, capabilities and setting.
#[utoipa::path(
    tag = "tools",
    params(("id" = String, Path, description = "Tool id", example = "jenkins")),
    responses(
        (status = 200, description = "The tool", body = Tool, headers(("ETag" = String, description = "The version of its setting"))),
        (status = 404, description = "Not an approved tool", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tools/{id}")]
pub async fn get_tool(
    _caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(with_etag(state.app.get_tool(&id).await?))
}

/// Switch an approved tool on or off. Existing integrations stay; new ones are refused while off.
/// While approval is on, switching a tool on becomes a change request (202).
#[utoipa::path(
    tag = "tools",
    params(
        ("id" = String, Path, description = "Tool id", example = "jenkins"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; the change fails with 412 if the setting changed since"),
    ),
    request_body = UpdateToolRequest,
    responses(
        (status = 200, description = "The tool with its new setting", body = Tool, headers(("ETag" = String, description = "The new version of its setting"))),
        (status = 202, description = "Approval is on: switching it on became a change request (`Location` names it)", body = ChangeRequest,
            headers(("Location" = String, description = "The change request's URL"))),
        (status = 403, description = "Only administrators set the tool policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an approved tool", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed by someone else since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/tools/{id}")]
pub async fn update_tool(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<UpdateToolRequest>,
) -> Result<HttpResponse, ApiError> {
    let submitted = state
        .app
        .update_tool(&admin.0.principal(), &id, if_match_version(&req), body.0)
        .await?;
    Ok(match submitted {
        Submitted::Applied(tool) => with_etag(tool),
        Submitted::Requested(request) => accepted(&request),
    })
}
