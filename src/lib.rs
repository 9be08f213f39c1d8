//! kopi: a Redis-compatible data server whose acknowledged writes survive.
//!
//! # Layout
//! The request path, in folder order:
//! - [`protocol`]: RESP2/RESP3 and inline requests in, replies out;
//! - [`commands`]: the command table and one file per command family;
//! - [`keyspace`]: databases, shards, entries, expiry index, WATCH bookkeeping;
//! - [`persistence`]: durable files: the AOF manifest and the storage primitives under it;
//! - [`server`]: listeners, connections, clients, configuration, logging, INFO;
//! - [`acl`]: users, permissions and the ACL log, checked before each command.
//!
//! Beside it, [`sim`]: the crash simulation behind `kopi-sim`; [`fuzz`]: the bodies of the
//! fuzz targets in `fuzz/`.

pub mod acl;
pub mod clock;
pub mod commands;
pub mod error;
pub mod fuzz;
pub mod keyspace;
pub mod persistence;
pub mod protocol;
pub mod server;
pub mod sim;
pub mod util;
