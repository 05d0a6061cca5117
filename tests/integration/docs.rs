//! The documentation the binary prints and the package that installs it:
//! the man page is valid roff that `man` renders with every command and
//! flag; each completion script parses in its own shell; the `.deb` built
//! by `packaging/deb.sh` installs a binary, man page and completions that
//! work from their installed paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support;

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

fn run(program: &str, args: &[&str]) -> Option<Output> {
    Command::new(program).args(args).stdin(Stdio::null()).output().ok()
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn printed(args: &[&str]) -> String {
    let out = run(BIN, args).expect("run sockscope");
    assert!(out.status.success(), "sockscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sockscope-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write temp file");
    path
}

/// Renders a roff file with `man -l` (or groff), failing on any warning.
fn render_man(path: &Path) -> Option<String> {
    let shown = path.to_str().expect("utf-8 path");
    if has("man") {
        let out = Command::new("man").args(["-l", shown]).env("MANWIDTH", "100").output().expect("man");
        assert!(out.status.success(), "man -l: {}", String::from_utf8_lossy(&out.stderr));
        return Some(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    if has("groff") {
        let out = run("groff", &["-man", "-Tutf8", "-ww", shown]).expect("groff");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && warnings.trim().is_empty(), "groff: {warnings}");
        return Some(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    None
}

#[test]
fn man_page_renders_with_every_command_and_flag() {
    let roff = printed(&["man"]);
    assert!(roff.contains(".TH sockscope 1"), "no roff title header");
    let path = write_temp("sockscope.1", &roff);
    let rendered = render_man(&path);
    let _ = std::fs::remove_file(&path);
    let Some(text) = rendered else {
        support::loud(
            "DEGRADED man_page_renders_with_every_command_and_flag: neither man nor groff installed; checked the roff header only",
        );
        return;
    };
    let text = text.replace(['\u{2010}', '\u{2212}'], "-");
    for word in [
        "SOCKSCOPE DUMP",
        "SOCKSCOPE WATCH",
        "SOCKSCOPE TUI",
        "--fail-on",
        "--stats",
        "--cw-growth",
        "EXIT STATUS",
        "cap_sys_ptrace",
    ] {
        assert!(text.contains(word), "rendered man page lacks {word}");
    }
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    for (shell, check) in [("bash", ["-n"].as_slice()), ("zsh", &["-n"]), ("fish", &["--no-execute"])] {
        let script = printed(&["completions", shell]);
        assert!(script.contains("sockscope") && script.contains("watch"), "{shell}: no commands");
        if !has(shell) {
            support::loud(&format!(
                "DEGRADED completion_scripts_parse_in_their_shells: {shell} not installed, its script not parsed (CI installs it)"
            ));
            continue;
        }
        let path = write_temp(&format!("completion.{shell}"), &script);
        let mut args: Vec<&str> = check.to_vec();
        args.push(path.to_str().expect("utf-8 path"));
        let out = run(shell, &args).expect("shell");
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "{shell} rejects its completion: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn bash_completion_offers_subcommands_and_flags() {
    if !has("bash") {
        return support::loud("SKIPPED bash_completion_offers_subcommands_and_flags: bash not installed");
    }
    let path = write_temp("complete.bash", &printed(&["completions", "bash"]));
    let probe = format!(
        ". {}; COMP_WORDS=(sockscope wat); COMP_CWORD=1; _sockscope sockscope wat sockscope; echo \"${{COMPREPLY[@]}}\"; \
         COMP_WORDS=(sockscope dump --fai); COMP_CWORD=2; _sockscope sockscope --fai dump; echo \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = run("bash", &["-c", &probe]).expect("bash");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first().copied(), Some("watch"), "{text}");
    assert_eq!(lines.get(1).copied(), Some("--fail-on"), "{text}");
}

/// Removes the installed package however the test ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["--purge", "sockscope"]);
    }
}

#[test]
fn deb_installs_binary_man_page_and_completions() {
    const TEST: &str = "deb_installs_binary_man_page_and_completions";
    if support::skip_unless_root(TEST, "dpkg -i into this machine") {
        return;
    }
    if !has("dpkg") || !run("cargo", &["deb", "--version"]).is_some_and(|o| o.status.success()) {
        return support::loud(&format!(
            "SKIPPED {TEST}: cargo-deb or dpkg missing (cargo install cargo-deb --locked; .ci/run does)"
        ));
    }
    if Path::new("/usr/bin/sockscope").exists()
        && run("dpkg", &["-s", "sockscope"]).is_none_or(|o| !o.status.success())
    {
        return support::loud(&format!(
            "SKIPPED {TEST}: /usr/bin/sockscope exists and is not from the package"
        ));
    }
    let repo = env!("CARGO_MANIFEST_DIR");
    let out_dir = std::env::temp_dir().join(format!("sockscope-deb-{}", std::process::id()));
    // Its own target directory: the one `cargo test` holds stays locked while tests run.
    let built = Command::new(format!("{repo}/packaging/deb.sh"))
        .args(["--profile", "deb-check", "--output"])
        .arg(&out_dir)
        .env("CARGO_TARGET_DIR", format!("{repo}/target/deb-check"))
        .stdin(Stdio::null())
        .output()
        .expect("packaging/deb.sh");
    assert!(built.status.success(), "packaging/deb.sh failed: {}", String::from_utf8_lossy(&built.stderr));
    let deb = String::from_utf8(built.stdout).expect("utf-8").trim().to_string();
    assert!(deb.ends_with(".deb"), "no .deb printed: {deb}");

    let _installed = Installed;
    let install = run("dpkg", &["-i", &deb]).expect("dpkg");
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(install.status.success(), "dpkg -i: {}", String::from_utf8_lossy(&install.stderr));

    let version = run("/usr/bin/sockscope", &["--version"]).expect("installed binary");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("sockscope {}", env!("CARGO_PKG_VERSION"))
    );
    let dump = run("/usr/bin/sockscope", &["dump", "-l", "--json"]).expect("installed binary");
    assert!(dump.status.success(), "installed dump: {}", String::from_utf8_lossy(&dump.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&dump.stdout).expect("installed dump prints JSON");
    assert_eq!(doc["schema_version"], 1);

    let page = Path::new("/usr/share/man/man1/sockscope.1.gz");
    assert!(page.exists(), "man page not installed");
    if has("man") {
        let shown =
            Command::new("man").arg("sockscope").env("MANWIDTH", "100").env("MANPAGER", "cat").output();
        let shown = shown.expect("man");
        let text = String::from_utf8_lossy(&shown.stdout).replace('\u{2010}', "-");
        assert!(shown.status.success() && text.contains("SOCKSCOPE WATCH"), "man sockscope: {text}");
    }
    for (path, shell, check) in [
        ("/usr/share/bash-completion/completions/sockscope", "bash", "-n"),
        ("/usr/share/zsh/vendor-completions/_sockscope", "zsh", "-n"),
        ("/usr/share/fish/vendor_completions.d/sockscope.fish", "fish", "--no-execute"),
    ] {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(text.contains("sockscope"), "{path}");
        if has(shell) {
            let out = run(shell, &[check, path]).expect("shell");
            assert!(out.status.success(), "{shell} {check} {path}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
