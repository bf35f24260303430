//! TLS for `https://` targets, with rustls on the `ring` provider: the client configuration
//! ([`TlsConfig`], built once and shared by every fetch of a run), the handshake (SNI from the
//! host name; an IP literal gets none and is verified against the certificate's IP addresses),
//! and turning rustls' failures into a [`TlsError`] a user can act on.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{
    ClientSessionStore, Resumption, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, NamedGroup, RootCertStore,
    SupportedCipherSuite,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::escape::escape_bytes;
use crate::fetch::FetchError;
use crate::target::Target;

/// The ALPN protocol offered: the heads we read are HTTP/1.x.
const ALPN: &[u8] = b"http/1.1";

/// How `https://` targets are verified, and the rustls client configuration that does it.
///
/// Cheap to clone (an `Arc`): make one per run and put it in
/// [`Options::tls`](crate::Options::tls); every fetch shares it (and with it rustls' session
/// cache). [`TlsConfig::default`] trusts Mozilla's roots (webpki-roots) and is built once per
/// process.
///
/// ```
/// use tulip_headers::TlsConfig;
///
/// let mozilla = TlsConfig::default();
/// assert!(!mozilla.is_insecure());
/// assert_eq!(TlsConfig::default(), mozilla); // the same shared configuration
/// assert!(TlsConfig::insecure().is_insecure());
/// let err = TlsConfig::from_pem(b"not a certificate").unwrap_err();
/// assert_eq!(err.to_string(), "no certificates in the PEM data");
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    trust: Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    Mozilla,
    Bundle(usize),
    Insecure,
}

/// Why a trust bundle could not be used; the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfigError(String);

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsConfigError {}

/// ring's provider, with the suites hashing with SHA-256 offered first: a client reading heads
/// gains nothing from AES-256, and SHA-384's key schedule (SHA-512 blocks, which few CPUs
/// accelerate) was the largest single cost of a handshake in a profile against nginx (9% of
/// the client's CPU time), where SHA-256 runs on the CPU's SHA extensions. Browsers order them
/// the same way; every suite stays offered.
fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    // Stable: the order within each group is ring's.
    provider.cipher_suites.sort_by_key(|suite| {
        let common = match suite {
            SupportedCipherSuite::Tls13(s) => &s.common,
            SupportedCipherSuite::Tls12(s) => &s.common,
        };
        common.hash_provider.algorithm() != HashAlgorithm::SHA256
    });
    Arc::new(provider)
}

/// Tickets kept per server: enough for a full concurrency's worth of new connections to the
/// same host to resume at once (rustls' own cache keeps 8, so at concurrency 128 most new
/// connections found none and did a full handshake: 23% of them against nginx).
const TICKETS_PER_SERVER: usize = 512;

/// Servers whose tickets are kept; past it, one server's tickets make room for the newcomer.
const TICKET_SERVERS: usize = 1024;

/// The session store every connection of a [`TlsConfig`] shares: rustls' memory cache for key
/// exchange hints and TLS 1.2 sessions, and up to [`TICKETS_PER_SERVER`] TLS 1.3 tickets per
/// server (each used at most once, as the trait requires).
#[derive(Debug)]
struct TicketStore {
    inner: rustls::client::ClientSessionMemoryCache,
    tls13: std::sync::Mutex<HashMap<ServerName<'static>, VecDeque<Tls13ClientSessionValue>>>,
}

impl TicketStore {
    fn new() -> TicketStore {
        TicketStore {
            inner: rustls::client::ClientSessionMemoryCache::new(256),
            tls13: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn tickets(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ServerName<'static>, VecDeque<Tls13ClientSessionValue>>>
    {
        // A panic elsewhere leaves the map valid: tickets are independent values.
        self.tls13.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ClientSessionStore for TicketStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        let mut tickets = self.tickets();
        if tickets.len() >= TICKET_SERVERS && !tickets.contains_key(&server_name) {
            let evicted = tickets.keys().next().cloned();
            if let Some(evicted) = evicted {
                tickets.remove(&evicted);
            }
        }
        let queue = tickets.entry(server_name).or_default();
        if queue.len() >= TICKETS_PER_SERVER {
            queue.pop_front();
        }
        queue.push_back(value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        // The newest first: the likeliest to be still valid.
        self.tickets().get_mut(server_name)?.pop_back()
    }
}

fn with_roots(roots: RootCertStore) -> ClientConfig {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    finish(builder.with_root_certificates(roots).with_no_client_auth())
}

/// What every configuration shares, verifying or not: our ALPN offer, and the ticket store that
/// lets a run's many connections to one server resume (rustls' default cache keeps 8 tickets).
fn finish(mut config: ClientConfig) -> ClientConfig {
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.resumption = Resumption::store(Arc::new(TicketStore::new()));
    config
}

impl TlsConfig {
    /// Trusts Mozilla's root certificates (webpki-roots), like a browser. Built on first use,
    /// then shared by the whole process.
    pub fn mozilla() -> TlsConfig {
        static MOZILLA: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        let config = MOZILLA.get_or_init(|| {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            Arc::new(with_roots(roots))
        });
        TlsConfig {
            config: config.clone(),
            trust: Trust::Mozilla,
        }
    }

    /// Trusts the certificates of a PEM bundle (and only those), as `curl --cacert` does.
    pub fn from_pem(pem: &[u8]) -> Result<TlsConfig, TlsConfigError> {
        let mut roots = RootCertStore::empty();
        for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let cert =
                cert.map_err(|e| TlsConfigError(format!("invalid PEM data: {}", pem_problem(&e))))?;
            roots.add(cert).map_err(|e| {
                TlsConfigError(format!(
                    "invalid certificate (number {} in the PEM data): {}",
                    i + 1,
                    anchor_problem(&e)
                ))
            })?;
        }
        if roots.is_empty() {
            return Err(TlsConfigError("no certificates in the PEM data".to_owned()));
        }
        let count = roots.len();
        Ok(TlsConfig {
            config: Arc::new(with_roots(roots)),
            trust: Trust::Bundle(count),
        })
    }

    /// [`TlsConfig::from_pem`] on a file; errors name the file.
    pub fn from_pem_file(path: &Path) -> Result<TlsConfig, TlsConfigError> {
        let pem = std::fs::read(path).map_err(|e| {
            let e = e.to_string();
            let e = e.split(" (os error").next().unwrap_or(&e).to_owned();
            TlsConfigError(format!("cannot read {}: {e}", path.display()))
        })?;
        TlsConfig::from_pem(&pem)
            .map_err(|TlsConfigError(e)| TlsConfigError(format!("{}: {e}", path.display())))
    }

    /// Accepts any certificate, for any name, expired or not (`curl -k`): the connection is
    /// encrypted but the server is not authenticated. The handshake's signatures are still
    /// checked, so the server must hold the key of the certificate it sent.
    pub fn insecure() -> TlsConfig {
        let provider = provider();
        let verifier = Arc::new(NoVerification(provider.signature_verification_algorithms));
        let config = finish(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth(),
        );
        TlsConfig {
            config: Arc::new(config),
            trust: Trust::Insecure,
        }
    }

    /// Whether certificates go unverified ([`TlsConfig::insecure`]).
    pub fn is_insecure(&self) -> bool {
        self.trust == Trust::Insecure
    }

    /// The rustls configuration, to build connections of your own with the same trust.
    pub fn client_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Connects TLS over `stream` to `target`, mapping a failure to a typed error. `request` is
    /// queued before the handshake starts, so that rustls sends it with its `Finished` message
    /// (one write and one segment fewer per connection; never as 0-RTT early data).
    pub(crate) async fn handshake<S>(
        &self,
        target: &Target,
        stream: S,
        request: &[u8],
    ) -> Result<TlsStream<Recording<S>>, FetchError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = match target.ip() {
            // No SNI for an IP address (RFC 6066); the certificate must name the IP.
            Some(ip) => ServerName::IpAddress(ip.into()),
            None => ServerName::try_from(target.host().to_owned()).map_err(|_| {
                FetchError::Tls(TlsError::Handshake(format!(
                    "invalid server name {:?}",
                    target.host()
                )))
            })?,
        };
        let connector = TlsConnector::from(self.config.clone());
        let stream = Recording::new(stream);
        // On failure the stream is handed back, with the first bytes the server sent.
        let queue = |conn: &mut rustls::ClientConnection| {
            // Buffered until the handshake completes. rustls' buffer holds 64 KiB by default
            // and takes only part of a larger request (many or long -H headers) without an
            // error: unlimited, it takes all of it (the request is the only data we send).
            conn.set_buffer_limit(None);
            let _ = io::Write::write_all(&mut conn.writer(), request);
        };
        match connector
            .connect_with(name, stream, queue)
            .into_fallible()
            .await
        {
            Ok(stream) => Ok(stream),
            Err((e, stream)) => Err(classify(&e, &stream.first[..stream.len as usize])),
        }
    }
}

impl Default for TlsConfig {
    /// [`TlsConfig::mozilla`].
    fn default() -> Self {
        TlsConfig::mozilla()
    }
}

impl PartialEq for TlsConfig {
    /// The same trust and the same shared configuration.
    fn eq(&self, other: &Self) -> bool {
        self.trust == other.trust && Arc::ptr_eq(&self.config, &other.config)
    }
}

impl Eq for TlsConfig {}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trust = match self.trust {
            Trust::Mozilla => "mozilla roots".to_owned(),
            Trust::Bundle(n) => format!("{n} certificates from a PEM bundle"),
            Trust::Insecure => "insecure (no verification)".to_owned(),
        };
        f.debug_struct("TlsConfig").field("trust", &trust).finish()
    }
}

/// The TLS side of a fetched `https://` head: what was negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: &'static str,
    /// The ALPN protocol the server chose, if it chose one: only `http/1.1` is offered (and
    /// rustls refuses a server that picks anything else).
    pub alpn: Option<&'static str>,
}

impl TlsInfo {
    pub(crate) fn of<S>(stream: &TlsStream<S>) -> TlsInfo {
        let (_, conn) = stream.get_ref();
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "TLS",
        };
        TlsInfo {
            version,
            alpn: conn.alpn_protocol().map(|_| "http/1.1"),
        }
    }
}

/// Why TLS failed: the handshake (most kinds), or the TLS layer after it, while reading the
/// head ([`TlsError::Alert`], [`TlsError::Protocol`]). [`TlsError::kind`] names each for
/// counting and JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate chain does not lead to a trusted root (self-signed, private CA ...).
    UnknownIssuer,
    /// The certificate (or one in its chain) has expired.
    Expired,
    /// The certificate is valid, but not for this host name or IP address.
    NameMismatch {
        /// What the target asked for.
        expected: String,
    },
    /// Another certificate problem (not yet valid, bad signature, revoked ...).
    BadCertificate(String),
    /// The handshake failed otherwise: the server sent an alert (no common cipher or
    /// version ...), closed the connection, or misbehaved.
    Handshake(String),
    /// The server does not speak TLS: it answered with plain HTTP or something else; holds the
    /// start of what came (escaped, at most 40 bytes).
    NotTls(String),
    /// After the handshake, the server sent a fatal alert instead of a reply (`internal error`,
    /// `certificate required` ...); holds the alert's name in words.
    Alert(String),
    /// After the handshake, the TLS layer failed otherwise: a record that does not decrypt (bad
    /// record MAC), an unexpected message ...; holds rustls' reason.
    Protocol(String),
}

impl TlsError {
    /// `unknown-issuer`, `expired`, `name-mismatch`, `bad-certificate`, `handshake`, `not-tls`,
    /// `tls-alert`, `tls-protocol`.
    pub fn kind(&self) -> &'static str {
        match self {
            TlsError::UnknownIssuer => "unknown-issuer",
            TlsError::Expired => "expired",
            TlsError::NameMismatch { .. } => "name-mismatch",
            TlsError::BadCertificate(_) => "bad-certificate",
            TlsError::Handshake(_) => "handshake",
            TlsError::NotTls(_) => "not-tls",
            TlsError::Alert(_) => "tls-alert",
            TlsError::Protocol(_) => "tls-protocol",
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::UnknownIssuer => f.write_str("tls: certificate issued by an unknown ca"),
            TlsError::Expired => f.write_str("tls: certificate expired"),
            TlsError::NameMismatch { expected } => {
                write!(f, "tls: certificate is not valid for {expected}")
            }
            TlsError::BadCertificate(why) => write!(f, "tls: bad certificate: {why}"),
            TlsError::Handshake(why) => write!(f, "tls: handshake failed: {why}"),
            TlsError::NotTls(start) => write!(f, "not tls: \"{start}\""),
            TlsError::Alert(alert) => write!(f, "tls: peer sent alert: {alert}"),
            TlsError::Protocol(why) => write!(f, "tls: protocol error after the handshake: {why}"),
        }
    }
}

/// Turns a handshake's I/O error into a fetch error: rustls' own errors become [`TlsError`]s,
/// the connection's (refused, reset) stay what they are. `first` is what the server sent.
fn classify(e: &io::Error, first: &[u8]) -> FetchError {
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => FetchError::Tls(TlsError::Handshake(
                "connection closed during the handshake".to_owned(),
            )),
            _ => FetchError::from_io(e, crate::Phase::Tls),
        };
    };
    let error = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => TlsError::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsError::Expired
            }
            CertificateError::NotValidForNameContext { expected, .. } => TlsError::NameMismatch {
                expected: server_name(expected),
            },
            CertificateError::NotValidForName => TlsError::NameMismatch {
                expected: "this host".to_owned(),
            },
            other => TlsError::BadCertificate(certificate_problem(other)),
        },
        // A record that is no TLS record at all: the server speaks something else.
        rustls::Error::InvalidMessage(_) => TlsError::NotTls(escape_bytes(first_line(first))),
        rustls::Error::AlertReceived(alert) => {
            TlsError::Handshake(format!("peer sent alert: {}", alert_name(*alert)))
        }
        other => TlsError::Handshake(lowercase(other)),
    };
    FetchError::Tls(error)
}

/// Turns an error reading the head through an established TLS stream into a fetch error: the
/// TLS layer's own failures (futures-rustls hands them over as an `InvalidData` I/O error
/// wrapping the [`rustls::Error`]) become [`TlsError::Alert`] or [`TlsError::Protocol`], the
/// socket's stay what they are. (An end of stream without close_notify is no error here: the
/// read loop takes it for the end, as plain HTTP's.)
pub(crate) fn classify_read(e: io::Error) -> FetchError {
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return FetchError::from_io(&e, crate::Phase::Read);
    };
    FetchError::Tls(match tls {
        rustls::Error::AlertReceived(alert) => TlsError::Alert(alert_name(*alert)),
        other => TlsError::Protocol(lowercase(other)),
    })
}

/// An alert in words, as the RFC names it: `InternalError` is `internal error` (what curl over
/// OpenSSL prints as `tlsv1 alert internal error`).
fn alert_name(alert: rustls::AlertDescription) -> String {
    match alert {
        // Its Debug text is `AlertDescription(0x99)`.
        rustls::AlertDescription::Unknown(n) => format!("unknown alert {n}"),
        alert => camel_to_words(&format!("{alert:?}")),
    }
}

/// What is wrong with PEM data, in words: rustls-pki-types shows the END marker it missed as a
/// byte array and a bad BEGIN line with its line break.
fn pem_problem(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "no \"-----END {}-----\" line (the data is cut short)",
            escape_bytes(end_marker)
        ),
        Error::IllegalSectionStart { line } => {
            let line = line.trim_ascii_end();
            format!("malformed line \"{}\"", escape_bytes(line))
        }
        other => other.to_string(),
    }
}

/// Why a trust anchor was refused: rustls says `invalid peer certificate: BadEncoding`, but
/// this certificate came from the user's own file, not from a peer.
fn anchor_problem(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(problem) => certificate_problem(problem),
        other => other.to_string(),
    }
}

/// `CaUsedAsEndEntity` as `ca used as end entity`; a run of capitals is one word
/// (`UnknownPSKIdentity` as `unknown psk identity`, not `unknown p s k identity`).
fn camel_to_words(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut words = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let after_lower = !chars[i - 1].is_ascii_uppercase();
            let starts_word = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if after_lower || starts_word {
                words.push(' ');
            }
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

fn server_name(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => "this host".to_owned(),
    }
}

/// Words for a certificate problem: rustls' text where it has some, else webpki's error name
/// split into words (`CaUsedAsEndEntity`: `ca used as end entity`).
fn certificate_problem(e: &CertificateError) -> String {
    let text = match e {
        CertificateError::Other(other) => other.to_string(),
        e => e.to_string(),
    };
    if text.contains(' ') {
        return text.to_lowercase();
    }
    camel_to_words(&text)
}

fn lowercase(e: &impl fmt::Display) -> String {
    e.to_string().to_lowercase()
}

/// The first line of `bytes` (at most 40 bytes), without its line end.
fn first_line(bytes: &[u8]) -> &[u8] {
    let first = &bytes[..bytes.len().min(40)];
    let line = first.split(|&b| b == b'\n').next().unwrap_or(first);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Accepts every certificate (`--insecure`), still checking handshake signatures.
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A stream that keeps a copy of the first bytes read from it, so that a server answering the
/// handshake with plain HTTP can be quoted in the error.
#[derive(Debug)]
pub(crate) struct Recording<S> {
    inner: S,
    first: [u8; 40],
    len: u8,
}

impl<S> Recording<S> {
    fn new(inner: S) -> Recording<S> {
        Recording {
            inner,
            first: [0; 40],
            len: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = futures_lite::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let have = this.len as usize;
        if have < this.first.len() {
            let take = n.min(this.first.len() - have);
            this.first[have..have + take].copy_from_slice(&buf[..take]);
            this.len += take as u8;
        }
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    /// Passed through, not left to the default (which writes the first slice only): rustls
    /// hands its records over as one vectored write, so the client's last flight (the
    /// ChangeCipherSpec, Finished and the request's record) leaves in one `writev` and one
    /// segment rather than three `sendto`s and, with TCP_NODELAY, three segments for the
    /// server to take in (client and nginx CPU per handshake both drop).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that notes how many slices each write brought.
    struct Slices(Vec<usize>);

    impl AsyncWrite for Slices {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.0.push(bufs.len());
            Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn records_go_out_in_one_vectored_write() {
        let mut stream = Recording::new(Slices(Vec::new()));
        let records: [&[u8]; 3] = [b"change cipher spec", b"finished", b"request"];
        let bufs = records.map(io::IoSlice::new);
        let written = futures_lite::future::block_on(futures_lite::AsyncWriteExt::write_vectored(
            &mut stream,
            &bufs,
        ))
        .unwrap();
        assert_eq!(written, 33);
        assert_eq!(stream.inner.0, [3]);
    }

    /// What is wrong with a `--cacert` file is said in words (rustls-pki-types shows a missing
    /// END marker as a byte array, `[67, 69, 82, ...]`, and a bad certificate as a peer's).
    #[test]
    fn names_what_is_wrong_with_pem_data() {
        let problem = |pem: &[u8]| TlsConfig::from_pem(pem).unwrap_err().to_string();
        assert_eq!(
            problem(b"-----BEGIN CERTIFICATE-----\nMIIB\n"),
            r#"invalid PEM data: no "-----END CERTIFICATE-----" line (the data is cut short)"#
        );
        assert_eq!(
            problem(b"-----BEGIN CERTIFICATE--\nMIIB\n-----END CERTIFICATE-----\n"),
            r#"invalid PEM data: malformed line "-----BEGIN CERTIFICATE--""#
        );
        assert_eq!(
            problem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            "invalid certificate (number 1 in the PEM data): bad encoding"
        );
    }

    #[test]
    fn names_alerts_in_the_rfc_words() {
        for (alert, name) in [
            (rustls::AlertDescription::InternalError, "internal error"),
            (rustls::AlertDescription::BadRecordMac, "bad record mac"),
            // Acronyms are one word each, as the RFC's unknown_ca and unknown_psk_identity.
            (rustls::AlertDescription::UnknownCA, "unknown ca"),
            (
                rustls::AlertDescription::UnknownPSKIdentity,
                "unknown psk identity",
            ),
            (rustls::AlertDescription::Unknown(0x99), "unknown alert 153"),
        ] {
            assert_eq!(alert_name(alert), name);
        }
        assert_eq!(camel_to_words("CaUsedAsEndEntity"), "ca used as end entity");
    }
}
