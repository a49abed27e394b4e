//! The reference Redis the differential tests compare kv against, and the Redis tools and
//! clients the tool tests drive kv with.

use std::process::Command;

use anyhow::{ensure, Context, Result};

/// Makes sure Debian's `redis-server` and `redis-cli` are on the PATH, and `tmux` (kv-cli's
/// interactive tests drive both clients in a terminal through it), installing them with apt
/// when they are not, so the test command does all set-up on a fresh machine.
///
/// Only the binaries are wanted: every test starts its own `redis-server` on a free loopback
/// port and stops it by its pid. If apt starts the system service too, the tests never use it.
pub fn ensure_installed() -> Result<()> {
    ensure_redis_py()?;
    let mut packages = Vec::new();
    if !(found("redis-server") && found("redis-cli")) {
        packages.extend(["redis-server", "redis-tools"]);
    }
    if !found_tmux() {
        packages.push("tmux");
    }
    if packages.is_empty() {
        return Ok(());
    }
    println!("==> installing: apt-get install {}", packages.join(" "));
    // Not root (a developer's machine): go through sudo, keeping the non-interactive setting.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Result<()> {
        let mut command = if root {
            Command::new("env")
        } else {
            sudo_env()
        };
        command
            .arg("DEBIAN_FRONTEND=noninteractive")
            .arg("apt-get")
            .args(args);
        let status = command.status().context("could not run apt-get")?;
        ensure!(
            status.success(),
            "`apt-get {}` failed ({status})",
            args.join(" ")
        );
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q"];
    install.extend(&packages);
    apt(&install)?;
    ensure!(
        found("redis-server"),
        "redis-server is still missing after apt-get install"
    );
    ensure!(found_tmux(), "tmux is still missing after apt-get install");
    Ok(())
}

/// Whether tmux runs (it has no `--version`; `-V` prints it).
fn found_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sudo_env() -> Command {
    let mut command = Command::new("sudo");
    command.arg("env");
    command
}

/// Whether `program` runs at all.
fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Makes sure Python's `redis` client (redis-py) is importable, installing it from PyPI when it
/// is not: the tool tests drive kv-server with it, as users will.
fn ensure_redis_py() -> Result<()> {
    let importable = |python: &str| {
        Command::new(python)
            .args(["-c", "import redis"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if importable("python3") {
        return Ok(());
    }
    println!("==> installing redis-py: python3 -m pip install redis");
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "redis",
        ])
        .status()
        .context("could not run python3 -m pip")?;
    ensure!(status.success(), "`pip install redis` failed ({status})");
    ensure!(
        importable("python3"),
        "redis-py is still not importable after pip install"
    );
    Ok(())
}

/// What `redis-server --version` prints (empty if it cannot run).
pub fn version() -> String {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
