//! The Switchboard HTTP API: actix-web handlers, authentication, the OpenAPI document and
//! the process around them.

pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
mod middleware;
pub mod monitor;
pub mod openapi;
pub mod page_cache;
pub mod rate_limit;
mod routes;
pub mod startup;
pub mod tooling;
pub mod web;

use std::sync::Arc;

use actix_web::App;
use actix_web::web::Data;
use utoipa_actix_web::AppExt;

use crate::auth::SessionKeys;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::rate_limit::LoginLimiter;
use switchboard_store::Store;

/// The largest request body the API reads.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// What every request shares.
pub struct AppState {
    pub store: Arc<Store>,
    pub sessions: SessionKeys,
    pub limiter: LoginLimiter,
    pub metrics: Metrics,
    /// Integration list pages by query, valid for one data version.
    pub integration_pages: page_cache::PageCache,
    pub password_iterations: u32,
    pub decoy_hash: String,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
    pub routes: openapi::RouteTable,
    /// The web app's files, when `SWITCHBOARD_WEB_DIR` is set.
    pub web: Option<web::WebApp>,
    /// The connectors and the checks, discovery and runs done through them.
    pub tooling: Arc<tooling::Tooling>,
}

impl AppState {
    pub fn new(
        config: &Config,
        store: Arc<Store>,
        sessions: SessionKeys,
        web: Option<web::WebApp>,
        tooling: Arc<tooling::Tooling>,
    ) -> Self {
        let spec = openapi::document();
        Self {
            store,
            sessions,
            limiter: LoginLimiter::new(config.login_limits),
            metrics: Metrics::default(),
            integration_pages: page_cache::PageCache::new(256),
            password_iterations: config.password_iterations,
            decoy_hash: auth::decoy_hash(config.password_iterations),
            openapi_json: openapi::render(&spec),
            routes: openapi::RouteTable::from_spec(&spec),
            web,
            tooling,
        }
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
