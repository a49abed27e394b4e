//! WATCH: the optimistic locks of transactions (Redis's `multi.c`, the part about keys).
//!
//! A client that WATCHes keys gets a [`WatchList`] in its [`Session`]; every `(db, key)` it
//! watches is registered in the keyspace's [`Watches`] table. Whatever changes a key (a
//! command's write, expiry, FLUSHDB, SWAPDB, ...) *touches* it while holding the key's shard
//! for writing; a touch marks every client watching the key as dirty, and a dirty client's EXEC
//! fails. Registration happens under the key's shard lock too, and EXEC checks the mark while
//! holding the shards of every watched key, so no change can slip between a WATCH and the check.
//!
//! MULTI's queue and EXEC itself live in the server, which runs connection-level commands too.
//!
//! Redis 7.0's rules for keys whose TTL has passed are kept: a key already expired when watched
//! does not dirty the transaction by being deleted (logically nothing changed), and a watched
//! key that expires before EXEC fails the transaction even if nobody has deleted it yet.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::command::{CommandSpec, Handler, Locks};
use crate::table::{command, engine, NO_KEYS};
use crate::{Args, CommandResult, CompactBytes, Ctx, Engine, LockPlan, Locked, Reply, Session};

/// MULTI, EXEC and DISCARD work on the connection's queue, so the server runs them.
const SERVER: Handler = Handler::Server;

/// The transaction commands.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!(
        "discard",
        1,
        [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY],
        NO_KEYS,
        Transactions,
        SERVER,
        "2.0.0",
        "O(N), when N is the number of queued commands",
        "Discards the commands queued since MULTI.",
        ""
    ),
    command!(
        "exec",
        1,
        [NOSCRIPT, LOADING, STALE, SKIP_SLOWLOG],
        NO_KEYS,
        Transactions,
        SERVER,
        "1.2.0",
        "Depends on commands in the transaction",
        "Runs the commands queued since MULTI, as one atomic step.",
        ""
    ),
    command!(
        "multi",
        1,
        [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY],
        NO_KEYS,
        Transactions,
        SERVER,
        "1.2.0",
        "O(1)",
        "Starts a transaction: commands are queued until EXEC.",
        ""
    ),
    command!(
        "unwatch",
        1,
        [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY],
        NO_KEYS,
        Transactions,
        engine!(unwatch),
        "2.2.0",
        "O(1)",
        "Forgets every watched key.",
        ""
    ),
    command!("watch", -2, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], (1, -1, 1), Transactions,
        engine!(watch), "2.2.0", "O(1) for every key.",
        "Makes the next EXEC fail if any of the keys changes before it.", "key [key ...]",
        key_flags: &["RO"], locks: Locks::Custom(watch_plan)),
];

/// WATCH reads its keys' shards: shared locks, though the command is not flagged read-only.
fn watch_plan(engine: &Engine, session: &Session, args: &[&[u8]]) -> LockPlan {
    LockPlan {
        write: false,
        shards: args[1..]
            .iter()
            .map(|key| (session.db, engine.keyspace.shard_of(key)))
            .collect(),
    }
}

/// One client's side of its watches: the mark a touch sets.
#[derive(Debug, Default)]
pub struct WatchState {
    dirty: AtomicBool,
}

/// The keys a client watches, kept in its [`Session`].
#[derive(Debug, Clone, Default)]
pub struct WatchList {
    state: Arc<WatchState>,
    keys: Vec<(usize, CompactBytes)>,
}

/// One client watching one key.
#[derive(Debug)]
struct Watcher {
    client: Arc<WatchState>,
    /// The key was there but past its TTL when watched (Redis's `watchedKey.expired`).
    expired_when_watched: bool,
}

/// Every watched key of every database, with its watchers.
#[derive(Debug, Default)]
pub struct Watches {
    /// How many `(client, key)` registrations exist: zero makes a touch free.
    registrations: AtomicUsize,
    table: Mutex<HashMap<(usize, CompactBytes), Vec<Watcher>>>,
}

impl Watches {
    /// Whether anyone watches anything: when not, touches have nothing to do.
    pub fn any(&self) -> bool {
        self.registrations.load(Ordering::Acquire) > 0
    }

    /// Records that `key` in `db` changed; `exists` says whether it is there afterwards (a key
    /// deleted by expiry is not). Called with the key's shard held for writing.
    pub(crate) fn touch(&self, db: usize, key: &[u8], exists: impl FnOnce() -> bool) {
        if !self.any() {
            return;
        }
        let mut table = self.table.lock();
        let Some(watchers) = table.get_mut(&(db, CompactBytes::new(key))) else {
            return;
        };
        let mut exists = Some(exists);
        let mut present = None;
        for watcher in watchers {
            if watcher.expired_when_watched {
                let here = *present.get_or_insert_with(|| exists.take().is_some_and(|f| f()));
                if !here {
                    // The expired key is gone: logically nothing changed.
                    watcher.expired_when_watched = false;
                    continue;
                }
            }
            watcher.client.dirty.store(true, Ordering::Release);
        }
    }

    /// Touches the watched keys of database `emptied`, about to be emptied (FLUSHDB,
    /// FLUSHALL) or swapped with `replaced_with` (SWAPDB): those there now, or there after the
    /// swap, as Redis's `touchAllWatchedKeysInDb` does. Called with both databases held for
    /// writing, before the change.
    pub(crate) fn touch_db(
        &self,
        locked: &Locked<'_>,
        emptied: usize,
        replaced_with: Option<usize>,
        now: u64,
    ) {
        if !self.any() {
            return;
        }
        let mut table = self.table.lock();
        for ((db, key), watchers) in table.iter_mut() {
            if *db != emptied {
                continue;
            }
            let in_emptied = locked.contains_raw(emptied, key);
            let replacement = replaced_with.map(|other| {
                (
                    locked.contains_raw(other, key),
                    locked.is_expired_raw(other, key, now),
                )
            });
            let in_replacement = replacement.is_some_and(|(here, _)| here);
            if !in_emptied && !in_replacement {
                continue;
            }
            let replacement_expired = replacement.is_some_and(|(_, expired)| expired);
            for watcher in watchers.iter_mut() {
                if watcher.expired_when_watched {
                    if !in_replacement {
                        watcher.expired_when_watched = false;
                        continue;
                    }
                    if replacement_expired {
                        continue;
                    }
                } else if !in_emptied && replacement_expired {
                    watcher.expired_when_watched = true;
                    continue;
                }
                watcher.client.dirty.store(true, Ordering::Release);
            }
        }
    }

    /// Adds `key` of `db` to `list`, unless it is there already.
    fn add(&self, list: &mut WatchList, db: usize, key: &[u8], expired: bool) {
        let key = CompactBytes::new(key);
        if list.keys.iter().any(|(d, k)| *d == db && *k == key) {
            return;
        }
        let mut table = self.table.lock();
        table.entry((db, key.clone())).or_default().push(Watcher {
            client: list.state.clone(),
            expired_when_watched: expired,
        });
        self.registrations.fetch_add(1, Ordering::AcqRel);
        list.keys.push((db, key));
    }

    /// Drops every watch of `list`.
    fn remove_all(&self, list: &WatchList) {
        if list.keys.is_empty() {
            return;
        }
        let mut table = self.table.lock();
        for (db, key) in &list.keys {
            let slot = (*db, key.clone());
            if let Some(watchers) = table.get_mut(&slot) {
                let before = watchers.len();
                watchers.retain(|w| !Arc::ptr_eq(&w.client, &list.state));
                self.registrations
                    .fetch_sub(before - watchers.len(), Ordering::AcqRel);
                if watchers.is_empty() {
                    table.remove(&slot);
                }
            }
        }
    }

    /// Whether `list`'s transaction must fail: a watched key changed, or one that was alive
    /// when watched has expired since (even if nobody deleted it yet). Called with every
    /// watched key's shard held.
    fn failed(&self, list: &WatchList, locked: &Locked<'_>, now: u64) -> bool {
        if list.state.dirty.load(Ordering::Acquire) {
            return true;
        }
        let table = self.table.lock();
        list.keys.iter().any(|(db, key)| {
            let expired_when_watched = table
                .get(&(*db, key.clone()))
                .and_then(|ws| ws.iter().find(|w| Arc::ptr_eq(&w.client, &list.state)))
                .is_some_and(|w| w.expired_when_watched);
            !expired_when_watched && locked.is_expired_raw(*db, key, now)
        })
    }
}

impl Engine {
    /// The locks a transaction of `commands` (each looked up: its row, how many names it
    /// took, its arguments) needs to run under one set: the union of its engine commands'
    /// plans, exclusive if any of them writes. A SELECT among them moves later commands to a
    /// database the plans cannot know in advance, so it takes everything. The server's own
    /// commands add what they read themselves. EXEC, and a replica applying its master's
    /// MULTI blocks, lock with this.
    pub fn transaction_plan<'a>(
        &self,
        session: &Session,
        commands: impl IntoIterator<Item = (&'a CommandSpec, usize, &'a [&'a [u8]])>,
    ) -> LockPlan {
        let mut plan = LockPlan::default();
        let mut selects = false;
        for (spec, skip, args) in commands {
            selects |= skip == 1 && spec.name == "select";
            if let Handler::Engine(_) = spec.handler {
                if let Locks::Narrow(_) = spec.locks {
                    // Nothing runs again in a transaction (see `Locks::Narrow`).
                    self.keyspace.plan_whole_db(&mut plan, session.db);
                    plan.write |= !spec.has(crate::command::Flags::READONLY);
                    continue;
                }
                let part = self.lock_plan(spec, session, args);
                plan.write |= part.write;
                plan.shards.extend(part.shards);
            }
        }
        if selects {
            plan.shards.clear();
            self.keyspace.plan_everything(&mut plan);
        }
        plan
    }

    /// The shards of every key `session` watches, for EXEC's lock plan.
    pub fn watched_shards(&self, session: &Session, plan: &mut LockPlan) {
        if let Some(list) = &session.watching {
            plan.shards.extend(
                list.keys
                    .iter()
                    .map(|(db, key)| (*db, self.keyspace.shard_of(key))),
            );
        }
    }

    /// Whether the transaction of `session` must fail because of its watches (see
    /// [`Watches`]); `locked` must hold every watched key's shard.
    pub fn watch_failed(&self, session: &Session, locked: &Locked<'_>, now: u64) -> bool {
        session
            .watching
            .as_ref()
            .is_some_and(|list| self.keyspace.watches.failed(list, locked, now))
    }

    /// Forgets every key `session` watches (UNWATCH, EXEC, DISCARD, RESET, disconnection).
    pub fn unwatch_all(&self, session: &mut Session) {
        if let Some(list) = session.watching.take() {
            self.keyspace.watches.remove_all(&list);
        }
    }
}

/// `WATCH key [key ...]`: from now until EXEC, DISCARD or UNWATCH, a change to any of the
/// keys makes this client's EXEC fail. (WATCH inside MULTI is refused by the server before it
/// gets here.)
pub(crate) fn watch(ctx: &mut Ctx, args: &mut Args, reply: &mut Reply) -> CommandResult {
    let db = ctx.db();
    let watches = &ctx.engine.keyspace.watches;
    let list = ctx.session.watching.get_or_insert_with(Default::default);
    for key in args.rest() {
        let expired = ctx.locked.is_expired_raw(db, key, ctx.now);
        watches.add(list, db, key, expired);
    }
    reply.ok();
    Ok(())
}

/// `UNWATCH`: forgets every watched key.
pub(crate) fn unwatch(ctx: &mut Ctx, _args: &mut Args, reply: &mut Reply) -> CommandResult {
    ctx.engine.unwatch_all(ctx.session);
    reply.ok();
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    /// Whether `line`, run after `setup`, makes a transaction that watches `key` fail
    /// (Redis's `signalModifiedKey`: a change does, a no-op or an error does not).
    pub(crate) fn fails_watch(setup: &[&str], key: &str, line: &str) -> bool {
        let engine = crate::Engine::new(1, 4);
        let mut watcher = crate::Session::default();
        let mut other = crate::Session::default();
        let run = |session: &mut crate::Session, line: &str| {
            let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            let mut reply = crate::Reply::new(crate::Protocol::Resp2);
            engine.execute(session, &args, &mut reply);
        };
        for line in setup {
            run(&mut other, line);
        }
        run(&mut watcher, &format!("WATCH {key}"));
        run(&mut other, line);
        let mut plan = crate::LockPlan {
            write: false,
            shards: crate::ShardList::new(),
        };
        engine.watched_shards(&watcher, &mut plan);
        let locked = engine.keyspace.lock(plan);
        engine.watch_failed(&watcher, &locked, crate::now_ms())
    }
}
