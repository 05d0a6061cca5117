//! Front-end formatting. Formatters write to any `io::Write` so tests can
//! capture exactly what a user would see; they never re-derive a diagnosis.
//! Findings are worded here ([`wording`]), from the typed evidence analysis gives.

pub mod escape;
pub(crate) mod evidence;
pub mod human;
pub mod json;
mod json_sockets;
pub(crate) mod netns;
pub mod sockets;
pub mod style;
pub(crate) mod table;
pub(crate) mod time;
pub mod wording;

use crate::model::{Endpoint, Proto, Snapshot};

/// Owners of a socket as `comm(pid)`, comma-separated and escaped; `-` if none.
pub fn owners_text(snapshot: &Snapshot, inode: u64) -> String {
    escape::text(&owners_raw(snapshot, inode)).into_owned()
}

/// The holders of a socket as `comm(pid),...` with the names as the kernel
/// has them, for JSON (which escapes them its own way); `-` for none.
pub fn owners_raw(snapshot: &Snapshot, inode: u64) -> String {
    let mut text = String::new();
    for pid in snapshot.owner_pids(inode) {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(snapshot.comm(pid));
        text.push('(');
        text.push_str(&pid.to_string());
        text.push(')');
    }
    if text.is_empty() {
        text.push('-');
    }
    text
}

/// An error and its causes on one line (`cannot enter ...: Permission denied`).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// What a process listens on, as `tcp:0.0.0.0:80` labels (escaped).
pub fn listening_labels(listening: &[(Proto, Endpoint)]) -> Vec<String> {
    listening
        .iter()
        .map(|(proto, local)| format!("{}:{}", proto.netid(), escape::EndpointText(local)))
        .collect()
}

#[cfg(test)]
mod tests;
