//! API tokens and service accounts: the token format, scopes and the request bodies.
//!
//! A token is `sbp_` (personal) or `sbs_` (service account), 40 random base62 characters
//! (≈ 238 bits) and a 6-character base62 CRC-32 of everything before it. The checksum lets a
//! secret scanner recognise a real token and lets the server refuse a mistyped one without
//! reading the database; it proves nothing about validity.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{FieldErrorCode, ValidationErrors};
use crate::user::{Role, Username};

/// Random base62 characters in a token.
pub const TOKEN_RANDOM_CHARS: usize = 40;
/// Base62 characters of the checksum at a token's end.
pub const TOKEN_CHECKSUM_CHARS: usize = 6;
/// What every Switchboard token matches (for secret scanners and the README).
pub const TOKEN_PATTERN: &str = r"\bsb[ps]_[0-9A-Za-z]{46}\b";
/// Days a token lives when the request names none.
pub const DEFAULT_TOKEN_DAYS: i64 = 90;
/// The longest life a token may be given.
pub const MAX_TOKEN_DAYS: i64 = 365;
pub const TOKEN_NAME_MAX_CHARS: usize = 100;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whose token it is, told by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A person's own token (`sbp_`).
    Personal,
    /// A service account's token (`sbs_`).
    ServiceAccount,
}

impl TokenKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Personal => "sbp_",
            Self::ServiceAccount => "sbs_",
        }
    }
}

/// What a token may be used for. A request needs the scope of its route *and* an owner whose
/// role allows it; the two are checked at every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read integrations, pipelines, runs, logs, tools and change requests.
    Read,
    /// Trigger and cancel runs, check and sync integrations (operators and above).
    Trigger,
    /// Add, change and delete integrations, the tool policy and change requests.
    ManageIntegrations,
    /// Manage users, service accounts and tokens (administrators).
    ManageUsers,
}

impl Scope {
    pub const ALL: [Self; 4] = [
        Self::Read,
        Self::Trigger,
        Self::ManageIntegrations,
        Self::ManageUsers,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Trigger => "trigger",
            Self::ManageIntegrations => "manage_integrations",
            Self::ManageUsers => "manage_users",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }

    /// The least role that can use the scope at all. Operators hold `manage_integrations`
    /// because, while approval is on, their changes become change requests.
    pub const fn least_role(self) -> Role {
        match self {
            Self::Read => Role::Viewer,
            Self::Trigger | Self::ManageIntegrations => Role::Operator,
            Self::ManageUsers => Role::Admin,
        }
    }

    /// The scopes `role` can use: what a session of that role may do.
    pub fn usable_by(role: Role) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|scope| scope.least_role() <= role)
            .collect()
    }

    /// Scopes as stored: their names, comma-separated, in order.
    pub fn join(scopes: &[Self]) -> String {
        scopes
            .iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The stored form back; `None` when a name is unknown.
    pub fn split(stored: &str) -> Option<Vec<Self>> {
        stored
            .split(',')
            .filter(|name| !name.is_empty())
            .map(Self::parse)
            .collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token's text that has the right shape and checksum. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenValue {
    kind: TokenKind,
    text: String,
}

impl TokenValue {
    /// A token from its random part (which must be `TOKEN_RANDOM_CHARS` base62 characters).
    pub fn compose(kind: TokenKind, random: &str) -> Option<Self> {
        if random.len() != TOKEN_RANDOM_CHARS || !random.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let body = format!("{}{random}", kind.prefix());
        let checksum = base62_checksum(&body);
        Some(Self {
            kind,
            text: body + &checksum,
        })
    }

    /// Recognises a token: the prefix, the length, the alphabet and the checksum. `None` for
    /// anything else — a session token, a typo, another product's token.
    pub fn parse(raw: &str) -> Option<Self> {
        let kind = [TokenKind::Personal, TokenKind::ServiceAccount]
            .into_iter()
            .find(|kind| raw.starts_with(kind.prefix()))?;
        let rest = &raw[kind.prefix().len()..];
        if rest.len() != TOKEN_RANDOM_CHARS + TOKEN_CHECKSUM_CHARS
            || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let (body, checksum) = raw.split_at(raw.len() - TOKEN_CHECKSUM_CHARS);
        (base62_checksum(body) == checksum).then(|| Self {
            kind,
            text: raw.to_owned(),
        })
    }

    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenValue({}[REDACTED])", self.kind.prefix())
    }
}

/// One byte of randomness as a base62 character, or `None` when the byte must be dropped
/// (bytes 248–255), so every character is equally likely.
pub fn base62_char(byte: u8) -> Option<char> {
    (byte < 248).then(|| char::from(BASE62[usize::from(byte % 62)]))
}

/// CRC-32 (IEEE) of `text`, as 6 base62 digits, most significant first.
fn base62_checksum(text: &str) -> String {
    let mut value = u64::from(crc32(text.as_bytes()));
    let mut digits = [b'0'; TOKEN_CHECKSUM_CHARS];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// `POST /api/v1/tokens` and `POST /api/v1/service-accounts/{id}/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "deploy job", "scopes": ["read", "trigger"], "expires_in_days": 30})))]
pub struct CreateTokenRequest {
    /// What the token is for, 1–100 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// At least one, each once; each must be usable by the owner's role.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 4))]
    pub scopes: Vec<Scope>,
    /// Days until the token expires, 1–365 (default 90).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
    pub expires_in_days: Option<i64>,
}

/// A validated token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    /// Sorted, without repeats.
    pub scopes: Vec<Scope>,
    pub days: i64,
}

impl CreateTokenRequest {
    /// The request, for an owner of `owner_role`: scopes the role can never use are refused,
    /// not quietly dropped.
    pub fn parse(&self, owner_role: Role) -> Result<NewToken, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.push("name", FieldErrorCode::Blank, "a name is required");
        } else if name.chars().count() > TOKEN_NAME_MAX_CHARS {
            errors.push(
                "name",
                FieldErrorCode::TooLong,
                format!("at most {TOKEN_NAME_MAX_CHARS} characters"),
            );
        } else if name.chars().any(char::is_control) {
            errors.push(
                "name",
                FieldErrorCode::InvalidFormat,
                "no control characters",
            );
        }
        let mut scopes = self.scopes.clone();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            errors.push(
                "scopes",
                FieldErrorCode::Required,
                "choose at least one scope",
            );
        } else if scopes.len() < self.scopes.len() {
            errors.push(
                "scopes",
                FieldErrorCode::InvalidFormat,
                "name each scope once",
            );
        }
        for scope in &scopes {
            if scope.least_role() > owner_role {
                errors.push(
                    "scopes",
                    FieldErrorCode::BeyondRole,
                    format!(
                        "`{scope}` needs the {} role; the owner is {owner_role}",
                        scope.least_role()
                    ),
                );
            }
        }
        let days = self.expires_in_days.unwrap_or(DEFAULT_TOKEN_DAYS);
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            errors.push(
                "expires_in_days",
                FieldErrorCode::OutOfRange,
                format!("1–{MAX_TOKEN_DAYS} days"),
            );
        }
        errors.into_result(|| NewToken {
            name: name.to_owned(),
            scopes,
            days,
        })
    }
}

/// Whether a token still works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

/// A token as lists show it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub kind: TokenKind,
    /// The user or service account the token acts as.
    pub owner_id: String,
    pub owner_name: String,
    pub scopes: Vec<Scope>,
    pub state: TokenState,
    pub created_at: DateTime<Utc>,
    /// Who made it: the owner, or the administrator who made a service account's token.
    pub created_by: String,
    pub expires_at: DateTime<Utc>,
    /// When it was last used, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client address of that use.
    pub last_used_from: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// A token just made: the only answer that carries its value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    #[serde(flatten)]
    pub details: ApiToken,
    /// The token. Shown this once: store it now; Switchboard keeps only a keyed hash.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "sbs_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1a2B3c",
            pattern = r"^sb[ps]_[0-9A-Za-z]{46}$"
        )
    )]
    pub token: String,
}

impl fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedToken")
            .field("details", &self.details)
            .finish_non_exhaustive()
    }
}

/// `GET /api/v1/tokens`: the caller's own tokens, newest first (at most 100 active ones
/// exist per owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub items: Vec<ApiToken>,
}

/// The most tokens one owner may have active at once.
pub const MAX_ACTIVE_TOKENS: i64 = 100;

/// A service account: acts through its tokens only, never signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceAccount {
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(example = "release-pipeline"))]
    pub name: String,
    pub role: Role,
    /// A disabled account's tokens stop working at once.
    pub disabled: bool,
    /// The administrator who made it.
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its tokens that work now.
    pub active_tokens: i64,
    /// Changes with every update; also the `ETag`.
    pub version: i64,
}

/// `GET /api/v1/service-accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceAccountPage {
    pub items: Vec<ServiceAccount>,
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/service-accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "release-pipeline", "role": "operator"})))]
pub struct CreateServiceAccountRequest {
    /// Like a user name (the two share one namespace): letters, digits, `.`, `_`, `-`, `@`.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 64, pattern = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    )]
    pub name: String,
    pub role: Role,
}

impl CreateServiceAccountRequest {
    pub fn parse(&self) -> Result<(Username, Role), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.take("name", Username::parse(&self.name));
        match name {
            Some(name) => Ok((name, self.role)),
            None => Err(errors),
        }
    }
}

/// `PATCH /api/v1/service-accounts/{id}`: absent fields are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceAccountRequest {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `POST /api/v1/auth/password`: a signed-in person changes their own password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 12–1024 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 12, max_length = 1024))]
    pub new_password: String,
}

impl fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangePasswordRequest([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd";

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn tokens_carry_their_kind_and_a_checksum() {
        for kind in [TokenKind::Personal, TokenKind::ServiceAccount] {
            let token = TokenValue::compose(kind, RANDOM).expect("token");
            assert!(token.expose().starts_with(kind.prefix()));
            assert_eq!(
                token.expose().len(),
                4 + TOKEN_RANDOM_CHARS + TOKEN_CHECKSUM_CHARS
            );
            let parsed = TokenValue::parse(token.expose()).expect("parses");
            assert_eq!(parsed.kind(), kind);
            assert!(!format!("{parsed:?}").contains(RANDOM));
        }
    }

    #[test]
    fn a_typo_anywhere_fails_the_checksum() {
        let token = TokenValue::compose(TokenKind::Personal, RANDOM).expect("token");
        let text = token.expose();
        for at in 4..text.len() {
            let mut bytes = text.as_bytes().to_vec();
            bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
            let typo = String::from_utf8(bytes).expect("ascii");
            assert_eq!(TokenValue::parse(&typo), None, "typo at {at}");
        }
        let swapped = text.replacen("sbp_", "sbs_", 1);
        assert_eq!(TokenValue::parse(&swapped), None, "another kind");
        for bad in [
            "",
            "sbp_",
            "eyJhbGciOi.x.y",
            &text[..text.len() - 1],
            &format!("{text}0"),
        ] {
            assert_eq!(TokenValue::parse(bad), None, "{bad:?}");
        }
        assert_eq!(TokenValue::compose(TokenKind::Personal, "short"), None);
        assert_eq!(
            TokenValue::compose(TokenKind::Personal, &"é".repeat(20)),
            None
        );
    }

    #[test]
    fn base62_characters_are_uniform() {
        let accepted: Vec<char> = (0..=255u8).filter_map(base62_char).collect();
        assert_eq!(accepted.len(), 248);
        for c in BASE62 {
            assert_eq!(accepted.iter().filter(|&&a| a == char::from(*c)).count(), 4);
        }
    }

    #[test]
    fn scopes_beyond_the_owners_role_are_refused() {
        let repeated = CreateTokenRequest {
            name: "ci".into(),
            scopes: vec![Scope::Read, Scope::Read],
            expires_in_days: None,
        };
        assert_eq!(
            repeated.parse(Role::Admin).expect_err("repeated").errors()[0].code,
            FieldErrorCode::InvalidFormat
        );
        let request = CreateTokenRequest {
            name: " ci ".into(),
            scopes: vec![Scope::Trigger, Scope::Read],
            expires_in_days: None,
        };
        let token = request.parse(Role::Operator).expect("valid");
        assert_eq!(token.name, "ci");
        assert_eq!(token.scopes, vec![Scope::Read, Scope::Trigger]);
        assert_eq!(token.days, DEFAULT_TOKEN_DAYS);
        let errors = request.parse(Role::Viewer).expect_err("beyond role");
        assert_eq!(errors.errors()[0].code, FieldErrorCode::BeyondRole);

        let bad = CreateTokenRequest {
            name: String::new(),
            scopes: vec![],
            expires_in_days: Some(366),
        };
        let fields: Vec<_> = bad
            .parse(Role::Admin)
            .expect_err("invalid")
            .errors()
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(fields, ["name", "scopes", "expires_in_days"]);
        assert_eq!(
            Scope::split(&Scope::join(&Scope::ALL)),
            Some(Scope::ALL.to_vec())
        );
        assert_eq!(Scope::split("read,root"), None);
        assert_eq!(Scope::usable_by(Role::Viewer), vec![Scope::Read]);
    }
}
