//! What went wrong in TLS, in words a user can act on: rustls' failures classified into
//! [`TlsError`]s, and PEM and trust-anchor problems named.

use std::fmt;
use std::io;

use rustls::CertificateError;
use rustls_pki_types::ServerName;

use super::verify::Refused;
use crate::cert::days_ago;
use crate::escape::escape_bytes;

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
    /// The certificate is good but expires within
    /// [`Options::expires_within`](crate::Options::expires_within): it needs renewing. Holds its
    /// [`Certificate::days_left`](crate::Certificate::days_left).
    ExpiresSoon {
        /// Whole days left (negative: expired that long ago, seen only without verification).
        days_left: i64,
    },
}

impl TlsError {
    /// `unknown-issuer`, `expired`, `name-mismatch`, `bad-certificate`, `handshake`, `not-tls`,
    /// `tls-alert`, `tls-protocol`, `expires-soon`.
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
            TlsError::ExpiresSoon { .. } => "expires-soon",
        }
    }
}

impl std::error::Error for TlsError {}

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
            TlsError::ExpiresSoon { days_left } => match days_left {
                ..0 => write!(f, "certificate expired {}", days_ago(*days_left)),
                0 => f.write_str("certificate expires within a day"),
                1 => f.write_str("certificate expires in 1 day"),
                n => write!(f, "certificate expires in {n} days"),
            },
        }
    }
}

/// A TLS operation's failure: TLS's own, or the socket's under it (refused, reset ...), which
/// the caller classifies as for any connection.
#[derive(Debug)]
pub(crate) enum Failure {
    Tls(TlsError),
    Io(io::Error),
}

/// Classifies a handshake's I/O error: rustls' own errors become [`TlsError`]s, the
/// connection's stay I/O errors. `first` is what the server sent.
pub(super) fn classify(e: io::Error, first: &[u8]) -> Failure {
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => Failure::Tls(TlsError::Handshake(
                "connection closed during the handshake".to_owned(),
            )),
            _ => Failure::Io(e),
        };
    };
    let error = match tls {
        rustls::Error::InvalidCertificate(cert) => match refused_reason(cert) {
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
    Failure::Tls(error)
}

/// The certificate the verifier refused, when that is what ended the handshake.
pub(super) fn refused(e: &io::Error) -> Option<&Refused> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<Refused>()
        }
        _ => None,
    }
}

/// What is wrong with a certificate: the reason inside a [`Refused`], or the error itself.
fn refused_reason(e: &CertificateError) -> &CertificateError {
    match e {
        CertificateError::Other(other) => match other.0.downcast_ref::<Refused>() {
            Some(refused) => &refused.reason,
            None => e,
        },
        e => e,
    }
}

/// Classifies an error reading the head through an established TLS stream: the
/// TLS layer's own failures (futures-rustls hands them over as an `InvalidData` I/O error
/// wrapping the [`rustls::Error`]) become [`TlsError::Alert`] or [`TlsError::Protocol`], the
/// socket's stay what they are. (An end of stream without close_notify is no error here: the
/// read loop takes it for the end, as plain HTTP's.)
pub(crate) fn classify_read(e: io::Error) -> Failure {
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return Failure::Io(e);
    };
    Failure::Tls(match tls {
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
pub(super) fn pem_problem(e: &rustls_pki_types::pem::Error) -> String {
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
pub(super) fn anchor_problem(e: &rustls::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
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
