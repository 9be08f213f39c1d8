//! `kopi-server [/path/to/kopi.conf] [--option value ...]`, as `redis-server`.

use kopi::server::{Server, config::Config, listen, log};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!(
            "kopi-server v={} (Redis 7.0 compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("Usage: kopi-server [/path/to/kopi.conf] [--option value ...]");
        println!("       kopi-server --port 6380 --appendonly yes");
        println!("Options are redis.conf directives; command-line options override the file.");
        return;
    }
    let config = match Config::from_args(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(1);
        }
    };
    if let Err(e) = log::set_file(config.get("logfile")) {
        eprintln!("Can't open the log file: {e}");
        std::process::exit(1);
    }
    let threads = config.get_i64("io-threads").max(1) as usize;
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Can't start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let server = Server::new(config);
    let code = runtime.block_on(listen::run(server));
    std::process::exit(code);
}
