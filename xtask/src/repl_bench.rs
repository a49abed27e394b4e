//! `cargo xtask bench-repl`: kv's replication against Redis's, on this machine, in one run.
//!
//! Per round and per kind (alternating which goes first), a master and two replicas of the
//! same kind on temporary directories:
//!
//! - full sync: the master holds [`KEYS`] keys (`DEBUG POPULATE`); the time from `REPLICAOF`
//!   until the replica's link is up with every key;
//! - master SET throughput (`redis-benchmark -t set`, 50 clients) with 0, 1 and 2 replicas
//!   attached, and the CPU time the master and the replicas spent per SET (from /proc): on
//!   this 2-core machine the replicas share the master's core, so the throughput ratio also
//!   counts the replicas' own work, while the master's CPU per SET is the cost a replica adds
//!   to its master wherever it runs;
//! - lag: during the run with one replica, the master's stream offset minus the replica's,
//!   sampled every 20 ms (bytes), and how long the replica takes to catch up once the load
//!   stops.
//!
//! Redis replicates with its defaults except `repl-diskless-sync-delay 0` (it would otherwise
//! wait 5 s for more replicas before every full sync). Servers share core 0 (as in
//! `cargo xtask bench`), the load generator runs on core 1. The medians replace the marked
//! section of BENCHMARKS.md.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};

use crate::bench::{benchmark, build_kv, cpu_seconds, median, start, Server};
use crate::persist_bench::Conn;

/// Keys in the full-sync dataset.
const KEYS: u64 = 1_000_000;

/// Rounds of alternating runs.
const ROUNDS: usize = 3;

/// SET requests per throughput run.
const REQUESTS: u64 = 300_000;

const BEGIN: &str = "<!-- repl-bench:begin -->";
const END: &str = "<!-- repl-bench:end -->";

/// Reads one figure of a round.
type Pick<'a> = dyn Fn(&Figures) -> f64 + 'a;

/// One kind's figures in one round.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    full_sync_s: f64,
    /// SET throughput with 0, 1 and 2 replicas.
    set_rps: [f64; 3],
    /// The master's CPU time per SET (µs) with 0, 1 and 2 replicas.
    master_cpu_us: [f64; 3],
    /// One replica's CPU time per SET applied (µs), in the one-replica run.
    replica_cpu_us: f64,
    /// Median and largest sampled lag, bytes, during the one-replica run.
    lag_median: f64,
    lag_max: f64,
    /// Time from the end of the load until the replica had all of it.
    catch_up_ms: f64,
}

/// A server of either kind on `dir`.
fn launch(is_kv: bool, kv_path: &Path, dir: &Path) -> Result<Server> {
    std::fs::create_dir_all(dir)?;
    let dir = dir.to_str().unwrap_or(".");
    let mut args = vec!["--dir", dir, "--enable-debug-command", "yes"];
    if is_kv {
        start("kv-server", kv_path, &args)
    } else {
        args.extend(["--appendonly", "no", "--repl-diskless-sync-delay", "0"]);
        start("redis-server", Path::new("redis-server"), &args)
    }
}

/// INFO replication's `field`, as text.
fn info(conn: &mut Conn, field: &str) -> Result<String> {
    let text = conn.call(&["INFO", "replication"])?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string())
}

/// Waits until `replica` is up with all of `master`'s stream; returns how long that took.
fn wait_synced(master: &mut Conn, replica: &mut Conn, limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let up = info(replica, "master_link_status")? == "up";
        if up && info(replica, "slave_repl_offset")? == info(master, "master_repl_offset")? {
            return Ok(started.elapsed());
        }
        ensure!(started.elapsed() < limit, "the replica did not catch up");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs the SET load on `master`; returns its throughput and the CPU time (µs per SET) the
/// master and each of `others` spent meanwhile.
fn set_load(master: &Server, others: &[&Server]) -> Result<(f64, f64, Vec<f64>)> {
    let pids: Vec<u32> = std::iter::once(master)
        .chain(others.iter().copied())
        .map(|s| s.child.id())
        .collect();
    let before: Vec<f64> = pids
        .iter()
        .map(|&p| cpu_seconds(p))
        .collect::<Result<_>>()?;
    let rps = benchmark(master.port, &["-t", "set"], 1, REQUESTS, "100000")?.rps;
    let after: Vec<f64> = pids
        .iter()
        .map(|&p| cpu_seconds(p))
        .collect::<Result<_>>()?;
    let per_set: Vec<f64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) * 1e6 / REQUESTS as f64)
        .collect();
    Ok((rps, per_set[0], per_set[1..].to_vec()))
}

/// Points `replica` at `master`.
fn follow(replica: &mut Conn, master: &Server) -> Result<()> {
    let ok = replica.call(&["REPLICAOF", "127.0.0.1", &master.port.to_string()])?;
    ensure!(ok.starts_with("OK"), "REPLICAOF: {ok}");
    Ok(())
}

/// One round for one kind.
fn round(is_kv: bool, kv_path: &Path, dir: &Path) -> Result<Figures> {
    let _ = std::fs::remove_dir_all(dir);
    let mut figures = Figures::default();
    let master = launch(is_kv, kv_path, &dir.join("master"))?;
    let mut m = Conn::open(master.port)?;

    // Full sync of KEYS keys.
    m.call(&["DEBUG", "POPULATE", &KEYS.to_string()])?;
    let first = launch(is_kv, kv_path, &dir.join("replica1"))?;
    let mut r1 = Conn::open(first.port)?;
    let started = Instant::now();
    follow(&mut r1, &master)?;
    loop {
        let up = info(&mut r1, "master_link_status")? == "up";
        if up && r1.call(&["DBSIZE"])? == KEYS.to_string() {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(300),
            "full sync too slow"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    figures.full_sync_s = started.elapsed().as_secs_f64();
    m.call(&["FLUSHALL"])?;
    wait_synced(&mut m, &mut r1, Duration::from_secs(60))?;
    r1.call(&["REPLICAOF", "NO", "ONE"])?;

    // SET throughput with 0 replicas.
    (figures.set_rps[0], figures.master_cpu_us[0], _) = set_load(&master, &[])?;

    // One replica, with the lag sampled meanwhile.
    follow(&mut r1, &master)?;
    wait_synced(&mut m, &mut r1, Duration::from_secs(60))?;
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let running = Arc::clone(&running);
        let (master_port, replica_port) = (master.port, first.port);
        std::thread::spawn(move || -> Result<Vec<f64>> {
            let (mut m, mut r) = (Conn::open(master_port)?, Conn::open(replica_port)?);
            let mut lags = Vec::new();
            while running.load(Ordering::SeqCst) {
                let ours: f64 = info(&mut m, "master_repl_offset")?.parse().unwrap_or(0.0);
                let theirs: f64 = info(&mut r, "slave_repl_offset")?.parse().unwrap_or(0.0);
                lags.push((ours - theirs).max(0.0));
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(lags)
        })
    };
    let sample = set_load(&master, &[&first]);
    running.store(false, Ordering::SeqCst);
    let replicas;
    (figures.set_rps[1], figures.master_cpu_us[1], replicas) = sample?;
    figures.replica_cpu_us = replicas.first().copied().unwrap_or(0.0);
    // Measured from when the load generator returned.
    let caught_up = wait_synced(&mut m, &mut r1, Duration::from_secs(60))?;
    figures.catch_up_ms = caught_up.as_secs_f64() * 1000.0;
    let lags = sampler
        .join()
        .map_err(|_| anyhow::anyhow!("sampler panicked"))??;
    figures.lag_max = lags.iter().copied().fold(0.0, f64::max);
    figures.lag_median = median(lags);

    // Two replicas.
    let second = launch(is_kv, kv_path, &dir.join("replica2"))?;
    let mut r2 = Conn::open(second.port)?;
    follow(&mut r2, &master)?;
    wait_synced(&mut m, &mut r2, Duration::from_secs(60))?;
    (figures.set_rps[2], figures.master_cpu_us[2], _) = set_load(&master, &[&first, &second])?;
    wait_synced(&mut m, &mut r1, Duration::from_secs(60))?;
    wait_synced(&mut m, &mut r2, Duration::from_secs(60))?;
    let digest = m.call(&["DEBUG", "DIGEST"])?;
    ensure!(
        r1.call(&["DEBUG", "DIGEST"])? == digest && r2.call(&["DEBUG", "DIGEST"])? == digest,
        "a replica differs from its master"
    );
    Ok(figures)
}

/// Runs the rounds and writes the section.
pub fn run() -> Result<()> {
    let kv_path = build_kv()?;
    let dir = std::env::temp_dir().join(format!("kv-bench-repl-{}", std::process::id()));
    let mut runs: [Vec<Figures>; 2] = [Vec::new(), Vec::new()];
    for r in 0..ROUNDS {
        for is_kv in [r % 2 == 0, r % 2 != 0] {
            let figures = round(is_kv, &kv_path, &dir)?;
            let name = if is_kv { "kv-server" } else { "redis-server" };
            println!(
                "{name:<12} full sync {:.2} s; SET/s with 0/1/2 replicas {:.0} {:.0} {:.0}; master µs/SET {:.2} {:.2} {:.2}, replica {:.2}; lag median {:.0} B, max {:.0} B; catch-up {:.1} ms",
                figures.full_sync_s,
                figures.set_rps[0],
                figures.set_rps[1],
                figures.set_rps[2],
                figures.master_cpu_us[0],
                figures.master_cpu_us[1],
                figures.master_cpu_us[2],
                figures.replica_cpu_us,
                figures.lag_median,
                figures.lag_max,
                figures.catch_up_ms
            );
            runs[usize::from(!is_kv)].push(figures);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let med = |kind: usize, pick: &Pick<'_>| median(runs[kind].iter().map(pick).collect());
    let row = |label: &str, pick: &Pick<'_>, unit: &str, digits: usize| {
        let (kv, redis) = (med(0, pick), med(1, pick));
        let ratio = if redis > 0.0 { kv / redis } else { 0.0 };
        format!("| {label} | {kv:.digits$} {unit} | {redis:.digits$} {unit} | {ratio:.2} |\n")
    };
    let mut section = format!("{BEGIN}\n");
    section.push_str(&format!(
        "Medians of {ROUNDS} rounds, kv and Redis alternating; master and replicas on core 0, redis-benchmark (50 clients, SET, 32-byte values, 100k keys) on core 1.\n\n"
    ));
    section.push_str("| measure | kv | Redis | kv / Redis |\n|---|---|---|---|\n");
    section.push_str(&row(
        &format!(
            "full sync of {} M keys (REPLICAOF until the replica has every key)",
            KEYS / 1_000_000
        ),
        &|f| f.full_sync_s,
        "s",
        2,
    ));
    let counts = ["no replica", "1 replica", "2 replicas"];
    for (n, count) in counts.iter().enumerate() {
        section.push_str(&row(&format!("SET/s, {count}"), &|f| f.set_rps[n], "", 0));
    }
    for (n, count) in counts.iter().enumerate() {
        let label = format!("master CPU per SET, {count}");
        section.push_str(&row(&label, &|f| f.master_cpu_us[n], "µs", 2));
    }
    let rows: [(&str, &Pick<'_>, &str, usize); 4] = [
        (
            "replica CPU per SET applied (1-replica run)",
            &|f| f.replica_cpu_us,
            "µs",
            2,
        ),
        (
            "replication lag during the 1-replica run, median",
            &|f| f.lag_median,
            "B",
            0,
        ),
        (
            "replication lag during the 1-replica run, max",
            &|f| f.lag_max,
            "B",
            0,
        ),
        ("catch-up after the load stops", &|f| f.catch_up_ms, "ms", 1),
    ];
    for (label, pick, unit, digits) in rows {
        section.push_str(&row(label, pick, unit, digits));
    }
    // A figure with 1 and 2 replicas over the same figure with none, for kv and Redis.
    let relative = |what: &str, pick: &dyn Fn(&Figures, usize) -> f64| {
        let ratio = |kind: usize, n: usize| {
            med(kind, &|f| pick(f, n)) / med(kind, &|f| pick(f, 0)).max(1e-9)
        };
        format!(
            "{what} with replicas relative to none: kv {:.2} (1) and {:.2} (2); Redis {:.2} and {:.2}.\n",
            ratio(0, 1),
            ratio(0, 2),
            ratio(1, 1),
            ratio(1, 2)
        )
    };
    section.push('\n');
    section.push_str(&relative("Throughput", &|f, n| f.set_rps[n]));
    section.push_str(&relative("Master CPU per SET", &|f, n| f.master_cpu_us[n]));
    section.push_str(END);
    crate::bench::write_section(
        (BEGIN, END),
        "Replication: kv vs Redis",
        "cargo xtask bench-repl",
        &section,
    )?;
    println!("BENCHMARKS.md updated");
    Ok(())
}
