//! fdwatch's `EventLoop` against asyncio itself: the scripts of `tests/asyncio/scripts.txt`
//! (watches, sends, peer closes, `call_soon`, timers, `stop`, one iteration at a time) run on
//! CPython 3.13's `SelectorEventLoop` through `tests/asyncio/driver.py` and here on
//! `EventLoop`, and the two traces must be equal line for line (`scripts.txt` describes the
//! script language).
//!
//! Python is found through `TULIP_PYTHON`, then `python3.13` on `PATH`, then pyenv's 3.13. Without
//! one the test prints why and passes, except under `CI=true`, where it fails.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use tulip_fdwatch::{EventLoop, TimerHandle};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/asyncio/scripts.txt");
const DRIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/asyncio/driver.py");

/// One case of the scripts file.
struct Case {
    name: String,
    lines: Vec<String>,
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
            });
            continue;
        }
        let line = raw.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            cases
                .last_mut()
                .expect("an action before the first case")
                .lines
                .push(line.to_owned());
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

/// One script being run on an `EventLoop`.
#[derive(Default)]
struct Script {
    ends: RefCell<HashMap<String, UnixStream>>,
    defs: RefCell<HashMap<String, Vec<Vec<String>>>>,
    timers: RefCell<HashMap<String, TimerHandle>>,
    trace: RefCell<Vec<String>>,
}

impl Script {
    fn log(&self, line: String) {
        self.trace.borrow_mut().push(line);
    }

    fn fd(&self, end: &str) -> i32 {
        self.ends.borrow()[end].as_raw_fd()
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
            ["pair", p] => {
                let (a, b) = UnixStream::pair().expect("socketpair");
                a.set_nonblocking(true).unwrap();
                b.set_nonblocking(true).unwrap();
                let mut ends = self.ends.borrow_mut();
                ends.insert(format!("{p}.a"), a);
                ends.insert(format!("{p}.b"), b);
            }
            ["send", end, text] => self.end(end).write_all(text.as_bytes()).unwrap(),
            ["close", end] => drop(self.ends.borrow_mut().remove(end)),
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
            ["reader", end, cb] => ev.add_reader(self.fd(end), self.ready_fn(cb)).unwrap(),
            ["writer", end, cb] => ev.add_writer(self.fd(end), self.ready_fn(cb)).unwrap(),
            ["unreader", end] => {
                let found = ev.remove_reader(self.fd(end));
                self.log(format!("unreader {end} {found}"));
            }
            ["unwriter", end] => {
                let found = ev.remove_writer(self.fd(end));
                self.log(format!("unwriter {end} {found}"));
            }
            ["soon", cb] => ev.call_soon(self.once_fn(cb)),
            ["later", name, ms, cb] => {
                let delay = Duration::from_millis(ms.parse().unwrap());
                let timer = ev.call_later(delay, self.once_fn(cb));
                self.timers.borrow_mut().insert(name.to_owned(), timer);
            }
            ["cancel", name] => {
                let timer = self.timers.borrow()[name];
                ev.cancel(timer);
            }
            ["stop"] => ev.stop(),
            ["step"] => {
                self.log("-- step".to_owned());
                ev.stop();
                ev.run().expect("one iteration");
            }
            ["sleep", ms] => std::thread::sleep(Duration::from_millis(ms.parse().unwrap())),
            _ => panic!("unknown action {action:?}"),
        }
    }
}

/// The trace of `case` on fdwatch's `EventLoop`.
fn run_on_fdwatch(case: &Case) -> Vec<String> {
    let script = Rc::new(Script::default());
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
    let cases = cases();
    assert!(cases.len() >= 10, "the scripts file has its cases");
    let mut failures = Vec::new();
    for case in &cases {
        let asyncio = expected
            .get(&case.name)
            .unwrap_or_else(|| panic!("asyncio gave no trace for {:?}", case.name));
        let ours = run_on_fdwatch(case);
        if &ours != asyncio {
            failures.push(format!(
                "{}:\n  asyncio: {}\n  fdwatch: {}",
                case.name,
                asyncio.join(" | "),
                ours.join(" | ")
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
