//! The guarded outbound HTTP client (docs/design.md §6): every request a connector makes goes
//! through [`GuardedClient`], usually through the [`OriginClient`] of one integration.

use crate::error::{Category, ConnectorError, display_url};
use crate::policy::{AddressDenied, OutboundPolicy};
use crate::resolve::{GuardedResolver, Resolve, ResolveFailed, ResolvedToDenied, SystemResolver};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, PROXY_AUTHORIZATION};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// The HTTP client could not be built (in practice: the TLS backend failed to initialise or
/// refused an extra root certificate).
#[derive(Debug, thiserror::Error)]
#[error("could not build the outbound HTTP client: {0}")]
pub struct ClientBuildError(#[source] reqwest::Error);

/// The outbound HTTP client every connector uses. Cheap to clone (one connection pool).
///
/// - http and https only; URLs with user info are refused;
/// - connect and total timeouts, a cap on the body size (read as a stream, stopped at the cap);
/// - redirects followed only within the origin of the request (scheme, host, port), at most
///   [`OutboundPolicy::max_redirects`];
/// - every address checked against the deny list after name resolution (by the resolver
///   reqwest connects with) and IP-literal URLs before any request;
/// - no proxy (a proxy would resolve names itself, out of the guard's sight);
/// - credentials only through an [`OriginClient`], which sends them only to its own origin.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    http: reqwest::Client,
    /// For requests whose redirect is an answer in itself (see
    /// [`OutboundRequest::without_redirects`]); reqwest's redirect policy is per client.
    http_no_redirects: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl GuardedClient {
    /// A client that resolves names with the operating system's resolver.
    pub fn new(policy: OutboundPolicy) -> Result<Self, ClientBuildError> {
        Self::with_resolver(policy, Arc::new(SystemResolver))
    }

    /// A client that resolves names with `resolver`; the address guard applies to whatever
    /// it returns.
    pub fn with_resolver(
        policy: OutboundPolicy,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, ClientBuildError> {
        crate::use_ring_crypto();
        let max_redirects = policy.max_redirects;
        let extra_roots = policy.extra_roots.to_reqwest().map_err(ClientBuildError)?;
        let build = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .connect_timeout(policy.connect_timeout)
                .timeout(policy.total_timeout)
                .redirect(redirects)
                .no_proxy()
                .referer(false)
                .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
                .tls_certs_merge(extra_roots.clone())
                .dns_resolver(Arc::new(GuardedResolver::new(
                    resolver.clone(),
                    policy.clone(),
                )))
                .build()
                .map_err(ClientBuildError)
        };
        let http = build(reqwest::redirect::Policy::custom(move |attempt| {
            same_origin_redirects(attempt, max_redirects)
        }))?;
        let http_no_redirects = build(reqwest::redirect::Policy::none())?;
        Ok(Self {
            http,
            http_no_redirects,
            policy: Arc::new(policy),
        })
    }

    /// The policy the client enforces.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// A client for one integration: requests relative to `base`, credentials attached, and
    /// nothing sent outside `base`'s origin.
    pub fn for_origin(&self, base: BaseUrl, credentials: Option<Credentials>) -> OriginClient {
        OriginClient {
            client: self.clone(),
            base,
            credentials,
        }
    }

    /// Sends a request without credentials: `Authorization` and `Proxy-Authorization`
    /// headers are removed (credentials go only through an [`OriginClient`]).
    pub async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, ConnectorError> {
        self.execute(request, None).await
    }

    async fn execute(
        &self,
        mut request: OutboundRequest,
        credentials: Option<&Credentials>,
    ) -> Result<OutboundResponse, ConnectorError> {
        self.check_url(&request.url)?;
        request.headers.remove(AUTHORIZATION);
        request.headers.remove(PROXY_AUTHORIZATION);

        let url = request.url.clone();
        let http = if request.follow_redirects {
            &self.http
        } else {
            &self.http_no_redirects
        };
        let mut builder = http
            .request(request.method, request.url)
            .headers(request.headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        builder = match credentials {
            Some(Credentials::Basic { username, secret }) => {
                builder.basic_auth(username, Some(secret.expose_secret()))
            }
            Some(Credentials::Bearer(token)) => builder.bearer_auth(token.expose_secret()),
            None => builder,
        };

        let response = builder.send().await.map_err(|e| self.classify(&e, &url))?;
        let status = response.status();
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        let body = self.read_capped(response, &final_url).await?;
        Ok(OutboundResponse {
            status,
            headers,
            url: final_url,
            body,
        })
    }

    /// What can be refused before any request: the scheme, credentials in the URL, an IP
    /// literal in the deny list (reqwest does not resolve those, so the resolver never sees
    /// them).
    fn check_url(&self, url: &Url) -> Result<(), ConnectorError> {
        check_shape(url)?;
        let host = url.host_str().unwrap_or_default();
        if !self.policy.host_allowed(host) {
            return Err(ConnectorError::new(
                Category::InvalidUrl,
                format!(
                    "{} is not on this server's list of hosts it may reach",
                    display_url(url)
                ),
                format!(
                    "Use one of the allowed hosts ({}), or ask the Switchboard administrator to add this one to SWITCHBOARD_OUTBOUND_ALLOWED_HOSTS.",
                    self.policy.allowed_hosts.join(", ")
                ),
            ));
        }
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        self.policy.check_address(ip).map_err(|denied| {
            ConnectorError::new(
                Category::InvalidUrl,
                format!(
                    "{} points at {}, {}, which Switchboard does not connect to",
                    display_url(url),
                    denied.ip,
                    denied.class.describe()
                ),
                denied_hint(&denied),
            )
        })
    }

    async fn read_capped(
        &self,
        mut response: reqwest::Response,
        url: &Url,
    ) -> Result<Vec<u8>, ConnectorError> {
        let cap = self.policy.max_body_bytes;
        let too_large = || {
            ConnectorError::new(
                Category::Protocol,
                format!(
                    "the answer from {} is larger than the {cap}-byte limit; reading stopped there",
                    display_url(url)
                ),
                "Check that the URL points at the tool's API; if the tool really answers this much, raise the outbound body limit.",
            )
        };
        if response
            .content_length()
            .is_some_and(|length| length > cap as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&e, url))? {
            if body.len() + chunk.len() > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Maps a reqwest failure to the taxonomy by what its error chain contains.
    fn classify(&self, error: &reqwest::Error, url: &Url) -> ConnectorError {
        let chain = error_chain(error);
        let host = url.host_str().unwrap_or("the server");
        let authority = format!("{host}:{}", url.port_or_known_default().unwrap_or(0));
        let innermost = chain
            .last()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "unknown error".to_owned());

        if let Some(rejected) = find::<ResolvedToDenied>(&chain) {
            return ConnectorError::new(
                Category::InvalidUrl,
                format!("{rejected}, which Switchboard does not connect to"),
                denied_hint(&rejected.denied),
            );
        }
        if let Some(failed) = find::<ResolveFailed>(&chain) {
            return ConnectorError::new(
                Category::Dns,
                failed.to_string(),
                format!(
                    "Check the host name {} for typos and that the Switchboard server's DNS can resolve it.",
                    failed.host
                ),
            );
        }
        if let Some(redirect) = find::<CrossOriginRedirect>(&chain) {
            let to = redirect.to.origin().ascii_serialization();
            let from = redirect.from.origin().ascii_serialization();
            let hint = if redirect.to.host() == redirect.from.host() {
                format!(
                    "The tool redirects {from} to {to}: change the integration URL to start with {to}/."
                )
            } else {
                "Set the integration URL to the address the tool answers on itself, not one that redirects to another server (a login page or a proxy).".to_owned()
            };
            return ConnectorError::new(
                Category::InvalidUrl,
                format!(
                    "{} redirected to {}, outside {from}; Switchboard follows redirects only within the integration's origin",
                    display_url(&redirect.from),
                    display_url(&redirect.to)
                ),
                hint,
            );
        }
        if let Some(too_many) = find::<TooManyRedirects>(&chain) {
            return ConnectorError::new(
                Category::Protocol,
                format!("{} {too_many}", display_url(url)),
                "Check the tool's and any proxy's redirect rules; a redirect loop looks like this.",
            );
        }
        if let Some(tls) = find::<rustls::Error>(&chain) {
            return tls_error(tls, host, &authority);
        }
        if error.is_timeout() {
            return if error.is_connect() {
                ConnectorError::generic(
                    Category::Timeout,
                    format!(
                        "connecting to {authority} took longer than {}",
                        human(self.policy.connect_timeout)
                    ),
                )
            } else {
                ConnectorError::generic(
                    Category::Timeout,
                    format!(
                        "{} did not answer completely within {}",
                        display_url(url),
                        human(self.policy.total_timeout)
                    ),
                )
            };
        }
        if let Some(io_error) = find::<io::Error>(&chain) {
            let what = match io_error.kind() {
                io::ErrorKind::ConnectionRefused => Some("refused the connection"),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                    Some("reset the connection")
                }
                io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
                    Some("is unreachable from the Switchboard server")
                }
                _ => None,
            };
            if let Some(what) = what {
                return ConnectorError::new(
                    Category::Connect,
                    format!("{authority} {what}"),
                    format!(
                        "Check the port in the URL and that the tool is running on {host} and reachable from the Switchboard server."
                    ),
                );
            }
        }
        if let Some(hyper_error) = find::<hyper::Error>(&chain)
            && (hyper_error.is_parse() || hyper_error.is_incomplete_message())
        {
            return ConnectorError::new(
                Category::Protocol,
                format!("{authority} did not give a valid HTTP answer ({hyper_error})"),
                "Check that the port is the tool's HTTP port, and whether it expects https:// rather than http://.",
            );
        }
        if error.is_dns() {
            return ConnectorError::generic(
                Category::Dns,
                format!("could not resolve {host}: {innermost}"),
            );
        }
        if error.is_connect() {
            return ConnectorError::generic(
                Category::Connect,
                format!("could not connect to {authority}: {innermost}"),
            );
        }
        if error.is_builder() {
            return ConnectorError::generic(
                Category::InvalidUrl,
                format!("cannot request {}: {innermost}", display_url(url)),
            );
        }
        if error.is_body() || error.is_decode() {
            return ConnectorError::generic(
                Category::Protocol,
                format!(
                    "reading the answer from {} failed: {innermost}",
                    display_url(url)
                ),
            );
        }
        ConnectorError::generic(
            Category::Connect,
            format!("the request to {} failed: {innermost}", display_url(url)),
        )
    }
}

/// The reqwest redirect policy: only within the origin of the first request, at most `max`.
fn same_origin_redirects(
    attempt: reqwest::redirect::Attempt<'_>,
    max: usize,
) -> reqwest::redirect::Action {
    let Some(first) = attempt.previous().first().cloned() else {
        return attempt.stop();
    };
    if attempt.url().origin() != first.origin() {
        let to = attempt.url().clone();
        return attempt.error(CrossOriginRedirect { from: first, to });
    }
    // `previous` holds the first request and every redirect followed so far.
    if attempt.previous().len() > max {
        return attempt.error(TooManyRedirects { max });
    }
    attempt.follow()
}

#[derive(Debug, thiserror::Error)]
#[error("redirect to another origin refused")]
struct CrossOriginRedirect {
    from: Url,
    to: Url,
}

#[derive(Debug, thiserror::Error)]
#[error("redirected more than {max} times")]
struct TooManyRedirects {
    max: usize,
}

/// The error and everything under it. `io::Error::source` skips the error it wraps (it
/// returns the wrapped error's source), so the wrapped error is visited explicitly: that is
/// where rustls' errors live.
fn error_chain<'a>(error: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        if chain.len() == 32 {
            break;
        }
        chain.push(current);
        next = match current
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
        {
            Some(wrapped) => Some(wrapped as &(dyn StdError + 'static)),
            None => current.source(),
        };
    }
    chain
}

fn find<'a, T: StdError + 'static>(chain: &[&'a (dyn StdError + 'static)]) -> Option<&'a T> {
    chain.iter().find_map(|e| e.downcast_ref::<T>())
}

fn tls_error(error: &rustls::Error, host: &str, authority: &str) -> ConnectorError {
    match error {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            ConnectorError::new(
                Category::Tls,
                format!("the TLS certificate of {authority} is not trusted: {error}"),
                format!(
                    "Give {host} a certificate for its name from a CA the Switchboard server trusts (a self-signed one is not), or add its CA to the certificates Switchboard trusts (SWITCHBOARD_OUTBOUND_CA_FILE)."
                ),
            )
        }
        rustls::Error::InvalidMessage(_) => ConnectorError::new(
            Category::Tls,
            format!("{authority} does not speak TLS: {error}"),
            "If the tool serves plain HTTP on this port, use an http:// URL; otherwise check the port.",
        ),
        _ => ConnectorError::generic(
            Category::Tls,
            format!("the TLS handshake with {authority} failed: {error}"),
        ),
    }
}

fn denied_hint(denied: &AddressDenied) -> String {
    if denied.class.always_denied() {
        "Switchboard never connects to link-local, cloud metadata or non-unicast addresses: use the tool's own address.".to_owned()
    } else {
        "This server refuses loopback and private addresses (SWITCHBOARD_OUTBOUND_DENY_PRIVATE=true): use the tool's public address, or ask an administrator to allow private ones.".to_owned()
    }
}

fn human(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// The scheme, a host, no credentials: what any outbound URL must have.
fn check_shape(url: &Url) -> Result<(), ConnectorError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConnectorError::new(
            Category::InvalidUrl,
            format!("{}: URLs are not supported", url.scheme()),
            "Use an http:// or https:// URL.",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConnectorError::new(
            Category::InvalidUrl,
            format!("{} has credentials in it", display_url(url)),
            "Remove the user name and password from the URL and put them in the integration's credential fields.",
        ));
    }
    if url.host().is_none() {
        return Err(ConnectorError::generic(
            Category::InvalidUrl,
            "the URL has no host",
        ));
    }
    Ok(())
}

/// An integration's base URL: http or https, a host, no credentials, no query; its path
/// (e.g. `/jenkins/`) always ends with `/` so that relative paths join under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    /// Parses and checks a base URL. The error never repeats the input (it may hold a
    /// password).
    pub fn parse(input: &str) -> Result<Self, ConnectorError> {
        let url = Url::parse(input.trim()).map_err(|e| {
            ConnectorError::generic(Category::InvalidUrl, format!("not a valid URL: {e}"))
        })?;
        Self::from_url(url)
    }

    /// Checks a parsed URL and normalises it (query and fragment dropped, trailing `/`).
    pub fn from_url(mut url: Url) -> Result<Self, ConnectorError> {
        check_shape(&url)?;
        url.set_query(None);
        url.set_fragment(None);
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Self(url))
    }

    /// The URL itself.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// `scheme://host:port`, the origin credentials are sent to.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// Whether `url` has this base's scheme, host and port.
    pub fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.0.origin()
    }

    /// `path` under the base (`job/x/api/json` under `https://ci/jenkins/` is
    /// `https://ci/jenkins/job/x/api/json`); leading slashes are ignored, so a path cannot
    /// escape the base's path prefix. Anything that would leave the origin is refused.
    pub fn join(&self, path: &str) -> Result<Url, ConnectorError> {
        let joined = self.0.join(path.trim_start_matches('/')).map_err(|e| {
            ConnectorError::generic(Category::InvalidUrl, format!("not a valid path: {e}"))
        })?;
        if !self.same_origin(&joined) {
            return Err(outside_origin(&joined, self));
        }
        Ok(joined)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_url(&self.0))
    }
}

fn outside_origin(url: &Url, base: &BaseUrl) -> ConnectorError {
    ConnectorError::new(
        Category::InvalidUrl,
        format!(
            "refused to send a request for {} outside the integration's origin {}",
            display_url(url),
            base.origin()
        ),
        "The tool links to another address than the integration URL: make the tool's own URL setting (e.g. Jenkins' root URL) match the integration URL.",
    )
}

/// Credentials for one integration. `Debug` shows no secret.
#[derive(Clone)]
pub enum Credentials {
    /// HTTP Basic: user name and password or API token.
    Basic {
        /// The user name (not secret).
        username: String,
        /// The password or API token.
        secret: SecretString,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("secret", &"[redacted]")
                .finish(),
            Credentials::Bearer(_) => f.debug_tuple("Bearer").field(&"[redacted]").finish(),
        }
    }
}

/// The client of one integration: its base URL and credentials over a [`GuardedClient`].
#[derive(Debug, Clone)]
pub struct OriginClient {
    client: GuardedClient,
    base: BaseUrl,
    credentials: Option<Credentials>,
}

impl OriginClient {
    /// The integration's base URL.
    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// The credentials, if any (connectors name the user in hints).
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// A request for `path` under the base URL.
    pub fn request(&self, method: Method, path: &str) -> Result<OutboundRequest, ConnectorError> {
        Ok(OutboundRequest::new(method, self.base.join(path)?))
    }

    /// Sends `request` with the integration's credentials. A request outside the base URL's
    /// origin is refused before anything is sent.
    pub async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, ConnectorError> {
        if !self.base.same_origin(&request.url) {
            return Err(outside_origin(&request.url, &self.base));
        }
        self.client
            .execute(request, self.credentials.as_ref())
            .await
    }
}

/// A request to send through the guarded client.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    follow_redirects: bool,
}

impl OutboundRequest {
    /// A request with no headers and no body, following same-origin redirects.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            follow_redirects: true,
        }
    }

    /// A GET request.
    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }

    /// A POST request.
    pub fn post(url: Url) -> Self {
        Self::new(Method::POST, url)
    }

    /// Adds a header (`Authorization` is dropped when sent: credentials are the
    /// [`OriginClient`]'s business).
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Returns a redirect as the answer instead of following it. For actions whose
    /// redirect only says "done, look here" (Jenkins' `stop` answers 302 to the build page):
    /// following it would cost a request, turn a POST into a GET, and fail as a cross-origin
    /// redirect when the tool's own idea of its URL differs from the integration URL.
    #[must_use]
    pub fn without_redirects(mut self) -> Self {
        self.follow_redirects = false;
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL, to add query parameters (`url_mut().query_pairs_mut()`).
    pub fn url_mut(&mut self) -> &mut Url {
        &mut self.url
    }
}

/// An answer, its body read in full (within the size cap).
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    status: StatusCode,
    headers: HeaderMap,
    url: Url,
    body: Vec<u8>,
}

impl OutboundResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The URL that answered (after same-origin redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON of type `T`; anything else is a `protocol` error.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ConnectorError::generic(
                Category::Protocol,
                format!(
                    "the answer from {} is not the expected JSON: {e}",
                    display_url(&self.url)
                ),
            )
        })
    }
}
