//! Who is signed in, kept in this tab's sessionStorage so a reload stays signed in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use switchboard_domain::user::{Role, SessionUser};

use crate::api::ApiError;

const STORAGE_KEY: &str = "switchboard.session";
pub const ENDED_MESSAGE: &str = "Your session has ended. Please sign in again.";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    pub user: SessionUser,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// Operators and administrators trigger and cancel runs, test and sync integrations.
    pub fn can_operate(&self) -> bool {
        self.user.role >= Role::Operator
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// Why the last session ended, kept until the next sign-in: a reload of the sign-in page (or
/// one that raced the sign-out) still says why the user is there.
const NOTICE_KEY: &str = "switchboard.notice";

fn load_notice() -> Option<String> {
    storage()?.get_item(NOTICE_KEY).ok().flatten()
}

fn load() -> Option<Session> {
    let text = storage()?.get_item(STORAGE_KEY).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

/// The signed-in state and the message the sign-in page shows, shared by every page.
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    pub session: RwSignal<Option<Session>>,
    pub notice: RwSignal<Option<String>>,
}

impl Auth {
    pub fn new() -> Self {
        Self {
            session: RwSignal::new(load()),
            notice: RwSignal::new(load_notice()),
        }
    }

    pub fn sign_in(&self, session: Session) {
        if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(&session)) {
            let _ = storage.set_item(STORAGE_KEY, &text);
            let _ = storage.remove_item(NOTICE_KEY);
        }
        self.notice.set(None);
        self.session.set(Some(session));
    }

    pub fn sign_out(&self, notice: Option<&str>) {
        if let Some(storage) = storage() {
            let _ = storage.remove_item(STORAGE_KEY);
            let _ = match notice {
                Some(text) => storage.set_item(NOTICE_KEY, text),
                None => storage.remove_item(NOTICE_KEY),
            };
        }
        self.notice.set(notice.map(str::to_owned));
        self.session.set(None);
    }

    /// The current token, or an empty string when signed out (the call then fails with 401).
    pub fn token(&self) -> String {
        self.session.with_untracked(|session| {
            session
                .as_ref()
                .map(|s| s.access_token.clone())
                .unwrap_or_default()
        })
    }

    /// Ends the session when the server says it is no longer valid; passes the error on.
    pub fn check<T>(&self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        if let Err(err) = &result
            && err.status() == 401
        {
            self.sign_out(Some(ENDED_MESSAGE));
        }
        result
    }
}

impl Auth {
    /// Whether the signed-in user has at least the operator role (reactive).
    pub fn can_operate(&self) -> bool {
        self.session
            .with(|s| s.as_ref().is_some_and(Session::can_operate))
    }
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}
