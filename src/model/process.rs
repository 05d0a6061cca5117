//! Processes and the socket-inode → owner join.
//!
//! `/proc/PID/fd/N -> socket:[INODE]` is the only link from a socket to the
//! processes holding it, and one socket may be held by many (fork, SCM_RIGHTS).
//! [`OwnerIndex`] is built once per scan as a flat vector sorted by inode with
//! a small directory into it, so a lookup is an index and a short search, and
//! a million sockets cost 17 MB, not a hash map of vectors.

use std::collections::BTreeMap;

use serde::Serialize;

/// RLIMIT_NOFILE soft limit of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FdLimit {
    Limited(u64),
    #[serde(serialize_with = "serialize_unlimited")]
    Unlimited,
}

fn serialize_unlimited<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("unlimited")
}

impl FdLimit {
    pub fn value(self) -> Option<u64> {
        match self {
            FdLimit::Limited(n) => Some(n),
            FdLimit::Unlimited => None,
        }
    }
}

/// What the scheduler says a process's main thread is doing: field 3 of
/// `/proc/PID/stat`. A listener drains only while its owner runs `accept()`;
/// a stopped (`T`, `t`) or uninterruptibly sleeping (`D`) owner does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// `R`: running or runnable.
    Running,
    /// `S`: interruptible sleep (waiting for an event: the usual idle server).
    Sleeping,
    /// `D`: uninterruptible sleep (usually I/O); signals wait until it ends.
    DiskSleep,
    /// `T`: stopped by a signal (SIGSTOP, SIGTSTP, Ctrl-Z).
    Stopped,
    /// `t`: stopped by a debugger (ptrace).
    TracingStop,
    /// `Z`: exited, not yet reaped by its parent.
    Zombie,
    /// `X`: being torn down.
    Dead,
    /// `I`: an idle kernel thread.
    Idle,
    /// Any other letter the kernel may report (`P` parked, `W` waking...).
    Other(char),
}

impl RunState {
    pub fn from_letter(letter: char) -> RunState {
        match letter {
            'R' => RunState::Running,
            'S' => RunState::Sleeping,
            'D' => RunState::DiskSleep,
            'T' => RunState::Stopped,
            't' => RunState::TracingStop,
            'Z' => RunState::Zombie,
            'X' | 'x' => RunState::Dead,
            'I' => RunState::Idle,
            other => RunState::Other(other),
        }
    }

    /// The letter `ps` and `/proc/PID/stat` use.
    pub fn letter(self) -> char {
        match self {
            RunState::Running => 'R',
            RunState::Sleeping => 'S',
            RunState::DiskSleep => 'D',
            RunState::Stopped => 'T',
            RunState::TracingStop => 't',
            RunState::Zombie => 'Z',
            RunState::Dead => 'X',
            RunState::Idle => 'I',
            RunState::Other(c) => c,
        }
    }

    /// In words, for people.
    pub fn describe(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Sleeping => "sleeping",
            RunState::DiskSleep => "in uninterruptible sleep (D)",
            RunState::Stopped => "stopped (T)",
            RunState::TracingStop => "stopped by a debugger (t)",
            RunState::Zombie => "a zombie (Z)",
            RunState::Dead => "exiting (X)",
            RunState::Idle => "idle",
            RunState::Other(_) => "in an unusual state",
        }
    }

    /// Whether a process in this state cannot run `accept()` now.
    pub fn cannot_run(self) -> bool {
        matches!(
            self,
            RunState::DiskSleep
                | RunState::Stopped
                | RunState::TracingStop
                | RunState::Zombie
                | RunState::Dead
        )
    }
}

impl Serialize for RunState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 4];
        s.serialize_str(self.letter().encode_utf8(&mut buf))
    }
}

/// One process seen during the `/proc` scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// The kernel's `comm` (at most 15 bytes, chosen by the process: untrusted).
    pub comm: String,
    pub uid: Option<u32>,
    /// Open file descriptors; `None` when `/proc/PID/fd` could not be read.
    pub fd_count: Option<u32>,
    /// How many of those fds are sockets.
    pub socket_fds: u32,
    pub fd_limit: Option<FdLimit>,
    /// Command line, read only when asked for (untrusted bytes, lossily decoded).
    pub cmdline: Option<String>,
    /// Inode of the network namespace the process is in (`None` if unreadable).
    pub netns: Option<u64>,
    /// Its state at this scan (re-read every scan, even when its fds are reused).
    pub state: Option<RunState>,
}

impl Process {
    /// Whether the process may be in the namespace `netns` (unknown counts as yes).
    pub fn in_netns(&self, netns: Option<u64>) -> bool {
        match (self.netns, netns) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        }
    }
}

impl Process {
    /// Whether it has as many fds open as RLIMIT_NOFILE allows: its next
    /// `open()`, `socket()` or `accept()` fails with EMFILE.
    pub fn at_fd_limit(&self) -> bool {
        match (self.fd_count, self.fd_limit.and_then(FdLimit::value)) {
            (Some(used), Some(limit)) => u64::from(used) >= limit,
            _ => false,
        }
    }

    /// Share of RLIMIT_NOFILE in use, in percent.
    pub fn fd_usage_pct(&self) -> Option<f64> {
        let limit = self.fd_limit?.value()?;
        let used = self.fd_count?;
        (limit > 0).then(|| f64::from(used) * 100.0 / limit as f64)
    }
}

/// One open socket fd: the process and descriptor holding an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FdRef {
    pub inode: u64,
    pub pid: u32,
    pub fd: u32,
}

/// Socket inode → holders: refs sorted by inode, plus a directory of where
/// each range of inodes starts, because every output looks owners up once
/// per socket. Socket inodes come from one counter, so they spread evenly
/// enough over their range for a bucket of the directory to hold a few refs;
/// a lookup is an index and a search within one bucket. At a million
/// sockets this costs 17 MB (a hash map of runs cost 50 MB).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerIndex {
    refs: Vec<FdRef>,
    /// The smallest inode in `refs`.
    base: u64,
    /// Bucket of an inode: `(inode - base) >> shift`.
    shift: u32,
    /// `dir[b]`: index of the first ref in bucket `b` or later; one more
    /// entry than there are buckets.
    dir: Vec<u32>,
}

/// Refs per directory bucket, on average.
const REFS_PER_BUCKET: usize = 4;

impl OwnerIndex {
    pub fn from_refs(mut refs: Vec<FdRef>) -> OwnerIndex {
        refs.sort_unstable();
        let (Some(first), Some(last)) = (refs.first(), refs.last()) else { return OwnerIndex::default() };
        let (base, span) = (first.inode, last.inode - first.inode);
        let wanted = (refs.len() / REFS_PER_BUCKET).max(1) as u64;
        let shift = (u64::BITS - (span / wanted).leading_zeros()).min(63);
        let buckets = (span >> shift) as usize + 1;
        let mut dir = Vec::with_capacity(buckets + 1);
        let mut i = 0;
        for b in 0..buckets as u64 {
            while i < refs.len() && (refs[i].inode - base) >> shift < b {
                i += 1;
            }
            dir.push(i as u32);
        }
        dir.push(refs.len() as u32);
        OwnerIndex { refs, base, shift, dir }
    }

    /// Every fd holding `inode`, by pid (empty for inode 0: TIME-WAIT and SYN-RECV rows).
    pub fn owners(&self, inode: u64) -> &[FdRef] {
        let Some(offset) = inode.checked_sub(self.base) else { return &[] };
        let bucket = (offset >> self.shift) as usize;
        let (Some(&lo), Some(&hi)) = (self.dir.get(bucket), self.dir.get(bucket + 1)) else { return &[] };
        let within = &self.refs[lo as usize..hi as usize];
        let start = within.partition_point(|r| r.inode < inode);
        let len = within[start..].partition_point(|r| r.inode == inode);
        &within[start..start + len]
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.refs.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FdRef> {
        self.refs.iter()
    }
}

/// Processes by pid, in pid order so every output is deterministic.
pub type ProcessTable = BTreeMap<u32, Process>;

/// What the `/proc` scan could and could not see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScanStats {
    pub processes: u32,
    /// Processes whose fd table we were not allowed to read (not root).
    pub unreadable: u32,
    /// Processes left unread because sockscope ran out of file descriptors
    /// (EMFILE/ENFILE): a limit to raise, not a permission to grant.
    pub exhausted: u32,
    /// Processes that exited while we were scanning them.
    pub vanished: u32,
    pub socket_fds: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(inode: u64, pid: u32, fd: u32) -> FdRef {
        FdRef { inode, pid, fd }
    }

    #[test]
    fn finds_every_owner_of_a_shared_socket() {
        let index = OwnerIndex::from_refs(vec![r(9, 1, 3), r(5, 2, 4), r(9, 7, 8), r(1, 1, 1)]);
        let owners: Vec<u32> = index.owners(9).iter().map(|o| o.pid).collect();
        assert_eq!(owners, vec![1, 7]);
        assert_eq!(index.owners(5).len(), 1);
        assert!(index.owners(6).is_empty());
        assert!(index.owners(0).is_empty());
    }

    #[test]
    fn lookups_agree_with_a_scan_over_dense_sparse_and_skewed_inodes() {
        let sets: [Vec<u64>; 4] = [
            (1000..3000).collect(),
            (0..500).map(|i| 4_026_531_000 + i * 7919).collect(),
            (0..300).map(|i| if i < 290 { 50 + i } else { u64::MAX - 10 + (i - 290) }).collect(),
            vec![42],
        ];
        for inodes in sets {
            let refs: Vec<FdRef> = inodes
                .iter()
                .enumerate()
                .flat_map(|(i, &n)| (0..(i % 3) as u32).map(move |k| r(n, k + 1, k)))
                .collect();
            let index = OwnerIndex::from_refs(refs.clone());
            for &n in &inodes {
                let want = refs.iter().filter(|x| x.inode == n).count();
                assert_eq!(index.owners(n).len(), want, "inode {n}");
                assert!(index.owners(n).iter().all(|x| x.inode == n));
                assert!(index.owners(n.wrapping_add(1)).iter().all(|x| x.inode == n.wrapping_add(1)));
            }
            assert!(index.owners(0).is_empty() || inodes.contains(&0));
        }
        assert!(OwnerIndex::from_refs(Vec::new()).owners(5).is_empty());
    }

    #[test]
    fn fd_usage_needs_a_finite_limit() {
        let mut p = Process {
            pid: 1,
            comm: "x".into(),
            uid: None,
            fd_count: Some(800),
            socket_fds: 0,
            fd_limit: Some(FdLimit::Limited(1000)),
            cmdline: None,
            netns: None,
            state: Some(RunState::Sleeping),
        };
        assert_eq!(p.fd_usage_pct(), Some(80.0));
        assert!(!p.at_fd_limit());
        p.fd_count = Some(1000);
        assert!(p.at_fd_limit(), "the next open() fails with EMFILE");
        p.fd_limit = Some(FdLimit::Unlimited);
        assert_eq!(p.fd_usage_pct(), None);
        assert!(!p.at_fd_limit());
    }

    #[test]
    fn run_states_round_trip_their_letters() {
        for c in ['R', 'S', 'D', 'T', 't', 'Z', 'X', 'I', 'P'] {
            assert_eq!(RunState::from_letter(c).letter(), c);
        }
        assert!(RunState::from_letter('T').cannot_run() && RunState::from_letter('t').cannot_run());
        assert!(RunState::from_letter('D').cannot_run());
        assert!(!RunState::from_letter('S').cannot_run() && !RunState::from_letter('R').cannot_run());
        assert_eq!(serde_json::to_string(&RunState::TracingStop).unwrap(), "\"t\"");
    }
}
