//! Decoding one `unix_diag_msg`.
//!
//! For listeners the queue numbers must come from `UNIX_DIAG_RQLEN` read as
//! (pending connections, backlog); the crate's `send_queue_size()` helper
//! returns the pending count for listeners, which is not a send queue.

use std::os::unix::ffi::OsStrExt;

use netlink_packet_core::{NlasIterator, Parseable};
use netlink_packet_sock_diag::constants::UNIX_DIAG_MEMINFO;
use netlink_packet_sock_diag::unix::UnixResponseHeader;
use netlink_packet_sock_diag::unix::nlas::{Nla, UnixDiagName};

use super::{Decoded, raw};
use crate::model::{Endpoint, Family, Proto, Socket, State};

/// `sizeof(struct unix_diag_msg)`.
const HEADER_LEN: usize = 16;

pub fn decode(payload: &[u8]) -> Result<Decoded, String> {
    let header_bytes = payload
        .get(..HEADER_LEN)
        .ok_or_else(|| format!("unix_diag_msg of {} bytes (< {HEADER_LEN})", payload.len()))?;
    let header = UnixResponseHeader::parse(header_bytes).map_err(|e| e.to_string())?;
    let mut socket = socket_from_header(&header)?;
    let bad_attributes = decode_attributes(&payload[HEADER_LEN..], &mut socket);
    Ok(Decoded { socket, bad_attributes })
}

fn proto_of(kind: u8) -> Result<Proto, String> {
    match i32::from(kind) {
        libc::SOCK_STREAM => Ok(Proto::UnixStream),
        libc::SOCK_DGRAM => Ok(Proto::UnixDgram),
        libc::SOCK_SEQPACKET => Ok(Proto::UnixSeqpacket),
        other => Err(format!("unknown unix socket type {other}")),
    }
}

fn socket_from_header(h: &UnixResponseHeader) -> Result<Socket, String> {
    Ok(Socket {
        proto: proto_of(h.kind)?,
        family: Family::Unix,
        state: State::from_kernel(h.state),
        local: Endpoint::Unnamed,
        remote: Endpoint::Unnamed,
        recv_q: 0,
        send_q: 0,
        inode: u64::from(h.inode),
        uid: Socket::NO_UID,
        timer: None,
        extra: None,
    })
}

fn decode_attributes(attrs: &[u8], socket: &mut Socket) -> u32 {
    let mut bad = 0;
    for nla in NlasIterator::new(attrs) {
        let Ok(nla) = nla else {
            return bad + 1;
        };
        let ok = if nla.kind() == UNIX_DIAG_MEMINFO {
            raw::skmem(nla.value()).map(|m| socket.extra_mut().mem = Some(m)).is_some()
        } else {
            Nla::parse(&nla).map(|n| apply(n, socket)).is_ok()
        };
        bad += u32::from(!ok);
    }
    bad
}

fn apply(nla: Nla, socket: &mut Socket) {
    match nla {
        Nla::Name(UnixDiagName::Pathname(path)) => {
            socket.local = Endpoint::UnixPath(path.as_bytes().into());
        }
        Nla::Name(UnixDiagName::Abstract(name)) => {
            socket.local = Endpoint::UnixAbstract(name.into_boxed_slice());
        }
        Nla::Peer(inode) if inode != 0 => socket.extra_mut().unix_peer = Some(u64::from(inode)),
        Nla::Peer(_) => {}
        Nla::ReceiveQueueLength(rq, wq) => {
            socket.recv_q = rq;
            socket.send_q = wq;
        }
        _ => {}
    }
}
