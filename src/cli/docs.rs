//! The documentation the binary carries about itself: a man page and shell
//! completions, generated from the same clap definition as `--help`, so the
//! three never disagree. Packaging (`packaging/deb.sh`) installs their output.

use std::io::{self, Write};

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use super::args::Cli;

/// The shells `sockscope completions` writes for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for Shell {
    fn from(s: CompletionShell) -> Shell {
        match s {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }
}

/// Writes `sockscope(1)` in roff: the top-level page with every
/// subcommand's options folded in, so `man sockscope` documents every flag.
pub fn write_man_page(out: &mut dyn Write) -> io::Result<()> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_subcommand(out, sub)?;
    }
    out.write_all(TRAILER.as_bytes())?;
    man.render_version_section(out)?;
    Ok(())
}

/// What `--help` says in one line, in the sections a man page reader looks for.
const TRAILER: &str = r#".SH "EXIT STATUS"
0 ok; 1 runtime error; 2 bad arguments (one line on stderr); 3 a finding at or above \fB\-\-fail\-on\fR.
A closed output pipe (\fBsockscope dump | head\fR) exits 0.
.SH PERMISSIONS
Without root sockscope sees every socket of the namespace, the sysctls and the counters, but only the
owners of the user's own processes, and says so. Root, or the capabilities
\fBCAP_SYS_PTRACE\fR and \fBCAP_DAC_READ_SEARCH\fR
(\fBsetcap cap_sys_ptrace,cap_dac_read_search+ep /usr/bin/sockscope\fR), adds every owner and fd count;
\fB\-\-netns\fR needs \fBCAP_SYS_ADMIN\fR to enter another namespace.
.SH ENVIRONMENT
\fBNO_COLOR\fR turns colour off whatever \fB\-\-color\fR says.
.SH "SEE ALSO"
\fBss\fR(8), \fBip\-netns\fR(8), \fBproc\fR(5), \fBsock_diag\fR(7)
"#;

/// One subcommand as a section: its synopsis, what it does, its options.
fn write_subcommand(out: &mut dyn Write, sub: &clap::Command) -> io::Result<()> {
    let name = format!("sockscope {}", sub.get_name());
    let page = clap_mangen::Man::new(sub.clone().bin_name(name.clone()));
    writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
    let mut body = Vec::new();
    page.render_synopsis_section(&mut body)?;
    page.render_description_section(&mut body)?;
    page.render_options_section(&mut body)?;
    // Nested under the subcommand's heading: its own headings become subheadings.
    let text = String::from_utf8_lossy(&body).replace(".SH ", ".SS ");
    out.write_all(text.as_bytes())
}

/// Writes the completion script for `shell`.
pub fn write_completions(out: &mut dyn Write, shell: CompletionShell) -> io::Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(Shell::from(shell), &mut command, "sockscope", out);
    if shell == CompletionShell::Fish {
        // clap_complete's fish script offers files for a subcommand's
        // positional argument; the shell names are what it takes.
        writeln!(
            out,
            "complete -c sockscope -n \"__fish_sockscope_using_subcommand completions\" -f -a \"bash zsh fish\""
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn man() -> String {
        let mut out = Vec::new();
        write_man_page(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_man_page_documents_every_flag_of_every_command() {
        let page = man();
        assert!(page.contains(".TH sockscope 1"), "{page}");
        assert!(page.contains(".SH \"EXIT STATUS\""));
        for sub in Cli::command().get_subcommands().filter(|s| !s.is_hide_set()) {
            assert!(page.contains(&format!(".SH \"SOCKSCOPE {}\"", sub.get_name().to_uppercase())));
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                if let Some(long) = arg.get_long() {
                    assert!(
                        page.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))),
                        "--{long} missing"
                    );
                }
            }
        }
    }

    #[test]
    fn every_flag_is_visible_and_documented_in_help() {
        for sub in Cli::command().get_subcommands() {
            for arg in sub.get_arguments() {
                let name = arg.get_id();
                assert!(!arg.is_hide_set(), "{} --{name} is hidden", sub.get_name());
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(help.len() > 8, "{} --{name} has no help", sub.get_name());
            }
        }
    }

    #[test]
    fn completions_name_the_subcommands() {
        for shell in [CompletionShell::Bash, CompletionShell::Zsh, CompletionShell::Fish] {
            let mut out = Vec::new();
            write_completions(&mut out, shell).unwrap();
            let text = String::from_utf8(out).unwrap();
            for word in ["dump", "watch", "tui", "interval", "fail-on", "critical"] {
                assert!(text.contains(word), "{shell:?} completion lacks {word}");
            }
        }
    }

    #[test]
    fn fish_completes_the_shell_names_of_completions() {
        let mut out = Vec::new();
        write_completions(&mut out, CompletionShell::Fish).unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = text.lines().find(|l| l.contains("using_subcommand completions\" -f -a"));
        assert!(line.is_some_and(|l| l.contains("bash zsh fish")), "{text}");
    }
}
