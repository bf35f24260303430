//! lock-demo: the seed's two-task demo, the contention report of each kind of lock, the lost
//! updates of `--no-lock`, the recording modes, and the usage errors. The demo runs on one
//! thread and its holders sleep on a clock that moves only when no task can run, so the order
//! is the same however busy the machine; 10 ms holds also keep every mutex waiter past
//! async-lock's 0.5 ms starvation threshold, which would otherwise make its hand-over order
//! depend on timing. Times are redacted by the fixture, and so are the line numbers of the call
//! sites in the report.

use crate::fixture::cmd;

/// The report names the demo's call sites by line: those move whenever the binary is edited.
const SITES: &[(&str, &str)] = &[(r"lock-demo\.rs:\d+:\d+", "lock-demo.rs:[LINE]")];

#[test]
fn seed_demo_with_short_hold() {
    snapshot!(
        "seed_demo_hold_10ms",
        cmd("lock-demo").args(["--hold-ms", "10"]),
        SITES
    );
}

#[test]
fn seed_demo_default_one_second_hold() {
    // The seed's own timing: two tasks, one second each (about 2 s).
    snapshot!("seed_demo_default", cmd("lock-demo"), SITES);
}

#[test]
fn mutex_several_tasks_and_rounds() {
    snapshot!(
        "mutex_3_tasks_3_rounds",
        cmd("lock-demo").args(["--tasks", "3", "--iterations", "3", "--hold-ms", "10"]),
        SITES
    );
}

#[test]
fn quiet_prints_only_the_report() {
    snapshot!(
        "quiet_report",
        cmd("lock-demo").args([
            "--tasks",
            "4",
            "--iterations",
            "3",
            "--hold-ms",
            "10",
            "--quiet"
        ]),
        SITES
    );
}

#[test]
fn rwlock_readers_share() {
    snapshot!(
        "rwlock",
        cmd("lock-demo").args([
            "--kind",
            "rwlock",
            "--tasks",
            "4",
            "--iterations",
            "2",
            "--hold-ms",
            "10"
        ]),
        SITES
    );
}

#[test]
fn semaphore_permits_share() {
    snapshot!(
        "semaphore_2_permits",
        cmd("lock-demo").args([
            "--kind",
            "semaphore",
            "--tasks",
            "3",
            "--iterations",
            "2",
            "--hold-ms",
            "10"
        ]),
        SITES
    );
}

#[test]
fn no_lock_loses_updates_and_the_mutex_keeps_them() {
    snapshot!(
        "no_lock_mutex",
        cmd("lock-demo").args([
            "--no-lock",
            "--tasks",
            "3",
            "--iterations",
            "2",
            "--hold-ms",
            "10"
        ]),
        SITES
    );
}

#[test]
fn no_lock_with_a_two_permit_semaphore_still_loses_updates() {
    snapshot!(
        "no_lock_semaphore_quiet",
        cmd("lock-demo").args([
            "--no-lock",
            "--kind",
            "semaphore",
            "--permits",
            "2",
            "--tasks",
            "4",
            "--hold-ms",
            "10",
            "--quiet"
        ]),
        SITES
    );
}

#[test]
fn recording_off_reports_nothing() {
    snapshot!(
        "recording_off",
        cmd("lock-demo").args(["--hold-ms", "10", "--recording", "off", "--quiet"]),
        SITES
    );
}

#[test]
fn recording_every_is_the_same_report_for_a_short_run() {
    // Below 256 acquisitions, sampling times everything too: the same figures. Both runs are
    // checked against the one snapshot, so a difference between the modes fails the test.
    for mode in ["every", "sampled"] {
        snapshot!(
            "recording_every",
            cmd("lock-demo").args([
                "--tasks",
                "3",
                "--hold-ms",
                "10",
                "--recording",
                mode,
                "--quiet"
            ]),
            SITES
        );
    }
}

#[test]
fn bad_arguments_exit_2() {
    for (name, args) in [
        ("bad_tasks_0", &["--tasks", "0"][..]),
        ("bad_iterations_0", &["--iterations", "0"]),
        ("bad_permits_0", &["--kind", "semaphore", "--permits", "0"]),
        ("bad_permits_with_mutex", &["--permits", "2"]),
        ("bad_kind", &["--kind", "spinlock"]),
        ("bad_hold_ms", &["--hold-ms", "-1"]),
        ("bad_tasks_word", &["--tasks", "many"]),
        ("bad_recording", &["--recording", "sometimes"]),
        ("bad_tasks_too_many", &["--tasks", "2000000"]),
        ("bad_hold_ms_too_long", &["--hold-ms", "3600000"]),
    ] {
        snapshot!(name, cmd("lock-demo").args(args));
    }
}

#[test]
fn help() {
    // No tool-specific filters: the shared settings as they are.
    crate::fixture::settings()
        .bind(|| insta_cmd::assert_cmd_snapshot!("help", cmd("lock-demo").arg("--help")));
}

/// `lock-demo ... | head -1`: the reader went away, so the run ends quietly (status 0, as
/// `socketpair-reader` does), without a panic.
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    // 100 tasks x 1000 rounds of three lines: megabytes, far more than the pipe holds.
    let (first, code, stderr) = crate::fixture::head_1(cmd("lock-demo").args([
        "--tasks",
        "100",
        "--iterations",
        "1000",
        "--hold-ms",
        "0",
    ]));
    assert_eq!(first, "coro 1: waiting for lock\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
}

/// A stdout that cannot be written (a full disk) is an error that says so, for the story, the
/// report and `--no-lock`'s tallies alike; never a panic, never a silent success.
#[test]
fn a_full_stdout_is_an_error() {
    for args in [
        &["--hold-ms", "0"][..],
        &["--hold-ms", "0", "--quiet"],
        &["--hold-ms", "0", "--no-lock"],
        &["--hold-ms", "0", "--no-lock", "--quiet"],
    ] {
        crate::fixture::assert_full_stdout_is_an_error(cmd("lock-demo").args(args), "error");
    }
}

/// A negative number is refused as a bad value of its option, not as an unknown argument.
#[test]
fn negative_counts_name_their_option() {
    snapshot!(
        "bad_tasks_negative",
        cmd("lock-demo").args(["--tasks", "-1"])
    );
}

/// Neither stream writable: the failure is still an exit status, not a panic (101).
#[test]
fn no_writable_stream_is_still_no_panic() {
    let code = crate::fixture::stdout_full_stderr_closed(cmd("lock-demo").args(["--hold-ms", "0"]));
    assert_eq!(code, Some(1));
}
