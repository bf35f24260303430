//! Following redirects: fetch a head, and while it is a redirect (301, 302, 303, 307 or 308 with
//! a `Location`), resolve the location against the URL just fetched and fetch that, keeping
//! every hop's head. One deadline covers the whole chain, a cap bounds its length, and a URL
//! fetched twice in one chain is a loop (no cookies, no state: the same request gets the same
//! answer, so going on would only repeat it).
//!
//! Credentials stay where the user put them. Extra `Authorization`, `Cookie` and
//! `Proxy-Authorization` headers go only to the input target's origin (see [`fetch_chain`]). A
//! `Location` with user info (`http://user:secret@host/`) is not followed: targets never carry
//! credentials (the user's input may not have user info either), so following it would either
//! send a server's choice of credentials to a host of its choice, or drop them silently and
//! show a misleading answer (a 401, say). It ends the chain as a `bad-redirect`, and the
//! message shows the `Location` with its password as `***`. (The redirect's own head is still
//! shown as the server sent it, `Location` line included, as `curl -I` shows it.)

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;

use crate::fetch::{FetchError, Options, Phase, Response, exchange};
use crate::head::Head;
use crate::target::{Target, TargetError};

/// How many redirects [`fetch_chain`] follows when [`Options::max_redirects`] is `None`, as
/// curl and browsers do.
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

/// One redirect followed: the URL fetched and the head it answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The URL fetched: the input target first, then where each redirect led.
    pub target: Target,
    /// Its head (a 3xx with a `Location`).
    pub response: Response,
}

/// What following redirects from one target gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The redirects followed, in order; the first is for the input target.
    pub redirects: Vec<Hop>,
    /// The URL `result` is about, when a redirect led away from the input target: the URL
    /// fetched last, or the one a loop came back to, or the one past the cap, or (for a
    /// `Location` that cannot be followed) the URL that sent it.
    pub redirected_to: Option<Target>,
    /// The final head (not a redirect, or a redirect without `Location`), or why there is
    /// none.
    pub result: Result<Response, FetchError>,
    /// From the start of the first fetch to the end of the chain.
    pub elapsed: Duration,
}

/// The `Location` of a head that redirects, if it is one to follow.
pub fn redirect_location(head: &Head) -> Option<&str> {
    match head.status {
        301 | 302 | 303 | 307 | 308 => head.header("location").filter(|l| !l.is_empty()),
        _ => None,
    }
}

/// Fetches `target`'s head and follows its redirects, at most [`Options::max_redirects`]
/// ([`DEFAULT_MAX_REDIRECTS`] when `None`), all within [`Options::timeout`]. Every hop keeps
/// its head; `http://` to `https://` (and back) is followed. Extra `Authorization`, `Cookie`,
/// `Proxy-Authorization` and `Host` headers are sent only to the input target's origin (scheme,
/// host and port), as curl does.
///
/// ```
/// use tulip_headers::{fetch_chain, FetchError, Options, Target};
/// # futures_lite::future::block_on(async {
/// let end = stub::Stub::start(stub::Behavior::Ok).unwrap();
/// let moved = stub::Stub::start(stub::Behavior::Redirect(end.url())).unwrap();
/// let target: Target = moved.target().parse().unwrap();
///
/// let chain = fetch_chain(&target, &Options::default()).await;
/// assert_eq!(chain.redirects.len(), 1);
/// assert_eq!(chain.redirects[0].response.head.status, 301);
/// assert_eq!(chain.redirected_to.unwrap().url(), end.url());
/// assert_eq!(chain.result.unwrap().head.status, 200);
///
/// // A server redirecting to itself is a loop.
/// let self_loop = stub::Stub::start(stub::Behavior::Redirect("/".into())).unwrap();
/// let target: Target = self_loop.target().parse().unwrap();
/// let chain = fetch_chain(&target, &Options::default()).await;
/// assert!(matches!(chain.result, Err(FetchError::RedirectLoop { .. })));
/// # });
/// ```
pub async fn fetch_chain(target: &Target, options: &Options) -> Chain {
    let phase = AtomicU8::new(Phase::Dns as u8);
    let start = Instant::now();
    let deadline = start.checked_add(options.timeout);
    let limit = options.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS);
    follow(target, options, limit, &phase, start, deadline).await
}

/// [`fetch_chain`] with its limit, phase and deadline given. The deadline is kept here with a
/// timer of its own (not by the caller dropping the future), so the hops fetched before it
/// struck are kept.
pub(crate) async fn follow(
    target: &Target,
    options: &Options,
    limit: usize,
    phase: &AtomicU8,
    start: Instant,
    deadline: Option<Instant>,
) -> Chain {
    let mut timer = match deadline {
        Some(at) => Timer::at(at),
        None => Timer::never(),
    };
    let mut redirects: Vec<Hop> = Vec::new();
    let mut seen = vec![loop_key(target)];
    let mut next: Option<Target> = None;
    let end = |redirects, redirected_to, result| Chain {
        redirects,
        redirected_to,
        result,
        elapsed: start.elapsed(),
    };
    // Credentials the user gave for the input target's origin stay with it (see `for_origin`).
    let elsewhere = for_origin(options);
    loop {
        let current = next.as_ref().unwrap_or(target);
        let options = match &elsewhere {
            Some(elsewhere) if !same_origin(current, target) => elsewhere,
            _ => options,
        };
        phase.store(Phase::Dns as u8, Ordering::Relaxed);
        let timeout = async {
            (&mut timer).await;
            Err(FetchError::Timeout(Phase::from_u8(
                phase.load(Ordering::Relaxed),
            )))
        };
        let fetch = exchange(current, options, phase, Instant::now(), deadline);
        let response = match future::or(fetch, timeout).await {
            Ok(response) => response,
            Err(e) => return end(redirects, next, Err(e)),
        };
        let Some(location) = redirect_location(&response.head) else {
            return end(redirects, next, Ok(response));
        };
        // Header values are escaped text: a byte outside printable ASCII arrived as `\xNN`, and
        // the url crate reads `\` as `/` (`/caf\xc3\xa9` would become `/caf/xc3/xa9`, another
        // URL). No valid URL holds a backslash, so none is followed.
        let to = if location.contains('\\') {
            Err(TargetError::new(
                location,
                "bytes outside printable ASCII (shown as \\xNN) or a backslash",
            ))
        } else {
            current.join(location)
        };
        let from = current.clone();
        redirects.push(Hop {
            target: from.clone(),
            response,
        });
        let to = match to {
            Ok(to) => to,
            Err(e) => {
                // The Location as the server sent it, but for a password (never repeated).
                let location = crate::target::redact_password(e.input());
                let why = format!(
                    "to \"{}\": {}",
                    crate::escape::escape_str(&location),
                    e.reason()
                );
                let why = FetchError::BadRedirect(why);
                return end(redirects, Some(from), Err(why));
            }
        };
        let key = loop_key(&to);
        if seen.contains(&key) {
            let url = to.url();
            return end(redirects, Some(to), Err(FetchError::RedirectLoop { url }));
        }
        if redirects.len() > limit {
            return end(
                redirects,
                Some(to),
                Err(FetchError::TooManyRedirects { limit }),
            );
        }
        seen.push(key);
        next = Some(to);
    }
}

/// Extra headers sent only to the input target's origin: credentials (`Authorization`,
/// `Cookie`, `Proxy-Authorization`) and `Host`, as curl does without `--location-trusted`. A
/// server could otherwise send the user's token anywhere with one `Location`.
const ORIGIN_ONLY: [&str; 4] = ["authorization", "cookie", "proxy-authorization", "host"];

/// The options for hops to another origin: `options` without its [`ORIGIN_ONLY`] headers, or
/// `None` when it has none.
fn for_origin(options: &Options) -> Option<Options> {
    let origin_only = |h: &crate::Header| {
        ORIGIN_ONLY
            .iter()
            .any(|name| h.name().eq_ignore_ascii_case(name))
    };
    if !options.headers.iter().any(origin_only) {
        return None;
    }
    let mut elsewhere = options.clone();
    elsewhere.headers.retain(|h| !origin_only(h));
    Some(elsewhere)
}

/// Same scheme, host (ignoring case) and port.
fn same_origin(a: &Target, b: &Target) -> bool {
    a.scheme() == b.scheme() && a.port() == b.port() && a.host().eq_ignore_ascii_case(b.host())
}

/// A URL as the url crate writes it (host in lowercase, no default port, dot segments
/// resolved), so that the input target compares equal to a `Location` naming it another way:
/// `http://Example.com:80/a/../` is `http://example.com/`.
fn loop_key(target: &Target) -> String {
    let url = target.url();
    url::Url::parse(&url).map(String::from).unwrap_or(url)
}
