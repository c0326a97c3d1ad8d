//! Talking to CI/CD tools on behalf of the API and the background work: the connectors of the
//! approved tools, the stored integration turned into a connector [`Target`], and the
//! check/discovery steps whose results the store keeps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use switchboard_connectors::{
    Category, ClientBuildError, ConnectionReport, Connector, ConnectorError, Connectors,
    GuardedClient, Target, buildbot::BuildbotConnector, jenkins::JenkinsConnector,
};
use switchboard_domain::check::{ConnectionCheck, SyncReport};
use switchboard_domain::integration::origin_of;
use switchboard_domain::tools::{BUILDBOT, JENKINS, find_tool};
use switchboard_store::{CheckSchedule, Store, StoredCredential};
use tokio::sync::Notify;

use crate::{AppError, BackgroundConfig, OutboundConfig, tallied};

/// A check run while saving answers within this bound, so a save never waits for the whole
/// outbound timeout of a tool that swallows packets; the periodic re-check uses the full one.
pub const SAVE_CHECK_BOUND: Duration = Duration::from_secs(10);

pub struct Tooling {
    pub store: Arc<Store>,
    connectors: Connectors,
    pub background: BackgroundConfig,
    /// Woken when a run is triggered or cancelled, so the monitor polls it at once.
    pub monitor_wake: Notify,
    /// Names this server process in leases.
    pub owner: String,
    /// The bound on one request to a tool (the outbound policy's total timeout).
    pub outbound_timeout: Duration,
}

/// How long a trigger holds its freshly recorded run beyond the outbound timeout (the
/// database writes around the tool's answer).
const TRIGGER_MARGIN: Duration = Duration::from_secs(5);

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

impl Tooling {
    /// How long a trigger keeps the run it recorded to itself while it asks the tool: the
    /// monitor takes over a run whose trigger has not stored the tool's answer by then.
    pub(crate) fn trigger_hold(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.outbound_timeout + TRIGGER_MARGIN)
            .unwrap_or(chrono::Duration::minutes(5))
    }

    pub fn new(
        store: Arc<Store>,
        outbound: &OutboundConfig,
        background: BackgroundConfig,
    ) -> Result<Self, ClientBuildError> {
        let client = match &outbound.resolver {
            Some(resolver) => {
                GuardedClient::with_resolver(outbound.policy.clone(), resolver.clone())?
            }
            None => GuardedClient::new(outbound.policy.clone())?,
        };
        let connectors = Connectors::new()
            .with(JENKINS.id, Arc::new(JenkinsConnector::new(client.clone())))
            .with(BUILDBOT.id, Arc::new(BuildbotConnector::new(client)));
        Ok(Self {
            store,
            connectors,
            background,
            monitor_wake: Notify::new(),
            owner: uuid::Uuid::now_v7().to_string(),
            outbound_timeout: outbound.policy.total_timeout,
        })
    }

    pub fn connector(&self, tool: &str) -> Result<Arc<dyn Connector>, AppError> {
        self.connectors
            .get(tool)
            .cloned()
            .ok_or_else(|| AppError::Internal(format!("no connector for tool {tool:?}")))
    }

    /// The stored integration's tool, and its URLs and unsealed credentials as a connector
    /// takes them (one store call on one connection).
    pub async fn target(&self, id: &str) -> Result<(String, Target), AppError> {
        let store = self.store.clone();
        let id = id.to_owned();
        let opened = tokio::task::spawn_blocking(tallied(move || store.open_target(&id))).await??;
        Ok((opened.tool, target_of(opened.urls, opened.credentials)))
    }

    /// Runs a connection check; a failure is a result, not an error.
    pub async fn check(
        &self,
        tool: &str,
        target: &Target,
        bound: Option<Duration>,
    ) -> ConnectionCheck {
        let started = Instant::now();
        let outcome = match self.connector(tool) {
            Err(err) => Err(ConnectorError::generic(
                Category::NotThatTool,
                err.to_string(),
            )),
            Ok(connector) => match bound {
                Some(bound) => tokio::time::timeout(bound, connector.check(target))
                    .await
                    .unwrap_or_else(|_| {
                        Err(ConnectorError::generic(
                            Category::Timeout,
                            format!("no answer within {} s", bound.as_secs()),
                        ))
                    }),
                None => connector.check(target).await,
            },
        };
        let tool_name = find_tool(tool).map_or(tool, |spec| spec.name);
        match outcome {
            Ok(report) => connected(tool_name, report),
            Err(failure) => ConnectionCheck {
                ok: false,
                category: Some(failure.category),
                message: failure.message,
                hint: Some(failure.hint),
                tool_version: None,
                authenticated_as: None,
                permissions: Vec::new(),
                latency_ms: Some(millis(started.elapsed())),
                checked_at: Utc::now(),
            },
        }
    }

    /// When checks run again: after the interval, or soon (backing off) after a failure.
    fn check_schedule(&self) -> CheckSchedule {
        let chrono = |duration: Duration| {
            chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::minutes(5))
        };
        CheckSchedule {
            interval: chrono(self.background.check_interval),
            first_retry: chrono(self.background.check_retry),
        }
    }

    /// Checks a stored integration (within `bound`, when given) and records the result as its
    /// status; a failed check is retried soon by the periodic work.
    pub async fn check_integration(
        &self,
        id: &str,
        bound: Option<Duration>,
    ) -> Result<ConnectionCheck, AppError> {
        let (tool, target) = self.target(id).await?;
        let check = self.check(&tool, &target, bound).await;
        let store = self.store.clone();
        let id = id.to_owned();
        let schedule = self.check_schedule();
        let recorded = check.clone();
        tokio::task::spawn_blocking(tallied(move || {
            store.record_check(&id, &recorded, Utc::now(), schedule)
        }))
        .await??;
        Ok(check)
    }

    /// Discovers the integration's pipelines and stores them. A failed discovery is retried
    /// soon by the periodic work, like a failed check.
    pub async fn sync_integration(&self, id: &str) -> Result<SyncReport, AppError> {
        let (tool, target) = self.target(id).await?;
        let started = Instant::now();
        let discovery = match self.connector(&tool)?.discover(&target).await {
            Ok(discovery) => discovery,
            Err(failure) => {
                let store = self.store.clone();
                let failed_id = id.to_owned();
                let schedule = self.check_schedule();
                let recorded = tokio::task::spawn_blocking(tallied(move || {
                    store.record_sync_failure(&failed_id, Utc::now(), schedule)
                }))
                .await
                .map_err(AppError::internal)?;
                if let Err(err) = recorded {
                    tracing::warn!(integration = %id, error = %err, "cannot record a failed discovery");
                }
                return Err(AppError::Tool(failure));
            }
        };
        let mut discovery = discovery;
        for pipeline in &mut discovery.pipelines {
            pipeline.url = own_link(&pipeline.url, &target.urls).unwrap_or_default();
            if let Some(last) = &mut pipeline.last_build {
                last.url = last
                    .url
                    .as_deref()
                    .and_then(|url| own_link(url, &target.urls));
            }
        }
        let store = self.store.clone();
        let stored_id = id.to_owned();
        let report = tokio::task::spawn_blocking(tallied(move || {
            let now = Utc::now();
            let counts = store.apply_discovery(&stored_id, &discovery.pipelines, now)?;
            let report = SyncReport {
                added: counts.added,
                updated: counts.updated,
                removed: counts.removed,
                total: counts.total,
                requests: discovery.requests,
                duration_ms: millis(started.elapsed()),
                synced_at: now,
            };
            store.record_sync(&stored_id, &report)?;
            Ok::<_, AppError>(report)
        }))
        .await
        .map_err(AppError::internal)??;
        tracing::info!(
            integration = %id,
            added = report.added,
            updated = report.updated,
            removed = report.removed,
            total = report.total,
            requests = report.requests,
            duration_ms = report.duration_ms,
            "discovered pipelines"
        );
        Ok(report)
    }

    /// Check, then discover when the check succeeded; failures end up in the log and in the
    /// integration's status.
    pub async fn check_and_sync(&self, id: &str) {
        match self.check_integration(id, None).await {
            Ok(check) if check.ok => {
                if let Err(err) = self.sync_integration(id).await {
                    tracing::warn!(integration = %id, error = %err, "discovery failed");
                }
            }
            Ok(_) => {}
            Err(AppError::NotFound(_)) => {}
            Err(err) => tracing::warn!(integration = %id, error = %err, "connection check failed"),
        }
    }
}

fn connected(tool_name: &str, report: ConnectionReport) -> ConnectionCheck {
    ConnectionCheck {
        ok: true,
        category: None,
        message: format!(
            "Connected to {tool_name} {} as {}",
            report.tool_version, report.authenticated_as
        ),
        hint: None,
        tool_version: Some(report.tool_version),
        authenticated_as: Some(report.authenticated_as),
        permissions: report.permissions,
        latency_ms: Some(report.latency_ms),
        checked_at: Utc::now(),
    }
}

/// A link that came from the tool (a job's or a build's `url`), kept only when it is http(s)
/// on one of the integration's own origins: whoever controls the tool's answers cannot make
/// Switchboard show a link to somewhere else, or a `javascript:` one.
pub fn own_link(url: &str, integration_urls: &BTreeMap<String, String>) -> Option<String> {
    let origin = origin_of(url)?;
    if !(origin.starts_with("http://") || origin.starts_with("https://")) {
        return None;
    }
    integration_urls
        .values()
        .any(|own| origin_of(own).as_ref() == Some(&origin))
        .then(|| url.trim().to_owned())
}

/// An integration's URLs and opened credentials as a connector [`Target`].
pub fn target_of(
    urls: BTreeMap<String, String>,
    credentials: BTreeMap<String, StoredCredential>,
) -> Target {
    let mut target = Target {
        urls,
        fields: BTreeMap::new(),
        secrets: BTreeMap::new(),
    };
    for (key, credential) in credentials {
        match credential {
            StoredCredential::Plain(value) => {
                target.fields.insert(key, value);
            }
            StoredCredential::Secret(secret) => {
                target.secrets.insert(key, secret);
            }
        }
    }
    target
}
