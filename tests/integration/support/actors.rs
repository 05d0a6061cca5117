//! Actors: real processes failing in real ways, for tests that judge the
//! diagnosis rather than the numbers. Each actor is this test binary re-run
//! with one ignored "test" of `crate::actors` (they do nothing unless asked),
//! started inside the lab's namespace, talking back on stdout one line at a
//! time (`PORT 4242`, `READY`, `LIMIT at=...`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use super::Lab;

/// A running actor; killed (and continued first, if stopped) when dropped.
pub struct Actor {
    child: Child,
    lines: Receiver<String>,
}

impl Actor {
    /// Starts `crate::actors::<name>` in the lab with these environment variables.
    pub fn start(lab: &Lab, name: &str, env: &[(&str, String)]) -> Actor {
        lab.run(|| Actor::start_here(name, env))
    }

    /// Starts the actor in the calling thread's namespace (the host's,
    /// outside [`Lab::run`]).
    pub fn start_here(name: &str, env: &[(&str, String)]) -> Actor {
        let exe = std::env::current_exe().expect("test binary");
        let test = format!("actors::{name}");
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", &test, "--nocapture", "--test-threads=1"])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn actor");
        let stdout = child.stdout.take().expect("actor stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Actor { child, lines }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (10 s at most) for a line containing `marker`; returns the text
    /// from the marker on (the harness prints "test ... " before it).
    pub fn expect(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(i) = line.find(marker) {
                        return line[i..].to_string();
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("actor never said {marker:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("actor exited before saying {marker:?}"),
            }
        }
    }

    /// The port of a `PORT n` line.
    pub fn port(&mut self) -> u16 {
        self.expect("PORT ").trim_start_matches("PORT ").trim().parse().expect("a port number")
    }

    /// Sends a signal to the actor.
    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child, which we have not reaped.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.child.id());
    }

    /// The state letters of every thread of the actor (`/proc/PID/task/*/stat`):
    /// a group stop reaches each thread in turn.
    pub fn thread_states(&self) -> Vec<char> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).expect("task dir");
        let stats =
            tasks.filter_map(Result::ok).filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok());
        stats.map(|stat| state_letter(&stat)).collect()
    }

    /// Waits until every thread of the actor is in `state`.
    pub fn wait_until_all(&self, state: char) {
        super::eventually(&format!("every thread of the actor in {state}"), || {
            let states = self.thread_states();
            match !states.is_empty() && states.iter().all(|&s| s == state) {
                true => Ok(()),
                false => Err(format!("{states:?}")),
            }
        });
    }
}

/// The state letter of a `/proc/.../stat` line (after the `(comm)`).
fn state_letter(stat: &str) -> char {
    let after = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    after.trim_start().chars().next().unwrap_or('?')
}

impl Drop for Actor {
    fn drop(&mut self) {
        // SAFETY: as in `signal`; a stopped actor must run again to die promptly.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGCONT) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=...` in an actor's line.
pub fn field(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}
