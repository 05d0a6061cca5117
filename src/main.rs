//! The `sockscope` binary: parse arguments, run a command, map the result to
//! an exit status (0 ok, 1 error, 2 bad arguments, 3 `--fail-on` triggered).

mod cli;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::run::{self, AppError, Io, Outcome};
use crate::cli::{Cli, Command, DumpArgs, TuiArgs};

fn main() -> ExitCode {
    // First thing: a 1024 soft fd limit must not cost owners on a busy host.
    sockscope::collect::raise_fd_limit();
    keep_big_buffers_out_of_the_heap();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sockscope: error: {}", cli::one_line_error(&e));
            return ExitCode::from(2);
        }
    };
    match dispatch(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::FailOn) => ExitCode::from(3),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let status = if e.is_bad_input() { 2 } else { 1 };
            eprintln!("sockscope: error: {}", sockscope::output::error_chain(&e));
            ExitCode::from(status)
        }
    }
}

fn dispatch(cli: Cli) -> Result<Outcome, AppError> {
    let out_is_terminal = io::stdout().is_terminal();
    match cli.command {
        Some(Command::Tui(args)) => run::tui(&args, out_is_terminal),
        None if out_is_terminal && io::stdin().is_terminal() => run::tui(&TuiArgs::default(), true),
        Some(Command::Dump(args)) => with_stdout(out_is_terminal, |io| run::dump(&args, io)),
        Some(Command::Watch(args)) => with_stdout(out_is_terminal, |io| run::watch(&args, io)),
        Some(Command::Export(args)) => with_stdout(out_is_terminal, |io| run::export(&args, io)),
        Some(Command::Man) => with_stdout(out_is_terminal, |io| {
            cli::docs::write_man_page(io.out).map(|()| Outcome::Ok).map_err(AppError::from)
        }),
        Some(Command::Completions { shell }) => with_stdout(out_is_terminal, |io| {
            cli::docs::write_completions(io.out, shell).map(|()| Outcome::Ok).map_err(AppError::from)
        }),
        None => with_stdout(out_is_terminal, |io| run::dump(&DumpArgs::default(), io)),
    }
}

/// Runs a command writing to a buffered stdout, flushing at the end.
fn with_stdout(
    out_is_terminal: bool,
    command: impl FnOnce(Io) -> Result<Outcome, AppError>,
) -> Result<Outcome, AppError> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut err = io::stderr();
    let io = Io { out: &mut out, err: &mut err, out_is_terminal };
    command(io).and_then(|outcome| out.flush().map(|()| outcome).map_err(AppError::from))
}

/// Snapshots at a million sockets are made of buffers of tens of MB, built
/// anew at every refresh. glibc raises its mmap threshold to the size of the
/// largest mapped buffer freed, after which buffers of that size come from
/// the heap, where freed memory stays counted in the RSS of a long-running
/// dashboard. A fixed threshold keeps every buffer of 4 MiB or more mapped
/// and returned to the system when freed.
fn keep_big_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
