//! The one place that makes binary output the same on every machine: each test builds its command
//! with [`cmd`] and asserts with [`snapshot!`], which stores snapshots in the top-level
//! `snapshots/` directory and applies the shared redaction filters (times, ports, paths).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A command for one of the workspace's binaries, with a cleared, fixed environment so that no
/// setting of the developer's machine (colours, locale, terminal width) changes what it prints.
pub fn cmd(bin: &str) -> Command {
    let path = match bin {
        "socketpair-reader" => env!("CARGO_BIN_EXE_socketpair-reader"),
        "fetch-headers" => env!("CARGO_BIN_EXE_fetch-headers"),
        "prodcons" => env!("CARGO_BIN_EXE_prodcons"),
        "lock-demo" => env!("CARGO_BIN_EXE_lock-demo"),
        "spinner" => env!("CARGO_BIN_EXE_spinner"),
        "taxi" => env!("CARGO_BIN_EXE_taxi"),
        other => panic!("unknown binary {other}"),
    };
    let mut cmd = Command::new(path);
    // No PATH either: the binaries need none, and a snapshot records the environment it ran in.
    cmd.env_clear()
        .env("LANG", "C")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// The shared redaction filters, in the order they are applied. Tool-specific filters are added
/// with [`settings_with`].
pub const FILTERS: &[(&str, &str)] = &[
    // Paths under the temporary directory and the checkout.
    (r"(/tmp|/var/folders)/[^\s:'\x22]+", "[TMP]"),
    // Loopback addresses with a port: the port is chosen by the OS.
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    (r"\[::1\]:\d+", "[::1]:[PORT]"),
    (r"localhost:\d+", "localhost:[PORT]"),
    // Certificates made at run time: their dates and fingerprints.
    (r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", "[DATE]"),
    (r"\b[0-9a-f]{64}\b", "[SHA256]"),
    // Durations: 1.25s, 3 ms, 12.5µs, 40ns.
    (r"\b\d+(\.\d+)?\s?(ns|µs|us|ms|s)\b", "[TIME]"),
];

/// insta settings with the snapshot path set to `snapshots/` and the shared filters.
pub fn settings() -> insta::Settings {
    settings_with(&[])
}

/// Like [`settings`], with `extra` filters applied before the shared ones (so a tool can redact a
/// rate such as `123456 round trips/s` before the shared time filter sees its digits).
pub fn settings_with(extra: &[(&str, &str)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(true);
    settings.set_omit_expression(true);
    let root = env!("CARGO_MANIFEST_DIR");
    settings.add_filter(&regex_escape(root), "[ROOT]");
    for (re, with) in extra.iter().chain(FILTERS) {
        settings.add_filter(re, *with);
    }
    settings
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// Snapshots a command's exit code, stdout and stderr under an explicit name, with the shared
/// settings (or with extra filters: `snapshot!("name", cmd, &[(regex, replacement)])`).
macro_rules! snapshot {
    ($name:expr, $cmd:expr) => {
        snapshot!($name, $cmd, &[])
    };
    ($name:expr, $cmd:expr, $extra:expr) => {{
        let settings = $crate::fixture::settings_with($extra);
        settings.bind(|| insta_cmd::assert_cmd_snapshot!($name, $cmd));
    }};
}

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory named after this process and `name`.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("tulip-tests-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real nginx for the interop tests (crates/stub's launcher: a temporary directory, free
/// ports, stopped when dropped), to add sites to and start. `None`, with a message, only where
/// nginx is not installed and `CI` is not set: `.ci/run` installs it, so under CI a missing
/// nginx fails the test.
pub fn nginx() -> Option<stub::NginxBuilder> {
    let Some(binary) = stub::Nginx::find() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is not installed, and CI is set: .ci/run should have installed nginx-light"
        );
        eprintln!(
            "skipping an nginx interop test: nginx is not installed (apt-get install nginx-light)"
        );
        return None;
    };
    Some(stub::Nginx::builder(binary))
}

/// Runs `cmd` with its stdout a pipe that is closed after the first line (`cmd | head -1`),
/// and returns that line, the exit code and stderr. The command must print far more than a
/// pipe holds, so that it writes after the close whatever the timing.
pub fn head_1(cmd: &mut Command) -> (String, Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (first, out.status.code(), stderr)
}

/// Runs `cmd` with its stdout on `/dev/full` (every write fails with ENOSPC), and returns the
/// exit code and stderr.
pub fn stdout_full(cmd: &mut Command) -> (Option<i32>, String) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = cmd.stdout(full).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr)
}

/// Runs `cmd` with its stdout on `/dev/full` and asserts that it fails (status 1) with the one
/// line `{prefix}: cannot write to stdout: No space left on device (os error 28)`.
pub fn assert_full_stdout_is_an_error(cmd: &mut Command, prefix: &str) {
    let what = format!("{cmd:?}");
    let (code, stderr) = stdout_full(cmd);
    let expected =
        format!("{prefix}: cannot write to stdout: No space left on device (os error 28)\n");
    assert_eq!(
        (code, stderr.as_str()),
        (Some(1), expected.as_str()),
        "{what}"
    );
}

/// Runs `cmd` with its stdout on `/dev/full` and its stderr a pipe no one reads any more (its
/// reading end closed before the start), so that the error about stdout cannot be written
/// either; returns the exit code.
pub fn stdout_full_stderr_closed(cmd: &mut Command) -> Option<i32> {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = cmd.stdout(full).stderr(writer).status().unwrap();
    status.code()
}

/// Reads a child's pipe (its `stdout` or `stderr`, taken) to the end.
pub fn read_all(pipe: Option<impl std::io::Read>) -> String {
    let mut text = String::new();
    pipe.expect("the pipe was set up and not taken yet")
        .read_to_string(&mut text)
        .unwrap();
    text
}
