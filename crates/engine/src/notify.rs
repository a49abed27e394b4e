//! Keyspace notifications (Redis's `notify.c`): the event classes of `notify-keyspace-events`
//! and the publication of `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` messages.
//!
//! The engine decides which events happen and formats their channels; delivering them is the
//! server's business (its pub/sub), reached through the sink installed with
//! [`KeyEvents::set_sink`]. Events are published while the command still holds its locks, so
//! two commands on one key publish their events in the order they ran.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A set of `notify-keyspace-events` classes, as Redis's `NOTIFY_*` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventClass(u32);

impl EventClass {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: EventClass = EventClass(1 << 0);
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: EventClass = EventClass(1 << 1);
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: EventClass = EventClass(1 << 2);
    /// `$`: string commands.
    pub const STRING: EventClass = EventClass(1 << 3);
    /// `l`: list commands.
    pub const LIST: EventClass = EventClass(1 << 4);
    /// `s`: set commands.
    pub const SET: EventClass = EventClass(1 << 5);
    /// `h`: hash commands.
    pub const HASH: EventClass = EventClass(1 << 6);
    /// `z`: sorted-set commands.
    pub const ZSET: EventClass = EventClass(1 << 7);
    /// `x`: a key deleted because its time had come.
    pub const EXPIRED: EventClass = EventClass(1 << 8);
    /// `e`: a key evicted for `maxmemory`.
    pub const EVICTED: EventClass = EventClass(1 << 9);
    /// `t`: stream commands.
    pub const STREAM: EventClass = EventClass(1 << 10);
    /// `m`: a read of a key that is not there (not part of `A`).
    pub const KEY_MISS: EventClass = EventClass(1 << 11);
    /// `d`: module key types (kv has none; the letter is accepted as in Redis).
    pub const MODULE: EventClass = EventClass(1 << 13);
    /// `n`: a key created (not part of `A`).
    pub const NEW: EventClass = EventClass(1 << 14);
    /// `A`: every class but `m` and `n`.
    pub const ALL: EventClass = EventClass(
        Self::GENERIC.0
            | Self::STRING.0
            | Self::LIST.0
            | Self::SET.0
            | Self::HASH.0
            | Self::ZSET.0
            | Self::EXPIRED.0
            | Self::EVICTED.0
            | Self::STREAM.0
            | Self::MODULE.0,
    );

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The set of these bits.
    pub const fn from_bits(bits: u32) -> EventClass {
        EventClass(bits)
    }

    /// Whether every class of `other` is in the set.
    pub const fn contains(self, other: EventClass) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The letters of each single class, in the order Redis writes them back.
const LETTERS: &[(char, EventClass)] = &[
    ('g', EventClass::GENERIC),
    ('$', EventClass::STRING),
    ('l', EventClass::LIST),
    ('s', EventClass::SET),
    ('h', EventClass::HASH),
    ('z', EventClass::ZSET),
    ('x', EventClass::EXPIRED),
    ('e', EventClass::EVICTED),
    ('t', EventClass::STREAM),
    ('d', EventClass::MODULE),
    ('n', EventClass::NEW),
];

/// Reads a `notify-keyspace-events` value (Redis's `keyspaceEventsStringToFlags`); `None`
/// for a letter Redis does not know.
pub fn parse_classes(text: &str) -> Option<EventClass> {
    let mut bits = 0;
    for c in text.chars() {
        bits |= match c {
            'A' => EventClass::ALL.0,
            other => {
                LETTERS
                    .iter()
                    .chain(AFTER_CLASSES)
                    .find(|(l, _)| *l == other)?
                    .1
                     .0
            }
        };
    }
    Some(EventClass(bits))
}

/// Writes a set of classes back as Redis does (`keyspaceEventsFlagsToString`): `A` when all of
/// it is there (then, as in Redis, an `n` is not written), else each class's letter; then `K`,
/// `E` and `m`.
pub fn format_classes(classes: EventClass) -> String {
    let mut out = String::new();
    if classes.contains(EventClass::ALL) {
        out.push('A');
    } else {
        push_letters(&mut out, classes, LETTERS);
    }
    push_letters(&mut out, classes, AFTER_CLASSES);
    out
}

/// Writes a set of classes with one letter per class (never `A`), so that reading it back
/// gives the same set: the form kv stores, where Redis's own form loses an `n` next to `A`.
pub fn format_every_class(classes: EventClass) -> String {
    let mut out = String::new();
    push_letters(&mut out, classes, LETTERS);
    push_letters(&mut out, classes, AFTER_CLASSES);
    out
}

/// The letters Redis writes after the classes: `K`, `E`, `m`.
const AFTER_CLASSES: &[(char, EventClass)] = &[
    ('K', EventClass::KEYSPACE),
    ('E', EventClass::KEYEVENT),
    ('m', EventClass::KEY_MISS),
];

/// Appends the letter of each of `letters` that `classes` holds.
fn push_letters(out: &mut String, classes: EventClass, letters: &[(char, EventClass)]) {
    out.extend(
        letters
            .iter()
            .filter(|(_, class)| classes.contains(*class))
            .map(|(letter, _)| letter),
    );
}

/// Where the engine publishes a notification: `(channel, message)`.
pub type Sink = Box<dyn Fn(&[u8], &[u8]) + Send + Sync>;

/// The notification settings and the way out to subscribers.
#[derive(Default)]
pub struct KeyEvents {
    /// The classes in force (`notify-keyspace-events`).
    classes: AtomicU32,
    sink: OnceLock<Sink>,
}

impl std::fmt::Debug for KeyEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEvents")
            .field("classes", &format_classes(self.classes()))
            .finish_non_exhaustive()
    }
}

impl KeyEvents {
    /// The classes in force.
    pub fn classes(&self) -> EventClass {
        EventClass(self.classes.load(Ordering::Relaxed))
    }

    /// Sets the classes in force.
    pub fn set_classes(&self, classes: EventClass) {
        self.classes.store(classes.0, Ordering::Relaxed);
    }

    /// Installs where notifications go; only the first call counts.
    pub fn set_sink(&self, sink: Sink) {
        let _ = self.sink.set(sink);
    }

    /// Whether an event of `class` would be published now: lets a caller skip work that only
    /// matters to notifications.
    pub fn wanted(&self, class: EventClass) -> bool {
        let classes = self.classes.load(Ordering::Relaxed);
        classes & class.0 != 0 && classes & (EventClass::KEYSPACE.0 | EventClass::KEYEVENT.0) != 0
    }

    /// Publishes `event` of `class` on `key` in database `db`, if that class is enabled.
    pub fn publish(&self, class: EventClass, event: &str, db: usize, key: &[u8]) {
        let classes = self.classes.load(Ordering::Relaxed);
        if classes & class.0 == 0 {
            return;
        }
        let Some(sink) = self.sink.get() else {
            return;
        };
        if classes & EventClass::KEYSPACE.0 != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            sink(&channel, event.as_bytes());
        }
        if classes & EventClass::KEYEVENT.0 != 0 {
            let channel = format!("__keyevent@{db}__:{event}");
            sink(channel.as_bytes(), key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_read_and_write_back_as_redis_does() {
        let cases = [
            ("", ""),
            ("KEA", "AKE"),
            ("Ex", "xE"),
            ("AKEm", "AKEm"),
            ("g$lshzxetd", "A"),
            ("nA", "A"),
            ("ng", "gn"),
            ("Kl", "lK"),
        ];
        for (input, written) in cases {
            let classes = parse_classes(input).expect("valid");
            assert_eq!(format_classes(classes), written, "{input}");
        }
        assert_eq!(parse_classes("KEw"), None);
    }

    #[test]
    fn events_go_to_the_channels_the_classes_ask_for() {
        let events = KeyEvents::default();
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        events.set_sink(Box::new(move |channel, message| {
            log.lock().push((channel.to_vec(), message.to_vec()));
        }));
        events.publish(EventClass::LIST, "lpush", 0, b"k");
        assert!(seen.lock().is_empty(), "nothing is enabled");
        events.set_classes(parse_classes("KEl").expect("valid"));
        events.publish(EventClass::LIST, "lpush", 3, b"k");
        events.publish(EventClass::SET, "sadd", 3, b"k");
        assert_eq!(
            *seen.lock(),
            vec![
                (b"__keyspace@3__:k".to_vec(), b"lpush".to_vec()),
                (b"__keyevent@3__:lpush".to_vec(), b"k".to_vec()),
            ]
        );
    }
}
