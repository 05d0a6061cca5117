//! Records real sock_diag dumps into `tests/data/` for the parser tests.
//!
//! Creates a known set of sockets (a listener with a full accept queue, an
//! established pair, a CLOSE-WAIT, a TIME-WAIT, a UNIX listener), dumps TCP
//! over IPv4 with tcp_info + skmem and all UNIX sockets, and writes each dump
//! as length-prefixed datagrams (`u32` little-endian length, then bytes).
//!
//! Run: `cargo run --example record_dump` (on a quiet host or in a fresh netns:
//! `unshare -n sh -c 'ip link set lo up; cargo run --example record_dump'`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;

use sockscope::collect::{DiagSocket, Extras, Query};
use sockscope::model::{Family, Proto, StateSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:40123")?;
    let established = TcpStream::connect("127.0.0.1:40123")?;
    let (mut accepted, _) = listener.accept()?;
    accepted.write_all(b"hello")?;
    let closer = TcpStream::connect("127.0.0.1:40123")?;
    let (close_wait, _) = listener.accept()?;
    closer.shutdown(Shutdown::Both)?;
    drop(closer);
    let mut active = TcpStream::connect("127.0.0.1:40123")?;
    let (mut passive, _) = listener.accept()?;
    active.shutdown(Shutdown::Write)?;
    passive.read_to_end(&mut Vec::new())?;
    drop(passive);
    active.read_to_end(&mut Vec::new())?;
    drop(active);
    let _queued: Vec<TcpStream> =
        (0..3).map(|_| TcpStream::connect("127.0.0.1:40123")).collect::<Result<_, _>>()?;
    let path = std::env::temp_dir().join("sockscope-record.sock");
    let _ = std::fs::remove_file(&path);
    let _unix = UnixListener::bind(&path)?;

    let mut diag = DiagSocket::open()?;
    let tcp = Query::Inet {
        proto: Proto::Tcp,
        family: Family::Inet,
        states: StateSet::ALL,
        extras: Extras { tcp_info: true, skmem: true },
    };
    write("tests/data/tcp4.nl", &diag.record(&tcp)?)?;
    write("tests/data/unix.nl", &diag.record(&Query::Unix { states: StateSet::ALL })?)?;
    drop((established, close_wait, accepted));
    let _ = std::fs::remove_file(&path);
    Ok(())
}

fn write(path: &str, datagrams: &[Vec<u8>]) -> std::io::Result<()> {
    let mut out = Vec::new();
    for d in datagrams {
        out.extend_from_slice(&(d.len() as u32).to_le_bytes());
        out.extend_from_slice(d);
    }
    std::fs::write(path, out)?;
    println!("{path}: {} datagrams", datagrams.len());
    Ok(())
}
