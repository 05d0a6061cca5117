//! `dump --sockets`: one line per socket, like `ss -tuxanpe`, with owners as
//! `comm(pid)`. Columns are measured in a first pass and printed in a second,
//! recomputing each row rather than holding 100k rows of strings in memory.
//! With `-i`, each socket the kernel sent details for gets a second, indented
//! line in `ss -im`'s words: `skmem:(...)`, then its tcp_info.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::escape::endpoint_text;
use super::owners_text;
use super::style::Style;
use super::table::{Align, Cell, write_row};
use crate::model::{Endpoint, SkMem, Snapshot, Socket, TcpInfo};

const COLUMNS: [(&str, Align); 8] = [
    ("Netid", Align::Left),
    ("State", Align::Left),
    ("Recv-Q", Align::Right),
    ("Send-Q", Align::Right),
    ("Local Address:Port", Align::Left),
    ("Peer Address:Port", Align::Left),
    ("Inode", Align::Right),
    ("Owners", Align::Left),
];

fn row(s: &Socket, snapshot: &Snapshot) -> [String; 8] {
    let peer = match (&s.remote, s.unix_peer()) {
        (Endpoint::Unnamed, Some(peer)) => format!("* {peer}"),
        (remote, _) => endpoint_text(remote),
    };
    [
        s.proto.netid().to_string(),
        s.state.ss_name().to_string(),
        s.recv_q.to_string(),
        s.send_q.to_string(),
        endpoint_text(&s.local),
        peer,
        s.inode.to_string(),
        owners_text(snapshot, s.inode),
    ]
}

/// A row, behind the NETNS cell in all-namespace listings.
fn full_row(s: &Socket, snapshot: &Snapshot) -> impl Iterator<Item = String> {
    let netns = snapshot.is_all_netns().then(|| super::netns::column(snapshot, snapshot.netns_of_socket(s)));
    netns.into_iter().chain(row(s, snapshot))
}

/// Writes the listing of `sockets` (with a NETNS column first when the
/// snapshot covers every namespace); `details` adds the `ss -im` line.
pub fn write_sockets(
    out: &mut dyn Write,
    sockets: &[&Socket],
    snapshot: &Snapshot,
    details: bool,
    style: &Style,
) -> io::Result<()> {
    let netns = snapshot.is_all_netns().then_some(("NETNS", Align::Left));
    let columns: Vec<(&str, Align)> = netns.into_iter().chain(COLUMNS).collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.0.width()).collect();
    for s in sockets {
        for (w, text) in widths.iter_mut().zip(full_row(s, snapshot)) {
            *w = (*w).max(text.width());
        }
    }
    let aligns: Vec<Align> = columns.iter().map(|c| c.1).collect();
    let header: Vec<Cell> = columns.iter().map(|c| Cell::from(c.0)).collect();
    write_row(out, &header, &widths, &aligns, style)?;
    for s in sockets {
        let cells: Vec<Cell> = full_row(s, snapshot).map(Cell::from).collect();
        write_row(out, &cells, &widths, &aligns, style)?;
        if let Some(line) = details.then(|| details_line(s)).flatten() {
            writeln!(out, "\t {line}")?;
        }
    }
    Ok(())
}

/// The `ss -im` detail line of a socket, or `None` when the kernel sent no details.
pub fn details_line(s: &Socket) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(m) = s.mem() {
        parts.push(skmem_text(m));
    }
    if let Some(info) = s.tcp_info() {
        parts.extend(tcp_info_parts(info));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn skmem_text(m: &SkMem) -> String {
    let opt = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
    let mut text = format!(
        "skmem:(r{},rb{},t{},tb{},f{},w{}",
        m.rmem_alloc, m.rcvbuf, m.wmem_alloc, m.sndbuf, m.fwd_alloc, m.wmem_queued
    );
    for (key, value) in [("o", m.optmem), ("bl", m.backlog), ("d", m.drops)] {
        if value.is_some() {
            text.push_str(&format!(",{key}{}", opt(value)));
        }
    }
    text.push(')');
    text
}

/// Milliseconds from microseconds, as `ss` prints them (`0.022`, `204`).
fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

/// `ssthresh` above this is "infinite" (`TCP_INFINITE_SSTHRESH`): not printed.
const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// tcp_info fields with `ss -i`'s names and units; counters that are zero
/// and fields an older kernel did not send are left out, as `ss` does.
fn tcp_info_parts(i: &TcpInfo) -> Vec<String> {
    let mut p = Vec::new();
    let mut add = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            p.push(format!("{key}{v}"));
        }
    };
    let nonzero = |v: Option<u32>| v.filter(|&v| v > 0).map(|v| v.to_string());
    add("backoff:", i.backoff.filter(|&b| b > 0).map(|b| b.to_string()));
    add("rto:", i.rto_us.map(|v| ms(v).to_string()));
    add("rtt:", i.rtt_us.zip(i.rttvar_us).map(|(r, v)| format!("{}/{}", ms(r), ms(v))));
    add("mss:", i.snd_mss.map(|v| v.to_string()));
    add("pmtu:", i.pmtu.map(|v| v.to_string()));
    add("rcvmss:", i.rcv_mss.map(|v| v.to_string()));
    add("cwnd:", i.cwnd.map(|v| v.to_string()));
    add("ssthresh:", i.snd_ssthresh.filter(|&v| v < INFINITE_SSTHRESH).map(|v| v.to_string()));
    add("bytes_sent:", i.bytes_sent.filter(|&v| v > 0).map(|v| v.to_string()));
    add("bytes_retrans:", i.bytes_retrans.filter(|&v| v > 0).map(|v| v.to_string()));
    add("bytes_acked:", i.bytes_acked.filter(|&v| v > 0).map(|v| v.to_string()));
    add("bytes_received:", i.bytes_received.filter(|&v| v > 0).map(|v| v.to_string()));
    add("segs_out:", nonzero(i.segs_out));
    add("segs_in:", nonzero(i.segs_in));
    add("lastsnd:", i.last_data_sent_ms.map(|v| v.to_string()));
    add("lastrcv:", i.last_data_recv_ms.map(|v| v.to_string()));
    add("lastack:", i.last_ack_recv_ms.map(|v| v.to_string()));
    add("delivery_rate ", i.delivery_rate.filter(|&v| v > 0).map(|v| format!("{}bps", v.saturating_mul(8))));
    add("unacked:", nonzero(i.unacked));
    let retrans = i.retransmits.map(u32::from).zip(i.total_retrans).filter(|(now, all)| now + all > 0);
    add("retrans:", retrans.map(|(now, all)| format!("{now}/{all}")));
    add("lost:", nonzero(i.lost));
    add("notsent:", nonzero(i.notsent_bytes));
    add("minrtt:", i.min_rtt_us.filter(|&v| v > 0).map(|v| ms(v).to_string()));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::tcp_socket;
    use crate::model::State;

    #[test]
    fn tcp_info_reads_like_ss_dash_i() {
        let mut s = tcp_socket(State::Established, "127.0.0.1:51192", "127.0.0.1:47127", 2, 0);
        s.extra_mut().mem = Some(SkMem {
            rmem_alloc: 834,
            rcvbuf: 131072,
            sndbuf: 3939840,
            fwd_alloc: 3262,
            optmem: Some(0),
            backlog: Some(0),
            drops: Some(0),
            ..SkMem::default()
        });
        s.extra_mut().tcp_info = Some(TcpInfo {
            retransmits: Some(0),
            rto_us: Some(204_000),
            rtt_us: Some(22),
            rttvar_us: Some(12),
            snd_mss: Some(35328),
            cwnd: Some(11),
            snd_ssthresh: Some(INFINITE_SSTHRESH),
            total_retrans: Some(0),
            bytes_sent: Some(1000),
            bytes_acked: Some(1001),
            bytes_received: Some(2),
            segs_out: Some(4),
            segs_in: Some(3),
            last_data_sent_ms: Some(4),
            min_rtt_us: Some(8),
            ..TcpInfo::default()
        });
        assert_eq!(
            details_line(&s).unwrap(),
            "skmem:(r834,rb131072,t0,tb3939840,f3262,w0,o0,bl0,d0) rto:204 rtt:0.022/0.012 mss:35328 cwnd:11 \
             bytes_sent:1000 bytes_acked:1001 bytes_received:2 segs_out:4 segs_in:3 lastsnd:4 minrtt:0.008"
        );
    }

    #[test]
    fn a_socket_without_details_has_no_second_line() {
        assert_eq!(details_line(&tcp_socket(State::Established, "127.0.0.1:1", "127.0.0.1:2", 0, 0)), None);
    }
}
