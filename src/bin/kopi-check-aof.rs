//! `kopi-check-aof [--fix [--yes]|--truncate-to-timestamp <unix-seconds>] <file.manifest|file.aof>`,
//! as `redis-check-aof` 7.0 (see [`kopi::persistence::check_aof`]); and kopi's own
//! `kopi-check-aof inspect|stats <dir|manifest|file> ...` (see
//! [`kopi::persistence::inspect_aof`]).

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

fn main() {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    let args: Vec<_> = args.collect();
    if kopi::persistence::inspect_aof::is_subcommand(&args) {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let status =
            kopi::persistence::inspect_aof::run(&args, &mut out, &mut std::io::stderr().lock());
        let _ = out.flush();
        std::process::exit(i32::from(status));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let status = kopi::persistence::check_aof::run(
        program.as_bytes(),
        &args,
        &mut out,
        &mut std::io::stdin().lock(),
    );
    let _ = out.flush();
    std::process::exit(i32::from(status));
}
