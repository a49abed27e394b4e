//! Reading `cargo tree --prefix none` output.

use std::collections::BTreeSet;

/// The crates from `forbidden` that appear in `tree`, the stdout of
/// `cargo tree ... --prefix none`, sorted and without repeats.
pub fn forbidden_in_tree(tree: &str, forbidden: &[&str]) -> Vec<String> {
    tree.lines()
        .filter_map(package_name)
        .filter(|name| forbidden.contains(name))
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The package name on one line of the tree, which reads `name vX.Y.Z [(source)] [(*)]`.
///
/// Matching the whole name, not a prefix, is the point: `tokio-util` or `tokio-macros` must not
/// count as `tokio`. Lines that are not package lines (blank, headers) give `None`.
fn package_name(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let version = words.next()?;
    version.starts_with('v').then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "\
kv-resp v0.1.0 (/work/main/crates/resp)
bytes v1.12.2
nom v8.0.0
memchr v2.7.4
tokio-util v0.7.20
bytes v1.12.2
futures-core v0.3.31
tokio v1.47.0
pin-project-lite v0.2.16
thiserror v2.0.21
thiserror-impl v2.0.21 (proc-macro)
";

    #[test]
    fn finds_each_forbidden_crate_once() {
        assert_eq!(
            forbidden_in_tree(TREE, &["tokio", "tokio-util"]),
            ["tokio", "tokio-util"]
        );
    }

    #[test]
    fn clean_tree_passes() {
        let clean = "kv-resp v0.1.0 (/x)\nbytes v1.12.2\nnom v8.0.0\n";
        assert!(forbidden_in_tree(clean, &["tokio", "tokio-util"]).is_empty());
    }

    #[test]
    fn name_must_match_exactly() {
        // tokio-util and tokio-macros share tokio's prefix but are not tokio.
        let tree = "kv-engine v0.1.0 (/x)\ntokio-util v0.7.20\ntokio-macros v2.5.0 (proc-macro)\n";
        assert!(forbidden_in_tree(tree, &["tokio"]).is_empty());
        assert_eq!(forbidden_in_tree(tree, &["tokio-util"]), ["tokio-util"]);
    }

    #[test]
    fn repeated_subtree_marker_is_still_a_package_line() {
        assert_eq!(
            forbidden_in_tree("tokio v1.47.0 (*)\n", &["tokio"]),
            ["tokio"]
        );
    }

    #[test]
    fn non_package_lines_are_ignored() {
        let tree = "\n[dev-dependencies]\ntokio\n  \n";
        assert!(forbidden_in_tree(tree, &["tokio"]).is_empty());
    }
}
