//! The Switchboard web app.

mod api;
mod icons;
mod modal;
mod pages;
mod session;
mod table;
mod toast;
mod ui;

use leptos::prelude::*;
use leptos_router::components::{A, Redirect, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;
use switchboard_domain::user::Role;

use crate::icons::{BrandMark, ChevronIcon};
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
    });
    view! {
        <Router>
            <Routes fallback=|| view! { <Redirect path="/integrations"/> }>
                <Route path=path!("/login") view=pages::login::LoginPage/>
                <Route path=path!("/") view=|| view! { <Redirect path="/integrations"/> }/>
                <Route path=path!("/integrations") view=|| view! { <Shell><pages::integrations::IntegrationsPage/></Shell> }/>
                <Route path=path!("/pipelines") view=|| view! { <Shell><pages::pipelines::PipelinesPage/></Shell> }/>
                <Route path=path!("/runs") view=|| view! { <Shell><pages::runs::RunsPage/></Shell> }/>
                <Route path=path!("/runs/:id") view=|| view! { <Shell><pages::runs::RunPage/></Shell> }/>
                <Route path=path!("/admin/users") view=|| view! { <Shell admin=true><pages::users::UsersPage/></Shell> }/>
                <Route path=path!("/admin/tools") view=|| view! { <Shell admin=true><pages::tools::ToolsPage/></Shell> }/>
            </Routes>
            <ToastRegion/>
        </Router>
    }
}

/// Which menu groups are expanded; kept while moving between pages.
#[derive(Debug, Clone, Copy)]
struct MenuState {
    ci_cd: RwSignal<bool>,
    administration: RwSignal<bool>,
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
fn Shell(#[prop(optional)] admin: bool, children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    let menu = expect_context::<MenuState>();
    let current = move |path: &'static str| {
        let pathname = location.pathname.get();
        if pathname == path { Some("page") } else { None }
    };
    let children = StoredValue::new(children);

    move || match auth.session.get() {
        None => view! { <Redirect path="/login"/> }.into_any(),
        Some(session) if admin && !session.is_admin() => {
            view! { <Redirect path="/integrations"/> }.into_any()
        }
        Some(session) => {
            let is_admin = session.is_admin();
            view! {
                <div class="layout">
                    <aside class="sidebar">
                        <div class="brand">
                            <BrandMark size=28/>
                            <span>"Switchboard"</span>
                        </div>
                        <nav aria-label="Main">
                            <MenuGroup label="CI/CD" id="menu-cicd" open=menu.ci_cd>
                                <li><A href="/integrations" attr:aria-current=move || current("/integrations")>"Integrations"</A></li>
                                <li><A href="/pipelines" attr:aria-current=move || current("/pipelines")>"Pipelines"</A></li>
                                <li><A href="/runs" attr:aria-current=move || current("/runs")>"Runs"</A></li>
                            </MenuGroup>
                            <Show when=move || is_admin>
                                <MenuGroup label="Administration" id="menu-admin" open=menu.administration>
                                    <li><A href="/admin/users" attr:aria-current=move || current("/admin/users")>"Users"</A></li>
                                    <li><A href="/admin/tools" attr:aria-current=move || current("/admin/tools")>"Tools"</A></li>
                                </MenuGroup>
                            </Show>
                        </nav>
                    </aside>
                    <div class="main">
                        <header class="topbar">
                            <div class="who">
                                <span class="avatar" aria-hidden="true">{session.user.username.chars().next().unwrap_or('?').to_ascii_uppercase().to_string()}</span>
                                <span class="username">{session.user.username.clone()}</span>
                                <span class="role">{role_name(session.user.role)}</span>
                            </div>
                            <button class="secondary" on:click=move |_| auth.sign_out(None)>"Sign out"</button>
                        </header>
                        <main class="content">{children.with_value(|children| children())}</main>
                    </div>
                </div>
            }
            .into_any()
        }
    }
}
