//! INCRBYFLOAT's number type: the x87 80-bit extended double (`long double` on x86-64) that
//! Redis computes in, emulated exactly.
//!
//! Redis parses both operands with `strtold`, adds them in extended precision and stores the
//! sum printed with `%.17Lf` minus trailing zeros. Doing the same in `f64` gives different
//! text for everyday inputs (`0.1` + `0.2` is `0.3` in Redis, `0.30000000000000004` in `f64`),
//! so the three steps are done here with exact integer arithmetic: parsing and addition round
//! once to a 64-bit mantissa (nearest, ties to even, with subnormals), and printing rounds the
//! exact binary value once to 17 decimals (nearest, ties to even, as glibc does).

use std::cmp::Ordering;

/// Exponent of the least significant bit of the smallest subnormal (2^-16445).
const LSB_MIN: i64 = -16445;
/// Largest exponent of a finite value's leading bit.
const TOP_MAX: i64 = 16383;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: inputs must be shorter, outputs too.
pub const MAX_CHARS: usize = 5 * 1024;

/// A value of the extended type: `(-1)^neg × mant × 2^exp`, or an infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ext {
    Finite { neg: bool, mant: u64, exp: i32 },
    Inf { neg: bool },
}

impl Ext {
    pub fn from_i64(n: i64) -> Ext {
        Ext::Finite {
            neg: n < 0,
            mant: n.unsigned_abs(),
            exp: 0,
        }
    }

    pub fn is_finite(&self) -> bool {
        matches!(self, Ext::Finite { .. })
    }

    /// `strtold` as Redis's `string2ld` uses it: the whole input must be one number (decimal,
    /// hexadecimal `0x…p…`, `inf` or `infinity`), no spaces, shorter than 5120 bytes; NaN and
    /// results that overflow to infinity or underflow to zero are refused.
    pub fn parse(s: &[u8]) -> Option<Ext> {
        if s.is_empty() || s.len() >= MAX_CHARS {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Ext::Inf { neg });
        }
        if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(neg, &body[2..])
        } else {
            parse_decimal(neg, body)
        }
    }

    /// The sum, rounded once; `None` when it is infinite or NaN.
    pub fn add(self, other: Ext) -> Option<Ext> {
        let (
            Ext::Finite {
                neg: na,
                mant: ma,
                exp: ea,
            },
            Ext::Finite {
                neg: nb,
                mant: mb,
                exp: eb,
            },
        ) = (self, other)
        else {
            return None;
        };
        if mb == 0 {
            // x + 0 is x, except that -0 + +0 is +0.
            return Some(if ma == 0 { zero(na && nb) } else { self });
        }
        if ma == 0 {
            return Some(other);
        }
        let e = ea.min(eb);
        let a = Big::from_u64(ma).shl((ea - e) as u64);
        let b = Big::from_u64(mb).shl((eb - e) as u64);
        let (neg, sum) = if na == nb {
            (na, a.add(&b))
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return Some(zero(false)),
                Ordering::Greater => (na, a.sub(&b)),
                Ordering::Less => (nb, b.sub(&a)),
            }
        };
        let result = round(neg, &sum, e as i64, false);
        result.is_finite().then_some(result)
    }

    /// `%.17Lf` without trailing fraction zeros, `-0` as `0`: Redis's `ld2string` in its
    /// human mode. An infinity prints as `inf`/`-inf`.
    pub fn to_human(self) -> Vec<u8> {
        let (neg, mant, exp) = match self {
            Ext::Inf { neg } => {
                return if neg {
                    b"-inf".to_vec()
                } else {
                    b"inf".to_vec()
                };
            }
            Ext::Finite { neg, mant, exp } => (neg, mant, exp as i64),
        };
        let mut out = Vec::new();
        if neg {
            out.push(b'-');
        }
        if exp >= 0 {
            out.extend_from_slice(Big::from_u64(mant).shl(exp as u64).to_decimal().as_bytes());
        } else {
            // mant × 2^exp × 10^17, rounded to an integer: the digits of %.17Lf.
            let mut scaled = Big::from_u64(mant);
            scaled.mul_pow5(17);
            let scaled = scaled.shl(17);
            let s = exp.unsigned_abs();
            let mut q = scaled.shr(s);
            let half = scaled.bit(s - 1);
            if half && (scaled.any_below(s - 1) || q.bit(0)) {
                q = q.add(&Big::from_u64(1));
            }
            let digits = q.to_decimal();
            let digits = format!("{digits:0>18}");
            let (int, frac) = digits.split_at(digits.len() - 17);
            out.extend_from_slice(int.as_bytes());
            let frac = frac.trim_end_matches('0');
            if !frac.is_empty() {
                out.push(b'.');
                out.extend_from_slice(frac.as_bytes());
            }
        }
        if out == b"-0" {
            out.remove(0);
        }
        // Redis gives up (an empty string) when the text does not fit its buffer; a finite
        // extended value never needs that much.
        if out.len() + 1 > MAX_CHARS {
            out.clear();
        }
        out
    }
}

fn zero(neg: bool) -> Ext {
    Ext::Finite {
        neg,
        mant: 0,
        exp: 0,
    }
}

/// Rounds `b × 2^e` (plus something smaller than `2^e` when `sticky`) to the nearest extended
/// value, ties to even.
fn round(neg: bool, b: &Big, e: i64, sticky: bool) -> Ext {
    if b.is_zero() {
        return zero(neg);
    }
    let top = e + b.bit_len() as i64 - 1;
    if top > TOP_MAX {
        return Ext::Inf { neg };
    }
    let mut lsb = (top - 63).max(LSB_MIN);
    let shift = lsb - e;
    let mut mant = if shift <= 0 {
        // Exact: the value has at most 64 significant bits from `lsb` up.
        b.shl(shift.unsigned_abs()).low_u64()
    } else {
        let s = shift as u64;
        let q = b.shr(s).low_u64();
        let half = b.bit(s - 1);
        let rest = sticky || b.any_below(s - 1);
        if half && (rest || q & 1 == 1) {
            match q.checked_add(1) {
                Some(m) => m,
                None => {
                    lsb += 1;
                    1 << 63
                }
            }
        } else {
            q
        }
    };
    if mant == 0 {
        return zero(neg);
    }
    let top = lsb + 63 - mant.leading_zeros() as i64;
    if top > TOP_MAX {
        return Ext::Inf { neg };
    }
    // Normalise the representation (trailing zero bits carry no information).
    let tz = mant.trailing_zeros();
    mant >>= tz;
    lsb += tz as i64;
    Ext::Finite {
        neg,
        mant,
        exp: lsb as i32,
    }
}

/// Digits of a mantissa (without the `.`), the number of digits after the `.`, and whether
/// the mantissa had a digit at all.
fn split_mantissa(s: &[u8], is_digit: impl Fn(u8) -> bool) -> Option<(Vec<u8>, usize, usize)> {
    let int_len = s.iter().take_while(|&&c| is_digit(c)).count();
    let mut digits = s[..int_len].to_vec();
    let mut rest = int_len;
    let mut frac_len = 0;
    if s.get(rest) == Some(&b'.') {
        rest += 1;
        frac_len = s[rest..].iter().take_while(|&&c| is_digit(c)).count();
        digits.extend_from_slice(&s[rest..rest + frac_len]);
        rest += frac_len;
    }
    if digits.is_empty() {
        return None;
    }
    Some((digits, frac_len, rest))
}

/// An exponent: optional sign, at least one decimal digit, the whole rest of the input.
/// Saturates far beyond any exponent that can matter.
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        value = (value * 10 + (d - b'0') as i64).min(1_000_000_000);
    }
    Some(if neg { -value } else { value })
}

fn parse_decimal(neg: bool, s: &[u8]) -> Option<Ext> {
    let (digits, frac_len, rest) = split_mantissa(s, |c| c.is_ascii_digit())?;
    let exp10 = match s.get(rest) {
        None => 0,
        Some(b'e' | b'E') => parse_exponent(&s[rest + 1..])?,
        Some(_) => return None,
    };
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else {
        return Some(zero(neg));
    };
    let digits = &digits[first..];
    // The value is digits × 10^e10, with 10^(n-1+e10) <= value < 10^(n+e10).
    let e10 = exp10 - frac_len as i64;
    let n = digits.len() as i64;
    if n - 1 + e10 > 4933 {
        return None; // at least 1e4934: overflow
    }
    if n + e10 < -4951 {
        return None; // below 1e-4951, under half the smallest subnormal: underflow to zero
    }
    let mut d = Big::zero();
    for chunk in digits.chunks(9) {
        let mut part = 0u32;
        for &c in chunk {
            part = part * 10 + (c - b'0') as u32;
        }
        d.mul_small(10u32.pow(chunk.len() as u32));
        d.add_small(part);
    }
    let result = if e10 >= 0 {
        d.mul_pow5(e10 as u64);
        round(neg, &d, e10, false)
    } else {
        // digits / 10^m = (digits / 5^m) × 2^-m, the quotient computed to 66+ bits.
        let m = e10.unsigned_abs();
        let mut den = Big::from_u64(1);
        den.mul_pow5(m);
        let (num, num_exp, dropped) = {
            let (nb, db) = (d.bit_len() as i64, den.bit_len() as i64);
            let k = 66 + db - nb;
            if k >= 0 {
                (d.shl(k as u64), -k, false)
            } else {
                let s = k.unsigned_abs();
                (d.shr(s), s as i64, d.any_below(s))
            }
        };
        let (q, remainder) = num.div_rem(&den);
        round(neg, &q, num_exp - m as i64, dropped || remainder)
    };
    match result {
        Ext::Finite { mant: 0, .. } | Ext::Inf { .. } => None,
        finite => Some(finite),
    }
}

fn parse_hex(neg: bool, s: &[u8]) -> Option<Ext> {
    let (digits, frac_len, rest) = split_mantissa(s, |c| c.is_ascii_hexdigit())?;
    let exp2 = match s.get(rest) {
        None => 0,
        Some(b'p' | b'P') => parse_exponent(&s[rest + 1..])?,
        Some(_) => return None,
    };
    let mut h = Big::zero();
    for &c in &digits {
        let v = (c as char).to_digit(16).unwrap_or(0);
        h.mul_small(16);
        h.add_small(v);
    }
    if h.is_zero() {
        return Some(zero(neg));
    }
    match round(neg, &h, exp2 - 4 * frac_len as i64, false) {
        Ext::Finite { mant: 0, .. } | Ext::Inf { .. } => None,
        finite => Some(finite),
    }
}

/// A non-negative integer of any size: little-endian 32-bit limbs, no zero limb on top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn zero() -> Big {
        Big::default()
    }

    fn from_u64(v: u64) -> Big {
        let mut b = Big {
            limbs: vec![v as u32, (v >> 32) as u32],
        };
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(top) => (self.limbs.len() as u64 - 1) * 32 + (32 - top.leading_zeros()) as u64,
        }
    }

    fn bit(&self, i: u64) -> bool {
        let word = (i / 32) as usize;
        word < self.limbs.len() && (self.limbs[word] >> (i % 32)) & 1 == 1
    }

    /// True if any of bits `0..i` is set.
    fn any_below(&self, i: u64) -> bool {
        let word = ((i / 32) as usize).min(self.limbs.len());
        if self.limbs[..word].iter().any(|&l| l != 0) {
            return true;
        }
        let bits = i % 32;
        word < self.limbs.len() && bits > 0 && self.limbs[word] & ((1u32 << bits) - 1) != 0
    }

    fn low_u64(&self) -> u64 {
        let lo = self.limbs.first().copied().unwrap_or(0) as u64;
        let hi = self.limbs.get(1).copied().unwrap_or(0) as u64;
        lo | hi << 32
    }

    fn shl(&self, s: u64) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let words = (s / 32) as usize;
        let bits = (s % 32) as u32;
        let mut limbs = vec![0u32; words];
        limbs.reserve(self.limbs.len() + 1);
        let mut carry = 0u32;
        for &l in &self.limbs {
            if bits == 0 {
                limbs.push(l);
            } else {
                limbs.push(l << bits | carry);
                carry = l >> (32 - bits);
            }
        }
        limbs.push(carry);
        let mut b = Big { limbs };
        b.trim();
        b
    }

    fn shr(&self, s: u64) -> Big {
        let words = s / 32;
        if words >= self.limbs.len() as u64 {
            return Big::zero();
        }
        let words = words as usize;
        let bits = (s % 32) as u32;
        let src = &self.limbs[words..];
        let mut limbs = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            if bits == 0 {
                limbs.push(l);
            } else {
                let next = src.get(i + 1).copied().unwrap_or(0);
                limbs.push(l >> bits | next << (32 - bits));
            }
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for l in self.limbs.iter_mut() {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.limbs.push(carry as u32);
        }
        self.trim();
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = a as u64;
        for l in self.limbs.iter_mut() {
            if carry == 0 {
                break;
            }
            let v = *l as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn mul_pow5(&mut self, mut n: u64) {
        const FIVE_13: u32 = 1_220_703_125;
        while n >= 13 {
            self.mul_small(FIVE_13);
            n -= 13;
        }
        self.mul_small(5u32.pow(n as u32));
    }

    fn add(&self, other: &Big) -> Big {
        let len = self.limbs.len().max(other.limbs.len());
        let mut limbs = Vec::with_capacity(len + 1);
        let mut carry = 0u64;
        for i in 0..len {
            let v = self.limbs.get(i).copied().unwrap_or(0) as u64
                + other.limbs.get(i).copied().unwrap_or(0) as u64
                + carry;
            limbs.push(v as u32);
            carry = v >> 32;
        }
        limbs.push(carry as u32);
        let mut b = Big { limbs };
        b.trim();
        b
    }

    /// `self - other`; `self` must not be smaller.
    fn sub(&self, other: &Big) -> Big {
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = 0i64;
        for (i, &l) in self.limbs.iter().enumerate() {
            let mut v = l as i64 - other.limbs.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            limbs.push(v as u32);
        }
        let mut b = Big { limbs };
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    /// Quotient and whether the remainder is nonzero, for quotients of a few dozen bits.
    fn div_rem(&self, den: &Big) -> (Big, bool) {
        let mut rem = self.clone();
        let mut q = Big::zero();
        if self.bit_len() >= den.bit_len() {
            for i in (0..=self.bit_len() - den.bit_len()).rev() {
                let d = den.shl(i);
                if rem.cmp(&d) != Ordering::Less {
                    rem = rem.sub(&d);
                    q = q.add(&Big::from_u64(1).shl(i));
                }
            }
        }
        (q, !rem.is_zero())
    }

    /// Divides in place by `d`, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.limbs.iter_mut().rev() {
            let v = rem << 32 | *l as u64;
            *l = (v / d as u64) as u32;
            rem = v % d as u64;
        }
        self.trim();
        rem as u32
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut out = String::with_capacity(chunks.len() * 9);
        let mut iter = chunks.iter().rev();
        if let Some(first) = iter.next() {
            out.push_str(&first.to_string());
        }
        for chunk in iter {
            out.push_str(&format!("{chunk:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Option<String> {
        let a = Ext::parse(a.as_bytes())?;
        let b = Ext::parse(b.as_bytes())?;
        Some(String::from_utf8(a.add(b)?.to_human()).unwrap())
    }

    #[test]
    fn sums_print_as_redis_prints_them() {
        assert_eq!(sum("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(sum("10.50", "0.1").as_deref(), Some("10.6"));
        assert_eq!(sum("10.6", "-5").as_deref(), Some("5.6"));
        assert_eq!(sum("5.0e3", "2.0e2").as_deref(), Some("5200"));
        assert_eq!(sum("1e5", "1").as_deref(), Some("100001"));
        assert_eq!(sum("0.5", "0x1.8p1").as_deref(), Some("3.5"));
        assert_eq!(sum("0", "0x.8").as_deref(), Some("0.5"));
        assert_eq!(
            sum("1.23456789012345678901234", "0").as_deref(),
            Some("1.23456789012345679")
        );
        // An exact tie at the 17th decimal goes to the even digit.
        assert_eq!(
            sum("0", "0.000003814697265625").as_deref(),
            Some("0.00000381469726562")
        );
        assert_eq!(sum("-0.0000000000000000001", "0").as_deref(), Some("0"));
        assert_eq!(sum("-0", "-0.0").as_deref(), Some("0"));
        assert_eq!(sum("1", "1e-400").as_deref(), Some("1"));
        assert_eq!(sum("3.6e-4951", "0").as_deref(), Some("0"));
        let big = sum("1e400", "0").unwrap();
        assert_eq!(big.len(), 401);
        assert!(big.starts_with("10000000000000000000281880683947586514586"));
    }

    #[test]
    fn strtold_acceptance() {
        for good in [
            "1",
            "-1.5",
            "+.5",
            "5.",
            "1E2",
            "1e+2",
            "0x10",
            "0X1P-3",
            "INF",
            "-Infinity",
        ] {
            assert!(Ext::parse(good.as_bytes()).is_some(), "{good}");
        }
        for bad in [
            "",
            " 1",
            "1 ",
            "nan",
            "-nan",
            "infin",
            ".",
            "e5",
            "1e",
            "1e-",
            "0x",
            "0x1p",
            "1\x002",
            "1e5000",
            "1e-5000",
            "1.7e-4951",
            "1.2e4932",
            "--1",
            "0xg",
        ] {
            assert_eq!(Ext::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(Ext::parse(&vec![b'1'; MAX_CHARS]), None);
        assert!(Ext::parse(&vec![b'1'; MAX_CHARS - 1]).is_none()); // 5119 digits overflow
        let mut long = b"0.".to_vec();
        long.resize(MAX_CHARS - 1, b'1');
        assert!(Ext::parse(&long).is_some());
    }

    #[test]
    fn infinities_and_overflow_are_not_sums() {
        let inf = Ext::parse(b"inf").unwrap();
        let one = Ext::from_i64(1);
        assert_eq!(inf.add(one), None);
        assert_eq!(one.add(Ext::parse(b"-inf").unwrap()), None);
        let max = Ext::parse(b"1.1e4932").unwrap();
        assert_eq!(max.add(max), None);
        assert_eq!(
            Ext::from_i64(i64::MIN).to_human(),
            b"-9223372036854775808".to_vec()
        );
    }
}
