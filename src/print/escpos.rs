//! ESC/POS bytes for a laid-out [`Badge`]: printer fonts in GB18030 Chinese mode, or text drawn
//! with the bundled font and sent as raster images, for printers whose Chinese mode is missing
//! or unreliable.
//!
//! Commands used (Epson ESC/POS, as implemented by the common 58/80 mm Chinese printers):
//!
//! | bytes | command |
//! | --- | --- |
//! | `1B 40` | ESC @: initialise |
//! | `1B 61 n` | ESC a: align left (0), centre (1), right (2) |
//! | `1D 21 n` | GS !: character size, width - 1 in the high nibble, height - 1 in the low one |
//! | `1B 45 n` | ESC E: bold on (1) or off (0) |
//! | `1B 4D n` | ESC M: font A (0, 12x24) or font B (1, 9x17) |
//! | `1C 26` / `1C 2E` | FS & / FS .: Chinese (double-byte GB18030) mode on / off |
//! | `1B 4A n` | ESC J: print and feed n dots |
//! | `1D 76 30 00 xL xH yL yH d...` | GS v 0: raster image, x bytes wide, y rows, MSB left |
//! | `1D 28 6B ...` | GS ( k: QR code (model 2, module size, error correction M, store, print) |
//! | `1D 56 42 n` | GS V 66: feed to the cutter plus n and cut, leaving a bridge |
//!
//! Feeds are counted in dots: 203-dpi printers move one dot per vertical motion unit; printers
//! with a finer unit feed a little less, which only tightens the spacing.
//!
//! Printers in Chinese mode accept only the double-byte areas of GB18030, so characters that
//! GB18030 encodes in four bytes (rare CJK extensions, emoji) are printed as `?`.

use image::imageops::FilterType;
use image::GrayImage;

use super::font::{Font, REPLACEMENT};
use super::layout::{self, Align, Badge, Block, Paper, TextSize};
use crate::config::{PrinterConfig, PrinterEncoding};
use crate::domain::Timestamp;
use crate::qr::{qr_modules, QrError};
use crate::store::RosterEntry;

/// Most rows sent in one GS v 0 image: a full 80 mm band is then 3.4 KB, which the input
/// buffer of small printers takes without stalling.
pub const MAX_RASTER_ROWS: u32 = 48;

/// Longest single feed sent (10 inches at 203 dpi); a longer [`Block::Feed`] is cut short.
pub const MAX_FEED_DOTS: u32 = 2030;

/// Largest QR payload GS ( k accepts (7092 bytes of parameters, 3 of them not data).
const MAX_NATIVE_QR_BYTES: usize = 7089;

/// Pixel size (per em) the bundled font is drawn at for each text size. The CJK em matches the
/// printer's 24-dot Chinese cell, scaled like GS ! scales it.
pub fn raster_px(size: TextSize) -> f32 {
    match size {
        TextSize::Small => 17.0,
        TextSize::Normal => 24.0,
        TextSize::Large => 48.0,
        TextSize::Huge => 72.0,
    }
}

/// Gray level below which a rasterised pixel becomes a printed dot.
const INK_BELOW: u8 = 144;

/// Thickness of a [`Block::Rule`] in dots, and the blank space above and below it.
const RULE_DOTS: u32 = 2;
const RULE_MARGIN_DOTS: u32 = 10;

/// How badge text reaches the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextMode {
    /// Printer fonts; non-ASCII text in the printer's Chinese mode, GB18030-encoded.
    Gb18030,
    /// Text drawn with the bundled font and printed as raster images.
    Raster,
}

/// What the encoder needs to know about a printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrinterProfile {
    /// Printable dots per line: 384 (58 mm) or 576 (80 mm).
    pub paper_dots: u32,
    pub text: TextMode,
    /// Whether the printer draws QR codes itself (GS ( k); else they are sent as images.
    pub native_qr: bool,
}

impl PrinterProfile {
    /// The profile of the configured printer.
    pub fn from_config(config: &PrinterConfig) -> PrinterProfile {
        PrinterProfile {
            paper_dots: Paper::from_mm(config.paper_width_mm).dots(),
            text: match config.encoding {
                PrinterEncoding::Gb18030 => TextMode::Gb18030,
                PrinterEncoding::Raster => TextMode::Raster,
            },
            native_qr: config.native_qr,
        }
    }

    /// The paper the layout should use for this printer.
    pub fn paper(&self) -> Paper {
        if self.paper_dots >= Paper::Mm80.dots() {
            Paper::Mm80
        } else {
            Paper::Mm58
        }
    }
}

/// Why a slip could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The slip was laid out for wider paper than the printer has.
    #[error("the slip is laid out for {layout} dots but the printer has {printer}")]
    PaperTooNarrow { layout: u32, printer: u32 },
    /// The QR code cannot be encoded.
    #[error(transparent)]
    Qr(#[from] QrError),
    /// The QR code is wider than the paper at the requested module size.
    #[error("the QR code is {width} dots wide, the paper {paper}")]
    QrTooWide { width: u32, paper: u32 },
    /// A QR module size of zero was requested.
    #[error("a QR module must be at least one dot wide")]
    ZeroModule,
    /// The QR payload is longer than a printer accepts.
    #[error("the QR data is {0} bytes, more than a printer accepts")]
    QrTooLong(usize),
}

/// Encodes a laid-out slip for `profile`: ESC @, the blocks in order, ending with the cut.
pub fn encode(badge: &Badge, profile: &PrinterProfile) -> Result<Vec<u8>, EncodeError> {
    let layout_dots = badge.paper.dots();
    if profile.paper_dots < layout_dots {
        return Err(EncodeError::PaperTooNarrow {
            layout: layout_dots,
            printer: profile.paper_dots,
        });
    }
    let mut encoder = Encoder {
        out: Vec::with_capacity(2048),
        paper_dots: layout_dots,
        profile: *profile,
        state: PrintState::default(),
        chinese: false,
    };
    encoder.out.extend_from_slice(&[ESC, b'@']);
    for block in &badge.blocks {
        encoder.block(block)?;
    }
    encoder.leave_chinese_mode();
    Ok(encoder.out)
}

/// Encodes the evacuation roster (应急名单) of the people on site at `now`, laid out by
/// [`layout::roster`] for the printer's paper.
pub fn encode_roster(
    entries: &[RosterEntry],
    site: &str,
    now: Timestamp,
    tz: chrono_tz::Tz,
    profile: &PrinterProfile,
) -> Result<Vec<u8>, EncodeError> {
    let roster = layout::roster(entries, site, now, tz, profile.paper());
    encode(&roster, profile)
}

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const LF: u8 = 0x0A;

/// Print modes as the printer has them after ESC @.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PrintState {
    align: Align,
    size: u8,
    bold: bool,
    font_b: bool,
}

impl Default for PrintState {
    fn default() -> PrintState {
        PrintState {
            align: Align::Left,
            size: 0,
            bold: false,
            font_b: false,
        }
    }
}

struct Encoder {
    out: Vec<u8>,
    /// Width the slip was laid out for; raster images are placed within it.
    paper_dots: u32,
    profile: PrinterProfile,
    state: PrintState,
    /// Whether FS & has been sent and not yet cancelled.
    chinese: bool,
}

impl Encoder {
    fn block(&mut self, block: &Block) -> Result<(), EncodeError> {
        match block {
            Block::Text {
                text,
                size,
                bold,
                align,
            } => {
                // Lines from the layout already fit; a hand-made slip may not, and is wrapped
                // here the same way rather than left to the printer.
                let lines = if layout::text_dots(text, *size) <= self.paper_dots {
                    vec![text.clone()]
                } else {
                    layout::wrap(text, *size, self.paper_dots)
                };
                for line in lines {
                    match self.profile.text {
                        TextMode::Gb18030 => self.printer_text(&line, *size, *bold, *align),
                        TextMode::Raster => self.raster_text(&line, *size, *bold, *align),
                    }
                }
            }
            Block::Rule => self.rule(),
            Block::Qr { data, module_dots } => self.qr(data, *module_dots)?,
            Block::Feed(dots) => self.feed(*dots),
            Block::Cut => {
                self.leave_chinese_mode();
                self.out.extend_from_slice(&[GS, b'V', 66, 0]);
            }
        }
        Ok(())
    }

    fn set_align(&mut self, align: Align) {
        if self.state.align != align {
            let n = match align {
                Align::Left => 0,
                Align::Center => 1,
                Align::Right => 2,
            };
            self.out.extend_from_slice(&[ESC, b'a', n]);
            self.state.align = align;
        }
    }

    fn printer_text(&mut self, text: &str, size: TextSize, bold: bool, align: Align) {
        let (bytes, double_byte) = gb18030_line(text);
        if bytes.is_empty() {
            return;
        }
        self.set_align(align);
        let font_b = size == TextSize::Small;
        if self.state.font_b != font_b {
            self.out.extend_from_slice(&[ESC, b'M', u8::from(font_b)]);
            self.state.font_b = font_b;
        }
        let magnify = (size.scale() - 1) as u8;
        let size_byte = (magnify << 4) | magnify;
        if self.state.size != size_byte {
            self.out.extend_from_slice(&[GS, b'!', size_byte]);
            self.state.size = size_byte;
        }
        if self.state.bold != bold {
            self.out.extend_from_slice(&[ESC, b'E', u8::from(bold)]);
            self.state.bold = bold;
        }
        if double_byte && !self.chinese {
            self.out.extend_from_slice(&[FS, b'&']);
            self.chinese = true;
        }
        self.out.extend_from_slice(&bytes);
        self.out.push(LF);
    }

    fn leave_chinese_mode(&mut self) {
        if self.chinese {
            self.out.extend_from_slice(&[FS, b'.']);
            self.chinese = false;
        }
    }

    fn raster_text(&mut self, text: &str, size: TextSize, bold: bool, align: Align) {
        let font = Font::bundled();
        let drawable: String = text
            .chars()
            .filter(|c| !c.is_control())
            .map(|c| {
                if c.is_whitespace() || font.has_glyph(c) {
                    c
                } else {
                    REPLACEMENT
                }
            })
            .collect();
        if drawable.trim().is_empty() {
            return;
        }
        let image = font.render_line(&drawable, raster_px(size), bold);
        // The layout budgets the printer's cell widths; a proportional face can run a little
        // wider on capitals, in which case the line is narrowed rather than cut.
        let image = if image.width() > self.paper_dots {
            image::imageops::resize(
                &image,
                self.paper_dots,
                image.height(),
                FilterType::Triangle,
            )
        } else {
            image
        };
        let bitmap = Bitmap::from_gray(&image);
        let left = match align {
            Align::Left => 0,
            Align::Center => (self.paper_dots - bitmap.width) / 2,
            Align::Right => self.paper_dots - bitmap.width,
        };
        self.raster(&bitmap, left);
    }

    fn rule(&mut self) {
        let mut bitmap = Bitmap::blank(self.paper_dots, RULE_DOTS + 2 * RULE_MARGIN_DOTS);
        for y in RULE_MARGIN_DOTS..RULE_MARGIN_DOTS + RULE_DOTS {
            for x in 0..self.paper_dots {
                bitmap.set(x, y);
            }
        }
        self.raster(&bitmap, 0);
    }

    fn qr(&mut self, data: &str, module_dots: u8) -> Result<(), EncodeError> {
        if module_dots == 0 {
            return Err(EncodeError::ZeroModule);
        }
        let (modules, dark) = qr_modules(data)?;
        let modules = u32::try_from(modules).unwrap_or(u32::MAX);
        let width = modules.saturating_mul(u32::from(module_dots));
        if width > self.paper_dots {
            return Err(EncodeError::QrTooWide {
                width,
                paper: self.paper_dots,
            });
        }
        if self.profile.native_qr {
            let bytes = data.as_bytes();
            if bytes.len() > MAX_NATIVE_QR_BYTES {
                return Err(EncodeError::QrTooLong(bytes.len()));
            }
            self.set_align(Align::Center);
            let size = module_dots.min(16);
            // Model 2, module size, error correction M (49), then store and print.
            self.qr_function(65, &[50, 0]);
            self.qr_function(67, &[size]);
            self.qr_function(69, &[49]);
            let mut store = Vec::with_capacity(bytes.len() + 1);
            store.push(48);
            store.extend_from_slice(bytes);
            self.qr_function(80, &store);
            self.qr_function(81, &[48]);
            return Ok(());
        }
        let m = u32::from(module_dots);
        let mut bitmap = Bitmap::blank(width, width);
        for (index, _) in dark.iter().enumerate().filter(|(_, dark)| **dark) {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            let (row, column) = (index / modules, index % modules);
            for y in row * m..(row + 1) * m {
                for x in column * m..(column + 1) * m {
                    bitmap.set(x, y);
                }
            }
        }
        self.raster(&bitmap, (self.paper_dots - width) / 2);
        Ok(())
    }

    /// GS ( k for the QR code (cn = 49) function `fn_code` with its parameters.
    fn qr_function(&mut self, fn_code: u8, params: &[u8]) {
        let len = params.len() + 2;
        self.out.extend_from_slice(&[
            GS,
            b'(',
            b'k',
            (len & 0xFF) as u8,
            (len >> 8) as u8,
            49,
            fn_code,
        ]);
        self.out.extend_from_slice(params);
    }

    fn feed(&mut self, dots: u32) {
        let mut dots = dots.min(MAX_FEED_DOTS);
        while dots > 0 {
            let step = dots.min(255);
            self.out.extend_from_slice(&[ESC, b'J', step as u8]);
            dots -= step;
        }
    }

    /// Sends `bitmap` with its left edge `left` dots from the margin: blank rows as feeds,
    /// the rest as GS v 0 images of at most [`MAX_RASTER_ROWS`] rows, each only as wide as its
    /// rightmost dot. The left offset is sent as blank bytes, which every printer honours, with
    /// the alignment set to left so that the printer does not move the image again.
    fn raster(&mut self, bitmap: &Bitmap, left: u32) {
        // Printers apply ESC a to raster images too; the padding already places this one.
        if bitmap.dots.iter().any(|&dot| dot) {
            self.set_align(Align::Left);
        }
        let mut y = 0;
        while y < bitmap.height {
            let blank = (y..bitmap.height)
                .take_while(|&row| bitmap.row_extent(row).is_none())
                .count() as u32;
            if blank > 0 {
                self.feed(blank);
                y += blank;
                continue;
            }
            let band = (y..bitmap.height)
                .take(MAX_RASTER_ROWS as usize)
                .take_while(|&row| bitmap.row_extent(row).is_some())
                .count() as u32;
            let right = (y..y + band)
                .filter_map(|row| bitmap.row_extent(row))
                .max()
                .unwrap_or(0);
            let width_bytes = (left + right + 1).div_ceil(8);
            self.out.extend_from_slice(&[
                GS,
                b'v',
                b'0',
                0,
                (width_bytes & 0xFF) as u8,
                (width_bytes >> 8) as u8,
                (band & 0xFF) as u8,
                (band >> 8) as u8,
            ]);
            for row in y..y + band {
                for byte in 0..width_bytes {
                    let mut packed = 0u8;
                    for bit in 0..8 {
                        let x = byte * 8 + bit;
                        if x >= left && bitmap.get(x - left, row) {
                            packed |= 0x80 >> bit;
                        }
                    }
                    self.out.push(packed);
                }
            }
            y += band;
        }
    }
}

/// `text` as bytes for a printer in Chinese mode, and whether it holds double-byte
/// characters. Control and zero-width characters are dropped; characters outside the
/// double-byte areas of GB18030 become `?`.
fn gb18030_line(text: &str) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(text.len());
    let mut double_byte = false;
    let mut buffer = [0u8; 4];
    for c in text.chars() {
        if c.is_control() {
            continue;
        }
        if c.is_ascii() {
            out.push(c as u8);
            continue;
        }
        if crate::text::char_width(c) == 0 {
            continue;
        }
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode(c.encode_utf8(&mut buffer));
        if !unmappable && bytes.len() == 2 && bytes.first().is_some_and(|&b| b >= 0x81) {
            out.extend_from_slice(&bytes);
            double_byte = true;
        } else {
            out.push(b'?');
        }
    }
    (out, double_byte)
}

/// A 1-bit image: `true` is a printed dot.
struct Bitmap {
    width: u32,
    height: u32,
    dots: Vec<bool>,
}

impl Bitmap {
    fn blank(width: u32, height: u32) -> Bitmap {
        Bitmap {
            width,
            height,
            dots: vec![false; width as usize * height as usize],
        }
    }

    fn from_gray(image: &GrayImage) -> Bitmap {
        Bitmap {
            width: image.width(),
            height: image.height(),
            dots: image.pixels().map(|p| p.0[0] < INK_BELOW).collect(),
        }
    }

    fn set(&mut self, x: u32, y: u32) {
        if x < self.width && y < self.height {
            self.dots[y as usize * self.width as usize + x as usize] = true;
        }
    }

    fn get(&self, x: u32, y: u32) -> bool {
        x < self.width
            && y < self.height
            && self.dots[y as usize * self.width as usize + x as usize]
    }

    /// The rightmost dot of row `y`, `None` for a blank row.
    fn row_extent(&self, y: u32) -> Option<u32> {
        let start = y as usize * self.width as usize;
        let row = self.dots.get(start..start + self.width as usize)?;
        row.iter().rposition(|&dot| dot).map(|x| x as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder(text: TextMode, native_qr: bool) -> Encoder {
        Encoder {
            out: Vec::new(),
            paper_dots: 384,
            profile: PrinterProfile {
                paper_dots: 384,
                text,
                native_qr,
            },
            state: PrintState::default(),
            chinese: false,
        }
    }

    #[test]
    fn gb18030_lines() {
        assert_eq!(gb18030_line("Anna"), (b"Anna".to_vec(), false));
        assert_eq!(gb18030_line("王军"), (vec![0xCD, 0xF5, 0xBE, 0xFC], true));
        // Four-byte GB18030 (U+20000, emoji) becomes '?'; controls and zero-width marks go.
        assert_eq!(
            gb18030_line("a\u{20000}\u{1F600}b"),
            (b"a??b".to_vec(), false)
        );
        assert_eq!(
            gb18030_line("a\u{1b}@\u{200B}\u{301}b"),
            (b"a@b".to_vec(), false)
        );
    }

    #[test]
    fn text_modes_are_sent_only_when_they_change() {
        let mut e = encoder(TextMode::Gb18030, true);
        e.printer_text("A", TextSize::Normal, false, Align::Left);
        assert_eq!(e.out, b"A\n");
        e.out.clear();
        e.printer_text("王", TextSize::Large, true, Align::Center);
        e.printer_text("王", TextSize::Large, true, Align::Center);
        assert_eq!(
            e.out,
            [
                &[ESC, b'a', 1, GS, b'!', 0x11, ESC, b'E', 1, FS, b'&'][..],
                &[0xCD, 0xF5, LF, 0xCD, 0xF5, LF],
            ]
            .concat()
        );
        e.out.clear();
        e.printer_text("x", TextSize::Small, false, Align::Center);
        assert_eq!(e.out, [ESC, b'M', 1, GS, b'!', 0, ESC, b'E', 0, b'x', LF]);
        e.leave_chinese_mode();
        e.leave_chinese_mode();
        assert!(e.out.ends_with(&[LF, FS, b'.']));
    }

    #[test]
    fn raster_sends_blank_rows_as_feeds_and_splits_bands() {
        let mut e = encoder(TextMode::Raster, false);
        let mut bitmap = Bitmap::blank(20, 110);
        // Rows 5..105 have a dot at column 9: 100 rows, three bands (48, 48, 4).
        for y in 5..105 {
            bitmap.set(9, y);
        }
        e.raster(&bitmap, 16);
        let header = |rows: u8| [GS, b'v', b'0', 0, 4, 0, rows, 0];
        let mut expected = vec![ESC, b'J', 5];
        for rows in [48u8, 48, 4] {
            expected.extend_from_slice(&header(rows));
            // Column 16 + 9 = 25: byte 3, bit 1 from the left.
            for _ in 0..rows {
                expected.extend_from_slice(&[0, 0, 0, 0x40]);
            }
        }
        expected.extend_from_slice(&[ESC, b'J', 5]);
        assert_eq!(e.out, expected);
    }

    #[test]
    fn feeds_are_split_and_capped() {
        let mut e = encoder(TextMode::Raster, false);
        e.feed(300);
        assert_eq!(e.out, [ESC, b'J', 255, ESC, b'J', 45]);
        e.out.clear();
        e.feed(u32::MAX);
        assert_eq!(e.out.len(), 3 * MAX_FEED_DOTS.div_ceil(255) as usize);
    }

    #[test]
    fn native_qr_commands() {
        let mut e = encoder(TextMode::Raster, true);
        e.qr("LKO:7K3QMX9P", 6).unwrap();
        let mut expected = vec![ESC, b'a', 1];
        expected.extend_from_slice(&[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]);
        expected.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 67, 6]);
        expected.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 69, 49]);
        expected.extend_from_slice(&[GS, b'(', b'k', 15, 0, 49, 80, 48]);
        expected.extend_from_slice(b"LKO:7K3QMX9P");
        expected.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 81, 48]);
        assert_eq!(e.out, expected);
    }

    #[test]
    fn qr_errors() {
        let mut e = encoder(TextMode::Raster, false);
        assert!(matches!(
            e.qr("LKO:7K3QMX9P", 0),
            Err(EncodeError::ZeroModule)
        ));
        // 21 modules of 20 dots is wider than 384.
        assert!(matches!(
            e.qr("LKO:7K3QMX9P", 20),
            Err(EncodeError::QrTooWide {
                width: 420,
                paper: 384
            })
        ));
        assert!(matches!(
            e.qr(&"x".repeat(5000), 2),
            Err(EncodeError::Qr(_))
        ));
    }

    #[test]
    fn raster_qr_is_centred_and_module_exact() {
        let mut e = encoder(TextMode::Raster, false);
        e.qr("LKO:7K3QMX9P", 4).unwrap();
        // 21 modules x 4 dots = 84 dots, left at (384 - 84) / 2 = 150; the top-left finder is
        // dark across its first row: dots 150..178.
        let data_start = 8;
        assert_eq!(&e.out[..4], &[GS, b'v', b'0', 0]);
        let width_bytes = usize::from(e.out[4]);
        assert_eq!(width_bytes, (150 + 84usize).div_ceil(8));
        let row: Vec<bool> = (0..width_bytes * 8)
            .map(|x| e.out[data_start + x / 8] & (0x80 >> (x % 8)) != 0)
            .collect();
        assert!(!row[149] && row[150] && row[177] && !row[178]);
    }
}
