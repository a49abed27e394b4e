//! MULTI, EXEC and DISCARD: a client's queue of commands, run as one atomic step (Redis's
//! `multi.c`; WATCH, which is about keys, is in the engine's `multi` module).
//!
//! Between MULTI and EXEC a command is checked as it arrives (a refused command makes the
//! transaction fail with EXECABORT) and queued. EXEC then takes, in one acquisition, the shard
//! locks of every queued command and of every watched key, checks the watches, and runs the
//! queue under those locks: no other client, on any thread, can see or change the keys in
//! between. Blocked clients the transaction's writes can serve are served once, after the
//! whole transaction, as Redis serves them after EXEC.

use std::time::Instant;

use bytes::Bytes;
use kv_engine::{CommandError, CommandSpec, Flags, Handler, LockPlan, Locked, PendingServes};

use crate::connection::Connection;

/// The queue of a client between MULTI and EXEC or DISCARD.
#[derive(Debug, Default)]
pub struct Transaction {
    queued: Vec<Queued>,
    /// A command was refused while queuing: EXEC must fail (Redis's `CLIENT_DIRTY_EXEC`).
    aborted: bool,
    /// The queue's memory as Redis counts it (`argv_len_sums`: each queued command's
    /// argument bytes plus a pointer per argument): CLIENT LIST's `multi-mem`, part of
    /// `tot-mem` and of what `maxmemory-clients` limits.
    memory: usize,
}

impl Transaction {
    /// How many commands are queued (CLIENT LIST's `multi=`).
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// The queue's memory (see [`Transaction::memory`]).
    pub fn memory(&self) -> usize {
        self.memory
    }

    /// Marks the transaction as failed, for a command refused while queuing.
    pub fn abort(&mut self) {
        self.aborted = true;
    }

    /// Whether a queued command carries `flag` (EXEC is refused when out of memory if one
    /// may grow memory, as Redis judges it by its queue's flags).
    pub fn queues(&self, flag: Flags) -> bool {
        self.queued.iter().any(|q| q.spec.has(flag))
    }

    /// Whether every queued command carries `flag` (EXEC is `stale` only if all its commands
    /// are, as Redis judges it).
    pub fn all_queued(&self, flag: Flags) -> bool {
        self.queued.iter().all(|q| q.spec.has(flag))
    }

    /// The spec a CLIENT PAUSE must judge EXEC by: its first write, if it queues one (a
    /// `CLIENT PAUSE WRITE` holds such an EXEC, as Redis does), else EXEC itself.
    pub fn pause_spec(&self, exec: &'static CommandSpec) -> &'static CommandSpec {
        self.queued
            .iter()
            .map(|q| q.spec)
            .find(|spec| spec.has(Flags::WRITE) || spec.has(Flags::MAY_REPLICATE))
            .unwrap_or(exec)
    }
}

/// One queued command.
#[derive(Debug)]
struct Queued {
    spec: &'static CommandSpec,
    skip: usize,
    /// Copied out of the read buffer, which the next request reuses.
    args: Vec<Bytes>,
}

/// Whether the command runs at once even inside MULTI (everything else is queued).
pub fn runs_immediately(spec: &CommandSpec, skip: usize) -> bool {
    skip == 1
        && matches!(
            spec.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
}

/// Queues a command inside MULTI, or refuses it as Redis does (which fails the transaction).
pub fn queue(conn: &mut Connection, spec: &'static CommandSpec, skip: usize, args: &[&[u8]]) {
    let Some(transaction) = &mut conn.transaction else {
        return;
    };
    if spec.has(Flags::NO_MULTI) {
        transaction.abort();
        let mark = conn.reply.mark();
        conn.reply
            .error("ERR Command not allowed inside a transaction");
        conn.count_error(mark);
        conn.shared.cmdstats.record_rejected(spec);
        return;
    }
    transaction.queued.push(Queued {
        spec,
        skip,
        args: kv_engine::owned_args(args),
    });
    transaction.memory +=
        args.iter().map(|a| a.len()).sum::<usize>() + std::mem::size_of::<usize>() * args.len();
    let (count, memory) = (transaction.queued.len(), transaction.memory);
    {
        let mut state = conn.handle.state.lock();
        state.multi = Some(count);
        state.multi_mem = memory;
    }
    conn.reply.simple("QUEUED");
    // The queue counts towards `maxmemory-clients`, as in Redis.
    if !conn.note_buffers() {
        conn.close = true;
    }
}

/// `MULTI`: starts queuing.
pub fn multi(conn: &mut Connection) -> Result<(), CommandError> {
    if conn.transaction.is_some() {
        return Err(CommandError::msg("ERR MULTI calls can not be nested"));
    }
    conn.transaction = Some(Transaction::default());
    conn.handle.state.lock().multi = Some(0);
    conn.reply.ok();
    Ok(())
}

/// `DISCARD`: drops the queue and the watches.
pub fn discard(conn: &mut Connection) -> Result<(), CommandError> {
    if end(conn).is_none() {
        return Err(CommandError::msg("ERR DISCARD without MULTI"));
    }
    conn.reply.ok();
    Ok(())
}

/// Leaves MULTI (if in it) and forgets the watches; returns the transaction there was.
pub fn end(conn: &mut Connection) -> Option<Transaction> {
    let transaction = conn.transaction.take();
    {
        let mut state = conn.handle.state.lock();
        state.multi = None;
        state.multi_mem = 0;
    }
    conn.shared.engine.unwatch_all(&mut conn.session);
    if transaction.as_ref().is_some_and(|t| t.memory > 0) && !conn.note_buffers() {
        conn.close = true;
    }
    transaction
}

/// `EXEC`: runs the queue atomically, or answers why not.
pub fn exec(conn: &mut Connection) -> Result<(), CommandError> {
    let result = exec_queue(conn);
    // Like Redis, CLIENT LIST shows the client in its transaction until EXEC is over.
    {
        let mut state = conn.handle.state.lock();
        state.multi = None;
        state.multi_mem = 0;
    }
    result
}

/// EXEC's work: the checks, then the queue under one set of locks.
fn exec_queue(conn: &mut Connection) -> Result<(), CommandError> {
    let Some(transaction) = conn.transaction.take() else {
        return Err(CommandError::msg("ERR EXEC without MULTI"));
    };
    if transaction.aborted {
        conn.shared.engine.unwatch_all(&mut conn.session);
        return Err(CommandError::msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let shared = conn.shared.clone();
    let engine = &shared.engine;
    let mut locked = engine.keyspace.lock(plan(conn, &transaction.queued));
    // One instant for the whole transaction: no key expires half-way through it.
    let now = kv_engine::now_ms();
    let failed = engine.watch_failed(&conn.session, &locked, now);
    engine.unwatch_all(&mut conn.session);
    if failed {
        conn.reply.null_array();
        return Ok(());
    }
    conn.reply.array(transaction.queued.len());
    let mut written_dbs = Vec::new();
    for queued in &transaction.queued {
        let started = Instant::now();
        let mark = conn.reply.mark();
        let borrowed = kv_engine::arg_slices(&queued.args);
        let (spec, skip, args) = (queued.spec, queued.skip, &borrowed[..]);
        match spec.handler {
            Handler::Engine(_) => {
                engine.run_locked(
                    spec,
                    skip,
                    &mut conn.session,
                    args,
                    &mut conn.reply,
                    now,
                    &mut locked,
                );
                if !spec.has(Flags::READONLY) && !written_dbs.contains(&conn.session.db) {
                    written_dbs.push(conn.session.db);
                }
            }
            Handler::Server | Handler::Container => {
                run_server_command(conn, spec, args, &mut locked)
            }
        }
        if conn.tracking.is_some() {
            crate::tracking::after_command(conn, spec, skip, args);
        }
        let usec = started.elapsed().as_micros() as u64;
        let failed = conn.count_error(mark);
        conn.after_call(spec, skip, args, usec, failed);
    }
    let expired = engine.reclaim_seen(&mut locked, now);
    // Blocked clients are served as of now, not of the transaction's instant, as Redis serves
    // them after EXEC: a key whose time came while the queue ran serves nobody.
    let served_at = kv_engine::now_ms().max(now);
    let mut pending = PendingServes::default();
    for db in written_dbs {
        pending.extend(engine.serve_blocked_in(&mut locked, db, served_at));
    }
    drop(locked);
    engine.reclaim_expired(expired, now);
    engine.serve_pending(pending, served_at);
    Ok(())
}

/// Turns the error just written since `mark`, refusing EXEC itself (bad arity, NOAUTH, ...),
/// into Redis's `EXECABORT Transaction discarded because of: ...`, and ends the transaction.
pub fn abort_refused_exec(conn: &mut Connection, mark: usize) {
    let written = conn.reply.buf.split_off(mark);
    let line = written.strip_prefix(b"-").unwrap_or(&written);
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    let reason = line.strip_prefix(b"ERR ").unwrap_or(line);
    let text = format!(
        "EXECABORT Transaction discarded because of: {}",
        String::from_utf8_lossy(reason)
    );
    conn.reply.error(&text);
    end(conn);
}

/// The locks EXEC takes: its commands' (`Engine::transaction_plan`), the shards of the
/// watched keys, and what a queued DEBUG reads.
fn plan(conn: &Connection, queued: &[Queued]) -> LockPlan {
    let engine = &conn.shared.engine;
    let session = &conn.session;
    let borrowed: Vec<_> = queued
        .iter()
        .map(|q| kv_engine::arg_slices(&q.args))
        .collect();
    let commands = queued
        .iter()
        .zip(&borrowed)
        .map(|(q, args)| (q.spec, q.skip, &args[..]));
    let mut plan = engine.transaction_plan(session, commands);
    engine.watched_shards(session, &mut plan);
    for (q, args) in queued.iter().zip(&borrowed) {
        if matches!(q.spec.handler, Handler::Server) && q.spec.name == "debug" {
            // DEBUG OBJECT reads its key under the transaction's locks.
            if let Some(key) = crate::debug::object_key(args) {
                plan.shards
                    .push((session.db, engine.keyspace.shard_of(key)));
            }
            // DIGEST reads every database, whatever SELECTs are queued.
            crate::debug::plan_digest(&engine.keyspace, session.db, args, &mut plan);
            // POPULATE writes keys of the whole database.
            crate::debug::plan_populate(&engine.keyspace, session.db, args, &mut plan);
        }
    }
    plan
}

/// Runs a queued command the server handles, under the transaction's locks: the few that
/// read keys must use those locks instead of taking their own, which would wait forever on
/// the ones this thread holds.
fn run_server_command(
    conn: &mut Connection,
    spec: &'static CommandSpec,
    args: &[&[u8]],
    locked: &mut Locked<'_>,
) {
    let mut digest = LockPlan::default();
    let engine = &conn.shared.engine;
    if spec.name == "debug"
        && crate::debug::plan_digest(&engine.keyspace, conn.session.db, args, &mut digest)
    {
        crate::debug::digest_under(conn, args, locked);
        return;
    }
    let under_locks = if spec.name != "debug" {
        None
    } else if crate::debug::is_populate(args) {
        let mark = conn.reply.mark();
        Some((mark, crate::debug::populate(conn, &args[2..], Some(locked))))
    } else if crate::debug::object_key(args).is_some() {
        let mark = conn.reply.mark();
        Some((mark, crate::debug::object_under(conn, args[2], locked)))
    } else {
        None
    };
    if let Some((mark, result)) = under_locks {
        if let Err(e) = result {
            conn.reply.rollback(mark);
            conn.reply.command_error(&e);
        }
        return;
    }
    conn.in_exec = true;
    conn.exec_counts = locked.unpublished_counts();
    crate::admin::run(conn, spec, args);
    conn.in_exec = false;
    conn.exec_counts.clear();
    if let Some(pause) = conn.sleep.take() {
        // DEBUG SLEEP pauses the transaction itself, as in Redis, with its locks held: the
        // time passes before EXEC ends (its commands still share one instant), so a TTL set
        // in it may run out before the clients blocked on its keys are served. Alone, DEBUG
        // SLEEP holds only its own client (see `debug::sleep`).
        std::thread::sleep(pause);
    }
}
