//! One function per API operation, and the one way a failed call is described.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_domain::Problem;
use switchboard_domain::audit::{AuditPage, AuditVerification};
use switchboard_domain::change_request::{
    ApprovalPolicy, ChangeRequest, ChangeRequestPage, NewComment, NewReview, OpenChangeRequest,
    ReviseChangeRequest, UpdateApprovalPolicyRequest,
};
use switchboard_domain::check::{ConnectionCheck, SyncReport, TestDraftRequest};
use switchboard_domain::integration::{
    CreateIntegrationRequest, Integration, IntegrationPage, UpdateIntegrationRequest,
};
use switchboard_domain::pipeline::{
    LogChunk, Pipeline, PipelinePage, Run, RunPage, TriggerRunRequest,
};
use switchboard_domain::token::{
    ApiToken, CreateServiceAccountRequest, CreateTokenRequest, CreatedToken, ServiceAccount,
    ServiceAccountPage, TokenList, UpdateServiceAccountRequest,
};
use switchboard_domain::tools::{Tool, ToolList, UpdateToolRequest};
use switchboard_domain::user::{
    CreateUserRequest, LoginRequest, LoginResponse, UpdateUserRequest, User, UserPage,
};

/// Why a call failed, as the page needs to show it.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with a problem document.
    Problem(Problem),
    /// The server could not be reached, or answered something unreadable.
    Network(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Problem(problem) => problem.status,
            Self::Network(_) => 0,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Problem(problem) => problem.detail.clone(),
            Self::Network(reason) => format!("The server could not be reached ({reason})."),
        }
    }
}

/// A value with the entity tag it was read with.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged<T> {
    pub value: T,
    pub etag: Option<String>,
}

fn with_token(builder: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    let builder = builder.header("Accept", "application/json");
    match token {
        Some(token) => builder.header("Authorization", &format!("Bearer {token}")),
        None => builder,
    }
}

/// The body of a successful answer with its entity tag, or the problem the server described.
/// Not generic, so the problem handling exists once in the wasm.
async fn read_text(response: Response) -> Result<(String, Option<String>), ApiError> {
    let etag = response.headers().get("etag");
    let ok = response.ok();
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|err| ApiError::Network(err.to_string()))?;
    if ok {
        return Ok((text, etag));
    }
    Err(ApiError::Problem(
        serde_json::from_str::<Problem>(&text).unwrap_or_else(|_| {
            Problem::new(
                status,
                switchboard_domain::ErrorCode::Internal,
                "Unexpected answer",
                format!("The server answered {status}."),
            )
        }),
    ))
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<Tagged<T>, ApiError> {
    let (text, etag) = read_text(response).await?;
    let value = serde_json::from_str(&text).map_err(|err| ApiError::Network(err.to_string()))?;
    Ok(Tagged { value, etag })
}

async fn send<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<Tagged<T>, ApiError> {
    let request = request.map_err(|err| ApiError::Network(err.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|err| ApiError::Network(err.to_string()))?;
    read(response).await
}

async fn get<T: DeserializeOwned>(path: &str, token: &str) -> Result<Tagged<T>, ApiError> {
    send(with_token(Request::get(path), Some(token)).build()).await
}

async fn with_body<B: Serialize, T: DeserializeOwned>(
    builder: RequestBuilder,
    token: Option<&str>,
    body: &B,
) -> Result<Tagged<T>, ApiError> {
    send(with_token(builder, token).json(body)).await
}

pub async fn create_session(request: &LoginRequest) -> Result<LoginResponse, ApiError> {
    with_body(Request::post("/api/v1/auth/login"), None, request)
        .await
        .map(|t| t.value)
}

pub async fn list_tools(token: &str) -> Result<Vec<Tool>, ApiError> {
    get::<ToolList>("/api/v1/tools", token)
        .await
        .map(|t| t.value.items)
}

/// The `If-Match` value for a version the server sent (its `ETag` is the version, quoted).
fn version_tag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Switches a tool on or off, if it is still at `version` (else 412).
pub async fn update_tool(
    token: &str,
    id: &str,
    version: i64,
    enabled: bool,
) -> Result<Tool, ApiError> {
    let path = format!("/api/v1/tools/{id}");
    with_body(
        Request::patch(&path).header("If-Match", &version_tag(version)),
        Some(token),
        &UpdateToolRequest {
            enabled,
            business_need: None,
        },
    )
    .await
    .map(|t| t.value)
}

/// What a change that may need approval came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved<T> {
    /// Applied at once.
    Applied(T),
    /// Approval is on: it became this change request (the server answered 202).
    Requested(Box<ChangeRequest>),
}

/// Sends a change that the server applies (2xx with `T`) or turns into a request (202).
async fn send_change<B: Serialize, T: DeserializeOwned>(
    builder: RequestBuilder,
    token: &str,
    body: &B,
) -> Result<Saved<T>, ApiError> {
    let request = with_token(builder, Some(token))
        .json(body)
        .map_err(|err| ApiError::Network(err.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|err| ApiError::Network(err.to_string()))?;
    let accepted = response.status() == 202;
    let (text, _) = read_text(response).await?;
    let network = |err: serde_json::Error| ApiError::Network(err.to_string());
    Ok(if accepted {
        Saved::Requested(Box::new(serde_json::from_str(&text).map_err(network)?))
    } else {
        Saved::Applied(serde_json::from_str(&text).map_err(network)?)
    })
}

/// Asks for a tool to be switched on: while approval is on, a change request with `why`.
pub async fn enable_tool(
    token: &str,
    id: &str,
    version: i64,
    why: Option<String>,
) -> Result<Saved<Tool>, ApiError> {
    send_change(
        Request::patch(&format!("/api/v1/tools/{id}")).header("If-Match", &version_tag(version)),
        token,
        &UpdateToolRequest {
            enabled: true,
            business_need: why,
        },
    )
    .await
}

/// Changes the approval policy: at once while approval is off, as a request while on.
pub async fn update_approval_policy(
    token: &str,
    version: i64,
    request: &UpdateApprovalPolicyRequest,
) -> Result<Saved<ApprovalPolicy>, ApiError> {
    send_change(
        Request::put("/api/v1/approval-policy").header("If-Match", &version_tag(version)),
        token,
        request,
    )
    .await
}

pub async fn approval_policy(token: &str) -> Result<ApprovalPolicy, ApiError> {
    get("/api/v1/approval-policy", token).await.map(|t| t.value)
}

/// One page of change requests; `filter` is the query (e.g. `reviewable_by=me`).
pub async fn list_change_requests(
    token: &str,
    filter: &str,
) -> Result<ChangeRequestPage, ApiError> {
    get(
        &format!("/api/v1/change-requests?limit=100&{filter}"),
        token,
    )
    .await
    .map(|t| t.value)
}

pub async fn get_change_request(token: &str, id: &str) -> Result<ChangeRequest, ApiError> {
    get(&format!("/api/v1/change-requests/{id}"), token)
        .await
        .map(|t| t.value)
}

pub async fn open_change_request(
    token: &str,
    request: &OpenChangeRequest,
) -> Result<ChangeRequest, ApiError> {
    with_body(
        Request::post("/api/v1/change-requests"),
        Some(token),
        request,
    )
    .await
    .map(|t| t.value)
}

/// A new revision, if the request is still at `version` (else 412).
pub async fn revise_change_request(
    token: &str,
    id: &str,
    version: i64,
    revision: &ReviseChangeRequest,
) -> Result<ChangeRequest, ApiError> {
    with_body(
        Request::patch(&format!("/api/v1/change-requests/{id}"))
            .header("If-Match", &version_tag(version)),
        Some(token),
        revision,
    )
    .await
    .map(|t| t.value)
}

pub async fn comment_on_change_request(
    token: &str,
    id: &str,
    comment: &NewComment,
) -> Result<ChangeRequest, ApiError> {
    with_body(
        Request::post(&format!("/api/v1/change-requests/{id}/comments")),
        Some(token),
        comment,
    )
    .await
    .map(|t| t.value)
}

pub async fn review_change_request(
    token: &str,
    id: &str,
    review: &NewReview,
) -> Result<ChangeRequest, ApiError> {
    with_body(
        Request::post(&format!("/api/v1/change-requests/{id}/reviews")),
        Some(token),
        review,
    )
    .await
    .map(|t| t.value)
}

pub async fn withdraw_change_request(token: &str, id: &str) -> Result<ChangeRequest, ApiError> {
    post_empty(&format!("/api/v1/change-requests/{id}/withdraw"), token).await
}

pub async fn dry_run_change_request(token: &str, id: &str) -> Result<ChangeRequest, ApiError> {
    post_empty(&format!("/api/v1/change-requests/{id}/dry-run"), token).await
}

/// Every integration, following the cursors.
pub async fn list_integrations(token: &str) -> Result<Vec<Integration>, ApiError> {
    let mut items = Vec::new();
    let mut path = "/api/v1/integrations?limit=200".to_owned();
    loop {
        let page = get::<IntegrationPage>(&path, token).await?.value;
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => path = format!("/api/v1/integrations?limit=200&cursor={cursor}"),
            None => return Ok(items),
        }
    }
}

pub async fn get_integration(token: &str, id: &str) -> Result<Tagged<Integration>, ApiError> {
    get(&format!("/api/v1/integrations/{id}"), token).await
}

pub async fn create_integration(
    token: &str,
    request: &CreateIntegrationRequest,
) -> Result<Saved<Integration>, ApiError> {
    send_change(Request::post("/api/v1/integrations"), token, request).await
}

pub async fn update_integration(
    token: &str,
    id: &str,
    etag: Option<&str>,
    request: &UpdateIntegrationRequest,
) -> Result<Saved<Integration>, ApiError> {
    let mut builder = Request::patch(&format!("/api/v1/integrations/{id}"));
    if let Some(etag) = etag {
        builder = builder.header("If-Match", etag);
    }
    send_change(builder, token, request).await
}

pub async fn delete_integration(token: &str, id: &str) -> Result<(), ApiError> {
    delete_or_post(with_token(
        Request::delete(&format!("/api/v1/integrations/{id}")),
        Some(token),
    ))
    .await
}

/// A POST without a body (test, sync, cancel).
async fn post_empty<T: DeserializeOwned>(path: &str, token: &str) -> Result<T, ApiError> {
    send(with_token(Request::post(path), Some(token)).build())
        .await
        .map(|t| t.value)
}

pub async fn test_integration_draft(
    token: &str,
    request: &TestDraftRequest,
) -> Result<ConnectionCheck, ApiError> {
    with_body(
        Request::post("/api/v1/integrations/test"),
        Some(token),
        request,
    )
    .await
    .map(|t| t.value)
}

pub async fn test_integration(token: &str, id: &str) -> Result<ConnectionCheck, ApiError> {
    post_empty(&format!("/api/v1/integrations/{id}/test"), token).await
}

pub async fn sync_integration(token: &str, id: &str) -> Result<SyncReport, ApiError> {
    post_empty(&format!("/api/v1/integrations/{id}/sync"), token).await
}

/// Every pipeline whose path contains `q`, following the cursors.
pub async fn list_pipelines(token: &str, q: &str) -> Result<Vec<Pipeline>, ApiError> {
    let mut items = Vec::new();
    let base = format!(
        "/api/v1/pipelines?limit=200&q={}",
        String::from(web_sys::js_sys::encode_uri_component(q))
    );
    let mut path = base.clone();
    loop {
        let page = get::<PipelinePage>(&path, token).await?.value;
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => path = format!("{base}&cursor={cursor}"),
            None => return Ok(items),
        }
    }
}

/// Triggers a pipeline. `idempotency_key` makes a retry of the same request (after a network
/// failure, say) get the first answer instead of starting a second build.
pub async fn trigger_run(
    token: &str,
    pipeline_id: &str,
    idempotency_key: &str,
    request: &TriggerRunRequest,
) -> Result<Run, ApiError> {
    with_body(
        Request::post(&format!("/api/v1/pipelines/{pipeline_id}/runs"))
            .header("Idempotency-Key", idempotency_key),
        Some(token),
        request,
    )
    .await
    .map(|t| t.value)
}

/// A fresh `Idempotency-Key`: 128 random bits as hex (unique, not secret).
pub fn new_idempotency_key() -> String {
    (0..4)
        .map(|_| {
            let word = (web_sys::js_sys::Math::random() * 4_294_967_296.0) as u32;
            format!("{word:08x}")
        })
        .collect()
}

/// The most recent runs (one page), optionally of one status.
pub async fn list_runs(token: &str, status: &str) -> Result<RunPage, ApiError> {
    let filter = if status.is_empty() {
        String::new()
    } else {
        format!("&status={status}")
    };
    get(&format!("/api/v1/runs?limit=100{filter}"), token)
        .await
        .map(|t| t.value)
}

pub async fn get_run(token: &str, id: &str) -> Result<Run, ApiError> {
    get(&format!("/api/v1/runs/{id}"), token)
        .await
        .map(|t| t.value)
}

pub async fn run_log(token: &str, id: &str, offset: u64) -> Result<LogChunk, ApiError> {
    get(&format!("/api/v1/runs/{id}/log?offset={offset}"), token)
        .await
        .map(|t| t.value)
}

pub async fn cancel_run(token: &str, id: &str) -> Result<Run, ApiError> {
    post_empty(&format!("/api/v1/runs/{id}/cancel"), token).await
}

pub async fn list_users(token: &str) -> Result<Vec<User>, ApiError> {
    let mut items = Vec::new();
    let mut path = "/api/v1/users?limit=200".to_owned();
    loop {
        let page = get::<UserPage>(&path, token).await?.value;
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => path = format!("/api/v1/users?limit=200&cursor={cursor}"),
            None => return Ok(items),
        }
    }
}

pub async fn create_user(token: &str, request: &CreateUserRequest) -> Result<User, ApiError> {
    with_body(Request::post("/api/v1/users"), Some(token), request)
        .await
        .map(|t| t.value)
}

/// Changes a user, if still at `version` (else 412).
pub async fn update_user(
    token: &str,
    id: &str,
    version: i64,
    request: &UpdateUserRequest,
) -> Result<User, ApiError> {
    with_body(
        Request::patch(&format!("/api/v1/users/{id}")).header("If-Match", &version_tag(version)),
        Some(token),
        request,
    )
    .await
    .map(|t| t.value)
}

/// Ends the session on the server (the web app forgets it either way).
pub async fn sign_out(token: &str) -> Result<(), ApiError> {
    delete_or_post(with_token(
        Request::post("/api/v1/auth/logout"),
        Some(token),
    ))
    .await
}

/// A request whose answer has no body worth reading (204).
async fn delete_or_post(builder: RequestBuilder) -> Result<(), ApiError> {
    let request = builder
        .build()
        .map_err(|err| ApiError::Network(err.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|err| ApiError::Network(err.to_string()))?;
    read_text(response).await.map(drop)
}

pub async fn list_tokens(token: &str) -> Result<Vec<ApiToken>, ApiError> {
    get::<TokenList>("/api/v1/tokens", token)
        .await
        .map(|t| t.value.items)
}

pub async fn create_token(
    token: &str,
    request: &CreateTokenRequest,
) -> Result<CreatedToken, ApiError> {
    with_body(Request::post("/api/v1/tokens"), Some(token), request)
        .await
        .map(|t| t.value)
}

pub async fn revoke_token(token: &str, id: &str) -> Result<(), ApiError> {
    delete_or_post(with_token(
        Request::delete(&format!("/api/v1/tokens/{id}")),
        Some(token),
    ))
    .await
}

pub async fn list_service_accounts(token: &str) -> Result<Vec<ServiceAccount>, ApiError> {
    let mut items = Vec::new();
    let mut path = "/api/v1/service-accounts?limit=200".to_owned();
    loop {
        let page = get::<ServiceAccountPage>(&path, token).await?.value;
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => path = format!("/api/v1/service-accounts?limit=200&cursor={cursor}"),
            None => return Ok(items),
        }
    }
}

pub async fn create_service_account(
    token: &str,
    request: &CreateServiceAccountRequest,
) -> Result<ServiceAccount, ApiError> {
    with_body(
        Request::post("/api/v1/service-accounts"),
        Some(token),
        request,
    )
    .await
    .map(|t| t.value)
}

/// Changes a service account, if still at `version` (else 412).
pub async fn update_service_account(
    token: &str,
    id: &str,
    version: i64,
    request: &UpdateServiceAccountRequest,
) -> Result<ServiceAccount, ApiError> {
    with_body(
        Request::patch(&format!("/api/v1/service-accounts/{id}"))
            .header("If-Match", &version_tag(version)),
        Some(token),
        request,
    )
    .await
    .map(|t| t.value)
}

pub async fn list_service_account_tokens(token: &str, id: &str) -> Result<Vec<ApiToken>, ApiError> {
    get::<TokenList>(&format!("/api/v1/service-accounts/{id}/tokens"), token)
        .await
        .map(|t| t.value.items)
}

pub async fn create_service_account_token(
    token: &str,
    id: &str,
    request: &CreateTokenRequest,
) -> Result<CreatedToken, ApiError> {
    with_body(
        Request::post(&format!("/api/v1/service-accounts/{id}/tokens")),
        Some(token),
        request,
    )
    .await
    .map(|t| t.value)
}

/// A page of the audit log; `query` is the filters and cursor, already encoded.
pub async fn list_audit_events(token: &str, query: &str) -> Result<AuditPage, ApiError> {
    get::<AuditPage>(&format!("/api/v1/audit-events?{query}"), token)
        .await
        .map(|t| t.value)
}

pub async fn verify_audit_events(token: &str) -> Result<AuditVerification, ApiError> {
    get::<AuditVerification>("/api/v1/audit-events/verify", token)
        .await
        .map(|t| t.value)
}
