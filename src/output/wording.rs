//! Findings in words: the subject, the one-line message and the hint, written
//! from a finding's typed evidence. Every face (the dump, `--json`, watch
//! lines, the dashboard) words findings through here, so a finding reads the
//! same everywhere; analysis itself never builds text.

use super::escape;
use crate::analyze::evidence::{
    ChurnEvidence, CloseWaitLeakEvidence, FdLeakEvidence, ListenOverflowEvidence, QueueEvidence,
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

fn plural(n: u64) -> &'static str {
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
            "accept queue full: {} connections wait for accept(), backlog {} — new connections are being dropped",
            q.accept_queue, q.backlog
        ),
        Evidence::AcceptQueueNearFull(e) => format!(
            "accept queue near full: {} of backlog {} ({}%) wait for accept()",
            e.queue.accept_queue, e.queue.backlog, e.fill_pct
        ),
        Evidence::SynQueuePressure(e) => format!(
            "SYN queue holds {} half-open connections, {}% of its limit {} (min(backlog, somaxconn))",
            e.syn_recv,
            e.share_pct(),
            e.limit
        ),
        Evidence::ListenerDrops(q) => {
            format!("listener has dropped {} connection attempts since it was opened", q.drops.unwrap_or(0))
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
        Evidence::TimeWaitBuildup(e) => format!(
            "{} TIME-WAIT sockets towards {} pin {}% of the {} ephemeral ports; \
             connect() fails with EADDRNOTAVAIL when they run out",
            e.time_wait,
            subject_text(&f.subject),
            e.share_pct,
            e.ephemeral_ports
        ),
        Evidence::TimeWaitBuckets(e) => format!(
            "{} TIME-WAIT sockets reach {}% of net.ipv4.tcp_max_tw_buckets ({}); beyond it the kernel skips TIME-WAIT",
            e.time_wait,
            e.share_pct(),
            e.tcp_max_tw_buckets
        ),
        Evidence::FdExhaustionRisk(e) => format!(
            "has {} of {} file descriptors open ({}%): \"Too many open files\" is near",
            e.fds, e.fd_limit, e.usage_pct
        ),
        Evidence::SynSentPileup(e) => format!(
            "{} connections stuck in SYN-SENT towards {}: it does not answer SYNs",
            e.syn_sent,
            subject_text(&f.subject)
        ),
        Evidence::UdpReceiveDrops(e) => {
            format!("dropped {} datagrams because its receive buffer was full", e.drops)
        }
        Evidence::CloseWaitLeak(e) => close_wait_leak_message(e),
        Evidence::FdLeak(e) => fd_leak_message(e),
        Evidence::GhostSockets(e) => format!(
            "holds {} TCP socket{} the kernel no longer tracks (reset by the peer, or never connected): \
             no dump shows them, each keeps an fd",
            e.ghost_sockets,
            plural(u64::from(e.ghost_sockets))
        ),
        Evidence::TimeWaitChurn(e) => churn_message(e, &subject_text(&f.subject)),
        Evidence::ListenOverflow(e) => listen_overflow_message(e),
    }
}

fn close_wait_leak_message(e: &CloseWaitLeakEvidence) -> String {
    let when = e.eta_s.map_or(String::new(), |eta| format!("; fds reach RLIMIT_NOFILE in {}", eta_text(eta)));
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
    let when = e.eta_s.map_or(String::new(), |eta| format!(": {limit} reached in {}", eta_text(eta)));
    format!(
        "open fds grow by {:.2}/s ({:.0} → {:.0} in {:.0} s){when}",
        e.rate_per_s,
        e.start,
        e.fds.map_or(0.0, f64::from),
        e.window_s
    )
}

fn churn_message(e: &ChurnEvidence, dest: &str) -> String {
    let outcome = match e.eta_s {
        Some(eta) => format!("the port range runs out in {}", eta_text(eta)),
        None => format!("{}% of the port range stays pinned", e.share_pct()),
    };
    format!(
        "new TIME-WAIT towards {dest} at {:.1}/s: 60 s of TIME-WAIT pins {:.0} of {} ephemeral ports; {outcome}",
        e.rate_per_s, e.projected_time_wait, e.ephemeral_ports
    )
}

fn listen_overflow_message(e: &ListenOverflowEvidence) -> String {
    format!(
        "dropped {} connection attempts in {:.0} s ({:.1}/s): its accept queue overflows ({}/{})",
        e.new_drops, e.window_s, e.rate_per_s, e.accept_queue, e.backlog
    )
}

/// What to do about it.
pub fn hint(f: &Finding) -> String {
    let cap = match &f.evidence {
        Evidence::AcceptQueueFull(q) => somaxconn_cap(q),
        Evidence::AcceptQueueNearFull(e) => somaxconn_cap(&e.queue),
        _ => String::new(),
    };
    format!("{}{cap}", fixed_hint(&f.evidence))
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
        Evidence::SynQueuePressure(e) if e.syncookies == Some(0) => {
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
             `sockscope watch` shows whether the count still grows"
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
        Evidence::TimeWaitBuildup(_) => {
            "connections to this destination are opened and closed faster than TIME-WAIT (60 s) expires: \
             reuse them (keep-alive, pooling), set net.ipv4.tcp_tw_reuse=1, or widen net.ipv4.ip_local_port_range"
        }
        Evidence::TimeWaitBuckets(_) => {
            "many short connections end here; reuse connections, or raise net.ipv4.tcp_max_tw_buckets"
        }
        Evidence::FdExhaustionRisk(_) => {
            "look for a leak first (CLOSE-WAIT sockets, `sockscope watch --pid PID`), \
             then raise the limit (LimitNOFILE= in systemd, ulimit -n)"
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
            "the application ignores the error (ECONNRESET) on these sockets and keeps the fds; \
             `ls -l /proc/PID/fd | grep INODE` finds them"
        }
        Evidence::TimeWaitChurn(_) => {
            "each short connection to this destination pins a port for 60 s; at about ports/60 new connections \
             per second connect() fails with EADDRNOTAVAIL — reuse connections (keep-alive, pooling), set \
             net.ipv4.tcp_tw_reuse=1, or widen net.ipv4.ip_local_port_range"
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
