//! Memory accounting: the bytes kv has allocated, for INFO's `used_memory` and `maxmemory`.
//!
//! Redis counts every allocation through its `zmalloc` wrapper; kv does the same with a
//! global allocator, [`CountingAllocator`], that passes each call to the system allocator and
//! keeps the running total of requested bytes. The binary installs it (`main.rs`); a program
//! that embeds the server library without it reads the resident set size instead.
//!
//! Counting must cost next to nothing, as every allocation pays it: each thread adds its
//! changes to a counter of its own and moves them to the shared total once they pass
//! [`FLUSH_AT`] bytes either way, so the shared total is off by at most that much per thread,
//! except for the thread reading it, whose own changes [`used`] adds in. An eviction loop
//! frees memory on its own thread, so it sees each deletion at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Bytes a thread may allocate or free before it updates the shared total.
const FLUSH_AT: i64 = 16 * 1024;

/// Bytes allocated, as of each thread's last flush.
static TOTAL: AtomicI64 = AtomicI64::new(0);

/// Whether the counting allocator is the global one (set by its first allocation).
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's changes not yet added to [`TOTAL`]. A `Cell` with a constant initializer
    /// and no destructor: reading it never allocates, and it stays usable while the thread
    /// exits, as an allocator's state must.
    static PENDING: Cell<i64> = const { Cell::new(0) };
}

/// Adds `delta` bytes to the count.
fn note(delta: i64) {
    let flushed = PENDING.try_with(|pending| {
        let sum = pending.get() + delta;
        if sum.abs() >= FLUSH_AT {
            TOTAL.fetch_add(sum, Ordering::Relaxed);
            pending.set(0);
        } else {
            pending.set(sum);
        }
    });
    if flushed.is_err() {
        TOTAL.fetch_add(delta, Ordering::Relaxed);
    }
}

/// The system allocator, counting the bytes it hands out.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments, so `System`'s
// guarantees are ours; the counting beside it neither allocates nor touches the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (see the impl).
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            note(layout.size() as i64);
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (see the impl).
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            note(layout.size() as i64);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(block, layout) };
        note(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged (see the impl).
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        moved
    }
}

/// Marks the counting allocator as installed: the binary calls it first thing, so a count of
/// zero is never mistaken for one that is not kept.
pub fn mark_installed() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Bytes in use: the allocator's count where it is installed, else the resident set size.
pub fn used() -> u64 {
    if !INSTALLED.load(Ordering::Relaxed) {
        return rss();
    }
    let own = PENDING.try_with(Cell::get).unwrap_or(0);
    u64::try_from(TOTAL.load(Ordering::Relaxed) + own).unwrap_or(0)
}

/// Resident memory in bytes, from /proc (0 where it is not available).
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Bytes in use once the server was set up, before any data was loaded (Redis's
/// `used_memory_startup`).
static STARTUP: AtomicU64 = AtomicU64::new(0);

/// Records the memory in use now as the start-up baseline.
pub fn mark_startup() {
    STARTUP.store(used(), Ordering::Relaxed);
}

/// The machine's memory in bytes, from /proc (0 where it is not available).
pub fn total_system() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Where the memory goes, as Redis's `getMemoryOverheadData` breaks it down: what MEMORY
/// STATS lists, MEMORY DOCTOR judges and INFO memory reports.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    /// Bytes in use.
    pub used: u64,
    /// The most in use so far.
    pub peak: u64,
    /// In use after start-up.
    pub startup: u64,
    /// Resident set size.
    pub rss: u64,
    /// The replication backlog.
    pub backlog: u64,
    /// Replicas' output buffers beyond the backlog they share.
    pub replica_clients: u64,
    /// Other clients' buffers.
    pub normal_clients: u64,
    /// Connected clients, replicas aside.
    pub client_count: u64,
    /// The append-only file's buffer.
    pub aof_buffer: u64,
    /// `(db, key table, expiry index)` for each database with keys.
    pub dbs: Vec<(usize, u64, u64)>,
    /// Keys in all databases.
    pub keys: u64,
}

impl Breakdown {
    /// Measures the server now.
    pub fn take(shared: &crate::server::Shared) -> Breakdown {
        let used = used();
        let keyspace = &shared.engine.keyspace;
        let mut dbs = Vec::new();
        let mut keys = 0;
        for db in 0..keyspace.databases() {
            let count = keyspace.db_len(db);
            if count > 0 {
                let (main, expires) =
                    kv_engine::memory::db_overhead(count, keyspace.db_volatile(db));
                dbs.push((db, main as u64, expires as u64));
                keys += count as u64;
            }
        }
        let clients = shared.clients.all();
        Breakdown {
            used,
            peak: shared.stats.note_memory(used),
            startup: STARTUP.load(Ordering::Relaxed),
            rss: rss(),
            // The bytes the backlog holds (its ring grows to `repl-backlog-size`).
            backlog: shared
                .replication
                .master
                .feed()
                .map_or(0, |feed| feed.backlog_info().2 as u64),
            // Replicas read the backlog itself: they have no output buffers of their own.
            replica_clients: 0,
            normal_clients: clients.iter().map(|c| c.memory() as u64).sum(),
            client_count: clients.len() as u64,
            aof_buffer: shared.aof.buffer_length(),
            dbs,
            keys,
        }
    }

    /// Everything but the data itself.
    pub fn overhead(&self) -> u64 {
        self.startup
            + self.backlog
            + self.replica_clients
            + self.normal_clients
            + self.aof_buffer
            + self
                .dbs
                .iter()
                .map(|(_, main, exp)| main + exp)
                .sum::<u64>()
    }

    /// The data: what is in use beyond the overhead.
    pub fn dataset(&self) -> u64 {
        self.used.saturating_sub(self.overhead())
    }

    /// The dataset's share of what was allocated since start-up, in percent.
    pub fn dataset_percent(&self) -> f32 {
        let net = self.used.saturating_sub(self.startup).max(1);
        self.dataset() as f32 * 100.0 / net as f32
    }

    /// Use now as a percentage of the peak.
    pub fn peak_percent(&self) -> f32 {
        self.used as f32 * 100.0 / self.peak.max(1) as f32
    }

    /// Resident set size over bytes in use (the allocator is the system's, so its
    /// fragmentation is all there is: Redis's figures for a libc build).
    pub fn fragmentation(&self) -> f32 {
        self.rss as f32 / self.used.max(1) as f32
    }

    /// Resident bytes beyond those in use (negative when less is resident).
    pub fn fragmentation_bytes(&self) -> i64 {
        self.rss as i64 - self.used as i64
    }
}

/// `MEMORY <subcommand>` other than USAGE (which the engine runs).
pub fn command(
    conn: &mut crate::connection::Connection,
    sub: &str,
) -> Result<(), kv_engine::CommandError> {
    match sub {
        "stats" => stats(conn),
        "doctor" => {
            let report = doctor(&Breakdown::take(&conn.shared));
            conn.reply.verbatim(report.as_bytes());
        }
        "malloc-stats" => {
            // What Redis answers when built on libc's allocator, as kv is.
            conn.reply
                .bulk(b"Stats not supported for the current allocator");
        }
        "purge" => {
            purge();
            conn.reply.ok();
        }
        "help" => crate::admin::help(conn, HELP),
        _ => {
            return Err(kv_engine::CommandError::Internal(
                "MEMORY subcommand without an implementation",
            ))
        }
    }
    Ok(())
}

/// `MEMORY HELP`, as Redis words it.
const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// `MEMORY STATS`: Redis 7.0's fields in its order. Allocator figures are those Redis reports
/// on libc's allocator: allocated is what is in use, active and resident the RSS.
fn stats(conn: &mut crate::connection::Connection) {
    let m = Breakdown::take(&conn.shared);
    let reply = &mut conn.reply;
    reply.map(27 + m.dbs.len());
    let int = |reply: &mut kv_engine::Reply, name: &str, value: i64| {
        reply.bulk(name.as_bytes());
        reply.integer(value);
    };
    int(reply, "peak.allocated", m.peak as i64);
    int(reply, "total.allocated", m.used as i64);
    int(reply, "startup.allocated", m.startup as i64);
    int(reply, "replication.backlog", m.backlog as i64);
    int(reply, "clients.slaves", m.replica_clients as i64);
    int(reply, "clients.normal", m.normal_clients as i64);
    int(reply, "cluster.links", 0);
    int(reply, "aof.buffer", m.aof_buffer as i64);
    // No scripting engine is loaded, so its caches hold nothing.
    int(reply, "lua.caches", 0);
    int(reply, "functions.caches", 0);
    for &(db, main, expires) in &m.dbs {
        reply.bulk(format!("db.{db}").as_bytes());
        reply.map(3);
        int(reply, "overhead.hashtable.main", main as i64);
        int(reply, "overhead.hashtable.expires", expires as i64);
        int(reply, "overhead.hashtable.slot-to-keys", 0);
    }
    int(reply, "overhead.total", m.overhead() as i64);
    int(reply, "keys.count", m.keys as i64);
    let per_key = m.dataset().checked_div(m.keys).unwrap_or(0);
    int(reply, "keys.bytes-per-key", per_key as i64);
    int(reply, "dataset.bytes", m.dataset() as i64);
    let float = |reply: &mut kv_engine::Reply, name: &str, value: f32| {
        reply.bulk(name.as_bytes());
        reply.double(f64::from(value));
    };
    float(reply, "dataset.percentage", m.dataset_percent());
    float(reply, "peak.percentage", m.peak_percent());
    int(reply, "allocator.allocated", m.used as i64);
    int(reply, "allocator.active", m.rss as i64);
    int(reply, "allocator.resident", m.rss as i64);
    float(reply, "allocator-fragmentation.ratio", m.fragmentation());
    int(
        reply,
        "allocator-fragmentation.bytes",
        m.fragmentation_bytes(),
    );
    float(reply, "allocator-rss.ratio", 1.0);
    int(reply, "allocator-rss.bytes", 0);
    float(reply, "rss-overhead.ratio", 1.0);
    int(reply, "rss-overhead.bytes", 0);
    float(reply, "fragmentation", m.fragmentation());
    int(reply, "fragmentation.bytes", m.fragmentation_bytes());
}

/// `MEMORY DOCTOR`'s report: Redis's checks, on kv's figures, in Redis's words.
pub fn doctor(m: &Breakdown) -> String {
    const MIB: u64 = 1024 * 1024;
    if m.used < 5 * MIB {
        return "Hi Sam, this instance is empty or is using very little memory, my issues \
                detector can't be used in these conditions. Please, leave for your mission on \
                Earth and fill it with some data. The new Sam and I will be back to our \
                programming as soon as I finished rebooting.\n"
            .to_string();
    }
    let big_peak = m.peak as f32 / m.used as f32 > 1.5;
    let fragmented = m.fragmentation() > 1.4 && m.fragmentation_bytes() > 10 * MIB as i64;
    // With the system allocator, its fragmentation is the whole process's.
    let allocator_fragmented = m.fragmentation() > 1.1 && m.fragmentation_bytes() > 10 * MIB as i64;
    let big_client_buffers = m.normal_clients / m.client_count.max(1) > 200 * 1024;
    let mut findings = Vec::new();
    if big_peak {
        findings.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
    }
    if fragmented {
        findings.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n");
    }
    if allocator_fragmented {
        findings.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n");
    }
    if big_client_buffers {
        findings.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
    }
    if findings.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for \
                what occurs on this base.\n"
            .to_string();
    }
    let mut report =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for finding in findings {
        report.push_str(finding);
    }
    report.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    report
}

/// `MEMORY PURGE`: hands the allocator's free memory back to the system (glibc's
/// `malloc_trim`; elsewhere there is nothing to do).
fn purge() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory the allocator holds; it takes no
    // pointers and is safe to call from any thread at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
