//! The administrators' policy over the approved tools: which ones are switched on.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::schema::tool_settings;
use crate::{Store, StoreResult, now};

impl Store {
    /// The tools an administrator has switched on or off; a tool not listed is on.
    pub fn tool_policy(&self) -> StoreResult<HashMap<String, bool>> {
        let mut conn = self.conn()?;
        let rows: Vec<(String, bool)> = tool_settings::table
            .select((tool_settings::tool_id, tool_settings::enabled))
            .load(&mut conn)?;
        Ok(rows.into_iter().collect())
    }

    pub fn tool_enabled(&self, tool_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let enabled: Option<bool> = tool_settings::table
            .find(tool_id)
            .select(tool_settings::enabled)
            .first(&mut conn)
            .optional()?;
        Ok(enabled.unwrap_or(true))
    }

    pub fn set_tool_enabled(&self, tool_id: &str, enabled: bool, by: &str) -> StoreResult<()> {
        let _writer = self.write_guard();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let at = now();
            let updated = diesel::update(tool_settings::table.find(tool_id))
                .set((
                    tool_settings::enabled.eq(enabled),
                    tool_settings::updated_at.eq(at),
                    tool_settings::updated_by.eq(by),
                ))
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(tool_settings::table)
                    .values((
                        tool_settings::tool_id.eq(tool_id),
                        tool_settings::enabled.eq(enabled),
                        tool_settings::updated_at.eq(at),
                        tool_settings::updated_by.eq(by),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }
}
