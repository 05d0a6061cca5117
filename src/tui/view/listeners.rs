//! Screen 2: TCP and UNIX listeners, full queues first: the accept queue as
//! a bar with `FULL`/`NEAR` marks, SYN-RECV, drops and drops per second.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use super::{Theme, bar, block, mark_selected, visible};
use crate::analyze::history::ListenerId;
use crate::model::Proto;
use unicode_width::UnicodeWidthStr;

use crate::output::escape::endpoint_text;
use crate::output::owners_text;
use crate::tui::app::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let rows = app.listener_rows();
    let cursor = app.cursor();
    let height = area.height.saturating_sub(3) as usize;
    let shown = visible(rows.len(), cursor.offset, height);
    let local_width = shown
        .clone()
        .map(|i| endpoint_text(&data.analysis.listeners[rows[i]].local).width())
        .max()
        .unwrap_or(5)
        .clamp(5, 40) as u16;
    let body: Vec<Row> = shown
        .map(|i| {
            let l = &data.analysis.listeners[rows[i]];
            let id = ListenerId::new(l.proto, &l.local, l.inode);
            let fraction = match l.backlog {
                0 => f64::from(l.accept_queue.min(1)),
                b => f64::from(l.accept_queue) / f64::from(b),
            };
            let (mark, style) = match (l.full, l.near_full) {
                (true, _) => ("FULL", theme.critical()),
                (false, true) => ("NEAR", theme.warning()),
                _ => ("", ratatui::style::Style::default()),
            };
            let drops = match (l.drops, app.history.listener_drop_rate(&id)) {
                (Some(d), Some(r)) if r > 0.0 => format!("{d} +{r:.1}/s"),
                (Some(d), _) => d.to_string(),
                (None, _) => "-".to_string(),
            };
            let row = Row::new(vec![
                Cell::from(l.proto.netid()),
                Cell::from(endpoint_text(&l.local)),
                Cell::from(format!("{} {}/{}", bar(fraction, 4), l.accept_queue, l.backlog)),
                Cell::from(Span::styled(mark, style)),
                Cell::from(match l.proto {
                    Proto::Tcp => l.syn_recv.to_string(),
                    _ => "-".to_string(),
                }),
                Cell::from(drops),
                Cell::from(owners_text(&data.snapshot, l.inode)),
            ]);
            mark_selected(row, i == cursor.selected, theme)
        })
        .collect();
    let header = Row::new(["Proto", "Local", "Accept-Q", "", "SYN-RECV", "Drops, /s", "Owners"])
        .style(theme.heading());
    let widths = [
        Constraint::Length(5),
        Constraint::Max(local_width),
        Constraint::Length(14),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Fill(1),
    ];
    let title = format!(
        " Listeners ({}) sorted by {} — s: sort, /: filter, Enter: details ",
        rows.len(),
        app.listener_sort.label()
    );
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}
