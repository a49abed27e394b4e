//! The replication backlog: the latest bytes of the write stream, kept so that a replica whose
//! link dropped can continue from its offset instead of loading a whole new snapshot (Redis's
//! `repl-backlog-size`).
//!
//! Offsets count every byte the stream has carried since its history began; the backlog holds
//! the last `capacity` of them, and the older ones a replica link has not been sent yet (its
//! output buffer, in Redis's terms, which `client-output-buffer-limit replica` bounds: see
//! the feed). A replica that has applied the stream up to offset `x` can continue if the
//! backlog still holds byte `x`, or `x` is the end (nothing missed).

use std::collections::VecDeque;

/// The stream's latest bytes: at least the last `capacity`, and more while a replica link
/// still needs them (see [`Backlog::trim`]).
#[derive(Debug)]
pub struct Backlog {
    /// The bytes held, oldest first.
    bytes: VecDeque<u8>,
    capacity: usize,
    /// The offset after the last byte appended (Redis's `master_repl_offset`).
    end: u64,
}

impl Backlog {
    /// An empty backlog of `capacity` bytes (at least 1) whose history is at offset `end`.
    pub fn new(capacity: usize, end: u64) -> Backlog {
        Backlog {
            bytes: VecDeque::new(),
            capacity: capacity.max(1),
            end,
        }
    }

    /// The offset after the last byte appended.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The offset of the oldest byte held (`end` when none is).
    pub fn first(&self) -> u64 {
        self.end - self.bytes.len() as u64
    }

    /// How many bytes of the backlog proper it holds, at most its capacity (INFO's
    /// `repl_backlog_histlen`); bytes kept past it for a link are not counted.
    pub fn len(&self) -> usize {
        self.bytes.len().min(self.capacity)
    }

    /// Whether it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Its capacity in bytes (`repl-backlog-size`).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends bytes of the stream; [`Backlog::trim`] lets the oldest go.
    pub fn append(&mut self, bytes: &[u8]) {
        self.end += bytes.len() as u64;
        self.bytes.extend(bytes);
    }

    /// Lets go of the bytes older than both the last `capacity` and `keep_from` (the oldest
    /// offset a replica link still needs; `end` when none needs any).
    pub fn trim(&mut self, keep_from: u64) {
        let floor = self.end.saturating_sub(self.capacity as u64).min(keep_from);
        let drop = floor.saturating_sub(self.first()) as usize;
        if drop == 0 {
            return;
        }
        self.bytes.drain(..drop.min(self.bytes.len()));
        // Memory a link's lag made the ring grow to goes back once the lag is gone.
        let wanted = self.bytes.len().max(self.capacity);
        if self.bytes.capacity() > 2 * wanted && self.bytes.capacity() > 1 << 20 {
            self.bytes.shrink_to(wanted);
        }
    }

    /// Whether a replica that applied the stream up to `offset` can continue from here.
    pub fn covers(&self, offset: u64) -> bool {
        (self.first()..=self.end).contains(&offset)
    }

    /// The bytes from `offset` to the end, if the backlog still holds them all (a replica
    /// that applied the stream up to `offset` can continue with them); `None` otherwise.
    pub fn since(&self, offset: u64) -> Option<Vec<u8>> {
        if !self.covers(offset) {
            return None;
        }
        let skip = (offset - self.first()) as usize;
        let (older, newer) = self.bytes.as_slices();
        let mut out = Vec::with_capacity(self.bytes.len() - skip);
        if skip < older.len() {
            out.extend_from_slice(&older[skip..]);
            out.extend_from_slice(newer);
        } else {
            out.extend_from_slice(&newer[skip - older.len()..]);
        }
        Some(out)
    }

    /// Changes the capacity (CONFIG SET repl-backlog-size); the bytes past it go at the next
    /// [`Backlog::trim`].
    pub fn resize(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A model: every byte ever appended, and the capacity.
    fn expected(all: &[u8], capacity: usize, offset: u64, start: u64) -> Option<Vec<u8>> {
        let end = start + all.len() as u64;
        let first = end - all.len().min(capacity) as u64;
        if offset < first || offset > end {
            return None;
        }
        Some(all[(offset - start) as usize..].to_vec())
    }

    #[test]
    fn holds_the_latest_bytes_whatever_the_appends_sizes() {
        for capacity in [1, 2, 7, 16] {
            for sizes in [
                &[1usize, 1, 1][..],
                &[3, 5, 9, 2],
                &[16, 1],
                &[20],
                &[6, 6, 6, 6],
            ] {
                let start = 100;
                let mut backlog = Backlog::new(capacity, start);
                let mut all = Vec::new();
                let mut next = 0u8;
                for &size in sizes {
                    let bytes: Vec<u8> = (0..size)
                        .map(|_| {
                            next = next.wrapping_add(1);
                            next
                        })
                        .collect();
                    backlog.append(&bytes);
                    backlog.trim(backlog.end());
                    all.extend_from_slice(&bytes);
                    assert_eq!(backlog.end(), start + all.len() as u64);
                    assert_eq!(backlog.len(), all.len().min(capacity));
                    for offset in start..=backlog.end() + 1 {
                        assert_eq!(
                            backlog.since(offset),
                            expected(&all, capacity, offset, start),
                            "capacity {capacity}, sizes {sizes:?}, offset {offset}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn resizing_keeps_what_fits() {
        let mut backlog = Backlog::new(8, 0);
        backlog.append(b"abcdefghij");
        backlog.trim(10);
        assert_eq!(backlog.since(2).unwrap(), b"cdefghij");
        backlog.resize(4);
        backlog.trim(10);
        assert_eq!(backlog.since(6).unwrap(), b"ghij");
        assert_eq!(backlog.since(5), None);
        backlog.append(b"kl");
        backlog.trim(12);
        assert_eq!(backlog.since(8).unwrap(), b"ijkl");
        backlog.resize(10);
        backlog.append(b"mnop");
        backlog.trim(16);
        assert_eq!(backlog.since(8).unwrap(), b"ijklmnop");
        assert_eq!(backlog.end(), 16);
    }

    #[test]
    fn bytes_a_link_needs_stay_past_the_capacity_until_it_lets_go() {
        let mut backlog = Backlog::new(4, 0);
        backlog.append(b"abcdef");
        backlog.trim(1);
        assert_eq!(backlog.since(1).unwrap(), b"bcdef");
        assert_eq!(backlog.len(), 4, "histlen counts the backlog proper");
        backlog.append(b"gh");
        backlog.trim(3);
        assert_eq!(backlog.since(3).unwrap(), b"defgh");
        assert_eq!(backlog.since(2), None);
        // The link caught up: the capacity alone counts again.
        backlog.trim(8);
        assert_eq!(backlog.first(), 4);
        assert!(backlog.covers(4) && !backlog.covers(3));
    }

    #[test]
    fn an_empty_backlog_continues_only_from_its_end() {
        let backlog = Backlog::new(16, 42);
        assert_eq!(backlog.since(42).unwrap(), b"");
        assert_eq!(backlog.since(41), None);
        assert_eq!(backlog.since(43), None);
    }
}
