//! The exported objects: what `/api/json` shows for the controller, items, builds, the queue.
//!
//! Classes and property names follow Jenkins (docs/jenkins.md lists the ones clients rely on);
//! the rest (`healthReport`, `views`, `primaryView`, the anonymous `{}` action, ...) is a
//! plausible subset of what a real controller with common plugins exports.

use serde_json::json;

use crate::auth::Principal;
use crate::config::{BuildResult, ItemKind, ParamConfig};
use crate::export::{Model, V};
use crate::sim::{Build, ItemId, LeftItem, QueueItem, QueueState, State};

/// What every model needs: the state, the caller, the root URL (ending in `/`), the time.
pub struct Ctx<'a> {
    pub st: &'a State,
    pub who: &'a Principal,
    pub root: String,
    pub now: u64,
}

impl Ctx<'_> {
    fn visible_children(&self, parent: Option<ItemId>) -> V<'_> {
        V::List(
            self.st
                .children(parent)
                .iter()
                .filter(|&&c| self.who.can_see(self.st, c))
                .map(|&c| V::obj(ItemModel { ctx: self, id: c }))
                .collect(),
        )
    }
    fn views(&self, url: &str) -> V<'_> {
        V::List(vec![V::Json(json!({
            "_class": "hudson.model.AllView",
            "name": "all",
            "url": url,
        }))])
    }
}

pub struct RootModel<'a> {
    pub ctx: &'a Ctx<'a>,
}

impl Model for RootModel<'_> {
    fn class(&self) -> Option<&str> {
        Some("hudson.model.Hudson")
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        &[
            ("assignedLabels", 1),
            ("mode", 1),
            ("nodeDescription", 1),
            ("nodeName", 1),
            ("numExecutors", 1),
            ("description", 1),
            ("jobs", 1),
            ("overallLoad", 1),
            ("primaryView", 1),
            ("quietDownReason", 1),
            ("quietingDown", 1),
            ("slaveAgentPort", 1),
            ("unlabeledLoad", 1),
            ("url", 1),
            ("useCrumbs", 1),
            ("useSecurity", 1),
            ("views", 1),
        ]
    }
    fn get(&self, name: &str) -> V<'_> {
        let ctx = self.ctx;
        match name {
            "assignedLabels" => {
                V::Json(json!([{"_class": "hudson.model.labels.LabelAtom", "name": "built-in"}]))
            }
            "mode" => V::str("NORMAL"),
            "nodeDescription" => V::str("the Jenkins controller's built-in node"),
            "nodeName" => V::str(""),
            "numExecutors" => V::Int(i64::from(ctx.st.cfg.executors)),
            "description" => V::Null,
            "jobs" => ctx.visible_children(None),
            "overallLoad" => V::Json(json!({})),
            "primaryView" => {
                V::Json(json!({"_class": "hudson.model.AllView", "name": "all", "url": ctx.root}))
            }
            "quietDownReason" => V::Null,
            "quietingDown" => V::Bool(false),
            "slaveAgentPort" => V::Int(-1),
            "unlabeledLoad" => V::Json(json!({"_class": "jenkins.model.UnlabeledLoadStatistics"})),
            "url" => V::str(ctx.root.clone()),
            "useCrumbs" => V::Bool(ctx.st.cfg.csrf.enabled()),
            "useSecurity" => V::Bool(true),
            "views" => ctx.views(&ctx.root),
            _ => V::Null,
        }
    }
}

pub struct ItemModel<'a> {
    pub ctx: &'a Ctx<'a>,
    pub id: ItemId,
}

const CONTAINER_PROPS: &[(&str, i32)] = &[
    ("actions", 1),
    ("description", 1),
    ("displayName", 1),
    ("displayNameOrNull", 1),
    ("fullDisplayName", 1),
    ("fullName", 1),
    ("name", 2),
    ("url", 2),
    ("healthReport", 1),
    ("jobs", 1),
    ("primaryView", 1),
    ("views", 1),
];

const JOB_PROPS: &[(&str, i32)] = &[
    ("actions", 1),
    ("description", 1),
    ("displayName", 1),
    ("displayNameOrNull", 1),
    ("fullDisplayName", 1),
    ("fullName", 1),
    ("name", 2),
    ("url", 2),
    ("buildable", 1),
    ("builds", 1),
    ("color", 2),
    ("firstBuild", 1),
    ("healthReport", 1),
    ("inQueue", 1),
    ("keepDependencies", 1),
    ("lastBuild", 1),
    ("lastCompletedBuild", 1),
    ("lastFailedBuild", 1),
    ("lastStableBuild", 1),
    ("lastSuccessfulBuild", 1),
    ("lastUnstableBuild", 1),
    ("lastUnsuccessfulBuild", 1),
    ("nextBuildNumber", 1),
    ("property", 1),
    ("queueItem", 1),
    ("concurrentBuild", 1),
    ("disabled", 1),
    ("allBuilds", -2),
];

/// Which build a permalink names.
pub fn permalink(st: &State, id: ItemId, link: &str) -> Option<u32> {
    let job = st.items[id].job.as_ref()?;
    let mut builds = job.builds.values().rev();
    let pick = |b: &&Build| -> bool {
        let r = b.result();
        match link {
            "lastBuild" => true,
            "lastCompletedBuild" => !b.building(),
            // Jenkins counts UNSTABLE as successful here; "stable" is SUCCESS only.
            "lastSuccessfulBuild" => {
                matches!(r, Some(BuildResult::Success | BuildResult::Unstable))
            }
            "lastStableBuild" => r == Some(BuildResult::Success),
            "lastFailedBuild" => r == Some(BuildResult::Failure),
            "lastUnstableBuild" => r == Some(BuildResult::Unstable),
            "lastUnsuccessfulBuild" => r.is_some_and(|r| r != BuildResult::Success),
            _ => false,
        }
    };
    if link == "firstBuild" {
        return job.builds.keys().next().copied();
    }
    builds.find(|b| pick(b)).map(|b| b.number)
}

/// `blue red yellow grey disabled aborted notbuilt`, `_anime` while building.
pub fn color(st: &State, id: ItemId) -> Option<String> {
    let job = st.items[id].job.as_ref()?;
    let base = if job.disabled {
        "disabled"
    } else {
        job.builds
            .values()
            .rev()
            .find_map(|b| b.result())
            .map_or("notbuilt", BuildResult::color)
    };
    let building = st.job_building(id).is_some();
    Some(if building {
        format!("{base}_anime")
    } else {
        base.to_owned()
    })
}

impl Model for ItemModel<'_> {
    fn class(&self) -> Option<&str> {
        Some(self.ctx.st.items[self.id].kind.class())
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        if self.ctx.st.items[self.id].job.is_some() {
            JOB_PROPS
        } else {
            CONTAINER_PROPS
        }
    }
    fn get(&self, name: &str) -> V<'_> {
        let ctx = self.ctx;
        let st = ctx.st;
        let item = &st.items[self.id];
        let url = format!("{}{}", ctx.root, st.rel_url(self.id));
        let job = item.job.as_ref();
        let build_ref = |n: Option<u32>| -> V<'_> {
            V::opt_obj(n.map(|number| BuildModel {
                ctx,
                job: self.id,
                number,
            }))
        };
        match name {
            "actions" => {
                let mut actions = Vec::new();
                if job.is_some_and(|j| !j.params.is_empty()) {
                    actions.push(V::obj(ParamsProperty { ctx, id: self.id }));
                }
                actions.push(V::obj(Anonymous));
                if item.kind == ItemKind::Pipeline {
                    actions.push(V::Json(json!({"_class": "org.jenkinsci.plugins.workflow.job.views.FlowGraphAction"})));
                }
                V::List(actions)
            }
            "description" => V::opt_str(item.description.clone()),
            "displayName" => V::str(st.display_name(self.id)),
            "displayNameOrNull" => V::opt_str(item.display_name.clone()),
            "fullDisplayName" => V::str(st.full_display_name(self.id)),
            "fullName" => V::str(st.full_name(self.id)),
            "name" => V::str(item.name.clone()),
            "url" => V::str(url),
            "healthReport" => V::List(Vec::new()),
            "jobs" => ctx.visible_children(Some(self.id)),
            "primaryView" => {
                V::Json(json!({"_class": "hudson.model.AllView", "name": "All", "url": url}))
            }
            "views" => ctx.views(&url),
            "buildable" => V::Bool(job.is_some_and(|j| !j.disabled)),
            "builds" | "allBuilds" => {
                let limit = if name == "builds" { 100 } else { usize::MAX };
                V::List(
                    job.map(|j| {
                        j.builds
                            .keys()
                            .rev()
                            .take(limit)
                            .map(|&number| {
                                V::obj(BuildModel {
                                    ctx,
                                    job: self.id,
                                    number,
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                )
            }
            "color" => V::opt_str(color(st, self.id)),
            "firstBuild"
            | "lastBuild"
            | "lastCompletedBuild"
            | "lastFailedBuild"
            | "lastStableBuild"
            | "lastSuccessfulBuild"
            | "lastUnstableBuild"
            | "lastUnsuccessfulBuild" => build_ref(permalink(st, self.id, name)),
            "inQueue" => V::Bool(st.queue.values().any(|q| q.job == self.id)),
            "keepDependencies" => V::Bool(false),
            "nextBuildNumber" => V::Int(job.map_or(1, |j| i64::from(j.next_build_number))),
            "property" => {
                let mut props = Vec::new();
                if job.is_some_and(|j| !j.params.is_empty()) {
                    props.push(V::obj(ParamsProperty { ctx, id: self.id }));
                }
                if item.kind == ItemKind::Pipeline && job.is_some_and(|j| !j.concurrent) {
                    props.push(V::Json(json!({"_class": "org.jenkinsci.plugins.workflow.job.properties.DisableConcurrentBuildsJobProperty", "abortPrevious": false})));
                }
                V::List(props)
            }
            "queueItem" => V::opt_obj(
                st.queue
                    .values()
                    .find(|q| q.job == self.id)
                    .map(|q| QueueItemModel::Queued { ctx, item: q }),
            ),
            "concurrentBuild" => V::Bool(job.is_some_and(|j| j.concurrent)),
            "disabled" => V::Bool(job.is_some_and(|j| j.disabled)),
            _ => V::Null,
        }
    }
}

/// An action or property without exported data and without a class name in the export,
/// as many plugins' actions appear: `{}`.
pub struct Anonymous;

impl Model for Anonymous {
    fn class(&self) -> Option<&str> {
        None
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        &[]
    }
    fn get(&self, _: &str) -> V<'_> {
        V::Null
    }
}

pub struct ParamsProperty<'a> {
    pub ctx: &'a Ctx<'a>,
    pub id: ItemId,
}

impl Model for ParamsProperty<'_> {
    fn class(&self) -> Option<&str> {
        Some("hudson.model.ParametersDefinitionProperty")
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        &[("parameterDefinitions", 1)]
    }
    fn get(&self, _: &str) -> V<'_> {
        let params = self.ctx.st.items[self.id]
            .job
            .as_ref()
            .map(|j| j.params.as_slice())
            .unwrap_or_default();
        V::List(params.iter().map(|p| V::obj(ParamDef(p))).collect())
    }
}

pub struct ParamDef<'a>(pub &'a ParamConfig);

impl Model for ParamDef<'_> {
    fn class(&self) -> Option<&str> {
        Some(match self.0 {
            ParamConfig::String { .. } => "hudson.model.StringParameterDefinition",
            ParamConfig::Text { .. } => "hudson.model.TextParameterDefinition",
            ParamConfig::Choice { .. } => "hudson.model.ChoiceParameterDefinition",
            ParamConfig::Boolean { .. } => "hudson.model.BooleanParameterDefinition",
            ParamConfig::Password { .. } => "hudson.model.PasswordParameterDefinition",
        })
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        match self.0 {
            ParamConfig::Choice { .. } => &[
                ("defaultParameterValue", 1),
                ("description", 1),
                ("name", 1),
                ("type", 1),
                ("choices", 1),
            ],
            _ => &[
                ("defaultParameterValue", 1),
                ("description", 1),
                ("name", 1),
                ("type", 1),
            ],
        }
    }
    fn get(&self, name: &str) -> V<'_> {
        let p = self.0;
        match name {
            "defaultParameterValue" => {
                let (class, value) = match p {
                    ParamConfig::String { default, .. } => {
                        ("hudson.model.StringParameterValue", json!(default))
                    }
                    ParamConfig::Text { default, .. } => {
                        ("hudson.model.TextParameterValue", json!(default))
                    }
                    ParamConfig::Choice { choices, .. } => (
                        "hudson.model.StringParameterValue",
                        json!(choices.first().cloned().unwrap_or_default()),
                    ),
                    ParamConfig::Boolean { default, .. } => {
                        ("hudson.model.BooleanParameterValue", json!(default))
                    }
                    ParamConfig::Password { .. } => (
                        "hudson.model.PasswordParameterValue",
                        serde_json::Value::Null,
                    ),
                };
                V::obj(ParamValueModel {
                    class,
                    name: p.name().to_owned(),
                    value,
                })
            }
            "description" => V::opt_str(match p {
                ParamConfig::String { description, .. }
                | ParamConfig::Text { description, .. }
                | ParamConfig::Choice { description, .. }
                | ParamConfig::Boolean { description, .. }
                | ParamConfig::Password { description, .. } => description.clone(),
            }),
            "name" => V::str(p.name()),
            "type" => V::str(match p {
                ParamConfig::String { .. } => "StringParameterDefinition",
                ParamConfig::Text { .. } => "TextParameterDefinition",
                ParamConfig::Choice { .. } => "ChoiceParameterDefinition",
                ParamConfig::Boolean { .. } => "BooleanParameterDefinition",
                ParamConfig::Password { .. } => "PasswordParameterDefinition",
            }),
            "choices" => match p {
                ParamConfig::Choice { choices, .. } => {
                    V::List(choices.iter().map(|c| V::str(c.clone())).collect())
                }
                _ => V::Null,
            },
            _ => V::Null,
        }
    }
}

pub struct ParamValueModel {
    pub class: &'static str,
    pub name: String,
    pub value: serde_json::Value,
}

impl Model for ParamValueModel {
    fn class(&self) -> Option<&str> {
        Some(self.class)
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        // A password's value is not exported: the property is absent.
        if self.value.is_null() {
            &[("name", 1)]
        } else {
            &[("name", 1), ("value", 1)]
        }
    }
    fn get(&self, name: &str) -> V<'_> {
        match name {
            "name" => V::str(self.name.clone()),
            "value" => V::Json(self.value.clone()),
            _ => V::Null,
        }
    }
}

/// `ParametersAction` and `CauseAction` of a build or queue item.
pub enum ActionModel<'a> {
    Parameters(&'a [crate::sim::ParamValue]),
    Causes(&'a crate::sim::Cause),
}

impl Model for ActionModel<'_> {
    fn class(&self) -> Option<&str> {
        Some(match self {
            ActionModel::Parameters(_) => "hudson.model.ParametersAction",
            ActionModel::Causes(_) => "hudson.model.CauseAction",
        })
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        match self {
            ActionModel::Parameters(_) => &[("parameters", 1)],
            ActionModel::Causes(_) => &[("causes", 1)],
        }
    }
    fn get(&self, _: &str) -> V<'_> {
        match self {
            ActionModel::Parameters(params) => V::List(
                params
                    .iter()
                    .map(|p| {
                        V::obj(ParamValueModel {
                            class: p.value.class(),
                            name: p.name.clone(),
                            value: p.value.json(),
                        })
                    })
                    .collect(),
            ),
            ActionModel::Causes(c) => V::List(vec![V::Json(json!({
                "_class": "hudson.model.Cause$UserIdCause",
                "shortDescription": c.short_description(),
                "userId": c.user_id,
                "userName": c.user_name,
            }))]),
        }
    }
}

fn actions<'a>(
    params: Option<&'a [crate::sim::ParamValue]>,
    cause: &'a crate::sim::Cause,
) -> V<'a> {
    let mut v = Vec::new();
    if let Some(p) = params {
        v.push(V::obj(ActionModel::Parameters(p)));
    }
    v.push(V::obj(ActionModel::Causes(cause)));
    V::List(v)
}

pub struct BuildModel<'a> {
    pub ctx: &'a Ctx<'a>,
    pub job: ItemId,
    pub number: u32,
}

impl BuildModel<'_> {
    pub fn url(&self) -> String {
        format!(
            "{}{}{}/",
            self.ctx.root,
            self.ctx.st.rel_url(self.job),
            self.number
        )
    }
}

impl Model for BuildModel<'_> {
    fn class(&self) -> Option<&str> {
        Some(self.ctx.st.items[self.job].kind.build_class())
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        &[
            ("actions", 1),
            ("artifacts", 1),
            ("building", 1),
            ("description", 1),
            ("displayName", 1),
            ("duration", 1),
            ("estimatedDuration", 1),
            ("executor", 1),
            ("fullDisplayName", 1),
            ("id", 1),
            ("keepLog", 1),
            ("number", 3),
            ("queueId", 1),
            ("result", 1),
            ("timestamp", 1),
            ("url", 3),
            ("changeSets", 1),
            ("culprits", 1),
            ("nextBuild", 1),
            ("previousBuild", 1),
        ]
    }
    fn get(&self, name: &str) -> V<'_> {
        let ctx = self.ctx;
        let st = ctx.st;
        let Some(job) = st.items[self.job].job.as_ref() else {
            return V::Null;
        };
        let Some(b) = job.builds.get(&self.number) else {
            return V::Null;
        };
        let neighbour = |n: Option<u32>| {
            V::opt_obj(n.map(|number| BuildModel {
                ctx,
                job: self.job,
                number,
            }))
        };
        match name {
            "actions" => {
                let mut v = match actions(b.params.as_deref(), &b.cause) {
                    V::List(v) => v,
                    _ => Vec::new(),
                };
                v.push(V::obj(Anonymous));
                V::List(v)
            }
            "artifacts" | "changeSets" | "culprits" => V::List(Vec::new()),
            "building" => V::Bool(b.building()),
            "description" => V::Null,
            "displayName" => V::str(format!("#{}", b.number)),
            "duration" => V::Int(
                b.outcome
                    .as_ref()
                    .map_or(0, |o| i64::try_from(o.duration_ms).unwrap_or(i64::MAX)),
            ),
            "estimatedDuration" => V::Int(b.estimated_duration),
            "executor" => {
                if b.building() {
                    V::Json(json!({"_class": "hudson.model.OneOffExecutor"}))
                } else {
                    V::Null
                }
            }
            "fullDisplayName" => {
                V::str(format!("{} #{}", st.full_display_name(self.job), b.number))
            }
            "id" => V::str(b.number.to_string()),
            "keepLog" => V::Bool(false),
            "number" => V::Int(i64::from(b.number)),
            "queueId" => V::Int(i64::try_from(b.queue_id).unwrap_or(0)),
            "result" => V::opt_str(b.result().map(BuildResult::as_str)),
            "timestamp" => V::Int(i64::try_from(b.start_ms).unwrap_or(0)),
            "url" => V::str(self.url()),
            "nextBuild" => neighbour(job.builds.range(self.number + 1..).next().map(|(&n, _)| n)),
            "previousBuild" => {
                neighbour(job.builds.range(..self.number).next_back().map(|(&n, _)| n))
            }
            _ => V::Null,
        }
    }
}

pub enum QueueItemModel<'a> {
    Queued {
        ctx: &'a Ctx<'a>,
        item: &'a QueueItem,
    },
    Left {
        ctx: &'a Ctx<'a>,
        left: &'a LeftItem,
    },
}

/// "4.9 sec", "12 sec", "1 min 3 sec": Jenkins' `Util.getTimeSpanString`, roughly.
pub fn time_span(ms: u64) -> String {
    if ms >= 60_000 {
        format!("{} min {} sec", ms / 60_000, (ms % 60_000) / 1000)
    } else if ms >= 10_000 {
        format!("{} sec", ms / 1000)
    } else {
        #[allow(clippy::cast_precision_loss)]
        let secs = ms as f64 / 1000.0;
        format!("{secs:.1} sec")
    }
}

impl QueueItemModel<'_> {
    fn parts(&self) -> (&Ctx<'_>, &QueueItem) {
        match self {
            QueueItemModel::Queued { ctx, item } => (ctx, item),
            QueueItemModel::Left { ctx, left } => (ctx, &left.item),
        }
    }
}

impl Model for QueueItemModel<'_> {
    fn class(&self) -> Option<&str> {
        Some(match self {
            QueueItemModel::Left { .. } => "hudson.model.Queue$LeftItem",
            QueueItemModel::Queued { item, .. } => match item.state {
                QueueState::Waiting => "hudson.model.Queue$WaitingItem",
                QueueState::Blocked => "hudson.model.Queue$BlockedItem",
                QueueState::Buildable { .. } => "hudson.model.Queue$BuildableItem",
            },
        })
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        // Every queue item exports these, in this order; each state adds its own after them.
        macro_rules! queue_item_fields {
            ($($extra:literal),*) => {
                &[
                    ("actions", 1),
                    ("blocked", 1),
                    ("buildable", 1),
                    ("id", 1),
                    ("inQueueSince", 1),
                    ("params", 1),
                    ("stuck", 1),
                    ("task", 1),
                    ("url", 1),
                    ("why", 1),
                    $(($extra, 1),)*
                ]
            };
        }
        match self {
            QueueItemModel::Left { .. } => queue_item_fields!("cancelled", "executable"),
            QueueItemModel::Queued { item, .. } => match item.state {
                QueueState::Waiting => queue_item_fields!("timestamp"),
                QueueState::Blocked => queue_item_fields!(),
                QueueState::Buildable { .. } => {
                    queue_item_fields!("buildableStartMilliseconds", "pending")
                }
            },
        }
    }
    fn get(&self, name: &str) -> V<'_> {
        let (ctx, item) = self.parts();
        let st = ctx.st;
        match name {
            "actions" => actions(item.params.as_deref(), &item.cause),
            "blocked" => V::Bool(matches!(
                self,
                QueueItemModel::Queued { item, .. } if item.state == QueueState::Blocked
            )),
            "buildable" => V::Bool(matches!(
                self,
                QueueItemModel::Queued { item, .. } if matches!(item.state, QueueState::Buildable { .. })
            )),
            "id" => V::Int(i64::try_from(item.id).unwrap_or(0)),
            "inQueueSince" => V::Int(i64::try_from(item.in_queue_since).unwrap_or(0)),
            "params" => V::str(
                item.params
                    .iter()
                    .flatten()
                    .map(|p| format!("\n{}={}", p.name, p.value.text()))
                    .collect::<String>(),
            ),
            "stuck" => V::Bool(false),
            "task" => V::obj(ItemModel { ctx, id: item.job }),
            "url" => V::str(format!("queue/item/{}/", item.id)),
            "why" => match self {
                QueueItemModel::Left { .. } => V::Null,
                QueueItemModel::Queued { item, .. } => V::str(match item.state {
                    QueueState::Waiting => format!(
                        "In the quiet period. Expires in {}",
                        time_span(item.due.saturating_sub(ctx.now))
                    ),
                    QueueState::Blocked => {
                        let running = st.items[item.job]
                            .job
                            .as_ref()
                            .and_then(|j| j.builds.values().rev().find(|b| b.building()));
                        match running {
                            Some(b) => format!(
                                "Build #{} is already in progress (ETA: {})",
                                b.number,
                                time_span(
                                    (b.start_ms + b.planned.duration_ms).saturating_sub(ctx.now)
                                )
                            ),
                            None => "Build is already in progress".to_owned(),
                        }
                    }
                    QueueState::Buildable { .. } => {
                        "Waiting for next available executor".to_owned()
                    }
                }),
            },
            "timestamp" => V::Int(i64::try_from(item.due).unwrap_or(0)),
            "buildableStartMilliseconds" => match item.state {
                QueueState::Buildable { since } => V::Int(i64::try_from(since).unwrap_or(0)),
                _ => V::Null,
            },
            "pending" => V::Bool(false),
            "cancelled" => match self {
                QueueItemModel::Left { left, .. } => V::Bool(left.cancelled),
                QueueItemModel::Queued { .. } => V::Null,
            },
            "executable" => match self {
                QueueItemModel::Left { left, .. } => {
                    V::opt_obj(left.executable.map(|number| BuildModel {
                        ctx,
                        job: item.job,
                        number,
                    }))
                }
                QueueItemModel::Queued { .. } => V::Null,
            },
            _ => V::Null,
        }
    }
}

pub struct QueueModel<'a> {
    pub ctx: &'a Ctx<'a>,
}

impl Model for QueueModel<'_> {
    fn class(&self) -> Option<&str> {
        Some("hudson.model.Queue")
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        &[("discoverableItems", 1), ("items", 1)]
    }
    fn inline(&self, name: &str) -> bool {
        name == "items"
    }
    fn get(&self, name: &str) -> V<'_> {
        let ctx = self.ctx;
        match name {
            "items" => V::List(
                ctx.st
                    .queue
                    .values()
                    .filter(|q| ctx.who.can_see(ctx.st, q.job))
                    .map(|item| V::obj(QueueItemModel::Queued { ctx, item }))
                    .collect(),
            ),
            _ => V::List(Vec::new()),
        }
    }
}

pub struct WhoAmI {
    pub name: String,
    pub anonymous: bool,
}

impl Model for WhoAmI {
    fn class(&self) -> Option<&str> {
        Some("hudson.security.WhoAmI")
    }
    fn properties(&self) -> &'static [(&'static str, i32)] {
        &[
            ("anonymous", 1),
            ("authenticated", 1),
            ("authorities", 1),
            ("name", 1),
        ]
    }
    fn get(&self, name: &str) -> V<'_> {
        match name {
            "anonymous" => V::Bool(self.anonymous),
            // Jenkins reports anonymous as authenticated too (Spring's anonymous token).
            "authenticated" => V::Bool(true),
            "authorities" => V::List(vec![V::str(if self.anonymous {
                "anonymous"
            } else {
                "authenticated"
            })]),
            "name" => V::str(self.name.clone()),
            _ => V::Null,
        }
    }
}
