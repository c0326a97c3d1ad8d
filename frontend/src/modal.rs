//! A real modal: focus moves in, stays in, Escape closes, focus returns to the opener.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

const FOCUSABLE: &str = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

fn focusables(container: &web_sys::HtmlElement) -> Vec<web_sys::HtmlElement> {
    let Ok(list) = container.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<web_sys::HtmlElement>().ok())
        .collect()
}

/// Focuses the first enabled form field inside `container`, or else its first focusable element.
pub fn focus_first_field(container: &web_sys::HtmlElement) {
    let targets = focusables(container);
    let first_field = targets
        .iter()
        .find(|e| matches!(e.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
    if let Some(target) = first_field.or_else(|| targets.first()) {
        let _ = target.focus();
    }
}

fn active_element() -> Option<web_sys::HtmlElement> {
    document()
        .active_element()?
        .dyn_into::<web_sys::HtmlElement>()
        .ok()
}

/// Wraps dialog content. `role` is `dialog` or `alertdialog`; `labelled_by` names the heading id.
#[component]
pub fn Modal(
    role: &'static str,
    labelled_by: &'static str,
    on_close: Callback<()>,
    #[prop(optional)] wide: bool,
    children: Children,
) -> impl IntoView {
    let panel = NodeRef::<html::Div>::new();
    let opener = StoredValue::new_local(active_element());

    // Focus the first field once the dialog is in the page.
    Effect::new(move |_| {
        if let Some(panel) = panel.get() {
            request_animation_frame(move || {
                let element: &web_sys::HtmlElement = &panel;
                let targets = focusables(element);
                let first_field = targets
                    .iter()
                    .find(|e| matches!(e.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
                if let Some(target) = first_field.or_else(|| targets.first()) {
                    let _ = target.focus();
                }
            });
        }
    });
    on_cleanup(move || {
        if let Some(Some(opener)) = opener.try_get_value()
            && opener.is_connected()
        {
            let _ = opener.focus();
        }
    });

    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            on_close.run(());
            return;
        }
        if ev.key() != "Tab" {
            return;
        }
        let Some(panel) = panel.get_untracked() else {
            return;
        };
        let element: &web_sys::HtmlElement = &panel;
        let targets = focusables(element);
        let (Some(first), Some(last)) = (targets.first(), targets.last()) else {
            return;
        };
        let active = active_element();
        let at = |target: &web_sys::HtmlElement| {
            active
                .as_ref()
                .is_some_and(|a| a.is_same_node(Some(target)))
        };
        if ev.shift_key()
            && (at(first) || active.as_ref().is_none_or(|a| !element.contains(Some(a))))
        {
            ev.prevent_default();
            let _ = last.focus();
        } else if !ev.shift_key() && at(last) {
            ev.prevent_default();
            let _ = first.focus();
        }
    };

    view! {
        <div class="backdrop">
            <div
                class="modal"
                class:wide=wide
                role=role
                aria-modal="true"
                aria-labelledby=labelled_by
                node_ref=panel
                on:keydown=on_keydown
            >
                {children()}
            </div>
        </div>
    }
}
