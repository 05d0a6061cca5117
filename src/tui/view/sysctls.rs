//! Screen 5: every governing sysctl, its value, what it means, and which of
//! the current findings it bears on.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};

use super::{Theme, block, visible};
use crate::model::SYSCTLS;
use crate::output::escape;
use crate::tui::app::App;

/// One line on what a sysctl does to sockets.
pub fn meaning(name: &str) -> &'static str {
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
        "net.ipv4.tcp_max_orphans" => "cap on sockets no process holds (closing)",
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

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let cursor = app.cursor();
    let height = (area.height.saturating_sub(3) / 2) as usize;
    let value_of = |name: &str| data.snapshot.sysctls.get(name).map_or("?".to_string(), |v| v.to_string());
    let value_width = SYSCTLS.iter().map(|n| value_of(n).len()).max().unwrap_or(1).clamp(5, 28) as u16;
    let body: Vec<Row> = visible(SYSCTLS.len(), cursor.offset, height)
        .map(|i| {
            let name = SYSCTLS[i];
            let value = value_of(name);
            let mut related: Vec<&str> = Vec::new();
            for f in data.analysis.findings.iter().filter(|f| f.kind().sysctls().contains(&name)) {
                if !related.contains(&f.kind().name()) {
                    related.push(f.kind().name());
                }
            }
            let style = match (i == cursor.selected, related.is_empty()) {
                (true, _) => theme.selected(),
                (false, false) => theme.warning(),
                _ => ratatui::style::Style::default(),
            };
            let about = match related.is_empty() {
                true => meaning(name).to_string(),
                false => format!("{}\n! bears on: {}", meaning(name), related.join(", ")),
            };
            Row::new(vec![name.to_string(), escape::text(&value).into_owned(), about]).height(2).style(style)
        })
        .collect();
    let header =
        Row::new(["Sysctl", "Value", "Meaning (! = bears on a current finding)"]).style(theme.heading());
    let widths = [Constraint::Length(32), Constraint::Length(value_width), Constraint::Fill(1)];
    frame.render_widget(Table::new(body, widths).header(header).block(block(" Sysctls ")), area);
}
