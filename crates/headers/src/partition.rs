//! Splitting one target list among N workers by host: [`Partition`]. Every worker reads the
//! same list and keeps its own part, so together they fetch each target exactly once, and all
//! of one host's targets land on one worker (its per-host cap and pacing stay local).

use std::fmt;
use std::net::IpAddr;

use siphasher::sip::SipHasher13;

use crate::target::Target;

/// The part of a target list that worker `index` of `count` keeps: the targets whose host
/// hashes to `index`. The hash is SipHash-1-3 keyed with the seed, over the host's bytes
/// (lowercased, one trailing dot dropped, an IP address in its canonical form), so it is the
/// same on every machine, every Rust version and every run: a list split on ten machines is
/// split the same way on each.
///
/// ```
/// use tulip_headers::{Partition, Target};
/// let targets: Vec<Target> = ["a.test", "b.test/x", "B.test/y", "10.0.0.1:8080"]
///     .iter()
///     .map(|t| t.parse().unwrap())
///     .collect();
/// let parts: Vec<Partition> = (0..3).map(|i| Partition::new(i, 3).unwrap()).collect();
/// for target in &targets {
///     // Exactly one worker keeps each target...
///     assert_eq!(parts.iter().filter(|p| p.keeps(target)).count(), 1);
/// }
/// // ... and the targets of one host land together.
/// assert_eq!(parts[0].shard_of(&targets[1]), parts[0].shard_of(&targets[2]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    index: u64,
    count: u64,
    seed: u64,
}

/// Why a [`Partition`] cannot be made: the index is not below the count, or the count is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionError {
    /// The index asked for.
    pub index: u64,
    /// The count asked for.
    pub count: u64,
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 0 {
            f.write_str("the number of shards must be at least 1")
        } else {
            write!(
                f,
                "shard {} does not exist: shards are numbered 0 to {}",
                self.index,
                self.count - 1
            )
        }
    }
}

impl std::error::Error for PartitionError {}

/// The second SipHash key: fixed, so that the seed alone chooses the split.
const KEY1: u64 = u64::from_le_bytes(*b"tulip-sh");

impl Partition {
    /// Shard `index` (0-based) of `count`, with seed 0.
    pub fn new(index: u64, count: u64) -> Result<Partition, PartitionError> {
        if index >= count {
            return Err(PartitionError { index, count });
        }
        Ok(Partition {
            index,
            count,
            seed: 0,
        })
    }

    /// Splits with this seed instead: another seed, another (as even) split. Every worker of a
    /// run must use the same.
    pub fn seed(mut self, seed: u64) -> Partition {
        self.seed = seed;
        self
    }

    /// This worker's shard.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of shards.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether this worker fetches `target`.
    pub fn keeps(&self, target: &Target) -> bool {
        self.shard_of(target) == self.index
    }

    /// The shard `target` belongs to (below [`Partition::count`]).
    pub fn shard_of(&self, target: &Target) -> u64 {
        self.shard_of_host(target.host())
    }

    /// The shard of a host name or IP address (as [`Target::host`] gives it).
    pub fn shard_of_host(&self, host: &str) -> u64 {
        let hasher = SipHasher13::new_with_keys(self.seed, KEY1);
        let hash = match host.parse::<IpAddr>() {
            Ok(ip) => hasher.hash(ip.to_string().as_bytes()),
            Err(_) => {
                let name = host.strip_suffix('.').unwrap_or(host);
                hasher.hash(name.to_ascii_lowercase().as_bytes())
            }
        };
        // The high bits of hash * count: even across shards, as modulo is, without division.
        ((u128::from(hash) * u128::from(self.count)) >> 64) as u64
    }
}
