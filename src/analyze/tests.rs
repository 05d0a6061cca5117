//! Each rule checked against hand-built snapshots: it fires where it should,
//! with the right numbers, and stays quiet on healthy sockets.

use super::evidence::{FdUsage, QueueEvidence, SynQueueEvidence};
use super::*;
use crate::fixture::SnapshotBuilder;
use crate::model::{Endpoint, Proto, State, SysctlValue};

fn kinds(a: &Analysis) -> Vec<FindingKind> {
    a.findings.iter().map(Finding::kind).collect()
}

fn run(b: SnapshotBuilder) -> Analysis {
    analyze(&b.build(), &Thresholds::default())
}

#[test]
fn healthy_listener_yields_no_finding() {
    let a = run(SnapshotBuilder::new().process(10, "web", 20, 1024).listener("0.0.0.0:80", 0, 511, 0, &[10]));
    assert!(a.findings.is_empty(), "{:?}", a.findings);
    assert_eq!(a.listeners.len(), 1);
    assert!(!a.listeners[0].full);
}

#[test]
fn full_means_recv_q_above_send_q() {
    let at_backlog = run(SnapshotBuilder::new().listener("0.0.0.0:80", 4, 4, 0, &[]));
    assert!(!at_backlog.listeners[0].full, "4/4 still has room for one more");
    assert_eq!(kinds(&at_backlog), vec![FindingKind::AcceptQueueNearFull]);

    let over = run(SnapshotBuilder::new().process(7, "srv", 9, 1024).listener("0.0.0.0:80", 5, 4, 3, &[7]));
    let f = &over.findings[0];
    assert_eq!(f.kind(), FindingKind::AcceptQueueFull);
    assert_eq!(f.severity, Severity::Critical);
    let queue = QueueEvidence { accept_queue: 5, backlog: 4, drops: Some(3), somaxconn: Some(4096) };
    assert_eq!(f.evidence, Evidence::AcceptQueueFull(queue));
    assert_eq!(f.subject.pids(), &[7]);
    assert!(over.listeners[0].full);
    assert_eq!(over.listeners[0].fill_pct, Some(125.0));
    assert!(kinds(&over).contains(&FindingKind::ListenerDrops));
}

#[test]
fn near_full_threshold_is_configurable() {
    let b = || SnapshotBuilder::new().listener("0.0.0.0:80", 60, 100, 0, &[]);
    assert!(run(b()).findings.is_empty());
    let t = Thresholds { near_full_pct: 50.0, ..Thresholds::default() };
    let a = analyze(&b().build(), &t);
    assert_eq!(kinds(&a), vec![FindingKind::AcceptQueueNearFull]);
}

#[test]
fn unix_listeners_use_the_same_rule() {
    let a = run(SnapshotBuilder::new().unix_listener("/run/php-fpm.sock", 3, 2, &[]));
    assert_eq!(kinds(&a), vec![FindingKind::AcceptQueueFull]);
    let path = Endpoint::UnixPath(b"/run/php-fpm.sock".to_vec().into());
    assert_eq!(a.findings[0].subject.key(), SubjectKey::Socket { proto: Proto::UnixStream, local: path });
    let Evidence::AcceptQueueFull(q) = &a.findings[0].evidence else { panic!("{:?}", a.findings) };
    assert_eq!(q.drops, None, "no drop counter for UNIX listeners");
}

#[test]
fn backlog_equal_to_somaxconn_is_info() {
    let a = run(SnapshotBuilder::new().listener("0.0.0.0:80", 0, 4096, 0, &[]));
    assert_eq!(kinds(&a), vec![FindingKind::BacklogCappedBySomaxconn]);
    assert_eq!(a.findings[0].severity, Severity::Info);
}

#[test]
fn syn_recv_rows_count_against_the_matching_listener_only() {
    let mut b =
        SnapshotBuilder::new().listener("0.0.0.0:80", 0, 10, 0, &[]).listener("127.0.0.1:81", 0, 10, 0, &[]);
    for i in 0..9 {
        b = b.tcp(State::SynRecv, "10.0.0.1:80", &format!("10.0.0.9:{}", 40000 + i), &[]);
    }
    let a = run(b);
    let l80 = a.listeners.iter().find(|l| l.local.port() == Some(80)).unwrap();
    let l81 = a.listeners.iter().find(|l| l.local.port() == Some(81)).unwrap();
    assert_eq!((l80.syn_recv, l81.syn_recv), (9, 0));
    let f = a.findings.iter().find(|f| f.kind() == FindingKind::SynQueuePressure).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    let evidence = SynQueueEvidence { syn_recv: 9, limit: 10, syncookies: Some(1) };
    assert_eq!(evidence.share_pct(), 90.0);
    assert_eq!(f.evidence, Evidence::SynQueuePressure(evidence));
}

#[test]
fn syn_queue_limit_is_min_of_backlog_and_somaxconn() {
    let mut b = SnapshotBuilder::new().sysctl("net.core.somaxconn", SysctlValue::Int(4)).listener(
        "[::]:443",
        0,
        100,
        0,
        &[],
    );
    for i in 0..4 {
        b = b.tcp(State::SynRecv, "[2001:db8::1]:443", &format!("[2001:db8::9]:{}", 40000 + i), &[]);
    }
    let f = run(b).findings.into_iter().find(|f| f.kind() == FindingKind::SynQueuePressure).unwrap();
    let Evidence::SynQueuePressure(e) = &f.evidence else { panic!("{f:?}") };
    assert_eq!(e.limit, 4);
    assert_eq!(f.severity, Severity::Critical);
}

#[test]
fn close_wait_is_per_process_and_grows_in_severity() {
    let b = SnapshotBuilder::new()
        .process(42, "leaky", 150, 1024)
        .many(120, State::CloseWait, "10.0.0.1", "10.0.0.2:5432", &[42])
        .process(43, "fine", 10, 1024)
        .tcp(State::CloseWait, "10.0.0.1:9999", "10.0.0.3:80", &[43]);
    let a = run(b);
    let cw: Vec<&Finding> = a.findings.iter().filter(|f| f.kind() == FindingKind::CloseWait).collect();
    assert_eq!(cw.len(), 2);
    assert_eq!(cw[0].severity, Severity::Critical);
    assert_eq!(cw[0].subject.pids(), &[42]);
    let Evidence::CloseWait(e) = &cw[0].evidence else { panic!("{:?}", cw[0]) };
    assert_eq!((e.close_wait, e.pid), (120, 42));
    assert_eq!(e.fd_usage, Some(FdUsage { fds: Some(150), fd_limit: Some(1024) }));
    assert_eq!(cw[1].severity, Severity::Info);
}

#[test]
fn time_wait_buildup_against_the_port_range() {
    let b = SnapshotBuilder::new()
        .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![60000, 60099]))
        .many(60, State::TimeWait, "10.0.0.1", "10.0.0.2:443", &[])
        .many(10, State::TimeWait, "10.0.0.1", "10.0.0.3:443", &[]);
    let a = run(b);
    let tw: Vec<&Finding> = a.findings.iter().filter(|f| f.kind() == FindingKind::TimeWaitBuildup).collect();
    assert_eq!(tw.len(), 1, "only the destination over 50% of 100 ports");
    assert_eq!(tw[0].subject, Subject::Destination("10.0.0.2:443".parse().unwrap()));
    let Evidence::TimeWaitBuildup(e) = &tw[0].evidence else { panic!("{:?}", tw[0]) };
    assert_eq!((e.time_wait, e.ephemeral_ports, e.share_pct), (60, 100, 60.0));
}

#[test]
fn total_time_wait_against_tw_buckets() {
    let b = SnapshotBuilder::new().sysctl("net.ipv4.tcp_max_tw_buckets", SysctlValue::Int(100)).many(
        90,
        State::TimeWait,
        "10.0.0.1",
        "10.0.0.2:443",
        &[],
    );
    let a = run(b);
    let host = a.findings.iter().find(|f| f.subject == Subject::Host).expect("a host finding");
    assert_eq!(host.kind(), FindingKind::TimeWaitBuildup);
    let Evidence::TimeWaitBuckets(e) = &host.evidence else { panic!("{host:?}") };
    assert_eq!((e.time_wait, e.tcp_max_tw_buckets, e.share_pct()), (90, 100, 90.0));
}

#[test]
fn fd_exhaustion_from_eighty_percent() {
    let a = run(SnapshotBuilder::new().process(5, "api", 79, 100).process(6, "db", 96, 100));
    let f: Vec<_> = a.findings.iter().filter(|f| f.kind() == FindingKind::FdExhaustionRisk).collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].subject.pids(), &[6]);
    assert_eq!(f[0].severity, Severity::Critical);
}

#[test]
fn udp_drops_and_syn_sent_pileups() {
    let b = SnapshotBuilder::new()
        .udp("0.0.0.0:514", 1234, &[])
        .udp("0.0.0.0:53", 0, &[])
        .many(12, State::SynSent, "10.0.0.1", "10.9.9.9:443", &[])
        .many(3, State::SynSent, "10.0.0.1", "10.9.9.8:443", &[]);
    let a = run(b);
    assert_eq!(kinds(&a), vec![FindingKind::SynSentPileup, FindingKind::UdpReceiveDrops]);
    let Evidence::UdpReceiveDrops(e) = &a.findings[1].evidence else { panic!("{:?}", a.findings) };
    assert_eq!((e.drops, e.rcvbuf), (1234, Some(212992)));
}

#[test]
fn findings_are_sorted_worst_first() {
    let b = SnapshotBuilder::new()
        .listener("0.0.0.0:80", 0, 4096, 0, &[])
        .listener("0.0.0.0:81", 5, 4, 0, &[])
        .udp("0.0.0.0:514", 1, &[]);
    let sev: Vec<Severity> = run(b).findings.iter().map(|f| f.severity).collect();
    assert_eq!(sev, vec![Severity::Critical, Severity::Warning, Severity::Info]);
}
