//! The error taxonomy (DESIGN §6): every connector failure is one [`Category`] the user can act
//! on, a message saying what happened and a one-line hint saying what to do about it.

use serde::{Deserialize, Serialize};
use std::fmt;
use url::Url;

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
                "Give the tool a certificate for this host name from a CA the Switchboard server trusts, or add its CA to the Switchboard server's trust store."
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

/// A connector failure: what kind, what happened, what to do.
///
/// Neither `message` nor `hint` may ever contain a secret: URLs go in through
/// [`display_url`], which drops user info, query and fragment, and credentials never go in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{category}: {message}")]
pub struct ConnectorError {
    /// The kind of failure.
    pub category: Category,
    /// What happened, in one sentence (for example "ci.example.com:443 refused the connection").
    pub message: String,
    /// What to do about it, in one line.
    pub hint: String,
}

impl ConnectorError {
    /// An error with a specific hint.
    pub fn new(category: Category, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            category,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// An error with the category's [generic hint](Category::generic_hint).
    pub fn generic(category: Category, message: impl Into<String>) -> Self {
        Self::new(category, message, category.generic_hint())
    }

    /// The same error with another hint (a connector knows more than the HTTP client).
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// The same error in another category, keeping message and hint.
    #[must_use]
    pub fn with_category(mut self, category: Category) -> Self {
        self.category = category;
        self
    }
}

/// A URL as it may appear in a message: without user info, query or fragment (a query can
/// carry a token, e.g. Jenkins' `?token=` build triggers).
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials; then there is nothing to drop.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
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
    fn error_serializes_with_its_three_fields() {
        let error = ConnectorError::new(
            Category::BadCredentials,
            "Jenkins answered 401 to alice's API token",
            "Jenkins rejected the API token for user alice: create a new token under People → alice → Security",
        );
        let json = serde_json::to_value(&error).expect("serializes");
        assert_eq!(json["category"], "bad_credentials");
        assert_eq!(json["message"], "Jenkins answered 401 to alice's API token");
        assert!(
            json["hint"]
                .as_str()
                .is_some_and(|h| h.contains("People → alice"))
        );
    }

    #[test]
    fn displayed_urls_carry_no_secrets() {
        let url = Url::parse("https://alice:s3cret@ci.example.com/job/x/build?token=t0ken#frag")
            .expect("valid");
        let shown = display_url(&url);
        assert_eq!(shown, "https://ci.example.com/job/x/build");
    }
}
