//! The sockets and timers lookups wait on: on Unix, the calling thread's own loop when it runs
//! one (fdwatch's `local::block_on`, as tulip-headers' fetch workers do), async-io's otherwise;
//! elsewhere async-io's.

#[cfg(unix)]
pub(crate) use fdwatch::local::{Async, Timer, loop_id};

#[cfg(not(unix))]
pub(crate) use async_io::{Async, Timer};

/// Without loops of our own, every socket is async-io's.
#[cfg(not(unix))]
pub(crate) fn loop_id() -> Option<u64> {
    None
}
