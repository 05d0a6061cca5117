//! Connection churn must not produce false ghosts: a helper process opens
//! and gracefully closes thousands of loopback connections per second (each
//! side keeps the last few dozen open, as a busy client and server do), while
//! one-shot collections and a watch run. A reset socket the test process
//! really holds must still be reported, in the same runs.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::collector::reset;
use crate::support::{self, Lab, inode_of};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// Helper process: this test binary re-run with one ignored "test".
mod helpers {
    use std::collections::VecDeque;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// Connections each side keeps open before closing its oldest.
    fn keep() -> usize {
        std::env::var("CHURN_KEEP").ok().and_then(|k| k.parse().ok()).unwrap_or(32)
    }

    #[test]
    #[ignore = "helper process for the churn tests"]
    fn churn() {
        let rate: f64 = std::env::var("CHURN_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(4000.0);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = AtomicBool::new(false);
        let made = AtomicU64::new(0);
        let started = Instant::now();
        std::thread::scope(|scope| {
            scope.spawn(|| serve(&listener, &stop));
            scope.spawn(|| connect(addr, rate, &stop, &made, started));
            println!("READY");
            std::io::stdout().flush().unwrap();
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stop.store(true, Ordering::Relaxed);
            let _ = TcpStream::connect(addr); // wakes the accept loop
        });
        let secs = started.elapsed().as_secs_f64();
        println!("DONE {} {secs:.3}", made.load(Ordering::Relaxed));
    }

    /// Accepts, keeps the last few dozen, and closes the oldest once its client
    /// has closed (read to EOF), so no CLOSE-WAIT lingers.
    fn serve(listener: &TcpListener, stop: &AtomicBool) {
        let keep = keep();
        let mut open = VecDeque::new();
        while !stop.load(Ordering::Relaxed) {
            let Ok((stream, _)) = listener.accept() else { continue };
            open.push_back(stream);
            if open.len() > keep {
                let mut oldest: TcpStream = open.pop_front().unwrap();
                let _ = oldest.read_to_end(&mut Vec::new());
            }
        }
    }

    /// Connects at `rate` per second, keeps the last few dozen, closes the oldest.
    fn connect(addr: std::net::SocketAddr, rate: f64, stop: &AtomicBool, made: &AtomicU64, started: Instant) {
        let keep = keep();
        let mut open = VecDeque::new();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let Ok(mut stream) = TcpStream::connect(addr) else { continue };
            let _ = stream.write_all(b"x");
            open.push_back(stream);
            if open.len() > keep {
                drop(open.pop_front());
            }
            n += 1;
            made.store(n, Ordering::Relaxed);
            let due = Duration::from_secs_f64(n as f64 / rate);
            if let Some(ahead) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
        // Close the client ends first so the server's reads reach EOF.
        drop(open);
    }
}

/// The churn helper, running in the lab until [`Churn::finish`].
struct Churn {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Churn {
    fn start(lab: &Lab) -> Churn {
        let exe = std::env::current_exe().unwrap();
        let mut child = lab.run(|| {
            Command::new(&exe)
                .args(["--ignored", "--exact", "churn::helpers::churn", "--nocapture", "--test-threads=1"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        });
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("READY") {
            line.clear();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "churn helper ended before READY");
        }
        Churn { child, stdin, stdout }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the churn; returns (connections made, their rate per second).
    fn finish(mut self) -> (u64, f64) {
        drop(self.stdin.take());
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stdout, &mut text);
        let _ = self.child.wait();
        let done = &text[text.find("DONE ").expect("DONE line") + 5..];
        let mut words = done.split_whitespace();
        let n: u64 = words.next().unwrap().parse().unwrap();
        let secs: f64 = words.next().unwrap().parse().unwrap();
        (n, n as f64 / secs)
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reset connection whose accepted end this process keeps: a real ghost.
fn real_ghost(lab: &Lab) -> (std::net::TcpListener, TcpStream) {
    lab.run(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        reset(client);
        (listener, accepted)
    })
}

#[test]
fn churn_makes_no_ghosts_and_a_real_ghost_is_still_found() {
    if support::skip_unless_root("churn_makes_no_ghosts_and_a_real_ghost_is_still_found", "private netns") {
        return;
    }
    let lab = Lab::new("churn_ghosts");
    let (_listener, held) = real_ghost(&lab);
    let ghost = inode_of(&held);
    let me = std::process::id();
    let churn = Churn::start(&lab);
    let churner = churn.pid();

    let mut false_ghosts = Vec::new();
    let mut real_found = 0;
    for _ in 0..15 {
        let snapshot = lab.snapshot();
        let ghosts = snapshot.ghosts.expect("ghosts checked on a full TCP dump");
        real_found += ghosts.iter().filter(|g| g.inode == ghost && g.pid == me).count();
        false_ghosts.extend(ghosts.into_iter().filter(|g| g.inode != ghost));
    }

    let out = Command::new(BIN)
        .args(["watch", "--json", "--interval", "300ms", "--count", "12", "--fail-on", "leak"])
        .args(lab.netns_args())
        .output()
        .unwrap();
    let (made, rate) = churn.finish();
    let events: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ghost_findings: Vec<&Value> =
        events.iter().filter(|e| e["type"] == "finding" && e["kind"] == "ghost_sockets").collect();
    support::loud(&format!(
        "churn: {made} connections at {rate:.0}/s; {} false ghosts in 15 collections; {} ghost findings in watch",
        false_ghosts.len(),
        ghost_findings.len()
    ));
    assert!(false_ghosts.is_empty(), "healthy churn reported as ghosts: {:?}...", &false_ghosts[..5]);
    assert_eq!(real_found, 15, "the reset socket this process holds is a ghost in every collection");
    assert_eq!(ghost_findings.len(), 1, "only the real ghost: {ghost_findings:#?}");
    let subject = ghost_findings[0]["subject"].as_str().unwrap();
    assert!(subject.starts_with(&format!("pid {me} ")), "{subject}");
    assert_eq!(ghost_findings[0]["evidence"]["inodes"][0], ghost);
    assert!(
        !events.iter().any(|e| e["subject"].as_str().is_some_and(|s| s.contains(&format!("pid {churner} ")))
            && e["kind"] == "ghost_sockets")
    );
    assert_eq!(events.iter().filter(|e| e["type"] == "sample").count(), 12);
    assert_eq!(out.status.code(), Some(3), "the real ghost is a leak");
    // The target is 1500/s and more (4000/s on an idle 2-core machine); a
    // machine busy with other work may fall short, which is said loudly.
    if rate < 1500.0 {
        support::loud(&format!("churn: only {rate:.0} connections/s (target 1500): the machine is busy"));
    }
    assert!(made >= 1000, "the churn barely ran: {made} connections");
}
