//! Users, roles and sign-in.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{FieldErrorCode, ValidationErrors};

pub const USERNAME_MAX_CHARS: usize = 64;
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 1024;

type ParseResult<T> = Result<T, (FieldErrorCode, String)>;

/// What a user may do. Each role includes the ones below it: viewer < operator < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads integrations, pipelines and runs.
    Viewer,
    /// Also triggers and cancels runs.
    Operator,
    /// Also manages integrations, users and the tool policy.
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who an account is: a person who signs in, or a service account that acts only through
/// its API tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Person,
    ServiceAccount,
}

impl AccountKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::ServiceAccount => "service_account",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "person" => Some(Self::Person),
            "service_account" => Some(Self::ServiceAccount),
            _ => None,
        }
    }
}

/// A user name: 1–64 of `a-z 0-9 . _ - @`, starting with a letter or digit, kept lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> ParseResult<Self> {
        let name = raw.to_lowercase();
        if name.is_empty() {
            return Err((FieldErrorCode::Blank, "a user name is required".into()));
        }
        if name.chars().count() > USERNAME_MAX_CHARS {
            return Err((
                FieldErrorCode::TooLong,
                format!("at most {USERNAME_MAX_CHARS} characters"),
            ));
        }
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !first_ok
            || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err((
                FieldErrorCode::InvalidFormat,
                "letters, digits, '.', '_', '-' and '@', starting with a letter or digit".into(),
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 12–1024 characters. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> ParseResult<Self> {
        let count = raw.chars().count();
        if count < PASSWORD_MIN_CHARS {
            return Err((
                FieldErrorCode::TooShort,
                format!("at least {PASSWORD_MIN_CHARS} characters"),
            ));
        }
        if count > PASSWORD_MAX_CHARS {
            return Err((
                FieldErrorCode::TooLong,
                format!("at most {PASSWORD_MAX_CHARS} characters"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

/// A user as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(example = "alice"))]
    pub username: String,
    pub role: Role,
    /// Disabled users cannot sign in, and their sessions stop working at once.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Changes with every update; also the `ETag`. Send it back as `If-Match` to update only
    /// what you read.
    pub version: i64,
}

/// `GET /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub items: Vec<User>,
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/users`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"username": "bob", "password": "correct horse battery staple", "role": "operator"})))]
pub struct CreateUserRequest {
    /// Letters, digits, `.`, `_`, `-` and `@`; stored lowercase.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 64, pattern = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    )]
    pub username: String,
    /// 12–1024 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 12, max_length = 1024))]
    pub password: String,
    pub role: Role,
}

impl fmt::Debug for CreateUserRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateUserRequest")
            .field("username", &self.username)
            .field("role", &self.role)
            .finish()
    }
}

/// A validated new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: Username,
    pub password: NewPassword,
    pub role: Role,
}

impl CreateUserRequest {
    pub fn parse(&self) -> Result<NewUser, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let username = errors.take("username", Username::parse(&self.username));
        let password = errors.take("password", NewPassword::parse(&self.password));
        match (username, password) {
            (Some(username), Some(password)) => Ok(NewUser {
                username,
                password,
                role: self.role,
            }),
            _ => Err(errors),
        }
    }
}

/// `PATCH /api/v1/users/{id}`: absent fields are kept.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
    /// Sets a new password (12–1024 characters) and ends the user's sessions.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 12, max_length = 1024))]
    pub password: Option<String>,
    /// Required when administrators set their own password: the one they have now.
    #[serde(default)]
    pub current_password: Option<String>,
}

impl fmt::Debug for UpdateUserRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateUserRequest")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field(
                "current_password",
                &self.current_password.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// A validated user change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password: Option<NewPassword>,
}

impl UpdateUserRequest {
    pub fn parse(&self) -> Result<UserPatch, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let password = match &self.password {
            Some(raw) => errors.take("password", NewPassword::parse(raw)),
            None => None,
        };
        errors.into_result(|| UserPatch {
            role: self.role,
            disabled: self.disabled,
            password,
        })
    }
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"username": "admin", "password": "the password printed at first start"})))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish()
    }
}

/// The caller, as a session or an API token describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    /// A person, or a service account (which acts only through tokens).
    pub kind: AccountKind,
    /// What this credential may do: a session, whatever the role allows; a token, its own
    /// scopes (its owner's role still applies at every request).
    pub scopes: Vec<crate::token::Scope>,
    /// The API token in use, when the caller authenticated with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}

/// A session: send `access_token` as `Authorization: Bearer <token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub access_token: String,
    #[cfg_attr(feature = "openapi", schema(example = "Bearer"))]
    pub token_type: String,
    /// Seconds until the token expires.
    #[cfg_attr(feature = "openapi", schema(example = 3600))]
    pub expires_in: u64,
    pub user: SessionUser,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_viewer_operator_admin() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        for role in [Role::Viewer, Role::Operator, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn usernames_are_lowercased_and_restricted() {
        assert_eq!(
            Username::parse("Alice").map(|u| u.as_str().to_owned()),
            Ok("alice".to_owned())
        );
        assert_eq!(
            Username::parse(" alice").map_err(|e| e.0),
            Err(FieldErrorCode::InvalidFormat)
        );
        assert!(Username::parse("bob.smith@example.com").is_ok());
        assert_eq!(
            Username::parse("").map_err(|e| e.0),
            Err(FieldErrorCode::Blank)
        );
        assert_eq!(
            Username::parse("-x").map_err(|e| e.0),
            Err(FieldErrorCode::InvalidFormat)
        );
        assert_eq!(
            Username::parse("a b").map_err(|e| e.0),
            Err(FieldErrorCode::InvalidFormat)
        );
        assert_eq!(
            Username::parse(&"a".repeat(65)).map_err(|e| e.0),
            Err(FieldErrorCode::TooLong)
        );
    }

    #[test]
    fn passwords_have_bounds_and_stay_out_of_debug() {
        assert_eq!(
            NewPassword::parse("short").map_err(|e| e.0),
            Err(FieldErrorCode::TooShort)
        );
        let password = NewPassword::parse("long enough secret").expect("valid");
        assert!(!format!("{password:?}").contains("secret"));
        let request = LoginRequest {
            username: "a".into(),
            password: "hunter2hunter2".into(),
        };
        assert!(!format!("{request:?}").contains("hunter2"));
    }
}
