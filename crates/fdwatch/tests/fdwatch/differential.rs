//! fdwatch's `EventLoop` against asyncio itself: the scripts of `tests/asyncio/scripts.txt`
//! (watches, sends, peer closes, `call_soon`, timers, `stop`, one iteration at a time) run on
//! CPython 3.13's `SelectorEventLoop` through `tests/asyncio/driver.py` and here on
//! `EventLoop`, and the two traces must be equal line for line (`scripts.txt` describes the
//! script language). A case that shows one of the deliberate differences the crate doc lists
//! names that item and gives both traces, which must be exactly those.
//!
//! Python is found through `TULIP_PYTHON`, then `python3.13` on `PATH`, then pyenv's 3.13. Without
//! one the test prints why and passes, except under `CI=true`, where it fails.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tulip_fdwatch::{EventLoop, LoopHandle, TimerHandle, WatchError};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/asyncio/scripts.txt");
const DRIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/asyncio/driver.py");
const LIB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs");

/// One case of the scripts file.
struct Case {
    name: String,
    lines: Vec<String>,
    /// For a deliberate difference: words of the crate doc's item that declares it, and the
    /// trace each loop must give.
    differs: Option<Differs>,
}

/// A case's declared difference: where the crate doc lists it, and both traces, so that the
/// test fails if either loop does anything else (or if the two come to agree).
#[derive(Default)]
struct Differs {
    doc: String,
    /// asyncio's trace; more than one where CPython releases differ (a bug fixed in some).
    asyncio: Vec<Vec<String>>,
    fdwatch: Option<Vec<String>>,
}

/// An expected trace: lines separated by `|`; `LINE * N` stands for N copies of LINE.
fn trace(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for item in text.split('|').map(str::trim).filter(|l| !l.is_empty()) {
        match item.rsplit_once(" * ") {
            Some((line, n)) => lines.extend(std::iter::repeat_n(
                line.trim().to_owned(),
                n.trim().parse().expect("LINE * COUNT"),
            )),
            None => lines.push(item.to_owned()),
        }
    }
    lines
}

/// A trace on one line, runs of a repeated line as `LINE * N` (the notation of `trace`).
fn show(trace: &[String]) -> String {
    let mut items: Vec<String> = Vec::new();
    let mut i = 0;
    while i < trace.len() {
        let run = trace[i..].iter().take_while(|l| **l == trace[i]).count();
        items.push(if run > 2 {
            format!("{} * {run}", trace[i])
        } else {
            trace[i].clone()
        });
        i += if run > 2 { run } else { 1 };
    }
    items.join(" | ")
}

/// The cases of the scripts file, comments dropped (the same reading as driver.py's).
fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(SCRIPTS).expect("the scripts file");
    let mut cases: Vec<Case> = Vec::new();
    for raw in text.lines() {
        if let Some(name) = raw.strip_prefix("## ") {
            cases.push(Case {
                name: name.trim().to_owned(),
                lines: Vec::new(),
                differs: None,
            });
            continue;
        }
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let case = cases.last_mut().expect("an action before the first case");
        if let Some(doc) = line.strip_prefix("differs ") {
            case.differs.get_or_insert_with(Differs::default).doc = doc.trim().to_owned();
        } else if let Some(expect) = line.strip_prefix("expect ") {
            let (side, lines) = expect.split_once('=').expect("expect SIDE = TRACE");
            let differs = case.differs.get_or_insert_with(Differs::default);
            match side.trim() {
                "asyncio" => differs.asyncio.push(trace(lines)),
                "fdwatch" => differs.fdwatch = Some(trace(lines)),
                other => panic!("expect {other}: not asyncio or fdwatch"),
            }
        } else {
            case.lines.push(line.to_owned());
        }
    }
    cases
}

/// A callback body or a top-level line: actions separated by `;`, each a list of words.
fn actions(text: &str) -> Vec<Vec<String>> {
    text.split(';')
        .map(|a| a.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|a| !a.is_empty())
        .collect()
}

/// The errno name asyncio's driver logs for a refused watch.
fn refusal(err: &WatchError) -> String {
    match err {
        WatchError::BadFd(_) => "EBADF".to_owned(),
        WatchError::Unsupported(_) => "EPERM".to_owned(),
        WatchError::Io(_, e) => match e.raw_os_error().map(rustix::io::Errno::from_raw_os_error) {
            Some(rustix::io::Errno::NOENT) => "ENOENT".to_owned(),
            Some(rustix::io::Errno::EXIST) => "EEXIST".to_owned(),
            Some(rustix::io::Errno::INVAL) => "EINVAL".to_owned(),
            _ => format!("{e}"),
        },
        _ => format!("{err}"),
    }
}

thread_local! {
    /// The script running on this thread, for `call_soon_threadsafe` callbacks, which must be
    /// `Send` and so cannot hold the script's `Rc`.
    static CURRENT: RefCell<Option<Rc<Script>>> = const { RefCell::new(None) };
}

/// One script being run on an `EventLoop`.
struct Script {
    /// The origin of `at`: deadlines count from the start of the script, so two may be equal.
    start: Instant,
    ends: RefCell<HashMap<String, UnixStream>>,
    /// The fd numbers of closed ends, which scripts may still name.
    closed: RefCell<HashMap<String, RawFd>>,
    files: RefCell<HashMap<String, File>>,
    handle: RefCell<Option<LoopHandle>>,
    defs: RefCell<HashMap<String, Vec<Vec<String>>>>,
    timers: RefCell<HashMap<String, TimerHandle>>,
    trace: RefCell<Vec<String>>,
}

impl Script {
    fn new() -> Self {
        Script {
            start: Instant::now(),
            ends: RefCell::default(),
            closed: RefCell::default(),
            files: RefCell::default(),
            handle: RefCell::default(),
            defs: RefCell::default(),
            timers: RefCell::default(),
            trace: RefCell::default(),
        }
    }

    fn log(&self, line: String) {
        self.trace.borrow_mut().push(line);
    }

    /// The fd number of an end, of a closed end, of a file, or a number given as is.
    fn fd(&self, end: &str) -> RawFd {
        if let Some(sock) = self.ends.borrow().get(end) {
            return sock.as_raw_fd();
        }
        if let Some(&fd) = self.closed.borrow().get(end) {
            return fd;
        }
        if let Some(file) = self.files.borrow().get(end) {
            return file.as_raw_fd();
        }
        end.parse().unwrap_or_else(|_| panic!("no end {end:?}"))
    }

    fn end(&self, end: &str) -> UnixStream {
        self.ends.borrow()[end].try_clone().expect("dup")
    }

    /// Runs callback `name`: logs it, then does its actions.
    fn call(self: &Rc<Self>, ev: &mut EventLoop, name: &str) {
        self.log(name.to_owned());
        let body = self.defs.borrow()[name].clone();
        for action in &body {
            self.act(ev, action);
        }
    }

    /// The script's `LoopHandle`, made by the first call that needs one.
    fn loop_handle(&self, ev: &mut EventLoop) -> LoopHandle {
        let mut handle = self.handle.borrow_mut();
        handle
            .get_or_insert_with(|| ev.handle().expect("a loop handle"))
            .clone()
    }

    fn ready_fn(
        self: &Rc<Self>,
        name: &str,
    ) -> impl FnMut(&mut EventLoop, tulip_fdwatch::Readiness) + 'static {
        let (script, name) = (Rc::clone(self), name.to_owned());
        move |ev, _| script.call(ev, &name)
    }

    fn once_fn(self: &Rc<Self>, name: &str) -> impl FnOnce(&mut EventLoop) + 'static {
        let (script, name) = (Rc::clone(self), name.to_owned());
        move |ev| script.call(ev, &name)
    }

    fn act(self: &Rc<Self>, ev: &mut EventLoop, action: &[String]) {
        let args: Vec<&str> = action.iter().map(String::as_str).collect();
        match args[..] {
            ["repeat", n, ref action @ ..] => {
                for i in 0..n.parse().unwrap() {
                    let action: Vec<String> = action
                        .iter()
                        .map(|w| w.replace('%', &i.to_string()))
                        .collect();
                    self.act(ev, &action);
                }
            }
            ["pair", p] => {
                let (a, b) = UnixStream::pair().expect("socketpair");
                a.set_nonblocking(true).unwrap();
                b.set_nonblocking(true).unwrap();
                let mut ends = self.ends.borrow_mut();
                ends.insert(format!("{p}.a"), a);
                ends.insert(format!("{p}.b"), b);
            }
            ["send", end, text] => self.end(end).write_all(text.as_bytes()).unwrap(),
            ["close", end] => {
                let sock = self.ends.borrow_mut().remove(end).expect("an open end");
                self.closed
                    .borrow_mut()
                    .insert(end.to_owned(), sock.as_raw_fd());
            }
            ["file", name] => {
                // A regular file, which cannot be watched: the scripts file.
                let file = File::open(SCRIPTS).unwrap();
                self.files.borrow_mut().insert(name.to_owned(), file);
            }
            ["reuse", old, new] => {
                // The old end's number now names the new end's socket (the old file is closed).
                let sock = self.ends.borrow_mut().remove(old).unwrap();
                let mut number = OwnedFd::from(sock);
                rustix::io::dup2(&self.ends.borrow()[new], &mut number).unwrap();
                let sock = UnixStream::from(number);
                self.ends.borrow_mut().insert(old.to_owned(), sock);
            }
            ["read", end, n] => {
                let mut buf = vec![0; n.parse().unwrap()];
                let line = match self.end(end).read(&mut buf) {
                    Ok(0) => format!("{end} eof"),
                    Ok(k) => format!("{end} read {}", String::from_utf8_lossy(&buf[..k])),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => format!("{end} again"),
                    Err(_) => format!("{end} error"),
                };
                self.log(line);
            }
            ["fill", end] => {
                let mut sock = self.end(end);
                while sock.write(&[b'x'; 65536]).is_ok() {}
            }
            ["drain", end] => {
                let mut sock = self.end(end);
                let mut buf = [0; 65536];
                while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
            }
            [op @ ("reader" | "writer"), end, cb] => {
                let added = if op == "reader" {
                    ev.add_reader(self.fd(end), self.ready_fn(cb))
                } else {
                    ev.add_writer(self.fd(end), self.ready_fn(cb))
                };
                if let Err(err) = added {
                    self.log(format!("{op} {end} refused {}", refusal(&err)));
                }
            }
            ["unreader", end] => {
                let found = ev.remove_reader(self.fd(end));
                self.log(format!("unreader {end} {found}"));
            }
            ["unwriter", end] => {
                let found = ev.remove_writer(self.fd(end));
                self.log(format!("unwriter {end} {found}"));
            }
            ["soon", cb] => ev.call_soon(self.once_fn(cb)),
            ["threadstop"] => assert!(self.loop_handle(ev).stop()),
            ["threadsafe", cb] => {
                let handle = self.loop_handle(ev);
                let name = cb.to_owned();
                let call = move |ev: &mut EventLoop| {
                    let script = CURRENT.with(|s| s.borrow().clone()).expect("a script");
                    script.call(ev, &name);
                };
                assert!(handle.call_soon_threadsafe(call).is_ok());
            }
            ["later", name, ms, cb] => {
                let delay = Duration::from_millis(ms.parse().unwrap());
                let timer = ev.call_later(delay, self.once_fn(cb));
                self.timers.borrow_mut().insert(name.to_owned(), timer);
            }
            ["at", name, ms, cb] => {
                let ms: i64 = ms.parse().unwrap();
                let offset = Duration::from_millis(ms.unsigned_abs());
                let when = if ms < 0 {
                    self.start - offset
                } else {
                    self.start + offset
                };
                let timer = ev.call_at(when, self.once_fn(cb));
                self.timers.borrow_mut().insert(name.to_owned(), timer);
            }
            ["cancel", name, ref rest @ ..] => {
                let timer = self.timers.borrow()[name];
                let said = ev.cancel(timer);
                if rest == ["log"] {
                    self.log(format!("cancel {name} {said}"));
                }
            }
            ["stop"] => ev.stop(),
            ["step"] => {
                self.log("-- step".to_owned());
                ev.stop();
                ev.run().expect("one iteration");
            }
            ["run"] => {
                self.log("-- run".to_owned());
                ev.run().expect("a run");
            }
            ["rerun"] => {
                let line = match ev.run() {
                    Ok(()) => "run ran",
                    Err(_) => "run refused",
                };
                self.log(line.to_owned());
            }
            ["sleep", ms] => std::thread::sleep(Duration::from_millis(ms.parse().unwrap())),
            _ => panic!("unknown action {action:?}"),
        }
    }
}

/// The trace of `case` on fdwatch's `EventLoop`.
fn run_on_fdwatch(case: &Case) -> Vec<String> {
    let script = Rc::new(Script::new());
    CURRENT.with(|s| *s.borrow_mut() = Some(Rc::clone(&script)));
    let mut ev = EventLoop::new().unwrap();
    for line in &case.lines {
        if let Some(def) = line.strip_prefix("def ") {
            let (name, body) = def.split_once('=').expect("def NAME = ACTIONS");
            script
                .defs
                .borrow_mut()
                .insert(name.trim().to_owned(), actions(body));
        } else {
            for action in actions(line) {
                script.act(&mut ev, &action);
            }
        }
    }
    // The callbacks hold the script: drop them before the sockets.
    drop(ev);
    CURRENT.with(|s| s.borrow_mut().take());
    script.handle.take();
    script.trace.take()
}

/// CPython 3.13, or `None` if this machine has none. `TULIP_PYTHON` is taken as given; the
/// other candidates must run and say they are 3.13 (a pyenv shim may name a version that is
/// not active).
fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TULIP_PYTHON") {
        return Some(path.into());
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("python3.13"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut pyenv = Vec::new();
    let roots = [
        std::env::var_os("PYENV_ROOT").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")),
    ];
    for root in roots.into_iter().flatten() {
        if let Ok(versions) = std::fs::read_dir(root.join("versions")) {
            let mut found: Vec<PathBuf> = versions
                .flatten()
                .filter(|v| v.file_name().to_string_lossy().starts_with("3.13"))
                .map(|v| v.path().join("bin/python3"))
                .collect();
            found.sort();
            pyenv.extend(found.into_iter().rev());
        }
    }
    on_path.into_iter().chain(pyenv).find(|p| is_python_3_13(p))
}

fn is_python_3_13(path: &Path) -> bool {
    path.is_file()
        && Command::new(path)
            .args([
                "-c",
                "import sys; sys.exit(sys.version_info[:2] != (3, 13))",
            ])
            .output()
            .is_ok_and(|out| out.status.success())
}

/// The traces of every case on asyncio, by case name.
fn run_on_asyncio(python: &Path) -> HashMap<String, Vec<String>> {
    let out = Command::new(python)
        .arg(DRIVER)
        .arg(SCRIPTS)
        .output()
        .expect("run the asyncio driver");
    assert!(
        out.status.success(),
        "{} {DRIVER} failed: {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut traces: HashMap<String, Vec<String>> = HashMap::new();
    let mut current = None;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if let Some(name) = line.strip_prefix("## ") {
            current = Some(name.to_owned());
            traces.insert(name.to_owned(), Vec::new());
        } else if let Some(name) = &current {
            traces.get_mut(name).unwrap().push(line.to_owned());
        }
    }
    traces
}

/// The crate doc's section "Where the loop differs from asyncio", its lines joined by spaces.
fn declared_differences() -> String {
    let doc = std::fs::read_to_string(LIB).expect("the crate's lib.rs");
    let lines = doc
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim);
    let section = lines
        .skip_while(|l| *l != "# Where the loop differs from asyncio")
        .skip(1)
        .take_while(|l| !l.starts_with("# "));
    section.collect::<Vec<_>>().join(" ")
}

#[test]
fn event_loop_traces_match_asyncio() {
    let Some(python) = python() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no Python 3.13 found (set TULIP_PYTHON)"
        );
        println!("skipped: no Python 3.13 found (set TULIP_PYTHON to run the differential test)");
        return;
    };
    let expected = run_on_asyncio(&python);
    let declared = declared_differences();
    let cases = cases();
    assert!(cases.len() >= 10, "the scripts file has its cases");
    let mut failures = Vec::new();
    for case in &cases {
        let asyncio = expected
            .get(&case.name)
            .unwrap_or_else(|| panic!("asyncio gave no trace for {:?}", case.name));
        let ours = run_on_fdwatch(case);
        let Some(differs) = &case.differs else {
            if &ours != asyncio {
                failures.push(format!(
                    "{}:\n  asyncio: {}\n  fdwatch: {}",
                    case.name,
                    show(asyncio),
                    show(&ours)
                ));
            }
            continue;
        };
        // A declared difference: each loop gives exactly its expected trace, the two differ,
        // and the crate doc lists the difference.
        let (false, false, Some(want_fdwatch)) = (
            differs.doc.is_empty(),
            differs.asyncio.is_empty(),
            &differs.fdwatch,
        ) else {
            panic!(
                "{}: a difference names its doc item and expects both traces",
                case.name
            );
        };
        assert!(
            differs.asyncio.iter().any(|t| t != want_fdwatch),
            "{}: no difference",
            case.name
        );
        if !declared.contains(&differs.doc) {
            failures.push(format!(
                "{}: the crate doc's differences do not say {:?}",
                case.name, differs.doc
            ));
            continue;
        }
        if !differs.asyncio.contains(asyncio) || &ours != want_fdwatch {
            let wanted: Vec<String> = differs.asyncio.iter().map(|t| show(t)).collect();
            failures.push(format!(
                "{} (declared: {}):\n  asyncio: {}\n   wanted: {}\n  fdwatch: {}\n   wanted: {}",
                case.name,
                differs.doc,
                show(asyncio),
                wanted.join("\n       or: "),
                show(&ours),
                show(want_fdwatch)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scripts differ from asyncio ({}):\n{}",
        failures.len(),
        cases.len(),
        python.display(),
        failures.join("\n")
    );
}
