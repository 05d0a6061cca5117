//! The `sockets` array of `dump --json`, serialized on several threads.
//!
//! At 100k sockets the array is most of the document and its serialization
//! was a third of `dump --json`'s time, spent on one core while the others
//! idled. Chunks of sockets are serialized by a few workers, worker `t`
//! taking chunks `t`, `t + T`, `t + 2T`..., each handing its buffers over a
//! one-slot channel; the writer takes them round-robin, so the output is in
//! order and at most two chunks per worker exist at once (memory stays
//! bounded at a million sockets). A write error (a closed pipe) drops the
//! receivers, and the workers stop at their next send.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Write;
use std::sync::mpsc;

use super::json::SocketJson;
use crate::model::{Endpoint, Family, Proto, Snapshot, Socket, State};

/// Sockets per chunk: about a megabyte of JSON, enough to make a thread
/// hand-off negligible.
const CHUNK: usize = 4096;

/// Writes `[socket, socket, ...]`, serialized on up to four cores.
pub(super) fn write(out: &mut dyn Write, sockets: &[&Socket], snap: &Snapshot) -> serde_json::Result<()> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    write_with(out, sockets, snap, workers)
}

/// [`write`] with `workers` threads serializing chunks in turn.
fn write_with(
    out: &mut dyn Write,
    sockets: &[&Socket],
    snap: &Snapshot,
    workers: usize,
) -> serde_json::Result<()> {
    let chunks: Vec<&[&Socket]> = sockets.chunks(CHUNK).collect();
    if workers == 1 || chunks.len() <= 1 {
        return serde_json::to_writer(&mut *out, &Array(sockets, snap));
    }
    let io = serde_json::Error::io;
    out.write_all(b"[").map_err(io)?;
    std::thread::scope(|scope| {
        let receivers: Vec<_> = (0..workers)
            .map(|t| {
                let (send, receive) = mpsc::sync_channel(1);
                let mine: Vec<&[&Socket]> = chunks.iter().skip(t).step_by(workers).copied().collect();
                scope.spawn(move || {
                    for chunk in mine {
                        if send.send(serialize(chunk, snap)).is_err() {
                            return;
                        }
                    }
                });
                receive
            })
            .collect();
        for i in 0..chunks.len() {
            let bytes =
                receivers[i % workers].recv().map_err(|_| io(std::io::ErrorKind::BrokenPipe.into()))??;
            if i > 0 {
                out.write_all(b",").map_err(io)?;
            }
            out.write_all(&bytes).map_err(io)?;
        }
        out.write_all(b"]").map_err(io)
    })
}

/// One chunk as comma-separated socket objects, without brackets.
fn serialize(chunk: &[&Socket], snap: &Snapshot) -> serde_json::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(chunk.len() * 256);
    let mut parts = Parts::default();
    for (i, socket) in chunk.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        write_socket(&mut bytes, socket, snap, &mut parts)?;
    }
    Ok(bytes)
}

/// Pieces of socket objects that repeat from socket to socket, serialized
/// once per chunk: the `{"proto":..,"family":..,"state":..` opening of each
/// kind of socket, and each holder's `{"pid":..,"comm":..` and run state.
#[derive(Default)]
struct Parts {
    openings: Vec<((Proto, Family, State), Vec<u8>)>,
    holders: HashMap<u32, (Vec<u8>, Vec<u8>)>,
}

impl Parts {
    fn opening(&mut self, s: &Socket) -> serde_json::Result<&[u8]> {
        let key = (s.proto, s.family, s.state);
        let at = match self.openings.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let mut bytes =
                    serde_json::to_vec(&Opening { proto: s.proto, family: s.family, state: s.state })?;
                bytes.pop(); // the closing brace: the fields go on
                self.openings.push((key, bytes));
                self.openings.len() - 1
            }
        };
        Ok(&self.openings[at].1)
    }

    /// `{"pid":P,"comm":C` and `,"state":S}` (or `}`) of a holder.
    fn holder(&mut self, pid: u32, snap: &Snapshot) -> serde_json::Result<&(Vec<u8>, Vec<u8>)> {
        let vacant = match self.holders.entry(pid) {
            Entry::Occupied(known) => return Ok(known.into_mut()),
            Entry::Vacant(vacant) => vacant,
        };
        let process = snap.processes.get(&pid);
        let mut head = b"{\"pid\":".to_vec();
        head.extend_from_slice(itoa::Buffer::new().format(pid).as_bytes());
        head.extend_from_slice(b",\"comm\":");
        serde_json::to_writer(&mut head, process.map_or("?", |p| p.comm.as_str()))?;
        let mut tail = Vec::new();
        if let Some(state) = process.and_then(|p| p.state) {
            tail.extend_from_slice(b",\"state\":");
            serde_json::to_writer(&mut tail, &state)?;
        }
        tail.push(b'}');
        Ok(vacant.insert((head, tail)))
    }
}

#[derive(serde::Serialize)]
struct Opening {
    proto: Proto,
    family: Family,
    state: State,
}

/// One socket object, byte for byte what serializing [`SocketJson`] gives
/// (a test holds them equal), written without the serializer's per-field
/// work: at a million sockets this is most of `dump --json`'s own time.
fn write_socket(out: &mut Vec<u8>, s: &Socket, snap: &Snapshot, parts: &mut Parts) -> serde_json::Result<()> {
    let mut number = itoa::Buffer::new();
    out.extend_from_slice(parts.opening(s)?);
    out.extend_from_slice(b",\"local\":");
    endpoint(out, &s.local)?;
    out.extend_from_slice(b",\"remote\":");
    endpoint(out, &s.remote)?;
    out.extend_from_slice(b",\"recv_q\":");
    out.extend_from_slice(number.format(s.recv_q).as_bytes());
    out.extend_from_slice(b",\"send_q\":");
    out.extend_from_slice(number.format(s.send_q).as_bytes());
    out.extend_from_slice(b",\"inode\":");
    out.extend_from_slice(number.format(s.inode).as_bytes());
    if let Some(uid) = s.uid() {
        out.extend_from_slice(b",\"uid\":");
        out.extend_from_slice(number.format(uid).as_bytes());
    }
    out.extend_from_slice(b",\"owners\":[");
    for (i, held) in snap.owners.owners(s.inode).iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (head, tail) = parts.holder(held.pid, snap)?;
        out.extend_from_slice(head);
        out.extend_from_slice(b",\"fd\":");
        out.extend_from_slice(number.format(held.fd).as_bytes());
        out.extend_from_slice(tail);
    }
    out.push(b']');
    field(out, "timer", s.timer.as_ref())?;
    field(out, "skmem", s.mem())?;
    field(out, "tcp_info", s.tcp_info())?;
    field(out, "unix_peer", s.unix_peer().as_ref())?;
    field(out, "netns", super::json::netns(snap, snap.netns_of_socket(s)).as_ref())?;
    out.push(b'}');
    Ok(())
}

/// `,"name":value` when there is a value (the fields serde skips when `None`).
fn field(out: &mut Vec<u8>, name: &str, value: Option<&impl serde::Serialize>) -> serde_json::Result<()> {
    if let Some(value) = value {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        serde_json::to_writer(&mut *out, value)?;
    }
    Ok(())
}

/// An endpoint as [`super::json::endpoint`] writes it; IPv4 (digits, dots,
/// a colon, `*`) needs no escaping.
fn endpoint(out: &mut Vec<u8>, e: &Endpoint) -> serde_json::Result<()> {
    match e {
        Endpoint::Ip(std::net::SocketAddr::V4(addr)) => {
            out.push(b'"');
            out.extend_from_slice(super::escape::ipv4_text(*addr, &mut [0; 21]).as_bytes());
            out.push(b'"');
            Ok(())
        }
        other => super::json::endpoint(other, &mut serde_json::Serializer::new(&mut *out)),
    }
}

/// The array serialized on the calling thread (small dumps, one core).
struct Array<'r, 'a>(&'r [&'a Socket], &'a Snapshot);

impl serde::Serialize for Array<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|socket| SocketJson::new(socket, self.1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::SnapshotBuilder;
    use crate::model::State;

    /// `count` established sockets owned by one process.
    fn established(count: u32) -> Snapshot {
        SnapshotBuilder::new()
            .process(40, "api", 10, 1024)
            .many(count, State::Established, "10.0.0.1", "10.0.0.2:443", &[40])
            .build()
    }

    /// Parallel and single-threaded serialization give the same bytes, for
    /// arrays that end on a chunk boundary and arrays that do not.
    #[test]
    fn chunks_come_out_in_order() {
        for count in [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let snap = established(count as u32);
            let sockets: Vec<&Socket> = snap.sockets.iter().collect();
            let single = serde_json::to_vec(&Array(&sockets, &snap)).unwrap();
            for workers in [1, 2, 3] {
                let mut parallel = Vec::new();
                write_with(&mut parallel, &sockets, &snap, workers).unwrap();
                assert_eq!(
                    String::from_utf8(parallel).unwrap(),
                    String::from_utf8(single.clone()).unwrap(),
                    "{count} sockets, {workers} workers"
                );
            }
        }
    }

    /// Every kind of socket record, written by hand, reads exactly as serde
    /// writes [`SocketJson`]: optional fields present and absent, IPv6 and
    /// UNIX endpoints, several holders, hostile and missing process names,
    /// run states, and namespace labels.
    #[test]
    fn hand_written_sockets_are_the_serde_bytes() {
        use crate::model::{NetnsLabels, SkMem, TcpInfo, Timer, TimerKind};
        let mut tw = crate::fixture::tcp_socket(State::TimeWait, "10.0.0.1:80", "10.0.0.9:5000", 0, 0);
        tw.timer = Some(Timer { kind: TimerKind::TimeWait, expires_ms: 41_000 });
        let mut informed =
            crate::fixture::tcp_socket(State::Established, "[::1]:443", "[::ffff:10.0.0.2]:6000", 3, 7);
        informed.extra_mut().tcp_info =
            Some(TcpInfo { rtt_us: Some(120), cwnd: Some(10), ..TcpInfo::default() });
        informed.extra_mut().mem = Some(SkMem { drops: None, ..SkMem::default() });
        for all_netns in [false, true] {
            let mut b = SnapshotBuilder::new();
            if all_netns {
                b = b.namespace(
                    4026531840,
                    NetnsLabels { name: Some("blue\"\u{1b}".into()), ..NetnsLabels::default() },
                );
            }
            let snap = b
                .process(10, "api", 10, 1024)
                .process(11, "evil\"\\\u{1b}[2J\u{7}", 10, 1024)
                .run_state(11, 'T')
                .listener("0.0.0.0:8080", 2, 4, 9, &[10, 11])
                .unix_listener("/run/ünïx \"sock\"", 1, 8, &[10])
                .udp("127.0.0.1:53", 4, &[11])
                .socket(tw.clone(), &[])
                .socket(informed.clone(), &[10, 12])
                .many(3, State::CloseWait, "10.0.0.1", "10.0.0.3:443", &[11])
                .build();
            let sockets: Vec<&Socket> = snap.sockets.iter().collect();
            let mut fast = Vec::new();
            let mut parts = Parts::default();
            for s in &sockets {
                fast.clear();
                write_socket(&mut fast, s, &snap, &mut parts).unwrap();
                let slow = serde_json::to_vec(&SocketJson::new(s, &snap)).unwrap();
                assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&slow));
            }
        }
    }

    #[test]
    fn a_closed_output_ends_the_write() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let snap = established(3 * CHUNK as u32);
        let sockets: Vec<&Socket> = snap.sockets.iter().collect();
        assert!(write(&mut Closed, &sockets, &snap).is_err());
    }
}
