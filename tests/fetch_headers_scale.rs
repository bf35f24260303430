//! fetch-headers at scale: pacing (`--rate`, `--per-host`), retries (`--retries`, the JSON
//! `attempts`) and splitting a list among runs (`--shard`, or the job runner's variables),
//! against crates/stub servers; and every bad value of those as a usage error naming it.

use std::collections::BTreeSet;
use std::time::Duration;

use stub::{Behavior, Stub};

use crate::fetch_headers::{JSON, start};
use crate::fixture::cmd;

#[test]
fn bad_pacing_retry_and_shard_values_are_usage_errors() {
    let cases: &[(&str, &[&str])] = &[
        ("rate_zero", &["--rate", "0"]),
        ("rate_negative", &["--rate", "-2"]),
        ("rate_not_a_number", &["--rate", "fast"]),
        ("per_host_zero", &["--per-host", "0"]),
        ("retries_negative", &["--retries", "-1"]),
        ("shard_out_of_range", &["--shard", "4/4"]),
        ("shard_no_shards", &["--shard", "0/0"]),
        ("shard_malformed", &["--shard", "1-4"]),
        (
            "shard_and_shard_count",
            &["--shard", "0/2", "--shard-count", "2"],
        ),
        ("shard_count_zero", &["--shard-count", "0"]),
    ];
    for (name, args) in cases {
        snapshot!(*name, cmd("fetch-headers").args(*args).arg("127.0.0.1:1"));
    }
}

/// The job runner's variables: a bad value is named, with the variable it came from.
#[test]
fn bad_job_runner_variables_are_usage_errors() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "k8s_index_not_a_number",
            &[("JOB_COMPLETION_INDEX", "one"), ("JOB_COMPLETIONS", "4")],
        ),
        ("k8s_index_without_count", &[("JOB_COMPLETION_INDEX", "1")]),
        (
            "k8s_index_out_of_range",
            &[("JOB_COMPLETION_INDEX", "4"), ("JOB_COMPLETIONS", "4")],
        ),
        (
            "k8s_count_not_a_number",
            &[("JOB_COMPLETION_INDEX", "0"), ("JOB_COMPLETIONS", "-4")],
        ),
        ("slurm_without_count", &[("SLURM_ARRAY_TASK_ID", "2")]),
        (
            "slurm_task_off_the_steps",
            &[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
        ),
    ];
    for (name, vars) in cases {
        let mut cmd = cmd("fetch-headers");
        cmd.envs(vars.iter().copied()).arg("127.0.0.1:1");
        snapshot!(*name, cmd);
    }
}

/// The `target` of each JSON line a run printed, and its exit status.
fn fetched(cmd: &mut std::process::Command) -> (BTreeSet<String>, Option<i32>) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let targets = stdout
        .lines()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(json["status"], 200, "{line}");
            json["target"].as_str().unwrap().to_owned()
        })
        .collect();
    (targets, out.status.code())
}

/// Three runs over one list, each with its shard (from --shard, Kubernetes' or Slurm's
/// variables alike), fetch every target once between them, all of a host's in one run.
#[test]
fn shards_split_a_list_among_runs_exactly_once() {
    let server = start(Behavior::Ok);
    let port = server.port();
    // Twelve hosts, all pinned to the stub, two paths each.
    let hosts: Vec<String> = (0..12).map(|i| format!("host{i}.test")).collect();
    let list: Vec<String> = hosts
        .iter()
        .flat_map(|h| {
            [
                format!("http://{h}:{port}/a"),
                format!("http://{h}:{port}/b"),
            ]
        })
        .collect();
    let base = |cmd: &mut std::process::Command| {
        for h in &hosts {
            cmd.args(["--resolve", &format!("{h}:{port}:127.0.0.1")]);
        }
        cmd.arg("--json").args(&list);
    };
    let mut all = BTreeSet::new();
    let mut sizes = Vec::new();
    for i in 0..3 {
        let mut flag = cmd("fetch-headers");
        flag.args(["--shard", &format!("{i}/3")]);
        base(&mut flag);
        let (mine, code) = fetched(&mut flag);
        assert_eq!(code, Some(0));

        let mut k8s = cmd("fetch-headers");
        k8s.env("JOB_COMPLETION_INDEX", i.to_string())
            .env("JOB_COMPLETIONS", "3");
        base(&mut k8s);
        assert_eq!(fetched(&mut k8s).0, mine, "Kubernetes' shard {i}");

        // An array numbered 1, 3, 5: task 2i+1 is shard i.
        let mut slurm = cmd("fetch-headers");
        slurm
            .env("SLURM_ARRAY_TASK_ID", (2 * i + 1).to_string())
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_STEP", "2")
            .env("SLURM_ARRAY_TASK_COUNT", "3");
        base(&mut slurm);
        assert_eq!(fetched(&mut slurm).0, mine, "Slurm's shard {i}");

        // Both paths of a host together.
        for t in &mine {
            let other = match t.strip_suffix("/a") {
                Some(host) => format!("{host}/b"),
                None => format!("{}/a", t.strip_suffix("/b").unwrap()),
            };
            assert!(mine.contains(&other), "{t} without {other}");
        }
        sizes.push(mine.len());
        let before = all.len();
        all.extend(mine);
        assert_eq!(all.len(), before + sizes[i], "a target in two shards");
    }
    assert_eq!(all, list.iter().cloned().collect::<BTreeSet<_>>());
    // --seed gives another split of the same list (with twelve hosts, surely not the same).
    let mut seeded = cmd("fetch-headers");
    seeded.args(["--shard", "0/3", "--seed", "7"]);
    base(&mut seeded);
    let mut unseeded = cmd("fetch-headers");
    unseeded.args(["--shard", "0/3"]);
    base(&mut unseeded);
    assert_ne!(fetched(&mut seeded).0, fetched(&mut unseeded).0);
}

/// A server that resets the first connection: with --retries the target is fetched on its
/// second attempt, which the JSON line says.
#[test]
fn retries_fetch_a_target_that_was_reset_once() {
    let flaky = start(Behavior::ResetFirst(1));
    snapshot!(
        "retries_json",
        cmd("fetch-headers").args(["--retries", "2", "--json", &flaky.target()]),
        JSON
    );
    assert_eq!(flaky.accepted(), 2);
    // Without it, the reset is the outcome.
    let flaky = start(Behavior::ResetFirst(1));
    let out = cmd("fetch-headers")
        .args(["--json", &flaky.target()])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["error"]["kind"].as_str(), json["attempts"].as_u64()),
        (Some("reset"), Some(1))
    );
}

/// --rate spaces the connections the server sees; --per-host keeps one open at a time.
#[test]
fn rate_and_per_host_reach_the_server() {
    let server = start(Behavior::Ok);
    let targets = vec![server.target(); 6];
    let out = cmd("fetch-headers")
        .args(["--rate", "20", "-c", "6"])
        .args(&targets)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let times = server.accept_times();
    assert_eq!(times.len(), 6);
    // Five intervals of 50 ms, with room for a late start.
    let span = times[5] - times[0];
    assert!(span >= Duration::from_millis(180), "6 starts in {span:?}");

    let slow = Stub::start(Behavior::Slow(Duration::from_millis(50))).unwrap();
    let targets = vec![slow.target(); 6];
    let out = cmd("fetch-headers")
        .args(["--per-host", "1", "-c", "6"])
        .args(&targets)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!((slow.accepted(), slow.peak_open()), (6, 1));
}
