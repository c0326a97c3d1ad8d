//! Administration → Tools: the approved tools and whether they may be used.

use leptos::prelude::*;

use crate::ui;
use switchboard_domain::tools::{Capability, Tool};

use super::integrations::Loaded;
use crate::api;
use crate::icons::ToolIcon;
use crate::session::use_auth;
use crate::toast::use_toasts;

fn capability_name(capability: Capability) -> &'static str {
    match capability {
        Capability::Discover => "Discovers pipelines",
        Capability::Trigger => "Triggers runs",
        Capability::Parameters => "Run parameters",
        Capability::Logs => "Run logs",
        Capability::Cancel => "Cancels runs",
    }
}

#[component]
pub fn ToolsPage() -> impl IntoView {
    crate::set_title("Tools");
    let auth = use_auth();
    let toasts = use_toasts();
    let tools = RwSignal::new(Loaded::<Vec<Tool>>::Loading);
    let error = RwSignal::new(None::<String>);
    let load = move || {
        ui::spawn_while(tools, async move {
            match auth.check(api::list_tools(&auth.token()).await) {
                Ok(list) => tools.set(Loaded::Ready(list)),
                Err(err) => tools.set(Loaded::Failed(err.message())),
            }
        });
    };
    load();
    let switch = move |id: String, version: i64, enabled: bool| {
        error.set(None);
        ui::spawn_while(tools, async move {
            match auth.check(api::update_tool(&auth.token(), &id, version, enabled).await) {
                Ok(updated) => {
                    toasts.show(format!(
                        "{} is {}.",
                        updated.name,
                        if updated.enabled {
                            "enabled"
                        } else {
                            "switched off"
                        }
                    ));
                    tools.update(|loaded| {
                        if let Loaded::Ready(list) = loaded
                            && let Some(tool) = list.iter_mut().find(|t| t.id == updated.id)
                        {
                            *tool = updated;
                        }
                    });
                }
                Err(err) => {
                    // Shows the switch as it really is (someone else may have changed it).
                    error.set(Some(err.message()));
                    load();
                }
            }
        });
    };

    view! {
        <div class="page-head">
            <div>
                <h1>"Tools"</h1>
                <p class="muted">"The approved CI/CD tools. Switching one off stops new integrations of it; existing ones stay."</p>
            </div>
        </div>
        {move || error.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
        {move || match tools.get() {
            Loaded::Loading => view! { <p class="state" role="status">"Loading tools…"</p> }.into_any(),
            Loaded::Failed(message) => view! { <p class="alert error" role="alert">{message}</p> }.into_any(),
            Loaded::Ready(list) => view! {
                <div class="tool-grid">
                    {list.into_iter().map(|tool| {
                        let heading_id = format!("tool-{}", tool.id);
                        let switch_id = format!("tool-enabled-{}", tool.id);
                        let id = tool.id.clone();
                        let version = tool.version;
                        view! {
                            <section class="card tool-card" aria-labelledby=heading_id.clone()>
                                <div class="tool-card-head">
                                    <h2 id=heading_id.clone()><span class="tool"><ToolIcon tool=tool.id.clone()/>{tool.name.clone()}</span></h2>
                                    <label class="switch" for=switch_id.clone()>
                                        <input id=switch_id.clone() type="checkbox" role="switch" prop:checked=tool.enabled
                                            aria-label=format!("Enable {}", tool.name)
                                            on:change=move |ev| switch(id.clone(), version, event_target_checked(&ev))/>
                                        <span>"Enabled"</span>
                                    </label>
                                </div>
                                <p class="muted">{tool.description.clone()}</p>
                                <h3>"URLs"</h3>
                                <ul class="field-list">
                                    {tool.url_fields.iter().map(|f| view! {
                                        <li><strong>{f.label.clone()}</strong>" "<code>{f.key.clone()}</code>{if f.required { " · required" } else { "" }}</li>
                                    }).collect_view()}
                                </ul>
                                <h3>"Credentials"</h3>
                                <ul class="field-list">
                                    {tool.credential_fields.iter().map(|f| view! {
                                        <li><strong>{f.label.clone()}</strong>" "<code>{f.key.clone()}</code>
                                            {if f.required { " · required" } else { " · optional" }}
                                            {if f.secret { " · secret, never shown" } else { "" }}</li>
                                    }).collect_view()}
                                </ul>
                                <h3>"Capabilities"</h3>
                                <ul class="chips">
                                    {tool.capabilities.iter().map(|c| view! { <li>{capability_name(*c)}</li> }).collect_view()}
                                </ul>
                            </section>
                        }
                    }).collect_view()}
                </div>
            }.into_any(),
        }}
    }
}
