//! sockscope: a Linux socket-state inspector.
//!
//! Data flows one way:
//!
//! ```text
//! netlink bytes ──► decode ──► Socket records ─┐
//! /proc fds ──────► owners ────────────────────┼─► Snapshot ─► analyze (findings)
//! /proc/sys, /proc/net/netstat ─► host facts ──┘        │            │
//!                                                       ▼            ▼
//!                                        front-ends: dump (table/JSON), ...
//! ```
//!
//! [`collect`] owns every read of the OS; [`model`] holds plain data;
//! [`analyze`] is pure; [`output`] only formats.

pub mod analyze;
pub mod app;
pub mod cli;
pub mod collect;
#[doc(hidden)]
pub mod fixture;
pub mod model;
pub mod output;
pub mod report;
pub mod select;
pub mod signals;
pub mod tui;
pub mod watch;
