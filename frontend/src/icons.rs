//! Inline SVG icons (decorative: the buttons carrying them have their own names).

use leptos::prelude::*;

#[component]
pub fn PencilIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M4 20h4L19 9l-4-4L4 16v4z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>
            <path d="M13.5 6.5l4 4" fill="none" stroke="currentColor" stroke-width="2"/>
        </svg>
    }
}

#[component]
pub fn TrashIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>
        </svg>
    }
}

#[component]
pub fn ChevronIcon(open: Signal<bool>) -> impl IntoView {
    view! {
        <svg class="icon chevron" class:open=move || open.get() viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M9 6l6 6-6 6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>
        </svg>
    }
}

/// The mark of an approved tool.
#[component]
pub fn ToolIcon(tool: String) -> impl IntoView {
    let (letter, class) = match tool.as_str() {
        "jenkins" => ("J", "tool-icon jenkins"),
        "buildbot" => ("B", "tool-icon buildbot"),
        _ => ("?", "tool-icon"),
    };
    view! { <span class=class aria-hidden="true">{letter}</span> }
}

/// The product mark (the same drawing as the favicon).
#[component]
pub fn BrandMark(size: u32) -> impl IntoView {
    view! {
        <svg width=size height=size viewBox="0 0 32 32" aria-hidden="true" focusable="false">
            <rect width="32" height="32" rx="7" fill="#1d4ed8"/>
            <path d="M8 11h10m-10 10h16M18 7v8m-4 2v8" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/>
            <circle cx="24" cy="11" r="2.6" fill="#fff"/>
        </svg>
    }
}

/// "Test connection": a plug.
#[component]
pub fn PlugIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M9 3v5M15 3v5M6 8h12v3a6 6 0 0 1-12 0V8zM12 17v4" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>
        </svg>
    }
}

/// "Sync now": two arrows in a circle.
#[component]
pub fn SyncIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M20 11a8 8 0 0 0-14.3-4.9L4 8M4 4v4h4M4 13a8 8 0 0 0 14.3 4.9L20 16M20 20v-4h-4" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>
        </svg>
    }
}
