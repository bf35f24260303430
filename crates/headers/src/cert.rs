//! The facts of a server's leaf certificate, as a fleet check wants them: who it names, who
//! issued it, when it expires and how many days that leaves, and its SHA-256 fingerprint.
//! Parsed with x509-parser once the handshake is over (or once verification refused it), never
//! by hand, and only the leaf: the rest of the chain is counted, not read.

use std::time::{Duration, SystemTime};

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Seconds in a day, for [`Certificate::days_left`].
const DAY: i64 = 86_400;

/// A server's leaf certificate: what it says (subject, issuer, names, validity) and its
/// fingerprint, with the length of the chain it came in.
///
/// [`Outcome::cert`](crate::Outcome::cert) holds one for every `https://` target whose server
/// presented a certificate, whether the fetch then succeeded or not: an expired certificate's
/// dates, or a wrong one's names, are what the user needs to see.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tulip_headers::Certificate;
///
/// assert!(Certificate::from_der(b"not a certificate", 1, SystemTime::now()).is_none());
/// assert_eq!(
///     Certificate::rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 365)),
///     "1971-01-01T00:00:00Z"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The subject's distinguished name, as `CN=example.com, O=Example` (in the certificate's
    /// order). Raw text from the server: escape it before printing it to a terminal.
    pub subject: String,
    /// The issuer's distinguished name, in the same form.
    pub issuer: String,
    /// The subject alternative names: DNS names as written (`*.example.com`), IP addresses in
    /// their usual text form. Other kinds of names (e-mail, URI) are left out.
    pub sans: Vec<String>,
    /// The start of the validity period.
    pub not_before: SystemTime,
    /// The end of the validity period.
    pub not_after: SystemTime,
    /// Whole days from when the certificate was seen to `not_after`, rounded down: 0 in its
    /// last day, negative once expired (-1 in the first day after).
    pub days_left: i64,
    /// The SHA-256 digest of the certificate's DER encoding (what `openssl x509 -fingerprint
    /// -sha256` prints).
    pub sha256: [u8; 32],
    /// How many certificates the server sent, the leaf included.
    pub chain_len: usize,
}

impl Certificate {
    /// Parses a DER-encoded leaf certificate seen at `now`, that came in a chain of
    /// `chain_len`; `None` if x509-parser cannot read it (a server is free to send anything
    /// when nothing verifies it).
    pub fn from_der(der: &[u8], chain_len: usize, now: SystemTime) -> Option<Certificate> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let validity = cert.validity();
        let not_before = validity.not_before.timestamp();
        let not_after = validity.not_after.timestamp();
        let sans = match cert.subject_alternative_name() {
            Ok(Some(ext)) => ext.value.general_names.iter().filter_map(name).collect(),
            _ => Vec::new(),
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut sha256 = [0; 32];
        sha256.copy_from_slice(digest.as_ref());
        Some(Certificate {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sans,
            not_before: system_time(not_before),
            not_after: system_time(not_after),
            days_left: (not_after - unix_seconds(now)).div_euclid(DAY),
            sha256,
            chain_len,
        })
    }

    /// Whether the certificate expires (or expired) within `within` of `now`: `not_after` is at
    /// most that far ahead.
    pub fn expires_within(&self, within: Duration, now: SystemTime) -> bool {
        now.checked_add(within)
            .is_none_or(|line| self.not_after <= line)
    }

    /// [`Certificate::days_left`] in words: `30 days left`, `1 day left`, `0 days left` (the
    /// last day), `expired less than a day ago`, `expired 1 day ago`, `expired 3 days ago`.
    pub fn time_left(&self) -> String {
        match self.days_left {
            1 => "1 day left".to_owned(),
            n if n >= 0 => format!("{n} days left"),
            n => format!("expired {}", days_ago(n)),
        }
    }

    /// The fingerprint as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        use std::fmt::Write as _;
        self.sha256
            .iter()
            .fold(String::with_capacity(64), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }

    /// A time as RFC 3339 in UTC to the second: `2026-03-01T12:00:00Z`.
    pub fn rfc3339(time: SystemTime) -> String {
        let time = time::OffsetDateTime::from_unix_timestamp(unix_seconds(time))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let well_known = time::format_description::well_known::Rfc3339;
        time.format(&well_known)
            .unwrap_or_else(|_| "(out of range)".to_owned())
    }
}

/// How long ago a certificate with `days_left` (negative) expired: -1 is less than a day ago,
/// -2 one day ago (rounded down, as the days left are).
pub(crate) fn days_ago(days_left: i64) -> String {
    match -days_left - 1 {
        0 => "less than a day ago".to_owned(),
        1 => "1 day ago".to_owned(),
        n => format!("{n} days ago"),
    }
}

/// A SAN as text: DNS names and IP addresses only.
fn name(general: &GeneralName<'_>) -> Option<String> {
    match general {
        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).ok()?).to_string()),
            16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).ok()?).to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn system_time(unix: i64) -> SystemTime {
    let offset = Duration::from_secs(unix.unsigned_abs());
    if unix >= 0 {
        SystemTime::UNIX_EPOCH + offset
    } else {
        SystemTime::UNIX_EPOCH - offset
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        // Rounded down, as a timestamp is.
        Err(before) => -(before.duration().as_secs_f64().ceil() as i64),
    }
}
