//! The web app served from SWITCHBOARD_WEB_DIR: pages, assets, caching, the security
//! headers, gzip, and the API left as it was.

use std::io::{Read, Write};
use std::path::Path;

use base64::Engine;
use reqwest::{Method, StatusCode};

use crate::helpers::{Backend, TestApp, problem};

const INLINE_SCRIPT: &str = "\nimport init, * as bindings from '/app-abc123.js';\nconst wasm = await init({ module_or_path: '/app-abc123_bg.wasm' });\nwindow.wasmBindings = bindings;\n";
const SECRET: &str = "secret-outside-the-web-dir-7f3a";

fn index_html() -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Switchboard</title>\
         <link rel=\"stylesheet\" href=\"/style-abc123.css\">\
         <link rel=\"modulepreload\" href=\"/app-abc123.js\" crossorigin=\"anonymous\">\
         <script type=\"module\">{INLINE_SCRIPT}</script></head><body></body></html>\n"
    )
}

fn js() -> Vec<u8> {
    "export function hello() { return 'hello from the switchboard web app'; }\n"
        .repeat(200)
        .into_bytes()
}

fn wasm() -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend((0..20_000u32).map(|i| (i % 7) as u8));
    bytes
}

fn css() -> Vec<u8> {
    "body { margin: 0; font-family: sans-serif; }\n"
        .repeat(50)
        .into_bytes()
}

/// `root/web` holds a Trunk-like build; `root/secret.txt` sits beside it, not to be served.
fn web_dir(root: &Path) -> std::path::PathBuf {
    let web = root.join("web");
    std::fs::create_dir_all(web.join("assets")).expect("mkdir");
    std::fs::write(web.join("index.html"), index_html()).expect("write");
    std::fs::write(web.join("app-abc123.js"), js()).expect("write");
    std::fs::write(web.join("app-abc123_bg.wasm"), wasm()).expect("write");
    std::fs::write(web.join("style-abc123.css"), css()).expect("write");
    std::fs::write(
        web.join("assets/logo-abc123.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .expect("write");
    std::fs::write(web.join("favicon.ico"), [0u8, 0, 1, 0]).expect("write");
    std::fs::write(web.join(".hidden"), SECRET).expect("write");
    std::fs::write(root.join("secret.txt"), SECRET).expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("secret.txt"), web.join("linked.txt")).expect("symlink");
    web
}

async fn spawn_with_web(root: &Path) -> TestApp {
    let web = web_dir(root);
    TestApp::spawn_with(Backend::Sqlite, |config| config.web_dir = Some(web)).await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

fn script_hash() -> String {
    let digest = ring_digest(INLINE_SCRIPT.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn ring_digest(bytes: &[u8]) -> Vec<u8> {
    // The test computes SHA-256 itself with the same library the server uses.
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn assert_security_headers(response: &reqwest::Response) {
    let policy = header(response, "content-security-policy");
    assert_eq!(
        policy,
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {}; style-src 'self'; \
             img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
             base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            script_hash()
        )
    );
    assert_eq!(header(response, "x-content-type-options"), "nosniff");
    assert_eq!(header(response, "referrer-policy"), "no-referrer");
}

#[actix_web::test]
async fn pages_get_index_html_uncached_with_a_policy_allowing_its_inline_script() {
    let root = tempfile::tempdir().expect("tempdir");
    let app = spawn_with_web(root.path()).await;
    for path in [
        "/",
        "/index.html",
        "/integrations",
        "/admin/users",
        "/integrations/0190f0c2-1111-7000-8000-000000000000",
        "/integrations/jenkins.prod",
        "/login?next=%2Fadmin",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        assert!(header(&response, "etag").starts_with('"'), "{path}");
        assert_security_headers(&response);
        assert_eq!(response.text().await.expect("body"), index_html(), "{path}");
    }

    let head = app
        .request(Method::HEAD, "/admin/users", None)
        .send()
        .await
        .expect("send");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(&head, "content-length"),
        index_html().len().to_string()
    );
    assert!(head.bytes().await.expect("body").is_empty());

    // Revalidation: the same tag answers 304 without a body.
    let etag = header(&app.get("/", None).await, "etag").to_owned();
    let again = app
        .request(Method::GET, "/integrations", None)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&again, "etag"), etag);
    assert!(again.bytes().await.expect("body").is_empty());
}

#[actix_web::test]
async fn assets_are_immutable_with_their_content_types() {
    let root = tempfile::tempdir().expect("tempdir");
    let app = spawn_with_web(root.path()).await;
    for (path, content_type, body) in [
        ("/app-abc123.js", "text/javascript", js()),
        ("/app-abc123_bg.wasm", "application/wasm", wasm()),
        ("/style-abc123.css", "text/css", css()),
        (
            "/assets/logo-abc123.svg",
            "image/svg+xml",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
        ),
        ("/favicon.ico", "image/x-icon", vec![0, 0, 1, 0]),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        assert_eq!(
            header(&response, "cache-control"),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        assert!(header(&response, "content-encoding").is_empty(), "{path}");
        assert_security_headers(&response);
        assert_eq!(
            response.bytes().await.expect("body").as_ref(),
            body,
            "{path}"
        );
    }

    // A missing hashed file is a 404, never index.html run as a script.
    let stale = problem(app.get("/app-old999.js", None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(stale["code"], "not_found");
    problem(
        app.get("/assets/gone.css", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[actix_web::test]
async fn wasm_js_and_pages_are_gzipped_when_the_client_accepts_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let app = spawn_with_web(root.path()).await;
    for (path, body) in [
        ("/app-abc123_bg.wasm", wasm()),
        ("/app-abc123.js", js()),
        ("/style-abc123.css", css()),
        ("/integrations", index_html().into_bytes()),
    ] {
        let response = app
            .request(Method::GET, path, None)
            .header("accept-encoding", "br;q=1.0, gzip;q=0.8, *;q=0.1")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, "content-encoding"), "gzip", "{path}");
        assert!(
            header(&response, "vary")
                .to_ascii_lowercase()
                .contains("accept-encoding"),
            "{path}"
        );
        let gzip_etag = header(&response, "etag").to_owned();
        let compressed = response.bytes().await.expect("body");
        assert!(compressed.len() < body.len(), "{path} was not compressed");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_ref())
            .read_to_end(&mut plain)
            .expect("gunzip");
        assert_eq!(plain, body, "{path}");

        // Refused or not asked for: sent as it is, under another tag.
        for accept in [None, Some("gzip;q=0, identity")] {
            let mut request = app.request(Method::GET, path, None);
            if let Some(accept) = accept {
                request = request.header("accept-encoding", accept);
            }
            let response = request.send().await.expect("send");
            assert!(header(&response, "content-encoding").is_empty(), "{path}");
            assert_ne!(header(&response, "etag"), gzip_etag, "{path}");
            assert_eq!(
                response.bytes().await.expect("body").as_ref(),
                body,
                "{path}"
            );
        }
    }
}

#[actix_web::test]
async fn the_api_keeps_its_answers_and_headers() {
    let root = tempfile::tempdir().expect("tempdir");
    let app = spawn_with_web(root.path()).await;
    for path in [
        "/api/v1/nope",
        "/api/nope",
        "/api",
        "/api/",
        "/healthz/x",
        "/%61pi/v1/nope",
    ] {
        let response = app.get(path, None).await;
        assert!(
            header(&response, "content-security-policy").is_empty(),
            "{path}"
        );
        let body = problem(response, StatusCode::NOT_FOUND).await;
        assert_eq!(body["code"], "not_found", "{path}");
    }
    let gzip_asked = app
        .request(Method::GET, "/api/v1/nope", None)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("send");
    assert!(header(&gzip_asked, "content-encoding").is_empty());
    problem(gzip_asked, StatusCode::NOT_FOUND).await;

    let health = app.get("/healthz", None).await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(header(&health, "content-type").starts_with("application/json"));
    assert!(header(&health, "content-security-policy").is_empty());

    let tools = app.get("/api/v1/tools", Some(&app.admin_token)).await;
    assert_eq!(tools.status(), StatusCode::OK);
    assert!(header(&tools, "content-security-policy").is_empty());
    // The API's own policy, not the web app's caching of its files.
    assert_eq!(header(&tools, "cache-control"), "no-store");

    let docs = app.get("/api/docs/", None).await;
    assert_eq!(docs.status(), StatusCode::OK);
    // The docs' own policy, not the web app's.
    let docs_policy = header(&docs, "content-security-policy");
    assert!(
        docs_policy.contains("frame-ancestors 'none'"),
        "{docs_policy}"
    );
    assert!(!docs_policy.contains("wasm-unsafe-eval"), "{docs_policy}");
    assert!(header(&docs, "content-type").starts_with("text/html"));
    assert!(!docs.text().await.expect("body").contains("wasmBindings"));

    // Writes to a page path are refused like any other unsupported method.
    let post = app
        .request(Method::POST, "/integrations", None)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(header(&post, "allow"), "GET, HEAD");
    assert_eq!(
        problem(post, StatusCode::METHOD_NOT_ALLOWED).await["code"],
        "method_not_allowed"
    );
    let wrong_api_method = app
        .request(Method::PUT, "/api/v1/integrations", Some(&app.admin_token))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(header(&wrong_api_method, "allow"), "GET, POST");
    problem(wrong_api_method, StatusCode::METHOD_NOT_ALLOWED).await;
}

/// Sends `path` exactly as written (HTTP clients would normalise `..` away).
fn raw_get(base: &str, path: &str) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[actix_web::test]
async fn paths_cannot_leave_the_web_directory() {
    let root = tempfile::tempdir().expect("tempdir");
    let app = spawn_with_web(root.path()).await;
    for path in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/./index.html",
        "//etc/passwd",
        "/linked.txt",
        "/.hidden",
        "/%2ehidden",
    ] {
        let answer = raw_get(&app.base, path);
        assert!(!answer.contains(SECRET), "{path} leaked: {answer}");
        let status_line = answer.lines().next().unwrap_or_default();
        assert!(
            status_line.contains(" 404 ") || status_line.contains(" 400 "),
            "{path}: {status_line}"
        );
        if status_line.contains(" 404 ") {
            assert!(
                answer
                    .to_ascii_lowercase()
                    .contains("application/problem+json"),
                "{path}: {answer}"
            );
        }
    }
}

#[actix_web::test]
async fn without_a_web_dir_pages_are_not_found() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/", "/integrations", "/index.html"] {
        let response = app.get(path, None).await;
        assert!(header(&response, "content-security-policy").is_empty());
        assert_eq!(
            problem(response, StatusCode::NOT_FOUND).await["code"],
            "not_found",
            "{path}"
        );
    }
}

#[test]
fn a_web_dir_without_index_html_is_refused_at_start() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("app.js"), "x").expect("write");
    let err = switchboard_server::web::WebApp::load(root.path()).expect_err("no index.html");
    assert!(err.to_string().contains("has no index.html"), "{err}");
    let missing =
        switchboard_server::web::WebApp::load(&root.path().join("nope")).expect_err("no directory");
    assert!(
        missing.to_string().contains("SWITCHBOARD_WEB_DIR"),
        "{missing}"
    );
}

/// The server's entity tag of `bytes`: what a Brotli copy's name must carry.
fn tag_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&ring_digest(bytes)[..16])
}

#[actix_web::test]
async fn the_builds_brotli_copies_go_to_clients_that_accept_br() {
    let root = tempfile::tempdir().expect("tempdir");
    let web = web_dir(root.path());
    // The server sends a build's copy as it is (the build checked it decompresses to the
    // file): these stand-ins only need to be recognisable and smaller.
    let js_copy = b"brotli copy of the script".to_vec();
    let js_copy_name = format!("app-abc123.js.{}.br", tag_of(&js()));
    std::fs::write(web.join(&js_copy_name), &js_copy).expect("write");
    let index_copy = b"brotli copy of the page".to_vec();
    std::fs::write(
        web.join(format!("index.html.{}.br", tag_of(index_html().as_bytes()))),
        &index_copy,
    )
    .expect("write");
    // A copy left over from another build names another tag: never sent.
    std::fs::write(
        web.join("style-abc123.css.AAAAAAAAAAAAAAAAAAAAAA.br"),
        b"stale",
    )
    .expect("write");
    let app = TestApp::spawn_with(Backend::Sqlite, |config| config.web_dir = Some(web)).await;
    let get = |path: &str, accept: &str| {
        app.request(Method::GET, path, None)
            .header("accept-encoding", accept)
            .send()
    };

    for (path, copy) in [
        ("/app-abc123.js", &js_copy),
        ("/integrations", &index_copy),
        ("/", &index_copy),
    ] {
        let response = get(path, "gzip, deflate, br").await.expect("send");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, "content-encoding"), "br", "{path}");
        assert!(
            header(&response, "vary")
                .to_ascii_lowercase()
                .contains("accept-encoding")
        );
        let etag = header(&response, "etag").to_owned();
        assert!(etag.ends_with("-br\""), "{etag}");
        assert_eq!(
            response.bytes().await.expect("body").as_ref(),
            copy.as_slice()
        );
        // Revalidation names the copy's own tag.
        let again = app
            .request(Method::GET, path, None)
            .header("accept-encoding", "br")
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("send");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        // Without br (Chromium over plain HTTP sends "gzip, deflate"), or refusing it: gzip.
        for accept in ["gzip, deflate", "br;q=0, gzip"] {
            let response = get(path, accept).await.expect("send");
            assert_eq!(
                header(&response, "content-encoding"),
                "gzip",
                "{path} {accept}"
            );
        }
    }
    let stale = get("/style-abc123.css", "br, gzip").await.expect("send");
    assert_eq!(
        header(&stale, "content-encoding"),
        "gzip",
        "a stale copy is ignored"
    );
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(stale.bytes().await.expect("body").as_ref())
        .read_to_end(&mut plain)
        .expect("gunzip");
    assert_eq!(plain, css());
    // A copy is not a file of its own.
    let direct = app
        .request(Method::GET, &format!("/{js_copy_name}"), None)
        .send()
        .await
        .expect("send");
    problem(direct, StatusCode::NOT_FOUND).await;
}
