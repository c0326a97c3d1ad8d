//! `/api/v1/tools`: the approved-tool registry and the administrators' policy over it.

use actix_web::{get, patch, web};
use switchboard_domain::Problem;
use switchboard_domain::tools::{APPROVED_TOOLS, Tool, ToolList, UpdateToolRequest, find_tool};

use super::{Body, blocking};
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
    let store = state.store.clone();
    let policy = blocking(move || Ok(store.tool_policy()?)).await?;
    let items = APPROVED_TOOLS
        .iter()
        .map(|spec| Tool::from_spec(spec, policy.get(spec.id).copied().unwrap_or(true)))
        .collect();
    Ok(web::Json(ToolList { items }))
}

/// Switch an approved tool on or off. Existing integrations stay; new ones are refused while off.
#[utoipa::path(
    tag = "tools",
    params(("id" = String, Path, description = "Tool id", example = "jenkins")),
    request_body = UpdateToolRequest,
    responses(
        (status = 200, description = "The tool with its new setting", body = Tool),
        (status = 403, description = "Only administrators set the tool policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an approved tool", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/tools/{id}")]
pub async fn update_tool(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<UpdateToolRequest>,
) -> Result<web::Json<Tool>, ApiError> {
    let spec = find_tool(&id).ok_or(ApiError::NotFound("approved tool"))?;
    let enabled = body.enabled;
    let store = state.store.clone();
    let by = admin.0.username.clone();
    blocking(move || Ok(store.set_tool_enabled(spec.id, enabled, &by)?)).await?;
    tracing::info!(tool = spec.id, enabled, by = %admin.0.username, "tool policy changed");
    Ok(web::Json(Tool::from_spec(spec, enabled)))
}
