//! Machine-readable error codes and the RFC 9457 problem document.

use serde::{Deserialize, Serialize};

/// What went wrong, as a stable value clients can match on (`code` in every problem body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON or does not have the documented shape (400).
    MalformedBody,
    /// A query or path parameter is malformed (400).
    InvalidParameter,
    /// No credentials, or credentials that are invalid or expired (401).
    Unauthenticated,
    /// Sign-in failed: unknown user, wrong password or disabled account (401).
    InvalidLogin,
    /// The caller's role does not allow this (403).
    Forbidden,
    /// No such resource or route (404).
    NotFound,
    /// The HTTP method is not allowed on this route (405).
    MethodNotAllowed,
    /// The name is already used (409).
    NameTaken,
    /// The change would leave the organisation without an enabled administrator (409).
    LastAdmin,
    /// The `If-Match` version is not the current one (412).
    VersionMismatch,
    /// The body is larger than the API accepts (413).
    PayloadTooLarge,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// One or more fields are invalid; see `errors` (422).
    ValidationFailed,
    /// The tool is not approved, or an administrator switched it off (422).
    ToolNotApproved,
    /// Too many attempts; retry after the `Retry-After` seconds (429).
    RateLimited,
    /// The pipeline cannot be triggered: the tool disabled it or no longer has it (409).
    PipelineNotBuildable,
    /// The run has already finished (409).
    RunFinished,
    /// A request with this `Idempotency-Key` is still being processed; retry shortly (409).
    IdempotencyKeyInUse,
    /// This `Idempotency-Key` was used with another request (another body or operation) (422).
    IdempotencyKeyReused,
    /// The CI/CD tool failed or answered badly; see `category` and `hint` (502).
    ToolError,
    /// The CI/CD tool did not answer in time (504).
    ToolTimeout,
    /// The database cannot be reached (503).
    DatabaseUnavailable,
    /// An author of a change request may not approve or review it (403).
    SelfApproval,
    /// The integration waits for approval: it is not checked, synced, triggered or edited
    /// until its change request is approved (409).
    PendingApproval,
    /// The change request is not in a state that allows this (409).
    RequestNotOpen,
    /// The review names an older revision than the request's current one (409).
    StaleRevision,
    /// The caller already reviewed this revision (409).
    AlreadyReviewed,
    /// What the request changes changed since it was written: it is now in state `conflict`
    /// and its author rebases it as a new revision (409).
    RequestConflict,
    /// The API token has expired; make a new one (401).
    TokenExpired,
    /// The API token was revoked (401).
    TokenRevoked,
    /// The API token does not carry the scope this operation needs (403).
    InsufficientScope,
    /// An unexpected failure; the details are in the server log (500).
    Internal,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedBody => "malformed_body",
            Self::InvalidParameter => "invalid_parameter",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidLogin => "invalid_login",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NameTaken => "name_taken",
            Self::LastAdmin => "last_admin",
            Self::VersionMismatch => "version_mismatch",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ValidationFailed => "validation_failed",
            Self::ToolNotApproved => "tool_not_approved",
            Self::RateLimited => "rate_limited",
            Self::PipelineNotBuildable => "pipeline_not_buildable",
            Self::RunFinished => "run_finished",
            Self::IdempotencyKeyInUse => "idempotency_key_in_use",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::ToolError => "tool_error",
            Self::ToolTimeout => "tool_timeout",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::SelfApproval => "self_approval",
            Self::PendingApproval => "pending_approval",
            Self::RequestNotOpen => "request_not_open",
            Self::StaleRevision => "stale_revision",
            Self::AlreadyReviewed => "already_reviewed",
            Self::RequestConflict => "request_conflict",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
            Self::InsufficientScope => "insufficient_scope",
            Self::Internal => "internal",
        }
    }
}

/// Why one field was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    Required,
    Blank,
    TooLong,
    TooShort,
    TooMany,
    InvalidFormat,
    InvalidUrl,
    UnsupportedScheme,
    CredentialsInUrl,
    UnknownField,
    NotApproved,
    Taken,
    /// A value of the wrong JSON type (e.g. text for a boolean parameter).
    WrongType,
    /// A value outside a choice parameter's list.
    NotAChoice,
    /// A stored secret that must be entered again because the URLs now lead to another
    /// origin.
    ReenterSecret,
    /// A number outside its allowed range.
    OutOfRange,
    /// A token scope that the owner's role can never use.
    BeyondRole,
}

/// One rejected field: `field` is a dotted path such as `urls.apiUrl` or `credentials.apiToken`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    #[cfg_attr(feature = "openapi", schema(example = "urls.apiUrl"))]
    pub field: String,
    pub code: FieldErrorCode,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "must be an absolute http(s) URL")
    )]
    pub message: String,
}

/// Every field error found in one request, so a form can mark all of them at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(
        field: impl Into<String>,
        code: FieldErrorCode,
        message: impl Into<String>,
    ) -> Self {
        let mut errors = Self::new();
        errors.push(field, code, message);
        errors
    }

    pub fn push(
        &mut self,
        field: impl Into<String>,
        code: FieldErrorCode,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    /// Records the error of a parse under `field`, keeping the value when it parsed.
    pub fn take<T>(
        &mut self,
        field: &str,
        parsed: Result<T, (FieldErrorCode, String)>,
    ) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err((code, message)) => {
                self.push(field, code, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Self> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }
}

/// An RFC 9457 problem document, the body of every error answer under `/api`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://switchboard.dev/problems/validation_failed")
    )]
    pub problem_type: String,
    #[cfg_attr(feature = "openapi", schema(example = "Validation failed"))]
    pub title: String,
    #[cfg_attr(feature = "openapi", schema(example = 422))]
    pub status: u16,
    #[cfg_attr(feature = "openapi", schema(example = "1 field is invalid"))]
    pub detail: String,
    pub code: ErrorCode,
    /// Per-field errors, present for validation failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `tool_error` and `tool_timeout`: the kind of failure (as in a connection check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<crate::check::Category>,
    /// For `tool_error` and `tool_timeout`: what to do about it, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(status: u16, code: ErrorCode, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("https://switchboard.dev/problems/{}", code.as_str()),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code,
            errors: Vec::new(),
            category: None,
            hint: None,
        }
    }
}
