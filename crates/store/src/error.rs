use switchboard_domain::ValidationErrors;

use crate::seal::SealError;

/// What a store error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Integration,
    Pipeline,
    Run,
    User,
    ChangeRequest,
    Token,
    ServiceAccount,
    /// A row the query did not say more about (diesel's own "not found").
    Record,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integration => "integration",
            Self::Pipeline => "pipeline",
            Self::Run => "run",
            Self::User => "user",
            Self::ChangeRequest => "change request",
            Self::Token => "token",
            Self::ServiceAccount => "service account",
            Self::Record => "record",
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which uniqueness rule a write broke, told by the constraint (PostgreSQL names it; SQLite
/// says `UNIQUE constraint failed: table.column`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unique {
    /// `integrations.name_key`: names are unique ignoring case.
    IntegrationName,
    /// `users.username`.
    Username,
    /// Another one: the constraint's name or the database's message.
    Other(String),
}

impl Unique {
    fn of(info: &dyn diesel::result::DatabaseErrorInformation) -> Self {
        let named = info.constraint_name().unwrap_or_default();
        let message = info.message();
        if named == "integrations_name_key_key" || message.contains("integrations.name_key") {
            Self::IntegrationName
        } else if named == "users_username_key" || message.contains("users.username") {
            Self::Username
        } else if named.is_empty() {
            Self::Other(message.to_owned())
        } else {
            Self::Other(named.to_owned())
        }
    }
}

/// What the store can report; the use-case layer maps each to its own error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such {0}")]
    NotFound(Subject),
    #[error("a uniqueness rule was broken: {0:?}")]
    Duplicate(Unique),
    #[error("the version is {current}, not the one given")]
    VersionMismatch { current: i64 },
    #[error("the change would leave no enabled administrator")]
    LastAdmin,
    #[error("invalid input")]
    Invalid(ValidationErrors),
    #[error("the database is unavailable: {0}")]
    Unavailable(#[from] diesel::r2d2::PoolError),
    #[error("the database connection was lost: {0}")]
    ConnectionLost(String),
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    #[error("cannot seal or open a credential: {0}")]
    Seal(#[from] SealError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("the integration waits for approval")]
    PendingApproval,
    /// A rule of the use case that decided inside a transaction refused the change.
    #[error("refused ({code:?}): {detail}")]
    Refused {
        code: switchboard_domain::ErrorCode,
        detail: String,
    },
}

impl From<diesel::result::Error> for StoreError {
    fn from(err: diesel::result::Error) -> Self {
        match err {
            diesel::result::Error::NotFound => Self::NotFound(Subject::Record),
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            ) => Self::Duplicate(Unique::of(info.as_ref())),
            other => Self::Database(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    struct Info {
        message: &'static str,
        constraint: Option<&'static str>,
    }

    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.message
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.constraint
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    #[test]
    fn unique_violations_are_told_apart_by_their_constraint() {
        let sqlite = |message| Info {
            message,
            constraint: None,
        };
        let postgres = |constraint| Info {
            message: "duplicate key value violates unique constraint",
            constraint: Some(constraint),
        };
        assert_eq!(
            Unique::of(&sqlite("UNIQUE constraint failed: integrations.name_key")),
            Unique::IntegrationName
        );
        assert_eq!(
            Unique::of(&postgres("integrations_name_key_key")),
            Unique::IntegrationName
        );
        assert_eq!(
            Unique::of(&sqlite("UNIQUE constraint failed: users.username")),
            Unique::Username
        );
        assert_eq!(
            Unique::of(&postgres("users_username_key")),
            Unique::Username
        );
        assert_eq!(
            Unique::of(&postgres("pipelines_integration_id_full_path_key")),
            Unique::Other("pipelines_integration_id_full_path_key".into())
        );
        assert_eq!(
            Unique::of(&sqlite("UNIQUE constraint failed: runs.id")),
            Unique::Other("UNIQUE constraint failed: runs.id".into())
        );
    }
}
