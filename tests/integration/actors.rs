//! The actors of `support::actors`: processes that misbehave on purpose.
//! Each is an ignored "test" so the test binary can run it as a child
//! (`--ignored --exact actors::NAME`); run alone, each does nothing harmful
//! but never ends, so they are never run by a plain `cargo test`.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().unwrap();
}

fn now_ms() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// Lowers this process's RLIMIT_NOFILE (soft and hard) to `limit`.
fn limit_fds(limit: u64) {
    let rlim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
    // SAFETY: setrlimit on our own process with a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) }, 0);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count().saturating_sub(1)
}

fn listener(backlog: u64) -> socket2::Socket {
    crate::support::tcp_listener("127.0.0.1:0", backlog as i32)
}

fn say_port(l: &socket2::Socket) {
    say(&format!("PORT {}", crate::support::local_addr(l).port()));
}

fn is_emfile(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMFILE)
}

/// A server that accepts every connection and keeps it (BACKLOG, default 4).
/// Stopped with SIGSTOP, it accepts nothing and its queue fills.
#[test]
#[ignore = "actor process for the judgement tests"]
fn accepting_server() {
    let l = listener(env_or("BACKLOG", 4));
    say_port(&l);
    let mut held = Vec::new();
    loop {
        if let Ok((s, _)) = l.accept() {
            held.push(s);
        }
    }
}

/// A server at its RLIMIT_NOFILE (LIMIT, default 32): every fd is used, so
/// accept() fails with EMFILE and the queue (BACKLOG, default 4) fills, while
/// the process runs (an event loop retrying, here every 20 ms).
#[test]
#[ignore = "actor process for the judgement tests"]
fn fd_exhausted_server() {
    limit_fds(env_or("LIMIT", 32));
    let l = listener(env_or("BACKLOG", 4));
    let mut held = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) if is_emfile(&e) => break,
            Err(e) => panic!("{e}"),
        }
    }
    say_port(&l);
    let mut told = false;
    let mut accepted = Vec::new();
    loop {
        match l.accept() {
            Ok((s, _)) => accepted.push(s),
            Err(e) if is_emfile(&e) && !told => {
                say("EMFILE");
                told = true;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Opens fds at a steady RATE per second (default 20) under RLIMIT_NOFILE
/// LIMIT (default 400): `READY fds=N at=MS`, then `LIMIT at=MS` when open()
/// first fails with EMFILE; then holds everything.
#[test]
#[ignore = "actor process for the judgement tests"]
fn fd_leaker() {
    limit_fds(env_or("LIMIT", 400));
    let period = Duration::from_secs_f64(1.0 / env_or("RATE", 20) as f64);
    say(&format!("READY fds={} at={}", open_fds(), now_ms()));
    let start = Instant::now();
    let mut held = Vec::new();
    for n in 1u32.. {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) if is_emfile(&e) => break,
            Err(e) => panic!("{e}"),
        }
        let next = start + period * n;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    say(&format!("LIMIT at={}", now_ms()));
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
