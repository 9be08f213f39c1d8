//! `kopi-check-rdb <rdb-file-name>`, as `redis-check-rdb`: exit status 0 if the file looks
//! OK, 1 otherwise (and for a wrong command line).

use std::io::Write;
use std::path::Path;

use kopi::persistence::check_rdb;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let program = args
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kopi-check-rdb".into());
    if args.len() != 2 {
        eprintln!("Usage: {program} <rdb-file-name>");
        std::process::exit(1);
    }
    if args[1] == "-v" || args[1] == "--version" {
        println!("kopi-check-rdb {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let ok = check_rdb::check_file(Path::new(&args[1]), kopi::util::now_ms(), &mut out);
    let flushed = out.flush();
    std::process::exit(match (ok, flushed) {
        (Ok(true), Ok(())) => 0,
        _ => 1,
    });
}
