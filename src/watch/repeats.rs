//! Warnings that repeat every interval, said once a minute.
//!
//! A watch that cannot collect (its namespace was deleted, `/proc` is out of
//! reach) or whose snapshots carry the same warning each time would print
//! the same line every interval for as long as it runs. Each kind of warning
//! is printed the first time, then at most once per `every`, saying how many
//! were held back; whatever was held back at the end is counted then.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One kind of repeated warning.
struct Seen {
    last_said: Instant,
    held_back: u64,
    latest: String,
}

pub(super) struct Repeats {
    every: Duration,
    seen: HashMap<String, Seen>,
}

impl Repeats {
    pub(super) fn new(every: Duration) -> Repeats {
        Repeats { every, seen: HashMap::new() }
    }

    /// The line to print for `message` (of kind `key`) now, if any.
    pub(super) fn admit(&mut self, key: &str, message: &str, now: Instant) -> Option<String> {
        let Some(seen) = self.seen.get_mut(key) else {
            let first = Seen { last_said: now, held_back: 0, latest: message.to_string() };
            self.seen.insert(key.to_string(), first);
            return Some(message.to_string());
        };
        seen.latest = message.to_string();
        if now.duration_since(seen.last_said) < self.every {
            seen.held_back += 1;
            return None;
        }
        let line = with_count(message, std::mem::take(&mut seen.held_back), "since it was last shown");
        seen.last_said = now;
        Some(line)
    }

    /// Lines for what was held back since it was last printed.
    pub(super) fn finish(&mut self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .seen
            .values_mut()
            .filter(|s| s.held_back > 0)
            .map(|s| with_count(&s.latest, std::mem::take(&mut s.held_back), "not shown"))
            .collect();
        lines.sort();
        lines
    }
}

fn with_count(message: &str, held_back: u64, how: &str) -> String {
    match held_back {
        0 => message.to_string(),
        1 => format!("{message} (repeated once more, {how})"),
        n => format!("{message} (repeated {n} more times, {how})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_warning_is_said_once_then_counted() {
        let t0 = Instant::now();
        let mut r = Repeats::new(Duration::from_secs(60));
        assert_eq!(r.admit("k", "gone", t0).as_deref(), Some("gone"));
        for i in 1..=9 {
            assert_eq!(r.admit("k", "gone", t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(r.admit("other", "else", t0).as_deref(), Some("else"), "kinds are limited apart");
        assert_eq!(r.finish(), vec!["gone (repeated 9 more times, not shown)".to_string()]);
        assert!(r.finish().is_empty(), "counted once");
    }

    #[test]
    fn after_the_quiet_period_it_is_said_again_with_the_count() {
        let t0 = Instant::now();
        let mut r = Repeats::new(Duration::from_secs(60));
        r.admit("k", "gone", t0);
        r.admit("k", "gone", t0 + Duration::from_secs(30));
        let again = r.admit("k", "gone", t0 + Duration::from_secs(61));
        assert_eq!(again.as_deref(), Some("gone (repeated once more, since it was last shown)"));
        assert!(r.finish().is_empty());
    }
}
