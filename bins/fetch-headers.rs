//! fetch-headers: the raw HTTP/1.x response heads of many hosts at once, printed the way the
//! classic asyncio `wget(host)` example does (`HOST header > LINE`), with a concurrency cap,
//! counts and a progress bar.
//!
//! ```sh
//! cargo run --release --bin fetch-headers -- --demo       # http, https, a redirect, 404, 500
//! cargo run --release --bin fetch-headers -- --demo -L    # ... and follow the redirect to https
//! fetch-headers -c 256 -i hosts.txt --json > heads.jsonl
//! fetch-headers -i hosts.txt --rate 50 --per-host 2 --retries 2 --shard 0/4 --json > 0.jsonl
//! ```
//!
//! Thin glue: arguments in [`cli`], the input read as the run goes in [`input`], the fetching in
//! crates/headers (driven by [`run`]), results, failures and the summary in [`output`], the
//! `--resume` checkpoint in [`resume`], the demo servers in [`demo`].

#[path = "fetch_headers/cli.rs"]
mod cli;
#[path = "fetch_headers/demo.rs"]
mod demo;
#[path = "fetch_headers/input.rs"]
mod input;
#[path = "fetch_headers/output.rs"]
mod output;
#[path = "fetch_headers/resume.rs"]
mod resume;
#[path = "fetch_headers/run.rs"]
mod run;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use headers::{Many, Options};

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let headers = cli::headers(&args);
    let tls = cli::tls(&args);
    // What goes to stderr is written without `eprintln!`, whose panic on a failed write would
    // cost every head: a stderr that cannot be written loses only what was meant for it.
    if tls.is_insecure() {
        let warning = "fetch-headers: --insecure: certificates of https targets are not verified";
        let _ = writeln!(io::stderr(), "{warning}");
    }
    if let Err(message) = enough_descriptors() {
        let _ = writeln!(io::stderr(), "fetch-headers: {message}");
        return ExitCode::FAILURE;
    }
    // Kept alive until the run ends: dropping it stops the demo servers.
    let demo = match args.demo.then(demo::Demo::start).transpose() {
        Ok(demo) => demo,
        Err(e) => {
            let _ = writeln!(
                io::stderr(),
                "fetch-headers: cannot start the demo servers: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    let (targets, tls) = match &demo {
        Some(demo) => {
            let description = demo.describe(args.location, tls.is_insecure());
            let _ = io::stderr().write_all(description.as_bytes());
            // The demo CA is trusted instead of Mozilla's roots (--cacert is refused with
            // --demo); -k still verifies nothing.
            let tls = if tls.is_insecure() { tls } else { demo.tls() };
            (input::Input::from_targets(demo.targets()), tls)
        }
        None => {
            let mut targets = cli::targets(&args);
            if let Some(part) = cli::partition(&args, |name| std::env::var_os(name)) {
                targets.shard(part);
            }
            (targets, tls)
        }
    };
    let checkpoint = args.resume.as_ref().map(|path| {
        let inputs = args.inputs.iter();
        let inputs = inputs.map(|p| p.to_string_lossy().into_owned()).collect();
        resume::Checkpoint::open(path, args.targets.clone(), inputs)
            .unwrap_or_else(|message| cli::usage_error(message))
    });
    let resolver = match cli::resolver(&args) {
        Ok(resolver) => resolver,
        Err(message) => {
            let _ = writeln!(io::stderr(), "fetch-headers: {message}");
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        method: args.method,
        headers,
        resolver,
        timeout: args.timeout,
        connect_timeout: args.connect_timeout.unwrap_or(args.timeout),
        tls,
        expires_within: args.expires_within,
        max_redirects: args.location.then_some(args.max_redirects),
        retries: args.retries,
        ..Options::default()
    };
    let mut many = Many::new(&options).concurrency(args.concurrency.get());
    if let Some(rate) = args.rate {
        many = many.rate(rate);
    }
    if let Some(n) = args.per_host {
        many = many.per_host(n);
    }
    if let Some(n) = args.threads {
        many = many.threads(n);
    }
    let format = output::Format {
        json: args.json,
        interim: args.interim,
        follow: args.location,
        // The demo's servers finish in an order that varies between runs but for the slow one;
        // input order makes its output the same every time.
        order: args.order.unwrap_or(if args.demo {
            cli::Order::Input
        } else {
            cli::Order::Completion
        }),
    };
    match run::run(targets, many, args.concurrency.get(), format, checkpoint) {
        Ok(ended) if ended.interrupted => ExitCode::from(130),
        Ok(ended) if ended.summary.failed() > 0 => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(run::Failed::NoTargets) => cli::no_targets_in_input(),
        // `fetch-headers ... | head` closed our stdout: nothing more to say, to anyone.
        Err(run::Failed::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::FAILURE,
        Err(run::Failed::Io(e)) => {
            let _ = writeln!(io::stderr(), "fetch-headers: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The file descriptors a run needs: the reactor's (epoll, eventfd, timerfd), the signal
/// wake-up sockets (three), the resolver's, and a connection or two (more connections wait for
/// a free descriptor; the demo says when its servers find none).
const MIN_FREE_DESCRIPTORS: u64 = 10;

/// Checks that the open-file limit (raised to the hard limit where allowed) leaves room for a
/// run: with almost none free, async-io panics when it cannot make its epoll descriptor.
fn enough_descriptors() -> Result<(), String> {
    let Some(limit) = headers::raise_fd_limit() else {
        return Ok(());
    };
    let Ok(open) = std::fs::read_dir("/proc/self/fd") else {
        return Ok(());
    };
    // The limit is on descriptor numbers: an inherited descriptor numbered above it takes no
    // room; the one read_dir holds is free again in a moment.
    let numbers = open.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok());
    let below = numbers.filter(|&fd| fd < limit).count() as u64;
    let free = limit.saturating_sub(below.saturating_sub(1));
    if free >= MIN_FREE_DESCRIPTORS {
        return Ok(());
    }
    Err(format!(
        "too few file descriptors: {free} free under the open-file limit of {limit} \
         (ulimit -n {limit}), at least {MIN_FREE_DESCRIPTORS} needed"
    ))
}
