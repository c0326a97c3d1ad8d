//! The simulator's configuration file (JSON; tests can build one with `serde_json::json!`).
//!
//! Everything here is the simulator's own invention: Jenkins keeps its configuration in XML
//! files under `JENKINS_HOME`, which clients never see.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole configuration. Every field has a default, so `{}` is a valid (empty) controller.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The `X-Jenkins` header and the `version` everywhere.
    #[serde(default = "default_version")]
    pub version: String,
    /// CSRF protection (the crumb issuer): `true`/`false` or an object.
    #[serde(default)]
    pub csrf: CsrfConfig,
    /// Executors on the built-in node: how many builds run at once. 0 keeps every item
    /// `BuildableItem` ("Waiting for next available executor").
    #[serde(default = "default_executors")]
    pub executors: u32,
    /// The global quiet period in ms (Jenkins' default is 5 s).
    #[serde(default = "default_quiet_period")]
    pub quiet_period_ms: u64,
    /// How long a `LeftItem` stays readable at `/queue/item/N/` (Jenkins keeps them 5 min).
    #[serde(default = "default_left_ttl")]
    pub left_item_ttl_ms: u64,
    /// The configured "Jenkins URL". Without it URLs are built from the request's Host header
    /// (as Jenkins does when the root URL is not configured).
    #[serde(default)]
    pub root_url: Option<String>,
    /// Serve `logText/progressiveText` with encoded console notes, as Jenkins 2.516.1 and
    /// later do (`ESC[8mha:` base64 `ESC[0m` before annotated text: pipeline steps, the user
    /// who started a build, every line that a plugin marks). Off by default.
    #[serde(default)]
    pub console_notes: bool,
    /// The first queue item id (Jenkins' ids are just a counter that survives restarts).
    #[serde(default = "default_first_queue_id")]
    pub first_queue_id: u64,
    /// Permissions of anonymous callers (none by default: every URL but `/whoAmI` is a 403).
    #[serde(default)]
    pub anonymous_permissions: Vec<Permission>,
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// The item tree at the root.
    #[serde(default)]
    pub jobs: Vec<ItemConfig>,
    /// Generated items added at the root, for benchmarks.
    #[serde(default)]
    pub generate: Option<GenerateConfig>,
}

fn default_version() -> String {
    "2.516.1".to_owned()
}
fn default_executors() -> u32 {
    2
}
fn default_quiet_period() -> u64 {
    5_000
}
fn default_left_ttl() -> u64 {
    300_000
}
fn default_first_queue_id() -> u64 {
    1
}

/// `"csrf": true` or `"csrf": {"enabled": true, "session_bound": true}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CsrfConfig {
    Flag(bool),
    Detailed {
        enabled: bool,
        /// Jenkins ≥ 2.176.2 binds a crumb to the web session it was issued in: the client
        /// must send back the `JSESSIONID.*` cookie of the crumb request. Not verified
        /// (docs/jenkins.md §9); off by default.
        #[serde(default)]
        session_bound: bool,
    },
}

impl Default for CsrfConfig {
    fn default() -> Self {
        CsrfConfig::Flag(true)
    }
}

impl CsrfConfig {
    pub fn enabled(&self) -> bool {
        match self {
            CsrfConfig::Flag(on) => *on,
            CsrfConfig::Detailed { enabled, .. } => *enabled,
        }
    }
    pub fn session_bound(&self) -> bool {
        match self {
            CsrfConfig::Flag(_) => false,
            CsrfConfig::Detailed { session_bound, .. } => *session_bound,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum Permission {
    #[serde(rename = "Overall/Administer")]
    OverallAdminister,
    #[serde(rename = "Overall/Read")]
    OverallRead,
    #[serde(rename = "Job/Read")]
    JobRead,
    #[serde(rename = "Job/Build")]
    JobBuild,
    #[serde(rename = "Job/Cancel")]
    JobCancel,
}

impl Permission {
    /// The id Jenkins puts in `X-Required-Permission`.
    pub fn id(self) -> &'static str {
        match self {
            Permission::OverallAdminister => "hudson.model.Hudson.Administer",
            Permission::OverallRead => "hudson.model.Hudson.Read",
            Permission::JobRead => "hudson.model.Item.Read",
            Permission::JobBuild => "hudson.model.Item.Build",
            Permission::JobCancel => "hudson.model.Item.Cancel",
        }
    }
    /// The name on the "Access Denied" page ("alice is missing the Job/Build permission").
    pub fn title(self) -> &'static str {
        match self {
            Permission::OverallAdminister => "Overall/Administer",
            Permission::OverallRead => "Overall/Read",
            Permission::JobRead => "Job/Read",
            Permission::JobBuild => "Job/Build",
            Permission::JobCancel => "Job/Cancel",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The user id (matched ignoring case, as Jenkins' default id strategy does).
    pub name: String,
    /// The full name shown in causes ("Started by user Ada Admin"); defaults to the id.
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Global permissions.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Extra permissions on an item and everything below it, keyed by full name
    /// (`"platform"`, `"platform/deploy"`), like the project-based matrix authorization
    /// strategy. To see an item a user needs Job/Read on it and on every folder above it.
    #[serde(default)]
    pub grants: BTreeMap<String, Vec<Permission>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Folder,
    Multibranch,
    OrganizationFolder,
    Freestyle,
    Pipeline,
    Matrix,
    Maven,
}

impl ItemKind {
    pub fn is_container(self) -> bool {
        matches!(
            self,
            ItemKind::Folder | ItemKind::Multibranch | ItemKind::OrganizationFolder
        )
    }
    pub fn class(self) -> &'static str {
        match self {
            ItemKind::Folder => "com.cloudbees.hudson.plugins.folder.Folder",
            ItemKind::Multibranch => {
                "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
            }
            ItemKind::OrganizationFolder => "jenkins.branch.OrganizationFolder",
            ItemKind::Freestyle => "hudson.model.FreeStyleProject",
            ItemKind::Pipeline => "org.jenkinsci.plugins.workflow.job.WorkflowJob",
            ItemKind::Matrix => "hudson.matrix.MatrixProject",
            ItemKind::Maven => "hudson.maven.MavenModuleSet",
        }
    }
    pub fn build_class(self) -> &'static str {
        match self {
            ItemKind::Pipeline => "org.jenkinsci.plugins.workflow.job.WorkflowRun",
            ItemKind::Matrix => "hudson.matrix.MatrixBuild",
            ItemKind::Maven => "hudson.maven.MavenModuleSetBuild",
            _ => "hudson.model.FreeStyleBuild",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BuildResult {
    #[serde(rename = "SUCCESS")]
    Success,
    #[serde(rename = "UNSTABLE")]
    Unstable,
    #[serde(rename = "FAILURE")]
    Failure,
    #[serde(rename = "NOT_BUILT")]
    NotBuilt,
    #[serde(rename = "ABORTED")]
    Aborted,
}

impl BuildResult {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildResult::Success => "SUCCESS",
            BuildResult::Unstable => "UNSTABLE",
            BuildResult::Failure => "FAILURE",
            BuildResult::NotBuilt => "NOT_BUILT",
            BuildResult::Aborted => "ABORTED",
        }
    }
    pub fn color(self) -> &'static str {
        match self {
            BuildResult::Success => "blue",
            BuildResult::Unstable => "yellow",
            BuildResult::Failure => "red",
            BuildResult::NotBuilt => "notbuilt",
            BuildResult::Aborted => "aborted",
        }
    }
}

/// How a build of the job behaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    #[serde(default = "default_duration")]
    pub duration_ms: u64,
    #[serde(default = "default_result")]
    pub result: BuildResult,
    /// Lines the build writes, spread evenly over `duration_ms` (between Jenkins' own
    /// "Started by ..." first line and "Finished: RESULT" last line). Default: a few lines.
    #[serde(default)]
    pub log: Option<Vec<String>>,
}

fn default_duration() -> u64 {
    2_000
}
fn default_result() -> BuildResult {
    BuildResult::Success
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            duration_ms: default_duration(),
            result: default_result(),
            log: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ParamConfig {
    String {
        name: String,
        #[serde(default)]
        default: String,
        #[serde(default)]
        description: Option<String>,
    },
    Text {
        name: String,
        #[serde(default)]
        default: String,
        #[serde(default)]
        description: Option<String>,
    },
    /// The first choice is the default, as in Jenkins.
    Choice {
        name: String,
        choices: Vec<String>,
        #[serde(default)]
        description: Option<String>,
    },
    Boolean {
        name: String,
        #[serde(default)]
        default: bool,
        #[serde(default)]
        description: Option<String>,
    },
    /// Jenkins never shows a password parameter's value (default or given) in its API.
    Password {
        name: String,
        #[serde(default)]
        default: String,
        #[serde(default)]
        description: Option<String>,
    },
}

impl ParamConfig {
    pub fn name(&self) -> &str {
        match self {
            ParamConfig::String { name, .. }
            | ParamConfig::Text { name, .. }
            | ParamConfig::Choice { name, .. }
            | ParamConfig::Boolean { name, .. }
            | ParamConfig::Password { name, .. } => name,
        }
    }
}

/// One item of the tree. Which fields apply depends on `type`; the loader rejects the rest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ItemKind,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Children of a folder, or the repositories (multibranch projects) of an organization folder.
    #[serde(default)]
    pub jobs: Vec<ItemConfig>,
    /// The branches of a multibranch project (each a Pipeline job).
    #[serde(default)]
    pub branches: Vec<BranchConfig>,
    #[serde(default)]
    pub parameters: Vec<ParamConfig>,
    /// The build behaviour; for a multibranch project, the default of its branches.
    #[serde(default)]
    pub build: Option<BuildConfig>,
    #[serde(default)]
    pub disabled: bool,
    /// Whether builds may run concurrently (default: Pipeline yes, other kinds no, as in Jenkins).
    #[serde(default)]
    pub concurrent: Option<bool>,
    /// The job's own quiet period; default the global one.
    #[serde(default)]
    pub quiet_period_ms: Option<u64>,
    /// Completed builds that exist at start-up, oldest first.
    #[serde(default)]
    pub history: Vec<BuildResult>,
}

/// A branch: `"main"` or `{"name": "main", "build": {...}, "history": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BranchConfig {
    Name(String),
    Detailed(BranchDetails),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchDetails {
    pub name: String,
    #[serde(default)]
    pub build: Option<BuildConfig>,
    #[serde(default)]
    pub parameters: Vec<ParamConfig>,
    #[serde(default)]
    pub history: Vec<BuildResult>,
    #[serde(default)]
    pub disabled: bool,
}

/// A generated tree for benchmarks: `folders_per_level` folders `f<level>-<i>` nested
/// `folders_depth` deep under the root, `jobs_per_folder` jobs in every folder, and
/// `root_jobs` jobs at the root. Jobs alternate freestyle / pipeline and carry one
/// completed build whose result cycles through SUCCESS, FAILURE, UNSTABLE.
/// Jobs = root_jobs + jobs_per_folder × Σ_{l=1..depth} folders_per_level^l.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    pub folders_depth: u32,
    pub folders_per_level: u32,
    pub jobs_per_folder: u32,
    #[serde(default)]
    pub root_jobs: u32,
    /// Prefix of generated names (default `gen`), so they do not clash with declared items.
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "gen".to_owned()
}

impl Config {
    /// Reads a JSON configuration file.
    pub fn from_file(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
