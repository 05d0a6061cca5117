//! Making text fit a column without cutting it: a name too long for its
//! column is shortened with an ellipsis (`php-fp…(77)`), an address keeps its
//! port (`[2001:db8…]:443`), a list says how many did not fit (`tcp:80 +3`).
//! A cut-off value reads as a different value; an ellipsis says "more".

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::Snapshot;
use crate::output::escape;

const ELLIPSIS: char = '…';

/// The longest prefix of `text` at most `width` columns wide.
fn prefix(text: &str, width: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += c.width().unwrap_or(0);
        if used > width {
            return &text[..i];
        }
    }
    text
}

/// The longest suffix of `text` at most `width` columns wide.
fn suffix(text: &str, width: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices().rev() {
        used += c.width().unwrap_or(0);
        if used > width {
            return &text[i + c.len_utf8()..];
        }
    }
    text
}

/// `text` if it fits in `width` columns, else its start and an ellipsis.
pub(crate) fn end(text: &str, width: usize) -> String {
    match text.width() <= width {
        true => text.to_string(),
        false if width == 0 => String::new(),
        false => format!("{}{ELLIPSIS}", prefix(text, width - 1)),
    }
}

/// `text` if it fits, else its start, an ellipsis and its last `keep`
/// columns (an address keeps its port, a path its file name).
pub(crate) fn middle(text: &str, width: usize, keep: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let keep = keep.min(width.saturating_sub(2));
    let tail = suffix(text, keep);
    let head = prefix(text, width.saturating_sub(tail.width() + 1));
    format!("{head}{ELLIPSIS}{tail}")
}

/// An endpoint in `width` columns: shortened in the middle, keeping the
/// `:port` (or the end of a path).
pub(crate) fn endpoint(text: &str, width: usize) -> String {
    let keep = text.rfind(':').map_or(8, |i| text.len() - i + 1).clamp(4, 12);
    middle(text, width, keep)
}

/// One owner as `comm(pid)` in `width` columns: the name shortens, the pid stays.
pub(crate) fn owner(comm: &str, pid: u32, width: usize) -> String {
    let pid = format!("({pid})");
    let name = escape::text(comm);
    let room = width.saturating_sub(pid.width());
    match room {
        0 => end(&format!("{name}{pid}"), width),
        _ => format!("{}{pid}", end(&name, room)),
    }
}

/// The owners of a socket in `width` columns: every `comm(pid)` when they
/// fit, else as many as fit and `+N`, the first one shortened if need be;
/// `-` when no owner is known.
pub(crate) fn owners(snapshot: &Snapshot, inode: u64, width: usize) -> String {
    let pids = snapshot.owner_pids(inode);
    let names: Vec<String> =
        pids.iter().map(|&pid| format!("{}({pid})", escape::text(snapshot.comm(pid)))).collect();
    match names.first() {
        None => "-".to_string(),
        Some(_) => list(&names, ",", width, |_, room| owner(snapshot.comm(pids[0]), pids[0], room)),
    }
}

/// Items joined by `sep` in `width` columns: as many whole items as fit and
/// `+N` for the rest; the first item is shortened by `shorten` when even it
/// does not fit beside its `+N`.
pub(crate) fn list(
    items: &[String],
    sep: &str,
    width: usize,
    shorten: impl Fn(&str, usize) -> String,
) -> String {
    let whole = items.join(sep);
    if whole.width() <= width || items.is_empty() {
        return whole;
    }
    let mut text = String::new();
    for (i, item) in items.iter().enumerate() {
        let candidate = match text.is_empty() {
            true => item.clone(),
            false => format!("{text}{sep}{item}"),
        };
        let after = items.len() - i - 1;
        let tail = if after > 0 { format!(" +{after}") } else { String::new() };
        if candidate.width() + tail.width() > width {
            if text.is_empty() {
                return format!("{}{tail}", shorten(item, width.saturating_sub(tail.width())));
            }
            return format!("{text} +{}", after + 1);
        }
        text = candidate;
    }
    text
}

/// `text` word-wrapped into at most `max_lines` lines of `width` columns;
/// the last line ends with an ellipsis when text is left over.
pub(crate) fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut words = text.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let joined = if current.is_empty() { word.to_string() } else { format!("{current} {word}") };
        if joined.width() <= width || current.is_empty() {
            current = joined;
            continue;
        }
        if lines.len() + 1 == max_lines {
            let rest: Vec<&str> = std::iter::once(word).chain(words).collect();
            current = end(&format!("{current} {}", rest.join(" ")), width);
            break;
        }
        lines.push(std::mem::take(&mut current));
        current = word.to_string();
    }
    if !current.is_empty() && max_lines > 0 {
        lines.push(end(&current, width));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_get_an_ellipsis_not_a_cut() {
        assert_eq!(end("php-fpm", 10), "php-fpm");
        assert_eq!(end("php-fpm: pool www", 8), "php-fpm…");
        assert_eq!(owner("php-fpm: pool", 77, 10), "php-f…(77)");
        assert_eq!(owner("nginx", 1234, 20), "nginx(1234)");
        assert!(owner("x", 4_194_304, 4).width() <= 4);
    }

    #[test]
    fn addresses_keep_their_port() {
        assert_eq!(endpoint("[2001:db8:1:2:3:4:5:6]:443", 16), "[2001:db8:…]:443");
        assert_eq!(endpoint("127.0.0.1:8080", 20), "127.0.0.1:8080");
        let path = endpoint("/run/a/very/long/path/app.sock", 16);
        assert_eq!(path.width(), 16, "{path}");
        assert!(path.starts_with("/run") && path.contains('…'), "{path}");
    }

    #[test]
    fn lists_say_how_many_did_not_fit() {
        let items: Vec<String> = ["tcp:80", "tcp:443", "u_str:/run/app.sock"].map(String::from).to_vec();
        assert_eq!(list(&items, " ", 40, end), "tcp:80 tcp:443 u_str:/run/app.sock");
        assert_eq!(list(&items, " ", 17, end), "tcp:80 tcp:443 +1");
        assert_eq!(list(&items, " ", 16, end), "tcp:80 +2");
        assert_eq!(list(&items, " ", 6, end), "tc… +2");
    }

    #[test]
    fn wrapping_breaks_at_words_and_marks_what_is_left() {
        assert_eq!(wrap("cap on every listen() backlog", 14, 3), ["cap on every", "listen()", "backlog"]);
        assert_eq!(wrap("cap on every listen() backlog", 14, 2), ["cap on every", "listen() back…"]);
        assert_eq!(wrap("short", 14, 2), ["short"]);
    }

    #[test]
    fn wide_characters_count_as_two_columns() {
        assert_eq!(end("日本語のプロセス", 7), "日本語…");
        assert!(end("日本語のプロセス", 7).width() <= 7);
    }
}
