//! fdwatch's behaviour through its public API, one module per topic.

#![cfg(unix)]

// Shared helpers: a time bound, socketpairs, a callback log.
mod support;

// The callback loop's asyncio semantics: replace, remove, call_soon, stop.
mod callbacks;
// EventLoop against CPython's asyncio: the same scripts on both, traces compared.
mod differential;
// What each readiness means on sockets, pipes and stdin.
mod readiness;
// Writers: full buffers, hang-ups, a reader and a writer on one fd.
mod writers;
// Fds that cannot be watched, and fd numbers reused behind the loop's back.
mod bad_fds;
// The await and stream forms on smol's reactor.
mod await_form;
// call_later / call_at / cancel.
mod timers;
// LoopHandle: call_soon_threadsafe and stop from other threads.
mod handle;
