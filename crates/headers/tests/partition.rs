//! Splitting a target list among workers (`Partition`): the shards of any list partition it
//! exactly, one host's targets all land in one shard, and the split is the same everywhere
//! (fixed values, which a change of hash or of its input would break).

use proptest::prelude::*;
use tulip_headers::{Partition, Target};

/// A target from a host (one of a few, so hosts repeat), a case mix, a port and a path.
fn target() -> impl Strategy<Value = (Target, String)> {
    (
        0usize..40,
        any::<bool>(),
        prop::sample::select(vec![None, Some(80u16), Some(8080), Some(443)]),
        "[a-z0-9/]{0,6}",
        0usize..3,
    )
        .prop_map(|(host, upper, port, path, kind)| {
            let host = match kind {
                0 => format!("host{host}.example"),
                1 => format!("10.0.{}.{}", host / 10, host % 10),
                _ => format!("[2001:db8::{host:x}]"),
            };
            let shown = if upper {
                host.to_uppercase()
            } else {
                host.clone()
            };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let text = format!("http://{shown}{port}/{path}");
            (text.parse().unwrap(), host)
        })
}

proptest! {
    #[test]
    fn shards_partition_any_list_exactly_and_by_host(
        list in prop::collection::vec(target(), 0..200),
        count in 1u64..12,
        seed in any::<u64>(),
    ) {
        let parts: Vec<Partition> =
            (0..count).map(|i| Partition::new(i, count).unwrap().seed(seed)).collect();
        let mut kept = vec![0usize; list.len()];
        let mut shard_of_host = std::collections::HashMap::new();
        for part in &parts {
            for (i, (target, host)) in list.iter().enumerate() {
                if part.keeps(target) {
                    kept[i] += 1;
                    // Every target of a host in the same shard, whatever its case or port.
                    let first = *shard_of_host.entry(host.clone()).or_insert(part.index());
                    prop_assert_eq!(first, part.index(), "{}", target);
                }
            }
        }
        // Each target kept by exactly one shard: together they fetch it once.
        prop_assert!(kept.iter().all(|&k| k == 1), "{:?}", kept);
    }
}

/// The same split on every machine and Rust version: fixed answers for fixed inputs (checked
/// once against an independent SipHash-1-3 written in Python from the paper).
#[test]
fn the_split_is_stable() {
    let shards = |seed: u64| -> Vec<u64> {
        let part = Partition::new(0, 7).unwrap().seed(seed);
        [
            "example.com",
            "EXAMPLE.com.",
            "10.0.0.1",
            "2001:db8::1",
            "a.test",
            "b.test",
        ]
        .iter()
        .map(|h| part.shard_of_host(h))
        .collect()
    };
    assert_eq!(shards(0), STABLE_SEED_0);
    assert_eq!(shards(42), STABLE_SEED_42);
    // A name and its spelling with a capital and a trailing dot are one host.
    assert_eq!(shards(0)[0], shards(0)[1]);
}

const STABLE_SEED_0: [u64; 6] = [0, 0, 2, 1, 4, 6];
const STABLE_SEED_42: [u64; 6] = [1, 1, 2, 3, 3, 2];

#[test]
fn bad_shards_are_refused_with_a_reason() {
    let e = Partition::new(3, 3).unwrap_err();
    assert_eq!(
        e.to_string(),
        "shard 3 does not exist: shards are numbered 0 to 2"
    );
    let e = Partition::new(0, 0).unwrap_err();
    assert_eq!(e.to_string(), "the number of shards must be at least 1");
}
