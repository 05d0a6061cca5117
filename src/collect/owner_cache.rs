//! Owners across repeated collections, without rescanning every fd each time.
//!
//! The first scan reads every process's fd table. Later scans re-read a
//! process only when something says its sockets may have changed:
//! - its open-fd count moved (on Linux >= 6.2 `stat()` of `/proc/PID/fd`
//!   reports the count in `st_size`: one syscall instead of a readlink per fd),
//! - one of its sockets that the previous dump showed is gone from this dump
//!   (a connection closed and another opened: same count, new inode),
//! - the pid now belongs to a different process (start time changed).
//!
//! A socket inode that no cached process holds and that was not already
//! ownerless last time (a non-socket fd swapped for a socket) triggers a full
//! rescan, as does every `full_every`-th refresh, so the cache can be wrong
//! for one refresh at most. On kernels without the fd-count probe every
//! process is re-read each time. A process whose fd table could not be read
//! because sockscope ran out of fds, or whose listing stopped on an error, is
//! never reused: the next refresh retries. (Denied reads are reused: being
//! denied does not change from one refresh to the next.)
//! The ghost check may also mark a process stale (a held socket it was about
//! to report turned out closed).

use std::collections::{HashMap, HashSet};

use super::error::CollectError;
use super::owners::{self, FdAccess, ReadError, ScanOptions};
use super::parallel::parallel_map;
use crate::model::{FdRef, OwnerIndex, ProcessTable, RunState, ScanStats};

/// Everything one scan learned.
#[derive(Clone, Debug, Default)]
pub struct OwnerScan {
    pub processes: ProcessTable,
    pub index: OwnerIndex,
    pub stats: ScanStats,
}

/// Scans `/proc` for socket owners, once.
pub fn scan(options: &ScanOptions) -> Result<OwnerScan, CollectError> {
    OwnerCache::default().fill(options)
}

/// Socket inodes of one dump, sorted for binary search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DumpedInodes(Vec<u64>);

impl DumpedInodes {
    pub fn new(inodes: impl Iterator<Item = u64>) -> DumpedInodes {
        let mut v: Vec<u64> = inodes.filter(|&i| i != 0).collect();
        v.sort_unstable();
        v.dedup();
        DumpedInodes(v)
    }

    pub fn contains(&self, inode: u64) -> bool {
        self.0.binary_search(&inode).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().copied()
    }
}

struct Entry {
    start_time: u64,
    fd_probe: Option<u64>,
    process: crate::model::Process,
    access: FdAccess,
    refs: Vec<FdRef>,
}

impl Entry {
    /// Whether the cached fd table can stand for this refresh.
    fn unchanged(&self, probe: &Probe, dumped: &DumpedInodes, previous: &DumpedInodes) -> bool {
        self.start_time == probe.start_time
            && matches!(self.access, FdAccess::Read | FdAccess::Denied)
            && probe.fd_count.is_some()
            && self.fd_probe == probe.fd_count
            && self.refs.iter().all(|r| !previous.contains(r.inode) || dumped.contains(r.inode))
    }
}

/// The cheap per-process check: start time (pid reuse) and open-fd count,
/// plus the run state, which changes without any fd changing (SIGSTOP).
struct Probe {
    start_time: u64,
    comm: String,
    fd_count: Option<u64>,
    state: RunState,
}

impl Probe {
    fn read(pid: u32) -> Result<Probe, ReadError> {
        let stat = owners::read_stat(pid)?;
        let fd_count = owners::fd_count_probe(pid);
        let state = RunState::from_letter(stat.state);
        Ok(Probe { start_time: stat.start_time, comm: stat.comm, fd_count, state })
    }
}

/// How the last refresh went (for benchmarks and the status line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefreshStats {
    pub reused: u32,
    pub rescanned: u32,
    pub full: bool,
}

pub struct OwnerCache {
    entries: HashMap<u32, Entry>,
    ownerless: HashSet<u64>,
    refreshes: u32,
    full_every: u32,
    pub last: RefreshStats,
}

impl Default for OwnerCache {
    fn default() -> Self {
        OwnerCache::new(60)
    }
}

impl OwnerCache {
    /// A cache that rescans everything at least every `full_every` refreshes.
    pub fn new(full_every: u32) -> OwnerCache {
        OwnerCache {
            entries: HashMap::new(),
            ownerless: HashSet::new(),
            refreshes: 0,
            full_every: full_every.max(1),
            last: RefreshStats::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Makes the next refresh re-read this process.
    pub fn invalidate(&mut self, pid: u32) {
        if let Some(entry) = self.entries.get_mut(&pid) {
            entry.fd_probe = None;
        }
    }

    /// Reads every process (the first refresh; may run alongside the dump).
    pub fn fill(&mut self, options: &ScanOptions) -> Result<OwnerScan, CollectError> {
        self.refreshes = 1;
        let empty = DumpedInodes::default();
        self.update(options, &empty, &empty, true)
    }

    /// Records which dumped sockets had no owner after a [`fill`](Self::fill).
    pub fn note_ownerless(&mut self, dumped: &DumpedInodes, index: &OwnerIndex) {
        self.ownerless = ownerless(dumped, index);
    }

    /// Owners for the sockets of `dumped`, given what the previous dump showed.
    pub fn refresh(
        &mut self,
        options: &ScanOptions,
        dumped: &DumpedInodes,
        previous: &DumpedInodes,
    ) -> Result<OwnerScan, CollectError> {
        let full = self.entries.is_empty() || self.refreshes.is_multiple_of(self.full_every);
        self.refreshes = self.refreshes.wrapping_add(1);
        let mut scan = self.update(options, dumped, previous, full)?;
        let ownerless = ownerless(dumped, &scan.index);
        if !full && ownerless.iter().any(|i| !self.ownerless.contains(i)) {
            scan = self.update(options, dumped, previous, true)?;
            self.note_ownerless(dumped, &scan.index);
        } else {
            self.ownerless = ownerless;
        }
        Ok(scan)
    }

    fn update(
        &mut self,
        options: &ScanOptions,
        dumped: &DumpedInodes,
        previous: &DumpedInodes,
        full: bool,
    ) -> Result<OwnerScan, CollectError> {
        let mut stats = ScanStats::default();
        let mut last = RefreshStats { full, ..RefreshStats::default() };
        let mut fresh = HashMap::with_capacity(self.entries.len());
        let mut stale = Vec::new();
        for pid in owners::pids(&options.scope)? {
            let probe = match Probe::read(pid) {
                Ok(probe) if options.scope.keeps_comm(&probe.comm) => probe,
                Ok(_) => continue,
                Err(ReadError::Exhausted) => {
                    stats.exhausted += 1;
                    continue;
                }
                Err(_) => {
                    stats.vanished += 1;
                    continue;
                }
            };
            match self.entries.remove(&pid) {
                Some(mut entry) if !full && entry.unchanged(&probe, dumped, previous) => {
                    last.reused += 1;
                    entry.process.state = Some(probe.state);
                    fresh.insert(pid, entry);
                }
                _ => stale.push((pid, probe)),
            }
        }
        stale.sort_by_key(|(_, probe)| std::cmp::Reverse(probe.fd_count.unwrap_or(u64::MAX)));
        let reread = parallel_map(&stale, |(pid, probe)| {
            let mut refs = Vec::new();
            let (process, access) = owners::read_process_into(*pid, probe.comm.clone(), options, &mut refs)?;
            let process = crate::model::Process { state: Some(probe.state), ..process };
            Some(Entry { start_time: probe.start_time, fd_probe: probe.fd_count, process, access, refs })
        })?;
        stats.vanished += (stale.len() - reread.iter().flatten().count()) as u32;
        for entry in reread.into_iter().flatten() {
            last.rescanned += 1;
            fresh.insert(entry.process.pid, entry);
        }
        self.entries = fresh;
        self.last = last;
        Ok(self.assemble(stats))
    }

    fn assemble(&self, mut stats: ScanStats) -> OwnerScan {
        let mut processes = ProcessTable::new();
        let mut refs = Vec::with_capacity(self.entries.values().map(|e| e.refs.len()).sum());
        for (pid, entry) in &self.entries {
            stats.processes += 1;
            stats.unreadable += u32::from(entry.access == FdAccess::Denied);
            stats.exhausted += u32::from(entry.access == FdAccess::Exhausted);
            stats.socket_fds += entry.process.socket_fds;
            refs.extend_from_slice(&entry.refs);
            processes.insert(*pid, entry.process.clone());
        }
        OwnerScan { processes, index: OwnerIndex::from_refs(refs), stats }
    }
}

fn ownerless(dumped: &DumpedInodes, index: &OwnerIndex) -> HashSet<u64> {
    dumped.iter().filter(|&i| index.owners(i).is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(access: FdAccess) -> Entry {
        let process = crate::model::Process {
            pid: 7,
            comm: "api".into(),
            uid: None,
            fd_count: None,
            socket_fds: 0,
            fd_limit: None,
            cmdline: None,
            netns: None,
            state: None,
        };
        Entry { start_time: 1, fd_probe: Some(10), process, access, refs: Vec::new() }
    }

    #[test]
    fn reads_cut_short_by_our_own_limits_are_counted_apart_and_retried() {
        let probe =
            Probe { start_time: 1, comm: "api".into(), fd_count: Some(10), state: RunState::Sleeping };
        let none = DumpedInodes::default();
        assert!(entry(FdAccess::Read).unchanged(&probe, &none, &none));
        assert!(entry(FdAccess::Denied).unchanged(&probe, &none, &none), "denied stays denied");
        assert!(!entry(FdAccess::Exhausted).unchanged(&probe, &none, &none), "retried next refresh");
        assert!(!entry(FdAccess::Partial).unchanged(&probe, &none, &none), "retried next refresh");
        let mut cache = OwnerCache::default();
        cache.entries.insert(7, entry(FdAccess::Exhausted));
        let scan = cache.assemble(ScanStats::default());
        assert_eq!((scan.stats.exhausted, scan.stats.unreadable), (1, 0), "not a permission problem");
    }
}
