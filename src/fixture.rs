//! Hand-built snapshots for tests: analysis rules and screens are checked
//! against exact, deterministic inputs instead of whatever a host has open.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::model::{
    Endpoint, Family, FdLimit, FdRef, Namespace, NetnsLabels, NetnsStatus, OwnerIndex, Process, Proto,
    RunState, SkMem, Snapshot, Socket, State, SysctlValue,
};

/// Builds a [`Snapshot`] socket by socket.
pub(crate) struct SnapshotBuilder {
    snapshot: Snapshot,
    refs: Vec<FdRef>,
    next_inode: u64,
    next_fd: u32,
    /// Namespace inode given to sockets and processes added from now on.
    netns: u64,
}

impl Default for SnapshotBuilder {
    fn default() -> Self {
        SnapshotBuilder::new()
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap_or_else(|_| panic!("fixture address {text}"))
}

impl SnapshotBuilder {
    /// A Linux-default host: somaxconn 4096, ports 32768-60999, syncookies on.
    pub(crate) fn new() -> SnapshotBuilder {
        let mut snapshot = Snapshot::empty();
        snapshot.taken_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        snapshot.host.hostname = "web-1".into();
        snapshot.host.kernel = "6.18.0".into();
        let b = SnapshotBuilder { snapshot, refs: Vec::new(), next_inode: 1000, next_fd: 3, netns: 0 };
        b.sysctl("net.core.somaxconn", SysctlValue::Int(4096))
            .sysctl("net.ipv4.tcp_max_syn_backlog", SysctlValue::Int(2048))
            .sysctl("net.ipv4.tcp_syncookies", SysctlValue::Int(1))
            .sysctl("net.ipv4.tcp_abort_on_overflow", SysctlValue::Int(0))
            .sysctl("net.ipv4.tcp_fin_timeout", SysctlValue::Int(60))
            .sysctl("net.ipv4.tcp_max_tw_buckets", SysctlValue::Int(262144))
            .sysctl("net.ipv4.tcp_tw_reuse", SysctlValue::Int(2))
            .sysctl("net.ipv4.tcp_timestamps", SysctlValue::Int(1))
            .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![32768, 60999]))
    }

    /// Takes the snapshot `secs` seconds after the builder's epoch (scripted time).
    pub(crate) fn at(mut self, secs: f64) -> SnapshotBuilder {
        self.snapshot.taken_at =
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000) + Duration::from_secs_f64(secs);
        self
    }

    /// The snapshot describes the network namespace `inode`.
    pub(crate) fn netns(mut self, inode: u64) -> SnapshotBuilder {
        self.snapshot.netns.inode = Some(inode);
        self
    }

    /// Sets the run state of process `pid` (added before) by its letter.
    pub(crate) fn run_state(mut self, pid: u32, letter: char) -> SnapshotBuilder {
        if let Some(p) = self.snapshot.processes.get_mut(&pid) {
            p.state = Some(RunState::from_letter(letter));
        }
        self
    }

    /// Puts process `pid` (added before) in the network namespace `inode`.
    pub(crate) fn in_netns(mut self, pid: u32, inode: u64) -> SnapshotBuilder {
        if let Some(p) = self.snapshot.processes.get_mut(&pid) {
            p.netns = Some(inode);
        }
        self
    }

    pub(crate) fn sysctl(mut self, name: &str, value: SysctlValue) -> SnapshotBuilder {
        self.snapshot.sysctls.0.insert(name.to_string(), value);
        self
    }

    pub(crate) fn counter(mut self, section: &str, name: &str, value: i64) -> SnapshotBuilder {
        let table = self.snapshot.counters.snmp.entry(section.to_string()).or_default();
        table.insert(name.to_string(), value);
        self
    }

    /// Sets a kernel counter of the namespace added last (all-namespace snapshots).
    pub(crate) fn netns_counter(mut self, section: &str, name: &str, value: i64) -> SnapshotBuilder {
        let inode = self.netns;
        if let Some(ns) = self.snapshot.namespaces.iter_mut().find(|n| n.inode == inode) {
            ns.counters.snmp.entry(section.to_string()).or_default().insert(name.to_string(), value);
        }
        self
    }

    /// Adds a collected namespace with these labels and the builder's sysctls,
    /// and puts the sockets and processes added next in it (all-namespace
    /// snapshots).
    pub(crate) fn namespace(mut self, inode: u64, labels: NetnsLabels) -> SnapshotBuilder {
        let mut ns = Namespace::new(4, inode, labels);
        ns.status = NetnsStatus::Collected;
        ns.sysctls = self.snapshot.sysctls.clone();
        ns.own = self.snapshot.namespaces.is_empty();
        self.snapshot.namespaces.push(ns);
        self.snapshot.namespaces.sort_by_key(|n| n.inode);
        self.snapshot.socket_netns.push(self.snapshot.sockets.len(), inode);
        self.netns = inode;
        self
    }

    pub(crate) fn process(mut self, pid: u32, comm: &str, fds: u32, limit: u64) -> SnapshotBuilder {
        self.snapshot.processes.insert(
            pid,
            Process {
                pid,
                comm: comm.to_string(),
                uid: Some(1000),
                fd_count: Some(fds),
                socket_fds: 0,
                fd_limit: Some(FdLimit::Limited(limit)),
                cmdline: None,
                netns: (self.netns != 0).then_some(self.netns),
                state: Some(RunState::Sleeping),
            },
        );
        self
    }

    /// Adds a socket; `owner` pids hold it (the inode is allocated here).
    pub(crate) fn socket(mut self, mut socket: Socket, owners: &[u32]) -> SnapshotBuilder {
        if socket.inode == 0 && !matches!(socket.state, State::TimeWait | State::SynRecv) {
            socket.inode = self.next_inode;
            self.next_inode += 1;
        }
        for &pid in owners {
            self.refs.push(FdRef { inode: socket.inode, pid, fd: self.next_fd });
            self.next_fd += 1;
            if let Some(p) = self.snapshot.processes.get_mut(&pid) {
                p.socket_fds += 1;
            }
        }
        if let Some(ns) = self.snapshot.namespaces.iter_mut().find(|n| n.inode == self.netns) {
            ns.sockets += 1;
        }
        self.snapshot.sockets.push(socket);
        self
    }

    pub(crate) fn tcp(self, state: State, local: &str, remote: &str, owners: &[u32]) -> SnapshotBuilder {
        let s = tcp_socket(state, local, remote, 0, 0);
        self.socket(s, owners)
    }

    /// Adds a connection waiting in an accept queue: inode 0 (no file until
    /// `accept()`), ESTAB, or CLOSE-WAIT when the client gave up.
    pub(crate) fn waiting(mut self, state: State, local: &str, remote: &str) -> SnapshotBuilder {
        self.snapshot.sockets.push(tcp_socket(state, local, remote, 0, 0));
        self
    }

    pub(crate) fn listener(
        self,
        local: &str,
        accept_queue: u32,
        backlog: u32,
        drops: u32,
        owners: &[u32],
    ) -> SnapshotBuilder {
        let mut s = tcp_socket(State::Listen, local, wildcard_of(local), accept_queue, backlog);
        s.extra_mut().mem = Some(SkMem { drops: Some(drops), ..SkMem::default() });
        self.socket(s, owners)
    }

    pub(crate) fn unix_listener(
        self,
        path: &str,
        pending: u32,
        backlog: u32,
        owners: &[u32],
    ) -> SnapshotBuilder {
        let s = Socket {
            proto: Proto::UnixStream,
            family: Family::Unix,
            state: State::Listen,
            local: Endpoint::UnixPath(path.as_bytes().into()),
            remote: Endpoint::Unnamed,
            recv_q: pending,
            send_q: backlog,
            inode: 0,
            uid: Socket::NO_UID,
            timer: None,
            extra: None,
        };
        self.socket(s, owners)
    }

    pub(crate) fn udp(self, local: &str, drops: u32, owners: &[u32]) -> SnapshotBuilder {
        let mut s = tcp_socket(State::Close, local, wildcard_of(local), 0, 0);
        s.proto = Proto::Udp;
        s.extra_mut().mem = Some(SkMem { rcvbuf: 212992, drops: Some(drops), ..SkMem::default() });
        self.socket(s, owners)
    }

    /// Adds `n` TCP sockets in `state` from consecutive local ports to `remote`.
    pub(crate) fn many(
        mut self,
        n: u32,
        state: State,
        local_ip: &str,
        remote: &str,
        owners: &[u32],
    ) -> SnapshotBuilder {
        for i in 0..n {
            let local = format!("{local_ip}:{}", 32768 + i % 32768);
            self = self.tcp(state, &local, remote, owners);
        }
        self
    }

    pub(crate) fn build(mut self) -> Snapshot {
        self.snapshot.owners = OwnerIndex::from_refs(self.refs);
        self.snapshot
    }
}

fn wildcard_of(local: &str) -> &'static str {
    if local.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" }
}

/// A TCP socket record with the given queues and no extras.
pub(crate) fn tcp_socket(state: State, local: &str, remote: &str, recv_q: u32, send_q: u32) -> Socket {
    let local = addr(local);
    Socket {
        proto: Proto::Tcp,
        family: if local.is_ipv4() { Family::Inet } else { Family::Inet6 },
        state,
        local: Endpoint::Ip(local),
        remote: Endpoint::Ip(addr(remote)),
        recv_q,
        send_q,
        inode: 0,
        uid: 1000,
        timer: None,
        extra: None,
    }
}
