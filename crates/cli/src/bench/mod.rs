//! `kv-cli bench`: a load generator with redis-benchmark's main options, which redis-cli
//! lacks. `kv-cli bench -t set,get -n 100000 -c 50 -P 16 -r 100000 -d 64 -q`.
//!
//! - [`config`] — the command line.
//! - [`workload`] — the tests and their commands, `__rand_int__` under `-r`.
//! - [`client`] — one connection sending its share of the requests and timing each reply.
//! - [`histogram`] — the latency histogram (HDR-style log-linear buckets) and percentiles.
//! - [`report`] — the report, `-q` and `--csv` lines, the progress line.
//!
//! Each client is a task on an event loop (tokio's, one thread each; one loop by default, as
//! redis-benchmark, `--threads N` for more): it claims a batch of `-P` requests from a shared
//! count, writes them at once, and reads their replies, until `-n` requests have been sent in
//! all. The clients connect (and log in) before the clock starts; the test's time runs from
//! then to the last reply. Meanwhile this thread rewrites a progress line on stderr every
//! quarter second when stderr is a terminal.

pub mod client;
pub mod config;
pub mod histogram;
pub mod report;
pub mod workload;

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::task::JoinSet;

use crate::bench::client::{Client, Measured, Shared};
use crate::bench::config::{Config, Parsed};
use crate::bench::histogram::Histogram;
use crate::bench::report::{Outcome, Setup};
use crate::bench::workload::{Random, Template, Test};
use crate::options::Options;

/// How often the progress line is rewritten.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Elements `mylist` needs before the LRANGE tests.
const LIST_LENGTH: usize = 600;

/// Runs `kv-cli bench` with the arguments after `bench`; returns the exit status.
pub fn run(options: &Options, args: &[Vec<u8>]) -> Result<u8> {
    let config = match config::parse(options, args) {
        Ok(Parsed::Run(config)) => *config,
        Ok(Parsed::Help) => {
            print!("{}", config::usage());
            return Ok(0);
        }
        Err(message) => {
            eprintln!("{message}");
            return Ok(1);
        }
    };
    let progress = io::stderr().is_terminal() && !config.csv;
    let mut stdout = io::stdout().lock();
    if config.csv {
        stdout.write_all(report::CSV_HEADER.as_bytes())?;
    }
    let setup = Setup {
        clients: config.clients,
        data_size: config.data_size,
        pipeline: config.pipeline,
        keyspace: config.keyspace,
    };
    let mut status = 0;
    let mut list_filled = false;
    for test in &config.tests {
        let fill = test.needs_list && !list_filled;
        list_filled |= fill;
        let outcome = match run_test(&config, test, fill, progress) {
            Ok(outcome) => outcome,
            Err(message) => {
                eprintln!("{message}");
                return Ok(1);
            }
        };
        if outcome.errors > 0 {
            status = 1;
        }
        let text = if config.csv {
            report::csv(&outcome)
        } else if config.quiet {
            report::quiet(&outcome)
        } else {
            report::full(&outcome, &setup)
        };
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
    }
    Ok(status)
}

/// Runs one test with all its clients, after filling `mylist` if `fill`; the error is what to
/// print (a client could not connect, or its connection failed).
fn run_test(config: &Config, test: &Test, fill: bool, progress: bool) -> Result<Outcome, String> {
    if fill {
        fill_list(config)?;
    }
    let shared = Arc::new(Shared::new(config.requests));
    let template = Arc::new(test.template.clone());
    let seed = seed();
    let loops = config.threads.clamp(1, config.clients);
    // Every loop connects its clients, then all start together with the clock.
    let ready = Barrier::new(loops + 1);
    let failed = AtomicBool::new(false);
    let (start, results) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..loops)
            .map(|index| {
                let (ready, failed) = (&ready, &failed);
                let (shared, template) = (Arc::clone(&shared), Arc::clone(&template));
                scope.spawn(move || -> Vec<Result<Measured, String>> {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(e) => {
                            failed.store(true, Ordering::SeqCst);
                            ready.wait();
                            return vec![Err(format!("cannot start an event loop: {e}"))];
                        }
                    };
                    let mine: Vec<usize> = (index..config.clients).step_by(loops).collect();
                    let connected = runtime.block_on(async {
                        let mut clients = Vec::with_capacity(mine.len());
                        for _ in &mine {
                            clients.push(Client::connect(&config.target, &config.login).await?);
                        }
                        Ok::<_, String>(clients)
                    });
                    let clients = match connected {
                        Ok(clients) => clients,
                        Err(e) => {
                            failed.store(true, Ordering::SeqCst);
                            ready.wait();
                            return vec![Err(e)];
                        }
                    };
                    ready.wait();
                    if failed.load(Ordering::SeqCst) {
                        return Vec::new();
                    }
                    runtime.block_on(async {
                        let mut tasks = JoinSet::new();
                        for (mut client, number) in clients.into_iter().zip(mine) {
                            let (shared, template) = (Arc::clone(&shared), Arc::clone(&template));
                            let mut random = Random::new(
                                seed ^ (number as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                            );
                            let (pipeline, keyspace) = (config.pipeline, config.keyspace);
                            tasks.spawn(async move {
                                client
                                    .run(&template, pipeline, keyspace, &shared, &mut random)
                                    .await
                            });
                        }
                        let mut results = Vec::new();
                        while let Some(result) = tasks.join_next().await {
                            results.push(result.unwrap_or_else(|e| Err(e.to_string())));
                        }
                        results
                    })
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        if progress && !failed.load(Ordering::SeqCst) {
            show_progress(&test.name, &shared, start, || {
                workers.iter().all(|w| w.is_finished())
            });
        }
        let results: Vec<Result<Measured, String>> = workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec![Err("a client thread panicked".into())])
            })
            .collect();
        (start, results)
    });
    let mut histogram = Histogram::new();
    let mut finished = start;
    for result in results {
        let measured = result.map_err(|e| {
            if failed.load(Ordering::SeqCst) {
                e
            } else {
                format!("{}: {e}", test.name)
            }
        })?;
        histogram.merge(&measured.histogram);
        finished = finished.max(measured.finished);
    }
    let first_error = shared.first_error.lock().ok().and_then(|e| e.clone());
    Ok(Outcome {
        name: test.name.clone(),
        completed: shared.completed.load(Ordering::Relaxed),
        elapsed: finished.duration_since(start),
        histogram,
        errors: shared.errors.load(Ordering::Relaxed),
        first_error,
    })
}

/// Rewrites the progress line on stderr until `done`, then erases it.
fn show_progress(name: &str, shared: &Shared, start: Instant, done: impl Fn() -> bool) {
    let (mut last_count, mut last_latency, mut last_time) = (0u64, 0u64, start);
    let mut stderr = io::stderr();
    while !done() {
        std::thread::sleep(Duration::from_millis(10));
        if last_time.elapsed() < PROGRESS_EVERY && !done() {
            continue;
        }
        let now = Instant::now();
        let count = shared.completed.load(Ordering::Relaxed);
        let latency = shared.latency_ns.load(Ordering::Relaxed);
        let per_second =
            |n: u64, since: Instant| n as f64 / now.duration_since(since).as_secs_f64().max(1e-9);
        let mean_ms = |total: u64, n: u64| {
            if n == 0 {
                0.0
            } else {
                total as f64 / n as f64 / 1e6
            }
        };
        let line = report::progress(
            name,
            per_second(count - last_count, last_time),
            per_second(count, start),
            mean_ms(latency - last_latency, count - last_count),
            mean_ms(latency, count),
        );
        let _ = stderr.write_all(line.as_bytes());
        (last_count, last_latency, last_time) = (count, latency, now);
    }
    let _ = stderr.write_all(b"\r\x1b[K");
}

/// Makes `mylist` hold at least [`LIST_LENGTH`] elements for the LRANGE tests (not timed).
fn fill_list(config: &Config) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start an event loop: {e}"))?;
    let data = vec![b'x'; config.data_size];
    let mut args: Vec<&[u8]> = vec![b"RPUSH", b"mylist"];
    args.extend(std::iter::repeat_n(data.as_slice(), LIST_LENGTH));
    let template = Template::command(&args);
    let shared = Shared::new(1);
    runtime.block_on(async {
        let mut client = Client::connect(&config.target, &config.login).await?;
        client
            .run(&template, 1, None, &shared, &mut Random::new(0))
            .await
            .map_err(|e| format!("filling mylist: {e}"))
    })?;
    match shared.first_error.lock().ok().and_then(|e| e.clone()) {
        Some(error) => Err(format!("filling mylist: {error}")),
        None => Ok(()),
    }
}

/// A seed for the clients' random numbers, different on each run.
fn seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    hasher.finish()
}
