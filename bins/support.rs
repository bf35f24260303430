//! What the binaries share, so that each says a thing one way: text arguments that must be
//! UTF-8 (named and escaped when they are not), bad input escaped for an error message, the
//! policy for a stdout that can no longer be written, and `1 task` / `2 tasks`.
//!
//! A library of the root package for its binaries only; the libraries other tools use are in
//! `crates/`.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::ffi::OsStr;
use std::io::{self, Write};

/// A clap value parser for text arguments: one that is not UTF-8 is a usage error naming its
/// option, with the value escaped (clap's own message, "invalid UTF-8 was detected in one or
/// more arguments", says neither which nor where).
///
/// Not `try_map`: clap would put the value raw in its `invalid value '...'`, line breaks and
/// escape sequences included.
#[derive(Debug, Clone, Copy)]
pub struct Utf8;

impl clap::builder::TypedValueParser for Utf8 {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        value.to_str().map(str::to_owned).ok_or_else(|| {
            let name = arg.map_or_else(|| "argument".to_owned(), |a| format!("'{a}'"));
            let escaped = escape_bytes(value.as_encoded_bytes());
            let message = format!("invalid value for {name}: \"{escaped}\" is not UTF-8 text");
            cmd.clone()
                .error(clap::error::ErrorKind::InvalidUtf8, message)
        })
    }
}

/// Escapes bad input for an error message, as fetch-headers quotes what servers send: bytes
/// 0x20-0x7E are kept, every other byte becomes `\xNN`, so the message cannot move the cursor or
/// break a terminal and still shows exactly which bytes were given.
pub use headers::escape::escape_bytes;

/// A failed write to stdout, saying which stream it was; the kind is kept, so that
/// [`exit_status`] still sees a closed pipe.
pub fn stdout_error(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot write to stdout: {e}"))
}

/// How a run that failed with `e` ends: quietly with success when the reader of stdout went
/// away (`tool | head -1`: nothing is left to tell anyone), otherwise with `error: ...` on
/// stderr and status 1. Not with `eprintln!`, which panics if stderr cannot be written either.
pub fn exit_status(e: &io::Error) -> u8 {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return 0;
    }
    let _ = writeln!(io::stderr(), "error: {e}");
    1
}

/// Writes `text` to stdout now. When that fails, no one can see the rest of the run, so the
/// process ends here, as [`exit_status`] says.
pub fn print(text: &str) {
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if let Err(e) = written {
        std::process::exit(exit_status(&stdout_error(e)).into());
    }
}

/// `1 task`, `2 tasks`, `0 tasks`.
pub fn plural(n: impl Into<u64>, word: &str) -> String {
    match n.into() {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_adds_an_s_except_for_one() {
        assert_eq!(plural(1u32, "task"), "1 task");
        assert_eq!(plural(0u32, "task"), "0 tasks");
        assert_eq!(plural(2u64, "time"), "2 times");
    }
}
