//! Short outcome messages, announced politely to screen readers.

use leptos::prelude::*;

#[derive(Debug, Clone, Copy)]
pub struct Toasts {
    message: RwSignal<Option<(u64, String)>>,
    counter: StoredValue<u64>,
}

impl Toasts {
    pub fn new() -> Self {
        Self {
            message: RwSignal::new(None),
            counter: StoredValue::new(0),
        }
    }

    pub fn show(&self, text: impl Into<String>) {
        let id = self.counter.get_value() + 1;
        self.counter.set_value(id);
        self.message.set(Some((id, text.into())));
        let message = self.message;
        set_timeout(
            move || {
                if message.with_untracked(|m| m.as_ref().is_some_and(|(shown, _)| *shown == id)) {
                    message.set(None);
                }
            },
            std::time::Duration::from_secs(5),
        );
    }
}

pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="toast-region" role="status" aria-live="polite">
            {move || toasts.message.get().map(|(_, text)| view! { <div class="toast">{text}</div> })}
        </div>
    }
}
