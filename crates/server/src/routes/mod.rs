//! One module per resource, one function per operation (named after its operationId).

pub mod auth;
pub mod integrations;
pub mod operations;
pub mod tools;
pub mod users;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::{AppState, BODY_LIMIT_BYTES};

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(auth::create_session)
        .service(auth::get_current_user)
        .service(tools::list_tools)
        .service(tools::update_tool)
        .service(integrations::list_integrations)
        .service(integrations::create_integration)
        .service(integrations::get_integration)
        .service(integrations::update_integration)
        .service(integrations::delete_integration)
        .service(users::list_users)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::update_user);
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

/// Runs blocking store work off the async workers.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(work).await?
}

/// The strong entity tag of a version.
pub fn etag(version: i64) -> header::EntityTag {
    header::EntityTag::new_strong(version.to_string())
}

/// The version `If-Match` requires: `None` when absent or `*`.
pub fn if_match_version(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::InvalidParameter("If-Match is not readable text".into()))?
        .trim();
    if text == "*" {
        return Ok(None);
    }
    text.strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|inner| inner.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::InvalidParameter(format!(
                "If-Match must be an ETag from this API such as \"3\", not {text}"
            ))
        })
}

/// Cursors are opaque to clients: the sort key of the last item, base64url-encoded.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::InvalidParameter("cursor is not one this API returned".into()))
}

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;

pub fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => Ok(limit),
        Some(limit) => Err(ApiError::InvalidParameter(format!(
            "limit must be 1 to {MAX_PAGE_SIZE}, not {limit}"
        ))),
    }
}
