//! A simulator of the Jenkins remote-access API (`/api/json` with `tree=`, authentication,
//! crumbs, triggering, the queue, builds, progressive logs, stop), following
//! `docs/jenkins.md`. Builds progress in real time on a tokio timer.
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
    shared: Arc<http::Shared>,
}

impl Running {
    /// Changes the running controller from a test (not part of Jenkins' API).
    pub fn control(&self) -> Control {
        Control {
            shared: self.shared.clone(),
        }
    }

    /// Stops the server (in-flight requests are dropped).
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.server.await;
    }
}

/// Changes a running simulator the way an administrator (or an accident) changes a
/// Jenkins: items created and deleted, queue items forgotten, the controller failing. For
/// in-process tests only; Jenkins' own ways to do this (`createItem` with `config.xml`,
/// `doDelete`, a restart) are not simulated.
#[derive(Clone)]
pub struct Control {
    shared: Arc<http::Shared>,
}

impl Control {
    fn with_state<T>(&self, f: impl FnOnce(&mut sim::State) -> T) -> Result<T, String> {
        let mut st = self
            .shared
            .state
            .lock()
            .map_err(|_| "the simulator's state is poisoned".to_owned())?;
        let out = f(&mut st);
        drop(st);
        self.shared.wake.notify_one();
        Ok(out)
    }

    /// Creates `items` (as in the configuration's `jobs`) under the folder at `parent`
    /// (`"a/b"`; `""` for the root).
    pub fn add_items(&self, parent: &str, items: &[config::ItemConfig]) -> Result<(), String> {
        self.with_state(|st| st.add_items(parent, items))?
    }

    /// Deletes the item at `full_name` and everything below it; its queued items are
    /// cancelled.
    pub fn remove_item(&self, full_name: &str) -> Result<(), String> {
        self.with_state(|st| {
            let now = st.clock.now();
            st.remove_item(full_name, now)
        })?
    }

    /// Forgets every queue item that has left the queue, as Jenkins does a few minutes
    /// after (and across a restart): `/queue/item/N/` answers 404 from then on.
    pub fn forget_left_items(&self) -> Result<(), String> {
        self.with_state(sim::State::forget_left_items)
    }

    /// `Some(status)`: every request answers `status` with an error page (a controller that
    /// throws, or a proxy in front of a dead one); `None` ends the outage.
    pub fn set_outage(&self, status: Option<u16>) -> Result<(), String> {
        let mut outage = self
            .shared
            .outage
            .lock()
            .map_err(|_| "the simulator's state is poisoned".to_owned())?;
        *outage = status;
        Ok(())
    }

    /// How many jobs the controller has now.
    pub fn job_count(&self) -> Result<usize, String> {
        self.with_state(|st| st.job_count())
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
        outage: Mutex::new(None),
    });
    let data = web::Data::new(shared.clone());
    let shared_for_control = shared.clone();
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
        shared: shared_for_control,
    })
}
