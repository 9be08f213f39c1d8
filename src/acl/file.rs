//! The ACL file (`aclfile`) and `user` lines of the config file.
//!
//! The ACL file holds one user a line, as ACL LIST shows them, sorted by name:
//!
//! ```text
//! user alice on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~cache:* resetchannels -@all +get
//! user default on nopass ~* &* +@all
//! ```
//!
//! ACL SAVE replaces it through [`write_file_atomically`] (mode 0600: it holds password
//! hashes); ACL LOAD and the start-up read it all or nothing, as Redis's `ACLLoadFromFile`.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Acl, DEFAULT_USER, User, has_spaces, merge_selector_args};
use crate::persistence::fs::{OsStorage, write_file_atomically};

/// The ACL file's permissions.
pub const ACL_FILE_MODE: u32 = 0o600;

/// Every user in ACL-file form, one line each, sorted by name.
pub fn render(acl: &Acl) -> String {
    let mut out = String::new();
    for user in acl.users.values() {
        out.push_str("user ");
        out.push_str(&user.name_str());
        out.push(' ');
        out.push_str(&user.describe());
        out.push('\n');
    }
    out
}

/// ACL SAVE: writes every user to `path` crash-safely.
pub fn save(acl: &Acl, path: &Path) -> Result<(), String> {
    write_file_atomically(&OsStorage, path, render(acl).as_bytes(), ACL_FILE_MODE)
        .map_err(|e| e.to_string())
}

/// Parses an ACL file's text into users (`ACLLoadFromFile`). `shown_name` is how errors name
/// the file (the `aclfile` value). Without a `default` line the default user gets its
/// initial rules. On any error nothing is returned but the errors, in Redis's words.
pub fn parse(text: &[u8], shown_name: &str) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
    let mut errors = String::new();
    for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<Vec<u8>> = line.split(|&c| c == b' ').map(<[u8]>::to_vec).collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{shown_name}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = &argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{shown_name}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut user = User::new(name);
        let Ok(rules) = merge_selector_args(&argv[2..]) else {
            errors.push_str(&format!(
                "{shown_name}:{linenum}: Unmatched parenthesis in selector definition."
            ));
            users.insert(name.clone(), user);
            continue;
        };
        let mut syntax_error = false;
        for rule in rules {
            let rule = trim(&rule, b"\t\r\n");
            if let Err(e) = user.apply(rule) {
                if e == super::RuleError::UnknownCommand {
                    errors.push_str(&format!(
                        "{shown_name}:{linenum}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(rule),
                        e.text()
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{shown_name}:{linenum}: {}. ", e.text()));
                    syntax_error = true;
                }
            }
        }
        users.insert(name.clone(), user);
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    users
        .entry(DEFAULT_USER.as_bytes().to_vec())
        .or_insert_with(User::new_default);
    Ok(users)
}

/// Reads and parses the ACL file at `path` (the open error in Redis's words).
pub fn load(path: &str) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            crate::server::config::strerror(&e)
        )
    })?;
    parse(&text, path)
}

/// The users of the config file's `user <name> <rules...>` lines, applied in order on top of
/// the default user (`ACLAppendUserForLoading` then `ACLLoadConfiguredUsers`). A user named
/// twice, a name with spaces or a bad rule is an error, in Redis's words.
pub fn from_config_lines(acl: &mut Acl, lines: &[Vec<Vec<u8>>]) -> Result<(), String> {
    let mut seen: Vec<&[u8]> = Vec::new();
    for words in lines {
        let name = &words[0];
        if seen.contains(&&name[..]) {
            return Err(super::RuleError::Duplicate.text().to_string());
        }
        seen.push(name);
        if has_spaces(name) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let rules = merge_selector_args(&words[1..])
            .map_err(|_| "Unmatched parenthesis in acl selector".to_string())?;
        let mut user = if name == DEFAULT_USER.as_bytes() {
            let mut user = acl.default_user().clone();
            let _ = user.apply(b"reset");
            user
        } else {
            User::new(name)
        };
        for rule in &rules {
            user.apply(rule).map_err(|e| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    String::from_utf8_lossy(rule),
                    String::from_utf8_lossy(name),
                    e.text()
                )
            })?;
        }
        if user.disabled {
            crate::server::log::notice(&format!(
                "The user '{}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.",
                String::from_utf8_lossy(name)
            ));
        }
        acl.users.insert(name.clone(), user);
    }
    Ok(())
}

fn trim<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|c| !set.contains(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !set.contains(c))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_round_trips() {
        let mut acl = Acl::default();
        acl.set_user(
            b"alice",
            &[
                b"on".to_vec(),
                b">pw".to_vec(),
                b"~cache:*".to_vec(),
                b"+get".to_vec(),
            ],
        )
        .unwrap();
        let text = render(&acl);
        let users = parse(text.as_bytes(), "users.acl").unwrap();
        assert_eq!(users, acl.users);
    }

    #[test]
    fn errors_are_collected_and_nothing_is_loaded() {
        let text = b"user a on +nosuch\n# comment\nuser a\nuser b %X~a %Y~b\n";
        let err = parse(text, "f.acl").unwrap_err();
        assert_eq!(
            err,
            "f.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. \
             f.acl:2 should start with user keyword followed by the username. \
             WARNING: Duplicate user 'a' found on line 3. \
             f.acl:4: Syntax error. \
             WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        );
    }
}
