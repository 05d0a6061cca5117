//! A finding: one diagnosed problem, its subject and the typed facts behind it.

use std::net::SocketAddr;

use serde::Serialize;

use super::evidence::Evidence;
pub use super::kind::FindingKind;
use crate::model::{Endpoint, Proto};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }

    pub fn parse(text: &str) -> Result<Severity, String> {
        match text.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            _ => Err(format!("unknown severity '{text}' (expected info, warning or critical)")),
        }
    }
}

/// What a finding is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    /// A socket (listener or UDP socket) and the pids holding it.
    Socket {
        proto: Proto,
        local: Endpoint,
        inode: u64,
        pids: Vec<u32>,
    },
    Process {
        pid: u32,
        comm: String,
    },
    /// A remote ip:port our connections go to.
    Destination(SocketAddr),
    /// The whole network namespace.
    Host,
}

/// What identifies a subject across snapshots: a socket by protocol and
/// address (its owners may change), a process by pid and name. Ordered
/// destinations, host, processes, sockets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubjectKey {
    Destination(SocketAddr),
    Host,
    Process { pid: u32, comm: String },
    Socket { proto: Proto, local: Endpoint },
}

impl Subject {
    /// Pids this subject concerns (for `--pid`/`--process` filtering).
    pub fn pids(&self) -> &[u32] {
        match self {
            Subject::Socket { pids, .. } => pids,
            Subject::Process { pid, .. } => std::slice::from_ref(pid),
            _ => &[],
        }
    }

    /// The port this subject concerns (for `--port` filtering).
    pub fn port(&self) -> Option<u16> {
        match self {
            Subject::Socket { local, .. } => local.port(),
            Subject::Destination(addr) => Some(addr.port()),
            _ => None,
        }
    }

    /// The stable identity of this subject (see [`SubjectKey`]).
    pub fn key(&self) -> SubjectKey {
        match self {
            Subject::Socket { proto, local, .. } => {
                SubjectKey::Socket { proto: *proto, local: local.clone() }
            }
            Subject::Process { pid, comm } => SubjectKey::Process { pid: *pid, comm: comm.clone() },
            Subject::Destination(addr) => SubjectKey::Destination(*addr),
            Subject::Host => SubjectKey::Host,
        }
    }
}

/// One diagnosed problem: how bad, about what, and the facts behind it.
/// Front-ends word it (`output::wording`); its kind follows from the evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    pub subject: Subject,
    pub evidence: Evidence,
    /// Inode of the network namespace it was found in, in an all-namespace
    /// snapshot (`model::netns`); `None` in a single-namespace one. Faces
    /// print the namespace's labels from it.
    pub netns: Option<u64>,
}

impl Finding {
    pub fn kind(&self) -> FindingKind {
        self.evidence.kind()
    }

    /// Worst first; then by kind; then by subject and namespace for a stable order.
    pub fn sort(findings: &mut [Finding]) {
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.kind().cmp(&b.kind()))
                .then_with(|| a.subject.key().cmp(&b.subject.key()))
                .then(a.netns.cmp(&b.netns))
        });
    }
}
