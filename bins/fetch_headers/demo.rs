//! `--demo`: a few loopback servers from crates/stub, one per behaviour worth seeing (fast, slow,
//! redirecting, missing page, failing server), so that a fresh machine with no network shows
//! what the tool does. They live as long as the [`Demo`] and stop when it is dropped.

use std::io;
use std::time::Duration;

use headers::Target;
use stub::{Behavior, Stub};

/// How long the slow demo server waits before answering: long enough that the summary's total
/// time shows the others did not wait for it.
const SLOW: Duration = Duration::from_millis(300);

/// The running demo servers, each with the path its target is given (the stubs ignore paths;
/// they only make the output readable once the ports are redacted).
#[derive(Debug)]
pub struct Demo {
    servers: Vec<(&'static str, Stub)>,
}

impl Demo {
    /// Starts the servers on free loopback ports.
    pub fn start() -> io::Result<Demo> {
        let servers = vec![
            ("fast", Stub::start(Behavior::Ok)?),
            ("slow", Stub::start(Behavior::Slow(SLOW))?),
            ("moved", Stub::start(Behavior::Redirect("/fast".into()))?),
            ("missing", Stub::start(Behavior::Status(404))?),
            ("broken", Stub::start(Behavior::Status(500))?),
        ];
        Ok(Demo { servers })
    }

    /// One target per server, `http://127.0.0.1:PORT/NAME`.
    pub fn targets(&self) -> Vec<Target> {
        self.servers
            .iter()
            .map(|(name, stub)| {
                let url = format!("http://{}/{name}", stub.target());
                Target::parse(&url).expect("a loopback URL is a valid target")
            })
            .collect()
    }

    /// What the demo does, for stderr before it starts.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.servers.iter().map(|(name, _)| *name).collect();
        format!(
            "demo: {} loopback servers ({}); the slow one answers after {} ms; all are fetched at once\n",
            names.len(),
            names.join(", "),
            SLOW.as_millis()
        )
    }
}
