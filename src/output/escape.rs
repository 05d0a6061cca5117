//! Making untrusted text safe for a terminal.
//!
//! Process names, command lines and UNIX socket paths are chosen by whoever
//! runs the process: a name containing `ESC ]` could retitle the terminal or
//! hide lines. Every such string passes through here before it is printed;
//! control characters and invalid UTF-8 become visible `\xNN` escapes.

use std::borrow::Cow;
use std::fmt::Write;

use crate::model::Endpoint;

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\'
}

/// Escapes control characters (C0, DEL, C1) and backslashes in `s`.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x100 && c.is_control() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Escapes raw bytes (e.g. a UNIX socket path): invalid UTF-8 becomes `\xNN`.
pub fn bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// An endpoint as `ss -n` prints it: `1.2.3.4:80`, `[::1]:80`, `*:*`, a path,
/// `@abstract`, or `*` for an unnamed UNIX socket.
pub fn endpoint_text(e: &Endpoint) -> String {
    EndpointText(e).to_string()
}

/// [`endpoint_text`] as a `Display`, to write without an intermediate `String`.
pub struct EndpointText<'a>(pub &'a Endpoint);

impl std::fmt::Display for EndpointText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Endpoint::Ip(std::net::SocketAddr::V4(a)) if a.port() == 0 => write!(f, "{}:*", a.ip()),
            Endpoint::Ip(std::net::SocketAddr::V6(a)) if a.port() == 0 => write!(f, "[{}]:*", a.ip()),
            Endpoint::Ip(addr) => write!(f, "{addr}"),
            Endpoint::UnixPath(p) => f.write_str(&bytes(p)),
            Endpoint::UnixAbstract(name) => write!(f, "@{}", bytes(name)),
            Endpoint::Unnamed => f.write_str("*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_borrowed_unchanged() {
        assert!(matches!(text("nginx"), Cow::Borrowed("nginx")));
    }

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(text("evil\x1b]0;pwned\x07"), "evil\\x1b]0;pwned\\x07");
        assert_eq!(text("tab\there"), "tab\\x09here");
        assert_eq!(text("c1\u{9b}31m"), "c1\\x9b31m");
        assert_eq!(text("back\\slash"), "back\\\\slash");
    }

    #[test]
    fn invalid_utf8_paths_are_escaped() {
        assert_eq!(bytes(b"/run/\xff\x1b.sock"), "/run/\\xff\\x1b.sock");
    }

    #[test]
    fn endpoints_print_like_ss() {
        let any: std::net::SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert_eq!(endpoint_text(&Endpoint::Ip(any)), "0.0.0.0:*");
        let v6: std::net::SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(endpoint_text(&Endpoint::Ip(v6)), "[::1]:8080");
        assert_eq!(endpoint_text(&Endpoint::UnixAbstract(b"x".to_vec().into())), "@x");
    }
}
