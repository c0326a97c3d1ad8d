//! Users and their roles, for administrators.

use switchboard_domain::audit::actions;
use switchboard_domain::ids::UserId;
use switchboard_domain::user::{
    AccountKind, CreateUserRequest, Role, UpdateUserRequest, User, UserPage,
};
use switchboard_domain::{FieldErrorCode, ValidationErrors};
use switchboard_store::{AuditActor, NewAuditEvent, StoredUser, Subject, UserChange};

use crate::error::username_taken;
use crate::paging::{after, encode_cursor, page_size};
use crate::passwords::{decoy_hash, hash_password, verify_password};
use crate::{AppError, AppResult, Principal, Switchboard, blocking};

impl Switchboard {
    /// Sign-in: the enabled user `username` (any case) whose password `password` is, or
    /// `None`. An unknown name is checked against a decoy hash, so the time the answer takes
    /// does not tell which names exist. (Throttling attempts is the caller's: it knows the
    /// client.)
    pub async fn authenticate(
        &self,
        username: &str,
        password: String,
        from: &AuditActor,
    ) -> AppResult<Option<StoredUser>> {
        let store = self.store.clone();
        let name = username.trim().to_lowercase();
        let decoy = decoy_hash(self.password_iterations);
        let signed_in = blocking(move || {
            let user = store.find_user_by_username(&name)?;
            let hash = user
                .as_ref()
                .map_or(decoy.as_str(), |user| user.password_hash.as_str());
            let matches = verify_password(&password, hash);
            Ok(user.filter(|user| matches && !user.disabled && user.kind == AccountKind::Person))
        })
        .await?;
        self.record_sign_in(from, username, signed_in.as_ref())
            .await;
        Ok(signed_in)
    }

    /// Users ordered by user name (administrators).
    pub async fn list_users(
        &self,
        by: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> AppResult<UserPage> {
        by.require(Role::Admin)?;
        let limit = page_size(limit)?;
        let after = after(cursor)?;
        let store = self.store.clone();
        let (users, more) =
            blocking(move || Ok(store.list_users(AccountKind::Person, limit, after.as_deref())?))
                .await?;
        let next_cursor = if more {
            users.last().map(|user| encode_cursor(&user.username))
        } else {
            None
        };
        Ok(UserPage {
            items: users.iter().map(|user| user.to_api()).collect(),
            next_cursor,
        })
    }

    pub async fn get_user(&self, by: &Principal, id: &UserId) -> AppResult<User> {
        by.require(Role::Admin)?;
        let store = self.store.clone();
        let id = id.to_string();
        blocking(move || {
            store
                .find_user(&id)?
                .filter(|user| user.kind == AccountKind::Person)
                .map(|user| user.to_api())
                .ok_or(AppError::NotFound(Subject::User))
        })
        .await
    }

    /// Adds a user (administrators).
    pub async fn create_user(&self, by: &Principal, request: CreateUserRequest) -> AppResult<User> {
        by.require(Role::Admin)?;
        let new_user = request.parse().map_err(AppError::Validation)?;
        let iterations = self.password_iterations;
        let store = self.store.clone();
        let audit = NewAuditEvent::new(&by.actor(), actions::USER_CREATED);
        let user = blocking(move || {
            let hash = hash_password(new_user.password.expose(), iterations)?;
            let name = new_user.username.as_str();
            store
                .create_user(name, &hash, new_user.role, &audit)
                .map_err(username_taken(name))
        })
        .await?;
        tracing::info!(user = %user.username, role = %user.role, by = %by.username, "user created");
        Ok(user.to_api())
    }

    /// Changes a user's role, disables or enables them, or sets a new password (which ends
    /// their sessions) — administrators; never leaving no enabled administrator. With
    /// `expected_version` (`If-Match`), only if the user is still at that version. An
    /// administrator setting their own password proves the current one, like anyone else.
    pub async fn update_user(
        &self,
        by: &Principal,
        id: &UserId,
        expected_version: Option<i64>,
        request: UpdateUserRequest,
    ) -> AppResult<User> {
        by.require(Role::Admin)?;
        let patch = request.parse().map_err(AppError::Validation)?;
        let request_current = request.current_password;
        let iterations = self.password_iterations;
        let store = self.store.clone();
        let id = id.to_string();
        let own_password = (id == by.id && patch.password.is_some()).then_some(request_current);
        let audit = NewAuditEvent::new(&by.actor(), actions::USER_CHANGED);
        let user = blocking(move || {
            if let Some(current_password) = own_password {
                let stored = store
                    .find_user(&id)?
                    .ok_or(AppError::NotFound(Subject::User))?;
                let proven = current_password
                    .is_some_and(|password| verify_password(&password, &stored.password_hash));
                if !proven {
                    return Err(AppError::Validation(ValidationErrors::single(
                        "current_password",
                        FieldErrorCode::Required,
                        "your current password is needed to set a new one",
                    )));
                }
            }
            let password_hash = patch
                .password
                .as_ref()
                .map(|password| hash_password(password.expose(), iterations))
                .transpose()?;
            let change = UserChange {
                role: patch.role,
                disabled: patch.disabled,
                password_hash,
            };
            Ok(store.update_user(&id, AccountKind::Person, change, expected_version, &audit)?)
        })
        .await?;
        tracing::info!(user = %user.username, role = %user.role, disabled = user.disabled, by = %by.username, "user changed");
        Ok(user.to_api())
    }
}
