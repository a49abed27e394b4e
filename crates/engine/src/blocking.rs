//! Blocking commands' waiting room: clients blocked on keys, and serving them when a key gets
//! something to give (Redis's `blocked.c`).
//!
//! A blocking command (BLPOP, BLMOVE, BZPOPMIN, ...) first runs like its non-blocking form,
//! under the locks of all its keys. When none of them can serve it, the handler asks to block
//! ([`Ctx::block_on`]) and [`Engine::run_at`] registers a [`Waiter`] on every key *before the
//! locks are released*, so no push can slip in between "nothing there" and "waiting for it".
//!
//! After every write command, while its locks are still held, the engine looks at the keys it
//! wrote that have waiters (only when someone is blocked at all: one atomic load otherwise) and
//! serves them: per key, first come first served, each waiter's operation runs as if its client
//! had sent it at that instant, and its reply is handed over in the waiter. A client blocked on
//! several keys is taken off all of them the moment it is served, under the room's mutex, so it
//! is served exactly once. The connection task of a blocked client just sleeps on its waker: a
//! blocked client costs no CPU.
//!
//! Lock order: keyspace shards first, then the room's mutex; the mutex is never held while
//! waiting for a shard.
//!
//! The one case served in a second round is a move (BLMOVE, BRPOPLPUSH) whose destination lies
//! in a shard the writer does not hold: the engine then locks the source and destinations and
//! serves again. In that gap another client may take the element first; the waiter then keeps
//! waiting. An element is never lost either way.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::keyspace::Locked;
use crate::{CommandError, CompactBytes, Ctx, Engine, Protocol, Reply, Session, Value};

/// Which end of a list or sorted set an operation works at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head of a list (LEFT); the lowest score of a sorted set (MIN).
    Left,
    /// The tail of a list (RIGHT); the highest score of a sorted set (MAX).
    Right,
}

/// What a blocked client does once one of its keys is ready, and so the reply it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// BLPOP and BRPOP (`count: None`, reply `[key, element]`), BLMPOP (`Some(count)`, reply
    /// `[key, [elements]]`).
    ListPop {
        /// Where elements are taken from.
        end: End,
        /// BLMPOP's count.
        count: Option<usize>,
    },
    /// BLMOVE and BRPOPLPUSH: the element moved, as a bulk string.
    ListMove {
        /// Where the element is taken from.
        from: End,
        /// Where it is put in the destination.
        to: End,
        /// The destination list's key.
        destination: CompactBytes,
    },
    /// BZPOPMIN and BZPOPMAX (`count: None`, reply `[key, member, score]`), BZMPOP
    /// (`Some(count)`, reply `[key, [[member, score], ...]]`).
    ZSetPop {
        /// Lowest scores (Left) or highest (Right).
        end: End,
        /// BZMPOP's count.
        count: Option<usize>,
    },
}

impl Operation {
    /// Whether a key holding `value` can serve this operation.
    fn can_serve(&self, value: &Value) -> bool {
        match self {
            Operation::ListPop { .. } | Operation::ListMove { .. } => {
                matches!(value, Value::List(_))
            }
            Operation::ZSetPop { .. } => matches!(value, Value::ZSet(_)),
        }
    }

    /// The reply when the wait ends without an element: a null array, for the moves too
    /// (Redis's `replyToBlockedClientTimedOut`), though a move that may not block answers a
    /// null bulk string.
    fn timeout_reply(protocol: Protocol) -> Vec<u8> {
        let mut reply = Reply::new(protocol);
        reply.null_array();
        reply.buf.to_vec()
    }
}

/// A blocking command's timeout argument (seconds, fractions allowed, 0 for ever) as the
/// absolute deadline in Unix ms it sets from `now`; `None` waits for ever. Redis 7.0's
/// `getTimeoutFromObjectOrReply`: the text is read as a long double and the milliseconds
/// rounded up, so a tiny positive timeout waits 1 ms, a tiny negative one such as -0.0001
/// means 0 (for ever), and one too large for the conversion reads as negative. A deadline past the end of time waits for ever, as in 7.0
/// (7.2 added an error for it).
pub(crate) fn parse_timeout(arg: &[u8], now: u64) -> Result<Option<u64>, CommandError> {
    let seconds = crate::longdouble::parse(arg).ok_or(CommandError::msg(
        "ERR timeout is not a float or out of range",
    ))?;
    let millis = seconds.thousandfold_ceiling();
    if millis < 0 {
        return Err(CommandError::msg("ERR timeout is negative"));
    }
    if millis == 0 {
        return Ok(None);
    }
    Ok(Some(now.saturating_add(millis as u64)))
}

/// How the server wakes a blocked client's task; the engine knows nothing of tasks.
#[derive(Clone)]
pub struct Waker(Arc<dyn Fn() + Send + Sync>);

impl Waker {
    /// A waker that calls `wake`.
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Waker {
        Waker(Arc::new(wake))
    }

    fn wake(&self) {
        (self.0)()
    }
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Waker")
    }
}

/// A blocking command's request to wait, made by its handler.
#[derive(Debug)]
pub(crate) struct BlockRequest {
    /// The keys to wait on, in the command's order.
    pub keys: Vec<CompactBytes>,
    /// What to do when one is ready.
    pub operation: Operation,
    /// Absolute deadline in Unix ms; `None` waits forever.
    pub deadline: Option<u64>,
}

/// Where a waiter's wait stands.
#[derive(Debug)]
enum State {
    /// Registered on its keys.
    Waiting,
    /// Served by a write whose locks are still held: the reply waits until that write's
    /// effects are recorded (see [`Waiter::publish`]), so a client that logs writes before
    /// acknowledging them never sees the value before the log has the pop.
    Served(Vec<u8>),
    /// Done: the reply to send (served, timed out or unblocked). Taken by the client's task.
    Done(Vec<u8>),
    /// Done and the reply taken.
    Taken,
}

/// One blocked client.
#[derive(Debug)]
pub struct Waiter {
    /// The database its keys are in.
    db: usize,
    /// The protocol its reply is written in.
    protocol: Protocol,
    /// The keys it waits on.
    keys: Vec<CompactBytes>,
    /// What it does when served.
    operation: Operation,
    /// When it gives up, in Unix ms.
    deadline: Option<u64>,
    /// Guarded by [`Blocking`]'s mutex for every change from `Waiting`.
    state: Mutex<State>,
    /// Wakes its client's task.
    waker: Waker,
}

impl Operation {
    /// The non-blocking command that does what serving this operation on `key` did: the
    /// effect recorded for a served client (BLPOP served later replays as LPOP, ...).
    fn as_command(&self, key: &[u8]) -> Vec<Bytes> {
        let side = |end: &End| match end {
            End::Left => "LEFT",
            End::Right => "RIGHT",
        };
        let mut args: Vec<Bytes> = match self {
            Operation::ListPop { end, .. } => {
                let name = if matches!(end, End::Left) {
                    "LPOP"
                } else {
                    "RPOP"
                };
                vec![Bytes::from_static(name.as_bytes())]
            }
            Operation::ZSetPop { end, .. } => {
                let name = if matches!(end, End::Left) {
                    "ZPOPMIN"
                } else {
                    "ZPOPMAX"
                };
                vec![Bytes::from_static(name.as_bytes())]
            }
            Operation::ListMove {
                from,
                to,
                destination,
            } => {
                return vec![
                    Bytes::from_static(b"LMOVE"),
                    Bytes::copy_from_slice(key),
                    Bytes::copy_from_slice(destination),
                    Bytes::from_static(side(from).as_bytes()),
                    Bytes::from_static(side(to).as_bytes()),
                ];
            }
        };
        args.push(Bytes::copy_from_slice(key));
        if let Operation::ListPop { count: Some(n), .. }
        | Operation::ZSetPop { count: Some(n), .. } = self
        {
            args.push(Bytes::from(n.to_string()));
        }
        args
    }
}

impl Waiter {
    /// When the wait times out (Unix ms), if it does.
    pub fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Makes a reply set while serving ready to take, and wakes the client: called when the
    /// serving write's locks are released, after its effects are recorded.
    pub(crate) fn publish(&self) {
        let mut state = self.state.lock();
        if let State::Served(reply) = std::mem::replace(&mut *state, State::Taken) {
            *state = State::Done(reply);
            drop(state);
            self.waker.wake();
        }
    }

    /// The reply, once the wait is over; `None` while it goes on (or once taken).
    pub fn take_reply(&self) -> Option<Vec<u8>> {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, State::Taken) {
            State::Done(reply) => Some(reply),
            other => {
                *state = other;
                None
            }
        }
    }
}

/// Why a wait is ended from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// The timeout passed, or `CLIENT UNBLOCK ... TIMEOUT`: the command's null reply.
    Timeout,
    /// `CLIENT UNBLOCK ... ERROR`.
    Error,
    /// The client is gone: no reply.
    Disconnect,
}

/// Every blocked client, by the keys it waits on.
#[derive(Debug, Default)]
pub struct Blocking {
    /// Per database, per key: the waiters in arrival order.
    rooms: Mutex<Rooms>,
    /// How many clients are blocked (INFO's `blocked_clients`); read without the mutex so that
    /// write commands can skip all of this when nobody waits.
    blocked: AtomicUsize,
    /// How many of them have a deadline (`clients_in_timeout_table`).
    with_deadline: AtomicUsize,
}

impl Blocking {
    /// How many clients are blocked on keys.
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// How many blocked clients have a timeout.
    pub fn clients_with_timeout(&self) -> usize {
        self.with_deadline.load(Ordering::Relaxed)
    }

    /// Number of distinct keys clients are blocked on.
    pub fn blocking_keys(&self) -> usize {
        self.rooms.lock().values().map(HashMap::len).sum()
    }

    /// Registers a waiter for `request`. Called with the keys' locks held.
    fn register(&self, session: &Session, waker: Waker, request: BlockRequest) -> Arc<Waiter> {
        let waiter = Arc::new(Waiter {
            db: session.db,
            protocol: session.protocol,
            keys: request.keys,
            operation: request.operation,
            deadline: request.deadline,
            state: Mutex::new(State::Waiting),
            waker,
        });
        let mut rooms = self.rooms.lock();
        let db = rooms.entry(waiter.db).or_default();
        for key in &waiter.keys {
            let queue = db.entry(key.clone()).or_default();
            // A key named twice (BLPOP k k 0) still queues the client once.
            if !queue.iter().any(|w| Arc::ptr_eq(w, &waiter)) {
                queue.push_back(waiter.clone());
            }
        }
        self.blocked.fetch_add(1, Ordering::Relaxed);
        if waiter.deadline.is_some() {
            self.with_deadline.fetch_add(1, Ordering::Relaxed);
        }
        waiter
    }

    /// Ends `waiter`'s wait for `why`, unless it already ended (served); returns whether this
    /// call ended it. The waiter's reply is then ready to take.
    pub fn cancel(&self, waiter: &Arc<Waiter>, why: Cancel) -> bool {
        let mut rooms = self.rooms.lock();
        if !matches!(*waiter.state.lock(), State::Waiting) {
            return false;
        }
        let reply = match why {
            Cancel::Timeout => Operation::timeout_reply(waiter.protocol),
            Cancel::Error => b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec(),
            Cancel::Disconnect => Vec::new(),
        };
        self.finish(&mut rooms, waiter, State::Done(reply));
        waiter.waker.wake();
        true
    }

    /// Takes `waiter` off all its keys and sets its state (`Done` or `Served`). Called with
    /// the rooms' mutex held.
    fn finish(&self, rooms: &mut Rooms, waiter: &Arc<Waiter>, state: State) {
        if let Some(db) = rooms.get_mut(&waiter.db) {
            for key in &waiter.keys {
                if let Some(queue) = db.get_mut(key.as_bytes()) {
                    queue.retain(|w| !Arc::ptr_eq(w, waiter));
                    if queue.is_empty() {
                        db.remove(key.as_bytes());
                    }
                }
            }
            if db.is_empty() {
                rooms.remove(&waiter.db);
            }
        }
        *waiter.state.lock() = state;
        self.blocked.fetch_sub(1, Ordering::Relaxed);
        if waiter.deadline.is_some() {
            self.with_deadline.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The keys among `candidates` (in `db`) that clients wait on.
    fn watched(&self, db: usize, candidates: &[&[u8]]) -> Vec<(usize, CompactBytes)> {
        let rooms = self.rooms.lock();
        let Some(room) = rooms.get(&db) else {
            return Vec::new();
        };
        candidates
            .iter()
            .filter(|key| room.contains_key(**key))
            .map(|key| (db, CompactBytes::new(key)))
            .collect()
    }

    /// Every key clients wait on whose shard `locked` holds for writing.
    fn watched_in(&self, locked: &Locked<'_>) -> Vec<(usize, CompactBytes)> {
        let rooms = self.rooms.lock();
        rooms
            .iter()
            .flat_map(|(&db, room)| room.keys().map(move |key| (db, key.clone())))
            .filter(|(db, key)| locked.holds_for_write(*db, key))
            .collect()
    }

    /// The keys a second round must lock to serve `key`'s waiters: the key and every
    /// destination of a move waiting on it.
    fn keys_to_serve(&self, db: usize, key: &[u8]) -> Vec<CompactBytes> {
        let rooms = self.rooms.lock();
        let mut keys = vec![CompactBytes::new(key)];
        if let Some(queue) = rooms.get(&db).and_then(|room| room.get(key)) {
            for waiter in queue {
                if let Operation::ListMove { destination, .. } = &waiter.operation {
                    keys.push(destination.clone());
                }
            }
        }
        keys
    }
}

/// Per database, per key: the clients waiting on it, first come first.
type Rooms = HashMap<usize, HashMap<CompactBytes, VecDeque<Arc<Waiter>>>>;

/// A waiter needs a key the current round does not hold: its key is served again in a round
/// that locks more.
struct NeedsMoreLocks;

impl Engine {
    /// Registers the wait a handler asked for. Called by [`Engine::run_at`] with the command's
    /// locks still held.
    pub(crate) fn block(
        &self,
        session: &Session,
        waker: Waker,
        request: BlockRequest,
    ) -> Arc<Waiter> {
        self.blocking.register(session, waker, request)
    }

    /// After a write command, still under its locks: serves the clients blocked on the keys it
    /// wrote (`keys` in `db`; `None` when the command's keys are not listed, as for a command
    /// locking whole databases: then every watched key in a held shard). Returns the keys that
    /// need a second round with more locks.
    pub(crate) fn serve_after_write(
        &self,
        locked: &mut Locked<'_>,
        db: usize,
        keys: Option<&[&[u8]]>,
        now: u64,
    ) -> Vec<(usize, CompactBytes)> {
        let candidates = match keys {
            Some(keys) => self.blocking.watched(db, keys),
            None => {
                // Those a transaction wrote first, in the order it wrote them (Redis serves
                // its ready keys in the order they were signalled), then any others, which a
                // command without listed keys (FLUSHDB, SWAPDB, ...) may have filled.
                let mut candidates = self.blocking.watched_in(locked);
                let written = locked.take_written();
                if !written.is_empty() {
                    let mut order: HashMap<&(usize, CompactBytes), usize> = HashMap::new();
                    for (i, key) in written.iter().enumerate() {
                        order.entry(key).or_insert(i);
                    }
                    candidates.sort_by_key(|key| order.get(key).copied().unwrap_or(usize::MAX));
                }
                candidates
            }
        };
        self.serve_keys(locked, candidates, now)
    }

    /// Serves the waiters of every key in `ready`, and of the keys their moves fill in turn.
    fn serve_keys(
        &self,
        locked: &mut Locked<'_>,
        ready: Vec<(usize, CompactBytes)>,
        now: u64,
    ) -> Vec<(usize, CompactBytes)> {
        let mut ready: VecDeque<_> = ready.into();
        let mut later = Vec::new();
        // Each turn serves one waiter or finishes a key, and a served waiter never comes back:
        // the loop ends. The bound guards against a bug turning that into a hang.
        let mut turns = 0usize;
        while let Some((db, key)) = ready.pop_front() {
            turns += 1;
            if turns > 1_000_000 {
                break;
            }
            match self.serve_one(locked, db, &key, now, &mut ready) {
                Ok(true) => ready.push_front((db, key)),
                Ok(false) => {}
                Err(NeedsMoreLocks) => later.push((db, key)),
            }
        }
        later
    }

    /// Serves the first waiter on `key` that the key's value can serve; `Ok(true)` if one was
    /// served (there may be more).
    fn serve_one(
        &self,
        locked: &mut Locked<'_>,
        db: usize,
        key: &CompactBytes,
        now: u64,
        ready: &mut VecDeque<(usize, CompactBytes)>,
    ) -> Result<bool, NeedsMoreLocks> {
        let mut rooms = self.blocking.rooms.lock();
        let Some(queue) = rooms.get(&db).and_then(|room| room.get(key.as_bytes())) else {
            return Ok(false);
        };
        let value = match locked.get(db, key, now) {
            Ok(Some(entry)) => &entry.value,
            Ok(None) => return Ok(false),
            // The key's shard is not held: only possible for a second-round candidate.
            Err(_) => return Err(NeedsMoreLocks),
        };
        // Clients blocked for another type keep waiting (Redis 7.0).
        let Some(waiter) = queue.iter().find(|w| w.operation.can_serve(value)).cloned() else {
            return Ok(false);
        };
        if let Operation::ListMove { destination, .. } = &waiter.operation {
            if !locked.holds_for_write(db, destination) {
                return Err(NeedsMoreLocks);
            }
        }
        let mut session = Session {
            db,
            protocol: waiter.protocol,
            waker: None,
            ..Session::default()
        };
        let mut reply = Reply::new(waiter.protocol);
        let mut ctx = Ctx {
            engine: self,
            locked,
            session: &mut session,
            now,
            block: None,
            rewritten: false,
        };
        match serve(&mut ctx, key, &waiter.operation, &mut reply) {
            Ok(true) => ctx.propagate(|| waiter.operation.as_command(key)),
            // Nothing to give after all (cannot happen for a non-empty value): keep waiting.
            Ok(false) => return Ok(false),
            Err(e) => reply.command_error(&e),
        }
        self.blocking
            .finish(&mut rooms, &waiter, State::Served(reply.buf.to_vec()));
        locked.served(waiter.clone());
        if let Operation::ListMove { destination, .. } = &waiter.operation {
            ready.push_back((db, destination.clone()));
        }
        Ok(true)
    }

    /// The second round for keys [`Engine::serve_after_write`] could not finish: each is
    /// locked together with the destinations its waiters need, and served again.
    pub(crate) fn serve_later(&self, mut later: Vec<(usize, CompactBytes)>, now: u64) {
        // A waiter that arrived with a new destination between planning and locking sends its
        // key round again; give up after a few rounds rather than spin (the next write to the
        // key serves it).
        for _ in 0..8 {
            if later.is_empty() {
                return;
            }
            let mut next = Vec::new();
            for (db, key) in later {
                let keys = self.blocking.keys_to_serve(db, &key);
                let plan = crate::LockPlan {
                    write: true,
                    shards: keys
                        .iter()
                        .map(|k| (db, self.keyspace.shard_of(k)))
                        .collect(),
                };
                let mut locked = self.keyspace.lock(plan);
                next.extend(self.serve_keys(&mut locked, vec![(db, key)], now));
            }
            later = next;
        }
    }
}

/// Runs `operation` on `key` for a blocked client; `Ok(false)` if the key cannot serve it.
fn serve(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    operation: &Operation,
    reply: &mut Reply,
) -> Result<bool, CommandError> {
    match operation {
        Operation::ListPop { end, count } => {
            crate::t_list::serve_pop(ctx, key, *end, *count, reply)
        }
        Operation::ListMove {
            from,
            to,
            destination,
        } => crate::t_list::move_generic(ctx, reply, key, destination, *from, *to),
        Operation::ZSetPop { end, count } => {
            crate::t_zset::serve_pop(ctx, key, *end, *count, reply)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use bytes::Bytes;
    use kv_resp::{Frame, FrameDecoder};

    use super::*;
    use crate::keys::tests::{bulk, Client};

    /// A session that may block, counting its wake-ups.
    fn blocking_session(db: usize) -> (Session, Arc<AtomicUsize>) {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let session = Session {
            db,
            protocol: Protocol::Resp2,
            waker: Some(Waker::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })),
            ..Session::default()
        };
        (session, wakes)
    }

    /// Runs `line` for `session`; its waiter if it blocked, else its reply.
    fn run(engine: &Engine, session: &mut Session, line: &str) -> Result<Frame, Arc<Waiter>> {
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        let mut reply = Reply::new(session.protocol);
        if let Some(waiter) = engine.execute(session, &args, &mut reply) {
            assert!(reply.buf.is_empty(), "a blocked command replied");
            return Err(waiter);
        }
        Ok(decode(reply.buf.to_vec()))
    }

    fn decode(bytes: Vec<u8>) -> Frame {
        let mut buf = bytes::BytesMut::from(&bytes[..]);
        FrameDecoder::default()
            .decode(&mut buf)
            .expect("a well-formed reply")
            .expect("a complete reply")
    }

    fn reply_of(waiter: &Waiter) -> Frame {
        decode(waiter.take_reply().expect("the wait is over"))
    }

    #[test]
    fn a_write_serves_waiters_in_arrival_order_under_its_own_locks() {
        let engine = Engine::new(16, 16);
        let (mut first, first_wakes) = blocking_session(0);
        let (mut second, _) = blocking_session(0);
        let (mut writer, _) = blocking_session(0);
        let w1 = run(&engine, &mut first, "BLPOP a b 0").unwrap_err();
        let w2 = run(&engine, &mut second, "BLPOP b 0").unwrap_err();
        assert_eq!(engine.blocking.blocked_clients(), 2);
        assert_eq!(engine.blocking.blocking_keys(), 2);
        assert!(w1.take_reply().is_none());
        run(&engine, &mut writer, "RPUSH b x y z").unwrap();
        assert_eq!(first_wakes.load(Ordering::SeqCst), 1);
        assert_eq!(reply_of(&w1), Frame::Array(vec![bulk("b"), bulk("x")]));
        assert_eq!(reply_of(&w2), Frame::Array(vec![bulk("b"), bulk("y")]));
        // Served once: the first client is gone from key `a` too.
        assert_eq!(engine.blocking.blocked_clients(), 0);
        assert_eq!(engine.blocking.blocking_keys(), 0);
        assert_eq!(
            run(&engine, &mut writer, "LRANGE b 0 -1").unwrap(),
            Frame::Array(vec![bulk("z")])
        );
    }

    #[test]
    fn a_cancelled_wait_is_not_served_and_a_served_one_cannot_be_cancelled() {
        let engine = Engine::new(16, 16);
        let (mut waiter_session, _) = blocking_session(0);
        let (mut writer, _) = blocking_session(0);
        let cancelled = run(&engine, &mut waiter_session, "BRPOP k 0").unwrap_err();
        assert!(engine.blocking.cancel(&cancelled, Cancel::Timeout));
        assert_eq!(reply_of(&cancelled), Frame::NullArray);
        assert!(!engine.blocking.cancel(&cancelled, Cancel::Error));
        run(&engine, &mut writer, "RPUSH k v").unwrap();
        assert_eq!(
            run(&engine, &mut writer, "LLEN k").unwrap(),
            Frame::Integer(1)
        );

        let served = run(&engine, &mut waiter_session, "BLPOP other 0").unwrap_err();
        run(&engine, &mut writer, "LPUSH other e").unwrap();
        assert!(!engine.blocking.cancel(&served, Cancel::Timeout));
        assert_eq!(
            reply_of(&served),
            Frame::Array(vec![bulk("other"), bulk("e")])
        );

        let errored = run(&engine, &mut waiter_session, "BLPOP k2 0").unwrap_err();
        assert!(engine.blocking.cancel(&errored, Cancel::Error));
        assert_eq!(
            reply_of(&errored),
            Frame::Error(Bytes::from_static(
                b"UNBLOCKED client unblocked via CLIENT UNBLOCK"
            ))
        );
    }

    #[test]
    fn moves_chain_and_reach_destinations_in_other_shards() {
        let engine = Engine::new(16, 16);
        let (mut mover, _) = blocking_session(0);
        let (mut popper, _) = blocking_session(0);
        let (mut writer, _) = blocking_session(0);
        // Find a destination in another shard than the source, so a second round is needed.
        let source = "src";
        let destination = (0..)
            .map(|n| format!("dst{n}"))
            .find(|d| engine.keyspace.shard_of(d.as_bytes()) != engine.keyspace.shard_of(b"src"))
            .unwrap();
        let moved = run(
            &engine,
            &mut mover,
            &format!("BLMOVE {source} {destination} RIGHT LEFT 0"),
        )
        .unwrap_err();
        let popped = run(&engine, &mut popper, &format!("BLPOP {destination} 0")).unwrap_err();
        run(&engine, &mut writer, "RPUSH src a b").unwrap();
        assert_eq!(reply_of(&moved), bulk("b"));
        assert_eq!(
            reply_of(&popped),
            Frame::Array(vec![bulk(&destination), bulk("b")])
        );
        assert_eq!(
            run(&engine, &mut writer, "LRANGE src 0 -1").unwrap(),
            Frame::Array(vec![bulk("a")])
        );
    }

    #[test]
    fn waiters_only_wake_for_their_database_and_type() {
        let engine = Engine::new(16, 16);
        let (mut in_db1, _) = blocking_session(1);
        let (mut writer, _) = blocking_session(0);
        let waiter = run(&engine, &mut in_db1, "BLPOP k 0").unwrap_err();
        run(&engine, &mut writer, "RPUSH k v").unwrap();
        run(&engine, &mut writer, "MOVE k 2").unwrap();
        assert!(waiter.take_reply().is_none());
        // SWAPDB brings a list into database 1: the waiter is served.
        run(&engine, &mut writer, "SWAPDB 1 2").unwrap();
        assert_eq!(reply_of(&waiter), Frame::Array(vec![bulk("k"), bulk("v")]));
    }

    #[test]
    fn a_client_that_may_not_block_gets_the_timeout_reply_at_once() {
        let mut c = Client::new();
        assert_eq!(c.cmd("BLPOP k 0"), Frame::NullArray);
        assert_eq!(c.cmd("BLMPOP 0 1 k LEFT"), Frame::NullArray);
        assert_eq!(c.cmd("BLMOVE k d LEFT LEFT 0"), Frame::NullBulk);
        assert_eq!(c.cmd("BRPOPLPUSH k d 0"), Frame::NullBulk);
        assert_eq!(c.engine.blocking.blocked_clients(), 0);
    }

    #[test]
    fn timeouts_are_read_as_redis_reads_them() {
        let now = 1_000_000;
        let ok = |text: &str| parse_timeout(text.as_bytes(), now).unwrap();
        assert_eq!(ok("0"), None);
        assert_eq!(ok("1"), Some(now + 1000));
        assert_eq!(ok("0.5"), Some(now + 500));
        // Rounded up to the next millisecond; a tiny negative one is 0, for ever.
        assert_eq!(ok("0.0000001"), Some(now + 1));
        assert_eq!(ok("0.001"), Some(now + 1));
        assert_eq!(ok("0.0015"), Some(now + 2));
        assert_eq!(ok("-0.0001"), None);
        assert_eq!(ok("0x10"), Some(now + 16_000));
        assert_eq!(
            ok("9223372036854775"),
            Some(now + 9_223_372_036_854_775_000)
        );
        let err = |text: &str| parse_timeout(text.as_bytes(), now).unwrap_err().to_string();
        for negative in ["-1", "-0.0011", "inf", "-inf", "1e20", "9223372036854776"] {
            assert_eq!(err(negative), "ERR timeout is negative", "{negative}");
        }
        for bad in ["", "abc", " 1", "1 ", "nan", "1e5000"] {
            assert_eq!(
                err(bad),
                "ERR timeout is not a float or out of range",
                "{bad:?}"
            );
        }
    }
}
