//! `cargo xtask test`: the whole test suite in one command.

use anyhow::Result;

/// The test command, shared with `cargo xtask ci` so that the two can never drift apart.
pub const ARGS: &[&str] = &["test", "--workspace", "--all-features"];

/// Runs the test suite, after installing the reference Redis the tests compare against if it
/// is missing; `extra` (say `-- --nocapture`, or a test-name filter) goes to the end of
/// the cargo command line.
pub fn run(extra: &[String]) -> Result<()> {
    crate::redis::ensure_installed()?;
    let mut args = ARGS.to_vec();
    args.extend(extra.iter().map(String::as_str));
    crate::cargo::run(&args)
}
