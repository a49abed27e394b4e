//! A connection's mailbox: bytes other connections hand it (MONITOR lines, pub/sub messages),
//! waiting for its task to write them out.
//!
//! Handing bytes over only appends them and wakes the receiving task, so a receiver that reads
//! slowly never slows the clients whose commands or messages it receives (a publisher is never
//! blocked). A mailbox is bounded in bytes by the `client-output-buffer-limit` of its client's
//! class, as Redis bounds a client's output buffer: past the hard limit, or past the soft limit
//! for longer than its seconds, the receiver is disconnected (and the server logs it). A class
//! without a hard limit (normal clients, MONITOR among them, by default) still stops at
//! [`MAX_BACKLOG`], so memory stays bounded whatever the receiver does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::clients::ClientHandle;
use crate::config::{OutputLimit, OutputLimits};

/// Bytes a mailbox may hold before its client is disconnected, when its class has no hard
/// limit.
pub const MAX_BACKLOG: u64 = 32 * 1024 * 1024;

/// What waits in a mailbox.
#[derive(Debug, Default)]
struct Backlog {
    /// The waiting bytes, back to back: a message is copied in once, as Redis appends to a
    /// client's output buffer, and the receiver takes them all in one go.
    bytes: BytesMut,
    /// Set once the receiver fell too far behind; nothing is queued for it after that.
    overflowed: bool,
    /// Since when the backlog has been over the soft limit, if it is.
    over_soft_since: Option<Instant>,
}

/// One connection's mailbox.
#[derive(Debug)]
pub struct Mailbox {
    client: Arc<ClientHandle>,
    backlog: Mutex<Backlog>,
    /// The limits of every class, as configured now.
    limits: Arc<OutputLimits>,
    /// Whether the client subscribes to anything: its limits are then the pub/sub class's.
    pub pubsub: AtomicBool,
    /// Wakes the receiving connection when bytes arrive.
    pub ready: Notify,
}

impl Mailbox {
    /// An empty mailbox for `client`.
    pub fn new(client: Arc<ClientHandle>, limits: Arc<OutputLimits>) -> Mailbox {
        Mailbox {
            client,
            backlog: Mutex::new(Backlog::default()),
            limits,
            pubsub: AtomicBool::new(false),
            ready: Notify::new(),
        }
    }

    /// The client the mailbox belongs to.
    pub fn client(&self) -> &Arc<ClientHandle> {
        &self.client
    }

    /// Appends `item`, or disconnects the receiver if that takes it past its output limits.
    pub fn push(&self, item: &Bytes) {
        let mut backlog = self.backlog.lock();
        if backlog.overflowed {
            return;
        }
        let limit = self.limits.get(self.pubsub.load(Ordering::Relaxed));
        let total = (backlog.bytes.len() + item.len()) as u64;
        if over_limit(limit, total, &mut backlog.over_soft_since, MAX_BACKLOG) {
            let behind = backlog.bytes.len();
            *backlog = Backlog {
                overflowed: true,
                ..Backlog::default()
            };
            drop(backlog);
            tracing::warn!(
                "closing client {} ({}): it fell {behind} bytes behind on MONITOR or pub/sub output",
                self.client.id,
                self.client.addr
            );
            self.client.kill();
            return;
        }
        // Only the first message after a drain needs to wake the receiver: until it drains,
        // its wake-up is pending and it will take the later ones with the first.
        let wake = backlog.bytes.is_empty();
        backlog.bytes.extend_from_slice(item);
        drop(backlog);
        if wake {
            self.ready.notify_one();
        }
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.backlog.lock().bytes.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.backlog.lock().bytes.is_empty()
    }

    /// Moves everything waiting into `out`.
    pub fn drain_into(&self, out: &mut BytesMut) {
        let mut backlog = self.backlog.lock();
        if out.is_empty() {
            // Swap buffers rather than copy: the receiver's empty buffer becomes the mailbox's.
            std::mem::swap(out, &mut backlog.bytes);
        } else {
            out.extend_from_slice(&backlog.bytes);
            backlog.bytes.clear();
        }
    }
}

/// Whether `bytes` of pending output break `limit` (with `backstop` standing in for a missing
/// hard limit), given since when the soft limit has been exceeded, which it updates.
/// Like Redis, a client is over its soft limit only once it has stayed above it for more than
/// the limit's seconds.
pub fn over_limit(
    limit: OutputLimit,
    bytes: u64,
    over_soft_since: &mut Option<Instant>,
    backstop: u64,
) -> bool {
    let hard = if limit.hard == 0 {
        backstop
    } else {
        limit.hard
    };
    if bytes > hard {
        return true;
    }
    if limit.soft == 0 || bytes <= limit.soft {
        *over_soft_since = None;
        return false;
    }
    let since = *over_soft_since.get_or_insert_with(Instant::now);
    since.elapsed().as_secs() > limit.soft_seconds
}
