//! Running out of file descriptors must not turn into a burst of errors. This test lowers the
//! process's open-file limit, so it is its own test binary (its own process) with one test.

use std::time::Duration;

use futures_lite::StreamExt;
use stub::{Behavior, Stub};
use tulip_headers::{Options, Target, fetch_head, fetch_many};

#[cfg(unix)]
#[test]
fn waits_for_a_free_descriptor_instead_of_failing() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    let server = Stub::start(Behavior::Ok).unwrap();
    let target: Target = server.target().parse().unwrap();
    // Warm up: the executor and reactor open their descriptors now, not while we hog them all.
    let r = smol::block_on(fetch_head(&target, &Options::default())).unwrap();
    assert_eq!(r.head.status, 200);

    // A low limit that cannot be raised again (the hard one goes down too).
    const LIMIT: u64 = 128;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(LIMIT),
            maximum: Some(LIMIT),
        },
    )
    .unwrap();
    assert_eq!(getrlimit(Resource::Nofile).current, Some(LIMIT));

    // 1. Every descriptor taken: a fetch waits rather than failing, and succeeds once some free.
    let mut hog = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hog.push(f);
    }
    let task = smol::spawn({
        let target = target.clone();
        async move { fetch_head(&target, &Options::default()).await }
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !task.is_finished(),
        "a fetch without a descriptor must wait"
    );
    drop(hog);
    let r = smol::block_on(task).unwrap();
    assert_eq!(r.head.status, 200);

    // 2. Concurrency far above the limit, with the server in the same process using descriptors
    // too: every target still succeeds.
    let targets: Vec<Target> = (0..600).map(|_| target.clone()).collect();
    let stream = fetch_many(targets, &Options::default(), 5000);
    assert!(stream.concurrency() < LIMIT as usize);
    let results: Vec<_> = smol::block_on(stream.collect());
    assert_eq!(results.len(), 600);
    let failed: Vec<_> = results.iter().filter(|f| f.result.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} failed, first: {:?}",
        failed.len(),
        failed[0]
    );
}
