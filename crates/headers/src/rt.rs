//! The reactor fetches run on: on Unix, the calling thread's own loop when it runs one (as
//! [`Many`](crate::Many)'s workers do), async-io's otherwise; elsewhere async-io's.

#[cfg(unix)]
pub(crate) use fdwatch::local::{Async, Idle, Timer, block_on, idle};

#[cfg(not(unix))]
pub(crate) use async_io::{Async, Timer, block_on};

/// Without a loop of our own there is no idle spell to wait for.
#[cfg(not(unix))]
pub(crate) type Idle = futures_lite::future::Ready<()>;

#[cfg(not(unix))]
pub(crate) fn idle() -> Idle {
    futures_lite::future::ready(())
}
