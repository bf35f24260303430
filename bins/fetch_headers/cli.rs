//! The command line: the arguments clap parses, and the target list they name (arguments first,
//! then each `-i FILE` in order). Every usage error (a bad option value, an unreadable file, a
//! target that does not parse) ends here with clap's `error: ...` and exit status 2, naming the
//! bad input and, for files, its line.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{RangedU64ValueParser, TypedValueParser as _};
use clap::{CommandFactory, Parser, ValueEnum};
use headers::resolve::Pin;
use headers::{Header, Method, Resolver, Target, TlsConfig};
use support::Utf8;

use crate::input::Input;

/// Fetch the HTTP response heads of many hosts at once, the way the classic asyncio `wget(host)`
/// example does:
/// connect, send `GET / HTTP/1.0` with `Host`, print each head line as `HOST header > LINE`.
#[derive(Debug, Parser)]
#[command(name = "fetch-headers", version, max_term_width = 100)]
#[command(
    after_help = "Exit status: 0 when every head was fetched (whatever its status), \
1 when some target failed or the output could not be written (a closed pipe, a full disk), \
2 for a usage error, 130 when interrupted."
)]
pub struct Args {
    /// Targets: host, host:port, http://host[:port][/path], https://host[:port][/path] or
    /// [::1]:8080 (port 80, or 443 for https; path /).
    #[arg(value_name = "TARGET", value_parser = Utf8)]
    pub targets: Vec<String>,

    /// Read targets from FILE too, one a line (`-` for stdin); blank lines and `#` comments are
    /// skipped. Repeatable.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub inputs: Vec<PathBuf>,

    // The numeric options take `-1` as their (bad) value, so that the error names the option;
    // elsewhere a stray `-1` stays an unknown argument, not a host to look up. The seconds take
    // any value that starts with a hyphen: clap's idea of a negative number leaves out `-.5`
    // and `-1e-3`, which `.5` and `1e-3` next to them make likely.
    /// How many targets are fetched at once.
    #[arg(short, long, value_name = "N", default_value = "64", value_parser = concurrency(), allow_negative_numbers = true)]
    pub concurrency: NonZeroUsize,

    /// Deadline for a target's whole exchange (connect, send, read the head), in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds, allow_hyphen_values = true)]
    pub timeout: Duration,

    /// Deadline for connecting alone, in seconds (default: the --timeout deadline).
    #[arg(long, value_name = "SECS", value_parser = seconds, allow_hyphen_values = true)]
    pub connect_timeout: Option<Duration>,

    /// Request method: GET (the default) or HEAD. The body is never read either way.
    #[arg(short = 'X', long, value_name = "METHOD", default_value = "GET", value_parser = method)]
    pub method: Method,

    /// An extra request header, 'Name: value'. Repeatable.
    // Checked after parsing, in `headers()`: clap's own message would echo a bad value raw, CR
    // and LF included.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = Utf8)]
    pub headers: Vec<String>,

    /// Ask only this DNS server (ADDR or ADDR:PORT, port 53 by default), never the system's.
    /// Repeatable: asked in turn.
    #[arg(long = "resolver", value_name = "ADDR[:PORT]", value_parser = nameserver)]
    pub resolvers: Vec<SocketAddr>,

    /// Answer HOST with ADDR for connections to PORT, without DNS (curl's syntax; several
    /// addresses separated by commas, IPv6 in brackets). Repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR", value_parser = pin)]
    pub pins: Vec<Pin>,

    /// Follow redirects (301, 302, 303, 307, 308), printing each hop's head under its own URL.
    #[arg(short = 'L', long)]
    pub location: bool,

    /// With -L: the most redirects followed per target.
    #[arg(
        long,
        value_name = "N",
        default_value = "10",
        requires = "location",
        allow_negative_numbers = true
    )]
    pub max_redirects: usize,

    /// For https targets: trust the certificates of this PEM file instead of Mozilla's roots.
    /// Not with --demo, which trusts its own CA.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["insecure", "demo"])]
    pub cacert: Option<PathBuf>,

    /// For https targets: accept any certificate (expired, for another name, self-signed). The
    /// connection is encrypted but the server is not authenticated.
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Print one JSON object a line per target instead of `HOST header > LINE` lines.
    #[arg(long)]
    pub json: bool,

    /// Print hosts as they complete (the default), or in the order they were given (the
    /// default for --demo). In input order at most 4 x --concurrency targets, counted from the
    /// earliest one not yet printed, are read and started: while a slow one holds the window
    /// full, nothing new starts until it finishes.
    #[arg(long, value_enum, value_name = "ORDER")]
    pub order: Option<Order>,

    /// Keep a checkpoint in FILE of how far the input has been fetched (each result counted
    /// once it is written out), and skip what it holds when started again with the same TARGET
    /// arguments and -i files: a run killed at any moment repeats at most the targets that were
    /// in flight. Append the output (>>) to keep the earlier results. Removed when a run
    /// finishes every target.
    #[arg(long, value_name = "FILE", conflicts_with = "demo")]
    pub resume: Option<PathBuf>,

    /// Also print the 1xx interim heads (100 Continue, 103 Early Hints) read on the way.
    #[arg(long)]
    pub interim: bool,

    /// Start a few loopback demo servers (fast, slow, https, redirecting http to https, 404,
    /// 500) and fetch them all at once; needs no network. The https server's certificate comes
    /// from a CA made at start, which the run trusts (-k still skips verification). Add -L to
    /// follow the redirect. Prints in input order unless --order says otherwise.
    #[arg(long, conflicts_with_all = ["targets", "inputs"])]
    pub demo: bool,
}

/// In what order finished targets are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Order {
    /// As each target completes: the first answers are seen first.
    Completion,
    /// In the order the targets were given, each printed as soon as all before it are.
    Input,
}

fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be more than 0 seconds".into());
    }
    match Duration::try_from_secs_f64(secs) {
        // Below a nanosecond: a deadline that every target would miss before it starts.
        Ok(d) if d.is_zero() => Err("must be at least a nanosecond (1e-9)".into()),
        Ok(d) => Ok(d),
        Err(_) => Err(format!("{s} seconds is too long")),
    }
}

/// `ADDR` or `ADDR:PORT` (`[v6]:PORT`), port 53 by default.
fn nameserver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(s);
    match bare.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, 53)),
        Err(_) => Err(format!(
            "\"{}\" is not an IP address with an optional port",
            support::escape_bytes(s.as_bytes())
        )),
    }
}

fn pin(s: &str) -> Result<Pin, String> {
    s.parse()
        .map_err(|e: headers::resolve::PinError| e.to_string())
}

/// The resolver of the run: the system's configuration (/etc/resolv.conf, /etc/hosts) with
/// `--resolver` servers instead of its own, the `--resolve` pins, and room for a query of each
/// kind per connection (dead names hold theirs until their deadline). A configuration that
/// cannot be read is an error naming the file.
pub fn resolver(args: &Args) -> Result<Resolver, String> {
    let mut builder = Resolver::builder()
        .hosts_file_if_present(headers::resolve::HOSTS)
        .max_in_flight(args.concurrency.get().saturating_mul(2).max(256));
    let conf = std::path::Path::new(headers::resolve::RESOLV_CONF);
    if conf.exists() {
        builder = builder.resolv_conf(conf);
    } else if args.resolvers.is_empty() {
        // No resolv.conf (a container, say): the C library's fallback.
        builder = builder.nameserver(SocketAddr::from(([127, 0, 0, 1], 53)));
    }
    for server in &args.resolvers {
        builder = builder.nameserver(*server);
    }
    for pin in &args.pins {
        builder = builder.pin_parsed(pin.clone());
    }
    builder
        .build()
        .map_err(|e| format!("dns configuration: {e}"))
}

fn method(s: &str) -> Result<Method, String> {
    s.parse().map_err(|e: headers::MethodError| e.to_string())
}

/// `--concurrency`: at least 1.
fn concurrency() -> impl clap::builder::TypedValueParser<Value = NonZeroUsize> {
    // The range rules out 0, so the conversion cannot fail.
    RangedU64ValueParser::<usize>::new()
        .range(1..)
        .try_map(NonZeroUsize::try_from)
}

/// How https targets are verified (built once for the whole run); an unreadable or empty
/// `--cacert` file is a usage error naming it.
pub fn tls(args: &Args) -> TlsConfig {
    if args.insecure {
        return TlsConfig::insecure();
    }
    match &args.cacert {
        Some(path) => TlsConfig::from_pem_file(path)
            .unwrap_or_else(|e| usage_error(format_args!("--cacert {e}"))),
        None => TlsConfig::default(),
    }
}

/// The `-H` headers, validated; a bad one is a usage error naming it (escaped).
pub fn headers(args: &Args) -> Vec<Header> {
    let parsed = args.headers.iter().map(|h| Header::parse(h));
    parsed
        .map(|h| h.unwrap_or_else(|e| usage_error(e)))
        .collect()
}

/// Exits with clap's usage error (status 2) and `message`.
pub fn usage_error(message: impl std::fmt::Display) -> ! {
    Args::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

/// The input named by the arguments and `-i` files, in that order: the arguments parsed (the
/// first bad one is a usage error naming it), the files opened (one that cannot be read is a
/// usage error naming it) but not read: their lines are read as the run goes.
pub fn targets(args: &Args) -> Input {
    let mut targets = Vec::with_capacity(args.targets.len());
    for input in &args.targets {
        match Target::parse(input) {
            Ok(t) => targets.push(t),
            Err(e) => usage_error(e),
        }
    }
    if targets.is_empty() && args.inputs.is_empty() {
        usage_error("no targets: give TARGET arguments, -i FILE or --demo");
    }
    let mut input = Input::from_targets(targets);
    for path in &args.inputs {
        match crate::input::open(path) {
            Ok((name, reader, size)) => input.add_file(name, reader, size),
            Err((name, e)) => cannot_read(&name, &e),
        }
    }
    input
}

/// The usage error of an input that held no target at all (only blank lines and comments).
pub fn no_targets_in_input() -> ! {
    usage_error("no targets: give TARGET arguments, -i FILE or --demo (the input held none)")
}

/// Exits with the usage error for an input that cannot be read.
fn cannot_read(name: &str, e: &std::io::Error) -> ! {
    usage_error(format_args!(
        "cannot read targets from {name}: {}",
        io_reason(e)
    ))
}

/// `No such file or directory`, without std's ` (os error 2)` suffix.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
