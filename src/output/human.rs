//! The human report of `sockscope dump`: the governing sysctls and counters,
//! the findings worst first, the listeners with their queues, and where the
//! connections are (by state, by process).

use std::io::{self, Write};

use super::style::{Paint, Style};
use super::table::{Align, Cell, Table};
use super::wording::{hint, message, subject_text};
use super::{escape, evidence, listening_labels, owners_text, time};
use crate::analyze::Report;
use crate::analyze::summary::{self, ProcessSummary};
use crate::analyze::{Finding, Listener, Severity, Subject};
use crate::model::{ALL_STATES, Endpoint, Proto, Snapshot, State};

/// The sysctls in the header line, by dotted name.
pub const HEADER_SYSCTLS: &[&str] = &[
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_fin_timeout",
];

/// The counters in the header line, as (section, name).
pub const HEADER_COUNTERS: &[(&str, &str)] = &[
    ("TcpExt", "ListenOverflows"),
    ("TcpExt", "ListenDrops"),
    ("TcpExt", "TCPReqQFullDrop"),
    ("TcpExt", "TCPReqQFullDoCookies"),
    ("TcpExt", "SyncookiesSent"),
    ("TcpExt", "TCPTimeWaitOverflow"),
    ("Udp", "RcvbufErrors"),
];

const PROCESS_ROWS: usize = 20;

/// Writes the whole report.
pub fn write_report(out: &mut dyn Write, report: &Report, style: &Style) -> io::Result<()> {
    write_header(out, report, style)?;
    writeln!(out)?;
    write_findings(out, report, style)?;
    writeln!(out)?;
    if report.snapshot.is_all_netns() {
        super::netns::write_namespaces(out, report, style)?;
        writeln!(out)?;
    }
    write_listeners(out, report, style)?;
    writeln!(out)?;
    write_states(out, report, style)?;
    writeln!(out)?;
    write_processes(out, report, style)
}

fn heading(out: &mut dyn Write, style: &Style, title: &str) -> io::Result<()> {
    writeln!(out, "{}", style.paint(Paint::Heading, title))
}

fn write_header(out: &mut dyn Write, report: &Report, style: &Style) -> io::Result<()> {
    let snap = report.snapshot;
    let netns = match (&snap.netns.label, snap.netns.inode) {
        _ if snap.is_all_netns() => all_netns_text(snap),
        (Some(label), Some(ino)) => format!("{} (net:[{ino}])", escape::text(label)),
        (None, Some(ino)) => format!("net:[{ino}]"),
        (label, None) => label.clone().unwrap_or_else(|| "own".into()),
    };
    writeln!(
        out,
        "sockscope {}  host {}  kernel {}  netns {netns}  at {}  collected in {} ms",
        env!("CARGO_PKG_VERSION"),
        escape::text(&snap.host.hostname),
        escape::text(&snap.host.kernel),
        time::rfc3339(snap.taken_at),
        snap.timings.total.as_millis()
    )?;
    let own = if snap.is_all_netns() { " (own netns; NAMESPACES has each one's somaxconn)" } else { "" };
    writeln!(out, "sysctls   {}{own}", sysctl_line(report, style))?;
    writeln!(out, "counters  {}", counter_line(snap))?;
    writeln!(out, "sockets   {}", socket_line(report))
}

/// `all (21 namespaces: 20 collected, 1 vanished)`.
fn all_netns_text(snap: &Snapshot) -> String {
    let total = snap.namespaces.len();
    let mut by_status: Vec<(&str, usize)> = Vec::new();
    for ns in &snap.namespaces {
        match by_status.iter_mut().find(|(name, _)| *name == ns.status.name()) {
            Some((_, n)) => *n += 1,
            None => by_status.push((ns.status.name(), 1)),
        }
    }
    let parts: Vec<String> = by_status.iter().map(|(name, n)| format!("{n} {name}")).collect();
    format!("all ({total} namespaces: {})", parts.join(", "))
}

fn sysctl_line(report: &Report, style: &Style) -> String {
    let implicated: Vec<&str> =
        report.findings.iter().flat_map(|f| f.kind().sysctls().iter().copied()).collect();
    HEADER_SYSCTLS
        .iter()
        .map(|name| {
            let short = name.rsplit('.').next().unwrap_or(name);
            let value = report
                .snapshot
                .sysctls
                .get(name)
                .map_or("?".to_string(), |v| v.to_string().replace(' ', "-"));
            let text = format!("{short}={value}");
            match implicated.contains(name) {
                true => style.paint(Paint::Warning, &text).into_owned(),
                false => text,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn counter_line(snap: &Snapshot) -> String {
    HEADER_COUNTERS
        .iter()
        .map(|(section, name)| {
            let value = snap.counters.get(section, name).map_or("?".to_string(), |v| v.to_string());
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn socket_line(report: &Report) -> String {
    let by_proto = summary::by_proto_and_state(report.sockets.iter().copied());
    if by_proto.is_empty() {
        return "none selected".to_string();
    }
    by_proto
        .iter()
        .map(|(proto, counts)| {
            let states: Vec<String> = counts.0.iter().map(|(s, n)| format!("{s} {n}")).collect();
            format!("{} {} ({})", proto.netid(), counts.total(), states.join(", "))
        })
        .collect::<Vec<_>>()
        .join("  ")
}

fn write_findings(out: &mut dyn Write, report: &Report, style: &Style) -> io::Result<()> {
    if report.findings.is_empty() {
        return heading(
            out,
            style,
            "FINDINGS  none: no listener, process or destination crossed a threshold",
        );
    }
    heading(out, style, &format!("FINDINGS ({})", severity_counts(&report.findings)))?;
    let width = report.findings.iter().map(|f| f.kind().name().len()).max().unwrap_or(0);
    for f in &report.findings {
        write_finding(out, report.snapshot, f, width, style)?;
    }
    Ok(())
}

fn severity_counts(findings: &[Finding]) -> String {
    [Severity::Critical, Severity::Warning, Severity::Info]
        .iter()
        .filter_map(|s| {
            let n = findings.iter().filter(|f| f.severity == *s).count();
            (n > 0).then(|| format!("{n} {}", s.label().to_lowercase()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_finding(
    out: &mut dyn Write,
    snap: &Snapshot,
    f: &Finding,
    width: usize,
    style: &Style,
) -> io::Result<()> {
    let tag = format!("{:<8}", f.severity.label());
    let owners = match &f.subject {
        Subject::Socket { inode, .. } => format!("  {}", owners_text(snap, *inode)),
        _ => String::new(),
    };
    let netns = f
        .netns
        .filter(|_| snap.is_all_netns())
        .map_or(String::new(), |n| format!("  [{}]", super::netns::tag(snap, n)));
    writeln!(
        out,
        "{}  {:<width$}  {}{netns}{owners}",
        style.paint(Paint::of(f.severity), &tag),
        f.kind().name(),
        subject_text(&f.subject)
    )?;
    writeln!(out, "          {}", message(f))?;
    writeln!(out, "          evidence: {}", evidence::text(&f.evidence))?;
    writeln!(out, "          {}", style.paint(Paint::Dim, &format!("hint: {}", hint(f))))
}

fn write_listeners(out: &mut dyn Write, report: &Report, style: &Style) -> io::Result<()> {
    if report.listeners.is_empty() {
        return heading(out, style, "LISTENERS  none selected");
    }
    heading(out, style, &format!("LISTENERS ({})", report.listeners.len()))?;
    let all = report.snapshot.is_all_netns();
    let mut table = Table::new(&with_netns(
        all,
        &[
            ("Proto", Align::Left),
            ("Local Address", Align::Left),
            ("Accept-Q", Align::Right),
            ("Fill", Align::Left),
            ("SYN-RECV", Align::Right),
            ("Drops", Align::Right),
            ("Owners", Align::Left),
        ],
    ));
    for l in &report.listeners {
        let netns = all.then(|| super::netns::column(report.snapshot, l.netns));
        table.push(netns_first(netns, listener_row(report.snapshot, l)));
    }
    table.write(out, style)
}

/// The columns, behind a NETNS column in all-namespace reports.
fn with_netns(all: bool, columns: &[(&'static str, Align)]) -> Vec<(&'static str, Align)> {
    let netns = all.then_some(("NETNS", Align::Left));
    netns.into_iter().chain(columns.iter().copied()).collect()
}

/// A row, behind its NETNS cell when there is one.
fn netns_first(netns: Option<String>, row: Vec<Cell>) -> Vec<Cell> {
    netns.map(Cell::from).into_iter().chain(row).collect()
}

fn listener_row(snap: &Snapshot, l: &Listener) -> Vec<Cell> {
    let pct = l.fill_pct.map_or("-".to_string(), |p| format!("{p:.0}%"));
    let (fill, paint) = if l.full {
        (format!("{pct} FULL"), Some(Paint::Critical))
    } else if l.near_full {
        (format!("{pct} NEAR"), Some(Paint::Warning))
    } else {
        (pct, None)
    };
    let syn = match l.proto {
        Proto::Tcp => l.syn_recv.to_string(),
        _ => "-".to_string(),
    };
    vec![
        l.proto.netid().into(),
        escape::endpoint_text(&l.local).into(),
        format!("{}/{}", l.accept_queue, l.backlog).into(),
        Cell::painted(fill, paint),
        syn.into(),
        l.drops.map_or("-".to_string(), |d| d.to_string()).into(),
        owners_text(snap, l.inode).into(),
    ]
}

fn write_states(out: &mut dyn Write, report: &Report, style: &Style) -> io::Result<()> {
    heading(out, style, "SOCKETS BY STATE")?;
    let by_proto = summary::by_proto_and_state(report.sockets.iter().copied());
    if by_proto.is_empty() {
        return writeln!(out, "none selected");
    }
    let mut table = Table::new(&[("Proto", Align::Left), ("Total", Align::Right), ("States", Align::Left)]);
    for (proto, counts) in &by_proto {
        let states: Vec<String> = ALL_STATES
            .iter()
            .filter(|s| counts.get(**s) > 0)
            .map(|s| format!("{s} {}", counts.get(*s)))
            .collect();
        table.push(vec![proto.netid().into(), counts.total().to_string().into(), states.join("  ").into()]);
    }
    table.write(out, style)
}

fn write_processes(out: &mut dyn Write, report: &Report, style: &Style) -> io::Result<()> {
    let procs = summary::by_process(report.snapshot, report.sockets.iter().copied());
    if procs.is_empty() {
        let scan = &report.snapshot.scan;
        let why = match scan.unreadable + scan.exhausted {
            0 => "none own a selected socket".to_string(),
            n => format!(
                "none found ({n} process{} unread: see the warning on stderr)",
                if n == 1 { "" } else { "es" }
            ),
        };
        return heading(out, style, &format!("PROCESSES  {why}"));
    }
    let shown = procs.len().min(PROCESS_ROWS);
    let more = match procs.len() > shown {
        true => format!(", {shown} with most CLOSE-WAIT/sockets shown; --json lists all"),
        false => String::new(),
    };
    heading(out, style, &format!("PROCESSES ({}{more})", procs.len()))?;
    let snap = report.snapshot;
    let all = snap.is_all_netns();
    let mut table = Table::new(&with_netns(
        all,
        &[
            ("PID", Align::Right),
            ("Command", Align::Left),
            ("St", Align::Left),
            ("Sockets", Align::Right),
            ("CLOSE-WAIT", Align::Right),
            ("Other states", Align::Left),
            ("FDs/Limit", Align::Right),
            ("Listening on", Align::Left),
        ],
    ));
    for p in &procs[..shown] {
        let netns = all.then(|| {
            snap.namespace_of_pid(p.pid).map_or("?".into(), |n| super::netns::column(snap, n.inode))
        });
        table.push(netns_first(netns, process_row(p)));
    }
    table.write(out, style)
}

fn process_row(p: &ProcessSummary) -> Vec<Cell> {
    let fds = match (p.fds, p.fd_limit.and_then(|l| l.value())) {
        (Some(n), Some(limit)) => format!("{n}/{limit}"),
        (Some(n), None) => format!("{n}/unlimited"),
        (None, _) => "?".to_string(),
    };
    let cw = p.close_wait();
    let state = p.state.map_or("?".to_string(), |s| s.letter().to_string());
    let stuck = p.state.is_some_and(|s| s.cannot_run());
    vec![
        p.pid.to_string().into(),
        escape::text(&p.comm).into_owned().into(),
        Cell::painted(escape::text(&state).into_owned(), stuck.then_some(Paint::Warning)),
        p.states.total().to_string().into(),
        Cell::painted(cw.to_string(), (cw > 0).then_some(Paint::Warning)),
        other_states(p).into(),
        fds.into(),
        listening_text(&p.listening).into(),
    ]
}

/// Every state but CLOSE-WAIT (which has its own column): `ESTAB 8 LISTEN 2`.
fn other_states(p: &ProcessSummary) -> String {
    let parts: Vec<String> =
        p.states.0.iter().filter(|(s, _)| **s != State::CloseWait).map(|(s, n)| format!("{s} {n}")).collect();
    parts.join(" ")
}

fn listening_text(listening: &[(Proto, Endpoint)]) -> String {
    const MAX: usize = 4;
    let mut text = listening_labels(&listening[..listening.len().min(MAX)]).join(" ");
    if listening.len() > MAX {
        text.push_str(&format!(" +{}", listening.len() - MAX));
    }
    text
}
