//! One integration-test binary: real sockets in private network namespaces
//! (when root), recorded netlink bytes, and the `sockscope` binary itself.

#![allow(clippy::unwrap_used)]

mod actors;
mod allns;
mod bad_input;
mod churn;
mod cli;
mod collector;
mod decode;
mod docs;
mod export;
mod fd_limit;
mod judgement;
mod netns_watch;
mod support;
mod tui;
mod watch;
