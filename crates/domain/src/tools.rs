//! The approved-tool registry: the only CI/CD tools an integration may point at.
//!
//! The server validates every integration against this table and the web app renders its
//! form from it (through `GET /api/v1/tools`), so supporting a new tool starts here.

use serde::{Deserialize, Serialize};

/// Something a tool's connector can do for its integrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Find the tool's pipelines by itself.
    Discover,
    /// Start a run.
    Trigger,
    /// Start a run with parameters.
    Parameters,
    /// Read a run's log.
    Logs,
    /// Stop a running run.
    Cancel,
}

/// How Switchboard authenticates to the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuthScheme {
    /// HTTP Basic with a user name and an API token.
    BasicApiToken,
    /// A user name and password exchanged for a session.
    SessionLogin,
}

/// One input of a tool's form: a URL key or a credential field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The key in `urls` or `credentials` (e.g. `apiUrl`, `apiToken`).
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub placeholder: &'static str,
    pub required: bool,
    /// Secret fields are write-only: sealed at rest and never returned.
    pub secret: bool,
}

/// One approved CI/CD tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub url_fields: &'static [FieldSpec],
    pub credential_fields: &'static [FieldSpec],
    pub auth_schemes: &'static [AuthScheme],
    pub capabilities: &'static [Capability],
}

impl ToolSpec {
    pub fn credential_field(&self, key: &str) -> Option<&'static FieldSpec> {
        self.credential_fields.iter().find(|field| field.key == key)
    }

    pub fn url_field(&self, key: &str) -> Option<&'static FieldSpec> {
        self.url_fields.iter().find(|field| field.key == key)
    }

    /// The URL the tool is reached at: its first declared URL field.
    pub fn main_url_key(&self) -> &'static str {
        self.url_fields.first().map_or("apiUrl", |field| field.key)
    }
}

pub const JENKINS: ToolSpec = ToolSpec {
    id: "jenkins",
    name: "Jenkins",
    description: "Jenkins automation server: jobs, folders and multibranch pipelines over its remote-access API.",
    url_fields: &[FieldSpec {
        key: "apiUrl",
        label: "Jenkins URL",
        help: "The address of the Jenkins root page, including its context path if it has one (e.g. https://ci.example.com/jenkins/).",
        placeholder: "https://jenkins.example.com/",
        required: true,
        secret: false,
    }],
    credential_fields: &[
        FieldSpec {
            key: "username",
            label: "User name",
            help: "The Jenkins user the API token belongs to.",
            placeholder: "alice",
            required: true,
            secret: false,
        },
        FieldSpec {
            key: "apiToken",
            label: "API token",
            help: "Create one in Jenkins under People → your user → Security → API Token.",
            placeholder: "",
            required: true,
            secret: true,
        },
    ],
    auth_schemes: &[AuthScheme::BasicApiToken],
    capabilities: &[
        Capability::Discover,
        Capability::Trigger,
        Capability::Parameters,
        Capability::Logs,
        Capability::Cancel,
    ],
};

pub const BUILDBOT: ToolSpec = ToolSpec {
    id: "buildbot",
    name: "Buildbot",
    description: "Buildbot masters: builders and force schedulers over the REST API v2.",
    url_fields: &[FieldSpec {
        key: "apiUrl",
        label: "Buildbot URL",
        help: "The address of the Buildbot web interface (e.g. https://buildbot.example.com/).",
        placeholder: "https://buildbot.example.com/",
        required: true,
        secret: false,
    }],
    credential_fields: &[
        FieldSpec {
            key: "username",
            label: "User name",
            help: "A Buildbot user allowed to force builds. Leave empty if the master allows anonymous access.",
            placeholder: "admin",
            required: false,
            secret: false,
        },
        FieldSpec {
            key: "password",
            label: "Password",
            help: "The password of that Buildbot user.",
            placeholder: "",
            required: false,
            secret: true,
        },
    ],
    auth_schemes: &[AuthScheme::SessionLogin],
    capabilities: &[
        Capability::Discover,
        Capability::Trigger,
        Capability::Parameters,
        Capability::Logs,
        Capability::Cancel,
    ],
};

/// Every approved tool, in the order the web app offers them.
pub const APPROVED_TOOLS: &[ToolSpec] = &[JENKINS, BUILDBOT];

pub fn find_tool(id: &str) -> Option<&'static ToolSpec> {
    APPROVED_TOOLS.iter().find(|tool| tool.id == id)
}

/// A form field as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolField {
    #[cfg_attr(feature = "openapi", schema(example = "apiToken"))]
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(example = "API token"))]
    pub label: String,
    pub help: String,
    pub placeholder: String,
    pub required: bool,
    pub secret: bool,
}

impl From<&FieldSpec> for ToolField {
    fn from(field: &FieldSpec) -> Self {
        Self {
            key: field.key.to_owned(),
            label: field.label.to_owned(),
            help: field.help.to_owned(),
            placeholder: field.placeholder.to_owned(),
            required: field.required,
            secret: field.secret,
        }
    }
}

/// An approved tool with its form schema and whether administrators allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tool {
    #[cfg_attr(feature = "openapi", schema(example = "jenkins"))]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(example = "Jenkins"))]
    pub name: String,
    pub description: String,
    /// Switched-off tools are refused when an integration is created.
    pub enabled: bool,
    pub url_fields: Vec<ToolField>,
    pub credential_fields: Vec<ToolField>,
    pub auth_schemes: Vec<AuthScheme>,
    pub capabilities: Vec<Capability>,
    /// The version of the administrators' setting for this tool (0 until first set); also the
    /// `ETag`. Send it back as `If-Match` to change only the setting you read.
    pub version: i64,
}

impl Tool {
    pub fn from_spec(spec: &ToolSpec, setting: ToolSetting) -> Self {
        Self {
            id: spec.id.to_owned(),
            name: spec.name.to_owned(),
            description: spec.description.to_owned(),
            enabled: setting.enabled,
            version: setting.version,
            url_fields: spec.url_fields.iter().map(ToolField::from).collect(),
            credential_fields: spec.credential_fields.iter().map(ToolField::from).collect(),
            auth_schemes: spec.auth_schemes.to_vec(),
            capabilities: spec.capabilities.to_vec(),
        }
    }
}

/// The administrators' setting for one approved tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolSetting {
    pub enabled: bool,
    /// 0 until an administrator first sets it.
    pub version: i64,
}

impl Default for ToolSetting {
    /// An approved tool nobody has switched yet: on.
    fn default() -> Self {
        Self {
            enabled: true,
            version: 0,
        }
    }
}

/// `GET /api/v1/tools`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolList {
    pub items: Vec<Tool>,
}

/// `PATCH /api/v1/tools/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateToolRequest {
    pub enabled: bool,
    /// Why, when switching a tool on while approval is on (it becomes a change request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_need: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tool_ids_and_field_keys_are_unique() {
        let ids: HashSet<_> = APPROVED_TOOLS.iter().map(|tool| tool.id).collect();
        assert_eq!(ids.len(), APPROVED_TOOLS.len());
        for tool in APPROVED_TOOLS {
            let url_keys: HashSet<_> = tool.url_fields.iter().map(|f| f.key).collect();
            assert_eq!(url_keys.len(), tool.url_fields.len(), "{}", tool.id);
            let cred_keys: HashSet<_> = tool.credential_fields.iter().map(|f| f.key).collect();
            assert_eq!(cred_keys.len(), tool.credential_fields.len(), "{}", tool.id);
            assert!(
                tool.url_field("apiUrl").is_some_and(|f| f.required),
                "{}",
                tool.id
            );
            assert!(
                tool.url_fields.iter().all(|f| !f.secret),
                "URLs are never secret"
            );
        }
    }

    #[test]
    fn jenkins_needs_a_user_and_a_secret_token() {
        let jenkins = find_tool("jenkins").expect("jenkins is approved");
        let token = jenkins.credential_field("apiToken").expect("apiToken");
        assert!(token.required && token.secret);
        let user = jenkins.credential_field("username").expect("username");
        assert!(user.required && !user.secret);
    }

    #[test]
    fn buildbot_password_is_secret_and_optional() {
        let buildbot = find_tool("buildbot").expect("buildbot is approved");
        let password = buildbot.credential_field("password").expect("password");
        assert!(password.secret && !password.required);
        assert!(find_tool("gitlab").is_none());
    }
}
