//! The wire: requests in (RESP multibulk and inline), replies out (RESP2 and RESP3).

pub mod request;
pub mod reply;
pub mod split;

pub use request::{ParseError, RequestParser};
pub use reply::{Protocol, Reply};
