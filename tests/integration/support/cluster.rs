//! A fake container host for `--all-netns` tests: named namespaces made by
//! `ip netns add`, an unnamed one held by an `unshare --net` process,
//! holder processes placed in cgroups whose paths follow the kubepods,
//! docker and containerd patterns, and a kubelet-style pod log directory.
//! Everything is removed on drop (holders first, then cgroups, namespaces).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `ip netns add NAME` with `lo` up; `ip netns del` on drop.
pub struct NamedNetns {
    pub name: String,
}

impl NamedNetns {
    pub fn new(prefix: &str) -> NamedNetns {
        let name = unique(prefix);
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        NamedNetns { name }
    }

    pub fn inode(&self) -> u64 {
        std::fs::metadata(format!("/run/netns/{}", self.name)).expect("netns file").ino()
    }

    /// Sets a sysctl inside the namespace (`net.core.somaxconn`, ...).
    pub fn sysctl(&self, name: &str, value: &str) {
        run("ip", &["netns", "exec", &self.name, "sysctl", "-q", "-w", &format!("{name}={value}")]);
    }

    /// Deletes it now (the drop then does nothing).
    pub fn delete(&mut self) {
        if !self.name.is_empty() {
            let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
            self.name.clear();
        }
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        self.delete();
    }
}

/// Listens on 127.0.0.1:PORT with BACKLOG, opens CLIENTS connections that
/// are never accepted, says `ready`, then waits to be killed.
const HOLDER: &str = r#"
import socket, sys, time
port, backlog, clients = map(int, sys.argv[1:4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(backlog)
held = []
for _ in range(clients):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", port))
    held.append(c)
print("ready", flush=True)
while True:
    time.sleep(60)
"#;

/// A process living in some namespace; killed and reaped on drop.
pub struct Holder {
    child: Child,
}

impl Holder {
    /// A listener holder inside the named namespace.
    pub fn listener(netns: &NamedNetns, port: u16, backlog: u32, clients: u32) -> Holder {
        let args = [port.to_string(), backlog.to_string(), clients.to_string()];
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &netns.name, "python3", "-c", HOLDER]).args(args);
        Holder::ready(cmd)
    }

    /// `unshare --net` around a listener holder: a namespace with no name.
    pub fn unshared(port: u16) -> Holder {
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "python3", "-c", HOLDER, &port.to_string(), "16", "0"]);
        Holder::ready(cmd)
    }

    fn ready(mut cmd: Command) -> Holder {
        let mut child = cmd.stdout(Stdio::piped()).stdin(Stdio::null()).spawn().expect("spawn holder");
        let stdout = child.stdout.take().expect("holder stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("holder output");
        assert_eq!(line.trim(), "ready", "holder did not start");
        Holder { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The inode of the namespace it lives in.
    pub fn netns_inode(&self) -> u64 {
        std::fs::metadata(format!("/proc/{}/ns/net", self.pid())).expect("ns link").ino()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private subtree of a cgroup hierarchy; processes placed under it must
/// be gone before it is dropped (declare it before the holders).
pub struct Cgroups {
    mount: PathBuf,
    top: PathBuf,
}

impl Cgroups {
    /// Under the cgroup2 mount (`/sys/fs/cgroup` or `/sys/fs/cgroup/unified`),
    /// else a cgroup v1 hierarchy; `None` when no hierarchy is writable.
    pub fn new() -> Option<Cgroups> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mut points: Vec<(bool, PathBuf)> = mounts
            .lines()
            .filter_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                let fstype = right.split_whitespace().next()?;
                let point = left.split_whitespace().nth(4)?;
                matches!(fstype, "cgroup2" | "cgroup").then(|| (fstype == "cgroup2", PathBuf::from(point)))
            })
            .collect();
        points.sort_by_key(|(v2, _)| !*v2);
        points.into_iter().find_map(|(_, mount)| {
            let top = mount.join(unique("sockscope-test-"));
            std::fs::create_dir(&top).ok().map(|()| Cgroups { mount, top })
        })
    }

    /// Moves `pid` into `path` (relative, created as needed) and returns
    /// the cgroup path the process now shows in `/proc/PID/cgroup`.
    pub fn place(&self, path: &str, pid: u32) -> String {
        let dir = self.top.join(path);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        std::fs::write(dir.join("cgroup.procs"), pid.to_string()).expect("move into cgroup");
        let shown = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup file");
        let rel = dir.strip_prefix(&self.mount).expect("under the mount");
        let wanted = format!("/{}", rel.display());
        assert!(shown.lines().any(|l| l.ends_with(&wanted)), "{pid} not in {wanted}: {shown}");
        wanted
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while remove_tree(&self.top).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Removes cgroup directories deepest first (their files go with them).
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path())?;
        }
    }
    std::fs::remove_dir(dir)
}

/// A kubelet-style `/var/log/pods` stand-in (`SOCKSCOPE_POD_LOGS`).
pub struct PodLogs {
    pub dir: PathBuf,
}

impl PodLogs {
    pub fn new() -> PodLogs {
        let dir = std::env::temp_dir().join(unique("sockscope-pods-"));
        std::fs::create_dir_all(&dir).expect("pod log dir");
        PodLogs { dir }
    }

    pub fn add(&self, namespace: &str, name: &str, uid: &str) {
        std::fs::create_dir_all(self.dir.join(format!("{namespace}_{name}_{uid}"))).expect("pod dir");
    }
}

impl Drop for PodLogs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A container id: 64 hex digits derived from `seed`.
pub fn container_id(seed: u32) -> String {
    format!("{:016x}", 0x5ee0_0000_0000_0000u64 + u64::from(seed)).repeat(4)
}

/// A pod uid in the kubelet's spelling.
pub fn pod_uid(seed: u32) -> String {
    format!("{seed:08x}-5b5e-4e0e-9c4e-2f0d8a5e1a01")
}
