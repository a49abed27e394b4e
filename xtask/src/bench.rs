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

/// Rounds of alternating runs by default; the median of each is reported.
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

const BEGIN: &str = "<!-- server-bench:begin -->";
const END: &str = "<!-- server-bench:end -->";

/// A server process, killed on drop.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) name: &'static str,
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

pub(crate) fn start(name: &'static str, program: &Path, extra: &[&str]) -> Result<Server> {
    let port = free_port()?;
    let child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(program)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        // No save points: a benchmark measures commands, not snapshots (unless `extra` sets some).
        .args(["--save", ""])
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
pub(crate) struct Sample {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Requests served per second of the server's own CPU time (user + system): what the
    /// server costs per request, which still tells the servers apart when the load generator
    /// is the bottleneck.
    per_cpu_second: f64,
}

/// One line of the comparison: what redis-benchmark runs, and what must be in the server
/// first.
struct Workload {
    /// The name in the table.
    name: &'static str,
    /// redis-benchmark's arguments after the common options: `-t test` for a built-in test,
    /// or a command (with `__rand_int__` placeholders) for a custom one.
    command: &'static [&'static str],
    /// An unmeasured run before it, with the same options but this command, as many
    /// requests as the measured run plus a tenth, and this `-r` range: fills what the test
    /// takes away or looks up.
    setup: Option<(&'static [&'static str], &'static str)>,
    /// Options both servers start with, after their usual ones.
    server_args: &'static [&'static str],
}

/// The PUBLISH fan-out line's medians: delivery rates, and deliveries per server CPU-second.
struct Fanout {
    kv: f64,
    other: f64,
    kv_per_cpu: f64,
    other_per_cpu: f64,
}

/// Every line of the comparison, in table order.
const WORKLOADS: &[Workload] = &[
    Workload {
        name: "SET",
        command: &["-t", "set"],
        setup: None,
        server_args: &[],
    },
    Workload {
        // Over the keys of 1,000,000 random SETs first (about 632,000 keys, 63% of the
        // keyspace), so that most GETs find their key, as reads of a cache do.
        name: "GET",
        command: &["-t", "get"],
        setup: Some((&["-t", "set"], "1000000")),
        server_args: &[],
    },
    Workload {
        name: "INCR",
        command: &["-t", "incr"],
        setup: None,
        server_args: &[],
    },
    Workload {
        name: "MSET",
        command: &["-t", "mset"],
        setup: None,
        server_args: &[],
    },
    Workload {
        name: "LPUSH",
        command: &["-t", "lpush"],
        setup: None,
        server_args: &[],
    },
    Workload {
        name: "LPOP",
        command: &["-t", "lpop"],
        setup: Some((&["-t", "lpush"], "1000000")),
        server_args: &[],
    },
    Workload {
        name: "LRANGE_100",
        command: &["-t", "lrange_100"],
        setup: None,
        server_args: &[],
    },
    Workload {
        name: "SADD",
        command: &["-t", "sadd"],
        setup: None,
        server_args: &[],
    },
    Workload {
        name: "SPOP",
        command: &["-t", "spop"],
        setup: Some((&["SADD", "myset", "element:__rand_int__"], "100000000")),
        server_args: &[],
    },
    Workload {
        name: "HSET",
        command: &["-t", "hset"],
        setup: None,
        server_args: &[],
    },
    Workload {
        name: "ZADD",
        command: &["-t", "zadd"],
        setup: None,
        server_args: &[],
    },
    Workload {
        name: "ZRANGEBYSCORE",
        command: &[
            "ZRANGEBYSCORE",
            "myzset",
            "__rand_int__",
            "+inf",
            "LIMIT",
            "0",
            "10",
        ],
        setup: Some((
            &["ZADD", "myzset", "__rand_int__", "element:__rand_int__"],
            "1000000",
        )),
        server_args: &[],
    },
    Workload {
        name: "ZRANK",
        command: &["ZRANK", "myzset", "element:__rand_int__"],
        setup: Some((
            &["ZADD", "myzset", "__rand_int__", "element:__rand_int__"],
            "1000000",
        )),
        server_args: &[],
    },
    Workload {
        // Whole-database reads over the keys of about 1.1 requests' worth of random SETs.
        name: "DBSIZE",
        command: &["DBSIZE"],
        setup: Some((&["-t", "set"], "1000000")),
        server_args: &[],
    },
    Workload {
        name: "RANDOMKEY",
        command: &["RANDOMKEY"],
        setup: Some((&["-t", "set"], "1000000")),
        server_args: &[],
    },
    Workload {
        // One call from the start (COUNT 10): what a call costs.
        name: "SCAN",
        command: &["SCAN", "0"],
        setup: Some((&["-t", "set"], "1000000")),
        server_args: &[],
    },
    Workload {
        // One call from the start (COUNT 10) over a large collection, as SCAN above.
        name: "HSCAN",
        command: &["HSCAN", "myhash", "0"],
        setup: Some((&["HSET", "myhash", "element:__rand_int__", "v"], "1000000")),
        server_args: &[],
    },
    Workload {
        name: "SSCAN",
        command: &["SSCAN", "myset", "0"],
        setup: Some((&["SADD", "myset", "element:__rand_int__"], "1000000")),
        server_args: &[],
    },
    Workload {
        name: "ZSCAN",
        command: &["ZSCAN", "myzset", "0"],
        setup: Some((
            &["ZADD", "myzset", "__rand_int__", "element:__rand_int__"],
            "1000000",
        )),
        server_args: &[],
    },
    Workload {
        // SETs of new keys while memory is full: every write evicts (about one key each).
        name: "SET_EVICTING",
        command: &["-t", "set"],
        setup: Some((&["-t", "set"], "1000000")),
        server_args: &["--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru"],
    },
];

/// Where redis-benchmark reaches a server.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Endpoint<'a> {
    /// TCP on 127.0.0.1.
    Port(u16),
    /// A unix socket.
    Socket(&'a Path),
}

/// Runs redis-benchmark with `command` (see [`Workload::command`]) against the server on
/// `port` and returns the figures of its last CSV line (a built-in test may run a filler
/// first, as LRANGE runs an LPUSH).
pub(crate) fn benchmark(
    port: u16,
    command: &[&str],
    pipeline: u32,
    requests: u64,
    range: &str,
) -> Result<Sample> {
    benchmark_at(Endpoint::Port(port), command, pipeline, requests, range)
}

/// [`benchmark`] against `endpoint`.
pub(crate) fn benchmark_at(
    endpoint: Endpoint<'_>,
    command: &[&str],
    pipeline: u32,
    requests: u64,
    range: &str,
) -> Result<Sample> {
    let mut redis_benchmark = Command::new("taskset");
    redis_benchmark.args(["-c", "1", "redis-benchmark"]);
    match endpoint {
        Endpoint::Port(port) => redis_benchmark.args(["-h", "127.0.0.1", "-p", &port.to_string()]),
        Endpoint::Socket(path) => redis_benchmark.arg("-s").arg(path),
    };
    let output = redis_benchmark
        .args([
            "-c",
            "50",
            "-n",
            &requests.to_string(),
            "-r",
            range,
            "-d",
            "32",
            "--csv",
            "-q",
        ])
        .args(["-P", &pipeline.to_string()])
        .args(command)
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
        .rev()
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

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Resident memory of a process, in bytes.
pub(crate) fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// A memory measurement: what is loaded, one item at a time.
struct MemoryLoad {
    /// The row's description.
    what: &'static str,
    /// The command that adds item `i` (of [`MEMORY_ITEMS`]), as arguments.
    item: fn(usize) -> Vec<String>,
}

/// Items loaded for each memory measurement.
const MEMORY_ITEMS: usize = 1_000_000;

/// The memory rows: 1M string keys, then one key of each collection type with 1M elements.
/// Members and fields are 20 bytes (`element:` and 12 digits), values 16.
const MEMORY_LOADS: &[MemoryLoad] = &[
    MemoryLoad {
        what: "string keys (16-byte keys, 32-byte values)",
        item: |i| {
            vec![
                "SET".into(),
                format!("key:{i:012}"),
                format!("value:{i:026}"),
            ]
        },
    },
    MemoryLoad {
        what: "list elements (one list)",
        item: |i| vec!["RPUSH".into(), "list".into(), format!("element:{i:012}")],
    },
    MemoryLoad {
        what: "hash fields (one hash, 16-byte values)",
        item: |i| {
            vec![
                "HSET".into(),
                "hash".into(),
                format!("element:{i:012}"),
                format!("value:{i:010}"),
            ]
        },
    },
    MemoryLoad {
        what: "set members (one set)",
        item: |i| vec!["SADD".into(), "set".into(), format!("element:{i:012}")],
    },
    MemoryLoad {
        what: "sorted set members (one sorted set)",
        item: |i| {
            vec![
                "ZADD".into(),
                "zset".into(),
                i.to_string(),
                format!("element:{i:012}"),
            ]
        },
    },
];

/// Loads [`MEMORY_ITEMS`] items through `redis-cli --pipe` and returns the growth of the
/// server's resident memory per item.
fn bytes_per_item(server: &Server, load: &MemoryLoad) -> Result<f64> {
    let before = rss(server.child.id())?;
    let mut stream = Vec::with_capacity(MEMORY_ITEMS * 64);
    for i in 0..MEMORY_ITEMS {
        let args = (load.item)(i);
        write!(stream, "*{}\r\n", args.len())?;
        for arg in &args {
            write!(stream, "${}\r\n{arg}\r\n", arg.len())?;
        }
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
    Ok(after.saturating_sub(before) as f64 / MEMORY_ITEMS as f64)
}

/// Builds kv-server in release mode and returns its path.
pub(crate) fn build_kv() -> Result<PathBuf> {
    crate::cargo::run(&["build", "--release", "--bin", "kv-server"])?;
    Ok(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/kv-server"))
}

/// What `cargo xtask bench` was asked for.
#[derive(Debug, Default)]
pub struct Options {
    /// Line names, comma-separated (`--only ZADD,ZRANK`): run those alone.
    pub only: Option<String>,
    /// Another kv-server binary to compare with instead of Redis (`--baseline PATH`), for an
    /// A/B of two builds of kv.
    pub baseline: Option<PathBuf>,
    /// Rounds of alternating runs (`--rounds N`), [`ROUNDS`] when not given: more rounds tell
    /// smaller differences from this machine's noise.
    pub rounds: Option<usize>,
    /// Whether redis-benchmark talks to the servers over a unix socket (`--unix`), where the
    /// kernel's share of each request is smaller than over TCP.
    pub unix: bool,
}

/// Runs the comparison and rewrites the BENCHMARKS.md section. A partial run (some lines
/// only) or one against a baseline build prints its table without writing it, so only a full
/// comparison with Redis ever replaces the one on file.
pub fn run(options: &Options) -> Result<()> {
    // The PUBLISH fan-out line runs in a full run, or when `--only` names `FANOUT` (over TCP).
    let mut fanout = options.only.is_none() && !options.unix;
    let selected: Vec<&Workload> = match options.only.as_deref() {
        None => WORKLOADS.iter().collect(),
        Some(names) => {
            let mut selected = Vec::new();
            for name in names.split(',') {
                if name.eq_ignore_ascii_case("FANOUT") {
                    fanout = !options.unix;
                    continue;
                }
                match WORKLOADS.iter().find(|w| w.name.eq_ignore_ascii_case(name)) {
                    Some(workload) => selected.push(workload),
                    None => bail!("no benchmark line named `{name}`"),
                }
            }
            selected
        }
    };
    crate::redis::ensure_installed()?;
    let kv_path = build_kv()?;
    // The server kv is compared with: Redis, or another build of kv.
    let (other_name, other_label, other_path, other_args): (&'static str, &str, PathBuf, &[&str]) =
        match &options.baseline {
            Some(path) => ("baseline", "baseline", path.clone(), &[]),
            None => (
                "redis-server",
                "Redis",
                PathBuf::from("redis-server"),
                &["--save", "", "--appendonly", "no"],
            ),
        };
    let pipelines = [1u32, 16];
    let rounds = options.rounds.unwrap_or(ROUNDS).max(1);
    let socket = options
        .unix
        .then(|| std::env::temp_dir().join(format!("kv-bench-{}.sock", std::process::id())));
    let mut socket_args = Vec::new();
    if let Some(path) = &socket {
        socket_args = vec![
            "--unixsocket",
            path.to_str().context("a temporary path in UTF-8")?,
        ];
    }
    let mut rows = Vec::new();
    for workload in selected {
        for pipeline in pipelines {
            let (mut kv, mut redis) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                // Alternate which goes first, so neither always runs on a warmer machine.
                let order: [bool; 2] = if round % 2 == 0 {
                    [true, false]
                } else {
                    [false, true]
                };
                for is_kv in order {
                    let server = if is_kv {
                        let args = [workload.server_args, &socket_args].concat();
                        start("kv-server", &kv_path, &args)?
                    } else {
                        let args = [other_args, workload.server_args, &socket_args].concat();
                        start(other_name, &other_path, &args)?
                    };
                    let endpoint = match &socket {
                        Some(path) => {
                            wait_for_socket(server.name, path)?;
                            Endpoint::Socket(path)
                        }
                        None => Endpoint::Port(server.port),
                    };
                    let count = requests(pipeline);
                    if let Some((setup, range)) = workload.setup {
                        benchmark_at(endpoint, setup, pipeline, count + count / 10, range)?;
                    }
                    let cpu_before = cpu_seconds(server.child.id())?;
                    let mut sample =
                        benchmark_at(endpoint, workload.command, pipeline, count, "1000000")?;
                    let cpu = cpu_seconds(server.child.id())? - cpu_before;
                    let served = count as f64;
                    sample.per_cpu_second = if cpu > 0.0 { served / cpu } else { 0.0 };
                    println!(
                        "{:<12} {:<13} P={pipeline:<2} round {round}: {:>12.0} ops/s",
                        server.name, workload.name, sample.rps
                    );
                    if is_kv {
                        kv.push(sample)
                    } else {
                        redis.push(sample)
                    }
                }
            }
            rows.push((workload.name, pipeline, summarize(&kv), summarize(&redis)));
        }
    }
    let fanout = if fanout {
        let (mut kv, mut other) = (Vec::new(), Vec::new());
        let (mut kv_cpu, mut other_cpu) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            for is_kv in [round % 2 == 0, round % 2 != 0] {
                let server = if is_kv {
                    start("kv-server", &kv_path, &[])?
                } else {
                    start(other_name, &other_path, other_args)?
                };
                let cpu_before = cpu_seconds(server.child.id())?;
                let delivered = crate::fanout::measure(server.port)?;
                let cpu = cpu_seconds(server.child.id())? - cpu_before;
                let total = (crate::fanout::MESSAGES * crate::fanout::SUBSCRIBERS) as f64;
                let per_cpu = if cpu > 0.0 { total / cpu } else { 0.0 };
                println!(
                    "{:<12} PUBLISH fan-out round {round}: {delivered:>12.0} messages/s delivered, \
                     {per_cpu:.0} per CPU-s",
                    server.name
                );
                if is_kv {
                    kv.push(delivered);
                    kv_cpu.push(per_cpu);
                } else {
                    other.push(delivered);
                    other_cpu.push(per_cpu);
                }
            }
        }
        Some(Fanout {
            kv: median(kv),
            other: median(other),
            kv_per_cpu: median(kv_cpu),
            other_per_cpu: median(other_cpu),
        })
    } else {
        None
    };
    if options.only.is_some()
        || options.baseline.is_some()
        || options.rounds.is_some()
        || options.unix
    {
        if options.unix {
            println!("Over each server's unix socket (`redis-benchmark -s`):");
        }
        println!("{}", render(&rows, &[], fanout, other_label, rounds));
        return Ok(());
    }
    let mut memory = Vec::new();
    for load in MEMORY_LOADS {
        let kv_server = start("kv-server", &kv_path, &[])?;
        let kv_bytes = bytes_per_item(&kv_server, load)?;
        drop(kv_server);
        let redis_server = start(other_name, &other_path, other_args)?;
        let redis_bytes = bytes_per_item(&redis_server, load)?;
        drop(redis_server);
        println!(
            "memory {:<40} kv {kv_bytes:.1} B, Redis {redis_bytes:.1} B",
            load.what
        );
        memory.push((load.what, kv_bytes, redis_bytes));
    }
    let section = render(&rows, &memory, fanout, other_label, rounds);
    println!("{section}");
    write_section(
        (BEGIN, END),
        "kv-server vs redis-server",
        "cargo xtask bench",
        &section,
    )
}

/// Waits until the server `name` accepts connections on its unix socket at `path`.
fn wait_for_socket(name: &str, path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(path).is_err() {
        ensure!(
            Instant::now() < deadline,
            "{name} did not open {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
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
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64> {
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

/// The section's text: the throughput table and the memory table, kv against `other` (Redis, or
/// a baseline build of kv).
fn render(
    rows: &[(&str, u32, Sample, Sample)],
    memory: &[(&str, f64, f64)],
    fanout: Option<Fanout>,
    other: &str,
    rounds: usize,
) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let redis_version = crate::redis::version();
    let mut out = String::new();
    out.push_str(&format!(
        "{BEGIN}\nMeasured by `cargo xtask bench` on {cpu} ({} cores), against {redis_version}. Each server \
         pinned to core 0, redis-benchmark to core 1; 50 clients, {REQUESTS} requests per run ({} when pipelined), random keys over a \
         1M keyspace (`-r 1000000`), 32-byte values; median of {rounds} alternating runs.\n\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        requests(16)
    ));
    out.push_str(&format!("| test | pipeline | kv ops/s | {other} ops/s | kv / {other} | kv p50 ms | {other} p50 ms | kv p99 ms | {other} p99 ms | kv ops per CPU-s | {other} ops per CPU-s | kv / {other} |\n"));
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (test, pipeline, kv, redis) in rows {
        out.push_str(&format!(
            "| {} | {pipeline} | {:.0} | {:.0} | **{:.2}** | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} | **{:.2}** |\n",
            test,
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
    if let Some(f) = fanout {
        out.push_str(&format!(
            "\nPUBLISH fan-out: one publisher (`redis-benchmark -c 1 -P 16`, {} messages of 32 \
             bytes) and {} RESP2 subscribers on one channel, both on core 1; messages delivered \
             per second over all subscribers, from the first received to the last, and messages \
             delivered per second of the server's CPU time.\n\n\
             | test | kv messages/s | {other} messages/s | kv / {other} | kv per CPU-s | {other} per CPU-s | kv / {other} |\n|---|---|---|---|---|---|---|\n\
             | PUBLISH fan-out | {:.0} | {:.0} | **{:.2}** | {:.0} | {:.0} | **{:.2}** |\n",
            crate::fanout::MESSAGES,
            crate::fanout::SUBSCRIBERS,
            f.kv,
            f.other,
            f.kv / f.other.max(1.0),
            f.kv_per_cpu,
            f.other_per_cpu,
            f.kv_per_cpu / f.other_per_cpu.max(1.0),
        ));
    }
    out.push_str(&format!(
        "\nMemory: growth of resident memory per item after loading {MEMORY_ITEMS} items with \
         `redis-cli --pipe` into a fresh server.\n\n| items | kv bytes | {other} bytes | kv / {other} |\n|---|---|---|---|\n"
    ));
    for (what, kv_bytes, redis_bytes) in memory {
        out.push_str(&format!(
            "| {what} | {kv_bytes:.1} | {redis_bytes:.1} | **{:.2}** |\n",
            kv_bytes / redis_bytes.max(1.0)
        ));
    }
    out.push_str(END);
    out
}

/// Replaces the section of BENCHMARKS.md between the `markers` (appending it, under `heading`
/// with the command that reproduces it, the first time).
pub(crate) fn write_section(
    (begin_mark, end_mark): (&str, &str),
    heading: &str,
    command: &str,
    section: &str,
) -> Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let updated = match (text.find(begin_mark), text.find(end_mark)) {
        (Some(begin), Some(end)) if end > begin => format!(
            "{}{section}{}",
            &text[..begin],
            &text[end + end_mark.len()..]
        ),
        (None, None) => format!(
            "{}\n\n## {heading}\n\nReproduce with `{command}`.\n\n{section}\n",
            text.trim_end()
        ),
        _ => bail!("BENCHMARKS.md has a broken {begin_mark} section"),
    };
    std::fs::write(&path, updated)?;
    Ok(())
}
