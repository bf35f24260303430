//! The classic asyncio `wget(host)` example, on this crate: fetches the heads of the hosts given (all at once)
//! and prints each line as `HOST header > LINE`, one host's lines together, hosts in the order
//! they answer. With no hosts, it starts a loopback stub server and fetches that.
//!
//! ```text
//! cargo run -p tulip-headers --example wget -- www.sina.com.cn www.sohu.com www.163.com
//! cargo run -p tulip-headers --example wget
//! ```

use futures_lite::StreamExt;
use tulip_headers::{Many, Options, Target};

fn main() {
    let mut hosts: Vec<String> = std::env::args().skip(1).collect();
    // Kept alive until the end when used.
    let _server = if hosts.is_empty() {
        let server = stub::Stub::start(stub::Behavior::Ok).expect("start a stub server");
        hosts.push(server.target());
        Some(server)
    } else {
        None
    };
    let targets: Vec<Target> = hosts
        .iter()
        .map(|h| {
            h.parse().unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(2)
            })
        })
        .collect();

    smol::block_on(async {
        // Fetch all of them at once; results come as they complete.
        let all = targets.len();
        let mut outcomes = Many::new(&Options::default())
            .concurrency(all)
            .fetch(targets);
        while let Some(outcome) = outcomes.next().await {
            let host = outcome.target.input();
            match outcome.result {
                Ok(response) => {
                    for line in &response.head.lines {
                        println!("{host} header > {line}");
                    }
                }
                Err(e) => eprintln!("{host} error > {e}"),
            }
        }
    });
}
