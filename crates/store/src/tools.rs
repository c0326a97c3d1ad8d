//! The administrators' policy over the approved tools: which ones are switched on.

use std::collections::HashMap;

use diesel::prelude::*;
use switchboard_domain::tools::ToolSetting;

use crate::audit::{NewAuditEvent, append};
use crate::schema::tool_settings;
use crate::{DbConnection, Store, StoreError, StoreResult, now};

impl Store {
    /// The tools an administrator has set; a tool not listed is on, at version 0.
    pub fn tool_policy(&self) -> StoreResult<HashMap<String, ToolSetting>> {
        let mut conn = self.conn()?;
        let rows: Vec<(String, bool, i64)> = tool_settings::table
            .select((
                tool_settings::tool_id,
                tool_settings::enabled,
                tool_settings::version,
            ))
            .load(&mut conn)?;
        Ok(rows
            .into_iter()
            .map(|(tool, enabled, version)| (tool, ToolSetting { enabled, version }))
            .collect())
    }

    pub fn tool_setting(&self, tool_id: &str) -> StoreResult<ToolSetting> {
        let mut conn = self.conn()?;
        let row: Option<(bool, i64)> = tool_settings::table
            .find(tool_id)
            .select((tool_settings::enabled, tool_settings::version))
            .first(&mut conn)
            .optional()?;
        Ok(
            row.map_or_else(ToolSetting::default, |(enabled, version)| ToolSetting {
                enabled,
                version,
            }),
        )
    }

    pub fn tool_enabled(&self, tool_id: &str) -> StoreResult<bool> {
        Ok(self.tool_setting(tool_id)?.enabled)
    }

    /// Switches a tool on or off; with `expected_version` (from `If-Match`), only if the
    /// setting is still at that version — compared in the statement that writes, so of two
    /// concurrent changes from the same version exactly one lands.
    pub fn set_tool_enabled(
        &self,
        tool_id: &str,
        enabled: bool,
        by: &str,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> StoreResult<ToolSetting> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let (setting, event) =
                set_tool_enabled_on(conn, tool_id, enabled, by, expected_version, audit.clone())?;
            append(conn, &event)?;
            Ok(setting)
        })
    }
}

/// Whether a tool is switched on (a tool never set is), read on the caller's connection.
pub(crate) fn tool_enabled_on(conn: &mut DbConnection, tool_id: &str) -> StoreResult<bool> {
    Ok(tool_settings::table
        .find(tool_id)
        .select(tool_settings::enabled)
        .first(conn)
        .optional()?
        .unwrap_or(true))
}

/// [`Store::set_tool_enabled`] inside the caller's transaction (an approved request applies
/// it with its own state change); answers `audit` completed with the change, for the caller
/// to append as its transaction's last write.
pub(crate) fn set_tool_enabled_on(
    conn: &mut DbConnection,
    tool_id: &str,
    enabled: bool,
    by: &str,
    expected_version: Option<i64>,
    audit: NewAuditEvent,
) -> StoreResult<(ToolSetting, NewAuditEvent)> {
    let at = now();
    // A tool never set has no row: make one at version 0 (as it reads), so the
    // conditional update below has a row to compare.
    let unset = (
        tool_settings::tool_id.eq(tool_id),
        tool_settings::enabled.eq(true),
        tool_settings::updated_at.eq(at),
        tool_settings::updated_by.eq(by),
        tool_settings::version.eq(0_i64),
    );
    // Dialect-specific only in type: both backends write `ON CONFLICT DO NOTHING`.
    match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(tool_settings::table)
            .values(unset)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConnection::Sqlite(sqlite) => diesel::insert_into(tool_settings::table)
            .values(unset)
            .on_conflict_do_nothing()
            .execute(sqlite)?,
    };
    let row = tool_settings::table.find(tool_id);
    // The value before, under the row's lock: what the audit entry says it was.
    let before = row.select(tool_settings::enabled);
    let was_enabled: bool = match conn {
        DbConnection::Postgres(pg) => before.for_update().first(pg)?,
        DbConnection::Sqlite(sqlite) => before.first(sqlite)?,
    };
    let set = (
        tool_settings::enabled.eq(enabled),
        tool_settings::updated_at.eq(at),
        tool_settings::updated_by.eq(by),
        tool_settings::version.eq(tool_settings::version + 1),
    );
    let updated = match expected_version {
        Some(expected) => diesel::update(row.filter(tool_settings::version.eq(expected)))
            .set(set)
            .execute(conn)?,
        None => diesel::update(row).set(set).execute(conn)?,
    };
    let version: i64 = row.select(tool_settings::version).first(conn)?;
    if updated == 0 {
        return Err(StoreError::VersionMismatch { current: version });
    }
    let event = audit.on("tool", Some(tool_id), Some(tool_id)).change(
        "enabled",
        Some(was_enabled.into()),
        Some(enabled.into()),
    );
    Ok((ToolSetting { enabled, version }, event))
}
