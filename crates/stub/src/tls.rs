//! TLS for the stub servers: a certificate authority made at run time with rcgen ([`TestCa`]),
//! the server identities it issues ([`Identity`]: valid for 127.0.0.1 and localhost, expired,
//! for another name, or from a CA nobody trusts), and the rustls server configuration a TLS stub
//! ([`Stub::start_tls`](crate::Stub::start_tls)) serves with. Nothing is read from disk and
//! nothing is made with an openssl command: every run makes fresh keys (ECDSA P-256, fast).

use std::fmt;
use std::io;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::crypto::cipher::{OutboundChunks, OutboundPlainMessage};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    AlertDescription, ConnectionTrafficSecrets, ContentType, ProtocolVersion, ServerConfig,
    ServerConnection, SupportedCipherSuite,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

// A child module, to issue with the CAs' keys and build identities.
#[path = "certs.rs"]
mod certs;
pub use certs::{CertSpec, IntermediateCa};

/// A certificate authority made at run time, to issue server certificates that a client trusts
/// by being given [`TestCa::pem`] (`fetch-headers --cacert`; `fetch-headers --demo` makes one at
/// start and trusts it through `headers::TlsConfig::from_pem`).
///
/// ```
/// let ca = tulip_stub::TestCa::new("tulip test CA").unwrap();
/// assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// let identity = ca.issue(&["127.0.0.1", "localhost"]).unwrap();
/// let server = tulip_stub::Stub::start_tls(tulip_stub::Behavior::Ok, &identity).unwrap();
/// assert!(server.target().starts_with("https://127.0.0.1:"));
/// ```
pub struct TestCa {
    cert: CertificateDer<'static>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

fn rcgen_error(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("rcgen: {e}"))
}

impl TestCa {
    /// A new self-signed CA with a fresh key; `name` is its common name.
    pub fn new(name: &str) -> io::Result<TestCa> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let cert = params.self_signed(&key).map_err(rcgen_error)?;
        Ok(TestCa {
            pem: cert.pem(),
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA's certificate, PEM-encoded: what a client must trust.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The CA's certificate, DER-encoded.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The CA itself as a server identity: its self-signed CA certificate presented as the
    /// server's, as `openssl req -x509` makes. webpki (and so rustls) refuses it even when the
    /// CA is trusted: a CA certificate is no end-entity certificate.
    pub fn as_identity(&self) -> Identity {
        Identity {
            chain: vec![self.cert.clone()],
            key: self.issuer.key().serialize_der(),
            cert_pem: self.pem.clone(),
            key_pem: self.issuer.key().serialize_pem(),
            foreign_key: false,
        }
    }

    /// A server identity for `names` (DNS names or IP addresses), valid from a day ago for 90
    /// days and more ([`CertSpec::new`]).
    pub fn issue(&self, names: &[&str]) -> io::Result<Identity> {
        self.issue_spec(&CertSpec::new(names))
    }

    /// A server identity for `names` whose certificate expired 30 and a half days ago (a client
    /// sees `expired 30 days ago` for the next twelve hours).
    pub fn issue_expired(&self, names: &[&str]) -> io::Result<Identity> {
        let ago = std::time::Duration::from_secs(86_400 * 30 + 43_200);
        self.issue_spec(&CertSpec::new(names).expired_since(ago))
    }
}

/// A server's certificate chain and private key.
#[derive(Clone)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    cert_pem: String,
    key_pem: String,
    /// The key is not the certificate's ([`Identity::with_key_of`]).
    foreign_key: bool,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("foreign_key", &self.foreign_key)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The leaf certificate, PEM-encoded (e.g. for nginx's `ssl_certificate`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS#8 PEM-encoded (e.g. for nginx's `ssl_certificate_key`).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// This identity's certificates with `other`'s private key: a server presenting them signs
    /// its handshakes with a key that is not the certificate's, as one that does not hold the
    /// certificate's key would. Every client must refuse it, even one that checks nothing else.
    ///
    /// ```
    /// let ca = tulip_stub::TestCa::new("tulip test CA").unwrap();
    /// let cert = ca.issue(&["127.0.0.1"]).unwrap();
    /// let impostor = cert.with_key_of(&ca.issue(&["127.0.0.1"]).unwrap());
    /// assert_eq!(impostor.cert_pem(), cert.cert_pem());
    /// assert_ne!(impostor.key_pem(), cert.key_pem());
    /// ```
    pub fn with_key_of(&self, other: &Identity) -> Identity {
        Identity {
            chain: self.chain.clone(),
            key: other.key.clone(),
            cert_pem: self.cert_pem.clone(),
            key_pem: other.key_pem.clone(),
            foreign_key: true,
        }
    }

    /// The rustls server configuration serving this identity, offering ALPN `http/1.1`.
    pub fn server_config(&self) -> io::Result<Arc<ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let certified = if self.foreign_key {
            // `CertifiedKey::new` takes the pair as given; `from_der` would refuse it.
            let signer = provider
                .key_provider
                .load_private_key(key)
                .map_err(io::Error::other)?;
            CertifiedKey::new(self.chain.clone(), signer)
        } else {
            CertifiedKey::from_der(self.chain.clone(), key, &provider).map_err(io::Error::other)?
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Lets a stub encrypt a record of its own past rustls ([`encrypted_alert`]).
        config.enable_secret_extraction = true;
        Ok(Arc::new(config))
    }
}

/// A fatal `alert` as the next record of `session` (TLS 1.3, after the handshake and whatever
/// records were already sent), encrypted with its traffic keys: rustls sends no alert on
/// request, so a stub that wants to fail after the handshake encrypts one itself. `None` for a
/// TLS 1.2 session.
pub(crate) fn encrypted_alert(
    session: ServerConnection,
    alert: AlertDescription,
) -> Option<Vec<u8>> {
    let SupportedCipherSuite::Tls13(suite) = session.negotiated_cipher_suite()? else {
        return None;
    };
    let (seq, secrets) = session.dangerous_extract_secrets().ok()?.tx;
    let (key, iv) = match secrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
        | ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        | ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (key, iv),
        _ => return None,
    };
    // Level 2 is fatal.
    let payload = [2, u8::from(alert)];
    let message = OutboundPlainMessage {
        typ: ContentType::Alert,
        version: ProtocolVersion::TLSv1_2,
        payload: OutboundChunks::Single(&payload),
    };
    let record = suite
        .aead_alg
        .encrypter(key, iv)
        .encrypt(message, seq)
        .ok()?;
    Some(record.encode())
}
