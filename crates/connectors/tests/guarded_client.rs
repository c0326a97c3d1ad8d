//! The guarded client against local servers. All traffic stays on 127.0.0.0/8; names are
//! resolved by a `StaticResolver`, never by real DNS.

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{TestServer, TlsTestServer, http};
use switchboard_connectors::{
    BaseUrl, Category, ConnectorError, Credentials, GuardedClient, Method, Name, OutboundPolicy,
    OutboundRequest, Resolve, Resolving, StaticResolver, TrustedRoots, TrustedRootsError, Url,
};

const LOCALHOST: &str = "127.0.0.1";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("test URL")
}

/// Small bounds so that nothing in these tests waits long.
fn policy() -> OutboundPolicy {
    OutboundPolicy {
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_millis(1500),
        max_body_bytes: 1024,
        max_redirects: 3,
        deny_private: false,
        allowed_hosts: Vec::new(),
        extra_roots: TrustedRoots::default(),
    }
}

fn denying_private() -> OutboundPolicy {
    OutboundPolicy {
        deny_private: true,
        allowed_hosts: Vec::new(),
        ..policy()
    }
}

/// A resolver that counts how often it was asked.
struct Counting {
    inner: StaticResolver,
    calls: Arc<AtomicUsize>,
}

impl Resolve for Counting {
    fn resolve(&self, name: Name) -> Resolving {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.resolve(name)
    }
}

fn client_with(
    policy: OutboundPolicy,
    resolver: StaticResolver,
) -> (GuardedClient, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = GuardedClient::with_resolver(
        policy,
        Arc::new(Counting {
            inner: resolver,
            calls: calls.clone(),
        }),
    )
    .expect("client");
    (client, calls)
}

fn alice() -> Credentials {
    Credentials::Basic {
        username: "alice".to_owned(),
        secret: "s3cret-token".to_owned().into(),
    }
}

fn assert_no_secret(error: &ConnectorError) {
    for text in [&error.message, &error.hint] {
        assert!(!text.contains("s3cret"), "secret leaked: {error:?}");
    }
}

async fn get(
    client: &GuardedClient,
    target: &str,
) -> Result<switchboard_connectors::OutboundResponse, ConnectorError> {
    client.send(OutboundRequest::get(url(target))).await
}

#[tokio::test]
async fn answers_within_policy_are_returned() {
    let server =
        TestServer::respond(|_| http("200 OK", &[("X-Jenkins", "2.504")], "{\"name\":\"alice\"}"))
            .await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let answer = get(&client, &server.url("/whoAmI/api/json"))
        .await
        .expect("answer");
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.header("x-jenkins"), Some("2.504"));
    let body: serde_json::Value = answer.json().expect("json");
    assert_eq!(body["name"], "alice");
}

#[tokio::test]
async fn hosts_off_the_allow_list_are_refused_before_resolving_or_connecting() {
    let listener = TestServer::respond(|_| http("200 OK", &[], "reached")).await;
    let resolver = StaticResolver::new().with("ci.test", &[ip(LOCALHOST)]);
    let only_loopback = OutboundPolicy {
        allowed_hosts: vec![LOCALHOST.to_owned()],
        ..policy()
    };
    let (client, calls) = client_with(only_loopback, resolver);

    let error = get(
        &client,
        &format!("http://ci.test:{}/", listener.addr.port()),
    )
    .await
    .expect_err("refused");
    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert!(
        error.hint.contains("SWITCHBOARD_OUTBOUND_ALLOWED_HOSTS"),
        "{error:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "not even resolved");
    assert_eq!(listener.accepts(), 0, "no connection was attempted");

    let answer = get(&client, &listener.url("/")).await.expect("listed host");
    assert_eq!(answer.status().as_u16(), 200);
}

#[tokio::test]
async fn metadata_name_is_refused_before_connecting() {
    // The name resolves to a harmless listener AND the metadata address: the whole answer is
    // refused, so not even the harmless address is connected to.
    let listener = TestServer::respond(|_| http("200 OK", &[], "reached")).await;
    let resolver =
        StaticResolver::new().with("metadata.test", &[ip(LOCALHOST), ip("169.254.169.254")]);
    let (client, calls) = client_with(policy(), resolver);
    let target = format!(
        "http://metadata.test:{}/latest/meta-data/",
        listener.addr.port()
    );

    let error = get(&client, &target).await.expect_err("refused");

    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert_eq!(
        error.message,
        "metadata.test resolves to 169.254.169.254, a cloud metadata service address, \
         which Switchboard does not connect to"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the guard ran after resolution"
    );
    assert_eq!(listener.accepts(), 0, "no connection was attempted");
}

#[tokio::test]
async fn metadata_and_link_local_names_are_refused_even_when_private_is_allowed() {
    for address in [
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "169.254.10.1",
        "fe80::1",
    ] {
        let resolver = StaticResolver::new().with("inside.test", &[ip(address)]);
        let (client, _) = client_with(policy(), resolver);
        let error = get(&client, "http://inside.test/")
            .await
            .expect_err(address);
        assert_eq!(error.category, Category::InvalidUrl, "{address}: {error:?}");
        assert!(error.message.contains(address), "{address}: {error:?}");
        assert!(
            error.hint.contains("never connects"),
            "{address}: {error:?}"
        );
    }
}

/// 169.254.169.254 stays refused in every IPv6 spelling that carries it: compatible, mapped,
/// NAT64 (well-known and local-use prefixes), 6to4, Teredo (as server or, inverted, client).
#[tokio::test]
async fn ipv6_spellings_of_the_metadata_address_are_refused() {
    for address in [
        "::a9fe:a9fe",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "2001:0:a9fe:a9fe::1",
        "2001:0:808:808::5601:5601",
    ] {
        let resolver = StaticResolver::new().with("inside.test", &[ip(address)]);
        let (client, _) = client_with(policy(), resolver);
        let by_name = get(&client, "http://inside.test/")
            .await
            .expect_err(address);
        assert_eq!(
            by_name.category,
            Category::InvalidUrl,
            "{address}: {by_name:?}"
        );
        assert!(
            by_name.message.contains("metadata"),
            "{address}: {by_name:?}"
        );

        let (client, _) = client_with(policy(), StaticResolver::new());
        let literal = get(&client, &format!("http://[{address}]/"))
            .await
            .expect_err(address);
        assert_eq!(
            literal.category,
            Category::InvalidUrl,
            "{address}: {literal:?}"
        );
        assert!(
            literal.message.contains("metadata"),
            "{address}: {literal:?}"
        );
    }
}

#[tokio::test]
async fn private_names_follow_the_policy() {
    let listener = TestServer::respond(|_| http("200 OK", &[], "reached")).await;
    let resolver = StaticResolver::new().with("ci.internal.test", &[ip(LOCALHOST)]);
    let target = format!("http://ci.internal.test:{}/", listener.addr.port());

    let (denying, _) = client_with(denying_private(), resolver.clone());
    let error = get(&denying, &target).await.expect_err("denied");
    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert!(error.message.contains("loopback"), "{error:?}");
    assert!(
        error.hint.contains("SWITCHBOARD_OUTBOUND_DENY_PRIVATE"),
        "{error:?}"
    );
    assert_eq!(listener.accepts(), 0);

    let (allowing, _) = client_with(policy(), resolver);
    let answer = get(&allowing, &target).await.expect("allowed");
    assert_eq!(answer.text(), "reached");
    assert_eq!(listener.accepts(), 1);
}

#[tokio::test]
async fn denied_ip_literals_are_refused_without_resolving() {
    let (client, calls) = client_with(policy(), StaticResolver::new());
    for target in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
        "http://0xa9fea9fe/",
        "http://169.254.169.254./",
        "http://169.254.43518/",
        "http://169.254.1.1:8080/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
    ] {
        let error = get(&client, target).await.expect_err(target);
        assert_eq!(error.category, Category::InvalidUrl, "{target}: {error:?}");
        assert!(
            error.message.contains("does not connect to"),
            "{target}: {error:?}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn loopback_literals_follow_the_policy() {
    let listener = TestServer::respond(|_| http("200 OK", &[], "reached")).await;
    let (denying, _) = client_with(denying_private(), StaticResolver::new());
    let error = get(&denying, &listener.url("/")).await.expect_err("denied");
    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert_eq!(listener.accepts(), 0);

    let (allowing, _) = client_with(policy(), StaticResolver::new());
    assert_eq!(
        get(&allowing, &listener.url("/"))
            .await
            .expect("allowed")
            .text(),
        "reached"
    );
}

#[tokio::test]
async fn unresolvable_name_is_dns() {
    let (client, calls) = client_with(policy(), StaticResolver::new());
    let error = get(&client, "http://nowhere.test/")
        .await
        .expect_err("nxdomain");
    assert_eq!(error.category, Category::Dns, "{error:?}");
    assert!(error.message.contains("nowhere.test"), "{error:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn closed_port_is_connect() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, &format!("http://127.0.0.1:{port}/"))
        .await
        .expect_err("closed");
    assert_eq!(error.category, Category::Connect, "{error:?}");
    assert!(
        error.message.contains("refused the connection"),
        "{error:?}"
    );
}

#[tokio::test]
async fn silent_server_is_timeout_within_the_bound() {
    let server = TestServer::silent().await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, &server.url("/api/json"))
        .await
        .expect_err("timeout");
    // The configured bound, not a measured time: tests never assert wall-clock times.
    assert_eq!(error.category, Category::Timeout, "{error:?}");
    assert!(error.message.contains("1500 ms"), "{error:?}");
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn cross_origin_redirect_is_not_followed_and_credentials_stay_home() {
    let other = TestServer::respond(|_| http("200 OK", &[], "other origin")).await;
    let elsewhere = other.url("/landed");
    let home =
        TestServer::respond(move |_| http("302 Found", &[("Location", &elsewhere)], "")).await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let jenkins = client.for_origin(BaseUrl::parse(&home.url("/")).expect("base"), Some(alice()));

    let error = jenkins
        .send(jenkins.request(Method::GET, "api/json").expect("request"))
        .await
        .expect_err("not followed");

    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert!(error.message.contains("outside"), "{error:?}");
    assert_no_secret(&error);
    let home_requests = home.requests();
    assert_eq!(home_requests.len(), 1);
    assert!(
        home_requests[0]
            .header("authorization")
            .is_some_and(|v| v.starts_with("Basic ")),
        "credentials went to the integration's own origin"
    );
    assert_eq!(other.accepts(), 0, "the other origin was never contacted");
    assert!(
        other
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

#[tokio::test]
async fn scheme_change_redirect_hints_at_the_new_url() {
    let home = TestServer::respond(|r| {
        let location = format!("https://127.0.0.1{}", r.target());
        http("301 Moved Permanently", &[("Location", &location)], "")
    })
    .await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, &home.url("/"))
        .await
        .expect_err("not followed");
    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert!(error.hint.contains("https://127.0.0.1/"), "{error:?}");
}

#[tokio::test]
async fn same_origin_redirect_is_followed_with_credentials() {
    let home = TestServer::respond(|r| match r.target() {
        "/job/x/17/stop" => http("302 Found", &[("Location", "/job/x/17/")], ""),
        _ => http("200 OK", &[], "job page"),
    })
    .await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let jenkins = client.for_origin(BaseUrl::parse(&home.url("/")).expect("base"), Some(alice()));

    let answer = jenkins
        .send(
            jenkins
                .request(Method::POST, "/job/x/17/stop")
                .expect("request"),
        )
        .await
        .expect("followed");

    assert_eq!(answer.text(), "job page");
    assert_eq!(answer.url().path(), "/job/x/17/");
    let requests = home.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.header("authorization").is_some()));
}

#[tokio::test]
async fn a_request_without_redirects_gets_the_redirect_as_its_answer() {
    let other = TestServer::respond(|_| http("200 OK", &[], "other origin")).await;
    let elsewhere = other.url("/job/x/17/");
    let home =
        TestServer::respond(move |_| http("302 Found", &[("Location", &elsewhere)], "")).await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let jenkins = client.for_origin(BaseUrl::parse(&home.url("/")).expect("base"), Some(alice()));

    let answer = jenkins
        .send(
            jenkins
                .request(Method::POST, "job/x/17/stop")
                .expect("request")
                .without_redirects(),
        )
        .await
        .expect("the 302 itself");

    assert_eq!(answer.status().as_u16(), 302);
    assert_eq!(answer.url().path(), "/job/x/17/stop");
    assert_eq!(home.requests().len(), 1);
    assert_eq!(other.accepts(), 0, "the Location was not followed");
    // The same client still follows redirects for requests that do not opt out.
    let error = jenkins
        .send(jenkins.request(Method::GET, "api/json").expect("request"))
        .await
        .expect_err("cross-origin redirect refused");
    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
}

#[tokio::test]
async fn redirect_loops_stop_at_the_limit() {
    let home = TestServer::respond(|r| {
        let next: u32 = r.target().trim_start_matches("/hop").parse().unwrap_or(0) + 1;
        http("302 Found", &[("Location", &format!("/hop{next}"))], "")
    })
    .await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, &home.url("/hop0")).await.expect_err("loop");
    assert_eq!(error.category, Category::Protocol, "{error:?}");
    assert!(error.message.contains("more than 3"), "{error:?}");
    assert_eq!(
        home.requests().len(),
        4,
        "the first request and 3 redirects"
    );
}

#[tokio::test]
async fn origin_client_sends_nothing_outside_its_origin() {
    let other = TestServer::respond(|_| http("200 OK", &[], "other")).await;
    let home = TestServer::respond(|_| http("200 OK", &[], "home")).await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let jenkins = client.for_origin(
        BaseUrl::parse(&home.url("/jenkins")).expect("base"),
        Some(alice()),
    );

    // A URL the tool handed back that points elsewhere (e.g. a misconfigured root URL).
    let error = jenkins
        .send(OutboundRequest::get(url(&other.url("/job/x/17/api/json"))))
        .await
        .expect_err("refused");
    assert_eq!(error.category, Category::InvalidUrl, "{error:?}");
    assert!(error.hint.contains("root URL"), "{error:?}");
    assert_eq!(other.accepts(), 0);

    // Paths stay under the base, with or without a leading slash.
    let request = jenkins.request(Method::GET, "/api/json").expect("request");
    assert_eq!(request.url().path(), "/jenkins/api/json");
    assert!(jenkins.request(Method::GET, &other.url("/x")).is_err());
}

#[tokio::test]
async fn plain_send_never_carries_authorization() {
    let server = TestServer::respond(|_| http("200 OK", &[], "ok")).await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let request = OutboundRequest::get(url(&server.url("/"))).header(
        switchboard_connectors::header::AUTHORIZATION,
        switchboard_connectors::header::HeaderValue::from_static("Basic c3RvbGVu"),
    );
    client.send(request).await.expect("answer");
    assert!(server.requests()[0].header("authorization").is_none());
}

#[tokio::test]
async fn declared_oversized_body_is_protocol() {
    let server = TestServer::respond(|_| http("200 OK", &[], &"x".repeat(2000))).await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, &server.url("/")).await.expect_err("too large");
    assert_eq!(error.category, Category::Protocol, "{error:?}");
    assert!(error.message.contains("1024-byte limit"), "{error:?}");
}

#[tokio::test]
async fn endless_body_is_cut_at_the_cap() {
    let server = TestServer::endless().await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, &server.url("/consoleText"))
        .await
        .expect_err("too large");
    // A protocol error, not a timeout: reading stopped at the cap.
    assert_eq!(error.category, Category::Protocol, "{error:?}");
    assert!(error.message.contains("reading stopped"), "{error:?}");
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_private_ca_is_tls() {
    let server = TlsTestServer::start().await;
    let (client, _) = client_with(
        policy(),
        StaticResolver::new().with("localhost", &[ip(LOCALHOST)]),
    );
    for target in [
        format!("https://127.0.0.1:{}/", server.addr.port()),
        format!("https://localhost:{}/", server.addr.port()),
    ] {
        let error = get(&client, &target).await.expect_err("untrusted");
        assert_eq!(error.category, Category::Tls, "{target}: {error:?}");
        assert!(error.message.contains("not trusted"), "{target}: {error:?}");
    }
    assert_eq!(server.handshakes_ok.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_private_ca_in_extra_roots_is_trusted_and_no_other() {
    let server = TlsTestServer::start().await;
    let resolver = StaticResolver::new().with("localhost", &[ip(LOCALHOST)]);
    let trusting = |pem: &str| OutboundPolicy {
        extra_roots: TrustedRoots::parse(pem.as_bytes()).expect("a PEM bundle"),
        ..policy()
    };

    let (client, _) = client_with(trusting(&server.ca_pem), resolver.clone());
    for target in [
        format!("https://127.0.0.1:{}/", server.addr.port()),
        format!("https://localhost:{}/", server.addr.port()),
    ] {
        let response = get(&client, &target).await.expect("trusted");
        assert_eq!(response.body(), b"secure", "{target}");
    }
    assert_eq!(server.handshakes_ok.load(Ordering::SeqCst), 2);

    // Another private CA in the bundle does not vouch for this server.
    let other = support::private_ca("Another CA").pem();
    let (client, _) = client_with(trusting(&other), resolver);
    let error = get(
        &client,
        &format!("https://localhost:{}/", server.addr.port()),
    )
    .await
    .expect_err("untrusted");
    assert_eq!(error.category, Category::Tls, "{error:?}");
    assert!(
        error.hint.contains("SWITCHBOARD_OUTBOUND_CA_FILE"),
        "{error:?}"
    );
}

#[test]
fn trusted_roots_parse_a_pem_bundle_and_refuse_anything_else() {
    let first = support::private_ca("First CA").pem();
    let second = support::private_ca("Second CA").pem();
    let bundle = format!("# corporate roots\n{first}\nsome text between\n{second}");
    assert_eq!(
        TrustedRoots::parse(bundle.as_bytes()).expect("two").len(),
        2
    );
    assert!(TrustedRoots::default().is_empty());

    assert_eq!(
        TrustedRoots::parse(b"not a certificate"),
        Err(TrustedRootsError::NoCertificate)
    );
    assert_eq!(
        TrustedRoots::parse(b""),
        Err(TrustedRootsError::NoCertificate)
    );
    let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        TrustedRoots::parse(broken.as_bytes()),
        Err(TrustedRootsError::Unreadable(_))
    ));
}

#[tokio::test]
async fn tls_to_a_plain_http_port_is_tls() {
    let server = TestServer::raw(&http("400 Bad Request", &[], "plain http")).await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, &format!("https://{}/", server.addr))
        .await
        .expect_err("not tls");
    assert_eq!(error.category, Category::Tls, "{error:?}");
}

#[tokio::test]
async fn non_http_answer_is_protocol() {
    let server = TestServer::raw(b"SSH-2.0-OpenSSH_9.6\r\n").await;
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, &server.url("/")).await.expect_err("not http");
    assert_eq!(error.category, Category::Protocol, "{error:?}");
}

#[tokio::test]
async fn malformed_urls_are_invalid_url_and_never_echo_credentials() {
    let (client, _) = client_with(policy(), StaticResolver::new());
    let error = get(&client, "ftp://ci.example.test/")
        .await
        .expect_err("ftp");
    assert_eq!(error.category, Category::InvalidUrl);

    let error = get(&client, "http://alice:s3cret@ci.example.test/")
        .await
        .expect_err("userinfo");
    assert_eq!(error.category, Category::InvalidUrl);
    assert_no_secret(&error);

    let error = BaseUrl::parse("https://alice:s3cret@ci.example.test/").expect_err("userinfo");
    assert_eq!(error.category, Category::InvalidUrl);
    assert_no_secret(&error);

    let error = BaseUrl::parse("https://alice:s3cret@[not an address/").expect_err("garbage");
    assert_eq!(error.category, Category::InvalidUrl);
    assert_no_secret(&error);
}

#[tokio::test]
async fn credentials_debug_hides_the_secret() {
    let shown = format!("{:?}", alice());
    assert!(
        shown.contains("alice") && !shown.contains("s3cret"),
        "{shown}"
    );
}
