//! `cargo xtask compat`: the differential compatibility test against Redis, with its report.

use anyhow::Result;

/// The test command: only the compat test, with `--nocapture` so that the report of every
/// difference is printed even when the test passes.
pub const ARGS: &[&str] = &[
    "test",
    "-p",
    "kv-server",
    "--test",
    "compat",
    "--",
    "--nocapture",
];

/// Runs `crates/server/tests/compat.rs`, after installing the reference Redis it compares kv
/// against if it is missing. `KV_COMPAT_SEED` and `KV_COMPAT_RANDOM` pass through the
/// environment to the test.
pub fn run() -> Result<()> {
    crate::redis::ensure_installed()?;
    crate::cargo::run(ARGS)
}
