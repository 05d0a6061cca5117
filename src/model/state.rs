//! Socket states with the kernel's numbering and `ss`'s spelling.
//!
//! The kernel numbers states 1..=12 (`TCP_ESTABLISHED` .. `TCP_NEW_SYN_RECV`) and
//! filters dumps with a bitmask of `1 << state`; [`StateSet`] is that bitmask, so
//! what the user asks for with `--state` or `-l` is exactly what the kernel is
//! asked to send.

use std::fmt;

use serde::{Serialize, Serializer};

/// A socket state. UDP and UNIX sockets reuse the TCP numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    /// `TCP_CLOSE`: unconnected UDP/UNIX sockets, closed TCP sockets.
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
    BoundInactive,
    Unknown(u8),
}

/// Every known state, in kernel order; used for summaries and name parsing.
pub const ALL_STATES: [State; 13] = [
    State::Established,
    State::SynSent,
    State::SynRecv,
    State::FinWait1,
    State::FinWait2,
    State::TimeWait,
    State::Close,
    State::CloseWait,
    State::LastAck,
    State::Listen,
    State::Closing,
    State::NewSynRecv,
    State::BoundInactive,
];

impl State {
    pub fn from_kernel(code: u8) -> State {
        ALL_STATES.iter().copied().find(|s| s.kernel_code() == code).unwrap_or(State::Unknown(code))
    }

    pub fn kernel_code(self) -> u8 {
        match self {
            State::Established => 1,
            State::SynSent => 2,
            State::SynRecv => 3,
            State::FinWait1 => 4,
            State::FinWait2 => 5,
            State::TimeWait => 6,
            State::Close => 7,
            State::CloseWait => 8,
            State::LastAck => 9,
            State::Listen => 10,
            State::Closing => 11,
            State::NewSynRecv => 12,
            State::BoundInactive => 13,
            State::Unknown(code) => code,
        }
    }

    /// The name `ss` prints in its `State` column.
    pub fn ss_name(self) -> &'static str {
        match self {
            State::Established => "ESTAB",
            State::SynSent => "SYN-SENT",
            State::SynRecv => "SYN-RECV",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Close => "UNCONN",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
            State::NewSynRecv => "NEW-SYN-RECV",
            State::BoundInactive => "BOUND-INACTIVE",
            State::Unknown(_) => "UNKNOWN",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ss_name())
    }
}

impl Serialize for State {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.ss_name())
    }
}

/// A set of states as the kernel's dump filter bitmask (`1 << state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateSet(u32);

impl StateSet {
    pub const ALL: StateSet = StateSet(u32::MAX);
    pub const EMPTY: StateSet = StateSet(0);

    pub fn of(states: &[State]) -> StateSet {
        states.iter().fold(StateSet::EMPTY, |set, s| set.with(*s))
    }

    pub fn with(self, state: State) -> StateSet {
        StateSet(self.0 | bit(state))
    }

    pub fn without(self, state: State) -> StateSet {
        StateSet(self.0 & !bit(state))
    }

    pub fn union(self, other: StateSet) -> StateSet {
        StateSet(self.0 | other.0)
    }

    pub fn contains(self, state: State) -> bool {
        self.0 & bit(state) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn bits(self) -> u32 {
        self.0
    }

    /// Parses a comma-separated list of `ss` state names and groups.
    pub fn parse_list(list: &str) -> Result<StateSet, String> {
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .try_fold(StateSet::EMPTY, |set, name| parse_name(name).map(|more| set.union(more)))
            .and_then(|set| match set.is_empty() {
                true => Err("empty state list".to_string()),
                false => Ok(set),
            })
    }
}

fn bit(state: State) -> u32 {
    1u32.checked_shl(u32::from(state.kernel_code())).unwrap_or(0)
}

/// Accepted names: every `ss` state name, with `-` or `_`, any case, plus the
/// `ss` groups `all`, `connected`, `synchronized`, `bucket` and `big`.
fn parse_name(name: &str) -> Result<StateSet, String> {
    let key = name.to_ascii_lowercase().replace('_', "-");
    let single = |s| Ok(StateSet::of(&[s]));
    match key.as_str() {
        "established" | "estab" => single(State::Established),
        "syn-sent" => single(State::SynSent),
        "syn-recv" | "syn-received" => single(State::SynRecv),
        "fin-wait-1" | "fin-wait1" => single(State::FinWait1),
        "fin-wait-2" | "fin-wait2" => single(State::FinWait2),
        "time-wait" => single(State::TimeWait),
        "close" | "closed" | "unconn" => single(State::Close),
        "close-wait" => single(State::CloseWait),
        "last-ack" => single(State::LastAck),
        "listen" | "listening" => single(State::Listen),
        "closing" => single(State::Closing),
        "all" => Ok(StateSet::ALL),
        "connected" => Ok(connected()),
        "synchronized" => Ok(synchronized()),
        "bucket" => Ok(StateSet::of(&[State::SynRecv, State::TimeWait])),
        "big" => Ok(big()),
        _ => Err(format!(
            "unknown state '{name}' (expected e.g. listen, established, close-wait, time-wait, syn-sent, connected, all)"
        )),
    }
}

fn connected() -> StateSet {
    StateSet::of(&[
        State::Established,
        State::SynSent,
        State::SynRecv,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::CloseWait,
        State::LastAck,
        State::Closing,
    ])
}

fn synchronized() -> StateSet {
    StateSet(connected().0 & !bit(State::SynSent))
}

fn big() -> StateSet {
    StateSet(StateSet::ALL.0 & !bit(State::SynRecv) & !bit(State::TimeWait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_codes_round_trip() {
        for state in ALL_STATES {
            assert_eq!(State::from_kernel(state.kernel_code()), state);
        }
        assert_eq!(State::from_kernel(99), State::Unknown(99));
    }

    #[test]
    fn parses_ss_names_in_any_spelling() {
        let set = StateSet::parse_list("LISTEN, close_wait,Time-Wait").unwrap();
        assert!(set.contains(State::Listen));
        assert!(set.contains(State::CloseWait));
        assert!(set.contains(State::TimeWait));
        assert!(!set.contains(State::Established));
        assert_eq!(set.bits(), (1 << 10) | (1 << 8) | (1 << 6));
    }

    #[test]
    fn groups_expand_like_ss() {
        let set = StateSet::parse_list("connected").unwrap();
        assert!(set.contains(State::CloseWait));
        assert!(!set.contains(State::Listen));
        assert!(!set.contains(State::Close));
        let sync = StateSet::parse_list("synchronized").unwrap();
        assert!(!sync.contains(State::SynSent));
    }

    #[test]
    fn rejects_unknown_and_empty_lists() {
        assert!(StateSet::parse_list("establishd").is_err());
        assert!(StateSet::parse_list(" , ").is_err());
    }
}
