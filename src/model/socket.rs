//! One socket as the kernel reported it, decoded once into a plain record.
//!
//! Every source (TCP, UDP, UNIX dumps) lands in the same [`Socket`] type so that
//! filtering, analysis and every output format work on one shape, the way `ss`
//! decodes everything into one record before printing.

use std::net::SocketAddr;

use serde::Serialize;

use super::state::State;

/// Transport as `ss` names it in its `Netid` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    Tcp,
    Udp,
    UnixStream,
    UnixDgram,
    UnixSeqpacket,
}

impl Proto {
    /// The short name `ss` prints (`tcp`, `u_str`, ...).
    pub fn netid(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::UnixStream => "u_str",
            Proto::UnixDgram => "u_dgr",
            Proto::UnixSeqpacket => "u_seq",
        }
    }

    pub fn is_unix(self) -> bool {
        matches!(self, Proto::UnixStream | Proto::UnixDgram | Proto::UnixSeqpacket)
    }

    /// Protocols whose LISTEN sockets have an accept queue.
    pub fn has_accept_queue(self) -> bool {
        matches!(self, Proto::Tcp | Proto::UnixStream | Proto::UnixSeqpacket)
    }
}

/// Address family of the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Inet,
    Inet6,
    Unix,
}

/// One end of a socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// An IPv4 or IPv6 address with port.
    Ip(SocketAddr),
    /// A UNIX socket bound to a filesystem path (raw bytes: paths need not be UTF-8).
    UnixPath(Box<[u8]>),
    /// A UNIX socket in the abstract namespace (name without the leading NUL).
    UnixAbstract(Box<[u8]>),
    /// A UNIX socket with no name, or the peer end of a UNIX socket.
    Unnamed,
}

impl Endpoint {
    pub fn port(&self) -> Option<u16> {
        match self {
            Endpoint::Ip(addr) => Some(addr.port()),
            _ => None,
        }
    }

    pub fn ip(&self) -> Option<SocketAddr> {
        match self {
            Endpoint::Ip(addr) => Some(*addr),
            _ => None,
        }
    }
}

/// The kind of TCP timer pending on a socket, as `ss -o` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    Retransmit,
    Keepalive,
    TimeWait,
    Probe,
}

/// A pending timer and the milliseconds until it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Timer {
    pub kind: TimerKind,
    pub expires_ms: u32,
}

/// `SK_MEMINFO`: the socket's memory accounting. `drops` counts packets the
/// socket dropped; for a listener it grows on every accept-queue overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SkMem {
    pub rmem_alloc: u32,
    pub rcvbuf: u32,
    pub wmem_alloc: u32,
    pub sndbuf: u32,
    pub fwd_alloc: u32,
    pub wmem_queued: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optmem: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drops: Option<u32>,
}

/// The subset of `struct tcp_info` sockscope reports. A field is `None` when
/// the kernel's attribute was too short to hold it (older kernels send less).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retransmits: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_us: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snd_mss: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcv_mss: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unacked: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_data_sent_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_data_recv_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ack_recv_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pmtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rttvar_us: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snd_ssthresh: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwnd: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_retrans: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_acked: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_received: Option<u64>,
    /// Segments sent and received over the socket's life (Linux >= 4.2): a
    /// socket that never exchanged one was never connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segs_out: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segs_in: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notsent_bytes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rtt_us: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_rate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_retrans: Option<u64>,
}

/// What only some sockets carry: memory counters (listeners, UDP, `-i`),
/// `tcp_info` (`-i`), the peer of a UNIX socket. Kept out of line, so a
/// million established TCP sockets cost 104 bytes each, not 176.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketExtra {
    pub mem: Option<SkMem>,
    pub tcp_info: Option<TcpInfo>,
    /// Inode of the connected peer (UNIX sockets only).
    pub unix_peer: Option<u64>,
}

/// One socket from a sock_diag dump: a compact record (one dump holds up
/// to millions), with the rarely present parts behind [`SocketExtra`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub family: Family,
    pub state: State,
    pub local: Endpoint,
    pub remote: Endpoint,
    /// For a listener: connections waiting in the accept queue. Otherwise:
    /// bytes (TCP/UDP) or datagrams/bytes (UNIX) not yet read.
    pub recv_q: u32,
    /// For a listener: the backlog (queue limit). Otherwise: bytes not yet acknowledged/sent.
    pub send_q: u32,
    /// Socket inode; 0 for TIME-WAIT and SYN-RECV rows, which no process owns.
    pub inode: u64,
    /// The owner's uid ([`Socket::uid`]); [`Socket::NO_UID`] when the kernel
    /// did not report one (UNIX sockets). Four bytes, not an eight-byte `Option`.
    pub(crate) uid: u32,
    pub timer: Option<Timer>,
    /// Memory counters, tcp_info, UNIX peer: `None` when the socket has none.
    pub extra: Option<Box<SocketExtra>>,
}

impl Socket {
    pub fn is_listener(&self) -> bool {
        self.state == State::Listen && self.proto.has_accept_queue()
    }

    /// The kernel's own test (`sk_acceptq_is_full`): the queue holds backlog + 1.
    pub fn accept_queue_full(&self) -> bool {
        self.is_listener() && self.recv_q > self.send_q
    }

    /// A connection waiting in a listener's accept queue: a full TCP socket
    /// with no file yet (inode 0 until `accept()`), established, or in
    /// CLOSE-WAIT when the client closed while waiting. It belongs to the
    /// listener on its local address and port, not to an unseen owner.
    pub fn waits_for_accept(&self) -> bool {
        self.proto == Proto::Tcp
            && self.inode == 0
            && matches!(self.state, State::Established | State::CloseWait)
    }

    /// `uid` of a socket whose owner uid was not reported.
    pub const NO_UID: u32 = u32::MAX;

    /// The uid that owns the socket, as sock_diag reports it (not for UNIX sockets).
    pub fn uid(&self) -> Option<u32> {
        (self.uid != Socket::NO_UID).then_some(self.uid)
    }

    pub fn drops(&self) -> Option<u32> {
        self.mem().and_then(|m| m.drops)
    }

    /// `SK_MEMINFO`, when the dump asked for it.
    pub fn mem(&self) -> Option<&SkMem> {
        self.extra.as_deref().and_then(|e| e.mem.as_ref())
    }

    /// `tcp_info`, when the dump asked for it (`-i`, detail panes).
    pub fn tcp_info(&self) -> Option<&TcpInfo> {
        self.extra.as_deref().and_then(|e| e.tcp_info.as_ref())
    }

    /// Inode of the connected peer of a UNIX socket.
    pub fn unix_peer(&self) -> Option<u64> {
        self.extra.as_deref().and_then(|e| e.unix_peer)
    }

    /// The out-of-line part, created on first use (decoders, fixtures).
    pub fn extra_mut(&mut self) -> &mut SocketExtra {
        self.extra.get_or_insert_with(Box::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_record_stays_compact() {
        // 1M sockets in a dump: every byte here is a megabyte of RSS.
        assert!(std::mem::size_of::<Socket>() <= 104, "{}", std::mem::size_of::<Socket>());
    }
}
