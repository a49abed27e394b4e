//! The shape of the command table: what Redis's `src/commands/*.json` say about each command.
//!
//! Everything generic is derived from these facts: arity checks, unknown-command errors, key
//! extraction and lock plans, `COMMAND`, `COMMAND INFO|DOCS|COUNT|LIST|GETKEYS`, and ACL
//! categories. The table itself is in [`crate::table`].

use crate::{Args, CommandResult, Ctx, Engine, LockPlan, Reply, Session};

/// Command flags, as `COMMAND INFO` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u32);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $bit:expr, $text:literal;)*) => {
        impl Flags {
            $($(#[$doc])* pub const $name: Flags = Flags(1 << $bit);)*
            const NAMES: &'static [(Flags, &'static str)] = &[$((Flags::$name, $text)),*];
        }
    };
}

flags! {
    /// May modify the dataset.
    WRITE = 0, "write";
    /// Never modifies the dataset.
    READONLY = 1, "readonly";
    /// May grow memory use: refused when over `maxmemory`.
    DENYOOM = 2, "denyoom";
    /// Administrative: `@admin` and `@dangerous`.
    ADMIN = 3, "admin";
    /// Pub/sub related.
    PUBSUB = 4, "pubsub";
    /// Not allowed from scripts.
    NOSCRIPT = 5, "noscript";
    /// May block the client.
    BLOCKING = 6, "blocking";
    /// Allowed while the dataset is loading.
    LOADING = 7, "loading";
    /// Allowed on a replica with stale data.
    STALE = 8, "stale";
    /// Not shown to MONITOR.
    SKIP_MONITOR = 9, "skip_monitor";
    /// Not recorded in the slow log.
    SKIP_SLOWLOG = 10, "skip_slowlog";
    /// O(1) or O(log N) and never blocks: `@fast`.
    FAST = 11, "fast";
    /// Allowed before authentication.
    NO_AUTH = 12, "no_auth";
    /// May be replicated though it is not a write.
    MAY_REPLICATE = 13, "may_replicate";
    /// Keys cannot be found from positions alone.
    MOVABLEKEYS = 14, "movablekeys";
    /// Refused inside MULTI.
    NO_MULTI = 15, "no_multi";
    /// Allowed while a script is busy.
    ALLOW_BUSY = 16, "allow_busy";
    /// Refused while loading asynchronously.
    NO_ASYNC_LOADING = 17, "no_async_loading";
    /// Some keys are optional.
    NO_MANDATORY_KEYS = 18, "no_mandatory_keys";
}

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two sets.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// The names of the set flags, in table order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, name)| *name)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;

    fn bitor(self, other: Flags) -> Flags {
        self.with(other)
    }
}

/// The command group, as `COMMAND DOCS` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Key-generic commands (`DEL`, `EXPIRE`, ...).
    Generic,
    /// Strings.
    String,
    /// Lists.
    List,
    /// Sets.
    Set,
    /// Sorted sets.
    SortedSet,
    /// Hashes.
    Hash,
    /// Pub/sub.
    Pubsub,
    /// MULTI/EXEC/WATCH.
    Transactions,
    /// Connection management.
    Connection,
    /// Server management.
    Server,
    /// Scripting and functions.
    Scripting,
    /// HyperLogLog.
    Hyperloglog,
    /// Geospatial indexes.
    Geo,
    /// Streams.
    Stream,
    /// Bit operations.
    Bitmap,
}

impl Group {
    /// The name `COMMAND DOCS` reports.
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Hash => "hash",
            Group::Pubsub => "pubsub",
            Group::Transactions => "transactions",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Scripting => "scripting",
            Group::Hyperloglog => "hyperloglog",
            Group::Geo => "geo",
            Group::Stream => "stream",
            Group::Bitmap => "bitmap",
        }
    }

    /// The ACL category every command of the group belongs to, if any.
    fn acl_category(self) -> Option<&'static str> {
        Some(match self {
            Group::Generic => "keyspace",
            Group::String => "string",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sortedset",
            Group::Hash => "hash",
            Group::Pubsub => "pubsub",
            Group::Transactions => "transaction",
            Group::Connection => "connection",
            Group::Scripting => "scripting",
            Group::Hyperloglog => "hyperloglog",
            Group::Geo => "geo",
            Group::Stream => "stream",
            Group::Bitmap => "bitmap",
            Group::Server => return None,
        })
    }
}

/// Where a command's keys are, in Redis's legacy `(first, last, step)` form: positions count
/// the command name as 0, a negative `last` counts from the end (-1 is the last argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// Position of the first key; 0 when the command takes no keys.
    pub first: i32,
    /// Position of the last key.
    pub last: i32,
    /// Distance between keys.
    pub step: i32,
}

impl KeyRange {
    /// No keys.
    pub const NONE: KeyRange = KeyRange {
        first: 0,
        last: 0,
        step: 0,
    };

    /// `(first, last, step)` as written in the table.
    pub const fn from_tuple((first, last, step): (i32, i32, i32)) -> KeyRange {
        KeyRange { first, last, step }
    }
}

/// How the shards a command needs are found.
#[derive(Debug, Clone, Copy)]
pub enum Locks {
    /// The shards of its keys (from [`CommandSpec::keys`]) in the session's database.
    Keys,
    /// Every shard of the session's database (`KEYS`, `FLUSHDB`, `DBSIZE`, ...).
    Db,
    /// Every shard of every database (`FLUSHALL`, `SWAPDB`, scripts).
    All,
    /// A command-specific plan (`MOVE`, `COPY ... DB`).
    Custom(fn(&Engine, &Session, &[&[u8]]) -> LockPlan),
    /// A command that reads the whole session database but mostly needs less of it: the
    /// function's plan (DBSIZE: no shard at all, it reads the published key count; RANDOMKEY:
    /// one shard with keys). A handler that finds the narrow plan was not enough asks for the
    /// whole database ([`crate::Locked::ask_whole_db`]) and runs again with it. In a
    /// transaction, where nothing runs again, the plan is the whole database, and so no other
    /// command changes it between the transaction's commands.
    Narrow(fn(&Engine, &Session, &[&[u8]]) -> LockPlan),
}

/// Flags of one key, as `COMMAND GETKEYSANDFLAGS` reports them (`RW`, `access`, ...).
pub type KeyFlags = &'static [&'static str];

/// Resolves the flags of a key whose flags vary with the arguments (name included).
pub type KeyFlagsOf = fn(&[&[u8]]) -> KeyFlags;

/// Finds the keys of a command whose keys no position rule describes (Redis's
/// `getkeys_proc`, e.g. SORT's `STORE destination`, which may appear anywhere): given the
/// arguments (name included), each key's position and its flags, in argument order.
pub type KeyFinder = fn(&[&[u8]]) -> Vec<(usize, KeyFlags)>;

/// Where the search for a key specification's keys begins (`begin_search` in `COMMAND INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// At a fixed argument position.
    Index(i64),
    /// Nowhere fixed: the keys depend on the content of the arguments or of the data.
    Unknown,
}

/// How a key specification's keys are found once the search has begun (`find_keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// A range: up to `lastkey` (relative to the start; negative counts from the end), every
    /// `keystep` arguments, or a `limit`-th of what is left (0: no limit).
    Range {
        /// The last key, relative to where the search began.
        lastkey: i64,
        /// Distance between keys.
        keystep: i64,
        /// 0, or the divisor of the remaining arguments that are keys.
        limit: i64,
    },
    /// A key count at `keynumidx` (relative to where the search began), then that many keys
    /// from `firstkey` (relative too), `keystep` apart.
    Keynum {
        /// Where the count is.
        keynumidx: i64,
        /// Where the first key is.
        firstkey: i64,
        /// Distance between keys.
        keystep: i64,
    },
    /// Cannot be described.
    Unknown,
}

/// One key specification as Redis 7's `COMMAND INFO` reports it, for commands whose keys play
/// several roles or cannot be found by position alone. Commands without one get a
/// specification derived from their key range or key count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Redis's explanatory note, if the specification has one.
    pub notes: Option<&'static str>,
    /// The key flags (`RO`, `OW`, `access`, `update`, ...).
    pub flags: KeyFlags,
    /// Where the search begins.
    pub begin_search: BeginSearch,
    /// How the keys are found from there.
    pub find_keys: FindKeys,
}

impl KeySpec {
    /// The positions of this specification's keys in `args` (name included); none when the
    /// search has no fixed beginning, or a key count is malformed or reaches past the
    /// arguments.
    pub fn positions(&self, args: &[&[u8]]) -> Vec<usize> {
        let argc = args.len() as i64;
        let BeginSearch::Index(begin) = self.begin_search else {
            return Vec::new();
        };
        let (first, last, step) = match self.find_keys {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey < 0 {
                    argc + lastkey
                } else {
                    begin + lastkey
                };
                let step = keystep.max(1);
                let last = if limit > 0 {
                    last.min(begin + (limit - 1) * step)
                } else {
                    last
                };
                (begin, last.min(argc - 1), step)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let count = usize::try_from(begin + keynumidx)
                    .ok()
                    .and_then(|at| args.get(at))
                    .and_then(|n| kv_resp::parse_i64(n))
                    .filter(|&n| n > 0);
                let Some(count) = count else {
                    return Vec::new();
                };
                let step = keystep.max(1);
                let first = begin + firstkey;
                let last = first.saturating_add((count - 1).saturating_mul(step));
                if last >= argc {
                    return Vec::new();
                }
                (first, last, step)
            }
            FindKeys::Unknown => return Vec::new(),
        };
        (first..=last)
            .step_by(usize::try_from(step).unwrap_or(1))
            .filter_map(|p| usize::try_from(p).ok())
            .collect()
    }
}

/// What runs a command.
#[derive(Debug, Clone, Copy)]
pub enum Handler {
    /// Runs in the engine with its shards held.
    Engine(HandlerFn),
    /// Connection or server state the engine does not own: the server runs it.
    Server,
    /// A container whose subcommands (in [`CommandSpec::subcommands`]) do the work.
    Container,
}

/// An engine command's implementation: reads its arguments (after the name), writes its reply.
pub type HandlerFn = fn(&mut Ctx<'_, '_>, &mut Args<'_>, &mut Reply) -> CommandResult;

/// Positions of a command's keys in its arguments: inline for the few keys most commands
/// name, as every command with keys computes them to plan its locks.
pub type KeyPositions = smallvec::SmallVec<[usize; 4]>;

/// Everything kv knows about one command or subcommand.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lowercase name (`get`; for a subcommand, `list` of `client list`).
    pub name: &'static str,
    /// Argument count including the name; negative means "at least -arity".
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// Key positions.
    pub keys: KeyRange,
    /// How the lock plan is made.
    pub locks: Locks,
    /// ACL categories beyond those derived from the flags and group (`dangerous`, ...).
    pub extra_acl: &'static [&'static str],
    /// Group.
    pub group: Group,
    /// Time complexity as documented.
    pub complexity: &'static str,
    /// The Redis version that introduced it.
    pub since: &'static str,
    /// One sentence on what it does.
    pub summary: &'static str,
    /// Argument syntax after the name, in redis.io's notation.
    pub syntax: &'static str,
    /// Subcommands of a container.
    pub subcommands: &'static [CommandSpec],
    /// What runs it.
    pub handler: Handler,
    /// Hints for clients and proxies (`nondeterministic_output`, `request_policy:...`).
    pub tips: &'static [&'static str],
    /// Flags of the command's key specification (`RW`, `OW`, `RM`, `RO`, `access`,
    /// `insert`, `update`, `delete`, ...), as `COMMAND INFO` and `COMMAND GETKEYSANDFLAGS`
    /// report them; empty means the default derived from the command flags (`RO access` for a
    /// read-only command, `RW update` otherwise).
    pub key_flags: &'static [&'static str],
    /// For commands whose keys follow a count (`LMPOP numkeys key...`): the position of that
    /// count. Such commands have the `movablekeys` flag; their key range is `(0, 0, 0)`, or
    /// names the keys before the count (`ZUNIONSTORE destination numkeys key...`).
    pub key_count_at: Option<usize>,
    /// For commands with keys no position rule finds (SORT's `STORE destination`): the
    /// function that finds them, which `COMMAND GETKEYS` and [`CommandSpec::keys_in`] then
    /// use instead of the key range. Such commands have the `movablekeys` flag.
    pub find_keys: Option<KeyFinder>,
    /// For a key whose `key_flags` include `variable_flags`: its flags for given arguments
    /// (name included), as Redis's key function resolves them for `COMMAND GETKEYSANDFLAGS`
    /// (SET's key is `OW update`, or `RW access update` with GET).
    pub variable_key_flags: Option<KeyFlagsOf>,
    /// The key specifications `COMMAND INFO` reports, when the one derived from the key range
    /// or key count would not be Redis's (several key roles, keys found from the data).
    pub key_specs: &'static [KeySpec],
    /// Whether the group's ACL category applies. Redis files a few generic commands (SORT,
    /// SORT_RO) only under the categories of the types they read, not `@keyspace`.
    pub group_acl: bool,
}

impl CommandSpec {
    /// The defaults table rows override: no keys, no flags, run by the server.
    pub const DEFAULT: CommandSpec = CommandSpec {
        name: "",
        arity: 1,
        flags: Flags::NONE,
        keys: KeyRange::NONE,
        locks: Locks::Keys,
        extra_acl: &[],
        group: Group::Server,
        complexity: "",
        since: "",
        summary: "",
        syntax: "",
        subcommands: &[],
        handler: Handler::Server,
        tips: &[],
        key_flags: &[],
        key_count_at: None,
        find_keys: None,
        variable_key_flags: None,
        key_specs: &[],
        group_acl: true,
    };
}

impl CommandSpec {
    /// Whether `args` (name included) has an acceptable count.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 {
            argc == arity
        } else {
            argc >= arity
        }
    }

    /// Whether the command has `flag`.
    pub fn has(&self, flag: Flags) -> bool {
        self.flags.contains(flag)
    }

    /// Positions of the keys in `args` (name included), whatever form the command's key
    /// specification takes: the key range, then the keys after a key count (a command such as
    /// `ZUNIONSTORE destination numkeys key...` has both). A malformed count names no key at all
    /// (the command reports the error before touching any).
    pub fn keys_in(&self, args: &[&[u8]]) -> KeyPositions {
        if let Some(find) = self.find_keys {
            return find(args).into_iter().map(|(at, _)| at).collect();
        }
        let Some(at) = self.key_count_at else {
            return self.key_positions(args.len()).collect();
        };
        let count = args
            .get(at)
            .and_then(|n| kv_resp::parse_i64(n))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0 && at + n < args.len());
        match count {
            Some(n) => self
                .key_positions(args.len())
                .chain(at + 1..=at + n)
                .collect(),
            None => KeyPositions::new(),
        }
    }

    /// Positions of the keys in `args` (name included), each with its flags: as
    /// [`CommandSpec::keys_in`], with the flags the key function gives, else the command's.
    pub fn keys_and_flags_in(&self, args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
        match self.find_keys {
            Some(find) => find(args),
            // A command with several key roles flags each key by the specification that
            // finds it.
            None if !self.key_specs.is_empty() => {
                let mut keys = Vec::new();
                for spec in self.key_specs {
                    let positions = spec.positions(args);
                    // A key count always names a key: none means a malformed count, and then
                    // the command names no key at all, as with `keys_in`.
                    if positions.is_empty() && matches!(spec.find_keys, FindKeys::Keynum { .. }) {
                        return Vec::new();
                    }
                    keys.extend(positions.into_iter().map(|at| (at, spec.flags)));
                }
                keys
            }
            None => {
                let flags = match self.variable_key_flags {
                    Some(resolve) => resolve(args),
                    None => self.default_key_flags(),
                };
                self.keys_in(args)
                    .into_iter()
                    .map(|at| (at, flags))
                    .collect()
            }
        }
    }

    /// The flags of the command's keys when no key function says otherwise: its row's
    /// `key_flags`, else `RO access` for a read-only command and `RW update` for the rest.
    pub fn default_key_flags(&self) -> KeyFlags {
        if !self.key_flags.is_empty() {
            self.key_flags
        } else if self.has(Flags::READONLY) {
            &["RO", "access"]
        } else {
            &["RW", "update"]
        }
    }

    /// Positions of the keys in `args` (name included), from the key range alone.
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let KeyRange { first, last, step } = self.keys;
        let argc = argc as i32;
        let (start, end, step) = if first <= 0 || step <= 0 {
            (0, -1, 1)
        } else {
            let last = if last < 0 { argc + last } else { last };
            (first, last.min(argc - 1), step)
        };
        (start..=end).step_by(step as usize).map(|p| p as usize)
    }

    /// ACL categories as Redis derives them: from the flags, the group and the extras, listed
    /// in Redis's category order.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut mine: Vec<&'static str> = Vec::new();
        let derived = [
            (self.has(Flags::WRITE), "write"),
            (
                self.has(Flags::READONLY) && self.group != Group::Scripting,
                "read",
            ),
            (self.has(Flags::ADMIN), "admin"),
            (self.has(Flags::ADMIN), "dangerous"),
            (self.has(Flags::PUBSUB), "pubsub"),
            (self.has(Flags::FAST), "fast"),
            (self.has(Flags::BLOCKING), "blocking"),
            (!self.has(Flags::FAST), "slow"),
        ];
        mine.extend(derived.iter().filter(|(on, _)| *on).map(|(_, c)| *c));
        // A pure container (CONFIG, CLIENT, OBJECT) is only a name: its subcommands carry the
        // group's category.
        if !matches!(self.handler, Handler::Container) && self.group_acl {
            mine.extend(self.group.acl_category());
        }
        mine.extend(self.extra_acl.iter().copied());
        ACL_CATEGORIES
            .iter()
            .copied()
            .filter(|c| mine.contains(c))
            .collect()
    }
}

/// Every ACL category, in the order Redis lists them.
pub const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];
