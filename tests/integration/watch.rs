//! `sockscope watch` against real misbehaving processes: a server that
//! never closes, a process that opens fds, a reset socket still held, an
//! overflowing listener beside a healthy one. Output is parsed as NDJSON.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Lab, connect_nonblocking, local_addr, tcp_listener};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// Helper processes: this test binary re-run with one ignored "test" that
/// does the misbehaving. They are not tests and do nothing unless asked.
mod helpers {
    use std::io::Write;

    #[test]
    #[ignore = "helper process for the watch tests"]
    fn leaky_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        println!("PORT {}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream.unwrap());
        }
    }

    #[test]
    #[ignore = "helper process for the watch tests"]
    fn fd_opener() {
        let limit = libc::rlimit { rlim_cur: 1024, rlim_max: 1024 };
        // SAFETY: lowering this process's own fd limit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        println!("READY");
        std::io::stdout().flush().unwrap();
        let mut held = Vec::new();
        loop {
            held.push(std::fs::File::open("/dev/null").unwrap());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// Starts a helper inside the lab and waits for its first line of output.
fn helper(lab: &Lab, name: &str) -> (Child, String) {
    let exe = std::env::current_exe().unwrap();
    let mut child = lab.run(|| {
        Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                &format!("watch::helpers::{name}"),
                "--nocapture",
                "--test-threads=1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The harness prints "test ... " before the helper's own output, on the same line.
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| ["PORT ", "READY"].iter().find_map(|m| l.find(m).map(|i| l[i..].to_string())))
        .expect("helper started");
    (child, first)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `sockscope watch --json` with `args` against the lab; returns the
/// parsed events and the exit status.
fn watch(lab: &Lab, args: &[&str]) -> (Vec<Value>, Option<i32>) {
    let out =
        Command::new(BIN).arg("watch").arg("--json").args(args).args(lab.netns_args()).output().unwrap();
    let events = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (events, out.status.code())
}

/// Findings of `kind` that started (re-announcements carry an `escalation`).
fn findings<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    let started = |e: &&Value| e["type"] == "finding" && e["kind"] == kind && e.get("escalation").is_none();
    events.iter().filter(started).collect()
}

/// Runs `load` repeatedly on a thread inside the lab while `work` runs.
fn with_load<T>(lab: &Lab, load: impl Fn() + Sync, work: impl FnOnce() -> T) -> T {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            lab.run(|| {
                while !stop.load(Ordering::Relaxed) {
                    load();
                }
            })
        });
        let result = work();
        stop.store(true, Ordering::Relaxed);
        result
    })
}

fn port_of(first_line: &str) -> u16 {
    first_line.trim_start_matches("PORT ").trim().parse().unwrap()
}

#[test]
fn close_wait_leak_names_the_server_and_its_rate() {
    let lab = Lab::new("watch_close_wait");
    let (child, line) = helper(&lab, "leaky_server");
    let child = Killed(child);
    let server: SocketAddr = format!("127.0.0.1:{}", port_of(&line)).parse().unwrap();
    let pid = child.0.id().to_string();
    let (events, status) = with_load(
        &lab,
        || {
            drop(TcpStream::connect(server).unwrap());
            std::thread::sleep(Duration::from_millis(100));
        },
        || watch(&lab, &["--interval", "300ms", "--count", "10", "--pid", &pid, "--fail-on", "leak"]),
    );
    let leak = findings(&events, "close_wait_leak");
    assert_eq!(leak.len(), 1, "{events:#?}");
    assert!(
        leak[0]["subject"].as_str().unwrap().starts_with(&format!("pid {pid} (integration-")),
        "{}",
        leak[0]
    );
    let rate = leak[0]["evidence"]["rate_per_s"].as_f64().unwrap();
    assert!((3.0..=15.0).contains(&rate), "about 10 peers close per second: {rate}");
    assert!(leak[0]["evidence"]["peers"][0]["remote"] == "127.0.0.1");
    assert_eq!(status, Some(3), "--fail-on leak");
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert!(summary["leaks"].as_array().unwrap().iter().any(|f| f["kind"] == "close_wait_leak"));
    assert!(summary["grew"].as_array().unwrap().iter().any(|g| g["what"] == "CLOSE-WAIT"));
}

#[test]
fn fd_leak_projects_the_time_to_the_limit() {
    let lab = Lab::new("watch_fd_leak");
    let (child, _) = helper(&lab, "fd_opener");
    let child = Killed(child);
    let pid = child.0.id().to_string();
    let (events, status) = watch(&lab, &["--interval", "300ms", "--count", "10", "--pid", &pid]);
    assert_eq!(status, Some(0));
    let leak = findings(&events, "fd_leak");
    assert_eq!(leak.len(), 1, "{events:#?}");
    let f = leak[0];
    assert_eq!(f["evidence"]["fd_limit"], 1024);
    let eta = f["evidence"]["eta_s"].as_f64().expect("a projection");
    assert!(eta > 0.0 && eta < 60.0, "about 1000 fds to go at 20/s: {eta}");
    assert_eq!(f["severity"], "critical");
    assert!(f["message"].as_str().unwrap().contains("RLIMIT_NOFILE 1024 reached in"));
    let samples: Vec<&Value> = events.iter().filter(|e| e["type"] == "sample").collect();
    assert_eq!(samples.len(), 10);
    assert!(samples[1]["processes"][0]["fds_delta"].as_i64().unwrap() > 0);
}

#[test]
fn a_reset_socket_held_by_a_process_is_a_ghost() {
    let lab = Lab::new("watch_ghost");
    let (child, line) = helper(&lab, "leaky_server");
    let child = Killed(child);
    let server: SocketAddr = format!("127.0.0.1:{}", port_of(&line)).parse().unwrap();
    lab.run(|| crate::collector::reset(TcpStream::connect(server).unwrap()));
    let pid = child.0.id().to_string();
    let (events, status) =
        watch(&lab, &["--interval", "200ms", "--count", "4", "--pid", &pid, "--fail-on", "leak"]);
    let ghosts = findings(&events, "ghost_sockets");
    assert_eq!(ghosts.len(), 1, "{events:#?}");
    assert_eq!(ghosts[0]["evidence"]["ghost_sockets"], 1);
    assert_eq!(ghosts[0]["subject"].as_str().map(|s| s.contains(&pid)), Some(true));
    assert_eq!(status, Some(3), "a ghost socket is a leak");
}

#[test]
fn listen_overflow_names_exactly_the_overflowing_listener() {
    let lab = Lab::new("watch_overflow");
    let (full, healthy) = lab.run(|| (tcp_listener("127.0.0.1:0", 1), tcp_listener("127.0.0.1:0", 64)));
    let (full_addr, healthy_addr) = (local_addr(&full), local_addr(&healthy));
    let _queued: Vec<_> = lab.run(|| (0..2).map(|_| connect_nonblocking(full_addr)).collect());
    let _fine = lab.run(|| TcpStream::connect(healthy_addr).unwrap());
    let clients = std::sync::Mutex::new(Vec::new());
    let (events, _) = with_load(
        &lab,
        || {
            clients.lock().unwrap().push(connect_nonblocking(full_addr));
            std::thread::sleep(Duration::from_millis(50));
        },
        || watch(&lab, &["--interval", "300ms", "--count", "5"]),
    );
    let overflow = findings(&events, "listen_overflow");
    let subjects: Vec<&str> = overflow.iter().filter_map(|f| f["subject"].as_str()).collect();
    assert!(subjects.contains(&format!("tcp {full_addr}").as_str()), "{subjects:?}");
    assert!(!subjects.iter().any(|s| s.ends_with(&format!(":{}", healthy_addr.port()))), "{subjects:?}");
    let f = overflow.iter().find(|f| f["subject"] == format!("tcp {full_addr}")).unwrap();
    assert!(f["evidence"]["new_drops"].as_u64().unwrap() > 0);
}

#[test]
fn time_wait_churn_projects_port_exhaustion() {
    let lab = Lab::new("watch_time_wait");
    let mut args = vec!["--interval", "300ms", "--count", "10"];
    if lab.is_private() {
        lab.sysctl("net.ipv4.ip_local_port_range", "40000 40199");
        lab.sysctl("net.ipv4.tcp_tw_reuse", "0");
    } else {
        args.extend(["--time-wait", "1"]);
    }
    let listener = lab.run(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    let (events, _) = with_load(
        &lab,
        || {
            use std::io::Read;
            // Once the port range is exhausted connect() fails (EADDRNOTAVAIL): the point of the test.
            let Ok(mut c) = TcpStream::connect(addr) else {
                std::thread::sleep(Duration::from_millis(40));
                return;
            };
            let (mut s, _) = listener.accept().unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            let _ = s.read_to_end(&mut Vec::new());
            drop(s);
            let _ = c.read_to_end(&mut Vec::new());
            std::thread::sleep(Duration::from_millis(40));
        },
        || watch(&lab, &args),
    );
    let churn = findings(&events, "time_wait_churn");
    assert_eq!(churn.len(), 1, "{events:#?}");
    assert_eq!(churn[0]["subject"], addr.to_string());
    let rate = churn[0]["evidence"]["rate_per_s"].as_f64().unwrap();
    assert!(rate > 5.0, "about 20 connections per second: {rate}");
    if lab.is_private() {
        assert_eq!(churn[0]["severity"], "critical", "1200 ports needed, 200 in the range");
        // The time until the range runs out once 5 samples exist (or it has run out).
        let mut again =
            events.iter().filter(|e| e["kind"] == "time_wait_churn" && e.get("escalation").is_some());
        let last = again.next_back().unwrap_or(churn[0]);
        assert!(
            last["evidence"]["eta_s"].is_number() || last["escalation"]["reason"] == "limit_reached",
            "{last}"
        );
    }
}

#[test]
fn every_event_is_one_json_object_with_a_type_and_time() {
    let lab = Lab::new("watch_ndjson");
    let _listener = lab.run(|| tcp_listener("127.0.0.1:0", 8));
    let (events, status) = watch(&lab, &["--interval", "200ms", "--count", "3"]);
    assert_eq!(status, Some(0));
    assert!(events.len() >= 4, "3 samples and a summary");
    for e in &events {
        assert!(
            matches!(e["type"].as_str(), Some("sample" | "finding" | "resolved" | "pace" | "summary")),
            "{e}"
        );
        assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    }
    let sample = &events[0];
    assert!(sample["listeners"][0]["accept_queue"].is_u64() && sample["listeners"][0]["backlog"].is_u64());
    assert_eq!(events.iter().filter(|e| e["type"] == "sample").count(), 3);
    assert_eq!(events.last().unwrap()["samples"], 3);
}

#[test]
fn ctrl_c_ends_watch_with_a_summary() {
    let lab = Lab::new("watch_sigint");
    let mut child = Command::new(BIN)
        .args(["watch", "--interval", "200ms"])
        .args(lab.netns_args())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("watching every 200ms"), "{first}");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.starts_with("summary:")), "{rest:?}");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
