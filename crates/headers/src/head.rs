//! Parsing the response head with httparse, leniently (bare LF line ends, obs-fold lines, no
//! reason phrase, bytes outside ASCII), through 1xx interim heads to the final one.
//! [`HeadParser`] is incremental: it is handed the bytes received so far after every read and
//! gives the same answer however they were split, because it only ever looks at whole heads (it
//! scans for the blank line, then lets httparse parse the head in one go).

use std::fmt;

use crate::Version;
use crate::escape::{escape_bytes, push_escaped};

/// Default cap on the size of the response head (all interim heads included): 64 KiB.
pub const DEFAULT_MAX_HEAD_SIZE: usize = 64 * 1024;

/// Default cap on the number of header lines in one head. httparse needs a slot per header;
/// 100 covers real servers (nginx caps requests at 100 as well) while keeping the slots small.
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// One parsed response head (an interim `1xx` or the final one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The HTTP version the server answered with.
    pub version: Version,
    /// The status code, e.g. 200.
    pub status: u16,
    /// The reason phrase as sent (escaped like header values), empty when missing.
    pub reason: String,
    /// The headers in order, as (name, value). Folded (obs-fold) lines are joined with one
    /// space; bytes outside printable ASCII are shown as `\xNN`.
    pub headers: Vec<(String, String)>,
    /// The lines as received, status line first, without line ends or the blank line, each
    /// escaped to printable text (`\xNN`). Folded continuation lines are kept as their own lines.
    pub lines: Vec<String>,
}

impl Head {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A complete response head: the final head and the interim (1xx) heads read past on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The final (non-1xx) head.
    pub head: Head,
    /// `100 Continue`, `103 Early Hints` ... in the order received. `101` is final, not interim.
    pub interim: Vec<Head>,
    /// How many bytes the heads took; what follows is the body.
    pub len: usize,
}

/// Caps that protect the caller from a hostile or broken server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes all heads together may take ([`DEFAULT_MAX_HEAD_SIZE`]).
    pub max_head_size: usize,
    /// The most header lines one head may have ([`DEFAULT_MAX_HEADERS`]).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_size: DEFAULT_MAX_HEAD_SIZE,
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }
}

/// Why bytes received are not a response head we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// The reply does not start with `HTTP/` (an SSH banner, say); holds the start of its first
    /// line (escaped, at most 40 bytes).
    NotHttp(String),
    /// No end of head within [`Limits::max_head_size`] bytes.
    TooLarge {
        /// The cap that was hit.
        limit: usize,
    },
    /// More than [`Limits::max_headers`] header lines.
    TooManyHeaders {
        /// The cap that was hit.
        limit: usize,
    },
    /// httparse rejected the head; the message says where.
    Invalid(String),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::NotHttp(start) => write!(f, "not http: \"{start}\""),
            HeadError::TooLarge { limit } => write!(f, "head larger than {limit} bytes"),
            HeadError::TooManyHeaders { limit } => write!(f, "more than {limit} headers"),
            HeadError::Invalid(why) => write!(f, "invalid head: {why}"),
        }
    }
}

impl std::error::Error for HeadError {}

impl HeadError {
    /// `not-http`, `too-large`, `too-many-headers` or `invalid`.
    pub fn kind(&self) -> &'static str {
        match self {
            HeadError::NotHttp(_) => "not-http",
            HeadError::TooLarge { .. } => "too-large",
            HeadError::TooManyHeaders { .. } => "too-many-headers",
            HeadError::Invalid(_) => "invalid",
        }
    }
}

/// Parses the response heads at the start of `buf` in one go: `Ok(None)` if more bytes are
/// needed. The same as a fresh [`HeadParser`] fed `buf` once.
///
/// ```
/// use tulip_headers::{parse_head, Limits};
///
/// let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nServer: x\n  y\n\nbody";
/// let parsed = parse_head(bytes, &Limits::default()).unwrap().unwrap();
/// assert_eq!(parsed.head.status, 200);
/// assert_eq!(parsed.head.headers, [("Server".to_owned(), "x y".to_owned())]);
/// assert_eq!(parsed.head.lines, ["HTTP/1.1 200 OK", "Server: x", "  y"]);
/// assert_eq!(parsed.interim[0].status, 100);
/// assert_eq!(&bytes[parsed.len..], b"body");
///
/// assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nServ", &Limits::default()), Ok(None));
/// ```
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<Parsed>, HeadError> {
    HeadParser::new(*limits).parse(buf)
}

/// The incremental parser: call [`HeadParser::parse`] with everything received so far (the
/// buffer only ever grows) after each read. Work already done is not redone: the scan for the
/// blank line resumes where it stopped, and finished interim heads are kept.
#[derive(Debug, Clone)]
pub struct HeadParser {
    limits: Limits,
    /// Where the head being parsed starts (after the interim heads already parsed).
    start: usize,
    /// How far the scan for the end of the current head has got.
    scanned: usize,
    /// Where the current head's first line starts, once a byte other than CR or LF came. The
    /// empty lines before it (httparse skips them) cannot end a head: trying each as a candidate
    /// would cost an httparse pass over all of them, quadratic in a flood of line ends (0.6 s
    /// of CPU for 64 KiB of `\n`, that no deadline can interrupt).
    first: Option<usize>,
    interim: Vec<Head>,
}

impl HeadParser {
    /// A parser with these caps.
    pub fn new(limits: Limits) -> Self {
        HeadParser {
            limits,
            start: 0,
            scanned: 0,
            first: None,
            interim: Vec::new(),
        }
    }

    /// Looks at `buf`, all bytes received so far: `Ok(Some(_))` once the final head is
    /// complete, `Ok(None)` to read more. After an error or a complete head, the parser is done.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<Parsed>, HeadError> {
        let max = self.limits.max_head_size;
        // Bytes past the cap are never looked at, so the answer cannot depend on how many of
        // them one read happened to bring.
        let buf = &buf[..buf.len().min(max)];
        loop {
            let first = match self.first {
                Some(first) => first,
                None => {
                    let from = self.scanned.max(self.start);
                    let Some(off) = buf[from..].iter().position(|&b| b != b'\r' && b != b'\n')
                    else {
                        // Only empty lines so far: nothing to parse, and never rescanned.
                        self.scanned = buf.len();
                        if buf.len() >= max {
                            return Err(HeadError::TooLarge { limit: max });
                        }
                        return Ok(None);
                    };
                    self.first = Some(from + off);
                    from + off
                }
            };
            check_http_prefix(&buf[first..])?;
            match self.next_head(buf, first)? {
                Some((head, end)) => {
                    self.start = end;
                    self.scanned = end;
                    self.first = None;
                    if (100..200).contains(&head.status) && head.status != 101 {
                        self.interim.push(head);
                        continue;
                    }
                    return Ok(Some(Parsed {
                        head,
                        interim: std::mem::take(&mut self.interim),
                        len: end,
                    }));
                }
                None if buf.len() >= max => return Err(HeadError::TooLarge { limit: max }),
                None => return Ok(None),
            }
        }
    }

    /// Finds and parses the head starting at `self.start` (its first line at `first`): its end
    /// is a line feed after `first` followed by an empty line (`\n\n` or `\n\r\n`). httparse decides at each such candidate; a candidate
    /// it finds incomplete (leading empty lines, say) is passed over.
    fn next_head(&mut self, buf: &[u8], first: usize) -> Result<Option<(Head, usize)>, HeadError> {
        let mut i = self.scanned.max(first);
        while let Some(off) = memchr_lf(&buf[i..]) {
            let lf = i + off;
            let end = match buf.get(lf + 1) {
                Some(b'\n') => lf + 2,
                Some(b'\r') => match buf.get(lf + 2) {
                    Some(b'\n') => lf + 3,
                    Some(_) => {
                        i = lf + 1;
                        continue;
                    }
                    None => break,
                },
                Some(_) => {
                    i = lf + 1;
                    continue;
                }
                None => break,
            };
            if let Some(head) = self.parse_one(&buf[self.start..end])? {
                return Ok(Some((head, end)));
            }
            i = lf + 1;
        }
        // Resume at the last line feed next time: its blank line may not have arrived yet.
        self.scanned = match memrchr_lf(&buf[i..]) {
            Some(off) => i + off,
            None => buf.len(),
        };
        Ok(None)
    }

    /// Parses one head that ends with its blank line; `None` if httparse wants more.
    fn parse_one(&self, head: &[u8]) -> Result<Option<Head>, HeadError> {
        // httparse needs a slot per header: on the stack for the usual caps, so parsing a head
        // allocates nothing for them.
        let mut on_stack = [httparse::EMPTY_HEADER; 128];
        let mut on_heap = Vec::new();
        let slots = if self.limits.max_headers <= on_stack.len() {
            &mut on_stack[..self.limits.max_headers]
        } else {
            on_heap.resize(self.limits.max_headers, httparse::EMPTY_HEADER);
            &mut on_heap[..]
        };
        let mut resp = httparse::Response::new(slots);
        let status = httparse::ParserConfig::default()
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_spaces_after_header_name_in_responses(true)
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .parse_response(&mut resp, head);
        match status {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::TooManyHeaders {
                    limit: self.limits.max_headers,
                });
            }
            Err(e) => return Err(HeadError::Invalid(invalid_reason(e).to_owned())),
        }
        let lines = split_lines(head);
        let version = match resp.version {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        };
        // httparse drops a reason holding bytes outside ASCII; take it from the status line.
        let reason = reason_from_status_line(head);
        let headers = resp
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), unfold(h.value)))
            .collect();
        Ok(Some(Head {
            version,
            status: resp.code.unwrap_or_default(),
            reason,
            headers,
            lines,
        }))
    }
}

/// Errors early if what has arrived cannot be the start of `HTTP/` (after the empty lines
/// httparse skips), so an SSH banner or a binary protocol fails at once.
fn check_http_prefix(buf: &[u8]) -> Result<(), HeadError> {
    let first = buf.iter().position(|&b| b != b'\r' && b != b'\n');
    let Some(first) = first else { return Ok(()) };
    let rest = &buf[first..];
    let n = rest.len().min(5);
    if rest[..n] != b"HTTP/"[..n] {
        let first = &buf[..buf.len().min(40)];
        let line = first.split(|&b| b == b'\n').next().unwrap_or(first);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        return Err(HeadError::NotHttp(crate::escape::escape_bytes(line)));
    }
    Ok(())
}

fn invalid_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line end",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid http version",
    }
}

fn memchr_lf(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

fn memrchr_lf(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| c == b'\n')
}

/// The head's lines, escaped, without line ends, leading empty lines or the final blank line.
fn split_lines(head: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = head
        .split(|&b| b == b'\n')
        .map(|l| escape_bytes(l.strip_suffix(b"\r").unwrap_or(l)))
        .skip_while(|l| l.is_empty())
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// The reason phrase: the status line after `HTTP/x.y SP code`, spaces trimmed, escaped.
fn reason_from_status_line(head: &[u8]) -> String {
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let line = &head[start..];
    let line = &line[..memchr_lf(line).unwrap_or(line.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // Skip the version and the code: two space-separated words.
    let mut rest = line;
    for _ in 0..2 {
        let word = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        rest = &rest[word..];
        let spaces = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
        rest = &rest[spaces..];
    }
    let end = rest.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    escape_bytes(&rest[..end])
}

/// A header value with folded lines joined by one space, escaped.
fn unfold(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    let mut parts = value.split(|&b| b == b'\n').peekable();
    let mut first = true;
    while let Some(part) = parts.next() {
        let part = part.strip_suffix(b"\r").unwrap_or(part);
        let part = if first { part } else { trim_ws(part) };
        let part = if parts.peek().is_some() {
            trim_ws_end(part)
        } else {
            part
        };
        if !first && !part.is_empty() && !out.is_empty() {
            out.push(' ');
        }
        push_escaped(&mut out, part);
        first = false;
    }
    out
}

fn trim_ws(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    &b[start..]
}

fn trim_ws_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(0, |i| i + 1);
    &b[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<Option<Parsed>, HeadError> {
        parse_head(b, &Limits::default())
    }

    fn head(b: &[u8]) -> Head {
        parse(b).unwrap().unwrap().head
    }

    #[test]
    fn parses_a_plain_head_and_stops_before_the_body() {
        let b = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\n\r\nhello";
        let p = parse(b).unwrap().unwrap();
        assert_eq!(p.head.version, Version::Http11);
        assert_eq!((p.head.status, p.head.reason.as_str()), (200, "OK"));
        assert_eq!(p.head.header("server"), Some("nginx"));
        assert_eq!(
            p.head.lines,
            ["HTTP/1.1 200 OK", "Server: nginx", "Content-Length: 5"]
        );
        assert_eq!(&b[p.len..], b"hello");
        assert!(p.interim.is_empty());
    }

    #[test]
    fn is_lenient_where_servers_are_sloppy() {
        let h = head(b"HTTP/1.0 302 Moved Temporarily\nLocation: /x\n\n");
        assert_eq!((h.version, h.status), (Version::Http10, 302));
        assert_eq!(h.reason, "Moved Temporarily");
        assert_eq!(h.header("location"), Some("/x"));

        let h = head(b"HTTP/1.1 200\r\nA: 1\r\n\r\n");
        assert_eq!((h.status, h.reason.as_str()), (200, ""));
        assert_eq!(h.lines[0], "HTTP/1.1 200");

        let h = head(b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n  two\r\n\tthree\r\nB: 2\r\n\r\n");
        assert_eq!(h.header("x-folded"), Some("one two three"));
        assert_eq!(h.header("b"), Some("2"));
        assert_eq!(h.lines[1..3], ["X-Folded: one", "  two"]);

        let h = head(b"HTTP/1.1 200 Ol\xe9\r\nX-Name: caf\xc3\xa9 \xff\r\n\r\n");
        assert_eq!(h.reason, r"Ol\xe9");
        assert_eq!(h.header("x-name"), Some(r"caf\xc3\xa9 \xff"));
        assert_eq!(h.lines[0], r"HTTP/1.1 200 Ol\xe9");
    }

    #[test]
    fn reads_past_interim_heads_and_keeps_them() {
        let b = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let p = parse(b).unwrap().unwrap();
        assert_eq!(p.head.status, 204);
        let interim: Vec<u16> = p.interim.iter().map(|h| h.status).collect();
        assert_eq!(interim, [100, 103]);
        assert_eq!(
            p.interim[1].lines,
            ["HTTP/1.1 103 Early Hints", "Link: </a>"]
        );
        // Only the interim head arrived so far: not done yet.
        assert_eq!(parse(&b[..27]), Ok(None));
        // 101 is final: what follows is another protocol.
        let p = parse(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n\x00\x01").unwrap();
        assert_eq!(p.unwrap().head.status, 101);
    }

    #[test]
    fn names_each_failure() {
        let not_http = |start: &str| Err(HeadError::NotHttp(start.to_owned()));
        assert_eq!(
            parse(b"SSH-2.0-OpenSSH_9.6\r\n"),
            not_http("SSH-2.0-OpenSSH_9.6")
        );
        assert_eq!(parse(b"S"), not_http("S"));
        assert_eq!(parse(b"\r\n<html>"), not_http("<html>"));
        assert_eq!(parse(b"HTT"), Ok(None));
        assert_eq!(
            parse(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Err(HeadError::Invalid("invalid status".to_owned()))
        );
        assert_eq!(
            parse(b"HTTP/2 200 OK\r\n\r\n"),
            Err(HeadError::Invalid("invalid http version".to_owned()))
        );
        let limits = Limits {
            max_head_size: 64,
            max_headers: 2,
        };
        let big = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 100]].concat();
        assert_eq!(
            parse_head(&big, &limits),
            Err(HeadError::TooLarge { limit: 64 })
        );
        assert_eq!(parse_head(&big[..63], &limits), Ok(None));
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &limits),
            Err(HeadError::TooManyHeaders { limit: 2 })
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", &limits).is_ok());
    }

    #[test]
    fn header_caps_above_the_stack_slots_work() {
        let mut b = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..150 {
            b.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        b.extend_from_slice(b"\r\n");
        let limits = |max_headers| Limits {
            max_head_size: DEFAULT_MAX_HEAD_SIZE,
            max_headers,
        };
        let p = parse_head(&b, &limits(200)).unwrap().unwrap();
        assert_eq!(p.head.headers.len(), 150);
        assert_eq!(p.head.header("x-149"), Some("149"));
        assert_eq!(
            parse_head(&b, &limits(149)),
            Err(HeadError::TooManyHeaders { limit: 149 })
        );
    }

    #[test]
    fn a_flood_of_empty_lines_is_one_linear_pass() {
        // Trying each line end as the end of a head made this quadratic: hours for 4 MiB.
        let limits = Limits {
            max_head_size: 4 << 20,
            max_headers: 4,
        };
        for pattern in [&b"\n"[..], b"\r\n"] {
            let flood: Vec<u8> = pattern.iter().copied().cycle().take(4 << 20).collect();
            let mut p = HeadParser::new(limits);
            for end in (0..flood.len()).step_by(64 << 10) {
                assert_eq!(p.parse(&flood[..end]), Ok(None));
            }
            assert_eq!(p.parse(&flood), Err(HeadError::TooLarge { limit: 4 << 20 }));
        }
        // Empty lines before a head (and between heads) are still skipped, and a stray CR in
        // them is still an error.
        let p = parse(b"\r\n\n\nHTTP/1.1 100 Continue\r\n\r\n\r\n\nHTTP/1.1 200 OK\n\n").unwrap();
        let p = p.unwrap();
        assert_eq!((p.interim[0].status, p.head.status), (100, 200));
        assert_eq!(p.head.lines, ["HTTP/1.1 200 OK"]);
        assert_eq!(
            parse(b"\r\r\nHTTP/1.1 200 OK\n\n"),
            Err(HeadError::Invalid("invalid line end".to_owned()))
        );
    }

    #[test]
    fn incremental_parsing_resumes_where_it_stopped() {
        let b = b"HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nA: 1\n\n";
        let mut p = HeadParser::new(Limits::default());
        for end in 0..b.len() {
            assert_eq!(p.parse(&b[..end]), Ok(None), "at {end}");
        }
        assert_eq!(p.parse(b), parse(b));
    }
}
