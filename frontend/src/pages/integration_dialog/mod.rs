//! The add/edit dialog: one form for both, generated from the tool's registry entry.

use std::collections::HashSet;

use leptos::prelude::*;
use switchboard_domain::check::ConnectionCheck;
use switchboard_domain::integration::Integration;
use switchboard_domain::tools::{APPROVED_TOOLS, Tool, ToolSpec, find_tool};
use switchboard_domain::{ErrorCode, FieldError, FieldErrorCode};

mod fields;
mod form;

use fields::{CheckOutcome, CredentialFields, Field, FieldErrors, UrlFields};
use form::Form;

use crate::api::{self, ApiError, Saved};
use crate::modal::Modal;
use crate::session::use_auth;
use crate::ui;

#[derive(Debug, Clone, PartialEq)]
pub enum DialogMode {
    Add,
    Edit(String),
}

#[derive(Debug, Clone, PartialEq)]
enum TopError {
    Stale(String),
    Other(String),
}

#[component]
pub fn IntegrationDialog(
    mode: DialogMode,
    tools: Vec<Tool>,
    /// Whether changes need approval (the policy; it may arrive after the dialog opens).
    approval: Signal<bool>,
    on_close: Callback<()>,
    on_saved: Callback<Saved<Integration>>,
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
    let form = Form::new(
        enabled_tools.first().copied().unwrap_or(&APPROVED_TOOLS[0]),
        approval,
    );
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
    // Administrators read the audit log: the integration's history is one link away.
    let history = (!adding
        && auth
            .session
            .with_untracked(|s| s.as_ref().is_some_and(|s| s.is_admin())))
    .then(|| format!("/admin/audit?target={integration_id}"));
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
    let for_approval = Memo::new(move |_| form.needs_approval(adding));
    let errors = FieldErrors::new(form, server_errors, client_errors, submitted, touched);
    let error_for = move |path: String| errors.message(&path);
    let edited = move |path: String| errors.edited(path);

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
                {history.map(|href| view! {
                    <p class="dialog-links"><a href=href id="integration-history">"History of this integration"</a></p>
                })}
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
                    <UrlFields form=form errors=errors/>
                    <CredentialFields form=form errors=errors/>
                    <Show when=move || for_approval.get()>
                        <Field label="Why is it needed?" id="dlg-business-need".into() error=Signal::derive(move || error_for("business_need".into()))
                            help="Approval is on: this goes to the administrators as a change request. Say which team needs it and why.">
                            <textarea id="dlg-business-need" rows="3" maxlength="10000"
                                aria-invalid=move || error_for("business_need".into()).is_some().to_string()
                                aria-describedby="dlg-business-need-help dlg-business-need-error"
                                prop:value=move || form.business_need.get()
                                on:input=move |ev| { form.business_need.set(event_target_value(&ev)); edited("business_need".into()); }></textarea>
                        </Field>
                    </Show>
                </Show>
                <CheckOutcome check=check/>
                <div class="dialog-actions">
                    <button type="button" class="secondary test" disabled=move || testing.get() || loading.get() on:click=test>
                        {move || if testing.get() { "Testing…" } else { "Test connection" }}
                    </button>
                    <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
                    <button type="submit" class="primary" disabled=move || saving.get() || loading.get()>
                        {move || match (saving.get(), for_approval.get()) {
                            (true, true) => "Submitting…",
                            (true, false) => "Saving…",
                            (false, true) => "Submit for approval",
                            (false, false) => "Save",
                        }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}
