//! A lab: a private network namespace per test when root (so tests see only
//! their own sockets and may change per-namespace sysctls), or the host's
//! namespace, loudly, when not.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use sockscope::analyze::{self, Analysis, Thresholds};
use sockscope::collect::{self, NetnsTarget, Request};
use sockscope::model::Snapshot;

use super::{is_root, loud};

pub struct Lab {
    netns: Option<File>,
}

impl Lab {
    /// A fresh namespace with `lo` up (root), else the host namespace.
    pub fn new(test: &str) -> Lab {
        if !is_root() {
            loud(&format!(
                "{test}: not root, so no private network namespace; testing in the host namespace"
            ));
            return Lab { netns: None };
        }
        let netns = std::thread::spawn(|| {
            // SAFETY: unshare affects only this (fresh, single-purpose) thread's namespaces.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
            loopback_up();
            File::open("/proc/thread-self/ns/net").expect("open netns")
        })
        .join()
        .expect("lab thread");
        Lab { netns: Some(netns) }
    }

    pub fn is_private(&self) -> bool {
        self.netns.is_some()
    }

    /// Runs `work` on a thread inside the lab's namespace: sockets it creates
    /// live there, and child processes it spawns start there.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        let Some(netns) = &self.netns else {
            return work();
        };
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    move_into_link_name_space(netns.as_fd(), Some(LinkNameSpaceType::Network))
                        .expect("setns");
                    work()
                })
                .join()
                .expect("lab thread panicked")
        })
    }

    /// The collector's target for this lab.
    pub fn target(&self) -> NetnsTarget {
        match &self.netns {
            Some(f) => NetnsTarget::parse(&format!("/proc/self/fd/{}", f.as_raw_fd())).expect("lab netns"),
            None => NetnsTarget::Current,
        }
    }

    /// `--netns` arguments for running the binary against this lab.
    pub fn netns_args(&self) -> Vec<String> {
        match &self.netns {
            Some(f) => vec!["--netns".into(), format!("/proc/{}/fd/{}", std::process::id(), f.as_raw_fd())],
            None => Vec::new(),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let request = Request { tcp_info: true, netns: self.target(), ..Request::default() };
        collect::collect(&request).expect("collect")
    }

    pub fn analyze(&self, thresholds: &Thresholds) -> (Snapshot, Analysis) {
        let snapshot = self.snapshot();
        let analysis = analyze::analyze(&snapshot, thresholds);
        (snapshot, analysis)
    }

    /// Sets a per-namespace sysctl inside the lab (private labs only).
    pub fn sysctl(&self, name: &str, value: &str) {
        assert!(self.is_private(), "sysctls may only be changed in a private lab");
        let path = sockscope::collect::sysctl_path(name);
        self.run(|| std::fs::write(&path, value)).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }
}

/// `ip link set lo up`, by ioctl, in the calling thread's namespace.
pub fn loopback_up() {
    // SAFETY: plain socket/ioctl calls on a zeroed, correctly sized ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        assert_eq!(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req), 0);
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        assert_eq!(libc::ioctl(fd, libc::SIOCSIFFLAGS, &req), 0);
        libc::close(fd);
    }
}
