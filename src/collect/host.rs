//! Reads the sysctls and counters of the calling thread's network namespace.
//!
//! Must run on the thread that entered the target namespace: `/proc/sys/net`
//! resolves against the reading thread's namespace, and `/proc/thread-self/net`
//! (not `/proc/net`, which follows the main thread) holds its counters.

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::proc_text::{self, Sections};
use crate::model::{Counters, HostInfo, SYSCTLS, SysctlValue, Sysctls, Warning, WarningKind};

const SNMP_SECTIONS: &[&str] = &["TcpExt", "Tcp", "Udp"];

/// Namespace-scoped facts read from inside the namespace.
pub(super) struct NetnsFacts {
    pub sysctls: Sysctls,
    pub counters: Counters,
    pub netns_inode: Option<u64>,
    pub warnings: Vec<Warning>,
}

pub(super) fn read_netns_facts() -> NetnsFacts {
    let mut missing = Vec::new();
    let sysctls = read_sysctls(&mut missing);
    let counters = read_counters(&mut missing);
    let warnings = match missing.is_empty() {
        true => Vec::new(),
        false => vec![Warning::new(
            WarningKind::HostFactsIncomplete,
            format!("could not read {}", missing.join(", ")),
        )],
    };
    NetnsFacts {
        sysctls,
        counters,
        netns_inode: fs::metadata("/proc/thread-self/ns/net").ok().map(|m| m.ino()),
        warnings,
    }
}

/// Reads every sysctl. One that does not exist (older kernels, or a global
/// one such as `tcp_max_orphans` seen from a child namespace) is simply
/// absent; one that exists but cannot be read is reported.
fn read_sysctls(missing: &mut Vec<String>) -> Sysctls {
    let mut sysctls = Sysctls::default();
    for name in SYSCTLS {
        match fs::read_to_string(sysctl_path(name)) {
            Ok(text) => {
                sysctls.0.insert(name.to_string(), SysctlValue::parse(&text));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => missing.push(name.to_string()),
        }
    }
    sysctls
}

/// Sysctls that exist only in the host's (initial) network namespace,
/// though they govern every namespace's sockets: a child namespace's
/// `/proc/sys/net` lacks them.
const HOST_WIDE: &[&str] = &["net.ipv4.tcp_max_orphans"];

/// The host-wide sysctls as the calling thread sees them: the host's values
/// when sockscope runs in the host's namespace, none when it runs inside a
/// child one (`ip netns exec`, a container).
pub(super) fn host_wide_sysctls() -> Sysctls {
    let mut sysctls = Sysctls::default();
    for name in HOST_WIDE {
        if let Ok(text) = fs::read_to_string(sysctl_path(name)) {
            sysctls.0.insert(name.to_string(), SysctlValue::parse(&text));
        }
    }
    sysctls
}

/// Adds to `sysctls`, read inside a namespace, the host-wide ones it could
/// not see, from `host`. Those known nowhere (sockscope itself runs inside
/// a child namespace, as in every container) stay absent: a warning on
/// every run there would say nothing the documentation does not.
pub(super) fn complete_host_wide(sysctls: &mut Sysctls, host: &Sysctls) {
    for name in HOST_WIDE {
        if let (false, Some(value)) = (sysctls.0.contains_key(*name), host.0.get(*name)) {
            sysctls.0.insert(name.to_string(), value.clone());
        }
    }
}

pub fn sysctl_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

fn read_counters(missing: &mut Vec<String>) -> Counters {
    let mut snmp = Sections::new();
    let mut sockstat = Sections::new();
    for file in ["netstat", "snmp"] {
        match read_net_file(file) {
            Some(text) => proc_text::parse_snmp(&text, SNMP_SECTIONS, &mut snmp),
            None => missing.push(format!("/proc/net/{file}")),
        }
    }
    for file in ["sockstat", "sockstat6"] {
        if let Some(text) = read_net_file(file) {
            proc_text::parse_sockstat(&text, &mut sockstat);
        }
    }
    Counters { snmp, sockstat }
}

fn read_net_file(name: &str) -> Option<String> {
    fs::read_to_string(format!("/proc/thread-self/net/{name}")).ok()
}

/// Host identity (not namespace-scoped).
pub(super) fn host_info() -> HostInfo {
    let uname = rustix::system::uname();
    HostInfo {
        hostname: uname.nodename().to_string_lossy().into_owned(),
        kernel: uname.release().to_string_lossy().into_owned(),
        euid: rustix::process::geteuid().as_raw(),
    }
}

#[cfg(test)]
mod host_wide_tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Sysctls {
        let mut sysctls = Sysctls::default();
        for (name, value) in pairs {
            sysctls.0.insert(name.to_string(), SysctlValue::parse(value));
        }
        sysctls
    }

    /// A child namespace lacks `tcp_max_orphans`: the host's value fills
    /// it in; a namespace's own value is never replaced.
    #[test]
    fn host_wide_sysctls_come_from_the_host() {
        let host = with(&[("net.ipv4.tcp_max_orphans", "131072")]);
        let mut child = with(&[("net.core.somaxconn", "4096")]);
        complete_host_wide(&mut child, &host);
        assert_eq!(child, with(&[("net.core.somaxconn", "4096"), ("net.ipv4.tcp_max_orphans", "131072")]));
        let mut own = with(&[("net.ipv4.tcp_max_orphans", "65536")]);
        complete_host_wide(&mut own, &host);
        assert_eq!(own, with(&[("net.ipv4.tcp_max_orphans", "65536")]));
        let mut blind = with(&[]);
        complete_host_wide(&mut blind, &Sysctls::default());
        assert_eq!(blind, with(&[]), "unknown stays absent");
    }
}
