//! Screen 4: per process, its run state (a stopped `T` or `D` owner drains
//! no queue), sockets by state, CLOSE-WAIT and its trend, open fds against
//! RLIMIT_NOFILE as a gauge, listening ports. Columns are measured on the
//! visible rows; on narrow terminals the trend joins the CLOSE-WAIT count and
//! the bar goes, so the Listening column keeps room.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use unicode_width::UnicodeWidthStr;

use super::{NetnsColumn, Theme, bar, block, fit, mark_selected, visible};
use crate::analyze::summary::ProcessSummary;
use crate::model::State;
use crate::output::{escape, listening_labels};
use crate::tui::app::App;

/// CLOSE-WAIT change over the history window: `+12`, `-3`, `0`, or `-` with
/// fewer than two samples.
pub(super) fn close_wait_trend(app: &App, pid: u32) -> String {
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
pub(super) fn state_text(p: &ProcessSummary) -> String {
    p.state.map_or("?".to_string(), |s| s.describe().to_string())
}

/// `███░░░ 52/1024` with the share of RLIMIT_NOFILE in use.
pub(super) fn fd_gauge(p: &ProcessSummary) -> String {
    match (p.fds, p.fd_limit.and_then(|l| l.value())) {
        (Some(n), Some(limit)) if limit > 0 => format!("{} {n}/{limit}", bar(f64::from(n) / limit as f64, 4)),
        (Some(n), _) => format!("{n}/unlimited"),
        (None, _) => "? (not root)".to_string(),
    }
}

/// Terminals at least this wide get the fd bar and a separate Trend column.
const WIDE: usize = 100;

/// `54/1024` (narrow terminals: the number without the bar).
fn fd_text(p: &ProcessSummary, wide: bool) -> String {
    match (wide, p.fds, p.fd_limit.and_then(|l| l.value())) {
        (false, Some(n), Some(limit)) => format!("{n}/{limit}"),
        (false, None, _) => "?".to_string(),
        _ => fd_gauge(p),
    }
}

/// A process's cells, before widths are known.
struct Cells {
    pid: String,
    comm: String,
    sockets: String,
    estab: String,
    close_wait: (String, bool),
    /// The run state letter, and whether it cannot run (T, t, D, Z).
    state: (String, bool),
    trend: String,
    fds: String,
    listening: Vec<String>,
}

fn cells(app: &App, p: &ProcessSummary, wide: bool) -> Cells {
    let cw = p.close_wait();
    let trend = close_wait_trend(app, p.pid);
    let close_wait = match (wide, trend.as_str()) {
        (true, _) | (false, "-" | "0") => cw.to_string(),
        (false, t) => format!("{cw} {t}"),
    };
    Cells {
        pid: p.pid.to_string(),
        comm: escape::text(&p.comm).into_owned(),
        sockets: p.states.total().to_string(),
        estab: p.states.get(State::Established).to_string(),
        close_wait: (close_wait, cw > 0),
        state: match p.state {
            Some(s) => (escape::text(&s.letter().to_string()).into_owned(), s.cannot_run()),
            None => ("?".to_string(), false),
        },
        trend,
        fds: fd_text(p, wide),
        listening: listening_labels(&p.listening),
    }
}

fn measure<'a>(header: &str, cells: impl Iterator<Item = &'a String>) -> usize {
    cells.map(|c| c.width()).chain([header.width()]).max().unwrap_or(0)
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let rows = app.process_rows();
    let cursor = app.cursor();
    let wide = usize::from(area.width.saturating_sub(2)) >= WIDE;
    let shown = visible(rows.len(), cursor.offset, usize::from(area.height.saturating_sub(3)));
    let all: Vec<(usize, Cells)> = shown.map(|i| (i, cells(app, &data.processes[rows[i]], wide))).collect();
    let lives_in =
        |i: &usize| data.snapshot.processes.get(&data.processes[rows[*i]].pid).and_then(|p| p.netns);
    let netns = NetnsColumn::new(app, all.iter().map(|(i, _)| lives_in(i).unwrap_or(0)));
    let inner = usize::from(area.width.saturating_sub(2)).saturating_sub(NetnsColumn::room(&netns));
    let sockets = if wide { "Sockets" } else { "Socks" };
    let headers =
        ["PID", "Command", "S", sockets, "ESTAB", "CLOSE-WAIT", "Trend", "FDs / limit", "Listening"];
    let pid_w = measure(headers[0], all.iter().map(|(_, c)| &c.pid));
    let comm_w = measure(headers[1], all.iter().map(|(_, c)| &c.comm)).min(if wide { 15 } else { 12 });
    let sockets_w = measure(headers[3], all.iter().map(|(_, c)| &c.sockets));
    let estab_w = measure(headers[4], all.iter().map(|(_, c)| &c.estab));
    let cw_w = measure(headers[5], all.iter().map(|(_, c)| &c.close_wait.0));
    let trend_w = if wide { 5 } else { 0 };
    let fds_w = measure(headers[7], all.iter().map(|(_, c)| &c.fds));
    let columns = if wide { 9 } else { 8 };
    let used = pid_w + comm_w + 1 + sockets_w + estab_w + cw_w + trend_w + fds_w + columns - 1;
    let listening_w = inner.saturating_sub(used);
    let body: Vec<Row> = all
        .into_iter()
        .enumerate()
        .map(|(j, (i, c))| {
            let cw_style = if c.close_wait.1 { theme.warning() } else { ratatui::style::Style::default() };
            let state_style = if c.state.1 { theme.critical() } else { ratatui::style::Style::default() };
            let mut cells = vec![
                Cell::from(c.pid),
                Cell::from(fit::end(&c.comm, comm_w)),
                Cell::from(Span::styled(c.state.0, state_style)),
                Cell::from(c.sockets),
                Cell::from(c.estab),
                Cell::from(Span::styled(c.close_wait.0, cw_style)),
            ];
            if wide {
                cells.push(Cell::from(c.trend));
            }
            cells.push(Cell::from(c.fds));
            cells.push(Cell::from(fit::list(&c.listening, " ", listening_w, fit::end)));
            mark_selected(Row::new(NetnsColumn::prepend(&netns, j, cells)), i == cursor.selected, theme)
        })
        .collect();
    let mut header: Vec<&str> = headers.to_vec();
    let mut widths = vec![pid_w, comm_w, 1, sockets_w, estab_w, cw_w, trend_w, fds_w, listening_w];
    if !wide {
        header.remove(6);
        widths.remove(6);
    }
    let widths = NetnsColumn::widths(&netns, &widths);
    let title = format!(
        " Processes ({}){} sorted by {} — s: sort, /: filter, Enter: details ",
        rows.len(),
        super::overview::netns_title(app),
        app.process_sort.label()
    );
    let header = Row::new(NetnsColumn::headers(&netns, &header)).style(theme.heading());
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}
