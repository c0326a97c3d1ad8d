//! The HTTP front: one handler that does what Jenkins' filter chain and Stapler do, in
//! Jenkins' order: authentication (401 before routing), the CSRF crumb check on POST,
//! Overall/Read, then the URL walk (`/job/a/job/b/17/...`) and the permission checks of each
//! action.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;
use tokio::sync::Notify;

use crate::auth::{AuthOutcome, Principal, authenticate};
use crate::config::{ParamConfig, Permission};
use crate::export::{Model, Sel, Tree, export};
use crate::models::{
    BuildModel, Ctx, ItemModel, QueueItemModel, QueueModel, RootModel, WhoAmI, permalink,
};
use crate::sim::{Cause, ItemId, ParamVal, ParamValue, State};

/// Characters left alone in an item name's URL segment (Jenkins' `Util.rawEncode` keeps
/// these); everything else is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

pub fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// Shared by every worker.
pub struct Shared {
    pub state: Mutex<State>,
    pub wake: Notify,
    pub context_path: String,
    pub rng: SystemRandom,
    pub session_header: String,
    /// When set, every request answers this status (see [`crate::Control::set_outage`]).
    pub outage: Mutex<Option<u16>>,
}

pub type Data = web::Data<Arc<Shared>>;

pub async fn handle(req: HttpRequest, body: web::Bytes, shared: Data) -> HttpResponse {
    let outage = shared.outage.lock().ok().and_then(|o| *o);
    if let Some(status) = outage {
        return outage_page(&req, status);
    }
    let (mut resp, wake, version) = {
        let Ok(mut st) = shared.state.lock() else {
            return HttpResponse::InternalServerError().finish();
        };
        let now = st.clock.now();
        st.advance(now);
        let mut call = Call {
            req: &req,
            body: &body,
            shared: &shared,
            now,
            wake: false,
        };
        let resp = call.dispatch(&mut st);
        (resp, call.wake, st.cfg.version.clone())
    };
    if wake {
        shared.wake.notify_one();
    }
    let headers = resp.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&version) {
        headers.insert(header::HeaderName::from_static("x-jenkins"), v);
    }
    headers.insert(
        header::HeaderName::from_static("x-hudson"),
        header::HeaderValue::from_static("1.395"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&shared.session_header) {
        headers.insert(header::HeaderName::from_static("x-jenkins-session"), v);
    }
    tracing::info!(
        method = %req.method(),
        path = %req.uri(),
        status = resp.status().as_u16(),
        "request"
    );
    resp
}

/// A failing controller (or the proxy in front of it): the status with a Jetty error page
/// and nothing else, since a broken Jenkins gets no further than its servlet container.
fn outage_page(req: &HttpRequest, status: u16) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = status.canonical_reason().unwrap_or("Server Error");
    tracing::info!(method = %req.method(), path = %req.uri(), status = status.as_u16(), "outage");
    error_page(status, req.uri().path(), message)
}

struct Call<'r> {
    req: &'r HttpRequest,
    body: &'r web::Bytes,
    shared: &'r Shared,
    now: u64,
    wake: bool,
}

type Resp = HttpResponse;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Jetty-style error page, as Jenkins sends for `sendError` and `HttpResponses.error`.
fn error_page(status: StatusCode, uri: &str, message: &str) -> Resp {
    let code = status.as_u16();
    let body = format!(
        "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n\
         <title>Error {code} {m}</title>\n</head>\n<body><h2>HTTP ERROR {code} {m}</h2>\n<table>\n\
         <tr><th>URI:</th><td>{u}</td></tr>\n<tr><th>STATUS:</th><td>{code}</td></tr>\n\
         <tr><th>MESSAGE:</th><td>{m}</td></tr>\n<tr><th>SERVLET:</th><td>Stapler</td></tr>\n\
         </table>\n</body>\n</html>\n",
        m = escape(message),
        u = escape(uri),
    );
    HttpResponseBuilder::new(status)
        .content_type("text/html;charset=utf-8")
        .body(body)
}

fn html_page(title: &str, body: &str) -> Resp {
    HttpResponse::Ok()
        .content_type("text/html;charset=utf-8")
        .body(format!(
            "<!DOCTYPE html><html><head><title>{t} [Jenkins]</title></head><body>{body}</body></html>\n",
            t = escape(title)
        ))
}

impl Call<'_> {
    fn uri(&self) -> String {
        self.req.uri().path().to_owned()
    }

    fn not_found(&self) -> Resp {
        error_page(StatusCode::NOT_FOUND, &self.uri(), "Not Found")
    }

    fn query(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(self.req.query_string()).unwrap_or_default()
    }

    /// Query parameters then form fields (as the servlet API merges them).
    fn params(&self) -> Vec<(String, String)> {
        let mut p = self.query();
        let form = self
            .req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if form {
            p.extend(
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(self.body)
                    .unwrap_or_default(),
            );
        }
        p
    }

    fn param(&self, name: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    fn root_url(&self, st: &State) -> String {
        match &st.cfg.root_url {
            Some(u) if u.ends_with('/') => u.clone(),
            Some(u) => format!("{u}/"),
            None => {
                let info = self.req.connection_info();
                format!(
                    "{}://{}{}/",
                    info.scheme(),
                    info.host(),
                    self.shared.context_path
                )
            }
        }
    }

    /// What the API models need to render for `who` at this request's time.
    fn ctx<'a>(&self, st: &'a State, who: &'a Principal) -> Ctx<'a> {
        Ctx {
            st,
            who,
            root: self.root_url(st),
            now: self.now,
        }
    }

    fn crumb(&self, st: &State, who: &Principal) -> String {
        let session = if st.cfg.csrf.session_bound() {
            self.session_cookie().unwrap_or_default()
        } else {
            String::new()
        };
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&st.secret);
        ctx.update(who.name(st).as_bytes());
        ctx.update(b";");
        ctx.update(session.as_bytes());
        hex(ctx.finish().as_ref())
    }

    fn session_cookie(&self) -> Option<String> {
        let cookies = self.req.headers().get_all(header::COOKIE);
        for value in cookies {
            let Ok(s) = value.to_str() else { continue };
            for part in s.split(';') {
                if let Some((k, v)) = part.trim().split_once('=')
                    && k.starts_with("JSESSIONID.")
                {
                    return Some(v.to_owned());
                }
            }
        }
        None
    }

    fn forbidden(&self, st: &State, who: &Principal, perm: Permission) -> Resp {
        let name = who.name(st);
        let mut b = HttpResponseBuilder::new(StatusCode::FORBIDDEN);
        b.content_type("text/html;charset=utf-8")
            .insert_header(("X-You-Are-Authenticated-As", name.to_owned()))
            .insert_header(("X-Required-Permission", perm.id()));
        if *who == Principal::Anonymous {
            // The login redirect page Jenkins shows anonymous callers.
            let from = utf8_percent_encode(&self.uri(), NON_ALPHANUMERIC).to_string();
            let login = format!("{}/login?from={from}", self.shared.context_path);
            b.body(format!(
                "<html><head><meta http-equiv='refresh' content='1;url={login}'/><script>window.location.replace('{login}');</script></head>\
                 <body style='background-color:white; color:white;'>\n\nAuthentication required\n<!--\n-->\n\n</body></html>\n"
            ))
        } else {
            b.body(format!(
                "<!DOCTYPE html><html><head><title>Access Denied [Jenkins]</title></head><body>\
                 <h1>Access Denied</h1><p>{} is missing the {} permission</p></body></html>\n",
                escape(name),
                perm.title()
            ))
        }
    }

    fn json(&self, m: &dyn Model) -> Resp {
        let params = self.query();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let value = if let Some(spec) = get("tree") {
            match Tree::parse(spec) {
                Ok(tree) => export(m, Sel::Tree(&tree)),
                Err(e) => {
                    return error_page(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &self.uri(),
                        &format!("java.lang.IllegalArgumentException: {e}"),
                    );
                }
            }
        } else {
            let depth = match get("depth").map(str::parse::<u32>) {
                None => 0,
                Some(Ok(d)) => d.min(10),
                Some(Err(_)) => {
                    return error_page(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &self.uri(),
                        "java.lang.NumberFormatException",
                    );
                }
            };
            export(m, Sel::Depth { depth, level: 0 })
        };
        let pretty = get("pretty") == Some("true");
        let body = if pretty {
            serde_json::to_string_pretty(&value)
        } else {
            serde_json::to_string(&value)
        }
        .unwrap_or_default();
        HttpResponse::Ok()
            .content_type("application/json;charset=utf-8")
            .body(body)
    }

    fn dispatch(&mut self, st: &mut State) -> Resp {
        // The context path.
        let full = self.req.uri().path().to_owned();
        let cp = self.shared.context_path.as_str();
        let path = if cp.is_empty() {
            full.as_str()
        } else if full == cp {
            "/"
        } else {
            match full.strip_prefix(cp) {
                Some(rest) if rest.starts_with('/') => rest,
                _ => return self.not_found(),
            }
        };
        // Authentication, before routing.
        let auth = self
            .req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let who = match authenticate(st, auth) {
            AuthOutcome::Ok(p) => p,
            AuthOutcome::Rejected(user) => {
                let msg = format!("Invalid password/token for user: {user}");
                let mut r = error_page(StatusCode::UNAUTHORIZED, &full, &msg);
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"Jenkins\""),
                );
                return r;
            }
        };
        // CSRF: every POST not authenticated by an API token needs a valid crumb.
        let by_token = matches!(who, Principal::User { by_token: true, .. });
        if self.req.method() == Method::POST && st.cfg.csrf.enabled() && !by_token {
            let sent = self
                .req
                .headers()
                .get("Jenkins-Crumb")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| self.param("Jenkins-Crumb"));
            if sent.as_deref() != Some(self.crumb(st, &who).as_str()) {
                return error_page(
                    StatusCode::FORBIDDEN,
                    &full,
                    "No valid crumb was included in the request",
                );
            }
        }
        let mut segs: Vec<String> = Vec::new();
        for raw in path.split('/').skip(1) {
            match percent_decode_str(raw).decode_utf8() {
                Ok(s) => segs.push(s.into_owned()),
                Err(_) => return self.not_found(),
            }
        }
        while segs.last().is_some_and(String::is_empty) {
            segs.pop();
        }
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let ctx = self.ctx(st, &who);
        // Always readable.
        if segs.first() == Some(&"whoAmI") {
            let m = WhoAmI {
                name: who.name(st).to_owned(),
                anonymous: who == Principal::Anonymous,
            };
            return match &segs[1..] {
                ["api", "json"] => self.json(&m),
                [] => html_page("Who Am I", &format!("<p>Name: {}</p>", escape(&m.name))),
                _ => self.not_found(),
            };
        }
        if !who.has_global(st, Permission::OverallRead) {
            return self.forbidden(st, &who, Permission::OverallRead);
        }
        match segs.as_slice() {
            [] => html_page("Dashboard", "<h1>Dashboard</h1>"),
            ["api", "json"] => self.json(&RootModel { ctx: &ctx }),
            ["crumbIssuer", "api", "json"] if st.cfg.csrf.enabled() => self.crumb_issuer(st, &who),
            ["queue", "api", "json"] => self.json(&QueueModel { ctx: &ctx }),
            ["queue", "cancelItem"] => self.cancel_item(st, &who),
            ["queue", "item", id, rest @ ..] => {
                let Ok(id) = id.parse::<u64>() else {
                    return self.not_found();
                };
                let model = if let Some(item) = st.queue.get(&id) {
                    QueueItemModel::Queued { ctx: &ctx, item }
                } else if let Some(left) = st.left.get(&id) {
                    QueueItemModel::Left { ctx: &ctx, left }
                } else {
                    return self.not_found();
                };
                let job = match &model {
                    QueueItemModel::Queued { item, .. } => item.job,
                    QueueItemModel::Left { left, .. } => left.item.job,
                };
                if !who.can_see(st, job) {
                    return self.not_found();
                }
                match rest {
                    ["api", "json"] => self.json(&model),
                    [] => html_page("Queue item", ""),
                    _ => self.not_found(),
                }
            }
            ["job", ..] => {
                let segs = segs.clone();
                self.item(st, &who, &segs)
            }
            _ => self.not_found(),
        }
    }

    fn crumb_issuer(&self, st: &State, who: &Principal) -> Resp {
        let mut b = HttpResponse::Ok();
        b.content_type("application/json;charset=utf-8");
        let mut crumb = self.crumb(st, who);
        if st.cfg.csrf.session_bound() && self.session_cookie().is_none() {
            let mut raw = [0u8; 16];
            if self.shared.rng.fill(&mut raw).is_ok() {
                let session = hex(&raw);
                b.insert_header((
                    header::SET_COOKIE,
                    format!(
                        "JSESSIONID.{}={session}; Path={}/; HttpOnly",
                        self.shared.session_header, self.shared.context_path
                    ),
                ));
                let mut ctx = digest::Context::new(&digest::SHA256);
                ctx.update(&st.secret);
                ctx.update(who.name(st).as_bytes());
                ctx.update(b";");
                ctx.update(session.as_bytes());
                crumb = hex(ctx.finish().as_ref());
            }
        }
        let body = serde_json::json!({
            "_class": "hudson.security.csrf.DefaultCrumbIssuer",
            "crumb": crumb,
            "crumbRequestField": "Jenkins-Crumb",
        });
        b.body(body.to_string())
    }

    fn require_post(&self) -> Option<Resp> {
        if self.req.method() == Method::POST {
            return None;
        }
        let mut r = error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            &self.uri(),
            "This URL requires POST",
        );
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        Some(r)
    }

    /// `POST /queue/cancelItem?id=N` → 204. An id not in the queue (or invisible) → 404;
    /// without Job/Cancel → 403 (Jenkins' exact answers here are not verified: docs/jenkins.md §9).
    fn cancel_item(&mut self, st: &mut State, who: &Principal) -> Resp {
        if let Some(r) = self.require_post() {
            return r;
        }
        let Some(id) = self.param("id").and_then(|s| s.parse::<u64>().ok()) else {
            return error_page(
                StatusCode::BAD_REQUEST,
                &self.uri(),
                "Missing or invalid id",
            );
        };
        let Some(job) = st.queue.get(&id).map(|q| q.job) else {
            return error_page(
                StatusCode::NOT_FOUND,
                &self.uri(),
                &format!("Provided id ({id}) not found"),
            );
        };
        if !who.can_see(st, job) {
            return error_page(
                StatusCode::NOT_FOUND,
                &self.uri(),
                &format!("Provided id ({id}) not found"),
            );
        }
        if !who.has_on(st, Permission::JobCancel, job) {
            return self.forbidden(st, who, Permission::JobCancel);
        }
        st.cancel_queue_item(id, self.now);
        self.wake = true;
        HttpResponse::NoContent().finish()
    }

    fn item(&mut self, st: &mut State, who: &Principal, segs: &[&str]) -> Resp {
        let mut cur: Option<ItemId> = None;
        let mut i = 0;
        while segs.get(i) == Some(&"job") {
            let Some(name) = segs.get(i + 1) else {
                return self.not_found();
            };
            match st.child(cur, name) {
                Some(c) if who.can_see(st, c) => cur = Some(c),
                _ => return self.not_found(),
            }
            i += 2;
        }
        let Some(id) = cur else {
            return self.not_found();
        };
        let rest = &segs[i..];
        let is_job = st.items[id].job.is_some();
        match rest {
            [] => html_page(&st.full_display_name(id), ""),
            ["api", "json"] => {
                let ctx = self.ctx(st, who);
                self.json(&ItemModel { ctx: &ctx, id })
            }
            ["build"] if is_job => self.build(st, who, id, false),
            ["buildWithParameters"] if is_job => self.build(st, who, id, true),
            [which, brest @ ..] if is_job => {
                let number = match which.parse::<u32>() {
                    Ok(n) => Some(n),
                    Err(_) => permalink(st, id, which),
                };
                let Some(number) = number else {
                    return self.not_found();
                };
                let exists = st.items[id]
                    .job
                    .as_ref()
                    .is_some_and(|j| j.builds.contains_key(&number));
                if !exists {
                    return self.not_found();
                }
                let brest: Vec<&str> = brest.to_vec();
                self.run(st, who, id, number, &brest)
            }
            _ => self.not_found(),
        }
    }

    fn run(
        &mut self,
        st: &mut State,
        who: &Principal,
        id: ItemId,
        number: u32,
        rest: &[&str],
    ) -> Resp {
        let kind = st.items[id].kind;
        let Some(build) = st.items[id]
            .job
            .as_ref()
            .and_then(|j| j.builds.get(&number))
        else {
            return self.not_found();
        };
        match rest {
            [] => html_page(&format!("{} #{number}", st.full_display_name(id)), ""),
            ["api", "json"] => {
                let ctx = self.ctx(st, who);
                self.json(&BuildModel {
                    ctx: &ctx,
                    job: id,
                    number,
                })
            }
            ["consoleText"] => HttpResponse::Ok()
                .content_type("text/plain;charset=utf-8")
                .body(build.log_at(kind, self.now)),
            ["logText", "progressiveText"] => {
                let log = build.log_at(kind, self.now);
                let log = if st.cfg.console_notes {
                    crate::sim::with_console_notes(&log)
                } else {
                    log
                }
                .into_bytes();
                let start = match self.query().into_iter().find(|(k, _)| k == "start") {
                    None => 0,
                    Some((_, v)) => match v.parse::<u64>() {
                        Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
                        Err(_) => {
                            return error_page(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                &self.uri(),
                                &format!(
                                    "java.lang.NumberFormatException: For input string: \"{v}\""
                                ),
                            );
                        }
                    },
                };
                // Stapler's LargeText: a start beyond the end means the text was rewritten.
                let start = if start > log.len() { 0 } else { start };
                let mut b = HttpResponse::Ok();
                b.content_type("text/plain;charset=utf-8")
                    .insert_header(("X-Text-Size", log.len().to_string()));
                if build.building() {
                    b.insert_header(("X-More-Data", "true"));
                }
                b.body(log[start..].to_vec())
            }
            ["stop"] => {
                if !who.has_on(st, Permission::JobCancel, id) {
                    return self.forbidden(st, who, Permission::JobCancel);
                }
                if let Some(r) = self.require_post() {
                    return r;
                }
                let by = who.full_name(st);
                st.stop_build(id, number, &by, self.now);
                self.wake = true;
                let url = format!("{}{}{number}/", self.root_url(st), st.rel_url(id));
                HttpResponse::Found()
                    .insert_header((header::LOCATION, url))
                    .finish()
            }
            _ => self.not_found(),
        }
    }

    /// `/build` and `/buildWithParameters`, in Jenkins' order of checks.
    fn build(&mut self, st: &mut State, who: &Principal, id: ItemId, with_params: bool) -> Resp {
        let full_name = st.full_name(id);
        let Some(job) = st.items[id].job.as_ref() else {
            return self.not_found();
        };
        let disabled = job.disabled;
        let defs = job.params.clone();
        let job_quiet = job.quiet_period_ms;
        let uri = self.uri();
        if !with_params && disabled {
            return error_page(
                StatusCode::CONFLICT,
                &uri,
                &format!("{full_name} is not buildable"),
            );
        }
        if !who.has_on(st, Permission::JobBuild, id) {
            return self.forbidden(st, who, Permission::JobBuild);
        }
        if let Some(r) = self.require_post() {
            return r;
        }
        if with_params && disabled {
            return error_page(
                StatusCode::CONFLICT,
                &uri,
                &format!("{full_name} is not buildable"),
            );
        }
        let params = self.params();
        let quiet_ms = match params.iter().find(|(k, _)| k == "delay") {
            None => job_quiet.unwrap_or(st.cfg.quiet_period_ms),
            Some((_, v)) => match parse_delay(v) {
                Some(ms) => ms,
                None => {
                    return error_page(
                        StatusCode::BAD_REQUEST,
                        &uri,
                        &format!("Invalid delay parameter value: {v}"),
                    );
                }
            },
        };
        let values = if with_params {
            if defs.is_empty() {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    &uri,
                    &format!("{full_name} is not parameterized"),
                );
            }
            let given: HashMap<&str, &str> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            match values_from(&defs, |n| given.get(n).map(|v| (*v).to_owned())) {
                Ok(v) => Some(v),
                Err(e) => return error_page(StatusCode::BAD_REQUEST, &uri, &e),
            }
        } else if defs.is_empty() {
            None
        } else {
            // The parameter form posts `json={"parameter":[{"name":..,"value":..}]}`.
            let Some(json) = params.iter().find(|(k, _)| k == "json").map(|(_, v)| v) else {
                return error_page(StatusCode::BAD_REQUEST, &uri, "Nothing is submitted");
            };
            let given = form_json_values(json);
            match values_from(&defs, |n| given.get(n).cloned()) {
                Ok(v) => Some(v),
                Err(e) => return error_page(StatusCode::BAD_REQUEST, &uri, &e),
            }
        };
        let cause = Cause {
            user_id: match who {
                Principal::Anonymous => None,
                Principal::User { .. } => Some(who.name(st).to_owned()),
            },
            user_name: who.full_name(st),
        };
        let qid = st.schedule(id, values, cause, quiet_ms, self.now);
        st.advance(self.now);
        self.wake = true;
        HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("{}queue/item/{qid}/", self.root_url(st)),
            ))
            .finish()
    }
}

/// `delay=0sec`, `delay=10sec`, `delay=10secs`; a bare number is taken as seconds
/// (plausible; Jenkins' `TimeDuration` parsing of bare numbers is not verified).
fn parse_delay(v: &str) -> Option<u64> {
    let v = v.trim();
    let n = v
        .strip_suffix("secs")
        .or_else(|| v.strip_suffix("sec"))
        .unwrap_or(v)
        .trim();
    n.parse::<u64>().ok().map(|s| s.saturating_mul(1000))
}

fn form_json_values(json: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Ok(v) = serde_json::from_str::<Value>(json) else {
        return out;
    };
    let list = match v.get("parameter") {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => Vec::new(),
    };
    for p in list {
        if let (Some(Value::String(name)), Some(value)) = (p.get("name"), p.get("value")) {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(name.clone(), value);
        }
    }
    out
}

/// Parameter values from what was submitted: missing ones take their defaults, unknown
/// names are ignored. A value outside a choice list is a 400 (plausible: Jenkins rejects it
/// with "Illegal choice for parameter").
fn values_from(
    defs: &[ParamConfig],
    get: impl Fn(&str) -> Option<String>,
) -> Result<Vec<ParamValue>, String> {
    defs.iter()
        .map(|d| {
            let given = get(d.name());
            let value = match d {
                ParamConfig::String { default, .. } => {
                    ParamVal::String(given.unwrap_or_else(|| default.clone()))
                }
                ParamConfig::Text { default, .. } => {
                    ParamVal::Text(given.unwrap_or_else(|| default.clone()))
                }
                ParamConfig::Password { default, .. } => {
                    ParamVal::Password(given.unwrap_or_else(|| default.clone()))
                }
                ParamConfig::Choice { choices, name, .. } => match given {
                    None => ParamVal::String(choices.first().cloned().unwrap_or_default()),
                    Some(v) if choices.contains(&v) => ParamVal::String(v),
                    Some(v) => return Err(format!("Illegal choice for parameter {name}: {v}")),
                },
                ParamConfig::Boolean { default, .. } => ParamVal::Boolean(match given {
                    None => *default,
                    Some(v) => v.eq_ignore_ascii_case("true") || v == "on",
                }),
            };
            Ok(ParamValue {
                name: d.name().to_owned(),
                value,
            })
        })
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
