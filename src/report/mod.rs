//! Presentation: aligned text tables and numbers for humans, and output files written whole or
//! not at all. It knows nothing of fits or laws (it imports only the error type), so that every
//! front end can use it.

mod atomic;
mod table;

pub use atomic::{
    busy, check_not_input, check_writable, emit, is_at, write_atomic, write_atomic_locked,
};
pub use table::TextTable;

/// `x` with 6 significant digits, or `-` for NaN / missing.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-3) {
        format!("{x:.4e}")
    } else {
        format!("{x:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}
