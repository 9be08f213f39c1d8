//! `kopi-sim [--quick] [--out DIR] ...`: crashes kopi-server in every persistence mode and
//! counts what came back (see [`kopi::sim`]).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(kopi::sim::main(&args));
}
