//! Request ids and logs, authentication, and problem bodies for every error.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use switchboard_domain::{ErrorCode, Problem};
use tracing::Instrument;

use crate::AppState;
use crate::auth::{Caller, Credential, needs};
use crate::error::{ApiError, PROBLEM_JSON};
use switchboard_app::{Origin, TokenCheck};
use switchboard_domain::token::TokenKind;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in its extensions for whatever records the request (the audit log).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The longest user agent the audit log keeps.
const USER_AGENT_MAX_CHARS: usize = 256;

/// Where a request came from: its client address, user agent and id.
pub fn origin_of(req: &actix_web::HttpRequest, state: &AppState) -> Origin {
    Origin {
        token_id: None,
        client_address: Some(crate::routes::auth::client_address(req, state)),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(USER_AGENT_MAX_CHARS).collect()),
        request_id: req.extensions().get::<RequestId>().map(|id| id.0.clone()),
    }
}

/// A request id from the client when it is short and plain, otherwise a fresh one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// The API and the operations endpoints (not the web app's files or the docs UI's assets).
/// The docs UI's policy: its own files only; `data:` images are the icons in its CSS.
const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn is_api_answer(path: &str) -> bool {
    (path.starts_with("/api/") && !path.starts_with("/api/docs"))
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Logs one line per request (never bodies or query strings) and counts it.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("request", request_id = %id);
    let statements = switchboard_store::StatementTally::default();
    req.extensions_mut().insert(RequestId(id.clone()));
    let result =
        switchboard_app::tallying(statements.clone(), next.call(req).instrument(span.clone()))
            .await;
    let mut response = match result {
        Ok(response) => response.map_into_boxed_body(),
        Err(err) => return Err(err),
    };
    let status = response.status().as_u16();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let user = response
        .request()
        .extensions()
        .get::<Caller>()
        .map(|caller| caller.username.clone());
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if is_api_answer(&path) {
        // API answers may hold what only this caller may see, and are never to be read as
        // another media type than the one they declare.
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    if path.starts_with("/api/docs") {
        // The docs UI runs only its own scripts and styles (React sets inline styles), and no
        // other site may frame it to trick a signed-in user into clicking through it.
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    if let Some(state) = state {
        state
            .metrics
            .observe(&method, &route, status, elapsed, statements.count());
    }
    span.in_scope(|| {
        tracing::info!(
            target: "switchboard::http",
            request_id = %id,
            method = %method,
            path = %path,
            route = %route,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            db_statements = statements.count(),
            user = user.as_deref().unwrap_or("-"),
            "request"
        );
    });
    Ok(response)
}

fn bearer_token(req: &ServiceRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|text| {
            text.strip_prefix("Bearer ")
                .or_else(|| text.strip_prefix("bearer "))
        })
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthenticated(
            "the Authorization header must be `Bearer <token>`",
        ));
    Some(parsed)
}

/// The caller a session token names, if the session still stands: signed, unexpired, not
/// signed out, and its user enabled and not signed out everywhere since (the epoch).
async fn session_caller(
    state: &web::Data<AppState>,
    req: &ServiceRequest,
    token: &str,
) -> Result<Caller, ApiError> {
    let session = state
        .sessions
        .verify(token)
        .ok_or(ApiError::Unauthenticated(
            "the session is invalid or has expired; sign in again",
        ))?;
    let store = state.store.clone();
    let (user_id, session_id) = (session.user_id.clone(), session.session_id.clone());
    let found = web::block(switchboard_app::tallied(move || {
        store.find_session_user(&user_id, &session_id)
    }))
    .await??;
    match found {
        Some((user, false)) if !user.disabled && user.session_epoch == session.epoch => {
            Ok(Caller::new(
                &user,
                Credential::Session {
                    id: session.session_id,
                    expires_at: session.expires_at,
                },
                origin_of(req.request(), state),
            ))
        }
        _ => Err(ApiError::Unauthenticated(
            "the session has ended; sign in again",
        )),
    }
}

/// The caller an API token names, if it works: a typo is refused by its checksum before any
/// lookup, and an unknown token gets the same answer as a malformed one.
async fn token_caller(
    state: &web::Data<AppState>,
    req: &ServiceRequest,
    token: &str,
) -> Result<Caller, ApiError> {
    let client = crate::routes::auth::client_address(req.request(), state);
    match state.app.check_token(token, &client).await? {
        TokenCheck::Valid(found) => Ok(Caller::new(
            &found.owner,
            Credential::Token {
                id: found.token.id.clone(),
                scopes: found.token.scopes.clone(),
            },
            origin_of(req.request(), state),
        )),
        TokenCheck::Expired => Err(ApiError::TokenExpired),
        TokenCheck::Revoked => Err(ApiError::TokenRevoked),
        TokenCheck::OwnerDisabled => Err(ApiError::Unauthenticated(
            "the token's user or service account is disabled",
        )),
        TokenCheck::Unknown => Err(ApiError::Unauthenticated(
            "the API token is not valid; check that it was copied whole",
        )),
    }
}

/// Whether a bearer value is meant as an API token (by its prefix) rather than a session.
fn looks_like_api_token(value: &str) -> bool {
    [TokenKind::Personal, TokenKind::ServiceAccount]
        .iter()
        .any(|kind| value.starts_with(kind.prefix()))
}

/// Resolves `Authorization: Bearer` (a session or an API token) into a [`Caller`] before any
/// handler runs, and refuses a token the route's scope is not granted to. Requests without
/// the header pass through; handlers that need a caller refuse them.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(token) = bearer_token(&req) {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let caller = match (token, state) {
            (Ok(token), Some(state)) if looks_like_api_token(&token) => {
                token_caller(&state, &req, &token).await
            }
            (Ok(token), Some(state)) => session_caller(&state, &req, &token).await,
            (Err(err), _) => Err(err),
            (Ok(_), None) => Err(ApiError::internal("application state missing")),
        };
        let caller = match caller {
            Ok(caller) => caller,
            Err(err) => return Ok(req.into_response(err.error_response())),
        };
        let pattern = req.match_pattern();
        if let Some(pattern) = &pattern
            && let Err(err) = caller.may_call(needs(req.method(), pattern))
        {
            record_denied(req.request(), &caller, pattern, &err.to_string()).await;
            return Ok(req.into_response(err.error_response()));
        }
        req.extensions_mut().insert(caller.clone());
        let response = next.call(req).await?.map_into_boxed_body();
        if response.status() == actix_web::http::StatusCode::FORBIDDEN {
            let detail = response
                .response()
                .error()
                .map_or_else(|| "refused".to_owned(), ToString::to_string);
            let route = pattern.unwrap_or_else(|| response.request().path().to_owned());
            record_denied(response.request(), &caller, &route, &detail).await;
        }
        return Ok(response);
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Records a refused request of `caller` (a token without the route's scope, or a handler's
/// 403) as `denied: METHOD /route/{pattern}`; only refusals pay for the entry.
async fn record_denied(req: &actix_web::HttpRequest, caller: &Caller, route: &str, detail: &str) {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let operation = format!("{} {route}", req.method());
        state
            .app
            .record_denied(&caller.principal(), &operation, detail)
            .await;
    }
}

/// The problem an error answer without one should have had.
fn problem_for_status(status: actix_web::http::StatusCode) -> Problem {
    let (code, title, detail) = match status.as_u16() {
        400 => (
            ErrorCode::MalformedBody,
            "Bad request",
            "the request could not be read",
        ),
        401 => (
            ErrorCode::Unauthenticated,
            "Authentication required",
            "send Authorization: Bearer <token>",
        ),
        403 => (ErrorCode::Forbidden, "Forbidden", "not allowed"),
        404 => (
            ErrorCode::NotFound,
            "Not found",
            "no such resource or route",
        ),
        405 => (
            ErrorCode::MethodNotAllowed,
            "Method not allowed",
            "this route does not answer that method",
        ),
        413 => (
            ErrorCode::PayloadTooLarge,
            "Payload too large",
            "the body is too large",
        ),
        415 => (
            ErrorCode::UnsupportedMediaType,
            "Unsupported media type",
            "send the body as application/json",
        ),
        503 => (
            ErrorCode::DatabaseUnavailable,
            "Service unavailable",
            "try again shortly",
        ),
        402 | 406..=412 | 414 | 416..=499 => (
            ErrorCode::MalformedBody,
            "Bad request",
            "the request could not be handled",
        ),
        _ => (
            ErrorCode::Internal,
            "Internal error",
            "an unexpected error occurred; it has been logged",
        ),
    };
    Problem::new(status.as_u16(), code, title, detail)
}

/// Whatever produced an error answer (actix itself included), it leaves as problem+json.
pub async fn problems_everywhere(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(err) => {
            // An error that escaped the handlers: actix would render it as text.
            let status = err.as_response_error().status_code();
            tracing::warn!(status = status.as_u16(), error = %err, "unhandled error");
            let problem = problem_for_status(status);
            return Err(actix_web::error::InternalError::from_response(
                err,
                HttpResponse::build(status)
                    .content_type(PROBLEM_JSON)
                    .json(problem),
            )
            .into());
        }
    };
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with(PROBLEM_JSON));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return Ok(response.map_into_boxed_body());
    }
    let problem = problem_for_status(status);
    let (request, original) = response.into_parts();
    let mut replacement = HttpResponse::build(status)
        .content_type(PROBLEM_JSON)
        .json(problem);
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement
                .headers_mut()
                .insert(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(request, replacement))
}
