//! Where snapshots come from: the one seam between the faces and the OS.
//!
//! The dashboard, watch mode and the exporter take a [`Source`] rather than a
//! collector, so their behaviour over time (rates, ETAs, escalations, a
//! namespace that changes identity) is tested by replaying a scripted
//! sequence of snapshots ([`Replay`]) in milliseconds, while the binary hands
//! them the kernel reader (`collect::Collector`).

use std::collections::VecDeque;

use super::Snapshot;

/// Why a source produced no snapshot. Kernel readers box their own error
/// type, so callers can still tell bad input from a failing system.
pub type SourceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Something that takes snapshots, one per call.
pub trait Source: Send {
    /// The next snapshot.
    fn snapshot(&mut self) -> Result<Snapshot, SourceError>;

    /// Asks for `tcp_info` on TCP sockets from the next snapshot on (detail
    /// panes); sources that cannot provide it ignore the request.
    fn set_tcp_info(&mut self, _on: bool) {}

    /// Whether no later snapshot can succeed after `error` (the target is
    /// gone for good): a face ends instead of retrying.
    fn is_final(&self, _error: &SourceError) -> bool {
        false
    }
}

/// A scripted sequence of snapshots (or failures), handed out in order.
#[derive(Debug, Default)]
pub struct Replay {
    script: VecDeque<Result<Snapshot, String>>,
}

impl Replay {
    pub fn new(snapshots: impl IntoIterator<Item = Snapshot>) -> Replay {
        Replay { script: snapshots.into_iter().map(Ok).collect() }
    }

    /// Appends a snapshot to the script.
    pub fn then(mut self, snapshot: Snapshot) -> Replay {
        self.script.push_back(Ok(snapshot));
        self
    }

    /// Appends a failed collection to the script.
    pub fn then_fail(mut self, message: &str) -> Replay {
        self.script.push_back(Err(message.to_string()));
        self
    }

    /// Snapshots and failures not handed out yet.
    pub fn remaining(&self) -> usize {
        self.script.len()
    }
}

/// The error of a scripted failure, or of a script that ran out.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ReplayError(pub String);

impl Source for Replay {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        match self.script.pop_front() {
            Some(Ok(snapshot)) => Ok(snapshot),
            Some(Err(message)) => Err(Box::new(ReplayError(message))),
            None => Err(Box::new(ReplayError("the replayed script has no more snapshots".into()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_in_order_then_says_it_ran_out() {
        let mut first = Snapshot::empty();
        first.sockets.clear();
        let mut replay = Replay::new([first.clone()]).then_fail("dump interrupted");
        assert_eq!(replay.snapshot().ok(), Some(first));
        assert_eq!(replay.snapshot().err().map(|e| e.to_string()), Some("dump interrupted".into()));
        assert!(replay.snapshot().is_err());
        assert_eq!(replay.remaining(), 0);
    }
}
