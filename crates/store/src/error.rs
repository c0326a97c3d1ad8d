use switchboard_domain::ValidationErrors;

use crate::seal::SealError;

/// What the store can report; the server maps each to one HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("the name is already used")]
    NameTaken,
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
}

impl From<diesel::result::Error> for StoreError {
    fn from(err: diesel::result::Error) -> Self {
        match err {
            diesel::result::Error::NotFound => Self::NotFound,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => Self::NameTaken,
            other => Self::Database(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
