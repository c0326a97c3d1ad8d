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
//! Builders are addressed by name (a pipeline's `full_path` is the builder name); ids are
//! looked up again when needed, so a master whose builder ids changed (a new database)
//! still works after a sync.

mod discover;
mod logs;
mod runs;

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::connector::{
    BoxFuture, ConnectionReport, Connector, Discovery, LogPiece, PipelineRef, RunHandle, RunState,
    Target,
};
use crate::{
    BaseUrl, Category, ConnectorError, Credentials, GuardedClient, Method, OriginClient,
    OutboundRequest, OutboundResponse, display_url, header,
};
use switchboard_domain::pipeline::ParameterValue;

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
    ) -> BoxFuture<'a, Result<RunHandle, ConnectorError>> {
        Box::pin(async move { runs::trigger(&self.session(target)?, pipeline, parameters).await })
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
    ) -> BoxFuture<'a, Result<LogPiece, ConnectorError>> {
        Box::pin(
            async move { logs::log(&self.session(target)?, &self.step_logs, handle, offset).await },
        )
    }

    fn cancel<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move { runs::cancel(&self.session(target)?, handle).await })
    }
}

/// What identifies a session: the integration's base URL, the user, and a salted hash of
/// the password (so that a changed password logs in again, and no password is kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SessionKey {
    base: String,
    username: String,
    password_hash: [u8; 32],
}

/// Session cookies by [`SessionKey`].
struct SessionCache {
    /// Random per connector, so that the hashes mean nothing outside this process.
    salt: [u8; 16],
    cookies: Mutex<HashMap<SessionKey, String>>,
}

impl SessionCache {
    fn new() -> Self {
        let random = RandomState::new();
        let mut salt = [0u8; 16];
        salt[..8].copy_from_slice(&random.hash_one(1u8).to_le_bytes());
        salt[8..].copy_from_slice(&random.hash_one(2u8).to_le_bytes());
        Self {
            salt,
            cookies: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, base: &BaseUrl, username: &str, password: &SecretString) -> SessionKey {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(password.expose_secret().as_bytes());
        SessionKey {
            base: base.as_url().as_str().to_owned(),
            username: username.to_owned(),
            password_hash: hasher.finalize().into(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, String>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.cookies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &SessionKey) -> Option<String> {
        self.lock().get(key).cloned()
    }

    fn put(&self, key: SessionKey, cookie: String) {
        let mut cookies = self.lock();
        if cookies.len() >= MAX_SESSIONS && !cookies.contains_key(&key) {
            let victim = cookies.keys().next().cloned();
            if let Some(victim) = victim {
                cookies.remove(&victim);
            }
        }
        cookies.insert(key, cookie);
    }

    fn forget(&self, key: &SessionKey, cookie: &str) {
        let mut cookies = self.lock();
        // Another call may have logged in meanwhile; keep its cookie.
        if cookies.get(key).is_some_and(|cached| cached == cookie) {
            cookies.remove(key);
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// How to log in: a client that sends Basic credentials (used for `auth/login` only).
struct Login {
    client: OriginClient,
    key: SessionKey,
    username: String,
}

/// The cookie a call uses, and whether it was logged in for during this call.
#[derive(Clone)]
struct Cookie {
    header: String,
    fresh: bool,
}

/// One call's view of an integration.
struct Session<'a> {
    /// Requests to the API; carries no credentials (the cookie is added per request).
    api: OriginClient,
    /// `None` for anonymous access.
    login: Option<Login>,
    cache: &'a SessionCache,
    /// The user hints name: the user name, or `anonymous`.
    user: String,
    cookie: Mutex<Option<Cookie>>,
    /// Requests sent so far (logins and retries included).
    sent: AtomicU64,
}

impl Session<'_> {
    fn base(&self) -> &BaseUrl {
        self.api.base()
    }

    fn request(&self, method: Method, path: &str) -> Result<OutboundRequest, ConnectorError> {
        Ok(self.api.request(method, path)?.header(
            header::ACCEPT,
            header::HeaderValue::from_static("application/json"),
        ))
    }

    fn current_cookie(&self) -> Option<Cookie> {
        self.cookie
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_cookie(&self, cookie: Cookie) {
        *self
            .cookie
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cookie);
    }

    /// The cookie to send: this call's, else the cached one, else a new login's.
    async fn cookie(&self, login: &Login) -> Result<Cookie, ConnectorError> {
        if let Some(cookie) = self.current_cookie() {
            return Ok(cookie);
        }
        if let Some(header) = self.cache.get(&login.key) {
            let cookie = Cookie {
                header,
                fresh: false,
            };
            self.set_cookie(cookie.clone());
            return Ok(cookie);
        }
        self.log_in(login).await
    }

    /// `GET auth/login` with Basic credentials; the last session cookie it sets is the
    /// logged-in one (Buildbot first sets an anonymous one).
    async fn log_in(&self, login: &Login) -> Result<Cookie, ConnectorError> {
        let request = login
            .client
            .request(Method::GET, "auth/login")?
            .header(
                header::ACCEPT,
                header::HeaderValue::from_static("application/json"),
            )
            // The redirect goes to Buildbot's own idea of its URL; the cookie is all we need.
            .without_redirects();
        self.sent.fetch_add(1, Ordering::Relaxed);
        let answer = login.client.send(request).await?;
        let status = answer.status().as_u16();
        if status == 401 {
            return Err(ConnectorError::new(
                Category::BadCredentials,
                format!(
                    "Buildbot refused the password of user {} (401 at {})",
                    login.username,
                    display_url(answer.url())
                ),
                format!(
                    "Buildbot rejected the credentials of user {}: check the user name and password (Buildbot's c['www']['auth'] decides which are valid)",
                    login.username
                ),
            ));
        }
        if !(answer.status().is_success() || answer.status().is_redirection()) {
            return Err(refusal(&answer, &login.username, About::Login));
        }
        let Some(header) = session_cookie(&answer) else {
            return Err(ConnectorError::new(
                Category::NotThatTool,
                format!(
                    "{} answered the login without a Buildbot session cookie",
                    display_url(answer.url())
                ),
                "Check that the URL is Buildbot's root (its web UI address); a proxy in front of Buildbot that drops Set-Cookie headers also causes this",
            ));
        };
        self.cache.put(login.key.clone(), header.clone());
        let cookie = Cookie {
            header,
            fresh: true,
        };
        self.set_cookie(cookie.clone());
        Ok(cookie)
    }

    /// Sends a request as it is (no cookie added).
    async fn send_as_is(
        &self,
        request: OutboundRequest,
    ) -> Result<OutboundResponse, ConnectorError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.api.send(request).await
    }

    /// How many requests this call has sent.
    fn requests(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends a request with the session cookie (none when anonymous). When Buildbot does
    /// not accept the cookie — it answers with a new session cookie, or a cached cookie
    /// meets 401/403 — logs in again and sends the request once more. Returns whatever
    /// answered.
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, ConnectorError> {
        let Some(login) = &self.login else {
            return self.send_as_is(request).await;
        };
        let cookie = self.cookie(login).await?;
        let answer = self
            .send_as_is(with_cookie(request.clone(), &cookie.header)?)
            .await?;
        let status = answer.status().as_u16();
        let renewed = session_cookie(&answer).is_some();
        if !(renewed || (matches!(status, 401 | 403) && !cookie.fresh)) {
            return Ok(answer);
        }
        self.cache.forget(&login.key, &cookie.header);
        let cookie = self.log_in(login).await?;
        let answer = self
            .send_as_is(with_cookie(request, &cookie.header)?)
            .await?;
        if session_cookie(&answer).is_some() {
            return Err(ConnectorError::new(
                Category::Protocol,
                format!(
                    "Buildbot did not accept the session it had just given {} (at {})",
                    login.username,
                    display_url(answer.url())
                ),
                "A proxy in front of Buildbot probably drops the Cookie header, or serves Buildbot under another path than the integration URL",
            ));
        }
        Ok(answer)
    }

    /// GETs `path`; anything but a success becomes the [`refusal`] for `about`.
    async fn get(&self, path: &str, about: About<'_>) -> Result<OutboundResponse, ConnectorError> {
        let answer = self.send(self.request(Method::GET, path)?).await?;
        if answer.status().is_success() {
            Ok(answer)
        } else {
            Err(refusal(&answer, &self.user, about))
        }
    }

    /// GETs `path` and reads the answer as `T`; an answer that is not that JSON is a
    /// `protocol` error (or `not_that_tool` when it is not JSON at all).
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        about: About<'_>,
    ) -> Result<T, ConnectorError> {
        let answer = self.get(path, about).await?;
        parse(&answer)
    }

    /// Sends a JSON-RPC 2.0 control call (`method` with `params`) to `path`; returns the
    /// answer and its reply, if the body is one.
    async fn rpc_answer(
        &self,
        path: &str,
        method: &str,
        params: Value,
    ) -> Result<(OutboundResponse, Option<RpcReply>), ConnectorError> {
        let body = json!({"jsonrpc": "2.0", "method": method, "id": 1, "params": params});
        let request = self
            .request(Method::POST, path)?
            .header(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            )
            .body(body.to_string());
        let answer = self.send(request).await?;
        let reply = serde_json::from_slice(answer.body()).ok();
        Ok((answer, reply))
    }

    /// A JSON-RPC 2.0 control call. Returns the result (`null` is the normal result of
    /// `stop` and `cancel`); errors go through [`rpc_refusal`].
    async fn rpc(
        &self,
        path: &str,
        method: &str,
        params: Value,
        about: About<'_>,
    ) -> Result<Value, ConnectorError> {
        let (answer, reply) = self.rpc_answer(path, method, params).await?;
        match reply {
            Some(RpcReply {
                error: Some(error), ..
            }) => Err(rpc_refusal(&answer, &error, &self.user, method, about)),
            Some(RpcReply { result, .. }) if answer.status().is_success() => {
                Ok(result.unwrap_or(Value::Null))
            }
            _ => Err(refusal(&answer, &self.user, about)),
        }
    }
}

fn with_cookie(request: OutboundRequest, cookie: &str) -> Result<OutboundRequest, ConnectorError> {
    let value = header::HeaderValue::from_str(cookie).map_err(|_| {
        ConnectorError::generic(
            Category::Protocol,
            "Buildbot's session cookie cannot be sent back as an HTTP header",
        )
    })?;
    Ok(request.header(header::COOKIE, value))
}

/// `NAME=value` of the last Buildbot session cookie an answer sets (`TWISTED_SESSION`
/// over http, `TWISTED_SECURE_SESSION` when Buildbot itself serves https; either with
/// the site path appended when Buildbot is not at the root).
fn session_cookie(answer: &OutboundResponse) -> Option<String> {
    answer
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .map(str::trim)
        .rfind(|pair| {
            pair.split_once('=').is_some_and(|(name, value)| {
                (name.starts_with("TWISTED_SESSION") || name.starts_with("TWISTED_SECURE_SESSION"))
                    && !value.is_empty()
            })
        })
        .map(str::to_owned)
}

/// Reads an answer as `T`.
fn parse<T: serde::de::DeserializeOwned>(answer: &OutboundResponse) -> Result<T, ConnectorError> {
    if serde_json::from_slice::<Value>(answer.body()).is_err() {
        return Err(not_buildbot(
            &display_url(answer.url()),
            "answered something that is not JSON",
        ));
    }
    answer.json()
}

#[derive(Debug, Deserialize)]
struct RpcReply {
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(Debug, Deserialize)]
struct RpcError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Value,
}

/// What a request was about, so that a refusal's hint fits it.
#[derive(Debug, Clone, Copy)]
enum About<'a> {
    /// The master itself (the check, discovery).
    Master,
    /// `auth/login`.
    Login,
    /// A builder, by name.
    Builder(&'a str),
    /// A build request: the builder's name and the request id.
    BuildRequest(&'a str, &'a str),
    /// A build: the builder's name and the build id.
    Build(&'a str, &'a str),
}

impl About<'_> {
    fn what(&self) -> String {
        match self {
            About::Master | About::Login => "Buildbot".to_owned(),
            About::Builder(name) => format!("builder {name}"),
            About::BuildRequest(name, id) => format!("build request {id} of builder {name}"),
            About::Build(name, id) => format!("build {id} of builder {name}"),
        }
    }
}

/// Buildbot's own words in an error answer (`{"error": "..."}`), short.
fn buildbot_says(answer: &OutboundResponse) -> Option<String> {
    let value: Value = serde_json::from_slice(answer.body()).ok()?;
    let error = value.get("error")?;
    let text = match error {
        Value::String(text) => text.clone(),
        Value::Object(object) => object.get("message").map(message_text)?,
        other => other.to_string(),
    };
    Some(shorten(&text))
}

/// A JSON-RPC error message as one line: text as is, an object of per-parameter errors
/// as `name: error; …`.
fn message_text(message: &Value) -> String {
    match message {
        Value::String(text) => text.clone(),
        Value::Object(fields) => fields
            .iter()
            .map(|(name, error)| match error {
                Value::String(text) => format!("{name}: {text}"),
                other => format!("{name}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn shorten(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 300 {
        let cut: String = text.chars().take(300).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The role in Buildbot's `you need to have role 'admins'`.
fn role_in(text: &str) -> Option<&str> {
    let (_, after) = text.split_once("role '")?;
    let (role, _) = after.split_once('\'')?;
    Some(role)
}

fn forbidden(
    user: &str,
    anonymous: bool,
    doing: &str,
    says: Option<&str>,
    url: &str,
) -> ConnectorError {
    let role = says.and_then(role_in);
    let reason = says.map(|s| format!(": {s}")).unwrap_or_default();
    let hint = match (anonymous, role) {
        (true, Some(role)) => format!(
            "Anonymous users may not do this: set the user name and password of a Buildbot user with role '{role}'"
        ),
        (true, None) => "Anonymous users may not do this: set the user name and password of a Buildbot user who may".to_owned(),
        (false, Some(role)) => format!(
            "Give {user} the role '{role}' in the master's authz configuration (c['www']['authz'] role matchers), or use a user that has it"
        ),
        (false, None) => format!(
            "Allow {user} this in the master's authz configuration (c['www']['authz']), or use a user that may"
        ),
    };
    ConnectorError::new(
        Category::Forbidden,
        format!("Buildbot does not let {user} {doing}{reason} (403 at {url})"),
        hint,
    )
}

/// Turns a plain API answer that is not a success into the category the user can act on.
fn refusal(answer: &OutboundResponse, user: &str, about: About<'_>) -> ConnectorError {
    let url = display_url(answer.url());
    let says = buildbot_says(answer);
    let anonymous = user == ANONYMOUS;
    match answer.status().as_u16() {
        401 => ConnectorError::new(
            Category::BadCredentials,
            format!(
                "Buildbot (or a proxy in front of it) refused the request of {user} (401 at {url})"
            ),
            format!(
                "Check the user name and password of {user}; a proxy in front of Buildbot may want credentials of its own"
            ),
        ),
        403 => forbidden(
            user,
            anonymous,
            &format!("read {}", about.what()),
            says.as_deref(),
            &url,
        ),
        404 => match about {
            About::Master | About::Login => {
                let hint = if answer.url().path().contains("/api/v2/") {
                    "Use Buildbot's root URL (the web UI's address), without /api/v2"
                } else {
                    "Use Buildbot's root URL: the address of its web UI, e.g. https://buildbot.example.com/ (with its path, if Buildbot is served under one)"
                };
                let hint = if matches!(about, About::Login) {
                    format!(
                        "{hint}; if this Buildbot has no authentication, leave the password empty"
                    )
                } else {
                    hint.to_owned()
                };
                ConnectorError::new(
                    Category::NotFound,
                    format!("nothing answers at {url} (404)"),
                    hint,
                )
            }
            About::Builder(name) => ConnectorError::new(
                Category::NotFound,
                format!("Buildbot has no builder {name} (404 at {url})"),
                format!(
                    "The builder {name} was removed from the master's configuration: sync the integration's pipelines"
                ),
            ),
            About::BuildRequest(..) | About::Build(..) => ConnectorError::new(
                Category::NotFound,
                format!("Buildbot has no {} (404 at {url})", about.what()),
                "The master's database no longer has it (a new database, or its history was cleaned): the run cannot be followed further",
            ),
        },
        status @ 500..=599 => ConnectorError::new(
            Category::UpstreamError,
            format!(
                "the server answered {status} at {url}{}",
                says.map(|s| format!(": {s}")).unwrap_or_default()
            ),
            "Buildbot (or a proxy in front of it) is failing; check the master's twistd.log and try again later",
        ),
        status if says.is_some() => ConnectorError::generic(
            Category::Protocol,
            format!(
                "Buildbot answered {status} at {url}: {}",
                says.unwrap_or_default()
            ),
        ),
        status => not_buildbot(&url, &format!("answered {status}")),
    }
}

/// Turns a JSON-RPC error into the category the user can act on.
fn rpc_refusal(
    answer: &OutboundResponse,
    error: &RpcError,
    user: &str,
    method: &str,
    about: About<'_>,
) -> ConnectorError {
    let url = display_url(answer.url());
    let says = shorten(&message_text(&error.message));
    let code = error.code.unwrap_or_default();
    let what = about.what();
    let doing = match method {
        "force" => format!("start a build of {what}"),
        "stop" => format!("stop {what}"),
        "cancel" => format!("cancel {what}"),
        other => format!("call {other} on {what}"),
    };
    match (answer.status().as_u16(), code) {
        (403, _) => forbidden(user, user == ANONYMOUS, &doing, Some(&says), &url),
        (401, _) => refusal(answer, user, about),
        (400, -32602) => {
            let names = match &error.message {
                Value::Object(fields) => fields.keys().cloned().collect::<Vec<_>>().join(", "),
                _ => String::new(),
            };
            let which = if names.is_empty() {
                String::new()
            } else {
                format!(" ({names})")
            };
            ConnectorError::new(
                Category::Protocol,
                format!("Buildbot refused the parameters{which} to {doing}: {says} (400 at {url})"),
                "The force scheduler's parameters have probably changed since the last sync: sync the integration's pipelines and try again",
            )
        }
        // Buildbot's answer when the builder or the force scheduler named is gone: it
        // fails looking it up (`'NoneType' object …`).
        (500, -32603) if says.contains("NoneType") => ConnectorError::new(
            Category::NotFound,
            format!("Buildbot could not find {what} to {method} ({says}; 500 at {url})"),
            "The builder or its force scheduler was removed from the master's configuration: sync the integration's pipelines",
        ),
        (status @ 500..=599, _) => ConnectorError::new(
            Category::UpstreamError,
            format!("Buildbot failed to {doing}: {says} ({status} at {url})"),
            "Buildbot (or a proxy in front of it) is failing; check the master's twistd.log and try again later",
        ),
        (404, _) => refusal(answer, user, about),
        (status, _) => ConnectorError::new(
            Category::Protocol,
            format!("Buildbot refused to {doing}: {says} ({status} at {url})"),
            "This Buildbot does not take the request as Buildbot 4 does; check its version (Switchboard supports 4.x)",
        ),
    }
}

fn not_buildbot(url: &str, what: &str) -> ConnectorError {
    ConnectorError::new(
        Category::NotThatTool,
        format!("something {what} at {url}, but it is not Buildbot"),
        "Check that the URL points at Buildbot's web UI root (where /config and /api/v2 are), not at another service or a login page in front of it",
    )
}

/// The part of Buildbot's `/config` the check reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MasterConfig {
    #[serde(rename = "buildbotURL")]
    buildbot_url: Option<String>,
    versions: Vec<Vec<Value>>,
    user: Option<ConfigUser>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfigUser {
    anonymous: bool,
    username: Option<String>,
}

impl MasterConfig {
    /// Buildbot's version from `versions` (`[["Buildbot", "4.3.0"], …]`).
    fn buildbot_version(&self) -> Option<String> {
        self.versions
            .iter()
            .find_map(|entry| match entry.as_slice() {
                [Value::String(name), Value::String(version), ..] if name == "Buildbot" => {
                    Some(version.clone())
                }
                _ => None,
            })
    }
}

/// `GET config` as is (no cookie), checked to be Buildbot's.
async fn master_config(session: &Session<'_>) -> Result<(MasterConfig, String), ConnectorError> {
    let answer = session
        .send_as_is(session.request(Method::GET, "config")?)
        .await?;
    if !answer.status().is_success() {
        return Err(refusal(&answer, &session.user, About::Master));
    }
    let url = display_url(answer.url());
    let config: MasterConfig = serde_json::from_slice::<Value>(answer.body())
        .ok()
        .filter(Value::is_object)
        .and_then(|value| serde_json::from_value(value).ok())
        .ok_or_else(|| not_buildbot(&url, "answered"))?;
    let version = match (config.buildbot_version(), &config.buildbot_url) {
        (Some(version), _) => version,
        // A master that hides its versions still has buildbotURL.
        (None, Some(_)) => "unknown".to_owned(),
        (None, None) => return Err(not_buildbot(&url, "answered")),
    };
    Ok((config, version))
}

/// Checks that the URL is a Buildbot, that the credentials are accepted (or that anonymous
/// access is what the integration wants), and which permissions hold.
async fn check(session: &Session<'_>) -> Result<ConnectionReport, ConnectorError> {
    let started = Instant::now();
    let (_, version) = master_config(session).await?;

    let authenticated_as = if let Some(login) = &session.login {
        let answer = session.get("config", About::Master).await?;
        let url = display_url(answer.url());
        let config: MasterConfig = parse(&answer)?;
        let user = config.user.unwrap_or_default();
        match user.username {
            Some(name) if !user.anonymous => {
                if !name.eq_ignore_ascii_case(&login.username) {
                    return Err(ConnectorError::new(
                        Category::BadCredentials,
                        format!(
                            "Buildbot says the session belongs to {name}, not to {} (at {url})",
                            login.username
                        ),
                        format!(
                            "Set the user name Buildbot knows the user by ({name}?), or check what the master's auth maps {} to",
                            login.username
                        ),
                    ));
                }
                name
            }
            _ => {
                return Err(ConnectorError::new(
                    Category::BadCredentials,
                    format!(
                        "Buildbot treated the session as anonymous at {url}: the credentials of {} were not applied",
                        login.username
                    ),
                    "Check that the master has authentication configured (c['www']['auth']); a proxy in front of Buildbot may also drop the Cookie header",
                ));
            }
        }
    } else {
        ANONYMOUS.to_owned()
    };

    let mut permissions = Vec::new();
    session
        .get("api/v2/builders?limit=1", About::Master)
        .await?;
    permissions.push(PERMISSION_READ.to_owned());

    // authz judges a control call before looking at its method: 403 when the user may
    // not control, else 501 for a method no endpoint has. Nothing changes either way.
    let (answer, reply) = session
        .rpc_answer("api/v2/forceschedulers", PROBE_METHOD, json!({}))
        .await?;
    match answer.status().as_u16() {
        // Not supported (the expected answer) or a result: authz let the call through.
        501 | 200 => permissions.push(PERMISSION_CONTROL.to_owned()),
        // Switchboard exists to trigger and stop builds: a user who may only read is not
        // enough, and saying so at the check beats a refusal at the first Run.
        403 => {
            return Err(ConnectorError::new(
                Category::Forbidden,
                format!(
                    "Buildbot lets {authenticated_as} read but not control builds (403 at {})",
                    display_url(answer.url())
                ),
                format!(
                    "Give {authenticated_as} a role the master's authz allows to force and stop builds (c['www']['authz'] allowRules), or use a user that has one"
                ),
            ));
        }
        _ => {
            return Err(match reply.and_then(|reply| reply.error) {
                Some(error) => {
                    rpc_refusal(&answer, &error, &session.user, PROBE_METHOD, About::Master)
                }
                None => refusal(&answer, &session.user, About::Master),
            });
        }
    }

    Ok(ConnectionReport {
        tool_version: version,
        authenticated_as,
        permissions,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
