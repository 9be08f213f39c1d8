//! Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHALL, DEBUG, TIME, ...

use super::table::Command;

pub const COMMANDS: &[Command] = &[];
