//! The Switchboard HTTP API: actix-web handlers, authentication, the OpenAPI document and
//! the process around them.

pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
mod routes;
pub mod startup;
pub mod web;

use std::sync::Arc;

use actix_web::App;
use actix_web::web::Data;
use utoipa_actix_web::AppExt;

use crate::auth::SessionKeys;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::rate_limit::LoginLimiter;
use switchboard_app::{Switchboard, Tooling};
use switchboard_store::Store;

/// The largest request body the API reads.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// What every request shares.
pub struct AppState {
    /// The use cases every handler calls.
    pub app: Switchboard,
    /// For session checks, readiness and metrics, which are not use cases.
    pub store: Arc<Store>,
    pub sessions: SessionKeys,
    pub limiter: LoginLimiter,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: rate_limit::TrustedProxies,
    /// Per-user limits on requests that make the server and the tools work.
    pub user_limits: rate_limit::UserLimiter,
    pub metrics: Metrics,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
    pub routes: openapi::RouteTable,
    /// The web app's files, when `SWITCHBOARD_WEB_DIR` is set.
    pub web: Option<web::WebApp>,
}

impl AppState {
    pub fn new(
        config: &Config,
        sessions: SessionKeys,
        web: Option<web::WebApp>,
        tooling: Arc<Tooling>,
    ) -> Self {
        let spec = openapi::document();
        Self {
            store: tooling.store.clone(),
            app: Switchboard::new(
                tooling,
                config.password_iterations,
                switchboard_app::AfterSave::CheckNow,
            )
            .with_trigger_fault(config.trigger_fault),
            sessions,
            limiter: LoginLimiter::new(config.login_limits),
            trusted_proxies: config.trusted_proxies.clone(),
            user_limits: rate_limit::UserLimiter::new(config.user_limits),
            metrics: Metrics::default(),
            openapi_json: openapi::render(&spec),
            routes: openapi::RouteTable::from_spec(&spec),
            web,
        }
    }
}

impl AppState {
    /// Takes one `what` from the caller's allowance, or refuses with 429 and `Retry-After`.
    pub fn charge(
        &self,
        caller: &auth::Caller,
        what: rate_limit::Costly,
    ) -> Result<(), error::ApiError> {
        self.user_limits
            .take(&caller.id, what, std::time::Instant::now())
            .map_err(|(wait, what)| error::ApiError::RateLimited {
                retry_after_secs: rate_limit::whole_seconds(wait),
                what,
            })
    }
}

/// Registers every documented operation; both the server and the OpenAPI document come from here.
fn register<T>(app: utoipa_actix_web::UtoipaApp<T>) -> utoipa_actix_web::UtoipaApp<T>
where
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
    app.configure(routes::operations::configure)
        .service(utoipa_actix_web::scope("/api/v1").configure(routes::configure))
}

/// The OpenAPI paths and schemas collected from the route registrations.
pub(crate) fn collected_openapi() -> utoipa::openapi::OpenApi {
    let (_, spec) = register(App::new().into_utoipa_app()).split_for_parts();
    spec
}

/// The whole application for `state`.
pub fn build_app(
    state: Data<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, _) = register(
        App::new()
            .app_data(state)
            .app_data(routes::json_config())
            .app_data(routes::query_config())
            .app_data(routes::path_config())
            .into_utoipa_app(),
    )
    .split_for_parts();
    app.service(routes::operations::docs_service())
        .default_service(actix_web::web::to(web::fallback))
        .wrap(actix_web::middleware::from_fn(middleware::authenticate))
        .wrap(actix_web::middleware::from_fn(
            middleware::problems_everywhere,
        ))
        .wrap(actix_web::middleware::from_fn(middleware::observe))
}
