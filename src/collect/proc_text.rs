//! Pure parsers for the text tables in `/proc/net` and `/proc/PID`.
//!
//! `/proc/net/netstat` and `/proc/net/snmp` share one format: a header line
//! `Section: Name1 Name2 ...` followed by `Section: v1 v2 ...`.
//! `/proc/net/sockstat` is `Section: key value key value ...`. Malformed lines
//! are skipped, never fatal: a counter we cannot read is only a missing number.
//! `/proc/PID/stat` carries a `comm` chosen by the process (it may contain
//! spaces and parentheses), so its fields are located from the *last* `)`.

use std::collections::BTreeMap;

use crate::model::FdLimit;

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

/// The parts of `/proc/PID/stat` the owner scan needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PidStat {
    /// The process name (untrusted bytes, lossily decoded).
    pub comm: String,
    /// The run state letter (`R`, `S`, `D`, `T`, `Z`...).
    pub state: char,
    /// Start time in clock ticks since boot: with the pid, it names one process.
    pub start_time: u64,
}

/// Parses `/proc/PID/stat`: `pid (comm) state ppid ... starttime ...`.
pub fn parse_pid_stat(text: &[u8]) -> Option<PidStat> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let comm = text.get(open + 1..close)?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    // Field 3 (state) is the first after the name; starttime is field 22.
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(PidStat { comm: String::from_utf8_lossy(comm).into_owned(), state, start_time })
}

/// The soft `Max open files` limit from `/proc/PID/limits`.
pub fn parse_fd_limit(text: &str) -> Option<FdLimit> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.trim_start_matches("Max open files").split_ascii_whitespace().next()?;
    match soft {
        "unlimited" => Some(FdLimit::Unlimited),
        n => n.parse().ok().map(FdLimit::Limited),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_name_keeps_its_fields() {
        let text = b"4242 (evil) 0 0 (x) R 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0\n";
        let stat = parse_pid_stat(text).unwrap();
        assert_eq!(stat.comm, "evil) 0 0 (x");
        assert_eq!(stat.state, 'R');
        assert_eq!(stat.start_time, 987654);
        assert_eq!(parse_pid_stat(b"1 (init) S 0"), None, "too few fields");
        assert_eq!(parse_pid_stat(b"1 )( S"), None);
    }

    #[test]
    fn limits_soft_value() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
Max processes             63382                63382                processes\n\
Max open files            1024                 524288               files\n";
        assert_eq!(parse_fd_limit(text), Some(FdLimit::Limited(1024)));
        let text = "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_fd_limit(text), Some(FdLimit::Unlimited));
        assert_eq!(parse_fd_limit("Max open files  lots"), None);
        assert_eq!(parse_fd_limit(""), None);
    }

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
