//! Many small processes, each holding one UDP socket of its own, made by
//! forking this test process: the host with thousands of processes that a
//! 1024 fd limit cannot hold one fd each for.
//!
//! Each child first closes every inherited descriptor (it must not become a
//! second owner of another test's sockets), then binds its socket, reports
//! ready on a pipe and blocks reading a second pipe, so it exits as soon as
//! the [`Holders`] are dropped (or this process dies). The child makes raw
//! syscalls only, which is what a fork of a multi-threaded process allows.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct Holders {
    pub pids: Vec<u32>,
    stop: Option<OwnedFd>,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fresh descriptors, which we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just returned to us by the kernel.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Holders {
    /// Forks `n` processes in the calling thread's network namespace and
    /// waits until each holds its bound UDP socket.
    pub fn spawn(n: usize) -> Holders {
        let (ready_r, ready_w) = pipe();
        let (stop_r, stop_w) = pipe();
        let mut pids = Vec::with_capacity(n);
        for _ in 0..n {
            // SAFETY: the child runs only `hold`, which makes raw syscalls and never returns.
            match unsafe { libc::fork() } {
                0 => hold(ready_w.as_raw_fd(), stop_r.as_raw_fd()),
                pid if pid > 0 => pids.push(pid as u32),
                _ => panic!("fork: {}", std::io::Error::last_os_error()),
            }
        }
        drop(ready_w);
        let mut ready = vec![0u8; n];
        std::fs::File::from(ready_r).read_exact(&mut ready).expect("every holder ready");
        assert!(ready.iter().all(|&b| b == b'+'), "a holder could not bind its socket");
        Holders { pids, stop: Some(stop_w) }
    }
}

/// The child: keeps the two pipe ends, closes every other descriptor.
fn hold(ready: i32, stop: i32) -> ! {
    let (lo, hi) = (ready.min(stop) as u32, ready.max(stop) as u32);
    // SAFETY: raw syscalls on descriptors this child owns; it ends in _exit.
    unsafe {
        if lo > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, lo - 1, 0u32);
        }
        if hi > lo + 1 {
            libc::syscall(libc::SYS_close_range, lo + 1, hi - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, hi + 1, u32::MAX, 0u32);
        let socket = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let bound = libc::bind(
            socket,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let mark: u8 = if socket >= 0 && bound == 0 { b'+' } else { b'-' };
        libc::write(ready, (&mark as *const u8).cast(), 1);
        libc::close(ready);
        let mut byte = 0u8;
        while libc::read(stop, (&mut byte as *mut u8).cast(), 1) < 0 {}
        libc::_exit(0)
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        drop(self.stop.take());
        for &pid in &self.pids {
            let mut status = 0;
            // SAFETY: reaping our own children, which exit once `stop` is closed.
            unsafe { libc::waitpid(pid as i32, &mut status, 0) };
        }
    }
}
