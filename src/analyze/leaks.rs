//! Findings about change over time (watch mode): what grows, how fast, and
//! when it will fall over. Pure functions of a [`History`] window and the
//! latest snapshot (for peers and limits).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::connections::close_wait_peers;
use super::evidence::{
    ChurnEvidence, CloseWaitLeakEvidence, Evidence, FdLeakEvidence, GhostEvidence, ListenOverflowEvidence,
    NeverConnectedEvidence, Peer, reuse_applies,
};
use super::finding::{Finding, FindingKind, Severity, Subject};
use super::history::{History, ListenerId, ProcessSample, Sample};
use super::percent::pct;
use crate::model::Snapshot;

/// When growth counts as a leak.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakThresholds {
    /// The stretch of history judged.
    pub window: Duration,
    /// Samples needed in the window before judging a trend.
    pub min_samples: usize,
    /// Samples needed before projecting a time to a limit: an ETA from two
    /// or three points swings with every hiccup.
    pub eta_min_samples: usize,
    /// History needed before judging a rate (a rate from 0.6 s is noise).
    pub min_span: Duration,
    /// `close_wait_leak` from this much growth across the window.
    pub close_wait_growth: u32,
    /// `fd_leak` from this much growth across the window.
    pub fd_growth: u32,
    /// `time_wait_churn` when 60 s of TIME-WAIT at the current creation rate
    /// would pin this share of the ephemeral ports (percent).
    pub time_wait_pct: f64,
}

impl LeakThresholds {
    /// The defaults watch mode and the dashboard start from.
    pub const DEFAULT: LeakThresholds = LeakThresholds {
        window: Duration::from_secs(60),
        min_samples: 3,
        eta_min_samples: 5,
        min_span: Duration::from_secs(2),
        close_wait_growth: 3,
        fd_growth: 5,
        time_wait_pct: 50.0,
    };
}

impl Default for LeakThresholds {
    fn default() -> LeakThresholds {
        LeakThresholds::DEFAULT
    }
}

/// How long TIME-WAIT lasts on Linux (hard-coded, not `tcp_fin_timeout`).
const TIME_WAIT_SECS: f64 = 60.0;

/// All trend findings for the window ending at `latest`.
pub fn leaks(history: &History, latest: &Snapshot, t: &LeakThresholds) -> Vec<Finding> {
    let window = history.window(t.window);
    if window.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    out.extend(ghosts(&window, latest));
    out.extend(never_connected(&window, latest));
    out.extend(listen_overflow(&window, latest));
    let span = seconds(window[0], window[window.len() - 1]);
    if span >= t.min_span.as_secs_f64() {
        out.extend(process_leaks(&window, latest, t));
        out.extend(time_wait_churn(&window, latest, t));
    }
    Finding::sort(&mut out);
    out
}

/// Whether a kind is a leak for `--fail-on leak`.
pub fn is_leak(kind: FindingKind) -> bool {
    matches!(kind, FindingKind::CloseWaitLeak | FindingKind::FdLeak | FindingKind::GhostSockets)
}

fn seconds(a: &Sample, b: &Sample) -> f64 {
    b.at.duration_since(a.at).map_or(0.0, |d| d.as_secs_f64())
}

/// A series of (seconds since the window start, value).
type Series = Vec<(f64, f64)>;

fn series(window: &[&Sample], value: impl Fn(&Sample) -> Option<f64>) -> Series {
    let start = window[0];
    window.iter().filter_map(|s| value(s).map(|v| (seconds(start, s), v))).collect()
}

/// Least-squares slope per second.
fn slope(points: &Series) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (num, den) = points
        .iter()
        .fold((0.0, 0.0), |(num, den), (x, y)| (num + (x - mx) * (y - my), den + (x - mx).powi(2)));
    if den > 0.0 { num / den } else { 0.0 }
}

/// Growth from first to last point, when it rises steadily: at least two
/// thirds of the steps do not go down, the fitted slope is positive, and the
/// last point is above everything in the first half of the window (a value
/// that dipped and came back to where it was has not grown).
fn steady_growth(points: &Series, min_samples: usize) -> Option<(f64, f64)> {
    if points.len() < min_samples {
        return None;
    }
    let steps = points.windows(2).filter(|w| w[1].1 >= w[0].1).count();
    let last = points.last()?.1;
    let growth = last - points.first()?.1;
    let earlier_peak = points[..points.len() / 2].iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let rate = slope(points);
    let steady = steps * 3 >= (points.len() - 1) * 2 && rate > 0.0 && growth > 0.0 && last > earlier_peak;
    steady.then_some((growth, rate))
}

/// Seconds until `used` reaches `limit` at `rate` per second (the slope
/// fitted over the window), once `samples` are enough to trust it.
fn eta(used: f64, limit: Option<u64>, rate: f64, samples: usize, t: &LeakThresholds) -> Option<f64> {
    let limit = limit? as f64;
    (rate > 0.0 && samples >= t.eta_min_samples).then(|| ((limit - used) / rate).max(0.0))
}

fn process_leaks(window: &[&Sample], latest: &Snapshot, t: &LeakThresholds) -> Vec<Finding> {
    let Some(last) = window.last() else { return Vec::new() };
    let mut out = Vec::new();
    for (&pid, now) in &last.processes {
        let cw = series(window, |s| s.processes.get(&pid).map(|p| f64::from(p.close_wait)));
        let fds = series(window, |s| s.processes.get(&pid).and_then(|p| p.fds).map(f64::from));
        let fd_trend = steady_growth(&fds, t.min_samples);
        let subject = Subject::Process { pid, comm: now.comm.clone() };
        if let Some(trend) =
            steady_growth(&cw, t.min_samples).filter(|g| g.0 >= f64::from(t.close_wait_growth))
        {
            let peers = close_wait_peers(latest, pid);
            let fd_trend = fd_trend.map(|(_, rate)| (rate, fds.len()));
            out.push(close_wait_leak(subject.clone(), now, &cw, trend, fd_trend, peers, t));
        }
        if let Some(trend) = fd_trend.filter(|g| g.0 >= f64::from(t.fd_growth)) {
            out.push(fd_leak(subject, now, &fds, trend, t));
        }
    }
    out
}

/// `fd_trend` is the fd slope and the samples it was fitted over.
fn close_wait_leak(
    subject: Subject,
    now: &ProcessSample,
    cw: &Series,
    (growth, rate): (f64, f64),
    fd_trend: Option<(f64, usize)>,
    peers: Vec<Peer>,
    t: &LeakThresholds,
) -> Finding {
    let fd_rate = fd_trend.map(|t| t.0);
    let fds = now.fds.map(f64::from);
    let eta = fds.zip(fd_trend).and_then(|(used, (r, n))| eta(used, now.fd_limit, r, n, t));
    let reached = now.fds.zip(now.fd_limit).is_some_and(|(used, limit)| u64::from(used) >= limit);
    Finding {
        netns: None,
        severity: if reached || eta.is_some_and(|e| e < 600.0) {
            Severity::Critical
        } else {
            Severity::Warning
        },
        subject,
        evidence: Evidence::CloseWaitLeak(CloseWaitLeakEvidence {
            close_wait: now.close_wait,
            growth,
            rate_per_s: rate,
            window_s: cw.last().map_or(0.0, |p| p.0),
            samples: cw.len() as u32,
            fds: now.fds,
            fd_rate_per_s: fd_rate,
            fd_limit: now.fd_limit,
            eta_s: eta,
            peers,
        }),
    }
}

fn fd_leak(
    subject: Subject,
    now: &ProcessSample,
    fds: &Series,
    (growth, rate): (f64, f64),
    t: &LeakThresholds,
) -> Finding {
    let used = now.fds.map_or(0.0, f64::from);
    let eta = eta(used, now.fd_limit, rate, fds.len(), t);
    let reached = now.fd_limit.is_some_and(|limit| used >= limit as f64);
    Finding {
        netns: None,
        severity: if reached || eta.is_some_and(|e| e < 300.0) {
            Severity::Critical
        } else {
            Severity::Warning
        },
        subject,
        evidence: Evidence::FdLeak(FdLeakEvidence {
            fds: now.fds,
            growth,
            rate_per_s: rate,
            window_s: fds.last().map_or(0.0, |p| p.0),
            samples: fds.len() as u32,
            fd_limit: now.fd_limit,
            eta_s: eta,
            sockets: now.sockets,
            close_wait: now.close_wait,
            start: fds.first().map_or(0.0, |p| p.1),
        }),
    }
}

/// Held sockets of one kind (by pid) present in both of the last two
/// samples: a socket created between the dump and the fd scan is absent
/// from the dump for one sample only.
fn lasting<'a>(
    window: &[&'a Sample],
    held: impl Fn(&'a Sample) -> &'a HashMap<u32, Vec<u64>>,
) -> Vec<(u32, Vec<u64>)> {
    let (Some(prev), Some(last)) = (window.iter().rev().nth(1), window.last()) else { return Vec::new() };
    let mut out: Vec<(u32, Vec<u64>)> = held(last)
        .iter()
        .filter_map(|(&pid, inodes)| {
            let before = held(prev).get(&pid).map_or(&[][..], Vec::as_slice);
            let kept: Vec<u64> = inodes.iter().copied().filter(|i| before.contains(i)).collect();
            (!kept.is_empty()).then_some((pid, kept))
        })
        .collect();
    out.sort();
    out
}

/// `ghost_sockets`: dead connections (reset, or a failed connect) whose fds
/// a process keeps. A warning: each is an fd leaked on an error path.
fn ghosts(window: &[&Sample], latest: &Snapshot) -> Vec<Finding> {
    let Some(last) = window.last() else { return Vec::new() };
    lasting(window, |s| &s.ghosts)
        .into_iter()
        .map(|(pid, inodes)| Finding {
            netns: None,
            severity: Severity::Warning,
            subject: Subject::Process { pid, comm: latest.comm(pid).to_string() },
            evidence: Evidence::GhostSockets(GhostEvidence {
                ghost_sockets: inodes.len() as u32,
                inodes: inodes.iter().take(10).copied().collect(),
                fds: last.processes.get(&pid).and_then(|p| p.fds),
            }),
        })
        .collect()
}

/// `never_connected_sockets`: sockets created (maybe bound) and never
/// connected. No dump shows them either, but they are no dead connections
/// (a pool's spares, a socket before `connect()`): information only.
fn never_connected(window: &[&Sample], latest: &Snapshot) -> Vec<Finding> {
    let Some(last) = window.last() else { return Vec::new() };
    lasting(window, |s| &s.never_connected)
        .into_iter()
        .map(|(pid, inodes)| Finding {
            netns: None,
            severity: Severity::Info,
            subject: Subject::Process { pid, comm: latest.comm(pid).to_string() },
            evidence: Evidence::NeverConnectedSockets(NeverConnectedEvidence {
                never_connected: inodes.len() as u32,
                inodes: inodes.iter().take(10).copied().collect(),
                fds: last.processes.get(&pid).and_then(|p| p.fds),
            }),
        })
        .collect()
}

fn time_wait_churn(window: &[&Sample], latest: &Snapshot, t: &LeakThresholds) -> Vec<Finding> {
    let (Some(first), Some(last)) = (window.first(), window.last()) else { return Vec::new() };
    let span = seconds(first, last);
    let Some(ports) = latest.sysctls.ephemeral_port_count() else { return Vec::new() };
    if span <= 0.0 {
        return Vec::new();
    }
    let churn = Churn {
        window_s: span,
        samples: window.len(),
        ports,
        tw_reuse: latest.sysctls.int("net.ipv4.tcp_tw_reuse"),
        timestamps: latest.sysctls.int("net.ipv4.tcp_timestamps"),
    };
    // Every destination that gained TIME-WAIT anywhere in the window, so a
    // bursty client does not flap between finding and resolved.
    let mut dests: Vec<&SocketAddr> = window.iter().skip(1).flat_map(|s| s.time_wait_new.keys()).collect();
    dests.sort();
    dests.dedup();
    dests
        .into_iter()
        .filter_map(|dest| {
            let created: u32 =
                window.iter().skip(1).map(|s| s.time_wait_new.get(dest).copied().unwrap_or(0)).sum();
            let rate = f64::from(created) / span;
            let share = pct(rate * TIME_WAIT_SECS, f64::from(ports));
            (share >= t.time_wait_pct).then(|| churn.finding(*dest, last, rate, t))
        })
        .collect()
}

/// What every churn finding of one window shares.
struct Churn {
    window_s: f64,
    samples: usize,
    ports: u32,
    tw_reuse: Option<i64>,
    timestamps: Option<i64>,
}

/// How long a TIME-WAIT port stays unusable for connect() when
/// `tcp_tw_reuse` applies: reuse takes TIME-WAIT older than 1 s.
const REUSE_AFTER_SECS: f64 = 1.0;

impl Churn {
    /// With reuse covering the destination, a port is busy 1 s, not 60 s: the
    /// churn is information unless even that exhausts the range (then a
    /// warning, never critical). Without reuse, critical when the rate needs
    /// more ports than the range has.
    fn finding(&self, dest: SocketAddr, last: &Sample, rate: f64, t: &LeakThresholds) -> Finding {
        let now = last.time_wait.get(&dest).copied().unwrap_or(0);
        let reuse = reuse_applies(self.tw_reuse, self.timestamps, dest.ip());
        let busy_secs = if reuse { REUSE_AFTER_SECS } else { TIME_WAIT_SECS };
        let evidence = ChurnEvidence {
            rate_per_s: rate,
            window_s: self.window_s,
            samples: self.samples as u32,
            time_wait: now,
            projected_time_wait: rate * TIME_WAIT_SECS,
            ports_needed: rate * busy_secs,
            ephemeral_ports: self.ports,
            tcp_tw_reuse: self.tw_reuse,
            reuse_applies: reuse,
            eta_s: None,
        };
        let exhausts = evidence.exhausts();
        let eta = (exhausts && !reuse && self.samples >= t.eta_min_samples)
            .then(|| ((f64::from(self.ports) - f64::from(now)) / rate).max(0.0));
        let severity = match (reuse, exhausts) {
            (false, true) => Severity::Critical,
            (true, false) => Severity::Info,
            _ => Severity::Warning,
        };
        Finding {
            netns: None,
            severity,
            subject: Subject::Destination(dest),
            evidence: Evidence::TimeWaitChurn(ChurnEvidence { eta_s: eta, ..evidence }),
        }
    }
}

fn listen_overflow(window: &[&Sample], latest: &Snapshot) -> Vec<Finding> {
    let (Some(first), Some(last)) = (window.first(), window.last()) else { return Vec::new() };
    let span = seconds(first, last);
    let mut ids: Vec<&ListenerId> = last.listeners.keys().collect();
    ids.sort();
    ids.into_iter()
        .filter_map(|id| {
            let now = last.listeners.get(id)?;
            let before = window.iter().find_map(|s| s.listeners.get(id)?.drops)?;
            let delta = now.drops?.checked_sub(before).filter(|d| *d > 0)?;
            let rate = if span > 0.0 { f64::from(delta) / span } else { 0.0 };
            Some(Finding {
                netns: None,
                severity: if now.accept_queue > now.backlog { Severity::Critical } else { Severity::Warning },
                subject: Subject::Socket {
                    proto: id.proto,
                    local: id.local.clone(),
                    inode: id.inode,
                    pids: latest.owner_pids(id.inode),
                },
                evidence: Evidence::ListenOverflow(ListenOverflowEvidence {
                    drops: now.drops,
                    new_drops: delta,
                    rate_per_s: rate,
                    accept_queue: now.accept_queue,
                    backlog: now.backlog,
                    window_s: span,
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::analyze::evidence::{ChurnEvidence, Remote};
    use crate::analyze::{Thresholds, analyze};
    use crate::fixture::SnapshotBuilder;
    use crate::model::{FdRef, State, SysctlValue};

    fn at(s: &mut Snapshot, secs: u64) {
        s.taken_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs);
    }

    /// A server (pid 7) with `cw` CLOSE-WAIT sockets and `fds` open fds of 1024.
    fn server(secs: u64, cw: u32, fds: u32) -> Snapshot {
        let mut s = SnapshotBuilder::new()
            .process(7, "api", fds, 1024)
            .listener("0.0.0.0:80", 0, 128, 0, &[7])
            .many(cw, State::CloseWait, "10.0.0.1", "10.0.0.2:5432", &[7])
            .build();
        at(&mut s, secs);
        s
    }

    fn run(snapshots: Vec<Snapshot>) -> Vec<Finding> {
        let mut history = History::new(Duration::from_secs(300));
        for s in &snapshots {
            history.push(s, &analyze(s, &Thresholds::default()));
        }
        leaks(&history, snapshots.last().unwrap(), &LeakThresholds::default())
    }

    fn kinds(f: &[Finding]) -> Vec<FindingKind> {
        f.iter().map(Finding::kind).collect()
    }

    #[test]
    fn growing_close_wait_is_a_leak_with_its_rate_and_peers() {
        let found = run((0..6).map(|i| server(i * 2, 10 + 2 * i as u32, 100)).collect());
        assert_eq!(kinds(&found), vec![FindingKind::CloseWaitLeak]);
        let f = &found[0];
        assert_eq!(f.subject.pids(), &[7]);
        let Evidence::CloseWaitLeak(e) = &f.evidence else { panic!("{f:?}") };
        assert!((e.rate_per_s - 1.0).abs() < 0.01, "2 per 2 s: {}", e.rate_per_s);
        assert_eq!((e.close_wait, e.start()), (20, 10.0));
        let peer: SocketAddr = "10.0.0.2:5432".parse().unwrap();
        assert_eq!(e.peers, vec![Peer { remote: Remote::Endpoint(peer), count: 20 }]);
        assert_eq!(e.eta_s, None, "the fds do not grow");
    }

    #[test]
    fn a_high_but_flat_close_wait_count_is_no_leak() {
        assert!(run((0..6).map(|i| server(i * 2, 40, 100)).collect()).is_empty());
    }

    #[test]
    fn too_few_samples_judge_nothing() {
        assert!(run(vec![server(0, 1, 100), server(2, 9, 200)]).is_empty());
    }

    #[test]
    fn fd_growth_projects_the_time_to_the_limit() {
        let found = run((0..7).map(|i| server(i * 10, 0, 900 + 10 * i as u32)).collect());
        assert_eq!(kinds(&found), vec![FindingKind::FdLeak]);
        let f = &found[0];
        assert_eq!(f.severity, Severity::Critical, "the limit is about 64 s away");
        let Evidence::FdLeak(e) = &f.evidence else { panic!("{f:?}") };
        let eta = e.eta_s.unwrap();
        assert!((eta - 64.0).abs() < 1.0, "(1024 - 960) / 1 per s: {eta}");
        assert_eq!((e.fds, e.fd_limit, e.start), (Some(960), Some(1024), 900.0));
    }

    #[test]
    fn fd_growth_of_a_process_in_another_namespace_is_not_this_namespace_s_leak() {
        let elsewhere = |i: u64, holds_a_socket_here: bool| {
            let mut s = server(i * 10, 0, 900 + 10 * i as u32);
            s.netns.inode = Some(1);
            s.processes.values_mut().for_each(|p| p.netns = Some(2));
            if !holds_a_socket_here {
                s.sockets.clear();
            }
            s
        };
        assert!(run((0..7).map(|i| elsewhere(i, false)).collect()).is_empty());
        let found = run((0..7).map(|i| elsewhere(i, true)).collect());
        assert_eq!(kinds(&found), vec![FindingKind::FdLeak], "it holds a listener of this namespace");
    }

    #[test]
    fn fds_that_dip_and_come_back_are_no_leak() {
        // A busy server's connections all closed for a moment, then it was
        // back at its usual 76 fds: the window starts in the dip.
        let mut fds = vec![14];
        fds.extend([76, 77, 76, 76, 75, 76, 77, 76, 76, 76]);
        let snaps = fds.iter().enumerate().map(|(i, &n)| server(i as u64, 0, n)).collect();
        assert!(run(snaps).is_empty());
    }

    #[test]
    fn close_wait_leak_with_growing_fds_names_the_deadline() {
        let found = run((0..6).map(|i| server(i * 2, 10 + 2 * i as u32, 1000 + 2 * i as u32)).collect());
        let cw = found.iter().find(|f| f.kind() == FindingKind::CloseWaitLeak).unwrap();
        let Evidence::CloseWaitLeak(e) = &cw.evidence else { panic!("{cw:?}") };
        let eta = e.eta_s.expect("the fds grow towards RLIMIT_NOFILE");
        assert!((eta - 14.0).abs() < 0.1, "(1024 - 1010) / 1 per s: {eta}");
        assert_eq!(cw.severity, Severity::Critical);
    }

    fn with_ghost(mut s: Snapshot, inode: u64) -> Snapshot {
        s.ghosts = Some(vec![FdRef { inode, pid: 7, fd: 9 }]);
        s
    }

    #[test]
    fn ghosts_count_once_they_last_two_samples() {
        let one = run(vec![server(0, 0, 100), with_ghost(server(2, 0, 100), 555)]);
        assert!(one.is_empty(), "a ghost in one sample may be a socket being created");
        let two = run(vec![with_ghost(server(0, 0, 100), 555), with_ghost(server(2, 0, 100), 555)]);
        assert_eq!(kinds(&two), vec![FindingKind::GhostSockets]);
        let Evidence::GhostSockets(e) = &two[0].evidence else { panic!("{:?}", two[0]) };
        assert_eq!((e.ghost_sockets, &e.inodes[..]), (1, &[555][..]));
    }

    /// `samples` snapshots 1 s apart, 20 more TIME-WAIT towards `dest` each second.
    fn churning(samples: u64, dest: &str, tw_reuse: i64) -> Vec<Snapshot> {
        (0..samples)
            .map(|i| {
                let mut s = SnapshotBuilder::new()
                    .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![40000, 40999]))
                    .sysctl("net.ipv4.tcp_tw_reuse", SysctlValue::Int(tw_reuse))
                    .many(20 * (i as u32 + 1), State::TimeWait, "10.0.0.1", dest, &[])
                    .build();
                at(&mut s, i);
                s
            })
            .collect()
    }

    fn churn(found: &[Finding]) -> (Severity, ChurnEvidence) {
        let Some(Finding { severity, evidence: Evidence::TimeWaitChurn(e), .. }) = found.first() else {
            panic!("{found:?}")
        };
        (*severity, e.clone())
    }

    #[test]
    fn time_wait_churn_projects_port_exhaustion() {
        let found = run(churning(6, "10.0.0.9:443", 2));
        assert_eq!(kinds(&found), vec![FindingKind::TimeWaitChurn]);
        let (severity, e) = churn(&found);
        assert_eq!((e.rate_per_s, e.window_s, e.samples), (20.0, 5.0, 6));
        assert_eq!(severity, Severity::Critical, "1200 ports needed, 1000 in range");
        assert!(e.exhausts() && !e.reuse_applies, "tcp_tw_reuse=2 covers loopback only");
        let eta = e.eta_s.expect("the range runs out");
        assert!((eta - 44.0).abs() < 0.01, "(1000 - 120) / 20 per s: {eta}");
    }

    #[test]
    fn no_eta_before_five_samples() {
        let (severity, e) = churn(&run(churning(4, "10.0.0.9:443", 2)));
        assert_eq!((e.samples, e.eta_s), (4, None), "four samples project nothing");
        assert_eq!(severity, Severity::Critical, "the rate already needs more ports than there are");
        let found = run((0..4).map(|i| server(i * 10, 0, 900 + 10 * i as u32)).collect());
        let Evidence::FdLeak(e) = &found[0].evidence else { panic!("{found:?}") };
        assert_eq!((e.samples, e.eta_s), (4, None));
        assert_eq!(found[0].severity, Severity::Warning, "no ETA yet, limit not reached");
    }

    #[test]
    fn churn_that_tcp_tw_reuse_absorbs_is_information() {
        let (severity, e) = churn(&run(churning(6, "127.0.0.1:443", 2)));
        assert_eq!(severity, Severity::Info, "tcp_tw_reuse=2 covers loopback");
        assert!(e.reuse_applies && !e.exhausts());
        assert_eq!((e.ports_needed, e.eta_s), (20.0, None), "20/s busy for 1 s each");
        let (severity, e) = churn(&run(churning(6, "10.0.0.9:443", 1)));
        assert_eq!((severity, e.reuse_applies), (Severity::Info, true), "tcp_tw_reuse=1 covers everything");
        let (severity, e) = churn(&run(churning(6, "127.0.0.1:443", 0)));
        assert_eq!((severity, e.reuse_applies), (Severity::Critical, false), "tcp_tw_reuse=0 covers nothing");
    }

    #[test]
    fn bursty_time_wait_churn_does_not_flap() {
        let mut history = History::new(Duration::from_secs(300));
        let mut held = Vec::new();
        for i in 0..8u64 {
            // New TIME-WAIT only on even samples: 40 every 2 s, 1200 ports a minute.
            let n = 40 * (i as u32 / 2 + 1);
            let mut s = SnapshotBuilder::new()
                .sysctl("net.ipv4.ip_local_port_range", SysctlValue::Ints(vec![40000, 40999]))
                .many(n, State::TimeWait, "10.0.0.1", "10.0.0.9:443", &[])
                .build();
            at(&mut s, i);
            history.push(&s, &analyze(&s, &Thresholds::default()));
            let found = leaks(&history, &s, &LeakThresholds::default());
            held.push(found.iter().any(|f| f.kind() == FindingKind::TimeWaitChurn));
        }
        assert_eq!(held[2..], [true; 6], "{held:?}");
    }

    #[test]
    fn listen_overflow_names_only_the_listener_whose_drops_rise() {
        let snaps = (0..3u64)
            .map(|i| {
                let mut s = SnapshotBuilder::new()
                    .listener("0.0.0.0:80", 5, 4, 10 + 7 * i as u32, &[])
                    .listener("0.0.0.0:81", 0, 128, 3, &[])
                    .build();
                at(&mut s, i * 2);
                s
            })
            .collect();
        let found = run(snaps);
        assert_eq!(kinds(&found), vec![FindingKind::ListenOverflow]);
        assert_eq!(found[0].subject.port(), Some(80));
        let Evidence::ListenOverflow(e) = &found[0].evidence else { panic!("{:?}", found[0]) };
        assert_eq!((e.new_drops, e.window_s, e.rate_per_s), (14, 4.0, 3.5));
    }
}
