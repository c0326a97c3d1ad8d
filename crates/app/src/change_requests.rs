//! Prior discussion and approval: the approval policy and change requests — open, revise,
//! discuss, review (four eyes), withdraw, dry-run, expire — with every rule in one place.
//!
//! The store runs each step in one transaction under the request's lock and asks
//! [`decide`]-style closures here what to do with what it read, so a rule is applied to the
//! state it is written against: two approvers racing never apply a change twice.

use std::collections::{BTreeMap, BTreeSet};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use switchboard_connectors::Target;
use switchboard_domain::audit::actions;
use switchboard_domain::change_request::{
    ApprovalPolicy, ChangeKind, ChangeRequest, ChangeRequestPage, ChangeRequestSummary, Discussion,
    DryRun, NewComment, NewReview, OpenChangeRequest, Permission, PolicySettings, RequestActions,
    RequestState, ReviewDecision, ReviseChangeRequest, Side, TimelineKind, ToolProposal,
    UpdateApprovalPolicyRequest, diff,
};
use switchboard_domain::ids::ChangeRequestId;
use switchboard_domain::integration::{
    CreateIntegrationRequest, IntegrationDraft, IntegrationPatch, UpdateIntegrationRequest,
    origin_move,
};
use switchboard_domain::tools::{APPROVED_TOOLS, ToolSpec, find_tool};
use switchboard_domain::user::Role;
use switchboard_domain::{ErrorCode, FieldErrorCode, ValidationErrors};
use switchboard_store::{
    Actor, Apply, Decided, EventRecord, LiveIntegration, NewAuditEvent, NewEvent, NewRequest,
    Outcome, Proposal, RequestQuery, RequestRecord, Revision, Situation, StoreError,
    StoredCredential,
};

use crate::audit::{SecretUse, check_result};
use crate::paging::{after, encode_cursor, page_size};
use crate::tooling::{SAVE_CHECK_BOUND, target_of};
use crate::{AppError, AppResult, Principal, Switchboard, blocking};

/// Live pipelines a dry run names as disappearing, at most.
const DISAPPEARING_SHOWN: usize = 50;

/// `GET /api/v1/change-requests`'s query, as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct ListChangeRequests {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    /// `me`: only the caller's requests.
    pub author: Option<String>,
    /// `me`: only the open requests the caller may still review.
    pub reviewable_by: Option<String>,
}

/// What a change that may need approval came to: applied at once, or a request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", content = "value", rename_all = "snake_case")]
pub enum Submitted<T> {
    Applied(T),
    Requested(Box<ChangeRequest>),
}

fn refused(code: ErrorCode, detail: impl Into<String>) -> StoreError {
    StoreError::Refused {
        code,
        detail: detail.into(),
    }
}

fn invalid(field: &str, code: FieldErrorCode, message: impl Into<String>) -> StoreError {
    StoreError::Invalid(ValidationErrors::single(field, code, message))
}

fn actor(by: &Principal) -> Actor {
    Actor {
        id: by.id.clone(),
        name: by.username.clone(),
        audit: by.actor(),
    }
}

fn business_need(raw: &str) -> Result<Discussion, ValidationErrors> {
    Discussion::parse(raw).map_err(|(code, message)| {
        ValidationErrors::single(
            "business_need",
            code,
            format!("Why is it needed? {message}"),
        )
    })
}

fn malformed_change(kind: ChangeKind, err: &serde_json::Error) -> ValidationErrors {
    ValidationErrors::single(
        "change",
        FieldErrorCode::InvalidFormat,
        format!(
            "not a valid change for {}: {}",
            kind.as_str(),
            without_values(err)
        ),
    )
}

/// A serde error's message with every quoted value left out: a change can hold secrets, and
/// serde quotes the value it could not take (`invalid type: string "…"`).
fn without_values(err: &serde_json::Error) -> String {
    let mut shown = String::new();
    let mut quoted = false;
    for c in err.to_string().chars() {
        if c == '"' {
            if !quoted {
                shown.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            shown.push(c);
        }
    }
    shown
}

/// The body without secret values, and the secret values apart.
fn split_secrets(
    tool: &ToolSpec,
    mut change: Value,
    credentials: &BTreeMap<String, Option<String>>,
) -> Proposal {
    let mut secret_changes = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for (key, value) in credentials {
        if !tool.credential_field(key).is_some_and(|field| field.secret) {
            continue;
        }
        if let Some(map) = change.get_mut("credentials").and_then(Value::as_object_mut) {
            map.remove(key);
        }
        match value {
            Some(value) => {
                secret_changes.insert(key.clone(), "set".to_owned());
                secrets.insert(key.clone(), SecretString::from(value.clone()));
            }
            None => {
                secret_changes.insert(key.clone(), "clear".to_owned());
            }
        }
    }
    if let Some(object) = change.as_object_mut() {
        object.remove("business_need");
    }
    Proposal {
        change,
        secret_changes,
        secrets,
    }
}

/// The stored body with its secret values put back.
fn with_secrets(
    change: &Value,
    secret_changes: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, SecretString>,
) -> Value {
    let mut full = change.clone();
    if secret_changes.is_empty() {
        return full;
    }
    if let Some(object) = full.as_object_mut() {
        let credentials = object
            .entry("credentials")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(map) = credentials.as_object_mut() {
            for (key, what) in secret_changes {
                let value = match (what.as_str(), secrets.get(key)) {
                    ("set", Some(secret)) => Value::String(secret.expose_secret().to_owned()),
                    _ => Value::Null,
                };
                map.insert(key.clone(), value);
            }
        }
    }
    full
}

/// A proposed change, checked: what to keep, and for a new integration its draft.
struct Built {
    proposal: Proposal,
    pending: Option<IntegrationDraft>,
    tool: Option<String>,
}

/// The previous revision, whose secrets a new one keeps unless its URLs lead elsewhere.
struct Previous<'a> {
    change: &'a Value,
    secret_changes: &'a BTreeMap<String, String>,
    secrets: &'a BTreeMap<String, SecretString>,
}

fn urls_of(change: &Value) -> Option<BTreeMap<String, String>> {
    serde_json::from_value(change.get("urls")?.clone()).ok()
}

/// Fills the secrets a revision leaves out from the previous revision, unless the tool's
/// URLs now lead to another origin than the previous revision's (a secret goes only where
/// it was entered for).
fn carry_secrets(
    tool: &ToolSpec,
    credentials: &mut BTreeMap<String, Option<String>>,
    new_urls: &BTreeMap<String, String>,
    live_urls: &BTreeMap<String, String>,
    previous: Option<&Previous<'_>>,
) {
    let Some(previous) = previous else { return };
    // Where each revision sends secrets: its own URLs, or (a change that leaves them out)
    // the live ones.
    let before = urls_of(previous.change).unwrap_or_else(|| live_urls.clone());
    let moved = |from: &BTreeMap<String, String>, to: &BTreeMap<String, String>| {
        origin_move(
            tool,
            from,
            to.iter().map(|(key, url)| (key.as_str(), url.as_str())),
        )
        .is_some()
    };
    if moved(&before, new_urls) || moved(new_urls, &before) {
        return;
    }
    for (key, what) in previous.secret_changes {
        if credentials.contains_key(key) {
            continue;
        }
        let value = match what.as_str() {
            "set" => previous
                .secrets
                .get(key)
                .map(|secret| secret.expose_secret().to_owned()),
            _ => None,
        };
        credentials.insert(key.clone(), value);
    }
}

fn approved_tool_names() -> String {
    APPROVED_TOOLS
        .iter()
        .map(|tool| tool.id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses and checks a proposed change of `kind`.
fn build(
    kind: ChangeKind,
    change: &Value,
    create_tool: Option<&'static ToolSpec>,
    live: Option<&LiveIntegration>,
    target_tool: Option<&str>,
    previous: Option<&Previous<'_>>,
) -> Result<Built, StoreError> {
    match kind {
        ChangeKind::CreateIntegration => {
            let mut request: CreateIntegrationRequest = serde_json::from_value(change.clone())
                .map_err(|err| StoreError::Invalid(malformed_change(kind, &err)))?;
            request.business_need = None;
            let tool = match create_tool {
                Some(tool) => tool,
                None => find_tool(&request.tool).ok_or_else(|| {
                    invalid(
                        "tool",
                        FieldErrorCode::NotApproved,
                        format!(
                            "{:?} is not an approved tool; approved tools: {}",
                            request.tool,
                            approved_tool_names()
                        ),
                    )
                })?,
            };
            if let Some(previous) = previous
                && previous.change.get("tool").and_then(Value::as_str) != Some(tool.id)
            {
                return Err(invalid(
                    "tool",
                    FieldErrorCode::InvalidFormat,
                    "a revision cannot change the tool; withdraw the request and open a new one",
                ));
            }
            let urls = request.urls.clone();
            carry_secrets(tool, &mut request.credentials, &urls, &urls, previous);
            let draft = request.parse(tool).map_err(StoreError::Invalid)?;
            let body = serde_json::to_value(&request)
                .map_err(|err| StoreError::Corrupt(err.to_string()))?;
            Ok(Built {
                proposal: split_secrets(tool, body, &request.credentials),
                pending: Some(draft),
                tool: Some(tool.id.to_owned()),
            })
        }
        ChangeKind::UpdateIntegration => {
            let live = live.ok_or(StoreError::NotFound(
                switchboard_store::Subject::Integration,
            ))?;
            if live.pending {
                return Err(StoreError::PendingApproval);
            }
            let mut request: UpdateIntegrationRequest = serde_json::from_value(change.clone())
                .map_err(|err| StoreError::Invalid(malformed_change(kind, &err)))?;
            request.business_need = None;
            let urls = request
                .urls
                .clone()
                .unwrap_or_else(|| live.current.urls.clone());
            carry_secrets(
                live.tool,
                &mut request.credentials,
                &urls,
                &live.current.urls,
                previous,
            );
            request
                .parse(live.tool, &live.current)
                .map_err(StoreError::Invalid)?;
            let body = serde_json::to_value(&request)
                .map_err(|err| StoreError::Corrupt(err.to_string()))?;
            Ok(Built {
                proposal: split_secrets(live.tool, body, &request.credentials),
                pending: None,
                tool: Some(live.tool.id.to_owned()),
            })
        }
        ChangeKind::EnableTool => {
            let tool = target_tool.and_then(find_tool).ok_or_else(|| {
                invalid(
                    "tool",
                    FieldErrorCode::NotApproved,
                    format!("name an approved tool: {}", approved_tool_names()),
                )
            })?;
            Ok(Built {
                proposal: Proposal {
                    change: serde_json::json!({}),
                    secret_changes: BTreeMap::new(),
                    secrets: BTreeMap::new(),
                },
                pending: None,
                tool: Some(tool.id.to_owned()),
            })
        }
        ChangeKind::ProposeTool => {
            let proposal: ToolProposal = serde_json::from_value(change.clone())
                .map_err(|err| StoreError::Invalid(malformed_change(kind, &err)))?;
            let proposal = proposal.parse().map_err(StoreError::Invalid)?;
            if let Some(known) = APPROVED_TOOLS.iter().find(|tool| {
                tool.name.eq_ignore_ascii_case(&proposal.name)
                    || tool.id.eq_ignore_ascii_case(&proposal.name)
            }) {
                return Err(invalid(
                    "change.name",
                    FieldErrorCode::Taken,
                    format!("{} is an approved tool already", known.name),
                ));
            }
            Ok(Built {
                proposal: Proposal {
                    change: serde_json::to_value(&proposal)
                        .map_err(|err| StoreError::Corrupt(err.to_string()))?,
                    secret_changes: BTreeMap::new(),
                    secrets: BTreeMap::new(),
                },
                pending: None,
                tool: None,
            })
        }
        ChangeKind::UpdatePolicy => {
            let mut request: UpdateApprovalPolicyRequest =
                serde_json::from_value(change.clone())
                    .map_err(|err| StoreError::Invalid(malformed_change(kind, &err)))?;
            request.business_need = None;
            request.parse().map_err(StoreError::Invalid)?;
            Ok(Built {
                proposal: Proposal {
                    change: serde_json::to_value(&request)
                        .map_err(|err| StoreError::Corrupt(err.to_string()))?,
                    secret_changes: BTreeMap::new(),
                    secrets: BTreeMap::new(),
                },
                pending: None,
                tool: None,
            })
        }
    }
}

/// Who wrote a revision of the request (its author first).
fn editors(events: &[EventRecord]) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    events
        .iter()
        .filter(|event| event.wrote_revision())
        .filter(|event| seen.insert(event.actor_id.clone()))
        .map(|event| (event.actor_id.clone(), event.entry.actor.clone()))
        .collect()
}

/// Distinct approvers of `revision`.
fn approvers(events: &[EventRecord], revision: i32) -> BTreeSet<String> {
    events
        .iter()
        .filter(|event| {
            event.entry.kind == TimelineKind::Review
                && event.entry.decision == Some(ReviewDecision::Approve)
                && event.entry.revision == revision
        })
        .map(|event| event.actor_id.clone())
        .collect()
}

/// Approvals a request needs now: the policy's count, but never more than the administrators
/// who may approve it exist (a sole administrator's own request needs their one approval
/// with a reason).
fn approvals_needed(
    policy: &ApprovalPolicy,
    admins: &[String],
    editors: &[(String, String)],
) -> u32 {
    let eligible = admins
        .iter()
        .filter(|admin| !editors.iter().any(|(id, _)| id == *admin))
        .count();
    u32::from(policy.approvals_required)
        .min(u32::try_from(eligible).unwrap_or(u32::MAX))
        .max(1)
}

fn is_sole_admin(by: &Principal, admins: &[String]) -> bool {
    admins.len() == 1 && admins[0] == by.id
}

/// What `by` may do with the request now.
fn actions(
    by: &Principal,
    request: &RequestRecord,
    events: &[EventRecord],
    admins: &[String],
) -> RequestActions {
    let editors = editors(events);
    let wrote = editors.iter().any(|(id, _)| *id == by.id);
    let authored = request.author_id == by.id;
    let is_admin = by.role >= Role::Admin;
    let state = request.state;
    let open = state == RequestState::Open;
    let not_open = || {
        Permission::no(format!(
            "The request is {}; only an open request is reviewed",
            state.label().to_lowercase()
        ))
    };
    let you_wrote = if authored {
        "You opened this request"
    } else {
        "You wrote a revision of this request"
    };
    let approve = if !open {
        not_open()
    } else if wrote && is_admin && is_sole_admin(by, admins) {
        Permission::yes().with_comment(Some(
            "You are the only administrator: you may approve your own request with a written reason, recorded as approved by the sole administrator".to_owned(),
        ))
    } else if wrote {
        Permission::no(you_wrote)
    } else if !is_admin {
        Permission::no("Only administrators approve")
    } else if approvers(events, request.revision).contains(&by.id) {
        Permission::no(format!("You approved revision {}", request.revision))
    } else {
        Permission::yes()
    };
    let decide = if !open {
        not_open()
    } else if wrote {
        Permission::no(format!("{you_wrote}: withdraw or revise it instead"))
    } else if !is_admin {
        Permission::no("Only administrators review")
    } else {
        Permission::yes().with_comment(None)
    };
    let revisable = matches!(
        state,
        RequestState::Open | RequestState::ChangesRequested | RequestState::Conflict
    );
    let revise = if !revisable {
        Permission::no(format!("The request is {}", state.label().to_lowercase()))
    } else if authored || is_admin {
        Permission::yes()
    } else {
        Permission::no("Only its author or an administrator writes a revision")
    };
    let withdraw = if state.is_final() {
        Permission::no(format!("The request is {}", state.label().to_lowercase()))
    } else if authored {
        Permission::yes()
    } else {
        Permission::no("Only its author withdraws it")
    };
    let comment = if by.role >= Role::Operator {
        Permission::yes()
    } else {
        Permission::no("Viewers read the discussion; operators and administrators take part")
    };
    let dry_run = if !matches!(
        request.kind,
        ChangeKind::CreateIntegration | ChangeKind::UpdateIntegration
    ) {
        Permission::no("Only integration requests have a dry run")
    } else if state.is_final() {
        Permission::no(format!("The request is {}", state.label().to_lowercase()))
    } else if authored || wrote || is_admin {
        Permission::yes()
    } else {
        Permission::no("Its authors and administrators run it")
    };
    RequestActions {
        approve,
        reject: decide.clone(),
        request_changes: decide,
        revise,
        withdraw,
        comment,
        dry_run,
    }
}

/// The parts of the live integration (or policy, or tool) a diff compares with.
struct LiveSides {
    before: BTreeMap<String, Side>,
}

fn plain(value: impl Into<String>) -> Side {
    Side::Plain(value.into())
}

impl Switchboard {
    /// The approval policy.
    pub async fn approval_policy(&self) -> AppResult<ApprovalPolicy> {
        let store = self.store.clone();
        blocking(move || Ok(store.approval_policy()?)).await
    }

    /// Whether changes need approval now.
    pub(crate) async fn approval_on(&self) -> AppResult<bool> {
        Ok(self.approval_policy().await?.enabled)
    }

    /// Changes the policy (administrators): at once while approval is off, as a change
    /// request while it is on.
    pub async fn update_approval_policy(
        &self,
        by: &Principal,
        expected_version: Option<i64>,
        request: UpdateApprovalPolicyRequest,
    ) -> AppResult<Submitted<ApprovalPolicy>> {
        by.require(Role::Admin)?;
        let settings = request.parse().map_err(AppError::Validation)?;
        let current = self.approval_policy().await?;
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(AppError::VersionMismatch {
                current: current.version,
            });
        }
        if current.enabled {
            let need = request.business_need.clone().unwrap_or_default();
            let change = serde_json::to_value(UpdateApprovalPolicyRequest {
                business_need: None,
                ..request
            })
            .map_err(AppError::internal)?;
            let opened = self
                .open_change_request(
                    by,
                    OpenChangeRequest {
                        kind: ChangeKind::UpdatePolicy,
                        integration_id: None,
                        tool: None,
                        change,
                        business_need: need,
                    },
                )
                .await?;
            return Ok(Submitted::Requested(Box::new(opened)));
        }
        let store = self.store.clone();
        let name = by.username.clone();
        let audit = NewAuditEvent::new(&by.actor(), actions::APPROVAL_POLICY_CHANGED);
        let policy = blocking(move || {
            Ok(store.set_approval_policy(settings, &name, expected_version, &audit)?)
        })
        .await?;
        tracing::info!(enabled = policy.enabled, approvals = policy.approvals_required, by = %by.username, "approval policy changed");
        Ok(Submitted::Applied(policy))
    }

    /// Opens a change request (operators and administrators; a policy change only
    /// administrators).
    pub async fn open_change_request(
        &self,
        by: &Principal,
        request: OpenChangeRequest,
    ) -> AppResult<ChangeRequest> {
        by.require(Role::Operator)?;
        if request.kind == ChangeKind::UpdatePolicy {
            by.require(Role::Admin)?;
        }
        let need = business_need(&request.business_need);
        let store = self.store.clone();
        let author = actor(by);
        let kind = request.kind;
        let decided = blocking(move || {
            let mut errors = ValidationErrors::new();
            let need = match need {
                Ok(need) => Some(need),
                Err(found) => {
                    for error in found.into_errors() {
                        errors.push(error.field, error.code, error.message);
                    }
                    None
                }
            };
            let live = match (kind, &request.integration_id) {
                (ChangeKind::UpdateIntegration, Some(id)) => Some(store.integration_settings(id)?),
                (ChangeKind::UpdateIntegration, None) => {
                    return Err(AppError::Validation(ValidationErrors::single(
                        "integration_id",
                        FieldErrorCode::Required,
                        "name the integration to change",
                    )));
                }
                _ => None,
            };
            let create_tool = match kind {
                ChangeKind::CreateIntegration => {
                    let tool = request
                        .change
                        .get("tool")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    Some(crate::integrations::enabled_tool(&store, tool)?)
                }
                _ => None,
            };
            if kind == ChangeKind::EnableTool
                && let Some(tool) = request.tool.as_deref().and_then(find_tool)
                && store.tool_enabled(tool.id)?
            {
                errors.push(
                    "tool",
                    FieldErrorCode::InvalidFormat,
                    format!("{} is switched on already", tool.name),
                );
            }
            let built = build(
                kind,
                &request.change,
                create_tool,
                live.as_ref(),
                request.tool.as_deref(),
                None,
            );
            let built = match built {
                Ok(built) => Some(built),
                Err(StoreError::Invalid(found)) => {
                    for error in found.into_errors() {
                        errors.push(error.field, error.code, error.message);
                    }
                    None
                }
                Err(other) => return Err(other.into()),
            };
            let (Some(need), Some(built), true) = (need, built, errors.is_empty()) else {
                return Err(AppError::Validation(errors));
            };
            let policy = store.approval_policy()?;
            let open_for = chrono::Duration::days(i64::from(policy.open_days));
            let name = built
                .pending
                .as_ref()
                .map(|draft| draft.name.as_str().to_owned());
            let opened = store
                .open_request(NewRequest {
                    kind,
                    integration_id: request.integration_id.clone(),
                    tool: built.tool.clone(),
                    author,
                    business_need: need.as_str().to_owned(),
                    proposal: built.proposal,
                    base_version: live.as_ref().map(|live| live.version),
                    open_for,
                    pending: built.pending,
                })
                .map_err(|err| match (err, name) {
                    (StoreError::Duplicate(switchboard_store::Unique::IntegrationName), Some(name)) => {
                        AppError::NameTaken(format!(
                            "an integration named {name:?} already exists or is waiting for approval (names are compared ignoring case)"
                        ))
                    }
                    (err, _) => err.into(),
                })?;
            Ok(opened)
        })
        .await?;
        tracing::info!(request = %decided.request.id, kind = kind.as_str(), by = %by.username, "change request opened");
        self.view(by, decided.request, decided.events).await
    }

    /// A page of change requests, newest first (everyone signed in reads them).
    pub async fn list_change_requests(
        &self,
        by: &Principal,
        query: ListChangeRequests,
    ) -> AppResult<ChangeRequestPage> {
        let limit = page_size(query.limit)?;
        let before = after(query.cursor.as_deref())?;
        let state = match query.state.as_deref() {
            Some(raw) => Some(RequestState::parse(raw).ok_or_else(|| {
                AppError::InvalidParameter(format!("state {raw:?} is not a request state"))
            })?),
            None => None,
        };
        let kind = match query.kind.as_deref() {
            Some(raw) => Some(ChangeKind::parse(raw).ok_or_else(|| {
                AppError::InvalidParameter(format!("kind {raw:?} is not a request kind"))
            })?),
            None => None,
        };
        let me = |raw: Option<&str>, name: &str| match raw {
            None => Ok(None),
            Some("me") => Ok(Some(by.id.clone())),
            Some(other) => Err(AppError::InvalidParameter(format!(
                "{name} takes only \"me\", not {other:?}"
            ))),
        };
        let author_id = me(query.author.as_deref(), "author")?;
        let reviewable_by = me(query.reviewable_by.as_deref(), "reviewable_by")?;
        // Only administrators review: for anyone else nothing is reviewable.
        if reviewable_by.is_some() && by.role < Role::Admin {
            return Ok(ChangeRequestPage {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        self.expire_due_requests().await?;
        let store = self.store.clone();
        blocking(move || {
            let (records, next) = store.list_requests(&RequestQuery {
                limit,
                before,
                state,
                kind,
                author_id,
                reviewable_by,
            })?;
            let ids: Vec<String> = records
                .iter()
                .filter_map(|record| record.integration_id.clone())
                .collect();
            let names = store.integration_names(&ids)?;
            let items = records
                .into_iter()
                .map(|record| {
                    let title = title(&record, &names);
                    ChangeRequestSummary {
                        id: record.id,
                        kind: record.kind,
                        state: record.state,
                        revision: record.revision,
                        author: record.author,
                        business_need: record.business_need,
                        integration_id: record.integration_id,
                        tool: record.tool,
                        title,
                        created_at: record.created_at,
                        updated_at: record.updated_at,
                        expires_at: record.expires_at,
                    }
                })
                .collect();
            Ok(ChangeRequestPage {
                items,
                next_cursor: next.as_deref().map(encode_cursor),
            })
        })
        .await
    }

    /// Expires the requests nobody decided in time (also run by the periodic work). A
    /// failure is logged, not answered: reading and deciding requests does not depend on it.
    pub async fn expire_due_requests(&self) -> AppResult<usize> {
        let store = self.store.clone();
        match blocking(move || Ok(store.expire_due_requests(chrono::Utc::now())?)).await {
            Ok(0) => Ok(0),
            Ok(expired) => {
                tracing::info!(expired, "change requests expired");
                Ok(expired)
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot expire change requests now");
                Ok(0)
            }
        }
    }

    pub async fn get_change_request(
        &self,
        by: &Principal,
        id: &ChangeRequestId,
    ) -> AppResult<ChangeRequest> {
        self.expire_due_requests().await?;
        let store = self.store.clone();
        let id = id.to_string();
        let (request, events) = blocking(move || Ok(store.get_request(&id)?)).await?;
        self.view(by, request, events).await
    }

    /// A new revision (its author, or an administrator — who then may not approve it).
    pub async fn revise_change_request(
        &self,
        by: &Principal,
        id: &ChangeRequestId,
        expected_version: Option<i64>,
        revision: ReviseChangeRequest,
    ) -> AppResult<ChangeRequest> {
        by.require(Role::Operator)?;
        let principal = by.clone();
        let decided = self
            .decide(by, id, expected_version, move |situation| {
                let request = &situation.request;
                let allowed = actions(&principal, request, &situation.events, &situation.admins);
                if !allowed.revise.allowed {
                    let code = if matches!(
                        request.state,
                        RequestState::Open
                            | RequestState::ChangesRequested
                            | RequestState::Conflict
                    ) {
                        ErrorCode::Forbidden
                    } else {
                        ErrorCode::RequestNotOpen
                    };
                    return Err(refused(code, allowed.revise.reason.unwrap_or_default()));
                }
                let need = match &revision.business_need {
                    Some(raw) => business_need(raw).map_err(StoreError::Invalid)?,
                    None => business_need(&request.business_need).map_err(StoreError::Invalid)?,
                };
                let previous = Previous {
                    change: &request.change,
                    secret_changes: &request.secret_changes,
                    secrets: &situation.secrets,
                };
                let change = revision.change.clone().unwrap_or_else(|| {
                    with_secrets(&request.change, &request.secret_changes, &situation.secrets)
                });
                let create_tool = match request.kind {
                    ChangeKind::CreateIntegration => request.tool.as_deref().and_then(find_tool),
                    _ => None,
                };
                let built = build(
                    request.kind,
                    &change,
                    create_tool,
                    situation.live.as_ref(),
                    request.tool.as_deref(),
                    Some(&previous),
                )?;
                let mut events = Vec::new();
                if request.state != RequestState::Open {
                    events.push(NewEvent::state(
                        RequestState::Open,
                        Some("a new revision opens it again".to_owned()),
                    ));
                }
                Ok(Outcome {
                    events,
                    state: Some(RequestState::Open),
                    revision: Some(Revision {
                        business_need: need.as_str().to_owned(),
                        proposal: built.proposal,
                        base_version: situation
                            .live
                            .as_ref()
                            .filter(|_| request.kind == ChangeKind::UpdateIntegration)
                            .map(|live| live.version),
                        pending: built.pending,
                    }),
                    ..Outcome::default()
                })
            })
            .await?;
        tracing::info!(request = %id, revision = decided.request.revision, by = %by.username, "change request revised");
        self.view(by, decided.request, decided.events).await
    }

    /// Adds a comment to the discussion (operators and administrators).
    pub async fn comment_on_change_request(
        &self,
        by: &Principal,
        id: &ChangeRequestId,
        comment: NewComment,
    ) -> AppResult<ChangeRequest> {
        by.require(Role::Operator)?;
        let text = Discussion::parse(&comment.body).map_err(|(code, message)| {
            AppError::Validation(ValidationErrors::single("body", code, message))
        })?;
        let decided = self
            .decide(by, id, None, move |situation| {
                if let Some(reply_to) = &comment.reply_to
                    && !situation
                        .events
                        .iter()
                        .any(|event| &event.entry.id == reply_to)
                {
                    return Err(invalid(
                        "reply_to",
                        FieldErrorCode::InvalidFormat,
                        "not an entry of this request's timeline",
                    ));
                }
                Ok(Outcome {
                    events: vec![NewEvent {
                        text: Some(text.as_str().to_owned()),
                        reply_to: comment.reply_to.clone(),
                        ..NewEvent::of(TimelineKind::Comment)
                    }],
                    ..Outcome::default()
                })
            })
            .await?;
        self.view(by, decided.request, decided.events).await
    }

    /// A review (administrators who did not write the request): approve — applied at once
    /// when it has the approvals the policy needs — reject, or request changes.
    pub async fn review_change_request(
        &self,
        by: &Principal,
        id: &ChangeRequestId,
        review: NewReview,
    ) -> AppResult<ChangeRequest> {
        by.require(Role::Admin)?;
        let comment = match review.comment.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(Discussion::parse(raw).map_err(|(code, message)| {
                AppError::Validation(ValidationErrors::single("comment", code, message))
            })?),
        };
        if review.decision != ReviewDecision::Approve && comment.is_none() {
            return Err(AppError::Validation(ValidationErrors::single(
                "comment",
                FieldErrorCode::Required,
                "say why: the author reads it",
            )));
        }
        let principal = by.clone();
        let decision = review.decision;
        let decided = self
            .decide(by, id, None, move |situation| {
                review_outcome(&principal, situation, &review, comment.as_ref())
            })
            .await?;
        let state = decided.request.state;
        tracing::info!(request = %id, decision = decision.as_str(), state = state.as_str(), by = %by.username, "change request reviewed");
        if let Some(integration) = &decided.applied_integration {
            self.check_in_background(&integration.id);
        }
        if state == RequestState::Conflict {
            let reason = decided
                .events
                .last()
                .and_then(|event| event.entry.text.clone())
                .unwrap_or_default();
            return Err(AppError::ChangeRefused {
                code: ErrorCode::RequestConflict,
                detail: format!(
                    "{reason}; its author writes a new revision against what is live now"
                ),
            });
        }
        self.view(by, decided.request, decided.events).await
    }

    /// Takes a request back (its author).
    pub async fn withdraw_change_request(
        &self,
        by: &Principal,
        id: &ChangeRequestId,
    ) -> AppResult<ChangeRequest> {
        let principal = by.clone();
        let decided = self
            .decide(by, id, None, move |situation| {
                let allowed = actions(
                    &principal,
                    &situation.request,
                    &situation.events,
                    &situation.admins,
                );
                if !allowed.withdraw.allowed {
                    let code = if situation.request.state.is_final() {
                        ErrorCode::RequestNotOpen
                    } else {
                        ErrorCode::Forbidden
                    };
                    return Err(refused(code, allowed.withdraw.reason.unwrap_or_default()));
                }
                Ok(Outcome {
                    events: vec![NewEvent::state(RequestState::Withdrawn, None)],
                    state: Some(RequestState::Withdrawn),
                    ..Outcome::default()
                })
            })
            .await?;
        tracing::info!(request = %id, by = %by.username, "change request withdrawn");
        self.view(by, decided.request, decided.events).await
    }

    /// Checks the proposed connection and counts what discovery would find (for a change:
    /// which live pipelines would disappear); recorded in the timeline. Its authors and
    /// administrators run it; nothing of it changes the live integration.
    pub async fn dry_run_change_request(
        &self,
        by: &Principal,
        id: &ChangeRequestId,
    ) -> AppResult<ChangeRequest> {
        by.require(Role::Operator)?;
        let store = self.store.clone();
        let request_id = id.to_string();
        let (request, events, secrets, live_target, live_paths) = blocking(move || {
            let (request, events) = store.get_request(&request_id)?;
            let secrets = store.request_secrets(&request_id)?;
            let (live_target, live_paths) = match (request.kind, &request.integration_id) {
                (ChangeKind::UpdateIntegration, Some(integration_id)) => {
                    // The revision was checked against the live settings of its version:
                    // with others now, stored secrets could meet URLs they were not entered for.
                    let live = store.integration_settings(integration_id)?;
                    if Some(live.version) != request.base_version && !request.state.is_final() {
                        return Err(AppError::ChangeRefused {
                            code: ErrorCode::RequestConflict,
                            detail: "the integration changed since this revision was written: write a new revision first".to_owned(),
                        });
                    }
                    let opened = store.open_target(integration_id)?;
                    let paths = store.live_pipeline_paths(integration_id)?;
                    (Some(opened), paths)
                }
                _ => (None, Vec::new()),
            };
            Ok((request, events, secrets, live_target, live_paths))
        })
        .await?;
        let admins = self.enabled_admin_ids().await?;
        let allowed = actions(by, &request, &events, &admins);
        if !allowed.dry_run.allowed {
            let code = if request.state.is_final() {
                ErrorCode::RequestNotOpen
            } else {
                ErrorCode::Forbidden
            };
            return Err(AppError::ChangeRefused {
                code,
                detail: allowed.dry_run.reason.unwrap_or_default(),
            });
        }
        let tool = request
            .tool
            .as_deref()
            .and_then(find_tool)
            .ok_or_else(|| AppError::internal("a request without its tool"))?;
        let full = with_secrets(&request.change, &request.secret_changes, &secrets);
        // A change of a live integration is tried with its stored secrets where the request
        // keeps them: that use is recorded in the integration's history, whatever follows.
        let stored_secrets_of = live_target.as_ref().and(request.integration_id.clone());
        let target = proposed_target(tool, &full, live_target)?;
        let check = self
            .tooling
            .check(tool.id, &target, Some(SAVE_CHECK_BOUND))
            .await;
        let (mut pipelines, mut disappearing, mut discovery_error) = (None, Vec::new(), None);
        if check.ok {
            let discovered = match tokio::time::timeout(
                SAVE_CHECK_BOUND * 3,
                self.tooling.connector(tool.id)?.discover(&target),
            )
            .await
            {
                Ok(Ok(discovery)) => Ok(discovery),
                Ok(Err(failure)) => Err(format!("{} {}", failure.message, failure.hint)),
                Err(_) => Err("discovery did not finish within 30 s".to_owned()),
            };
            match discovered {
                Ok(discovery) => {
                    let found: BTreeSet<&str> = discovery
                        .pipelines
                        .iter()
                        .map(|pipeline| pipeline.full_path.as_str())
                        .collect();
                    pipelines = Some(u64::try_from(found.len()).unwrap_or(u64::MAX));
                    disappearing = live_paths
                        .into_iter()
                        .filter(|path| !found.contains(path.as_str()))
                        .take(DISAPPEARING_SHOWN)
                        .collect();
                }
                Err(reason) => discovery_error = Some(reason),
            }
        }
        if let Some(integration_id) = &stored_secrets_of {
            self.record_secret_use(
                by,
                integration_id,
                SecretUse {
                    action: actions::INTEGRATION_TESTED,
                    ok: check.ok,
                    result: format!(
                        "the dry run of change request {}: {}",
                        request.id,
                        check_result(&check)
                    ),
                    urls: Some(target.urls.clone()),
                },
            )
            .await?;
        }
        let result = DryRun {
            check,
            pipelines,
            disappearing,
            discovery_error,
            revision: request.revision,
            ran_by: by.username.clone(),
            ran_at: chrono::Utc::now(),
        };
        let decided = self
            .decide(by, id, None, move |situation| {
                if situation.request.state.is_final() {
                    return Err(refused(
                        ErrorCode::RequestNotOpen,
                        "the request was decided meanwhile",
                    ));
                }
                if situation.request.revision != result.revision {
                    return Err(refused(
                        ErrorCode::StaleRevision,
                        "a new revision was written meanwhile: run the dry run again",
                    ));
                }
                Ok(Outcome {
                    events: vec![NewEvent {
                        dry_run: Some(result.clone()),
                        ..NewEvent::of(TimelineKind::DryRun)
                    }],
                    dry_run: Some(result),
                    ..Outcome::default()
                })
            })
            .await?;
        self.view(by, decided.request, decided.events).await
    }

    async fn decide(
        &self,
        by: &Principal,
        id: &ChangeRequestId,
        expected_version: Option<i64>,
        decide: impl FnOnce(&Situation) -> Result<Outcome, StoreError> + Send + 'static,
    ) -> AppResult<Decided> {
        self.expire_due_requests().await?;
        let store = self.store.clone();
        let id = id.to_string();
        let actor = actor(by);
        let decided =
            blocking(move || Ok(store.decide_request(&id, &actor, expected_version, decide)?))
                .await?;
        Ok(decided)
    }

    async fn enabled_admin_ids(&self) -> AppResult<Vec<String>> {
        let store = self.store.clone();
        blocking(move || Ok(store.enabled_admin_ids()?)).await
    }

    fn check_in_background(&self, id: &str) {
        let tooling = self.tooling.clone();
        let id = id.to_owned();
        tokio::spawn(async move { tooling.check_and_sync(&id).await });
    }

    /// The request as `by` reads it: its diff against what is live, approvals, timeline and
    /// what `by` may do.
    async fn view(
        &self,
        by: &Principal,
        request: RequestRecord,
        events: Vec<EventRecord>,
    ) -> AppResult<ChangeRequest> {
        let store = self.store.clone();
        let principal = by.clone();
        blocking(move || {
            let admins = store.enabled_admin_ids()?;
            let policy = store.approval_policy()?;
            let secrets = store.request_secrets(&request.id)?;
            // A decided request shows what it proposed; an undecided one, against what is live.
            let live = if request.state.is_final() {
                LiveSides {
                    before: BTreeMap::new(),
                }
            } else {
                live_sides(&store, &request)?
            };
            let mut after = live.before.clone();
            proposed_sides(&store, &request, &secrets, &mut after);
            let lines = diff(&live.before, &after);
            let editor_list = editors(&events);
            let approvals = u32::try_from(approvers(&events, request.revision).len()).unwrap_or(0);
            let required = approvals_needed(&policy, &admins, &editor_list);
            let actions = actions(&principal, &request, &events, &admins);
            Ok(ChangeRequest {
                id: request.id,
                kind: request.kind,
                state: request.state,
                revision: request.revision,
                author: request.author,
                editors: editor_list.into_iter().map(|(_, name)| name).collect(),
                business_need: request.business_need,
                integration_id: request.integration_id,
                tool: request.tool,
                change: request.change,
                secret_changes: request.secret_changes,
                diff: lines,
                dry_run: request.dry_run,
                approvals,
                approvals_required: required,
                timeline: events.into_iter().map(|event| event.entry).collect(),
                actions,
                version: request.version,
                created_at: request.created_at,
                updated_at: request.updated_at,
                expires_at: request.expires_at,
            })
        })
        .await
    }
}

fn title(record: &RequestRecord, names: &BTreeMap<String, String>) -> String {
    let named = record
        .integration_id
        .as_ref()
        .and_then(|id| names.get(id))
        .cloned();
    match record.kind {
        ChangeKind::CreateIntegration => named
            .or_else(|| {
                record
                    .change
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "New integration".to_owned()),
        ChangeKind::UpdateIntegration => {
            named.unwrap_or_else(|| "A deleted integration".to_owned())
        }
        ChangeKind::EnableTool => format!(
            "Switch on {}",
            record
                .tool
                .as_deref()
                .and_then(find_tool)
                .map_or("a tool", |tool| tool.name)
        ),
        ChangeKind::ProposeTool => format!(
            "Propose {}",
            record
                .change
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("a tool")
        ),
        ChangeKind::UpdatePolicy => "Approval policy".to_owned(),
    }
}

/// What is live now, field by field (secrets by fingerprint).
fn live_sides(store: &switchboard_store::Store, request: &RequestRecord) -> AppResult<LiveSides> {
    let mut before = BTreeMap::new();
    match request.kind {
        ChangeKind::UpdateIntegration => {
            let Some(id) = &request.integration_id else {
                return Ok(LiveSides { before });
            };
            let integration = match store.get_integration(id) {
                Ok(integration) => integration,
                Err(StoreError::NotFound(_)) => return Ok(LiveSides { before }),
                Err(other) => return Err(other.into()),
            };
            before.insert("name".to_owned(), plain(integration.name));
            for (key, url) in integration.urls {
                before.insert(format!("urls.{key}"), plain(url));
            }
            for (key, credential) in store.open_credentials(id)? {
                let side = match credential {
                    StoredCredential::Plain(value) => Side::Plain(value),
                    StoredCredential::Secret(secret) => Side::Secret(store.fingerprint(&secret)),
                };
                before.insert(format!("credentials.{key}"), side);
            }
        }
        ChangeKind::EnableTool => {
            if let Some(tool) = &request.tool {
                let on = store.tool_enabled(tool)?;
                before.insert("enabled".to_owned(), plain(on.to_string()));
            }
        }
        ChangeKind::UpdatePolicy => {
            let policy = store.approval_policy()?;
            before.insert("enabled".to_owned(), plain(policy.enabled.to_string()));
            before.insert(
                "approvals_required".to_owned(),
                plain(policy.approvals_required.to_string()),
            );
            before.insert("open_days".to_owned(), plain(policy.open_days.to_string()));
        }
        ChangeKind::CreateIntegration | ChangeKind::ProposeTool => {}
    }
    Ok(LiveSides { before })
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Lays the proposal over `sides` (a copy of what is live).
fn proposed_sides(
    store: &switchboard_store::Store,
    request: &RequestRecord,
    secrets: &BTreeMap<String, SecretString>,
    sides: &mut BTreeMap<String, Side>,
) {
    let change = &request.change;
    match request.kind {
        ChangeKind::CreateIntegration | ChangeKind::UpdateIntegration => {
            if request.kind == ChangeKind::CreateIntegration
                && let Some(tool) = change.get("tool")
            {
                sides.insert("tool".to_owned(), plain(text_of(tool)));
            }
            if let Some(name) = change.get("name").filter(|name| !name.is_null()) {
                sides.insert("name".to_owned(), plain(text_of(name).trim().to_owned()));
            }
            if let Some(urls) = change.get("urls").and_then(Value::as_object) {
                sides.retain(|field, _| !field.starts_with("urls."));
                for (key, url) in urls {
                    sides.insert(format!("urls.{key}"), plain(text_of(url).trim().to_owned()));
                }
            }
            if let Some(credentials) = change.get("credentials").and_then(Value::as_object) {
                for (key, value) in credentials {
                    let field = format!("credentials.{key}");
                    if value.is_null() {
                        sides.remove(&field);
                    } else {
                        sides.insert(field, plain(text_of(value)));
                    }
                }
            }
            for (key, what) in &request.secret_changes {
                let field = format!("credentials.{key}");
                match (what.as_str(), secrets.get(key)) {
                    ("set", Some(secret)) => {
                        sides.insert(field, Side::Secret(store.fingerprint(secret)));
                    }
                    // Destroyed with the closed request: known to have been set, no more.
                    ("set", None) => {
                        sides.insert(field, Side::Secret(String::new()));
                    }
                    _ => {
                        sides.remove(&field);
                    }
                }
            }
        }
        ChangeKind::EnableTool => {
            sides.insert("enabled".to_owned(), plain("true"));
        }
        ChangeKind::UpdatePolicy | ChangeKind::ProposeTool => {
            if let Some(object) = change.as_object() {
                for (key, value) in object {
                    sides.insert(key.clone(), plain(text_of(value)));
                }
            }
        }
    }
}

/// The connector target a dry run uses: the proposal over what is live (for a change).
fn proposed_target(
    tool: &'static ToolSpec,
    full: &Value,
    live: Option<switchboard_store::OpenedIntegration>,
) -> AppResult<Target> {
    let (mut urls, mut credentials) = match live {
        Some(opened) => (opened.urls, opened.credentials),
        None => (BTreeMap::new(), BTreeMap::new()),
    };
    if let Some(new_urls) = urls_of(full) {
        urls = new_urls;
    }
    if let Some(changes) = full.get("credentials").and_then(Value::as_object) {
        for (key, value) in changes {
            match value {
                Value::Null => {
                    credentials.remove(key);
                }
                value => {
                    let text = text_of(value);
                    let credential = if tool.credential_field(key).is_some_and(|field| field.secret)
                    {
                        StoredCredential::Secret(SecretString::from(text))
                    } else {
                        StoredCredential::Plain(text)
                    };
                    credentials.insert(key.clone(), credential);
                }
            }
        }
    }
    Ok(target_of(urls, credentials))
}

/// What a review does, given the request as it is under its lock.
fn review_outcome(
    by: &Principal,
    situation: &Situation,
    review: &NewReview,
    comment: Option<&Discussion>,
) -> Result<Outcome, StoreError> {
    let request = &situation.request;
    if request.state != RequestState::Open {
        return Err(refused(
            ErrorCode::RequestNotOpen,
            format!(
                "the request is {}; only an open request is reviewed",
                request.state.as_str()
            ),
        ));
    }
    if review.revision != request.revision {
        return Err(refused(
            ErrorCode::StaleRevision,
            format!(
                "revision {} is not the current one ({}); read the request again",
                review.revision, request.revision
            ),
        ));
    }
    let editor_list = editors(&situation.events);
    let wrote = editor_list.iter().any(|(id, _)| *id == by.id);
    let sole = is_sole_admin(by, &situation.admins);
    let comment_text = comment.map(|comment| comment.as_str().to_owned());
    let review_event = |sole_administrator: bool| NewEvent {
        text: comment_text.clone(),
        decision: Some(review.decision),
        sole_administrator,
        ..NewEvent::of(TimelineKind::Review)
    };
    if wrote && !(sole && review.decision == ReviewDecision::Approve) {
        let who = if request.author_id == by.id {
            "you opened this request"
        } else {
            "you wrote a revision of this request"
        };
        return Err(refused(
            ErrorCode::SelfApproval,
            format!("{who}: another administrator reviews it (four eyes)"),
        ));
    }
    match review.decision {
        ReviewDecision::Reject => Ok(Outcome {
            events: vec![
                review_event(false),
                NewEvent::state(RequestState::Rejected, None),
            ],
            state: Some(RequestState::Rejected),
            ..Outcome::default()
        }),
        ReviewDecision::RequestChanges => Ok(Outcome {
            events: vec![
                review_event(false),
                NewEvent::state(RequestState::ChangesRequested, None),
            ],
            state: Some(RequestState::ChangesRequested),
            ..Outcome::default()
        }),
        ReviewDecision::Approve => {
            let sole_self = wrote && sole;
            if sole_self && comment.is_none() {
                return Err(invalid(
                    "comment",
                    FieldErrorCode::Required,
                    "as the only administrator you approve your own request only with a written reason",
                ));
            }
            let mut approved = approvers(&situation.events, request.revision);
            let fresh = approved.insert(by.id.clone());
            let needed = if sole_self {
                1
            } else {
                approvals_needed(&situation.policy, &situation.admins, &editor_list)
            };
            let enough = u32::try_from(approved.len()).unwrap_or(u32::MAX) >= needed;
            // Approving again only counts when it is what completes the request (the policy
            // or the administrators changed since the first approval).
            if !fresh && !enough {
                return Err(refused(
                    ErrorCode::AlreadyReviewed,
                    format!("you approved revision {} already", request.revision),
                ));
            }
            let mut events = if fresh {
                vec![review_event(sole_self)]
            } else {
                Vec::new()
            };
            if !enough {
                return Ok(Outcome {
                    events,
                    ..Outcome::default()
                });
            }
            match application(situation) {
                Ok(apply) => {
                    let reason = if sole_self {
                        "approved by the sole administrator and applied"
                    } else {
                        "approved and applied"
                    };
                    events.push(NewEvent::state(
                        RequestState::Approved,
                        Some(reason.to_owned()),
                    ));
                    Ok(Outcome {
                        events,
                        state: Some(RequestState::Approved),
                        apply: Some(apply),
                        ..Outcome::default()
                    })
                }
                Err(Conflict(reason)) => {
                    events.push(NewEvent::state(RequestState::Conflict, Some(reason)));
                    Ok(Outcome {
                        events,
                        state: Some(RequestState::Conflict),
                        ..Outcome::default()
                    })
                }
            }
        }
    }
}

/// Why an approved change cannot be applied to what is live now.
struct Conflict(String);

/// The change an approval applies, checked against what is live now.
fn application(situation: &Situation) -> Result<Apply, Conflict> {
    let request = &situation.request;
    let full = with_secrets(&request.change, &request.secret_changes, &situation.secrets);
    let rejected = |errors: ValidationErrors| {
        Conflict(format!(
            "the change no longer fits: {}",
            errors
                .errors()
                .iter()
                .map(|error| format!("{}: {}", error.field, error.message))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    };
    match request.kind {
        ChangeKind::CreateIntegration => {
            if situation.live.is_none() {
                return Err(Conflict("the pending integration is gone".to_owned()));
            }
            let create: CreateIntegrationRequest =
                serde_json::from_value(full).map_err(|err| Conflict(without_values(&err)))?;
            let tool = find_tool(&create.tool)
                .ok_or_else(|| Conflict(format!("{} is not an approved tool", create.tool)))?;
            if !situation.tool_enabled {
                return Err(Conflict(format!(
                    "{} is switched off by an administrator",
                    tool.name
                )));
            }
            let draft = create.parse(tool).map_err(rejected)?;
            Ok(Apply::CreateIntegration(IntegrationPatch {
                name: Some(draft.name),
                urls: Some(draft.urls),
                credentials: draft.credentials,
            }))
        }
        ChangeKind::UpdateIntegration => {
            let Some(live) = &situation.live else {
                return Err(Conflict("the integration was deleted".to_owned()));
            };
            if Some(live.version) != request.base_version {
                return Err(Conflict(format!(
                    "the integration changed since revision {} was written (version {} then, {} now)",
                    request.revision,
                    request.base_version.unwrap_or_default(),
                    live.version
                )));
            }
            let update: UpdateIntegrationRequest =
                serde_json::from_value(full).map_err(|err| Conflict(without_values(&err)))?;
            let patch = update.parse(live.tool, &live.current).map_err(rejected)?;
            Ok(Apply::UpdateIntegration(patch))
        }
        ChangeKind::EnableTool => request
            .tool
            .clone()
            .map(Apply::EnableTool)
            .ok_or_else(|| Conflict("the request names no tool".to_owned())),
        ChangeKind::UpdatePolicy => {
            let policy: UpdateApprovalPolicyRequest =
                serde_json::from_value(full).map_err(|err| Conflict(without_values(&err)))?;
            let settings: PolicySettings = policy.parse().map_err(rejected)?;
            Ok(Apply::Policy(settings))
        }
        ChangeKind::ProposeTool => Ok(Apply::Nothing),
    }
}
