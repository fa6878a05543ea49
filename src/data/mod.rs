//! Reading run tables (placeholder: filled in by the data work).

pub mod expr;
