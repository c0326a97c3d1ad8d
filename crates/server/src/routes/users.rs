//! `/api/v1/users`: accounts and roles, for administrators.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::Deserialize;
use switchboard_domain::Problem;
use switchboard_domain::user::{CreateUserRequest, UpdateUserRequest, User, UserPage};
use utoipa::IntoParams;

use super::{Body, etag, if_match_version, user_id};
use crate::AppState;
use crate::auth::Admin;
use crate::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListUsersParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^([0-9a-fA-F]{2})*$")]
    cursor: Option<String>,
}

/// List users, ordered by user name.
#[utoipa::path(
    tag = "users",
    params(ListUsersParams),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        (status = 403, description = "Only administrators list users", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    admin: Admin,
    state: web::Data<AppState>,
    params: web::Query<ListUsersParams>,
) -> Result<web::Json<UserPage>, ApiError> {
    let page = state
        .app
        .list_users(&admin.0.principal(), params.limit, params.cursor.as_deref())
        .await?;
    Ok(web::Json(page))
}

/// Create a user.
#[utoipa::path(
    tag = "users",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = User, headers(("Location" = String, description = "The new user's URL"), ("ETag" = String, description = "Its version"))),
        (status = 403, description = "Only administrators add users", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    admin: Admin,
    state: web::Data<AppState>,
    body: Body<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = state.app.create_user(&admin.0.principal(), body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", user.id)))
        .insert_header(header::ETag(etag(user.version)))
        .json(user))
}

/// Read one user.
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User, headers(("ETag" = String, description = "Its version"))),
        (status = 403, description = "Only administrators read users", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users/{id}")]
pub async fn get_user(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .app
        .get_user(&admin.0.principal(), &user_id(&id)?)
        .await?;
    Ok(with_etag(user))
}

fn with_etag(user: User) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(header::ETag(etag(user.version)))
        .json(user)
}

/// Change a user's role, disable or enable them, or set a new password (which ends their sessions).
#[utoipa::path(
    tag = "users",
    params(
        ("id" = String, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; the update fails with 412 if the user changed since"),
    ),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The updated user", body = User, headers(("ETag" = String, description = "Its new version"))),
        (status = 403, description = "Only administrators change users", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It would leave no enabled administrator", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed by someone else since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .app
        .update_user(
            &admin.0.principal(),
            &user_id(&id)?,
            if_match_version(&req),
            body.0,
        )
        .await?;
    Ok(with_etag(user))
}
