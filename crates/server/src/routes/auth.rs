//! `/api/v1/auth`: sign-in and the current session.

use std::time::Instant;

use actix_web::{HttpRequest, get, post, web};
use switchboard_domain::Problem;
use switchboard_domain::user::{LoginRequest, LoginResponse, SessionUser};

use super::Body;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::rate_limit::whole_seconds;

/// The client's address, from a trusted proxy's `X-Forwarded-For` when there is one.
fn client_address(req: &HttpRequest, state: &AppState) -> String {
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
    let user = state.app.authenticate(&username, password).await?;
    let Some(user) = user else {
        tracing::info!(client = %client, "sign-in refused");
        return Err(ApiError::InvalidLogin);
    };
    state.limiter.succeeded(attempt);
    let access_token = state.sessions.issue(&user)?;
    tracing::info!(user = %user.username, "signed in");
    Ok(web::Json(LoginResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.sessions.ttl.as_secs(),
        user: SessionUser {
            id: user.id,
            username: user.username,
            role: user.role,
        },
    }))
}

/// The signed-in user.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, description = "The caller", body = SessionUser)),
    security(("bearer" = []))
)]
#[get("/auth/me")]
pub async fn get_current_user(caller: Caller) -> web::Json<SessionUser> {
    web::Json(SessionUser {
        id: caller.id,
        username: caller.username,
        role: caller.role,
    })
}
