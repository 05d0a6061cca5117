//! How often a long-running face may collect: never the heaviest process on
//! a sick box.
//!
//! A refresh on a host with a million sockets costs seconds; at the asked
//! interval sockscope would then collect back to back and keep a core busy.
//! The dashboard, `watch` and the exporter therefore wait at least
//! [`STRETCH`] times what the last refresh cost before the next one, which
//! keeps collection under ~20 % of one core at any scale, and show when the
//! interval is stretched. The policy is a pure function of durations, so it
//! is tested without clocks.

use std::time::Duration;

/// The interval is at least this many times the last refresh's cost: the
/// refresh then takes at most 1/STRETCH (20 %) of one core.
pub(crate) const STRETCH: u32 = 5;

/// The interval to wait before the next refresh: the asked interval, or
/// [`STRETCH`] × `cost` when that is longer. `cost` is what the last refresh
/// took: its wall time, or the CPU the process spent in it if more (a
/// parallel scan spends more CPU than wall time).
pub(crate) fn interval(asked: Duration, cost: Duration) -> Duration {
    asked.max(cost.saturating_mul(STRETCH))
}

/// What one refresh cost and what the interval became.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pace {
    /// The interval the user asked for.
    pub asked: Duration,
    /// The interval in force after the last refresh.
    pub effective: Duration,
    /// What the last refresh cost.
    pub cost: Duration,
}

impl Pace {
    /// The pace before any refresh: the asked interval.
    pub(crate) fn new(asked: Duration) -> Pace {
        Pace { asked, effective: asked, cost: Duration::ZERO }
    }

    /// The pace after a refresh that cost `cost`.
    pub(crate) fn after(self, cost: Duration) -> Pace {
        Pace { asked: self.asked, effective: interval(self.asked, cost), cost }
    }

    /// Whether the interval is longer than asked.
    pub(crate) fn is_stretched(&self) -> bool {
        self.effective > self.asked
    }
}

/// The cost of a refresh from its wall time and the process CPU time spent
/// meanwhile (threads included): whichever is larger.
pub(crate) fn cost(wall: Duration, cpu: Duration) -> Duration {
    wall.max(cpu)
}

/// A change worth telling the user about, for faces that print events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PaceChange {
    /// The interval became longer than asked, or moved by more than a
    /// quarter while stretched.
    Stretched(Pace),
    /// The interval is back to the asked one.
    Restored(Pace),
}

/// Compares the pace before and after a refresh. Small moves of a
/// stretched interval are not reported, so a cost that jitters does not
/// print a line per refresh.
pub(crate) fn change(before: Pace, after: Pace) -> Option<PaceChange> {
    match (before.is_stretched(), after.is_stretched()) {
        (false, true) => Some(PaceChange::Stretched(after)),
        (true, false) => Some(PaceChange::Restored(after)),
        (true, true) if moved_by_a_quarter(before.effective, after.effective) => {
            Some(PaceChange::Stretched(after))
        }
        _ => None,
    }
}

fn moved_by_a_quarter(a: Duration, b: Duration) -> bool {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    hi.saturating_sub(lo) * 4 > lo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_cheap_refresh_keeps_the_asked_interval() {
        assert_eq!(interval(ms(1000), ms(12)), ms(1000));
        assert_eq!(interval(ms(1000), ms(200)), ms(1000), "exactly 20 %: not stretched");
    }

    #[test]
    fn an_expensive_refresh_stretches_to_five_times_its_cost() {
        assert_eq!(interval(ms(1000), ms(640)), ms(3200));
        assert_eq!(interval(ms(2000), ms(5400)), ms(27_000));
        assert_eq!(interval(ms(100), Duration::MAX), Duration::MAX, "no overflow");
    }

    #[test]
    fn cost_is_the_larger_of_wall_and_cpu() {
        assert_eq!(cost(ms(300), ms(520)), ms(520), "a parallel scan: CPU above wall");
        assert_eq!(cost(ms(300), ms(90)), ms(300), "waiting on the kernel: wall above CPU");
    }

    #[test]
    fn the_share_of_a_core_stays_under_a_fifth() {
        for cost_ms in [1, 50, 199, 200, 201, 640, 3000, 60_000] {
            let pace = Pace::new(ms(1000)).after(ms(cost_ms));
            let share = ms(cost_ms).as_secs_f64() / pace.effective.as_secs_f64();
            assert!(share <= 0.2 + 1e-9, "{cost_ms} ms: {share}");
        }
    }

    #[test]
    fn changes_are_reported_when_stretching_and_returning_not_on_jitter() {
        let start = Pace::new(ms(1000));
        let slow = start.after(ms(640));
        assert!(slow.is_stretched());
        assert_eq!(change(start, slow), Some(PaceChange::Stretched(slow)));
        let jitter = slow.after(ms(700));
        assert_eq!(change(slow, jitter), None, "3.2 s -> 3.5 s is not news");
        let slower = jitter.after(ms(1500));
        assert_eq!(change(jitter, slower), Some(PaceChange::Stretched(slower)));
        let back = slower.after(ms(30));
        assert!(!back.is_stretched());
        assert_eq!(change(slower, back), Some(PaceChange::Restored(back)));
        assert_eq!(change(back, back.after(ms(40))), None);
    }
}
