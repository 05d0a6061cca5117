//! Screen 2: TCP and UNIX listeners, full queues first: the accept queue
//! (`queued/backlog`, with a bar on wide terminals) and its `FULL`/`NEAR`
//! mark, SYN-RECV, drops and drops per second, the owners.
//!
//! Columns are measured on the visible rows, so at 80x24 the numbers that
//! matter are whole; only the address and owners give way, shortened with
//! an ellipsis ([`super::fit`]) rather than cut.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};
use unicode_width::UnicodeWidthStr;

use super::{NetnsColumn, Theme, bar, block, fit, mark_selected, visible};
use crate::analyze::Listener;
use crate::analyze::history::ListenerId;
use crate::model::Proto;
use crate::output::escape::endpoint_text;
use crate::tui::app::App;

/// Terminals at least this wide get the queue bar and long headers.
const WIDE: usize = 100;
/// The owners column never gets narrower than `name…(pid)`.
const OWNERS_MIN: usize = 14;

/// One listener's cells, before widths are known.
struct Cells {
    proto: &'static str,
    local: String,
    queue: String,
    mark: (&'static str, Style),
    syn_recv: String,
    drops: String,
    inode: u64,
    netns: u64,
}

fn cells(app: &App, l: &Listener, wide: bool, theme: Theme) -> Cells {
    let id = ListenerId::new(l.proto, &l.local, l.inode);
    let fraction = match l.backlog {
        0 => f64::from(l.accept_queue.min(1)),
        b => f64::from(l.accept_queue) / f64::from(b),
    };
    let queue = match wide {
        true => format!("{} {}/{}", bar(fraction, 4), l.accept_queue, l.backlog),
        false => format!("{}/{}", l.accept_queue, l.backlog),
    };
    let mark = match (l.full, l.near_full) {
        (true, _) => ("FULL", theme.critical()),
        (false, true) => ("NEAR", theme.warning()),
        _ => ("", Style::default()),
    };
    let drops = match (l.drops, app.history.listener_drop_rate(&id)) {
        (Some(d), Some(r)) if r >= 0.05 => format!("{d} +{r:.1}/s"),
        (Some(d), Some(r)) if r > 0.0 => format!("{d} +<0.1/s"),
        (Some(d), _) => d.to_string(),
        (None, _) => "-".to_string(),
    };
    let syn_recv = match l.proto {
        Proto::Tcp => l.syn_recv.to_string(),
        _ => "-".to_string(),
    };
    Cells {
        proto: l.proto.netid(),
        local: endpoint_text(&l.local),
        queue,
        mark,
        syn_recv,
        drops,
        inode: l.inode,
        netns: l.netns,
    }
}

/// The widest of a header and a column's cells.
fn measure<'a>(header: &str, cells: impl Iterator<Item = &'a String>) -> usize {
    cells.map(|c| c.width()).chain([header.width()]).max().unwrap_or(0)
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(data) = &app.data else { return };
    let rows = app.listener_rows();
    let cursor = app.cursor();
    let wide = usize::from(area.width.saturating_sub(2)) >= WIDE;
    let shown = visible(rows.len(), cursor.offset, usize::from(area.height.saturating_sub(3)));
    let all: Vec<(usize, Cells)> =
        shown.map(|i| (i, cells(app, &data.analysis.listeners[rows[i]], wide, theme))).collect();
    let netns = NetnsColumn::new(app, all.iter().map(|(_, c)| c.netns));
    let inner = usize::from(area.width.saturating_sub(2)).saturating_sub(NetnsColumn::room(&netns));
    let headers = match wide {
        true => ["Proto", "Local", "Accept-Q", "", "SYN-RECV", "Drops, /s", "Owners"],
        false => ["Proto", "Local", "Queue", "", "SYN", "Drops", "Owners"],
    };
    let queue_w = measure(headers[2], all.iter().map(|(_, c)| &c.queue));
    let syn_w = measure(headers[4], all.iter().map(|(_, c)| &c.syn_recv));
    let drops_w = measure(headers[5], all.iter().map(|(_, c)| &c.drops));
    let fixed = 5 + queue_w + 4 + syn_w + drops_w + 6;
    let local_max = if wide { 40 } else { 24 };
    let local_room = inner.saturating_sub(fixed + OWNERS_MIN).clamp(5, local_max);
    let local_w = measure(headers[1], all.iter().map(|(_, c)| &c.local)).min(local_room);
    let owners_w = inner.saturating_sub(fixed + local_w);
    let body: Vec<Row> = all
        .into_iter()
        .enumerate()
        .map(|(j, (i, c))| {
            let cells = vec![
                Cell::from(c.proto),
                Cell::from(fit::endpoint(&c.local, local_w)),
                Cell::from(c.queue),
                Cell::from(Span::styled(c.mark.0, c.mark.1)),
                Cell::from(c.syn_recv),
                Cell::from(c.drops),
                Cell::from(fit::owners(&data.snapshot, c.inode, owners_w)),
            ];
            mark_selected(Row::new(NetnsColumn::prepend(&netns, j, cells)), i == cursor.selected, theme)
        })
        .collect();
    let widths = NetnsColumn::widths(&netns, &[5, local_w, queue_w, 4, syn_w, drops_w, owners_w]);
    let title = format!(
        " Listeners ({}){} sorted by {} — s: sort, /: filter, Enter: details ",
        rows.len(),
        super::overview::netns_title(app),
        app.listener_sort.label()
    );
    let header = Row::new(NetnsColumn::headers(&netns, &headers)).style(theme.heading());
    frame.render_widget(Table::new(body, widths).header(header).block(block(title)), area);
}
