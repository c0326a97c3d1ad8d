//! The use-case layer's one error type. The HTTP server maps each variant to a status and a
//! problem body in one place (`switchboard_server::error`); the command line prints the same
//! problem's detail and field errors.

use switchboard_connectors::ConnectorError;
use switchboard_domain::ValidationErrors;
use switchboard_domain::user::Role;
use switchboard_store::{StoreError, Subject, Unique};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("needs role {0}")]
    Forbidden(Role),
    #[error("no such {0}")]
    NotFound(Subject),
    #[error("no such approved tool")]
    ToolNotFound,
    #[error("{0}")]
    NameTaken(String),
    #[error("version mismatch, current {current}")]
    VersionMismatch { current: i64 },
    #[error("last admin")]
    LastAdmin,
    #[error("validation failed")]
    Validation(ValidationErrors),
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("tool not approved: {0}")]
    ToolNotApproved(String),
    #[error("{0}")]
    PipelineNotBuildable(String),
    #[error("the run has finished")]
    RunFinished,
    #[error("a request with this idempotency key is still being processed")]
    IdempotencyKeyInUse,
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    #[error("the CI/CD tool failed: {0}")]
    Tool(ConnectorError),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A rule of prior discussion and approval refused the step (`code` says which).
    #[error("refused ({code:?}): {detail}")]
    ChangeRefused {
        code: switchboard_domain::ErrorCode,
        detail: String,
    },
}

impl AppError {
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(subject) => Self::NotFound(subject),
            // The use cases that can break a uniqueness rule say which name; reaching this
            // means a rule no use case expects to break.
            StoreError::Duplicate(Unique::IntegrationName) => {
                Self::NameTaken("an integration with that name already exists".into())
            }
            StoreError::Duplicate(Unique::Username) => {
                Self::NameTaken("that user name is taken".into())
            }
            StoreError::Duplicate(Unique::Other(rule)) => {
                Self::Internal(format!("unexpected uniqueness violation: {rule}"))
            }
            StoreError::VersionMismatch { current } => Self::VersionMismatch { current },
            StoreError::LastAdmin => Self::LastAdmin,
            StoreError::Invalid(errors) => Self::Validation(errors),
            StoreError::Unavailable(err) => Self::DatabaseUnavailable(err.to_string()),
            StoreError::ConnectionLost(err) => Self::DatabaseUnavailable(err),
            StoreError::Refused { code, detail } => Self::ChangeRefused { code, detail },
            StoreError::PendingApproval => Self::ChangeRefused {
                code: switchboard_domain::ErrorCode::PendingApproval,
                detail: "the integration waits for approval: it is not checked, synced, triggered or edited until its change request is approved; withdraw or reject the request to drop it".to_owned(),
            },
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::internal(err)
    }
}

/// Maps a store error, naming the duplicate integration name.
pub(crate) fn integration_name_taken(name: &str) -> impl FnOnce(StoreError) -> AppError + '_ {
    move |err| match err {
        StoreError::Duplicate(Unique::IntegrationName) => AppError::NameTaken(format!(
            "an integration named {name:?} already exists (names are compared ignoring case)"
        )),
        other => other.into(),
    }
}

/// Maps a store error, naming the duplicate user name.
pub(crate) fn username_taken(name: &str) -> impl FnOnce(StoreError) -> AppError + '_ {
    move |err| match err {
        StoreError::Duplicate(Unique::Username) => {
            AppError::NameTaken(format!("the user name {name:?} is taken"))
        }
        other => other.into(),
    }
}

pub type AppResult<T> = Result<T, AppError>;
