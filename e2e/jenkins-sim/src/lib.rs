//! A simulator of the Jenkins remote-access API (`/api/json` with `tree=`, authentication,
//! crumbs, triggering, the queue, builds, progressive logs, stop), following
//! `shared/reference/jenkins.md`. Builds progress in real time on a tokio timer.
//!
//! Start one in-process with [`start`] (tests) or run the `jenkins-sim` binary.

pub mod auth;
pub mod config;
pub mod export;
pub mod http;
pub mod models;
pub mod sim;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpServer, web};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::sync::Notify;

pub use config::Config;

/// A running simulator.
pub struct Running {
    /// `http://127.0.0.1:PORT/context/` (always ending in `/`).
    pub url: String,
    pub addr: SocketAddr,
    pub handle: actix_web::dev::ServerHandle,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub jobs: usize,
}

impl Running {
    /// Stops the server (in-flight requests are dropped).
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.server.await;
    }
}

/// Normalises `--context-path`: `""` or `/jenkins` (leading slash, no trailing slash).
pub fn normalise_context_path(cp: &str) -> Result<String, String> {
    let trimmed = cp.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.contains(['?', '#', ' ']) {
        return Err(format!("invalid context path {cp:?}"));
    }
    Ok(format!("/{trimmed}"))
}

/// Builds the state from `config` and serves it on `bind` (e.g. `127.0.0.1:0`). Must be
/// called inside a tokio runtime.
pub async fn start(config: Config, bind: &str, context_path: &str) -> Result<Running, String> {
    let context_path = normalise_context_path(context_path)?;
    let rng = SystemRandom::new();
    let mut secret = [0u8; 32];
    rng.fill(&mut secret)
        .map_err(|_| "no system randomness".to_owned())?;
    let state = sim::State::new(config, secret)?;
    let jobs = state.job_count();
    let clock = state.clock;
    let session_header = http::hex(&secret[..4]);
    let shared = Arc::new(http::Shared {
        state: Mutex::new(state),
        wake: Notify::new(),
        context_path: context_path.clone(),
        rng,
        session_header,
    });
    let data = web::Data::new(shared.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
            .default_service(web::to(http::handle))
    })
    .workers(2)
    .disable_signals()
    .bind(bind)
    .map_err(|e| format!("cannot bind {bind}: {e}"))?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| "bound to no address".to_owned())?;
    let server = server.run();
    let handle = server.handle();
    let server = tokio::spawn(server);
    // The clock: wake at each deadline (or when a request changed the queue) and advance.
    tokio::spawn(async move {
        loop {
            let next = match shared.state.lock() {
                Ok(mut st) => st.advance(clock.now()),
                Err(_) => return,
            };
            match next {
                Some(t) => {
                    let at = tokio::time::Instant::from_std(clock.instant_at(t));
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = shared.wake.notified() => {}
                    }
                }
                None => shared.wake.notified().await,
            }
        }
    });
    Ok(Running {
        url: format!("http://{addr}{context_path}/"),
        addr,
        handle,
        server,
        jobs,
    })
}
