//! The "Run" dialog: a form generated from the pipeline's parameter definitions, checked with
//! the same rules as the server before it is sent.

use leptos::prelude::*;

use crate::ui;
use serde_json::Value;
use switchboard_domain::pipeline::{
    ParameterDefinition, ParameterType, Pipeline, TriggerRunRequest,
};
use switchboard_domain::{FieldError, ValidationErrors};

use crate::api::{self, ApiError};
use crate::modal::Modal;
use crate::session::use_auth;
use crate::toast::use_toasts;

/// The text a field starts with: the tool's default, the first choice, or nothing.
fn initial(definition: &ParameterDefinition) -> String {
    match (&definition.default, definition.kind) {
        (Some(Value::String(text)), _) => text.clone(),
        (Some(Value::Bool(flag)), _) => flag.to_string(),
        (Some(Value::Number(number)), _) => number.to_string(),
        (_, ParameterType::Choice) => definition.choices.first().cloned().unwrap_or_default(),
        (_, ParameterType::Boolean) => "false".into(),
        _ => String::new(),
    }
}

/// The request the form describes. An empty password or number is left out (the tool's
/// default applies); a number that is not one is sent as text, which `parse` refuses.
fn request(fields: &[(ParameterDefinition, RwSignal<String>)]) -> TriggerRunRequest {
    let mut request = TriggerRunRequest::default();
    for (definition, value) in fields {
        let text = value.get_untracked();
        let json = match definition.kind {
            ParameterType::Boolean => Value::Bool(text == "true"),
            ParameterType::Integer | ParameterType::Password if text.trim().is_empty() => continue,
            ParameterType::Integer => text
                .trim()
                .parse::<i64>()
                .map_or(Value::String(text), Value::from),
            _ => Value::String(text),
        };
        request.parameters.insert(definition.name.clone(), json);
    }
    request
}

#[component]
pub fn RunDialog(pipeline: Pipeline, on_close: Callback<()>) -> impl IntoView {
    let auth = use_auth();
    let toasts = use_toasts();
    let path = crate::router::use_path();
    let fields: Vec<(ParameterDefinition, RwSignal<String>)> = pipeline
        .parameters
        .iter()
        .map(|definition| (definition.clone(), RwSignal::new(initial(definition))))
        .collect();
    let fields = StoredValue::new(fields);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let top_error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    // One key per request sent from this dialog: sending the same request again (after a
    // network failure) reuses it, so the server starts at most one build for it.
    let last_sent = StoredValue::new(None::<(TriggerRunRequest, String)>);
    let id = pipeline.id.clone();
    let full_path = pipeline.full_path.clone();

    let error_for = move |name: &str| {
        errors.with(|errors| {
            errors
                .iter()
                .find(|e| e.field.strip_prefix("parameters.") == Some(name))
                .map(|e| e.message.clone())
        })
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() {
            return;
        }
        let request = fields.with_value(|fields| request(fields));
        let definitions: Vec<ParameterDefinition> =
            fields.with_value(|f| f.iter().map(|(d, _)| d.clone()).collect());
        if let Err(invalid) = request.parse(&definitions) {
            errors.set(ValidationErrors::into_errors(invalid));
            return;
        }
        errors.set(Vec::new());
        top_error.set(None);
        sending.set(true);
        let (id, full_path) = (id.clone(), full_path.clone());
        let key = last_sent.with_value(|last| match last {
            Some((sent, key)) if *sent == request => key.clone(),
            _ => api::new_idempotency_key(),
        });
        last_sent.set_value(Some((request.clone(), key.clone())));
        ui::spawn_while(sending, async move {
            let result = auth.check(api::trigger_run(&auth.token(), &id, &key, &request).await);
            sending.set(false);
            match result {
                Ok(run) => {
                    toasts.show(format!("Started {full_path}."));
                    on_close.run(());
                    path.go(&format!("/runs/{}", run.id), false);
                }
                Err(ApiError::Problem(problem)) if !problem.errors.is_empty() => {
                    errors.set(problem.errors);
                }
                Err(err) => top_error.set(Some(err.message())),
            }
        });
    };

    let heading = format!("Run {}", pipeline.full_path);
    view! {
        <Modal role="dialog" labelled_by="run-dialog-title" on_close=on_close>
            <form class="dialog-form" novalidate on:submit=submit>
                <h2 id="run-dialog-title">{heading}</h2>
                {move || top_error.get().map(|message| view! { <div class="alert error" role="alert"><p>{message}</p></div> })}
                {if pipeline.parameters.is_empty() {
                    Some(view! { <p class="muted">"This pipeline takes no parameters."</p> })
                } else {
                    None
                }}
                {fields.get_value().into_iter().enumerate().map(|(index, (definition, value))| {
                    let name = definition.name.clone();
                    let field = format!("parameters.{name}");
                    let id = format!("run-param-{index}");
                    let help_id = format!("{id}-help");
                    let error_id = format!("{id}-error");
                    let described = format!("{help_id} {error_id}");
                    let error = Signal::derive(move || error_for(&name));
                    let invalid = move || error.with(Option::is_some).to_string();
                    let on_input = move |ev| {
                        value.set(event_target_value(&ev));
                        errors.update(|errors| errors.retain(|e| e.field != field));
                    };
                    let input = match definition.kind {
                        ParameterType::Boolean => view! {
                            <input id=id.clone() type="checkbox" aria-describedby=described.clone() aria-invalid=invalid
                                prop:checked=move || value.get() == "true"
                                on:change=move |ev| value.set(event_target_checked(&ev).to_string())/>
                        }.into_any(),
                        ParameterType::Text => view! {
                            <textarea id=id.clone() rows="4" aria-describedby=described.clone() aria-invalid=invalid
                                prop:value=move || value.get() on:input=on_input></textarea>
                        }.into_any(),
                        ParameterType::Choice => view! {
                            <select id=id.clone() aria-describedby=described.clone() aria-invalid=invalid on:change=on_input>
                                {definition.choices.iter().map(|choice| {
                                    let choice = choice.clone();
                                    let selected = value.get_untracked() == choice;
                                    view! { <option value=choice.clone() selected=selected>{choice.clone()}</option> }
                                }).collect_view()}
                            </select>
                        }.into_any(),
                        kind => view! {
                            <input id=id.clone()
                                type=match kind { ParameterType::Integer => "number", ParameterType::Password => "password", _ => "text" }
                                step=(kind == ParameterType::Integer).then_some("1")
                                autocomplete=if kind == ParameterType::Password { "new-password" } else { "off" }
                                aria-describedby=described.clone() aria-invalid=invalid
                                prop:value=move || value.get() on:input=on_input/>
                        }.into_any(),
                    };
                    let boolean = definition.kind == ParameterType::Boolean;
                    view! {
                        <div class="field" class:check=boolean>
                            <label for=id.clone()>{definition.name.clone()}</label>
                            {input}
                            <p class="help" id=help_id>{definition.description.clone().unwrap_or_default()}</p>
                            <p class="field-error" id=error_id>{move || error.get()}</p>
                        </div>
                    }
                }).collect_view()}
                <div class="dialog-actions">
                    <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
                    <button type="submit" class="primary" disabled=move || sending.get()>
                        {move || if sending.get() { "Starting…" } else { "Run" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}
