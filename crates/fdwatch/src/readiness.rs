//! What a readiness event means for the watcher: data (or room), end of file, or an error.
//!
//! The kernel reports bit sets (`EPOLLIN | EPOLLRDHUP | ...`); this module turns them into one
//! [`Readiness`] per direction, in one place for both the callback loop and the `await` form.

/// What happened on a watched file descriptor.
///
/// A reader is told [`Ready`](Readiness::Ready) while there are bytes to read — even after the
/// other side hung up, until they are drained — and [`Hangup`](Readiness::Hangup) once only the
/// end of file is left. A writer is told [`Ready`](Readiness::Ready) while a write would not
/// block and [`Hangup`](Readiness::Hangup) once the connection is shut down both ways.
/// Level-triggered: as long as the condition holds and the watch stands, it is reported again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Readiness {
    /// Data can be read (reader) or there is room to write (writer): the operation won't block.
    Ready,
    /// End of file / hang-up: the other side is gone and nothing is left to read; a read returns
    /// 0. For a writer, the connection is closed in both directions.
    Hangup,
    /// An error is pending on the fd (`EPOLLERR`): the next read or write reports it, and
    /// sockets give it with `take_error`. A pipe whose reading end was closed tells its writer
    /// this way (writes fail with `EPIPE`).
    Error,
}

/// The readiness bits the kernel reported, independent of epoll/poll spelling.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bits {
    pub readable: bool,
    pub writable: bool,
    /// The other side shut down its writing half (`EPOLLRDHUP`).
    pub read_hangup: bool,
    /// Hang-up: both halves are shut down, or a pipe's writer is gone (`EPOLLHUP`).
    pub hangup: bool,
    pub error: bool,
}

impl Bits {
    /// What the bits mean to a reader, or `None` if nothing concerns it. `pending` is asked for
    /// the number of unread bytes only when a hang-up might hide data still to be read.
    #[inline]
    pub fn for_reader(self, pending: impl FnOnce() -> Option<u64>) -> Option<Readiness> {
        if self.error {
            Some(Readiness::Error)
        } else if self.hangup || self.read_hangup {
            // The peer is gone, but what it sent before leaving is still readable: report data
            // until it is drained, so that no reader stops early. If the count is unavailable
            // (an fd type without FIONREAD), let the reader find the end of file itself.
            match pending() {
                Some(0) => Some(Readiness::Hangup),
                Some(_) => Some(Readiness::Ready),
                None if self.readable => Some(Readiness::Ready),
                None => Some(Readiness::Hangup),
            }
        } else if self.readable {
            Some(Readiness::Ready)
        } else {
            None
        }
    }

    /// What the bits mean to a writer, or `None` if nothing concerns it.
    #[inline]
    pub fn for_writer(self) -> Option<Readiness> {
        if self.error {
            Some(Readiness::Error)
        } else if self.hangup {
            Some(Readiness::Hangup)
        } else if self.writable {
            Some(Readiness::Ready)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_sees_data_before_the_end_of_file() {
        let bits = Bits {
            readable: true,
            read_hangup: true,
            ..Bits::default()
        };
        assert_eq!(bits.for_reader(|| Some(3)), Some(Readiness::Ready));
        assert_eq!(bits.for_reader(|| Some(0)), Some(Readiness::Hangup));
    }

    #[test]
    fn error_wins_over_data() {
        let bits = Bits {
            readable: true,
            writable: true,
            error: true,
            ..Bits::default()
        };
        assert_eq!(bits.for_reader(|| Some(3)), Some(Readiness::Error));
        assert_eq!(bits.for_writer(), Some(Readiness::Error));
    }

    #[test]
    fn writer_ignores_read_side_events() {
        let bits = Bits {
            readable: true,
            read_hangup: true,
            ..Bits::default()
        };
        assert_eq!(bits.for_writer(), None);
        let idle = Bits::default();
        assert_eq!(idle.for_reader(|| None), None);
    }
}
