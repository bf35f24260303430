//! The queue against CPython's asyncio queues: the same operation sequences (directed ones, then
//! seeded random ones) run on `asyncio.Queue` / `LifoQueue` / `PriorityQueue` through
//! `tests/asyncio_driver.py`, with the event loop run only at `run` steps, and on the crate on
//! this thread, its futures polled only at the same steps, in the order they were woken (as
//! asyncio's ready queue runs tasks). Every step's result, length and count of unfinished items
//! must match, up to the step where a sequence runs into one of the deliberate differences.
//!
//! Python 3.13 or later is found through `TULIP_PYTHON`, then `python3.13` on `PATH`, then
//! pyenv's versions; without one the test is skipped with a message, or fails under `CI=true`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::env;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use tulip_queue::{Get, Join, Kind, Put, Queue, TryGetError, TryPutError};

/// The crate's deliberate differences from asyncio, as the driver flags them (the crate doc
/// lists them). Its other one, no capacity 0, is not observable in these sequences.
const DELIBERATE: [&str; 4] = [
    // A newcomer cannot take an item reserved for a getter served before it.
    "getter-fairness",
    // A served putter's item is in the queue before the putter runs.
    "putter-admitted",
    // `task_done` fails once every item taken was marked done.
    "task-done-limit",
    // A cancelled served getter's turn passes to the next getter at once, not when it runs.
    "cancel-at-once",
];

#[derive(Clone, Copy, Debug)]
enum Op {
    PutNowait(i64),
    GetNowait,
    /// A task that puts; tasks are numbered from 1 in each sequence.
    Put(usize, i64),
    Get(usize),
    Join(usize),
    Cancel(usize),
    TaskDone,
    Shutdown,
    ShutdownImmediate,
    Run,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::PutNowait(x) => write!(f, "put_nowait {x}"),
            Op::GetNowait => write!(f, "get_nowait"),
            Op::Put(id, x) => write!(f, "put {id} {x}"),
            Op::Get(id) => write!(f, "get {id}"),
            Op::Join(id) => write!(f, "join {id}"),
            Op::Cancel(id) => write!(f, "cancel {id}"),
            Op::TaskDone => write!(f, "task_done"),
            Op::Shutdown => write!(f, "shutdown"),
            Op::ShutdownImmediate => write!(f, "shutdown_immediate"),
            Op::Run => write!(f, "run"),
        }
    }
}

struct Sequence {
    name: String,
    kind: &'static str,
    capacity: usize,
    ops: Vec<Op>,
}

/// A task of the crate's side: one future of the queue.
enum Task<'q, K: Kind<i64>> {
    Put(Put<'q, i64, K>),
    Get(Get<'q, i64, K>),
    Join(Join<'q, i64, K>),
}

impl<K: Kind<i64>> Task<'_, K> {
    /// Polls once; the outcome as the driver writes it once done.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<String> {
        match self {
            Task::Put(f) => Pin::new(f)
                .poll(cx)
                .map(|r| if r.is_ok() { "ok" } else { "shutdown" }.to_string()),
            Task::Get(f) => Pin::new(f).poll(cx).map(|r| match r {
                Ok(x) => format!("item {x}"),
                Err(_) => "shutdown".to_string(),
            }),
            Task::Join(f) => Pin::new(f).poll(cx).map(|()| "joined".to_string()),
        }
    }
}

/// Puts its task's number on the ready queue, as asyncio schedules a woken task.
struct Ready {
    id: usize,
    queue: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for Ready {
    fn wake(self: Arc<Self>) {
        self.queue.lock().unwrap().push_back(self.id);
    }
}

/// Runs a sequence on the crate, one line a step in the driver's format.
fn run_crate<K: Kind<i64>>(q: &Queue<i64, K>, ops: &[Op]) -> Vec<String> {
    let ready = Arc::new(Mutex::new(VecDeque::new()));
    let mut tasks: HashMap<usize, Task<'_, K>> = HashMap::new();
    // Tasks done and not yet reported: cancelled ones wait here for the next run.
    let mut done: BTreeMap<usize, String> = BTreeMap::new();
    let mut lines = vec!["new".to_string()];
    for op in ops {
        let result = match *op {
            Op::PutNowait(x) => match q.try_put(x) {
                Ok(()) => "ok".into(),
                Err(TryPutError::Full(_)) => "full".into(),
                Err(TryPutError::ShutDown(_)) => "shutdown".into(),
            },
            Op::GetNowait => match q.try_get() {
                Ok(x) => format!("item {x}"),
                Err(TryGetError::Empty) => "empty".into(),
                Err(TryGetError::ShutDown) => "shutdown".into(),
            },
            Op::Put(id, _) | Op::Get(id) | Op::Join(id) => {
                let task = match *op {
                    Op::Put(_, x) => Task::Put(q.put(x)),
                    Op::Get(_) => Task::Get(q.get()),
                    _ => Task::Join(q.join()),
                };
                tasks.insert(id, task);
                // A new task first runs at the next run, in its turn.
                ready.lock().unwrap().push_back(id);
                "spawned".into()
            }
            Op::Cancel(id) => {
                if tasks.remove(&id).is_some() {
                    done.insert(id, "cancelled".into());
                }
                // asyncio's `cancel` is true until the task is done, which it is at the run.
                (if done.get(&id).is_some_and(|s| s == "cancelled") {
                    "true"
                } else {
                    "false"
                })
                .into()
            }
            Op::TaskDone => (if q.task_done().is_ok() { "ok" } else { "error" }).into(),
            Op::Shutdown => {
                q.shutdown();
                "ok".into()
            }
            Op::ShutdownImmediate => {
                q.shutdown_immediate();
                "ok".into()
            }
            Op::Run => {
                loop {
                    let Some(id) = ready.lock().unwrap().pop_front() else {
                        break;
                    };
                    let Some(task) = tasks.get_mut(&id) else {
                        continue;
                    };
                    let waker = Waker::from(Arc::new(Ready {
                        id,
                        queue: ready.clone(),
                    }));
                    if let Poll::Ready(outcome) = task.poll(&mut Context::from_waker(&waker)) {
                        tasks.remove(&id);
                        done.insert(id, outcome);
                    }
                }
                let mut line = "run".to_string();
                for (id, outcome) in std::mem::take(&mut done) {
                    line += &format!(" {id}:{outcome}");
                }
                line
            }
        };
        lines.push(format!(
            "{result} len={} unfinished={}",
            q.len(),
            q.unfinished()
        ));
    }
    lines
}

fn run_on_crate(seq: &Sequence) -> Vec<String> {
    match seq.kind {
        "fifo" => run_crate(&Queue::bounded(seq.capacity), &seq.ops),
        "lifo" => run_crate(&Queue::lifo(seq.capacity), &seq.ops),
        _ => run_crate(&Queue::priority(seq.capacity), &seq.ops),
    }
}

/// Runs every sequence through one Python process; one line a step, as `run_crate` writes.
fn run_on_asyncio(python: &PathBuf, seqs: &[Sequence]) -> Vec<Vec<String>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/asyncio_driver.py");
    let mut input = String::new();
    for seq in seqs {
        input += &format!("new {} {}\n", seq.kind, seq.capacity);
        for op in &seq.ops {
            input += &format!("{op}\n");
        }
    }
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread: the driver's answers would fill the pipe meanwhile.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "the asyncio driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines().map(str::to_string);
    seqs.iter()
        .map(|seq| lines.by_ref().take(seq.ops.len() + 1).collect())
        .collect()
}

/// Whether `python` runs and its asyncio has `QueueShutDown` (Python 3.13 or later).
fn usable(python: &PathBuf) -> bool {
    Command::new(python)
        .args(["-c", "import asyncio; asyncio.QueueShutDown"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Python 3.13 or later, or `None` (after saying why) where none is installed.
fn python() -> Option<PathBuf> {
    if let Some(p) = env::var_os("TULIP_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            usable(&p),
            "TULIP_PYTHON={} is not a Python 3.13 or later",
            p.display()
        );
        return Some(p);
    }
    let mut candidates = Vec::new();
    if let Some(path) = env::var_os("PATH") {
        candidates.extend(env::split_paths(&path).map(|dir| dir.join("python3.13")));
    }
    let roots = [
        env::var_os("PYENV_ROOT").map(PathBuf::from),
        env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")),
    ];
    for root in roots.into_iter().flatten() {
        let Ok(entries) = std::fs::read_dir(root.join("versions")) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("3.13"))
            .map(|e| e.path().join("bin/python3"))
            .collect();
        found.sort();
        candidates.extend(found.into_iter().rev());
    }
    // A pyenv shim on PATH may name a version that is not installed: try each.
    if let Some(p) = candidates.into_iter().find(|p| p.is_file() && usable(p)) {
        return Some(p);
    }
    let why = "no Python 3.13 (TULIP_PYTHON, python3.13 on PATH, or pyenv's 3.13.*)";
    assert!(
        env::var("CI").as_deref() != Ok("true"),
        "{why}, under CI=true"
    );
    eprintln!("skipped: {why}");
    None
}

fn seq(name: &str, kind: &'static str, capacity: usize, ops: &[Op]) -> Sequence {
    Sequence {
        name: name.to_string(),
        kind,
        capacity,
        ops: ops.to_vec(),
    }
}

/// Sequences that each check one rule; none runs into a deliberate difference.
fn directed() -> Vec<Sequence> {
    use Op::*;
    let mut seqs = Vec::new();
    for kind in ["fifo", "lifo", "priority"] {
        // A getter that waited gets the item the queue's order puts first when it runs.
        seqs.push(seq(
            "waiting getter",
            kind,
            2,
            &[Get(1), Run, PutNowait(5), PutNowait(1), Run, GetNowait],
        ));
        // Two served getters, more items than getters.
        seqs.push(seq(
            "two waiting getters",
            kind,
            3,
            &[
                Get(1),
                Get(2),
                Run,
                PutNowait(4),
                PutNowait(9),
                PutNowait(2),
                Run,
                GetNowait,
            ],
        ));
        // A served getter cancelled before it runs: its turn goes to the next one.
        seqs.push(seq(
            "cancelled served getter",
            kind,
            2,
            &[
                Get(1),
                Get(2),
                Run,
                PutNowait(3),
                Cancel(1),
                PutNowait(1),
                Run,
            ],
        ));
        // Putters wait in order, and each get lets one in (a get task: a `get_nowait` from
        // outside the loop would leave a served putter that has not run).
        seqs.push(seq(
            "waiting putters",
            kind,
            1,
            &[
                PutNowait(5),
                Put(1, 3),
                Put(2, 7),
                Run,
                Get(3),
                Run,
                Get(4),
                Run,
                Get(5),
                Run,
                TaskDone,
                TaskDone,
                TaskDone,
            ],
        ));
    }
    // join returns once the count reached zero, though an item was put again before it ran.
    seqs.push(seq(
        "join sees the zero",
        "fifo",
        2,
        &[
            PutNowait(1),
            GetNowait,
            Join(1),
            Run,
            TaskDone,
            PutNowait(2),
            Run,
            Join(2),
            Run,
        ],
    ));
    // A join that began after the zero waits for the next one.
    seqs.push(seq(
        "join waits for the next zero",
        "fifo",
        2,
        &[
            PutNowait(1),
            Join(1),
            GetNowait,
            TaskDone,
            PutNowait(2),
            Run,
            GetNowait,
            TaskDone,
            Run,
        ],
    ));
    // Graceful shutdown: getters drain what is left then fail, putters fail, join follows.
    seqs.push(seq(
        "graceful shutdown",
        "priority",
        2,
        &[
            PutNowait(4),
            PutNowait(2),
            Put(1, 1),
            Join(2),
            Run,
            Shutdown,
            Get(3),
            Get(4),
            Get(5),
            Run,
            PutNowait(0),
            TaskDone,
            TaskDone,
            Run,
        ],
    ));
    // Immediate shutdown discards and counts as done; served getters fail too.
    seqs.push(seq(
        "immediate shutdown",
        "lifo",
        2,
        &[
            Get(1),
            Get(2),
            Join(3),
            Run,
            PutNowait(1),
            ShutdownImmediate,
            Run,
            GetNowait,
            TaskDone,
        ],
    ));

    // Shutdown, task_done and join edges, and a cancelled served getter with nobody behind it
    // (its turn lapses: a get_nowait then takes the item in both).
    let edges: &[(&str, &str, usize, &[Op])] = &[
        (
            "cancel served getter, get_nowait",
            "fifo",
            2,
            &[Get(1), Run, PutNowait(3), Cancel(1), GetNowait, Run],
        ),
        (
            "immediate then task_done",
            "fifo",
            3,
            &[
                PutNowait(1),
                PutNowait(2),
                GetNowait,
                ShutdownImmediate,
                TaskDone,
                TaskDone,
                Join(1),
                Run,
            ],
        ),
        (
            "putter waiting shutdown get",
            "fifo",
            1,
            &[
                PutNowait(1),
                Put(1, 2),
                Run,
                Shutdown,
                GetNowait,
                Run,
                GetNowait,
                TaskDone,
                TaskDone,
            ],
        ),
        (
            "join waiting graceful",
            "fifo",
            2,
            &[
                PutNowait(1),
                Join(1),
                Run,
                Shutdown,
                Run,
                GetNowait,
                Run,
                TaskDone,
                Run,
            ],
        ),
        (
            "served getter graceful",
            "fifo",
            2,
            &[Get(1), Get(2), Run, PutNowait(1), Shutdown, Run],
        ),
        (
            "served getter graceful cancel",
            "fifo",
            2,
            &[Get(1), Get(2), Run, PutNowait(1), Shutdown, Cancel(1), Run],
        ),
        (
            "putter immediate",
            "fifo",
            1,
            &[
                PutNowait(1),
                Put(1, 2),
                Run,
                ShutdownImmediate,
                Run,
                Join(2),
                Run,
            ],
        ),
        (
            "getter immediate put",
            "fifo",
            1,
            &[Get(1), Run, ShutdownImmediate, PutNowait(1), Run, GetNowait],
        ),
        ("join zero", "fifo", 1, &[Join(1), Run]),
        (
            "lifo served",
            "lifo",
            2,
            &[Get(1), Run, PutNowait(1), PutNowait(2), GetNowait, Run],
        ),
        (
            "twice",
            "fifo",
            2,
            &[
                PutNowait(1),
                ShutdownImmediate,
                Shutdown,
                GetNowait,
                PutNowait(1),
            ],
        ),
        (
            "graceful then immediate served",
            "fifo",
            2,
            &[
                Get(1),
                Run,
                PutNowait(1),
                Shutdown,
                ShutdownImmediate,
                Run,
                TaskDone,
            ],
        ),
        (
            "task_done error joined",
            "fifo",
            2,
            &[
                PutNowait(1),
                GetNowait,
                Join(1),
                Run,
                TaskDone,
                TaskDone,
                Run,
            ],
        ),
        (
            "join after immediate",
            "fifo",
            2,
            &[
                PutNowait(1),
                PutNowait(2),
                GetNowait,
                Join(1),
                Run,
                ShutdownImmediate,
                Run,
                TaskDone,
                Run,
            ],
        ),
        (
            "put task after shutdown nonfull",
            "fifo",
            2,
            &[Shutdown, Put(1, 1), Get(2), Run],
        ),
        (
            "put task shutdown full",
            "fifo",
            1,
            &[PutNowait(1), Shutdown, Put(1, 1), Get(2), Get(3), Run],
        ),
        (
            "cancel waiting putter",
            "fifo",
            1,
            &[
                PutNowait(1),
                Put(1, 2),
                Put(2, 3),
                Run,
                Cancel(1),
                Run,
                Get(3),
                Run,
                Get(4),
                Run,
            ],
        ),
        (
            "immediate served putter then task_done",
            "fifo",
            1,
            &[
                PutNowait(1),
                GetNowait,
                TaskDone,
                ShutdownImmediate,
                TaskDone,
                Join(1),
                Run,
            ],
        ),
        (
            "join cancelled then",
            "fifo",
            1,
            &[
                PutNowait(1),
                Join(1),
                Run,
                Cancel(1),
                GetNowait,
                TaskDone,
                Run,
            ],
        ),
        (
            "immediate with getters then getnowait",
            "priority",
            3,
            &[
                PutNowait(3),
                PutNowait(1),
                Shutdown,
                GetNowait,
                ShutdownImmediate,
                GetNowait,
                TaskDone,
                TaskDone,
            ],
        ),
    ];
    for (n, k, c, ops) in edges {
        seqs.push(seq(n, k, *c, ops));
    }
    seqs
}

/// A random sequence, from its seed.
fn random(seed: u64) -> Sequence {
    use Op::*;
    let mut rng = fastrand::Rng::with_seed(seed);
    let kind = ["fifo", "lifo", "priority"][rng.usize(..3)];
    let capacity = rng.usize(1..=3);
    let mut ops = Vec::new();
    let mut tasks = 0;
    for _ in 0..40 {
        let x = rng.i64(0..10);
        let op = match rng.u32(0..100) {
            0..15 => PutNowait(x),
            15..27 => GetNowait,
            27..39 => {
                tasks += 1;
                Put(tasks, x)
            }
            39..51 => {
                tasks += 1;
                Get(tasks)
            }
            51..55 => {
                tasks += 1;
                Join(tasks)
            }
            55..61 if tasks > 0 => Cancel(rng.usize(1..=tasks)),
            61..66 => TaskDone,
            69..71 => Shutdown,
            71..72 => ShutdownImmediate,
            _ => Run,
        };
        ops.push(op);
    }
    ops.push(Run);
    Sequence {
        name: format!("random seed {seed}"),
        kind,
        capacity,
        ops,
    }
}

/// Compares one sequence: the deliberate difference that stopped the comparison, if any, or
/// the step where the crate differs.
fn compare(seq: &Sequence, ours: &[String], theirs: &[String]) -> Result<Option<String>, String> {
    assert_eq!(
        theirs.len(),
        ours.len(),
        "{}: driver output cut short",
        seq.name
    );
    let steps = std::iter::once("new".to_string()).chain(seq.ops.iter().map(Op::to_string));
    for (i, ((step, ours), theirs)) in steps.zip(ours).zip(theirs).enumerate() {
        let (theirs, flags) = match theirs.split_once(" ! ") {
            Some((line, flags)) => (line, Some(flags)),
            None => (theirs.as_str(), None),
        };
        if let Some(flags) = flags {
            for flag in flags.split(',') {
                assert!(DELIBERATE.contains(&flag), "unknown flag {flag}");
            }
            return Ok(Some(flags.to_string()));
        }
        if ours != theirs {
            let trace: Vec<String> = seq
                .ops
                .iter()
                .take(i.saturating_sub(1))
                .map(Op::to_string)
                .collect();
            return Err(format!(
                "{} ({}, capacity {}), step {i} `{step}`:\n  asyncio: {theirs}\n  crate:   {ours}\nsteps before: {}",
                seq.name,
                seq.kind,
                seq.capacity,
                trace.join("; ")
            ));
        }
    }
    Ok(None)
}

#[test]
fn directed_sequences_match_asyncio() {
    let Some(python) = python() else { return };
    let seqs = directed();
    let theirs = run_on_asyncio(&python, &seqs);
    let mut failures = Vec::new();
    for (seq, theirs) in seqs.iter().zip(&theirs) {
        match compare(seq, &run_on_crate(seq), theirs) {
            Ok(None) => {}
            Ok(Some(flags)) => {
                failures.push(format!("{} ({}) ran into {flags}", seq.name, seq.kind))
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn random_sequences_match_asyncio_but_for_the_deliberate_differences() {
    let Some(python) = python() else { return };
    let seqs: Vec<Sequence> = (0..600).map(random).collect();
    let theirs = run_on_asyncio(&python, &seqs);
    let mut stopped: BTreeMap<String, usize> = BTreeMap::new();
    for (seq, theirs) in seqs.iter().zip(&theirs) {
        if let Some(flags) =
            compare(seq, &run_on_crate(seq), theirs).unwrap_or_else(|e| panic!("{e}"))
        {
            *stopped.entry(flags).or_default() += 1;
        }
    }
    let whole = seqs.len() - stopped.values().sum::<usize>();
    eprintln!(
        "{whole} of {} sequences compared to the end; stopped at: {stopped:?}",
        seqs.len()
    );
    // The differences must not hide most of the sequences.
    assert!(whole * 3 >= seqs.len(), "too few sequences compared whole");
}
