//! UDP sockets that lost datagrams to a full receive buffer.

use super::finding::{Evidence, Finding, FindingKind, Severity, Subject};
use crate::model::{Proto, Snapshot};

/// `udp_receive_drops`: one finding per UDP socket with a non-zero drop count.
pub fn receive_drops(snapshot: &Snapshot) -> Vec<Finding> {
    let rmem_max = snapshot.sysctls.int("net.core.rmem_max");
    snapshot
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Udp)
        .filter_map(|s| {
            let drops = s.drops().filter(|&d| d > 0)?;
            Some(Finding {
                kind: FindingKind::UdpReceiveDrops,
                severity: Severity::Warning,
                subject: Subject::Socket {
                    proto: s.proto,
                    local: s.local.clone(),
                    inode: s.inode,
                    pids: snapshot.owner_pids(s.inode),
                },
                message: format!("dropped {drops} datagrams because its receive buffer was full"),
                evidence: Evidence::default()
                    .with("drops", drops)
                    .with("recv_q", s.recv_q)
                    .with("rcvbuf", s.mem.map(|m| m.rcvbuf))
                    .with("rmem_max", rmem_max),
                hint: "the application reads slower than datagrams arrive: read faster, or raise SO_RCVBUF \
                       (capped by net.core.rmem_max)"
                    .to_string(),
            })
        })
        .collect()
}
