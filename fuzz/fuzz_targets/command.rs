//! Sequences of up to 32 commands through the command layer of an in-process server: no
//! panic, and the dataset checks hold afterwards. The body is `kopi::fuzz::command`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kopi::fuzz::command::fuzz_one(data);
});
