//! Bad input gets one line on stderr naming what is wrong, exit status 2,
//! and never a hang: `--netns` targets that are not network namespaces
//! (a FIFO, a file, a directory, a missing path, a bad pid, a namespace we
//! may not enter), a `--pid` of no process, zero and negative numbers.

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support;

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// Runs the binary; a run still going after `limit` is killed and fails the
/// test (a FIFO opened for reading blocks forever).
fn run_within(cmd: &mut Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn sockscope");
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sockscope {cmd:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    (child.wait_with_output().expect("output"), elapsed)
}

/// Asserts exit status 2 and one line on stderr containing every `part`.
fn assert_one_line(out: &Output, parts: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    for part in parts {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert!(out.stdout.is_empty(), "nothing collected or printed");
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sockscope-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_bad_netns_target_is_one_line_and_exit_2() {
    let dir = TempDir::new("bad-netns");
    let fifo = dir.0.join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    let file = dir.0.join("file");
    std::fs::write(&file, "not a namespace").unwrap();
    let missing = dir.0.join("missing");
    let (fifo, file, missing, dir_path) = (
        fifo.to_str().unwrap().to_string(),
        file.to_str().unwrap().to_string(),
        missing.to_str().unwrap().to_string(),
        dir.0.to_str().unwrap().to_string(),
    );
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (&fifo, vec![&fifo, "is a FIFO, not a network namespace"]),
        (&file, vec![&file, "is a regular file, not a network namespace"]),
        (&dir_path, vec![&dir_path, "is a directory, not a network namespace"]),
        (&missing, vec![&missing, "does not exist"]),
        ("/proc/self/ns/mnt", vec!["/proc/self/ns/mnt", "another kind of namespace"]),
        ("-5", vec!["--netns -5", "not a pid"]),
        ("0", vec!["--netns 0", "not a pid"]),
        ("999999999", vec!["no process with pid 999999999"]),
        ("12ab", vec!["no network namespace named '12ab'", "/run/netns/12ab"]),
    ];
    let mut slowest = Duration::ZERO;
    for (target, parts) in &cases {
        for command in ["dump", "watch"] {
            let (out, took) =
                run_within(Command::new(BIN).args([command, "--netns", target]), Duration::from_secs(5));
            assert_one_line(&out, parts);
            slowest = slowest.max(took);
        }
    }
    support::loud(&format!("bad --netns targets: slowest refusal took {} ms", slowest.as_millis()));
}

#[test]
fn a_namespace_we_may_not_open_or_enter_says_permission_denied() {
    if support::skip_unless_root("a_namespace_we_may_not_open_or_enter", "runs the binary as nobody") {
        return;
    }
    let as_nobody = |target: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["dump", "--netns", target]).uid(65534).gid(65534);
        run_within(&mut cmd, Duration::from_secs(5)).0
    };
    // Another user's /proc/PID/ns/net cannot even be opened (EACCES).
    let out = as_nobody("1");
    assert_one_line(&out, &["--netns 1", "permission denied opening /proc/1/ns/net", "CAP_SYS_ADMIN"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("needs root or"), "the old vague wording");
    // Its own namespace file opens, but setns needs CAP_SYS_ADMIN (EPERM).
    let out = as_nobody("/proc/self/ns/net");
    assert_one_line(&out, &["--netns /proc/self/ns/net", "permission denied", "CAP_SYS_ADMIN"]);
}

#[test]
fn pids_and_counts_that_cannot_be_get_plain_messages() {
    let cases: [(&[&str], &[&str]); 4] = [
        (&["dump", "--pid", "999999999"], &["--pid 999999999: no such process"]),
        (&["dump", "--pid", "-1"], &["--pid", "not a process id"]),
        (&["watch", "--count", "0"], &["--count", "take at least 1 sample"]),
        (&["watch", "--count", "-3"], &["--count", "not a number of samples"]),
    ];
    for (args, parts) in cases {
        let (out, _) = run_within(Command::new(BIN).args(args), Duration::from_secs(5));
        assert_one_line(&out, parts);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("unexpected argument") && !err.contains(".."),
            "reads like clap internals: {err}"
        );
    }
}
