//! CRC-64/Jones as Redis computes it (`crc64.c`): polynomial `0xad93d23594c935a9`, reflected
//! input and output, initial value 0, no final xor. The check value of `"123456789"` is
//! `0xe9c6d914c4b8d9ca` (the catalogue's `CRC-64/REDIS`).
//!
//! Table-driven, eight bytes per step ("slicing by 8"): an RDB file is checksummed whole on
//! every save and every load, so the byte-at-a-time loop would be the slowest part of both.

use std::sync::LazyLock;

/// The Jones polynomial, bit-reversed for the reflected (LSB-first) algorithm.
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

/// `TABLES[k][b]`: the CRC contribution of byte `b` followed by `k` zero bytes.
static TABLES: LazyLock<Box<[[u64; 256]; 8]>> = LazyLock::new(|| {
    let mut tables = Box::new([[0u64; 256]; 8]);
    for byte in 0..256usize {
        let mut crc = byte as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
        }
        tables[0][byte] = crc;
    }
    for byte in 0..256usize {
        let mut crc = tables[0][byte];
        for k in 1..8 {
            crc = tables[0][(crc & 0xff) as usize] ^ (crc >> 8);
            tables[k][byte] = crc;
        }
    }
    tables
});

/// A running CRC-64 over everything passed to [`Crc64::update`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crc64 {
    crc: u64,
}

impl Crc64 {
    pub fn new() -> Self {
        Crc64 { crc: 0 }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        let t = &**TABLES;
        let mut crc = self.crc;
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let x = crc ^ u64::from_le_bytes(word.try_into().expect("chunks of 8"));
            crc = t[7][(x & 0xff) as usize]
                ^ t[6][((x >> 8) & 0xff) as usize]
                ^ t[5][((x >> 16) & 0xff) as usize]
                ^ t[4][((x >> 24) & 0xff) as usize]
                ^ t[3][((x >> 32) & 0xff) as usize]
                ^ t[2][((x >> 40) & 0xff) as usize]
                ^ t[1][((x >> 48) & 0xff) as usize]
                ^ t[0][(x >> 56) as usize];
        }
        for &b in words.remainder() {
            crc = t[0][((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
        }
        self.crc = crc;
    }

    pub fn value(&self) -> u64 {
        self.crc
    }
}

/// The CRC-64 of `bytes` alone.
pub fn crc64(bytes: &[u8]) -> u64 {
    let mut crc = Crc64::new();
    crc.update(bytes);
    crc.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bit-at-a-time definition, to check the tables against.
    fn crc64_bitwise(bytes: &[u8]) -> u64 {
        let mut crc = 0u64;
        for &b in bytes {
            crc ^= b as u64;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLY_REFLECTED
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn check_value_is_redis_crc64() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64(b""), 0);
        // The example in Redis's crc64.c self-test.
        assert_eq!(
            crc64(b"This is a test of the emergency broadcast system."),
            crc64_bitwise(b"This is a test of the emergency broadcast system.")
        );
    }

    #[test]
    fn running_crc_equals_one_shot_at_every_split() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = crc64(&data);
        assert_eq!(whole, crc64_bitwise(&data));
        for split in 0..data.len() {
            let mut crc = Crc64::new();
            crc.update(&data[..split]);
            crc.update(&data[split..]);
            assert_eq!(crc.value(), whole, "split at {split}");
        }
    }
}
