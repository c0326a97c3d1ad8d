//! The Switchboard web app.

mod api;
mod icons;
mod modal;
mod pages;
mod router;
mod session;
mod table;
mod toast;
mod ui;

use leptos::prelude::*;
use switchboard_domain::user::Role;

use crate::icons::{BrandMark, ChevronIcon};
use crate::router::{Path, redirect, use_path};
use crate::session::{Auth, use_auth};
use crate::toast::{ToastRegion, Toasts};

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Viewer => "Viewer",
        Role::Operator => "Operator",
        Role::Admin => "Administrator",
    }
}

/// Sets the document title for the page being shown.
pub fn set_title(page: &str) {
    document().set_title(&format!("{page} · Switchboard"));
}

#[component]
fn App() -> impl IntoView {
    provide_context(Auth::new());
    provide_context(Toasts::new());
    provide_context(MenuState {
        ci_cd: RwSignal::new(true),
        administration: RwSignal::new(true),
        profile: RwSignal::new(true),
    });
    let path = Path::provide();
    let on_login = Memo::new(move |_| path.get() == "/login");
    view! {
        {move || if on_login.get() {
            view! { <pages::login::LoginPage/> }.into_any()
        } else {
            view! { <Shell/> }.into_any()
        }}
        <ToastRegion/>
    }
}

/// The page shown at `path` in the signed-in frame; unknown paths (and administration pages for
/// others) lead to the integrations.
fn page(path: &str, is_admin: bool) -> AnyView {
    match path {
        "/integrations" => view! { <pages::integrations::IntegrationsPage/> }.into_any(),
        "/pipelines" => view! { <pages::pipelines::PipelinesPage/> }.into_any(),
        "/runs" => view! { <pages::runs::RunsPage/> }.into_any(),
        "/requests" => view! { <pages::requests::RequestsPage/> }.into_any(),
        "/admin/users" if is_admin => view! { <pages::users::UsersPage/> }.into_any(),
        "/admin/service-accounts" if is_admin => {
            view! { <pages::tokens::ServiceAccountsPage/> }.into_any()
        }
        "/profile/tokens" => view! { <pages::tokens::TokensPage/> }.into_any(),
        "/admin/audit" if is_admin => view! { <pages::audit::AuditPage/> }.into_any(),
        "/admin/tools" | "/tools" => view! { <pages::tools::ToolsPage/> }.into_any(),
        _ => {
            let one = |prefix: &str| {
                path.strip_prefix(prefix)
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                    .map(str::to_owned)
            };
            if let Some(id) = one("/runs/") {
                view! { <pages::runs::RunView id=id/> }.into_any()
            } else if let Some(id) = one("/requests/") {
                view! { <pages::requests::RequestView id=id/> }.into_any()
            } else {
                redirect("/integrations");
                ().into_any()
            }
        }
    }
}

/// Which menu groups are expanded; kept while moving between pages.
#[derive(Debug, Clone, Copy)]
struct MenuState {
    ci_cd: RwSignal<bool>,
    administration: RwSignal<bool>,
    profile: RwSignal<bool>,
}

/// A collapsible group of the left-hand menu.
#[component]
fn MenuGroup(
    label: &'static str,
    id: &'static str,
    open: RwSignal<bool>,
    children: Children,
) -> impl IntoView {
    view! {
        <button class="group" aria-expanded=move || open.get().to_string() aria-controls=id
            on:click=move |_| open.update(|open| *open = !*open)>
            <ChevronIcon open=open.into()/>
            {label}
        </button>
        <ul id=id hidden=move || !open.get()>{children()}</ul>
    }
}

/// The frame of every signed-in page: the menu on the left, the user on top.
#[component]
fn Shell() -> impl IntoView {
    let auth = use_auth();
    let path = use_path();
    let menu = expect_context::<MenuState>();
    let current = move |href: &'static str| {
        let now = path.get();
        let here = now == href
            || now
                .strip_prefix(href)
                .is_some_and(|rest| rest.starts_with('/'));
        here.then_some("page")
    };

    // Requests awaiting my review (administrators), and whether approval is off.
    let awaiting = RwSignal::new(0_usize);
    let approval_off = RwSignal::new(false);
    let refresh = move || {
        let Some(session) = auth.session.get_untracked() else {
            return;
        };
        if !session.is_admin() {
            return;
        }
        leptos::task::spawn_local(async move {
            let token = session.access_token.clone();
            if let Ok(page) = api::list_change_requests(&token, "reviewable_by=me").await {
                awaiting.set(page.items.len());
            }
            if let Ok(policy) = api::approval_policy(&token).await {
                approval_off.set(!policy.enabled);
            }
        });
    };
    refresh();
    ui::every(std::time::Duration::from_secs(20), refresh);
    // Moving between pages (after an approval, say) refreshes the count at once.
    Effect::new(move |_| {
        path.get();
        refresh();
    });

    move || match auth.session.get() {
        None => {
            redirect("/login");
            ().into_any()
        }
        Some(session) => {
            let is_admin = session.is_admin();
            let can_operate = session.can_operate();
            view! {
                <div class="layout">
                    <aside class="sidebar">
                        <div class="brand">
                            <BrandMark size=28/>
                            <span>"Switchboard"</span>
                        </div>
                        <nav aria-label="Main">
                            <MenuGroup label="CI/CD" id="menu-cicd" open=menu.ci_cd>
                                <li><a href="/integrations" aria-current=move || current("/integrations")>"Integrations"</a></li>
                                <li><a href="/pipelines" aria-current=move || current("/pipelines")>"Pipelines"</a></li>
                                <li><a href="/runs" aria-current=move || current("/runs")>"Runs"</a></li>
                                <li><a href="/requests" aria-current=move || current("/requests")>"Requests"
                                    {move || (awaiting.get() > 0).then(|| view! {
                                        " " <span class="count" aria-label=format!("{} awaiting your review", awaiting.get())>{awaiting.get()}</span>
                                    })}</a></li>
                                // Operators propose tools there; administrators reach it under Administration.
                                <Show when=move || !is_admin && can_operate>
                                    <li><a href="/tools" aria-current=move || current("/tools")>"Tools"</a></li>
                                </Show>
                            </MenuGroup>
                            <Show when=move || is_admin>
                                <MenuGroup label="Administration" id="menu-admin" open=menu.administration>
                                    <li><a href="/admin/users" aria-current=move || current("/admin/users")>"Users"</a></li>
                                    <li><a href="/admin/service-accounts" aria-current=move || current("/admin/service-accounts")>"Service accounts"</a></li>
                                    <li><a href="/admin/audit" aria-current=move || current("/admin/audit")>"Audit log"</a></li>
                                    <li><a href="/admin/tools" aria-current=move || current("/admin/tools")>"Tools"</a></li>
                                </MenuGroup>
                            </Show>
                            <MenuGroup label="Profile" id="menu-profile" open=menu.profile>
                                <li><a href="/profile/tokens" aria-current=move || current("/profile/tokens")>"API tokens"</a></li>
                            </MenuGroup>
                        </nav>
                    </aside>
                    <div class="main">
                        <header class="topbar">
                            <div class="who">
                                <span class="avatar" aria-hidden="true">{session.user.username.chars().next().unwrap_or('?').to_ascii_uppercase().to_string()}</span>
                                <span class="username">{session.user.username.clone()}</span>
                                <span class="role">{role_name(session.user.role)}</span>
                            </div>
                            <button class="secondary" on:click=move |_| {
                                // The session ends on the server too; the app forgets it at once
                                // either way.
                                let token = auth.token();
                                auth.sign_out(None);
                                leptos::task::spawn_local(async move {
                                    let _ = api::sign_out(&token).await;
                                });
                            }>"Sign out"</button>
                        </header>
                        {move || (is_admin && approval_off.get()).then(|| view! {
                            <div class="alert warning banner" role="status">
                                <p>"Approval is off: new integrations and changes of URLs or secrets apply without prior discussion and approval. Turn it on under Administration → Tools."</p>
                            </div>
                        })}
                        <main class="content">{move || page(&path.get(), is_admin)}</main>
                    </div>
                </div>
            }
            .into_any()
        }
    }
}
