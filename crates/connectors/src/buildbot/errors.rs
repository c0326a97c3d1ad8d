//! Buildbot's refusals turned into connector errors whose hints fit what the request was
//! about, keeping Buildbot's own words.

use serde_json::Value;

use crate::{Category, ConnectorError, OutboundResponse, display_url};

use super::*;

/// What a request was about, so that a refusal's hint fits it.
#[derive(Debug, Clone, Copy)]
pub(super) enum About<'a> {
    /// The master itself (the check, discovery).
    Master,
    /// `auth/login`.
    Login,
    /// A builder, by name.
    Builder(&'a str),
    /// A build request: the builder's name and the request id.
    BuildRequest(&'a str, &'a str),
    /// A build: the builder's name and the build id.
    Build(&'a str, &'a str),
}

impl About<'_> {
    pub(super) fn what(&self) -> String {
        match self {
            About::Master | About::Login => "Buildbot".to_owned(),
            About::Builder(name) => format!("builder {name}"),
            About::BuildRequest(name, id) => format!("build request {id} of builder {name}"),
            About::Build(name, id) => format!("build {id} of builder {name}"),
        }
    }
}

/// Buildbot's own words in an error answer (`{"error": "..."}`), short.
pub(super) fn buildbot_says(answer: &OutboundResponse) -> Option<String> {
    let value: Value = serde_json::from_slice(answer.body()).ok()?;
    let error = value.get("error")?;
    let text = match error {
        Value::String(text) => text.clone(),
        Value::Object(object) => object.get("message").map(message_text)?,
        other => other.to_string(),
    };
    Some(shorten(&text))
}

/// A JSON-RPC error message as one line: text as is, an object of per-parameter errors
/// as `name: error; …`.
pub(super) fn message_text(message: &Value) -> String {
    match message {
        Value::String(text) => text.clone(),
        Value::Object(fields) => fields
            .iter()
            .map(|(name, error)| match error {
                Value::String(text) => format!("{name}: {text}"),
                other => format!("{name}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(super) fn shorten(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 300 {
        let cut: String = text.chars().take(300).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The role in Buildbot's `you need to have role 'admins'`.
pub(super) fn role_in(text: &str) -> Option<&str> {
    let (_, after) = text.split_once("role '")?;
    let (role, _) = after.split_once('\'')?;
    Some(role)
}

pub(super) fn forbidden(
    user: &str,
    anonymous: bool,
    doing: &str,
    says: Option<&str>,
    url: &str,
) -> ConnectorError {
    let role = says.and_then(role_in);
    let reason = says.map(|s| format!(": {s}")).unwrap_or_default();
    let hint = match (anonymous, role) {
        (true, Some(role)) => format!(
            "Anonymous users may not do this: set the user name and password of a Buildbot user with role '{role}'"
        ),
        (true, None) => "Anonymous users may not do this: set the user name and password of a Buildbot user who may".to_owned(),
        (false, Some(role)) => format!(
            "Give {user} the role '{role}' in the master's authz configuration (c['www']['authz'] role matchers), or use a user that has it"
        ),
        (false, None) => format!(
            "Allow {user} this in the master's authz configuration (c['www']['authz']), or use a user that may"
        ),
    };
    ConnectorError::new(
        Category::Forbidden,
        format!("Buildbot does not let {user} {doing}{reason} (403 at {url})"),
        hint,
    )
}

/// Turns a plain API answer that is not a success into the category the user can act on.
pub(super) fn refusal(answer: &OutboundResponse, user: &str, about: About<'_>) -> ConnectorError {
    let url = display_url(answer.url());
    let says = buildbot_says(answer);
    let anonymous = user == ANONYMOUS;
    match answer.status().as_u16() {
        401 => ConnectorError::new(
            Category::BadCredentials,
            format!(
                "Buildbot (or a proxy in front of it) refused the request of {user} (401 at {url})"
            ),
            format!(
                "Check the user name and password of {user}; a proxy in front of Buildbot may want credentials of its own"
            ),
        ),
        403 => forbidden(
            user,
            anonymous,
            &format!("read {}", about.what()),
            says.as_deref(),
            &url,
        ),
        404 => match about {
            About::Master | About::Login => {
                let hint = if answer.url().path().contains("/api/v2/") {
                    "Use Buildbot's root URL (the web UI's address), without /api/v2"
                } else {
                    "Use Buildbot's root URL: the address of its web UI, e.g. https://buildbot.example.com/ (with its path, if Buildbot is served under one)"
                };
                let hint = if matches!(about, About::Login) {
                    format!(
                        "{hint}; if this Buildbot has no authentication, leave the password empty"
                    )
                } else {
                    hint.to_owned()
                };
                ConnectorError::new(
                    Category::NotFound,
                    format!("nothing answers at {url} (404)"),
                    hint,
                )
            }
            About::Builder(name) => ConnectorError::new(
                Category::NotFound,
                format!("Buildbot has no builder {name} (404 at {url})"),
                format!(
                    "The builder {name} was removed from the master's configuration: sync the integration's pipelines"
                ),
            ),
            About::BuildRequest(..) | About::Build(..) => ConnectorError::new(
                Category::NotFound,
                format!("Buildbot has no {} (404 at {url})", about.what()),
                "The master's database no longer has it (a new database, or its history was cleaned): the run cannot be followed further",
            ),
        },
        status @ 500..=599 => ConnectorError::new(
            Category::UpstreamError,
            format!(
                "the server answered {status} at {url}{}",
                says.map(|s| format!(": {s}")).unwrap_or_default()
            ),
            "Buildbot (or a proxy in front of it) is failing; check the master's twistd.log and try again later",
        ),
        status if says.is_some() => ConnectorError::generic(
            Category::Protocol,
            format!(
                "Buildbot answered {status} at {url}: {}",
                says.unwrap_or_default()
            ),
        ),
        status => not_buildbot(&url, &format!("answered {status}")),
    }
}

/// Turns a JSON-RPC error into the category the user can act on.
pub(super) fn rpc_refusal(
    answer: &OutboundResponse,
    error: &RpcError,
    user: &str,
    method: &str,
    about: About<'_>,
) -> ConnectorError {
    let url = display_url(answer.url());
    let says = shorten(&message_text(&error.message));
    let code = error.code.unwrap_or_default();
    let what = about.what();
    let doing = match method {
        "force" => format!("start a build of {what}"),
        "stop" => format!("stop {what}"),
        "cancel" => format!("cancel {what}"),
        other => format!("call {other} on {what}"),
    };
    match (answer.status().as_u16(), code) {
        (403, _) => forbidden(user, user == ANONYMOUS, &doing, Some(&says), &url),
        (401, _) => refusal(answer, user, about),
        (400, -32602) => {
            let names = match &error.message {
                Value::Object(fields) => fields.keys().cloned().collect::<Vec<_>>().join(", "),
                _ => String::new(),
            };
            let which = if names.is_empty() {
                String::new()
            } else {
                format!(" ({names})")
            };
            ConnectorError::new(
                Category::Protocol,
                format!("Buildbot refused the parameters{which} to {doing}: {says} (400 at {url})"),
                "The force scheduler's parameters have probably changed since the last sync: sync the integration's pipelines and try again",
            )
        }
        // Buildbot's answer when the builder or the force scheduler named is gone: it
        // fails looking it up (`'NoneType' object …`).
        (500, -32603) if says.contains("NoneType") => ConnectorError::new(
            Category::NotFound,
            format!("Buildbot could not find {what} to {method} ({says}; 500 at {url})"),
            "The builder or its force scheduler was removed from the master's configuration: sync the integration's pipelines",
        ),
        (status @ 500..=599, _) => ConnectorError::new(
            Category::UpstreamError,
            format!("Buildbot failed to {doing}: {says} ({status} at {url})"),
            "Buildbot (or a proxy in front of it) is failing; check the master's twistd.log and try again later",
        ),
        (404, _) => refusal(answer, user, about),
        (status, _) => ConnectorError::new(
            Category::Protocol,
            format!("Buildbot refused to {doing}: {says} ({status} at {url})"),
            "This Buildbot does not take the request as Buildbot 4 does; check its version (Switchboard supports 4.x)",
        ),
    }
}

pub(super) fn not_buildbot(url: &str, what: &str) -> ConnectorError {
    ConnectorError::new(
        Category::NotThatTool,
        format!("something {what} at {url}, but it is not Buildbot"),
        "Check that the URL points at Buildbot's web UI root (where /config and /api/v2 are), not at another service or a login page in front of it",
    )
}
