//! `watch` against a namespace that changes under it: deleted and
//! re-created under the same name (an event, then the new namespace's
//! sockets only), deleted for good (repeated failures said once, `--count`
//! still ends the run), and a `--netns PID` whose process exits (the run
//! ends with a clear error instead of following whoever gets the pid), as
//! does a `--pid` whose process exits.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::named_netns::NamedNetns;
use crate::support::{self, Lab, local_addr, tcp_listener};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// A running `sockscope watch --json`, read line by line as it goes.
struct Watching {
    child: Child,
    events: Receiver<Value>,
    errors: Receiver<String>,
    seen: Vec<Value>,
    said: Vec<String>,
}

impl Watching {
    fn start(args: &[&str]) -> Watching {
        let mut child = Command::new(BIN)
            .args(["watch", "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (event_tx, events) = channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let event = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                let _ = event_tx.send(event);
            }
        });
        let (error_tx, errors) = channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = error_tx.send(line);
            }
        });
        Watching { child, events, errors, seen: Vec::new(), said: Vec::new() }
    }

    /// Waits (30 s at most: a loaded machine) for an event that `wanted` accepts.
    fn event(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event =
                self.events.recv_timeout(left).unwrap_or_else(|_| panic!("no {what}: {:#?}", self.seen));
            self.seen.push(event.clone());
            if wanted(&event) {
                return event;
            }
        }
    }

    /// Waits (30 s at most) for a stderr line containing `text`.
    fn said(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .errors
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("never said {text:?}: {:?}", self.said));
            self.said.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Waits for the end: exit status, every event and stderr line.
    fn finish(mut self) -> (ExitStatus, Vec<Value>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "watch did not end: {:#?}", self.seen);
            std::thread::sleep(Duration::from_millis(20));
        };
        let events = std::mem::take(&mut self.seen).into_iter().chain(self.events.iter()).collect();
        let said = std::mem::take(&mut self.said).into_iter().chain(self.errors.iter()).collect();
        (status, events, said)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child killed when the test ends, however it ends.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn listens_on(event: &Value, port: u16) -> bool {
    event["type"] == "sample"
        && event["listeners"].as_array().is_some_and(|ls| {
            ls.iter().any(|l| l["local"].as_str().is_some_and(|a| a.ends_with(&format!(":{port}"))))
        })
}

#[test]
fn a_re_created_namespace_is_an_event_and_only_its_sockets_follow() {
    if support::skip_unless_root("a_re_created_namespace_is_an_event", "creates named namespaces") {
        return;
    }
    let ns = NamedNetns::create("recreated");
    let old_inode = ns.inode();
    let old = ns.run(|| tcp_listener("127.0.0.1:0", 8));
    let old_port = local_addr(&old).port();
    let me = std::process::id().to_string();
    let mut watch =
        Watching::start(&["--interval", "200ms", "--count", "12", "--pid", &me, "--netns", &ns.name]);
    watch.event("a sample with the first namespace's listener", |e| listens_on(e, old_port));

    // Deleted: the old namespace lives on (our listener holds it), unnamed.
    ns.delete();
    let failed = watch.said("collection failed");
    assert!(failed.contains(&ns.name) && failed.contains("does not exist"), "{failed}");
    ns.recreate();
    let new = ns.run(|| tcp_listener("127.0.0.1:0", 8));
    let new_port = local_addr(&new).port();

    let changed = watch.event("netns_changed", |e| e["type"] == "netns_changed");
    assert_eq!(changed["from"], old_inode);
    assert_eq!(changed["to"], ns.inode());
    assert_eq!(changed["netns"], ns.name.as_str());
    let after = watch.event("a sample after the change", |e| e["type"] == "sample");
    assert!(listens_on(&after, new_port), "the new namespace's listener: {after}");
    assert!(!listens_on(&after, old_port), "nothing of the old namespace: {after}");

    let (status, events, said) = watch.finish();
    assert_eq!(status.code(), Some(0), "{said:?}");
    let after_change =
        events.iter().skip_while(|e| e["type"] != "netns_changed").filter(|e| e["type"] == "sample");
    assert!(after_change.clone().all(|e| !listens_on(e, old_port)), "old sockets came back: {events:#?}");
    assert!(after_change.count() >= 1);
    let samples = events.last().unwrap()["samples"].as_u64().unwrap();
    let failures = 12 - samples;
    assert!(failures >= 1, "{said:?}");
    assert_eq!(
        said.iter().filter(|l| l.contains("collection failed")).count(),
        1 + usize::from(failures > 1)
    );
}

#[test]
fn a_namespace_gone_for_good_is_said_once_and_count_still_ends_the_run() {
    if support::skip_unless_root("a_namespace_gone_for_good_is_said_once", "creates named namespaces") {
        return;
    }
    let ns = NamedNetns::create("gone");
    let me = std::process::id().to_string();
    let mut watch =
        Watching::start(&["--interval", "300ms", "--count", "10", "--pid", &me, "--netns", &ns.name]);
    watch.event("the first sample", |e| e["type"] == "sample");
    ns.delete();
    let (status, events, said) = watch.finish();
    assert_eq!(status.code(), Some(0), "{said:?}");
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary");
    let samples = summary["samples"].as_u64().unwrap();
    let failed = 10 - samples;
    assert!(failed >= 2, "the namespace went after the first sample: {said:?}");
    let failures: Vec<&String> = said.iter().filter(|l| l.contains("collection failed")).collect();
    assert_eq!(failures.len(), 2, "said once, then counted at the end: {said:?}");
    let counted = format!("(repeated {} more times, not shown)", failed - 1);
    assert!(failures[1].ends_with(&counted), "{counted} in {}", failures[1]);
}

#[test]
fn watch_of_a_process_namespace_ends_when_the_process_exits() {
    let lab = Lab::new("watch_pid_exit");
    if !lab.is_private() {
        support::loud("SKIPPED watch_of_a_process_namespace_ends_when_the_process_exits: needs root");
        return;
    }
    let mut sleeper = Sleeper(lab.run(|| Command::new("sleep").arg("1000").spawn().unwrap()));
    let pid = sleeper.0.id().to_string();
    let mut watch =
        Watching::start(&["--interval", "200ms", "--count", "1000", "--pid", &pid, "--netns", &pid]);
    watch.event("the first sample", |e| e["type"] == "sample");
    sleeper.0.kill().unwrap();
    sleeper.0.wait().unwrap();
    let (status, events, said) = watch.finish();
    assert_eq!(status.code(), Some(1), "{said:?}");
    let last = said.last().expect("an error line");
    assert_eq!(
        last,
        &format!(
            "sockscope: error: --netns {pid}: process {pid} exited; its network namespace can no longer be followed"
        )
    );
    assert_eq!(events.last().unwrap()["type"], "summary", "the summary is still printed");
    assert!(events.iter().filter(|e| e["type"] == "sample").count() < 1000);
}

/// `watch --pid` follows one process: once it exits, the run ends with a
/// line saying so (and the summary), rather than sampling nothing on. A
/// zombie has exited too: its parent's `wait()` is all that is missing.
#[test]
fn watch_of_a_process_ends_when_it_exits_or_is_a_zombie() {
    for reap in [true, false] {
        let mut sleeper = Sleeper(Command::new("sleep").arg("1000").spawn().unwrap());
        let pid = sleeper.0.id().to_string();
        let mut watch = Watching::start(&["--interval", "200ms", "--count", "1000", "--pid", &pid]);
        watch.event("the first sample", |e| e["type"] == "sample");
        sleeper.0.kill().unwrap();
        if reap {
            sleeper.0.wait().unwrap();
        }
        let (status, events, said) = watch.finish();
        assert_eq!(status.code(), Some(1), "{said:?}");
        let why = if reap { "exited" } else { "exited (a zombie its parent has not reaped)" };
        assert_eq!(
            said.last().expect("an error line"),
            &format!("sockscope: error: --pid {pid}: the process {why}")
        );
        assert_eq!(events.last().unwrap()["type"], "summary", "the summary is still printed");
    }
}

/// `--pid` of a process in another network namespace (a container's app)
/// follows it there: its sockets are in no table of sockscope's own
/// namespace, so without this `dump --pid` showed none and `watch --pid
/// --fail-on leak` passed whatever the process leaked.
#[test]
fn a_pid_in_another_namespace_is_followed_there() {
    let lab = Lab::new("pid_elsewhere");
    if !lab.is_private() {
        support::loud("SKIPPED a_pid_in_another_namespace_is_followed_there: needs root");
        return;
    }
    let script = "import socket, sys\nl = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(3)\n\
                  print(l.getsockname()[1], flush=True); sys.stdin.read()";
    let mut child = lab.run(|| {
        Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    });
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let app = Sleeper(child);
    let pid = app.0.id().to_string();
    let out = Command::new(BIN).args(["dump", "--json", "--pid", &pid]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("--pid {pid} lives in another network namespace: following it there")),
        "{said}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listening = doc["sockets"].as_array().unwrap().iter().any(|s| {
        s["state"] == "LISTEN"
            && s["local"].as_str().is_some_and(|l| l.ends_with(&format!(":{}", port.trim())))
    });
    assert!(listening, "its listener, found in its namespace: {doc}");
}
