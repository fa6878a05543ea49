//! The `mixlaw` binary: parse, hand over to the library, print, and choose the exit code
//! (2 for bad input or flags, 1 for anything else).

use clap::Parser;

mod cli;

fn main() {
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
