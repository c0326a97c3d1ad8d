//! The error taxonomy (docs/design.md §6): every connector failure is one [`Category`] the user
//! can act on, a message saying what happened and a one-line hint saying what to do about it.

use serde::{Deserialize, Serialize};
pub use switchboard_domain::check::Category;
use url::Url;

/// A connector failure: what kind, what happened, what to do.
///
/// Neither `message` nor `hint` may ever contain a secret: URLs go in through
/// [`display_url`], which drops user info, query and fragment, and credentials never go in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
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

    /// The same error with each of `secrets` (a password parameter's value, a stored token or
    /// password) replaced in its message and hint, in case the tool quoted it back. Empty
    /// values are left alone.
    pub fn without(mut self, secrets: &[&str]) -> Self {
        for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
            self.message = self.message.replace(secret, "********");
            self.hint = self.hint.replace(secret, "********");
        }
        self
    }

    /// An error with the category's [generic hint](Category::generic_hint).
    pub fn generic(category: Category, message: impl Into<String>) -> Self {
        Self::new(category, message, category.generic_hint())
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
    fn without_replaces_every_secret_in_message_and_hint() {
        let error = ConnectorError::new(
            Category::Protocol,
            "Buildbot said deploy_key:'hunter2' does not match pattern '^k-'",
            "hunter2 again",
        );
        let scrubbed = error.without(&["hunter2", ""]);
        assert!(!scrubbed.message.contains("hunter2") && !scrubbed.hint.contains("hunter2"));
        assert_eq!(
            scrubbed.message,
            "Buildbot said deploy_key:'********' does not match pattern '^k-'"
        );
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
