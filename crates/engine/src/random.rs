//! Random numbers for the commands that pick at random (RANDOMKEY, HRANDFIELD, SPOP, ...).
//!
//! std's `RandomState` seeds it (from the OS once per thread, perturbed on every construction),
//! splitmix64 steps it: random enough to pick keys and members, with no extra dependency.
//! Nothing here is meant for secrets.

use std::hash::{BuildHasher, Hasher};

use crate::{Args, CommandError};

/// Most picks a negative count may ask for (16M): a negative count repeats picks, so its reply
/// grows with the count alone, and past this kv refuses rather than build a reply of any size
/// a client asks for (Redis 7.0 tries, and can crash).
const MAX_REPEATED_PICKS: i64 = 1 << 24;

/// The count of SRANDMEMBER, HRANDFIELD and ZRANDMEMBER, and whether the word `with`
/// (WITHVALUES, WITHSCORES) follows it in `rest`, checked in Redis's order: the count as
/// `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`, the word, then a count too large
/// for two reply items a pick, then kv's bound on repeated picks.
pub(crate) fn pick_count(
    count_arg: &[u8],
    rest: &mut Args<'_>,
    with: Option<&str>,
) -> Result<(i64, bool), CommandError> {
    let count = crate::args::parse_i64(count_arg)?;
    if count == i64::MIN {
        return Err(CommandError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with = match (with, rest.remaining()) {
        (_, 0) => false,
        (Some(word), 1) if rest.eat(word) => true,
        _ => return Err(CommandError::Syntax),
    };
    // Redis bounds the count so that twice it (two items a pick) cannot overflow.
    if with && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CommandError::msg("ERR value is out of range"));
    }
    if count < -MAX_REPEATED_PICKS {
        return Err(CommandError::msg("ERR value is out of range"));
    }
    Ok((count, with))
}

/// 64 random bits from a generator of the calling thread's: cheap enough to run on every key
/// access (LFU counting), where [`Rng::new`] would read the clock each time.
pub(crate) fn thread_u64() -> u64 {
    thread_local! {
        static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    STATE.with(|state| {
        let mut rng = match state.get() {
            0 => Rng::new(),
            seeded => Rng(seeded),
        };
        let bits = rng.next_u64();
        state.set(rng.0);
        bits
    })
}

/// A splitmix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator with a fresh seed.
    pub(crate) fn new() -> Rng {
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u64(crate::now_ms());
        Rng(hasher.finish())
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`); the modulo bias is negligible for collection sizes.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `count` distinct items of `items` in random order (all of them if there are fewer): a
    /// partial Fisher-Yates shuffle, O(len) for the copy it is given.
    pub(crate) fn distinct<T>(&mut self, mut items: Vec<T>, count: usize) -> Vec<T> {
        let count = count.min(items.len());
        for i in 0..count {
            let j = i + self.below(items.len() - i);
            items.swap(i, j);
        }
        items.truncate(count);
        items
    }
}
