//! The JSON record of an [`Outcome`] (the `json` feature): one object a target, as
//! `fetch-headers --json` writes a line, for tools that store or forward outcomes.

use std::time::Duration;

use serde::Serialize;

use crate::head::Head;
use crate::outcome::Outcome;
#[cfg(feature = "tls")]
use crate::tls::TlsInfo;

/// What a [`JsonRecord`] includes beyond the final head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonOptions {
    /// The 1xx interim heads, as `interim`.
    pub interim: bool,
    /// The redirects followed, as `redirects`, and the final `url`.
    pub redirects: bool,
}

/// One [`Outcome`] as a JSON object: the input target (`target`, `host`, `port`, `path`), the
/// address that answered (`peer`), the final head (`status`, `version`, `reason`, `headers` as
/// name/value pairs in order, raw `lines`), TLS facts (`tls_version`, `alpn`), the server's
/// certificate (`cert`: `subject`, `issuer`, `sans`, `not_before`, `not_after` in RFC 3339,
/// `days_left`, `sha256` in hex, `chain_len`; there for a failed fetch too when one arrived),
/// the failure if any (`error` with `kind` and `message`), the `attempts` made (1, plus one per
/// retry), `elapsed_ms`, and `timings_ms` (`dns`, `connect`, `tls`, `first_byte`, each `null`
/// when not completed, and `total`); with [`JsonOptions`], `interim` heads and the `redirects`
/// followed with the final `url`. Fields of a failed fetch are `null`. Serialize it with
/// serde_json (or any serde format).
///
/// ```
/// use tulip_headers::{JsonOptions, JsonRecord, Options, fetch};
/// # futures_lite::future::block_on(async {
/// let outcome = fetch(&"127.0.0.1:1".parse().unwrap(), &Options::default()).await;
/// let json = serde_json::to_value(JsonRecord::new(&outcome, JsonOptions::default())).unwrap();
/// assert_eq!(json["target"], "127.0.0.1:1");
/// assert_eq!(json["status"], serde_json::Value::Null);
/// assert_eq!(json["error"]["kind"], "refused");
/// assert_eq!(json["attempts"], 1);
/// assert_eq!(json["cert"], serde_json::Value::Null);
/// assert_eq!(json["timings_ms"]["connect"], serde_json::Value::Null);
/// assert!(json["timings_ms"]["total"].as_f64().unwrap() >= 0.0);
/// # });
/// ```
#[derive(Debug, Serialize)]
pub struct JsonRecord<'a> {
    target: &'a str,
    host: &'a str,
    port: u16,
    path: &'a str,
    peer: Option<String>,
    status: Option<u16>,
    version: Option<&'static str>,
    reason: Option<&'a str>,
    headers: Vec<JsonHeader<'a>>,
    lines: &'a [String],
    tls_version: Option<&'static str>,
    alpn: Option<&'static str>,
    cert: Option<JsonCert<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interim: Option<Vec<JsonHead<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirects: Option<Vec<JsonHop<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    error: Option<JsonError>,
    attempts: u32,
    elapsed_ms: f64,
    timings_ms: JsonTimings,
}

#[derive(Debug, Serialize)]
struct JsonCert<'a> {
    subject: &'a str,
    issuer: &'a str,
    sans: &'a [String],
    not_before: String,
    not_after: String,
    days_left: i64,
    sha256: String,
    chain_len: usize,
}

#[derive(Debug, Serialize)]
struct JsonTimings {
    dns: Option<f64>,
    connect: Option<f64>,
    tls: Option<f64>,
    first_byte: Option<f64>,
    total: f64,
}

/// Milliseconds, to the microsecond.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn json_cert(outcome: &Outcome) -> Option<JsonCert<'_>> {
    #[cfg(feature = "tls")]
    {
        use crate::cert::Certificate;
        outcome.cert.as_ref().map(|c| JsonCert {
            subject: &c.subject,
            issuer: &c.issuer,
            sans: &c.sans,
            not_before: Certificate::rfc3339(c.not_before),
            not_after: Certificate::rfc3339(c.not_after),
            days_left: c.days_left,
            sha256: c.sha256_hex(),
            chain_len: c.chain_len,
        })
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = outcome;
        None
    }
}

#[derive(Debug, Serialize)]
struct JsonHop<'a> {
    url: &'a str,
    peer: String,
    status: u16,
    version: &'static str,
    reason: &'a str,
    headers: Vec<JsonHeader<'a>>,
    lines: &'a [String],
    tls_version: Option<&'static str>,
    alpn: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct JsonHeader<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Debug, Serialize)]
struct JsonHead<'a> {
    status: u16,
    version: &'static str,
    reason: &'a str,
    headers: Vec<JsonHeader<'a>>,
    lines: &'a [String],
}

#[derive(Debug, Serialize)]
struct JsonError {
    kind: &'static str,
    message: String,
}

fn json_headers(head: &Head) -> Vec<JsonHeader<'_>> {
    let pairs = head.headers.iter();
    pairs
        .map(|(name, value)| JsonHeader { name, value })
        .collect()
}

fn json_head(h: &Head) -> JsonHead<'_> {
    JsonHead {
        status: h.status,
        version: h.version.as_str(),
        reason: &h.reason,
        headers: json_headers(h),
        lines: &h.lines,
    }
}

/// `(tls_version, alpn)` of a response.
fn tls_facts(response: &crate::Response) -> (Option<&'static str>, Option<&'static str>) {
    #[cfg(feature = "tls")]
    {
        let tls: Option<&TlsInfo> = response.tls.as_ref();
        (tls.map(|t| t.version), tls.and_then(|t| t.alpn))
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = response;
        (None, None)
    }
}

impl<'a> JsonRecord<'a> {
    /// The record of `outcome`.
    pub fn new(outcome: &'a Outcome, options: JsonOptions) -> JsonRecord<'a> {
        let target = &outcome.target;
        let response = outcome.result.as_ref().ok();
        let head = response.map(|r| &r.head);
        let (tls_version, alpn) = response.map(tls_facts).unwrap_or_default();
        JsonRecord {
            target: target.input(),
            host: target.host(),
            port: target.port(),
            path: target.path(),
            peer: response.map(|r| r.peer.to_string()),
            status: head.map(|h| h.status),
            version: head.map(|h| h.version.as_str()),
            reason: head.map(|h| h.reason.as_str()),
            headers: head.map(json_headers).unwrap_or_default(),
            lines: head.map(|h| &h.lines[..]).unwrap_or_default(),
            tls_version,
            alpn,
            cert: json_cert(outcome),
            interim: response
                .filter(|_| options.interim)
                .map(|r| r.interim.iter().map(json_head).collect()),
            redirects: options.redirects.then(|| hops(outcome)),
            url: options.redirects.then(|| outcome.final_target().input()),
            error: outcome.result.as_ref().err().map(|e| JsonError {
                kind: e.kind(),
                message: e.to_string(),
            }),
            attempts: outcome.attempts,
            elapsed_ms: ms(outcome.elapsed),
            timings_ms: JsonTimings {
                dns: outcome.timings.dns.map(ms),
                connect: outcome.timings.connect.map(ms),
                tls: outcome.timings.tls.map(ms),
                first_byte: outcome.timings.first_byte.map(ms),
                total: ms(outcome.elapsed),
            },
        }
    }
}

fn hops(outcome: &Outcome) -> Vec<JsonHop<'_>> {
    #[cfg(feature = "redirects")]
    {
        outcome
            .redirects
            .iter()
            .map(|hop| {
                let (r, h) = (&hop.response, &hop.response.head);
                let (tls_version, alpn) = tls_facts(r);
                JsonHop {
                    url: hop.target.input(),
                    peer: r.peer.to_string(),
                    status: h.status,
                    version: h.version.as_str(),
                    reason: &h.reason,
                    headers: json_headers(h),
                    lines: &h.lines,
                    tls_version,
                    alpn,
                }
            })
            .collect()
    }
    #[cfg(not(feature = "redirects"))]
    {
        let _ = outcome;
        Vec::new()
    }
}
