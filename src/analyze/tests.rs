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
    let queue = QueueEvidence {
        accept_queue: 5,
        backlog: 4,
        drops: Some(3),
        queued_close_wait: 0,
        somaxconn: Some(4096),
    };
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
    assert_eq!(f.severity, Severity::Info, "not full, and syncookies would answer beyond it");
    let evidence = SynQueueEvidence {
        syn_recv: 9,
        backlog: 10,
        limit: 10,
        syncookies: Some(1),
        tcp_max_syn_backlog: None,
    };
    assert_eq!(evidence.share_pct(), 90.0);
    assert_eq!(f.evidence, Evidence::SynQueuePressure(evidence));
}

/// A listener with `n` SYN-RECV rows on `[::]:443`.
fn half_open(b: SnapshotBuilder, backlog: u32, n: u32) -> Option<Finding> {
    let mut b = b.listener("[::]:443", 0, backlog, 0, &[]);
    for i in 0..n {
        b = b.tcp(State::SynRecv, "[2001:db8::1]:443", &format!("[2001:db8::9]:{}", 40000 + i), &[]);
    }
    run(b).findings.into_iter().find(|f| f.kind() == FindingKind::SynQueuePressure)
}

#[test]
fn syn_queue_limit_is_the_listeners_own_backlog_not_todays_somaxconn() {
    let lowered = SnapshotBuilder::new().sysctl("net.core.somaxconn", SysctlValue::Int(4));
    assert_eq!(half_open(lowered, 100, 4), None, "4 of a backlog of 100, whatever somaxconn is now");
    let no_cookies = || SnapshotBuilder::new().sysctl("net.ipv4.tcp_syncookies", SysctlValue::Int(0));
    let at = half_open(no_cookies(), 8, 8).expect("8 of 8");
    assert_eq!(at.severity, Severity::Warning, "the queue holds backlog + 1: one slot left");
    let full = half_open(no_cookies(), 8, 9).expect("9 of 8");
    assert_eq!(full.severity, Severity::Critical, "full without syncookies: SYNs are dropped");
    let Evidence::SynQueuePressure(e) = &full.evidence else { panic!("{full:?}") };
    assert_eq!((e.limit, e.backlog, e.share_pct(), e.full()), (8, 8, 112.5, true));
    let cookies = half_open(SnapshotBuilder::new(), 8, 9).expect("9 of 8 with cookies");
    assert_eq!(cookies.severity, Severity::Warning, "full, but syncookies let clients in");
}

#[test]
fn without_syncookies_tcp_max_syn_backlog_lowers_the_limit() {
    let b = SnapshotBuilder::new()
        .sysctl("net.ipv4.tcp_syncookies", SysctlValue::Int(0))
        .sysctl("net.ipv4.tcp_max_syn_backlog", SysctlValue::Int(16));
    let f = half_open(b, 100, 13).expect("over 3/4 of tcp_max_syn_backlog");
    let Evidence::SynQueuePressure(e) = &f.evidence else { panic!("{f:?}") };
    assert_eq!((e.limit, e.tcp_max_syn_backlog), (12, Some(16)), "unproven peers are dropped past 12");
    assert_eq!(f.severity, Severity::Critical);
    let with_cookies = SnapshotBuilder::new().sysctl("net.ipv4.tcp_max_syn_backlog", SysctlValue::Int(16));
    assert_eq!(half_open(with_cookies, 100, 13), None, "with syncookies tcp_max_syn_backlog does not matter");
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

/// TIME-WAIT towards `dest` filling 95 of 100 ports, under `tcp_tw_reuse`.
fn time_wait_towards(dest: &str, local_ip: &str, tw_reuse: i64, timestamps: i64) -> Finding {
    let b = SnapshotBuilder::new()
        .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![60000, 60099]))
        .sysctl("net.ipv4.tcp_tw_reuse", SysctlValue::Int(tw_reuse))
        .sysctl("net.ipv4.tcp_timestamps", SysctlValue::Int(timestamps))
        .many(95, State::TimeWait, local_ip, dest, &[]);
    let a = run(b);
    a.findings.into_iter().find(|f| f.kind() == FindingKind::TimeWaitBuildup).expect("time_wait_buildup")
}

#[test]
fn time_wait_that_tcp_tw_reuse_covers_is_never_critical() {
    let loopback = time_wait_towards("127.0.0.1:5432", "127.0.0.1", 2, 1);
    assert_eq!(loopback.severity, Severity::Info, "2 (the default) covers loopback");
    let Evidence::TimeWaitBuildup(e) = &loopback.evidence else { panic!("{loopback:?}") };
    assert!(e.reuse_applies);
    assert!(!loopback.evidence.limit_reached());
    let v6 = time_wait_towards("[::1]:5432", "[::1]", 2, 1);
    assert_eq!(v6.severity, Severity::Info, "IPv6 loopback too");
    assert_eq!(
        time_wait_towards("10.0.0.2:443", "10.0.0.1", 2, 1).severity,
        Severity::Critical,
        "2: not remote"
    );
    assert_eq!(
        time_wait_towards("10.0.0.2:443", "10.0.0.1", 1, 1).severity,
        Severity::Info,
        "1: every destination"
    );
    assert_eq!(
        time_wait_towards("127.0.0.1:5432", "127.0.0.1", 0, 1).severity,
        Severity::Critical,
        "0: none"
    );
    let no_stamps = time_wait_towards("127.0.0.1:5432", "127.0.0.1", 2, 0);
    assert_eq!(no_stamps.severity, Severity::Critical, "reuse needs TCP timestamps");
}

#[test]
fn every_port_pinned_is_said_as_reached() {
    let b = SnapshotBuilder::new()
        .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![60000, 60099]))
        .sysctl("net.ipv4.tcp_tw_reuse", SysctlValue::Int(0))
        .many(100, State::TimeWait, "10.0.0.1", "10.0.0.2:443", &[]);
    let f = run(b).findings.into_iter().find(|f| f.kind() == FindingKind::TimeWaitBuildup).unwrap();
    assert!(f.evidence.limit_reached());
    assert_eq!(f.severity, Severity::Critical);
}

#[test]
fn a_process_at_its_fd_limit_has_reached_it() {
    let at_limit = run(SnapshotBuilder::new().process(6, "db", 64, 64));
    let f = &at_limit.findings[0];
    assert_eq!((f.kind(), f.severity), (FindingKind::FdExhaustionRisk, Severity::Critical));
    assert!(f.evidence.limit_reached());
    let over = run(SnapshotBuilder::new().process(6, "db", 65, 64));
    assert!(over.findings[0].evidence.limit_reached(), "65 of 64: inherited fds above the limit");
    let strict = Thresholds { fd_pct: 99.0, ..Thresholds::default() };
    let a = analyze(&SnapshotBuilder::new().process(6, "db", 100, 100).build(), &strict);
    assert_eq!(a.findings[0].severity, Severity::Critical, "reached is critical whatever the threshold");
    let near = run(SnapshotBuilder::new().process(6, "db", 90, 100));
    assert_eq!(near.findings[0].severity, Severity::Warning);
    assert!(!near.findings[0].evidence.limit_reached());
}

/// A listener on 8080 with `queue` of backlog 4, held by the given owners.
fn stalled(queue: u32, owners: &[(u32, char, u32)]) -> Option<Finding> {
    let mut b = SnapshotBuilder::new();
    for &(pid, state, fds) in owners {
        b = b.process(pid, "srv", fds, 64).run_state(pid, state);
    }
    let pids: Vec<u32> = owners.iter().map(|o| o.0).collect();
    let a = run(b.listener("0.0.0.0:8080", queue, 4, 0, &pids));
    a.findings.into_iter().find(|f| f.kind() == FindingKind::AcceptStalled)
}

#[test]
fn a_queue_no_owner_can_drain_is_accept_stalled() {
    use super::evidence::Stall;
    let stopped = stalled(5, &[(7, 'T', 10)]).expect("stopped owner, full queue");
    assert_eq!(stopped.severity, Severity::Critical);
    let Evidence::AcceptStalled(e) = &stopped.evidence else { panic!("{stopped:?}") };
    assert_eq!((e.owners[0].stall, e.owners[0].pid), (Stall::Stopped, 7));
    assert_eq!(
        stalled(1, &[(7, 't', 10)]).map(|f| f.severity),
        Some(Severity::Warning),
        "a debugger, one waiting"
    );
    let emfile = stalled(2, &[(7, 'S', 64)]).expect("at its fd limit");
    let Evidence::AcceptStalled(e) = &emfile.evidence else { panic!("{emfile:?}") };
    assert_eq!(
        (e.owners[0].stall, e.owners[0].fds, e.owners[0].fd_limit),
        (Stall::FdLimit, Some(64), Some(64))
    );
    assert!(emfile.evidence.limit_reached());
}

#[test]
fn a_short_d_or_one_working_owner_is_no_stall() {
    assert!(stalled(1, &[(7, 'D', 10)]).is_none(), "one client and a moment of D is ordinary");
    assert!(stalled(4, &[(7, 'D', 10)]).is_some(), "4 of 4 waiting while in D is not");
    assert!(stalled(5, &[(7, 'T', 10), (8, 'S', 10)]).is_none(), "another owner accepts");
    assert!(stalled(0, &[(7, 'T', 10)]).is_none(), "nobody waits");
    assert!(stalled(5, &[(7, 'R', 10)]).is_none(), "running");
}

#[test]
fn syn_sent_towards_a_full_local_listener_names_it() {
    let b = SnapshotBuilder::new()
        .listener("0.0.0.0:8080", 5, 4, 0, &[])
        .many(12, State::SynSent, "10.0.0.1", "10.0.0.1:8080", &[])
        .many(12, State::SynSent, "10.0.0.1", "10.9.9.9:8080", &[]);
    let a = run(b);
    let pileups: Vec<&Finding> =
        a.findings.iter().filter(|f| f.kind() == FindingKind::SynSentPileup).collect();
    assert_eq!(pileups.len(), 2);
    let here = |f: &&Finding| match &f.evidence {
        Evidence::SynSentPileup(e) => e.local_listener.clone(),
        _ => None,
    };
    let local = pileups.iter().find_map(here).expect("the local one names its listener");
    assert_eq!((local.local.to_string(), local.full), ("0.0.0.0:8080".to_string(), true));
    assert_eq!(pileups.iter().filter_map(here).count(), 1, "10.9.9.9 is not an address of this namespace");
}

#[test]
fn queued_close_wait_is_the_listeners_not_an_unseen_owners() {
    let b = SnapshotBuilder::new()
        .process(7, "api", 20, 1024)
        .listener("0.0.0.0:8080", 3, 4, 0, &[7])
        .waiting(State::CloseWait, "10.0.0.1:8080", "10.0.0.9:40001")
        .waiting(State::Established, "10.0.0.1:8080", "10.0.0.9:40002")
        .waiting(State::Established, "10.0.0.1:8080", "10.0.0.9:40003");
    let t = Thresholds { close_wait: 1, near_full_pct: 50.0, ..Thresholds::default() };
    let a = analyze(&b.build(), &t);
    assert!(!a.findings.iter().any(|f| f.subject == Subject::Host), "{:?}", a.findings);
    let near = a.findings.iter().find(|f| f.kind() == FindingKind::AcceptQueueNearFull).expect("near full");
    let Evidence::AcceptQueueNearFull(e) = &near.evidence else { panic!("{near:?}") };
    assert_eq!(e.queue.queued_close_wait, 1);
    assert_eq!(near.subject.pids(), &[7], "attributed to the listener's owner");
}
