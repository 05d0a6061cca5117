//! Ghost sockets: TCP sockets a process still holds that no dump shows.
//!
//! A TCP socket reset by its peer (or whose connect failed) is unhashed: it
//! is in no sock_diag dump and not in `/proc/net/tcp`, yet the application's
//! fd keeps it alive; only `/proc/PID/fd` still points at its inode. A TCP
//! socket that was never connected (created and not bound, or left fresh by
//! a blocking `connect()` that failed: the kernel then zeroes its counters)
//! is in no table either, but it is no dead connection: a pool's spare, a
//! socket about to `connect()`. (A bound one is dumped, as `ss` shows it.)
//! The socket's own `tcp_info` (read through a copy of the fd) tells them
//! apart: a ghost has sent or received segments, a never-connected socket
//! none; a socket not in state CLOSE is in a table after all (created after
//! the dump).
//!
//! Held socket inodes missing from a full dump are candidates. Two facts
//! decide, once per inode (they never change, so they are cached):
//! - the protocol, from the socket's `system.sockprotoname` extended
//!   attribute (TCP, not netlink, packet, UNIX...);
//! - the socket's own network namespace (`SIOCGSKNS` on a copy of the fd
//!   taken with `pidfd_getfd`): a socket of another namespace is absent from
//!   this dump for a good reason. Where the copy is not permitted, the
//!   holding process's namespace stands in for it.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags};

use super::owner_cache::DumpedInodes;
use crate::model::{FdRef, OwnerIndex, ProcessTable};

/// `SIOCGSKNS`: get a socket's network namespace as a new fd.
const SIOCGSKNS: libc::c_ulong = 0x894C;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    NotTcp,
    /// A TCP socket and, when it could be read, its namespace inode.
    Tcp(Option<u64>),
}

/// What a held TCP socket that no dump shows turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Held {
    /// Unhashed after exchanging segments: reset, or its connect failed.
    Ghost,
    /// Never exchanged a segment: created, not connected.
    NeverConnected,
    /// In a table after all: it appeared after the dump.
    Live,
}

/// The held TCP sockets no dump shows, sorted out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Absent {
    pub ghosts: Vec<FdRef>,
    pub never_connected: Vec<FdRef>,
}

#[derive(Default)]
pub(super) struct GhostFinder {
    kinds: HashMap<u64, Kind>,
}

impl GhostFinder {
    /// Held TCP sockets of the namespaces `netns` (empty: unknown, any)
    /// absent from `dumped` (which must cover every TCP state of them),
    /// sorted into dead connections and never-connected sockets.
    pub(super) fn find(
        &mut self,
        owners: &OwnerIndex,
        processes: &ProcessTable,
        dumped: &DumpedInodes,
        netns: &[u64],
    ) -> Absent {
        let mut seen = HashMap::new();
        let mut absent = Absent::default();
        for r in owners.iter().filter(|r| !dumped.contains(r.inode)) {
            let Some(kind) = self.kinds.get(&r.inode).copied().or_else(|| classify(r)) else { continue };
            seen.insert(r.inode, kind);
            let here = match kind {
                Kind::NotTcp => false,
                Kind::Tcp(Some(socket_netns)) => netns.is_empty() || netns.contains(&socket_netns),
                Kind::Tcp(None) => processes
                    .get(&r.pid)
                    .is_some_and(|p| p.netns.is_none_or(|n| netns.is_empty() || netns.contains(&n))),
            };
            if !here {
                continue;
            }
            match held(r) {
                Held::Ghost => absent.ghosts.push(*r),
                Held::NeverConnected => absent.never_connected.push(*r),
                Held::Live => {}
            }
        }
        self.kinds = seen;
        absent
    }
}

/// Looks at a held socket through a copy of its fd. Where no copy may be
/// taken (not permitted), or its `tcp_info` says too little, it counts as a
/// ghost, as the absence from the dump alone suggests.
fn held(r: &FdRef) -> Held {
    let Some(socket) = copy_fd(r.pid, r.fd) else { return Held::Ghost };
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
        _ => Held::Ghost,
    }
}

/// `TCP_CLOSE` in `tcp_info.tcpi_state`: the socket is in no table.
const TCP_CLOSE: u8 = 7;

/// Judges a held socket from its `struct tcp_info`: unhashed (CLOSE) after
/// exchanging segments is a ghost; unhashed with none sent or received was
/// never connected. Kernels older than 4.2 do not count segments: there,
/// CLOSE alone makes a ghost.
pub(super) fn judge_tcp_info(info: &[u8]) -> Held {
    let Some(tcp) = super::decode::raw::tcp_info_with_state(info) else { return Held::Ghost };
    match tcp {
        (state, _) if state != TCP_CLOSE => Held::Live,
        (_, Some((0, 0))) => Held::NeverConnected,
        _ => Held::Ghost,
    }
}

fn classify(r: &FdRef) -> Option<Kind> {
    match protocol_is_tcp(r.pid, r.fd)? {
        false => Some(Kind::NotTcp),
        true => Some(Kind::Tcp(socket_netns(r.pid, r.fd))),
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
    let pidfd = rustix::process::pidfd_open(Pid::from_raw(pid as i32)?, PidfdFlags::empty()).ok()?;
    rustix::process::pidfd_getfd(&pidfd, fd as i32, PidfdGetfdFlags::empty()).ok()
}

/// The namespace inode of another process's socket: copy the fd, ask the socket.
fn socket_netns(pid: u32, fd: u32) -> Option<u64> {
    let socket = copy_fd(pid, fd)?;
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
        assert_eq!(judge_tcp_info(&[]), Held::Ghost);
    }

    fn ours(socket: &(impl std::os::fd::AsFd + AsRawFd)) -> FdRef {
        let inode = rustix::fs::fstat(socket).map(|st| st.st_ino).unwrap_or(0);
        FdRef { inode, pid: std::process::id(), fd: socket.as_raw_fd() as u32 }
    }

    #[test]
    fn our_own_sockets_are_judged_through_a_copy() {
        let fresh = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        assert_eq!(held(&ours(&fresh)), Held::NeverConnected, "socket() and nothing else");
        fresh.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        assert_eq!(held(&ours(&fresh)), Held::NeverConnected, "bound, not connected");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(held(&ours(&listener)), Held::Live, "a listener is hashed");
    }
}
