//! The request parser on arbitrary bytes, whole and split into arbitrary reads: the same
//! requests and protocol error however the bytes arrive, no panic, no allocation for a length
//! only declared (run with `-malloc_limit_mb=64`). The body is `kopi::fuzz::resp_parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kopi::fuzz::resp_parse::fuzz_one(data);
});
