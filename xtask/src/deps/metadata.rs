//! Checking the direct kv-crate dependencies in `cargo metadata --no-deps` output.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde_json::Value;

use super::Rule;

/// The outcome of the check for one package; no violations means it passed.
#[derive(Debug)]
pub struct Report {
    /// The package name, or the name in a rule that matches no package.
    pub package: String,
    /// Every rule the package breaks, as one human-readable sentence each.
    pub violations: Vec<String>,
}

/// The names of the workspace's own packages.
pub fn member_names(metadata: &Value) -> Result<BTreeSet<String>> {
    members(metadata)?
        .into_iter()
        .map(|package| str_field(package, "name").map(str::to_owned))
        .collect()
}

/// Checks each workspace package's normal dependencies on kv crates against `rules`.
///
/// Reports come in `rules` order, then packages that have no rule (which is itself a
/// violation), then rules that name no package (stale rows, also a violation).
pub fn check(metadata: &Value, rules: &[Rule]) -> Result<Vec<Report>> {
    let packages = members(metadata)?;
    let names = packages
        .iter()
        .map(|package| str_field(package, "name"))
        .collect::<Result<BTreeSet<_>>>()?;

    let mut reports = Vec::new();
    for rule in rules {
        let Some(package) = find(&packages, rule.package)? else {
            continue;
        };
        reports.push(Report {
            package: rule.package.to_owned(),
            violations: kv_violations(package, rule, &names)?,
        });
    }
    for name in &names {
        if !rules.iter().any(|rule| rule.package == *name) {
            reports.push(Report {
                package: (*name).to_owned(),
                violations: vec!["has no rule; add one to RULES in xtask/src/deps.rs".to_owned()],
            });
        }
    }
    for rule in rules {
        if !names.contains(rule.package) {
            reports.push(Report {
                package: rule.package.to_owned(),
                violations: vec![
                    "has a rule in xtask/src/deps.rs but is no workspace package; remove the rule"
                        .to_owned(),
                ],
            });
        }
    }
    Ok(reports)
}

/// The package entries of the workspace members; with `--no-deps` that should be all of
/// `packages`, but filtering by `workspace_members` does not rely on it.
fn members(metadata: &Value) -> Result<Vec<&Value>> {
    let ids = metadata["workspace_members"]
        .as_array()
        .context("`cargo metadata` output has no `workspace_members` array")?
        .iter()
        .map(|id| id.as_str().context("a workspace member id is not a string"))
        .collect::<Result<BTreeSet<_>>>()?;
    let packages = metadata["packages"]
        .as_array()
        .context("`cargo metadata` output has no `packages` array")?;
    Ok(packages
        .iter()
        .filter(|package| package["id"].as_str().is_some_and(|id| ids.contains(id)))
        .collect())
}

/// The package entry called `name`, if any.
fn find<'a>(packages: &[&'a Value], name: &str) -> Result<Option<&'a Value>> {
    for package in packages {
        if str_field(package, "name")? == name {
            return Ok(Some(package));
        }
    }
    Ok(None)
}

/// One violation per kv crate that `package` uses as a normal dependency against `rule`.
///
/// A kv crate is a workspace package or anything named `kv-*`, so a kv crate pulled from a
/// registry instead of by path is caught as well.
fn kv_violations(package: &Value, rule: &Rule, workspace: &BTreeSet<&str>) -> Result<Vec<String>> {
    let deps = package["dependencies"]
        .as_array()
        .with_context(|| format!("package `{}` has no `dependencies` array", rule.package))?;
    // A set: a crate listed once per target platform is still one violation.
    let mut offending = BTreeSet::new();
    for dep in deps {
        // `kind` is null for normal dependencies and "dev" or "build" for the others; the rules
        // are about normal ones only, so tests may use whatever they like.
        if !dep["kind"].is_null() {
            continue;
        }
        // `name` is the real package name even when the dependency is renamed in the manifest.
        let name = str_field(dep, "name")?;
        let is_kv = workspace.contains(name) || name.starts_with("kv-");
        if is_kv && !rule.allowed_kv.contains(&name) {
            offending.insert(name);
        }
    }
    let allowed = if rule.allowed_kv.is_empty() {
        "no kv crate".to_owned()
    } else {
        rule.allowed_kv.join(", ")
    };
    Ok(offending
        .into_iter()
        .map(|name| format!("depends on `{name}`, but may use only: {allowed}"))
        .collect())
}

/// The string field `key` of a JSON object, or an error naming the missing field.
fn str_field<'a>(value: &'a Value, key: &str) -> Result<&'a str> {
    value[key]
        .as_str()
        .with_context(|| format!("`cargo metadata` entry without a string `{key}`: {value}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A three-crate layering, small enough to read next to the JSON samples.
    const RULES: &[Rule] = &[
        Rule {
            package: "kv-resp",
            allowed_kv: &[],
            forbidden: &[],
        },
        Rule {
            package: "kv-engine",
            allowed_kv: &["kv-resp"],
            forbidden: &[],
        },
        Rule {
            package: "kv-server",
            allowed_kv: &["kv-resp", "kv-engine"],
            forbidden: &[],
        },
    ];

    /// A `cargo metadata` package entry; `deps` are `(name, kind)` with kind `None` for normal.
    fn package(name: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(dep, kind)| json!({ "name": dep, "kind": kind, "rename": null }))
            .collect();
        json!({ "name": name, "id": format!("path+file:///ws/{name}#0.1.0"), "dependencies": deps })
    }

    /// A `cargo metadata` document whose workspace members are exactly `packages`.
    fn metadata(packages: Vec<Value>) -> Value {
        let ids: Vec<Value> = packages.iter().map(|p| p["id"].clone()).collect();
        json!({ "packages": packages, "workspace_members": ids, "version": 1 })
    }

    /// The well-layered workspace that the failing cases start from.
    fn good_packages() -> Vec<Value> {
        vec![
            package("kv-resp", &[("bytes", None), ("proptest", Some("dev"))]),
            package("kv-engine", &[("kv-resp", None)]),
            package(
                "kv-server",
                &[("kv-engine", None), ("kv-resp", None), ("tokio", None)],
            ),
        ]
    }

    /// The violations reported for `name`, failing the test if it got no report at all.
    fn violations_of<'a>(reports: &'a [Report], name: &str) -> &'a [String] {
        match reports.iter().find(|r| r.package == name) {
            Some(report) => &report.violations,
            None => panic!("no report for {name}: {reports:?}"),
        }
    }

    #[test]
    fn well_layered_workspace_passes_in_rule_order() -> Result<()> {
        let reports = check(&metadata(good_packages()), RULES)?;
        let order: Vec<&str> = reports.iter().map(|r| r.package.as_str()).collect();
        assert_eq!(order, ["kv-resp", "kv-engine", "kv-server"]);
        assert!(
            reports.iter().all(|r| r.violations.is_empty()),
            "{reports:?}"
        );
        Ok(())
    }

    #[test]
    fn normal_dependency_outside_the_allowed_list_fails() -> Result<()> {
        let mut packages = good_packages();
        packages[1] = package("kv-engine", &[("kv-resp", None), ("kv-server", None)]);
        let reports = check(&metadata(packages), RULES)?;
        let engine = violations_of(&reports, "kv-engine");
        assert_eq!(engine.len(), 1, "{engine:?}");
        assert!(engine[0].contains("`kv-server`"), "{engine:?}");
        assert!(violations_of(&reports, "kv-resp").is_empty());
        Ok(())
    }

    #[test]
    fn crate_with_no_kv_dependencies_allowed_reports_any() -> Result<()> {
        let mut packages = good_packages();
        packages[0] = package("kv-resp", &[("kv-engine", None)]);
        let reports = check(&metadata(packages), RULES)?;
        let resp = violations_of(&reports, "kv-resp");
        assert_eq!(resp.len(), 1, "{resp:?}");
        assert!(resp[0].contains("no kv crate"), "{resp:?}");
        Ok(())
    }

    #[test]
    fn dev_dependencies_are_free() -> Result<()> {
        let mut packages = good_packages();
        packages[0] = package("kv-resp", &[("kv-server", Some("dev"))]);
        let reports = check(&metadata(packages), RULES)?;
        assert!(violations_of(&reports, "kv-resp").is_empty(), "{reports:?}");
        Ok(())
    }

    #[test]
    fn unknown_kv_named_crate_counts_as_a_kv_crate() -> Result<()> {
        let mut packages = good_packages();
        packages[1] = package("kv-engine", &[("kv-resp", None), ("kv-extra", None)]);
        let reports = check(&metadata(packages), RULES)?;
        assert_eq!(violations_of(&reports, "kv-engine").len(), 1);
        Ok(())
    }

    #[test]
    fn duplicate_entries_give_one_violation() -> Result<()> {
        // Cargo lists a dependency once per `[target.*]` table it appears in.
        let mut packages = good_packages();
        packages[0] = package("kv-resp", &[("kv-engine", None), ("kv-engine", None)]);
        let reports = check(&metadata(packages), RULES)?;
        assert_eq!(violations_of(&reports, "kv-resp").len(), 1);
        Ok(())
    }

    #[test]
    fn package_without_rule_fails() -> Result<()> {
        let mut packages = good_packages();
        packages.push(package("kv-new", &[]));
        let reports = check(&metadata(packages), RULES)?;
        let new = violations_of(&reports, "kv-new");
        assert!(new.len() == 1 && new[0].contains("no rule"), "{new:?}");
        Ok(())
    }

    #[test]
    fn rule_without_package_fails() -> Result<()> {
        let mut packages = good_packages();
        packages.remove(2);
        let reports = check(&metadata(packages), RULES)?;
        let server = violations_of(&reports, "kv-server");
        assert!(
            server.len() == 1 && server[0].contains("no workspace package"),
            "{server:?}"
        );
        Ok(())
    }

    #[test]
    fn packages_outside_the_workspace_are_ignored() -> Result<()> {
        let mut doc = metadata(good_packages());
        // A non-member entry (as `cargo metadata` without `--no-deps` would list) with no rule.
        if let Some(packages) = doc["packages"].as_array_mut() {
            packages.push(package("tokio", &[("kv-server", None)]));
        }
        let reports = check(&doc, RULES)?;
        assert!(reports.iter().all(|r| r.package != "tokio"), "{reports:?}");
        assert_eq!(
            member_names(&doc)?.into_iter().collect::<Vec<_>>(),
            ["kv-engine", "kv-resp", "kv-server"]
        );
        Ok(())
    }

    #[test]
    fn malformed_metadata_is_an_error() {
        assert!(check(&json!({ "packages": [] }), RULES).is_err());
        let nameless = json!({ "packages": [{ "id": "a" }], "workspace_members": ["a"] });
        assert!(check(&nameless, RULES).is_err());
    }
}
