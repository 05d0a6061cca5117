//! Screen 4: per process, its run state (a stopped `T` or `D` owner drains
//! no queue), sockets by state, CLOSE-WAIT and its trend, open fds against
//! RLIMIT_NOFILE as a gauge, listening ports.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use super::{Theme, bar, block, mark_selected, visible};
use crate::analyze::summary::ProcessSummary;
use crate::model::State;
use crate::output::{escape, listening_labels};
use crate::tui::app::App;

/// CLOSE-WAIT change over the history window: `+12`, `-3`, `0`, or `-` with
/// fewer than two samples.
pub fn close_wait_trend(app: &App, pid: u32) -> String {
    let series = app.history.series(|s| s.processes.get(&pid).map(|p| u64::from(p.close_wait)));
    match (series.first(), series.last()) {
        (Some(first), Some(last)) if series.len() > 1 => match *last as i64 - *first as i64 {
            0 => "0".to_string(),
            d => format!("{d:+}"),
        },
        _ => "-".to_string(),
    }
}

/// The run state in words (`sleeping`, `stopped (T)`), or `?` when unread.
pub fn state_text(p: &ProcessSummary) -> String {
    p.state.map_or("?".to_string(), |s| s.describe().to_string())
}

/// `███░░░ 52/1024` with the share of RLIMIT_NOFILE in use.
pub fn fd_gauge(p: &ProcessSummary) -> String {
    match (p.fds, p.fd_limit.and_then(|l| l.value())) {
        (Some(n), Some(limit)) if limit > 0 => format!("{} {n}/{limit}", bar(f64::from(n) / limit as f64, 4)),
        (Some(n), _) => format!("{n}/unlimited"),
        (None, _) => "? (not root)".to_string(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let rows = app.process_rows();
    let cursor = app.cursor();
    let height = area.height.saturating_sub(3) as usize;
    let body: Vec<Row> = visible(rows.len(), cursor.offset, height)
        .map(|i| {
            let p = &data.processes[rows[i]];
            let cw = p.close_wait();
            let cw_style = if cw > 0 { theme.warning() } else { ratatui::style::Style::default() };
            let (state, state_style) = match p.state {
                Some(s) if s.cannot_run() => (s.letter().to_string(), theme.critical()),
                Some(s) => (s.letter().to_string(), ratatui::style::Style::default()),
                None => ("?".to_string(), ratatui::style::Style::default()),
            };
            let row = Row::new(vec![
                Cell::from(p.pid.to_string()),
                Cell::from(escape::text(&p.comm).into_owned()),
                Cell::from(Span::styled(escape::text(&state).into_owned(), state_style)),
                Cell::from(p.states.total().to_string()),
                Cell::from(p.states.get(State::Established).to_string()),
                Cell::from(Span::styled(cw.to_string(), cw_style)),
                Cell::from(close_wait_trend(app, p.pid)),
                Cell::from(fd_gauge(p)),
                Cell::from(listening_labels(&p.listening).join(" ")),
            ]);
            mark_selected(row, i == cursor.selected, theme)
        })
        .collect();
    let header = Row::new([
        "PID",
        "Command",
        "S",
        "Sockets",
        "ESTAB",
        "CLOSE-WAIT",
        "Trend",
        "FDs / limit",
        "Listening",
    ])
    .style(theme.heading());
    let widths = [
        Constraint::Length(7),
        Constraint::Max(15),
        Constraint::Length(1),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(10),
        Constraint::Length(5),
        Constraint::Max(18),
        Constraint::Fill(1),
    ];
    let title = format!(
        " Processes ({}) sorted by {} — s: sort, /: filter, Enter: details ",
        rows.len(),
        app.process_sort.label()
    );
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}
