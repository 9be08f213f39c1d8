//! The AOF manifest parser, reader and loader on arbitrary bytes: a clean error or a loaded
//! dataset that passes the dataset checks, never a panic. The body is `kopi::fuzz::aof_load`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: kopi::server::log::set_level("warning"),
    |data: &[u8]| {
        kopi::fuzz::aof_load::fuzz_one(data);
    }
);
