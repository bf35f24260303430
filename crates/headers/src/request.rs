//! The request: method, HTTP version, extra headers, and [`build_request`], the one function that
//! turns a target and options into the bytes sent. Extra headers are validated when they are
//! made ([`Header::new`]), targets when they are parsed, so the bytes built here cannot carry an
//! injected line.

use std::fmt;
use std::str::FromStr;

use crate::Options;
use crate::escape::escape_str;
use crate::target::{Target, describe_char};

/// The request method: only the two that ask for a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// `GET`, the default (the body is never read either way).
    #[default]
    Get,
    /// `HEAD`: the server sends no body.
    Head,
}

impl Method {
    /// `"GET"` or `"HEAD"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method other than `GET` or `HEAD`; the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodError(String);

impl fmt::Display for MethodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported method \"{}\" (GET or HEAD)",
            escape_str(&self.0)
        )
    }
}

impl std::error::Error for MethodError {}

impl FromStr for Method {
    type Err = MethodError;

    /// Case-insensitive `GET` or `HEAD`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("GET") {
            Ok(Method::Get)
        } else if s.eq_ignore_ascii_case("HEAD") {
            Ok(Method::Head)
        } else {
            Err(MethodError(s.to_owned()))
        }
    }
}

/// An HTTP/1.x version, of a request or of a received head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Version {
    /// `HTTP/1.0`, the default request version: the server closes after replying.
    #[default]
    Http10,
    /// `HTTP/1.1`; requests then carry `Connection: close`.
    Http11,
}

impl Version {
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An extra request header, validated: the name is an HTTP token, the value holds no control
/// characters (CR, LF, NUL, tab, DEL ...), so neither can end the line early.
///
/// ```
/// use tulip_headers::Header;
///
/// let h: Header = "Accept: text/html".parse().unwrap();
/// assert_eq!((h.name(), h.value()), ("Accept", "text/html"));
///
/// let err = Header::new("X-A", "1\r\nX-Evil: 2").unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid header "X-A: 1\r\nX-Evil: 2": control character \r in value"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    name: String,
    value: String,
}

/// Why an extra header was rejected; the message names it, escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    input: String,
    reason: String,
}

impl HeaderError {
    /// The rejected header text (`Name: value`), as given.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid header \"{}\": {}",
            escape_str(&self.input),
            self.reason
        )
    }
}

impl std::error::Error for HeaderError {}

/// RFC 9110 `tchar`: what a header name may be made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Header {
    /// A header from its name and value; the value is trimmed of surrounding spaces.
    pub fn new(name: &str, value: &str) -> Result<Header, HeaderError> {
        let err = |reason: String| HeaderError {
            input: format!("{name}: {value}"),
            reason,
        };
        if name.is_empty() {
            return Err(err("empty name".to_owned()));
        }
        if let Some(c) = name.chars().find(|c| !(c.is_ascii() && is_tchar(*c as u8))) {
            return Err(err(if c == ' ' || c.is_ascii_control() {
                format!("{} in name", describe_char(c))
            } else {
                format!("invalid character '{c}' in name")
            }));
        }
        let value = value.trim_matches(' ');
        if let Some(c) = value.chars().find(|c| c.is_ascii_control()) {
            return Err(err(format!("{} in value", describe_char(c))));
        }
        Ok(Header {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }

    /// Parses `Name: value` (the form of curl's `-H`).
    pub fn parse(line: &str) -> Result<Header, HeaderError> {
        match line.split_once(':') {
            Some((name, value)) => Header::new(name, value).map_err(|e| HeaderError {
                input: line.to_owned(),
                reason: e.reason,
            }),
            None => Err(HeaderError {
                input: line.to_owned(),
                reason: "expected \"Name: value\"".to_owned(),
            }),
        }
    }

    /// The header name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header value, trimmed.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl FromStr for Header {
    type Err = HeaderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Header::parse(s)
    }
}

/// Builds the request bytes for `target`: the request line (`options.method`, the target's
/// path, `options.version`), `Host` (without `:80`), `Connection: close` for HTTP/1.1 (1.0
/// closes by default), then `options.headers`. An extra `Host` or `Connection` header replaces
/// the default one rather than doubling it.
///
/// ```
/// use tulip_headers::{build_request, Header, Method, Options, Target};
///
/// let target: Target = "example.com:8080/a".parse().unwrap();
/// let mut options = Options::default();
/// assert_eq!(build_request(&target, &options), b"GET /a HTTP/1.0\r\nHost: example.com:8080\r\n\r\n");
///
/// options.method = Method::Head;
/// options.version = tulip_headers::Version::Http11;
/// options.headers.push(Header::parse("Accept: */*").unwrap());
/// assert_eq!(
///     String::from_utf8(build_request(&target, &options)).unwrap(),
///     "HEAD /a HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\nAccept: */*\r\n\r\n"
/// );
/// ```
pub fn build_request(target: &Target, options: &Options) -> Vec<u8> {
    let has = |name: &str| {
        options
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name))
    };
    let mut req = String::with_capacity(64 + target.path().len() + target.host().len());
    req.push_str(options.method.as_str());
    req.push(' ');
    req.push_str(target.path());
    req.push(' ');
    req.push_str(options.version.as_str());
    req.push_str("\r\n");
    if !has("host") {
        req.push_str("Host: ");
        req.push_str(&target.host_header());
        req.push_str("\r\n");
    }
    // HTTP/1.1 keeps the connection open by default; we read one head and hang up, so say so.
    if options.version == Version::Http11 && !has("connection") {
        req.push_str("Connection: close\r\n");
    }
    for h in &options.headers {
        req.push_str(&h.name);
        req.push_str(": ");
        req.push_str(&h.value);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(line: &str) -> String {
        Header::parse(line).unwrap_err().reason().to_owned()
    }

    #[test]
    fn rejects_injection_in_extra_headers() {
        assert_eq!(reason("X-A: 1\r\nX-B: 2"), r"control character \r in value");
        assert_eq!(reason("X-A: 1\nX-B: 2"), r"control character \n in value");
        assert_eq!(reason("X-A: 1\0"), r"control character \0 (nul) in value");
        assert_eq!(reason("X-A: a\tb"), r"control character \t in value");
        assert_eq!(reason("X-A: a\x7f"), r"control character \x7f in value");
        assert_eq!(reason("X A: 1"), "space in name");
        assert_eq!(reason("X\r\nA: 1"), r"control character \r in name");
        assert_eq!(reason("X\0: 1"), r"control character \0 (nul) in name");
        assert_eq!(reason("X(A): 1"), "invalid character '(' in name");
        assert_eq!(reason(": 1"), "empty name");
        assert_eq!(reason("no colon"), "expected \"Name: value\"");
        let e = Header::parse("X-A: 1\r\nX-B: 2").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid header "X-A: 1\r\nX-B: 2": control character \r in value"#
        );
    }

    #[test]
    fn accepts_ordinary_headers() {
        let h = Header::parse("User-Agent:  curl/8.0 (x) ").unwrap();
        assert_eq!((h.name(), h.value()), ("User-Agent", "curl/8.0 (x)"));
        let h = Header::parse("X-Empty:").unwrap();
        assert_eq!(h.value(), "");
        let h = Header::parse("X-Utf8: caf\u{e9}").unwrap();
        assert_eq!(h.value(), "caf\u{e9}");
    }

    #[test]
    fn builds_a_plain_get_by_default() {
        let t: Target = "www.sina.com.cn".parse().unwrap();
        assert_eq!(
            build_request(&t, &Options::default()),
            b"GET / HTTP/1.0\r\nHost: www.sina.com.cn\r\n\r\n"
        );
        let t: Target = "[::1]:8080".parse().unwrap();
        assert_eq!(
            build_request(&t, &Options::default()),
            b"GET / HTTP/1.0\r\nHost: [::1]:8080\r\n\r\n"
        );
    }

    #[test]
    fn extra_host_and_connection_replace_the_defaults() {
        let t: Target = "10.0.0.1".parse().unwrap();
        let options = Options {
            version: Version::Http11,
            headers: vec![
                Header::parse("host: example.com").unwrap(),
                Header::parse("Connection: keep-alive").unwrap(),
            ],
            ..Options::default()
        };
        assert_eq!(
            String::from_utf8(build_request(&t, &options)).unwrap(),
            "GET / HTTP/1.1\r\nhost: example.com\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn methods_parse_case_insensitively() {
        assert_eq!("head".parse::<Method>(), Ok(Method::Head));
        assert_eq!("GET".parse::<Method>(), Ok(Method::Get));
        let err = "POST".parse::<Method>().unwrap_err();
        assert_eq!(err.to_string(), "unsupported method \"POST\" (GET or HEAD)");
    }
}
