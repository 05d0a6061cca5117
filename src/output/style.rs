//! Colour, used only on a terminal and never when `NO_COLOR` is set. Colour is
//! always an extra: every state it marks (FULL, CRITICAL...) is also a word.

use std::borrow::Cow;

/// `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// What a piece of text means, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    Critical,
    Warning,
    Info,
    Heading,
    Dim,
}

impl Paint {
    /// The paint of a finding's severity tag.
    pub fn of(severity: crate::analyze::Severity) -> Paint {
        match severity {
            crate::analyze::Severity::Critical => Paint::Critical,
            crate::analyze::Severity::Warning => Paint::Warning,
            crate::analyze::Severity::Info => Paint::Info,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Decides once, from the flag, the environment and the output stream.
    pub fn detect(choice: ColorChoice, is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = !no_color
            && match choice {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => is_terminal,
            };
        Style { color }
    }

    pub fn paint<'a>(&self, paint: Paint, text: &'a str) -> Cow<'a, str> {
        if !self.color || text.is_empty() {
            return Cow::Borrowed(text);
        }
        let code = match paint {
            Paint::Critical => "1;31",
            Paint::Warning => "33",
            Paint::Info => "36",
            Paint::Heading => "1",
            Paint::Dim => "2",
        };
        Cow::Owned(format!("\x1b[{code}m{text}\x1b[0m"))
    }
}
