//! Instantaneous rates for INFO (`instantaneous_ops_per_sec`, `instantaneous_input_kbps`,
//! `instantaneous_output_kbps`), sampled as Redis samples them: every 100 ms a background task
//! turns the growth of a counter since the previous sample into a per-second rate, and INFO
//! reports the mean of the last 16 rates.

use std::time::Instant;

use parking_lot::Mutex;

/// Rates averaged by INFO, as Redis's `STATS_METRIC_SAMPLES`.
const SAMPLES: usize = 16;

/// One sampled rate.
#[derive(Debug)]
pub struct Rate {
    state: Mutex<RateState>,
}

#[derive(Debug)]
struct RateState {
    samples: [u64; SAMPLES],
    next: usize,
    last_time: Instant,
    last_reading: u64,
}

impl Default for Rate {
    fn default() -> Self {
        Rate {
            state: Mutex::new(RateState {
                samples: [0; SAMPLES],
                next: 0,
                last_time: Instant::now(),
                last_reading: 0,
            }),
        }
    }
}

impl Rate {
    /// Records the counter's current `reading`.
    pub fn sample(&self, reading: u64) {
        let mut state = self.state.lock();
        let now = Instant::now();
        let millis = now.duration_since(state.last_time).as_millis() as u64;
        let grown = reading.saturating_sub(state.last_reading);
        let per_sec = (grown * 1000).checked_div(millis).unwrap_or(0);
        let slot = state.next;
        state.samples[slot] = per_sec;
        state.next = (slot + 1) % SAMPLES;
        state.last_time = now;
        state.last_reading = reading;
    }

    /// The mean of the recorded rates, per second.
    pub fn per_second(&self) -> u64 {
        self.state.lock().samples.iter().sum::<u64>() / SAMPLES as u64
    }

    /// Forgets every sample (`CONFIG RESETSTAT`, which also zeroes the counters).
    pub fn reset(&self) {
        let mut state = self.state.lock();
        state.samples = [0; SAMPLES];
        state.next = 0;
        state.last_time = Instant::now();
        state.last_reading = 0;
    }
}

/// Every rate INFO reports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Commands per second.
    pub ops: Rate,
    /// Bytes read from clients per second.
    pub net_input: Rate,
    /// Bytes written to clients per second.
    pub net_output: Rate,
    /// Bytes received from a master per second.
    pub repl_input: Rate,
    /// Bytes sent to replicas per second.
    pub repl_output: Rate,
}

impl Metrics {
    /// Forgets every sample.
    pub fn reset(&self) {
        self.ops.reset();
        self.net_input.reset();
        self.net_output.reset();
        self.repl_input.reset();
        self.repl_output.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_the_mean_of_sixteen_samples() {
        let rate = Rate::default();
        std::thread::sleep(std::time::Duration::from_millis(20));
        rate.sample(1_000_000);
        let one = rate.per_second();
        // One sample of at most 1e6 / 0.02 s, averaged over 16 slots.
        assert!(one > 0 && one <= 50_000_000 / 16, "{one}");
        rate.reset();
        assert_eq!(rate.per_second(), 0);
    }
}
