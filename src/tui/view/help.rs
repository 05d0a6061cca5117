//! The `?` overlay: every key, whole on an 80x24 terminal, scrollable on
//! smaller ones.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::{Theme, block, clear};

pub(crate) const KEYS: &[(&str, &str)] = &[
    ("1-5, Tab, Shift-Tab", "switch screen"),
    ("j k, Up Down", "move; in details: scroll them"),
    ("PgUp PgDn, Home End", "page, first, last"),
    ("Enter", "details; again: go to the owning process"),
    ("Esc", "close details, clear the filter"),
    ("/", "filter (address, port, state, process); Enter keeps it"),
    ("s", "cycle the sort column"),
    ("g", "group connections by state, process, remote, namespace"),
    ("n", "one namespace at a time, worst first (--all-netns)"),
    ("p, Space", "pause / resume refreshing"),
    ("?", "this help (j/k scroll it)"),
    ("q, Ctrl-C", "quit"),
];

/// The help text: every key, then what the marks mean.
pub(crate) fn lines(theme: Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = KEYS.iter().map(|(k, what)| Line::from(format!("{k:<20} {what}"))).collect();
    lines.push(Line::from(""));
    lines.push(Line::styled(
        "FULL: accept queue > backlog (the kernel drops new connections)",
        theme.critical(),
    ));
    lines.push(Line::styled("NEAR: accept queue at or above the near-full threshold", theme.warning()));
    lines
}

/// Draws the help box as wide as its longest line (within the screen) and
/// as tall as its text, scrolled by `scroll` lines when the screen is shorter.
pub(crate) fn draw(frame: &mut Frame, body: Rect, scroll: usize, theme: Theme) {
    let lines = lines(theme);
    let text_w = lines.iter().map(Line::width).max().unwrap_or(0) as u16;
    let width = (text_w + 2).min(body.width);
    let height = (lines.len() as u16 + 2).min(body.height);
    let area =
        Rect { x: body.x + (body.width - width) / 2, y: body.y + (body.height - height) / 2, width, height };
    let shown = usize::from(height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(shown));
    let title = match lines.len() > shown {
        true => format!(
            " Keys {}-{} of {} — j/k: scroll, ? or Esc: close ",
            scroll + 1,
            scroll + shown,
            lines.len()
        ),
        false => " Keys — ? or Esc: close ".to_string(),
    };
    clear(frame, area);
    let paragraph = Paragraph::new(lines).scroll((scroll as u16, 0)).block(block(title));
    frame.render_widget(paragraph, area);
}
