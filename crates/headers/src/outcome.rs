//! What fetching one target gave: [`Outcome`], the one result type of [`fetch`](crate::fetch)
//! and [`Many`](crate::Many), carrying its target, its redirect chain and its result.

use std::time::Duration;

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
    /// From the start of the first fetch to the end of the last, failed or not.
    pub elapsed: Duration,
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
