//! `/api/v1/approval-policy` and `/api/v1/change-requests`: prior discussion and approval.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, put, web};
use serde::Deserialize;
use switchboard_app::{ListChangeRequests, Submitted};
use switchboard_domain::Problem;
use switchboard_domain::change_request::{
    ApprovalPolicy, ChangeRequest, ChangeRequestPage, NewComment, NewReview, OpenChangeRequest,
    ReviseChangeRequest, UpdateApprovalPolicyRequest,
};
use utoipa::IntoParams;

use super::{Body, accepted, change_request_id, etag, if_match_version};
use crate::AppState;
use crate::auth::{Admin, Caller, Operator};
use crate::error::ApiError;

fn request_with_etag(
    mut response: actix_web::HttpResponseBuilder,
    request: &ChangeRequest,
) -> HttpResponse {
    response
        .insert_header(header::ETag(etag(request.version)))
        .json(request)
}

/// Read the approval policy: whether new integrations, changes of URLs or secrets, switching
/// a tool on and the policy itself need prior approval, how many approvals, for how long.
#[utoipa::path(
    tag = "approvals",
    responses(
        (status = 200, description = "The policy", body = ApprovalPolicy, headers(("ETag" = String, description = "Its version"))),
    ),
    security(("bearer" = []))
)]
#[get("/approval-policy")]
pub async fn get_approval_policy(
    _caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = state.app.approval_policy().await?;
    Ok(HttpResponse::Ok()
        .insert_header(header::ETag(etag(policy.version)))
        .json(policy))
}

/// Change the approval policy (administrators). While approval is on this is itself a change
/// request (202, with `business_need` required); while it is off it applies at once.
#[utoipa::path(
    tag = "approvals",
    params(
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; fails with 412 if the policy changed since"),
    ),
    request_body = UpdateApprovalPolicyRequest,
    responses(
        (status = 200, description = "Approval was off: the new policy", body = ApprovalPolicy, headers(("ETag" = String, description = "Its version"))),
        (status = 202, description = "Approval is on: a change request was opened (`Location` names it)", body = ChangeRequest,
            headers(("Location" = String, description = "The change request's URL"))),
        (status = 403, description = "Only administrators change the policy", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (or no `business_need` while approval is on)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/approval-policy")]
pub async fn update_approval_policy(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<UpdateApprovalPolicyRequest>,
) -> Result<HttpResponse, ApiError> {
    let submitted = state
        .app
        .update_approval_policy(&admin.0.principal(), if_match_version(&req), body.0)
        .await?;
    Ok(match submitted {
        Submitted::Applied(policy) => HttpResponse::Ok()
            .insert_header(header::ETag(etag(policy.version)))
            .json(policy),
        Submitted::Requested(request) => accepted(&request),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListChangeRequestsParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^([0-9a-fA-F]{2})*$")]
    cursor: Option<String>,
    /// Only requests in this state.
    #[param(example = "open")]
    state: Option<String>,
    /// Only requests of this kind.
    #[param(example = "create_integration")]
    kind: Option<String>,
    /// `me`: only the requests the caller opened.
    #[param(example = "me")]
    author: Option<String>,
    /// `me`: only the open requests the caller may still review (administrators; not their
    /// own, not yet approved by them).
    #[param(example = "me")]
    reviewable_by: Option<String>,
}

/// List change requests, newest first.
#[utoipa::path(
    tag = "approvals",
    params(ListChangeRequestsParams),
    responses(
        (status = 200, description = "One page of change requests", body = ChangeRequestPage),
    ),
    security(("bearer" = []))
)]
#[get("/change-requests")]
pub async fn list_change_requests(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListChangeRequestsParams>,
) -> Result<HttpResponse, ApiError> {
    let ListChangeRequestsParams {
        limit,
        cursor,
        state: request_state,
        kind,
        author,
        reviewable_by,
    } = params.into_inner();
    let page = state
        .app
        .list_change_requests(
            &caller.principal(),
            ListChangeRequests {
                limit,
                cursor,
                state: request_state,
                kind,
                author,
                reviewable_by,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Open a change request (operators and administrators; a policy change administrators).
#[utoipa::path(
    tag = "approvals",
    request_body = OpenChangeRequest,
    responses(
        (status = 201, description = "Opened; `Location` names it", body = ChangeRequest,
            headers(("Location" = String, description = "The request's URL"), ("ETag" = String, description = "Its version"))),
        (status = 403, description = "Viewers cannot open requests", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is already used, or the integration waits for approval", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, a tool that is not approved or is switched off", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/change-requests")]
pub async fn create_change_request(
    operator: Operator,
    state: web::Data<AppState>,
    body: Body<OpenChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = state
        .app
        .open_change_request(&operator.0.principal(), body.0)
        .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((
        header::LOCATION,
        format!("/api/v1/change-requests/{}", request.id),
    ));
    Ok(request_with_etag(response, &request))
}

/// Read a change request: its diff against what is live, dry run, timeline, and what the
/// caller may do now (with the reason when not).
#[utoipa::path(
    tag = "approvals",
    params(("id" = String, Path, description = "Change request id")),
    responses(
        (status = 200, description = "The request", body = ChangeRequest, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No such change request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/change-requests/{id}")]
pub async fn get_change_request(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let request = state
        .app
        .get_change_request(&caller.principal(), &change_request_id(&id)?)
        .await?;
    Ok(request_with_etag(HttpResponse::Ok(), &request))
}

/// Write a new revision (its author, or an administrator — who may then not approve it).
/// Earlier approvals no longer count; a request with changes requested or in conflict opens
/// again.
#[utoipa::path(
    tag = "approvals",
    params(
        ("id" = String, Path, description = "Change request id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; fails with 412 if the request changed since"),
    ),
    request_body = ReviseChangeRequest,
    responses(
        (status = 200, description = "The request with its new revision", body = ChangeRequest, headers(("ETag" = String, description = "Its version"))),
        (status = 403, description = "Not its author or an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such change request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request is decided (`request_not_open`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/change-requests/{id}")]
pub async fn update_change_request(
    operator: Operator,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<ReviseChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = state
        .app
        .revise_change_request(
            &operator.0.principal(),
            &change_request_id(&id)?,
            if_match_version(&req),
            body.0,
        )
        .await?;
    Ok(request_with_etag(HttpResponse::Ok(), &request))
}

/// Comment in the request's discussion (plain text; operators and administrators).
#[utoipa::path(
    tag = "approvals",
    params(("id" = String, Path, description = "Change request id")),
    request_body = NewComment,
    responses(
        (status = 201, description = "The request with the comment in its timeline", body = ChangeRequest),
        (status = 403, description = "Viewers read the discussion only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such change request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty or too long comment, or `reply_to` not in this timeline", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/change-requests/{id}/comments")]
pub async fn create_change_request_comment(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<NewComment>,
) -> Result<HttpResponse, ApiError> {
    let request = state
        .app
        .comment_on_change_request(&operator.0.principal(), &change_request_id(&id)?, body.0)
        .await?;
    Ok(request_with_etag(HttpResponse::Created(), &request))
}

/// Review a request (administrators who did not write it): approve — applied at once, in
/// one transaction, when it has the approvals the policy needs — reject, or request changes
/// (both with a comment). A sole administrator approves their own request only with a
/// written reason.
#[utoipa::path(
    tag = "approvals",
    params(("id" = String, Path, description = "Change request id")),
    request_body = NewReview,
    responses(
        (status = 201, description = "The request with the review (and, when approved, its new state)", body = ChangeRequest),
        (status = 403, description = "Not an administrator, or one of its authors (`self_approval`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such change request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open (`request_not_open`), an older revision (`stale_revision`), reviewed already (`already_reviewed`), or the live integration changed since it was written (`request_conflict`: the request is now in state `conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A comment is required", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/change-requests/{id}/reviews")]
pub async fn create_change_request_review(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<NewReview>,
) -> Result<HttpResponse, ApiError> {
    let request = state
        .app
        .review_change_request(&admin.0.principal(), &change_request_id(&id)?, body.0)
        .await?;
    Ok(request_with_etag(HttpResponse::Created(), &request))
}

/// Withdraw a request (its author). Its secrets are destroyed; a pending integration goes.
#[utoipa::path(
    tag = "approvals",
    params(("id" = String, Path, description = "Change request id")),
    responses(
        (status = 200, description = "The withdrawn request", body = ChangeRequest),
        (status = 403, description = "Only its author withdraws it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such change request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/change-requests/{id}/withdraw")]
pub async fn withdraw_change_request(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let request = state
        .app
        .withdraw_change_request(&caller.principal(), &change_request_id(&id)?)
        .await?;
    Ok(request_with_etag(HttpResponse::Ok(), &request))
}

/// Dry-run a request: check the proposed connection and count the pipelines discovery would
/// find (for a change: which live ones would disappear). Its authors and administrators run
/// it; the live integration is not touched.
#[utoipa::path(
    tag = "approvals",
    params(("id" = String, Path, description = "Change request id")),
    responses(
        (status = 200, description = "The request with the dry run's result in `dry_run` and its timeline", body = ChangeRequest),
        (status = 403, description = "Not one of its authors or an administrator, or not a request about an integration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such change request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already, a newer revision meanwhile (`stale_revision`), or the integration changed since the revision (`request_conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many connection tests from this user; see `Retry-After`", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/change-requests/{id}/dry-run")]
pub async fn dry_run_change_request(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.charge(&operator.0, crate::rate_limit::Costly::ConnectionTest)?;
    let request = state
        .app
        .dry_run_change_request(&operator.0.principal(), &change_request_id(&id)?)
        .await?;
    Ok(request_with_etag(HttpResponse::Ok(), &request))
}
