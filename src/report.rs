//! The selected part of a snapshot and its analysis, ready to format.
//!
//! Built once per output; every formatter (table, JSON, dashboard panes)
//! reads the same selected sockets, listeners, findings and processes.

use std::collections::HashSet;

use crate::analyze::{Analysis, Finding, Listener};
use crate::model::{Process, Snapshot, Socket};
use crate::select::Selection;

pub struct Report<'a> {
    pub snapshot: &'a Snapshot,
    pub sockets: Vec<&'a Socket>,
    pub listeners: Vec<Listener>,
    /// Worst first.
    pub findings: Vec<Finding>,
    /// Processes holding a selected socket, named by a finding, or named by
    /// the user (`--pid`, `--process`), by pid.
    pub processes: Vec<&'a Process>,
}

impl<'a> Report<'a> {
    pub fn build(snapshot: &'a Snapshot, selection: &Selection, analysis: Analysis) -> Report<'a> {
        let sockets: Vec<&Socket> =
            snapshot.sockets.iter().filter(|s| selection.keeps_socket(s, snapshot)).collect();
        let owning: HashSet<u32> =
            sockets.iter().flat_map(|s| snapshot.owners.owners(s.inode)).map(|o| o.pid).collect();
        let findings: Vec<Finding> =
            analysis.findings.into_iter().filter(|f| selection.keeps_finding(f, snapshot, &owning)).collect();
        let named: HashSet<u32> = findings.iter().flat_map(|f| f.subject.pids().to_vec()).collect();
        let named_by_user = selection.pid.is_some() || selection.process.is_some();
        let processes = snapshot
            .processes
            .values()
            .filter(|p| named_by_user || owning.contains(&p.pid) || named.contains(&p.pid))
            .filter(|p| selection.keeps_process(p, snapshot))
            .collect();
        let listeners =
            analysis.listeners.into_iter().filter(|l| selection.keeps_listener(l, snapshot)).collect();
        Report { snapshot, sockets, listeners, findings, processes }
    }
}
