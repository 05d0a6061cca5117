//! The snapshot: everything one collection saw, as plain data.
//!
//! Collection (OS reads) produces a [`Snapshot`]; analysis and every front-end
//! only read it. Nothing downstream touches `/proc` or netlink, so the same
//! analysis runs on a live host, a recorded dump or a test fixture.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::host::{Counters, HostInfo, NetnsInfo, Sysctls};
use super::netns::{Namespace, SocketNetns};
use super::process::{FdRef, OwnerIndex, ProcessTable, ScanStats};
use super::socket::Socket;

/// Something the user should know because the snapshot is incomplete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Some processes' fd tables could not be read: their sockets show no owner.
    ProcessesUnreadable,
    /// Netlink messages or attributes that could not be decoded were skipped.
    DecodeErrors,
    /// The kernel flagged a dump as interrupted by concurrent changes.
    DumpInterrupted,
    /// A protocol's sock_diag handler is missing (module not loaded).
    ProtocolUnavailable,
    /// A sysctl or counter file could not be read.
    HostFactsIncomplete,
    /// `--all-netns`: some namespaces could not be entered, vanished, or failed.
    NetnsUnavailable,
    /// sockscope ran out of file descriptors (EMFILE/ENFILE) while reading
    /// processes: a limit to raise, not a permission to grant.
    ResourceExhausted,
    /// The `--netns` target now names another namespace than at the previous
    /// snapshot; sockscope reopened its netlink socket there.
    NetnsChanged,
}

impl Warning {
    pub fn new(kind: WarningKind, message: impl Into<String>) -> Warning {
        Warning { kind, message: message.into() }
    }
}

/// How long each part of the collection took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    pub sockets: Duration,
    pub processes: Duration,
    pub total: Duration,
}

/// One consistent-as-possible picture of a network namespace's sockets.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub taken_at: SystemTime,
    pub host: HostInfo,
    pub netns: NetnsInfo,
    pub sysctls: Sysctls,
    pub counters: Counters,
    pub sockets: Vec<Socket>,
    pub processes: ProcessTable,
    pub owners: OwnerIndex,
    pub scan: ScanStats,
    /// False when owners were not collected at all (`--no-owners`-like requests).
    pub owners_collected: bool,
    /// Held TCP sockets that no dump shows and that exchanged segments
    /// (reset, or their connect failed): dead connections whose fds are
    /// kept. Checked when every TCP state was dumped; `None` when not.
    pub ghosts: Option<Vec<FdRef>>,
    /// Held TCP sockets that no dump shows and that never exchanged a
    /// segment (created and never connected). Checked with `ghosts`.
    pub never_connected: Option<Vec<FdRef>>,
    pub warnings: Vec<Warning>,
    pub timings: Timings,
    /// `--all-netns`: every namespace found, sorted by inode (see
    /// [`super::netns`]); empty for a single-namespace snapshot, whose
    /// sysctls and counters are the top-level ones.
    pub namespaces: Vec<Namespace>,
    /// `--all-netns`: which namespace each socket lives in (empty otherwise).
    pub socket_netns: SocketNetns,
}

impl Snapshot {
    /// An empty snapshot, the starting point for fixtures and tests.
    pub fn empty() -> Snapshot {
        Snapshot {
            taken_at: SystemTime::UNIX_EPOCH,
            host: HostInfo::default(),
            netns: NetnsInfo::default(),
            sysctls: Sysctls::default(),
            counters: Counters::default(),
            sockets: Vec::new(),
            processes: ProcessTable::new(),
            owners: OwnerIndex::default(),
            scan: ScanStats::default(),
            owners_collected: true,
            ghosts: None,
            never_connected: None,
            warnings: Vec::new(),
            timings: Timings::default(),
            namespaces: Vec::new(),
            socket_netns: SocketNetns::default(),
        }
    }

    /// Pids holding a socket, in pid order, without repeats.
    pub fn owner_pids(&self, inode: u64) -> Vec<u32> {
        self.owner_pid_iter(inode).collect()
    }

    /// Like [`owner_pids`](Self::owner_pids), without allocating.
    pub fn owner_pid_iter(&self, inode: u64) -> impl Iterator<Item = u32> + '_ {
        let refs = self.owners.owners(inode);
        refs.iter().enumerate().filter(move |(i, r)| *i == 0 || refs[i - 1].pid != r.pid).map(|(_, r)| r.pid)
    }

    /// `comm` of a pid, or `?` when the process vanished before we read it.
    pub fn comm(&self, pid: u32) -> &str {
        self.processes.get(&pid).map_or("?", |p| p.comm.as_str())
    }
}
