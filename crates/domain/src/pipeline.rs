//! Pipelines (the buildable jobs a tool has) and their runs, in words every tool shares.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{FieldErrorCode, ValidationErrors};

/// What kind of job a pipeline is in its tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PipelineKind {
    /// Jenkins freestyle project.
    Freestyle,
    /// Jenkins Pipeline (workflow) job.
    Pipeline,
    /// A branch (or pull request) job of a Jenkins multibranch project or organization folder.
    Branch,
    /// Jenkins matrix (multi-configuration) project.
    Matrix,
    /// Jenkins Maven project.
    Maven,
    /// A Buildbot builder.
    Builder,
    /// A buildable job of a kind Switchboard does not know more about.
    Other,
}

impl PipelineKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Freestyle => "freestyle",
            Self::Pipeline => "pipeline",
            Self::Branch => "branch",
            Self::Matrix => "matrix",
            Self::Maven => "maven",
            Self::Builder => "builder",
            Self::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Freestyle,
            Self::Pipeline,
            Self::Branch,
            Self::Matrix,
            Self::Maven,
            Self::Builder,
            Self::Other,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == raw)
    }
}

/// The type of a pipeline parameter, which decides how its value is checked and entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParameterType {
    /// One line of text.
    String,
    /// Several lines of text.
    Text,
    /// `true` or `false`.
    Boolean,
    /// One of `choices`.
    Choice,
    /// A whole number.
    Integer,
    /// Text that the tool treats as secret; never shown back.
    Password,
}

/// One parameter a pipeline accepts when triggered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParameterDefinition {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParameterType,
    pub description: Option<String>,
    /// The value the tool uses when the parameter is not sent (a string, boolean or number
    /// matching `type`; `null` when the tool has none or it is a password).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub default: Option<Value>,
    /// The allowed values of a `choice` parameter, the first being the default; empty otherwise.
    pub choices: Vec<String>,
}

/// A parameter value as the connector sends it, checked against its definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParameterValue {
    Text(String),
    Boolean(bool),
    Integer(i64),
}

impl ParameterValue {
    /// The value as the JSON the API shows it.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Text(text) => Value::String(text.clone()),
            Self::Boolean(flag) => Value::Bool(*flag),
            Self::Integer(number) => Value::from(*number),
        }
    }

    /// The value as form or query text (`true`/`false` for booleans).
    pub fn to_form_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Boolean(flag) => flag.to_string(),
            Self::Integer(number) => number.to_string(),
        }
    }
}

/// The last build a tool reported for a pipeline (triggered by anyone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastBuild {
    /// The tool's build number.
    pub number: i64,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
}

/// One buildable job as a connector's discovery found it, as the store upserts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredPipeline {
    /// Folder names and the job's name joined with `/`; unique within the integration and
    /// stable across discoveries (it is the key upserts match on).
    pub full_path: String,
    pub name: String,
    /// `full_path` without the name; empty at the top level.
    pub folder: String,
    pub kind: PipelineKind,
    /// The job's page in the tool.
    pub url: String,
    /// `false` for a disabled job.
    pub buildable: bool,
    pub parameters: Vec<ParameterDefinition>,
    pub last_build: Option<LastBuild>,
}

/// A pipeline as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "0193a5c1-8a00-7000-8000-000000000001",
    "integration_id": "0193a5c1-7d2e-7c41-9a43-5b1f0e7d2a10",
    "integration_name": "Jenkins",
    "tool": "jenkins",
    "name": "deploy",
    "full_path": "platform/payments/deploy",
    "folder": "platform/payments",
    "kind": "pipeline",
    "url": "https://jenkins.example.com/job/platform/job/payments/job/deploy/",
    "buildable": true,
    "parameters": [{"name": "ENV", "type": "choice", "description": "Target", "default": "staging", "choices": ["staging", "production"]}],
    "last_build": {"number": 17, "status": "succeeded", "started_at": "2026-11-25T08:50:00Z", "url": "https://jenkins.example.com/job/platform/job/payments/job/deploy/17/"},
    "removed": false,
    "discovered_at": "2026-11-25T09:00:00Z",
    "updated_at": "2026-11-25T09:00:00Z"
})))]
pub struct Pipeline {
    pub id: String,
    pub integration_id: String,
    pub integration_name: String,
    pub tool: String,
    /// The job's own name (the last segment of `full_path`).
    pub name: String,
    /// The folders and the name, joined with `/`; unique within the integration.
    pub full_path: String,
    /// The folders containing the job, joined with `/`; empty at the top level.
    pub folder: String,
    pub kind: PipelineKind,
    /// The job's page in the tool.
    pub url: String,
    /// `false` for a job the tool has disabled.
    pub buildable: bool,
    pub parameters: Vec<ParameterDefinition>,
    pub last_build: Option<LastBuild>,
    /// The tool no longer has this job; it is kept with its runs.
    pub removed: bool,
    /// When Switchboard first saw the job.
    pub discovered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One page of pipelines, ordered by integration name, then full path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelinePage {
    pub items: Vec<Pipeline>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Where a run stands, in the same words for every tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting in the tool's queue.
    Queued,
    /// Building.
    Running,
    Succeeded,
    Failed,
    /// Finished with test failures or warnings (Jenkins UNSTABLE, Buildbot WARNINGS).
    Unstable,
    /// Stopped or taken out of the queue before finishing.
    Cancelled,
    /// The tool decided not to build (Jenkins NOT_BUILT, Buildbot SKIPPED).
    Skipped,
    /// Switchboard lost track of the run or the tool reported an exception.
    Error,
}

impl RunStatus {
    pub const ALL: [RunStatus; 8] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Unstable,
        Self::Cancelled,
        Self::Skipped,
        Self::Error,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Unstable => "unstable",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::Error => "error",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// Queued and running runs are active: the run monitor follows them.
    pub const fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

/// A run of a pipeline that Switchboard triggered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "0193a5c1-9b00-7000-8000-000000000002",
    "pipeline_id": "0193a5c1-8a00-7000-8000-000000000001",
    "pipeline_name": "deploy",
    "pipeline_path": "platform/payments/deploy",
    "integration_id": "0193a5c1-7d2e-7c41-9a43-5b1f0e7d2a10",
    "integration_name": "Jenkins",
    "tool": "jenkins",
    "status": "running",
    "parameters": {"ENV": "staging"},
    "build_number": 18,
    "build_url": "https://jenkins.example.com/job/platform/job/payments/job/deploy/18/",
    "detail": null,
    "triggered_by": "alice",
    "created_at": "2026-11-25T09:00:00Z",
    "started_at": "2026-11-25T09:00:05Z",
    "finished_at": null,
    "duration_ms": null,
    "updated_at": "2026-11-25T09:00:06Z"
})))]
pub struct Run {
    pub id: String,
    pub pipeline_id: String,
    pub pipeline_name: String,
    pub pipeline_path: String,
    pub integration_id: String,
    pub integration_name: String,
    pub tool: String,
    pub status: RunStatus,
    /// The parameters sent to the tool (passwords as `"********"`).
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = std::collections::BTreeMap<String, serde_json::Value>)
    )]
    pub parameters: BTreeMap<String, Value>,
    /// The tool's build number, once the run left the queue.
    pub build_number: Option<i64>,
    /// The build's page in the tool.
    pub build_url: Option<String>,
    /// Why the run is where it is, when there is more to say (queue reason, error).
    pub detail: Option<String>,
    /// The user name of whoever triggered it.
    pub triggered_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How long the build ran, once finished.
    pub duration_ms: Option<u64>,
    pub updated_at: DateTime<Utc>,
}

/// One page of runs, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunPage {
    pub items: Vec<Run>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A piece of a run's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "text": "Started by user alice\nBuilding in workspace /var/jenkins/workspace/deploy\n",
    "next_offset": 74,
    "complete": false
})))]
pub struct LogChunk {
    /// The log from `offset` on (possibly empty).
    pub text: String,
    /// Pass as `offset` to read what follows.
    pub next_offset: u64,
    /// `true` once the run has finished and `text` reaches the end of its log.
    pub complete: bool,
}

/// Trigger a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"parameters": {"ENV": "staging", "DRY_RUN": true}})))]
#[serde(deny_unknown_fields)]
pub struct TriggerRunRequest {
    /// Values by parameter name; parameters left out take the tool's default.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = std::collections::BTreeMap<String, serde_json::Value>)
    )]
    pub parameters: BTreeMap<String, Value>,
}

impl TriggerRunRequest {
    /// Checks every value against the pipeline's definitions: unknown names, values of the
    /// wrong type and values outside a choice's list are refused, each at its field
    /// (`parameters.NAME`).
    pub fn parse(
        &self,
        definitions: &[ParameterDefinition],
    ) -> Result<BTreeMap<String, ParameterValue>, ValidationErrors> {
        let mut values = BTreeMap::new();
        let mut errors = ValidationErrors::new();
        for (name, raw) in &self.parameters {
            let field = format!("parameters.{name}");
            let Some(definition) = definitions.iter().find(|d| &d.name == name) else {
                errors.push(
                    field,
                    FieldErrorCode::UnknownField,
                    format!("The pipeline has no parameter named {name}."),
                );
                continue;
            };
            if let Some(value) = errors.take(&field, parameter_value(definition, raw)) {
                values.insert(name.clone(), value);
            }
        }
        errors.into_result(|| values)
    }
}

fn parameter_value(
    definition: &ParameterDefinition,
    raw: &Value,
) -> Result<ParameterValue, (FieldErrorCode, String)> {
    let wrong_type = |expected: &str| {
        (
            FieldErrorCode::WrongType,
            format!("{} takes {expected}.", definition.name),
        )
    };
    match definition.kind {
        ParameterType::String | ParameterType::Text | ParameterType::Password => raw
            .as_str()
            .map(|text| ParameterValue::Text(text.to_owned()))
            .ok_or_else(|| wrong_type("text")),
        ParameterType::Boolean => raw
            .as_bool()
            .map(ParameterValue::Boolean)
            .ok_or_else(|| wrong_type("true or false")),
        ParameterType::Integer => raw
            .as_i64()
            .map(ParameterValue::Integer)
            .ok_or_else(|| wrong_type("a whole number")),
        ParameterType::Choice => {
            let text = raw
                .as_str()
                .ok_or_else(|| wrong_type("one of its choices"))?;
            if definition.choices.iter().any(|choice| choice == text) {
                Ok(ParameterValue::Text(text.to_owned()))
            } else {
                Err((
                    FieldErrorCode::NotAChoice,
                    format!(
                        "{} must be one of: {}.",
                        definition.name,
                        definition.choices.join(", ")
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definitions() -> Vec<ParameterDefinition> {
        let define = |name: &str, kind, choices: &[&str]| ParameterDefinition {
            name: name.into(),
            kind,
            description: None,
            default: None,
            choices: choices.iter().map(|c| (*c).to_owned()).collect(),
        };
        vec![
            define("ENV", ParameterType::Choice, &["staging", "production"]),
            define("DRY_RUN", ParameterType::Boolean, &[]),
            define("VERSION", ParameterType::String, &[]),
            define("RETRIES", ParameterType::Integer, &[]),
        ]
    }

    fn request(parameters: Value) -> TriggerRunRequest {
        serde_json::from_value(json!({ "parameters": parameters })).expect("valid request")
    }

    #[test]
    fn valid_parameters_are_typed() {
        let values =
            request(json!({"ENV": "production", "DRY_RUN": true, "VERSION": "1.2", "RETRIES": 3}))
                .parse(&definitions())
                .expect("valid");
        assert_eq!(values["ENV"], ParameterValue::Text("production".into()));
        assert_eq!(values["DRY_RUN"].to_form_text(), "true");
        assert_eq!(values["RETRIES"].to_json(), json!(3));
    }

    #[test]
    fn parameters_left_out_are_not_sent() {
        let values = TriggerRunRequest::default()
            .parse(&definitions())
            .expect("valid");
        assert!(values.is_empty());
    }

    #[test]
    fn each_bad_value_is_refused_at_its_field() {
        let errors = request(json!({"ENV": "qa", "DRY_RUN": "yes", "NOPE": "x", "RETRIES": 1.5}))
            .parse(&definitions())
            .expect_err("invalid");
        let found: Vec<(&str, FieldErrorCode)> = errors
            .errors()
            .iter()
            .map(|error| (error.field.as_str(), error.code))
            .collect();
        assert_eq!(
            found,
            vec![
                ("parameters.DRY_RUN", FieldErrorCode::WrongType),
                ("parameters.ENV", FieldErrorCode::NotAChoice),
                ("parameters.NOPE", FieldErrorCode::UnknownField),
                ("parameters.RETRIES", FieldErrorCode::WrongType),
            ]
        );
    }

    #[test]
    fn statuses_round_trip_and_only_queued_and_running_are_active() {
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_value(status).expect("serializes");
            assert_eq!(json, json!(status.as_str()));
        }
        let active: Vec<_> = RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(active, vec![RunStatus::Queued, RunStatus::Running]);
    }

    #[test]
    fn kinds_round_trip() {
        for raw in [
            "freestyle",
            "pipeline",
            "branch",
            "matrix",
            "maven",
            "builder",
            "other",
        ] {
            assert_eq!(
                PipelineKind::parse(raw).map(PipelineKind::as_str),
                Some(raw)
            );
        }
        assert_eq!(PipelineKind::parse("folder"), None);
    }
}
