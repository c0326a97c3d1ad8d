//! API tokens, service accounts, signing out and one's own password.

use chrono::{DateTime, TimeDelta, Utc};
use switchboard_domain::ErrorCode;
use switchboard_domain::audit::actions;
use switchboard_domain::ids::UserId;
use switchboard_domain::token::{
    ApiToken, ChangePasswordRequest, CreateServiceAccountRequest, CreateTokenRequest, CreatedToken,
    ServiceAccount, ServiceAccountPage, TOKEN_RANDOM_CHARS, TokenKind, TokenList, TokenValue,
    UpdateServiceAccountRequest, base62_char,
};
use switchboard_domain::user::{AccountKind, NewPassword, Role};
use switchboard_domain::{FieldErrorCode, ValidationErrors};
use switchboard_store::{
    NewAuditEvent, NewTokenRecord, StoredToken, StoredUser, Subject, TokenMatch, UserChange,
};

use crate::error::username_taken;
use crate::paging::{after, encode_cursor, page_size};
use crate::passwords::{hash_password, random_bytes, verify_password};
use crate::{AppError, AppResult, Principal, Switchboard, blocking};

/// What a presented API token turned out to be.
#[derive(Debug)]
pub enum TokenCheck {
    /// It works: the token and its owner as they are now.
    Valid(Box<TokenMatch>),
    Expired,
    Revoked,
    /// Its owner (a user or service account) is disabled.
    OwnerDisabled,
    /// Not a token Switchboard made: a typo (refused by its checksum, without a database
    /// lookup) or a value it never stored. Which of the two is not told.
    Unknown,
}

/// A fresh token value of `kind`: 40 base62 characters from the system's random source.
fn new_token_value(kind: TokenKind) -> AppResult<TokenValue> {
    let mut random = String::with_capacity(TOKEN_RANDOM_CHARS);
    while random.len() < TOKEN_RANDOM_CHARS {
        let bytes: [u8; 64] = random_bytes()?;
        random.extend(bytes.into_iter().filter_map(base62_char));
    }
    random.truncate(TOKEN_RANDOM_CHARS);
    TokenValue::compose(kind, &random).ok_or_else(|| AppError::internal("token composition"))
}

fn refused(code: ErrorCode, detail: impl Into<String>) -> AppError {
    AppError::ChangeRefused {
        code,
        detail: detail.into(),
    }
}

fn service_account_view(account: &StoredUser, active_tokens: i64) -> ServiceAccount {
    ServiceAccount {
        id: account.id.clone(),
        name: account.username.clone(),
        role: account.role,
        disabled: account.disabled,
        created_by: account.created_by.clone(),
        created_at: account.created_at,
        updated_at: account.updated_at,
        active_tokens,
        version: account.version,
    }
}

impl Switchboard {
    /// Checks a presented API token: its format and checksum first (no database), then its
    /// keyed hash, its state and its owner's. A valid token's last use is recorded at most
    /// once a minute; failing to record it does not fail the request.
    pub async fn check_token(&self, presented: &str, client: &str) -> AppResult<TokenCheck> {
        let Some(value) = TokenValue::parse(presented) else {
            return Ok(TokenCheck::Unknown);
        };
        let store = self.store.clone();
        let client = client.to_owned();
        blocking(move || {
            let Some(found) = store.token_by_value(value.expose())? else {
                return Ok(TokenCheck::Unknown);
            };
            let at = Utc::now();
            if found.token.kind() != value.kind() {
                return Ok(TokenCheck::Unknown);
            }
            if found.token.revoked_at.is_some() {
                return Ok(TokenCheck::Revoked);
            }
            if found.token.expires_at <= at {
                return Ok(TokenCheck::Expired);
            }
            if found.owner.disabled {
                return Ok(TokenCheck::OwnerDisabled);
            }
            let recent = found
                .token
                .last_used_at
                .is_some_and(|last| at - last < TimeDelta::seconds(60));
            if !recent && let Err(err) = store.touch_token(&found.token.id, at, &client) {
                tracing::warn!(token = %found.token.id, error = %err, "could not record the token's use");
            }
            Ok(TokenCheck::Valid(Box::new(found)))
        })
        .await
    }

    /// Makes a token for `owner` (already read), as `by`.
    async fn issue_token(
        &self,
        by: &Principal,
        owner: StoredUser,
        request: CreateTokenRequest,
    ) -> AppResult<CreatedToken> {
        let new_token = request.parse(owner.role).map_err(AppError::Validation)?;
        let kind = match owner.kind {
            AccountKind::Person => TokenKind::Personal,
            AccountKind::ServiceAccount => TokenKind::ServiceAccount,
        };
        let value = new_token_value(kind)?;
        let expires_at = Utc::now() + TimeDelta::days(new_token.days);
        let store = self.store.clone();
        let created_by = by.username.clone();
        let audit = NewAuditEvent::new(&by.actor(), actions::TOKEN_CREATED);
        let (token, value) = blocking(move || {
            let token = store.create_token(
                NewTokenRecord {
                    owner_id: &owner.id,
                    owner_kind: owner.kind,
                    name: &new_token.name,
                    scopes: &new_token.scopes,
                    expires_at,
                    created_by: &created_by,
                    value: value.expose(),
                },
                &audit,
            )?;
            Ok((token, value))
        })
        .await?;
        tracing::info!(token = %token.id, owner = %token.owner_name, by = %by.username, "API token created");
        Ok(CreatedToken {
            details: token.to_api(Utc::now()),
            token: value.expose().to_owned(),
        })
    }

    async fn account(&self, id: &str, kind: AccountKind) -> AppResult<StoredUser> {
        let store = self.store.clone();
        let id = id.to_owned();
        let subject = match kind {
            AccountKind::Person => Subject::User,
            AccountKind::ServiceAccount => Subject::ServiceAccount,
        };
        blocking(move || {
            store
                .find_user(&id)?
                .filter(|account| account.kind == kind)
                .ok_or(AppError::NotFound(subject))
        })
        .await
    }

    /// A personal token for the signed-in person (`POST /api/v1/tokens`).
    pub async fn create_personal_token(
        &self,
        by: &Principal,
        request: CreateTokenRequest,
    ) -> AppResult<CreatedToken> {
        if by.kind != AccountKind::Person {
            return Err(refused(
                ErrorCode::Forbidden,
                "a service account's tokens are made by an administrator at /api/v1/service-accounts/{id}/tokens",
            ));
        }
        let owner = self.account(&by.id, AccountKind::Person).await?;
        self.issue_token(by, owner, request).await
    }

    /// The caller's own tokens, newest first.
    pub async fn list_own_tokens(&self, by: &Principal) -> AppResult<TokenList> {
        self.tokens_of(&by.id).await
    }

    async fn tokens_of(&self, owner_id: &str) -> AppResult<TokenList> {
        let store = self.store.clone();
        let owner_id = owner_id.to_owned();
        let tokens = blocking(move || Ok(store.list_tokens(&owner_id)?)).await?;
        let at = Utc::now();
        Ok(TokenList {
            items: tokens.iter().map(|token| token.to_api(at)).collect(),
        })
    }

    /// Revokes a token: one's own, or any token for an administrator. Takes effect at the
    /// next request on every replica (each request reads the token's row).
    pub async fn revoke_token(&self, by: &Principal, id: &str) -> AppResult<ApiToken> {
        let store = self.store.clone();
        let only_own =
            (by.role < Role::Admin || by.kind != AccountKind::Person).then(|| by.id.clone());
        let id = id.to_owned();
        let revoker = by.username.clone();
        let audit = NewAuditEvent::new(&by.actor(), actions::TOKEN_REVOKED);
        let token: StoredToken =
            blocking(move || Ok(store.revoke_token(&id, only_own.as_deref(), &revoker, &audit)?))
                .await?;
        tracing::info!(token = %token.id, owner = %token.owner_name, by = %by.username, "API token revoked");
        Ok(token.to_api(Utc::now()))
    }

    /// Adds a service account (administrators).
    pub async fn create_service_account(
        &self,
        by: &Principal,
        request: CreateServiceAccountRequest,
    ) -> AppResult<ServiceAccount> {
        by.require(Role::Admin)?;
        let (name, role) = request.parse().map_err(AppError::Validation)?;
        let store = self.store.clone();
        let created_by = by.username.clone();
        let audit = NewAuditEvent::new(&by.actor(), actions::SERVICE_ACCOUNT_CREATED);
        let account = blocking(move || {
            store
                .create_service_account(name.as_str(), role, &created_by, &audit)
                .map_err(username_taken(name.as_str()))
        })
        .await?;
        tracing::info!(account = %account.username, role = %account.role, by = %by.username, "service account created");
        Ok(service_account_view(&account, 0))
    }

    /// Service accounts by name (administrators).
    pub async fn list_service_accounts(
        &self,
        by: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> AppResult<ServiceAccountPage> {
        by.require(Role::Admin)?;
        let limit = page_size(limit)?;
        let after = after(cursor)?;
        let store = self.store.clone();
        let (accounts, more, counts) = blocking(move || {
            let (accounts, more) =
                store.list_users(AccountKind::ServiceAccount, limit, after.as_deref())?;
            let ids: Vec<String> = accounts.iter().map(|account| account.id.clone()).collect();
            let counts = store.active_token_counts(&ids)?;
            Ok((accounts, more, counts))
        })
        .await?;
        let next_cursor = if more {
            accounts
                .last()
                .map(|account| encode_cursor(&account.username))
        } else {
            None
        };
        Ok(ServiceAccountPage {
            items: accounts
                .iter()
                .map(|account| {
                    service_account_view(account, counts.get(&account.id).copied().unwrap_or(0))
                })
                .collect(),
            next_cursor,
        })
    }

    pub async fn get_service_account(
        &self,
        by: &Principal,
        id: &UserId,
    ) -> AppResult<ServiceAccount> {
        by.require(Role::Admin)?;
        let account = self
            .account(id.as_str(), AccountKind::ServiceAccount)
            .await?;
        self.with_token_count(account).await
    }

    async fn with_token_count(&self, account: StoredUser) -> AppResult<ServiceAccount> {
        let store = self.store.clone();
        let id = account.id.clone();
        let count = blocking(move || Ok(store.active_token_counts(&[id])?)).await?;
        let active = count.get(&account.id).copied().unwrap_or(0);
        Ok(service_account_view(&account, active))
    }

    /// Changes a service account's role or disables it; its tokens follow at once.
    pub async fn update_service_account(
        &self,
        by: &Principal,
        id: &UserId,
        expected_version: Option<i64>,
        request: UpdateServiceAccountRequest,
    ) -> AppResult<ServiceAccount> {
        by.require(Role::Admin)?;
        let store = self.store.clone();
        let id = id.to_string();
        let audit = NewAuditEvent::new(&by.actor(), actions::SERVICE_ACCOUNT_CHANGED);
        let account = blocking(move || {
            let change = UserChange {
                role: request.role,
                disabled: request.disabled,
                password_hash: None,
            };
            Ok(store.update_user(
                &id,
                AccountKind::ServiceAccount,
                change,
                expected_version,
                &audit,
            )?)
        })
        .await?;
        tracing::info!(account = %account.username, role = %account.role, disabled = account.disabled, by = %by.username, "service account changed");
        self.with_token_count(account).await
    }

    /// A token for a service account (administrators).
    pub async fn create_service_account_token(
        &self,
        by: &Principal,
        id: &UserId,
        request: CreateTokenRequest,
    ) -> AppResult<CreatedToken> {
        by.require(Role::Admin)?;
        let account = self
            .account(id.as_str(), AccountKind::ServiceAccount)
            .await?;
        self.issue_token(by, account, request).await
    }

    /// A service account's tokens (administrators).
    pub async fn list_service_account_tokens(
        &self,
        by: &Principal,
        id: &UserId,
    ) -> AppResult<TokenList> {
        by.require(Role::Admin)?;
        let account = self
            .account(id.as_str(), AccountKind::ServiceAccount)
            .await?;
        self.tokens_of(&account.id).await
    }

    /// Ends one session on the server: its token stops working on every replica.
    pub async fn end_session(
        &self,
        by: &Principal,
        session_id: &str,
        expires_at: DateTime<Utc>,
    ) -> AppResult<()> {
        let store = self.store.clone();
        let session_id = session_id.to_owned();
        let audit = NewAuditEvent::new(&by.actor(), actions::SIGN_OUT).on(
            "user",
            Some(&by.id),
            Some(&by.username),
        );
        blocking(move || Ok(store.revoke_session(&session_id, expires_at, &audit)?)).await
    }

    /// A person changes their own password, proving they know the current one. Every
    /// session of theirs ends (the caller gets a new one); API tokens keep working.
    pub async fn change_own_password(
        &self,
        by: &Principal,
        request: ChangePasswordRequest,
    ) -> AppResult<StoredUser> {
        if by.kind != AccountKind::Person {
            return Err(refused(
                ErrorCode::Forbidden,
                "a service account has no password",
            ));
        }
        let new_password =
            NewPassword::parse(&request.new_password).map_err(|(code, message)| {
                AppError::Validation(ValidationErrors::single("new_password", code, message))
            })?;
        let iterations = self.password_iterations;
        let store = self.store.clone();
        let id = by.id.clone();
        let audit = NewAuditEvent::new(&by.actor(), actions::PASSWORD_CHANGED);
        let user = blocking(move || {
            let current = store
                .find_user(&id)?
                .filter(|user| user.kind == AccountKind::Person)
                .ok_or(AppError::NotFound(Subject::User))?;
            if !verify_password(&request.current_password, &current.password_hash) {
                return Err(AppError::Validation(ValidationErrors::single(
                    "current_password",
                    FieldErrorCode::InvalidFormat,
                    "this is not your current password",
                )));
            }
            let change = UserChange {
                password_hash: Some(hash_password(new_password.expose(), iterations)?),
                ..UserChange::default()
            };
            // At the version read with the password checked: a change in between fails.
            Ok(store.update_user(
                &id,
                AccountKind::Person,
                change,
                Some(current.version),
                &audit,
            )?)
        })
        .await?;
        tracing::info!(user = %user.username, "password changed by its owner");
        Ok(user)
    }
}
