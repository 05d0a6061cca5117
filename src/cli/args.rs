//! Command-line arguments, turned once into typed, validated settings.
//!
//! Every value is checked here (ports, pids, state names, percentages), so a
//! bad value is one clear line and exit status 2 before anything is
//! collected. Parsing does no I/O: `--netns` is resolved when the command
//! runs ([`super::run`]). Defaults come from [`super::defaults`].

use clap::{Args, Parser, Subcommand, ValueEnum};
use sockscope::analyze::Severity;
use sockscope::analyze::Thresholds;
use sockscope::analyze::leaks::LeakThresholds;
use sockscope::model::{Selection, StateSet};
use sockscope::output::style::ColorChoice;
use sockscope::watch::FailOn;

use super::defaults;

#[derive(Parser, Debug)]
#[command(
    name = "sockscope",
    version,
    about = "Inspect Linux sockets: full accept queues, CLOSE-WAIT leaks, TIME-WAIT buildup, fds against limits",
    long_about = "sockscope reads the kernel's socket tables through sock_diag netlink, joins every socket to \
                  the processes holding it, and judges queues and states against the sysctls that govern them.\n\n\
                  Without a subcommand it opens the dashboard on a terminal, and prints the `dump` report otherwise.",
    after_help = "Exit status: 0 ok, 1 runtime error, 2 bad arguments, 3 a finding at or above --fail-on.\n\
                  Run as root to see the owners of every process's sockets."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the governing sysctls, findings, listeners and sockets per process, once
    Dump(DumpArgs),
    /// Interactive dashboard (the default on a terminal)
    Tui(TuiArgs),
    /// Follow sockets and fds over time: what grows, what leaks, when it falls over
    Watch(WatchArgs),
    /// Serve Prometheus metrics: accept queues per listener, socket states, CLOSE-WAIT and fds per process
    Export(ExportArgs),
    /// Print the manual page (roff) on stdout: sockscope man | man -l -
    Man,
    /// Print shell completions on stdout, e.g. sockscope completions bash > /etc/bash_completion.d/sockscope
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: super::docs::CompletionShell,
    },
}

#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Metrics: /metrics (Prometheus text format, or OpenMetrics when asked); every metric is \
                        described in docs/metrics.md. Each scrape takes a fresh snapshot; scrapes arriving \
                        together share one."
)]
pub struct ExportArgs {
    /// Serve on this address; the default is loopback only (0.0.0.0:PORT serves every interface)
    #[arg(long, value_name = "ADDR:PORT", default_value = sockscope::export::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// Write one exposition (Prometheus text format) to stdout and exit, e.g. for node_exporter's textfile collector
    #[arg(long, conflicts_with = "listen")]
    pub once: bool,
    /// Inspect another network namespace: a name from `ip netns`, a pid (its namespace), or a path
    #[arg(long, value_name = "NAME|PID|PATH", allow_negative_numbers = true)]
    pub netns: Option<String>,
    /// Export every network namespace on the host, each labelled with its name, pod and container (needs root)
    #[arg(short = 'A', long, conflicts_with = "netns")]
    pub all_netns: bool,
    /// Per-process metrics keep at most N process names per namespace (the rest are added up as "(other)")
    #[arg(long, value_name = "N", default_value = "100", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_processes: u32,
    /// Serve at most N connections at once; more are answered 503
    #[arg(long, value_name = "N", default_value = "16", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_connections: u32,
    /// Time a client has to send its request, and again to read the response
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Time between samples: 2s, 500ms, 1m (at least 100ms)
    #[arg(long, value_name = "DURATION", default_value = defaults::WATCH_INTERVAL, value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Stop after N intervals (each counts, even one whose collection failed)
    #[arg(long, value_name = "N", value_parser = sample_count, allow_negative_numbers = true)]
    pub count: Option<u64>,
    /// Stop after this long: 60s, 5m
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Judge trends (leaks, rates) over this much history
    #[arg(long, value_name = "DURATION", default_value = defaults::WINDOW, value_parser = parse_duration)]
    pub window: std::time::Duration,
    /// close_wait_leak from this much CLOSE-WAIT growth across the window
    #[arg(long, value_name = "N", default_value_t = defaults::LEAKS.close_wait_growth, value_parser = at_least_one)]
    pub cw_growth: u32,
    /// fd_leak from this much fd growth across the window
    #[arg(long, value_name = "N", default_value_t = defaults::LEAKS.fd_growth, value_parser = at_least_one)]
    pub fd_growth: u32,
    /// Print one NDJSON event per line (schema: docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Print "no change" after N quiet intervals (0: never)
    #[arg(long, value_name = "N", default_value_t = defaults::HEARTBEAT)]
    pub heartbeat: u32,
    /// Exit with status 3 if a leak (close_wait_leak, fd_leak, ghost_sockets), or a finding of this severity, fired
    #[arg(long, value_name = "LEVEL", value_parser = fail_on_levels(), ignore_case = true)]
    pub fail_on: Option<FailOn>,
    /// Colour: auto (only on a terminal), always, never. NO_COLOR always wins
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorArg,
}

#[derive(Args, Debug, Clone)]
pub struct TuiArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Time between snapshots: 1s, 500ms, 2m (at least 100ms)
    #[arg(long, value_name = "DURATION", default_value = defaults::TUI_INTERVAL, value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Colour: auto (only on a terminal), always, never. NO_COLOR always wins
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorArg,
    /// On exit, write the timings of every refresh (collection wall and CPU ms) and of every frame drawn
    /// (ms) as one JSON object to FILE: {"ticks": [{"wall_ms", "cpu_ms"}], "frames_ms": [...]}
    #[arg(long, value_name = "FILE")]
    pub stats: Option<std::path::PathBuf>,
}

impl Default for TuiArgs {
    fn default() -> TuiArgs {
        TuiArgs {
            select: SelectArgs::default(),
            thresholds: ThresholdArgs::from(&defaults::THRESHOLDS),
            interval: defaults::tui_interval(),
            color: ColorArg::Auto,
            stats: None,
        }
    }
}

/// Parses `1s`, `500ms`, `2m`, `1.5s`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 =
        number.parse().map_err(|_| format!("'{text}' is not a duration (e.g. 1s, 500ms, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit '{other}' in '{text}' (use ms, s, m or h)")),
    };
    match seconds.is_finite() && seconds > 0.0 && seconds < 1e9 {
        true => Ok(std::time::Duration::from_secs_f64(seconds)),
        false => Err(format!("'{text}' is not a positive duration")),
    }
}

pub fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(text)?;
    match d >= std::time::Duration::from_millis(100) {
        true => Ok(d),
        false => Err("the interval must be at least 100ms".to_string()),
    }
}

/// Which sockets to look at.
#[derive(Args, Debug, Clone, Default)]
pub struct SelectArgs {
    /// TCP sockets (default: TCP, UDP and UNIX)
    #[arg(short = 't', long)]
    pub tcp: bool,
    /// UDP sockets
    #[arg(short = 'u', long)]
    pub udp: bool,
    /// UNIX sockets
    #[arg(short = 'x', long)]
    pub unix: bool,
    /// Only listeners: TCP and UNIX LISTEN, unconnected UDP
    #[arg(short = 'l', long, conflicts_with = "state")]
    pub listening: bool,
    /// Only these states, comma-separated: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2,
    /// time-wait, close-wait, last-ack, listen, closing, unconn; groups connected, synchronized,
    /// bucket, big, all
    #[arg(long, value_name = "LIST", value_parser = StateSet::parse_list)]
    pub state: Option<StateSet>,
    /// Only sockets with this port at either end
    #[arg(long, value_name = "PORT", value_parser = port_number, allow_negative_numbers = true)]
    pub port: Option<u16>,
    /// Only sockets held by this process id (in its own network namespace, e.g. a container's)
    #[arg(long, value_name = "PID", value_parser = process_id, allow_negative_numbers = true)]
    pub pid: Option<u32>,
    /// Only sockets held by processes whose name (comm) contains NAME
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    pub process: Option<String>,
    /// Inspect another network namespace: a name from `ip netns`, a pid (its namespace), or a path
    #[arg(long, value_name = "NAME|PID|PATH", allow_negative_numbers = true)]
    pub netns: Option<String>,
    /// Inspect every network namespace on the host, each labelled with its container and pod (needs root)
    #[arg(short = 'A', long, conflicts_with = "netns")]
    pub all_netns: bool,
}

/// When a pattern becomes a finding.
#[derive(Args, Debug, Clone)]
pub struct ThresholdArgs {
    /// accept_queue_near_full from this share of the backlog, in percent
    #[arg(long, value_name = "PCT", default_value_t = defaults::THRESHOLDS.near_full_pct, value_parser = percent)]
    pub near_full: f64,
    /// syn_queue_pressure from this share of the listener's own backlog (its Send-Q), in percent
    #[arg(long, value_name = "PCT", default_value_t = defaults::THRESHOLDS.syn_queue_pct, value_parser = percent)]
    pub syn_queue: f64,
    /// close_wait is a warning from N sockets per process (critical from 10 x N, info below)
    #[arg(long, value_name = "N", default_value_t = defaults::THRESHOLDS.close_wait, value_parser = at_least_one)]
    pub close_wait: u32,
    /// time_wait_buildup when TIME-WAIT towards one destination pins this share of the ephemeral ports, in percent
    #[arg(long, value_name = "PCT", default_value_t = defaults::THRESHOLDS.time_wait_pct, value_parser = percent)]
    pub time_wait: f64,
    /// time_wait_buildup when all TIME-WAIT reach this share of tcp_max_tw_buckets, in percent
    #[arg(long, value_name = "PCT", default_value_t = defaults::THRESHOLDS.tw_buckets_pct, value_parser = percent)]
    pub tw_buckets: f64,
    /// fd_exhaustion_risk from this share of RLIMIT_NOFILE, in percent
    #[arg(long, value_name = "PCT", default_value_t = defaults::THRESHOLDS.fd_pct, value_parser = percent)]
    pub fd_usage: f64,
    /// syn_sent_pileup from N SYN-SENT sockets towards one destination
    #[arg(long, value_name = "N", default_value_t = defaults::THRESHOLDS.syn_sent, value_parser = at_least_one)]
    pub syn_sent: u32,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug, Clone)]
pub struct DumpArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Print one JSON document (schema: docs/json.md) instead of the report
    #[arg(long, conflicts_with = "sockets")]
    pub json: bool,
    /// List every selected socket, one line each, like ss
    #[arg(long)]
    pub sockets: bool,
    /// Also fetch tcp_info (rtt, cwnd, retransmits, bytes) and socket memory for every TCP socket, like ss -im
    #[arg(short = 'i', long)]
    pub info: bool,
    /// Exit with status 3 if a finding of this severity or worse exists
    #[arg(long, value_name = "SEVERITY", value_parser = severities(), ignore_case = true)]
    pub fail_on: Option<Severity>,
    /// Read each process's command line (JSON `processes[].cmdline`)
    #[arg(long)]
    pub cmdline: bool,
    /// Colour: auto (only on a terminal), always, never. NO_COLOR always wins
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorArg,
}

impl Default for DumpArgs {
    fn default() -> DumpArgs {
        DumpArgs {
            select: SelectArgs::default(),
            thresholds: ThresholdArgs::from(&defaults::THRESHOLDS),
            json: false,
            sockets: false,
            info: false,
            fail_on: None,
            cmdline: false,
            color: ColorArg::Auto,
        }
    }
}

fn non_empty(text: &str) -> Result<String, String> {
    match text.trim() {
        "" => Err("must not be empty".to_string()),
        t => Ok(t.to_string()),
    }
}

/// A process id: a whole number from 1.
pub fn process_id(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err("not a process id (a whole number from 1)".to_string()),
    }
}

/// `--port`: a port a socket can have at either end (0 is no port: an
/// unbound end, which every filter on a port would mismatch).
pub fn port_number(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err("not a port number (a whole number from 1 to 65535)".to_string()),
    }
}

/// `dump --fail-on`: a severity, its values listed for `--help` and completions.
fn severities() -> impl clap::builder::TypedValueParser<Value = Severity> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("info"),
        PossibleValue::new("warning").alias("warn"),
        PossibleValue::new("critical").alias("crit"),
    ])
    .try_map(|text| Severity::parse(&text))
}

/// `watch --fail-on`: a leak, or a severity worth failing a run for.
fn fail_on_levels() -> impl clap::builder::TypedValueParser<Value = FailOn> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("leak").alias("leaks"),
        PossibleValue::new("warning").alias("warn"),
        PossibleValue::new("critical").alias("crit"),
    ])
    .try_map(|text| FailOn::parse(&text))
}

/// `--count`: how many samples to take, at least one.
pub fn sample_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        Ok(_) => Err("take at least 1 sample (leave --count out to run until stopped)".to_string()),
        Err(_) => Err("not a number of samples (a whole number from 1)".to_string()),
    }
}

/// A threshold count: a whole number from 1.
pub fn at_least_one(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number from 1".to_string()),
    }
}

pub fn percent(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim_end_matches('%').parse().map_err(|_| format!("'{text}' is not a number"))?;
    match value > 0.0 && value <= 100.0 {
        true => Ok(value),
        false => Err(format!("{value} is not a percentage in (0, 100]")),
    }
}

impl SelectArgs {
    /// The validated selection (protocols default to all three).
    pub fn selection(&self) -> Selection {
        let none = !(self.tcp || self.udp || self.unix);
        Selection {
            tcp: self.tcp || none,
            udp: self.udp || none,
            unix: self.unix || none,
            listening: self.listening,
            states: self.state,
            port: self.port,
            pid: self.pid,
            process: self.process.clone(),
        }
    }
}

impl WatchArgs {
    /// The leak thresholds these flags set.
    pub fn leak_thresholds(&self) -> LeakThresholds {
        LeakThresholds {
            window: self.window,
            close_wait_growth: self.cw_growth,
            fd_growth: self.fd_growth,
            time_wait_pct: self.thresholds.time_wait,
            ..defaults::LEAKS
        }
    }
}

impl From<&ThresholdArgs> for Thresholds {
    fn from(a: &ThresholdArgs) -> Thresholds {
        Thresholds {
            near_full_pct: a.near_full,
            syn_queue_pct: a.syn_queue,
            close_wait: a.close_wait,
            time_wait_pct: a.time_wait,
            tw_buckets_pct: a.tw_buckets,
            fd_pct: a.fd_usage,
            syn_sent: a.syn_sent,
        }
    }
}

impl From<&Thresholds> for ThresholdArgs {
    fn from(t: &Thresholds) -> ThresholdArgs {
        ThresholdArgs {
            near_full: t.near_full_pct,
            syn_queue: t.syn_queue_pct,
            close_wait: t.close_wait,
            time_wait: t.time_wait_pct,
            tw_buckets: t.tw_buckets_pct,
            fd_usage: t.fd_pct,
            syn_sent: t.syn_sent,
        }
    }
}

impl From<ColorArg> for ColorChoice {
    fn from(c: ColorArg) -> ColorChoice {
        match c {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
    }
}

/// One line for a clap error: the `error:` line plus any `tip:`.
pub fn one_line_error(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let mut said: Vec<String> = Vec::new();
    let mut in_error = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(first) = trimmed.strip_prefix("error: ") {
            said.push(first.to_string());
            in_error = true;
        } else if trimmed.starts_with("tip:") {
            said.push(trimmed.to_string());
            in_error = false;
        } else if trimmed.is_empty() || trimmed.starts_with("Usage:") {
            in_error = false;
        } else if in_error && let Some(last) = said.last_mut() {
            // What clap indents under the error: the missing argument, the
            // accepted values.
            last.push(' ');
            last.push_str(trimmed);
        }
    }
    match said.is_empty() {
        true => "invalid arguments (see --help)".to_string(),
        false => format!("{} (see --help)", said.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_values_become_one_line() {
        let err = Cli::try_parse_from(["sockscope", "dump", "--port", "http"]).unwrap_err();
        let line = one_line_error(&err);
        assert!(line.contains("--port"), "{line}");
        assert!(!line.contains('\n'));
        let err = Cli::try_parse_from(["sockscope", "dump", "--stat", "listen"]).unwrap_err();
        assert!(one_line_error(&err).contains("tip:"));
        for (args, expect) in [
            (&["sockscope", "completions"][..], "not provided: <SHELL>"),
            (&["sockscope", "completions", "powershell"][..], "[possible values: bash, zsh, fish]"),
            (&["sockscope", "dump", "--color", "sometimes"][..], "[possible values: auto, always, never]"),
            (&["sockscope", "dump", "--color"][..], "[possible values: auto, always, never]"),
        ] {
            let line = one_line_error(&Cli::try_parse_from(args).unwrap_err());
            assert!(line.contains(expect) && !line.contains("Usage"), "{args:?}: {line}");
        }
    }

    #[test]
    fn negative_and_zero_numbers_get_a_sentence_not_a_range() {
        for (args, expect) in [
            (&["sockscope", "dump", "--pid", "-1"][..], "'-1' for '--pid <PID>': not a process id"),
            (&["sockscope", "dump", "--pid", "0"][..], "not a process id (a whole number from 1)"),
            (&["sockscope", "watch", "--count", "0"][..], "take at least 1 sample"),
            (&["sockscope", "watch", "--fail-on", "info"][..], "[possible values: leak, warning, critical]"),
            (&["sockscope", "dump", "--fail-on", "bad"][..], "[possible values: info, warning, critical]"),
            (&["sockscope", "dump", "--port", "0"][..], "not a port number (a whole number from 1 to 65535)"),
            (&["sockscope", "dump", "--port", "70000"][..], "not a port number"),
            (&["sockscope", "watch", "--port", "-80"][..], "not a port number"),
            (&["sockscope", "watch", "--count", "-2"][..], "not a number of samples"),
            (&["sockscope", "watch", "--cw-growth", "0"][..], "must be a whole number from 1"),
        ] {
            let line = one_line_error(&Cli::try_parse_from(args).unwrap_err());
            assert!(line.contains(expect), "{args:?}: {line}");
            assert!(!line.contains("..") && !line.contains("unexpected argument"), "{line}");
        }
        let parsed = Cli::try_parse_from(["sockscope", "dump", "--netns", "-5"]).unwrap();
        let Some(Command::Dump(dump)) = parsed.command else { panic!("dump") };
        assert_eq!(dump.select.netns.as_deref(), Some("-5"), "reaches the --netns check");
        let parsed = Cli::try_parse_from(["sockscope", "export", "--netns", "-1"]).unwrap();
        let Some(Command::Export(export)) = parsed.command else { panic!("export") };
        assert_eq!(export.netns.as_deref(), Some("-1"), "export's --netns reaches the same check");
    }

    #[test]
    fn durations_parse_with_units() {
        use std::time::Duration;
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_interval("10ms").is_err());
    }

    #[test]
    fn percentages_are_bounded() {
        assert_eq!(percent("80%"), Ok(80.0));
        assert!(percent("0").is_err());
        assert!(percent("101").is_err());
        assert!(percent("x").is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn any_text_is_a_bounded_duration_or_an_error(text in "\\PC{0,24}|[0-9.]{1,12}(ms|s|m|h|min|sec)?") {
                if let Ok(d) = parse_duration(&text) {
                    prop_assert!(d > std::time::Duration::ZERO && d.as_secs_f64() < 1e9);
                }
                if let Ok(d) = parse_interval(&text) {
                    prop_assert!(d >= std::time::Duration::from_millis(100));
                }
            }

            #[test]
            fn whole_seconds_read_back(n in 1u64..1_000_000) {
                prop_assert_eq!(parse_duration(&format!("{n}s")), Ok(std::time::Duration::from_secs(n)));
                prop_assert_eq!(parse_duration(&format!("{n}ms")), Ok(std::time::Duration::from_millis(n)));
            }

            #[test]
            fn numbers_are_in_range_or_refused(text in "\\PC{0,12}|[-+]?[0-9]{1,22}%?") {
                if let Ok(p) = percent(&text) {
                    prop_assert!(p > 0.0 && p <= 100.0);
                }
                prop_assert!(process_id(&text).is_ok_and(|p| p > 0) || process_id(&text).is_err());
                prop_assert!(sample_count(&text).is_ok_and(|n| n > 0) || sample_count(&text).is_err());
                prop_assert!(at_least_one(&text).is_ok_and(|n| n > 0) || at_least_one(&text).is_err());
            }
        }
    }
}
