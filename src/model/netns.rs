//! Every network namespace of a host, and the container and pod it belongs to.
//!
//! With `--all-netns` one snapshot holds the sockets of many namespaces. The
//! processes and owners stay host-wide (pids and socket inodes are global),
//! a small run index ([`SocketNetns`]) says which namespace each socket is
//! in (the sockets of one namespace are contiguous), and
//! [`Snapshot::namespaces`](super::Snapshot::namespaces) holds one
//! [`Namespace`] per namespace found: its labels, its own sysctls and
//! counters (somaxconn, the port range and the TcpExt counters are per
//! namespace), and whether it could be collected. Analysis runs on one
//! [`Snapshot::netns_views`] per namespace, so every rule judges sockets
//! against the sysctls of the namespace they live in.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::host::{Counters, NetnsInfo, Sysctls};
use super::process::{FdRef, OwnerIndex, ProcessTable};
use super::snapshot::Snapshot;
use super::socket::Socket;

/// The container runtime a cgroup path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Runtime {
    #[serde(rename = "docker")]
    Docker,
    #[serde(rename = "containerd")]
    Containerd,
    #[serde(rename = "cri-o")]
    CriO,
    #[serde(rename = "podman")]
    Podman,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
        }
    }
}

/// A Kubernetes pod. The uid comes from the cgroup path; namespace and name
/// from the kubelet's `/var/log/pods/<namespace>_<name>_<uid>/` directory,
/// when there is one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Pod {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub uid: String,
}

/// What is known about who a namespace belongs to. Every field but the
/// holder pids may be unknown: a namespace made by `unshare --net` has no
/// name, no container and no pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetnsLabels {
    /// Its `ip netns` name (`/run/netns/NAME`), or its file name under
    /// `/var/run/docker/netns`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A few processes in it, lowest pid first (the first is usually the
    /// container's init or the pod's pause process).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Pod>,
}

impl NetnsLabels {
    /// The name of the namespace `inode` these labels describe: see
    /// [`Namespace::display_name`].
    pub fn display(&self, inode: u64) -> String {
        if let Some(name) = self.pod.as_ref().and_then(|p| p.name.as_ref()) {
            return name.clone();
        }
        if let Some(id) = &self.container_id {
            return id.chars().take(12).collect();
        }
        match &self.name {
            Some(name) => name.clone(),
            None => inode.to_string(),
        }
    }
}

/// Which namespace each socket of an all-namespace snapshot lives in. The
/// sockets of one namespace are contiguous in `Snapshot::sockets`, so one
/// run per namespace — (first index, inode) — is the whole index: nothing
/// is added to the socket record, which stays as small as in a
/// single-namespace snapshot (where this is empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketNetns(Vec<(usize, u64)>);

impl SocketNetns {
    /// Sockets from index `start` on (up to the next run) live in `inode`.
    pub fn push(&mut self, start: usize, inode: u64) {
        self.0.push((start, inode));
    }

    /// The namespace of the socket at `index`; 0 when unknown.
    pub fn at(&self, index: usize) -> u64 {
        match self.0.partition_point(|(start, _)| *start <= index) {
            0 => 0,
            i => self.0[i - 1].1,
        }
    }

    /// Each run as (index range, inode), given the number of sockets.
    pub fn runs(&self, len: usize) -> impl Iterator<Item = (std::ops::Range<usize>, u64)> + '_ {
        self.0.iter().enumerate().map(move |(i, &(start, inode))| {
            let end = self.0.get(i + 1).map_or(len, |next| next.0);
            (start.min(end)..end, inode)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How the collection of one namespace went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetnsStatus {
    Collected,
    /// It disappeared between discovery and collection (its last process
    /// exited, `ip netns del`, or its file was replaced by another namespace).
    Vanished,
    /// Entering it was refused: `setns` needs CAP_SYS_ADMIN.
    Denied,
    /// Anything else that went wrong, in a few words.
    Failed(String),
}

impl NetnsStatus {
    pub fn name(&self) -> &'static str {
        match self {
            NetnsStatus::Collected => "collected",
            NetnsStatus::Vanished => "vanished",
            NetnsStatus::Denied => "denied",
            NetnsStatus::Failed(_) => "failed",
        }
    }

    pub fn is_collected(&self) -> bool {
        *self == NetnsStatus::Collected
    }
}

/// One network namespace of an all-namespace snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Namespace {
    /// Its identity: the (st_dev, st_ino) of its nsfs file.
    pub dev: u64,
    pub inode: u64,
    /// sockscope's own namespace (collected without entering it).
    pub own: bool,
    pub labels: NetnsLabels,
    pub status: NetnsStatus,
    /// Read inside the namespace; empty unless collected.
    pub sysctls: Sysctls,
    pub counters: Counters,
    /// Sockets its dumps returned.
    pub sockets: u32,
    /// Time spent entering it, reading its facts and dumping its sockets.
    pub elapsed: Duration,
}

impl Namespace {
    /// A namespace found but not (yet) collected.
    pub fn new(dev: u64, inode: u64, labels: NetnsLabels) -> Namespace {
        Namespace {
            dev,
            inode,
            own: false,
            labels,
            status: NetnsStatus::Vanished,
            sysctls: Sysctls::default(),
            counters: Counters::default(),
            sockets: 0,
            elapsed: Duration::ZERO,
        }
    }

    /// What a column shows: the pod's name, else the container's short id,
    /// else the `ip netns` name, else the inode. Untrusted text: escape it
    /// before printing to a terminal.
    pub fn display_name(&self) -> String {
        self.labels.display(self.inode)
    }
}

impl Snapshot {
    /// Whether this snapshot covers several namespaces (`--all-netns`).
    pub fn is_all_netns(&self) -> bool {
        !self.namespaces.is_empty()
    }

    /// The namespace with this inode, in an all-namespace snapshot.
    pub fn namespace(&self, inode: u64) -> Option<&Namespace> {
        match self.namespaces.binary_search_by_key(&inode, |n| n.inode) {
            Ok(i) => self.namespaces.get(i),
            Err(_) => self.namespaces.iter().find(|n| n.inode == inode),
        }
    }

    /// The namespace of the socket at `index` of `sockets` (0 in a
    /// single-namespace snapshot).
    pub fn netns_at(&self, index: usize) -> u64 {
        self.socket_netns.at(index)
    }

    /// The namespace of a socket of this snapshot, found by its position in
    /// `sockets` (reports and screens hold references into it); 0 for a
    /// socket that is not one of this snapshot's.
    pub fn netns_of_socket(&self, socket: &Socket) -> u64 {
        if self.socket_netns.is_empty() {
            return 0;
        }
        let size = std::mem::size_of::<Socket>().max(1);
        let offset = (socket as *const Socket as usize).wrapping_sub(self.sockets.as_ptr() as usize);
        match offset.is_multiple_of(size) && offset / size < self.sockets.len() {
            true => self.netns_at(offset / size),
            false => 0,
        }
    }

    /// The sockets of the namespace `inode` (none in a single-namespace
    /// snapshot, whose sockets carry no namespace).
    pub fn sockets_in(&self, inode: u64) -> impl Iterator<Item = &Socket> + '_ {
        let runs = self.socket_netns.runs(self.sockets.len()).filter(move |(_, n)| *n == inode);
        runs.flat_map(move |(range, _)| self.sockets.get(range).unwrap_or_default())
    }

    /// The sysctls governing sockets of the namespace `inode`: its own in
    /// an all-namespace snapshot, the snapshot's otherwise.
    pub fn sysctls_of(&self, inode: u64) -> &Sysctls {
        self.namespace(inode).map_or(&self.sysctls, |n| &n.sysctls)
    }

    /// The namespace a process lives in, when it is one of this snapshot's.
    pub fn namespace_of_pid(&self, pid: u32) -> Option<&Namespace> {
        self.namespace(self.processes.get(&pid)?.netns?)
    }

    /// One snapshot per collected namespace: its sockets, its sysctls and
    /// counters, the processes that live in it or hold one of its sockets,
    /// the owners of its sockets, and itself as the only entry of
    /// `namespaces`. Empty for a single-namespace snapshot.
    pub fn netns_views(&self) -> Vec<Snapshot> {
        let collected: Vec<&Namespace> = self.namespaces.iter().filter(|n| n.status.is_collected()).collect();
        let slot: HashMap<u64, usize> = collected.iter().enumerate().map(|(i, n)| (n.inode, i)).collect();
        let mut views: Vec<Snapshot> = collected.iter().map(|n| self.empty_view(n)).collect();
        for (range, inode) in self.socket_netns.runs(self.sockets.len()) {
            if let (Some(&i), Some(sockets)) = (slot.get(&inode), self.sockets.get(range)) {
                views[i].sockets.extend_from_slice(sockets);
            }
        }
        for (view, ns) in views.iter_mut().zip(&collected) {
            view.processes = self.processes_for(ns.inode, &view.sockets);
            view.owners = self.owners_for(&view.sockets);
            view.ghosts = self.held_in(self.ghosts.as_deref(), ns.inode);
            view.never_connected = self.held_in(self.never_connected.as_deref(), ns.inode);
        }
        views
    }

    /// The held sockets of `refs` whose holder lives in `netns`.
    fn held_in(&self, refs: Option<&[FdRef]>, netns: u64) -> Option<Vec<FdRef>> {
        let lives_here = |r: &&FdRef| self.processes.get(&r.pid).and_then(|p| p.netns) == Some(netns);
        refs.map(|refs| refs.iter().filter(lives_here).copied().collect())
    }

    fn empty_view(&self, ns: &Namespace) -> Snapshot {
        Snapshot {
            taken_at: self.taken_at,
            host: self.host.clone(),
            netns: NetnsInfo { label: Some(ns.display_name()), inode: Some(ns.inode), changed_from: None },
            sysctls: ns.sysctls.clone(),
            counters: ns.counters.clone(),
            sockets: Vec::with_capacity(ns.sockets as usize),
            processes: ProcessTable::new(),
            owners: OwnerIndex::default(),
            scan: self.scan,
            owners_collected: self.owners_collected,
            ghosts: None,
            never_connected: None,
            warnings: Vec::new(),
            timings: super::Timings { sockets: ns.elapsed, ..self.timings },
            namespaces: vec![ns.clone()],
            socket_netns: SocketNetns(vec![(0, ns.inode)]),
        }
    }

    /// Processes living in `netns`, plus those holding one of `sockets`.
    fn processes_for(&self, netns: u64, sockets: &[Socket]) -> ProcessTable {
        let mut table: ProcessTable =
            self.processes.values().filter(|p| p.netns == Some(netns)).map(|p| (p.pid, p.clone())).collect();
        for s in sockets {
            for pid in self.owner_pid_iter(s.inode) {
                if let Some(p) = self.processes.get(&pid) {
                    table.entry(pid).or_insert_with(|| p.clone());
                }
            }
        }
        table
    }

    fn owners_for(&self, sockets: &[Socket]) -> OwnerIndex {
        let refs: Vec<FdRef> = sockets
            .iter()
            .filter(|s| s.inode != 0)
            .flat_map(|s| self.owners.owners(s.inode))
            .copied()
            .collect();
        OwnerIndex::from_refs(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::SnapshotBuilder;
    use crate::model::{State, SysctlValue};

    fn ns(inode: u64, pod: Option<&str>, container: Option<&str>, name: Option<&str>) -> Namespace {
        let labels = NetnsLabels {
            name: name.map(str::to_string),
            container_id: container.map(str::to_string),
            pod: pod.map(|p| Pod {
                namespace: Some("default".into()),
                name: Some(p.into()),
                uid: "u".into(),
            }),
            ..NetnsLabels::default()
        };
        Namespace { status: NetnsStatus::Collected, ..Namespace::new(1, inode, labels) }
    }

    #[test]
    fn display_name_prefers_pod_then_container_then_name_then_inode() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(ns(7, Some("web-1"), Some(id), Some("x")).display_name(), "web-1");
        assert_eq!(ns(7, None, Some(id), Some("x")).display_name(), "0123456789ab");
        assert_eq!(ns(7, None, None, Some("blue")).display_name(), "blue");
        assert_eq!(ns(4026532001, None, None, None).display_name(), "4026532001");
    }

    #[test]
    fn socket_runs_name_each_socket_by_position() {
        let mut runs = SocketNetns::default();
        assert_eq!(runs.at(0), 0);
        runs.push(0, 100);
        runs.push(3, 200);
        runs.push(3, 250);
        runs.push(5, 300);
        let at: Vec<u64> = (0..7).map(|i| runs.at(i)).collect();
        assert_eq!(at, vec![100, 100, 100, 250, 250, 300, 300]);
        let spans: Vec<(std::ops::Range<usize>, u64)> = runs.runs(6).collect();
        assert_eq!(spans, vec![(0..3, 100), (3..3, 200), (3..5, 250), (5..6, 300)]);
    }

    #[test]
    fn a_socket_is_found_by_its_place_in_the_snapshot() {
        let mut snap = SnapshotBuilder::new()
            .namespace(100, NetnsLabels::default())
            .tcp(State::Established, "10.0.0.1:1", "10.0.0.2:80", &[])
            .namespace(200, NetnsLabels::default())
            .tcp(State::Established, "10.0.0.1:2", "10.0.0.2:80", &[])
            .tcp(State::Established, "10.0.0.1:3", "10.0.0.2:80", &[])
            .build();
        let found: Vec<u64> = snap.sockets.iter().map(|s| snap.netns_of_socket(s)).collect();
        assert_eq!(found, vec![100, 200, 200]);
        let stranger = snap.sockets[0].clone();
        assert_eq!(snap.netns_of_socket(&stranger), 0, "a copy is not one of its sockets");
        snap.socket_netns = SocketNetns::default();
        assert_eq!(snap.netns_of_socket(&snap.sockets[1]), 0, "single-namespace snapshots have none");
    }

    #[test]
    fn views_split_sockets_sysctls_and_owners_by_namespace() {
        let mut snap = SnapshotBuilder::new()
            .process(10, "web", 20, 1024)
            .process(20, "db", 20, 1024)
            .listener("0.0.0.0:8080", 5, 4, 0, &[10])
            .listener("0.0.0.0:8080", 0, 4, 0, &[20])
            .tcp(State::TimeWait, "10.0.0.1:40000", "10.0.0.2:80", &[])
            .build();
        snap.socket_netns.push(0, 100);
        snap.socket_netns.push(1, 200);
        snap.processes.get_mut(&10).unwrap().netns = Some(100);
        snap.processes.get_mut(&20).unwrap().netns = Some(200);
        let mut a = ns(100, Some("web-1"), None, None);
        a.sysctls.0.insert("net.core.somaxconn".into(), SysctlValue::Int(16));
        let b = ns(200, None, None, Some("db"));
        let gone = Namespace::new(1, 300, NetnsLabels::default());
        snap.namespaces = vec![a, b, gone];
        let views = snap.netns_views();
        assert_eq!(views.len(), 2, "the vanished namespace has no view");
        assert_eq!(views[0].sockets.len(), 1);
        assert_eq!(views[0].sysctls.int("net.core.somaxconn"), Some(16));
        assert_eq!(views[0].owner_pids(views[0].sockets[0].inode), vec![10]);
        assert!(views[0].processes.contains_key(&10) && !views[0].processes.contains_key(&20));
        assert_eq!(views[1].sockets.len(), 2);
        assert_eq!(views[1].netns.label.as_deref(), Some("db"));
        assert_eq!(views[1].namespaces.len(), 1);
        assert_eq!(snap.namespace(200).map(|n| n.display_name()), Some("db".to_string()));
        assert_eq!(snap.namespace_of_pid(10).map(|n| n.inode), Some(100));
    }
}
