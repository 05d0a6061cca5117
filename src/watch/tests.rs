//! Watch mode over time, driven by scripted snapshots: each test replays a
//! sequence with chosen timestamps and reads the NDJSON events watch writes,
//! so rates, ETAs, resolutions and endings are checked in milliseconds.

use std::sync::mpsc::channel;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::fixture::SnapshotBuilder;
use crate::model::{FdRef, Replay, Snapshot, State, SysctlValue};

/// What one watch run wrote and how it ended.
struct Run {
    events: Vec<Value>,
    text: String,
    err: String,
    ending: Result<Ending, String>,
}

impl Run {
    fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == kind).collect()
    }

    /// Findings of `kind` that started (announced for the first time).
    fn findings(&self, kind: &str) -> Vec<&Value> {
        self.announcements(kind).into_iter().filter(|e| e.get("escalation").is_none()).collect()
    }

    /// Every announcement of `kind`: starts and re-announcements.
    fn announcements(&self, kind: &str) -> Vec<&Value> {
        self.of("finding").into_iter().filter(|e| e["kind"] == kind).collect()
    }

    fn summary(&self) -> &Value {
        self.of("summary").into_iter().next().expect("a summary event")
    }
}

fn settings(json: bool) -> Settings {
    Settings {
        selection: Selection::all(),
        thresholds: Thresholds::default(),
        leaks: LeakThresholds::default(),
        interval: Duration::ZERO,
        count: None,
        duration: None,
        json,
        heartbeat: 0,
        fail_on: None,
        style: Style::default(),
    }
}

fn watch_with(mut source: Replay, mut settings: Settings, stopped: bool) -> Run {
    settings.count = settings.count.or(Some(source.remaining() as u64));
    let (tx, stop) = channel();
    if stopped {
        tx.send(()).expect("stop");
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let ending = run(&settings, &mut source, &mut out, &mut err, &stop).map_err(|e| e.to_string());
    let text = String::from_utf8(out).expect("utf-8");
    let events = match settings.json {
        true => text.lines().map(|l| serde_json::from_str(l).expect("one JSON event per line")).collect(),
        false => Vec::new(),
    };
    Run { events, text, err: String::from_utf8(err).expect("utf-8"), ending }
}

fn watch(snapshots: Vec<Snapshot>) -> Run {
    watch_with(Replay::new(snapshots), settings(true), false)
}

/// pid 7 "api" with `cw` CLOSE-WAIT sockets and `fds` open fds of `limit`.
fn server(secs: f64, cw: u32, fds: u32, limit: u64) -> Snapshot {
    SnapshotBuilder::new()
        .at(secs)
        .process(7, "api", fds, limit)
        .listener("0.0.0.0:80", 0, 128, 0, &[7])
        .many(cw, State::CloseWait, "10.0.0.1", "10.0.0.2:5432", &[7])
        .build()
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

#[test]
fn a_steady_close_wait_leak_is_reported_once_with_its_rate() {
    let run = watch((0..8).map(|i| server(f64::from(i) * 2.0, 10 + 2 * i, 100 + 2 * i, 65536)).collect());
    let leaks = run.findings("close_wait_leak");
    assert_eq!(leaks.len(), 1, "announced once, not every sample: {:?}", run.events);
    let again = run.announcements("close_wait_leak");
    assert_eq!(again.len(), 2, "and once more when its ETA appears at 5 samples: {again:?}");
    assert_eq!(again[1]["escalation"]["reason"], "eta_changed");
    assert!((number(&leaks[0]["evidence"]["rate_per_s"]) - 1.0).abs() < 0.01, "2 more every 2 s");
    assert_eq!(leaks[0]["subject"], "pid 7 (api)");
    assert_eq!(run.ending, Ok(Ending::Clean));
}

#[test]
fn an_fd_leak_projects_the_time_to_its_limit() {
    let run = watch((0..7).map(|i| server(f64::from(i) * 10.0, 0, 900 + 10 * i, 1024)).collect());
    let leak = run.announcements("fd_leak");
    assert_eq!(leak.len(), 2, "{:?}", run.events);
    assert!(leak[0]["evidence"]["eta_s"].is_null(), "no ETA from 3 samples");
    assert_eq!(leak[0]["severity"], "warning");
    let evidence = &leak[1]["evidence"];
    let (eta, fds) = (number(&evidence["eta_s"]), number(&evidence["fds"]));
    assert_eq!(
        (evidence["samples"].clone(), evidence["window_s"].clone()),
        (Value::from(5), Value::from(40.0))
    );
    assert!((number(&evidence["rate_per_s"]) - 1.0).abs() < 0.01, "10 fds every 10 s");
    assert!((eta - (1024.0 - fds)).abs() < 1.0, "the fds left at 1/s: {eta} s with {fds} open");
    assert_eq!(leak[1]["severity"], "critical", "the limit is under five minutes away");
    assert_eq!(leak[1]["escalation"]["reason"], "severity_rose");
    assert_eq!(leak[1]["escalation"]["was"], "warning");
}

#[test]
fn a_leak_that_reaches_its_limit_is_never_silent() {
    let run =
        watch((0..12).map(|i| server(f64::from(i) * 10.0, 0, (950 + 10 * i).min(1024), 1024)).collect());
    let leak = run.announcements("fd_leak");
    let reasons: Vec<&Value> = leak.iter().map(|e| &e["escalation"]["reason"]).collect();
    assert!(reasons.contains(&&Value::from("limit_reached")), "{reasons:?}");
    let reached = leak.iter().find(|e| e["escalation"]["reason"] == "limit_reached").expect("reached");
    assert!(
        reached["message"].as_str().unwrap_or("").contains("have reached RLIMIT_NOFILE 1024"),
        "{reached}"
    );
    let risk = run.announcements("fd_exhaustion_risk");
    let last = risk.last().expect("fd_exhaustion_risk");
    assert_eq!(last["severity"], "critical");
    assert!(last["message"].as_str().unwrap_or("").starts_with("has reached its fd limit"), "{last}");
}

#[test]
fn a_flat_but_high_close_wait_count_is_no_leak() {
    let run = watch((0..8).map(|i| server(f64::from(i) * 2.0, 40, 100, 65536)).collect());
    assert!(run.findings("close_wait_leak").is_empty());
    assert_eq!(run.findings("close_wait").len(), 1, "the snapshot finding still stands");
}

#[test]
fn findings_of_a_process_that_exits_are_resolved() {
    let mut snaps: Vec<Snapshot> =
        (0..6).map(|i| server(f64::from(i) * 2.0, 10 + 2 * i, 100 + 2 * i, 65536)).collect();
    for i in 6..9 {
        snaps.push(SnapshotBuilder::new().at(f64::from(i) * 2.0).build());
    }
    let run = watch(snaps);
    assert_eq!(run.findings("close_wait_leak").len(), 1);
    let resolved: Vec<&Value> =
        run.of("resolved").into_iter().filter(|e| e["kind"] == "close_wait_leak").collect();
    assert_eq!(resolved.len(), 1, "resolved once the process is gone: {:?}", run.events);
    assert_eq!(resolved[0]["subject"], "pid 7 (api)");
}

fn with_ghost(mut s: Snapshot, inode: u64) -> Snapshot {
    s.ghosts = Some(vec![FdRef { inode, pid: 7, fd: 9 }]);
    s
}

#[test]
fn a_ghost_counts_only_once_it_lasts_two_samples() {
    let flicker = watch(vec![
        server(0.0, 0, 10, 1024),
        with_ghost(server(2.0, 0, 10, 1024), 555),
        server(4.0, 0, 10, 1024),
    ]);
    assert!(flicker.findings("ghost_sockets").is_empty(), "a socket being created is a ghost for one sample");
    let lasting = watch((0..3).map(|i| with_ghost(server(f64::from(i) * 2.0, 0, 10, 1024), 555)).collect());
    let ghosts = lasting.findings("ghost_sockets");
    assert_eq!(ghosts.len(), 1);
    assert_eq!(ghosts[0]["evidence"]["ghost_sockets"], 1);
}

fn with_never_connected(mut s: Snapshot, inode: u64) -> Snapshot {
    s.never_connected = Some(vec![FdRef { inode, pid: 7, fd: 10 }]);
    s
}

#[test]
fn a_never_connected_socket_is_information_not_a_leak() {
    let snaps: Vec<Snapshot> =
        (0..3).map(|i| with_never_connected(server(f64::from(i) * 2.0, 0, 10, 1024), 777)).collect();
    let mut s = settings(true);
    s.fail_on = Some(FailOn::Leak);
    let run = watch_with(Replay::new(snaps), s, false);
    let found = run.findings("never_connected_sockets");
    assert_eq!(found.len(), 1, "{:?}", run.events);
    assert_eq!(
        (found[0]["severity"].clone(), found[0]["evidence"]["never_connected"].clone()),
        ("info".into(), 1.into())
    );
    assert!(run.findings("ghost_sockets").is_empty(), "no dead connection");
    assert!(run.summary()["leaks"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(run.ending, Ok(Ending::Clean), "--fail-on leak: an unused socket is no leak");
}

#[test]
fn fail_on_leak_ends_with_status_three_only_after_a_leak() {
    let leaking: Vec<Snapshot> = (0..8).map(|i| server(f64::from(i) * 2.0, 10 + 2 * i, 100, 65536)).collect();
    let mut s = settings(true);
    s.fail_on = Some(FailOn::Leak);
    assert_eq!(watch_with(Replay::new(leaking), s, false).ending, Ok(Ending::FailOn));
    let steady: Vec<Snapshot> = (0..8).map(|i| server(f64::from(i) * 2.0, 10, 100, 65536)).collect();
    let mut s = settings(true);
    s.fail_on = Some(FailOn::Leak);
    assert_eq!(watch_with(Replay::new(steady), s, false).ending, Ok(Ending::Clean));
}

#[test]
fn a_failed_collection_mid_run_is_a_warning_and_the_watch_goes_on() {
    let source =
        Replay::new([server(0.0, 1, 10, 1024)]).then_fail("dump interrupted").then(server(2.0, 1, 10, 1024));
    let run = watch_with(source, settings(true), false);
    assert!(run.err.contains("collection failed: dump interrupted"), "{}", run.err);
    assert_eq!(run.of("sample").len(), 2);
    assert_eq!(run.summary()["samples"], 2);
}

#[test]
fn a_first_collection_that_fails_is_an_error() {
    let run =
        watch_with(Replay::default().then_fail("cannot enter network namespace blue"), settings(true), false);
    assert_eq!(run.ending, Err("cannot enter network namespace blue".to_string()));
}

#[test]
fn count_bounds_the_run_even_when_every_collection_fails() {
    let mut source = Replay::new([server(0.0, 1, 10, 1024)]);
    for _ in 0..50 {
        source = source.then_fail("the target namespace is gone");
    }
    let mut s = settings(true);
    s.count = Some(5);
    let run = watch_with(source, s, false);
    assert_eq!(run.ending, Ok(Ending::Clean));
    assert_eq!(run.summary()["samples"], 1, "one good sample of five ticks");
}

#[test]
fn a_repeated_failure_is_said_once_then_counted() {
    let mut source = Replay::new([server(0.0, 1, 10, 1024)]);
    for _ in 0..6 {
        source = source.then_fail("the target namespace is gone");
    }
    let run = watch_with(source, settings(true), false);
    let lines: Vec<&str> = run.err.lines().collect();
    assert_eq!(
        lines,
        [
            "sockscope: warning: collection failed: the target namespace is gone",
            "sockscope: warning: collection failed: the target namespace is gone (repeated 5 more times, not shown)",
        ],
        "{}",
        run.err
    );
}

#[test]
fn a_snapshot_warning_repeated_every_sample_is_said_once() {
    let noisy = |secs| {
        let mut s = server(secs, 1, 10, 1024);
        s.warnings
            .push(crate::model::Warning::new(crate::model::WarningKind::DumpInterrupted, "dump interrupted"));
        s
    };
    let run = watch((0..4).map(|i| noisy(f64::from(i))).collect());
    assert_eq!(run.err.lines().filter(|l| l.contains("dump interrupted")).count(), 2, "{}", run.err);
    assert!(run.err.contains("(repeated 3 more times, not shown)"), "{}", run.err);
}

#[test]
fn a_changed_namespace_is_an_event_and_trends_start_over() {
    let mut moved = server(4.0, 5, 14, 1024);
    moved.netns =
        crate::model::NetnsInfo { label: Some("blue".into()), inode: Some(22), changed_from: Some(11) };
    let before: Vec<Snapshot> = (0..3).map(|i| server(f64::from(i), 1 + i, 10 + i, 1024)).collect();
    let run = watch(before.into_iter().chain([moved]).collect());
    let changed = run.of("netns_changed");
    assert_eq!(changed.len(), 1);
    assert_eq!(
        (changed[0]["netns"].clone(), changed[0]["from"].clone(), changed[0]["to"].clone()),
        ("blue".into(), 11.into(), 22.into())
    );
    assert!(run.findings("close_wait_leak").is_empty(), "growth across two namespaces is no trend");
}

#[test]
fn a_stop_request_ends_the_watch_with_a_summary() {
    let snaps: Vec<Snapshot> = (0..5).map(|i| server(f64::from(i), 1, 10, 1024)).collect();
    let run = watch_with(Replay::new(snaps), settings(true), true);
    assert_eq!(run.of("sample").len(), 1, "stopped after the first sample");
    assert_eq!(run.summary()["samples"], 1);
}

#[test]
fn only_the_listener_whose_drops_rise_overflows() {
    let snaps = (0..4)
        .map(|i| {
            SnapshotBuilder::new()
                .at(f64::from(i) * 2.0)
                .listener("0.0.0.0:80", 5, 4, 10 + 7 * i, &[])
                .listener("0.0.0.0:81", 0, 128, 3, &[])
                .build()
        })
        .collect();
    let run = watch(snaps);
    let overflow = run.findings("listen_overflow");
    assert_eq!(overflow.len(), 1, "{:?}", run.events);
    assert_eq!(overflow[0]["subject"], "tcp 0.0.0.0:80");
    assert_eq!(overflow[0]["severity"], "critical", "its queue is full (5 > 4)");
}

#[test]
fn time_wait_churn_projects_when_the_port_range_runs_out() {
    let snaps = (0..5)
        .map(|i| {
            SnapshotBuilder::new()
                .at(f64::from(i))
                .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![40000, 40999]))
                .sysctl("net.ipv4.tcp_tw_reuse", SysctlValue::Int(0))
                .many(20 * (i + 1), State::TimeWait, "10.0.0.1", "10.0.0.9:443", &[])
                .build()
        })
        .collect();
    let run = watch(snaps);
    let churn = run.findings("time_wait_churn");
    assert_eq!(churn.len(), 1, "{:?}", run.events);
    assert_eq!(churn[0]["severity"], "critical", "1200 ports a minute, 1000 in range");
    let last = run.announcements("time_wait_churn").pop().expect("churn");
    assert!(last["evidence"]["eta_s"].is_number(), "an ETA once 5 samples exist: {last}");
}

#[test]
fn the_summary_reports_what_grew_from_first_to_last_sample() {
    let run = watch((0..6).map(|i| server(f64::from(i) * 2.0, 10 + 2 * i, 100 + 2 * i, 65536)).collect());
    let grew = run.summary()["grew"].as_array().expect("grew").clone();
    let cw = grew.iter().find(|g| g["what"] == "CLOSE-WAIT").expect("CLOSE-WAIT grew");
    assert_eq!((cw["from"].clone(), cw["to"].clone()), (Value::from(10), Value::from(20)));
    assert_eq!(number(&cw["rate_per_s"]), 1.0, "10 more over the 10 s between its first and last sample");
}

/// Connections a listener dropped during the watch are in the summary,
/// even when no process grew.
#[test]
fn the_summary_names_listeners_that_dropped_connections() {
    let drops = [21, 21, 23, 24];
    let snaps = drops.iter().enumerate().map(|(i, &d)| {
        SnapshotBuilder::new()
            .at(i as f64)
            .process(7, "api", 20, 1024)
            .listener("127.0.0.1:8080", 0, 4, d, &[7])
            .listener("127.0.0.1:9090", 0, 4, 5, &[7])
            .build()
    });
    let text = watch_with(Replay::new(snaps.clone()), settings(false), false).text;
    assert!(text.contains("dropped tcp 127.0.0.1:8080  drops 21 → 24 (+3)"), "{text}");
    assert!(!text.contains("dropped tcp 127.0.0.1:9090"), "{text}");
    let run = watch_with(Replay::new(snaps), settings(true), false);
    let dropped = run.summary()["dropped"].as_array().expect("dropped").clone();
    assert_eq!(dropped.len(), 1);
    assert_eq!((dropped[0]["from"].clone(), dropped[0]["to"].clone()), (Value::from(21), Value::from(24)));
}

#[test]
fn quiet_intervals_print_a_heartbeat_for_humans() {
    let mut s = settings(false);
    s.heartbeat = 2;
    let run = watch_with(Replay::new((0..5).map(|i| server(f64::from(i), 1, 10, 1024))), s, false);
    assert_eq!(run.text.matches("no change").count(), 2, "{}", run.text);
}

#[test]
fn the_summary_keeps_the_peak_queue_not_the_last_one() {
    let depth = [0, 3, 5, 2, 0];
    let snaps = depth.iter().enumerate().map(|(i, &q)| {
        SnapshotBuilder::new()
            .at(i as f64)
            .process(7, "api", 100 + q * 10, 1024)
            .listener("127.0.0.1:8080", q, 4, 0, &[7])
            .build()
    });
    let run = watch_with(Replay::new(snaps), settings(true), false);
    let peaks = run.summary()["peak_queues"].as_array().expect("peak_queues").clone();
    assert_eq!(peaks.len(), 1);
    assert_eq!(
        (peaks[0]["accept_queue"].clone(), peaks[0]["full"].clone()),
        (Value::from(5), Value::from(true))
    );
    assert_eq!(run.summary()["peak_fds"][0]["fds"], 150, "the highest fd count, not the last (100)");
}

#[test]
fn syn_cookie_counters_move_in_the_kernel_line() {
    let snaps = (0..3).map(|i| {
        SnapshotBuilder::new()
            .at(f64::from(i))
            .counter("TcpExt", "SyncookiesSent", 100 + 40 * i64::from(i))
            .build()
    });
    let run = watch_with(Replay::new(snaps), settings(false), false);
    assert!(run.text.contains("kernel  SyncookiesSent +40"), "{}", run.text);
}

/// Watch leaves itself out: its own fd count moves with its own scans.
#[test]
fn watch_does_not_report_on_itself() {
    let me = std::process::id();
    let snaps = (0..3).map(|i| {
        SnapshotBuilder::new()
            .at(f64::from(i))
            .process(me, "sockscope", 8 + i, 1024)
            .tcp(State::Established, "127.0.0.1:5000", "127.0.0.1:6000", &[me])
            .process(7, "api", 10 + i, 1024)
            .tcp(State::Established, "127.0.0.1:5001", "127.0.0.1:6001", &[7])
            .build()
    });
    let text = watch_with(Replay::new(snaps), settings(false), false).text;
    assert!(text.contains("pid 7 api"), "{text}");
    assert!(!text.contains(&format!("pid {me} ")), "{text}");
}

/// `--all-netns`: a listen overflow in a pod's namespace moves that
/// namespace's counters, and the kernel line names the pod; namespaces whose
/// counters stay put say nothing.
#[test]
fn other_namespaces_counters_move_in_their_own_kernel_line() {
    use crate::model::{NetnsLabels, Pod};
    let pod = Pod { namespace: Some("shop".into()), name: Some("cart-7f9".into()), uid: "0c3e".into() };
    let snaps = (0..3).map(|i| {
        SnapshotBuilder::new()
            .at(f64::from(i))
            .namespace(4026531840, NetnsLabels::default())
            .netns_counter("TcpExt", "ListenOverflows", 5)
            .namespace(4026532300, NetnsLabels { pod: Some(pod.clone()), ..NetnsLabels::default() })
            .netns_counter("TcpExt", "ListenOverflows", 10 + 3 * i64::from(i))
            .namespace(4026532400, NetnsLabels { name: Some("blue".into()), ..NetnsLabels::default() })
            .netns_counter("TcpExt", "ListenOverflows", 7)
            .build()
    });
    let text = watch_with(Replay::new(snaps.clone()), settings(false), false).text;
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("kernel")).collect();
    assert_eq!(lines.len(), 2, "one line per sample after the first: {text}");
    assert!(lines.iter().all(|l| l.contains("ListenOverflows +3") && l.contains("cart-7f9")), "{text}");
    assert!(!text.contains("blue"), "a namespace whose counters did not move: {text}");

    let run = watch_with(Replay::new(snaps), settings(true), false);
    let samples = run.of("sample");
    assert!(samples[0].get("netns_counters").is_none(), "nothing moved at the first sample");
    let moved = samples[1]["netns_counters"].as_array().expect("netns_counters");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["netns"]["inode"], 4026532300u64);
    assert_eq!(moved[0]["counters"]["TcpExt"]["ListenOverflows"]["delta"], 3);
    assert_eq!(moved[0]["counters"]["TcpExt"]["ListenOverflows"]["value"], 13);
}

#[test]
fn trends_name_only_processes_of_the_inspected_namespace() {
    const WATCHED: u64 = 4_026_532_999;
    const HOST: u64 = 4_026_531_840;
    let snaps = (0..7).map(|i| {
        SnapshotBuilder::new()
            .at(f64::from(i) * 10.0)
            .netns(WATCHED)
            .process(1, "host-daemon", 900 + 10 * i, 1024)
            .in_netns(1, HOST)
            .process(7, "app", 500 + 10 * i, 1024)
            .in_netns(7, WATCHED)
            .build()
    });
    let run = watch_with(Replay::new(snaps), settings(true), false);
    let leaks: Vec<&Value> = run.findings("fd_leak");
    assert_eq!(leaks.len(), 1, "{:?}", run.events);
    assert_eq!(leaks[0]["subject"], "pid 7 (app)", "the host daemon leaks elsewhere");
}

/// A snapshot whose collection took `collect_ms` (scripted cost).
fn costing(secs: f64, collect_ms: u64) -> Snapshot {
    let mut s = server(secs, 0, 10, 1024);
    s.timings.total = Duration::from_millis(collect_ms);
    s
}

#[test]
fn an_expensive_collection_stretches_the_interval_and_says_so() {
    let mut settings = settings(true);
    settings.interval = Duration::from_millis(20);
    let script = [costing(0.0, 1), costing(1.0, 30), costing(2.0, 31), costing(3.0, 1)];
    let started = std::time::Instant::now();
    let run = watch_with(Replay::new(script), settings, false);
    let paces = run.of("pace");
    assert_eq!(paces.len(), 2, "{paces:?}");
    assert_eq!(paces[0]["stretched"], true);
    assert!(paces[0]["interval_ms"].as_f64().unwrap() >= 150.0, "5 x 30 ms: {}", paces[0]);
    assert_eq!(paces[0]["asked_ms"], 20.0);
    assert_eq!(paces[1]["stretched"], false);
    assert_eq!(paces[1]["interval_ms"], 20.0);
    assert!(started.elapsed() >= Duration::from_millis(300), "two stretched waits of >= 150 ms each");
}

#[test]
fn a_stretched_interval_is_a_line_for_humans() {
    let mut settings = settings(false);
    settings.interval = Duration::from_millis(10);
    let run = watch_with(Replay::new([costing(0.0, 1), costing(1.0, 40), costing(2.0, 1)]), settings, false);
    assert!(run.text.contains("interval stretched to 200ms: a refresh costs"), "{}", run.text);
    assert!(run.text.contains("interval back to 10ms"), "{}", run.text);
}

/// A process name with a terminal escape: the JSON carries it as the kernel
/// has it (JSON escapes it), the same in `owners` and in `comm`, so the two
/// can be joined; the text lines escape it for the terminal.
#[test]
fn names_are_raw_in_json_and_escaped_in_text() {
    let evil = "\u{1b}[31mevil";
    let snap = |secs| {
        SnapshotBuilder::new()
            .at(secs)
            .process(7, evil, 10, 1024)
            .listener("0.0.0.0:80", 0, 128, 0, &[7])
            .build()
    };
    let run = watch(vec![snap(0.0), snap(1.0)]);
    let sample = run.of("sample")[0];
    assert_eq!(sample["listeners"][0]["owners"], format!("{evil}(7)"), "{sample}");
    assert_eq!(sample["processes"][0]["comm"], evil, "{sample}");
    let text = watch_with(Replay::new(vec![snap(0.0), snap(1.0)]), settings(false), false).text;
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("\\x1b[31mevil(7)"), "{text}");
}

/// `watch -l` follows listeners: a process that leaks fds but holds no
/// listener is outside the selection, and so are its trend findings.
#[test]
fn trends_of_processes_outside_the_selection_are_left_out() {
    let snaps: Vec<Snapshot> = (0..7)
        .map(|i| {
            SnapshotBuilder::new()
                .at(f64::from(i) * 10.0)
                .process(7, "api", 20, 1024)
                .listener("0.0.0.0:80", 0, 128, 0, &[7])
                .process(9, "client", 900 + 10 * i, 1024)
                .many(3, State::Established, "10.0.0.1", "10.0.0.2:443", &[9])
                .build()
        })
        .collect();
    let everything = watch(snaps.clone());
    assert!(!everything.announcements("fd_leak").is_empty(), "without a selection the leak is reported");
    let mut listening = settings(true);
    listening.selection = Selection { listening: true, ..Selection::all() };
    let run = watch_with(Replay::new(snaps), listening, false);
    assert!(run.announcements("fd_leak").is_empty(), "{:?}", run.events);
}

/// A tracked process that exits, one that lets go of its selected sockets,
/// and a listener that closes are each said once, in the sample where they
/// went (text and JSON), instead of silently dropping out of the lines.
#[test]
fn processes_and_listeners_that_go_are_said_so() {
    let before = SnapshotBuilder::new()
        .at(0.0)
        .process(7, "api", 20, 1024)
        .listener("0.0.0.0:80", 0, 128, 0, &[7])
        .process(9, "client", 30, 1024)
        .many(2, State::Established, "10.0.0.1", "10.0.0.2:443", &[9])
        .process(11, "batch", 30, 1024)
        .many(1, State::Established, "10.0.0.3", "10.0.0.2:443", &[11])
        .build();
    let after = |secs| {
        SnapshotBuilder::new()
            .at(secs)
            .process(7, "api", 20, 1024)
            .process(11, "batch", 30, 1024)
            .many(1, State::Established, "10.0.0.3", "10.0.0.9:22", &[11])
            .build()
    };
    let mut by_port = settings(true);
    by_port.selection = Selection { port: Some(443), ..Selection::all() };
    let run = watch_with(Replay::new(vec![before.clone(), after(1.0), after(2.0)]), by_port, false);
    let samples = run.of("sample");
    let gone = &samples[1]["gone_processes"];
    assert_eq!(gone[0]["pid"], 9, "{gone}");
    assert_eq!(gone[0]["reason"], "exited");
    assert_eq!(gone[1]["pid"], 11);
    assert_eq!(gone[1]["reason"], "no_selected_socket");
    assert!(samples[2].get("gone_processes").is_none(), "said once: {}", samples[2]);

    let run = watch_with(Replay::new(vec![before, after(1.0)]), settings(false), false);
    assert!(run.text.contains("pid 9 client exited"), "{}", run.text);
    assert!(run.text.contains("tcp 0.0.0.0:80 closed"), "{}", run.text);
}
