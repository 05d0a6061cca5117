//! Counts for overviews: sockets by protocol and state, and per process.

use std::collections::BTreeMap;

use crate::model::{Endpoint, FdLimit, Proto, RunState, Snapshot, Socket, State};

/// Sockets of one protocol, by state, in kernel state order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateCounts(pub BTreeMap<State, u32>);

impl StateCounts {
    pub fn add(&mut self, state: State) {
        self.add_n(state, 1);
    }

    pub fn add_n(&mut self, state: State, n: u32) {
        *self.0.entry(state).or_insert(0) += n;
    }

    pub fn get(&self, state: State) -> u32 {
        self.0.get(&state).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u32 {
        self.0.values().sum()
    }
}

/// Per protocol, per state.
pub(crate) fn by_proto_and_state<'a>(
    sockets: impl Iterator<Item = &'a Socket>,
) -> BTreeMap<Proto, StateCounts> {
    let mut out: BTreeMap<Proto, StateCounts> = BTreeMap::new();
    for s in sockets {
        out.entry(s.proto).or_default().add(s.state);
    }
    out
}

/// Per owning pid, the states of `sockets` it holds. One owner lookup per
/// socket, counted in runs: consecutive sockets of one process in one state
/// are the rule in a dump, so a million sockets cost a million lookups and
/// a few map updates per process, not a million.
///
/// At a million held sockets the lookups (two cache misses each) take a
/// tenth of a second; the sockets are split over the cores and the maps
/// merged.
pub(crate) fn states_by_owner(snapshot: &Snapshot, sockets: &[&Socket]) -> BTreeMap<u32, StateCounts> {
    const PER_THREAD: usize = 50_000;
    // Sockets without an inode (TIME-WAIT, SYN-RECV) cost no lookup: a host
    // with a hundred thousand of them is no reason to start threads.
    let held = sockets.iter().filter(|s| s.inode != 0).count();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(held / PER_THREAD);
    states_by_owner_on(snapshot, sockets, threads)
}

/// [`states_by_owner`] over `threads` threads (one: here).
fn states_by_owner_on(
    snapshot: &Snapshot,
    sockets: &[&Socket],
    threads: usize,
) -> BTreeMap<u32, StateCounts> {
    if threads <= 1 {
        return states_by_owner_here(snapshot, sockets);
    }
    let parts: Vec<BTreeMap<u32, StateCounts>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sockets
            .chunks(sockets.len().div_ceil(threads))
            .map(|part| scope.spawn(move || states_by_owner_here(snapshot, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut map: BTreeMap<u32, StateCounts> = BTreeMap::new();
    for (pid, counts) in parts.into_iter().flatten() {
        let merged = map.entry(pid).or_default();
        for (state, n) in counts.0 {
            merged.add_n(state, n);
        }
    }
    map
}

fn states_by_owner_here(snapshot: &Snapshot, sockets: &[&Socket]) -> BTreeMap<u32, StateCounts> {
    let mut map: BTreeMap<u32, StateCounts> = BTreeMap::new();
    let mut flush = |run: Option<(u32, State, u32)>| {
        if let Some((pid, state, n)) = run {
            map.entry(pid).or_default().add_n(state, n);
        }
    };
    let mut run: Option<(u32, State, u32)> = None;
    for s in sockets {
        for pid in snapshot.owner_pid_iter(s.inode) {
            match &mut run {
                Some((p, state, n)) if *p == pid && *state == s.state => *n += 1,
                _ => flush(run.replace((pid, s.state, 1))),
            }
        }
    }
    flush(run);
    map
}

/// One process's sockets.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProcessSummary {
    pub pid: u32,
    pub comm: String,
    pub states: StateCounts,
    pub fds: Option<u32>,
    pub fd_limit: Option<FdLimit>,
    /// Its run state (`T` stopped, `D` uninterruptible...), when read.
    pub state: Option<RunState>,
    /// What it listens on (TCP and UNIX listeners, unconnected UDP sockets).
    pub listening: Vec<(Proto, Endpoint)>,
}

impl ProcessSummary {
    pub(crate) fn close_wait(&self) -> u32 {
        self.states.get(State::CloseWait)
    }
}

/// Processes owning at least one of `sockets`: most CLOSE-WAIT first, then most sockets.
pub(crate) fn by_process<'a>(
    snapshot: &Snapshot,
    sockets: impl Iterator<Item = &'a Socket>,
) -> Vec<ProcessSummary> {
    let mut map: BTreeMap<u32, ProcessSummary> = BTreeMap::new();
    for s in sockets {
        for pid in snapshot.owner_pids(s.inode) {
            let entry = map.entry(pid).or_insert_with(|| empty_summary(snapshot, pid));
            entry.states.add(s.state);
            if s.is_listener() || (s.proto == Proto::Udp && s.state == State::Close) {
                entry.listening.push((s.proto, s.local.clone()));
            }
        }
    }
    let mut out: Vec<ProcessSummary> = map.into_values().collect();
    out.sort_by(|a, b| {
        b.close_wait()
            .cmp(&a.close_wait())
            .then(b.states.total().cmp(&a.states.total()))
            .then(a.pid.cmp(&b.pid))
    });
    out
}

/// A process that holds none of the selected sockets.
pub(crate) fn without_sockets(p: &crate::model::Process) -> ProcessSummary {
    ProcessSummary {
        pid: p.pid,
        comm: p.comm.clone(),
        states: StateCounts::default(),
        fds: p.fd_count,
        fd_limit: p.fd_limit,
        state: p.state,
        listening: Vec::new(),
    }
}

fn empty_summary(snapshot: &Snapshot, pid: u32) -> ProcessSummary {
    let process = snapshot.processes.get(&pid);
    ProcessSummary {
        pid,
        comm: snapshot.comm(pid).to_string(),
        states: StateCounts::default(),
        fds: process.and_then(|p| p.fd_count),
        fd_limit: process.and_then(|p| p.fd_limit),
        state: process.and_then(|p| p.state),
        listening: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::SnapshotBuilder;

    /// Counting in runs gives what counting socket by socket gives, with
    /// runs broken by state, by process and by sockets of two holders.
    #[test]
    fn states_by_owner_counts_every_socket_of_every_holder() {
        let snap = SnapshotBuilder::new()
            .process(10, "api", 10, 1024)
            .process(20, "worker", 10, 1024)
            .many(3, State::Established, "10.0.0.1", "10.0.0.2:443", &[10])
            .tcp(State::CloseWait, "10.0.0.1:9000", "10.0.0.3:1", &[10])
            .many(2, State::Established, "10.0.0.4", "10.0.0.2:443", &[10, 20])
            .tcp(State::Established, "10.0.0.1:9001", "10.0.0.3:2", &[20])
            .tcp(State::TimeWait, "10.0.0.1:9002", "10.0.0.3:3", &[])
            .build();
        let sockets: Vec<&Socket> = snap.sockets.iter().collect();
        let mut naive: BTreeMap<u32, StateCounts> = BTreeMap::new();
        for s in &sockets {
            for pid in snap.owner_pids(s.inode) {
                naive.entry(pid).or_default().add(s.state);
            }
        }
        let counted = states_by_owner(&snap, &sockets);
        assert_eq!(counted, naive);
        assert_eq!(counted[&10].get(State::Established), 5);
        assert_eq!(counted[&10].get(State::CloseWait), 1);
        assert_eq!(counted[&20].total(), 3);
        assert_eq!(counted.len(), 2);
    }

    /// Split over threads, the counts are those of one pass.
    #[test]
    fn states_by_owner_of_many_sockets_merges_the_parts() {
        let snap = SnapshotBuilder::new()
            .process(10, "api", 10, 1024)
            .process(20, "worker", 10, 1024)
            .many(70_000, State::Established, "10.0.0.1", "10.0.0.2:443", &[10])
            .many(40_000, State::CloseWait, "10.0.0.3", "10.0.0.2:443", &[10, 20])
            .build();
        let sockets: Vec<&Socket> = snap.sockets.iter().collect();
        let counted = states_by_owner(&snap, &sockets);
        assert_eq!(counted, states_by_owner_here(&snap, &sockets));
        for threads in [2, 3] {
            assert_eq!(states_by_owner_on(&snap, &sockets, threads), counted, "{threads} threads");
        }
        assert_eq!(counted[&10].get(State::Established), 70_000);
        assert_eq!(counted[&10].get(State::CloseWait), 40_000);
        assert_eq!(counted[&20].total(), 40_000);
    }
}
