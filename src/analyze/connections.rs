//! Connection-state patterns: CLOSE-WAIT held by processes, TIME-WAIT piling
//! up towards one destination, SYN-SENT stuck towards one destination.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use super::evidence::{
    CloseWaitEvidence, Evidence, FdUsage, LocalListener, Peer, Remote, SynSentEvidence, TimeWaitEvidence,
    TwBucketsEvidence, UnownedCloseWaitEvidence, reuse_applies,
};
use super::finding::{Finding, Severity, Subject};
use super::listeners::{Listener, listener_for};
use super::percent::pct;
use super::thresholds::Thresholds;
use crate::model::{Proto, Snapshot, Socket, State};

fn tcp_in(snapshot: &Snapshot, state: State) -> impl Iterator<Item = &Socket> {
    snapshot.sockets.iter().filter(move |s| s.proto == Proto::Tcp && s.state == state)
}

/// Remote endpoints and how many sockets go to each, most first, at most `n`.
fn top_remotes<'a>(sockets: impl Iterator<Item = &'a Socket>, n: usize) -> Vec<(SocketAddr, u32)> {
    top(sockets.filter_map(|s| s.remote.ip()), n)
}

fn peers(counted: Vec<(Remote, u32)>) -> Vec<Peer> {
    counted.into_iter().map(|(remote, count)| Peer { remote, count }).collect()
}

/// `close_wait`: per process holding CLOSE-WAIT sockets.
pub(super) fn close_wait(snapshot: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    let mut by_pid: BTreeMap<u32, Vec<&Socket>> = BTreeMap::new();
    let mut unowned = Vec::new();
    for s in tcp_in(snapshot, State::CloseWait) {
        let pids = snapshot.owner_pids(s.inode);
        // Inode 0: waiting in an accept queue, counted on its listener.
        if pids.is_empty() && s.inode != 0 {
            unowned.push(s);
        }
        for pid in pids {
            by_pid.entry(pid).or_default().push(s);
        }
    }
    let mut out: Vec<Finding> =
        by_pid.into_iter().map(|(pid, sockets)| process_close_wait(snapshot, pid, &sockets, t)).collect();
    out.extend(unowned_close_wait(&unowned, t));
    out
}

fn close_wait_severity(count: u32, t: &Thresholds) -> Severity {
    match count {
        c if c >= t.close_wait.saturating_mul(10) => Severity::Critical,
        c if c >= t.close_wait => Severity::Warning,
        _ => Severity::Info,
    }
}

/// Where a CLOSE-WAIT socket's peer is, in the most telling form: for a
/// socket accepted on a listening port the client's port is noise, so only
/// its address counts; for an outgoing connection the remote ip:port is the
/// service that closed on us.
fn peer_key(s: &Socket, listening: &HashSet<u16>) -> Option<Remote> {
    let remote = s.remote.ip()?;
    match s.local.port().is_some_and(|p| listening.contains(&p)) {
        true => Some(Remote::Address(remote.ip())),
        false => Some(Remote::Endpoint(remote)),
    }
}

fn listening_ports(snapshot: &Snapshot) -> HashSet<u16> {
    tcp_in(snapshot, State::Listen).filter_map(|s| s.local.port()).collect()
}

/// The `n` most frequent keys with their counts, most first.
fn top<K: Ord + std::hash::Hash>(keys: impl Iterator<Item = K>, n: usize) -> Vec<(K, u32)> {
    let mut counts: HashMap<K, u32> = HashMap::new();
    for k in keys {
        *counts.entry(k).or_insert(0) += 1;
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// The top peers of a process's CLOSE-WAIT sockets (see [`peer_key`]).
pub(super) fn close_wait_peers(snapshot: &Snapshot, pid: u32) -> Vec<Peer> {
    let listening = listening_ports(snapshot);
    let mine =
        tcp_in(snapshot, State::CloseWait).filter(|s| snapshot.owner_pid_iter(s.inode).any(|p| p == pid));
    peers(top(mine.filter_map(|s| peer_key(s, &listening)), 5))
}

fn process_close_wait(snapshot: &Snapshot, pid: u32, sockets: &[&Socket], t: &Thresholds) -> Finding {
    let count = sockets.len() as u32;
    let process = snapshot.processes.get(&pid);
    let listening = listening_ports(snapshot);
    let ports = top(sockets.iter().filter_map(|s| s.local.port()), 5);
    let evidence = CloseWaitEvidence {
        close_wait: count,
        pid,
        local_ports: ports.iter().map(|p| p.0).collect(),
        peers: peers(top(sockets.iter().filter_map(|s| peer_key(s, &listening)), 5)),
        fd_usage: process.map(|p| FdUsage { fds: p.fd_count, fd_limit: p.fd_limit.and_then(|l| l.value()) }),
    };
    Finding {
        netns: None,
        severity: close_wait_severity(count, t),
        subject: Subject::Process { pid, comm: snapshot.comm(pid).to_string() },
        evidence: Evidence::CloseWait(evidence),
    }
}

fn unowned_close_wait(sockets: &[&Socket], t: &Thresholds) -> Option<Finding> {
    let count = sockets.len() as u32;
    (count > 0).then(|| Finding {
        netns: None,
        severity: close_wait_severity(count, t),
        subject: Subject::Host,
        evidence: Evidence::UnownedCloseWait(UnownedCloseWaitEvidence {
            close_wait: count,
            peers: peers(top(sockets.iter().filter_map(|s| s.remote.ip()).map(Remote::Endpoint), 5)),
        }),
    })
}

/// `time_wait_buildup`: per destination against the ephemeral port range, and
/// in total against `tcp_max_tw_buckets`.
pub(super) fn time_wait(snapshot: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(ports) = snapshot.sysctls.ephemeral_port_count() {
        let all = top_remotes(tcp_in(snapshot, State::TimeWait), usize::MAX);
        out.extend(
            all.into_iter().filter_map(|(dest, n)| destination_time_wait(snapshot, dest, n, ports, t)),
        );
    }
    out.extend(total_time_wait(snapshot, t));
    out
}

/// Per destination: TIME-WAIT against the port range. Where `tcp_tw_reuse`
/// covers the destination, connect() takes over a TIME-WAIT port once it is
/// 1 s old, so the count exhausts nothing: reported as information, with
/// the reuse explained. Otherwise a warning, critical from 90 % of the range.
fn destination_time_wait(
    snapshot: &Snapshot,
    dest: SocketAddr,
    count: u32,
    ports: u32,
    t: &Thresholds,
) -> Option<Finding> {
    let share = pct(f64::from(count), f64::from(ports));
    if share < t.time_wait_pct {
        return None;
    }
    let tw_reuse = snapshot.sysctls.int("net.ipv4.tcp_tw_reuse");
    let timestamps = snapshot.sysctls.int("net.ipv4.tcp_timestamps");
    let evidence = TimeWaitEvidence {
        time_wait: count,
        ephemeral_ports: ports,
        share_pct: share,
        tcp_tw_reuse: tw_reuse,
        tcp_timestamps: timestamps,
        reuse_applies: reuse_applies(tw_reuse, timestamps, dest.ip()),
    };
    let severity = match evidence.reuse_applies {
        true => Severity::Info,
        false if share >= 90.0 => Severity::Critical,
        false => Severity::Warning,
    };
    Some(Finding {
        netns: None,
        severity,
        subject: Subject::Destination(dest),
        evidence: Evidence::TimeWaitBuildup(evidence),
    })
}

fn total_time_wait(snapshot: &Snapshot, t: &Thresholds) -> Option<Finding> {
    let max = snapshot.sysctls.int("net.ipv4.tcp_max_tw_buckets").filter(|&m| m > 0)?;
    let counted = tcp_in(snapshot, State::TimeWait).count() as i64;
    let total = snapshot.counters.sockstat("TCP", "tw").unwrap_or(counted).max(counted);
    let evidence = TwBucketsEvidence {
        time_wait: total,
        tcp_max_tw_buckets: max,
        time_wait_overflow: snapshot.counters.get("TcpExt", "TCPTimeWaitOverflow"),
    };
    if evidence.share_pct() < t.tw_buckets_pct {
        return None;
    }
    Some(Finding {
        netns: None,
        severity: if total >= max { Severity::Critical } else { Severity::Warning },
        subject: Subject::Host,
        evidence: Evidence::TimeWaitBuckets(evidence),
    })
}

/// `syn_sent_pileup`: connections stuck in SYN-SENT towards one destination.
/// When the destination is a listener of this namespace, it is named with
/// its queues: a full accept queue there is why the SYNs go unanswered.
pub(super) fn syn_sent(snapshot: &Snapshot, listeners: &[Listener], t: &Thresholds) -> Vec<Finding> {
    let mut by_dest: BTreeMap<SocketAddr, Vec<&Socket>> = BTreeMap::new();
    for s in tcp_in(snapshot, State::SynSent) {
        if let Some(remote) = s.remote.ip() {
            by_dest.entry(remote).or_default().push(s);
        }
    }
    let piled: Vec<_> = by_dest.into_iter().filter(|(_, v)| v.len() as u32 >= t.syn_sent).collect();
    if piled.is_empty() {
        return Vec::new();
    }
    let local_ips = local_ips(snapshot);
    piled
        .into_iter()
        .map(|(dest, sockets)| {
            let here = listener_for(listeners, dest, &local_ips);
            syn_sent_finding(snapshot, dest, &sockets, here, t)
        })
        .collect()
}

/// The addresses this namespace's sockets are bound to.
fn local_ips(snapshot: &Snapshot) -> HashSet<IpAddr> {
    let ips = snapshot.sockets.iter().filter_map(|s| s.local.ip()).map(|a| a.ip());
    ips.filter(|ip| !ip.is_unspecified()).collect()
}

fn syn_sent_finding(
    snapshot: &Snapshot,
    dest: SocketAddr,
    sockets: &[&Socket],
    listener: Option<&Listener>,
    t: &Thresholds,
) -> Finding {
    let count = sockets.len() as u32;
    let mut pids: Vec<u32> = sockets.iter().flat_map(|s| snapshot.owner_pids(s.inode)).collect();
    pids.sort_unstable();
    pids.dedup();
    let local_listener = listener.and_then(|l| {
        Some(LocalListener {
            local: l.local.ip()?,
            accept_queue: l.accept_queue,
            backlog: l.backlog,
            syn_recv: l.syn_recv,
            full: l.full,
        })
    });
    Finding {
        netns: None,
        severity: if count >= t.syn_sent.saturating_mul(10) { Severity::Critical } else { Severity::Warning },
        subject: Subject::Destination(dest),
        evidence: Evidence::SynSentPileup(SynSentEvidence {
            syn_sent: count,
            pids,
            tcp_syn_retries: snapshot.sysctls.int("net.ipv4.tcp_syn_retries"),
            local_listener,
        }),
    }
}
