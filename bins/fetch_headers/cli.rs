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
use headers::resolve::{Family, Pin};
use headers::{Header, Method, Partition, Resolver, Target, TlsConfig};
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

    /// Fetch on N threads (default: one per core, as long as each has at least 64 of the
    /// concurrency). The results are printed by a thread of their own either way.
    #[arg(long, value_name = "N", value_parser = at_least_one(), allow_negative_numbers = true)]
    pub threads: Option<usize>,

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

    /// Resolve names to IPv4 addresses only (asking DNS for A records alone) and connect
    /// only over IPv4: an IPv6 literal, or a name with only IPv6 addresses, fails with
    /// `dns: no address`.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Resolve names to IPv6 addresses only (asking DNS for AAAA records alone) and connect
    /// only over IPv6.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

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

    /// For https targets: count a target whose certificate expires within DAYS days as failed
    /// (`certificate expires in N days`), so that the run exits 1 when one needs renewing.
    #[arg(long, value_name = "DAYS", value_parser = days, allow_negative_numbers = true)]
    pub expires_within: Option<Duration>,

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

    /// Start at most N targets a second, evenly spaced (no burst at the start of a second);
    /// fractions allowed (0.5: one every two seconds). Default: no limit.
    #[arg(long, value_name = "N", value_parser = rate, allow_hyphen_values = true)]
    pub rate: Option<f64>,

    /// At most N connections at once to one host and port; its other targets wait while other
    /// hosts' go ahead. Default: no limit.
    #[arg(long, value_name = "N", value_parser = at_least_one(), allow_negative_numbers = true)]
    pub per_host: Option<usize>,

    /// Try a target again up to N times when it failed before any byte of the reply arrived
    /// (connection refused, reset before a reply, connect or DNS timeout), after a random wait
    /// (100 to 200 ms, doubled for each next retry); attempts and waits all within its
    /// --timeout.
    #[arg(
        long,
        value_name = "N",
        default_value = "0",
        allow_negative_numbers = true
    )]
    pub retries: u32,

    /// Fetch only shard I of N (0 <= I < N): the targets whose host hashes there, so that N
    /// runs over the same list fetch each target once, all of a host's on one run. Default:
    /// from the job runner, Kubernetes (JOB_COMPLETION_INDEX, with --shard-count or
    /// JOB_COMPLETIONS) or Slurm (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT); --shard 0/1
    /// fetches the whole list whatever the job runner says.
    #[arg(long, value_name = "I/N", value_parser = shard, allow_hyphen_values = true)]
    pub shard: Option<(u64, u64)>,

    /// The number of shards when the job runner gives the index (JOB_COMPLETION_INDEX, or
    /// Slurm's instead of SLURM_ARRAY_TASK_COUNT).
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<u64>::new().range(1..), allow_negative_numbers = true, conflicts_with = "shard")]
    pub shard_count: Option<u64>,

    /// Vary the split of --shard (every run of one split must use the same seed).
    #[arg(
        long,
        value_name = "SEED",
        default_value = "0",
        allow_negative_numbers = true
    )]
    pub seed: u64,

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
/// `--resolver` servers instead of its own, the `--resolve` pins, the `-4`/`-6` family, and
/// room for a query of each kind per connection (dead names hold theirs until their deadline).
/// A configuration that cannot be read is an error naming the file.
pub fn resolver(args: &Args) -> Result<Resolver, String> {
    let family = match (args.ipv4, args.ipv6) {
        (true, _) => Family::V4,
        (_, true) => Family::V6,
        _ => Family::Any,
    };
    let mut builder = Resolver::builder()
        .family(family)
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

/// `--rate`: a positive number of targets a second.
fn rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of targets a second"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err("must be a number of targets a second above 0".into());
    }
    Ok(rate)
}

/// `--per-host`: at least 1.
fn at_least_one() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..)
}

/// `--shard I/N`.
fn shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("{s:?} is not I/N (shard I of N, 0 <= I < N)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (number(i).ok_or_else(bad)?, number(n).ok_or_else(bad)?);
    Partition::new(i, n).map_err(|e| e.to_string())?;
    Ok((i, n))
}

/// A decimal number without sign or spaces.
fn number(s: &str) -> Option<u64> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// The shard this run fetches: `--shard`, else the job runner's index (Kubernetes Indexed
/// Jobs, then Slurm array jobs); `None` fetches every target. A bad value is a usage error
/// naming the variable it came from.
pub fn partition(
    args: &Args,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<Partition> {
    let var = |name: &str| -> Option<(String, u64)> {
        let value = env(name)?;
        let Some(text) = value.to_str() else {
            usage_error(format_args!("{name} is not UTF-8"))
        };
        match number(text.trim()) {
            Some(n) => Some((name.to_owned(), n)),
            None => usage_error(format_args!(
                "{name}={:?} is not a whole number",
                support::escape_bytes(text.as_bytes())
            )),
        }
    };
    let (from, index, count) = if let Some((index, count)) = args.shard {
        ("--shard".to_owned(), index, count)
    } else if let Some((name, index)) = var("JOB_COMPLETION_INDEX") {
        let count = match (args.shard_count, var("JOB_COMPLETIONS")) {
            (Some(count), _) => count,
            (None, Some((_, count))) => count,
            (None, None) => usage_error(
                "JOB_COMPLETION_INDEX is set but not the number of shards: give --shard-count N \
                 or set JOB_COMPLETIONS (the job's completions)",
            ),
        };
        (name, index, count)
    } else if let Some((name, id)) = var("SLURM_ARRAY_TASK_ID") {
        let count = match (args.shard_count, var("SLURM_ARRAY_TASK_COUNT")) {
            (Some(count), _) => count,
            (None, Some((_, count))) => count,
            (None, None) => usage_error(
                "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: give --shard-count N",
            ),
        };
        // Arrays numbered from another first index, or by steps (--array=1-7:2), count from
        // their first task.
        let min = var("SLURM_ARRAY_TASK_MIN").map_or(0, |(_, m)| m);
        let step = var("SLURM_ARRAY_TASK_STEP").map_or(1, |(_, s)| s.max(1));
        let index = id
            .checked_sub(min)
            .filter(|offset| offset % step == 0)
            .map(|offset| offset / step)
            .unwrap_or_else(|| {
                usage_error(format_args!(
                    "SLURM_ARRAY_TASK_ID={id} is not a task of an array from {min} by {step}"
                ))
            });
        (name, index, count)
    } else {
        return None;
    };
    match Partition::new(index, count) {
        Ok(partition) => Some(partition.seed(args.seed)),
        Err(e) => usage_error(format_args!("{from}: {e}")),
    }
}

/// `--concurrency`: at least 1.
fn concurrency() -> impl clap::builder::TypedValueParser<Value = NonZeroUsize> {
    // The range rules out 0, so the conversion cannot fail.
    RangedU64ValueParser::<usize>::new()
        .range(1..)
        .try_map(NonZeroUsize::try_from)
}

/// `--expires-within`: whole days, up to a century.
fn days(s: &str) -> Result<Duration, String> {
    match s.parse::<u64>() {
        Ok(days) if days <= 36_500 => Ok(Duration::from_secs(days * 86_400)),
        Ok(_) => Err("more than a century (36500 days)".into()),
        Err(_) => Err(format!(
            "\"{}\" is not a whole number of days (0 or more)",
            support::escape_bytes(s.as_bytes())
        )),
    }
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
