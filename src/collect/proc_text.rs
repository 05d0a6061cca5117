//! Pure parsers for the text tables in `/proc/net` and `/proc/PID`.
//!
//! `/proc/net/netstat` and `/proc/net/snmp` share one format: a header line
//! `Section: Name1 Name2 ...` followed by `Section: v1 v2 ...`.
//! `/proc/net/sockstat` is `Section: key value key value ...`. Malformed lines
//! are skipped, never fatal: a counter we cannot read is only a missing number.
//! `/proc/PID/stat` and `/proc/PID/limits` are decoded by the procfs crate
//! from the bytes the owner scan read (the scan opens each file by path and
//! holds no fd per process, so it does not use procfs's `Process` handles).
//! Its decoders index words and slice text where the kernel's layout says
//! they are; a small shape check in front of each makes any other input a
//! `None` instead of a panic (see the property tests).

use std::collections::BTreeMap;

use procfs::process::LimitValue;
use procfs::{FromBufRead, FromRead};

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

/// Parses `/proc/PID/stat` (`pid (comm) state ppid ... starttime ...`) with
/// the procfs crate's decoder, once [`stat_shape_is_sound`] has ruled out
/// the shapes that decoder would slice out of bounds on.
pub fn parse_pid_stat(text: &[u8]) -> Option<PidStat> {
    let text = text.trim_ascii();
    if !stat_shape_is_sound(text) {
        return None;
    }
    let stat = procfs::process::Stat::from_read(text).ok()?;
    Some(PidStat { comm: stat.comm, state: stat.state, start_time: stat.starttime })
}

/// Whether a stat line has the frame the kernel writes: ASCII digits, ` (`,
/// the name, `) `, then ASCII fields starting with a visible one (so no
/// trimming by the decoder can cut the line short of them). The name is located from the *last*
/// `)` because a process chooses its own name, parentheses included.
fn stat_shape_is_sound(text: &[u8]) -> bool {
    let (Some(open), Some(close)) =
        (text.iter().position(|&b| b == b'('), text.iter().rposition(|&b| b == b')'))
    else {
        return false;
    };
    let pid = &text[..open];
    let fields = &text[close + 1..];
    pid.len() >= 2
        && pid.ends_with(b" ")
        && pid[..pid.len() - 1].iter().all(u8::is_ascii_digit)
        && close > open
        && fields.len() >= 2
        && fields[0] == b' '
        && fields[1].is_ascii_graphic()
        && fields.is_ascii()
}

/// The soft `Max open files` limit from `/proc/PID/limits`, read with the
/// procfs crate's decoder once every row has the words it indexes.
pub fn parse_fd_limit(text: &str) -> Option<FdLimit> {
    if !limits_shape_is_sound(text) {
        return None;
    }
    let limits = procfs::process::Limits::from_buf_read(text.as_bytes()).ok()?;
    match limits.max_open_files.soft_limit {
        LimitValue::Unlimited => Some(FdLimit::Unlimited),
        LimitValue::Value(n) => Some(FdLimit::Limited(n)),
    }
}

/// Every row but the header names a limit and carries at least a soft and a
/// hard value (and units, for all but the two priorities).
fn limits_shape_is_sound(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("Limit"))
        .all(|line| line.split_whitespace().count() >= 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `/proc/PID/stat` line recorded on Linux 6.18, its name replaced.
    fn recorded_stat(comm: &str) -> String {
        format!(
            "7414 ({comm}) R 7409 7409 6666 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 1197285 3133440 410 \
18446744073709551615 94066655133696 94066655153577 140723728345664 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 \
94066655169584 94066655171200 94066782072832 140723728354015 140723728354035 140723728354035 \
140723728355307 0\n"
        )
    }

    #[test]
    fn stat_with_a_hostile_name_keeps_its_fields() {
        let stat = parse_pid_stat(recorded_stat("evil) 0 0 (x").as_bytes()).unwrap();
        assert_eq!(stat.comm, "evil) 0 0 (x");
        assert_eq!(stat.state, 'R');
        assert_eq!(stat.start_time, 1197285);
        let plain = parse_pid_stat(recorded_stat("cat").as_bytes()).unwrap();
        assert_eq!((plain.comm.as_str(), plain.start_time), ("cat", 1197285));
        assert_eq!(parse_pid_stat(b"1 (init) S 0"), None, "too few fields");
        assert_eq!(parse_pid_stat(b"1 )( S"), None);
        assert_eq!(parse_pid_stat(b"(x) S 1"), None, "no pid");
        assert_eq!(parse_pid_stat(b"1 (x)"), None, "nothing after the name");
    }

    /// `/proc/self/limits` recorded on Linux 6.18, with the open-files row given.
    fn recorded_limits(open_files: &str) -> String {
        format!(
            "Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             95497                95497                processes 
{open_files}
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       95497                95497                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
"
        )
    }

    #[test]
    fn limits_soft_value() {
        let row = "Max open files            1024                 524288               files     ";
        assert_eq!(parse_fd_limit(&recorded_limits(row)), Some(FdLimit::Limited(1024)));
        let row = "Max open files            unlimited            unlimited            files     ";
        assert_eq!(parse_fd_limit(&recorded_limits(row)), Some(FdLimit::Unlimited));
        assert_eq!(parse_fd_limit(&recorded_limits("Max open files  lots")), None);
        assert_eq!(parse_fd_limit(&recorded_limits("")), None, "an empty row");
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
