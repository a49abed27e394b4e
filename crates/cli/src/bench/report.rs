//! What `kv-cli bench` prints for each test: the report (throughput, latency summary with
//! p50/p99/p99.9, a histogram drawn with text bars), the `-q` line, or a `--csv` row; and the
//! live progress line.

use std::fmt::Write as _;
use std::time::Duration;

use crate::bench::histogram::Histogram;

/// What one test measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The test's name.
    pub name: String,
    /// Replies read.
    pub completed: u64,
    /// From the first request sent to the last reply read.
    pub elapsed: Duration,
    /// Every reply's latency, in nanoseconds.
    pub histogram: Histogram,
    /// Error replies.
    pub errors: u64,
    /// The first error reply's text.
    pub first_error: Option<String>,
}

impl Outcome {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.completed as f64 / seconds
        } else {
            0.0
        }
    }

    /// A percentile in milliseconds.
    fn percentile_ms(&self, percentile: f64) -> f64 {
        ms(self.histogram.percentile(percentile))
    }
}

/// Nanoseconds as milliseconds.
fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

/// The `-q` line: `SET: 123456.79 requests per second, p50=0.055 msec, p99=..., p999=...`.
pub fn quiet(outcome: &Outcome) -> String {
    let mut line = format!(
        "{}: {:.2} requests per second, p50={:.3} msec, p99={:.3} msec, p999={:.3} msec",
        outcome.name,
        outcome.rps(),
        outcome.percentile_ms(50.0),
        outcome.percentile_ms(99.0),
        outcome.percentile_ms(99.9),
    );
    if outcome.errors > 0 {
        let _ = write!(line, " ({} errors)", outcome.errors);
    }
    line.push('\n');
    line
}

/// `--csv`'s header: redis-benchmark's columns, then p99.9 and the error count.
pub const CSV_HEADER: &str = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\
\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\",\
\"p999_latency_ms\",\"errors\"\n";

/// A `--csv` row.
pub fn csv(outcome: &Outcome) -> String {
    let h = &outcome.histogram;
    format!(
        "\"{}\",\"{:.2}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{}\"\n",
        outcome.name.replace('"', "\"\""),
        outcome.rps(),
        h.mean() / 1e6,
        ms(h.min()),
        outcome.percentile_ms(50.0),
        outcome.percentile_ms(95.0),
        outcome.percentile_ms(99.0),
        ms(h.max()),
        outcome.percentile_ms(99.9),
        outcome.errors,
    )
}

/// What the full report says about the run besides its figures.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Parallel clients.
    pub clients: usize,
    /// Value size in bytes.
    pub data_size: usize,
    /// Requests per batch.
    pub pipeline: u64,
    /// `-r`.
    pub keyspace: Option<u64>,
}

/// The full report of one test.
pub fn full(outcome: &Outcome, setup: &Setup) -> String {
    let h = &outcome.histogram;
    let mut text = String::new();
    let _ = writeln!(text, "====== {} ======", outcome.name);
    let _ = writeln!(
        text,
        "  {} requests completed in {:.2} seconds",
        outcome.completed,
        outcome.elapsed.as_secs_f64()
    );
    let _ = writeln!(text, "  {} parallel clients", setup.clients);
    let _ = writeln!(text, "  {} bytes payload", setup.data_size);
    let _ = writeln!(text, "  pipeline: {}", setup.pipeline);
    match setup.keyspace {
        Some(range) => {
            let _ = writeln!(text, "  keyspace: {range} random numbers for __rand_int__");
        }
        None => text.push_str("  keyspace: __rand_int__ sent as it is (no -r)\n"),
    }
    text.push('\n');
    let _ = writeln!(
        text,
        "  throughput: {:.2} requests per second",
        outcome.rps()
    );
    text.push_str("  latency (msec):\n");
    text.push_str("          avg       min       p50       p99     p99.9       max\n");
    let _ = writeln!(
        text,
        "    {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
        h.mean() / 1e6,
        ms(h.min()),
        outcome.percentile_ms(50.0),
        outcome.percentile_ms(99.0),
        outcome.percentile_ms(99.9),
        ms(h.max())
    );
    if outcome.errors > 0 {
        let _ = writeln!(
            text,
            "  errors: {} (first: {})",
            outcome.errors,
            outcome.first_error.as_deref().unwrap_or("?")
        );
    }
    if h.count() > 0 {
        text.push_str("\n  latency histogram (msec):\n");
        text.push_str(&chart(h, BAR_WIDTH));
    }
    text.push('\n');
    text
}

/// The widest bar.
const BAR_WIDTH: usize = 40;

/// Steps within a decade for the histogram's rows, coarse to fine.
const SERIES: [&[f64]; 3] = [
    &[1.0, 2.0, 5.0],
    &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
    &[1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
];

/// Rows wanted at least before a finer series is tried.
const MIN_ROWS: usize = 8;

/// The rows' boundaries (nanoseconds) over `[min, max]`: round numbers from the coarsest
/// series that gives enough rows, else equal steps.
pub fn boundaries(min: u64, max: u64) -> Vec<u64> {
    let mut best = Vec::new();
    for series in SERIES {
        let mut points = Vec::new();
        let mut decade = 1u64;
        'decades: loop {
            for &step in series {
                let point = (step * decade as f64).round() as u64;
                if point > max {
                    points.push(point);
                    break 'decades;
                }
                points.push(point);
            }
            match decade.checked_mul(10) {
                Some(next) => decade = next,
                None => break,
            }
        }
        // The last point at or below the smallest value starts the first row.
        let first = points.iter().rposition(|&p| p <= min).unwrap_or(0);
        let bounds = points[first..].to_vec();
        if bounds.len() > MIN_ROWS {
            return bounds;
        }
        best = bounds;
    }
    if max > min && max - min >= 10 {
        let step = (max - min).div_ceil(10);
        return (0..=10).map(|i| min + i * step).collect();
    }
    best
}

/// The histogram as rows of text bars: each row's range in milliseconds, a bar as long as its
/// share of the fullest row, its percentage and count.
pub fn chart(h: &Histogram, width: usize) -> String {
    let bounds = boundaries(h.min(), h.max());
    let rows = bounds.len().saturating_sub(1);
    let counts: Vec<u64> = (0..rows)
        .map(|i| {
            // The first and last rows take everything below and above them.
            let low = if i == 0 { 0 } else { bounds[i] };
            let high = if i + 1 == rows {
                u64::MAX
            } else {
                bounds[i + 1]
            };
            h.count_between(low, high)
        })
        .collect();
    let fullest = counts.iter().copied().max().unwrap_or(0).max(1);
    let total = h.count().max(1);
    // Empty rows at either end say nothing.
    let first = counts.iter().position(|&c| c > 0).unwrap_or(0);
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    let mut text = String::new();
    for (i, &count) in counts.iter().enumerate().take(last + 1).skip(first) {
        let length = (count as f64 / fullest as f64 * width as f64).ceil() as usize;
        let _ = writeln!(
            text,
            "  {:>9.3} - {:<9.3} |{:<width$}| {:>6.2}% {:>10}",
            ms(bounds[i]),
            ms(bounds[i + 1]),
            "#".repeat(length),
            count as f64 * 100.0 / total as f64,
            count,
        );
    }
    text
}

/// The live progress line: current and overall rate and mean latency, meant to be rewritten
/// in place on a terminal.
pub fn progress(
    name: &str,
    current_rps: f64,
    overall_rps: f64,
    current_ms: f64,
    overall_ms: f64,
) -> String {
    format!(
        "\r{name}: rps={current_rps:.1} (overall: {overall_rps:.1}) avg_msec={current_ms:.3} \
         (overall: {overall_ms:.3})\x1b[K"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(latencies_us: &[u64]) -> Outcome {
        let mut histogram = Histogram::new();
        for &us in latencies_us {
            histogram.record(us * 1_000);
        }
        Outcome {
            name: "SET".into(),
            completed: latencies_us.len() as u64,
            elapsed: Duration::from_millis(500),
            histogram,
            errors: 0,
            first_error: None,
        }
    }

    #[test]
    fn quiet_and_csv_lines() {
        let o = outcome(&[100; 1000]);
        assert_eq!(
            quiet(&o),
            "SET: 2000.00 requests per second, p50=0.100 msec, p99=0.100 msec, p999=0.100 msec\n"
        );
        assert_eq!(
            csv(&o),
            "\"SET\",\"2000.00\",\"0.100\",\"0.100\",\"0.100\",\"0.100\",\"0.100\",\"0.100\",\"0.100\",\"0\"\n"
        );
        assert_eq!(CSV_HEADER.split(',').count(), 10);
        let mut failing = o.clone();
        failing.errors = 3;
        assert!(quiet(&failing).ends_with("msec (3 errors)\n"));
    }

    #[test]
    fn row_boundaries_cover_the_range() {
        // 8 µs to 303 µs: 1-1.5-2-3-5-7 steps, from 7 µs to 500 µs.
        let b = boundaries(8_000, 303_000);
        assert_eq!(b.first(), Some(&7_000));
        assert_eq!(b.last(), Some(&500_000));
        assert!(b.len() > MIN_ROWS);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        // A wide range keeps the coarse series.
        let b = boundaries(10_000, 50_000_000);
        assert_eq!(&b[..3], &[10_000, 20_000, 50_000]);
        // A narrow one falls back to equal steps.
        let b = boundaries(1_000, 1_050);
        assert_eq!((b.len(), b[0], b[10]), (11, 1_000, 1_050));
        assert!(!boundaries(5, 5).is_empty());
    }

    #[test]
    fn chart_rows_add_up() {
        let mut latencies = vec![50; 900];
        latencies.extend([400; 90]);
        latencies.extend([3_000; 10]);
        let o = outcome(&latencies);
        let chart = chart(&o.histogram, 40);
        let counts: u64 = chart
            .lines()
            .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(counts, 1000);
        assert!(!chart.lines().last().unwrap().ends_with(" 0"));
        // The fullest row has the whole bar; a small one at least a mark.
        assert!(chart.contains(&format!("|{}|", "#".repeat(40))));
        assert!(chart.contains("|#    "));
        let report = full(
            &o,
            &Setup {
                clients: 4,
                data_size: 3,
                pipeline: 1,
                keyspace: None,
            },
        );
        assert!(
            report.starts_with("====== SET ======\n  1000 requests completed in 0.50 seconds\n")
        );
        assert!(report.contains("  throughput: 2000.00 requests per second\n"));
        assert!(report.contains("latency histogram (msec):"));
    }
}
