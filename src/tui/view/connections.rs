//! Screen 3: every socket, virtualised (only visible rows are built), with
//! sorting, filtering and a group-by view of counts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};

use unicode_width::UnicodeWidthStr;

use super::{NetnsColumn, Theme, bar, block, fit, mark_selected, visible};
use crate::output::escape::endpoint_text;
use crate::tui::app::App;
use crate::tui::rows::GroupBy;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
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
    let shown: Vec<(usize, &crate::model::Socket)> =
        visible(rows.len(), cursor.offset, height).map(|i| (i, &data.snapshot.sockets[rows[i]])).collect();
    let texts: Vec<[String; 4]> = shown
        .iter()
        .map(|(_, s)| {
            let remote = match s.unix_peer() {
                Some(peer) => format!("* {peer}"),
                None => endpoint_text(&s.remote),
            };
            [s.recv_q.to_string(), s.send_q.to_string(), endpoint_text(&s.local), remote]
        })
        .collect();
    let headers = ["Proto", "State", "Recv-Q", "Send-Q", "Local", "Remote", "Process"];
    let w = |col: usize| {
        texts.iter().map(|t| t[col].width()).chain([headers[col + 2].width()]).max().unwrap_or(0)
    };
    let (recv_w, send_w) = (w(0), w(1));
    let netns = NetnsColumn::new(app, shown.iter().map(|(i, _)| data.snapshot.netns_at(rows[*i])));
    let inner = usize::from(area.width.saturating_sub(2)).saturating_sub(NetnsColumn::room(&netns));
    let fixed = 5 + 10 + recv_w + send_w + 6;
    let room = inner.saturating_sub(fixed + PROCESS_MIN);
    let (local_w, remote_w) = share(w(2), w(3), room);
    let process_w = inner.saturating_sub(fixed + local_w + remote_w);
    let body: Vec<Row> = shown
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(j, ((i, s), [recv, send, local, remote]))| {
            let cells: Vec<Cell> = [
                s.proto.netid().to_string(),
                s.state.ss_name().to_string(),
                recv,
                send,
                fit::endpoint(&local, local_w),
                fit::endpoint(&remote, remote_w),
                fit::owners(&data.snapshot, s.inode, process_w),
            ]
            .into_iter()
            .map(Cell::from)
            .collect();
            mark_selected(Row::new(NetnsColumn::prepend(&netns, j, cells)), *i == cursor.selected, theme)
        })
        .collect();
    let header = Row::new(NetnsColumn::headers(&netns, &headers)).style(theme.heading());
    let widths = NetnsColumn::widths(&netns, &[5, 10, recv_w, send_w, local_w, remote_w, process_w]);
    let keys = if inner >= 98 { "s: sort, /: filter, g: group, Enter: details" } else { "s, /, g, Enter" };
    let title = format!(
        " Connections ({} of {}){} sorted by {} — {keys} ",
        rows.len(),
        data.snapshot.sockets.len(),
        super::overview::netns_title(app),
        app.connection_sort.label()
    );
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}

/// The owners column never gets narrower than `name…(pid)`.
const PROCESS_MIN: usize = 14;

/// Widths for two address columns wanting `a` and `b` within `room`: each
/// keeps what it needs when both fit, else they share the room.
fn share(a: usize, b: usize, room: usize) -> (usize, usize) {
    if a + b <= room {
        return (a, b);
    }
    let half = room / 2;
    match (a <= half, b <= half) {
        (true, _) => (a, room - a),
        (_, true) => (room - b, b),
        _ => (half, room - half),
    }
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
    let title = format!(
        " Connections by {} ({} group{}) — g: next grouping ",
        app.group.label(),
        app.groups.len(),
        crate::output::wording::plural(app.groups.len() as u64)
    );
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}
