//! The kinds of findings: their names are part of the JSON schema, and
//! each names the sysctls that govern it.

use std::fmt;

use serde::Serialize;

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
