//! Output that never panics, for the CLI and the real programs alike: a closed stdout or stderr (`faultline run --json | head -c
//! 300`) stops the printing, not the program. Once stdout is closed, [`closed`] says so, and
//! a sweep stops starting runs nobody will read.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Print one line to stdout, unless it is closed.
pub fn line(args: fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{args}").and_then(|_| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Print one line to stderr; a closed stderr is ignored.
pub fn eline(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{args}");
}

/// Whether a write to stdout has failed (the reader went away).
pub fn closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// `println!` that survives a closed stdout.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { $crate::out::line(format_args!($($t)*)) };
}

/// `eprintln!` that survives a closed stderr: a server's log line that cannot be written
/// is dropped, and the server goes on serving.
#[macro_export]
macro_rules! tell {
    ($($t:tt)*) => { $crate::out::eline(format_args!($($t)*)) };
}
