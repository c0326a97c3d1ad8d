//! Buildbot sessions: logging in through `auth/login`, the cookie cache, and requests and
//! JSON-RPC calls made with a session (renewed once when Buildbot swaps or refuses it).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    BaseUrl, Category, ConnectorError, Method, OriginClient, OutboundRequest, OutboundResponse,
    display_url, header,
};

use super::*;

/// What identifies a session: the integration's base URL, the user, and a salted hash of
/// the password (so that a changed password logs in again, and no password is kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct SessionKey {
    pub(super) base: String,
    pub(super) username: String,
    pub(super) password_hash: [u8; 32],
}

/// Session cookies by [`SessionKey`].
pub(super) struct SessionCache {
    /// Random per connector, so that the hashes mean nothing outside this process.
    pub(super) salt: [u8; 16],
    pub(super) cookies: Mutex<HashMap<SessionKey, String>>,
}

impl SessionCache {
    pub(super) fn new() -> Self {
        let random = RandomState::new();
        let mut salt = [0u8; 16];
        salt[..8].copy_from_slice(&random.hash_one(1u8).to_le_bytes());
        salt[8..].copy_from_slice(&random.hash_one(2u8).to_le_bytes());
        Self {
            salt,
            cookies: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn key(
        &self,
        base: &BaseUrl,
        username: &str,
        password: &SecretString,
    ) -> SessionKey {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(password.expose_secret().as_bytes());
        SessionKey {
            base: base.as_url().as_str().to_owned(),
            username: username.to_owned(),
            password_hash: hasher.finalize().into(),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, String>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.cookies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn get(&self, key: &SessionKey) -> Option<String> {
        self.lock().get(key).cloned()
    }

    pub(super) fn put(&self, key: SessionKey, cookie: String) {
        let mut cookies = self.lock();
        if cookies.len() >= MAX_SESSIONS && !cookies.contains_key(&key) {
            let victim = cookies.keys().next().cloned();
            if let Some(victim) = victim {
                cookies.remove(&victim);
            }
        }
        cookies.insert(key, cookie);
    }

    pub(super) fn forget(&self, key: &SessionKey, cookie: &str) {
        let mut cookies = self.lock();
        // Another call may have logged in meanwhile; keep its cookie.
        if cookies.get(key).is_some_and(|cached| cached == cookie) {
            cookies.remove(key);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// How to log in: a client that sends Basic credentials (used for `auth/login` only).
pub(super) struct Login {
    pub(super) client: OriginClient,
    pub(super) key: SessionKey,
    pub(super) username: String,
}

/// The cookie a call uses, and whether it was logged in for during this call.
#[derive(Clone)]
pub(super) struct Cookie {
    pub(super) header: String,
    pub(super) fresh: bool,
}

/// One call's view of an integration.
pub(super) struct Session<'a> {
    /// Requests to the API; carries no credentials (the cookie is added per request).
    pub(super) api: OriginClient,
    /// `None` for anonymous access.
    pub(super) login: Option<Login>,
    pub(super) cache: &'a SessionCache,
    /// The user hints name: the user name, or `anonymous`.
    pub(super) user: String,
    pub(super) cookie: Mutex<Option<Cookie>>,
    /// Requests sent so far (logins and retries included).
    pub(super) sent: AtomicU64,
}

impl Session<'_> {
    pub(super) fn base(&self) -> &BaseUrl {
        self.api.base()
    }

    pub(super) fn request(
        &self,
        method: Method,
        path: &str,
    ) -> Result<OutboundRequest, ConnectorError> {
        Ok(self.api.request(method, path)?.header(
            header::ACCEPT,
            header::HeaderValue::from_static("application/json"),
        ))
    }

    pub(super) fn current_cookie(&self) -> Option<Cookie> {
        self.cookie
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(super) fn set_cookie(&self, cookie: Cookie) {
        *self
            .cookie
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cookie);
    }

    /// The cookie to send: this call's, else the cached one, else a new login's.
    pub(super) async fn cookie(&self, login: &Login) -> Result<Cookie, ConnectorError> {
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
    pub(super) async fn log_in(&self, login: &Login) -> Result<Cookie, ConnectorError> {
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
    pub(super) async fn send_as_is(
        &self,
        request: OutboundRequest,
    ) -> Result<OutboundResponse, ConnectorError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.api.send(request).await
    }

    /// How many requests this call has sent.
    pub(super) fn requests(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends a request with the session cookie (none when anonymous). When Buildbot does
    /// not accept the cookie — it answers with a new session cookie, or a cached cookie
    /// meets 401/403 — logs in again and sends the request once more. Returns whatever
    /// answered.
    pub(super) async fn send(
        &self,
        request: OutboundRequest,
    ) -> Result<OutboundResponse, ConnectorError> {
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
    pub(super) async fn get(
        &self,
        path: &str,
        about: About<'_>,
    ) -> Result<OutboundResponse, ConnectorError> {
        let answer = self.send(self.request(Method::GET, path)?).await?;
        if answer.status().is_success() {
            Ok(answer)
        } else {
            Err(refusal(&answer, &self.user, about))
        }
    }

    /// GETs `path` and reads the answer as `T`; an answer that is not that JSON is a
    /// `protocol` error (or `not_that_tool` when it is not JSON at all).
    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        about: About<'_>,
    ) -> Result<T, ConnectorError> {
        let answer = self.get(path, about).await?;
        parse(&answer)
    }

    /// Sends a JSON-RPC 2.0 control call (`method` with `params`) to `path`; returns the
    /// answer and its reply, if the body is one.
    pub(super) async fn rpc_answer(
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
    pub(super) async fn rpc(
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

pub(super) fn with_cookie(
    request: OutboundRequest,
    cookie: &str,
) -> Result<OutboundRequest, ConnectorError> {
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
pub(super) fn session_cookie(answer: &OutboundResponse) -> Option<String> {
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
pub(super) fn parse<T: serde::de::DeserializeOwned>(
    answer: &OutboundResponse,
) -> Result<T, ConnectorError> {
    if serde_json::from_slice::<Value>(answer.body()).is_err() {
        return Err(not_buildbot(
            &display_url(answer.url()),
            "answered something that is not JSON",
        ));
    }
    answer.json()
}

#[derive(Debug, Deserialize)]
pub(super) struct RpcReply {
    #[serde(default)]
    pub(super) result: Option<Value>,
    #[serde(default)]
    pub(super) error: Option<RpcError>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RpcError {
    #[serde(default)]
    pub(super) code: Option<i64>,
    #[serde(default)]
    pub(super) message: Value,
}
