//! TLS for `https://` targets, with rustls on the `ring` provider: the client configuration
//! ([`TlsConfig`], built once and shared by every fetch of a run), the handshake (SNI from the
//! host name; an IP literal gets none and is verified against the certificate's IP addresses),
//! the leaf certificate's facts (kept even when verification refuses it), and turning rustls'
//! failures into a [`TlsError`] a user can act on.

mod error;
mod record;
mod tickets;
mod verify;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::crypto::hash::HashAlgorithm;
use rustls::{ClientConfig, RootCertStore, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

pub use error::TlsError;
pub(crate) use error::{Failure, classify_read};
pub(crate) use record::Recording;

use crate::cert::Certificate;
use crate::fetch::Progress;
use crate::target::Target;
use error::{anchor_problem, classify, pem_problem, refused};
use tickets::TicketStore;
use verify::{NoVerification, Showing};

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

/// Why a trust bundle could not be used; the message names it, and a file that could not be read
/// keeps its I/O error as the [`source`](std::error::Error::source).
#[derive(Debug, Clone)]
pub struct TlsConfigError {
    message: String,
    io: Option<Arc<io::Error>>,
}

impl TlsConfigError {
    fn new(message: String) -> TlsConfigError {
        TlsConfigError { message, io: None }
    }
}

impl PartialEq for TlsConfigError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for TlsConfigError {}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io.as_deref().map(|e| e as _)
    }
}

/// ring's provider, with the suites hashing with SHA-256 offered first: a client reading heads
/// gains nothing from AES-256, and SHA-384's key schedule (SHA-512 blocks, which few CPUs
/// accelerate) costs far more per handshake than SHA-256 on the CPU's SHA extensions. Browsers
/// order them the same way; every suite stays offered.
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

fn with_roots(roots: RootCertStore) -> ClientConfig {
    let provider = provider();
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("callers pass at least one root");
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let verifier = Arc::new(Showing(webpki));
    finish(
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    )
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
            let cert = cert.map_err(|e| {
                TlsConfigError::new(format!("invalid PEM data: {}", pem_problem(&e)))
            })?;
            roots.add(cert).map_err(|e| {
                TlsConfigError::new(format!(
                    "invalid certificate (number {} in the PEM data): {}",
                    i + 1,
                    anchor_problem(&e)
                ))
            })?;
        }
        if roots.is_empty() {
            return Err(TlsConfigError::new(
                "no certificates in the PEM data".to_owned(),
            ));
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
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            TlsConfigError {
                message: format!("cannot read {}: {text}", path.display()),
                io: Some(Arc::new(e)),
            }
        })?;
        TlsConfig::from_pem(&pem)
            .map_err(|e| TlsConfigError::new(format!("{}: {}", path.display(), e.message)))
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

    /// The escape hatch to rustls: the configuration itself, to build connections of your own
    /// with the same trust and session cache. The only place this crate's API names a rustls
    /// type, so it moves with rustls' major versions; everything else is this crate's own.
    pub fn client_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Connects TLS over `stream` to `target`, mapping a failure to a typed error. `request` is
    /// queued before the handshake starts, so that rustls sends it with its `Finished` message
    /// (one write and one segment fewer per connection; never as 0-RTT early data). The phase
    /// turns to [`Phase::Tls`](crate::Phase::Tls) once the connection takes the first bytes (the
    /// TCP connection is up), and the leaf certificate's facts go to `progress`, whether it
    /// was accepted or refused.
    pub(crate) async fn handshake<'p, S>(
        &self,
        target: &Target,
        stream: S,
        request: &[u8],
        progress: &'p Progress,
    ) -> Result<TlsStream<Recording<'p, S>>, Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = match target.ip() {
            // No SNI for an IP address (RFC 6066); the certificate must name the IP.
            Some(ip) => ServerName::IpAddress(ip.into()),
            None => ServerName::try_from(target.host().to_owned()).map_err(|_| {
                Failure::Tls(TlsError::Handshake(format!(
                    "invalid server name {:?}",
                    target.host()
                )))
            })?,
        };
        let connector = TlsConnector::from(self.config.clone());
        let stream = Recording::new(stream, progress);
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
            Ok(stream) => {
                // The chain rustls kept: the one verified now, or the one a resumed session
                // was verified with.
                let chain = stream.get_ref().1.peer_certificates().unwrap_or_default();
                if let Some(leaf) = chain.first() {
                    progress.set_cert(Certificate::from_der(leaf, chain.len(), SystemTime::now()));
                }
                Ok(stream)
            }
            Err((e, stream)) => {
                if let Some(refused) = refused(&e) {
                    let (leaf, len) = (&refused.leaf, refused.chain_len);
                    progress.set_cert(Certificate::from_der(leaf, len, SystemTime::now()));
                }
                Err(classify(e, &stream.first[..stream.len as usize]))
            }
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
