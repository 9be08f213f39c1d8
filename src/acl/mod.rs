//! Access control lists, as Redis 7.0's `acl.c`: users, their selectors (command, key and
//! channel permissions), the rules that change them, their description in ACL-file form, the
//! permission check and the ACL log.
//!
//! Every command and subcommand of the table has an id; a selector keeps one bit per id (plus
//! a last bit meaning "commands added later", which only `+@all` sets). A user has a root
//! selector and any number of extra ones, `(...)` in the rules: a command runs if one selector
//! allows it entirely.
//!
//! The check costs one boolean on the request path while every user may run every command
//! on every key ([`Acl::unrestricted`]); only then are users looked up and keys matched.

pub mod file;
pub mod sha256;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use crate::commands::table::key_flag;
use crate::commands::{Command, acl, all_commands, flag};

/// New selectors may use every channel (`acl-pubsub-default allchannels`).
pub static PUBSUB_DEFAULT_ALL: AtomicBool = AtomicBool::new(false);

/// The default user's name.
pub const DEFAULT_USER: &str = "default";

/// The key permissions of a key pattern (`%R~`, `%W~`, or both: `~`).
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const READ_WRITE: u8 = READ | WRITE;

/// ACL categories by name, in Redis's order (ACL CAT, the description's best fit).
pub const CATEGORIES: &[(&str, u32)] = &[
    ("keyspace", acl::KEYSPACE),
    ("read", acl::READ),
    ("write", acl::WRITE),
    ("set", acl::SET),
    ("sortedset", acl::SORTEDSET),
    ("list", acl::LIST),
    ("hash", acl::HASH),
    ("string", acl::STRING),
    ("bitmap", acl::BITMAP),
    ("hyperloglog", acl::HYPERLOGLOG),
    ("geo", acl::GEO),
    ("stream", acl::STREAM),
    ("pubsub", acl::PUBSUB),
    ("admin", acl::ADMIN),
    ("fast", acl::FAST),
    ("slow", acl::SLOW),
    ("blocking", acl::BLOCKING),
    ("dangerous", acl::DANGEROUS),
    ("connection", acl::CONNECTION),
    ("transaction", acl::TRANSACTION),
    ("scripting", acl::SCRIPTING),
];

/// The category flag of `name` (any case), as `ACLGetCommandCategoryFlagByName`.
pub fn category_by_name(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, f)| *f)
}

// ---- command ids ----

/// Every command and subcommand with its id: containers first, each followed by its
/// subcommands, in table order.
pub struct CommandIds {
    pub commands: Vec<&'static Command>,
    /// For each id: the container's id for a subcommand.
    pub parent: Vec<Option<usize>>,
    /// For each id: the ids of its subcommands.
    pub children: Vec<Vec<usize>>,
    by_name: HashMap<&'static str, usize>,
}

impl CommandIds {
    /// The id of a command of the table, by its full name: the table's entries are
    /// constants, so one command may live at several addresses.
    pub fn id_of(&self, command: &Command) -> Option<usize> {
        self.by_name.get(command.name).copied()
    }

    /// The command a rule names (`get`, `config|get`, any case), as `ACLLookupCommand`.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        self.by_name.get(lower.as_str()).copied()
    }

    /// The bit reserved for commands added later (set only by `+@all`).
    fn future_bit(&self) -> usize {
        self.commands.len()
    }

    fn words(&self) -> usize {
        self.commands.len() / 64 + 1
    }
}

pub static IDS: LazyLock<CommandIds> = LazyLock::new(|| {
    let mut ids = CommandIds {
        commands: Vec::new(),
        parent: Vec::new(),
        children: Vec::new(),
        by_name: HashMap::new(),
    };
    let add = |command: &'static Command, parent: Option<usize>, ids: &mut CommandIds| {
        let id = ids.commands.len();
        ids.commands.push(command);
        ids.parent.push(parent);
        ids.children.push(Vec::new());
        ids.by_name.insert(command.name, id);
        if let Some(p) = parent {
            ids.children[p].push(id);
        }
        id
    };
    for command in all_commands() {
        let id = add(command, None, &mut ids);
        for sub in command.subcommands {
            add(sub, Some(id), &mut ids);
        }
    }
    ids
});

// ---- selectors ----

/// One set of permissions: commands, key patterns, channel patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub root: bool,
    pub all_keys: bool,
    pub all_channels: bool,
    pub all_commands: bool,
    allowed: Vec<u64>,
    /// Allowed first arguments of otherwise refused commands (`+select|0`), by command id.
    first_args: BTreeMap<usize, Vec<String>>,
    pub key_patterns: Vec<(u8, Vec<u8>)>,
    pub channels: Vec<Vec<u8>>,
}

/// Why a rule was refused (Redis's errno values in `ACLSetUser`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// ENOENT
    UnknownCommand,
    /// EINVAL
    Syntax,
    /// EEXIST
    KeyAfterAll,
    /// EISDIR
    ChannelAfterAll,
    /// ENODEV
    NoSuchPassword,
    /// EBADMSG
    BadHash,
    /// EALREADY
    Duplicate,
    /// ECHILD
    FirstArgOfSubcommand,
}

impl RuleError {
    /// `ACLSetUserStringError`.
    pub fn text(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::Duplicate => {
                "Duplicate user found. A user can only be defined once in config files"
            }
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        }
    }
}

/// Whitespace or NUL: not allowed in user names and patterns (`ACLStringHasSpaces`).
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

impl Selector {
    pub fn new(root: bool) -> Selector {
        Selector {
            root,
            all_keys: false,
            all_channels: PUBSUB_DEFAULT_ALL.load(Ordering::Relaxed),
            all_commands: false,
            allowed: vec![0; IDS.words()],
            first_args: BTreeMap::new(),
            key_patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    fn bit(&self, id: usize) -> bool {
        self.allowed
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_bit(&mut self, id: usize, value: bool) {
        let Some(word) = self.allowed.get_mut(id / 64) else {
            return;
        };
        if value {
            *word |= 1 << (id % 64);
        } else {
            *word &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    fn can_run_future_commands(&self) -> bool {
        self.bit(IDS.future_bit())
    }

    /// Allows or refuses a command, and with a container all its subcommands
    /// (`ACLChangeSelectorPerm`).
    fn change_perm(&mut self, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.remove(&id);
        for &sub in &IDS.children[id] {
            self.set_bit(sub, allow);
        }
    }

    fn set_category(&mut self, category: u32, allow: bool) {
        for (id, command) in IDS.commands.iter().enumerate() {
            if command.acl_categories() & category != 0 {
                self.change_perm(id, allow);
            }
        }
    }

    fn set_all(&mut self, allow: bool) {
        let fill = if allow { u64::MAX } else { 0 };
        self.allowed.iter_mut().for_each(|w| *w = fill);
        self.all_commands = allow;
        self.first_args.clear();
    }

    /// Applies one selector rule (`ACLSetSelector`).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        // An empty word inside `(...)`: none of the rules, as Redis says.
        let Some(&first) = op.first() else {
            return Err(RuleError::Syntax);
        };
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || op == b"~*" {
            self.all_keys = true;
            self.key_patterns.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.key_patterns.clear();
        } else if is("allchannels") || op == b"&*" {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all(true);
        } else if is("nocommands") || is("-@all") {
            self.set_all(false);
        } else if first == b'~' || first == b'%' {
            if self.all_keys {
                return Err(RuleError::KeyAfterAll);
            }
            let mut flags = 0;
            let mut offset = 1;
            if first == b'%' {
                while offset < op.len() {
                    let c = op[offset];
                    if c.eq_ignore_ascii_case(&b'R') && flags & READ == 0 {
                        flags |= READ;
                    } else if c.eq_ignore_ascii_case(&b'W') && flags & WRITE == 0 {
                        flags |= WRITE;
                    } else if c == b'~' {
                        offset += 1;
                        break;
                    } else {
                        return Err(RuleError::Syntax);
                    }
                    offset += 1;
                }
                // `%R` without `~` runs off the end: Redis then takes an empty pattern.
            } else {
                flags = READ_WRITE;
            }
            let pattern = &op[offset.min(op.len())..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            match self.key_patterns.iter_mut().find(|(_, p)| p == pattern) {
                Some((existing, _)) => *existing |= flags,
                None => self.key_patterns.push((flags, pattern.to_vec())),
            }
            self.all_keys = false;
        } else if first == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.all_channels = false;
        } else if first == b'+' && op.get(1) != Some(&b'@') {
            let name = &op[1..];
            match name.iter().rposition(|&c| c == b'|') {
                None => {
                    let id = IDS.lookup(name).ok_or(RuleError::UnknownCommand)?;
                    self.change_perm(id, true);
                }
                Some(bar) => {
                    let (base, sub) = (&name[..bar], &name[bar + 1..]);
                    let id = IDS.lookup(base).ok_or(RuleError::UnknownCommand)?;
                    if IDS.parent[id].is_some() {
                        return Err(RuleError::FirstArgOfSubcommand);
                    }
                    if sub.is_empty() {
                        return Err(RuleError::Syntax);
                    }
                    if !IDS.children[id].is_empty() {
                        let sub_id = IDS.lookup(name).ok_or(RuleError::UnknownCommand)?;
                        self.change_perm(sub_id, true);
                    } else {
                        let sub = String::from_utf8_lossy(sub).into_owned();
                        crate::server::log::warning(&format!(
                            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
                            String::from_utf8_lossy(name)
                        ));
                        let list = self.first_args.entry(id).or_default();
                        if !list.iter().any(|s| s.eq_ignore_ascii_case(&sub)) {
                            list.push(sub);
                        }
                    }
                }
            }
        } else if first == b'-' && op.get(1) != Some(&b'@') {
            let id = IDS.lookup(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(id, false);
        } else if (first == b'+' || first == b'-') && op.get(1) == Some(&b'@') {
            let category = category_by_name(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.set_category(category, first == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// How many commands of `category` this selector allows and refuses.
    fn count_category(&self, category: u32) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (id, command) in IDS.commands.iter().enumerate() {
            if command.acl_categories() & category != 0 {
                if self.bit(id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// The command rules that rebuild this selector's bitmap, as
    /// `ACLDescribeSelectorCommandRules`: `+@all` or `-@all`, then the categories that fit
    /// best, then single commands and first arguments.
    pub fn describe_commands(&self) -> String {
        let mut rules = String::new();
        let mut fake = Selector::new(false);
        let additive = !self.can_run_future_commands();
        if additive {
            rules.push_str("-@all ");
            fake.set_all(false);
        } else {
            rules.push_str("+@all ");
            fake.set_all(true);
        }
        let mut temp = self.clone();
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0);
            for (j, (_, category)) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(*category);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(j);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(best) = best else { break };
            let (name, category) = CATEGORIES[best];
            fake.set_category(category, additive);
            temp.set_category(category, !additive);
            rules.push(if additive { '+' } else { '-' });
            rules.push('@');
            rules.push_str(name);
            rules.push(' ');
            applied[best] = true;
        }
        for (id, command) in IDS.commands.iter().enumerate() {
            let user_bit = self.bit(id);
            if user_bit != fake.bit(id) {
                rules.push(if user_bit { '+' } else { '-' });
                rules.push_str(command.name);
                rules.push(' ');
                fake.change_perm(id, user_bit);
            }
            if !user_bit && let Some(args) = self.first_args.get(&id) {
                for arg in args {
                    rules.push('+');
                    rules.push_str(command.name);
                    rules.push('|');
                    rules.push_str(arg);
                    rules.push(' ');
                }
            }
        }
        rules.pop();
        rules
    }

    fn pattern_string(flags: u8, pattern: &[u8]) -> String {
        let prefix = match flags {
            READ => "%R~",
            WRITE => "%W~",
            _ => "~",
        };
        format!("{prefix}{}", String::from_utf8_lossy(pattern))
    }

    /// The key patterns as GETUSER shows them (`~*`, or the patterns separated by spaces).
    pub fn keys_string(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let patterns: Vec<String> = self
            .key_patterns
            .iter()
            .map(|(f, p)| Self::pattern_string(*f, p))
            .collect();
        patterns.join(" ")
    }

    /// The channel patterns as GETUSER shows them.
    pub fn channels_string(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let patterns: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        patterns.join(" ")
    }

    /// `ACLDescribeSelector`: keys, channels, commands.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if self.all_keys {
            out.push_str("~* ");
        } else {
            for (flags, pattern) in &self.key_patterns {
                out.push_str(&Self::pattern_string(*flags, pattern));
                out.push(' ');
            }
        }
        if self.all_channels {
            out.push_str("&* ");
        } else {
            out.push_str("resetchannels ");
            for channel in &self.channels {
                out.push('&');
                out.push_str(&String::from_utf8_lossy(channel));
                out.push(' ');
            }
        }
        out.push_str(&self.describe_commands());
        out
    }

    fn key_allowed(&self, key: &[u8], spec_flags: u32) -> bool {
        if self.all_keys {
            return true;
        }
        let needed = permission_for(spec_flags);
        self.key_patterns.iter().any(|(flags, pattern)| {
            flags & needed == needed && crate::util::glob_match(pattern, key, false)
        })
    }

    /// Whether every key may be accessed as `spec_flags` asks (`%R~*`, `~*` or `allkeys`).
    pub fn unrestricted_keys(&self, spec_flags: u32) -> bool {
        if self.all_keys {
            return true;
        }
        let needed = permission_for(spec_flags);
        self.key_patterns
            .iter()
            .any(|(flags, pattern)| flags & needed == needed && pattern == b"*")
    }

    /// `ACLSelectorCheckCmd`: the command bit (or an allowed first argument), then the keys.
    fn check(&self, id: usize, command: &Command, args: &[Bytes], keys: &mut KeysCache) -> Check {
        if !self.all_commands && !command.has(flag::NO_AUTH) && !self.bit(id) {
            let arg_index = if IDS.parent[id].is_some() { 2 } else { 1 };
            let allowed = args.len() >= 2
                && self.first_args.get(&id).is_some_and(|list| {
                    args.get(arg_index).is_some_and(|arg| {
                        list.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(arg))
                    })
                });
            if !allowed {
                return Check::DeniedCommand;
            }
        }
        if !self.all_keys && command.has_keys() {
            for &(pos, spec_flags) in keys.get(command, args) {
                if !self.key_allowed(&args[pos], spec_flags) {
                    return Check::DeniedKey(pos);
                }
            }
        }
        Check::Ok
    }
}

/// The access a key-spec's flags need: read for `access`, write for `insert`, `delete`,
/// `update`.
fn permission_for(spec_flags: u32) -> u8 {
    let mut needed = 0;
    if spec_flags & key_flag::ACCESS != 0 {
        needed |= READ;
    }
    if spec_flags & (key_flag::INSERT | key_flag::DELETE | key_flag::UPDATE) != 0 {
        needed |= WRITE;
    }
    needed
}

/// The keys of a command, found once for all the selectors that look at them.
#[derive(Default)]
struct KeysCache {
    keys: Option<Vec<(usize, u32)>>,
}

impl KeysCache {
    fn get(&mut self, command: &Command, args: &[Bytes]) -> &[(usize, u32)] {
        self.keys.get_or_insert_with(|| match command.keys_fn {
            Some(keys_fn) => keys_fn(args),
            None => command.keys_from_specs(args).unwrap_or_default(),
        })
    }
}

enum Check {
    Ok,
    DeniedCommand,
    DeniedKey(usize),
}

/// Why a command was refused, and (for a key) which argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key(usize),
}

// ---- users ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    /// `off` was given (or the user is new): Redis keeps `on` and `off` as two flags.
    pub disabled: bool,
    pub nopass: bool,
    pub skip_sanitize: bool,
    pub sanitize: bool,
    /// SHA-256 hex of each password.
    pub passwords: Vec<String>,
    /// The root selector first.
    pub selectors: Vec<Selector>,
}

/// Whether `hash` is 64 lowercase hex characters.
fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

impl User {
    /// A new user: disabled, no password, no permissions (`ACLCreateUser`).
    pub fn new(name: &[u8]) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            disabled: true,
            nopass: false,
            skip_sanitize: false,
            sanitize: false,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true)],
        }
    }

    /// The default user as it starts: every command, key and channel, no password.
    pub fn new_default() -> User {
        let mut user = User::new(DEFAULT_USER.as_bytes());
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = user.apply(op.as_bytes());
        }
        user
    }

    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// Applies one rule (`ACLSetUser`).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("on") {
            self.enabled = true;
            self.disabled = false;
        } else if is("off") {
            self.enabled = false;
            self.disabled = true;
        } else if is("skip-sanitize-payload") {
            self.skip_sanitize = true;
            self.sanitize = false;
        } else if is("sanitize-payload") {
            self.skip_sanitize = false;
            self.sanitize = true;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                sha256::hex_digest(&op[1..])
            } else {
                if !valid_hash(&op[1..]) {
                    return Err(RuleError::BadHash);
                }
                String::from_utf8_lossy(&op[1..]).into_owned()
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                sha256::hex_digest(&op[1..])
            } else {
                if !valid_hash(&op[1..]) {
                    return Err(RuleError::BadHash);
                }
                String::from_utf8_lossy(&op[1..]).into_owned()
            };
            let Some(at) = self.passwords.iter().position(|p| *p == hash) else {
                return Err(RuleError::NoSuchPassword);
            };
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::new(false);
            let inner = &op[1..op.len() - 1];
            let words = crate::protocol::split::split_args(inner).ok_or(RuleError::Syntax)?;
            for word in words {
                selector.apply(&word)?;
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for op in ["resetpass", "resetkeys", "resetchannels"] {
                self.apply(op.as_bytes())?;
            }
            if PUBSUB_DEFAULT_ALL.load(Ordering::Relaxed) {
                self.apply(b"allchannels")?;
            }
            for op in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                self.apply(op.as_bytes())?;
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// The user's rules in ACL-file form, without `user <name>` (`ACLDescribeUser`).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for flag in self.flag_names() {
            out.push_str(flag);
            out.push(' ');
        }
        for hash in &self.passwords {
            out.push('#');
            out.push_str(hash);
            out.push(' ');
        }
        for selector in &self.selectors {
            if selector.root {
                out.push_str(&selector.describe());
            } else {
                out.push_str(" (");
                out.push_str(&selector.describe());
                out.push(')');
            }
        }
        out
    }

    /// The flags set, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        [
            (self.enabled, "on"),
            (self.disabled, "off"),
            (self.nopass, "nopass"),
            (self.skip_sanitize, "skip-sanitize-payload"),
            (self.sanitize, "sanitize-payload"),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| name)
        .collect()
    }

    /// Whether `password` opens this user (enabled, and nopass or a matching hash).
    pub fn password_matches(&self, password: &[u8]) -> bool {
        if self.disabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hashed = sha256::hex_digest(password);
        let mut found = false;
        for stored in &self.passwords {
            found |= constant_time_eq(stored.as_bytes(), hashed.as_bytes());
        }
        found
    }

    /// Whether a connection of this user must authenticate (Redis's `authRequired` for the
    /// default user).
    pub fn requires_auth(&self) -> bool {
        !self.nopass || self.disabled
    }

    /// Whether this user may run everything on every key.
    fn unrestricted(&self) -> bool {
        self.selectors.iter().any(|s| s.all_commands && s.all_keys)
    }

    /// `ACLCheckAllUserCommandPerm`: allowed if one selector allows the command and its keys;
    /// otherwise the refusal of the command if no selector allows it, else the key refused
    /// with the highest position.
    pub fn check(&self, command: &'static Command, args: &[Bytes]) -> Result<(), Denied> {
        let Some(id) = IDS.id_of(command) else {
            return Err(Denied::Command);
        };
        let mut keys = KeysCache::default();
        let mut relevant = Denied::Command;
        for selector in &self.selectors {
            match selector.check(id, command, args, &mut keys) {
                Check::Ok => return Ok(()),
                Check::DeniedCommand => {}
                Check::DeniedKey(pos) => match relevant {
                    Denied::Key(last) if last >= pos => {}
                    _ => relevant = Denied::Key(pos),
                },
            }
        }
        Err(relevant)
    }

    /// Whether the user may run `command` with access `spec_flags` to any key (SORT's BY and
    /// GET), as `ACLUserCheckCmdWithUnrestrictedKeyAccess`.
    pub fn check_unrestricted_keys(
        &self,
        command: &'static Command,
        args: &[Bytes],
        spec_flags: u32,
    ) -> bool {
        let Some(id) = IDS.id_of(command) else {
            return false;
        };
        let mut keys = KeysCache::default();
        self.selectors.iter().any(|s| {
            matches!(s.check(id, command, args, &mut keys), Check::Ok)
                && s.unrestricted_keys(spec_flags)
        })
    }
}

/// Compares without revealing through timing where the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as usize;
    }
    diff == 0
}

/// Merges selector rules spread over several arguments (`(~a` `+get)`), as
/// `ACLMergeSelectorArguments`. `Err(index)`: the argument that opens an unclosed selector.
pub fn merge_selector_args(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, op) in args.iter().enumerate() {
        if let Some((start, mut selector)) = open.take() {
            selector.push(b' ');
            selector.extend_from_slice(op);
            if op.last() == Some(&b')') {
                merged.push(selector);
            } else {
                open = Some((start, selector));
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.clone()));
            continue;
        }
        merged.push(op.clone());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(merged),
    }
}

// ---- the ACL log ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogReason {
    Command,
    Key,
    Auth,
}

impl LogReason {
    pub fn name(self) -> &'static str {
        match self {
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Auth => "auth",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogEntry {
    pub count: u64,
    pub reason: LogReason,
    /// `toplevel` or `multi`.
    pub context: &'static str,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub ctime_ms: i64,
    pub client_info: String,
}

/// Entries within this time of each other are one entry with a count.
const LOG_GROUPING_MAX_TIME_DELTA_MS: i64 = 60_000;
/// How many recent entries a new one is compared with.
const LOG_GROUPING_SCAN: usize = 10;

// ---- all users ----

/// The users and the ACL log; lives under the keyspace lock.
pub struct Acl {
    /// By name, in byte order (ACL LIST, ACL SAVE).
    pub users: BTreeMap<Vec<u8>, User>,
    /// Newest first.
    pub log: VecDeque<LogEntry>,
    /// Every user may run every command on every key: the request path skips the check.
    pub unrestricted: bool,
}

impl Default for Acl {
    fn default() -> Self {
        let mut acl = Acl {
            users: BTreeMap::new(),
            log: VecDeque::new(),
            unrestricted: true,
        };
        acl.users
            .insert(DEFAULT_USER.as_bytes().to_vec(), User::new_default());
        acl
    }
}

impl Acl {
    pub fn default_user(&self) -> &User {
        self.users
            .get(DEFAULT_USER.as_bytes())
            .expect("the default user always exists")
    }

    /// Recomputes what depends on the users: the request path's shortcut. Call after every
    /// change; returns whether the default user requires authentication.
    pub fn refresh(&mut self) -> bool {
        self.unrestricted = self.users.values().all(User::unrestricted);
        self.default_user().requires_auth()
    }

    /// `requirepass`: the default user's only password, or `nopass` when empty
    /// (`ACLUpdateDefaultUserPassword`).
    pub fn set_default_password(&mut self, password: &[u8]) {
        if let Some(user) = self.users.get_mut(DEFAULT_USER.as_bytes()) {
            let _ = user.apply(b"resetpass");
            if password.is_empty() {
                let _ = user.apply(b"nopass");
            } else {
                let mut op = b">".to_vec();
                op.extend_from_slice(password);
                let _ = user.apply(&op);
            }
        }
    }

    /// ACL SETUSER's rules applied all or nothing (`ACLStringSetUser`); the user is created
    /// if needed. The error is Redis's reply text without `ERR `.
    pub fn set_user(&mut self, name: &[u8], rules: &[Vec<u8>]) -> Result<(), String> {
        let merged = merge_selector_args(rules).map_err(|at| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(&rules[at])
            )
        })?;
        let mut staged = self
            .users
            .get(name)
            .cloned()
            .unwrap_or_else(|| User::new(name));
        for op in &merged {
            if let Err(e) = staged.apply(op) {
                return Err(format!(
                    "Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(op),
                    e.text()
                ));
            }
        }
        self.users.insert(name.to_vec(), staged);
        Ok(())
    }

    /// Adds an entry to the ACL log, or counts it on a similar recent one (`addACLLogEntry`).
    pub fn log_denial(&mut self, entry: LogEntry, max_len: usize) {
        let similar = self.log.iter().take(LOG_GROUPING_SCAN).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && (e.ctime_ms - entry.ctime_ms).abs() <= LOG_GROUPING_MAX_TIME_DELTA_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        if let Some(at) = similar
            && let Some(mut existing) = self.log.remove(at)
        {
            existing.client_info = entry.client_info;
            existing.ctime_ms = entry.ctime_ms;
            existing.count += 1;
            self.log.push_front(existing);
            return;
        }
        self.log.push_front(entry);
        self.log.truncate(max_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(b"u");
        for r in rules {
            u.apply(r.as_bytes()).unwrap();
        }
        u
    }

    #[test]
    fn every_command_the_dispatcher_finds_has_an_id() {
        for command in all_commands() {
            let found = crate::commands::lookup(command.name.as_bytes()).unwrap();
            assert!(IDS.id_of(found).is_some(), "{}", command.name);
            for sub in command.subcommands {
                assert!(IDS.id_of(sub).is_some(), "{}", sub.name);
            }
        }
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn default_user_describes_as_redis() {
        assert_eq!(User::new_default().describe(), "on nopass ~* &* +@all");
        assert_eq!(User::new(b"x").describe(), "off resetchannels -@all");
    }

    #[test]
    fn command_rules_round_trip() {
        let u = user(&["+@all", "-@dangerous", "+get", "-set"]);
        let mut again = User::new(b"u");
        for op in u.describe().split(' ') {
            again.apply(op.as_bytes()).unwrap();
        }
        assert_eq!(again.root().allowed, u.root().allowed);
        let u = user(&["-@all", "+@read", "-get", "+select|0", "+config|get"]);
        let described = u.root().describe_commands();
        assert!(described.contains("+select|0"), "{described}");
        let mut again = User::new(b"u");
        for op in described.split(' ') {
            again.apply(op.as_bytes()).unwrap();
        }
        assert_eq!(again.root().allowed, u.root().allowed);
    }

    #[test]
    fn key_patterns_merge_flags() {
        let u = user(&["%R~a*", "%W~a*", "%W~b"]);
        assert_eq!(u.root().keys_string(), "~a* %W~b");
        let mut u = User::new(b"u");
        assert_eq!(u.apply(b"%X~a"), Err(RuleError::Syntax));
        u.apply(b"allkeys").unwrap();
        assert_eq!(u.apply(b"~a"), Err(RuleError::KeyAfterAll));
    }

    #[test]
    fn selectors_merge_across_arguments() {
        let args: Vec<Vec<u8>> = ["on", "(~a", "+get)", "(+set ~b)"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let merged = merge_selector_args(&args).unwrap();
        assert_eq!(merged[1], b"(~a +get)");
        assert_eq!(merge_selector_args(&args[..2]), Err(1));
    }
}
