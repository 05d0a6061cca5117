//! Screen 5: every governing sysctl, its value, what it means, and which of
//! the current findings it bears on. On a narrow terminal the meaning wraps
//! instead of being cut, and rows grow a line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};

use super::{Theme, block, fit, visible};
use crate::model::SYSCTLS;
use crate::output::escape;
use crate::tui::app::App;

/// One line on what a sysctl does to sockets.
pub(super) fn meaning(name: &str) -> &'static str {
    match name {
        "net.core.somaxconn" => "cap on every listen() backlog, applied at listen() time",
        "net.ipv4.tcp_max_syn_backlog" => "SYN queue bound that matters only with syncookies off",
        "net.ipv4.tcp_syncookies" => "1: answer with SYN cookies when a SYN queue is full; 0: drop",
        "net.ipv4.tcp_abort_on_overflow" => "1: reset connections a full accept queue cannot take",
        "net.ipv4.tcp_fin_timeout" => "how long orphaned FIN-WAIT-2 sockets live (not TIME-WAIT)",
        "net.ipv4.tcp_max_tw_buckets" => "cap on TIME-WAIT sockets; beyond it TIME-WAIT is skipped",
        "net.ipv4.tcp_tw_reuse" => "reuse TIME-WAIT ports for outgoing connects (2: loopback only)",
        "net.ipv4.tcp_timestamps" => "TCP timestamps; tcp_tw_reuse needs them",
        "net.ipv4.ip_local_port_range" => "ephemeral ports per destination: TIME-WAIT pins them",
        "net.ipv4.ip_local_reserved_ports" => "ports taken out of the ephemeral range",
        "net.ipv4.tcp_max_orphans" => {
            "cap on sockets no process holds (closing); host-wide: ? inside a container"
        }
        "net.ipv4.tcp_syn_retries" => "SYN retransmits before connect() gives up",
        "net.ipv4.tcp_synack_retries" => "SYN-ACK retransmits before a half-open connection is dropped",
        "net.ipv4.tcp_keepalive_time" => "idle seconds before keepalive probes start",
        "net.ipv4.tcp_keepalive_intvl" => "seconds between keepalive probes",
        "net.ipv4.tcp_keepalive_probes" => "unanswered probes before the connection is dropped",
        "net.core.rmem_default" => "default socket receive buffer (UDP drops when full)",
        "net.core.rmem_max" => "cap on SO_RCVBUF",
        "fs.file-nr" => "file handles allocated, free, maximum (host-wide)",
        "fs.file-max" => "host-wide cap on open files",
        "fs.nr_open" => "cap on any process's RLIMIT_NOFILE",
        _ => "",
    }
}

/// Lines per sysctl row: the meaning wraps onto two lines on terminals
/// narrower than this, with "! bears on" below it.
pub(super) const WIDE: u16 = 100;

/// Text lines each row takes at this terminal width.
pub(crate) fn row_height(width: u16) -> usize {
    if width < WIDE { 3 } else { 2 }
}

/// The name column: full names when wide, without `net.core.`/`net.ipv4.` when narrow.
fn short_name(name: &str, wide: bool) -> &str {
    match wide {
        true => name,
        false => name.trim_start_matches("net.core.").trim_start_matches("net.ipv4."),
    }
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let cursor = app.cursor();
    let wide = area.width >= WIDE;
    let lines_per_row = row_height(area.width);
    let height = usize::from(area.height.saturating_sub(3)) / lines_per_row;
    let sysctls = app.sysctls().unwrap_or(&data.snapshot.sysctls);
    let value_of = |name: &str| sysctls.get(name).map_or("?".to_string(), |v| v.to_string());
    let value_width = SYSCTLS.iter().map(|n| value_of(n).len()).max().unwrap_or(1).clamp(5, 28);
    let name_width = SYSCTLS.iter().map(|n| short_name(n, wide).len()).max().unwrap_or(6);
    let meaning_width =
        usize::from(area.width.saturating_sub(2)).saturating_sub(name_width + value_width + 2);
    let body: Vec<Row> = visible(SYSCTLS.len(), cursor.offset, height)
        .map(|i| {
            let name = SYSCTLS[i];
            let value = value_of(name);
            let mut related: Vec<&str> = Vec::new();
            let shown = |f: &&crate::analyze::Finding| app.netns.is_none() || f.netns == app.netns;
            for f in
                data.analysis.findings.iter().filter(shown).filter(|f| f.kind().sysctls().contains(&name))
            {
                if !related.contains(&f.kind().name()) {
                    related.push(f.kind().name());
                }
            }
            let style = match (i == cursor.selected, related.is_empty()) {
                (true, _) => theme.selected(),
                (false, false) => theme.warning(),
                _ => ratatui::style::Style::default(),
            };
            let mut about = fit::wrap(meaning(name), meaning_width, lines_per_row - 1);
            if !related.is_empty() {
                about.push(fit::end(&format!("! bears on: {}", related.join(", ")), meaning_width));
            }
            let cells =
                [short_name(name, wide).to_string(), escape::text(&value).into_owned(), about.join("\n")];
            Row::new(cells).height(lines_per_row as u16).style(style)
        })
        .collect();
    let header =
        Row::new(["Sysctl", "Value", "Meaning (! = bears on a current finding)"]).style(theme.heading());
    let widths = [name_width, value_width, meaning_width].map(|w| Constraint::Length(w as u16));
    let title = format!(" Sysctls{} ", super::overview::netns_title(app));
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}
