//! One sock_diag dump request: which family, protocol, states and extras.
//!
//! The kernel filters by state before building any message, so asking for
//! only LISTEN (and SYN-RECV, for the SYN queue) is several times cheaper
//! than dumping everything and filtering here.
//!
//! A dump of connected TCP sockets walks the kernel's whole established hash
//! table, whichever family it asks for: one dump per family walks it twice,
//! and at 100k IPv4 connections the IPv6 walk alone (finding nothing) cost
//! an eighth of `dump --json`. The original request type, `TCPDIAG_GETSOCK`
//! (still served by every kernel, its reply in the same `inet_diag_msg`
//! format), dumps both families in one walk: [`Query::TcpBoth`]. Where a
//! kernel refuses it, the collector falls back to the two family dumps
//! ([`Query::split`]).

use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::unix::{ShowFlags, StateFlags as UnixStateFlags, UnixRequest};

use crate::model::{Family, Proto, StateSet};

/// Per-socket attributes to ask the kernel for. Each costs kernel work and
/// bytes for every socket dumped, so they are requested only where needed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// `INET_DIAG_INFO`: `struct tcp_info` (TCP only).
    pub tcp_info: bool,
    /// `INET_DIAG_SKMEMINFO`: socket memory and drop counter.
    pub skmem: bool,
}

/// A single dump the collector sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    Inet {
        proto: Proto,
        family: Family,
        states: StateSet,
        extras: Extras,
    },
    /// TCP sockets of both families, in one walk of the hash tables.
    TcpBoth {
        states: StateSet,
        extras: Extras,
    },
    Unix {
        states: StateSet,
    },
}

/// `TCPDIAG_GETSOCK`: the request type whose dumps ignore the family.
pub(super) const TCPDIAG_GETSOCK: u16 = 18;

/// `struct inet_diag_req`, the request `TCPDIAG_GETSOCK` takes: family,
/// address lengths and extensions (4 bytes), the socket id (48), states and
/// tables (4 + 4).
const INET_DIAG_REQ_LEN: usize = 60;

impl Query {
    /// The protocol whose sockets this dump returns (for inet dumps).
    pub fn inet_proto(&self) -> Option<Proto> {
        match self {
            Query::Inet { proto, .. } => Some(*proto),
            Query::TcpBoth { .. } => Some(Proto::Tcp),
            Query::Unix { .. } => None,
        }
    }

    /// The dumps, one per family, that ask for what a [`Query::TcpBoth`]
    /// asks for; any other query stands for itself.
    pub fn split(&self) -> Vec<Query> {
        match *self {
            Query::TcpBoth { states, extras } => [Family::Inet, Family::Inet6]
                .map(|family| Query::Inet { proto: Proto::Tcp, family, states, extras })
                .to_vec(),
            other => vec![other],
        }
    }

    /// Short label for warnings: `tcp6`, `udp`, `unix`.
    pub fn label(&self) -> String {
        match self {
            Query::Inet { proto, family, .. } => {
                let v6 = if *family == Family::Inet6 { "6" } else { "" };
                format!("{}{v6}", proto.netid())
            }
            Query::TcpBoth { .. } => "tcp".to_string(),
            Query::Unix { .. } => "unix".to_string(),
        }
    }

    /// The request as a netlink message, ready to send.
    pub fn to_bytes(&self, sequence: u32) -> Vec<u8> {
        let request = match *self {
            // The original request type: one walk for both families, which
            // the sock_diag message types cannot express.
            Query::TcpBoth { states, extras } => return tcp_both_request(states, extras, sequence),
            Query::Inet { proto, family, states, extras } => {
                SockDiagMessage::InetRequest(inet_request(proto, family, states, extras))
            }
            Query::Unix { states } => SockDiagMessage::UnixRequest(unix_request(states)),
        };
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = sequence;
        let mut message = NetlinkMessage::new(header, request.into());
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }
}

/// The `TCPDIAG_GETSOCK` dump request, built by hand: the sock_diag crate
/// models only `SOCK_DIAG_BY_FAMILY` requests.
fn tcp_both_request(states: StateSet, extras: Extras, sequence: u32) -> Vec<u8> {
    let extensions = inet_request(Proto::Tcp, Family::Inet, states, extras).extensions.bits();
    let len = 16 + INET_DIAG_REQ_LEN;
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&(len as u32).to_ne_bytes());
    bytes.extend_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    bytes.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    bytes.extend_from_slice(&sequence.to_ne_bytes());
    bytes.extend_from_slice(&0u32.to_ne_bytes());
    bytes.extend_from_slice(&[AF_INET, 0, 0, extensions]);
    bytes.extend_from_slice(&[0; 40]); // ports, addresses, interface
    bytes.extend_from_slice(&[0xff; 8]); // no cookie
    bytes.extend_from_slice(&states.bits().to_ne_bytes());
    bytes.extend_from_slice(&0u32.to_ne_bytes());
    bytes
}

fn inet_request(proto: Proto, family: Family, states: StateSet, extras: Extras) -> InetRequest {
    let mut extensions = ExtensionFlags::empty();
    if extras.skmem {
        extensions |= ExtensionFlags::SKMEMINFO;
    }
    if extras.tcp_info && proto == Proto::Tcp {
        extensions |= ExtensionFlags::INFO;
    }
    let (af, socket_id) = match family {
        Family::Inet6 => (AF_INET6, SocketId::new_v6()),
        _ => (AF_INET, SocketId::new_v4()),
    };
    InetRequest {
        family: af,
        protocol: if proto == Proto::Udp { IPPROTO_UDP } else { IPPROTO_TCP },
        extensions,
        states: StateFlags::from_bits_retain(states.bits()),
        socket_id,
    }
}

fn unix_request(states: StateSet) -> UnixRequest {
    UnixRequest {
        // The crate names only ESTABLISHED and LISTEN; keep every other bit.
        state_flags: UnixStateFlags::from_bits_retain(states.bits()),
        inode: 0,
        show_flags: ShowFlags::NAME | ShowFlags::PEER | ShowFlags::RQLEN | ShowFlags::MEMINFO,
        cookie: [0xff; 8],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    #[test]
    fn listen_only_tcp_dump_asks_the_kernel_for_listen_only() {
        let q = Query::Inet {
            proto: Proto::Tcp,
            family: Family::Inet,
            states: StateSet::of(&[State::Listen]),
            extras: Extras { tcp_info: false, skmem: true },
        };
        let b = q.to_bytes(7);
        assert_eq!(b.len(), 16 + 56, "nlmsghdr + inet_diag_req_v2");
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 20, "SOCK_DIAG_BY_FAMILY");
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!(b[16], AF_INET);
        assert_eq!(b[17], IPPROTO_TCP);
        assert_eq!(b[18], ExtensionFlags::SKMEMINFO.bits());
        assert_eq!(u32::from_ne_bytes([b[20], b[21], b[22], b[23]]), 1 << 10);
    }

    #[test]
    fn one_walk_tcp_dump_is_the_original_request() {
        let states = StateSet::ALL.without(State::Listen);
        let q = Query::TcpBoth { states, extras: Extras { tcp_info: true, skmem: false } };
        let b = q.to_bytes(9);
        assert_eq!(b.len(), 16 + 60, "nlmsghdr + inet_diag_req");
        assert_eq!(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]), 76);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), TCPDIAG_GETSOCK);
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!(u32::from_ne_bytes([b[8], b[9], b[10], b[11]]), 9);
        assert_eq!(b[19], ExtensionFlags::INFO.bits());
        assert_eq!(u32::from_ne_bytes([b[68], b[69], b[70], b[71]]), states.bits());
        assert_eq!(q.label(), "tcp");
        let split = q.split();
        assert_eq!(split.len(), 2);
        assert!(
            split
                .iter()
                .all(|s| matches!(s, Query::Inet { proto: Proto::Tcp, states: st, .. } if *st == states))
        );
    }

    #[test]
    fn unix_dump_keeps_states_the_crate_does_not_name() {
        let q = Query::Unix { states: StateSet::ALL };
        let b = q.to_bytes(1);
        assert_eq!(b[16], 1, "AF_UNIX");
        assert_eq!(u32::from_ne_bytes([b[20], b[21], b[22], b[23]]), u32::MAX);
    }
}
