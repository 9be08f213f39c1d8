//! Small, exact re-implementations of Redis's number and pattern helpers.

/// Redis's `string2ll`: an optional `-`, then digits with no leading zero (except `0`), no
/// spaces, no `+`, and no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut value: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            None
        } else {
            Some((value as i64).wrapping_neg())
        }
    } else {
        i64::try_from(value).ok()
    }
}

/// What C's `strtol(s, &end, 10)` (glibc, C locale) makes of the bytes `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strtol {
    /// The value, saturated to `i64::MIN`/`i64::MAX` on overflow; 0 when there are no digits.
    pub value: i64,
    /// How many bytes were consumed (`end - s`): 0 when there are no digits, even after white
    /// space or a sign.
    pub end: usize,
    /// The digits overflowed (`errno` would be `ERANGE`).
    pub overflow: bool,
}

/// C's `strtol` base 10 as glibc implements it: leading white space, an optional sign, the
/// leading digits. A NUL byte ends the string, as in C, since it is neither.
pub fn strtol(s: &[u8]) -> Strtol {
    let mut at = 0;
    while s
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        at += 1;
    }
    let negative = s.get(at) == Some(&b'-');
    if matches!(s.get(at), Some(b'-' | b'+')) {
        at += 1;
    }
    let digits = s[at.min(s.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return Strtol {
            value: 0,
            end: 0,
            overflow: false,
        };
    }
    // Accumulate a magnitude that stops growing past 2^63 (i64::MIN's magnitude).
    let limit = 1u64 << 63;
    let mut magnitude = 0u64;
    for &b in &s[at..at + digits] {
        magnitude = magnitude
            .saturating_mul(10)
            .saturating_add(u64::from(b - b'0'))
            .min(limit + 1);
    }
    let (value, overflow) = if negative {
        match 0i64.checked_sub_unsigned(magnitude) {
            Some(value) if magnitude <= limit => (value, false),
            _ => (i64::MIN, true),
        }
    } else {
        match i64::try_from(magnitude) {
            Ok(value) => (value, false),
            Err(_) => (i64::MAX, true),
        }
    };
    Strtol {
        value,
        end: at + digits,
        overflow,
    }
}

/// Redis's `string2ld`/`strtod` checks for a float argument: no spaces, the whole string must
/// be a number, NaN is refused. `inf`/`-inf` are accepted (callers reject infinite results).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5120 {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let first = text.as_bytes()[0];
    if first.is_ascii_whitespace() || text.as_bytes()[text.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let value = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        rest if rest.starts_with("nan") || rest.starts_with("in") => return None,
        _ => lower.parse::<f64>().ok()?,
    };
    if value.is_nan() { None } else { Some(value) }
}

/// Doubles as Redis 7.0 prints them in replies (`%.17g`; `inf`, `-inf`).
pub fn format_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    format_g(value, 17)
}

/// C's `%.{precision}g`.
pub fn format_g(value: f64, precision: usize) -> String {
    let sci = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = trim_fraction_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim_fraction_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

fn trim_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// INCRBYFLOAT's number form (Redis's `ld2string` in human mode): no exponent, no trailing
/// zeros. Redis computes in `long double`; kopi in `f64` printed at the shortest length that
/// reads back to the same value, which gives the same text for ordinary values.
pub fn format_human_double(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let text = format!("{value}");
    if text.contains('e') {
        // Display never uses exponents for f64, but keep the guarantee explicit.
        return format!("{value:.17}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string();
    }
    text
}

/// The most `*` groups a match may pass through while string bytes remain: past it the pattern
/// does not match. Redis's fix for CVE-2024-31228 cuts its recursion at this depth
/// (`nesting > 1000` in `stringmatchlen_impl`), so the same patterns match in kopi.
pub const GLOB_MAX_STAR_NESTING: usize = 1000;

/// Redis's glob matcher (`stringmatchlen`): `*`, `?`, `[...]` with ranges and `^`, `\` escapes.
/// Iterative with single-star backtracking, so its cost is bounded by pattern × string length
/// whatever the pattern (no recursion, no exponential blow-up: CVE-2022-36021). As Redis since
/// its CVE-2024-31228 fix, a match that needs more than [`GLOB_MAX_STAR_NESTING`] star groups
/// with string left to match fails at once.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // Redis's loop never starts on an empty string, so only the empty pattern matches it
    // (`*` lists an empty key only because KEYS and SCAN skip matching for a lone `*`).
    if string.is_empty() {
        return pattern.is_empty();
    }
    let (mut p, mut s) = (0usize, 0usize);
    // The star group being tried last: (pattern index after it, string index it swallowed up
    // to, its nesting depth: how many groups come before it, itself included).
    let mut backtrack: Option<(usize, usize, usize)> = None;
    let mut nesting = 0usize;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    if s < string.len() {
                        // Redis recurses here; with the string consumed it does not.
                        nesting += 1;
                        if nesting > GLOB_MAX_STAR_NESTING {
                            return false;
                        }
                    }
                    backtrack = Some((p, s, nesting));
                    continue;
                }
                b'?' if s < string.len() => {
                    p += 1;
                    s += 1;
                    continue;
                }
                b'[' if s < string.len() => {
                    let (matched, next) = match_class(pattern, p + 1, string[s], nocase);
                    if matched {
                        p = next;
                        s += 1;
                        continue;
                    }
                }
                // An escape; a backslash that ends the pattern is itself.
                b'\\'
                    if p + 1 < pattern.len()
                        && s < string.len()
                        && eq(pattern[p + 1], string[s]) =>
                {
                    p += 2;
                    s += 1;
                    continue;
                }
                c if s < string.len()
                    && !matches!(c, b'?' | b'[')
                    && !(c == b'\\' && p + 1 < pattern.len())
                    && eq(c, string[s]) =>
                {
                    p += 1;
                    s += 1;
                    continue;
                }
                _ => {}
            }
        } else if s == string.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character, if there is one.
        match backtrack {
            Some((star_p, star_s, star_nesting)) if star_s < string.len() => {
                backtrack = Some((star_p, star_s + 1, star_nesting));
                p = star_p;
                s = star_s + 1;
                nesting = star_nesting;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the class starting after `[` at `p`; returns (matched, index after `]`).
fn match_class(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let fold = |x: u8| if nocase { x.to_ascii_lowercase() } else { x };
    let not = p < pattern.len() && pattern[p] == b'^';
    if not {
        p += 1;
    }
    let mut matched = false;
    loop {
        if p >= pattern.len() {
            // Unterminated class: Redis treats the end of pattern as the end of the class.
            p = pattern.len().saturating_sub(1);
            break;
        }
        if pattern[p] == b']' {
            break;
        }
        if pattern[p] == b'\\' && p + 1 < pattern.len() {
            p += 1;
            if pattern[p] == c {
                matched = true;
            }
        } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' {
            // Compared as C `char`s, signed on the platforms Redis ships for, so a range
            // that reaches past 0x7f behaves as in Redis.
            let (mut start, mut end) = (pattern[p] as i8, pattern[p + 2] as i8);
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            let signed_fold = |x: i8| fold(x as u8) as i8;
            let (start, end, c) = (signed_fold(start), signed_fold(end), signed_fold(c as i8));
            if c >= start && c <= end {
                matched = true;
            }
            p += 2;
        } else if fold(pattern[p]) == fold(c) {
            matched = true;
        }
        p += 1;
    }
    (matched != not, p + 1)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_reads_like_glibc() {
        let cases: [(&[u8], i64, usize, bool); 12] = [
            (b"42\r\n", 42, 2, false),
            (b" \t\r\n-7x", -7, 6, false),
            (b"+5", 5, 2, false),
            (b"", 0, 0, false),
            (b"-", 0, 0, false),
            (b" x", 0, 0, false),
            (b"12\x0034", 12, 2, false),
            (b"007", 7, 3, false),
            (b"9223372036854775807", i64::MAX, 19, false),
            (b"9223372036854775808", i64::MAX, 19, true),
            (b"-9223372036854775808", i64::MIN, 20, false),
            (b"-99999999999999999999", i64::MIN, 21, true),
        ];
        for (bytes, value, end, overflow) in cases {
            assert_eq!(
                strtol(bytes),
                Strtol {
                    value,
                    end,
                    overflow
                },
                "{:?}",
                bytes.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b"9223372036854775808"[..],
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1.0000000000000001e-05");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_human_double(10.5), "10.5");
        assert_eq!(format_human_double(3.0), "3");
        assert_eq!(format_human_double(1e20), "100000000000000000000");
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(!glob_match(b"a\\*b", b"a\\b", false));
        assert!(glob_match(b"a\\", b"a\\", false));
        assert!(!glob_match(b"*", b"", false));
        assert!(glob_match(b"", b"", false));
        assert!(!glob_match(b"foo*bar", b"foobaz", false));
        assert!(glob_match(b"*a*b*c", b"xxaxxbxxc", false));
        assert!(glob_match(b"FOO", b"foo", true));
        let evil = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b".to_vec();
        assert!(!glob_match(&evil, &[b'a'; 10_000], false));
    }

    #[test]
    fn glob_star_nesting_is_cut_as_in_redis() {
        // 1000 groups with string left may match; the 1001st fails the whole match.
        let groups = |n: usize| b"*?".repeat(n);
        assert!(glob_match(&groups(1000), &[b'a'; 1000], false));
        assert!(!glob_match(&groups(1001), &[b'a'; 1001], false));
        assert!(!glob_match(&groups(50_000), &[b'a'; 50_000], false));
        // A trailing star, or stars reached with the string consumed, do not count.
        let mut trailing = groups(1000);
        trailing.push(b'*');
        assert!(glob_match(&trailing, &[b'a'; 1000], false));
        let mut consumed = b"?".repeat(10);
        consumed.extend(b"*".repeat(3000));
        assert!(glob_match(&consumed, &[b'a'; 10], false));
        // Backtracking restores the depth of the star it returns to.
        let mut pattern = b"*a".repeat(1000);
        pattern.extend(b"b");
        let mut string = vec![b'a'; 2000];
        string.push(b'b');
        assert!(glob_match(&pattern, &string, false));
    }
}
