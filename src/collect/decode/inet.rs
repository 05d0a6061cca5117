//! Decoding one `inet_diag_msg` (TCP or UDP over IPv4/IPv6).
//!
//! The fixed header is parsed by `netlink-packet-sock-diag`; attributes are
//! walked one by one so that a malformed attribute costs only that attribute,
//! never the socket (the crate's whole-message parser would drop the socket,
//! and a dump loop that stops there loses every socket after it).

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use netlink_packet_core::{NlasIterator, Parseable};
use netlink_packet_sock_diag::constants::{INET_DIAG_INFO, INET_DIAG_SKMEMINFO};
use netlink_packet_sock_diag::inet::{InetResponseHeader, SocketId, Timer as DiagTimer};

use super::{Decoded, raw};
use crate::model::{Endpoint, Family, Proto, Socket, State, Timer, TimerKind};

/// `sizeof(struct inet_diag_msg)`.
const HEADER_LEN: usize = 72;

/// Decodes a `SOCK_DIAG_BY_FAMILY` payload for an inet socket of `proto`.
pub fn decode(payload: &[u8], proto: Proto) -> Result<Decoded, String> {
    let header_bytes = payload
        .get(..HEADER_LEN)
        .ok_or_else(|| format!("inet_diag_msg of {} bytes (< {HEADER_LEN})", payload.len()))?;
    let header = InetResponseHeader::parse(header_bytes).map_err(|e| e.to_string())?;
    let family = family_of(header.family)?;
    let mut socket = socket_from_header(&header, proto, family);
    if let Some(timer) = socket.timer.as_mut() {
        // The crate keeps no expiry for TIME-WAIT timers; read idiag_expires.
        timer.expires_ms =
            u32::from_ne_bytes([header_bytes[52], header_bytes[53], header_bytes[54], header_bytes[55]]);
    }
    let bad_attributes = decode_attributes(&payload[HEADER_LEN..], &mut socket);
    Ok(Decoded { socket, bad_attributes })
}

fn family_of(af: u8) -> Result<Family, String> {
    match i32::from(af) {
        libc::AF_INET => Ok(Family::Inet),
        libc::AF_INET6 => Ok(Family::Inet6),
        other => Err(format!("unexpected address family {other} in an inet dump")),
    }
}

fn socket_from_header(h: &InetResponseHeader, proto: Proto, family: Family) -> Socket {
    let id = &h.socket_id;
    Socket {
        proto,
        family,
        state: State::from_kernel(h.state),
        local: endpoint(id.source_address, id.source_port, id),
        remote: endpoint(id.destination_address, id.destination_port, id),
        recv_q: h.recv_queue,
        send_q: h.send_queue,
        inode: u64::from(h.inode),
        uid: h.uid,
        timer: h.timer.as_ref().map(timer),
        extra: None,
    }
}

fn endpoint(ip: IpAddr, port: u16, id: &SocketId) -> Endpoint {
    match ip {
        IpAddr::V6(v6) if is_link_local(&v6) => {
            Endpoint::Ip(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, id.interface_id)))
        }
        _ => Endpoint::Ip(SocketAddr::new(ip, port)),
    }
}

fn is_link_local(ip: &std::net::Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

fn timer(t: &DiagTimer) -> Timer {
    let (kind, expires) = match t {
        DiagTimer::Retransmit(d, _) => (TimerKind::Retransmit, *d),
        DiagTimer::KeepAlive(d) => (TimerKind::Keepalive, *d),
        DiagTimer::TimeWait => (TimerKind::TimeWait, Default::default()),
        DiagTimer::Probe(d) => (TimerKind::Probe, *d),
    };
    Timer { kind, expires_ms: u32::try_from(expires.as_millis()).unwrap_or(u32::MAX) }
}

/// Fills the attributes sockscope uses; returns how many were malformed.
fn decode_attributes(attrs: &[u8], socket: &mut Socket) -> u32 {
    let mut bad = 0;
    for nla in NlasIterator::new(attrs) {
        let Ok(nla) = nla else {
            return bad + 1;
        };
        let ok = match nla.kind() {
            INET_DIAG_INFO => {
                raw::tcp_info(nla.value()).map(|info| socket.extra_mut().tcp_info = Some(info)).is_some()
            }
            INET_DIAG_SKMEMINFO => {
                raw::skmem(nla.value()).map(|mem| socket.extra_mut().mem = Some(mem)).is_some()
            }
            _ => true,
        };
        bad += u32::from(!ok);
    }
    bad
}
