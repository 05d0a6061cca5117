//! What changed between two samples of the tracked processes and listeners,
//! and which findings started or stopped holding. Pure: fed reports, it
//! returns changes; printing is elsewhere.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::analyze::history::SAMPLED_COUNTERS;
use crate::analyze::summary::{self, ProcessSummary};
use crate::analyze::{Finding, Listener};
use crate::model::{FdLimit, Snapshot};
use crate::report::Report;

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
    #[serde(skip)]
    pub changed: bool,
}

/// One tracked listener at one sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListenerChange {
    #[serde(flatten)]
    pub listener: Listener,
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
    processes: HashMap<u32, (StateMap, Option<u32>)>,
    listeners: HashMap<u64, Option<u32>>,
    counters: HashMap<(&'static str, &'static str), i64>,
    started: bool,
}

type StateMap = BTreeMap<&'static str, u32>;

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
            let deltas = before.map_or_else(BTreeMap::new, |(b, _)| state_deltas(&states, b));
            let fds_delta = before.and_then(|(_, f)| Some(i64::from(p.fds?) - i64::from((*f)?)));
            let changed =
                first || before.is_none() || !deltas.is_empty() || fds_delta.is_some_and(|d| d != 0);
            seen.insert(p.pid, (states.clone(), p.fds));
            changes.processes.push(ProcessChange {
                pid: p.pid,
                comm: p.comm.clone(),
                sockets_by_state: states,
                deltas,
                fds: p.fds,
                fds_delta,
                fd_limit: p.fd_limit,
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
                let drops_delta = before.and_then(|b| Some(i64::from(l.drops?) - i64::from(b?)));
                seen.insert(l.inode, l.drops);
                let changed = first || l.full || l.near_full || drops_delta.is_some_and(|d| d != 0);
                ListenerChange {
                    listener: l.clone(),
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
#[derive(Default)]
pub struct FindingTracker {
    active: BTreeMap<(String, String), (Finding, u32)>,
    /// Every finding that ever fired, first occurrence, for the summary.
    pub fired: Vec<Finding>,
}

impl FindingTracker {
    /// New findings, and the (finding, samples it held) of those resolved.
    pub fn update(&mut self, findings: Vec<Finding>) -> (Vec<Finding>, Vec<(Finding, u32)>) {
        let mut next = BTreeMap::new();
        let mut started = Vec::new();
        for f in findings {
            let key = (f.kind.name().to_string(), f.subject.to_string());
            let held = match self.active.remove(&key) {
                Some((_, n)) => n + 1,
                None => {
                    started.push(f.clone());
                    self.fired.push(f.clone());
                    1
                }
            };
            next.insert(key, (f, held));
        }
        let resolved = std::mem::replace(&mut self.active, next).into_values().collect();
        (started, resolved)
    }

    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.active.values().map(|(f, _)| f)
    }
}
