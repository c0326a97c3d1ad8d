//! Passwords, session tokens and who is calling.

use std::future::{Ready, ready};
use std::path::Path;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use switchboard_domain::token::Scope;
use switchboard_domain::user::{AccountKind, Role, SessionUser};
use switchboard_store::{StoredUser, key_file};

use crate::error::ApiError;
use switchboard_app::{Origin, Principal};

const ISSUER: &str = "switchboard";
const AUDIENCE: &str = "switchboard-api";

pub use switchboard_app::passwords::{
    decoy_hash, generate_password, hash_password, random_bytes, verify_password,
};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// The user's session epoch when the token was issued.
    sep: i64,
    /// The session's own id, which signing out revokes.
    sid: String,
    iat: u64,
    exp: u64,
    iss: String,
    aud: String,
}

/// Signs and checks session tokens (HS256 only).
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl: Duration,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl,
        }
    }

    /// The configured secret, or the one in DATA_DIR/session.key (created 0600 if absent,
    /// whole or not at all, by one process at a time: see `switchboard_store::key_file`).
    pub fn load_or_create_secret(
        configured: Option<&SecretString>,
        data_dir: &Path,
    ) -> std::io::Result<SecretString> {
        if let Some(secret) = configured {
            return Ok(secret.clone());
        }
        let path = data_dir.join("session.key");
        if let Some(secret) = read_session_key(&path)? {
            return Ok(secret);
        }
        // Created under the file's lock; whoever waited finds the key the first one wrote.
        let _lock = key_file::lock(&path)?;
        if let Some(secret) = read_session_key(&path)? {
            return Ok(secret);
        }
        let bytes: [u8; 48] = random_bytes().map_err(std::io::Error::other)?;
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        key_file::write_atomically(&path, secret.as_bytes())?;
        Ok(SecretString::from(secret))
    }

    pub fn issue(&self, user: &StoredUser) -> Result<String, ApiError> {
        let now = jsonwebtoken::get_current_timestamp();
        let sid: [u8; 16] = random_bytes().map_err(ApiError::internal)?;
        let claims = Claims {
            sub: user.id.clone(),
            sep: user.session_epoch,
            sid: URL_SAFE_NO_PAD.encode(sid),
            iat: now,
            exp: now + self.ttl.as_secs(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// What a valid session token names.
    pub fn verify(&self, token: &str) -> Option<VerifiedSession> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        Some(VerifiedSession {
            user_id: claims.sub,
            epoch: claims.sep,
            expires_at: DateTime::from_timestamp(i64::try_from(claims.exp).ok()?, 0)?,
            session_id: claims.sid,
        })
    }
}

/// A session token whose signature, issuer, audience and expiry hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSession {
    pub user_id: String,
    /// The user's session epoch when it was issued.
    pub epoch: i64,
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
}

/// The session key in `path`, `None` if there is no file.
fn read_session_key(path: &Path) -> std::io::Result<Option<SecretString>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= 32 => Ok(Some(SecretString::from(text.trim().to_owned()))),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is shorter than 32 characters",
            path.display()
        ))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A signed-in session (the web app, or a script that signed in with a password).
    Session {
        id: String,
        expires_at: DateTime<Utc>,
    },
    /// An API token, with its scopes.
    Token { id: String, scopes: Vec<Scope> },
}

/// The authenticated user or service account of a request, put there by the
/// authentication middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub kind: AccountKind,
    pub credential: Credential,
    /// Where the request came from (for the audit log).
    pub origin: Origin,
}

impl Caller {
    pub fn new(user: &StoredUser, credential: Credential, mut origin: Origin) -> Self {
        origin.token_id = match &credential {
            Credential::Token { id, .. } => Some(id.clone()),
            Credential::Session { .. } => None,
        };
        Self {
            id: user.id.clone(),
            username: user.username.clone(),
            role: user.role,
            kind: user.kind,
            credential,
            origin,
        }
    }

    /// The caller as the use cases know them.
    pub fn principal(&self) -> Principal {
        Principal {
            id: self.id.clone(),
            username: self.username.clone(),
            role: self.role,
            kind: self.kind,
            origin: self.origin.clone(),
        }
    }

    /// What this credential may do: a session, all its role allows; a token, its scopes
    /// (the role still applies at every request).
    pub fn scopes(&self) -> Vec<Scope> {
        match &self.credential {
            Credential::Session { .. } => Scope::usable_by(self.role),
            Credential::Token { scopes, .. } => scopes.clone(),
        }
    }

    pub fn describe(&self) -> SessionUser {
        SessionUser {
            id: self.id.clone(),
            username: self.username.clone(),
            role: self.role,
            kind: self.kind,
            scopes: self.scopes(),
            token_id: match &self.credential {
                Credential::Token { id, .. } => Some(id.clone()),
                Credential::Session { .. } => None,
            },
        }
    }

    /// Whether the credential lets this request through to its handler; the handler's
    /// role check follows. Sessions pass; a token needs the route's scope.
    pub fn may_call(&self, needs: Needs) -> Result<(), ApiError> {
        let Credential::Token { scopes, .. } = &self.credential else {
            return Ok(());
        };
        match needs {
            Needs::Nothing => Ok(()),
            Needs::Scope(scope) if scopes.contains(&scope) => Ok(()),
            Needs::Scope(scope) => Err(ApiError::InsufficientScope(scope)),
            Needs::Session => Err(ApiError::SessionRequired),
        }
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(role))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or(ApiError::Unauthenticated(
                    "send Authorization: Bearer <token>",
                )),
        )
    }
}

/// What a route needs of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Any credential (signing out, asking who one is).
    Nothing,
    Scope(Scope),
    /// A signed-in session: tokens are refused (a password change, and any route this table
    /// does not name — a new route is closed to tokens until it is given a scope here).
    Session,
}

/// The scope each route needs of a token, by method and route pattern (as registered, with
/// the `/api/v1` prefix). Reads need `read`; running things needs `trigger`; changing
/// integrations, tools and the approval policy needs `manage_integrations`; accounts and
/// tokens need `manage_users`.
pub fn needs(method: &Method, pattern: &str) -> Needs {
    let route = pattern.strip_prefix("/api/v1").unwrap_or(pattern);
    let under = |prefix: &str| {
        route == prefix
            || route
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    match route {
        "/auth/login" | "/auth/logout" | "/auth/me" => return Needs::Nothing,
        "/auth/password" => return Needs::Session,
        _ => {}
    }
    if matches!(*method, Method::GET | Method::HEAD) {
        return Needs::Scope(Scope::Read);
    }
    match route {
        "/pipelines/{id}/runs"
        | "/runs/{id}/cancel"
        | "/integrations/{id}/test"
        | "/integrations/{id}/sync" => Needs::Scope(Scope::Trigger),
        _ if under("/users") || under("/service-accounts") || under("/tokens") => {
            Needs::Scope(Scope::ManageUsers)
        }
        _ if under("/integrations")
            || under("/tools")
            || under("/approval-policy")
            || under("/change-requests") =>
        {
            Needs::Scope(Scope::ManageIntegrations)
        }
        _ => Needs::Session,
    }
}

/// A caller with the admin role. Resolved before the body is read, so an anonymous or
/// under-privileged caller learns nothing about the body's validity.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(caller_with(req, payload, Role::Admin).map(Admin))
    }
}

/// The caller, if their role is at least `role`.
fn caller_with(req: &HttpRequest, payload: &mut Payload, role: Role) -> Result<Caller, ApiError> {
    let caller = Caller::from_request(req, payload).into_inner()?;
    caller.require(role)?;
    Ok(caller)
}

/// A caller with at least the operator role (operators and admins).
#[derive(Debug, Clone)]
pub struct Operator(pub Caller);

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(caller_with(req, payload, Role::Operator).map(Operator))
    }
}

/// A caller who may submit changes of integrations: administrators, and operators while
/// approval is on (their changes become change requests). Decided before the body is read,
/// like every role check: with approval off an operator gets 403 whatever the body.
#[derive(Debug, Clone)]
pub struct Submitter(pub Caller);

impl FromRequest for Submitter {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = caller_with(req, payload, Role::Operator);
        let state = req
            .app_data::<actix_web::web::Data<crate::AppState>>()
            .cloned();
        Box::pin(async move {
            let caller = caller?;
            if caller.role >= Role::Admin {
                return Ok(Submitter(caller));
            }
            let state = state.ok_or_else(|| ApiError::internal("no application state"))?;
            if state.app.approval_policy().await?.enabled {
                Ok(Submitter(caller))
            } else {
                Err(ApiError::Forbidden(Role::Admin))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_starting_at_once_share_one_session_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let start = std::sync::Arc::new(std::sync::Barrier::new(4));
            let starters: Vec<_> = (0..4)
                .map(|_| {
                    let (dir, start) = (dir.path().to_owned(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        SessionKeys::load_or_create_secret(None, &dir)
                            .expect("secret")
                            .expose_secret()
                            .to_owned()
                    })
                })
                .collect();
            let secrets: Vec<String> = starters
                .into_iter()
                .map(|starter| starter.join().expect("thread"))
                .collect();
            assert!(secrets.iter().all(|secret| *secret == secrets[0]));
            assert!(secrets[0].len() >= 32);
        }
    }

    #[test]
    fn routes_need_the_scope_of_what_they_do() {
        let cases = [
            (
                Method::GET,
                "/api/v1/integrations",
                Needs::Scope(Scope::Read),
            ),
            (Method::GET, "/api/v1/users", Needs::Scope(Scope::Read)),
            (
                Method::POST,
                "/api/v1/pipelines/{id}/runs",
                Needs::Scope(Scope::Trigger),
            ),
            (
                Method::POST,
                "/api/v1/runs/{id}/cancel",
                Needs::Scope(Scope::Trigger),
            ),
            (
                Method::PATCH,
                "/api/v1/integrations/{id}",
                Needs::Scope(Scope::ManageIntegrations),
            ),
            (
                Method::POST,
                "/api/v1/change-requests/{id}/reviews",
                Needs::Scope(Scope::ManageIntegrations),
            ),
            (
                Method::POST,
                "/api/v1/service-accounts/{id}/tokens",
                Needs::Scope(Scope::ManageUsers),
            ),
            (
                Method::DELETE,
                "/api/v1/tokens/{id}",
                Needs::Scope(Scope::ManageUsers),
            ),
            (Method::POST, "/api/v1/auth/logout", Needs::Nothing),
            (Method::POST, "/api/v1/auth/password", Needs::Session),
            // A prefix is a whole segment, and an unknown write is closed to tokens.
            (Method::POST, "/api/v1/usersettings", Needs::Session),
            (Method::POST, "/api/v1/something-new", Needs::Session),
        ];
        for (method, pattern, expected) in cases {
            assert_eq!(needs(&method, pattern), expected, "{method} {pattern}");
        }
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse", 1_000).expect("hash");
        assert!(hash.starts_with("pbkdf2-sha256$1000$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert_ne!(
            hash,
            hash_password("correct horse", 1_000).expect("hash"),
            "salted"
        );
        assert!(!verify_password("", &decoy_hash(1_000)));
        for broken in [
            "",
            "plain",
            "pbkdf2-sha256$0$AA==$AA==",
            "pbkdf2-sha256$x$AA==$AA==",
            "md5$1$a$b",
        ] {
            assert!(!verify_password("x", broken), "{broken}");
        }
    }

    #[test]
    fn tokens_check_signature_audience_and_expiry() {
        let keys = SessionKeys::new(&SecretString::from("k".repeat(32)), Duration::from_secs(60));
        let user = StoredUser {
            id: "u1".into(),
            username: "alice".into(),
            password_hash: String::new(),
            role: Role::Viewer,
            disabled: false,
            session_epoch: 3,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            version: 1,
            kind: AccountKind::Person,
            created_by: None,
        };
        let token = keys.issue(&user).expect("issue");
        let session = keys.verify(&token).expect("valid");
        assert_eq!((session.user_id.as_str(), session.epoch), ("u1", 3));
        assert_eq!(session.session_id.len(), 22);
        let again = keys
            .verify(&keys.issue(&user).expect("issue"))
            .expect("valid");
        assert_ne!(
            again.session_id, session.session_id,
            "each sign-in is its own session"
        );
        let other = SessionKeys::new(&SecretString::from("x".repeat(32)), Duration::from_secs(60));
        assert_eq!(other.verify(&token), None, "another key");
        let mut tampered = token.clone();
        tampered.push('x');
        assert_eq!(keys.verify(&tampered), None);

        let expired = Claims {
            sub: "u1".into(),
            sep: 3,
            sid: "s".into(),
            iat: 1,
            exp: 2,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        let expired =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &expired, &keys.encoding)
                .expect("encode");
        assert_eq!(keys.verify(&expired), None);
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            token.split('.').nth(1).unwrap_or_default()
        );
        assert_eq!(keys.verify(&none_alg), None, "alg none is refused");
    }
}
