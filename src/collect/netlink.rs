//! The sock_diag netlink socket and the dump loop.
//!
//! A diag socket sees only the network namespace it was created in; the caller
//! decides where that is (see [`super::netns`]). Receiving uses one reusable
//! 64 KiB buffer (the kernel fills at most ~32 KiB per datagram) passed as a
//! slice, because `netlink-sys` appends past the length of a `Vec`.

use std::io;

use netlink_packet_sock_diag::SOCK_DIAG_BY_FAMILY;
use netlink_sys::{Socket as NetlinkSocket, SocketAddr, protocols::NETLINK_SOCK_DIAG};

use super::decode::frames::{self, Frame, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR};
use super::decode::{Decoded, inet, unix};
use super::error::CollectError;
use super::query::{Query, TCPDIAG_GETSOCK};
use crate::model::Socket;

const RECV_BUFFER: usize = 64 * 1024;

/// What went wrong, non-fatally, while decoding dumps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DumpStats {
    pub messages: u64,
    /// Messages skipped because their payload could not be decoded.
    pub bad_messages: u32,
    /// Attributes left out of otherwise decoded sockets.
    pub bad_attributes: u32,
    /// Datagrams whose framing broke, or which did not fit the buffer.
    pub bad_datagrams: u32,
    pub first_error: Option<String>,
    pub interrupted: bool,
}

impl DumpStats {
    fn note_error(&mut self, error: String) {
        self.first_error.get_or_insert(error);
    }
}

/// A connected `NETLINK_SOCK_DIAG` socket.
pub struct DiagSocket {
    socket: NetlinkSocket,
    buffer: Vec<u8>,
    sequence: u32,
}

impl DiagSocket {
    /// Opens a diag socket in the calling thread's network namespace.
    pub fn open() -> Result<DiagSocket, CollectError> {
        let mut socket = NetlinkSocket::new(NETLINK_SOCK_DIAG).map_err(CollectError::Netlink)?;
        socket.bind_auto().map_err(CollectError::Netlink)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(CollectError::Netlink)?;
        Ok(DiagSocket { socket, buffer: vec![0; RECV_BUFFER], sequence: 0 })
    }

    /// Runs one dump, appending decoded sockets to `out`.
    pub fn dump(
        &mut self,
        query: &Query,
        out: &mut Vec<Socket>,
        stats: &mut DumpStats,
    ) -> Result<(), CollectError> {
        self.sequence = self.sequence.wrapping_add(1);
        let request = query.to_bytes(self.sequence);
        self.socket.send(&request, 0).map_err(CollectError::Netlink)?;
        loop {
            let len = self.receive()?;
            let datagram = &self.buffer[..len.min(RECV_BUFFER)];
            if len > RECV_BUFFER {
                stats.bad_datagrams += 1;
                stats.note_error(format!("datagram of {len} bytes truncated"));
            }
            if consume_datagram(datagram, query, out, stats)? == Progress::Done {
                return Ok(());
            }
        }
    }

    /// Runs one dump and returns its raw datagrams, for recording test fixtures.
    pub fn record(&mut self, query: &Query) -> Result<Vec<Vec<u8>>, CollectError> {
        self.sequence = self.sequence.wrapping_add(1);
        self.socket.send(&query.to_bytes(self.sequence), 0).map_err(CollectError::Netlink)?;
        let mut datagrams = Vec::new();
        loop {
            let len = self.receive()?.min(RECV_BUFFER);
            let datagram = self.buffer[..len].to_vec();
            let done = frames::frames(&datagram)
                .any(|f| matches!(f, Frame::Message { kind: NLMSG_DONE | NLMSG_ERROR, .. }));
            datagrams.push(datagram);
            if done {
                return Ok(datagrams);
            }
        }
    }

    fn receive(&mut self) -> Result<usize, CollectError> {
        loop {
            let mut slice = &mut self.buffer[..];
            match self.socket.recv(&mut slice, libc::MSG_TRUNC) {
                Ok(len) => return Ok(len),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CollectError::Netlink(e)),
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    More,
    Done,
}

/// Decodes every message of one datagram. Pure: recorded datagrams replay here.
pub fn consume_datagram(
    datagram: &[u8],
    query: &Query,
    out: &mut Vec<Socket>,
    stats: &mut DumpStats,
) -> Result<Progress, CollectError> {
    for frame in frames::frames(datagram) {
        match frame {
            Frame::Malformed { offset } => {
                stats.bad_datagrams += 1;
                stats.note_error(format!("unframeable bytes at offset {offset}"));
            }
            Frame::Message { kind: NLMSG_DONE, .. } => return Ok(Progress::Done),
            Frame::Message { kind: NLMSG_ERROR, payload, .. } => match frames::status_code(payload) {
                0 => {}
                code => {
                    return Err(CollectError::Kernel {
                        query: query.label(),
                        source: io::Error::from_raw_os_error(errno_of(code)),
                    });
                }
            },
            Frame::Message { kind: SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK, flags, payload } => {
                stats.interrupted |= flags & NLM_F_DUMP_INTR != 0;
                consume_socket(payload, query, out, stats);
            }
            Frame::Message { .. } => {}
        }
    }
    Ok(Progress::More)
}

/// The errno of a netlink error code (`-errno`); a code no kernel sends
/// (positive, or `i32::MIN`, which has no negation) reads as EIO.
fn errno_of(code: i32) -> i32 {
    code.checked_neg().filter(|&e| e > 0).unwrap_or(libc::EIO)
}

fn consume_socket(payload: &[u8], query: &Query, out: &mut Vec<Socket>, stats: &mut DumpStats) {
    stats.messages += 1;
    let decoded = match query.inet_proto() {
        Some(proto) => inet::decode(payload, proto),
        None => unix::decode(payload),
    };
    match decoded {
        Ok(Decoded { socket, bad_attributes }) => {
            if bad_attributes > 0 {
                stats.bad_attributes += bad_attributes;
                stats.note_error(format!("malformed attribute on socket inode {}", socket.inode));
            }
            out.push(socket);
        }
        Err(e) => {
            stats.bad_messages += 1;
            stats.note_error(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, Proto, StateSet};

    fn error_message(code: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&20u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&code.to_ne_bytes());
        m
    }

    #[test]
    fn any_error_code_is_an_error_never_a_panic() {
        let query = Query::Inet {
            proto: Proto::Tcp,
            family: Family::Inet,
            states: StateSet::ALL,
            extras: Default::default(),
        };
        for (code, errno) in [(-libc::ENOENT, libc::ENOENT), (i32::MIN, libc::EIO), (7, libc::EIO)] {
            let result =
                consume_datagram(&error_message(code), &query, &mut Vec::new(), &mut DumpStats::default());
            match result {
                Err(CollectError::Kernel { source, .. }) => assert_eq!(source.raw_os_error(), Some(errno)),
                other => panic!("{code}: {other:?}"),
            }
        }
    }
}
