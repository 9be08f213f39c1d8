//! The RDB loader on arbitrary bytes: a whole file (`dump.rdb`, an AOF's RDB base) and a
//! RESTORE payload. Whatever the input, it ends in a value or an error, never a panic, a
//! hang or an allocation the input did not pay for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kopi::persistence::rdb::fuzz_one(data);
});
