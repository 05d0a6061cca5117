//! sockscope: a Linux socket-state inspector.
//!
//! Data flows one way (see `docs/architecture.md`):
//!
//! ```text
//! netlink bytes ──► decode ──► Socket records ─┐
//! /proc fds ──────► owners ────────────────────┼─► Snapshot ─► analyze (findings, trends)
//! /proc/sys, /proc/net/netstat ─► host facts ──┘        │            │
//!                                                       ▼            ▼
//!                      faces: output (report, listing, JSON) · watch · tui · export
//! ```
//!
//! [`collect`] owns every read of the OS and implements [`model::Source`];
//! [`model`] holds plain data; [`analyze`] is pure; the faces ([`output`],
//! [`watch`], [`tui`]) only format and interact, taking a `Source` and typed
//! settings. The command line lives in the binary (`src/main.rs`, `src/cli/`).

#![warn(unreachable_pub)]

pub mod analyze;
pub mod collect;
pub mod export;
#[cfg(test)]
pub(crate) mod fixture;
pub mod model;
pub mod output;
#[cfg(test)]
mod properties;
pub mod tui;
pub mod watch;
