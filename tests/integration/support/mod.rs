//! Test support: private network namespaces, real sockets with chosen
//! backlogs, polling with deadlines, `ss` as the reference, and the binary.

pub mod actors;
pub mod cluster;
pub mod holders;
pub mod lab;
pub mod named_netns;
pub mod ss;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

pub use lab::Lab;

/// Prints a notice that bypasses the test harness's output capture, so a
/// skipped or degraded test is visible in every `cargo test` run. It
/// appends: reopening `/dev/stderr` for plain writing would start at offset
/// 0 and overwrite the head of a log file that stderr is redirected to.
pub fn loud(message: &str) {
    let text = format!("\n*** {message} ***\n");
    let mut stderr = std::fs::OpenOptions::new().append(true).open("/dev/stderr").ok();
    match stderr.as_mut() {
        Some(f) => {
            let _ = f.write_all(text.as_bytes());
        }
        None => eprint!("{text}"),
    }
}

/// Skips a test that needs root, loudly.
pub fn skip_unless_root(test: &str, why: &str) -> bool {
    if is_root() {
        return false;
    }
    loud(&format!("SKIPPED {test}: needs root ({why}); CI runs as root"));
    true
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Polls `probe` every 10 ms until it returns `Some`, or fails after 10 s
/// with the last state `describe` gives.
pub fn eventually<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match probe() {
            Ok(value) => return value,
            Err(state) if Instant::now() > deadline => panic!("timed out waiting for {what}; last: {state}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// A TCP listener on `addr` (port 0 = any) with exactly this backlog.
pub fn tcp_listener(addr: &str, backlog: i32) -> Socket {
    let addr: SocketAddr = addr.parse().expect("address");
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
    socket.set_reuse_address(true).expect("reuseaddr");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(backlog).expect("listen");
    socket
}

pub fn local_addr(socket: &Socket) -> SocketAddr {
    socket.local_addr().expect("local addr").as_socket().expect("inet")
}

/// Starts a non-blocking connect (it may stay in SYN-SENT).
pub fn connect_nonblocking(to: SocketAddr) -> Socket {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, None).expect("socket");
    socket.set_nonblocking(true).expect("nonblocking");
    match socket.connect(&to.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => panic!("connect {to}: {e}"),
    }
    socket
}

/// The inode of a socket we hold, from `/proc/self/fd`.
pub fn inode_of(fd: &impl std::os::fd::AsRawFd) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("fd link");
    sockscope::collect::owners::parse_socket_link(link.to_string_lossy().as_bytes()).expect("socket link")
}

/// Helper process for the test of [`loud`]: prints one notice.
mod helpers {
    #[test]
    #[ignore = "helper process for loud_notices_append_to_a_redirected_log"]
    fn loud_notice() {
        super::loud("SKIPPED probe: a notice");
    }
}

#[test]
fn loud_notices_append_to_a_redirected_log() {
    let log = std::env::temp_dir().join(format!("sockscope-loud-{}.log", std::process::id()));
    let mut file = std::fs::File::create(&log).unwrap();
    file.write_all(b"first line of the log\n").unwrap();
    // The child inherits this description, its offset past the first line,
    // as `cargo test 2> log` hands stderr over.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "support::helpers::loud_notice", "--nocapture", "--test-threads=1"])
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(text.starts_with("first line of the log\n"), "the head of the log was overwritten: {text:?}");
    assert!(text.contains("*** SKIPPED probe: a notice ***"), "{text:?}");
}
