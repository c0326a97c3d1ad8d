//! The OpenAPI document: collected from the route registrations, then completed with what
//! every operation shares (security, the error answers).

use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use switchboard_domain::tools::APPROVED_TOOLS;
use switchboard_domain::{ErrorCode, FieldError, FieldErrorCode, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Register the organisation's approved CI/CD tools, keep their URLs and credentials safe, check that they work, see their pipelines appear by themselves, trigger runs and follow them.\n\nAuthenticate with an API token (`sbp_…` personal, `sbs_…` service account; made at `POST /api/v1/tokens` or `POST /api/v1/service-accounts/{id}/tokens`) or a session from `POST /api/v1/auth/login`, sent as `Authorization: Bearer <token>`. A token works only on the routes its scopes cover (`read`, `trigger`, `manage_integrations`, `manage_users`) and only as far as its owner's role allows. Errors are RFC 9457 `application/problem+json` documents with a machine-readable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "auth", description = "Sign-in and the current session"),
        (name = "tools", description = "The approved CI/CD tools and whether administrators allow them"),
        (name = "integrations", description = "Configured CI/CD tools with their URLs and credentials"),
        (name = "pipelines", description = "Jobs discovered in the integrations' tools, and triggering them"),
        (name = "runs", description = "Runs triggered through Switchboard, their status and logs"),
        (name = "users", description = "Accounts and roles (administrators only)"),
        (name = "tokens", description = "Your own API tokens"),
        (name = "service-accounts", description = "Identities for CI jobs and scripts, with tokens of their own (administrators only)"),
        (name = "audit", description = "The tamper-evident audit log (administrators only)"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    ),
    components(schemas(Problem, ErrorCode, FieldError, FieldErrorCode))
)]
struct ApiDoc;

/// The complete document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::collected_openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API token (`sbp_…`, `sbs_…`), or the `access_token` from `POST /api/v1/auth/login`"))
                .build(),
        ),
    );
    for (path, item) in &mut doc.paths.paths {
        for operation in operations_mut(item) {
            document_common_errors(path, operation);
            tighten_parameters(operation);
        }
    }
    // utoipa's field attributes cannot say `uniqueItems`; the server refuses repeats.
    mark_unique_items(&mut doc, "CreateTokenRequest", "scopes");
    doc
}

/// Declares that `schema.property`, an array, holds each value once.
fn mark_unique_items(doc: &mut utoipa::openapi::OpenApi, schema: &str, property: &str) {
    let Some(RefOr::T(Schema::Object(object))) = doc
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut(schema))
    else {
        return;
    };
    if let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut(property) {
        array.unique_items = true;
    }
}

/// An optional parameter is absent or a value, never the text `null`; and `tool` can only
/// name an approved tool, so clients and SDKs get the registry's ids as an enum.
fn tighten_parameters(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema else {
            continue;
        };
        if let SchemaType::Array(types) = &schema.schema_type {
            let kept: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            if let [single] = kept.as_slice() {
                schema.schema_type = SchemaType::Type(single.clone());
            }
        }
        if parameter.name == "tool" && parameter.parameter_in == ParameterIn::Query {
            schema.enum_values = Some(
                APPROVED_TOOLS
                    .iter()
                    .map(|tool| serde_json::Value::from(tool.id))
                    .collect(),
            );
        }
    }
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let mut text = doc
        .to_pretty_json()
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"));
    text.push('\n');
    text
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

fn methods_of(item: &PathItem) -> Vec<&'static str> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
    ]
    .into_iter()
    .filter(|(_, operation)| operation.is_some())
    .map(|(method, _)| method)
    .collect()
}

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn add_if_absent(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| problem_response(description));
}

/// Adds the error answers every operation of its kind can give, so clients and generated
/// SDKs see each status the server really sends.
fn document_common_errors(path: &str, operation: &mut Operation) {
    let is_api = path.starts_with("/api/v1/");
    let public = operation.security.as_ref().is_some_and(|requirements| {
        requirements.iter().all(|requirement| {
            serde_json::to_value(requirement)
                .is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
        })
    });
    let has_parameters = operation
        .parameters
        .as_ref()
        .is_some_and(|parameters| !parameters.is_empty());
    if operation.request_body.is_some() {
        add_if_absent(
            operation,
            "400",
            "The body is not valid JSON or not of the documented shape",
        );
        add_if_absent(operation, "413", "The body is larger than 64 KiB");
        add_if_absent(operation, "415", "The body is not application/json");
        add_if_absent(operation, "422", "Invalid fields");
    } else if has_parameters {
        add_if_absent(operation, "400", "A parameter is malformed");
    }
    if is_api && !public {
        add_if_absent(
            operation,
            "401",
            "No valid credentials: send `Authorization: Bearer <token>` with an API token or a session; an expired or revoked token says so in `code`",
        );
        add_if_absent(
            operation,
            "403",
            "The API token in use does not carry the scope this operation needs (`insufficient_scope`)",
        );
    }
    if is_api {
        add_if_absent(operation, "503", "The database cannot be reached");
    }
    add_if_absent(
        operation,
        "500",
        "An unexpected error; details are in the server log, never in the answer",
    );
}

/// Which methods each documented path answers, to tell 405 from 404.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<&'static str>)>,
}

impl RouteTable {
    pub fn from_spec(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                (
                    path.trim_matches('/')
                        .split('/')
                        .map(str::to_owned)
                        .collect(),
                    methods_of(item),
                )
            })
            .collect();
        Self { routes }
    }

    /// `Some("GET, POST")` when `path` is a documented route. A literal segment beats a
    /// parameter (`/integrations/test` is its own route, not `/integrations/{id}`).
    pub fn allowed_methods(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let matching: Vec<(usize, &Vec<&'static str>)> = self
            .routes
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
            })
            .map(|(template, methods)| {
                let parameters = template.iter().filter(|t| t.starts_with('{')).count();
                (parameters, methods)
            })
            .collect();
        let fewest = matching.iter().map(|(parameters, _)| *parameters).min()?;
        let mut allowed: Vec<&str> = matching
            .into_iter()
            .filter(|(parameters, _)| *parameters == fewest)
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        Some(allowed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_an_id_a_tag_and_documented_errors() {
        let doc = document();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in &doc.paths.paths {
            let mut item = item.clone();
            for operation in operations_mut(&mut item) {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(
                    id.contains('_'),
                    "{path}: operationId {id:?} is not <verb>_<resource>"
                );
                assert!(ids.insert(id.clone()), "duplicate operationId {id}");
                assert!(
                    operation.tags.as_ref().is_some_and(|tags| !tags.is_empty()),
                    "{path} {id} has no tag"
                );
                assert!(
                    operation.responses.responses.contains_key("500"),
                    "{path} {id}"
                );
            }
        }
        assert!(ids.contains("create_integration") && ids.contains("create_session"));
    }

    #[test]
    fn the_route_table_knows_methods_per_path() {
        let table = RouteTable::from_spec(&document());
        assert_eq!(
            table.allowed_methods("/api/v1/integrations").as_deref(),
            Some("GET, POST")
        );
        assert_eq!(
            table.allowed_methods("/api/v1/integrations/abc").as_deref(),
            Some("DELETE, GET, PATCH")
        );
        assert_eq!(
            table
                .allowed_methods("/api/v1/integrations/test")
                .as_deref(),
            Some("POST"),
            "the literal route wins over /integrations/{{id}}"
        );
        assert_eq!(
            table
                .allowed_methods("/api/v1/integrations/abc/sync")
                .as_deref(),
            Some("POST")
        );
        assert_eq!(table.allowed_methods("/api/v1/nothing"), None);
        assert_eq!(
            table.allowed_methods("/api/v1/integrations/abc/extra"),
            None
        );
    }
}
