//! Effects: what a write changed, as the append-only file records it.
//!
//! A command's record is not always its request. The log must replay to the same data at any
//! later time, so relative deadlines become absolute ones (`SET k v EX 10` is recorded as
//! `SET k v PXAT <ms>`), reads that delete become deletions (`GETDEL k` → `DEL k`), results
//! that depend on float formatting are recorded as values (`INCRBYFLOAT` → `SET k <new>
//! KEEPTTL`), and keys that expire are recorded as `DEL` where they disappear. Requests that
//! changed nothing are not recorded at all. This is Redis 7.0's propagation model:
//!
//! - after a handler ran, [`super::call`] records the request as it came if the data changed
//!   (the `dirty` counter moved) or the handler forced it (FLUSHDB on an empty db);
//! - a handler declares a different effect with [`Ctx::propagate_as`] (Redis's
//!   `rewriteClientCommandVector`), an additional one with [`Ctx::also_propagate`]
//!   (`alsoPropagate`), none with [`Ctx::prevent_propagation`];
//! - keys found expired while a command runs are recorded as `DEL` (or `UNLINK` with
//!   `lazyfree-lazy-expire yes`) before the effect that follows them;
//! - every top-level command (EXEC with everything it ran counts as one) is a *unit*: a unit
//!   with more than one effect is wrapped in `MULTI` … `EXEC`, so it replays atomically; a
//!   unit with one effect is not. Expiries of the background cycle are units of their own.
//!
//! Records are encoded at once into one growing buffer as RESP arrays, with a `SELECT` before
//! a record whose database differs from the previous record's (7.0 puts the `SELECT` of a
//! wrapped unit before its `MULTI`) and, with `aof-timestamp-enabled`, a `#TS:<unix seconds>`
//! line before a unit that starts in a later second than the last annotated one. The buffer is
//! filled under the keyspace lock, so its order is the order in which the changes took effect;
//! the AOF writer drains complete units from it with [`Effects::take`]. Nothing is recorded
//! while propagation is off, which is the default.

use bytes::Bytes;

use super::Ctx;

/// Bytes of the `MULTI` array that opens a unit of several effects.
const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
/// Bytes of the `EXEC` array that closes it.
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

/// The unit being recorded: everything one top-level command (or EXEC) changes.
#[derive(Debug, Clone, Copy)]
struct Unit {
    /// The command's clock, for the timestamp annotation.
    now_ms: i64,
    /// Effects recorded so far.
    effects: u32,
    /// Where the first effect's array starts (after its annotation and `SELECT`): `MULTI` is
    /// inserted here when a second effect arrives.
    start: usize,
}

/// The effects buffer (Redis's `aof_buf` with its `aof_selected_db`), kept in [`State`].
///
/// [`State`]: crate::server::state::State
#[derive(Debug, Default)]
pub struct Effects {
    enabled: bool,
    /// `aof-timestamp-enabled`.
    timestamps: bool,
    /// `lazyfree-lazy-expire`: expiry deletions are recorded as `UNLINK`.
    unlink_expired: bool,
    /// `lazyfree-lazy-user-del`: GETDEL's deletion is recorded as `UNLINK`.
    unlink_user_del: bool,
    /// Encoded records; `buf[..committed]` holds complete units only.
    buf: Vec<u8>,
    committed: usize,
    /// Bytes handed to the writer before `buf[0]`.
    taken: u64,
    /// Units recorded so far.
    units: u64,
    /// The database the stream has selected, `None` until the next record's `SELECT`.
    selected_db: Option<usize>,
    /// The second of the last `#TS:` annotation.
    last_timestamp_s: i64,
    unit: Option<Unit>,
}

/// Appends `*<n>\r\n` then `$<len>\r\n<arg>\r\n` for each argument.
fn encode_array<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let mut digits = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(digits.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(digits.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

impl Effects {
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Starts or stops recording. Starting begins a new stream (its first record selects its
    /// db); stopping drops a unit in progress, so the buffer ends on a unit boundary.
    pub fn set_enabled(&mut self, on: bool) {
        if on == self.enabled {
            return;
        }
        self.enabled = on;
        self.selected_db = None;
        if !on {
            self.buf.truncate(self.committed);
            self.unit = None;
        }
    }

    /// Whether `aof-timestamp-enabled` is on.
    pub fn timestamps_enabled(&self) -> bool {
        self.timestamps
    }

    /// `aof-timestamp-enabled`.
    pub fn set_timestamps(&mut self, on: bool) {
        self.timestamps = on;
    }

    /// `lazyfree-lazy-expire`: expiry deletions are recorded as `UNLINK` instead of `DEL`.
    pub fn set_unlink_expired(&mut self, on: bool) {
        self.unlink_expired = on;
    }

    /// `lazyfree-lazy-user-del`: GETDEL's deletion is recorded as `UNLINK` instead of `DEL`.
    pub fn set_unlink_user_del(&mut self, on: bool) {
        self.unlink_user_del = on;
    }

    /// The command recording the deletion of an expired key (also EXPIRE and GETEX with a
    /// deadline already past).
    pub fn expired_delete_command(&self) -> &'static [u8] {
        if self.unlink_expired {
            b"UNLINK"
        } else {
            b"DEL"
        }
    }

    /// The command recording GETDEL's deletion.
    pub fn user_delete_command(&self) -> &'static [u8] {
        if self.unlink_user_del {
            b"UNLINK"
        } else {
            b"DEL"
        }
    }

    /// The next record starts with a `SELECT` (every new incr file must, as in Redis).
    pub fn reset_selected_db(&mut self) {
        self.selected_db = None;
    }

    /// Tells the buffer a `#TS:` annotation for second `unix_s` was written elsewhere (the
    /// head of a RESP base file): the next one is due in a later second.
    pub fn note_timestamp(&mut self, unix_s: i64) {
        self.last_timestamp_s = self.last_timestamp_s.max(unix_s);
    }

    /// Opens the unit of a top-level command running at `now_ms`.
    pub fn begin_unit(&mut self, now_ms: i64) {
        if self.enabled && self.unit.is_none() {
            self.unit = Some(Unit {
                now_ms,
                effects: 0,
                start: self.buf.len(),
            });
        }
    }

    /// Closes the unit: `EXEC` after several effects; the unit becomes available to
    /// [`Effects::take`].
    pub fn end_unit(&mut self) {
        let Some(unit) = self.unit.take() else {
            return;
        };
        if unit.effects > 1 {
            self.buf.extend_from_slice(EXEC);
        }
        if unit.effects > 0 {
            self.commit();
        }
    }

    fn commit(&mut self) {
        self.committed = self.buf.len();
        self.units += 1;
    }

    /// Records `args` as an effect in database `db`: in the open unit, or as a unit of its
    /// own when none is open (the background expiry cycle).
    pub fn push<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        if !self.enabled {
            return;
        }
        match self.unit {
            None => {
                let now_ms = if self.timestamps {
                    crate::util::now_ms()
                } else {
                    0
                };
                self.annotate(now_ms);
                self.select(db);
                encode_array(&mut self.buf, args);
                self.commit();
            }
            Some(unit) if unit.effects == 0 => {
                self.annotate(unit.now_ms);
                self.select(db);
                let start = self.buf.len();
                encode_array(&mut self.buf, args);
                self.unit = Some(Unit {
                    effects: 1,
                    start,
                    ..unit
                });
            }
            Some(unit) => {
                if unit.effects == 1 {
                    // A second effect: the unit must replay atomically.
                    self.buf
                        .splice(unit.start..unit.start, MULTI.iter().copied());
                }
                self.select(db);
                encode_array(&mut self.buf, args);
                self.unit = Some(Unit {
                    effects: unit.effects.saturating_add(1),
                    ..unit
                });
            }
        }
    }

    /// `#TS:<seconds>` before a unit that starts in a later second than the last annotation.
    fn annotate(&mut self, now_ms: i64) {
        if !self.timestamps {
            return;
        }
        let now_s = now_ms.div_euclid(1000);
        if now_s > self.last_timestamp_s {
            self.last_timestamp_s = now_s;
            self.buf.extend_from_slice(b"#TS:");
            self.buf
                .extend_from_slice(itoa::Buffer::new().format(now_s).as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        }
    }

    fn select(&mut self, db: usize) {
        if self.selected_db != Some(db) {
            let mut digits = itoa::Buffer::new();
            encode_array(
                &mut self.buf,
                &[&b"SELECT"[..], digits.format(db).as_bytes()],
            );
            self.selected_db = Some(db);
        }
    }

    /// Bytes the buffer holds allocated (Redis's `sdsAllocSize(aof_buf)`): memory that
    /// `maxmemory` does not count.
    pub fn allocated_bytes(&self) -> u64 {
        self.buf.capacity() as u64
    }

    /// Complete units not yet taken.
    pub fn pending(&self) -> &[u8] {
        &self.buf[..self.committed]
    }

    /// The log sequence number after the last complete unit: the byte offset, in the stream
    /// of effects since the server started, at which that unit ends. A reply whose command
    /// recorded effects may leave once the writer has written (and, for `appendfsync always`,
    /// synced) up to the LSN read after the command ran.
    pub fn lsn(&self) -> u64 {
        self.taken + self.committed as u64
    }

    /// Units recorded since the server started.
    pub fn units(&self) -> u64 {
        self.units
    }

    /// Moves the complete units into `out` (appended; without a copy when `out` is empty and
    /// no unit is open) and returns the LSN at their end.
    pub fn take(&mut self, out: &mut Vec<u8>) -> u64 {
        let taken = self.committed;
        if taken == 0 {
            return self.lsn();
        }
        if out.is_empty() && taken == self.buf.len() {
            std::mem::swap(out, &mut self.buf);
        } else {
            out.extend_from_slice(&self.buf[..taken]);
            self.buf.drain(..taken);
        }
        if let Some(unit) = self.unit.as_mut() {
            unit.start -= taken;
        }
        self.committed = 0;
        self.taken += taken as u64;
        self.lsn()
    }
}

/// How the request itself is propagated after its handler ran, as the handler declared it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Declared {
    /// The handler recorded its effects itself, or asked for none: the request is not recorded.
    pub replaced: bool,
    /// The request is recorded even if no data changed.
    pub forced: bool,
}

impl Ctx<'_> {
    /// Whether effects are being recorded: a handler builds a rewritten effect only then.
    pub fn propagating(&self) -> bool {
        self.state.effects.is_enabled()
    }

    /// Records `args`, in the selected db, as (part of) this command's effect instead of its
    /// request. Called once, it replaces the request; called again, it adds another effect.
    pub fn propagate_as<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.declared.replaced = true;
        let db = self.client.db;
        self.also_propagate(db, args);
    }

    /// Records `args` in `db` as an additional effect; the request is still recorded after
    /// the handler if it changed data.
    pub fn also_propagate<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        if !self.state.effects.is_enabled() {
            return;
        }
        // Keys that expired so far were deleted before this effect took place.
        self.state.drain_expired();
        self.state.effects.push(db, args);
    }

    /// The request is not recorded, whatever it changed.
    pub fn prevent_propagation(&mut self) {
        self.declared.replaced = true;
    }

    /// The request is recorded even if it changed no data (FLUSHDB of an empty db).
    pub fn force_propagation(&mut self) {
        self.declared.forced = true;
    }
}

/// After a handler ran: records the request unless the handler declared otherwise, when it
/// changed data or was forced. EXEC is never recorded itself: the commands it ran are.
pub(super) fn propagate_request(
    effects: &mut Effects,
    db: usize,
    args: &[Bytes],
    declared: Declared,
    changed: bool,
    is_exec: bool,
) {
    if !declared.replaced && !is_exec && (changed || declared.forced) {
        effects.push(db, args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> Effects {
        let mut e = Effects::default();
        e.set_enabled(true);
        e
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).replace("\r\n", " ")
    }

    #[test]
    fn nothing_is_recorded_while_disabled() {
        let mut e = Effects::default();
        e.begin_unit(0);
        e.push(0, &["set", "k", "v"]);
        e.end_unit();
        assert_eq!(e.pending(), b"");
        assert_eq!((e.lsn(), e.units()), (0, 0));
    }

    #[test]
    fn a_single_effect_is_selected_and_not_wrapped() {
        let mut e = enabled();
        e.begin_unit(0);
        e.push(0, &["set", "k", "v"]);
        assert_eq!(e.pending(), b"", "an open unit is not available yet");
        e.end_unit();
        assert_eq!(
            e.pending(),
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        e.begin_unit(0);
        e.push(0, &["del", "k"]);
        e.end_unit();
        assert!(text(e.pending()).ends_with("*3 $3 set $1 k $1 v *2 $3 del $1 k "));
        assert_eq!(e.units(), 2);
    }

    #[test]
    fn several_effects_are_wrapped_after_the_first_select() {
        let mut e = enabled();
        e.begin_unit(0);
        e.push(1, &["set", "a", "1"]);
        e.push(2, &["set", "b", "2"]);
        e.push(2, &["incr", "c"]);
        e.end_unit();
        assert_eq!(
            text(e.pending()),
            "*2 $6 SELECT $1 1 *1 $5 MULTI *3 $3 set $1 a $1 1 *2 $6 SELECT $1 2 \
             *3 $3 set $1 b $1 2 *2 $4 incr $1 c *1 $4 EXEC "
        );
        assert_eq!(e.units(), 1);
    }

    #[test]
    fn an_empty_unit_records_nothing() {
        let mut e = enabled();
        e.begin_unit(0);
        e.end_unit();
        assert_eq!((e.pending().len(), e.units()), (0, 0));
    }

    #[test]
    fn effects_outside_a_unit_are_units_of_their_own() {
        let mut e = enabled();
        e.push(3, &["DEL", "a"]);
        e.push(3, &["DEL", "b"]);
        assert_eq!(
            text(e.pending()),
            "*2 $6 SELECT $1 3 *2 $3 DEL $1 a *2 $3 DEL $1 b "
        );
        assert_eq!(e.units(), 2);
    }

    #[test]
    fn timestamps_annotate_units_that_start_in_a_later_second() {
        let mut e = enabled();
        e.set_timestamps(true);
        e.note_timestamp(100);
        for (now_ms, key) in [
            (100_500, "a"),
            (101_000, "b"),
            (101_999, "c"),
            (103_000, "d"),
        ] {
            e.begin_unit(now_ms);
            e.push(0, &["set", key, "1"]);
            e.push(0, &["set", key, "2"]);
            e.end_unit();
        }
        let all = text(e.pending());
        assert_eq!(all.matches("#TS:").count(), 2, "{all}");
        assert!(
            all.starts_with("*2 $6 SELECT $1 0 *1 $5 MULTI *3 $3 set $1 a"),
            "{all}"
        );
        assert!(
            all.contains("EXEC #TS:101 *1 $5 MULTI *3 $3 set $1 b"),
            "{all}"
        );
        assert!(
            all.contains("EXEC #TS:103 *1 $5 MULTI *3 $3 set $1 d"),
            "{all}"
        );
    }

    #[test]
    fn take_hands_over_complete_units_and_advances_the_lsn() {
        let mut e = enabled();
        e.begin_unit(0);
        e.push(0, &["set", "a", "1"]);
        e.end_unit();
        let first = e.pending().len() as u64;
        assert_eq!(e.lsn(), first);
        // A unit in progress stays behind.
        e.begin_unit(0);
        e.push(0, &["set", "b", "1"]);
        let mut out = Vec::new();
        assert_eq!(e.take(&mut out), first);
        assert_eq!(out.len() as u64, first);
        e.push(0, &["set", "b", "2"]);
        e.end_unit();
        assert_eq!(
            text(e.pending()),
            "*1 $5 MULTI *3 $3 set $1 b $1 1 *3 $3 set $1 b $1 2 *1 $4 EXEC "
        );
        let end = e.take(&mut out);
        assert_eq!(end, out.len() as u64);
        assert_eq!(e.lsn(), end);
        assert_eq!(e.take(&mut out), end, "nothing new");
        assert!(e.pending().is_empty());
    }

    #[test]
    fn disabling_drops_a_unit_in_progress_and_reselects_later() {
        let mut e = enabled();
        e.push(0, &["set", "a", "1"]);
        e.begin_unit(0);
        e.push(0, &["set", "b", "1"]);
        e.set_enabled(false);
        e.end_unit();
        assert_eq!(text(e.pending()), "*2 $6 SELECT $1 0 *3 $3 set $1 a $1 1 ");
        e.set_enabled(true);
        e.push(0, &["set", "c", "1"]);
        assert!(text(e.pending()).ends_with("*2 $6 SELECT $1 0 *3 $3 set $1 c $1 1 "));
        e.reset_selected_db();
        e.push(0, &["set", "d", "1"]);
        assert!(text(e.pending()).ends_with("*2 $6 SELECT $1 0 *3 $3 set $1 d $1 1 "));
    }

    /// A write whose behaviour its first argument picks, to drive the handler API through
    /// `call()` as a command family would.
    fn probe(ctx: &mut Ctx, args: &[Bytes]) -> crate::error::CmdResult {
        let change = |ctx: &mut Ctx| ctx.state.store.dirty += 1;
        match &args[1][..] {
            b"also" => {
                ctx.also_propagate(3, &["DEL", "elsewhere"]);
                change(ctx);
            }
            b"as" => {
                ctx.propagate_as(&["SET", "k", "1"]);
                ctx.propagate_as(&["SET", "k", "2"]);
                change(ctx);
            }
            b"prevent" => {
                ctx.prevent_propagation();
                change(ctx);
            }
            b"force" => ctx.force_propagation(),
            _ => {}
        }
        ctx.reply.ok();
        Ok(())
    }

    static PROBE: super::super::Command = super::super::Command {
        name: "probe",
        arity: 2,
        flags: super::super::flag::WRITE,
        handler: probe,
        ..super::super::Command::DEFAULT
    };

    /// Runs `probe <mode>` as a top-level command; returns what it recorded.
    fn run_probe(mode: &str) -> String {
        use crate::server::client::{Client, Peer};
        let peer = || Peer {
            addr: "127.0.0.1:1".into(),
            laddr: "127.0.0.1:2".into(),
            fd: -1,
            is_local: true,
            unix_path: None,
        };
        let server = crate::server::Server::new(crate::server::config::Config::default());
        let handle = server
            .clients
            .try_register(&peer(), 10)
            .expect("registered");
        let mut client = Client::new(handle, peer(), true);
        let mut reply = crate::protocol::Reply::new(crate::protocol::Protocol::Resp2);
        let mut state = server.state.lock();
        state.effects.set_enabled(true);
        let args = [
            Bytes::from_static(b"probe"),
            Bytes::copy_from_slice(mode.as_bytes()),
        ];
        super::super::call(&server, &mut state, &mut client, &mut reply, &PROBE, &args);
        text(state.effects.pending())
    }

    #[test]
    fn handlers_declare_their_effects() {
        assert_eq!(
            run_probe("also"),
            "*2 $6 SELECT $1 3 *1 $5 MULTI *2 $3 DEL $9 elsewhere \
             *2 $6 SELECT $1 0 *2 $5 probe $4 also *1 $4 EXEC "
        );
        assert_eq!(
            run_probe("as"),
            "*2 $6 SELECT $1 0 *1 $5 MULTI *3 $3 SET $1 k $1 1 *3 $3 SET $1 k $1 2 *1 $4 EXEC "
        );
        assert_eq!(run_probe("prevent"), "");
        assert_eq!(
            run_probe("force"),
            "*2 $6 SELECT $1 0 *2 $5 probe $5 force "
        );
        assert_eq!(run_probe("nothing"), "", "no change, not forced");
    }

    #[test]
    fn deletion_commands_follow_the_lazyfree_settings() {
        let mut e = Effects::default();
        assert_eq!(e.expired_delete_command(), b"DEL");
        assert_eq!(e.user_delete_command(), b"DEL");
        e.set_unlink_expired(true);
        assert_eq!(e.expired_delete_command(), b"UNLINK");
        assert_eq!(e.user_delete_command(), b"DEL");
        e.set_unlink_user_del(true);
        assert_eq!(e.user_delete_command(), b"UNLINK");
    }
}
