//! Running cargo sub-commands from xtask.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};

/// The workspace root: xtask's own manifest directory is one level below it.
fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A `cargo <args>` command ready to spawn, run from the workspace root.
fn command(args: &[&str]) -> Command {
    // `$CARGO` is the cargo that is running us, so nested calls use the same toolchain even
    // when several are installed; plain `cargo` is the fallback when xtask is run directly.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(workspace_root());
    cmd
}

/// `args` as the command line a developer would type, for headers and error messages.
pub fn display(args: &[&str]) -> String {
    format!("cargo {}", args.join(" "))
}

/// Runs `cargo <args>` with its output going straight to the terminal; fails unless it exits 0.
pub fn run(args: &[&str]) -> Result<()> {
    let status = command(args)
        .status()
        .with_context(|| format!("could not start `{}`", display(args)))?;
    ensure!(status.success(), "`{}` failed ({status})", display(args));
    Ok(())
}

/// Runs `cargo <args>` and returns its stdout; stderr still reaches the terminal so that cargo's
/// own diagnostics (a broken manifest, a registry it cannot reach) are not swallowed.
pub fn capture(args: &[&str]) -> Result<String> {
    let output = command(args)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{}`", display(args)))?;
    ensure!(
        output.status.success(),
        "`{}` failed ({})",
        display(args),
        output.status
    );
    String::from_utf8(output.stdout)
        .with_context(|| format!("`{}` printed non-UTF-8 output", display(args)))
}
