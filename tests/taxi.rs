//! taxi: the fleet simulation, snapshotted per seed (the simulated clock makes a run's output
//! depend on its arguments only), its rules checked over many seeds, and its usage errors.

use crate::fixture::{assert_full_stdout_is_an_error, cmd};

fn run(args: &[&str]) -> String {
    let out = cmd("taxi").args(args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn default_fleet() {
    snapshot!("default_fleet", &mut cmd("taxi"));
}

#[test]
fn five_taxis_longer() {
    snapshot!(
        "five_taxis_longer",
        cmd("taxi").args(["--taxis", "5", "--end-time", "360", "--seed", "7"])
    );
}

#[test]
fn stops_at_the_end_time_with_events_pending() {
    snapshot!("end_time_60", cmd("taxi").args(["--end-time", "60"]));
}

#[test]
fn one_taxi_goes_home_before_the_end() {
    snapshot!(
        "one_taxi_goes_home",
        cmd("taxi").args(["--taxis", "1", "--end-time", "100000", "--seed", "3"])
    );
}

#[test]
fn the_same_seed_prints_the_same_events() {
    let args = ["--taxis", "8", "--end-time", "500", "--seed", "42"];
    assert_eq!(run(&args), run(&args));
    let other = ["--taxis", "8", "--end-time", "500", "--seed", "43"];
    assert_ne!(run(&args), run(&other));
}

/// Over many seeds: the clock never goes back, every taxi does its steps in order, and the run
/// ends as the end time and the queue say.
#[test]
fn events_come_in_time_order_and_each_taxi_in_its_order() {
    for seed in 0..30 {
        let end_time = 200 + seed * 10;
        let out = run(&[
            "--taxis",
            "6",
            "--end-time",
            &end_time.to_string(),
            "--seed",
            &seed.to_string(),
        ]);
        let mut lines: Vec<&str> = out.lines().collect();
        let last = lines.pop().unwrap();
        let mut clock = 0;
        // Per taxi: the actions seen so far.
        let mut seen: Vec<Vec<String>> = vec![Vec::new(); 6];
        for line in &lines {
            let (head, event) = line.split_once("Event(").unwrap();
            let taxi: usize = head["taxi: ".len()..].trim().parse().unwrap();
            // The taxi's number, then as many spaces as it, then the event.
            assert_eq!(*head, format!("taxi: {taxi} {} ", " ".repeat(taxi)));
            let fields: Vec<&str> = event.trim_end_matches("')").split(", ").collect();
            let time: u64 = fields[0].strip_prefix("time=").unwrap().parse().unwrap();
            assert_eq!(fields[1], format!("proc={taxi}"));
            assert!(time >= clock, "seed {seed}: time went back at {line}");
            clock = time;
            seen[taxi].push(fields[2].strip_prefix("action='").unwrap().to_string());
        }
        for (taxi, actions) in seen.iter().enumerate() {
            let mut want = vec!["leave garage".to_string()];
            for _ in 0..(taxi + 1) * 2 {
                want.push("pick up passenger".into());
                want.push("drop off passenger".into());
            }
            want.push("going home".into());
            assert_eq!(
                actions[..],
                want[..actions.len()],
                "seed {seed}, taxi {taxi}"
            );
        }
        if last == "*** end of events ***" {
            assert!(clock < end_time, "seed {seed}");
        } else {
            assert!(clock >= end_time, "seed {seed}: {last}");
            // Each taxi that has not gone home has one event queued.
            let pending = seen
                .iter()
                .filter(|a| a.last().map(String::as_str) != Some("going home"))
                .count();
            assert_eq!(
                last,
                format!("*** end of simulation time: {pending} events pending ***")
            );
        }
    }
}

#[test]
fn help() {
    snapshot!("help", cmd("taxi").arg("--help"));
}

#[test]
fn no_taxis_is_a_usage_error() {
    snapshot!("bad_taxis", cmd("taxi").args(["--taxis", "0"]));
}

#[test]
fn too_many_taxis_is_a_usage_error() {
    snapshot!("too_many_taxis", cmd("taxi").args(["--taxis", "101"]));
}

#[test]
fn bad_end_time_is_a_usage_error() {
    snapshot!("bad_end_time", cmd("taxi").args(["--end-time", "soon"]));
}

#[test]
fn a_full_stdout_is_an_error() {
    assert_full_stdout_is_an_error(&mut cmd("taxi"), "error");
}
