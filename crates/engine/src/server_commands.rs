//! Rows for the commands the server runs itself, because they act on connections or on the
//! server rather than on keys. Their behaviour lives in `kv-server`; their facts live here so
//! the command table stays the one source of truth.

use crate::command::{CommandSpec, Handler};
use crate::table::{command, NO_KEYS};

const SERVER: Handler = Handler::Server;
const CONTAINER: Handler = Handler::Container;

/// The subcommands of CLIENT kv implements.
static CLIENT: &[CommandSpec] = &[
    command!("getname", 2, [NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "2.6.9", "O(1)",
        "Returns the name of the connection.", ""),
    command!("help", 2, [LOADING, STALE], NO_KEYS, Connection, SERVER, "5.0.0", "O(1)",
        "Explains the CLIENT subcommands.", ""),
    command!("id", 2, [NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "5.0.0", "O(1)",
        "Returns the unique id of the connection.", ""),
    command!("info", 2, [NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "6.2.0", "O(1)",
        "Returns information about the connection.", "", tips: &["nondeterministic_output"]),
    command!("kill", -3, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "2.4.0",
        "O(N) where N is the number of client connections", "Terminates open connections.",
        "ip:port | [ID client-id] [TYPE NORMAL | MASTER | SLAVE | REPLICA | PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES | NO]"),
    command!("list", -2, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "2.4.0",
        "O(N) where N is the number of client connections", "Lists open connections.",
        "[TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]",
        tips: &["nondeterministic_output"]),
    command!("no-evict", 3, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "7.0.0", "O(1)",
        "Sets the client eviction mode of the connection.", "ON | OFF"),
    command!("pause", -3, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "2.9.50", "O(1)",
        "Holds the commands of every client, or only those that may write, for a while.",
        "timeout [WRITE | ALL]"),
    command!("reply", 3, [NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "3.2.0", "O(1)",
        "Instructs the server whether to reply to commands.", "ON | OFF | SKIP"),
    command!("setname", 3, [NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "2.6.9", "O(1)",
        "Sets the name of the connection.", "connection-name"),
    command!("unblock", -3, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "5.0.0",
        "O(log N) where N is the number of client connections",
        "Ends the wait of a client blocked in a blocking command, as a timeout or an error.",
        "client-id [TIMEOUT | ERROR]"),
    command!("unpause", 2, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Connection, SERVER, "6.2.0",
        "O(N) Where N is the number of paused clients", "Ends a client pause, releasing the held commands.", ""),
];

/// The subcommands of PUBSUB kv implements (not yet the shard-channel ones).
static PUBSUB: &[CommandSpec] = &[
    command!("channels", -2, [PUBSUB, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "2.8.0",
        "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        "Lists the channels that have subscribers, or those matching a pattern.", "[pattern]"),
    command!("help", 2, [LOADING, STALE], NO_KEYS, Pubsub, SERVER, "6.2.0", "O(1)",
        "Explains the PUBSUB subcommands.", ""),
    command!("numpat", 2, [PUBSUB, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "2.8.0", "O(1)",
        "Returns how many distinct patterns clients subscribe to.", ""),
    command!("numsub", -2, [PUBSUB, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "2.8.0",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        "Returns how many clients subscribe to each of the given channels.", "[channel [channel ...]]"),
    command!("shardchannels", -2, [PUBSUB, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "7.0.0",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        "Lists the shard channels that have subscribers, or those matching a pattern.", "[pattern]"),
    command!("shardnumsub", -2, [PUBSUB, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "7.0.0",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        "Returns how many clients subscribe to each of the given shard channels.",
        "[shardchannel [shardchannel ...]]"),
];

/// The subcommands of SLOWLOG, in the order Redis 7.0 lists them.
static SLOWLOG: &[CommandSpec] = &[
    command!(
        "help",
        2,
        [LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "6.2.0",
        "O(1)",
        "Explains the SLOWLOG subcommands.",
        ""
    ),
    command!("reset", 2, [ADMIN, LOADING, STALE], NO_KEYS, Server, SERVER, "2.2.12",
        "O(N) where N is the number of entries in the slowlog", "Empties the slow log.", "",
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    command!("len", 2, [ADMIN, LOADING, STALE], NO_KEYS, Server, SERVER, "2.2.12", "O(1)",
        "Returns how many entries the slow log holds.", "",
        tips: &["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"]),
    command!("get", -2, [ADMIN, LOADING, STALE], NO_KEYS, Server, SERVER, "2.2.12",
        "O(N) where N is the number of entries returned", "Returns the newest entries of the slow log.",
        "[count]", tips: &["request_policy:all_nodes", "nondeterministic_output"]),
];

/// The subcommands of LATENCY kv implements (not DOCTOR and GRAPH), in Redis 7.0's order.
static LATENCY: &[CommandSpec] = &[
    command!("reset", -2, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Server, SERVER, "2.8.13", "O(1)",
        "Forgets the samples of some or all latency events.", "[event [event ...]]",
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    command!("latest", 2, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Server, SERVER, "2.8.13", "O(1)",
        "Returns the latest sample of every latency event.", "",
        tips: &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"]),
    command!(
        "help",
        2,
        [LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "2.8.13",
        "O(1)",
        "Explains the LATENCY subcommands.",
        ""
    ),
    command!("histogram", -2, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Server, SERVER, "7.0.0",
        "O(N) where N is the number of commands with latency information being retrieved.",
        "Returns the cumulative latency distribution of some or all commands.", "[command [command ...]]",
        tips: &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"]),
    command!("history", 3, [ADMIN, NOSCRIPT, LOADING, STALE], NO_KEYS, Server, SERVER, "2.8.13", "O(1)",
        "Returns the recorded samples of a latency event.", "event",
        tips: &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"]),
];

/// The subcommands of CONFIG.
static CONFIG: &[CommandSpec] = &[
    command!(
        "get",
        -3,
        [ADMIN, NOSCRIPT, LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Returns the effective values of configuration parameters.",
        "parameter [parameter ...]"
    ),
    command!(
        "help",
        2,
        [LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "5.0.0",
        "O(1)",
        "Explains the CONFIG subcommands.",
        ""
    ),
    command!(
        "resetstat",
        2,
        [ADMIN, NOSCRIPT, LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "2.0.0",
        "O(1)",
        "Resets the server's statistics.",
        ""
    ),
    command!(
        "rewrite",
        2,
        [ADMIN, NOSCRIPT, LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "2.8.0",
        "O(1)",
        "Persists the effective configuration to its file.",
        ""
    ),
    command!(
        "set",
        -4,
        [ADMIN, NOSCRIPT, LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Sets configuration parameters at run time.",
        "parameter value [parameter value ...]"
    ),
];

/// Registration block.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!(
        "auth",
        -2,
        [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY],
        NO_KEYS,
        Connection,
        SERVER,
        "1.0.0",
        "O(N) where N is the number of passwords defined for the user",
        "Authenticates the connection.",
        "[username] password"
    ),
    command!("client", -2, [], NO_KEYS, Connection, CONTAINER, "2.4.0", "Depends on subcommand.",
        "A container for client connection commands.", "", subcommands: CLIENT),
    command!("config", -2, [], NO_KEYS, Server, CONTAINER, "2.0.0", "Depends on subcommand.",
        "A container for server configuration commands.", "", subcommands: CONFIG),
    command!(
        "debug",
        -2,
        [ADMIN, NOSCRIPT, LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "1.0.0",
        "Depends on subcommand.",
        "Debugging helpers: OBJECT, SLEEP, SET-ACTIVE-EXPIRE.",
        ""
    ),
    command!(
        "hello",
        -1,
        [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY],
        NO_KEYS,
        Connection,
        SERVER,
        "6.0.0",
        "O(1)",
        "Handshakes with the server: protocol version, authentication, name.",
        "[protover [AUTH username password] [SETNAME clientname]]"
    ),
    command!("info", -1, [LOADING, STALE], NO_KEYS, Server, SERVER, "1.0.0", "O(1)",
        "Returns information and statistics about the server.", "[section [section ...]]",
        extra_acl: &["dangerous"],
        tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    command!("lastsave", 1, [LOADING, STALE, FAST], NO_KEYS, Server, SERVER, "1.0.0", "O(1)",
        "Returns the Unix time of the last successful save (the start time until kv can save).", "",
        extra_acl: &["admin", "dangerous"], tips: &["nondeterministic_output"]),
    command!("latency", -2, [], NO_KEYS, Server, CONTAINER, "2.8.13", "Depends on subcommand.",
        "A container for latency monitor commands.", "", subcommands: LATENCY),
    command!(
        "monitor",
        1,
        [ADMIN, NOSCRIPT, LOADING, STALE],
        NO_KEYS,
        Server,
        SERVER,
        "1.0.0",
        "",
        "Streams every command the server runs to this connection.",
        ""
    ),
    command!(
        "quit",
        -1,
        [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY],
        NO_KEYS,
        Connection,
        SERVER,
        "1.0.0",
        "O(1)",
        "Closes the connection.",
        ""
    ),
    command!(
        "reset",
        1,
        [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY],
        NO_KEYS,
        Connection,
        SERVER,
        "6.2.0",
        "O(1)",
        "Resets the connection to its initial state.",
        ""
    ),
    command!(
        "shutdown",
        -1,
        [ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI, ALLOW_BUSY],
        NO_KEYS,
        Server,
        SERVER,
        "1.0.0",
        "O(N) when saving, where N is the total number of keys in all databases",
        "Stops the server.",
        "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"
    ),
    command!("psubscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "2.0.0",
        "O(N) where N is the number of patterns to subscribe to.",
        "Subscribes the connection to channels matching glob-style patterns.", "pattern [pattern ...]"),
    command!("publish", 3, [PUBSUB, LOADING, STALE, FAST], NO_KEYS, Pubsub, SERVER, "2.0.0",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        "Sends a message to a channel; replies how many subscriptions received it.", "channel message"),
    command!("pubsub", -2, [], NO_KEYS, Pubsub, CONTAINER, "2.8.0", "Depends on subcommand.",
        "A container for pub/sub introspection commands.", "", subcommands: PUBSUB),
    command!("punsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "2.0.0",
        "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
        "Unsubscribes the connection from patterns, or from all of them.", "[pattern [pattern ...]]"),
    command!("slowlog", -2, [], NO_KEYS, Server, CONTAINER, "2.2.12", "Depends on subcommand.",
        "A container for slow log commands.", "", subcommands: SLOWLOG),
    // Shard channels name a cluster slot as a key would, hence their key positions, flagged
    // `not_key`.
    command!("spublish", 3, [PUBSUB, LOADING, STALE, FAST], (1, 1, 1), Pubsub, SERVER, "7.0.0",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        "Sends a message to a shard channel; replies how many subscribers received it.",
        "shardchannel message", key_flags: &["not_key"]),
    command!("ssubscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE], (1, -1, 1), Pubsub, SERVER, "7.0.0",
        "O(N) where N is the number of shard channels to subscribe to.",
        "Subscribes the connection to shard channels.", "shardchannel [shardchannel ...]",
        key_flags: &["not_key"]),
    command!("subscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "2.0.0",
        "O(N) where N is the number of channels to subscribe to.",
        "Subscribes the connection to channels.", "channel [channel ...]"),
    command!("sunsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE], (1, -1, 1), Pubsub, SERVER, "7.0.0",
        "O(N) where N is the number of clients already subscribed to a shard channel.",
        "Unsubscribes the connection from shard channels, or from all of them.",
        "[shardchannel [shardchannel ...]]", key_flags: &["not_key"]),
    command!("time", 1, [LOADING, STALE, FAST], NO_KEYS, Server, SERVER, "2.6.0", "O(1)",
        "Returns the server time.", "", tips: &["nondeterministic_output"]),
    command!("unsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE], NO_KEYS, Pubsub, SERVER, "2.0.0",
        "O(N) where N is the number of clients already subscribed to a channel.",
        "Unsubscribes the connection from channels, or from all of them.", "[channel [channel ...]]"),
];
