//! Model-based property tests for lists and sets: random command sequences run through the
//! engine and against a plain Rust model (a `VecDeque`, a `BTreeSet`), every reply compared.
//! Hashes have theirs next to field expiry (`t_hash`), sorted sets next to their structure.

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
