//! Discovery: every configured builder, its force scheduler parameters and its last build,
//! in three requests whatever the number of builders (plus a login when the session is
//! not cached): `api/v2/builders`,
//! `api/v2/forceschedulers`, and the newest [`LAST_BUILDS_WINDOW`] builds of the whole
//! master (`api/v2/builds?order=-buildid`). A builder none of whose builds is among those
//! gets no `last_build` (its last build is older than the master's newest
//! [`LAST_BUILDS_WINDOW`]); asking per builder would cost one request per builder.

use std::collections::{BTreeMap, HashMap};

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::pipeline::{
    LastBuild, ParameterDefinition, ParameterType, PipelineKind, RunStatus,
};

use super::{About, Session};
use crate::connector::{DiscoveredPipeline, Discovery};
use crate::{Category, ConnectorError};

/// How many of the master's newest builds discovery reads for the builders' last builds.
pub const LAST_BUILDS_WINDOW: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Builders {
    pub(super) builders: Option<Vec<BuilderNode>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct BuilderNode {
    pub(super) builderid: Option<i64>,
    pub(super) name: Option<String>,
    /// The masters that have the builder configured; empty once it was removed.
    pub(super) masterids: Vec<i64>,
}

impl BuilderNode {
    pub(super) fn configured(&self) -> bool {
        !self.masterids.is_empty()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ForceSchedulers {
    pub(super) forceschedulers: Option<Vec<ForceScheduler>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ForceScheduler {
    pub(super) name: Option<String>,
    pub(super) builder_names: Vec<String>,
    pub(super) all_fields: Vec<Field>,
    /// Missing from older masters: enabled then.
    pub(super) enabled: Option<bool>,
}

impl ForceScheduler {
    pub(super) fn enabled(&self) -> bool {
        self.enabled != Some(false)
    }
}

/// One field of a force scheduler's form (`BaseParameter.getSpec()`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Field {
    pub(super) name: Option<String>,
    #[serde(rename = "fullName")]
    pub(super) full_name: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) label: Option<String>,
    pub(super) tooltip: Option<String>,
    pub(super) default: Value,
    pub(super) choices: Option<Vec<Value>>,
    pub(super) strict: Option<bool>,
    pub(super) hide: bool,
    pub(super) fields: Option<Vec<Field>>,
}

impl Field {
    fn is_nested(&self) -> bool {
        self.kind.as_deref() == Some("nested") || self.fields.is_some()
    }

    /// The name values are sent under: `fullName` (children of a named nested parameter
    /// get `parent_child`), else `name`.
    pub(super) fn send_name(&self) -> Option<&str> {
        self.full_name
            .as_deref()
            .or(self.name.as_deref())
            .filter(|name| !name.is_empty())
    }
}

/// The names of a `CodebaseParameter`'s children: a source stamp, not properties.
const CODEBASE_FIELDS: [&str; 5] = ["branch", "revision", "repository", "project", "patch"];

/// The scheduler's own fields, which are not build properties: the first entry of
/// `all_fields` is always an anonymous group of the owner (`username`), `reason` and
/// `priority` fields (Buildbot 4's `ForceScheduler`), whatever their names.
fn is_builtin_group(index: usize, field: &Field) -> bool {
    index == 0 && field.is_nested() && field.name.as_deref().unwrap_or("").is_empty()
}

/// A codebase's fields (branch, revision, …) choose sources, not properties.
fn is_codebase(field: &Field) -> bool {
    let Some(children) = &field.fields else {
        return false;
    };
    field.is_nested()
        && !children.is_empty()
        && children.iter().all(|child| {
            child
                .name
                .as_deref()
                .is_some_and(|name| CODEBASE_FIELDS.contains(&name))
        })
}

/// The reason field's name (the second field of the built-in group; `reason` unless the
/// master renamed it), or `None` when the user cannot set it.
pub(super) fn reason_field(scheduler: &ForceScheduler) -> Option<String> {
    let group = scheduler.all_fields.first()?;
    if !is_builtin_group(0, group) {
        return Some("reason".to_owned());
    }
    let children = group.fields.as_ref()?;
    let reason = children
        .iter()
        .find(|child| child.name.as_deref() == Some("reason"))
        .or_else(|| children.get(1))?;
    if reason.kind.as_deref() == Some("fixed") {
        return None;
    }
    reason.send_name().map(str::to_owned)
}

/// The parameters a user can set in a force scheduler's form, flattened (nested
/// parameters' children under their full names), without the scheduler's built-in
/// fields, codebase fields, hidden fields, fixed values and file uploads.
pub(super) fn parameters(scheduler: &ForceScheduler) -> Vec<ParameterDefinition> {
    let mut out = Vec::new();
    for (index, field) in scheduler.all_fields.iter().enumerate() {
        if is_builtin_group(index, field) || is_codebase(field) {
            continue;
        }
        flatten(field, 0, &mut out);
    }
    out
}

fn flatten(field: &Field, depth: usize, out: &mut Vec<ParameterDefinition>) {
    if field.hide || depth > 16 {
        return;
    }
    if field.is_nested() {
        for child in field.fields.iter().flatten() {
            flatten(child, depth + 1, out);
        }
        return;
    }
    if let Some(definition) = definition(field)
        && !out.iter().any(|known| known.name == definition.name)
    {
        out.push(definition);
    }
}

fn definition(field: &Field) -> Option<ParameterDefinition> {
    let name = field.send_name()?.to_owned();
    let choices: Vec<String> = field
        .choices
        .iter()
        .flatten()
        .map(|choice| match choice {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    let kind = match field.kind.as_deref() {
        // Not settable: a fixed value, a file upload.
        Some("fixed" | "file") => return None,
        Some("textarea") => ParameterType::Text,
        Some("bool") => ParameterType::Boolean,
        Some("int") => ParameterType::Integer,
        // A choice that is not strict also takes other values: free text.
        Some("list") if field.strict != Some(false) && !choices.is_empty() => ParameterType::Choice,
        // "text", "username", a non-strict "list", and plugins' own types.
        _ => ParameterType::String,
    };
    let default = match (kind, &field.default) {
        (_, Value::Null) => None,
        (ParameterType::Boolean, Value::Bool(flag)) => Some(Value::Bool(*flag)),
        (ParameterType::Boolean, Value::String(text)) => {
            Some(Value::Bool(text.eq_ignore_ascii_case("true")))
        }
        (ParameterType::Integer, Value::Number(number)) => Some(Value::Number(number.clone())),
        (ParameterType::Integer, Value::String(text)) => {
            text.trim().parse::<i64>().ok().map(Value::from)
        }
        (ParameterType::Choice, Value::String(text)) => {
            choices.contains(text).then(|| Value::String(text.clone()))
        }
        (ParameterType::String | ParameterType::Text, Value::String(text)) => {
            Some(Value::String(text.clone()))
        }
        (ParameterType::String | ParameterType::Text, Value::Number(number)) => {
            Some(Value::String(number.to_string()))
        }
        _ => None,
    };
    let description = field
        .tooltip
        .as_deref()
        .filter(|tip| !tip.trim().is_empty())
        .or_else(|| {
            field
                .label
                .as_deref()
                .filter(|label| !label.trim().is_empty() && *label != name)
        })
        .map(str::to_owned);
    Some(ParameterDefinition {
        name,
        kind,
        description,
        default,
        choices: if kind == ParameterType::Choice {
            choices
        } else {
            Vec::new()
        },
    })
}

/// A build as `api/v2/builds` lists it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct BuildNode {
    pub(super) buildid: Option<i64>,
    pub(super) builderid: Option<i64>,
    pub(super) buildrequestid: Option<i64>,
    pub(super) number: Option<i64>,
    pub(super) complete: bool,
    pub(super) results: Option<i64>,
    pub(super) started_at: Option<i64>,
    pub(super) complete_at: Option<i64>,
    pub(super) state_string: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Builds {
    pub(super) builds: Option<Vec<BuildNode>>,
}

/// Buildbot's results codes: 0 SUCCESS, 1 WARNINGS, 2 FAILURE, 3 SKIPPED, 4 EXCEPTION,
/// 5 RETRY, 6 CANCELLED. `None` for RETRY (the request is queued again) and unknown codes.
pub(super) fn status_of_results(results: i64) -> Option<RunStatus> {
    Some(match results {
        0 => RunStatus::Succeeded,
        1 => RunStatus::Unstable,
        2 => RunStatus::Failed,
        3 => RunStatus::Skipped,
        4 => RunStatus::Error,
        6 => RunStatus::Cancelled,
        _ => return None,
    })
}

pub(super) const RETRY: i64 = 5;

/// A builder's page in Buildbot's web UI.
pub(super) fn builder_url(session: &Session<'_>, builderid: i64) -> String {
    format!("{}#/builders/{builderid}", session.base().as_url())
}

/// A build's page in Buildbot's web UI.
pub(super) fn build_url(session: &Session<'_>, builderid: i64, number: i64) -> String {
    format!(
        "{}#/builders/{builderid}/builds/{number}",
        session.base().as_url()
    )
}

pub(super) async fn discover(session: &Session<'_>) -> Result<Discovery, ConnectorError> {
    let builders: Builders = session.get_json("api/v2/builders", About::Master).await?;
    let Some(builders) = builders.builders else {
        return Err(ConnectorError::generic(
            Category::Protocol,
            "Buildbot's builders answer has no builders list",
        ));
    };
    let schedulers: ForceSchedulers = session
        .get_json("api/v2/forceschedulers", About::Master)
        .await?;
    let schedulers = schedulers.forceschedulers.unwrap_or_default();
    let builds: Builds = session
        .get_json(
            &format!(
                "api/v2/builds?order=-buildid&limit={LAST_BUILDS_WINDOW}\
                 &field=buildid&field=builderid&field=number&field=results\
                 &field=complete&field=started_at"
            ),
            About::Master,
        )
        .await?;

    // The newest build of each builder: the first met in descending build id order.
    let mut last_builds: HashMap<i64, &BuildNode> = HashMap::new();
    for build in builds.builds.iter().flatten() {
        if let Some(builderid) = build.builderid {
            last_builds.entry(builderid).or_insert(build);
        }
    }

    // Parameters by builder name, from every enabled force scheduler that lists it.
    let mut parameters: BTreeMap<&str, Vec<ParameterDefinition>> = BTreeMap::new();
    for scheduler in schedulers.iter().filter(|s| s.enabled()) {
        let definitions = self::parameters(scheduler);
        for builder in &scheduler.builder_names {
            let known = parameters.entry(builder.as_str()).or_default();
            for definition in &definitions {
                if !known.iter().any(|k| k.name == definition.name) {
                    known.push(definition.clone());
                }
            }
        }
    }

    let mut pipelines = Vec::new();
    for builder in builders.iter().filter(|b| b.configured()) {
        let (Some(builderid), Some(name)) = (builder.builderid, builder.name.as_deref()) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let last_build = last_builds.get(&builderid).and_then(|build| {
            let number = build.number?;
            let status = if build.complete {
                build
                    .results
                    .and_then(status_of_results)
                    .unwrap_or(RunStatus::Error)
            } else {
                RunStatus::Running
            };
            Some(LastBuild {
                number,
                status,
                started_at: build
                    .started_at
                    .and_then(|s| DateTime::from_timestamp(s, 0)),
                url: Some(build_url(session, builderid, number)),
            })
        });
        pipelines.push(DiscoveredPipeline {
            full_path: name.to_owned(),
            name: name.to_owned(),
            folder: String::new(),
            kind: PipelineKind::Builder,
            url: builder_url(session, builderid),
            buildable: parameters.contains_key(name),
            parameters: parameters.get(name).cloned().unwrap_or_default(),
            last_build,
        });
    }
    pipelines.sort_by(|a, b| a.full_path.cmp(&b.full_path));
    Ok(Discovery {
        pipelines,
        requests: session.requests(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scheduler(all_fields: Value) -> ForceScheduler {
        serde_json::from_value(json!({
            "name": "force", "builder_names": ["b"], "all_fields": all_fields
        }))
        .expect("scheduler")
    }

    #[test]
    fn builtin_codebase_hidden_and_fixed_fields_are_not_parameters() {
        let s = scheduler(json!([
            {"type": "nested", "name": "", "fullName": null, "fields": [
                {"type": "username", "name": "username", "fullName": "username"},
                {"type": "text", "name": "reason", "fullName": "reason", "default": "force build"},
                {"type": "int", "name": "priority", "fullName": "priority", "default": 0}
            ]},
            {"type": "nested", "name": "", "fullName": null, "fields": [
                {"type": "text", "name": "branch", "fullName": "branch"},
                {"type": "text", "name": "revision", "fullName": "revision"}
            ]},
            {"type": "text", "name": "greeting", "fullName": "greeting", "default": "hello",
             "label": "greeting", "tooltip": ""},
            {"type": "bool", "name": "loud", "fullName": "loud", "default": false},
            {"type": "list", "name": "target", "fullName": "target", "default": "staging",
             "choices": ["staging", "production"], "strict": true},
            {"type": "list", "name": "free", "fullName": "free", "default": "a",
             "choices": ["a"], "strict": false},
            {"type": "int", "name": "count", "fullName": "count", "default": 3,
             "label": "How many", "tooltip": ""},
            {"type": "textarea", "name": "notes", "fullName": "notes", "default": ""},
            {"type": "nested", "name": "options", "fullName": "options", "fields": [
                {"type": "int", "name": "retries", "fullName": "options_retries", "default": 1}
            ]},
            {"type": "fixed", "name": "fixed", "fullName": "fixed", "default": "x"},
            {"type": "text", "name": "secret", "fullName": "secret", "hide": true},
            {"type": "file", "name": "upload", "fullName": "upload"}
        ]));
        let got: Vec<(String, ParameterType, Option<Value>)> = parameters(&s)
            .into_iter()
            .map(|d| (d.name, d.kind, d.default))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "greeting".into(),
                    ParameterType::String,
                    Some(json!("hello"))
                ),
                ("loud".into(), ParameterType::Boolean, Some(json!(false))),
                (
                    "target".into(),
                    ParameterType::Choice,
                    Some(json!("staging"))
                ),
                ("free".into(), ParameterType::String, Some(json!("a"))),
                ("count".into(), ParameterType::Integer, Some(json!(3))),
                ("notes".into(), ParameterType::Text, Some(json!(""))),
                (
                    "options_retries".into(),
                    ParameterType::Integer,
                    Some(json!(1))
                ),
            ]
        );
        let count = parameters(&s)
            .into_iter()
            .find(|d| d.name == "count")
            .expect("count");
        assert_eq!(count.description.as_deref(), Some("How many"));
        assert_eq!(reason_field(&s).as_deref(), Some("reason"));
    }

    #[test]
    fn results_codes_map_to_statuses() {
        assert_eq!(status_of_results(0), Some(RunStatus::Succeeded));
        assert_eq!(status_of_results(1), Some(RunStatus::Unstable));
        assert_eq!(status_of_results(2), Some(RunStatus::Failed));
        assert_eq!(status_of_results(3), Some(RunStatus::Skipped));
        assert_eq!(status_of_results(4), Some(RunStatus::Error));
        assert_eq!(status_of_results(RETRY), None);
        assert_eq!(status_of_results(6), Some(RunStatus::Cancelled));
        assert_eq!(status_of_results(42), None);
    }
}
