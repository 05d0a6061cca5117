//! Aligned text tables: measure every cell, then print padded rows, the way
//! `ss` does. Widths are terminal columns of the plain text (`unicode-width`:
//! a CJK character takes two, a combining mark none); colour is added after
//! padding so escape codes never skew alignment.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::style::{Paint, Style};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cell {
    pub text: String,
    pub paint: Option<Paint>,
}

impl Cell {
    pub(crate) fn painted(text: impl Into<String>, paint: Option<Paint>) -> Cell {
        Cell { text: text.into(), paint }
    }
}

impl<T: Into<String>> From<T> for Cell {
    fn from(text: T) -> Cell {
        Cell::painted(text, None)
    }
}

pub(crate) struct Table {
    headers: Vec<&'static str>,
    aligns: Vec<Align>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            aligns: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.text.width());
            }
        }
        widths
    }

    pub(crate) fn write(&self, out: &mut dyn Write, style: &Style) -> io::Result<()> {
        let widths = self.widths();
        let header: Vec<Cell> =
            self.headers.iter().map(|h| Cell::painted(*h, Some(Paint::Heading))).collect();
        write_row(out, &header, &widths, &self.aligns, style)?;
        for row in &self.rows {
            write_row(out, row, &widths, &self.aligns, style)?;
        }
        Ok(())
    }
}

/// Writes one row; the last column is not padded (no trailing spaces).
pub(crate) fn write_row(
    out: &mut dyn Write,
    row: &[Cell],
    widths: &[usize],
    aligns: &[Align],
    style: &Style,
) -> io::Result<()> {
    let last = row.len().saturating_sub(1);
    for (i, cell) in row.iter().enumerate() {
        let width = widths.get(i).copied().unwrap_or(0);
        let pad = width.saturating_sub(cell.text.width());
        let text = match cell.paint {
            Some(p) => style.paint(p, &cell.text),
            None => cell.text.as_str().into(),
        };
        let (left, right) = match aligns.get(i) {
            Some(Align::Right) => (pad, 0),
            _ if i == last => (0, 0),
            _ => (0, pad),
        };
        let sep = if i == last { "" } else { "  " };
        write!(out, "{:left$}{text}{:right$}{sep}", "", "")?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_right_justify() {
        let mut t = Table::new(&[("Name", Align::Left), ("N", Align::Right), ("Owners", Align::Left)]);
        t.push(vec!["a".into(), "5".into(), "x(1)".into()]);
        t.push(vec!["long".into(), "100".into(), "y(22)".into()]);
        let mut out = Vec::new();
        t.write(&mut out, &Style::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "Name    N  Owners\na       5  x(1)\nlong  100  y(22)\n");
    }

    #[test]
    fn wide_characters_count_as_two_columns() {
        let mut t = Table::new(&[("Owner", Align::Left), ("N", Align::Right)]);
        t.push(vec!["服务".into(), "1".into()]);
        t.push(vec!["abcde".into(), "2".into()]);
        let mut out = Vec::new();
        t.write(&mut out, &Style::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "Owner  N\n服务   1\nabcde  2\n", "服务 is four columns wide");
    }
}
