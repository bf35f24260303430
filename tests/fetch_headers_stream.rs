//! fetch-headers reading its input while it fetches: a bad line in the middle of a list (a file
//! and stdin) is that line's own failure and the rest is fetched; `--order input` reads no
//! further than its window past a target that hangs; `--resume` after SIGKILL at seeded random
//! moments loses no target and repeats only what was in flight.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use stub::Behavior;

use crate::fetch_headers::{JSON, start, url, wait_bounded};
use crate::fixture::{TempDir, cmd, read_all};

/// A list with bad lines between good ones: each bad line is reported under its file and line
/// number, the targets after it are still fetched, the summary counts `bad-target`, exit 1.
#[test]
fn a_bad_line_mid_list_fails_alone() {
    let ok = start(Behavior::Ok);
    let missing = start(Behavior::Status(404));
    let list = format!(
        "{}\nbad host\n# a comment\n{}\nftp://example.com/\n\n{}\n",
        url(&ok, "first"),
        url(&missing, "missing"),
        url(&ok, "last")
    );
    let dir = TempDir::new("stream-bad-line");
    let file = dir.path().join("targets.txt");
    std::fs::write(&file, &list).unwrap();
    snapshot!(
        "stream_bad_line_file",
        cmd("fetch-headers")
            .args(["--order", "input", "-i"])
            .arg(&file)
    );
    snapshot!(
        "stream_bad_line_stdin",
        cmd("fetch-headers")
            .args(["--order", "input", "-i", "-"])
            .pass_stdin(list.clone())
    );
    snapshot!(
        "stream_bad_line_json",
        cmd("fetch-headers")
            .args(["--order", "input", "--json", "-i", "-"])
            .pass_stdin(list),
        JSON
    );
}

/// `--order input` with `-c 2` reads at most 4 x 2 = 8 positions past the earliest one not
/// printed: behind a target that never answers, exactly the 7 after it are fetched, and nothing
/// more starts however long it hangs.
#[test]
fn input_order_reads_no_further_than_its_window() {
    let silent = start(Behavior::Silent);
    let ok = start(Behavior::Ok);
    let mut list = format!("{}\n", url(&silent, "hangs"));
    for i in 0..100 {
        list.push_str(&format!("{}\n", url(&ok, &format!("t{i}"))));
    }
    let dir = TempDir::new("stream-window");
    let file = dir.path().join("targets.txt");
    std::fs::write(&file, &list).unwrap();
    let mut child = cmd("fetch-headers")
        .args(["--order", "input", "-c", "2", "--timeout", "120", "-i"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while ok.accepted() < 7 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Time for more to start if the window let them.
    std::thread::sleep(Duration::from_millis(500));
    let fetched = ok.accepted();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(fetched, 7, "targets fetched behind the one that hangs");
}

/// Runs killed with SIGKILL at seeded random moments and started again with the same arguments
/// and `--resume`, appending to one output file, until one finishes: every target is reported,
/// and a target is reported twice only if it was in flight when a run was killed (at most the
/// concurrency per kill). The last run removes the checkpoint.
#[test]
fn resume_after_sigkill_loses_nothing() {
    const TARGETS: usize = 300;
    const CONCURRENCY: usize = 4;
    let slow = start(Behavior::Slow(Duration::from_millis(15)));
    let dir = TempDir::new("stream-resume");
    let list = dir.path().join("targets.txt");
    let text: String = (0..TARGETS)
        .map(|i| format!("{}\n", url(&slow, &format!("t{i}"))))
        .collect();
    std::fs::write(&list, text).unwrap();
    for seed in [1, 2, 3, 4] {
        let mut rng = fastrand::Rng::with_seed(seed);
        let out = dir.path().join(format!("out-{seed}.jsonl"));
        let checkpoint = dir.path().join(format!("resume-{seed}.json"));
        let mut kills = 0;
        for run in 0.. {
            assert!(run < 40, "seed {seed}: no run finished");
            let stdout = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&out)
                .unwrap();
            let mut child = cmd("fetch-headers")
                .args(["--json", "-c", &CONCURRENCY.to_string(), "--resume"])
                .arg(&checkpoint)
                .arg("-i")
                .arg(&list)
                .stdout(stdout)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // The last runs are left to finish, so the test ends.
            if run < 6 {
                std::thread::sleep(Duration::from_millis(rng.u64(20..400)));
                if child.try_wait().unwrap().is_none() {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    kills += 1;
                    continue;
                }
            }
            let status = wait_bounded(&mut child, Duration::from_secs(60));
            assert_eq!(status, Some(0), "seed {seed}, run {run}");
            break;
        }
        assert!(kills > 0, "seed {seed}: no run was killed");
        assert!(!checkpoint.exists(), "the finished run left its checkpoint");
        let mut reported: HashMap<String, usize> = HashMap::new();
        for line in std::fs::read_to_string(&out).unwrap().lines() {
            let record: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("seed {seed}: {e}: {line:?}"));
            assert_eq!(record["status"], 200, "{line}");
            let target = record["target"].as_str().unwrap().to_owned();
            *reported.entry(target).or_default() += 1;
        }
        let missing: Vec<usize> = (0..TARGETS)
            .filter(|i| !reported.contains_key(&url(&slow, &format!("t{i}"))))
            .collect();
        assert_eq!(
            missing,
            [] as [usize; 0],
            "seed {seed}: targets never reported"
        );
        let repeated: usize = reported.values().map(|n| n - 1).sum();
        assert!(
            repeated <= kills * CONCURRENCY,
            "seed {seed}: {repeated} repeats after {kills} kills"
        );
        eprintln!("seed {seed}: {kills} kills, {repeated} targets reported twice");
    }
}

/// A checkpoint of other arguments is refused, naming the file, before anything is fetched.
#[test]
fn resume_refuses_another_runs_checkpoint() {
    let ok = start(Behavior::Ok);
    let dir = TempDir::new("stream-resume-other");
    let checkpoint = dir.path().join("resume.json");
    let first = cmd("fetch-headers")
        .args(["--resume"])
        .arg(&checkpoint)
        .arg(url(&ok, "a"))
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    assert!(!checkpoint.exists(), "the finished run left its checkpoint");
    std::fs::write(
        &checkpoint,
        r#"{"fetch-headers-resume":1,"targets":["other.test"],"inputs":[],"done":1,"also":[]}"#,
    )
    .unwrap();
    snapshot!(
        "resume_other_arguments",
        cmd("fetch-headers")
            .arg("--resume")
            .arg(&checkpoint)
            .arg(url(&ok, "a"))
    );
    std::fs::write(&checkpoint, "not json").unwrap();
    snapshot!(
        "resume_not_a_checkpoint",
        cmd("fetch-headers")
            .arg("--resume")
            .arg(&checkpoint)
            .arg(url(&ok, "a"))
    );
}

/// Targets from stdin are fetched as their lines come, while stdin is still open: heads are
/// printed before the input ends (both lines of one write, not only the first), and Ctrl-C ends
/// a run that waits for its next line (exit 130).
#[test]
fn stdin_is_fetched_as_it_comes() {
    use std::io::{BufRead, BufReader, Write};
    let ok = start(Behavior::Ok);
    let mut child = cmd("fetch-headers")
        .args(["-i", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    // A run that holds a line back would wait for more input forever: killed after a while,
    // its stdout ends and the test fails rather than hangs.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (done, pid) = (done.clone(), pid.clone());
        std::thread::spawn(move || {
            for _ in 0..300 {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    write!(stdin, "{}\n{}\n", url(&ok, "first"), url(&ok, "second")).unwrap();
    stdin.flush().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    // Both heads; stdin stays open all the while.
    while printed.matches("Connection: close\n").count() < 2 {
        let before = printed.len();
        stdout.read_line(&mut printed).unwrap();
        assert!(printed.len() > before, "stdout ended early: {printed:?}");
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    watchdog.join().unwrap();
    assert!(
        printed.contains("/first header > HTTP/1.1 200"),
        "{printed}"
    );
    assert!(
        printed.contains("/second header > HTTP/1.1 200"),
        "{printed}"
    );
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    drop(stdin);
    let stderr = read_all(child.stderr.take());
    assert_eq!(status, Some(130), "{stderr}");
    assert!(
        stderr.starts_with("interrupted: the rest of the input not read\n2 targets: 2 ok in "),
        "{stderr}"
    );
}

/// An input with no target at all (only comments and blank lines) is still a usage error:
/// nothing was fetched.
#[test]
fn an_input_without_targets_is_a_usage_error() {
    snapshot!(
        "stream_no_targets_in_input",
        cmd("fetch-headers")
            .args(["-i", "-"])
            .pass_stdin("# only a comment\n\n")
    );
}
