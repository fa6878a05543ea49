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
    stop_on_interrupt();
    if let Some(note) = mixlaw::backend::cap_threads() {
        cli::stderr(format_args!("note: {note}\n"));
    }
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => exit_after(e),
    };
    if let Err(e) = cli::run(args) {
        cli::stderr(format_args!("error: {e}\n"));
        std::process::exit(e.exit_code());
    }
}

/// What clap's own `exit` does, but a help or version text that cannot be written to standard
/// output is an error (exit 1), as every other output is: clap ignores the write error and
/// exits 0 (`mixlaw --help > /dev/full`). A closed pipe (`| head -1`) still ends quietly.
fn exit_after(e: clap::Error) -> ! {
    match e.print() {
        Err(io) if !e.use_stderr() && io.kind() != std::io::ErrorKind::BrokenPipe => {
            cli::stderr(format_args!("error: <stdout>: {io}\n"));
            std::process::exit(1)
        }
        _ => std::process::exit(e.exit_code()),
    }
}

/// Ctrl-C (SIGINT) and SIGTERM ask the run to stop ([`mixlaw::interrupt`]) instead of killing
/// the process where it stands: a fit or study stops at its next round, an output being written
/// is either published whole or its temporary file removed, and a study file keeps the records
/// it had appended. A second signal ends the process at once.
#[cfg(unix)]
fn stop_on_interrupt() {
    extern "C" fn on_signal(_: libc::c_int) {
        if mixlaw::interrupt::requested() {
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(130) };
        }
        // An atomic store: async-signal-safe.
        mixlaw::interrupt::request();
    }
    let handler = on_signal as extern "C" fn(libc::c_int);
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic flag (or exits).
        unsafe { libc::signal(signal, handler as libc::sighandler_t) };
    }
}

#[cfg(not(unix))]
fn stop_on_interrupt() {}
