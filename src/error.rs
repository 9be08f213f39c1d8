//! Every error text kopi sends on the wire, defined once, worded as Redis 7.0 words them.

use std::borrow::Cow;

/// An error reply: the full text after `-`, starting with its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, str>);

pub type CmdResult = Result<(), Error>;

impl Error {
    pub const fn new(text: &'static str) -> Self {
        Error(Cow::Borrowed(text))
    }

    pub fn owned(text: String) -> Self {
        Error(Cow::Owned(text))
    }

    pub fn text(&self) -> &str {
        &self.0
    }
}

pub const WRONGTYPE: Error =
    Error::new("WRONGTYPE Operation against a key holding the wrong kind of value");
pub const SYNTAX: Error = Error::new("ERR syntax error");
pub const NOT_INTEGER: Error = Error::new("ERR value is not an integer or out of range");
pub const NOT_FLOAT: Error = Error::new("ERR value is not a valid float");
pub const OVERFLOW: Error = Error::new("ERR increment or decrement would overflow");
pub const NO_SUCH_KEY: Error = Error::new("ERR no such key");
pub const DB_INDEX_OUT_OF_RANGE: Error = Error::new("ERR DB index is out of range");
pub const INVALID_DB_INDEX: Error = Error::new("ERR invalid DB index");
pub const NOT_POSITIVE: Error = Error::new("ERR value is out of range, must be positive");
pub const STRING_TOO_LONG: Error =
    Error::new("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
pub const NOAUTH: Error = Error::new("NOAUTH Authentication required.");
pub const WRONGPASS: Error =
    Error::new("WRONGPASS invalid username-password pair or user is disabled.");
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '{}' command";
pub const EXECABORT: Error =
    Error::new("EXECABORT Transaction discarded because of previous errors.");
pub const EXEC_WITHOUT_MULTI: Error = Error::new("ERR EXEC without MULTI");
pub const DISCARD_WITHOUT_MULTI: Error = Error::new("ERR DISCARD without MULTI");
pub const MULTI_NESTED: Error = Error::new("ERR MULTI calls can not be nested");
pub const WATCH_IN_MULTI: Error = Error::new("ERR WATCH inside MULTI is not allowed");
pub const SAME_OBJECT: Error = Error::new("ERR source and destination objects are the same");
pub const DEBUG_DISABLED: Error = Error::new(
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
);

/// `ERR wrong number of arguments for 'get' command`
pub fn wrong_arity(name: &str) -> Error {
    Error::owned(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `
pub fn unknown_command(args: &[bytes::Bytes]) -> Error {
    let name = truncate_lossy(&args[0], 128);
    let mut rest = String::new();
    for arg in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push('\'');
        rest.push_str(&truncate_lossy(arg, room));
        rest.push_str("' ");
    }
    Error::owned(format!(
        "ERR unknown command '{name}', with args beginning with: {rest}"
    ))
}

/// `ERR unknown subcommand 'foo'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> Error {
    Error::owned(format!(
        "ERR unknown subcommand '{}'. Try {}",
        truncate_lossy(sub, 128),
        format_args!("{} HELP.", container.to_uppercase())
    ))
}

/// `ERR invalid expire time in 'set' command`
pub fn invalid_expire(command: &str) -> Error {
    Error::owned(INVALID_EXPIRE.replace("{}", command))
}

fn truncate_lossy(bytes: &[u8], max: usize) -> Cow<'_, str> {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)])
}
