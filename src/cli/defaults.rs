//! One place for the command line's defaults, shared by dump, watch and the
//! dashboard: the thresholds come from the library's own defaults, so
//! `--help`, the faces and the tests never disagree.

use std::time::Duration;

use sockscope::analyze::Thresholds;
use sockscope::analyze::leaks::LeakThresholds;

/// Finding thresholds (`--near-full`, `--close-wait`, ...).
pub const THRESHOLDS: Thresholds = Thresholds::DEFAULT;
/// Leak judgement (`--window`, `--cw-growth`, `--fd-growth`).
pub const LEAKS: LeakThresholds = LeakThresholds::DEFAULT;
/// The dashboard's refresh interval.
pub const TUI_INTERVAL: &str = "1s";
/// Watch mode's sampling interval.
pub const WATCH_INTERVAL: &str = "2s";
/// Watch mode's trend window, as typed (equals `LEAKS.window`).
pub const WINDOW: &str = "60s";
/// Quiet intervals before watch prints "no change".
pub const HEARTBEAT: u32 = 10;

/// [`TUI_INTERVAL`] as a duration.
pub fn tui_interval() -> Duration {
    Duration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::parse_duration;

    #[test]
    fn typed_defaults_match_their_durations() {
        assert_eq!(parse_duration(WINDOW), Ok(LEAKS.window));
        assert_eq!(parse_duration(TUI_INTERVAL), Ok(tui_interval()));
        assert!(parse_duration(WATCH_INTERVAL).is_ok());
    }
}
