//! `cargo xtask repl-chaos`: replication under faults. A kv master and two kv replicas, each
//! replica linked through its own TCP proxy (`kv_testkit::Proxy`), while writers keep writing;
//! each iteration injects one fault at random:
//!
//! - cut: every connection through a replica's proxy is closed (the replica reconnects and
//!   continues partially, or resyncs fully if the small backlog no longer holds its offset);
//! - stall: a link holds its bytes for 0.5 to 3 s (past `repl-timeout`, 2 s here, both sides
//!   drop it);
//! - slow: a link forwards 4 KiB per millisecond for a while (the replica falls behind);
//! - kill: a replica is killed with SIGKILL (after a SAVE half of the time) and started again on
//!   its directory, continuing from where its data stands when the backlog allows: replica 0
//!   from its snapshot's position, replica 1 (`appendonly yes`) from its log's.
//!
//! Then the faults stop, the writers stop, and every replica's DEBUG DIGEST must equal the
//! master's. Last, the master is killed while writers run, the replica with the highest
//! offset is promoted (REPLICAOF NO ONE, as Sentinel would choose), and every write a writer
//! was told had reached a replica (`WAIT 1`) must be on it; the other replica follows it.
//! Prints iterations, faults, writes and checks; fails on the first difference.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use kv_testkit::{Proxy, Rng};

use crate::bench::{build_kv, start, Server};
use crate::persist_bench::Conn;

/// Iterations by default.
const ITERATIONS: usize = 20;

/// Writers, each on its own counter.
const WRITERS: usize = 3;

/// A replica: its server, the proxy its link goes through, its directory, whether it logs.
struct Replica {
    server: Option<Server>,
    proxy: Proxy,
    dir: PathBuf,
    appendonly: bool,
}

/// What the writers were told.
#[derive(Default)]
struct Acknowledged {
    /// Per writer: the counter's last value acknowledged.
    counters: Vec<AtomicU64>,
    /// Per writer: the last value a `WAIT 1` after it confirmed on a replica.
    waited: Vec<AtomicU64>,
    /// Writes acknowledged in all.
    writes: AtomicU64,
}

/// Runs the fault loop `iterations` times, then the checks.
pub fn run(iterations: Option<usize>) -> Result<()> {
    let iterations = iterations.unwrap_or(ITERATIONS);
    let kv = build_kv()?;
    let root = std::env::temp_dir().join(format!("kv-repl-chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let result = chaos(&kv, &root, iterations);
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn chaos(kv: &Path, root: &Path, iterations: usize) -> Result<()> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64
        | 1;
    println!("repl-chaos: seed {seed}, {iterations} iterations");
    let mut rng = Rng(seed);
    let master_dir = root.join("master");
    std::fs::create_dir_all(&master_dir)?;
    let master = start(
        "kv-server",
        kv,
        &[&["--dir", path_str(&master_dir)?][..], &common_args()[..]].concat(),
    )?;
    let mut replicas = Vec::new();
    for i in 0..2 {
        let dir = root.join(format!("replica{i}"));
        std::fs::create_dir_all(&dir)?;
        let proxy = Proxy::start(master.port);
        let mut replica = Replica {
            server: None,
            proxy,
            dir,
            appendonly: i == 1,
        };
        replica.server = Some(start_replica(kv, &replica)?);
        replicas.push(replica);
    }
    let acknowledged = Arc::new(Acknowledged {
        counters: (0..WRITERS).map(|_| AtomicU64::new(0)).collect(),
        waited: (0..WRITERS).map(|_| AtomicU64::new(0)).collect(),
        writes: AtomicU64::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writers = spawn_writers(master.port, &acknowledged, &stop);
    let mut faults = [0u32; 4];
    // Per replica, restarts followed by a full sync and by a partial one.
    let mut restarts = [[0u32; 2]; 2];
    for iteration in 0..iterations {
        let which = rng.below(2);
        let replica = &mut replicas[which];
        let fault = rng.below(4);
        faults[fault] += 1;
        let hold = Duration::from_millis(500 + rng.below(2500) as u64);
        match fault {
            0 => replica.proxy.cut(),
            1 => {
                replica.proxy.stall(true);
                std::thread::sleep(hold);
                replica.proxy.stall(false);
            }
            2 => {
                replica.proxy.slow(Some(Duration::from_millis(1)));
                std::thread::sleep(hold);
                replica.proxy.slow(None);
            }
            _ => {
                if rng.below(2) == 0 {
                    let port = replica
                        .server
                        .as_ref()
                        .map(|s| s.port)
                        .context("no replica")?;
                    // May fail while the replica is syncing; a kill without a save is fine too.
                    let _ = Conn::open(port).and_then(|mut c| c.call(&["SAVE"]));
                }
                let mut m = Conn::open(master.port)?;
                let partial_before = field(&info(&mut m, "stats")?, "sync_partial_ok");
                drop(replica.server.take());
                replica.server = Some(start_replica(kv, replica)?);
                // How it came back (the other replica is not faulted meanwhile).
                if wait_linked(replica)? {
                    let partial = field(&info(&mut m, "stats")?, "sync_partial_ok");
                    restarts[which][usize::from(partial != partial_before)] += 1;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200 + rng.below(500) as u64));
        println!(
            "iteration {iteration}: {} on replica {which}; {} writes acknowledged so far",
            ["cut", "stall", "slow", "kill"][fault],
            acknowledged.writes.load(Ordering::SeqCst)
        );
    }
    // Quiet: every replica must reach the master's data exactly.
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
    }
    let mut m = Conn::open(master.port)?;
    let master_digest = m.call(&["DEBUG", "DIGEST"])?;
    for (i, replica) in replicas.iter().enumerate() {
        let port = replica
            .server
            .as_ref()
            .map(|s| s.port)
            .context("no replica")?;
        wait_caught_up(&mut m, port)?;
        let digest = Conn::open(port)?.call(&["DEBUG", "DIGEST"])?;
        ensure!(
            digest == master_digest,
            "replica {i}'s digest {digest} differs from the master's {master_digest}"
        );
    }
    for (i, [full, partial]) in restarts.iter().enumerate() {
        let from = if replicas[i].appendonly {
            "its AOF"
        } else {
            "its snapshot or nothing"
        };
        println!("replica {i} restarted from {from}: {partial} continued partially, {full} synced in full");
    }
    let syncs = info(&mut m, "stats")?;
    println!(
        "faults: {} cuts, {} stalls, {} slowdowns, {} replica kills; master served {} full and {} partial syncs; {} writes acknowledged; digests equal",
        faults[0],
        faults[1],
        faults[2],
        faults[3],
        field(&syncs, "sync_full"),
        field(&syncs, "sync_partial_ok"),
        acknowledged.writes.load(Ordering::SeqCst)
    );
    promotion(master, &mut replicas, &acknowledged)
}

/// Kills the master under write load, promotes the replica with the highest offset and checks
/// every write confirmed by `WAIT 1` is on it; the other replica must follow it.
fn promotion(
    master: Server,
    replicas: &mut [Replica],
    acknowledged: &Arc<Acknowledged>,
) -> Result<()> {
    for counter in &acknowledged.waited {
        counter.store(0, Ordering::SeqCst);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers = spawn_writers(master.port, acknowledged, &stop);
    std::thread::sleep(Duration::from_millis(1500));
    drop(master);
    for writer in writers {
        // They end when the master dies.
        let _ = writer.join();
    }
    let ports: Vec<u16> = replicas
        .iter()
        .map(|r| r.server.as_ref().map(|s| s.port).context("no replica"))
        .collect::<Result<_>>()?;
    let mut offsets = Vec::new();
    for &port in &ports {
        let replication = info(&mut Conn::open(port)?, "replication")?;
        offsets.push(
            field(&replication, "slave_repl_offset")
                .parse::<i64>()
                .unwrap_or(-1),
        );
    }
    let (best, other) = if offsets[0] >= offsets[1] {
        (0, 1)
    } else {
        (1, 0)
    };
    let mut promoted = Conn::open(ports[best])?;
    ensure!(
        promoted.call(&["REPLICAOF", "NO", "ONE"])? == "OK",
        "promotion refused"
    );
    let mut checked = 0;
    for (w, waited) in acknowledged.waited.iter().enumerate() {
        let waited = waited.load(Ordering::SeqCst);
        let value = promoted.call(&["GET", &format!("chaos:counter:{w}")])?;
        let value: u64 = value.parse().unwrap_or(0);
        ensure!(
            value >= waited,
            "writer {w}: WAIT confirmed {waited} on a replica, the promoted one has {value}"
        );
        checked += 1;
    }
    let mut follower = Conn::open(ports[other])?;
    ensure!(
        follower.call(&["REPLICAOF", "127.0.0.1", &ports[best].to_string()])? == "OK",
        "re-pointing refused"
    );
    std::thread::sleep(Duration::from_millis(200));
    promoted.call(&["SET", "chaos:after", "promotion"])?;
    wait_caught_up(&mut promoted, ports[other])?;
    let a = promoted.call(&["DEBUG", "DIGEST"])?;
    let b = follower.call(&["DEBUG", "DIGEST"])?;
    ensure!(
        a == b,
        "after the promotion the replica's digest {b} differs from {a}"
    );
    let stats = info(&mut promoted, "stats")?;
    println!(
        "promotion: master killed under load, replica {best} (offset {}) promoted; {checked} writers' WAIT-confirmed counters present; replica {other} followed it ({} full, {} partial syncs); digests equal",
        offsets[best],
        field(&stats, "sync_full"),
        field(&stats, "sync_partial_ok"),
    );
    Ok(())
}

/// Options every server of the run gets: a small backlog (so some resyncs are full) and a
/// short `repl-timeout` (so stalls time links out).
fn common_args() -> Vec<&'static str> {
    vec![
        "--enable-debug-command",
        "yes",
        "--repl-backlog-size",
        "256kb",
        "--repl-timeout",
        "2",
        "--repl-ping-replica-period",
        "1",
    ]
}

fn start_replica(kv: &Path, replica: &Replica) -> Result<Server> {
    let master = format!("127.0.0.1 {}", replica.proxy.port);
    let appendonly = if replica.appendonly { "yes" } else { "no" };
    let args = [
        &["--dir", path_str(&replica.dir)?, "--replicaof", &master][..],
        &["--appendonly", appendonly][..],
        &common_args()[..],
    ]
    .concat();
    start("kv-server", kv, &args)
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().context("temporary directory is not UTF-8")
}

/// Writers: each INCRs its counter, SETs a key of a few hundred bytes (so the backlog turns
/// over), and every tenth time WAITs for one replica, recording what was confirmed.
fn spawn_writers(
    port: u16,
    acknowledged: &Arc<Acknowledged>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Result<()>>> {
    (0..WRITERS)
        .map(|w| {
            let acknowledged = Arc::clone(acknowledged);
            let stop = Arc::clone(stop);
            std::thread::spawn(move || -> Result<()> {
                let mut conn = Conn::open(port)?;
                let key = format!("chaos:counter:{w}");
                let filler = "x".repeat(300);
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let Ok(value) = conn.call(&["INCR", &key]) else {
                        return Ok(());
                    };
                    let Ok(value) = value.parse::<u64>() else {
                        bail!("INCR answered {value}");
                    };
                    acknowledged.counters[w].store(value, Ordering::SeqCst);
                    n += 1;
                    let set = conn.call(&["SET", &format!("chaos:{w}:{}", n % 1000), &filler]);
                    if set.is_err() {
                        return Ok(());
                    }
                    acknowledged.writes.fetch_add(2, Ordering::SeqCst);
                    if n.is_multiple_of(10) {
                        match conn.call(&["WAIT", "1", "100"]) {
                            Ok(count) if count.parse::<u64>().unwrap_or(0) >= 1 => {
                                acknowledged.waited[w].store(value, Ordering::SeqCst);
                            }
                            Ok(_) => {}
                            Err(_) => return Ok(()),
                        }
                    }
                }
                Ok(())
            })
        })
        .collect()
}

/// Waits (up to 60 s) until the replica on `port` is linked and has the master's offset.
fn wait_caught_up(master: &mut Conn, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut replica = Conn::open(port)?;
    loop {
        let ours = field(&info(master, "replication")?, "master_repl_offset");
        let theirs = info(&mut replica, "replication")?;
        if field(&theirs, "master_link_status") == "up"
            && field(&theirs, "slave_repl_offset") == ours
        {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the replica on port {port} did not catch up: {theirs}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (10 s at most) for a restarted replica's link to be up; false if it is not yet.
fn wait_linked(replica: &Replica) -> Result<bool> {
    let port = replica
        .server
        .as_ref()
        .map(|s| s.port)
        .context("no replica")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        // Refused while it loads.
        if let Ok(status) = Conn::open(port).and_then(|mut c| info(&mut c, "replication")) {
            if field(&status, "master_link_status") == "up" {
                return Ok(true);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(false)
}

fn info(conn: &mut Conn, section: &str) -> Result<String> {
    conn.call(&["INFO", section])
}

fn field(info: &str, name: &str) -> String {
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or("")
        .trim()
        .to_string()
}
