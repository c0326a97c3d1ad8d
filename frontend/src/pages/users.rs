//! Administration → Users.

use leptos::prelude::*;

use crate::ui;
use switchboard_domain::ValidationErrors;
use switchboard_domain::user::{CreateUserRequest, Role, UpdateUserRequest, User};

use super::integrations::Loaded;
use crate::api::{self, ApiError};
use crate::session::use_auth;
use crate::toast::use_toasts;

const ROLES: [(Role, &str); 3] = [
    (Role::Viewer, "Viewer"),
    (Role::Operator, "Operator"),
    (Role::Admin, "Admin"),
];

#[component]
pub fn UsersPage() -> impl IntoView {
    crate::set_title("Users");
    let auth = use_auth();
    let toasts = use_toasts();
    let users = RwSignal::new(Loaded::<Vec<User>>::Loading);
    let row_error = RwSignal::new(None::<String>);

    let load = move || {
        ui::spawn_while(users, async move {
            match auth.check(api::list_users(&auth.token()).await) {
                Ok(list) => users.set(Loaded::Ready(list)),
                Err(err) => users.set(Loaded::Failed(err.message())),
            }
        });
    };
    load();

    let replace = move |updated: User| {
        users.update(|loaded| {
            if let Loaded::Ready(list) = loaded
                && let Some(existing) = list.iter_mut().find(|u| u.id == updated.id)
            {
                *existing = updated;
            }
        });
    };
    let change = move |user: User, request: UpdateUserRequest, done: String| {
        row_error.set(None);
        ui::spawn_while(users, async move {
            match auth
                .check(api::update_user(&auth.token(), &user.id, user.version, &request).await)
            {
                Ok(updated) => {
                    replace(updated);
                    toasts.show(done);
                }
                Err(err) => {
                    row_error.set(Some(err.message()));
                    load();
                }
            }
        });
    };

    // The add form.
    let new_name = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let new_role = RwSignal::new(Role::Viewer);
    let form_errors = RwSignal::new(Vec::<switchboard_domain::FieldError>::new());
    let adding = RwSignal::new(false);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = CreateUserRequest {
            username: new_name.get_untracked(),
            password: new_password.get_untracked(),
            role: new_role.get_untracked(),
        };
        if let Err(errors) = request.parse() {
            form_errors.set(errors.into_errors());
            return;
        }
        form_errors.set(Vec::new());
        adding.set(true);
        ui::spawn_while(adding, async move {
            let result = auth.check(api::create_user(&auth.token(), &request).await);
            adding.set(false);
            match result {
                Ok(user) => {
                    toasts.show(format!("Added {}.", user.username));
                    new_name.set(String::new());
                    new_password.set(String::new());
                    users.update(|loaded| {
                        if let Loaded::Ready(list) = loaded {
                            list.push(user);
                            list.sort_by(|a, b| a.username.cmp(&b.username));
                        }
                    });
                }
                Err(ApiError::Problem(problem)) if !problem.errors.is_empty() => {
                    form_errors.set(problem.errors)
                }
                Err(err) => form_errors.set(
                    ValidationErrors::single(
                        "username",
                        switchboard_domain::FieldErrorCode::Taken,
                        err.message(),
                    )
                    .into_errors(),
                ),
            }
        });
    };
    let error_for = move |field: &'static str| {
        form_errors.with(|errors| {
            errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone())
        })
    };

    view! {
        <div class="page-head">
            <div>
                <h1>"Users"</h1>
                <p class="muted">"Viewers read; operators also run pipelines; administrators manage integrations, users and tools."</p>
            </div>
        </div>
        {move || row_error.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
        {move || match users.get() {
            Loaded::Loading => view! { <p class="state" role="status">"Loading users…"</p> }.into_any(),
            Loaded::Failed(message) => view! { <p class="alert error" role="alert">{message}</p> }.into_any(),
            Loaded::Ready(list) => view! {
                <table class="data">
                    <thead><tr>
                        <th scope="col">"User name"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="actions">"Actions"</th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|user| {
                            let role_label = format!("Role for {}", user.username);
                            let toggle_label = if user.disabled { format!("Enable {}", user.username) } else { format!("Disable {}", user.username) };
                            let select_id = format!("role-{}", user.id);
                            let (for_role, for_toggle) = (user.clone(), user.clone());
                            view! {
                                <tr>
                                    <td class="name">{user.username.clone()}</td>
                                    <td>
                                        <label class="visually-hidden" for=select_id.clone()>{role_label}</label>
                                        <select id=select_id on:change=move |ev| {
                                            let Some(role) = Role::parse(&event_target_value(&ev)) else { return };
                                            let user = for_role.clone();
                                            let done = format!("{} is now {}.", user.username, role.as_str());
                                            change(user, UpdateUserRequest { role: Some(role), ..Default::default() }, done);
                                        }>
                                            {ROLES.iter().map(|(role, label)| view! {
                                                <option value=role.as_str() selected=*role == user.role>{*label}</option>
                                            }).collect_view()}
                                        </select>
                                    </td>
                                    <td>{if user.disabled { view! { <span class="badge neutral">"Disabled"</span> } } else { view! { <span class="badge ok">"Active"</span> } }}</td>
                                    <td class="actions">
                                        <button class="secondary small" on:click=move |_| {
                                            let user = for_toggle.clone();
                                            let disabled = !user.disabled;
                                            let done = format!("{} is {}.", user.username, if disabled { "disabled" } else { "enabled" });
                                            change(user, UpdateUserRequest { disabled: Some(disabled), ..Default::default() }, done);
                                        }>{toggle_label}</button>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
        <section class="card" aria-labelledby="add-user-title">
            <h2 id="add-user-title">"Add user"</h2>
            <form class="inline-form" novalidate on:submit=add>
                <div class="field" class:invalid=move || error_for("username").is_some()>
                    <label for="new-user-name">"User name"</label>
                    <input id="new-user-name" autocomplete="off" aria-invalid=move || error_for("username").is_some().to_string() aria-describedby="new-user-name-error"
                        prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev))/>
                    <p class="field-error" id="new-user-name-error">{move || error_for("username")}</p>
                </div>
                <div class="field" class:invalid=move || error_for("password").is_some()>
                    <label for="new-user-password">"Password"</label>
                    <input id="new-user-password" type="password" autocomplete="new-password" aria-invalid=move || error_for("password").is_some().to_string() aria-describedby="new-user-password-error"
                        prop:value=move || new_password.get() on:input=move |ev| new_password.set(event_target_value(&ev))/>
                    <p class="field-error" id="new-user-password-error">{move || error_for("password")}</p>
                </div>
                <div class="field">
                    <label for="new-user-role">"Role"</label>
                    <select id="new-user-role" on:change=move |ev| if let Some(role) = Role::parse(&event_target_value(&ev)) { new_role.set(role) }>
                        {ROLES.iter().map(|(role, label)| view! { <option value=role.as_str() selected=move || new_role.get() == *role>{*label}</option> }).collect_view()}
                    </select>
                </div>
                <button type="submit" class="primary" disabled=move || adding.get()>"Add user"</button>
            </form>
        </section>
    }
}
