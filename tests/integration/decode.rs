//! The decoder on recorded kernel bytes (`tests/data`, made by
//! `examples/record_dump.rs`), intact and damaged: a dump never aborts, never
//! panics, and loses no more than the damaged part.

use sockscope::collect::{DumpStats, Extras, Progress, Query, consume_datagram};
use sockscope::model::{Family, Proto, Socket, State, StateSet};

const TCP4: &[u8] = include_bytes!("../data/tcp4.nl");
const UNIX: &[u8] = include_bytes!("../data/unix.nl");

const TCP_QUERY: Query = Query::Inet {
    proto: Proto::Tcp,
    family: Family::Inet,
    states: StateSet::ALL,
    extras: Extras { tcp_info: true, skmem: true },
};

/// Splits a recording into its datagrams.
fn datagrams(recording: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = recording;
    while rest.len() >= 4 {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    out
}

fn decode(datagrams: &[Vec<u8>], query: &Query) -> (Vec<Socket>, DumpStats, bool) {
    let mut sockets = Vec::new();
    let mut stats = DumpStats::default();
    let mut done = false;
    for d in datagrams {
        if consume_datagram(d, query, &mut sockets, &mut stats).unwrap() == Progress::Done {
            done = true;
            break;
        }
    }
    (sockets, stats, done)
}

/// Offsets of each netlink message in a datagram: (start, length).
fn messages(d: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= d.len() {
        let len = u32::from_ne_bytes(d[off..off + 4].try_into().unwrap()) as usize;
        out.push((off, len));
        off += (len + 3) & !3;
    }
    out
}

/// The (offset, length) of the first attribute of `kind` inside a message.
fn find_attr(d: &[u8], msg: (usize, usize), kind: u16) -> Option<(usize, usize)> {
    let mut off = msg.0 + 16 + 72;
    while off + 4 <= msg.0 + msg.1 {
        let len = u16::from_ne_bytes([d[off], d[off + 1]]) as usize;
        let k = u16::from_ne_bytes([d[off + 2], d[off + 3]]);
        if k == kind {
            return Some((off, len));
        }
        off += (len + 3) & !3;
    }
    None
}

/// Shrinks an attribute's payload to `new_len`, fixing the enclosing lengths.
fn shrink_attr(d: &mut Vec<u8>, msg: (usize, usize), attr: (usize, usize), payload: usize) {
    let new_len = 4 + payload;
    let removed = ((attr.1 + 3) & !3) - ((new_len + 3) & !3);
    d[attr.0..attr.0 + 2].copy_from_slice(&(new_len as u16).to_ne_bytes());
    let cut = attr.0 + ((new_len + 3) & !3);
    d.drain(cut..cut + removed);
    let msg_len = (msg.1 - removed) as u32;
    d[msg.0..msg.0 + 4].copy_from_slice(&msg_len.to_ne_bytes());
}

fn first_with_tcp_info(d: &[u8]) -> ((usize, usize), (usize, usize)) {
    messages(d)
        .into_iter()
        .find_map(|m| find_attr(d, m, 2).map(|a| (m, a)))
        .expect("a recorded socket with tcp_info")
}

#[test]
fn recorded_tcp_dump_decodes_every_socket() {
    let (sockets, stats, done) = decode(&datagrams(TCP4), &TCP_QUERY);
    assert!(done, "the recording ends with NLMSG_DONE");
    assert_eq!((stats.bad_messages, stats.bad_attributes, stats.bad_datagrams), (0, 0, 0));
    assert_eq!(stats.messages as usize, sockets.len());
    let on = |state| sockets.iter().filter(|s| s.state == state && s.local.port() == Some(40123)).count();
    assert_eq!(on(State::Listen), 1);
    assert_eq!(on(State::CloseWait), 1);
    let listener = sockets.iter().find(|s| s.state == State::Listen).unwrap();
    assert_eq!((listener.recv_q, listener.send_q), (3, 128), "3 queued clients, default std backlog");
    assert!(listener.inode > 0 && listener.drops() == Some(0));
    let tw = sockets.iter().find(|s| s.state == State::TimeWait).expect("a TIME-WAIT row");
    assert_eq!((tw.inode, tw.tcp_info().is_none()), (0, true));
    let estab = sockets.iter().find(|s| s.state == State::Established && s.recv_q == 0).unwrap();
    let info = estab.tcp_info().expect("tcp_info on ESTAB");
    assert!(info.rtt_us.is_some() && info.cwnd.is_some() && info.bytes_acked.is_some());
}

#[test]
fn recorded_unix_dump_keeps_path_and_queue() {
    let (sockets, stats, done) = decode(&datagrams(UNIX), &Query::Unix { states: StateSet::ALL });
    assert!(done);
    assert_eq!(stats.bad_messages + stats.bad_attributes, 0);
    let l = sockets.iter().find(|s| s.state == State::Listen).expect("unix listener");
    assert_eq!(l.proto, Proto::UnixStream);
    assert!(sockscope::output::escape::endpoint_text(&l.local).ends_with("sockscope-record.sock"));
    assert_eq!(l.send_q, 4096, "std listens with -1, capped at the recording host's somaxconn");
}

#[test]
fn short_tcp_info_keeps_the_socket_and_the_fields_it_has() {
    let mut d = datagrams(TCP4);
    let baseline = decode(&d, &TCP_QUERY).0.len();
    let (msg, attr) = first_with_tcp_info(&d[0]);
    shrink_attr(&mut d[0], msg, attr, 120);
    let (sockets, stats, _) = decode(&d, &TCP_QUERY);
    assert_eq!(sockets.len(), baseline, "no socket lost");
    assert_eq!(stats.bad_attributes, 0, "120 bytes is an older kernel's tcp_info, not an error");
    let shortened = sockets.iter().filter_map(|s| s.tcp_info()).find(|i| i.bytes_acked.is_none());
    let info = shortened.expect("the shortened tcp_info");
    assert!(info.rtt_us.is_some() && info.total_retrans.is_some());
}

#[test]
fn too_short_tcp_info_is_counted_and_the_socket_kept() {
    let mut d = datagrams(TCP4);
    let baseline = decode(&d, &TCP_QUERY).0.len();
    let (msg, attr) = first_with_tcp_info(&d[0]);
    shrink_attr(&mut d[0], msg, attr, 40);
    let (sockets, stats, _) = decode(&d, &TCP_QUERY);
    assert_eq!(sockets.len(), baseline);
    assert_eq!(stats.bad_attributes, 1);
    assert!(stats.first_error.is_some());
}

#[test]
fn a_message_with_a_bad_header_is_skipped_by_its_length() {
    let mut d = datagrams(TCP4);
    let baseline = decode(&d, &TCP_QUERY).0.len();
    let msgs = messages(&d[0]);
    assert!(msgs.len() > 2);
    let victim = msgs[1].0 + 16;
    d[0][victim] = 99; // an address family no inet dump carries
    let (sockets, stats, done) = decode(&d, &TCP_QUERY);
    assert!(done);
    assert_eq!(sockets.len(), baseline - 1, "only the bad message is lost");
    assert_eq!(stats.bad_messages, 1);
}

#[test]
fn a_truncated_datagram_keeps_what_came_before() {
    let mut d = datagrams(TCP4);
    let msgs = messages(&d[0]);
    let cut = msgs[2].0 + 30;
    d[0].truncate(cut);
    let (sockets, stats, _) = decode(&d[..1], &TCP_QUERY);
    assert_eq!(sockets.len(), 2, "the two whole messages before the cut");
    assert_eq!(stats.bad_datagrams, 1);
}

#[test]
fn random_damage_never_panics() {
    let pristine = datagrams(TCP4);
    let mut seed: u64 = 0x5eed_50c5_c09e;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut d = pristine.clone();
        let target = &mut d[(next() % 2) as usize];
        if target.is_empty() {
            continue;
        }
        for _ in 0..(next() % 8 + 1) {
            let at = (next() as usize) % target.len();
            target[at] = next() as u8;
        }
        if next() % 4 == 0 {
            let len = (next() as usize) % target.len();
            target.truncate(len);
        }
        for datagram in &d {
            let mut sockets = Vec::new();
            let mut stats = DumpStats::default();
            let _ = consume_datagram(datagram, &TCP_QUERY, &mut sockets, &mut stats);
        }
    }
}
