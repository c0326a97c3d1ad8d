//! Administration → Audit log: the entries newest first, filtered, and whether the hash chain
//! holds.

use leptos::prelude::*;
use switchboard_domain::audit::{AuditEvent, AuditOutcome, AuditVerification};

use super::integrations::Loaded;
use crate::api;
use crate::session::use_auth;
use crate::ui;

const OUTCOMES: [(&str, &str); 4] = [
    ("", "Any outcome"),
    ("success", "Success"),
    ("denied", "Denied"),
    ("failed", "Failed"),
];

fn outcome_badge(outcome: AuditOutcome) -> impl IntoView {
    match outcome {
        AuditOutcome::Success => ui::badge("Success", "badge ok"),
        AuditOutcome::Denied => ui::badge("Denied", "badge warn"),
        AuditOutcome::Failed => ui::badge("Failed", "badge error"),
    }
}

/// The query string of the filters, each value encoded.
fn query(filters: &[(&str, String)], cursor: Option<&str>) -> String {
    let mut parts: Vec<String> = filters
        .iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| {
            format!(
                "{name}={}",
                String::from(web_sys::js_sys::encode_uri_component(value.trim()))
            )
        })
        .collect();
    parts.push("limit=50".into());
    if let Some(cursor) = cursor {
        parts.push(format!("cursor={cursor}"));
    }
    parts.join("&")
}

/// What changed, in one line: `role: viewer → operator`.
fn changes_text(event: &AuditEvent) -> String {
    let show = |value: &Option<serde_json::Value>| {
        value.as_ref().map_or_else(
            || "—".to_owned(),
            |value| match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            },
        )
    };
    event
        .changes
        .iter()
        .map(|change| {
            format!(
                "{}: {} → {}",
                change.field,
                show(&change.before),
                show(&change.after)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[component]
pub fn AuditPage() -> impl IntoView {
    crate::set_title("Audit log");
    let auth = use_auth();
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    // `?target=` comes from a link to one thing's history (an integration's).
    let target = RwSignal::new(crate::router::query_value("target").unwrap_or_default());
    let outcome = RwSignal::new(String::new());
    let events = RwSignal::new(Loaded::<Vec<AuditEvent>>::Loading);
    let next = RwSignal::new(None::<String>);
    let chain = RwSignal::new(None::<Result<AuditVerification, String>>);

    let filters = move || {
        vec![
            ("actor", actor.get_untracked()),
            ("action", action.get_untracked()),
            ("target", target.get_untracked()),
            ("outcome", outcome.get_untracked()),
        ]
    };
    // `more`: append the page after the cursor instead of starting over.
    let load = move |more: bool| {
        let cursor = if more { next.get_untracked() } else { None };
        let query = query(&filters(), cursor.as_deref());
        if !more {
            events.set(Loaded::Loading);
        }
        ui::spawn_while(events, async move {
            match auth.check(api::list_audit_events(&auth.token(), &query).await) {
                Ok(page) => {
                    next.set(page.next_cursor);
                    events.update(|loaded| match loaded {
                        Loaded::Ready(list) if more => list.extend(page.items),
                        other => *other = Loaded::Ready(page.items),
                    });
                }
                Err(err) => events.set(Loaded::Failed(err.message())),
            }
        });
    };
    load(false);
    let verify = move |_| {
        chain.set(None);
        ui::spawn_while(chain, async move {
            let result = auth.check(api::verify_audit_events(&auth.token()).await);
            chain.set(Some(result.map_err(|err| err.message())));
        });
    };
    let text_filter =
        |id: &'static str, label: &'static str, value: RwSignal<String>, hint: &'static str| {
            view! {
                <div class="field">
                    <label for=id>{label}</label>
                    <input id=id autocomplete="off" placeholder=hint prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))/>
                </div>
            }
        };

    view! {
        <div class="page-head">
            <div>
                <h1>"Audit log"</h1>
                <p class="muted">"Every change to accounts, service accounts and tokens, every sign-in, and every refused request, newest first. Entries are chained by hash: an edited or deleted entry breaks the chain."</p>
            </div>
            <button class="secondary" on:click=verify>"Verify the chain"</button>
        </div>
        {move || chain.get().map(|result| match result {
            Ok(verification) if verification.ok => view! {
                <p class="alert info" role="status">{format!("The chain holds: {} entries checked.", verification.checked)}</p>
            }.into_any(),
            Ok(verification) => view! {
                <p class="alert error" role="alert">{verification.first_broken.map_or_else(String::new, |link| format!("The chain is broken at entry {}: {}", link.seq, link.reason))}</p>
            }.into_any(),
            Err(message) => view! { <p class="alert error" role="alert">{message}</p> }.into_any(),
        })}
        <form class="filters audit-filters" role="search" aria-label="Filter the audit log"
            on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); load(false); }>
            {text_filter("audit-actor", "Actor", actor, "user name or id")}
            {text_filter("audit-action", "Action", action, "e.g. token.created")}
            {text_filter("audit-target", "Target", target, "name or id")}
            <div class="field">
                <label for="audit-outcome">"Outcome"</label>
                <select id="audit-outcome" on:change=move |ev| outcome.set(event_target_value(&ev))>
                    {OUTCOMES.iter().map(|(value, label)| view! {
                        <option value=*value selected=move || outcome.get() == *value>{*label}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit" class="primary">"Filter"</button>
        </form>
        {move || match events.get() {
            Loaded::Loading => view! { <p class="state" role="status">"Loading the audit log…"</p> }.into_any(),
            Loaded::Failed(message) => view! { <p class="alert error" role="alert">{message}</p> }.into_any(),
            Loaded::Ready(list) if list.is_empty() => view! { <p class="state">"No entries match."</p> }.into_any(),
            Loaded::Ready(list) => view! {
                <table class="data">
                    <caption class="visually-hidden">"Audit entries, newest first"</caption>
                    <thead><tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Changes"</th>
                        <th scope="col">"From"</th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|event| {
                            let changes = changes_text(&event);
                            let target = event.target.clone().or(event.target_id.clone()).unwrap_or_default();
                            let actor = match &event.token_id {
                                Some(_) => format!("{} (token)", event.actor),
                                None => event.actor.clone(),
                            };
                            view! {
                                <tr>
                                    <td>{ui::time_view(Some(event.at))}</td>
                                    <td>{actor}</td>
                                    <td><code>{event.action.clone()}</code></td>
                                    <td>{target}</td>
                                    <td>{outcome_badge(event.outcome)}</td>
                                    <td>{changes}{event.detail.clone().map(|d| view! { <span class="muted">{format!(" {d}")}</span> })}</td>
                                    <td>{event.client_address.clone().unwrap_or_default()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
        {move || next.get().map(|_| view! {
            <button class="secondary" on:click=move |_| load(true)>"Older entries"</button>
        })}
    }
}
