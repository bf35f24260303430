//! Fetching the raw HTTP/1.x response heads of many hosts at once, on smol.
//!
//! This is the library behind `fetch-headers`: it connects to each target, sends
//! `GET / HTTP/1.0` with a `Host` header (or `HEAD`, or HTTP/1.1, plus extra headers), reads
//! until the head is complete, and never reads the body. It is built for pointing at ten
//! thousand hosts: one small buffer per connection, DNS only for names (IP literals skip it)
//! through an async resolver ([`Resolver`], tulip-resolve) whose lookups end with their fetch,
//! one deadline per exchange that a slow server cannot stretch, caps on head size and header
//! count, a typed error for every failure, and a concurrency cap that respects the open-file
//! limit.
//!
//! - [`Target`] parses what the user typed and rejects anything that could inject bytes.
//! - [`build_request`] builds the request bytes; [`parse_head`] / [`HeadParser`] parse the
//!   head with httparse, leniently, through 1xx interim heads.
//! - [`fetch_head`] fetches one head; [`fetch`] fetches one target's [`Outcome`], following
//!   its redirects if [`Options::max_redirects`] says so; [`Many`] fetches many, on worker
//!   threads, as a [`Stream`](futures_lite::Stream) of [`Outcome`]s in completion order.
//! - [`Many::rate`] and [`Many::per_host`] pace a run; [`Options::retries`] tries a refused or
//!   reset connection again; [`Partition`] splits a target list among machines by host.
//! - Every failure is a [`FetchError`] that nests the failing layer's error ([`HeadError`],
//!   [`TlsError`], [`IoError`] with its [`Phase`], [`DnsError`], [`RedirectError`]).
//!
//! ```
//! use futures_lite::StreamExt;
//! use tulip_headers::{fetch_head, Many, Options, Target};
//! # fn serve(status: u16, connections: usize) -> String {
//! #     use std::io::{Read, Write};
//! #     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! #     let addr = listener.local_addr().unwrap().to_string();
//! #     std::thread::spawn(move || {
//! #         for conn in listener.incoming().take(connections) {
//! #             let mut conn = conn.unwrap();
//! #             let _ = conn.read(&mut [0; 1024]);
//! #             let _ = write!(conn, "HTTP/1.1 {status} Status\r\nServer: doc\r\n\r\n");
//! #         }
//! #     });
//! #     addr
//! # }
//! # futures_lite::future::block_on(async {
//! // A loopback server answering `200`, twice.
//! let server = serve(200, 2);
//!
//! let target: Target = server.parse().unwrap();
//! let response = fetch_head(&target, &Options::default()).await.unwrap();
//! for line in &response.head.lines {
//!     println!("{} header > {line}", target.host());
//! }
//! assert_eq!(response.head.status, 200);
//!
//! // Many at once, outcomes as they complete, each with its target and input position.
//! let targets = vec![target.clone(), "127.0.0.1:1".parse().unwrap()];
//! let mut outcomes = Many::new(&Options::default()).concurrency(64).fetch(targets);
//! while let Some(outcome) = outcomes.next().await {
//!     match outcome.result {
//!         Ok(r) => assert_eq!((outcome.index, r.head.status), (0, 200)),
//!         Err(e) => assert_eq!((outcome.index, e.kind()), (1, "refused")),
//!     }
//! }
//! # });
//! ```
//!
//! `https://` targets go over TLS (rustls with the `ring` provider, the `tls` feature, on by
//! default): [`TlsConfig`] says whom to trust (Mozilla's roots by default, a PEM bundle, or
//! nobody checked) and is built once and shared; [`Response::tls`] says what was negotiated,
//! [`Outcome::cert`] what the server's certificate says (also when it was refused), and each
//! TLS failure is a typed [`TlsError`]. Every outcome has the [`Timings`] of its phases. Redirects (the `redirects` feature, on by
//! default) are followed when [`Options::max_redirects`] is set: every hop keeps its head, one
//! deadline covers the chain, loops and over-long chains are errors.
//!
//! What it does not do: keep-alive, HTTP/2, client certificates, or reading bodies; one
//! connection per fetch, closed once the head is in. It never raises the open-file limit by
//! itself ([`raise_fd_limit`] does, when the program asks).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

// The README's example runs as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "tls")]
mod cert;
#[cfg(feature = "redirects")]
mod chain;
mod error;
pub mod escape;
mod fd;
mod fetch;
mod head;
#[cfg(feature = "json")]
mod json;
mod lines;
mod many;
mod outcome;
mod partition;
mod request;
mod rt;
mod target;
#[cfg(feature = "tls")]
mod tls;

#[cfg(feature = "tls")]
pub use cert::Certificate;
#[cfg(feature = "redirects")]
pub use chain::{DEFAULT_MAX_REDIRECTS, redirect_location};
pub use error::{DnsError, FetchError, IoError, Phase, RedirectError};
pub use fd::{fd_budget, raise_fd_limit};
pub use fetch::{MAX_RETRY_BACKOFF, Options, Response, fetch, fetch_head};
pub use head::{
    DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADERS, Head, HeadError, HeadParser, Limits, Parsed,
    parse_head,
};
#[cfg(feature = "json")]
pub use json::{JsonOptions, JsonRecord};
pub use lines::{LineError, LineProblem, MAX_LINE, TargetLines};
pub use many::{DEFAULT_CONCURRENCY, FetchMany, Many};
#[cfg(feature = "redirects")]
pub use outcome::Hop;
pub use outcome::{Outcome, Timings};
pub use partition::{Partition, PartitionError};
pub use request::{Header, HeaderError, Method, MethodError, Version, build_request};
/// The resolver crate (tulip-resolve): its configuration, pins and errors.
pub use resolve;
pub use resolve::Resolver;
pub use target::{Scheme, Target, TargetError};
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsConfigError, TlsError, TlsInfo};
