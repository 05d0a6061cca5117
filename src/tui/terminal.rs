//! Entering and always leaving the terminal's raw, alternate-screen mode.
//!
//! Every way out restores it: a normal quit and any error (the guard's
//! `Drop`), a panic on any thread (the panic hook), and SIGTERM, SIGHUP or
//! SIGINT, which the binary turns into an ordinary quit message.

use std::cell::Cell;
use std::io::{self, Stdout};
use std::sync::{Mutex, PoisonError};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Restores the terminal when dropped.
pub(super) struct TerminalGuard;

impl TerminalGuard {
    pub(super) fn enter() -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
        install_panic_hook();
        enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(io::stdout(), EnterAlternateScreen, Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok((guard, terminal))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen; safe to call more than once.
pub(super) fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

/// Held while a frame is written, so a panic on another thread cannot
/// restore the terminal in the middle of a frame (whose rest would then land
/// on the normal screen).
static SCREEN: Mutex<()> = Mutex::new(());

thread_local! {
    static DRAWING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `draw` holding the screen.
pub(super) fn with_screen<T>(draw: impl FnOnce() -> T) -> T {
    let _screen = SCREEN.lock().unwrap_or_else(PoisonError::into_inner);
    DRAWING.with(|d| d.set(true));
    let result = draw();
    DRAWING.with(|d| d.set(false));
    result
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !DRAWING.with(Cell::get) {
            // Wait for a frame in progress, and let no other start.
            std::mem::forget(SCREEN.lock().unwrap_or_else(PoisonError::into_inner));
        }
        restore();
        previous(info);
        std::process::exit(101);
    }));
}
