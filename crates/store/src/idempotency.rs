//! `Idempotency-Key`: the first answer to a request, kept per principal and key, so that a
//! retry gets it again instead of doing the work twice.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::idempotency_keys as keys;
use crate::{DbConnection, Store, StoreResult, stored};

/// What a request carrying a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key is this request's now: do the work, then [`Store::finish_idempotent`] (or
    /// [`Store::release_idempotent`] if it failed).
    Claimed,
    /// The same request was answered before: this is its answer (JSON).
    Answered(String),
    /// The same request is being processed by someone else right now.
    InProgress,
    /// The key was used for another request.
    Reused,
}

impl Store {
    /// Claims `key` for `principal`'s request `request_hash` (an answer older than `expired`
    /// no longer counts; a claim whose `held_until` passed is taken over: its request is
    /// presumed dead). Of concurrent claims of one key exactly one gets `Claimed`.
    pub fn claim_idempotent(
        &self,
        principal: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        held_until: DateTime<Utc>,
        expired: DateTime<Utc>,
    ) -> StoreResult<KeyClaim> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let this = keys::table.find((principal, key));
            diesel::delete(this.filter(keys::created_at.lt(stored(expired)))).execute(conn)?;
            let fresh = (
                keys::principal_id.eq(principal),
                keys::idempotency_key.eq(key),
                keys::request_hash.eq(request_hash),
                keys::response.eq(None::<String>),
                keys::created_at.eq(stored(now)),
                keys::held_until.eq(stored(held_until)),
            );
            // Dialect-specific only in type: both write `ON CONFLICT DO NOTHING`. On
            // PostgreSQL a concurrent claim waits here until the first one commits.
            let inserted = match &mut **conn {
                DbConnection::Postgres(pg) => diesel::insert_into(keys::table)
                    .values(fresh)
                    .on_conflict_do_nothing()
                    .execute(pg)?,
                DbConnection::Sqlite(sqlite) => diesel::insert_into(keys::table)
                    .values(fresh)
                    .on_conflict_do_nothing()
                    .execute(sqlite)?,
            };
            if inserted == 1 {
                return Ok(KeyClaim::Claimed);
            }
            let (hash, response, held): (String, Option<String>, chrono::NaiveDateTime) =
                lock_key(conn, principal, key)?;
            if hash != request_hash {
                return Ok(KeyClaim::Reused);
            }
            if let Some(answer) = response {
                return Ok(KeyClaim::Answered(answer));
            }
            if held > stored(now) {
                return Ok(KeyClaim::InProgress);
            }
            // The request that held it is presumed dead: this one takes over, conditionally,
            // so that of two taking over at once only one does.
            let taken = diesel::update(
                this.filter(keys::held_until.eq(held))
                    .filter(keys::response.is_null()),
            )
            .set((
                keys::created_at.eq(stored(now)),
                keys::held_until.eq(stored(held_until)),
            ))
            .execute(conn)?;
            Ok(if taken == 1 {
                KeyClaim::Claimed
            } else {
                KeyClaim::InProgress
            })
        })
    }

    /// Keeps the answer to a claimed key.
    pub fn finish_idempotent(&self, principal: &str, key: &str, response: &str) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        diesel::update(keys::table.find((principal, key)))
            .set(keys::response.eq(response))
            .execute(&mut conn)?;
        Ok(())
    }

    /// Gives a claimed key back after its request failed, so that a retry may try again.
    pub fn release_idempotent(&self, principal: &str, key: &str) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        diesel::delete(
            keys::table
                .find((principal, key))
                .filter(keys::response.is_null()),
        )
        .execute(&mut conn)?;
        Ok(())
    }
}

/// The key's row, under its row lock on PostgreSQL.
fn lock_key(
    conn: &mut DbConnection,
    principal: &str,
    key: &str,
) -> StoreResult<(String, Option<String>, chrono::NaiveDateTime)> {
    let row = keys::table.find((principal, key));
    let columns = (keys::request_hash, keys::response, keys::held_until);
    Ok(match conn {
        DbConnection::Postgres(pg) => row.select(columns).for_update().first(pg)?,
        DbConnection::Sqlite(sqlite) => row.select(columns).first(sqlite)?,
    })
}
