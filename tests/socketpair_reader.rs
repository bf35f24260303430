//! socketpair-reader: the asyncio add_reader demo, its options, its errors and its benchmark line.

use crate::fixture::cmd;

/// The benchmark line's rate varies from run to run; the round trip count must not.
const RATE: &[(&str, &str)] = &[(r"\d+ round trips/s", "[RATE] round trips/s")];

#[test]
fn default_receives_abc() {
    snapshot!("default", cmd("socketpair-reader"));
}

#[test]
fn message_is_sent_instead_of_abc() {
    snapshot!(
        "message",
        cmd("socketpair-reader").args(["--message", "hello, socketpair"])
    );
}

/// A message may start with a hyphen: it is the value of --message, not an unknown option.
#[test]
fn message_may_start_with_a_hyphen() {
    snapshot!(
        "message_leading_hyphen",
        cmd("socketpair-reader").args(["--message", "-x marks the spot"])
    );
}

#[test]
fn count_receives_each_message_in_order() {
    snapshot!("count_3", cmd("socketpair-reader").args(["--count", "3"]));
}

#[test]
fn long_message_arrives_whole() {
    // Larger than the binary's 16 KiB read buffer, so each message is read in several
    // readability callbacks, and still printed once, whole. (Under the kernel's 128 KiB limit
    // for one argument.)
    let long = "x".repeat(120_000);
    let out = cmd("socketpair-reader")
        .args(["--message", &long, "--count", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let expected = format!("Received: {long} 1\nReceived: {long} 2\n");
    assert!(
        out.stdout == expected.as_bytes(),
        "long messages were not received whole"
    );
}

#[test]
fn count_zero_is_refused() {
    snapshot!("count_0", cmd("socketpair-reader").args(["--count", "0"]));
}

#[test]
fn count_not_a_number_is_refused() {
    snapshot!(
        "count_abc",
        cmd("socketpair-reader").args(["--count", "abc"])
    );
}

#[test]
fn empty_message_is_refused() {
    snapshot!(
        "message_empty",
        cmd("socketpair-reader").args(["--message", ""])
    );
}

#[test]
fn pingpong_conflicts_with_count() {
    snapshot!(
        "pingpong_with_count",
        cmd("socketpair-reader").args(["--pingpong", "10", "--count", "2"])
    );
}

#[test]
fn pingpong_prints_one_summary_line() {
    snapshot!(
        "pingpong_1000",
        cmd("socketpair-reader").args(["--pingpong", "1000"]),
        RATE
    );
}

#[test]
fn help_explains_every_option() {
    // Spelled out with the fixture's plain settings (what `snapshot!` does without filters).
    crate::fixture::settings().bind(|| {
        insta_cmd::assert_cmd_snapshot!("help", cmd("socketpair-reader").arg("--help"));
    });
}

/// A negative number is refused as a bad value of its option, not as an unknown argument.
#[test]
fn count_negative_is_refused() {
    snapshot!(
        "count_negative",
        cmd("socketpair-reader").args(["--count", "-1"])
    );
}

/// A stdout that cannot be written (a full disk) is an error that says which stream failed,
/// in both modes.
#[test]
fn a_full_stdout_is_named() {
    for args in [&[][..], &["--pingpong", "10"]] {
        crate::fixture::assert_full_stdout_is_an_error(
            cmd("socketpair-reader").args(args),
            "error",
        );
    }
}

/// A message that is not UTF-8 is named with its option (clap's own message named neither).
#[test]
fn non_utf8_message_is_named() {
    use std::os::unix::ffi::OsStrExt;
    snapshot!(
        "message_non_utf8",
        cmd("socketpair-reader")
            .arg("--message")
            .arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
    );
}

/// A message that is not UTF-8 is shown escaped, and only so: clap's `invalid value '...'`
/// echoed it raw, line breaks and escape sequences included.
#[test]
fn non_utf8_message_is_not_echoed_raw() {
    use std::os::unix::ffi::OsStrExt;
    let out = cmd("socketpair-reader")
        .arg("--message")
        .arg(std::ffi::OsStr::from_bytes(b"a\r\nb\x1b[2J\xff"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not UTF-8 text"), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains("\nb") && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
}

/// Neither stream writable: the failure is still an exit status, not a panic (101).
#[test]
fn no_writable_stream_is_still_no_panic() {
    let code = crate::fixture::stdout_full_stderr_closed(&mut cmd("socketpair-reader"));
    assert_eq!(code, Some(1));
}
