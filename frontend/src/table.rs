//! The one data table every list page uses. Pages describe rows as data (`Row`, `Cell`);
//! this module is the only place that turns them into views, so the wasm holds one set of
//! table and row view types however many pages there are.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::icons::{PencilIcon, PlugIcon, SyncIcon, ToolIcon, TrashIcon};

/// What a row's button does. Plain closures, not `Callback`s or derived `Signal`s: rows are
/// rebuilt whenever the list changes, and arena values made during a rebuild are disposed at
/// the next one while the rows drawn from them (unchanged keys) stay on the page.
pub type Handler = Arc<dyn Fn() + Send + Sync>;
/// A value read reactively (a busy flag, a running duration).
pub type Reader<T> = Arc<dyn Fn() -> T + Send + Sync>;

/// A column heading, with an optional unit in lighter type, e.g. `("Started", "(UTC)", "")`.
pub type Column = (&'static str, &'static str, &'static str);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Pencil,
    Trash,
    Plug,
    Sync,
}

/// A button in a row. With an icon it is an icon button named by `label` (also its tooltip).
#[derive(Clone)]
pub struct Action {
    pub text: &'static str,
    pub icon: Option<Icon>,
    pub label: String,
    pub class: &'static str,
    pub data_edit: Option<String>,
    pub busy: Option<Reader<bool>>,
    pub run: Handler,
}

#[derive(Clone)]
pub enum Cell {
    Text(String),
    /// The row's name, in bold.
    Name(String),
    /// A link within the app.
    Link(String, String),
    /// A link to the tool, opened in a new tab.
    External(String, String),
    /// A badge (text, class) and text after it.
    Badge(&'static str, &'static str, String),
    /// A focusable badge whose hover and focus show `tip` (text, class, tip id, tip).
    Tip(&'static str, &'static str, String, String),
    /// A tool's mark and name.
    Tool(String, String),
    /// A long URL, cut with an ellipsis (the whole one on hover).
    Url(String),
    Number(u64),
    Time(Option<DateTime<Utc>>),
    /// Text that changes by itself (a running duration).
    Live(Reader<String>),
    Actions(Vec<Action>),
}

/// A row: `group` rows are a heading across the table (`cells` empty).
#[derive(Clone)]
pub struct Row {
    pub key: String,
    pub group: Option<String>,
    pub cells: Vec<Cell>,
}

/// What a list shows instead of (or before) its table.
#[derive(Clone, PartialEq)]
pub enum ListState {
    Loading,
    Failed(String),
    /// Nothing at all: a heading and a sentence.
    Empty(&'static str, String),
    /// Nothing matches the filter.
    NoMatch(String),
    Ready,
}

fn icon_view(icon: Icon) -> AnyView {
    match icon {
        Icon::Pencil => view! { <PencilIcon/> }.into_any(),
        Icon::Trash => view! { <TrashIcon/> }.into_any(),
        Icon::Plug => view! { <PlugIcon/> }.into_any(),
        Icon::Sync => view! { <SyncIcon/> }.into_any(),
    }
}

fn action_view(action: Action) -> impl IntoView {
    let Action {
        text,
        icon,
        label,
        class,
        data_edit,
        busy,
        run,
    } = action;
    let title = icon.is_some().then(|| label.clone());
    view! {
        <button class=class aria-label=label title=title data-edit=data_edit
            disabled=move || busy.as_ref().is_some_and(|busy| busy())
            on:click=move |_| run()>
            {icon.map(icon_view)}{text}
        </button>
    }
}

fn cell_view(cell: Cell) -> AnyView {
    match cell {
        Cell::Text(text) => view! { <td>{text}</td> }.into_any(),
        Cell::Name(text) => view! { <td class="name">{text}</td> }.into_any(),
        Cell::Link(href, text) => {
            view! { <td class="name"><a href=href>{text}</a></td> }.into_any()
        }
        Cell::External(href, text) => view! {
            <td class="name"><a href=href target="_blank" rel="noopener noreferrer">{text}</a></td>
        }
        .into_any(),
        Cell::Badge(text, class, after) => {
            view! { <td><span class=class>{text}</span>{after}</td> }.into_any()
        }
        Cell::Tip(text, class, id, tip) => view! {
            <td class="status">
                <span class=class tabindex="0" aria-describedby=id.clone()>{text}</span>
                <span class="tip" role="tooltip" id=id>{tip}</span>
            </td>
        }
        .into_any(),
        Cell::Tool(id, name) => {
            view! { <td><span class="tool"><ToolIcon tool=id/>{name}</span></td> }.into_any()
        }
        Cell::Url(url) => {
            let title = url.clone();
            view! { <td class="url"><span title=title>{url}</span></td> }.into_any()
        }
        Cell::Number(n) => view! { <td class="number">{n}</td> }.into_any(),
        Cell::Time(time) => view! { <td>{crate::ui::time_view(time)}</td> }.into_any(),
        Cell::Live(text) => view! { <td>{move || text()}</td> }.into_any(),
        Cell::Actions(actions) => view! {
            <td class="actions">{actions.into_iter().map(action_view).collect_view()}</td>
        }
        .into_any(),
    }
}

/// A list: its loading, failed and empty states, or its table.
#[component]
pub fn DataTable(
    /// What is listed, for "Loading pipelines…" and "The pipelines could not be loaded".
    what: &'static str,
    state: Signal<ListState>,
    columns: &'static [Column],
    rows: Signal<Vec<Row>>,
    retry: Callback<()>,
) -> impl IntoView {
    let span = columns.len();
    view! {
        {move || match state.get() {
            ListState::Ready => None,
            ListState::Loading => Some(view! { <p class="state" role="status">"Loading " {what} "…"</p> }.into_any()),
            ListState::Failed(message) => Some(view! {
                <div class="alert error" role="alert">
                    <p>"The " {what} " could not be loaded: " {message}</p>
                    <button class="secondary" on:click=move |_| retry.run(())>"Try again"</button>
                </div>
            }.into_any()),
            ListState::Empty(heading, text) => Some(view! {
                <div class="empty"><h2>{heading}</h2>{text}</div>
            }.into_any()),
            ListState::NoMatch(filter) => Some(view! {
                <p class="state">"No " {what} " match “" {filter} "”."</p>
            }.into_any()),
        }}
        <Show when=move || state.with(|s| *s == ListState::Ready)>
            <div class="table-wrap">
            <table class="data">
                <thead>
                    <tr>
                        {columns.iter().map(|(label, unit, class)| view! {
                            <th scope="col" class=*class>{*label}{(!unit.is_empty()).then(|| view! { " " <span class="unit">{*unit}</span> })}</th>
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get() key=|row| row.key.clone() let:row>
                        {match row.group {
                            Some(title) => view! {
                                <tr class="group"><th colspan=span scope="colgroup">{title}</th></tr>
                            }.into_any(),
                            None => view! { <tr>{row.cells.into_iter().map(cell_view).collect_view()}</tr> }.into_any(),
                        }}
                    </For>
                </tbody>
            </table>
            </div>
        </Show>
    }
}
