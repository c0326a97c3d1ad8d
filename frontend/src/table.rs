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

/// A row: `group` rows are a heading across the table (`cells` empty). `id` names the thing
/// shown (it stays when the row is redrawn); `key` changes with its content.
#[derive(Clone)]
pub struct Row {
    pub id: String,
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

/// Marks (or unmarks) a status cell whose tooltip the user dismissed.
fn dismiss(cell: Option<web_sys::EventTarget>, dismissed: bool) {
    use wasm_bindgen::JsCast;
    if let Some(cell) = cell.and_then(|c| c.dyn_into::<web_sys::Element>().ok()) {
        let _ = if dismissed {
            cell.set_attribute("data-dismissed", "")
        } else {
            cell.remove_attribute("data-dismissed")
        };
    }
}

fn cell_view(cell: Cell) -> AnyView {
    match cell {
        Cell::Text(text) => view! { <td>{text}</td> }.into_any(),
        Cell::Name(text) => view! { <td class="name">{text}</td> }.into_any(),
        Cell::Link(href, text) => {
            view! { <td class="name"><a href=href>{text}</a></td> }.into_any()
        }
        // The server keeps only links on the integration's own http(s) origins; a cell without
        // one shows its text alone.
        Cell::External(href, text) if href.starts_with("https://") || href.starts_with("http://") => view! {
            <td class="name"><a href=href target="_blank" rel="noopener noreferrer">{text}</a></td>
        }
        .into_any(),
        Cell::External(_, text) => view! { <td class="name">{text}</td> }.into_any(),
        Cell::Badge(text, class, after) => {
            view! { <td><span class=class>{text}</span>{after}</td> }.into_any()
        }
        // Escape hides the tooltip until the pointer or the focus leaves (WCAG 1.4.13).
        Cell::Tip(text, class, id, tip) => view! {
            <td class="status"
                on:keydown=|ev| if ev.key() == "Escape" { dismiss(ev.current_target(), true) }
                on:mouseleave=|ev| dismiss(ev.current_target(), false)
                on:focusout=|ev| dismiss(ev.current_target(), false)>
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

/// The control in a row that last had the focus.
struct Focused {
    element: web_sys::Element,
    row: String,
    label: Option<String>,
}

fn remember_focus(
    focused: StoredValue<Option<Focused>, LocalStorage>,
    target: Option<web_sys::EventTarget>,
) {
    use wasm_bindgen::JsCast;
    let Some(element) = target.and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else {
        return;
    };
    let row = element
        .closest("tr[data-row]")
        .ok()
        .flatten()
        .and_then(|tr| tr.get_attribute("data-row"));
    let label = element.get_attribute("aria-label");
    focused.set_value(row.map(|row| Focused {
        element,
        row,
        label,
    }));
}

fn restore_focus(focused: StoredValue<Option<Focused>, LocalStorage>) {
    use wasm_bindgen::JsCast;
    let target = focused.with_value(|f| {
        let f = f.as_ref()?;
        // Only when the focus was lost with the old row, not moved elsewhere by the user.
        let lost = document()
            .active_element()
            .is_none_or(|a| a.tag_name() == "BODY");
        if f.element.is_connected() || !lost {
            return None;
        }
        let row = document()
            .query_selector_all("tr[data-row]")
            .ok()
            .and_then(|rows| {
                (0..rows.length())
                    .filter_map(|i| rows.item(i)?.dyn_into::<web_sys::Element>().ok())
                    .find(|tr| tr.get_attribute("data-row").as_deref() == Some(f.row.as_str()))
            })?;
        let candidates = row
            .query_selector_all("button, a[href], [tabindex='0']")
            .ok()?;
        (0..candidates.length())
            .filter_map(|i| candidates.item(i)?.dyn_into::<web_sys::HtmlElement>().ok())
            .find(|c| c.get_attribute("aria-label") == f.label)
    });
    if let Some(target) = target {
        let _ = target.focus();
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
    // A row redrawn with new content (a poll) replaces the element that had the focus: the
    // same control in the new row gets it back.
    let focused = StoredValue::new_local(None::<Focused>);
    Effect::new(move |_| {
        rows.track();
        request_animation_frame(move || restore_focus(focused));
    });
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
                <tbody on:focusin=move |ev| remember_focus(focused, ev.target())>
                    <For each=move || rows.get() key=|row| row.key.clone() let:row>
                        {match row.group {
                            Some(title) => view! {
                                <tr class="group"><th colspan=span scope="colgroup">{title}</th></tr>
                            }.into_any(),
                            None => view! { <tr data-row=row.id>{row.cells.into_iter().map(cell_view).collect_view()}</tr> }.into_any(),
                        }}
                    </For>
                </tbody>
            </table>
            </div>
        </Show>
    }
}
