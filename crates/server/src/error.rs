//! The server's one error type, and the single place errors become HTTP answers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use switchboard_app::AppError;
use switchboard_connectors::{Category, ConnectorError};
use switchboard_domain::{ErrorCode, FieldErrorCode, Problem, ValidationErrors};
use switchboard_store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed body: {0}")]
    MalformedBody(String),
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    #[error("sign-in failed")]
    InvalidLogin,
    #[error("the API token has expired")]
    TokenExpired,
    #[error("the API token was revoked")]
    TokenRevoked,
    #[error("the API token lacks scope {0}")]
    InsufficientScope(switchboard_domain::token::Scope),
    #[error("a signed-in session is needed")]
    SessionRequired,
    #[error("needs role {0}")]
    Forbidden(switchboard_domain::user::Role),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("{0}")]
    NameTaken(String),
    #[error("last admin")]
    LastAdmin,
    #[error("version mismatch, current {current}")]
    VersionMismatch { current: i64 },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(ValidationErrors),
    #[error("tool not approved: {0}")]
    ToolNotApproved(String),
    /// `what` says what was too much ("sign-in attempts from this address").
    #[error("rate limited for {retry_after_secs}s: {what}")]
    RateLimited { retry_after_secs: u64, what: String },
    #[error("{0}")]
    PipelineNotBuildable(String),
    #[error("the run has finished")]
    RunFinished,
    #[error("idempotency key in use")]
    IdempotencyKeyInUse,
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    #[error("the CI/CD tool failed: {0}")]
    Tool(ConnectorError),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("refused ({code:?}): {detail}")]
    ChangeRefused { code: ErrorCode, detail: String },
}

impl ApiError {
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    fn parts(&self) -> (StatusCode, ErrorCode, &'static str, String) {
        use StatusCode as S;
        match self {
            Self::MalformedBody(detail) => (
                S::BAD_REQUEST,
                ErrorCode::MalformedBody,
                "Malformed request body",
                detail.clone(),
            ),
            Self::InvalidParameter(detail) => (
                S::BAD_REQUEST,
                ErrorCode::InvalidParameter,
                "Invalid parameter",
                detail.clone(),
            ),
            Self::Unauthenticated(detail) => (
                S::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                "Authentication required",
                (*detail).to_owned(),
            ),
            Self::InvalidLogin => (
                S::UNAUTHORIZED,
                ErrorCode::InvalidLogin,
                "Sign-in failed",
                "the user name or password is wrong, or the account is disabled".to_owned(),
            ),
            Self::TokenExpired => (
                S::UNAUTHORIZED,
                ErrorCode::TokenExpired,
                "Token expired",
                "the API token has expired; make a new one".to_owned(),
            ),
            Self::TokenRevoked => (
                S::UNAUTHORIZED,
                ErrorCode::TokenRevoked,
                "Token revoked",
                "the API token was revoked; make a new one".to_owned(),
            ),
            Self::InsufficientScope(scope) => (
                S::FORBIDDEN,
                ErrorCode::InsufficientScope,
                "Insufficient scope",
                format!("this needs a token with the `{scope}` scope"),
            ),
            Self::SessionRequired => (
                S::FORBIDDEN,
                ErrorCode::Forbidden,
                "Forbidden",
                "this needs a signed-in session; API tokens cannot do it".to_owned(),
            ),
            Self::Forbidden(role) => (
                S::FORBIDDEN,
                ErrorCode::Forbidden,
                "Forbidden",
                format!("this needs the {role} role"),
            ),
            Self::NotFound(what) => (
                S::NOT_FOUND,
                ErrorCode::NotFound,
                "Not found",
                format!("no such {what}"),
            ),
            Self::MethodNotAllowed { allow } => (
                S::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "Method not allowed",
                format!("this route answers {allow}"),
            ),
            Self::NameTaken(detail) => (
                S::CONFLICT,
                ErrorCode::NameTaken,
                "Name already used",
                detail.clone(),
            ),
            Self::LastAdmin => (
                S::CONFLICT,
                ErrorCode::LastAdmin,
                "Last administrator",
                "at least one enabled administrator must remain".to_owned(),
            ),
            Self::VersionMismatch { current } => (
                S::PRECONDITION_FAILED,
                ErrorCode::VersionMismatch,
                "Version mismatch",
                format!(
                    "someone else changed this first; the current version is {current}: reload and try again"
                ),
            ),
            Self::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "Payload too large",
                format!("the body must be at most {} bytes", crate::BODY_LIMIT_BYTES),
            ),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "Unsupported media type",
                "send the body as application/json".to_owned(),
            ),
            Self::Validation(errors) => {
                let count = errors.errors().len();
                let detail = if count == 1 {
                    "1 field is invalid".to_owned()
                } else {
                    format!("{count} fields are invalid")
                };
                (
                    S::UNPROCESSABLE_ENTITY,
                    ErrorCode::ValidationFailed,
                    "Validation failed",
                    detail,
                )
            }
            Self::ToolNotApproved(detail) => (
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::ToolNotApproved,
                "Tool not approved",
                detail.clone(),
            ),
            Self::RateLimited {
                retry_after_secs,
                what,
            } => (
                S::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "Too many requests",
                format!("{what}; try again in {retry_after_secs} seconds"),
            ),
            Self::PipelineNotBuildable(detail) => (
                S::CONFLICT,
                ErrorCode::PipelineNotBuildable,
                "Pipeline not buildable",
                detail.clone(),
            ),
            Self::RunFinished => (
                S::CONFLICT,
                ErrorCode::RunFinished,
                "Run finished",
                "the run has already finished; there is nothing to cancel".to_owned(),
            ),
            Self::IdempotencyKeyInUse => (
                S::CONFLICT,
                ErrorCode::IdempotencyKeyInUse,
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry in a moment"
                    .to_owned(),
            ),
            Self::IdempotencyKeyReused => (
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
                "Idempotency key reused",
                "this Idempotency-Key was used for another request; use a new key for a new request"
                    .to_owned(),
            ),
            Self::Tool(failure) if failure.category == Category::Timeout => (
                S::GATEWAY_TIMEOUT,
                ErrorCode::ToolTimeout,
                "The CI/CD tool did not answer in time",
                failure.message.clone(),
            ),
            Self::Tool(failure) => (
                S::BAD_GATEWAY,
                ErrorCode::ToolError,
                "The CI/CD tool failed",
                failure.message.clone(),
            ),
            Self::DatabaseUnavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                ErrorCode::DatabaseUnavailable,
                "Database unavailable",
                "the database cannot be reached; try again shortly".to_owned(),
            ),
            Self::ChangeRefused { code, detail } => {
                let (status, title) = match code {
                    ErrorCode::SelfApproval => (S::FORBIDDEN, "Authors do not review their own request"),
                    ErrorCode::Forbidden => (S::FORBIDDEN, "Not allowed"),
                    ErrorCode::PendingApproval => (S::CONFLICT, "Waiting for approval"),
                    ErrorCode::StaleRevision => (S::CONFLICT, "Not the current revision"),
                    ErrorCode::AlreadyReviewed => (S::CONFLICT, "Already reviewed"),
                    ErrorCode::RequestConflict => (S::CONFLICT, "The change conflicts with what is live"),
                    _ => (S::CONFLICT, "The change request does not allow this now"),
                };
                (status, *code, title, detail.clone())
            }
            Self::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "Internal error",
                "an unexpected error occurred; it has been logged".to_owned(),
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title, detail) = self.parts();
        let mut problem = Problem::new(status.as_u16(), code, title, detail);
        match self {
            Self::Validation(errors) => problem.errors = errors.errors().to_vec(),
            Self::Tool(failure) => {
                problem.category = Some(failure.category);
                problem.hint = Some(failure.hint.clone());
            }
            Self::ToolNotApproved(detail) => {
                problem.errors =
                    ValidationErrors::single("tool", FieldErrorCode::NotApproved, detail.clone())
                        .into_errors();
            }
            _ => {}
        }
        problem
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) | Self::DatabaseUnavailable(cause) => {
                tracing::error!(error = %cause, "request failed")
            }
            _ => {}
        }
        let problem = self.problem();
        let mut response = HttpResponse::build(self.status_code());
        response.content_type(PROBLEM_JSON);
        match self {
            Self::Unauthenticated(_) | Self::InvalidLogin => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"switchboard\""),
                ));
            }
            // RFC 6750's error codes, for clients that read the challenge.
            Self::TokenExpired | Self::TokenRevoked => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"switchboard\", error=\"invalid_token\"",
                    ),
                ));
            }
            Self::InsufficientScope(scope) => {
                if let Ok(value) = HeaderValue::from_str(&format!(
                    "Bearer realm=\"switchboard\", error=\"insufficient_scope\", scope=\"{scope}\""
                )) {
                    response.insert_header((header::WWW_AUTHENTICATE, value));
                }
            }
            Self::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    response.insert_header((header::ALLOW, value));
                }
            }
            _ => {}
        }
        response.json(problem)
    }
}

/// The use cases' errors, each to its HTTP answer.
impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Forbidden(role) => Self::Forbidden(role),
            AppError::NotFound(subject) => Self::NotFound(subject.as_str()),
            AppError::ToolNotFound => Self::NotFound("approved tool"),
            AppError::NameTaken(detail) => Self::NameTaken(detail),
            AppError::VersionMismatch { current } => Self::VersionMismatch { current },
            AppError::LastAdmin => Self::LastAdmin,
            AppError::Validation(errors) => Self::Validation(errors),
            AppError::InvalidParameter(detail) => Self::InvalidParameter(detail),
            AppError::ToolNotApproved(detail) => Self::ToolNotApproved(detail),
            AppError::PipelineNotBuildable(detail) => Self::PipelineNotBuildable(detail),
            AppError::RunFinished => Self::RunFinished,
            AppError::IdempotencyKeyInUse => Self::IdempotencyKeyInUse,
            AppError::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            AppError::Tool(failure) => Self::Tool(failure),
            AppError::DatabaseUnavailable(cause) => Self::DatabaseUnavailable(cause),
            AppError::Internal(cause) => Self::Internal(cause),
            AppError::ChangeRefused { code, detail } => Self::ChangeRefused { code, detail },
        }
    }
}

/// Store errors outside the use cases (authentication, readiness) go the same way.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        AppError::from(err).into()
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::internal(err)
    }
}
