//! The history of typed lines, kept as redis-cli 7.0 keeps it with linenoise.
//!
//! - The file is `~/.kvcli_history`, or the path in `KVCLI_HISTFILE` (redis-cli's
//!   `REDISCLI_HISTFILE`); `/dev/null` there means no file (the lines are still remembered
//!   for the session). No file either when neither is set.
//! - It is read at start and written whole, one line per entry, after every line added, so a
//!   killed session loses nothing; it is readable by its owner only (0600).
//! - At most [`MAX_LINES`] lines are kept, the oldest dropped first; a line equal to the one
//!   before it is not added again.
//! - Lines that carry a password are never added: see [`is_sensitive`].

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::format::c_str;

/// linenoise's default history length.
pub const MAX_LINES: usize = 100;

/// The environment variable naming the history file.
pub const ENV: &str = "KVCLI_HISTFILE";

/// The history file's name in the home directory.
pub const DEFAULT_NAME: &str = ".kvcli_history";

/// redis-cli's `getDotfilePath`: `env_value` when set and not empty (`None` for `/dev/null`),
/// else `home/name` when there is a home, else `None`.
pub fn dotfile_path(
    env_value: Option<OsString>,
    home: Option<OsString>,
    name: &str,
) -> Option<PathBuf> {
    match env_value.filter(|v| !v.is_empty()) {
        Some(path) if path == "/dev/null" => None,
        Some(path) => Some(PathBuf::from(path)),
        None => home
            .filter(|h| !h.is_empty())
            .map(|home| Path::new(&home).join(name)),
    }
}

/// The history file this process uses, from its environment.
pub fn path_from_env() -> Option<PathBuf> {
    dotfile_path(
        std::env::var_os(ENV),
        std::env::var_os("HOME"),
        DEFAULT_NAME,
    )
}

/// Whether a command (its repeat count already taken off) must stay out of the history
/// because it carries a password (redis-cli's `isSensitiveCommand`): `AUTH`; `ACL SETUSER`;
/// `CONFIG SET masterauth|masteruser|requirepass`; `HELLO` with `AUTH` (after the protocol
/// version and any `SETNAME name`); `MIGRATE` with `AUTH` or `AUTH2` before `KEYS`.
pub fn is_sensitive(args: &[Vec<u8>]) -> bool {
    let is = |i: usize, word: &str| {
        args.get(i)
            .is_some_and(|a| c_str(a).eq_ignore_ascii_case(word.as_bytes()))
    };
    let argc = args.len();
    if is(0, "auth") || (argc > 1 && is(0, "acl") && is(1, "setuser")) {
        true
    } else if argc > 2 && is(0, "config") && is(1, "set") {
        is(2, "masterauth") || is(2, "masteruser") || is(2, "requirepass")
    } else if argc > 4 && is(0, "hello") {
        let mut j = 2;
        while j < argc {
            let more = argc - 1 - j;
            if is(j, "auth") && more >= 2 {
                return true;
            } else if is(j, "setname") && more > 0 {
                j += 1;
            } else {
                return false;
            }
            j += 1;
        }
        false
    } else if argc > 7 && is(0, "migrate") {
        for j in 6..argc {
            let more = argc - 1 - j;
            if (is(j, "auth") || is(j, "auth2")) && more > 0 {
                return true;
            } else if is(j, "keys") && more > 0 {
                return false;
            }
        }
        false
    } else {
        false
    }
}

/// The remembered lines and the file they are kept in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    lines: Vec<String>,
    file: Option<PathBuf>,
}

impl History {
    /// The history kept in `file` (`None`: in memory only), with the lines the file holds.
    /// A file that cannot be read is taken as empty, as linenoise takes it.
    pub fn load(file: Option<PathBuf>) -> History {
        let mut history = History {
            lines: Vec::new(),
            file,
        };
        if let Some(text) = history.file.as_ref().and_then(|f| fs::read(f).ok()) {
            // One line per newline; the text after the last one is a line too, if any.
            let body = text.strip_suffix(b"\n").unwrap_or(&text);
            if !text.is_empty() {
                for line in body.split(|&c| c == b'\n') {
                    // linenoise cuts each line at its first CR.
                    let line = line.split(|&c| c == b'\r').next().unwrap_or_default();
                    history.push(String::from_utf8_lossy(line).into_owned());
                }
            }
        }
        history
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Adds a line and writes the file; false when the line repeats the last one (nothing
    /// changes then). An error writing the file is returned after the line is added.
    pub fn add(&mut self, line: &str) -> io::Result<bool> {
        if !self.push(line.to_string()) {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }

    /// Adds a line in memory: linenoise's `linenoiseHistoryAdd`.
    fn push(&mut self, line: String) -> bool {
        if self.lines.last() == Some(&line) {
            return false;
        }
        if self.lines.len() == MAX_LINES {
            self.lines.remove(0);
        }
        self.lines.push(line);
        true
    }

    /// Writes every line to the file, readable and writable by its owner only.
    fn save(&self) -> io::Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let mut text = String::new();
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(text.as_bytes())?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Vec<u8>> {
        line.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    /// Lines typed to redis-cli 7.0.15 with REDISCLI_HISTFILE set, and whether they were in the
    /// file after.
    #[test]
    fn sensitive_commands_as_redis_cli_skips_them() {
        for line in [
            "AUTH foo",
            "auth a b",
            "HELLO 3 AUTH default pw",
            "HELLO 3 SETNAME x AUTH a b",
            "CONFIG SET requirepass x",
            "config set MASTERAUTH x",
            "config set masteruser x",
            "ACL SETUSER bob",
            "MIGRATE h 1 k 0 10 AUTH p",
            "MIGRATE h 1 k 0 10 COPY AUTH2 u p",
            "MIGRATE h 1 \"\" 0 10 AUTH p KEYS a b",
        ] {
            assert!(is_sensitive(&args(line)), "{line}");
        }
        for line in [
            "PING",
            "HELLO 3",
            "HELLO 3 SETNAME x",
            "HELLO 3 AUTH a",
            "HELLO 3 FOO x AUTH a b",
            "config set maxmemory 0",
            "CONFIG GET requirepass",
            "ACL",
            "MIGRATE h 1 k 0 10",
            "MIGRATE h 1 \"\" 0 10 KEYS a AUTH b",
            "MIGRATE h 1 k 0 10 AUTH",
        ] {
            assert!(!is_sensitive(&args(line)), "{line}");
        }
    }

    #[test]
    fn history_file_path() {
        let some = |s: &str| Some(OsString::from(s));
        assert_eq!(
            dotfile_path(some("/tmp/h"), some("/home/u"), DEFAULT_NAME),
            Some(PathBuf::from("/tmp/h"))
        );
        assert_eq!(
            dotfile_path(some("/dev/null"), some("/home/u"), DEFAULT_NAME),
            None
        );
        assert_eq!(
            dotfile_path(some(""), some("/home/u"), DEFAULT_NAME),
            Some(PathBuf::from("/home/u/.kvcli_history"))
        );
        assert_eq!(
            dotfile_path(None, some("/home/u"), DEFAULT_NAME),
            Some(PathBuf::from("/home/u/.kvcli_history"))
        );
        assert_eq!(dotfile_path(None, some(""), DEFAULT_NAME), None);
        assert_eq!(dotfile_path(None, None, DEFAULT_NAME), None);
    }

    fn temp_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kv-cli-history-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn lines_are_saved_and_read_back() {
        let path = temp_file("saved");
        let _ = fs::remove_file(&path);
        let mut history = History::load(Some(path.clone()));
        assert!(history.lines().is_empty());
        assert!(history.add("PING").unwrap());
        assert!(!history.add("PING").unwrap());
        assert!(history.add("SET a \"b c\"").unwrap());
        assert!(history.add("PING").unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "PING\nSET a \"b c\"\nPING\n"
        );
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(History::load(Some(path.clone())), history);
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn at_most_a_hundred_lines() {
        let path = temp_file("long");
        let mut history = History::load(Some(path.clone()));
        for i in 0..150 {
            history.add(&format!("GET {i}")).unwrap();
        }
        assert_eq!(history.lines().len(), MAX_LINES);
        assert_eq!(history.lines()[0], "GET 50");
        assert_eq!(History::load(Some(path.clone())).lines(), history.lines());
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn files_written_by_others() {
        let path = temp_file("crlf");
        fs::write(&path, "PING\r\nGET a\n\nGET a\nlast").unwrap();
        let history = History::load(Some(path.clone()));
        assert_eq!(history.lines(), ["PING", "GET a", "", "GET a", "last"]);
        fs::remove_file(&path).unwrap();
        // No file yet, or none at all: an empty history.
        assert!(History::load(Some(path)).lines().is_empty());
        let mut memory = History::load(None);
        assert!(memory.add("PING").unwrap());
        assert_eq!(memory.lines(), ["PING"]);
    }
}
