//! Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, their shard-channel forms
//! (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH) and PUBSUB, as Redis 7.0 answers them (Redis's
//! `pubsub.c`). Without cluster mode, shard channels are simply a namespace of their own, with
//! `smessage` messages and a subscription count of their own, as in Redis.
//!
//! The registry maps each channel, each pattern and each shard channel to its subscribers; a subscriber is a
//! connection's [`Mailbox`] plus the protocol its messages are encoded in. PUBLISH encodes a
//! message once per protocol and appends it to every receiver's mailbox: it never waits on a
//! subscriber, and one that falls too far behind is disconnected (the mailbox's bound, Redis's
//! hard `client-output-buffer-limit` for pub/sub clients). Messages from one publisher reach
//! each subscriber in the order they were published: a PUBLISH hands its message to every
//! mailbox before it replies, and a mailbox is a queue.
//!
//! Each connection keeps its own [`Subscriptions`]; over RESP2 a client with any is in
//! subscriber mode, where only the (un)subscribe commands, PING, QUIT and RESET are allowed
//! (checked by the connection before a command runs).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kv_engine::glob;
use kv_engine::{Args, CommandError, Protocol, Reply};
use kv_resp::encode;
use parking_lot::RwLock;

use crate::connection::Connection;
use crate::mailbox::Mailbox;

/// One subscribed connection, as the registry sees it.
#[derive(Debug)]
pub struct Subscriber {
    /// The connection's client id.
    id: u64,
    /// Where its messages go.
    mailbox: Arc<Mailbox>,
    /// Whether it speaks RESP3 (messages are pushes) rather than RESP2 (arrays).
    resp3: AtomicBool,
}

/// What one connection subscribes to.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// Its registry entry, made on its first subscription.
    subscriber: Option<Arc<Subscriber>>,
    /// Channels.
    channels: HashSet<Bytes>,
    /// Patterns.
    patterns: HashSet<Bytes>,
    /// Shard channels.
    shard_channels: HashSet<Bytes>,
}

impl Subscriptions {
    /// Channels and patterns together: the count each (un)subscribe reply carries.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Every subscription, shard channels included: a RESP2 client with any is in subscriber
    /// mode.
    pub fn total(&self) -> usize {
        self.count() + self.shard_channels.len()
    }

    /// The set of `kind`.
    fn set(&mut self, kind: Kind) -> &mut HashSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// The count a confirmation of `kind` carries: shard channels count apart.
    fn count_for(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard_channels.len(),
            _ => self.count(),
        }
    }
}

/// Subscribers by channel and by pattern, server-wide.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Vec<Arc<Subscriber>>>>,
    patterns: RwLock<HashMap<Bytes, Vec<Arc<Subscriber>>>>,
    shard_channels: RwLock<HashMap<Bytes, Vec<Arc<Subscriber>>>>,
}

/// Which of the three namespaces a subscription is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `SUBSCRIBE` and friends.
    Channel,
    /// `PSUBSCRIBE` and friends.
    Pattern,
    /// `SSUBSCRIBE` and friends.
    Shard,
}

impl Kind {
    /// The namespace a PUBSUB subcommand looks at: shard channels for the `SHARD*` ones.
    fn of_introspection(subcommand: &str) -> Kind {
        if subcommand.starts_with("shard") {
            Kind::Shard
        } else {
            Kind::Channel
        }
    }

    /// The verbs of the confirmations: subscribe, unsubscribe.
    fn verbs(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Channel => (b"subscribe", b"unsubscribe"),
            Kind::Pattern => (b"psubscribe", b"punsubscribe"),
            Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

impl PubSub {
    /// The map of `kind`.
    fn map(&self, kind: Kind) -> &RwLock<HashMap<Bytes, Vec<Arc<Subscriber>>>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    /// Shard channels with at least one subscriber (INFO's `pubsubshard_channels`).
    pub fn shard_channel_count(&self) -> usize {
        self.shard_channels.read().len()
    }

    /// Sends `message` on shard channel `channel`; how many subscribers received it.
    pub fn publish_shard(&self, channel: &[u8], message: &[u8]) -> usize {
        let map = self.shard_channels.read();
        let subscribers = map.get(channel).map_or(&[][..], Vec::as_slice);
        deliver(subscribers, &[b"smessage", channel, message])
    }

    /// Channels with at least one subscriber (INFO's `pubsub_channels`).
    pub fn channel_count(&self) -> usize {
        self.channels.read().len()
    }

    /// Distinct patterns with at least one subscriber (`PUBSUB NUMPAT`, `pubsub_patterns`).
    pub fn pattern_count(&self) -> usize {
        self.patterns.read().len()
    }

    /// Sends `message` on `channel`; how many subscriptions received it (a client subscribed
    /// to the channel and to a matching pattern receives it twice, as in Redis).
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let mut receivers = 0;
        if let Some(subscribers) = self.channels.read().get(channel) {
            receivers += deliver(subscribers, &[b"message", channel, message]);
        }
        for (pattern, subscribers) in self.patterns.read().iter() {
            if glob::matches(pattern, channel, false) {
                receivers += deliver(subscribers, &[b"pmessage", pattern, channel, message]);
            }
        }
        receivers
    }

    /// Adds `subscriber` to `name`.
    fn add(&self, kind: Kind, name: &Bytes, subscriber: &Arc<Subscriber>) {
        self.map(kind)
            .write()
            .entry(name.clone())
            .or_default()
            .push(subscriber.clone());
    }

    /// Removes client `id` from `name`, dropping the name once nobody subscribes to it.
    fn remove(&self, kind: Kind, name: &[u8], id: u64) {
        let mut map = self.map(kind).write();
        if let Some(subscribers) = map.get_mut(name) {
            subscribers.retain(|s| s.id != id);
            if subscribers.is_empty() {
                map.remove(name);
            }
        }
    }
}

/// Leaves the message made of `parts` in every subscriber's mailbox, encoded once per
/// protocol; how many received it.
fn deliver(subscribers: &[Arc<Subscriber>], parts: &[&[u8]]) -> usize {
    let mut encoded = Encoded::default();
    for subscriber in subscribers {
        let bytes = encoded.get(subscriber, |out, protocol| {
            write_message(out, protocol, parts);
        });
        subscriber.mailbox.push(bytes);
    }
    subscribers.len()
}

/// A message encoded at most once per protocol, for every receiver of one PUBLISH.
#[derive(Default)]
struct Encoded {
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl Encoded {
    /// The message as `subscriber` reads it, encoding it with `write` the first time.
    fn get(
        &mut self,
        subscriber: &Subscriber,
        write: impl FnOnce(&mut BytesMut, Protocol),
    ) -> &Bytes {
        let (slot, protocol) = if subscriber.resp3.load(Ordering::Relaxed) {
            (&mut self.resp3, Protocol::Resp3)
        } else {
            (&mut self.resp2, Protocol::Resp2)
        };
        slot.get_or_insert_with(|| {
            let mut out = BytesMut::new();
            write(&mut out, protocol);
            out.freeze()
        })
    }
}

/// A message: a push of bulk strings.
fn write_message(out: &mut BytesMut, protocol: Protocol, parts: &[&[u8]]) {
    encode::write_push_len(out, protocol, parts.len());
    for part in parts {
        encode::write_bulk(out, part);
    }
}

/// A (un)subscribe confirmation: the verb, the channel or pattern (nil when there was none to
/// leave), and how many subscriptions the client has now.
fn confirm(reply: &mut Reply, verb: &[u8], name: Option<&[u8]>, count: usize) {
    reply.push(3);
    reply.bulk(verb);
    match name {
        Some(name) => reply.bulk(name),
        None => reply.null(),
    }
    reply.count(count);
}

/// `SUBSCRIBE channel...` and `PSUBSCRIBE pattern...`.
fn subscribe(conn: &mut Connection, kind: Kind, names: &[&[u8]]) {
    let subscriber = subscriber(conn);
    let (verb, _) = kind.verbs();
    for &name in names {
        let name = Bytes::copy_from_slice(name);
        if conn.subscriptions.set(kind).insert(name.clone()) {
            conn.shared.pubsub.add(kind, &name, &subscriber);
        }
        let count = conn.subscriptions.count_for(kind);
        confirm(&mut conn.reply, verb, Some(&name), count);
    }
    note_mode(conn);
}

/// `UNSUBSCRIBE [channel...]` and `PUNSUBSCRIBE [pattern...]`: the given ones, or all of
/// them; a confirmation for each, or one with a nil name when there was nothing to leave.
fn unsubscribe(conn: &mut Connection, kind: Kind, names: &[&[u8]], reply: bool) {
    let (_, verb) = kind.verbs();
    let names: Vec<Bytes> = if names.is_empty() {
        conn.subscriptions.set(kind).iter().cloned().collect()
    } else {
        kv_engine::owned_args(names)
    };
    if names.is_empty() && reply {
        let count = conn.subscriptions.count_for(kind);
        confirm(&mut conn.reply, verb, None, count);
    }
    for name in &names {
        if conn.subscriptions.set(kind).remove(name) {
            conn.shared.pubsub.remove(kind, name, conn.handle.id);
        }
        if reply {
            let count = conn.subscriptions.count_for(kind);
            confirm(&mut conn.reply, verb, Some(name), count);
        }
    }
    note_mode(conn);
}

/// Leaves every channel, pattern and shard channel without a reply (RESET, or the connection
/// closing).
pub fn unsubscribe_all(conn: &mut Connection) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        unsubscribe(conn, kind, &[], false);
    }
}

/// The connection's registry entry, made (with its mailbox) on its first subscription.
fn subscriber(conn: &mut Connection) -> Arc<Subscriber> {
    if let Some(subscriber) = &conn.subscriptions.subscriber {
        return subscriber.clone();
    }
    let subscriber = Arc::new(Subscriber {
        id: conn.handle.id,
        mailbox: conn.mailbox(),
        resp3: AtomicBool::new(conn.session.protocol == Protocol::Resp3),
    });
    conn.subscriptions.subscriber = Some(subscriber.clone());
    subscriber
}

/// Records whether the client now subscribes to anything, and in which protocol its messages
/// go, for PING, CLIENT LIST and the subscriber-mode check.
pub fn note_mode(conn: &mut Connection) {
    conn.session.subscribed = conn.subscriptions.total() > 0;
    if let Some(mailbox) = &conn.mailbox {
        mailbox
            .pubsub
            .store(conn.session.subscribed, Ordering::Relaxed);
    }
    if let Some(subscriber) = &conn.subscriptions.subscriber {
        subscriber
            .resp3
            .store(conn.session.protocol == Protocol::Resp3, Ordering::Relaxed);
    }
    let mut state = conn.handle.state.lock();
    state.subscriptions = (
        conn.subscriptions.channels.len(),
        conn.subscriptions.patterns.len(),
        conn.subscriptions.shard_channels.len(),
    );
}

/// The commands that subscribe and unsubscribe.
const SUBSCRIPTION_COMMANDS: [&str; 6] = [
    "subscribe",
    "ssubscribe",
    "sunsubscribe",
    "psubscribe",
    "unsubscribe",
    "punsubscribe",
];

/// Whether `name` is a command whose confirmations are pushed, as Redis 7.0 pushes them:
/// they are sent even while CLIENT REPLY is OFF or SKIP, as messages are.
pub fn confirms_by_push(name: &str) -> bool {
    SUBSCRIPTION_COMMANDS.contains(&name)
}

/// The error for a command a RESP2 subscriber may not run; `None` if it may. `name` is the
/// command's full name (`client|list` for a subcommand).
pub fn refused_in_subscriber_mode(conn: &Connection, name: &str) -> Option<CommandError> {
    if conn.session.protocol != Protocol::Resp2
        || conn.subscriptions.total() == 0
        || confirms_by_push(name)
        || ["ping", "quit", "reset"].contains(&name)
    {
        return None;
    }
    Some(CommandError::Other(
        format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
        .into(),
    ))
}

/// Runs the pub/sub command `name` (or PUBSUB's subcommand `sub`).
pub fn command(
    conn: &mut Connection,
    name: &str,
    sub: Option<&str>,
    args: &mut Args<'_>,
) -> Result<(), CommandError> {
    match (name, sub) {
        ("subscribe", _) => subscribe(conn, Kind::Channel, args.rest()),
        ("psubscribe", _) => subscribe(conn, Kind::Pattern, args.rest()),
        ("ssubscribe", _) => subscribe(conn, Kind::Shard, args.rest()),
        ("unsubscribe", _) => unsubscribe(conn, Kind::Channel, args.rest(), true),
        ("punsubscribe", _) => unsubscribe(conn, Kind::Pattern, args.rest(), true),
        ("sunsubscribe", _) => unsubscribe(conn, Kind::Shard, args.rest(), true),
        (verb @ ("publish" | "spublish"), _) => {
            let channel = args.next_bytes()?;
            let message = args.next_bytes()?;
            let receivers = if verb == "publish" {
                conn.shared.pubsub.publish(channel, message)
            } else {
                conn.shared.pubsub.publish_shard(channel, message)
            };
            // A publisher that subscribes to the channel (over RESP3) reads its own message
            // before the reply, as Redis writes it.
            if let Some(mailbox) = &conn.mailbox {
                mailbox.drain_into(&mut conn.reply.buf);
            }
            conn.reply.count(receivers);
        }
        (_, Some(sub @ ("channels" | "shardchannels"))) => {
            let kind = Kind::of_introspection(sub);
            let pattern = args.rest().first();
            let channels: Vec<Bytes> = conn
                .shared
                .pubsub
                .map(kind)
                .read()
                .keys()
                .filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false)))
                .cloned()
                .collect();
            conn.reply.array(channels.len());
            for channel in &channels {
                conn.reply.bulk(channel);
            }
        }
        (_, Some(sub @ ("numsub" | "shardnumsub"))) => {
            let kind = Kind::of_introspection(sub);
            let channels = args.rest();
            let counts: Vec<usize> = {
                let map = conn.shared.pubsub.map(kind).read();
                channels
                    .iter()
                    .map(|c| map.get(&c[..]).map_or(0, Vec::len))
                    .collect()
            };
            // A flat array in both protocols, as Redis answers.
            conn.reply.array(channels.len() * 2);
            for (channel, count) in channels.iter().zip(counts) {
                conn.reply.bulk(channel);
                conn.reply.count(count);
            }
        }
        (_, Some("numpat")) => {
            let patterns = conn.shared.pubsub.pattern_count();
            conn.reply.count(patterns);
        }
        (_, Some("help")) => conn.reply.help(HELP),
        _ => {
            return Err(CommandError::Internal(
                "pub/sub command without an implementation",
            ))
        }
    }
    Ok(())
}

/// PUBSUB HELP's text (Redis 7.0's).
const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];
