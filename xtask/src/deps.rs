//! `cargo xtask deps`: the crate layering rules, and the check that enforces them.
//!
//! The layering is what keeps the codec reusable on its own and the engine testable without a
//! runtime; without a check it erodes one convenient `use` at a time.

mod metadata;
mod tree;

use anyhow::{bail, Context, Result};

/// What one workspace package may, and must never, depend on.
#[derive(Debug)]
pub struct Rule {
    /// The workspace package the rule is for.
    pub package: &'static str,
    /// The kv crates it may use as normal dependencies; dev-dependencies are not restricted.
    pub allowed_kv: &'static [&'static str],
    /// External crates that must not appear anywhere in its normal dependency tree, with its
    /// default features (what a downstream user gets).
    pub forbidden: &'static [&'static str],
}

/// The rules, one row per workspace package. A package without a row fails the check, so a
/// new crate cannot join the workspace without someone deciding where it sits.
pub const RULES: &[Rule] = &[
    Rule {
        package: "kv-resp",
        allowed_kv: &[],
        // The codec must be usable without an async stack; its tokio-util support is behind the
        // optional `codec` feature.
        forbidden: &["tokio", "tokio-util"],
    },
    Rule {
        package: "kv-engine",
        allowed_kv: &["kv-resp"],
        // The engine knows nothing of sockets or async runtimes.
        forbidden: &["tokio"],
    },
    Rule {
        package: "kv-persist",
        allowed_kv: &["kv-engine", "kv-resp"],
        forbidden: &[],
    },
    Rule {
        package: "kv-replication",
        allowed_kv: &["kv-engine", "kv-persist", "kv-resp"],
        forbidden: &[],
    },
    Rule {
        package: "kv-server",
        allowed_kv: &["kv-resp", "kv-engine", "kv-persist", "kv-replication"],
        forbidden: &[],
    },
    Rule {
        package: "kv-cli",
        allowed_kv: &["kv-resp"],
        forbidden: &[],
    },
    Rule {
        // Test support only (a dev-dependency of the others): it needs nothing of kv.
        package: "kv-testkit",
        allowed_kv: &[],
        forbidden: &[],
    },
    Rule {
        // Dev tasks: the test kit's fault proxy drives `cargo xtask repl-chaos`.
        package: "xtask",
        allowed_kv: &["kv-testkit"],
        forbidden: &[],
    },
];

/// Checks every workspace package against [`RULES`], printing one line per package.
pub fn run() -> Result<()> {
    let json = crate::cargo::capture(&["metadata", "--format-version", "1", "--no-deps"])?;
    let metadata: serde_json::Value =
        serde_json::from_str(&json).context("`cargo metadata` printed invalid JSON")?;
    let members = metadata::member_names(&metadata)?;
    let mut reports = metadata::check(&metadata, RULES)?;

    for report in &mut reports {
        let Some(rule) = RULES.iter().find(|rule| rule.package == report.package) else {
            continue;
        };
        // Only real packages can be given to `cargo tree -p`; a stale rule is already reported.
        if rule.forbidden.is_empty() || !members.contains(&report.package) {
            continue;
        }
        let pkg = rule.package;
        let text = crate::cargo::capture(&["tree", "-p", pkg, "-e", "normal", "--prefix", "none"])?;
        for name in tree::forbidden_in_tree(&text, rule.forbidden) {
            report.violations.push(format!(
                "`{name}` is in its normal dependency tree \
                 (see `cargo tree -p {pkg} -e normal -i {name}`)"
            ));
        }
    }

    let width = reports.iter().map(|r| r.package.len()).max().unwrap_or(0);
    let mut failed = 0;
    for report in &reports {
        if report.violations.is_empty() {
            println!("  {:width$}  OK", report.package);
        } else {
            failed += 1;
            println!(
                "  {:width$}  FAIL: {}",
                report.package,
                report.violations.join("; ")
            );
        }
    }
    if failed > 0 {
        bail!("{failed} package(s) break the dependency rules in xtask/src/deps.rs");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::RULES;

    #[test]
    fn rules_table_is_consistent() {
        for (i, rule) in RULES.iter().enumerate() {
            assert!(
                RULES[..i].iter().all(|other| other.package != rule.package),
                "two rules for {}",
                rule.package
            );
            for allowed in rule.allowed_kv {
                assert_ne!(
                    *allowed, rule.package,
                    "{} may not depend on itself",
                    rule.package
                );
                assert!(
                    RULES.iter().any(|other| other.package == *allowed),
                    "{} may depend on {allowed}, which has no rule",
                    rule.package
                );
            }
        }
    }
}
