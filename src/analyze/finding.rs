//! A finding: one diagnosed problem, with the numbers behind it and what to do.

use std::fmt;
use std::net::SocketAddr;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::model::{Endpoint, Proto};
use crate::output::escape::endpoint_text;

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
    CloseWait,
    FdExhaustionRisk,
    TimeWaitBuildup,
    SynSentPileup,
    UdpReceiveDrops,
    BacklogCappedBySomaxconn,
    CloseWaitLeak,
    FdLeak,
    GhostSockets,
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
            FindingKind::CloseWait => "close_wait",
            FindingKind::FdExhaustionRisk => "fd_exhaustion_risk",
            FindingKind::TimeWaitBuildup => "time_wait_buildup",
            FindingKind::SynSentPileup => "syn_sent_pileup",
            FindingKind::UdpReceiveDrops => "udp_receive_drops",
            FindingKind::BacklogCappedBySomaxconn => "backlog_capped_by_somaxconn",
            FindingKind::CloseWaitLeak => "close_wait_leak",
            FindingKind::FdLeak => "fd_leak",
            FindingKind::GhostSockets => "ghost_sockets",
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
            FindingKind::SynQueuePressure => &[
                "net.ipv4.tcp_syncookies",
                "net.ipv4.tcp_max_syn_backlog",
                "net.core.somaxconn",
                "net.ipv4.tcp_synack_retries",
            ],
            FindingKind::CloseWait | FindingKind::CloseWaitLeak | FindingKind::GhostSockets => {
                &["fs.nr_open"]
            }
            FindingKind::FdExhaustionRisk | FindingKind::FdLeak => {
                &["fs.nr_open", "fs.file-max", "fs.file-nr"]
            }
            FindingKind::TimeWaitBuildup | FindingKind::TimeWaitChurn => &[
                "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_tw_reuse",
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
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Socket { proto, local, .. } => {
                write!(f, "{} {}", proto.netid(), endpoint_text(local))
            }
            Subject::Process { pid, comm } => {
                write!(f, "pid {pid} ({})", crate::output::escape::text(comm))
            }
            Subject::Destination(addr) => write!(f, "{addr}"),
            Subject::Host => f.write_str("host"),
        }
    }
}

impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The numbers behind a finding, in a stable order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence(pub Vec<(&'static str, Value)>);

impl Evidence {
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Evidence {
        self.0.push((key, value.into()));
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }
}

impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One diagnosed problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub subject: Subject,
    pub message: String,
    pub evidence: Evidence,
    pub hint: String,
}

impl Finding {
    /// Worst first; then by kind; then by subject text for a stable order.
    pub fn sort(findings: &mut [Finding]) {
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.kind.cmp(&b.kind))
                .then_with(|| a.subject.to_string().cmp(&b.subject.to_string()))
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
