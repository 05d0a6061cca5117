//! Per-process limits: open fds against RLIMIT_NOFILE.

use std::collections::HashSet;

use super::evidence::{Evidence, FdEvidence};
use super::finding::{Finding, Severity, Subject};
use super::percent::pct;
use super::thresholds::Thresholds;
use crate::model::{Process, Snapshot};

/// `fd_exhaustion_risk`: a process close to, or at, "Too many open files".
/// Warning from the threshold, critical from 95 % (or the threshold, if
/// higher) and always once every fd the limit allows is open.
pub(super) fn fd_exhaustion(snapshot: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    let mut dumped: Option<HashSet<u64>> = None;
    let mut out = Vec::new();
    for p in snapshot.processes.values() {
        let Some(finding) = fd_finding(p, t) else { continue };
        if !p.in_netns(snapshot.netns.inode) {
            let here = dumped.get_or_insert_with(|| snapshot.sockets.iter().map(|s| s.inode).collect());
            if !snapshot.owners.iter().any(|r| r.pid == p.pid && here.contains(&r.inode)) {
                continue;
            }
        }
        out.push(finding);
    }
    out
}

fn fd_finding(p: &Process, t: &Thresholds) -> Option<Finding> {
    let limit = p.fd_limit?.value()?;
    let used = p.fd_count?;
    let share = pct(f64::from(used), limit as f64);
    if share < t.fd_pct {
        return None;
    }
    let reached = u64::from(used) >= limit;
    Some(Finding {
        netns: None,
        severity: if reached || share >= t.fd_pct.max(95.0) { Severity::Critical } else { Severity::Warning },
        subject: Subject::Process { pid: p.pid, comm: p.comm.clone() },
        evidence: Evidence::FdExhaustionRisk(FdEvidence {
            fds: used,
            fd_limit: limit,
            usage_pct: share,
            socket_fds: p.socket_fds,
        }),
    })
}
