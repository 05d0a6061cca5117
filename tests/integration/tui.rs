//! The dashboard end to end: the real binary in tmux against a real full
//! accept queue, read back with `capture-pane`, and the terminal's state
//! after every way of quitting.

use std::process::Command;

use crate::support::{self, Lab, connect_nonblocking, eventually, local_addr, tcp_listener};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// A private tmux server for one test.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success())
    }

    fn new(name: &str) -> Tmux {
        Tmux { socket: format!("sockscope-{name}-{}", std::process::id()) }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `command` in a shell in a detached 100x30 session that stays
    /// open after the command ends.
    fn start(&self, command: &str) {
        self.start_sized(command, 100, 30);
    }

    /// Like [`start`](Self::start) on a `width` x `height` terminal.
    fn start_sized(&self, command: &str, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        self.run(&["new-session", "-d", "-s", "t", "-x", &w, "-y", &h, "sh"]);
        self.run(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        self.keys(&[command, "Enter"]);
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        eventually(what, || {
            let screen = self.screen();
            match ok(&screen) {
                true => Ok(screen),
                false => Err(screen),
            }
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
        // tmux leaves its socket file behind.
        let dir = std::env::var_os("TMUX_TMPDIR").unwrap_or_else(|| "/tmp".into());
        let uid = rustix::process::getuid().as_raw();
        let _ =
            std::fs::remove_file(std::path::Path::new(&dir).join(format!("tmux-{uid}")).join(&self.socket));
    }
}

/// Where a dashboard's shell records the terminal mode after it (and the
/// dashboard's pid, in `PATH.pid`); both removed when dropped.
struct SttyFile(std::path::PathBuf);

impl SttyFile {
    fn new(name: &str) -> SttyFile {
        SttyFile(std::env::temp_dir().join(format!("sockscope-stty-{name}-{}", std::process::id())))
    }

    fn pid_file(&self) -> String {
        format!("{}.pid", self.0.display())
    }
}

impl Drop for SttyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.pid_file());
    }
}

fn skip_without_tmux(test: &str) -> bool {
    if Tmux::available() {
        return false;
    }
    support::loud(&format!("SKIPPED {test}: tmux is not installed (CI installs it)"));
    true
}

/// The shell line that runs the dashboard (its pid written to `stty_file`.pid)
/// and then records the terminal mode in `stty_file`.
fn dashboard(lab: &Lab, stty_file: &std::path::Path) -> String {
    let netns = lab.netns_args().join(" ");
    let f = stty_file.display();
    format!(
        "sh -c 'echo $$ > {f}.pid; exec {BIN} tui --interval 300ms {netns}'; stty -a > {f}; echo FIN''ISHED"
    )
}

fn restored(stty_file: &std::path::Path) -> bool {
    let modes = std::fs::read_to_string(stty_file).unwrap_or_default();
    let words: Vec<&str> = modes.split([' ', ';', '\n']).collect();
    words.contains(&"icanon") && words.contains(&"echo")
}

#[test]
fn dashboard_shows_the_full_queue_and_quits_cleanly() {
    if skip_without_tmux("dashboard_shows_the_full_queue") {
        return;
    }
    let lab = Lab::new("tui_e2e");
    let (listener, _clients) = lab.run(|| {
        let l = tcp_listener("127.0.0.1:0", 4);
        let clients: Vec<_> = (0..12).map(|_| connect_nonblocking(local_addr(&l))).collect();
        (l, clients)
    });
    let port = local_addr(&listener).port();
    let stty = SttyFile::new("q");
    let tmux = Tmux::new("e2e");
    tmux.start(&dashboard(&lab, &stty.0));
    let overview = tmux.wait_for("the overview", |s| s.contains("accept_queue_full"));
    assert!(overview.contains(&format!("127.0.0.1:{port}")), "{overview}");
    tmux.keys(&["2"]);
    let screen = tmux.wait_for("the listeners screen", |s| s.contains("Listeners ("));
    let row = screen.lines().find(|l| l.contains(&format!("127.0.0.1:{port}"))).expect("listener row");
    assert!(row.contains("FULL") && row.contains("5/4"), "{row}");
    tmux.keys(&["q"]);
    tmux.wait_for("the shell after quitting", |s| s.contains("FINISHED"));
    assert!(restored(&stty.0), "terminal left in raw mode after q");
}

#[test]
fn ctrl_c_sigterm_and_panic_restore_the_terminal() {
    if skip_without_tmux("ctrl_c_and_sigterm_restore_the_terminal") {
        return;
    }
    let lab = Lab::new("tui_signals");
    for (how, name) in [("ctrl-c", "C-c"), ("sigterm", "TERM"), ("panic", "")] {
        let stty = SttyFile::new(how);
        let tmux = Tmux::new(how);
        let env = if how == "panic" { "SOCKSCOPE_TEST_PANIC=1 RUST_BACKTRACE=0 " } else { "" };
        tmux.start(&format!("{env}{}", dashboard(&lab, &stty.0)));
        if how == "panic" {
            let after = tmux.wait_for("the shell after the panic", |s| s.contains("FINISHED"));
            assert!(after.contains("injected collector panic"), "the panic message is shown: {after}");
            assert!(restored(&stty.0), "terminal left in raw mode after a panic");
            continue;
        }
        tmux.wait_for("the dashboard", |s| s.contains("Overview"));
        match how {
            "ctrl-c" => tmux.keys(&[name]),
            _ => {
                let pid = std::fs::read_to_string(stty.pid_file()).expect("pid file");
                Command::new("kill").args(["-TERM", pid.trim()]).status().expect("kill");
            }
        }
        tmux.wait_for(&format!("the shell after {how}"), |s| s.contains("FINISHED"));
        assert!(restored(&stty.0), "terminal left in raw mode after {how}");
    }
}

#[test]
fn at_80x24_every_number_that_matters_is_whole() {
    if skip_without_tmux("at_80x24_every_number_that_matters_is_whole") {
        return;
    }
    let lab = Lab::new("tui_80x24");
    let (listener, _clients) = lab.run(|| {
        let l = tcp_listener("127.0.0.1:0", 4);
        let clients: Vec<_> = (0..12).map(|_| connect_nonblocking(local_addr(&l))).collect();
        (l, clients)
    });
    let port = local_addr(&listener).port();
    let me = format!("({})", std::process::id());
    let stty = SttyFile::new("80");
    let tmux = Tmux::new("e2e80");
    tmux.start_sized(&dashboard(&lab, &stty.0), 80, 24);
    tmux.wait_for("the overview", |s| s.contains("accept_queue_full"));
    tmux.keys(&["2"]);
    let screen = tmux.wait_for("the listeners screen", |s| s.contains("Listeners ("));
    let row = screen.lines().find(|l| l.contains(&format!("127.0.0.1:{port}"))).expect("listener row");
    assert!(row.contains("5/4") && row.contains("FULL"), "queue and mark: {row}");
    assert!(row.contains(&me), "the owner with its pid, shortened not cut: {row}");
    tmux.keys(&["4"]);
    let screen = tmux.wait_for("the processes screen", |s| s.contains("Processes ("));
    let header = screen.lines().find(|l| l.contains("PID")).expect("header");
    assert!(header.contains("Listening"), "{header}");
    let mine = screen.lines().find(|l| l.contains(&std::process::id().to_string())).expect("this process");
    assert!(mine.contains("tcp:127.0.0.1:"), "its listener in the Listening column: {mine}");
    tmux.keys(&["?"]);
    // The whole box, not its first line: a capture may land mid-frame.
    let help = tmux.wait_for("the help box", |s| s.contains("Keys") && s.contains("NEAR: accept queue"));
    for (key, what) in [("1-5, Tab, Shift-Tab", "switch screen"), ("q, Ctrl-C", "quit")] {
        let line = help.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("{what}: {help}"));
        assert!(line.contains(key), "{line}");
    }
    assert!(help.contains("filter (address, port, state, process); Enter keeps it"), "{help}");
    assert!(help.contains("NEAR: accept queue at or above the near-full threshold"), "{help}");
    tmux.keys(&["Escape"]);
    tmux.keys(&["q"]);
    tmux.wait_for("the shell after quitting", |s| s.contains("FINISHED"));
}
