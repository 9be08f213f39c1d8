//! `kopi-check-rdb`: reads an RDB file through the codec's reader and reports what it found,
//! line for line as `redis-check-rdb` 7.0.15 does, plus a count of keys per type and per db.
//!
//! A healthy file (offsets are the bytes read when the line is printed):
//!
//! ```text
//! [offset 0] Checking RDB file dump.rdb
//! [offset 27] AUX FIELD redis-ver = '7.0.15'
//! [offset 82] Selecting DB ID 0
//! [offset 259] Checksum OK
//! [offset 259] \o/ RDB looks OK! \o/
//! [info] 10 keys read
//! [info] 3 expires
//! [info] 0 already expired
//! [info] 5 keys of type string      (then list, set, zset, hash)
//! [info] 8 keys in db 0              (one line per db that holds keys)
//! ```
//!
//! A damaged one ends with the block below and the same `[info]` lines; the offset and the
//! message are the reader's [`RdbError`]. Redis also names the key and type it was reading
//! and what it was doing; the reader does not say, so kopi names the last key read whole.
//!
//! ```text
//! --- RDB ERROR DETECTED ---
//! [offset 149] Unexpected EOF reading RDB file
//! [additional info] Last key read: 'l'
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use crate::keyspace::{NO_EXPIRY, Value};
use crate::persistence::rdb::{Item, RdbError, RdbReader};

/// The first format version with a checksum after EOF (older files end at the EOF opcode).
const CHECKSUM_SINCE_VERSION: u16 = 5;

/// The data types counted, in the order their lines are printed.
const TYPE_NAMES: [&str; 5] = ["string", "list", "set", "zset", "hash"];

/// What was read so far, for the closing `[info]` lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub keys: u64,
    /// Keys with an expiry time.
    pub expires: u64,
    /// Keys whose expiry time is before the moment the check started.
    pub already_expired: u64,
    /// Keys per data type, indexed as [`TYPE_NAMES`].
    pub keys_by_type: [u64; 5],
    pub keys_by_db: BTreeMap<usize, u64>,
}

impl Stats {
    fn count(&mut self, db: usize, value: &Value, expire_at_ms: i64, now_ms: i64) {
        self.keys += 1;
        if expire_at_ms != NO_EXPIRY {
            self.expires += 1;
            if expire_at_ms < now_ms {
                self.already_expired += 1;
            }
        }
        let type_index = match value {
            Value::String(_) => 0,
            Value::List(_) => 1,
            Value::Set(_) => 2,
            Value::ZSet(_) => 3,
            Value::Hash(_) => 4,
        };
        self.keys_by_type[type_index] += 1;
        *self.keys_by_db.entry(db).or_default() += 1;
    }

    /// Redis's three lines, then (with `kopi_lines`) kopi's per type (all five, zeros
    /// included) and per db (only the dbs that hold keys).
    fn write(&self, out: &mut dyn Write, kopi_lines: bool) -> io::Result<()> {
        writeln!(out, "[info] {} keys read", self.keys)?;
        writeln!(out, "[info] {} expires", self.expires)?;
        writeln!(out, "[info] {} already expired", self.already_expired)?;
        if !kopi_lines {
            return Ok(());
        }
        for (name, keys) in TYPE_NAMES.iter().zip(self.keys_by_type) {
            writeln!(out, "[info] {keys} keys of type {name}")?;
        }
        for (db, keys) in &self.keys_by_db {
            writeln!(out, "[info] {keys} keys in db {db}")?;
        }
        Ok(())
    }
}

/// Checks the file at `path`, writing the report to `out`: `Ok(true)` if it looks OK.
///
/// Like Redis, the first line is printed before the file is opened, and a file that cannot
/// be opened fails the check with nothing more said.
pub fn check_file(path: &Path, now_ms: i64, out: &mut dyn Write) -> io::Result<bool> {
    out.write_all(b"[offset 0] Checking RDB file ")?;
    out.write_all(path.as_os_str().as_encoded_bytes())?;
    out.write_all(b"\n")?;
    let Ok(file) = File::open(path) else {
        return Ok(false);
    };
    check(BufReader::new(file), now_ms, out)
}

/// Checks the RDB stream in `source` (everything after the "Checking" line); `now_ms` decides
/// which expiry times count as already expired.
pub fn check(source: impl BufRead, now_ms: i64, out: &mut dyn Write) -> io::Result<bool> {
    check_stream(source, now_ms, out, true).map(|end| end.is_some())
}

/// The RDB preamble of an AOF file, as `redis-check-aof` checks it: the report goes to `out`
/// (headed by the "Checking" line naming `name`, without kopi's own `[info]` lines); the
/// offset just after the checksum, where the RESP tail starts, if the part is sound.
pub fn check_preamble(
    source: impl BufRead,
    name: &[u8],
    now_ms: i64,
    out: &mut dyn Write,
) -> io::Result<Option<u64>> {
    out.write_all(b"[offset 0] Checking RDB file ")?;
    out.write_all(name)?;
    out.write_all(b"\n")?;
    check_stream(source, now_ms, out, false)
}

/// [`check`]'s body: `Some(end offset)` when the stream looks OK; `kopi_lines` adds the
/// per-type and per-db counts.
fn check_stream(
    source: impl BufRead,
    now_ms: i64,
    out: &mut dyn Write,
    kopi_lines: bool,
) -> io::Result<Option<u64>> {
    let mut stats = Stats::default();
    let mut reader = match RdbReader::new(source) {
        Ok(reader) => reader,
        Err(error) => {
            write_error(out, &error, None, &stats, kopi_lines)?;
            return Ok(None);
        }
    };
    // Keys before any SELECTDB belong to db 0, as when Redis loads the file.
    let mut db = 0;
    let mut last_key: Option<Vec<u8>> = None;
    loop {
        let item = match reader.next_item() {
            Ok(item) => item,
            Err(error) => {
                write_error(out, &error, last_key.as_deref(), &stats, kopi_lines)?;
                return Ok(None);
            }
        };
        match item {
            Item::Aux { key, value } => {
                write!(out, "[offset {}] AUX FIELD ", reader.offset())?;
                out.write_all(until_nul(&key))?;
                out.write_all(b" = '")?;
                out.write_all(until_nul(&value))?;
                out.write_all(b"'\n")?;
            }
            Item::SelectDb(selected) => {
                writeln!(
                    out,
                    "[offset {}] Selecting DB ID {selected}",
                    reader.offset()
                )?;
                db = selected;
            }
            Item::ResizeDb { .. } | Item::Function(_) => {}
            Item::Key {
                key,
                value,
                expire_at_ms,
                ..
            } => {
                stats.count(db, &value, expire_at_ms, now_ms);
                last_key = Some(key);
            }
            Item::End {
                end,
                checksum_checked,
            } => {
                if checksum_checked {
                    writeln!(out, "[offset {end}] Checksum OK")?;
                } else if reader.version() >= CHECKSUM_SINCE_VERSION {
                    writeln!(
                        out,
                        "[offset {end}] RDB file was saved with checksum disabled: no check performed."
                    )?;
                }
                writeln!(out, "[offset {end}] \\o/ RDB looks OK! \\o/")?;
                stats.write(out, kopi_lines)?;
                return Ok(Some(end));
            }
        }
    }
}

/// Redis's error block: the header, the offset and message, what is known of where the
/// reader was, then the counts so far.
fn write_error(
    out: &mut dyn Write,
    error: &RdbError,
    last_key: Option<&[u8]>,
    stats: &Stats,
    kopi_lines: bool,
) -> io::Result<()> {
    writeln!(out, "--- RDB ERROR DETECTED ---")?;
    if error.message.ends_with("RDB CRC error") {
        // Redis's words for the most common damage, exactly.
        writeln!(out, "[offset {}] RDB CRC error", error.offset)?;
        writeln!(out, "[additional info] While doing: check-sum")?;
        return stats.write(out, kopi_lines);
    }
    writeln!(out, "[offset {}] {}", error.offset, error.message)?;
    if let Some(key) = last_key {
        out.write_all(b"[additional info] Last key read: '")?;
        out.write_all(until_nul(key))?;
        out.write_all(b"'\n")?;
    }
    stats.write(out, kopi_lines)
}

/// The bytes C's `%s` prints: up to the first NUL.
fn until_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Entry, StringValue};
    use crate::persistence::rdb::{Crc64, write_db_start, write_end, write_entry, write_header};

    const NOW_MS: i64 = 1_700_000_000_000;

    fn report(bytes: &[u8]) -> (bool, String) {
        let mut out = Vec::new();
        let ok = check(bytes, NOW_MS, &mut out).unwrap();
        (ok, String::from_utf8(out).unwrap())
    }

    fn entry(key: &[u8], expire_at_ms: i64) -> Entry {
        let mut entry = Entry::new(key, Value::String(StringValue::from_bytes(b"v")));
        entry.expire_at_ms = expire_at_ms;
        entry
    }

    /// Two strings in db 0 (one already expired, one expiring later), one in db 2.
    fn sample_file(checksum: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, false, 1_700_000_000, 1000);
        write_db_start(&mut out, 0, 2, 2);
        write_entry(&mut out, &entry(b"gone", NOW_MS - 1));
        write_entry(&mut out, &entry(b"later", NOW_MS + 60_000));
        write_db_start(&mut out, 2, 1, 0);
        write_entry(&mut out, &entry(b"plain", NO_EXPIRY));
        let mut crc = Crc64::new();
        crc.update(&out);
        write_end(&mut out, &mut crc, checksum);
        out
    }

    #[test]
    fn a_sound_file_reports_redis_lines_then_kopi_counts() {
        // 9 magic; AUX = FA, key, value (ints in the smallest encoding); FE db; FB 2 2;
        // FC ms, type 0, key, "v"; ...; FF and the checksum.
        let file = sample_file(true);
        assert_eq!(file.len(), 141);
        let (ok, text) = report(&file);
        assert!(ok, "{text}");
        let expected = "\
            [offset 27] AUX FIELD redis-ver = '7.0.15'\n\
            [offset 41] AUX FIELD redis-bits = '64'\n\
            [offset 53] AUX FIELD ctime = '1700000000'\n\
            [offset 66] AUX FIELD used-mem = '1000'\n\
            [offset 78] AUX FIELD aof-base = '0'\n\
            [offset 80] Selecting DB ID 0\n\
            [offset 120] Selecting DB ID 2\n\
            [offset 141] Checksum OK\n\
            [offset 141] \\o/ RDB looks OK! \\o/\n\
            [info] 3 keys read\n\
            [info] 2 expires\n\
            [info] 1 already expired\n\
            [info] 3 keys of type string\n\
            [info] 0 keys of type list\n\
            [info] 0 keys of type set\n\
            [info] 0 keys of type zset\n\
            [info] 0 keys of type hash\n\
            [info] 2 keys in db 0\n\
            [info] 1 keys in db 2\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_zero_checksum_is_reported_as_not_checked() {
        let (ok, text) = report(&sample_file(false));
        assert!(ok, "{text}");
        assert!(
            text.contains("] RDB file was saved with checksum disabled: no check performed.\n")
        );
        assert!(!text.contains("Checksum OK"));
    }

    /// Before version 5 a file ends at the EOF opcode: no checksum line either way.
    #[test]
    fn an_old_version_has_no_checksum_line() {
        let mut file = sample_file(true);
        file[5..9].copy_from_slice(b"0004");
        file.truncate(file.len() - 8);
        let (ok, text) = report(&file);
        assert!(ok, "{text}");
        assert!(
            !text.contains("Checksum") && !text.contains("checksum"),
            "{text}"
        );
        let end = file.len();
        assert!(text.contains(&format!("[offset {end}] \\o/ RDB looks OK! \\o/\n")));
    }

    #[test]
    fn every_truncation_fails_with_an_offset_inside_the_file() {
        let file = sample_file(true);
        for len in 0..file.len() {
            let (ok, text) = report(&file[..len]);
            assert!(!ok, "truncated to {len}:\n{text}");
            let mut lines = text.lines().skip_while(|l| !l.starts_with("---"));
            assert_eq!(lines.next(), Some("--- RDB ERROR DETECTED ---"), "{text}");
            let offset: usize = lines
                .next()
                .and_then(|l| l.strip_prefix("[offset "))
                .and_then(|l| l.split(']').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no offset line:\n{text}"));
            assert!(offset <= len, "offset {offset} past {len}:\n{text}");
            assert!(text.contains("[info] 0 keys of type hash\n"), "{text}");
        }
    }

    #[test]
    fn a_wrong_checksum_fails_after_reading_it() {
        let mut file = sample_file(true);
        let last = file.len() - 1;
        file[last] ^= 0x01;
        let (ok, text) = report(&file);
        assert!(!ok);
        assert!(
            text.contains(&format!(
                "--- RDB ERROR DETECTED ---\n[offset {}] ",
                file.len()
            )),
            "{text}"
        );
        // Redis's own two lines for this damage.
        assert!(
            text.contains(&format!(
                "[offset {}] RDB CRC error\n[additional info] While doing: check-sum\n",
                file.len()
            )),
            "{text}"
        );
        assert!(text.contains("[info] 3 keys read\n"), "{text}");
    }

    #[test]
    fn a_wrong_signature_is_named_at_offset_9() {
        let mut file = sample_file(true);
        file[0] = b'X';
        let (ok, text) = report(&file);
        assert!(!ok);
        assert!(text.starts_with(
            "--- RDB ERROR DETECTED ---\n[offset 9] Wrong signature trying to load DB from file\n\
             [info] 0 keys read\n"
        ));
    }

    #[test]
    fn aux_values_print_up_to_a_nul_as_c_does() {
        assert_eq!(until_nul(b"ab\0cd"), b"ab");
        assert_eq!(until_nul(b"abc"), b"abc");
    }

    #[test]
    fn a_missing_file_prints_only_the_first_line() {
        let path = std::env::temp_dir().join("kopi-check-rdb-no-such-file.rdb");
        let mut out = Vec::new();
        assert!(!check_file(&path, NOW_MS, &mut out).unwrap());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("[offset 0] Checking RDB file {}\n", path.display())
        );
    }
}
