//! `/api/v1/audit-events`: reading, exporting and verifying the audit log (administrators).

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use switchboard_app::ListAudit;
use switchboard_domain::Problem;
use switchboard_domain::audit::{AuditOutcome, AuditPage, AuditVerification};
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Admin;
use crate::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditFilters {
    /// The actor's name or id.
    #[param(max_length = 200)]
    actor: Option<String>,
    /// The action, e.g. `token.created`.
    #[param(max_length = 200)]
    action: Option<String>,
    /// The target's id or name.
    #[param(max_length = 200)]
    target: Option<String>,
    outcome: Option<AuditOutcome>,
    /// Entries at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
}

/// The longest text filter (actor, action, target) the log is searched with.
const FILTER_MAX_CHARS: usize = 200;

/// Refuses a text filter longer than documented.
fn bounded(filters: [(&str, &Option<String>); 3]) -> Result<(), ApiError> {
    match filters.iter().find(|(_, value)| {
        value
            .as_ref()
            .is_some_and(|v| v.chars().count() > FILTER_MAX_CHARS)
    }) {
        Some((name, _)) => Err(ApiError::InvalidParameter(format!(
            "{name} is longer than {FILTER_MAX_CHARS} characters"
        ))),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListAuditParams {
    /// The actor's name or id.
    #[param(max_length = 200)]
    actor: Option<String>,
    /// The action, e.g. `token.created`.
    #[param(max_length = 200)]
    action: Option<String>,
    /// The target's id or name.
    #[param(max_length = 200)]
    target: Option<String>,
    outcome: Option<AuditOutcome>,
    /// Entries at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,18}$")]
    cursor: Option<String>,
}

/// The audit log, newest first, filtered. No entry ever holds a secret value.
#[utoipa::path(
    tag = "audit",
    params(ListAuditParams),
    responses(
        (status = 200, description = "One page of entries", body = AuditPage),
        (status = 403, description = "Only administrators read the audit log", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    admin: Admin,
    state: web::Data<AppState>,
    params: web::Query<ListAuditParams>,
) -> Result<web::Json<AuditPage>, ApiError> {
    let params = params.into_inner();
    bounded([
        ("actor", &params.actor),
        ("action", &params.action),
        ("target", &params.target),
    ])?;
    let request = ListAudit {
        actor: params.actor,
        action: params.action,
        target: params.target,
        outcome: params.outcome,
        since: params.since,
        until: params.until,
        limit: params.limit,
        cursor: params.cursor,
    };
    let page = state.app.list_audit(&admin.0.principal(), request).await?;
    Ok(web::Json(page))
}

/// An NDJSON body fed by a task that reads the log in batches: the export never holds more
/// than a few batches in memory, however long the log.
struct NdjsonBody(tokio::sync::mpsc::Receiver<Bytes>);

impl MessageBody for NdjsonBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.0.poll_recv(cx).map(|line| line.map(Ok))
    }
}

/// The whole audit log as NDJSON (one entry per line, oldest first), for an archive or a
/// SIEM. The filters are those of the list.
#[utoipa::path(
    tag = "audit",
    params(AuditFilters),
    responses(
        (status = 200, description = "Every matching entry, one JSON object per line", body = String, content_type = "application/x-ndjson"),
        (status = 403, description = "Only administrators read the audit log", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit-events/export")]
pub async fn export_audit_events(
    admin: Admin,
    state: web::Data<AppState>,
    params: web::Query<AuditFilters>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin.0.principal();
    let filters = params.into_inner();
    bounded([
        ("actor", &filters.actor),
        ("action", &filters.action),
        ("target", &filters.target),
    ])?;
    // The first batch is read before answering, so a refusal is still a problem answer.
    let first = state.app.audit_after(&principal, 0).await?;
    let (lines, receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let mut batch = first;
        while let Some(last) = batch.last().map(|event| event.seq) {
            let mut chunk = Vec::new();
            for event in batch.iter().filter(|event| matches(&filters, event)) {
                if serde_json::to_writer(&mut chunk, event).is_ok() {
                    chunk.push(b'\n');
                }
            }
            if !chunk.is_empty() && lines.send(Bytes::from(chunk)).await.is_err() {
                return; // The client went away.
            }
            batch = match state.app.audit_after(&principal, last).await {
                Ok(next) => next,
                Err(err) => {
                    tracing::error!(error = %err, "the audit export stopped early");
                    return;
                }
            };
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(NdjsonBody(receiver)))
}

/// Whether `event` passes the export's filters (the list applies them in the database).
fn matches(filters: &AuditFilters, event: &switchboard_domain::audit::AuditEvent) -> bool {
    let is = |wanted: &Option<String>, values: [Option<&str>; 2]| {
        wanted
            .as_deref()
            .is_none_or(|wanted| values.contains(&Some(wanted)))
    };
    is(
        &filters.actor,
        [Some(&event.actor), event.actor_id.as_deref()],
    ) && is(&filters.action, [Some(&event.action), None])
        && is(
            &filters.target,
            [event.target_id.as_deref(), event.target.as_deref()],
        )
        && filters
            .outcome
            .is_none_or(|outcome| outcome == event.outcome)
        && filters.since.is_none_or(|since| event.at >= since)
        && filters.until.is_none_or(|until| event.at < until)
}

/// Walks the hash chain from the first entry and reports the first broken link: an edited,
/// inserted or deleted entry.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, description = "Whether the chain holds, and where it first breaks", body = AuditVerification),
        (status = 403, description = "Only administrators verify the audit log", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit-events/verify")]
pub async fn verify_audit_events(
    admin: Admin,
    state: web::Data<AppState>,
) -> Result<web::Json<AuditVerification>, ApiError> {
    Ok(web::Json(
        state.app.verify_audit(&admin.0.principal()).await?,
    ))
}
