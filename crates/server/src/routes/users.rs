//! `/api/v1/users`: accounts and roles, for administrators.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::Deserialize;
use switchboard_domain::Problem;
use switchboard_domain::user::{CreateUserRequest, UpdateUserRequest, User, UserPage};
use switchboard_store::UserChange;
use utoipa::IntoParams;

use super::{Body, blocking, decode_cursor, encode_cursor, etag, if_match_version, page_size};
use crate::AppState;
use crate::auth::{Admin, hash_password};
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

fn not_found(err: ApiError) -> ApiError {
    match err {
        ApiError::NotFound(_) => ApiError::NotFound("user"),
        other => other,
    }
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
    _admin: Admin,
    state: web::Data<AppState>,
    params: web::Query<ListUsersParams>,
) -> Result<web::Json<UserPage>, ApiError> {
    let limit = page_size(params.limit)?;
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let store = state.store.clone();
    let (users, more) = blocking(move || Ok(store.list_users(limit, after.as_deref())?)).await?;
    let next_cursor = if more {
        users.last().map(|user| encode_cursor(&user.username))
    } else {
        None
    };
    Ok(web::Json(UserPage {
        items: users.iter().map(|user| user.to_api()).collect(),
        next_cursor,
    }))
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
    let new_user = body.parse().map_err(ApiError::Validation)?;
    let iterations = state.password_iterations;
    let store = state.store.clone();
    let name = new_user.username.as_str().to_owned();
    let user = blocking(move || {
        let hash = hash_password(new_user.password.expose(), iterations)?;
        Ok(store.create_user(new_user.username.as_str(), &hash, new_user.role)?)
    })
    .await
    .map_err(|err| match err {
        ApiError::NameTaken(_) => ApiError::NameTaken(format!("the user name {name:?} is taken")),
        other => other,
    })?;
    tracing::info!(user = %user.username, role = %user.role, by = %admin.0.username, "user created");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", user.id)))
        .insert_header(header::ETag(etag(user.version)))
        .json(user.to_api()))
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
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let user = blocking(move || store.find_user(&id)?.ok_or(ApiError::NotFound("user"))).await?;
    Ok(with_etag(user.to_api()))
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
    let expected = if_match_version(&req);
    let patch = body.parse().map_err(ApiError::Validation)?;
    let iterations = state.password_iterations;
    let store = state.store.clone();
    let user = blocking(move || {
        let password_hash = patch
            .password
            .as_ref()
            .map(|password| hash_password(password.expose(), iterations))
            .transpose()?;
        Ok(store.update_user(
            &id,
            UserChange {
                role: patch.role,
                disabled: patch.disabled,
                password_hash,
            },
            expected,
        )?)
    })
    .await
    .map_err(not_found)?;
    tracing::info!(user = %user.username, role = %user.role, disabled = user.disabled, by = %admin.0.username, "user changed");
    Ok(with_etag(user.to_api()))
}
