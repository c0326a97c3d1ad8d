//! Discovery: every buildable job, with a number of requests that grows with folder depth
//! and never with the number of jobs.
//!
//! One `tree=` request from the root nests `jobs[...]` [`DISCOVERY_LEVELS`] levels deep with
//! every field a pipeline needs. At the deepest level it asks only for the first child of
//! each item (`jobs[name]{0,1}`): enough to tell a container with children, which gets one
//! more request of the same shape from there, from an empty one. `depth=` is never used: it
//! exports everything below, which on a big controller is a server-killer.

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::pipeline::{
    LastBuild, ParameterDefinition, ParameterType, PipelineKind, RunStatus,
};

use super::{About, Session, job_path, not_jenkins};
use crate::connector::{DiscoveredPipeline, Discovery};
use crate::{Category, ConnectorError, Method, display_url};

/// How many levels of `jobs` one discovery request expands. Five covers the folders of
/// almost every controller in one request while keeping each answer's nesting modest.
pub const DISCOVERY_LEVELS: usize = 5;

/// Deeper than any real folder tree; a server that claims more is not answering as
/// Jenkins does (or loops), and discovery stops instead of following it forever.
const MAX_DEPTH: usize = 100;

const JOB_FIELDS: &str = "_class,name,url,color,buildable,\
property[parameterDefinitions[name,type,description,defaultParameterValue[value],choices]],\
lastBuild[number,result,building,timestamp,url]";

/// The `tree=` value for [`DISCOVERY_LEVELS`] levels below the object asked.
pub(super) fn tree() -> String {
    let mut tree = "jobs[name]{0,1}".to_owned();
    for _ in 0..DISCOVERY_LEVELS {
        tree = format!("jobs[{JOB_FIELDS},{tree}]");
    }
    tree
}

/// An item as the tree exports it. Every field may be missing: plugins' item types export
/// what they like.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Node {
    #[serde(rename = "_class")]
    class: Option<String>,
    name: Option<String>,
    url: Option<String>,
    color: Option<String>,
    buildable: Option<bool>,
    property: Option<Vec<Property>>,
    #[serde(rename = "lastBuild")]
    last_build: Option<BuildNode>,
    jobs: Option<Vec<Node>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Property {
    #[serde(rename = "parameterDefinitions")]
    parameter_definitions: Option<Vec<ParamNode>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ParamNode {
    #[serde(rename = "_class")]
    class: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
    #[serde(rename = "defaultParameterValue")]
    default: Option<DefaultValue>,
    choices: Option<Vec<Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DefaultValue {
    value: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct BuildNode {
    pub(super) number: Option<i64>,
    pub(super) result: Option<String>,
    pub(super) building: Option<bool>,
    pub(super) timestamp: Option<i64>,
    pub(super) duration: Option<i64>,
    pub(super) url: Option<String>,
}

/// What an item is, by its `_class` and, for classes Jenkins' core and common plugins do
/// not define, by its fields (containers have `jobs`, buildable jobs have `color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A folder, organization folder or other container; `branches` when its children are
    /// a multibranch project's branch jobs.
    Container {
        branches: bool,
    },
    Job(PipelineKind),
    /// Neither (e.g. an item type without builds): not a pipeline, nothing below it.
    Other,
}

fn shape(node: &Node, in_multibranch: bool) -> Shape {
    let class = node.class.as_deref().unwrap_or("");
    let job = |kind| {
        // A multibranch project's children are its branches, whatever job type it makes.
        Shape::Job(if in_multibranch {
            PipelineKind::Branch
        } else {
            kind
        })
    };
    match class {
        "com.cloudbees.hudson.plugins.folder.Folder" | "jenkins.branch.OrganizationFolder" => {
            Shape::Container { branches: false }
        }
        "hudson.model.FreeStyleProject" => job(PipelineKind::Freestyle),
        "org.jenkinsci.plugins.workflow.job.WorkflowJob" => job(PipelineKind::Pipeline),
        "hudson.matrix.MatrixProject" => job(PipelineKind::Matrix),
        "hudson.maven.MavenModuleSet" => job(PipelineKind::Maven),
        // WorkflowMultiBranchProject and the other plugins' multibranch project types.
        _ if class.contains("MultiBranchProject") => Shape::Container { branches: true },
        _ if node.jobs.is_some() => Shape::Container { branches: false },
        _ if node.color.is_some() => job(PipelineKind::Other),
        _ => Shape::Other,
    }
}

/// A container whose children the answer did not include.
struct Unexpanded {
    path: Vec<String>,
    branches: bool,
}

pub(super) async fn discover(session: &Session) -> Result<Discovery, ConnectorError> {
    let tree = tree();
    let mut requests = 0u64;
    let mut pipelines = Vec::new();
    let mut pending = Vec::new();

    let root = session
        .send(
            session
                .client
                .request(Method::GET, &format!("api/json?tree={}", encode(&tree)))?,
        )
        .await?;
    requests += 1;
    if !root.status().is_success() {
        return Err(super::refusal(&root, &session.user, About::Controller));
    }
    if root.header("x-jenkins").is_none() {
        return Err(not_jenkins(&display_url(root.url()), "answered"));
    }
    let root: Node = root.json()?;
    walk(
        session,
        root.jobs.unwrap_or_default(),
        &[],
        false,
        1,
        &mut pipelines,
        &mut pending,
    );

    while let Some(container) = pending.pop() {
        if container.path.len() >= MAX_DEPTH {
            return Err(ConnectorError::generic(
                Category::Protocol,
                format!(
                    "Jenkins reports folders nested deeper than {MAX_DEPTH} levels (at {}); discovery stopped there",
                    container.path.join("/")
                ),
            ));
        }
        let full_path = container.path.join("/");
        let path = format!("{}api/json?tree={}", job_path(&full_path)?, encode(&tree));
        let answer = session
            .send(session.client.request(Method::GET, &path)?)
            .await?;
        requests += 1;
        // Deleted between the two requests: its jobs are gone too.
        if answer.status().as_u16() == 404 {
            continue;
        }
        if !answer.status().is_success() {
            return Err(super::refusal(
                &answer,
                &session.user,
                About::Job(&full_path),
            ));
        }
        let node: Node = answer.json()?;
        walk(
            session,
            node.jobs.unwrap_or_default(),
            &container.path,
            container.branches,
            1,
            &mut pipelines,
            &mut pending,
        );
    }

    pipelines.sort_by(|a, b| a.full_path.cmp(&b.full_path));
    Ok(Discovery {
        pipelines,
        requests,
    })
}

/// The tree's brackets, braces and commas percent-encoded (docs/jenkins.md: encode the
/// brackets; a proxy may reject them raw).
fn encode(tree: &str) -> String {
    url::form_urlencoded::byte_serialize(tree.as_bytes()).collect()
}

/// Collects the pipelines among `nodes` (at `level` of the answer, 1 = the children of
/// the object asked) and below, and the containers whose children were not expanded.
fn walk(
    session: &Session,
    nodes: Vec<Node>,
    parent: &[String],
    in_multibranch: bool,
    level: usize,
    pipelines: &mut Vec<DiscoveredPipeline>,
    pending: &mut Vec<Unexpanded>,
) {
    for mut node in nodes {
        // An item without a usable name cannot be addressed. Jenkins refuses names with '/'
        // (which joins them into a path) and the names `.` and `..`.
        let Some(name) = node
            .name
            .take()
            .filter(|n| !n.is_empty() && !n.contains('/') && n != "." && n != "..")
        else {
            continue;
        };
        let mut path = parent.to_vec();
        path.push(name);
        match shape(&node, in_multibranch) {
            Shape::Container { branches } => {
                let children = node.jobs.take();
                if level >= DISCOVERY_LEVELS {
                    // Only the first child was asked for: follow up when there is one, and
                    // also when the answer has no `jobs` at all (cannot tell, so ask).
                    if children.is_none_or(|c| !c.is_empty()) {
                        pending.push(Unexpanded { path, branches });
                    }
                } else {
                    walk(
                        session,
                        children.unwrap_or_default(),
                        &path,
                        branches,
                        level + 1,
                        pipelines,
                        pending,
                    );
                }
            }
            Shape::Job(kind) => pipelines.push(pipeline(session, node, path, kind)),
            Shape::Other => {}
        }
    }
}

fn pipeline(
    session: &Session,
    node: Node,
    path: Vec<String>,
    kind: PipelineKind,
) -> DiscoveredPipeline {
    let full_path = path.join("/");
    let name = path.last().cloned().unwrap_or_default();
    let folder = path[..path.len().saturating_sub(1)].join("/");
    let url = node.url.clone().unwrap_or_else(|| {
        job_path(&full_path)
            .ok()
            .and_then(|p| session.client.base().join(&p).ok())
            .map(|u| u.to_string())
            .unwrap_or_default()
    });
    let disabled = node
        .color
        .as_deref()
        .is_some_and(|c| c.trim_end_matches("_anime") == "disabled");
    let buildable = node.buildable.unwrap_or(true) && !disabled;
    let parameters = parameters(node.property.unwrap_or_default());
    let last_build = node.last_build.and_then(last_build);
    DiscoveredPipeline {
        full_path,
        name,
        folder,
        kind,
        url,
        buildable,
        parameters,
        last_build,
    }
}

fn parameters(properties: Vec<Property>) -> Vec<ParameterDefinition> {
    let mut out: Vec<ParameterDefinition> = Vec::new();
    for node in properties
        .into_iter()
        .flat_map(|p| p.parameter_definitions.unwrap_or_default())
    {
        let Some(definition) = parameter(node) else {
            continue;
        };
        // Jenkins keeps the first of two definitions with one name.
        if out.iter().all(|d| d.name != definition.name) {
            out.push(definition);
        }
    }
    out
}

fn parameter(node: ParamNode) -> Option<ParameterDefinition> {
    let name = node.name.filter(|n| !n.is_empty())?;
    // `type` is the definition's simple class name; `_class` the full one.
    let simple = node
        .kind
        .or_else(|| {
            node.class
                .as_deref()
                .and_then(|c| c.rsplit('.').next())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    // Exact names only: plugins' types (ExtendedChoiceParameterDefinition, ...) take other
    // values than core's, so they are entered as plain text.
    let kind = match simple.as_str() {
        "TextParameterDefinition" => ParameterType::Text,
        "BooleanParameterDefinition" => ParameterType::Boolean,
        "ChoiceParameterDefinition" => ParameterType::Choice,
        "PasswordParameterDefinition" => ParameterType::Password,
        _ => ParameterType::String,
    };
    let choices: Vec<String> = if kind == ParameterType::Choice {
        node.choices
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| match c {
                Value::String(s) => Some(s),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect()
    } else {
        Vec::new()
    };
    let given = node.default.and_then(|d| d.value);
    let default = match kind {
        // A password's default never leaves Jenkins through Switchboard.
        ParameterType::Password => None,
        ParameterType::Boolean => match given {
            Some(Value::Bool(b)) => Some(Value::Bool(b)),
            Some(Value::String(s)) => Some(Value::Bool(s.eq_ignore_ascii_case("true"))),
            _ => None,
        },
        ParameterType::Choice => match given {
            Some(Value::String(s)) => Some(Value::String(s)),
            _ => choices.first().cloned().map(Value::String),
        },
        _ => match given {
            Some(Value::String(s)) => Some(Value::String(s)),
            Some(v @ (Value::Bool(_) | Value::Number(_))) => Some(Value::String(v.to_string())),
            _ => None,
        },
    };
    Some(ParameterDefinition {
        name,
        kind,
        description: node.description.filter(|d| !d.trim().is_empty()),
        default,
        choices,
    })
}

/// `SUCCESS UNSTABLE FAILURE NOT_BUILT ABORTED`; `None` for anything else (or none).
pub(super) fn status_of_result(result: Option<&str>) -> Option<RunStatus> {
    Some(match result? {
        "SUCCESS" => RunStatus::Succeeded,
        "UNSTABLE" => RunStatus::Unstable,
        "FAILURE" => RunStatus::Failed,
        "NOT_BUILT" => RunStatus::Skipped,
        "ABORTED" => RunStatus::Cancelled,
        _ => return None,
    })
}

fn last_build(build: BuildNode) -> Option<LastBuild> {
    let number = build.number?;
    let status = if build.building == Some(true) {
        RunStatus::Running
    } else {
        status_of_result(build.result.as_deref()).unwrap_or(RunStatus::Error)
    };
    Some(LastBuild {
        number,
        status,
        started_at: build.timestamp.and_then(DateTime::from_timestamp_millis),
        url: build.url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(value: Value) -> Node {
        serde_json::from_value(value).expect("node")
    }

    fn params(value: Value) -> Vec<ParameterDefinition> {
        parameters(serde_json::from_value(value).expect("properties"))
    }

    #[test]
    fn the_tree_nests_the_fixed_number_of_levels_and_probes_below() {
        let tree = tree();
        assert_eq!(tree.matches("jobs[").count(), DISCOVERY_LEVELS + 1);
        assert!(tree.ends_with(&format!(
            "jobs[name]{{0,1}}{}",
            "]".repeat(DISCOVERY_LEVELS)
        )));
        assert!(!tree.contains("depth"));
        let encoded = encode(&tree);
        assert!(!encoded.contains(['[', ']', '{', '}']), "{encoded}");
    }

    #[test]
    fn shapes_by_class_then_by_fields() {
        let folder = node(json!({"_class": "com.cloudbees.hudson.plugins.folder.Folder"}));
        assert_eq!(shape(&folder, false), Shape::Container { branches: false });
        let multibranch = node(json!({
            "_class": "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
        }));
        assert_eq!(
            shape(&multibranch, false),
            Shape::Container { branches: true }
        );
        let pipeline = node(json!({"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob"}));
        assert_eq!(shape(&pipeline, false), Shape::Job(PipelineKind::Pipeline));
        assert_eq!(shape(&pipeline, true), Shape::Job(PipelineKind::Branch));
        let unknown_container = node(json!({"_class": "org.example.Group", "jobs": []}));
        assert_eq!(
            shape(&unknown_container, false),
            Shape::Container { branches: false }
        );
        let unknown_job = node(json!({"_class": "org.example.Job", "color": "blue"}));
        assert_eq!(shape(&unknown_job, false), Shape::Job(PipelineKind::Other));
        let neither = node(json!({"_class": "org.example.View"}));
        assert_eq!(shape(&neither, false), Shape::Other);
        assert_eq!(shape(&node(json!({})), false), Shape::Other);
    }

    #[test]
    fn parameter_types_defaults_and_choices() {
        let found = params(json!([
            {"_class": "hudson.model.ParametersDefinitionProperty", "parameterDefinitions": [
                {"name": "VERSION", "type": "StringParameterDefinition", "description": "",
                 "defaultParameterValue": {"value": "latest"}},
                {"name": "NOTES", "type": "TextParameterDefinition", "description": "Release notes",
                 "defaultParameterValue": {"value": "a\nb"}},
                {"name": "DRY_RUN", "type": "BooleanParameterDefinition",
                 "defaultParameterValue": {"value": true}},
                {"name": "ENV", "type": "ChoiceParameterDefinition",
                 "choices": ["staging", "production"]},
                {"name": "SECRET", "type": "PasswordParameterDefinition",
                 "defaultParameterValue": {"value": "hunter2"}},
                {"name": "RUN", "type": "RunParameterDefinition",
                 "defaultParameterValue": {"value": 17}},
                {"name": "EXT", "_class": "com.cwctravel.hudson.plugins.extended_choice_parameter.ExtendedChoiceParameterDefinition"},
                {"name": "VERSION", "type": "StringParameterDefinition"},
                {"type": "StringParameterDefinition"}
            ]},
            {"_class": "org.example.OtherProperty"}
        ]));
        let summary: Vec<(&str, ParameterType, Option<Value>)> = found
            .iter()
            .map(|p| (p.name.as_str(), p.kind, p.default.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("VERSION", ParameterType::String, Some(json!("latest"))),
                ("NOTES", ParameterType::Text, Some(json!("a\nb"))),
                ("DRY_RUN", ParameterType::Boolean, Some(json!(true))),
                ("ENV", ParameterType::Choice, Some(json!("staging"))),
                ("SECRET", ParameterType::Password, None),
                ("RUN", ParameterType::String, Some(json!("17"))),
                ("EXT", ParameterType::String, None),
            ]
        );
        assert_eq!(found[0].description, None, "an empty description is none");
        assert_eq!(found[1].description.as_deref(), Some("Release notes"));
        assert_eq!(found[3].choices, ["staging", "production"]);
        assert!(found[0].choices.is_empty());
    }

    #[test]
    fn last_builds_map_results_and_tolerate_missing_fields() {
        let build = |v: Value| last_build(serde_json::from_value(v).expect("build"));
        let statuses: Vec<Option<RunStatus>> = [
            json!({"number": 1, "result": "SUCCESS", "building": false}),
            json!({"number": 2, "result": "UNSTABLE"}),
            json!({"number": 3, "result": "FAILURE"}),
            json!({"number": 4, "result": "NOT_BUILT"}),
            json!({"number": 5, "result": "ABORTED"}),
            json!({"number": 6, "result": null, "building": true}),
            json!({"number": 7, "result": null, "building": false}),
            json!({"result": "SUCCESS"}),
        ]
        .into_iter()
        .map(|v| build(v).map(|b| b.status))
        .collect();
        assert_eq!(
            statuses,
            vec![
                Some(RunStatus::Succeeded),
                Some(RunStatus::Unstable),
                Some(RunStatus::Failed),
                Some(RunStatus::Skipped),
                Some(RunStatus::Cancelled),
                Some(RunStatus::Running),
                Some(RunStatus::Error),
                None,
            ]
        );
        let full = build(json!({"number": 9, "result": "SUCCESS", "building": false,
            "timestamp": 1_764_060_000_000_i64, "url": "https://ci/job/x/9/"}))
        .expect("build");
        assert_eq!(
            full.started_at.map(|t| t.timestamp_millis()),
            Some(1_764_060_000_000)
        );
        assert_eq!(full.url.as_deref(), Some("https://ci/job/x/9/"));
    }
}
