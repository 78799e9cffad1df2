//! The font badge text is rasterised with when the printer cannot draw it itself.
//!
//! The kiosk ships a subset of Noto Sans CJK SC (Regular and Bold: Latin, punctuation, every
//! GB2312 character and the Table of General Standard Chinese Characters, which holds the
//! name characters beyond GB2312), a Noto Sans subset for the Latin Extended-A letters that Noto
//! Sans CJK lacks, and the Latin letters of Noto Sans Mono CJK SC, whose half-width glyphs stand
//! in for the printer's own 12x24 font in the ESC/POS preview ([`super::render`]). The files
//! live in `assets/fonts/`; `scripts/make-font-subset.sh` rebuilds them and
//! `assets/fonts/README.md` lists what they hold.
//!
//! A character that no face has is drawn as [`REPLACEMENT`], never an error. Control and
//! invisible formatting characters (zero-width space, direction marks, ...) take no room.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use image::{GrayImage, Luma};

/// Drawn in place of every character that the font does not have.
pub const REPLACEMENT: char = '□';

/// Largest pixel size [`Font::measure`] and [`Font::render_line`] honour; larger (or invalid)
/// sizes are clamped.
pub const MAX_PX: f32 = 512.0;

/// Widest image [`Font::render_line`] produces; text beyond it is cut off.
pub const MAX_LINE_WIDTH: u32 = 16_384;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSansCJKsc-Regular.subset.otf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSansCJKsc-Bold.subset.otf");
const LATIN_EXT_REGULAR: &[u8] =
    include_bytes!("../../assets/fonts/NotoSans-Regular.latin-ext.ttf");
const LATIN_EXT_BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold.latin-ext.ttf");
const MONO_LATIN: &[u8] = include_bytes!("../../assets/fonts/NotoSansMonoCJKsc-Regular.latin.otf");

/// Coverage (0-255) from which a pixel of a printer-cell glyph becomes a dot.
const DOT_THRESHOLD: u8 = 110;

/// Why font data could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    /// The bytes are not a font fontdue can read.
    #[error("cannot read the font: {0}")]
    Parse(&'static str),
    /// No font data was given.
    #[error("no font data given")]
    Empty,
}

/// A text face: a chain of fonts tried in order for each character.
pub struct Font {
    regular: Vec<fontdue::Font>,
    bold: Bold,
    /// Monospaced half-width Latin for printer cells.
    cell: Option<fontdue::Font>,
    cells: Mutex<HashMap<CellKey, CellGlyph>>,
}

enum Bold {
    /// Drawn twice, one pixel apart.
    Emulated,
    /// Bundled bold faces, parsed when first needed.
    Bundled(OnceLock<Vec<fontdue::Font>>),
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("faces", &self.regular.len())
            .field("bold", &matches!(self.bold, Bold::Bundled(_)))
            .field("cell_face", &self.cell.is_some())
            .finish()
    }
}

impl Font {
    /// The font shipped with the kiosk, parsed on first use (the Bold face on first bold use).
    pub fn bundled() -> &'static Font {
        static FONT: OnceLock<Font> = OnceLock::new();
        FONT.get_or_init(|| Font {
            regular: vec![
                parse(REGULAR)
                    .expect("the bundled Noto Sans CJK SC Regular subset is a valid font"),
                parse(LATIN_EXT_REGULAR)
                    .expect("the bundled Noto Sans Regular subset is a valid font"),
            ],
            bold: Bold::Bundled(OnceLock::new()),
            cell: Some(
                parse(MONO_LATIN)
                    .expect("the bundled Noto Sans Mono CJK SC subset is a valid font"),
            ),
            cells: Mutex::new(HashMap::new()),
        })
    }

    /// A font from the given faces (TrueType or OpenType data), tried in order for each
    /// character. Bold is emulated by drawing twice, one pixel apart.
    pub fn from_faces(faces: &[&[u8]]) -> Result<Font, FontError> {
        if faces.is_empty() {
            return Err(FontError::Empty);
        }
        let regular = faces
            .iter()
            .map(|data| parse(data))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Font {
            regular,
            bold: Bold::Emulated,
            cell: None,
            cells: Mutex::new(HashMap::new()),
        })
    }

    /// Whether some face of the font draws `c` (rather than [`REPLACEMENT`]).
    pub fn has_glyph(&self, c: char) -> bool {
        self.regular.iter().any(|face| face.has_glyph(c))
    }

    /// The advance width of `text` at `px` pixels per em, in whole pixels (rounded up): the
    /// width of the image [`Font::render_line`] returns.
    pub fn measure(&self, text: &str, px: f32, bold: bool) -> u32 {
        let px = sane_px(px);
        let faces = self.faces(bold);
        let mut advance = 0.0f32;
        let mut visible = false;
        for c in text.chars() {
            if let Some((face, c)) = pick(faces, c) {
                advance += face.metrics(c, px).advance_width;
                visible = true;
            }
        }
        let extra = u32::from(visible && self.emulates_bold(bold));
        // The sum is finite and non-negative; `as` saturates at u32::MAX.
        (advance.ceil() as u32)
            .saturating_add(extra)
            .min(MAX_LINE_WIDTH)
    }

    /// The height of a line at `px` pixels per em (ascent plus descent of the main face,
    /// rounded up): the height of the image [`Font::render_line`] returns.
    pub fn line_height(&self, px: f32) -> u32 {
        let (ascent, descent) = self.vertical_metrics(sane_px(px));
        ascent + descent
    }

    /// `text` drawn in black (0) on white (255), anti-aliased, on one line: as wide as
    /// [`Font::measure`] and as tall as [`Font::line_height`]. Threshold it for a printer.
    pub fn render_line(&self, text: &str, px: f32, bold: bool) -> GrayImage {
        let px = sane_px(px);
        let width = self.measure(text, px, bold);
        let (ascent, descent) = self.vertical_metrics(px);
        let mut image = GrayImage::from_pixel(width, ascent + descent, Luma([255]));
        let baseline = i64::from(ascent);
        let strikes: &[i64] = if self.emulates_bold(bold) {
            &[0, 1]
        } else {
            &[0]
        };
        let faces = self.faces(bold);
        let mut pen = 0.0f32;
        for c in text.chars() {
            let Some((face, c)) = pick(faces, c) else {
                continue;
            };
            if pen >= width as f32 {
                break;
            }
            let (metrics, coverage) = face.rasterize(c, px);
            let left = (pen.round() as i64) + metrics.xmin as i64;
            let top = baseline - metrics.ymin as i64 - metrics.height as i64;
            for &dx in strikes {
                blend(&mut image, &coverage, metrics.width, left + dx, top);
            }
            pen += metrics.advance_width;
        }
        image
    }

    /// `c` drawn as a printer does in a character cell of `width` x `height` dots: black dots
    /// (`true`) row by row. Half-width cells use the monospaced Latin face where it has the
    /// character; anything wider than the cell is squeezed to fit. Results are cached.
    pub(crate) fn cell_glyph(&self, c: char, width: u32, height: u32) -> CellGlyph {
        let key = CellKey { c, width, height };
        if let Some(glyph) = self
            .cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return glyph.clone();
        }
        let glyph = self.draw_cell(c, width, height);
        self.cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, glyph.clone());
        glyph
    }

    fn draw_cell(&self, c: char, width: u32, height: u32) -> CellGlyph {
        let mut glyph = CellGlyph {
            width,
            height,
            dots: vec![false; width as usize * height as usize],
        };
        if width == 0 || height == 0 || is_invisible(c) {
            return glyph;
        }
        let full_width = width >= height;
        let (face, c, px, baseline) = match &self.cell {
            Some(mono) if !full_width && mono.has_glyph(c) => {
                // Half the em wide: fill the cell width, leave room for descenders.
                let px = (height as f32 * 0.92).min(2.0 * width as f32);
                (mono, c, px, height as f32 - (0.25 * px).ceil())
            }
            _ => {
                let (face, c) = pick(&self.regular, c).unwrap_or((&self.regular[0], REPLACEMENT));
                if full_width {
                    // The ideographic em box: 0.88 em above the baseline, 0.12 below.
                    let px = height.min(width) as f32;
                    (face, c, px, (0.88 * px).round())
                } else {
                    let px = height as f32 * 0.92;
                    (face, c, px, height as f32 - (0.25 * px).ceil())
                }
            }
        };
        let (metrics, coverage) = face.rasterize(c, px);
        if metrics.width == 0 || metrics.height == 0 {
            return glyph;
        }
        // Squeeze horizontally when the glyph is wider than the cell.
        let (coverage, glyph_width, left) = if metrics.width as u32 > width {
            (
                squeeze(&coverage, metrics.width, metrics.height, width as usize),
                width as usize,
                0i64,
            )
        } else {
            let offset = ((width as f32 - metrics.advance_width) / 2.0).max(0.0);
            let left = (offset.round() as i64 + metrics.xmin as i64)
                .clamp(0, i64::from(width) - metrics.width as i64);
            (coverage, metrics.width, left)
        };
        let top = baseline as i64 - metrics.ymin as i64 - metrics.height as i64;
        for (row, line) in coverage.chunks(glyph_width.max(1)).enumerate() {
            let y = top + row as i64;
            if !(0..i64::from(height)).contains(&y) {
                continue;
            }
            for (column, &value) in line.iter().enumerate() {
                let x = left + column as i64;
                if value >= DOT_THRESHOLD && (0..i64::from(width)).contains(&x) {
                    glyph.dots[y as usize * width as usize + x as usize] = true;
                }
            }
        }
        glyph
    }

    fn faces(&self, bold: bool) -> &[fontdue::Font] {
        match (&self.bold, bold) {
            (Bold::Bundled(faces), true) => faces.get_or_init(|| {
                vec![
                    parse(BOLD).expect("the bundled Noto Sans CJK SC Bold subset is a valid font"),
                    parse(LATIN_EXT_BOLD)
                        .expect("the bundled Noto Sans Bold subset is a valid font"),
                ]
            }),
            _ => &self.regular,
        }
    }

    fn emulates_bold(&self, bold: bool) -> bool {
        bold && matches!(self.bold, Bold::Emulated)
    }

    /// Ascent and descent of the main face, in whole pixels (rounded up).
    fn vertical_metrics(&self, px: f32) -> (u32, u32) {
        match self.regular[0].horizontal_line_metrics(px) {
            Some(line) => (
                line.ascent.max(0.0).ceil() as u32,
                (-line.descent).max(0.0).ceil() as u32,
            ),
            None => ((px * 0.88).ceil() as u32, (px * 0.12).ceil() as u32),
        }
    }
}

/// A character drawn in a printer cell: `width` x `height` dots, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CellGlyph {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) dots: Vec<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CellKey {
    c: char,
    width: u32,
    height: u32,
}

fn parse(data: &[u8]) -> Result<fontdue::Font, FontError> {
    let settings = fontdue::FontSettings {
        scale: 24.0,
        load_substitutions: false,
        ..fontdue::FontSettings::default()
    };
    fontdue::Font::from_bytes(data, settings).map_err(FontError::Parse)
}

/// The face that draws `c`, and the character to draw (`c` or [`REPLACEMENT`]); `None` for
/// characters that take no room.
fn pick(faces: &[fontdue::Font], c: char) -> Option<(&fontdue::Font, char)> {
    if is_invisible(c) {
        return None;
    }
    let first = faces.first()?;
    if let Some(face) = faces.iter().find(|face| face.has_glyph(c)) {
        return Some((face, c));
    }
    let replacement = if first.has_glyph(REPLACEMENT) {
        REPLACEMENT
    } else {
        '?'
    };
    Some((first, replacement))
}

/// Control characters and invisible formatting characters, which are not drawn.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFF0}'..='\u{FFF8}')
}

fn sane_px(px: f32) -> f32 {
    if px.is_finite() && px >= 1.0 {
        px.min(MAX_PX)
    } else {
        1.0
    }
}

/// Darkens `image` by a glyph's coverage placed with its top-left corner at (`left`, `top`).
fn blend(image: &mut GrayImage, coverage: &[u8], width: usize, left: i64, top: i64) {
    if width == 0 {
        return;
    }
    let (image_width, image_height) = (i64::from(image.width()), i64::from(image.height()));
    for (row, line) in coverage.chunks(width).enumerate() {
        let y = top + row as i64;
        if !(0..image_height).contains(&y) {
            continue;
        }
        for (column, &value) in line.iter().enumerate() {
            let x = left + column as i64;
            if value == 0 || !(0..image_width).contains(&x) {
                continue;
            }
            // x and y are inside the image, so they fit in u32.
            let pixel = image.get_pixel_mut(x as u32, y as u32);
            pixel.0[0] = pixel.0[0].min(255 - value);
        }
    }
}

/// Resamples coverage rows from `width` to `target` columns by averaging.
fn squeeze(coverage: &[u8], width: usize, height: usize, target: usize) -> Vec<u8> {
    let mut out = vec![0u8; target * height];
    if width == 0 || target == 0 {
        return out;
    }
    for row in 0..height {
        let line = &coverage[row * width..(row + 1) * width];
        for column in 0..target {
            let start = column * width / target;
            let end = ((column + 1) * width / target).max(start + 1).min(width);
            let sum: u32 = line[start..end].iter().map(|&v| u32::from(v)).sum();
            // Take the strongest of average and maximum so thin strokes survive.
            let max = line[start..end].iter().copied().max().unwrap_or(0);
            let average = (sum / (end - start) as u32) as u8;
            out[row * target + column] = average.max(max.saturating_sub(40));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink_columns(image: &GrayImage) -> Option<(u32, u32)> {
        let columns: Vec<u32> = (0..image.width())
            .filter(|&x| (0..image.height()).any(|y| image.get_pixel(x, y).0[0] < 128))
            .collect();
        Some((*columns.first()?, *columns.last()?))
    }

    #[test]
    fn bundled_font_has_latin_chinese_and_name_characters() {
        let font = Font::bundled();
        for c in "Aa Zz 0-9 é ñ ü ł č ő ş ā ǎ “”…—、。，：！（）访客王军欢迎光临喆堃犇淼昇珺玥璟婧妤祎晗琦□".chars() {
            assert!(font.has_glyph(c), "{c:?}");
        }
        assert!(!font.has_glyph('𝄞'));
        assert!(!font.has_glyph('😀'));
    }

    #[test]
    fn every_bundled_glyph_rasterises() {
        let font = Font::bundled();
        let mut blank = Vec::new();
        for face in &font.regular {
            for (&c, _) in face.chars() {
                let (metrics, coverage) = face.rasterize(c, 24.0);
                assert_eq!(coverage.len(), metrics.width * metrics.height);
                if !c.is_whitespace() && !is_invisible(c) && coverage.iter().all(|&v| v < 128) {
                    blank.push(c);
                }
            }
        }
        // Space-like characters, hairline box-drawing strokes and the half-width Hangul
        // filler draw no dark pixel; every letter, digit and hanzi does.
        let fillers = ['\u{3164}', '\u{FFA0}'];
        assert!(
            blank
                .iter()
                .all(|c| !c.is_alphanumeric() || fillers.contains(c)),
            "glyphs without ink: {blank:?}"
        );
        assert!(font.regular[0].chars().len() > 9000);
    }

    #[test]
    fn measure_matches_render_and_scales() {
        let font = Font::bundled();
        let text = "访客 Visitor 王军";
        let width = font.measure(text, 24.0, false);
        let image = font.render_line(text, 24.0, false);
        assert_eq!(image.width(), width);
        assert_eq!(image.height(), font.line_height(24.0));
        // Hanzi are one em wide; Latin is narrower.
        assert_eq!(font.measure("王军", 24.0, false), 48);
        assert!(font.measure("ab", 24.0, false) < 30);
        let double = font.measure(text, 48.0, false);
        assert!((2 * width).abs_diff(double) <= 2, "{width} {double}");
        let (first, last) = ink_columns(&image).unwrap();
        assert!(first <= 3 && last + 4 >= width, "{first} {last} {width}");
    }

    #[test]
    fn bold_is_darker_and_as_wide_or_wider() {
        let font = Font::bundled();
        let regular = font.render_line("王军 Li", 32.0, false);
        let bold = font.render_line("王军 Li", 32.0, true);
        let ink = |image: &GrayImage| image.pixels().filter(|p| p.0[0] < 128).count();
        assert!(
            ink(&bold) > ink(&regular) * 11 / 10,
            "{} {}",
            ink(&bold),
            ink(&regular)
        );
        assert!(bold.width() + 2 >= regular.width());
    }

    #[test]
    fn missing_and_invisible_characters() {
        let font = Font::bundled();
        // Missing characters are drawn as the replacement, as wide as it.
        assert_eq!(
            font.measure("😀", 24.0, false),
            font.measure(&REPLACEMENT.to_string(), 24.0, false)
        );
        assert_eq!(
            font.render_line("😀", 24.0, false),
            font.render_line("□", 24.0, false)
        );
        // Control and formatting characters take no room.
        assert_eq!(font.measure("\u{200B}\n\t\u{FEFF}", 24.0, false), 0);
        assert_eq!(font.measure("", 24.0, true), 0);
        let empty = font.render_line("", 24.0, false);
        assert_eq!(empty.width(), 0);
    }

    #[test]
    fn odd_sizes_do_not_panic() {
        let font = Font::bundled();
        for px in [f32::NAN, -3.0, 0.0, 0.5, f32::INFINITY, 1e9] {
            let image = font.render_line("Ab王", px, true);
            assert!(image.width() <= MAX_LINE_WIDTH);
        }
        let long = "王".repeat(5000);
        assert_eq!(font.measure(&long, 100.0, false), MAX_LINE_WIDTH);
        assert_eq!(
            font.render_line(&long, 100.0, false).width(),
            MAX_LINE_WIDTH
        );
    }

    #[test]
    fn from_faces_emulates_bold() {
        assert!(matches!(Font::from_faces(&[]), Err(FontError::Empty)));
        assert!(matches!(
            Font::from_faces(&[b"not a font".as_slice()]),
            Err(FontError::Parse(_))
        ));
        let font = Font::from_faces(&[LATIN_EXT_REGULAR]).unwrap();
        assert!(font.has_glyph('ł'));
        assert!(!font.has_glyph('A'));
        assert_eq!(
            font.measure("ł", 24.0, true),
            font.measure("ł", 24.0, false) + 1
        );
    }

    #[test]
    fn cell_glyphs_fit_their_cells() {
        let font = Font::bundled();
        for (c, width, height) in [
            ('A', 12, 24),
            ('g', 12, 24),
            ('W', 9, 17),
            ('王', 24, 24),
            ('═', 12, 24),
            ('ł', 12, 24),
        ] {
            let glyph = font.cell_glyph(c, width, height);
            assert_eq!(glyph.dots.len(), (width * height) as usize);
            let rows: Vec<u32> = (0..height)
                .filter(|&y| (0..width).any(|x| glyph.dots[(y * width + x) as usize]))
                .collect();
            assert!(!rows.is_empty(), "{c} has no ink");
            if c == '王' {
                assert!(rows.len() >= 18, "{c}: {rows:?}");
            }
            if c == 'A' {
                // Capitals stand on the baseline and leave the descender rows empty.
                assert!(*rows.last().unwrap() <= 19 && rows.len() >= 14, "{rows:?}");
            }
            if c == 'g' {
                assert!(*rows.last().unwrap() >= 21, "{rows:?}");
            }
        }
        assert_eq!(
            font.cell_glyph(' ', 12, 24)
                .dots
                .iter()
                .filter(|&&d| d)
                .count(),
            0
        );
    }
}
