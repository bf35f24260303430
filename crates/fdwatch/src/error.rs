//! The one error type of adding a watch: which fd was refused and why.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

/// Why a file descriptor could not be watched.
///
/// Returned when a watch is added ([`EventLoop::add_reader`](crate::EventLoop::add_reader),
/// [`Watch::new`](crate::Watch::new), ...), so that a bad descriptor is reported at once instead
/// of becoming a watch that never fires.
#[derive(Debug)]
#[non_exhaustive]
pub enum WatchError {
    /// The fd is not an open file descriptor (`EBADF`): never opened, already closed, or negative.
    BadFd(RawFd),
    /// The fd is open but refers to something that cannot be watched for readiness (`EPERM`):
    /// regular files and directories, which are always ready.
    Unsupported(RawFd),
    /// Any other failure of the operating system while registering the fd.
    Io(RawFd, io::Error),
}

impl WatchError {
    /// Classifies the OS error returned while registering `fd`.
    pub(crate) fn from_io(fd: RawFd, err: io::Error) -> Self {
        match err.raw_os_error() {
            Some(code) if code == rustix::io::Errno::BADF.raw_os_error() => WatchError::BadFd(fd),
            Some(code) if code == rustix::io::Errno::PERM.raw_os_error() => {
                WatchError::Unsupported(fd)
            }
            _ => WatchError::Io(fd, err),
        }
    }

    /// The file descriptor that was refused.
    pub fn fd(&self) -> RawFd {
        match self {
            WatchError::BadFd(fd) | WatchError::Unsupported(fd) | WatchError::Io(fd, _) => *fd,
        }
    }
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::BadFd(fd) => write!(f, "fd {fd} is not an open file descriptor"),
            WatchError::Unsupported(fd) => write!(
                f,
                "fd {fd} cannot be watched for readiness (regular files and directories are always ready)"
            ),
            WatchError::Io(fd, err) => write!(f, "cannot watch fd {fd}: {err}"),
        }
    }
}

impl std::error::Error for WatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WatchError::Io(_, err) => Some(err),
            _ => None,
        }
    }
}

impl From<WatchError> for io::Error {
    fn from(err: WatchError) -> io::Error {
        let kind = match &err {
            WatchError::BadFd(_) => io::ErrorKind::InvalidInput,
            WatchError::Unsupported(_) => io::ErrorKind::PermissionDenied,
            WatchError::Io(_, e) => e.kind(),
        };
        io::Error::new(kind, err)
    }
}
