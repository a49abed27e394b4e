//! Client-side caching (Redis's `tracking.c`): CLIENT TRACKING, CLIENT CACHING, CLIENT
//! GETREDIR, CLIENT TRACKINGINFO, and the invalidation messages.
//!
//! In the default mode the server remembers, per key, the clients that read it with tracking
//! on (the table is global, not per database, as in Redis); when the key changes, each of them
//! gets one invalidation message and is forgotten for that key. In BCAST mode a client is told
//! of every change to a key under one of its prefixes, without any table. The engine reports
//! changes through [`kv_engine::tracking::KeyTracking`] while it still holds the changed key's
//! shard, so a default-mode client is told before anyone can read the new value; BCAST
//! messages are gathered while a client's command runs and sent after it, the keys changed
//! under a prefix together (see [`bcast_batch`]).
//!
//! Messages go to the client itself as RESP3 `invalidate` pushes, or to the client it
//! redirects to: as pushes if that one speaks RESP3, as messages of the `__redis__:invalidate`
//! channel if it is a RESP2 subscriber. `tracking-table-max-keys` bounds the table: past it,
//! keys are forgotten, their clients told, as if they had changed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use bytes::{Bytes, BytesMut};
use kv_engine::{Args, CommandError, CommandSpec, Flags};
use parking_lot::{Mutex, RwLock};

use crate::clients::ClientHandle;
use crate::connection::Connection;
use crate::mailbox::Mailbox;

/// A client's tracking options (CLIENT TRACKING ON ...).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `BCAST`: told of every change under its prefixes.
    pub bcast: bool,
    /// `OPTIN`: only keys read right after `CLIENT CACHING YES` are remembered.
    pub optin: bool,
    /// `OPTOUT`: keys read right after `CLIENT CACHING NO` are not remembered.
    pub optout: bool,
    /// `NOLOOP`: not told of its own changes.
    pub noloop: bool,
    /// `REDIRECT id`: where the messages go (0: to the client itself).
    pub redirect: u64,
    /// `PREFIX`es of BCAST mode (none given: the empty prefix, every key).
    pub prefixes: Vec<Bytes>,
}

/// A client with tracking on, as the senders of invalidations see it.
#[derive(Debug)]
struct Tracker {
    handle: Arc<ClientHandle>,
    mailbox: Arc<Mailbox>,
    options: Options,
    /// The client messages are redirected to, while it exists.
    redirect: Option<Weak<ClientHandle>>,
}

/// Every tracking client, the table of remembered keys, and the BCAST prefixes.
#[derive(Debug, Default)]
pub struct Tracking {
    clients: RwLock<HashMap<u64, Arc<Tracker>>>,
    /// Key → the ids of the clients that read it (default mode).
    table: Mutex<HashMap<Bytes, HashSet<u64>>>,
    /// `(key, client)` pairs in the table (INFO's `tracking_total_items`).
    items: AtomicUsize,
}

/// The channel RESP2 clients receive redirected invalidations on.
const CHANNEL: &[u8] = b"__redis__:invalidate";

impl Tracking {
    /// Tracking clients (INFO's `tracking_clients`).
    pub fn client_count(&self) -> usize {
        self.clients.read().len()
    }

    /// Keys in the table (INFO's `tracking_total_keys`).
    pub fn key_count(&self) -> usize {
        self.table.lock().len()
    }

    /// Remembered `(key, client)` pairs (INFO's `tracking_total_items`).
    pub fn item_count(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }

    /// Tells the engine whether changes must reach this table: while a client tracks, or
    /// while the table remembers keys (of clients that stopped tracking since), so that a
    /// change or a flush still forgets them, as Redis's table forgets them. Called when a
    /// client stops tracking, and by the cron.
    pub fn sync_active(&self, engine: &kv_engine::Engine) {
        // Under the clients' lock, as a client starting to track sets it under that lock.
        let clients = self.clients.read();
        let active = !clients.is_empty() || self.items.load(Ordering::Relaxed) > 0;
        engine.keyspace.tracking.set_active(active);
        drop(clients);
    }

    /// Distinct BCAST prefixes (INFO's `tracking_total_prefixes`).
    pub fn prefix_count(&self) -> usize {
        let clients = self.clients.read();
        let prefixes: HashSet<&Bytes> = clients
            .values()
            .filter(|t| t.options.bcast)
            .flat_map(|t| t.options.prefixes.iter())
            .collect();
        prefixes.len()
    }

    /// Tells the clients caching `key` (`None`: everything, after a flush) that it changed,
    /// by `modifier` if a client changed it. Installed as the engine's invalidation sink.
    pub fn invalidate(&self, key: Option<&[u8]>, modifier: Option<u64>) {
        let Some(key) = key else {
            self.flush();
            return;
        };
        let remembered = {
            let mut table = self.table.lock();
            let ids = table.remove(key);
            if let Some(ids) = &ids {
                self.items.fetch_sub(ids.len(), Ordering::Relaxed);
            }
            ids
        };
        let clients = self.clients.read();
        for id in remembered.iter().flatten() {
            let Some(tracker) = clients.get(id) else {
                continue;
            };
            let own_change = tracker.options.noloop && modifier == Some(*id);
            if !tracker.options.bcast && !own_change {
                send(tracker, Some(&[key]));
            }
        }
        for tracker in clients.values().filter(|t| t.options.bcast) {
            let mine = modifier == Some(tracker.handle.id);
            let Some(prefix) = matching_prefix(&tracker.options, key) else {
                continue;
            };
            if tracker.options.noloop && mine {
                continue;
            }
            let batched = BCAST_BATCH.with_borrow_mut(|batch| match batch {
                Some(batch) => {
                    batch.push((tracker.clone(), prefix, Bytes::copy_from_slice(key)));
                    true
                }
                None => false,
            });
            if !batched {
                send(tracker, Some(&[key]));
            }
        }
    }

    /// A flush: every tracking client is told that everything changed, and the table is
    /// emptied.
    fn flush(&self) {
        {
            let mut table = self.table.lock();
            table.clear();
            self.items.store(0, Ordering::Relaxed);
        }
        for tracker in self.clients.read().values() {
            send(tracker, None);
        }
    }

    /// Remembers that client `id` read `keys`; past `max` keys (`tracking-table-max-keys`,
    /// 0: no limit), forgets other keys, telling their clients.
    fn remember<'a>(&self, id: u64, keys: impl Iterator<Item = &'a [u8]>, max: usize) {
        {
            let mut table = self.table.lock();
            for key in keys {
                let ids = table.entry(Bytes::copy_from_slice(key)).or_default();
                if ids.insert(id) {
                    self.items.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.limit(max);
    }

    /// Forgets keys, telling the clients that read them, while the table holds more than
    /// `max` (`tracking-table-max-keys`; 0: no limit). Runs after every remembering and, as
    /// Redis's `trackingLimitUsedSlots` runs before it sleeps, from the cron, so a limit
    /// lowered by CONFIG SET takes effect with no read needed.
    pub fn limit(&self, max: usize) {
        let evicted = {
            let mut table = self.table.lock();
            let mut evicted = Vec::new();
            while max > 0 && table.len() > max {
                let Some(key) = table.keys().next().cloned() else {
                    break;
                };
                if let Some(ids) = table.remove(&key) {
                    self.items.fetch_sub(ids.len(), Ordering::Relaxed);
                    evicted.push((key, ids));
                }
            }
            evicted
        };
        let clients = self.clients.read();
        for (key, ids) in evicted {
            for tracker in ids.iter().filter_map(|id| clients.get(id)) {
                send(tracker, Some(&[&key[..]]));
            }
        }
    }
}

/// The BCAST prefix of `options` that `key` is under (the empty prefix for a client that
/// gave none), if any. Prefixes of one client never overlap (CLIENT TRACKING refuses that),
/// so there is at most one.
fn matching_prefix(options: &Options, key: &[u8]) -> Option<Bytes> {
    if options.prefixes.is_empty() {
        return Some(Bytes::new());
    }
    options
        .prefixes
        .iter()
        .find(|p| key.starts_with(p))
        .cloned()
}

/// BCAST invalidations held back: the client, its prefix the key is under, the key.
type BcastBatch = Vec<(Arc<Tracker>, Bytes, Bytes)>;

thread_local! {
    /// BCAST invalidations held back while a command runs on this thread (see
    /// [`bcast_batch`]); `None` while none runs.
    static BCAST_BATCH: std::cell::RefCell<Option<BcastBatch>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `command` (which must not await), then sends the BCAST invalidations of the keys it
/// changed as one message per prefix and client, its keys sorted and each once, as Redis
/// sends the keys changed under a prefix together (MSET of three keys: one message of three),
/// prefix by prefix in byte order.
/// The messages go after the change, never before it, so a client told of one cannot cache
/// the old value after. Default-mode invalidations are not held back.
pub fn bcast_batch<R>(command: impl FnOnce() -> R) -> R {
    let opened = BCAST_BATCH.with_borrow_mut(|batch| match batch {
        Some(_) => false,
        None => {
            *batch = Some(Vec::new());
            true
        }
    });
    let result = command();
    if opened {
        let mut batch = BCAST_BATCH
            .with_borrow_mut(Option::take)
            .unwrap_or_default();
        batch.sort_by(|a, b| (&a.1, a.0.handle.id, &a.2).cmp(&(&b.1, b.0.handle.id, &b.2)));
        batch.dedup_by(|a, b| a.0.handle.id == b.0.handle.id && a.1 == b.1 && a.2 == b.2);
        for group in batch.chunk_by(|a, b| a.1 == b.1 && a.0.handle.id == b.0.handle.id) {
            let keys: Vec<&[u8]> = group.iter().map(|(_, _, key)| &key[..]).collect();
            send(&group[0].0, Some(&keys));
        }
    }
    result
}

/// Sends one invalidation of `keys` (`None`: of everything) for `tracker`, where it must go.
fn send(tracker: &Tracker, keys: Option<&[&[u8]]>) {
    let (target, mailbox) = match &tracker.redirect {
        None => (tracker.handle.clone(), tracker.mailbox.clone()),
        Some(weak) => match weak.upgrade().and_then(|t| t.mailbox().map(|m| (t, m))) {
            Some(found) => found,
            None => {
                redirect_broken(tracker);
                return;
            }
        },
    };
    let (resp3, subscribed) = {
        let state = target.state.lock();
        (state.resp == 3, state.subscriptions != (0, 0, 0))
    };
    let mut out = BytesMut::new();
    if resp3 {
        out.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if tracker.redirect.is_some() && subscribed {
        out.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n");
        kv_resp::encode::write_bulk(&mut out, CHANNEL);
    } else {
        // A RESP2 connection cannot take pushes: nothing can be sent, as in Redis.
        return;
    }
    match keys {
        Some(keys) => {
            out.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for key in keys {
                kv_resp::encode::write_bulk(&mut out, key);
            }
        }
        None if resp3 => out.extend_from_slice(b"_\r\n"),
        None => out.extend_from_slice(b"$-1\r\n"),
    }
    mailbox.push(&out.freeze());
}

/// Tells a RESP3 tracking client, once, that the client it redirects to is gone.
fn redirect_broken(tracker: &Tracker) {
    let mut state = tracker.handle.state.lock();
    if state.tracking_broken {
        return;
    }
    state.tracking_broken = true;
    let resp3 = state.resp == 3;
    drop(state);
    if resp3 {
        let mut out = BytesMut::new();
        out.extend_from_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n");
        out.extend_from_slice(format!(":{}\r\n", tracker.options.redirect).as_bytes());
        tracker.mailbox.push(&out.freeze());
    }
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`
pub fn client_tracking(conn: &mut Connection, args: &mut Args<'_>) -> Result<(), CommandError> {
    let switch = args.next_bytes()?.to_ascii_lowercase();
    let mut options = Options::default();
    let mut redirect_handle = None;
    while let Some(word) = args.peek() {
        let word = word.to_ascii_lowercase();
        args.next_bytes()?;
        match word.as_slice() {
            b"redirect" if !args.is_empty() => {
                if options.redirect != 0 {
                    return Err(CommandError::msg(
                        "ERR A client can only redirect to a single other client",
                    ));
                }
                let id = args.next_i64()?;
                let handle = u64::try_from(id)
                    .ok()
                    .and_then(|id| conn.shared.clients.get(id));
                let Some(handle) = handle else {
                    return Err(CommandError::msg(
                        "ERR The client ID you want redirect to does not exist",
                    ));
                };
                options.redirect = handle.id;
                redirect_handle = Some(handle);
            }
            b"bcast" => options.bcast = true,
            b"optin" => options.optin = true,
            b"optout" => options.optout = true,
            b"noloop" => options.noloop = true,
            b"prefix" if !args.is_empty() => {
                options
                    .prefixes
                    .push(Bytes::copy_from_slice(args.next_bytes()?));
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    match switch.as_slice() {
        b"on" => enable(conn, options, redirect_handle)?,
        b"off" => disable(conn),
        _ => return Err(CommandError::Syntax),
    }
    conn.reply.ok();
    Ok(())
}

/// CLIENT TRACKING ON: checks the options against each other and the current ones, as Redis
/// does and in its order, then turns tracking on (again).
fn enable(
    conn: &mut Connection,
    mut options: Options,
    redirect: Option<Arc<ClientHandle>>,
) -> Result<(), CommandError> {
    let err = |text: &'static str| Err(CommandError::msg(text));
    if !options.bcast && !options.prefixes.is_empty() {
        return err("ERR PREFIX option requires BCAST mode to be enabled");
    }
    let current = conn.tracking.clone();
    if current.as_ref().is_some_and(|c| c.bcast != options.bcast) {
        return err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if options.bcast && (options.optin || options.optout) {
        return err("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if options.optin && options.optout {
        return err("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if current
        .as_ref()
        .is_some_and(|c| (options.optin && c.optout) || (options.optout && c.optin))
    {
        return err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    let existing = current.map(|c| c.prefixes).unwrap_or_default();
    if options.bcast {
        check_prefixes(&existing, &options.prefixes)?;
        let mut prefixes = existing;
        prefixes.extend(options.prefixes);
        if prefixes.is_empty() {
            prefixes.push(Bytes::new());
        }
        options.prefixes = prefixes;
    }
    let shared = conn.shared.clone();
    let tracker = Arc::new(Tracker {
        handle: conn.handle.clone(),
        mailbox: conn.mailbox(),
        options: options.clone(),
        redirect: redirect.as_ref().map(Arc::downgrade),
    });
    let mut clients = shared.tracking.clients.write();
    clients.insert(conn.handle.id, tracker);
    // Under the lock, so that a concurrent `sync_active` cannot undo it.
    shared.engine.keyspace.tracking.set_active(true);
    drop(clients);
    {
        let mut state = conn.handle.state.lock();
        state.tracking_redirect = Some(options.redirect);
        state.tracking_bcast = options.bcast;
        state.tracking_broken = false;
    }
    conn.tracking = Some(options);
    conn.caching = None;
    Ok(())
}

/// Redis's `checkPrefixCollisionsOrReply`: no new prefix may be a prefix of, or have as a
/// prefix, one the client has, or another new one.
fn check_prefixes(existing: &[Bytes], new: &[Bytes]) -> Result<(), CommandError> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    for (i, prefix) in new.iter().enumerate() {
        let show = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        if let Some(collision) = existing.iter().find(|e| overlap(e, prefix)) {
            return Err(CommandError::Other(std::borrow::Cow::Owned(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                show(prefix),
                show(collision)
            ))));
        }
        if let Some(other) = new[i + 1..].iter().find(|o| overlap(o, prefix)) {
            return Err(CommandError::Other(std::borrow::Cow::Owned(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                show(prefix),
                show(other)
            ))));
        }
    }
    Ok(())
}

/// Turns tracking off for the client (CLIENT TRACKING OFF, RESET, disconnection).
pub fn disable(conn: &mut Connection) {
    if conn.tracking.take().is_none() {
        return;
    }
    conn.caching = None;
    let shared = &conn.shared;
    let mut clients = shared.tracking.clients.write();
    clients.remove(&conn.handle.id);
    drop(clients);
    shared.tracking.sync_active(&shared.engine);
    let mut state = conn.handle.state.lock();
    state.tracking_redirect = None;
    state.tracking_bcast = false;
    state.tracking_broken = false;
}

/// `CLIENT CACHING YES|NO`: whether the next command's keys are remembered (OPTIN, OPTOUT).
pub fn client_caching(conn: &mut Connection, args: &mut Args<'_>) -> Result<(), CommandError> {
    let Some(options) = &conn.tracking else {
        return Err(CommandError::msg("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    };
    let yes = match args.next_bytes()?.to_ascii_lowercase().as_slice() {
        b"yes" if options.optin => true,
        b"yes" => {
            return Err(CommandError::msg(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ))
        }
        b"no" if options.optout => false,
        b"no" => {
            return Err(CommandError::msg(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ))
        }
        _ => return Err(CommandError::Syntax),
    };
    conn.caching = Some(yes);
    conn.reply.ok();
    Ok(())
}

/// `CLIENT GETREDIR`: -1 without tracking, 0 without redirection, else the client's id.
pub fn client_getredir(conn: &mut Connection) {
    let redirect = conn.tracking.as_ref().map_or(-1, |o| o.redirect as i64);
    conn.reply.integer(redirect);
}

/// `CLIENT TRACKINGINFO`: flags, redirect, prefixes.
pub fn client_trackinginfo(conn: &mut Connection) {
    let broken = conn.handle.state.lock().tracking_broken;
    let mut flags: Vec<&[u8]> = Vec::new();
    match &conn.tracking {
        None => flags.push(b"off"),
        Some(options) => {
            flags.push(b"on");
            for (on, name) in [
                (options.bcast, &b"bcast"[..]),
                (options.optin, b"optin"),
                (options.optout, b"optout"),
                (conn.caching == Some(true), b"caching-yes"),
                (conn.caching == Some(false), b"caching-no"),
                (options.noloop, b"noloop"),
                (broken, b"broken_redirect"),
            ] {
                if on {
                    flags.push(name);
                }
            }
        }
    }
    let reply = &mut conn.reply;
    reply.map(3);
    reply.bulk(b"flags");
    reply.bulks(flags.into_iter());
    reply.bulk(b"redirect");
    reply.integer(conn.tracking.as_ref().map_or(-1, |o| o.redirect as i64));
    reply.bulk(b"prefixes");
    let prefixes = conn
        .tracking
        .as_ref()
        .filter(|o| o.bcast)
        .map(|o| o.prefixes.clone())
        .unwrap_or_default();
    reply.bulks(prefixes.iter().map(|p| &p[..]));
}

/// After a command ran: remembers the keys a read-only command read for a default-mode
/// tracking client (subject to OPTIN/OPTOUT and CLIENT CACHING), and ends the effect of a
/// CLIENT CACHING on the command after it.
pub fn after_command(conn: &mut Connection, spec: &CommandSpec, skip: usize, args: &[&[u8]]) {
    let Some(options) = &conn.tracking else {
        return;
    };
    // OPTIN remembers only after CLIENT CACHING YES, OPTOUT all but after CLIENT CACHING NO.
    let wanted = if options.optin {
        conn.caching == Some(true)
    } else if options.optout {
        conn.caching != Some(false)
    } else {
        true
    };
    let remember = spec.has(Flags::READONLY) && !options.bcast && wanted;
    if remember {
        let keys = spec.keys_in(args);
        let keys = keys.into_iter().filter_map(|p| args.get(p)).map(|k| &k[..]);
        let max = conn
            .shared
            .config
            .hot
            .tracking_table_max_keys
            .load(Ordering::Relaxed);
        let max = usize::try_from(max).unwrap_or(0);
        conn.shared.tracking.remember(conn.handle.id, keys, max);
    }
    // Like Redis, CLIENT CACHING's effect lasts until a command other than a CLIENT one,
    // and for the whole of a transaction.
    let is_client_command = skip == 2 && args[0].eq_ignore_ascii_case(b"client");
    if !is_client_command && conn.transaction.is_none() {
        conn.caching = None;
    }
}
