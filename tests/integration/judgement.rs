//! Judgements at the moment of failure, against real processes failing in
//! real ways: an owner stopped with SIGSTOP, an owner at its RLIMIT_NOFILE,
//! connections waiting in an accept queue, TIME-WAIT under `tcp_tw_reuse`,
//! a steady close rate, a steady fd leak, never-connected sockets beside
//! reset ones. Numbers are checked against `ss`, `/proc` and the actors' own
//! clocks; findings against the kernel facts in docs/findings.md.

use std::net::SocketAddr;
use std::process::Command;

use serde_json::Value;
use sockscope::analyze::{Listener, Thresholds};
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
    let mut clients: Vec<socket2::Socket> = lab.run(|| (0..8).map(|_| connect_nonblocking(addr)).collect());
    let (snapshot, l) = queue_of(&lab, port, 5);
    assert_eq!(snapshot.processes[&server.pid()].state, Some(RunState::Stopped));
    assert!(l.full, "5 waiting, backlog 4");
    assert_eq!(l.queued_close_wait, 0);
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
    let blamed = analysis.findings.iter().filter(|f| f.subject.to_string() == "host").count();
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
    let within = closes.iter().filter(|t| **t >= started && **t <= ended).count();
    let span = ended.duration_since(started).unwrap().as_secs_f64();
    let true_rate = within as f64 / span;
    let summary = events.last().unwrap();
    let churn = summary["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "time_wait_churn");
    let churn = churn.unwrap_or_else(|| panic!("no time_wait_churn: {summary:#}"));
    assert_eq!(churn["subject"], addr.to_string());
    let measured = churn["evidence"]["rate_per_s"].as_f64().unwrap();
    let error = (measured - true_rate).abs() / true_rate;
    eprintln!(
        "{}",
        format_args!(
            "churn: measured {measured:.2}/s, true {true_rate:.2}/s ({within} closes in {span:.2} s): error {:.1} %",
            error * 100.0
        )
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
    for leak in leaks.iter().filter(|l| l["evidence"]["eta_s"].is_number()) {
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
