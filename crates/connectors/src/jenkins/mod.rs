//! Jenkins: the connection check, discovery of every buildable job, and runs (trigger,
//! follow, log, cancel) — the [`Connector`] for the `jenkins` tool.
//!
//! Built to `docs/jenkins.md`: every `/api/*` answer carries `X-Jenkins`, which
//! tells Jenkins from anything else; a wrong token is 401 on every URL; a user without
//! Overall/Read gets 403 naming `hudson.model.Hudson.Read`; `/whoAmI/api/json` is always
//! readable and says whether the credentials were applied. Every answer that is not a
//! success goes through one mapping, [`refusal`], which knows what the request was about
//! (the controller, a job, a build, a queue item) so that its hint can say what to do.
//!
//! Jobs are addressed by their `full_path` (item names joined with `/`), never by the URLs
//! Jenkins exports: those are built from Jenkins' configured root URL, which behind a proxy
//! often differs from the integration URL.

mod discover;
mod recover;
mod runs;

use std::time::Instant;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::connector::{
    BoxFuture, ConnectionReport, Connector, Discovery, LogPiece, PipelineRef, RunHandle, RunState,
    Target, Unconfirmed,
};
use crate::{
    BaseUrl, Category, ConnectorError, Credentials, GuardedClient, LogMask, Method, OriginClient,
    OutboundRequest, OutboundResponse, display_url,
};
use switchboard_domain::pipeline::ParameterValue;

pub use discover::DISCOVERY_LEVELS;

/// The [`Connector`] for Jenkins. Holds no per-integration state: each call builds the
/// integration's [`OriginClient`] from its [`Target`].
#[derive(Debug, Clone)]
pub struct JenkinsConnector {
    client: GuardedClient,
}

impl JenkinsConnector {
    pub fn new(client: GuardedClient) -> Self {
        Self { client }
    }

    /// The integration's client: base URL `urls["apiUrl"]`, HTTP Basic with
    /// `fields["username"]` and `secrets["apiToken"]`.
    pub fn origin(&self, target: &Target) -> Result<OriginClient, ConnectorError> {
        let Some(raw) = target.urls.get("apiUrl") else {
            return Err(ConnectorError::new(
                Category::InvalidUrl,
                "the integration has no Jenkins URL (apiUrl)",
                "Set the Jenkins URL: the address of its root page, e.g. https://ci.example.com/jenkins/",
            ));
        };
        let base = BaseUrl::parse(raw)?;
        let Some(username) = target
            .fields
            .get("username")
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
        else {
            return Err(ConnectorError::new(
                Category::BadCredentials,
                "the integration has no Jenkins user name",
                "Set the user name of the Jenkins user whose API token the integration uses",
            ));
        };
        let Some(token) = target
            .secrets
            .get("apiToken")
            .filter(|token| !token.expose_secret().trim().is_empty())
        else {
            return Err(ConnectorError::new(
                Category::BadCredentials,
                format!("the integration has no API token for Jenkins user {username}"),
                format!(
                    "Set the API token: create one in Jenkins under People → {username} → Security → API Token"
                ),
            ));
        };
        Ok(self.client.for_origin(
            base,
            Some(Credentials::Basic {
                username: username.to_owned(),
                secret: token.clone(),
            }),
        ))
    }

    fn session(&self, target: &Target) -> Result<Session, ConnectorError> {
        let client = self.origin(target)?;
        let user = user_of(&client);
        Ok(Session { client, user })
    }
}

impl Connector for JenkinsConnector {
    fn check<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<ConnectionReport, ConnectorError>> {
        Box::pin(async move { check(&self.origin(target)?).await })
    }

    fn discover<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<Discovery, ConnectorError>> {
        Box::pin(async move { discover::discover(&self.session(target)?).await })
    }

    fn trigger<'a>(
        &'a self,
        target: &'a Target,
        pipeline: &'a PipelineRef,
        parameters: &'a std::collections::BTreeMap<String, ParameterValue>,
        run_id: &'a str,
    ) -> BoxFuture<'a, Result<RunHandle, ConnectorError>> {
        Box::pin(async move {
            runs::trigger(&self.session(target)?, pipeline, parameters, run_id).await
        })
    }

    fn find_started<'a>(
        &'a self,
        target: &'a Target,
        run: &'a Unconfirmed,
    ) -> BoxFuture<'a, Result<Vec<RunHandle>, ConnectorError>> {
        Box::pin(async move { recover::find_started(&self.session(target)?, run).await })
    }

    fn poll<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
    ) -> BoxFuture<'a, Result<RunState, ConnectorError>> {
        Box::pin(async move { runs::poll(&self.session(target)?, handle).await })
    }

    fn log<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
        offset: u64,
        mask: &'a LogMask,
    ) -> BoxFuture<'a, Result<LogPiece, ConnectorError>> {
        Box::pin(async move { runs::log(&self.session(target)?, handle, offset, mask).await })
    }

    fn cancel<'a>(
        &'a self,
        target: &'a Target,
        handle: &'a RunHandle,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move { runs::cancel(&self.session(target)?, handle).await })
    }
}

/// One call's view of an integration: its client and the user name hints mention.
struct Session {
    client: OriginClient,
    user: String,
}

impl Session {
    /// Sends a request; anything but a success becomes the [`refusal`] for `about`.
    async fn get(&self, path: &str, about: About<'_>) -> Result<OutboundResponse, ConnectorError> {
        let answer = self.send(self.client.request(Method::GET, path)?).await?;
        if answer.status().is_success() {
            Ok(answer)
        } else {
            Err(refusal(&answer, &self.user, about))
        }
    }

    /// Sends a request and returns whatever answered (for callers that treat some error
    /// statuses as information, e.g. a forgotten queue item's 404).
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, ConnectorError> {
        self.client.send(request).await
    }

    /// Sends a POST without following redirects (Jenkins answers actions with a redirect
    /// to a page, which is not worth a request and may point at Jenkins' own root URL
    /// rather than the integration's). A 403 for a missing CSRF crumb is retried once with
    /// a crumb: API tokens need none since Jenkins 2.96, but a password in the token field,
    /// or a proxy that turns the request into a session one, makes Jenkins ask for it.
    /// Answers other than 2xx and 3xx become the [`refusal`] for `about`.
    async fn post(
        &self,
        request: OutboundRequest,
        about: About<'_>,
    ) -> Result<OutboundResponse, ConnectorError> {
        let request = request.without_redirects();
        let answer = self.send(request.clone()).await?;
        let answer = if wants_crumb(&answer) {
            match self.crumb().await? {
                Some(crumb) => self.send(crumb.apply(request)?).await?,
                None => answer,
            }
        } else {
            answer
        };
        if answer.status().is_success() || answer.status().is_redirection() {
            Ok(answer)
        } else {
            Err(refusal(&answer, &self.user, about))
        }
    }

    /// The crumb to send on POSTs, or `None` when CSRF protection is off (crumbIssuer 404).
    async fn crumb(&self) -> Result<Option<Crumb>, ConnectorError> {
        let answer = self
            .send(self.client.request(Method::GET, "crumbIssuer/api/json")?)
            .await?;
        if answer.status().as_u16() == 404 {
            return Ok(None);
        }
        if !answer.status().is_success() {
            return Err(refusal(&answer, &self.user, About::Controller));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Issued {
            crumb: String,
            crumb_request_field: String,
        }
        let issued: Issued = answer.json()?;
        // A crumb bound to a web session (Jenkins ≥ 2.176.2) is only valid with that
        // session's cookie; the client keeps no cookie jar, so the cookie goes along here.
        let cookies: Vec<&str> = answer
            .headers()
            .get_all(crate::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split(';').next())
            .map(str::trim)
            .filter(|pair| pair.contains('='))
            .collect();
        Ok(Some(Crumb {
            field: issued.crumb_request_field,
            value: issued.crumb,
            cookie: (!cookies.is_empty()).then(|| cookies.join("; ")),
        }))
    }
}

struct Crumb {
    field: String,
    value: String,
    cookie: Option<String>,
}

impl Crumb {
    fn apply(&self, request: OutboundRequest) -> Result<OutboundRequest, ConnectorError> {
        let invalid = || {
            ConnectorError::generic(
                Category::Protocol,
                "Jenkins' crumb issuer answered a crumb that cannot be sent as an HTTP header",
            )
        };
        let name =
            crate::header::HeaderName::from_bytes(self.field.as_bytes()).map_err(|_| invalid())?;
        let value = crate::header::HeaderValue::from_str(&self.value).map_err(|_| invalid())?;
        let mut request = request.header(name, value);
        if let Some(cookie) = &self.cookie {
            let cookie = crate::header::HeaderValue::from_str(cookie).map_err(|_| invalid())?;
            request = request.header(crate::header::COOKIE, cookie);
        }
        Ok(request)
    }
}

fn wants_crumb(answer: &OutboundResponse) -> bool {
    answer.status().as_u16() == 403 && answer.text().contains("No valid crumb")
}

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

/// What a request was about, so that a refusal's hint fits it: a 404 for the controller's
/// API means a wrong base URL; for a job, that the job is gone or hidden.
#[derive(Debug, Clone, Copy)]
enum About<'a> {
    /// The controller itself (the check, discovery from the root, the crumb issuer).
    Controller,
    /// A job or folder, by full path.
    Job(&'a str),
    /// A build: the job's full path and the build number.
    Build(&'a str, &'a str),
    /// A queue item: the job's full path and the item id.
    QueueItem(&'a str, &'a str),
}

/// The names Jenkins shows for the permission ids of `X-Required-Permission`.
fn permission_title(id: &str) -> Option<&'static str> {
    Some(match id {
        "hudson.model.Hudson.Read" => "Overall/Read",
        "hudson.model.Hudson.Administer" => "Overall/Administer",
        "hudson.model.Item.Read" => "Job/Read",
        "hudson.model.Item.Discover" => "Job/Discover",
        "hudson.model.Item.Build" => "Job/Build",
        "hudson.model.Item.Cancel" => "Job/Cancel",
        "hudson.model.Item.Configure" => "Job/Configure",
        "hudson.model.Item.Workspace" => "Job/Workspace",
        "hudson.model.Run.Delete" => "Run/Delete",
        "hudson.model.Run.Update" => "Run/Update",
        _ => return None,
    })
}

/// What Jenkins' error page says (Jetty's `MESSAGE:` row, else the page title), short and
/// as plain text. Callers must scrub it of submitted secrets before showing it.
fn jenkins_says(answer: &OutboundResponse) -> Option<String> {
    let body = answer.text();
    let between = |start: &str, end: &str| -> Option<String> {
        let from = body.find(start)? + start.len();
        let len = body[from..].find(end)?;
        Some(body[from..from + len].to_owned())
    };
    let raw =
        between("<th>MESSAGE:</th><td>", "</td>").or_else(|| between("<title>", "</title>"))?;
    let text = raw
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    Some(if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text
    })
}

/// Whether an answer shows that Jenkins itself (not a proxy or another server) gave it.
fn speaks_as_jenkins(answer: &OutboundResponse) -> bool {
    answer.header("x-jenkins").is_some()
        || answer
            .header("www-authenticate")
            .is_some_and(|v| v.contains("Jenkins"))
}

/// A 404 for `whoAmI` from something that is not Jenkins means either a wrong path (a
/// missing context path, say) or another server altogether; what the base URL itself
/// answers tells the two apart, and that is worth one request on a failing check.
async fn missing_who_am_i(
    client: &OriginClient,
    who_am_i: &OutboundResponse,
    user: &str,
) -> ConnectorError {
    let not_found = refusal(who_am_i, user, About::Controller);
    let Ok(request) = client.request(Method::GET, "") else {
        return not_found;
    };
    match client.send(request).await {
        Ok(root) if root.status().is_success() && !speaks_as_jenkins(&root) => {
            let mut error = not_jenkins(&display_url(root.url()), "answered");
            error.hint = format!(
                "{}; if Jenkins is served under a path on this host (such as /jenkins/), include that path",
                error.hint
            );
            error
        }
        _ => not_found,
    }
}

/// Turns an answer that is not a success into the category the user can act on.
fn refusal(answer: &OutboundResponse, user: &str, about: About<'_>) -> ConnectorError {
    let url = display_url(answer.url());
    let is_jenkins = speaks_as_jenkins(answer);
    let what = match about {
        About::Controller => "Jenkins".to_owned(),
        About::Job(path) => format!("job {path}"),
        About::Build(path, number) => format!("build #{number} of {path}"),
        About::QueueItem(path, id) => format!("queue item {id} of {path}"),
    };
    match answer.status().as_u16() {
        401 => ConnectorError::new(
            Category::BadCredentials,
            format!("Jenkins refused the credentials of {user} (401 at {url})"),
            format!(
                "Jenkins rejected the API token for user {user}: create a new token under People → {user} → Security"
            ),
        ),
        403 if wants_crumb(answer) => ConnectorError::new(
            Category::Forbidden,
            format!(
                "Jenkins refused a request for {what} without a valid CSRF crumb (403 at {url})"
            ),
            "Put an API token, not a password, in the integration (requests with a token need no crumb); a proxy that drops the Jenkins-Crumb header or the session cookie also causes this",
        ),
        403 => {
            let id = answer.header("x-required-permission");
            let permission = match id {
                Some(id) => match permission_title(id) {
                    Some(title) => format!("{title} ({id})"),
                    None => id.to_owned(),
                },
                None => "a permission Jenkins did not name".to_owned(),
            };
            let short = id
                .map(|id| permission_title(id).unwrap_or(id))
                .unwrap_or("missing");
            let who = answer.header("x-you-are-authenticated-as").unwrap_or(user);
            let on = match about {
                About::Controller => String::new(),
                _ => format!(" for {what}"),
            };
            ConnectorError::new(
                Category::Forbidden,
                format!("Jenkins says {who} lacks {permission}{on} (403 at {url})"),
                format!(
                    "Give {who} the {short} permission in Jenkins (Manage Jenkins → Security, or the job's or folder's own authorization), or use a user that has it"
                ),
            )
        }
        404 => match about {
            About::Controller if is_jenkins => ConnectorError::new(
                Category::NotFound,
                format!("Jenkins answered 404 at {url}"),
                "Use the address of the Jenkins root page, including its context path (e.g. https://ci.example.com/jenkins/)",
            ),
            About::Controller => ConnectorError::new(
                Category::NotFound,
                format!("nothing answers at {url} (404)"),
                "Check the path of the Jenkins URL: it must be the Jenkins root page, including any context path such as /jenkins/",
            ),
            // After a passed check a 404 is about the item, not the base URL; Jenkins
            // answers 404 alike for a missing job and for one the user may not see.
            About::Job(path) | About::QueueItem(path, _) => ConnectorError::new(
                Category::NotFound,
                format!("Jenkins has no {what} that {user} can see (404 at {url})"),
                format!(
                    "The job {path} is gone or {user} cannot see it: sync the integration's pipelines, or give {user} Job/Read on the job and its folders"
                ),
            ),
            About::Build(path, _) => ConnectorError::new(
                Category::NotFound,
                format!("Jenkins has no {what} that {user} can see (404 at {url})"),
                format!(
                    "The build was deleted (e.g. by the job's build discarder), or the job {path} is gone or hidden from {user}"
                ),
            ),
        },
        status @ 500..=599 => ConnectorError::new(
            Category::UpstreamError,
            format!("the server answered {status} at {url}"),
            "Jenkins (or a proxy in front of it) is failing; check its logs and try again later",
        ),
        status if !is_jenkins => not_jenkins(&url, &format!("answered {status}")),
        // Jenkins' answer to building a disabled job. Not forbidden (no permission helps)
        // and not not_found (the job is there): the request does not fit the job's state,
        // which among the categories is closest to "not what the API should answer" —
        // discovery reported the job buildable, or the server would not have triggered it.
        409 => ConnectorError::new(
            Category::Protocol,
            format!(
                "Jenkins says {what} is not buildable (409 at {url}): it is disabled, or cannot be built right now"
            ),
            "Enable the job in Jenkins, then sync the integration's pipelines; Switchboard does not enable jobs",
        ),
        // Jenkins' answer to a request that does not fit the job's parameters, e.g. a
        // job whose parameters changed since the last discovery.
        400 => {
            let says = jenkins_says(answer)
                .map(|text| format!(": {text}"))
                .unwrap_or_default();
            ConnectorError::new(
                Category::Protocol,
                format!("Jenkins refused the request for {what} (400 at {url}){says}"),
                "The job's parameters have probably changed since the last sync: sync the integration's pipelines and try again",
            )
        }
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

/// Characters kept as they are in an item name's URL segment (RFC 3986's unreserved);
/// everything else is percent-encoded, `%` included, so that a branch item named
/// `feature%2Fx` is the segment `feature%252Fx`, as Jenkins expects.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `job/a/job/b/job/c/` for `a/b/c`, relative to the Jenkins root.
fn job_path(full_path: &str) -> Result<String, ConnectorError> {
    let mut path = String::new();
    for name in full_path.split('/') {
        // Jenkins refuses such item names, so a path with one cannot name a job; refusing
        // it here also keeps `..` from moving the request elsewhere under the base URL.
        if name.is_empty() || name == "." || name == ".." {
            return Err(ConnectorError::new(
                Category::NotFound,
                format!("{full_path:?} is not the path of a Jenkins job"),
                "Sync the integration's pipelines and pick the job again",
            ));
        }
        path.push_str("job/");
        path.push_str(&utf8_percent_encode(name, SEGMENT).to_string());
        path.push('/');
    }
    Ok(path)
}

/// Checks that the integration's URL is a Jenkins, that its credentials are accepted and
/// that they may read it.
pub async fn check(client: &OriginClient) -> Result<ConnectionReport, ConnectorError> {
    let started = Instant::now();
    let user = user_of(client);

    let answer = client
        .send(client.request(Method::GET, "whoAmI/api/json")?)
        .await?;
    if answer.status().as_u16() == 404 && !speaks_as_jenkins(&answer) {
        return Err(missing_who_am_i(client, &answer, &user).await);
    }
    if !answer.status().is_success() {
        return Err(refusal(&answer, &user, About::Controller));
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
        return Err(refusal(&root, &who.name, About::Controller));
    }
    Ok(ConnectionReport {
        tool_version: version,
        authenticated_as: who.name,
        permissions: vec!["Overall/Read".to_owned()],
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_paths_encode_each_name_as_one_segment() {
        assert_eq!(
            job_path("platform/deploy").expect("path"),
            "job/platform/job/deploy/"
        );
        assert_eq!(
            job_path("web-app/feature%2Fx").expect("path"),
            "job/web-app/job/feature%252Fx/"
        );
        assert_eq!(
            job_path("team a/deep job+1?").expect("path"),
            "job/team%20a/job/deep%20job%2B1%3F/"
        );
        for bad in ["", "a//b", "a/../b", "./a", "a/"] {
            assert_eq!(
                job_path(bad).expect_err(bad).category,
                Category::NotFound,
                "{bad}"
            );
        }
    }

    #[test]
    fn permission_ids_have_their_titles() {
        assert_eq!(
            permission_title("hudson.model.Item.Build"),
            Some("Job/Build")
        );
        assert_eq!(
            permission_title("hudson.model.Hudson.Read"),
            Some("Overall/Read")
        );
        assert_eq!(permission_title("org.example.Custom"), None);
    }
}
