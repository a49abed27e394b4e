//! kv-cli's preferences, set as redis-cli 7.0 sets its own (`cliSetPreferences`): a typed line
//! starting with `:`, or a line of the preferences file read at start, `~/.kvclirc` or the
//! path in `KVCLI_RCFILE` (redis-cli's `~/.redisclirc` and `REDISCLI_RCFILE`).
//!
//! The only preference is `:set hints` / `:set nohints` (hints are on by default). Anything
//! else is answered with redis-cli's message, prefixed with `.kvclirc: ` when it comes from the
//! file.

use std::path::{Path, PathBuf};

use super::history::dotfile_path;
use super::parse::split;
use crate::format::c_str;

/// The environment variable naming the preferences file.
pub const ENV: &str = "KVCLI_RCFILE";

/// The preferences file's name in the home directory.
pub const DEFAULT_NAME: &str = ".kvclirc";

/// The preferences in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    /// Whether hints are shown.
    pub hints: bool,
}

impl Default for Preferences {
    fn default() -> Preferences {
        Preferences { hints: true }
    }
}

impl Preferences {
    /// Applies one preference line, already split; returns what to print (often nothing).
    pub fn apply(&mut self, args: &[Vec<u8>], from_file: bool) -> String {
        let prefix = if from_file { ".kvclirc: " } else { "" };
        let word = |i: usize| String::from_utf8_lossy(c_str(&args[i])).into_owned();
        let is = |i: usize, name: &str| c_str(&args[i]).eq_ignore_ascii_case(name.as_bytes());
        if args.is_empty() {
            String::new()
        } else if args.len() >= 2 && is(0, ":set") {
            if is(1, "hints") {
                self.hints = true;
            } else if is(1, "nohints") {
                self.hints = false;
            } else {
                return format!("{prefix}unknown redis-cli preference '{}'\n", word(1));
            }
            String::new()
        } else {
            format!("{prefix}unknown redis-cli internal command '{}'\n", word(0))
        }
    }

    /// Applies each line of the preferences file at `path` (a missing file is no error);
    /// returns what to print.
    pub fn load(&mut self, path: &Path) -> String {
        let Ok(bytes) = std::fs::read(path) else {
            return String::new();
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut out = String::new();
        for line in text.lines() {
            if let Some(args) = split(line) {
                out.push_str(&self.apply(&args, true));
            }
        }
        out
    }
}

/// The preferences file this process reads, from its environment.
pub fn path_from_env() -> Option<PathBuf> {
    dotfile_path(
        std::env::var_os(ENV),
        std::env::var_os("HOME"),
        DEFAULT_NAME,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Vec<u8>> {
        split(line).unwrap()
    }

    /// redis-cli 7.0.15's answers to each line, typed at its prompt.
    #[test]
    fn typed_preferences() {
        let mut prefs = Preferences::default();
        assert!(prefs.hints);
        assert_eq!(prefs.apply(&args(":set nohints"), false), "");
        assert!(!prefs.hints);
        assert_eq!(prefs.apply(&args(":SET HINTS"), false), "");
        assert!(prefs.hints);
        assert_eq!(
            prefs.apply(&args(":set colors"), false),
            "unknown redis-cli preference 'colors'\n"
        );
        assert_eq!(
            prefs.apply(&args(":set"), false),
            "unknown redis-cli internal command ':set'\n"
        );
        assert_eq!(
            prefs.apply(&args(":foo bar"), false),
            "unknown redis-cli internal command ':foo'\n"
        );
    }

    #[test]
    fn preferences_file() {
        let dir = std::env::temp_dir().join(format!("kv-cli-prefs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rc");
        std::fs::write(&path, ":set nohints\n\n\"open\n:set nonsense\nhints\n").unwrap();
        let mut prefs = Preferences::default();
        assert_eq!(
            prefs.load(&path),
            ".kvclirc: unknown redis-cli preference 'nonsense'\n\
             .kvclirc: unknown redis-cli internal command 'hints'\n"
        );
        assert!(!prefs.hints);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(prefs.load(&path), "");
    }
}
