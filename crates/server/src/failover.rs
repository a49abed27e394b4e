//! `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]`: a coordinated switchover
//! from this master to one of its replicas that loses no acknowledged write.
//!
//! As in Redis: the master holds writes (a pause of the failover's own, which CLIENT UNPAUSE
//! leaves alone, so nothing more enters the stream), asks its replicas for their offsets until
//! one (the one named by TO, or any) has applied the whole stream (`waiting-for-sync`), then
//! becomes that replica's replica with a `Hello` that asks it to take over
//! (`failover-in-progress`): the replica, at the same history and offset, becomes a master
//! and answers with a partial resynchronisation, so the old master continues from its new
//! master's stream without a full sync. Then writes are released (and, as this server now is a
//! replica, refused with -READONLY). If no replica catches up before TIMEOUT, the failover is
//! aborted, or with FORCE goes ahead with the named one anyway. If the target refuses or cannot
//! be reached, this server becomes a master again (with a new history ID, as Redis does).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kv_engine::CommandError;

use crate::connection::Connection;
use crate::server::Shared;

/// How often the driver looks at the replicas' offsets (and asks them again).
const POLL: Duration = Duration::from_millis(10);

/// Where a failover stands (INFO replication's `master_failover_state`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Phase {
    /// None under way.
    #[default]
    None,
    /// Writes are held until a replica has the whole stream.
    WaitingForSync,
    /// This server follows the target and asked it to take over.
    InProgress,
}

/// The failover state of a server.
#[derive(Debug, Default)]
pub struct Failover {
    phase: Phase,
    /// Counts failovers begun and ended: a driver whose number is no longer current stops.
    run: u64,
}

impl Failover {
    /// Whether a failover is under way.
    pub fn is_under_way(&self) -> bool {
        self.phase != Phase::None
    }

    /// INFO replication's `master_failover_state`.
    pub fn state_name(&self) -> &'static str {
        match self.phase {
            Phase::None => "no-failover",
            Phase::WaitingForSync => "waiting-for-sync",
            Phase::InProgress => "failover-in-progress",
        }
    }
}

/// What FAILOVER asked for.
#[derive(Debug, Default)]
struct Request {
    target: Option<(String, u16)>,
    timeout: Option<Duration>,
    force: bool,
}

/// Parses FAILOVER's options as Redis does: each at most once, else a syntax error.
fn parse(args: &[&[u8]]) -> Result<Request, CommandError> {
    let mut request = Request::default();
    let mut i = 1;
    while i < args.len() {
        let word = &args[i];
        if word.eq_ignore_ascii_case(b"to") && request.target.is_none() && i + 2 < args.len() {
            let port = kv_resp::parse_i64(args[i + 2]).ok_or(CommandError::NotInteger)?;
            let host = String::from_utf8_lossy(args[i + 1]).into_owned();
            // A port no replica can have matches none (Redis compares it as a number too).
            request.target = Some((host, u16::try_from(port).unwrap_or(0)));
            i += 3;
        } else if word.eq_ignore_ascii_case(b"timeout")
            && request.timeout.is_none()
            && i + 1 < args.len()
        {
            let millis = kv_resp::parse_i64(args[i + 1]).ok_or(CommandError::NotInteger)?;
            if millis <= 0 {
                return Err(CommandError::msg(
                    "ERR FAILOVER timeout must be greater than 0",
                ));
            }
            request.timeout = Some(Duration::from_millis(millis as u64));
            i += 2;
        } else if word.eq_ignore_ascii_case(b"force") && !request.force {
            request.force = true;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(request)
}

/// `FAILOVER ...`: checks, holds writes and starts the driver; answers OK at once (the
/// failover goes on in the background, as in Redis).
pub fn command(conn: &mut Connection, args: &[&[u8]]) -> Result<(), CommandError> {
    let shared = Arc::clone(&conn.shared);
    let replication = &shared.replication;
    if args.len() == 2 && args[1].eq_ignore_ascii_case(b"abort") {
        if !replication.failover.lock().is_under_way() {
            return Err(CommandError::msg("ERR No failover in progress."));
        }
        abort(&shared, "Failover manually aborted");
        conn.reply.ok();
        return Ok(());
    }
    let request = parse(args)?;
    let mut failover = replication.failover.lock();
    if failover.is_under_way() {
        return Err(CommandError::msg("ERR FAILOVER already in progress."));
    }
    if replication.is_replica() {
        return Err(CommandError::msg(
            "ERR FAILOVER is not valid when server is a replica.",
        ));
    }
    let replicas = replication.master.replicas();
    if replicas.is_empty() {
        return Err(CommandError::msg(
            "ERR FAILOVER requires connected replicas.",
        ));
    }
    if request.force && (request.timeout.is_none() || request.target.is_none()) {
        return Err(CommandError::msg(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    if let Some((host, port)) = &request.target {
        let Some(replica) = replicas
            .iter()
            .find(|r| r.ip.eq_ignore_ascii_case(host) && r.port == u32::from(*port))
        else {
            return Err(CommandError::msg(
                "ERR FAILOVER target HOST and PORT is not a replica.",
            ));
        };
        if replica.state != "online" {
            return Err(CommandError::msg(
                "ERR FAILOVER target replica is not online.",
            ));
        }
    }
    match &request.target {
        Some((host, port)) => tracing::warn!("FAILOVER requested to {host}:{port}."),
        None => tracing::warn!("FAILOVER requested to any replica."),
    }
    failover.phase = Phase::WaitingForSync;
    failover.run += 1;
    let run = failover.run;
    drop(failover);
    shared.pause.hold_writes_for_failover(true);
    let deadline = request.timeout.map(|t| Instant::now() + t);
    tokio::spawn(drive(
        Arc::downgrade(&shared),
        run,
        request.target,
        deadline,
        request.force,
    ));
    conn.reply.ok();
    Ok(())
}

/// Ends a failover under way without handing over: a server that already follows the target
/// becomes a master again; writes are released.
fn abort(shared: &Shared, why: &str) {
    let replication = &shared.replication;
    let mut failover = replication.failover.lock();
    if failover.phase == Phase::InProgress {
        replication.promote(shared, "failover aborted");
    }
    failover.phase = Phase::None;
    failover.run += 1;
    drop(failover);
    shared.pause.hold_writes_for_failover(false);
    tracing::warn!("FAILOVER aborted: {why}");
}

/// Moves failover number `run` along until it succeeds, fails or is aborted.
async fn drive(
    shared: Weak<Shared>,
    run: u64,
    target: Option<(String, u16)>,
    deadline: Option<Instant>,
    force: bool,
) {
    // Waiting for a replica with the whole stream. The first look comes a poll after writes
    // were held, so a write that passed the hold just before it has reached the stream.
    let (host, port, offset) = loop {
        if let Some(shared) = shared.upgrade() {
            shared.replication.master.request_acks();
        }
        tokio::time::sleep(POLL).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.replication.failover.lock().run != run {
            return;
        }
        let master = &shared.replication.master;
        let offset = master.offset();
        let synced = master.replicas().into_iter().find(|r| {
            r.state == "online"
                && r.ack_offset == offset
                && target
                    .as_ref()
                    .is_none_or(|(h, p)| r.ip.eq_ignore_ascii_case(h) && r.port == u32::from(*p))
        });
        if let Some(replica) = synced {
            tracing::warn!(
                "Failover target {}:{} is synced, failing over.",
                replica.ip,
                replica.port
            );
            break (replica.ip, replica.port as u16, offset);
        }
        if deadline.is_some_and(|at| Instant::now() >= at) {
            match (&target, force) {
                (Some((host, port)), true) => {
                    tracing::warn!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                    break (host.clone(), *port, offset);
                }
                _ => {
                    abort(&shared, "Replica never caught up before timeout");
                    return;
                }
            }
        }
    };
    // Handing over: follow the target, asking it to take over.
    {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut failover = shared.replication.failover.lock();
        if failover.run != run {
            return;
        }
        if shared.replication.master.offset() != offset {
            // Nothing may enter the stream once the target has it all.
            drop(failover);
            abort(&shared, "the stream grew while writes were held");
            return;
        }
        failover.phase = Phase::InProgress;
        shared.replication.follow(&shared, host, port, true);
    }
    loop {
        tokio::time::sleep(POLL).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.replication.failover.lock().run != run {
            return;
        }
        match shared.replication.handover() {
            None => {}
            Some(Ok(())) => {
                let mut failover = shared.replication.failover.lock();
                failover.phase = Phase::None;
                failover.run += 1;
                drop(failover);
                shared.pause.hold_writes_for_failover(false);
                tracing::warn!("Failover target took over: this server is now its replica.");
                return;
            }
            Some(Err(error)) => {
                abort(&shared, &format!("Failover target refused: {error}"));
                return;
            }
        }
    }
}
