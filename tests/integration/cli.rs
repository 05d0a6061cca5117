//! The `sockscope` binary as a user runs it: what it prints, its exit status,
//! its errors, and how it behaves with pipes, colour and hostile names.

use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::support::{self, Lab, connect_nonblocking, eventually, local_addr, tcp_listener};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

fn sockscope(lab: &Lab, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).args(lab.netns_args()).env_remove("NO_COLOR");
    cmd.output().expect("run sockscope")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

/// A lab with a listener whose accept queue is full (backlog 4, 12 clients)
/// and a CLOSE-WAIT socket held by this process.
struct Outage {
    queue_port: u16,
    cw_port: u16,
    _keep: Vec<socket2::Socket>,
    _streams: Vec<TcpStream>,
    _listener: std::net::TcpListener,
}

fn outage(lab: &Lab) -> Outage {
    let (full, clients, listener, accepted) = lab.run(|| {
        let full = tcp_listener("127.0.0.1:0", 4);
        let clients: Vec<_> = (0..12).map(|_| connect_nonblocking(local_addr(&full))).collect();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        drop(client);
        (full, clients, listener, accepted)
    });
    let queue_port = local_addr(&full).port();
    let cw_port = listener.local_addr().expect("addr").port();
    let mut keep = clients;
    keep.push(full);
    eventually("accept queue 5/4", || {
        let snap = lab.snapshot();
        let l = snap.sockets.iter().find(|s| s.is_listener() && s.local.port() == Some(queue_port));
        match l.map(|l| (l.recv_q, l.send_q)) {
            Some((5, 4)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    Outage { queue_port, cw_port, _keep: keep, _streams: vec![accepted], _listener: listener }
}

#[test]
fn dump_shows_the_full_queue_and_the_close_wait_leak_first() {
    let lab = Lab::new("cli_outage");
    let o = outage(&lab);
    let output = sockscope(&lab, &["dump", "--color", "never"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = stdout(&output);
    let findings: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("FINDINGS")).skip(1).collect();
    let tags: Vec<&str> = findings.iter().filter_map(|l| l.split_whitespace().next()).collect();
    let first_warning = tags.iter().position(|t| *t == "WARNING").unwrap_or(tags.len());
    assert!(!tags[first_warning..].contains(&"CRITICAL"), "worst first: {text}");
    let at = findings
        .iter()
        .position(|l| l.contains("accept_queue_full") && l.contains(&format!("127.0.0.1:{} ", o.queue_port)))
        .unwrap_or_else(|| panic!("no accept_queue_full for our listener: {text}"));
    assert!(findings[at].starts_with("CRITICAL"), "{}", findings[at]);
    assert!(findings[at].contains(&format!("({})", std::process::id())), "owner named: {}", findings[at]);
    assert!(findings[at + 1].contains("5 connections wait for accept(), backlog 4"), "{text}");
    let me = format!("pid {} (", std::process::id());
    assert!(text.lines().any(|l| l.contains("close_wait") && l.contains(&me)), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("tcp") && l.contains(&format!(":{} ", o.queue_port)))
        .expect("listener row");
    assert!(row.contains("5/4") && row.contains("125% FULL"), "{row}");
    let _ = o.cw_port;
}

#[test]
fn json_document_carries_the_same_diagnosis() {
    let lab = Lab::new("cli_json");
    let o = outage(&lab);
    let output = sockscope(&lab, &["dump", "--json", "--info"]);
    assert!(output.status.success());
    let doc: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(doc["schema_version"], 1);
    for key in ["host", "sysctls", "counters", "sockets", "listeners", "processes", "findings", "warnings"] {
        assert!(doc.get(key).is_some(), "missing {key}");
    }
    assert!(doc["sysctls"]["net.core.somaxconn"].is_i64());
    assert!(doc["counters"]["TcpExt"]["ListenOverflows"].is_i64());
    let local = format!("127.0.0.1:{}", o.queue_port);
    let listener =
        doc["listeners"].as_array().unwrap().iter().find(|l| l["local"] == local.as_str()).unwrap();
    assert_eq!(
        (&listener["accept_queue"], &listener["backlog"], &listener["full"]),
        (&Value::from(5), &Value::from(4), &Value::from(true))
    );
    assert!(listener["syn_recv"].is_u64() && listener["drops"].is_u64());
    assert_eq!(listener["owners"][0]["pid"], std::process::id());
    let socket = doc["sockets"].as_array().unwrap().iter().find(|s| s["local"] == local.as_str()).unwrap();
    assert_eq!((&socket["proto"], &socket["state"]), (&Value::from("tcp"), &Value::from("LISTEN")));
    assert_eq!((&socket["recv_q"], &socket["send_q"]), (&Value::from(5), &Value::from(4)));
    assert!(socket["inode"].as_u64().unwrap() > 0 && socket["owners"][0]["fd"].is_u64());
    let estab = doc["sockets"].as_array().unwrap().iter().find(|s| s["state"] == "ESTAB").unwrap();
    assert!(estab["tcp_info"]["rtt_us"].is_u64(), "tcp_info in JSON: {estab}");
    let subject = format!("tcp {local}");
    let findings = doc["findings"].as_array().unwrap();
    let full = findings.iter().find(|f| f["subject"] == subject.as_str()).expect("our listener's finding");
    assert_eq!(
        (&full["kind"], &full["severity"]),
        (&Value::from("accept_queue_full"), &Value::from("critical"))
    );
    assert!(full["message"].is_string() && full["hint"].is_string());
    assert_eq!(full["evidence"]["accept_queue"], 5);
    assert_eq!(findings[0]["severity"], "critical", "worst first");
    let mine = |f: &&Value| f["kind"] == "close_wait" && f["evidence"]["pid"] == std::process::id();
    assert!(findings.iter().any(|f| mine(&f)), "a close_wait finding for this process");
}

#[test]
fn fail_on_turns_findings_into_exit_status_3() {
    let lab = Lab::new("cli_fail_on");
    let o = outage(&lab);
    let port = o.queue_port.to_string();
    let critical = sockscope(&lab, &["dump", "--port", &port, "--fail-on", "critical"]);
    assert_eq!(critical.status.code(), Some(3));
    let listener = lab.run(|| tcp_listener("127.0.0.1:0", 100));
    let healthy_port = local_addr(&listener).port().to_string();
    let healthy = sockscope(&lab, &["dump", "--port", &healthy_port, "--fail-on", "warning"]);
    assert_eq!(healthy.status.code(), Some(0), "{}", stdout(&healthy));
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["dump", "--port", "http"],
        &["dump", "--port", "70000"],
        &["dump", "--port", "0"],
        &["watch", "--fail-on", "info"],
        &["completions"],
        &["dump", "--state", "establishd"],
        &["dump", "--pid", "0"],
        &["dump", "--netns", "no-such-namespace"],
        &["dump", "--netns", "4000000000"],
        &["dump", "--netns", "/etc/passwd"],
        &["tui"],
        &["dump", "--fail-on", "sometimes"],
        &["dump", "--near-full", "150"],
        &["dump", "-l", "--state", "listen"],
        &["dump", "--json", "--sockets"],
        &["dump", "--bogus"],
        &["frobnicate"],
    ];
    for args in cases {
        let out = Command::new(BIN).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("sockscope: error: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

/// A trend window shorter than three samples can never judge a leak: said
/// at once, not discovered after a silent run.
#[test]
fn a_window_too_short_for_the_interval_is_a_warning() {
    let out = Command::new(BIN)
        .args(["watch", "--interval", "10s", "--window", "1s", "--count", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("--window 1s holds fewer than 3 samples at --interval 10s"), "{err}");
    assert!(err.contains("use --window 20s or more"), "{err}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let (read, write) = rustix::pipe::pipe().unwrap();
    drop(read);
    let out = Command::new(BIN).args(["dump", "--sockets"]).stdout(Stdio::from(write)).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("error") && !err.to_lowercase().contains("broken pipe"), "{err}");
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let run = |no_color: bool| {
        let mut cmd = Command::new(BIN);
        cmd.args(["dump", "--color", "always"]);
        match no_color {
            true => cmd.env("NO_COLOR", "1"),
            false => cmd.env_remove("NO_COLOR"),
        };
        cmd.output().unwrap().stdout
    };
    assert!(run(false).contains(&0x1b), "--color always colours");
    assert!(!run(true).contains(&0x1b), "NO_COLOR wins");
    let piped = Command::new(BIN).arg("dump").env_remove("NO_COLOR").output().unwrap().stdout;
    assert!(!piped.contains(&0x1b), "no colour when stdout is not a terminal");
}

/// A child holding `fd`, running a copy of `sleep` under `name`.
fn holder_named(name: &str, fd: i32) -> (Child, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("sockscope-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join(name);
    std::fs::copy("/bin/sleep", &program).unwrap();
    let inherited = fd;
    let mut cmd = Command::new(&program);
    cmd.arg("1000");
    // SAFETY: only async-signal-safe fcntl between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(inherited, libc::F_GETFD);
            libc::fcntl(inherited, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    (cmd.spawn().unwrap(), dir)
}

#[test]
fn hostile_process_names_are_escaped() {
    let lab = Lab::new("cli_escape");
    let listener = lab.run(|| tcp_listener("127.0.0.1:0", 8));
    let port = local_addr(&listener).port().to_string();
    let (mut child, dir) = holder_named("\x1b[31mevil\x07", listener.as_raw_fd());
    let text = eventually("the hostile owner", || {
        let out = sockscope(&lab, &["dump", "--sockets", "--port", &port]);
        let text = stdout(&out);
        match text.contains("evil") {
            true => Ok(text),
            false => Err(text),
        }
    });
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "raw control bytes reached the terminal");
    assert!(text.contains("\\x1b[31mevil\\x07"), "{text}");
    let report = stdout(&sockscope(&lab, &["dump", "--port", &port, "--color", "never"]));
    assert!(!report.contains('\x1b') && report.contains("\\x1b[31mevil"), "{report}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_root_owners_degrade_with_a_hint() {
    if support::skip_unless_root(
        "without_root_owners_degrade",
        "runs the binary as the unprivileged user nobody",
    ) {
        return;
    }
    let listener = tcp_listener("127.0.0.1:0", 8);
    let port = local_addr(&listener).port().to_string();
    let out = Command::new(BIN)
        .args(["dump", "--sockets", "--port", &port])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("not root: could not read the fds of"), "{err}");
    assert!(err.contains("CAP_SYS_PTRACE"), "{err}");
    let text = stdout(&out);
    let row = text.lines().find(|l| l.contains("LISTEN")).expect("the socket is still listed");
    assert!(row.ends_with(" -"), "owner unknown, not invented: {row}");
}

#[test]
fn netns_by_pid_inspects_that_process_namespace() {
    let lab = Lab::new("cli_netns_pid");
    if !lab.is_private() {
        support::loud("SKIPPED netns_by_pid: needs root (a private network namespace)");
        return;
    }
    let listener = lab.run(|| tcp_listener("127.0.0.1:0", 3));
    let port = local_addr(&listener).port();
    let mut child = lab.run(|| Command::new("sleep").arg("1000").spawn().unwrap());
    let pid = child.id().to_string();
    let out = Command::new(BIN).args(["dump", "--sockets", "-l", "--netns", &pid]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    let host = stdout(&Command::new(BIN).args(["dump", "--sockets", "-l"]).output().unwrap());
    assert!(!host.contains(&format!("127.0.0.1:{port} ")), "the host does not see the lab's listener");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn pid_and_process_filters_select_owners() {
    let lab = Lab::new("cli_filters");
    let mine = lab.run(|| tcp_listener("127.0.0.1:0", 8));
    let theirs = lab.run(|| tcp_listener("127.0.0.1:0", 8));
    let (mut child, dir) = holder_named("filterholder", theirs.as_raw_fd());
    drop(theirs);
    let (my_port, pid) = (local_addr(&mine).port(), child.id().to_string());
    let text = eventually("the child's listener", || {
        let text = stdout(&sockscope(&lab, &["dump", "--sockets", "-l", "--pid", &pid]));
        match text.contains("filterholder") {
            true => Ok(text),
            false => Err(text),
        }
    });
    assert!(!text.contains(&format!(":{my_port} ")), "--pid keeps only that pid's sockets: {text}");
    let by_name = stdout(&sockscope(&lab, &["dump", "--sockets", "-l", "--process", "filterhold"]));
    assert_eq!(by_name.lines().filter(|l| l.contains("LISTEN")).count(), 1, "{by_name}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}
