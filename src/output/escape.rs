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

/// An IPv4 endpoint as `ss -n` prints it (`10.0.0.1:443`, `0.0.0.0:*`),
/// formatted into `buf` without the formatting machinery: the JSON of 100k
/// sockets writes 200k of these.
pub fn ipv4_text(addr: std::net::SocketAddrV4, buf: &mut [u8; 21]) -> &str {
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    for (i, octet) in addr.ip().octets().into_iter().enumerate() {
        if i > 0 {
            put(b".");
        }
        put(decimal(u32::from(octet), &mut [0; 10]));
    }
    match addr.port() {
        0 => put(b":*"),
        port => {
            put(b":");
            put(decimal(u32::from(port), &mut [0; 10]));
        }
    }
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

/// `n` in decimal, written at the end of `digits`.
fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[start..];
        }
    }
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
    fn ipv4_text_is_the_display_text() {
        for (ip, port) in
            [([0, 0, 0, 0], 0), ([127, 0, 0, 1], 8080), ([255, 255, 255, 255], 65535), ([10, 1, 20, 3], 7)]
        {
            let addr = std::net::SocketAddrV4::new(ip.into(), port);
            let display = EndpointText(&Endpoint::Ip(addr.into())).to_string();
            assert_eq!(ipv4_text(addr, &mut [0; 21]), display);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_ipv4_endpoint_reads_as_its_display_text(ip in proptest::prelude::any::<[u8; 4]>(), port in proptest::prelude::any::<u16>()) {
            let addr = std::net::SocketAddrV4::new(ip.into(), port);
            let display = EndpointText(&Endpoint::Ip(addr.into())).to_string();
            let mut buf = [0; 21];
            proptest::prop_assert_eq!(ipv4_text(addr, &mut buf), display);
        }
    }

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
