//! Why a fetch failed: [`FetchError`], which nests the error of the layer that failed (the
//! head parser's [`HeadError`], TLS's [`TlsError`], the socket's [`io::Error`] with the
//! [`Phase`] it struck in), each reachable through [`std::error::Error::source`].

use std::fmt;
use std::io;
use std::sync::Arc;

pub use resolve::DnsError;

use crate::head::HeadError;
#[cfg(feature = "tls")]
use crate::tls::TlsError;

/// The phase of an exchange, to say where a timeout or an I/O error struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Resolving the host name.
    Dns,
    /// Connecting.
    Connect,
    /// The TLS handshake (`https://` targets).
    Tls,
    /// Sending the request.
    Write,
    /// Reading the head.
    Read,
}

impl Phase {
    /// `"dns"`, `"connect"`, `"tls"`, `"write"` or `"read"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Write => "write",
            Phase::Read => "read",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why fetching one head failed. Messages are short and lowercase; [`FetchError::kind`] gives
/// a stable one-word name for counting and JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// The host name did not resolve: no such host, no address, a server failure ... (a lookup
    /// that ran out of time is a [`FetchError::Timeout`] in [`Phase::Dns`]).
    Dns(DnsError),
    /// The connection was refused: nothing listens on that port.
    Refused,
    /// The connection was reset (or the peer vanished while we wrote).
    Reset,
    /// The deadline (or the connect timeout) passed, in this phase.
    Timeout(Phase),
    /// The connection ended before the head was complete, after this many bytes.
    Truncated {
        /// Bytes received before the end of stream.
        received: usize,
    },
    /// The reply is not a head we accept: not HTTP, too large, malformed.
    Head(HeadError),
    /// TLS failed (`https://` targets): the handshake, or the TLS layer while reading the head
    /// (an alert, a record that does not decrypt).
    #[cfg(feature = "tls")]
    Tls(TlsError),
    /// A redirect could not be followed (`-L`).
    Redirect(RedirectError),
    /// Any other I/O error (unreachable network ...).
    Io(IoError),
}

impl FetchError {
    /// A stable one-word name: `dns`, `refused`, `reset`, `timeout`, `truncated`, `io`; for a
    /// head the parser refused its [`HeadError::kind`] (`not-http`, `too-large`,
    /// `too-many-headers`, `invalid`); for TLS failures the [`TlsError::kind`]
    /// (`unknown-issuer`, `expired`, `name-mismatch`, `bad-certificate`, `handshake`, `not-tls`,
    /// `tls-alert`, `tls-protocol`, `expires-soon`); for redirects the [`RedirectError::kind`]
    /// (`redirect-loop`, `too-many-redirects`, `bad-redirect`).
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Dns(_) => "dns",
            FetchError::Refused => "refused",
            FetchError::Reset => "reset",
            FetchError::Timeout(_) => "timeout",
            FetchError::Truncated { .. } => "truncated",
            FetchError::Head(e) => e.kind(),
            #[cfg(feature = "tls")]
            FetchError::Tls(e) => e.kind(),
            FetchError::Redirect(e) => e.kind(),
            FetchError::Io(_) => "io",
        }
    }

    /// Classifies an I/O error from one phase.
    pub(crate) fn from_io(e: io::Error, phase: Phase) -> FetchError {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => FetchError::Refused,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => FetchError::Reset,
            io::ErrorKind::TimedOut => FetchError::Timeout(phase),
            _ => FetchError::Io(IoError {
                phase,
                error: Arc::new(e),
            }),
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Dns(e) => write!(f, "dns: {e}"),
            FetchError::Refused => f.write_str("connection refused"),
            FetchError::Reset => f.write_str("connection reset"),
            FetchError::Timeout(phase) => write!(f, "timeout ({phase})"),
            FetchError::Truncated { received: 0 } => {
                f.write_str("connection closed before any reply")
            }
            FetchError::Truncated { received } => {
                write!(f, "head cut short by end of stream after {received} bytes")
            }
            FetchError::Head(e) => e.fmt(f),
            #[cfg(feature = "tls")]
            FetchError::Tls(e) => e.fmt(f),
            FetchError::Redirect(e) => e.fmt(f),
            FetchError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Dns(e) => Some(e),
            FetchError::Head(e) => Some(e),
            #[cfg(feature = "tls")]
            FetchError::Tls(e) => Some(e),
            FetchError::Redirect(e) => Some(e),
            FetchError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DnsError> for FetchError {
    fn from(e: DnsError) -> Self {
        match e {
            DnsError::Timeout => FetchError::Timeout(Phase::Dns),
            e => FetchError::Dns(e),
        }
    }
}

impl From<HeadError> for FetchError {
    fn from(e: HeadError) -> Self {
        FetchError::Head(e)
    }
}

impl From<RedirectError> for FetchError {
    fn from(e: RedirectError) -> Self {
        FetchError::Redirect(e)
    }
}

#[cfg(feature = "tls")]
impl From<TlsError> for FetchError {
    fn from(e: TlsError) -> Self {
        FetchError::Tls(e)
    }
}

/// An I/O error, with the phase it struck in; its message is the system's, lowercased, and the
/// [`io::Error`] itself (kind, OS error number) is the [`source`](std::error::Error::source).
#[derive(Debug, Clone)]
pub struct IoError {
    phase: Phase,
    error: Arc<io::Error>,
}

impl IoError {
    /// The phase the error struck in.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The I/O error itself.
    pub fn io_error(&self) -> &io::Error {
        &self.error
    }
}

impl PartialEq for IoError {
    fn eq(&self, other: &Self) -> bool {
        self.phase == other.phase
            && self.error.kind() == other.error.kind()
            && self.error.raw_os_error() == other.error.raw_os_error()
    }
}

impl Eq for IoError {}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.to_string().to_lowercase())
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// Why following redirects stopped short of a final head.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectError {
    /// The chain came back to a URL already fetched in it.
    Loop {
        /// The URL the chain came back to.
        url: String,
    },
    /// The chain redirected more than [`Options::max_redirects`](crate::Options) times.
    TooMany {
        /// The cap.
        limit: usize,
    },
    /// A `Location` that cannot be followed (unsupported scheme, bad host, credentials ...);
    /// the message quotes it, its password as `***`.
    Bad(String),
}

impl RedirectError {
    /// `redirect-loop`, `too-many-redirects` or `bad-redirect`.
    pub fn kind(&self) -> &'static str {
        match self {
            RedirectError::Loop { .. } => "redirect-loop",
            RedirectError::TooMany { .. } => "too-many-redirects",
            RedirectError::Bad(_) => "bad-redirect",
        }
    }
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectError::Loop { url } => write!(f, "redirect loop: back to {url}"),
            RedirectError::TooMany { limit } => write!(f, "more than {limit} redirects"),
            RedirectError::Bad(why) => write!(f, "cannot follow redirect {why}"),
        }
    }
}

impl std::error::Error for RedirectError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn io_errors_keep_their_kind_and_os_error_as_source() {
        let e = FetchError::from_io(io::Error::from_raw_os_error(101), Phase::Connect);
        assert_eq!(e.kind(), "io");
        let FetchError::Io(io) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(io.phase(), Phase::Connect);
        assert_eq!(io.io_error().raw_os_error(), Some(101));
        let source = e.source().and_then(|s| s.source()).unwrap();
        assert_eq!(
            source.downcast_ref::<io::Error>().unwrap().raw_os_error(),
            Some(101)
        );
        assert_eq!(e.to_string(), e.to_string().to_lowercase());
    }

    #[test]
    fn nested_errors_keep_the_messages_and_kinds() {
        let e = FetchError::Head(HeadError::NotHttp("SSH-2.0".into()));
        assert_eq!(
            (e.kind(), e.to_string()),
            ("not-http", "not http: \"SSH-2.0\"".into())
        );
        let e = FetchError::Redirect(RedirectError::TooMany { limit: 3 });
        assert_eq!(
            (e.kind(), e.to_string()),
            ("too-many-redirects", "more than 3 redirects".into())
        );
        assert!(e.source().is_some());
    }
}
