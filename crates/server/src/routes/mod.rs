//! One module per resource, one function per operation (named after its operationId).

pub mod approvals;
pub mod audit;
pub mod auth;
pub mod integrations;
pub mod operations;
pub mod pipelines;
pub mod runs;
pub mod tokens;
pub mod tools;
pub mod users;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use utoipa_actix_web::service_config::ServiceConfig;

use switchboard_app::IdempotencyKey;
use switchboard_domain::ids::{ChangeRequestId, IntegrationId, PipelineId, RunId, UserId};

use crate::error::ApiError;
use crate::{AppState, BODY_LIMIT_BYTES};

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(auth::create_session)
        .service(auth::get_current_user)
        .service(auth::delete_session)
        .service(auth::change_password)
        .service(tokens::create_token)
        .service(tokens::list_tokens)
        .service(tokens::revoke_token)
        .service(tokens::list_service_accounts)
        .service(tokens::create_service_account)
        .service(tokens::get_service_account)
        .service(tokens::update_service_account)
        .service(tokens::create_service_account_token)
        .service(tokens::list_service_account_tokens)
        .service(tools::list_tools)
        .service(tools::get_tool)
        .service(tools::update_tool)
        .service(integrations::list_integrations)
        .service(integrations::create_integration)
        .service(integrations::test_integration_draft)
        .service(integrations::get_integration)
        .service(integrations::update_integration)
        .service(integrations::delete_integration)
        .service(integrations::test_integration)
        .service(integrations::sync_integration)
        .service(pipelines::list_pipelines)
        .service(pipelines::get_pipeline)
        .service(pipelines::create_run)
        .service(pipelines::list_pipeline_runs)
        .service(runs::list_runs)
        .service(runs::get_run)
        .service(runs::get_run_log)
        .service(runs::cancel_run)
        .service(users::list_users)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::update_user)
        .service(approvals::get_approval_policy)
        .service(approvals::update_approval_policy)
        .service(approvals::list_change_requests)
        .service(approvals::create_change_request)
        .service(approvals::get_change_request)
        .service(approvals::update_change_request)
        .service(approvals::create_change_request_comment)
        .service(approvals::create_change_request_review)
        .service(approvals::withdraw_change_request)
        .service(approvals::dry_run_change_request)
        .service(audit::list_audit_events)
        .service(audit::export_audit_events)
        .service(audit::verify_audit_events);
}

/// `202 Accepted` for a change that became a change request: the request, and where it is.
pub fn accepted(
    request: &switchboard_domain::change_request::ChangeRequest,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Accepted()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/change-requests/{}", request.id),
        ))
        .insert_header(header::ETag(etag(request.version)))
        .json(request)
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(BODY_LIMIT_BYTES)
        .content_type(|mime| {
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        })
        .content_type_required(true)
        .error_handler(|err, _req| {
            let api = match &err {
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
                JsonPayloadError::Deserialize(inner) => ApiError::MalformedBody(inner.to_string()),
                other => ApiError::MalformedBody(other.to_string()),
            };
            actix_web::error::InternalError::from_response(
                err,
                actix_web::ResponseError::error_response(&api),
            )
            .into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        let api = ApiError::InvalidParameter(err.to_string());
        actix_web::error::InternalError::from_response(
            err,
            actix_web::ResponseError::error_response(&api),
        )
        .into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        let api = ApiError::InvalidParameter(err.to_string());
        actix_web::error::InternalError::from_response(
            err,
            actix_web::ResponseError::error_response(&api),
        )
        .into()
    })
}

/// A JSON object body. Unlike `web::Json`, it refuses arrays and other non-objects, which
/// serde would otherwise accept for a struct by position.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> std::ops::Deref for Body<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(value) = json.await?;
            if !value.is_object() {
                return Err(
                    ApiError::MalformedBody("the body must be a JSON object".into()).into(),
                );
            }
            serde_json::from_value(value)
                .map(Body)
                .map_err(|err| ApiError::MalformedBody(err.to_string()).into())
        })
    }
}

/// Unknown routes answer 404, and known routes asked with another method 405.
pub async fn fallback(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<actix_web::HttpResponse, ApiError> {
    Err(match state.routes.allowed_methods(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed { allow },
        None => ApiError::NotFound("route"),
    })
}

/// Runs blocking store work off the async workers, counted for the request it serves.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(switchboard_app::tallied(work)).await?
}

/// The strong entity tag of a version.
pub fn etag(version: i64) -> header::EntityTag {
    header::EntityTag::new_strong(version.to_string())
}

/// Stands for an `If-Match` value that names no version of this API: it can never match.
const MATCHES_NO_VERSION: i64 = -1;

/// The version `If-Match` requires: `None` when absent or `*`. Per RFC 9110 a value that
/// matches no current tag (a weak tag, a tag from elsewhere) fails the precondition: 412.
pub fn if_match_version(req: &HttpRequest) -> Option<i64> {
    let text = req
        .headers()
        .get(header::IF_MATCH)?
        .to_str()
        .unwrap_or_default()
        .trim();
    if text == "*" {
        return None;
    }
    let bare = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    Some(bare.parse::<i64>().unwrap_or(MATCHES_NO_VERSION))
}

/// The request's `Idempotency-Key`, if it has one; a value that is not 1–255 visible ASCII
/// characters is refused (400).
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(IdempotencyKey::parse)
        .map(Some)
        .ok_or_else(|| {
            ApiError::InvalidParameter(
                "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            )
        })
}

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Set on an answer that is the kept first answer to an earlier request with the same key.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// A path's integration id; an id no integration can have names none: 404.
pub fn integration_id(raw: &str) -> Result<IntegrationId, ApiError> {
    IntegrationId::parse(raw).ok_or(ApiError::NotFound("integration"))
}

/// A path's change request id (see [`integration_id`]).
pub fn change_request_id(raw: &str) -> Result<ChangeRequestId, ApiError> {
    ChangeRequestId::parse(raw).ok_or(ApiError::NotFound("change request"))
}

/// A path's pipeline id (see [`integration_id`]).
pub fn pipeline_id(raw: &str) -> Result<PipelineId, ApiError> {
    PipelineId::parse(raw).ok_or(ApiError::NotFound("pipeline"))
}

/// A path's run id (see [`integration_id`]).
pub fn run_id(raw: &str) -> Result<RunId, ApiError> {
    RunId::parse(raw).ok_or(ApiError::NotFound("run"))
}

/// A path's user id (see [`integration_id`]).
pub fn user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).ok_or(ApiError::NotFound("user"))
}
