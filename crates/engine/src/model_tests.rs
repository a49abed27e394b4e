//! Model-based property tests for lists, sets, strings changed in place and the forms of sets
//! and hashes: random command sequences run through the engine and against a plain Rust model
//! (a `VecDeque`, a `BTreeSet`, a byte vector, a vector of pairs in listpack order), every
//! reply compared, and for the forms OBJECT ENCODING against a model of Redis's rules. Hash field expiry has its own
//! next to `t_hash`, sorted sets next to their structure.

use std::collections::{BTreeSet, VecDeque};

use kv_resp::Frame;
use proptest::prelude::*;

use crate::keys::tests::Client;

/// A list command, with arguments drawn small so that they hit existing elements and edges.
#[derive(Debug, Clone)]
enum ListOp {
    Push { left: bool, values: Vec<u8> },
    Pop { left: bool, count: Option<u8> },
    Index(i8),
    Set(i8, u8),
    Insert { before: bool, pivot: u8, value: u8 },
    Rem(i8, u8),
    Trim(i8, i8),
    Range(i8, i8),
    Move { from_left: bool, to_left: bool },
    Len,
}

fn list_op() -> impl Strategy<Value = ListOp> {
    let small = 0u8..6;
    prop_oneof![
        4 => (any::<bool>(), proptest::collection::vec(0u8..6, 1..4))
            .prop_map(|(left, values)| ListOp::Push { left, values }),
        2 => (any::<bool>(), proptest::option::of(0u8..4))
            .prop_map(|(left, count)| ListOp::Pop { left, count }),
        1 => (-8i8..8).prop_map(ListOp::Index),
        1 => (-8i8..8, small.clone()).prop_map(|(i, v)| ListOp::Set(i, v)),
        1 => (any::<bool>(), small.clone(), small.clone())
            .prop_map(|(before, pivot, value)| ListOp::Insert { before, pivot, value }),
        1 => (-3i8..4, small).prop_map(|(n, v)| ListOp::Rem(n, v)),
        1 => (-8i8..8, -8i8..8).prop_map(|(a, b)| ListOp::Trim(a, b)),
        2 => (-8i8..8, -8i8..8).prop_map(|(a, b)| ListOp::Range(a, b)),
        1 => (any::<bool>(), any::<bool>())
            .prop_map(|(from_left, to_left)| ListOp::Move { from_left, to_left }),
        1 => Just(ListOp::Len),
    ]
}

fn value(v: u8) -> Vec<u8> {
    format!("v{v}").into_bytes()
}

fn bulk(v: &[u8]) -> Frame {
    Frame::bulk(bytes::Bytes::copy_from_slice(v))
}

fn array(items: impl IntoIterator<Item = Vec<u8>>) -> Frame {
    Frame::Array(items.into_iter().map(|v| bulk(&v)).collect())
}

/// `start..=end` with Redis's negative indexes, clamped; `None` when empty.
fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end.min(len - 1) };
    (start <= end && start < len).then_some((start as usize, end as usize))
}

/// What the model answers, changing itself as the command would.
fn list_model(list: &mut VecDeque<Vec<u8>>, other: &mut VecDeque<Vec<u8>>, op: &ListOp) -> Frame {
    let resolve = |i: i8, len: usize| {
        let i = i64::from(i);
        let i = if i < 0 { len as i64 + i } else { i };
        (0..len as i64).contains(&i).then_some(i as usize)
    };
    match op {
        ListOp::Push { left, values } => {
            for v in values {
                if *left {
                    list.push_front(value(*v));
                } else {
                    list.push_back(value(*v));
                }
            }
            Frame::Integer(list.len() as i64)
        }
        ListOp::Pop { left, count } => {
            let was_empty = list.is_empty();
            let mut pop = || {
                if *left {
                    list.pop_front()
                } else {
                    list.pop_back()
                }
            };
            match count {
                None => pop().map_or(Frame::NullBulk, |v| bulk(&v)),
                // A missing key answers a nil array whatever the count.
                Some(_) if was_empty => Frame::NullArray,
                Some(n) => array((0..*n).map_while(|_| pop()).collect::<Vec<_>>()),
            }
        }
        ListOp::Index(i) => resolve(*i, list.len()).map_or(Frame::NullBulk, |i| bulk(&list[i])),
        ListOp::Set(i, v) => match (list.is_empty(), resolve(*i, list.len())) {
            (true, _) => Frame::Error("ERR no such key".into()),
            (false, None) => Frame::Error("ERR index out of range".into()),
            (false, Some(i)) => {
                list[i] = value(*v);
                Frame::simple("OK")
            }
        },
        ListOp::Insert {
            before,
            pivot,
            value: v,
        } => {
            if list.is_empty() {
                return Frame::Integer(0);
            }
            match list.iter().position(|e| *e == value(*pivot)) {
                None => Frame::Integer(-1),
                Some(at) => {
                    list.insert(if *before { at } else { at + 1 }, value(*v));
                    Frame::Integer(list.len() as i64)
                }
            }
        }
        ListOp::Rem(count, v) => {
            let target = value(*v);
            let limit = if *count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            let mut removed = 0;
            if *count >= 0 {
                let mut i = 0;
                while i < list.len() && removed < limit {
                    if list[i] == target {
                        list.remove(i);
                        removed += 1;
                    } else {
                        i += 1;
                    }
                }
            } else {
                let mut i = list.len();
                while i > 0 && removed < limit {
                    i -= 1;
                    if list[i] == target {
                        list.remove(i);
                        removed += 1;
                    }
                }
            }
            Frame::Integer(removed as i64)
        }
        ListOp::Trim(a, b) => {
            match range(i64::from(*a), i64::from(*b), list.len()) {
                Some((s, e)) => {
                    list.truncate(e + 1);
                    list.drain(..s);
                }
                None => list.clear(),
            }
            Frame::simple("OK")
        }
        ListOp::Range(a, b) => match range(i64::from(*a), i64::from(*b), list.len()) {
            Some((s, e)) => array(list.range(s..=e).cloned()),
            None => Frame::Array(vec![]),
        },
        ListOp::Move { from_left, to_left } => {
            let popped = if *from_left {
                list.pop_front()
            } else {
                list.pop_back()
            };
            match popped {
                None => Frame::NullBulk,
                Some(v) => {
                    if *to_left {
                        other.push_front(v.clone());
                    } else {
                        other.push_back(v.clone());
                    }
                    bulk(&v)
                }
            }
        }
        ListOp::Len => Frame::Integer(list.len() as i64),
    }
}

/// The command line for `op` on key `l` (LMOVE's destination is `m`).
fn list_command(op: &ListOp) -> String {
    let end = |left: bool| if left { "LEFT" } else { "RIGHT" };
    match op {
        ListOp::Push { left, values } => {
            let values: Vec<String> = values.iter().map(|v| format!("v{v}")).collect();
            format!(
                "{} l {}",
                if *left { "LPUSH" } else { "RPUSH" },
                values.join(" ")
            )
        }
        ListOp::Pop { left, count } => {
            let name = if *left { "LPOP" } else { "RPOP" };
            match count {
                None => format!("{name} l"),
                Some(n) => format!("{name} l {n}"),
            }
        }
        ListOp::Index(i) => format!("LINDEX l {i}"),
        ListOp::Set(i, v) => format!("LSET l {i} v{v}"),
        ListOp::Insert {
            before,
            pivot,
            value,
        } => format!(
            "LINSERT l {} v{pivot} v{value}",
            if *before { "BEFORE" } else { "AFTER" }
        ),
        ListOp::Rem(n, v) => format!("LREM l {n} v{v}"),
        ListOp::Trim(a, b) => format!("LTRIM l {a} {b}"),
        ListOp::Range(a, b) => format!("LRANGE l {a} {b}"),
        ListOp::Move { from_left, to_left } => {
            format!("LMOVE l m {} {}", end(*from_left), end(*to_left))
        }
        ListOp::Len => "LLEN l".to_string(),
    }
}

/// A set command over two keys, `a` and `b`.
#[derive(Debug, Clone)]
enum SetOp {
    Add(bool, Vec<u8>),
    Rem(bool, Vec<u8>),
    IsMember(bool, u8),
    Card(bool),
    Move(u8),
    Pop(u8),
    Store(u8),
    Members(bool),
}

fn set_op() -> impl Strategy<Value = SetOp> {
    let members = || proptest::collection::vec(0u8..10, 1..4);
    prop_oneof![
        4 => (any::<bool>(), members()).prop_map(|(k, m)| SetOp::Add(k, m)),
        2 => (any::<bool>(), members()).prop_map(|(k, m)| SetOp::Rem(k, m)),
        1 => (any::<bool>(), 0u8..10).prop_map(|(k, m)| SetOp::IsMember(k, m)),
        1 => any::<bool>().prop_map(SetOp::Card),
        1 => (0u8..10).prop_map(SetOp::Move),
        1 => (0u8..4).prop_map(SetOp::Pop),
        1 => (0u8..3).prop_map(SetOp::Store),
        1 => any::<bool>().prop_map(SetOp::Members),
    ]
}

fn member(m: u8) -> Vec<u8> {
    format!("m{m}").into_bytes()
}

/// The sorted members of a set reply.
fn sorted(frame: Frame) -> Vec<Vec<u8>> {
    let items = match frame {
        Frame::Array(items) | Frame::Set(items) => items,
        other => panic!("{other:?}"),
    };
    let mut out: Vec<Vec<u8>> = items
        .into_iter()
        .map(|f| match f {
            Frame::Bulk(b) => b.to_vec(),
            other => panic!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Lists agree with a `VecDeque`, and the key exists exactly while the list is non-empty.
    #[test]
    fn lists_behave_like_a_deque(ops in proptest::collection::vec(list_op(), 1..80)) {
        let mut client = Client::new();
        let (mut list, mut other) = (VecDeque::new(), VecDeque::new());
        for op in &ops {
            let expected = list_model(&mut list, &mut other, op);
            let got = client.cmd(&list_command(op));
            prop_assert_eq!(&got, &expected, "{:?}", op);
            prop_assert_eq!(client.int("EXISTS l"), i64::from(!list.is_empty()));
            prop_assert_eq!(client.int("LLEN m"), other.len() as i64);
        }
        prop_assert_eq!(client.cmd("LRANGE m 0 -1"), array(other.iter().cloned()));
    }

    /// Sets agree with a `BTreeSet` per key, through SPOP's random picks and SMOVE too.
    #[test]
    fn sets_behave_like_sets(ops in proptest::collection::vec(set_op(), 1..80)) {
        let mut client = Client::new();
        let mut sets = [BTreeSet::new(), BTreeSet::new()];
        let name = |first: bool| if first { "a" } else { "b" };
        let slot = |first: bool| usize::from(!first);
        for op in &ops {
            match op {
                SetOp::Add(k, ms) => {
                    let line = format!("SADD {} {}", name(*k), words(ms));
                    let added = ms.iter().filter(|m| sets[slot(*k)].insert(member(**m))).count();
                    prop_assert_eq!(client.int(&line), added as i64);
                }
                SetOp::Rem(k, ms) => {
                    let line = format!("SREM {} {}", name(*k), words(ms));
                    let removed = ms.iter().filter(|m| sets[slot(*k)].remove(&member(**m))).count();
                    prop_assert_eq!(client.int(&line), removed as i64);
                }
                SetOp::IsMember(k, m) => {
                    let line = format!("SISMEMBER {} m{m}", name(*k));
                    prop_assert_eq!(client.int(&line), i64::from(sets[slot(*k)].contains(&member(*m))));
                }
                SetOp::Card(k) => {
                    prop_assert_eq!(client.int(&format!("SCARD {}", name(*k))), sets[slot(*k)].len() as i64);
                }
                SetOp::Move(m) => {
                    let moved = sets[0].remove(&member(*m));
                    if moved {
                        sets[1].insert(member(*m));
                    }
                    prop_assert_eq!(client.int(&format!("SMOVE a b m{m}")), i64::from(moved));
                }
                SetOp::Pop(n) => {
                    let popped = sorted(client.cmd(&format!("SPOP a {n}")));
                    prop_assert_eq!(popped.len(), usize::from(*n).min(sets[0].len()));
                    for m in &popped {
                        prop_assert!(sets[0].remove(m), "popped {:?} not in the set", m);
                    }
                }
                SetOp::Store(kind) => {
                    let (command, result): (&str, BTreeSet<Vec<u8>>) = match kind {
                        0 => ("SINTERSTORE", sets[0].intersection(&sets[1]).cloned().collect()),
                        1 => ("SUNIONSTORE", sets[0].union(&sets[1]).cloned().collect()),
                        _ => ("SDIFFSTORE", sets[0].difference(&sets[1]).cloned().collect()),
                    };
                    let stored = client.int(&format!("{command} a a b"));
                    prop_assert_eq!(stored, result.len() as i64);
                    sets[0] = result;
                }
                SetOp::Members(k) => {
                    let got = sorted(client.cmd(&format!("SMEMBERS {}", name(*k))));
                    let expected: Vec<Vec<u8>> = sets[slot(*k)].iter().cloned().collect();
                    prop_assert_eq!(got, expected);
                }
            }
            for k in [true, false] {
                prop_assert_eq!(client.int(&format!("EXISTS {}", name(k))), i64::from(!sets[slot(k)].is_empty()));
            }
        }
    }
}

fn words(members: &[u8]) -> String {
    members
        .iter()
        .map(|m| format!("m{m}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// Forms: random sequences cross the small/large conversions of sets and hashes, and a model of
// Redis's rules predicts OBJECT ENCODING and the order of the replies that follow the form.
// ---------------------------------------------------------------------------------------------

/// A set command over keys `a` and `b`, members drawn from a few integers and strings.
#[derive(Debug, Clone)]
enum FormSetOp {
    Add(bool, Vec<u8>),
    Rem(bool, Vec<u8>),
    Move(u8),
    Pop(u8),
    Store(u8),
}

/// Members: mostly integers as an intset holds them (some wide), a few strings, and `007`,
/// which only looks like an integer.
fn form_member(m: u8) -> Vec<u8> {
    const MEMBERS: [&str; 12] = [
        "0",
        "1",
        "-1",
        "2",
        "70000",
        "-70000",
        "9223372036854775807",
        "5",
        "7",
        "x",
        "y",
        "007",
    ];
    MEMBERS[usize::from(m) % MEMBERS.len()].as_bytes().to_vec()
}

fn form_set_op() -> impl Strategy<Value = FormSetOp> {
    // Strings come a twelfth of the time each, so many sets stay intsets for a while.
    let members = || proptest::collection::vec(0u8..12, 1..4);
    prop_oneof![
        5 => (any::<bool>(), members()).prop_map(|(k, m)| FormSetOp::Add(k, m)),
        2 => (any::<bool>(), members()).prop_map(|(k, m)| FormSetOp::Rem(k, m)),
        1 => (0u8..12).prop_map(FormSetOp::Move),
        1 => (0u8..4).prop_map(FormSetOp::Pop),
        1 => (0u8..3).prop_map(FormSetOp::Store),
    ]
}

/// A set as the model sees it: members, and whether Redis would have it as an intset.
#[derive(Debug, Clone, Default)]
struct ModelSet {
    members: BTreeSet<Vec<u8>>,
    intset: bool,
}

impl ModelSet {
    /// Redis's `setTypeAdd` on a set created empty as an intset if missing (`fresh`).
    fn add(&mut self, member: Vec<u8>, max: usize) -> bool {
        if self.members.is_empty() {
            self.intset = true;
        }
        let is_int = crate::intset::parse_member(&member).is_some();
        let added = self.members.insert(member);
        if self.intset && (!is_int || (added && self.members.len() > max)) {
            self.intset = false;
        }
        added
    }

    /// A set built whole from `members`: an intset when every one is an integer and they fit.
    fn built(members: BTreeSet<Vec<u8>>, max: usize) -> ModelSet {
        let intset = members.len() <= max
            && members
                .iter()
                .all(|m| crate::intset::parse_member(m).is_some());
        ModelSet { members, intset }
    }

    /// The members in Redis's order for an intset (ascending numbers).
    fn ascending(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = self.members.iter().cloned().collect();
        out.sort_by_key(|m| crate::intset::parse_member(m).unwrap_or(0));
        out
    }
}

/// A hash command over key `h`: fields f0..f5, values short integers or a long string.
#[derive(Debug, Clone)]
enum FormHashOp {
    Set(Vec<(u8, bool)>),
    SetNx(u8, bool),
    Incr(u8),
    Del(Vec<u8>),
}

fn form_hash_op() -> impl Strategy<Value = FormHashOp> {
    // `true` picks the long (65-byte) value, a tenth of the time.
    let value = || prop_oneof![9 => Just(false), 1 => Just(true)];
    prop_oneof![
        5 => proptest::collection::vec((0u8..6, value()), 1..3).prop_map(FormHashOp::Set),
        1 => (0u8..6, value()).prop_map(|(f, long)| FormHashOp::SetNx(f, long)),
        2 => (0u8..6).prop_map(FormHashOp::Incr),
        2 => proptest::collection::vec(0u8..6, 1..3).prop_map(FormHashOp::Del),
    ]
}

/// A hash as the model sees it: pairs in listpack order, and whether it is still small.
#[derive(Debug, Clone, Default)]
struct ModelHash {
    pairs: Vec<(String, String)>,
    small: bool,
}

impl ModelHash {
    /// Redis's `hashTypeSet`: a long field or value converts first, more fields than `max`
    /// after (updates included). A new hash starts small.
    fn set(&mut self, field: &str, value: &str, max: usize) -> bool {
        if self.pairs.is_empty() {
            self.small = true;
        }
        if field.len() > 64 || value.len() > 64 {
            self.small = false;
        }
        let new = match self.pairs.iter_mut().find(|(f, _)| f == field) {
            Some(pair) => {
                pair.1 = value.to_string();
                false
            }
            None => {
                self.pairs.push((field.to_string(), value.to_string()));
                true
            }
        };
        if self.pairs.len() > max {
            self.small = false;
        }
        new
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Sets: OBJECT ENCODING follows Redis's rules through additions, removals, moves, pops
    /// and stores, with a threshold drawn per case; an intset replies in ascending order and
    /// SSCAN returns it whole.
    #[test]
    fn set_forms_follow_redis(
        max in prop_oneof![Just(0usize), Just(1), Just(2), Just(3), Just(5), Just(512)],
        ops in proptest::collection::vec(form_set_op(), 1..60),
    ) {
        let mut client = Client::new();
        client.engine.config.set_max_intset_entries.store(max as u64, std::sync::atomic::Ordering::Relaxed);
        let mut sets = [ModelSet::default(), ModelSet::default()];
        let name = |first: bool| if first { "a" } else { "b" };
        let slot = |first: bool| usize::from(!first);
        let text = |ms: &[u8]| ms.iter().map(|m| String::from_utf8_lossy(&form_member(*m)).into_owned()).collect::<Vec<_>>().join(" ");
        for op in &ops {
            match op {
                FormSetOp::Add(k, ms) => {
                    let added = ms.iter().filter(|m| sets[slot(*k)].add(form_member(**m), max)).count();
                    prop_assert_eq!(client.int(&format!("SADD {} {}", name(*k), text(ms))), added as i64);
                }
                FormSetOp::Rem(k, ms) => {
                    let removed = ms.iter().filter(|m| sets[slot(*k)].members.remove(&form_member(**m))).count();
                    prop_assert_eq!(client.int(&format!("SREM {} {}", name(*k), text(ms))), removed as i64);
                }
                FormSetOp::Move(m) => {
                    let member = form_member(*m);
                    let moved = sets[0].members.remove(&member);
                    if moved {
                        sets[1].add(member, max);
                    }
                    prop_assert_eq!(client.int(&format!("SMOVE a b {}", text(&[*m]))), i64::from(moved));
                }
                FormSetOp::Pop(n) => {
                    let popped = sorted(client.cmd(&format!("SPOP a {n}")));
                    prop_assert_eq!(popped.len(), usize::from(*n).min(sets[0].members.len()));
                    for m in &popped {
                        prop_assert!(sets[0].members.remove(m), "popped {:?} not in the set", m);
                    }
                }
                FormSetOp::Store(kind) => {
                    let (a, b) = (&sets[0].members, &sets[1].members);
                    let (command, result): (&str, BTreeSet<Vec<u8>>) = match kind {
                        0 => ("SINTERSTORE", a.intersection(b).cloned().collect()),
                        1 => ("SUNIONSTORE", a.union(b).cloned().collect()),
                        _ => ("SDIFFSTORE", a.difference(b).cloned().collect()),
                    };
                    prop_assert_eq!(client.int(&format!("{command} a a b")), result.len() as i64);
                    sets[0] = ModelSet::built(result, max);
                }
            }
            for k in [true, false] {
                let set = &sets[slot(k)];
                let key = name(k);
                if set.members.is_empty() {
                    prop_assert_eq!(client.int(&format!("EXISTS {key}")), 0);
                    continue;
                }
                let form = if set.intset { "intset" } else { "hashtable" };
                prop_assert_eq!(client.cmd(&format!("OBJECT ENCODING {key}")), bulk(form.as_bytes()), "{:?}", op);
                if set.intset {
                    prop_assert_eq!(client.cmd(&format!("SMEMBERS {key}")), array(set.ascending()));
                    prop_assert_eq!(
                        client.cmd(&format!("SSCAN {key} 0 COUNT 1")),
                        Frame::Array(vec![bulk(b"0"), array(set.ascending())])
                    );
                } else {
                    let expected: Vec<Vec<u8>> = set.members.iter().cloned().collect();
                    prop_assert_eq!(sorted(client.cmd(&format!("SMEMBERS {key}"))), expected);
                }
            }
        }
    }

    /// Hashes: OBJECT ENCODING follows Redis's rules through HSET, HSETNX, HINCRBY and HDEL,
    /// with an entry threshold drawn per case and long values now and then; a listpack replies
    /// in insertion order (HGETALL, HSCAN whole).
    #[test]
    fn hash_forms_follow_redis(
        max in prop_oneof![Just(0usize), Just(1), Just(2), Just(4), Just(512)],
        ops in proptest::collection::vec(form_hash_op(), 1..60),
    ) {
        let mut client = Client::new();
        client.engine.config.hash_max_listpack_entries.store(max as u64, std::sync::atomic::Ordering::Relaxed);
        let long = "L".repeat(65);
        let value = |f: u8, is_long: bool| if is_long { long.clone() } else { (u32::from(f) * 10).to_string() };
        let mut h = ModelHash::default();
        for op in &ops {
            match op {
                FormHashOp::Set(pairs) => {
                    // HSET checks every argument before writing any.
                    if h.pairs.is_empty() {
                        h.small = true;
                    }
                    if pairs.iter().any(|(_, l)| *l) {
                        h.small = false;
                    }
                    let mut line = "HSET h".to_string();
                    let mut created = 0;
                    for (f, l) in pairs {
                        let v = value(*f, *l);
                        line.push_str(&format!(" f{f} {v}"));
                        created += i64::from(h.set(&format!("f{f}"), &v, max));
                    }
                    prop_assert_eq!(client.int(&line), created);
                }
                FormHashOp::SetNx(f, l) => {
                    let field = format!("f{f}");
                    let exists = h.pairs.iter().any(|(k, _)| *k == field);
                    let v = value(*f, *l);
                    if !exists {
                        h.set(&field, &v, max);
                    }
                    prop_assert_eq!(client.int(&format!("HSETNX h {field} {v}")), i64::from(!exists));
                }
                FormHashOp::Incr(f) => {
                    let field = format!("f{f}");
                    let current = h.pairs.iter().find(|(k, _)| *k == field).map(|(_, v)| v.clone());
                    match current.as_deref().map(str::parse::<i64>) {
                        Some(Err(_)) => {
                            prop_assert_eq!(
                                client.cmd(&format!("HINCRBY h {field} 1")),
                                Frame::Error("ERR hash value is not an integer".into())
                            );
                        }
                        other => {
                            let n = other.and_then(Result::ok).unwrap_or(0) + 1;
                            h.set(&field, &n.to_string(), max);
                            prop_assert_eq!(client.int(&format!("HINCRBY h {field} 1")), n);
                        }
                    }
                }
                FormHashOp::Del(fields) => {
                    let mut line = "HDEL h".to_string();
                    let mut removed = 0;
                    for f in fields {
                        let field = format!("f{f}");
                        line.push_str(&format!(" {field}"));
                        if let Some(at) = h.pairs.iter().position(|(k, _)| *k == field) {
                            h.pairs.remove(at);
                            removed += 1;
                        }
                    }
                    prop_assert_eq!(client.int(&line), removed);
                }
            }
            if h.pairs.is_empty() {
                prop_assert_eq!(client.int("EXISTS h"), 0);
                continue;
            }
            let form = if h.small { "listpack" } else { "hashtable" };
            prop_assert_eq!(client.cmd("OBJECT ENCODING h"), bulk(form.as_bytes()), "{:?}", op);
            let flat: Vec<Vec<u8>> = h.pairs.iter().flat_map(|(f, v)| [f.clone().into_bytes(), v.clone().into_bytes()]).collect();
            if h.small {
                prop_assert_eq!(client.cmd("HGETALL h"), array(flat.clone()));
                prop_assert_eq!(client.cmd("HSCAN h 0 COUNT 1"), Frame::Array(vec![bulk(b"0"), array(flat)]));
            } else {
                let mut expected = flat;
                expected.sort();
                prop_assert_eq!(sorted(client.cmd("HGETALL h")), expected);
            }
            prop_assert_eq!(client.int("HLEN h"), h.pairs.len() as i64);
        }
    }
}

/// A string command on one key, sized to cross the inline limit (38 bytes), Redis's `embstr`
/// limit (44) and the heap buffer's growth.
#[derive(Debug, Clone)]
enum StringOp {
    /// SET of `len` copies of a byte, or of a number when `numeric`.
    Set {
        len: u8,
        byte: u8,
        numeric: bool,
    },
    Append {
        len: u8,
        byte: u8,
    },
    SetRange {
        offset: u8,
        len: u8,
        byte: u8,
    },
    Del,
}

fn string_op() -> impl Strategy<Value = StringOp> {
    prop_oneof![
        (0u8..60, b'a'..=b'c', any::<bool>()).prop_map(|(len, byte, numeric)| StringOp::Set {
            len,
            byte,
            numeric
        }),
        (0u8..70, b'a'..=b'c').prop_map(|(len, byte)| StringOp::Append { len, byte }),
        (0u8..120, 0u8..30, b'x'..=b'z').prop_map(|(offset, len, byte)| StringOp::SetRange {
            offset,
            len,
            byte
        }),
        Just(StringOp::Del),
    ]
}

/// What Redis's OBJECT ENCODING says of a string: `raw` once changed in place, else by content.
fn string_encoding(bytes: &[u8], raw: bool) -> &'static str {
    let integer = bytes.len() <= 20 && kv_resp::parse_i64(bytes).is_some();
    if raw || bytes.len() > 44 {
        "raw"
    } else if integer {
        "int"
    } else {
        "embstr"
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Strings changed in place (APPEND, SETRANGE) agree with a byte vector, whatever their
    /// size and growth, and OBJECT ENCODING with Redis's rule: `raw` after a change in place or
    /// a SETRANGE that creates the key, by content otherwise.
    #[test]
    fn strings_change_in_place_like_a_byte_vector(
        ops in proptest::collection::vec(string_op(), 1..60)
    ) {
        let mut client = Client::new();
        // The string, and whether it was last changed in place.
        let mut model: Option<(Vec<u8>, bool)> = None;
        for op in &ops {
            let reply = match op {
                StringOp::Set { len, byte, numeric } => {
                    let value = if *numeric {
                        (u64::from(*len) * 1_000_003).to_string().into_bytes()
                    } else {
                        vec![*byte; usize::from(*len)]
                    };
                    let reply = client.run(&[b"SET", b"s", &value]);
                    model = Some((value, false));
                    prop_assert_eq!(reply, Frame::Simple("OK".into()));
                    continue;
                }
                StringOp::Append { len, byte } => {
                    let suffix = vec![*byte; usize::from(*len)];
                    let reply = client.run(&[b"APPEND", b"s", &suffix]);
                    model = Some(match model.take() {
                        Some((mut bytes, _)) => {
                            bytes.extend_from_slice(&suffix);
                            (bytes, true)
                        }
                        None => (suffix, false),
                    });
                    reply
                }
                StringOp::SetRange { offset, len, byte } => {
                    let patch = vec![*byte; usize::from(*len)];
                    let offset = usize::from(*offset);
                    let reply = client.run(&[b"SETRANGE", b"s", offset.to_string().as_bytes(), &patch]);
                    if !patch.is_empty() {
                        let (mut bytes, _) = model.take().unwrap_or_default();
                        if bytes.len() < offset + patch.len() {
                            bytes.resize(offset + patch.len(), 0);
                        }
                        bytes[offset..offset + patch.len()].copy_from_slice(&patch);
                        model = Some((bytes, true));
                    }
                    reply
                }
                StringOp::Del => {
                    client.cmd("DEL s");
                    model = None;
                    continue;
                }
            };
            let len = model.as_ref().map_or(0, |(bytes, _)| bytes.len());
            prop_assert_eq!(reply, Frame::Integer(len as i64), "{:?}", op);
            match &model {
                Some((bytes, raw)) => {
                    prop_assert_eq!(client.cmd("GET s"), bulk(bytes));
                    prop_assert_eq!(
                        client.cmd("OBJECT ENCODING s"),
                        bulk(string_encoding(bytes, *raw).as_bytes()),
                        "{:?}", op
                    );
                }
                None => prop_assert_eq!(client.cmd("GET s"), Frame::NullBulk),
            }
        }
    }
}
