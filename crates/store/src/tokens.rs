//! API tokens: stored as a keyed hash, found by it, revoked in place.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use switchboard_domain::token::{ApiToken, MAX_ACTIVE_TOKENS, Scope, TokenKind, TokenState};
use switchboard_domain::user::AccountKind;
use switchboard_domain::{FieldErrorCode, ValidationErrors};

use crate::audit::{NewAuditEvent, append};
use crate::schema::{api_tokens, users};
use crate::users::StoredUser;
use crate::{DbConnection, Store, StoreError, StoreResult, Subject, new_id, now, stored, utc};

/// How often a token's last use is written at most.
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);
/// The most tokens (of any state) a list shows, newest first.
const LISTED_TOKENS: i64 = 200;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: String,
    owner_id: String,
    name: String,
    token_hash: String,
    key_id: String,
    scopes: String,
    created_at: NaiveDateTime,
    created_by: String,
    expires_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
    last_used_from: Option<String>,
    revoked_at: Option<NaiveDateTime>,
    revoked_by: Option<String>,
}

/// A token as stored, without its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub id: String,
    pub owner_id: String,
    pub owner_name: String,
    pub owner_kind: AccountKind,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_from: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

impl StoredToken {
    fn from_row(row: TokenRow, owner_name: String, owner_kind: &str) -> StoreResult<Self> {
        let scopes = Scope::split(&row.scopes).ok_or_else(|| {
            StoreError::Corrupt(format!("token {} has scopes {:?}", row.id, row.scopes))
        })?;
        let owner_kind = AccountKind::parse(owner_kind).ok_or_else(|| {
            StoreError::Corrupt(format!("user {} has kind {owner_kind:?}", row.owner_id))
        })?;
        Ok(Self {
            id: row.id,
            owner_id: row.owner_id,
            owner_name,
            owner_kind,
            name: row.name,
            scopes,
            created_at: utc(row.created_at),
            created_by: row.created_by,
            expires_at: utc(row.expires_at),
            last_used_at: row.last_used_at.map(utc),
            last_used_from: row.last_used_from,
            revoked_at: row.revoked_at.map(utc),
            revoked_by: row.revoked_by,
        })
    }

    pub fn kind(&self) -> TokenKind {
        match self.owner_kind {
            AccountKind::Person => TokenKind::Personal,
            AccountKind::ServiceAccount => TokenKind::ServiceAccount,
        }
    }

    pub fn state(&self, at: DateTime<Utc>) -> TokenState {
        if self.revoked_at.is_some() {
            TokenState::Revoked
        } else if self.expires_at <= at {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    pub fn to_api(&self, at: DateTime<Utc>) -> ApiToken {
        ApiToken {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind(),
            owner_id: self.owner_id.clone(),
            owner_name: self.owner_name.clone(),
            scopes: self.scopes.clone(),
            state: self.state(at),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            last_used_from: self.last_used_from.clone(),
            revoked_at: self.revoked_at,
            revoked_by: self.revoked_by.clone(),
        }
    }
}

/// A token to store: `value` is hashed here and never kept.
pub struct NewTokenRecord<'a> {
    pub owner_id: &'a str,
    pub owner_kind: AccountKind,
    pub name: &'a str,
    pub scopes: &'a [Scope],
    pub expires_at: DateTime<Utc>,
    pub created_by: &'a str,
    pub value: &'a str,
}

/// The token an authenticated request presented, and its owner as they are now.
#[derive(Debug, Clone)]
pub struct TokenMatch {
    pub token: StoredToken,
    pub owner: StoredUser,
}

type Joined = (TokenRow, String, String);

fn to_stored((row, owner_name, owner_kind): Joined) -> StoreResult<StoredToken> {
    StoredToken::from_row(row, owner_name, &owner_kind)
}

/// Token `id` with its owner's name, on a connection the caller already holds (a second one
/// from the pool could wait for ever while every connection is held the same way).
fn find_token_on(conn: &mut DbConnection, id: &str) -> StoreResult<Option<StoredToken>> {
    let row = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::id.eq(id))
        .select((TokenRow::as_select(), users::username, users::kind))
        .first::<Joined>(conn)
        .optional()?;
    row.map(to_stored).transpose()
}

/// The owner's row, locked on PostgreSQL so two creations cannot both take the last free
/// place under the cap.
fn lock_owner(conn: &mut DbConnection, owner_id: &str, kind: AccountKind) -> StoreResult<()> {
    let owner = users::table
        .find(owner_id)
        .filter(users::kind.eq(kind.as_str()))
        .select(users::id);
    let found = match conn {
        DbConnection::Postgres(pg) => owner.for_update().first::<String>(pg).optional()?,
        DbConnection::Sqlite(sqlite) => owner.first::<String>(sqlite).optional()?,
    };
    found.map(drop).ok_or(StoreError::NotFound(Subject::User))
}

/// `audit` about token `id` (`name`).
fn token_event(audit: &NewAuditEvent, id: &str, name: &str) -> NewAuditEvent {
    audit.clone().on("token", Some(id), Some(name))
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl Store {
    /// Stores a new token for its owner, refusing more than `MAX_ACTIVE_TOKENS` active ones.
    pub fn create_token(
        &self,
        record: NewTokenRecord<'_>,
        audit: &NewAuditEvent,
    ) -> StoreResult<StoredToken> {
        let (key_id, token_hash) = self
            .sealer()
            .token_digests(record.value)
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("the keyring is empty".into()))?;
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        let id = conn.transaction(|conn| {
            lock_owner(conn, record.owner_id, record.owner_kind)?;
            let at = now();
            let active: i64 = api_tokens::table
                .filter(api_tokens::owner_id.eq(record.owner_id))
                .filter(api_tokens::revoked_at.is_null())
                .filter(api_tokens::expires_at.gt(at))
                .count()
                .get_result(conn)?;
            if active >= MAX_ACTIVE_TOKENS {
                return Err(StoreError::Invalid(ValidationErrors::single(
                    "name",
                    FieldErrorCode::TooMany,
                    format!("at most {MAX_ACTIVE_TOKENS} active tokens; revoke one first"),
                )));
            }
            let row = TokenRow {
                id: new_id(),
                owner_id: record.owner_id.to_owned(),
                name: record.name.to_owned(),
                token_hash,
                key_id,
                scopes: Scope::join(record.scopes),
                created_at: at,
                created_by: record.created_by.to_owned(),
                expires_at: stored(record.expires_at),
                last_used_at: None,
                last_used_from: None,
                revoked_at: None,
                revoked_by: None,
            };
            diesel::insert_into(api_tokens::table)
                .values(&row)
                .execute(conn)?;
            append(
                conn,
                &token_event(audit, &row.id, record.name)
                    .change("scopes", None, Some(serde_json::json!(record.scopes)))
                    .change(
                        "expires_at",
                        None,
                        Some(serde_json::json!(utc(row.expires_at))),
                    )
                    .detail(format!("owner {}", record.owner_id)),
            )?;
            Ok::<_, StoreError>(row.id)
        })?;
        find_token_on(&mut conn, &id)?.ok_or(StoreError::NotFound(Subject::Token))
    }

    pub fn find_token(&self, id: &str) -> StoreResult<Option<StoredToken>> {
        let mut conn = self.conn()?;
        find_token_on(&mut conn, id)
    }

    /// The owner's tokens, newest first (the latest `LISTED_TOKENS`).
    pub fn list_tokens(&self, owner_id: &str) -> StoreResult<Vec<StoredToken>> {
        let mut conn = self.conn()?;
        api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::owner_id.eq(owner_id))
            .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
            .limit(LISTED_TOKENS)
            .select((TokenRow::as_select(), users::username, users::kind))
            .load::<Joined>(&mut conn)?
            .into_iter()
            .map(to_stored)
            .collect()
    }

    /// Active tokens per owner, for the owners listed.
    pub fn active_token_counts(
        &self,
        owner_ids: &[String],
    ) -> StoreResult<std::collections::HashMap<String, i64>> {
        let mut conn = self.conn()?;
        let counts: Vec<(String, i64)> = api_tokens::table
            .filter(api_tokens::owner_id.eq_any(owner_ids))
            .filter(api_tokens::revoked_at.is_null())
            .filter(api_tokens::expires_at.gt(now()))
            .group_by(api_tokens::owner_id)
            .select((api_tokens::owner_id, diesel::dsl::count_star()))
            .load(&mut conn)?;
        Ok(counts.into_iter().collect())
    }

    /// Revokes token `id` (only when its owner is `owner`, if given) — at once, in the
    /// statement that decides it; revoking a revoked token keeps the first revocation.
    pub fn revoke_token(
        &self,
        id: &str,
        owner: Option<&str>,
        by: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<StoredToken> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| self.revoke_token_on(conn, id, owner, by, audit))
    }

    fn revoke_token_on(
        &self,
        conn: &mut DbConnection,
        id: &str,
        owner: Option<&str>,
        by: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<StoredToken> {
        let mut target = api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null())
            .into_boxed();
        if let Some(owner) = owner {
            target = target.filter(api_tokens::owner_id.eq(owner.to_owned()));
        }
        let ids: Vec<String> = target.select(api_tokens::id).load(conn)?;
        // The UPDATE repeats the condition: it is what decides, the read above only names.
        let revoked = diesel::update(
            api_tokens::table
                .filter(api_tokens::id.eq_any(&ids))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set((
            api_tokens::revoked_at.eq(now()),
            api_tokens::revoked_by.eq(by),
        ))
        .execute(conn)?;
        match find_token_on(conn, id)? {
            Some(token) if owner.is_none_or(|owner| token.owner_id == owner) => {
                if revoked > 0 {
                    append(conn, &token_event(audit, &token.id, &token.name))?;
                }
                Ok(token)
            }
            _ => Err(StoreError::NotFound(Subject::Token)),
        }
    }

    /// The token whose value is `value`, with its owner, found by its keyed hash under any
    /// key of the ring and compared again in constant time.
    pub fn token_by_value(&self, value: &str) -> StoreResult<Option<TokenMatch>> {
        let digests = self.sealer().token_digests(value);
        let hashes: Vec<&str> = digests.iter().map(|(_, hash)| hash.as_str()).collect();
        let mut conn = self.conn()?;
        let found = api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_hash.eq_any(&hashes))
            .select((TokenRow::as_select(), crate::users::UserRow::as_select()))
            .first::<(TokenRow, crate::users::UserRow)>(&mut conn)
            .optional()?;
        let Some((row, owner)) = found else {
            return Ok(None);
        };
        let expected = digests
            .iter()
            .find(|(key_id, _)| *key_id == row.key_id)
            .map(|(_, hash)| hash.as_bytes());
        let same = expected.is_some_and(|expected| same_bytes(expected, row.token_hash.as_bytes()));
        if !same {
            return Ok(None);
        }
        let owner = StoredUser::try_from(owner)?;
        let token = StoredToken::from_row(row, owner.username.clone(), owner.kind.as_str())?;
        Ok(Some(TokenMatch { token, owner }))
    }

    /// Records a use of token `id` from `client` at `at`, unless one was recorded less than
    /// a minute before (decided in the statement, so replicas do not all write).
    pub fn touch_token(&self, id: &str, at: DateTime<Utc>, client: &str) -> StoreResult<bool> {
        let at = stored(at);
        let Some(before) = at.checked_sub_signed(LAST_USED_GRANULARITY) else {
            return Ok(false);
        };
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        let updated = diesel::update(
            api_tokens::table.filter(api_tokens::id.eq(id)).filter(
                api_tokens::last_used_at
                    .is_null()
                    .or(api_tokens::last_used_at.le(before)),
            ),
        )
        .set((
            api_tokens::last_used_at.eq(at),
            api_tokens::last_used_from.eq(client),
        ))
        .execute(&mut conn)?;
        Ok(updated > 0)
    }
}
