//! The `?` overlay: every key.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::{Theme, block, centered, clear};

pub const KEYS: &[(&str, &str)] = &[
    ("1-5, Tab, Shift-Tab", "switch screen"),
    ("j k, Up Down", "move"),
    ("PgUp PgDn, Home End", "page, first, last"),
    ("Enter", "details; again: go to the owning process"),
    ("Esc", "close details, clear the filter"),
    ("/", "filter (address, port, state, process); Enter keeps it"),
    ("s", "cycle the sort column"),
    ("g", "group connections by state, process, remote"),
    ("p, Space", "pause / resume refreshing"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
];

pub fn draw(frame: &mut Frame, body: Rect, theme: Theme) {
    let area = centered(body, 80, 80);
    clear(frame, area);
    let mut lines: Vec<Line> = KEYS.iter().map(|(k, what)| Line::from(format!("{k:<22} {what}"))).collect();
    lines.push(Line::from(""));
    lines.push(Line::styled(
        "FULL: accept queue > backlog (the kernel drops new connections)",
        theme.critical(),
    ));
    lines.push(Line::styled("NEAR: accept queue at or above the near-full threshold", theme.warning()));
    frame.render_widget(Paragraph::new(lines).block(block(" Keys — ? or Esc: close ")), area);
}
