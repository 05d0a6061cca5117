//! The `sockscope` binary: parse arguments, run a command, map the result to
//! an exit status (0 ok, 1 error, 2 bad arguments, 3 `--fail-on` triggered).

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use sockscope::app::{self, AppError, Io, Outcome};
use sockscope::cli::{self, Cli, Command, DumpArgs, TuiArgs};

fn main() -> ExitCode {
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
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::FailOn) => ExitCode::from(3),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let status = if e.is_bad_input() { 2 } else { 1 };
            eprintln!("sockscope: error: {:#}", anyhow::Error::from(e));
            ExitCode::from(status)
        }
    }
}

fn run(cli: Cli) -> Result<Outcome, AppError> {
    let out_is_terminal = io::stdout().is_terminal();
    match cli.command {
        Some(Command::Tui(args)) => app::tui(&args, out_is_terminal),
        None if out_is_terminal && io::stdin().is_terminal() => app::tui(&TuiArgs::default(), true),
        Some(Command::Dump(args)) => with_stdout(out_is_terminal, |io| app::dump(&args, io)),
        Some(Command::Watch(args)) => with_stdout(out_is_terminal, |io| app::watch(&args, io)),
        None => with_stdout(out_is_terminal, |io| app::dump(&DumpArgs::default(), io)),
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
