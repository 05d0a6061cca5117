//! The facts behind a finding, one typed struct per kind of problem.
//!
//! A finding's kind is read from its evidence ([`Evidence::kind`]), so the
//! two can never disagree. Each struct holds every fact a front-end needs to
//! word the finding; the serialized fields are the `evidence` object of the
//! JSON schema (docs/json.md), in the documented order. Facts that only the
//! wording uses are `#[serde(skip)]`, so the schema stays as documented.
//! Rates and projections are kept exact and rounded only when serialized.

use std::net::{IpAddr, SocketAddr};

use serde::{Serialize, Serializer};

use super::kind::FindingKind;
use super::percent::pct;
use crate::model::RunState;

/// The evidence of one finding; its variant decides the finding's kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    AcceptQueueFull(QueueEvidence),
    AcceptQueueNearFull(NearFullEvidence),
    SynQueuePressure(SynQueueEvidence),
    ListenerDrops(QueueEvidence),
    /// A listener with waiting clients whose every owner cannot `accept()`.
    AcceptStalled(StalledEvidence),
    BacklogCappedBySomaxconn(CappedEvidence),
    /// CLOSE-WAIT sockets held by one process.
    CloseWait(CloseWaitEvidence),
    /// CLOSE-WAIT sockets whose owner could not be seen (subject `host`).
    UnownedCloseWait(UnownedCloseWaitEvidence),
    /// TIME-WAIT towards one destination against the ephemeral port range.
    TimeWaitBuildup(TimeWaitEvidence),
    /// All TIME-WAIT against `tcp_max_tw_buckets` (subject `host`).
    TimeWaitBuckets(TwBucketsEvidence),
    FdExhaustionRisk(FdEvidence),
    SynSentPileup(SynSentEvidence),
    UdpReceiveDrops(UdpDropsEvidence),
    CloseWaitLeak(CloseWaitLeakEvidence),
    FdLeak(FdLeakEvidence),
    GhostSockets(GhostEvidence),
    NeverConnectedSockets(NeverConnectedEvidence),
    TimeWaitChurn(ChurnEvidence),
    ListenOverflow(ListenOverflowEvidence),
}

impl Evidence {
    /// The kind of problem this evidence shows.
    pub fn kind(&self) -> FindingKind {
        match self {
            Evidence::AcceptQueueFull(_) => FindingKind::AcceptQueueFull,
            Evidence::AcceptQueueNearFull(_) => FindingKind::AcceptQueueNearFull,
            Evidence::SynQueuePressure(_) => FindingKind::SynQueuePressure,
            Evidence::ListenerDrops(_) => FindingKind::ListenerDrops,
            Evidence::AcceptStalled(_) => FindingKind::AcceptStalled,
            Evidence::BacklogCappedBySomaxconn(_) => FindingKind::BacklogCappedBySomaxconn,
            Evidence::CloseWait(_) | Evidence::UnownedCloseWait(_) => FindingKind::CloseWait,
            Evidence::TimeWaitBuildup(_) | Evidence::TimeWaitBuckets(_) => FindingKind::TimeWaitBuildup,
            Evidence::FdExhaustionRisk(_) => FindingKind::FdExhaustionRisk,
            Evidence::SynSentPileup(_) => FindingKind::SynSentPileup,
            Evidence::UdpReceiveDrops(_) => FindingKind::UdpReceiveDrops,
            Evidence::CloseWaitLeak(_) => FindingKind::CloseWaitLeak,
            Evidence::FdLeak(_) => FindingKind::FdLeak,
            Evidence::GhostSockets(_) => FindingKind::GhostSockets,
            Evidence::NeverConnectedSockets(_) => FindingKind::NeverConnectedSockets,
            Evidence::TimeWaitChurn(_) => FindingKind::TimeWaitChurn,
            Evidence::ListenOverflow(_) => FindingKind::ListenOverflow,
        }
    }

    /// Whether the finding says a limit has been reached, not approached: a
    /// full queue, every fd in use, every port pinned. Watch re-announces a
    /// finding when this turns true.
    pub fn limit_reached(&self) -> bool {
        match self {
            Evidence::AcceptQueueFull(_) => true,
            Evidence::SynQueuePressure(e) => e.full(),
            Evidence::AcceptStalled(e) => e.owners.iter().any(|o| o.stall == Stall::FdLimit),
            Evidence::TimeWaitBuildup(e) => e.reached() && !e.reuse_applies,
            Evidence::TimeWaitBuckets(e) => e.time_wait >= e.tcp_max_tw_buckets,
            Evidence::FdExhaustionRisk(e) => e.reached(),
            Evidence::CloseWaitLeak(e) => reached(e.fds, e.fd_limit),
            Evidence::FdLeak(e) => reached(e.fds, e.fd_limit),
            Evidence::TimeWaitChurn(e) => e.reached(),
            _ => false,
        }
    }

    /// Seconds until the limit the finding projects, when it projects one.
    pub fn eta_s(&self) -> Option<f64> {
        match self {
            Evidence::CloseWaitLeak(e) => e.eta_s,
            Evidence::FdLeak(e) => e.eta_s,
            Evidence::TimeWaitChurn(e) => e.eta_s,
            _ => None,
        }
    }
}

/// Whether `fds` open fds use all of `limit`.
fn reached(fds: Option<u32>, limit: Option<u64>) -> bool {
    fds.zip(limit).is_some_and(|(used, limit)| u64::from(used) >= limit)
}

/// A listener's accept queue (`accept_queue_full`, `listener_drops`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueEvidence {
    /// Connections waiting for `accept()` (Recv-Q).
    pub accept_queue: u32,
    /// The queue limit (Send-Q).
    pub backlog: u32,
    /// Connection attempts the listener dropped; absent when the kernel does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drops: Option<u32>,
    /// Of the waiting connections, those the client closed while waiting
    /// (CLOSE-WAIT rows with inode 0): it gave up on this listener.
    pub queued_close_wait: u32,
    /// `net.core.somaxconn`, which caps any larger backlog.
    #[serde(skip)]
    pub somaxconn: Option<i64>,
}

/// `accept_queue_near_full`: the queue and how full it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NearFullEvidence {
    #[serde(flatten)]
    pub queue: QueueEvidence,
    /// accept_queue / backlog in percent, one decimal.
    pub fill_pct: f64,
}

/// `syn_queue_pressure`: half-open connections against the SYN queue limit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SynQueueEvidence {
    pub syn_recv: u32,
    /// The listener's own backlog (Send-Q): `listen()`'s argument as capped
    /// by `somaxconn` at `listen()` time. The kernel's SYN queue limit.
    pub backlog: u32,
    /// The limit judged: the backlog; with syncookies off, the lower of it
    /// and the point where `tcp_max_syn_backlog` starts dropping unproven
    /// peers (its last quarter). Full above it, like the accept queue.
    pub limit: u64,
    /// `net.ipv4.tcp_syncookies`.
    pub syncookies: Option<i64>,
    /// `net.ipv4.tcp_max_syn_backlog`, only when syncookies are off (the only
    /// case where it matters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_max_syn_backlog: Option<i64>,
}

impl SynQueueEvidence {
    /// syn_recv / limit in percent, one decimal.
    pub fn share_pct(&self) -> f64 {
        pct(f64::from(self.syn_recv), self.limit.max(1) as f64)
    }

    /// The kernel's test (`qlen > limit`): the next SYN gets a cookie or is dropped.
    pub fn full(&self) -> bool {
        u64::from(self.syn_recv) > self.limit
    }

    /// Whether SYNs beyond the limit are dropped rather than answered with cookies.
    pub fn drops_at_limit(&self) -> bool {
        self.syncookies == Some(0)
    }
}

/// Why an owner of a listener cannot run `accept()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stall {
    /// Stopped by a signal (`T`: SIGSTOP, SIGTSTP).
    Stopped,
    /// Stopped by a debugger (`t`).
    Traced,
    /// In uninterruptible sleep (`D`), usually waiting for I/O.
    Uninterruptible,
    /// Exiting (`Z`, `X`).
    Exiting,
    /// Every fd it may open is open: `accept()` fails with EMFILE.
    FdLimit,
}

/// One owner of a stalled listener, with the evidence of its stall.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StalledOwner {
    pub pid: u32,
    pub comm: String,
    pub stall: Stall,
    /// Its run state letter (`/proc/PID/stat`).
    pub state: Option<RunState>,
    pub fds: Option<u32>,
    pub fd_limit: Option<u64>,
}

/// `accept_stalled`: clients wait in a listener's queue and no owner can take them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StalledEvidence {
    pub accept_queue: u32,
    pub backlog: u32,
    /// Waiting clients that already gave up (CLOSE-WAIT in the queue).
    pub queued_close_wait: u32,
    pub owners: Vec<StalledOwner>,
}

/// `backlog_capped_by_somaxconn`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CappedEvidence {
    pub backlog: u32,
    pub somaxconn: i64,
}

/// Where sockets go, and how many.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Peer {
    pub remote: Remote,
    pub count: u32,
}

/// A peer: only its address for clients of a local listener (their ports are
/// noise), or address and port for a service we connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Remote {
    Address(IpAddr),
    Endpoint(SocketAddr),
}

impl Serialize for Remote {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Remote::Address(ip) => s.collect_str(ip),
            Remote::Endpoint(addr) => s.collect_str(addr),
        }
    }
}

/// A process's open fds against its RLIMIT_NOFILE, each `None` when unreadable.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FdUsage {
    pub fds: Option<u32>,
    pub fd_limit: Option<u64>,
}

/// `close_wait` held by one process.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CloseWaitEvidence {
    pub close_wait: u32,
    pub pid: u32,
    /// The local ports holding most of them (at most 5).
    pub local_ports: Vec<u16>,
    /// The peers that closed most of them (at most 5).
    pub peers: Vec<Peer>,
    /// The process's fds; absent when the process itself was not seen.
    #[serde(flatten)]
    pub fd_usage: Option<FdUsage>,
}

/// `close_wait` whose owners could not be read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnownedCloseWaitEvidence {
    pub close_wait: u32,
    pub peers: Vec<Peer>,
}

/// `time_wait_buildup` towards one destination.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeWaitEvidence {
    pub time_wait: u32,
    pub ephemeral_ports: u32,
    /// time_wait / ephemeral_ports in percent, one decimal.
    pub share_pct: f64,
    pub tcp_tw_reuse: Option<i64>,
    /// `net.ipv4.tcp_timestamps`: reuse needs timestamps on the connection.
    pub tcp_timestamps: Option<i64>,
    /// Whether `connect()` may take over these TIME-WAIT ports once they
    /// are 1 s old (see [`reuse_applies`]): then they exhaust nothing.
    pub reuse_applies: bool,
}

impl TimeWaitEvidence {
    /// Every ephemeral port towards the destination is pinned.
    pub fn reached(&self) -> bool {
        self.time_wait >= self.ephemeral_ports
    }
}

/// Whether `tcp_tw_reuse` lets `connect()` reuse a TIME-WAIT 4-tuple towards
/// `dest` (older than 1 s): mode 1 for every destination, mode 2 (the default
/// since Linux 5.7) for loopback only, and only with TCP timestamps, which
/// the check needs (`tcp_twsk_unique`). Off when unknown.
pub fn reuse_applies(tw_reuse: Option<i64>, timestamps: Option<i64>, dest: IpAddr) -> bool {
    let loopback = match dest {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    let stamps = timestamps.is_some_and(|t| t != 0);
    stamps && (tw_reuse == Some(1) || (tw_reuse == Some(2) && loopback))
}

/// `time_wait_buildup` of the whole namespace against `tcp_max_tw_buckets`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TwBucketsEvidence {
    pub time_wait: i64,
    pub tcp_max_tw_buckets: i64,
    /// TcpExt.TCPTimeWaitOverflow: sockets that skipped TIME-WAIT.
    #[serde(rename = "TCPTimeWaitOverflow")]
    pub time_wait_overflow: Option<i64>,
}

impl TwBucketsEvidence {
    /// time_wait / tcp_max_tw_buckets in percent, one decimal.
    pub fn share_pct(&self) -> f64 {
        pct(self.time_wait as f64, self.tcp_max_tw_buckets as f64)
    }
}

/// `fd_exhaustion_risk`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FdEvidence {
    pub fds: u32,
    pub fd_limit: u64,
    /// fds / fd_limit in percent, one decimal.
    pub usage_pct: f64,
    pub socket_fds: u32,
}

impl FdEvidence {
    /// Every fd the limit allows is open: the next open() fails with EMFILE.
    pub fn reached(&self) -> bool {
        u64::from(self.fds) >= self.fd_limit
    }
}

/// `syn_sent_pileup` towards one destination.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SynSentEvidence {
    pub syn_sent: u32,
    /// The processes trying to connect.
    pub pids: Vec<u32>,
    pub tcp_syn_retries: Option<i64>,
    /// The listener of this namespace the destination is, when it is one:
    /// then the reason its SYNs go unanswered is right here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_listener: Option<LocalListener>,
}

/// A listener of the inspected namespace that SYN-SENT sockets aim at.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocalListener {
    /// Its address as it listens (`0.0.0.0:8080`).
    pub local: SocketAddr,
    pub accept_queue: u32,
    pub backlog: u32,
    pub syn_recv: u32,
    /// Its accept queue is full (accept_queue > backlog): it drops their SYNs.
    pub full: bool,
}

/// `udp_receive_drops`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UdpDropsEvidence {
    pub drops: u32,
    pub recv_q: u32,
    /// SO_RCVBUF as the kernel reports it.
    pub rcvbuf: Option<u32>,
    pub rmem_max: Option<i64>,
}

/// `close_wait_leak`: a process's CLOSE-WAIT count growing across the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CloseWaitLeakEvidence {
    pub close_wait: u32,
    /// Growth from the first to the last sample of the window.
    pub growth: f64,
    /// Least-squares slope, per second.
    #[serde(serialize_with = "round2")]
    pub rate_per_s: f64,
    /// Seconds between the first and the last sample judged.
    #[serde(serialize_with = "round2")]
    pub window_s: f64,
    /// Samples the rates were fitted over (an ETA needs at least 5).
    pub samples: u32,
    pub fds: Option<u32>,
    /// Slope of the fd count, when it grows too.
    #[serde(serialize_with = "round2_opt")]
    pub fd_rate_per_s: Option<f64>,
    pub fd_limit: Option<u64>,
    /// Seconds until the fds reach the limit at the fd growth rate.
    #[serde(serialize_with = "round2_opt")]
    pub eta_s: Option<f64>,
    pub peers: Vec<Peer>,
}

impl CloseWaitLeakEvidence {
    /// The CLOSE-WAIT count at the start of the window.
    pub fn start(&self) -> f64 {
        f64::from(self.close_wait) - self.growth
    }
}

/// `fd_leak`: a process's open fds growing across the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FdLeakEvidence {
    pub fds: Option<u32>,
    pub growth: f64,
    #[serde(serialize_with = "round2")]
    pub rate_per_s: f64,
    #[serde(serialize_with = "round2")]
    pub window_s: f64,
    /// Samples the rate was fitted over (an ETA needs at least 5).
    pub samples: u32,
    pub fd_limit: Option<u64>,
    /// Seconds until the fds reach the limit at this rate.
    #[serde(serialize_with = "round2_opt")]
    pub eta_s: Option<f64>,
    /// Socket fds among them.
    pub sockets: u32,
    pub close_wait: u32,
    /// The fd count at the start of the window.
    #[serde(skip)]
    pub start: f64,
}

/// `ghost_sockets`: TCP sockets a process holds that no dump shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GhostEvidence {
    pub ghost_sockets: u32,
    /// Up to 10 of their inodes.
    pub inodes: Vec<u64>,
    pub fds: Option<u32>,
}

/// `never_connected_sockets`: TCP sockets a process holds that never
/// exchanged a segment (no table shows them either).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NeverConnectedEvidence {
    pub never_connected: u32,
    /// Up to 10 of their inodes.
    pub inodes: Vec<u64>,
    pub fds: Option<u32>,
}

/// `time_wait_churn`: new TIME-WAIT per second towards one destination.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChurnEvidence {
    /// New TIME-WAIT per second, dated by the TIME-WAIT timers.
    #[serde(serialize_with = "round2")]
    pub rate_per_s: f64,
    /// Seconds of history the rate was measured over.
    #[serde(serialize_with = "round2")]
    pub window_s: f64,
    /// Samples in that window (an ETA needs at least 5).
    pub samples: u32,
    /// TIME-WAIT sockets towards it now.
    pub time_wait: u32,
    /// TIME-WAIT sockets 60 s of this rate keeps (rate × 60).
    #[serde(serialize_with = "round0")]
    pub projected_time_wait: f64,
    /// Ports this rate keeps busy: rate × 60 s, or rate × 1 s where
    /// `tcp_tw_reuse` lets connect() take over TIME-WAIT older than 1 s.
    #[serde(serialize_with = "round0")]
    pub ports_needed: f64,
    pub ephemeral_ports: u32,
    pub tcp_tw_reuse: Option<i64>,
    /// Whether `tcp_tw_reuse` covers this destination (see [`reuse_applies`]).
    pub reuse_applies: bool,
    /// Seconds until the range is used up, when this rate needs more than it has.
    #[serde(serialize_with = "round2_opt")]
    pub eta_s: Option<f64>,
}

impl ChurnEvidence {
    /// The projected TIME-WAIT as a share of the port range, percent, one decimal.
    pub fn share_pct(&self) -> f64 {
        pct(self.projected_time_wait, f64::from(self.ephemeral_ports))
    }

    /// Whether this rate needs more ports than the range has.
    pub fn exhausts(&self) -> bool {
        self.ports_needed >= f64::from(self.ephemeral_ports)
    }

    /// Every port towards the destination is pinned now (and reuse does not free them).
    pub fn reached(&self) -> bool {
        !self.reuse_applies && self.time_wait >= self.ephemeral_ports
    }
}

/// `listen_overflow`: a listener's drop counter rising within the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListenOverflowEvidence {
    pub drops: Option<u32>,
    /// Growth of the drop counter within the window.
    pub new_drops: u32,
    #[serde(serialize_with = "round2")]
    pub rate_per_s: f64,
    pub accept_queue: u32,
    pub backlog: u32,
    /// Seconds of the window the drops were counted over.
    #[serde(skip)]
    pub window_s: f64,
}

fn rounded(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

fn round2<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(rounded(*x, 2))
}

fn round2_opt<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => s.serialize_some(&rounded(*x, 2)),
        None => s.serialize_none(),
    }
}

fn round0<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(x.round())
}
