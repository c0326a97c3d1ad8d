//! Tools: the approved tools and whether they may be used, the approval policy, and the
//! proposals of tools that are not in the registry yet.

use leptos::prelude::*;

use crate::ui;
use switchboard_domain::tools::{Capability, Tool};

use super::integrations::Loaded;
use crate::api::{self, Saved};
use crate::icons::ToolIcon;
use crate::modal::Modal;
use crate::session::use_auth;
use crate::toast::use_toasts;
use switchboard_domain::change_request::{
    ApprovalPolicy, ChangeKind, ChangeRequest, ChangeRequestSummary, OpenChangeRequest,
    RequestState, UpdateApprovalPolicyRequest,
};

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
    let is_admin = auth
        .session
        .with_untracked(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let path = crate::router::use_path();
    let policy = RwSignal::new(None::<ApprovalPolicy>);
    let proposals = RwSignal::new(Vec::<ChangeRequestSummary>::new());
    leptos::task::spawn_local(async move {
        let token = auth.token();
        if let Ok(found) = auth.check(api::approval_policy(&token).await) {
            policy.set(Some(found));
        }
        if let Ok(page) = auth.check(api::list_change_requests(&token, "kind=propose_tool").await) {
            proposals.set(page.items);
        }
    });
    // Switching a tool on while approval is on asks why, and becomes a request.
    let enabling = RwSignal::new(None::<(String, String, i64)>);
    let why = RwSignal::new(String::new());
    let submitted = move |request: Box<ChangeRequest>| {
        toasts.show("Submitted for approval.".to_owned());
        path.go(&format!("/requests/{}", request.id), false);
    };
    let switch = move |id: String, version: i64, enabled: bool| {
        error.set(None);
        if enabled && policy.with_untracked(|p| p.as_ref().is_none_or(|p| p.enabled)) {
            let name = tools.with_untracked(|loaded| match loaded {
                Loaded::Ready(list) => list.iter().find(|t| t.id == id).map(|t| t.name.clone()),
                _ => None,
            });
            why.set(String::new());
            enabling.set(Some((id, name.unwrap_or_default(), version)));
            return;
        }
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

    let confirm_enable = move || {
        let Some((id, _, version)) = enabling.get_untracked() else {
            return;
        };
        let need = why.get_untracked();
        ui::spawn_while(tools, async move {
            match auth.check(api::enable_tool(&auth.token(), &id, version, Some(need)).await) {
                Ok(Saved::Requested(request)) => {
                    enabling.set(None);
                    submitted(request);
                }
                Ok(Saved::Applied(_)) => {
                    enabling.set(None);
                    load();
                }
                Err(err) => error.set(Some(err.message())),
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
                                        <input id=switch_id.clone() type="checkbox" role="switch" prop:checked=tool.enabled disabled=!is_admin
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
        {move || enabling.get().map(|(_, name, _)| view! {
            <Modal role="dialog" labelled_by="enable-title" on_close=Callback::new(move |()| { enabling.set(None); load(); })>
                <form class="dialog-form" on:submit=move |ev| { ev.prevent_default(); confirm_enable(); }>
                    <h2 id="enable-title">{format!("Switch on {name}?")}</h2>
                    <p>"Approval is on: switching a tool on goes to the other administrators as a change request."</p>
                    <div class="field">
                        <label for="enable-why">"Why is it needed?"</label>
                        <textarea id="enable-why" rows="3" maxlength="10000" prop:value=move || why.get() on:input=move |ev| why.set(event_target_value(&ev))></textarea>
                    </div>
                    {move || error.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
                    <div class="dialog-actions">
                        <button type="button" class="secondary" on:click=move |_| { enabling.set(None); load(); }>"Cancel"</button>
                        <button type="submit" class="primary">"Submit for approval"</button>
                    </div>
                </form>
            </Modal>
        })}
        {move || is_admin.then(|| policy.get().map(|current| view! {
            <PolicySection current=current on_saved=Callback::new(move |saved: Saved<ApprovalPolicy>| match saved {
                Saved::Applied(updated) => {
                    toasts.show("Approval policy saved.".to_owned());
                    policy.set(Some(updated));
                }
                Saved::Requested(request) => submitted(request),
            })/>
        }))}
        <ProposalsSection proposals=proposals on_opened=Callback::new(move |request: Box<ChangeRequest>| submitted(request))/>
    }
}

/// The approval policy: on or off, approvals needed, days a request stays open.
#[component]
fn PolicySection(
    current: ApprovalPolicy,
    on_saved: Callback<Saved<ApprovalPolicy>>,
) -> impl IntoView {
    let auth = use_auth();
    let enabled = RwSignal::new(current.enabled);
    let approvals = RwSignal::new(current.approvals_required);
    let days = RwSignal::new(current.open_days.to_string());
    let need = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let version = current.version;
    let on_now = current.enabled;
    let save = move || {
        let Ok(open_days) = days.get_untracked().trim().parse::<u32>() else {
            error.set(Some("Days: a whole number from 1 to 365.".into()));
            return;
        };
        let request = UpdateApprovalPolicyRequest {
            enabled: enabled.get_untracked(),
            approvals_required: approvals.get_untracked(),
            open_days,
            business_need: on_now.then(|| need.get_untracked()),
        };
        error.set(None);
        ui::spawn_while(busy, async move {
            match auth.check(api::update_approval_policy(&auth.token(), version, &request).await) {
                Ok(saved) => on_saved.run(saved),
                Err(err) => error.set(Some(problem_text(err))),
            }
        });
    };
    view! {
        <section class="card policy" aria-labelledby="policy-title">
            <h2 id="policy-title">"Approval policy"</h2>
            <p class="muted">{if on_now {
                "On: new integrations, changes of URLs or secrets, switching a tool on and this policy need another administrator's approval. Changing it is itself a request."
            } else {
                "Off: changes apply without prior discussion and approval."
            }}</p>
            <form class="dialog-form" on:submit=move |ev| { ev.prevent_default(); save(); }>
                <label class="switch" for="policy-enabled">
                    <input id="policy-enabled" type="checkbox" role="switch" prop:checked=move || enabled.get()
                        on:change=move |ev| enabled.set(event_target_checked(&ev))/>
                    <span>"Changes need approval"</span>
                </label>
                <div class="field">
                    <label for="policy-approvals">"Approvals needed"</label>
                    <select id="policy-approvals" on:change=move |ev| approvals.set(if event_target_value(&ev) == "2" { 2 } else { 1 })>
                        <option value="1" selected=move || approvals.get() == 1>"1"</option>
                        <option value="2" selected=move || approvals.get() == 2>"2"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="policy-days">"Days a request stays open"</label>
                    <input id="policy-days" type="number" min="1" max="365" prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/>
                </div>
                {on_now.then(|| view! {
                    <div class="field">
                        <label for="policy-why">"Why is the change needed?"</label>
                        <textarea id="policy-why" rows="2" maxlength="10000" prop:value=move || need.get() on:input=move |ev| need.set(event_target_value(&ev))></textarea>
                    </div>
                })}
                {move || error.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
                <button type="submit" class="primary" disabled=move || busy.get()>{if on_now { "Submit for approval" } else { "Save" }}</button>
            </form>
        </section>
    }
}

/// A failed call in one sentence: the field errors when there are some.
fn problem_text(err: api::ApiError) -> String {
    match err {
        api::ApiError::Problem(problem) if !problem.errors.is_empty() => problem
            .errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join(" "),
        other => other.message(),
    }
}

fn proposal_state(state: RequestState) -> &'static str {
    match state {
        RequestState::Approved => "accepted, not yet supported",
        RequestState::Open | RequestState::ChangesRequested | RequestState::Conflict => {
            "proposed, under discussion"
        }
        RequestState::Rejected => "rejected",
        RequestState::Withdrawn => "withdrawn",
        RequestState::Expired => "expired",
    }
}

/// Tools that are not in the registry: what was proposed, and a form to propose one.
#[component]
fn ProposalsSection(
    proposals: RwSignal<Vec<ChangeRequestSummary>>,
    on_opened: Callback<Box<ChangeRequest>>,
) -> impl IntoView {
    let auth = use_auth();
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let need = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let propose = move || {
        let request = OpenChangeRequest {
            kind: ChangeKind::ProposeTool,
            integration_id: None,
            tool: None,
            change: serde_json::json!({"name": name.get_untracked(), "url": url.get_untracked()}),
            business_need: need.get_untracked(),
        };
        error.set(None);
        ui::spawn_while(busy, async move {
            match auth.check(api::open_change_request(&auth.token(), &request).await) {
                Ok(opened) => on_opened.run(Box::new(opened)),
                Err(err) => error.set(Some(problem_text(err))),
            }
        });
    };
    view! {
        <section class="card proposals" aria-labelledby="proposals-title">
            <h2 id="proposals-title">"Proposed tools"</h2>
            <p class="muted">"Tools that are not approved yet. An accepted proposal is a decision to support it; it cannot be used until Switchboard supports it."</p>
            {move || {
                let list = proposals.get();
                if list.is_empty() {
                    view! { <p class="muted">"No tool has been proposed."</p> }.into_any()
                } else {
                    view! {
                        <ul class="field-list">
                            {list.into_iter().map(|item| view! {
                                <li><a href=format!("/requests/{}", item.id)>{item.title.trim_start_matches("Propose ").to_owned()}</a>
                                    " · " {proposal_state(item.state)}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
            <Show when=move || auth.can_operate()>
                <details>
                    <summary>"Propose a tool"</summary>
                    <form class="dialog-form" on:submit=move |ev| { ev.prevent_default(); propose(); }>
                        <div class="field"><label for="propose-name">"Name"</label>
                            <input id="propose-name" maxlength="100" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></div>
                        <div class="field"><label for="propose-url">"Vendor URL"</label>
                            <input id="propose-url" type="url" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/></div>
                        <div class="field"><label for="propose-why">"Why is it needed?"</label>
                            <textarea id="propose-why" rows="3" maxlength="10000" prop:value=move || need.get() on:input=move |ev| need.set(event_target_value(&ev))></textarea></div>
                        {move || error.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
                        <button type="submit" class="primary" disabled=move || busy.get()>"Propose"</button>
                    </form>
                </details>
            </Show>
        </section>
    }
}
