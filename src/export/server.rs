//! A small blocking HTTP server: one thread per connection, a bounded number
//! of them, and a deadline on everything a client controls.
//!
//! A client that connects and sends nothing, or trickles its request a byte
//! at a time, or never reads the response, holds one connection slot until
//! its deadline ([`ServerSettings::timeout`]) and nothing else: other
//! clients are served by other threads. When every slot is taken a new
//! connection is answered 503 at once by the accept loop, which itself never
//! waits on a client.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::http::{self, HeadError, RequestHead, Response};

/// Limits on what clients may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    /// Connections served at once; more are answered 503.
    pub max_connections: usize,
    /// Time a client has to send its request head, and again to take the response.
    pub timeout: Duration,
}

/// How long to keep reading after the response, so that unread request
/// bytes do not turn the close into a reset that loses the response.
const LINGER: Duration = Duration::from_secs(1);

/// Answers requests on `listener` with `handler` until accepting fails for
/// good.
pub(super) fn run(
    listener: &TcpListener,
    settings: ServerSettings,
    handler: Arc<dyn Fn(&RequestHead) -> Response + Send + Sync>,
) -> io::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if transient(&e) => {
                // Out of fds or a connection aborted before accept: back off
                // briefly instead of spinning, then keep serving.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(e),
        };
        if active.load(Ordering::Acquire) >= settings.max_connections {
            refuse(stream);
            continue;
        }
        let slot = Slot::take(&active);
        let handler = Arc::clone(&handler);
        // If no thread can be made, the closure (stream and slot) is dropped:
        // the client sees the connection close and the slot is free again.
        let _ = std::thread::Builder::new().name("sockscope-http".into()).stack_size(256 * 1024).spawn(
            move || {
                let _slot = slot;
                serve_connection(stream, settings.timeout, handler.as_ref());
            },
        );
    }
}

fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EMFILE
                | libc::ENFILE
                | libc::ENOBUFS
                | libc::ENOMEM
                | libc::ECONNABORTED
                | libc::EINTR
                | libc::EPROTO
                | libc::EPERM
        )
    )
}

/// One connection slot, given back when the connection's thread ends.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(active: &Arc<AtomicUsize>) -> Slot {
        active.fetch_add(1, Ordering::AcqRel);
        Slot(Arc::clone(active))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers 503 without waiting: what the client already sent of its request
/// head is read (so the close is not a reset), the response is written if
/// the socket buffer takes it.
fn refuse(mut stream: TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut sink = [0u8; http::MAX_HEAD];
    let _ = stream.read(&mut sink);
    let response = Response::text(503, "too many connections; try again").with_header("Retry-After: 1");
    let _ = stream.write_all(&response.to_bytes(false));
    let _ = stream.shutdown(Shutdown::Write);
}

fn serve_connection(
    mut stream: TcpStream,
    timeout: Duration,
    handler: &(dyn Fn(&RequestHead) -> Response + Sync),
) {
    let (response, head_only) = match read_head(&mut stream, Instant::now() + timeout) {
        Ok(head) => (handler(&head), head.is_head()),
        Err(ReadError::Closed) => return,
        Err(ReadError::TimedOut) => (Response::text(408, "request not received in time"), false),
        Err(ReadError::Head(HeadError::Malformed)) => (Response::text(400, "malformed HTTP request"), false),
        Err(ReadError::Head(HeadError::TooLarge)) => (Response::text(431, "request head too large"), false),
    };
    if write_all_by(&mut stream, &response.to_bytes(head_only), Instant::now() + timeout).is_ok() {
        let _ = stream.shutdown(Shutdown::Write);
        drain(&mut stream, Instant::now() + LINGER.min(timeout));
    }
}

enum ReadError {
    /// The client closed or the connection failed: nothing to answer.
    Closed,
    TimedOut,
    Head(HeadError),
}

fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<RequestHead, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = read_by(stream, &mut chunk, deadline)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        let room = http::MAX_HEAD.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..n.min(room)]);
        if let Some(head) = http::parse_head(&buf).map_err(ReadError::Head)? {
            return Ok(head);
        }
    }
}

/// One read that returns by `deadline` at the latest.
fn read_by(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<usize, ReadError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ReadError::TimedOut);
    }
    stream.set_read_timeout(Some(left)).map_err(|_| ReadError::Closed)?;
    loop {
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(ReadError::TimedOut);
            }
            Err(_) => return Err(ReadError::Closed),
        }
    }
}

/// Writes everything by `deadline`, or fails.
fn write_all_by(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads and discards until the client closes, at most 64 KiB, by `deadline`.
fn drain(stream: &mut TcpStream, deadline: Instant) {
    let mut sink = [0u8; 4096];
    let mut total = 0;
    while total < 64 * 1024 {
        match read_by(stream, &mut sink, deadline) {
            Ok(n) if n > 0 => total += n,
            _ => return,
        }
    }
}
