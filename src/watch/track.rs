//! What changed between two samples of the tracked processes and listeners,
//! and which findings started or stopped holding. Pure: fed reports, it
//! returns changes; printing is elsewhere.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use serde::Serialize;

use crate::analyze::Report;
use crate::analyze::history::SAMPLED_COUNTERS;
use crate::analyze::summary::{self, ProcessSummary};
use crate::analyze::{Finding, Listener, Severity, SubjectKey};
use crate::model::{Counters, FdLimit, Namespace, NetnsStatus, RunState, Snapshot};
use crate::output::json::{self, NetnsJson};

/// One tracked process at one sample, with changes since the previous one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ProcessChange {
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
    /// The namespace it lives in (`--all-netns`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson<'static>>,
    #[serde(skip)]
    pub changed: bool,
}

/// One tracked listener at one sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ListenerChange {
    #[serde(flatten, serialize_with = "crate::output::json::listener")]
    pub listener: Listener,
    pub accept_queue_delta: Option<i64>,
    pub drops_delta: Option<i64>,
    /// `comm(pid),...`, names unescaped (the text printer escapes them).
    pub owners: String,
    /// Its namespace (`--all-netns`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson<'static>>,
    #[serde(skip)]
    pub changed: bool,
}

/// A kernel counter and its change since the previous sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct CounterChange {
    pub value: i64,
    pub delta: i64,
}

/// Sampled kernel counters by section, with their change since the previous sample.
pub(crate) type CounterChanges = BTreeMap<String, BTreeMap<&'static str, CounterChange>>;

/// The counters of one other namespace (`--all-netns`) that moved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct NetnsCounterChange {
    pub netns: NetnsJson<'static>,
    pub counters: CounterChanges,
}

/// Everything one interval shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Changes {
    pub processes: Vec<ProcessChange>,
    pub listeners: Vec<ListenerChange>,
    /// Sockscope's own namespace's (or the `--netns` target's).
    pub counters: CounterChanges,
    /// With `--all-netns`: every other namespace whose counters moved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub netns_counters: Vec<NetnsCounterChange>,
    /// Tracked processes the previous sample had and this one has not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gone_processes: Vec<GoneProcess>,
    /// Tracked listeners the previous sample had and this one has not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gone_listeners: Vec<GoneListener>,
}

/// A process no longer tracked, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct GoneProcess {
    pub pid: u32,
    pub comm: String,
    /// `exited` (in no process table any more), or `no_selected_socket`
    /// (running, but it holds none of the selected sockets now).
    pub reason: &'static str,
}

/// A listener no longer in the dump: closed (or, for `-l`-less
/// selections, no longer selected).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct GoneListener {
    pub proto: &'static str,
    pub local: String,
    pub inode: u64,
}

fn moved(counters: &CounterChanges) -> bool {
    counters.values().flat_map(|c| c.values()).any(|c| c.delta != 0)
}

impl Changes {
    pub(crate) fn any(&self) -> bool {
        self.processes.iter().any(|p| p.changed)
            || self.listeners.iter().any(|l| l.changed)
            || !self.gone_processes.is_empty()
            || !self.gone_listeners.is_empty()
            || moved(&self.counters)
            || !self.netns_counters.is_empty()
    }
}

/// The previous sample's view, to compute deltas.
#[derive(Default)]
pub(crate) struct Tracker {
    processes: HashMap<u32, ProcessSeen>,
    listeners: HashMap<u64, ListenerSeen>,
    /// The last value of each sampled counter, by namespace (0: the
    /// snapshot's own), section and name.
    counters: HashMap<(u64, &'static str, &'static str), i64>,
    started: bool,
}

type StateMap = BTreeMap<&'static str, u32>;

/// What a process looked like at the previous sample.
struct ProcessSeen {
    states: StateMap,
    fds: Option<u32>,
    state: Option<RunState>,
    comm: String,
}

/// What a listener looked like at the previous sample.
#[derive(Clone)]
struct ListenerSeen {
    accept_queue: u32,
    drops: Option<u32>,
    full: bool,
    near_full: bool,
    proto: &'static str,
    local: String,
}

/// The processes of the previous sample missing from this one: exited when
/// the process table no longer has them.
fn gone_processes(
    before: &HashMap<u32, ProcessSeen>,
    now: &HashMap<u32, ProcessSeen>,
    snapshot: &Snapshot,
) -> Vec<GoneProcess> {
    let mut gone: Vec<GoneProcess> = before
        .iter()
        .filter(|(pid, _)| !now.contains_key(*pid))
        .map(|(pid, p)| GoneProcess {
            pid: *pid,
            comm: p.comm.clone(),
            reason: match snapshot.processes.contains_key(pid) {
                true => "no_selected_socket",
                false => "exited",
            },
        })
        .collect();
    gone.sort_by_key(|g| g.pid);
    gone
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
    pub(crate) fn update(&mut self, report: &Report) -> Changes {
        let first = !self.started;
        self.started = true;
        let snapshot = report.snapshot;
        let mut changes = Changes::default();
        let mut seen = HashMap::new();
        // Not watch itself: its fd count moves with its own scans.
        let me = std::process::id();
        let mut summaries = summary::by_process(snapshot, report.sockets.iter().copied());
        summaries.retain(|p| p.pid != me && report.processes.iter().any(|q| q.pid == p.pid));
        let missing: Vec<_> = report
            .processes
            .iter()
            .filter(|q| q.pid != me && !summaries.iter().any(|p| p.pid == q.pid))
            .map(|q| summary::without_sockets(q))
            .collect();
        summaries.extend(missing);
        for p in summaries {
            let states = state_map(&p);
            let before = self.processes.get(&p.pid);
            let deltas = before.map_or_else(BTreeMap::new, |b| state_deltas(&states, &b.states));
            let fds_delta = before.and_then(|b| Some(i64::from(p.fds?) - i64::from(b.fds?)));
            let run_changed = before.is_some_and(|b| b.state != p.state);
            let changed = first
                || before.is_none()
                || !deltas.is_empty()
                || fds_delta.is_some_and(|d| d != 0)
                || run_changed;
            seen.insert(
                p.pid,
                ProcessSeen { states: states.clone(), fds: p.fds, state: p.state, comm: p.comm.clone() },
            );
            changes.processes.push(ProcessChange {
                pid: p.pid,
                comm: p.comm.clone(),
                sockets_by_state: states,
                deltas,
                fds: p.fds,
                fds_delta,
                fd_limit: p.fd_limit,
                state: p.state,
                netns: snapshot
                    .processes
                    .get(&p.pid)
                    .and_then(|q| q.netns)
                    .and_then(|n| owned_netns(snapshot, n)),
                changed,
            });
        }
        changes.gone_processes = gone_processes(&self.processes, &seen, snapshot);
        self.processes = seen;
        changes.listeners = self.listeners(report, first, &mut changes.gone_listeners);
        changes.counters = self.counters(0, &snapshot.counters);
        changes.netns_counters = self.netns_counters(snapshot);
        changes
    }

    fn listeners(
        &mut self,
        report: &Report,
        first: bool,
        gone: &mut Vec<GoneListener>,
    ) -> Vec<ListenerChange> {
        let mut seen = HashMap::new();
        let out = report
            .listeners
            .iter()
            .map(|l| {
                let before = self.listeners.get(&l.inode);
                let drops_delta = before.and_then(|b| Some(i64::from(l.drops?) - i64::from(b.drops?)));
                let accept_queue_delta =
                    before.map(|b| i64::from(l.accept_queue) - i64::from(b.accept_queue));
                let flipped = before.is_some_and(|b| b.full != l.full || b.near_full != l.near_full);
                let seen_now = ListenerSeen {
                    accept_queue: l.accept_queue,
                    drops: l.drops,
                    full: l.full,
                    near_full: l.near_full,
                    proto: l.proto.netid(),
                    local: crate::output::escape::endpoint_text(&l.local),
                };
                seen.insert(l.inode, seen_now);
                let moved = |d: Option<i64>| d.is_some_and(|d| d != 0);
                let changed =
                    first || before.is_none() || flipped || moved(drops_delta) || moved(accept_queue_delta);
                ListenerChange {
                    listener: l.clone(),
                    accept_queue_delta,
                    drops_delta,
                    owners: crate::output::owners_raw(report.snapshot, l.inode),
                    netns: owned_netns(report.snapshot, l.netns),
                    changed,
                }
            })
            .collect();
        let mut closed: Vec<GoneListener> = self
            .listeners
            .iter()
            .filter(|(inode, _)| !seen.contains_key(*inode))
            .map(|(inode, l)| GoneListener { proto: l.proto, local: l.local.clone(), inode: *inode })
            .collect();
        closed.sort_by(|a, b| (a.proto, &a.local).cmp(&(b.proto, &b.local)));
        *gone = closed;
        self.listeners = seen;
        out
    }

    /// The sampled counters of one namespace, against their previous values
    /// (a namespace seen for the first time moves by 0).
    fn counters(&mut self, netns: u64, counters: &Counters) -> CounterChanges {
        let mut out = CounterChanges::new();
        for &(section, name) in SAMPLED_COUNTERS.iter().filter(|(s, _)| *s == "TcpExt") {
            let Some(value) = counters.get(section, name) else { continue };
            let delta = self.counters.insert((netns, section, name), value).map_or(0, |b| value - b);
            out.entry(section.to_string()).or_default().insert(name, CounterChange { value, delta });
        }
        out
    }

    /// With `--all-netns`, the other namespaces' counters that moved: a
    /// listen overflow in a pod's namespace shows in that pod's counters.
    /// Namespaces gone since are forgotten.
    fn netns_counters(&mut self, snapshot: &Snapshot) -> Vec<NetnsCounterChange> {
        let others: Vec<&Namespace> =
            snapshot.namespaces.iter().filter(|n| !n.own && n.status == NetnsStatus::Collected).collect();
        self.counters.retain(|(netns, _, _), _| *netns == 0 || others.iter().any(|n| n.inode == *netns));
        let mut out = Vec::new();
        for ns in others {
            let counters = self.counters(ns.inode, &ns.counters);
            if let (true, Some(netns)) = (moved(&counters), owned_netns(snapshot, ns.inode)) {
                out.push(NetnsCounterChange { netns, counters });
            }
        }
        out
    }
}

fn owned_netns(snapshot: &Snapshot, inode: u64) -> Option<NetnsJson<'static>> {
    json::netns(snapshot, inode).map(NetnsJson::into_owned)
}

/// Findings that started and stopped holding between two evaluations.
/// Samples a finding must be absent before it counts as resolved, so a
/// value hovering at a threshold does not flap.
const RESOLVE_AFTER: u32 = 2;

/// An ETA that moved by more than this share of what the last announcement
/// projected is announced again.
const ETA_CHANGE: f64 = 0.30;

/// Below this many seconds ETAs are compared as if they were this long, so
/// a second of jitter just before a limit does not count as a change.
const ETA_FLOOR_S: f64 = 5.0;

/// The same finding across samples: its kind's name, its subject and its namespace.
type FindingId = (&'static str, SubjectKey, Option<u64>);

/// Why a finding already announced is announced again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    /// Its severity rose above every severity announced for it.
    SeverityRose,
    /// The limit it was approaching is reached (EMFILE, every port pinned, a full queue).
    LimitReached,
    /// Its time to the limit appeared, or moved by more than 30 % from what
    /// the last announcement projected.
    EtaChanged,
}

/// A finding announced again, with what had been said before.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Escalation {
    pub reason: Reason,
    /// The highest severity announced before.
    pub was: Severity,
    /// The ETA the last announcement projected for now (its ETA minus the
    /// time since), when it had one.
    pub expected_eta_s: Option<f64>,
}

/// What the last announcement of a finding said.
#[derive(Clone, Copy, Debug)]
struct Announced {
    severity: Severity,
    limit_reached: bool,
    eta: Option<(f64, SystemTime)>,
}

impl Announced {
    fn of(f: &Finding, at: SystemTime) -> Announced {
        Announced {
            severity: f.severity,
            limit_reached: f.evidence.limit_reached(),
            eta: f.evidence.eta_s().map(|e| (e, at)),
        }
    }

    /// The ETA announced, counted down to `at`.
    fn expected_eta(&self, at: SystemTime) -> Option<f64> {
        let (eta, then) = self.eta?;
        let elapsed = at.duration_since(then).map_or(0.0, |d| d.as_secs_f64());
        Some(eta - elapsed)
    }

    /// Why `f` must be announced again, if it must.
    fn escalation(&self, f: &Finding, at: SystemTime) -> Option<Escalation> {
        let expected = self.expected_eta(at);
        let reason = if f.severity > self.severity {
            Reason::SeverityRose
        } else if f.evidence.limit_reached() && !self.limit_reached {
            Reason::LimitReached
        } else {
            match (expected, f.evidence.eta_s()) {
                (None, Some(_)) => Reason::EtaChanged,
                (Some(before), Some(now)) if (now - before).abs() > ETA_CHANGE * before.max(ETA_FLOOR_S) => {
                    Reason::EtaChanged
                }
                _ => return None,
            }
        };
        Some(Escalation { reason, was: self.severity, expected_eta_s: expected })
    }

    /// The announcement after `f` was announced again: the highest severity
    /// stays, so a severity that falls and rises again is not news.
    fn after(self, f: &Finding, at: SystemTime) -> Announced {
        let now = Announced::of(f, at);
        Announced {
            severity: self.severity.max(now.severity),
            limit_reached: self.limit_reached || now.limit_reached,
            eta: now.eta.or(self.eta),
        }
    }
}

/// An active finding.
struct Active {
    finding: Finding,
    held: u32,
    absent: u32,
    announced: Announced,
}

/// What one evaluation changed.
#[derive(Debug, Default)]
pub(crate) struct FindingUpdate {
    /// Findings that started holding.
    pub started: Vec<Finding>,
    /// Findings announced again: escalated severity, a limit reached, an ETA moved.
    pub escalated: Vec<(Finding, Escalation)>,
    /// Findings that stopped holding, with how many samples they held.
    pub resolved: Vec<(Finding, u32)>,
}

#[derive(Default)]
pub(crate) struct FindingTracker {
    active: BTreeMap<FindingId, Active>,
    /// Every finding that ever fired, with its latest evidence, for the summary.
    pub fired: Vec<Finding>,
    fired_at: HashMap<FindingId, usize>,
}

impl FindingTracker {
    /// Compares the findings holding at `at` with those held before.
    pub(crate) fn update(&mut self, findings: Vec<Finding>, at: SystemTime) -> FindingUpdate {
        let mut next = BTreeMap::new();
        let mut update = FindingUpdate::default();
        for f in findings {
            let key = (f.kind().name(), f.subject.key(), f.netns);
            match self.fired_at.get(&key) {
                Some(&i) => self.fired[i] = f.clone(),
                None => {
                    self.fired_at.insert(key.clone(), self.fired.len());
                    self.fired.push(f.clone());
                }
            }
            let active = match self.active.remove(&key) {
                Some(before) => {
                    let mut announced = before.announced;
                    if let Some(escalation) = announced.escalation(&f, at) {
                        announced = announced.after(&f, at);
                        update.escalated.push((f.clone(), escalation));
                    }
                    Active { finding: f, held: before.held + 1, absent: 0, announced }
                }
                None => {
                    update.started.push(f.clone());
                    let announced = Announced::of(&f, at);
                    Active { finding: f, held: 1, absent: 0, announced }
                }
            };
            next.insert(key, active);
        }
        for (key, mut a) in std::mem::take(&mut self.active) {
            match a.absent + 1 >= RESOLVE_AFTER {
                true => update.resolved.push((a.finding, a.held)),
                false => {
                    a.absent += 1;
                    next.insert(key, a);
                }
            }
        }
        self.active = next;
        update
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::analyze::evidence::{FdLeakEvidence, GhostEvidence};
    use crate::analyze::{Evidence, Severity, Subject};

    /// A ghost finding about pid 7 whose evidence says `fds`.
    fn finding(fds: u32) -> Finding {
        Finding {
            netns: None,
            severity: Severity::Warning,
            subject: Subject::Process { pid: 7, comm: "api".into() },
            evidence: Evidence::GhostSockets(GhostEvidence {
                ghost_sockets: 1,
                inodes: vec![9],
                fds: Some(fds),
            }),
        }
    }

    fn at(secs: f64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(1_000.0 + secs)
    }

    /// An fd leak of pid 7 with `fds` of 1024 and this ETA.
    fn leak(severity: Severity, fds: u32, eta_s: Option<f64>) -> Finding {
        Finding {
            netns: None,
            severity,
            subject: Subject::Process { pid: 7, comm: "api".into() },
            evidence: Evidence::FdLeak(FdLeakEvidence {
                fds: Some(fds),
                growth: 10.0,
                rate_per_s: 1.0,
                window_s: 10.0,
                samples: 5,
                fd_limit: Some(1024),
                eta_s,
                sockets: 0,
                close_wait: 0,
                start: 0.0,
            }),
        }
    }

    #[test]
    fn findings_start_once_and_resolve_after_two_absent_samples() {
        let mut t = FindingTracker::default();
        let u = t.update(vec![finding(10)], at(0.0));
        assert_eq!((u.started.len(), u.resolved.len()), (1, 0));
        let u = t.update(vec![], at(1.0));
        assert_eq!((u.started.len(), u.resolved.len()), (0, 0), "one absent sample is not a resolution");
        let u = t.update(vec![finding(20)], at(2.0));
        assert!(u.started.is_empty() && u.escalated.is_empty(), "still the same finding, nothing new");
        t.update(vec![], at(3.0));
        let u = t.update(vec![], at(4.0));
        assert_eq!(u.resolved.len(), 1);
        assert_eq!(u.resolved[0].1, 2, "held two samples");
        assert_eq!(t.fired.len(), 1);
        assert_eq!(t.fired[0], finding(20), "the summary keeps the latest evidence");
    }

    fn reasons(u: &FindingUpdate) -> Vec<Reason> {
        u.escalated.iter().map(|(_, e)| e.reason).collect()
    }

    #[test]
    fn a_rising_severity_is_announced_again_but_not_a_flapping_one() {
        let mut t = FindingTracker::default();
        t.update(vec![leak(Severity::Warning, 900, Some(124.0))], at(0.0));
        let u = t.update(vec![leak(Severity::Critical, 901, Some(123.0))], at(1.0));
        assert_eq!(reasons(&u), vec![Reason::SeverityRose]);
        assert_eq!(u.escalated[0].1.was, Severity::Warning);
        t.update(vec![leak(Severity::Warning, 902, Some(122.0))], at(2.0));
        let u = t.update(vec![leak(Severity::Critical, 903, Some(121.0))], at(3.0));
        assert!(u.escalated.is_empty(), "critical was announced already");
    }

    #[test]
    fn a_reached_limit_is_never_silent() {
        let mut t = FindingTracker::default();
        t.update(vec![leak(Severity::Critical, 1000, Some(24.0))], at(0.0));
        let u = t.update(vec![leak(Severity::Critical, 1024, Some(0.0))], at(24.0));
        assert_eq!(reasons(&u), vec![Reason::LimitReached], "critical already, yet EMFILE is news");
        let u = t.update(vec![leak(Severity::Critical, 1024, Some(0.0))], at(25.0));
        assert!(u.escalated.is_empty(), "once");
    }

    #[test]
    fn an_eta_is_announced_when_it_appears_and_when_it_moves_by_a_third() {
        let mut t = FindingTracker::default();
        t.update(vec![leak(Severity::Warning, 500, None)], at(0.0));
        let u = t.update(vec![leak(Severity::Warning, 510, Some(1000.0))], at(10.0));
        assert_eq!(reasons(&u), vec![Reason::EtaChanged], "a first ETA");
        let u = t.update(vec![leak(Severity::Warning, 610, Some(820.0))], at(110.0));
        assert!(u.escalated.is_empty(), "900 s expected, 820 s now: within 30 %");
        let u = t.update(vec![leak(Severity::Warning, 620, Some(500.0))], at(120.0));
        assert_eq!(reasons(&u), vec![Reason::EtaChanged], "890 s expected, 500 s now: the leak sped up");
        let e = &u.escalated[0].1;
        assert_eq!(e.expected_eta_s, Some(890.0));
        let u = t.update(vec![leak(Severity::Warning, 630, Some(480.0))], at(130.0));
        assert!(u.escalated.is_empty(), "measured from the new announcement: 490 s expected");
    }
}
