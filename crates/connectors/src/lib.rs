//! Switchboard's connectors to CI/CD tools (docs/design.md §6): the error taxonomy, the guarded
//! outbound HTTP client, the [`Connector`] contract, and Jenkins'
//! ([`jenkins::JenkinsConnector`]) and Buildbot's ([`buildbot::BuildbotConnector`]).
//!
//! # How a connector uses this crate
//!
//! The server builds one [`GuardedClient`] at start-up from an [`OutboundPolicy`] (timeouts,
//! body cap, redirect limit, `deny_private` from `SWITCHBOARD_OUTBOUND_DENY_PRIVATE`) and
//! shares it. For each integration a connector takes an [`OriginClient`]:
//!
//! ```no_run
//! # async fn example() -> Result<(), switchboard_connectors::ConnectorError> {
//! use switchboard_connectors::{
//!     BaseUrl, Category, ConnectorError, Credentials, GuardedClient, Method, OutboundPolicy,
//! };
//!
//! let client = GuardedClient::new(OutboundPolicy::default()).expect("TLS backend");
//! let jenkins = client.for_origin(
//!     BaseUrl::parse("https://ci.example.com/jenkins")?,
//!     Some(Credentials::Basic { username: "alice".into(), secret: "token".to_owned().into() }),
//! );
//! let answer = jenkins.send(jenkins.request(Method::GET, "whoAmI/api/json")?).await?;
//! if answer.status().as_u16() == 401 {
//!     return Err(ConnectorError::new(
//!         Category::BadCredentials,
//!         "Jenkins answered 401 to alice's API token",
//!         "Jenkins rejected the API token for user alice: create a new token under People → alice → Security",
//!     ));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Everything below HTTP — a URL that is not http(s) or leads to a denied address (by DNS, by
//! IP literal, by redirect), DNS, connect, TLS, timeouts, an oversized or non-HTTP answer — is
//! already a [`ConnectorError`] with its [`Category`] and a hint when `send` returns. Above
//! HTTP the connector decides: a status (see [`Category::from_status`]) or body that is not
//! what the tool answers becomes `bad_credentials`, `forbidden`, `not_found`,
//! `not_that_tool`, `upstream_error` or `protocol`, with a hint that names the user, the
//! permission or the path. Messages and hints never contain a secret: URLs go through
//! [`display_url`], and credentials live only in [`Credentials`], which the client sends
//! only to the integration's origin.
//!
//! The [`Connector`] trait (check / discover / trigger / poll / log / cancel) is what the
//! server calls; each approved tool implements it in its own module ([`jenkins`]).

pub mod buildbot;
mod client;
mod connector;
mod error;
pub mod jenkins;
pub mod log_filter;
mod policy;
mod resolve;

pub use client::{
    BaseUrl, ClientBuildError, Credentials, GuardedClient, OriginClient, OutboundRequest,
    OutboundResponse,
};
pub use connector::{
    BoxFuture, CLOCK_SKEW, ConnectionReport, Connector, Connectors, DiscoveredPipeline, Discovery,
    LogPiece, PipelineRef, RunHandle, RunState, Target, Unconfirmed,
};
pub use error::{Category, ConnectorError, display_url};
pub use log_filter::LogMask;
pub use policy::{AddressClass, AddressDenied, OutboundPolicy, TrustedRoots, TrustedRootsError};
pub use resolve::{Addrs, Name, Resolve, Resolving, StaticResolver, SystemResolver};

/// Makes ring rustls' crypto provider for this process, as reqwest is built without one (ring
/// is the stack's crypto library; reqwest's default would add aws-lc). Called by every
/// [`GuardedClient`] constructor; idempotent, and harmless when a provider is already set.
pub fn use_ring_crypto() {
    // `Err` means a provider is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// HTTP types used in requests and responses, so connectors need no direct reqwest dependency.
pub use reqwest::{Method, StatusCode, header};
pub use url::Url;
