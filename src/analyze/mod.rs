//! Diagnosis: pure functions from a [`Snapshot`] to [`Finding`]s.
//!
//! Every problem the dump reports and every highlight a front-end shows is
//! decided here, once. Nothing in this module reads the OS, so each rule is
//! unit-tested on hand-built snapshots.

mod connections;
pub mod evidence;
pub(crate) mod finding;
pub(crate) mod history;
mod kind;
pub mod leaks;
pub(crate) mod listeners;
pub(crate) mod netns;
mod percent;
mod processes;
pub(crate) mod report;
pub(crate) mod summary;
mod thresholds;
mod udp;

pub use evidence::Evidence;
pub use finding::{Finding, FindingKind, Severity, Subject, SubjectKey};
pub use listeners::{Listener, listeners};
pub use report::Report;
pub use thresholds::Thresholds;

use crate::model::Snapshot;

/// The listeners and findings of one snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub listeners: Vec<Listener>,
    /// Worst first.
    pub findings: Vec<Finding>,
}

/// Runs every snapshot rule; on an all-namespace snapshot, once per
/// namespace with that namespace's sysctls ([`netns`]).
pub fn analyze(snapshot: &Snapshot, thresholds: &Thresholds) -> Analysis {
    if snapshot.namespaces.len() > 1 {
        return netns::analyze_each(snapshot, thresholds);
    }
    let mut analysis = analyze_one(snapshot, thresholds);
    netns::tag(&mut analysis.findings, snapshot.namespaces.first().map(|n| n.inode));
    analysis
}

/// Every rule on one namespace's sockets.
fn analyze_one(snapshot: &Snapshot, thresholds: &Thresholds) -> Analysis {
    let listeners = listeners::listeners(snapshot, thresholds);
    let mut findings = listeners::findings(snapshot, &listeners, thresholds);
    findings.extend(connections::close_wait(snapshot, thresholds));
    findings.extend(connections::time_wait(snapshot, thresholds));
    findings.extend(connections::syn_sent(snapshot, &listeners, thresholds));
    findings.extend(processes::fd_exhaustion(snapshot, thresholds));
    findings.extend(udp::receive_drops(snapshot));
    Finding::sort(&mut findings);
    Analysis { listeners, findings }
}

#[cfg(test)]
mod tests;
