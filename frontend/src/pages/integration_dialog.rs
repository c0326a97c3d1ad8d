//! The add/edit dialog: one form for both, generated from the tool's registry entry.

use std::collections::{BTreeMap, HashSet};

use leptos::prelude::*;
use switchboard_domain::check::{ConnectionCheck, TestDraftRequest};
use switchboard_domain::integration::{
    CreateIntegrationRequest, CredentialView, Integration, UpdateIntegrationRequest,
};
use switchboard_domain::tools::{APPROVED_TOOLS, FieldSpec, Tool, ToolSpec, find_tool};
use switchboard_domain::{ErrorCode, FieldError, FieldErrorCode};

use crate::api::{self, ApiError};
use crate::modal::Modal;
use crate::session::use_auth;
use crate::ui;

#[derive(Debug, Clone, PartialEq)]
pub enum DialogMode {
    Add,
    Edit(String),
}

/// A URL row the user added beyond the tool's own.
#[derive(Debug, Clone, Copy)]
struct ExtraUrl {
    id: usize,
    key: RwSignal<String>,
    url: RwSignal<String>,
}

/// One credential input, as the registry declares it.
#[derive(Debug, Clone, Copy)]
struct CredentialInput {
    spec: &'static FieldSpec,
    value: RwSignal<String>,
    /// The plain value as stored, to send only what changed.
    original: RwSignal<Option<String>>,
    /// A stored secret (never its value).
    configured: RwSignal<bool>,
    replacing: RwSignal<bool>,
}

#[derive(Debug, Clone, PartialEq)]
enum TopError {
    Stale(String),
    Other(String),
}

#[derive(Clone, Copy)]
struct Form {
    tool: RwSignal<&'static ToolSpec>,
    name: RwSignal<String>,
    fixed_urls: RwSignal<Vec<(&'static FieldSpec, RwSignal<String>)>>,
    extras: RwSignal<Vec<ExtraUrl>>,
    next_extra: StoredValue<usize>,
    credentials: RwSignal<Vec<CredentialInput>>,
    etag: RwSignal<Option<String>>,
    original_name: RwSignal<String>,
}

impl Form {
    fn new(tool: &'static ToolSpec) -> Self {
        let form = Self {
            tool: RwSignal::new(tool),
            name: RwSignal::new(String::new()),
            fixed_urls: RwSignal::new(Vec::new()),
            extras: RwSignal::new(Vec::new()),
            next_extra: StoredValue::new(0),
            credentials: RwSignal::new(Vec::new()),
            etag: RwSignal::new(None),
            original_name: RwSignal::new(String::new()),
        };
        form.set_tool(tool);
        form
    }

    /// Shows the URL and credential fields of `tool`, keeping nothing of another tool's.
    fn set_tool(&self, tool: &'static ToolSpec) {
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

    fn add_extra(&self, key: &str, url: &str) {
        let id = self.next_extra.get_value() + 1;
        self.next_extra.set_value(id);
        let row = ExtraUrl {
            id,
            key: RwSignal::new(key.to_owned()),
            url: RwSignal::new(url.to_owned()),
        };
        self.extras.update(|rows| rows.push(row));
    }

    fn fill(&self, integration: &Integration, etag: Option<String>) {
        let tool = find_tool(&integration.tool).unwrap_or(&APPROVED_TOOLS[0]);
        self.set_tool(tool);
        self.name.set(integration.name.clone());
        self.original_name.set(integration.name.clone());
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
    fn urls(&self) -> (BTreeMap<String, String>, Vec<FieldError>) {
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

    fn create_request(&self) -> (CreateIntegrationRequest, Vec<FieldError>) {
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
        };
        (request, duplicates)
    }

    fn update_request(&self) -> (UpdateIntegrationRequest, Vec<FieldError>) {
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
        let request = UpdateIntegrationRequest {
            name: Some(self.name.get()),
            urls: Some(urls),
            credentials,
        };
        (request, duplicates)
    }

    /// The form as a connection test: secrets left as stored are left out (the server fills them).
    fn draft(&self, id: Option<String>) -> TestDraftRequest {
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
    fn client_errors(&self, adding: bool) -> Vec<FieldError> {
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
            let stored: Vec<&'static str> = self
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
                .map(|input| input.spec.key)
                .collect();
            let parsed = request.parse(tool, &|key| stored.contains(&key));
            (
                parsed.err().map(|e| e.into_errors()).unwrap_or_default(),
                duplicates,
            )
        };
        errors.extend(duplicates);
        errors
    }

    /// The interface path of a server or validator path: extra URL rows are named by row.
    fn ui_path(&self, path: &str) -> String {
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

#[component]
pub fn IntegrationDialog(
    mode: DialogMode,
    tools: Vec<Tool>,
    on_close: Callback<()>,
    on_saved: Callback<Integration>,
) -> impl IntoView {
    let auth = use_auth();
    let adding = mode == DialogMode::Add;
    let enabled_tools: Vec<&'static ToolSpec> = if tools.is_empty() {
        APPROVED_TOOLS.iter().collect()
    } else {
        tools
            .iter()
            .filter(|tool| tool.enabled)
            .filter_map(|tool| find_tool(&tool.id))
            .collect()
    };
    let form = Form::new(enabled_tools.first().copied().unwrap_or(&APPROVED_TOOLS[0]));
    let enabled_tools = StoredValue::new(enabled_tools);
    let loading = RwSignal::new(!adding);
    let saving = RwSignal::new(false);
    let submitted = RwSignal::new(false);
    let touched = RwSignal::new(HashSet::<String>::new());
    let server_errors = RwSignal::new(Vec::<FieldError>::new());
    let top_error = RwSignal::new(None::<TopError>);
    let integration_id = match &mode {
        DialogMode::Edit(id) => id.clone(),
        DialogMode::Add => String::new(),
    };
    let id_for_load = integration_id.clone();
    let id_for_test = integration_id.clone();
    let testing = RwSignal::new(false);
    let check = RwSignal::new(None::<Result<ConnectionCheck, String>>);

    let load = move |id: String| {
        loading.set(true);
        ui::spawn_while(loading, async move {
            match auth.check(api::get_integration(&auth.token(), &id).await) {
                Ok(tagged) => {
                    form.fill(&tagged.value, tagged.etag);
                    server_errors.set(Vec::new());
                    touched.set(HashSet::new());
                    submitted.set(false);
                    top_error.set(None);
                }
                Err(err) => top_error.set(Some(TopError::Other(err.message()))),
            }
            loading.set(false);
        });
    };
    if !adding {
        load(id_for_load.clone());
    }

    // Once an edited integration has loaded, its first field takes the focus.
    Effect::new(move |was_loading: Option<bool>| {
        let now_loading = loading.get();
        if was_loading == Some(true)
            && !now_loading
            && let Some(dialog) = document().get_element_by_id("integration-dialog-form")
            && let Ok(dialog) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(dialog)
        {
            crate::modal::focus_first_field(&dialog);
        }
        now_loading
    });

    let client_errors = Memo::new(move |_| form.client_errors(adding));
    let error_for = move |path: String| -> Option<String> {
        let server = server_errors.with(|errors| {
            errors
                .iter()
                .find(|e| form.ui_path(&e.field) == path)
                .map(|e| e.message.clone())
        });
        let show_client = submitted.get() || touched.with(|t| t.contains(&path));
        let client = show_client
            .then(|| {
                client_errors.with(|errors| {
                    errors
                        .iter()
                        .find(|e| form.ui_path(&e.field) == path)
                        .map(|e| e.message.clone())
                })
            })
            .flatten();
        server.or(client)
    };
    let edited = move |path: String| {
        server_errors.update(|errors| errors.retain(|e| form.ui_path(&e.field) != path));
        touched.update(|t| {
            t.insert(path);
        });
    };

    let save = move || {
        submitted.set(true);
        if !client_errors.get_untracked().is_empty() {
            return;
        }
        saving.set(true);
        top_error.set(None);
        let id = integration_id.clone();
        ui::spawn_while(saving, async move {
            let token = auth.token();
            let result = if adding {
                api::create_integration(&token, &form.create_request().0).await
            } else {
                api::update_integration(
                    &token,
                    &id,
                    form.etag.get_untracked().as_deref(),
                    &form.update_request().0,
                )
                .await
            };
            saving.set(false);
            match auth.check(result) {
                Ok(saved) => on_saved.run(saved),
                Err(ApiError::Problem(problem)) => match problem.code {
                    ErrorCode::ValidationFailed | ErrorCode::ToolNotApproved => server_errors.set(problem.errors),
                    ErrorCode::NameTaken => server_errors.set(vec![FieldError {
                        field: "name".into(),
                        code: FieldErrorCode::Taken,
                        message: problem.detail,
                    }]),
                    ErrorCode::VersionMismatch => top_error.set(Some(TopError::Stale(
                        "Someone else changed this integration since you opened it. Reload to see their changes, then make yours again."
                            .into(),
                    ))),
                    _ => top_error.set(Some(TopError::Other(problem.detail))),
                },
                Err(err) => top_error.set(Some(TopError::Other(err.message()))),
            }
        });
    };

    let test = move |_| {
        testing.set(true);
        check.set(None);
        let draft = form.draft((!adding).then(|| id_for_test.clone()));
        ui::spawn_while(testing, async move {
            let result = auth.check(api::test_integration_draft(&auth.token(), &draft).await);
            testing.set(false);
            match result {
                Ok(outcome) => {
                    check.set(Some(Ok(outcome)));
                    // The result sits at the end of the form, above the sticky buttons: scroll the
                    // dialog to its end.
                    request_animation_frame(|| {
                        if let Ok(Some(modal)) = document().query_selector(".modal") {
                            modal.set_scroll_top(modal.scroll_height());
                        }
                    });
                }
                Err(ApiError::Problem(problem)) if !problem.errors.is_empty() => {
                    server_errors.set(problem.errors);
                    check.set(Some(Err(
                        "Correct the marked fields, then test again.".into()
                    )));
                }
                Err(err) => check.set(Some(Err(err.message()))),
            }
        });
    };

    let heading = move || {
        if adding {
            "Add integration".to_owned()
        } else {
            format!("Edit {}", form.original_name.get())
        }
    };

    view! {
        <Modal role="dialog" labelled_by="integration-dialog-title" on_close=on_close wide=true>
            <form class="dialog-form" id="integration-dialog-form" novalidate on:submit=move |ev| { ev.prevent_default(); save(); }>
                <h2 id="integration-dialog-title">{heading}</h2>
                {move || top_error.get().map(|error| match error {
                    TopError::Stale(message) => view! {
                        <div class="alert warning" role="alert">
                            <p>{message}</p>
                            <button type="button" class="secondary" on:click={ let id = id_for_load.clone(); move |_| load(id.clone()) }>"Reload"</button>
                        </div>
                    }.into_any(),
                    TopError::Other(message) => view! { <div class="alert error" role="alert"><p>{message}</p></div> }.into_any(),
                })}
                <Show when=move || !loading.get() fallback=|| view! { <p class="state" role="status">"Loading…"</p> }>
                    <Field label="Tool" id="dlg-tool".into() error=Signal::derive(move || error_for("tool".into())) help="Only approved tools that an administrator has enabled can be added.">
                        <select id="dlg-tool" disabled=!adding
                            on:change=move |ev| {
                                let chosen = event_target_value(&ev);
                                if let Some(tool) = enabled_tools.get_value().into_iter().find(|t| t.id == chosen) {
                                    form.set_tool(tool);
                                    server_errors.set(Vec::new());
                                }
                            }>
                            {
                                let options: Vec<&'static ToolSpec> = if adding { enabled_tools.get_value() } else { vec![form.tool.get_untracked()] };
                                options.into_iter().map(|tool| view! {
                                    <option value=tool.id selected=move || form.tool.get().id == tool.id>{tool.name}</option>
                                }).collect_view()
                            }
                        </select>
                    </Field>
                    <Field label="Name" id="dlg-name".into() error=Signal::derive(move || error_for("name".into())) help="A friendly name, unique ignoring case.">
                        <input id="dlg-name" autocomplete="off" maxlength="100"
                            aria-invalid=move || error_for("name".into()).is_some().to_string()
                            aria-describedby="dlg-name-help dlg-name-error"
                            prop:value=move || form.name.get()
                            on:input=move |ev| { form.name.set(event_target_value(&ev)); edited("name".into()); }/>
                    </Field>
                    <fieldset>
                        <legend>"URLs"</legend>
                        {move || error_for("urls".into()).map(|message| view! { <p class="field-error" id="dlg-urls-error">{message}</p> })}
                        {move || form.fixed_urls.get().into_iter().map(|(spec, value)| {
                            let id = format!("dlg-url-{}", spec.key);
                            let path = format!("urls.{}", spec.key);
                            let (p1, p2, p3) = (path.clone(), path.clone(), path.clone());
                            view! {
                                <Field label=spec.label id=id.clone() error=Signal::derive(move || error_for(p1.clone())) help=spec.help key_hint=spec.key>
                                    <input id=id.clone() type="url" placeholder=spec.placeholder
                                        aria-invalid=move || error_for(p2.clone()).is_some().to_string()
                                        aria-describedby=format!("{id}-help {id}-error")
                                        prop:value=move || value.get()
                                        on:input=move |ev| { value.set(event_target_value(&ev)); edited(p3.clone()); }/>
                                </Field>
                            }
                        }).collect_view()}
                        {move || form.extras.get().into_iter().enumerate().map(|(index, row)| {
                            let n = index + 1;
                            let path = format!("extra.{}", row.id);
                            let error_id = format!("dlg-extra-{}-error", row.id);
                            let (p1, p2, p3, p4, p5) = (path.clone(), path.clone(), path.clone(), path.clone(), path.clone());
                            view! {
                                <div class="url-row">
                                    <div class="url-key">
                                        <label for=format!("dlg-extra-key-{}", row.id)>{format!("Key for extra URL {n}")}</label>
                                        <input id=format!("dlg-extra-key-{}", row.id) placeholder="webUrl" autocomplete="off"
                                            aria-invalid=move || error_for(p1.clone()).is_some().to_string()
                                            aria-describedby=error_id.clone()
                                            prop:value=move || row.key.get()
                                            on:input=move |ev| { row.key.set(event_target_value(&ev)); edited(p2.clone()); }/>
                                    </div>
                                    <div class="url-value">
                                        <label for=format!("dlg-extra-url-{}", row.id)>{format!("Extra URL {n}")}</label>
                                        <input id=format!("dlg-extra-url-{}", row.id) type="url" placeholder="https://…"
                                            aria-invalid=move || error_for(p3.clone()).is_some().to_string()
                                            aria-describedby=error_id.clone()
                                            prop:value=move || row.url.get()
                                            on:input=move |ev| { row.url.set(event_target_value(&ev)); edited(p4.clone()); }/>
                                    </div>
                                    <button type="button" class="icon-button remove" aria-label=format!("Remove extra URL {n}")
                                        on:click=move |_| form.extras.update(|rows| rows.retain(|r| r.id != row.id))>"×"</button>
                                    <p class="field-error" id=error_id.clone()>{move || error_for(p5.clone())}</p>
                                </div>
                            }
                        }).collect_view()}
                        <button type="button" class="link-button" on:click=move |_| form.add_extra("", "")>"Add URL"</button>
                    </fieldset>
                    <fieldset>
                        <legend>"Credentials"</legend>
                        {move || form.credentials.get().into_iter().map(|input| {
                            let spec = input.spec;
                            let id = format!("dlg-cred-{}", spec.key);
                            let path = format!("credentials.{}", spec.key);
                            let (p1, p2, p3) = (path.clone(), path.clone(), path.clone());
                            let input_id = id.clone();
                            view! {
                                <Field label=spec.label id=id.clone() error=Signal::derive(move || error_for(p1.clone())) help=spec.help
                                    label_for=Signal::derive(move || !input.configured.get() || input.replacing.get())>
                                    {
                                        let (p2, p3, input_id) = (p2.clone(), p3.clone(), input_id.clone());
                                        move || {
                                            if spec.secret && input.configured.get() && !input.replacing.get() {
                                                view! {
                                                    <div class="configured">
                                                        <span class="badge ok">"Configured"</span>
                                                        <button type="button" class="link-button" aria-label=format!("Replace {}", spec.label)
                                                            on:click=move |_| input.replacing.set(true)>"Replace"</button>
                                                    </div>
                                                }.into_any()
                                            } else {
                                                let (p2, p3) = (p2.clone(), p3.clone());
                                                view! {
                                                    <div class="credential-input">
                                                        <input id=input_id.clone() type=if spec.secret { "password" } else { "text" }
                                                            autocomplete=if spec.secret { "new-password" } else { "off" }
                                                            placeholder=spec.placeholder
                                                            aria-invalid=move || error_for(p2.clone()).is_some().to_string()
                                                            aria-describedby=format!("{input_id}-help {input_id}-error")
                                                            prop:value=move || input.value.get()
                                                            on:input=move |ev| { input.value.set(event_target_value(&ev)); edited(p3.clone()); }/>
                                                        <Show when=move || input.replacing.get()>
                                                            <button type="button" class="link-button" aria-label=format!("Keep current {}", spec.label)
                                                                on:click=move |_| { input.replacing.set(false); input.value.set(String::new()); }>"Keep current"</button>
                                                        </Show>
                                                    </div>
                                                }.into_any()
                                            }
                                        }
                                    }
                                </Field>
                            }
                        }).collect_view()}
                    </fieldset>
                </Show>
                <div class="check-result" role="status">
                    {move || check.get().map(|outcome| match outcome {
                        Ok(result) if result.ok => view! {
                            <div class="alert ok"><p><strong>"Connection works."</strong> " " {ui::check_summary(&result)}</p></div>
                        }.into_any(),
                        Ok(result) => view! {
                            <div class="alert error">
                                <p><strong>{result.category.map_or("Connection failed", ui::category_words)}</strong> " " {result.message}</p>
                                {result.hint.map(|hint| view! { <p>{hint}</p> })}
                            </div>
                        }.into_any(),
                        Err(message) => view! { <div class="alert error"><p>"The test could not be run: " {message}</p></div> }.into_any(),
                    })}
                </div>
                <div class="dialog-actions">
                    <button type="button" class="secondary test" disabled=move || testing.get() || loading.get() on:click=test>
                        {move || if testing.get() { "Testing…" } else { "Test connection" }}
                    </button>
                    <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
                    <button type="submit" class="primary" disabled=move || saving.get() || loading.get()>
                        {move || if saving.get() { "Saving…" } else { "Save" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}

/// A labelled field with its help text and its error, which inputs reference by id.
#[component]
fn Field(
    label: &'static str,
    id: String,
    error: Signal<Option<String>>,
    help: &'static str,
    #[prop(optional)] key_hint: Option<&'static str>,
    /// Whether the label points at an input (a configured secret has none).
    #[prop(optional, into)]
    label_for: Option<Signal<bool>>,
    children: Children,
) -> impl IntoView {
    let label_target = id.clone();
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <div class="label-row">
                <label id=format!("{id}-label") for=move || label_for.is_none_or(|s| s.get()).then(|| label_target.clone())>
                    {label}
                </label>
                {key_hint.map(|key| view! { <code class="key-hint" title="URL key">{key}</code> })}
            </div>
            {children()}
            <p class="help" id=format!("{id}-help")>{help}</p>
            <p class="field-error" id=format!("{id}-error")>{move || error.get()}</p>
        </div>
    }
}
