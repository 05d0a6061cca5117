//! Front-end formatting. Formatters write to any `io::Write` so tests can
//! capture exactly what a user would see; they never re-derive a diagnosis.

pub mod escape;
pub mod json;
