//! fetch-headers end to end: the demo (plain, -L, --json, -k; refusing --cacert), both output
//! formats, every failure kind's line, targets from files and stdin, usage errors, the request
//! options (`-X HEAD`, `-H`), SIGTERM, and a real nginx on loopback. The servers are crates/stub
//! servers (an echo server among them) started in this test process on free ports, passed to the
//! binary as arguments; the fixture redacts ports and times, and `--order input` keeps the order
//! of the output fixed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stub::{Behavior, Stub};

use crate::fixture::{TempDir, cmd, read_all};

/// JSON fields that vary from run to run: the shared filters only know `127.0.0.1:PORT` and
/// times with a unit.
pub(crate) const JSON: &[(&str, &str)] = &[
    (r#""elapsed_ms":[0-9.]+"#, r#""elapsed_ms":[MS]"#),
    (
        r#""(dns|connect|tls|first_byte|total)":[0-9.]+"#,
        r#""$1":[MS]"#,
    ),
    (r#""port":\d+"#, r#""port":[PORT]"#),
];

pub(crate) fn start(behavior: Behavior) -> Stub {
    Stub::start(behavior).expect("start a stub server")
}

/// `http://127.0.0.1:PORT/NAME`: the name survives the port redaction and says which is which.
pub(crate) fn url(stub: &Stub, name: &str) -> String {
    format!("http://{}/{name}", stub.target())
}

#[test]
fn demo() {
    snapshot!("demo", cmd("fetch-headers").arg("--demo"));
}

#[test]
fn demo_json() {
    snapshot!(
        "demo_json",
        cmd("fetch-headers").args(["--demo", "--json"]),
        JSON
    );
}

/// The demo's redirect leads from http to its https server, which the run trusts through the
/// demo CA: both hops are printed, the second with its TLS line.
#[test]
fn demo_follow() {
    snapshot!("demo_follow", cmd("fetch-headers").args(["--demo", "-L"]));
}

#[test]
fn demo_follow_json() {
    snapshot!(
        "demo_follow_json",
        cmd("fetch-headers").args(["--demo", "-L", "--json"]),
        JSON
    );
}

/// -k still applies to the demo: the https server answers all the same, and stderr says that
/// nothing was verified.
#[test]
fn demo_insecure() {
    snapshot!("demo_insecure", cmd("fetch-headers").args(["--demo", "-k"]));
}

/// The demo trusts its own CA; a bundle of the user's could only be ignored, so it is refused.
#[test]
fn demo_with_cacert() {
    snapshot!(
        "demo_with_cacert",
        cmd("fetch-headers").args(["--demo", "--cacert", "ca.pem"])
    );
}

#[test]
fn text_output_in_input_order() {
    let ok = start(Behavior::Ok);
    let moved = start(Behavior::Redirect("https://example.org/".into()));
    let missing = start(Behavior::Status(404));
    let broken = start(Behavior::Status(503));
    snapshot!(
        "text",
        cmd("fetch-headers").args([
            "--order",
            "input",
            &url(&ok, "ok"),
            &url(&moved, "moved"),
            &url(&missing, "missing"),
            &url(&broken, "broken"),
        ])
    );
}

#[test]
fn json_output() {
    let ok = start(Behavior::Ok);
    let missing = start(Behavior::Status(404));
    let refused = format!("127.0.0.1:{}", stub::closed_port().unwrap());
    snapshot!(
        "json",
        cmd("fetch-headers").args([
            "--json",
            "--order",
            "input",
            &url(&ok, "ok"),
            &url(&missing, "missing"),
            &refused,
        ]),
        JSON
    );
}

#[test]
fn sloppy_heads_are_printed_as_received() {
    let bare_lf = start(Behavior::BareLf);
    let folded = start(Behavior::ObsFold);
    let no_reason = start(Behavior::NoReason);
    let non_ascii = start(Behavior::NonAscii);
    let continued = start(Behavior::Continue);
    snapshot!(
        "sloppy",
        cmd("fetch-headers").args([
            "--order",
            "input",
            "--interim",
            &url(&bare_lf, "bare-lf"),
            &url(&folded, "obs-fold"),
            &url(&no_reason, "no-reason"),
            &url(&non_ascii, "non-ascii"),
            &url(&continued, "continue"),
        ])
    );
}

/// `--interim` in JSON: the 1xx heads read past come as their own list.
#[test]
fn interim_heads_in_json() {
    let continued = start(Behavior::Continue);
    snapshot!(
        "interim_json",
        cmd("fetch-headers").args(["--json", "--interim", &url(&continued, "continue")]),
        JSON
    );
}

/// One target per failure kind (all but DNS, which would need a resolver off loopback): each
/// prints its `HOST error > MESSAGE` line on stderr, the summary counts them by kind, exit 1.
#[test]
fn each_failure_kind() {
    let reset = start(Behavior::Reset);
    let silent = start(Behavior::Silent);
    let drip = start(Behavior::Drip(Duration::from_millis(200)));
    let ssh = start(Behavior::SshBanner);
    let garbage = start(Behavior::Garbage);
    let cut = start(Behavior::CloseMidHead);
    let huge = start(Behavior::HugeHead(70 * 1024));
    let many = start(Behavior::ManyHeaders(150));
    let invalid = start(Behavior::Invalid);
    let hanging = stub::Unaccepting::start().expect("a listener that never accepts");
    let ok = start(Behavior::Ok);
    let refused = format!("http://127.0.0.1:{}/refused", stub::closed_port().unwrap());
    snapshot!(
        "failures",
        cmd("fetch-headers").args([
            "--order",
            "input",
            // Generous for a loaded machine, yet short enough to keep the test quick: the
            // silent and dripping servers run into it, nothing else comes near it.
            "--timeout",
            "1.5",
            "--connect-timeout",
            "1",
            &refused,
            &url(&reset, "reset"),
            &url(&silent, "silent"),
            &url(&drip, "drip"),
            &url(&ssh, "ssh"),
            &url(&garbage, "garbage"),
            &url(&cut, "cut"),
            &url(&huge, "huge"),
            &url(&many, "many"),
            &url(&invalid, "invalid"),
            &format!("http://{}/unaccepting", hanging.target()),
            &url(&ok, "ok"),
        ])
    );
}

#[test]
fn targets_from_a_file() {
    let ok = start(Behavior::Ok);
    let missing = start(Behavior::Status(404));
    let dir = TempDir::new("file");
    let list = dir.path().join("targets.txt");
    let text = format!(
        "# heads to fetch\n\n{}\r\n   {}   \n# the end\n",
        url(&ok, "ok"),
        url(&missing, "missing")
    );
    std::fs::write(&list, text).unwrap();
    snapshot!(
        "input_file",
        cmd("fetch-headers")
            .args(["--order", "input", "-i"])
            .arg(&list)
    );
}

/// A list saved by Windows Notepad: a UTF-8 byte order mark, then CRLF lines. The mark is not
/// part of the first target (it was: `unsupported scheme "\u{feff}http"`, the culprit invisible).
#[test]
fn targets_from_a_file_with_a_byte_order_mark() {
    let ok = start(Behavior::Ok);
    let dir = TempDir::new("bom");
    let list = dir.path().join("targets.txt");
    let text = format!(
        "\u{feff}{}\r\n{}\r\n",
        url(&ok, "first"),
        url(&ok, "second")
    );
    std::fs::write(&list, text).unwrap();
    snapshot!(
        "input_file_bom",
        cmd("fetch-headers")
            .args(["--order", "input", "-i"])
            .arg(&list)
    );
}

#[test]
fn targets_from_stdin_after_arguments() {
    let ok = start(Behavior::Ok);
    let moved = start(Behavior::Redirect("/ok".into()));
    let stdin = format!("{}\n\n# comment\n", url(&moved, "from-stdin"));
    snapshot!(
        "input_stdin",
        cmd("fetch-headers")
            .args(["--order", "input", "-i", "-", &url(&ok, "from-args")])
            .pass_stdin(stdin)
    );
}

#[test]
fn bad_target_argument_is_a_usage_error() {
    snapshot!(
        "bad_target_argument",
        cmd("fetch-headers").args(["127.0.0.1:8080", "http://exa mple.com/"])
    );
    snapshot!(
        "bad_port_argument",
        cmd("fetch-headers").args(["127.0.0.1:99999"])
    );
    snapshot!(
        "injection_argument",
        cmd("fetch-headers").args(["example.com/\r\nX-Evil: 1"])
    );
}

/// A target or header that is not UTF-8 is named with its option, escaped (clap's own message
/// named neither).
#[test]
fn non_utf8_arguments_are_named() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    snapshot!(
        "non_utf8_target",
        cmd("fetch-headers").arg(OsStr::from_bytes(b"ex\xffample.com"))
    );
    snapshot!(
        "non_utf8_header",
        cmd("fetch-headers")
            .arg("-H")
            .arg(OsStr::from_bytes(b"X-Name: caf\xe9"))
            .arg("127.0.0.1")
    );
}

/// A target or header that is not UTF-8 is shown escaped, and only so: clap's `invalid value
/// '...'` echoed it raw, so a CR LF (or an escape sequence) in it reached the terminal.
#[test]
fn non_utf8_arguments_are_not_echoed_raw() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let hostile = OsStr::from_bytes(b"example.com/\r\nX-Evil: 1\x1b[2J\xff");
    for args in [
        vec![hostile],
        vec![OsStr::new("-H"), hostile, OsStr::new("127.0.0.1")],
    ] {
        let out = cmd("fetch-headers").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(r#""example.com/\x0d\x0aX-Evil: 1\x1b[2J\xff" is not UTF-8 text"#),
            "{stderr}"
        );
        assert!(
            !stderr.contains('\r') && !stderr.contains("\nX-Evil") && !stderr.contains('\x1b'),
            "{stderr:?}"
        );
    }
}

/// A line that is no target is that line's own failure, named by file and line, counted as
/// `bad-target`; the rest of the list is still fetched and the run exits 1. Only what is wrong
/// before any fetch (a file that cannot be read) is still a usage error.
#[test]
fn bad_target_in_a_file_names_its_line() {
    let ok = start(Behavior::Ok);
    let dir = TempDir::new("bad-line");
    let list = dir.path().join("targets.txt");
    std::fs::write(
        &list,
        format!("# fine so far\n{}\n\nftp://example.com/\n", url(&ok, "ok")),
    )
    .unwrap();
    snapshot!("bad_target_line", cmd("fetch-headers").arg("-i").arg(&list));
    // Endless, without a line break: refused after a megabyte, not read into memory until the
    // machine runs out of it.
    snapshot!(
        "input_dev_zero",
        cmd("fetch-headers").args(["-i", "/dev/zero"])
    );
    snapshot!(
        "missing_file",
        cmd("fetch-headers").args(["-i", "/nonexistent/targets.txt"])
    );
    snapshot!(
        "bad_target_stdin",
        cmd("fetch-headers")
            .args(["-i", "-"])
            .pass_stdin(format!("{}\n\t\nbad host\n", url(&ok, "ok")))
    );
}

#[test]
fn bad_options_are_usage_errors() {
    snapshot!("no_targets", cmd("fetch-headers"));
    snapshot!(
        "zero_concurrency",
        cmd("fetch-headers").args(["-c", "0", "127.0.0.1"])
    );
    snapshot!(
        "bad_timeout",
        cmd("fetch-headers").args(["--timeout", "soon", "127.0.0.1"])
    );
    // Refused as a bad value of its option, not as an unknown argument.
    snapshot!(
        "tiny_timeout",
        cmd("fetch-headers").args(["--timeout", "1e-300", "127.0.0.1"])
    );
    snapshot!(
        "negative_timeout",
        cmd("fetch-headers").args(["--timeout", "-1", "127.0.0.1"])
    );
    // Negative numbers clap does not count as numbers (`-.5`, an exponent with a sign) are
    // bad values of their option too: they were 'unexpected argument', with the tip to pass
    // them as a target ('-- -.').
    snapshot!(
        "negative_timeout_fraction",
        cmd("fetch-headers").args(["--connect-timeout", "-.5", "127.0.0.1"])
    );
    snapshot!(
        "negative_timeout_exponent",
        cmd("fetch-headers").args(["--timeout", "-1e-3", "127.0.0.1"])
    );
    snapshot!(
        "bad_method",
        cmd("fetch-headers").args(["-X", "POST", "127.0.0.1"])
    );
    snapshot!(
        "bad_header",
        cmd("fetch-headers").args(["-H", "X-Evil: 1\r\nHost: other", "127.0.0.1"])
    );
    snapshot!(
        "demo_with_targets",
        cmd("fetch-headers").args(["--demo", "127.0.0.1"])
    );
}

/// `-X HEAD` and `-H` reach the server: it answers with the request it read, as headers.
#[test]
fn method_and_extra_headers_are_sent() {
    let echo = start(Behavior::Echo);
    let target = format!("{}path?q=1", echo.url());
    snapshot!(
        "head_method_extra_headers",
        cmd("fetch-headers").args([
            "-X",
            "HEAD",
            "-H",
            "Accept: text/html",
            "-H",
            "X-Trace:   abc  ",
            &target,
        ])
    );
    snapshot!("get_method_default", cmd("fetch-headers").arg(&target));
    assert_eq!(echo.accepted(), 2);
}

/// SIGTERM while a host never answers: the finished host is printed, nothing waits for the
/// silent one, the summary says what was left, exit 130. The signal is sent only after the
/// fast host's lines came out, so the test does not depend on timing.
#[test]
fn sigterm_prints_what_finished_and_exits_130() {
    for signal in ["TERM", "INT"] {
        let silent = start(Behavior::Silent);
        let ok = start(Behavior::Ok);
        let mut child = cmd("fetch-headers")
            .args(["--timeout", "120", &url(&silent, "silent"), &url(&ok, "ok")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut printed = String::new();
        // The whole head of the fast host: its last line is `Connection: close`.
        while !printed.ends_with("Connection: close\n") {
            let before = printed.len();
            stdout.read_line(&mut printed).unwrap();
            assert!(printed.len() > before, "stdout ended early: {printed:?}");
        }
        let pid = child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -{signal} {pid}")])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = wait_bounded(&mut child, Duration::from_secs(60));
        stdout.read_to_string(&mut printed).unwrap();
        let stderr = read_all(child.stderr.take());
        let report = format!(
            "signal: SIG{signal}\nexit: {status:?}\n----- stdout -----\n{printed}----- stderr -----\n{stderr}"
        );
        crate::fixture::settings()
            .bind(|| insta::assert_snapshot!(format!("signal_{}", signal.to_lowercase()), report));
        assert_eq!(status, Some(130), "{report}");
    }
}

/// Against a real nginx on loopback, started here with its own configuration in a temporary
/// directory. Skipped (with a message) only where nginx is missing and this is not CI: `.ci/run`
/// installs it, so under CI a missing nginx fails.
#[test]
fn interop_with_nginx() {
    let Some(nginx) = crate::fixture::nginx() else {
        return;
    };
    let nginx = nginx
        .site(stub::Site::plain().unwrap())
        .start()
        .expect("nginx starts");
    let port = nginx.port();
    let target = format!("127.0.0.1:{port}");

    let get = cmd("fetch-headers").arg(&target).output().unwrap();
    let text = String::from_utf8_lossy(&get.stdout);
    assert_eq!(get.status.code(), Some(0), "{get:?}");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(format!("{target} header > HTTP/1.1 200 OK").as_str())
    );
    for header in [
        "Server: nginx",
        "Content-Type: text/html",
        &format!("Content-Length: {}", stub::Nginx::PAGE.len()),
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{target} header > {header}"))),
            "no {header:?} in {text}"
        );
    }
    let stderr = String::from_utf8_lossy(&get.stderr);
    assert!(stderr.starts_with("1 target: 1 ok in "), "{stderr}");

    let json = cmd("fetch-headers")
        .args(["--json", "-X", "HEAD", &format!("http://{target}/missing")])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["status"], 404, "{value}");
    assert_eq!(value["version"], "HTTP/1.1");
    assert_eq!(value["error"], serde_json::Value::Null);
    assert_eq!(json.status.code(), Some(0));

    // Many at once over new connections, as the benchmark does.
    let many: Vec<String> = (0..200).map(|_| target.clone()).collect();
    let run = cmd("fetch-headers")
        .args(["-c", "50"])
        .args(&many)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.starts_with("200 targets: 200 ok in "), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Waits for the child at most `limit`, killing it past that (so a bug cannot hang the tests).
pub(crate) fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fetch-headers did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `--json` gives one valid JSON object a line for every error kind and for heads with bytes a
/// terminal or a JSON reader could choke on: control bytes (httparse rejects them in a reason or
/// a value: an `invalid` head), bytes outside ASCII, quotes, statuses 000 and 999. Nothing but
/// escaped text reaches stdout.
#[test]
fn json_is_valid_for_every_failure_kind_and_hostile_heads() {
    let hostile = [
        b"HTTP/1.1 301 Moved\r\nLocation: /\x1b]0;owned\x07\x00\r\n\r\n".to_vec(),
        b"HTTP/1.1 000 Zero\r\n\r\n".to_vec(),
        b"HTTP/1.1 999 \xff\xfe\r\nX: caf\xc3\xa9\r\nX-Quote: \"\\\r\n\r\n".to_vec(),
    ];
    let mut stubs: Vec<Stub> = hostile
        .into_iter()
        .map(|b| start(Behavior::Raw(b)))
        .collect();
    for behavior in [
        Behavior::Reset,
        Behavior::Silent,
        Behavior::SshBanner,
        Behavior::Garbage,
        Behavior::CloseMidHead,
        Behavior::HugeHead(70 * 1024),
        Behavior::ManyHeaders(150),
        Behavior::Invalid,
    ] {
        stubs.push(start(behavior));
    }
    let mut targets: Vec<String> = stubs.iter().map(|s| url(s, "t")).collect();
    targets.push(format!("127.0.0.1:{}", stub::closed_port().unwrap()));
    let out = cmd("fetch-headers")
        .args(["--json", "--timeout", "1.5"])
        .args(&targets)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains(['\x1b', '\x00', '\x07']), "{stdout}");
    let mut kinds = Vec::new();
    let mut statuses = Vec::new();
    for line in stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        match v["error"]["kind"].as_str() {
            Some(kind) => kinds.push(kind.to_owned()),
            None => statuses.push(v["status"].as_u64().unwrap()),
        }
        if v["status"] == 999 {
            assert_eq!(v["reason"], r"\xff\xfe");
            assert_eq!(v["headers"][0]["value"], r"caf\xc3\xa9");
            assert_eq!(v["headers"][1]["value"], r#""\"#);
            assert_eq!(v["lines"][0], r"HTTP/1.1 999 \xff\xfe");
        }
    }
    kinds.sort();
    statuses.sort();
    assert_eq!(statuses, [0, 999]);
    assert_eq!(
        kinds,
        [
            "invalid",
            "invalid",
            "not-http",
            "not-http",
            "refused",
            "reset",
            "timeout",
            "too-large",
            "too-many-headers",
            "truncated",
        ]
    );
}

/// --help says what each option takes and every exit status, the one for an output that
/// cannot be written (a closed pipe, a full disk) included.
#[test]
fn help_names_every_exit_status() {
    let out = cmd("fetch-headers").arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("could not be written"), "{help}");
    snapshot!("help", cmd("fetch-headers").arg("--help"));
}

/// `fetch-headers ... | head -1`: a closed stdout ends the run quietly with status 1, without a
/// panic and without waiting for the hosts still in flight.
#[test]
fn a_closed_stdout_ends_the_run() {
    let ok = start(Behavior::Ok);
    let silent = start(Behavior::Silent);
    // About 300 KiB of output: more than the pipe, our reader and the binary's buffer hold, so
    // it must write after the close, whatever the timing.
    let mut args: Vec<String> = (0..1000).map(|i| url(&ok, &format!("ok{i}"))).collect();
    args.push(url(&silent, "silent"));
    let mut child = cmd("fetch-headers")
        .args(["-c", "16", "--timeout", "120"])
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("header > HTTP/1.1 200 OK"), "{first}");
    drop(stdout);
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    let stderr = read_all(child.stderr.take());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status, Some(1), "{stderr}");
}

/// A stderr that cannot be written (here a full disk; a closed pipe alike) costs only what goes
/// there: every head still reaches stdout, and nothing panics (`--demo` and `-k` say what they
/// do on stderr before the run starts).
#[test]
fn a_failing_stderr_loses_no_head() {
    let ok = start(Behavior::Ok);
    let refused = format!("127.0.0.1:{}", stub::closed_port().unwrap());
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    // The failure comes first in input order: its line to stderr fails before the heads.
    let mut args = vec![refused];
    args.extend((0..20).map(|i| url(&ok, &format!("ok{i}"))));
    let out = cmd("fetch-headers")
        .args(["--order", "input"])
        .args(&args)
        .stderr(full())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let heads = stdout.matches("header > HTTP/1.1 200 OK").count();
    assert_eq!((out.status.code(), heads), (Some(1), 20), "{stdout}");

    let out = cmd("fetch-headers")
        .args(["--demo", "-k"])
        .stderr(full())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for name in ["fast", "slow", "secure", "moved", "missing", "broken"] {
        assert!(
            stdout.contains(&format!("/{name} header > HTTP/1.1 ")),
            "{stdout}"
        );
    }
}

/// A stdout that cannot be written (a full disk) is an error that says which stream failed.
#[test]
fn a_full_stdout_is_named() {
    let ok = start(Behavior::Ok);
    crate::fixture::assert_full_stdout_is_an_error(
        cmd("fetch-headers").arg(url(&ok, "ok")),
        "fetch-headers",
    );
}

/// Almost no file descriptors left under the open-file limit (`ulimit -n 8`): a clear error
/// naming the limit, not async-io's panic when it cannot make its epoll descriptor.
#[test]
fn too_low_an_open_file_limit_is_named() {
    let ok = start(Behavior::Ok);
    for args in [vec![url(&ok, "ok")], vec!["--demo".to_owned()]] {
        let fetch = cmd("fetch-headers");
        let out = Command::new("/bin/sh")
            .args(["-c", "ulimit -n 8 && exec \"$0\" \"$@\""])
            .arg(fetch.get_program())
            .args(&args)
            .env_clear()
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("fetch-headers: too few file descriptors: ")
                && stderr.contains("(ulimit -n 8)"),
            "{args:?}: {stderr}"
        );
    }
}

/// Neither stream writable: the failure is still an exit status, not a panic (101).
#[test]
fn no_writable_stream_is_still_no_panic() {
    let ok = start(Behavior::Ok);
    let code = crate::fixture::stdout_full_stderr_closed(cmd("fetch-headers").arg(url(&ok, "ok")));
    assert_eq!(code, Some(1));
}

/// A reader that takes its time (`| (sleep 3; cat)`) must not turn fast hosts into timeouts:
/// with stdout unread for longer than `--timeout`, far past what the pipe buffers, every
/// target is still reported ok.
#[test]
fn a_stdout_blocked_longer_than_the_timeout_times_out_nothing() {
    let server = start(Behavior::Ok);
    let dir = TempDir::new("blocked-stdout");
    let list = dir.path().join("targets.txt");
    // About 150 bytes of output each: 2,000 fill a 64 KiB pipe several times over.
    let lines: String = (0..2000)
        .map(|i| format!("{}/{i}\n", url(&server, "t")))
        .collect();
    std::fs::write(&list, lines).unwrap();
    let mut child = cmd("fetch-headers")
        .args(["-c", "256", "--timeout", "1", "-i"])
        .arg(&list)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("header > HTTP/1.1 200"))
            .count(),
        2000
    );
    assert!(stderr.contains("2000 targets: 2000 ok in"), "{stderr}");
    assert!(status.success(), "{status}: {stderr}");
}

/// `--threads` chooses the workers; every target is fetched whatever their number, and zero is a
/// usage error naming the option.
#[test]
fn threads_option() {
    let server = start(Behavior::Ok);
    for threads in ["1", "3"] {
        let output = cmd("fetch-headers")
            .args(["--threads", threads, "-c", "8"])
            .args((0..20).map(|i| url(&server, &i.to_string())))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains("20 targets: 20 ok"), "{stderr}");
    }
    snapshot!(
        "threads_zero",
        cmd("fetch-headers").args(["--threads", "0", "127.0.0.1:1"])
    );
}
