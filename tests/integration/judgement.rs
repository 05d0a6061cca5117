//! Judgements at the moment of failure, against real processes failing in
//! real ways: an owner stopped with SIGSTOP, an owner at its RLIMIT_NOFILE,
//! connections waiting in an accept queue, TIME-WAIT under `tcp_tw_reuse`,
//! a steady close rate, a steady fd leak, never-connected sockets beside
//! reset ones. Numbers are checked against `ss`, `/proc` and the actors' own
//! clocks; findings against the kernel facts in docs/findings.md.

use std::net::SocketAddr;
use std::process::Command;

use serde_json::Value;
use sockscope::analyze::evidence::Stall;
use sockscope::analyze::{Evidence, Finding, FindingKind, Listener, Severity, Thresholds};
use sockscope::model::{RunState, Snapshot};

use crate::support::actors::{self, Actor};
use crate::support::{self, Lab, connect_nonblocking, eventually, ss};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

fn dump_json(lab: &Lab, args: &[&str]) -> Value {
    let out = Command::new(BIN).args(["dump", "--json"]).args(args).args(lab.netns_args()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn listener_on(lab: &Lab, port: u16) -> (Snapshot, Listener) {
    let (snapshot, analysis) = lab.analyze(&Thresholds::default());
    let l = analysis.listeners.into_iter().find(|l| l.local.port() == Some(port)).expect("the listener");
    (snapshot, l)
}

/// Waits until the listener on `port` holds `queued` connections in its queue.
fn queue_of(lab: &Lab, port: u16, queued: u32) -> (Snapshot, Listener) {
    eventually(&format!("{queued} connections queued on port {port}"), || {
        let (snapshot, l) = listener_on(lab, port);
        match l.accept_queue == queued && l.queued == queued {
            true => Ok((snapshot, l)),
            false => Err(format!("Recv-Q {} and {} queued rows", l.accept_queue, l.queued)),
        }
    })
}

/// The finding of `kind` about the listener on `port`.
fn finding(findings: &[Finding], kind: FindingKind, port: u16) -> Option<&Finding> {
    findings.iter().find(|f| f.kind() == kind && f.subject.port() == Some(port))
}

fn json_listener(doc: &Value, port: u16) -> Value {
    let local = format!("127.0.0.1:{port}");
    let all = doc["listeners"].as_array().expect("listeners");
    all.iter().find(|l| l["local"] == local.as_str()).cloned().expect("our listener in JSON")
}

fn json_process(doc: &Value, pid: u32) -> Value {
    let all = doc["processes"].as_array().expect("processes");
    all.iter().find(|p| p["pid"] == pid).cloned().expect("our actor in JSON")
}

#[test]
fn a_stopped_owner_is_seen_stopped_and_its_waiting_clients_belong_to_its_listener() {
    let lab = Lab::new("stopped_owner");
    let mut server = Actor::start(&lab, "accepting_server", &[("BACKLOG", "4".into())]);
    let port = server.port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    server.signal(libc::SIGSTOP);
    server.wait_until_all('T');
    let mut clients: Vec<socket2::Socket> = lab.run(|| (0..20).map(|_| connect_nonblocking(addr)).collect());
    let (snapshot, l) = queue_of(&lab, port, 5);
    assert_eq!(snapshot.processes[&server.pid()].state, Some(RunState::Stopped));
    assert!(l.full, "5 waiting, backlog 4");
    assert_eq!(l.queued_close_wait, 0);
    let analysis = sockscope::analyze::analyze(&snapshot, &Thresholds::default());
    let stalled = finding(&analysis.findings, FindingKind::AcceptStalled, port).expect("accept_stalled");
    assert_eq!(stalled.severity, Severity::Critical, "full and nobody can accept");
    let Evidence::AcceptStalled(e) = &stalled.evidence else { panic!("{stalled:?}") };
    assert_eq!((e.owners.len(), e.owners[0].pid, e.owners[0].stall), (1, server.pid(), Stall::Stopped));
    assert_eq!(e.owners[0].state, Some(RunState::Stopped));
    let said = sockscope::output::wording::message(stalled);
    assert!(said.contains(&format!("pid {} (", server.pid())) && said.contains("is stopped (T)"), "{said}");
    // The clients the full queue refused sit in SYN-SENT: the pile-up names the listener.
    let pileup = analysis.findings.iter().find(|f| f.kind() == FindingKind::SynSentPileup).expect("pile-up");
    let Evidence::SynSentPileup(p) = &pileup.evidence else { panic!("{pileup:?}") };
    let here = p.local_listener.as_ref().expect("the destination is this namespace's listener");
    assert_eq!((here.local, here.full), (addr, true));
    assert!(sockscope::output::wording::message(pileup).contains("whose accept queue is full (5/4)"));
    if ss::available() {
        let rows = ss::rows(&lab, "-tu", &[&format!("sport = :{port}")]);
        let estab_inode0 = rows.iter().filter(|r| r.state == "ESTAB" && r.inode == 0).count();
        assert_eq!(estab_inode0 as u32, l.queued, "ss shows the same waiting connections: {rows:?}");
    }

    // The first client gives up: its queued connection turns CLOSE-WAIT.
    drop(clients.remove(0));
    let (snapshot, l) = eventually("a queued connection in CLOSE-WAIT", || {
        let (snapshot, l) = listener_on(&lab, port);
        match l.queued_close_wait {
            1 => Ok((snapshot, l)),
            n => Err(format!("{n} queued in CLOSE-WAIT")),
        }
    });
    assert_eq!(l.queued, 5, "still waiting for accept()");
    let analysis =
        sockscope::analyze::analyze(&snapshot, &Thresholds { close_wait: 1, ..Thresholds::default() });
    let blamed = analysis.findings.iter().filter(|f| f.subject == sockscope::analyze::Subject::Host).count();
    assert_eq!(blamed, 0, "a queued CLOSE-WAIT is no unseen owner's: {:?}", analysis.findings);

    let doc = dump_json(&lab, &[]);
    let listener = json_listener(&doc, port);
    assert_eq!((&listener["queued"], &listener["queued_close_wait"]), (&Value::from(5), &Value::from(1)));
    assert_eq!(listener["owners"][0]["state"], "T", "{listener}");
    assert_eq!(json_process(&doc, server.pid())["state"], "T");

    // Running again, it drains its queue: nothing waits, nothing is stopped.
    server.signal(libc::SIGCONT);
    let (snapshot, _) = queue_of(&lab, port, 0);
    assert_ne!(snapshot.processes[&server.pid()].state, Some(RunState::Stopped));
    let analysis = sockscope::analyze::analyze(&snapshot, &Thresholds::default());
    assert!(finding(&analysis.findings, FindingKind::AcceptStalled, port).is_none(), "no wolf once it runs");
}

#[test]
fn an_owner_at_its_fd_limit_is_seen_at_it_while_its_queue_fills() {
    let lab = Lab::new("emfile_owner");
    let mut server = Actor::start(&lab, "fd_exhausted_server", &[("LIMIT", "32".into())]);
    let port = server.port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _clients: Vec<socket2::Socket> = lab.run(|| (0..8).map(|_| connect_nonblocking(addr)).collect());
    server.expect("EMFILE");
    let (snapshot, l) = queue_of(&lab, port, 5);
    let owner = &snapshot.processes[&server.pid()];
    assert_eq!(owner.fd_limit.and_then(|l| l.value()), Some(32));
    assert!(owner.fd_count.is_some_and(|n| n >= 32), "every fd number below 32 in use: {:?}", owner.fd_count);
    assert!(owner.at_fd_limit());
    assert!(!owner.state.is_some_and(RunState::cannot_run), "it runs, and cannot accept: {:?}", owner.state);
    assert!(l.full);
    let analysis = sockscope::analyze::analyze(&snapshot, &Thresholds::default());
    let stalled = finding(&analysis.findings, FindingKind::AcceptStalled, port).expect("accept_stalled");
    let Evidence::AcceptStalled(e) = &stalled.evidence else { panic!("{stalled:?}") };
    assert_eq!((e.owners[0].stall, e.owners[0].fd_limit), (Stall::FdLimit, Some(32)));
    assert!(sockscope::output::wording::message(stalled).contains("accept() fails with EMFILE"));
    let risk = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::FdExhaustionRisk && f.subject.pids() == [server.pid()]);
    let risk = risk.expect("fd_exhaustion_risk for the server");
    assert_eq!(risk.severity, Severity::Critical);
    let said = sockscope::output::wording::message(risk);
    assert!(said.starts_with("has reached its fd limit"), "{said}");
}

#[test]
fn unix_listeners_have_no_drop_count_to_show() {
    let lab = Lab::new("unix_drops");
    let path = std::env::temp_dir().join(format!("sockscope-drops-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let _listener = lab.run(|| std::os::unix::net::UnixListener::bind(&path).unwrap());
    let doc = dump_json(&lab, &["-x", "-l"]);
    let ours = doc["listeners"].as_array().unwrap().iter().find(|l| l["local"] == path.to_str().unwrap());
    let ours = ours.expect("our unix listener");
    assert!(ours["drops"].is_null(), "{ours}");
    let text = Command::new(BIN).args(["dump", "-x", "-l"]).args(lab.netns_args()).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let row = text.lines().find(|l| l.contains(path.to_str().unwrap()) && l.starts_with("u_str")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[5], "-", "the Drops column: {row}");
    let _ = std::fs::remove_file(&path);
}

/// `dump --sockets -i` prints what `ss -tim` prints for the fields both show.
#[test]
fn socket_details_read_like_ss() {
    if !ss::available() {
        support::loud("SKIPPED socket_details_read_like_ss: ss is not installed (CI installs iproute2)");
        return;
    }
    let lab = Lab::new("socket_details");
    let (listener, client, server) = lab.run(|| {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(&[7u8; 1000]).unwrap();
        server.read_exact(&mut [0u8; 1000]).unwrap();
        (listener, client, server)
    });
    let port = listener.local_addr().unwrap().port().to_string();
    let stable = [
        "mss:",
        "pmtu:",
        "rcvmss:",
        "bytes_sent:",
        "bytes_acked:",
        "bytes_received:",
        "segs_out:",
        "segs_in:",
    ];
    let pick = |line: &str| -> Vec<String> {
        let words = line.split_whitespace();
        words.filter(|w| stable.iter().any(|k| w.starts_with(k))).map(str::to_string).collect()
    };
    eventually("sockscope and ss to print the same details", || {
        let ours = Command::new(BIN)
            .args(["dump", "--sockets", "-i", "-t", "--state", "established", "--port", &port])
            .args(lab.netns_args())
            .output()
            .unwrap();
        let ours = String::from_utf8(ours.stdout).unwrap();
        let theirs = lab.run(|| {
            let filter = format!("sport = :{port}");
            Command::new("ss").args(["-Htinm", "state", "established", &filter]).output().unwrap()
        });
        let theirs = String::from_utf8(theirs.stdout).unwrap();
        let ours: Vec<Vec<String>> = ours.lines().filter(|l| l.starts_with('\t')).map(pick).collect();
        let server_side: Vec<Vec<String>> =
            theirs.lines().filter(|l| l.starts_with('\t')).map(pick).collect();
        match ours.iter().any(|o| server_side.contains(o)) && !server_side.is_empty() {
            true => Ok(()),
            false => Err(format!("ours {ours:?} vs ss {server_side:?}")),
        }
    });
    drop((client, server));
}

/// Runs `sockscope watch --json` against the lab; returns its events.
fn watch_json(lab: &Lab, args: &[&str]) -> Vec<Value> {
    let out = Command::new(BIN).args(["watch", "--json"]).args(args).args(lab.netns_args()).output().unwrap();
    assert!(out.status.success() || out.status.code() == Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// Closes connections towards `server` at a steady `per_second` on a thread
/// in the lab (the client closes first, so TIME-WAIT is on its side) while
/// `work` runs; returns what `work` returned and when each close completed.
fn closing_steadily<T>(
    lab: &Lab,
    listener: &std::net::TcpListener,
    per_second: f64,
    work: impl FnOnce() -> T,
) -> (T, Vec<std::time::SystemTime>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    let addr = listener.local_addr().unwrap();
    std::thread::scope(|scope| {
        let generator = scope.spawn(|| {
            lab.run(|| {
                let period = std::time::Duration::from_secs_f64(1.0 / per_second);
                let start = std::time::Instant::now();
                let mut closed = Vec::new();
                for n in 1u32.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Ok(client) = std::net::TcpStream::connect(addr) {
                        let (server, _) = listener.accept().unwrap();
                        drop(client);
                        drop(server);
                        closed.push(std::time::SystemTime::now());
                    }
                    std::thread::sleep(
                        (start + period * n).saturating_duration_since(std::time::Instant::now()),
                    );
                }
                closed
            })
        });
        let result = work();
        stop.store(true, Ordering::Relaxed);
        (result, generator.join().unwrap())
    })
}

/// The TIME-WAIT churn rate, dated by the TIME-WAIT timers, is the rate at
/// which connections really close (within 15 %).
#[test]
fn time_wait_churn_measures_the_true_close_rate() {
    if support::skip_unless_root("time_wait_churn_measures_the_true_close_rate", "per-namespace port range") {
        return;
    }
    let lab = Lab::new("churn_rate");
    lab.sysctl("net.ipv4.ip_local_port_range", "40000 41999");
    lab.sysctl("net.ipv4.tcp_tw_reuse", "0");
    let listener = lab.run(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    const RATE: f64 = 50.0;
    let ((events, started, ended), closes) = closing_steadily(&lab, &listener, RATE, || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let started = std::time::SystemTime::now();
        let events = watch_json(&lab, &["--interval", "500ms", "--count", "16"]);
        (events, started, std::time::SystemTime::now())
    });
    let summary = events.last().unwrap();
    let churn = summary["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "time_wait_churn");
    let churn = churn.unwrap_or_else(|| panic!("no time_wait_churn: {summary:#}"));
    assert_eq!(churn["subject"], addr.to_string());
    assert_eq!(churn["severity"], "critical", "3000 ports a minute, 2000 in the range, no reuse");
    // The rate is judged over the window ending at the last sample: count the
    // closes that really happened in exactly that window.
    let last = events.iter().rev().find(|e| e["type"] == "sample").expect("a sample");
    let end = epoch_s(last["time"].as_str().unwrap());
    let window = churn["evidence"]["window_s"].as_f64().unwrap();
    let in_window = |t: &&std::time::SystemTime| {
        let t = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        t > end - window && t <= end
    };
    let within = closes.iter().filter(in_window).count();
    let true_rate = within as f64 / window;
    let measured = churn["evidence"]["rate_per_s"].as_f64().unwrap();
    let error = (measured - true_rate).abs() / true_rate;
    let (span, whole) = (ended.duration_since(started).unwrap().as_secs_f64(), closes.len());
    eprintln!(
        "churn: measured {measured:.2}/s, true {true_rate:.2}/s ({within} closes in the {window:.2} s window; \
         {whole} in {span:.1} s overall): error {:.1} %",
        error * 100.0
    );
    assert!(error <= 0.15, "measured {measured}/s against a true {true_rate}/s");
}

/// A steady fd leak: the ETA to RLIMIT_NOFILE is within 25 % of the real
/// time the process took to get there, from every announcement.
#[test]
fn fd_leak_eta_is_within_a_quarter_of_the_real_time_to_the_limit() {
    let lab = Lab::new("fd_leak_eta");
    const RATE: f64 = 20.0;
    let mut leaker = Actor::start(&lab, "fd_leaker", &[("LIMIT", "400".into()), ("RATE", RATE.to_string())]);
    let ready = leaker.expect("READY");
    let (fds0, t0) = (actors::field(&ready, "fds"), actors::field(&ready, "at"));
    let pid = leaker.pid().to_string();
    let events = watch_json(&lab, &["--interval", "500ms", "--count", "48", "--pid", &pid]);
    let limit_line = leaker.expect("LIMIT");
    let t_limit = actors::field(&limit_line, "at");
    let leaks: Vec<&Value> =
        events.iter().filter(|e| e["type"] == "finding" && e["kind"] == "fd_leak").collect();
    assert!(!leaks.is_empty(), "{events:#?}");
    for leak in &leaks {
        let evidence = &leak["evidence"];
        let samples = evidence["samples"].as_u64().unwrap();
        assert!(evidence["eta_s"].is_null() || samples >= 5, "no ETA before 5 samples: {leak}");
        assert!(
            evidence["window_s"].as_f64().unwrap() > 0.0 && evidence["rate_per_s"].as_f64().unwrap() > 0.0
        );
    }
    assert!(leaks.iter().any(|l| l["evidence"]["eta_s"].is_number()), "an ETA was announced: {leaks:#?}");
    let reached = leaks.iter().find(|l| l["escalation"]["reason"] == "limit_reached");
    let reached = reached.unwrap_or_else(|| panic!("the limit reached is announced: {leaks:#?}"));
    assert!(reached["message"].as_str().unwrap().contains("have reached RLIMIT_NOFILE 400"), "{reached}");
    let projections =
        leaks.iter().filter(|l| l["evidence"]["eta_s"].is_number() && l["evidence"]["fds"] != 400);
    for leak in projections {
        let fds = leak["evidence"]["fds"].as_f64().unwrap();
        let eta = leak["evidence"]["eta_s"].as_f64().unwrap();
        // The leaker opens RATE fds a second from t0: it had `fds` open at t_fds.
        let t_fds = t0 + (fds - fds0) / RATE * 1000.0;
        let real = (t_limit - t_fds) / 1000.0;
        let error = (eta - real).abs() / real;
        eprintln!("fd_leak ETA {eta:.1} s at {fds} fds, real {real:.1} s: error {:.1} %", error * 100.0);
        assert!(error <= 0.25, "ETA {eta} s, real {real} s: {leak}");
    }
}

/// A listener that keeps completed handshakes as SYN-RECV rows until data
/// arrives (TCP_DEFER_ACCEPT): a real, lasting SYN queue.
fn deferring_listener(backlog: i32) -> socket2::Socket {
    use std::os::fd::AsRawFd;
    let l = support::tcp_listener("127.0.0.1:0", backlog);
    let secs: libc::c_int = 30;
    // SAFETY: setsockopt with a correctly sized int option on a socket we own.
    let rc = unsafe {
        libc::setsockopt(
            l.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    l
}

/// The kernel holds a listener's SYN queue to the backlog it got at
/// `listen()` (plus one), whatever `somaxconn` says now; so does sockscope.
#[test]
fn the_syn_queue_is_judged_against_the_listeners_own_backlog() {
    if support::skip_unless_root("the_syn_queue_is_judged_against_the_listeners_own_backlog", "sysctls") {
        return;
    }
    let lab = Lab::new("syn_queue_backlog");
    lab.sysctl("net.ipv4.tcp_syncookies", "0");
    let (full, calm) = lab.run(|| (deferring_listener(16), deferring_listener(16)));
    lab.sysctl("net.core.somaxconn", "4");
    let (full_addr, calm_addr) = (support::local_addr(&full), support::local_addr(&calm));
    let _a: Vec<_> = lab.run(|| (0..24).map(|_| connect_nonblocking(full_addr)).collect());
    let _b: Vec<_> = lab.run(|| (0..10).map(|_| connect_nonblocking(calm_addr)).collect());
    let (snapshot, analysis) = eventually("17 and 10 half-open connections", || {
        let (snapshot, analysis) = lab.analyze(&Thresholds::default());
        let count =
            |port| analysis.listeners.iter().find(|l| l.local.port() == Some(port)).map(|l| l.syn_recv);
        match (count(full_addr.port()), count(calm_addr.port())) {
            (Some(17), Some(10)) => Ok((snapshot, analysis)),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(snapshot.sysctls.int("net.core.somaxconn"), Some(4), "today's somaxconn is lower");
    let f = finding(&analysis.findings, FindingKind::SynQueuePressure, full_addr.port()).expect("full");
    let Evidence::SynQueuePressure(e) = &f.evidence else { panic!("{f:?}") };
    assert_eq!((e.backlog, e.limit, e.full()), (16, 16, true), "the kernel kept 17 of a backlog of 16");
    assert_eq!(f.severity, Severity::Critical, "tcp_syncookies=0: further SYNs are dropped");
    let drops = snapshot.counters.get("TcpExt", "TCPReqQFullDrop").unwrap_or(0);
    assert!(drops > 0, "the kernel did drop SYNs: TCPReqQFullDrop {drops}");
    assert!(
        finding(&analysis.findings, FindingKind::SynQueuePressure, calm_addr.port()).is_none(),
        "10 of 16 is 62 %, not 250 % of today's somaxconn"
    );
}

/// Seconds since the epoch of an RFC 3339 UTC time (`2026-12-01T15:14:38.123Z`).
fn epoch_s(text: &str) -> f64 {
    let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Days from civil (proleptic Gregorian), as in output::time.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs: f64 = text[17..text.len() - 1].parse().unwrap();
    (days * 86_400 + num(11..13) * 3600 + num(14..16) * 60) as f64 + secs
}

/// Closes `count` connections to `to` from the client side (TIME-WAIT there), fast.
fn time_waits(lab: &Lab, listener: &std::net::TcpListener, to: SocketAddr, count: usize) -> usize {
    lab.run(|| {
        let mut made = 0;
        for _ in 0..count {
            let Ok(client) = std::net::TcpStream::connect(to) else { break };
            let (server, _) = listener.accept().unwrap();
            drop(client);
            drop(server);
            made += 1;
        }
        made
    })
}

fn time_wait_finding(lab: &Lab, dest: SocketAddr) -> Finding {
    eventually(&format!("time_wait_buildup towards {dest}"), || {
        let (_, analysis) = lab.analyze(&Thresholds::default());
        let found = analysis.findings.into_iter().find(|f| {
            f.kind() == FindingKind::TimeWaitBuildup
                && f.subject == sockscope::analyze::Subject::Destination(dest)
        });
        found.ok_or_else(|| "none yet".to_string())
    })
}

/// `tcp_tw_reuse` decides whether TIME-WAIT exhausts ports: with 0 the full
/// range refuses connect() and it is critical; with 2 (loopback) or 1
/// (everything) connect() takes over 1 s old TIME-WAIT and it is information.
#[test]
fn time_wait_severity_follows_tcp_tw_reuse() {
    if support::skip_unless_root("time_wait_severity_follows_tcp_tw_reuse", "per-namespace sysctls") {
        return;
    }
    let lab = Lab::new("tw_reuse");
    // Bound before the range shrinks, to a port outside the 100 of the range.
    let listener = lab.run(|| std::net::TcpListener::bind("0.0.0.0:0").unwrap());
    let taken = listener.local_addr().unwrap().port();
    let first = if (40000..40100).contains(&taken) { 50000 } else { 40000 };
    lab.sysctl("net.ipv4.ip_local_port_range", &format!("{first} {}", first + 99));
    lab.sysctl("net.ipv4.tcp_tw_reuse", "0");
    let ok = lab.run(|| Command::new("ip").args(["addr", "add", "10.200.0.1/32", "dev", "lo"]).status());
    assert!(ok.is_ok_and(|s| s.success()), "ip addr add");
    let port = listener.local_addr().unwrap().port();
    let (lo, other): (SocketAddr, SocketAddr) =
        (format!("127.0.0.1:{port}").parse().unwrap(), format!("10.200.0.1:{port}").parse().unwrap());

    // tcp_tw_reuse=0: every port towards loopback pinned, connect() refused.
    assert_eq!(time_waits(&lab, &listener, lo, 150), 100, "100 ports, then EADDRNOTAVAIL");
    let f = time_wait_finding(&lab, lo);
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.evidence.limit_reached());
    assert!(sockscope::output::wording::message(&f).contains("have pinned all 100 ephemeral ports"));

    // tcp_tw_reuse=2: connect() towards loopback takes over 1 s old TIME-WAIT.
    lab.sysctl("net.ipv4.tcp_tw_reuse", "2");
    eventually("connect() to reuse a TIME-WAIT port", || match time_waits(&lab, &listener, lo, 1) {
        1 => Ok(()),
        _ => Err("EADDRNOTAVAIL".to_string()),
    });
    let f = time_wait_finding(&lab, lo);
    assert_eq!(f.severity, Severity::Info, "{f:?}");
    let said = sockscope::output::wording::message(&f);
    assert!(said.contains("tcp_tw_reuse=2 lets connect() reuse them"), "{said}");

    // ...but not towards an address that is not loopback (even through lo).
    lab.sysctl("net.ipv4.tcp_tw_reuse", "0");
    assert_eq!(time_waits(&lab, &listener, other, 95), 95);
    lab.sysctl("net.ipv4.tcp_tw_reuse", "2");
    assert_eq!(time_wait_finding(&lab, other).severity, Severity::Critical, "2 covers loopback only");
    lab.sysctl("net.ipv4.tcp_tw_reuse", "1");
    assert_eq!(time_wait_finding(&lab, other).severity, Severity::Info, "1 covers every destination");
    assert_eq!(time_wait_finding(&lab, lo).severity, Severity::Info);
}

/// Churn towards loopback under the default `tcp_tw_reuse=2` is explained,
/// not called port exhaustion.
#[test]
fn time_wait_churn_that_reuse_absorbs_is_information() {
    if support::skip_unless_root("time_wait_churn_that_reuse_absorbs_is_information", "per-namespace sysctls")
    {
        return;
    }
    let lab = Lab::new("churn_reuse");
    lab.sysctl("net.ipv4.ip_local_port_range", "40000 41999");
    lab.sysctl("net.ipv4.tcp_tw_reuse", "2");
    let listener = lab.run(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let (events, _) = closing_steadily(&lab, &listener, 50.0, || {
        watch_json(&lab, &["--interval", "500ms", "--count", "8"])
    });
    let churn: Vec<&Value> =
        events.iter().filter(|e| e["type"] == "finding" && e["kind"] == "time_wait_churn").collect();
    assert!(!churn.is_empty(), "3000 TIME-WAIT a minute against 2000 ports is reported: {events:#?}");
    for c in churn {
        assert_eq!(c["severity"], "info", "{c}");
        assert_eq!(c["evidence"]["reuse_applies"], true);
        assert!(c["evidence"]["eta_s"].is_null(), "no exhaustion to project: {c}");
    }
}

/// A watch of a namespace names only its own processes: a host process
/// leaking fds, and a host socket reset under a host process, stay out of
/// its findings and its summary, whether the namespace is chosen with
/// `--netns` or by running inside it.
#[test]
fn a_watched_namespace_names_only_its_own_processes() {
    if support::skip_unless_root("a_watched_namespace_names_only_its_own_processes", "a private namespace") {
        return;
    }
    let lab = Lab::new("scoped_watch");
    let env = [("LIMIT", "4000".to_string()), ("RATE", "20".to_string())];
    let mut inside = Actor::start(&lab, "fd_leaker", &env);
    let mut outside = Actor::start_here("fd_leaker", &env);
    inside.expect("READY");
    outside.expect("READY");
    // Ghosts held by this (host) process: one reset in the lab, one on the host.
    let lab_ghost = lab.run(reset_connection);
    let host_ghost = reset_connection();
    let args = ["--interval", "300ms", "--count", "12"];
    let by_flag = watch_json(&lab, &args);
    let from_inside = lab.run(|| {
        let out = Command::new(BIN).args(["watch", "--json"]).args(args).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>()
    });
    for (how, events) in [("--netns", &by_flag), ("ip netns exec", &from_inside)] {
        let text = serde_json::to_string(events).unwrap();
        let leakers: Vec<&Value> =
            events.iter().filter(|e| e["type"] == "finding" && e["kind"] == "fd_leak").collect();
        assert!(
            leakers
                .iter()
                .any(|f| f["subject"].as_str().unwrap().starts_with(&format!("pid {} ", inside.pid()))),
            "{how}: the namespace's own leaker is named: {leakers:#?}"
        );
        let outsider = format!("\"pid\":{}", outside.pid());
        let outsider_subject = format!("pid {} (", outside.pid());
        assert!(
            !text.contains(&outsider) && !text.contains(&outsider_subject),
            "{how}: the host leaker is named"
        );
        let ghosts: Vec<&Value> =
            events.iter().filter(|e| e["type"] == "finding" && e["kind"] == "ghost_sockets").collect();
        let inodes: Vec<u64> = ghosts
            .iter()
            .flat_map(|g| g["evidence"]["inodes"].as_array().unwrap())
            .filter_map(Value::as_u64)
            .collect();
        assert!(inodes.contains(&support::inode_of(&lab_ghost)), "{how}: the lab's ghost: {ghosts:#?}");
        assert!(!inodes.contains(&support::inode_of(&host_ghost)), "{how}: the host's ghost: {ghosts:#?}");
    }
}

/// An accepted connection whose client reset it: the accepted end, still held.
fn reset_connection() -> std::net::TcpStream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    crate::collector::reset(client);
    accepted
}

/// A connect() refused by the peer (RST), the socket kept. A blocking
/// connect() that fails resets the socket to a fresh one (`tcp_disconnect`
/// zeroes its counters: it may connect again); a non-blocking one that
/// fails later stays as it ended, a dead attempt.
fn refused_connect(blocking: bool) -> socket2::Socket {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    if !blocking {
        return connect_nonblocking(addr);
    }
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    assert!(socket.connect(&addr.into()).is_err(), "nobody listens on {addr}");
    socket
}

/// Ghosts are dead connections: a socket reset by its peer, or whose
/// non-blocking connect was refused. A socket never connected (only created,
/// or reset to a fresh one by a failed blocking connect) is in no table
/// either, but it is reported apart, as information; a bound one is dumped.
#[test]
fn ghosts_are_dead_connections_not_sockets_never_connected() {
    let lab = Lab::new("never_connected");
    let (reset, refused, retry, fresh, bound) = lab.run(|| {
        let fresh = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let bound = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        bound.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into()).unwrap();
        (reset_connection(), refused_connect(false), refused_connect(true), fresh, bound)
    });
    let me = std::process::id();
    let snapshot = eventually("the reset socket to leave the dump", || {
        let snapshot = lab.snapshot();
        match snapshot.sockets.iter().any(|s| s.inode == support::inode_of(&reset)) {
            false => Ok(snapshot),
            true => Err("still dumped".to_string()),
        }
    });
    let held = |list: &Option<Vec<sockscope::model::FdRef>>| -> Vec<u64> {
        list.iter().flatten().filter(|r| r.pid == me).map(|r| r.inode).collect()
    };
    let (ghosts, never) = (held(&snapshot.ghosts), held(&snapshot.never_connected));
    let inode = |fd: &dyn std::os::fd::AsRawFd| {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        sockscope::collect::owners::parse_socket_link(link.to_string_lossy().as_bytes()).unwrap()
    };
    assert!(ghosts.contains(&inode(&reset)) && ghosts.contains(&inode(&refused)), "{ghosts:?}");
    assert!(!ghosts.contains(&inode(&fresh)) && !ghosts.contains(&inode(&retry)), "{ghosts:?}");
    assert!(never.contains(&inode(&fresh)), "{never:?}");
    assert!(never.contains(&inode(&retry)), "a failed blocking connect() leaves a fresh socket: {never:?}");
    assert!(!never.contains(&inode(&reset)) && !never.contains(&inode(&refused)), "{never:?}");
    // A bound socket is no ghost at all: the dump shows it (asked for as
    // BOUND-INACTIVE, reported in state CLOSE, as `ss` shows it).
    let bound_row = snapshot.sockets.iter().find(|s| s.inode == inode(&bound)).map(|s| s.state);
    assert_eq!(bound_row, Some(sockscope::model::State::Close));
    assert!(!ghosts.contains(&inode(&bound)) && !never.contains(&inode(&bound)));

    let pid = me.to_string();
    let events = watch_json(&lab, &["--interval", "200ms", "--count", "4", "--pid", &pid]);
    let of = |kind: &str| -> Vec<Value> {
        let found = events.iter().filter(|e| e["type"] == "finding" && e["kind"] == kind);
        found.cloned().collect()
    };
    let (dead, unused) = (of("ghost_sockets"), of("never_connected_sockets"));
    assert_eq!((dead.len(), unused.len()), (1, 1), "{events:#?}");
    assert_eq!(
        (dead[0]["severity"].as_str(), unused[0]["severity"].as_str()),
        (Some("warning"), Some("info"))
    );
    let inodes = |f: &Value| -> Vec<u64> {
        f["evidence"]["inodes"].as_array().unwrap().iter().filter_map(Value::as_u64).collect()
    };
    assert!(inodes(&dead[0]).contains(&inode(&reset)) && !inodes(&dead[0]).contains(&inode(&fresh)));
    assert!(inodes(&unused[0]).contains(&inode(&fresh)) && !inodes(&unused[0]).contains(&inode(&refused)));
    drop((reset, refused, retry, fresh, bound));
}
