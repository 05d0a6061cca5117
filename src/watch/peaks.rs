//! The worst each tracked thing got during a watch: the deepest accept queue
//! of each listener, the connections each listener dropped, and the most fds
//! of each process. A summary that shows only the last value hides the
//! moment a queue overflowed and drained.

use std::collections::BTreeMap;

use serde::Serialize;

use super::track::Changes;
use crate::model::{Endpoint, Proto};
use crate::output::json::NetnsJson;

/// A listener's deepest accept queue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(super) struct QueuePeak {
    pub proto: Proto,
    #[serde(serialize_with = "crate::output::json::endpoint")]
    pub local: Endpoint,
    pub accept_queue: u32,
    pub backlog: u32,
    /// The queue was over its backlog (full) at the peak.
    pub full: bool,
    /// Its namespace (`--all-netns`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson<'static>>,
}

/// A process's most open fds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(super) struct FdPeak {
    pub pid: u32,
    pub comm: String,
    pub fds: u32,
    pub fd_limit: Option<u64>,
}

/// A listener's drop counter at its first and its last sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(super) struct Dropped {
    pub proto: Proto,
    #[serde(serialize_with = "crate::output::json::endpoint")]
    pub local: Endpoint,
    pub from: u32,
    pub to: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson<'static>>,
}

/// Peaks so far, keyed by listener inode and by pid.
#[derive(Clone, Debug, Default)]
pub(super) struct Peaks {
    queues: BTreeMap<u64, QueuePeak>,
    drops: BTreeMap<u64, Dropped>,
    fds: BTreeMap<u32, FdPeak>,
}

impl Peaks {
    /// Takes in one interval's view.
    pub(super) fn update(&mut self, changes: &Changes) {
        for l in &changes.listeners {
            let x = &l.listener;
            let peak = QueuePeak {
                proto: x.proto,
                local: x.local.clone(),
                accept_queue: x.accept_queue,
                backlog: x.backlog,
                full: x.full,
                netns: l.netns.clone(),
            };
            let entry = self.queues.entry(x.inode).or_insert_with(|| peak.clone());
            if peak.accept_queue > entry.accept_queue {
                *entry = peak;
            }
            if let Some(drops) = x.drops {
                let first = || Dropped {
                    proto: x.proto,
                    local: x.local.clone(),
                    from: drops,
                    to: drops,
                    netns: l.netns.clone(),
                };
                self.drops.entry(x.inode).or_insert_with(first).to = drops;
            }
        }
        for p in &changes.processes {
            let Some(fds) = p.fds else { continue };
            let peak = FdPeak {
                pid: p.pid,
                comm: p.comm.clone(),
                fds,
                fd_limit: p.fd_limit.and_then(|l| l.value()),
            };
            let entry = self.fds.entry(p.pid).or_insert_with(|| peak.clone());
            if fds > entry.fds {
                *entry = peak;
            }
        }
    }

    /// Listeners whose queue was ever non-empty, deepest (relative to the backlog) first.
    pub(super) fn queues(&self) -> Vec<QueuePeak> {
        let mut v: Vec<QueuePeak> = self.queues.values().filter(|q| q.accept_queue > 0).cloned().collect();
        v.sort_by(|a, b| fill(b).total_cmp(&fill(a)));
        v
    }

    /// Listeners that dropped connections during the watch, most first.
    pub(super) fn dropped(&self) -> Vec<Dropped> {
        let mut v: Vec<Dropped> = self.drops.values().filter(|d| d.to > d.from).cloned().collect();
        v.sort_by_key(|d| std::cmp::Reverse(d.to - d.from));
        v
    }

    /// Processes by their highest fd count, most first, at most `n`.
    pub(super) fn fds(&self, n: usize) -> Vec<FdPeak> {
        let mut v: Vec<FdPeak> = self.fds.values().cloned().collect();
        v.sort_by(|a, b| b.fds.cmp(&a.fds).then(a.pid.cmp(&b.pid)));
        v.truncate(n);
        v
    }
}

fn fill(q: &QueuePeak) -> f64 {
    f64::from(q.accept_queue) / f64::from(q.backlog.max(1))
}
