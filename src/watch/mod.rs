//! `sockscope watch`: samples repeatedly and reports what changes, which
//! findings start and stop holding, and at the end what grew and leaked.
//!
//! It takes a [`Source`]: the binary hands it the kernel collector (which
//! re-reads only processes whose fd table changed, so watching a busy host
//! costs about one socket dump per interval); tests hand it a scripted
//! [`Replay`](crate::model::Replay) and check events over time in milliseconds.
//!
//! The interval stretches to at least five times what a tick cost
//! ([`pace`](crate::model::pace)), so watch stays under ~20 % of one core on
//! a host with a million sockets; a `pace` event says when it stretches and
//! when it returns.

mod peaks;
mod print;
mod repeats;
mod summary;
pub(crate) mod track;

use std::collections::HashMap;
use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use crate::analyze::history::History;
use crate::analyze::leaks::{self, LeakThresholds};
use crate::analyze::report::keeps_finding;
use crate::analyze::{self, Analysis, Finding, Report, Severity, Thresholds};
use crate::model::pace::{self, Pace};
use crate::model::{Selection, Snapshot, Source, SourceError, WarningKind};
use crate::output::style::Style;
use crate::output::time::human_duration;

use self::print::Printer;
use self::track::{FindingTracker, ProcessChange, Tracker};

/// When `--fail-on` makes the exit status 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Any leak finding (`close_wait_leak`, `fd_leak`, `ghost_sockets`).
    Leak,
    Severity(Severity),
}

impl FailOn {
    pub fn parse(text: &str) -> Result<FailOn, String> {
        match text.to_ascii_lowercase().as_str() {
            "leak" | "leaks" => Ok(FailOn::Leak),
            other => Severity::parse(other)
                .map(FailOn::Severity)
                .map_err(|_| format!("unknown --fail-on '{text}' (expected leak, warning or critical)")),
        }
    }

    fn triggered(self, fired: &[Finding]) -> bool {
        match self {
            FailOn::Leak => fired.iter().any(|f| leaks::is_leak(f.kind())),
            FailOn::Severity(s) => fired.iter().any(|f| f.severity >= s),
        }
    }
}

pub struct Settings {
    pub selection: Selection,
    pub thresholds: Thresholds,
    pub leaks: LeakThresholds,
    pub interval: Duration,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub json: bool,
    /// Print `no change` after this many quiet intervals.
    pub heartbeat: u32,
    pub fail_on: Option<FailOn>,
    pub style: Style,
}

/// How a watch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Clean,
    /// A finding matching `--fail-on` fired (exit status 3).
    FailOn,
}

/// Why a watch stopped early.
#[derive(Debug)]
pub enum WatchError {
    /// Writing events failed (a closed pipe included).
    Io(std::io::Error),
    /// The very first collection failed (there is nothing to watch), or the
    /// source can produce no more (a `--netns PID` whose process exited).
    Source(SourceError),
}

impl std::fmt::Display for WatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatchError::Io(_) => f.write_str("writing output"),
            WatchError::Source(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for WatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WatchError::Io(e) => Some(e),
            WatchError::Source(e) => e.source(),
        }
    }
}

impl From<std::io::Error> for WatchError {
    fn from(e: std::io::Error) -> WatchError {
        WatchError::Io(e)
    }
}

/// Why trends can never be judged when `--window` holds fewer samples than
/// a trend needs at `--interval`: said at the start, not found out after a
/// silent run.
pub fn window_warning(interval: Duration, leaks: &LeakThresholds) -> Option<String> {
    let needed = interval.saturating_mul(leaks.min_samples.saturating_sub(1) as u32);
    (leaks.window < needed).then(|| {
        format!(
            "--window {} holds fewer than {} samples at --interval {}: no leak or rate can be judged; \
             use --window {} or more",
            human_duration(leaks.window),
            leaks.min_samples,
            human_duration(interval),
            human_duration(needed)
        )
    })
}

/// Runs until `--count` intervals (whether or not each collection worked),
/// `--duration`, a message on `stop` (the binary sends one on Ctrl-C or
/// SIGTERM), or a source that can produce no more, then summarizes.
/// Repeated warnings are printed once a minute, with a count.
pub fn run(
    settings: &Settings,
    source: &mut dyn Source,
    out: &mut dyn Write,
    err: &mut dyn Write,
    stop: &Receiver<()>,
) -> Result<Ending, WatchError> {
    let mut printer = Printer { out, json: settings.json, style: settings.style, labels: HashMap::new() };
    let mut state = Watch::new(settings);
    let mut repeats = repeats::Repeats::new(Duration::from_secs(60));
    let started = Instant::now();
    let mut ticks = 0u64;
    let mut pace = Pace::new(settings.interval);
    let mut ended = None;
    printer.start(&format!(
        "watching every {} (Ctrl-C to stop and summarize)",
        human_duration(settings.interval)
    ))?;
    loop {
        let tick = Instant::now();
        let cpu = process_cpu();
        ticks += 1;
        let mut collected = Duration::ZERO;
        let mut taken_at = SystemTime::now();
        match source.snapshot() {
            Ok(snapshot) => {
                for w in snapshot.warnings.iter().filter(|w| w.kind != WarningKind::NetnsChanged) {
                    warn(err, repeats.admit(&format!("{:?}", w.kind), &w.message, tick))?;
                }
                if let Some(from) = snapshot.netns.changed_from {
                    printer.netns_changed(snapshot.taken_at, &snapshot.netns, from)?;
                    state.restart();
                }
                collected = snapshot.timings.total;
                taken_at = snapshot.taken_at;
                state.tick(&snapshot, &mut printer)?
            }
            Err(e) if state.samples == 0 || source.is_final(&e) => {
                ended = Some(e);
                break;
            }
            Err(e) => {
                let text = format!("collection failed: {}", crate::output::error_chain(e.as_ref()));
                warn(err, repeats.admit(&text, &text, tick))?;
            }
        }
        let cost = pace::cost(tick.elapsed(), process_cpu().saturating_sub(cpu)).max(collected);
        let before = pace;
        pace = pace.after(cost);
        if let Some(change) = pace::change(before, pace) {
            printer.pace(taken_at, change)?;
        }
        printer.out.flush()?;
        // `--count` counts ticks, failed ones included: a run always ends.
        if settings.count.is_some_and(|n| ticks >= n)
            || settings.duration.is_some_and(|d| started.elapsed() + pace.effective > d)
        {
            break;
        }
        match stop.recv_timeout(pace.effective.saturating_sub(tick.elapsed())) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    for line in repeats.finish() {
        warn(err, Some(line))?;
    }
    if state.samples > 0 {
        let summary = state.summary(started.elapsed());
        printer.summary(SystemTime::now(), &summary)?;
        printer.out.flush()?;
    }
    if let Some(e) = ended {
        return Err(WatchError::Source(e));
    }
    Ok(match settings.fail_on.is_some_and(|f| f.triggered(&state.findings.fired)) {
        true => Ending::FailOn,
        false => Ending::Clean,
    })
}

/// CPU time of this process so far, all threads.
fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn warn(err: &mut dyn Write, line: Option<String>) -> std::io::Result<()> {
    match line {
        Some(line) => writeln!(err, "sockscope: warning: {line}"),
        None => Ok(()),
    }
}

/// Everything watch remembers between intervals.
struct Watch<'s> {
    settings: &'s Settings,
    history: History,
    /// `--all-netns`: one history per namespace inode, so trends (rates,
    /// overflow counters, port ranges) are judged within each namespace.
    histories: HashMap<u64, History>,
    tracker: Tracker,
    findings: FindingTracker,
    /// Each tracked process as first and last seen, and when.
    first: HashMap<u32, (SystemTime, ProcessChange)>,
    last: HashMap<u32, (SystemTime, ProcessChange)>,
    peaks: peaks::Peaks,
    samples: u64,
    quiet: u32,
}

impl<'s> Watch<'s> {
    fn new(settings: &'s Settings) -> Watch<'s> {
        Watch {
            settings,
            history: History::new(settings.leaks.window.max(settings.interval * 2)),
            histories: HashMap::new(),
            tracker: Tracker::default(),
            findings: FindingTracker::default(),
            first: HashMap::new(),
            last: HashMap::new(),
            peaks: peaks::Peaks::default(),
            samples: 0,
            quiet: 0,
        }
    }

    /// Forgets the history of a namespace that is gone (trends across two
    /// namespaces mean nothing); what fired stays for the summary.
    fn restart(&mut self) {
        self.history = History::new(self.settings.leaks.window.max(self.settings.interval * 2));
        self.histories.clear();
        self.tracker = Tracker::default();
    }

    fn tick(&mut self, snapshot: &Snapshot, printer: &mut Printer) -> std::io::Result<()> {
        let (analysis, trends) = match snapshot.is_all_netns() {
            true => self.analyze_each(snapshot),
            false => {
                let analysis = analyze::analyze(snapshot, &self.settings.thresholds);
                self.history.push(snapshot, &analysis);
                (analysis, leaks::leaks(&self.history, snapshot, &self.settings.leaks))
            }
        };
        printer.namespaces(snapshot);
        let report = Report::build(snapshot, &self.settings.selection, analysis);
        let changes = self.tracker.update(&report);
        self.samples += 1;
        self.peaks.update(&changes);
        for p in &changes.processes {
            self.first.entry(p.pid).or_insert_with(|| (snapshot.taken_at, p.clone()));
            self.last.insert(p.pid, (snapshot.taken_at, p.clone()));
        }
        self.quiet = if changes.any() { 0 } else { self.quiet + 1 };
        let heartbeat = self.settings.heartbeat > 0
            && self.quiet > 0
            && self.quiet.is_multiple_of(self.settings.heartbeat);
        printer.sample(snapshot.taken_at, &changes, heartbeat)?;
        let current = self.current_findings(&report, trends);
        let update = self.findings.update(current, snapshot.taken_at);
        for f in &update.started {
            printer.finding(snapshot.taken_at, f, None)?;
        }
        for (f, escalation) in &update.escalated {
            printer.finding(snapshot.taken_at, f, Some(escalation))?;
        }
        for (f, held) in &update.resolved {
            printer.resolved(snapshot.taken_at, f, *held)?;
        }
        Ok(())
    }

    /// Analysis and trends namespace by namespace, each finding tagged with
    /// its namespace; histories of namespaces that are gone are dropped.
    fn analyze_each(&mut self, snapshot: &Snapshot) -> (Analysis, Vec<Finding>) {
        let window = self.settings.leaks.window.max(self.settings.interval * 2);
        let parts = analyze::netns::per_netns(snapshot, &self.settings.thresholds);
        let mut trends = Vec::new();
        for (view, analysis) in &parts {
            let inode = view.netns.inode.unwrap_or(0);
            let history = self.histories.entry(inode).or_insert_with(|| History::new(window));
            history.push(view, analysis);
            let mut found = leaks::leaks(history, view, &self.settings.leaks);
            analyze::netns::tag(&mut found, Some(inode));
            trends.extend(found);
        }
        self.histories.retain(|inode, _| parts.iter().any(|(view, _)| view.netns.inode == Some(*inode)));
        (analyze::netns::merge(parts.into_iter().map(|(_, analysis)| analysis)), trends)
    }

    /// Snapshot findings of warning or worse plus trend findings, both
    /// limited to what the selection concerns.
    fn current_findings(&self, report: &Report, trends: Vec<Finding>) -> Vec<Finding> {
        let owning: std::collections::HashSet<u32> = report.processes.iter().map(|p| p.pid).collect();
        let mut all: Vec<Finding> =
            report.findings.iter().filter(|f| f.severity >= Severity::Warning).cloned().collect();
        all.extend(trends.into_iter().filter(|f| {
            keeps_finding(&self.settings.selection, f, report.snapshot, &|pid| owning.contains(&pid))
        }));
        all
    }

    fn summary(&self, elapsed: Duration) -> summary::Summary {
        summary::summarize(
            &self.first,
            &self.last,
            &self.findings.fired,
            &self.peaks,
            elapsed.as_secs_f64(),
            self.samples,
        )
    }
}

#[cfg(test)]
mod tests;
