//! CI/CD → Pipelines: every pipeline the integrations discovered, grouped by integration and
//! folder, with a filter, the last build and "Run" for operators.

use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use switchboard_domain::pipeline::{Pipeline, PipelineKind};

use super::integrations::Loaded;
use super::run_dialog::RunDialog;
use crate::api;
use crate::session::use_auth;
use crate::table::{Action, Cell, Column, DataTable, ListState, Row};
use crate::ui;

fn kind_name(kind: PipelineKind) -> &'static str {
    match kind {
        PipelineKind::Freestyle => "Freestyle",
        PipelineKind::Pipeline => "Pipeline",
        PipelineKind::Branch => "Branch",
        PipelineKind::Matrix => "Matrix",
        PipelineKind::Maven => "Maven",
        PipelineKind::Builder => "Builder",
        PipelineKind::Other => "Other",
    }
}

const COLUMNS: &[Column] = &[
    ("Pipeline", "", ""),
    ("Kind", "", ""),
    ("Last build", "", ""),
    ("Started", "(UTC)", ""),
    ("Actions", "", "actions"),
];

/// The table rows: a heading row for each integration and folder, then its pipelines.
fn rows(list: &[Pipeline], can_run: bool, running: RwSignal<Option<Pipeline>>) -> Vec<Row> {
    let mut rows = Vec::with_capacity(list.len() + 8);
    let mut current = String::new();
    for pipeline in list {
        let group = if pipeline.folder.is_empty() {
            pipeline.integration_name.clone()
        } else {
            format!("{} › {}", pipeline.integration_name, pipeline.folder)
        };
        if group != current {
            current.clone_from(&group);
            rows.push(Row {
                id: String::new(),
                key: format!("g {group}"),
                group: Some(group.clone()),
                cells: Vec::new(),
            });
        }
        let (text, class) = pipeline
            .last_build
            .as_ref()
            .map_or(("Never built", "badge neutral"), |b| {
                ui::run_status(b.status)
            });
        let number = pipeline
            .last_build
            .as_ref()
            .map(|b| format!(" #{}", b.number))
            .unwrap_or_default();
        let action = if pipeline.removed {
            Cell::Badge("Removed from the tool", "badge neutral", String::new())
        } else if !pipeline.buildable {
            Cell::Badge("Disabled in the tool", "badge neutral", String::new())
        } else if can_run {
            let target = pipeline.clone();
            Cell::Actions(vec![Action {
                text: "Run",
                icon: None,
                label: format!(
                    "Run {} on {}",
                    pipeline.full_path, pipeline.integration_name
                ),
                class: "secondary small",
                data_edit: None,
                busy: None,
                run: Arc::new(move || running.set(Some(target.clone()))),
            }])
        } else {
            Cell::Text(String::new())
        };
        rows.push(Row {
            id: pipeline.id.clone(),
            key: format!(
                "p {} {}",
                pipeline.id,
                pipeline.updated_at.timestamp_millis()
            ),
            group: None,
            cells: vec![
                Cell::External(pipeline.url.clone(), pipeline.name.clone()),
                Cell::Text(kind_name(pipeline.kind).to_owned()),
                Cell::Badge(text, class, number),
                Cell::Time(pipeline.last_build.as_ref().and_then(|b| b.started_at)),
                action,
            ],
        });
    }
    rows
}

#[component]
pub fn PipelinesPage() -> impl IntoView {
    crate::set_title("Pipelines");
    let auth = use_auth();
    let items = RwSignal::new(Loaded::<Vec<Pipeline>>::Loading);
    let search = RwSignal::new(String::new());
    let running = RwSignal::new(None::<Pipeline>);
    // Each load carries a number; an answer to an older one (an earlier filter) is dropped.
    let generation = StoredValue::new(0u32);

    let load = move || {
        let this = generation.get_value() + 1;
        generation.set_value(this);
        let q = search.get_untracked();
        ui::spawn_while(search, async move {
            let result = auth.check(api::list_pipelines(&auth.token(), q.trim()).await);
            if generation.try_get_value() != Some(this) {
                return;
            }
            match result {
                Ok(mut list) => {
                    // Grouped by integration, then folder (a path order can split a folder:
                    // "a/b-c", "a/b/x", "a/c").
                    list.sort_by(|a, b| {
                        (&a.integration_name, &a.integration_id, &a.folder, &a.name).cmp(&(
                            &b.integration_name,
                            &b.integration_id,
                            &b.folder,
                            &b.name,
                        ))
                    });
                    // Only a change redraws: the focus stays where it is between polls.
                    if items
                        .with_untracked(|now| !matches!(now, Loaded::Ready(old) if *old == list))
                    {
                        items.set(Loaded::Ready(list));
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
    // New pipelines (a sync, the background discovery) and new builds show without a reload.
    ui::every(Duration::from_secs(5), load);

    let on_search = move |ev| {
        search.set(event_target_value(&ev));
        let this = generation.get_value();
        set_timeout(
            move || {
                if generation.try_get_value() == Some(this) {
                    load();
                }
            },
            Duration::from_millis(250),
        );
    };

    view! {
        <div class="page-head">
            <div>
                <h1>"Pipelines"</h1>
                <p class="muted">"The jobs Switchboard found in your CI/CD tools. They appear by themselves once an integration connects."</p>
            </div>
        </div>
        <div class="toolbar">
            <label class="visually-hidden" for="pipeline-search">"Filter pipelines"</label>
            <input id="pipeline-search" type="search" placeholder="Filter by path"
                prop:value=move || search.get() on:input=on_search/>
        </div>
        <DataTable what="pipelines" columns=COLUMNS
            state=Signal::derive(move || match items.get() {
                Loaded::Loading => ListState::Loading,
                Loaded::Failed(message) => ListState::Failed(message),
                Loaded::Ready(list) if !list.is_empty() => ListState::Ready,
                Loaded::Ready(_) if search.with(|s| s.trim().is_empty()) => ListState::Empty(
                    "No pipelines yet",
                    "Pipelines appear here once an integration has connected to its CI/CD tool and found its jobs.".into(),
                ),
                Loaded::Ready(_) => ListState::NoMatch(search.get()),
            })
            rows=Signal::derive(move || items.with(|loaded| match loaded {
                Loaded::Ready(list) => rows(list, auth.can_operate(), running),
                _ => Vec::new(),
            }))
            retry=Callback::new(move |()| { items.set(Loaded::Loading); load(); })/>
        {move || running.get().map(|pipeline| view! {
            <RunDialog pipeline=pipeline on_close=Callback::new(move |()| running.set(None))/>
        })}
    }
}
