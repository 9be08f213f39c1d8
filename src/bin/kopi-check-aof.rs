//! `kopi-check-aof [--fix [--yes]|--truncate-to-timestamp <unix-seconds>] <file.manifest|file.aof>`,
//! as `redis-check-aof` 7.0 (see [`kopi::persistence::check_aof`]).

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

fn main() {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    let args: Vec<_> = args.collect();
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
