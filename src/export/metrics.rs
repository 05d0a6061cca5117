//! The metric families of one collection, built from snapshots.
//!
//! Every label has bounded cardinality on a busy host: where a socket lives
//! (namespace, pod), what listens (protocol, local address and port), and who
//! holds it by process *name*. Never a pid, an inode, or a remote address or
//! port: those churn with every connection and process and would grow
//! Prometheus without bound. Per-process families keep at most
//! [`Limits::processes`] names per namespace.
//!
//! Listeners come from [`analyze::listeners`]. Sockets that end up with the
//! same labels (a `SO_REUSEPORT` group: one listening socket per worker on
//! one port) are exposed once, as the fullest of them — the kernel spreads
//! connections over the group by hash, so one stuck worker's queue
//! overflows while the others are empty, and a sum would hide it — with the
//! group's drops added up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::families::{Exposition, Family, Kind, Labels, Value};
use crate::analyze::{self, Listener, Thresholds};
use crate::model::{Endpoint, Proto, Snapshot, State};
use crate::output::escape;

/// Where a namespace is, as labels. `pod` and `namespace` stay empty until
/// namespaces are matched to pods.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetnsLabels {
    /// The namespace's key in every series: `host`, an `ip netns` name, ...
    pub netns: String,
    /// Its `ip netns` name, when it has one.
    pub name: String,
    pub pod: String,
    pub namespace: String,
    /// The short id of the container that owns the namespace, when known.
    pub container: String,
}

/// Label values for the namespaces of an all-namespace snapshot. A label
/// never holds an inode: a namespace is named by its `ip netns` name, its
/// pod, its container, or the command of its first process; names that
/// repeat get `#2`, `#3`... so series never collide.
#[derive(Debug, Default)]
pub(super) struct NetnsKeys {
    used: std::collections::HashMap<String, u32>,
}

impl NetnsKeys {
    pub(super) fn labels(&mut self, n: &crate::model::Namespace, snapshot: &Snapshot) -> NetnsLabels {
        let l = &n.labels;
        let pod = l.pod.as_ref();
        let container: String = l.container_id.as_deref().unwrap_or_default().chars().take(12).collect();
        let first_comm = l.pids.first().and_then(|pid| snapshot.processes.get(pid)).map(|p| p.comm.clone());
        let base = if n.own {
            "host".to_string()
        } else if let Some(name) = &l.name {
            name.clone()
        } else if let Some(name) = pod.and_then(|p| p.name.as_ref()) {
            format!("pod:{}/{name}", pod.and_then(|p| p.namespace.as_deref()).unwrap_or(""))
        } else if !container.is_empty() {
            format!("container:{container}")
        } else if let Some(comm) = first_comm {
            format!("process:{}", crate::output::escape::text(&comm))
        } else {
            "unnamed".to_string()
        };
        let seen = self.used.entry(base.clone()).or_insert(0);
        *seen += 1;
        let netns = if *seen == 1 { base } else { format!("{base}#{seen}") };
        NetnsLabels {
            netns,
            name: l.name.clone().unwrap_or_default(),
            pod: pod.and_then(|p| p.name.clone()).unwrap_or_default(),
            namespace: pod.and_then(|p| p.namespace.clone()).unwrap_or_default(),
            container,
        }
    }
}

/// One namespace's collection: a snapshot, or why there is none.
#[derive(Debug)]
pub(super) struct NetnsResult {
    pub labels: NetnsLabels,
    pub snapshot: Result<Snapshot, String>,
}

/// Bounds on the exposition's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Process names per namespace in each per-process family.
    pub processes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { processes: 100 }
    }
}

/// Process name standing for the names beyond [`Limits::processes`].
pub(super) const OTHER_PROCESSES: &str = "(other)";

/// The TCP states exposed by `sockscope_tcp_sockets`, with their label values.
const TCP_STATES: [(State, &str); 11] = [
    (State::Established, "established"),
    (State::SynSent, "syn_sent"),
    (State::SynRecv, "syn_recv"),
    (State::FinWait1, "fin_wait1"),
    (State::FinWait2, "fin_wait2"),
    (State::TimeWait, "time_wait"),
    (State::Close, "close"),
    (State::CloseWait, "close_wait"),
    (State::LastAck, "last_ack"),
    (State::Listen, "listen"),
    (State::Closing, "closing"),
];

/// Every family, in exposition order.
struct Families {
    queued: Family,
    backlog: Family,
    syn_recv: Family,
    drops: Family,
    tcp_sockets: Family,
    close_wait: Family,
    overflows: Family,
    time_wait_ratio: Family,
    ghosts: Family,
    open_fds: Family,
    max_fds: Family,
    netns_info: Family,
    success: Family,
    duration: Family,
    build_info: Family,
}

impl Families {
    fn new() -> Families {
        use Kind::*;
        Families {
            queued: Family::new(
                "sockscope_listen_queued_connections",
                Gauge,
                "Connections in a listener's accept queue: handshake done, accept() not yet called (ss Recv-Q).",
            ),
            backlog: Family::new(
                "sockscope_listen_backlog_connections",
                Gauge,
                "A listener's accept-queue limit: the listen() backlog, capped by net.core.somaxconn (ss Send-Q). Full when queued > backlog.",
            ),
            syn_recv: Family::new(
                "sockscope_listen_syn_recv_requests",
                Gauge,
                "Half-open connections (SYN-RECV) waiting for the final ACK of the handshake to a TCP listener.",
            ),
            drops: Family::new(
                "sockscope_listen_drops_total",
                Counter,
                "Connection attempts a TCP listener dropped since it was opened (SK_MEMINFO drops).",
            ),
            tcp_sockets: Family::new("sockscope_tcp_sockets", Gauge, "TCP sockets by state."),
            close_wait: Family::new(
                "sockscope_close_wait_sockets",
                Gauge,
                "TCP sockets in CLOSE-WAIT (the peer closed, the application did not) by holding process name; empty name: no visible owner.",
            ),
            overflows: Family::new(
                "sockscope_netns_listen_overflows_total",
                Counter,
                "Times an accept queue of this namespace was full when a connection completed (TcpExt ListenOverflows).",
            ),
            time_wait_ratio: Family::new(
                "sockscope_timewait_ephemeral_ratio",
                Gauge,
                "Largest share of the ephemeral port range (net.ipv4.ip_local_port_range) pinned by TIME-WAIT sockets from one local address to one destination.",
            ),
            ghosts: Family::new(
                "sockscope_ghost_sockets",
                Gauge,
                "TCP sockets a process holds that no socket table shows (reset by the peer, never closed), by process name.",
            ),
            open_fds: Family::new(
                "sockscope_process_open_fds",
                Gauge,
                "Open file descriptors of the process with this name that is closest to its limit, among processes holding sockets.",
            ),
            max_fds: Family::new(
                "sockscope_process_max_fds",
                Gauge,
                "RLIMIT_NOFILE soft limit of the same process as sockscope_process_open_fds (absent when unlimited).",
            ),
            netns_info: Family::new(
                "sockscope_netns_info",
                Info,
                "A network namespace sockscope inspects, with its name and pod.",
            ),
            success: Family::new(
                "sockscope_scrape_success",
                Gauge,
                "1 if the namespace was collected in this scrape, 0 if it failed.",
            ),
            duration: Family::new(
                "sockscope_scrape_duration_seconds",
                Gauge,
                "Wall time of the collection this scrape was answered from.",
            ),
            build_info: Family::new(
                "sockscope_build_info",
                Info,
                "The sockscope version serving these metrics.",
            ),
        }
    }

    fn into_exposition(self) -> Exposition {
        let mut exposition = Exposition::default();
        for family in [
            self.queued,
            self.backlog,
            self.syn_recv,
            self.drops,
            self.tcp_sockets,
            self.close_wait,
            self.overflows,
            self.time_wait_ratio,
            self.ghosts,
            self.open_fds,
            self.max_fds,
            self.netns_info,
            self.success,
            self.duration,
            self.build_info,
        ] {
            exposition.add(family);
        }
        exposition
    }
}

/// The name of every family the exporter can expose, in exposition order.
pub fn metric_names() -> Vec<&'static str> {
    let f = Families::new();
    [
        &f.queued,
        &f.backlog,
        &f.syn_recv,
        &f.drops,
        &f.tcp_sockets,
        &f.close_wait,
        &f.overflows,
        &f.time_wait_ratio,
        &f.ghosts,
        &f.open_fds,
        &f.max_fds,
        &f.netns_info,
        &f.success,
        &f.duration,
        &f.build_info,
    ]
    .iter()
    .map(|family| family.name)
    .collect()
}

/// Builds the exposition of one collection.
pub(super) fn build(results: &[NetnsResult], duration: Duration, limits: &Limits) -> Exposition {
    let mut f = Families::new();
    for result in results {
        let ns = &result.labels;
        f.netns_info.int(
            vec![
                ("netns", ns.netns.clone()),
                ("name", ns.name.clone()),
                ("pod", ns.pod.clone()),
                ("namespace", ns.namespace.clone()),
                ("container", ns.container.clone()),
            ],
            1,
        );
        f.success.int(vec![("netns", ns.netns.clone())], u64::from(result.snapshot.is_ok()));
        if let Ok(snapshot) = &result.snapshot {
            add_netns(&mut f, ns, snapshot, limits);
        }
    }
    f.duration.push(Vec::new(), Value::Float(duration.as_secs_f64()));
    f.build_info.int(vec![("version", env!("CARGO_PKG_VERSION").to_string())], 1);
    f.into_exposition()
}

fn add_netns(f: &mut Families, ns: &NetnsLabels, snapshot: &Snapshot, limits: &Limits) {
    add_listeners(f, ns, snapshot);
    for (state, count) in tcp_state_counts(snapshot) {
        f.tcp_sockets.int(with(netns_labels(ns), &[("state", state.to_string())]), count);
    }
    for (process, count) in bounded(close_wait_by_process(snapshot), limits.processes) {
        f.close_wait.int(process_labels(ns, process), count);
    }
    if let Some(overflows) = snapshot.counters.get("TcpExt", "ListenOverflows") {
        f.overflows.int(netns_labels(ns), u64::try_from(overflows).unwrap_or(0));
    }
    if let Some(ratio) = time_wait_ratio(snapshot) {
        f.time_wait_ratio.push(netns_labels(ns), Value::Float(ratio));
    }
    if let Some(ghosts) = ghosts_by_process(snapshot) {
        for (process, count) in bounded(ghosts, limits.processes) {
            f.ghosts.int(process_labels(ns, process), count);
        }
    }
    for (process, fds) in fds_by_process(snapshot, limits.processes) {
        f.open_fds.int(process_labels(ns, process.clone()), fds.open);
        if let Some(max) = fds.max {
            f.max_fds.int(process_labels(ns, process), max);
        }
    }
}

fn netns_labels(ns: &NetnsLabels) -> Labels {
    vec![("netns", ns.netns.clone()), ("pod", ns.pod.clone()), ("namespace", ns.namespace.clone())]
}

/// Labels of a series about one process name; `container` is the
/// namespace's container, when one owns it.
fn process_labels(ns: &NetnsLabels, process: String) -> Labels {
    with(netns_labels(ns), &[("container", ns.container.clone()), ("process", process)])
}

fn with(mut labels: Labels, more: &[(&'static str, String)]) -> Labels {
    labels.extend(more.iter().cloned());
    labels
}

/// A process name fit for a label: control characters made visible.
fn process_name(snapshot: &Snapshot, pid: u32) -> String {
    escape::text(snapshot.comm(pid)).into_owned()
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ListenerKey {
    proto: &'static str,
    address: String,
    port: String,
    process: String,
}

#[derive(Clone, Copy, Debug, Default)]
struct Queues {
    queued: u64,
    backlog: u64,
    /// [`fullness`] of the socket `queued` and `backlog` come from.
    fill: f64,
    syn_recv: u64,
    drops: Option<u64>,
}

/// Orders listeners by how close to overflow they are: the accept queue over
/// the queue's capacity (backlog + 1).
fn fullness(l: &Listener) -> f64 {
    f64::from(l.accept_queue) / (f64::from(l.backlog) + 1.0)
}

fn add_listeners(f: &mut Families, ns: &NetnsLabels, snapshot: &Snapshot) {
    let mut groups: BTreeMap<ListenerKey, Queues> = BTreeMap::new();
    for l in analyze::listeners(snapshot, &Thresholds::default()) {
        let key = listener_key(snapshot, &l);
        let q = groups.entry(key).or_insert(Queues { fill: -1.0, ..Queues::default() });
        let fill = fullness(&l);
        if fill > q.fill {
            (q.queued, q.backlog, q.fill) = (u64::from(l.accept_queue), u64::from(l.backlog), fill);
        }
        // SYN-RECV rows are counted per listening address, so every socket
        // of a SO_REUSEPORT group already carries the group's count.
        q.syn_recv = q.syn_recv.max(u64::from(l.syn_recv));
        if let Some(d) = l.drops {
            q.drops = Some(q.drops.unwrap_or(0) + u64::from(d));
        }
    }
    for (key, q) in groups {
        let tcp = key.proto == Proto::Tcp.netid();
        let labels = with(
            netns_labels(ns),
            &[
                ("container", ns.container.clone()),
                ("proto", key.proto.to_string()),
                ("local_address", key.address),
                ("port", key.port),
                ("process", key.process),
            ],
        );
        f.queued.int(labels.clone(), q.queued);
        f.backlog.int(labels.clone(), q.backlog);
        if tcp {
            f.syn_recv.int(labels.clone(), q.syn_recv);
        }
        if let Some(d) = q.drops {
            f.drops.int(labels, d);
        }
    }
}

fn listener_key(snapshot: &Snapshot, l: &Listener) -> ListenerKey {
    let (address, port) = match &l.local {
        Endpoint::Ip(addr) => (addr.ip().to_string(), addr.port().to_string()),
        Endpoint::UnixPath(path) => (escape::bytes(path), String::new()),
        Endpoint::UnixAbstract(name) => (format!("@{}", escape::bytes(name)), String::new()),
        Endpoint::Unnamed => (String::new(), String::new()),
    };
    let process =
        snapshot.owner_pid_iter(l.inode).next().map(|pid| process_name(snapshot, pid)).unwrap_or_default();
    ListenerKey { proto: l.proto.netid(), address, port, process }
}

/// Every TCP state with its count (zero included, so series stay continuous).
fn tcp_state_counts(snapshot: &Snapshot) -> Vec<(&'static str, u64)> {
    let mut counts = [0u64; TCP_STATES.len()];
    for s in snapshot.sockets.iter().filter(|s| s.proto == Proto::Tcp) {
        if let Some(i) = TCP_STATES.iter().position(|(state, _)| *state == s.state) {
            counts[i] += 1;
        }
    }
    TCP_STATES.iter().zip(counts).map(|((_, name), n)| (*name, n)).collect()
}

/// CLOSE-WAIT sockets per holding process name (a socket held by several
/// processes of one name counts once for it); `""` for no visible owner.
fn close_wait_by_process(snapshot: &Snapshot) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let close_wait = snapshot.sockets.iter().filter(|s| s.proto == Proto::Tcp && s.state == State::CloseWait);
    for s in close_wait {
        let mut names: Vec<String> =
            snapshot.owner_pid_iter(s.inode).map(|pid| process_name(snapshot, pid)).collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            names.push(String::new());
        }
        for name in names {
            *counts.entry(name).or_insert(0) += 1;
        }
    }
    counts
}

/// Ghost sockets (distinct inodes) per holding process name, when the
/// snapshot checked for them.
fn ghosts_by_process(snapshot: &Snapshot) -> Option<BTreeMap<String, u64>> {
    let ghosts = snapshot.ghosts.as_ref()?;
    let held: HashSet<(String, u64)> =
        ghosts.iter().map(|r| (process_name(snapshot, r.pid), r.inode)).collect();
    let mut counts = BTreeMap::new();
    for (name, _) in held {
        *counts.entry(name).or_insert(0) += 1;
    }
    Some(counts)
}

/// The largest TIME-WAIT count from one local address to one destination,
/// over the ephemeral range. Only sockets whose local port is ephemeral
/// count: a server's TIME-WAIT on its listening port pins no ephemeral port.
fn time_wait_ratio(snapshot: &Snapshot) -> Option<f64> {
    let (low, high) = snapshot.sysctls.ephemeral_ports()?;
    let ports = snapshot.sysctls.ephemeral_port_count()?;
    let mut counts: HashMap<(IpAddr, SocketAddr), u32> = HashMap::new();
    let time_wait = snapshot.sockets.iter().filter(|s| s.proto == Proto::Tcp && s.state == State::TimeWait);
    for s in time_wait {
        let (Some(local), Some(remote)) = (s.local.ip(), s.remote.ip()) else { continue };
        if (low..=high).contains(&local.port()) {
            *counts.entry((local.ip(), remote)).or_insert(0) += 1;
        }
    }
    let worst = counts.values().copied().max().unwrap_or(0);
    Some(f64::from(worst) / f64::from(ports.max(1)))
}

/// Keeps the `limit` largest counts by name; the rest are added up under
/// [`OTHER_PROCESSES`]. Sorted by name.
fn bounded(counts: BTreeMap<String, u64>, limit: usize) -> Vec<(String, u64)> {
    if counts.len() <= limit {
        return counts.into_iter().collect();
    }
    let mut by_size: Vec<(String, u64)> = counts.into_iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: u64 = by_size.split_off(limit.saturating_sub(1)).iter().map(|(_, n)| n).sum();
    let mut kept: BTreeMap<String, u64> = by_size.into_iter().collect();
    *kept.entry(OTHER_PROCESSES.to_string()).or_insert(0) += rest;
    kept.into_iter().collect()
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Fds {
    open: u64,
    max: Option<u64>,
    share: f64,
}

/// Per process name, the fds of the process closest to its limit, among
/// the processes of this namespace holding sockets; the `limit` names
/// closest to their limits. Sorted by name.
fn fds_by_process(snapshot: &Snapshot, limit: usize) -> Vec<(String, Fds)> {
    let mut worst: BTreeMap<String, Fds> = BTreeMap::new();
    let here = snapshot.processes.values().filter(|p| p.socket_fds > 0 && p.in_netns(snapshot.netns.inode));
    for p in here {
        let Some(open) = p.fd_count else { continue };
        let max = p.fd_limit.and_then(|l| l.value());
        let fds = Fds { open: u64::from(open), max, share: p.fd_usage_pct().unwrap_or(0.0) };
        let entry = worst.entry(escape::text(&p.comm).into_owned()).or_insert(fds);
        if (fds.share, fds.open) > (entry.share, entry.open) {
            *entry = fds;
        }
    }
    let mut ranked: Vec<(String, Fds)> = worst.into_iter().collect();
    ranked.sort_by(|a, b| b.1.share.total_cmp(&a.1.share).then(b.1.open.cmp(&a.1.open)).then(a.0.cmp(&b.0)));
    ranked.truncate(limit);
    ranked.sort_by(|a, b| a.0.cmp(&b.0));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_keeps_the_largest_and_adds_up_the_rest() {
        let counts: BTreeMap<String, u64> =
            [("a", 1), ("b", 9), ("c", 5), ("d", 2)].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let kept = bounded(counts.clone(), 3);
        assert_eq!(kept, vec![("(other)".to_string(), 3), ("b".to_string(), 9), ("c".to_string(), 5)]);
        assert_eq!(bounded(counts, 4).len(), 4);
    }

    #[test]
    fn bounded_merges_a_process_named_like_the_rest() {
        let counts: BTreeMap<String, u64> =
            [("(other)", 10), ("b", 9), ("c", 1)].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(bounded(counts, 2), vec![("(other)".to_string(), 20)]);
    }
}
