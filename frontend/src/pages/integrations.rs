//! CI/CD → Integrations: the table, search, "+ Add", the pencil and delete; the status of
//! each connection, "Test" and "Sync now".

use std::sync::Arc;

use leptos::prelude::*;
use switchboard_domain::integration::{Integration, IntegrationStatus};
use switchboard_domain::tools::{Tool, find_tool};

use super::integration_dialog::{DialogMode, IntegrationDialog};
use crate::api::{self, Saved};
use crate::modal::Modal;
use crate::session::{Auth, use_auth};
use crate::table::{Action, Cell, Column, DataTable, Handler, Icon, ListState, Row};
use crate::toast::{Toasts, use_toasts};
use crate::ui;

/// What a list looks like while it loads.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded<T> {
    Loading,
    Failed(String),
    Ready(T),
}

/// What the status badge's tooltip says: the last check's time, message and hint.
fn check_details(item: &Integration) -> String {
    match &item.last_check {
        None => "Not checked since it was saved.".to_owned(),
        Some(check) => {
            let mut text = format!(
                "Checked {} UTC: {}",
                ui::utc(&check.checked_at),
                ui::check_summary(check)
            );
            if let Some(hint) = &check.hint {
                text.push_str(". ");
                text.push_str(hint);
            }
            text
        }
    }
}

/// Tests a stored integration's connection or syncs its pipelines, and reports the outcome.
fn row_action(
    sync: bool,
    item: &Integration,
    items: RwSignal<Loaded<Vec<Integration>>>,
    busy: RwSignal<Option<String>>,
    auth: Auth,
    toasts: Toasts,
) {
    let (id, name) = (item.id.clone(), item.name.clone());
    busy.set(Some(id.clone()));
    ui::spawn_while(busy, async move {
        let token = auth.token();
        let message = if sync {
            match auth.check(api::sync_integration(&token, &id).await) {
                Ok(report) => {
                    update(items, &id, |item| item.pipelines = report.total);
                    format!(
                        "Synced “{name}”: {} pipelines ({} new, {} changed, {} removed).",
                        report.total, report.added, report.updated, report.removed
                    )
                }
                Err(err) => sync_failure(&name, err),
            }
        } else {
            match auth.check(api::test_integration(&token, &id).await) {
                Ok(check) => {
                    let text = format!("“{name}”: {}.", ui::check_summary(&check));
                    update(items, &id, move |item| {
                        item.status = if check.ok {
                            IntegrationStatus::Connected
                        } else {
                            IntegrationStatus::Failed
                        };
                        item.last_check = Some(check);
                    });
                    text
                }
                Err(err) => err.message(),
            }
        };
        busy.set(None);
        toasts.show(message);
    });
}

fn sync_failure(name: &str, err: api::ApiError) -> String {
    match err {
        api::ApiError::Problem(problem) => {
            let words = problem.category.map_or("Failed", ui::category_words);
            let hint = problem.hint.map(|h| format!(" {h}")).unwrap_or_default();
            format!("Sync of “{name}” failed. {words}: {}{hint}", problem.detail)
        }
        other => other.message(),
    }
}

fn update(
    items: RwSignal<Loaded<Vec<Integration>>>,
    id: &str,
    change: impl FnOnce(&mut Integration),
) {
    items.update(|loaded| {
        if let Loaded::Ready(list) = loaded
            && let Some(item) = list.iter_mut().find(|item| item.id == id)
        {
            change(item);
        }
    });
}

pub fn tool_name(id: &str) -> String {
    find_tool(id).map_or_else(|| id.to_owned(), |tool| tool.name.to_owned())
}

fn main_url(integration: &Integration) -> String {
    let key = find_tool(&integration.tool).map_or("apiUrl", |tool| tool.main_url_key());
    integration.urls.get(key).cloned().unwrap_or_default()
}

const COLUMNS: &[Column] = &[
    ("Name", "", ""),
    ("Tool", "", ""),
    ("URL", "", ""),
    ("Status", "", ""),
    ("Pipelines", "", "number"),
    ("Last change", "(UTC)", ""),
    ("Actions", "", "actions"),
];

/// The page's signals a row's buttons act on.
#[derive(Clone, Copy)]
struct RowContext {
    items: RwSignal<Loaded<Vec<Integration>>>,
    busy: RwSignal<Option<String>>,
    dialog: RwSignal<Option<DialogMode>>,
    deleting: RwSignal<Option<Integration>>,
    delete_error: RwSignal<Option<String>>,
    auth: Auth,
    toasts: Toasts,
}

fn integration_row(item: &Integration, admin: bool, operator: bool, cx: RowContext) -> Row {
    let (text, class) = ui::integration_status(item.status);
    let id = item.id.clone();
    // A new integration waiting for approval: nothing to do with it but read its request.
    if let Some(request) = &item.change_request_id {
        return Row {
            id: id.clone(),
            key: format!("{id} {} pending", item.version),
            group: None,
            cells: vec![
                Cell::Link(format!("/requests/{request}"), item.name.clone()),
                Cell::Tool(item.tool.clone(), tool_name(&item.tool)),
                Cell::Url(main_url(item)),
                Cell::Badge(text, class, String::new()),
                Cell::Number(item.pipelines),
                Cell::Time(Some(item.updated_at)),
                Cell::Link(format!("/requests/{request}"), "View request".to_owned()),
            ],
        };
    }
    let working = {
        let id = id.clone();
        Arc::new(move || cx.busy.with(|b| b.as_ref() == Some(&id)))
    };
    let mut actions = Vec::new();
    let button = |icon, label: String, run: Handler| Action {
        text: "",
        icon: Some(icon),
        label,
        class: "icon-button",
        data_edit: None,
        busy: None,
        run,
    };
    if operator {
        for sync in [false, true] {
            let target = item.clone();
            let label = if sync {
                format!("Sync pipelines of {}", item.name)
            } else {
                format!("Test connection of {}", item.name)
            };
            let icon = if sync { Icon::Sync } else { Icon::Plug };
            actions.push(Action {
                busy: Some(working.clone()),
                ..button(
                    icon,
                    label,
                    Arc::new(move || {
                        row_action(sync, &target, cx.items, cx.busy, cx.auth, cx.toasts)
                    }),
                )
            });
        }
    }
    if admin {
        let edit_id = id.clone();
        actions.push(Action {
            data_edit: Some(id.clone()),
            ..button(
                Icon::Pencil,
                format!("Edit {}", item.name),
                Arc::new(move || cx.dialog.set(Some(DialogMode::Edit(edit_id.clone())))),
            )
        });
        let target = item.clone();
        actions.push(Action {
            class: "icon-button danger",
            ..button(
                Icon::Trash,
                format!("Delete {}", item.name),
                Arc::new(move || {
                    cx.delete_error.set(None);
                    cx.deleting.set(Some(target.clone()));
                }),
            )
        });
    }
    Row {
        id: id.clone(),
        key: format!(
            "{id} {} {} {:?}",
            item.version,
            item.pipelines,
            item.last_check
                .as_ref()
                .map(|c| c.checked_at.timestamp_millis())
        ),
        group: None,
        cells: vec![
            Cell::Name(item.name.clone()),
            Cell::Tool(item.tool.clone(), tool_name(&item.tool)),
            Cell::Url(main_url(item)),
            Cell::Tip(text, class, format!("check-{id}"), check_details(item)),
            Cell::Number(item.pipelines),
            Cell::Time(Some(item.updated_at)),
            Cell::Actions(actions),
        ],
    }
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
    let can_operate = move || auth.can_operate();
    let busy = RwSignal::new(None::<String>);
    let items = RwSignal::new(Loaded::<Vec<Integration>>::Loading);
    let tools = RwSignal::new(Vec::<Tool>::new());
    // Until the policy is read, assume the safe answer: changes need approval.
    let approval = RwSignal::new(true);
    let search = RwSignal::new(String::new());
    let dialog = RwSignal::new(None::<DialogMode>);
    let deleting = RwSignal::new(None::<Integration>);
    let delete_error = RwSignal::new(None::<String>);

    let load = move || {
        ui::spawn_while(items, async move {
            let token = auth.token();
            // The policy first: the dialog's "Save" or "Submit for approval" depends on it.
            if let Ok(policy) = auth.check(api::approval_policy(&token).await) {
                approval.set(policy.enabled);
            }
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
    // Statuses and pipeline counts change by themselves (discovery after a save, the periodic
    // re-check): a quiet refresh, which redraws only rows that changed.
    ui::every(std::time::Duration::from_secs(10), move || {
        if !matches!(items.get_untracked(), Loaded::Ready(_)) {
            return;
        }
        ui::spawn_while(items, async move {
            if let Ok(list) = auth.check(api::list_integrations(&auth.token()).await)
                && items.with_untracked(|now| !matches!(now, Loaded::Ready(old) if *old == list))
            {
                items.set(Loaded::Ready(list));
            }
        });
    });

    let path = crate::router::use_path();
    let on_saved = Callback::new(move |saved: Saved<Integration>| {
        let saved = match saved {
            Saved::Applied(saved) => saved,
            Saved::Requested(request) => {
                toasts.show(
                    "Submitted for approval: administrators review it on the Requests page."
                        .to_owned(),
                );
                dialog.set(None);
                path.go(&format!("/requests/{}", request.id), false);
                return;
            }
        };
        let outcome = saved
            .last_check
            .as_ref()
            .map(|check| format!(" {}.", ui::check_summary(check)))
            .unwrap_or_default();
        toasts.show(format!("Saved “{}”.{outcome}", saved.name));
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
        ui::spawn_while(items, async move {
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

    let rows = Signal::derive(move || {
        let needle = search.get().trim().to_lowercase();
        let (admin, operator) = (is_admin(), can_operate());
        items.with(|loaded| match loaded {
            Loaded::Ready(list) => list
                .iter()
                .filter(|item| needle.is_empty() || item.name.to_lowercase().contains(&needle))
                .map(|item| {
                    let row = RowContext {
                        items,
                        busy,
                        dialog,
                        deleting,
                        delete_error,
                        auth,
                        toasts,
                    };
                    integration_row(item, admin, operator, row)
                })
                .collect(),
            _ => Vec::new(),
        })
    });
    let state = Signal::derive(move || {
        match items.get() {
        Loaded::Loading => ListState::Loading,
        Loaded::Failed(message) => ListState::Failed(message),
        Loaded::Ready(list) if list.is_empty() => ListState::Empty(
            "No integrations yet",
            if is_admin() {
                "Click “+ Add” to connect your first CI/CD tool, such as Jenkins."
            } else {
                "An administrator adds the CI/CD tools Switchboard works with; they will appear here."
            }
            .into(),
        ),
        Loaded::Ready(_) if rows.with(Vec::is_empty) => ListState::NoMatch(search.get()),
        Loaded::Ready(_) => ListState::Ready,
    }
    });
    view! {
        <div class="page-head">
            <div>
                <h1>"Integrations"</h1>
                <p class="muted">"The CI/CD tools Switchboard works with, their URLs and credentials."</p>
            </div>
            <Show when=move || is_admin() || (can_operate() && approval.get())>
                <button class="primary" on:click=move |_| dialog.set(Some(DialogMode::Add))>"+ Add"</button>
            </Show>
        </div>
        <div class="toolbar">
            <label class="visually-hidden" for="integration-search">"Search integrations"</label>
            <input id="integration-search" type="search" placeholder="Search by name"
                prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
        </div>
        <DataTable what="integrations" columns=COLUMNS state=state rows=rows
            retry=Callback::new(move |()| { items.set(Loaded::Loading); load(); })/>
        {move || dialog.get().map(|mode| view! {
            <IntegrationDialog mode=mode tools=tools.get() approval=Signal::from(approval) on_close=Callback::new(move |()| dialog.set(None)) on_saved=on_saved/>
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
