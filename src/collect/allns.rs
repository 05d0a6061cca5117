//! `--all-netns`: every network namespace of the host in one snapshot.
//!
//! Namespaces are discovered first ([`super::namespaces`]). Then a bounded
//! pool of threads (one per core, at most [`MAX_THREADS`]) takes them one at
//! a time: a thread labels the namespace from its processes' cgroups
//! ([`super::containers`]), enters it with `setns`, opens a fresh sock_diag
//! socket there, reads that namespace's sysctls and
//! `/proc/thread-self/net` counters, dumps its sockets, drops the socket and
//! moves on. The own namespace goes first, to a thread that has not entered
//! anything yet, so it is collected without `setns` (and without privilege).
//!
//! The `/proc` owner scan runs once, beside the pool: socket inodes are
//! unique host-wide, so owners join by inode whatever the namespace.
//!
//! A namespace that vanished since discovery (its file is gone or now leads
//! elsewhere) or that cannot be entered is recorded with its status and never
//! fails the others; the snapshot says once how many were missed and why.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::containers::{self, PodDirectory};
use super::namespaces::{self, Discovery, Found};
use super::{
    CollectError, Collector, DumpStats, DumpedInodes, NetSide, OwnerScan, Query, collect_in_netns,
    dump_warnings, host, timed, unreadable_warning,
};
use crate::model::{
    Namespace, NetnsInfo, NetnsStatus, Snapshot, Socket, SocketNetns, StateSet, Timings, Warning, WarningKind,
};

/// The most namespaces collected at once.
pub(super) const MAX_THREADS: usize = 8;

/// What the pool brings back for one namespace.
struct NetnsDump {
    namespace: Namespace,
    net: Option<NetSide>,
}

impl Collector {
    /// An all-namespace snapshot (`Request::all_netns`).
    pub(super) fn snapshot_all(&mut self) -> Result<Snapshot, CollectError> {
        self.check_pid_target()?;
        let discovery = namespaces::discover().map_err(CollectError::Proc)?;
        self.snapshot_discovered(discovery)
    }

    /// Collects the namespaces of an earlier discovery: those gone since are
    /// reported as vanished. (Tests use this to delete a namespace between
    /// discovery and collection.)
    pub fn snapshot_discovered(&mut self, discovery: Discovery) -> Result<Snapshot, CollectError> {
        let started = Instant::now();
        let taken_at = SystemTime::now();
        let Collector { request, cache, previous, ghosts, .. } = self;
        let queries = request.queries();
        let pods = PodDirectory::read();
        let pool = || timed::<_, CollectError>(|| Ok(dump_all(&discovery.found, &queries, &pods)));
        let ((dumps, dump_time), scan) = match (&request.owners, cache.is_empty()) {
            (Some(options), true) => {
                let (dumps, scan) = std::thread::scope(|scope| {
                    let scan = scope.spawn(|| timed(|| cache.fill(options)));
                    (pool(), scan.join().map_err(|_| CollectError::ThreadPanicked))
                });
                let (dumps, scan) = (dumps?, scan??);
                let dumped = dumped_inodes(&dumps.0);
                cache.note_ownerless(&dumped, &scan.0.index);
                *previous = dumped;
                (dumps, Some(scan))
            }
            (Some(options), false) => {
                let dumps = pool()?;
                let dumped = dumped_inodes(&dumps.0);
                let scan = timed(|| cache.refresh(options, &dumped, previous))?;
                *previous = dumped;
                (dumps, Some(scan))
            }
            (None, _) => (pool()?, None),
        };
        let timings = Timings { sockets: dump_time, processes: Duration::ZERO, total: Duration::ZERO };
        let mut snapshot = assemble_all(dumps, scan, &discovery, taken_at, timings);
        if request.ghosts && request.tcp == Some(StateSet::ALL) && request.owners.is_some() {
            let collected: Vec<u64> =
                snapshot.namespaces.iter().filter(|n| n.status.is_collected()).map(|n| n.inode).collect();
            // No single diag socket covers every namespace: candidates whose
            // fd cannot be copied are not reported.
            let absent = ghosts.find(&snapshot.owners, &snapshot.processes, previous, &collected, || None);
            for pid in absent.stale {
                cache.invalidate(pid);
            }
            snapshot.ghosts = Some(absent.ghosts);
            snapshot.never_connected = Some(absent.never_connected);
        }
        snapshot.timings.total = started.elapsed();
        Ok(snapshot)
    }
}

fn dumped_inodes(dumps: &[NetnsDump]) -> DumpedInodes {
    DumpedInodes::new(
        dumps.iter().filter_map(|d| d.net.as_ref()).flat_map(|n| n.sockets.iter().map(|s| s.inode)),
    )
}

/// Labels and dumps every namespace on a bounded pool of threads, the own
/// namespace first (see the module docs). Results come back by inode.
fn dump_all(found: &[Found], queries: &[Query], pods: &PodDirectory) -> Vec<NetnsDump> {
    let mut order: Vec<&Found> = found.iter().filter(|f| f.own).collect();
    order.extend(found.iter().filter(|f| !f.own));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS);
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        while let Some(f) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push(dump_one(f, queries, pods));
        }
        done
    };
    let mut dumps: Vec<NetnsDump> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.min(order.len())).map(|_| scope.spawn(worker)).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let lost: Vec<&Found> =
        found.iter().filter(|f| !dumps.iter().any(|d| d.namespace.inode == f.inode)).collect();
    for f in lost {
        let failed = NetnsStatus::Failed("its collector thread panicked".into());
        dumps.push(NetnsDump { namespace: Namespace { status: failed, ..namespace_of(f, pods) }, net: None });
    }
    dumps.sort_by_key(|d| d.namespace.inode);
    dumps
}

fn namespace_of(found: &Found, pods: &PodDirectory) -> Namespace {
    let labels = containers::labels(found, pods, containers::read_cgroup);
    Namespace { own: found.own, ..Namespace::new(found.dev, found.inode, labels) }
}

/// One namespace, on the calling pool thread.
fn dump_one(found: &Found, queries: &[Query], pods: &PodDirectory) -> NetnsDump {
    let started = Instant::now();
    let mut namespace = namespace_of(found, pods);
    let entered = match found.own {
        true => Ok(()),
        false => enter(found),
    };
    let net = entered.and_then(|()| dump_here(found.inode, queries));
    namespace.elapsed = started.elapsed();
    match net {
        Ok(mut net) => {
            namespace.status = NetnsStatus::Collected;
            namespace.sockets = net.sockets.len() as u32;
            namespace.sysctls = std::mem::take(&mut net.facts.sysctls);
            namespace.counters = std::mem::take(&mut net.facts.counters);
            NetnsDump { namespace, net: Some(net) }
        }
        Err(status) => NetnsDump { namespace: Namespace { status, ..namespace }, net: None },
    }
}

/// Reads the facts and sockets of the namespace this thread is in, which
/// must be `inode`.
fn dump_here(inode: u64, queries: &[Query]) -> Result<NetSide, NetnsStatus> {
    let mut net = collect_in_netns(queries, None, 0).map_err(|e| NetnsStatus::Failed(with_causes(&e)))?;
    if net.facts.netns_inode != Some(inode) {
        return Err(NetnsStatus::Failed("the thread did not end up in this namespace".into()));
    }
    net.diag = None;
    Ok(net)
}

/// Enters the namespace through the first of its files that still leads to
/// it. A file that is gone or leads elsewhere (a pid reused, a name
/// re-created) means it vanished; a refusal means no privilege.
fn enter(found: &Found) -> Result<(), NetnsStatus> {
    let mut status = NetnsStatus::Vanished;
    for path in found.paths() {
        match open_same(&path, found) {
            Ok(file) => {
                return move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
                    .map_err(|e| status_of(e.into()));
            }
            Err(NetnsStatus::Vanished) => {}
            Err(other) => status = other,
        }
    }
    Err(status)
}

/// Opens a namespace file without blocking (a FIFO planted in its place must
/// not hang us) and checks it is still the namespace discovered.
fn open_same(path: &Path, found: &Found) -> Result<File, NetnsStatus> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| status_of(e.into()))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| status_of(e.into()))?;
    let file = File::from(fd);
    match (st.st_dev, st.st_ino) == (found.dev, found.inode) && super::netns::is_network_namespace(&file) {
        true => Ok(file),
        false => Err(NetnsStatus::Vanished),
    }
}

fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

fn status_of(e: io::Error) -> NetnsStatus {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ESRCH) => NetnsStatus::Vanished,
        Some(libc::EPERM | libc::EACCES) => NetnsStatus::Denied,
        _ => NetnsStatus::Failed(e.to_string()),
    }
}

fn assemble_all(
    dumps: Vec<NetnsDump>,
    scan: Option<(OwnerScan, Duration)>,
    discovery: &Discovery,
    taken_at: SystemTime,
    timings: Timings,
) -> Snapshot {
    let (scan, scan_time) = scan.unwrap_or_default();
    let mut stats = DumpStats::default();
    let mut unavailable = Vec::new();
    let mut fact_warnings: Vec<Warning> = Vec::new();
    let mut sockets: Vec<Socket> =
        Vec::with_capacity(dumps.iter().map(|d| d.namespace.sockets as usize).sum());
    let mut namespaces = Vec::with_capacity(dumps.len());
    let mut socket_netns = SocketNetns::default();
    // Host-wide sysctls: as sockscope sees them, or from the host's own
    // namespace among those collected (the only one that shows them).
    let mut host_wide = host::host_wide_sysctls();
    for dump in &dumps {
        host::complete_host_wide(&mut host_wide, &dump.namespace.sysctls);
    }
    for NetnsDump { mut namespace, net } in dumps {
        if namespace.status.is_collected() {
            host::complete_host_wide(&mut namespace.sysctls, &host_wide);
        }
        if let Some(net) = net {
            merge_stats(&mut stats, &net.stats);
            unavailable.extend(net.unavailable);
            fact_warnings.extend(net.facts.warnings);
            socket_netns.push(sockets.len(), namespace.inode);
            sockets.extend(net.sockets);
        }
        namespaces.push(namespace);
    }
    unavailable.sort();
    unavailable.dedup();
    fact_warnings.sort_by(|a, b| a.message.cmp(&b.message));
    fact_warnings.dedup();
    let own = namespaces.iter().find(|n| n.own);
    let mut warnings = fact_warnings;
    warnings.extend(dump_warnings(&stats, &unavailable));
    warnings.extend(netns_warnings(&namespaces, discovery.unreadable));
    warnings.extend(unreadable_warning(scan.stats.unreadable));
    Snapshot {
        taken_at,
        host: host::host_info(),
        netns: NetnsInfo { label: None, inode: own.map(|n| n.inode), changed_from: None },
        sysctls: own.map(|n| n.sysctls.clone()).unwrap_or_default(),
        counters: own.map(|n| n.counters.clone()).unwrap_or_default(),
        sockets,
        processes: scan.processes,
        owners: scan.index,
        scan: scan.stats,
        owners_collected: true,
        ghosts: None,
        never_connected: None,
        warnings,
        timings: Timings { processes: scan_time, ..timings },
        namespaces,
        socket_netns,
    }
}

fn merge_stats(total: &mut DumpStats, one: &DumpStats) {
    total.messages += one.messages;
    total.bad_messages += one.bad_messages;
    total.bad_attributes += one.bad_attributes;
    total.bad_datagrams += one.bad_datagrams;
    total.interrupted |= one.interrupted;
    if total.first_error.is_none() {
        total.first_error.clone_from(&one.first_error);
    }
}

/// One warning per kind of miss, each said once with its count.
pub(super) fn netns_warnings(namespaces: &[Namespace], unseen: u32) -> Vec<Warning> {
    let count = |name: &str| namespaces.iter().filter(|n| n.status.name() == name).count();
    let (total, collected, denied, vanished) =
        (namespaces.len(), count("collected"), count("denied"), count("vanished"));
    let mut out = Vec::new();
    if denied > 0 {
        let shown = match collected {
            1 if namespaces.iter().any(|n| n.own && n.status.is_collected()) => {
                "showing only sockscope's own network namespace".to_string()
            }
            n => format!("showing the other {n}"),
        };
        out.push(Warning::new(
            WarningKind::NetnsUnavailable,
            format!(
                "not allowed to enter {denied} of {total} network namespaces: {shown}; \
                 entering a namespace needs root (CAP_SYS_ADMIN)"
            ),
        ));
    }
    if unseen > 0 {
        let why = match rustix::process::geteuid().is_root() {
            true => "refused even to root, by a security module or ptrace protection",
            false => "needs root or CAP_SYS_PTRACE",
        };
        out.push(Warning::new(
            WarningKind::NetnsUnavailable,
            format!(
                "could not tell which network namespace {unseen} {} in ({why}): \
                 a namespace only they use is missing",
                plural(unseen as usize, "process is", "processes are")
            ),
        ));
    }
    if vanished > 0 {
        out.push(Warning::new(
            WarningKind::NetnsUnavailable,
            format!(
                "{vanished} of {total} network namespaces vanished during collection (a container stopped, \
                 or `ip netns del`); the others are complete"
            ),
        ));
    }
    let failed: Vec<&Namespace> = namespaces.iter().filter(|n| n.status.name() == "failed").collect();
    if let Some(first) = failed.first() {
        let why = match &first.status {
            NetnsStatus::Failed(why) => why.as_str(),
            _ => "",
        };
        out.push(Warning::new(
            WarningKind::NetnsUnavailable,
            format!(
                "could not collect {} of {total} network namespaces (first, {}: {why})",
                failed.len(),
                first.inode
            ),
        ));
    }
    out
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NetnsLabels;

    fn ns(inode: u64, own: bool, status: NetnsStatus) -> Namespace {
        Namespace { own, status, ..Namespace::new(4, inode, NetnsLabels::default()) }
    }

    #[test]
    fn an_unprivileged_run_says_once_that_it_shows_only_its_own_namespace() {
        let namespaces = [
            ns(1, true, NetnsStatus::Collected),
            ns(2, false, NetnsStatus::Denied),
            ns(3, false, NetnsStatus::Denied),
        ];
        let w = netns_warnings(&namespaces, 40);
        assert_eq!(w.len(), 2);
        let text = &w[0].message;
        assert!(text.contains("2 of 3") && text.contains("only sockscope's own"), "{text}");
        assert!(text.contains("needs root (CAP_SYS_ADMIN)"), "{text}");
        assert!(w[1].message.contains("40 processes are in"), "{}", w[1].message);
        assert!(netns_warnings(&namespaces[..1], 1)[0].message.contains("1 process is in"));
    }

    #[test]
    fn vanished_and_failed_namespaces_are_counted_not_fatal() {
        let namespaces = [
            ns(1, true, NetnsStatus::Collected),
            ns(2, false, NetnsStatus::Collected),
            ns(3, false, NetnsStatus::Vanished),
            ns(4, false, NetnsStatus::Vanished),
            ns(5, false, NetnsStatus::Failed("Invalid argument".into())),
        ];
        let w = netns_warnings(&namespaces, 0);
        assert_eq!(w.len(), 2);
        assert!(w[0].message.starts_with("2 of 5 network namespaces vanished"), "{}", w[0].message);
        assert!(
            w[1].message.contains("1 of 5") && w[1].message.contains("Invalid argument"),
            "{}",
            w[1].message
        );
        assert!(netns_warnings(&namespaces[..2], 0).is_empty());
    }

    #[test]
    fn errors_map_to_statuses() {
        assert_eq!(status_of(io::Error::from_raw_os_error(libc::ENOENT)), NetnsStatus::Vanished);
        assert_eq!(status_of(io::Error::from_raw_os_error(libc::EPERM)), NetnsStatus::Denied);
        assert_eq!(status_of(io::Error::from_raw_os_error(libc::EACCES)), NetnsStatus::Denied);
        assert!(matches!(status_of(io::Error::from_raw_os_error(libc::EINVAL)), NetnsStatus::Failed(_)));
    }

    #[test]
    fn a_file_that_now_leads_elsewhere_counts_as_vanished() {
        let own = namespaces::identity("/proc/self/ns/net").unwrap();
        let elsewhere =
            Found { dev: own.0, inode: own.1 + 1, pids: vec![std::process::id()], ..Found::default() };
        assert_eq!(enter(&elsewhere), Err(NetnsStatus::Vanished));
        let gone = Found { dev: own.0, inode: own.1, pids: vec![u32::MAX], ..Found::default() };
        assert_eq!(enter(&gone), Err(NetnsStatus::Vanished));
    }
}
