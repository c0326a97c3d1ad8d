//! Users and their roles.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use switchboard_domain::user::{AccountKind, Role, User};

use serde_json::json;
use switchboard_domain::audit::actions;

use crate::audit::{NewAuditEvent, append};
use crate::schema::{revoked_sessions, users};
use crate::{DbConnection, Store, StoreError, StoreResult, Subject, new_id, now, utc};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    id: String,
    username: String,
    password_hash: String,
    role: String,
    disabled: bool,
    session_epoch: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
    kind: String,
    created_by: Option<String>,
}

/// A user as stored, with what authentication needs.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    /// Bumped whenever the user's existing sessions must stop working.
    pub session_epoch: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; the `ETag`.
    pub version: i64,
    pub kind: AccountKind,
    /// For a service account, the administrator who made it.
    pub created_by: Option<String>,
}

impl std::fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl StoredUser {
    pub fn to_api(&self) -> User {
        User {
            id: self.id.clone(),
            username: self.username.clone(),
            role: self.role,
            disabled: self.disabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

impl TryFrom<UserRow> for StoredUser {
    type Error = StoreError;

    fn try_from(row: UserRow) -> StoreResult<Self> {
        let role = Role::parse(&row.role).ok_or_else(|| {
            StoreError::Corrupt(format!("user {} has role {:?}", row.id, row.role))
        })?;
        let kind = AccountKind::parse(&row.kind).ok_or_else(|| {
            StoreError::Corrupt(format!("user {} has kind {:?}", row.id, row.kind))
        })?;
        Ok(Self {
            id: row.id,
            username: row.username,
            password_hash: row.password_hash,
            role,
            disabled: row.disabled,
            session_epoch: row.session_epoch,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            version: row.version,
            kind,
            created_by: row.created_by,
        })
    }
}

/// A change to a user; `None` keeps the current value.
#[derive(Default, Clone)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

/// The enabled administrators' ids, in id order. On PostgreSQL their rows stay locked until
/// the transaction ends: every user update takes these locks first (always in the same
/// order, so two updates never deadlock), which serialises the last-administrator rule —
/// two administrators disabling each other at once cannot both succeed. A row that a
/// transaction we waited for disabled or demoted is re-checked and left out.
fn lock_enabled_admins(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let admins = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::disabled.eq(false))
        .filter(users::kind.eq(AccountKind::Person.as_str()))
        .order(users::id.asc())
        .select(users::id);
    match conn {
        DbConnection::Postgres(pg) => admins.for_update().load(pg),
        // SQLite: the caller's write guard already makes the transaction the only writer.
        DbConnection::Sqlite(sqlite) => admins.load(sqlite),
    }
}

/// The account `id` of `kind`, locked on PostgreSQL; another kind's id is not found.
fn lock_user(conn: &mut DbConnection, id: &str, kind: AccountKind) -> StoreResult<StoredUser> {
    let user = users::table.find(id).filter(users::kind.eq(kind.as_str()));
    let row = match conn {
        DbConnection::Postgres(pg) => user
            .select(UserRow::as_select())
            .for_update()
            .first(pg)
            .optional()?,
        DbConnection::Sqlite(sqlite) => {
            user.select(UserRow::as_select()).first(sqlite).optional()?
        }
    };
    row.ok_or(StoreError::NotFound(Subject::User))?.try_into()
}

/// A new account row. A service account's password hash is empty, which no password
/// verifies.
fn insert(
    conn: &mut DbConnection,
    username: &str,
    password_hash: &str,
    role: Role,
    kind: AccountKind,
    created_by: Option<&str>,
) -> StoreResult<StoredUser> {
    let at = now();
    let row = UserRow {
        id: new_id(),
        username: username.to_owned(),
        password_hash: password_hash.to_owned(),
        role: role.as_str().to_owned(),
        disabled: false,
        session_epoch: 0,
        created_at: at,
        updated_at: at,
        version: 1,
        kind: kind.as_str().to_owned(),
        created_by: created_by.map(str::to_owned),
    };
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)?;
    row.try_into()
}

/// `audit` about the account just created, with its role.
fn created(audit: &NewAuditEvent, account: &StoredUser) -> NewAuditEvent {
    let target_type = match account.kind {
        AccountKind::Person => "user",
        AccountKind::ServiceAccount => "service_account",
    };
    audit
        .clone()
        .on(target_type, None, None)
        .about(&account.id, &account.username)
        .change("role", None, Some(json!(account.role)))
}

impl Store {
    pub fn count_users(&self) -> StoreResult<i64> {
        let mut conn = self.conn()?;
        Ok(users::table.count().get_result(&mut conn)?)
    }

    /// Creates a user; `NameTaken` when the user name exists.
    pub fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        audit: &NewAuditEvent,
    ) -> StoreResult<StoredUser> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let user = insert(
                conn,
                username,
                password_hash,
                role,
                AccountKind::Person,
                None,
            )?;
            append(conn, &created(audit, &user))?;
            Ok(user)
        })
    }

    /// Creates a service account; `NameTaken` when a user or service account has the name.
    pub fn create_service_account(
        &self,
        name: &str,
        role: Role,
        created_by: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<StoredUser> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let account = insert(
                conn,
                name,
                "",
                role,
                AccountKind::ServiceAccount,
                Some(created_by),
            )?;
            append(conn, &created(audit, &account))?;
            Ok(account)
        })
    }

    /// The user a session names, and whether that session was signed out — one statement,
    /// as every authenticated request asks it.
    pub fn find_session_user(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> StoreResult<Option<(StoredUser, bool)>> {
        let mut conn = self.conn()?;
        let row = users::table
            .find(user_id)
            .select((
                UserRow::as_select(),
                exists(revoked_sessions::table.find(session_id.to_owned())),
            ))
            .first::<(UserRow, bool)>(&mut conn)
            .optional()?;
        row.map(|(user, revoked)| Ok((StoredUser::try_from(user)?, revoked)))
            .transpose()
    }

    /// Ends the session `session_id` (which would have expired at `expires_at`), and forgets
    /// signed-out sessions that have expired since.
    pub fn revoke_session(
        &self,
        session_id: &str,
        expires_at: DateTime<Utc>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        // The purge only forgets what no session can use any more.
        diesel::delete(revoked_sessions::table.filter(revoked_sessions::expires_at.lt(now())))
            .execute(&mut conn)?;
        conn.transaction(|conn| {
            let row = (
                revoked_sessions::id.eq(session_id),
                revoked_sessions::expires_at.eq(crate::stored(expires_at)),
            );
            let inserted = match &mut **conn {
                DbConnection::Postgres(pg) => diesel::insert_into(revoked_sessions::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(pg)?,
                DbConnection::Sqlite(sqlite) => diesel::insert_into(revoked_sessions::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(sqlite)?,
            };
            if inserted > 0 {
                append(conn, audit)?;
            }
            Ok(())
        })
    }

    /// Creates `username` as an administrator if, and only if, there are no users yet.
    pub fn create_first_admin(
        &self,
        username: &str,
        password_hash: &str,
    ) -> StoreResult<Option<StoredUser>> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let existing: i64 = users::table.count().get_result(conn)?;
            if existing > 0 {
                return Ok(None);
            }
            let admin = insert(
                conn,
                username,
                password_hash,
                Role::Admin,
                AccountKind::Person,
                None,
            )?;
            let by_switchboard = crate::audit::AuditActor::system();
            append(
                conn,
                &created(
                    &NewAuditEvent::new(&by_switchboard, actions::USER_CREATED)
                        .detail("the first administrator, at the first start"),
                    &admin,
                ),
            )?;
            Ok(Some(admin))
        })
    }

    pub fn find_user(&self, id: &str) -> StoreResult<Option<StoredUser>> {
        let mut conn = self.conn()?;
        let row = users::table
            .find(id)
            .select(UserRow::as_select())
            .first(&mut conn)
            .optional()?;
        row.map(StoredUser::try_from).transpose()
    }

    pub fn find_user_by_username(&self, username: &str) -> StoreResult<Option<StoredUser>> {
        let mut conn = self.conn()?;
        let row = users::table
            .filter(users::username.eq(username))
            .select(UserRow::as_select())
            .first(&mut conn)
            .optional()?;
        row.map(StoredUser::try_from).transpose()
    }

    /// Accounts of `kind` ordered by name, after `after` when given; one more than `limit`
    /// tells whether a next page exists.
    pub fn list_users(
        &self,
        kind: AccountKind,
        limit: i64,
        after: Option<&str>,
    ) -> StoreResult<(Vec<StoredUser>, bool)> {
        let mut conn = self.conn()?;
        let mut query = users::table
            .filter(users::kind.eq(kind.as_str()))
            .select(UserRow::as_select())
            .order(users::username.asc())
            .limit(limit + 1)
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(users::username.gt(after.to_owned()));
        }
        let mut rows: Vec<StoredUser> = query
            .load(&mut conn)?
            .into_iter()
            .map(StoredUser::try_from)
            .collect::<Result<_, _>>()?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.try_into().unwrap_or(usize::MAX));
        Ok((rows, more))
    }

    /// Applies `change`, refusing to leave the organisation without an enabled admin; with
    /// `expected_version` (from `If-Match`), only if the user is still at that version.
    pub fn update_user(
        &self,
        id: &str,
        kind: AccountKind,
        change: UserChange,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> StoreResult<StoredUser> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let admins = lock_enabled_admins(conn)?;
            let current = lock_user(conn, id, kind)?;
            if let Some(expected) = expected_version
                && expected != current.version
            {
                return Err(StoreError::VersionMismatch {
                    current: current.version,
                });
            }
            let role = change.role.unwrap_or(current.role);
            let disabled = change.disabled.unwrap_or(current.disabled);
            let loses_admin = kind == AccountKind::Person
                && current.role == Role::Admin
                && !current.disabled
                && (role != Role::Admin || disabled);
            if loses_admin && !admins.iter().any(|admin| admin != id) {
                return Err(StoreError::LastAdmin);
            }
            let ends_sessions = change.password_hash.is_some() || (disabled && !current.disabled);
            let epoch = current.session_epoch + i64::from(ends_sessions);
            let password_changed = change.password_hash.is_some();
            let password_hash = change
                .password_hash
                .unwrap_or_else(|| current.password_hash.clone());
            let updated = diesel::update(
                users::table
                    .find(id)
                    .filter(users::version.eq(current.version)),
            )
            .set((
                users::role.eq(role.as_str()),
                users::disabled.eq(disabled),
                users::password_hash.eq(&password_hash),
                users::session_epoch.eq(epoch),
                users::updated_at.eq(now()),
                users::version.eq(current.version + 1),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::Corrupt(format!(
                    "user {id} changed under its row lock"
                )));
            }
            let target_type = match kind {
                AccountKind::Person => "user",
                AccountKind::ServiceAccount => "service_account",
            };
            let mut event = audit
                .clone()
                .on(target_type, Some(id), Some(&current.username))
                .change("role", Some(json!(current.role)), Some(json!(role)))
                .change(
                    "disabled",
                    Some(json!(current.disabled)),
                    Some(json!(disabled)),
                );
            if password_changed {
                event = event.change("password", None, Some(json!({"changed": true})));
            }
            append(conn, &event)?;
            users::table
                .find(id)
                .select(UserRow::as_select())
                .first(conn)?
                .try_into()
        })
    }
}
