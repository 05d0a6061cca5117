//! Screen 3: every socket, virtualised (only visible rows are built), with
//! sorting, filtering and a group-by view of counts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};

use super::{Theme, bar, block, mark_selected, visible};
use crate::output::escape::endpoint_text;
use crate::output::owners_text;
use crate::tui::app::App;
use crate::tui::rows::GroupBy;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    match app.group {
        GroupBy::None => draw_sockets(frame, area, app, theme),
        _ => draw_groups(frame, area, app, theme),
    }
}

fn draw_sockets(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let rows = &app.connection_rows;
    let cursor = app.cursor();
    let height = area.height.saturating_sub(3) as usize;
    let body: Vec<Row> = visible(rows.len(), cursor.offset, height)
        .map(|i| {
            let s = &data.snapshot.sockets[rows[i]];
            let row = Row::new(vec![
                s.proto.netid().to_string(),
                s.state.ss_name().to_string(),
                s.recv_q.to_string(),
                s.send_q.to_string(),
                endpoint_text(&s.local),
                match s.unix_peer {
                    Some(peer) => format!("* {peer}"),
                    None => endpoint_text(&s.remote),
                },
                owners_text(&data.snapshot, s.inode),
            ]);
            mark_selected(row, i == cursor.selected, theme)
        })
        .collect();
    let header =
        Row::new(["Proto", "State", "Recv-Q", "Send-Q", "Local", "Remote", "Process"]).style(theme.heading());
    let widths = [
        Constraint::Length(5),
        Constraint::Length(10),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Min(15),
        Constraint::Min(15),
        Constraint::Min(10),
    ];
    let title = format!(
        " Connections ({} of {}) sorted by {} — s: sort, /: filter, g: group, Enter: details ",
        rows.len(),
        data.snapshot.sockets.len(),
        app.connection_sort.label()
    );
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}

fn draw_groups(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let total: u32 = app.groups.iter().map(|g| g.1).sum();
    let cursor = app.cursor();
    let height = area.height.saturating_sub(3) as usize;
    let body: Vec<Row> = visible(app.groups.len(), cursor.offset, height)
        .map(|i| {
            let (label, count) = &app.groups[i];
            let share = f64::from(*count) / f64::from(total.max(1));
            let row = Row::new(vec![
                crate::output::escape::text(label).into_owned(),
                count.to_string(),
                format!("{} {:.1}%", bar(share, 12), share * 100.0),
            ]);
            mark_selected(row, i == cursor.selected, theme)
        })
        .collect();
    let header = Row::new(["Group", "Sockets", "Share"]).style(theme.heading());
    let widths = [Constraint::Min(20), Constraint::Length(8), Constraint::Length(20)];
    let title =
        format!(" Connections by {} ({} groups) — g: next grouping ", app.group.label(), app.groups.len());
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}
