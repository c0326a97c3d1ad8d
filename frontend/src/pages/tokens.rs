//! Profile → API tokens, and Administration → Service accounts: making a token (its value is
//! shown once, with a copy button), seeing when each was last used, and revoking it.

use leptos::prelude::*;
use switchboard_domain::FieldError;
use switchboard_domain::token::{
    ApiToken, CreateServiceAccountRequest, CreateTokenRequest, CreatedToken, DEFAULT_TOKEN_DAYS,
    Scope, ServiceAccount, TokenState, UpdateServiceAccountRequest,
};
use switchboard_domain::user::Role;

use super::integrations::Loaded;
use crate::api::{self, ApiError};
use crate::session::use_auth;
use crate::toast::use_toasts;
use crate::ui;

const EXPIRY_DAYS: [i64; 5] = [7, 30, 90, 180, 365];

fn scope_words(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "Read integrations, pipelines, runs and logs",
        Scope::Trigger => "Trigger and cancel runs, test and sync integrations",
        Scope::ManageIntegrations => "Change integrations, tools and change requests",
        Scope::ManageUsers => "Manage users, service accounts and tokens",
    }
}

fn state_badge(state: TokenState) -> impl IntoView {
    match state {
        TokenState::Active => ui::badge("Active", "badge ok"),
        TokenState::Expired => ui::badge("Expired", "badge neutral"),
        TokenState::Revoked => ui::badge("Revoked", "badge neutral"),
    }
}

/// The field errors of a failed call, or the call's message under `name`.
fn errors_of(err: ApiError) -> Vec<FieldError> {
    match err {
        ApiError::Problem(problem) if !problem.errors.is_empty() => problem.errors,
        other => switchboard_domain::ValidationErrors::single(
            "name",
            switchboard_domain::FieldErrorCode::Required,
            other.message(),
        )
        .into_errors(),
    }
}

/// A list of tokens with their last use and a Revoke button for the active ones.
#[component]
fn TokenTable(
    tokens: RwSignal<Loaded<Vec<ApiToken>>>,
    caption: &'static str,
    on_revoke: Callback<ApiToken>,
) -> impl IntoView {
    move || {
        match tokens.get() {
        Loaded::Loading => view! { <p class="state" role="status">"Loading tokens…"</p> }.into_any(),
        Loaded::Failed(message) => view! { <p class="alert error" role="alert">{message}</p> }.into_any(),
        Loaded::Ready(list) if list.is_empty() => view! { <p class="state">"No tokens yet."</p> }.into_any(),
        Loaded::Ready(list) => view! {
            <table class="data">
                <caption class="visually-hidden">{caption}</caption>
                <thead><tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Scopes"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col" class="actions">"Actions"</th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|token| {
                        let scopes = token.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                        let last_from = token.last_used_from.clone().map(|from| format!(" from {from}"));
                        let active = token.state == TokenState::Active;
                        let label = format!("Revoke {}", token.name);
                        let revoked = token.clone();
                        view! {
                            <tr>
                                <td class="name">{token.name.clone()}</td>
                                <td>{scopes}</td>
                                <td>{state_badge(token.state)}</td>
                                <td>{ui::time_view(Some(token.expires_at))}</td>
                                <td>{match token.last_used_at {
                                    Some(at) => view! { {ui::time_view(Some(at))}{last_from} }.into_any(),
                                    None => view! { <span class="muted">"Never"</span> }.into_any(),
                                }}</td>
                                <td class="actions">
                                    {active.then(|| view! {
                                        <button class="secondary small" aria-label=label
                                            on:click=move |_| on_revoke.run(revoked.clone())>"Revoke"</button>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any(),
    }
    }
}

/// The form that makes a token: a name, the scopes the owner's role can use, an expiry.
#[component]
fn NewTokenForm(
    /// The owner's role: scopes beyond it are not offered.
    role: Role,
    id_prefix: &'static str,
    errors: RwSignal<Vec<FieldError>>,
    busy: RwSignal<bool>,
    on_create: Callback<CreateTokenRequest>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(vec![Scope::Read]);
    let days = RwSignal::new(DEFAULT_TOKEN_DAYS);
    let error_for = move |field: &'static str| {
        errors.with(|errors| {
            errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone())
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = CreateTokenRequest {
            name: name.get_untracked(),
            scopes: chosen.get_untracked(),
            expires_in_days: Some(days.get_untracked()),
        };
        if let Err(invalid) = request.parse(role) {
            errors.set(invalid.into_errors());
            return;
        }
        errors.set(Vec::new());
        on_create.run(request);
        name.set(String::new());
    };
    let name_id = format!("{id_prefix}-token-name");
    let name_error_id = format!("{name_id}-error");
    let expiry_id = format!("{id_prefix}-token-expiry");
    view! {
        <form class="stacked-form" novalidate on:submit=submit>
            <div class="field" class:invalid=move || error_for("name").is_some()>
                <label for=name_id.clone()>"Token name"</label>
                <input id=name_id.clone() autocomplete="off" placeholder="e.g. deploy job"
                    aria-invalid=move || error_for("name").is_some().to_string() aria-describedby=name_error_id.clone()
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                <p class="field-error" id=name_error_id>{move || error_for("name")}</p>
            </div>
            <fieldset class="field" class:invalid=move || error_for("scopes").is_some()>
                <legend>"Scopes"</legend>
                {Scope::usable_by(role).into_iter().map(|scope| {
                    let id = format!("{id_prefix}-scope-{}", scope.as_str());
                    let label_for = id.clone();
                    view! {
                        <label class="check" for=label_for>
                            <input type="checkbox" id=id prop:checked=move || chosen.with(|c| c.contains(&scope))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    chosen.update(|c| {
                                        c.retain(|s| *s != scope);
                                        if on { c.push(scope); c.sort(); }
                                    });
                                }/>
                            <code>{scope.as_str()}</code>" — "{scope_words(scope)}
                        </label>
                    }
                }).collect_view()}
                <p class="field-error">{move || error_for("scopes")}</p>
            </fieldset>
            <div class="field">
                <label for=expiry_id.clone()>"Expires after"</label>
                <select id=expiry_id on:change=move |ev| if let Ok(value) = event_target_value(&ev).parse() { days.set(value) }>
                    {EXPIRY_DAYS.iter().map(|d| view! {
                        <option value=d.to_string() selected=move || days.get() == *d>{format!("{d} days")}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit" class="primary" aria-busy=move || busy.get().to_string()
                disabled=move || busy.get()>"Create token"</button>
        </form>
    }
}

/// The value of a token just made, shown once with a copy button.
#[component]
fn CreatedTokenPanel(created: RwSignal<Option<CreatedToken>>) -> impl IntoView {
    let toasts = use_toasts();
    move || {
        created.get().map(|made| {
            let value = made.token.clone();
            let copy = move |_| {
                let written = window().navigator().clipboard().write_text(&value);
                leptos::task::spawn_local(async move {
                    let copied = wasm_bindgen_futures::JsFuture::from(written).await.is_ok();
                    toasts.show(if copied {
                        "Copied the token.".to_owned()
                    } else {
                        "Could not copy: select the token and copy it yourself.".to_owned()
                    });
                });
            };
            view! {
                <section class="card created-token" role="status" aria-labelledby="created-token-title">
                    <h2 id="created-token-title">{format!("Token \u{201c}{}\u{201d} created", made.details.name)}</h2>
                    <p>"Copy it now: it is shown this once. Switchboard keeps only a hash of it."</p>
                    <div class="token-value">
                        <label class="visually-hidden" for="created-token-value">"The new token"</label>
                        <input id="created-token-value" readonly spellcheck="false" prop:value=made.token.clone()/>
                        <button class="primary" on:click=copy>"Copy"</button>
                    </div>
                    <button class="secondary" on:click=move |_| created.set(None)>"Done"</button>
                </section>
            }
        })
    }
}

/// Whose tokens a section lists and makes.
#[derive(Debug, Clone, PartialEq)]
enum Owner {
    /// The signed-in person.
    Me,
    /// A service account, by id (administrators).
    ServiceAccount(String),
}

impl Owner {
    async fn list(&self, token: &str) -> Result<Vec<ApiToken>, ApiError> {
        match self {
            Self::Me => api::list_tokens(token).await,
            Self::ServiceAccount(id) => api::list_service_account_tokens(token, id).await,
        }
    }

    async fn create(
        &self,
        token: &str,
        request: &CreateTokenRequest,
    ) -> Result<CreatedToken, ApiError> {
        match self {
            Self::Me => api::create_token(token, request).await,
            Self::ServiceAccount(id) => api::create_service_account_token(token, id, request).await,
        }
    }
}

/// One owner's tokens: the value of a new one (once), the list with last use and Revoke, and
/// the form that makes another.
#[component]
fn TokenSection(
    owner: Owner,
    /// The owner's role: scopes beyond it are not offered.
    role: Role,
    id_prefix: &'static str,
    caption: &'static str,
    /// Told when a token was made or revoked (the accounts list counts active tokens).
    #[prop(optional)]
    on_change: Option<Callback<()>>,
) -> impl IntoView {
    let auth = use_auth();
    let toasts = use_toasts();
    let tokens = RwSignal::new(Loaded::<Vec<ApiToken>>::Loading);
    let created = RwSignal::new(None::<CreatedToken>);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let busy = RwSignal::new(false);
    let owner = StoredValue::new(owner);
    let load = move || {
        let owner = owner.get_value();
        ui::spawn_while(tokens, async move {
            match auth.check(owner.list(&auth.token()).await) {
                Ok(list) => tokens.set(Loaded::Ready(list)),
                Err(err) => tokens.set(Loaded::Failed(err.message())),
            }
        });
    };
    load();
    let on_create = Callback::new(move |request: CreateTokenRequest| {
        busy.set(true);
        let owner = owner.get_value();
        ui::spawn_while(busy, async move {
            let result = auth.check(owner.create(&auth.token(), &request).await);
            busy.set(false);
            match result {
                Ok(made) => {
                    created.set(Some(made));
                    load();
                    if let Some(changed) = on_change {
                        changed.run(());
                    }
                }
                Err(err) => errors.set(errors_of(err)),
            }
        });
    });
    let on_revoke = Callback::new(move |token: ApiToken| {
        ui::spawn_while(tokens, async move {
            match auth.check(api::revoke_token(&auth.token(), &token.id).await) {
                Ok(()) => toasts.show(format!("Revoked {}.", token.name)),
                Err(err) => toasts.show(err.message()),
            }
            load();
            if let Some(changed) = on_change {
                changed.run(());
            }
        });
    });
    view! {
        <CreatedTokenPanel created=created/>
        <TokenTable tokens=tokens caption=caption on_revoke=on_revoke/>
        <h3>"New token"</h3>
        <NewTokenForm role=role id_prefix=id_prefix errors=errors busy=busy on_create=on_create/>
    }
}

/// Profile → API tokens: the signed-in person's own tokens.
#[component]
pub fn TokensPage() -> impl IntoView {
    crate::set_title("API tokens");
    let role = use_auth()
        .session
        .with_untracked(|s| s.as_ref().map(|s| s.user.role))
        .unwrap_or(Role::Viewer);
    view! {
        <div class="page-head">
            <div>
                <h1>"API tokens"</h1>
                <p class="muted">"Tokens let scripts call the API as you, limited to the scopes you choose and never beyond your role. Send one as "<code>"Authorization: Bearer sbp_…"</code>"."</p>
            </div>
        </div>
        <section class="card" aria-labelledby="own-tokens-title">
            <h2 id="own-tokens-title">"Your tokens"</h2>
            <TokenSection owner=Owner::Me role=role id_prefix="own" caption="Your API tokens"/>
        </section>
    }
}

/// Administration → Service accounts: identities for CI jobs and scripts, and their tokens.
#[component]
pub fn ServiceAccountsPage() -> impl IntoView {
    crate::set_title("Service accounts");
    let auth = use_auth();
    let toasts = use_toasts();
    let accounts = RwSignal::new(Loaded::<Vec<ServiceAccount>>::Loading);
    let selected = RwSignal::new(None::<ServiceAccount>);
    let load = move || {
        ui::spawn_while(accounts, async move {
            match auth.check(api::list_service_accounts(&auth.token()).await) {
                Ok(list) => accounts.set(Loaded::Ready(list)),
                Err(err) => accounts.set(Loaded::Failed(err.message())),
            }
        });
    };
    load();

    // The add form.
    let new_name = RwSignal::new(String::new());
    let new_role = RwSignal::new(Role::Viewer);
    let add_errors = RwSignal::new(Vec::<FieldError>::new());
    let adding = RwSignal::new(false);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = CreateServiceAccountRequest {
            name: new_name.get_untracked(),
            role: new_role.get_untracked(),
        };
        if let Err(errors) = request.parse() {
            add_errors.set(errors.into_errors());
            return;
        }
        add_errors.set(Vec::new());
        adding.set(true);
        ui::spawn_while(adding, async move {
            let result = auth.check(api::create_service_account(&auth.token(), &request).await);
            adding.set(false);
            match result {
                Ok(account) => {
                    toasts.show(format!("Added {}.", account.name));
                    new_name.set(String::new());
                    selected.set(Some(account));
                    load();
                }
                Err(err) => add_errors.set(
                    errors_of(err)
                        .into_iter()
                        .map(|mut e| {
                            if e.field == "name" || e.field.is_empty() {
                                e.field = "name".into();
                            }
                            e
                        })
                        .collect(),
                ),
            }
        });
    };
    let add_error = move || add_errors.with(|errors| errors.first().map(|e| e.message.clone()));

    let toggle = move |account: ServiceAccount| {
        let request = UpdateServiceAccountRequest {
            disabled: Some(!account.disabled),
            ..Default::default()
        };
        ui::spawn_while(accounts, async move {
            match auth.check(
                api::update_service_account(&auth.token(), &account.id, account.version, &request)
                    .await,
            ) {
                Ok(updated) => toasts.show(format!(
                    "{} is {}.",
                    updated.name,
                    if updated.disabled {
                        "disabled: its tokens no longer work"
                    } else {
                        "enabled"
                    }
                )),
                Err(err) => toasts.show(err.message()),
            }
            load();
        });
    };

    view! {
        <div class="page-head">
            <div>
                <h1>"Service accounts"</h1>
                <p class="muted">"Identities for CI jobs and scripts. A service account never signs in: it acts through its tokens ("<code>"sbs_…"</code>"), within its role."</p>
            </div>
        </div>
        {move || match accounts.get() {
            Loaded::Loading => view! { <p class="state" role="status">"Loading service accounts…"</p> }.into_any(),
            Loaded::Failed(message) => view! { <p class="alert error" role="alert">{message}</p> }.into_any(),
            Loaded::Ready(list) if list.is_empty() => view! { <p class="state">"No service accounts yet."</p> }.into_any(),
            Loaded::Ready(list) => view! {
                <table class="data">
                    <thead><tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Active tokens"</th>
                        <th scope="col" class="actions">"Actions"</th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|account| {
                            let (for_select, for_toggle) = (account.clone(), account.clone());
                            let toggle_label = if account.disabled { "Enable" } else { "Disable" };
                            view! {
                                <tr>
                                    <td class="name">{account.name.clone()}</td>
                                    <td>{account.role.as_str()}</td>
                                    <td>{if account.disabled { ui::badge("Disabled", "badge neutral") } else { ui::badge("Active", "badge ok") }}</td>
                                    <td>{account.active_tokens}</td>
                                    <td class="actions">
                                        <button class="secondary small" aria-label=format!("Tokens of {}", account.name)
                                            on:click=move |_| selected.set(Some(for_select.clone()))>"Tokens"</button>
                                        <button class="secondary small" aria-label=format!("{toggle_label} {}", account.name)
                                            on:click=move |_| toggle(for_toggle.clone())>{toggle_label}</button>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
        {move || selected.get().map(|account| view! { <AccountTokens account=account on_change=Callback::new(move |()| load())/> })}
        <section class="card" aria-labelledby="add-account-title">
            <h2 id="add-account-title">"Add service account"</h2>
            <form class="inline-form" novalidate on:submit=add>
                <div class="field" class:invalid=move || add_error().is_some()>
                    <label for="new-account-name">"Name"</label>
                    <input id="new-account-name" autocomplete="off" aria-invalid=move || add_error().is_some().to_string() aria-describedby="new-account-name-error"
                        prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev))/>
                    <p class="field-error" id="new-account-name-error">{add_error}</p>
                </div>
                <div class="field">
                    <label for="new-account-role">"Role"</label>
                    <select id="new-account-role" on:change=move |ev| if let Some(role) = Role::parse(&event_target_value(&ev)) { new_role.set(role) }>
                        {[Role::Viewer, Role::Operator, Role::Admin].into_iter().map(|role| view! {
                            <option value=role.as_str() selected=move || new_role.get() == role>{role.as_str()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <button type="submit" class="primary" disabled=move || adding.get()>"Add service account"</button>
            </form>
        </section>
    }
}

/// One service account's tokens, and the form that makes another.
#[component]
fn AccountTokens(account: ServiceAccount, on_change: Callback<()>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="account-tokens-title">
            <h2 id="account-tokens-title">{format!("Tokens of {}", account.name)}</h2>
            <TokenSection owner=Owner::ServiceAccount(account.id.clone()) role=account.role
                id_prefix="account" caption="Service account tokens" on_change=on_change/>
        </section>
    }
}
