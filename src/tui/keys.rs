//! Key presses as pure state transitions on [`App`]: testable without a
//! terminal, a clock or a collector.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, TABS, Tab};

/// Applies one key press.
pub(crate) fn handle_key(app: &mut App, key: KeyEvent) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        app.quit = true;
        return;
    }
    if app.editing_filter {
        return edit_filter(app, key.code);
    }
    if app.help {
        return help_key(app, key.code);
    }
    if app.detail.is_some() && detail_key(app, key.code) {
        return;
    }
    match key.code {
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('?') => app.help = true,
        KeyCode::Esc => escape(app),
        KeyCode::Char('p') | KeyCode::Char(' ') => app.paused = !app.paused,
        KeyCode::Tab => switch(app, (app.tab.index() + 1) % TABS.len()),
        KeyCode::BackTab => switch(app, (app.tab.index() + TABS.len() - 1) % TABS.len()),
        KeyCode::Char(c @ '1'..='5') => switch(app, c as usize - '1' as usize),
        KeyCode::Char('j') | KeyCode::Down => step(app, 1),
        KeyCode::Char('k') | KeyCode::Up => step(app, -1),
        KeyCode::PageDown => step(app, app.page_of(app.tab) as isize),
        KeyCode::PageUp => step(app, -(app.page_of(app.tab) as isize)),
        KeyCode::Home => step(app, isize::MIN / 2),
        KeyCode::End => step(app, isize::MAX / 2),
        KeyCode::Char('s') => cycle_sort(app),
        KeyCode::Char('g') if app.tab == Tab::Connections => {
            app.group = app.group.next();
            app.cursor_mut().selected = 0;
            app.refresh_rows();
        }
        KeyCode::Char('/') => app.editing_filter = true,
        KeyCode::Char('n') => app.cycle_netns(),
        KeyCode::Enter => app.open_detail(),
        _ => {}
    }
}

/// Keys while the help box is open: scroll it, or close it.
fn help_key(app: &mut App, code: KeyCode) {
    match code {
        KeyCode::Char('?') | KeyCode::Esc => {
            app.help = false;
            app.help_scroll = 0;
        }
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('j') | KeyCode::Down => app.help_scroll += 1,
        KeyCode::Char('k') | KeyCode::Up => app.help_scroll = app.help_scroll.saturating_sub(1),
        KeyCode::PageDown => app.help_scroll += app.page,
        KeyCode::PageUp => app.help_scroll = app.help_scroll.saturating_sub(app.page),
        KeyCode::Home => app.help_scroll = 0,
        _ => {}
    }
}

/// Moving keys while a detail pane is open scroll it; false for any other
/// key.
fn detail_key(app: &mut App, code: KeyCode) -> bool {
    let page = app.page.max(1) as isize;
    let delta = match code {
        KeyCode::Char('j') | KeyCode::Down => 1,
        KeyCode::Char('k') | KeyCode::Up => -1,
        KeyCode::PageDown => page,
        KeyCode::PageUp => -page,
        KeyCode::Home => isize::MIN / 2,
        KeyCode::End => isize::MAX / 2,
        _ => return false,
    };
    let last = app.detail_scroll_max.get();
    app.detail_scroll = app.detail_scroll.min(last).saturating_add_signed(delta).min(last);
    true
}

fn edit_filter(app: &mut App, code: KeyCode) {
    match code {
        KeyCode::Enter => app.editing_filter = false,
        KeyCode::Esc => {
            app.editing_filter = false;
            app.filter.clear();
        }
        KeyCode::Backspace => {
            app.filter.pop();
        }
        KeyCode::Char(c) if !c.is_control() => app.filter.push(c),
        _ => return,
    }
    app.cursor_mut().selected = 0;
    app.refresh_rows();
}

/// Esc closes the innermost thing open: detail pane, the filter, then the
/// namespace choice.
fn escape(app: &mut App) {
    if app.detail.take().is_some() {
        return;
    }
    if !app.filter.is_empty() {
        app.filter.clear();
        app.refresh_rows();
    } else if app.netns.take().is_some() {
        app.refresh_rows();
    }
}

fn switch(app: &mut App, index: usize) {
    app.tab = TABS[index];
    app.detail = None;
    app.refresh_rows();
}

fn step(app: &mut App, delta: isize) {
    let len = app.row_count(app.tab);
    let page = app.page_of(app.tab);
    app.cursor_mut().step(delta, len, page);
}

fn cycle_sort(app: &mut App) {
    match app.tab {
        Tab::Listeners => app.listener_sort = app.listener_sort.next(),
        Tab::Connections => app.connection_sort = app.connection_sort.next(),
        Tab::Processes => app.process_sort = app.process_sort.next(),
        _ => return,
    }
    app.refresh_rows();
}
