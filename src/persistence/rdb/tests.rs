//! The codec's specification as tests: round trips of every type and encoding, the sizes
//! DEBUG OBJECT reports, old formats built by hand, damaged input, and (in `interop`) files
//! and payloads exchanged with a real `redis-server` 7.0.

use std::collections::{BTreeMap, BTreeSet};

use super::writer::{Options, dump_payload_with, write_entry_with, write_len, write_string};
use super::*;
use crate::keyspace::hash::HashValue;
use crate::keyspace::list::ListValue;
use crate::keyspace::set::SetValue;
use crate::keyspace::zset::ZSet;
use crate::keyspace::{NO_EXPIRY, StringValue};

mod interop;

const PLAIN: Options = Options {
    compression: false,
    save_lru: false,
    save_lfu: false,
};
const COMPRESSED: Options = Options {
    compression: true,
    save_lru: false,
    save_lfu: false,
};

/// A value's content in a comparable form, whatever its encoding.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Content {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// Ascending; scores compared by bits (so -0 and 0 differ).
    ZSet(Vec<(u64, Vec<u8>)>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
}

pub(super) fn content(value: &Value) -> Content {
    match value {
        Value::String(s) => Content::Str(s.to_vec()),
        Value::List(l) => Content::List(l.iter().map(|i| i.to_vec()).collect()),
        Value::Set(s) => Content::Set(s.iter().map(|m| m.to_vec()).collect()),
        Value::ZSet(z) => Content::ZSet(
            z.elements()
                .into_iter()
                .map(|(s, m)| (s.to_bits(), m))
                .collect(),
        ),
        Value::Hash(h) => Content::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()),
    }
}

pub(super) fn string(s: &[u8]) -> Value {
    Value::String(StringValue::from_bytes(s))
}

pub(super) fn list(items: &[Vec<u8>]) -> Value {
    Value::List(Box::new(ListValue::from_items(
        items.iter().map(|i| &i[..]),
    )))
}

pub(super) fn set(members: &[Vec<u8>]) -> Value {
    let mut s = SetValue::for_member(&members[0]);
    for m in members {
        s.add(m);
    }
    Value::Set(s)
}

pub(super) fn zset(elements: &[(f64, Vec<u8>)]) -> Value {
    Value::ZSet(ZSet::from_elements(elements.to_vec()))
}

pub(super) fn hash(pairs: &[(Vec<u8>, Vec<u8>)]) -> Value {
    let mut h = HashValue::new();
    for (f, v) in pairs {
        h.set(f, v);
    }
    Value::Hash(h)
}

fn texts(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}{i}").into_bytes())
        .collect()
}

/// Every kind of value kopi holds, in each of its encodings, named.
pub(super) fn samples() -> Vec<(&'static str, Value)> {
    let pseudo_random: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut with_ints = texts("e", 10);
    with_ints.extend(
        ["0", "-1", "127", "-4096", "40000", "9000000", "3000000000"]
            .map(|s| s.as_bytes().to_vec()),
    );
    vec![
        ("str-small", string(b"hello")),
        ("str-empty", string(b"")),
        ("str-int8", string(b"-7")),
        ("str-int16", string(b"12345")),
        ("str-int32", string(b"-2147483648")),
        ("str-int64", string(b"12345678901234")),
        ("str-not-canonical", string(b"007")),
        ("str-compressible", string(&[b'a'; 100])),
        ("str-incompressible", string(&pseudo_random)),
        ("str-binary", string(b"\x00\xff\r\n")),
        ("list-small", list(&with_ints)),
        ("list-long", list(&texts("item-", 3000))),
        ("list-big-items", list(&vec![vec![b'x'; 10_000]; 3])),
        ("set-intset-16", set(&texts("", 10))),
        (
            "set-intset-64",
            set(&[b"1".to_vec(), b"-9223372036854775808".to_vec()]),
        ),
        ("set-hashtable", set(&texts("m", 20))),
        ("set-big-ints", set(&texts("", 600))),
        (
            "zset-listpack",
            zset(&[
                (1.0, b"a".to_vec()),
                (1.5, b"b".to_vec()),
                (-2.0, b"c".to_vec()),
                (3e10, b"d".to_vec()),
                (f64::INFINITY, b"e".to_vec()),
                (f64::NEG_INFINITY, b"f".to_vec()),
                (0.1, b"g".to_vec()),
                (1e17, b"h".to_vec()),
            ]),
        ),
        (
            "zset-skiplist",
            zset(
                &(0..200)
                    .map(|i| (i as f64 * 0.5 - 10.0, format!("m{i}").into_bytes()))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("zset-long-member", zset(&[(1.0, vec![b'q'; 100])])),
        (
            "hash-listpack",
            hash(&[
                (b"f1".to_vec(), b"v1".to_vec()),
                (b"f2".to_vec(), b"2".to_vec()),
                (b"n".to_vec(), b"-100000".to_vec()),
            ]),
        ),
        (
            "hash-hashtable",
            hash(
                &texts("f", 600)
                    .into_iter()
                    .zip(texts("v", 600))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("hash-long-value", hash(&[(b"f".to_vec(), vec![b'v'; 100])])),
    ]
}

/// The samples small enough to damage at every byte (one of each encoding still).
fn small_samples() -> Vec<(&'static str, Value)> {
    const BIG: [&str; 5] = [
        "list-long",
        "list-big-items",
        "set-big-ints",
        "zset-skiplist",
        "hash-hashtable",
    ];
    samples()
        .into_iter()
        .filter(|(name, _)| !BIG.contains(name))
        .collect()
}

#[test]
fn negative_zero_scores_keep_their_sign_in_a_skiplist() {
    let value = zset(
        &(0..200)
            .map(|i| (i as f64, format!("m{i}").into_bytes()))
            .chain([(-0.0, b"negzero".to_vec())])
            .collect::<Vec<_>>(),
    );
    assert_eq!(value.encoding_name(), "skiplist");
    let back = restore_payload(&dump_payload_with(&value, true)).unwrap();
    assert_eq!(content(&back), content(&value));
    let Value::ZSet(z) = back else { panic!() };
    assert!(z.score(b"negzero").unwrap().is_sign_negative());
}

#[test]
fn dump_and_restore_round_trip_every_encoding() {
    for (name, value) in samples() {
        for compression in [false, true] {
            let payload = dump_payload_with(&value, compression);
            let back = restore_payload(&payload).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(content(&back), content(&value), "{name}");
            assert_eq!(back.encoding_name(), value.encoding_name(), "{name}");
            // Loading builds the same layout, so writing it again gives the same bytes.
            assert_eq!(dump_payload_with(&back, compression), payload, "{name}");
        }
    }
}

#[test]
fn uncompressed_sizes_agree_with_debug_object_serializedlength() {
    for (name, value) in samples() {
        let mut out = Vec::new();
        writer::write_value(&mut out, &value, false);
        assert_eq!(out.len(), value.serialized_length(), "{name}");
    }
}

#[test]
fn compression_applies_only_where_it_saves_four_bytes() {
    let mut out = Vec::new();
    write_string(&mut out, &[b'a'; 100], true);
    assert_eq!(out[0], ENC_LZF);
    let mut short = Vec::new();
    write_string(&mut short, &[b'a'; 20], true);
    assert_eq!(short[0], 20, "20 bytes are never compressed");
    let mut ints = Vec::new();
    for s in [
        "0",
        "-128",
        "127",
        "128",
        "-32768",
        "32767",
        "32768",
        "2147483647",
        "2147483648",
    ] {
        write_string(&mut ints, s.as_bytes(), true);
    }
    assert_eq!(
        ints,
        [
            &[0xc0, 0][..],
            &[0xc0, 0x80],
            &[0xc0, 0x7f],
            &[0xc1, 0x80, 0],
            &[0xc1, 0, 0x80],
            &[0xc1, 0xff, 0x7f],
            &[0xc2, 0, 0x80, 0, 0],
            &[0xc2, 0xff, 0xff, 0xff, 0x7f],
            &[
                10, b'2', b'1', b'4', b'7', b'4', b'8', b'3', b'6', b'4', b'8'
            ],
        ]
        .concat()
    );
}

#[test]
fn lengths_use_redis_widths() {
    let mut out = Vec::new();
    for len in [
        0u64,
        63,
        64,
        16383,
        16384,
        u32::MAX as u64,
        u32::MAX as u64 + 1,
    ] {
        write_len(&mut out, len);
    }
    assert_eq!(
        out,
        [
            &[0x00][..],
            &[0x3f],
            &[0x40, 0x40],
            &[0x7f, 0xff],
            &[0x80, 0, 0, 0x40, 0],
            &[0x80, 0xff, 0xff, 0xff, 0xff],
            &[0x81, 0, 0, 0, 1, 0, 0, 0, 0],
        ]
        .concat()
    );
}

/// The empty base from the research notes' Appendix A, with our version string.
#[test]
fn header_matches_redis_7_0_15_layout() {
    let mut out = Vec::new();
    write_header(&mut out, true, 1_700_000_000, 1_000_000);
    let mut expected = b"REDIS0010".to_vec();
    expected.extend_from_slice(b"\xfa\x09redis-ver\x067.0.15");
    expected.extend_from_slice(b"\xfa\x0aredis-bits\xc0\x40");
    expected.extend_from_slice(b"\xfa\x05ctime\xc2");
    expected.extend_from_slice(&1_700_000_000i32.to_le_bytes());
    expected.extend_from_slice(b"\xfa\x08used-mem\xc2");
    expected.extend_from_slice(&1_000_000i32.to_le_bytes());
    expected.extend_from_slice(b"\xfa\x08aof-base\xc0\x01");
    assert_eq!(out, expected);
}

/// Appendix A's keys, byte for byte.
#[test]
fn values_match_redis_7_0_15_bytes() {
    let check = |value: Value, expected: &[u8]| {
        let mut out = vec![writer::value_type(&value)];
        writer::write_value(&mut out, &value, true);
        assert_eq!(out, expected);
    };
    check(
        hash(&[
            (b"f1".to_vec(), b"v1".to_vec()),
            (b"f2".to_vec(), b"2".to_vec()),
        ]),
        b"\x10\x15\x15\x00\x00\x00\x04\x00\x82f1\x03\x82v1\x03\x82f2\x03\x02\x01\xff",
    );
    check(
        zset(&[(1.5, b"m1".to_vec()), (2.0, b"m2".to_vec())]),
        b"\x11\x16\x16\x00\x00\x00\x04\x00\x82m1\x03\x831.5\x04\x82m2\x03\x02\x01\xff",
    );
    check(string(b"12345"), b"\x00\xc1\x39\x30");
    check(
        list(&[b"a".to_vec(), b"b".to_vec(), b"3".to_vec()]),
        b"\x12\x01\x02\x0f\x0f\x00\x00\x00\x03\x00\x81a\x02\x81b\x02\x03\x01\xff",
    );
    check(
        set(&[b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]),
        b"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00",
    );
    // 100 × 'a': LZF with a 14-bit original length of 100 (Redis's blob is 9 bytes).
    let mut out = Vec::new();
    write_string(&mut out, &[b'a'; 100], true);
    assert_eq!(&out[..1], b"\xc3");
    assert_eq!(&out[2..4], b"\x40\x64");
}

/// A whole file: header, two databases, keys with expiry and eviction data, the end.
fn sample_file(options: Options, checksum: bool) -> (Vec<u8>, Vec<Item>) {
    sample_file_of(samples(), options, checksum)
}

fn sample_file_of(
    samples: Vec<(&'static str, Value)>,
    options: Options,
    checksum: bool,
) -> (Vec<u8>, Vec<Item>) {
    let mut out = Vec::new();
    let mut expected = Vec::new();
    write_header(&mut out, false, 1_700_000_000, 123_456_789_012);
    for (k, v) in [
        ("redis-ver", "7.0.15"),
        ("redis-bits", "64"),
        ("ctime", "1700000000"),
        ("used-mem", "123456789012"),
        ("aof-base", "0"),
    ] {
        expected.push(Item::Aux {
            key: k.as_bytes().to_vec(),
            value: v.as_bytes().to_vec(),
        });
    }
    let half = samples.len() / 2;
    for (db, chunk) in [(0usize, &samples[..half]), (7, &samples[half..])] {
        write_db_start(&mut out, db, chunk.len() as u64, 1);
        expected.push(Item::SelectDb(db));
        expected.push(Item::ResizeDb {
            keys: chunk.len() as u64,
            expires: 1,
        });
        for (i, (name, value)) in chunk.iter().enumerate() {
            let mut entry = Entry::new(name.as_bytes(), value.clone());
            entry.access_s = 1000;
            entry.freq = 9;
            if i == 1 {
                entry.expire_at_ms = 1_800_000_000_123;
            }
            write_entry_with(&mut out, &entry, options, 1000 + 120);
            expected.push(Item::Key {
                key: name.as_bytes().to_vec(),
                value: value.clone(),
                expire_at_ms: entry.expire_at_ms,
                idle_s: options.save_lru.then_some(120),
                freq: options.save_lfu.then_some(7),
            });
        }
    }
    let mut crc = Crc64::new();
    crc.update(&out);
    write_end(&mut out, &mut crc, checksum);
    let end = out.len() as u64;
    expected.push(Item::End {
        end,
        checksum_checked: checksum,
    });
    (out, expected)
}

fn read_all(bytes: &[u8]) -> Result<Vec<Item>, RdbError> {
    let mut reader = RdbReader::new(bytes)?;
    let mut items = Vec::new();
    loop {
        let item = reader.next_item()?;
        let end = matches!(item, Item::End { .. });
        items.push(item);
        if end {
            return Ok(items);
        }
    }
}

fn assert_same_items(got: &[Item], expected: &[Item]) {
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(expected) {
        match (g, e) {
            (
                Item::Key {
                    key,
                    value,
                    expire_at_ms,
                    idle_s,
                    freq,
                },
                Item::Key {
                    key: k2,
                    value: v2,
                    expire_at_ms: x2,
                    idle_s: i2,
                    freq: f2,
                },
            ) => {
                assert_eq!(key, k2);
                assert_eq!(
                    content(value),
                    content(v2),
                    "{}",
                    String::from_utf8_lossy(key)
                );
                assert_eq!(value.encoding_name(), v2.encoding_name());
                assert_eq!((expire_at_ms, idle_s, freq), (x2, i2, f2));
            }
            _ => assert_eq!(g, e),
        }
    }
}

#[test]
fn files_round_trip_with_every_option() {
    for options in [
        PLAIN,
        COMPRESSED,
        Options {
            compression: true,
            save_lru: true,
            save_lfu: false,
        },
        Options {
            compression: false,
            save_lru: false,
            save_lfu: true,
        },
    ] {
        for checksum in [true, false] {
            let (bytes, expected) = sample_file(options, checksum);
            let got = read_all(&bytes).unwrap();
            assert_same_items(&got, &expected);
        }
    }
}

#[test]
fn the_reader_stops_right_after_the_checksum() {
    let (mut bytes, _) = sample_file(COMPRESSED, true);
    let rdb_len = bytes.len();
    bytes.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let mut reader = RdbReader::new(std::io::BufReader::with_capacity(7, &bytes[..])).unwrap();
    assert_eq!(reader.version(), 10);
    loop {
        if let Item::End { end, .. } = reader.next_item().unwrap() {
            assert_eq!(end, rdb_len as u64);
            break;
        }
    }
    assert_eq!(reader.offset(), rdb_len as u64);
    assert!(reader.next_item().is_err());
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut reader.into_inner(), &mut rest).unwrap();
    assert_eq!(rest, b"*1\r\n$4\r\nPING\r\n");
}

#[test]
fn truncated_and_damaged_files_are_errors_never_panics() {
    let (bytes, _) = sample_file_of(small_samples(), COMPRESSED, true);
    for cut in 0..bytes.len() {
        let err = read_all(&bytes[..cut]).expect_err("a truncated file must not load");
        assert!(err.offset <= cut as u64, "{err} for a cut at {cut}");
    }
    // A short read is reported at its first byte, as Redis's rio counts: here the checksum's.
    let err = read_all(&bytes[..bytes.len() - 3]).unwrap_err();
    assert_eq!(err.offset, bytes.len() as u64 - 8, "{err}");
    // Flip one bit at a time: the checksum catches whatever the structure does not.
    for i in (0..bytes.len()).step_by(3) {
        let mut bad = bytes.clone();
        bad[i] ^= 1 << (i % 8);
        assert!(read_all(&bad).is_err(), "flip at {i}");
    }
    // Without a checksum, damage must still never panic.
    let (plain, _) = sample_file_of(small_samples(), COMPRESSED, false);
    for i in 0..plain.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = plain.clone();
            bad[i] ^= mask;
            let _ = read_all(&bad);
        }
    }
}

#[test]
fn wrong_checksum_signature_and_version_are_reported() {
    let (mut bytes, _) = sample_file(PLAIN, true);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let err = read_all(&bytes).unwrap_err();
    assert!(err.message.starts_with("Wrong RDB checksum"), "{err}");
    assert_eq!(err.offset, bytes.len() as u64);
    let err = RdbReader::new(&b"RADIS0010"[..]).unwrap_err();
    assert_eq!(err.message, "Wrong signature trying to load DB from file");
    for (magic, version) in [
        (&b"REDIS0013"[..], 13),
        (b"REDIS0000", 0),
        (b"REDISabcd", 0),
    ] {
        let err = RdbReader::new(magic).unwrap_err();
        assert_eq!(
            err.message,
            format!("Can't handle RDB format version {version}")
        );
    }
    assert_eq!(
        RdbError {
            offset: 5,
            message: "boom".into()
        }
        .to_string(),
        "boom (at offset 5)"
    );
    assert!(is_rdb(b"REDIS0011\xfa") && !is_rdb(b"*2\r\n"));
}

#[test]
fn restore_checks_footer_and_body() {
    let payload = dump_payload_with(&string(b"hello"), true);
    assert!(restore_payload(&payload).is_ok());
    let msg = |p: &[u8]| restore_payload(p).unwrap_err().message;
    assert_eq!(msg(&payload[..9]), RESTORE_BAD_PAYLOAD);
    let mut bad = payload.clone();
    bad[2] ^= 1;
    assert_eq!(msg(&bad), RESTORE_BAD_PAYLOAD);
    // A newer version is refused even with a right checksum.
    let with_footer = |body: &[u8], version: u16| {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64::crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    assert_eq!(msg(&with_footer(b"\x00\x05hello", 11)), RESTORE_BAD_PAYLOAD);
    assert!(restore_payload(&with_footer(b"\x00\x05hello", 9)).is_ok());
    // Trailing bytes, truncation, empty collections, unknown types: bad data.
    assert_eq!(msg(&with_footer(b"\x00\x05hello!", 10)), RESTORE_BAD_DATA);
    assert_eq!(msg(&with_footer(b"\x00\x05hell", 10)), RESTORE_BAD_DATA);
    assert_eq!(msg(&with_footer(b"\x02\x00", 10)), RESTORE_BAD_DATA);
    assert_eq!(msg(&with_footer(b"\x08\x00", 10)), RESTORE_BAD_DATA);
    assert_eq!(msg(&with_footer(b"", 10)), RESTORE_BAD_DATA);
    assert_eq!(
        msg(&with_footer(b"\x02\x02\x01a\x01a", 10)),
        RESTORE_BAD_DATA
    );
    for (name, value) in small_samples() {
        let payload = dump_payload_with(&value, true);
        for cut in 0..payload.len() {
            assert!(
                restore_payload(&payload[..cut]).is_err(),
                "{name} cut at {cut}"
            );
        }
    }
}

/// A file body (after the header) built by hand, as some older Redis wrote it.
fn file_with(version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = format!("REDIS{version:04}").into_bytes();
    out.extend_from_slice(body);
    out.push(opcode::EOF);
    if version >= 5 {
        let crc = crc64::crc64(&out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

fn key_record(value_type: u8, key: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![value_type];
    write_string(&mut out, key.as_bytes(), false);
    out.extend_from_slice(value);
    out
}

fn blob(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_string(&mut out, bytes, false);
    out
}

fn strings(items: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    write_len(&mut out, items.len() as u64);
    for i in items {
        write_string(&mut out, i, false);
    }
    out
}

fn keys_of(bytes: &[u8]) -> Vec<(Vec<u8>, Content, i64)> {
    read_all(bytes)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter_map(|item| match item {
            Item::Key {
                key,
                value,
                expire_at_ms,
                ..
            } => Some((key, content(&value), expire_at_ms)),
            _ => None,
        })
        .collect()
}

fn bytes_list(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn old_encodings_are_read() {
    use super::legacy::tests::{ziplist, zipmap};
    let mut body = Vec::new();
    body.extend([opcode::SELECTDB, 0]);
    body.extend(key_record(
        types::LIST,
        "list",
        &strings(&[b"a", b"1", b"b"]),
    ));
    // Old ZSET: ASCII scores, with the NaN/inf markers.
    let mut z = vec![3];
    for (member, score) in [
        (&b"x"[..], &b"\x031.5"[..]),
        (b"y", b"\xfe"),
        (b"z", b"\xff"),
    ] {
        write_string(&mut z, member, false);
        z.extend_from_slice(score);
    }
    body.extend(key_record(types::ZSET, "zset", &z));
    body.extend(key_record(
        types::HASH_ZIPMAP,
        "zipmap",
        &blob(&zipmap(&[(b"f", b"v"), (b"g", b"12")])),
    ));
    body.extend(key_record(
        types::LIST_ZIPLIST,
        "ziplist",
        &blob(&ziplist(&[b"a", b"-5", b"70000"])),
    ));
    body.extend(key_record(
        types::ZSET_ZIPLIST,
        "zziplist",
        &blob(&ziplist(&[b"m", b"2", b"n", b"2.5"])),
    ));
    body.extend(key_record(
        types::HASH_ZIPLIST,
        "hziplist",
        &blob(&ziplist(&[b"f", b"1", b"g", b"two"])),
    ));
    let mut quicklist = vec![2];
    quicklist.extend(blob(&ziplist(&[b"a", b"b"])));
    quicklist.extend(blob(&ziplist(&[b"c"])));
    body.extend(key_record(types::LIST_QUICKLIST, "quicklist", &quicklist));
    // Expiry in seconds (the old opcode).
    body.push(opcode::EXPIRETIME);
    body.extend_from_slice(&2_000_000_000i32.to_le_bytes());
    body.extend(key_record(types::STRING, "old-expiry", &blob(b"v")));
    let got = keys_of(&file_with(4, &body));
    let expected = vec![
        (
            b"list".to_vec(),
            Content::List(bytes_list(&["a", "1", "b"])),
            NO_EXPIRY,
        ),
        (
            b"zset".to_vec(),
            Content::ZSet(vec![
                (f64::NEG_INFINITY.to_bits(), b"z".to_vec()),
                (1.5f64.to_bits(), b"x".to_vec()),
                (f64::INFINITY.to_bits(), b"y".to_vec()),
            ]),
            NO_EXPIRY,
        ),
        (
            b"zipmap".to_vec(),
            Content::Hash(
                [
                    (b"f".to_vec(), b"v".to_vec()),
                    (b"g".to_vec(), b"12".to_vec()),
                ]
                .into(),
            ),
            NO_EXPIRY,
        ),
        (
            b"ziplist".to_vec(),
            Content::List(bytes_list(&["a", "-5", "70000"])),
            NO_EXPIRY,
        ),
        (
            b"zziplist".to_vec(),
            Content::ZSet(vec![
                (2f64.to_bits(), b"m".to_vec()),
                (2.5f64.to_bits(), b"n".to_vec()),
            ]),
            NO_EXPIRY,
        ),
        (
            b"hziplist".to_vec(),
            Content::Hash(
                [
                    (b"f".to_vec(), b"1".to_vec()),
                    (b"g".to_vec(), b"two".to_vec()),
                ]
                .into(),
            ),
            NO_EXPIRY,
        ),
        (
            b"quicklist".to_vec(),
            Content::List(bytes_list(&["a", "b", "c"])),
            NO_EXPIRY,
        ),
        (
            b"old-expiry".to_vec(),
            Content::Str(b"v".to_vec()),
            2_000_000_000_000,
        ),
    ];
    assert_eq!(got, expected);
}

#[test]
fn newer_encodings_and_opcodes_are_read() {
    let mut lp = listpack::ListpackWriter::new();
    for m in ["a", "1", "b"] {
        lp.push(m.as_bytes());
    }
    let mut body = Vec::new();
    body.extend([opcode::SLOT_INFO, 1, 2, 3]);
    body.push(opcode::FUNCTION2);
    write_string(
        &mut body,
        b"#!lua name=lib\nredis.register_function('f', function() return 1 end)",
        false,
    );
    body.extend([opcode::SELECTDB, 2, opcode::RESIZEDB, 1, 0]);
    body.extend([opcode::IDLE, 0x40, 0x10, opcode::FREQ, 42]);
    body.extend(key_record(
        types::SET_LISTPACK,
        "setlp",
        &blob(&lp.finish()),
    ));
    // A quicklist with a plain node, an empty packed node and a packed one.
    let mut lp = listpack::ListpackWriter::new();
    lp.push(b"tail");
    let mut ql = vec![3, 1];
    ql.extend(blob(b"plain element"));
    ql.push(2);
    ql.extend(blob(&listpack::ListpackWriter::new().finish()));
    ql.push(2);
    ql.extend(blob(&lp.finish()));
    body.extend(key_record(types::LIST_QUICKLIST_2, "ql", &ql));
    let items = read_all(&file_with(12, &body)).unwrap();
    assert!(matches!(&items[0], Item::Function(code) if code.starts_with(b"#!lua")));
    assert_eq!(items[1], Item::SelectDb(2));
    match &items[3] {
        Item::Key {
            key,
            value,
            idle_s,
            freq,
            ..
        } => {
            assert_eq!(key, b"setlp");
            assert_eq!(value.encoding_name(), "hashtable");
            assert_eq!(
                content(value),
                Content::Set(bytes_list(&["a", "1", "b"]).into_iter().collect())
            );
            assert_eq!((*idle_s, *freq), (Some(16), Some(42)));
        }
        other => panic!("{other:?}"),
    }
    match &items[4] {
        Item::Key { value, .. } => {
            assert_eq!(
                content(value),
                Content::List(bytes_list(&["plain element", "tail"]))
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_collections_are_skipped_and_duplicates_refused() {
    let mut body = Vec::new();
    body.extend([opcode::EXPIRETIME_MS]);
    body.extend_from_slice(&5i64.to_le_bytes());
    body.extend(key_record(types::SET, "empty", &[0]));
    body.extend(key_record(types::LIST_QUICKLIST_2, "empty-ql", &[0]));
    body.extend(key_record(types::STRING, "after", &blob(b"x")));
    assert_eq!(
        keys_of(&file_with(10, &body)),
        vec![(b"after".to_vec(), Content::Str(b"x".to_vec()), NO_EXPIRY)]
    );
    let refused = |record: Vec<u8>, message: &str| {
        let err = read_all(&file_with(10, &record)).unwrap_err();
        assert!(err.message.contains(message), "{err}");
    };
    refused(
        key_record(types::SET, "s", &strings(&[b"a", b"a"])),
        "Duplicate set members",
    );
    refused(
        key_record(types::HASH, "h", &strings(&[b"a", b"1", b"a", b"2"])),
        "Duplicate hash fields",
    );
    let mut z = vec![2];
    for _ in 0..2 {
        write_string(&mut z, b"m", false);
        z.extend_from_slice(&1f64.to_le_bytes());
    }
    refused(key_record(types::ZSET_2, "z", &z), "Duplicate zset fields");
    let mut nan = vec![1];
    write_string(&mut nan, b"m", false);
    nan.extend_from_slice(&f64::NAN.to_le_bytes());
    refused(key_record(types::ZSET_2, "z", &nan), "NAN score");
    refused(
        key_record(types::STREAM_LISTPACKS_2, "mystream", &[]),
        "stream value (type 19) yet: key 'mystream'",
    );
    refused(
        key_record(types::MODULE_2, "m", &[]),
        "module value (type 7)",
    );
    refused(
        key_record(types::HASH_LISTPACK_EX, "hfe", &[]),
        "hash-with-field-expiry value (type 25)",
    );
    refused(vec![8], "Unknown RDB encoding type 8");
    refused(vec![opcode::MODULE_AUX], "module auxiliary data");
    refused(
        key_record(types::LIST_QUICKLIST_2, "q", &[1, 3, 1, b'a']),
        "unknown container 3",
    );
    refused(
        key_record(types::HASH_LISTPACK, "h", &blob(b"garbage")),
        "Hash listpack integrity check failed",
    );
}

#[test]
fn declared_lengths_never_allocate_beyond_the_input() {
    // A string of 2^60 bytes, a list of 2^60 elements, an LZF string of 2^60 bytes: each
    // fails at the end of the input, having allocated only about what was there.
    let huge = |marker: &[u8]| {
        let mut body = marker.to_vec();
        body.push(0x81);
        body.extend_from_slice(&(1u64 << 60).to_be_bytes());
        body.extend_from_slice(&[b'x'; 100]);
        let mut out = b"REDIS0010".to_vec();
        out.extend_from_slice(&body);
        out
    };
    for marker in [&b"\x00\x01k"[..], b"\x01\x01k", b"\x00\x01k\xc3"] {
        let err = read_all(&huge(marker)).unwrap_err();
        assert!(err.message.contains("Unexpected EOF"), "{err}");
    }
}

#[test]
fn plain_list_nodes_are_written_raw() {
    // Elements of 1 MiB or more become plain nodes while this threshold holds; no other
    // test in the library builds lists of such elements.
    assert!(crate::keyspace::list::set_packed_threshold(1 << 20));
    let big = vec![b'p'; 1 << 20];
    let value = list(&[b"a".to_vec(), big.clone(), b"b".to_vec()]);
    let Value::List(l) = &value else { panic!() };
    let plain: Vec<bool> = l.nodes().map(|(plain, _)| plain).collect();
    let payload = dump_payload_with(&value, false);
    crate::keyspace::list::set_packed_threshold(0);
    assert_eq!(plain, vec![false, true, false]);
    // Node count 3; the first node packed; the second plain: container 1, the raw element.
    assert_eq!(&payload[..3], &[types::LIST_QUICKLIST_2, 3, 2]);
    let plain_at = 3 + 1 + payload[3] as usize;
    assert_eq!(&payload[plain_at..plain_at + 2], &[1, 0x80]);
    let back = restore_payload(&payload).unwrap();
    assert_eq!(content(&back), content(&value));
}
