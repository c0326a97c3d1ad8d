//! CI/CD → Integrations: the table, search, "+ Add", the pencil and delete.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_domain::integration::{Integration, IntegrationStatus};
use switchboard_domain::tools::{Tool, find_tool};

use super::integration_dialog::{DialogMode, IntegrationDialog};
use crate::api;
use crate::icons::{PencilIcon, ToolIcon, TrashIcon};
use crate::modal::Modal;
use crate::session::use_auth;
use crate::toast::use_toasts;

/// What a list looks like while it loads.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded<T> {
    Loading,
    Failed(String),
    Ready(T),
}

pub fn status_label(status: IntegrationStatus) -> (&'static str, &'static str) {
    match status {
        IntegrationStatus::Untested => ("Untested", "badge neutral"),
    }
}

pub fn tool_name(id: &str) -> String {
    find_tool(id).map_or_else(|| id.to_owned(), |tool| tool.name.to_owned())
}

fn main_url(integration: &Integration) -> String {
    let key = find_tool(&integration.tool).map_or("apiUrl", |tool| tool.main_url_key());
    integration.urls.get(key).cloned().unwrap_or_default()
}

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    crate::set_title("Integrations");
    let auth = use_auth();
    let toasts = use_toasts();
    let is_admin = move || {
        auth.session
            .with(|s| s.as_ref().is_some_and(|s| s.is_admin()))
    };
    let items = RwSignal::new(Loaded::<Vec<Integration>>::Loading);
    let tools = RwSignal::new(Vec::<Tool>::new());
    let search = RwSignal::new(String::new());
    let dialog = RwSignal::new(None::<DialogMode>);
    let deleting = RwSignal::new(None::<Integration>);
    let delete_error = RwSignal::new(None::<String>);

    let load = move || {
        spawn_local(async move {
            let token = auth.token();
            match auth.check(api::list_integrations(&token).await) {
                Ok(list) => items.set(Loaded::Ready(list)),
                Err(err) => items.set(Loaded::Failed(err.message())),
            }
            if let Ok(list) = auth.check(api::list_tools(&token).await) {
                tools.set(list);
            }
        });
    };
    load();

    let on_saved = Callback::new(move |saved: Integration| {
        toasts.show(format!("Saved “{}”.", saved.name));
        let edited = matches!(dialog.get_untracked(), Some(DialogMode::Edit(_)));
        let saved_id = saved.id.clone();
        items.update(|loaded| {
            if let Loaded::Ready(list) = loaded {
                match list.iter_mut().find(|item| item.id == saved.id) {
                    Some(existing) => *existing = saved,
                    None => list.push(saved),
                }
                list.sort_by_key(|item| item.name.to_lowercase());
            }
        });
        dialog.set(None);
        if edited {
            // The row was drawn anew with the saved values: its pencil gets the focus back.
            set_timeout(
                move || {
                    let selector = format!("button[data-edit='{saved_id}']");
                    if let Ok(Some(button)) = document().query_selector(&selector)
                        && let Ok(button) =
                            wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(button)
                    {
                        let _ = button.focus();
                    }
                },
                std::time::Duration::ZERO,
            );
        }
    });

    let confirm_delete = move |_| {
        let Some(target) = deleting.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match auth.check(api::delete_integration(&auth.token(), &target.id).await) {
                Ok(()) => {
                    items.update(|loaded| {
                        if let Loaded::Ready(list) = loaded {
                            list.retain(|item| item.id != target.id);
                        }
                    });
                    toasts.show(format!("Deleted “{}”.", target.name));
                    deleting.set(None);
                }
                Err(err) => delete_error.set(Some(err.message())),
            }
        });
    };

    let visible = move || {
        let needle = search.get().trim().to_lowercase();
        match items.get() {
            Loaded::Ready(list) => Loaded::Ready(
                list.into_iter()
                    .filter(|item| needle.is_empty() || item.name.to_lowercase().contains(&needle))
                    .collect::<Vec<_>>(),
            ),
            other => other,
        }
    };

    view! {
        <div class="page-head">
            <div>
                <h1>"Integrations"</h1>
                <p class="muted">"The CI/CD tools Switchboard works with, their URLs and credentials."</p>
            </div>
            <Show when=is_admin>
                <button class="primary" on:click=move |_| dialog.set(Some(DialogMode::Add))>"+ Add"</button>
            </Show>
        </div>
        <div class="toolbar">
            <label class="visually-hidden" for="integration-search">"Search integrations"</label>
            <input id="integration-search" type="search" placeholder="Search by name"
                prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
        </div>
        {move || match visible() {
            Loaded::Loading => view! { <p class="state" role="status">"Loading integrations…"</p> }.into_any(),
            Loaded::Failed(message) => view! {
                <div class="alert error" role="alert">
                    <p>"The integrations could not be loaded: " {message}</p>
                    <button class="secondary" on:click=move |_| { items.set(Loaded::Loading); load(); }>"Try again"</button>
                </div>
            }.into_any(),
            Loaded::Ready(list) if list.is_empty() && search.with(|s| s.trim().is_empty()) => view! {
                <div class="empty">
                    <h2>"No integrations yet"</h2>
                    {move || if is_admin() {
                        "Click “+ Add” to connect your first CI/CD tool, such as Jenkins."
                    } else {
                        "An administrator adds the CI/CD tools Switchboard works with; they will appear here."
                    }}
                </div>
            }.into_any(),
            Loaded::Ready(list) if list.is_empty() => view! {
                <p class="state">"No integration matches “" {search.get()} "”."</p>
            }.into_any(),
            Loaded::Ready(list) => view! {
                <div class="table-wrap">
                <table class="data">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Tool"</th>
                            <th scope="col">"URL"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Last change " <span class="unit">"(UTC)"</span></th>
                            <th scope="col" class="actions">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || list.clone() key=|item| (item.id.clone(), item.version) let:item>
                            {
                                let (status_text, status_class) = status_label(item.status);
                                let url = main_url(&item);
                                let edit_label = format!("Edit {}", item.name);
                                let delete_label = format!("Delete {}", item.name);
                                let id = item.id.clone();
                                let target = item.clone();
                                view! {
                                    <tr>
                                        <td class="name">{item.name.clone()}</td>
                                        <td><span class="tool"><ToolIcon tool=item.tool.clone()/>{tool_name(&item.tool)}</span></td>
                                        <td class="url"><span title=url.clone()>{url.clone()}</span></td>
                                        <td><span class=status_class>{status_text}</span></td>
                                        <td><time datetime=item.updated_at.to_rfc3339() title=item.updated_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()>{item.updated_at.format("%Y-%m-%d %H:%M").to_string()}</time></td>
                                        <td class="actions">
                                            <Show when=is_admin>
                                                <button class="icon-button" aria-label=edit_label.clone() title=edit_label.clone() data-edit=id.clone()
                                                    on:click={ let id = id.clone(); move |_| dialog.set(Some(DialogMode::Edit(id.clone()))) }>
                                                    <PencilIcon/>
                                                </button>
                                                <button class="icon-button danger" aria-label=delete_label.clone() title=delete_label.clone()
                                                    on:click={ let target = target.clone(); move |_| { delete_error.set(None); deleting.set(Some(target.clone())) } }>
                                                    <TrashIcon/>
                                                </button>
                                            </Show>
                                        </td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                </table>
                </div>
            }.into_any(),
        }}
        {move || dialog.get().map(|mode| view! {
            <IntegrationDialog mode=mode tools=tools.get() on_close=Callback::new(move |()| dialog.set(None)) on_saved=on_saved/>
        })}
        {move || deleting.get().map(|target| view! {
            <Modal role="alertdialog" labelled_by="delete-title" on_close=Callback::new(move |()| deleting.set(None))>
                <h2 id="delete-title">"Delete “" {target.name.clone()} "”?"</h2>
                <p>"Switchboard forgets its URLs and credentials. The CI/CD tool itself is not changed."</p>
                {move || delete_error.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
                <div class="dialog-actions">
                    <button class="secondary" on:click=move |_| deleting.set(None)>"Cancel"</button>
                    <button class="danger-button" on:click=confirm_delete>"Delete"</button>
                </div>
            </Modal>
        })}
    }
}
