//! The collector and analysis against real kernel objects: each test builds a
//! pathology with real sockets, then checks what sockscope reports, and
//! where `ss` is installed, that `ss` sees the same numbers.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};

use socket2::{Domain, SockAddr, Type};
use sockscope::analyze::{Evidence, FindingKind, Severity, Subject, Thresholds};
use sockscope::model::{Endpoint, Family, Proto, Snapshot, Socket, State};

use crate::support::{self, Lab, connect_nonblocking, eventually, inode_of, local_addr, ss, tcp_listener};

fn on_port(snapshot: &Snapshot, port: u16) -> Vec<&Socket> {
    snapshot
        .sockets
        .iter()
        .filter(|s| s.local.port() == Some(port) || s.remote.port() == Some(port))
        .collect()
}

fn listener_on(snapshot: &Snapshot, addr: SocketAddr) -> Option<&Socket> {
    snapshot.sockets.iter().find(|s| s.state == State::Listen && s.local == Endpoint::Ip(addr))
}

/// Every socket ss shows on `port` matches ours: state, queues, inode, drops.
/// Sockets may change state between the two reads (a FIN in flight), so a
/// mismatch is retried with fresh reads until both agree or time runs out.
fn assert_matches_ss(lab: &Lab, _first: &Snapshot, port: u16) {
    if !ss::available() {
        support::loud("ss not installed: skipping the comparison with ss (CI installs iproute2)");
        return;
    }
    eventually(&format!("sockscope and ss to agree on port {port}"), || {
        let snapshot = lab.snapshot();
        let theirs = ss::rows(lab, "-tu", &[&format!("( sport = :{port} or dport = :{port} )")]);
        compare_with_ss(&on_port(&snapshot, port), &theirs)
    });
}

fn compare_with_ss(ours: &[&Socket], theirs: &[ss::SsRow]) -> Result<(), String> {
    if theirs.is_empty() {
        return Err("ss shows nothing".into());
    }
    for row in theirs {
        let text = |e| sockscope::output::escape::endpoint_text(e);
        let mine = ours
            .iter()
            .find(|s| {
                text(&s.local) == row.local && text(&s.remote) == row.peer && s.proto.netid() == row.netid
            })
            .ok_or_else(|| format!("ss shows {row:?}, sockscope does not"))?;
        let same = mine.state.ss_name() == row.state
            && (mine.recv_q, mine.send_q) == (row.recv_q, row.send_q)
            && mine.inode == row.inode
            && row.drops.is_none_or(|d| mine.drops() == Some(d));
        if !same {
            return Err(format!("ss {row:?} vs sockscope {mine:?}"));
        }
    }
    match ours.len() == theirs.len() {
        true => Ok(()),
        false => Err(format!("{} sockets in sockscope, {} in ss", ours.len(), theirs.len())),
    }
}

#[test]
fn full_accept_queue_is_five_over_four_and_critical() {
    let lab = Lab::new("full_accept_queue");
    let (listener, clients) = lab.run(|| {
        let listener = tcp_listener("127.0.0.1:0", 4);
        let addr = local_addr(&listener);
        let clients: Vec<_> = (0..12).map(|_| connect_nonblocking(addr)).collect();
        (listener, clients)
    });
    let addr = local_addr(&listener);
    let (snapshot, analysis) = eventually("accept queue 5/4", || {
        let (snap, analysis) = lab.analyze(&Thresholds::default());
        let l = listener_on(&snap, addr).ok_or("no listener")?;
        match (l.recv_q, l.send_q) {
            (5, 4) => Ok((snap, analysis)),
            q => Err(format!("queue {q:?}")),
        }
    });
    let listener_view = analysis.listeners.iter().find(|l| l.inode == inode_of(&listener)).expect("listener");
    assert!(listener_view.full);
    assert_eq!((listener_view.accept_queue, listener_view.backlog), (5, 4));
    let finding = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::AcceptQueueFull && f.subject.port() == Some(addr.port()))
        .expect("accept_queue_full finding");
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.subject.pids(), &[std::process::id()], "owned by the test process");
    assert_eq!(analysis.findings[0].severity, Severity::Critical, "worst first");
    let stuck = on_port(&snapshot, addr.port()).iter().filter(|s| s.state == State::SynSent).count();
    assert!(stuck >= 1, "clients beyond the queue wait in SYN-SENT");
    assert_matches_ss(&lab, &snapshot, addr.port());
    drop(clients);
}

/// In the lab: a listener and one accepted connection whose client side
/// `end` closes (drop: FIN, the server goes CLOSE-WAIT; `reset`: RST).
fn accepted_pair(lab: &Lab, end: fn(TcpStream)) -> (std::net::TcpListener, TcpStream) {
    lab.run(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        end(client);
        (listener, accepted)
    })
}

#[test]
fn close_wait_is_owned_by_the_process_holding_the_fd() {
    let lab = Lab::new("close_wait");
    let (listener, accepted) = accepted_pair(&lab, drop);
    let port = listener.local_addr().expect("addr").port();
    let inode = inode_of(&accepted);
    let (snapshot, analysis) = eventually("CLOSE-WAIT", || {
        let (snap, a) = lab.analyze(&Thresholds::default());
        match snap.sockets.iter().find(|s| s.inode == inode).map(|s| s.state) {
            Some(State::CloseWait) => Ok((snap, a)),
            other => Err(format!("{other:?}")),
        }
    });
    let owners = snapshot.owners.owners(inode);
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].pid, std::process::id());
    assert_eq!(owners[0].fd, accepted.as_raw_fd() as u32, "the exact fd");
    let cw = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::CloseWait && f.subject.pids() == [std::process::id()])
        .expect("close_wait finding for the test pid");
    let Evidence::CloseWait(e) = &cw.evidence else { panic!("{cw:?}") };
    assert!(e.close_wait >= 1);
    assert_eq!(e.pid, std::process::id());
    assert_matches_ss(&lab, &snapshot, port);
}

#[test]
fn client_closed_connections_leave_time_wait_towards_the_port() {
    let lab = Lab::new("time_wait");
    if lab.is_private() {
        lab.sysctl("net.ipv4.ip_local_port_range", "40000 40099");
        lab.sysctl("net.ipv4.tcp_tw_reuse", "0");
    }
    let listener = lab.run(|| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"));
    let addr = listener.local_addr().expect("addr");
    let rounds = 60;
    lab.run(|| {
        for _ in 0..rounds {
            let mut client = TcpStream::connect(addr).expect("connect");
            let (mut server, _) = listener.accept().expect("accept");
            client.shutdown(Shutdown::Write).expect("client FIN first");
            server.read_to_end(&mut Vec::new()).expect("server sees EOF");
            drop(server);
            client.read_to_end(&mut Vec::new()).expect("client sees EOF");
        }
    });
    let thresholds = match lab.is_private() {
        true => Thresholds::default(),
        false => Thresholds { time_wait_pct: 0.1, ..Thresholds::default() },
    };
    let (snapshot, analysis) = lab.analyze(&thresholds);
    let tw: Vec<_> = on_port(&snapshot, addr.port())
        .into_iter()
        .filter(|s| s.state == State::TimeWait && s.remote.port() == Some(addr.port()))
        .collect();
    assert_eq!(tw.len(), rounds, "one TIME-WAIT per client-closed connection");
    assert!(tw.iter().all(|s| s.inode == 0 && snapshot.owners.owners(s.inode).is_empty()));
    let timer = tw[0].timer.expect("a TIME-WAIT timer");
    assert_eq!(timer.kind, sockscope::model::TimerKind::TimeWait);
    assert!(timer.expires_ms > 0 && timer.expires_ms <= 60_000, "time left in TIME-WAIT: {timer:?}");
    let finding = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::TimeWaitBuildup && f.subject == Subject::Destination(addr))
        .expect("time_wait_buildup towards the listener");
    let Evidence::TimeWaitBuildup(e) = &finding.evidence else { panic!("{finding:?}") };
    assert_eq!(e.time_wait as usize, rounds);
    if lab.is_private() {
        assert_eq!(e.ephemeral_ports, 100, "the lab's port range");
    }
    assert_matches_ss(&lab, &snapshot, addr.port());
}

fn unix_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sockscope-test-{}-{name}.sock", std::process::id()))
}

#[test]
fn unix_listener_with_backlog_two_overflows_at_three() {
    let lab = Lab::new("unix_overflow");
    let path = unix_path("overflow");
    let _ = std::fs::remove_file(&path);
    let listener = lab.run(|| {
        let listener = socket2::Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
        listener.bind(&SockAddr::unix(&path).expect("addr")).expect("bind");
        listener.listen(2).expect("listen");
        listener
    });
    let mut clients = Vec::new();
    let refused = loop {
        let c = socket2::Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
        c.set_nonblocking(true).expect("nonblocking");
        match c.connect(&SockAddr::unix(&path).expect("addr")) {
            Ok(()) => clients.push(c),
            Err(e) => break e,
        }
        assert!(clients.len() < 10, "the kernel should refuse beyond backlog + 1");
    };
    assert_eq!(refused.kind(), std::io::ErrorKind::WouldBlock);
    assert_eq!(clients.len(), 3, "a backlog of 2 holds 3");
    let (snapshot, analysis) = lab.analyze(&Thresholds::default());
    let inode = inode_of(&listener);
    let mine = snapshot.sockets.iter().find(|s| s.inode == inode).expect("unix listener");
    assert_eq!((mine.proto, mine.state, mine.recv_q, mine.send_q), (Proto::UnixStream, State::Listen, 3, 2));
    assert_eq!(mine.local, Endpoint::UnixPath(path.as_os_str().as_encoded_bytes().into()));
    let f = analysis
        .findings
        .iter()
        .find(|f| {
            f.kind() == FindingKind::AcceptQueueFull
                && matches!(f.subject, Subject::Socket { inode: i, .. } if i == inode)
        })
        .expect("accept_queue_full on the unix listener");
    let Evidence::AcceptQueueFull(q) = &f.evidence else { panic!("{f:?}") };
    assert_eq!((q.accept_queue, q.backlog), (3, 2));
    if ss::available() {
        let row = ss::rows(&lab, "-x", &["-l"]).into_iter().find(|r| r.inode == inode).expect("ss row");
        assert_eq!((row.recv_q, row.send_q), (3, 2));
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn udp_receive_drops_match_ss() {
    let lab = Lab::new("udp_drops");
    let receiver = lab.run(|| {
        let s = socket2::Socket::new(Domain::IPV4, Type::DGRAM, None).expect("udp");
        s.set_recv_buffer_size(1024).expect("rcvbuf");
        s.bind(&"127.0.0.1:0".parse::<SocketAddr>().expect("addr").into()).expect("bind");
        s
    });
    let addr = local_addr(&receiver);
    lab.run(|| {
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("sender");
        for _ in 0..200 {
            sender.send_to(&[0u8; 500], addr).expect("send");
        }
    });
    let (snapshot, analysis) = lab.analyze(&Thresholds::default());
    let inode = inode_of(&receiver);
    let mine = snapshot.sockets.iter().find(|s| s.inode == inode).expect("udp socket");
    assert_eq!(mine.state, State::Close);
    let drops = mine.drops().expect("skmem drops");
    assert!(drops > 0, "a 1 KiB buffer cannot hold 200 datagrams");
    let f = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::UdpReceiveDrops && f.subject.port() == Some(addr.port()))
        .expect("udp_receive_drops");
    let Evidence::UdpReceiveDrops(e) = &f.evidence else { panic!("{f:?}") };
    assert_eq!(e.drops, drops);
    assert_matches_ss(&lab, &snapshot, addr.port());
}

#[test]
fn ipv6_listener_is_reported_as_inet6() {
    let lab = Lab::new("ipv6");
    let listener = lab.run(|| tcp_listener("[::1]:0", 7));
    let addr = local_addr(&listener);
    let snapshot = lab.snapshot();
    let mine = listener_on(&snapshot, addr).expect("v6 listener");
    assert_eq!((mine.family, mine.send_q), (Family::Inet6, 7));
    assert_eq!(sockscope::output::escape::endpoint_text(&mine.local), format!("[::1]:{}", addr.port()));
    assert_matches_ss(&lab, &snapshot, addr.port());
}

/// A child process that inherits `fd` and sleeps until killed.
fn spawn_holder(program: &std::path::Path, fd: i32) -> Child {
    // SAFETY: dup returns a new descriptor without FD_CLOEXEC, so the child inherits it.
    let inherited = unsafe { libc::dup(fd) };
    assert!(inherited >= 0);
    let child = Command::new(program).arg("1000").stdin(Stdio::null()).spawn().expect("spawn holder");
    // SAFETY: closing our duplicate; the child keeps its own copy.
    unsafe { libc::close(inherited) };
    child
}

#[test]
fn a_socket_shared_by_two_processes_lists_both_owners() {
    let lab = Lab::new("shared_owners");
    let listener = lab.run(|| tcp_listener("127.0.0.1:0", 16));
    let mut child = spawn_holder(std::path::Path::new("sleep"), listener.as_raw_fd());
    let inode = inode_of(&listener);
    let snapshot = eventually("two owners", || {
        let snap = lab.snapshot();
        match snap.owner_pids(inode).len() {
            2 => Ok(snap),
            n => Err(format!("{n} owners")),
        }
    });
    let mut pids = snapshot.owner_pids(inode);
    pids.sort_unstable();
    let mut expected = vec![std::process::id(), child.id()];
    expected.sort_unstable();
    assert_eq!(pids, expected);
    assert_eq!(snapshot.comm(child.id()), "sleep");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn somaxconn_caps_the_backlog_and_is_reported() {
    if support::skip_unless_root(
        "somaxconn_caps_the_backlog",
        "sets net.core.somaxconn in a private namespace",
    ) {
        return;
    }
    let lab = Lab::new("somaxconn");
    lab.sysctl("net.core.somaxconn", "8");
    let listener = lab.run(|| tcp_listener("127.0.0.1:0", 1000));
    let (snapshot, analysis) = lab.analyze(&Thresholds::default());
    assert_eq!(snapshot.sysctls.int("net.core.somaxconn"), Some(8), "the lab's own sysctl, not the host's");
    let l = listener_on(&snapshot, local_addr(&listener)).expect("listener");
    assert_eq!(l.send_q, 8, "listen(1000) capped at somaxconn");
    assert!(analysis.findings.iter().any(|f| f.kind() == FindingKind::BacklogCappedBySomaxconn));
}

#[test]
fn syn_recv_rows_count_against_their_listener() {
    // TCP_DEFER_ACCEPT makes the listener keep a completed handshake as a
    // request socket (SYN-RECV) until data arrives: a real, lasting SYN queue.
    let lab = Lab::new("syn_queue");
    let (listener, other) = lab.run(|| (tcp_listener("127.0.0.1:0", 10), tcp_listener("127.0.0.1:0", 10)));
    let secs: libc::c_int = 30;
    // SAFETY: setsockopt with a correctly sized int option on a socket we own.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    let addr = local_addr(&listener);
    let _clients: Vec<_> = lab.run(|| (0..9).map(|_| connect_nonblocking(addr)).collect());
    let (snapshot, analysis) = eventually("9 SYN-RECV rows", || {
        let (snap, a) = lab.analyze(&Thresholds::default());
        let l = a.listeners.iter().find(|l| l.local == Endpoint::Ip(addr)).ok_or("listener")?;
        match l.syn_recv {
            9 => Ok((snap, a)),
            n => Err(format!("{n} SYN-RECV")),
        }
    });
    let quiet =
        analysis.listeners.iter().find(|l| l.local == Endpoint::Ip(local_addr(&other))).expect("other");
    assert_eq!(quiet.syn_recv, 0, "SYN-RECV rows belong to their own listener only");
    let f = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::SynQueuePressure && f.subject.port() == Some(addr.port()))
        .expect("syn_queue_pressure at 90% of the limit");
    let Evidence::SynQueuePressure(e) = &f.evidence else { panic!("{f:?}") };
    assert_eq!((e.limit, e.backlog), (10, 10));
    assert_eq!(f.severity, Severity::Info, "not full, and syncookies answer beyond the limit");
    assert_matches_ss(&lab, &snapshot, addr.port());
}

#[test]
fn collecting_only_listeners_asks_the_kernel_for_less() {
    let lab = Lab::new("listen_only");
    let (listener, _client, _accepted) = lab.run(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let accepted = listener.accept().expect("accept").0;
        (listener, client, accepted)
    });
    let port = listener.local_addr().expect("addr").port();
    let selection = sockscope::model::Selection { listening: true, ..sockscope::model::Selection::all() };
    let request = sockscope::collect::Request::for_selection(&selection, lab.target());
    let snapshot = sockscope::collect::collect(&request).expect("collect");
    let mine = on_port(&snapshot, port);
    assert_eq!(mine.len(), 1, "only the listener came back from the kernel: {mine:?}");
    assert_eq!(mine[0].state, State::Listen);
}

#[test]
fn processes_vanishing_mid_scan_are_skipped() {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(mut c) = Command::new("true").spawn() {
                    let _ = c.wait();
                }
            }
        });
        for _ in 0..20 {
            let snapshot = sockscope::collect::collect(&Default::default()).expect("collect despite churn");
            assert!(snapshot.processes.contains_key(&std::process::id()));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

#[test]
fn the_lab_namespace_is_separate_from_the_host() {
    let lab = Lab::new("netns_isolation");
    if !lab.is_private() {
        support::loud("SKIPPED the_lab_namespace_is_separate: needs root (private network namespace)");
        return;
    }
    let host_listener = tcp_listener("127.0.0.1:0", 3);
    let snapshot = lab.snapshot();
    assert!(
        listener_on(&snapshot, local_addr(&host_listener)).is_none(),
        "host sockets must not leak into the lab"
    );
    let host = sockscope::collect::collect(&Default::default()).expect("host");
    assert_ne!(snapshot.netns.inode, host.netns.inode);
    assert!(listener_on(&host, local_addr(&host_listener)).is_some());
}

fn owned_by_me(snapshot: &Snapshot, inode: u64) -> bool {
    snapshot.owner_pids(inode).contains(&std::process::id())
}

#[test]
fn repeated_snapshots_reuse_owners_yet_see_every_change() {
    let lab = Lab::new("owner_cache");
    let request = sockscope::collect::Request { netns: lab.target(), ..Default::default() };
    let mut collector = sockscope::collect::Collector::new(request);
    let first = lab.run(|| tcp_listener("127.0.0.1:0", 8));
    collector.snapshot().unwrap();
    collector.snapshot().unwrap();
    let steady = collector.owner_refresh();
    assert!(!steady.full && steady.reused > 0, "unchanged processes are not re-read: {steady:?}");

    // A new socket changes our fd count.
    let second = lab.run(|| tcp_listener("127.0.0.1:0", 8));
    let snap = collector.snapshot().unwrap();
    assert!(owned_by_me(&snap, inode_of(&second)));

    // One socket closed, another opened: same fd count, new inode.
    drop(second);
    let third = lab.run(|| tcp_listener("127.0.0.1:0", 8));
    let snap = collector.snapshot().unwrap();
    assert!(owned_by_me(&snap, inode_of(&third)), "{:?}", collector.owner_refresh());

    // A file swapped for a socket: same count, nothing vanished from the dump.
    let file = std::fs::File::open("/proc/self/status").unwrap();
    collector.snapshot().unwrap();
    drop(file);
    let fourth = lab.run(|| tcp_listener("127.0.0.1:0", 8));
    let snap = collector.snapshot().unwrap();
    assert!(owned_by_me(&snap, inode_of(&fourth)), "{:?}", collector.owner_refresh());
    assert!(owned_by_me(&snap, inode_of(&first)));
}

/// Closes `stream` with an RST (SO_LINGER 0) instead of a FIN.
pub fn reset(stream: TcpStream) {
    let socket = socket2::Socket::from(stream);
    socket.set_linger(Some(std::time::Duration::ZERO)).expect("linger");
    drop(socket);
}

#[test]
fn a_reset_socket_still_held_is_a_ghost() {
    let lab = Lab::new("ghost");
    let (listener, accepted) = accepted_pair(&lab, reset);
    let inode = inode_of(&accepted);
    let snapshot = eventually("the reset socket to leave the dump", || {
        let snap = lab.snapshot();
        match snap.sockets.iter().any(|s| s.inode == inode) {
            false => Ok(snap),
            true => Err("still dumped".to_string()),
        }
    });
    let ghosts = snapshot.ghosts.as_ref().expect("ghosts checked with a full TCP dump");
    assert!(ghosts.iter().any(|g| g.inode == inode && g.pid == std::process::id()), "{ghosts:?}");
    assert!(!ghosts.iter().any(|g| g.inode == inode_of(&listener)), "a live listener is no ghost");
    let lsof_like = snapshot.owners.owners(inode);
    assert_eq!(lsof_like.len(), 1, "the fd is still held");
}

#[test]
fn sockets_of_another_namespace_are_no_ghosts() {
    let lab = Lab::new("ghost_elsewhere");
    if !lab.is_private() {
        support::loud(
            "SKIPPED sockets_of_another_namespace_are_no_ghosts: needs root (a second network namespace)",
        );
        return;
    }
    // This process lives in the host namespace and holds a healthy listener
    // of the lab's: the host's dump cannot show it, and it is no ghost.
    let listener = lab.run(|| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"));
    let host = sockscope::collect::collect(&Default::default()).expect("host snapshot");
    let ghosts = host.ghosts.as_ref().expect("checked");
    assert!(!ghosts.iter().any(|g| g.inode == inode_of(&listener)), "{ghosts:?}");
    let lab_view = lab.snapshot();
    assert!(!lab_view.ghosts.as_ref().expect("checked").iter().any(|g| g.inode == inode_of(&listener)));
}
