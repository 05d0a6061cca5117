//! Every read of the operating system: sock_diag dumps, `/proc` fds, sysctls
//! and counters, assembled into one [`Snapshot`].
//!
//! The socket dumps (inside the target network namespace) and the `/proc` fd
//! scan (host-wide: socket inodes are global) run on two threads at once; on a
//! host with 100k sockets they cost about the same, so this halves wall time.
//! Each read is split into I/O and a pure decoder under [`decode`] and
//! [`proc_text`], which is where the unit tests feed recorded bytes.

pub mod decode;
mod error;
mod host;
mod netlink;
mod netns;
pub mod owners;
pub mod proc_text;
mod query;

use std::time::{Instant, SystemTime};

pub use error::CollectError;
pub use host::{SYSCTLS, sysctl_path};
pub use netlink::{DiagSocket, DumpStats, Progress, consume_datagram};
pub use netns::NetnsTarget;
pub use owners::{OwnerScan, ScanOptions, ScanScope};
pub use query::Query;

use crate::model::{Family, NetnsInfo, Proto, Snapshot, Socket, StateSet, Timings, Warning, WarningKind};

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
        }
    }
}

impl Request {
    /// The dumps this request needs, in output order.
    pub fn queries(&self) -> Vec<Query> {
        let mut queries = Vec::new();
        for (proto, states) in [(Proto::Tcp, self.tcp), (Proto::Udp, self.udp)] {
            let Some(states) = states.filter(|s| !s.is_empty()) else {
                continue;
            };
            for family in [Family::Inet, Family::Inet6] {
                queries.push(Query::Inet { proto, family, states, tcp_info: self.tcp_info });
            }
        }
        if let Some(states) = self.unix.filter(|s| !s.is_empty()) {
            queries.push(Query::Unix { states });
        }
        queries
    }
}

/// Takes one snapshot.
pub fn collect(request: &Request) -> Result<Snapshot, CollectError> {
    let started = Instant::now();
    let taken_at = SystemTime::now();
    let (net, scan) = std::thread::scope(|scope| {
        let scan = request.owners.as_ref().map(|options| {
            scope.spawn(move || {
                let t = Instant::now();
                owners::scan(options).map(|scan| (scan, t.elapsed()))
            })
        });
        let net = request.netns.run(|| collect_in_netns(&request.queries()));
        let scan = scan.map(|handle| handle.join().map_err(|_| CollectError::ThreadPanicked));
        (net, scan)
    });
    let net = net??;
    let scan = scan.transpose()?.transpose()?;
    Ok(assemble(request, net, scan, taken_at, started))
}

/// What the namespace-side thread brings back.
struct NetSide {
    sockets: Vec<Socket>,
    stats: DumpStats,
    facts: host::NetnsFacts,
    unavailable: Vec<String>,
    elapsed: std::time::Duration,
}

fn collect_in_netns(queries: &[Query]) -> Result<NetSide, CollectError> {
    let started = Instant::now();
    let facts = host::read_netns_facts();
    let mut diag = DiagSocket::open()?;
    let mut sockets = Vec::new();
    let mut stats = DumpStats::default();
    let mut unavailable = Vec::new();
    for query in queries {
        match diag.dump(query, &mut sockets, &mut stats) {
            Ok(()) => {}
            Err(CollectError::Kernel { query, source }) => {
                unavailable.push(format!("{query} ({source})"));
                diag = DiagSocket::open()?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(NetSide { sockets, stats, facts, unavailable, elapsed: started.elapsed() })
}

fn assemble(
    request: &Request,
    net: NetSide,
    scan: Option<(OwnerScan, std::time::Duration)>,
    taken_at: SystemTime,
    started: Instant,
) -> Snapshot {
    let mut warnings = net.facts.warnings;
    warnings.extend(dump_warnings(&net.stats, &net.unavailable));
    let (scan, scan_time) = scan.unwrap_or_default();
    if let Some(w) = unreadable_warning(scan.stats.unreadable) {
        warnings.push(w);
    }
    Snapshot {
        taken_at,
        host: host::host_info(),
        netns: NetnsInfo { label: request.netns.label().map(str::to_string), inode: net.facts.netns_inode },
        sysctls: net.facts.sysctls,
        counters: net.facts.counters,
        sockets: net.sockets,
        processes: scan.processes,
        owners: scan.index,
        scan: scan.stats,
        owners_collected: request.owners.is_some(),
        warnings,
        timings: Timings { sockets: net.elapsed, processes: scan_time, total: started.elapsed() },
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

/// The warning shown when other users' processes could not be read.
pub fn unreadable_warning(unreadable: u32) -> Option<Warning> {
    (unreadable > 0).then(|| {
        Warning::new(
            WarningKind::ProcessesUnreadable,
            format!(
                "not root: could not read the fds of {unreadable} processes, so their sockets show no owner; \
                 run as root, or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH"
            ),
        )
    })
}
