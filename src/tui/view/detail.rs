//! The detail pane (Enter): a finding, a listener, a process or a socket,
//! with the owners, history and sysctls that explain it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Wrap};

use super::processes::{close_wait_trend, fd_gauge, state_text};
use super::{Theme, block, centered, clear, severity_tag};
use crate::analyze::history::ListenerId;
use crate::analyze::{Finding, FindingKind, Listener, Subject};
use crate::model::{Proto, Snapshot, Socket, State};
use crate::output::escape::{endpoint_text, text};
use crate::output::wording::{hint, message, subject_text};
use crate::output::{evidence, owners_text};
use crate::tui::app::{App, Detail, DetailRows};

/// The most sockets a detail pane copies to scroll through (a record is
/// ~100 bytes); beyond them it names the command that lists them all.
pub(crate) const MAX_LISTED: usize = 1000;

pub(super) fn draw(frame: &mut Frame, body: Rect, app: &App, theme: Theme) {
    let (Some(detail), Some(data)) = (&app.detail, &app.data) else { return };
    let area = centered(body, 94, 94);
    clear(frame, area);
    let snap = &data.snapshot;
    match detail {
        Detail::Finding(i) => {
            if let Some(f) = data.analysis.findings.get(*i) {
                let lines = finding_lines(snap, f, theme);
                frame.render_widget(
                    Paragraph::new(lines).wrap(Wrap { trim: false }).block(block(" Finding — Esc: close ")),
                    area,
                );
            }
        }
        Detail::Listener(inode) => {
            if let Some(l) = data.analysis.listeners.iter().find(|l| l.inode == *inode) {
                draw_listener(frame, area, app, l, theme);
            }
        }
        Detail::Process(pid) => draw_process(frame, area, app, *pid, theme),
        Detail::Socket(i) => {
            if let Some(s) = snap.sockets.get(*i) {
                let lines = socket_lines(snap, s);
                let title = " Socket — Enter: owning process, Esc: close ";
                frame.render_widget(
                    Paragraph::new(lines).wrap(Wrap { trim: false }).block(block(title)),
                    area,
                );
            }
        }
    }
}

/// `netns: pod shop/cart-7f9 (inode 4026532177)` in an all-namespace snapshot.
fn netns_line(snap: &Snapshot, inode: u64) -> Option<Line<'static>> {
    let ns = snap.is_all_netns().then(|| snap.namespace(inode)).flatten()?;
    let owner = crate::output::netns::owner(ns);
    let name = text(&ns.display_name()).into_owned();
    Some(Line::from(format!("netns: {name} — {owner} (inode {inode})")))
}

/// The sysctls behind `kinds`; `ipv4` false leaves out `net.ipv4.*` (a
/// UNIX listener's queue answers only to `net.core.somaxconn`).
fn sysctl_line(snap: &Snapshot, netns: u64, kinds: &[FindingKind], ipv4: bool) -> Line<'static> {
    let mut names: Vec<&str> = Vec::new();
    for name in kinds.iter().flat_map(|k| k.sysctls().iter().copied()) {
        if !names.contains(&name) && (ipv4 || !name.starts_with("net.ipv4.")) {
            names.push(name);
        }
    }
    let values: Vec<String> = names
        .iter()
        .map(|n| {
            format!("{n} = {}", snap.sysctls_of(netns).get(n).map_or("?".to_string(), |v| v.to_string()))
        })
        .collect();
    Line::from(format!("sysctls: {}", values.join(", ")))
}

fn finding_lines(snap: &Snapshot, f: &Finding, theme: Theme) -> Vec<Line<'static>> {
    let evidence: Vec<String> =
        evidence::pairs(&f.evidence).iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", severity_tag(f.severity)), theme.severity(f.severity)),
            Span::styled(f.kind().name().to_string(), theme.heading()),
            Span::raw(format!("  {}", subject_text(&f.subject))),
        ]),
        Line::from(message(f)),
        Line::from(format!("evidence: {}", text(&evidence.join(" ")))),
        Line::from(format!("hint: {}", hint(f))),
        sysctl_line(snap, f.netns.unwrap_or(0), &[f.kind()], true),
    ];
    lines.extend(f.netns.and_then(|n| netns_line(snap, n)));
    if let Subject::Socket { inode, .. } = &f.subject {
        lines.push(Line::from(format!("owners: {}", owners_text(snap, *inode))));
    }
    lines
}

fn owner_lines(app: &App, inode: u64) -> Vec<Line<'static>> {
    let Some(data) = &app.data else { return Vec::new() };
    let snap = &data.snapshot;
    let pids = snap.owner_pids(inode);
    if pids.is_empty() {
        return vec![Line::from(match snap.host.euid {
            0 => "owners: none found (no process holds it, or its holder could not be read)",
            _ => "owners: none visible (run as root to see other users' processes)",
        })];
    }
    pids.iter()
        .map(|pid| {
            let summary = data.processes.iter().find(|p| p.pid == *pid);
            let fds = summary.map_or(String::new(), fd_gauge);
            let state = summary.map_or("?".to_string(), state_text);
            Line::from(format!("owner: {}({pid})  {state}  fds {fds}", text(snap.comm(*pid))))
        })
        .collect()
}

fn draw_listener(frame: &mut Frame, area: Rect, app: &App, l: &Listener, theme: Theme) {
    let Some(data) = &app.data else { return };
    let snap = &data.snapshot;
    let [top, chart] = Layout::vertical([Constraint::Min(6), Constraint::Length(4)]).areas(area);
    let mark = if l.full {
        "  FULL"
    } else if l.near_full {
        "  NEAR"
    } else {
        ""
    };
    let mut lines = vec![
        Line::from(Span::styled(
            format!("{} {}{mark}", l.proto.netid(), endpoint_text(&l.local)),
            theme.heading(),
        )),
        Line::from(queue_text(l)),
    ];
    lines.extend(netns_line(snap, l.netns));
    lines.extend(owner_lines(app, l.inode));
    let kinds: Vec<FindingKind> = data
        .analysis
        .findings
        .iter()
        .filter(|f| matches!(&f.subject, Subject::Socket { inode, .. } if *inode == l.inode))
        .map(|f| {
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", severity_tag(f.severity)), theme.severity(f.severity)),
                Span::raw(message(f)),
            ]));
            f.kind()
        })
        .collect();
    let kinds = if kinds.is_empty() { vec![FindingKind::AcceptQueueFull] } else { kinds };
    lines.push(sysctl_line(snap, l.netns, &kinds, l.proto == Proto::Tcp));
    lines.extend(connection_lines(l, &app.detail_rows));
    let rows = &app.detail_rows;
    let pane = Pane {
        title: " Listener — Enter: owning process, Esc: close ",
        head: lines,
        heading: if l.proto == Proto::Tcp { "its connections".to_string() } else { String::new() },
        rows: &rows.first,
        total: rows.count + rows.waiting,
        row: connection_row,
        more: format!("sockscope dump --port {} --sockets", l.local.port().unwrap_or(0)),
    };
    draw_pane(frame, top, app, pane);
    let id = ListenerId::new(l.proto, &l.local, l.inode);
    let series = app.history.series(|s| s.listeners.get(&id).map(|x| u64::from(x.accept_queue)));
    let width = chart.width.saturating_sub(2) as usize;
    let tail = &series[series.len().saturating_sub(width)..];
    let spark = Sparkline::default().data(tail).max(u64::from(l.backlog) + 1);
    frame.render_widget(spark.block(block(" accept queue, last 5 minutes ")), chart);
}

/// The accept queue, and for TCP the SYN queue and drops (a UNIX listener
/// has neither).
fn queue_text(l: &Listener) -> String {
    let queue = format!("accept queue {}/{} (full above {})", l.accept_queue, l.backlog, l.backlog);
    match l.proto {
        Proto::Tcp => format!(
            "{queue}  SYN-RECV {}  drops {}",
            l.syn_recv,
            l.drops.map_or("-".to_string(), |d| d.to_string())
        ),
        _ => queue,
    }
}

/// The connections that came through the listener: those waiting in its
/// accept queue first (inode 0: the application has not accepted them), then
/// accepted ones with their tcp_info (fetched while this pane is open).
/// Found once per snapshot ([`DetailRows`]), not per frame.
fn connection_lines(l: &Listener, rows: &DetailRows) -> Vec<Line<'static>> {
    if l.proto != Proto::Tcp {
        return Vec::new();
    }
    let stuck = match rows.syn_sent {
        0 => String::new(),
        n => format!("; {n} local client{} in SYN-SENT towards it", if n == 1 { "" } else { "s" }),
    };
    vec![Line::from(format!(
        "connections on this port: {} accepted, {} waiting for accept() ({} closed by the client), {} half-open{stuck}",
        rows.count, rows.waiting, rows.gave_up, l.syn_recv
    ))]
}

fn connection_row(s: &Socket) -> Line<'static> {
    let info = match (s.tcp_info(), s.waits_for_accept()) {
        (_, true) if s.state == State::CloseWait => "waiting for accept(); the client gave up".to_string(),
        (_, true) => "waiting for accept()".to_string(),
        (Some(i), false) => format!(
            "rtt {}us cwnd {} retrans {} acked {}B recv {}B",
            opt(i.rtt_us),
            opt(i.cwnd),
            opt(i.total_retrans),
            opt(i.bytes_acked),
            opt(i.bytes_received)
        ),
        (None, false) => "tcp_info arrives with the next refresh".to_string(),
    };
    Line::from(format!("  {:<10} {:<22} {info}", s.state.ss_name(), endpoint_text(&s.remote)))
}

fn socket_row(s: &Socket) -> Line<'static> {
    Line::from(format!(
        "  {:<5} {:<10} {:>6} {:>6}  {} -> {}",
        s.proto.netid(),
        s.state.ss_name(),
        s.recv_q,
        s.send_q,
        endpoint_text(&s.local),
        endpoint_text(&s.remote)
    ))
}

/// A detail pane: `head`, then the list of sockets (`heading`, one row
/// each, and `more` when the list holds fewer than `total`), scrolled as
/// one text by j/k when it is taller than the pane.
struct Pane<'a> {
    title: &'static str,
    head: Vec<Line<'static>>,
    heading: String,
    rows: &'a [Socket],
    total: usize,
    row: fn(&Socket) -> Line<'static>,
    more: String,
}

fn draw_pane(frame: &mut Frame, area: Rect, app: &App, pane: Pane) {
    let mut lines = pane.head;
    if !pane.heading.is_empty() {
        lines.push(Line::from(format!("{} ({}):", pane.heading, pane.total)));
        lines.extend(pane.rows.iter().map(pane.row));
        let unlisted = pane.total.saturating_sub(pane.rows.len());
        if unlisted > 0 {
            lines.push(Line::from(format!("  … {unlisted} more not listed here: {}", pane.more)));
        }
    }
    let inner = block("").inner(area);
    let text = Paragraph::new(lines).wrap(Wrap { trim: false });
    // Rows as ratatui wraps them: what the scroll can reach, exactly.
    let height = text.line_count(inner.width);
    let room = usize::from(inner.height);
    let last = height.saturating_sub(room);
    app.detail_scroll_max.set(last);
    let top = app.detail_scroll.min(last);
    let title = match last {
        0 => pane.title.to_string(),
        _ => format!("{}· j/k: lines {}-{} of {height} ", pane.title, top + 1, (top + room).min(height)),
    };
    let text = text.scroll((u16::try_from(top).unwrap_or(u16::MAX), 0));
    frame.render_widget(text.block(block(title)), area);
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("-".to_string(), |v| v.to_string())
}

fn draw_process(frame: &mut Frame, area: Rect, app: &App, pid: u32, theme: Theme) {
    let Some(data) = &app.data else { return };
    let snap = &data.snapshot;
    let [top, chart] = Layout::vertical([Constraint::Min(6), Constraint::Length(4)]).areas(area);
    let summary = data.processes.iter().find(|p| p.pid == pid);
    let process = snap.processes.get(&pid);
    let mut lines =
        vec![Line::from(Span::styled(format!("{}({pid})", text(snap.comm(pid))), theme.heading()))];
    if process.is_none() && summary.is_none() {
        lines.push(Line::from("not in this snapshot: it exited, or holds no socket any more (Esc: close)"));
    }
    if let Some(p) = summary {
        let states: Vec<String> = p.states.0.iter().map(|(s, n)| format!("{s} {n}")).collect();
        lines.push(Line::from(format!("sockets: {}", states.join(", "))));
        lines.push(Line::from(format!(
            "state: {}   fds: {}   CLOSE-WAIT trend: {}",
            state_text(p),
            fd_gauge(p),
            close_wait_trend(app, pid)
        )));
    }
    if let Some(cmd) = process.and_then(|p| p.cmdline.as_deref()) {
        lines.push(Line::from(format!("cmdline: {}", text(cmd))));
    }
    let mut kinds = Vec::new();
    for f in data.analysis.findings.iter().filter(|f| f.subject.pids().contains(&pid)) {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} {} ", severity_tag(f.severity), f.kind().name()),
                theme.severity(f.severity),
            ),
            Span::raw(format!("{}: {}", subject_text(&f.subject), message(f))),
        ]));
        kinds.push(f.kind());
    }
    let netns = process.and_then(|p| p.netns).unwrap_or(0);
    if !kinds.is_empty() {
        lines.push(sysctl_line(snap, netns, &kinds, true));
    }
    lines.extend(netns_line(snap, netns));
    let rows = &app.detail_rows;
    let pane = Pane {
        title: " Process — Esc: close ",
        head: lines,
        heading: "its sockets".to_string(),
        rows: &rows.first,
        total: rows.count,
        row: socket_row,
        more: format!("sockscope dump --pid {pid} --sockets"),
    };
    draw_pane(frame, top, app, pane);
    let series = app.history.series(|s| s.processes.get(&pid).map(|p| u64::from(p.close_wait)));
    let width = chart.width.saturating_sub(2) as usize;
    let tail = &series[series.len().saturating_sub(width)..];
    frame.render_widget(Sparkline::default().data(tail).block(block(" CLOSE-WAIT, last 5 minutes ")), chart);
}

fn socket_lines(snap: &Snapshot, s: &Socket) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(format!(
            "{} {}  {} -> {}",
            s.proto.netid(),
            s.state.ss_name(),
            endpoint_text(&s.local),
            endpoint_text(&s.remote)
        )),
        Line::from(format!("Recv-Q {}  Send-Q {}  inode {}", s.recv_q, s.send_q, s.inode)),
        Line::from(format!("owners: {}", owners_text(snap, s.inode))),
    ];
    lines.extend(netns_line(snap, snap.netns_of_socket(s)));
    if let Some(m) = s.mem() {
        lines.push(Line::from(format!(
            "skmem: rcvbuf {} sndbuf {} drops {}",
            m.rcvbuf,
            m.sndbuf,
            opt(m.drops)
        )));
    }
    match s.tcp_info() {
        Some(i) => lines.push(Line::from(format!(
            "tcp_info: rtt {}us rttvar {}us cwnd {} retrans {}/{} acked {}B received {}B last recv {}ms",
            opt(i.rtt_us),
            opt(i.rttvar_us),
            opt(i.cwnd),
            opt(i.retransmits),
            opt(i.total_retrans),
            opt(i.bytes_acked),
            opt(i.bytes_received),
            opt(i.last_data_recv_ms)
        ))),
        None if s.proto == Proto::Tcp && s.inode != 0 => {
            lines.push(Line::from("tcp_info arrives with the next refresh"));
        }
        None => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Thresholds, analyze};
    use crate::fixture::SnapshotBuilder;

    /// A UNIX listener has an accept queue but no SYN queue and no drop
    /// counter: its pane shows neither.
    #[test]
    fn a_unix_listener_shows_only_its_accept_queue() {
        let snap = SnapshotBuilder::new()
            .process(7, "app", 10, 1024)
            .unix_listener("/run/app.sock", 2, 8, &[7])
            .listener("127.0.0.1:80", 1, 8, 3, &[7])
            .build();
        let listeners = analyze(&snap, &Thresholds::DEFAULT).listeners;
        let unix = listeners.iter().find(|l| l.proto != Proto::Tcp).expect("unix listener");
        assert_eq!(queue_text(unix), "accept queue 2/8 (full above 8)");
        let tcp = listeners.iter().find(|l| l.proto == Proto::Tcp).expect("tcp listener");
        assert!(queue_text(tcp).contains("SYN-RECV 0  drops 3"), "{}", queue_text(tcp));
        let kinds = [FindingKind::AcceptQueueFull];
        let unix_sysctls = sysctl_line(&snap, 0, &kinds, false).to_string();
        assert!(unix_sysctls.contains("somaxconn") && !unix_sysctls.contains("net.ipv4"), "{unix_sysctls}");
        assert!(sysctl_line(&snap, 0, &kinds, true).to_string().contains("net.ipv4"));
    }
}
