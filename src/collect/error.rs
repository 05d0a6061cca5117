//! Errors that stop a collection. Everything else degrades into a
//! [`Warning`](crate::model::Warning) on the snapshot.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot use the sock_diag netlink socket{}", out_of_fds(.0))]
    Netlink(#[source] io::Error),

    #[error("the kernel refused the {query} socket dump")]
    Kernel {
        query: String,
        #[source]
        source: io::Error,
    },

    /// The `--netns` argument does not name a usable network namespace
    /// (bad input; the message names the path and the reason).
    #[error("{0}")]
    NoSuchNetns(String),

    #[error("--netns {target}: cannot enter {path}: {reason}")]
    EnterNetns { target: String, path: String, reason: String },

    /// `--pid` names no process (bad input).
    #[error("--pid {0}: no such process")]
    NoSuchProcess(u32),

    /// The process a `--netns PID` target follows has exited.
    #[error("{0}")]
    NetnsGone(String),

    /// The process `--pid` follows has exited.
    #[error("--pid {pid}: the process {why}")]
    ProcessGone { pid: u32, why: &'static str },

    #[error("cannot list processes in /proc{}", out_of_fds(.0))]
    Proc(#[source] io::Error),

    #[error("collector thread panicked")]
    ThreadPanicked,
}

impl CollectError {
    /// True when the error is the user's input, not the system (exit status 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, CollectError::NoSuchNetns(_) | CollectError::NoSuchProcess(_))
    }

    /// The same failure met while checking arguments: bad input, one line.
    pub fn into_bad_input(self) -> CollectError {
        match self {
            CollectError::EnterNetns { .. } => CollectError::NoSuchNetns(self.to_string()),
            CollectError::NetnsGone(message) => CollectError::NoSuchNetns(message),
            other => other,
        }
    }

    /// Whether a repeated collection cannot succeed any more (watch ends).
    pub fn is_final(&self) -> bool {
        matches!(self, CollectError::NetnsGone(_) | CollectError::ProcessGone { .. })
    }
}

/// Says what EMFILE/ENFILE mean for sockscope: its own limit, not privilege.
fn out_of_fds(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) => {
            " (sockscope is out of file descriptors: raise its limit, e.g. ulimit -n, or fs.file-max)"
        }
        _ => "",
    }
}
