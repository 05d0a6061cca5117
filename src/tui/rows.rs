//! Which rows each table shows, in which order: filtering, sorting and
//! grouping, computed once per snapshot or key press (never per frame), as
//! index lists into the snapshot so 100k sockets are never copied.

use std::cmp::Reverse;
use std::collections::HashMap;

use crate::analyze::Listener;
use crate::analyze::summary::ProcessSummary;
use crate::model::{Snapshot, Socket, State};
use crate::output::escape::endpoint_text;

macro_rules! cycle {
    ($name:ident { $($variant:ident => $label:literal),+ $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $name { $($variant),+ }

        impl $name {
            const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The next choice, wrapping around.
            pub(crate) fn next(self) -> $name {
                let i = Self::ALL.iter().position(|v| *v == self).unwrap_or(0);
                Self::ALL[(i + 1) % Self::ALL.len()]
            }

            pub(crate) fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
}

cycle!(ListenerSort { Fill => "fill", Port => "port", Drops => "drops", SynRecv => "SYN-RECV" });
cycle!(ConnectionSort {
    State => "state",
    Local => "local",
    Remote => "remote",
    RecvQ => "Recv-Q",
    SendQ => "Send-Q",
    Process => "process",
});
cycle!(ProcessSort { CloseWait => "CLOSE-WAIT", Sockets => "sockets", FdUsage => "fd use", Pid => "pid", Command => "command" });
cycle!(GroupBy {
    None => "none",
    State => "state",
    Process => "process",
    Remote => "remote endpoint",
    Netns => "network namespace",
});

/// Case-insensitive substring match; an empty needle matches everything.
fn matches(haystack: &str, needle: &str) -> bool {
    needle.is_empty() || haystack.to_lowercase().contains(needle)
}

fn owner_names(snapshot: &Snapshot, inode: u64) -> String {
    let mut names = String::new();
    for pid in snapshot.owner_pid_iter(inode) {
        names.push_str(snapshot.comm(pid));
        names.push('(');
        names.push_str(&pid.to_string());
        names.push_str(") ");
    }
    names
}

/// What `/` searches in a socket: addresses, ports, state, owners.
fn socket_matches(snapshot: &Snapshot, s: &Socket, needle: &str) -> bool {
    let text = format!(
        "{} {} {} {} {}",
        s.proto.netid(),
        s.state.ss_name(),
        endpoint_text(&s.local),
        endpoint_text(&s.remote),
        owner_names(snapshot, s.inode)
    );
    matches(&text, needle)
}

/// Whether something in namespace `inode` passes the namespace filter.
fn in_netns(inode: u64, netns: Option<u64>) -> bool {
    netns.is_none_or(|n| n == inode)
}

pub(crate) fn listener_rows(
    snapshot: &Snapshot,
    listeners: &[Listener],
    (filter, netns): (&str, Option<u64>),
    sort: ListenerSort,
) -> Vec<usize> {
    let needle = filter.to_lowercase();
    let mut rows: Vec<usize> = (0..listeners.len())
        .filter(|&i| in_netns(listeners[i].netns, netns))
        .filter(|&i| {
            let l = &listeners[i];
            let text =
                format!("{} {} {}", l.proto.netid(), endpoint_text(&l.local), owner_names(snapshot, l.inode));
            matches(&text, &needle)
        })
        .collect();
    let by = |i: &usize| &listeners[*i];
    match sort {
        ListenerSort::Fill => {}
        ListenerSort::Port => rows.sort_by_key(|i| by(i).local.port()),
        ListenerSort::Drops => rows.sort_by_key(|i| Reverse(by(i).drops)),
        ListenerSort::SynRecv => rows.sort_by_key(|i| Reverse(by(i).syn_recv)),
    }
    rows
}

pub(crate) fn connection_rows(
    snapshot: &Snapshot,
    (filter, netns): (&str, Option<u64>),
    sort: ConnectionSort,
) -> Vec<usize> {
    let needle = filter.to_lowercase();
    let sockets = &snapshot.sockets;
    let mut rows: Vec<usize> = match (needle.is_empty(), netns) {
        (true, None) => (0..sockets.len()).collect(),
        _ => (0..sockets.len())
            .filter(|&i| in_netns(snapshot.netns_at(i), netns))
            .filter(|&i| needle.is_empty() || socket_matches(snapshot, &sockets[i], &needle))
            .collect(),
    };
    match sort {
        ConnectionSort::State => rows.sort_by_key(|&i| (state_rank(sockets[i].state), sockets[i].proto)),
        ConnectionSort::Local => rows.sort_by(|&a, &b| sockets[a].local.cmp(&sockets[b].local)),
        ConnectionSort::Remote => rows.sort_by(|&a, &b| sockets[a].remote.cmp(&sockets[b].remote)),
        ConnectionSort::RecvQ => rows.sort_by_key(|&i| Reverse(sockets[i].recv_q)),
        ConnectionSort::SendQ => rows.sort_by_key(|&i| Reverse(sockets[i].send_q)),
        ConnectionSort::Process => {
            let key = |i: usize| snapshot.owner_pid_iter(sockets[i].inode).next().map(|p| snapshot.comm(p));
            rows.sort_by(|&a, &b| key(a).cmp(&key(b)));
        }
    }
    rows
}

/// Troubled states first, then the common ones.
fn state_rank(state: State) -> u8 {
    match state {
        State::CloseWait => 0,
        State::SynSent => 1,
        State::SynRecv => 2,
        State::Listen => 3,
        State::LastAck | State::FinWait1 | State::Closing => 4,
        State::Established => 5,
        State::FinWait2 => 6,
        State::TimeWait => 7,
        _ => 8,
    }
}

/// Counts of `rows` by the grouping key, largest first.
pub(crate) fn groups(snapshot: &Snapshot, rows: &[usize], group: GroupBy) -> Vec<(String, u32)> {
    if group == GroupBy::None {
        return Vec::new();
    }
    let mut counts: HashMap<String, u32> = HashMap::new();
    for &i in rows {
        let s = &snapshot.sockets[i];
        let key = match group {
            GroupBy::State => format!("{} {}", s.proto.netid(), s.state.ss_name()),
            GroupBy::Process => match owner_names(snapshot, s.inode) {
                names if names.is_empty() => "(no owner)".to_string(),
                names => names.trim_end().to_string(),
            },
            GroupBy::Remote => format!("{} {}", s.proto.netid(), endpoint_text(&s.remote)),
            GroupBy::Netns => {
                snapshot.namespace(snapshot.netns_at(i)).map_or_else(|| "?".to_string(), |n| n.display_name())
            }
            GroupBy::None => String::new(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    let mut out: Vec<(String, u32)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

pub(crate) fn process_rows(
    snapshot: &Snapshot,
    processes: &[ProcessSummary],
    (filter, netns): (&str, Option<u64>),
    sort: ProcessSort,
) -> Vec<usize> {
    let needle = filter.to_lowercase();
    let lives_in = |pid: u32| netns.is_none() || snapshot.processes.get(&pid).and_then(|p| p.netns) == netns;
    let mut rows: Vec<usize> = (0..processes.len())
        .filter(|&i| lives_in(processes[i].pid))
        .filter(|&i| {
            let p = &processes[i];
            // A state matches the processes holding sockets in it (`/close-wait`).
            let states: Vec<&str> = p.states.0.keys().map(|s| s.ss_name()).collect();
            matches(
                &format!(
                    "{} {} {} {}",
                    p.pid,
                    p.comm,
                    crate::output::listening_labels(&p.listening).join(" "),
                    states.join(" ")
                ),
                &needle,
            )
        })
        .collect();
    let usage = |p: &ProcessSummary| match (p.fds, p.fd_limit.and_then(|l| l.value())) {
        (Some(n), Some(l)) if l > 0 => u64::from(n) * 1000 / l,
        _ => 0,
    };
    match sort {
        ProcessSort::CloseWait => {}
        ProcessSort::Sockets => rows.sort_by_key(|&i| Reverse(processes[i].states.total())),
        ProcessSort::FdUsage => rows.sort_by_key(|&i| Reverse(usage(&processes[i]))),
        ProcessSort::Pid => rows.sort_by_key(|&i| processes[i].pid),
        ProcessSort::Command => rows.sort_by(|&a, &b| processes[a].comm.cmp(&processes[b].comm)),
    }
    rows
}
