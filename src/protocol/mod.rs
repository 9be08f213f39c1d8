//! The wire: requests in (RESP multibulk and inline), replies out (RESP2 and RESP3).

pub mod reply;
pub mod request;
pub mod split;

pub use reply::{Protocol, Reply};
pub use request::{ParseError, RequestParser};
