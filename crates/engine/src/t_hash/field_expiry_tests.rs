//! Tests of hash field expiry: every new command, option and error, the visibility rules, the
//! field-expiry index and its active cycle, DUMP/RESTORE, and a model-based property test.
//!
//! Every command runs at an explicit time (`cmd_at`), so nothing here sleeps.

use std::collections::{BTreeMap, HashSet};

use kv_resp::Frame;
use proptest::prelude::*;

use super::COMMANDS;
use crate::keys::tests::{bulk, err, int, Client};
use crate::Protocol;

/// A fixed "now" for the tests, in Unix milliseconds (November 2023).
const T0: u64 = 1_700_000_000_000;

/// An array of integers.
fn ints(items: &[i64]) -> Frame {
    Frame::Array(items.iter().map(|&n| int(n)).collect())
}

/// An array of bulk strings and nulls (`None`), as RESP2 writes them.
fn values(items: &[Option<&str>]) -> Frame {
    Frame::Array(
        items
            .iter()
            .map(|v| v.map_or(Frame::NullBulk, bulk))
            .collect(),
    )
}

/// The strings of an array of bulk strings, sorted.
fn sorted(frame: Frame) -> Vec<String> {
    let Frame::Array(items) = frame else {
        panic!("{frame:?}")
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|f| match f {
            Frame::Bulk(b) => String::from_utf8(b.to_vec()).expect("utf-8"),
            other => panic!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NEGATIVE: &str = "ERR invalid expire time, must be >= 0";
const NO_FIELDS: &str = "ERR Mandatory argument FIELDS is missing or not at the right position";
const EXPIRE_BAD_COUNT: &str = "ERR Parameter `numFields` should be greater than 0";
const BAD_COUNT: &str = "ERR Number of fields must be a positive integer";
const MISMATCH: &str = "ERR The `numfields` parameter must match the number of arguments";

// ---------------------------------------------------------------------------------------------
// HEXPIRE family, HTTL family, HPERSIST
// ---------------------------------------------------------------------------------------------

#[test]
fn hexpire_family_sets_and_httl_family_reports() {
    let mut c = Client::new();
    let t = T0;
    assert_eq!(c.cmd_at("HSET h a 1 b 2 c 3", t), int(3));
    assert_eq!(c.cmd_at("HEXPIRE h 100 FIELDS 2 a zz", t), ints(&[1, -2]));
    assert_eq!(c.cmd_at("HTTL h FIELDS 3 a b zz", t), ints(&[100, -1, -2]));
    assert_eq!(
        c.cmd_at("HPTTL h FIELDS 3 a b zz", t),
        ints(&[100_000, -1, -2])
    );
    let at = (T0 + 100_000) as i64;
    assert_eq!(c.cmd_at("HPEXPIRETIME h fields 1 a", t), ints(&[at]));
    assert_eq!(
        c.cmd_at("HEXPIRETIME h FIELDS 2 a b", t),
        ints(&[at / 1000, -1])
    );
    // Seconds are rounded up, in both the time left and the Unix time.
    assert_eq!(c.cmd_at("HPEXPIRE h 1500 FIELDS 1 b", t), ints(&[1]));
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 b", t), ints(&[2]));
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 b", t + 1499), ints(&[1]));
    assert_eq!(
        c.cmd_at("HPEXPIREAT h 1700000000001 FIELDS 1 c", t),
        ints(&[1])
    );
    assert_eq!(
        c.cmd_at("HEXPIRETIME h FIELDS 1 c", t),
        ints(&[1_700_000_001])
    );
    assert_eq!(c.cmd_at("HEXPIREAT h 1700000005 FIELDS 1 c", t), ints(&[1]));
    assert_eq!(
        c.cmd_at("HPEXPIRETIME h FIELDS 1 c", t),
        ints(&[1_700_000_005_000])
    );
    // A field is gone when its time is reached, to readers and writers alike.
    assert_eq!(c.cmd_at("HGET h b", t + 1499), bulk("2"));
    let t = t + 1500;
    assert_eq!(c.cmd_at("HGET h b", t), Frame::NullBulk);
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 b", t), ints(&[-2]));
    assert_eq!(c.cmd_at("HPERSIST h FIELDS 1 b", t), ints(&[-2]));
    assert_eq!(c.cmd_at("HEXPIRE h 10 FIELDS 1 b", t), ints(&[-2]));
    // A zero TTL or a time already past deletes the field (2); the key goes with the last.
    c.cmd_at("HSET h d 4", t);
    assert_eq!(c.cmd_at("HEXPIRE h 0 FIELDS 2 a a", t), ints(&[2, -2]));
    assert_eq!(c.cmd_at("HGET h a", t), Frame::NullBulk);
    assert_eq!(c.cmd_at("HPEXPIREAT h 1 FIELDS 1 c", t), ints(&[2]));
    assert_eq!(c.cmd_at("EXISTS h", t), int(1));
    assert_eq!(c.cmd_at("HEXPIREAT h 0 FIELDS 1 d", t), ints(&[2]));
    assert_eq!(c.cmd_at("EXISTS h", t), int(0));
    // A missing key is an empty hash: every field is missing.
    for line in [
        "HEXPIRE nokey 10 FIELDS 2 a b",
        "HPEXPIREAT nokey 10 NX FIELDS 2 a b",
        "HTTL nokey FIELDS 2 a b",
        "HPTTL nokey FIELDS 2 a b",
        "HEXPIRETIME nokey FIELDS 2 a b",
        "HPEXPIRETIME nokey FIELDS 2 a b",
        "HPERSIST nokey FIELDS 2 a b",
    ] {
        assert_eq!(c.cmd_at(line, t), ints(&[-2, -2]), "{line}");
    }
    assert_eq!(c.cmd_at("EXISTS nokey", t), int(0));
    // The same replies in RESP3: arrays of integers.
    c.set_protocol(Protocol::Resp3);
    c.cmd_at("HSET h a 1", t);
    assert_eq!(c.cmd_at("HEXPIRE h 5 FIELDS 2 a b", t), ints(&[1, -2]));
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 a b", t), ints(&[5, -2]));
}

#[test]
fn hexpire_conditions() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h f v", t);
    // Without a TTL: XX and GT never pass (an infinite TTL is never less), NX and LT do.
    assert_eq!(c.cmd_at("HEXPIRE h 100 XX FIELDS 1 f", t), ints(&[0]));
    assert_eq!(c.cmd_at("HEXPIRE h 100 gt FIELDS 1 f", t), ints(&[0]));
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 f", t), ints(&[-1]));
    assert_eq!(c.cmd_at("HEXPIRE h 100 lt FIELDS 1 f", t), ints(&[1]));
    c.cmd_at("HPERSIST h FIELDS 1 f", t);
    assert_eq!(c.cmd_at("HEXPIRE h 100 NX FIELDS 1 f", t), ints(&[1]));
    // With one: NX never passes, XX always, GT and LT only for a strictly later or earlier time.
    assert_eq!(c.cmd_at("HEXPIRE h 50 NX FIELDS 1 f", t), ints(&[0]));
    assert_eq!(c.cmd_at("HEXPIRE h 50 GT FIELDS 1 f", t), ints(&[0]));
    assert_eq!(c.cmd_at("HEXPIRE h 100 GT FIELDS 1 f", t), ints(&[0]));
    assert_eq!(c.cmd_at("HEXPIRE h 200 GT FIELDS 1 f", t), ints(&[1]));
    assert_eq!(c.cmd_at("HEXPIRE h 200 LT FIELDS 1 f", t), ints(&[0]));
    assert_eq!(c.cmd_at("HEXPIRE h 300 LT FIELDS 1 f", t), ints(&[0]));
    assert_eq!(c.cmd_at("HEXPIRE h 150 LT FIELDS 1 f", t), ints(&[1]));
    assert_eq!(c.cmd_at("HEXPIRE h 120 XX FIELDS 1 f", t), ints(&[1]));
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 f", t), ints(&[120]));
    // The condition is checked before the time: a failing one keeps the field.
    c.cmd_at("HSET h g v", t);
    assert_eq!(c.cmd_at("HEXPIRE h 0 GT FIELDS 2 g f", t), ints(&[0, 0]));
    assert_eq!(c.cmd_at("HLEN h", t), int(2));
    assert_eq!(c.cmd_at("HEXPIRE h 0 NX FIELDS 2 g f", t), ints(&[2, 0]));
    assert_eq!(c.cmd_at("HEXISTS h g", t), int(0));
}

#[test]
fn hpersist_removes_ttls() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1 b 2", t);
    c.cmd_at("HPEXPIRE h 100 FIELDS 1 a", t);
    assert_eq!(
        c.cmd_at("HPERSIST h FIELDS 3 a b zz", t),
        ints(&[1, -1, -2])
    );
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 a b", t), ints(&[-1, -1]));
    assert_eq!(c.cmd_at("HPERSIST h FIELDS 1 a", t), ints(&[-1]));
    // Persisted, the field outlives its old time.
    assert_eq!(c.cmd_at("HGET h a", t + 1000), bulk("1"));
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 0);
}

#[test]
fn field_expiry_errors_in_redis_order() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1", t);
    c.cmd_at("SET s v", t);
    let arity = |name: &str| {
        Frame::Error(format!("ERR wrong number of arguments for '{name}' command").into())
    };
    for (line, name) in [
        ("HEXPIRE h 10 FIELDS 1", "hexpire"),
        ("HPEXPIREAT h 10 FIELDS 1", "hpexpireat"),
        ("HTTL h FIELDS 1", "httl"),
        ("HPEXPIRETIME h FIELDS 1", "hpexpiretime"),
        ("HPERSIST h FIELDS", "hpersist"),
        ("HGETEX h FIELDS 1", "hgetex"),
        ("HSETEX h FIELDS 1 f", "hsetex"),
        ("HGETDEL h FIELDS 1", "hgetdel"),
    ] {
        assert_eq!(c.cmd_at(line, t), arity(name), "{line}");
    }
    // The type is checked first, except by HSETEX, which reads its arguments first.
    for line in [
        "HEXPIRE s abc FOO 0 f",
        "HPEXPIRE s 10 FIELDS 1 f",
        "HTTL s FOO 0 f",
        "HPTTL s FIELDS 1 f",
        "HPERSIST s FOO 0 f",
        "HGETEX s EX abc FIELDS 1 f",
        "HGETDEL s FOO 0 f",
        "HSETEX s FIELDS 1 f v",
    ] {
        assert_eq!(c.cmd_at(line, t), err(WRONGTYPE), "{line}");
    }
    assert_eq!(
        c.cmd_at("HSETEX s FOO FIELDS 1 f v", t),
        err("ERR unknown argument: FOO")
    );
    // The time: an integer, not negative, not past Redis's ceiling (2^46 - 1 ms) once
    // converted, for every command and whether the key exists or not.
    for key in ["h", "nokey"] {
        let check = |c: &mut Client, args: &str, expected: Frame| {
            let line = format!("HEXPIRE {key} {args}");
            assert_eq!(c.cmd_at(&line, t), expected, "{line}");
        };
        check(&mut c, "abc FIELDS 1 a", err(NOT_INTEGER));
        check(&mut c, "abc FOO 0 a", err(NOT_INTEGER));
        check(&mut c, "-1 FIELDS 1 a", err(NEGATIVE));
        check(&mut c, "-1 FOO 0 a", err(NEGATIVE));
        check(
            &mut c,
            "70368744178 FIELDS 1 a",
            err("ERR invalid expire time in 'hexpire' command"),
        );
        check(
            &mut c,
            "9223372036854775807 FIELDS 1 a",
            err("ERR invalid expire time in 'hexpire' command"),
        );
        // Relative: the ceiling counts from now.
        check(
            &mut c,
            "70368744177 FIELDS 1 a",
            err("ERR invalid expire time in 'hexpire' command"),
        );
        check(&mut c, "10 FOO 1 a", err(NO_FIELDS));
        check(&mut c, "10 NX NX 1 a", err(NO_FIELDS));
        check(&mut c, "10 1 FIELDS a", err(NO_FIELDS));
        check(&mut c, "10 FIELDS 0 a", err(EXPIRE_BAD_COUNT));
        check(&mut c, "10 FIELDS -1 a", err(EXPIRE_BAD_COUNT));
        check(&mut c, "10 FIELDS abc a", err(EXPIRE_BAD_COUNT));
        check(
            &mut c,
            "10 FIELDS 9223372036854775808 a",
            err(EXPIRE_BAD_COUNT),
        );
        check(&mut c, "10 FOO 0 a", err(NO_FIELDS));
        check(&mut c, "10 FIELDS 2 a", err(MISMATCH));
        check(&mut c, "10 FIELDS 1 a b", err(MISMATCH));
        check(&mut c, "10 XX FIELDS 2 a", err(MISMATCH));
        check(&mut c, "10 LT FIELDS 0 a b", err(EXPIRE_BAD_COUNT));
    }
    for (line, expected) in [
        ("HPEXPIRE h 9223372036854775807 FIELDS 1 a", "hpexpire"),
        ("HPEXPIREAT h 70368744177664 FIELDS 1 a", "hpexpireat"),
        ("HEXPIREAT h 70368744178 FIELDS 1 a", "hexpireat"),
    ] {
        let message = format!("ERR invalid expire time in '{expected}' command");
        assert_eq!(c.cmd_at(line, t), Frame::Error(message.into()), "{line}");
    }
    // The ceiling itself is allowed.
    assert_eq!(
        c.cmd_at("HPEXPIREAT h 70368744177663 FIELDS 1 a", t),
        ints(&[1])
    );
    assert_eq!(
        c.cmd_at("HEXPIREAT h 70368744177 FIELDS 1 a", t),
        ints(&[1])
    );
    assert_eq!(
        c.cmd_at("HPEXPIRETIME h FIELDS 1 a", t),
        ints(&[70_368_744_177_000])
    );
    // HTTL's family and HPERSIST word a bad count their own way.
    for command in ["HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME", "HPERSIST"] {
        for (args, expected) in [
            ("FOO 1 a", NO_FIELDS),
            ("1 FIELDS a", NO_FIELDS),
            ("FIELDS 0 a", BAD_COUNT),
            ("FIELDS x a", BAD_COUNT),
            ("FIELDS 2 a", MISMATCH),
            ("FIELDS 1 a b", MISMATCH),
        ] {
            for key in ["h", "nokey"] {
                let line = format!("{command} {key} {args}");
                assert_eq!(c.cmd_at(&line, t), err(expected), "{line}");
            }
        }
    }
    assert_eq!(c.cmd_at("HGET h a", t), bulk("1"));
}

// ---------------------------------------------------------------------------------------------
// HGETEX, HSETEX, HGETDEL (Redis 8.0)
// ---------------------------------------------------------------------------------------------

#[test]
fn hgetex_reads_and_changes_expiry() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1 b 2 c 3", t);
    assert_eq!(
        c.cmd_at("HGETEX h FIELDS 3 a zz b", t),
        values(&[Some("1"), None, Some("2")])
    );
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 a b", t), ints(&[-1, -1]));
    assert_eq!(
        c.cmd_at("HGETEX h EX 100 FIELDS 2 a zz", t),
        values(&[Some("1"), None])
    );
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 a zz", t), ints(&[100, -2]));
    c.cmd_at("HGETEX h px 1500 FIELDS 1 b", t);
    assert_eq!(c.cmd_at("HPTTL h FIELDS 1 b", t), ints(&[1500]));
    c.cmd_at("HGETEX h EXAT 1700000100 FIELDS 1 b", t);
    assert_eq!(
        c.cmd_at("HPEXPIRETIME h FIELDS 1 b", t),
        ints(&[1_700_000_100_000])
    );
    c.cmd_at("HGETEX h PXAT 1700000000042 FIELDS 1 b", t);
    assert_eq!(
        c.cmd_at("HPEXPIRETIME h FIELDS 1 b", t),
        ints(&[1_700_000_000_042])
    );
    assert_eq!(
        c.cmd_at("HGETEX h PERSIST FIELDS 3 a b c", t),
        values(&[Some("1"), Some("2"), Some("3")])
    );
    assert_eq!(c.cmd_at("HTTL h FIELDS 3 a b c", t), ints(&[-1, -1, -1]));
    // A time already come deletes the fields after reading them, and the key with the last.
    assert_eq!(
        c.cmd_at("HGETEX h EX 0 FIELDS 2 a a", t),
        values(&[Some("1"), None])
    );
    assert_eq!(
        c.cmd_at("HGETEX h PXAT 1 FIELDS 2 b c", t),
        values(&[Some("2"), Some("3")])
    );
    assert_eq!(c.cmd_at("EXISTS h", t), int(0));
    assert_eq!(
        c.engine
            .keyspace
            .expired_subkeys
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    // A missing key answers nils, in RESP3 too.
    assert_eq!(
        c.cmd_at("HGETEX nokey EX 10 FIELDS 2 a b", t),
        values(&[None, None])
    );
    c.set_protocol(Protocol::Resp3);
    assert_eq!(
        c.cmd_at("HGETEX nokey FIELDS 1 a", t),
        Frame::Array(vec![Frame::Null])
    );
    c.cmd_at("HSET h a 1", t);
    assert_eq!(
        c.cmd_at("HGETEX h PERSIST FIELDS 2 a b", t),
        Frame::Array(vec![bulk("1"), Frame::Null])
    );
}

#[test]
fn hgetex_errors() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1", t);
    for key in ["h", "nokey"] {
        for (args, expected) in [
            ("EX abc FIELDS 1 a", NOT_INTEGER),
            ("PX -1 FIELDS 1 a", NEGATIVE),
            (
                "EX 70368744178 FIELDS 1 a",
                "ERR invalid expire time in 'hgetex' command",
            ),
            (
                "PXAT 70368744177664 FIELDS 1 a",
                "ERR invalid expire time in 'hgetex' command",
            ),
            ("KEEPTTL FIELDS 1 a", NO_FIELDS),
            ("PERSIST 1 a b", NO_FIELDS),
            ("EX 10 PX 10 FIELDS 1 a", NO_FIELDS),
            ("FIELDS 0 a", BAD_COUNT),
            ("FIELDS abc a", BAD_COUNT),
            ("FIELDS 2 a", MISMATCH),
            ("PERSIST FIELDS 1", MISMATCH),
        ] {
            let line = format!("HGETEX {key} {args}");
            assert_eq!(c.cmd_at(&line, t), err(expected), "{line}");
        }
        // The count's place is past the end: Redis reads past its arguments there; kv calls
        // it an arity error.
        assert_eq!(
            c.cmd_at(&format!("HGETEX {key} EX 10 FIELDS"), t),
            err("ERR wrong number of arguments for 'hgetex' command")
        );
    }
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 a", t), ints(&[-1]));
}

#[test]
fn hsetex_sets_fields_and_expiry() {
    let mut c = Client::new();
    let t = T0;
    assert_eq!(c.cmd_at("HSETEX h FIELDS 2 a 1 b 2", t), int(1));
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 a b", t), ints(&[-1, -1]));
    assert_eq!(c.cmd_at("HSETEX h EX 100 FIELDS 1 a 10", t), int(1));
    assert_eq!(c.cmd_at("HGET h a", t), bulk("10"));
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 a", t), ints(&[100]));
    // KEEPTTL keeps an existing field's TTL; no option clears it, as HSET does.
    assert_eq!(c.cmd_at("HSETEX h KEEPTTL FIELDS 2 a 11 c 3", t), int(1));
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 a c", t), ints(&[100, -1]));
    assert_eq!(c.cmd_at("HSETEX h FIELDS 1 a 12", t), int(1));
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 a", t), ints(&[-1]));
    for (option, at) in [
        ("PX 1500", T0 + 1500),
        ("EXAT 1700000200", 1_700_000_200_000),
        ("PXAT 1700000000007", 1_700_000_000_007),
    ] {
        assert_eq!(
            c.cmd_at(&format!("HSETEX h {option} FIELDS 1 a 1"), t),
            int(1)
        );
        assert_eq!(c.cmd_at("HPEXPIRETIME h FIELDS 1 a", t), ints(&[at as i64]));
    }
    // FNX: only if none exists; FXX: only if all do. A refusal changes nothing.
    assert_eq!(c.cmd_at("HSETEX h FNX FIELDS 2 new 1 a 2", t), int(0));
    assert_eq!(c.cmd_at("HEXISTS h new", t), int(0));
    assert_eq!(
        c.cmd_at("HSETEX h FNX EX 50 FIELDS 2 new 1 new2 2", t),
        int(1)
    );
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 new new2", t), ints(&[50, 50]));
    assert_eq!(c.cmd_at("HSETEX h FXX FIELDS 2 a 5 zz 6", t), int(0));
    assert_eq!(c.cmd_at("HGET h a", t), bulk("1"));
    assert_eq!(c.cmd_at("HSETEX h FXX KEEPTTL FIELDS 2 a 5 b 6", t), int(1));
    assert_eq!(c.cmd_at("HMGET h a b", t), values(&[Some("5"), Some("6")]));
    assert_eq!(
        c.cmd_at("HPEXPIRETIME h FIELDS 1 a", t),
        ints(&[1_700_000_000_007])
    );
    // An expired field counts as missing.
    assert_eq!(c.cmd_at("HSETEX h FXX FIELDS 1 a 7", t + 7), int(0));
    assert_eq!(c.cmd_at("HSETEX h FNX FIELDS 1 a 7", t + 7), int(1));
    // FXX never creates the key; FNX does.
    assert_eq!(c.cmd_at("HSETEX k FXX FIELDS 1 a 1", t), int(0));
    assert_eq!(c.cmd_at("EXISTS k", t), int(0));
    assert_eq!(c.cmd_at("HSETEX k FNX FIELDS 1 a 1", t), int(1));
    // A time already come deletes the fields as they are set (and the key with the last).
    assert_eq!(c.cmd_at("HSETEX k PX 0 FIELDS 2 a 1 b 2", t), int(1));
    assert_eq!(c.cmd_at("EXISTS k", t), int(0));
    assert_eq!(c.cmd_at("HSETEX k EXAT 1 FIELDS 1 a 1", t), int(1));
    assert_eq!(c.cmd_at("EXISTS k", t), int(0));
    // Case does not matter; a field given twice takes its last value.
    assert_eq!(c.cmd_at("hsetex k fnx ex 5 fields 2 f 1 f 2", t), int(1));
    assert_eq!(c.cmd_at("HGET k f", t), bulk("2"));
}

#[test]
fn hsetex_errors_come_before_the_key_is_read() {
    let mut c = Client::new();
    let t = T0;
    let arity = err("ERR wrong number of arguments for 'hsetex' command");
    let one_expiry =
        err("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified");
    for (args, expected) in [
        ("FIELDS 0 f v", err("ERR invalid number of fields")),
        ("FIELDS x f v", err("ERR invalid number of fields")),
        ("FIELDS 2147483648 f v", err("ERR invalid number of fields")),
        ("FIELDS 2 f v", arity.clone()),
        ("FIELDS 1 f v g", arity.clone()),
        ("FNX FIELDS 1 f", arity.clone()),
        ("FIELDS FIELDS 1 f v", err("ERR invalid number of fields")),
        (
            "FNX FXX FIELDS 1 f v",
            err("ERR Only one of FXX or FNX arguments can be specified"),
        ),
        (
            "FXX FXX FIELDS 1 f v",
            err("ERR Only one of FXX or FNX arguments can be specified"),
        ),
        ("EX 10 PX 10 FIELDS 1 f v", one_expiry.clone()),
        ("KEEPTTL EX 10 FIELDS 1 f v", one_expiry.clone()),
        ("EX 10 KEEPTTL FIELDS 1 f v", one_expiry.clone()),
        ("FOO FIELDS 1 f v", err("ERR unknown argument: FOO")),
        ("EX abc FIELDS 1 f v", err(NOT_INTEGER)),
        ("EX -1 FIELDS 1 f v", err(NEGATIVE)),
        (
            "EX 70368744178 FIELDS 1 f v",
            err("ERR invalid expire time in 'hsetex' command"),
        ),
        (
            "PXAT 70368744177664 FIELDS 1 f v",
            err("ERR invalid expire time in 'hsetex' command"),
        ),
    ] {
        let line = format!("HSETEX h {args}");
        assert_eq!(c.cmd_at(&line, t), expected, "{line}");
    }
    // An unknown argument is shown as a C string, without line breaks.
    assert_eq!(
        c.run_at(&[b"HSETEX", b"h", b"a\0b", b"FIELDS", b"1", b"f", b"v"], t),
        err("ERR unknown argument: a")
    );
    assert_eq!(
        c.run_at(
            &[b"HSETEX", b"h", b"a\r\nb", b"FIELDS", b"1", b"f", b"v"],
            t
        ),
        err("ERR unknown argument: a  b")
    );
    assert_eq!(c.cmd_at("EXISTS h", t), int(0));
}

#[test]
fn hgetdel_returns_and_deletes() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1 b 2 c 3", t);
    c.cmd_at("HPEXPIRE h 10 FIELDS 1 c", t);
    assert_eq!(
        c.cmd_at("HGETDEL h FIELDS 3 a zz a", t),
        values(&[Some("1"), None, None])
    );
    assert_eq!(c.cmd_at("HLEN h", t), int(2));
    // An expired field is not returned.
    assert_eq!(
        c.cmd_at("HGETDEL h FIELDS 2 c b", t + 10),
        values(&[None, Some("2")])
    );
    assert_eq!(c.cmd_at("EXISTS h", t + 10), int(0));
    assert_eq!(c.cmd_at("HGETDEL h FIELDS 1 a", t), values(&[None]));
    for (args, expected) in [
        ("FOO 1 a", NO_FIELDS),
        ("FIELDS 0 a", BAD_COUNT),
        ("FIELDS -5 a", BAD_COUNT),
        ("FIELDS 2 a", MISMATCH),
    ] {
        let line = format!("HGETDEL h {args}");
        assert_eq!(c.cmd_at(&line, t), err(expected), "{line}");
    }
    c.set_protocol(Protocol::Resp3);
    c.cmd_at("HSET h a 1", t);
    assert_eq!(
        c.cmd_at("HGETDEL h FIELDS 2 b a", t),
        Frame::Array(vec![Frame::Null, bulk("1")])
    );
}

// ---------------------------------------------------------------------------------------------
// What other commands do with field TTLs
// ---------------------------------------------------------------------------------------------

#[test]
fn expired_fields_are_never_visible() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h live 1 gone 2", t);
    c.cmd_at("HPEXPIRE h 10 FIELDS 1 gone", t);
    let later = t + 10;
    assert_eq!(c.cmd_at("HGET h gone", later), Frame::NullBulk);
    assert_eq!(
        c.cmd_at("HMGET h gone live", later),
        values(&[None, Some("1")])
    );
    assert_eq!(c.cmd_at("HEXISTS h gone", later), int(0));
    assert_eq!(c.cmd_at("HSTRLEN h gone", later), int(0));
    assert_eq!(c.cmd_at("HLEN h", later), int(1));
    assert_eq!(c.cmd_at("HLEN h", t + 9), int(2));
    assert_eq!(sorted(c.cmd_at("HKEYS h", later)), ["live"]);
    assert_eq!(sorted(c.cmd_at("HVALS h", later)), ["1"]);
    assert_eq!(
        c.cmd_at("HGETALL h", later),
        Frame::Array(vec![bulk("live"), bulk("1")])
    );
    assert_eq!(c.cmd_at("HRANDFIELD h", later), bulk("live"));
    assert_eq!(
        c.cmd_at("HRANDFIELD h 5", later),
        Frame::Array(vec![bulk("live")])
    );
    assert_eq!(
        c.cmd_at("HRANDFIELD h -3", later),
        Frame::Array(vec![bulk("live"); 3])
    );
    assert_eq!(
        c.cmd_at("HSCAN h 0", later),
        Frame::Array(vec![bulk("0"), Frame::Array(vec![bulk("live"), bulk("1")])])
    );
    c.set_protocol(Protocol::Resp3);
    assert_eq!(
        c.cmd_at("HGETALL h", later),
        Frame::Map(vec![(bulk("live"), bulk("1"))])
    );
    c.set_protocol(Protocol::Resp2);
    // Reads cannot reclaim (they hold a shared lock); the next write does, and counts it.
    let subkeys = |c: &Client| {
        c.engine
            .keyspace
            .expired_subkeys
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(subkeys(&c), 0);
    assert_eq!(c.cmd_at("HDEL h gone", later), int(0));
    assert_eq!(subkeys(&c), 1);
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 0, "no field TTL left");
    // A big hash (not compact) is scanned without its expired fields too.
    for i in 0..600 {
        c.cmd_at(&format!("HSET big f{i} v"), t);
    }
    c.cmd_at("HPEXPIRE big 5 FIELDS 3 f1 f2 f3", t);
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    loop {
        let Frame::Array(mut reply) = c.cmd_at(&format!("HSCAN big {cursor} COUNT 100"), t + 5)
        else {
            panic!("an array")
        };
        let Some(Frame::Array(items)) = reply.pop() else {
            panic!("a batch")
        };
        let Some(Frame::Bulk(next)) = reply.pop() else {
            panic!("a cursor")
        };
        for pair in items.chunks(2) {
            if let Frame::Bulk(f) = &pair[0] {
                seen.insert(String::from_utf8(f.to_vec()).expect("utf-8"));
            }
        }
        cursor = String::from_utf8(next.to_vec()).expect("digits");
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 597);
    assert!(!seen.contains("f1") && seen.contains("f0"));
}

#[test]
fn a_hash_whose_fields_all_expired_is_a_missing_key() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1 b 2", t);
    c.cmd_at("HPEXPIRE h 10 FIELDS 1 a", t);
    c.cmd_at("HPEXPIRE h 20 FIELDS 1 b", t);
    assert_eq!(c.cmd_at("EXISTS h", t + 19), int(1));
    let later = t + 20;
    assert_eq!(c.cmd_at("EXISTS h", later), int(0));
    assert_eq!(c.cmd_at("TYPE h", later), Frame::simple("none"));
    assert_eq!(c.cmd_at("HLEN h", later), int(0));
    assert_eq!(c.cmd_at("HGETALL h", later), Frame::Array(vec![]));
    assert_eq!(c.cmd_at("HRANDFIELD h", later), Frame::NullBulk);
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 a", later), ints(&[-2]));
    assert_eq!(c.cmd_at("RENAME h x", later), err("ERR no such key"));
    assert_eq!(c.cmd_at("DUMP h", later), Frame::NullBulk);
    // The lookups above reclaimed it, as they reclaim an expired key.
    assert_eq!(c.cmd_at("DBSIZE", later), int(0));
    // A write treats it as missing: it is reclaimed and a new hash starts.
    assert_eq!(c.cmd_at("HSET h c 3", later), int(1));
    assert_eq!(
        c.cmd_at("HGETALL h", later),
        Frame::Array(vec![bulk("c"), bulk("3")])
    );
    assert_eq!(
        c.engine
            .keyspace
            .expired_subkeys
            .load(std::sync::atomic::Ordering::Relaxed),
        2,
        "both fields count as expired; the key does not"
    );
    assert_eq!(
        c.engine
            .keyspace
            .expired_keys
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 0);
}

#[test]
fn overwrites_clear_the_ttl_and_increments_keep_it() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1 n 5 x 1.5 s v", t);
    c.cmd_at("HEXPIRE h 100 FIELDS 4 a n x s", t);
    // HINCRBY and HINCRBYFLOAT change the value but not the field: the TTL stays.
    assert_eq!(c.cmd_at("HINCRBY h n 1", t), int(6));
    assert_eq!(c.cmd_at("HINCRBYFLOAT h x 1", t), bulk("2.5"));
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 n x", t), ints(&[100, 100]));
    // HSET, HMSET and HSETNX on a missing field write a persistent one.
    assert_eq!(c.cmd_at("HSET h a 2", t), int(0));
    assert_eq!(c.cmd_at("HMSET h s w", t), Frame::simple("OK"));
    assert_eq!(c.cmd_at("HTTL h FIELDS 2 a s", t), ints(&[-1, -1]));
    assert_eq!(c.cmd_at("HSETNX h n 0", t), int(0));
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 n", t), ints(&[100]));
    // After its time, a field is missing to every writer: increments start from 0 and
    // HSETNX sets it, without a TTL.
    let later = t + 100_000;
    assert_eq!(c.cmd_at("HINCRBY h n 1", later), int(1));
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 n", later), ints(&[-1]));
    assert_eq!(c.cmd_at("HSETNX h x new", later), int(1));
    assert_eq!(c.cmd_at("HGET h x", later), bulk("new"));
    assert_eq!(c.cmd_at("HDEL h x x", later), int(1));
}

#[test]
fn encoding_names_follow_redis_7_4() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1", t);
    assert_eq!(c.cmd_at("OBJECT ENCODING h", t), bulk("listpack"));
    c.cmd_at("HEXPIRE h 100 FIELDS 1 a", t);
    assert_eq!(c.cmd_at("OBJECT ENCODING h", t), bulk("listpackex"));
    c.cmd_at(
        "HSET h big 0123456789012345678901234567890123456789012345678901234567890123456789",
        t,
    );
    assert_eq!(c.cmd_at("OBJECT ENCODING h", t), bulk("hashtable"));
    c.cmd_at("HDEL h big", t);
    assert_eq!(
        c.cmd_at("OBJECT ENCODING h", t),
        bulk("hashtable"),
        "a hash never converts back"
    );
    assert_eq!(c.cmd_at("HTTL h FIELDS 1 a", t), ints(&[100]));
    c.cmd_at("HSET s a 1", t);
    c.cmd_at("HEXPIRE s 100 FIELDS 1 a", t);
    c.cmd_at("HPERSIST s FIELDS 1 a", t);
    assert_eq!(c.cmd_at("OBJECT ENCODING s", t), bulk("listpack"));
}

// ---------------------------------------------------------------------------------------------
// The field-expiry index and active reclamation
// ---------------------------------------------------------------------------------------------

#[test]
fn active_expiry_reclaims_fields_nobody_reads() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1 b 2 c 3", t);
    c.cmd_at("HPEXPIRE h 10 FIELDS 2 a b", t);
    c.cmd_at("HPEXPIRE h 30 FIELDS 1 c", t);
    c.cmd_at("HSET other x 1", t);
    c.cmd_at("HPEXPIRE other 10 FIELDS 1 x", t);
    c.cmd_at("PEXPIRE other 1000", t);
    let ks = &c.engine.keyspace;
    let subkeys = || {
        ks.expired_subkeys
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(ks.db_subexpiry(0), 2);
    assert_eq!(ks.expire_fields_cycle(t + 9, 100), 0, "nothing is due yet");
    // A budget of one reclaims one field.
    assert_eq!(ks.expire_fields_cycle(t + 10, 1), 1);
    assert_eq!(subkeys(), 1);
    assert_eq!(ks.expire_fields_cycle(t + 10, 100), 2);
    assert_eq!(subkeys(), 3);
    // `other` lost its only field and went, key TTL and all; `h` keeps c, still indexed.
    assert_eq!(ks.db_len(0), 1);
    assert_eq!(ks.db_volatile(0), 0);
    assert_eq!(ks.db_subexpiry(0), 1);
    assert_eq!(ks.expire_fields_cycle(t + 30, 100), 1);
    assert_eq!(ks.db_len(0), 0);
    assert_eq!(ks.db_subexpiry(0), 0);
    assert_eq!(subkeys(), 4);
    assert_eq!(
        ks.expired_keys.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn the_field_index_follows_the_hash() {
    let mut c = Client::new();
    let t = T0;
    let later = t + 10;
    let setup = |c: &mut Client, key: &str| {
        c.cmd_at(&format!("HSET {key} a 1 b 2"), t);
        c.cmd_at(&format!("HPEXPIRE {key} 10 FIELDS 1 a"), t);
    };
    // RENAME, COPY and MOVE carry the TTLs; the cycle finds them under their new names.
    setup(&mut c, "h");
    c.cmd_at("RENAME h r", t);
    c.cmd_at("COPY r cp", t);
    c.cmd_at("MOVE cp 1", t);
    assert_eq!(c.cmd_at("HPTTL r FIELDS 2 a b", t), ints(&[10, -1]));
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 1);
    assert_eq!(c.engine.keyspace.db_subexpiry(1), 1);
    assert_eq!(c.engine.keyspace.expire_fields_cycle(later, 100), 2);
    c.cmd_at("SELECT 1", t);
    assert_eq!(
        c.cmd_at("HGETALL cp", later),
        Frame::Array(vec![bulk("b"), bulk("2")])
    );
    c.cmd_at("SELECT 0", t);
    assert_eq!(
        c.cmd_at("HGETALL r", later),
        Frame::Array(vec![bulk("b"), bulk("2")])
    );
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 0);
    // DEL, SET over the hash, FLUSHDB and key expiry drop it from the index.
    setup(&mut c, "d");
    c.cmd_at("DEL d", t);
    setup(&mut c, "s");
    c.cmd_at("SET s v", t);
    setup(&mut c, "e");
    c.cmd_at("PEXPIRE e 5", t);
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 1);
    assert_eq!(c.engine.keyspace.expire_cycle(t + 5, 100), 1);
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 0);
    setup(&mut c, "f");
    c.cmd_at("FLUSHDB", t);
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 0);
    // SWAPDB takes the index with the data.
    setup(&mut c, "w");
    c.cmd_at("SWAPDB 0 2", t);
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 0);
    assert_eq!(c.engine.keyspace.db_subexpiry(2), 1);
    assert_eq!(c.engine.keyspace.expire_fields_cycle(later, 100), 1);
    c.cmd_at("SELECT 2", t);
    assert_eq!(c.cmd_at("HKEYS w", later), Frame::Array(vec![bulk("b")]));
    assert_eq!(
        c.engine
            .keyspace
            .expired_subkeys
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[test]
fn dump_and_restore_keep_field_ttls() {
    let mut c = Client::new();
    let t = T0;
    c.cmd_at("HSET h a 1 b 2 c 3", t);
    c.cmd_at("HPEXPIRE h 100 FIELDS 1 a", t);
    c.cmd_at("HPEXPIRE h 50 FIELDS 1 b", t);
    let Frame::Bulk(payload) = c.cmd_at("DUMP h", t) else {
        panic!("a payload")
    };
    assert_eq!(payload[0], crate::dump::Tag::HashWithTtls as u8);
    let restore = |c: &mut Client, key: &str, now: u64| {
        c.run_at(&[&b"RESTORE"[..], key.as_bytes(), b"0", &payload], now)
    };
    assert_eq!(restore(&mut c, "copy", t), Frame::simple("OK"));
    assert_eq!(
        c.cmd_at("HPEXPIRETIME copy FIELDS 3 a b c", t),
        ints(&[(T0 + 100) as i64, (T0 + 50) as i64, -1])
    );
    assert_eq!(c.engine.keyspace.db_subexpiry(0), 2);
    // Fields whose time passed in between are not restored.
    assert_eq!(restore(&mut c, "late", t + 50), Frame::simple("OK"));
    assert_eq!(sorted(c.cmd_at("HKEYS late", t + 50)), ["a", "c"]);
    // A hash without field TTLs keeps the old payload (tag 4), which still restores.
    c.cmd_at("HSET plain f v", t);
    let Frame::Bulk(old) = c.cmd_at("DUMP plain", t) else {
        panic!("a payload")
    };
    assert_eq!(old[0], crate::dump::Tag::Hash as u8);
    assert_eq!(
        c.run_at(&[b"RESTORE", b"plain2", b"0", &old], t),
        Frame::simple("OK")
    );
    assert_eq!(
        c.cmd_at("HGETALL plain2", t),
        Frame::Array(vec![bulk("f"), bulk("v")])
    );
    // A hash whose every field has expired creates nothing, like a TTL in the past.
    c.cmd_at("HSET gone f v", t);
    c.cmd_at("HPEXPIRE gone 10 FIELDS 1 f", t);
    let Frame::Bulk(gone) = c.cmd_at("DUMP gone", t) else {
        panic!("a payload")
    };
    assert_eq!(
        c.run_at(&[b"RESTORE", b"gone2", b"0", &gone], t + 10),
        Frame::simple("OK")
    );
    assert_eq!(c.cmd_at("EXISTS gone2", t + 10), int(0));
}

#[test]
fn payloads_with_field_ttls_have_a_fixed_layout() {
    use crate::dump::{deserialize, serialize, FORMAT_VERSION};
    let mut hash = crate::HashValue::new();
    hash.insert(b"f", b"v", crate::hash_value::Limits::DEFAULT);
    hash.set_expiry(b"f", 300);
    let payload = serialize(&crate::Value::Hash(hash.clone()));
    // Tag 6, one field, "f", "v", expiry 300 as a varint (0xac 0x02), then the footer.
    assert_eq!(&payload[..8], b"\x06\x01\x01f\x01v\xac\x02");
    assert_eq!(&payload[8..10], &FORMAT_VERSION.to_le_bytes());
    assert_eq!(deserialize(&payload), Ok(crate::Value::Hash(hash)));
    // A field without a TTL in a tag-6 payload is written as expiry 0.
    let sealed = |body: &[u8]| {
        let mut out = body.to_vec();
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crate::dump::crc64(0, &out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    };
    let Ok(crate::Value::Hash(h)) = deserialize(&sealed(b"\x06\x02\x01a\x011\x00\x01b\x012\x05"))
    else {
        panic!("a hash")
    };
    assert_eq!((h.expires_at(b"a"), h.expires_at(b"b")), (None, Some(5)));
    for bad in [
        &b"\x06\x01\x01f\x01v"[..],              // no expiry
        b"\x06\x01\x01f\x01v\x80",               // unfinished varint
        b"\x06\x02\x01f\x01v\x00\x01f\x01w\x00", // a field twice
        b"\x06\x00",                             // empty
    ] {
        assert_eq!(
            deserialize(&sealed(bad)),
            Err(crate::dump::PayloadError::BadFormat),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Table rows
// ---------------------------------------------------------------------------------------------

#[test]
fn rows_match_redis_8_facts() {
    let row = |name: &str| {
        COMMANDS
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    for (name, arity, readonly, since) in [
        ("hexpire", -6, false, "7.4.0"),
        ("hpexpire", -6, false, "7.4.0"),
        ("hexpireat", -6, false, "7.4.0"),
        ("hpexpireat", -6, false, "7.4.0"),
        ("httl", -5, true, "7.4.0"),
        ("hpttl", -5, true, "7.4.0"),
        ("hexpiretime", -5, true, "7.4.0"),
        ("hpexpiretime", -5, true, "7.4.0"),
        ("hpersist", -5, false, "7.4.0"),
        ("hgetex", -5, false, "8.0.0"),
        ("hsetex", -6, false, "8.0.0"),
        ("hgetdel", -5, false, "8.0.0"),
    ] {
        let spec = row(name);
        assert_eq!(spec.arity, arity, "{name}");
        assert_eq!(spec.since, since, "{name}");
        assert_eq!((spec.keys.first, spec.keys.last, spec.keys.step), (1, 1, 1));
        assert_eq!(spec.key_count_at, None, "numfields counts fields, not keys");
        let rw = if readonly { "@read" } else { "@write" };
        let acl: Vec<String> = spec
            .acl_categories()
            .iter()
            .map(|c| format!("@{c}"))
            .collect();
        assert_eq!(acl, [rw, "@hash", "@fast"], "{name}");
        let denyoom = spec.has(crate::Flags::DENYOOM);
        assert_eq!(denyoom, name == "hsetex", "{name}");
    }
    assert_eq!(row("hgetdel").key_flags, ["RW", "access", "delete"]);
    assert_eq!(row("hgetex").key_flags, ["RW", "access", "update"]);
}

// ---------------------------------------------------------------------------------------------
// Model-based property test
// ---------------------------------------------------------------------------------------------

/// One step of the random sequences.
#[derive(Debug, Clone)]
enum Op {
    /// HSET key field value.
    Set(usize, usize, u8),
    /// HDEL key field.
    Del(usize, usize),
    /// HPEXPIRE key ms FIELDS 1 field (0 deletes).
    Expire(usize, usize, u64),
    /// HPERSIST key FIELDS 1 field.
    Persist(usize, usize),
    /// HGET key field.
    Get(usize, usize),
    /// HINCRBY key field 1.
    Incr(usize, usize),
    /// RENAME key other-key.
    Rename(usize),
    /// The clock moves on.
    Advance(u64),
    /// The active cycle runs, with a small budget.
    Cycle(usize),
}

const KEYS: [&str; 2] = ["k0", "k1"];
const FIELDS: [&str; 4] = ["a", "b", "c", "d"];

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let field = 0..FIELDS.len();
    prop_oneof![
        4 => (key.clone(), field.clone(), any::<u8>()).prop_map(|(k, f, v)| Op::Set(k, f, v)),
        1 => (key.clone(), field.clone()).prop_map(|(k, f)| Op::Del(k, f)),
        4 => (key.clone(), field.clone(), prop_oneof![Just(0u64), 1..50u64])
            .prop_map(|(k, f, ms)| Op::Expire(k, f, ms)),
        1 => (key.clone(), field.clone()).prop_map(|(k, f)| Op::Persist(k, f)),
        2 => (key.clone(), field.clone()).prop_map(|(k, f)| Op::Get(k, f)),
        1 => (key.clone(), field.clone()).prop_map(|(k, f)| Op::Incr(k, f)),
        1 => key.prop_map(Op::Rename),
        3 => (0..30u64).prop_map(Op::Advance),
        2 => (1..4usize).prop_map(Op::Cycle),
    ]
}

/// The model: per key, field to (value, expiry), whether Redis would still have it small
/// (a listpack), and the clock.
#[derive(Debug, Default)]
struct Model {
    keys: [BTreeMap<String, (String, Option<u64>)>; 2],
    small: [bool; 2],
    now: u64,
}

impl Model {
    /// The form after a write of one field of key `k` (`hashTypeSet`): a new hash starts
    /// small (`was_empty`), and one with more than `max` fields is large for good.
    fn wrote(&mut self, k: usize, was_empty: bool, max: usize) {
        if was_empty {
            self.small[k] = true;
        }
        if self.keys[k].len() > max {
            self.small[k] = false;
        }
    }
}

impl Model {
    /// Drops what has expired: the model's view is what a client may see.
    fn settle(&mut self) {
        let now = self.now;
        for hash in &mut self.keys {
            hash.retain(|_, (_, at)| at.is_none_or(|at| at > now));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random HSET/HDEL/HPEXPIRE/HPERSIST/HGET/HINCRBY/RENAME, clock steps and active cycles
    /// agree with a plain map of field to (value, expiry): expired fields are never visible,
    /// a key with no live field does not exist, and the active cycle leaves nothing stale
    /// behind (no expired field stored, no empty hash, an index entry exactly for the hashes
    /// with field TTLs).
    #[test]
    fn field_expiry_matches_a_model(
        max in prop_oneof![Just(0usize), Just(1), Just(2), Just(3), Just(512)],
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut c = Client::new();
        // A small entry threshold makes the hashes cross into the large form mid-sequence:
        // expiry must behave the same in both forms.
        c.engine.config.hash_max_listpack_entries.store(max as u64, std::sync::atomic::Ordering::Relaxed);
        let mut m = Model { now: T0, ..Model::default() };
        for op in ops {
            m.settle();
            let now = m.now;
            match op {
                Op::Set(k, f, v) => {
                    let line = format!("HSET {} {} {v}", KEYS[k], FIELDS[f]);
                    let was_empty = m.keys[k].is_empty();
                    let new = m.keys[k].insert(FIELDS[f].into(), (v.to_string(), None)).is_none();
                    m.wrote(k, was_empty, max);
                    prop_assert_eq!(c.cmd_at(&line, now), int(i64::from(new)), "{}", line);
                }
                Op::Del(k, f) => {
                    let line = format!("HDEL {} {}", KEYS[k], FIELDS[f]);
                    let had = m.keys[k].remove(FIELDS[f]).is_some();
                    prop_assert_eq!(c.cmd_at(&line, now), int(i64::from(had)), "{}", line);
                }
                Op::Expire(k, f, ms) => {
                    let line = format!("HPEXPIRE {} {ms} FIELDS 1 {}", KEYS[k], FIELDS[f]);
                    let code = match m.keys[k].get_mut(FIELDS[f]) {
                        None => -2,
                        Some(_) if ms == 0 => {
                            m.keys[k].remove(FIELDS[f]);
                            2
                        }
                        Some((_, at)) => {
                            *at = Some(now + ms);
                            1
                        }
                    };
                    prop_assert_eq!(c.cmd_at(&line, now), ints(&[code]), "{}", line);
                }
                Op::Persist(k, f) => {
                    let line = format!("HPERSIST {} FIELDS 1 {}", KEYS[k], FIELDS[f]);
                    let code = match m.keys[k].get_mut(FIELDS[f]) {
                        None => -2,
                        Some((_, None)) => -1,
                        Some((_, at)) => {
                            *at = None;
                            1
                        }
                    };
                    prop_assert_eq!(c.cmd_at(&line, now), ints(&[code]), "{}", line);
                }
                Op::Get(k, f) => {
                    let line = format!("HGET {} {}", KEYS[k], FIELDS[f]);
                    let expected = m.keys[k].get(FIELDS[f]).map_or(Frame::NullBulk, |(v, _)| bulk(v));
                    prop_assert_eq!(c.cmd_at(&line, now), expected, "{}", line);
                }
                Op::Incr(k, f) => {
                    let line = format!("HINCRBY {} {} 1", KEYS[k], FIELDS[f]);
                    let was_empty = m.keys[k].is_empty();
                    let entry = m.keys[k].entry(FIELDS[f].into()).or_insert(("0".into(), None));
                    let n: i64 = entry.0.parse().expect("model values are integers");
                    entry.0 = (n + 1).to_string();
                    m.wrote(k, was_empty, max);
                    prop_assert_eq!(c.cmd_at(&line, now), int(n + 1), "{}", line);
                }
                Op::Rename(k) => {
                    let (from, to) = (KEYS[k], KEYS[1 - k]);
                    let line = format!("RENAME {from} {to}");
                    if m.keys[k].is_empty() {
                        prop_assert_eq!(c.cmd_at(&line, now), err("ERR no such key"), "{}", line);
                    } else {
                        m.keys[1 - k] = std::mem::take(&mut m.keys[k]);
                        m.small[1 - k] = m.small[k];
                        prop_assert_eq!(c.cmd_at(&line, now), Frame::simple("OK"), "{}", line);
                    }
                }
                Op::Advance(ms) => m.now += ms,
                Op::Cycle(budget) => {
                    c.engine.keyspace.expire_fields_cycle(now, budget);
                }
            }
            // After every step, every key looks like the model at the (possibly new) time.
            m.settle();
            let now = m.now;
            for (k, key) in KEYS.iter().enumerate() {
                let live = &m.keys[k];
                prop_assert_eq!(c.cmd_at(&format!("EXISTS {key}"), now), int(i64::from(!live.is_empty())));
                prop_assert_eq!(c.cmd_at(&format!("HLEN {key}"), now), int(live.len() as i64));
                let mut expected: Vec<String> = live.iter().flat_map(|(f, (v, _))| [f.clone(), v.clone()]).collect();
                expected.sort();
                prop_assert_eq!(sorted(c.cmd_at(&format!("HGETALL {key}"), now)), expected);
                let fields = FIELDS.join(" ");
                let ttls: Vec<i64> = FIELDS.iter().map(|f| match live.get(*f) {
                    None => -2,
                    Some((_, None)) => -1,
                    Some((_, Some(at))) => (at - now) as i64,
                }).collect();
                prop_assert_eq!(c.cmd_at(&format!("HPTTL {key} FIELDS 4 {fields}"), now), ints(&ttls));
                if !live.is_empty() {
                    // `listpackex` while a TTL is stored, expired or not: compare the form only.
                    let form = match c.cmd_at(&format!("OBJECT ENCODING {key}"), now) {
                        Frame::Bulk(name) if &name[..] == b"listpackex" => "listpack".to_string(),
                        Frame::Bulk(name) => String::from_utf8_lossy(&name).into_owned(),
                        other => format!("{other:?}"),
                    };
                    let expected = if m.small[k] { "listpack" } else { "hashtable" };
                    prop_assert_eq!(form, expected);
                }
            }
        }
        // A full cycle leaves exactly the live data stored, and the index exactly right.
        let ks = &c.engine.keyspace;
        ks.expire_fields_cycle(m.now, usize::MAX);
        let stored = m.keys.iter().filter(|h| !h.is_empty()).count();
        prop_assert_eq!(ks.db_len(0), stored);
        let volatile = m.keys.iter().filter(|h| h.values().any(|(_, at)| at.is_some())).count();
        prop_assert_eq!(ks.db_subexpiry(0), volatile);
    }
}
