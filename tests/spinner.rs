//! spinner: a self re-arming timer on fdwatch's loop while a job runs on a thread; its answer,
//! its frames (drawn only on a terminal unless asked), and its errors.

use crate::fixture::cmd;

/// How many frames are drawn depends on timing: the count is redacted, and so is the run of
/// frames on stderr (with the erasing of the line at the end).
const FRAMES: &[(&str, &str)] = &[
    (r"\d+ frames? of", "[N] frames of"),
    (r"(\r[|/\\-] thinking!)+", "[FRAMES]"),
    (r"\r +\r", "[ERASED]"),
];

/// The count in `Answer: 42 (after 0.20s, N frames of the spinner)`.
fn frame_count(stdout: &str) -> usize {
    stdout
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame count in {stdout:?}"))
}

#[test]
fn not_on_a_terminal_it_prints_only_the_answer() {
    // The test's stderr is a pipe: no frame is drawn.
    snapshot!(
        "spinner_not_a_terminal",
        cmd("spinner").args(["--seconds", "0.2"]),
        FRAMES
    );
}

#[test]
fn frames_always_draws_on_a_pipe_then_erases_the_line() {
    snapshot!(
        "spinner_frames_always",
        cmd("spinner").args([
            "--seconds",
            "0.2",
            "--interval-ms",
            "20",
            "--frames",
            "always"
        ]),
        FRAMES
    );
}

#[test]
fn the_frames_drawn_are_the_frames_counted_and_turn_in_order() {
    let out = cmd("spinner")
        .args([
            "--seconds",
            "0.2",
            "--interval-ms",
            "10",
            "--frames",
            "always",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let counted = frame_count(&stdout);
    let drawn: Vec<&str> = stderr
        .split('\r')
        .filter(|f| f.ends_with(" thinking!"))
        .collect();
    assert_eq!(drawn.len(), counted, "{stderr:?}");
    // The job takes 200 ms and a frame comes every 10 ms: the spinner turned many times.
    assert!(counted >= 2, "{stdout}");
    for (i, frame) in drawn.iter().enumerate() {
        let expected = ['|', '/', '-', '\\'][i % 4];
        assert!(frame.starts_with(expected), "frame {i}: {frame:?}");
    }
    // Stopped by the job: the line is erased last, and no frame follows.
    assert!(
        stderr.ends_with(&format!("\r{}\r", " ".repeat(11))),
        "{stderr:?}"
    );
}

#[test]
fn a_job_of_no_time_still_draws_one_frame() {
    let out = cmd("spinner")
        .args(["--seconds", "0", "--frames", "never"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("Answer: 42 (after "), "{stdout}");
    // The first frame is queued before the job starts, so it comes before the job's report.
    assert!(frame_count(&stdout) >= 1, "{stdout}");
}

#[test]
fn a_negative_duration_is_refused() {
    snapshot!(
        "spinner_seconds_negative",
        cmd("spinner").args(["--seconds", "-1"])
    );
}

#[test]
fn a_zero_interval_is_refused() {
    snapshot!(
        "spinner_interval_zero",
        cmd("spinner").args(["--interval-ms", "0"])
    );
}

#[test]
fn an_unknown_frames_mode_is_refused() {
    snapshot!(
        "spinner_frames_unknown",
        cmd("spinner").args(["--frames", "sometimes"])
    );
}
