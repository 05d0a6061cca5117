//! Connection-state patterns: CLOSE-WAIT held by processes, TIME-WAIT piling
//! up towards one destination, SYN-SENT stuck towards one destination.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

use serde_json::json;

use super::finding::{Evidence, Finding, FindingKind, Severity, Subject, pct};
use super::thresholds::Thresholds;
use crate::model::{Proto, Snapshot, Socket, State};

fn tcp_in(snapshot: &Snapshot, state: State) -> impl Iterator<Item = &Socket> {
    snapshot.sockets.iter().filter(move |s| s.proto == Proto::Tcp && s.state == state)
}

/// Remote endpoints and how many sockets go to each, most first, at most `n`.
fn top_remotes<'a>(sockets: impl Iterator<Item = &'a Socket>, n: usize) -> Vec<(SocketAddr, u32)> {
    top(sockets.filter_map(|s| s.remote.ip()), n)
}

pub(super) fn peers_json<K: ToString>(peers: &[(K, u32)]) -> serde_json::Value {
    peers.iter().map(|(addr, count)| json!({ "remote": addr.to_string(), "count": count })).collect()
}

/// `close_wait`: per process holding CLOSE-WAIT sockets.
pub fn close_wait(snapshot: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    let mut by_pid: BTreeMap<u32, Vec<&Socket>> = BTreeMap::new();
    let mut unowned = Vec::new();
    for s in tcp_in(snapshot, State::CloseWait) {
        let pids = snapshot.owner_pids(s.inode);
        if pids.is_empty() {
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
fn peer_key(s: &Socket, listening: &HashSet<u16>) -> Option<String> {
    let remote = s.remote.ip()?;
    match s.local.port().is_some_and(|p| listening.contains(&p)) {
        true => Some(remote.ip().to_string()),
        false => Some(remote.to_string()),
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
pub(super) fn close_wait_peers(snapshot: &Snapshot, pid: u32) -> Vec<(String, u32)> {
    let listening = listening_ports(snapshot);
    let mine =
        tcp_in(snapshot, State::CloseWait).filter(|s| snapshot.owner_pid_iter(s.inode).any(|p| p == pid));
    top(mine.filter_map(|s| peer_key(s, &listening)), 5)
}

fn process_close_wait(snapshot: &Snapshot, pid: u32, sockets: &[&Socket], t: &Thresholds) -> Finding {
    let count = sockets.len() as u32;
    let process = snapshot.processes.get(&pid);
    let listening = listening_ports(snapshot);
    let peers = top(sockets.iter().filter_map(|s| peer_key(s, &listening)), 5);
    let ports = top(sockets.iter().filter_map(|s| s.local.port()), 5);
    let mut evidence = Evidence::default()
        .with("close_wait", count)
        .with("pid", pid)
        .with("local_ports", ports.iter().map(|p| p.0).collect::<Vec<u16>>())
        .with("peers", peers_json(&peers));
    if let Some(p) = process {
        evidence = evidence.with("fds", p.fd_count).with("fd_limit", p.fd_limit.and_then(|l| l.value()));
    }
    Finding {
        kind: FindingKind::CloseWait,
        severity: close_wait_severity(count, t),
        subject: Subject::Process { pid, comm: snapshot.comm(pid).to_string() },
        message: format!(
            "holds {count} CLOSE-WAIT socket{}: the peer closed, this process never called close()",
            if count == 1 { "" } else { "s" }
        ),
        evidence,
        hint: "CLOSE-WAIT never times out: a code path reads EOF (or errors) and does not close the socket; \
               each one keeps an fd until the process hits RLIMIT_NOFILE (\"Too many open files\"). \
               `sockscope watch --pid PID` shows whether it grows"
            .to_string(),
    }
}

fn unowned_close_wait(sockets: &[&Socket], t: &Thresholds) -> Option<Finding> {
    let count = sockets.len() as u32;
    (count > 0).then(|| Finding {
        kind: FindingKind::CloseWait,
        severity: close_wait_severity(count, t),
        subject: Subject::Host,
        message: format!("{count} CLOSE-WAIT sockets whose owning process could not be seen"),
        evidence: Evidence::default()
            .with("close_wait", count)
            .with("peers", peers_json(&top_remotes(sockets.iter().copied(), 5))),
        hint: "run as root (or in the owner's pid namespace) to see which process leaks them".to_string(),
    })
}

/// `time_wait_buildup`: per destination against the ephemeral port range, and
/// in total against `tcp_max_tw_buckets`.
pub fn time_wait(snapshot: &Snapshot, t: &Thresholds) -> Vec<Finding> {
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
    let reuse = snapshot.sysctls.int("net.ipv4.tcp_tw_reuse");
    Some(Finding {
        kind: FindingKind::TimeWaitBuildup,
        severity: if share >= 90.0 { Severity::Critical } else { Severity::Warning },
        subject: Subject::Destination(dest),
        message: format!(
            "{count} TIME-WAIT sockets towards {dest} pin {share}% of the {ports} ephemeral ports; \
             connect() fails with EADDRNOTAVAIL when they run out"
        ),
        evidence: Evidence::default()
            .with("time_wait", count)
            .with("ephemeral_ports", ports)
            .with("share_pct", share)
            .with("tcp_tw_reuse", reuse),
        hint: "connections to this destination are opened and closed faster than TIME-WAIT (60 s) expires: \
               reuse them (keep-alive, pooling), set net.ipv4.tcp_tw_reuse=1, or widen net.ipv4.ip_local_port_range"
            .to_string(),
    })
}

fn total_time_wait(snapshot: &Snapshot, t: &Thresholds) -> Option<Finding> {
    let max = snapshot.sysctls.int("net.ipv4.tcp_max_tw_buckets").filter(|&m| m > 0)?;
    let counted = tcp_in(snapshot, State::TimeWait).count() as i64;
    let total = snapshot.counters.sockstat("TCP", "tw").unwrap_or(counted).max(counted);
    let share = pct(total as f64, max as f64);
    (share >= t.tw_buckets_pct).then(|| Finding {
        kind: FindingKind::TimeWaitBuildup,
        severity: if total >= max { Severity::Critical } else { Severity::Warning },
        subject: Subject::Host,
        message: format!("{total} TIME-WAIT sockets reach {share}% of net.ipv4.tcp_max_tw_buckets ({max}); beyond it the kernel skips TIME-WAIT"),
        evidence: Evidence::default()
            .with("time_wait", total)
            .with("tcp_max_tw_buckets", max)
            .with("TCPTimeWaitOverflow", snapshot.counters.get("TcpExt", "TCPTimeWaitOverflow")),
        hint: "many short connections end here; reuse connections, or raise net.ipv4.tcp_max_tw_buckets".to_string(),
    })
}

/// `syn_sent_pileup`: connections stuck in SYN-SENT towards one destination.
pub fn syn_sent(snapshot: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    let mut by_dest: BTreeMap<SocketAddr, Vec<&Socket>> = BTreeMap::new();
    for s in tcp_in(snapshot, State::SynSent) {
        if let Some(remote) = s.remote.ip() {
            by_dest.entry(remote).or_default().push(s);
        }
    }
    by_dest
        .into_iter()
        .filter(|(_, v)| v.len() as u32 >= t.syn_sent)
        .map(|(dest, sockets)| syn_sent_finding(snapshot, dest, &sockets, t))
        .collect()
}

fn syn_sent_finding(snapshot: &Snapshot, dest: SocketAddr, sockets: &[&Socket], t: &Thresholds) -> Finding {
    let count = sockets.len() as u32;
    let mut pids: Vec<u32> = sockets.iter().flat_map(|s| snapshot.owner_pids(s.inode)).collect();
    pids.sort_unstable();
    pids.dedup();
    Finding {
        kind: FindingKind::SynSentPileup,
        severity: if count >= t.syn_sent.saturating_mul(10) { Severity::Critical } else { Severity::Warning },
        subject: Subject::Destination(dest),
        message: format!("{count} connections stuck in SYN-SENT towards {dest}: it does not answer SYNs"),
        evidence: Evidence::default()
            .with("syn_sent", count)
            .with("pids", pids)
            .with("tcp_syn_retries", snapshot.sysctls.int("net.ipv4.tcp_syn_retries")),
        hint: "the destination is unreachable, filtered, or its accept queue is full (it drops SYNs); \
               run sockscope on that host to check its listener"
            .to_string(),
    }
}
