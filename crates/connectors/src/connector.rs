//! The connector contract (docs/design.md §6): what Switchboard asks of every approved tool.
//!
//! The server holds one `Arc<dyn Connector>` per tool id (see [`Connectors`]) and calls it with
//! a [`Target`] — an integration's URLs and credentials, secrets already unsealed. A connector
//! keeps no per-integration state between calls: everything it needs to follow a run again
//! (also after a restart) is in the [`RunHandle`] the server stores.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
pub use switchboard_domain::pipeline::DiscoveredPipeline;
use switchboard_domain::pipeline::{ParameterDefinition, ParameterValue, RunStatus};

use crate::ConnectorError;
use crate::log_filter::LogMask;

/// A boxed future, so that [`Connector`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An integration as a connector sees it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The integration's URLs by key (the tool's main key, e.g. `apiUrl`, is always there).
    pub urls: BTreeMap<String, String>,
    /// Plain credential fields (e.g. `username`) by key.
    pub fields: BTreeMap<String, String>,
    /// Secret credential fields (e.g. `apiToken`) by key, unsealed.
    pub secrets: BTreeMap<String, SecretString>,
}

/// What a successful connection check learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionReport {
    /// The tool's version, e.g. Jenkins' `X-Jenkins` header.
    pub tool_version: String,
    /// The user the tool says the credentials belong to.
    pub authenticated_as: String,
    /// The permissions the check verified (tool-specific names, e.g. `Overall/Read`).
    pub permissions: Vec<String>,
    /// How long the check's requests took, in milliseconds.
    pub latency_ms: u64,
}

/// Everything one discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub pipelines: Vec<DiscoveredPipeline>,
    /// How many HTTP requests discovery sent (for the sync report and the benchmark).
    pub requests: u64,
}

/// The pipeline a trigger is for, as the server stored it from discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRef {
    pub full_path: String,
    pub parameters: Vec<ParameterDefinition>,
}

/// A run Switchboard recorded and asked its tool to start, but whose handle it never stored
/// (it stopped in between): what tells the build the tool may have started for it apart from
/// the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconfirmed {
    /// The run's id, which the trigger gave the tool where it has a place for it (Buildbot's
    /// reason).
    pub run_id: String,
    /// The pipeline's `full_path`.
    pub pipeline_path: String,
    /// When Switchboard recorded the run: the tool cannot have started its build before
    /// (less [`CLOCK_SKEW`], as the tool's clock is not ours).
    pub recorded_at: DateTime<Utc>,
    /// The values given, as the tool's form text; password parameters left out (tools do
    /// not show them).
    pub parameters: BTreeMap<String, String>,
}

/// How far a tool's clock may be behind Switchboard's for [`Connector::find_started`].
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);

/// How to find a run in its tool again. Stored by the server as JSON after `trigger` and
/// after every `poll` that learned more, so following a run survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunHandle {
    /// The pipeline's `full_path`.
    pub pipeline_path: String,
    /// The tool's id for the queued request (Jenkins queue item, Buildbot build request).
    pub queue_ref: Option<String>,
    /// The tool's id for the build once it exists (Jenkins build number, Buildbot build id).
    pub build_ref: Option<String>,
}

/// Where a run stands in its tool, as one poll saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    pub status: RunStatus,
    /// The handle with what this poll learned (e.g. the build number once the queue left).
    pub handle: RunHandle,
    /// The number users know the build by.
    pub build_number: Option<i64>,
    pub build_url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// Why the run is where it is, when the tool says (e.g. Jenkins' queue `why`).
    pub detail: Option<String>,
}

/// A piece of a build's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPiece {
    pub text: String,
    /// The offset to ask for next (bytes for Jenkins; the tool's own unit otherwise).
    pub next_offset: u64,
    /// `true` while the build may still write (or has not started yet); `false` once
    /// `text` reaches the end of the finished log.
    pub more: bool,
}

/// What Switchboard asks of an approved tool.
pub trait Connector: Send + Sync {
    /// Checks the URL and credentials: which tool and version, who, which permissions.
    fn check<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<ConnectionReport, ConnectorError>>;

    /// Lists every buildable job, with a number of requests that does not grow with the
    /// number of jobs.
    fn discover<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<Discovery, ConnectorError>>;

    /// Starts a run with already-checked parameter values (left-out ones take the tool's
    /// defaults). `run_id` is Switchboard's id of the run, which the tool is given where it
    /// has a place for it, so that [`Connector::find_started`] can recognise the build.
    fn trigger<'a>(
        &'a self,
        target: &'a Target,
        pipeline: &'a PipelineRef,
        parameters: &'a BTreeMap<String, ParameterValue>,
        run_id: &'a str,
    ) -> BoxFuture<'a, Result<RunHandle, ConnectorError>>;

    /// The queued requests and builds of `run.pipeline_path` that may be the one a trigger
    /// started for `run` before Switchboard stopped: started after the run was recorded, by
    /// these credentials, with its parameters (as far as the tool tells). The caller leaves
    /// out those other runs already follow; exactly one left is the run's.
    fn find_started<'a>(
        &'a self,
        target: &'a Target,
        run: &'a Unconfirmed,
    ) -> BoxFuture<'a, Result<Vec<RunHandle>, ConnectorError>>;

    /// Where the run stands now.
    fn poll<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
    ) -> BoxFuture<'a, Result<RunState, ConnectorError>>;

    /// The log from `offset` on; empty (with `more`) while the run has no build yet. What
    /// `mask` names never shows, and nor do a tool's own markup (Jenkins' console notes): see
    /// [`crate::log_filter`].
    fn log<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
        offset: u64,
        mask: &'a LogMask,
    ) -> BoxFuture<'a, Result<LogPiece, ConnectorError>>;

    /// Takes a queued run out of the queue, or stops a running build.
    fn cancel<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
    ) -> BoxFuture<'a, Result<(), ConnectorError>>;
}

/// The connector of every approved tool, by tool id.
#[derive(Clone, Default)]
pub struct Connectors(BTreeMap<&'static str, Arc<dyn Connector>>);

impl Connectors {
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn with(mut self, tool_id: &'static str, connector: Arc<dyn Connector>) -> Self {
        self.0.insert(tool_id, connector);
        self
    }

    pub fn get(&self, tool_id: &str) -> Option<&Arc<dyn Connector>> {
        self.0.get(tool_id)
    }
}
