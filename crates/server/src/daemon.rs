//! Running in the background as redis-server does with `daemonize yes`, and the `pidfile`.
//!
//! Redis forks and lets the parent exit. kv starts a copy of itself instead, because forking a
//! process needs `unsafe` code: the first process has read and checked the configuration, so
//! an error still reaches the terminal; it then starts the same executable with the same
//! arguments, marked by [`CHILD_MARK`], in a process group of its own (a terminal's Ctrl-C
//! does not reach it) with its standard streams on `/dev/null`, and exits. The copy serves.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::config::Config;

/// The environment variable that marks the background copy, so it serves instead of starting
/// another.
pub const CHILD_MARK: &str = "KV_DAEMONIZED";

/// The pid file of a daemonized server whose configuration names none (Redis's default).
const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

/// Whether this process is the background copy of a daemonized server.
fn is_background_copy(config: &Config) -> bool {
    config.flag("daemonize") && std::env::var_os(CHILD_MARK).is_some()
}

/// Whether this process must start its background copy and exit (`daemonize yes`, and it is
/// not that copy already).
pub fn must_detach(config: &Config) -> bool {
    config.flag("daemonize") && std::env::var_os(CHILD_MARK).is_none()
}

/// Starts the background copy of this server, with this process's arguments.
pub fn detach() -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let executable =
            std::env::current_exe().context("cannot find kv-server's own executable")?;
        Command::new(executable)
            .args(std::env::args_os().skip(1))
            .env(CHILD_MARK, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cannot start kv-server in the background")?;
        Ok(())
    }
    #[cfg(not(unix))]
    anyhow::bail!("daemonize yes is supported on Unix only")
}

/// The pid file this server wrote, removed at a clean shutdown.
#[derive(Debug)]
pub struct PidFile(Option<PathBuf>);

impl PidFile {
    /// Writes this process's id to `pidfile` (to [`DEFAULT_PIDFILE`] when daemonized and none
    /// is set), as Redis does once its listeners are open. A failure is logged, not fatal.
    pub fn create(config: &Config) -> PidFile {
        let configured = config.get("pidfile");
        let path = if !configured.is_empty() {
            PathBuf::from(configured)
        } else if is_background_copy(config) {
            PathBuf::from(DEFAULT_PIDFILE)
        } else {
            return PidFile(None);
        };
        match std::fs::write(&path, format!("{}\n", std::process::id())) {
            Ok(()) => PidFile(Some(path)),
            Err(e) => {
                tracing::warn!("Failed to write PID file: {e}");
                PidFile(None)
            }
        }
    }

    /// Deletes the file, as Redis does when it shuts down.
    pub fn remove(self) {
        if let Some(path) = self.0 {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!("cannot remove the PID file {}: {e}", path.display());
            }
        }
    }
}
