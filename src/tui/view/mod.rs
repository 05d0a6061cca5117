//! Drawing: a pure function of [`App`]. Every screen renders only the rows
//! it can show, so a frame costs the same with 100 sockets or 100,000.

mod connections;
mod detail;
pub(crate) mod fit;
pub(crate) mod help;
mod listeners;
mod overview;
mod processes;
mod sysctls;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph};

use super::app::{App, TABS, Tab};
use crate::analyze::Severity;
use crate::output::time;

/// Styles, with colour only when allowed (`NO_COLOR`, `--color`): every
/// colour has a textual or modifier twin so nothing depends on it alone.
#[derive(Clone, Copy)]
pub(crate) struct Theme {
    color: bool,
}

impl Theme {
    pub(crate) fn new(color: bool) -> Theme {
        Theme { color }
    }

    fn fg(self, c: Color) -> Style {
        match self.color {
            true => Style::default().fg(c),
            false => Style::default(),
        }
    }

    pub(crate) fn severity(self, s: Severity) -> Style {
        match s {
            Severity::Critical => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Severity::Warning => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Severity::Info => self.fg(Color::Cyan),
        }
    }

    pub(crate) fn critical(self) -> Style {
        self.severity(Severity::Critical)
    }

    pub(crate) fn warning(self) -> Style {
        self.severity(Severity::Warning)
    }

    pub(crate) fn dim(self) -> Style {
        match self.color {
            true => Style::default().fg(Color::DarkGray),
            false => Style::default(),
        }
    }

    pub(crate) fn heading(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub(crate) fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub(crate) fn accent(self) -> Style {
        self.fg(Color::Cyan)
    }
}

/// The short severity tag shown in front of a finding.
pub(crate) fn severity_tag(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::Warning => "WARN",
        Severity::Info => "INFO",
    }
}

pub(crate) use detail::MAX_LISTED;
pub(crate) use sysctls::row_height as sysctl_row_height;

/// Draws the whole screen.
pub(crate) fn draw(frame: &mut Frame, app: &App) {
    let theme = Theme::new(app.color);
    let [header, body, status] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3), Constraint::Length(1)])
            .areas(frame.area());
    draw_header(frame, header, app, theme);
    draw_status(frame, status, app, theme);
    match &app.data {
        None => draw_waiting(frame, body, app),
        Some(_) => draw_tab(frame, body, app, theme),
    }
    if app.detail.is_some() {
        detail::draw(frame, body, app, theme);
    }
    if app.help {
        help::draw(frame, body, app.help_scroll, theme);
    }
}

fn draw_tab(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    match app.tab {
        Tab::Overview => overview::draw(frame, area, app, theme),
        Tab::Listeners => listeners::draw(frame, area, app, theme),
        Tab::Connections => connections::draw(frame, area, app, theme),
        Tab::Processes => processes::draw(frame, area, app, theme),
        Tab::Sysctls => sysctls::draw(frame, area, app, theme),
    }
}

fn draw_waiting(frame: &mut Frame, area: Rect, app: &App) {
    let text = match &app.error {
        Some(e) => format!("collection failed: {e}"),
        None => "collecting the first snapshot...".to_string(),
    };
    frame.render_widget(Paragraph::new(text), area);
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let narrow = area.width < 100;
    let mut spans = vec![Span::styled(if narrow { "" } else { " sockscope " }, theme.heading())];
    for tab in TABS {
        let title = if narrow { tab.short_title() } else { tab.title() };
        let label = format!(" {} {title} ", tab.index() + 1);
        let style =
            if tab == app.tab { theme.selected().add_modifier(Modifier::BOLD) } else { Style::default() };
        spans.push(Span::styled(label, style));
    }
    if let Some(data) = &app.data {
        for s in [Severity::Critical, Severity::Warning] {
            let n = data.analysis.findings.iter().filter(|f| f.severity == s).count();
            if n > 0 {
                spans.push(Span::styled(format!(" {n} {}", severity_tag(s)), theme.severity(s)));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let mut spans = Vec::new();
    if app.paused {
        spans.push(Span::styled(" PAUSED ", theme.warning().add_modifier(Modifier::REVERSED)));
    }
    if app.editing_filter || !app.filter.is_empty() {
        let cursor = if app.editing_filter { "_" } else { "" };
        spans.push(Span::styled(
            format!(" /{}{cursor} ", crate::output::escape::text(&app.filter)),
            theme.accent(),
        ));
    }
    if let Some(data) = app.data.as_ref().filter(|d| d.snapshot.is_all_netns()) {
        let label = match app.netns {
            Some(n) => format!(" netns {} (n: next) ", crate::output::netns::column(&data.snapshot, n)),
            None => format!(" {} netns (n: one) ", data.snapshot.namespaces.len()),
        };
        spans.push(Span::styled(label, theme.accent()));
    }
    let mut parts = vec![];
    if let Some(data) = &app.data {
        let snap = &data.snapshot;
        for w in &snap.warnings {
            spans.push(Span::styled(format!(" {} ·", short_warning(snap, w)), theme.warning()));
        }
        parts.push(pace_text(app));
        parts.push(format!("{} sockets", snap.sockets.len()));
    } else {
        parts.push(format!("every {}", time::human_duration(app.interval)));
    }
    if let Some(e) = &app.error {
        spans.push(Span::styled(format!(" collection failed: {e} ·"), theme.critical()));
    }
    spans.push(Span::raw(format!(" {} ", parts.join(" · "))));
    // The way out stays visible however much the status has to say.
    const HINT: &str = " ? help  q quit";
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(HINT.len() as u16)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(fit_spans(spans, usize::from(left.width)))), left);
    frame.render_widget(Paragraph::new(Span::styled(HINT, theme.dim())), right);
}

/// `spans` cut to `width` columns with an ellipsis, never mid-word unmarked.
fn fit_spans(spans: Vec<Span<'static>>, width: usize) -> Vec<Span<'static>> {
    use unicode_width::UnicodeWidthStr;
    let mut room = width;
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        let w = span.content.width();
        if w <= room {
            room -= w;
            out.push(span);
            continue;
        }
        let cut = fit::end(span.content.trim_end(), room);
        out.push(Span::styled(cut, span.style));
        break;
    }
    out
}

/// The refresh interval and what the last refresh cost: `every 1s · collect
/// 12 ms`, or `every 1s → 3.2s (collection 640 ms)` when refreshes are so
/// expensive that the interval was stretched to keep under 20 % of a core.
fn pace_text(app: &App) -> String {
    let (pace, collected) = match &app.data {
        Some(d) => (app.pace, d.snapshot.timings.total),
        None => (app.pace, std::time::Duration::ZERO),
    };
    let asked = time::human_duration(app.interval);
    match pace.is_stretched() {
        true => format!(
            "every {asked} → {} (collection {})",
            time::interval_text(pace.effective),
            time::short_duration(pace.cost.max(collected))
        ),
        false => format!("every {asked} · collect {} ms", collected.as_millis()),
    }
}

/// `1 process`, `3 processes`.
fn processes(n: u32) -> String {
    format!("{n} process{}", if n == 1 { "" } else { "es" })
}

/// A warning in a few words, for the one-line status bar.
fn short_warning(snap: &crate::model::Snapshot, w: &crate::model::Warning) -> String {
    use crate::model::WarningKind;
    match w.kind {
        WarningKind::ProcessesUnreadable => match snap.host.euid != 0 {
            true => format!("not root: owners of {} hidden", processes(snap.scan.unreadable)),
            false => format!("owners of {} unreadable", processes(snap.scan.unreadable)),
        },
        WarningKind::DecodeErrors => "some netlink messages undecodable".to_string(),
        WarningKind::DumpInterrupted => "dump interrupted".to_string(),
        WarningKind::ProtocolUnavailable => first_clause(&w.message),
        WarningKind::HostFactsIncomplete => first_clause(&w.message),
        WarningKind::NetnsUnavailable => first_clause(&w.message),
        WarningKind::NetnsChanged => "namespace re-created: following the new one".to_string(),
        WarningKind::ResourceExhausted => {
            format!("out of fds: owners of {} unread", processes(snap.scan.exhausted))
        }
    }
}

/// The first clause of a message.
fn first_clause(message: &str) -> String {
    message.split([';', ',']).next().unwrap_or(message).trim().to_string()
}

/// A bordered block with a title.
pub(crate) fn block(title: impl Into<Line<'static>>) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(title)
}

/// A centred rectangle `percent_x` wide and `percent_y` tall within `area`.
pub(crate) fn centered(area: Rect, percent_x: u16, percent_y: u16) -> Rect {
    let w = area.width * percent_x / 100;
    let h = area.height * percent_y / 100;
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

/// Clears an overlay area before drawing into it.
pub(crate) fn clear(frame: &mut Frame, area: Rect) {
    frame.render_widget(Clear, area);
}

/// A fill bar of `width` cells: `█` for the filled share (capped at full).
pub(crate) fn bar(fraction: f64, width: usize) -> String {
    let filled = ((fraction.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// Highlights `item` when it is the selected row.
pub(crate) fn mark_selected<T: ratatui::style::Styled<Item = T>>(item: T, selected: bool, theme: Theme) -> T {
    match selected {
        true => item.set_style(theme.selected()),
        false => item,
    }
}

/// The NETNS column of an all-namespace snapshot for the visible rows:
/// each row's namespace name (escaped) and the column's width, at most
/// [`NETNS_MAX`] (longer names end in an ellipsis). `None` for a
/// single-namespace snapshot, whose screens stay as they are.
pub(crate) struct NetnsColumn {
    names: Vec<String>,
    pub width: usize,
}

/// The widest a NETNS column gets (a pod name shortened, a container id whole).
pub(crate) const NETNS_MAX: usize = 16;

impl NetnsColumn {
    pub(crate) fn new(app: &App, inodes: impl Iterator<Item = u64>) -> Option<NetnsColumn> {
        let data = app.data.as_ref().filter(|d| d.snapshot.is_all_netns())?;
        let names: Vec<String> = inodes.map(|n| crate::output::netns::column(&data.snapshot, n)).collect();
        let widest =
            names.iter().map(|n| unicode_width::UnicodeWidthStr::width(n.as_str())).max().unwrap_or(0);
        Some(NetnsColumn { names, width: widest.clamp(5, NETNS_MAX) })
    }

    /// Columns it takes, with the gap after it.
    pub(crate) fn room(column: &Option<NetnsColumn>) -> usize {
        column.as_ref().map_or(0, |c| c.width + 1)
    }

    /// Puts the NETNS cell of visible row `i` in front of `row`.
    pub(crate) fn prepend<'a>(column: &Option<NetnsColumn>, i: usize, row: Vec<Cell<'a>>) -> Vec<Cell<'a>> {
        let Some(c) = column else { return row };
        let name = c.names.get(i).map_or(String::new(), |n| fit::end(n, c.width));
        std::iter::once(Cell::from(name)).chain(row).collect()
    }

    /// The headers, behind NETNS when there is the column.
    pub(crate) fn headers<'a>(column: &Option<NetnsColumn>, headers: &[&'a str]) -> Vec<&'a str> {
        column.as_ref().map(|_| "NETNS").into_iter().chain(headers.iter().copied()).collect()
    }

    /// The widths, behind the column's.
    pub(crate) fn widths(column: &Option<NetnsColumn>, widths: &[usize]) -> Vec<Constraint> {
        let own = column.as_ref().map(|c| c.width);
        own.into_iter().chain(widths.iter().copied()).map(|w| Constraint::Length(w as u16)).collect()
    }
}

/// Rows `offset..offset + height` of a table with `len` rows.
pub(crate) fn visible(len: usize, offset: usize, height: usize) -> std::ops::Range<usize> {
    let start = offset.min(len);
    start..(start + height).min(len)
}
