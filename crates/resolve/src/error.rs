//! The resolver's errors: one for lookups, one for configuration, one for `HOST:PORT:ADDR` pins.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a lookup failed.
///
/// Cloneable (the I/O cause is shared) because one failed query answers every lookup that
/// waited on it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN), under every search domain tried.
    NoSuchHost,
    /// The name exists but has no address of the families asked (NOERROR with an empty
    /// answer), or a hosts entry, pin or IP literal has none of the resolver's [`Family`](crate::Family).
    NoAddress,
    /// Every server answered SERVFAIL or REFUSED (or another error code).
    ServerFailure,
    /// No usable answer before the deadline or after every attempt.
    Timeout,
    /// The name cannot be put in a query (empty, a label over 63 bytes, ...).
    InvalidName(String),
    /// A socket failed.
    Io(Arc<io::Error>),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NoSuchHost => f.write_str("no such host"),
            DnsError::NoAddress => f.write_str("no address"),
            DnsError::ServerFailure => f.write_str("server failure"),
            DnsError::Timeout => f.write_str("timeout"),
            DnsError::InvalidName(name) => write!(f, "invalid name {name:?}"),
            DnsError::Io(_) => f.write_str("i/o error"),
        }
    }
}

impl PartialEq for DnsError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (DnsError::InvalidName(a), DnsError::InvalidName(b)) => a == b,
            (DnsError::Io(a), DnsError::Io(b)) => a.kind() == b.kind(),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for DnsError {}

impl std::error::Error for DnsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DnsError::Io(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<io::Error> for DnsError {
    fn from(e: io::Error) -> Self {
        DnsError::Io(Arc::new(e))
    }
}

/// Why a resolver could not be configured.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration file (resolv.conf, hosts) could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line of resolv.conf is not understood.
    Parse {
        /// The file.
        path: PathBuf,
        /// Its line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// No nameserver was given (and none is wanted from the system).
    NoNameservers,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, .. } => write!(f, "cannot read {}", path.display()),
            ConfigError::Parse { path, line, reason } => {
                write!(f, "{}:{line}: {reason}", path.display())
            }
            ConfigError::NoNameservers => f.write_str("no nameservers"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a `HOST:PORT:ADDR` pin (curl's `--resolve` syntax) was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinError {
    input: String,
    reason: &'static str,
}

impl PinError {
    pub(crate) fn new(input: &str, reason: &'static str) -> PinError {
        PinError {
            input: input.to_owned(),
            reason,
        }
    }

    /// The rejected text.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pin {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for PinError {}
