//! A latency histogram in the HDR style: log-linear buckets, each power of two split into 64
//! equal steps, so any value is kept to within 1/64 (1.6 %) of itself, from a nanosecond to
//! centuries, in a fixed 30 KB array. Recording is an index computation and an increment;
//! histograms of several clients merge by adding their counts.
//!
//! Percentiles are read as HDR reads them: the highest value of the bucket where the
//! cumulative count reaches the asked-for share (never above the largest value recorded).

/// Sub-buckets per power of two (2^6): the precision.
const SUB_BITS: u32 = 6;
/// `2^SUB_BITS`.
const SUB: u64 = 1 << SUB_BITS;
/// Buckets needed for the whole `u64` range.
const BUCKETS: usize = ((64 - SUB_BITS as usize) * SUB as usize) + SUB as usize;

/// Counts of values (nanoseconds, for latencies) in log-linear buckets, with the exact
/// smallest, largest and sum beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    /// Values per bucket.
    counts: Vec<u64>,
    /// Values recorded.
    total: u64,
    /// The smallest value (`u64::MAX` when empty).
    min: u64,
    /// The largest value.
    max: u64,
    /// The values added up.
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

/// The bucket of a value: the value itself below `2 * SUB`, then `SUB` steps per power of two.
pub fn bucket_index(value: u64) -> usize {
    if value < 2 * SUB {
        return value as usize;
    }
    let magnitude = 63 - value.leading_zeros();
    let shift = magnitude - SUB_BITS;
    let mantissa = value >> shift;
    (shift as usize) * SUB as usize + mantissa as usize
}

/// The lowest and highest values of a bucket.
pub fn bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < 2 * SUB {
        return (index, index);
    }
    let shift = index / SUB - 1;
    let mantissa = index % SUB + SUB;
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Records one value.
    pub fn record(&mut self, value: u64) {
        self.counts[bucket_index(value)] += 1;
        self.total += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += u128::from(value);
    }

    /// Adds another histogram's values to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The smallest value (0 when empty).
    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    /// The largest value.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at `percentile` (0 to 100): the highest value of the first bucket where the
    /// count of values up to it reaches that share of all, at least one value; never above
    /// the largest value recorded. 0 when empty.
    pub fn percentile(&self, percentile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let share = (percentile.clamp(0.0, 100.0) / 100.0 * self.total as f64).ceil() as u64;
        let wanted = share.max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return bucket_range(index).1.min(self.max).max(self.min());
            }
        }
        self.max
    }

    /// The values counted in `[low, high)`, by each bucket's lowest value.
    pub fn count_between(&self, low: u64, high: u64) -> u64 {
        if low >= high {
            return 0;
        }
        let first = bucket_index(low);
        let last = bucket_index(high - 1);
        (first..=last)
            .filter(|&i| (low..high).contains(&bucket_range(i).0))
            .map(|i| self.counts[i])
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_once() {
        let mut previous_high = None;
        for index in 0..BUCKETS {
            let (low, high) = bucket_range(index);
            assert!(low <= high);
            if let Some(previous) = previous_high {
                assert_eq!(low, previous + 1, "gap before bucket {index}");
            }
            previous_high = Some(high);
            assert_eq!(bucket_index(low), index);
            assert_eq!(bucket_index(high), index);
        }
        assert_eq!(previous_high, Some(u64::MAX));
    }

    #[test]
    fn precision_within_one_sixty_fourth() {
        for value in [
            1u64,
            127,
            128,
            129,
            1_000,
            65_537,
            1_000_000,
            123_456_789,
            u64::MAX / 3,
        ] {
            let (low, high) = bucket_range(bucket_index(value));
            assert!(low <= value && value <= high);
            assert!(
                (high - low) as f64 <= value as f64 / 64.0,
                "{value}: {low}..{high}"
            );
        }
    }

    #[test]
    fn percentiles_of_a_uniform_spread() {
        // 1 µs to 10 ms, one value each: p50 is 5 ms, p99 9.9 ms, p99.9 9.99 ms.
        let mut h = Histogram::new();
        for micros in 1..=10_000u64 {
            h.record(micros * 1_000);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!((h.min(), h.max()), (1_000, 10_000_000));
        for (p, expected) in [
            (50.0, 5_000_000.0),
            (99.0, 9_900_000.0),
            (99.9, 9_990_000.0),
        ] {
            let got = h.percentile(p) as f64;
            assert!(
                got >= expected && got <= expected * (1.0 + 1.0 / 64.0),
                "p{p}: {got} for {expected}"
            );
        }
        assert_eq!(h.percentile(100.0), 10_000_000);
        // The smallest value's bucket, 992 to 1007 ns.
        assert!((1_000..=1_007).contains(&h.percentile(0.0)));
        assert!((h.mean() - 5_000_500.0).abs() < 1.0);
    }

    #[test]
    fn percentiles_of_a_skewed_spread() {
        // 990 fast requests and 10 slow ones: p99 is still fast, p99.9 is slow.
        let mut h = Histogram::new();
        for _ in 0..990 {
            h.record(100_000);
        }
        for _ in 0..10 {
            h.record(50_000_000);
        }
        assert!(h.percentile(50.0) < 102_000);
        assert!(h.percentile(99.0) < 102_000);
        assert_eq!(h.percentile(99.9), 50_000_000);
    }

    #[test]
    fn merging_adds_counts() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        a.record(10);
        a.record(1_000);
        b.record(5);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!((a.count(), a.min(), a.max()), (4, 5, 1_000_000));
        assert_eq!(a.count_between(0, 1_001), 3);
        assert_eq!(a.count_between(1_001, 2_000_000), 1);
        assert_eq!(a.count_between(7, 7), 0);
        let empty = Histogram::new();
        assert_eq!(
            (empty.min(), empty.percentile(50.0), empty.mean()),
            (0, 0, 0.0)
        );
    }
}
