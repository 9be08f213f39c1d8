//! The redis.conf parser, CONFIG SET, CONFIG GET and CONFIG REWRITE on arbitrary text and
//! name-value pairs: no panic, values round-trip. The body is `kopi::fuzz::config_parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kopi::fuzz::config_parse::fuzz_one(data);
});
