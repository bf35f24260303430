//! Targets: what the user typed (`host`, `host:port`, `http://host[:port][/path]`,
//! `https://host[:port][/path]`, `[::1]:8080`), checked once and turned into the scheme, host,
//! port and path the request is built from. Everything
//! that could smuggle bytes into the request line or the `Host` header is rejected here, so the
//! request builder never has to escape anything.

#[cfg(feature = "redirects")]
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::escape::escape_str;

/// One host to fetch the head of, parsed from user input.
///
/// Parsing keeps the original text ([`Target::input`]) so output can name the target exactly as
/// the user wrote it.
///
/// ```
/// use tulip_headers::Target;
///
/// let t: Target = "http://[::1]:8080/status?x=1".parse().unwrap();
/// assert_eq!((t.host(), t.port(), t.path()), ("::1", 8080, "/status?x=1"));
/// assert_eq!(t.host_header(), "[::1]:8080");
/// assert_eq!(t.input(), "http://[::1]:8080/status?x=1");
///
/// let t: Target = "example.com".parse().unwrap();
/// assert_eq!((t.port(), t.path(), t.host_header().as_str()), (80, "/", "example.com"));
///
/// let err = "example.com\r\nX-Evil: 1".parse::<Target>().unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid target "example.com\r\nX-Evil: 1": control character \r in host"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    input: String,
    scheme: Scheme,
    host: String,
    port: u16,
    path: String,
    ip: Option<IpAddr>,
}

/// How a target is spoken to: plain HTTP or HTTP over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scheme {
    /// `http://` (and targets without a scheme): port 80 by default.
    #[default]
    Http,
    /// `https://`: TLS first, port 443 by default.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a target (or its host, port or path) was rejected. The message names the input, escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    input: String,
    reason: String,
}

impl TargetError {
    pub(crate) fn new(input: &str, reason: impl Into<String>) -> Self {
        TargetError {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The rejected input, as given.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it, e.g. `control character \r in host`.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid target \"{}\": {}",
            escape_str(&self.input),
            self.reason
        )
    }
}

impl std::error::Error for TargetError {}

/// Names a forbidden character the way the messages show it.
pub(crate) fn describe_char(c: char) -> String {
    match c {
        ' ' => "space".to_owned(),
        '\r' => r"control character \r".to_owned(),
        '\n' => r"control character \n".to_owned(),
        '\t' => r"control character \t".to_owned(),
        '\0' => r"control character \0 (nul)".to_owned(),
        c => format!(r"control character \x{:02x}", c as u32),
    }
}

/// The first control character (C0, DEL, C1) or space in `s`, if any. C1 too because the
/// input is printed as given: U+009B is a terminal's CSI, as ESC `[` is.
pub(crate) fn first_forbidden(s: &str) -> Option<char> {
    s.chars().find(|&c| c == ' ' || c.is_control())
}

impl Target {
    /// Parses `host`, `host:port`, `http://host[:port][/path]`, `https://host[:port][/path]`
    /// or an IPv6 literal (`[::1]`, `[::1]:8080`, or a bare `::1`). The port defaults to 80
    /// (443 for `https`) and the path to `/`.
    ///
    /// Rejected, with an error naming the input: spaces and control characters anywhere (no
    /// request injection), an empty host, a port that is not 1-65535, user info (`user@host`),
    /// and any scheme but `http` and `https`.
    pub fn parse(input: &str) -> Result<Target, TargetError> {
        let err = |reason: String| TargetError::new(input, reason);
        let mut rest = input;
        let mut scheme = Scheme::Http;
        if let Some(i) = rest.find("://") {
            let name = &rest[..i];
            if name.eq_ignore_ascii_case("https") {
                if !cfg!(feature = "tls") {
                    return Err(err("https needs tulip-headers' \"tls\" feature".to_owned()));
                }
                scheme = Scheme::Https;
            } else if !name.eq_ignore_ascii_case("http") {
                if let Some(c) = first_forbidden(name) {
                    return Err(err(format!("{} in scheme", describe_char(c))));
                }
                return Err(err(format!(
                    "unsupported scheme \"{}\" (http or https)",
                    escape_str(name)
                )));
            }
            rest = &rest[i + 3..];
        }
        // The authority ends where the path or query begins.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if let Some(c) = first_forbidden(authority) {
            return Err(err(format!("{} in host", describe_char(c))));
        }
        if authority.contains('@') {
            return Err(err("user info (user@host) is not supported".to_owned()));
        }
        let (host, port, ip) = split_authority(authority, scheme.default_port()).map_err(err)?;
        let path = normalize_path(tail).map_err(err)?;
        Ok(Target {
            input: input.to_owned(),
            scheme,
            host,
            port,
            path,
            ip,
        })
    }

    /// The text this target was parsed from, unchanged.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host name or IP address, without brackets for IPv6.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port (80, or 443 for `https`, unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request path, starting with `/` (query included, fragment dropped, non-ASCII
    /// characters percent-encoded).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The IP address when the host is an IP literal: such targets skip DNS entirely.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The value of the `Host` header: the host, bracketed if IPv6, with `:port` unless it is
    /// the scheme's default (80, or 443 for `https`).
    pub fn host_header(&self) -> String {
        let host = match self.ip {
            Some(IpAddr::V6(_)) => format!("[{}]", self.host),
            _ => self.host.clone(),
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The absolute URL this target fetches: `scheme://host[:port]/path`.
    ///
    /// ```
    /// use tulip_headers::Target;
    ///
    /// let t: Target = "[::1]:8080/a?b".parse().unwrap();
    /// assert_eq!(t.url(), "http://[::1]:8080/a?b");
    /// assert_eq!("https://example.com:443".parse::<Target>().unwrap().url(), "https://example.com/");
    /// ```
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host_header(), self.path)
    }

    /// Where a redirect's `Location` value leads from this target: resolved against
    /// [`Target::url`] by the url crate (RFC 3986, so `/b`, `b`, `//host/b` and absolute URLs
    /// all work), the fragment dropped, and checked like any input. The new target's
    /// [`Target::input`] is the absolute URL.
    ///
    /// ```
    /// use tulip_headers::Target;
    ///
    /// let t: Target = "http://example.com:8080/a/b".parse().unwrap();
    /// assert_eq!(t.join("c?x=1").unwrap().input(), "http://example.com:8080/a/c?x=1");
    /// assert_eq!(t.join("/d#top").unwrap().input(), "http://example.com:8080/d");
    /// assert_eq!(t.join("https://example.com/").unwrap().port(), 443);
    /// let err = t.join("ftp://example.com/").unwrap_err();
    /// assert_eq!(err.to_string(), r#"invalid target "ftp://example.com/": unsupported scheme "ftp" (http or https)"#);
    /// ```
    #[cfg(feature = "redirects")]
    pub fn join(&self, location: &str) -> Result<Target, TargetError> {
        let err = |e: url::ParseError| TargetError::new(location, e.to_string());
        let base = url::Url::parse(&self.url()).map_err(err)?;
        let mut next = base.join(location).map_err(err)?;
        // Checked on the parsed URL, not left to `Target::parse`: `localhost:8080` or `data:80`
        // is a URL with the scheme `localhost` or `data` to the url crate, and as text it would
        // read as the plain target `http://localhost:8080/`.
        if !matches!(next.scheme(), "http" | "https") {
            let reason = format!(
                "unsupported scheme \"{}\" (http or https)",
                escape_str(next.scheme())
            );
            return Err(TargetError::new(location, reason));
        }
        next.set_fragment(None);
        Target::parse(next.as_str()).map_err(|e| TargetError::new(location, e.reason))
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::parse(s)
    }
}

impl fmt::Display for Target {
    /// Shows the original input.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.input)
    }
}

/// `url` with the password of its user info (`user:password@`) shown as `***`, for messages:
/// a server's `Location` may carry credentials, and an error message (or a log that keeps it)
/// must not repeat them. The user name stays, as Go's `URL.Redacted` keeps it.
///
/// Text, not a parsed URL: it works on what could not be parsed too. The user info is looked for
/// where URL parsers look: in the authority, after `scheme:` and its slashes (or a leading
/// `//`), up to the first `/`, `?` or `#`; it is what precedes the authority's last `@`. So an
/// `@` in the path or the query hides nothing and reveals nothing. It errs towards hiding where
/// there are no slashes: `http:user:pw@host` and `user:pw@host/` are read from their start
/// (`http:***@host`, `user:***@host/`). (A `/`, `?` or `#` inside a would-be password ends the
/// authority for every parser, so that text is no user info and is shown.)
#[cfg(feature = "redirects")]
pub(crate) fn redact_password(url: &str) -> Cow<'_, str> {
    let is_scheme = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    let scheme_end = url
        .find(':')
        .filter(|&i| is_scheme(&url[..i]))
        .map_or(0, |i| i + 1);
    let after = &url[scheme_end..];
    // Backslashes too: the url crate reads `http:\\host` as `http://host`.
    let slashes = after.len() - after.trim_start_matches(['/', '\\']).len();
    let start = match slashes {
        0 => 0,
        // `/path`: a path, no authority.
        1 if scheme_end == 0 => return Cow::Borrowed(url),
        n => scheme_end + n,
    };
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let Some(at) = url[start..end].rfind('@').map(|i| start + i) else {
        return Cow::Borrowed(url);
    };
    let Some(colon) = url[start..at].find(':').map(|i| start + i) else {
        return Cow::Borrowed(url);
    };
    Cow::Owned(format!("{}***{}", &url[..colon + 1], &url[at..]))
}

/// Splits `host[:port]`, `[v6][:port]` or a bare IPv6 literal; `default` is the port when none
/// is given.
fn split_authority(authority: &str, default: u16) -> Result<(String, u16, Option<IpAddr>), String> {
    if authority.is_empty() {
        return Err("empty host".to_owned());
    }
    if let Some(after) = authority.strip_prefix('[') {
        let Some(close) = after.find(']') else {
            return Err("missing ']' after IPv6 address".to_owned());
        };
        let inner = &after[..close];
        // `fe80::1%eth0` (or `%25eth0`, RFC 6874): a link-local address needs its interface,
        // which a connect here cannot be given; say so rather than call the address invalid.
        if let Some(at) = inner.find('%') {
            let zone = &inner[at..];
            return Err(format!(
                "IPv6 zone \"{zone}\" is not supported (link-local addresses cannot be fetched)"
            ));
        }
        let v6: Ipv6Addr = inner
            .parse()
            .map_err(|_| format!("invalid IPv6 address \"{inner}\""))?;
        let port = match &after[close + 1..] {
            "" => default,
            p => match p.strip_prefix(':') {
                Some(p) => parse_port(p)?,
                None => return Err(format!("unexpected \"{p}\" after IPv6 address")),
            },
        };
        return Ok((inner.to_owned(), port, Some(IpAddr::V6(v6))));
    }
    // A bare IPv6 literal has several colons; it cannot carry a port.
    if authority.matches(':').count() > 1 {
        return match authority.parse::<Ipv6Addr>() {
            Ok(v6) => Ok((authority.to_owned(), default, Some(IpAddr::V6(v6)))),
            Err(_) => Err("invalid host (IPv6 addresses need brackets: [::1]:8080)".to_owned()),
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, parse_port(p)?),
        None => (authority, default),
    };
    if host.is_empty() {
        return Err("empty host".to_owned());
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(format!("invalid character '{c}' in host"));
    }
    let ip = host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    Ok((host.to_owned(), port, ip))
}

fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Err("empty port".to_owned());
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("invalid port \"{p}\" (expected 1-65535)")),
        Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        Ok(_) => Err(format!("invalid port \"{p}\" (expected 1-65535)")),
    }
}

/// Turns the text after the authority into a request path: `/` when empty, a leading `/` before
/// a bare query, the fragment dropped, non-ASCII percent-encoded; spaces and controls rejected.
fn normalize_path(tail: &str) -> Result<String, String> {
    if let Some(c) = first_forbidden(tail) {
        return Err(format!("{} in path", describe_char(c)));
    }
    // The fragment is never sent to the server.
    let tail = tail.split('#').next().unwrap_or("");
    let mut path = String::with_capacity(tail.len() + 1);
    if !tail.starts_with('/') {
        path.push('/');
    }
    for c in tail.chars() {
        if c.is_ascii() {
            path.push(c);
        } else {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                path.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> (String, u16, String) {
        let t = Target::parse(s).unwrap();
        (t.host().to_owned(), t.port(), t.path().to_owned())
    }

    fn reason(s: &str) -> String {
        Target::parse(s).unwrap_err().reason().to_owned()
    }

    #[test]
    fn redacts_the_password_of_user_info_only() {
        for (url, shown) in [
            ("http://u:pw@h/", "http://u:***@h/"),
            ("//u:pw@h:8080/p?q#f", "//u:***@h:8080/p?q#f"),
            ("https://u:p@w:x@h/", "https://u:***@h/"),
            ("http:u:pw@h", "http:***@h"),
            ("u:pw@h/x", "u:***@h/x"),
            ("http://u:@h/", "http://u:***@h/"),
            // An `@` after the authority (in the path) does not hide the user info's.
            ("http://u:pw@h/x@y", "http://u:***@h/x@y"),
            ("http://u:pw@h/a:b@c", "http://u:***@h/a:b@c"),
            ("//u:pw@h/~x@y", "//u:***@h/~x@y"),
            ("http://u:pw@[::1]:8080/x@y", "http://u:***@[::1]:8080/x@y"),
            ("http://u:pw@h?x@y", "http://u:***@h?x@y"),
            // Slashes as the url crate counts them.
            ("http:/u:pw@h", "http:/u:***@h"),
            (r"\\u:pw@h/", r"\\u:***@h/"),
            // Percent-encoded bytes stay as they are, hidden or not.
            ("http://u%3Ax:p%40w@h/", "http://u%3Ax:***@h/"),
            // Escaped text (a header value with bytes outside printable ASCII) is hidden too.
            (r"http://u:p\xc3\xa9w@h/", "http://u:***@h/"),
            // Nothing to hide: no password, no user info, an `@` in the query.
            ("http://u@h/", "http://u@h/"),
            ("http://h/a?to=u:pw@h", "http://h/a?to=u:pw@h"),
            ("/users/@me", "/users/@me"),
            ("http://[::1]:8080/a:b@c", "http://[::1]:8080/a:b@c"),
            ("http://h/a:b@c", "http://h/a:b@c"),
            ("/a:b@c", "/a:b@c"),
            ("", ""),
        ] {
            assert_eq!(redact_password(url), shown, "{url}");
        }
    }

    #[test]
    fn accepts_the_documented_forms() {
        let p = |h: &str, port, path: &str| (h.to_owned(), port, path.to_owned());
        assert_eq!(parts("example.com"), p("example.com", 80, "/"));
        assert_eq!(parts("example.com:8080"), p("example.com", 8080, "/"));
        assert_eq!(parts("http://example.com"), p("example.com", 80, "/"));
        assert_eq!(
            parts("HTTP://example.com:81/a/b"),
            p("example.com", 81, "/a/b")
        );
        assert_eq!(parts("http://h/?q=1#frag"), p("h", 80, "/?q=1"));
        assert_eq!(parts("http://h?q=1"), p("h", 80, "/?q=1"));
        assert_eq!(parts("h/x"), p("h", 80, "/x"));
        assert_eq!(parts("[::1]:8080"), p("::1", 8080, "/"));
        assert_eq!(parts("[::1]"), p("::1", 80, "/"));
        assert_eq!(parts("http://[fe80::1]/p"), p("fe80::1", 80, "/p"));
        assert_eq!(parts("::1"), p("::1", 80, "/"));
        assert_eq!(parts("127.0.0.1:1"), p("127.0.0.1", 1, "/"));
        assert_eq!(parts("h:65535"), p("h", 65535, "/"));
        assert_eq!(parts("h/caf\u{e9}"), p("h", 80, "/caf%C3%A9"));
    }

    #[test]
    fn https_targets_default_to_port_443() {
        let t = Target::parse("https://example.com/x").unwrap();
        assert_eq!((t.scheme(), t.port(), t.path()), (Scheme::Https, 443, "/x"));
        assert_eq!(t.host_header(), "example.com");
        let t = Target::parse("HTTPS://[::1]:8443").unwrap();
        assert_eq!((t.scheme(), t.port()), (Scheme::Https, 8443));
        assert_eq!(t.host_header(), "[::1]:8443");
        assert_eq!(t.url(), "https://[::1]:8443/");
        let t = Target::parse("https://h:80").unwrap();
        assert_eq!(t.host_header(), "h:80");
        assert_eq!(Target::parse("h").unwrap().scheme(), Scheme::Http);
    }

    #[test]
    fn keeps_the_input_and_knows_ip_literals() {
        let t = Target::parse("http://127.0.0.1:8080/x").unwrap();
        assert_eq!(t.input(), "http://127.0.0.1:8080/x");
        assert_eq!(t.to_string(), "http://127.0.0.1:8080/x");
        assert_eq!(t.ip(), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(Target::parse("localhost").unwrap().ip(), None);
        assert_eq!(
            Target::parse("[::1]:9").unwrap().ip(),
            Some("::1".parse().unwrap())
        );
    }

    #[test]
    fn host_header_omits_port_80_and_brackets_ipv6() {
        let h = |s: &str| Target::parse(s).unwrap().host_header();
        assert_eq!(h("example.com"), "example.com");
        assert_eq!(h("example.com:80"), "example.com");
        assert_eq!(h("example.com:8080"), "example.com:8080");
        assert_eq!(h("[::1]:8080"), "[::1]:8080");
        assert_eq!(h("[::1]"), "[::1]");
    }

    #[test]
    fn rejects_injection_in_host_and_path() {
        assert_eq!(reason("a\r\nb"), r"control character \r in host");
        assert_eq!(reason("a\nb"), r"control character \n in host");
        assert_eq!(reason("a\0b"), r"control character \0 (nul) in host");
        assert_eq!(reason("a b"), "space in host");
        assert_eq!(reason(" a"), "space in host");
        assert_eq!(reason("a\tb"), r"control character \t in host");
        assert_eq!(reason("a\x7fb"), r"control character \x7f in host");
        assert_eq!(reason("a\x1bb"), r"control character \x1b in host");
        assert_eq!(reason("h/x y"), "space in path");
        assert_eq!(
            reason("http://h/x\r\nHost: evil"),
            r"control character \r in path"
        );
        assert_eq!(reason("h/\0"), r"control character \0 (nul) in path");
        assert_eq!(reason("h/x\x01"), r"control character \x01 in path");
        assert_eq!(reason("h/\u{9b}31m"), r"control character \x9b in path");
        assert_eq!(reason("h/#\n"), r"control character \n in path");
        assert_eq!(reason("ht\ntp://h"), r"control character \n in scheme");
    }

    #[test]
    fn error_message_names_the_input_escaped() {
        let e = Target::parse("a\r\nb").unwrap_err();
        assert_eq!(e.input(), "a\r\nb");
        assert_eq!(
            e.to_string(),
            r#"invalid target "a\r\nb": control character \r in host"#
        );
    }

    #[test]
    fn rejects_bad_hosts_ports_and_schemes() {
        assert_eq!(reason(""), "empty host");
        assert_eq!(reason("http://"), "empty host");
        assert_eq!(reason("http:///path"), "empty host");
        assert_eq!(reason(":8080"), "empty host");
        assert_eq!(reason("h:"), "empty port");
        assert_eq!(reason("h:0"), "invalid port \"0\" (expected 1-65535)");
        assert_eq!(
            reason("h:65536"),
            "invalid port \"65536\" (expected 1-65535)"
        );
        assert_eq!(reason("h:+80"), "invalid port \"+80\" (expected 1-65535)");
        assert_eq!(reason("h:http"), "invalid port \"http\" (expected 1-65535)");
        assert_eq!(
            reason("ftp://h"),
            "unsupported scheme \"ftp\" (http or https)"
        );
        assert_eq!(reason("u@h"), "user info (user@host) is not supported");
        assert_eq!(reason("[::1"), "missing ']' after IPv6 address");
        assert_eq!(reason("[zz]:80"), "invalid IPv6 address \"zz\"");
        assert_eq!(
            reason("http://[fe80::1%25eth0]:80/"),
            "IPv6 zone \"%25eth0\" is not supported (link-local addresses cannot be fetched)"
        );
        assert_eq!(reason("[::1]x"), "unexpected \"x\" after IPv6 address");
        assert_eq!(
            reason("a:b:c"),
            "invalid host (IPv6 addresses need brackets: [::1]:8080)"
        );
        assert_eq!(reason("h\u{e9}"), "invalid character '\u{e9}' in host");
        assert_eq!(reason("h,x"), "invalid character ',' in host");
    }

    #[test]
    fn join_refuses_locations_whose_scheme_is_not_http() {
        let base = Target::parse("http://example.com/a").unwrap();
        let scheme = |location: &str| base.join(location).unwrap_err().reason().to_owned();
        // Schemes to the url crate, though they would read as `host:port` targets.
        assert_eq!(
            scheme("localhost:8080"),
            "unsupported scheme \"localhost\" (http or https)"
        );
        assert_eq!(
            scheme("data:80"),
            "unsupported scheme \"data\" (http or https)"
        );
        assert_eq!(
            scheme("javascript:alert(1)"),
            "unsupported scheme \"javascript\" (http or https)"
        );
        assert_eq!(
            scheme("file:///etc/passwd"),
            "unsupported scheme \"file\" (http or https)"
        );
        assert_eq!(
            scheme("mailto:a@b"),
            "unsupported scheme \"mailto\" (http or https)"
        );
        // Relative references and http(s) URLs still resolve.
        assert_eq!(base.join("./b:c").unwrap().url(), "http://example.com/b:c");
        assert_eq!(base.join("HTTPS://h/").unwrap().url(), "https://h/");
    }
}
