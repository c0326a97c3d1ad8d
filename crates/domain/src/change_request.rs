//! Prior discussion and approval: the approval policy, change requests, their revisions,
//! discussion, reviews and dry runs, and the diff a reviewer reads.
//!
//! The rules that need no database live here so the web app applies the same ones: which
//! changes need approval, how a request body is parsed, what a diff shows.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::ConnectionCheck;
use crate::error::{FieldErrorCode, ValidationErrors};
use crate::integration::{CurrentSettings, UpdateIntegrationRequest, origin_move};
use crate::tools::ToolSpec;

/// The longest business need, comment or reason, in characters.
pub const TEXT_MAX: usize = 10_000;
/// The longest a request may stay open, in days.
pub const OPEN_DAYS_MAX: u32 = 365;

/// What a change request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new integration (`change` is the body of `POST /api/v1/integrations`).
    CreateIntegration,
    /// A change to an integration's URLs or secrets (`change` is the body of `PATCH`).
    UpdateIntegration,
    /// Switching an approved tool on (`change` is `{}`).
    EnableTool,
    /// A CI/CD tool that is not in the registry yet (`change` is `{"name", "url"}`).
    ProposeTool,
    /// A new approval policy (`change` is the body of `PUT /api/v1/approval-policy`).
    UpdatePolicy,
}

impl ChangeKind {
    pub const ALL: [Self; 5] = [
        Self::CreateIntegration,
        Self::UpdateIntegration,
        Self::EnableTool,
        Self::ProposeTool,
        Self::UpdatePolicy,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreateIntegration => "create_integration",
            Self::UpdateIntegration => "update_integration",
            Self::EnableTool => "enable_tool",
            Self::ProposeTool => "propose_tool",
            Self::UpdatePolicy => "update_policy",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// How people read it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::CreateIntegration => "New integration",
            Self::UpdateIntegration => "Integration change",
            Self::EnableTool => "Switch a tool on",
            Self::ProposeTool => "New tool proposal",
            Self::UpdatePolicy => "Approval policy",
        }
    }
}

/// Where a change request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for reviews.
    Open,
    /// Approved and applied (for a tool proposal: accepted).
    Approved,
    /// A reviewer asked for changes; a new revision opens it again.
    ChangesRequested,
    /// Refused; final.
    Rejected,
    /// Taken back by its author; final.
    Withdrawn,
    /// Nobody decided within the policy's time; final.
    Expired,
    /// What it changes changed since it was written; a new revision opens it again.
    Conflict,
}

impl RequestState {
    pub const ALL: [Self; 7] = [
        Self::Open,
        Self::Approved,
        Self::ChangesRequested,
        Self::Rejected,
        Self::Withdrawn,
        Self::Expired,
        Self::Conflict,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approved => "approved",
            Self::ChangesRequested => "changes_requested",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
            Self::Conflict => "conflict",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == raw)
    }

    /// Approved, rejected, withdrawn or expired: nothing changes it any more.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Approved | Self::Rejected | Self::Withdrawn | Self::Expired
        )
    }

    /// How people read it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Approved => "Approved",
            Self::ChangesRequested => "Changes requested",
            Self::Rejected => "Rejected",
            Self::Withdrawn => "Withdrawn",
            Self::Expired => "Expired",
            Self::Conflict => "Conflict",
        }
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approve,
    Reject,
    RequestChanges,
}

impl ReviewDecision {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::RequestChanges => "request_changes",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Approve, Self::Reject, Self::RequestChanges]
            .into_iter()
            .find(|decision| decision.as_str() == raw)
    }
}

/// A piece of free text people write (a business need, a comment, a reason): plain text
/// with line breaks, 1–10,000 characters after trimming. Never rendered as HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discussion(String);

impl Discussion {
    pub fn parse(raw: &str) -> Result<Self, (FieldErrorCode, String)> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err((
                FieldErrorCode::Required,
                "write a few words; it cannot be empty".to_owned(),
            ));
        }
        if trimmed.chars().count() > TEXT_MAX {
            return Err((
                FieldErrorCode::TooLong,
                format!("at most {TEXT_MAX} characters"),
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err((
                FieldErrorCode::InvalidFormat,
                "control characters are not allowed".to_owned(),
            ));
        }
        Ok(Self(trimmed.replace("\r\n", "\n")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The approval policy: whether changes need approval, how many approvals, for how long a
/// request stays open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalPolicy {
    /// While on, new integrations, changes of URLs or secrets, switching a tool on and this
    /// policy become change requests.
    pub enabled: bool,
    /// Approvals by distinct administrators (not the request's authors): 1 or 2.
    pub approvals_required: u8,
    /// Days a request stays open before it expires (1–365).
    pub open_days: u32,
    /// Increases with every change; send it back in `If-Match`.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    /// Who changed it last (`system` at first start).
    pub updated_by: String,
}

/// `PUT /api/v1/approval-policy`: the whole policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateApprovalPolicyRequest {
    pub enabled: bool,
    /// 1 or 2.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2))]
    pub approvals_required: u8,
    /// 1–365.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
    pub open_days: u32,
    /// Why, while approval is on (it becomes a change request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_need: Option<String>,
}

/// A validated policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicySettings {
    pub enabled: bool,
    pub approvals_required: u8,
    pub open_days: u32,
}

impl UpdateApprovalPolicyRequest {
    pub fn parse(&self) -> Result<PolicySettings, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if !(1..=2).contains(&self.approvals_required) {
            errors.push(
                "approvals_required",
                FieldErrorCode::OutOfRange,
                "1 or 2 approvals",
            );
        }
        if !(1..=OPEN_DAYS_MAX).contains(&self.open_days) {
            errors.push(
                "open_days",
                FieldErrorCode::OutOfRange,
                format!("between 1 and {OPEN_DAYS_MAX} days"),
            );
        }
        errors.into_result(|| PolicySettings {
            enabled: self.enabled,
            approvals_required: self.approvals_required,
            open_days: self.open_days,
        })
    }
}

/// The `change` of a `propose_tool` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolProposal {
    /// The tool's name, e.g. "GitLab CI".
    pub name: String,
    /// Its vendor's page, an absolute http(s) URL.
    pub url: String,
}

impl ToolProposal {
    pub fn parse(&self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.take(
            "change.name",
            crate::integration::IntegrationName::parse(&self.name),
        );
        let url = errors.take(
            "change.url",
            crate::integration::EndpointUrl::parse(&self.url),
        );
        match (name, url) {
            (Some(name), Some(url)) if errors.is_empty() => Ok(Self {
                name: name.as_str().to_owned(),
                url: url.as_str().to_owned(),
            }),
            _ => Err(errors),
        }
    }
}

/// `POST /api/v1/change-requests`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "kind": "create_integration",
    "change": {
        "name": "Jenkins",
        "tool": "jenkins",
        "urls": {"apiUrl": "https://jenkins.example.com/"},
        "credentials": {"username": "alice", "apiToken": "11aa22bb33cc44dd55ee66ff77889900aa"}
    },
    "business_need": "The payments team deploys from this controller; we need its pipelines here."
})))]
pub struct OpenChangeRequest {
    pub kind: ChangeKind,
    /// For `update_integration`: the integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    /// For `enable_tool`: the approved tool's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The body the integration API takes (`create_integration`, `update_integration`),
    /// `{"name", "url"}` (`propose_tool`), the policy (`update_policy`) or `{}`
    /// (`enable_tool`).
    #[serde(default)]
    pub change: serde_json::Value,
    /// Why it is needed (required).
    pub business_need: String,
}

impl fmt::Debug for OpenChangeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The change can hold secret values.
        f.debug_struct("OpenChangeRequest")
            .field("kind", &self.kind)
            .field("integration_id", &self.integration_id)
            .field("tool", &self.tool)
            .finish_non_exhaustive()
    }
}

/// `PATCH /api/v1/change-requests/{id}`: a new revision.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReviseChangeRequest {
    /// The whole proposed change, as when opening. A secret left out keeps the value the
    /// previous revision proposed, unless the URLs now lead to another origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_need: Option<String>,
}

impl fmt::Debug for ReviseChangeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReviseChangeRequest")
            .field("change", &self.change.is_some())
            .field("business_need", &self.business_need)
            .finish()
    }
}

/// `POST /api/v1/change-requests/{id}/comments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// Plain text with line breaks (1–10,000 characters); never rendered as HTML.
    pub body: String,
    /// The id of the timeline entry this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// `POST /api/v1/change-requests/{id}/reviews`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewReview {
    pub decision: ReviewDecision,
    /// The revision reviewed: a review of an older one is refused (409).
    pub revision: i32,
    /// Required to reject or request changes, and for a sole administrator approving their
    /// own request (the reason is recorded).
    #[serde(default)]
    pub comment: Option<String>,
}

/// How one field changes, as a reviewer reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldChange {
    /// A plain field gets a value it did not have.
    Added,
    /// A secret gets a value it did not have.
    Set,
    Changed,
    Unchanged,
    Removed,
}

/// One line of a request's diff against what is live. Secret values never appear: a secret
/// shows whether it is set, changed or unchanged and a short fingerprint (the first 8 hex
/// digits of an HMAC of the value under a server key), so a reviewer can tell whether a
/// token changed, or is the one used elsewhere, without seeing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffLine {
    /// `name`, `tool`, `urls.<key>`, `credentials.<key>`, `enabled`, …
    pub field: String,
    pub change: FieldChange,
    pub secret: bool,
    /// The live value (plain fields only).
    pub before: Option<String>,
    /// The proposed value (plain fields only).
    pub after: Option<String>,
    /// The live secret's fingerprint.
    pub fingerprint_before: Option<String>,
    /// The proposed secret's fingerprint.
    pub fingerprint_after: Option<String>,
}

/// A field's value on one side of a diff: plain text, or a secret known by its full
/// fingerprint (only its first 8 digits are shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    Plain(String),
    Secret(String),
}

/// Digits of a fingerprint shown to people.
const FINGERPRINT_SHOWN: usize = 8;

/// The first digits of a secret's fingerprint: enough to tell two values apart, as diffs and
/// the audit log show it.
pub fn shown_fingerprint(full: &str) -> String {
    full.chars().take(FINGERPRINT_SHOWN).collect()
}

/// The diff of every field in `before` or `after`, in field order.
pub fn diff(before: &BTreeMap<String, Side>, after: &BTreeMap<String, Side>) -> Vec<DiffLine> {
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .map(|field| {
            let old = before.get(field);
            let new = after.get(field);
            let secret =
                matches!(old, Some(Side::Secret(_))) || matches!(new, Some(Side::Secret(_)));
            let change = match (old, new) {
                (None, Some(Side::Secret(_))) => FieldChange::Set,
                (None, _) => FieldChange::Added,
                (Some(_), None) => FieldChange::Removed,
                (Some(old), Some(new)) if old == new => FieldChange::Unchanged,
                (Some(_), Some(_)) => FieldChange::Changed,
            };
            let plain = |side: Option<&Side>| match side {
                Some(Side::Plain(value)) => Some(value.clone()),
                _ => None,
            };
            let print = |side: Option<&Side>| match side {
                Some(Side::Secret(full)) => Some(shown_fingerprint(full)),
                _ => None,
            };
            DiffLine {
                field: field.clone(),
                change,
                secret,
                before: plain(old),
                after: plain(new),
                fingerprint_before: print(old),
                fingerprint_after: print(new),
            }
        })
        .collect()
}

/// Whether a `PATCH` of an integration needs approval while approval is on: it changes the
/// tool's URLs or a secret credential. A new name or a plain field (a user name) alone does
/// not.
pub fn update_needs_approval(
    tool: &ToolSpec,
    current: &CurrentSettings,
    request: &UpdateIntegrationRequest,
) -> bool {
    let urls_change = request.urls.as_ref().is_some_and(|urls| {
        let before: BTreeMap<&str, &str> = current
            .urls
            .iter()
            .map(|(key, url)| (key.as_str(), url.trim()))
            .collect();
        let after: BTreeMap<&str, &str> = urls
            .iter()
            .map(|(key, url)| (key.as_str(), url.trim()))
            .collect();
        before != after
            || origin_move(
                tool,
                &current.urls,
                urls.iter().map(|(key, url)| (key.as_str(), url.as_str())),
            )
            .is_some()
    });
    let secret_change = request
        .credentials
        .keys()
        .any(|key| tool.credential_field(key).is_none_or(|field| field.secret));
    urls_change || secret_change
}

/// The result of a dry run: the proposed connection checked, and what discovery would find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DryRun {
    pub check: ConnectionCheck,
    /// Pipelines discovery would find (`null` when the check failed or discovery did).
    pub pipelines: Option<u64>,
    /// For a change of an existing integration: live pipelines that would disappear (at most
    /// 50 named).
    pub disappearing: Vec<String>,
    /// Why discovery could not run, when it could not.
    pub discovery_error: Option<String>,
    /// The revision it ran against.
    pub revision: i32,
    pub ran_by: String,
    pub ran_at: DateTime<Utc>,
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Opened,
    Revised,
    Comment,
    Review,
    DryRun,
    State,
}

impl TimelineKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Revised => "revised",
            Self::Comment => "comment",
            Self::Review => "review",
            Self::DryRun => "dry_run",
            Self::State => "state",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Opened,
            Self::Revised,
            Self::Comment,
            Self::Review,
            Self::DryRun,
            Self::State,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == raw)
    }
}

/// One entry of a request's timeline: revisions, comments, reviews, dry runs and state
/// changes, in the order they happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub id: String,
    pub kind: TimelineKind,
    pub at: DateTime<Utc>,
    /// Who: a user name, or `system` (expiry).
    pub actor: String,
    /// The revision current when it happened.
    pub revision: i32,
    /// A comment's or review's text, a revision's business need, a state change's reason.
    pub text: Option<String>,
    /// For a comment: the entry it answers.
    pub reply_to: Option<String>,
    /// For a review.
    pub decision: Option<ReviewDecision>,
    /// For a state change: the new state.
    pub state: Option<RequestState>,
    /// For a dry run.
    pub dry_run: Option<DryRun>,
    /// For an approval: the sole administrator approved their own request (with a reason).
    pub sole_administrator: bool,
}

/// Whether the caller may do something now, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Permission {
    pub allowed: bool,
    /// Why not (or, when allowed, what it takes), for people.
    pub reason: Option<String>,
    /// A comment is required for it.
    pub needs_comment: bool,
}

impl Permission {
    pub fn yes() -> Self {
        Self {
            allowed: true,
            reason: None,
            needs_comment: false,
        }
    }

    pub fn no(reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            reason: Some(reason.into()),
            needs_comment: false,
        }
    }

    pub fn with_comment(mut self, reason: Option<String>) -> Self {
        self.needs_comment = true;
        if reason.is_some() {
            self.reason = reason;
        }
        self
    }
}

/// What the caller may do with a request now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestActions {
    pub approve: Permission,
    pub reject: Permission,
    pub request_changes: Permission,
    pub revise: Permission,
    pub withdraw: Permission,
    pub comment: Permission,
    pub dry_run: Permission,
}

/// A change request as the API returns it. Secret values are never part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRequest {
    pub id: String,
    pub kind: ChangeKind,
    pub state: RequestState,
    /// Starts at 1; every revision adds one and resets earlier approvals.
    pub revision: i32,
    /// The user name of whoever opened it.
    pub author: String,
    /// Everyone who wrote a revision (the author first); none of them may approve it.
    pub editors: Vec<String>,
    pub business_need: String,
    pub integration_id: Option<String>,
    pub tool: Option<String>,
    /// The proposed change without secret values: secret credentials appear in
    /// `secret_changes`.
    pub change: serde_json::Value,
    /// Per secret field the change sets (`set`) or clears (`clear`).
    pub secret_changes: BTreeMap<String, String>,
    pub diff: Vec<DiffLine>,
    /// The latest dry run, if any.
    pub dry_run: Option<DryRun>,
    /// Approvals of the current revision so far, and how many it needs.
    pub approvals: u32,
    pub approvals_required: u32,
    pub timeline: Vec<TimelineEntry>,
    /// What the caller may do now.
    pub actions: RequestActions,
    /// Increases with every change; send it back in `If-Match` to revise safely.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it expires if nobody decides.
    pub expires_at: DateTime<Utc>,
}

/// A change request in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRequestSummary {
    pub id: String,
    pub kind: ChangeKind,
    pub state: RequestState,
    pub revision: i32,
    pub author: String,
    pub business_need: String,
    pub integration_id: Option<String>,
    pub tool: Option<String>,
    /// The integration's or tool's name, for people.
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One page of change requests, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRequestPage {
    pub items: Vec<ChangeRequestSummary>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::find_tool;

    fn jenkins() -> &'static ToolSpec {
        find_tool("jenkins").expect("jenkins")
    }

    fn current() -> CurrentSettings {
        CurrentSettings {
            urls: BTreeMap::from([("apiUrl".to_owned(), "https://ci.example.com/".to_owned())]),
            filled: ["username".to_owned(), "apiToken".to_owned()].into(),
        }
    }

    #[test]
    fn a_rename_or_a_user_name_applies_directly_but_urls_and_secrets_need_approval() {
        let rename = UpdateIntegrationRequest {
            name: Some("Renamed".into()),
            ..Default::default()
        };
        assert!(!update_needs_approval(jenkins(), &current(), &rename));
        let user = UpdateIntegrationRequest {
            credentials: BTreeMap::from([("username".to_owned(), Some("bob".to_owned()))]),
            ..Default::default()
        };
        assert!(!update_needs_approval(jenkins(), &current(), &user));
        let same_urls = UpdateIntegrationRequest {
            urls: Some(current().urls),
            ..Default::default()
        };
        assert!(!update_needs_approval(jenkins(), &current(), &same_urls));
        let new_path = UpdateIntegrationRequest {
            urls: Some(BTreeMap::from([(
                "apiUrl".to_owned(),
                "https://ci.example.com/jenkins/".to_owned(),
            )])),
            ..Default::default()
        };
        assert!(update_needs_approval(jenkins(), &current(), &new_path));
        let token = UpdateIntegrationRequest {
            credentials: BTreeMap::from([("apiToken".to_owned(), Some("x".repeat(34)))]),
            ..Default::default()
        };
        assert!(update_needs_approval(jenkins(), &current(), &token));
        let cleared = UpdateIntegrationRequest {
            credentials: BTreeMap::from([("apiToken".to_owned(), None)]),
            ..Default::default()
        };
        assert!(update_needs_approval(jenkins(), &current(), &cleared));
    }

    #[test]
    fn a_diff_shows_plain_values_and_only_fingerprints_of_secrets() {
        let before = BTreeMap::from([
            ("name".to_owned(), Side::Plain("Jenkins".into())),
            (
                "credentials.apiToken".to_owned(),
                Side::Secret("aabbccddeeff0011".into()),
            ),
            ("urls.webUrl".to_owned(), Side::Plain("https://ci/".into())),
        ]);
        let after = BTreeMap::from([
            ("name".to_owned(), Side::Plain("Jenkins".into())),
            (
                "credentials.apiToken".to_owned(),
                Side::Secret("1122334455667788".into()),
            ),
            ("credentials.other".to_owned(), Side::Secret("99".into())),
            ("urls.apiUrl".to_owned(), Side::Plain("https://ci/".into())),
        ]);
        let lines = diff(&before, &after);
        let by_field: BTreeMap<&str, &DiffLine> = lines
            .iter()
            .map(|line| (line.field.as_str(), line))
            .collect();
        assert_eq!(by_field["name"].change, FieldChange::Unchanged);
        let token = by_field["credentials.apiToken"];
        assert_eq!(token.change, FieldChange::Changed);
        assert!(token.secret);
        assert_eq!(token.before, None);
        assert_eq!(token.fingerprint_before.as_deref(), Some("aabbccdd"));
        assert_eq!(token.fingerprint_after.as_deref(), Some("11223344"));
        assert_eq!(by_field["credentials.other"].change, FieldChange::Set);
        assert_eq!(by_field["urls.apiUrl"].change, FieldChange::Added);
        assert_eq!(by_field["urls.webUrl"].change, FieldChange::Removed);
    }

    #[test]
    fn discussion_text_is_trimmed_plain_text() {
        assert!(Discussion::parse("  ").is_err());
        assert!(Discussion::parse("a\u{7}b").is_err());
        assert_eq!(
            Discussion::parse(" line one\r\nline two ")
                .expect("ok")
                .as_str(),
            "line one\nline two"
        );
        assert!(Discussion::parse(&"x".repeat(TEXT_MAX + 1)).is_err());
    }

    #[test]
    fn a_policy_needs_one_or_two_approvals_and_up_to_a_year() {
        let mut request = UpdateApprovalPolicyRequest {
            enabled: true,
            approvals_required: 2,
            open_days: 14,
            business_need: None,
        };
        assert!(request.parse().is_ok());
        request.approvals_required = 3;
        request.open_days = 0;
        let errors = request.parse().expect_err("refused");
        assert_eq!(errors.errors().len(), 2);
    }
}
