//! Plain-text layout for terminals and printers: display width of mixed Chinese and Latin
//! text, and simple aligned tables.

/// Columns a character takes on a terminal or a fixed-pitch printer: 2 for East Asian wide
/// and full-width characters, 0 for combining marks and control characters, else 1.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    if c.is_control() || (0x300..=0x36F).contains(&u) || (0x200B..=0x200F).contains(&u) {
        return 0;
    }
    let wide = matches!(u,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD);
    if wide {
        2
    } else {
        1
    }
}

/// Display width of a string.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` padded with spaces to `w` columns (never cut).
pub fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
    out
}

/// Lays out a table: a header, a rule, and the rows, columns separated by two spaces.
pub fn table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> Vec<String> {
    let mut widths = [0usize; N];
    for row in std::iter::once(header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |row: &[String; N]| {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| if i + 1 == N { c.clone() } else { pad(c, w) })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header)];
    out.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.extend(rows.iter().map(line));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_counts_double_so_columns_line_up() {
        assert_eq!(width("王军"), 4);
        assert_eq!(width("Wang Jun"), 8);
        assert_eq!(width("ＡＢ"), 4);
        let rows = [
            ["#1".to_string(), "王军".to_string(), "x".to_string()],
            ["#2".to_string(), "Anna".to_string(), "y".to_string()],
        ];
        let header = ["No".to_string(), "Name".to_string(), "Host".to_string()];
        let lines = table(&header, &rows);
        // The third column starts at the same display column on every line.
        let col = |l: &str| width(&l[..l.rfind(' ').unwrap()]);
        assert_eq!(col(&lines[0]), col(&lines[2]));
        assert_eq!(col(&lines[2]), col(&lines[3]));
    }
}
