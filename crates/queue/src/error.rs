//! The errors of the queue's operations: one type per failing operation, each handing back the
//! item it could not take, in the style of async-channel's `TrySendError` / `SendError`.

use std::error::Error;
use std::fmt;

/// Why [`Queue::try_put`](crate::Queue::try_put) failed; the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TryPutError<T> {
    /// The queue is full (or putters are already waiting for space, who come first).
    Full(T),
    /// The queue was shut down and takes no more items.
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// The item that could not be put.
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::ShutDown(item) => item,
        }
    }

    /// Whether the queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }

    /// Whether the queue was shut down.
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryPutError::ShutDown(_))
    }
}

// Written by hand so that the error is `Debug` (and so `std::error::Error`) for any item type.
impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("queue is full"),
            TryPutError::ShutDown(_) => f.write_str("queue is shut down"),
        }
    }
}

impl<T> Error for TryPutError<T> {}

/// Why [`Queue::put`](crate::Queue::put) failed: the queue was shut down. The item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PutError<T>(pub T);

impl<T> PutError<T> {
    /// The item that could not be put.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PutError(..)")
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is shut down")
    }
}

impl<T> Error for PutError<T> {}

/// Why [`Queue::try_get`](crate::Queue::try_get) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryGetError {
    /// The queue holds no item (or the items in it are reserved for getters already served).
    Empty,
    /// The queue was shut down and every item left in it has been taken (or was discarded).
    ShutDown,
}

impl TryGetError {
    /// Whether the queue was empty.
    pub fn is_empty(&self) -> bool {
        matches!(self, TryGetError::Empty)
    }

    /// Whether the queue was shut down.
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryGetError::ShutDown)
    }
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("queue is empty"),
            TryGetError::ShutDown => f.write_str("queue is shut down"),
        }
    }
}

impl Error for TryGetError {}

/// Why [`Queue::get`](crate::Queue::get) failed: the queue was shut down and nothing is left in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetError;

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is shut down")
    }
}

impl Error for GetError {}

/// Why [`Queue::task_done`](crate::Queue::task_done) failed: every item taken was already marked
/// done.
///
/// This is stricter than asyncio, whose `task_done` raises `ValueError` only once the calls
/// outnumber the items *put*: here an item must be taken before it is marked done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done called more times than items were taken")
    }
}

impl Error for TaskDoneError {}
