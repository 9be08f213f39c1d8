//! LZF, the compression Redis uses for RDB strings (liblzf's stream format, no header).
//!
//! A stream is a sequence of runs, each introduced by a control byte `c`:
//! - `c < 32`: a literal run of `c + 1` bytes that follow;
//! - otherwise a back reference: length `(c >> 5) + 2` (when `c >> 5 == 7`, one more byte
//!   adds to it, up to 264), offset `((c & 0x1f) << 8 | next byte) + 1` bytes back in the
//!   output. The copy may overlap the bytes it produces (`"aaaa…"` is one literal and one
//!   reference).
//!
//! The compressor is written here in liblzf's spirit (a hash of the next three bytes finds
//! the last place they occurred, within the 8 KiB window); its output need not be
//! byte-identical to liblzf's, only valid: Redis decompresses any valid stream.

/// Longest literal run one control byte introduces.
const LITERAL_RUN_MAX: usize = 32;
/// How far back a reference may point (13 bits of offset, plus one).
const OFFSET_MAX: usize = 1 << 13;
/// Longest match: 7 + 255 in the length fields, plus the implied 2.
const MATCH_MAX: usize = 264;
/// Most positions the match finder remembers, as a power of two (liblzf's `HLOG` is 16; the
/// table is sized to the input, so compressing a short string costs a short table).
const HASH_BITS_MAX: u32 = 14;
const HASH_BITS_MIN: u32 = 6;

fn hash3(bytes: &[u8], bits: u32) -> usize {
    let v = (bytes[0] as u32) << 16 | (bytes[1] as u32) << 8 | bytes[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

/// Compresses `input`, or `None` when the result would be longer than `max_out` bytes (the
/// caller then stores the bytes as they are).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(max_out.min(input.len()));
    // Position in `out` of the open literal run's control byte, and its length so far.
    let mut literal_at: Option<usize> = None;
    let mut literal_len = 0usize;
    // Position + 1 of the last occurrence of each hashed 3-byte prefix (0: none).
    let bits = (usize::BITS - input.len().leading_zeros()).clamp(HASH_BITS_MIN, HASH_BITS_MAX);
    let mut table = vec![0usize; 1 << bits];
    let mut i = 0;
    while i < input.len() {
        if out.len() > max_out {
            return None;
        }
        if i + 2 < input.len() {
            let h = hash3(&input[i..], bits);
            let candidate = table[h];
            table[h] = i + 1;
            if candidate != 0 {
                let r = candidate - 1;
                let distance = i - r;
                if distance <= OFFSET_MAX && input[r..r + 3] == input[i..i + 3] {
                    let longest = (input.len() - i).min(MATCH_MAX);
                    let mut len = 3;
                    while len < longest && input[r + len] == input[i + len] {
                        len += 1;
                    }
                    if let Some(at) = literal_at.take() {
                        out[at] = (literal_len - 1) as u8;
                        literal_len = 0;
                    }
                    let offset = distance - 1;
                    let stored = len - 2;
                    if stored < 7 {
                        out.push(((stored << 5) | (offset >> 8)) as u8);
                    } else {
                        out.push(((7 << 5) | (offset >> 8)) as u8);
                        out.push((stored - 7) as u8);
                    }
                    out.push((offset & 0xff) as u8);
                    // Remember the positions the match covered, so later data can refer to them.
                    let end = i + len;
                    i += 1;
                    while i < end {
                        if i + 2 < input.len() {
                            table[hash3(&input[i..], bits)] = i + 1;
                        }
                        i += 1;
                    }
                    continue;
                }
            }
        }
        let at = *literal_at.get_or_insert_with(|| {
            out.push(0);
            out.len() - 1
        });
        out.push(input[i]);
        literal_len += 1;
        if literal_len == LITERAL_RUN_MAX {
            out[at] = (LITERAL_RUN_MAX - 1) as u8;
            literal_at = None;
            literal_len = 0;
        }
        i += 1;
    }
    if let Some(at) = literal_at {
        out[at] = (literal_len - 1) as u8;
    }
    (out.len() <= max_out).then_some(out)
}

/// Decompresses a stream that must produce exactly `expected_len` bytes. The output grows
/// with what the stream actually produces, never by `expected_len` up front (a corrupt
/// length must not allocate gigabytes).
pub fn decompress(input: &[u8], expected_len: usize) -> Result<Vec<u8>, &'static str> {
    // A reference of 3 input bytes yields at most 264 output bytes.
    let bound = input.len().saturating_mul(MATCH_MAX / 3 + 1);
    let mut out = Vec::with_capacity(expected_len.min(bound));
    let mut i = 0;
    while i < input.len() {
        let control = input[i] as usize;
        i += 1;
        if control < LITERAL_RUN_MAX {
            let run = control + 1;
            let bytes = input
                .get(i..i + run)
                .ok_or("LZF literal run past the end")?;
            if out.len() + run > expected_len {
                return Err("LZF output longer than declared");
            }
            out.extend_from_slice(bytes);
            i += run;
        } else {
            let mut len = control >> 5;
            if len == 7 {
                len += *input.get(i).ok_or("LZF reference past the end")? as usize;
                i += 1;
            }
            len += 2;
            let low = *input.get(i).ok_or("LZF reference past the end")? as usize;
            i += 1;
            let distance = ((control & 0x1f) << 8 | low) + 1;
            if distance > out.len() {
                return Err("LZF reference before the start");
            }
            if out.len() + len > expected_len {
                return Err("LZF output longer than declared");
            }
            let from = out.len() - distance;
            if distance >= len {
                out.extend_from_within(from..from + len);
            } else {
                for k in 0..len {
                    out.push(out[from + k]);
                }
            }
        }
    }
    if out.len() != expected_len {
        return Err("LZF output shorter than declared");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::SmallRng};

    fn round_trip(data: &[u8]) -> Option<usize> {
        let compressed = compress(data, data.len().saturating_sub(4))?;
        assert_eq!(decompress(&compressed, data.len()).unwrap(), data);
        Some(compressed.len())
    }

    #[test]
    fn repetitive_data_compresses_and_round_trips() {
        // Redis writes 100 × 'a' as 9 bytes; any valid stream of about that size is fine.
        let n = round_trip(&[b'a'; 100]).unwrap();
        assert!(n <= 9, "{n}");
        let text: Vec<u8> = b"hello world, hello kopi, hello redis! "
            .iter()
            .cycle()
            .take(5000)
            .copied()
            .collect();
        assert!(round_trip(&text).unwrap() < 500);
        // Long runs need the extended length byte and references far back in the window.
        let mut mixed = vec![b'z'; 1000];
        mixed.extend((0..9000u32).map(|i| (i % 251) as u8));
        mixed.extend_from_slice(&[b'z'; 300]);
        round_trip(&mixed).unwrap();
    }

    #[test]
    fn incompressible_data_is_refused() {
        let mut rng = SmallRng::seed_from_u64(7);
        let data: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
        assert_eq!(round_trip(&data), None);
        // With room to spare it still produces a valid (longer) stream.
        let expanded = compress(&data, data.len() * 2).unwrap();
        assert_eq!(decompress(&expanded, data.len()).unwrap(), data);
        for len in 0..80 {
            let piece = &data[..len];
            let stream = compress(piece, len * 2 + 2).unwrap();
            assert_eq!(decompress(&stream, len).unwrap(), piece);
        }
    }

    #[test]
    fn random_mixtures_round_trip() {
        let mut rng = SmallRng::seed_from_u64(11);
        for _ in 0..200 {
            let len = rng.random_range(0..3000);
            let alphabet = rng.random_range(1..=255u8);
            let data: Vec<u8> = (0..len)
                .map(|_| rng.random_range(0..=alphabet) / 8)
                .collect();
            let stream = compress(&data, data.len() * 2 + 2).unwrap();
            assert_eq!(decompress(&stream, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn corrupt_streams_are_errors() {
        assert!(decompress(&[0x01, b'a'], 2).is_err()); // literal past the end
        assert!(decompress(&[0x00, b'a', 0x20, 0x05], 4).is_err()); // reference too far back
        assert!(decompress(&[0x00, b'a', 0xe0], 10).is_err()); // truncated reference
        assert!(decompress(&[0x00, b'a', 0x20, 0x00], 2).is_err()); // longer than declared
        assert!(decompress(&[0x00, b'a'], 2).is_err()); // shorter than declared
        assert_eq!(
            decompress(&[0x00, b'a', 0xe0, 0x00, 0x00], 10).unwrap(),
            b"aaaaaaaaaa"
        );
        assert!(decompress(&[0x00, b'a', 0x20, 0x00], usize::MAX).is_err());
    }
}
