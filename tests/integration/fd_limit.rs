//! sockscope under a low fd limit on a host with more processes than fds:
//! every owner is still found, and a shortage is never called "not root".

use std::process::Command;

use serde_json::Value;

use crate::support::holders::Holders;
use crate::support::{self, Lab};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");
const PROCESSES: usize = 1200;

/// The lab's UDP sockets in a `dump --json` document, and how many name an owner.
fn owned_share(doc: &Value) -> (usize, usize) {
    let sockets = doc["sockets"].as_array().expect("sockets");
    let udp: Vec<&Value> = sockets.iter().filter(|s| s["proto"] == "udp").collect();
    let owned = udp.iter().filter(|s| s["owners"].as_array().is_some_and(|o| !o.is_empty())).count();
    (owned, udp.len())
}

#[test]
fn owners_are_found_for_1200_processes_under_a_256_fd_limit() {
    if support::skip_unless_root("owners_are_found_for_1200_processes_under_a_256_fd_limit", "private netns")
    {
        return;
    }
    let lab = Lab::new("fd_limit");
    let holders = lab.run(|| Holders::spawn(PROCESSES));
    // Soft and hard limit 256: raising the soft limit gains nothing here, so
    // only never holding an fd per process can find these owners.
    let out = Command::new("prlimit")
        .args(["--nofile=256", BIN, "dump", "--json", "--udp"])
        .args(lab.netns_args())
        .output()
        .expect("run prlimit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("not root"), "EMFILE must not read as a permission problem: {stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let (owned, total) = owned_share(&doc);
    assert_eq!(total, PROCESSES, "one UDP socket per holder in the lab");
    support::loud(&format!("fd_limit: owners found for {owned} of {total} sockets under --nofile=256"));
    assert!(owned * 100 >= total * 99, "owners for {owned} of {total} sockets");
    assert_eq!(doc["host"]["scan"]["exhausted"], 0, "{}", doc["host"]["scan"]);
    assert!(doc["host"]["scan"]["processes"].as_u64().expect("count") >= PROCESSES as u64);
    drop(holders);
}

#[test]
fn running_out_of_fds_is_said_as_such_never_as_not_root() {
    if support::skip_unless_root("running_out_of_fds_is_said_as_such", "reads every process's fds") {
        return;
    }
    // Processes no one may read (some sandboxes shield their init even from
    // root) are unreadable with or without a limit: the baseline.
    let free = Command::new(BIN).args(["dump", "--json", "-t"]).output().expect("dump");
    let free: Value = serde_json::from_slice(&free.stdout).expect("JSON");
    let shielded = free["host"]["scan"]["unreadable"].as_u64().expect("count");
    // stdin, stdout and stderr leave one descriptor for the netlink socket
    // and the /proc scan together, which run at once: whichever comes second
    // meets EMFILE. Either the run fails saying so, or the scan's reads fail
    // and the snapshot says so; never "not root".
    let out =
        Command::new("prlimit").args(["--nofile=4", BIN, "dump", "--json", "-t"]).output().expect("prlimit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("not root"), "{stderr}");
    if out.status.success() {
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(doc["host"]["scan"]["exhausted"].as_u64().expect("count") > 0, "{}", doc["host"]["scan"]);
        let unreadable = doc["host"]["scan"]["unreadable"].as_u64().expect("count");
        assert!(unreadable <= shielded, "EMFILE counted as unreadable: {unreadable} > {shielded}");
        let warnings = doc["warnings"].as_array().expect("warnings");
        let exhausted =
            warnings.iter().find(|w| w["kind"] == "resource_exhausted").expect("resource_exhausted");
        assert!(exhausted["message"].as_str().is_some_and(|m| m.contains("out of file descriptors")));
        if shielded == 0 {
            assert!(!warnings.iter().any(|w| w["kind"] == "processes_unreadable"), "{warnings:?}");
        }
    } else {
        assert!(stderr.contains("out of file descriptors"), "{stderr}");
    }
}
