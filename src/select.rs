//! What the user asked to see, validated once into a typed value.
//!
//! Protocol and state choices are pushed down to the kernel (a LISTEN-only
//! dump is several times cheaper); port, pid and process-name choices are
//! applied here, after owners are known. Findings are computed on everything
//! collected and then kept when they concern what was selected, so a
//! listener's SYN queue still counts its ownerless SYN-RECV rows under `--pid`.

use std::collections::HashSet;

use crate::analyze::{Finding, Listener, Subject};
use crate::collect::{NetnsTarget, Request, ScanOptions, ScanScope};
use crate::model::{Process, Proto, Snapshot, Socket, State, StateSet};

/// A validated selection of sockets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub tcp: bool,
    pub udp: bool,
    pub unix: bool,
    /// `-l`: listeners (TCP/UNIX LISTEN, unconnected UDP).
    pub listening: bool,
    /// `--state`: explicit states.
    pub states: Option<StateSet>,
    pub port: Option<u16>,
    pub pid: Option<u32>,
    pub process: Option<String>,
    pub netns: NetnsTarget,
}

impl Selection {
    /// Every protocol, every state.
    pub fn all() -> Selection {
        Selection { tcp: true, udp: true, unix: true, ..Selection::default() }
    }

    /// The states shown for `proto`, or `None` for all.
    fn shown_states(&self, proto: Proto) -> Option<StateSet> {
        if self.listening {
            let state = if proto == Proto::Udp { State::Close } else { State::Listen };
            return Some(StateSet::of(&[state]));
        }
        self.states
    }

    /// The kernel-side state filter for `proto`: what is shown, plus SYN-RECV
    /// whenever TCP LISTEN is shown (to count each listener's SYN queue).
    fn kernel_states(&self, proto: Proto) -> StateSet {
        match self.shown_states(proto) {
            None => StateSet::ALL,
            Some(set) if proto == Proto::Tcp && set.contains(State::Listen) => set.with(State::SynRecv),
            Some(set) => set,
        }
    }

    /// The collection request for this selection.
    pub fn request(&self, tcp_info: bool, cmdline: bool) -> Request {
        let pick = |on: bool, proto| on.then(|| self.kernel_states(proto));
        Request {
            tcp: pick(self.tcp, Proto::Tcp),
            udp: pick(self.udp, Proto::Udp),
            unix: pick(self.unix, Proto::UnixStream),
            tcp_info,
            owners: Some(ScanOptions { scope: self.scan_scope(), cmdline }),
            netns: self.netns.clone(),
        }
    }

    fn scan_scope(&self) -> ScanScope {
        match (&self.pid, &self.process) {
            (Some(pid), _) => ScanScope::Pids(vec![*pid]),
            (None, Some(name)) => ScanScope::CommContains(name.clone()),
            (None, None) => ScanScope::All,
        }
    }

    fn filters_owners(&self) -> bool {
        self.pid.is_some() || self.process.is_some()
    }

    fn keeps_pid(&self, pid: u32, snapshot: &Snapshot) -> bool {
        self.pid.is_none_or(|p| p == pid)
            && self.process.as_deref().is_none_or(|name| snapshot.comm(pid).contains(name))
    }

    fn keeps_owners(&self, inode: u64, snapshot: &Snapshot) -> bool {
        !self.filters_owners() || snapshot.owner_pid_iter(inode).any(|pid| self.keeps_pid(pid, snapshot))
    }

    /// Whether a socket is shown.
    pub fn keeps_socket(&self, s: &Socket, snapshot: &Snapshot) -> bool {
        let state_ok = self.shown_states(s.proto).is_none_or(|set| set.contains(s.state));
        let port_ok = self.port.is_none_or(|p| s.local.port() == Some(p) || s.remote.port() == Some(p));
        state_ok && port_ok && self.keeps_owners(s.inode, snapshot)
    }

    /// Whether a listener is shown.
    pub fn keeps_listener(&self, l: &Listener, snapshot: &Snapshot) -> bool {
        let state_ok = self.shown_states(l.proto).is_none_or(|set| set.contains(State::Listen));
        state_ok
            && self.port.is_none_or(|p| l.local.port() == Some(p))
            && self.keeps_owners(l.inode, snapshot)
    }

    /// Whether a finding concerns the selection. `owning_pids` are the pids
    /// holding at least one selected socket.
    pub fn keeps_finding(&self, f: &Finding, snapshot: &Snapshot, owning_pids: &HashSet<u32>) -> bool {
        match &f.subject {
            Subject::Socket { inode, local, .. } => {
                self.port.is_none_or(|p| local.port() == Some(p)) && self.keeps_owners(*inode, snapshot)
            }
            Subject::Process { pid, .. } => {
                self.keeps_pid(*pid, snapshot) && (self.port.is_none() || owning_pids.contains(pid))
            }
            Subject::Destination(addr) => {
                self.port.is_none_or(|p| addr.port() == p)
                    && (!self.filters_owners()
                        || f.subject.pids().iter().any(|&pid| self.keeps_pid(pid, snapshot)))
            }
            Subject::Host => !self.filters_owners() && self.port.is_none(),
        }
    }

    /// Whether a process is shown in process lists.
    pub fn keeps_process(&self, p: &Process, snapshot: &Snapshot) -> bool {
        self.keeps_pid(p.pid, snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::SnapshotBuilder;

    #[test]
    fn listening_asks_the_kernel_for_listen_and_syn_recv_only() {
        let sel = Selection { listening: true, ..Selection::all() };
        let req = sel.request(false, false);
        assert_eq!(req.tcp, Some(StateSet::of(&[State::Listen, State::SynRecv])));
        assert_eq!(req.udp, Some(StateSet::of(&[State::Close])));
        assert_eq!(req.unix, Some(StateSet::of(&[State::Listen])));
    }

    #[test]
    fn unselected_protocols_are_not_dumped() {
        let sel = Selection { tcp: true, ..Selection::default() };
        let req = sel.request(false, false);
        assert!(req.udp.is_none() && req.unix.is_none());
        assert_eq!(req.tcp, Some(StateSet::ALL));
    }

    #[test]
    fn port_matches_either_end_and_pid_matches_owners() {
        let snap = SnapshotBuilder::new()
            .process(1, "a", 5, 100)
            .process(2, "b", 5, 100)
            .tcp(State::Established, "10.0.0.1:40000", "10.0.0.2:5432", &[1])
            .tcp(State::Established, "10.0.0.1:5432", "10.0.0.3:40001", &[2])
            .tcp(State::Established, "10.0.0.1:40002", "10.0.0.4:80", &[2])
            .build();
        let by_port = Selection { port: Some(5432), ..Selection::all() };
        assert_eq!(snap.sockets.iter().filter(|s| by_port.keeps_socket(s, &snap)).count(), 2);
        let by_pid = Selection { pid: Some(2), ..Selection::all() };
        assert_eq!(snap.sockets.iter().filter(|s| by_pid.keeps_socket(s, &snap)).count(), 2);
        let by_name = Selection { process: Some("a".into()), ..Selection::all() };
        assert_eq!(snap.sockets.iter().filter(|s| by_name.keeps_socket(s, &snap)).count(), 1);
    }
}
