//! The end-of-watch summary: what grew, what leaked, the worst offenders.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::Serialize;

use super::peaks::{Dropped, FdPeak, Peaks, QueuePeak};
use super::track::ProcessChange;
use crate::analyze::Finding;
use crate::analyze::leaks::is_leak;
use crate::output::escape;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub(super) struct Growth {
    pub pid: u32,
    pub comm: String,
    /// `CLOSE-WAIT`, `fds` or `sockets`.
    pub what: &'static str,
    pub from: u64,
    pub to: u64,
    pub rate_per_s: f64,
}

impl Growth {
    pub(super) fn text(&self) -> String {
        format!(
            "pid {} {}  {} {} → {} (+{}, {:.2}/s)",
            self.pid,
            escape::text(&self.comm),
            self.what,
            self.from,
            self.to,
            self.to - self.from,
            self.rate_per_s
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub(super) struct Summary {
    pub duration_s: f64,
    pub samples: u64,
    pub grew: Vec<Growth>,
    /// Listeners whose drop counter rose during the watch.
    pub dropped: Vec<Dropped>,
    /// Leak findings that fired (first occurrence each).
    #[serde(serialize_with = "crate::output::json::findings")]
    pub leaks: Vec<Finding>,
    /// Every finding that fired.
    #[serde(serialize_with = "crate::output::json::findings")]
    pub findings: Vec<Finding>,
    pub worst: Vec<String>,
    /// Each listener's deepest accept queue during the watch (non-empty ones).
    pub peak_queues: Vec<QueuePeak>,
    /// The processes with the most open fds at their peak.
    pub peak_fds: Vec<FdPeak>,
}

fn measures(p: &ProcessChange) -> [(&'static str, u64); 3] {
    let total: u32 = p.sockets_by_state.values().sum();
    [
        ("CLOSE-WAIT", u64::from(p.sockets_by_state.get("CLOSE-WAIT").copied().unwrap_or(0))),
        ("fds", u64::from(p.fds.unwrap_or(0))),
        ("sockets", u64::from(total)),
    ]
}

/// Builds the summary from the first and last view of each process.
pub(super) fn summarize(
    first: &HashMap<u32, (SystemTime, ProcessChange)>,
    last: &HashMap<u32, (SystemTime, ProcessChange)>,
    fired: &[Finding],
    peaks: &Peaks,
    duration_s: f64,
    samples: u64,
) -> Summary {
    let mut grew = Vec::new();
    for (pid, (seen_last, now)) in last {
        let Some((seen_first, then)) = first.get(pid) else { continue };
        // Growth over the time between its first and last sample: not the
        // whole watch (a process that exited, or the wait after the last sample).
        let span = seen_last.duration_since(*seen_first).map_or(0.0, |d| d.as_secs_f64());
        for ((what, from), (_, to)) in measures(then).into_iter().zip(measures(now)) {
            if to > from {
                let rate = if span > 0.0 { (to - from) as f64 / span } else { 0.0 };
                grew.push(Growth {
                    pid: *pid,
                    comm: now.comm.clone(),
                    what,
                    from,
                    to,
                    rate_per_s: (rate * 100.0).round() / 100.0,
                });
            }
        }
    }
    grew.sort_by(|a, b| (b.to - b.from).cmp(&(a.to - a.from)).then(a.pid.cmp(&b.pid)));
    let leaks: Vec<Finding> = fired.iter().filter(|f| is_leak(f.kind())).cloned().collect();
    let worst = worst_offenders(&grew, fired);
    Summary {
        duration_s,
        samples,
        grew,
        dropped: peaks.dropped(),
        leaks,
        findings: fired.to_vec(),
        worst,
        peak_queues: peaks.queues(),
        peak_fds: peaks.fds(5),
    }
}

/// Up to three processes, most leak findings first, then most growth.
fn worst_offenders(grew: &[Growth], fired: &[Finding]) -> Vec<String> {
    let mut score: HashMap<u32, (usize, u64, String, Vec<String>)> = HashMap::new();
    for f in fired.iter().filter(|f| is_leak(f.kind())) {
        for pid in f.subject.pids() {
            let e = score.entry(*pid).or_default();
            e.0 += 1;
            e.3.push(f.kind().name().to_string());
            if let crate::analyze::Subject::Process { comm, .. } = &f.subject {
                e.2 = comm.clone();
            }
        }
    }
    for g in grew.iter().filter(|g| g.what != "sockets") {
        let e = score.entry(g.pid).or_default();
        e.1 += g.to - g.from;
        e.2 = g.comm.clone();
        e.3.push(format!("{} +{}", g.what, g.to - g.from));
    }
    let mut ranked: Vec<_> = score.into_iter().filter(|(_, s)| s.0 > 0 || s.1 > 0).collect();
    ranked.sort_by(|a, b| (b.1.0, b.1.1).cmp(&(a.1.0, a.1.1)).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(3)
        .map(|(pid, (_, _, comm, what))| format!("pid {pid} {}: {}", escape::text(&comm), what.join(", ")))
        .collect()
}
