//! What the user asked to see, validated once into a typed value.
//!
//! Protocol and state choices are pushed down to the kernel (a LISTEN-only
//! dump is several times cheaper, see `collect::Request::for_selection`);
//! port, pid and process-name choices are applied after owners are known.
//! Findings are computed on everything collected and then kept when they
//! concern what was selected (`analyze::report`), so a listener's SYN queue
//! still counts its ownerless SYN-RECV rows under `--pid`.

use super::{Process, Proto, Snapshot, Socket, State, StateSet};

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
}

impl Selection {
    /// Every protocol, every state.
    pub fn all() -> Selection {
        Selection { tcp: true, udp: true, unix: true, ..Selection::default() }
    }

    /// The states shown for `proto`, or `None` for all.
    pub fn shown_states(&self, proto: Proto) -> Option<StateSet> {
        if self.listening {
            let state = if proto == Proto::Udp { State::Close } else { State::Listen };
            return Some(StateSet::of(&[state]));
        }
        self.states
    }

    /// The kernel-side state filter for `proto`: what is shown, plus SYN-RECV
    /// whenever TCP LISTEN is shown (to count each listener's SYN queue).
    pub fn kernel_states(&self, proto: Proto) -> StateSet {
        match self.shown_states(proto) {
            None => StateSet::ALL,
            Some(set) if proto == Proto::Tcp && set.contains(State::Listen) => set.with(State::SynRecv),
            Some(set) => set,
        }
    }

    /// Whether owners are filtered (`--pid`, `--process`).
    pub fn filters_owners(&self) -> bool {
        self.pid.is_some() || self.process.is_some()
    }

    /// Whether only some sockets are selected (a protocol, states, `-l`, a
    /// port): then a process is concerned only while it holds one of them.
    pub fn narrows_sockets(&self) -> bool {
        self.port.is_some() || self.listening || self.states.is_some() || !(self.tcp && self.udp && self.unix)
    }

    /// Whether the process `pid` passes `--pid` and `--process`.
    pub fn keeps_pid(&self, pid: u32, snapshot: &Snapshot) -> bool {
        self.pid.is_none_or(|p| p == pid)
            && self.process.as_deref().is_none_or(|name| snapshot.comm(pid).contains(name))
    }

    /// Whether some holder of `inode` passes the owner filters (always, without them).
    pub fn keeps_owners(&self, inode: u64, snapshot: &Snapshot) -> bool {
        !self.filters_owners() || snapshot.owner_pid_iter(inode).any(|pid| self.keeps_pid(pid, snapshot))
    }

    /// Whether a socket is shown.
    pub fn keeps_socket(&self, s: &Socket, snapshot: &Snapshot) -> bool {
        let state_ok = self.shown_states(s.proto).is_none_or(|set| set.contains(s.state));
        let port_ok = self.port.is_none_or(|p| s.local.port() == Some(p) || s.remote.port() == Some(p));
        state_ok && port_ok && self.keeps_owners(s.inode, snapshot)
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
