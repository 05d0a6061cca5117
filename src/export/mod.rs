//! `sockscope export`: Prometheus metrics for fleets — each listener's accept
//! queue against its backlog, TCP states, CLOSE-WAIT and ghost sockets by
//! process, fds against limits (every metric: `docs/metrics.md`).
//!
//! ```text
//! HTTP clients ─► server (bounded threads, deadlines) ─► scrape (one shared
//!   collection in flight) ─► snapshot producer ─► metrics (families) ─► encode
//! ```
//!
//! The exporter works with any snapshot producer: [`serve`] and
//! [`write_once`] take one [`Source`] per namespace ([`NetnsSource`]); the
//! binary hands them the kernel reader, tests a scripted `Replay`. A
//! namespace whose source fails is reported (`scrape_success` 0) without
//! failing the scrape.

mod encode;
mod families;
mod http;
mod metrics;
mod scrape;
mod server;
#[cfg(test)]
mod tests;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use metrics::{Limits, NetnsLabels, metric_names};
pub use server::ServerSettings;

use encode::{Format, encode};
use families::Exposition;
use http::{RequestHead, Response};
use metrics::NetnsResult;
use scrape::Scraper;

use crate::model::{Snapshot, Source, WarningKind};
use crate::output::escape;

/// The default address: loopback only, so nothing is exposed unless asked.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9847";

/// Everything `serve` needs besides the snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSettings {
    pub limits: Limits,
    pub server: ServerSettings,
}

impl Default for ExportSettings {
    fn default() -> ExportSettings {
        ExportSettings {
            limits: Limits::default(),
            server: ServerSettings { max_connections: 16, timeout: Duration::from_secs(10) },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot listen on {addr}{hint}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
        hint: &'static str,
    },
    #[error("cannot start the collector thread")]
    Thread(#[source] io::Error),
    #[error("cannot accept connections")]
    Accept(#[source] io::Error),
    #[error("writing metrics")]
    Write(#[from] io::Error),
}

/// One namespace to export: its labels, and where its snapshots come from.
/// The metrics need every TCP socket (states, CLOSE-WAIT owners and ghosts
/// need the whole TCP table), the UNIX listeners and socket owners; UDP
/// and `tcp_info` are not used.
pub struct NetnsSource {
    pub labels: NetnsLabels,
    pub source: Box<dyn Source>,
}

/// One collection: every namespace's snapshot, or its error with causes. A
/// source that collects every namespace (`--all-netns`) yields one result
/// per namespace it found, labelled with that namespace's own name, pod and
/// container; one that could not be collected reports `scrape_success` 0.
fn collect_all(sources: &mut [NetnsSource]) -> Vec<NetnsResult> {
    let mut results = Vec::new();
    for ns in sources.iter_mut() {
        match ns.source.snapshot() {
            Ok(snapshot) if snapshot.is_all_netns() => results.extend(split_by_netns(&snapshot)),
            Ok(snapshot) => results.push(NetnsResult { labels: ns.labels.clone(), snapshot: Ok(snapshot) }),
            Err(e) => results.push(NetnsResult {
                labels: ns.labels.clone(),
                snapshot: Err(crate::output::error_chain(e.as_ref())),
            }),
        }
    }
    results
}

/// One result per namespace of an all-namespace snapshot.
fn split_by_netns(snapshot: &Snapshot) -> Vec<NetnsResult> {
    let mut views: std::collections::HashMap<u64, Snapshot> =
        snapshot.netns_views().into_iter().filter_map(|v| Some((v.netns.inode?, v))).collect();
    let mut keys = metrics::NetnsKeys::default();
    snapshot
        .namespaces
        .iter()
        .map(|n| {
            let labels = keys.labels(n, snapshot);
            let snapshot = views.remove(&n.inode).ok_or_else(|| format!("namespace {}", n.status.name()));
            NetnsResult { labels, snapshot }
        })
        .collect()
}

/// Binds the listening socket.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, ExportError> {
    TcpListener::bind(addr).map_err(|source| {
        let hint = match source.kind() {
            io::ErrorKind::AddrInUse => {
                " (the port is taken: is another exporter running? choose one with --listen)"
            }
            io::ErrorKind::AddrNotAvailable => " (no local interface has that address)",
            io::ErrorKind::PermissionDenied => " (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
            _ => "",
        };
        ExportError::Bind { addr, source, hint }
    })
}

/// Serves `/metrics` and `/` on `listener` until accepting fails for good;
/// every scrape takes a fresh collection from `sources` (shared by scrapes
/// that arrive while it runs). Collection failures and snapshot warnings
/// are written to `log` when they first appear.
pub fn serve(
    listener: &TcpListener,
    settings: &ExportSettings,
    mut sources: Vec<NetnsSource>,
    mut log: impl Write + Send + 'static,
) -> Result<(), ExportError> {
    keep_heap_compact();
    let limits = settings.limits;
    let mut journal = Journal::default();
    let collect = move || collect_exposition(&mut sources, &limits, &mut journal, &mut log);
    let scraper = Scraper::start(collect).map_err(ExportError::Thread)?;
    let scraper = Arc::new(scraper);
    let handler = Arc::new(move |head: &RequestHead| respond(head, &scraper));
    server::run(listener, settings.server, handler).map_err(ExportError::Accept)
}

/// Collects once and writes the exposition in the Prometheus text format
/// (for node_exporter's textfile collector, or a look by hand).
pub fn write_once(
    out: &mut dyn Write,
    limits: &Limits,
    mut sources: Vec<NetnsSource>,
    log: &mut dyn Write,
) -> Result<(), ExportError> {
    let exposition = collect_exposition(&mut sources, limits, &mut Journal::default(), log);
    let text = encode(&Arc::new(exposition), Format::Prometheus)
        .map_err(|_| io::Error::other("could not encode the metrics"))?;
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// One collection, timed, as an exposition. The snapshots are dropped here
/// and the freed memory handed back to the system, so the exporter stays
/// small between scrapes.
fn collect_exposition(
    sources: &mut [NetnsSource],
    limits: &Limits,
    journal: &mut Journal,
    log: &mut dyn Write,
) -> Exposition {
    let started = Instant::now();
    let results = collect_all(sources);
    let exposition = metrics::build(&results, started.elapsed(), limits);
    journal.record(&results, log);
    drop(results);
    release_freed_memory();
    exposition
}

/// The exporter lives for months and builds a large snapshot on every
/// scrape: glibc's defaults (an arena per thread, a threshold for mmap that
/// grows to the largest block ever freed) would keep the pages of past
/// snapshots, fragmented, between scrapes. One arena, and blocks of 256 KiB
/// or more (the socket vector, the owner index) in mappings of their own,
/// handed back as soon as they are freed.
#[cfg(target_env = "gnu")]
fn keep_heap_compact() {
    // SAFETY: mallopt only changes allocator tuning; called before the
    // exporter's threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(target_env = "gnu"))]
fn keep_heap_compact() {}

#[cfg(target_env = "gnu")]
fn release_freed_memory() {
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn release_freed_memory() {}

/// What has been logged, so each failure and warning is told once, not on
/// every scrape.
#[derive(Default)]
struct Journal {
    failing: Vec<(String, String)>,
    warned: Vec<(String, WarningKind)>,
}

impl Journal {
    fn record(&mut self, results: &[NetnsResult], log: &mut dyn Write) {
        for r in results {
            let netns = escape::text(&r.labels.netns).into_owned();
            let was = self.failing.iter().position(|(n, _)| *n == r.labels.netns);
            match (&r.snapshot, was) {
                (Err(e), Some(i)) if self.failing[i].1 == *e => {}
                (Err(e), was) => {
                    let _ = writeln!(log, "sockscope: netns {netns}: collection failed: {}", escape::text(e));
                    if let Some(i) = was {
                        self.failing.remove(i);
                    }
                    self.failing.push((r.labels.netns.clone(), e.clone()));
                }
                (Ok(_), Some(i)) => {
                    let _ = writeln!(log, "sockscope: netns {netns}: collected again");
                    self.failing.remove(i);
                }
                (Ok(snapshot), None) => {
                    for w in &snapshot.warnings {
                        let key = (r.labels.netns.clone(), w.kind);
                        if !self.warned.contains(&key) {
                            let _ = writeln!(
                                log,
                                "sockscope: warning: netns {netns}: {}",
                                escape::text(&w.message)
                            );
                            self.warned.push(key);
                        }
                    }
                }
            }
        }
        let _ = log.flush();
    }
}

fn respond(head: &RequestHead, scraper: &Scraper) -> Response {
    if !matches!(head.path.as_str(), "/" | "/metrics") {
        return Response::text(404, "not found: metrics are at /metrics");
    }
    if !matches!(head.method.as_str(), "GET" | "HEAD") {
        return Response::text(405, "only GET and HEAD").with_header("Allow: GET, HEAD");
    }
    match head.path.as_str() {
        "/" => Response::new(
            200,
            "text/html; charset=utf-8",
            LANDING_PAGE.replace("{version}", env!("CARGO_PKG_VERSION")),
        ),
        _ => metrics_response(head, scraper),
    }
}

fn metrics_response(head: &RequestHead, scraper: &Scraper) -> Response {
    let format = Format::negotiate(head.accept.as_deref());
    match encode(&scraper.scrape(), format) {
        Ok(text) => Response::new(200, format.content_type(), text),
        Err(_) => Response::text(500, "could not encode the metrics"),
    }
}

const LANDING_PAGE: &str = "<!DOCTYPE html>
<html><head><meta charset=\"utf-8\"><title>sockscope exporter</title></head>
<body>
<h1>sockscope exporter</h1>
<p>sockscope {version}: per-listener accept queues against their backlogs, TCP socket states,
CLOSE-WAIT and ghost sockets by process, open fds against limits.</p>
<p><a href=\"/metrics\">/metrics</a> (Prometheus text format; OpenMetrics when the scraper asks for it).
Every scrape takes a fresh snapshot.</p>
<p>Metric reference: docs/metrics.md in the sockscope repository.</p>
</body></html>
";
