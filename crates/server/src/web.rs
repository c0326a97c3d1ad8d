//! The web app (the Trunk build in `SWITCHBOARD_WEB_DIR`), served from memory.
//!
//! Every file of the directory is read once at start, with its entity tag and, where it
//! pays, a gzip copy, so a request costs a hash-map lookup. A Brotli copy made by the build
//! (`frontend/precompress.mjs`: `<file>.<entity tag>.br`, quality 11, too slow to make at
//! every start) is sent instead to clients that accept `br`; one whose tag does not match
//! its file is left over from another build and ignored. Paths under `/api/` and the
//! operations endpoints never reach this module; any other GET or HEAD gets the file it
//! names or, for deep links such as `/integrations`, `index.html`.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;

use crate::AppState;
use crate::error::ApiError;

/// Trunk puts a content hash in every file name but `index.html`.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `index.html` names the current hashed files, so browsers check it every time.
const NO_CACHE: &str = "no-cache";
/// A web directory larger than this is not a Trunk build; refuse it rather than hold it in memory.
const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
const MAX_FILES: usize = 2_000;
/// Files smaller than this are sent as they are: gzip would save next to nothing.
const MIN_GZIP_BYTES: usize = 256;

const INDEX: &str = "index.html";

/// Paths the app's files may not take: the API and the operations endpoints.
const RESERVED: [&str; 4] = ["/api", "/healthz", "/readyz", "/metrics"];

/// The extensions of files a page loads. A missing one answers 404 rather than
/// `index.html`, which a browser would otherwise try to run as a script or style sheet.
const ASSET_EXTENSIONS: [&str; 20] = [
    "br",
    "js",
    "mjs",
    "wasm",
    "css",
    "map",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "svg",
    "ico",
    "webp",
    "woff",
    "woff2",
    "ttf",
    "json",
    "txt",
    "xml",
    "webmanifest",
];

/// Why the web directory cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum WebDirError {
    #[error("SWITCHBOARD_WEB_DIR {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "SWITCHBOARD_WEB_DIR {} has no index.html; point it at the web app's build output (frontend/dist, made by `just web`)",
        .0.display()
    )]
    NoIndex(PathBuf),
    #[error(
        "SWITCHBOARD_WEB_DIR {}: index.html is not UTF-8 text",
        .0.display()
    )]
    IndexNotText(PathBuf),
    #[error(
        "SWITCHBOARD_WEB_DIR {} holds more than {MAX_FILES} files or {} MiB; is it the web app's build output?",
        .0.display(),
        MAX_TOTAL_BYTES / (1024 * 1024)
    )]
    TooLarge(PathBuf),
}

/// One file, ready to send.
#[derive(Debug)]
struct Asset {
    content_type: HeaderValue,
    cache_control: HeaderValue,
    identity: Bytes,
    etag: HeaderValue,
    /// The gzip copy and its entity tag, when gzip makes the file smaller.
    gzip: Option<(Bytes, HeaderValue)>,
    /// The build's Brotli copy and its entity tag, when there is one for this very file.
    brotli: Option<(Bytes, HeaderValue)>,
}

/// The web app's files and the headers they are served with.
#[derive(Debug)]
pub struct WebApp {
    /// By path relative to the web directory, `/`-separated, without a leading `/`.
    files: HashMap<String, Asset>,
    content_security_policy: HeaderValue,
}

impl WebApp {
    /// Reads every regular file under `dir`. Symbolic links are followed only when they stay
    /// inside `dir`; hidden files and directories (`.git`, `.stage`) are left out.
    pub fn load(dir: &Path) -> Result<Self, WebDirError> {
        let read_error = |path: &Path| {
            let path = path.to_owned();
            move |source| WebDirError::Read { path, source }
        };
        let root = fs::canonicalize(dir).map_err(read_error(dir))?;
        let index_path = root.join(INDEX);
        if !index_path.is_file() {
            return Err(WebDirError::NoIndex(dir.to_owned()));
        }
        let mut found = Vec::new();
        let mut total_bytes = 0;
        collect_files(&root, &root, &mut found, &mut total_bytes, dir)?;
        // Brotli copies are not files of their own: each goes with the file it was made of.
        let (copies, found): (Vec<_>, Vec<_>) = found
            .into_iter()
            .partition(|(relative, _)| relative.ends_with(".br"));
        let copies: HashMap<String, PathBuf> = copies.into_iter().collect();
        let mut files = HashMap::with_capacity(found.len());
        let mut index_text = None;
        for (relative, path) in found {
            let bytes = fs::read(&path).map_err(read_error(&path))?;
            let tag = entity_tag(&bytes);
            let brotli = match copies.get(&format!("{relative}.{tag}.br")) {
                Some(copy) => Some(fs::read(copy).map_err(read_error(copy))?),
                None => None,
            };
            if relative == INDEX {
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| WebDirError::IndexNotText(dir.to_owned()))?;
                index_text = Some(text.to_owned());
            }
            let asset = Asset::new(&relative, bytes, &tag, brotli);
            files.insert(relative, asset);
        }
        let index_text = index_text.ok_or_else(|| WebDirError::NoIndex(dir.to_owned()))?;
        let content_security_policy = HeaderValue::from_str(&content_security_policy(&index_text))
            .expect("the policy is ASCII: keywords and base64");
        Ok(Self {
            files,
            content_security_policy,
        })
    }

    /// How many files are served (for the start-up log).
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// The answer for a request outside the API, or `None` when the path belongs to the API
    /// or the operations endpoints (which keep their own 404 and 405 answers).
    pub fn answer(&self, req: &HttpRequest) -> Option<Result<HttpResponse, ApiError>> {
        let raw_path = req.uri().path();
        if is_reserved(raw_path) {
            return None;
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Some(Err(ApiError::MethodNotAllowed {
                allow: "GET, HEAD".to_owned(),
            }));
        }
        let not_found = || Some(Err(ApiError::NotFound("file")));
        let Some(relative) = decode_path(raw_path) else {
            return not_found();
        };
        // Decoding may have made a reserved path out of an encoded one (`/%61pi/...`).
        if is_reserved(&format!("/{relative}")) {
            return not_found();
        }
        let asset = match self.files.get(&relative) {
            Some(asset) => asset,
            None if looks_like_asset(&relative) => return not_found(),
            None => self.files.get(INDEX)?,
        };
        Some(Ok(self.respond(req, asset)))
    }

    fn respond(&self, req: &HttpRequest, asset: &Asset) -> HttpResponse {
        let accept = req.headers().get(header::ACCEPT_ENCODING);
        // The smallest copy the client takes: Brotli, then gzip, then the file itself.
        let encoded = asset
            .brotli
            .as_ref()
            .filter(|_| accepts(accept, "br"))
            .map(|(body, etag)| (body, etag, "br"))
            .or_else(|| {
                asset
                    .gzip
                    .as_ref()
                    .filter(|_| accepts(accept, "gzip"))
                    .map(|(body, etag)| (body, etag, "gzip"))
            });
        let (body, etag) = match encoded {
            Some((body, etag, _)) => (body, etag),
            None => (&asset.identity, &asset.etag),
        };
        let not_modified = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|tags| none_match_fails(tags, etag));
        let mut response = if not_modified {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        response
            .insert_header((header::CACHE_CONTROL, asset.cache_control.clone()))
            .insert_header((header::ETAG, etag.clone()))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                self.content_security_policy.clone(),
            ))
            .insert_header((
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .insert_header((
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ));
        if asset.gzip.is_some() || asset.brotli.is_some() {
            response.insert_header((header::VARY, HeaderValue::from_static("accept-encoding")));
        }
        if not_modified {
            return response.finish();
        }
        if let Some((_, _, coding)) = encoded {
            response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static(coding)));
        }
        response
            .insert_header((header::CONTENT_TYPE, asset.content_type.clone()))
            .body(body.clone())
    }
}

/// The default service: the web app's files and pages when a web directory is configured,
/// otherwise (and always for the API) 404 for unknown routes and 405 for known ones.
pub(crate) async fn fallback(
    req: HttpRequest,
    state: actix_web::web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(answer) = state.web.as_ref().and_then(|web| web.answer(&req)) {
        return answer;
    }
    crate::routes::fallback(req, state).await
}

impl Asset {
    /// `tag` is the entity tag of `bytes`; `brotli`, the build's Brotli copy of them.
    fn new(relative: &str, bytes: Vec<u8>, tag: &str, brotli: Option<Vec<u8>>) -> Self {
        let content_type = content_type(relative);
        let cache_control = if relative == INDEX {
            NO_CACHE
        } else {
            IMMUTABLE
        };
        let bytes_len = bytes.len();
        let gzip = compressible(content_type)
            .then(|| gzip(&bytes))
            .flatten()
            .filter(|compressed| compressed.len() < bytes.len())
            .map(|compressed| {
                (
                    Bytes::from(compressed),
                    header_value(&format!("\"{tag}-gzip\"")),
                )
            });
        Self {
            content_type: HeaderValue::from_static(content_type),
            cache_control: HeaderValue::from_static(cache_control),
            identity: Bytes::from(bytes),
            etag: header_value(&format!("\"{tag}\"")),
            gzip,
            brotli: brotli
                .filter(|compressed| compressed.len() < bytes_len)
                .map(|compressed| {
                    (
                        Bytes::from(compressed),
                        header_value(&format!("\"{tag}-br\"")),
                    )
                }),
        }
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("entity tags are base64url")
}

/// Every regular file under `dir`, as (relative `/`-separated path, absolute path).
fn collect_files(
    root: &Path,
    dir: &Path,
    found: &mut Vec<(String, PathBuf)>,
    total_bytes: &mut u64,
    configured: &Path,
) -> Result<(), WebDirError> {
    let read_error = |path: &Path| {
        let path = path.to_owned();
        move |source| WebDirError::Read { path, source }
    };
    let mut entries = fs::read_dir(dir)
        .map_err(read_error(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error(dir))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links, then keeps only what resolves inside the root.
        let Ok(resolved) = fs::canonicalize(&path) else {
            continue;
        };
        if !resolved.starts_with(root) {
            continue;
        }
        let metadata = fs::metadata(&resolved).map_err(read_error(&path))?;
        if metadata.is_dir() {
            if resolved != path {
                continue; // a linked directory could loop
            }
            collect_files(root, &path, found, total_bytes, configured)?;
        } else if metadata.is_file() {
            let Some(relative) = path
                .strip_prefix(root)
                .ok()
                .and_then(Path::to_str)
                .map(|text| text.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                continue;
            };
            found.push((relative, resolved));
            *total_bytes += metadata.len();
            if found.len() > MAX_FILES || *total_bytes > MAX_TOTAL_BYTES {
                return Err(WebDirError::TooLarge(configured.to_owned()));
            }
        }
    }
    Ok(())
}

fn is_reserved(path: &str) -> bool {
    RESERVED.iter().any(|reserved| {
        path.strip_prefix(reserved)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The file a URL path names, relative to the web directory: percent-decoded segment by
/// segment. `None` for anything that could leave the directory or name something odd: dot
/// segments, empty segments, an encoded `/` or `\`, NUL, bad escapes, non-UTF-8 text.
/// `/` names `index.html`.
fn decode_path(raw: &str) -> Option<String> {
    let trimmed = raw.strip_prefix('/')?;
    if trimmed.is_empty() {
        return Some(INDEX.to_owned());
    }
    let mut segments = Vec::new();
    for segment in trimmed.split('/') {
        let decoded = percent_decode(segment)?;
        if decoded.is_empty()
            || decoded == "."
            || decoded == ".."
            || decoded.starts_with('.')
            || decoded.contains(['/', '\\', '\0'])
        {
            return None;
        }
        segments.push(decoded);
    }
    Some(segments.join("/"))
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn extension(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let (_, extension) = name.rsplit_once('.')?;
    Some(extension.to_ascii_lowercase())
}

fn looks_like_asset(path: &str) -> bool {
    extension(path).is_some_and(|extension| ASSET_EXTENSIONS.contains(&extension.as_str()))
}

fn content_type(path: &str) -> &'static str {
    match extension(path).as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("woff") => "font/woff",
        Some("woff2") => "font/woff2",
        Some("ttf") => "font/ttf",
        _ => "application/octet-stream",
    }
}

/// Already-compressed formats gain nothing from gzip.
fn compressible(content_type: &str) -> bool {
    !matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "font/woff" | "font/woff2"
    )
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < MIN_GZIP_BYTES {
        return None;
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 2),
        flate2::Compression::best(),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// A strong entity tag: 128 bits of the content's SHA-256, base64url.
fn entity_tag(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// Whether `Accept-Encoding` allows `coding` (`gzip` or `br`; a `q=0` refuses it; `*`
/// stands for it).
fn accepts(value: Option<&HeaderValue>, coding: &str) -> bool {
    let Some(text) = value.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let mut wildcard = None;
    for item in text.split(',') {
        let mut parts = item.split(';');
        let named = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let allowed = parts
            .filter_map(|parameter| {
                let (name, value) = parameter.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| value.trim().parse::<f32>().unwrap_or(0.0))
            })
            .next_back()
            .is_none_or(|q| q > 0.0);
        if named == coding || (coding == "gzip" && named == "x-gzip") {
            return allowed;
        }
        if named == "*" {
            wildcard = Some(allowed);
        }
    }
    wildcard.unwrap_or(false)
}

/// `If-None-Match` fails (answer 304) when it lists the current tag or is `*`; compared
/// weakly, as RFC 9110 asks.
fn none_match_fails(header: &str, etag: &HeaderValue) -> bool {
    let current = etag.to_str().unwrap_or_default();
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current)
}

/// The policy for the app: its own origin only, wasm compilation allowed, and the inline
/// scripts of `index.html` (Trunk writes the wasm loader inline) allowed by hash.
pub fn content_security_policy(index_html: &str) -> String {
    let mut script_src = String::from("'self' 'wasm-unsafe-eval'");
    for script in inline_scripts(index_html) {
        let digest = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        let source = format!(" 'sha256-{hash}'");
        if !script_src.contains(&source) {
            script_src.push_str(&source);
        }
    }
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    )
}

/// The text of every `<script>` element without a `src` attribute, as the browser hashes
/// it: exactly what stands between the tags, with line breaks normalised to `\n` as the
/// HTML parser does. Comments are skipped.
pub fn inline_scripts(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut scripts = Vec::new();
    let mut at = 0;
    while let Some(offset) = lower[at..].find('<') {
        let start = at + offset;
        if lower[start..].starts_with("<!--") {
            at = lower[start + 4..]
                .find("-->")
                .map_or(lower.len(), |end| start + 4 + end + 3);
            continue;
        }
        let after_name = start + "<script".len();
        let is_script = lower[start..].starts_with("<script")
            && lower[after_name..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_whitespace() || c == '>' || c == '/');
        if !is_script {
            at = start + 1;
            continue;
        }
        let Some(tag_end) = end_of_tag(&lower, after_name) else {
            break;
        };
        let attributes = &lower[after_name..tag_end];
        let content_start = tag_end + 1;
        let content_end = lower[content_start..]
            .find("</script")
            .map_or(lower.len(), |end| content_start + end);
        if !has_attribute(attributes, "src") {
            scripts.push(
                html[content_start..content_end]
                    .replace("\r\n", "\n")
                    .replace('\r', "\n"),
            );
        }
        at = content_end;
    }
    scripts
}

/// The index of the `>` closing a start tag whose attributes begin at `from`, minding quotes.
fn end_of_tag(lower: &str, from: usize) -> Option<usize> {
    let mut quote = None;
    for (i, c) in lower[from..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(from + i),
            _ => {}
        }
    }
    None
}

/// Whether a start tag's (lower-cased) attribute text has an attribute called `name`.
fn has_attribute(attributes: &str, name: &str) -> bool {
    let mut rest = attributes;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return false;
        }
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        if &rest[..name_end] == name {
            return true;
        }
        rest = rest[name_end..].trim_start();
        if let Some(value) = rest.strip_prefix('=') {
            let value = value.trim_start();
            rest = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].find(q).map_or("", |end| &value[end + 2..]),
                _ => value
                    .find(|c: char| c.is_ascii_whitespace())
                    .map_or("", |end| &value[end..]),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_found_exactly_and_external_ones_skipped() {
        let html = "<!doctype html><html><head>\
            <!-- <script>not this</script> -->\
            <script src=\"/x.js\"></script>\
            <SCRIPT type=\"module\" data-x='a>b'>\r\nimport init from '/app.js';\r\nawait init();\n</SCRIPT>\
            <script>one()</script >\
            <scripts>no</scripts>\
            </head></html>";
        assert_eq!(
            inline_scripts(html),
            vec![
                "\nimport init from '/app.js';\nawait init();\n".to_owned(),
                "one()".to_owned()
            ]
        );
    }

    #[test]
    fn the_policy_lists_each_inline_script_hash_once() {
        let policy = content_security_policy("<script>a()</script><script>a()</script>");
        let digest = ring::digest::digest(&ring::digest::SHA256, b"a()");
        let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        assert_eq!(policy.matches(&format!("'sha256-{hash}'")).count(), 1);
        assert!(
            policy.starts_with("default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-")
        );
        assert!(!policy.contains("unsafe-inline"));
    }

    #[test]
    fn attributes_are_read_minding_quotes() {
        assert!(has_attribute(" type=\"module\" src=/a.js", "src"));
        assert!(!has_attribute(
            " type=\"module\" data-src=\"x src y\"",
            "src"
        ));
        assert!(has_attribute(" async src", "src"));
        assert!(!has_attribute("", "src"));
    }

    #[test]
    fn paths_that_could_leave_the_directory_decode_to_nothing() {
        assert_eq!(decode_path("/").as_deref(), Some("index.html"));
        assert_eq!(decode_path("/app-1.js").as_deref(), Some("app-1.js"));
        assert_eq!(decode_path("/a%20b/c").as_deref(), Some("a b/c"));
        for bad in [
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/%2E%2E%2FCargo.toml",
            "/..%5cCargo.toml",
            "/a//b",
            "/a/./b",
            "/%00",
            "/%zz",
            "/%ff",
            "/.git/config",
            "relative",
        ] {
            assert_eq!(decode_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn reserved_paths_belong_to_the_api() {
        for path in ["/api", "/api/", "/api/v1/nope", "/healthz", "/metrics/x"] {
            assert!(is_reserved(path), "{path}");
        }
        for path in ["/", "/apix", "/integrations", "/healthzz"] {
            assert!(!is_reserved(path), "{path}");
        }
    }

    #[test]
    fn a_coding_is_accepted_unless_refused() {
        let gzip = |text: &str| accepts(Some(&HeaderValue::from_str(text).expect("ascii")), "gzip");
        assert!(gzip("gzip, deflate, br"));
        assert!(gzip("br;q=1.0, gzip;q=0.5"));
        assert!(gzip("x-gzip"));
        assert!(gzip("*"));
        assert!(!gzip("gzip;q=0"));
        assert!(!gzip("*, gzip;q=0"));
        assert!(!gzip("br, identity"));
        assert!(!accepts(None, "gzip"));
        let br = |text: &str| accepts(Some(&HeaderValue::from_str(text).expect("ascii")), "br");
        assert!(br("gzip, deflate, br"));
        assert!(br("BR;q=0.1"));
        assert!(!br("gzip, deflate"), "Chromium over plain HTTP");
        assert!(!br("br;q=0, gzip"));
        assert!(!br("x-br"));
    }

    #[test]
    fn deep_links_and_assets_are_told_apart() {
        assert!(looks_like_asset("app-abc.js"));
        assert!(looks_like_asset("static/logo.PNG"));
        assert!(!looks_like_asset("integrations"));
        assert!(!looks_like_asset("integrations/jenkins.prod"));
    }
}
