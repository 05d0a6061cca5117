//! The limits at which a pattern becomes a finding. Every one is a CLI flag.

/// Thresholds for the snapshot findings.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// `accept_queue_near_full` at this share of the backlog (percent).
    pub near_full_pct: f64,
    /// `syn_queue_pressure` at this share of the listener's own backlog (percent).
    pub syn_queue_pct: f64,
    /// `close_wait` is a warning from this many sockets per process, critical
    /// from ten times as many, info below.
    pub close_wait: u32,
    /// `time_wait_buildup` when TIME-WAIT towards one destination uses this
    /// share of the ephemeral port range (percent); critical from 90 %,
    /// information where `tcp_tw_reuse` covers the destination.
    pub time_wait_pct: f64,
    /// `time_wait_buildup` (host) when all TIME-WAIT reach this share of
    /// `tcp_max_tw_buckets` (percent).
    pub tw_buckets_pct: f64,
    /// `fd_exhaustion_risk` at this share of RLIMIT_NOFILE (percent);
    /// critical from 95 % (or this, if higher) and at the limit.
    pub fd_pct: f64,
    /// `syn_sent_pileup` from this many SYN-SENT sockets towards one destination.
    pub syn_sent: u32,
}

impl Thresholds {
    /// The defaults every face starts from (and the CLI shows in `--help`).
    pub const DEFAULT: Thresholds = Thresholds {
        near_full_pct: 80.0,
        syn_queue_pct: 80.0,
        close_wait: 10,
        time_wait_pct: 50.0,
        tw_buckets_pct: 80.0,
        fd_pct: 80.0,
        syn_sent: 10,
    };
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds::DEFAULT
    }
}
