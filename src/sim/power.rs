//! What a power cut leaves of an AOF directory, derived from the offset the server reports
//! as synced.
//!
//! # Method
//!
//! The AOF writer publishes two offsets of its record stream, `written_lsn` and
//! `synced_lsn`, which `INFO persistence` shows as `aof_last_write_offset` and
//! `aof_last_fsync_offset`. Every byte of that stream goes, in order, into the incr file the
//! manifest names last, so while no rewrite switches files the incr file holds exactly
//! `size_at_start + (lsn - lsn_at_start)` bytes for an LSN that was written. The simulation
//! turns automatic rewrites off, reads both values once the server is ready
//! ([`AofStart::read`]), and at the crash:
//!
//! 1. reads `aof_last_fsync_offset` (the crash instant is taken just before the request);
//! 2. SIGKILLs the server at once;
//! 3. checks that the manifest still names the same incr file and that the file holds at
//!    least everything the server said it had written;
//! 4. truncates the incr file to the synced length.
//!
//! # Why it is faithful
//!
//! A power cut keeps what was fsynced and may drop everything else (the model of
//! `persistence::power_loss`, the weakest disk POSIX allows). In the AOF directory only the
//! incr file changes while the clients write: the manifest and the base are written, synced
//! and their directory synced before the server answers its first `PING`. The incr file's
//! durable content is its bytes up to the last `fdatasync`, which the server publishes as
//! `synced_lsn` only after the call returned; `fdatasync` makes the file size durable with
//! the data. So the truncated file is what the disk would hold after a power cut at the
//! moment `INFO` was answered, or less: an fsync that finished but was not yet published,
//! or that finished between `INFO` and the kill, is dropped too. Truncating to an earlier
//! synced point only loses more, so the result is conservative: a write this method keeps
//! would survive a real power cut. It is not unfair either: the acknowledgements counted are
//! those read before the `INFO` request, and under `always` a reply leaves only once
//! `synced_lsn` covers its record, so such a write is inside the kept bytes unless the
//! server broke its contract, which is what the simulation is there to catch.
//!
//! The truncation lands on a record boundary (the server publishes offsets after whole
//! groups of records), the tidy case of a power cut; a torn record would be cut at load
//! (`aof-load-truncated yes`) and lose nothing more.

use std::path::{Path, PathBuf};

use crate::persistence::manifest::{AppendFilename, FileKind, Manifest, file_path};

use super::resp::{Connection, Reply, info_field};

/// Where the incr file and the record stream stood when the server became ready.
#[derive(Clone, Debug)]
pub struct AofStart {
    incr: PathBuf,
    size: u64,
    lsn: u64,
}

/// The offsets `INFO persistence` reported at the crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    pub written: u64,
    pub synced: u64,
}

/// What the cut did to the incr file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerCut {
    /// Its size after the kill, before the cut.
    pub file_bytes: u64,
    /// What it keeps.
    pub kept_bytes: u64,
}

/// The one incr file the manifest in `dir/appendonlydir` names.
fn incr_file(dir: &Path) -> Result<PathBuf, String> {
    let filename = AppendFilename::default();
    let aof_dir = dir.join("appendonlydir");
    let manifest = Manifest::load(&aof_dir, &filename)
        .map_err(|e| format!("reading the AOF manifest: {e}"))?
        .ok_or("the AOF manifest is missing")?;
    match manifest.incrs() {
        [only] if only.kind == FileKind::Incr => Ok(file_path(&aof_dir, &only.name)),
        other => Err(format!(
            "the manifest names {} incr files: the simulation needs exactly one",
            other.len()
        )),
    }
}

fn file_len(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads `aof_last_write_offset` and `aof_last_fsync_offset`.
pub fn synced_offsets(conn: &mut Connection) -> Result<Offsets, String> {
    let info = match conn.call(&[b"INFO", b"persistence"]) {
        Ok(Reply::Bulk(Some(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(other) => return Err(format!("INFO answered {other:?}")),
        Err(e) => return Err(format!("INFO: {e}")),
    };
    let field = |name: &str| {
        info_field(&info, name)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("INFO persistence has no {name}"))
    };
    Ok(Offsets {
        written: field("aof_last_write_offset")?,
        synced: field("aof_last_fsync_offset")?,
    })
}

impl AofStart {
    /// Notes the incr file and the stream offset of a server that is ready and idle.
    pub fn read(dir: &Path, port: u16) -> Result<AofStart, String> {
        let mut conn = Connection::connect(port).map_err(|e| format!("connect: {e}"))?;
        let offsets = synced_offsets(&mut conn)?;
        if offsets.written != offsets.synced {
            return Err(format!(
                "the server has unsynced records before any write: {offsets:?}"
            ));
        }
        let incr = incr_file(dir)?;
        let size = file_len(&incr)?;
        Ok(AofStart {
            incr,
            size,
            lsn: offsets.written,
        })
    }
}

/// The incr file's length that holds the stream up to `lsn`.
fn file_offset(start: &AofStart, lsn: u64) -> Result<u64, String> {
    lsn.checked_sub(start.lsn)
        .and_then(|n| start.size.checked_add(n))
        .ok_or_else(|| format!("offset {lsn} is before the start ({})", start.lsn))
}

/// Makes the killed server's AOF directory look as a power cut at `offsets` leaves it: the
/// incr file cut to what was synced. Call it after the process is gone.
pub fn cut(dir: &Path, start: &AofStart, offsets: Offsets) -> Result<PowerCut, String> {
    if incr_file(dir)? != start.incr {
        return Err("the incr file changed during the run (a rewrite?)".into());
    }
    let file_bytes = file_len(&start.incr)?;
    let written = file_offset(start, offsets.written)?;
    let kept_bytes = file_offset(start, offsets.synced)?;
    if written > file_bytes || kept_bytes > written {
        return Err(format!(
            "the incr file has {file_bytes} bytes, the server said {written} were written and \
             {kept_bytes} synced: the offsets do not map to the file"
        ));
    }
    let file = std::fs::File::options()
        .write(true)
        .open(&start.incr)
        .map_err(|e| format!("{}: {e}", start.incr.display()))?;
    file.set_len(kept_bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("truncating {}: {e}", start.incr.display()))?;
    Ok(PowerCut {
        file_bytes,
        kept_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_offsets_map_to_file_offsets_from_the_start() {
        let start = AofStart {
            incr: PathBuf::from("x"),
            size: 100,
            lsn: 40,
        };
        assert_eq!(file_offset(&start, 40), Ok(100));
        assert_eq!(file_offset(&start, 65), Ok(125));
        assert!(file_offset(&start, 39).is_err());
    }

    /// An AOF directory as a fresh server leaves it, with `incr` as the incr file's bytes.
    fn aof_dir(incr: &[u8]) -> PathBuf {
        let dir = crate::sim::process::temp_dir("power-test").unwrap();
        let aof = dir.join("appendonlydir");
        std::fs::create_dir_all(&aof).unwrap();
        std::fs::write(
            aof.join("appendonly.aof.manifest"),
            "file appendonly.aof.1.base.rdb seq 1 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        std::fs::write(aof.join("appendonly.aof.1.incr.aof"), incr).unwrap();
        dir
    }

    #[test]
    fn cut_keeps_exactly_the_synced_bytes() {
        let dir = aof_dir(b"0123456789");
        let incr = incr_file(&dir).unwrap();
        assert_eq!(incr, dir.join("appendonlydir/appendonly.aof.1.incr.aof"));
        // The server started with 4 bytes in the file at stream offset 100.
        let start = AofStart {
            incr: incr.clone(),
            size: 4,
            lsn: 100,
        };
        let offsets = Offsets {
            written: 106,
            synced: 103,
        };
        assert_eq!(
            cut(&dir, &start, offsets),
            Ok(PowerCut {
                file_bytes: 10,
                kept_bytes: 7
            })
        );
        assert_eq!(std::fs::read(&incr).unwrap(), b"0123456");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cut_refuses_offsets_the_file_does_not_hold() {
        let dir = aof_dir(b"01234");
        let start = AofStart {
            incr: incr_file(&dir).unwrap(),
            size: 0,
            lsn: 0,
        };
        // The server claims more written bytes than the file has: the mapping is wrong.
        let claimed = Offsets {
            written: 6,
            synced: 6,
        };
        assert!(cut(&dir, &start, claimed).is_err());
        // Synced beyond written cannot happen either.
        let inverted = Offsets {
            written: 2,
            synced: 3,
        };
        assert!(cut(&dir, &start, inverted).is_err());
        assert_eq!(std::fs::read(&start.incr).unwrap(), b"01234");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
