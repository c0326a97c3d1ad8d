//! CI/CD → Runs: the recent runs across pipelines, with a status filter; and one run, its
//! status and its log as it grows.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use leptos::html;
use leptos::prelude::*;
use switchboard_domain::pipeline::{Run, RunStatus};

use super::integrations::Loaded;
use crate::api::{self, ApiError};
use crate::session::use_auth;
use crate::table::{Cell, Column, DataTable, ListState, Row};
use crate::toast::use_toasts;
use crate::ui;

/// How long a run took, or has taken so far.
fn elapsed(run: &Run, now: chrono::DateTime<Utc>) -> Option<String> {
    if let Some(ms) = run.duration_ms {
        return Some(ui::duration_text(i64::try_from(ms).unwrap_or(i64::MAX)));
    }
    let started = run.started_at?;
    let end = run.finished_at.unwrap_or(now);
    Some(ui::duration_text((end - started).num_milliseconds()))
}

fn build_text(run: &Run) -> String {
    run.build_number
        .map(|n| format!("#{n}"))
        .unwrap_or_default()
}

#[component]
pub fn RunsPage() -> impl IntoView {
    crate::set_title("Runs");
    let auth = use_auth();
    let items = RwSignal::new(Loaded::<Vec<Run>>::Loading);
    let status = RwSignal::new(String::new());
    let now = RwSignal::new(Utc::now());
    let generation = StoredValue::new(0u32);
    let ticks = StoredValue::new(0u32);

    let load = move || {
        let this = generation.get_value() + 1;
        generation.set_value(this);
        let filter = status.get_untracked();
        ui::spawn_while(status, async move {
            let result = auth.check(api::list_runs(&auth.token(), &filter).await);
            if generation.try_get_value() != Some(this) {
                return;
            }
            match result {
                Ok(page) => {
                    if items.with_untracked(
                        |now| !matches!(now, Loaded::Ready(old) if *old == page.items),
                    ) {
                        items.set(Loaded::Ready(page.items));
                    }
                }
                Err(err) => {
                    if !matches!(items.get_untracked(), Loaded::Ready(_)) {
                        items.set(Loaded::Failed(err.message()));
                    }
                }
            }
        });
    };
    load();
    // Every 2 s while a run is active (durations tick, statuses change); every 10 s otherwise.
    ui::every(Duration::from_secs(2), move || {
        let active = items.with_untracked(|loaded| {
            matches!(loaded, Loaded::Ready(list) if list.iter().any(|r| r.status.is_active()))
        });
        let tick = ticks.get_value().wrapping_add(1);
        ticks.set_value(tick);
        if active {
            now.set(Utc::now());
        }
        if active || tick.is_multiple_of(5) {
            load();
        }
    });

    view! {
        <div class="page-head">
            <div>
                <h1>"Runs"</h1>
                <p class="muted">"The runs started from Switchboard, newest first."</p>
            </div>
        </div>
        <div class="toolbar">
            <label for="run-status">"Status"</label>
            <select id="run-status" on:change=move |ev| { status.set(event_target_value(&ev)); items.set(Loaded::Loading); load(); }>
                <option value="">"All"</option>
                {RunStatus::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{ui::run_status(s).0}</option> }).collect_view()}
            </select>
        </div>
        <DataTable what="runs" columns=COLUMNS
            state=Signal::derive(move || match items.get() {
                Loaded::Loading => ListState::Loading,
                Loaded::Failed(message) => ListState::Failed(message),
                Loaded::Ready(list) if !list.is_empty() => ListState::Ready,
                Loaded::Ready(_) => ListState::Empty(
                    if status.with(String::is_empty) { "No runs yet" } else { "No runs with this status" },
                    "Start one with “Run” on the Pipelines page.".into(),
                ),
            })
            rows=Signal::derive(move || items.with(|loaded| match loaded {
                Loaded::Ready(list) => list.iter().map(|run| run_row(run, now)).collect(),
                _ => Vec::new(),
            }))
            retry=Callback::new(move |()| { items.set(Loaded::Loading); load(); })/>
    }
}

const COLUMNS: &[Column] = &[
    ("Status", "", ""),
    ("Pipeline", "", ""),
    ("Integration", "", ""),
    ("Build", "", ""),
    ("Triggered by", "", ""),
    ("Started", "(UTC)", ""),
    ("Duration", "", ""),
];

fn run_row(run: &Run, now: RwSignal<chrono::DateTime<Utc>>) -> Row {
    let (text, class) = ui::run_status(run.status);
    let timing = run.clone();
    Row {
        id: run.id.clone(),
        key: format!("{} {}", run.id, run.updated_at.timestamp_millis()),
        group: None,
        cells: vec![
            Cell::Badge(text, class, String::new()),
            Cell::Link(format!("/runs/{}", run.id), run.pipeline_path.clone()),
            Cell::Text(run.integration_name.clone()),
            Cell::Text(build_text(run)),
            Cell::Text(run.triggered_by.clone()),
            Cell::Time(run.started_at.or(Some(run.created_at))),
            Cell::Live(Arc::new(move || {
                elapsed(&timing, now.get()).unwrap_or_default()
            })),
        ],
    }
}

/// `/runs/:id`: one run, its status and its log as it grows.
#[component]
pub fn RunView(id: String) -> impl IntoView {
    crate::set_title("Run");
    let auth = use_auth();
    let toasts = use_toasts();
    let run = RwSignal::new(Loaded::<Run>::Loading);
    let log = RwSignal::new(String::new());
    let log_error = RwSignal::new(None::<String>);
    let complete = RwSignal::new(false);
    let offset = StoredValue::new(0u64);
    let busy = StoredValue::new(false);
    let follow = StoredValue::new(true);
    let now = RwSignal::new(Utc::now());
    let cancelling = RwSignal::new(false);
    let pre = NodeRef::<html::Pre>::new();
    let id = StoredValue::new(id);

    // One step: the run while it is active (or not loaded), then the next piece of the log.
    let step = move || {
        if busy.get_value() {
            return;
        }
        busy.set_value(true);
        ui::spawn_while(run, async move {
            let token = auth.token();
            let id = id.get_value();
            let refresh =
                run.with_untracked(|r| !matches!(r, Loaded::Ready(run) if !run.status.is_active()));
            if refresh {
                match auth.check(api::get_run(&token, &id).await) {
                    Ok(fresh) => {
                        // Only a change redraws: the focus stays on "Cancel run" between polls.
                        if run.with_untracked(|r| !matches!(r, Loaded::Ready(old) if *old == fresh))
                        {
                            crate::set_title(&run_title(&fresh));
                            run.set(Loaded::Ready(fresh));
                        }
                    }
                    Err(err) => {
                        if !matches!(run.get_untracked(), Loaded::Ready(_)) {
                            run.set(Loaded::Failed(err.message()));
                        }
                    }
                }
            }
            let loaded = run.with_untracked(|r| matches!(r, Loaded::Ready(_)));
            if loaded && !complete.get_untracked() {
                match auth.check(api::run_log(&token, &id, offset.get_value()).await) {
                    Ok(chunk) => {
                        offset.set_value(chunk.next_offset);
                        if !chunk.text.is_empty() {
                            log.update(|log| log.push_str(&chunk.text));
                            if follow.get_value() {
                                request_animation_frame(move || {
                                    if run.is_disposed() {
                                        return;
                                    }
                                    if let Some(pre) = pre.get_untracked() {
                                        pre.set_scroll_top(pre.scroll_height());
                                    }
                                });
                            }
                        }
                        log_error.set(None);
                        complete.set(chunk.complete);
                    }
                    Err(err) => log_error.set(Some(err.message())),
                }
            }
            busy.set_value(false);
        });
    };
    step();
    ui::every(Duration::from_secs(1), move || {
        now.set(Utc::now());
        let idle = complete.get_untracked()
            && run.with_untracked(|r| matches!(r, Loaded::Ready(run) if !run.status.is_active()));
        if !idle {
            step();
        }
    });

    let on_scroll = move |_| {
        if let Some(pre) = pre.get_untracked() {
            follow.set_value(pre.scroll_top() + pre.client_height() >= pre.scroll_height() - 8);
        }
    };

    let cancel = move |_| {
        cancelling.set(true);
        ui::spawn_while(cancelling, async move {
            let result = auth.check(api::cancel_run(&auth.token(), &id.get_value()).await);
            cancelling.set(false);
            match result {
                Ok(updated) => {
                    toasts.show("Cancel requested.");
                    run.set(Loaded::Ready(updated));
                }
                Err(ApiError::Problem(problem)) if problem.status == 409 => {
                    toasts.show(problem.detail);
                    run.set(Loaded::Loading);
                    step();
                }
                Err(err) => toasts.show(err.message()),
            }
        });
    };

    view! {
        {move || match run.get() {
            Loaded::Loading => view! { <p class="state" role="status">"Loading the run…"</p> }.into_any(),
            Loaded::Failed(message) => view! {
                <h1>"Run"</h1>
                <div class="alert error" role="alert"><p>"The run could not be loaded: " {message}</p></div>
                <a href="/runs">"All runs"</a>
            }.into_any(),
            Loaded::Ready(r) => {
                let active = r.status.is_active();
                let parameters = r.parameters.clone();
                // The server keeps only links on the integration's own http(s) origins.
                let link = r.build_url.clone().filter(|url| url.starts_with("https://") || url.starts_with("http://")).map(|url| view! {
                    " " <a href=url target="_blank" rel="noopener noreferrer">{format!("Open in {}", crate::pages::integrations::tool_name(&r.tool))}</a>
                });
                let started = r.started_at;
                let created = r.created_at;
                let finished = r.finished_at;
                let timing = r.clone();
                view! {
                    <div class="page-head">
                        <div>
                            <p class="muted"><a href="/runs">"Runs"</a> " › " {r.integration_name.clone()}</p>
                            <h1>{r.pipeline_path.clone()} " " {build_text(&r)}</h1>
                        </div>
                        <Show when=move || active && auth.can_operate()>
                            <button class="danger-button" disabled=move || cancelling.get() on:click=cancel>
                                {move || if cancelling.get() { "Cancelling…" } else { "Cancel run" }}
                            </button>
                        </Show>
                    </div>
                    <dl class="facts">
                        <div><dt>"Status"</dt><dd aria-live="polite">{ui::run_badge(r.status)}</dd></div>
                        <div><dt>"Build"</dt><dd>{if r.build_number.is_some() { build_text(&r) } else { "not started yet".into() }}{link}</dd></div>
                        <div><dt>"Duration"</dt><dd>{move || elapsed(&timing, now.get()).unwrap_or_else(|| "–".into())}</dd></div>
                        <div><dt>"Triggered by"</dt><dd>{r.triggered_by.clone()}</dd></div>
                        <div><dt>"Queued " <span class="unit">"(UTC)"</span></dt><dd>{ui::time_view(Some(created))}</dd></div>
                        <div><dt>"Started"</dt><dd>{ui::time_view(started)}</dd></div>
                        <div><dt>"Finished"</dt><dd>{ui::time_view(finished)}</dd></div>
                    </dl>
                    {r.detail.clone().map(|detail| view! { <p class="alert info">{detail}</p> })}
                    <h2>"Parameters"</h2>
                    {if parameters.is_empty() {
                        view! { <p class="muted">"None: the tool's defaults."</p> }.into_any()
                    } else {
                        view! {
                            <dl class="facts params">
                                {parameters.into_iter().map(|(name, value)| {
                                    let text = match value {
                                        serde_json::Value::String(s) if s.is_empty() => "(empty)".to_owned(),
                                        serde_json::Value::String(s) => s,
                                        other => other.to_string(),
                                    };
                                    view! { <div><dt>{name}</dt><dd><code>{text}</code></dd></div> }
                                }).collect_view()}
                            </dl>
                        }.into_any()
                    }}
                }.into_any()
            }
        }}
        <Show when=move || matches!(run.get(), Loaded::Ready(_))>
            <div class="log-head">
                <h2 id="log-title">"Log"</h2>
                <span class="muted" role="status">{move || if complete.get() { "complete" } else { "following…" }}</span>
            </div>
            {move || log_error.get().map(|message| view! { <p class="alert error" role="alert">"The log could not be read: " {message}</p> })}
            <pre class="log" role="log" tabindex="0" aria-labelledby="log-title" node_ref=pre on:scroll=on_scroll>
                {move || log.get()}
            </pre>
        </Show>
    }
}

fn run_title(run: &Run) -> String {
    format!("{} {}", run.pipeline_path, build_text(run))
        .trim()
        .to_owned()
}
