//! Integrations: validated newtypes, the API's request and response shapes, and the rules
//! an integration must satisfy against its tool's registry entry.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::{ConnectionCheck, SyncReport};
use crate::error::{FieldErrorCode, ValidationErrors};
use crate::tools::ToolSpec;

pub const NAME_MAX_CHARS: usize = 100;
pub const URL_MAX_CHARS: usize = 2048;
pub const EXTRA_URLS_MAX: usize = 20;
pub const URL_KEY_MAX_CHARS: usize = 64;
pub const CREDENTIAL_MAX_CHARS: usize = 4096;

type ParseResult<T> = Result<T, (FieldErrorCode, String)>;

/// A display name: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationName(String);

/// Characters that change how a name shows without showing themselves: zero-width spaces and
/// joiners, the word joiner and byte-order mark, and the bidirectional marks, embeddings,
/// overrides and isolates.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
    )
}

impl IntegrationName {
    pub fn parse(raw: &str) -> ParseResult<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err((FieldErrorCode::Blank, "a name is required".into()));
        }
        if trimmed.chars().count() > NAME_MAX_CHARS {
            return Err((
                FieldErrorCode::TooLong,
                format!("at most {NAME_MAX_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err((
                FieldErrorCode::InvalidFormat,
                "control characters are not allowed".into(),
            ));
        }
        if trimmed.chars().any(is_invisible_or_bidi) {
            return Err((
                FieldErrorCode::InvalidFormat,
                "invisible characters (zero-width spaces and joiners, direction marks and overrides) are not allowed: they make one name look like another".into(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form names are compared in: two names that differ only in case collide.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A key in `urls`: a letter, then letters, digits, `_`, `.` or `-`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UrlKey(String);

impl UrlKey {
    pub fn parse(raw: &str) -> ParseResult<Self> {
        let mut chars = raw.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        let rest_allowed = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if raw.len() > URL_KEY_MAX_CHARS {
            return Err((
                FieldErrorCode::TooLong,
                format!("a URL key has at most {URL_KEY_MAX_CHARS} characters"),
            ));
        }
        if !starts_with_letter || !rest_allowed {
            return Err((
                FieldErrorCode::InvalidFormat,
                "a URL key starts with a letter and holds only letters, digits, '_', '.' and '-'"
                    .into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute http(s) URL with a host and no user:password inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    pub fn parse(raw: &str) -> ParseResult<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err((FieldErrorCode::Blank, "a URL is required".into()));
        }
        if trimmed.chars().count() > URL_MAX_CHARS {
            return Err((
                FieldErrorCode::TooLong,
                format!("at most {URL_MAX_CHARS} characters"),
            ));
        }
        let url = url::Url::parse(trimmed).map_err(|err| {
            (
                FieldErrorCode::InvalidUrl,
                format!("not an absolute URL ({err})"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err((
                FieldErrorCode::UnsupportedScheme,
                format!("the scheme must be http or https, not {}", url.scheme()),
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err((FieldErrorCode::InvalidUrl, "the URL needs a host".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err((
                FieldErrorCode::CredentialsInUrl,
                "remove the user name and password from the URL and put them in the credential fields".into(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A credential value: 1–4096 characters. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialValue(String);

impl CredentialValue {
    pub fn parse(raw: &str) -> ParseResult<Self> {
        if raw.is_empty() {
            return Err((
                FieldErrorCode::Blank,
                "empty; send null to clear the field".into(),
            ));
        }
        if raw.chars().count() > CREDENTIAL_MAX_CHARS {
            return Err((
                FieldErrorCode::TooLong,
                format!("at most {CREDENTIAL_MAX_CHARS} characters"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for CredentialValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialValue([REDACTED])")
    }
}

/// What a request does to one credential field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialChange {
    Set(CredentialValue),
    Clear,
}

/// A validated integration body: what the store writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationDraft {
    pub name: IntegrationName,
    pub tool: &'static ToolSpec,
    pub urls: BTreeMap<UrlKey, EndpointUrl>,
    /// Changes by field key; a field not listed keeps its stored value.
    pub credentials: BTreeMap<&'static str, CredentialChange>,
}

/// A validated `PATCH`: every part optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationPatch {
    pub name: Option<IntegrationName>,
    pub urls: Option<BTreeMap<UrlKey, EndpointUrl>>,
    pub credentials: BTreeMap<&'static str, CredentialChange>,
}

fn parse_urls(
    tool: &ToolSpec,
    raw: &BTreeMap<String, String>,
    errors: &mut ValidationErrors,
) -> BTreeMap<UrlKey, EndpointUrl> {
    let mut urls = BTreeMap::new();
    let mut extras = 0usize;
    for field in tool.url_fields.iter().filter(|field| field.required) {
        if !raw.contains_key(field.key) {
            errors.push(
                format!("urls.{}", field.key),
                FieldErrorCode::Required,
                format!("{} is required", field.label),
            );
        }
    }
    for (key, value) in raw {
        let path = format!("urls.{key}");
        let Some(key) = errors.take(&path, UrlKey::parse(key)) else {
            continue;
        };
        if tool.url_field(key.as_str()).is_none() {
            extras += 1;
        }
        if let Some(url) = errors.take(&path, EndpointUrl::parse(value)) {
            urls.insert(key, url);
        }
    }
    if extras > EXTRA_URLS_MAX {
        errors.push(
            "urls",
            FieldErrorCode::TooMany,
            format!("at most {EXTRA_URLS_MAX} URLs besides the tool's own"),
        );
    }
    urls
}

fn parse_credentials(
    tool: &ToolSpec,
    raw: &BTreeMap<String, Option<String>>,
    errors: &mut ValidationErrors,
) -> BTreeMap<&'static str, CredentialChange> {
    let mut changes = BTreeMap::new();
    for (key, value) in raw {
        let path = format!("credentials.{key}");
        let Some(field) = tool.credential_field(key) else {
            let known: Vec<_> = tool.credential_fields.iter().map(|f| f.key).collect();
            errors.push(
                path,
                FieldErrorCode::UnknownField,
                format!(
                    "{} has no credential field {key:?}; its fields are {}",
                    tool.name,
                    known.join(", ")
                ),
            );
            continue;
        };
        let change = match value {
            None => Some(CredentialChange::Clear),
            Some(value) => errors
                .take(&path, CredentialValue::parse(value))
                .map(CredentialChange::Set),
        };
        if let Some(change) = change {
            changes.insert(field.key, change);
        }
    }
    changes
}

/// Reports every required credential that would be missing after `changes`, given which
/// fields are already stored.
fn check_required_credentials(
    tool: &ToolSpec,
    stored: &dyn Fn(&str) -> bool,
    raw: &BTreeMap<String, Option<String>>,
    changes: &BTreeMap<&'static str, CredentialChange>,
    errors: &mut ValidationErrors,
) {
    for field in tool.credential_fields.iter().filter(|field| field.required) {
        if matches!(raw.get(field.key), Some(Some(_))) && !changes.contains_key(field.key) {
            continue; // a value was sent but rejected: that error is already reported
        }
        let present = match changes.get(field.key) {
            Some(CredentialChange::Set(_)) => true,
            Some(CredentialChange::Clear) => false,
            None => stored(field.key),
        };
        if !present {
            errors.push(
                format!("credentials.{}", field.key),
                FieldErrorCode::Required,
                format!("{} is required for {}", field.label, tool.name),
            );
        }
    }
}

/// `POST /api/v1/integrations`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "name": "Jenkins",
    "tool": "jenkins",
    "urls": {"apiUrl": "https://jenkins.example.com/"},
    "credentials": {"username": "alice", "apiToken": "11aa22bb33cc44dd55ee66ff77889900aa"}
})))]
pub struct CreateIntegrationRequest {
    /// A friendly name, unique ignoring case (1–100 characters after trimming).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, pattern = r"\S"))]
    pub name: String,
    /// The id of an approved, enabled tool (see `GET /api/v1/tools`).
    pub tool: String,
    /// The tool's required URL keys plus up to 20 more, each an absolute http(s) URL.
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    /// The tool's credential fields; `null` or absent leaves a field unset.
    #[serde(default)]
    pub credentials: BTreeMap<String, Option<String>>,
    /// Why it is needed: required while approval is on (the integration then becomes a
    /// change request, answered with 202); ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_need: Option<String>,
}

impl fmt::Debug for CreateIntegrationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateIntegrationRequest")
            .field("name", &self.name)
            .field("tool", &self.tool)
            .field("urls", &self.urls)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CreateIntegrationRequest {
    /// Checks the body against `tool` (already known to be approved and enabled).
    pub fn parse(&self, tool: &'static ToolSpec) -> Result<IntegrationDraft, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.take("name", IntegrationName::parse(&self.name));
        let urls = parse_urls(tool, &self.urls, &mut errors);
        let mut credentials = parse_credentials(tool, &self.credentials, &mut errors);
        // On create, null means "not set": there is nothing to clear yet.
        credentials.retain(|_, change| matches!(change, CredentialChange::Set(_)));
        check_required_credentials(
            tool,
            &|_| false,
            &self.credentials,
            &credentials,
            &mut errors,
        );
        match name {
            Some(name) if errors.is_empty() => Ok(IntegrationDraft {
                name,
                tool,
                urls,
                credentials,
            }),
            _ => Err(errors),
        }
    }
}

/// `PATCH /api/v1/integrations/{id}`: absent parts are kept.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "name": "Jenkins (production)",
    "credentials": {"apiToken": "99ff88ee77dd66cc55bb44aa3322110099"}
})))]
pub struct UpdateIntegrationRequest {
    /// A new name (1–100 characters after trimming).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, pattern = r"\S"))]
    pub name: Option<String>,
    /// Replaces the whole URL set when present.
    #[serde(default)]
    pub urls: Option<BTreeMap<String, String>>,
    /// Per field: absent = keep, `null` = clear, a value = replace.
    #[serde(default)]
    pub credentials: BTreeMap<String, Option<String>>,
    /// Why it is needed: required while approval is on when the change touches URLs or
    /// secrets (it then becomes a change request, answered with 202); ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_need: Option<String>,
}

impl fmt::Debug for UpdateIntegrationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateIntegrationRequest")
            .field("name", &self.name)
            .field("urls", &self.urls)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What a saved integration holds now, as far as a change to it needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentSettings {
    /// Its URLs by key, as stored.
    pub urls: BTreeMap<String, String>,
    /// The credential fields that hold a value.
    pub filled: BTreeSet<String>,
}

impl CurrentSettings {
    pub fn has_credential(&self, key: &str) -> bool {
        self.filled.contains(key)
    }
}

/// The origin (scheme, host and port) requests to `raw` go to, e.g. `https://ci.example:443`
/// written as the URL standard serialises it; `None` when `raw` is not an absolute URL.
pub fn origin_of(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// One of a tool's own URLs that now points at another origin than it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginMove {
    pub from: String,
    pub to: String,
}

/// Whether `after` points one of `tool`'s own URLs (the registry's URL fields, the ones a
/// connector sends credentials to) at another origin than the same URL had in `before`. A
/// stored secret was entered for those origins; it is never carried to another one. A new
/// path on the same origin is no move; extra URLs (links for people) never receive
/// credentials and do not count.
pub fn origin_move<'a>(
    tool: &ToolSpec,
    before: &BTreeMap<String, String>,
    after: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<OriginMove> {
    after.into_iter().find_map(|(key, raw)| {
        tool.url_field(key)?;
        let to = origin_of(raw)?;
        let from = before.get(key).and_then(|old| origin_of(old));
        match from {
            Some(from) if from == to => None,
            from => Some(OriginMove {
                from: from.unwrap_or_else(|| "nowhere".to_owned()),
                to,
            }),
        }
    })
}

/// After an [`OriginMove`], every secret field that holds a value must be entered again
/// (or cleared): `sent` tells which ones the request carries.
pub fn require_secrets_again(
    tool: &ToolSpec,
    moved: &OriginMove,
    current: &CurrentSettings,
    sent: &dyn Fn(&str) -> bool,
    errors: &mut ValidationErrors,
) {
    for field in tool.credential_fields.iter().filter(|field| field.secret) {
        if current.has_credential(field.key) && !sent(field.key) {
            errors.push(
                format!("credentials.{}", field.key),
                FieldErrorCode::ReenterSecret,
                format!(
                    "the URLs now lead to {} instead of {}: enter the {} again (a stored secret is only ever sent to the origin it was entered for)",
                    moved.to, moved.from, field.label
                ),
            );
        }
    }
}

impl UpdateIntegrationRequest {
    /// Checks the body against `tool` and what the integration holds now.
    pub fn parse(
        &self,
        tool: &'static ToolSpec,
        current: &CurrentSettings,
    ) -> Result<IntegrationPatch, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match &self.name {
            Some(raw) => errors.take("name", IntegrationName::parse(raw)),
            None => None,
        };
        let urls = self
            .urls
            .as_ref()
            .map(|raw| parse_urls(tool, raw, &mut errors));
        let credentials = parse_credentials(tool, &self.credentials, &mut errors);
        let stored = |key: &str| current.has_credential(key);
        check_required_credentials(tool, &stored, &self.credentials, &credentials, &mut errors);
        if let Some(raw_urls) = &self.urls
            && let Some(moved) = origin_move(
                tool,
                &current.urls,
                raw_urls
                    .iter()
                    .map(|(key, url)| (key.as_str(), url.as_str())),
            )
        {
            require_secrets_again(
                tool,
                &moved,
                current,
                &|key| self.credentials.contains_key(key),
                &mut errors,
            );
        }
        errors.into_result(|| IntegrationPatch {
            name,
            urls,
            credentials,
        })
    }
}

/// Where an integration stands with its tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    /// Saved, but its connection has not been checked since.
    Untested,
    /// The last connection check succeeded.
    Connected,
    /// The last connection check failed; `last_check` says why.
    Failed,
    /// A new integration waiting for its change request's approval: never checked, synced
    /// or triggered until then (`change_request_id` names the request).
    PendingApproval,
}

impl IntegrationStatus {
    /// What a connection check makes of an integration: `connected` or `failed`.
    pub fn after(check: &crate::check::ConnectionCheck) -> Self {
        if check.ok {
            Self::Connected
        } else {
            Self::Failed
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Untested => "untested",
            Self::Connected => "connected",
            Self::Failed => "failed",
            Self::PendingApproval => "pending_approval",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "untested" => Some(Self::Untested),
            "connected" => Some(Self::Connected),
            "failed" => Some(Self::Failed),
            "pending_approval" => Some(Self::PendingApproval),
            _ => None,
        }
    }
}

/// A secret credential as it reads back: whether it is set, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretState {
    pub configured: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A credential as it reads back: plain fields show their value, secret fields their state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum CredentialView {
    Plain(String),
    Secret(SecretState),
}

/// An integration as the API returns it. Secret values are never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "0193a5c1-7d2e-7c41-9a43-5b1f0e7d2a10",
    "name": "Jenkins",
    "tool": "jenkins",
    "urls": {"apiUrl": "https://jenkins.example.com/"},
    "credentials": {"username": "alice", "apiToken": {"configured": true, "updated_at": "2026-11-25T09:00:00Z"}},
    "status": "connected",
    "last_check": {"ok": true, "category": null, "message": "Connected to Jenkins 2.479.3 as alice", "hint": null,
        "tool_version": "2.479.3", "authenticated_as": "alice", "permissions": ["Overall/Read"], "latency_ms": 23,
        "checked_at": "2026-11-25T09:00:00Z"},
    "last_sync": {"added": 12, "updated": 0, "removed": 0, "total": 12, "requests": 3, "duration_ms": 95,
        "synced_at": "2026-11-25T09:00:01Z"},
    "pipelines": 12,
    "version": 1,
    "created_at": "2026-11-25T09:00:00Z",
    "updated_at": "2026-11-25T09:00:00Z",
    "created_by": "admin"
})))]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub tool: String,
    pub urls: BTreeMap<String, String>,
    /// Plain fields by value; every secret field of the tool as `{configured, updated_at}`.
    pub credentials: BTreeMap<String, CredentialView>,
    pub status: IntegrationStatus,
    /// The most recent connection check (on save, on demand or periodic); `null` before the first.
    pub last_check: Option<ConnectionCheck>,
    /// The most recent successful discovery of pipelines; `null` before the first.
    pub last_sync: Option<SyncReport>,
    /// How many pipelines the tool has (removed ones not counted).
    pub pipelines: u64,
    /// Increases with every change; send it back in `If-Match` to update safely.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The user name of whoever created it.
    pub created_by: String,
    /// While its status is `pending_approval`: the change request that would add it.
    #[serde(default)]
    pub change_request_id: Option<String>,
}

/// One page of integrations, ordered by name ignoring case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntegrationPage {
    pub items: Vec<Integration>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{BUILDBOT, JENKINS};

    fn jenkins_request() -> CreateIntegrationRequest {
        CreateIntegrationRequest {
            name: "  Jenkins  ".into(),
            tool: "jenkins".into(),
            urls: BTreeMap::from([("apiUrl".into(), "https://ci.example.com/jenkins/".into())]),
            credentials: BTreeMap::from([
                ("username".into(), Some("alice".into())),
                ("apiToken".into(), Some("t0ken".into())),
            ]),
            business_need: None,
        }
    }

    fn codes(errors: &ValidationErrors) -> Vec<(String, FieldErrorCode)> {
        errors
            .errors()
            .iter()
            .map(|e| (e.field.clone(), e.code))
            .collect()
    }

    #[test]
    fn a_complete_jenkins_request_parses_with_a_trimmed_name() {
        let draft = jenkins_request().parse(&JENKINS).expect("valid");
        assert_eq!(draft.name.as_str(), "Jenkins");
        assert_eq!(draft.name.key(), "jenkins");
        assert_eq!(draft.credentials.len(), 2);
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(
            IntegrationName::parse("   ").map_err(|e| e.0),
            Err(FieldErrorCode::Blank)
        );
        assert!(IntegrationName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            IntegrationName::parse(&"é".repeat(101)).map_err(|e| e.0),
            Err(FieldErrorCode::TooLong)
        );
        assert_eq!(
            IntegrationName::parse("a\u{7}b").map_err(|e| e.0),
            Err(FieldErrorCode::InvalidFormat)
        );
    }

    #[test]
    fn names_refuse_invisible_and_direction_changing_characters() {
        for sneaky in [
            "Jenkins\u{200B}",            // zero-width space
            "Jen\u{200D}kins",            // zero-width joiner
            "\u{FEFF}Jenkins",            // byte-order mark
            "Jenkins \u{202E}noitcudorp", // right-to-left override
            "\u{2067}Jenkins\u{2069}",    // right-to-left isolate
            "Jenkins\u{200F}",            // right-to-left mark
        ] {
            assert_eq!(
                IntegrationName::parse(sneaky).map_err(|e| e.0),
                Err(FieldErrorCode::InvalidFormat),
                "{sneaky:?}"
            );
        }
        assert!(IntegrationName::parse("Jenkins (production) — Zürich 東京").is_ok());
    }

    #[test]
    fn url_keys_follow_the_pattern() {
        assert!(UrlKey::parse("apiUrl").is_ok());
        assert!(UrlKey::parse("web.ui-2_x").is_ok());
        assert!(UrlKey::parse(&format!("a{}", "b".repeat(63))).is_ok());
        assert_eq!(
            UrlKey::parse(&format!("a{}", "b".repeat(64))).map_err(|e| e.0),
            Err(FieldErrorCode::TooLong)
        );
        for bad in ["", "1abc", "_x", "a b", "a/b", "ключ"] {
            assert_eq!(
                UrlKey::parse(bad).map_err(|e| e.0),
                Err(FieldErrorCode::InvalidFormat),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn urls_must_be_absolute_http_with_a_host_and_no_userinfo() {
        assert!(EndpointUrl::parse("http://10.0.0.5:8080/").is_ok());
        assert_eq!(
            EndpointUrl::parse("ftp://x.example/").map_err(|e| e.0),
            Err(FieldErrorCode::UnsupportedScheme)
        );
        assert_eq!(
            EndpointUrl::parse("/relative").map_err(|e| e.0),
            Err(FieldErrorCode::InvalidUrl)
        );
        assert_eq!(
            EndpointUrl::parse("https://").map_err(|e| e.0),
            Err(FieldErrorCode::InvalidUrl)
        );
        assert_eq!(
            EndpointUrl::parse("https://bob:pw@x.example/").map_err(|e| e.0),
            Err(FieldErrorCode::CredentialsInUrl)
        );
        assert_eq!(
            EndpointUrl::parse("https://bob@x.example/").map_err(|e| e.0),
            Err(FieldErrorCode::CredentialsInUrl)
        );
        let long = format!("https://x.example/{}", "a".repeat(URL_MAX_CHARS));
        assert_eq!(
            EndpointUrl::parse(&long).map_err(|e| e.0),
            Err(FieldErrorCode::TooLong)
        );
    }

    #[test]
    fn every_problem_in_a_request_is_reported_with_its_field() {
        let mut request = jenkins_request();
        request.name = String::new();
        request.urls = BTreeMap::from([("docs".into(), "notaurl".into())]);
        request.credentials = BTreeMap::from([
            ("password".into(), Some("x".into())),
            ("username".into(), Some(String::new())),
        ]);
        let errors = request.parse(&JENKINS).expect_err("invalid");
        let found = codes(&errors);
        for expected in [
            ("name".to_owned(), FieldErrorCode::Blank),
            ("urls.apiUrl".to_owned(), FieldErrorCode::Required),
            ("urls.docs".to_owned(), FieldErrorCode::InvalidUrl),
            (
                "credentials.password".to_owned(),
                FieldErrorCode::UnknownField,
            ),
            ("credentials.username".to_owned(), FieldErrorCode::Blank),
            ("credentials.apiToken".to_owned(), FieldErrorCode::Required),
        ] {
            assert!(
                found.contains(&expected),
                "{expected:?} missing from {found:?}"
            );
        }
    }

    #[test]
    fn at_most_twenty_extra_urls() {
        let mut request = jenkins_request();
        for i in 0..EXTRA_URLS_MAX {
            request
                .urls
                .insert(format!("extra{i}"), format!("https://x{i}.example/"));
        }
        assert!(request.parse(&JENKINS).is_ok());
        request
            .urls
            .insert("oneTooMany".into(), "https://y.example/".into());
        let errors = request.parse(&JENKINS).expect_err("too many");
        assert_eq!(
            codes(&errors),
            vec![("urls".to_owned(), FieldErrorCode::TooMany)]
        );
    }

    #[test]
    fn credential_values_are_bounded_and_never_debug_printed() {
        let mut request = jenkins_request();
        request.credentials.insert(
            "apiToken".into(),
            Some("x".repeat(CREDENTIAL_MAX_CHARS + 1)),
        );
        let errors = request.parse(&JENKINS).expect_err("too long");
        assert_eq!(
            codes(&errors),
            vec![("credentials.apiToken".to_owned(), FieldErrorCode::TooLong)]
        );
        let printed = format!(
            "{:?} {:?}",
            jenkins_request(),
            CredentialValue::parse("t0ken")
        );
        assert!(!printed.contains("t0ken"), "{printed}");
    }

    #[test]
    fn patch_keeps_clears_or_replaces_secrets() {
        let stored = CurrentSettings {
            urls: BTreeMap::from([("apiUrl".into(), "https://ci.example/".into())]),
            filled: BTreeSet::from(["apiToken".into(), "username".into()]),
        };
        let keep = UpdateIntegrationRequest::default()
            .parse(&JENKINS, &stored)
            .expect("empty patch");
        assert!(keep.credentials.is_empty() && keep.name.is_none() && keep.urls.is_none());

        let replace = UpdateIntegrationRequest {
            credentials: BTreeMap::from([("apiToken".into(), Some("new".into()))]),
            ..Default::default()
        };
        let patch = replace.parse(&JENKINS, &stored).expect("replace");
        assert!(
            matches!(patch.credentials.get("apiToken"), Some(CredentialChange::Set(v)) if v.expose() == "new")
        );

        let clear_required = UpdateIntegrationRequest {
            credentials: BTreeMap::from([("apiToken".into(), None)]),
            ..Default::default()
        };
        let errors = clear_required
            .parse(&JENKINS, &stored)
            .expect_err("required");
        assert_eq!(
            codes(&errors),
            vec![("credentials.apiToken".to_owned(), FieldErrorCode::Required)]
        );

        let clear_optional = UpdateIntegrationRequest {
            credentials: BTreeMap::from([("password".into(), None)]),
            ..Default::default()
        };
        let buildbot_stored = CurrentSettings {
            urls: BTreeMap::from([("url".into(), "https://bb.example/".into())]),
            filled: BTreeSet::from(["username".into(), "password".into()]),
        };
        let patch = clear_optional
            .parse(&BUILDBOT, &buildbot_stored)
            .expect("optional clear");
        assert_eq!(
            patch.credentials.get("password"),
            Some(&CredentialChange::Clear)
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let before = BTreeMap::from([
            (
                "apiUrl".to_owned(),
                "https://ci.example/jenkins/".to_owned(),
            ),
            ("docs".to_owned(), "https://wiki.example/ci".to_owned()),
        ]);
        let moved = |raw: &str| origin_move(&JENKINS, &before, [("apiUrl", raw)]);
        assert_eq!(moved("https://ci.example/other/path"), None);
        assert_eq!(moved("https://CI.example:443/"), None);
        for elsewhere in [
            "http://ci.example/jenkins/",
            "https://ci.example:8443/jenkins/",
            "https://ci.example.attacker.test/",
            "https://127.0.0.1/",
        ] {
            let found = moved(elsewhere).expect(elsewhere);
            assert_eq!(found.from, "https://ci.example");
            assert_eq!(Some(found.to), origin_of(elsewhere));
        }
        // Unparseable URLs are refused by their own rule, not taken for a move.
        assert_eq!(moved("not a url"), None);
        // The API URL may not take the origin of an extra URL (a link for people) …
        assert!(moved("https://wiki.example/jenkins/").is_some());
        // … and extra URLs never receive credentials: they go where they like.
        assert_eq!(
            origin_move(&JENKINS, &before, [("docs", "https://elsewhere.example/")]),
            None
        );
    }

    #[test]
    fn a_patch_that_moves_the_origin_needs_the_secrets_again() {
        let current = CurrentSettings {
            urls: BTreeMap::from([("apiUrl".into(), "https://ci.example/".into())]),
            filled: BTreeSet::from(["apiToken".into(), "username".into()]),
        };
        let to = |url: &str| UpdateIntegrationRequest {
            urls: Some(BTreeMap::from([("apiUrl".into(), url.into())])),
            ..Default::default()
        };
        to("https://ci.example/new-path/")
            .parse(&JENKINS, &current)
            .expect("same origin keeps the secrets");
        let errors = to("https://other.example/")
            .parse(&JENKINS, &current)
            .expect_err("another origin");
        assert_eq!(
            codes(&errors),
            vec![(
                "credentials.apiToken".to_owned(),
                FieldErrorCode::ReenterSecret
            )]
        );
        let mut again = to("https://other.example/");
        again
            .credentials
            .insert("apiToken".into(), Some("fresh".into()));
        again
            .parse(&JENKINS, &current)
            .expect("the secret entered again");
    }

    #[test]
    fn an_integration_reads_back_in_the_documented_shape() {
        let view = BTreeMap::from([
            ("username".to_owned(), CredentialView::Plain("alice".into())),
            (
                "apiToken".to_owned(),
                CredentialView::Secret(SecretState {
                    configured: true,
                    updated_at: None,
                }),
            ),
        ]);
        let json = serde_json::to_value(&view).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"username": "alice", "apiToken": {"configured": true, "updated_at": null}})
        );
    }
}
