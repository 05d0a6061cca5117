//! The selected part of a snapshot and its analysis, ready to format.
//!
//! Built once per output; every formatter (table, JSON, dashboard panes)
//! reads the same selected sockets, listeners, findings and processes.

use std::collections::{BTreeMap, HashSet};

use super::netns::{self, NetnsTrouble};
use super::summary::{self, StateCounts};
use super::{Analysis, Finding, Listener, Subject};
use crate::model::{Process, Selection, Snapshot, Socket, State};

pub struct Report<'a> {
    pub snapshot: &'a Snapshot,
    pub sockets: Vec<&'a Socket>,
    pub listeners: Vec<Listener>,
    /// Worst first.
    pub findings: Vec<Finding>,
    /// Processes holding a selected socket, named by a finding, or named by
    /// the user (`--pid`, `--process`), by pid.
    pub processes: Vec<&'a Process>,
    /// All-namespace snapshots: every namespace, worst trouble first
    /// (counting the selected listeners and findings); empty otherwise.
    pub namespaces: Vec<NetnsTrouble>,
    /// Per process holding a selected socket, those sockets by state.
    pub owner_states: BTreeMap<u32, StateCounts>,
}

impl<'a> Report<'a> {
    pub fn build(snapshot: &'a Snapshot, selection: &Selection, analysis: Analysis) -> Report<'a> {
        let sockets: Vec<&Socket> =
            snapshot.sockets.iter().filter(|s| selection.keeps_socket(s, snapshot)).collect();
        let owner_states = summary::states_by_owner(snapshot, &sockets);
        let owning = |pid| owner_states.contains_key(&pid);
        let findings: Vec<Finding> = analysis
            .findings
            .into_iter()
            .filter(|f| keeps_finding(selection, f, snapshot, &owning))
            .collect();
        let named: HashSet<u32> = findings.iter().flat_map(|f| f.subject.pids().to_vec()).collect();
        let named_by_user = selection.pid.is_some() || selection.process.is_some();
        let processes = snapshot
            .processes
            .values()
            .filter(|p| named_by_user || owning(p.pid) || named.contains(&p.pid))
            .filter(|p| selection.keeps_process(p, snapshot))
            .collect();
        let listeners: Vec<Listener> =
            analysis.listeners.into_iter().filter(|l| keeps_listener(selection, l, snapshot)).collect();
        let namespaces = netns::trouble(snapshot, &listeners, &findings);
        Report { snapshot, sockets, listeners, findings, processes, namespaces, owner_states }
    }
}

/// Whether a listener is shown.
pub(crate) fn keeps_listener(selection: &Selection, l: &Listener, snapshot: &Snapshot) -> bool {
    let state_ok = selection.shown_states(l.proto).is_none_or(|set| set.contains(State::Listen));
    state_ok
        && selection.port.is_none_or(|p| l.local.port() == Some(p))
        && selection.keeps_owners(l.inode, snapshot)
}

/// Whether a finding concerns the selection. `owning_pids` are the pids
/// holding at least one selected socket.
pub(crate) fn keeps_finding(
    selection: &Selection,
    f: &Finding,
    snapshot: &Snapshot,
    owning_pids: &dyn Fn(u32) -> bool,
) -> bool {
    let port_ok = |port: Option<u16>| selection.port.is_none_or(|p| port == Some(p));
    match &f.subject {
        Subject::Socket { inode, local, .. } => {
            port_ok(local.port()) && selection.keeps_owners(*inode, snapshot)
        }
        Subject::Process { pid, .. } => {
            selection.keeps_pid(*pid, snapshot) && (!selection.narrows_sockets() || owning_pids(*pid))
        }
        Subject::Destination(addr) => {
            port_ok(Some(addr.port()))
                && (!selection.filters_owners()
                    || f.subject.pids().iter().any(|&pid| selection.keeps_pid(pid, snapshot)))
        }
        Subject::Host => !selection.filters_owners() && selection.port.is_none(),
    }
}
