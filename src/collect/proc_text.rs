//! Pure parsers for the text tables in `/proc/net`.
//!
//! `/proc/net/netstat` and `/proc/net/snmp` share one format: a header line
//! `Section: Name1 Name2 ...` followed by `Section: v1 v2 ...`.
//! `/proc/net/sockstat` is `Section: key value key value ...`. Malformed lines
//! are skipped, never fatal: a counter we cannot read is only a missing number.

use std::collections::BTreeMap;

pub type Sections = BTreeMap<String, BTreeMap<String, i64>>;

/// Parses netstat/snmp text, keeping only the `wanted` sections.
pub fn parse_snmp(text: &str, wanted: &[&str], into: &mut Sections) {
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some((section, names)), Some((section2, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        if section != section2 || !wanted.contains(&section) {
            continue;
        }
        let table = into.entry(section.to_string()).or_default();
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = value.parse() {
                table.insert(name.to_string(), v);
            }
        }
    }
}

/// Parses sockstat/sockstat6 text.
pub fn parse_sockstat(text: &str, into: &mut Sections) {
    for line in text.lines() {
        let Some((section, rest)) = line.split_once(':') else {
            continue;
        };
        let table = into.entry(section.trim().to_string()).or_default();
        let words: Vec<&str> = rest.split_whitespace().collect();
        for pair in words.chunks_exact(2) {
            if let Ok(v) = pair[1].parse() {
                table.insert(pair[0].to_string(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETSTAT: &str = "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops\n\
TcpExt: 3 0 17 19\n\
IpExt: InNoRoutes InTruncatedPkts\n\
IpExt: 0 0\n";

    #[test]
    fn netstat_sections_are_keyed_by_name() {
        let mut s = Sections::new();
        parse_snmp(NETSTAT, &["TcpExt"], &mut s);
        assert_eq!(s["TcpExt"]["ListenOverflows"], 17);
        assert_eq!(s["TcpExt"]["ListenDrops"], 19);
        assert!(!s.contains_key("IpExt"));
    }

    #[test]
    fn snmp_negative_values_and_garbage_survive() {
        let text = "Tcp: RtoAlgorithm MaxConn CurrEstab\nTcp: 1 -1 7\nnonsense\nUdp: InDatagrams\nUdp: x\n";
        let mut s = Sections::new();
        parse_snmp(text, &["Tcp", "Udp"], &mut s);
        assert_eq!(s["Tcp"]["MaxConn"], -1);
        assert_eq!(s["Tcp"]["CurrEstab"], 7);
    }

    #[test]
    fn sockstat_pairs() {
        let text = "sockets: used 163\nTCP: inuse 5 orphan 0 tw 42 alloc 7 mem 1\nTCP6: inuse 2\n";
        let mut s = Sections::new();
        parse_sockstat(text, &mut s);
        assert_eq!(s["TCP"]["tw"], 42);
        assert_eq!(s["sockets"]["used"], 163);
        assert_eq!(s["TCP6"]["inuse"], 2);
    }
}
