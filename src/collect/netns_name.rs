//! A stable, readable name for the namespace a target points at, for places
//! where its inode must not appear (metric labels).
//!
//! A namespace is known by its ns file's (st_dev, st_ino); people know it by
//! its `ip netns` name, or as the host's. The name is resolved once, when a
//! long-running command starts.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::netns::NetnsTarget;

/// What a namespace is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetnsName {
    /// Always set: the `ip netns` name, `host` (pid 1's namespace), `self`
    /// (sockscope's own, when it is not pid 1's), `process:COMM` for a pid,
    /// or the path the user gave.
    pub key: String,
    /// Its `ip netns` name, when `/run/netns` has one for it.
    pub ip_netns: Option<String>,
}

/// Names the namespace `target` points at.
pub fn netns_name(target: &NetnsTarget) -> NetnsName {
    let identity = match target {
        NetnsTarget::Current => identity_of(Path::new("/proc/thread-self/ns/net")),
        NetnsTarget::File { path, .. } => identity_of(path),
    };
    let ip_netns = identity.and_then(ip_netns_name);
    let key = match (target, &ip_netns) {
        (NetnsTarget::File { label, .. }, _) if is_plain_name(label) => label.clone(),
        (_, Some(name)) => name.clone(),
        _ if identity.is_some() && identity == identity_of(Path::new("/proc/1/ns/net")) => "host".to_string(),
        (NetnsTarget::Current, None) => "self".to_string(),
        (NetnsTarget::File { label, .. }, None) if label.bytes().all(|b| b.is_ascii_digit()) => {
            let comm = std::fs::read_to_string(format!("/proc/{label}/comm")).unwrap_or_default();
            format!("process:{}", comm.trim_end())
        }
        (NetnsTarget::File { label, .. }, None) => label.clone(),
    };
    NetnsName { key, ip_netns }
}

/// An `ip netns` name: neither a pid nor a path.
fn is_plain_name(label: &str) -> bool {
    !label.contains('/') && !label.bytes().all(|b| b.is_ascii_digit())
}

fn identity_of(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The name under `/run/netns` of the namespace with this identity.
fn ip_netns_name(identity: (u64, u64)) -> Option<String> {
    let entries = std::fs::read_dir("/run/netns").ok()?;
    entries
        .flatten()
        .find(|e| identity_of(&e.path()) == Some(identity))
        .map(|e| e.file_name().to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_namespace_is_host_or_self() {
        let name = netns_name(&NetnsTarget::Current);
        assert!(matches!(name.key.as_str(), "host" | "self") || name.ip_netns.is_some(), "{name:?}");
    }

    #[test]
    fn a_pid_is_named_by_its_process_not_its_number() {
        let me = std::process::id().to_string();
        let name = netns_name(&NetnsTarget::parse(&me).unwrap());
        assert_ne!(name.key, me);
        assert!(
            name.key.starts_with("process:") || name.key == "host" || name.ip_netns.is_some(),
            "{name:?}"
        );
    }
}
