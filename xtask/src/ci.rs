//! `cargo xtask ci`: every check CI makes, in the order that fails fastest.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::{cargo, deps, test};

/// One step of the CI run.
struct Step {
    /// Short name used in the header and in the failure message.
    name: &'static str,
    /// What the step runs, shown in its header so a failure can be reproduced by copy-paste.
    shows: String,
    /// The step itself.
    run: fn() -> Result<()>,
}

/// `cargo fmt` in check mode: it only reports, CI must never rewrite files.
const FMT: &[&str] = &["fmt", "--all", "--", "--check"];

/// Clippy over every target and feature, with warnings as errors.
const CLIPPY: &[&str] = &[
    "clippy",
    "--workspace",
    "--all-targets",
    "--all-features",
    "--",
    "-D",
    "warnings",
];

/// The steps in order: the cheap static checks first, the slow test suite last.
fn steps() -> Vec<Step> {
    vec![
        Step {
            name: "fmt",
            shows: cargo::display(FMT),
            run: || cargo::run(FMT),
        },
        Step {
            name: "clippy",
            shows: cargo::display(CLIPPY),
            run: || cargo::run(CLIPPY),
        },
        Step {
            name: "deps",
            shows: "cargo xtask deps".to_owned(),
            run: deps::run,
        },
        Step {
            name: "test",
            shows: cargo::display(test::ARGS),
            run: || test::run(&[]),
        },
    ]
}

/// Runs the steps in order, stopping at the first failure.
pub fn run() -> Result<()> {
    crate::toolchain::ensure_components()?;
    crate::redis::ensure_installed()?;
    let steps = steps();
    let total = steps.len();
    let started = Instant::now();
    for (i, step) in steps.iter().enumerate() {
        println!("==> ci [{}/{total}] {}: {}", i + 1, step.name, step.shows);
        let step_started = Instant::now();
        let outcome = (step.run)();
        let secs = step_started.elapsed().as_secs_f64();
        outcome.with_context(|| format!("ci step `{}` failed after {secs:.1}s", step.name))?;
        println!("==> ci [{}/{total}] {}: ok in {secs:.1}s", i + 1, step.name);
    }
    println!(
        "==> ci: all {total} steps passed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
