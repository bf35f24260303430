//! A log-linear histogram of `u64` values made of atomic counters: recording is one bucket
//! increment, a sum and a maximum, with no allocation and no lock, so it can sit on a lock's hot
//! path. Percentiles are read from the buckets with a relative error below 1/16 (each power of
//! two is split into 16 equal buckets, and a percentile is reported as the highest value of its
//! bucket, never above the exact maximum).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Each power of two is split into `2^SUB_BITS` linear buckets.
const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Values at or above `2^MAX_EXP` are counted in the last bucket (in clock ticks of a few GHz,
/// that is more than a day).
const MAX_EXP: u32 = 48;
const BUCKETS: usize = (MAX_EXP - SUB_BITS + 1) as usize * SUB;

/// A histogram of `u64` values with log-linear buckets and atomic counters.
///
/// Values below 16 are counted exactly; above that each power of two `[2^e, 2^(e+1))` is split
/// into 16 buckets of equal width, so [`percentile`](Histogram::percentile) is within 1/16 above
/// the true value. The [`max`](Histogram::max) and [`sum`](Histogram::sum) are exact.
///
/// ```
/// use tulip_lockstat::Histogram;
///
/// let h = Histogram::new();
/// for v in 1..=1000 {
///     h.record(v);
/// }
/// assert_eq!(h.count(), 1000);
/// assert_eq!(h.max(), 1000);
/// let p50 = h.percentile(0.5);
/// assert!((500..=531).contains(&p50), "p50 {p50}");
/// ```
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Histogram {
    /// An empty histogram (about 6 KiB of counters, allocated once).
    pub fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Records one value. Safe to call from many threads at once.
    #[inline]
    pub fn record(&self, value: u64) {
        self.record_weighted(value, 1);
    }

    /// Records a value that stands for `weight` equal values (a sample of one in `weight`):
    /// it counts `weight` times in the percentiles, the count and the sum.
    #[inline]
    pub fn record_weighted(&self, value: u64, weight: u64) {
        self.buckets[index(value)].fetch_add(weight, Relaxed);
        self.sum.fetch_add(value.wrapping_mul(weight), Relaxed);
        if value > self.max.load(Relaxed) {
            self.max.fetch_max(value, Relaxed);
        }
    }

    /// Records one value with plain loads and stores instead of read-modify-write instructions.
    /// Only correct when the caller guarantees that no other thread records at the same time
    /// (here: while holding an exclusive lock, whose acquire/release ordering publishes the
    /// previous holder's counts). It saves a few ns per counter on x86, where every atomic
    /// read-modify-write is a full barrier.
    #[inline]
    pub(crate) fn record_exclusive(&self, value: u64, weight: u64) {
        let bucket = &self.buckets[index(value)];
        bucket.store(bucket.load(Relaxed) + weight, Relaxed);
        self.sum.store(
            self.sum
                .load(Relaxed)
                .wrapping_add(value.wrapping_mul(weight)),
            Relaxed,
        );
        if value > self.max.load(Relaxed) {
            self.max.store(value, Relaxed);
        }
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The largest value recorded (0 if none).
    pub fn max(&self) -> u64 {
        self.max.load(Relaxed)
    }

    /// The sum of all values recorded (wrapping on overflow).
    pub fn sum(&self) -> u64 {
        self.sum.load(Relaxed)
    }

    /// The value below which a fraction `q` (0.0..=1.0) of the recorded values fall, rounded up
    /// to the highest value of its bucket but never above [`max`](Histogram::max); 0 if nothing
    /// was recorded.
    pub fn percentile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        // The rank of the value we want, 1-based: p50 of 10 values is the 5th.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (low, width) = bounds(i);
                return (low + width - 1).min(self.max());
            }
        }
        self.max()
    }

    /// Forgets everything recorded.
    pub fn reset(&self) {
        for b in self.buckets.iter() {
            b.store(0, Relaxed);
        }
        self.sum.store(0, Relaxed);
        self.max.store(0, Relaxed);
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("p50", &self.percentile(0.5))
            .field("p99", &self.percentile(0.99))
            .field("max", &self.max())
            .finish()
    }
}

/// The bucket a value falls in.
#[inline]
fn index(value: u64) -> usize {
    if value < SUB as u64 {
        return value as usize;
    }
    let value = value.min((1 << MAX_EXP) - 1);
    let exp = 63 - value.leading_zeros();
    let mantissa = (value >> (exp - SUB_BITS)) as usize & (SUB - 1);
    (exp - SUB_BITS + 1) as usize * SUB + mantissa
}

/// The lowest value of bucket `i` and its width.
fn bounds(i: usize) -> (u64, u64) {
    if i < SUB {
        return (i as u64, 1);
    }
    let exp = (i / SUB) as u32 + SUB_BITS - 1;
    let mantissa = (i % SUB) as u64;
    let width = 1u64 << (exp - SUB_BITS);
    ((1u64 << exp) | (mantissa * width), width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_their_values() {
        // Every bucket starts where the previous one ended, and index() maps both ends of a
        // bucket back to it.
        let mut next = 0;
        for i in 0..BUCKETS {
            let (low, width) = bounds(i);
            assert_eq!(low, next, "bucket {i}");
            assert_eq!(index(low), i);
            assert_eq!(index(low + width - 1), i);
            next = low + width;
        }
        assert_eq!(next, 1 << MAX_EXP);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn small_values_are_exact() {
        let h = Histogram::new();
        for v in [3, 3, 3, 7] {
            h.record(v);
        }
        assert_eq!(h.percentile(0.5), 3);
        assert_eq!(h.percentile(0.75), 3);
        assert_eq!(h.percentile(1.0), 7);
        assert_eq!(h.percentile(0.0), 3);
        assert_eq!(h.sum(), 16);
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn percentiles_are_within_the_bucket_error() {
        let h = Histogram::new();
        // 1..=100_000: the true p50 is 50_000, p99 is 99_000.
        for v in 1..=100_000u64 {
            h.record(v);
        }
        for (q, want) in [(0.5, 50_000f64), (0.99, 99_000.0), (0.9, 90_000.0)] {
            let got = h.percentile(q) as f64;
            assert!(
                got >= want && (got - want) / want < 1.0 / 16.0,
                "q {q}: {got} vs {want}"
            );
        }
        assert_eq!(h.max(), 100_000);
        assert_eq!(h.percentile(1.0), 100_000, "clamped to the exact max");
    }

    #[test]
    fn skewed_distribution_p99_sees_the_tail() {
        let h = Histogram::new();
        for _ in 0..980 {
            h.record(100);
        }
        for _ in 0..20 {
            h.record(1_000_000);
        }
        assert!((100..=106).contains(&h.percentile(0.5)));
        assert_eq!(
            h.percentile(0.98),
            103,
            "the 980th value is still 100, in bucket 96..=103"
        );
        assert_eq!(
            h.percentile(0.99),
            1_000_000,
            "the tail, clamped to the exact max"
        );
    }

    #[test]
    fn exclusive_recording_matches_atomic_recording() {
        let (a, b) = (Histogram::new(), Histogram::new());
        for v in [0, 1, 17, 1 << 20, 5_000_000_000, u64::MAX / 4] {
            a.record(v);
            b.record_exclusive(v, 1);
        }
        assert_eq!(a.count(), b.count());
        assert_eq!(a.max(), b.max());
        assert_eq!(a.sum(), b.sum());
        assert_eq!(a.percentile(0.5), b.percentile(0.5));
    }

    #[test]
    fn empty_and_reset() {
        let h = Histogram::new();
        assert_eq!((h.percentile(0.5), h.max(), h.count()), (0, 0, 0));
        h.record(42);
        h.reset();
        assert_eq!(
            (h.percentile(0.99), h.max(), h.count(), h.sum()),
            (0, 0, 0, 0)
        );
    }
}
