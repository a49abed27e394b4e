//! The replication backlog: the latest bytes of the write stream, kept so that a replica whose
//! link dropped can continue from its offset instead of loading a whole new snapshot (Redis's
//! `repl-backlog-size`).
//!
//! Offsets count every byte the stream has carried since its history began; the backlog holds
//! the last `capacity` of them in a ring. A replica that has applied the stream up to offset
//! `x` can continue if the backlog still holds byte `x`, or `x` is the end (nothing missed).

/// A ring of the stream's latest bytes.
#[derive(Debug)]
pub struct Backlog {
    /// The ring: grows as bytes arrive up to `capacity`, then is overwritten in a circle.
    ring: Vec<u8>,
    capacity: usize,
    /// Where the next byte goes; once the ring is full, also where the oldest byte is.
    head: usize,
    /// The offset after the last byte appended (Redis's `master_repl_offset`).
    end: u64,
}

impl Backlog {
    /// An empty backlog of `capacity` bytes (at least 1) whose history is at offset `end`.
    pub fn new(capacity: usize, end: u64) -> Backlog {
        Backlog {
            ring: Vec::new(),
            capacity: capacity.max(1),
            head: 0,
            end,
        }
    }

    /// The offset after the last byte appended.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The offset of the oldest byte held (`end` when none is).
    pub fn first(&self) -> u64 {
        self.end - self.ring.len() as u64
    }

    /// How many bytes it holds (INFO's `repl_backlog_histlen`).
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Its capacity in bytes (`repl-backlog-size`).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends bytes of the stream; the oldest bytes beyond the capacity go.
    pub fn append(&mut self, bytes: &[u8]) {
        self.end += bytes.len() as u64;
        if bytes.len() >= self.capacity {
            // Only the last `capacity` bytes can stay.
            self.ring.clear();
            self.ring
                .extend_from_slice(&bytes[bytes.len() - self.capacity..]);
            self.head = 0;
            return;
        }
        let mut rest = bytes;
        if self.ring.len() < self.capacity {
            let room = self.capacity - self.ring.len();
            let (now, later) = rest.split_at(rest.len().min(room));
            self.ring.extend_from_slice(now);
            rest = later;
            self.head = self.ring.len() % self.capacity;
        }
        while !rest.is_empty() {
            let n = rest.len().min(self.capacity - self.head);
            self.ring[self.head..self.head + n].copy_from_slice(&rest[..n]);
            self.head = (self.head + n) % self.capacity;
            rest = &rest[n..];
        }
    }

    /// The bytes from `offset` to the end, if the backlog still holds them all (a replica
    /// that applied the stream up to `offset` can continue with them); `None` otherwise.
    pub fn since(&self, offset: u64) -> Option<Vec<u8>> {
        if offset < self.first() || offset > self.end {
            return None;
        }
        let skip = (offset - self.first()) as usize;
        let mut out = Vec::with_capacity(self.ring.len() - skip);
        let (older, newer) = self.in_order();
        if skip < older.len() {
            out.extend_from_slice(&older[skip..]);
            out.extend_from_slice(newer);
        } else {
            out.extend_from_slice(&newer[skip - older.len()..]);
        }
        Some(out)
    }

    /// Changes the capacity (CONFIG SET repl-backlog-size), keeping the latest bytes that fit.
    pub fn resize(&mut self, capacity: usize) {
        let (older, newer) = self.in_order();
        let mut bytes = older.to_vec();
        bytes.extend_from_slice(newer);
        let end = self.end;
        *self = Backlog::new(capacity, end - bytes.len() as u64);
        self.append(&bytes);
    }

    /// The bytes held, oldest first, as the two runs of the ring.
    fn in_order(&self) -> (&[u8], &[u8]) {
        if self.ring.len() < self.capacity {
            (&self.ring, &[])
        } else {
            (&self.ring[self.head..], &self.ring[..self.head])
        }
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
        assert_eq!(backlog.since(2).unwrap(), b"cdefghij");
        backlog.resize(4);
        assert_eq!(backlog.since(6).unwrap(), b"ghij");
        assert_eq!(backlog.since(5), None);
        backlog.append(b"kl");
        assert_eq!(backlog.since(8).unwrap(), b"ijkl");
        backlog.resize(10);
        backlog.append(b"mnop");
        assert_eq!(backlog.since(8).unwrap(), b"ijklmnop");
        assert_eq!(backlog.end(), 16);
    }

    #[test]
    fn an_empty_backlog_continues_only_from_its_end() {
        let backlog = Backlog::new(16, 42);
        assert_eq!(backlog.since(42).unwrap(), b"");
        assert_eq!(backlog.since(41), None);
        assert_eq!(backlog.since(43), None);
    }
}
