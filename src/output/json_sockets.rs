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

use std::io::Write;
use std::sync::mpsc;

use super::json::SocketJson;
use crate::model::{Snapshot, Socket};

/// Sockets per chunk: about a megabyte of JSON, enough to make a thread
/// hand-off negligible.
const CHUNK: usize = 4096;

/// Writes `[socket, socket, ...]`.
pub(super) fn write(out: &mut dyn Write, sockets: &[&Socket], snap: &Snapshot) -> serde_json::Result<()> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
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
    for (i, socket) in chunk.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        serde_json::to_writer(&mut bytes, &SocketJson::new(socket, snap))?;
    }
    Ok(bytes)
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
            let mut parallel = Vec::new();
            write(&mut parallel, &sockets, &snap).unwrap();
            let single = serde_json::to_vec(&Array(&sockets, &snap)).unwrap();
            assert_eq!(
                String::from_utf8(parallel).unwrap(),
                String::from_utf8(single).unwrap(),
                "{count} sockets"
            );
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
