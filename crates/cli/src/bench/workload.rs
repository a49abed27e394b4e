//! What `kv-cli bench` sends: redis-benchmark 7.0's tests, their commands, and the
//! `__rand_int__` placeholder.
//!
//! Each test is one command, encoded once as RESP (PING_INLINE as an inline command). Keys and
//! members contain `__rand_int__`: without `-r` it is sent as it is (every request names the
//! same key); with `-r N` each occurrence is replaced, request by request, by a random number
//! below N written on 12 digits, so the encoded length never changes.

use std::fmt;

/// The placeholder a random number replaces.
pub const PLACEHOLDER: &[u8] = b"__rand_int__";

/// One benchmark: its name (as redis-benchmark prints it) and its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// The name in the report (`SET`, `LRANGE_100 (first 100 elements)`...).
    pub name: String,
    /// The command, encoded, with its placeholders.
    pub template: Template,
    /// Whether `mylist` must hold 600 elements first (the LRANGE tests).
    pub needs_list: bool,
}

/// The tests `-t` can name, in the order redis-benchmark runs them.
const ALL: [&str; 20] = [
    "ping_inline",
    "ping_mbulk",
    "set",
    "get",
    "incr",
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "sadd",
    "hset",
    "spop",
    "zadd",
    "zpopmin",
    "lrange_100",
    "lrange_300",
    "lrange_500",
    "lrange_600",
    "mset",
    "xadd",
];

/// A `-t` list naming no test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTest(pub String);

impl fmt::Display for UnknownTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Unknown test '{}' (tests: ping, ping_inline, ping_mbulk, set, get, incr, lpush, \
             rpush, lpop, rpop, sadd, hset, spop, zadd, zpopmin, lrange, lrange_100, \
             lrange_300, lrange_500, lrange_600, mset, xadd)",
            self.0
        )
    }
}

/// The tests to run: those `-t` names (comma-separated, any case; `ping` is both PINGs,
/// `lrange` the four LRANGEs), in redis-benchmark's order; every test but XADD without `-t`.
pub fn select(
    list: Option<&str>,
    data_size: usize,
    random: bool,
) -> Result<Vec<Test>, UnknownTest> {
    let chosen: Vec<&str> = match list {
        None => ALL.iter().copied().filter(|&t| t != "xadd").collect(),
        Some(list) => {
            let mut wanted = Vec::new();
            for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                let word = word.to_ascii_lowercase();
                let names: Vec<&str> = match word.as_str() {
                    "ping" => vec!["ping_inline", "ping_mbulk"],
                    "lrange" => vec!["lrange_100", "lrange_300", "lrange_500", "lrange_600"],
                    other => match ALL.iter().find(|&&t| t == other) {
                        Some(&t) => vec![t],
                        None => return Err(UnknownTest(word)),
                    },
                };
                wanted.extend(names);
            }
            ALL.iter().copied().filter(|t| wanted.contains(t)).collect()
        }
    };
    let data = vec![b'x'; data_size];
    Ok(chosen.into_iter().map(|t| test(t, &data, random)).collect())
}

/// A test by its `-t` name.
fn test(id: &str, data: &[u8], random: bool) -> Test {
    let key = b"key:__rand_int__".to_vec();
    let element = b"element:__rand_int__".to_vec();
    let data = data.to_vec();
    let command = |args: &[&[u8]]| Template::command(args);
    let (name, template): (String, Template) = match id {
        "ping_inline" => ("PING_INLINE".into(), Template::new(b"PING\r\n".to_vec())),
        "ping_mbulk" => ("PING_MBULK".into(), command(&[b"PING"])),
        "set" => ("SET".into(), command(&[b"SET", &key, &data])),
        "get" => ("GET".into(), command(&[b"GET", &key])),
        "incr" => ("INCR".into(), command(&[b"INCR", b"counter:__rand_int__"])),
        "lpush" => ("LPUSH".into(), command(&[b"LPUSH", b"mylist", &data])),
        "rpush" => ("RPUSH".into(), command(&[b"RPUSH", b"mylist", &data])),
        "lpop" => ("LPOP".into(), command(&[b"LPOP", b"mylist"])),
        "rpop" => ("RPOP".into(), command(&[b"RPOP", b"mylist"])),
        "sadd" => ("SADD".into(), command(&[b"SADD", b"myset", &element])),
        "hset" => (
            "HSET".into(),
            command(&[b"HSET", b"myhash", &element, &data]),
        ),
        "spop" => ("SPOP".into(), command(&[b"SPOP", b"myset"])),
        "zadd" => {
            // As redis-benchmark: the score is random too under -r.
            let score: &[u8] = if random { PLACEHOLDER } else { b"0" };
            (
                "ZADD".into(),
                command(&[b"ZADD", b"myzset", score, &element]),
            )
        }
        "zpopmin" => ("ZPOPMIN".into(), command(&[b"ZPOPMIN", b"myzset"])),
        "mset" => {
            let mut args: Vec<&[u8]> = vec![b"MSET"];
            for _ in 0..10 {
                args.extend([key.as_slice(), data.as_slice()]);
            }
            ("MSET (10 keys)".into(), command(&args))
        }
        "xadd" => (
            "XADD".into(),
            command(&[b"XADD", b"mystream", b"*", b"myfield", &data]),
        ),
        lrange => {
            let count: usize = lrange
                .strip_prefix("lrange_")
                .and_then(|n| n.parse().ok())
                .unwrap_or(100);
            let last = (count - 1).to_string();
            (
                format!("LRANGE_{count} (first {count} elements)"),
                command(&[b"LRANGE", b"mylist", b"0", last.as_bytes()]),
            )
        }
    };
    Test {
        needs_list: id.starts_with("lrange"),
        name,
        template,
    }
}

/// A command's bytes and where its placeholders are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The encoded command.
    pub bytes: Vec<u8>,
    /// The offset of each placeholder in it.
    placeholders: Vec<usize>,
}

impl Template {
    /// A template of already encoded bytes.
    pub fn new(bytes: Vec<u8>) -> Template {
        let placeholders = bytes
            .windows(PLACEHOLDER.len())
            .enumerate()
            .filter(|(_, w)| *w == PLACEHOLDER)
            .map(|(at, _)| at)
            .collect();
        Template {
            bytes,
            placeholders,
        }
    }

    /// A command's arguments encoded as a RESP array of bulk strings.
    pub fn command(args: &[&[u8]]) -> Template {
        let mut bytes = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            bytes.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            bytes.extend_from_slice(arg);
            bytes.extend_from_slice(b"\r\n");
        }
        Template::new(bytes)
    }

    /// Appends one request to `out`: the command, each placeholder replaced by a number below
    /// `keyspace` drawn from `random` (left as it is without a keyspace).
    pub fn write(&self, out: &mut Vec<u8>, keyspace: Option<u64>, random: &mut Random) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        let Some(keyspace) = keyspace.filter(|&k| k > 0) else {
            return;
        };
        for &at in &self.placeholders {
            let number = random.next() % keyspace;
            let digits = format!("{number:012}");
            // A keyspace of 10^12 or more would need more digits: keep the last twelve.
            let digits = &digits.as_bytes()[digits.len() - PLACEHOLDER.len()..];
            out[start + at..start + at + PLACEHOLDER.len()].copy_from_slice(digits);
        }
    }
}

/// A small, fast pseudo-random generator (SplitMix64), one per client.
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Random {
        Random(seed)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tests: &[Test]) -> Vec<&str> {
        tests.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn selection_in_redis_benchmark_order() {
        let tests = select(Some("get,SET, ping"), 3, false).unwrap();
        assert_eq!(names(&tests), ["PING_INLINE", "PING_MBULK", "SET", "GET"]);
        let tests = select(Some("lrange,mset"), 3, false).unwrap();
        assert_eq!(tests.len(), 5);
        assert!(tests[0].needs_list && !tests[4].needs_list);
        assert_eq!(tests[3].name, "LRANGE_600 (first 600 elements)");
        assert_eq!(select(None, 3, false).unwrap().len(), 19);
        assert_eq!(
            select(Some("set,bogus"), 3, false).unwrap_err(),
            UnknownTest("bogus".into())
        );
    }

    #[test]
    fn commands_are_encoded_once() {
        let tests = select(Some("set,ping_inline"), 5, false).unwrap();
        assert_eq!(tests[0].template.bytes, b"PING\r\n");
        assert_eq!(
            tests[1].template.bytes,
            b"*3\r\n$3\r\nSET\r\n$16\r\nkey:__rand_int__\r\n$5\r\nxxxxx\r\n"
        );
        let zadd = &select(Some("zadd"), 3, true).unwrap()[0];
        assert_eq!(zadd.template.placeholders.len(), 2);
    }

    #[test]
    fn placeholders_are_replaced_with_twelve_digits() {
        let template =
            Template::command(&[b"MSET", b"a:__rand_int__", b"v", b"b:__rand_int__", b"v"]);
        let mut random = Random::new(7);
        let mut out = Vec::new();
        template.write(&mut out, None, &mut random);
        assert_eq!(out, template.bytes);
        for _ in 0..100 {
            out.clear();
            template.write(&mut out, Some(1000), &mut random);
            assert_eq!(out.len(), template.bytes.len());
            let text = String::from_utf8(out.clone()).unwrap();
            let parts: Vec<&str> = text.split("a:").collect();
            let number: u64 = parts[1][..12].parse().unwrap();
            assert!(number < 1000);
            assert!(parts[1][..9].chars().all(|c| c == '0'));
            assert!(!text.contains("__rand_int__"));
        }
    }

    #[test]
    fn random_numbers_spread() {
        let mut random = Random::new(1);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[(random.next() % 10) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
