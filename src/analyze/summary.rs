//! Counts for overviews: sockets by protocol and state, and per process.

use std::collections::BTreeMap;

use crate::model::{Endpoint, FdLimit, Proto, RunState, Snapshot, Socket, State};

/// Sockets of one protocol, by state, in kernel state order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateCounts(pub BTreeMap<State, u32>);

impl StateCounts {
    pub fn add(&mut self, state: State) {
        *self.0.entry(state).or_insert(0) += 1;
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
