//! `cargo xtask bench-persist`: kv's snapshots against Redis's, on this machine, in one run.
//!
//! Per round and per server (alternating which goes first): a fresh server on a temporary
//! directory, [`KEYS`] string keys made by `DEBUG POPULATE` (both servers have it) plus the
//! [`LOAD_KEYS`] the latency runs use, then
//!
//! - SAVE: its wall time, and the size of the file it wrote;
//! - start-up: the server killed and started again on that directory, timed until it answers
//!   `DBSIZE` with every key (it answers `-LOADING` meanwhile);
//! - BGSAVE under load: `redis-benchmark` SET and GET over the keys with and without
//!   back-to-back BGSAVEs running, their p99 latencies, and the peak extra memory while
//!   saving: for kv, its resident memory above what it held before; for Redis, the same for
//!   the parent plus the private (copied-on-write) memory of the forked child.
//!
//! The servers are pinned to core 0 as in `cargo xtask bench` (Redis's forked child inherits
//! that), the load generator to core 1. The medians replace the marked section of
//! BENCHMARKS.md.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::bench::{benchmark, build_kv, median, rss, start, Server};

/// Keys in the dataset.
const KEYS: u64 = 1_000_000;

/// Bytes per value (`DEBUG POPULATE`'s size: `value:N` padded with zeros).
const VALUE_BYTES: u64 = 32;

/// Rounds of alternating runs.
const ROUNDS: usize = 3;

/// Requests per latency run.
const REQUESTS: u64 = 400_000;

/// The keys the latency runs use (redis-benchmark's zero-padded `key:__rand_int__` names,
/// which `DEBUG POPULATE` does not make): written once before any measurement, so SETs during
/// the runs overwrite and the dataset does not grow while memory is measured.
const LOAD_KEYS: u64 = 100_000;

const BEGIN: &str = "<!-- persist-bench:begin -->";
const END: &str = "<!-- persist-bench:end -->";

/// One server's figures in one round.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    save_s: f64,
    file_bytes: f64,
    load_s: f64,
    /// SET's and GET's p99 without and during background saves, in ms.
    idle_p99_ms: [f64; 2],
    saving_p99_ms: [f64; 2],
    /// SET's and GET's throughput during background saves.
    saving_rps: [f64; 2],
    extra_bytes: f64,
    dataset_bytes: f64,
    /// Background saves started during the latency runs (each as soon as the last ended).
    saves: f64,
}

/// A blocking RESP connection, enough for these few commands.
pub(crate) struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub(crate) fn open(port: u16) -> Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(600)))?;
        Ok(Conn {
            reader: BufReader::new(stream),
        })
    }

    /// Sends `args`; returns the reply as text (a bulk's contents, an error with its `-`).
    pub(crate) fn call(&mut self, args: &[&str]) -> Result<String> {
        self.send(args)?;
        Ok(self.read_scalar()?.unwrap_or_default())
    }

    /// Sends `args` and reads an array of bulk strings (MGET): each value, or `None` for nil.
    pub(crate) fn call_array(&mut self, args: &[&str]) -> Result<Vec<Option<String>>> {
        self.send(args)?;
        let line = self.read_line()?;
        let Some(count) = line.strip_prefix('*') else {
            bail!("expected an array, got {line}");
        };
        let count: usize = count.parse()?;
        (0..count).map(|_| self.read_scalar()).collect()
    }

    fn send(&mut self, args: &[&str]) -> Result<()> {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.reader.get_mut().write_all(request.as_bytes())?;
        Ok(())
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        ensure!(self.reader.read_line(&mut line)? > 0, "connection closed");
        Ok(line.trim_end().to_string())
    }

    /// One non-aggregate reply: a bulk's contents (`None` for nil), a status or integer, an
    /// error with its `-`.
    fn read_scalar(&mut self) -> Result<Option<String>> {
        let line = self.read_line()?;
        match line.split_at(1) {
            ("$", len) => {
                let len: i64 = len.parse()?;
                if len < 0 {
                    return Ok(None);
                }
                let mut body = vec![0u8; len as usize + 2];
                std::io::Read::read_exact(&mut self.reader, &mut body)?;
                body.truncate(len as usize);
                Ok(Some(String::from_utf8_lossy(&body).into_owned()))
            }
            ("+" | ":", rest) => Ok(Some(rest.to_string())),
            ("-", _) => Ok(Some(line)),
            _ => bail!("unexpected reply {line}"),
        }
    }

    /// INFO's `field`, as a number.
    fn info_field(&mut self, field: &str) -> Result<f64> {
        let info = self.call(&["INFO", "all"])?;
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no INFO field {field}"))
    }
}

/// A server of either kind on `dir`.
fn launch(is_kv: bool, kv_path: &Path, dir: &Path) -> Result<Server> {
    launch_with(is_kv, kv_path, dir, &["--appendonly", "no"])
}

/// A server of either kind on `dir`, with `extra` options.
fn launch_with(is_kv: bool, kv_path: &Path, dir: &Path, extra: &[&str]) -> Result<Server> {
    let dir = dir.to_str().context("temporary directory is not UTF-8")?;
    let args = [
        &["--dir", dir, "--save", "", "--enable-debug-command", "yes"][..],
        extra,
    ]
    .concat();
    if is_kv {
        start("kv-server", kv_path, &args)
    } else {
        start("redis-server", Path::new("redis-server"), &args)
    }
}

/// The `appendfsync` policies measured, with SET's throughput and p99 per server.
const FSYNC_POLICIES: [&str; 2] = ["always", "everysec"];

/// SET's median throughput and p99 (ms) with `appendonly yes` and each of
/// [`FSYNC_POLICIES`], for kv and Redis: `[policy][kv, redis]`.
fn fsync_lines(kv_path: &Path, dir: &Path) -> Result<Vec<[(f64, f64); 2]>> {
    let mut lines = Vec::new();
    for policy in FSYNC_POLICIES {
        let mut runs: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
        for r in 0..ROUNDS {
            for is_kv in [r % 2 == 0, r % 2 != 0] {
                let _ = std::fs::remove_dir_all(dir);
                std::fs::create_dir_all(dir)?;
                let options = ["--appendonly", "yes", "--appendfsync", policy];
                let server = launch_with(is_kv, kv_path, dir, &options)?;
                let sample = benchmark(
                    server.port,
                    &["-t", "set"],
                    1,
                    REQUESTS / 4,
                    &LOAD_KEYS.to_string(),
                )?;
                println!(
                    "{:<12} SET appendfsync {policy}: {:.0}/s, p99 {:.3} ms",
                    server.name, sample.rps, sample.p99_ms
                );
                runs[usize::from(!is_kv)].push((sample.rps, sample.p99_ms));
            }
        }
        let medians = runs.map(|r| {
            (
                median(r.iter().map(|s| s.0).collect()),
                median(r.iter().map(|s| s.1).collect()),
            )
        });
        lines.push(medians);
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(lines)
}

/// The resident memory of `pid`'s children's private pages (Redis's forked saver): what
/// copy-on-write has duplicated.
fn children_private(pid: u32) -> u64 {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|child| std::fs::read_to_string(format!("/proc/{child}/smaps_rollup")).ok())
        .map(|smaps| {
            smaps
                .lines()
                .filter(|l| l.starts_with("Private_Dirty:") || l.starts_with("Private_Clean:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
                * 1024
        })
        .sum()
}

/// One round for one server.
fn round(is_kv: bool, kv_path: &Path, dir: &Path) -> Result<Figures> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let mut figures = Figures::default();
    let server = launch(is_kv, kv_path, dir)?;
    let mut conn = Conn::open(server.port)?;
    let before = rss(server.child.id())?;
    let populated = conn.call(&[
        "DEBUG",
        "POPULATE",
        &KEYS.to_string(),
        "key",
        &VALUE_BYTES.to_string(),
    ])?;
    ensure!(populated == "OK", "DEBUG POPULATE answered {populated}");
    benchmark(
        server.port,
        &["-t", "set"],
        16,
        LOAD_KEYS * 12,
        &LOAD_KEYS.to_string(),
    )?;
    figures.dataset_bytes = rss(server.child.id())?.saturating_sub(before) as f64;

    let started = Instant::now();
    let saved = conn.call(&["SAVE"])?;
    figures.save_s = started.elapsed().as_secs_f64();
    ensure!(saved == "OK", "SAVE answered {saved}");
    let keys = conn.call(&["DBSIZE"])?;
    let file = dir.join(if is_kv { "dump.kvs" } else { "dump.rdb" });
    figures.file_bytes = std::fs::metadata(&file)?.len() as f64;
    drop(conn);
    drop(server);

    let started = Instant::now();
    let server = launch(is_kv, kv_path, dir)?;
    let mut conn = Conn::open(server.port)?;
    loop {
        let size = conn.call(&["DBSIZE"])?;
        if size == keys {
            break;
        }
        ensure!(
            size.starts_with("-LOADING") || size.parse::<u64>().is_ok(),
            "DBSIZE answered {size}"
        );
        ensure!(
            started.elapsed() < Duration::from_secs(300),
            "loading never ended"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    figures.load_s = started.elapsed().as_secs_f64();

    // Latency without saving, then with back-to-back BGSAVEs over the whole run.
    let range = LOAD_KEYS.to_string();
    for (i, test) in ["set", "get"].into_iter().enumerate() {
        let idle = benchmark(server.port, &["-t", test], 1, REQUESTS, &range)?;
        figures.idle_p99_ms[i] = idle.p99_ms;
    }
    let pid = server.child.id();
    let baseline = rss(pid)?;
    let running = Arc::new(AtomicBool::new(true));
    let saver = {
        let running = Arc::clone(&running);
        let port = server.port;
        std::thread::spawn(move || -> Result<(u64, u32)> {
            let mut conn = Conn::open(port)?;
            let (mut peak, mut saves) = (0u64, 0u32);
            while running.load(Ordering::Relaxed) {
                if conn.info_field("rdb_bgsave_in_progress")? == 0.0 {
                    let reply = conn.call(&["BGSAVE"])?;
                    if reply.starts_with("Background saving started") {
                        saves += 1;
                    }
                }
                for _ in 0..10 {
                    let extra = rss(pid)?.saturating_sub(baseline) + children_private(pid);
                    peak = peak.max(extra);
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            Ok((peak, saves))
        })
    };
    let saving: Result<Vec<_>> = ["set", "get"]
        .into_iter()
        .map(|test| benchmark(server.port, &["-t", test], 1, REQUESTS, &range))
        .collect();
    running.store(false, Ordering::Relaxed);
    let (peak, saves) = saver
        .join()
        .map_err(|_| anyhow::anyhow!("saver thread panicked"))??;
    ensure!(saves > 0, "no BGSAVE ran during the load");
    for (i, sample) in saving?.into_iter().enumerate() {
        figures.saving_p99_ms[i] = sample.p99_ms;
        figures.saving_rps[i] = sample.rps;
    }
    figures.extra_bytes = peak as f64;
    figures.saves = f64::from(saves);
    println!(
        "{:<12} SAVE {:.3} s, {:.1} MB file, load {:.3} s, p99 SET {:.3}/{:.3} ms, GET {:.3}/{:.3} ms \
         idle/saving ({saves} BGSAVEs), peak extra {:.1} MB of a {:.1} MB dataset",
        server.name,
        figures.save_s,
        figures.file_bytes / 1e6,
        figures.load_s,
        figures.idle_p99_ms[0],
        figures.saving_p99_ms[0],
        figures.idle_p99_ms[1],
        figures.saving_p99_ms[1],
        figures.extra_bytes / 1e6,
        figures.dataset_bytes / 1e6,
    );
    drop(conn);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
    Ok(figures)
}

/// Medians of each figure over the rounds.
fn medians(rounds: &[Figures]) -> Figures {
    let m = |f: fn(&Figures) -> f64| median(rounds.iter().map(f).collect());
    Figures {
        save_s: m(|f| f.save_s),
        file_bytes: m(|f| f.file_bytes),
        load_s: m(|f| f.load_s),
        idle_p99_ms: [m(|f| f.idle_p99_ms[0]), m(|f| f.idle_p99_ms[1])],
        saving_p99_ms: [m(|f| f.saving_p99_ms[0]), m(|f| f.saving_p99_ms[1])],
        saving_rps: [m(|f| f.saving_rps[0]), m(|f| f.saving_rps[1])],
        extra_bytes: m(|f| f.extra_bytes),
        dataset_bytes: m(|f| f.dataset_bytes),
        saves: m(|f| f.saves),
    }
}

/// Runs the comparison and rewrites the BENCHMARKS.md section.
pub fn run() -> Result<()> {
    crate::redis::ensure_installed()?;
    let kv_path = build_kv()?;
    let dir: PathBuf =
        std::env::temp_dir().join(format!("kv-bench-persist-{}", std::process::id()));
    let (mut kv, mut redis) = (Vec::new(), Vec::new());
    for r in 0..ROUNDS {
        for is_kv in [r % 2 == 0, r % 2 != 0] {
            let figures = round(is_kv, &kv_path, &dir)?;
            if is_kv {
                kv.push(figures);
            } else {
                redis.push(figures);
            }
        }
    }
    let (kv, redis) = (medians(&kv), medians(&redis));
    let fsync = fsync_lines(&kv_path, &dir)?;
    let section = render(&kv, &redis, &fsync);
    println!("{section}");
    crate::bench::write_section(
        (BEGIN, END),
        "Snapshots: kv vs Redis",
        "cargo xtask bench-persist",
        &section,
    )
}

fn render(kv: &Figures, redis: &Figures, fsync: &[[(f64, f64); 2]]) -> String {
    let row = |what: &str, kv: String, redis: String, ratio: f64| {
        format!("| {what} | {kv} | {redis} | **{ratio:.2}** |\n")
    };
    let mut out = format!(
        "{BEGIN}\nMeasured by `cargo xtask bench-persist` against {}: {KEYS} keys from `DEBUG POPULATE {KEYS} key {VALUE_BYTES}` \
         plus the {LOAD_KEYS} keys of the latency runs, written first; servers pinned to core 0, redis-benchmark \
         (`-t set` then `-t get`, `-c 50 -n {REQUESTS} -r {LOAD_KEYS}`) to core 1, so a background save shares the server's core; \
         median of {ROUNDS} alternating rounds; the appendfsync lines: a fresh server with `appendonly yes`, `-t set -c 50 -n {} -r {LOAD_KEYS}`. kv's figures over Redis's: below 1 is better for times, sizes and memory.\n\n\
         | figure | kv | Redis | kv / Redis |\n|---|---|---|---|\n",
        crate::redis::version(),
        REQUESTS / 4
    );
    out += &row(
        "SAVE time (s)",
        format!("{:.3}", kv.save_s),
        format!("{:.3}", redis.save_s),
        kv.save_s / redis.save_s,
    );
    out += &row(
        "file size (MB)",
        format!("{:.1}", kv.file_bytes / 1e6),
        format!("{:.1}", redis.file_bytes / 1e6),
        kv.file_bytes / redis.file_bytes,
    );
    out += &row(
        "start-up load time (s)",
        format!("{:.3}", kv.load_s),
        format!("{:.3}", redis.load_s),
        kv.load_s / redis.load_s,
    );
    for (i, test) in ["SET", "GET"].into_iter().enumerate() {
        let (kv_idle, kv_saving) = (kv.idle_p99_ms[i], kv.saving_p99_ms[i]);
        let (redis_idle, redis_saving) = (redis.idle_p99_ms[i], redis.saving_p99_ms[i]);
        out += &row(
            &format!("{test} p99 without saving (ms)"),
            format!("{kv_idle:.3}"),
            format!("{redis_idle:.3}"),
            kv_idle / redis_idle,
        );
        out += &row(
            &format!("{test} p99 during BGSAVEs (ms)"),
            format!("{kv_saving:.3}"),
            format!("{redis_saving:.3}"),
            kv_saving / redis_saving,
        );
        out += &row(
            &format!("{test} p99 during / without BGSAVE"),
            format!("{:.2}", kv_saving / kv_idle),
            format!("{:.2}", redis_saving / redis_idle),
            (kv_saving / kv_idle) / (redis_saving / redis_idle),
        );
        out += &row(
            &format!("{test} ops/s during BGSAVEs"),
            format!("{:.0}", kv.saving_rps[i]),
            format!("{:.0}", redis.saving_rps[i]),
            kv.saving_rps[i] / redis.saving_rps[i],
        );
    }
    out += &row(
        "BGSAVEs started during those runs, back to back",
        format!("{:.0}", kv.saves),
        format!("{:.0}", redis.saves),
        kv.saves / redis.saves.max(1.0),
    );
    out += &row(
        "peak extra memory while saving (MB)",
        format!("{:.1}", kv.extra_bytes / 1e6),
        format!("{:.1}", redis.extra_bytes / 1e6),
        kv.extra_bytes / redis.extra_bytes.max(1.0),
    );
    out += &row(
        "peak extra memory / dataset's memory",
        format!("{:.1}%", kv.extra_bytes * 100.0 / kv.dataset_bytes),
        format!("{:.1}%", redis.extra_bytes * 100.0 / redis.dataset_bytes),
        (kv.extra_bytes / kv.dataset_bytes) / (redis.extra_bytes / redis.dataset_bytes).max(1e-9),
    );
    for (policy, [(kv_rps, kv_p99), (redis_rps, redis_p99)]) in FSYNC_POLICIES.iter().zip(fsync) {
        out += &row(
            &format!("SET ops/s with appendonly yes, appendfsync {policy}"),
            format!("{kv_rps:.0}"),
            format!("{redis_rps:.0}"),
            kv_rps / redis_rps,
        );
        out += &row(
            &format!("SET p99 with appendfsync {policy} (ms)"),
            format!("{kv_p99:.3}"),
            format!("{redis_p99:.3}"),
            kv_p99 / redis_p99,
        );
    }
    out.push_str(END);
    out
}
