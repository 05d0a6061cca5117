//! UDP sockets that lost datagrams to a full receive buffer.

use super::evidence::{Evidence, UdpDropsEvidence};
use super::finding::{Finding, Severity, Subject};
use crate::model::{Proto, Snapshot};

/// `udp_receive_drops`: one finding per UDP socket with a non-zero drop count.
pub(super) fn receive_drops(snapshot: &Snapshot) -> Vec<Finding> {
    let rmem_max = snapshot.sysctls.int("net.core.rmem_max");
    snapshot
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Udp)
        .filter_map(|s| {
            let drops = s.drops().filter(|&d| d > 0)?;
            Some(Finding {
                netns: None,
                severity: Severity::Warning,
                subject: Subject::Socket {
                    proto: s.proto,
                    local: s.local.clone(),
                    inode: s.inode,
                    pids: snapshot.owner_pids(s.inode),
                },
                evidence: Evidence::UdpReceiveDrops(UdpDropsEvidence {
                    drops,
                    recv_q: s.recv_q,
                    rcvbuf: s.mem().map(|m| m.rcvbuf),
                    rmem_max,
                }),
            })
        })
        .collect()
}
