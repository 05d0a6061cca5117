//! The whole exposition of hand-built snapshots, compared with committed
//! snapshots (like node_exporter's fixture tests), plus the rules that keep
//! label cardinality bounded.

use std::sync::Arc;
use std::time::Duration;

use super::families::Value;
use super::metrics::OTHER_PROCESSES;
use super::*;
use crate::fixture::{SnapshotBuilder, tcp_socket};
use crate::model::{FdRef, SkMem, Snapshot, State};

fn labels(netns: &str) -> NetnsLabels {
    NetnsLabels { netns: netns.into(), name: netns.into(), ..NetnsLabels::default() }
}

/// A busy web host: nginx's full listener (with a SO_REUSEPORT twin),
/// SYN-RECV rows, a php-fpm unix socket, a CLOSE-WAIT leak, TIME-WAIT
/// towards one backend, a ghost socket, and a hostile process name.
fn web_host() -> Snapshot {
    let mut syn_recv = tcp_socket(State::SynRecv, "10.0.0.1:443", "198.51.100.7:50123", 0, 0);
    syn_recv.extra = None;
    let mut reuseport = tcp_socket(State::Listen, "0.0.0.0:443", "0.0.0.0:0", 2, 511);
    reuseport.extra_mut().mem = Some(SkMem { drops: Some(5), ..SkMem::default() });
    let mut snapshot = SnapshotBuilder::new()
        .counter("TcpExt", "ListenOverflows", 77)
        .process(100, "nginx", 40, 1024)
        .process(101, "nginx", 900, 1024)
        .process(200, "php-fpm", 12, 65536)
        .process(300, "evil\"\n\x1b]0;x", 9, 1024)
        .listener("0.0.0.0:443", 512, 511, 70, &[100, 101])
        .socket(reuseport, &[101])
        .socket(syn_recv.clone(), &[])
        .socket(syn_recv, &[])
        .listener("127.0.0.1:8080", 0, 4096, 0, &[300])
        .unix_listener("/run/php/fpm.sock", 3, 2, &[200])
        .many(12, State::CloseWait, "10.0.0.1", "10.0.0.9:5432", &[200])
        .many(2, State::CloseWait, "10.0.0.1", "10.0.0.9:6379", &[])
        .many(14_116, State::TimeWait, "10.0.0.1", "10.0.0.9:5432", &[])
        .many(3, State::Established, "10.0.0.1", "10.0.0.9:5432", &[300])
        .build();
    snapshot.ghosts =
        Some(vec![FdRef { inode: 999_001, pid: 300, fd: 40 }, FdRef { inode: 999_001, pid: 300, fd: 41 }]);
    snapshot
}

fn text(results: &[NetnsResult], format: Format) -> String {
    let exposition = metrics::build(results, Duration::from_millis(250), &Limits::default());
    encode(&Arc::new(exposition), format).unwrap()
}

#[test]
fn a_busy_host_in_the_text_format() {
    let results = [NetnsResult { labels: labels("web"), snapshot: Ok(web_host()) }];
    insta::assert_snapshot!(text(&results, Format::Prometheus));
}

#[test]
fn a_busy_host_in_openmetrics() {
    let results = [NetnsResult { labels: labels("web"), snapshot: Ok(web_host()) }];
    insta::assert_snapshot!(text(&results, Format::OpenMetrics));
}

#[test]
fn a_failed_namespace_reports_failure_and_no_series() {
    let results = [
        NetnsResult {
            labels: labels("web"),
            snapshot: Ok(SnapshotBuilder::new().listener("0.0.0.0:80", 0, 128, 0, &[]).build()),
        },
        NetnsResult { labels: labels("gone"), snapshot: Err("cannot enter network namespace gone".into()) },
    ];
    let exposition = metrics::build(&results, Duration::ZERO, &Limits::default());
    let success = exposition.family("sockscope_scrape_success").unwrap();
    let by_netns: Vec<(&str, Value)> =
        success.samples.iter().map(|s| (s.labels[0].1.as_str(), s.value)).collect();
    assert_eq!(by_netns, vec![("web", Value::Int(1)), ("gone", Value::Int(0))]);
    for family in &exposition.families {
        let about_gone = family.samples.iter().any(|s| s.labels.iter().any(|(_, v)| v == "gone"));
        let expected = matches!(family.name, "sockscope_scrape_success" | "sockscope_netns_info");
        assert_eq!(about_gone, expected, "{}", family.name);
    }
}

#[test]
fn listeners_with_the_same_labels_show_the_fullest_and_all_drops() {
    let exposition = metrics::build(
        &[NetnsResult { labels: labels("web"), snapshot: Ok(web_host()) }],
        Duration::ZERO,
        &Limits::default(),
    );
    let value = |name: &str| {
        let family = exposition.family(name).unwrap();
        let https = family.samples.iter().find(|s| s.labels.iter().any(|(k, v)| *k == "port" && v == "443"));
        https.map(|s| s.value)
    };
    assert_eq!(
        value("sockscope_listen_queued_connections"),
        Some(Value::Int(512)),
        "the full one of 512/511 and 2/511"
    );
    assert_eq!(value("sockscope_listen_backlog_connections"), Some(Value::Int(511)));
    assert_eq!(value("sockscope_listen_drops_total"), Some(Value::Int(75)));
    assert_eq!(value("sockscope_listen_syn_recv_requests"), Some(Value::Int(2)), "counted once per address");
}

/// Pids, inodes and remote ports here are distinctive numbers that must not
/// appear anywhere in the exposition.
#[test]
fn no_label_holds_a_pid_an_inode_or_a_remote_endpoint() {
    let mut builder =
        SnapshotBuilder::new().process(43_219, "app", 10, 1024).process(43_220, "app", 10, 1024);
    for port in 51_000..51_050 {
        builder = builder.tcp(State::CloseWait, "10.1.2.3:8080", &format!("203.0.113.77:{port}"), &[43_219]);
    }
    let mut snapshot = builder.listener("10.1.2.3:8080", 1, 128, 0, &[43_219, 43_220]).build();
    snapshot.ghosts = Some(vec![FdRef { inode: 777_777_123, pid: 43_220, fd: 9 }]);
    let inodes: Vec<String> =
        snapshot.sockets.iter().map(|s| s.inode.to_string()).filter(|i| i != "0").collect();
    let out = text(&[NetnsResult { labels: labels("web"), snapshot: Ok(snapshot) }], Format::Prometheus);
    for forbidden in ["43219", "43220", "777777123", "203.0.113.77", "51000", "51049"] {
        assert!(!out.contains(forbidden), "{forbidden} in:\n{out}");
    }
    for inode in inodes {
        assert!(!out.contains(&format!("\"{inode}\"")), "inode {inode} as a label value:\n{out}");
    }
}

#[test]
fn per_process_series_stay_within_the_limit() {
    let mut builder = SnapshotBuilder::new();
    for pid in 1..=300u32 {
        builder = builder.process(pid, &format!("worker-{pid}"), 10 + pid, 1024).tcp(
            State::CloseWait,
            &format!("10.0.0.1:{}", 10_000 + pid),
            "10.0.0.2:80",
            &[pid],
        );
    }
    let results = [NetnsResult { labels: labels("web"), snapshot: Ok(builder.build()) }];
    let exposition = metrics::build(&results, Duration::ZERO, &Limits { processes: 20 });
    let close_wait = exposition.family("sockscope_close_wait_sockets").unwrap();
    assert_eq!(close_wait.samples.len(), 20);
    let total: u64 = close_wait.samples.iter().map(|s| if let Value::Int(n) = s.value { n } else { 0 }).sum();
    assert_eq!(total, 300, "names beyond the limit are added up, not lost");
    assert!(close_wait.samples.iter().any(|s| s.labels.iter().any(|(_, v)| v == OTHER_PROCESSES)));
    let fds = exposition.family("sockscope_process_open_fds").unwrap();
    assert_eq!(fds.samples.len(), 20);
    let worst = fds.samples.iter().any(|s| s.labels.iter().any(|(_, v)| v == "worker-300"));
    assert!(worst, "the processes closest to their limit are kept");
}

#[test]
fn the_process_closest_to_its_limit_speaks_for_its_name() {
    let snapshot = SnapshotBuilder::new()
        .process(1, "java", 5000, 65536)
        .process(2, "java", 900, 1024)
        .tcp(State::Established, "10.0.0.1:40000", "10.0.0.2:80", &[1])
        .tcp(State::Established, "10.0.0.1:40001", "10.0.0.2:80", &[2])
        .build();
    let results = [NetnsResult { labels: labels("web"), snapshot: Ok(snapshot) }];
    let exposition = metrics::build(&results, Duration::ZERO, &Limits::default());
    let open = &exposition.family("sockscope_process_open_fds").unwrap().samples;
    let max = &exposition.family("sockscope_process_max_fds").unwrap().samples;
    assert_eq!((open.len(), open[0].value), (1, Value::Int(900)));
    assert_eq!((max.len(), max[0].value), (1, Value::Int(1024)));
}

#[test]
fn time_wait_on_a_listening_port_pins_no_ephemeral_port() {
    let snapshot = SnapshotBuilder::new()
        .listener("0.0.0.0:80", 0, 128, 0, &[])
        .many(500, State::TimeWait, "10.0.0.1", "10.0.0.2:80", &[])
        .tcp(State::TimeWait, "10.0.0.1:80", "10.0.0.3:40000", &[])
        .build();
    let ratio = metrics::build(
        &[NetnsResult { labels: labels("web"), snapshot: Ok(snapshot) }],
        Duration::ZERO,
        &Limits::default(),
    )
    .family("sockscope_timewait_ephemeral_ratio")
    .map(|f| f.samples[0].value);
    assert_eq!(ratio, Some(Value::Float(500.0 / 28_232.0)));
}

fn success_of(exposition: &Exposition) -> Vec<Value> {
    exposition
        .family("sockscope_scrape_success")
        .map(|f| f.samples.iter().map(|s| s.value).collect())
        .unwrap_or_default()
}

#[test]
fn a_failing_source_scrapes_with_success_zero_and_is_logged_once() {
    use crate::model::Replay;
    let snapshot = SnapshotBuilder::new().listener("0.0.0.0:80", 0, 128, 0, &[]).build();
    let replay = Replay::new([snapshot.clone()])
        .then_fail("cannot enter network namespace blue")
        .then_fail("cannot enter network namespace blue")
        .then(snapshot);
    let mut sources = vec![NetnsSource { labels: labels("blue"), source: Box::new(replay) }];
    let mut journal = Journal::default();
    let mut log = Vec::new();
    let mut scrape = || collect_exposition(&mut sources, &Limits::default(), &mut journal, &mut log);
    let (first, second, third, fourth) = (scrape(), scrape(), scrape(), scrape());
    assert_eq!(success_of(&first), vec![Value::Int(1)]);
    assert_eq!(success_of(&second), vec![Value::Int(0)]);
    assert!(second.family("sockscope_tcp_sockets").is_none(), "no series from a failed namespace");
    assert!(second.family("sockscope_build_info").is_some(), "the scrape itself succeeds");
    assert_eq!(success_of(&third), vec![Value::Int(0)]);
    assert_eq!(success_of(&fourth), vec![Value::Int(1)]);
    let log = String::from_utf8(log).unwrap();
    assert_eq!(
        log,
        "sockscope: netns blue: collection failed: cannot enter network namespace blue\n\
         sockscope: netns blue: collected again\n"
    );
}

#[test]
fn all_namespaces_split_into_labelled_results_without_inodes() {
    use crate::model::{Namespace, NetnsLabels as ModelLabels, NetnsStatus, Pod};
    let mut snap = SnapshotBuilder::new()
        .process(10, "web", 20, 1024)
        .process(20, "worker", 20, 1024)
        .listener("0.0.0.0:8080", 5, 4, 0, &[10])
        .listener("0.0.0.0:9090", 0, 4, 0, &[20])
        .build();
    snap.socket_netns.push(0, 100);
    snap.socket_netns.push(1, 200);
    snap.processes.get_mut(&10).unwrap().netns = Some(100);
    snap.processes.get_mut(&20).unwrap().netns = Some(200);
    let pod = ModelLabels {
        container_id: Some("0123456789abcdef0123".into()),
        pod: Some(Pod { namespace: Some("shop".into()), name: Some("cart-7f9c4".into()), uid: "u".into() }),
        ..ModelLabels::default()
    };
    let anonymous = ModelLabels { pids: vec![20], ..ModelLabels::default() };
    let collected =
        |inode, labels| Namespace { status: NetnsStatus::Collected, ..Namespace::new(1, inode, labels) };
    let gone = Namespace::new(1, 300, ModelLabels { pids: vec![20], ..ModelLabels::default() });
    snap.namespaces = vec![collected(100, pod), collected(200, anonymous), gone];
    let results = split_by_netns(&snap);
    let keys: Vec<&str> = results.iter().map(|r| r.labels.netns.as_str()).collect();
    assert_eq!(keys, ["pod:shop/cart-7f9c4", "process:worker", "process:worker#2"]);
    assert_eq!(
        (results[0].labels.pod.as_str(), results[0].labels.container.as_str()),
        ("cart-7f9c4", "0123456789ab")
    );
    assert!(results[0].snapshot.as_ref().is_ok_and(|s| s.sockets.len() == 1));
    assert!(results[2].snapshot.is_err(), "the vanished namespace fails alone");
    let exposition = text(&results, Format::Prometheus);
    assert!(exposition.contains("sockscope_scrape_success{netns=\"process:worker#2\"} 0"), "{exposition}");
    assert!(
        !exposition.contains("netns=\"100\"") && !exposition.contains("netns=\"200\""),
        "no inode as a label"
    );
}
