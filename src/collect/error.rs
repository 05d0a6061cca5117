//! Errors that stop a collection. Everything else degrades into a
//! [`Warning`](crate::model::Warning) on the snapshot.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot use the sock_diag netlink socket")]
    Netlink(#[source] io::Error),

    #[error("the kernel refused the {query} socket dump")]
    Kernel {
        query: String,
        #[source]
        source: io::Error,
    },

    /// The `--netns` argument does not name a usable namespace (bad input).
    #[error("{0}")]
    NoSuchNetns(String),

    #[error("cannot enter network namespace {target}{hint}")]
    EnterNetns {
        target: String,
        #[source]
        source: io::Error,
        hint: &'static str,
    },

    #[error("cannot list processes in /proc")]
    Proc(#[source] io::Error),

    #[error("collector thread panicked")]
    ThreadPanicked,
}

impl CollectError {
    /// True when the error is the user's input, not the system (exit status 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, CollectError::NoSuchNetns(_))
    }
}
