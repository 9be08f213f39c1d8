//! The bodies of the fuzz targets in `fuzz/fuzz_targets/` (see `fuzz/README.md`), here in the
//! library so that `cargo test` runs every committed corpus file through them: each target's
//! corpus directory is a regression suite of the normal test run.
//!
//! Every body takes the raw bytes libFuzzer hands out and never panics on its own account: a
//! panic, an abort or an allocation over the fuzzer's limit is the bug being looked for, and
//! the checks each body makes (`assert!`) are the invariants of the code under test. The RDB
//! loader's body is [`crate::persistence::rdb::fuzz_one`].
//!
//! - [`resp_parse`]: the request parser, whole buffer against arbitrary splits into reads;
//! - [`aof_load`]: the manifest parser, the AOF reader and the AOF loader into a server;
//! - [`config_parse`]: `redis.conf` text, CONFIG SET, CONFIG GET and CONFIG REWRITE;
//! - [`command`]: sequences of commands through the command layer, with dataset checks.

pub mod aof_load;
pub mod command;
pub mod config_parse;
pub mod resp_parse;

#[cfg(test)]
pub(crate) mod corpus {
    use std::path::{Path, PathBuf};

    /// The committed corpus of `target` (`fuzz/corpus/<target>/`), every file in name order.
    pub fn files(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).expect("corpus file");
                (path, bytes)
            })
            .collect()
    }
}
