//! `ss` as the reference implementation: run it for the same sockets and
//! parse what it prints.

use std::process::Command;

use super::Lab;

/// One line of `ss -Hane`: state, queues, endpoints, inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsRow {
    pub netid: String,
    pub state: String,
    pub recv_q: u32,
    pub send_q: u32,
    pub local: String,
    pub peer: String,
    pub inode: u64,
    /// `skmem` drops (`d` field), when `-m` was given.
    pub drops: Option<u32>,
}

pub fn available() -> bool {
    Command::new("ss").arg("-V").output().is_ok_and(|o| o.status.success())
}

/// Runs `ss -Hanem <protocols> <filter>` inside the lab and parses every row.
/// `protocols` is `-tu` or `-x` (ss applies no port filter to a mix with UNIX).
pub fn rows(lab: &Lab, protocols: &str, filter: &[&str]) -> Vec<SsRow> {
    let output =
        lab.run(|| Command::new("ss").arg("-Hanem").arg(protocols).args(filter).output().expect("run ss"));
    assert!(output.status.success(), "ss failed: {}", String::from_utf8_lossy(&output.stderr));
    parse(&String::from_utf8_lossy(&output.stdout))
}

fn parse(text: &str) -> Vec<SsRow> {
    let mut rows: Vec<SsRow> = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("skmem:") {
            if let Some(row) = rows.last_mut() {
                row.drops = skmem_drops(line);
            }
            continue;
        }
        if let Some(row) = parse_row(line) {
            rows.push(row);
        }
    }
    rows
}

fn parse_row(line: &str) -> Option<SsRow> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let netid = *f.first()?;
    // UNIX rows print `path inode` and `* peer-inode` as their endpoints.
    let (peer, inode) = match netid.starts_with("u_") {
        true => (f.get(7)?, f.get(5)?.parse().ok()?),
        false => (
            f.get(5)?,
            f.iter().find_map(|w| w.strip_prefix("ino:")).and_then(|n| n.parse().ok()).unwrap_or(0),
        ),
    };
    Some(SsRow {
        netid: netid.to_string(),
        state: f.get(1)?.to_string(),
        recv_q: f.get(2)?.parse().ok()?,
        send_q: f.get(3)?.parse().ok()?,
        local: f.get(4)?.to_string(),
        peer: peer.to_string(),
        inode,
        drops: if netid.starts_with("u_") { None } else { skmem_drops(line) },
    })
}

fn skmem_drops(line: &str) -> Option<u32> {
    let inner = line.split("skmem:(").nth(1)?.split(')').next()?;
    inner.split(',').find_map(|f| f.strip_prefix('d')).and_then(|d| d.parse().ok())
}
