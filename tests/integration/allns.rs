//! `--all-netns` against real namespaces (root): several `ip netns add`
//! namespaces and one made by `unshare --net` with no name, holders placed
//! in kubepods / docker / containerd cgroups, a full listener in exactly one
//! namespace, per-namespace sysctls, and namespaces vanishing mid-run.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use sockscope::collect::{Collector, Request, namespaces};
use sockscope::model::{NetnsStatus, Runtime, Selection};

use crate::support::cluster::{Cgroups, Holder, NamedNetns, PodLogs, container_id, pod_uid};
use crate::support::{eventually, loud, skip_unless_root};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");
const PORT: u16 = 8080;

fn sockscope(args: &[&str], pods: Option<&PodLogs>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("NO_COLOR", "1");
    if let Some(p) = pods {
        cmd.env("SOCKSCOPE_POD_LOGS", &p.dir);
    }
    cmd.output().expect("run sockscope")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "exit {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// The `namespaces[]` row for `inode`.
fn row(doc: &Value, inode: u64) -> Option<&Value> {
    doc["namespaces"].as_array()?.iter().find(|n| n["netns"]["inode"] == inode)
}

/// A small cluster node: the pod `shop/cart-7f9` (containerd, systemd
/// driver) with a full listener and somaxconn 64, a docker container, a
/// kubepods pod with the cgroupfs driver and no log directory, a plain
/// `ip netns` namespace, and an unnamed one from `unshare --net` — every one
/// listening on 127.0.0.1:8080.
struct Node {
    pods: PodLogs,
    pod: NamedNetns,
    docker: NamedNetns,
    cgroupfs: NamedNetns,
    plain: NamedNetns,
    unnamed: Holder,
    holders: Vec<Holder>,
    cgroups: Option<Cgroups>,
}

impl Node {
    fn new() -> Node {
        let (pod, docker, cgroupfs, plain) = (
            NamedNetns::new("ssc-pod-"),
            NamedNetns::new("ssc-dock-"),
            NamedNetns::new("ssc-cgfs-"),
            NamedNetns::new("ssc-plain-"),
        );
        pod.sysctl("net.core.somaxconn", "64");
        let cgroups = Cgroups::new();
        let holders = vec![
            Holder::listener(&pod, PORT, 2, 8),
            Holder::listener(&docker, PORT, 16, 1),
            Holder::listener(&cgroupfs, PORT, 16, 0),
            Holder::listener(&plain, PORT, 16, 0),
        ];
        let node = Node {
            pods: PodLogs::new(),
            pod,
            docker,
            cgroupfs,
            plain,
            unnamed: Holder::unshared(PORT),
            holders,
            cgroups,
        };
        node.pods.add("shop", "cart-7f9", &pod_uid(1));
        match &node.cgroups {
            Some(cg) => node.place(cg),
            None => loud("allns: no writable cgroup hierarchy: container and pod labels are not checked"),
        }
        node
    }

    fn place(&self, cg: &Cgroups) {
        let uid_ = pod_uid(1).replace('-', "_");
        let paths = [
            format!(
                "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/cri-containerd-{}.scope",
                container_id(1)
            ),
            format!("system.slice/docker-{}.scope", container_id(2)),
            format!("kubepods/burstable/pod{}/{}", pod_uid(3), container_id(3)),
        ];
        for (holder, path) in self.holders.iter().zip(&paths) {
            cg.place(path, holder.pid());
        }
    }

    /// `dump --all-netns --json -t -l` once the pod's queue is full.
    fn dump(&self) -> Value {
        eventually("the pod's accept queue to fill", || {
            let doc = json_of(&sockscope(&["dump", "--all-netns", "--json", "-t", "-l"], Some(&self.pods)));
            match row(&doc, self.pod.inode()).map(|r| r["full_listeners"].clone()) {
                Some(v) if v == 1 => Ok(doc),
                other => Err(format!("{other:?}")),
            }
        })
    }
}

#[test]
fn every_namespace_is_found_labelled_and_judged_by_its_own_sysctls() {
    if skip_unless_root(
        "every_namespace_is_found_labelled_and_judged_by_its_own_sysctls",
        "ip netns add, setns",
    ) {
        return;
    }
    let node = Node::new();
    let doc = node.dump();
    let inodes = [
        node.pod.inode(),
        node.docker.inode(),
        node.cgroupfs.inode(),
        node.plain.inode(),
        node.unnamed.netns_inode(),
    ];
    for inode in inodes {
        let r =
            row(&doc, inode).unwrap_or_else(|| panic!("namespace {inode} missing: {}", doc["namespaces"]));
        assert_eq!(r["status"], "collected", "{r}");
        assert_eq!(r["listeners"], 1, "each has its own listener on :{PORT}: {r}");
    }
    let full: Vec<u64> = doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["full_listeners"].as_u64() > Some(0)
                && inodes.contains(&r["netns"]["inode"].as_u64().unwrap_or(0))
        })
        .map(|r| r["netns"]["inode"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(full, vec![node.pod.inode()], "exactly the pod's namespace is full");

    let pod = &row(&doc, node.pod.inode()).unwrap();
    assert_eq!(pod["sysctls"]["net.core.somaxconn"], 64, "the pod's own somaxconn");
    assert_ne!(row(&doc, node.plain.inode()).unwrap()["sysctls"]["net.core.somaxconn"], 64);
    assert_eq!(pod["netns"]["name"], node.pod.name);
    assert_eq!(pod["netns"]["pids"][0], node.holders[0].pid());

    let unnamed = &row(&doc, node.unnamed.netns_inode()).unwrap()["netns"];
    assert!(unnamed.get("name").is_none(), "unshare --net gives no name: {unnamed}");
    assert_eq!(unnamed["pids"], serde_json::json!([node.unnamed.pid()]));
    assert_eq!(row(&doc, node.plain.inode()).unwrap()["netns"]["name"], node.plain.name);

    let finding = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "accept_queue_full" && f["netns"]["inode"] == node.pod.inode())
        .unwrap_or_else(|| panic!("no accept_queue_full in the pod: {}", doc["findings"]));
    assert_eq!(finding["subject"], format!("tcp 127.0.0.1:{PORT}"));
    let others = doc["findings"].as_array().unwrap().iter().filter(|f| {
        f["kind"] == "accept_queue_full" && inodes[1..].contains(&f["netns"]["inode"].as_u64().unwrap_or(0))
    });
    assert_eq!(others.count(), 0, "the same address in other namespaces is not full");
    let listener = doc["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["netns"]["inode"] == node.pod.inode())
        .expect("the pod's listener");
    assert_eq!((listener["accept_queue"].as_u64(), listener["backlog"].as_u64()), (Some(3), Some(2)));

    if node.cgroups.is_some() {
        let labels = &pod["netns"];
        assert_eq!(labels["container_id"], container_id(1));
        assert_eq!(labels["runtime"], "containerd");
        assert_eq!(
            labels["pod"],
            serde_json::json!({"namespace": "shop", "name": "cart-7f9", "uid": pod_uid(1)})
        );
        assert_eq!(finding["netns"]["pod"]["name"], "cart-7f9", "the finding names the pod");
        let docker = &row(&doc, node.docker.inode()).unwrap()["netns"];
        assert_eq!(
            (docker["runtime"].as_str(), docker["container_id"].as_str()),
            (Some("docker"), Some(container_id(2).as_str()))
        );
        assert!(docker.get("pod").is_none());
        let cgfs = &row(&doc, node.cgroupfs.inode()).unwrap()["netns"];
        assert_eq!(cgfs["pod"], serde_json::json!({"uid": pod_uid(3)}), "no log directory: the uid only");
        assert_eq!(cgfs["container_id"], container_id(3));
        assert!(cgfs.get("runtime").is_none(), "the cgroupfs driver does not name the runtime");

        let table = sockscope(&["dump", "--all-netns", "-t", "-l"], Some(&node.pods));
        let text = String::from_utf8_lossy(&table.stdout);
        let line =
            text.lines().find(|l| l.contains("accept_queue_full") && l.contains("[pod shop/cart-7f9]"));
        assert!(line.is_some(), "the report names the pod: {text}");
        let short = &container_id(2)[..12];
        assert!(
            text.lines().any(|l| l.starts_with(short) && l.contains("docker")),
            "NETNS shows the container: {text}"
        );
    }
}

#[test]
fn a_namespace_deleted_after_discovery_vanishes_without_failing_the_others() {
    if skip_unless_root("a_namespace_deleted_after_discovery_vanishes_without_failing_the_others", "ip netns")
    {
        return;
    }
    let keep = NamedNetns::new("ssc-keep-");
    let mut doomed = NamedNetns::new("ssc-doomed-");
    let (keep_inode, doomed_inode) = (keep.inode(), doomed.inode());
    let discovery = namespaces::discover().expect("discover");
    assert!(discovery.found.iter().any(|f| f.inode == doomed_inode), "discovered before deletion");
    doomed.delete();
    let request = Request::for_selection(&Selection::all(), Default::default()).with_all_netns(true);
    let snapshot = Collector::new(request).snapshot_discovered(discovery).expect("the others are collected");
    let status = |inode| snapshot.namespace(inode).map(|n| n.status.clone());
    assert_eq!(status(doomed_inode), Some(NetnsStatus::Vanished));
    assert_eq!(status(keep_inode), Some(NetnsStatus::Collected));
    assert!(snapshot.namespaces.iter().any(|n| n.own && n.status.is_collected()));
    let said: Vec<&str> =
        snapshot.warnings.iter().map(|w| w.message.as_str()).filter(|m| m.contains("vanished")).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with("1 of "), "{}", said[0]);
}

#[test]
fn namespaces_coming_and_going_during_collection_never_fail_a_dump() {
    if skip_unless_root("namespaces_coming_and_going_during_collection_never_fail_a_dump", "ip netns") {
        return;
    }
    let stable = NamedNetns::new("ssc-stable-");
    let _holder = Holder::listener(&stable, PORT, 4, 0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let mut churn = NamedNetns::new("ssc-churn-");
                churn.delete();
            }
        });
        let mut vanished = 0;
        for _ in 0..10 {
            let doc = json_of(&sockscope(&["dump", "-A", "--json", "-t", "-l"], None));
            let r = row(&doc, stable.inode()).expect("the stable namespace is always there");
            assert_eq!((r["status"].as_str(), r["listeners"].as_u64()), (Some("collected"), Some(1)));
            let rows = doc["namespaces"].as_array().map_or(&[][..], Vec::as_slice);
            vanished += rows.iter().filter(|r| r["status"] == "vanished").count();
        }
        stop.store(true, Ordering::Relaxed);
        if vanished == 0 {
            loud(
                "allns churn: no namespace vanished mid-collection in 10 dumps (timing); the deterministic test covers it",
            );
        }
    });
}

#[test]
fn without_cap_sys_admin_only_the_own_namespace_is_shown_with_one_message() {
    if skip_unless_root("without_cap_sys_admin_only_the_own_namespace_is_shown_with_one_message", "setpriv") {
        return;
    }
    let other = NamedNetns::new("ssc-denied-");
    let out = Command::new("setpriv")
        .args([
            "--inh-caps=-sys_admin",
            "--bounding-set=-sys_admin",
            "--",
            BIN,
            "dump",
            "-A",
            "--json",
            "-t",
            "-l",
        ])
        .output()
        .expect("setpriv");
    let doc = json_of(&out);
    assert_eq!(row(&doc, other.inode()).map(|r| r["status"].clone()), Some(Value::from("denied")));
    let collected: Vec<&Value> =
        doc["namespaces"].as_array().unwrap().iter().filter(|r| r["status"] == "collected").collect();
    assert_eq!(collected.len(), 1, "only the own namespace");
    assert_eq!(collected[0]["own"], true);
    let denied: Vec<&Value> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["message"].as_str().is_some_and(|m| m.contains("not allowed to enter")))
        .collect();
    assert_eq!(denied.len(), 1, "said once: {}", doc["warnings"]);
    let text = denied[0]["message"].as_str().unwrap_or_default();
    assert!(
        text.contains("showing only sockscope's own network namespace") && text.contains("CAP_SYS_ADMIN"),
        "{text}"
    );

    let nobody = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            BIN,
            "dump",
            "-A",
            "-t",
            "-l",
            "--color",
            "never",
        ])
        .output()
        .expect("setpriv");
    assert!(nobody.status.success(), "{}", String::from_utf8_lossy(&nobody.stderr));
    let err = String::from_utf8_lossy(&nobody.stderr);
    assert!(err.contains("showing only sockscope's own network namespace"), "{err}");
    assert_eq!(err.matches("not allowed to enter").count(), 1, "{err}");
}

#[test]
fn watch_events_and_the_netns_flag_name_their_namespace() {
    if skip_unless_root("watch_events_and_the_netns_flag_name_their_namespace", "ip netns") {
        return;
    }
    let ns = NamedNetns::new("ssc-watch-");
    let _holder = Holder::listener(&ns, PORT, 2, 8);
    let inode = ns.inode();
    let out = sockscope(&["watch", "-A", "--json", "--count", "2", "--interval", "200ms", "-t", "-l"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    let finding = events
        .iter()
        .find(|e| e["type"] == "finding" && e["kind"] == "accept_queue_full" && e["netns"]["inode"] == inode)
        .unwrap_or_else(|| panic!("no finding event in our namespace: {events:?}"));
    assert_eq!(finding["netns"]["name"], ns.name);
    let sample = events.iter().find(|e| e["type"] == "sample").expect("a sample");
    let listener = sample["listeners"].as_array().unwrap().iter().find(|l| l["netns"]["inode"] == inode);
    assert!(listener.is_some_and(|l| l["full"] == true), "{sample}");

    let single = json_of(&sockscope(&["dump", "--netns", &ns.name, "--json", "-t", "-l"], None));
    assert_eq!(single["host"]["netns"]["inode"], inode);
    assert!(single.get("namespaces").is_none(), "--netns is a single-namespace document");
    assert!(single["listeners"][0].get("netns").is_none());
    assert_eq!(single["listeners"][0]["accept_queue"], 3);
}

#[test]
fn library_snapshots_carry_runtime_labels_as_types() {
    if skip_unless_root("library_snapshots_carry_runtime_labels_as_types", "ip netns, cgroups") {
        return;
    }
    let ns = NamedNetns::new("ssc-lib-");
    let Some(cg) = Cgroups::new() else {
        loud("allns: no writable cgroup hierarchy: library labels not checked");
        return;
    };
    let holder = Holder::listener(&ns, PORT, 4, 0);
    cg.place(&format!("machine.slice/libpod-{}.scope/container", container_id(9)), holder.pid());
    let request = Request::for_selection(&Selection::all(), Default::default()).with_all_netns(true);
    let snapshot = Collector::new(request).snapshot().expect("collect");
    let labels = &snapshot.namespace(ns.inode()).expect("our namespace").labels;
    assert_eq!(labels.runtime, Some(Runtime::Podman));
    assert_eq!(labels.container_id.as_deref(), Some(container_id(9).as_str()));
    let views = snapshot.netns_views();
    let view = views.iter().find(|v| v.netns.inode == Some(ns.inode())).expect("a view per namespace");
    assert!((0..view.sockets.len()).all(|i| view.netns_at(i) == ns.inode()));
    assert_eq!(view.sockets.iter().filter(|s| s.is_listener()).count(), 1);
    drop(holder);
}
