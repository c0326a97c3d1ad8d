//! A small router for a handful of fixed paths: the path is a signal, the History API keeps the
//! address bar in step, and clicks on links within the app are taken over. (leptos_router did
//! this before, at about 4% of the wasm.)

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// The current path (`location.pathname`, without the query: a page reads its own query from
/// `location.search`).
#[derive(Debug, Clone, Copy)]
pub struct Path(RwSignal<String>);

fn pathname() -> String {
    window()
        .location()
        .pathname()
        .unwrap_or_else(|_| "/".into())
}

impl Path {
    /// Creates the path signal, follows Back and Forward, and takes over clicks on app links.
    pub fn provide() -> Self {
        let path = Path(RwSignal::new(pathname()));
        provide_context(path);
        // The App lives as long as the page: the listeners are never removed.
        let _ = window_event_listener(ev::popstate, move |_| path.0.set(pathname()));
        let _ = window_event_listener(ev::click, move |ev| {
            if ev.default_prevented()
                || ev.button() != 0
                || ev.ctrl_key()
                || ev.meta_key()
                || ev.shift_key()
                || ev.alt_key()
            {
                return;
            }
            let Some(link) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("a[href]").ok().flatten())
            else {
                return;
            };
            let href = link.get_attribute("href").unwrap_or_default();
            if link.has_attribute("target") || !href.starts_with('/') || href.starts_with("//") {
                return;
            }
            ev.prevent_default();
            path.go(&href, false);
        });
        path
    }

    pub fn get(&self) -> String {
        self.0.get()
    }

    /// Shows `to`: a new history entry, or (`replace`) in place of the current one.
    pub fn go(&self, to: &str, replace: bool) {
        if let Ok(history) = window().history() {
            let _ = if replace {
                history.replace_state_with_url(&JsValue::NULL, "", Some(to))
            } else {
                history.push_state_with_url(&JsValue::NULL, "", Some(to))
            };
        }
        let to = to.split(['?', '#']).next().unwrap_or(to);
        if self.0.get_untracked() != to {
            self.0.set(to.to_owned());
            if !replace {
                window().scroll_to_with_x_and_y(0.0, 0.0);
            }
        }
    }
}

/// The value of `name` in the address's query string, if it is there.
pub fn query_value(name: &str) -> Option<String> {
    let search = window().location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get(name)
}

pub fn use_path() -> Path {
    expect_context::<Path>()
}

/// Goes to `to` instead of the current path, once the current render has finished.
pub fn redirect(to: &'static str) {
    let path = use_path();
    set_timeout(move || path.go(to, true), Duration::ZERO);
}
