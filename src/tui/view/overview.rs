//! Screen 1: findings worst first, the sysctls that govern them, socket
//! counts by state, and trends of overflows, TIME-WAIT and CLOSE-WAIT.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::{Theme, block, mark_selected, severity_tag, visible};
use crate::model::{ALL_STATES, State};
use crate::output::escape;

use crate::output::human::HEADER_SYSCTLS;
use crate::output::wording::{message, subject_text};
use crate::tui::app::App;
use unicode_width::UnicodeWidthStr;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let wanted = data.analysis.findings.len().max(1) as u16 + 2;
    let room = area.height.saturating_sub(9 + 4).max(3);
    let [findings, middle, trends] = Layout::vertical([
        Constraint::Length(wanted.clamp(3, room)),
        Constraint::Min(9),
        Constraint::Length(4),
    ])
    .areas(area);
    draw_findings(frame, findings, app, theme);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    draw_sysctls(frame, left, app, theme);
    draw_states(frame, right, app);
    draw_trends(frame, trends, app);
}

fn draw_findings(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let rows = app.finding_rows();
    let findings = &data.analysis.findings;
    let title = format!(" Findings ({}){} — Enter: go to subject ", rows.len(), netns_title(app));
    let cursor = app.cursor();
    let height = area.height.saturating_sub(2) as usize;
    // This panel is shorter than a table's page: keep the cursor inside it.
    let offset = cursor.offset.min(cursor.selected).max((cursor.selected + 1).saturating_sub(height));
    let shown = visible(rows.len(), offset, height);
    let kind_width = shown.clone().map(|i| findings[rows[i]].kind().name().len()).max().unwrap_or(0);
    let inner = usize::from(area.width.saturating_sub(2));
    let mut lines: Vec<Line> = shown
        .map(|i| {
            let f = &findings[rows[i]];
            let owners = match &f.subject {
                crate::analyze::Subject::Socket { inode, .. } => {
                    format!("{} {}", queue_text(data, *inode), super::fit::owners(&data.snapshot, *inode, 20))
                }
                _ => String::new(),
            };
            let head = format!("{}{}{owners}  ", subject_text(&f.subject), netns_tag(app, f.netns));
            let avail = inner.saturating_sub(5 + kind_width + 1);
            let head = match head.width() <= avail {
                true => head,
                false => super::fit::end(head.trim_end(), avail),
            };
            let room = avail.saturating_sub(head.width());
            let line = Line::from(vec![
                Span::styled(
                    format!("{:<4}{}", severity_tag(f.severity), if app.is_escalated(f) { "▲" } else { " " }),
                    theme.severity(f.severity),
                ),
                Span::styled(format!("{:<kind_width$} ", f.kind().name()), theme.heading()),
                Span::raw(head),
                Span::styled(super::fit::end(&message(f), room), theme.dim()),
            ]);
            mark_selected(line, i == cursor.selected, theme)
        })
        .collect();
    if rows.is_empty() {
        lines.push(Line::from("no findings: no listener, process or destination crossed a threshold"));
    }
    frame.render_widget(Paragraph::new(lines).block(block(title)), area);
}

/// ` 5/4 FULL` for a finding about a listener: the numbers that matter
/// come before the message, which a narrow terminal cuts.
fn queue_text(data: &crate::tui::app::Data, inode: u64) -> String {
    match data.analysis.listeners.iter().find(|l| l.inode == inode) {
        Some(l) if l.full => format!(" {}/{} FULL", l.accept_queue, l.backlog),
        Some(l) if l.near_full => format!(" {}/{} NEAR", l.accept_queue, l.backlog),
        Some(l) => format!(" {}/{}", l.accept_queue, l.backlog),
        None => String::new(),
    }
}

/// ` in NAME` when one namespace is chosen (`n`); nothing otherwise.
pub(super) fn netns_title(app: &App) -> String {
    let Some(data) = &app.data else { return String::new() };
    match app.netns {
        Some(n) => format!(" in {}", crate::output::netns::column(&data.snapshot, n)),
        None => String::new(),
    }
}

/// ` [NAME]` after a subject in an all-namespace snapshot.
pub(super) fn netns_tag(app: &App, netns: Option<u64>) -> String {
    match (&app.data, netns) {
        (Some(data), Some(n)) if data.snapshot.is_all_netns() => {
            format!(" [{}]", crate::output::netns::column(&data.snapshot, n))
        }
        _ => String::new(),
    }
}

fn draw_sysctls(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let implicated: Vec<&str> =
        data.analysis.findings.iter().flat_map(|f| f.kind().sysctls().iter().copied()).collect();
    // The dump header's sysctls but tcp_tw_reuse (on the Sysctls screen), to fit 80x24.
    let lines: Vec<Line> = HEADER_SYSCTLS
        .iter()
        .filter(|name| **name != "net.ipv4.tcp_tw_reuse")
        .map(|name| {
            let value = app.sysctls().and_then(|s| s.get(name)).map_or("?".to_string(), |v| v.to_string());
            let short = name.trim_start_matches("net.core.").trim_start_matches("net.ipv4.");
            let text = format!("{short:<22} {}", escape::text(&value));
            match implicated.contains(name) {
                true => Line::from(Span::styled(format!("! {text}"), theme.warning())),
                false => Line::from(format!("  {text}")),
            }
        })
        .collect();
    let title = format!(" Sysctls{} (! = implicated) ", netns_title(app));
    frame.render_widget(Paragraph::new(lines).block(block(title)), area);
}

fn draw_states(frame: &mut Frame, area: Rect, app: &App) {
    let Some(by_proto) = app.states() else { return };
    let mut lines = Vec::new();
    for (proto, counts) in by_proto {
        for state in ALL_STATES.iter().filter(|s| counts.get(**s) > 0) {
            let line = format!("{:<6}{:<11}{:>8}", proto.netid(), state.ss_name(), counts.get(*state));
            lines.push(Line::from(line));
        }
    }
    let room = usize::from(area.height.saturating_sub(2));
    if lines.len() > room && room > 0 {
        let hidden = lines.len() - (room - 1);
        lines.truncate(room - 1);
        lines.push(Line::from(format!("… {hidden} more: screen 3, g")));
    }
    let title = format!(" Sockets by state{} ", netns_title(app));
    frame.render_widget(Paragraph::new(lines).block(block(title)), area);
}

fn draw_trends(frame: &mut Frame, area: Rect, app: &App) {
    let h = &app.history;
    let overflows = h.rate_series(|s| s.counters.get(&("TcpExt", "ListenOverflows")).map(|v| *v as f64));
    let time_wait = h.series(|s| Some(u64::from(s.tcp(State::TimeWait))));
    let close_wait = h.series(|s| Some(u64::from(s.tcp(State::CloseWait))));
    // The history is the whole snapshot's: with one namespace chosen, say so.
    let scope = if app.netns.is_some() { "host " } else { "" };
    let areas: [Rect; 3] = Layout::horizontal([Constraint::Ratio(1, 3); 3]).areas(area);
    let charts = [("ListenOverflows/s", overflows), ("TIME-WAIT", time_wait), ("CLOSE-WAIT", close_wait)];
    for (rect, (name, series)) in areas.into_iter().zip(charts) {
        let now = series.last().copied().unwrap_or(0);
        let width = rect.width.saturating_sub(2) as usize;
        let tail = &series[series.len().saturating_sub(width)..];
        let chart = Sparkline::default().data(tail).block(block(format!(" {scope}{name} {now} ")));
        frame.render_widget(chart, rect);
    }
}
