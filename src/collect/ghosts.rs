//! Ghost sockets: TCP sockets a process still holds that no dump shows.
//!
//! A TCP socket reset by its peer (or whose connect failed, or closed by
//! both ends while its fd stays open: its TIME-WAIT successor is dumped
//! without an inode) is unhashed: it is in no sock_diag dump and not in
//! `/proc/net/tcp`, yet the application's fd keeps it alive; only
//! `/proc/PID/fd` still points at its inode. A TCP
//! socket that was never connected (created and not bound, or left fresh by
//! a blocking `connect()` that failed: the kernel then zeroes its counters)
//! is in no table either, but it is no dead connection: a pool's spare, a
//! socket about to `connect()`. (A bound one is dumped, as `ss` shows it.)
//!
//! Held socket inodes missing from a full dump are only *candidates*: under
//! churn most are sockets opened after the dump, or closed since the owner
//! scan (the owner cache may still list them). Two facts, cached per inode
//! (they never change), narrow the candidates down:
//! - the protocol, from the socket's `system.sockprotoname` extended
//!   attribute (TCP, not netlink, packet, UNIX...);
//! - the socket's own network namespace (`SIOCGSKNS` on a copy of the fd
//!   taken with `pidfd_getfd`): a socket of another namespace is absent from
//!   this dump for a good reason. Where the copy is not permitted, the
//!   holding process's namespace stands in for it.
//!
//! Then each candidate is confirmed afresh, after the dump and the scan:
//! - with a copy of the fd: it is still this inode, and its own `tcp_info`
//!   says CLOSE (unhashed) and whether it ever exchanged a segment (a ghost)
//!   or not (never connected); any other state means it is in a table after
//!   all (created after the dump);
//! - without one (not permitted): the socket is absent from a second, fresh
//!   TCP dump *and* `/proc/PID/fd/N` still points at the inode afterwards, so
//!   it existed all through that dump without appearing in it.
//!
//! A candidate whose fd moved on marks its process stale in the owner cache.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags};

use super::owner_cache::DumpedInodes;
use super::owners;
use crate::model::{FdRef, OwnerIndex, ProcessTable};

/// `SIOCGSKNS`: get a socket's network namespace as a new fd.
const SIOCGSKNS: libc::c_ulong = 0x894C;
/// `TCP_CLOSE` in `tcp_info.tcpi_state`: the socket is in no table.
const TCP_CLOSE: u8 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    NotTcp,
    /// A TCP socket and, when it could be read, its namespace inode.
    Tcp(Option<u64>),
}

/// What a fresh look at a held TCP socket that no dump shows says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Held {
    /// Unhashed after exchanging segments: reset, or its connect failed.
    Ghost,
    /// Never exchanged a segment: created, not connected.
    NeverConnected,
    /// In a table after all: it appeared after the dump.
    Live,
    /// The fd no longer holds this socket: the owner scan was stale.
    Gone,
    /// No copy of the fd could be taken: a fresh dump must decide.
    Unknown,
}

/// The held TCP sockets no dump shows, sorted out, and the processes whose
/// cached fds turned out stale.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Absent {
    pub ghosts: Vec<FdRef>,
    pub never_connected: Vec<FdRef>,
    pub stale: Vec<u32>,
}

#[derive(Default)]
pub(super) struct GhostFinder {
    kinds: HashMap<u64, Kind>,
}

impl GhostFinder {
    /// Held TCP sockets of the namespaces `netns` (empty: unknown, any)
    /// absent from `dumped` (which must cover every TCP state of them),
    /// confirmed now and sorted into dead connections and never-connected
    /// sockets. `fresh_dump` (the inodes of a new TCP dump of the same
    /// namespace) is called at most once, only for candidates whose fd could
    /// not be copied; without it those candidates are not reported.
    pub(super) fn find(
        &mut self,
        owners: &OwnerIndex,
        processes: &ProcessTable,
        dumped: &DumpedInodes,
        netns: &[u64],
        fresh_dump: impl FnOnce() -> Option<DumpedInodes>,
    ) -> Absent {
        let candidates = self.candidates(owners, processes, dumped, netns);
        confirm_by(candidates, look, fresh_dump)
    }

    fn candidates(
        &mut self,
        owners: &OwnerIndex,
        processes: &ProcessTable,
        dumped: &DumpedInodes,
        netns: &[u64],
    ) -> Vec<FdRef> {
        let in_scope = |n: Option<u64>| n.is_none_or(|n| netns.is_empty() || netns.contains(&n));
        let absent: Vec<FdRef> = owners.iter().filter(|r| !dumped.contains(r.inode)).copied().collect();
        self.kinds = self.classified(&absent);
        let here = |r: &&FdRef| match self.kinds.get(&r.inode) {
            None | Some(Kind::NotTcp) => false,
            Some(Kind::Tcp(Some(socket_netns))) => in_scope(Some(*socket_netns)),
            Some(Kind::Tcp(None)) => processes.get(&r.pid).is_some_and(|p| in_scope(p.netns)),
        };
        absent.iter().filter(here).copied().collect()
    }

    /// The kinds of the absent sockets: cached ones kept, new ones read in
    /// process order, so that one pidfd at a time serves a process's fds.
    fn classified(&self, absent: &[FdRef]) -> HashMap<u64, Kind> {
        let mut kinds = HashMap::new();
        let mut new = Vec::new();
        for r in absent {
            match self.kinds.get(&r.inode) {
                Some(kind) => drop(kinds.insert(r.inode, *kind)),
                None => new.push(*r),
            }
        }
        new.sort_unstable_by_key(|r| (r.pid, r.fd));
        let mut pidfd = CurrentPidfd::default();
        for r in &new {
            if let std::collections::hash_map::Entry::Vacant(slot) = kinds.entry(r.inode)
                && let Some(kind) = classify(r, &mut pidfd)
            {
                slot.insert(kind);
            }
        }
        kinds
    }
}

fn confirm_by(
    candidates: Vec<FdRef>,
    look: impl Fn(&FdRef) -> Held,
    fresh_dump: impl FnOnce() -> Option<DumpedInodes>,
) -> Absent {
    let mut absent = Absent::default();
    let mut unknown = Vec::new();
    for r in candidates {
        match look(&r) {
            Held::Ghost => absent.ghosts.push(r),
            Held::NeverConnected => absent.never_connected.push(r),
            Held::Live => {}
            Held::Gone => absent.stale.push(r.pid),
            Held::Unknown => unknown.push(r),
        }
    }
    if !unknown.is_empty()
        && let Some(fresh) = fresh_dump()
    {
        for r in unknown.into_iter().filter(|r| !fresh.contains(r.inode)) {
            match owners::fd_holds(r.pid, r.fd, r.inode) {
                true => absent.ghosts.push(r),
                false => absent.stale.push(r.pid),
            }
        }
    }
    absent.stale.sort_unstable();
    absent.stale.dedup();
    absent
}

/// Looks at a held socket through a copy of its fd.
fn look(r: &FdRef) -> Held {
    let Some(socket) = copy_fd(r.pid, r.fd) else {
        return match owners::fd_holds(r.pid, r.fd, r.inode) {
            true => Held::Unknown,
            false => Held::Gone,
        };
    };
    if rustix::fs::fstat(&socket).map(|st| st.st_ino) != Ok(r.inode) {
        return Held::Gone;
    }
    let mut info = [0u8; 256];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info` and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    match rc {
        0 => judge_tcp_info(&info[..(len as usize).min(info.len())]),
        _ => Held::Unknown,
    }
}

/// Judges a held socket from its `struct tcp_info`: unhashed (CLOSE) after
/// exchanging segments is a ghost; unhashed with none sent or received was
/// never connected. Kernels older than 4.2 do not count segments: there,
/// CLOSE alone makes a ghost.
pub(super) fn judge_tcp_info(info: &[u8]) -> Held {
    let Some(tcp) = super::decode::raw::tcp_info_with_state(info) else { return Held::Unknown };
    match tcp {
        (state, _) if state != TCP_CLOSE => Held::Live,
        (_, Some((0, 0))) => Held::NeverConnected,
        _ => Held::Ghost,
    }
}

/// The pidfd of the process being classified: one `pidfd_open` per process
/// (one holding thousands of new sockets costs one), and never more than one
/// held at a time, whatever the number of processes and the fd limit.
#[derive(Default)]
struct CurrentPidfd(Option<(u32, Option<OwnedFd>)>);

impl CurrentPidfd {
    fn copy(&mut self, pid: u32, fd: u32) -> Option<OwnedFd> {
        if self.0.as_ref().is_none_or(|(held, _)| *held != pid) {
            self.0 = None;
            self.0 = Some((pid, pidfd_of(pid)));
        }
        let pidfd = self.0.as_ref()?.1.as_ref()?;
        rustix::process::pidfd_getfd(pidfd, fd as i32, PidfdGetfdFlags::empty()).ok()
    }
}

fn classify(r: &FdRef, pidfd: &mut CurrentPidfd) -> Option<Kind> {
    match protocol_is_tcp(r.pid, r.fd)? {
        false => Some(Kind::NotTcp),
        true => Some(Kind::Tcp(pidfd.copy(r.pid, r.fd).as_ref().and_then(socket_netns))),
    }
}

/// Reads `system.sockprotoname` of a held socket (`TCP`, `TCPv6`, `UNIX-STREAM`...).
fn protocol_is_tcp(pid: u32, fd: u32) -> Option<bool> {
    let mut name = [0u8; 32];
    let len = rustix::fs::getxattr(format!("/proc/{pid}/fd/{fd}"), "system.sockprotoname", &mut name).ok()?;
    Some(name[..len.min(name.len())].starts_with(b"TCP"))
}

/// A copy of another process's fd (needs ptrace access to it: root, or the
/// same user where Yama allows it).
fn copy_fd(pid: u32, fd: u32) -> Option<OwnedFd> {
    let pidfd = pidfd_of(pid)?;
    rustix::process::pidfd_getfd(&pidfd, fd as i32, PidfdGetfdFlags::empty()).ok()
}

fn pidfd_of(pid: u32) -> Option<OwnedFd> {
    rustix::process::pidfd_open(Pid::from_raw(pid as i32)?, PidfdFlags::empty()).ok()
}

/// The namespace inode of a socket: ask the socket itself.
fn socket_netns(socket: &OwnedFd) -> Option<u64> {
    // SAFETY: SIOCGSKNS takes no argument and returns a new fd we then own.
    let raw = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGSKNS) };
    if raw < 0 {
        return None;
    }
    // SAFETY: `raw` is a fresh descriptor returned by the kernel to us.
    let netns = unsafe { OwnedFd::from_raw_fd(raw) };
    rustix::fs::fstat(&netns).ok().map(|st| st.st_ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: u8, segs: Option<(u32, u32)>) -> Vec<u8> {
        let mut b = vec![0u8; if segs.is_some() { 232 } else { 104 }];
        b[0] = state;
        if let Some((out, inn)) = segs {
            b[136..140].copy_from_slice(&out.to_ne_bytes());
            b[140..144].copy_from_slice(&inn.to_ne_bytes());
        }
        b
    }

    #[test]
    fn segments_tell_a_dead_connection_from_one_never_made() {
        assert_eq!(judge_tcp_info(&info(TCP_CLOSE, Some((3, 2)))), Held::Ghost, "reset after talking");
        assert_eq!(judge_tcp_info(&info(TCP_CLOSE, Some((1, 1)))), Held::Ghost, "refused: SYN out, RST in");
        assert_eq!(judge_tcp_info(&info(TCP_CLOSE, Some((0, 0)))), Held::NeverConnected);
        assert_eq!(judge_tcp_info(&info(1, Some((5, 5)))), Held::Live, "established after the dump");
        assert_eq!(judge_tcp_info(&info(TCP_CLOSE, None)), Held::Ghost, "old kernel: CLOSE decides");
        assert_eq!(judge_tcp_info(&[]), Held::Unknown);
    }

    fn ours(socket: &(impl std::os::fd::AsFd + AsRawFd)) -> FdRef {
        let inode = rustix::fs::fstat(socket).map(|st| st.st_ino).unwrap_or(0);
        FdRef { inode, pid: std::process::id(), fd: socket.as_raw_fd() as u32 }
    }

    #[test]
    fn our_own_sockets_are_judged_through_a_copy() {
        let fresh = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        assert_eq!(look(&ours(&fresh)), Held::NeverConnected, "socket() and nothing else");
        fresh.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        assert_eq!(look(&ours(&fresh)), Held::NeverConnected, "bound, not connected");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(look(&ours(&listener)), Held::Live, "a listener is hashed");
        let other = FdRef { inode: ours(&listener).inode + 1, ..ours(&listener) };
        assert_eq!(look(&other), Held::Gone, "the fd holds another socket");
        let r = ours(&fresh);
        drop(fresh);
        assert_eq!(
            confirm_by(vec![r], look, || None).stale,
            vec![r.pid],
            "a closed fd marks its process stale"
        );
    }

    /// A connection reset by its peer while this process keeps its end.
    fn reset_end() -> std::net::TcpStream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client =
            socket2::Socket::from(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        let (accepted, _) = listener.accept().unwrap();
        client.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        drop(client);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while look(&ours(&accepted)) != Held::Ghost {
            assert!(std::time::Instant::now() < deadline, "the RST never arrived");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        accepted
    }

    #[test]
    fn without_a_copy_of_the_fd_a_fresh_dump_and_the_link_decide() {
        let ghost = reset_end();
        let r = ours(&ghost);
        let unknown = |_: &FdRef| Held::Unknown;
        let absent = || Some(DumpedInodes::default());
        assert_eq!(
            confirm_by(vec![r], unknown, absent).ghosts,
            vec![r],
            "absent from the fresh dump, still held"
        );
        let present = || Some(DumpedInodes::new([r.inode].into_iter()));
        assert!(confirm_by(vec![r], unknown, present).ghosts.is_empty(), "the fresh dump shows it");
        assert!(confirm_by(vec![r], unknown, || None).ghosts.is_empty(), "no fresh dump: not reported");
        drop(ghost);
        let gone = confirm_by(vec![r], unknown, absent);
        assert!(gone.ghosts.is_empty() && gone.stale == vec![r.pid], "{gone:?}");
    }
}
