//! Following redirects: fetch a head, and while it is a redirect (301, 302, 303, 307 or 308 with
//! a `Location`), resolve the location against the URL just fetched and fetch that, keeping
//! every hop's head. One deadline covers the whole chain, a cap bounds its length, and a URL
//! fetched twice in one chain is a loop (no cookies, no state: the same request gets the same
//! answer, so going on would only repeat it).
//!
//! Credentials stay where the user put them. Extra `Authorization`, `Cookie` and
//! `Proxy-Authorization` headers go only to the input target's origin (see [`follow`]). A
//! `Location` with user info (`http://user:secret@host/`) is not followed: targets never carry
//! credentials (the user's input may not have user info either), so following it would either
//! send a server's choice of credentials to a host of its choice, or drop them silently and
//! show a misleading answer (a 401, say). It ends the chain as a `bad-redirect`, and the
//! message shows the `Location` with its password as `***`. (The redirect's own head is still
//! shown as the server sent it, `Location` line included, as `curl -I` shows it.)

use std::time::Instant;

use crate::error::RedirectError;
use crate::fetch::{Deadline, Options, Progress, exchange_retrying};
use crate::head::Head;
use crate::outcome::{Hop, Outcome};
use crate::target::{Target, TargetError};

/// How many redirects to follow when the user asks to follow without a number, as curl and
/// browsers do.
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

/// The `Location` of a head that redirects, if it is one to follow.
pub fn redirect_location(head: &Head) -> Option<&str> {
    match head.status {
        301 | 302 | 303 | 307 | 308 => head.header("location").filter(|l| !l.is_empty()),
        _ => None,
    }
}

/// Fetches `target` and follows its redirects, at most `limit`, all before `deadline`. Every
/// hop keeps its head; `http://` to `https://` (and back) is followed. Extra `Authorization`,
/// `Cookie`, `Proxy-Authorization` and `Host` headers are sent only to the input target's
/// origin (scheme, host and port), as curl does. A deadline that strikes keeps the hops
/// fetched before it.
pub(crate) async fn follow(
    index: usize,
    target: Target,
    options: &Options,
    limit: usize,
    start: Instant,
    deadline: &mut Deadline,
) -> Outcome {
    let at = start.checked_add(options.timeout);
    let progress = Progress::new();
    let mut redirects: Vec<Hop> = Vec::new();
    let mut seen = vec![loop_key(&target)];
    let mut next: Option<Target> = None;
    let mut retried = 0;
    // Credentials the user gave for the input target's origin stay with it (see `for_origin`).
    let elsewhere = for_origin(options);
    let (redirected_to, result) = loop {
        let current = next.as_ref().unwrap_or(&target);
        let options = match &elsewhere {
            Some(elsewhere) if !same_origin(current, &target) => elsewhere,
            _ => options,
        };
        let fetch = exchange_retrying(
            current,
            options,
            &progress,
            Instant::now(),
            at,
            &mut retried,
        );
        let response = match deadline.bound(&progress, fetch).await {
            Ok(response) => response,
            Err(e) => break (next, Err(e)),
        };
        let Some(location) = redirect_location(&response.head) else {
            break (next, Ok(response));
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
                break (Some(from), Err(RedirectError::Bad(why).into()));
            }
        };
        let key = loop_key(&to);
        if seen.contains(&key) {
            let url = to.url();
            break (Some(to), Err(RedirectError::Loop { url }.into()));
        }
        if redirects.len() > limit {
            break (Some(to), Err(RedirectError::TooMany { limit }.into()));
        }
        seen.push(key);
        next = Some(to);
    };
    Outcome {
        index,
        target,
        attempts: 1 + retried,
        redirects,
        redirected_to,
        result,
        #[cfg(feature = "tls")]
        cert: progress.take_cert(),
        timings: progress.timings(),
        elapsed: start.elapsed(),
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
