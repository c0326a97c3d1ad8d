//! Sign-in.

use leptos::prelude::*;
use switchboard_domain::user::LoginRequest;

use crate::api;
use crate::icons::BrandMark;
use crate::session::{Session, use_auth};

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth();
    crate::set_title("Sign in");
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let sign_in = Action::new_local(move |request: &LoginRequest| {
        let request = request.clone();
        async move { api::create_session(&request).await }
    });
    Effect::new(move |_| match sign_in.value().get() {
        Some(Ok(response)) => auth.sign_in(Session {
            access_token: response.access_token,
            user: response.user,
        }),
        Some(Err(err)) => error.set(Some(err.message())),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        sign_in.dispatch(LoginRequest {
            username: username.get_untracked(),
            password: password.get_untracked(),
        });
    };

    move || {
        if auth.session.get().is_some() {
            crate::router::redirect("/integrations");
            return ().into_any();
        }
        view! {
            <main class="login">
                <form class="login-card" on:submit=submit>
                    <div class="brand large">
                        <BrandMark size=36/>
                        <span>"Switchboard"</span>
                    </div>
                    <h1>"Sign in"</h1>
                    <p class="muted">"Manage your organisation's CI/CD integrations."</p>
                    {move || auth.notice.get().map(|notice| view! { <p class="alert info" role="alert">{notice}</p> })}
                    {move || error.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
                    <label for="login-username">"User name"</label>
                    <input id="login-username" autocomplete="username" required
                        prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev))/>
                    <label for="login-password">"Password"</label>
                    <input id="login-password" type="password" autocomplete="current-password" required
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                    <button type="submit" class="primary" disabled=move || sign_in.pending().get()>
                        {move || if sign_in.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </form>
            </main>
        }
        .into_any()
    }
}
