//! Property tests of every decoder and parser of kernel and `/proc` bytes:
//! random bytes, truncated and oversized netlink attributes, hostile text.
//! Whatever arrives, nothing panics, and what comes out is bounded by what
//! came in (no allocation grows beyond the input). Well-formed input built
//! from random values decodes back to those values.

use proptest::prelude::*;

use super::decode::{frames, inet, raw, unix};
use super::netlink::{DumpStats, consume_datagram};
use super::query::{Extras, Query};
use super::{containers, ghosts, netns, owners, proc_text};
use crate::model::{Family, FdLimit, Proto, Runtime, StateSet};

/// The fields of a kernel 6.x stat line after the state, with `start` as
/// field 22 (starttime).
fn stat_fields(start: u64) -> String {
    let mut fields: Vec<String> = (4..=52).map(|n| (n % 7).to_string()).collect();
    fields[22 - 4] = start.to_string();
    fields.join(" ")
}

/// A `/proc/PID/limits` table as the kernel writes it, with `open_files` as
/// both limits of `Max open files`.
fn limits_table(open_files: &str) -> String {
    let rows = [
        ("Max cpu time", "unlimited", "seconds"),
        ("Max file size", "unlimited", "bytes"),
        ("Max data size", "unlimited", "bytes"),
        ("Max stack size", "8388608", "bytes"),
        ("Max core file size", "0", "bytes"),
        ("Max resident set", "unlimited", "bytes"),
        ("Max processes", "63382", "processes"),
        ("Max open files", open_files, "files"),
        ("Max locked memory", "8388608", "bytes"),
        ("Max address space", "unlimited", "bytes"),
        ("Max file locks", "unlimited", "locks"),
        ("Max pending signals", "63382", "signals"),
        ("Max msgqueue size", "819200", "bytes"),
        ("Max nice priority", "0", ""),
        ("Max realtime priority", "0", ""),
        ("Max realtime timeout", "unlimited", "us"),
    ];
    let mut table = format!("{:<26}{:<21}{:<21}{:<10}\n", "Limit", "Soft Limit", "Hard Limit", "Units");
    for (name, value, units) in rows {
        table.push_str(&format!("{name:<26}{value:<21}{value:<21}{units:<10}\n"));
    }
    table
}

/// Few cases per property: the whole suite must stay fast in debug builds.
fn config() -> ProptestConfig {
    ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() }
}

fn queries() -> [Query; 4] {
    let inet =
        |proto| Query::Inet { proto, family: Family::Inet, states: StateSet::ALL, extras: Extras::default() };
    let both = Query::TcpBoth { states: StateSet::ALL, extras: Extras::default() };
    [inet(Proto::Tcp), inet(Proto::Udp), both, Query::Unix { states: StateSet::ALL }]
}

/// One netlink message: header (length, type, flags, seq, pid) + payload.
fn message(kind: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(16 + payload.len() + 3);
    m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(payload);
    m.resize(m.len().next_multiple_of(4), 0);
    m
}

/// Attributes whose declared lengths may be short, exact or oversized.
fn attributes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<u16>(), 0u16..400, prop::collection::vec(any::<u8>(), 0..300)), 0..6)
        .prop_map(|attrs| {
            let mut out = Vec::new();
            for (kind, declared, value) in attrs {
                out.extend_from_slice(&declared.to_ne_bytes());
                out.extend_from_slice(&(kind % 24).to_ne_bytes());
                out.extend_from_slice(&value);
                out.resize(out.len().next_multiple_of(4), 0);
            }
            out
        })
}

/// An `inet_diag_msg` header of `family` with random contents, then attributes.
fn inet_payload(family: u8) -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(any::<u8>(), 72), attributes()).prop_map(move |(mut header, attrs)| {
        header[0] = family;
        header.extend_from_slice(&attrs);
        header
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn framing_random_bytes_terminates_within_the_datagram(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut n = 0;
        for frame in frames::frames(&bytes) {
            n += 1;
            if let frames::Frame::Message { payload, .. } = frame {
                prop_assert!(payload.len() <= bytes.len());
            }
        }
        prop_assert!(n <= bytes.len() / 16 + 1);
        let _ = frames::status_code(&bytes);
    }

    #[test]
    fn random_datagrams_never_panic_and_yield_at_most_one_socket_per_message(
        bytes in prop::collection::vec(any::<u8>(), 0..4096)
    ) {
        for query in queries() {
            let mut out = Vec::new();
            let _ = consume_datagram(&bytes, &query, &mut out, &mut DumpStats::default());
            prop_assert!(out.len() <= bytes.len() / 32);
        }
    }

    #[test]
    fn framed_messages_with_random_payloads_decode_or_are_counted(
        payloads in prop::collection::vec((prop_oneof![Just(20u16), Just(2), Just(3), any::<u16>()], any::<u16>(),
            prop::collection::vec(any::<u8>(), 0..400)), 0..12)
    ) {
        let datagram: Vec<u8> = payloads.iter().flat_map(|(k, f, p)| message(*k, *f, p)).collect();
        for query in queries() {
            let mut out = Vec::new();
            let mut stats = DumpStats::default();
            let _ = consume_datagram(&datagram, &query, &mut out, &mut stats);
            prop_assert!(out.len() <= payloads.len());
            prop_assert!(stats.messages <= payloads.len() as u64);
        }
    }

    #[test]
    fn inet_sockets_survive_any_attributes(payload in prop_oneof![inet_payload(2), inet_payload(10)]) {
        for proto in [Proto::Tcp, Proto::Udp] {
            let decoded = inet::decode(&payload, proto).expect("a well-formed header decodes");
            prop_assert!(decoded.bad_attributes as usize <= payload.len() / 4);
            if let Some(info) = decoded.socket.tcp_info() {
                prop_assert!(info.retransmits.is_some(), "only attributes of >= 104 bytes are tcp_info");
            }
        }
    }

    #[test]
    fn any_inet_or_unix_payload_decodes_or_errs(payload in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = inet::decode(&payload, Proto::Tcp);
        let _ = unix::decode(&payload);
    }

    #[test]
    fn unix_sockets_survive_any_attributes(header in prop::collection::vec(any::<u8>(), 16), attrs in attributes()) {
        let mut payload = header;
        payload[1] = 1; // SOCK_STREAM
        payload.extend_from_slice(&attrs);
        let decoded = unix::decode(&payload).expect("a well-formed header decodes");
        prop_assert!(decoded.bad_attributes as usize <= attrs.len() / 4);
    }

    #[test]
    fn fixed_layout_structs_read_only_what_is_there(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        prop_assert_eq!(raw::tcp_info(&bytes).is_some(), bytes.len() >= raw::TCP_INFO_MIN_LEN);
        prop_assert_eq!(raw::skmem(&bytes).is_some(), bytes.len() >= raw::SKMEM_MIN_LEN);
        if let Some(mem) = raw::skmem(&bytes) {
            prop_assert_eq!(mem.drops.is_some(), bytes.len() >= 36);
        }
        let _ = ghosts::judge_tcp_info(&bytes);
    }

    #[test]
    fn snmp_and_sockstat_text_is_bounded_by_its_words(text in "[A-Za-z: 0-9\\-\\n]{0,400}") {
        let mut sections = proc_text::Sections::new();
        proc_text::parse_snmp(&text, &["Tcp", "TcpExt", "Udp"], &mut sections);
        proc_text::parse_sockstat(&text, &mut sections);
        let values: usize = sections.values().map(|s| s.len()).sum();
        prop_assert!(values <= text.split_whitespace().count());
    }

    #[test]
    fn any_text_is_safe_for_the_proc_parsers(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let mut sections = proc_text::Sections::new();
        proc_text::parse_snmp(&text, &["TcpExt"], &mut sections);
        proc_text::parse_sockstat(&text, &mut sections);
        let _ = proc_text::parse_pid_stat(&bytes);
        let _ = proc_text::parse_fd_limit(&text);
        let _ = owners::parse_socket_link(&bytes);
        let _ = owners::parse_pid_name(&bytes);
        let _ = owners::parse_fd_name(&bytes);
    }

    /// Pids up to PID_MAX_LIMIT, the largest the kernel hands out.
    #[test]
    fn a_stat_line_keeps_any_process_name(
        comm in prop::collection::vec(any::<u8>(), 0..16), start in any::<u64>(), pid in 1u32..=4_194_304
    ) {
        let mut line = format!("{pid} (").into_bytes();
        line.extend_from_slice(&comm);
        line.extend_from_slice(format!(") S {}\n", stat_fields(start)).as_bytes());
        let stat = proc_text::parse_pid_stat(&line).expect("a well-formed stat line");
        prop_assert_eq!(stat.start_time, start);
        prop_assert_eq!(stat.comm, String::from_utf8_lossy(&comm).into_owned());
    }

    #[test]
    fn a_stat_line_cut_or_padded_anywhere_is_safe(
        comm in prop::collection::vec(any::<u8>(), 0..16),
        cut in 0usize..400,
        tail in prop::collection::vec(prop::sample::select(vec![b' ', b'\t', 0x0b, 0x0c, b'\n', b')', b'(']), 0..4),
    ) {
        let mut line = b"7 (".to_vec();
        line.extend_from_slice(&comm);
        line.extend_from_slice(format!(") R {}", stat_fields(1)).as_bytes());
        line.truncate(cut);
        line.extend_from_slice(&tail);
        let _ = proc_text::parse_pid_stat(&line);
    }

    #[test]
    fn limits_and_links_read_back_their_numbers(n in any::<u64>(), cut in 0usize..1400) {
        let table = limits_table(&n.to_string());
        prop_assert_eq!(proc_text::parse_fd_limit(&table), Some(FdLimit::Limited(n)));
        let _ = proc_text::parse_fd_limit(&table[..cut.min(table.len())]);
        let _ = proc_text::parse_fd_limit(&table.replace("files", ""));
        prop_assert_eq!(owners::parse_socket_link(format!("socket:[{n}]").as_bytes()), Some(n));
    }

    #[test]
    fn any_cgroup_text_yields_only_well_formed_ids(text in "\\PC{0,300}|([0-9]{1,2}:[a-z,=_]{0,12}:[/a-z0-9_.-]{0,120}\n){0,5}") {
        let found = containers::parse_cgroup_file(&text);
        if let Some(id) = &found.id {
            prop_assert!((12..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            prop_assert!(text.contains(id.as_str()));
        }
        if let Some(uid) = &found.pod_uid {
            prop_assert!((32..=36).contains(&uid.len()), "{uid}");
            prop_assert!(uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'), "{uid}");
        }
        let _ = containers::parse_pod_dir(&text);
    }

    #[test]
    fn kubernetes_cgroup_paths_read_back_their_pod_and_container(
        id in "[0-9a-f]{64}", uid in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        qos in prop_oneof![Just("burstable"), Just("besteffort")], noise in "[a-z0-9.-]{0,20}",
    ) {
        let systemd_uid = uid.replace('-', "_");
        let v2 = format!(
            "0::/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{systemd_uid}.slice/cri-containerd-{id}.scope\n"
        );
        let v1 = format!("12:pids:/kubepods/{qos}/pod{uid}/{id}\n1:name=systemd:/{noise}\n");
        for text in [v2, v1] {
            let found = containers::parse_cgroup_file(&text);
            prop_assert_eq!(found.id.as_deref(), Some(id.as_str()));
            prop_assert_eq!(found.pod_uid.as_deref(), Some(uid.as_str()));
        }
        let found = containers::parse_cgroup_file(&format!("0::/system.slice/docker-{id}.scope\n"));
        prop_assert_eq!(found.runtime, Some(Runtime::Docker));
        let pod = containers::parse_pod_dir(&format!("shop_cart-{noise}x_{uid}"));
        prop_assert_eq!(pod.map(|p| p.uid), Some(uid));
    }

    #[test]
    fn netns_specs_never_name_pid_zero(spec in "\\PC{0,20}|[-+]?[0-9]{1,12}") {
        if let Ok(netns::Spec::Pid(pid)) = netns::classify_spec(&spec) {
            prop_assert!(pid > 0);
        }
    }
}
