//! What fetching one target gave: [`Outcome`], the one result type of [`fetch`](crate::fetch)
//! and [`Many`](crate::Many), carrying its target, its redirect chain, its result, the server's
//! certificate and the [`Timings`] of its phases.

use std::time::Duration;

#[cfg(feature = "tls")]
use crate::cert::Certificate;
use crate::error::FetchError;
use crate::fetch::Response;
use crate::target::Target;

/// One target's outcome: the head (or why there is none), the redirects followed on the way,
/// and the target itself, so that a consumer of a stream of outcomes needs no list to look it
/// up in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The target's position in the input (0-based); 0 for a single [`fetch`](crate::fetch).
    pub index: usize,
    /// The target as given.
    pub target: Target,
    /// How many times the exchange was tried: 1, plus one for each retry
    /// ([`Options::retries`](crate::Options::retries)), on any hop of a redirect chain.
    pub attempts: u32,
    /// With [`Options::max_redirects`](crate::Options::max_redirects) set: the redirects
    /// followed before `result`, in order, the first for `target`. Empty otherwise.
    #[cfg(feature = "redirects")]
    pub redirects: Vec<Hop>,
    /// When a redirect led away from `target`: the URL `result` is about (the URL fetched
    /// last, the one a loop came back to, the one past the cap, or, for a `Location` that
    /// cannot be followed, the URL that sent it).
    #[cfg(feature = "redirects")]
    pub redirected_to: Option<Target>,
    /// The final head (not a redirect, or one not followed), or why there is none.
    pub result: Result<Response, FetchError>,
    /// For `https://`: the leaf certificate of the last exchange's server, whenever one arrived
    /// (and x509-parser could read it), whatever happened next: also when verification refused
    /// it (expired, another name, an unknown issuer) or the fetch failed later.
    #[cfg(feature = "tls")]
    pub cert: Option<Certificate>,
    /// How long the last exchange's phases took, as far as it got.
    pub timings: Timings,
    /// From the start of the first fetch to the end of the last, failed or not: the total time.
    pub elapsed: Duration,
}

/// How long each phase of an exchange took; a phase the exchange did not complete (a failure or
/// a timeout struck in it, or it never began) is `None`. The total is [`Outcome::elapsed`].
///
/// ```
/// use tulip_headers::{Options, fetch};
/// # futures_lite::future::block_on(async {
/// let outcome = fetch(&"127.0.0.1:1".parse().unwrap(), &Options::default()).await;
/// assert_eq!(outcome.result.unwrap_err().kind(), "refused");
/// // An IP literal skips DNS; refused, the connect phase never completed.
/// assert_eq!((outcome.timings.dns, outcome.timings.connect), (None, None));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Resolving the host name (`None` for an IP literal).
    pub dns: Option<Duration>,
    /// From the first connection attempt until the connection took the first bytes (the request
    /// on plain TCP, the ClientHello over TLS), every address tried included.
    pub connect: Option<Duration>,
    /// The TLS handshake, until the request left with its last flight (`https://` only).
    pub tls: Option<Duration>,
    /// From the request sent to the first byte of the reply.
    pub first_byte: Option<Duration>,
}

impl Outcome {
    /// The URL `result` is about: where the redirects led, or the target itself.
    pub fn final_target(&self) -> &Target {
        #[cfg(feature = "redirects")]
        if let Some(to) = &self.redirected_to {
            return to;
        }
        &self.target
    }
}

/// One redirect followed: the URL fetched and the head it answered with.
#[cfg(feature = "redirects")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The URL fetched: the input target first, then where each redirect led.
    pub target: Target,
    /// Its head (a 3xx with a `Location`).
    pub response: Response,
}
