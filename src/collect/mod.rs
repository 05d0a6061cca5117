//! Every read of the operating system: sock_diag dumps, `/proc` fds, sysctls
//! and counters, assembled into one [`Snapshot`].
//!
//! The socket dumps (inside the target network namespace) and the `/proc` fd
//! scan (host-wide: socket inodes are global) run on two threads at once; on a
//! host with 100k sockets they cost about the same, so this halves wall time.
//! Each read is split into I/O and a pure decoder under [`decode`] and
//! [`proc_text`], which is where the unit tests feed recorded bytes.

mod allns;
pub mod containers;
pub mod decode;
mod error;
mod ghosts;
mod host;
mod limits;
pub mod namespaces;
mod netlink;
mod netns;
mod netns_name;
mod owner_cache;
pub mod owners;
mod parallel;
pub mod proc_text;
#[cfg(test)]
mod properties;
mod query;

use std::time::{Duration, Instant, SystemTime};

pub use error::CollectError;
pub use host::sysctl_path;
pub use limits::{FdLimitChange, raise_fd_limit};
pub use netlink::{DiagSocket, DumpStats, Progress, consume_datagram};
pub use netns::{NetnsId, NetnsTarget};
pub use netns_name::{NetnsName, netns_name};
pub use owner_cache::{DumpedInodes, OwnerCache, OwnerScan, RefreshStats, scan};
pub use owners::{ScanOptions, ScanScope};
pub use query::{Extras, Query};

use crate::model::{
    Family, NetnsInfo, Proto, Selection, Snapshot, Socket, Source, SourceError, State, StateSet, Timings,
    Warning, WarningKind,
};

/// What to collect. A `None` state set means "do not dump that protocol".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub tcp: Option<StateSet>,
    pub udp: Option<StateSet>,
    pub unix: Option<StateSet>,
    /// Ask the kernel for `tcp_info` (rtt, cwnd, retransmits...) per TCP socket.
    pub tcp_info: bool,
    /// Scan `/proc` for owners; `None` skips the scan entirely.
    pub owners: Option<ScanOptions>,
    pub netns: NetnsTarget,
    /// Look for ghost sockets (held TCP sockets no dump shows). Only faces
    /// that judge them over time (watch, the dashboard) need them; a
    /// one-shot dump skips the per-socket namespace checks they cost.
    pub ghosts: bool,
    /// Every network namespace on the host (`--all-netns`); `netns` is then
    /// ignored (see [`allns`]).
    pub all_netns: bool,
}

impl Default for Request {
    fn default() -> Request {
        Request {
            tcp: Some(StateSet::ALL),
            udp: Some(StateSet::ALL),
            unix: Some(StateSet::ALL),
            tcp_info: false,
            owners: Some(ScanOptions::default()),
            netns: NetnsTarget::Current,
            ghosts: true,
            all_netns: false,
        }
    }
}

impl Request {
    /// The collection a selection needs, in the namespace `netns`: the
    /// protocols and states it shows (pushed down to the kernel), and an
    /// owner scan limited to `--pid`/`--process` when given.
    pub fn for_selection(selection: &Selection, netns: NetnsTarget) -> Request {
        let pick = |on: bool, proto| on.then(|| selection.kernel_states(proto));
        let scope = match (&selection.pid, &selection.process) {
            (Some(pid), _) => ScanScope::Pids(vec![*pid]),
            (None, Some(name)) => ScanScope::CommContains(name.clone()),
            (None, None) => ScanScope::All,
        };
        Request {
            tcp: pick(selection.tcp, Proto::Tcp),
            udp: pick(selection.udp, Proto::Udp),
            unix: pick(selection.unix, Proto::UnixStream),
            tcp_info: false,
            owners: Some(ScanOptions { scope, cmdline: false }),
            netns,
            ghosts: true,
            all_netns: false,
        }
    }

    /// Collects every network namespace on the host instead of one.
    pub fn with_all_netns(mut self, on: bool) -> Request {
        self.all_netns = on;
        self
    }

    /// Also asks for `tcp_info` (`-i`).
    pub fn with_tcp_info(mut self, on: bool) -> Request {
        self.tcp_info = on;
        self
    }

    /// Looks for ghost sockets (or not: a one-shot dump does not judge them).
    pub fn with_ghosts(mut self, on: bool) -> Request {
        self.ghosts = on;
        self
    }

    /// Also reads each process's command line.
    pub fn with_cmdline(mut self, on: bool) -> Request {
        if let Some(owners) = &mut self.owners {
            owners.cmdline = on;
        }
        self
    }

    /// The dumps this request needs, in output order.
    ///
    /// Listeners come from their own dump with SKMEMINFO (their drop counter
    /// names the listener that overflows); other TCP states carry extras only
    /// when `tcp_info` was asked for, so 100k established sockets cost no
    /// more kernel work than `ss -tan`. UDP always carries SKMEMINFO (drops).
    ///
    /// Every TCP dump walks the kernel's whole established table, even one
    /// for listeners only (a million connections make a listener dump take
    /// 0.1 s): TCP dumps cover both families at once ([`Query::TcpBoth`]),
    /// and listeners share their dump with SYN-RECV when that is all else
    /// asked for (`dump -l`), so `-l` walks once and a full dump twice.
    pub fn queries(&self) -> Vec<Query> {
        let info = Extras { tcp_info: self.tcp_info, skmem: self.tcp_info };
        let mem = Extras { tcp_info: false, skmem: true };
        let tcp = self.tcp.unwrap_or(StateSet::EMPTY);
        let connected = tcp.without(State::Listen);
        let mut queries = Vec::new();
        match tcp.contains(State::Listen) {
            true if connected.without(State::SynRecv).is_empty() => {
                queries.push(Query::TcpBoth {
                    states: tcp,
                    extras: Extras { tcp_info: self.tcp_info, skmem: true },
                });
            }
            true => {
                queries.push(Query::TcpBoth { states: StateSet::of(&[State::Listen]), extras: mem });
                queries.push(Query::TcpBoth { states: connected, extras: info });
            }
            false if !connected.is_empty() => {
                queries.push(Query::TcpBoth { states: connected, extras: info })
            }
            false => {}
        }
        let udp = self.udp.unwrap_or(StateSet::EMPTY);
        if !udp.is_empty() {
            queries.extend([Family::Inet, Family::Inet6].map(|family| Query::Inet {
                proto: Proto::Udp,
                family,
                states: udp,
                extras: mem,
            }));
        }
        if let Some(states) = self.unix.filter(|s| !s.is_empty()) {
            queries.push(Query::Unix { states });
        }
        queries
    }
}

/// Takes one snapshot.
pub fn collect(request: &Request) -> Result<Snapshot, CollectError> {
    Collector::new(request.clone()).snapshot()
}

/// Takes snapshots repeatedly, reusing what did not change: the netlink
/// socket, and the owners of processes whose fd tables did not move. The
/// target namespace is re-identified every time: when it changed (deleted
/// and re-created, or the pid target moved), everything tied to the old one
/// is dropped and the snapshot says so.
pub struct Collector {
    request: Request,
    cache: OwnerCache,
    diag: Option<NetnsDiag>,
    /// The namespace `diag` and `previous` belong to.
    netns: Option<NetnsId>,
    previous: DumpedInodes,
    /// Sockets the last dump returned: the next one reserves room for about
    /// as many at once, instead of doubling its way there (5 % spare, not up to 100 %).
    last_count: usize,
    ghosts: ghosts::GhostFinder,
    /// `--pid`: the followed process's start time, once seen (a pid that
    /// names another process later is not the one asked for).
    pid_started: Option<u64>,
}

impl Collector {
    pub fn new(request: Request) -> Collector {
        Collector {
            request,
            cache: OwnerCache::default(),
            diag: None,
            netns: None,
            previous: DumpedInodes::default(),
            last_count: 0,
            ghosts: ghosts::GhostFinder::default(),
            pid_started: None,
        }
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Asks for `tcp_info` (or stops asking) from the next snapshot on.
    pub fn set_tcp_info(&mut self, on: bool) {
        self.request.tcp_info = on;
    }

    /// How the owner cache did on the last snapshot.
    pub fn owner_refresh(&self) -> RefreshStats {
        self.cache.last
    }

    /// Takes a snapshot. The first one scans every process alongside the
    /// dumps; later ones dump first, then re-read only changed processes.
    pub fn snapshot(&mut self) -> Result<Snapshot, CollectError> {
        if self.request.all_netns {
            return self.snapshot_all();
        }
        let started = Instant::now();
        let target = self.request.netns.open()?;
        self.check_pid_target()?;
        let changed = self.follow(target.as_ref().map(|t| t.id));
        let Collector { request, cache, diag, previous, ghosts, last_count, .. } = self;
        let room = *last_count + *last_count / 20;
        let queries = request.queries();
        let in_netns = |diag: Option<NetnsDiag>| {
            netns::run_in(target.as_ref(), || collect_in_netns(&queries, diag, room))
        };
        let (net, scan) = match (&request.owners, cache.is_empty()) {
            (Some(options), true) => {
                let (net, scan) = std::thread::scope(|scope| {
                    let scan = scope.spawn(|| timed(|| cache.fill(options)));
                    let net = in_netns(diag.take());
                    (net, scan.join().map_err(|_| CollectError::ThreadPanicked))
                });
                let net = net??;
                let scan = scan?;
                let dumped = DumpedInodes::new(net.sockets.iter().map(|s| s.inode));
                if let Ok((scan, _)) = &scan {
                    cache.note_ownerless(&dumped, &scan.index);
                }
                *previous = dumped;
                (net, Some(scan?))
            }
            (Some(options), false) => {
                let net = in_netns(diag.take())??;
                let dumped = DumpedInodes::new(net.sockets.iter().map(|s| s.inode));
                let scan = timed(|| cache.refresh(options, &dumped, previous))?;
                *previous = dumped;
                (net, Some(scan))
            }
            (None, _) => (in_netns(diag.take())??, None),
        };
        let (net, socket) = net.split();
        *diag = socket;
        let mut snapshot = assemble(request, net, scan, started);
        *last_count = snapshot.sockets.len();
        if let Some(from) = changed {
            note_netns_change(&mut snapshot, from);
        }
        if request.ghosts && request.tcp == Some(StateSet::ALL) && request.owners.is_some() {
            let netns = snapshot.netns.inode;
            let fresh = || fresh_tcp_inodes(&mut diag.as_mut()?.socket);
            let absent =
                ghosts.find(&snapshot.owners, &snapshot.processes, previous, netns.as_slice(), fresh);
            for pid in absent.stale {
                cache.invalidate(pid);
            }
            snapshot.ghosts = Some(absent.ghosts);
            snapshot.never_connected = Some(absent.never_connected);
        }
        Ok(snapshot)
    }

    /// `--pid`: fails for good once the followed process has exited. The
    /// first snapshot only notes which process the pid names (a zombie's
    /// empty fd table is still a valid one-shot answer); one that vanished
    /// before it was ever seen has exited too.
    pub(super) fn check_pid_target(&mut self) -> Result<(), CollectError> {
        let Some(ScanOptions { scope: ScanScope::Pids(pids), .. }) = &self.request.owners else {
            return Ok(());
        };
        let &[pid] = pids.as_slice() else { return Ok(()) };
        let Some(started) = self.pid_started else {
            return match owners::read_stat(pid) {
                Ok(stat) => {
                    self.pid_started = Some(stat.start_time);
                    Ok(())
                }
                Err(owners::ReadError::Vanished) => Err(CollectError::ProcessGone { pid, why: "exited" }),
                Err(_) => Ok(()),
            };
        };
        match owners::exit_of(pid, started) {
            Some(why) => Err(CollectError::ProcessGone { pid, why }),
            None => Ok(()),
        }
    }

    /// Notes the target's identity; when it changed, drops the netlink socket
    /// and the last dump (both of the old namespace) and returns the old one.
    fn follow(&mut self, now: Option<NetnsId>) -> Option<NetnsId> {
        let before = std::mem::replace(&mut self.netns, now);
        let changed = before.filter(|&b| Some(b) != now)?;
        self.diag = None;
        self.previous = DumpedInodes::default();
        self.ghosts = ghosts::GhostFinder::default();
        Some(changed)
    }
}

/// Records on the snapshot that the target now names another namespace.
fn note_netns_change(snapshot: &mut Snapshot, from: NetnsId) {
    snapshot.netns.changed_from = Some(from.ino);
    let label = snapshot.netns.label.as_deref().unwrap_or("?");
    let to = snapshot.netns.inode.map_or("?".to_string(), |i| i.to_string());
    snapshot.warnings.push(Warning::new(
        WarningKind::NetnsChanged,
        format!(
            "--netns {label} now names another network namespace (net:[{}] -> net:[{to}]): it was deleted and \
             re-created, or the process moved; reading the new one from here on",
            from.ino
        ),
    ));
}

/// The kernel as a [`Source`] of snapshots.
impl Source for Collector {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        Collector::snapshot(self).map_err(|e| Box::new(e) as SourceError)
    }

    fn set_tcp_info(&mut self, on: bool) {
        Collector::set_tcp_info(self, on);
    }

    fn is_final(&self, error: &SourceError) -> bool {
        error.downcast_ref::<CollectError>().is_some_and(CollectError::is_final)
    }
}

/// The inodes of a new dump of every TCP socket, for confirming ghosts. The
/// diag socket answers for its own namespace from any thread.
fn fresh_tcp_inodes(diag: &mut DiagSocket) -> Option<DumpedInodes> {
    let mut sockets = Vec::new();
    let mut stats = DumpStats::default();
    // This runs outside the target namespace: the socket is never reopened
    // here (a new one would belong to this thread's namespace), and a
    // partial answer is none (held sockets would look like ghosts).
    let query = Query::TcpBoth { states: StateSet::ALL, extras: Extras::default() };
    if diag.dump(&query, &mut sockets, &mut stats).is_err() {
        sockets.clear();
        for each in query.split() {
            diag.dump(&each, &mut sockets, &mut stats).ok()?;
        }
    }
    Some(DumpedInodes::new(sockets.iter().map(|s| s.inode)))
}

fn timed<T, E>(work: impl FnOnce() -> Result<T, E>) -> Result<(T, Duration), E> {
    let t = Instant::now();
    work().map(|v| (v, t.elapsed()))
}

/// A sock_diag socket and the namespace it was opened in: it answers for
/// that namespace forever, even after the target path names another one.
struct NetnsDiag {
    netns: Option<u64>,
    socket: DiagSocket,
}

/// What the namespace-side thread brings back.
struct NetSide {
    sockets: Vec<Socket>,
    stats: DumpStats,
    facts: host::NetnsFacts,
    unavailable: Vec<String>,
    elapsed: Duration,
    /// When the socket dumps began: the snapshot's time. TIME-WAIT arrivals
    /// are dated by their timers against it, so it must be the dump's time,
    /// not that of a process scan that ran before or after.
    dumped_at: SystemTime,
    diag: Option<NetnsDiag>,
}

impl NetSide {
    fn split(mut self) -> (NetSide, Option<NetnsDiag>) {
        let diag = self.diag.take();
        (self, diag)
    }
}

fn collect_in_netns(
    queries: &[Query],
    diag: Option<NetnsDiag>,
    room: usize,
) -> Result<NetSide, CollectError> {
    let started = Instant::now();
    let facts = host::read_netns_facts();
    let netns = facts.netns_inode;
    // Reuse the socket only while the target is still the namespace it was
    // opened in (a named namespace may be deleted and created again).
    let mut diag = match diag {
        Some(d) if netns.is_some() && d.netns == netns => d.socket,
        _ => DiagSocket::open()?,
    };
    let mut sockets = Vec::with_capacity(room);
    let mut stats = DumpStats::default();
    let mut unavailable = Vec::new();
    let dumped_at = SystemTime::now();
    for query in queries {
        dump_one(&mut diag, query, &mut sockets, &mut stats, &mut unavailable)?;
    }
    Ok(NetSide {
        sockets,
        stats,
        facts,
        unavailable,
        elapsed: started.elapsed(),
        dumped_at,
        diag: Some(NetnsDiag { netns, socket: diag }),
    })
}

/// Runs one query. A one-walk TCP dump the kernel refuses is run again as
/// one dump per family; any other refused dump is noted in `unavailable`,
/// and the collection goes on without it.
fn dump_one(
    diag: &mut DiagSocket,
    query: &Query,
    sockets: &mut Vec<Socket>,
    stats: &mut DumpStats,
    unavailable: &mut Vec<String>,
) -> Result<(), CollectError> {
    let (from, counted) = (sockets.len(), stats.clone());
    match diag.dump(query, sockets, stats) {
        Ok(()) => keep_families_apart(sockets, from),
        Err(CollectError::Kernel { query: label, source }) => {
            // Nothing of a refused dump is kept, not even what it counted.
            sockets.truncate(from);
            *stats = counted;
            *diag = DiagSocket::open()?;
            match query {
                Query::TcpBoth { .. } => {
                    for each in query.split() {
                        dump_one(diag, &each, sockets, stats, unavailable)?;
                    }
                }
                _ => unavailable.push(format!("{label} ({source})")),
            }
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Orders the sockets a one-walk dump appended from `from` on as the
/// per-family dumps (and `ss`) list them: IPv4, then IPv6, each in the
/// kernel's order.
fn keep_families_apart(sockets: &mut Vec<Socket>, from: usize) {
    let appended = &sockets[from..];
    let v4_first = appended.iter().position(|s| s.family != Family::Inet).unwrap_or(appended.len());
    if appended[v4_first..].iter().all(|s| s.family != Family::Inet) {
        return;
    }
    let tail = sockets.split_off(from);
    let (v4, v6): (Vec<Socket>, Vec<Socket>) = tail.into_iter().partition(|s| s.family == Family::Inet);
    sockets.extend(v4);
    sockets.extend(v6);
}

fn assemble(
    request: &Request,
    net: NetSide,
    scan: Option<(OwnerScan, Duration)>,
    started: Instant,
) -> Snapshot {
    let mut net = net;
    host::complete_host_wide(&mut net.facts.sysctls, &host::host_wide_sysctls());
    let mut warnings = net.facts.warnings;
    warnings.extend(dump_warnings(&net.stats, &net.unavailable));
    let (scan, scan_time) = scan.unwrap_or_default();
    warnings.extend(unreadable_warning(scan.stats.unreadable));
    warnings.extend(exhausted_warning(scan.stats.exhausted));
    Snapshot {
        taken_at: net.dumped_at,
        host: host::host_info(),
        netns: NetnsInfo {
            label: request.netns.label().map(str::to_string),
            inode: net.facts.netns_inode,
            changed_from: None,
        },
        sysctls: net.facts.sysctls,
        counters: net.facts.counters,
        sockets: net.sockets,
        processes: scan.processes,
        owners: scan.index,
        scan: scan.stats,
        owners_collected: request.owners.is_some(),
        ghosts: None,
        never_connected: None,
        warnings,
        timings: Timings { sockets: net.elapsed, processes: scan_time, total: started.elapsed() },
        namespaces: Vec::new(),
        socket_netns: Default::default(),
    }
}

fn dump_warnings(stats: &DumpStats, unavailable: &[String]) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let first = stats.first_error.as_deref().unwrap_or("unknown");
    let skipped = stats.bad_messages + stats.bad_datagrams;
    if skipped > 0 {
        warnings.push(Warning::new(
            WarningKind::DecodeErrors,
            format!("skipped {skipped} netlink messages that could not be decoded (first: {first})"),
        ));
    }
    if stats.bad_attributes > 0 {
        warnings.push(Warning::new(
            WarningKind::DecodeErrors,
            format!(
                "left out {} malformed socket attributes; those sockets lack some details (first: {first})",
                stats.bad_attributes
            ),
        ));
    }
    if stats.interrupted {
        warnings.push(Warning::new(
            WarningKind::DumpInterrupted,
            "the kernel flagged a dump as interrupted by concurrent changes: a socket may be missing or listed twice",
        ));
    }
    if !unavailable.is_empty() {
        warnings.push(Warning::new(
            WarningKind::ProtocolUnavailable,
            format!(
                "no sock_diag support for {} (is the *_diag kernel module loaded?)",
                unavailable.join(", ")
            ),
        ));
    }
    warnings
}

/// The warning shown when sockscope ran out of file descriptors while
/// reading processes: the remedy is a higher limit, not more privilege.
pub fn exhausted_warning(exhausted: u32) -> Option<Warning> {
    (exhausted > 0).then(|| {
        Warning::new(
            WarningKind::ResourceExhausted,
            format!(
                "out of file descriptors: could not read {exhausted} processes (EMFILE/ENFILE), so their sockets \
                 may show no owner; raise sockscope's limit (ulimit -n, or the hard limit it starts from) or fs.file-max"
            ),
        )
    })
}

/// The warning shown when processes' fd tables could not be read: other
/// users' processes when not root; as root, processes a security module or
/// the process itself shields (Yama, SELinux, a non-dumpable process in
/// another user namespace), which more privilege does not change.
pub fn unreadable_warning(unreadable: u32) -> Option<Warning> {
    let root = rustix::process::geteuid().is_root();
    (unreadable > 0)
        .then(|| Warning::new(WarningKind::ProcessesUnreadable, unreadable_message(unreadable, root)))
}

fn processes(n: u32) -> &'static str {
    if n == 1 { "process" } else { "processes" }
}

fn unreadable_message(unreadable: u32, root: bool) -> String {
    match root {
        false => format!(
            "not root: could not read the fds of {unreadable} {}, so their sockets show no owner; \
             run as root, or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH",
            processes(unreadable)
        ),
        true => format!(
            "could not read the fds of {unreadable} {} even as root (refused by a security module or \
             ptrace protection), so their sockets show no owner",
            processes(unreadable)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_asks_the_kernel_for_listen_and_syn_recv_only() {
        let sel = Selection { listening: true, ..Selection::all() };
        let req = Request::for_selection(&sel, NetnsTarget::Current);
        assert_eq!(req.tcp, Some(StateSet::of(&[State::Listen, State::SynRecv])));
        assert_eq!(req.udp, Some(StateSet::of(&[State::Close])));
        assert_eq!(req.unix, Some(StateSet::of(&[State::Listen])));
    }

    /// Each TCP dump walks the whole established table: `-l` walks it once,
    /// a full dump twice (listeners with their drop counters, then the rest).
    #[test]
    fn tcp_dumps_walk_the_table_as_few_times_as_possible() {
        let tcp_walks = |sel: Selection| {
            let queries = Request::for_selection(&sel, NetnsTarget::Current).queries();
            queries.into_iter().filter(|q| q.inet_proto() == Some(Proto::Tcp)).collect::<Vec<_>>()
        };
        let listening = tcp_walks(Selection { listening: true, ..Selection::all() });
        let of = |states: &[State]| StateSet::of(states);
        assert_eq!(
            listening,
            [Query::TcpBoth {
                states: of(&[State::Listen, State::SynRecv]),
                extras: Extras { tcp_info: false, skmem: true }
            }]
        );
        let all = tcp_walks(Selection::all());
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0],
            Query::TcpBoth { states: of(&[State::Listen]), extras: Extras { tcp_info: false, skmem: true } }
        );
        assert!(
            matches!(all[1], Query::TcpBoth { states, extras } if !states.contains(State::Listen) && !extras.skmem)
        );
    }

    #[test]
    fn unselected_protocols_are_not_dumped() {
        let sel = Selection { tcp: true, ..Selection::default() };
        let req = Request::for_selection(&sel, NetnsTarget::Current);
        assert!(req.udp.is_none() && req.unix.is_none());
        assert_eq!(req.tcp, Some(StateSet::ALL));
    }

    #[test]
    fn unreadable_processes_are_blamed_on_root_only_when_not_root() {
        assert!(unreadable_message(3, false).starts_with("not root: could not read the fds of 3 processes"));
        assert!(unreadable_message(1, false).starts_with("not root: could not read the fds of 1 process,"));
        let as_root = unreadable_message(1, true);
        assert!(as_root.contains("even as root") && !as_root.contains("not root"), "{as_root}");
    }

    fn tcp(family: Family, inode: u64) -> Socket {
        let mut socket = crate::fixture::tcp_socket(State::Established, "10.0.0.1:1", "10.0.0.2:2", 0, 0);
        socket.family = family;
        socket.inode = inode;
        socket
    }

    #[test]
    fn a_one_walk_dump_lists_ipv4_then_ipv6_in_kernel_order() {
        let before = tcp(Family::Inet6, 1);
        let walk = [(Family::Inet6, 2), (Family::Inet, 3), (Family::Inet6, 4), (Family::Inet, 5)];
        let mut sockets = vec![before];
        sockets.extend(walk.map(|(f, i)| tcp(f, i)));
        keep_families_apart(&mut sockets, 1);
        assert_eq!(sockets.iter().map(|s| s.inode).collect::<Vec<_>>(), [1, 3, 5, 2, 4]);
        let mut ordered: Vec<Socket> =
            [(Family::Inet, 6), (Family::Inet6, 7)].map(|(f, i)| tcp(f, i)).to_vec();
        keep_families_apart(&mut ordered, 0);
        assert_eq!(ordered.iter().map(|s| s.inode).collect::<Vec<_>>(), [6, 7]);
    }

    /// The one-walk dump returns, from the real kernel, the same sockets of
    /// both families as one dump per family.
    #[test]
    fn one_walk_and_per_family_dumps_agree() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let v4_client = std::net::TcpStream::connect(v4.local_addr().unwrap()).unwrap();
        let Ok(v6) = std::net::TcpListener::bind("[::1]:0") else {
            eprintln!("SKIPPED one_walk_and_per_family_dumps_agree: no IPv6 loopback");
            return;
        };
        let v6_client = std::net::TcpStream::connect(v6.local_addr().unwrap()).unwrap();
        let ports = [v4_client.local_addr().unwrap().port(), v6_client.local_addr().unwrap().port()];
        let mut diag = DiagSocket::open().unwrap();
        let states = StateSet::ALL.without(State::Listen);
        let both = Query::TcpBoth { states, extras: Extras::default() };
        let ours = |query: &[Query], diag: &mut DiagSocket| {
            let mut sockets = Vec::new();
            for q in query {
                diag.dump(q, &mut sockets, &mut DumpStats::default()).unwrap();
            }
            let mut found: Vec<(Family, u64)> = sockets
                .iter()
                .filter(|s| s.local.port().is_some_and(|p| ports.contains(&p)))
                .map(|s| (s.family, s.inode))
                .collect();
            found.sort();
            found
        };
        let one_walk = ours(&[both], &mut diag);
        assert_eq!(one_walk.iter().map(|f| f.0).collect::<Vec<_>>(), [Family::Inet, Family::Inet6]);
        assert_eq!(one_walk, ours(&both.split(), &mut diag));
    }

    #[test]
    fn owner_filters_narrow_the_scan() {
        let sel = Selection { pid: Some(42), ..Selection::all() };
        let req = Request::for_selection(&sel, NetnsTarget::Current).with_cmdline(true);
        assert_eq!(req.owners, Some(ScanOptions { scope: ScanScope::Pids(vec![42]), cmdline: true }));
    }
}
