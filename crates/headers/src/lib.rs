//! Fetching the raw HTTP/1.x response heads of many hosts at once, on smol.
//!
//! This is the library behind `fetch-headers`: it connects to each target, sends
//! `GET / HTTP/1.0` with a `Host` header (or `HEAD`, or HTTP/1.1, plus extra headers), reads
//! until the head is complete, and never reads the body. It is built for pointing at ten
//! thousand hosts: one small buffer per connection, DNS only for names (IP literals skip it),
//! one deadline per exchange that a slow server cannot stretch, caps on head size and header
//! count, a typed error for every failure, and a concurrency cap that respects the open-file
//! limit.
//!
//! - [`Target`] parses what the user typed and rejects anything that could inject bytes.
//! - [`build_request`] builds the request bytes; [`parse_head`] / [`HeadParser`] parse the
//!   head with httparse, leniently, through 1xx interim heads.
//! - [`fetch_head`] fetches one; [`fetch_chain`] follows its redirects; [`fetch_many`] fetches
//!   many (on the polling thread, plus
//!   helper threads when the concurrency is high enough) as a [`Stream`](futures_lite::Stream)
//!   of [`Fetched`] (index, result, elapsed) in completion order.
//!
//! ```
//! use futures_lite::StreamExt;
//! use tulip_headers::{fetch_head, fetch_many, Options, Target};
//! # futures_lite::future::block_on(async {
//! // A loopback server answering `200 OK` (crates/stub).
//! let server = stub::Stub::start(stub::Behavior::Ok).unwrap();
//!
//! let target: Target = server.target().parse().unwrap();
//! let response = fetch_head(&target, &Options::default()).await.unwrap();
//! for line in &response.head.lines {
//!     println!("{} header > {line}", target.host());
//! }
//! assert_eq!(response.head.status, 200);
//!
//! // Many at once, results as they complete, tagged with their input position.
//! let targets = vec![target.clone(), "127.0.0.1:1".parse().unwrap()];
//! let mut results = fetch_many(targets, &Options::default(), 64);
//! while let Some(fetched) = results.next().await {
//!     match fetched.result {
//!         Ok(r) => assert_eq!((fetched.index, r.head.status), (0, 200)),
//!         Err(e) => assert_eq!((fetched.index, e.kind()), (1, "refused")),
//!     }
//! }
//! # });
//! ```
//!
//! `https://` targets go over TLS (rustls with the `ring` provider): [`TlsConfig`] says whom to
//! trust (Mozilla's roots by default, a PEM bundle, or nobody checked) and is built once and
//! shared; [`Response::tls`] says what was negotiated, and each TLS failure is a typed
//! [`TlsError`]. Redirects are followed by [`fetch_chain`] (and by [`fetch_many`] with
//! [`Options::max_redirects`]): every hop keeps its head, one deadline covers the chain, loops
//! and over-long chains are errors.
//!
//! What it does not do: keep-alive, HTTP/2, client certificates, or reading bodies; one
//! connection per fetch, closed once the head is in.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod chain;
mod escape;
mod fd;
mod fetch;
mod head;
mod many;
mod request;
mod target;
mod tls;

pub use chain::{Chain, DEFAULT_MAX_REDIRECTS, Hop, fetch_chain, redirect_location};
pub use escape::escape_bytes;
pub use fd::{fd_budget, raise_fd_limit};
pub use fetch::{FetchError, Options, Phase, Response, fetch_head};
pub use head::{
    DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADERS, Head, HeadError, HeadParser, Limits, Parsed,
    parse_head,
};
pub use many::{FetchMany, Fetched, MAX_THREADS, fetch_many, fetch_many_on, fetch_many_until};
pub use request::{Header, HeaderError, Method, Version, build_request};
pub use target::{Scheme, Target, TargetError};
pub use tls::{TlsConfig, TlsConfigError, TlsError, TlsInfo};
