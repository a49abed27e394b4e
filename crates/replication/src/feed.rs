//! The master's write stream: an effect sink that encodes each write's effects as the
//! append-only file does (RESP commands, SELECT when the database changes, MULTI/EXEC around a
//! group of several) into the [`Backlog`], and tells the replica links the end moved.
//!
//! The backlog is the only buffer: each link sends what follows its position when woken, so
//! every replica reads the same bytes. A link's position pins the stream from there on, so a
//! replica receiving a snapshot, or slow, finds the bytes it needs even past the backlog's
//! size (Redis 7 shares its replicas' output buffers with the backlog the same way), within
//! `client-output-buffer-limit replica`: a link whose lag passes the hard limit, or the soft
//! one for longer than its seconds, is cut (it reconnects and resyncs), so the master's
//! memory stays bounded.
//!
//! A write costs its encoding, one append and, per link, one `Notify::notify_one`: that
//! leaves a permit when the link is busy (a compare-and-swap, nothing more when one is left
//! already), so a link woken once sends every write made meanwhile in one message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kv_engine::effects::{Effect, EffectSink};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::backlog::Backlog;

/// `client-output-buffer-limit replica`: bytes, bytes, seconds (0: no limit), changeable at
/// any time.
#[derive(Debug)]
pub struct OutputLimit {
    /// A link lagging more than this is cut at once.
    pub hard: AtomicU64,
    /// A link lagging more than this for longer than `soft_seconds` is cut.
    pub soft: AtomicU64,
    /// See `soft`.
    pub soft_seconds: AtomicU64,
}

impl Default for OutputLimit {
    /// Redis's default: `256mb 64mb 60`.
    fn default() -> OutputLimit {
        OutputLimit {
            hard: AtomicU64::new(256 << 20),
            soft: AtomicU64::new(64 << 20),
            soft_seconds: AtomicU64::new(60),
        }
    }
}

/// The stream, its history's ID and the backlog of its latest bytes.
#[derive(Debug)]
pub struct Feed {
    state: Mutex<State>,
    limit: Arc<OutputLimit>,
    /// The stream's end offset (the backlog's, readable without the lock).
    end: AtomicU64,
}

/// A link's subscription to the stream: [`Subscription::moved`] returns once the end has
/// moved since the last call (or since subscribing).
#[derive(Debug)]
pub struct Subscription {
    feed: Arc<Feed>,
    notify: Arc<Notify>,
}

impl Subscription {
    /// Waits until bytes were added since the last call returned.
    pub async fn moved(&self) {
        self.notify.notified().await;
    }

    /// The stream's end offset.
    pub fn end(&self) -> u64 {
        self.feed.end()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.feed
            .state
            .lock()
            .readers
            .retain(|r| !Arc::ptr_eq(r, &self.notify));
    }
}

#[derive(Debug)]
struct State {
    backlog: Backlog,
    /// The database the stream's next effect must be in to go without a SELECT (None: the
    /// next effect selects its database whatever it is).
    db: Option<usize>,
    /// The database the stream's bytes so far leave selected (for a replica that continues
    /// from the end).
    context: usize,
    /// The history's replication ID.
    id: String,
    /// The subscribed links' wake-ups.
    readers: Vec<Arc<Notify>>,
    /// Reused for each write's encoding.
    scratch: Vec<u8>,
    /// Where each link (or snapshot being made for links) stands: the stream is kept from
    /// the oldest of these on.
    pins: Vec<Pin>,
}

/// A link's position in the stream.
#[derive(Debug)]
struct Pin {
    link: u64,
    /// The offset from which the link still needs the stream.
    offset: u64,
    /// Since when its lag has been over the soft limit.
    over_soft_since: Option<Instant>,
}

impl State {
    /// Lets go of the bytes past the backlog's capacity that no link needs.
    fn trim(&mut self) {
        let end = self.backlog.end();
        let keep_from = self.pins.iter().map(|p| p.offset).min().unwrap_or(end);
        self.backlog.trim(keep_from);
    }

    /// Appends `bytes`, cuts the links over the output limit, lets go of the bytes no link
    /// needs past the backlog's capacity, and wakes the links; returns the new end.
    fn append(&mut self, bytes: &[u8], limit: &OutputLimit) -> u64 {
        self.backlog.append(bytes);
        let end = self.backlog.end();
        if !self.pins.is_empty() {
            let hard = limit.hard.load(Ordering::Relaxed);
            let soft = limit.soft.load(Ordering::Relaxed);
            let seconds = limit.soft_seconds.load(Ordering::Relaxed);
            self.pins.retain_mut(|pin| {
                let lag = end - pin.offset;
                let over_soft = soft > 0 && lag > soft;
                if !over_soft {
                    pin.over_soft_since = None;
                }
                let cut = (hard > 0 && lag > hard)
                    || (over_soft
                        && pin.over_soft_since.get_or_insert_with(Instant::now).elapsed()
                            > Duration::from_secs(seconds));
                if cut {
                    tracing::warn!(
                        "replica link {} closed for overcoming of output buffer limits: {lag} bytes behind (client-output-buffer-limit replica {hard} {soft} {seconds})",
                        pin.link
                    );
                }
                !cut
            });
        }
        self.trim();
        for reader in &self.readers {
            reader.notify_one();
        }
        end
    }
}

impl Feed {
    /// A new history `id` starting at `offset` in database `db`, with a backlog of `capacity`
    /// bytes and links held to `limit`.
    pub fn new(
        id: String,
        offset: u64,
        db: usize,
        capacity: usize,
        limit: Arc<OutputLimit>,
    ) -> Arc<Feed> {
        Arc::new(Feed {
            limit,
            state: Mutex::new(State {
                backlog: Backlog::new(capacity, offset),
                db: None,
                context: db,
                id,
                readers: Vec::new(),
                scratch: Vec::new(),
                pins: Vec::new(),
            }),
            end: AtomicU64::new(offset),
        })
    }

    /// The stream's end offset.
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// The history's replication ID and the stream's end offset, read together.
    pub fn position(&self) -> (String, u64) {
        let state = self.state.lock();
        (state.id.clone(), state.backlog.end())
    }

    /// The history's ID, the end offset and the database the stream has selected there, and
    /// makes the stream's next effect select its database again: a full synchronisation's
    /// snapshot is taken at this point.
    pub fn position_for_snapshot(&self) -> (String, u64, usize) {
        let mut state = self.state.lock();
        state.db = None;
        (state.id.clone(), state.backlog.end(), state.context)
    }

    /// The database the stream's bytes so far leave selected.
    pub fn context(&self) -> usize {
        self.state.lock().context
    }

    /// Pins the stream from `offset` on for `link` (a replica continuing from there, or a
    /// snapshot at that offset): false if the backlog no longer holds it.
    pub fn pin(&self, link: u64, offset: u64) -> bool {
        let mut state = self.state.lock();
        if !state.backlog.covers(offset) {
            return false;
        }
        state.pins.retain(|p| p.link != link);
        state.pins.push(Pin {
            link,
            offset,
            over_soft_since: None,
        });
        true
    }

    /// The stream's bytes from `offset` on for `link`, which moves its pin there (what came
    /// before is sent); `None` if the link was cut for its lag or was never pinned.
    pub fn read(&self, link: u64, offset: u64) -> Option<Vec<u8>> {
        let mut state = self.state.lock();
        let pin = state.pins.iter_mut().find(|p| p.link == link)?;
        pin.offset = pin.offset.max(offset);
        state.backlog.since(offset)
    }

    /// Lets go of `link`'s pin (the link ended).
    pub fn unpin(&self, link: u64) {
        let mut state = self.state.lock();
        state.pins.retain(|p| p.link != link);
        state.trim();
    }

    /// A subscription woken whenever bytes are added.
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        let notify = Arc::new(Notify::new());
        self.state.lock().readers.push(Arc::clone(&notify));
        Subscription {
            feed: Arc::clone(self),
            notify,
        }
    }

    /// Appends a PING command: the master's keep-alive, part of the stream (and its offsets)
    /// as in Redis.
    pub fn ping(&self) {
        let db = self.context();
        self.append_stream(b"*1\r\n$4\r\nPING\r\n", db);
    }

    /// Starts a new history at the current offset (a promoted replica's): returns the old
    /// ID. The backlog stays, so replicas of the old history can continue from it.
    pub fn set_id(&self, id: String) -> String {
        let mut state = self.state.lock();
        // The first effect of the new history names its database again.
        state.db = None;
        std::mem::replace(&mut state.id, id)
    }

    /// Changes the backlog's capacity (`repl-backlog-size`), keeping the latest bytes.
    pub fn resize(&self, capacity: usize) {
        let mut state = self.state.lock();
        state.backlog.resize(capacity);
        state.trim();
    }

    /// The backlog's figures for INFO replication: capacity, first offset, bytes held.
    pub fn backlog_info(&self) -> (usize, u64, usize) {
        let state = self.state.lock();
        let b = &state.backlog;
        (b.capacity(), b.end() - b.len() as u64, b.len())
    }

    /// Appends bytes of the stream as they are, which leave database `db` selected: a
    /// replica forwards its master's stream this way, byte for byte, so its offsets stay its
    /// master's.
    pub fn append_stream(&self, bytes: &[u8], db: usize) {
        let mut state = self.state.lock();
        state.context = db;
        let end = state.append(bytes, &self.limit);
        self.end.store(end, Ordering::Release);
    }
}

impl EffectSink for Feed {
    fn record(&self, _epoch: u64, group: &[Effect]) {
        let mut state = self.state.lock();
        let mut bytes = std::mem::take(&mut state.scratch);
        bytes.clear();
        kv_persist::aof::encode_group(&mut bytes, &mut state.db, group);
        if let Some(db) = state.db {
            state.context = db;
        }
        let end = state.append(&bytes, &self.limit);
        self.end.store(end, Ordering::Release);
        // A large write's buffer is not kept for the small ones after it.
        if bytes.capacity() <= 64 << 10 {
            state.scratch = bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use kv_engine::{Engine, Protocol, Reply, Session};

    fn run(engine: &Engine, session: &mut Session, line: &str) {
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        let mut reply = Reply::new(Protocol::Resp2);
        let _ = engine.execute(session, &args, &mut reply);
    }

    /// A key as compared: database, name, value as DUMP encodes it, expiry.
    type Stored = (usize, Vec<u8>, Vec<u8>, Option<u64>);

    /// Every key of every database, sorted.
    fn digest(engine: &Engine) -> Vec<Stored> {
        let locked = engine.keyspace.lock_everything(false);
        let mut all = Vec::new();
        for db in 0..engine.keyspace.databases() {
            for (key, entry) in locked.iter(db, kv_engine::now_ms()) {
                let mut value = Vec::new();
                kv_engine::dump::encode_value(&entry.value, &mut value);
                all.push((db, key.to_vec(), value, entry.expires_at()));
            }
        }
        all.sort();
        all
    }

    #[test]
    fn the_stream_replays_to_the_same_data_and_wakes_its_readers() {
        let master = Engine::new(4, 8);
        let feed = Feed::new(crate::id::new_id(), 1000, 0, 1 << 20, Arc::default());
        let woken = feed.subscribe();
        master.keyspace.effects.set_sink(Some(feed.clone()));
        let mut session = Session::default();
        for line in [
            "SET a 1 EX 100",
            "INCRBYFLOAT f 1.5",
            "SELECT 2",
            "RPUSH l x y z",
            "SADD s 1 2 3",
            "SPOP s",
            "SELECT 0",
            "MSET b 2 c 3",
            "DEL a",
        ] {
            run(&master, &mut session, line);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let moved = |w: &Subscription| {
            runtime.block_on(async {
                tokio::time::timeout(std::time::Duration::from_millis(1), w.moved())
                    .await
                    .is_ok()
            })
        };
        assert!(moved(&woken));
        assert!(!moved(&woken), "one wake-up for every write made meanwhile");
        assert_eq!(woken.end(), feed.position().1);
        feed.ping();
        assert!(moved(&woken));

        let replica = Engine::new(4, 8);
        assert!(feed.pin(7, 1000));
        let stream = feed.read(7, 1000).unwrap();
        assert_eq!(1000 + stream.len() as u64, feed.position().1);
        let mut reader = kv_persist::aof::IncrReader::new(stream.as_slice(), false);
        let mut session = Session::default();
        while let Some((_, item)) = reader.next_item().unwrap() {
            let commands = match item {
                kv_persist::aof::Item::Command(args) => vec![args],
                kv_persist::aof::Item::Transaction(queued) => queued,
            };
            for args in commands {
                let mut reply = Reply::new(Protocol::Resp2);
                let _ = replica.execute(&mut session, &kv_engine::arg_slices(&args), &mut reply);
                assert!(!reply.buf.starts_with(b"-"), "{args:?}");
            }
        }
        assert_eq!(digest(&replica), digest(&master));
        // A reader that fell behind the backlog learns it must resync.
        feed.unpin(7);
        feed.resize(8);
        assert!(!feed.pin(7, 1000));
        assert_eq!(feed.read(7, 1000), None);
    }
}
