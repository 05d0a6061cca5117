//! The command line, compiled into the binary only: arguments
//! ([`args`]), their defaults ([`defaults`]), the commands ([`run`]) and the
//! man page and completions generated from them ([`docs`]).
//! The library never sees clap types; each face takes typed settings.

pub mod args;
pub mod defaults;
pub mod docs;
pub mod run;

pub use args::{Cli, Command, DumpArgs, TuiArgs, one_line_error};
