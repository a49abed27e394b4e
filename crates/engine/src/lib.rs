//! # kv-engine
//!
//! The pure data-structure engine of kv: the keyspace of every database, the value types,
//! expiry, the command table, and the execution of commands against them.
//!
//! **Architecture invariant:** the engine knows nothing of sockets, tasks or tokio. It takes
//! already-parsed arguments and writes replies into a [`Reply`] buffer, so it can be driven by
//! the server, by a test, by AOF replay or by a replica in exactly the same way. It may depend
//! on `kv-resp` and on no other kv crate; `cargo xtask ci` checks this.
//!
//! Map of the crate:
//! - [`keyspace`]: databases, shards, the lock discipline, the key and hash-field expiry
//!   indexes.
//! - [`command`] and [`table`]: the declarative command table and what is derived from it.
//! - [`args`]: the argument cursor with Redis-exact number parsing; [`error`]: every error
//!   string in one place; [`reply`]: the reply writer.
//! - [`HashValue`]: a hash's fields and the expiry times of those that have one (Redis 7.4's
//!   hash field expiry); the hash commands, field expiry included, are in [`t_hash`].
//! - One module per type family, as Redis's `t_*.c`: [`t_string`], [`t_list`], [`t_hash`],
//!   [`t_set`], [`t_zset`] (its value type in [`zset`]); key-generic commands in
//!   [`keys`]; connection-level commands the engine can answer in [`connection`];
//!   introspection of the table in [`introspect`].
//! - [`t_sort`]: SORT and SORT_RO, which read the keys their patterns name.
//! - [`packed_list`]: how a list stores its elements, packed in chunks of bytes as Redis's
//!   quicklist does.
//! - [`glob`]: Redis's glob matcher for `KEYS`, `SCAN MATCH` and friends; `strtod`: C's
//!   `strtod`, for the numbers Redis reads with it.
#![deny(missing_docs)]

pub mod args;
pub mod blocking;
pub mod command;
mod compact;
pub mod connection;
pub mod digest;
pub mod dump;
pub mod effects;
pub mod error;
pub mod evict;
pub mod glob;
pub mod hash_value;
pub mod indexed;
pub mod introspect;
pub mod intset;
pub mod keys;
pub mod keyspace;
pub mod lazyfree;
mod listpack;
mod longdouble;
pub mod memory;
#[cfg(test)]
mod model_tests;
pub mod multi;
pub mod notify;
pub mod packed_list;
mod random;
mod raw_bucket;
pub mod reply;
mod scan;
pub mod server_commands;
pub mod set_value;
mod str_value;
mod strtod;
pub mod syntax;
pub mod t_hash;
pub mod t_list;
pub mod t_set;
pub mod t_sort;
pub mod t_string;
pub mod t_zset;
pub mod table;
pub mod tracking;
mod value;
pub mod zset;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use args::Args;
pub use blocking::{Blocking, Cancel, Waiter, Waker};
pub use command::{CommandSpec, Flags, Group, Handler, KeyPositions, Locks};
pub use compact::CompactBytes;
pub use error::{CommandError, CommandResult};
pub use keyspace::{
    CountChanges, Keyspace, LockPlan, Locked, ShardList, ShardSink, SnapshotBusy, SnapshotProgress,
};
pub use kv_resp::Protocol;
pub use multi::WatchList;
pub use notify::EventClass;
pub use reply::Reply;
pub use value::{Access, Entry, HashValue, ListValue, SetValue, StrValue, Value};
pub use zset::ZSetValue;

/// Settings the engine itself consults; the server owns the rest of the configuration.
#[derive(Debug)]
pub struct EngineConfig {
    /// Longest string a command may build (`proto-max-bulk-len`).
    pub proto_max_bulk_len: AtomicU64,
    /// Most members a sorted set keeps in its small form (`zset-max-listpack-entries`).
    pub zset_max_listpack_entries: AtomicU64,
    /// Longest member, in bytes, a sorted set keeps in its small form
    /// (`zset-max-listpack-value`).
    pub zset_max_listpack_value: AtomicU64,
    /// Most fields a hash keeps in its small form (`hash-max-listpack-entries`).
    pub hash_max_listpack_entries: AtomicU64,
    /// Longest field or value, in bytes, a hash keeps in its small form
    /// (`hash-max-listpack-value`).
    pub hash_max_listpack_value: AtomicU64,
    /// Most members a set keeps as an intset (`set-max-intset-entries`).
    pub set_max_intset_entries: AtomicU64,
    /// `maxmemory` and the eviction policy.
    pub eviction: evict::Settings,
    /// Whether this engine follows a master. Keys past their TTL are then hidden from reads
    /// but not deleted: the master's stream deletes them (its DELs), so both sides agree on
    /// every key whatever their clocks say. Memory is not evicted here either (Redis's
    /// `replica-ignore-maxmemory`): the master's evictions arrive as DELs too.
    pub replica: std::sync::atomic::AtomicBool,
    /// Whether DEL frees large values in the background, as UNLINK does
    /// (`lazyfree-lazy-user-del`).
    pub lazy_user_del: std::sync::atomic::AtomicBool,
    /// Whether FLUSHALL and FLUSHDB without SYNC or ASYNC free in the background
    /// (`lazyfree-lazy-user-flush`).
    pub lazy_user_flush: std::sync::atomic::AtomicBool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            proto_max_bulk_len: AtomicU64::new(512 * 1024 * 1024),
            zset_max_listpack_entries: AtomicU64::new(128),
            zset_max_listpack_value: AtomicU64::new(64),
            hash_max_listpack_entries: AtomicU64::new(512),
            hash_max_listpack_value: AtomicU64::new(64),
            set_max_intset_entries: AtomicU64::new(512),
            eviction: evict::Settings::default(),
            replica: std::sync::atomic::AtomicBool::new(false),
            lazy_user_del: std::sync::atomic::AtomicBool::new(false),
            lazy_user_flush: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// A threshold as a `usize` (saturating where `u64` is wider).
fn read_limit(v: &AtomicU64) -> usize {
    usize::try_from(v.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
}

impl EngineConfig {
    /// The sorted-set encoding thresholds, as set now.
    pub fn zset_limits(&self) -> zset::Limits {
        zset::Limits {
            max_entries: read_limit(&self.zset_max_listpack_entries),
            max_value: read_limit(&self.zset_max_listpack_value),
        }
    }

    /// The hash encoding thresholds, as set now.
    pub fn hash_limits(&self) -> hash_value::Limits {
        hash_value::Limits {
            max_entries: read_limit(&self.hash_max_listpack_entries),
            max_value: read_limit(&self.hash_max_listpack_value),
        }
    }

    /// The most members a set keeps as an intset, as set now.
    pub fn set_max_intset_entries(&self) -> usize {
        read_limit(&self.set_max_intset_entries)
    }
}

/// Counters for INFO's stats section.
#[derive(Debug, Default)]
pub struct Stats {
    /// Lookups of keys that existed (`keyspace_hits`).
    pub keyspace_hits: AtomicU64,
    /// Lookups of keys that did not (`keyspace_misses`).
    pub keyspace_misses: AtomicU64,
    /// Errors that commands applied from a master's stream or from the append-only file
    /// answered: each is a difference between this dataset and its source
    /// (`unexpected_error_replies`).
    pub unexpected_error_replies: AtomicU64,
}

impl Stats {
    /// Counts `reply` in `unexpected_error_replies` if it is an error: for a command that was
    /// replicated or logged, whose reply nobody reads.
    pub fn note_unread_reply(&self, reply: &Reply) {
        if reply.buf.first() == Some(&b'-') {
            self.unexpected_error_replies
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The engine: the keyspace plus what commands need besides keys.
#[derive(Debug)]
pub struct Engine {
    /// Every database.
    pub keyspace: Keyspace,
    /// Engine settings.
    pub config: EngineConfig,
    /// Counters.
    pub stats: Stats,
    /// Clients blocked on keys.
    pub blocking: Blocking,
    /// Eviction's state and counters.
    pub evictor: evict::Evictor,
    /// Whether keys past their TTL must be left where they are for now (see
    /// [`ExpiryHold`]).
    pub expiry_hold: ExpiryHold,
}

/// What says whether keys past their TTL must stay for now: the server installs it
/// ([`ExpiryHold::install`]) to hold them while clients are paused, as Redis's
/// `expireIfNeeded` leaves expired keys alone during a CLIENT PAUSE (or a failover's write
/// hold): reads treat them as gone, nothing deletes them, and they go once the pause ends.
#[derive(Default)]
pub struct ExpiryHold(std::sync::OnceLock<Box<dyn Fn() -> bool + Send + Sync>>);

impl ExpiryHold {
    /// Installs the test, once.
    pub fn install(&self, held: impl Fn() -> bool + Send + Sync + 'static) {
        let _ = self.0.set(Box::new(held));
    }

    /// Whether expired keys must stay now.
    pub fn holds(&self) -> bool {
        self.0.get().is_some_and(|held| held())
    }
}

impl std::fmt::Debug for ExpiryHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExpiryHold(installed: {})", self.0.get().is_some())
    }
}

/// What the engine keeps per client.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The selected database.
    pub db: usize,
    /// The protocol the client speaks.
    pub protocol: Protocol,
    /// Whether the client subscribes to a channel or pattern (pub/sub): over RESP2 it is then
    /// in subscriber mode, where PING answers as a message.
    pub subscribed: bool,
    /// How to wake this client once it blocks; `None` for a client that may not block (a
    /// transaction, a script, AOF replay): its blocking commands answer as if timed out.
    pub waker: Option<Waker>,
    /// The keys the client WATCHes, if any.
    pub watching: Option<WatchList>,
    /// The client's id (CLIENT ID), for the invalidations of client-side caching; 0 for an
    /// internal session.
    pub client_id: u64,
}

/// A client's last command lookup, for [`Engine::lookup_repeated`].
#[derive(Debug, Default, Clone)]
pub struct LastLookup {
    /// The command's name as the client sent it (`len` bytes), if it fits.
    name: [u8; 16],
    len: usize,
    /// The command's row: one without subcommands.
    spec: Option<&'static CommandSpec>,
}

/// Everything a running command can reach.
#[derive(Debug)]
pub struct Ctx<'a, 'l> {
    /// The engine.
    pub engine: &'a Engine,
    /// The shards this command holds.
    pub locked: &'a mut Locked<'l>,
    /// The client's session.
    pub session: &'a mut Session,
    /// The time the command runs at, in Unix milliseconds: one instant for the whole command.
    pub now: u64,
    /// The wait a blocking command asked for ([`Ctx::block_on`]).
    pub(crate) block: Option<blocking::BlockRequest>,
    /// Whether the command recorded its effect itself ([`Ctx::propagate`]) instead of the
    /// command as sent.
    pub(crate) rewritten: bool,
}

impl Ctx<'_, '_> {
    /// The selected database.
    pub fn db(&self) -> usize {
        self.session.db
    }

    /// The live entry at `key` in the selected database, for a read: counts a hit or a miss
    /// and records the access (as Redis's `lookupKeyRead`).
    pub fn lookup(&self, key: &[u8]) -> Result<Option<&Entry>, CommandError> {
        let entry = self.peek(key)?;
        if let Some(entry) = entry {
            entry.touch(self.now, self.engine.lfu());
        }
        Ok(entry)
    }

    /// The live entry at `key` in the selected database, for a change (as Redis's
    /// `lookupKeyWrite`): a key past its TTL is deleted and found missing, no hit or miss is
    /// counted, and the access is recorded whatever the caller then finds of its type.
    pub fn lookup_write(&mut self, key: &[u8]) -> Result<Option<&mut Entry>, CommandError> {
        let (db, now, lfu) = (self.db(), self.now, self.engine.lfu());
        let entry = self.locked.get_mut(db, key, now)?;
        if let Some(entry) = &entry {
            entry.touch(now, lfu);
        }
        Ok(entry)
    }

    /// Asks to block this client on `keys` until one can serve `operation` or `deadline`
    /// (Unix ms) passes. False when the client may not block: the command must then answer
    /// as if it had timed out.
    pub(crate) fn block_on(
        &mut self,
        keys: impl IntoIterator<Item = impl AsRef<[u8]>>,
        operation: blocking::Operation,
        deadline: Option<u64>,
    ) -> bool {
        if self.session.waker.is_none() {
            return false;
        }
        self.block = Some(blocking::BlockRequest {
            keys: keys
                .into_iter()
                .map(|k| CompactBytes::new(k.as_ref()))
                .collect(),
            operation,
            deadline,
        });
        true
    }

    /// Records `make()` as (one of) this command's effects, in place of the command as sent
    /// (see [`effects`]): for a command whose replay as sent would depend on the time or on
    /// chance. `make` runs only when effects are being recorded.
    pub fn propagate(&mut self, make: impl FnOnce() -> Vec<Bytes>) {
        self.rewritten = true;
        if self.engine.keyspace.effects.enabled() {
            let effect = effects::Effect {
                db: self.session.db,
                args: make(),
            };
            self.locked.push_effect(effect);
        }
    }

    /// Records nothing for this command, whatever it changed: for a command whose effects
    /// are all recorded elsewhere.
    pub fn propagate_nothing(&mut self) {
        self.rewritten = true;
    }

    /// Reports that the command changed `key` in the selected database: transactions
    /// watching it will fail, and the keyspace event `event` of `class` is published (Redis's
    /// `signalModifiedKey` and `notifyKeyspaceEvent`, which every change makes together).
    /// Called once the change is made, with the key's shard still held.
    pub fn modified(&self, class: EventClass, event: &str, key: &[u8]) {
        self.modified_in(self.session.db, class, event, key);
    }

    /// [`Ctx::modified`] for a key of database `db` (MOVE, COPY ... DB).
    pub fn modified_in(&self, db: usize, class: EventClass, event: &str, key: &[u8]) {
        let keyspace = &self.engine.keyspace;
        keyspace.signal_modified(self.locked, db, key, Some(self.session.client_id));
        keyspace.events.publish(class, event, db, key);
    }

    /// Publishes the keyspace event `event` of `class` on `key` without touching watchers:
    /// for the second event of one change (the `del` after a list's last element goes, ...).
    pub fn notify(&self, class: EventClass, event: &str, key: &[u8]) {
        self.engine
            .keyspace
            .events
            .publish(class, event, self.session.db, key);
    }

    /// Like [`Ctx::lookup`] but leaves the access time alone, for commands that inspect a key
    /// without using it (TYPE, EXISTS, TTL, OBJECT: Redis's `LOOKUP_NOTOUCH`).
    pub fn peek(&self, key: &[u8]) -> Result<Option<&Entry>, CommandError> {
        let entry = self.locked.get(self.session.db, key, self.now)?;
        if entry.is_some() {
            self.engine
                .stats
                .keyspace_hits
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.engine
                .stats
                .keyspace_misses
                .fetch_add(1, Ordering::Relaxed);
            // A read of a missing key, as Redis's read lookups report it (class `m`).
            self.notify(EventClass::KEY_MISS, "keymiss", key);
        }
        Ok(entry)
    }
}

/// A request's arguments as the engine takes them: byte slices. A connection hands over
/// slices of its read buffer (taking no reference counts); a caller holding owned arguments
/// (a transaction's queue, a logged effect, a replica's stream) borrows them with
/// [`arg_slices`].
pub type ArgSlices<'a> = smallvec::SmallVec<[&'a [u8]; 8]>;

/// Borrows owned arguments as the engine takes them.
pub fn arg_slices(args: &[Bytes]) -> ArgSlices<'_> {
    args.iter().map(|arg| &arg[..]).collect()
}

/// Copies arguments out of the buffer they borrow, for whatever outlives the request.
pub fn owned_args(args: &[&[u8]]) -> Vec<Bytes> {
    args.iter().map(|arg| Bytes::copy_from_slice(arg)).collect()
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Engine {
    /// An empty engine with `databases` databases of `shards` shards each.
    pub fn new(databases: usize, shards: usize) -> Engine {
        Engine {
            keyspace: Keyspace::new(databases, shards),
            config: EngineConfig::default(),
            stats: Stats::default(),
            blocking: Blocking::default(),
            evictor: evict::Evictor::default(),
            expiry_hold: ExpiryHold::default(),
        }
    }

    /// Finds the command `args` invokes (resolving subcommands) and checks its arity.
    ///
    /// Returns the spec and how many leading arguments name it (1, or 2 for a subcommand).
    pub fn lookup(&self, args: &[&[u8]]) -> Result<(&'static CommandSpec, usize), CommandError> {
        let Some(name) = args.first() else {
            return Err(CommandError::Syntax);
        };
        let Some(spec) = table::find(name) else {
            return Err(CommandError::UnknownCommand(unknown_command_text(args)));
        };
        // A container needs a subcommand; a command with subcommands of its own (COMMAND)
        // runs itself when given none.
        let container = matches!(spec.handler, Handler::Container);
        if !spec.subcommands.is_empty() && (container || args.len() > 1) {
            let full = |sub: &CommandSpec| format!("{}|{}", spec.name, sub.name);
            let Some(sub_name) = args.get(1) else {
                return Err(CommandError::WrongArity(spec.name.to_string()));
            };
            let Some(sub) = spec
                .subcommands
                .iter()
                .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub_name))
            else {
                return Err(CommandError::UnknownSubcommand(
                    c_string(sub_name, 128).to_vec(),
                    spec.name.to_ascii_uppercase(),
                ));
            };
            if !sub.arity_ok(args.len()) {
                return Err(CommandError::WrongArity(full(sub)));
            }
            return Ok((sub, 2));
        }
        if !spec.arity_ok(args.len()) {
            return Err(CommandError::WrongArity(spec.name.to_string()));
        }
        Ok((spec, 1))
    }

    /// [`Engine::lookup`] for a client that keeps its last lookup in `last`: a command named
    /// exactly as in the client's previous request is found without lowercasing and hashing
    /// its name again, as when a client pipelines one command many times over.
    pub fn lookup_repeated(
        &self,
        last: &mut LastLookup,
        args: &[&[u8]],
    ) -> Result<(&'static CommandSpec, usize), CommandError> {
        if let (Some(spec), Some(name)) = (last.spec, args.first()) {
            // A command without subcommands, found by this exact name: `lookup` would find
            // it too, then check only the arity.
            if name[..] == last.name[..last.len] && spec.arity_ok(args.len()) {
                return Ok((spec, 1));
            }
        }
        let (spec, skip) = self.lookup(args)?;
        let name = &args[0];
        if skip == 1 && spec.subcommands.is_empty() && name.len() <= last.name.len() {
            last.name[..name.len()].copy_from_slice(name);
            last.len = name.len();
            last.spec = Some(spec);
        }
        Ok((spec, skip))
    }

    /// The shards `spec` needs to run with `args` for `session`.
    pub fn lock_plan(&self, spec: &CommandSpec, session: &Session, args: &[&[u8]]) -> LockPlan {
        let write = !spec.has(Flags::READONLY);
        let mut plan = LockPlan {
            write,
            shards: ShardList::new(),
        };
        match spec.locks {
            Locks::Keys => {
                let keyspace = &self.keyspace;
                let shard_of =
                    |p: usize| args.get(p).map(|key| (session.db, keyspace.shard_of(key)));
                // Most commands name their keys by position alone: those skip gathering the
                // positions first (this runs for every command).
                if spec.find_keys.is_none() && spec.key_count_at.is_none() {
                    for position in spec.key_positions(args.len()) {
                        plan.shards.extend(shard_of(position));
                    }
                } else {
                    for position in spec.keys_in(args) {
                        plan.shards.extend(shard_of(position));
                    }
                }
            }
            Locks::Db => self.keyspace.plan_whole_db(&mut plan, session.db),
            Locks::All => self.keyspace.plan_everything(&mut plan),
            Locks::Custom(make) | Locks::Narrow(make) => plan = make(self, session, args),
        }
        plan
    }

    /// Runs one command: lookup, arity, locks, handler. Errors are written to `reply` as
    /// Redis's error lines. Commands the server must run are refused here. Returns the waiter
    /// if the command blocked (see [`Engine::run_at`]).
    pub fn execute(
        &self,
        session: &mut Session,
        args: &[&[u8]],
        reply: &mut Reply,
    ) -> Option<Arc<Waiter>> {
        match self.lookup(args) {
            Ok((spec, skip)) => self.run(spec, skip, session, args, reply),
            Err(e) => {
                reply.command_error(&e);
                None
            }
        }
    }

    /// Runs a looked-up command with its locks held, at the current time.
    pub fn run(
        &self,
        spec: &CommandSpec,
        skip: usize,
        session: &mut Session,
        args: &[&[u8]],
        reply: &mut Reply,
    ) -> Option<Arc<Waiter>> {
        self.run_at(spec, skip, session, args, reply, now_ms())
    }

    /// Runs a looked-up command with its locks held, as of `now` (Unix ms): a caller that
    /// already knows the time (a connection, once per batch of requests) saves a clock read.
    ///
    /// A blocking command that found nothing to take writes no reply and returns its
    /// [`Waiter`]: the caller waits for its waker, then sends [`Waiter::take_reply`], or ends
    /// the wait with [`Blocking::cancel`]. After a write, clients blocked on the keys it
    /// wrote are served before the locks are released.
    #[must_use = "a blocked command's reply comes through its waiter"]
    pub fn run_at(
        &self,
        spec: &CommandSpec,
        skip: usize,
        session: &mut Session,
        args: &[&[u8]],
        reply: &mut Reply,
        now: u64,
    ) -> Option<Arc<Waiter>> {
        self.run_noting(spec, skip, session, args, reply, now, |_| {})
    }

    /// [`Engine::run_at`], calling `note` once the command has run and before its locks are
    /// released (also when it was refused): a replica counts the stream bytes it applied there,
    /// so that a snapshot, whose instant holds every lock, sees data and count agree.
    #[allow(clippy::too_many_arguments)]
    #[must_use = "a blocked command's reply comes through its waiter"]
    pub fn run_noting(
        &self,
        spec: &CommandSpec,
        skip: usize,
        session: &mut Session,
        args: &[&[u8]],
        reply: &mut Reply,
        now: u64,
        note: impl FnOnce(&Session),
    ) -> Option<Arc<Waiter>> {
        let Some(handler) = engine_handler(spec, reply) else {
            note(session);
            return None;
        };
        let plan = self.lock_plan(spec, session, args);
        let mut locked = self.keyspace.lock(plan);
        let mut request = self.call(handler, skip, session, args, reply, now, &mut locked);
        if locked.take_whole_db_request() {
            // A narrow plan was not enough (see `Locks::Narrow`): once more, holding the
            // whole database. The keys the first try found past their TTL go first.
            let expired = self.reclaim_seen(&mut locked, now);
            drop(locked);
            self.reclaim_expired(expired, now);
            let mut plan = LockPlan {
                write: !spec.has(Flags::READONLY),
                shards: ShardList::new(),
            };
            self.keyspace.plan_whole_db(&mut plan, session.db);
            locked = self.keyspace.lock(plan);
            request = self.call(handler, skip, session, args, reply, now, &mut locked);
        }
        note(session);
        let expired = self.reclaim_seen(&mut locked, now);
        let waiter = match (request, &session.waker) {
            (Some(request), Some(waker)) => Some(self.block(session, waker.clone(), request)),
            _ => None,
        };
        if self.blocking.blocked_clients() == 0 || spec.has(Flags::READONLY) {
            drop(locked);
            if !expired.is_empty() {
                self.reclaim_expired(expired, now);
            }
            return waiter;
        }
        let later = match spec.locks {
            Locks::Keys => {
                let keys: Vec<&[u8]> = spec
                    .keys_in(args)
                    .into_iter()
                    .filter_map(|p| args.get(p))
                    .map(|k| &k[..])
                    .collect();
                self.serve_after_write(&mut locked, session.db, Some(&keys), now)
            }
            _ => self.serve_after_write(&mut locked, session.db, None, now),
        };
        drop(locked);
        if !expired.is_empty() {
            self.reclaim_expired(expired, now);
        }
        self.serve_later(later, now);
        waiter
    }
}

impl Engine {
    /// Runs `handler` under `locked`; returns the wait it asked for, if it must block.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        handler: command::HandlerFn,
        skip: usize,
        session: &mut Session,
        args: &[&[u8]],
        reply: &mut Reply,
        now: u64,
        locked: &mut Locked<'_>,
    ) -> Option<blocking::BlockRequest> {
        let mark = reply.mark();
        let (db, changes) = (session.db, locked.changes());
        let mut ctx = Ctx {
            engine: self,
            locked,
            session,
            now,
            block: None,
            rewritten: false,
        };
        if let Err(e) = handler(&mut ctx, &mut Args::new(&args[skip..]), reply) {
            reply.rollback(mark);
            reply.command_error(&e);
        }
        // A command that changed something and recorded no effect of its own replays as sent.
        if !ctx.rewritten && ctx.locked.changes() != changes && self.keyspace.effects.enabled() {
            ctx.locked.push_effect(effects::Effect::copied(db, args));
        }
        ctx.block.take()
    }

    /// Runs a looked-up engine command under locks the caller already holds, which must
    /// cover the command's [`Engine::lock_plan`]: EXEC runs its queue this way, every command
    /// under one set of locks. The command never blocks (a blocking command answers as its
    /// non-blocking form, as `session.waker` must be `None`), and clients blocked on the keys
    /// it writes are not served yet: see [`Engine::serve_blocked_in`].
    #[allow(clippy::too_many_arguments)]
    pub fn run_locked(
        &self,
        spec: &CommandSpec,
        skip: usize,
        session: &mut Session,
        args: &[&[u8]],
        reply: &mut Reply,
        now: u64,
        locked: &mut Locked<'_>,
    ) {
        let Some(handler) = engine_handler(spec, reply) else {
            return;
        };
        let waker = session.waker.take();
        let _ = self.call(handler, skip, session, args, reply, now, locked);
        session.waker = waker;
        if self.blocking.blocked_clients() > 0
            && !spec.has(Flags::READONLY)
            && matches!(spec.locks, Locks::Keys)
        {
            for position in spec.keys_in(args) {
                if let Some(key) = args.get(position) {
                    locked.note_written(session.db, key);
                }
            }
        }
    }

    /// Deletes, as Redis's lookups do, the keys the command found past their TTL, where
    /// `locked` holds their shard for writing (reporting each as `expired`); returns the others,
    /// for [`Engine::reclaim_expired`] once `locked` is released.
    pub fn reclaim_seen(&self, locked: &mut Locked<'_>, now: u64) -> Vec<(usize, CompactBytes)> {
        let mut later = Vec::new();
        let seen = locked.take_expired_seen();
        if seen.is_empty()
            || self.config.replica.load(Ordering::Relaxed)
            || self.expiry_hold.holds()
        {
            return later;
        }
        for (db, key) in seen {
            if locked.holds_for_write(db, &key) {
                let _ = locked.get_mut(db, &key, now);
            } else {
                later.push((db, key));
            }
        }
        later
    }

    /// Deletes the keys of `expired` that are still past their TTL at `now`, each under a write
    /// lock of its own shard: the rest of [`Engine::reclaim_seen`].
    pub fn reclaim_expired(&self, expired: Vec<(usize, CompactBytes)>, now: u64) {
        if expired.is_empty() || self.expiry_hold.holds() {
            return;
        }
        for (db, key) in expired {
            let mut locked = self.keyspace.lock(LockPlan {
                write: true,
                shards: smallvec::smallvec![(db, self.keyspace.shard_of(&key))],
            });
            let _ = locked.get_mut(db, &key, now);
        }
    }

    /// After writes made with [`Engine::run_locked`], still under the same locks: serves the
    /// clients blocked on keys of the held shards of database `db`. Returns the keys whose
    /// waiters need more locks: pass them to [`Engine::serve_pending`] once `locked` is
    /// released.
    pub fn serve_blocked_in(&self, locked: &mut Locked<'_>, db: usize, now: u64) -> PendingServes {
        if self.blocking.blocked_clients() == 0 {
            return PendingServes(Vec::new());
        }
        PendingServes(self.serve_after_write(locked, db, None, now))
    }

    /// Finishes what [`Engine::serve_blocked_in`] left, taking the locks it needs.
    pub fn serve_pending(&self, pending: PendingServes, now: u64) {
        self.serve_later(pending.0, now);
    }
}

/// The handler of an engine command; for another (a bug in the caller), an error reply.
fn engine_handler(spec: &CommandSpec, reply: &mut Reply) -> Option<command::HandlerFn> {
    match spec.handler {
        Handler::Engine(handler) => Some(handler),
        _ => {
            reply.error(&CommandError::Internal("not an engine command").to_string());
            None
        }
    }
}

/// Blocked clients still to serve after a transaction's locks are released.
#[derive(Debug, Default)]
#[must_use = "pass it to Engine::serve_pending once the locks are released"]
pub struct PendingServes(Vec<(usize, CompactBytes)>);

impl PendingServes {
    /// Adds the keys of `other`.
    pub fn extend(&mut self, other: PendingServes) {
        self.0.extend(other.0);
    }
}

/// The tail of Redis's unknown-command error: the name and the first arguments, quoted, each
/// cut at 128 bytes and at a NUL byte (Redis formats them with `%.128s`), the arguments listed
/// until 128 bytes of them have been written.
fn unknown_command_text(args: &[&[u8]]) -> Vec<u8> {
    let mut text = b"'".to_vec();
    text.extend_from_slice(c_string(args[0], 128));
    text.extend_from_slice(b"', with args beginning with: ");
    let mut listed = Vec::new();
    for arg in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(c_string(arg, room));
        listed.extend_from_slice(b"' ");
    }
    text.extend_from_slice(&listed);
    text
}

/// At most `max` bytes of `arg`, stopping at a NUL byte, as C's `%.*s` prints it.
fn c_string(arg: &[u8], max: usize) -> &[u8] {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    &arg[..end.min(max)]
}

#[cfg(test)]
mod lookup_tests {
    use super::*;

    /// Whatever came before, the remembered lookup answers as the table does: same row, same
    /// skip, same error.
    #[test]
    fn a_repeated_lookup_answers_as_the_table() {
        let engine = Engine::new(1, 4);
        let mut last = LastLookup::default();
        let requests: &[&[&str]] = &[
            &["GET", "a"],
            &["GET", "b"],
            &["GET"],
            &["GET", "a", "b"],
            &["get", "a"],
            &["GeT", "a"],
            &["SET", "a", "b"],
            &["GET", "a"],
            &["CLIENT", "LIST"],
            &["CLIENT", "BOGUS"],
            &["COMMAND"],
            &["COMMAND", "COUNT"],
            &["COMMAND"],
            &["MSET", "a", "1", "b"],
            &["MSET", "a", "1"],
            &["MSET", "a", "1", "b", "2"],
            &["NOPE"],
            &["GET", "a"],
            &["averyveryverylongname", "x"],
            &["averyveryverylongname", "x"],
        ];
        for request in requests {
            let args: Vec<&[u8]> = request.iter().map(|a| a.as_bytes()).collect();
            let plain = engine.lookup(&args);
            let repeated = engine.lookup_repeated(&mut last, &args);
            match (plain, repeated) {
                (Ok((a, s)), Ok((b, t))) => {
                    assert!(std::ptr::eq(a, b) && s == t, "{request:?}")
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{request:?}"),
                (a, b) => panic!("{request:?}: {a:?} against {b:?}"),
            }
        }
    }
}
