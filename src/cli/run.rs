//! The commands, from validated arguments to bytes on stdout: resolve the
//! namespace, build the kernel source and typed settings, run a face, and
//! say how it ended (the exit status is decided in `main`).

use std::io::{self, IsTerminal, Write};
use std::sync::mpsc::{Receiver, channel};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use sockscope::analyze::{self, Report, Severity, Thresholds};
use sockscope::collect::{self, CollectError, Collector, NetnsTarget, Request, ScanOptions};
use sockscope::model::SourceError;
use sockscope::model::{State, StateSet};
use sockscope::output::style::Style;
use sockscope::output::{human, json, sockets};
use sockscope::{tui, watch};

use super::args::{DumpArgs, ExportArgs, SelectArgs, TuiArgs, WatchArgs};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("{0}")]
    Source(String, #[source] SourceError),
    #[error("writing output")]
    Io(#[from] io::Error),
    #[error("writing JSON")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Export(#[from] sockscope::export::ExportError),
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
            AppError::Source(_, e) => {
                e.downcast_ref::<CollectError>().is_some_and(CollectError::is_bad_input)
            }
            AppError::NotATerminal => true,
            _ => false,
        }
    }

    /// The reader went away (`sockscope dump | head`): not an error.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            AppError::Io(e) => e.kind() == io::ErrorKind::BrokenPipe,
            AppError::Json(e) => e.io_error_kind() == Some(io::ErrorKind::BrokenPipe),
            AppError::Export(sockscope::export::ExportError::Write(e)) => {
                e.kind() == io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }
}

impl From<watch::WatchError> for AppError {
    fn from(e: watch::WatchError) -> AppError {
        match e {
            watch::WatchError::Io(e) => AppError::Io(e),
            watch::WatchError::Source(e) => match e.downcast::<CollectError>() {
                Ok(e) => AppError::Collect(*e),
                Err(e) => AppError::Source(e.to_string(), e),
            },
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

/// The kernel collection a command's selection asks for, in the namespace
/// `--netns` names (resolved and checked here, before anything runs). A
/// `--pid` living in another network namespace (a container's) is followed
/// there, as `--netns PID` would: its sockets are in no table of this one.
fn request(select: &SelectArgs, err: &mut dyn Write) -> Result<Request, AppError> {
    if let Some(pid) = select.pid.filter(|&pid| !collect::owners::process_exists(pid)) {
        return Err(CollectError::NoSuchProcess(pid).into());
    }
    let netns = match (&select.netns, pid_elsewhere(select)) {
        (Some(spec), _) => NetnsTarget::parse(spec)?,
        (None, Some(pid)) => {
            writeln!(
                err,
                "sockscope: --pid {pid} lives in another network namespace: following it there (as --netns {pid})"
            )?;
            NetnsTarget::parse(&pid.to_string())?
        }
        (None, None) => NetnsTarget::Current,
    };
    Ok(Request::for_selection(&select.selection(), netns).with_all_netns(select.all_netns))
}

/// The `--pid` (without `--netns` or `-A`) whose network namespace is not
/// sockscope's own; `None` when it is, or when it cannot be told (another
/// user's process, without root).
fn pid_elsewhere(select: &SelectArgs) -> Option<u32> {
    let pid = select.pid.filter(|_| select.netns.is_none() && !select.all_netns)?;
    let own = collect::namespaces::identity("/proc/self/ns/net").ok()?;
    let theirs = collect::namespaces::identity(&format!("/proc/{pid}/ns/net")).ok()?;
    (own != theirs).then_some(pid)
}

/// A channel that receives one message per SIGTERM, SIGHUP or SIGINT, so a
/// face can end cleanly (restore the terminal, print its summary).
fn stop_on_signals() -> io::Result<Receiver<()>> {
    let mut signals = Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// `sockscope dump`.
pub fn dump(args: &DumpArgs, io: Io) -> Result<Outcome, AppError> {
    let selection = args.select.selection();
    let thresholds = Thresholds::from(&args.thresholds);
    // Ghost sockets are judged over two samples (watch, dashboard), not in one dump.
    let request =
        request(&args.select, io.err)?.with_tcp_info(args.info).with_cmdline(args.cmdline).with_ghosts(false);
    let snapshot = collect::collect(&request)?;
    let build = || Report::build(&snapshot, &selection, analyze::analyze(&snapshot, &thresholds));
    let report = match args.json {
        // The analysis runs while the sockets array is written.
        true => {
            let sockets: Vec<_> =
                snapshot.sockets.iter().filter(|s| selection.keeps_socket(s, &snapshot)).collect();
            json::write_while_analysing(io.out, &snapshot, &sockets, build)?
        }
        false => {
            let report = build();
            for w in &snapshot.warnings {
                writeln!(io.err, "sockscope: warning: {}", w.message)?;
            }
            let style = Style::detect(args.color.into(), io.out_is_terminal);
            match args.sockets {
                true => sockets::write_sockets(io.out, &report.sockets, &snapshot, args.info, &style)?,
                false => human::write_report(io.out, &report, &style)?,
            }
            report
        }
    };
    io.out.flush()?;
    Ok(fail_on(args.fail_on, &report))
}

/// `sockscope tui`: the dashboard, until the user quits.
pub fn tui(args: &TuiArgs, out_is_terminal: bool) -> Result<Outcome, AppError> {
    if !out_is_terminal || !io::stdin().is_terminal() {
        return Err(AppError::NotATerminal);
    }
    let source = Box::new(Collector::new(request(&args.select, &mut io::stderr())?));
    let settings = tui::Settings {
        thresholds: Thresholds::from(&args.thresholds),
        interval: args.interval,
        color: Style::detect(args.color.into(), out_is_terminal).color,
        stats: args.stats.clone(),
    };
    tui::run(settings, source, stop_on_signals()?)?;
    Ok(Outcome::Ok)
}

/// `sockscope watch`.
pub fn watch(args: &WatchArgs, io: Io) -> Result<Outcome, AppError> {
    let mut source = Collector::new(request(&args.select, io.err)?);
    if let Some(warning) = watch::window_warning(args.interval, &args.leak_thresholds()) {
        writeln!(io.err, "sockscope: warning: {warning}")?;
    }
    let settings = watch::Settings {
        selection: args.select.selection(),
        thresholds: Thresholds::from(&args.thresholds),
        leaks: args.leak_thresholds(),
        interval: args.interval,
        count: args.count,
        duration: args.duration,
        json: args.json,
        heartbeat: args.heartbeat,
        fail_on: args.fail_on,
        style: Style::detect(args.color.into(), io.out_is_terminal),
    };
    let stop = stop_on_signals()?;
    match watch::run(&settings, &mut source, io.out, io.err, &stop)? {
        watch::Ending::Clean => Ok(Outcome::Ok),
        watch::Ending::FailOn => Ok(Outcome::FailOn),
    }
}

fn fail_on(level: Option<Severity>, report: &Report) -> Outcome {
    match level {
        Some(level) if report.findings.iter().any(|f| f.severity >= level) => Outcome::FailOn,
        _ => Outcome::Ok,
    }
}

/// `sockscope export`: serve metrics until killed, or write them once.
pub fn export(args: &ExportArgs, io: Io) -> Result<Outcome, AppError> {
    use sockscope::export::{self, ExportSettings, Limits, NetnsLabels, NetnsSource, ServerSettings};
    let target = match &args.netns {
        Some(spec) => NetnsTarget::parse(spec)?,
        None => NetnsTarget::Current,
    };
    let name = collect::netns_name(&target);
    let labels =
        NetnsLabels { netns: name.key, name: name.ip_netns.unwrap_or_default(), ..NetnsLabels::default() };
    let request = export_request(target).with_all_netns(args.all_netns);
    let sources = vec![NetnsSource { labels, source: Box::new(Collector::new(request)) }];
    let limits = Limits { processes: args.max_processes as usize };
    if args.once {
        export::write_once(io.out, &limits, sources, io.err)?;
        return Ok(Outcome::Ok);
    }
    let settings = ExportSettings {
        limits,
        server: ServerSettings { max_connections: args.max_connections as usize, timeout: args.timeout },
    };
    let listener = export::bind(args.listen)?;
    writeln!(io.err, "sockscope: serving http://{}/metrics", listener.local_addr()?)?;
    io.err.flush()?;
    export::serve(&listener, &settings, sources, io::stderr())?;
    Ok(Outcome::Ok)
}

/// What the exporter's metrics need from the kernel: every TCP socket
/// (states; CLOSE-WAIT owners and ghosts need the whole TCP table), the
/// UNIX listeners, and socket owners; no UDP, no `tcp_info`.
fn export_request(netns: NetnsTarget) -> Request {
    Request {
        tcp: Some(StateSet::ALL),
        udp: None,
        unix: Some(StateSet::of(&[State::Listen])),
        tcp_info: false,
        owners: Some(ScanOptions::default()),
        netns,
        ghosts: true,
        all_netns: false,
    }
}
