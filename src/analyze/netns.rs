//! Analysis of an all-namespace snapshot (`--all-netns`).
//!
//! Every rule runs once per namespace, on that namespace's view
//! ([`Snapshot::netns_views`]): a listener is judged against its own
//! namespace's somaxconn and syncookies, TIME-WAIT against its own port
//! range and `tcp_tw_reuse`, and SYN-RECV rows are matched to listeners of
//! the same namespace (a hundred pods may all listen on `0.0.0.0:8080`).
//! Each finding carries the inode of the namespace it was found in; the
//! namespaces are then ranked by trouble for the summary table.

use serde::Serialize;

use super::finding::{Finding, FindingKind, Severity, Subject};
use super::listeners::{self, Listener};
use super::{Analysis, Thresholds};
use crate::model::Snapshot;

/// Runs every rule on each namespace of `snapshot` and merges the results.
pub(crate) fn analyze_each(snapshot: &Snapshot, t: &Thresholds) -> Analysis {
    merge(per_netns(snapshot, t).into_iter().map(|(_, analysis)| analysis))
}

/// Each collected namespace's view with its own analysis, findings tagged.
pub(crate) fn per_netns(snapshot: &Snapshot, t: &Thresholds) -> Vec<(Snapshot, Analysis)> {
    snapshot
        .netns_views()
        .into_iter()
        .map(|view| {
            let mut analysis = super::analyze_one(&view, t);
            analysis.findings.retain(|f| !belongs_elsewhere(f, &view, snapshot));
            tag(&mut analysis.findings, view.netns.inode);
            (view, analysis)
        })
        .collect()
}

/// Marks findings with the namespace they were found in.
pub(crate) fn tag(findings: &mut [Finding], netns: Option<u64>) {
    for f in findings {
        f.netns = netns;
    }
}

/// Merges per-namespace analyses: listeners full first, findings worst first.
pub(crate) fn merge(parts: impl IntoIterator<Item = Analysis>) -> Analysis {
    let mut all = Analysis { listeners: Vec::new(), findings: Vec::new() };
    for part in parts {
        all.listeners.extend(part.listeners);
        all.findings.extend(part.findings);
    }
    listeners::sort(&mut all.listeners);
    Finding::sort(&mut all.findings);
    all
}

/// `fd_exhaustion_risk` concerns a process, not a namespace: a view lists
/// processes that hold one of its sockets from elsewhere, so the finding is
/// kept only in the namespace the process lives in (when that one was
/// collected; otherwise wherever it shows).
fn belongs_elsewhere(f: &Finding, view: &Snapshot, whole: &Snapshot) -> bool {
    let Subject::Process { pid, .. } = &f.subject else { return false };
    f.kind() == FindingKind::FdExhaustionRisk
        && whole
            .namespace_of_pid(*pid)
            .is_some_and(|ns| ns.status.is_collected() && Some(ns.inode) != view.netns.inode)
}

/// How much trouble one namespace is in, for the summary table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetnsTrouble {
    #[serde(skip)]
    pub inode: u64,
    pub critical: u32,
    pub warning: u32,
    pub info: u32,
    pub listeners: u32,
    pub full_listeners: u32,
    pub near_full_listeners: u32,
    /// Sockets its dumps returned (whatever the selection).
    pub sockets: u32,
    /// The kind of its worst finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<FindingKind>,
}

impl NetnsTrouble {
    /// Worst first: critical findings, warnings, full then near-full
    /// listeners, info findings, then the busiest.
    fn rank(&self) -> impl Ord {
        (
            std::cmp::Reverse((self.critical, self.warning, self.full_listeners, self.near_full_listeners)),
            std::cmp::Reverse((self.info, self.sockets)),
            self.inode,
        )
    }
}

/// Where `inode` counts: its own row (the only row takes everything).
fn slot(rows: &[NetnsTrouble], inode: u64) -> Option<usize> {
    match rows.len() {
        1 => Some(0),
        _ => rows.iter().position(|t| t.inode == inode),
    }
}

/// Every namespace of the snapshot with its trouble, worst first, counting
/// the given (selected) listeners and findings.
pub(crate) fn trouble(
    snapshot: &Snapshot,
    listeners: &[Listener],
    findings: &[Finding],
) -> Vec<NetnsTrouble> {
    let mut out: Vec<NetnsTrouble> = snapshot
        .namespaces
        .iter()
        .map(|ns| NetnsTrouble { inode: ns.inode, sockets: ns.sockets, ..NetnsTrouble::default() })
        .collect();
    for l in listeners {
        let Some(i) = slot(&out, l.netns) else { continue };
        out[i].listeners += 1;
        out[i].full_listeners += u32::from(l.full);
        out[i].near_full_listeners += u32::from(l.near_full);
    }
    for f in findings {
        let Some(i) = slot(&out, f.netns.unwrap_or(0)) else { continue };
        let t = &mut out[i];
        match f.severity {
            Severity::Critical => t.critical += 1,
            Severity::Warning => t.warning += 1,
            Severity::Info => t.info += 1,
        }
        t.worst = Some(t.worst.map_or(f.kind(), |w| w.min(f.kind())));
    }
    out.sort_by(|a, b| a.rank().cmp(&b.rank()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::analyze;
    use crate::fixture::SnapshotBuilder;
    use crate::model::{Namespace, NetnsLabels, NetnsStatus, Pod, State, SysctlValue};

    fn namespace(inode: u64, pod: Option<&str>, somaxconn: i64) -> Namespace {
        let labels = NetnsLabels {
            pod: pod.map(|p| Pod { name: Some(p.into()), uid: format!("uid-{p}"), ..Pod::default() }),
            ..NetnsLabels::default()
        };
        let mut ns = Namespace { status: NetnsStatus::Collected, ..Namespace::new(4, inode, labels) };
        ns.sysctls.0.insert("net.core.somaxconn".into(), SysctlValue::Int(somaxconn));
        ns
    }

    /// Three namespaces all listening on 0.0.0.0:8080; only the pod's is full.
    fn host() -> Snapshot {
        let mut snap = SnapshotBuilder::new()
            .process(1, "init", 10, 1024)
            .process(10, "web", 10, 1024)
            .process(20, "api", 10, 1024)
            .listener("0.0.0.0:8080", 0, 4096, 0, &[1])
            .listener("0.0.0.0:8080", 5, 4, 0, &[10])
            .listener("0.0.0.0:8080", 0, 128, 0, &[20])
            .tcp(State::SynRecv, "10.0.0.3:8080", "10.0.0.9:5000", &[])
            .build();
        for (start, ns) in [(0, 100), (1, 200), (2, 300)] {
            snap.socket_netns.push(start, ns);
        }
        for (pid, ns) in [(1, 100), (10, 200), (20, 300)] {
            snap.processes.get_mut(&pid).unwrap().netns = Some(ns);
        }
        let mut own = namespace(100, None, 4096);
        own.own = true;
        snap.namespaces = vec![own, namespace(200, Some("web-7f9"), 4), namespace(300, Some("api-1"), 128)];
        snap
    }

    #[test]
    fn a_full_listener_is_reported_in_its_own_namespace_only() {
        let snap = host();
        let analysis = analyze(&snap, &Thresholds::default());
        let full: Vec<&Finding> =
            analysis.findings.iter().filter(|f| f.kind() == FindingKind::AcceptQueueFull).collect();
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].netns, Some(200));
        assert_eq!(analysis.listeners.len(), 3);
        assert!(analysis.listeners[0].full && analysis.listeners[0].netns == 200);
    }

    #[test]
    fn sysctls_and_syn_queues_are_judged_per_namespace() {
        let snap = host();
        let analysis = analyze(&snap, &Thresholds::default());
        let capped: Vec<Option<u64>> = analysis
            .findings
            .iter()
            .filter(|f| f.kind() == FindingKind::BacklogCappedBySomaxconn)
            .map(|f| f.netns)
            .collect();
        assert_eq!(capped, vec![Some(100), Some(200), Some(300)], "each backlog equals its own somaxconn");
        let syn: Vec<(u64, u32)> = analysis.listeners.iter().map(|l| (l.netns, l.syn_recv)).collect();
        assert!(syn.contains(&(300, 1)) && syn.contains(&(100, 0)), "{syn:?}");
    }

    #[test]
    fn namespaces_rank_by_trouble() {
        let snap = host();
        let analysis = analyze(&snap, &Thresholds::default());
        let ranked = trouble(&snap, &analysis.listeners, &analysis.findings);
        assert_eq!(ranked.iter().map(|t| t.inode).collect::<Vec<_>>(), vec![200, 100, 300]);
        assert_eq!((ranked[0].critical, ranked[0].full_listeners), (1, 1));
        assert_eq!(ranked[0].worst, Some(FindingKind::AcceptQueueFull));
        assert_eq!(ranked[1].sockets, 0, "sockets count what the dumps returned, from the namespace table");
    }

    #[test]
    fn a_process_finding_stays_with_the_namespace_the_process_lives_in() {
        let mut snap = host();
        snap.processes.get_mut(&10).unwrap().fd_count = Some(1000);
        let s = crate::fixture::tcp_socket(State::Established, "10.0.0.1:4000", "10.0.0.2:80", 0, 0);
        let inode = 77;
        snap.sockets.insert(1, crate::model::Socket { inode, ..s });
        snap.socket_netns = Default::default();
        for (start, ns) in [(0, 100), (2, 200), (3, 300)] {
            snap.socket_netns.push(start, ns);
        }
        let mut refs: Vec<_> = snap.owners.iter().copied().collect();
        refs.push(crate::model::FdRef { inode, pid: 10, fd: 99 });
        snap.owners = crate::model::OwnerIndex::from_refs(refs);
        let analysis = analyze(&snap, &Thresholds::default());
        let fd: Vec<Option<u64>> = analysis
            .findings
            .iter()
            .filter(|f| f.kind() == FindingKind::FdExhaustionRisk)
            .map(|f| f.netns)
            .collect();
        assert_eq!(fd, vec![Some(200)]);
    }
}
