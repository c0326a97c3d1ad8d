//! `jenkins-sim --config demo.json [--bind 127.0.0.1:0] [--context-path /jenkins]`
//!
//! Prints `jenkins-sim listening on http://ADDR/CONTEXT/` as the first line on stdout.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(name = "jenkins-sim", about = "A Jenkins remote-access API simulator")]
struct Args {
    /// The configuration file (JSON).
    #[arg(long, env = "JENKINS_SIM_CONFIG")]
    config: PathBuf,
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: String,
    /// Serve under this path, as a Jenkins behind a reverse proxy (`/jenkins`).
    #[arg(long, default_value = "")]
    context_path: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JENKINS_SIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("jenkins_sim=info")),
        )
        .init();
    let args = Args::parse();
    let config = match jenkins_sim::Config::from_file(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("jenkins-sim: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let running = match jenkins_sim::start(config, &args.bind, &args.context_path).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jenkins-sim: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "jenkins-sim listening on {}", running.url);
    let _ = writeln!(out, "{} jobs", running.jobs);
    let _ = out.flush();
    drop(out);
    let handle = running.handle.clone();
    tokio::select! {
        r = running.server => {
            if let Ok(Err(e)) = r {
                eprintln!("jenkins-sim: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
        _ = tokio::signal::ctrl_c() => {
            handle.stop(true).await;
        }
    }
    std::process::ExitCode::SUCCESS
}
