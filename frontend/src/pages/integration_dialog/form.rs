//! The dialog's form model: one signal per field, filled from a stored integration or a tool's
//! registry entry, turned into the create, update and draft-test requests, and checked with
//! the domain crate's parsers as the user types.

use std::collections::BTreeMap;

use leptos::prelude::*;
use switchboard_domain::change_request::{Discussion, update_needs_approval};
use switchboard_domain::check::TestDraftRequest;
use switchboard_domain::integration::{
    CreateIntegrationRequest, CredentialView, CurrentSettings, Integration,
    UpdateIntegrationRequest,
};
use switchboard_domain::tools::{APPROVED_TOOLS, FieldSpec, ToolSpec, find_tool};
use switchboard_domain::{FieldError, FieldErrorCode};

/// A URL row the user added beyond the tool's own.
#[derive(Debug, Clone, Copy)]
pub(super) struct ExtraUrl {
    pub(super) id: usize,
    pub(super) key: RwSignal<String>,
    pub(super) url: RwSignal<String>,
}

/// One credential input, as the registry declares it.
#[derive(Debug, Clone, Copy)]
pub(super) struct CredentialInput {
    pub(super) spec: &'static FieldSpec,
    pub(super) value: RwSignal<String>,
    /// The plain value as stored, to send only what changed.
    pub(super) original: RwSignal<Option<String>>,
    /// A stored secret (never its value).
    pub(super) configured: RwSignal<bool>,
    pub(super) replacing: RwSignal<bool>,
}

#[derive(Clone, Copy)]
pub(super) struct Form {
    pub(super) tool: RwSignal<&'static ToolSpec>,
    pub(super) name: RwSignal<String>,
    pub(super) fixed_urls: RwSignal<Vec<(&'static FieldSpec, RwSignal<String>)>>,
    pub(super) extras: RwSignal<Vec<ExtraUrl>>,
    pub(super) next_extra: StoredValue<usize>,
    pub(super) credentials: RwSignal<Vec<CredentialInput>>,
    pub(super) etag: RwSignal<Option<String>>,
    pub(super) original_name: RwSignal<String>,
    /// The URLs as stored: stored secrets stay with their origins.
    pub(super) original_urls: RwSignal<BTreeMap<String, String>>,
    /// Why the change is needed, when it goes for approval.
    pub(super) business_need: RwSignal<String>,
    /// Whether changes need approval (the policy, as the page last read it).
    pub(super) approval: Signal<bool>,
}

impl Form {
    pub(super) fn new(tool: &'static ToolSpec, approval: Signal<bool>) -> Self {
        let form = Self {
            tool: RwSignal::new(tool),
            name: RwSignal::new(String::new()),
            fixed_urls: RwSignal::new(Vec::new()),
            extras: RwSignal::new(Vec::new()),
            next_extra: StoredValue::new(0),
            credentials: RwSignal::new(Vec::new()),
            etag: RwSignal::new(None),
            original_name: RwSignal::new(String::new()),
            original_urls: RwSignal::new(BTreeMap::new()),
            business_need: RwSignal::new(String::new()),
            approval,
        };
        form.set_tool(tool);
        form
    }

    /// Shows the URL and credential fields of `tool`, keeping nothing of another tool's.
    pub(super) fn set_tool(&self, tool: &'static ToolSpec) {
        self.tool.set(tool);
        self.fixed_urls.set(
            tool.url_fields
                .iter()
                .map(|spec| (spec, RwSignal::new(String::new())))
                .collect(),
        );
        self.credentials.set(
            tool.credential_fields
                .iter()
                .map(|spec| CredentialInput {
                    spec,
                    value: RwSignal::new(String::new()),
                    original: RwSignal::new(None),
                    configured: RwSignal::new(false),
                    replacing: RwSignal::new(false),
                })
                .collect(),
        );
    }

    pub(super) fn add_extra(&self, key: &str, url: &str) {
        let id = self.next_extra.get_value() + 1;
        self.next_extra.set_value(id);
        let row = ExtraUrl {
            id,
            key: RwSignal::new(key.to_owned()),
            url: RwSignal::new(url.to_owned()),
        };
        self.extras.update(|rows| rows.push(row));
    }

    pub(super) fn fill(&self, integration: &Integration, etag: Option<String>) {
        let tool = find_tool(&integration.tool).unwrap_or(&APPROVED_TOOLS[0]);
        self.set_tool(tool);
        self.name.set(integration.name.clone());
        self.original_name.set(integration.name.clone());
        self.original_urls.set(integration.urls.clone());
        self.etag.set(etag);
        for (spec, value) in self.fixed_urls.get_untracked() {
            value.set(integration.urls.get(spec.key).cloned().unwrap_or_default());
        }
        self.extras.set(Vec::new());
        for (key, url) in &integration.urls {
            if tool.url_field(key).is_none() {
                self.add_extra(key, url);
            }
        }
        for input in self.credentials.get_untracked() {
            match integration.credentials.get(input.spec.key) {
                Some(CredentialView::Plain(value)) => {
                    input.value.set(value.clone());
                    input.original.set(Some(value.clone()));
                }
                Some(CredentialView::Secret(state)) => input.configured.set(state.configured),
                None => {}
            }
        }
    }

    /// The URL map as typed; blank extra rows are ignored. Also reports keys used twice.
    pub(super) fn urls(&self) -> (BTreeMap<String, String>, Vec<FieldError>) {
        let mut urls = BTreeMap::new();
        let mut duplicates = Vec::new();
        for (spec, value) in self.fixed_urls.get() {
            let value = value.get();
            if !value.trim().is_empty() {
                urls.insert(spec.key.to_owned(), value);
            }
        }
        for row in self.extras.get() {
            let (key, url) = (row.key.get(), row.url.get());
            if key.trim().is_empty() && url.trim().is_empty() {
                continue;
            }
            if urls.contains_key(&key) {
                duplicates.push(FieldError {
                    field: format!("extra.{}", row.id),
                    code: FieldErrorCode::InvalidFormat,
                    message: format!("the key {key:?} is used twice"),
                });
                continue;
            }
            urls.insert(key, url);
        }
        (urls, duplicates)
    }

    pub(super) fn create_request(&self) -> (CreateIntegrationRequest, Vec<FieldError>) {
        let (urls, duplicates) = self.urls();
        let credentials = self
            .credentials
            .get()
            .into_iter()
            .filter_map(|input| {
                let value = input.value.get();
                (!value.is_empty()).then(|| (input.spec.key.to_owned(), Some(value)))
            })
            .collect();
        let request = CreateIntegrationRequest {
            name: self.name.get(),
            tool: self.tool.get().id.to_owned(),
            urls,
            credentials,
            business_need: self.approval.get().then(|| self.business_need.get()),
        };
        (request, duplicates)
    }

    pub(super) fn update_request(&self) -> (UpdateIntegrationRequest, Vec<FieldError>) {
        let (urls, duplicates) = self.urls();
        let mut credentials = BTreeMap::new();
        for input in self.credentials.get() {
            let value = input.value.get();
            if input.spec.secret {
                if (input.replacing.get() || !input.configured.get()) && !value.is_empty() {
                    credentials.insert(input.spec.key.to_owned(), Some(value));
                }
            } else if Some(&value) != input.original.get().as_ref() {
                credentials.insert(
                    input.spec.key.to_owned(),
                    (!value.is_empty()).then_some(value),
                );
            }
        }
        let mut request = UpdateIntegrationRequest {
            name: Some(self.name.get()),
            urls: Some(urls),
            credentials,
            business_need: None,
        };
        if self.approval.get() && update_needs_approval(self.tool.get(), &self.current(), &request)
        {
            request.business_need = Some(self.business_need.get());
        }
        (request, duplicates)
    }

    /// What the edited integration holds, as far as a change to it needs to know.
    fn current(&self) -> CurrentSettings {
        CurrentSettings {
            urls: self.original_urls.get(),
            filled: self
                .credentials
                .get()
                .into_iter()
                .filter(|input| {
                    if input.spec.secret {
                        input.configured.get()
                    } else {
                        input.original.get().is_some()
                    }
                })
                .map(|input| input.spec.key.to_owned())
                .collect(),
        }
    }

    /// Whether saving goes for approval: a new integration, or a change of URLs or secrets,
    /// while approval is on (the server's rule, from the domain crate).
    pub(super) fn needs_approval(&self, adding: bool) -> bool {
        self.approval.get() && (adding || self.update_request().0.business_need.is_some())
    }

    /// The form as a connection test: secrets left as stored are left out (the server fills them).
    pub(super) fn draft(&self, id: Option<String>) -> TestDraftRequest {
        let credentials = self
            .credentials
            .get_untracked()
            .into_iter()
            .filter_map(|input| {
                let value = input.value.get_untracked();
                let stored = input.spec.secret
                    && input.configured.get_untracked()
                    && !input.replacing.get_untracked();
                (!stored && !value.is_empty()).then(|| (input.spec.key.to_owned(), Some(value)))
            })
            .collect();
        TestDraftRequest {
            id,
            tool: self.tool.get_untracked().id.to_owned(),
            name: Some(self.name.get_untracked()),
            urls: self.urls().0,
            credentials,
        }
    }

    /// The same checks the server makes, with the same field paths.
    pub(super) fn client_errors(&self, adding: bool) -> Vec<FieldError> {
        let tool = self.tool.get();
        let (mut errors, duplicates) = if adding {
            let (request, duplicates) = self.create_request();
            (
                request
                    .parse(tool)
                    .err()
                    .map(|e| e.into_errors())
                    .unwrap_or_default(),
                duplicates,
            )
        } else {
            let (request, duplicates) = self.update_request();
            let parsed = request.parse(tool, &self.current());
            (
                parsed.err().map(|e| e.into_errors()).unwrap_or_default(),
                duplicates,
            )
        };
        errors.extend(duplicates);
        if self.needs_approval(adding)
            && let Err((code, message)) = Discussion::parse(&self.business_need.get())
        {
            errors.push(FieldError {
                field: "business_need".into(),
                code,
                message: format!("Why is it needed? {message}"),
            });
        }
        errors
    }

    /// The interface path of a server or validator path: extra URL rows are named by row.
    pub(super) fn ui_path(&self, path: &str) -> String {
        if let Some(key) = path.strip_prefix("urls.")
            && self.tool.get_untracked().url_field(key).is_none()
            && let Some(row) = self
                .extras
                .get_untracked()
                .into_iter()
                .find(|row| row.key.get_untracked() == key)
        {
            return format!("extra.{}", row.id);
        }
        path.to_owned()
    }
}
