//! One collection at a time, shared by every scrape that arrives while it
//! runs.
//!
//! Each scrape gets a collection that was in flight or started after it
//! arrived, never an old cached one; a burst of scrapes (several Prometheus
//! servers, a dashboard, a curl) costs one collection instead of one each.
//! Collections run on one long-lived thread, which owns the snapshot
//! producer (its netlink socket and owner cache) and keeps its allocations
//! in one place.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::families::Exposition;

#[derive(Default)]
struct State {
    /// Collections asked for, and finished; equal when idle.
    requested: u64,
    completed: u64,
    latest: Option<Arc<Exposition>>,
    waiting: usize,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the collector thread: a collection was asked for, or stop.
    wake: Condvar,
    /// Wakes scrapes: a collection finished.
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs collections on demand on its own thread.
pub(super) struct Scraper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Scraper {
    /// Starts the collector thread; `collect` runs once per collection.
    pub(super) fn start(collect: impl FnMut() -> Exposition + Send + 'static) -> std::io::Result<Scraper> {
        let shared = Arc::new(Shared::default());
        let inside = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("sockscope-collect".into())
            .spawn(move || collector_loop(&inside, collect))?;
        Ok(Scraper { shared, thread: Some(thread) })
    }

    /// The exposition of a collection that is in flight now or starts now.
    pub(super) fn scrape(&self) -> Arc<Exposition> {
        let mut state = self.shared.lock();
        let target = match state.requested > state.completed {
            true => state.requested,
            false => {
                state.requested += 1;
                self.shared.wake.notify_one();
                state.requested
            }
        };
        state.waiting += 1;
        while state.completed < target {
            state = self.shared.done.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.waiting -= 1;
        state.latest.clone().unwrap_or_default()
    }

    /// Scrapes waiting for a collection.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.shared.lock().waiting
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn collector_loop(shared: &Shared, mut collect: impl FnMut() -> Exposition) {
    loop {
        let generation = {
            let mut state = shared.lock();
            while state.requested == state.completed && !state.stop {
                state = shared.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if state.stop {
                return;
            }
            state.requested
        };
        // A panic in a collection must not leave scrapes waiting forever.
        let exposition = std::panic::catch_unwind(AssertUnwindSafe(&mut collect)).unwrap_or_default();
        let mut state = shared.lock();
        state.latest = Some(Arc::new(exposition));
        state.completed = generation;
        shared.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::export::families::{Family, Kind};

    /// A collection that counts itself and blocks until released.
    fn gated(calls: Arc<AtomicU64>, release: mpsc::Receiver<()>) -> impl FnMut() -> Exposition + Send {
        move || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            release.recv().expect("released");
            let mut f = Family::new("collection", Kind::Gauge, "Which collection.");
            f.int(Vec::new(), n);
            Exposition { families: vec![f] }
        }
    }

    fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::yield_now();
        }
    }

    fn collection_number(e: &Exposition) -> Option<u64> {
        match e.families.first()?.samples.first()?.value {
            crate::export::families::Value::Int(n) => Some(n),
            crate::export::families::Value::Float(_) => None,
        }
    }

    #[test]
    fn concurrent_scrapes_share_one_collection() {
        let calls = Arc::new(AtomicU64::new(0));
        let (release, gate) = mpsc::channel();
        let scraper = Scraper::start(gated(Arc::clone(&calls), gate)).unwrap();
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| scraper.scrape())).collect();
            until("8 waiting scrapes", || scraper.waiting() == 8);
            release.send(()).unwrap();
            handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one collection for 8 scrapes");
        assert!(results.iter().all(|e| collection_number(e) == Some(1)));
    }

    #[test]
    fn every_scrape_gets_a_fresh_collection() {
        let calls = Arc::new(AtomicU64::new(0));
        let (release, gate) = mpsc::channel();
        let scraper = Scraper::start(gated(Arc::clone(&calls), gate)).unwrap();
        for expected in 1..=3 {
            release.send(()).unwrap();
            assert_eq!(collection_number(&scraper.scrape()), Some(expected));
        }
    }

    #[test]
    fn a_scrape_arriving_mid_collection_waits_for_it_only() {
        let calls = Arc::new(AtomicU64::new(0));
        let (release, gate) = mpsc::channel();
        let scraper = Scraper::start(gated(Arc::clone(&calls), gate)).unwrap();
        std::thread::scope(|s| {
            let first = s.spawn(|| scraper.scrape());
            until("the first collection to start", || calls.load(Ordering::SeqCst) == 1);
            let second = s.spawn(|| scraper.scrape());
            until("the second scrape to wait", || scraper.waiting() == 2);
            release.send(()).unwrap();
            assert_eq!(collection_number(&first.join().unwrap()), Some(1));
            assert_eq!(collection_number(&second.join().unwrap()), Some(1));
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panicking_collection_answers_empty_and_the_next_one_runs() {
        let mut first = true;
        let scraper = Scraper::start(move || {
            if std::mem::take(&mut first) {
                panic!("collection failed");
            }
            let mut f = Family::new("ok", Kind::Gauge, "Ok.");
            f.int(Vec::new(), 1);
            Exposition { families: vec![f] }
        })
        .unwrap();
        assert!(scraper.scrape().families.is_empty());
        assert_eq!(scraper.scrape().families.len(), 1);
    }
}
