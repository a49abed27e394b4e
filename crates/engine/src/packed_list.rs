//! A list packed into chunks of bytes, as Redis packs one into a quicklist of listpacks.
//!
//! A list of handles (24 bytes per element, plus an allocation for each element past 22 bytes)
//! costs more than the elements themselves when they are short, which list elements usually
//! are. Here elements sit back to back in chunks, each framed as
//! `[length varint][bytes][length varint, reversed]`: the leading length lets a walk go
//! forward, the trailing one (its bytes in reverse order, so they read from the end) lets it go
//! backward. An element under 128 bytes costs 2 bytes of framing.
//!
//! The layout, and why:
//! - **A chunk is a buffer with its entries in a used region `start..end` that grows at
//!   both ends.** A push at the head writes before `start`, one at the tail after `end`, a pop
//!   moves a bound: O(1), with no memmove, at either end. A chunk made by a push at the head
//!   fills from its end, one made at the tail from its start, so a list pushed at one end fills
//!   its chunks completely.
//! - **Chunks end up exactly 4 KiB (`CHUNK`)**, so the allocator's slack is a few bytes per
//!   4 KiB, and they never grow past it. A chunk grows by half while it fills (amortized O(1)
//!   per push): a small list's only chunk starts at the size of its entries (of all of them,
//!   for a push of several), so a one-element list costs one small allocation, as with Redis's
//!   listpack; a chunk opened next to a full one starts at a quarter of the size, so a list
//!   that stops growing wastes at most a third of its last chunk.
//! - **An element too large to share (an entry over 512 bytes, `BIG_ENTRY`) gets a chunk of
//!   its own**, its exact bytes without framing, so no chunk wastes more than an eighth of
//!   itself on a tail that no entry fits into (Redis's quicklist has such "plain" nodes too).
//! - **Each chunk keeps its entry count** so that an index is found by skipping whole chunks,
//!   from whichever end of the list is nearer, then walking entries from the nearer end of one
//!   chunk.
//! - **Middle operations stay inside one chunk**: LSET, LINSERT and LREM memmove within a chunk
//!   (at most 4 KiB), LINSERT into a full chunk splits it, and neighbours that together fill
//!   less than three quarters of a chunk are merged after removals, so a list never degenerates into many
//!   near-empty chunks. Chunks are freed as soon as they are empty, and a list down to one
//!   chunk shrinks its buffer when it is three quarters empty.
//! - **A list of one chunk stores it inline** (no deque, no box), so a small list costs what
//!   its bytes cost; a larger one keeps its chunks in a `VecDeque` behind one box, which keeps
//!   [`PackedList`] small enough that every [`crate::Value`] stays 40 bytes.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

use crate::CompactBytes;

/// Bytes of a full chunk. 4 KiB keeps the memmoves of middle operations short and, with 2
/// bytes of framing, costs a 20-byte element of a long list 22.5 bytes of resident memory all
/// told (measured; Redis 7.0: 23.0).
const CHUNK: usize = 4096;

/// The first size of a chunk opened by a single push next to a full one (see `push_sized`).
const NEXT_CHUNK: usize = CHUNK / 4;

/// Entries longer than this get a chunk of their own. A shared chunk then never leaves more
/// than this unused at its end, and a chunk's positions always fit a `u16`.
const BIG_ENTRY: usize = CHUNK / 8;

/// Neighbouring chunks holding together at most this many bytes are merged. Below a full chunk,
/// so that a merged chunk has room left and does not split again at the next insert.
const MERGE_LIMIT: usize = CHUNK * 3 / 4;

/// A lone chunk larger than this gives memory back when it is three quarters empty; below, the
/// allocator's minimum sizes would eat the gain.
const SHRINK_FROM: usize = 64;

/// Bytes of the varint for `n` (7 bits a byte).
fn varint_len(mut n: usize) -> usize {
    let mut bytes = 1;
    while n >= 0x80 {
        n >>= 7;
        bytes += 1;
    }
    bytes
}

/// Bytes an element of `len` bytes takes as an entry: its bytes and its length on both sides.
fn entry_len(len: usize) -> usize {
    2 * varint_len(len) + len
}

/// Writes the entry for `element` into `out`, which is exactly [`entry_len`] bytes long.
fn write_entry(out: &mut [u8], element: &[u8]) {
    let header = varint_len(element.len());
    let last = out.len() - 1;
    let mut n = element.len();
    for i in 0..header {
        let more = if i + 1 < header { 0x80 } else { 0 };
        // Lowest 7 bits first: at the start reading forward, at the end reading backward.
        let byte = (n & 0x7f) as u8 | more;
        out[i] = byte;
        out[last - i] = byte;
        n >>= 7;
    }
    out[header..header + element.len()].copy_from_slice(element);
}

/// The element of the entry starting at `at`, and where the next entry starts.
fn read_forward(data: &[u8], at: usize) -> (&[u8], usize) {
    let (mut len, mut shift, mut p) = (0usize, 0, at);
    loop {
        let byte = data[p];
        p += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let header = p - at;
    (&data[p..p + len], p + len + header)
}

/// The element of the entry ending at `end`, and where that entry starts.
fn read_backward(data: &[u8], end: usize) -> (&[u8], usize) {
    let (mut len, mut shift, mut p) = (0usize, 0, end);
    loop {
        p -= 1;
        let byte = data[p];
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let header = end - p;
    let first = p - len;
    (&data[first..p], first - header)
}

/// The buffer size to ask for when `n` bytes are needed: the allocator hands out blocks in
/// 16-byte steps with 8 bytes of header (glibc: 24 usable bytes at least), so rounding up to the
/// usable size of the block `n` gets anyway costs nothing. Never past [`CHUNK`].
fn alloc_size(n: usize) -> usize {
    ((n + 8).next_multiple_of(16) - 8).clamp(24, CHUNK)
}

/// The capacity a growing chunk of `capacity` bytes moves to when it needs `needed` (at most
/// [`CHUNK`]): half as large again, so that a list built by pushes copies each byte O(1)
/// times, while a small list wastes a sixth of its buffer on average (doubling: a quarter).
fn grown(capacity: usize, needed: usize) -> usize {
    alloc_size((capacity + capacity / 2).max(needed))
}

/// A position inside a packed chunk as stored. Positions never exceed [`CHUNK`].
fn pos(n: usize) -> u16 {
    debug_assert!(n <= CHUNK);
    n as u16
}

/// Entries packed in one buffer, in `data[start..end]`, with free bytes on both sides.
#[derive(Clone)]
struct Packed {
    /// The buffer: at most [`CHUNK`] bytes, allocated at its exact size.
    data: Box<[u8]>,
    /// Where the first entry starts.
    start: u16,
    /// Where the last entry ends.
    end: u16,
    /// How many entries there are.
    count: u16,
}

impl Packed {
    /// No entries and no buffer.
    fn empty() -> Packed {
        Packed {
            data: Box::default(),
            start: 0,
            end: 0,
            count: 0,
        }
    }

    /// No entries in a buffer of `capacity` bytes, to be filled from its end when entries
    /// will arrive at the front, from its start otherwise.
    fn with_capacity(capacity: usize, at_front: bool) -> Packed {
        let at = pos(if at_front { capacity } else { 0 });
        Packed {
            data: vec![0; capacity].into_boxed_slice(),
            start: at,
            end: at,
            count: 0,
        }
    }

    /// Where the first entry starts.
    fn start(&self) -> usize {
        usize::from(self.start)
    }

    /// Where the last entry ends.
    fn end(&self) -> usize {
        usize::from(self.end)
    }

    /// How many entries there are.
    fn count(&self) -> usize {
        usize::from(self.count)
    }

    /// Bytes the entries take.
    fn used(&self) -> usize {
        self.end() - self.start()
    }

    /// Bytes of the buffer, used or not.
    fn capacity(&self) -> usize {
        self.data.len()
    }

    /// The entries' bytes.
    fn bytes(&self) -> &[u8] {
        &self.data[self.start()..self.end()]
    }

    /// Free bytes before the first entry or after the last.
    fn room(&self, at_front: bool) -> usize {
        if at_front {
            self.start()
        } else {
            self.capacity() - self.end()
        }
    }

    /// Moves the entries to start at `start` in a buffer of `capacity` bytes (this one when
    /// the size is the same).
    fn relocate(&mut self, capacity: usize, start: usize) {
        let (s, e) = (self.start(), self.end());
        if capacity == self.capacity() {
            self.data.copy_within(s..e, start);
        } else {
            let mut data = vec![0; capacity].into_boxed_slice();
            data[start..start + e - s].copy_from_slice(&self.data[s..e]);
            self.data = data;
        }
        self.start = pos(start);
        self.end = pos(start + e - s);
    }

    /// Makes `n` free bytes at the front or back, moving or growing the buffer if that is
    /// cheap in amortized terms; false when the entry belongs in a new chunk. `coming` (at
    /// least `n`) is how many bytes of entries this push and the ones right after it bring, so
    /// that a push of several elements grows the buffer once, to their size.
    fn make_room(&mut self, at_front: bool, n: usize, coming: usize) -> bool {
        if self.room(at_front) >= n {
            return true;
        }
        let (used, capacity) = (self.used(), self.capacity());
        if used + n <= capacity && used <= capacity / 2 {
            // The room is at the other end (pops there freed it). Re-centre, giving this end
            // the entry plus half the rest: at most half a buffer moves, and only after pushes
            // have filled at least a quarter of one, so pushes stay amortized O(1). A fuller
            // chunk is left as it is (a new one is cheaper than moving most of a chunk).
            let spare = capacity - used - n;
            let start = if at_front {
                n + spare - spare / 2
            } else {
                spare / 2
            };
            self.relocate(capacity, start);
            return true;
        }
        if capacity < CHUNK && used + n <= CHUNK {
            // A small list's chunk grows towards a full one: every free byte goes to the end
            // being pushed at.
            let capacity = grown(capacity, used + coming);
            let start = if at_front { capacity - used } else { 0 };
            self.relocate(capacity, start);
            return true;
        }
        false
    }

    /// Writes `element`, whose entry is `n` bytes, at the front or back; the room is there.
    fn write(&mut self, at_front: bool, element: &[u8], n: usize) {
        if at_front {
            let start = self.start() - n;
            write_entry(&mut self.data[start..start + n], element);
            self.start = pos(start);
        } else {
            let end = self.end();
            write_entry(&mut self.data[end..end + n], element);
            self.end = pos(end + n);
        }
        self.count += 1;
    }

    /// Takes the first or last entry, handing its element to `f`. The chunk is not empty.
    fn pop<R>(&mut self, at_front: bool, f: impl FnOnce(&[u8]) -> R) -> R {
        let result = if at_front {
            let (element, next) = read_forward(&self.data, self.start());
            let result = f(element);
            self.start = pos(next);
            result
        } else {
            let (element, first) = read_backward(&self.data, self.end());
            let result = f(element);
            self.end = pos(first);
            result
        };
        self.count -= 1;
        result
    }

    /// Where entry `k` (of `0..=count`) starts, walking from the nearer end.
    fn offset_of(&self, k: usize) -> usize {
        if k <= self.count() / 2 {
            (0..k).fold(self.start(), |at, _| read_forward(&self.data, at).1)
        } else {
            (k..self.count()).fold(self.end(), |at, _| read_backward(&self.data, at).1)
        }
    }

    /// Removes the entry starting at `at`, closing the gap from the shorter side.
    fn remove_at(&mut self, at: usize) {
        let next = read_forward(&self.data, at).1;
        let (s, e, n) = (self.start(), self.end(), next - at);
        if at - s <= e - next {
            self.data.copy_within(s..at, s + n);
            self.start = pos(s + n);
        } else {
            self.data.copy_within(next..e, at);
            self.end = pos(e - n);
        }
        self.count -= 1;
    }

    /// Inserts `element` (an `n`-byte entry) before the entry starting at `at`, within this
    /// chunk's buffer or a grown one; false, changing nothing, when the chunk must split.
    fn insert_at(&mut self, at: usize, element: &[u8], n: usize) -> bool {
        let (s, e, capacity) = (self.start(), self.end(), self.capacity());
        let used = e - s;
        let gap = if used + n <= capacity {
            let (front, back) = (s, capacity - e);
            if front >= n && (back < n || at - s <= e - at) {
                // Open the gap by moving the entries before it, the shorter side.
                self.data.copy_within(s..at, s - n);
                self.start = pos(s - n);
                at - n
            } else if back >= n {
                self.data.copy_within(at..e, at + n);
                self.end = pos(e + n);
                at
            } else {
                // Neither side alone has the room: both move to the buffer's ends.
                self.data.copy_within(s..at, 0);
                self.data.copy_within(at..e, at - s + n);
                self.start = 0;
                self.end = pos(used + n);
                at - s
            }
        } else if capacity < CHUNK && used + n <= CHUNK {
            let capacity = grown(capacity, used + n);
            let start = (capacity - used - n) / 2;
            let before = at - s;
            let mut data = vec![0; capacity].into_boxed_slice();
            data[start..start + before].copy_from_slice(&self.data[s..at]);
            data[start + before + n..start + used + n].copy_from_slice(&self.data[at..e]);
            self.data = data;
            self.start = pos(start);
            self.end = pos(start + used + n);
            start + before
        } else {
            return false;
        };
        write_entry(&mut self.data[gap..gap + n], element);
        self.count += 1;
        true
    }

    /// Splits off the entries from entry `k` (starting at `at`) on into a new chunk, placed at
    /// the end of its buffer so that it has room at the front, where the split happened.
    fn split_off(&mut self, at: usize, k: usize) -> Packed {
        let used = self.end() - at;
        let capacity = alloc_size(2 * used);
        let mut right = Packed::with_capacity(capacity, true);
        right.data[capacity - used..].copy_from_slice(&self.data[at..self.end()]);
        right.start = pos(capacity - used);
        right.count = pos(self.count() - k);
        self.end = pos(at);
        self.count = pos(k);
        right
    }

    /// Appends the entries of `right`; together they hold at most [`MERGE_LIMIT`] bytes.
    fn absorb(&mut self, right: &Packed) {
        let (added, total) = (right.used(), self.used() + right.used());
        if self.capacity() >= total {
            if self.room(false) < added {
                let capacity = self.capacity();
                self.relocate(capacity, (capacity - total) / 2);
            }
        } else {
            let capacity = alloc_size(2 * total);
            self.relocate(capacity, (capacity - total) / 2);
        }
        let end = self.end();
        self.data[end..end + added].copy_from_slice(right.bytes());
        self.end = pos(end + added);
        self.count += right.count;
    }

    /// Removes up to `limit` entries equal to `element`, the first ones or, `from_back`, the
    /// last ones; returns how many went.
    fn remove_matching(&mut self, element: &[u8], limit: usize, from_back: bool) -> usize {
        let mut matches = 0usize;
        let mut at = self.start();
        while at < self.end() {
            let (entry, next) = read_forward(&self.data, at);
            matches += usize::from(entry == element);
            at = next;
        }
        if matches == 0 || limit == 0 {
            return 0;
        }
        // From the back, the first matches stay and the last `limit` go.
        let keep_first = if from_back {
            matches.saturating_sub(limit)
        } else {
            0
        };
        let (mut read, mut write) = (self.start(), self.start());
        let (mut seen, mut removed) = (0usize, 0usize);
        while read < self.end() {
            let (entry, next) = read_forward(&self.data, read);
            let matched = entry == element;
            let goes = matched && seen >= keep_first && removed < limit;
            seen += usize::from(matched);
            if goes {
                removed += 1;
            } else {
                if write != read {
                    self.data.copy_within(read..next, write);
                }
                write += next - read;
            }
            read = next;
        }
        self.end = pos(write);
        self.count -= pos(removed);
        removed
    }

    /// Drops the first `k` entries (fewer than all).
    fn drop_front(&mut self, k: usize) {
        self.start = pos(self.offset_of(k));
        self.count -= pos(k);
    }

    /// Drops the last `k` entries (fewer than all).
    fn drop_back(&mut self, k: usize) {
        self.end = pos(self.offset_of(self.count() - k));
        self.count -= pos(k);
    }

    /// Gives memory back when the buffer is at most a quarter used, keeping half of the new
    /// buffer free, so that shrinking and growing never alternate.
    fn shrink_if_sparse(&mut self) {
        let (used, capacity) = (self.used(), self.capacity());
        if capacity > SHRINK_FROM && used <= capacity / 4 {
            let capacity = alloc_size(2 * used);
            self.relocate(capacity, (capacity - used) / 2);
        }
    }
}

/// A run of a list's elements.
#[derive(Clone)]
enum Chunk {
    /// Entries packed back to back.
    Packed(Packed),
    /// One element too large to share a chunk: its bytes, with no framing.
    Big(Box<[u8]>),
}

impl Chunk {
    /// How many elements it holds.
    fn count(&self) -> usize {
        match self {
            Chunk::Packed(p) => p.count(),
            Chunk::Big(_) => 1,
        }
    }

    /// A cursor over all its elements.
    fn cursor(&self) -> Cursor<'_> {
        match self {
            Chunk::Packed(p) => Cursor {
                bytes: p.bytes(),
                big: false,
            },
            Chunk::Big(data) => Cursor {
                bytes: data,
                big: true,
            },
        }
    }

    /// A cursor over its elements from the `k`-th on.
    fn cursor_from(&self, k: usize) -> Cursor<'_> {
        match self {
            Chunk::Packed(p) => Cursor {
                bytes: &p.data[p.offset_of(k)..p.end()],
                big: false,
            },
            Chunk::Big(_) => self.cursor(),
        }
    }

    /// A cursor over its elements before the `k`-th.
    fn cursor_until(&self, k: usize) -> Cursor<'_> {
        match self {
            Chunk::Packed(p) => Cursor {
                bytes: &p.data[p.start()..p.offset_of(k)],
                big: false,
            },
            // `k` is 0: nothing before it.
            Chunk::Big(_) => Cursor {
                bytes: &[],
                big: true,
            },
        }
    }

    /// Its `k`-th element.
    fn get(&self, k: usize) -> &[u8] {
        match self {
            Chunk::Packed(p) => read_forward(&p.data, p.offset_of(k)).0,
            Chunk::Big(data) => data,
        }
    }
}

/// The not yet visited elements of one chunk, as the bytes of their entries.
#[derive(Debug, Clone, Copy)]
struct Cursor<'a> {
    /// The entries left (for a big chunk, its element, or nothing once visited).
    bytes: &'a [u8],
    /// Whether `bytes` is one unframed element.
    big: bool,
}

impl<'a> Cursor<'a> {
    /// Takes the first element left; there is one.
    fn next_front(&mut self) -> &'a [u8] {
        if self.big {
            return std::mem::take(&mut self.bytes);
        }
        let (element, next) = read_forward(self.bytes, 0);
        self.bytes = &self.bytes[next..];
        element
    }

    /// Takes the last element left; there is one.
    fn next_back(&mut self) -> &'a [u8] {
        if self.big {
            return std::mem::take(&mut self.bytes);
        }
        let (element, first) = read_backward(self.bytes, self.bytes.len());
        self.bytes = &self.bytes[..first];
        element
    }
}

/// A list of byte strings in packed chunks (see the module documentation): O(1) pushes and
/// pops at both ends, O(1) length, access by index in O(chunks) from the nearer end.
#[derive(Clone)]
pub struct PackedList {
    /// One chunk inline, or several.
    repr: Repr,
}

/// How a list holds its chunks.
#[derive(Clone)]
enum Repr {
    /// At most one chunk, which is empty exactly when the list is: the list's length is its
    /// count.
    One(Chunk),
    /// Two chunks or more, none empty.
    Many(Box<Many>),
}

/// The chunks of a list that has more than one.
#[derive(Clone)]
struct Many {
    /// The chunks, head first.
    chunks: VecDeque<Chunk>,
    /// The sum of their counts.
    len: usize,
}

impl Default for PackedList {
    fn default() -> PackedList {
        PackedList::new()
    }
}

impl PackedList {
    /// An empty list; allocates nothing.
    pub fn new() -> PackedList {
        PackedList {
            repr: Repr::One(Chunk::Packed(Packed::empty())),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::One(chunk) => chunk.count(),
            Repr::Many(many) => many.len,
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned: the chunks' buffers (sampled, `samples` of them, when there are
    /// several; 0 measures all) and the ring of chunks.
    pub fn heap_size(&self, samples: usize) -> usize {
        let chunk_heap = |chunk: &Chunk| match chunk {
            Chunk::Packed(p) => p.capacity(),
            Chunk::Big(bytes) => bytes.len(),
        };
        match &self.repr {
            Repr::One(chunk) => chunk_heap(chunk),
            Repr::Many(many) => {
                std::mem::size_of::<Many>()
                    + many.chunks.capacity() * std::mem::size_of::<Chunk>()
                    + crate::memory::sampled(many.chunks.len(), samples, |i| {
                        chunk_heap(&many.chunks[i])
                    })
            }
        }
    }

    /// Removes every element, freeing the memory.
    pub fn clear(&mut self) {
        *self = PackedList::new();
    }

    /// The chunks, head first, as the two slices of a ring buffer.
    fn chunk_slices(&self) -> (&[Chunk], &[Chunk]) {
        match &self.repr {
            Repr::One(chunk) if chunk.count() == 0 => (&[], &[]),
            Repr::One(chunk) => (std::slice::from_ref(chunk), &[]),
            Repr::Many(many) => many.chunks.as_slices(),
        }
    }

    /// How many chunks there are.
    pub fn chunk_count(&self) -> usize {
        match &self.repr {
            Repr::One(chunk) => usize::from(chunk.count() > 0),
            Repr::Many(many) => many.chunks.len(),
        }
    }

    /// Chunk `i`, if there is one.
    fn chunk(&self, i: usize) -> Option<&Chunk> {
        match &self.repr {
            Repr::One(chunk) => (i == 0 && chunk.count() > 0).then_some(chunk),
            Repr::Many(many) => many.chunks.get(i),
        }
    }

    /// Chunk `i`, to change, if there is one.
    fn chunk_mut(&mut self, i: usize) -> Option<&mut Chunk> {
        match &mut self.repr {
            Repr::One(chunk) => (i == 0 && chunk.count() > 0).then_some(chunk),
            Repr::Many(many) => many.chunks.get_mut(i),
        }
    }

    // Bookkeeping of the length: `insert_chunk` and `remove_chunk` count the elements of the
    // chunk they add or take; a change of a chunk's count in place is reported with `grew` or
    // `shrank` (which a single chunk, whose count is the length, does not need).

    /// Records `n` elements added to a chunk in place.
    fn grew(&mut self, n: usize) {
        if let Repr::Many(many) = &mut self.repr {
            many.len += n;
        }
    }

    /// Records `n` elements removed from a chunk in place.
    fn shrank(&mut self, n: usize) {
        if let Repr::Many(many) = &mut self.repr {
            many.len -= n;
        }
    }

    /// Puts `chunk` (not empty) at position `i` of the chunks.
    fn insert_chunk(&mut self, i: usize, chunk: Chunk) {
        match &mut self.repr {
            Repr::One(only) if only.count() == 0 => *only = chunk,
            Repr::One(only) => {
                let only = std::mem::replace(only, Chunk::Packed(Packed::empty()));
                let len = only.count() + chunk.count();
                let mut chunks = VecDeque::with_capacity(2);
                chunks.push_back(only);
                chunks.insert(i.min(1), chunk);
                self.repr = Repr::Many(Box::new(Many { chunks, len }));
            }
            Repr::Many(many) => {
                many.len += chunk.count();
                many.chunks.insert(i, chunk);
            }
        }
    }

    /// Takes chunk `i` out; a list left with one chunk stores it inline again.
    fn remove_chunk(&mut self, i: usize) -> Chunk {
        let empty = || Chunk::Packed(Packed::empty());
        match &mut self.repr {
            Repr::One(only) => std::mem::replace(only, empty()),
            Repr::Many(many) => {
                let chunk = many.chunks.remove(i).unwrap_or_else(empty);
                many.len -= chunk.count();
                if many.chunks.len() <= 1 {
                    let only = many.chunks.pop_front().unwrap_or_else(empty);
                    self.repr = Repr::One(only);
                }
                chunk
            }
        }
    }

    /// The chunk holding element `index` (less than the length) and its position there, found
    /// by skipping whole chunks from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        let (head, tail) = self.chunk_slices();
        let chunks = head.iter().chain(tail);
        if index < self.len() / 2 {
            let mut k = index;
            for (i, chunk) in chunks.enumerate() {
                if k < chunk.count() {
                    return (i, k);
                }
                k -= chunk.count();
            }
        } else {
            let last = self.chunk_count().saturating_sub(1);
            let mut from_end = self.len() - index;
            for (j, chunk) in chunks.rev().enumerate() {
                if from_end <= chunk.count() {
                    return (last - j, chunk.count() - from_end);
                }
                from_end -= chunk.count();
            }
        }
        (0, 0)
    }

    /// Adds `element` at the head.
    pub fn push_front(&mut self, element: &[u8]) {
        self.push(element, true);
    }

    /// Adds `element` at the tail.
    pub fn push_back(&mut self, element: &[u8]) {
        self.push(element, false);
    }

    /// Pushes `elements` in turn at the head (so they end up reversed, as with LPUSH) or at
    /// the tail, sizing buffers for all of them at once: a small list's grows once, and the
    /// last chunk a push of many opens is no larger than what is left to store.
    pub fn push_all<E: AsRef<[u8]>>(&mut self, at_front: bool, elements: &[E]) {
        if let [element] = elements {
            // Nothing is known about what comes next: the same as any single push.
            self.push(element.as_ref(), at_front);
            return;
        }
        let packed = |e: &E| Some(entry_len(e.as_ref().len())).filter(|&n| n <= BIG_ENTRY);
        let mut coming: usize = elements.iter().filter_map(packed).sum();
        for element in elements {
            self.push_sized(element.as_ref(), at_front, Some(coming));
            coming -= packed(element).unwrap_or(0);
        }
    }

    /// Adds `element` at the head or the tail.
    fn push(&mut self, element: &[u8], at_front: bool) {
        self.push_sized(element, at_front, None);
    }

    /// Adds `element` at the head or the tail: into the chunk there if it has (or can cheaply
    /// make) room, else into a new chunk. `coming`, when known, counts the bytes of entries
    /// that this push and those right after it at the same end bring, for sizing buffers.
    fn push_sized(&mut self, element: &[u8], at_front: bool, coming: Option<usize>) {
        let chunks = self.chunk_count();
        let (edge, new_at) = if at_front {
            (0, 0)
        } else {
            (chunks.saturating_sub(1), chunks)
        };
        let n = entry_len(element.len());
        if n > BIG_ENTRY {
            self.insert_chunk(new_at, Chunk::Big(element.into()));
            return;
        }
        let mut beside_packed = false;
        if let Some(Chunk::Packed(packed)) = self.chunk_mut(edge) {
            if packed.make_room(at_front, n, coming.unwrap_or(n).max(n)) {
                packed.write(at_front, element, n);
                self.grew(1);
                return;
            }
            beside_packed = true;
        }
        // The size of what is coming when that is known. Otherwise, next to a full chunk of
        // small entries more will likely follow: a quarter of a chunk at once (growing to a
        // full one takes four copies of at most 3.4 KiB, and a list that stops short wastes
        // at most a third of its last chunk); and for a first element, or one beside a big
        // element, a buffer of the entry's size, to grow if more comes.
        let capacity = match coming {
            Some(coming) => alloc_size(coming.max(n)),
            None if beside_packed => NEXT_CHUNK,
            None => alloc_size(n),
        };
        let mut chunk = Packed::with_capacity(capacity, at_front);
        chunk.write(at_front, element, n);
        self.insert_chunk(new_at, Chunk::Packed(chunk));
    }

    /// Removes the head element, handing it to `f`; `None` when the list is empty.
    pub fn pop_front_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.pop_with(true, f)
    }

    /// Removes the tail element, handing it to `f`; `None` when the list is empty.
    pub fn pop_back_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.pop_with(false, f)
    }

    /// Removes and returns the head element.
    pub fn pop_front(&mut self) -> Option<CompactBytes> {
        self.pop_front_with(CompactBytes::new)
    }

    /// Removes and returns the tail element.
    pub fn pop_back(&mut self) -> Option<CompactBytes> {
        self.pop_back_with(CompactBytes::new)
    }

    /// Removes the element at an end, handing it to `f` before its bytes are reused.
    fn pop_with<R>(&mut self, at_front: bool, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let chunks = self.chunk_count();
        let i = if at_front { 0 } else { chunks.checked_sub(1)? };
        let (result, emptied) = match self.chunk_mut(i)? {
            Chunk::Big(data) => (f(data), None),
            Chunk::Packed(packed) => {
                let result = packed.pop(at_front, f);
                (result, Some(packed.count() == 0))
            }
        };
        match emptied {
            // A big chunk goes with its element, which `remove_chunk` counts.
            None => {
                self.remove_chunk(i);
            }
            Some(true) => {
                self.shrank(1);
                self.remove_chunk(i);
            }
            Some(false) => {
                self.shrank(1);
                self.settle(i);
            }
        }
        Some(result)
    }

    /// The element at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len() {
            return None;
        }
        let (i, k) = self.locate(index);
        Some(self.chunk(i)?.get(k))
    }

    /// Replaces the element at `index`; false, changing nothing, when there is none.
    pub fn set(&mut self, index: usize, element: &[u8]) -> bool {
        if index >= self.len() {
            return false;
        }
        let n = entry_len(element.len());
        let (i, k) = self.locate(index);
        match self.chunk_mut(i) {
            // Same size: overwrite in place, the common case (and O(1) at either end).
            Some(Chunk::Packed(packed)) if n <= BIG_ENTRY => {
                let at = packed.offset_of(k);
                let next = read_forward(&packed.data, at).1;
                if next - at == n {
                    write_entry(&mut packed.data[at..next], element);
                    return true;
                }
            }
            Some(Chunk::Big(data)) if n > BIG_ENTRY => {
                *data = element.into();
                return true;
            }
            _ => {}
        }
        // Another size or kind of chunk: both steps stay within a chunk or two.
        self.remove(index);
        self.insert(index, element)
    }

    /// Removes the element at `index` (less than the length).
    fn remove(&mut self, index: usize) {
        let (i, k) = self.locate(index);
        let emptied = match self.chunk_mut(i) {
            Some(Chunk::Packed(packed)) => {
                let at = packed.offset_of(k);
                packed.remove_at(at);
                let emptied = packed.count() == 0;
                self.shrank(1);
                emptied
            }
            Some(Chunk::Big(_)) => true,
            None => return,
        };
        if emptied {
            self.remove_chunk(i);
            // Its neighbours are now next to each other.
            self.settle(i.saturating_sub(1));
        } else {
            self.settle(i);
        }
    }

    /// Inserts `element` so that it ends up at `index` (at most the length); false, changing
    /// nothing, when `index` is past the end.
    pub fn insert(&mut self, index: usize, element: &[u8]) -> bool {
        let len = self.len();
        if index > len {
            return false;
        }
        if index == 0 || index == len {
            self.push(element, index == 0);
            return true;
        }
        let n = entry_len(element.len());
        let (i, k) = self.locate(index);
        if k == 0 {
            // Between chunks `i - 1` and `i` (`i` is not 0, as `index` is not).
            self.insert_between(i, element, n);
            return true;
        }
        // Inside chunk `i`, which is therefore packed (a big chunk holds one element).
        let Some(Chunk::Packed(packed)) = self.chunk_mut(i) else {
            return false;
        };
        let at = packed.offset_of(k);
        if n <= BIG_ENTRY && packed.insert_at(at, element, n) {
            self.grew(1);
            self.settle(i);
            return true;
        }
        // A big element, or a full chunk: split at the insertion point.
        let right = packed.split_off(at, k);
        let moved = right.count();
        self.shrank(moved);
        self.insert_chunk(i + 1, Chunk::Packed(right));
        self.insert_between(i + 1, element, n);
        // The smaller part may belong with its other neighbour.
        self.settle(i + 2);
        self.settle(i);
        true
    }

    /// Inserts `element` (an `n`-byte entry) between chunks `i - 1` and `i`: at the end of
    /// the first or the start of the second if either has room, else in a chunk of its own.
    fn insert_between(&mut self, i: usize, element: &[u8], n: usize) {
        if n <= BIG_ENTRY {
            for (chunk, at_front) in [(i - 1, false), (i, true)] {
                if let Some(Chunk::Packed(packed)) = self.chunk_mut(chunk) {
                    if packed.make_room(at_front, n, n) {
                        packed.write(at_front, element, n);
                        self.grew(1);
                        return;
                    }
                }
            }
        }
        let chunk = if n > BIG_ENTRY {
            Chunk::Big(element.into())
        } else {
            let mut packed = Packed::with_capacity(alloc_size(n), false);
            packed.write(false, element, n);
            Chunk::Packed(packed)
        };
        self.insert_chunk(i, chunk);
    }

    /// Merges chunk `i` with a neighbour when the two are packed and small enough together,
    /// and shrinks a lone chunk that has become mostly empty.
    fn settle(&mut self, i: usize) {
        if self.mergeable(i) {
            self.merge_next(i);
        }
        if i > 0 && self.mergeable(i - 1) {
            self.merge_next(i - 1);
        }
        if let Repr::One(Chunk::Packed(packed)) = &mut self.repr {
            packed.shrink_if_sparse();
        }
    }

    /// Whether chunks `i` and `i + 1` exist, are packed, and fit in one after a merge.
    fn mergeable(&self, i: usize) -> bool {
        match (self.chunk(i), self.chunk(i + 1)) {
            (Some(Chunk::Packed(a)), Some(Chunk::Packed(b))) => a.used() + b.used() <= MERGE_LIMIT,
            _ => false,
        }
    }

    /// Moves the entries of chunk `i + 1` to the end of chunk `i`; both are packed.
    fn merge_next(&mut self, i: usize) {
        let Chunk::Packed(right) = self.remove_chunk(i + 1) else {
            return;
        };
        if let Some(Chunk::Packed(left)) = self.chunk_mut(i) {
            left.absorb(&right);
            self.grew(right.count());
        }
    }

    /// Removes up to `limit` elements equal to `element`, the first ones or, `from_back`, the
    /// last ones (LREM); returns how many went. One pass over the list, O(N).
    pub fn remove_matching(&mut self, element: &[u8], limit: usize, from_back: bool) -> usize {
        let chunks = self.chunk_count();
        let mut removed = 0;
        for j in 0..chunks {
            if removed == limit {
                break;
            }
            let i = if from_back { chunks - 1 - j } else { j };
            let left = limit - removed;
            let gone = match self.chunk_mut(i) {
                Some(Chunk::Packed(packed)) => packed.remove_matching(element, left, from_back),
                Some(chunk) if matches!(&*chunk, Chunk::Big(data) if **data == *element) => {
                    // Left empty for `compact` to drop.
                    *chunk = Chunk::Packed(Packed::empty());
                    1
                }
                _ => 0,
            };
            removed += gone;
            self.shrank(gone);
        }
        if removed > 0 {
            self.compact();
        }
        removed
    }

    /// Rebuilds the chunk sequence without empty chunks, merging neighbours that fit together:
    /// after removals all over the list, in one pass rather than one deque edit per chunk.
    fn compact(&mut self) {
        let old = std::mem::take(self);
        match old.repr {
            Repr::One(chunk) => self.append_chunk(chunk),
            Repr::Many(many) => {
                for chunk in many.chunks {
                    self.append_chunk(chunk);
                }
            }
        }
        if let Repr::One(Chunk::Packed(packed)) = &mut self.repr {
            packed.shrink_if_sparse();
        }
    }

    /// Adds `chunk` at the tail, into the last chunk if both are packed and fit together.
    fn append_chunk(&mut self, chunk: Chunk) {
        if chunk.count() == 0 {
            return;
        }
        let last = self.chunk_count().saturating_sub(1);
        if let (Some(Chunk::Packed(left)), Chunk::Packed(right)) = (self.chunk_mut(last), &chunk) {
            if left.used() + right.used() <= MERGE_LIMIT {
                left.absorb(right);
                self.grew(right.count());
                return;
            }
        }
        let at = self.chunk_count();
        self.insert_chunk(at, chunk);
    }

    /// Keeps only the elements in `range` (clamped to the list), as LTRIM does. O(removed
    /// chunks), plus a walk inside the chunk at each end of the range.
    pub fn retain_range(&mut self, range: Range<usize>) {
        let len = self.len();
        let end = range.end.min(len);
        let start = range.start.min(end);
        if start == end {
            self.clear();
            return;
        }
        self.drop_end(len - end, false);
        self.drop_end(start, true);
    }

    /// Removes `n` elements (fewer than all) from the head or the tail.
    fn drop_end(&mut self, mut n: usize, at_front: bool) {
        if n == 0 {
            return;
        }
        while n > 0 {
            let last = self.chunk_count().saturating_sub(1);
            let i = if at_front { 0 } else { last };
            let Some(chunk) = self.chunk_mut(i) else {
                return;
            };
            let count = chunk.count();
            if count <= n {
                self.remove_chunk(i);
                n -= count;
                continue;
            }
            if let Chunk::Packed(packed) = chunk {
                if at_front {
                    packed.drop_front(n);
                } else {
                    packed.drop_back(n);
                }
            }
            self.shrank(n);
            break;
        }
        let i = if at_front {
            0
        } else {
            self.chunk_count().saturating_sub(1)
        };
        self.settle(i);
    }

    /// Iterates over the elements, head first (or, reversed, tail first).
    pub fn iter(&self) -> Iter<'_> {
        self.range(0..self.len())
    }

    /// Iterates over the elements at the positions in `range` (clamped to the list). Finding
    /// either end costs O(chunks) from the nearer end of the list, not a walk over elements.
    pub fn range(&self, range: Range<usize>) -> Iter<'_> {
        let len = self.len();
        let end = range.end.min(len);
        let start = range.start.min(end);
        let empty = Cursor {
            bytes: &[],
            big: false,
        };
        let mut iter = Iter {
            list: self,
            front_chunk: 0,
            front: empty,
            back_chunk: 0,
            back: empty,
            remaining: end - start,
        };
        if start == end {
            return iter;
        }
        let (i, k) = self.locate(start);
        if let Some(chunk) = self.chunk(i) {
            (iter.front_chunk, iter.front) = (i, chunk.cursor_from(k));
        }
        let (j, cursor) = if end == len {
            let last = self.chunk_count() - 1;
            (last, self.chunk(last).map(Chunk::cursor))
        } else {
            let (j, k) = self.locate(end);
            (j, self.chunk(j).map(|chunk| chunk.cursor_until(k)))
        };
        if let Some(cursor) = cursor {
            (iter.back_chunk, iter.back) = (j, cursor);
        }
        iter
    }

    /// Checks the structure's invariants, for tests: every chunk's entries parse to its count,
    /// the counts add up to the length, only a lone chunk of an empty list is empty.
    #[cfg(test)]
    fn check(&self) {
        let (head, tail) = self.chunk_slices();
        let mut total = 0;
        for chunk in head.iter().chain(tail) {
            match chunk {
                Chunk::Packed(p) => {
                    assert!(p.capacity() <= CHUNK);
                    assert!(p.start() <= p.end() && p.end() <= p.capacity());
                    let (mut at, mut n) = (p.start(), 0);
                    while at < p.end() {
                        at = read_forward(&p.data, at).1;
                        n += 1;
                    }
                    assert_eq!(at, p.end());
                    assert_eq!(n, p.count());
                    assert!(n > 0, "an empty chunk in a list");
                }
                Chunk::Big(data) => assert!(entry_len(data.len()) > BIG_ENTRY),
            }
            total += chunk.count();
        }
        assert_eq!(total, self.len());
        if let Repr::Many(many) = &self.repr {
            assert!(many.chunks.len() >= 2);
        }
    }
}

/// Lists are equal when their elements are, however they are chunked.
impl PartialEq for PackedList {
    fn eq(&self, other: &PackedList) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for PackedList {}

impl fmt::Debug for PackedList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl<'a> FromIterator<&'a [u8]> for PackedList {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(elements: I) -> PackedList {
        let mut list = PackedList::new();
        list.extend(elements);
        list
    }
}

impl<'a> Extend<&'a [u8]> for PackedList {
    fn extend<I: IntoIterator<Item = &'a [u8]>>(&mut self, elements: I) {
        for element in elements {
            self.push_back(element);
        }
    }
}

impl<'a> IntoIterator for &'a PackedList {
    type Item = &'a [u8];
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// An iterator over a range of a [`PackedList`]'s elements, from either end.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    /// The list, for the chunks between the two cursors.
    list: &'a PackedList,
    /// The chunk the front cursor is in.
    front_chunk: usize,
    /// What is left to visit of that chunk, from the front.
    front: Cursor<'a>,
    /// The chunk the back cursor is in.
    back_chunk: usize,
    /// What is left to visit of that chunk, from the back.
    back: Cursor<'a>,
    /// Elements left in the range: the cursors may share a chunk and overlap, so this, not
    /// they, says when to stop.
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        while self.front.bytes.is_empty() {
            self.front_chunk += 1;
            self.front = self.list.chunk(self.front_chunk)?.cursor();
        }
        self.remaining -= 1;
        Some(self.front.next_front())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        while self.back.bytes.is_empty() {
            self.back_chunk = self.back_chunk.checked_sub(1)?;
            self.back = self.list.chunk(self.back_chunk)?.cursor();
        }
        self.remaining -= 1;
        Some(self.back.next_back())
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl std::iter::FusedIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    fn list_of(elements: &[&[u8]]) -> PackedList {
        elements.iter().copied().collect()
    }

    fn contents(list: &PackedList) -> Vec<Vec<u8>> {
        list.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn sizes_keep_values_small() {
        assert_eq!(std::mem::size_of::<Chunk>(), 24);
        assert!(std::mem::size_of::<PackedList>() <= 32);
    }

    #[test]
    fn framing_reads_both_ways() {
        for len in [0, 1, 127, 128, 300, 16383, 16384, 70000] {
            let element: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut entry = vec![0; entry_len(len)];
            write_entry(&mut entry, &element);
            assert_eq!(read_forward(&entry, 0), (&element[..], entry.len()));
            assert_eq!(read_backward(&entry, entry.len()), (&element[..], 0));
        }
        // 20 bytes cost 22, as in a listpack.
        assert_eq!(entry_len(20), 22);
    }

    #[test]
    fn pushes_pops_and_indexes() {
        let mut list = PackedList::new();
        assert_eq!(list.pop_front(), None);
        assert_eq!(list.get(0), None);
        list.push_back(b"b");
        list.push_front(b"a");
        list.push_back(b"c");
        assert_eq!(contents(&list), [b"a", b"b", b"c"]);
        assert_eq!(list.get(2), Some(&b"c"[..]));
        assert_eq!(list.iter().rev().collect::<Vec<_>>(), [b"c", b"b", b"a"]);
        assert_eq!(list.pop_back().as_deref(), Some(&b"c"[..]));
        assert_eq!(list.pop_front().as_deref(), Some(&b"a"[..]));
        assert_eq!(list.pop_front_with(<[u8]>::len), Some(1));
        assert!(list.is_empty());
        list.check();
    }

    #[test]
    fn a_large_list_fills_whole_chunks() {
        let mut list = PackedList::new();
        let element = b"element:000000000123";
        for _ in 0..10_000 {
            list.push_back(element);
        }
        list.check();
        let (head, tail) = list.chunk_slices();
        let chunks: Vec<&Chunk> = head.iter().chain(tail).collect();
        // 186 entries of 22 bytes in 4096; only the first chunk grew from small.
        assert!(chunks.len() <= 10_000 / 186 + 2, "{} chunks", chunks.len());
        for chunk in &chunks[1..chunks.len() - 1] {
            assert_eq!(chunk.count(), CHUNK / 22);
        }
        // Pushed at the head, chunks fill from their ends just as well.
        let mut list = PackedList::new();
        for _ in 0..10_000 {
            list.push_front(element);
        }
        assert!(list.chunk_count() <= 10_000 / 186 + 2);
        list.check();
    }

    #[test]
    fn a_queue_never_moves_whole_chunks() {
        // RPUSH and LPOP in step: the head chunk drains while the tail one fills.
        let mut list = PackedList::new();
        for i in 0..1000u32 {
            list.push_back(&i.to_be_bytes());
        }
        for i in 1000..100_000u32 {
            list.push_back(&i.to_be_bytes());
            let popped = list.pop_front();
            assert_eq!(popped.as_deref(), Some(&(i - 1000).to_be_bytes()[..]));
        }
        assert_eq!(list.len(), 1000);
        list.check();
    }

    #[test]
    fn memory_goes_back_as_a_list_shrinks() {
        let mut list = PackedList::new();
        for _ in 0..1000 {
            list.push_back(b"some element of a list");
        }
        while list.len() > 1 {
            list.pop_back();
        }
        list.check();
        match &list.repr {
            Repr::One(Chunk::Packed(p)) => assert!(p.capacity() <= SHRINK_FROM, "{}", p.capacity()),
            _ => panic!("one element, one chunk"),
        }
    }

    #[test]
    fn big_elements_get_their_own_chunks() {
        let big = vec![b'x'; 5000];
        let mut list = list_of(&[b"a", &big, b"b"]);
        list.check();
        assert_eq!(list.chunk_count(), 3);
        assert_eq!(list.get(1), Some(&big[..]));
        assert!(list.set(1, b"small"));
        assert_eq!(contents(&list), [&b"a"[..], b"small", b"b"]);
        // Merged back into one chunk once the big one went.
        assert_eq!(list.chunk_count(), 1);
        assert!(list.insert(1, &big));
        assert_eq!(list.get(1), Some(&big[..]));
        assert_eq!(list.remove_matching(&big, 1, false), 1);
        assert_eq!(contents(&list), [&b"a"[..], b"small", b"b"]);
        list.check();
    }

    #[test]
    fn lrem_from_the_back_takes_the_last_matches() {
        let mut list = list_of(&[b"a", b"x", b"a", b"a", b"y", b"a"]);
        assert_eq!(list.remove_matching(b"a", 2, true), 2);
        assert_eq!(contents(&list), [&b"a"[..], b"x", b"a", b"y"]);
        assert_eq!(list.remove_matching(b"a", usize::MAX, false), 2);
        assert_eq!(contents(&list), [&b"x"[..], b"y"]);
    }

    #[test]
    fn ranges_start_and_end_anywhere() {
        let elements: Vec<Vec<u8>> = (0..2000u32).map(|i| i.to_string().into_bytes()).collect();
        let list: PackedList = elements.iter().map(Vec::as_slice).collect();
        for (start, end) in [
            (0, 0),
            (0, 2000),
            (5, 105),
            (1990, 2500),
            (700, 1300),
            (3000, 4000),
        ] {
            let expected: Vec<&[u8]> = elements
                .iter()
                .take(end)
                .skip(start)
                .map(Vec::as_slice)
                .collect();
            assert_eq!(list.range(start..end).collect::<Vec<_>>(), expected);
            assert_eq!(list.range(start..end).len(), expected.len());
            let mut reversed: Vec<&[u8]> = list.range(start..end).rev().collect();
            reversed.reverse();
            assert_eq!(reversed, expected);
        }
    }

    /// One operation of the model test, with elements drawn from a small pool so that LREM,
    /// sets and equal-sized overwrites find matches. Positions are resolved against the length
    /// at the time (`Index`), reaching a little past the end.
    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        PushMany(bool, Vec<u8>, u16),
        PushAll(bool, Vec<Vec<u8>>),
        Pop(bool),
        Get(Index),
        Set(Index, Vec<u8>),
        Insert(Index, Vec<u8>),
        RemoveMatching(Vec<u8>, usize, bool),
        Retain(Index, Index),
        Range(Index, Index),
    }

    use proptest::sample::Index;

    /// Element sizes around every boundary: the one-byte framing (127/128), the big-entry limit
    /// (508 bytes make a 512-byte entry), and past a whole chunk.
    fn element() -> impl Strategy<Value = Vec<u8>> {
        let size = prop_oneof![
            6 => 0usize..24,
            1 => prop_oneof![Just(126usize), Just(127), Just(128), Just(129)],
            1 => 300usize..508,
            1 => prop_oneof![Just(507usize), Just(508), Just(509), Just(510)],
            1 => 509usize..1500,
            1 => 4000usize..5000,
        ];
        (size, 0u8..3).prop_map(|(size, tag)| vec![b'a' + tag; size])
    }

    /// A short element, for pushes by the hundred that fill whole chunks.
    fn short_element() -> impl Strategy<Value = Vec<u8>> {
        (0usize..24, 0u8..3).prop_map(|(size, tag)| vec![b'a' + tag; size])
    }

    fn op() -> impl Strategy<Value = Op> {
        let index = any::<Index>;
        prop_oneof![
            6 => (any::<bool>(), element()).prop_map(|(f, e)| Op::Push(f, e)),
            1 => (any::<bool>(), short_element(), 1u16..250).prop_map(|(f, e, n)| Op::PushMany(f, e, n)),
            2 => (any::<bool>(), proptest::collection::vec(element(), 1..12))
                .prop_map(|(f, es)| Op::PushAll(f, es)),
            4 => any::<bool>().prop_map(Op::Pop),
            1 => index().prop_map(Op::Get),
            2 => (index(), element()).prop_map(|(i, e)| Op::Set(i, e)),
            3 => (index(), element()).prop_map(|(i, e)| Op::Insert(i, e)),
            1 => (element(), 0usize..5, any::<bool>())
                .prop_map(|(e, n, b)| Op::RemoveMatching(e, if n == 4 { usize::MAX } else { n }, b)),
            1 => (index(), index()).prop_map(|(a, b)| Op::Retain(a, b)),
            1 => (index(), index()).prop_map(|(a, b)| Op::Range(a, b)),
        ]
    }

    /// A position for a list of `len` elements, up to two past its end.
    fn at(index: &Index, len: usize) -> usize {
        index.index(len + 3)
    }

    /// What the model answers for `op`, changing itself as the list should.
    fn apply_model(model: &mut VecDeque<Vec<u8>>, op: &Op) -> Option<Vec<Vec<u8>>> {
        let len = model.len();
        match op {
            Op::Push(front, e) => {
                if *front {
                    model.push_front(e.clone());
                } else {
                    model.push_back(e.clone());
                }
                None
            }
            Op::PushMany(front, e, n) => {
                for _ in 0..*n {
                    if *front {
                        model.push_front(e.clone());
                    } else {
                        model.push_back(e.clone());
                    }
                }
                None
            }
            Op::PushAll(front, es) => {
                for e in es {
                    if *front {
                        model.push_front(e.clone());
                    } else {
                        model.push_back(e.clone());
                    }
                }
                None
            }
            Op::Pop(front) => {
                let popped = if *front {
                    model.pop_front()
                } else {
                    model.pop_back()
                };
                Some(popped.into_iter().collect())
            }
            Op::Get(i) => Some(model.get(at(i, len)).cloned().into_iter().collect()),
            Op::Set(i, e) => match model.get_mut(at(i, len)) {
                Some(slot) => {
                    *slot = e.clone();
                    Some(vec![b"ok".to_vec()])
                }
                None => Some(vec![]),
            },
            Op::Insert(i, e) => {
                let i = at(i, len);
                if i <= len {
                    model.insert(i, e.clone());
                    Some(vec![b"ok".to_vec()])
                } else {
                    Some(vec![])
                }
            }
            Op::RemoveMatching(e, limit, from_back) => {
                let positions: Vec<usize> = if *from_back {
                    (0..len).rev().collect()
                } else {
                    (0..len).collect()
                };
                let mut gone: Vec<usize> = positions
                    .into_iter()
                    .filter(|&i| model[i] == *e)
                    .take(*limit)
                    .collect();
                let removed = gone.len();
                gone.sort_unstable();
                for i in gone.into_iter().rev() {
                    model.remove(i);
                }
                Some(vec![removed.to_string().into_bytes()])
            }
            Op::Retain(a, b) => {
                let end = at(b, len).min(len);
                let start = at(a, len).min(end);
                *model = model.range(start..end).cloned().collect();
                None
            }
            Op::Range(a, b) => {
                let end = at(b, len).min(len);
                let start = at(a, len).min(end);
                Some(model.range(start..end).cloned().collect())
            }
        }
    }

    /// What the list answers for `op`.
    fn apply_list(list: &mut PackedList, op: &Op) -> Option<Vec<Vec<u8>>> {
        let len = list.len();
        match op {
            Op::Push(front, e) => {
                if *front {
                    list.push_front(e);
                } else {
                    list.push_back(e);
                }
                None
            }
            Op::PushMany(front, e, n) => {
                for _ in 0..*n {
                    if *front {
                        list.push_front(e);
                    } else {
                        list.push_back(e);
                    }
                }
                None
            }
            Op::PushAll(front, es) => {
                list.push_all(*front, es);
                None
            }
            Op::Pop(front) => {
                let popped = if *front {
                    list.pop_front()
                } else {
                    list.pop_back()
                };
                Some(popped.map(|e| e.to_vec()).into_iter().collect())
            }
            Op::Get(i) => Some(
                list.get(at(i, len))
                    .map(<[u8]>::to_vec)
                    .into_iter()
                    .collect(),
            ),
            Op::Set(i, e) => Some(if list.set(at(i, len), e) {
                vec![b"ok".to_vec()]
            } else {
                vec![]
            }),
            Op::Insert(i, e) => Some(if list.insert(at(i, len), e) {
                vec![b"ok".to_vec()]
            } else {
                vec![]
            }),
            Op::RemoveMatching(e, limit, from_back) => {
                let removed = list.remove_matching(e, *limit, *from_back);
                Some(vec![removed.to_string().into_bytes()])
            }
            Op::Retain(a, b) => {
                list.retain_range(at(a, len)..at(b, len));
                None
            }
            Op::Range(a, b) => Some(
                list.range(at(a, len)..at(b, len))
                    .map(<[u8]>::to_vec)
                    .collect(),
            ),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Every operation agrees with a `VecDeque`, and the structure stays sound: chunks
        /// parse, counts add up, no empty chunk.
        #[test]
        fn behaves_like_a_deque(ops in proptest::collection::vec(op(), 1..120)) {
            let mut list = PackedList::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in &ops {
                let expected = apply_model(&mut model, op);
                let got = apply_list(&mut list, op);
                prop_assert_eq!(got, expected, "{:?}", op);
                list.check();
                prop_assert_eq!(list.len(), model.len());
                prop_assert!(list.iter().eq(model.iter().map(Vec::as_slice)));
                prop_assert!(list.iter().rev().eq(model.iter().rev().map(Vec::as_slice)));
            }
            // Clones and equality see elements, not chunking.
            let copy = list.clone();
            prop_assert_eq!(&copy, &list);
            let rebuilt: PackedList = model.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(&rebuilt, &list);
        }
    }
}
