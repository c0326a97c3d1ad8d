//! Integrations: list, read, add, change, delete; check a draft or a saved one; discover.

use std::collections::BTreeMap;

use bytes::Bytes;
use secrecy::ExposeSecret;
use switchboard_connectors::Target;
use switchboard_domain::audit::actions;
use switchboard_domain::check::{ConnectionCheck, SyncReport, TestDraftRequest};
use switchboard_domain::ids::IntegrationId;
use switchboard_domain::integration::{
    CreateIntegrationRequest, CredentialChange, CurrentSettings, Integration, IntegrationPage,
    IntegrationStatus, UpdateIntegrationRequest, origin_move, require_secrets_again,
};
use switchboard_domain::tools::{APPROVED_TOOLS, ToolSpec, find_tool};
use switchboard_domain::user::Role;
use switchboard_domain::{FieldErrorCode, ValidationErrors};
use switchboard_store::{IntegrationQuery, NewAuditEvent, StoredCredential};

use switchboard_domain::change_request::{ChangeKind, OpenChangeRequest, update_needs_approval};

use crate::audit::{SecretUse, check_result};
use crate::error::integration_name_taken;
use crate::paging::{after, encode_cursor, page_size};
use crate::tooling::SAVE_CHECK_BOUND;
use crate::{
    AfterSave, AppError, AppResult, IdempotencyKey, Once, Principal, Submitted, Switchboard,
    blocking,
};

/// `GET /api/v1/integrations`'s query, as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct ListIntegrations {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub tool: Option<String>,
    pub q: Option<String>,
}

/// A page of integrations as JSON (an `IntegrationPage`), built once per query and data
/// version and then served from memory.
#[derive(Debug, Clone)]
pub struct IntegrationListing(pub Bytes);

fn approved_tool_list() -> String {
    APPROVED_TOOLS
        .iter()
        .map(|tool| tool.id)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Switchboard {
    pub async fn list_integrations(
        &self,
        query: ListIntegrations,
    ) -> AppResult<IntegrationListing> {
        let limit = page_size(query.limit)?;
        let after = after(query.cursor.as_deref())?;
        if let Some(tool) = &query.tool
            && find_tool(tool).is_none()
        {
            return Err(AppError::InvalidParameter(format!(
                "tool {tool:?} is not approved; approved tools: {}",
                approved_tool_list()
            )));
        }
        if query.q.as_ref().is_some_and(|q| q.chars().count() > 100) {
            return Err(AppError::InvalidParameter(
                "q has at most 100 characters".into(),
            ));
        }
        let query = IntegrationQuery {
            limit,
            after,
            tool: query.tool,
            name_contains: query.q.filter(|q| !q.trim().is_empty()),
        };
        let cache_key = format!("{query:?}");
        let store = self.store.clone();
        let pages = self.integration_pages.clone();
        // One trip to the blocking pool: the version check, and the page only when it changed.
        blocking(move || {
            let version = store.integrations_version()?;
            if let Some(page) = pages.get(&cache_key, version) {
                return Ok(IntegrationListing(page));
            }
            let (items, next) = store.list_integrations(&query)?;
            let page = IntegrationPage {
                items,
                next_cursor: next.as_deref().map(encode_cursor),
            };
            let body = Bytes::from(serde_json::to_vec(&page).map_err(AppError::internal)?);
            pages.put(cache_key, version, body.clone());
            Ok(IntegrationListing(body))
        })
        .await
    }

    pub async fn get_integration(&self, id: &IntegrationId) -> AppResult<Integration> {
        let store = self.store.clone();
        let id = id.to_string();
        blocking(move || Ok(store.get_integration(&id)?)).await
    }

    /// Adds an integration of an approved, enabled tool. While approval is on, operators
    /// and administrators submit it as a change request (with its business need) and
    /// nothing is added until it is approved; otherwise administrators add it, its
    /// connection is checked (the answer carries the outcome) and, when good, its pipelines
    /// discovered.
    pub async fn create_integration(
        &self,
        by: &Principal,
        key: Option<&IdempotencyKey>,
        request: CreateIntegrationRequest,
    ) -> AppResult<Once<Submitted<Integration>>> {
        let approval = !by.is_command_line() && self.approval_on().await?;
        by.require(if approval {
            Role::Operator
        } else {
            Role::Admin
        })?;
        // Credential values are left out of what identifies the request: no form of a secret
        // is kept with the key (a retry with other credential values replays the first answer).
        let identity = serde_json::json!({
            "name": request.name,
            "tool": request.tool,
            "urls": request.urls,
            "credentials": request.credentials.keys().collect::<Vec<_>>(),
            "business_need": request.business_need,
        });
        self.once(by, key, "create_integration", &identity, || async {
            if approval {
                let business_need = request.business_need.clone();
                self.submit_for_approval(
                    by,
                    ChangeKind::CreateIntegration,
                    None,
                    &request,
                    business_need,
                )
                .await
            } else {
                Ok(Submitted::Applied(
                    self.create_integration_now(by, request).await?,
                ))
            }
        })
        .await
    }

    async fn create_integration_now(
        &self,
        by: &Principal,
        request: CreateIntegrationRequest,
    ) -> AppResult<Integration> {
        let store = self.store.clone();
        let created_by = by.username.clone();
        let check_due = self.check_due_after_save();
        let audit = NewAuditEvent::new(&by.actor(), actions::INTEGRATION_CREATED);
        let saved = blocking(move || {
            let tool = enabled_tool(&store, &request.tool)?;
            let draft = request.parse(tool).map_err(AppError::Validation)?;
            store
                .create_integration(&draft, &created_by, check_due, &audit)
                .map_err(integration_name_taken(draft.name.as_str()))
        })
        .await?;
        tracing::info!(integration = %saved.id, name = %saved.name, by = %by.username, "integration created");
        Ok(self.check_after_save(saved).await)
    }

    /// Changes an integration. Secret fields: absent = keep, `null` = clear, a value =
    /// replace. With `expected_version` (`If-Match`), only if it is still at that version.
    /// While approval is on, a change of its URLs or secrets becomes a change request
    /// (operators and administrators); anything else, and everything while approval is off,
    /// administrators apply directly.
    pub async fn update_integration(
        &self,
        by: &Principal,
        id: &IntegrationId,
        expected_version: Option<i64>,
        request: UpdateIntegrationRequest,
    ) -> AppResult<Submitted<Integration>> {
        by.require(Role::Operator)?;
        let approval = self.approval_on().await?;
        if approval {
            let store = self.store.clone();
            let live_id = id.to_string();
            let live = blocking(move || Ok(store.integration_settings(&live_id)?)).await?;
            if live.pending {
                return Err(switchboard_store::StoreError::PendingApproval.into());
            }
            if update_needs_approval(live.tool, &live.current, &request) {
                if let Some(expected) = expected_version
                    && expected != live.version
                {
                    return Err(AppError::VersionMismatch {
                        current: live.version,
                    });
                }
                let business_need = request.business_need.clone();
                return self
                    .submit_for_approval(
                        by,
                        ChangeKind::UpdateIntegration,
                        Some(id.to_string()),
                        &request,
                        business_need,
                    )
                    .await;
            }
        }
        by.require(Role::Admin)?;
        let store = self.store.clone();
        let id = id.to_string();
        let new_name = request.name.clone().unwrap_or_default();
        let check_due = self.check_due_after_save();
        let audit = NewAuditEvent::new(&by.actor(), actions::INTEGRATION_CHANGED);
        let saved = blocking(move || {
            store
                .update_integration(&id, expected_version, check_due, |tool, stored| {
                    // Decided again under the row's lock: URLs that changed since the first
                    // look could make this change one that needs approval after all.
                    if approval && update_needs_approval(tool, stored, &request) {
                        return Err(ValidationErrors::single(
                            "urls",
                            FieldErrorCode::InvalidFormat,
                            "the integration changed while this was saved: read it again and send the change anew",
                        ));
                    }
                    request.parse(tool, stored)
                }, &audit)
                .map_err(integration_name_taken(new_name.trim()))
        })
        .await?;
        tracing::info!(integration = %saved.id, version = saved.version, by = %by.username, "integration changed");
        Ok(Submitted::Applied(self.check_after_save(saved).await))
    }

    /// Deletes an integration with its credentials, pipelines and runs (administrators).
    pub async fn delete_integration(
        &self,
        by: &Principal,
        id: &IntegrationId,
        expected_version: Option<i64>,
    ) -> AppResult<()> {
        by.require(Role::Admin)?;
        let store = self.store.clone();
        let id = id.to_string();
        let deleted = id.clone();
        let audit = NewAuditEvent::new(&by.actor(), actions::INTEGRATION_DELETED);
        blocking(move || Ok(store.delete_integration(&id, expected_version, &audit)?)).await?;
        tracing::info!(integration = %deleted, by = %by.username, "integration deleted");
        Ok(())
    }

    /// Checks a saved integration's connection now (operators and administrators); the
    /// result also becomes its status.
    pub async fn check_integration(
        &self,
        by: &Principal,
        id: &IntegrationId,
    ) -> AppResult<ConnectionCheck> {
        by.require(Role::Operator)?;
        let check = self.tooling.check_integration(id.as_str(), None).await?;
        self.record_secret_use(
            by,
            id.as_str(),
            SecretUse {
                action: actions::INTEGRATION_CHECKED,
                ok: check.ok,
                result: check_result(&check),
                urls: None,
            },
        )
        .await?;
        Ok(check)
    }

    /// Discovers the integration's pipelines now (operators and administrators).
    pub async fn sync_integration(
        &self,
        by: &Principal,
        id: &IntegrationId,
    ) -> AppResult<SyncReport> {
        by.require(Role::Operator)?;
        let synced = self.tooling.sync_integration(id.as_str()).await;
        let result = match &synced {
            Ok(report) => format!(
                "discovered {} pipelines ({} added, {} updated, {} removed)",
                report.total, report.added, report.updated, report.removed
            ),
            Err(err) => format!("discovery failed: {err}"),
        };
        // A sync of an integration that is not there (or is waiting for approval) used no
        // secret; any other outcome came after its tool was asked.
        let never_asked = matches!(
            synced,
            Err(AppError::NotFound(_)
                | AppError::ChangeRefused {
                    code: switchboard_domain::ErrorCode::PendingApproval,
                    ..
                })
        );
        if !never_asked {
            self.record_secret_use(
                by,
                id.as_str(),
                SecretUse {
                    action: actions::INTEGRATION_SYNCED,
                    ok: synced.is_ok(),
                    result,
                    urls: None,
                },
            )
            .await?;
        }
        synced
    }

    /// Checks a connection before saving it (administrators, and operators while approval is
    /// on, who then submit changes for approval): the draft's fields, with the stored secrets
    /// of integration `id` (when given) filling the secret fields left out — only while the
    /// draft's URLs keep their origins.
    pub async fn test_draft(
        &self,
        by: &Principal,
        request: TestDraftRequest,
    ) -> AppResult<ConnectionCheck> {
        by.require(if self.approval_on().await? {
            Role::Operator
        } else {
            Role::Admin
        })?;
        let Some(tool) = find_tool(&request.tool) else {
            return Err(AppError::ToolNotApproved(format!(
                "{:?} is not an approved tool; approved tools: {}",
                request.tool,
                approved_tool_list()
            )));
        };
        let mut credentials = request.credentials;
        // The integration whose stored secrets fill the draft, when some do: the test is
        // recorded in its history.
        let mut secrets_of = None;
        if let Some(raw_id) = request.id {
            let id = IntegrationId::parse(&raw_id)
                .ok_or(AppError::NotFound(switchboard_store::Subject::Integration))?;
            let opened = {
                let store = self.store.clone();
                let id = id.clone();
                blocking(move || Ok(store.open_target(id.as_str())?)).await?
            };
            if opened.tool != tool.id {
                return Err(AppError::Validation(ValidationErrors::single(
                    "tool",
                    FieldErrorCode::InvalidFormat,
                    format!(
                        "the integration is a {} integration; its tool cannot change",
                        opened.tool
                    ),
                )));
            }
            // A stored secret goes only to the origins it was saved with: when the draft's
            // URLs lead elsewhere, the caller enters the secrets again.
            let moved = origin_move(
                tool,
                &opened.urls,
                request
                    .urls
                    .iter()
                    .map(|(key, url)| (key.as_str(), url.as_str())),
            );
            if let Some(moved) = &moved {
                let current = CurrentSettings {
                    urls: opened.urls.clone(),
                    filled: opened.credentials.keys().cloned().collect(),
                };
                let mut errors = ValidationErrors::new();
                require_secrets_again(
                    tool,
                    moved,
                    &current,
                    &|key| matches!(credentials.get(key), Some(Some(_))),
                    &mut errors,
                );
                if !errors.is_empty() {
                    return Err(AppError::Validation(errors));
                }
            }
            for (key, credential) in opened.credentials {
                let slot = credentials.entry(key).or_insert(None);
                if slot.is_none() {
                    *slot = match credential {
                        StoredCredential::Plain(value) => Some(value),
                        StoredCredential::Secret(_) if moved.is_some() => None,
                        StoredCredential::Secret(secret) => {
                            secrets_of = Some(id.to_string());
                            Some(secret.expose_secret().to_owned())
                        }
                    };
                }
            }
        }
        let draft_urls = request.urls.clone();
        let draft = CreateIntegrationRequest {
            name: tool.name.to_owned(),
            tool: tool.id.to_owned(),
            urls: request.urls,
            credentials,
            business_need: None,
        }
        .parse(tool)
        .map_err(AppError::Validation)?;
        let mut target = Target {
            urls: draft
                .urls
                .iter()
                .map(|(key, url)| (key.as_str().to_owned(), url.as_str().to_owned()))
                .collect(),
            fields: BTreeMap::new(),
            secrets: BTreeMap::new(),
        };
        for (key, change) in draft.credentials {
            let CredentialChange::Set(value) = change else {
                continue;
            };
            if tool.credential_field(key).is_some_and(|field| field.secret) {
                target
                    .secrets
                    .insert(key.to_owned(), value.into_inner().into());
            } else {
                target.fields.insert(key.to_owned(), value.into_inner());
            }
        }
        let check = self.tooling.check(tool.id, &target, None).await;
        if let Some(id) = secrets_of {
            self.record_secret_use(
                by,
                &id,
                SecretUse {
                    action: actions::INTEGRATION_TESTED,
                    ok: check.ok,
                    result: format!("a draft tested: {}", check_result(&check)),
                    urls: Some(draft_urls),
                },
            )
            .await?;
        }
        Ok(check)
    }

    /// Opens the change request a change that needs approval becomes: `body` (what the
    /// integrations API took) is its proposed change.
    async fn submit_for_approval<T>(
        &self,
        by: &Principal,
        kind: ChangeKind,
        integration_id: Option<String>,
        body: &impl serde::Serialize,
        business_need: Option<String>,
    ) -> AppResult<Submitted<T>> {
        let change = serde_json::to_value(body).map_err(AppError::internal)?;
        let opened = self
            .open_change_request(
                by,
                OpenChangeRequest {
                    kind,
                    integration_id,
                    tool: None,
                    change,
                    business_need: business_need.unwrap_or_default(),
                },
            )
            .await?;
        Ok(Submitted::Requested(Box::new(opened)))
    }

    /// Every save checks the connection (its result is the answer's `status` and
    /// `last_check`) and, when it succeeded, discovers the pipelines in the background —
    /// unless that is left to the server ([`AfterSave`]). The saved integration is answered
    /// as the save returned it, with the check's outcome set on it (the check does not change
    /// its version), not read again.
    async fn check_after_save(&self, mut saved: Integration) -> Integration {
        if self.after_save == AfterSave::LeaveToServer {
            return saved;
        }
        match self
            .tooling
            .check_integration(&saved.id, Some(SAVE_CHECK_BOUND))
            .await
        {
            Ok(check) => {
                if check.ok {
                    self.discover_in_background(&saved.id);
                }
                saved.status = IntegrationStatus::after(&check);
                saved.last_check = Some(check);
                saved
            }
            Err(err) => {
                // The save itself succeeded; a failed check is retried by the periodic work.
                tracing::warn!(integration = %saved.id, error = %err, "cannot check after saving");
                saved
            }
        }
    }

    /// When the periodic work may check a just-saved integration: at once when nothing else
    /// will; otherwise a moment after the save's own check must have ended, so the two never
    /// run together (and a server that dies meanwhile leaves it due soon).
    fn check_due_after_save(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self.after_save {
            AfterSave::LeaveToServer => None,
            AfterSave::CheckNow => Some(
                chrono::Utc::now()
                    + chrono::Duration::from_std(SAVE_CHECK_BOUND * 2)
                        .unwrap_or(chrono::Duration::seconds(20)),
            ),
        }
    }

    fn discover_in_background(&self, id: &str) {
        let tooling = self.tooling.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            if let Err(err) = tooling.sync_integration(&id).await {
                tracing::warn!(integration = %id, error = %err, "discovery after save failed");
            }
        });
    }
}

/// The registry entry of `tool` if it is approved and switched on; otherwise the refusal,
/// naming the tools that are.
pub(crate) fn enabled_tool(
    store: &switchboard_store::Store,
    tool: &str,
) -> AppResult<&'static ToolSpec> {
    if let Some(spec) = find_tool(tool)
        && store.tool_enabled(spec.id)?
    {
        return Ok(spec);
    }
    let policy = store.tool_policy()?;
    let allowed: Vec<&str> = APPROVED_TOOLS
        .iter()
        .filter(|spec| policy.get(spec.id).is_none_or(|setting| setting.enabled))
        .map(|spec| spec.id)
        .collect();
    let reason = if find_tool(tool).is_some() {
        "is switched off by an administrator"
    } else {
        "is not an approved tool"
    };
    Err(AppError::ToolNotApproved(format!(
        "{tool:?} {reason}; the approved, enabled tools are: {}",
        if allowed.is_empty() {
            "none".to_owned()
        } else {
            allowed.join(", ")
        }
    )))
}
