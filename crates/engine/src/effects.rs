//! Effects: what each write did, as commands that redo it exactly, for the append-only file
//! (and the replication stream) to log and replay.
//!
//! Replay must land on the same data whatever the time or the randomness at replay, so a
//! command is logged by its effect: by default the command as sent, when it changed
//! something; rewritten where it depends on the time or on chance (a relative TTL as an
//! absolute one, INCRBYFLOAT as the SET of its result, SPOP as the SREM of what it took, a
//! blocked client's pop as the non-blocking form), and deletions the server makes on its own
//! (keys past their TTL, evictions) as DEL.
//!
//! A command's effects are gathered in its [`Locked`](crate::Locked) and handed to the
//! [`EffectSink`] as one group when the locks are released (a transaction's queue is one
//! group), still under the locks: two commands on one key are recorded in the order they ran.
//! Deletions of expired keys are recorded as they happen, ahead of the command that met them.
//! With no sink installed, recording costs one atomic load per write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

/// One command that redoes (part of) a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// The database it applies to.
    pub db: usize,
    /// The command and its arguments.
    pub args: Vec<Bytes>,
}

impl Effect {
    /// `args` in database `db`.
    pub fn new(db: usize, args: impl IntoIterator<Item = impl Into<Bytes>>) -> Effect {
        Effect {
            db,
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// `args` in database `db`, copied: a request's arguments borrow the connection's read
    /// buffer, which an effect outlives.
    pub fn copied(db: usize, args: &[&[u8]]) -> Effect {
        Effect {
            db,
            args: crate::owned_args(args),
        }
    }
}

/// Where effects go: the server's append-only file, a replication stream.
pub trait EffectSink: Send + Sync {
    /// Takes the effects of one command (or one transaction), to be replayed together, with
    /// the snapshot epoch the command's locks read (see the keyspace's `snapshot` module): a
    /// rewrite of the log that starts from a snapshot keeps exactly the effects of later
    /// epochs. Called with the command's shard locks held.
    fn record(&self, epoch: u64, group: &[Effect]);
}

/// The keyspace's effect recording: the log's sink (the append-only file) and the
/// replication stream's, each if any. Two slots rather than one sink so that each side turns
/// itself on and off without knowing of the other; a replay of the log takes the log's sink
/// alone out.
#[derive(Default)]
pub struct Effects {
    enabled: AtomicBool,
    sink: RwLock<Option<Arc<dyn EffectSink>>>,
    replication: RwLock<Option<Arc<dyn EffectSink>>>,
}

impl std::fmt::Debug for Effects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Effects")
            .field("enabled", &self.enabled())
            .finish_non_exhaustive()
    }
}

impl Effects {
    /// Installs `sink` (or none): from the next command on, effects go there.
    pub fn set_sink(&self, sink: Option<Arc<dyn EffectSink>>) {
        let mut slot = self.sink.write();
        let other = self.replication.read().is_some();
        self.enabled
            .store(sink.is_some() || other, Ordering::SeqCst);
        *slot = sink;
    }

    /// Removes the log's sink and returns it: to run commands whose effects must not be
    /// logged (a replay of the log itself), then put it back with [`Effects::set_sink`].
    pub fn take_sink(&self) -> Option<Arc<dyn EffectSink>> {
        let mut slot = self.sink.write();
        let other = self.replication.read().is_some();
        self.enabled.store(other, Ordering::SeqCst);
        slot.take()
    }

    /// Installs the replication stream's sink (or none), beside the log's.
    pub fn set_replication_sink(&self, sink: Option<Arc<dyn EffectSink>>) {
        let log = self.sink.read();
        let mut slot = self.replication.write();
        self.enabled
            .store(sink.is_some() || log.is_some(), Ordering::SeqCst);
        *slot = sink;
    }

    /// Whether effects are recorded at all.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Hands `group` to the sink, if there is one.
    pub(crate) fn record(&self, epoch: u64, group: &[Effect]) {
        if group.is_empty() || !self.enabled() {
            return;
        }
        if let Some(sink) = &*self.sink.read() {
            sink.record(epoch, group);
        }
        if let Some(sink) = &*self.replication.read() {
            sink.record(epoch, group);
        }
    }
}

/// The arguments of a rewritten command, each anything that is bytes (`&[u8]`, `b"..."`,
/// a `String`): `effect_args!(b"PEXPIREAT", key, at.to_string())`.
#[macro_export]
#[doc(hidden)]
macro_rules! effect_args {
    ($($arg:expr),* $(,)?) => {
        vec![$($crate::effects::arg($arg)),*]
    };
}

/// One argument of [`effect_args!`].
pub fn arg(bytes: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(bytes.as_ref())
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Engine, Protocol, Reply, Session};
    use parking_lot::Mutex;

    /// Keeps every group it is given.
    #[derive(Default)]
    struct Log(Mutex<Vec<Vec<Effect>>>);

    impl EffectSink for Log {
        fn record(&self, _: u64, group: &[Effect]) {
            self.0.lock().push(group.to_vec());
        }
    }

    fn words(line: &str) -> Vec<&[u8]> {
        line.split_whitespace().map(str::as_bytes).collect()
    }

    fn run(engine: &Engine, session: &mut Session, args: &[&[u8]]) -> Vec<u8> {
        let mut reply = Reply::new(Protocol::Resp2);
        let _ = engine.execute(session, args, &mut reply);
        reply.buf.to_vec()
    }

    /// A key as the tests compare them: database, name, value as DUMP encodes it, expiry.
    type Stored = (usize, Vec<u8>, Vec<u8>, Option<u64>);

    /// Every key of every database.
    fn dataset(engine: &Engine) -> Vec<Stored> {
        let locked = engine.keyspace.lock_everything(false);
        let now = crate::now_ms();
        let mut all = Vec::new();
        for db in 0..engine.keyspace.databases() {
            for (key, entry) in locked.iter(db, now) {
                let mut value = Vec::new();
                crate::dump::encode_value(&entry.value, &mut value);
                all.push((db, key.to_vec(), value, entry.expires_at()));
            }
        }
        all.sort();
        all
    }

    /// Runs `script` on a recording engine, replays what it recorded on a fresh one a little
    /// later, and checks both hold the same data (TTLs to the millisecond).
    fn replays_to_the_same_data(script: &[&str]) -> Vec<Vec<Effect>> {
        let original = Engine::new(4, 8);
        let log = Arc::new(Log::default());
        original.keyspace.effects.set_sink(Some(log.clone()));
        let mut session = Session::default();
        for line in script {
            run(&original, &mut session, &words(line));
        }
        // Later, as a restart would replay: relative times would land elsewhere.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let copy = Engine::new(4, 8);
        let groups = log.0.lock().clone();
        for group in &groups {
            for effect in group {
                let mut session = Session {
                    db: effect.db,
                    ..Session::default()
                };
                let reply = run(&copy, &mut session, &crate::arg_slices(&effect.args));
                assert!(
                    !reply.starts_with(b"-"),
                    "{effect:?}: {}",
                    String::from_utf8_lossy(&reply)
                );
            }
        }
        assert_eq!(dataset(&copy), dataset(&original));
        groups
    }

    #[test]
    fn time_and_chance_are_replayed_as_their_effects() {
        let groups = replays_to_the_same_data(&[
            "SET a 1 EX 100",
            "SET b 2 PX 100000 GET",
            "SETEX c 100 x",
            "PSETEX d 100000 y",
            "SET e 3",
            "EXPIRE e 100",
            "PEXPIRE e 5000 GT",
            "GETEX a EX 200",
            "GETEX b PERSIST",
            "INCRBYFLOAT f 0.1",
            "INCRBYFLOAT f 1e-3",
            "SADD s 1 2 3 4 5 6 7 8 9 10 a b c",
            "SPOP s",
            "SPOP s 3",
            "SADD small x y",
            "SPOP small 5",
            "HSET h f1 1.5 f2 2 f3 3",
            "HINCRBYFLOAT h f1 0.25",
            "HEXPIRE h 100 FIELDS 2 f2 nofield",
            "HPEXPIRE h 100000 NX FIELDS 1 f3",
            "HGETEX h PX 50000 FIELDS 1 f1",
            "HSETEX h EX 300 FIELDS 1 f4 v",
            "SELECT 2",
            "SET other v EX 1000",
            "RPUSH l a b c",
            "SELECT 0",
            "SET gone v",
            "EXPIRE gone -1",
            "SET nx-fails 1",
            "SET nx-fails 2 NX",
            "DEL nothing-here",
        ]);
        // Nothing is recorded for commands that changed nothing.
        let all: Vec<String> = groups
            .iter()
            .flatten()
            .map(|e| String::from_utf8_lossy(&e.args.concat()).into_owned())
            .collect();
        assert!(!all.iter().any(|e| e.contains("nothing-here")), "{all:?}");
        assert_eq!(all.iter().filter(|e| e.contains("nx-fails")).count(), 1);
        assert!(all.iter().any(|e| e.starts_with("SREM")), "{all:?}");
    }

    #[test]
    fn sort_store_of_a_set_replays_as_the_list_it_stored() {
        // Equal weights: the order among them is the set's own, which a replay need not
        // rebuild; the stored list must come back element for element all the same.
        let mut script = vec!["SADD s".to_string()];
        for i in 0..1500 {
            script[0].push_str(&format!(" m{i}"));
        }
        script.push("SET w_m7 2".into());
        script.push("SORT s BY w_* STORE out".into());
        script.push("SORT s BY nosort STORE sorted".into());
        script.push("SORT s BY w_* DESC LIMIT 0 0 STORE empty".into());
        let lines: Vec<&str> = script.iter().map(String::as_str).collect();
        let groups = replays_to_the_same_data(&lines);
        let sorts: Vec<&Vec<Effect>> = groups
            .iter()
            .filter(|g| g.iter().any(|e| e.args[0] == "DEL"))
            .collect();
        assert_eq!(sorts.len(), 3, "{groups:?}");
        // DEL, then the 1500 elements in runs of 1024.
        assert_eq!(sorts[0].len(), 3);
        assert_eq!(sorts[0][1].args.len(), 2 + 1024);
        assert_eq!(sorts[2].len(), 1);
    }

    #[test]
    fn a_transaction_is_one_group_and_a_served_client_replays_as_the_plain_pop() {
        let engine = Engine::new(1, 4);
        let log = Arc::new(Log::default());
        engine.keyspace.effects.set_sink(Some(log.clone()));
        // A client blocked on `q`, served by a later push.
        let mut waiting = Session {
            waker: Some(crate::Waker::new(|| {})),
            ..Session::default()
        };
        let mut reply = Reply::new(Protocol::Resp2);
        let waiter = engine.execute(&mut waiting, &words("BLPOP q 0"), &mut reply);
        assert!(waiter.is_some());
        run(&engine, &mut Session::default(), &words("RPUSH q x y"));
        let groups = log.0.lock().clone();
        let last = groups.last().unwrap();
        assert_eq!(last.len(), 2, "{last:?}");
        assert_eq!(last[0].args, words("RPUSH q x y"));
        assert_eq!(last[1].args, words("LPOP q"));
    }

    #[test]
    fn expired_and_evicted_keys_are_recorded_as_deletions() {
        let engine = Engine::new(1, 4);
        let log = Arc::new(Log::default());
        engine.keyspace.effects.set_sink(Some(log.clone()));
        let mut session = Session::default();
        run(&engine, &mut session, &words("SET k v PX 1"));
        std::thread::sleep(std::time::Duration::from_millis(5));
        // A lookup meets it past its TTL.
        run(&engine, &mut session, &words("GET k"));
        let groups = log.0.lock().clone();
        assert_eq!(groups.last().unwrap()[0].args, words("DEL k"));
    }
}
