//! `cargo xtask bench`: kv-server against redis-server on this machine, in one run.
//!
//! Each server is pinned to core 0 and `redis-benchmark` to core 1, so both servers get the
//! same single core and the load generator never competes with them. Runs alternate (kv, Redis,
//! kv, Redis, ...) so drift in the machine's speed hits both alike, and the medians are
//! reported. The results replace the marked section of BENCHMARKS.md.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

/// Rounds of alternating runs; the median of each is reported.
const ROUNDS: usize = 3;
/// Requests per redis-benchmark run.
const REQUESTS: u64 = 200_000;

/// Requests per run at pipeline `pipeline`: pipelined runs are ~10x faster, so they get more
/// requests, enough for the CPU-time reading (1/100 s ticks) to be precise.
fn requests(pipeline: u32) -> u64 {
    if pipeline > 1 {
        REQUESTS * 5
    } else {
        REQUESTS
    }
}
/// Keys loaded for the memory measurement.
const MEMORY_KEYS: usize = 1_000_000;

const BEGIN: &str = "<!-- server-bench:begin -->";
const END: &str = "<!-- server-bench:end -->";

/// A server process, killed on drop.
struct Server {
    child: Child,
    port: u16,
    name: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start(name: &'static str, program: &Path, extra: &[&str]) -> Result<Server> {
    let port = free_port()?;
    let child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(program)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let server = Server { child, port, name };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(Instant::now() < deadline, "{name} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// One measured line: throughput and latency percentiles.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Requests served per second of the server's own CPU time (user + system): what the
    /// server costs per request, which still tells the servers apart when the load generator
    /// is the bottleneck.
    per_cpu_second: f64,
}

/// Runs redis-benchmark for one test and returns its CSV figures.
fn benchmark(port: u16, test: &str, pipeline: u32) -> Result<Sample> {
    let output = Command::new("taskset")
        .args([
            "-c",
            "1",
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args([
            "-c",
            "50",
            "-n",
            &requests(pipeline).to_string(),
            "-r",
            "1000000",
            "-d",
            "32",
            "--csv",
            "-q",
        ])
        .args(["-P", &pipeline.to_string(), "-t", test])
        .output()
        .context("cannot run redis-benchmark")?;
    ensure!(
        output.status.success(),
        "redis-benchmark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    let line = text
        .lines()
        .find(|l| l.starts_with('"') && !l.starts_with("\"test\""))
        .with_context(|| format!("no result line in: {text}"))?;
    let fields: Vec<f64> = line
        .split(',')
        .skip(1)
        .map(|f| f.trim_matches('"').parse().unwrap_or(0.0))
        .collect();
    ensure!(fields.len() >= 6, "unexpected CSV line: {line}");
    Ok(Sample {
        rps: fields[0],
        p50_ms: fields[3],
        p99_ms: fields[5],
        per_cpu_second: 0.0,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// Loads `MEMORY_KEYS` keys of 16 bytes with 32-byte values through `redis-cli --pipe` and
/// returns the growth of the server's resident memory per key.
fn bytes_per_key(server: &Server) -> Result<f64> {
    let before = rss(server.child.id())?;
    let mut stream = Vec::with_capacity(MEMORY_KEYS * 64);
    for i in 0..MEMORY_KEYS {
        let key = format!("key:{i:012}");
        let value = format!("value:{i:026}");
        write!(
            stream,
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
            key.len(),
            value.len()
        )?;
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    child.stdin.take().context("no stdin")?.write_all(&stream)?;
    ensure!(
        child.wait()?.success(),
        "redis-cli --pipe failed against {}",
        server.name
    );
    std::thread::sleep(Duration::from_millis(500));
    let after = rss(server.child.id())?;
    Ok(after.saturating_sub(before) as f64 / MEMORY_KEYS as f64)
}

/// Builds kv-server in release mode and returns its path.
fn build_kv() -> Result<PathBuf> {
    crate::cargo::run(&["build", "--release", "--bin", "kv-server"])?;
    Ok(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/kv-server"))
}

/// Runs the whole comparison and rewrites the BENCHMARKS.md section.
pub fn run() -> Result<()> {
    crate::redis::ensure_installed()?;
    let kv_path = build_kv()?;
    let redis_path = PathBuf::from("redis-server");
    let tests = ["set", "get", "incr", "mset"];
    let pipelines = [1u32, 16];
    let mut rows = Vec::new();
    for test in tests {
        for pipeline in pipelines {
            let (mut kv, mut redis) = (Vec::new(), Vec::new());
            for round in 0..ROUNDS {
                // Alternate which goes first, so neither always runs on a warmer machine.
                let order: [bool; 2] = if round % 2 == 0 {
                    [true, false]
                } else {
                    [false, true]
                };
                for is_kv in order {
                    let server = if is_kv {
                        start("kv-server", &kv_path, &[])?
                    } else {
                        start(
                            "redis-server",
                            &redis_path,
                            &["--save", "", "--appendonly", "no"],
                        )?
                    };
                    let cpu_before = cpu_seconds(server.child.id())?;
                    let mut sample = benchmark(server.port, test, pipeline)?;
                    let cpu = cpu_seconds(server.child.id())? - cpu_before;
                    let served = requests(pipeline) as f64;
                    sample.per_cpu_second = if cpu > 0.0 { served / cpu } else { 0.0 };
                    println!(
                        "{:<12} {test:<5} P={pipeline:<2} round {round}: {:>12.0} ops/s",
                        server.name, sample.rps
                    );
                    if is_kv {
                        kv.push(sample)
                    } else {
                        redis.push(sample)
                    }
                }
            }
            rows.push((test, pipeline, summarize(&kv), summarize(&redis)));
        }
    }
    let kv_server = start("kv-server", &kv_path, &[])?;
    let kv_bytes = bytes_per_key(&kv_server)?;
    drop(kv_server);
    let redis_server = start(
        "redis-server",
        &redis_path,
        &["--save", "", "--appendonly", "no"],
    )?;
    let redis_bytes = bytes_per_key(&redis_server)?;
    drop(redis_server);
    let section = render(&rows, kv_bytes, redis_bytes);
    println!("{section}");
    write_section(&section)
}

fn summarize(samples: &[Sample]) -> Sample {
    Sample {
        rps: median(samples.iter().map(|s| s.rps).collect()),
        p50_ms: median(samples.iter().map(|s| s.p50_ms).collect()),
        p99_ms: median(samples.iter().map(|s| s.p99_ms).collect()),
        per_cpu_second: median(samples.iter().map(|s| s.per_cpu_second).collect()),
    }
}

/// CPU time (user + system) a process has used, from /proc, whose clock ticks are 1/100 s
/// on Linux.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((ticks(11) + ticks(12)) / 100.0)
}

fn render(rows: &[(&str, u32, Sample, Sample)], kv_bytes: f64, redis_bytes: f64) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let redis_version = Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut out = String::new();
    out.push_str(&format!(
        "{BEGIN}\nMeasured by `cargo xtask bench` on {cpu} ({} cores), against {redis_version}. Each server \
         pinned to core 0, redis-benchmark to core 1; 50 clients, {REQUESTS} requests per run ({} when pipelined), random keys over a \
         1M keyspace (`-r 1000000`), 32-byte values; median of {ROUNDS} alternating runs.\n\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        requests(16)
    ));
    out.push_str("| test | pipeline | kv ops/s | Redis ops/s | kv / Redis | kv p50 ms | Redis p50 ms | kv p99 ms | Redis p99 ms | kv ops per CPU-s | Redis ops per CPU-s | kv / Redis |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (test, pipeline, kv, redis) in rows {
        out.push_str(&format!(
            "| {} | {pipeline} | {:.0} | {:.0} | **{:.2}** | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} | **{:.2}** |\n",
            test.to_uppercase(),
            kv.rps,
            redis.rps,
            kv.rps / redis.rps.max(1.0),
            kv.p50_ms,
            redis.p50_ms,
            kv.p99_ms,
            redis.p99_ms,
            kv.per_cpu_second,
            redis.per_cpu_second,
            kv.per_cpu_second / redis.per_cpu_second.max(1.0)
        ));
    }
    out.push_str(&format!(
        "\nMemory: resident bytes per key after loading {MEMORY_KEYS} keys (16-byte keys, 32-byte values) with \
         `redis-cli --pipe`: kv **{kv_bytes:.1}**, Redis **{redis_bytes:.1}** (kv / Redis = {:.2}).\n{END}",
        kv_bytes / redis_bytes.max(1.0)
    ));
    out
}

/// Replaces the marked section of BENCHMARKS.md (appending it the first time).
fn write_section(section: &str) -> Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let updated = match (text.find(BEGIN), text.find(END)) {
        (Some(begin), Some(end)) if end > begin => format!("{}{section}{}", &text[..begin], &text[end + END.len()..]),
        (None, None) => format!("{}\n## kv-server vs redis-server\n\nReproduce with `cargo xtask bench`.\n\n{section}\n", text.trim_end()),
        _ => bail!("BENCHMARKS.md has a broken {BEGIN} section"),
    };
    std::fs::write(&path, updated)?;
    Ok(())
}
