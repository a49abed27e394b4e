//! The toolchain components the checks need.

use std::process::Command;

use anyhow::{ensure, Context, Result};

/// Installs rustfmt and clippy through rustup when cargo cannot run them, so `cargo xtask ci`
/// works on a machine that has only the bare toolchain.
pub fn ensure_components() -> Result<()> {
    let missing = ["fmt", "clippy"].iter().any(|tool| {
        !Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([tool, "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !missing {
        return Ok(());
    }
    println!("==> rustup component add rustfmt clippy");
    let status = Command::new("rustup")
        .args(["component", "add", "rustfmt", "clippy"])
        .status()
        .context("could not run rustup")?;
    ensure!(
        status.success(),
        "`rustup component add rustfmt clippy` failed ({status})"
    );
    Ok(())
}
