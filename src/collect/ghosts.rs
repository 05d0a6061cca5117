//! Ghost sockets: TCP sockets a process still holds that no dump shows.
//!
//! A TCP socket reset by its peer (or whose connect failed) is unhashed: it
//! is in no sock_diag dump and not in `/proc/net/tcp`, yet the application's
//! fd keeps it alive; only `/proc/PID/fd` still points at its inode. Held
//! socket inodes missing from a full dump are candidates. Two facts decide,
//! once per inode (they never change, so they are cached):
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

#[derive(Default)]
pub struct GhostFinder {
    kinds: HashMap<u64, Kind>,
}

impl GhostFinder {
    /// Held TCP sockets of the namespace `netns` absent from `dumped` (which
    /// must cover every TCP state of that namespace).
    pub fn find(
        &mut self,
        owners: &OwnerIndex,
        processes: &ProcessTable,
        dumped: &DumpedInodes,
        netns: Option<u64>,
    ) -> Vec<FdRef> {
        let mut seen = HashMap::new();
        let mut ghosts = Vec::new();
        for r in owners.iter().filter(|r| !dumped.contains(r.inode)) {
            let Some(kind) = self.kinds.get(&r.inode).copied().or_else(|| classify(r)) else { continue };
            seen.insert(r.inode, kind);
            let here = match kind {
                Kind::NotTcp => false,
                Kind::Tcp(Some(socket_netns)) => Some(socket_netns) == netns || netns.is_none(),
                Kind::Tcp(None) => processes.get(&r.pid).is_some_and(|p| p.in_netns(netns)),
            };
            if here {
                ghosts.push(*r);
            }
        }
        self.kinds = seen;
        ghosts
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

/// The namespace inode of another process's socket: copy the fd, ask the socket.
fn socket_netns(pid: u32, fd: u32) -> Option<u64> {
    let pidfd = rustix::process::pidfd_open(Pid::from_raw(pid as i32)?, PidfdFlags::empty()).ok()?;
    let socket = rustix::process::pidfd_getfd(&pidfd, fd as i32, PidfdGetfdFlags::empty()).ok()?;
    // SAFETY: SIOCGSKNS takes no argument and returns a new fd we then own.
    let raw = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGSKNS) };
    if raw < 0 {
        return None;
    }
    // SAFETY: `raw` is a fresh descriptor returned by the kernel to us.
    let netns = unsafe { OwnedFd::from_raw_fd(raw) };
    rustix::fs::fstat(&netns).ok().map(|st| st.st_ino)
}
