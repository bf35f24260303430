//! The one place that makes binary output the same on every machine: each test builds its command
//! with [`cmd`] and asserts with [`snapshot!`], which stores snapshots in the top-level
//! `snapshots/` directory and applies the shared redaction filters (times, ports, paths).

use std::path::Path;
use std::process::Command;

/// A command for one of the workspace's binaries, with a cleared, fixed environment so that no
/// setting of the developer's machine (colours, locale, terminal width) changes what it prints.
pub fn cmd(bin: &str) -> Command {
    let path = match bin {
        "socketpair-reader" => env!("CARGO_BIN_EXE_socketpair-reader"),
        "fetch-headers" => env!("CARGO_BIN_EXE_fetch-headers"),
        "prodcons" => env!("CARGO_BIN_EXE_prodcons"),
        "lock-demo" => env!("CARGO_BIN_EXE_lock-demo"),
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
