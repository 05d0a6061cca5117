//! Listening sockets: accept queue against backlog, SYN queue, drops.
//!
//! For a LISTEN socket the kernel reports the accept-queue length as Recv-Q and
//! the backlog as Send-Q. The queue holds backlog + 1 connections: it is full
//! when Recv-Q > Send-Q (`listen(fd, 4)` is full at 5). Half-open connections
//! are separate SYN-RECV rows with inode 0, attributed here to the listener
//! that accepts their local address and port.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::evidence::{CappedEvidence, Evidence, NearFullEvidence, QueueEvidence, SynQueueEvidence};
use super::finding::{Finding, Severity, Subject, pct};
use super::thresholds::Thresholds;
use crate::model::{Endpoint, Family, Proto, Snapshot, Socket, State};

/// A listening socket with its queues, derived from the snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Listener {
    pub proto: Proto,
    pub family: Family,
    pub local: Endpoint,
    pub inode: u64,
    /// Connections completed but not yet `accept()`ed (Recv-Q).
    pub accept_queue: u32,
    /// The queue limit given to `listen()`, after the somaxconn cap (Send-Q).
    pub backlog: u32,
    /// Half-open connections (SYN-RECV) to this listener's address and port.
    pub syn_recv: u32,
    /// Connection attempts this listener dropped (SK_MEMINFO drops).
    pub drops: Option<u32>,
    /// The kernel's test: accept_queue > backlog.
    pub full: bool,
    /// accept_queue / backlog in percent (`None` for a zero backlog).
    pub fill_pct: Option<f64>,
    /// Not full, but at or above the near-full threshold.
    pub near_full: bool,
}

impl Listener {
    fn from_socket(s: &Socket, syn_recv: u32, t: &Thresholds) -> Listener {
        let mut l = Listener {
            proto: s.proto,
            family: s.family,
            local: s.local.clone(),
            inode: s.inode,
            accept_queue: s.recv_q,
            backlog: s.send_q,
            syn_recv,
            drops: s.drops(),
            full: s.accept_queue_full(),
            fill_pct: (s.send_q > 0).then(|| pct(f64::from(s.recv_q), f64::from(s.send_q))),
            near_full: false,
        };
        l.near_full = !l.full && l.accept_queue > 0 && l.fill_pct.is_some_and(|p| p >= t.near_full_pct);
        l
    }

    pub fn subject(&self, snapshot: &Snapshot) -> Subject {
        Subject::Socket {
            proto: self.proto,
            local: self.local.clone(),
            inode: self.inode,
            pids: snapshot.owner_pids(self.inode),
        }
    }
}

/// Every TCP and UNIX stream/seqpacket listener, full queues first.
pub fn listeners(snapshot: &Snapshot, t: &Thresholds) -> Vec<Listener> {
    let syn_counts = syn_recv_by_listener(&snapshot.sockets);
    let mut out: Vec<Listener> = snapshot
        .sockets
        .iter()
        .filter(|s| s.is_listener())
        .map(|s| {
            let syn_recv = listener_key(s).and_then(|k| syn_counts.get(&k)).copied().unwrap_or(0);
            Listener::from_socket(s, syn_recv, t)
        })
        .collect();
    out.sort_by(|a, b| {
        b.full
            .cmp(&a.full)
            .then(b.fill_pct.unwrap_or(0.0).total_cmp(&a.fill_pct.unwrap_or(0.0)))
            .then(a.local.port().cmp(&b.local.port()))
    });
    out
}

fn listener_key(s: &Socket) -> Option<SocketAddr> {
    (s.proto == Proto::Tcp).then(|| s.local.ip()).flatten()
}

/// Counts SYN-RECV rows per listening address, choosing for each row the most
/// specific TCP listener on its port: exact address, then a wildcard of the same
/// family, then any wildcard (a dual-stack `[::]` listener accepts IPv4).
fn syn_recv_by_listener(sockets: &[Socket]) -> HashMap<SocketAddr, u32> {
    let mut by_port: HashMap<u16, Vec<SocketAddr>> = HashMap::new();
    for key in sockets.iter().filter(|s| s.is_listener()).filter_map(listener_key) {
        by_port.entry(key.port()).or_default().push(key);
    }
    let mut counts = HashMap::new();
    let half_open = sockets.iter().filter(|s| s.proto == Proto::Tcp && s.state == State::SynRecv);
    for local in half_open.filter_map(|s| s.local.ip()) {
        let candidates = by_port.get(&local.port()).map_or(&[][..], Vec::as_slice);
        if let Some(best) = best_listener(local, candidates) {
            *counts.entry(best).or_insert(0) += 1;
        }
    }
    counts
}

fn best_listener(local: SocketAddr, candidates: &[SocketAddr]) -> Option<SocketAddr> {
    let same_family = |l: &SocketAddr| l.is_ipv4() == local.is_ipv4();
    let wildcard = |l: &SocketAddr| l.ip().is_unspecified();
    let exact = candidates.iter().find(|l| l.ip() == local.ip() || mapped_equal(l.ip(), local.ip()));
    exact
        .or_else(|| candidates.iter().find(|l| wildcard(l) && same_family(l)))
        .or_else(|| candidates.iter().find(|l| wildcard(l)))
        .copied()
}

fn mapped_equal(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V6(v6), IpAddr::V4(v4)) | (IpAddr::V4(v4), IpAddr::V6(v6)) => {
            v6.to_ipv4_mapped() == Some(v4)
        }
        _ => false,
    }
}

/// Findings about listeners.
pub fn findings(snapshot: &Snapshot, listeners: &[Listener], t: &Thresholds) -> Vec<Finding> {
    let somaxconn = snapshot.sysctls.int("net.core.somaxconn");
    let syncookies = snapshot.sysctls.int("net.ipv4.tcp_syncookies");
    let mut out = Vec::new();
    for l in listeners {
        let subject = l.subject(snapshot);
        out.extend(accept_queue(l, &subject, somaxconn));
        out.extend(syn_queue(l, &subject, somaxconn, syncookies, t));
        out.extend(drops(l, &subject));
        out.extend(capped(l, &subject, somaxconn));
    }
    out
}

fn queue_evidence(l: &Listener, somaxconn: Option<i64>) -> QueueEvidence {
    QueueEvidence { accept_queue: l.accept_queue, backlog: l.backlog, drops: l.drops, somaxconn }
}

fn accept_queue(l: &Listener, subject: &Subject, somaxconn: Option<i64>) -> Option<Finding> {
    let queue = queue_evidence(l, somaxconn);
    if l.full {
        return Some(Finding {
            severity: Severity::Critical,
            subject: subject.clone(),
            evidence: Evidence::AcceptQueueFull(queue),
        });
    }
    l.near_full.then(|| Finding {
        severity: Severity::Warning,
        subject: subject.clone(),
        evidence: Evidence::AcceptQueueNearFull(NearFullEvidence {
            queue,
            fill_pct: l.fill_pct.unwrap_or(0.0),
        }),
    })
}

fn syn_queue(
    l: &Listener,
    subject: &Subject,
    somaxconn: Option<i64>,
    syncookies: Option<i64>,
    t: &Thresholds,
) -> Option<Finding> {
    let limit = match somaxconn {
        Some(s) => u64::from(l.backlog).min(u64::try_from(s).unwrap_or(0)),
        None => u64::from(l.backlog),
    };
    let evidence = SynQueueEvidence { syn_recv: l.syn_recv, limit, syncookies };
    if l.proto != Proto::Tcp || l.syn_recv == 0 || evidence.share_pct() < t.syn_queue_pct {
        return None;
    }
    let severity = if u64::from(l.syn_recv) >= limit { Severity::Critical } else { Severity::Warning };
    Some(Finding { severity, subject: subject.clone(), evidence: Evidence::SynQueuePressure(evidence) })
}

fn drops(l: &Listener, subject: &Subject) -> Option<Finding> {
    l.drops.filter(|&d| d > 0)?;
    Some(Finding {
        severity: Severity::Warning,
        subject: subject.clone(),
        evidence: Evidence::ListenerDrops(queue_evidence(l, None)),
    })
}

fn capped(l: &Listener, subject: &Subject, somaxconn: Option<i64>) -> Option<Finding> {
    let s = somaxconn?;
    (i64::from(l.backlog) == s).then(|| Finding {
        severity: Severity::Info,
        subject: subject.clone(),
        evidence: Evidence::BacklogCappedBySomaxconn(CappedEvidence { backlog: l.backlog, somaxconn: s }),
    })
}
