//! Jenkins: the connection check (who am I, which Jenkins, may I read it).
//!
//! Built to `shared/reference/jenkins.md`: every `/api/*` answer carries `X-Jenkins`, which
//! tells Jenkins from anything else; a wrong token is 401 on every URL; a user without
//! Overall/Read gets 403 naming `hudson.model.Hudson.Read`; `/whoAmI/api/json` is always
//! readable and says whether the credentials were applied.

use std::time::Instant;

use serde::Deserialize;

use crate::{
    Category, ConnectionReport, ConnectorError, Credentials, Method, OriginClient,
    OutboundResponse, display_url,
};

#[derive(Debug, Deserialize)]
struct WhoAmI {
    #[serde(default)]
    anonymous: bool,
    #[serde(default)]
    authenticated: bool,
    #[serde(default)]
    name: String,
}

fn user_of(client: &OriginClient) -> String {
    match client.credentials() {
        Some(Credentials::Basic { username, .. }) => username.clone(),
        _ => "the configured user".to_owned(),
    }
}

/// Turns an answer that is not a success into the category the user can act on.
fn refusal(answer: &OutboundResponse, user: &str) -> ConnectorError {
    let url = display_url(answer.url());
    let is_jenkins = answer.header("x-jenkins").is_some()
        || answer
            .header("www-authenticate")
            .is_some_and(|v| v.contains("Jenkins"));
    match answer.status().as_u16() {
        401 => ConnectorError::new(
            Category::BadCredentials,
            format!("Jenkins refused the credentials of {user} (401 at {url})"),
            format!(
                "Jenkins rejected the API token for user {user}: create a new token under People → {user} → Security"
            ),
        ),
        403 => {
            let permission = answer
                .header("x-required-permission")
                .unwrap_or("a permission Jenkins did not name");
            let who = answer.header("x-you-are-authenticated-as").unwrap_or(user);
            ConnectorError::new(
                Category::Forbidden,
                format!("Jenkins says {who} lacks {permission} (403 at {url})"),
                format!(
                    "Give {who} the {permission} permission in Jenkins (Manage Jenkins → Security), or use a user that has it"
                ),
            )
        }
        404 if is_jenkins => ConnectorError::new(
            Category::NotFound,
            format!("Jenkins answered 404 at {url}"),
            "Use the address of the Jenkins root page, including its context path (e.g. https://ci.example.com/jenkins/)",
        ),
        404 => ConnectorError::new(
            Category::NotFound,
            format!("nothing answers at {url} (404)"),
            "Check the path of the Jenkins URL: it must be the Jenkins root page, including any context path such as /jenkins/",
        ),
        status @ 500..=599 => ConnectorError::new(
            Category::UpstreamError,
            format!("the server answered {status} at {url}"),
            "Jenkins (or a proxy in front of it) is failing; check its logs and try again later",
        ),
        status if !is_jenkins => not_jenkins(&url, &format!("answered {status}")),
        status => ConnectorError::generic(
            Category::Protocol,
            format!("Jenkins answered {status} at {url}, which it should not"),
        ),
    }
}

fn not_jenkins(url: &str, what: &str) -> ConnectorError {
    ConnectorError::new(
        Category::NotThatTool,
        format!("something {what} at {url}, but it is not Jenkins (no X-Jenkins header)"),
        "Check that the URL points at Jenkins itself, not at another service or a login page in front of it",
    )
}

/// Checks that the integration's URL is a Jenkins, that its credentials are accepted and
/// that they may read it.
pub async fn check(client: &OriginClient) -> Result<ConnectionReport, ConnectorError> {
    let started = Instant::now();
    let user = user_of(client);

    let answer = client
        .send(client.request(Method::GET, "whoAmI/api/json")?)
        .await?;
    if !answer.status().is_success() {
        return Err(refusal(&answer, &user));
    }
    let url = display_url(answer.url());
    let Some(version) = answer.header("x-jenkins").map(str::to_owned) else {
        return Err(not_jenkins(&url, "answered"));
    };
    let who: WhoAmI = answer
        .json()
        .map_err(|err| err.with_category(Category::Protocol))?;
    if who.anonymous || !who.authenticated {
        return Err(ConnectorError::new(
            Category::BadCredentials,
            format!(
                "Jenkins treated the request as anonymous at {url}: the credentials of {user} were not applied"
            ),
            "Check the user name and API token; a proxy in front of Jenkins may also strip the Authorization header",
        ));
    }

    // whoAmI is readable without Overall/Read; the root page is not.
    let root = client
        .send(client.request(Method::GET, "api/json?tree=mode")?)
        .await?;
    if !root.status().is_success() {
        return Err(refusal(&root, &who.name));
    }
    Ok(ConnectionReport {
        tool_version: version,
        authenticated_as: who.name,
        permissions: vec!["Overall/Read".to_owned()],
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}
