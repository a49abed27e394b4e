//! kv's development tasks, run as `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).
//!
//! Plain Rust with no argument-parsing crate: the tasks take (almost) no arguments, and keeping
//! xtask's dependency tree tiny keeps `cargo xtask` fast on a cold CI machine.

mod bench;
mod cargo;
mod ci;
mod compat;
mod crash;
mod deps;
mod fanout;
mod persist_bench;
mod redis;
mod repl_bench;
mod repl_chaos;
mod test;
mod toolchain;

use std::process::ExitCode;

use anyhow::{bail, Result};

/// The task list printed by `cargo xtask --help` and on an unknown task.
const USAGE: &str = "\
Usage: cargo xtask <TASK>

Tasks:
  ci            what CI runs: fmt check, clippy, dependency rules, then the tests;
                stops at the first failing step
  deps          check the crate dependency rules (the table in xtask/src/deps.rs)
  test [ARGS]   install the reference redis-server if missing, then
                cargo test --workspace --all-features [ARGS]
  compat        install the reference redis-server if missing, then replay
                crates/server/tests/compat/*.txt and seeded random commands
                against kv and Redis and print every reply that differs
                (env: KV_COMPAT_SEED, KV_COMPAT_RANDOM, KV_COMPAT_TRACE)
  bench [--only NAMES] [--baseline PATH] [--rounds N] [--unix]
                kv-server vs redis-server throughput, latency and memory per key;
                rewrites the server section of BENCHMARKS.md. With --only (lines by
                name, comma-separated, e.g. ZADD,ZRANK) it runs just those lines,
                no memory loads (FANOUT names the PUBLISH fan-out line);
                with --baseline it compares kv with another
                kv-server binary instead of Redis (an A/B of two builds); --rounds
                sets the alternating rounds (3); --unix runs the lines over
                each server's unix socket instead of TCP; any of them prints
                the table without writing it
  crash [--iterations N]
                kv-server with appendfsync always killed with SIGKILL at random
                moments under writers and restarted, N times (30): every
                acknowledged write must be there after each restart
  bench-persist kv's snapshots vs Redis's on 1M keys: SAVE time, file size,
                start-up load time, SET/GET p99 and peak extra memory during
                BGSAVE; rewrites the snapshot section of BENCHMARKS.md
  bench-repl    kv's replication vs Redis's: full sync of 1M keys, master SET
                throughput with 0, 1 and 2 replicas, replication lag; rewrites
                the replication section of BENCHMARKS.md
  repl-chaos [--iterations N]
                a kv master and two replicas behind fault proxies under writers:
                N (20) random cuts, stalls, slowdowns and replica kills, then every
                replica's DEBUG DIGEST must equal the master's; then the master is
                killed, the most advanced replica promoted, and every write WAIT
                confirmed must be on it
  help          show this list
";

/// Runs the task named on the command line and turns its outcome into the exit status.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line, which reads better in CI logs
            // than anyhow's multi-line Debug form.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Picks the task from `args` (the arguments after `cargo xtask`) and runs it.
fn dispatch(args: &[String]) -> Result<()> {
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    match task {
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        "ci" => no_args(task, rest).and_then(|()| ci::run()),
        "deps" => no_args(task, rest).and_then(|()| deps::run()),
        "test" => test::run(rest),
        "compat" => no_args(task, rest).and_then(|()| compat::run()),
        "bench" => bench::run(&bench_options(rest)?),
        "bench-persist" => persist_bench::run(),
        "bench-repl" => no_args(task, rest).and_then(|()| repl_bench::run()),
        "repl-chaos" => match rest {
            [] => repl_chaos::run(None),
            [flag, n] if flag == "--iterations" => repl_chaos::run(Some(n.parse()?)),
            _ => bail!("`repl-chaos` takes `--iterations N`"),
        },
        "crash" => match rest {
            [] => crash::run(None),
            [flag, n] if flag == "--iterations" => crash::run(Some(n.parse()?)),
            _ => bail!("`crash` takes `--iterations N`"),
        },
        // The subscriber side of the PUBLISH fan-out benchmark, which `bench` starts itself.
        "fanout-subscribers" => match rest {
            [port] => fanout::subscribers(port),
            _ => bail!("`fanout-subscribers` takes a port"),
        },
        other => {
            eprint!("{USAGE}");
            bail!("unknown task `{other}`")
        }
    }
}

/// Reads `bench`'s flags: `--only NAMES`, `--baseline PATH` and `--rounds N`, each at most
/// once, and `--unix`.
fn bench_options(rest: &[String]) -> Result<bench::Options> {
    let mut options = bench::Options::default();
    let mut flags = rest.iter();
    while let Some(flag) = flags.next() {
        if flag == "--unix" {
            options.unix = true;
            continue;
        }
        let Some(value) = flags.next() else {
            bail!("`{flag}` needs a value");
        };
        match flag.as_str() {
            "--only" if options.only.is_none() => options.only = Some(value.clone()),
            "--baseline" if options.baseline.is_none() => {
                options.baseline = Some(value.into());
            }
            "--rounds" if options.rounds.is_none() => match value.parse() {
                Ok(rounds) if rounds > 0 => options.rounds = Some(rounds),
                _ => bail!("`--rounds` needs a positive number, got `{value}`"),
            },
            _ => bail!(
                "`bench` takes `--only NAMES`, `--baseline PATH`, `--rounds N` and `--unix`, got `{flag}`"
            ),
        }
    }
    Ok(options)
}

/// Rejects stray arguments, so that a typo such as `cargo xtask ci --fix` fails loudly instead
/// of silently running something other than what was asked for.
fn no_args(task: &str, rest: &[String]) -> Result<()> {
    if let Some(first) = rest.first() {
        bail!("`{task}` takes no arguments, got `{first}`");
    }
    Ok(())
}
