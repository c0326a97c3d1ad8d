//! `/api/v1/auth`: sign-in and the current session.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use switchboard_app::AppError;
use switchboard_domain::Problem;
use switchboard_domain::token::{ChangePasswordRequest, Scope};
use switchboard_domain::user::{LoginRequest, LoginResponse, SessionUser};
use switchboard_store::StoredUser;

use super::Body;
use crate::AppState;
use crate::auth::{Caller, Credential};
use crate::error::ApiError;
use crate::rate_limit::whole_seconds;

/// The client's address, from a trusted proxy's `X-Forwarded-For` when there is one.
pub(crate) fn client_address(req: &HttpRequest, state: &AppState) -> String {
    // Every header line in order: a proxy may add a line of its own rather than append.
    let forwarded_for = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    state.trusted_proxies.client_address(
        req.peer_addr().map(|addr| addr.ip()),
        (!forwarded_for.is_empty()).then_some(forwarded_for.as_str()),
    )
}

/// Sign in with a user name and password; returns a bearer token.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong user name or password, or a disabled account", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this user name from this client, or from this client; see `Retry-After`", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(())
)]
#[post("/auth/login")]
pub async fn create_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<LoginRequest>,
) -> Result<web::Json<LoginResponse>, ApiError> {
    let LoginRequest { username, password } = body.0;
    let client = client_address(&req, &state);
    // Counted before the password hash is computed, so a burst of guesses costs little.
    let attempt = match state.limiter.begin(&username, &client, Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait) => {
            tracing::warn!(client = %client, "sign-in throttled");
            return Err(ApiError::RateLimited {
                retry_after_secs: whole_seconds(wait),
                what: "too many failed sign-ins for this user name or from this address".into(),
            });
        }
    };
    let origin = crate::middleware::origin_of(&req, &state);
    let from = switchboard_store::AuditActor {
        id: None,
        name: "anonymous".into(),
        kind: Some(switchboard_domain::audit::ActorKind::Anonymous),
        token_id: None,
        client_address: origin.client_address,
        user_agent: origin.user_agent,
        request_id: origin.request_id,
    };
    let user = state.app.authenticate(&username, password, &from).await?;
    let Some(user) = user else {
        tracing::info!(client = %client, "sign-in refused");
        return Err(ApiError::InvalidLogin);
    };
    state.limiter.succeeded(attempt);
    tracing::info!(user = %user.username, "signed in");
    new_session(&state, &user).map(web::Json)
}

/// A new session for `user`.
fn new_session(state: &AppState, user: &StoredUser) -> Result<LoginResponse, ApiError> {
    Ok(LoginResponse {
        access_token: state.sessions.issue(user)?,
        token_type: "Bearer".into(),
        expires_in: state.sessions.ttl.as_secs(),
        user: SessionUser {
            id: user.id.clone(),
            username: user.username.clone(),
            role: user.role,
            kind: user.kind,
            scopes: Scope::usable_by(user.role),
            token_id: None,
        },
    })
}

/// Sign out: the session (or the API token) used for this request stops working at once,
/// on every replica.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 204, description = "Signed out: this session or token no longer works"),
        (status = 401, description = "No valid credentials", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/auth/logout")]
pub async fn delete_session(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match &caller.credential {
        Credential::Session { id, expires_at } => {
            state
                .app
                .end_session(&caller.principal(), id, *expires_at)
                .await?;
        }
        Credential::Token { id, .. } => {
            state.app.revoke_token(&caller.principal(), id).await?;
        }
    }
    tracing::info!(user = %caller.username, "signed out");
    Ok(HttpResponse::NoContent().finish())
}

/// Change one's own password, proving the current one. Every session of the user ends;
/// the answer is a new session for the caller. API tokens keep working.
#[utoipa::path(
    tag = "auth",
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Changed; a new session", body = LoginResponse),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not with an API token, and not for a service account", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user changed while the password was checked; try again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The current password is wrong, or the new one is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords; see `Retry-After`", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/auth/password")]
pub async fn change_password(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    body: Body<ChangePasswordRequest>,
) -> Result<web::Json<LoginResponse>, ApiError> {
    // The middleware refuses tokens here already (`Needs::Session`); this keeps the rule
    // with the operation too.
    if !matches!(caller.credential, Credential::Session { .. }) {
        return Err(ApiError::SessionRequired);
    }
    let client = client_address(&req, &state);
    // Guessing the current password from a stolen session is throttled like sign-in.
    let attempt = state
        .limiter
        .begin(&caller.username, &client, Instant::now())
        .map_err(|wait| ApiError::RateLimited {
            retry_after_secs: whole_seconds(wait),
            what: "too many wrong passwords for this user or from this address".into(),
        })?;
    let changed = state
        .app
        .change_own_password(&caller.principal(), body.0)
        .await;
    let wrong_current = matches!(&changed, Err(AppError::Validation(errors))
        if errors.errors().iter().any(|error| error.field == "current_password"));
    if !wrong_current {
        state.limiter.succeeded(attempt);
    }
    let user = changed?;
    tracing::info!(user = %user.username, "password changed");
    new_session(&state, &user).map(web::Json)
}

/// The caller: the signed-in user, or the owner of the API token in use, with what the
/// credential may do.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, description = "The caller", body = SessionUser)),
    security(("bearer" = []))
)]
#[get("/auth/me")]
pub async fn get_current_user(caller: Caller) -> web::Json<SessionUser> {
    web::Json(caller.describe())
}
