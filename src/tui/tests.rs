//! The dashboard without a terminal: screens rendered from a fixed snapshot
//! into `TestBackend` and compared with reviewed snapshots; keys checked as
//! state transitions. No threads, no clocks, no sleeps.

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use super::app::{App, Detail, Tab, Update};
use super::keys::handle_key;
use super::view;
use crate::analyze::{Subject, Thresholds};
use crate::fixture::SnapshotBuilder;
use crate::model::{Snapshot, State};

const SERVER: u32 = 4242;

/// A host with a full accept queue (its owner stopped, one waiting client
/// gave up), a CLOSE-WAIT leak, TIME-WAIT towards a
/// database, a dropping UDP socket and a healthy unix listener.
fn outage(at_secs: u64, close_wait: u32, overflows: i64) -> Snapshot {
    let mut s = SnapshotBuilder::new()
        .counter("TcpExt", "ListenOverflows", overflows)
        .process(SERVER, "server", 40 + close_wait, 1024)
        .run_state(SERVER, 'T')
        .process(77, "php-fpm", 12, 1024)
        .process(90, "syslogd", 8, 1024)
        .listener("0.0.0.0:8080", 5, 4, 12, &[SERVER])
        .waiting(State::Established, "10.0.0.1:8080", "10.0.0.5:40001")
        .waiting(State::CloseWait, "10.0.0.1:8080", "10.0.0.5:40002")
        .listener("127.0.0.1:9090", 0, 128, 0, &[SERVER])
        .unix_listener("/run/php/fpm.sock", 0, 511, &[77])
        .udp("0.0.0.0:514", 40, &[90])
        .many(close_wait, State::CloseWait, "10.0.0.1", "10.0.0.7:5432", &[SERVER])
        .many(3, State::Established, "10.0.0.1", "10.0.0.8:443", &[SERVER])
        .many(30, State::TimeWait, "10.0.0.1", "10.0.0.9:5432", &[])
        .build();
    s.taken_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + at_secs);
    s
}

fn app() -> App {
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    app.resize(80, 24);
    app.apply(Update::of(outage(0, 10, 100)));
    app.apply(Update::of(outage(2, 14, 112)));
    app
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..height {
        let line: String = (0..width).map(|x| buffer[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(app: &mut App, code: KeyCode) {
    handle_key(app, KeyEvent::new(code, KeyModifiers::NONE));
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// The two sizes every screen is reviewed at: a standard terminal and a big one.
const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

/// Renders the app at every size in [`SIZES`], one insta snapshot each,
/// named `{name}_{w}x{h}`.
fn snapshots(app: &mut App, name: &str) {
    for (w, h) in SIZES {
        app.resize(w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(app, w, h));
    }
    app.resize(80, 24);
}

#[test]
fn every_screen_at_80x24_and_200x50() {
    for (tab, name) in
        [('1', "overview"), ('2', "listeners"), ('3', "connections"), ('4', "processes"), ('5', "sysctls")]
    {
        let mut app = app();
        key(&mut app, KeyCode::Char(tab));
        snapshots(&mut app, name);
    }
    let mut app = app();
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('g'));
    snapshots(&mut app, "connections_by_state");
}

#[test]
fn detail_panes_and_help_at_80x24_and_200x50() {
    let mut app = app();
    key(&mut app, KeyCode::Enter);
    snapshots(&mut app, "listener_detail");
    key(&mut app, KeyCode::Char('?'));
    snapshots(&mut app, "help");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Enter);
    snapshots(&mut app, "process_detail");
}

/// A process holding more sockets than its pane has room for: j/k and End
/// scroll the pane (not the table behind it), every socket can be reached,
/// and past the copies kept a line says how many are not listed and where.
#[test]
fn a_process_pane_scrolls_to_its_last_socket() {
    for (local, remote) in [
        ("10.0.0.1", "10.0.0.8:443"),
        // Rows that wrap on an 80-column terminal: the scroll still reaches the end.
        ("[2001:db8:aaaa:bbbb:cccc:dddd:eeee:1]", "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:2]:443"),
    ] {
        scroll_to_the_last_socket(local, remote);
    }
}

fn scroll_to_the_last_socket(local: &str, remote: &str) {
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    app.resize(80, 24);
    let listed = super::view::MAX_LISTED as u32;
    let snap = SnapshotBuilder::new()
        .process(SERVER, "server", 2000, 4096)
        .process(77, "other", 10, 1024)
        .many(listed + 5, State::Established, local, remote, &[SERVER])
        .many(1, State::Established, "10.0.0.2", "10.0.0.9:80", &[77])
        .build();
    app.apply(Update::of(snap));
    key(&mut app, KeyCode::Char('4'));
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.detail, Some(Detail::Process(SERVER)));
    let first = screen(&app, 80, 24);
    assert!(first.contains(&format!("its sockets ({}):", listed + 5)), "{first}");
    assert!(first.contains("j/k: lines 1-"), "the title says it scrolls: {first}");
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.detail_scroll, 1);
    assert_eq!(app.detail, Some(Detail::Process(SERVER)), "j scrolls, the pane stays");
    key(&mut app, KeyCode::End);
    let last = screen(&app, 80, 24);
    assert!(last.contains("… 5 more not listed here: sockscope dump --pid 4242 --sockets"), "{last}");
    let rows = last.lines().filter(|l| l.contains("ESTAB")).count();
    assert!(rows > 2, "the end of the list fills the pane: {last}");
    key(&mut app, KeyCode::Home);
    assert_eq!(app.detail_scroll, 0);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.detail, None);
    assert_eq!(app.cursor().selected, 0, "the table behind did not move");
}

/// The process of an open pane exits: the pane says so instead of showing
/// an unnamed process with no sockets.
#[test]
fn a_process_that_exits_under_its_pane_is_said_gone() {
    let mut app = app();
    key(&mut app, KeyCode::Char('4'));
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.detail, Some(Detail::Process(SERVER)));
    let after = SnapshotBuilder::new().process(77, "php-fpm", 12, 1024).build();
    app.apply(Update::of(after));
    let text = screen(&app, 80, 24);
    assert!(text.contains("not in this snapshot: it exited"), "{text}");
}

/// A busy host: long process names, a full queue of a deep backlog on an
/// IPv6 address, a process listening on many ports.
fn crowded() -> App {
    let snap = SnapshotBuilder::new()
        .process(SERVER, "server", 60, 1024)
        .process(4_194_301, "gunicorn-worker", 3000, 65536)
        .process(88, "php-fpm", 20, 1024)
        .listener("[2001:db8:aaaa:bbbb:cccc:dddd:eeee:1]:8443", 4097, 4096, 912, &[4_194_301])
        .listener("0.0.0.0:8080", 5, 4, 12, &[SERVER, 88])
        .listener("127.0.0.1:9090", 0, 128, 0, &[SERVER])
        .listener("127.0.0.1:9091", 0, 128, 0, &[SERVER])
        .listener("127.0.0.1:9092", 0, 128, 0, &[SERVER])
        .listener("127.0.0.1:9093", 0, 128, 0, &[SERVER])
        .many(3, State::Established, "10.0.0.1", "10.0.0.8:443", &[4_194_301])
        .build();
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    app.resize(80, 24);
    app.apply(Update::of(snap));
    app
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle}:\n{text}"))
}

#[test]
fn listener_detail_lists_the_clients_waiting_in_its_queue() {
    let mut app = app();
    app.resize(120, 40);
    key(&mut app, KeyCode::Enter);
    let text = screen(&app, 120, 40);
    assert!(text.contains("2 waiting for accept() (1 closed by the client)"), "{text}");
    assert!(text.contains("ESTAB      10.0.0.5:40001         waiting for accept()"), "{text}");
    assert!(
        text.contains("CLOSE-WAIT 10.0.0.5:40002         waiting for accept(); the client gave up"),
        "{text}"
    );
    assert!(text.contains("owner: server(4242)  stopped (T)"), "{text}");
}

#[test]
fn at_80x24_listeners_show_whole_queues_marks_and_shortened_owners() {
    let mut app = crowded();
    key(&mut app, KeyCode::Char('2'));
    let text = screen(&app, 80, 24);
    let v6 = line_with(&text, ":8443");
    assert!(v6.contains("4097/4096") && v6.contains("FULL"), "{v6}");
    assert!(v6.contains("gunicorn-worker(4194301)") || v6.contains("…(4194301)"), "{v6}");
    assert!(v6.contains("912"), "drops: {v6}");
    let shared = line_with(&text, "0.0.0.0:8080");
    assert!(shared.contains("5/4") && shared.contains("FULL"), "{shared}");
    assert!(
        shared.contains("php-fpm(88),server(4242)") || shared.contains("php-fpm(88) +1"),
        "both owners: {shared}"
    );
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
}

/// A finding whose subject alone is wider than the row (a long IPv6
/// address, its queue, its owners) ends in an ellipsis, never cut bare.
#[test]
fn a_finding_too_long_for_its_row_ends_in_an_ellipsis() {
    let app = crowded();
    let text = screen(&app, 70, 24);
    let v6 = line_with(&text, "2001:db8");
    assert!(v6.trim_end_matches('│').trim_end().ends_with('…'), "{v6}");
}

#[test]
fn at_80x24_processes_show_the_listening_column() {
    let mut app = crowded();
    key(&mut app, KeyCode::Char('4'));
    let text = screen(&app, 80, 24);
    assert!(line_with(&text, "PID").trim_end_matches('│').trim_end().ends_with("Listening"), "{text}");
    let server = line_with(&text, "4242");
    assert!(server.contains("tcp:0.0.0.0:8080 +4"), "{server}");
    let worker = line_with(&text, "4194301");
    assert!(worker.contains("gunicorn-wo…") && worker.contains("3000/65536"), "{worker}");
}

#[test]
fn at_80x24_the_whole_help_box_shows() {
    let mut app = app();
    key(&mut app, KeyCode::Char('?'));
    let text = screen(&app, 80, 24);
    for (k, what) in super::view::help::KEYS {
        let line = line_with(&text, what);
        assert!(line.contains(k), "{line}");
    }
    assert!(text.contains("NEAR: accept queue at or above the near-full threshold"));
}

#[test]
fn help_scrolls_on_a_short_terminal() {
    let mut app = app();
    app.resize(80, 12);
    key(&mut app, KeyCode::Char('?'));
    let first = screen(&app, 80, 12);
    assert!(first.contains("switch screen") && !first.contains("NEAR:"), "{first}");
    assert!(first.contains("j/k: scroll"), "{first}");
    for _ in 0..20 {
        key(&mut app, KeyCode::Char('j'));
    }
    let last = screen(&app, 80, 12);
    assert!(last.contains("NEAR:") && !last.contains("switch screen"), "{last}");
    key(&mut app, KeyCode::Esc);
    assert!(!app.help);
}

#[test]
fn full_queue_is_marked_in_words_and_in_colour() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    let text = screen(&app, 80, 24);
    let row = text.lines().find(|l| l.contains("0.0.0.0:8080")).unwrap();
    assert!(row.contains("FULL") && row.contains("5/4"), "{row}");
    app.color = true;
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| view::draw(f, &app)).unwrap();
    let buffer = terminal.backend().buffer();
    let red = buffer.content().iter().any(|c| c.symbol() == "F" && c.fg == Color::Red);
    assert!(red, "FULL is red when colour is allowed");
    app.color = false;
    terminal.draw(|f| view::draw(f, &app)).unwrap();
    assert!(
        terminal.backend().buffer().content().iter().all(|c| c.fg == Color::Reset),
        "no colour under NO_COLOR"
    );
}

#[test]
fn enter_goes_from_the_finding_to_the_listener_then_the_owner() {
    let mut app = app();
    assert_eq!(app.tab, Tab::Overview);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.tab, Tab::Listeners);
    let data = app.data.as_ref().unwrap();
    let inode = data.analysis.listeners.iter().find(|l| l.full).unwrap().inode;
    assert_eq!(app.detail, Some(Detail::Listener(inode)));
    key(&mut app, KeyCode::Enter);
    assert_eq!((app.tab, app.detail.clone()), (Tab::Processes, Some(Detail::Process(SERVER))));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.detail, None);
}

#[test]
fn movement_stays_in_bounds() {
    let mut app = app();
    key(&mut app, KeyCode::Char('3'));
    let rows = app.row_count(Tab::Connections);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.cursor().selected, 0);
    key(&mut app, KeyCode::End);
    assert_eq!(app.cursor().selected, rows - 1);
    assert!(app.cursor().offset + app.page >= rows);
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.cursor().selected, rows - 1 - app.page);
    keys(&mut app, "jjj");
    assert_eq!(app.cursor().selected, rows - 1 - app.page + 3);
    key(&mut app, KeyCode::Home);
    assert_eq!((app.cursor().selected, app.cursor().offset), (0, 0));
}

#[test]
fn filter_narrows_rows_and_esc_clears_it() {
    let mut app = app();
    key(&mut app, KeyCode::Char('3'));
    let all = app.row_count(Tab::Connections);
    keys(&mut app, "/10.0.0.9");
    assert!(app.editing_filter);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.row_count(Tab::Connections), 30, "the TIME-WAIT sockets towards 10.0.0.9");
    key(&mut app, KeyCode::Esc);
    assert_eq!((app.filter.as_str(), app.row_count(Tab::Connections)), ("", all));
    key(&mut app, KeyCode::Char('4'));
    keys(&mut app, "/close-wait");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.row_count(Tab::Processes), 1, "a state names the processes holding sockets in it");
}

#[test]
fn sort_group_pause_help_and_quit() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    let before = app.listener_sort;
    key(&mut app, KeyCode::Char('s'));
    assert_ne!(app.listener_sort, before);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.tab, Tab::Connections);
    key(&mut app, KeyCode::Char('g'));
    assert!(app.row_count(Tab::Connections) < 10, "grouped by state: a few groups");
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Listeners);
    key(&mut app, KeyCode::Char('p'));
    let frozen = app.data.as_ref().unwrap().snapshot.taken_at;
    app.apply(Update::of(outage(4, 20, 130)));
    assert_eq!(app.data.as_ref().unwrap().snapshot.taken_at, frozen, "paused: updates are ignored");
    key(&mut app, KeyCode::Char(' '));
    assert!(!app.paused);
    key(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    key(&mut app, KeyCode::Char('j'));
    assert!(app.help, "other keys do not close help");
    key(&mut app, KeyCode::Esc);
    assert!(!app.help);
    key(&mut app, KeyCode::Char('?'));
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit, "q quits from the help box too, as the box says");
    let mut app2 = self::app();
    handle_key(&mut app2, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app2.quit);
}

#[test]
fn selection_follows_the_same_listener_across_refreshes() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('j'));
    let chosen = app.listener_rows()[app.cursor().selected];
    let inode = app.data.as_ref().unwrap().analysis.listeners[chosen].inode;
    app.apply(Update::of(outage(4, 16, 120)));
    let now = app.listener_rows()[app.cursor().selected];
    assert_eq!(app.data.as_ref().unwrap().analysis.listeners[now].inode, inode);
}

#[test]
fn every_screen_renders_100k_sockets_by_windowing() {
    let mut b = SnapshotBuilder::new().process(1, "big", 100, 200_000);
    for i in 0..100_000u32 {
        let local = format!("10.{}.{}.{}:{}", (i >> 16) & 255, (i >> 8) & 255, i & 255, 1000 + i % 50_000);
        b = b.tcp(State::Established, &local, "10.9.9.9:443", &[1]);
    }
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    app.resize(120, 40);
    app.apply(Update::of(b.build()));
    for tab in ['1', '2', '3', '4', '5'] {
        key(&mut app, KeyCode::Char(tab));
        let text = screen(&app, 120, 40);
        assert!(text.contains("sockscope"));
    }
}

#[test]
fn tiny_terminals_do_not_break_any_screen() {
    let mut app = app();
    for (w, h) in [(1, 1), (10, 4), (20, 6), (40, 10)] {
        app.resize(w, h);
        for tab in ['1', '2', '3', '4', '5'] {
            key(&mut app, KeyCode::Char(tab));
            screen(&app, w, h);
            key(&mut app, KeyCode::Enter);
            screen(&app, w, h);
            key(&mut app, KeyCode::Esc);
        }
        key(&mut app, KeyCode::Char('?'));
        screen(&app, w, h);
        key(&mut app, KeyCode::Esc);
    }
}

/// More findings than the overview's panel has rows: moving down scrolls
/// the panel, so the selected finding is always on screen.
#[test]
fn the_findings_panel_follows_the_cursor() {
    let mut builder = SnapshotBuilder::new();
    for i in 0..20u32 {
        let pid = 100 + i;
        builder = builder.process(pid, &format!("leaky{i}"), 40, 1024).many(
            12,
            State::CloseWait,
            &format!("10.0.{i}.1"),
            "10.0.9.9:5432",
            &[pid],
        );
    }
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    app.apply(Update::of(builder.build()));
    for _ in 0..19 {
        key(&mut app, KeyCode::Char('j'));
    }
    let text = screen(&app, 80, 24);
    let selected = app.finding_rows()[app.cursor().selected];
    let Subject::Process { pid, .. } = &app.data.as_ref().unwrap().analysis.findings[selected].subject else {
        panic!("a process finding")
    };
    assert!(text.contains(&format!("pid {pid} ")), "the 20th finding is on screen: {text}");
}

/// More states than the overview's panel has rows (a short terminal, or
/// many findings above it): the last row says how many are not shown and
/// where they are.
#[test]
fn the_state_panel_says_what_it_leaves_out() {
    let mut builder = SnapshotBuilder::new().process(SERVER, "server", 40, 1024);
    for (i, state) in [
        State::Established,
        State::SynSent,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::CloseWait,
        State::LastAck,
        State::Closing,
        State::SynRecv,
    ]
    .into_iter()
    .enumerate()
    {
        builder = builder.many(1, state, &format!("10.0.0.{}", i + 1), "10.0.1.1:443", &[SERVER]);
    }
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    app.apply(Update::of(builder.listener("0.0.0.0:80", 0, 128, 0, &[SERVER]).build()));
    let text = screen(&app, 80, 18);
    assert!(text.contains("… 4 more: screen 3, g"), "{text}");
    assert!(!screen(&app, 80, 24).contains("more: screen 3"), "no note when all fit");
    assert!(screen(&app, 200, 50).contains("CLOSING"), "a big terminal shows them all");
}

#[test]
fn status_line_names_hidden_owners_first() {
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    let mut snap = outage(0, 3, 0);
    snap.scan.unreadable = 12;
    snap.host.euid = 1000;
    snap.warnings.push(crate::model::Warning::new(
        crate::model::WarningKind::ProcessesUnreadable,
        "not root: could not read the fds of 12 processes, so their sockets show no owner",
    ));
    app.apply(Update::of(snap));
    let text = screen(&app, 80, 24);
    let status = text.lines().last().unwrap();
    assert!(status.starts_with(" not root: owners of 12 processes hidden"), "{status}");
    let narrow = screen(&app, 60, 24);
    let status = narrow.lines().last().unwrap();
    assert!(
        status.ends_with("… ? help  q quit"),
        "too long: cut with an ellipsis, the way out kept: {status}"
    );
}

#[test]
fn status_line_shows_a_stretched_interval_and_its_cause() {
    let mut app = app();
    let pace = crate::model::pace::Pace::new(Duration::from_secs(1)).after(Duration::from_millis(640));
    app.apply(Update { pace: Some(pace), ..Update::of(outage(4, 16, 120)) });
    let text = screen(&app, 80, 24);
    let status = text.lines().last().unwrap();
    assert!(status.contains("every 1s → 3.2s (collection 640 ms)"), "{status}");
    app.apply(Update { pace: Some(pace.after(Duration::from_millis(10))), ..Update::of(outage(6, 16, 120)) });
    let text = screen(&app, 80, 24);
    assert!(text.lines().last().unwrap().contains("every 1s · collect"), "back to the asked interval");
}

/// `--all-netns` on a small cluster node: the host, a pod whose listener is
/// full, and an `ip netns` namespace, all three listening on 0.0.0.0:8080.
fn node() -> Snapshot {
    use crate::model::{NetnsLabels, Pod};
    let pod = Pod { namespace: Some("shop".into()), name: Some("cart-7f9".into()), uid: "0c3e".into() };
    let labelled = |pod: Option<Pod>, name: Option<&str>| NetnsLabels {
        pod,
        name: name.map(str::to_string),
        ..NetnsLabels::default()
    };
    SnapshotBuilder::new()
        .namespace(4026531840, labelled(None, None))
        .process(1, "systemd", 80, 1024)
        .listener("0.0.0.0:8080", 0, 4096, 0, &[1])
        .namespace(4026532300, labelled(Some(pod), None))
        .process(SERVER, "cart", 40, 1024)
        .listener("0.0.0.0:8080", 5, 4, 9, &[SERVER])
        .many(3, State::Established, "10.1.0.5", "10.1.0.9:5432", &[SERVER])
        .namespace(4026532400, labelled(None, Some("blue")))
        .process(77, "api", 12, 1024)
        .listener("0.0.0.0:8080", 0, 128, 0, &[77])
        .build()
}

fn node_app() -> App {
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    app.resize(100, 24);
    app.apply(Update::of(node()));
    app
}

#[test]
fn all_netns_listeners_show_a_netns_column() {
    let mut app = node_app();
    key(&mut app, KeyCode::Char('2'));
    let text = screen(&app, 100, 24);
    insta::assert_snapshot!("all_netns_listeners", text);
    let full = text.lines().find(|l| l.contains("FULL")).unwrap();
    assert!(full.contains("cart-7f9"), "{full}");
    assert!(text.contains("NETNS") && text.contains("blue") && text.contains("4026531840"));
}

#[test]
fn n_shows_one_namespace_at_a_time_worst_first_and_esc_all_again() {
    let mut app = node_app();
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.row_count(Tab::Listeners), 3);
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.netns, Some(4026532300), "the pod with the full listener comes first");
    assert_eq!(app.row_count(Tab::Listeners), 1);
    let text = screen(&app, 100, 24);
    assert!(text.lines().last().unwrap().contains("netns cart-7f9"), "{text}");
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.row_count(Tab::Connections), 4, "the pod's listener and its 3 connections");
    key(&mut app, KeyCode::Char('1'));
    let overview = screen(&app, 100, 24);
    let states = |text: &str, state: &str| {
        text.lines()
            .find(|l| l.contains(state))
            .map(|l| l.split_whitespace().rev().nth(1).unwrap().to_string())
    };
    assert!(overview.contains("Sockets by state in cart-7f9"), "{overview}");
    assert_eq!(states(&overview, "LISTEN").as_deref(), Some("1"), "the pod's own listener only: {overview}");
    assert_eq!(states(&overview, "ESTAB").as_deref(), Some("3"), "{overview}");
    assert!(overview.contains("host CLOSE-WAIT"), "the trends are the whole host's: {overview}");
    assert!(
        app.finding_rows()
            .iter()
            .all(|&i| app.data.as_ref().unwrap().analysis.findings[i].netns == app.netns)
    );
    keys(&mut app, "nn");
    assert_eq!(app.netns, Some(4026532400));
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.netns, None, "after the last namespace, all of them again");
    key(&mut app, KeyCode::Char('n'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.netns, None);
    assert_eq!(app.row_count(Tab::Overview), app.data.as_ref().unwrap().analysis.findings.len());
}

#[test]
fn connections_group_by_namespace_and_findings_name_their_pod() {
    let mut app = node_app();
    key(&mut app, KeyCode::Char('3'));
    while app.group != crate::tui::rows::GroupBy::Netns {
        key(&mut app, KeyCode::Char('g'));
    }
    let groups: Vec<(&str, u32)> = app.groups.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(groups, vec![("cart-7f9", 4), ("4026531840", 1), ("blue", 1)]);
    key(&mut app, KeyCode::Char('1'));
    let text = screen(&app, 100, 24);
    let full = text.lines().find(|l| l.contains("accept_queue_full")).unwrap();
    assert!(full.contains("[cart-7f9]"), "{full}");
}

#[test]
fn the_overview_shows_leak_rates_and_marks_escalations() {
    let mut app = App::new(Duration::from_secs(1), Thresholds::default(), false);
    // CLOSE-WAIT of the server grows by 2 every 2 s: below 10 it is info,
    // from 10 a warning (an escalation), and the growth is a leak with a rate.
    for i in 0..6u32 {
        app.apply(Update::of(outage(u64::from(i) * 2, 4 + 2 * i, 0)));
    }
    let text = screen(&app, 200, 50);
    assert!(text.contains("close_wait_leak"), "{text}");
    assert!(text.contains("CLOSE-WAIT grows by 1.00/s"), "{text}");
    let warned = text.lines().find(|l| l.contains("close_wait ") && l.contains("pid 4242")).unwrap();
    assert!(warned.contains("WARN▲"), "info → warning is marked: {warned}");
    let listener = text.lines().find(|l| l.contains("accept_queue_full")).unwrap();
    assert!(!listener.contains('▲'), "a finding that was always critical is not: {listener}");
}
