//! prodcons: the seed's demo and its workloads, snapshotted. With `--max-delay-ms 0` nothing
//! sleeps and every task runs on one executor thread, so the interleaving is the same on every
//! run; only the elapsed time and the rate vary, and they are redacted.

use crate::fixture::cmd;

/// The rate in the summary line.
const RATE: &[(&str, &str)] = &[(r"\b\d+ items/s", "[RATE] items/s")];

#[test]
fn seed_demo_without_delays() {
    snapshot!(
        "seed_demo_without_delays",
        cmd("prodcons").args(["--max-delay-ms", "0"]),
        RATE
    );
}

#[test]
fn many_producers_and_consumers_lifo() {
    snapshot!(
        "many_lifo",
        cmd("prodcons").args([
            "--items",
            "20",
            "--producers",
            "3",
            "--consumers",
            "2",
            "--capacity",
            "3",
            "--kind",
            "lifo",
            "--max-delay-ms",
            "0",
        ]),
        RATE
    );
}

#[test]
fn priority_hands_out_the_lowest_first() {
    snapshot!(
        "priority",
        cmd("prodcons").args([
            "--items",
            "12",
            "--producers",
            "3",
            "--consumers",
            "1",
            "--capacity",
            "4",
            "--kind",
            "priority",
            "--max-delay-ms",
            "0",
        ]),
        RATE
    );
}

#[test]
fn quiet_benchmark_workload() {
    snapshot!(
        "quiet_benchmark_workload",
        cmd("prodcons").args([
            "--items",
            "100000",
            "--producers",
            "4",
            "--consumers",
            "4",
            "--capacity",
            "64",
            "--max-delay-ms",
            "0",
            "--quiet",
        ]),
        RATE
    );
}

/// The default run sleeps random times, so its interleaving is not fixed: check what is.
#[test]
fn seed_demo_with_delays_consumes_every_item_once_in_order() {
    let out = cmd("prodcons").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let produced: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("producing"))
        .collect();
    let consumed: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("consuming"))
        .collect();
    let want_produced: Vec<String> = (1..=10).map(|x| format!("producing {x}/10")).collect();
    let want_consumed: Vec<String> = (1..=10).map(|x| format!("consuming item {x}...")).collect();
    assert_eq!(produced, want_produced);
    assert_eq!(consumed, want_consumed);
    // Item x is consumed only after it was produced.
    for x in 1..=10 {
        let p = lines
            .iter()
            .position(|l| *l == want_produced[x - 1])
            .unwrap();
        let c = lines
            .iter()
            .position(|l| *l == want_consumed[x - 1])
            .unwrap();
        assert!(p < c, "item {x} consumed before it was produced:\n{stdout}");
    }
    assert!(
        stdout.contains("produced 10 items, consumed 10\n"),
        "{stdout}"
    );
}

#[test]
fn help() {
    snapshot!("help", cmd("prodcons").arg("--help"));
}

#[test]
fn bad_capacity() {
    snapshot!("bad_capacity", cmd("prodcons").args(["--capacity", "0"]));
}

#[test]
fn bad_producers() {
    snapshot!("bad_producers", cmd("prodcons").args(["--producers", "0"]));
}

#[test]
fn bad_consumers() {
    snapshot!("bad_consumers", cmd("prodcons").args(["--consumers", "-1"]));
}

#[test]
fn bad_items() {
    snapshot!("bad_items", cmd("prodcons").args(["--items", "lots"]));
}

#[test]
fn too_many_items() {
    snapshot!(
        "too_many_items",
        cmd("prodcons").args(["--items", "99999999999"])
    );
}

#[test]
fn bad_kind() {
    snapshot!("bad_kind", cmd("prodcons").args(["--kind", "heap"]));
}

#[test]
fn bad_delay() {
    snapshot!("bad_delay", cmd("prodcons").args(["--max-delay-ms", "-5"]));
}

/// Random delays with several producers and consumers on a small queue: the order varies, the
/// counts do not (the binary itself fails if an item is lost or consumed twice).
#[test]
fn delays_with_many_tasks_consume_every_item_once() {
    let out = cmd("prodcons")
        .args([
            "--items",
            "60",
            "--producers",
            "3",
            "--consumers",
            "4",
            "--capacity",
            "2",
        ])
        .args([
            "--max-delay-ms",
            "10",
            "--seed",
            "7",
            "--quiet",
            "--kind",
            "lifo",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("produced 60 items, consumed 60\n"),
        "{stdout}"
    );
    assert!(
        stdout.lines().count() == 5,
        "--quiet prints only the summary:\n{stdout}"
    );
}

#[test]
fn too_many_tasks_is_refused() {
    // Not an allocation failure that aborts the process.
    let out = cmd("prodcons")
        .args(["--producers", "100000000000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'--producers <P>': 100000000000 is not in 1..=100000"),
        "{stderr}"
    );
}

#[test]
fn too_long_a_delay_is_refused() {
    // Not a timer so far away that it never fires and the run hangs.
    let out = cmd("prodcons")
        .args(["--max-delay-ms", "18446744073709551615"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'--max-delay-ms <MS>': 18446744073709551615 is not in 0..=60000"),
        "{stderr}"
    );
}

/// `prodcons ... | head -1`: the reader went away, so the run ends quietly (status 0, as
/// `socketpair-reader` does), without a panic.
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    // About 2 MB of lines: far more than the pipe holds.
    let (first, code, stderr) =
        crate::fixture::head_1(cmd("prodcons").args(["--items", "100000", "--max-delay-ms", "0"]));
    assert_eq!(first, "producing 1/100000\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
}

/// A stdout that cannot be written (a full disk) is an error that says so, for the lines and
/// for a `--quiet` run's summary alike; never a panic, never a silent success.
#[test]
fn a_full_stdout_is_an_error() {
    for quiet in [false, true] {
        let mut prodcons = cmd("prodcons");
        prodcons.args(["--max-delay-ms", "0"]);
        if quiet {
            prodcons.arg("--quiet");
        }
        crate::fixture::assert_full_stdout_is_an_error(&mut prodcons, "error");
    }
}

/// Neither stream writable: the failure is still an exit status, not a panic (101).
#[test]
fn no_writable_stream_is_still_no_panic() {
    let code =
        crate::fixture::stdout_full_stderr_closed(cmd("prodcons").args(["--max-delay-ms", "0"]));
    assert_eq!(code, Some(1));
}
