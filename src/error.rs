//! Every error text kopi sends on the wire, defined once, worded as Redis 7.0 words them.

use std::borrow::Cow;

/// An error reply: the full text after `-`, starting with its code. Bytes, not `str`: Redis
/// echoes client bytes (unknown command names, subcommands) into some errors as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, [u8]>);

pub type CmdResult = Result<(), Error>;

impl Error {
    pub const fn new(text: &'static str) -> Self {
        Error(Cow::Borrowed(text.as_bytes()))
    }

    pub fn owned(text: String) -> Self {
        Error(Cow::Owned(text.into_bytes()))
    }

    pub fn owned_bytes(bytes: Vec<u8>) -> Self {
        Error(Cow::Owned(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text, with any non-UTF-8 client bytes replaced (for logs and comparisons).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
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
pub const OOM: Error = Error::new("OOM command not allowed when used memory > 'maxmemory'.");
pub const LOADING: Error = Error::new("LOADING Redis is loading the dataset in memory");
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
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(c_string(&args[0], 128));
    text.extend_from_slice(b"', with args beginning with: ");
    let mut rest: Vec<u8> = Vec::new();
    for arg in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push(b'\'');
        rest.extend_from_slice(c_string(arg, room));
        rest.extend_from_slice(b"' ");
    }
    text.extend_from_slice(&rest);
    Error::owned_bytes(text)
}

/// What C's `%.Ns` prints of `bytes`: up to the first NUL, at most `max` bytes.
pub fn c_string(bytes: &[u8], max: usize) -> &[u8] {
    let end = memchr::memchr(0, bytes).unwrap_or(bytes.len()).min(max);
    &bytes[..end]
}

/// `ERR unknown subcommand 'foo'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> Error {
    let mut text = b"ERR unknown subcommand '".to_vec();
    text.extend_from_slice(c_string(sub, 128));
    text.extend_from_slice(format!("'. Try {} HELP.", container.to_uppercase()).as_bytes());
    Error::owned_bytes(text)
}

/// `ERR invalid expire time in 'set' command`
pub fn invalid_expire(command: &str) -> Error {
    Error::owned(INVALID_EXPIRE.replace("{}", command))
}
