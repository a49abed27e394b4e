//! `INFO`: Redis's sections and field names, so exporters and dashboards that parse it work.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::admin::REDIS_COMPAT_VERSION;
use crate::connection::Connection;

/// Sections `INFO` prints with no argument (or `default`). Redis includes errorstats here.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
/// Sections `INFO all` (and `everything`) prints, in Redis's order.
const ALL: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// The INFO text for the requested sections (names are case-insensitive; unknown ones are
/// skipped, as Redis does).
pub fn render(conn: &Connection, args: &[&[u8]]) -> String {
    let mut wanted: Vec<String> = Vec::new();
    for arg in args {
        let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match name.as_str() {
            "default" => wanted.extend(DEFAULT.iter().map(|s| s.to_string())),
            "all" | "everything" => wanted.extend(ALL.iter().map(|s| s.to_string())),
            _ => wanted.push(name),
        }
    }
    if args.is_empty() {
        wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    let mut out = String::new();
    for section in ALL {
        if !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let title = match *section {
            "cpu" => "CPU".to_string(),
            other => {
                let mut chars = other.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        };
        let _ = write!(out, "# {title}\r\n");
        match *section {
            "server" => server(conn, &mut out),
            "clients" => clients(conn, &mut out),
            "memory" => memory(conn, &mut out),
            "persistence" => persistence(conn, &mut out),
            "stats" => stats(conn, &mut out),
            "replication" => replication(conn, &mut out),
            "cpu" => cpu(&mut out),
            // kv loads no modules: the section is its title alone, as Redis's is then.
            "modules" => {}
            "cluster" => field(&mut out, "cluster_enabled", 0),
            "commandstats" => conn.shared.cmdstats.render_commandstats(&mut out),
            "errorstats" => conn.shared.cmdstats.render_errorstats(&mut out),
            "latencystats" => {
                let percentiles = crate::config::info_percentiles(&conn.shared.config);
                conn.shared
                    .cmdstats
                    .render_latencystats(&mut out, &percentiles);
            }
            "keyspace" => keyspace(conn, &mut out),
            _ => {}
        }
    }
    out
}

fn field(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

fn server(conn: &Connection, out: &mut String) {
    let shared = &conn.shared;
    let uptime = shared.started.elapsed().as_secs();
    field(out, "redis_version", REDIS_COMPAT_VERSION);
    field(out, "kv_version", env!("CARGO_PKG_VERSION"));
    field(out, "redis_git_sha1", "00000000");
    field(out, "redis_git_dirty", 0);
    field(out, "redis_build_id", build_id());
    field(out, "redis_mode", "standalone");
    field(out, "os", os_name());
    field(out, "arch_bits", usize::BITS);
    // Rust's Instant reads CLOCK_MONOTONIC, as Redis's POSIX monotonic clock does.
    field(out, "monotonic_clock", "POSIX clock_gettime");
    field(out, "multiplexing_api", "tokio");
    // Rust's atomics follow the C11 memory model.
    field(out, "atomicvar_api", "c11-builtin");
    // What Redis prints when no GCC built it.
    field(out, "gcc_version", "0.0.0");
    field(out, "process_id", std::process::id());
    field(out, "process_supervised", "no");
    field(out, "run_id", &shared.run_id);
    field(out, "tcp_port", shared.port.load(Ordering::Relaxed));
    field(out, "server_time_usec", kv_engine::now_ms() * 1000);
    field(out, "uptime_in_seconds", uptime);
    field(out, "uptime_in_days", uptime / 86400);
    let hz = shared.config.int("hz");
    field(out, "hz", hz);
    field(out, "configured_hz", hz);
    // Redis's LRU clock: seconds, in 24 bits.
    field(out, "lru_clock", (kv_engine::now_ms() / 1000) & 0xff_ffff);
    field(
        out,
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    field(
        out,
        "config_file",
        shared
            .config
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    field(out, "io_threads_active", 0);
}

fn clients(conn: &Connection, out: &mut String) {
    let shared = &conn.shared;
    field(out, "connected_clients", shared.clients.len());
    field(out, "cluster_connections", 0);
    field(out, "maxclients", shared.config.int("maxclients"));
    let now = std::time::Instant::now();
    let stats = &shared.stats;
    field(
        out,
        "client_recent_max_input_buffer",
        stats.recent_max_input.get(now),
    );
    field(
        out,
        "client_recent_max_output_buffer",
        stats.recent_max_output.get(now),
    );
    let blocking = &shared.engine.blocking;
    // Clients a CLIENT PAUSE holds count as blocked, as in Redis.
    let paused = shared.pause.held.load(Ordering::Relaxed);
    field(out, "blocked_clients", blocking.blocked_clients() + paused);
    field(out, "tracking_clients", shared.tracking.client_count());
    field(
        out,
        "clients_in_timeout_table",
        blocking.clients_with_timeout(),
    );
}

fn human(bytes: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.2}{}", units[unit])
    }
}

/// Redis 7.0's memory fields in its order, from the same breakdown as MEMORY STATS. No
/// scripting engine is loaded, so the script and function figures are zero.
fn memory(conn: &Connection, out: &mut String) {
    let m = crate::memory::Breakdown::take(&conn.shared);
    let eviction = &conn.shared.engine.config.eviction;
    let max = eviction.maxmemory.load(Ordering::Relaxed);
    let system = crate::memory::total_system();
    field(out, "used_memory", m.used);
    field(out, "used_memory_human", human(m.used));
    field(out, "used_memory_rss", m.rss);
    field(out, "used_memory_rss_human", human(m.rss));
    field(out, "used_memory_peak", m.peak);
    field(out, "used_memory_peak_human", human(m.peak));
    field(
        out,
        "used_memory_peak_perc",
        format!("{:.2}%", m.peak_percent()),
    );
    field(out, "used_memory_overhead", m.overhead());
    field(out, "used_memory_startup", m.startup);
    field(out, "used_memory_dataset", m.dataset());
    field(
        out,
        "used_memory_dataset_perc",
        format!("{:.2}%", m.dataset_percent()),
    );
    field(out, "allocator_allocated", m.used);
    field(out, "allocator_active", m.rss);
    field(out, "allocator_resident", m.rss);
    field(out, "total_system_memory", system);
    field(out, "total_system_memory_human", human(system));
    for name in ["used_memory_lua", "used_memory_vm_eval"] {
        field(out, name, 0);
    }
    field(out, "used_memory_lua_human", human(0));
    for name in [
        "used_memory_scripts_eval",
        "number_of_cached_scripts",
        "number_of_functions",
        "number_of_libraries",
        "used_memory_vm_functions",
        "used_memory_vm_total",
    ] {
        field(out, name, 0);
    }
    field(out, "used_memory_vm_total_human", human(0));
    field(out, "used_memory_functions", 0);
    field(out, "used_memory_scripts", 0);
    field(out, "used_memory_scripts_human", human(0));
    field(out, "maxmemory", max);
    field(out, "maxmemory_human", human(max));
    field(out, "maxmemory_policy", eviction.policy().name());
    let ratio = format!("{:.2}", m.fragmentation());
    field(out, "allocator_frag_ratio", &ratio);
    field(out, "allocator_frag_bytes", m.fragmentation_bytes());
    field(out, "allocator_rss_ratio", "1.00");
    field(out, "allocator_rss_bytes", 0);
    field(out, "rss_overhead_ratio", "1.00");
    field(out, "rss_overhead_bytes", 0);
    field(out, "mem_fragmentation_ratio", &ratio);
    field(out, "mem_fragmentation_bytes", m.fragmentation_bytes());
    // Redis leaves replica buffers and the AOF buffer out of what eviction counts; kv's
    // eviction counts every byte in use.
    field(out, "mem_not_counted_for_evict", 0);
    field(out, "mem_replication_backlog", m.backlog);
    field(
        out,
        "mem_total_replication_buffers",
        m.backlog + m.replica_clients,
    );
    field(out, "mem_clients_slaves", m.replica_clients);
    field(out, "mem_clients_normal", m.normal_clients);
    field(out, "mem_cluster_links", 0);
    field(out, "mem_aof_buffer", m.aof_buffer);
    field(out, "mem_allocator", "libc");
    field(out, "active_defrag_running", 0);
    let lazyfree = &conn.shared.engine.keyspace.lazyfree;
    field(
        out,
        "lazyfree_pending_objects",
        lazyfree.counts.pending.load(Ordering::Relaxed),
    );
    field(
        out,
        "lazyfreed_objects",
        lazyfree.counts.freed.load(Ordering::Relaxed),
    );
}

fn persistence(conn: &Connection, out: &mut String) {
    crate::persistence::info(&conn.shared, &mut |name, value| field(out, name, value));
}

fn stats(conn: &Connection, out: &mut String) {
    let s = &conn.shared.stats;
    let e = &conn.shared.engine;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    field(
        out,
        "total_connections_received",
        load(&s.connections_received),
    );
    let m = &conn.shared.metrics;
    field(out, "total_commands_processed", load(&s.commands_processed));
    field(out, "instantaneous_ops_per_sec", m.ops.per_second());
    field(out, "total_net_input_bytes", load(&s.net_input_bytes));
    field(out, "total_net_output_bytes", load(&s.net_output_bytes));
    let syncs = &conn.shared.replication.master.syncs;
    field(out, "total_net_repl_input_bytes", load(&s.repl_input_bytes));
    field(out, "total_net_repl_output_bytes", load(&syncs.bytes_sent));
    // Redis divides in single precision: `(float)rate/1024`.
    let kbps = |rate: &crate::metrics::Rate| {
        format!("{:.2}", f64::from(rate.per_second() as f32 / 1024.0))
    };
    field(out, "instantaneous_input_kbps", kbps(&m.net_input));
    field(out, "instantaneous_output_kbps", kbps(&m.net_output));
    field(out, "instantaneous_input_repl_kbps", kbps(&m.repl_input));
    field(out, "instantaneous_output_repl_kbps", kbps(&m.repl_output));
    field(out, "rejected_connections", load(&s.rejected_connections));
    field(out, "sync_full", load(&syncs.full));
    field(out, "sync_partial_ok", load(&syncs.partial_ok));
    field(out, "sync_partial_err", load(&syncs.partial_err));
    // kv's own: snapshots made for full syncs (replicas asking at once share one).
    field(out, "sync_full_snapshots", load(&syncs.snapshots));
    field(out, "expired_keys", load(&e.keyspace.expired_keys));
    // Redis 7.4: hash fields reclaimed because their time had come.
    field(out, "expired_subkeys", load(&e.keyspace.expired_subkeys));
    let stale = load(&s.expired_stale_hundredths);
    field(
        out,
        "expired_stale_perc",
        format!("{}.{:02}", stale / 100, stale % 100),
    );
    field(
        out,
        "expired_time_cap_reached_count",
        load(&s.expire_cycles_capped),
    );
    field(
        out,
        "expire_cycle_cpu_milliseconds",
        load(&s.expire_cycle_ms),
    );
    let evictor = &e.evictor;
    field(out, "evicted_keys", load(&evictor.evicted_keys));
    field(
        out,
        "evicted_clients",
        conn.shared.clients.evicted.load(Ordering::Relaxed),
    );
    let (total, current) = evictor.exceeded_ms();
    field(out, "total_eviction_exceeded_time", total);
    field(out, "current_eviction_exceeded_time", current);
    field(out, "keyspace_hits", load(&e.stats.keyspace_hits));
    field(out, "keyspace_misses", load(&e.stats.keyspace_misses));
    field(out, "pubsub_channels", conn.shared.pubsub.channel_count());
    field(out, "pubsub_patterns", conn.shared.pubsub.pattern_count());
    field(
        out,
        "pubsubshard_channels",
        conn.shared.pubsub.shard_channel_count(),
    );
    // kv never forks, migrates keys, tracks keys written on a replica or defragments: these
    // are its true counts.
    for name in [
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        field(out, name, 0);
    }
    let tracking = &conn.shared.tracking;
    field(out, "tracking_total_keys", tracking.key_count());
    field(out, "tracking_total_items", tracking.item_count());
    field(out, "tracking_total_prefixes", tracking.prefix_count());
    field(
        out,
        "unexpected_error_replies",
        load(&e.stats.unexpected_error_replies),
    );
    field(out, "total_error_replies", load(&s.error_replies));
    // DUMP payloads are always checked whole (kv's own format), never sanitized apart.
    field(out, "dump_payload_sanitizations", 0);
    field(out, "total_reads_processed", load(&s.reads_processed));
    field(out, "total_writes_processed", load(&s.writes_processed));
    // One I/O thread (`io-threads 1`), as Redis's default.
    field(out, "io_threaded_reads_processed", 0);
    field(out, "io_threaded_writes_processed", 0);
    field(out, "reply_buffer_shrinks", load(&s.reply_buffer_shrinks));
    field(out, "reply_buffer_expands", load(&s.reply_buffer_expands));
}

fn replication(conn: &Connection, out: &mut String) {
    crate::replication::info(&conn.shared, &mut |name, value| field(out, name, value));
}

/// CPU seconds from a `/proc/.../stat` file, whose clock ticks are 1/100 s on Linux: (user,
/// system) of the process or thread, and of its waited-for children.
fn cpu_seconds(stat_file: &str) -> [f64; 4] {
    let Ok(stat) = std::fs::read_to_string(stat_file) else {
        return [0.0; 4];
    };
    // Fields after the parenthesised command name: utime, stime, cutime and cstime are the
    // 12th to the 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    [ticks(11), ticks(12), ticks(13), ticks(14)]
}

fn cpu(out: &mut String) {
    let [user, system, children_user, children_system] = cpu_seconds("/proc/self/stat");
    field(out, "used_cpu_sys", format!("{system:.6}"));
    field(out, "used_cpu_user", format!("{user:.6}"));
    field(
        out,
        "used_cpu_sys_children",
        format!("{children_system:.6}"),
    );
    field(out, "used_cpu_user_children", format!("{children_user:.6}"));
    // The process's first thread. Commands run on the worker threads, so unlike Redis's
    // main thread this one does little.
    let main = format!("/proc/self/task/{}/stat", std::process::id());
    let [main_user, main_system, ..] = cpu_seconds(&main);
    field(out, "used_cpu_sys_main_thread", format!("{main_system:.6}"));
    field(out, "used_cpu_user_main_thread", format!("{main_user:.6}"));
}

/// Redis's `redis_build_id`: a hex number that changes with the build, here kv's version.
fn build_id() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    format!("{:x}", hasher.finish())
}

/// Redis's `os`: the kernel's name and release and the machine, as `uname` gives them.
fn os_name() -> String {
    let read = |file: &str| {
        std::fs::read_to_string(file)
            .map(|text| text.trim().to_string())
            .unwrap_or_default()
    };
    let name = read("/proc/sys/kernel/ostype");
    if name.is_empty() {
        return std::env::consts::OS.to_string();
    }
    format!(
        "{name} {} {}",
        read("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    )
}

fn keyspace(conn: &Connection, out: &mut String) {
    let keyspace = &conn.shared.engine.keyspace;
    for db in 0..keyspace.databases() {
        // Inside EXEC, the transaction's own changes count too.
        let unpublished = conn.exec_counts.iter().find(|(d, _)| *d == db);
        let keys = keyspace
            .db_len(db)
            .wrapping_add_signed(unpublished.map_or(0, |(_, delta)| *delta));
        if keys > 0 {
            // `subexpiry` (Redis 7.4): hashes with at least one field TTL.
            let _ = write!(
                out,
                "db{db}:keys={keys},expires={},avg_ttl=0,subexpiry={}\r\n",
                keyspace.db_volatile(db),
                keyspace.db_subexpiry(db)
            );
        }
    }
}
