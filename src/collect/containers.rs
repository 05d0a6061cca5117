//! Which container and pod a network namespace belongs to.
//!
//! Nothing in a namespace names its container; its processes' cgroups do.
//! Every runtime puts a container's processes in a cgroup whose path ends in
//! the container id, in one of a few spellings depending on the runtime and
//! on the cgroup driver (cgroupfs or systemd), under cgroup v1 (one line per
//! hierarchy in `/proc/PID/cgroup`) or v2 (one `0::` line):
//!
//! ```text
//! /docker/<id>                                        docker, cgroupfs
//! /system.slice/docker-<id>.scope                     docker, systemd
//! /kubepods/burstable/pod<uid>/<id>                   kubelet, cgroupfs (runtime not named)
//! /kubepods/pod<uid>/crio-<id>                        cri-o, cgroupfs
//! /kubepods.slice/kubepods-besteffort.slice/
//!   kubepods-besteffort-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
//!                                                     containerd, systemd
//! .../crio-<id>.scope[/container]                     cri-o, systemd
//! /machine.slice/libpod-<id>.scope[/container]        podman
//! ```
//!
//! The pod's uid is in the path too; its namespace and name are not, but the
//! kubelet names each pod's log directory `<namespace>_<name>_<uid>` under
//! `/var/log/pods` (`SOCKSCOPE_POD_LOGS` points elsewhere, e.g. at the host's
//! directory mounted into sockscope's container). Parsers here are pure.

use std::collections::HashMap;
use std::path::PathBuf;

use super::namespaces::Found;
use crate::model::{NetnsLabels, Pod, Runtime};

/// The environment variable naming the kubelet's pod log directory.
pub const POD_LOGS_ENV: &str = "SOCKSCOPE_POD_LOGS";
const POD_LOGS: &str = "/var/log/pods";

/// What one cgroup path says about its processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerRef {
    pub runtime: Option<Runtime>,
    pub id: Option<String>,
    pub pod_uid: Option<String>,
}

impl ContainerRef {
    fn score(&self) -> u8 {
        2 * u8::from(self.id.is_some()) + u8::from(self.pod_uid.is_some())
    }
}

/// The most telling line of a `/proc/PID/cgroup` file (v1 or v2).
pub fn parse_cgroup_file(text: &str) -> ContainerRef {
    let mut best = ContainerRef::default();
    for line in text.lines() {
        let Some(path) = line.splitn(3, ':').nth(2) else { continue };
        let found = parse_cgroup_path(path);
        if found.score() > best.score() {
            best = found;
        }
    }
    best
}

/// Reads one cgroup path, component by component: the last component that
/// names a container wins (nested runtimes, `.../container` leaves).
pub fn parse_cgroup_path(path: &str) -> ContainerRef {
    let mut found = ContainerRef::default();
    let mut parent = "";
    for component in path.split('/').filter(|c| !c.is_empty()) {
        if let Some(uid) = pod_uid(component) {
            found.pod_uid = Some(uid);
        } else if let Some((runtime, id)) = container(component, parent) {
            found.runtime = runtime;
            found.id = Some(id);
        }
        parent = component;
    }
    found
}

/// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_with_underscores>.slice` (systemd).
fn pod_uid(component: &str) -> Option<String> {
    let raw = match component.strip_suffix(".slice") {
        Some(slice) => &slice[slice.rfind("-pod")? + 4..],
        None => component.strip_prefix("pod")?,
    };
    let uid = raw.replace('_', "-");
    let well_formed =
        (32..=36).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    well_formed.then_some(uid)
}

const PREFIXES: &[(&str, Runtime)] = &[
    ("docker-", Runtime::Docker),
    ("cri-containerd-", Runtime::Containerd),
    ("crio-", Runtime::CriO),
    ("libpod-", Runtime::Podman),
];

/// A component naming a container: `<runtime>-<id>[.scope]`, or a bare id
/// (cgroupfs), whose runtime only a `docker` parent tells.
fn container(component: &str, parent: &str) -> Option<(Option<Runtime>, String)> {
    let base = component.strip_suffix(".scope").unwrap_or(component);
    for (prefix, runtime) in PREFIXES {
        if let Some(id) = base.strip_prefix(prefix) {
            return is_container_id(id).then(|| (Some(*runtime), id.to_string()));
        }
    }
    let runtime = (parent == "docker").then_some(Runtime::Docker);
    (base.len() == 64 && is_container_id(base)).then(|| (runtime, base.to_string()))
}

/// Runtimes use 64 hex digits; accept short ids, refuse `conmon-<id>` and words.
fn is_container_id(id: &str) -> bool {
    (12..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A kubelet pod log directory name: `<namespace>_<name>_<uid>` (Kubernetes
/// names never contain `_`).
pub fn parse_pod_dir(name: &str) -> Option<Pod> {
    let mut parts = name.split('_');
    let (namespace, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || namespace.is_empty()
        || pod.is_empty()
        || pod_uid(&format!("pod{uid}")).is_none()
    {
        return None;
    }
    Some(Pod { namespace: Some(namespace.into()), name: Some(pod.into()), uid: uid.into() })
}

/// Pods by uid, from the kubelet's log directories.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodDirectory(HashMap<String, Pod>);

impl PodDirectory {
    /// Reads the pod log directory (none on hosts without a kubelet).
    pub fn read() -> PodDirectory {
        let dir = std::env::var_os(POD_LOGS_ENV).map_or_else(|| PathBuf::from(POD_LOGS), PathBuf::from);
        let Ok(entries) = std::fs::read_dir(dir) else { return PodDirectory::default() };
        let names = entries.flatten().filter_map(|e| e.file_name().into_string().ok());
        PodDirectory::from_names(names)
    }

    pub fn from_names(names: impl IntoIterator<Item = String>) -> PodDirectory {
        PodDirectory(
            names.into_iter().filter_map(|n| parse_pod_dir(&n)).map(|p| (p.uid.clone(), p)).collect(),
        )
    }

    /// The pod with this uid, named when its directory is known.
    pub fn pod(&self, uid: &str) -> Pod {
        self.0.get(uid).cloned().unwrap_or_else(|| Pod { uid: uid.to_string(), ..Pod::default() })
    }
}

/// The labels of a discovered namespace: its name, holder pids, and the
/// container and pod of its lowest-pid process that has one (a pod's pause
/// process, whose container id is the pod sandbox's, comes first).
pub fn labels(found: &Found, pods: &PodDirectory, cgroup_of: impl Fn(u32) -> Option<String>) -> NetnsLabels {
    let container = found
        .pids
        .iter()
        .filter_map(|&pid| cgroup_of(pid))
        .map(|text| parse_cgroup_file(&text))
        .find(|c| c.score() > 0)
        .unwrap_or_default();
    NetnsLabels {
        name: found.name().map(str::to_string),
        pids: found.pids.clone(),
        container_id: container.id,
        runtime: container.runtime,
        pod: container.pod_uid.map(|uid| pods.pod(&uid)),
    }
}

/// `/proc/PID/cgroup`, if the process still exists.
pub fn read_cgroup(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c8e2b9a7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c";
    const UID: &str = "0c3ee9a6-5b5e-4e0e-9c4e-2f0d8a5e1a01";
    const UID_: &str = "0c3ee9a6_5b5e_4e0e_9c4e_2f0d8a5e1a01";

    fn parsed(text: &str) -> (Option<Runtime>, Option<String>, Option<String>) {
        let c = parse_cgroup_file(text);
        (c.runtime, c.id, c.pod_uid)
    }

    fn id() -> Option<String> {
        Some(ID.to_string())
    }

    fn uid() -> Option<String> {
        Some(UID.to_string())
    }

    #[test]
    fn docker_with_cgroupfs_on_v1_and_systemd_on_v2() {
        let v1 = format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/\n");
        assert_eq!(parsed(&v1), (Some(Runtime::Docker), id(), None));
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(parsed(&v2), (Some(Runtime::Docker), id(), None));
    }

    #[test]
    fn kubernetes_containerd_with_systemd_and_cgroupfs() {
        let v2 = format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{ID}.scope\n"
        );
        assert_eq!(parsed(&v2), (Some(Runtime::Containerd), id(), uid()));
        let guaranteed = format!("0::/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{ID}.scope\n");
        assert_eq!(parsed(&guaranteed), (Some(Runtime::Containerd), id(), uid()));
        let v1 = format!(
            "11:cpuset:/kubepods/besteffort/pod{UID}/{ID}\n10:memory:/kubepods/besteffort/pod{UID}/{ID}\n0::/\n"
        );
        assert_eq!(parsed(&v1), (None, id(), uid()), "cgroupfs does not name the runtime");
    }

    #[test]
    fn kubernetes_cri_o_with_systemd_and_cgroupfs() {
        let v1 = format!(
            "9:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/crio-{ID}.scope\n"
        );
        assert_eq!(parsed(&v1), (Some(Runtime::CriO), id(), uid()));
        let leaf = format!("0::/kubepods.slice/kubepods-pod{UID_}.slice/crio-{ID}.scope/container\n");
        assert_eq!(parsed(&leaf), (Some(Runtime::CriO), id(), uid()));
        let cgroupfs = format!("0::/kubepods/burstable/pod{UID}/crio-{ID}\n");
        assert_eq!(parsed(&cgroupfs), (Some(Runtime::CriO), id(), uid()));
        let conmon = format!("0::/kubepods.slice/kubepods-pod{UID_}.slice/crio-conmon-{ID}.scope\n");
        assert_eq!(parsed(&conmon), (None, None, uid()), "conmon is the monitor, not the container");
    }

    #[test]
    fn podman_rootful_rootless_and_cgroupfs() {
        let rootful = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
        assert_eq!(parsed(&rootful), (Some(Runtime::Podman), id(), None));
        let rootless = format!(
            "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container\n"
        );
        assert_eq!(parsed(&rootless), (Some(Runtime::Podman), id(), None));
        let cgroupfs = format!("4:memory:/libpod_parent/libpod-{ID}\n");
        assert_eq!(parsed(&cgroupfs), (Some(Runtime::Podman), id(), None));
        let conmon = format!("0::/machine.slice/libpod-conmon-{ID}.scope\n");
        assert_eq!(parsed(&conmon), (None, None, None));
    }

    #[test]
    fn kubernetes_in_docker_names_the_innermost_container() {
        let kind = format!(
            "0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/\
             kubelet-kubepods-besteffort-pod{UID_}.slice/cri-containerd-{ID}.scope\n"
        );
        assert_eq!(parsed(&kind), (Some(Runtime::Containerd), id(), uid()));
        let outer = "a".repeat(64);
        let nested = format!("0::/docker/{outer}/kubepods/pod{UID}/crio-{ID}\n");
        assert_eq!(parsed(&nested), (Some(Runtime::CriO), id(), uid()));
    }

    #[test]
    fn host_processes_and_garbage_name_nothing() {
        for text in [
            "0::/\n",
            "0::/init.scope\n",
            "0::/system.slice/sshd.service\n",
            "0::/user.slice/user-0.slice/session-3.scope\n",
            "0::/system.slice/docker-notanid.scope\n",
            "0::/kubepods.slice/kubepods-podzzzz.slice\n",
            "",
            "garbage without colons",
            "1:cpu\n",
            "0::/docker/\u{1b}]0;evil\n",
        ] {
            assert_eq!(parsed(text), (None, None, None), "{text:?}");
        }
    }

    #[test]
    fn the_most_telling_line_wins_over_an_earlier_poorer_one() {
        let text = format!("2:cpu:/kubepods/pod{UID}\n1:memory:/kubepods/pod{UID}/{ID}\n");
        assert_eq!(parsed(&text), (None, id(), uid()));
    }

    #[test]
    fn pod_log_directories_name_pods() {
        let pod = parse_pod_dir(&format!("kube-system_coredns-5d78c9869d-abcde_{UID}")).unwrap();
        assert_eq!(pod.namespace.as_deref(), Some("kube-system"));
        assert_eq!(pod.name.as_deref(), Some("coredns-5d78c9869d-abcde"));
        assert_eq!(pod.uid, UID);
        for bad in ["", "a_b", "a_b_c_d", &format!("_web_{UID}"), "default_web_not-a-uid"] {
            assert_eq!(parse_pod_dir(bad), None, "{bad:?}");
        }
        let dir = PodDirectory::from_names([format!("default_web-1_{UID}"), "junk".into()]);
        assert_eq!(dir.pod(UID).name.as_deref(), Some("web-1"));
        assert_eq!(dir.pod("other").name, None);
        assert_eq!(dir.pod("other").uid, "other");
    }

    #[test]
    fn labels_come_from_the_lowest_pid_with_a_container() {
        let found = Found {
            dev: 4,
            inode: 9,
            names: vec![(super::super::namespaces::Place::IpNetns, "cni-1".into())],
            pids: vec![10, 11, 12],
            processes: 3,
            own: false,
        };
        let pods = PodDirectory::from_names([format!("shop_cart-7f9_{UID}")]);
        let cgroup = |pid: u32| match pid {
            10 => None,
            11 => Some(format!("0::/kubepods/pod{UID}/{ID}\n")),
            _ => Some("0::/\n".to_string()),
        };
        let labels = labels(&found, &pods, cgroup);
        assert_eq!(labels.name.as_deref(), Some("cni-1"));
        assert_eq!(labels.pids, vec![10, 11, 12]);
        assert_eq!(labels.container_id.as_deref(), Some(ID));
        let pod = labels.pod.unwrap();
        assert_eq!((pod.namespace.as_deref(), pod.name.as_deref()), (Some("shop"), Some("cart-7f9")));
    }
}
