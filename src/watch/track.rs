//! What changed between two samples of the tracked processes and listeners,
//! and which findings started or stopped holding. Pure: fed reports, it
//! returns changes; printing is elsewhere.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::analyze::Report;
use crate::analyze::history::SAMPLED_COUNTERS;
use crate::analyze::summary::{self, ProcessSummary};
use crate::analyze::{Finding, Listener, SubjectKey};
use crate::model::{FdLimit, RunState, Snapshot};

/// One tracked process at one sample, with changes since the previous one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessChange {
    pub pid: u32,
    pub comm: String,
    pub sockets_by_state: BTreeMap<&'static str, u32>,
    /// Per-state change since the previous sample (only states that moved).
    pub deltas: BTreeMap<&'static str, i64>,
    pub fds: Option<u32>,
    pub fds_delta: Option<i64>,
    pub fd_limit: Option<FdLimit>,
    /// Run state letter (`T` stopped, `D` uninterruptible sleep...).
    pub state: Option<RunState>,
    #[serde(skip)]
    pub changed: bool,
}

/// One tracked listener at one sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListenerChange {
    #[serde(flatten, serialize_with = "crate::output::json::listener")]
    pub listener: Listener,
    pub accept_queue_delta: Option<i64>,
    pub drops_delta: Option<i64>,
    pub owners: String,
    #[serde(skip)]
    pub changed: bool,
}

/// A kernel counter and its change since the previous sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CounterChange {
    pub value: i64,
    pub delta: i64,
}

/// Everything one interval shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Changes {
    pub processes: Vec<ProcessChange>,
    pub listeners: Vec<ListenerChange>,
    pub counters: BTreeMap<String, BTreeMap<&'static str, CounterChange>>,
}

impl Changes {
    pub fn any(&self) -> bool {
        self.processes.iter().any(|p| p.changed)
            || self.listeners.iter().any(|l| l.changed)
            || self.counters.values().flat_map(|c| c.values()).any(|c| c.delta != 0)
    }
}

/// The previous sample's view, to compute deltas.
#[derive(Default)]
pub struct Tracker {
    processes: HashMap<u32, (StateMap, Option<u32>, Option<RunState>)>,
    listeners: HashMap<u64, ListenerSeen>,
    counters: HashMap<(&'static str, &'static str), i64>,
    started: bool,
}

type StateMap = BTreeMap<&'static str, u32>;

/// What a listener looked like at the previous sample.
#[derive(Clone, Copy)]
struct ListenerSeen {
    accept_queue: u32,
    drops: Option<u32>,
    full: bool,
    near_full: bool,
}

fn state_map(p: &ProcessSummary) -> StateMap {
    p.states.0.iter().map(|(s, n)| (s.ss_name(), *n)).collect()
}

fn state_deltas(now: &StateMap, before: &StateMap) -> BTreeMap<&'static str, i64> {
    let mut keys: Vec<&&str> = now.keys().chain(before.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let d = i64::from(now.get(*k).copied().unwrap_or(0))
                - i64::from(before.get(*k).copied().unwrap_or(0));
            (d != 0).then_some((*k, d))
        })
        .collect()
}

impl Tracker {
    /// Changes of this report against the previous one.
    pub fn update(&mut self, report: &Report) -> Changes {
        let first = !self.started;
        self.started = true;
        let snapshot = report.snapshot;
        let mut changes = Changes::default();
        let mut seen = HashMap::new();
        let mut summaries = summary::by_process(snapshot, report.sockets.iter().copied());
        summaries.retain(|p| report.processes.iter().any(|q| q.pid == p.pid));
        let missing: Vec<_> = report
            .processes
            .iter()
            .filter(|q| !summaries.iter().any(|p| p.pid == q.pid))
            .map(|q| summary::without_sockets(q))
            .collect();
        summaries.extend(missing);
        for p in summaries {
            let states = state_map(&p);
            let before = self.processes.get(&p.pid);
            let deltas = before.map_or_else(BTreeMap::new, |(b, _, _)| state_deltas(&states, b));
            let fds_delta = before.and_then(|(_, f, _)| Some(i64::from(p.fds?) - i64::from((*f)?)));
            let run_changed = before.is_some_and(|(_, _, r)| *r != p.state);
            let changed = first
                || before.is_none()
                || !deltas.is_empty()
                || fds_delta.is_some_and(|d| d != 0)
                || run_changed;
            seen.insert(p.pid, (states.clone(), p.fds, p.state));
            changes.processes.push(ProcessChange {
                pid: p.pid,
                comm: p.comm.clone(),
                sockets_by_state: states,
                deltas,
                fds: p.fds,
                fds_delta,
                fd_limit: p.fd_limit,
                state: p.state,
                changed,
            });
        }
        self.processes = seen;
        changes.listeners = self.listeners(report, first);
        changes.counters = self.counters(snapshot);
        changes
    }

    fn listeners(&mut self, report: &Report, first: bool) -> Vec<ListenerChange> {
        let mut seen = HashMap::new();
        let out = report
            .listeners
            .iter()
            .map(|l| {
                let before = self.listeners.get(&l.inode).copied();
                let drops_delta = before.and_then(|b| Some(i64::from(l.drops?) - i64::from(b.drops?)));
                let accept_queue_delta =
                    before.map(|b| i64::from(l.accept_queue) - i64::from(b.accept_queue));
                let flipped = before.is_some_and(|b| b.full != l.full || b.near_full != l.near_full);
                let seen_now = ListenerSeen {
                    accept_queue: l.accept_queue,
                    drops: l.drops,
                    full: l.full,
                    near_full: l.near_full,
                };
                seen.insert(l.inode, seen_now);
                let moved = |d: Option<i64>| d.is_some_and(|d| d != 0);
                let changed =
                    first || before.is_none() || flipped || moved(drops_delta) || moved(accept_queue_delta);
                ListenerChange {
                    listener: l.clone(),
                    accept_queue_delta,
                    drops_delta,
                    owners: crate::output::owners_text(report.snapshot, l.inode),
                    changed,
                }
            })
            .collect();
        self.listeners = seen;
        out
    }

    fn counters(&mut self, snapshot: &Snapshot) -> BTreeMap<String, BTreeMap<&'static str, CounterChange>> {
        let mut out: BTreeMap<String, BTreeMap<&'static str, CounterChange>> = BTreeMap::new();
        for &(section, name) in SAMPLED_COUNTERS.iter().filter(|(s, _)| *s == "TcpExt") {
            let Some(value) = snapshot.counters.get(section, name) else { continue };
            let delta = self.counters.get(&(section, name)).map_or(0, |b| value - b);
            self.counters.insert((section, name), value);
            out.entry(section.to_string()).or_default().insert(name, CounterChange { value, delta });
        }
        out
    }
}

/// Findings that started and stopped holding between two evaluations.
/// Samples a finding must be absent before it counts as resolved, so a
/// value hovering at a threshold does not flap.
const RESOLVE_AFTER: u32 = 2;

/// The same finding across samples: its kind's name and its subject.
type FindingId = (&'static str, SubjectKey);

#[derive(Default)]
pub struct FindingTracker {
    /// Active findings: the finding, samples it held, samples it has been absent.
    active: BTreeMap<FindingId, (Finding, u32, u32)>,
    /// Every finding that ever fired, with its latest evidence, for the summary.
    pub fired: Vec<Finding>,
    fired_at: HashMap<FindingId, usize>,
}

impl FindingTracker {
    /// New findings, and the (finding, samples it held) of those resolved.
    pub fn update(&mut self, findings: Vec<Finding>) -> (Vec<Finding>, Vec<(Finding, u32)>) {
        let mut next = BTreeMap::new();
        let mut started = Vec::new();
        for f in findings {
            let key = (f.kind().name(), f.subject.key());
            match self.fired_at.get(&key) {
                Some(&i) => self.fired[i] = f.clone(),
                None => {
                    self.fired_at.insert(key.clone(), self.fired.len());
                    self.fired.push(f.clone());
                }
            }
            let held = match self.active.remove(&key) {
                Some((_, n, _)) => n + 1,
                None => {
                    started.push(f.clone());
                    1
                }
            };
            next.insert(key, (f, held, 0));
        }
        let mut resolved = Vec::new();
        for (key, (f, held, absent)) in std::mem::take(&mut self.active) {
            match absent + 1 >= RESOLVE_AFTER {
                true => resolved.push((f, held)),
                false => {
                    next.insert(key, (f, held, absent + 1));
                }
            }
        }
        self.active = next;
        (started, resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::evidence::GhostEvidence;
    use crate::analyze::{Evidence, Severity, Subject};

    /// A ghost finding about pid 7 whose evidence says `fds`.
    fn finding(fds: u32) -> Finding {
        Finding {
            severity: Severity::Warning,
            subject: Subject::Process { pid: 7, comm: "api".into() },
            evidence: Evidence::GhostSockets(GhostEvidence {
                ghost_sockets: 1,
                inodes: vec![9],
                fds: Some(fds),
            }),
        }
    }

    #[test]
    fn findings_start_once_and_resolve_after_two_absent_samples() {
        let mut t = FindingTracker::default();
        let (started, resolved) = t.update(vec![finding(10)]);
        assert_eq!((started.len(), resolved.len()), (1, 0));
        let (started, resolved) = t.update(vec![]);
        assert_eq!((started.len(), resolved.len()), (0, 0), "one absent sample is not a resolution");
        let (started, _) = t.update(vec![finding(20)]);
        assert!(started.is_empty(), "still the same finding");
        t.update(vec![]);
        let (_, resolved) = t.update(vec![]);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].1, 2, "held two samples");
        assert_eq!(t.fired.len(), 1);
        assert_eq!(t.fired[0], finding(20), "the summary keeps the latest evidence");
    }
}
