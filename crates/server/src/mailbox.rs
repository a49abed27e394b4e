//! A connection's mailbox: bytes other connections hand it (MONITOR lines, pub/sub messages),
//! waiting for its task to write them out.
//!
//! Handing bytes over only appends them and wakes the receiving task, so a receiver that reads
//! slowly never slows the clients whose commands or messages it receives (a publisher is never
//! blocked). A mailbox is bounded in bytes: a receiver that falls [`MAX_BACKLOG`] bytes behind
//! is disconnected (and the server logs it), as Redis disconnects a client past the hard
//! `client-output-buffer-limit` of its class (32 MB for pub/sub clients), so memory stays
//! bounded whatever the receiver does.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::clients::ClientHandle;

/// Bytes a mailbox may hold before its client is disconnected.
pub const MAX_BACKLOG: usize = 32 * 1024 * 1024;

/// What waits in a mailbox.
#[derive(Debug, Default)]
struct Backlog {
    items: VecDeque<Bytes>,
    bytes: usize,
    /// Set once the receiver fell too far behind; nothing is queued for it after that.
    overflowed: bool,
}

/// One connection's mailbox.
#[derive(Debug)]
pub struct Mailbox {
    client: Arc<ClientHandle>,
    backlog: Mutex<Backlog>,
    /// Wakes the receiving connection when bytes arrive.
    pub ready: Notify,
}

impl Mailbox {
    /// An empty mailbox for `client`.
    pub fn new(client: Arc<ClientHandle>) -> Mailbox {
        Mailbox {
            client,
            backlog: Mutex::new(Backlog::default()),
            ready: Notify::new(),
        }
    }

    /// The client the mailbox belongs to.
    pub fn client(&self) -> &Arc<ClientHandle> {
        &self.client
    }

    /// Appends `item`, or disconnects the receiver if that would exceed [`MAX_BACKLOG`].
    pub fn push(&self, item: &Bytes) {
        let mut backlog = self.backlog.lock();
        if backlog.overflowed {
            return;
        }
        if backlog.bytes + item.len() > MAX_BACKLOG {
            let behind = backlog.bytes;
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
        backlog.bytes += item.len();
        backlog.items.push_back(item.clone());
        drop(backlog);
        self.ready.notify_one();
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.backlog.lock().items.is_empty()
    }

    /// Moves everything waiting into `out`.
    pub fn drain_into(&self, out: &mut BytesMut) {
        let mut backlog = self.backlog.lock();
        for item in backlog.items.drain(..) {
            out.extend_from_slice(&item);
        }
        backlog.bytes = 0;
    }
}
