//! Finding every network namespace on the host.
//!
//! A namespace is known by the (st_dev, st_ino) of its nsfs file. Three
//! places show them: `/proc/PID/ns/net` of every process, the bind mounts
//! `ip netns add` makes under `/run/netns`, and Docker's under
//! `/var/run/docker/netns` — a namespace may have no process at all and
//! live only through such a mount. Each place is read with `stat` only (no
//! fd held); sightings are then merged by identity ([`merge`], pure), so a
//! namespace seen from 300 processes and one name is listed once, with its
//! name, a few holder pids and every path it can be entered through.
//!
//! Threads of a process may sit in other namespaces than its main thread;
//! they are not looked at (one stat per process keeps discovery cheap).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Directories holding namespace bind mounts, and what their entries are called.
pub const NAMED_DIRS: &[(&str, Place)] =
    &[("/run/netns", Place::IpNetns), ("/var/run/docker/netns", Place::Docker)];

/// Holder pids kept per namespace (for labels and for entering it).
pub const MAX_PIDS: usize = 5;

/// Where a namespace file was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    IpNetns,
    Docker,
}

/// One namespace file seen during discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub dev: u64,
    pub inode: u64,
    pub via: Via,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    Pid(u32),
    Named { place: Place, name: String },
}

/// One distinct namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub dev: u64,
    pub inode: u64,
    /// `ip netns` names, then Docker's file names.
    pub names: Vec<(Place, String)>,
    /// Pids living in it, lowest first: after [`discover`], the lowest
    /// [`MAX_PIDS`] that are not kernel threads (which all live in the
    /// initial namespace and say nothing about it).
    pub pids: Vec<u32>,
    /// How many processes live in it.
    pub processes: u32,
    /// sockscope's own namespace.
    pub own: bool,
}

impl Found {
    /// Files that lead into it, most stable first: a name survives its
    /// processes; a pid may exit or be reused (identity is re-checked).
    pub fn paths(&self) -> Vec<PathBuf> {
        let named = self.names.iter().filter_map(|(place, name)| {
            let dir = NAMED_DIRS.iter().find(|(_, p)| p == place)?.0;
            Some(PathBuf::from(format!("{dir}/{name}")))
        });
        let pids = self.pids.iter().map(|pid| PathBuf::from(format!("/proc/{pid}/ns/net")));
        named.chain(pids).collect()
    }

    /// The name shown for it: its `ip netns` name, else Docker's.
    pub fn name(&self) -> Option<&str> {
        self.names.iter().min().map(|(_, n)| n.as_str())
    }
}

/// What discovery saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Distinct namespaces, by inode; the own namespace is always there.
    pub found: Vec<Found>,
    /// Processes whose namespace could not be read (not root).
    pub unreadable: u32,
}

/// Merges sightings into distinct namespaces. Files on another device than
/// the nsfs (`nsfs_dev`) are not namespaces (a stale `/run/netns` entry is
/// an empty file on tmpfs) and are dropped. `own` is sockscope's identity.
pub fn merge(sightings: impl IntoIterator<Item = Sighting>, nsfs_dev: u64, own: (u64, u64)) -> Vec<Found> {
    let mut by_id: BTreeMap<(u64, u64), Found> = BTreeMap::new();
    by_id.insert(own, Found { dev: own.0, inode: own.1, own: true, ..Found::default() });
    for s in sightings.into_iter().filter(|s| s.dev == nsfs_dev) {
        let found = by_id.entry((s.dev, s.inode)).or_insert_with(|| Found {
            dev: s.dev,
            inode: s.inode,
            ..Found::default()
        });
        match s.via {
            Via::Pid(pid) => {
                found.processes += 1;
                found.pids.push(pid);
            }
            Via::Named { place, name } => found.names.push((place, name)),
        }
    }
    let mut found: Vec<Found> = by_id.into_values().collect();
    for f in &mut found {
        f.pids.sort_unstable();
        f.names.sort();
        f.names.dedup();
    }
    found.sort_by_key(|f| f.inode);
    found
}

/// Looks at every process and named namespace of the host.
pub fn discover() -> std::io::Result<Discovery> {
    let own = identity("/proc/thread-self/ns/net")?;
    let mut sightings = Vec::new();
    let mut unreadable = 0;
    for pid in pids()? {
        match identity(&format!("/proc/{pid}/ns/net")) {
            Ok((dev, inode)) => sightings.push(Sighting { dev, inode, via: Via::Pid(pid) }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => unreadable += 1,
        }
    }
    for (dir, place) in NAMED_DIRS {
        sightings.extend(named(dir, *place));
    }
    let mut found = merge(sightings, own.0, own);
    for f in &mut found {
        f.pids = holders(&f.pids, is_kernel_thread);
    }
    Ok(Discovery { found, unreadable })
}

/// The lowest [`MAX_PIDS`] pids that are not kernel threads (all of the
/// lowest when every one is).
pub fn holders(pids: &[u32], is_kernel_thread: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut chosen: Vec<u32> =
        pids.iter().copied().filter(|&p| !is_kernel_thread(p)).take(MAX_PIDS).collect();
    if chosen.is_empty() {
        chosen = pids.iter().copied().take(MAX_PIDS).collect();
    }
    chosen
}

/// `PF_KTHREAD` in the flags of `/proc/PID/stat`.
const PF_KTHREAD: u64 = 0x0020_0000;

fn is_kernel_thread(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| stat_flags(&t))
        .is_some_and(|f| f & PF_KTHREAD != 0)
}

/// The `flags` field of a `/proc/PID/stat` line (the 9th; the name before
/// it may contain spaces and parentheses, so count from the last `)`).
pub fn stat_flags(stat: &str) -> Option<u64> {
    stat.get(stat.rfind(')')? + 1..)?.split_whitespace().nth(6)?.parse().ok()
}

/// (st_dev, st_ino) of the file `path` leads to.
pub fn identity(path: &str) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::stat(path)?;
    Ok((st.st_dev, st.st_ino))
}

fn pids() -> std::io::Result<Vec<u32>> {
    let mut pids: Vec<u32> =
        std::fs::read_dir("/proc")?.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Namespace files under `dir` (missing directory: none).
fn named(dir: &str, place: Place) -> Vec<Sighting> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (dev, inode) = identity(&format!("{dir}/{name}")).ok()?;
            Some(Sighting { dev, inode, via: Via::Named { place, name } })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NSFS: u64 = 4;

    fn pid(inode: u64, pid: u32) -> Sighting {
        Sighting { dev: NSFS, inode, via: Via::Pid(pid) }
    }

    fn named(inode: u64, place: Place, name: &str) -> Sighting {
        Sighting { dev: NSFS, inode, via: Via::Named { place, name: name.into() } }
    }

    #[test]
    fn sightings_merge_by_identity_with_names_and_lowest_pids() {
        let mut sightings: Vec<Sighting> = (1..=300).map(|p| pid(900, p)).collect();
        sightings.push(pid(901, 4000));
        sightings.push(named(901, Place::IpNetns, "blue"));
        sightings.push(named(902, Place::Docker, "1f2e3d4c5b6a"));
        sightings.push(named(902, Place::IpNetns, "cni-123"));
        let found = merge(sightings, NSFS, (NSFS, 900));
        assert_eq!(found.iter().map(|f| f.inode).collect::<Vec<_>>(), vec![900, 901, 902]);
        assert!(found[0].own && !found[1].own);
        assert_eq!(found[0].processes, 300);
        assert_eq!(found[0].pids.len(), 300);
        assert_eq!(found[1].name(), Some("blue"));
        assert_eq!(found[2].name(), Some("cni-123"), "an ip netns name wins over docker's");
        assert_eq!(found[2].processes, 0, "a namespace may have no process");
        assert_eq!(
            found[1].paths(),
            vec![PathBuf::from("/run/netns/blue"), PathBuf::from("/proc/4000/ns/net")]
        );
    }

    #[test]
    fn holders_are_the_lowest_pids_that_are_not_kernel_threads() {
        let pids: Vec<u32> = (1..=200).collect();
        let kthread = |p: u32| (2..=150).contains(&p);
        assert_eq!(holders(&pids, kthread), vec![1, 151, 152, 153, 154]);
        assert_eq!(holders(&[2, 3], kthread), vec![2, 3], "kernel threads rather than nothing");
    }

    #[test]
    fn stat_flags_survive_hostile_process_names() {
        let kthread = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 10 0 0";
        assert_eq!(stat_flags(kthread), Some(2129984));
        assert!(stat_flags(kthread).is_some_and(|f| f & PF_KTHREAD != 0));
        let nasty = "77 (a) S 1 2 3 (b)) R 1 77 77 0 -1 4194560 10 0 0 0";
        assert_eq!(stat_flags(nasty), Some(4194560));
        assert_eq!(stat_flags("garbage"), None);
        assert_eq!(stat_flags("1 (x) S 1"), None);
    }

    #[test]
    fn files_outside_nsfs_are_not_namespaces() {
        let stale =
            Sighting { dev: 77, inode: 5, via: Via::Named { place: Place::IpNetns, name: "stale".into() } };
        let found = merge([stale, pid(900, 1)], NSFS, (NSFS, 900));
        assert_eq!(found.len(), 1);
        assert!(found[0].names.is_empty());
    }

    #[test]
    fn the_own_namespace_is_listed_even_when_no_process_shows_it() {
        let found = merge(Vec::new(), NSFS, (NSFS, 42));
        assert_eq!(found.len(), 1);
        assert!(found[0].own);
    }

    #[test]
    fn discovery_sees_our_own_namespace_and_ourselves_in_it() {
        let d = discover().unwrap();
        let own = d.found.iter().find(|f| f.own).unwrap();
        assert_eq!(Some(own.inode), identity("/proc/self/ns/net").ok().map(|i| i.1));
        let ours = d.found.iter().find(|f| f.inode == own.inode).unwrap();
        assert!(ours.processes >= 1);
        assert!(d.found.windows(2).all(|w| w[0].inode < w[1].inode));
    }
}
