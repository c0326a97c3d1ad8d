//! Tiny HTTP and TLS servers on 127.0.0.1:0 that record what they receive. Each stops when
//! dropped (its accept loop and every connection task are aborted).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One request head as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub head: String,
}

impl Recorded {
    /// The request target (`/path?query`).
    pub fn target(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or("")
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Vec<u8> + Send + Sync>;

#[derive(Clone)]
enum Mode {
    /// Read the head, answer with the handler's bytes, close.
    Respond(Handler),
    /// Accept and hold the connection; never read, never answer.
    Silent,
    /// Answer 200 with no length and write body bytes until the client goes away.
    Endless,
    /// Write these bytes as soon as anything arrives (whatever it is), then close: like an
    /// HTTP server answering a TLS ClientHello, or a service that is not HTTP at all.
    Raw(Vec<u8>),
}

pub struct TestServer {
    pub addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub async fn respond(handler: impl Fn(&Recorded) -> Vec<u8> + Send + Sync + 'static) -> Self {
        Self::start(Mode::Respond(Arc::new(handler))).await
    }

    pub async fn silent() -> Self {
        Self::start(Mode::Silent).await
    }

    pub async fn endless() -> Self {
        Self::start(Mode::Endless).await
    }

    pub async fn raw(answer: &[u8]) -> Self {
        Self::start(Mode::Raw(answer.to_vec())).await
    }

    async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let accepts = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let accepts = accepts.clone();
            let requests = requests.clone();
            async move {
                let mut connections = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    accepts.fetch_add(1, Ordering::SeqCst);
                    connections.spawn(serve(stream, mode.clone(), requests.clone()));
                }
            }
        });
        Self {
            addr,
            accepts,
            requests,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, mode: Mode, requests: Arc<Mutex<Vec<Recorded>>>) {
    match mode {
        Mode::Silent => {
            // Hold the connection open until the server is dropped.
            std::future::pending::<()>().await;
        }
        Mode::Endless => {
            let _ = read_head(&mut stream).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
                )
                .await;
            let chunk = vec![b'x'; 16 * 1024];
            while stream.write_all(&chunk).await.is_ok() {}
        }
        Mode::Raw(answer) => {
            let mut chunk = [0u8; 4096];
            if matches!(stream.read(&mut chunk).await, Ok(n) if n > 0) {
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            }
        }
        Mode::Respond(handler) => {
            let Some(head) = read_head(&mut stream).await else {
                return;
            };
            let recorded = Recorded { head };
            let answer = handler(&recorded);
            requests.lock().expect("lock").push(recorded);
            let _ = stream.write_all(&answer).await;
            let _ = stream.shutdown().await;
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&buffer[..end]).into_owned());
        }
    }
}

/// An HTTP/1.1 answer with Content-Length and `Connection: close`.
pub fn http(status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut answer = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        answer.push_str(&format!("{name}: {value}\r\n"));
    }
    answer.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    answer.into_bytes()
}

/// An HTTPS server on 127.0.0.1 whose certificate (for `localhost` and `127.0.0.1`) comes
/// from a private CA of its own, which nothing trusts unless told to ([`Self::ca_pem`]);
/// counts completed and failed handshakes.
pub struct TlsTestServer {
    pub addr: SocketAddr,
    /// The private CA's certificate, PEM.
    pub ca_pem: String,
    pub handshakes_ok: Arc<AtomicUsize>,
    pub handshakes_failed: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

/// A new private CA: its certificate and its issuer for signing server certificates.
pub fn private_ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().expect("CA key"))
        .expect("CA certificate")
}

impl TlsTestServer {
    pub async fn start() -> Self {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

        let ca = private_ca("Switchboard test CA");
        let key = rcgen::KeyPair::generate().expect("server key");
        let certificate =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params")
                .signed_by(&key, &ca)
                .expect("server certificate");
        let private_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate.der().clone()], private_key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let handshakes_ok = Arc::new(AtomicUsize::new(0));
        let handshakes_failed = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let ok = handshakes_ok.clone();
            let failed = handshakes_failed.clone();
            async move {
                let mut connections = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    let ok = ok.clone();
                    let failed = failed.clone();
                    connections.spawn(async move {
                        match acceptor.accept(stream).await {
                            Ok(mut tls) => {
                                ok.fetch_add(1, Ordering::SeqCst);
                                let _ = tls.write_all(&http("200 OK", &[], "secure")).await;
                                let _ = tls.shutdown().await;
                            }
                            Err(_) => {
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    });
                }
            }
        });
        Self {
            addr,
            ca_pem: ca.pem(),
            handshakes_ok,
            handshakes_failed,
            task,
        }
    }
}

impl Drop for TlsTestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub mod buildbot;
pub mod jenkins;
