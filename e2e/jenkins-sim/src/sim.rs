//! The simulated controller: the item tree, the queue, the executors and the builds.
//!
//! All state sits behind one mutex. Time-driven changes (a quiet period ending, a build
//! finishing) happen in [`State::advance`], which the scheduler task calls at each deadline and
//! every request calls before reading, so answers are always consistent with the clock.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{
    BranchConfig, BuildConfig, BuildResult, Config, GenerateConfig, ItemConfig, ItemKind,
    ParamConfig, Permission,
};

pub type ItemId = usize;

/// A monotonic clock in epoch milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_epoch_ms: u64,
    base: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        let base_epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        Clock {
            base_epoch_ms,
            base: Instant::now(),
        }
    }
    pub fn now(&self) -> u64 {
        self.base_epoch_ms + u64::try_from(self.base.elapsed().as_millis()).unwrap_or(0)
    }
    /// The `Instant` at which the clock reads `ms`.
    pub fn instant_at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms.saturating_sub(self.base_epoch_ms))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub kind: ItemKind,
    pub parent: Option<ItemId>,
    pub children: Vec<ItemId>,
    pub child_index: HashMap<String, ItemId>,
    pub job: Option<Job>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub disabled: bool,
    pub concurrent: bool,
    pub quiet_period_ms: Option<u64>,
    pub params: Vec<ParamConfig>,
    pub behaviour: BuildConfig,
    pub next_build_number: u32,
    /// By number, oldest first.
    pub builds: BTreeMap<u32, Build>,
}

#[derive(Debug, Clone)]
pub struct Cause {
    pub user_id: Option<String>,
    pub user_name: String,
}

impl Cause {
    pub fn short_description(&self) -> String {
        format!("Started by user {}", self.user_name)
    }
}

/// A parameter value as given to a build: (definition type, name, value).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamValue {
    pub name: String,
    pub value: ParamVal,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamVal {
    String(String),
    Text(String),
    Boolean(bool),
    /// Never shown by the API; a build's log shows it only if its steps print it.
    Password(String),
}

impl ParamVal {
    pub fn class(&self) -> &'static str {
        match self {
            ParamVal::String(_) => "hudson.model.StringParameterValue",
            ParamVal::Text(_) => "hudson.model.TextParameterValue",
            ParamVal::Boolean(_) => "hudson.model.BooleanParameterValue",
            ParamVal::Password(_) => "hudson.model.PasswordParameterValue",
        }
    }
    pub fn json(&self) -> serde_json::Value {
        match self {
            ParamVal::String(s) | ParamVal::Text(s) => serde_json::Value::String(s.clone()),
            ParamVal::Boolean(b) => serde_json::Value::Bool(*b),
            ParamVal::Password(_) => serde_json::Value::Null,
        }
    }
    pub fn text(&self) -> String {
        match self {
            ParamVal::String(s) | ParamVal::Text(s) | ParamVal::Password(s) => s.clone(),
            ParamVal::Boolean(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Build {
    pub number: u32,
    pub queue_id: u64,
    pub params: Option<Vec<ParamValue>>,
    pub cause: Cause,
    /// Start (epoch ms): Jenkins' `timestamp`.
    pub start_ms: u64,
    pub planned: BuildConfig,
    pub estimated_duration: i64,
    /// `None` while building.
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: BuildResult,
    pub duration_ms: u64,
    /// The whole log, final.
    pub log: String,
}

impl Build {
    pub fn building(&self) -> bool {
        self.outcome.is_none()
    }
    pub fn result(&self) -> Option<BuildResult> {
        self.outcome.as_ref().map(|o| o.result)
    }

    /// The build's log lines, with `${NAME}` replaced by the build's parameter values (as a
    /// step that echoes its environment would print them).
    fn lines(&self, kind: ItemKind) -> Vec<String> {
        let lines = match &self.planned.log {
            Some(lines) => lines.clone(),
            None => default_log(kind),
        };
        let Some(params) = &self.params else {
            return lines;
        };
        lines
            .into_iter()
            .map(|line| {
                params.iter().fold(line, |line, param| {
                    line.replace(&format!("${{{}}}", param.name), &param.value.text())
                })
            })
            .collect()
    }

    fn header(&self, kind: ItemKind) -> String {
        let mut s = format!("{}\n", self.cause.short_description());
        if kind == ItemKind::Pipeline {
            s.push_str("[Pipeline] Start of Pipeline\n");
        } else {
            s.push_str("Running as SYSTEM\nBuilding in workspace /var/jenkins_home/workspace\n");
        }
        s
    }

    /// The log as it is at `now`: the header, then the lines whose time has come (line i of
    /// n appears at (i+1)/(n+1) of the duration), then, once finished, the footer.
    pub fn log_at(&self, kind: ItemKind, now: u64) -> String {
        if let Some(o) = &self.outcome {
            return o.log.clone();
        }
        let lines = self.lines(kind);
        let elapsed = now.saturating_sub(self.start_ms);
        let n = lines.len() as u64;
        let shown = match (elapsed * (n + 1)).checked_div(self.planned.duration_ms) {
            None => lines.len(),
            Some(k) => usize::try_from(k.min(n)).unwrap_or(0),
        };
        let mut s = self.header(kind);
        for line in lines.iter().take(shown) {
            s.push_str(line);
            s.push('\n');
        }
        s
    }

    fn finish(
        &mut self,
        kind: ItemKind,
        result: BuildResult,
        end_ms: u64,
        aborted_by: Option<&str>,
    ) {
        let mut log = if aborted_by.is_some() {
            self.log_at(kind, end_ms)
        } else {
            let mut s = self.header(kind);
            for line in self.lines(kind) {
                s.push_str(&line);
                s.push('\n');
            }
            s
        };
        if let Some(user) = aborted_by {
            log.push_str(&format!("Aborted by {user}\n"));
        }
        if kind == ItemKind::Pipeline {
            log.push_str("[Pipeline] End of Pipeline\n");
        }
        log.push_str(&format!("Finished: {}\n", result.as_str()));
        self.outcome = Some(Outcome {
            result,
            duration_ms: end_ms.saturating_sub(self.start_ms),
            log,
        });
    }
}

fn default_log(kind: ItemKind) -> Vec<String> {
    match kind {
        ItemKind::Pipeline => vec![
            "[Pipeline] node".to_owned(),
            "Running on Jenkins in /var/jenkins_home/workspace".to_owned(),
            "[Pipeline] {".to_owned(),
            "[Pipeline] stage".to_owned(),
            "[Pipeline] { (Build)".to_owned(),
            "+ make build".to_owned(),
            "[Pipeline] }".to_owned(),
            "[Pipeline] // stage".to_owned(),
            "[Pipeline] }".to_owned(),
            "[Pipeline] // node".to_owned(),
        ],
        ItemKind::Maven => vec![
            "[INFO] Scanning for projects...".to_owned(),
            "[INFO] Building app 1.0-SNAPSHOT".to_owned(),
            "[INFO] BUILD SUCCESS".to_owned(),
        ],
        _ => vec![
            "[workspace] $ /bin/sh -xe /tmp/jenkins0.sh".to_owned(),
            "+ make test".to_owned(),
            "ok".to_owned(),
        ],
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueueState {
    /// In the quiet period.
    Waiting,
    /// Another build of a non-concurrent job is running.
    Blocked,
    /// Waiting for an executor (since).
    Buildable { since: u64 },
}

#[derive(Debug, Clone)]
pub struct QueueItem {
    pub id: u64,
    pub job: ItemId,
    pub params: Option<Vec<ParamValue>>,
    pub cause: Cause,
    pub in_queue_since: u64,
    /// End of the quiet period (epoch ms).
    pub due: u64,
    pub state: QueueState,
}

#[derive(Debug, Clone)]
pub struct LeftItem {
    pub item: QueueItem,
    pub left_at: u64,
    pub cancelled: bool,
    pub executable: Option<u32>,
}

pub struct User {
    pub id: String,
    pub full_name: String,
    pub password: Option<String>,
    pub tokens: Vec<String>,
    pub permissions: Vec<Permission>,
    pub grants: Vec<(Vec<String>, Vec<Permission>)>,
}

pub struct State {
    pub cfg: Config,
    pub clock: Clock,
    pub items: Vec<Item>,
    pub root_children: Vec<ItemId>,
    pub root_index: HashMap<String, ItemId>,
    pub queue: BTreeMap<u64, QueueItem>,
    /// Running builds (job, number), in start order.
    pub running: Vec<(ItemId, u32)>,
    pub left: HashMap<u64, LeftItem>,
    pub next_queue_id: u64,
    pub users: Vec<User>,
    /// Random per-start secret: the crumb salt.
    pub secret: [u8; 32],
}

/// The name Jenkins' branch API gives a branch job: the branch name with characters
/// unsafe in an item name percent-encoded (`feature/x` → `feature%2Fx`), so its URL segment
/// reads `feature%252Fx`. The display name stays `feature/x`. (docs/jenkins.md §9: not verified.)
pub fn branch_item_name(branch: &str) -> String {
    let mut out = String::new();
    for c in branch.chars() {
        if c.is_ascii_alphanumeric() || "-_. ".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

impl State {
    pub fn new(cfg: Config, secret: [u8; 32]) -> Result<State, String> {
        let users = cfg
            .users
            .iter()
            .map(|u| User {
                id: u.name.clone(),
                full_name: u.full_name.clone().unwrap_or_else(|| u.name.clone()),
                password: u.password.clone(),
                tokens: u.tokens.clone(),
                permissions: u.permissions.clone(),
                grants: u
                    .grants
                    .iter()
                    .map(|(path, perms)| {
                        (
                            path.split('/')
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned)
                                .collect(),
                            perms.clone(),
                        )
                    })
                    .collect(),
            })
            .collect();
        let clock = Clock::new();
        let mut st = State {
            next_queue_id: cfg.first_queue_id,
            cfg: cfg.clone(),
            clock,
            items: Vec::new(),
            root_children: Vec::new(),
            root_index: HashMap::new(),
            queue: BTreeMap::new(),
            running: Vec::new(),
            left: HashMap::new(),
            users,
            secret,
        };
        for item in &cfg.jobs {
            st.add_config_item(None, item)?;
        }
        if let Some(g) = &cfg.generate {
            st.generate(g)?;
        }
        Ok(st)
    }

    fn add_item(&mut self, parent: Option<ItemId>, mut item: Item) -> Result<ItemId, String> {
        if item.name.is_empty() || item.name.contains('/') || item.name == "." || item.name == ".."
        {
            return Err(format!("invalid item name {:?}", item.name));
        }
        let id = self.items.len();
        item.parent = parent;
        let name = item.name.clone();
        let index = match parent {
            Some(p) => &mut self.items[p].child_index,
            None => &mut self.root_index,
        };
        if index.insert(name.clone(), id).is_some() {
            return Err(format!("duplicate item name {name:?}"));
        }
        match parent {
            Some(p) => self.items[p].children.push(id),
            None => self.root_children.push(id),
        }
        self.items.push(item);
        Ok(id)
    }

    fn new_job(
        &self,
        kind: ItemKind,
        name: String,
        display_name: Option<String>,
        description: Option<String>,
        job: JobSpec,
    ) -> Item {
        let now = self.clock.now();
        let mut builds = BTreeMap::new();
        let count = job.history.len() as u64;
        for (i, result) in job.history.iter().enumerate() {
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let start = now.saturating_sub((count - i as u64) * 3_600_000);
            let mut b = Build {
                number,
                queue_id: 0,
                params: None,
                cause: Cause {
                    user_id: None,
                    user_name: "anonymous".to_owned(),
                },
                start_ms: start,
                planned: job.behaviour.clone(),
                estimated_duration: -1,
                outcome: None,
            };
            b.finish(kind, *result, start + job.behaviour.duration_ms, None);
            builds.insert(number, b);
        }
        Item {
            name,
            display_name,
            description,
            kind,
            parent: None,
            children: Vec::new(),
            child_index: HashMap::new(),
            job: Some(Job {
                disabled: job.disabled,
                concurrent: job.concurrent.unwrap_or(kind == ItemKind::Pipeline),
                quiet_period_ms: job.quiet_period_ms,
                params: job.params,
                behaviour: job.behaviour,
                next_build_number: u32::try_from(job.history.len() + 1).unwrap_or(u32::MAX),
                builds,
            }),
        }
    }

    fn container(kind: ItemKind, c: &ItemConfig) -> Item {
        Item {
            name: c.name.clone(),
            display_name: c.display_name.clone(),
            description: c.description.clone(),
            kind,
            parent: None,
            children: Vec::new(),
            child_index: HashMap::new(),
            job: None,
        }
    }

    fn add_config_item(&mut self, parent: Option<ItemId>, c: &ItemConfig) -> Result<(), String> {
        let where_ = &c.name;
        let kind = c.kind;
        if kind.is_container() {
            if !c.parameters.is_empty() || !c.history.is_empty() || c.disabled {
                return Err(format!(
                    "{where_}: a {kind:?} has no parameters, history or disabled flag"
                ));
            }
            let id = self.add_item(parent, Self::container(kind, c))?;
            match kind {
                ItemKind::Multibranch => {
                    if !c.jobs.is_empty() {
                        return Err(format!(
                            "{where_}: a multibranch project has `branches`, not `jobs`"
                        ));
                    }
                    for b in &c.branches {
                        let (name, spec) = match b {
                            BranchConfig::Name(n) => (
                                n.clone(),
                                JobSpec {
                                    behaviour: c.build.clone().unwrap_or_default(),
                                    ..JobSpec::default()
                                },
                            ),
                            BranchConfig::Detailed(d) => (
                                d.name.clone(),
                                JobSpec {
                                    behaviour: d
                                        .build
                                        .clone()
                                        .or_else(|| c.build.clone())
                                        .unwrap_or_default(),
                                    params: d.parameters.clone(),
                                    history: d.history.clone(),
                                    disabled: d.disabled,
                                    ..JobSpec::default()
                                },
                            ),
                        };
                        let item_name = branch_item_name(&name);
                        let display = (item_name != name).then_some(name);
                        let item = self.new_job(ItemKind::Pipeline, item_name, display, None, spec);
                        self.add_item(Some(id), item)?;
                    }
                }
                ItemKind::OrganizationFolder => {
                    if !c.branches.is_empty() {
                        return Err(format!(
                            "{where_}: an organization folder has `jobs` (multibranch projects)"
                        ));
                    }
                    for child in &c.jobs {
                        if child.kind != ItemKind::Multibranch {
                            return Err(format!(
                                "{where_}/{}: an organization folder holds multibranch projects only",
                                child.name
                            ));
                        }
                        self.add_config_item(Some(id), child)?;
                    }
                }
                _ => {
                    if !c.branches.is_empty() {
                        return Err(format!("{where_}: a folder has `jobs`, not `branches`"));
                    }
                    for child in &c.jobs {
                        self.add_config_item(Some(id), child)?;
                    }
                }
            }
        } else {
            if !c.jobs.is_empty() || !c.branches.is_empty() {
                return Err(format!("{where_}: a {kind:?} job has no children"));
            }
            for p in &c.parameters {
                if let ParamConfig::Choice { choices, name, .. } = p
                    && choices.is_empty()
                {
                    return Err(format!("{where_}: choice parameter {name} has no choices"));
                }
            }
            let item = self.new_job(
                kind,
                c.name.clone(),
                c.display_name.clone(),
                c.description.clone(),
                JobSpec {
                    behaviour: c.build.clone().unwrap_or_default(),
                    params: c.parameters.clone(),
                    history: c.history.clone(),
                    disabled: c.disabled,
                    concurrent: c.concurrent,
                    quiet_period_ms: c.quiet_period_ms,
                },
            );
            self.add_item(parent, item)?;
        }
        Ok(())
    }

    fn generate(&mut self, g: &GenerateConfig) -> Result<(), String> {
        let mut counter = 0u64;
        let mut add_jobs = |st: &mut State, parent: Option<ItemId>, n: u32| -> Result<(), String> {
            for j in 0..n {
                counter += 1;
                let kind = if counter.is_multiple_of(2) {
                    ItemKind::Pipeline
                } else {
                    ItemKind::Freestyle
                };
                let result = match counter % 3 {
                    0 => BuildResult::Success,
                    1 => BuildResult::Failure,
                    _ => BuildResult::Unstable,
                };
                let item = st.new_job(
                    kind,
                    format!("{}-job-{}", g.prefix, j + 1),
                    None,
                    None,
                    JobSpec {
                        behaviour: BuildConfig {
                            duration_ms: 1_000,
                            ..BuildConfig::default()
                        },
                        history: vec![result],
                        ..JobSpec::default()
                    },
                );
                st.add_item(parent, item)?;
            }
            Ok(())
        };
        add_jobs(self, None, g.root_jobs)?;
        // Breadth-first: (parent, level).
        let mut frontier: Vec<Option<ItemId>> = vec![None];
        for level in 1..=g.folders_depth {
            let mut next = Vec::new();
            for parent in frontier {
                for f in 0..g.folders_per_level {
                    let folder = Item {
                        name: format!("{}-f{}-{}", g.prefix, level, f + 1),
                        display_name: None,
                        description: None,
                        kind: ItemKind::Folder,
                        parent: None,
                        children: Vec::new(),
                        child_index: HashMap::new(),
                        job: None,
                    };
                    let id = self.add_item(parent, folder)?;
                    add_jobs(self, Some(id), g.jobs_per_folder)?;
                    next.push(Some(id));
                }
            }
            frontier = next;
        }
        Ok(())
    }

    /// Jobs reachable from the root (items deleted at runtime stay in the arena, detached).
    pub fn job_count(&self) -> usize {
        let mut count = 0;
        let mut stack: Vec<ItemId> = self.root_children.clone();
        while let Some(id) = stack.pop() {
            if self.items[id].job.is_some() {
                count += 1;
            }
            stack.extend(self.items[id].children.iter().copied());
        }
        count
    }

    /// The item at `full_name` (`a/b/c`); `""` is the root (`None`).
    pub fn find(&self, full_name: &str) -> Result<Option<ItemId>, String> {
        let mut cur = None;
        for name in full_name.split('/').filter(|s| !s.is_empty()) {
            cur = Some(
                self.child(cur, name)
                    .ok_or_else(|| format!("no item {full_name:?}"))?,
            );
        }
        Ok(cur)
    }

    /// Creates items under the folder `parent` (`""` for the root), as creating them in
    /// Jenkins would. Only folders and the root take arbitrary items; an organization folder
    /// takes multibranch projects.
    pub fn add_items(&mut self, parent: &str, items: &[ItemConfig]) -> Result<(), String> {
        let parent_id = self.find(parent)?;
        if let Some(p) = parent_id {
            let kind = self.items[p].kind;
            let fits = match kind {
                ItemKind::Folder => true,
                ItemKind::OrganizationFolder => {
                    items.iter().all(|i| i.kind == ItemKind::Multibranch)
                }
                _ => false,
            };
            if !fits {
                return Err(format!("{parent:?} ({kind:?}) cannot hold these items"));
            }
        }
        for item in items {
            self.add_config_item(parent_id, item)?;
        }
        Ok(())
    }

    /// Deletes an item and everything below it, as Jenkins' `doDelete`: its queue items are
    /// cancelled and its running builds stop counting. The item stays in the arena, detached
    /// (ids of other items do not move), so left queue items that point at it still render.
    pub fn remove_item(&mut self, full_name: &str, now: u64) -> Result<(), String> {
        let id = self
            .find(full_name)?
            .ok_or_else(|| "the root cannot be removed".to_owned())?;
        let name = self.items[id].name.clone();
        match self.items[id].parent {
            Some(p) => {
                self.items[p].children.retain(|&c| c != id);
                self.items[p].child_index.remove(&name);
            }
            None => {
                self.root_children.retain(|&c| c != id);
                self.root_index.remove(&name);
            }
        }
        let mut subtree = vec![id];
        let mut i = 0;
        while i < subtree.len() {
            subtree.extend(self.items[subtree[i]].children.iter().copied());
            i += 1;
        }
        let queued: Vec<u64> = self
            .queue
            .values()
            .filter(|q| subtree.contains(&q.job))
            .map(|q| q.id)
            .collect();
        for qid in queued {
            self.cancel_queue_item(qid, now);
        }
        self.running.retain(|(job, _)| !subtree.contains(job));
        Ok(())
    }

    /// Forgets every left queue item now, as Jenkins does after a few minutes or a restart.
    pub fn forget_left_items(&mut self) {
        self.left.clear();
    }

    /// The names from the root down to `id`.
    pub fn path(&self, id: ItemId) -> Vec<&str> {
        let mut names = Vec::new();
        let mut cur = Some(id);
        while let Some(i) = cur {
            names.push(self.items[i].name.as_str());
            cur = self.items[i].parent;
        }
        names.reverse();
        names
    }

    pub fn full_name(&self, id: ItemId) -> String {
        self.path(id).join("/")
    }

    pub fn display_name(&self, id: ItemId) -> String {
        let it = &self.items[id];
        it.display_name.clone().unwrap_or_else(|| it.name.clone())
    }

    pub fn full_display_name(&self, id: ItemId) -> String {
        let mut names = Vec::new();
        let mut cur = Some(id);
        while let Some(i) = cur {
            names.push(self.display_name(i));
            cur = self.items[i].parent;
        }
        names.reverse();
        names.join(" » ")
    }

    /// `job/a/job/b/` relative to the root URL, names percent-encoded.
    pub fn rel_url(&self, id: ItemId) -> String {
        let mut s = String::new();
        for name in self.path(id) {
            s.push_str("job/");
            s.push_str(&crate::http::encode_segment(name));
            s.push('/');
        }
        s
    }

    pub fn child(&self, parent: Option<ItemId>, name: &str) -> Option<ItemId> {
        match parent {
            Some(p) => self.items[p].child_index.get(name).copied(),
            None => self.root_index.get(name).copied(),
        }
    }

    pub fn children(&self, parent: Option<ItemId>) -> &[ItemId] {
        match parent {
            Some(p) => &self.items[p].children,
            None => &self.root_children,
        }
    }

    /// The oldest running build of a job.
    pub fn job_building(&self, id: ItemId) -> Option<&Build> {
        let (_, number) = self.running.iter().find(|(j, _)| *j == id)?;
        self.items[id].job.as_ref()?.builds.get(number)
    }

    /// Applies everything due at `now`. Returns the next deadline (epoch ms), if any.
    pub fn advance(&mut self, now: u64) -> Option<u64> {
        // 1. Builds whose time is up finish (at their planned end, not at `now`).
        let mut still = Vec::with_capacity(self.running.len());
        for &(job, number) in &self.running {
            let kind = self.items[job].kind;
            let Some(b) = self.items[job]
                .job
                .as_mut()
                .and_then(|j| j.builds.get_mut(&number))
            else {
                continue;
            };
            if b.outcome.is_some() {
                continue;
            }
            let end = b.start_ms + b.planned.duration_ms;
            if end <= now {
                let result = b.planned.result;
                b.finish(kind, result, end, None);
            } else {
                still.push((job, number));
            }
        }
        self.running = still;
        let mut running = self.running.len();
        // 2. Queue items: quiet period, blockage, executors.
        let ids: Vec<u64> = self.queue.keys().copied().collect();
        let executors = self.cfg.executors as usize;
        for qid in ids {
            let Some(qi) = self.queue.get(&qid).cloned() else {
                continue;
            };
            if now < qi.due {
                continue;
            }
            let job_id = qi.job;
            let concurrent = self.items[job_id]
                .job
                .as_ref()
                .is_some_and(|j| j.concurrent);
            let new_state = if !concurrent && self.job_building(job_id).is_some() {
                QueueState::Blocked
            } else if running >= executors {
                match qi.state {
                    QueueState::Buildable { since } => QueueState::Buildable { since },
                    _ => QueueState::Buildable { since: now },
                }
            } else {
                // Start the build.
                let number = self.start_build(&qi, now);
                running += 1;
                self.queue.remove(&qid);
                self.left.insert(
                    qid,
                    LeftItem {
                        item: qi,
                        left_at: now,
                        cancelled: false,
                        executable: Some(number),
                    },
                );
                continue;
            };
            if let Some(q) = self.queue.get_mut(&qid) {
                q.state = new_state;
            }
        }
        // 3. Forget old left items.
        let ttl = self.cfg.left_item_ttl_ms;
        self.left.retain(|_, l| now.saturating_sub(l.left_at) < ttl);
        // Next deadline.
        let mut next: Option<u64> = None;
        let mut consider = |t: u64| next = Some(next.map_or(t, |n: u64| n.min(t)));
        for q in self.queue.values() {
            if q.state == QueueState::Waiting {
                consider(q.due);
            }
        }
        for &(job, number) in &self.running {
            if let Some(b) = self.items[job]
                .job
                .as_ref()
                .and_then(|j| j.builds.get(&number))
            {
                consider(b.start_ms + b.planned.duration_ms);
            }
        }
        next
    }

    fn start_build(&mut self, qi: &QueueItem, now: u64) -> u32 {
        let estimated = self.estimated_duration(qi.job);
        let Some(job) = self.items[qi.job].job.as_mut() else {
            return 0;
        };
        let number = job.next_build_number;
        job.next_build_number += 1;
        job.builds.insert(
            number,
            Build {
                number,
                queue_id: qi.id,
                params: qi.params.clone(),
                cause: qi.cause.clone(),
                start_ms: now,
                planned: job.behaviour.clone(),
                estimated_duration: estimated,
                outcome: None,
            },
        );
        self.running.push((qi.job, number));
        number
    }

    /// Jenkins: the mean of the last three successful (else any completed) builds, or -1.
    pub fn estimated_duration(&self, id: ItemId) -> i64 {
        let Some(job) = &self.items[id].job else {
            return -1;
        };
        let pick = |ok: &dyn Fn(BuildResult) -> bool| -> Vec<u64> {
            job.builds
                .values()
                .rev()
                .filter_map(|b| b.outcome.as_ref())
                .filter(|o| ok(o.result))
                .take(3)
                .map(|o| o.duration_ms)
                .collect()
        };
        let mut d = pick(&|r| matches!(r, BuildResult::Success | BuildResult::Unstable));
        if d.is_empty() {
            d = pick(&|r| r != BuildResult::Aborted);
        }
        if d.is_empty() {
            return -1;
        }
        i64::try_from(d.iter().sum::<u64>() / d.len() as u64).unwrap_or(-1)
    }

    /// Schedules a build. Like Jenkins' queue, a second request for a job with the same
    /// parameters while one is still queued returns the queued item (its quiet period
    /// shortened if the new request's is shorter). Returns the queue id.
    pub fn schedule(
        &mut self,
        job: ItemId,
        params: Option<Vec<ParamValue>>,
        cause: Cause,
        quiet_ms: u64,
        now: u64,
    ) -> u64 {
        let due = now + quiet_ms;
        if let Some(existing) = self
            .queue
            .values_mut()
            .find(|q| q.job == job && q.params == params)
        {
            if due < existing.due {
                existing.due = due;
            }
            return existing.id;
        }
        let id = self.next_queue_id;
        self.next_queue_id += 1;
        self.queue.insert(
            id,
            QueueItem {
                id,
                job,
                params,
                cause,
                in_queue_since: now,
                due,
                state: QueueState::Waiting,
            },
        );
        id
    }

    pub fn cancel_queue_item(&mut self, id: u64, now: u64) -> bool {
        match self.queue.remove(&id) {
            Some(item) => {
                self.left.insert(
                    id,
                    LeftItem {
                        item,
                        left_at: now,
                        cancelled: true,
                        executable: None,
                    },
                );
                true
            }
            None => false,
        }
    }

    /// Aborts a running build now.
    pub fn stop_build(&mut self, job: ItemId, number: u32, by: &str, now: u64) {
        let kind = self.items[job].kind;
        if let Some(b) = self.items[job]
            .job
            .as_mut()
            .and_then(|j| j.builds.get_mut(&number))
            && b.building()
        {
            b.finish(kind, BuildResult::Aborted, now.max(b.start_ms), Some(by));
        }
        self.running.retain(|&(j, n)| (j, n) != (job, number));
    }
}

#[derive(Default)]
struct JobSpec {
    behaviour: BuildConfig,
    params: Vec<ParamConfig>,
    history: Vec<BuildResult>,
    disabled: bool,
    concurrent: Option<bool>,
    quiet_period_ms: Option<u64>,
}

/// A log as Jenkins 2.516.1 and later stream it in `logText/progressiveText`: each console
/// note encoded in place (`ESC[8mha:////` + base64 + `ESC[0m`) before the text it annotates.
/// Here every line carries one, and the user who started a build one more before the name
/// (a hyperlink note). The notes depend only on the line, so the log keeps its bytes as it
/// grows and offsets stay valid.
pub fn with_console_notes(log: &str) -> String {
    use base64::Engine as _;
    let note = |index: usize, kind: &str| {
        let seed =
            ring::digest::digest(&ring::digest::SHA256, format!("{kind} {index}").as_bytes());
        // Real notes are gzipped, serialized Java objects of a few hundred bytes.
        let payload: Vec<u8> = seed.as_ref().iter().cycle().take(96).copied().collect();
        format!(
            "\u{1b}[8mha:////{}\u{1b}[0m",
            base64::engine::general_purpose::STANDARD.encode(payload)
        )
    };
    let mut out = String::with_capacity(log.len() * 3);
    for (index, line) in log.split_inclusive('\n').enumerate() {
        out.push_str(&note(index, "line"));
        match line.strip_prefix("Started by user ") {
            Some(user) => {
                out.push_str("Started by user ");
                out.push_str(&note(index, "HyperlinkNote"));
                out.push_str(user);
            }
            None => out.push_str(line),
        }
    }
    out
}
