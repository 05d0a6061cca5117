//! The interactive dashboard (`sockscope`, `sockscope tui`).
//!
//! Threads: a collector takes a snapshot from its [`Source`] every interval
//! and sends it boxed; an input thread forwards terminal events; a third
//! forwards the binary's stop requests (SIGTERM, SIGHUP, SIGINT). The UI thread owns all state ([`app::App`]),
//! blocks on one channel, applies messages, and redraws — so keys stay
//! responsive while a slow collection runs.

pub(crate) mod app;
mod feed;
pub(crate) mod keys;
pub(crate) mod rows;
mod terminal;
pub(crate) mod view;

use std::io::Write;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};

use self::app::{App, Detail};
use self::feed::{Control, Fed};
use crate::analyze::Thresholds;
use crate::model::Source;

/// What the dashboard was asked to do.
pub struct Settings {
    pub thresholds: Thresholds,
    pub interval: Duration,
    pub color: bool,
    /// Write per-tick and per-frame timings here on exit (benchmarks).
    pub stats: Option<std::path::PathBuf>,
}

enum Msg {
    Input(Event),
    Fed(Fed),
    Signal,
}

/// Runs the dashboard on `source` until the user quits or `stop` says so.
pub fn run(settings: Settings, source: Box<dyn Source>, stop: Receiver<()>) -> std::io::Result<()> {
    let (tx, rx) = channel();
    let stopper = tx.clone();
    std::thread::spawn(move || {
        if stop.recv().is_ok() {
            let _ = stopper.send(Msg::Signal);
        }
    });
    let (guard, mut terminal) = terminal::TerminalGuard::enter()?;
    let input = tx.clone();
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            if input.send(Msg::Input(event)).is_err() {
                return;
            }
        }
    });
    let control = feed::spawn(source, settings.interval, tx, Msg::Fed);
    let mut app = App::new(settings.interval, settings.thresholds.clone(), settings.color);
    let size = terminal.size()?;
    app.resize(size.width, size.height);
    let mut stats = Stats::default();
    event_loop(&mut app, &mut terminal, &rx, &control, &mut stats)?;
    drop(guard);
    if let Some(path) = &settings.stats {
        stats.write(path)?;
    }
    Ok(())
}

fn event_loop(
    app: &mut App,
    terminal: &mut ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>,
    rx: &Receiver<Msg>,
    control: &std::sync::mpsc::Sender<Control>,
    stats: &mut Stats,
) -> std::io::Result<()> {
    let (mut paused, mut tcp_info) = (false, false);
    loop {
        let started = Instant::now();
        terminal::with_screen(|| terminal.draw(|frame| view::draw(frame, app)))?;
        stats.frames.push(started.elapsed());
        let Ok(first) = rx.recv() else { return Ok(()) };
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            if !handle(app, msg, stats, control) {
                return Ok(());
            }
        }
        if app.quit {
            return Ok(());
        }
        if app.paused != paused {
            paused = app.paused;
            let _ = control.send(Control::Pause(paused));
        }
        let wants = matches!(app.detail, Some(Detail::Listener(_)) | Some(Detail::Socket(_)));
        if wants != tcp_info {
            tcp_info = wants;
            let _ = control.send(Control::TcpInfo(wants));
        }
    }
}

/// Applies one message; false means quit. The time a snapshot takes to
/// apply goes back to the collector: it counts in the refresh's cost.
fn handle(app: &mut App, msg: Msg, stats: &mut Stats, control: &std::sync::mpsc::Sender<Control>) -> bool {
    match msg {
        Msg::Input(Event::Key(key)) => keys::handle_key(app, key),
        Msg::Input(Event::Resize(w, h)) => app.resize(w, h),
        Msg::Input(_) => {}
        Msg::Fed(Fed::Update(update)) => {
            stats.ticks.push((update.snapshot.timings.total, update.tick_cpu.unwrap_or_default()));
            let started = Instant::now();
            let pace = update.pace;
            app.apply(update);
            let applied = started.elapsed();
            if let Some(pace) = pace {
                app.pace = pace.after(pace.cost + applied);
            }
            let _ = control.send(Control::Applied(applied));
        }
        Msg::Fed(Fed::Failed(e)) => app.error = Some(e),
        Msg::Signal => return false,
    }
    true
}

/// Timings kept for `--stats`.
#[derive(Default)]
struct Stats {
    /// (collection wall time, process CPU during the collection) per tick.
    ticks: Vec<(Duration, Duration)>,
    frames: Vec<Duration>,
}

impl Stats {
    fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        let doc = serde_json::json!({
            "ticks": self.ticks.iter().map(|(wall, cpu)| serde_json::json!({"wall_ms": ms(wall), "cpu_ms": ms(cpu)})).collect::<Vec<_>>(),
            "frames_ms": self.frames.iter().map(ms).collect::<Vec<_>>(),
        });
        let mut f = std::fs::File::create(path)?;
        writeln!(f, "{doc}")
    }
}

#[cfg(test)]
mod tests;
