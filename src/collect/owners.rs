//! One pass over `/proc/*/fd`: which process holds which socket inode.
//!
//! Each fd costs exactly one `readlinkat` relative to an open `/proc/PID/fd`
//! directory (procfs's own fd iterator opens, stats and closes every fd, four
//! times the syscalls, and silently drops the fds it could not read). The
//! result is a flat [`OwnerIndex`], so joining 100k sockets to owners is a
//! binary search each — the step that makes `ss -p` slow.
//!
//! Processes appear and vanish while we read: a vanished process is skipped
//! and counted; a process we may not read (another user's, when not root) is
//! kept without owners and counted, so the user is told what is missing.

use std::fs;

use procfs::ProcError;
use procfs::process::{LimitValue, Process as ProcfsProcess};
use rustix::fd::OwnedFd;
use rustix::fs::{CWD, Dir, Mode, OFlags};
use rustix::io::Errno;

use super::error::CollectError;
use crate::model::{FdLimit, FdRef, OwnerIndex, Process, ProcessTable, ScanStats};

/// Which processes to read fds of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ScanScope {
    #[default]
    All,
    /// Only these pids (`--pid`).
    Pids(Vec<u32>),
    /// Only processes whose `comm` contains this text (`--process`).
    CommContains(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanOptions {
    pub scope: ScanScope,
    pub cmdline: bool,
}

/// Everything the scan learned.
#[derive(Clone, Debug, Default)]
pub struct OwnerScan {
    pub processes: ProcessTable,
    pub index: OwnerIndex,
    pub stats: ScanStats,
}

/// Scans `/proc` for socket owners, once.
pub fn scan(options: &ScanOptions) -> Result<OwnerScan, CollectError> {
    super::owner_cache::OwnerCache::default().fill(options)
}

/// Runs `work` over `items` on a few threads pulling from a shared index (the
/// caller orders items largest first so the threads finish together).
pub(super) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Result<Vec<R>, CollectError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(items.len());
    if threads <= 1 {
        return Ok(items.iter().map(work).collect());
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else { return done };
            done.push((i, work(item)));
        }
    };
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        for handle in handles {
            for (i, r) in handle.join().map_err(|_| CollectError::ThreadPanicked)? {
                slots[i] = Some(r);
            }
        }
        Ok(slots.into_iter().flatten().collect())
    })
}

/// The processes the scope selects, as open `/proc/PID` handles.
pub(super) fn candidates(scope: &ScanScope) -> Result<Vec<ProcfsProcess>, CollectError> {
    if let ScanScope::Pids(pids) = scope {
        let found = pids.iter().filter_map(|&pid| ProcfsProcess::new(pid as i32).ok());
        return Ok(found.collect());
    }
    let all = procfs::process::all_processes()
        .map_err(|e| CollectError::Proc(std::io::Error::other(e.to_string())))?;
    let alive = all.filter_map(Result::ok);
    Ok(match scope {
        ScanScope::CommContains(name) => {
            alive.filter(|p| comm_of(p).is_some_and(|c| c.contains(name.as_str()))).collect()
        }
        _ => alive.collect(),
    })
}

/// Reads one process (whose `comm` the caller already has), appending its
/// socket fds to `refs`; `None` if it vanished.
pub(super) fn read_process_into(
    process: &ProcfsProcess,
    comm: String,
    options: &ScanOptions,
    refs: &mut Vec<FdRef>,
) -> Option<Process> {
    let pid = process.pid as u32;
    let before = refs.len();
    let fd_count = match socket_fds(pid, refs) {
        Ok(count) => Some(count),
        Err(FdScanError::Unreadable) => None,
        Err(FdScanError::Vanished) => {
            refs.truncate(before);
            return None;
        }
    };
    Some(Process {
        pid,
        comm,
        uid: process.uid().ok(),
        fd_count,
        socket_fds: (refs.len() - before) as u32,
        fd_limit: fd_limit(process),
        cmdline: options.cmdline.then(|| cmdline(pid)).flatten(),
        netns: netns_of(pid),
        state: None,
    })
}

/// The open-fd count from `stat(/proc/PID/fd).st_size` (Linux >= 6.2), or
/// `None` where the kernel does not report it.
pub(super) fn fd_count_probe(pid: u32) -> Option<u64> {
    let stat = rustix::fs::stat(format!("/proc/{pid}/fd")).ok()?;
    u64::try_from(stat.st_size).ok().filter(|&n| n > 0)
}

pub(super) fn comm_of(process: &ProcfsProcess) -> Option<String> {
    match process.stat() {
        Ok(stat) => Some(stat.comm),
        Err(ProcError::NotFound(_)) => None,
        Err(_) => Some("?".to_string()),
    }
}

fn fd_limit(process: &ProcfsProcess) -> Option<FdLimit> {
    let limits = process.limits().ok()?;
    Some(match limits.max_open_files.soft_limit {
        LimitValue::Value(n) => FdLimit::Limited(n),
        LimitValue::Unlimited => FdLimit::Unlimited,
    })
}

/// The inode of the process's network namespace (`stat` follows the
/// `/proc/PID/ns/net` link to the namespace file).
pub fn netns_of(pid: u32) -> Option<u64> {
    rustix::fs::stat(format!("/proc/{pid}/ns/net")).ok().map(|st| st.st_ino)
}

/// `/proc/PID/cmdline` as text: NULs become spaces, invalid UTF-8 is replaced.
fn cmdline(pid: u32) -> Option<String> {
    let bytes = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
    Some(text.trim_end().to_string())
}

enum FdScanError {
    Unreadable,
    Vanished,
}

/// Appends the socket fds of `pid` to `refs`; returns the number of open fds.
fn socket_fds(pid: u32, refs: &mut Vec<FdRef>) -> Result<u32, FdScanError> {
    let dir = open_fd_dir(pid)?;
    let entries = Dir::read_from(&dir).map_err(classify)?;
    let mut count = 0;
    let mut link = [0u8; 64];
    for entry in entries {
        let Ok(entry) = entry else { break };
        let Some(fd) = parse_fd_name(entry.file_name().to_bytes()) else {
            continue;
        };
        count += 1;
        let Ok(len) = rustix::fs::readlinkat_raw(&dir, entry.file_name(), &mut link) else {
            continue; // closed between readdir and readlink
        };
        if let Some(inode) = parse_socket_link(&link[..len.min(link.len())]) {
            refs.push(FdRef { inode, pid, fd });
        }
    }
    Ok(count)
}

fn open_fd_dir(pid: u32) -> Result<OwnedFd, FdScanError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::openat(CWD, format!("/proc/{pid}/fd"), flags, Mode::empty()).map_err(classify)
}

fn classify(errno: Errno) -> FdScanError {
    match errno {
        Errno::NOENT | Errno::SRCH => FdScanError::Vanished,
        _ => FdScanError::Unreadable,
    }
}

fn parse_fd_name(name: &[u8]) -> Option<u32> {
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// `socket:[12345]` → 12345.
pub fn parse_socket_link(link: &[u8]) -> Option<u64> {
    let inner = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_parse_and_others_do_not() {
        assert_eq!(parse_socket_link(b"socket:[4026532]"), Some(4026532));
        assert_eq!(parse_socket_link(b"pipe:[123]"), None);
        assert_eq!(parse_socket_link(b"/dev/null"), None);
        assert_eq!(parse_socket_link(b"socket:[12"), None);
        assert_eq!(parse_socket_link(b"socket:[x]"), None);
    }

    #[test]
    fn scanning_ourselves_finds_our_own_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let me = std::process::id();
        let scan = scan(&ScanOptions { scope: ScanScope::Pids(vec![me]), cmdline: true }).unwrap();
        let process = &scan.processes[&me];
        assert!(process.fd_count.unwrap() >= 1);
        assert!(process.socket_fds >= 1);
        assert!(process.cmdline.is_some());
        assert!(scan.index.iter().all(|r| r.pid == me));
        drop(listener);
    }
}
