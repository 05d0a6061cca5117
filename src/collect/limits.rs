//! sockscope's own file-descriptor limit.
//!
//! Many systems start processes with a soft RLIMIT_NOFILE of 1024 while the
//! hard limit is far higher. sockscope needs few fds at a time (it never holds
//! one per process), but a transient shortage would cost owners, so it raises
//! its soft limit to the hard limit before doing anything else. Raising a soft
//! limit up to the hard one needs no privilege.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The soft fd limit before and after [`raise_fd_limit`] (`None`: unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdLimitChange {
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit. Never fails:
/// if the kernel refuses, the old limit stays and the scan reports any
/// shortage as resource exhaustion.
pub fn raise_fd_limit() -> FdLimitChange {
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit { current: limit.maximum, maximum: limit.maximum };
    let after = match limit.current == limit.maximum || setrlimit(Resource::Nofile, raised).is_err() {
        true => limit.current,
        false => limit.maximum,
    };
    FdLimitChange { before: limit.current, after }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lowers the soft limit and raises it again in a forked child, so the
    /// test process's own limit never changes under the other tests.
    #[test]
    fn the_soft_limit_rises_to_the_hard_limit() {
        // SAFETY: the child only makes raw syscalls (getrlimit, setrlimit) and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let hard = getrlimit(Resource::Nofile).maximum;
            let lowered = setrlimit(Resource::Nofile, Rlimit { current: Some(64), maximum: hard });
            let change = raise_fd_limit();
            let ok = lowered.is_ok()
                && change.before == Some(64)
                && change.after == hard
                && getrlimit(Resource::Nofile).current == hard
                && raise_fd_limit().before == hard;
            // SAFETY: leaving the forked child without running any destructors.
            unsafe { libc::_exit(i32::from(!ok)) };
        }
        let mut status = 0;
        // SAFETY: waiting for the child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "status {status}");
    }
}
