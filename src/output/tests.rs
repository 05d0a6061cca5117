//! Every kind of finding worded and serialized from hand-built snapshots:
//! the message, evidence text, hint and JSON object a user reads, compared
//! with a reviewed snapshot, so wording never drifts from the facts.

use std::collections::HashSet;
use std::mem::discriminant;
use std::time::{Duration, SystemTime};

use super::json::FindingJson;
use super::wording::{hint, message, subject_text};
use super::{evidence, wording};
use crate::analyze::history::History;
use crate::analyze::leaks::{LeakThresholds, leaks};
use crate::analyze::{Finding, Subject, Thresholds, analyze};
use crate::fixture::SnapshotBuilder;
use crate::model::{FdLimit, FdRef, Snapshot, State, SysctlValue};

/// Every snapshot rule but the SYN queue without syncookies and TIME-WAIT.
fn busy_server() -> Snapshot {
    let mut b = SnapshotBuilder::new()
        .sysctl("net.core.rmem_max", SysctlValue::Int(212992))
        .process(4242, "ser\u{1b}ver", 300, 1024)
        .process(4243, "fine", 10, 1024)
        .process(5, "api", 85, 100)
        .process(6, "db", 96, 100)
        .listener("0.0.0.0:8080", 5, 4, 12, &[4242])
        .listener("0.0.0.0:8081", 90, 100, 0, &[4243])
        .unix_listener("/run/x\u{1b}.sock", 3, 2, &[4243])
        .listener("0.0.0.0:443", 0, 4096, 0, &[])
        .listener("0.0.0.0:80", 0, 10, 0, &[5])
        .many(120, State::CloseWait, "10.0.0.1", "10.0.0.7:5432", &[4242])
        .many(3, State::CloseWait, "10.0.0.1", "10.0.0.8:6379", &[])
        .tcp(State::CloseWait, "10.0.0.1:9999", "10.0.0.3:80", &[4243])
        .many(12, State::SynSent, "10.0.0.1", "10.9.9.9:443", &[4242])
        .many(10, State::SynSent, "10.0.0.1", "10.0.0.1:8080", &[4243])
        .process(77, "stuck", 20, 1024)
        .run_state(77, 'T')
        .listener("0.0.0.0:9000", 2, 8, 0, &[77])
        .udp("0.0.0.0:514", 1234, &[6]);
    for (client, n) in [("10.0.0.20", 7), ("10.0.0.21", 4)] {
        for i in 0..n {
            b = b.tcp(State::CloseWait, "10.0.0.1:8080", &format!("{client}:{}", 50000 + i), &[4242]);
        }
    }
    for i in 0..9 {
        b = b.tcp(State::SynRecv, "10.0.0.1:80", &format!("10.0.0.9:{}", 40000 + i), &[]);
    }
    b.build()
}

/// SYN queue at its limit without syncookies; TIME-WAIT against ports and buckets.
fn short_connections() -> Snapshot {
    let mut b = SnapshotBuilder::new()
        .sysctl("net.ipv4.tcp_syncookies", SysctlValue::Int(0))
        .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![60000, 60099]))
        .sysctl("net.ipv4.tcp_max_tw_buckets", SysctlValue::Int(100))
        .counter("TcpExt", "TCPTimeWaitOverflow", 17)
        .listener("[::]:443", 0, 10, 0, &[])
        .many(60, State::TimeWait, "10.0.0.1", "10.0.0.2:443", &[])
        .many(95, State::TimeWait, "10.0.0.1", "10.0.0.4:443", &[])
        .many(70, State::TimeWait, "127.0.0.1", "127.0.0.1:5432", &[]);
    for i in 0..10 {
        b = b.tcp(State::SynRecv, "[2001:db8::1]:443", &format!("[2001:db8::9]:{}", 40000 + i), &[]);
    }
    b.build()
}

/// Sample `i` (2 s apart) of leaking processes (each holding a socket in the
/// namespace, so trends judge them), a dropping listener and TIME-WAIT churn.
fn leaking(i: u32) -> Snapshot {
    let mut s = SnapshotBuilder::new()
        .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![40000, 40999]))
        .process(7, "api", 1000 + 2 * i, 1024)
        .process(8, "worker", 100 + 10 * i, 1024)
        .process(9, "nolimit", 100 + 10 * i, 1024)
        .listener("0.0.0.0:80", 5, 4, 10 + 7 * i, &[7])
        .many(10 + 2 * i, State::CloseWait, "10.0.0.1", "10.0.0.2:5432", &[7])
        .tcp(State::Established, "10.0.0.1:50008", "10.0.0.30:443", &[8])
        .tcp(State::Established, "10.0.0.1:50009", "10.0.0.30:443", &[9])
        .many(20 * (i + 1), State::TimeWait, "10.0.0.1", "10.0.0.9:443", &[])
        .many(50 * (i + 1), State::TimeWait, "10.0.0.1", "10.0.0.11:443", &[])
        .build();
    if let Some(p) = s.processes.get_mut(&9) {
        p.fd_limit = Some(FdLimit::Unlimited);
    }
    s.ghosts = Some(vec![FdRef { inode: 555, pid: 8, fd: 9 }, FdRef { inode: 556, pid: 8, fd: 10 }]);
    s.never_connected = Some(vec![FdRef { inode: 557, pid: 8, fd: 11 }]);
    s.taken_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + 2 * u64::from(i));
    s
}

fn trends() -> Vec<Finding> {
    let mut history = History::new(Duration::from_secs(300));
    let snaps: Vec<Snapshot> = (0..6).map(leaking).collect();
    for s in &snaps {
        history.push(s, &analyze(s, &Thresholds::default()));
    }
    leaks(&history, &snaps[5], &LeakThresholds::default())
}

fn every_finding() -> Vec<Finding> {
    let mut all = analyze(&busy_server(), &Thresholds::default()).findings;
    all.extend(analyze(&short_connections(), &Thresholds::default()).findings);
    all.extend(trends());
    all
}

fn worded(f: &Finding) -> String {
    let json = serde_json::to_string(&FindingJson::new(f)).unwrap_or_default();
    format!(
        "{} {}\n  {}\n  evidence: {}\n  hint: {}\n  {json}\n",
        f.kind(),
        subject_text(&f.subject),
        message(f),
        evidence::text(&f.evidence),
        hint(f)
    )
}

#[test]
fn every_evidence_variant_is_covered() {
    let variants: HashSet<_> = every_finding().iter().map(|f| discriminant(&f.evidence)).collect();
    assert_eq!(variants.len(), 19, "one fixture per Evidence variant");
}

#[test]
fn every_finding_worded() {
    let text: String = every_finding().iter().map(worded).collect();
    insta::assert_snapshot!(text);
}

#[test]
fn subjects_escape_what_processes_and_paths_choose() {
    let f = &analyze(&busy_server(), &Thresholds::default()).findings;
    let subjects: Vec<String> = f.iter().map(|f| subject_text(&f.subject)).collect();
    assert!(subjects.contains(&"u_str /run/x\\x1b.sock".to_string()), "{subjects:?}");
    assert!(subjects.contains(&"pid 4242 (ser\\x1bver)".to_string()), "{subjects:?}");
    assert_eq!(subject_text(&Subject::Host), "host");
}

#[test]
fn evidence_text_leaves_unknown_values_out_and_json_keeps_them() {
    let f = analyze(&busy_server(), &Thresholds::default()).findings;
    let syn_sent = f
        .iter()
        .find(|f| f.kind().name() == "syn_sent_pileup" && subject_text(&f.subject) == "10.9.9.9:443")
        .expect("syn_sent_pileup");
    assert_eq!(evidence::text(&syn_sent.evidence), "syn_sent=12 pids=4242");
    let json = serde_json::to_value(&syn_sent.evidence).unwrap_or_default();
    assert!(json["tcp_syn_retries"].is_null() && json.get("tcp_syn_retries").is_some(), "{json}");
}

#[test]
fn times_to_a_limit_read_in_planning_units() {
    assert_eq!(wording::eta_text(14.2), "~14 s");
    assert_eq!(wording::eta_text(174.8), "~3 min");
    assert_eq!(wording::eta_text(7200.0), "~2.0 h");
}

#[test]
fn slow_rates_keep_a_digit_in_a_longer_unit() {
    assert_eq!(wording::rate_text(42.4), "42/s");
    assert_eq!(wording::rate_text(0.5), "0.5/s");
    assert_eq!(wording::rate_text(0.02), "1.2/min", "not 0.0/s");
    assert_eq!(wording::rate_text(0.0003), "1.1/h");
}
