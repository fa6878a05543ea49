//! The `mixlaw` binary: parse, hand over to the library, print, and choose the exit code
//! (2 for bad input or flags, 1 for anything else).

use clap::Parser;

use mixlaw::cli;

fn main() {
    // The Vulkan loader (and Mesa's window-system layer under it) complains on stderr, with a
    // line starting "error:", whenever XDG_RUNTIME_DIR is unset — as it is in CI and containers —
    // although mixlaw never opens a window. Give it a directory before any thread starts.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
