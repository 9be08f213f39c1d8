//! Splitting a line into arguments with Redis's quoting rules (`sdssplitargs`).
//!
//! Used by inline requests and by the `redis.conf` parser, which follow the same rules:
//! `"..."` understands `\n \r \t \b \a \\ \" \xHH`; `'...'` understands only `\'`;
//! a closing quote must be followed by a space or the end of the line.

/// Splits `line` into arguments; `None` when quotes are unbalanced (or a closing quote is
/// glued to the next character), as `sdssplitargs` returns NULL.
///
/// `sdssplitargs` reads a C string: a NUL byte ends the line there, quotes open or not, and
/// whatever follows it is not read.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = &line[..memchr::memchr(0, line).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while pos < line.len() && is_space(line[pos]) {
            pos += 1;
        }
        if pos >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if pos >= line.len() {
                    return None;
                }
                let c = line[pos];
                if c == b'\\'
                    && pos + 3 < line.len()
                    && line[pos + 1] == b'x'
                    && line[pos + 2].is_ascii_hexdigit()
                    && line[pos + 3].is_ascii_hexdigit()
                {
                    current.push(hex_value(line[pos + 2]) * 16 + hex_value(line[pos + 3]));
                    pos += 3;
                } else if c == b'\\' && pos + 1 < line.len() {
                    pos += 1;
                    current.push(match line[pos] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // The closing quote must be followed by a space or nothing.
                    if pos + 1 < line.len() && !is_space(line[pos + 1]) {
                        return None;
                    }
                    pos += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if pos >= line.len() {
                    return None;
                }
                let c = line[pos];
                if c == b'\\' && pos + 1 < line.len() && line[pos + 1] == b'\'' {
                    pos += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if pos + 1 < line.len() && !is_space(line[pos + 1]) {
                        return None;
                    }
                    pos += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else {
                if pos >= line.len() {
                    break;
                }
                match line[pos] {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        pos += 1;
                        break;
                    }
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => current.push(c),
                }
            }
            pos += 1;
        }
        args.push(current);
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c)
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect()
        })
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(split("set a b").unwrap(), ["set", "a", "b"]);
        assert_eq!(
            split("  set   \"a b\" 'c d'  ").unwrap(),
            ["set", "a b", "c d"]
        );
        assert_eq!(split("\"\\x41\\n\"").unwrap(), ["A\n"]);
        assert_eq!(split("'it\\'s'").unwrap(), ["it's"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_nul_byte_ends_the_line() {
        assert_eq!(split("set a b\0c d").unwrap(), ["set", "a", "b"]);
        assert_eq!(split("set a\0\0\0b").unwrap(), ["set", "a"]);
        assert_eq!(split("\0set a").unwrap(), Vec::<String>::new());
        assert!(split("set \"a\0b\"").is_none());
        assert!(split("set 'a\0b'").is_none());
    }

    #[test]
    fn unbalanced() {
        assert!(split("set \"a").is_none());
        assert!(split("set 'a").is_none());
        assert!(split("set \"a\"b").is_none());
    }
}
