//! The approved-tool registry and the administrators' policy over it.

use switchboard_domain::audit::actions;
use switchboard_domain::tools::{APPROVED_TOOLS, Tool, ToolList, UpdateToolRequest, find_tool};
use switchboard_domain::user::Role;
use switchboard_store::NewAuditEvent;

use switchboard_domain::change_request::{ChangeKind, OpenChangeRequest};

use crate::{AppError, AppResult, Principal, Submitted, Switchboard, blocking};

impl Switchboard {
    /// Every approved tool with its form schema, capabilities and setting.
    pub async fn list_tools(&self) -> AppResult<ToolList> {
        let store = self.store.clone();
        let policy = blocking(move || Ok(store.tool_policy()?)).await?;
        let items = APPROVED_TOOLS
            .iter()
            .map(|spec| Tool::from_spec(spec, policy.get(spec.id).copied().unwrap_or_default()))
            .collect();
        Ok(ToolList { items })
    }

    pub async fn get_tool(&self, id: &str) -> AppResult<Tool> {
        let spec = find_tool(id).ok_or(AppError::ToolNotFound)?;
        let store = self.store.clone();
        let setting = blocking(move || Ok(store.tool_setting(spec.id)?)).await?;
        Ok(Tool::from_spec(spec, setting))
    }

    /// Switches an approved tool on or off (administrators). Existing integrations stay; new
    /// ones are refused while it is off. With `expected_version` (`If-Match`), only if the
    /// setting is still at that version.
    pub async fn update_tool(
        &self,
        by: &Principal,
        id: &str,
        expected_version: Option<i64>,
        request: UpdateToolRequest,
    ) -> AppResult<Submitted<Tool>> {
        by.require(Role::Admin)?;
        let spec = find_tool(id).ok_or(AppError::ToolNotFound)?;
        let enabled = request.enabled;
        // Switching a tool on needs approval while approval is on; off is the safe way.
        if enabled && self.approval_on().await? {
            let store = self.store.clone();
            let already = blocking(move || Ok(store.tool_enabled(spec.id)?)).await?;
            if !already {
                let opened = self
                    .open_change_request(
                        by,
                        OpenChangeRequest {
                            kind: ChangeKind::EnableTool,
                            integration_id: None,
                            tool: Some(spec.id.to_owned()),
                            change: serde_json::json!({}),
                            business_need: request.business_need.clone().unwrap_or_default(),
                        },
                    )
                    .await?;
                return Ok(Submitted::Requested(Box::new(opened)));
            }
        }
        let store = self.store.clone();
        let changed_by = by.username.clone();
        let audit = NewAuditEvent::new(&by.actor(), actions::TOOL_CHANGED);
        let setting = blocking(move || {
            Ok(store.set_tool_enabled(spec.id, enabled, &changed_by, expected_version, &audit)?)
        })
        .await?;
        tracing::info!(tool = spec.id, enabled, by = %by.username, "tool policy changed");
        Ok(Submitted::Applied(Tool::from_spec(spec, setting)))
    }
}
