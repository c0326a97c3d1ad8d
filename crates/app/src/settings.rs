//! What the use cases and the background work are configured with (passed in, never global).

use std::sync::Arc;
use std::time::Duration;

use switchboard_connectors::{OutboundPolicy, Resolve};

/// How the server talks to CI/CD tools.
#[derive(Clone, Default)]
pub struct OutboundConfig {
    pub policy: OutboundPolicy,
    /// Resolves host names instead of the system resolver (tests map names to loopback).
    pub resolver: Option<Arc<dyn Resolve>>,
}

impl std::fmt::Debug for OutboundConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundConfig")
            .field("policy", &self.policy)
            .field("resolver", &self.resolver.as_ref().map(|_| "custom"))
            .finish()
    }
}

/// The periodic connection checks and discovery, and the run monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackgroundConfig {
    pub check_interval: Duration,
    /// The first retry after a failed check or discovery; doubled per failure in a row.
    pub check_retry: Duration,
    pub run_poll_min: Duration,
    pub run_poll_max: Duration,
    pub monitor_concurrency: usize,
    /// How long finished runs are kept; `None`: for ever.
    pub run_retention: Option<Duration>,
    /// How often finished runs past their retention are looked for.
    pub purge_interval: Duration,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(300),
            check_retry: Duration::from_secs(10),
            run_poll_min: Duration::from_millis(500),
            run_poll_max: Duration::from_millis(1500),
            monitor_concurrency: 8,
            run_retention: Some(Duration::from_secs(90 * 24 * 3600)),
            purge_interval: Duration::from_secs(3600),
        }
    }
}
