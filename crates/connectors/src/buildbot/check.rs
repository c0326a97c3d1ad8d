//! The connection check: master versions and the user from `/config`, and a control probe
//! without side effects.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::connector::ConnectionReport;
use crate::{Category, ConnectorError, Method, display_url};

use super::*;

/// The part of Buildbot's `/config` the check reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct MasterConfig {
    #[serde(rename = "buildbotURL")]
    pub(super) buildbot_url: Option<String>,
    pub(super) versions: Vec<Vec<Value>>,
    pub(super) user: Option<ConfigUser>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ConfigUser {
    pub(super) anonymous: bool,
    pub(super) username: Option<String>,
}

impl MasterConfig {
    /// Buildbot's version from `versions` (`[["Buildbot", "4.3.0"], …]`).
    pub(super) fn buildbot_version(&self) -> Option<String> {
        self.versions
            .iter()
            .find_map(|entry| match entry.as_slice() {
                [Value::String(name), Value::String(version), ..] if name == "Buildbot" => {
                    Some(version.clone())
                }
                _ => None,
            })
    }
}

/// `GET config` as is (no cookie), checked to be Buildbot's.
pub(super) async fn master_config(
    session: &Session<'_>,
) -> Result<(MasterConfig, String), ConnectorError> {
    let answer = session
        .send_as_is(session.request(Method::GET, "config")?)
        .await?;
    if !answer.status().is_success() {
        return Err(refusal(&answer, &session.user, About::Master));
    }
    let url = display_url(answer.url());
    let config: MasterConfig = serde_json::from_slice::<Value>(answer.body())
        .ok()
        .filter(Value::is_object)
        .and_then(|value| serde_json::from_value(value).ok())
        .ok_or_else(|| not_buildbot(&url, "answered"))?;
    let version = match (config.buildbot_version(), &config.buildbot_url) {
        (Some(version), _) => version,
        // A master that hides its versions still has buildbotURL.
        (None, Some(_)) => "unknown".to_owned(),
        (None, None) => return Err(not_buildbot(&url, "answered")),
    };
    Ok((config, version))
}

/// Checks that the URL is a Buildbot, that the credentials are accepted (or that anonymous
/// access is what the integration wants), and which permissions hold.
pub(super) async fn check(session: &Session<'_>) -> Result<ConnectionReport, ConnectorError> {
    let started = Instant::now();
    let (_, version) = master_config(session).await?;

    let authenticated_as = if let Some(login) = &session.login {
        let answer = session.get("config", About::Master).await?;
        let url = display_url(answer.url());
        let config: MasterConfig = parse(&answer)?;
        let user = config.user.unwrap_or_default();
        match user.username {
            Some(name) if !user.anonymous => {
                if !name.eq_ignore_ascii_case(&login.username) {
                    return Err(ConnectorError::new(
                        Category::BadCredentials,
                        format!(
                            "Buildbot says the session belongs to {name}, not to {} (at {url})",
                            login.username
                        ),
                        format!(
                            "Set the user name Buildbot knows the user by ({name}?), or check what the master's auth maps {} to",
                            login.username
                        ),
                    ));
                }
                name
            }
            _ => {
                return Err(ConnectorError::new(
                    Category::BadCredentials,
                    format!(
                        "Buildbot treated the session as anonymous at {url}: the credentials of {} were not applied",
                        login.username
                    ),
                    "Check that the master has authentication configured (c['www']['auth']); a proxy in front of Buildbot may also drop the Cookie header",
                ));
            }
        }
    } else {
        ANONYMOUS.to_owned()
    };

    let mut permissions = Vec::new();
    session
        .get("api/v2/builders?limit=1", About::Master)
        .await?;
    permissions.push(PERMISSION_READ.to_owned());

    // authz judges a control call before looking at its method: 403 when the user may
    // not control, else 501 for a method no endpoint has. Nothing changes either way.
    let (answer, reply) = session
        .rpc_answer("api/v2/forceschedulers", PROBE_METHOD, json!({}))
        .await?;
    match answer.status().as_u16() {
        // Not supported (the expected answer) or a result: authz let the call through.
        501 | 200 => permissions.push(PERMISSION_CONTROL.to_owned()),
        // Switchboard exists to trigger and stop builds: a user who may only read is not
        // enough, and saying so at the check beats a refusal at the first Run.
        403 => {
            return Err(ConnectorError::new(
                Category::Forbidden,
                format!(
                    "Buildbot lets {authenticated_as} read but not control builds (403 at {})",
                    display_url(answer.url())
                ),
                format!(
                    "Give {authenticated_as} a role the master's authz allows to force and stop builds (c['www']['authz'] allowRules), or use a user that has one"
                ),
            ));
        }
        _ => {
            return Err(match reply.and_then(|reply| reply.error) {
                Some(error) => {
                    rpc_refusal(&answer, &error, &session.user, PROBE_METHOD, About::Master)
                }
                None => refusal(&answer, &session.user, About::Master),
            });
        }
    }

    Ok(ConnectionReport {
        tool_version: version,
        authenticated_as,
        permissions,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}
