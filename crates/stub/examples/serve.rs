//! Serves one stub behaviour on 127.0.0.1 until killed (or for the given number of seconds) and
//! prints the address, for trying the fetcher by hand or benchmarking it against a server in
//! another process.
//!
//! ```text
//! cargo run --release -p tulip-stub --example serve -- slow 200      # 200 OK after 200 ms
//! cargo run --release -p tulip-stub --example serve -- ok            # 200 OK at once
//! cargo run --release -p tulip-stub --example serve -- drip 1000 30  # a byte a second, for 30 s
//! ```

use std::time::Duration;

use tulip_stub::{Behavior, Stub};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ms = |i: usize| Duration::from_millis(args.get(i).map_or(200, |a| a.parse().expect("ms")));
    let (behavior, secs_at) = match args.first().map(String::as_str).unwrap_or("ok") {
        "ok" => (Behavior::Ok, 1),
        "slow" => (Behavior::Slow(ms(1)), 2),
        "drip" => (Behavior::Drip(ms(1)), 2),
        "redirect" => (Behavior::Redirect("http://example.com/".into()), 1),
        "404" => (Behavior::Status(404), 1),
        "500" => (Behavior::Status(500), 1),
        "silent" => (Behavior::Silent, 1),
        "ssh" => (Behavior::SshBanner, 1),
        other => {
            eprintln!(
                "unknown behaviour {other:?}: ok, slow MS, drip MS, redirect, 404, 500, silent, ssh"
            );
            std::process::exit(2);
        }
    };
    let server = Stub::start(behavior.clone()).expect("start the stub");
    println!("{} {behavior:?}", server.addr());
    match args.get(secs_at) {
        Some(secs) => std::thread::sleep(Duration::from_secs(secs.parse().expect("seconds"))),
        None => loop {
            std::thread::park();
        },
    }
}
