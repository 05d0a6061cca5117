//! A finding: one diagnosed problem, its subject and the typed facts behind it.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

use super::evidence::Evidence;
use crate::model::{Endpoint, Proto};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }

    pub fn parse(text: &str) -> Result<Severity, String> {
        match text.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            _ => Err(format!("unknown severity '{text}' (expected info, warning or critical)")),
        }
    }
}

/// What kind of problem a finding reports; the names are part of the JSON schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    AcceptQueueFull,
    AcceptQueueNearFull,
    SynQueuePressure,
    ListenerDrops,
    AcceptStalled,
    CloseWait,
    FdExhaustionRisk,
    TimeWaitBuildup,
    SynSentPileup,
    UdpReceiveDrops,
    BacklogCappedBySomaxconn,
    CloseWaitLeak,
    FdLeak,
    GhostSockets,
    NeverConnectedSockets,
    TimeWaitChurn,
    ListenOverflow,
}

impl FindingKind {
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::AcceptQueueFull => "accept_queue_full",
            FindingKind::AcceptQueueNearFull => "accept_queue_near_full",
            FindingKind::SynQueuePressure => "syn_queue_pressure",
            FindingKind::ListenerDrops => "listener_drops",
            FindingKind::AcceptStalled => "accept_stalled",
            FindingKind::CloseWait => "close_wait",
            FindingKind::FdExhaustionRisk => "fd_exhaustion_risk",
            FindingKind::TimeWaitBuildup => "time_wait_buildup",
            FindingKind::SynSentPileup => "syn_sent_pileup",
            FindingKind::UdpReceiveDrops => "udp_receive_drops",
            FindingKind::BacklogCappedBySomaxconn => "backlog_capped_by_somaxconn",
            FindingKind::CloseWaitLeak => "close_wait_leak",
            FindingKind::FdLeak => "fd_leak",
            FindingKind::GhostSockets => "ghost_sockets",
            FindingKind::NeverConnectedSockets => "never_connected_sockets",
            FindingKind::TimeWaitChurn => "time_wait_churn",
            FindingKind::ListenOverflow => "listen_overflow",
        }
    }

    /// The sysctls that govern this kind of problem (shown beside it).
    pub fn sysctls(self) -> &'static [&'static str] {
        match self {
            FindingKind::AcceptQueueFull | FindingKind::AcceptQueueNearFull => {
                &["net.core.somaxconn", "net.ipv4.tcp_abort_on_overflow"]
            }
            FindingKind::ListenerDrops | FindingKind::ListenOverflow => {
                &["net.core.somaxconn", "net.ipv4.tcp_abort_on_overflow"]
            }
            FindingKind::BacklogCappedBySomaxconn => &["net.core.somaxconn"],
            FindingKind::AcceptStalled => &["net.core.somaxconn", "fs.nr_open"],
            FindingKind::SynQueuePressure => &[
                "net.ipv4.tcp_syncookies",
                "net.ipv4.tcp_max_syn_backlog",
                "net.core.somaxconn",
                "net.ipv4.tcp_synack_retries",
            ],
            FindingKind::CloseWait
            | FindingKind::CloseWaitLeak
            | FindingKind::GhostSockets
            | FindingKind::NeverConnectedSockets => &["fs.nr_open"],
            FindingKind::FdExhaustionRisk | FindingKind::FdLeak => {
                &["fs.nr_open", "fs.file-max", "fs.file-nr"]
            }
            FindingKind::TimeWaitBuildup | FindingKind::TimeWaitChurn => &[
                "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_tw_reuse",
                "net.ipv4.tcp_timestamps",
                "net.ipv4.tcp_max_tw_buckets",
                "net.ipv4.ip_local_reserved_ports",
            ],
            FindingKind::SynSentPileup => &["net.ipv4.tcp_syn_retries"],
            FindingKind::UdpReceiveDrops => &["net.core.rmem_max", "net.core.rmem_default"],
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a finding is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    /// A socket (listener or UDP socket) and the pids holding it.
    Socket {
        proto: Proto,
        local: Endpoint,
        inode: u64,
        pids: Vec<u32>,
    },
    Process {
        pid: u32,
        comm: String,
    },
    /// A remote ip:port our connections go to.
    Destination(SocketAddr),
    /// The whole network namespace.
    Host,
}

/// What identifies a subject across snapshots: a socket by protocol and
/// address (its owners may change), a process by pid and name. Ordered
/// destinations, host, processes, sockets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubjectKey {
    Destination(SocketAddr),
    Host,
    Process { pid: u32, comm: String },
    Socket { proto: Proto, local: Endpoint },
}

impl Subject {
    /// Pids this subject concerns (for `--pid`/`--process` filtering).
    pub fn pids(&self) -> &[u32] {
        match self {
            Subject::Socket { pids, .. } => pids,
            Subject::Process { pid, .. } => std::slice::from_ref(pid),
            _ => &[],
        }
    }

    /// The port this subject concerns (for `--port` filtering).
    pub fn port(&self) -> Option<u16> {
        match self {
            Subject::Socket { local, .. } => local.port(),
            Subject::Destination(addr) => Some(addr.port()),
            _ => None,
        }
    }

    /// The stable identity of this subject (see [`SubjectKey`]).
    pub fn key(&self) -> SubjectKey {
        match self {
            Subject::Socket { proto, local, .. } => {
                SubjectKey::Socket { proto: *proto, local: local.clone() }
            }
            Subject::Process { pid, comm } => SubjectKey::Process { pid: *pid, comm: comm.clone() },
            Subject::Destination(addr) => SubjectKey::Destination(*addr),
            Subject::Host => SubjectKey::Host,
        }
    }
}

/// One diagnosed problem: how bad, about what, and the facts behind it.
/// Front-ends word it (`output::wording`); its kind follows from the evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    pub subject: Subject,
    pub evidence: Evidence,
}

impl Finding {
    pub fn kind(&self) -> FindingKind {
        self.evidence.kind()
    }

    /// Worst first; then by kind; then by subject for a stable order.
    pub fn sort(findings: &mut [Finding]) {
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.kind().cmp(&b.kind()))
                .then_with(|| a.subject.key().cmp(&b.subject.key()))
        });
    }
}

/// Rounds a percentage to one decimal for evidence and messages.
pub fn pct(part: f64, whole: f64) -> f64 {
    if whole <= 0.0 {
        return 0.0;
    }
    (part * 1000.0 / whole).round() / 10.0
}
