//! `dump --sockets`: one line per socket, like `ss -tuxanpe`, with owners as
//! `comm(pid)`. Columns are measured in a first pass and printed in a second,
//! recomputing each row rather than holding 100k rows of strings in memory.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::escape::endpoint_text;
use super::owners_text;
use super::style::Style;
use super::table::{Align, Cell, write_row};
use crate::model::{Endpoint, Snapshot, Socket};

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
    let peer = match (&s.remote, s.unix_peer) {
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

/// Writes the listing of `sockets`.
pub fn write_sockets(
    out: &mut dyn Write,
    sockets: &[&Socket],
    snapshot: &Snapshot,
    style: &Style,
) -> io::Result<()> {
    let mut widths: Vec<usize> = COLUMNS.iter().map(|c| c.0.width()).collect();
    for s in sockets {
        for (w, text) in widths.iter_mut().zip(row(s, snapshot)) {
            *w = (*w).max(text.width());
        }
    }
    let aligns: Vec<Align> = COLUMNS.iter().map(|c| c.1).collect();
    let header: Vec<Cell> = COLUMNS.iter().map(|c| Cell::from(c.0)).collect();
    write_row(out, &header, &widths, &aligns, style)?;
    for s in sockets {
        let cells: Vec<Cell> = row(s, snapshot).into_iter().map(Cell::from).collect();
        write_row(out, &cells, &widths, &aligns, style)?;
    }
    Ok(())
}
