//! Small pieces every page shares: status badges, times and durations, polling, load states.
//! Kept non-generic where possible: each distinct view type costs wasm size.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};
use leptos::prelude::*;
use switchboard_domain::check::{Category, ConnectionCheck};
use switchboard_domain::integration::IntegrationStatus;
use switchboard_domain::pipeline::RunStatus;

/// A status in words and a colour class; the words carry the meaning, the colour only repeats it.
pub fn badge(text: &'static str, class: &'static str) -> impl IntoView {
    view! { <span class=class>{text}</span> }
}

pub fn run_status(status: RunStatus) -> (&'static str, &'static str) {
    match status {
        RunStatus::Queued => ("Queued", "badge neutral"),
        RunStatus::Running => ("Running", "badge info"),
        RunStatus::Succeeded => ("Succeeded", "badge ok"),
        RunStatus::Failed => ("Failed", "badge error"),
        RunStatus::Unstable => ("Unstable", "badge warn"),
        RunStatus::Cancelled => ("Cancelled", "badge neutral"),
        RunStatus::Skipped => ("Skipped", "badge neutral"),
        RunStatus::Error => ("Error", "badge error"),
    }
}

pub fn run_badge(status: RunStatus) -> impl IntoView {
    let (text, class) = run_status(status);
    badge(text, class)
}

pub fn integration_status(status: IntegrationStatus) -> (&'static str, &'static str) {
    match status {
        IntegrationStatus::Untested => ("Untested", "badge neutral"),
        IntegrationStatus::Connected => ("Connected", "badge ok"),
        IntegrationStatus::Failed => ("Failed", "badge error"),
        IntegrationStatus::PendingApproval => ("Pending approval", "badge warn"),
    }
}

/// A failure category in words a person reads.
pub fn category_words(category: Category) -> &'static str {
    match category {
        Category::InvalidUrl => "Unusable URL",
        Category::Dns => "Host name not found",
        Category::Connect => "No connection",
        Category::Tls => "TLS certificate problem",
        Category::Timeout => "No answer in time",
        Category::BadCredentials => "Credentials rejected",
        Category::Forbidden => "Permission missing",
        Category::NotFound => "Not found",
        Category::NotThatTool => "Not the expected tool",
        Category::UpstreamError => "The tool failed",
        Category::Protocol => "Unexpected answer",
    }
}

/// One line about a connection check: what worked, or what failed and why.
pub fn check_summary(check: &ConnectionCheck) -> String {
    if check.ok {
        let mut parts = vec!["Connected".to_owned()];
        if let Some(version) = &check.tool_version {
            parts.push(format!("version {version}"));
        }
        if let Some(user) = &check.authenticated_as {
            parts.push(format!("as {user}"));
        }
        if let Some(ms) = check.latency_ms {
            parts.push(format!("{ms} ms"));
        }
        parts.join(" · ")
    } else {
        let words = check.category.map_or("Failed", category_words);
        format!("{words}: {}", check.message)
    }
}

/// `2026-11-25 09:00:05`, without chrono's format-string machinery (smaller wasm).
pub fn utc(time: &DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// A `<time>` with the compact form shown and the full one on hover.
pub fn time_view(time: Option<DateTime<Utc>>) -> impl IntoView {
    time.map(|time| {
        let full = utc(&time);
        let machine = format!("{}Z", full.replacen(' ', "T", 1));
        let short = full[..16].to_owned();
        view! { <time datetime=machine title=format!("{full} UTC")>{short}</time> }
    })
}

/// `8s`, `2m 05s`, `1h 02m`.
pub fn duration_text(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

/// Runs `task` (like `spawn_local`) for as long as `owned` — a signal of the component that
/// spawns it — is alive: once that component is gone, the task is dropped at its next await
/// instead of resuming into disposed signals, which would panic and, with `panic = "abort"`,
/// stop the whole app (seen when going Back from a run page while its log request was out).
pub fn spawn_while(
    owned: impl IsDisposed + Unpin + 'static,
    task: impl Future<Output = ()> + 'static,
) {
    leptos::task::spawn_local(WhileAlive {
        owned,
        task: Box::pin(task),
    });
}

struct WhileAlive<S> {
    owned: S,
    task: Pin<Box<dyn Future<Output = ()>>>,
}

impl<S: IsDisposed + Unpin> Future for WhileAlive<S> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.owned.is_disposed() {
            return Poll::Ready(());
        }
        self.task.as_mut().poll(cx)
    }
}

/// Calls `tick` every `period` while the calling component is mounted and the tab is visible.
pub fn every(period: Duration, tick: impl Fn() + 'static) {
    let tick: Box<dyn Fn()> = Box::new(tick);
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if !document().hidden() {
                tick();
            }
        },
        period,
    ) {
        on_cleanup(move || handle.clear());
    }
}
