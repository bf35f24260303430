//! The reactor lookups run on: on Unix, the calling thread's own loop when it runs one
//! (fdwatch's `local::block_on`, as tulip-headers' fetch workers do), async-io's otherwise;
//! elsewhere async-io's.

#[cfg(unix)]
pub(crate) use fdwatch::local::{Async, Timer};

#[cfg(not(unix))]
pub(crate) use async_io::{Async, Timer};
