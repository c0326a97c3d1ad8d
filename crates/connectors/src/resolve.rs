//! Name resolution with the address guard applied to what it returns.
//!
//! reqwest connects only to the addresses its resolver hands back, so checking them here means
//! the decision applies to the very addresses connected to (a DNS answer that changes between a
//! check and the connection cannot slip through).

use crate::policy::{AddressDenied, OutboundPolicy};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The operating system's resolver (`getaddrinfo` on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A fixed table of names, for tests and simulators. A name not in the table fails like
/// NXDOMAIN; no real DNS is ever asked.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table: every name fails.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `name` → `addresses`.
    #[must_use]
    pub fn with(mut self, name: &str, addresses: &[IpAddr]) -> Self {
        self.table
            .insert(name.to_ascii_lowercase(), addresses.to_vec());
        self
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.table.get(&name.as_str().to_ascii_lowercase()).cloned();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match found {
                Some(ips) => {
                    let addrs: Vec<SocketAddr> =
                        ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
                    Ok(Box::new(addrs.into_iter()) as Addrs)
                }
                None => Err(Box::new(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no such host: {host}"),
                ))
                    as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// The resolver the guarded client installs: asks `inner`, then refuses the whole answer if
/// any address in it is denied by the policy (a name that resolves to a metadata address next
/// to a harmless one is not "partly fine").
pub(crate) struct GuardedResolver {
    inner: Arc<dyn Resolve>,
    policy: OutboundPolicy,
}

impl GuardedResolver {
    pub(crate) fn new(inner: Arc<dyn Resolve>, policy: OutboundPolicy) -> Self {
        Self { inner, policy }
    }
}

/// Resolution gave no usable answer (the inner resolver's error, or no addresses).
#[derive(Debug, thiserror::Error)]
#[error("could not resolve {host}: {reason}")]
pub(crate) struct ResolveFailed {
    pub(crate) host: String,
    pub(crate) reason: String,
}

/// The name resolved to an address the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {}, {}", denied.ip, denied.class.describe())]
pub(crate) struct ResolvedToDenied {
    pub(crate) host: String,
    pub(crate) denied: AddressDenied,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let resolving = self.inner.resolve(name);
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = match resolving.await {
                Ok(addrs) => addrs.collect(),
                Err(error) => {
                    return Err(Box::new(ResolveFailed {
                        host,
                        reason: error.to_string(),
                    })
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            };
            if addrs.is_empty() {
                return Err(Box::new(ResolveFailed {
                    host,
                    reason: "no addresses".to_owned(),
                }));
            }
            for addr in &addrs {
                if let Err(denied) = policy.check_address(addr.ip()) {
                    return Err(Box::new(ResolvedToDenied { host, denied }));
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
