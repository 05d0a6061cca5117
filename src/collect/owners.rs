//! Reading one process from `/proc`: its identity, limits and socket fds.
//!
//! Nothing here holds a file descriptor per process. Pids come from the
//! names in `/proc` (not from a handle per process), each `/proc/PID/...`
//! file is opened, read and closed by path, and `/proc/PID/fd` is open only
//! while its entries are read. sockscope may run with a 1024 (or lower) soft
//! fd limit on a host with thousands of processes; holding one fd per process
//! would turn that into missing owners.
//!
//! Each fd costs exactly one `readlinkat` relative to the open `/proc/PID/fd`
//! directory (the procfs crate opens, stats and closes every fd: four times the
//! syscalls, and they drop the fds they could not read).
//!
//! Processes appear and vanish while we read: a vanished process is skipped
//! and counted; a process we may not read (another user's, when not root) is
//! kept without owners and counted; a read refused because *we* ran out of
//! file descriptors (EMFILE, ENFILE) is counted apart, because its remedy is
//! a higher limit, not root.

use std::ffi::CStr;
use std::io;

use rustix::fd::OwnedFd;
use rustix::fs::{CWD, Dir, Mode, OFlags};
use rustix::io::Errno;

use super::error::CollectError;
use super::proc_text::{self, PidStat};
use crate::model::{FdLimit, FdRef, Process};

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

impl ScanScope {
    /// Whether a process of this name is in scope (pids are chosen earlier).
    pub fn keeps_comm(&self, comm: &str) -> bool {
        match self {
            ScanScope::CommContains(name) => comm.contains(name.as_str()),
            _ => true,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanOptions {
    pub scope: ScanScope,
    pub cmdline: bool,
}

/// Why a read of `/proc` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The process exited (or the pid never existed).
    Vanished,
    /// Not allowed: another user's process and we are not root.
    Denied,
    /// sockscope itself is out of file descriptors (EMFILE, ENFILE).
    Exhausted,
}

impl ReadError {
    pub fn from_errno(errno: Errno) -> ReadError {
        match errno {
            Errno::NOENT | Errno::SRCH => ReadError::Vanished,
            Errno::MFILE | Errno::NFILE => ReadError::Exhausted,
            _ => ReadError::Denied,
        }
    }

    fn from_io(e: &io::Error) -> ReadError {
        ReadError::from_errno(Errno::from_io_error(e).unwrap_or(Errno::IO))
    }
}

/// The pids the scope selects. Reads directory names only: no fd is held
/// per process, so the number of processes is not bounded by our fd limit.
pub fn pids(scope: &ScanScope) -> Result<Vec<u32>, CollectError> {
    if let ScanScope::Pids(pids) = scope {
        return Ok(pids.clone());
    }
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").map_err(CollectError::Proc)? {
        let entry = entry.map_err(CollectError::Proc)?;
        if let Some(pid) = parse_pid_name(entry.file_name().as_encoded_bytes()) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Whether a process with this pid exists now.
pub fn process_exists(pid: u32) -> bool {
    match rustix::fs::stat(format!("/proc/{pid}")) {
        Ok(_) => true,
        Err(e) => ReadError::from_errno(e) != ReadError::Vanished,
    }
}

/// How the process `pid` that started at `start_time` ended, or `None`
/// while it runs (or cannot be read: then it is not known to have ended).
/// A zombie has exited: only its parent's `wait()` is missing.
pub fn exit_of(pid: u32, start_time: u64) -> Option<&'static str> {
    match read_stat(pid) {
        Ok(stat) if stat.start_time != start_time => {
            Some("exited, and its pid now belongs to another process")
        }
        Ok(stat) if stat.state == 'Z' => Some("exited (a zombie its parent has not reaped)"),
        Ok(_) => None,
        Err(ReadError::Vanished) => Some("exited"),
        Err(_) => None,
    }
}

/// `/proc/PID/stat`: the process's name and start time.
pub fn read_stat(pid: u32) -> Result<PidStat, ReadError> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).map_err(|e| ReadError::from_io(&e))?;
    proc_text::parse_pid_stat(&text).ok_or(ReadError::Vanished)
}

/// How a process's fd table read went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdAccess {
    Read,
    /// The listing stopped on an error: some fds may be missing. Kept for
    /// this snapshot, never reused.
    Partial,
    Denied,
    Exhausted,
}

/// Reads one process (whose `comm` the caller already has), appending its
/// socket fds to `refs`; `None` if it vanished.
pub fn read_process_into(
    pid: u32,
    comm: String,
    options: &ScanOptions,
    refs: &mut Vec<FdRef>,
) -> Option<(Process, FdAccess)> {
    let before = refs.len();
    let (fd_count, access) = match socket_fds(pid, refs) {
        Ok(Listing { count, complete: true, .. }) => {
            (Some(kernel_fd_count(pid).unwrap_or(count)), FdAccess::Read)
        }
        Ok(Listing { count, complete: false, .. }) => {
            (Some(kernel_fd_count(pid).unwrap_or(count)), FdAccess::Partial)
        }
        Err(ReadError::Denied) => (None, FdAccess::Denied),
        Err(ReadError::Exhausted) => (None, FdAccess::Exhausted),
        Err(ReadError::Vanished) => {
            refs.truncate(before);
            return None;
        }
    };
    let process = Process {
        pid,
        comm,
        uid: rustix::fs::stat(format!("/proc/{pid}")).ok().map(|st| st.st_uid),
        fd_count,
        socket_fds: (refs.len() - before) as u32,
        fd_limit: fd_limit(pid),
        cmdline: options.cmdline.then(|| cmdline(pid)).flatten(),
        netns: netns_of(pid),
        state: None,
    };
    Some((process, access))
}

/// The open-fd count from `stat(/proc/PID/fd).st_size` (Linux >= 6.2), or
/// `None` where the kernel does not report it.
pub fn fd_count_probe(pid: u32) -> Option<u64> {
    let stat = rustix::fs::stat(format!("/proc/{pid}/fd")).ok()?;
    u64::try_from(stat.st_size).ok().filter(|&n| n > 0)
}

/// The kernel's own count of open fds (one atomic read of the fd table),
/// preferred over counting a listing that the process changes as we read.
fn kernel_fd_count(pid: u32) -> Option<u32> {
    fd_count_probe(pid).and_then(|n| u32::try_from(n).ok())
}

fn fd_limit(pid: u32) -> Option<FdLimit> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    proc_text::parse_fd_limit(&text)
}

/// The inode of the process's network namespace (`stat` follows the
/// `/proc/PID/ns/net` link to the namespace file).
pub fn netns_of(pid: u32) -> Option<u64> {
    rustix::fs::stat(format!("/proc/{pid}/ns/net")).ok().map(|st| st.st_ino)
}

/// `/proc/PID/cmdline` as text: NULs become spaces, invalid UTF-8 is replaced.
fn cmdline(pid: u32) -> Option<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
    Some(text.trim_end().to_string())
}

/// What reading `/proc/PID/fd` found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Listing {
    /// Open fds seen.
    count: u32,
    /// Of those, fds whose link was refused (EACCES, EPERM).
    refused: u32,
    /// False when the listing stopped on an error.
    complete: bool,
}

impl Listing {
    /// One fd seen, and how reading its link went.
    fn note(&mut self, read: Result<(), Errno>) {
        self.count += 1;
        self.refused += u32::from(matches!(read, Err(Errno::ACCESS | Errno::PERM)));
    }
}

/// Appends the socket fds of `pid` to `refs`. The directory fd is the only
/// one held, and only during this call. A table whose every link is refused
/// (a process shielded even from root) is denied, not empty.
///
/// Where the kernel reports how many fds are open (the directory's size,
/// Linux >= 6.2), fd numbers are read upwards from 0 until that many were
/// found: fd tables are dense, and this skips the listing of the directory,
/// which costs the kernel a dentry lookup per fd. The probe is no snapshot
/// (fds opened meanwhile count towards the total), so the directory is then
/// listed from just past the last number probed: one `getdents` that finds
/// nothing in a table that did not change, and whatever lies above in one
/// that did, or beyond a gap the probe gave up on.
fn socket_fds(pid: u32, refs: &mut Vec<FdRef>) -> Result<Listing, ReadError> {
    let dir = open_fd_dir(pid)?;
    let open = rustix::fs::fstat(&dir).ok().and_then(|st| u32::try_from(st.st_size).ok()).filter(|&n| n > 0);
    let (probed, above) = match open {
        Some(open) => probe_fds(pid, &dir, open, refs)?,
        None => (Listing::default(), FdsAbove::All),
    };
    let rest = list_fds(pid, dir, above, refs)?;
    let listing = Listing {
        count: probed.count + rest.count,
        refused: probed.refused + rest.refused,
        complete: rest.complete,
    };
    match listing.refused > 0 && listing.refused == listing.count {
        true => Err(ReadError::Denied),
        false => Ok(listing),
    }
}

/// Reads `/proc/PID/fd/N` for N = 0, 1, 2... until `open` fds were found,
/// or until more numbers missed than a dense table would; returns what it
/// saw and where a listing must take over.
fn probe_fds(
    pid: u32,
    dir: &OwnedFd,
    open: u32,
    refs: &mut Vec<FdRef>,
) -> Result<(Listing, FdsAbove), ReadError> {
    let allowed_misses = open / 8 + 64;
    let (mut seen, mut misses) = (Listing::default(), 0);
    let mut name = FdName::default();
    let mut link = [0u8; 64];
    let mut fd = 0;
    while seen.count < open && misses <= allowed_misses && fd < u32::MAX {
        match note_link(dir, name.of(fd), FdRef { inode: 0, pid, fd }, &mut link, refs) {
            Err(Errno::NOENT) => misses += 1,
            Err(Errno::SRCH) => return Err(ReadError::Vanished),
            // Access is decided per process: one refusal is all of them, and
            // each costs the kernel a ptrace check (and maybe an audit record).
            Err(Errno::ACCESS | Errno::PERM) if seen.count == 0 => return Err(ReadError::Denied),
            read => seen.note(read),
        }
        fd += 1;
    }
    Ok((seen, fd.checked_sub(1).map_or(FdsAbove::All, FdsAbove::Number)))
}

/// Which entries of a listing to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FdsAbove {
    All,
    /// Only fds greater than this one (those up to it were probed).
    Number(u32),
}

/// Lists `/proc/PID/fd` and reads the link of every entry `above` selects,
/// starting the listing past the probed fds (a directory position is the fd
/// number plus 2, after `.` and `..`).
fn list_fds(pid: u32, dir: OwnedFd, above: FdsAbove, refs: &mut Vec<FdRef>) -> Result<Listing, ReadError> {
    let mut dir = Dir::new(dir).map_err(ReadError::from_errno)?;
    if let FdsAbove::Number(n) = above {
        // Unseekable: the listing starts at 0 and the filter below skips.
        let _ = dir.seek(i64::from(n) + 3);
    }
    let mut seen = Listing::default();
    let mut link = [0u8; 64];
    while let Some(entry) = dir.read() {
        let Ok(entry) = entry else { return Ok(seen) };
        let Some(fd) = parse_fd_name(entry.file_name().to_bytes()) else {
            continue;
        };
        if matches!(above, FdsAbove::Number(n) if fd <= n) {
            continue;
        }
        let Ok(dirfd) = dir.fd() else { break };
        match note_link(dirfd, entry.file_name(), FdRef { inode: 0, pid, fd }, &mut link, refs) {
            Err(Errno::NOENT) => {} // closed between readdir and readlink
            Err(Errno::ACCESS | Errno::PERM) if seen.count == 0 && above == FdsAbove::All => {
                return Err(ReadError::Denied);
            }
            read => seen.note(read),
        }
    }
    seen.complete = true;
    Ok(seen)
}

/// Reads the link `name` of an fd directory; a socket's is kept in `refs`
/// as `held` with its inode.
fn note_link(
    dir: impl rustix::fd::AsFd,
    name: &CStr,
    held: FdRef,
    link: &mut [u8; 64],
    refs: &mut Vec<FdRef>,
) -> Result<(), Errno> {
    let len = rustix::fs::readlinkat_raw(dir, name, &mut *link)?.min(link.len());
    if let Some(inode) = parse_socket_link(&link[..len]) {
        refs.push(FdRef { inode, ..held });
    }
    Ok(())
}

/// An fd number as a NUL-terminated name, formatted without allocating.
#[derive(Default)]
struct FdName {
    bytes: [u8; 11],
}

impl FdName {
    fn of(&mut self, fd: u32) -> &CStr {
        let mut digits = [0u8; 10];
        let mut n = fd;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for (i, d) in digits[..len].iter().rev().enumerate() {
            self.bytes[i] = *d;
        }
        self.bytes[len] = 0;
        CStr::from_bytes_until_nul(&self.bytes).unwrap_or_default()
    }
}

fn open_fd_dir(pid: u32) -> Result<OwnedFd, ReadError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::openat(CWD, format!("/proc/{pid}/fd"), flags, Mode::empty()).map_err(ReadError::from_errno)
}

/// A `/proc` entry name that is a pid.
pub fn parse_pid_name(name: &[u8]) -> Option<u32> {
    match name.first() {
        Some(b'1'..=b'9') => std::str::from_utf8(name).ok()?.parse().ok(),
        _ => None,
    }
}

/// A `/proc/PID/fd` entry name.
pub fn parse_fd_name(name: &[u8]) -> Option<u32> {
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// `socket:[12345]` → 12345.
pub fn parse_socket_link(link: &[u8]) -> Option<u64> {
    let inner = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

/// Whether `/proc/PID/fd/FD` still points at this socket inode now.
pub fn fd_holds(pid: u32, fd: u32, inode: u64) -> bool {
    let mut link = [0u8; 64];
    match rustix::fs::readlinkat_raw(CWD, format!("/proc/{pid}/fd/{fd}"), &mut link) {
        Ok(len) => parse_socket_link(&link[..len.min(link.len())]) == Some(inode),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

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
    fn proc_entries_that_are_pids() {
        assert_eq!(parse_pid_name(b"4242"), Some(4242));
        for name in [&b"self"[..], b"thread-self", b"0", b"01", b"+1", b"-1", b"", b"99999999999"] {
            assert_eq!(parse_pid_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn errors_of_our_own_fd_limit_are_not_permission_errors() {
        assert_eq!(ReadError::from_errno(Errno::MFILE), ReadError::Exhausted);
        assert_eq!(ReadError::from_errno(Errno::NFILE), ReadError::Exhausted);
        assert_eq!(ReadError::from_errno(Errno::ACCESS), ReadError::Denied);
        assert_eq!(ReadError::from_errno(Errno::PERM), ReadError::Denied);
        assert_eq!(ReadError::from_errno(Errno::NOENT), ReadError::Vanished);
    }

    #[test]
    fn reading_ourselves_finds_our_own_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let me = std::process::id();
        let options = ScanOptions { scope: ScanScope::Pids(vec![me]), cmdline: true };
        let mut refs = Vec::new();
        let comm = read_stat(me).unwrap().comm;
        let (process, access) = read_process_into(me, comm, &options, &mut refs).unwrap();
        assert_eq!(access, FdAccess::Read);
        assert!(process.fd_count.unwrap() >= 1);
        assert!(process.socket_fds >= 1);
        assert!(process.cmdline.is_some());
        assert!(matches!(process.fd_limit, Some(FdLimit::Limited(_) | FdLimit::Unlimited)));
        let inode = super::super::owners::parse_socket_link(
            std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd()))
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        )
        .unwrap();
        let held = refs.iter().find(|r| r.inode == inode).unwrap();
        assert!(fd_holds(me, held.fd, inode));
        assert!(!fd_holds(me, held.fd, inode + 1));
        drop(listener);
        assert!(!fd_holds(me, held.fd, inode));
    }

    #[test]
    fn fd_names_are_decimal() {
        let mut name = FdName::default();
        for fd in [0, 7, 10, 4096, 65535, u32::MAX] {
            assert_eq!(name.of(fd).to_str().unwrap(), fd.to_string());
        }
    }

    fn inode_of(fd: &impl AsRawFd) -> u64 {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        parse_socket_link(link.as_os_str().as_encoded_bytes()).unwrap()
    }

    /// A socket far above the rest of the table (a gap no dense probe
    /// crosses) is still found: probing hands over to the listing.
    #[test]
    fn a_socket_beyond_a_gap_is_found_by_probing_and_by_listing() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: F_DUPFD_CLOEXEC duplicates a valid fd; the copy is owned below.
        let high = unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 900) };
        assert!(high >= 900, "F_DUPFD: {}", std::io::Error::last_os_error());
        // SAFETY: `high` is a fresh fd that nothing else owns.
        let high = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(high) };
        let (inode, me) = (inode_of(&listener), std::process::id());
        let wanted = [(inode, listener.as_raw_fd() as u32), (inode, high.as_raw_fd() as u32)];
        let held =
            |refs: &[FdRef]| wanted.iter().all(|&(i, fd)| refs.iter().any(|r| r.inode == i && r.fd == fd));

        let mut all = Vec::new();
        let listing = socket_fds(me, &mut all).unwrap();
        assert!(listing.complete && listing.count >= 2);
        assert!(held(&all), "probing then listing: {all:?}");
        let mut listed = Vec::new();
        list_fds(me, open_fd_dir(me).unwrap(), FdsAbove::All, &mut listed).unwrap();
        assert!(held(&listed), "listing: {listed:?}");
        let mut above = Vec::new();
        list_fds(me, open_fd_dir(me).unwrap(), FdsAbove::Number(899), &mut above).unwrap();
        assert!(above.iter().all(|r| r.fd > 899) && above.iter().any(|r| r.inode == inode));
    }

    /// The probe is no snapshot: fds opened while it runs count towards the
    /// total, so it can reach the count before the highest fds. The listing
    /// that follows it starts where it stopped and finds them. (Here the
    /// count is given three: the probe stops after fd 2.)
    #[test]
    fn fds_past_a_count_reached_early_come_from_the_listing() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (inode, me) = (inode_of(&listener), std::process::id());
        let dir = open_fd_dir(me).unwrap();
        let mut refs = Vec::new();
        let (probed, above) = probe_fds(me, &dir, 3, &mut refs).unwrap();
        assert_eq!((probed.count, above), (3, FdsAbove::Number(2)));
        let rest = list_fds(me, dir, above, &mut refs).unwrap();
        assert!(rest.complete && rest.count >= 1);
        assert!(refs.iter().any(|r| r.inode == inode && r.fd == listener.as_raw_fd() as u32), "{refs:?}");
        let mut fds: Vec<u32> = refs.iter().map(|r| r.fd).collect();
        fds.sort_unstable();
        fds.dedup();
        assert_eq!(fds.len(), refs.len(), "no fd read twice: {refs:?}");
    }

    #[test]
    fn a_pid_that_does_not_exist() {
        assert!(process_exists(std::process::id()));
        assert!(!process_exists(999_999_999));
        assert_eq!(read_stat(999_999_999), Err(ReadError::Vanished));
    }
}
