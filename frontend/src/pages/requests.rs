//! CI/CD → Requests: prior discussion and approval. The list (needs my review, mine, all) and
//! a request's page: its diff, dry run, timeline, the discussion and the reviews. What a
//! person may do comes from the server with the reason when not; a button they may not use
//! is disabled with that reason next to it.

use leptos::prelude::*;
use switchboard_domain::change_request::{
    ChangeRequest, ChangeRequestSummary, DiffLine, DryRun, FieldChange, NewComment, NewReview,
    Permission, RequestState, ReviewDecision, ReviseChangeRequest, TimelineEntry, TimelineKind,
};

use crate::api::{self, ApiError};
use crate::pages::integrations::Loaded;
use crate::session::use_auth;
use crate::table::{Cell, Column, DataTable, ListState, Row};
use crate::toast::use_toasts;
use crate::ui;

pub fn state_badge(state: RequestState) -> (&'static str, &'static str) {
    let class = match state {
        RequestState::Open => "badge info",
        RequestState::Approved => "badge ok",
        RequestState::ChangesRequested | RequestState::Conflict => "badge warn",
        RequestState::Rejected => "badge error",
        RequestState::Withdrawn | RequestState::Expired => "badge neutral",
    };
    (state.label(), class)
}

const COLUMNS: &[Column] = &[
    ("Request", "", ""),
    ("Kind", "", ""),
    ("State", "", ""),
    ("Opened by", "", ""),
    ("Last change", "(UTC)", ""),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    NeedsMyReview,
    Mine,
    All,
}

impl Tab {
    fn query(self) -> &'static str {
        match self {
            Self::NeedsMyReview => "reviewable_by=me",
            Self::Mine => "author=me",
            Self::All => "",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::NeedsMyReview => "Needs my review",
            Self::Mine => "Mine",
            Self::All => "All",
        }
    }
}

fn summary_row(item: &ChangeRequestSummary) -> Row {
    let (text, class) = state_badge(item.state);
    Row {
        id: item.id.clone(),
        key: format!("{} {:?} {}", item.id, item.state, item.revision),
        group: None,
        cells: vec![
            Cell::Link(format!("/requests/{}", item.id), item.title.clone()),
            Cell::Text(item.kind.label().to_owned()),
            Cell::Badge(text, class, String::new()),
            Cell::Text(item.author.clone()),
            Cell::Time(Some(item.updated_at)),
        ],
    }
}

#[component]
pub fn RequestsPage() -> impl IntoView {
    crate::set_title("Requests");
    let auth = use_auth();
    let is_admin = auth
        .session
        .with_untracked(|s| s.as_ref().is_some_and(|s| s.is_admin()));
    let tab = RwSignal::new(if is_admin {
        Tab::NeedsMyReview
    } else {
        Tab::Mine
    });
    let items = RwSignal::new(Loaded::<Vec<ChangeRequestSummary>>::Loading);
    let load = move || {
        let filter = tab.get_untracked().query();
        ui::spawn_while(items, async move {
            match auth.check(api::list_change_requests(&auth.token(), filter).await) {
                Ok(page) => items.set(Loaded::Ready(page.items)),
                Err(err) => items.set(Loaded::Failed(err.message())),
            }
        });
    };
    load();
    ui::every(std::time::Duration::from_secs(15), load);
    let rows = Signal::derive(move || {
        items.with(|loaded| match loaded {
            Loaded::Ready(list) => list.iter().map(summary_row).collect(),
            _ => Vec::new(),
        })
    });
    let state = Signal::derive(move || {
        match items.get() {
        Loaded::Loading => ListState::Loading,
        Loaded::Failed(message) => ListState::Failed(message),
        Loaded::Ready(list) if list.is_empty() => ListState::Empty(
            "No requests here",
            match tab.get() {
                Tab::NeedsMyReview => "Nothing waits for your review.",
                Tab::Mine => "Adding an integration, or changing its URLs or secrets, opens a request while approval is on.",
                Tab::All => "Nobody has opened a request yet.",
            }
            .into(),
        ),
        Loaded::Ready(_) => ListState::Ready,
    }
    });
    let tabs: Vec<Tab> = if is_admin {
        vec![Tab::NeedsMyReview, Tab::Mine, Tab::All]
    } else {
        vec![Tab::Mine, Tab::All]
    };
    view! {
        <div class="page-head">
            <div>
                <h1>"Requests"</h1>
                <p class="muted">"New integrations and changes of URLs or secrets are discussed and approved here before they apply."</p>
            </div>
        </div>
        <div class="tabs" role="group" aria-label="Which requests">
            {tabs.into_iter().map(|choice| view! {
                <button type="button" class="tab" aria-pressed=move || (tab.get() == choice).to_string()
                    on:click=move |_| { tab.set(choice); items.set(Loaded::Loading); load(); }>
                    {choice.label()}
                </button>
            }).collect_view()}
        </div>
        <DataTable what="requests" columns=COLUMNS state=state rows=rows
            retry=Callback::new(move |()| { items.set(Loaded::Loading); load(); })/>
    }
}

fn change_words(change: FieldChange) -> &'static str {
    match change {
        FieldChange::Added => "added",
        FieldChange::Set => "set",
        FieldChange::Changed => "changed",
        FieldChange::Unchanged => "unchanged",
        FieldChange::Removed => "removed",
    }
}

/// A value in the diff: plain text, or for a secret its fingerprint.
fn shown(value: Option<String>, fingerprint: Option<String>, secret: bool) -> String {
    if secret {
        return match fingerprint.filter(|print| !print.is_empty()) {
            Some(print) => format!("•••• {print}"),
            None => "—".to_owned(),
        };
    }
    value.unwrap_or_else(|| "—".to_owned())
}

fn diff_view(lines: Vec<DiffLine>) -> impl IntoView {
    view! {
        <table class="data diff">
            <caption class="visually-hidden">"Proposed change against what is live"</caption>
            <thead><tr><th scope="col">"Field"</th><th scope="col">"Now"</th><th scope="col">"Proposed"</th><th scope="col">"Change"</th></tr></thead>
            <tbody>
                {lines.into_iter().map(|line| {
                    let class = if line.change == FieldChange::Unchanged { "unchanged" } else { "changed" };
                    view! {
                        <tr class=class>
                            <th scope="row"><code>{line.field.clone()}</code></th>
                            <td>{shown(line.before.clone(), line.fingerprint_before.clone(), line.secret)}</td>
                            <td>{shown(line.after.clone(), line.fingerprint_after.clone(), line.secret)}</td>
                            <td>{change_words(line.change)}{line.secret.then_some(" (secret)")}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn dry_run_view(dry_run: Option<DryRun>) -> impl IntoView {
    match dry_run {
        None => view! { <p class="muted">"Not run yet. A dry run checks the proposed connection and counts the pipelines discovery would find; the live integration is not touched."</p> }.into_any(),
        Some(run) => {
            let (words, class) = if run.check.ok { ("Connected", "alert info") } else { ("Failed", "alert error") };
            view! {
                <div class=class>
                    <p><strong>{words}</strong> ": " {ui::check_summary(&run.check)}</p>
                    {run.check.hint.clone().filter(|_| !run.check.ok).map(|hint| view! { <p>{hint}</p> })}
                    {run.pipelines.map(|count| view! { <p>{format!("Discovery would find {count} pipelines.")}</p> })}
                    {(!run.disappearing.is_empty()).then(|| view! {
                        <p>"These live pipelines would disappear: " {run.disappearing.join(", ")}</p>
                    })}
                    {run.discovery_error.clone().map(|reason| view! { <p>"Discovery failed: " {reason}</p> })}
                    <p class="muted">{format!("Revision {}, run by {} at {} UTC.", run.revision, run.ran_by, ui::utc(&run.ran_at))}</p>
                </div>
            }.into_any()
        }
    }
}

/// Plain text with its line breaks kept (never HTML).
fn text_block(text: String) -> impl IntoView {
    view! { <p class="discussion">{text}</p> }
}

fn entry_view(entry: TimelineEntry) -> impl IntoView {
    let what = match entry.kind {
        TimelineKind::Opened => "opened the request".to_owned(),
        TimelineKind::Revised => format!("wrote revision {}", entry.revision),
        TimelineKind::Comment if entry.reply_to.is_some() => "replied".to_owned(),
        TimelineKind::Comment => "commented".to_owned(),
        TimelineKind::Review => match entry.decision {
            Some(ReviewDecision::Approve) if entry.sole_administrator => {
                format!(
                    "approved revision {} as the sole administrator",
                    entry.revision
                )
            }
            Some(ReviewDecision::Approve) => format!("approved revision {}", entry.revision),
            Some(ReviewDecision::Reject) => "rejected it".to_owned(),
            Some(ReviewDecision::RequestChanges) => "requested changes".to_owned(),
            None => "reviewed".to_owned(),
        },
        TimelineKind::DryRun => "ran a dry run".to_owned(),
        TimelineKind::State => format!(
            "— the request is now {}",
            entry
                .state
                .map_or("changed", |state| state.label())
                .to_lowercase()
        ),
    };
    let dry_run = entry.dry_run.clone();
    view! {
        <li class="entry" id=format!("entry-{}", entry.id)>
            <p class="entry-head"><strong>{entry.actor.clone()}</strong> " " {what} " · " <span class="muted">{ui::utc(&entry.at)} " UTC"</span></p>
            {entry.text.clone().map(text_block)}
            {dry_run.map(|run| dry_run_view(Some(run)))}
        </li>
    }
}

/// A button the caller may or may not use; when not, disabled with the reason beside it.
fn permitted_button(
    label: &'static str,
    class: &'static str,
    permission: Permission,
    busy: RwSignal<bool>,
    run: impl Fn() + 'static,
) -> impl IntoView {
    let reason_id = format!("why-not-{}", label.to_lowercase().replace(' ', "-"));
    let allowed = permission.allowed;
    // Why not, or (the sole administrator's own request) what it takes.
    let reason = permission.reason.clone();
    let described = reason.is_some().then(|| reason_id.clone());
    view! {
        <span class="permitted">
            <button type="button" class=class disabled=move || !allowed || busy.get()
                aria-describedby=described
                on:click=move |_| run()>{label}</button>
            {reason.map(|reason| view! { <span class="muted why-not" id=reason_id.clone()>{reason}</span> })}
        </span>
    }
}

/// A new revision: the business need and, for an integration, its name and URLs (a secret
/// stays as the previous revision proposed it while the URLs keep their origins).
fn revise_form(
    request: ChangeRequest,
    busy: RwSignal<bool>,
    submit: impl Fn(ReviseChangeRequest) + Copy + 'static,
) -> impl IntoView {
    let need = RwSignal::new(request.business_need.clone());
    let integration = request.change.get("urls").is_some() || request.change.get("name").is_some();
    let name = RwSignal::new(
        request
            .change
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_owned(),
    );
    let urls: Vec<(String, RwSignal<String>)> = request
        .change
        .get("urls")
        .and_then(|u| u.as_object())
        .map(|urls| {
            urls.iter()
                .map(|(key, url)| {
                    (
                        key.clone(),
                        RwSignal::new(url.as_str().unwrap_or_default().to_owned()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let url_inputs = StoredValue::new(urls.clone());
    let base = StoredValue::new(request.change.clone());
    let send = move || {
        let mut change = base.get_value();
        if integration && let Some(object) = change.as_object_mut() {
            if object.contains_key("name") {
                object.insert(
                    "name".into(),
                    serde_json::Value::String(name.get_untracked()),
                );
            }
            if !url_inputs.with_value(Vec::is_empty) {
                let urls: serde_json::Map<String, serde_json::Value> = url_inputs
                    .get_value()
                    .into_iter()
                    .map(|(key, value)| (key, serde_json::Value::String(value.get_untracked())))
                    .collect();
                object.insert("urls".into(), serde_json::Value::Object(urls));
            }
        }
        submit(ReviseChangeRequest {
            change: integration.then_some(change),
            business_need: Some(need.get_untracked()),
        });
    };
    view! {
        <details class="revise">
            <summary>"Write a new revision"</summary>
            <form class="dialog-form" on:submit=move |ev| { ev.prevent_default(); send(); }>
                {(integration && request.change.get("name").is_some()).then(|| view! {
                    <div class="field"><label for="revise-name">"Name"</label>
                        <input id="revise-name" maxlength="100" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></div>
                })}
                {urls.into_iter().map(|(key, value)| {
                    let input_id = format!("revise-url-{key}");
                    view! {
                        <div class="field"><label for=input_id.clone()>{format!("URL {key}")}</label>
                            <input id=input_id type="url" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/></div>
                    }
                }).collect_view()}
                <div class="field"><label for="revise-need">"Why is it needed?"</label>
                    <textarea id="revise-need" rows="3" maxlength="10000" prop:value=move || need.get() on:input=move |ev| need.set(event_target_value(&ev))></textarea>
                    <p class="help">"A new revision resets earlier approvals."</p></div>
                <button type="submit" class="primary" disabled=move || busy.get()>"Submit revision"</button>
            </form>
        </details>
    }
}

#[component]
pub fn RequestView(id: String) -> impl IntoView {
    crate::set_title("Request");
    let auth = use_auth();
    let toasts = use_toasts();
    let id = StoredValue::new(id);
    let request = RwSignal::new(Loaded::<ChangeRequest>::Loading);
    let busy = RwSignal::new(false);
    let comment = RwSignal::new(String::new());
    let review_text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let load = move || {
        ui::spawn_while(busy, async move {
            match auth.check(api::get_change_request(&auth.token(), &id.get_value()).await) {
                Ok(found) => {
                    crate::set_title(&format!("Request: {}", found.kind.label()));
                    request.set(Loaded::Ready(found));
                }
                Err(err) => request.set(Loaded::Failed(err.message())),
            }
        });
    };
    load();
    // Others comment and review meanwhile: a quiet refresh while it is undecided.
    ui::every(std::time::Duration::from_secs(10), move || {
        let undecided =
            request.with_untracked(|r| matches!(r, Loaded::Ready(r) if !r.state.is_final()));
        if undecided && !busy.get_untracked() {
            load();
        }
    });

    // Runs one action; its answer is the request as it is now.
    let act = move |what: &'static str,
                    call: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<ChangeRequest, ApiError>>>,
    >| {
        busy.set(true);
        error.set(None);
        ui::spawn_while(busy, async move {
            let result = auth.check(call.await);
            busy.set(false);
            match result {
                Ok(updated) => {
                    toasts.show(what.to_owned());
                    request.set(Loaded::Ready(updated));
                }
                Err(ApiError::Problem(problem)) => {
                    let fields: Vec<String> =
                        problem.errors.iter().map(|e| e.message.clone()).collect();
                    error.set(Some(if fields.is_empty() {
                        problem.detail
                    } else {
                        fields.join(" ")
                    }));
                    load();
                }
                Err(err) => error.set(Some(err.message())),
            }
        });
    };
    let send_comment = move || {
        let body = comment.get_untracked();
        if body.trim().is_empty() {
            error.set(Some("Write a comment first.".into()));
            return;
        }
        let token = auth.token();
        let target = id.get_value();
        comment.set(String::new());
        act(
            "Comment added.",
            Box::pin(async move {
                api::comment_on_change_request(
                    &token,
                    &target,
                    &NewComment {
                        body,
                        reply_to: None,
                    },
                )
                .await
            }),
        );
    };
    let send_review = move |decision: ReviewDecision| {
        let Loaded::Ready(current) = request.get_untracked() else {
            return;
        };
        let text = review_text.get_untracked();
        let needs_comment = match decision {
            ReviewDecision::Approve => current.actions.approve.needs_comment,
            _ => true,
        };
        if needs_comment && text.trim().is_empty() {
            error.set(Some(if decision == ReviewDecision::Approve {
                "As the only administrator, write your reason in the review comment first: it is recorded with the approval.".into()
            } else {
                "Write why in the review comment first: the author reads it.".into()
            }));
            return;
        }
        let token = auth.token();
        let target = id.get_value();
        review_text.set(String::new());
        let review = NewReview {
            decision,
            revision: current.revision,
            comment: (!text.trim().is_empty()).then_some(text),
        };
        let done = match decision {
            ReviewDecision::Approve => "Approved.",
            ReviewDecision::Reject => "Rejected.",
            ReviewDecision::RequestChanges => "Changes requested.",
        };
        act(
            done,
            Box::pin(async move { api::review_change_request(&token, &target, &review).await }),
        );
    };

    view! {
        {move || match request.get() {
            Loaded::Loading => view! { <p class="state" role="status">"Loading the request…"</p> }.into_any(),
            Loaded::Failed(message) => view! {
                <h1>"Request"</h1>
                <div class="alert error" role="alert"><p>"The request could not be loaded: " {message}</p></div>
                <a href="/requests">"All requests"</a>
            }.into_any(),
            Loaded::Ready(r) => {
                let (state_text, state_class) = state_badge(r.state);
                let title = match r.kind {
                    switchboard_domain::change_request::ChangeKind::CreateIntegration => format!(
                        "New integration “{}”",
                        r.change.get("name").and_then(|n| n.as_str()).unwrap_or_default()
                    ),
                    kind => kind.label().to_owned(),
                };
                let sole = r.timeline.iter().any(|e| e.sole_administrator);
                let actions = r.actions.clone();
                let timeline = r.timeline.clone();
                view! {
                    <div class="page-head">
                        <div>
                            <p class="muted"><a href="/requests">"Requests"</a></p>
                            <h1>{title}</h1>
                        </div>
                    </div>
                    <dl class="facts">
                        <div><dt>"State"</dt><dd aria-live="polite"><span class=state_class>{state_text}</span>
                            {sole.then(|| view! { " " <span class="badge warn">"approved by the sole administrator"</span> })}</dd></div>
                        <div><dt>"Opened by"</dt><dd>{r.author.clone()}</dd></div>
                        <div><dt>"Revision"</dt><dd>{r.revision}</dd></div>
                        <div><dt>"Approvals"</dt><dd>{format!("{} of {}", r.approvals, r.approvals_required)}</dd></div>
                        <div><dt>"Expires " <span class="unit">"(UTC)"</span></dt><dd>{ui::utc(&r.expires_at)}</dd></div>
                    </dl>
                    <h2>"Why it is needed"</h2>
                    {text_block(r.business_need.clone())}
                    <h2>"Change"</h2>
                    {diff_view(r.diff.clone())}
                    <h2>"Dry run"</h2>
                    {dry_run_view(r.dry_run.clone())}
                    {permitted_button("Run dry run", "secondary", actions.dry_run.clone(), busy, move || {
                        let token = auth.token();
                        let target = id.get_value();
                        act("Dry run finished.", Box::pin(async move { api::dry_run_change_request(&token, &target).await }));
                    })}
                    <h2>"Timeline"</h2>
                    <ol class="timeline">{timeline.into_iter().map(entry_view).collect_view()}</ol>
                    {move || error.get().map(|message| view! { <div class="alert error" role="alert"><p>{message}</p></div> })}
                    <Show when=move || actions.comment.allowed>
                        <form class="comment-form" on:submit=move |ev| { ev.prevent_default(); send_comment(); }>
                            <label for="request-comment">"Comment"</label>
                            <textarea id="request-comment" rows="3" maxlength="10000"
                                prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
                            <button type="submit" class="secondary" disabled=move || busy.get()>"Add comment"</button>
                        </form>
                    </Show>
                    {actions.revise.allowed.then(|| revise_form(r.clone(), busy, move |revision| {
                        let token = auth.token();
                        let target = id.get_value();
                        let version = request.with_untracked(|r| match r { Loaded::Ready(r) => r.version, _ => 0 });
                        act("New revision written.", Box::pin(async move {
                            api::revise_change_request(&token, &target, version, &revision).await
                        }));
                    }))}
                    <h2>"Review"</h2>
                    <div class="review-form">
                        <label for="review-comment">{if r.actions.approve.needs_comment {
                            "Review comment (required: your reason is recorded with the approval)"
                        } else {
                            "Review comment (required to reject or request changes)"
                        }}</label>
                        <textarea id="review-comment" rows="2" maxlength="10000"
                            prop:value=move || review_text.get() on:input=move |ev| review_text.set(event_target_value(&ev))></textarea>
                        <div class="dialog-actions">
                            {permitted_button("Approve", "primary", r.actions.approve.clone(), busy, move || send_review(ReviewDecision::Approve))}
                            {permitted_button("Request changes", "secondary", r.actions.request_changes.clone(), busy, move || send_review(ReviewDecision::RequestChanges))}
                            {permitted_button("Reject", "danger-button", r.actions.reject.clone(), busy, move || send_review(ReviewDecision::Reject))}
                            {r.actions.withdraw.allowed.then(|| permitted_button("Withdraw", "secondary", r.actions.withdraw.clone(), busy, move || {
                                let token = auth.token();
                                let target = id.get_value();
                                act("Withdrawn.", Box::pin(async move { api::withdraw_change_request(&token, &target).await }));
                            }))}
                        </div>
                    </div>
                }.into_any()
            }
        }}
    }
}
