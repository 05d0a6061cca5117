//! Findings in words: the subject, the one-line message and the hint, written
//! from a finding's typed evidence. Every face (the dump, `--json`, watch
//! lines, the dashboard) words findings through here, so a finding reads the
//! same everywhere; analysis itself never builds text.

use super::escape;
use crate::analyze::evidence::{
    ChurnEvidence, CloseWaitLeakEvidence, FdEvidence, FdLeakEvidence, ListenOverflowEvidence, QueueEvidence,
    Stall, StalledEvidence, StalledOwner, SynQueueEvidence, SynSentEvidence, TimeWaitEvidence,
};
use crate::analyze::{Evidence, Finding, Subject};

/// What a finding is about, as printed and as the JSON `subject`:
/// `tcp 0.0.0.0:8080`, `pid 1234 (server)`, `10.0.0.5:5432` or `host`.
pub fn subject_text(subject: &Subject) -> String {
    match subject {
        Subject::Socket { proto, local, .. } => {
            format!("{} {}", proto.netid(), escape::EndpointText(local))
        }
        Subject::Process { pid, comm } => format!("pid {pid} ({})", escape::text(comm)),
        Subject::Destination(addr) => addr.to_string(),
        Subject::Host => "host".to_string(),
    }
}

pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A time to a limit, rounded to what a human plans with.
pub fn eta_text(secs: f64) -> String {
    match secs {
        s if s < 90.0 => format!("~{:.0} s", s.max(0.0)),
        s if s < 5400.0 => format!("~{:.0} min", s / 60.0),
        s => format!("~{:.1} h", s / 3600.0),
    }
}

/// One line saying what is wrong, with the numbers that show it.
pub fn message(f: &Finding) -> String {
    match &f.evidence {
        Evidence::AcceptQueueFull(q) => format!(
            "accept queue full: {} connections wait for accept(), backlog {} — {}{}",
            q.accept_queue,
            q.backlog,
            match f.subject {
                // A UNIX listener drops nothing: connect() blocks, or fails with EAGAIN.
                Subject::Socket { proto: crate::model::Proto::UnixStream, .. } =>
                    "new connects block or fail (EAGAIN)",
                _ => "new connections are being dropped",
            },
            gave_up(q.queued_close_wait)
        ),
        Evidence::AcceptQueueNearFull(e) => format!(
            "accept queue near full: {} of backlog {} ({}%) wait for accept(){}",
            e.queue.accept_queue,
            e.queue.backlog,
            e.fill_pct,
            gave_up(e.queue.queued_close_wait)
        ),
        Evidence::AcceptStalled(e) => stalled_message(e),
        Evidence::SynQueuePressure(e) => syn_queue_message(e),
        Evidence::ListenerDrops(q) => {
            let drops = q.drops.unwrap_or(0);
            format!(
                "listener has dropped {drops} connection attempt{} since it was opened",
                plural(u64::from(drops))
            )
        }
        Evidence::BacklogCappedBySomaxconn(e) => format!(
            "backlog {} equals net.core.somaxconn: the application likely asked for more and was capped",
            e.backlog
        ),
        Evidence::CloseWait(e) => format!(
            "holds {} CLOSE-WAIT socket{}: the peer closed, this process never called close()",
            e.close_wait,
            plural(u64::from(e.close_wait))
        ),
        Evidence::UnownedCloseWait(e) => {
            format!("{} CLOSE-WAIT sockets whose owning process could not be seen", e.close_wait)
        }
        Evidence::TimeWaitBuildup(e) => time_wait_message(e, &subject_text(&f.subject)),
        Evidence::TimeWaitBuckets(e) => format!(
            "{} TIME-WAIT sockets reach {}% of net.ipv4.tcp_max_tw_buckets ({}); beyond it the kernel skips TIME-WAIT",
            e.time_wait,
            e.share_pct(),
            e.tcp_max_tw_buckets
        ),
        Evidence::FdExhaustionRisk(e) => fd_message(e),
        Evidence::SynSentPileup(e) => syn_sent_message(e, &subject_text(&f.subject)),
        Evidence::UdpReceiveDrops(e) => {
            format!("dropped {} datagrams because its receive buffer was full", e.drops)
        }
        Evidence::CloseWaitLeak(e) => close_wait_leak_message(e),
        Evidence::FdLeak(e) => fd_leak_message(e),
        Evidence::GhostSockets(e) => format!(
            "holds {} dead TCP connection{} (reset by the peer, a failed connect, or closed by both \
             ends without close()): the kernel no longer tracks them and no dump shows them, yet each \
             keeps an fd",
            e.ghost_sockets,
            plural(u64::from(e.ghost_sockets))
        ),
        Evidence::NeverConnectedSockets(e) => format!(
            "holds {} TCP socket{} never connected (no segment ever sent or received); \
             no dump shows {}",
            e.never_connected,
            plural(u64::from(e.never_connected)),
            if e.never_connected == 1 { "it" } else { "them" }
        ),
        Evidence::TimeWaitChurn(e) => churn_message(e, &subject_text(&f.subject)),
        Evidence::ListenOverflow(e) => listen_overflow_message(e),
    }
}

/// `; 2 of them already closed by the client` when waiting clients gave up.
fn gave_up(closed: u32) -> String {
    match closed {
        0 => String::new(),
        n => format!("; {n} of them already closed by the client, who gave up waiting"),
    }
}

fn stalled_message(e: &StalledEvidence) -> String {
    let owners: Vec<String> = e.owners.iter().map(stalled_owner_text).collect();
    format!(
        "{} connection{} wait (backlog {}) and no owner can accept(): {}{}",
        e.accept_queue,
        plural(u64::from(e.accept_queue)),
        e.backlog,
        owners.join("; "),
        gave_up(e.queued_close_wait)
    )
}

fn stalled_owner_text(o: &StalledOwner) -> String {
    let who = format!("pid {} ({})", o.pid, escape::text(&o.comm));
    match o.stall {
        Stall::Stopped => format!("{who} is stopped (T)"),
        Stall::Traced => format!("{who} is stopped by a debugger (t)"),
        Stall::Uninterruptible => format!("{who} is in uninterruptible sleep (D)"),
        Stall::Exiting => format!("{who} is exiting"),
        Stall::FdLimit => format!(
            "{who} has reached its fd limit ({} of {} open): accept() fails with EMFILE",
            o.fds.map_or("?".to_string(), |n| n.to_string()),
            o.fd_limit.map_or("?".to_string(), |n| n.to_string())
        ),
    }
}

fn syn_queue_message(e: &SynQueueEvidence) -> String {
    let limit = match e.limit < u64::from(e.backlog) {
        true => format!("{} (3/4 of net.ipv4.tcp_max_syn_backlog, below the backlog {})", e.limit, e.backlog),
        false => format!("{} (the listener's backlog)", e.limit),
    };
    match (e.full(), e.drops_at_limit()) {
        (true, true) => format!(
            "SYN queue full: {} half-open connections over its limit {limit}; new SYNs are dropped (tcp_syncookies=0)",
            e.syn_recv
        ),
        (true, false) => format!(
            "SYN queue full: {} half-open connections over its limit {limit}; new SYNs are answered with SYN cookies",
            e.syn_recv
        ),
        (false, _) => format!(
            "SYN queue holds {} half-open connections, {}% of its limit {limit}",
            e.syn_recv,
            e.share_pct()
        ),
    }
}

fn time_wait_message(e: &TimeWaitEvidence, dest: &str) -> String {
    let reuse = e.tcp_tw_reuse.map_or("?".to_string(), |r| r.to_string());
    if e.reuse_applies {
        return format!(
            "{} TIME-WAIT sockets towards {dest} ({}% of the {} ephemeral ports), but tcp_tw_reuse={reuse} \
             lets connect() reuse them once 1 s old: they do not exhaust the port range",
            e.time_wait, e.share_pct, e.ephemeral_ports
        );
    }
    match e.reached() {
        true => format!(
            "{} TIME-WAIT sockets towards {dest} have pinned all {} ephemeral ports: \
             connect() to it fails with EADDRNOTAVAIL",
            e.time_wait, e.ephemeral_ports
        ),
        false => format!(
            "{} TIME-WAIT sockets towards {dest} pin {}% of the {} ephemeral ports; \
             connect() fails with EADDRNOTAVAIL when they run out",
            e.time_wait, e.share_pct, e.ephemeral_ports
        ),
    }
}

fn fd_message(e: &FdEvidence) -> String {
    match e.reached() {
        true => format!(
            "has reached its fd limit: {} open, RLIMIT_NOFILE {} — open(), socket() and accept() \
             fail with EMFILE (\"Too many open files\")",
            e.fds, e.fd_limit
        ),
        false => format!(
            "has {} of {} file descriptors open ({}%): \"Too many open files\" is near",
            e.fds, e.fd_limit, e.usage_pct
        ),
    }
}

fn syn_sent_message(e: &SynSentEvidence, dest: &str) -> String {
    let head = format!("{} connections stuck in SYN-SENT towards {dest}", e.syn_sent);
    match &e.local_listener {
        Some(l) if l.full => format!(
            "{head}: it is this namespace's listener tcp {}, whose accept queue is full ({}/{}) \
             and drops their SYNs",
            l.local, l.accept_queue, l.backlog
        ),
        Some(l) => format!(
            "{head}: it is this namespace's listener tcp {} (accept queue {}/{}, {} half-open), \
             which does not answer their SYNs",
            l.local, l.accept_queue, l.backlog, l.syn_recv
        ),
        None => format!("{head}: it does not answer SYNs"),
    }
}

fn close_wait_leak_message(e: &CloseWaitLeakEvidence) -> String {
    let reached = e.fds.zip(e.fd_limit).is_some_and(|(used, limit)| u64::from(used) >= limit);
    let when = match (reached, e.eta_s) {
        (true, _) => "; its fds have reached RLIMIT_NOFILE: accept() and open() fail with EMFILE".to_string(),
        (false, Some(eta)) => format!("; fds reach RLIMIT_NOFILE in {}", eta_text(eta)),
        (false, None) => String::new(),
    };
    format!(
        "CLOSE-WAIT grows by {:.2}/s ({:.0} → {} in {:.0} s){when}",
        e.rate_per_s,
        e.start(),
        e.close_wait,
        e.window_s
    )
}

fn fd_leak_message(e: &FdLeakEvidence) -> String {
    let limit = e.fd_limit.map_or("no limit".to_string(), |l| format!("RLIMIT_NOFILE {l}"));
    let reached = e.fds.zip(e.fd_limit).is_some_and(|(used, limit)| u64::from(used) >= limit);
    let when = match (reached, e.eta_s) {
        (true, _) => format!(" and have reached {limit}: open(), socket() and accept() fail with EMFILE"),
        (false, Some(eta)) => format!(": {limit} reached in {}", eta_text(eta)),
        (false, None) => String::new(),
    };
    let verb = if reached { "grew" } else { "grow" };
    format!(
        "open fds {verb} by {:.2}/s ({:.0} → {:.0} in {:.0} s){when}",
        e.rate_per_s,
        e.start,
        e.fds.map_or(0.0, f64::from),
        e.window_s
    )
}

fn churn_message(e: &ChurnEvidence, dest: &str) -> String {
    let rate = format!("new TIME-WAIT towards {dest} at {:.1}/s over {:.0} s", e.rate_per_s, e.window_s);
    if e.reuse_applies {
        let reuse = e.tcp_tw_reuse.map_or("?".to_string(), |r| r.to_string());
        return format!(
            "{rate}, but tcp_tw_reuse={reuse} lets connect() reuse a TIME-WAIT port after 1 s: \
             about {:.0} of {} ephemeral ports stay busy",
            e.ports_needed, e.ephemeral_ports
        );
    }
    let outcome = match (e.reached(), e.eta_s) {
        (true, _) => "every port is pinned: connect() fails with EADDRNOTAVAIL".to_string(),
        (false, Some(eta)) => format!("the port range runs out in {}", eta_text(eta)),
        (false, None) => format!("{}% of the port range stays pinned", e.share_pct()),
    };
    format!(
        "{rate}: 60 s of TIME-WAIT pins {:.0} of {} ephemeral ports; {outcome}",
        e.projected_time_wait, e.ephemeral_ports
    )
}

fn listen_overflow_message(e: &ListenOverflowEvidence) -> String {
    format!(
        "dropped {} connection attempt{} in {:.0} s ({}): its accept queue overflows ({}/{})",
        e.new_drops,
        plural(u64::from(e.new_drops)),
        e.window_s,
        rate_text(e.rate_per_s),
        e.accept_queue,
        e.backlog
    )
}

/// An event rate in the unit that keeps a digit: `12/s`, `0.5/s`, `1.2/min`.
pub fn rate_text(per_s: f64) -> String {
    match per_s {
        r if r >= 9.95 => format!("{r:.0}/s"),
        r if r >= 0.095 => format!("{r:.1}/s"),
        r if r * 60.0 >= 0.095 => format!("{:.1}/min", r * 60.0),
        r => format!("{:.1}/h", r * 3600.0),
    }
}

/// What to do about it.
pub fn hint(f: &Finding) -> String {
    let cap = match &f.evidence {
        Evidence::AcceptQueueFull(q) => somaxconn_cap(q),
        Evidence::AcceptQueueNearFull(e) => somaxconn_cap(&e.queue),
        _ => String::new(),
    };
    match &f.evidence {
        Evidence::TimeWaitBuildup(e) if !e.reuse_applies => {
            format!("{}; {}", fixed_hint(&f.evidence), reuse_advice(e.tcp_tw_reuse, e.tcp_timestamps))
        }
        Evidence::TimeWaitChurn(e) if !e.reuse_applies => {
            format!("{}; {}", fixed_hint(&f.evidence), reuse_advice(e.tcp_tw_reuse, None))
        }
        _ => format!("{}{cap}", fixed_hint(&f.evidence)),
    }
}

/// Why `tcp_tw_reuse` does not cover a destination, and what would.
fn reuse_advice(tw_reuse: Option<i64>, timestamps: Option<i64>) -> &'static str {
    match (tw_reuse, timestamps) {
        (_, Some(0)) => "tcp_tw_reuse needs net.ipv4.tcp_timestamps=1 to reuse TIME-WAIT ports",
        (Some(2), _) => {
            "net.ipv4.tcp_tw_reuse=2 reuses TIME-WAIT ports towards loopback only: 1 would cover this destination"
        }
        (Some(1), _) => "tcp_tw_reuse=1 cannot help: these connections carry no TCP timestamps",
        _ => "net.ipv4.tcp_tw_reuse=1 would let connect() reuse a TIME-WAIT port once it is 1 s old",
    }
}

/// The hint without the numbers that complete it.
fn fixed_hint(evidence: &Evidence) -> &'static str {
    match evidence {
        Evidence::AcceptQueueFull(_) => {
            "the owning process is not calling accept() fast enough (stuck, overloaded or blocked); \
             find out why, then consider a larger listen() backlog"
        }
        Evidence::AcceptQueueNearFull(_) => {
            "the application accepts barely as fast as clients arrive; one slow-down overflows it"
        }
        Evidence::AcceptStalled(e) => match e.owners.first().map(|o| o.stall) {
            Some(Stall::Stopped) => {
                "a stopped process accepts nothing: `kill -CONT PID` resumes it (job control, a stray SIGSTOP)"
            }
            Some(Stall::Traced) => "a debugger holds it stopped: detach it (gdb `detach`, end strace)",
            Some(Stall::Uninterruptible) => {
                "`cat /proc/PID/stack` and /proc/PID/wchan show what it waits for (storage, NFS, a hung mount)"
            }
            Some(Stall::FdLimit) => {
                "every fd is in use, so accept() fails with EMFILE (event loops often spin on it): find what \
                 holds the fds (CLOSE-WAIT, leaks), then raise the limit (LimitNOFILE=, ulimit -n)"
            }
            Some(Stall::Exiting) | None => {
                "its owner is exiting: whatever restarts the service must take the listener over"
            }
        },
        Evidence::SynQueuePressure(e) if e.drops_at_limit() => {
            "net.ipv4.tcp_syncookies=0: at the limit new SYNs are dropped (TcpExt.TCPReqQFullDrop); \
             enable syncookies, and check for a SYN flood or clients that never complete the handshake"
        }
        Evidence::SynQueuePressure(_) => {
            "at the limit the kernel answers with SYN cookies (TcpExt.TCPReqQFullDoCookies, SyncookiesSent); \
             check for a SYN flood or clients that never complete the handshake"
        }
        Evidence::ListenerDrops(_) => {
            "a listener drops SYNs and handshakes when its accept queue overflows (TcpExt.ListenOverflows), \
             and with net.ipv4.tcp_syncookies=0 when its SYN queue is full (TcpExt.TCPReqQFullDrop); \
             the count covers the listener's whole life: over time (watch, the dashboard) a listen_overflow \
             finding says whether it still grows"
        }
        Evidence::BacklogCappedBySomaxconn(_) => {
            "to get a deeper queue, raise net.core.somaxconn, then restart the listener (the cap applies at listen() time)"
        }
        Evidence::CloseWait(_) => {
            "CLOSE-WAIT never times out: a code path reads EOF (or errors) and does not close the socket; \
             each one keeps an fd until the process hits RLIMIT_NOFILE (\"Too many open files\"). \
             `sockscope watch --pid PID` shows whether it grows"
        }
        Evidence::UnownedCloseWait(_) => {
            "run as root (or in the owner's pid namespace) to see which process leaks them"
        }
        Evidence::TimeWaitBuildup(e) if e.reuse_applies => {
            "nothing to fix for ports: connect() reuses these once they are 1 s old; \
             reusing connections (keep-alive, pooling) still saves the handshakes"
        }
        Evidence::TimeWaitBuildup(_) => {
            "connections to this destination are opened and closed faster than TIME-WAIT (60 s) expires: \
             reuse them (keep-alive, pooling) or widen net.ipv4.ip_local_port_range"
        }
        Evidence::TimeWaitBuckets(_) => {
            "many short connections end here; reuse connections, or raise net.ipv4.tcp_max_tw_buckets"
        }
        Evidence::FdExhaustionRisk(_) => {
            "look for a leak first (CLOSE-WAIT sockets, `sockscope watch --pid PID`), \
             then raise the limit (LimitNOFILE= in systemd, ulimit -n)"
        }
        Evidence::SynSentPileup(e) if e.local_listener.is_some() => {
            "the listener is here: its findings (accept_queue_full, accept_stalled) say why it does not \
             take these connections"
        }
        Evidence::SynSentPileup(_) => {
            "the destination is unreachable, filtered, or its accept queue is full (it drops SYNs); \
             run sockscope on that host to check its listener"
        }
        Evidence::UdpReceiveDrops(_) => {
            "the application reads slower than datagrams arrive: read faster, or raise SO_RCVBUF \
             (capped by net.core.rmem_max)"
        }
        Evidence::CloseWaitLeak(_) => {
            "the process reads EOF from these peers but never closes the sockets; find the code path that \
             returns without close() (error handling, timeouts) — the peers listed are where it happens"
        }
        Evidence::FdLeak(_) => {
            "\"Too many open files\" (EMFILE) follows at the limit; `ls -l /proc/PID/fd` shows what the fds are \
             (sockets, files, pipes), and CLOSE-WAIT or ghost findings name socket leaks"
        }
        Evidence::GhostSockets(_) => {
            "the application keeps the fds of connections that ended (an ignored ECONNRESET, or no \
             close() after shutdown() and the peer's FIN); `ls -l /proc/PID/fd | grep INODE` finds them"
        }
        Evidence::NeverConnectedSockets(_) => {
            "usually harmless (a pool's spare sockets, a socket between socket() and connect()); \
             a count that keeps growing is a leak of sockets opened and never used"
        }
        Evidence::TimeWaitChurn(e) if e.reuse_applies => {
            "nothing to fix for ports while reuse applies; reusing connections (keep-alive, pooling) \
             still saves the handshakes"
        }
        Evidence::TimeWaitChurn(_) => {
            "each short connection to this destination pins a port for 60 s; at about ports/60 new connections \
             per second connect() fails with EADDRNOTAVAIL — reuse connections (keep-alive, pooling) or widen \
             net.ipv4.ip_local_port_range"
        }
        Evidence::ListenOverflow(_) => {
            "the owner accepts slower than clients arrive; the global TcpExt.ListenOverflows counter rises \
             with it — this names the listener"
        }
    }
}

fn somaxconn_cap(q: &QueueEvidence) -> String {
    q.somaxconn.map_or(String::new(), |s| format!(" (capped by net.core.somaxconn = {s})"))
}
