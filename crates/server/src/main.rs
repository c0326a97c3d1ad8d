//! `switchboard`: the server and its administrative commands.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use switchboard_app::{AfterSave, AppError, Principal, Submitted, Switchboard, Tooling};
use switchboard_domain::integration::CreateIntegrationRequest;
use switchboard_domain::user::{CreateUserRequest, Role};
use switchboard_server::auth;
use switchboard_server::config::{
    BackgroundConfig, LogFormat, OutboundConfig, PASSWORD_ITERATIONS, ServeArgs, StorageArgs,
};
use switchboard_server::error::ApiError;
use switchboard_server::startup::{self, StartupError};
use switchboard_store::KeySource;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "The CI/CD integrations manager"
)]
struct Cli {
    /// `text` or `json` log lines (on standard error).
    #[arg(
        long,
        env = "SWITCHBOARD_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Parser)]
struct ServeDefaults {
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(StorageArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage integrations.
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Print the OpenAPI document.
    Openapi,
    /// Seal every credential under a new master key, in one transaction.
    RotateKey(StorageArgs),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain from its first entry; exits 1 at the first broken
    /// link (an edited, inserted or deleted entry), naming it.
    Verify(StorageArgs),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user. The password comes from standard input with --password-stdin, else one is generated and printed.
    Add {
        name: String,
        #[arg(long, value_parser = parse_role, default_value = "viewer")]
        role: Role,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Debug, Subcommand)]
enum IntegrationCommand {
    /// Register an integration (as the API's create does, with the same checks); the server
    /// checks its connection and discovers its pipelines within seconds. Secret credentials
    /// may come from SWITCHBOARD_CREDENTIAL_<KEY> (e.g. SWITCHBOARD_CREDENTIAL_APITOKEN)
    /// instead of the command line.
    Add {
        /// A friendly name, unique ignoring case.
        #[arg(long)]
        name: String,
        /// An approved tool id (jenkins, buildbot).
        #[arg(long)]
        tool: String,
        /// KEY=URL, e.g. apiUrl=https://ci.example.com/ (repeatable).
        #[arg(long = "url", value_parser = parse_pair)]
        urls: Vec<(String, String)>,
        /// KEY=VALUE, e.g. username=alice (repeatable).
        #[arg(long = "credential", value_parser = parse_pair)]
        credentials: Vec<(String, String)>,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

fn parse_pair(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{raw:?} is not KEY=VALUE"))
}

/// The use cases over the database `storage` names, as the command line runs them: it acts
/// as an administrator (`cli`) and leaves connection checks to the server.
fn use_cases(storage: StorageArgs) -> Result<Switchboard, StartupError> {
    let store = startup::open_store(&storage.into_config()?, true)?;
    let tooling = Tooling::new(
        store,
        &OutboundConfig::default(),
        BackgroundConfig::default(),
    )?;
    Ok(Switchboard::new(
        Arc::new(tooling),
        PASSWORD_ITERATIONS,
        AfterSave::LeaveToServer,
    ))
}

/// A use case's error as the command line shows it: the API problem's detail, then each
/// field error — the same words the API answers for the same input.
fn shown(err: AppError) -> StartupError {
    let problem = ApiError::from(err).problem();
    let mut text = problem.detail;
    for error in problem.errors {
        text.push_str(&format!("\n  {}: {}", error.field, error.message));
    }
    text.into()
}

async fn add_integration(
    name: String,
    tool: String,
    urls: Vec<(String, String)>,
    credentials: Vec<(String, String)>,
    storage: StorageArgs,
) -> Result<(), StartupError> {
    let mut given: std::collections::BTreeMap<String, Option<String>> = credentials
        .into_iter()
        .map(|(key, value)| (key, Some(value)))
        .collect();
    if let Some(spec) = switchboard_domain::tools::find_tool(&tool) {
        for field in spec.credential_fields {
            let variable = format!("SWITCHBOARD_CREDENTIAL_{}", field.key.to_ascii_uppercase());
            if let Ok(value) = std::env::var(&variable) {
                given.entry(field.key.to_owned()).or_insert(Some(value));
            }
        }
    }
    let request = CreateIntegrationRequest {
        name,
        tool,
        urls: urls.into_iter().collect(),
        credentials: given,
        business_need: None,
    };
    let created = use_cases(storage)?
        .create_integration(&Principal::command_line(), None, request)
        .await
        .map_err(shown)?
        .value;
    match created {
        Submitted::Applied(integration) => println!(
            "created integration {} ({})",
            integration.name, integration.id
        ),
        Submitted::Requested(request) => {
            println!("submitted for approval as change request {}", request.id)
        }
    }
    Ok(())
}

fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| format!("{raw:?} is not a role: use viewer, operator or admin"))
}

async fn add_user(
    name: String,
    role: Role,
    password_stdin: bool,
    storage: StorageArgs,
) -> Result<(), StartupError> {
    let (password, generated) = if password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        (text.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (
            auth::generate_password().map_err(|err| err.to_string())?,
            true,
        )
    };
    let request = CreateUserRequest {
        username: name,
        password: password.clone(),
        role,
    };
    let user = use_cases(storage)?
        .create_user(&Principal::command_line(), request)
        .await
        .map_err(shown)?;
    println!("created {} ({})", user.username, user.role);
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

fn rotate_key(storage: StorageArgs) -> Result<(), StartupError> {
    let config = storage.into_config()?;
    let store = startup::open_store(&config, true)?;
    let sealer = store.sealer();
    if matches!(sealer.source(), KeySource::File(_)) {
        let id = sealer.rotate_key_file()?;
        println!(
            "new master key {id} added to {}",
            config.data_dir.join("master.key").display()
        );
    } else if config.previous_master_keys.is_empty() {
        println!(
            "re-sealing under SWITCHBOARD_MASTER_KEY; to move to a new key, set it there and the old one in SWITCHBOARD_PREVIOUS_MASTER_KEYS"
        );
    }
    let resealed = store.reseal_all()?;
    println!(
        "re-sealed {} credential value(s), the password parameters of {} run(s) and the secrets of {} open change request(s) under key {}",
        resealed.credentials,
        resealed.runs,
        resealed.change_requests,
        sealer.current_key_id()
    );
    Ok(())
}

async fn run(cli: Cli) -> Result<(), StartupError> {
    match cli.command {
        None => {
            // No command: serve, configured from the environment alone.
            let defaults = ServeDefaults::try_parse_from(["switchboard"])?;
            startup::serve(defaults.serve.into_config()?).await
        }
        Some(Command::Serve(args)) => startup::serve(args.into_config()?).await,
        Some(Command::Migrate(storage)) => {
            let config = storage.into_config()?;
            let store = startup::open_store(&config, false)?;
            let applied = store.migrate()?;
            println!(
                "{} database: {} migration(s) applied",
                store.backend_name(),
                applied.len()
            );
            Ok(())
        }
        Some(Command::User(UserCommand::Add {
            name,
            role,
            password_stdin,
            storage,
        })) => add_user(name, role, password_stdin, storage).await,
        Some(Command::Integration(IntegrationCommand::Add {
            name,
            tool,
            urls,
            credentials,
            storage,
        })) => add_integration(name, tool, urls, credentials, storage).await,
        Some(Command::Openapi) => {
            print!(
                "{}",
                switchboard_server::openapi::render(&switchboard_server::openapi::document())
            );
            Ok(())
        }
        Some(Command::RotateKey(storage)) => rotate_key(storage),
        Some(Command::Audit(AuditCommand::Verify(storage))) => verify_audit(storage).await,
    }
}

async fn verify_audit(storage: StorageArgs) -> Result<(), StartupError> {
    let verification = use_cases(storage)?
        .verify_audit(&Principal::command_line())
        .await
        .map_err(shown)?;
    match verification.first_broken {
        None => {
            println!(
                "the audit log holds: {} entr{} checked",
                verification.checked,
                if verification.checked == 1 {
                    "y"
                } else {
                    "ies"
                }
            );
            Ok(())
        }
        Some(link) => Err(format!(
            "the audit log is broken at entry {}: {} ({} entries before it hold)",
            link.seq, link.reason, verification.checked
        )
        .into()),
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    startup::init_logging(cli.log_format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("switchboard: {err}");
            ExitCode::FAILURE
        }
    }
}
