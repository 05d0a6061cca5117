//! A short history of snapshots, reduced to the numbers trends need.
//!
//! Keeping whole snapshots (100k sockets each) for minutes would cost
//! gigabytes; a [`Sample`] keeps per-listener queues and drops, state totals,
//! per-process CLOSE-WAIT and fd counts, and the kernel counters that matter.
//! Rates and series for sparklines are computed here, so front-ends only draw.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::Analysis;
use crate::model::{Endpoint, Proto, Snapshot, State, TimerKind};

/// Identifies one listening socket across snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId {
    pub proto: Proto,
    pub local: Endpoint,
    pub inode: u64,
}

impl ListenerId {
    pub fn new(proto: Proto, local: &Endpoint, inode: u64) -> ListenerId {
        ListenerId { proto, local: local.clone(), inode }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerSample {
    pub accept_queue: u32,
    pub backlog: u32,
    pub syn_recv: u32,
    pub drops: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessSample {
    pub comm: String,
    pub sockets: u32,
    pub close_wait: u32,
    pub fds: Option<u32>,
    pub fd_limit: Option<u64>,
}

/// Kernel counters kept in every sample.
pub(crate) const SAMPLED_COUNTERS: &[(&str, &str)] = &[
    ("TcpExt", "ListenOverflows"),
    ("TcpExt", "ListenDrops"),
    ("TcpExt", "TCPReqQFullDrop"),
    ("TcpExt", "TCPReqQFullDoCookies"),
    ("TcpExt", "SyncookiesSent"),
    ("TcpExt", "SyncookiesRecv"),
    ("TcpExt", "SyncookiesFailed"),
    ("TcpExt", "TCPTimeWaitOverflow"),
    ("Udp", "RcvbufErrors"),
];

/// One point in time.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub at: SystemTime,
    pub listeners: HashMap<ListenerId, ListenerSample>,
    /// TCP sockets by state.
    pub tcp_states: BTreeMap<State, u32>,
    pub processes: HashMap<u32, ProcessSample>,
    /// `(section, name)` → value, for [`SAMPLED_COUNTERS`].
    pub counters: HashMap<(&'static str, &'static str), i64>,
    /// TIME-WAIT sockets per destination.
    pub time_wait: HashMap<SocketAddr, u32>,
    /// TIME-WAIT sockets per destination that arrived since the previous sample
    /// (dated by their timers; see [`arrived_within`]).
    pub time_wait_new: HashMap<SocketAddr, u32>,
    /// Ghost socket inodes per pid (held TCP sockets no dump shows, dead
    /// connections), when checked.
    pub ghosts: HashMap<u32, Vec<u64>>,
    /// Never-connected socket inodes per pid (held, in no table, no segment
    /// ever exchanged), when checked.
    pub never_connected: HashMap<u32, Vec<u64>>,
}

impl Sample {
    pub fn tcp(&self, state: State) -> u32 {
        self.tcp_states.get(&state).copied().unwrap_or(0)
    }
}

/// Samples over a sliding window.
#[derive(Clone, Debug)]
pub struct History {
    samples: VecDeque<Sample>,
    window: Duration,
    /// Hashes of the TIME-WAIT 4-tuples of the latest sample, to count new ones.
    time_wait_tuples: HashSet<u64>,
}

impl History {
    pub fn new(window: Duration) -> History {
        History { samples: VecDeque::new(), window, time_wait_tuples: HashSet::new() }
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn latest(&self) -> Option<&Sample> {
        self.samples.back()
    }

    pub fn previous(&self) -> Option<&Sample> {
        self.samples.iter().rev().nth(1)
    }

    pub fn samples(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples.iter()
    }

    /// The samples taken within `window` of the latest one, oldest first.
    pub fn window(&self, window: Duration) -> Vec<&Sample> {
        let Some(newest) = self.latest().map(|s| s.at) else { return Vec::new() };
        self.samples.iter().filter(|s| newest.duration_since(s.at).is_ok_and(|age| age <= window)).collect()
    }

    /// Reduces a snapshot into a sample and appends it, dropping old ones.
    pub fn push(&mut self, snapshot: &Snapshot, analysis: &Analysis) {
        let since = self.latest().and_then(|last| snapshot.taken_at.duration_since(last.at).ok());
        let tuples = time_wait_tuples(snapshot);
        let sample = reduce(snapshot, analysis, |row| match (since, row.timer_ms) {
            // The row's remaining TIME-WAIT timer dates its arrival exactly.
            (Some(since), Some(remaining)) => arrived_within(remaining, since),
            // No timer: new if its 4-tuple was not there last time.
            (Some(_), None) => !self.time_wait_tuples.contains(&row.hash),
            (None, _) => false,
        });
        self.time_wait_tuples = tuples.into_iter().map(|row| row.hash).collect();
        self.samples.push_back(sample);
        self.evict();
    }

    /// Appends an already reduced sample (tests, replays).
    pub fn push_sample(&mut self, sample: Sample) {
        self.samples.push_back(sample);
        self.evict();
    }

    fn evict(&mut self) {
        let Some(newest) = self.samples.back().map(|s| s.at) else { return };
        while let Some(oldest) = self.samples.front() {
            match newest.duration_since(oldest.at) {
                Ok(age) if age > self.window => {
                    self.samples.pop_front();
                }
                _ => break,
            }
        }
    }

    /// Per-second change of `value` between the last two samples.
    pub fn rate(&self, value: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
        let (prev, last) = (self.previous()?, self.latest()?);
        per_second(value(prev)?, value(last)?, prev.at, last.at)
    }

    /// Per-second change of a kernel counter between the last two samples.
    pub fn counter_rate(&self, section: &'static str, name: &'static str) -> Option<f64> {
        self.rate(|s| s.counters.get(&(section, name)).map(|v| *v as f64))
    }

    /// Per-second growth of a listener's drop counter between the last two samples.
    pub fn listener_drop_rate(&self, id: &ListenerId) -> Option<f64> {
        self.rate(|s| s.listeners.get(id).and_then(|l| l.drops).map(f64::from))
    }

    /// One value per sample (oldest first) for sparklines; missing values are 0.
    pub fn series(&self, value: impl Fn(&Sample) -> Option<u64>) -> Vec<u64> {
        self.samples.iter().map(|s| value(s).unwrap_or(0)).collect()
    }

    /// Per-second rates between consecutive samples (oldest first).
    pub fn rate_series(&self, value: impl Fn(&Sample) -> Option<f64>) -> Vec<u64> {
        let pairs = self.samples.iter().zip(self.samples.iter().skip(1));
        pairs
            .map(|(a, b)| match (value(a), value(b)) {
                (Some(x), Some(y)) => per_second(x, y, a.at, b.at).map_or(0, |r| r.max(0.0).round() as u64),
                _ => 0,
            })
            .collect()
    }
}

fn per_second(before: f64, after: f64, t0: SystemTime, t1: SystemTime) -> Option<f64> {
    let dt = t1.duration_since(t0).ok()?.as_secs_f64();
    (dt > 0.0).then(|| (after - before) / dt)
}

fn tuple_hash(local: &Endpoint, remote: &Endpoint) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    local.hash(&mut h);
    remote.hash(&mut h);
    h.finish()
}

/// How long Linux keeps a socket in TIME-WAIT (`TCP_TIMEWAIT_LEN`, not
/// `tcp_fin_timeout`).
pub(crate) const TIME_WAIT_LEN: Duration = Duration::from_secs(60);

/// Whether a TIME-WAIT row whose timer has `remaining_ms` left entered
/// TIME-WAIT within the last `since`: its timer started at 60 s, so it is
/// `60 s - remaining` old. Counting arrivals this way sees every short-lived
/// connection, where a difference of two dumps misses those that came and
/// went between them.
pub(crate) fn arrived_within(remaining_ms: u32, since: Duration) -> bool {
    let age = TIME_WAIT_LEN.saturating_sub(Duration::from_millis(u64::from(remaining_ms)));
    age < since
}

/// A TIME-WAIT row as history needs it.
struct TimeWaitRow {
    hash: u64,
    dest: SocketAddr,
    timer_ms: Option<u32>,
}

fn time_wait_tuples(snapshot: &Snapshot) -> Vec<TimeWaitRow> {
    snapshot
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Tcp && s.state == State::TimeWait)
        .filter_map(|s| {
            Some(TimeWaitRow {
                hash: tuple_hash(&s.local, &s.remote),
                dest: s.remote.ip()?,
                timer_ms: s.timer.filter(|t| t.kind == TimerKind::TimeWait).map(|t| t.expires_ms),
            })
        })
        .collect()
}

fn reduce(snapshot: &Snapshot, analysis: &Analysis, is_new: impl Fn(&TimeWaitRow) -> bool) -> Sample {
    let mut sample = Sample {
        at: snapshot.taken_at,
        listeners: analysis
            .listeners
            .iter()
            .map(|l| {
                let id = ListenerId::new(l.proto, &l.local, l.inode);
                let s = ListenerSample {
                    accept_queue: l.accept_queue,
                    backlog: l.backlog,
                    syn_recv: l.syn_recv,
                    drops: l.drops,
                };
                (id, s)
            })
            .collect(),
        tcp_states: BTreeMap::new(),
        processes: HashMap::new(),
        counters: SAMPLED_COUNTERS
            .iter()
            .filter_map(|&(sec, name)| snapshot.counters.get(sec, name).map(|v| ((sec, name), v)))
            .collect(),
        time_wait: HashMap::new(),
        time_wait_new: HashMap::new(),
        ghosts: HashMap::new(),
        never_connected: HashMap::new(),
    };
    for g in snapshot.ghosts.iter().flatten() {
        sample.ghosts.entry(g.pid).or_default().push(g.inode);
    }
    for g in snapshot.never_connected.iter().flatten() {
        sample.never_connected.entry(g.pid).or_default().push(g.inode);
    }
    for row in time_wait_tuples(snapshot) {
        *sample.time_wait.entry(row.dest).or_insert(0) += 1;
        if is_new(&row) {
            *sample.time_wait_new.entry(row.dest).or_insert(0) += 1;
        }
    }
    for s in snapshot.sockets.iter().filter(|s| s.proto == Proto::Tcp) {
        *sample.tcp_states.entry(s.state).or_insert(0) += 1;
    }
    add_processes(snapshot, &mut sample.processes);
    sample
}

/// Processes of the inspected namespace: those holding one of its sockets,
/// or living in it. A host process leaking fds is no finding of a watch on
/// some container's namespace.
fn add_processes(snapshot: &Snapshot, out: &mut HashMap<u32, ProcessSample>) {
    let holders: HashSet<u32> = snapshot
        .sockets
        .iter()
        .filter(|s| s.inode != 0)
        .flat_map(|s| snapshot.owner_pid_iter(s.inode))
        .collect();
    let in_scope = |p: &crate::model::Process| {
        holders.contains(&p.pid) || (snapshot.netns.inode.is_some() && p.netns == snapshot.netns.inode)
    };
    for p in snapshot.processes.values().filter(|p| in_scope(p)) {
        out.insert(
            p.pid,
            ProcessSample {
                comm: p.comm.clone(),
                sockets: p.socket_fds,
                close_wait: 0,
                fds: p.fd_count,
                fd_limit: p.fd_limit.and_then(|l| l.value()),
            },
        );
    }
    for s in snapshot.sockets.iter().filter(|s| s.proto == Proto::Tcp && s.state == State::CloseWait) {
        for pid in snapshot.owner_pids(s.inode) {
            if let Some(p) = out.get_mut(&pid) {
                p.close_wait += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Thresholds, analyze};
    use crate::fixture::SnapshotBuilder;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 + secs)
    }

    fn snap(secs: u64, overflows: i64, close_wait: u32, tw_from: u16, tw: u32) -> Snapshot {
        let mut b = SnapshotBuilder::new()
            .counter("TcpExt", "ListenOverflows", overflows)
            .process(7, "srv", 10 + close_wait, 1024)
            .many(close_wait, State::CloseWait, "10.0.0.1", "10.0.0.2:5432", &[7]);
        for i in 0..tw {
            let local = format!("10.0.0.1:{}", tw_from + i as u16);
            b = b.tcp(State::TimeWait, &local, "10.0.0.9:443", &[]);
        }
        let mut s = b.build();
        s.taken_at = at(secs);
        s
    }

    fn push(h: &mut History, s: Snapshot) {
        let a = analyze(&s, &Thresholds::default());
        h.push(&s, &a);
    }

    #[test]
    fn counter_rates_and_series() {
        let mut h = History::new(Duration::from_secs(300));
        push(&mut h, snap(0, 100, 1, 40000, 0));
        push(&mut h, snap(2, 110, 3, 40000, 0));
        assert_eq!(h.counter_rate("TcpExt", "ListenOverflows"), Some(5.0));
        assert_eq!(h.series(|s| s.processes.get(&7).map(|p| u64::from(p.close_wait))), vec![1, 3]);
        assert_eq!(
            h.rate_series(|s| s.counters.get(&("TcpExt", "ListenOverflows")).map(|v| *v as f64)),
            vec![5]
        );
    }

    #[test]
    fn new_time_wait_tuples_are_counted_once() {
        let mut h = History::new(Duration::from_secs(300));
        push(&mut h, snap(0, 0, 0, 40000, 10));
        push(&mut h, snap(1, 0, 0, 40005, 10));
        let dest: SocketAddr = "10.0.0.9:443".parse().unwrap();
        let last = h.latest().unwrap();
        assert_eq!(last.time_wait[&dest], 10);
        assert_eq!(last.time_wait_new[&dest], 5, "ports 40010..40014 are new");
    }

    #[test]
    fn time_wait_timers_date_arrivals_between_samples() {
        use crate::model::Timer;
        let dest: SocketAddr = "10.0.0.9:443".parse().unwrap();
        let at_t = |secs: u64, remaining: &[u32]| {
            let mut s = snap(secs, 0, 0, 40000, remaining.len() as u32);
            let rows = s.sockets.iter_mut().filter(|s| s.state == State::TimeWait);
            for (row, &ms) in rows.zip(remaining) {
                row.timer = Some(Timer { kind: TimerKind::TimeWait, expires_ms: ms });
            }
            s
        };
        let mut h = History::new(Duration::from_secs(300));
        push(&mut h, at_t(0, &[59_000, 30_000]));
        // 10 s later the two old rows have aged by 10 s and three rows are
        // younger than 10 s: they arrived since.
        push(&mut h, at_t(10, &[49_000, 20_000, 59_900, 55_000, 50_100]));
        assert_eq!(h.latest().unwrap().time_wait_new[&dest], 3);
    }

    #[test]
    fn arrival_is_judged_by_age() {
        assert!(arrived_within(59_500, Duration::from_secs(1)));
        assert!(!arrived_within(58_000, Duration::from_secs(1)));
        assert!(arrived_within(0, Duration::from_secs(61)));
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut h = History::new(Duration::from_secs(10));
        for t in 0..30 {
            push(&mut h, snap(t, 0, 0, 40000, 0));
        }
        assert_eq!(h.len(), 11);
    }
}
