//! The certificate verifiers: webpki's, wrapped so that a certificate it refuses travels in the
//! error (its facts are shown even then), and the one of `--insecure`, which accepts every
//! certificate but still checks handshake signatures.

use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// webpki's verifier (what rustls' `with_root_certificates` builds), except that a certificate it
/// refuses comes back inside the error, as a [`Refused`]: a shared verifier has no other way to
/// hand a connection what that connection was shown. rustls then sends the alert
/// `certificate_unknown` rather than the reason's own (`certificate_expired` ...): the server
/// learns less, the user nothing less.
#[derive(Debug)]
pub(super) struct Showing(pub(super) Arc<WebPkiServerVerifier>);

/// A certificate the verifier refused: why, the leaf, and how many certificates came.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(super) reason: CertificateError,
    pub(super) leaf: CertificateDer<'static>,
    pub(super) chain_len: usize,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason.fmt(f)
    }
}

impl std::error::Error for Refused {}

impl ServerCertVerifier for Showing {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match verified {
            Err(rustls::Error::InvalidCertificate(reason)) => {
                let refused = Refused {
                    reason,
                    leaf: end_entity.clone().into_owned(),
                    chain_len: 1 + intermediates.len(),
                };
                let other = OtherError(Arc::new(refused));
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    other,
                )))
            }
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.0.root_hint_subjects()
    }
}

/// Accepts every certificate (`--insecure`), still checking handshake signatures.
#[derive(Debug)]
pub(super) struct NoVerification(pub(super) WebPkiSupportedAlgorithms);

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
