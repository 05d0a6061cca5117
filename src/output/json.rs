//! The `dump --json` document (schema in `docs/json.md`).
//!
//! Sockets are serialized straight from the snapshot as a streamed sequence:
//! 100k sockets never exist as a JSON tree in memory. Field names here are a
//! public contract (`SCHEMA_VERSION`); watch-mode events reuse them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use serde::{Serialize, Serializer};

use super::{time, wording};
use crate::analyze::Report;
use crate::analyze::netns::NetnsTrouble;
use crate::analyze::summary::StateCounts;
use crate::analyze::{Evidence, Finding, FindingKind, Listener, Severity};
use crate::model::{
    Counters, Endpoint, Family, FdLimit, NetnsInfo, NetnsLabels, Process, Proto, RunState, ScanStats, SkMem,
    Snapshot, Socket, State, Sysctls, TcpInfo, Timer, Warning,
};

/// Bumped on any incompatible change to the documents.
pub const SCHEMA_VERSION: u32 = 1;

/// Serializes an endpoint as the text `ss -n` would print, or `null` when unnamed.
pub fn endpoint<S: Serializer>(e: &Endpoint, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Endpoint::Unnamed => s.serialize_none(),
        Endpoint::Ip(std::net::SocketAddr::V4(addr)) => {
            s.serialize_str(super::escape::ipv4_text(*addr, &mut [0; 21]))
        }
        other => s.collect_str(&super::escape::EndpointText(other)),
    }
}

fn endpoint_ref<S: Serializer>(e: &&Endpoint, s: S) -> Result<S::Ok, S::Error> {
    endpoint(e, s)
}

#[derive(Serialize)]
pub struct HostJson<'a> {
    pub hostname: &'a str,
    pub kernel: &'a str,
    pub euid: u32,
    pub netns: &'a NetnsInfo,
    pub taken_at: String,
    pub collect_ms: CollectMs,
    pub scan: &'a ScanStats,
    pub sockscope_version: &'static str,
}

#[derive(Serialize)]
pub struct CollectMs {
    pub total: f64,
    pub sockets: f64,
    pub processes: f64,
}

impl<'a> HostJson<'a> {
    pub fn new(snap: &'a Snapshot) -> HostJson<'a> {
        HostJson {
            hostname: &snap.host.hostname,
            kernel: &snap.host.kernel,
            euid: snap.host.euid,
            netns: &snap.netns,
            taken_at: time::rfc3339(snap.taken_at),
            collect_ms: CollectMs {
                total: ms(snap.timings.total),
                sockets: ms(snap.timings.sockets),
                processes: ms(snap.timings.processes),
            },
            scan: &snap.scan,
            sockscope_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The `netns` object of an all-namespace document: the namespace's inode
/// and whatever labels are known (name, holder pids, container, pod).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetnsJson<'a> {
    pub inode: u64,
    #[serde(flatten)]
    pub labels: Cow<'a, NetnsLabels>,
}

impl NetnsJson<'_> {
    /// A copy that outlives the snapshot (watch events).
    pub fn into_owned(self) -> NetnsJson<'static> {
        NetnsJson { inode: self.inode, labels: Cow::Owned(self.labels.into_owned()) }
    }

    /// The NETNS column text, escaped.
    pub fn column(&self) -> String {
        super::escape::text(&self.labels.display(self.inode)).into_owned()
    }
}

/// The `netns` object for the namespace `inode`, in an all-namespace
/// snapshot; `None` (the field is left out) in a single-namespace one.
pub fn netns(snap: &Snapshot, inode: u64) -> Option<NetnsJson<'_>> {
    snap.is_all_netns().then(|| {
        let labels = snap
            .namespace(inode)
            .map_or_else(|| Cow::Owned(NetnsLabels::default()), |n| Cow::Borrowed(&n.labels));
        NetnsJson { inode, labels }
    })
}

#[derive(Serialize)]
pub struct OwnerJson<'a> {
    pub pid: u32,
    pub comm: &'a str,
    pub fd: u32,
    /// The holder's run state letter (`T`: stopped, cannot `accept()`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<RunState>,
}

/// Every fd holding `inode`, with the holder's comm and run state.
pub fn owners<'a>(snap: &'a Snapshot, inode: u64) -> Vec<OwnerJson<'a>> {
    snap.owners.owners(inode).iter().map(|o| OwnerJson::of(snap, o)).collect()
}

impl<'a> OwnerJson<'a> {
    /// One fd holding a socket, with its process's comm and run state.
    pub fn of(snap: &'a Snapshot, o: &crate::model::FdRef) -> OwnerJson<'a> {
        let process = snap.processes.get(&o.pid);
        OwnerJson {
            pid: o.pid,
            comm: process.map_or("?", |p| p.comm.as_str()),
            fd: o.fd,
            state: process.and_then(|p| p.state),
        }
    }
}

/// The holders of one socket, serialized straight from the owner index:
/// a million sockets allocate no vector each.
pub struct OwnersOf<'a> {
    snap: &'a Snapshot,
    inode: u64,
}

impl<'a> OwnersOf<'a> {
    pub fn new(snap: &'a Snapshot, inode: u64) -> OwnersOf<'a> {
        OwnersOf { snap, inode }
    }
}

impl Serialize for OwnersOf<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let snap = self.snap;
        s.collect_seq(snap.owners.owners(self.inode).iter().map(|o| OwnerJson::of(snap, o)))
    }
}

#[derive(Serialize)]
pub struct SocketJson<'a> {
    pub proto: Proto,
    pub family: Family,
    pub state: State,
    #[serde(serialize_with = "endpoint_ref")]
    pub local: &'a Endpoint,
    #[serde(serialize_with = "endpoint_ref")]
    pub remote: &'a Endpoint,
    pub recv_q: u32,
    pub send_q: u32,
    pub inode: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub owners: OwnersOf<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer: Option<Timer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skmem: Option<SkMem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_info: Option<&'a TcpInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unix_peer: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson<'a>>,
}

impl<'a> SocketJson<'a> {
    pub fn new(s: &'a Socket, snap: &'a Snapshot) -> SocketJson<'a> {
        SocketJson {
            proto: s.proto,
            family: s.family,
            state: s.state,
            local: &s.local,
            remote: &s.remote,
            recv_q: s.recv_q,
            send_q: s.send_q,
            inode: s.inode,
            uid: s.uid(),
            owners: OwnersOf::new(snap, s.inode),
            timer: s.timer,
            skmem: s.mem().copied(),
            tcp_info: s.tcp_info(),
            unix_peer: s.unix_peer(),
            netns: netns(snap, snap.netns_of_socket(s)),
        }
    }
}

/// A listener's fields (`listeners[]` of the dump, `listeners[]` of watch samples).
#[derive(Serialize)]
pub struct ListenerFields<'a> {
    pub proto: Proto,
    pub family: Family,
    #[serde(serialize_with = "endpoint_ref")]
    pub local: &'a Endpoint,
    pub inode: u64,
    pub accept_queue: u32,
    pub backlog: u32,
    pub syn_recv: u32,
    /// Connections waiting in the accept queue as the dump shows them.
    pub queued: u32,
    /// Of those, connections the client closed while waiting.
    pub queued_close_wait: u32,
    pub drops: Option<u32>,
    pub full: bool,
    pub fill_pct: Option<f64>,
    pub near_full: bool,
}

impl<'a> ListenerFields<'a> {
    pub fn new(l: &'a Listener) -> ListenerFields<'a> {
        ListenerFields {
            proto: l.proto,
            family: l.family,
            local: &l.local,
            inode: l.inode,
            accept_queue: l.accept_queue,
            backlog: l.backlog,
            syn_recv: l.syn_recv,
            queued: l.queued,
            queued_close_wait: l.queued_close_wait,
            drops: l.drops,
            full: l.full,
            fill_pct: l.fill_pct,
            near_full: l.near_full,
        }
    }
}

/// Serializes a listener's fields, for structs that embed a [`Listener`].
pub fn listener<S: Serializer>(l: &Listener, s: S) -> Result<S::Ok, S::Error> {
    ListenerFields::new(l).serialize(s)
}

#[derive(Serialize)]
pub struct ListenerJson<'a> {
    #[serde(flatten)]
    pub listener: ListenerFields<'a>,
    pub owners: Vec<OwnerJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson<'a>>,
}

/// One row of the `namespaces` table: labels, how collection went, the
/// trouble counts and the namespace's own sysctls and counters.
#[derive(Serialize)]
pub struct NamespaceJson<'a> {
    pub netns: NetnsJson<'a>,
    pub own: bool,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(flatten)]
    pub trouble: &'a NetnsTrouble,
    pub collect_ms: f64,
    pub sysctls: &'a Sysctls,
    pub counters: &'a Counters,
}

fn namespaces<'a>(report: &'a Report) -> Vec<NamespaceJson<'a>> {
    let snap = report.snapshot;
    let row = |t: &'a NetnsTrouble| {
        let ns = snap.namespace(t.inode)?;
        Some(NamespaceJson {
            netns: NetnsJson { inode: ns.inode, labels: Cow::Borrowed(&ns.labels) },
            own: ns.own,
            status: ns.status.name(),
            error: match &ns.status {
                crate::model::NetnsStatus::Failed(why) => Some(why),
                _ => None,
            },
            trouble: t,
            collect_ms: ms(ns.elapsed),
            sysctls: &ns.sysctls,
            counters: &ns.counters,
        })
    };
    report.namespaces.iter().filter_map(row).collect()
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// A finding as the schema has it: the analysis's facts with their wording.
#[derive(Serialize)]
pub struct FindingJson<'a> {
    pub kind: FindingKind,
    pub severity: Severity,
    pub subject: String,
    pub message: String,
    pub evidence: &'a Evidence,
    pub hint: String,
    /// Its namespace, in all-namespace documents and watch events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson<'a>>,
}

impl<'a> FindingJson<'a> {
    pub fn new(f: &'a Finding) -> FindingJson<'a> {
        FindingJson {
            kind: f.kind(),
            severity: f.severity,
            subject: wording::subject_text(&f.subject),
            message: wording::message(f),
            evidence: &f.evidence,
            hint: wording::hint(f),
            netns: None,
        }
    }

    /// With the finding's namespace, labelled from `snap`.
    pub fn labelled(f: &'a Finding, snap: &'a Snapshot) -> FindingJson<'a> {
        FindingJson { netns: f.netns.and_then(|inode| netns(snap, inode)), ..FindingJson::new(f) }
    }
}

/// Serializes findings as a sequence of [`FindingJson`].
pub fn findings<S: Serializer>(findings: &[Finding], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(findings.iter().map(FindingJson::new))
}

#[derive(Serialize)]
pub struct ProcessJson<'a> {
    pub pid: u32,
    pub comm: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub fds: Option<u32>,
    pub fd_limit: Option<FdLimit>,
    pub socket_fds: u32,
    /// Run state letter from `/proc/PID/stat` (`R`, `S`, `D`, `T`, `t`, `Z`...).
    pub state: Option<RunState>,
    pub sockets_by_state: BTreeMap<&'static str, u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsJson<'a>>,
}

impl<'a> ProcessJson<'a> {
    pub fn new(p: &'a Process, states: &StateCounts) -> ProcessJson<'a> {
        ProcessJson {
            pid: p.pid,
            comm: &p.comm,
            uid: p.uid,
            fds: p.fd_count,
            fd_limit: p.fd_limit,
            socket_fds: p.socket_fds,
            state: p.state,
            sockets_by_state: states.0.iter().map(|(s, n)| (s.ss_name(), *n)).collect(),
            cmdline: p.cmdline.as_deref(),
            netns: None,
        }
    }

    /// Adds the namespace the process lives in (all-namespace documents).
    pub fn in_netns(mut self, snap: &'a Snapshot) -> ProcessJson<'a> {
        self.netns = self.netns.or_else(|| netns(snap, snap.processes.get(&self.pid)?.netns?));
        self
    }
}

/// The document's fields before `sockets`.
#[derive(Serialize)]
struct Head<'a> {
    schema_version: u32,
    host: HostJson<'a>,
    sysctls: &'a Sysctls,
    counters: &'a Counters,
}

/// The document's fields after `sockets`.
#[derive(Serialize)]
struct Tail<'r, 'a> {
    listeners: Vec<ListenerJson<'r>>,
    processes: Vec<ProcessJson<'a>>,
    findings: Vec<FindingJson<'r>>,
    warnings: &'a [Warning],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    namespaces: Vec<NamespaceJson<'r>>,
}

/// Writes the whole document followed by a newline.
///
/// The document is `{head, "sockets": [...], tail}`: head and tail are small
/// and serialized whole; the sockets are written by [`super::json_sockets`]
/// in parallel chunks. The two objects are spliced around the array (head
/// without its closing brace, tail with its opening brace turned into a
/// comma), which gives the same bytes as one serialization would.
pub fn write_report(out: &mut dyn Write, report: &Report) -> serde_json::Result<()> {
    write_parts(out, report.snapshot, &report.sockets, || tail_bytes(report))
}

/// Writes the document of `sockets` (the selected ones) while the report
/// is built on another thread, and returns the report. The head and the
/// sockets array need only the snapshot, and the analysis costs a tenth of
/// a second at a million sockets: done alongside, it costs no wall time.
pub fn write_while_analysing<'s>(
    out: &mut dyn Write,
    snapshot: &'s Snapshot,
    sockets: &[&'s Socket],
    build: impl FnOnce() -> Report<'s> + Send,
) -> serde_json::Result<Report<'s>> {
    std::thread::scope(|scope| {
        let building = scope.spawn(build);
        let mut built = None;
        write_parts(out, snapshot, sockets, || {
            let report = building.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let tail = tail_bytes(&report);
            built = Some(report);
            tail
        })?;
        built.ok_or_else(|| serde_json::Error::io(std::io::ErrorKind::Other.into()))
    })
}

fn write_parts(
    out: &mut dyn Write,
    snap: &Snapshot,
    sockets: &[&Socket],
    tail: impl FnOnce() -> serde_json::Result<Vec<u8>>,
) -> serde_json::Result<()> {
    let head = serde_json::to_vec(&Head {
        schema_version: SCHEMA_VERSION,
        host: HostJson::new(snap),
        sysctls: &snap.sysctls,
        counters: &snap.counters,
    })?;
    let io = serde_json::Error::io;
    out.write_all(head.strip_suffix(b"}").unwrap_or(&head)).map_err(io)?;
    out.write_all(b",\"sockets\":").map_err(io)?;
    super::json_sockets::write(out, sockets, snap)?;
    let tail = tail()?;
    out.write_all(b",").map_err(io)?;
    out.write_all(tail.strip_prefix(b"{").unwrap_or(&tail)).map_err(io)?;
    out.write_all(b"\n").map_err(io)
}

/// The fields after `sockets`, as one serialized object.
fn tail_bytes(report: &Report) -> serde_json::Result<Vec<u8>> {
    let snap = report.snapshot;
    let empty = StateCounts::default();
    serde_json::to_vec(&Tail {
        listeners: report
            .listeners
            .iter()
            .map(|l| ListenerJson {
                listener: ListenerFields::new(l),
                owners: owners(snap, l.inode),
                netns: netns(snap, l.netns),
            })
            .collect(),
        processes: report
            .processes
            .iter()
            .map(|p| ProcessJson::new(p, report.owner_states.get(&p.pid).unwrap_or(&empty)).in_netns(snap))
            .collect(),
        findings: report.findings.iter().map(|f| FindingJson::labelled(f, snap)).collect(),
        warnings: &snap.warnings,
        namespaces: namespaces(report),
    })
}
