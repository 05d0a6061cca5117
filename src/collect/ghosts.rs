//! Ghost sockets: TCP sockets a process still holds that no dump shows.
//!
//! A TCP socket reset by its peer (or whose connect failed) is unhashed: it
//! is in no sock_diag dump and not in `/proc/net/tcp`, yet the application's
//! fd keeps it alive; only `/proc/PID/fd` still points at its inode. Held
//! socket inodes missing from a full dump are candidates; the socket's own
//! `system.sockprotoname` extended attribute tells TCP from the families we
//! do not dump (netlink, packet...). The answer never changes for an inode,
//! so it is cached.

use std::collections::HashMap;

use super::owner_cache::DumpedInodes;
use crate::model::{FdRef, OwnerIndex};

#[derive(Default)]
pub struct GhostFinder {
    is_tcp: HashMap<u64, bool>,
}

impl GhostFinder {
    /// Held TCP sockets absent from `dumped` (which must cover every TCP state).
    pub fn find(&mut self, owners: &OwnerIndex, dumped: &DumpedInodes) -> Vec<FdRef> {
        let mut seen = HashMap::new();
        let mut ghosts = Vec::new();
        for r in owners.iter().filter(|r| !dumped.contains(r.inode)) {
            let tcp = match self.is_tcp.get(&r.inode) {
                Some(&known) => known,
                None => match protocol_is_tcp(r.pid, r.fd) {
                    Some(tcp) => tcp,
                    None => continue,
                },
            };
            seen.insert(r.inode, tcp);
            if tcp {
                ghosts.push(*r);
            }
        }
        self.is_tcp = seen;
        ghosts
    }
}

/// Reads `system.sockprotoname` of a held socket (`TCP`, `TCPv6`, `UNIX-STREAM`...).
fn protocol_is_tcp(pid: u32, fd: u32) -> Option<bool> {
    let mut name = [0u8; 32];
    let len = rustix::fs::getxattr(format!("/proc/{pid}/fd/{fd}"), "system.sockprotoname", &mut name).ok()?;
    Some(name[..len.min(name.len())].starts_with(b"TCP"))
}
