//! Connection checks and syncs as the API reports them, and the failure taxonomy
//! (docs/design.md §6) every connector maps its errors to.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What kind of failure a connector met, from the user's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The URL cannot be used: not http/https, malformed, credentials in it, or it leads
    /// (directly, by DNS or by a redirect) somewhere the outbound policy does not allow.
    InvalidUrl,
    /// The host name did not resolve.
    Dns,
    /// No connection: refused, reset, unreachable.
    Connect,
    /// The TLS handshake failed (untrusted or mismatched certificate, not TLS at all, ...).
    Tls,
    /// Connecting, or the whole exchange, took longer than the configured bound.
    Timeout,
    /// The tool rejected the credentials (401).
    BadCredentials,
    /// The credentials are valid but lack a permission (403).
    Forbidden,
    /// The URL or path does not exist, or the user may not see it (404).
    NotFound,
    /// Something answered, but it is not the tool the integration claims.
    NotThatTool,
    /// The tool failed (5xx).
    UpstreamError,
    /// The answer was not what the tool's API returns (unexpected body, too large, not HTTP).
    Protocol,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 11] = [
        Category::InvalidUrl,
        Category::Dns,
        Category::Connect,
        Category::Tls,
        Category::Timeout,
        Category::BadCredentials,
        Category::Forbidden,
        Category::NotFound,
        Category::NotThatTool,
        Category::UpstreamError,
        Category::Protocol,
    ];

    /// The wire name (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::InvalidUrl => "invalid_url",
            Category::Dns => "dns",
            Category::Connect => "connect",
            Category::Tls => "tls",
            Category::Timeout => "timeout",
            Category::BadCredentials => "bad_credentials",
            Category::Forbidden => "forbidden",
            Category::NotFound => "not_found",
            Category::NotThatTool => "not_that_tool",
            Category::UpstreamError => "upstream_error",
            Category::Protocol => "protocol",
        }
    }

    /// The category an HTTP error status falls in, if it is one the taxonomy names
    /// (401, 403, 404, 5xx). Connectors refine this with what the tool says (e.g. Jenkins'
    /// `X-Required-Permission`), and decide themselves what other statuses mean.
    pub fn from_status(status: u16) -> Option<Category> {
        match status {
            401 => Some(Category::BadCredentials),
            403 => Some(Category::Forbidden),
            404 => Some(Category::NotFound),
            500..=599 => Some(Category::UpstreamError),
            _ => None,
        }
    }

    /// A tool-independent, one-line hint for this category. Connectors should prefer a
    /// specific one (naming the user, the permission, the URL) when they know more.
    pub fn generic_hint(self) -> &'static str {
        match self {
            Category::InvalidUrl => {
                "Check the URL: it must be the http:// or https:// address of the tool itself, with no credentials in it."
            }
            Category::Dns => {
                "Check the host name for typos and that the Switchboard server's DNS can resolve it."
            }
            Category::Connect => {
                "Check the host and port, that the tool is running, and that no firewall blocks the Switchboard server."
            }
            Category::Tls => {
                "Give the tool a certificate for this host name from a CA the Switchboard server trusts, or add its CA to the certificates Switchboard trusts (SWITCHBOARD_OUTBOUND_CA_FILE)."
            }
            Category::Timeout => {
                "Check that the tool is up and reachable from the Switchboard server; a firewall that drops traffic silently looks like this."
            }
            Category::BadCredentials => {
                "Check the user name, create a new API token in the tool and replace the integration's token with it."
            }
            Category::Forbidden => {
                "Grant the integration's user the missing permission in the tool, or use a user that has it."
            }
            Category::NotFound => {
                "Check the URL, including any path prefix such as /jenkins, and that the item exists and the user may see it."
            }
            Category::NotThatTool => {
                "Check that the URL points at the tool itself, not at a login page, a proxy or another service."
            }
            Category::UpstreamError => {
                "The tool reported an internal error: check its logs, then try again."
            }
            Category::Protocol => {
                "The answer is not what the tool's API returns: check the URL, the tool's version and any proxy in between."
            }
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a connection check, as `POST /integrations/{id}/test` answers it and as an
/// integration keeps its last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "ok": false,
    "category": "bad_credentials",
    "message": "Jenkins refused the credentials of alice (401 at https://jenkins.example.com/whoAmI/api/json)",
    "hint": "Jenkins rejected the API token for user alice: create a new token under People → alice → Security",
    "tool_version": null,
    "authenticated_as": null,
    "permissions": [],
    "latency_ms": 12,
    "checked_at": "2026-11-25T09:00:00Z"
})))]
pub struct ConnectionCheck {
    /// Whether the tool accepted the URL and credentials.
    pub ok: bool,
    /// The kind of failure; `null` when `ok`.
    pub category: Option<Category>,
    /// What happened, in one sentence.
    pub message: String,
    /// What to do about a failure, in one line; `null` when `ok`.
    pub hint: Option<String>,
    /// The tool's version, when it told.
    pub tool_version: Option<String>,
    /// The user the tool says the credentials belong to.
    pub authenticated_as: Option<String>,
    /// The permissions the check verified the user has (tool-specific names).
    pub permissions: Vec<String>,
    /// How long the check's requests took, in milliseconds.
    pub latency_ms: Option<u64>,
    pub checked_at: DateTime<Utc>,
}

/// Test a connection before saving: the fields of an integration being added or edited.
/// With `id`, the stored integration's credentials fill the secret fields the draft leaves
/// out (or sets to `null`), so an admin editing an integration never re-types its token.
/// Its `Debug` names the credential fields, never their values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": null,
    "tool": "jenkins",
    "urls": {"apiUrl": "https://jenkins.example.com/"},
    "credentials": {"username": "alice", "apiToken": "11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2"}
})))]
#[serde(deny_unknown_fields)]
pub struct TestDraftRequest {
    /// The integration being edited, if any.
    #[serde(default)]
    pub id: Option<String>,
    /// A tool id from the registry; with `id`, it must be the integration's tool.
    pub tool: String,
    /// Ignored by the check; accepted so the dialog can send its whole form.
    #[serde(default)]
    pub name: Option<String>,
    pub urls: BTreeMap<String, String>,
    #[serde(default)]
    pub credentials: BTreeMap<String, Option<String>>,
}

impl std::fmt::Debug for TestDraftRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDraftRequest")
            .field("id", &self.id)
            .field("tool", &self.tool)
            .field("name", &self.name)
            .field("urls", &self.urls)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What one discovery run changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "added": 12, "updated": 3, "removed": 1, "total": 42, "requests": 4, "duration_ms": 180,
    "synced_at": "2026-11-25T09:00:00Z"
})))]
pub struct SyncReport {
    /// Pipelines seen for the first time (or seen again after being removed).
    pub added: u64,
    /// Known pipelines whose definition or last build changed.
    pub updated: u64,
    /// Pipelines the tool no longer has; they are kept, marked removed, with their runs.
    pub removed: u64,
    /// Pipelines the tool has now.
    pub total: u64,
    /// HTTP requests the discovery sent to the tool.
    pub requests: u64,
    pub duration_ms: u64,
    pub synced_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_serialize_snake_case() {
        for category in Category::ALL {
            let json = serde_json::to_string(&category).expect("serializes");
            assert_eq!(json, format!("\"{}\"", category.as_str()));
            let back: Category = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(back, category);
        }
    }

    #[test]
    fn every_category_has_a_one_line_hint() {
        for category in Category::ALL {
            let hint = category.generic_hint();
            assert!(!hint.is_empty() && !hint.contains('\n'), "{category}");
        }
    }

    #[test]
    fn statuses_map_to_categories() {
        assert_eq!(Category::from_status(401), Some(Category::BadCredentials));
        assert_eq!(Category::from_status(403), Some(Category::Forbidden));
        assert_eq!(Category::from_status(404), Some(Category::NotFound));
        assert_eq!(Category::from_status(502), Some(Category::UpstreamError));
        assert_eq!(Category::from_status(200), None);
        assert_eq!(Category::from_status(409), None);
    }

    #[test]
    fn a_draft_test_request_never_shows_a_credential_in_debug() {
        let request: TestDraftRequest = serde_json::from_value(serde_json::json!({
            "tool": "jenkins",
            "urls": {"apiUrl": "https://ci.example.com/"},
            "credentials": {"username": "alice", "apiToken": "token-value-0123456789"}
        }))
        .expect("valid");
        let shown = format!("{request:?}");
        assert!(
            !shown.contains("token-value") && !shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("apiToken"), "{shown}");
    }
}
