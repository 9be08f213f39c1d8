//! Crash-safe replacement of the config file (CONFIG REWRITE), through the one implementation
//! in [`crate::persistence::fs`]: a reader sees the old file or the new one, never a torn one.

use std::path::Path;

use crate::persistence::fs::{OsStorage, write_file_atomically};

/// Permissions of a rewritten config file, as Redis sets them (less the umask).
const CONFIG_FILE_MODE: u32 = 0o644;

pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_file_atomically(&OsStorage, path, contents, CONFIG_FILE_MODE).map_err(|e| e.source)
}
