//! UTC timestamps in RFC 3339 without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-11-21T10:32:01Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2026-11-21T10:32:01.250Z`: to the millisecond, for events whose
/// times are compared with each other (rates between watch samples).
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    let millis = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_millis());
    let seconds = rfc3339(t);
    format!("{}.{millis:03}Z", seconds.trim_end_matches('Z'))
}

/// An interval as the user would type it: `2s`, `500ms`.
pub(crate) fn human_duration(d: std::time::Duration) -> String {
    match d.as_millis() {
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// A measured duration, short: `640 ms`, `3.2 s`, `27 s`.
pub(crate) fn short_duration(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    match ms {
        ms if ms < 1000.0 => format!("{ms:.0} ms"),
        ms if ms < 10_000.0 => format!("{:.1} s", ms / 1000.0),
        ms => format!("{:.0} s", ms / 1000.0),
    }
}

/// An interval that may have been stretched: like [`human_duration`], with
/// one decimal for fractions of a second above one second (`3.2s`).
pub(crate) fn interval_text(d: std::time::Duration) -> String {
    match d.as_millis() {
        ms if ms >= 1000 && ms % 1000 != 0 => format!("{:.1}s", d.as_secs_f64()),
        _ => human_duration(d),
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_256_321)), "2026-11-21T10:18:41Z");
    }

    #[test]
    fn milliseconds_when_asked() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_256_321_007);
        assert_eq!(rfc3339_millis(t), "2026-11-21T10:18:41.007Z");
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(Duration::from_millis(640)), "640 ms");
        assert_eq!(short_duration(Duration::from_millis(3240)), "3.2 s");
        assert_eq!(short_duration(Duration::from_secs(27)), "27 s");
        assert_eq!(interval_text(Duration::from_millis(3200)), "3.2s");
        assert_eq!(interval_text(Duration::from_secs(2)), "2s");
        assert_eq!(interval_text(Duration::from_millis(500)), "500ms");
    }
}
