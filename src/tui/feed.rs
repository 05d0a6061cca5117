//! The collector thread: a snapshot every interval, sent boxed to the UI,
//! which never waits for a collection. Pausing stops collecting; asking for
//! tcp_info (a detail pane is open) changes the next dump. The interval
//! stretches to at least five times what a refresh cost (the collection
//! here, plus the UI's work on it, which the UI reports back), so the
//! dashboard stays under ~20 % of one core at any scale ([`pace`]).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use rustix::time::{ClockId, clock_gettime};

use super::app::Update;
use crate::model::Source;
use crate::model::pace::{self, Pace};

/// What the UI tells the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Control {
    Pause(bool),
    TcpInfo(bool),
    /// The UI spent this long taking in the last snapshot.
    Applied(Duration),
}

/// What the collector sends.
pub(super) enum Fed {
    Update(Update),
    Failed(String),
}

/// Debug builds only: `SOCKSCOPE_TEST_PANIC=1` panics this thread after the
/// first snapshot, so a test can prove the panic hook restores the terminal.
fn inject_test_panic() {
    if cfg!(debug_assertions) && std::env::var_os("SOCKSCOPE_TEST_PANIC").is_some() {
        panic!("SOCKSCOPE_TEST_PANIC: injected collector panic");
    }
}

fn process_cpu() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Starts the thread; it ends when the returned sender is dropped.
pub(super) fn spawn<M: Send + 'static>(
    source: Box<dyn Source>,
    interval: Duration,
    tx: Sender<M>,
    wrap: fn(Fed) -> M,
) -> Sender<Control> {
    let (control_tx, control_rx) = channel();
    std::thread::spawn(move || run(source, interval, &tx, wrap, &control_rx));
    control_tx
}

fn run<M>(
    mut source: Box<dyn Source>,
    interval: Duration,
    tx: &Sender<M>,
    wrap: fn(Fed) -> M,
    control: &Receiver<Control>,
) {
    let mut paused = false;
    let mut pace = Pace::new(interval);
    loop {
        let started = Instant::now();
        if !paused {
            let cpu = process_cpu();
            let result = source.snapshot();
            let cpu = process_cpu().saturating_sub(cpu);
            pace = pace.after(pace::cost(started.elapsed(), cpu));
            let fed = match result {
                Ok(snapshot) => Fed::Update(Update {
                    snapshot: Box::new(snapshot),
                    tick_cpu: Some(cpu),
                    pace: Some(pace),
                }),
                Err(e) => Fed::Failed(crate::output::error_chain(e.as_ref())),
            };
            if tx.send(wrap(fed)).is_err() {
                return;
            }
            inject_test_panic();
        }
        loop {
            let wait = pace.effective.saturating_sub(started.elapsed());
            match control.recv_timeout(if paused { Duration::from_secs(3600) } else { wait }) {
                Ok(Control::Pause(p)) => {
                    paused = p;
                    if !paused {
                        break;
                    }
                }
                Ok(Control::TcpInfo(on)) => source.set_tcp_info(on),
                Ok(Control::Applied(ui)) => pace = pace.after(pace.cost + ui),
                Err(RecvTimeoutError::Timeout) if !paused => break,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Replay, Snapshot, SourceError};

    #[test]
    fn the_feed_sends_each_scripted_snapshot_then_the_failure() {
        let (first, mut second) = (Snapshot::empty(), Snapshot::empty());
        second.host.hostname = "second".into();
        let source = Box::new(Replay::new([first, second]).then_fail("namespace gone"));
        let (tx, rx) = channel();
        let control = spawn(source, Duration::ZERO, tx, |fed| fed);
        let mut got = Vec::new();
        for fed in rx.iter().take(3) {
            got.push(match fed {
                Fed::Update(u) => u.snapshot.host.hostname.clone(),
                Fed::Failed(e) => format!("failed: {e}"),
            });
        }
        drop(control);
        assert_eq!(got, ["", "second", "failed: namespace gone"]);
    }

    /// A source whose every collection takes `cost` (a stand-in for a host
    /// with a million sockets), recording when it was called.
    struct Slow {
        cost: Duration,
        calls: std::sync::Arc<std::sync::Mutex<Vec<Instant>>>,
    }

    impl Source for Slow {
        fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(Instant::now());
            }
            std::thread::sleep(self.cost);
            Ok(Snapshot::empty())
        }
    }

    #[test]
    fn expensive_collections_are_spaced_five_times_their_cost() {
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let source = Box::new(Slow { cost: Duration::from_millis(40), calls: calls.clone() });
        let (tx, rx) = channel();
        let control = spawn(source, Duration::from_millis(10), tx, |fed| fed);
        let mut paces = Vec::new();
        while paces.len() < 3 {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(Fed::Update(u)) => paces.push(u.pace.unwrap()),
                Ok(Fed::Failed(e)) => panic!("{e}"),
                Err(e) => panic!("no update: {e}"),
            }
        }
        drop(control);
        assert!(
            paces.iter().all(|p| p.is_stretched() && p.effective >= Duration::from_millis(200)),
            "{paces:?}"
        );
        let calls = calls.lock().unwrap().clone();
        for pair in calls.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::from_millis(200),
                "collections {:?} apart",
                pair[1] - pair[0]
            );
        }
    }
}
