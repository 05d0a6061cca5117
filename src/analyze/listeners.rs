//! Listening sockets: accept queue against backlog, SYN queue, drops.
//!
//! For a LISTEN socket the kernel reports the accept-queue length as Recv-Q and
//! the backlog as Send-Q. The queue holds backlog + 1 connections: it is full
//! when Recv-Q > Send-Q (`listen(fd, 4)` is full at 5). Half-open connections
//! are separate SYN-RECV rows with inode 0, and connections waiting in the
//! accept queue are ESTAB or CLOSE-WAIT rows with inode 0 (no file until
//! `accept()`); both are attributed here to the listener that accepts their
//! local address and port.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::evidence::{
    CappedEvidence, Evidence, NearFullEvidence, QueueEvidence, Stall, StalledEvidence, StalledOwner,
    SynQueueEvidence,
};
use super::finding::{Finding, Severity, Subject};
use super::percent::pct;
use super::thresholds::Thresholds;
use crate::model::{Endpoint, Family, FdLimit, Process, Proto, RunState, Snapshot, Socket, State};

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
    /// Connections the dump shows waiting in this accept queue (inode 0,
    /// ESTAB or CLOSE-WAIT): the queued sockets themselves.
    pub queued: u32,
    /// Of those, connections the client closed while waiting (CLOSE-WAIT):
    /// it gave up before the application accepted them.
    pub queued_close_wait: u32,
    /// Connection attempts this listener dropped (SK_MEMINFO drops). TCP
    /// only: a UNIX listener refuses or blocks connects and counts nothing,
    /// so its drops are unknown (`None`), never a reassuring 0.
    pub drops: Option<u32>,
    /// The kernel's test: accept_queue > backlog.
    pub full: bool,
    /// accept_queue / backlog in percent (`None` for a zero backlog).
    pub fill_pct: Option<f64>,
    /// Not full, but at or above the near-full threshold.
    pub near_full: bool,
    /// Inode of its network namespace in an all-namespace snapshot, else 0
    /// (set by [`listeners`], which knows the snapshot).
    pub netns: u64,
}

impl Listener {
    fn from_socket(s: &Socket, waiting: Waiting, t: &Thresholds) -> Listener {
        let mut l = Listener {
            proto: s.proto,
            family: s.family,
            local: s.local.clone(),
            inode: s.inode,
            accept_queue: s.recv_q,
            backlog: s.send_q,
            syn_recv: waiting.syn_recv,
            queued: waiting.queued,
            queued_close_wait: waiting.queued_close_wait,
            drops: s.drops().filter(|_| s.proto == Proto::Tcp),
            full: s.accept_queue_full(),
            fill_pct: (s.send_q > 0).then(|| pct(f64::from(s.recv_q), f64::from(s.send_q))),
            near_full: false,
            netns: 0,
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
    let waiting = waiting_by_listener(&snapshot.sockets);
    let mut out: Vec<Listener> = snapshot
        .sockets
        .iter()
        .filter(|s| s.is_listener())
        .map(|s| {
            let w = listener_key(s).and_then(|k| waiting.get(&k)).copied().unwrap_or_default();
            Listener { netns: snapshot.netns_of_socket(s), ..Listener::from_socket(s, w, t) }
        })
        .collect();
    sort(&mut out);
    out
}

/// Full queues first, then fuller ones, then by port.
pub(crate) fn sort(listeners: &mut [Listener]) {
    listeners.sort_by(|a, b| {
        b.full
            .cmp(&a.full)
            .then(b.fill_pct.unwrap_or(0.0).total_cmp(&a.fill_pct.unwrap_or(0.0)))
            .then(a.local.port().cmp(&b.local.port()))
    });
}

fn listener_key(s: &Socket) -> Option<SocketAddr> {
    (s.proto == Proto::Tcp).then(|| s.local.ip()).flatten()
}

/// The inode-0 rows that wait on one listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Waiting {
    syn_recv: u32,
    queued: u32,
    queued_close_wait: u32,
}

/// TCP listening addresses by port, to find the listener of a connection.
struct ListenerIndex(HashMap<u16, Vec<SocketAddr>>);

impl ListenerIndex {
    fn new<'a>(sockets: impl IntoIterator<Item = &'a Socket>) -> ListenerIndex {
        let mut by_port: HashMap<u16, Vec<SocketAddr>> = HashMap::new();
        for key in sockets.into_iter().filter(|s| s.is_listener()).filter_map(listener_key) {
            by_port.entry(key.port()).or_default().push(key);
        }
        ListenerIndex(by_port)
    }

    /// The listener a connection with this local address came through.
    fn listener_of(&self, local: SocketAddr) -> Option<SocketAddr> {
        let candidates = self.0.get(&local.port()).map_or(&[][..], Vec::as_slice);
        best_listener(local, candidates)
    }
}

/// Counts SYN-RECV rows and queued connections per listening address,
/// choosing for each row the most specific TCP listener on its port: exact
/// address, then a wildcard of the same family, then any wildcard (a
/// dual-stack `[::]` listener accepts IPv4).
fn waiting_by_listener(sockets: &[Socket]) -> HashMap<SocketAddr, Waiting> {
    let index = ListenerIndex::new(sockets);
    let mut counts: HashMap<SocketAddr, Waiting> = HashMap::new();
    for s in sockets.iter().filter(|s| s.proto == Proto::Tcp && s.inode == 0) {
        let half_open = s.state == State::SynRecv;
        if !half_open && !s.waits_for_accept() {
            continue;
        }
        let Some(best) = s.local.ip().and_then(|local| index.listener_of(local)) else { continue };
        let w = counts.entry(best).or_default();
        match half_open {
            true => w.syn_recv += 1,
            false => {
                w.queued += 1;
                w.queued_close_wait += u32::from(s.state == State::CloseWait);
            }
        }
    }
    counts
}

/// The TCP connections (any state but LISTEN) that came through `listener`:
/// accepted ones, those waiting in its accept queue and half-open ones.
pub(crate) fn connections_of<'a>(snapshot: &'a Snapshot, listener: &Listener) -> Vec<&'a Socket> {
    let Some(key) = (listener.proto == Proto::Tcp).then(|| listener.local.ip()).flatten() else {
        return Vec::new();
    };
    // In an all-namespace snapshot only the listener's own namespace counts.
    let same_netns = |s: &&Socket| snapshot.netns_of_socket(s) == listener.netns;
    let index = ListenerIndex::new(snapshot.sockets.iter().filter(same_netns));
    snapshot
        .sockets
        .iter()
        .filter(same_netns)
        .filter(|s| s.proto == Proto::Tcp && s.state != State::Listen && s.state != State::TimeWait)
        .filter(|s| s.local.ip().is_some_and(|local| local.port() == key.port()))
        .filter(|s| s.local.ip().and_then(|local| index.listener_of(local)) == Some(key))
        .collect()
}

/// Local clients still in SYN-SENT towards a TCP listener of this
/// namespace: when its queue is full their SYNs are dropped, and they
/// retry until they time out.
pub(crate) fn syn_sent_towards(snapshot: &Snapshot, listener: &Listener) -> usize {
    let Some(key) = (listener.proto == Proto::Tcp).then(|| listener.local.ip()).flatten() else {
        return 0;
    };
    // A wildcard listener covers this host's addresses: loopback, or the
    // address the client itself sends from (a connection to a local address
    // leaves from that address).
    let covers = |s: &Socket| {
        let (Some(remote), local) = (s.remote.ip(), s.local.ip()) else { return false };
        let to_here = remote.ip().is_loopback() || local.is_some_and(|l| l.ip() == remote.ip());
        remote.port() == key.port()
            && ((key.ip().is_unspecified() && to_here)
                || remote.ip() == key.ip()
                || mapped_equal(remote.ip(), key.ip()))
    };
    snapshot
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Tcp && s.state == State::SynSent)
        .filter(|s| snapshot.netns_of_socket(s) == listener.netns)
        .filter(|s| covers(s))
        .count()
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
pub(crate) fn findings(snapshot: &Snapshot, listeners: &[Listener], t: &Thresholds) -> Vec<Finding> {
    let somaxconn = snapshot.sysctls.int("net.core.somaxconn");
    let mut out = Vec::new();
    for l in listeners {
        let subject = l.subject(snapshot);
        out.extend(accept_queue(l, &subject, somaxconn));
        out.extend(stalled(snapshot, l, &subject));
        out.extend(syn_queue(snapshot, l, &subject, t));
        out.extend(drops(l, &subject));
        out.extend(capped(l, &subject, somaxconn));
    }
    out
}

fn queue_evidence(l: &Listener, somaxconn: Option<i64>) -> QueueEvidence {
    QueueEvidence {
        accept_queue: l.accept_queue,
        backlog: l.backlog,
        drops: l.drops,
        queued_close_wait: l.queued_close_wait,
        somaxconn,
    }
}

fn accept_queue(l: &Listener, subject: &Subject, somaxconn: Option<i64>) -> Option<Finding> {
    let queue = queue_evidence(l, somaxconn);
    if l.full {
        return Some(Finding {
            netns: None,
            severity: Severity::Critical,
            subject: subject.clone(),
            evidence: Evidence::AcceptQueueFull(queue),
        });
    }
    l.near_full.then(|| Finding {
        netns: None,
        severity: Severity::Warning,
        subject: subject.clone(),
        evidence: Evidence::AcceptQueueNearFull(NearFullEvidence {
            queue,
            fill_pct: l.fill_pct.unwrap_or(0.0),
        }),
    })
}

/// Why a process cannot run `accept()` now, if it cannot.
fn stall_of(p: &Process) -> Option<Stall> {
    match p.state? {
        RunState::Stopped => Some(Stall::Stopped),
        RunState::TracingStop => Some(Stall::Traced),
        RunState::Zombie | RunState::Dead => Some(Stall::Exiting),
        _ if p.at_fd_limit() => Some(Stall::FdLimit),
        RunState::DiskSleep => Some(Stall::Uninterruptible),
        _ => None,
    }
}

/// `accept_stalled`: clients wait and every owner is stopped, exiting, at
/// its fd limit, or (with a full or near-full queue, since a short `D` is
/// ordinary) in uninterruptible sleep. One owner able to accept (a worker of
/// a pool) keeps the queue moving, so every owner must be stuck.
fn stalled(snapshot: &Snapshot, l: &Listener, subject: &Subject) -> Option<Finding> {
    if l.accept_queue == 0 {
        return None;
    }
    let pids = snapshot.owner_pids(l.inode);
    let owners: Vec<StalledOwner> = pids
        .iter()
        .map(|pid| {
            let p = snapshot.processes.get(pid)?;
            Some(StalledOwner {
                pid: *pid,
                comm: p.comm.clone(),
                stall: stall_of(p)?,
                state: p.state,
                fds: p.fd_count,
                fd_limit: p.fd_limit.and_then(FdLimit::value),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let only_sleep = owners.iter().all(|o| o.stall == Stall::Uninterruptible);
    if owners.is_empty() || (only_sleep && !l.full && !l.near_full) {
        return None;
    }
    Some(Finding {
        netns: None,
        severity: if l.full { Severity::Critical } else { Severity::Warning },
        subject: subject.clone(),
        evidence: Evidence::AcceptStalled(StalledEvidence {
            accept_queue: l.accept_queue,
            backlog: l.backlog,
            queued_close_wait: l.queued_close_wait,
            owners,
        }),
    })
}

/// `syn_queue_pressure`, against the listener's own backlog: the limit the
/// kernel applies (fixed at `listen()`), never today's `somaxconn`. Full
/// drops SYNs only with syncookies off; with cookies, a full queue still
/// lets clients in, so it is at most a warning.
fn syn_queue(snapshot: &Snapshot, l: &Listener, subject: &Subject, t: &Thresholds) -> Option<Finding> {
    let syncookies = snapshot.sysctls.int("net.ipv4.tcp_syncookies");
    let max_syn = snapshot.sysctls.int("net.ipv4.tcp_max_syn_backlog").filter(|_| syncookies == Some(0));
    let unproven = max_syn.and_then(|m| u64::try_from(m - (m >> 2)).ok());
    let limit = unproven.map_or(u64::from(l.backlog), |u| u.min(u64::from(l.backlog)));
    let evidence = SynQueueEvidence {
        syn_recv: l.syn_recv,
        backlog: l.backlog,
        limit,
        syncookies,
        tcp_max_syn_backlog: max_syn,
    };
    if l.proto != Proto::Tcp || l.syn_recv == 0 || evidence.share_pct() < t.syn_queue_pct {
        return None;
    }
    let severity = match (evidence.full(), evidence.drops_at_limit()) {
        (true, true) => Severity::Critical,
        (false, false) => Severity::Info,
        _ => Severity::Warning,
    };
    Some(Finding {
        severity,
        subject: subject.clone(),
        evidence: Evidence::SynQueuePressure(evidence),
        netns: None,
    })
}

fn drops(l: &Listener, subject: &Subject) -> Option<Finding> {
    l.drops.filter(|&d| d > 0)?;
    Some(Finding {
        netns: None,
        severity: Severity::Warning,
        subject: subject.clone(),
        evidence: Evidence::ListenerDrops(queue_evidence(l, None)),
    })
}

fn capped(l: &Listener, subject: &Subject, somaxconn: Option<i64>) -> Option<Finding> {
    let s = somaxconn?;
    (i64::from(l.backlog) == s).then(|| Finding {
        netns: None,
        severity: Severity::Info,
        subject: subject.clone(),
        evidence: Evidence::BacklogCappedBySomaxconn(CappedEvidence { backlog: l.backlog, somaxconn: s }),
    })
}

/// The TCP listener of this namespace that connections to `dest` reach, if
/// `dest` is here: a listener on exactly that address, or a wildcard one
/// when `dest` is an address this namespace uses (`local_ips`) or loopback.
pub(crate) fn listener_for<'a>(
    listeners: &'a [Listener],
    dest: SocketAddr,
    local_ips: &std::collections::HashSet<IpAddr>,
) -> Option<&'a Listener> {
    let here = dest.ip().is_loopback() || local_ips.contains(&dest.ip());
    let tcp = || listeners.iter().filter(|l| l.proto == Proto::Tcp);
    let addr = |l: &Listener| l.local.ip();
    let candidates: Vec<SocketAddr> = tcp()
        .filter_map(addr)
        .filter(|a| a.port() == dest.port())
        .filter(|a| here || a.ip() == dest.ip())
        .collect();
    let best = best_listener(dest, &candidates)?;
    tcp().find(|l| addr(l) == Some(best))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::SnapshotBuilder;

    fn find<'a>(ls: &'a [Listener], local: &str) -> &'a Listener {
        ls.iter().find(|l| crate::output::escape::endpoint_text(&l.local) == local).expect(local)
    }

    #[test]
    fn local_clients_in_syn_sent_are_counted_towards_the_listener_they_call() {
        let snap = SnapshotBuilder::new()
            .process(7, "api", 20, 1024)
            .listener("127.0.0.1:8080", 3, 2, 9, &[7])
            .listener("0.0.0.0:9090", 0, 128, 0, &[7])
            .many(3, State::SynSent, "127.0.0.1", "127.0.0.1:8080", &[8])
            .many(2, State::SynSent, "10.0.0.5", "10.0.0.5:9090", &[8])
            .tcp(State::SynSent, "127.0.0.1:40000", "10.9.9.9:8080", &[8])
            .tcp(State::SynSent, "10.0.0.5:40002", "10.0.0.7:9090", &[8])
            .tcp(State::Established, "127.0.0.1:40001", "127.0.0.1:8080", &[8])
            .build();
        let ls = super::super::analyze(&snap, &crate::analyze::Thresholds::DEFAULT).listeners;
        assert_eq!(syn_sent_towards(&snap, find(&ls, "127.0.0.1:8080")), 3, "not another host's :8080");
        assert_eq!(
            syn_sent_towards(&snap, find(&ls, "0.0.0.0:9090")),
            2,
            "a wildcard covers this host's addresses, not 10.0.0.7"
        );
    }

    #[test]
    fn queued_connections_belong_to_the_most_specific_listener() {
        let snap = SnapshotBuilder::new()
            .process(7, "api", 20, 1024)
            .listener("0.0.0.0:8080", 3, 4, 0, &[7])
            .listener("127.0.0.1:8080", 1, 4, 0, &[7])
            .listener("[::]:9090", 1, 4, 0, &[7])
            .waiting(State::Established, "10.0.0.1:8080", "10.0.0.9:40001")
            .waiting(State::Established, "10.0.0.1:8080", "10.0.0.9:40002")
            .waiting(State::CloseWait, "10.0.0.1:8080", "10.0.0.9:40003")
            .waiting(State::Established, "127.0.0.1:8080", "127.0.0.1:40004")
            .waiting(State::CloseWait, "10.0.0.1:9090", "10.0.0.9:40005")
            .tcp(State::Established, "10.0.0.1:8080", "10.0.0.9:40006", &[7])
            .build();
        let ls = listeners(&snap, &Thresholds::default());
        let any = find(&ls, "0.0.0.0:8080");
        assert_eq!((any.queued, any.queued_close_wait), (3, 1), "an accepted connection is not queued");
        let lo = find(&ls, "127.0.0.1:8080");
        assert_eq!((lo.queued, lo.queued_close_wait), (1, 0), "the exact address wins over the wildcard");
        let v6 = find(&ls, "[::]:9090");
        assert_eq!((v6.queued, v6.queued_close_wait), (1, 1), "a dual-stack listener takes IPv4 clients");
    }

    #[test]
    fn connections_of_a_listener_are_those_through_it() {
        let snap = SnapshotBuilder::new()
            .listener("0.0.0.0:8080", 1, 4, 0, &[])
            .listener("127.0.0.1:8080", 0, 4, 0, &[])
            .waiting(State::Established, "10.0.0.1:8080", "10.0.0.9:40001")
            .tcp(State::Established, "10.0.0.1:8080", "10.0.0.9:40002", &[])
            .tcp(State::Established, "127.0.0.1:8080", "127.0.0.1:40003", &[])
            .tcp(State::Established, "10.0.0.1:40004", "10.0.0.9:8080", &[])
            .build();
        let ls = listeners(&snap, &Thresholds::default());
        let remotes: Vec<String> = connections_of(&snap, find(&ls, "0.0.0.0:8080"))
            .iter()
            .map(|s| crate::output::escape::endpoint_text(&s.remote))
            .collect();
        assert_eq!(remotes, vec!["10.0.0.9:40001", "10.0.0.9:40002"]);
    }

    #[test]
    fn a_unix_listener_has_no_drop_counter() {
        let mut snap = SnapshotBuilder::new().unix_listener("/run/app.sock", 0, 16, &[]).build();
        snap.sockets[0].extra_mut().mem = Some(crate::model::SkMem { drops: Some(0), ..Default::default() });
        let ls = listeners(&snap, &Thresholds::default());
        assert_eq!(ls[0].drops, None, "the kernel's 0 means nothing for a UNIX listener");
    }
}
