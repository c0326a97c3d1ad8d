//! The dialog's parts: which field shows which error, the URL rows, the credential inputs
//! (a configured secret shows as "Configured" with Replace, never its value), the connection
//! test's outcome, and the labelled field they all use.

use std::collections::HashSet;

use leptos::prelude::*;
use switchboard_domain::FieldError;
use switchboard_domain::check::ConnectionCheck;

use super::form::Form;
use crate::ui;

/// The error a field shows: the server's first, then the form's own checks once the field
/// was edited or the form submitted.
#[derive(Clone, Copy)]
pub(super) struct FieldErrors {
    form: Form,
    server: RwSignal<Vec<FieldError>>,
    client: Memo<Vec<FieldError>>,
    submitted: RwSignal<bool>,
    touched: RwSignal<HashSet<String>>,
}

impl FieldErrors {
    pub(super) fn new(
        form: Form,
        server: RwSignal<Vec<FieldError>>,
        client: Memo<Vec<FieldError>>,
        submitted: RwSignal<bool>,
        touched: RwSignal<HashSet<String>>,
    ) -> Self {
        Self {
            form,
            server,
            client,
            submitted,
            touched,
        }
    }

    /// The message for the field at `path` (as the form names it), if any.
    pub(super) fn message(self, path: &str) -> Option<String> {
        let form = self.form;
        let server = self.server.with(|errors| {
            errors
                .iter()
                .find(|e| form.ui_path(&e.field) == path)
                .map(|e| e.message.clone())
        });
        let show_client = self.submitted.get() || self.touched.with(|t| t.contains(path));
        let client = show_client
            .then(|| {
                self.client.with(|errors| {
                    errors
                        .iter()
                        .find(|e| form.ui_path(&e.field) == path)
                        .map(|e| e.message.clone())
                })
            })
            .flatten();
        server.or(client)
    }

    /// The user changed the field at `path`: the server's word on it no longer holds, and
    /// the form's own checks show from now on.
    pub(super) fn edited(self, path: String) {
        let form = self.form;
        self.server
            .update(|errors| errors.retain(|e| form.ui_path(&e.field) != path));
        self.touched.update(|t| {
            t.insert(path);
        });
    }
}

/// The tool's URL fields and the rows the user added.
#[component]
pub(super) fn UrlFields(form: Form, errors: FieldErrors) -> impl IntoView {
    view! {
        <fieldset>
            <legend>"URLs"</legend>
            {move || errors.message("urls").map(|message| view! { <p class="field-error" id="dlg-urls-error">{message}</p> })}
            {move || form.fixed_urls.get().into_iter().map(|(spec, value)| {
                let id = format!("dlg-url-{}", spec.key);
                let path = format!("urls.{}", spec.key);
                let (p1, p2, p3) = (path.clone(), path.clone(), path.clone());
                view! {
                    <Field label=spec.label id=id.clone() error=Signal::derive(move || errors.message(&p1)) help=spec.help key_hint=spec.key>
                        <input id=id.clone() type="url" placeholder=spec.placeholder
                            aria-invalid=move || errors.message(&p2).is_some().to_string()
                            aria-describedby=format!("{id}-help {id}-error")
                            prop:value=move || value.get()
                            on:input=move |ev| { value.set(event_target_value(&ev)); errors.edited(p3.clone()); }/>
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
                                aria-invalid=move || errors.message(&p1).is_some().to_string()
                                aria-describedby=error_id.clone()
                                prop:value=move || row.key.get()
                                on:input=move |ev| { row.key.set(event_target_value(&ev)); errors.edited(p2.clone()); }/>
                        </div>
                        <div class="url-value">
                            <label for=format!("dlg-extra-url-{}", row.id)>{format!("Extra URL {n}")}</label>
                            <input id=format!("dlg-extra-url-{}", row.id) type="url" placeholder="https://…"
                                aria-invalid=move || errors.message(&p3).is_some().to_string()
                                aria-describedby=error_id.clone()
                                prop:value=move || row.url.get()
                                on:input=move |ev| { row.url.set(event_target_value(&ev)); errors.edited(p4.clone()); }/>
                        </div>
                        <button type="button" class="icon-button remove" aria-label=format!("Remove extra URL {n}")
                            on:click=move |_| form.extras.update(|rows| rows.retain(|r| r.id != row.id))>"×"</button>
                        <p class="field-error" id=error_id.clone()>{move || errors.message(&p5)}</p>
                    </div>
                }
            }).collect_view()}
            <button type="button" class="link-button" on:click=move |_| form.add_extra("", "")>"Add URL"</button>
        </fieldset>
    }
}

/// The tool's credential fields.
#[component]
pub(super) fn CredentialFields(form: Form, errors: FieldErrors) -> impl IntoView {
    view! {
        <fieldset>
            <legend>"Credentials"</legend>
            {move || form.credentials.get().into_iter().map(|input| {
                let spec = input.spec;
                let id = format!("dlg-cred-{}", spec.key);
                let path = format!("credentials.{}", spec.key);
                let (p1, p2, p3) = (path.clone(), path.clone(), path.clone());
                let input_id = id.clone();
                view! {
                    <Field label=spec.label id=id.clone() error=Signal::derive(move || errors.message(&p1)) help=spec.help
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
                                                aria-invalid=move || errors.message(&p2).is_some().to_string()
                                                aria-describedby=format!("{input_id}-help {input_id}-error")
                                                prop:value=move || input.value.get()
                                                on:input=move |ev| { input.value.set(event_target_value(&ev)); errors.edited(p3.clone()); }/>
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
    }
}

/// What the last "Test connection" found.
#[component]
pub(super) fn CheckOutcome(
    check: RwSignal<Option<Result<ConnectionCheck, String>>>,
) -> impl IntoView {
    view! {
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
    }
}

/// A labelled field with its help text and its error, which inputs reference by id.
#[component]
pub(super) fn Field(
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
