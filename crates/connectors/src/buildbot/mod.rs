//! Buildbot (4.x): the connection check, discovery of builders, and runs (force, follow,
//! log, stop/cancel) — the [`Connector`] for the `buildbot` tool.
//!
//! Built to `docs/buildbot.md`, checked against a real 4.3.0 master:
//!
//! - **Sessions.** Buildbot's API ignores HTTP Basic; it wants the session cookie that
//!   `GET auth/login` (with Basic credentials) sets. The connector logs in once per
//!   integration and keeps the cookie in a small cache keyed by the base URL, the user name
//!   and a salted SHA-256 of the password (never the password). A cookie Buildbot no longer
//!   accepts is noticed in two ways: Buildbot answers a request that carried it with a new
//!   (anonymous) session cookie, or a call made with a cached cookie meets 401/403 (the
//!   user's roles are fixed at login, so a role granted since needs a new session). Either
//!   way the connector logs in again and retries that request once.
//! - **Anonymous access.** Without a password the connector sends no credentials and uses
//!   what Buildbot allows anonymous users (usually: read everything, control nothing).
//! - **Errors.** Every answer that is not a success goes through `refusal` (plain API
//!   answers) or `rpc_refusal` (JSON-RPC control calls), which know what the request was
//!   about (`About`) so that the hint can say what to do; Buildbot's own words
//!   (`you need to have role 'admins'`, a parameter's validation error) are kept.
//!
//! Files: `session.rs` (login, the cookie cache, requests and JSON-RPC calls with a session),
//! `errors.rs` (refusals and their hints), `check.rs`, `discover.rs`, `runs.rs`, `logs.rs`.
//!
//! Builders are addressed by name (a pipeline's `full_path` is the builder name); ids are
//! looked up again when needed, so a master whose builder ids changed (a new database)
//! still works after a sync.

mod check;
mod discover;
mod errors;
mod logs;
mod recover;
mod runs;
mod session;

// The submodules' items are `pub(super)`: shared within this connector, nowhere else.
use check::*;
use errors::*;
use session::*;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use secrecy::ExposeSecret;

use crate::connector::{
    BoxFuture, ConnectionReport, Connector, Discovery, LogPiece, PipelineRef, RunHandle, RunState,
    Target, Unconfirmed,
};
use crate::{BaseUrl, Category, ConnectorError, Credentials, GuardedClient, LogMask};
use switchboard_domain::pipeline::{ParameterType, ParameterValue};

pub use discover::LAST_BUILDS_WINDOW;
pub use logs::LOG_LINES_PER_READ;

/// The permission the check reports when the user may read Buildbot's data API.
pub const PERMISSION_READ: &str = "read";
/// The permission the check reports when Buildbot's authz lets the user call control
/// endpoints (force, stop, cancel). Checked with a control call of a method no endpoint
/// has, which authz judges like any control call and which changes nothing; rules that
/// only match specific actions or builders are met when a run is triggered.
pub const PERMISSION_CONTROL: &str = "control";

/// The user name the check reports for an integration without a password.
pub const ANONYMOUS: &str = "anonymous";

/// How many sessions the connector keeps; past that it forgets one to make room.
const MAX_SESSIONS: usize = 256;

/// The method of the harmless control call (no Buildbot endpoint has it).
const PROBE_METHOD: &str = "switchboard-permission-check";

/// The [`Connector`] for Buildbot. Holds only the session cache (cookies, not passwords)
/// and the log cache of finished steps; clones share both.
#[derive(Clone)]
pub struct BuildbotConnector {
    client: GuardedClient,
    sessions: Arc<SessionCache>,
    step_logs: Arc<logs::StepLogCache>,
}

impl std::fmt::Debug for BuildbotConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildbotConnector")
            .field("client", &self.client)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl BuildbotConnector {
    pub fn new(client: GuardedClient) -> Self {
        Self {
            client,
            sessions: Arc::new(SessionCache::new()),
            step_logs: Arc::new(logs::StepLogCache::default()),
        }
    }

    fn session(&self, target: &Target) -> Result<Session<'_>, ConnectorError> {
        let Some(raw) = target.urls.get("apiUrl") else {
            return Err(ConnectorError::new(
                Category::InvalidUrl,
                "the integration has no Buildbot URL (apiUrl)",
                "Set the Buildbot URL: the address of its web UI, e.g. https://buildbot.example.com/",
            ));
        };
        let base = BaseUrl::parse(raw)?;
        let username = target
            .fields
            .get("username")
            .map(|name| name.trim())
            .filter(|name| !name.is_empty());
        let password = target
            .secrets
            .get("password")
            .filter(|password| !password.expose_secret().is_empty());
        let login = match (username, password) {
            (Some(username), Some(password)) => Some(Login {
                client: self.client.for_origin(
                    base.clone(),
                    Some(Credentials::Basic {
                        username: username.to_owned(),
                        secret: password.clone(),
                    }),
                ),
                key: self.sessions.key(&base, username, password),
                username: username.to_owned(),
            }),
            (None, Some(_)) => {
                return Err(ConnectorError::new(
                    Category::BadCredentials,
                    "the integration has a Buildbot password but no user name",
                    "Set the user name the password belongs to, or remove the password to use anonymous access",
                ));
            }
            // Without a password there is nothing to log in with: anonymous access.
            (_, None) => None,
        };
        let user = login
            .as_ref()
            .map_or_else(|| ANONYMOUS.to_owned(), |login| login.username.clone());
        Ok(Session {
            api: self.client.for_origin(base, None),
            login,
            cache: &self.sessions,
            user,
            cookie: Mutex::new(None),
            sent: AtomicU64::new(0),
        })
    }
}

impl Connector for BuildbotConnector {
    fn check<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<ConnectionReport, ConnectorError>> {
        Box::pin(async move { check(&self.session(target)?).await })
    }

    fn discover<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<Discovery, ConnectorError>> {
        Box::pin(async move { discover::discover(&self.session(target)?).await })
    }

    fn trigger<'a>(
        &'a self,
        target: &'a Target,
        pipeline: &'a PipelineRef,
        parameters: &'a std::collections::BTreeMap<String, ParameterValue>,
        run_id: &'a str,
    ) -> BoxFuture<'a, Result<RunHandle, ConnectorError>> {
        Box::pin(async move {
            // Buildbot's force scheduler quotes a value that fails its parameter's pattern
            // (`name:'value' does not match pattern …`): password values, and the stored
            // password, never leave in an error.
            let passwords: Vec<String> = pipeline
                .parameters
                .iter()
                .filter(|definition| definition.kind == ParameterType::Password)
                .filter_map(|definition| parameters.get(&definition.name))
                .map(ParameterValue::to_form_text)
                .collect();
            let mut secrets: Vec<&str> = passwords.iter().map(String::as_str).collect();
            secrets.extend(target.secrets.values().map(|secret| secret.expose_secret()));
            runs::trigger(&self.session(target)?, pipeline, parameters, run_id)
                .await
                .map_err(|error| error.without(&secrets))
        })
    }

    fn find_started<'a>(
        &'a self,
        target: &'a Target,
        run: &'a Unconfirmed,
    ) -> BoxFuture<'a, Result<Vec<RunHandle>, ConnectorError>> {
        Box::pin(async move { recover::find_started(&self.session(target)?, run).await })
    }

    fn poll<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
    ) -> BoxFuture<'a, Result<RunState, ConnectorError>> {
        Box::pin(async move { runs::poll(&self.session(target)?, handle).await })
    }

    fn log<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
        offset: u64,
        mask: &'a LogMask,
    ) -> BoxFuture<'a, Result<LogPiece, ConnectorError>> {
        Box::pin(async move {
            // Pieces end at a line's end: a single-line value is never cut.
            let mut piece =
                logs::log(&self.session(target)?, &self.step_logs, handle, offset).await?;
            piece.text = mask.mask_lines(&piece.text);
            Ok(piece)
        })
    }

    fn cancel<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move { runs::cancel(&self.session(target)?, handle).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use serde_json::json;

    #[test]
    fn roles_come_from_buildbots_words() {
        assert_eq!(role_in("you need to have role 'admins'"), Some("admins"));
        assert_eq!(role_in("nope"), None);
    }

    #[test]
    fn parameter_errors_become_one_line() {
        let message = json!({"count": "invalid literal", "target": "'x' is not a choice"});
        assert_eq!(
            message_text(&message),
            "count: invalid literal; target: 'x' is not a choice"
        );
        assert_eq!(message_text(&json!("plain")), "plain");
    }

    #[test]
    fn session_keys_never_hold_the_password() {
        let cache = SessionCache::new();
        let base = BaseUrl::parse("http://127.0.0.1:8010/").expect("base");
        let secret: SecretString = "hunter2-do-not-show".to_owned().into();
        let key = cache.key(&base, "admin", &secret);
        assert!(!format!("{key:?}").contains("hunter2"));
        assert_eq!(key, cache.key(&base, "admin", &secret));
        let other: SecretString = "another".to_owned().into();
        assert_ne!(key, cache.key(&base, "admin", &other));
    }

    #[test]
    fn the_cache_stays_small() {
        let cache = SessionCache::new();
        let secret: SecretString = "pw".to_owned().into();
        for port in 0..(MAX_SESSIONS + 10) {
            let base = BaseUrl::parse(&format!("http://127.0.0.1:{}/", port + 1)).expect("base");
            cache.put(
                cache.key(&base, "u", &secret),
                format!("TWISTED_SESSION={port}"),
            );
        }
        assert_eq!(cache.len(), MAX_SESSIONS);
    }
}
