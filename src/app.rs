//! The commands, from validated arguments to bytes on stdout.

use std::io::{self, Write};

use crate::analyze::{self, Severity, Thresholds};
use crate::cli::{DumpArgs, TuiArgs, WatchArgs};
use crate::collect::{self, CollectError};
use crate::output::style::Style;
use crate::output::{human, json, sockets};
use crate::report::Report;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("writing output")]
    Io(#[from] io::Error),
    #[error("writing JSON")]
    Json(#[from] serde_json::Error),
    #[error(
        "the dashboard needs a terminal on stdin and stdout; use `sockscope dump` or `sockscope watch` instead"
    )]
    NotATerminal,
}

impl AppError {
    /// Bad user input (exit status 2) rather than a failure of the system.
    pub fn is_bad_input(&self) -> bool {
        match self {
            AppError::Collect(e) => e.is_bad_input(),
            AppError::NotATerminal => true,
            _ => false,
        }
    }

    /// The reader went away (`sockscope dump | head`): not an error.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            AppError::Io(e) => e.kind() == io::ErrorKind::BrokenPipe,
            AppError::Json(e) => e.io_error_kind() == Some(io::ErrorKind::BrokenPipe),
            AppError::Collect(_) | AppError::NotATerminal => false,
        }
    }
}

/// How a successful command ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A finding at or above `--fail-on` exists (exit status 3).
    FailOn,
}

/// Where a command writes.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub out_is_terminal: bool,
}

/// `sockscope dump`.
pub fn dump(args: &DumpArgs, io: Io) -> Result<Outcome, AppError> {
    let selection = args.select.selection()?;
    let thresholds = Thresholds::from(&args.thresholds);
    let request = selection.request(args.info, args.cmdline);
    let snapshot = collect::collect(&request)?;
    let analysis = analyze::analyze(&snapshot, &thresholds);
    let report = Report::build(&snapshot, &selection, analysis);
    let style = Style::detect(args.color.into(), io.out_is_terminal);
    if args.json {
        json::write_report(io.out, &report)?;
    } else {
        for w in &snapshot.warnings {
            writeln!(io.err, "sockscope: warning: {}", w.message)?;
        }
        match args.sockets {
            true => sockets::write_sockets(io.out, &report.sockets, &snapshot, &style)?,
            false => human::write_report(io.out, &report, &style)?,
        }
    }
    io.out.flush()?;
    Ok(fail_on(args.fail_on, &report))
}

/// `sockscope tui`: the dashboard, until the user quits.
pub fn tui(args: &TuiArgs, out_is_terminal: bool) -> Result<Outcome, AppError> {
    use std::io::IsTerminal;
    if !out_is_terminal || !std::io::stdin().is_terminal() {
        return Err(AppError::NotATerminal);
    }
    let selection = args.select.selection()?;
    let settings = crate::tui::Settings {
        request: selection.request(false, false),
        thresholds: Thresholds::from(&args.thresholds),
        interval: args.interval,
        color: Style::detect(args.color.into(), out_is_terminal).color,
        stats: args.stats.clone(),
    };
    crate::tui::run(settings)?;
    Ok(Outcome::Ok)
}

/// `sockscope watch`.
pub fn watch(args: &WatchArgs, io: Io) -> Result<Outcome, AppError> {
    let settings = crate::watch::Settings {
        selection: args.select.selection()?,
        thresholds: Thresholds::from(&args.thresholds),
        leaks: crate::analyze::leaks::LeakThresholds {
            window: args.window,
            close_wait_growth: args.cw_growth,
            fd_growth: args.fd_growth,
            time_wait_pct: args.thresholds.time_wait,
            ..Default::default()
        },
        interval: args.interval,
        count: args.count,
        duration: args.duration,
        json: args.json,
        heartbeat: args.heartbeat,
        fail_on: args.fail_on,
        style: Style::detect(args.color.into(), io.out_is_terminal),
    };
    crate::watch::run(&settings, io.out, io.err)
}

fn fail_on(level: Option<Severity>, report: &Report) -> Outcome {
    match level {
        Some(level) if report.findings.iter().any(|f| f.severity >= level) => Outcome::FailOn,
        _ => Outcome::Ok,
    }
}
