//! Length-tolerant readers for fixed-layout kernel structs.
//!
//! The kernel appends fields to `struct tcp_info` and `sk_meminfo` over time
//! and sends only what it has. Reading each field only if the attribute is long
//! enough to hold it lets one decoder serve every kernel: an old kernel yields
//! fewer fields, never a failed socket.

use crate::model::{SkMem, TcpInfo};

fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off + 4)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let bytes = b.get(off..off + 8)?;
    Some(u64::from_ne_bytes(bytes.try_into().ok()?))
}

/// The oldest `tcp_info` layout (Linux 2.6) is 104 bytes; anything shorter is
/// not a `tcp_info` at all.
pub const TCP_INFO_MIN_LEN: usize = 104;

/// Decodes `INET_DIAG_INFO`. Offsets follow `include/uapi/linux/tcp.h`.
pub fn tcp_info(b: &[u8]) -> Option<TcpInfo> {
    if b.len() < TCP_INFO_MIN_LEN {
        return None;
    }
    Some(TcpInfo {
        retransmits: u8_at(b, 2),
        probes: u8_at(b, 3),
        backoff: u8_at(b, 4),
        rto_us: u32_at(b, 8),
        snd_mss: u32_at(b, 16),
        rcv_mss: u32_at(b, 20),
        unacked: u32_at(b, 24),
        lost: u32_at(b, 32),
        last_data_sent_ms: u32_at(b, 44),
        last_data_recv_ms: u32_at(b, 52),
        last_ack_recv_ms: u32_at(b, 56),
        pmtu: u32_at(b, 60),
        rtt_us: u32_at(b, 68),
        rttvar_us: u32_at(b, 72),
        snd_ssthresh: u32_at(b, 76),
        cwnd: u32_at(b, 80),
        total_retrans: u32_at(b, 100),
        bytes_acked: u64_at(b, 120),
        bytes_received: u64_at(b, 128),
        segs_out: u32_at(b, 136),
        segs_in: u32_at(b, 140),
        notsent_bytes: u32_at(b, 144),
        min_rtt_us: u32_at(b, 148),
        delivery_rate: u64_at(b, 160),
        bytes_sent: u64_at(b, 200),
        bytes_retrans: u64_at(b, 208),
    })
}

/// The state byte of a `tcp_info` and, where the kernel counts them (Linux
/// >= 4.2), its (segs_out, segs_in). `None` when too short to be one.
pub fn tcp_info_with_state(b: &[u8]) -> Option<(u8, Option<(u32, u32)>)> {
    if b.len() < TCP_INFO_MIN_LEN {
        return None;
    }
    Some((u8_at(b, 0)?, u32_at(b, 136).zip(u32_at(b, 140))))
}

/// `SK_MEMINFO` has held at least six u32s since it was introduced.
pub const SKMEM_MIN_LEN: usize = 24;

/// Decodes `INET_DIAG_SKMEMINFO` / `UNIX_DIAG_MEMINFO` (an array of u32).
pub fn skmem(b: &[u8]) -> Option<SkMem> {
    if b.len() < SKMEM_MIN_LEN {
        return None;
    }
    Some(SkMem {
        rmem_alloc: u32_at(b, 0)?,
        rcvbuf: u32_at(b, 4)?,
        wmem_alloc: u32_at(b, 8)?,
        sndbuf: u32_at(b, 12)?,
        fwd_alloc: u32_at(b, 16)?,
        wmem_queued: u32_at(b, 20)?,
        optmem: u32_at(b, 24),
        backlog: u32_at(b, 28),
        drops: u32_at(b, 32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put32(b: &mut [u8], off: usize, v: u32) {
        b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }

    #[test]
    fn full_tcp_info_yields_every_field() {
        let mut b = vec![0u8; 248];
        b[2] = 3;
        put32(&mut b, 68, 1500);
        put32(&mut b, 80, 10);
        b[120..128].copy_from_slice(&77u64.to_ne_bytes());
        b[208..216].copy_from_slice(&5u64.to_ne_bytes());
        put32(&mut b, 136, 4);
        put32(&mut b, 140, 3);
        let info = tcp_info(&b).unwrap();
        assert_eq!((info.segs_out, info.segs_in), (Some(4), Some(3)));
        assert_eq!(info.retransmits, Some(3));
        assert_eq!(info.rtt_us, Some(1500));
        assert_eq!(info.cwnd, Some(10));
        assert_eq!(info.bytes_acked, Some(77));
        assert_eq!(info.bytes_retrans, Some(5));
    }

    #[test]
    fn short_tcp_info_keeps_what_it_has() {
        let mut b = vec![0u8; 124];
        put32(&mut b, 100, 9);
        let info = tcp_info(&b).unwrap();
        assert_eq!(info.total_retrans, Some(9));
        assert_eq!(info.bytes_acked, None, "120..128 is past a 124-byte attribute");
        assert_eq!(info.bytes_received, None);
    }

    #[test]
    fn too_short_tcp_info_is_rejected() {
        assert!(tcp_info(&[0u8; 40]).is_none());
    }

    #[test]
    fn skmem_without_drops_on_old_kernels() {
        let mut b = vec![0u8; 32];
        put32(&mut b, 4, 212992);
        let mem = skmem(&b).unwrap();
        assert_eq!(mem.rcvbuf, 212992);
        assert_eq!(mem.drops, None);
        let mut b = vec![0u8; 36];
        put32(&mut b, 32, 12);
        assert_eq!(skmem(&b).unwrap().drops, Some(12));
        assert!(skmem(&[0u8; 8]).is_none());
    }
}
