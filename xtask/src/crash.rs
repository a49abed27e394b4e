//! `cargo xtask crash`: kv-server with `appendonly yes` and `appendfsync always` killed with
//! SIGKILL at random moments while clients write, and started again on the same directory,
//! many times; after each start every write a client was told `OK` for must be there.
//!
//! Each writer sets its own keys `crash:W:N` to `N`, counting up across the iterations, and
//! remembers the last `N` acknowledged. A write in flight when the server dies may or may not
//! be there; every acknowledged one must be.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use kv_testkit::Rng;

use crate::bench::{build_kv, start};
use crate::persist_bench::Conn;

/// Iterations by default.
const ITERATIONS: usize = 30;

/// Concurrent writers.
const WRITERS: usize = 4;

/// Runs the kill-and-restart loop `iterations` times.
pub fn run(iterations: Option<usize>) -> Result<()> {
    let iterations = iterations.unwrap_or(ITERATIONS);
    let kv = build_kv()?;
    let dir: PathBuf = std::env::temp_dir().join(format!("kv-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let dir_arg = dir
        .to_str()
        .context("temporary directory is not UTF-8")?
        .to_string();
    let args = [
        "--dir",
        dir_arg.as_str(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    // The next sequence number of each writer: everything below it was acknowledged.
    let next: Arc<Vec<AtomicU64>> = Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());
    let mut rng = Rng(Instant::now().elapsed().as_nanos() as u64);
    let mut checked_total = 0u64;
    // One more start than kills: the last start checks the last iteration's writes.
    for iteration in 0..=iterations {
        let server = start("kv-server", &kv, &args)?;
        let port = server.port;
        wait_loaded(port)?;
        // Every acknowledged write so far is there.
        let mut conn = Conn::open(port)?;
        let mut checked = 0u64;
        for (w, counter) in next.iter().enumerate() {
            let upto = counter.load(Ordering::SeqCst);
            let mut n = 0;
            while n < upto {
                let batch: Vec<String> = (n..(n + 500).min(upto))
                    .map(|i| format!("crash:{w}:{i}"))
                    .collect();
                let mut args = vec!["MGET"];
                args.extend(batch.iter().map(String::as_str));
                let reply = conn.call_array(&args)?;
                for (i, value) in (n..).zip(&reply) {
                    ensure!(
                        value.as_deref() == Some(i.to_string().as_str()),
                        "iteration {iteration}: crash:{w}:{i} was acknowledged but reads {value:?}"
                    );
                }
                checked += batch.len() as u64;
                n += 500;
            }
        }
        checked_total += checked;
        if iteration == iterations {
            println!("final start: {checked} acknowledged writes checked");
            break;
        }
        // Writers, then a kill at a random moment.
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let next = Arc::clone(&next);
                std::thread::spawn(move || -> Result<()> {
                    let mut conn = Conn::open(port)?;
                    loop {
                        let n = next[w].load(Ordering::SeqCst);
                        let key = format!("crash:{w}:{n}");
                        match conn.call(&["SET", &key, &n.to_string()]) {
                            Ok(reply) if reply == "OK" => next[w].store(n + 1, Ordering::SeqCst),
                            _ => return Ok(()),
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50 + rng.below(450) as u64));
        drop(conn);
        drop(server);
        for writer in writers {
            let _ = writer.join();
        }
        let written: u64 = next.iter().map(|n| n.load(Ordering::SeqCst)).sum();
        println!(
            "iteration {iteration}: {checked} acknowledged writes checked after the restart, {written} acknowledged in all"
        );
    }
    let written: u64 = next.iter().map(|n| n.load(Ordering::SeqCst)).sum();
    println!(
        "crash: {iterations} SIGKILLs, {written} writes acknowledged, {checked_total} checks of acknowledged writes after restarts, none lost"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Waits until the server at `port` answers other than `-LOADING`.
fn wait_loaded(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut conn = Conn::open(port)?;
    loop {
        let reply = conn.call(&["DBSIZE"])?;
        if !reply.starts_with("-LOADING") {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the server never finished loading"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
