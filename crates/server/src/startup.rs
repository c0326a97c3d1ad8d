//! Turning configuration into a running server, and the one-off commands.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::{HttpServer, web};
use secrecy::ExposeSecret;
use switchboard_app::Tooling;
use switchboard_store::{KeySource, Keyring, MasterKey, Sealer, Store};

use crate::AppState;
use crate::auth::{self, SessionKeys};
use crate::config::{Config, LogFormat, StorageConfig};

pub type StartupError = Box<dyn std::error::Error + Send + Sync>;

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The master key from the environment, or the key file in the data directory.
pub fn open_sealer(storage: &StorageConfig) -> Result<Sealer, StartupError> {
    ensure_private_dir(&storage.data_dir).map_err(|err| {
        format!(
            "cannot create the data directory {}: {err}",
            storage.data_dir.display()
        )
    })?;
    match &storage.master_key {
        Some(key) => {
            let current = MasterKey::from_base64(key.expose_secret())?;
            let previous = storage
                .previous_master_keys
                .iter()
                .map(|key| MasterKey::from_base64(key.expose_secret()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Sealer::new(
                KeySource::Environment,
                Keyring::new(current, previous),
            ))
        }
        None => Ok(Sealer::from_key_file(&storage.data_dir.join("master.key"))?),
    }
}

pub fn open_store(storage: &StorageConfig, migrate: bool) -> Result<Arc<Store>, StartupError> {
    let sealer = open_sealer(storage)?;
    let store = Store::open(
        storage.database.clone(),
        storage.db_pool_size,
        sealer,
        migrate,
    )
    .map_err(|err| {
        format!(
            "cannot open the {} database: {err}",
            storage.database.backend_name()
        )
    })?;
    Ok(Arc::new(store))
}

/// Creates the `admin` user on an empty database. Returns the password when it was generated.
pub fn bootstrap_admin(store: &Store, config: &Config) -> Result<Option<String>, StartupError> {
    if store.count_users()? > 0 {
        return Ok(None);
    }
    let (password, generated) = match &config.admin_password {
        Some(password) => (password.expose_secret().to_owned(), false),
        None => (
            auth::generate_password().map_err(|err| err.to_string())?,
            true,
        ),
    };
    let hash = auth::hash_password(&password, config.password_iterations)
        .map_err(|err| err.to_string())?;
    let created = store.create_first_admin("admin", &hash)?;
    if created.is_some() {
        tracing::info!(user = "admin", "created the first administrator");
    }
    Ok(created.filter(|_| generated).map(|_| password))
}

/// The connectors over `store`, with the configured outbound policy and background settings.
pub fn open_tooling(store: Arc<Store>, config: &Config) -> Result<Arc<Tooling>, StartupError> {
    let tooling = Tooling::new(store, &config.outbound, config.background)
        .map_err(|err| format!("cannot set up the outbound HTTP client: {err}"))?;
    Ok(Arc::new(tooling))
}

/// A server listening on `listener`, not yet awaited.
pub struct Started {
    pub server: actix_web::dev::Server,
    pub state: web::Data<AppState>,
    /// The first administrator's generated password, on the start that created it.
    pub admin_password: Option<String>,
}

pub fn start(config: &Config, listener: TcpListener) -> Result<Started, StartupError> {
    let web_app = config
        .web_dir
        .as_deref()
        .map(crate::web::WebApp::load)
        .transpose()?;
    if let (Some(dir), Some(web_app)) = (&config.web_dir, &web_app) {
        tracing::info!(
            web_dir = %dir.display(),
            files = web_app.file_count(),
            "serving the web app"
        );
    }
    let store = open_store(&config.storage, true)?;
    let admin_password = bootstrap_admin(&store, config)?;
    let policy = store.ensure_approval_policy(config.approval_at_first_start)?;
    if !policy.enabled {
        tracing::warn!(
            "approval is off: new integrations and changes of URLs or secrets apply without prior discussion and approval"
        );
    }
    let secret = SessionKeys::load_or_create_secret(
        config.session_secret.as_ref(),
        &config.storage.data_dir,
    )
    .map_err(|err| format!("cannot read or create the session key: {err}"))?;
    let sessions = SessionKeys::new(&secret, config.session_ttl);
    let tooling = open_tooling(store, config)?;
    switchboard_app::monitor::spawn(tooling.clone());
    let state = web::Data::new(AppState::new(config, sessions, web_app, tooling));
    let app_state = state.clone();
    let mut server =
        HttpServer::new(move || crate::build_app(app_state.clone())).shutdown_timeout(30);
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
    let server = server.listen(listener)?.run();
    Ok(Started {
        server,
        state,
        admin_password,
    })
}

/// `switchboard serve`: runs until SIGTERM or Ctrl-C, finishing requests in flight.
pub async fn serve(config: Config) -> Result<(), StartupError> {
    let listener = TcpListener::bind(config.bind)
        .map_err(|err| format!("cannot listen on {}: {err}", config.bind))?;
    let started = start(&config, listener)?;
    if let Some(password) = &started.admin_password {
        eprintln!();
        eprintln!("  First start: created the administrator account.");
        eprintln!("    user name: admin");
        eprintln!("    password:  {password}");
        eprintln!("  It is shown only this once; change it after signing in.");
        eprintln!();
    }
    tracing::info!(
        address = %config.bind,
        database = started.state.store.backend_name(),
        "Switchboard is listening on http://{}",
        config.bind
    );
    started.server.await?;
    tracing::info!("stopped");
    Ok(())
}
