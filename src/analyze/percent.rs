//! Percentages as evidence and messages show them.

/// Rounds a percentage to one decimal for evidence and messages.
pub(super) fn pct(part: f64, whole: f64) -> f64 {
    if whole <= 0.0 {
        return 0.0;
    }
    (part * 1000.0 / whole).round() / 10.0
}
