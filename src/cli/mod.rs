//! The command line, compiled into the binary only: arguments
//! ([`args`]), their defaults ([`defaults`]) and the commands ([`run`]).
//! The library never sees clap types; each face takes typed settings.

pub mod args;
pub mod defaults;
pub mod run;

pub use args::{Cli, Command, DumpArgs, TuiArgs, one_line_error};
