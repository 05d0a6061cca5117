//! Facts about the host and network namespace that govern the sockets:
//! sysctls, kernel counters, identity.
//!
//! A full accept queue means little without `net.core.somaxconn` beside it, and
//! TIME-WAIT buildup means little without `ip_local_port_range`; these values
//! travel in the snapshot so analysis can judge sockets against them.

use std::collections::BTreeMap;

use serde::Serialize;

/// The sysctl catalogue: every sysctl a socket diagnosis should show, in
/// display order. Collection reads these; faces show them in this order.
pub const SYSCTLS: &[&str] = &[
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.core.rmem_default",
    "net.core.rmem_max",
    "fs.file-nr",
    "fs.file-max",
    "fs.nr_open",
];

/// A sysctl value: one integer, several integers, or text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SysctlValue {
    Int(i64),
    Ints(Vec<i64>),
    Text(String),
}

impl SysctlValue {
    /// Parses the text of a `/proc/sys` file: whitespace-separated integers
    /// become numbers, anything else stays text.
    pub fn parse(text: &str) -> SysctlValue {
        let ints: Result<Vec<i64>, _> = text.split_whitespace().map(str::parse).collect();
        match ints {
            Ok(v) if v.len() == 1 => SysctlValue::Int(v[0]),
            Ok(v) if !v.is_empty() => SysctlValue::Ints(v),
            _ => SysctlValue::Text(text.split_whitespace().collect::<Vec<_>>().join(" ")),
        }
    }
}

impl std::fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SysctlValue::Int(n) => write!(f, "{n}"),
            SysctlValue::Ints(v) => {
                let parts: Vec<String> = v.iter().map(i64::to_string).collect();
                f.write_str(&parts.join(" "))
            }
            SysctlValue::Text(t) => f.write_str(t),
        }
    }
}

/// Sysctls keyed by dotted name (`net.core.somaxconn`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Sysctls(pub BTreeMap<String, SysctlValue>);

impl Sysctls {
    pub fn get(&self, name: &str) -> Option<&SysctlValue> {
        self.0.get(name)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.0.get(name)? {
            SysctlValue::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// `net.ipv4.ip_local_port_range` as (low, high), inclusive.
    pub fn ephemeral_ports(&self) -> Option<(u16, u16)> {
        match self.0.get("net.ipv4.ip_local_port_range")? {
            SysctlValue::Ints(v) if v.len() == 2 => {
                Some((u16::try_from(v[0]).ok()?, u16::try_from(v[1]).ok()?))
            }
            _ => None,
        }
    }

    /// Number of ephemeral ports per (source ip, destination ip:port).
    pub fn ephemeral_port_count(&self) -> Option<u32> {
        let (lo, hi) = self.ephemeral_ports()?;
        (hi >= lo).then(|| u32::from(hi - lo) + 1)
    }
}

/// Counters from `/proc/net/netstat` and `/proc/net/snmp` (`TcpExt`, `Tcp`,
/// `Udp`, ...) and `/proc/net/sockstat` (`TCP: inuse .. tw ..`), keyed by
/// section then name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    #[serde(flatten)]
    pub snmp: BTreeMap<String, BTreeMap<String, i64>>,
    pub sockstat: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Counters {
    pub fn get(&self, section: &str, name: &str) -> Option<i64> {
        self.snmp.get(section)?.get(name).copied()
    }

    pub fn sockstat(&self, section: &str, name: &str) -> Option<i64> {
        self.sockstat.get(section)?.get(name).copied()
    }
}

/// Which network namespace a snapshot describes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetnsInfo {
    /// What the user named (`--netns`), or `None` for sockscope's own namespace.
    pub label: Option<String>,
    /// The namespace inode, as in `net:[4026531840]`.
    pub inode: Option<u64>,
    /// The namespace inode the same target named before, when it changed
    /// since the previous snapshot (deleted and re-created, or moved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_from: Option<u64>,
}

/// Identity of the machine the snapshot was taken on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    pub hostname: String,
    pub kernel: String,
    /// Effective uid sockscope ran as; 0 means every process was visible.
    pub euid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_values_are_typed() {
        assert_eq!(SysctlValue::parse("4096\n"), SysctlValue::Int(4096));
        assert_eq!(SysctlValue::parse("32768\t60999\n"), SysctlValue::Ints(vec![32768, 60999]));
        assert_eq!(SysctlValue::parse("\n"), SysctlValue::Text(String::new()));
        assert_eq!(SysctlValue::parse("8080,9000-9010\n"), SysctlValue::Text("8080,9000-9010".into()));
    }

    #[test]
    fn ephemeral_range_counts_inclusive() {
        let mut s = Sysctls::default();
        s.0.insert("net.ipv4.ip_local_port_range".into(), SysctlValue::Ints(vec![32768, 60999]));
        assert_eq!(s.ephemeral_port_count(), Some(28232));
    }
}
