//! Property tests of the parsers outside `collect`: sysctl values, state
//! lists, severities, and the escaping every untrusted string goes through
//! before it reaches a terminal.

use proptest::prelude::*;

use crate::analyze::Severity;
use crate::model::{StateSet, SysctlValue};
use crate::output::escape;
use crate::watch::FailOn;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() }
}

const STATE_NAMES: [&str; 16] = [
    "established",
    "syn-sent",
    "syn-recv",
    "fin-wait-1",
    "fin-wait-2",
    "time-wait",
    "close",
    "close-wait",
    "last-ack",
    "listen",
    "closing",
    "all",
    "connected",
    "synchronized",
    "bucket",
    "big",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sysctl_text_of_numbers_reads_back(values in prop::collection::vec(any::<i64>(), 1..6), sep in "[ \t]{1,3}") {
        let text: Vec<String> = values.iter().map(i64::to_string).collect();
        let parsed = SysctlValue::parse(&format!("{}\n", text.join(&sep)));
        match values.len() {
            1 => prop_assert_eq!(parsed, SysctlValue::Int(values[0])),
            _ => prop_assert_eq!(parsed, SysctlValue::Ints(values)),
        }
    }

    #[test]
    fn any_sysctl_text_parses_to_at_most_its_words(text in "\\PC{0,200}") {
        match SysctlValue::parse(&text) {
            SysctlValue::Ints(v) => prop_assert!(v.len() <= text.split_whitespace().count()),
            SysctlValue::Text(t) => prop_assert!(t.len() <= text.len()),
            SysctlValue::Int(_) => {}
        }
    }

    #[test]
    fn state_lists_are_the_union_of_their_names(
        picks in prop::collection::vec(0..STATE_NAMES.len(), 1..6), upper in any::<bool>()
    ) {
        let names: Vec<String> = picks
            .iter()
            .map(|&i| if upper { STATE_NAMES[i].to_uppercase().replace('-', "_") } else { STATE_NAMES[i].to_string() })
            .collect();
        let set = StateSet::parse_list(&names.join(",")).expect("known names");
        let union = picks.iter().fold(StateSet::EMPTY, |acc, &i| acc.union(StateSet::parse_list(STATE_NAMES[i]).unwrap()));
        prop_assert_eq!(set, union);
    }

    #[test]
    fn any_state_list_or_severity_parses_or_errs(text in "\\PC{0,60}") {
        let _ = StateSet::parse_list(&text);
        let _ = Severity::parse(&text);
        let _ = FailOn::parse(&text);
    }

    #[test]
    fn escaped_text_has_no_control_characters(text in "\\PC{0,40}|[\\x00-\\x1f\\x7f-\\u{9f}a\\\\]{0,40}") {
        let escaped = escape::text(&text);
        prop_assert!(!escaped.chars().any(char::is_control), "{:?}", escaped);
        prop_assert!(escaped.len() <= text.len() * 8 + 8);
    }

    #[test]
    fn escaped_bytes_are_printable(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let escaped = escape::bytes(&bytes);
        prop_assert!(!escaped.chars().any(char::is_control), "{:?}", escaped);
        prop_assert!(escaped.len() <= bytes.len() * 4);
    }
}
