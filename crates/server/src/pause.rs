//! `CLIENT PAUSE` and `CLIENT UNPAUSE`.
//!
//! While a pause lasts, the commands it covers are held, not refused: the connection's task
//! waits (without polling) until `CLIENT UNPAUSE` or the pause's end, then runs the command.
//! A `WRITE` pause covers commands flagged `write` or `may_replicate`; an `ALL` pause covers
//! every command, `CLIENT UNPAUSE` included, as in Redis. Monitors are never paused (Redis
//! treats them as replicas). Active expiry stops while any pause lasts, as in Redis.
//!
//! A FAILOVER holds writes too, as a pause of its own that CLIENT UNPAUSE leaves alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kv_engine::{CommandError, CommandSpec, Flags};
use tokio::sync::watch;

use crate::connection::Connection;

/// What a pause holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    /// Commands that may write.
    Write,
    /// Every command.
    All,
}

/// The current pause, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseState {
    /// What it holds.
    pub kind: PauseKind,
    /// When it ends by itself.
    pub until: Instant,
}

impl PauseState {
    /// Whether this pause, still running at `now`, holds `spec`.
    fn holds(&self, spec: &CommandSpec, now: Instant) -> bool {
        now < self.until
            && (self.kind == PauseKind::All
                || spec.has(Flags::WRITE)
                || spec.has(Flags::MAY_REPLICATE))
    }
}

/// What holds commands now: a client's pause, and the write pause of a FAILOVER under way
/// (which CLIENT UNPAUSE does not end, as in Redis).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Pauses {
    client: Option<PauseState>,
    failover: bool,
}

impl Pauses {
    fn holds(&self, spec: &CommandSpec, now: Instant) -> bool {
        self.client.is_some_and(|pause| pause.holds(spec, now))
            || (self.failover && (spec.has(Flags::WRITE) || spec.has(Flags::MAY_REPLICATE)))
    }

    fn any(&self) -> bool {
        self.client.is_some() || self.failover
    }
}

/// The server's pause.
#[derive(Debug)]
pub struct ClientPause {
    /// Set while a pause may be in force: the only cost of pausing to a command when none is.
    active: AtomicBool,
    /// The pauses themselves; held clients wait for them to change.
    state: watch::Sender<Pauses>,
    /// Clients held by a pause now (see [`Held`]): Redis counts them in INFO's
    /// `blocked_clients`.
    pub held: std::sync::atomic::AtomicUsize,
}

impl Default for ClientPause {
    fn default() -> Self {
        ClientPause {
            active: AtomicBool::new(false),
            state: watch::Sender::new(Pauses::default()),
            held: Default::default(),
        }
    }
}

impl ClientPause {
    /// Pauses until `until`, merging with a pause in force as Redis does: the stronger kind
    /// and the later end win.
    pub fn pause(&self, kind: PauseKind, until: Instant) {
        // `active` only changes inside the watch's lock, so it never contradicts the state.
        self.state.send_modify(|state| {
            state.client = Some(match state.client {
                Some(old) if old.until > Instant::now() => PauseState {
                    kind: old.kind.max(kind),
                    until: old.until.max(until),
                },
                _ => PauseState { kind, until },
            });
            self.active.store(true, Ordering::SeqCst);
        });
    }

    /// Ends a client's pause now (CLIENT UNPAUSE), releasing the clients it held.
    pub fn unpause(&self) {
        self.state.send_modify(|state| {
            state.client = None;
            self.active.store(state.any(), Ordering::SeqCst);
        });
    }

    /// Holds writes while a FAILOVER waits for its replica and hands over (`on`), or stops.
    pub fn hold_writes_for_failover(&self, on: bool) {
        self.state.send_modify(|state| {
            state.failover = on;
            self.active.store(state.any(), Ordering::SeqCst);
        });
    }

    /// Forgets a client's pause whose time is over, so later commands skip the check again.
    fn forget_if_over(&self) {
        self.state.send_if_modified(|state| match state.client {
            Some(pause) if Instant::now() >= pause.until => {
                state.client = None;
                self.active.store(state.any(), Ordering::SeqCst);
                true
            }
            _ => false,
        });
    }

    /// The pauses in force now, if any.
    fn current(&self) -> Option<Pauses> {
        if !self.active.load(Ordering::Relaxed) {
            return None;
        }
        let pauses = *self.state.borrow();
        match pauses.client {
            Some(pause) if Instant::now() >= pause.until => {
                self.forget_if_over();
                pauses.failover.then_some(Pauses {
                    client: None,
                    failover: true,
                })
            }
            _ => pauses.any().then_some(pauses),
        }
    }

    /// Whether a pause is in force now.
    pub fn is_paused(&self) -> bool {
        self.current().is_some()
    }

    /// Whether `spec` must wait now (one atomic load when no pause is in force).
    pub fn holds(&self, spec: &CommandSpec) -> bool {
        self.current()
            .is_some_and(|pauses| pauses.holds(spec, Instant::now()))
    }

    /// Waits until no pause holds `spec`: until an unpause, or the pause's end, re-checking
    /// whenever the pauses change.
    pub async fn wait(&self, spec: &CommandSpec) {
        loop {
            let mut changes = self.state.subscribe();
            let pauses = *changes.borrow_and_update();
            if !pauses.holds(spec, Instant::now()) {
                return;
            }
            // A client's pause ends by itself (then look again); the failover's only when the
            // pauses change.
            match pauses.client.map(|pause| pause.until) {
                Some(until) => tokio::select! {
                    _ = tokio::time::sleep_until(until.into()) => {}
                    _ = changes.changed() => {}
                },
                None => {
                    let _ = changes.changed().await;
                }
            }
        }
    }
}

/// `CLIENT PAUSE timeout [WRITE | ALL]`, with `args` the whole command.
pub fn client_pause(conn: &mut Connection, args: &[&[u8]]) -> Result<(), CommandError> {
    if !(3..=4).contains(&args.len()) {
        return Err(crate::admin::subcommand_syntax_error(args));
    }
    let kind = match args.get(3) {
        None => PauseKind::All,
        Some(mode) if mode.eq_ignore_ascii_case(b"write") => PauseKind::Write,
        Some(mode) if mode.eq_ignore_ascii_case(b"all") => PauseKind::All,
        Some(_) => {
            return Err(CommandError::msg(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ))
        }
    };
    let millis = kv_resp::parse_i64(args[2]).ok_or(CommandError::msg(
        "ERR timeout is not an integer or out of range",
    ))?;
    if millis < 0 {
        return Err(CommandError::msg("ERR timeout is negative"));
    }
    // Redis adds the timeout to the clock; a sum that overflows lands in the past, so the
    // pause ends at once. A 0 timeout likewise pauses nothing.
    let now_ms = i64::try_from(kv_engine::now_ms()).unwrap_or(i64::MAX);
    let in_range = now_ms.checked_add(millis).is_some();
    let until = Instant::now().checked_add(Duration::from_millis(millis as u64));
    if let Some(until) = until.filter(|_| millis > 0 && in_range) {
        conn.shared.pause.pause(kind, until);
    }
    conn.reply.ok();
    Ok(())
}

/// `CLIENT UNPAUSE`
pub fn client_unpause(conn: &mut Connection) {
    conn.shared.pause.unpause();
    conn.reply.ok();
}

/// One client held by a pause, counted in [`ClientPause::held`] while this lives (also if the
/// wait is dropped half-way).
#[derive(Debug)]
pub struct Held<'a>(&'a ClientPause);

impl<'a> Held<'a> {
    /// Counts a held client.
    pub fn new(pause: &'a ClientPause) -> Held<'a> {
        pause.held.fetch_add(1, Ordering::Relaxed);
        Held(pause)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> &'static CommandSpec {
        kv_engine::table::find(name.as_bytes()).unwrap()
    }

    #[test]
    fn write_pauses_hold_only_writes() {
        let pause = ClientPause::default();
        assert!(!pause.holds(spec("set")));
        pause.pause(PauseKind::Write, Instant::now() + Duration::from_secs(60));
        assert!(pause.holds(spec("set")));
        assert!(!pause.holds(spec("get")));
        assert!(pause.is_paused());
        // A shorter ALL pause upgrades the kind and keeps the later end.
        pause.pause(PauseKind::All, Instant::now());
        assert!(pause.holds(spec("get")));
        pause.unpause();
        assert!(!pause.holds(spec("set")));
        assert!(!pause.is_paused());
    }

    #[tokio::test]
    async fn waiters_wake_on_unpause_and_on_timeout() {
        let pause = std::sync::Arc::new(ClientPause::default());
        pause.pause(PauseKind::All, Instant::now() + Duration::from_millis(50));
        let started = Instant::now();
        pause.wait(spec("get")).await;
        assert!(started.elapsed() >= Duration::from_millis(45));
        pause.pause(PauseKind::Write, Instant::now() + Duration::from_secs(60));
        let waiter = {
            let pause = pause.clone();
            tokio::spawn(async move { pause.wait(spec("set")).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        pause.unpause();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn a_failover_holds_writes_through_client_unpause() {
        let pause = ClientPause::default();
        pause.hold_writes_for_failover(true);
        assert!(pause.holds(spec("set")));
        assert!(!pause.holds(spec("get")));
        pause.pause(PauseKind::All, Instant::now() + Duration::from_secs(60));
        assert!(pause.holds(spec("get")));
        pause.unpause();
        assert!(pause.holds(spec("set")) && !pause.holds(spec("get")));
        pause.hold_writes_for_failover(false);
        assert!(!pause.holds(spec("set")));
        assert!(!pause.is_paused());
    }
}
