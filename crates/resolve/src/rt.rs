//! The timers lookups wait on: on Unix, the calling thread's own loop when it runs one
//! (fdwatch's `local::block_on`, as tulip-headers' fetch workers do), async-io's otherwise;
//! elsewhere async-io's. (The shared sockets stay on async-io's reactor: they outlive any one
//! thread's loop.)

#[cfg(unix)]
pub(crate) use fdwatch::local::Timer;

#[cfg(not(unix))]
pub(crate) use async_io::Timer;
