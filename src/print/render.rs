//! ESC/POS bytes to a picture of the printed slip: the preview printer and the tests' eyes.
//!
//! [`render`] interprets the commands a badge uses and the ones real receipt printers accept,
//! as an Epson-compatible 203 dpi thermal printer in standard mode would, and draws the slip
//! as white paper with black dots, `paper_dots` wide (384 on 58 mm paper, 576 on 80 mm).
//!
//! What it draws:
//! - text in the printer's cells: font A 12x24 and font B 9x17 half-width, 24x24 full-width
//!   Chinese (GB18030, between `FS &` and `FS .`), with `GS !` / `ESC !` / `FS !` / `FS W`
//!   sizes (dots repeated, as a printer does), emphasis (`ESC E`, `ESC G`: struck twice one
//!   dot apart), underline (`ESC -`, `FS -`), reverse (`GS B`), right-side spacing (`ESC SP`,
//!   `FS S`), tabs (`HT`, `ESC D`), positions (`ESC $`, `ESC \`), alignment (`ESC a`), margins
//!   (`GS L`, `GS W`) and wrapping at the print area like a printer's line buffer. Glyphs come
//!   from the bundled [`Font`], an approximation of the printer's ROM font on the same grid:
//!   32 / 48 columns of font A and 42 / 64 of font B on 384 / 576 dots;
//! - feeds: `LF`, `ESC d`, `ESC J`, line spacing `ESC 2` / `ESC 3`; a line feeds by the line
//!   spacing or by its tallest content, whichever is more; contents of one line are aligned
//!   at their bottom;
//! - images: `GS v 0` raster images (scaling modes 0-3), `ESC *` 8- and 24-dot column images,
//!   `GS ( L` / `GS 8 L` raster graphics stored in the print buffer (function 112) and
//!   printed (function 50);
//! - QR codes: `GS ( k` functions 165 (model), 167 (module size), 169 (error correction),
//!   180 (store) and 181 (print), drawn with [`crate::qr::qr_modules`] (level M; another
//!   level gives a warning, as the modules then differ from the printer's), without a quiet
//!   zone, as printers do;
//! - cuts: `GS V` (all forms) and `ESC i` / `ESC m`, counted and drawn as a dashed line
//!   (long dashes for a full cut, short ones for a partial cut). The distance from the print
//!   head to the cutter is not modelled: `GS V 65/66 n` feeds `n` dots and cuts there.
//!
//! Status requests (`DLE EOT`, `DLE ENQ`, `GS r`, `GS I`, `GS a`), the drawer pulse (`ESC p`,
//! `DLE DC4`) and settings without a visible effect are accepted silently. Every other known
//! command is skipped by its parameter length with a warning; an unknown command gives a
//! warning and its bytes are read on as data, as a printer does. Input that ends inside a
//! command ends the render. Text left in the line buffer at the end (no `LF`) is not printed,
//! as on paper, and is reported. No byte string makes [`render`] panic.
//!
//! `RenderOptions::chinese_encoding` says what the printer does with text bytes of 0x80 and
//! more: [`TextEncoding::Gb18030`] is a printer with a Chinese font, which reads GB18030
//! (two- and four-byte sequences) in Chinese mode; Chinese mode starts off and `ESC @` turns
//! it off again, so a job must send `FS &` itself. [`TextEncoding::Latin1`] is a printer
//! without one: `FS &` is ignored with a warning. Outside Chinese mode single bytes come from
//! the code table chosen with `ESC t`: PC437 (0, the default) or WPC1252 (16, Latin-1); other
//! tables are drawn as PC437 with a warning.

use std::collections::HashMap;

use image::codecs::png::PngEncoder;
use image::{GrayImage, Luma};

use super::font::{Font, REPLACEMENT};

/// The longest slip [`render`] draws, in dots (about 5 m at 203 dpi); rendering stops there
/// with a warning.
pub const MAX_HEIGHT_DOTS: u32 = 40_000;

/// The widest paper [`render`] accepts, in dots.
pub const MAX_PAPER_DOTS: u32 = 4096;

/// Line spacing after `ESC @` and `ESC 2`, in dots.
pub const DEFAULT_LINE_SPACING: u32 = 30;

const MAX_WARNINGS: usize = 100;

const NUL: u8 = 0x00;
const HT: u8 = 0x09;
const LF: u8 = 0x0A;
const FF: u8 = 0x0C;
const CR: u8 = 0x0D;
const DLE: u8 = 0x10;
const CAN: u8 = 0x18;
const ESC: u8 = 0x1B;
const FS: u8 = 0x1C;
const GS: u8 = 0x1D;

/// What the printer does with text bytes of 0x80 and more (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// A printer with a Chinese font: GB18030 in Chinese mode (`FS &` ... `FS .`).
    #[default]
    Gb18030,
    /// A printer without one: single-byte code tables only (PC437 unless `ESC t` says else).
    Latin1,
}

/// The printer being imitated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Dots per line: 384 for 58 mm paper, 576 for 80 mm paper.
    pub paper_dots: u32,
    /// What text bytes of 0x80 and more mean.
    pub chinese_encoding: TextEncoding,
}

impl RenderOptions {
    /// 58 mm paper (384 dots) on a printer with a Chinese font.
    pub const PAPER_58MM: RenderOptions = RenderOptions {
        paper_dots: 384,
        chinese_encoding: TextEncoding::Gb18030,
    };
    /// 80 mm paper (576 dots) on a printer with a Chinese font.
    pub const PAPER_80MM: RenderOptions = RenderOptions {
        paper_dots: 576,
        chinese_encoding: TextEncoding::Gb18030,
    };
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions::PAPER_80MM
    }
}

/// The printed slip.
#[derive(Debug, Clone)]
pub struct RenderedSlip {
    /// `paper_dots` wide and as tall as the paper fed (at least one row): white (255) paper,
    /// black (0) dots, cut lines drawn dashed in grey (128).
    pub image: GrayImage,
    /// How many cuts (full or partial) the job asked for.
    pub cuts: usize,
    /// What the renderer skipped, ignored or could not draw faithfully, with the byte offset
    /// of the first occurrence (and a count when it happened more than once).
    pub warnings: Vec<String>,
}

/// Why a job could not be rendered at all.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The paper width is zero or larger than [`MAX_PAPER_DOTS`].
    #[error("unsupported paper width of {0} dots (1 to {MAX_PAPER_DOTS})")]
    PaperWidth(u32),
    /// PNG encoding failed.
    #[error("cannot encode the slip as PNG: {0}")]
    Png(#[from] image::ImageError),
}

/// Renders an ESC/POS job as the printer would print it.
pub fn render(bytes: &[u8], opts: &RenderOptions) -> Result<RenderedSlip, RenderError> {
    if opts.paper_dots == 0 || opts.paper_dots > MAX_PAPER_DOTS {
        return Err(RenderError::PaperWidth(opts.paper_dots));
    }
    let mut printer = Printer::new(Font::bundled(), *opts);
    let mut input = Input { bytes, pos: 0 };
    printer.input_len = bytes.len();
    while input.pos < bytes.len() && !printer.stopped {
        let start = input.pos;
        printer.at = start;
        if let Err(Truncated(what)) = printer.step(&mut input) {
            printer.warn(
                start,
                format!("input ends inside {what}; rendering stopped"),
            );
            break;
        }
    }
    Ok(printer.finish())
}

/// The slip as a PNG file.
pub fn to_png(image: &GrayImage) -> Result<Vec<u8>, RenderError> {
    let mut png = Vec::new();
    image.write_with_encoder(PngEncoder::new(&mut png))?;
    Ok(png)
}

/// The input ended inside the named command.
struct Truncated(&'static str);

struct Input<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).ok_or(Truncated(what))?;
        let taken = self.bytes.get(self.pos..end).ok_or(Truncated(what))?;
        self.pos = end;
        Ok(taken)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, Truncated> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<usize, Truncated> {
        let b = self.take(2, what)?;
        Ok(usize::from(b[0]) | usize::from(b[1]) << 8)
    }

    fn peek(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos.checked_add(offset)?).copied()
    }
}

/// A rectangle of dots, row by row.
#[derive(Debug, Clone)]
struct Bitmap {
    width: u32,
    height: u32,
    dots: Vec<bool>,
}

impl Bitmap {
    fn new(width: u32, height: u32) -> Bitmap {
        Bitmap {
            width,
            height,
            dots: vec![false; width as usize * height as usize],
        }
    }

    fn get(&self, x: u32, y: u32) -> bool {
        x < self.width
            && y < self.height
            && self.dots[y as usize * self.width as usize + x as usize]
    }

    fn set(&mut self, x: u32, y: u32, value: bool) {
        if x < self.width && y < self.height {
            self.dots[y as usize * self.width as usize + x as usize] = value;
        }
    }

    /// Each dot repeated `wx` times across and `wy` times down.
    fn scaled(&self, wx: u32, wy: u32) -> Bitmap {
        if wx == 1 && wy == 1 {
            return self.clone();
        }
        let mut out = Bitmap::new(self.width * wx, self.height * wy);
        for y in 0..out.height {
            for x in 0..out.width {
                if self.get(x / wx, y / wy) {
                    out.set(x, y, true);
                }
            }
        }
        out
    }
}

/// Something placed in the line buffer: a character or a column image.
struct Item {
    x: u32,
    bitmap: Bitmap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Center,
    Right,
}

/// Settings that `ESC @` restores.
#[derive(Debug, Clone)]
struct Modes {
    line_spacing: u32,
    align: Align,
    left_margin: u32,
    area_width: u32,
    font_b: bool,
    emphasized: bool,
    double_strike: bool,
    underline: u8,
    width_mul: u32,
    height_mul: u32,
    reverse: bool,
    right_spacing: u32,
    code_table: u8,
    chinese: bool,
    kanji_double_width: bool,
    kanji_double_height: bool,
    kanji_quadruple: bool,
    kanji_underline: u8,
    kanji_left: u32,
    kanji_right: u32,
    /// Tab stops in dots from the left margin.
    tabs: Vec<u32>,
}

impl Modes {
    fn new(paper_dots: u32) -> Modes {
        Modes {
            line_spacing: DEFAULT_LINE_SPACING,
            align: Align::Left,
            left_margin: 0,
            area_width: paper_dots,
            font_b: false,
            emphasized: false,
            double_strike: false,
            underline: 0,
            width_mul: 1,
            height_mul: 1,
            reverse: false,
            right_spacing: 0,
            code_table: 0,
            chinese: false,
            kanji_double_width: false,
            kanji_double_height: false,
            kanji_quadruple: false,
            kanji_underline: 0,
            kanji_left: 0,
            kanji_right: 0,
            // Every 8 characters of font A.
            tabs: (1..=32).map(|n| n * 8 * 12).collect(),
        }
    }
}

struct Qr {
    module: u32,
    ec_level: u8,
    model: u8,
    data: Vec<u8>,
}

struct Printer<'f> {
    font: &'f Font,
    opts: RenderOptions,
    modes: Modes,
    qr: Qr,
    /// Raster graphics stored with `GS ( L` function 112, waiting for function 50.
    graphics: Option<Bitmap>,
    /// The line buffer and the position within it (dots from the left margin).
    line: Vec<Item>,
    x: u32,
    /// Top of the next line on the paper.
    y: u32,
    paper: Vec<u8>,
    paper_rows: u32,
    cuts: usize,
    stopped: bool,
    /// Offset of the command being interpreted, and the length of the job.
    at: usize,
    input_len: usize,
    warnings: Vec<(usize, String, usize)>,
    warning_index: HashMap<String, usize>,
    dropped_warnings: usize,
}

impl<'f> Printer<'f> {
    fn new(font: &'f Font, opts: RenderOptions) -> Printer<'f> {
        Printer {
            font,
            opts,
            modes: Modes::new(opts.paper_dots),
            qr: Qr {
                module: 3,
                ec_level: 48,
                model: 50,
                data: Vec::new(),
            },
            graphics: None,
            line: Vec::new(),
            x: 0,
            y: 0,
            paper: Vec::new(),
            paper_rows: 0,
            cuts: 0,
            stopped: false,
            at: 0,
            input_len: 0,
            warnings: Vec::new(),
            warning_index: HashMap::new(),
            dropped_warnings: 0,
        }
    }

    fn warn(&mut self, offset: usize, message: String) {
        if let Some(&index) = self.warning_index.get(&message) {
            self.warnings[index].2 += 1;
        } else if self.warnings.len() < MAX_WARNINGS {
            self.warning_index
                .insert(message.clone(), self.warnings.len());
            self.warnings.push((offset, message, 1));
        } else {
            self.dropped_warnings += 1;
        }
    }

    fn finish(mut self) -> RenderedSlip {
        if !self.line.is_empty() && !self.stopped {
            let end = self.input_len;
            self.warn(
                end,
                format!(
                    "{} item(s) left in the line buffer at the end of the job were not printed (no LF)",
                    self.line.len()
                ),
            );
        }
        let mut warnings: Vec<String> = self
            .warnings
            .iter()
            .map(|(offset, message, count)| match count {
                1 => format!("byte {offset}: {message}"),
                _ => format!("byte {offset}: {message} ({count} times)"),
            })
            .collect();
        if self.dropped_warnings > 0 {
            warnings.push(format!("{} more warnings left out", self.dropped_warnings));
        }
        let rows = self.paper_rows.max(self.y).clamp(1, MAX_HEIGHT_DOTS);
        self.grow(rows);
        let width = self.opts.paper_dots;
        let pixels = self.paper[..(width * rows) as usize].to_vec();
        let image = GrayImage::from_raw(width, rows, pixels)
            .unwrap_or_else(|| GrayImage::from_pixel(width, rows, Luma([255])));
        RenderedSlip {
            image,
            cuts: self.cuts,
            warnings,
        }
    }

    // ----- paper -----

    /// Makes the paper at least `rows` tall; false (and rendering stops) past the limit.
    fn grow(&mut self, rows: u32) -> bool {
        if rows > MAX_HEIGHT_DOTS {
            if !self.stopped {
                self.stopped = true;
                let at = self.at;
                self.warn(
                    at,
                    format!("the slip is longer than {MAX_HEIGHT_DOTS} dots; rendering stopped"),
                );
            }
            return false;
        }
        if rows > self.paper_rows {
            self.paper
                .resize(rows as usize * self.opts.paper_dots as usize, 255);
            self.paper_rows = rows;
        }
        true
    }

    fn dot(&mut self, x: u32, y: u32, value: u8) {
        if x < self.opts.paper_dots && y < self.paper_rows {
            self.paper[(y * self.opts.paper_dots + x) as usize] = value;
        }
    }

    /// Draws `bitmap` with its top-left corner at (`left`, `top`), clipped to the paper.
    fn draw(&mut self, bitmap: &Bitmap, left: u32, top: u32) {
        let bottom = top.saturating_add(bitmap.height);
        if bitmap.height > 0 && !self.grow(bottom) {
            return;
        }
        for y in 0..bitmap.height {
            for x in 0..bitmap.width {
                if bitmap.get(x, y) {
                    self.dot(left.saturating_add(x), top + y, 0);
                }
            }
        }
    }

    fn feed(&mut self, dots: u32) {
        let y = self.y.saturating_add(dots);
        if self.grow(y) {
            self.y = y;
        }
    }

    fn cut(&mut self, partial: bool) {
        self.cuts += 1;
        if !self.grow(self.y.saturating_add(1)) {
            return;
        }
        let row = self.y;
        let (on, period) = if partial { (3, 8) } else { (12, 18) };
        for x in 0..self.opts.paper_dots {
            if x % period < on {
                self.dot(x, row, 128);
            }
        }
    }

    // ----- line buffer -----

    /// Left edge and width of the print area.
    fn area(&self) -> (u32, u32) {
        let left = self
            .modes
            .left_margin
            .min(self.opts.paper_dots.saturating_sub(1));
        let width = self
            .modes
            .area_width
            .min(self.opts.paper_dots - left)
            .max(1);
        (left, width)
    }

    /// Prints the line buffer at `self.y` and returns its height (0 for an empty buffer).
    fn print_line(&mut self) -> u32 {
        let items = std::mem::take(&mut self.line);
        let used = self.x;
        self.x = 0;
        let height = items.iter().map(|i| i.bitmap.height).max().unwrap_or(0);
        if items.is_empty() {
            return 0;
        }
        let (left, width) = self.area();
        let offset = match self.modes.align {
            Align::Left => 0,
            Align::Center => width.saturating_sub(used) / 2,
            Align::Right => width.saturating_sub(used),
        };
        for item in &items {
            let top = self.y + height - item.bitmap.height;
            self.draw(&item.bitmap, left + offset + item.x, top);
        }
        height
    }

    /// `LF`: print and feed one line.
    fn line_feed(&mut self) {
        let height = self.print_line();
        self.feed(height.max(self.modes.line_spacing));
    }

    /// Puts an item at the current position, printing the line first when it does not fit.
    /// Items wider than the whole print area are cut off at its edge.
    fn place(&mut self, bitmap: Bitmap, offset: usize) {
        let (_, width) = self.area();
        if self.x.saturating_add(bitmap.width) > width && !self.line.is_empty() {
            self.line_feed();
        }
        let mut bitmap = bitmap;
        if self.x.saturating_add(bitmap.width) > width {
            self.warn(
                offset,
                "content wider than the print area was cut off".into(),
            );
            let keep = width.saturating_sub(self.x);
            let mut clipped = Bitmap::new(keep, bitmap.height);
            for y in 0..bitmap.height {
                for x in 0..keep {
                    clipped.set(x, y, bitmap.get(x, y));
                }
            }
            bitmap = clipped;
        }
        let x = self.x;
        self.x = self.x.saturating_add(bitmap.width);
        self.line.push(Item { x, bitmap });
    }

    /// Prints a block (raster image, QR code) on lines of its own, aligned as set.
    fn print_block(&mut self, bitmap: &Bitmap, offset: usize, what: &str) {
        if !self.line.is_empty() {
            self.warn(
                offset,
                format!("{what} sent with text in the line buffer: the text is printed first"),
            );
            self.line_feed();
        }
        let (left, width) = self.area();
        if bitmap.width > width {
            self.warn(
                offset,
                format!("{what} wider than the print area was cut off"),
            );
        }
        let offset_x = match self.modes.align {
            Align::Left => 0,
            Align::Center => width.saturating_sub(bitmap.width) / 2,
            Align::Right => width.saturating_sub(bitmap.width),
        };
        let mut visible = bitmap.clone();
        if bitmap.width > width {
            visible = Bitmap::new(width, bitmap.height);
            for y in 0..bitmap.height {
                for x in 0..width {
                    visible.set(x, y, bitmap.get(x, y));
                }
            }
        }
        let top = self.y;
        self.draw(&visible, left + offset_x, top);
        self.feed(bitmap.height);
    }

    // ----- text -----

    fn put_char(&mut self, c: char, full_width: bool, offset: usize) {
        let m = &self.modes;
        let (cell_w, cell_h) = if full_width {
            (24, 24)
        } else if m.font_b {
            (9, 17)
        } else {
            (12, 24)
        };
        let (wx, wy, left, right, underline) = if full_width {
            let quad = if m.kanji_quadruple { 2 } else { 1 };
            let wx = m
                .width_mul
                .max(if m.kanji_double_width { 2 } else { 1 })
                .max(quad);
            let wy = m
                .height_mul
                .max(if m.kanji_double_height { 2 } else { 1 })
                .max(quad);
            (wx, wy, m.kanji_left, m.kanji_right, m.kanji_underline)
        } else {
            (m.width_mul, m.height_mul, 0, m.right_spacing, m.underline)
        };
        let bold = m.emphasized || m.double_strike;
        let reverse = m.reverse;
        let glyph = self.font.cell_glyph(c, cell_w, cell_h);
        let mut cell = Bitmap::new(left + cell_w + right, cell_h);
        for y in 0..cell_h {
            for x in 0..cell_w {
                let on = glyph.dots[(y * cell_w + x) as usize]
                    || (bold && x > 0 && glyph.dots[(y * cell_w + x - 1) as usize]);
                cell.set(left + x, y, on);
            }
        }
        let mut bitmap = cell.scaled(wx, wy);
        if underline > 0 {
            let rows = u32::from(underline.min(2));
            for y in bitmap.height - rows..bitmap.height {
                for x in 0..bitmap.width {
                    bitmap.set(x, y, true);
                }
            }
        }
        if reverse {
            for dot in &mut bitmap.dots {
                *dot = !*dot;
            }
        }
        self.place(bitmap, offset);
    }

    /// A text byte outside Chinese mode, through the code table.
    fn single_byte(&mut self, byte: u8, offset: usize) {
        let c = if byte < 0x80 {
            char::from(byte)
        } else {
            if self.opts.chinese_encoding == TextEncoding::Gb18030 {
                self.warn(
                    offset,
                    "byte 0x80 or more outside Chinese mode (no FS &): drawn from the code table"
                        .into(),
                );
            }
            match self.modes.code_table {
                16 => decode_1252(byte),
                0 => PC437_HIGH[usize::from(byte - 0x80)],
                other => {
                    self.warn(
                        offset,
                        format!("code table {other} (ESC t) is not emulated: drawn as PC437"),
                    );
                    PC437_HIGH[usize::from(byte - 0x80)]
                }
            }
        };
        self.put_char(c, false, offset);
    }

    /// A multi-byte character in Chinese mode, starting with `lead` (0x81-0xFE).
    fn chinese_char(&mut self, input: &mut Input, offset: usize) -> Result<(), Truncated> {
        const WHAT: &str = "a GB18030 character";
        let second = input.peek(1).ok_or(Truncated(WHAT))?;
        let length = if (0x30..=0x39).contains(&second) {
            4
        } else {
            2
        };
        let bytes = input.take(length, WHAT)?;
        let decoded =
            encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes);
        let mut chars = decoded.as_deref().unwrap_or("").chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => self.put_char(c, true, offset),
            _ => {
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
                self.warn(
                    offset,
                    format!(
                        "invalid GB18030 sequence {}: drawn as {REPLACEMENT}",
                        hex.join(" ")
                    ),
                );
                self.put_char(REPLACEMENT, true, offset);
            }
        }
        Ok(())
    }

    fn tab(&mut self) {
        let (_, width) = self.area();
        let next = self.modes.tabs.iter().copied().find(|&t| t > self.x);
        self.x = match next {
            Some(t) if t <= width => t,
            _ => width,
        };
    }

    // ----- the command interpreter -----

    fn step(&mut self, input: &mut Input) -> Result<(), Truncated> {
        let offset = input.pos;
        let byte = input.byte("a byte")?;
        match byte {
            LF => self.line_feed(),
            CR | NUL | CAN => {}
            HT => self.tab(),
            FF => {
                if !self.line.is_empty() {
                    self.line_feed();
                }
            }
            DLE => self.dle(input)?,
            ESC => self.esc(input, offset)?,
            FS => self.fs(input, offset)?,
            GS => self.gs(input, offset)?,
            0x01..=0x1F | 0x7F => {
                self.warn(offset, format!("control byte 0x{byte:02X} ignored"));
            }
            0x81..=0xFE if self.modes.chinese => {
                input.pos = offset;
                self.chinese_char(input, offset)?;
            }
            0x80 | 0xFF if self.modes.chinese => {
                self.warn(
                    offset,
                    format!("byte 0x{byte:02X} is not GB18030 text: skipped"),
                );
            }
            _ => self.single_byte(byte, offset),
        }
        Ok(())
    }

    fn dle(&mut self, input: &mut Input) -> Result<(), Truncated> {
        match input.peek(0) {
            // Real-time status requests: no output.
            Some(0x04) | Some(0x05) => {
                input.take(2, "DLE EOT / DLE ENQ")?;
            }
            Some(0x14) => {
                input.take(1, "DLE DC4")?;
                let function = input.byte("DLE DC4")?;
                let rest = match function {
                    1 | 2 => 2,
                    7 => 1,
                    8 => 7,
                    _ => 0,
                };
                input.take(rest, "DLE DC4")?;
            }
            _ => {}
        }
        Ok(())
    }

    fn esc(&mut self, input: &mut Input, offset: usize) -> Result<(), Truncated> {
        let command = input.byte("an ESC command")?;
        let name = esc_name(command);
        match command {
            b'@' => {
                if !self.line.is_empty() {
                    self.warn(offset, "ESC @ discarded text in the line buffer".into());
                    self.line.clear();
                    self.x = 0;
                }
                self.modes = Modes::new(self.opts.paper_dots);
            }
            b'a' => {
                let n = input.byte(name)?;
                let align = match n {
                    0 | 48 => Some(Align::Left),
                    1 | 49 => Some(Align::Center),
                    2 | 50 => Some(Align::Right),
                    _ => None,
                };
                if !self.line.is_empty() {
                    self.warn(
                        offset,
                        "ESC a in the middle of a line is ignored (it works at the start of a line)"
                            .into(),
                    );
                } else if let Some(align) = align {
                    self.modes.align = align;
                }
            }
            b'E' => self.modes.emphasized = input.byte(name)? & 1 == 1,
            b'G' => self.modes.double_strike = input.byte(name)? & 1 == 1,
            b'-' => self.modes.underline = underline(input.byte(name)?),
            b'!' => {
                let n = input.byte(name)?;
                self.modes.font_b = n & 0x01 != 0;
                self.modes.emphasized = n & 0x08 != 0;
                self.modes.height_mul = if n & 0x10 != 0 { 2 } else { 1 };
                self.modes.width_mul = if n & 0x20 != 0 { 2 } else { 1 };
                self.modes.underline = if n & 0x80 != 0 { 1 } else { 0 };
            }
            b'M' => {
                let n = input.byte(name)?;
                match n {
                    0 | 48 => self.modes.font_b = false,
                    1 | 49 => self.modes.font_b = true,
                    _ => self.warn(offset, format!("ESC M {n}: font not emulated, unchanged")),
                }
            }
            b't' => self.modes.code_table = input.byte(name)?,
            b' ' => self.modes.right_spacing = u32::from(input.byte(name)?),
            b'2' => self.modes.line_spacing = DEFAULT_LINE_SPACING,
            b'3' => self.modes.line_spacing = u32::from(input.byte(name)?),
            b'd' => {
                let n = u32::from(input.byte(name)?);
                let height = self.print_line();
                let lines = n.saturating_mul(self.modes.line_spacing);
                let first = if n > 0 { self.modes.line_spacing } else { 0 };
                self.feed(height.max(first) + lines.saturating_sub(first));
            }
            b'J' => {
                let n = u32::from(input.byte(name)?);
                let height = self.print_line();
                self.feed(height.max(n));
            }
            b'K' | b'e' => {
                input.byte(name)?;
                self.warn(offset, format!("{name} (reverse feed) ignored"));
            }
            b'$' => {
                let n = input.u16(name)? as u32;
                let (_, width) = self.area();
                if n <= width {
                    self.x = n;
                }
            }
            b'\\' => {
                let n = input.u16(name)? as i32 as i16;
                let (_, width) = self.area();
                let x = i64::from(self.x) + i64::from(n);
                if (0..=i64::from(width)).contains(&x) {
                    self.x = x as u32;
                }
            }
            b'D' => {
                let mut tabs = Vec::new();
                let pitch = (if self.modes.font_b { 9 } else { 12 } + self.modes.right_spacing)
                    * self.modes.width_mul;
                for _ in 0..=32 {
                    let n = input.byte(name)?;
                    if n == 0 {
                        break;
                    }
                    let position = u32::from(n) * pitch;
                    if tabs.last().is_some_and(|&last| last >= position) {
                        continue;
                    }
                    tabs.push(position);
                }
                self.modes.tabs = tabs;
            }
            b'*' => self.column_image(input, offset)?,
            b'p' => {
                input.take(3, name)?;
            }
            b'c' => {
                input.take(2, name)?;
            }
            b'i' | b'm' => {
                self.flush_before(offset, "cut (ESC i / ESC m)");
                self.cut(true);
            }
            b'V' | b'{' => {
                if input.byte(name)? & 1 == 1 {
                    self.warn(offset, format!("{name} (rotated printing) is not emulated"));
                }
            }
            b'R' | b'U' | b'=' | b'r' | b'u' | b'T' | b'%' | b'?' => {
                input.byte(name)?;
            }
            b'L' => self.warn(
                offset,
                "page mode (ESC L) is not emulated: drawn as standard mode".into(),
            ),
            b'S' | b'v' | b'<' => {}
            b'W' => {
                input.take(8, name)?;
                self.warn(offset, "ESC W (page mode area) ignored".into());
            }
            b'&' => {
                let header = input.take(3, name)?;
                let (rows, first, last) = (usize::from(header[0]), header[1], header[2]);
                for _ in first..=last.max(first) {
                    let columns = usize::from(input.byte(name)?);
                    input.take(rows * columns, name)?;
                }
                self.warn(
                    offset,
                    "user-defined characters (ESC &) are not emulated".into(),
                );
            }
            b'(' => {
                let function = input.byte(name)?;
                let length = input.u16(name)?;
                input.take(length, name)?;
                self.warn(offset, format!("ESC ( {} ignored", printable(function)));
            }
            other => self.warn(offset, format!("unknown command ESC {}", printable(other))),
        }
        Ok(())
    }

    fn fs(&mut self, input: &mut Input, offset: usize) -> Result<(), Truncated> {
        let command = input.byte("an FS command")?;
        let name = "an FS command";
        match command {
            b'&' => match self.opts.chinese_encoding {
                TextEncoding::Gb18030 => self.modes.chinese = true,
                TextEncoding::Latin1 => self.warn(
                    offset,
                    "FS & ignored: this printer has no Chinese font".into(),
                ),
            },
            b'.' => self.modes.chinese = false,
            b'!' => {
                let n = input.byte(name)?;
                self.modes.kanji_double_width = n & 0x04 != 0;
                self.modes.kanji_double_height = n & 0x08 != 0;
                self.modes.kanji_underline = if n & 0x80 != 0 { 1 } else { 0 };
            }
            b'-' => self.modes.kanji_underline = underline(input.byte(name)?),
            b'S' => {
                let b = input.take(2, name)?;
                self.modes.kanji_left = u32::from(b[0]);
                self.modes.kanji_right = u32::from(b[1]);
            }
            b'W' => self.modes.kanji_quadruple = input.byte(name)? & 1 == 1,
            b'C' => {
                let n = input.byte(name)?;
                if !matches!(n, 0 | 48) {
                    self.warn(offset, format!("FS C {n}: only GB18030 is emulated"));
                }
            }
            b'2' => {
                input.take(74, name)?;
                self.warn(
                    offset,
                    "user-defined Chinese characters (FS 2) are not emulated".into(),
                );
            }
            b'?' => {
                input.take(2, name)?;
            }
            b'p' => {
                input.take(2, name)?;
                self.warn(
                    offset,
                    "NV bit images (FS p) are not stored: nothing printed".into(),
                );
            }
            b'q' => {
                let count = input.byte(name)?;
                for _ in 0..count {
                    let x = input.u16(name)?;
                    let y = input.u16(name)?;
                    input.take(x.saturating_mul(y).saturating_mul(8), name)?;
                }
                self.warn(offset, "NV bit image definitions (FS q) ignored".into());
            }
            b'(' => {
                let function = input.byte(name)?;
                let length = input.u16(name)?;
                input.take(length, name)?;
                self.warn(offset, format!("FS ( {} ignored", printable(function)));
            }
            b'g' => {
                let function = input.byte(name)?;
                let header = input.take(7, name)?;
                if function == b'1' {
                    let length = usize::from(header[5]) | usize::from(header[6]) << 8;
                    input.take(length, name)?;
                }
                self.warn(offset, "FS g (NV user memory) ignored".into());
            }
            other => self.warn(offset, format!("unknown command FS {}", printable(other))),
        }
        Ok(())
    }

    fn gs(&mut self, input: &mut Input, offset: usize) -> Result<(), Truncated> {
        let command = input.byte("a GS command")?;
        let name = gs_name(command);
        match command {
            b'!' => {
                let n = input.byte(name)?;
                let (w, h) = (u32::from(n >> 4) + 1, u32::from(n & 0x0F) + 1);
                if w > 8 || h > 8 {
                    self.warn(offset, format!("GS ! {n}: size out of range, ignored"));
                } else {
                    self.modes.width_mul = w;
                    self.modes.height_mul = h;
                }
            }
            b'B' => self.modes.reverse = input.byte(name)? & 1 == 1,
            b'V' => {
                let m = input.byte(name)?;
                let (partial, feed) = match m {
                    0 | 48 => (false, None),
                    1 | 49 => (true, None),
                    65 | 97 | 103 => (false, Some(input.byte(name)?)),
                    66 | 98 | 104 => (true, Some(input.byte(name)?)),
                    _ => {
                        self.warn(
                            offset,
                            format!("GS V {m}: unknown cut mode, treated as a full cut"),
                        );
                        (false, None)
                    }
                };
                self.flush_before(offset, "cut (GS V)");
                if let Some(n) = feed {
                    self.feed(u32::from(n));
                }
                self.cut(partial);
            }
            b'v' => {
                let kind = input.byte(name)?;
                if kind != b'0' {
                    self.warn(offset, format!("unknown command GS v {}", printable(kind)));
                    return Ok(());
                }
                let mode = input.byte(name)?;
                let width_bytes = input.u16(name)?;
                let height = input.u16(name)?;
                let data = input.take(width_bytes.saturating_mul(height), name)?;
                if too_large(width_bytes * 8, height) {
                    self.warn(offset, "GS v 0 image larger than any slip, skipped".into());
                    return Ok(());
                }
                let bitmap = raster(data, width_bytes, height);
                let (wx, wy) = match mode {
                    0 | 48 => (1, 1),
                    1 | 49 => (2, 1),
                    2 | 50 => (1, 2),
                    3 | 51 => (2, 2),
                    _ => {
                        self.warn(
                            offset,
                            format!("GS v 0 mode {mode} unknown: drawn unscaled"),
                        );
                        (1, 1)
                    }
                };
                if !self.line.is_empty() {
                    self.warn(
                        offset,
                        "GS v 0 with data in the line buffer is ignored by the printer (send LF first)"
                            .into(),
                    );
                } else if bitmap.width > 0 && bitmap.height > 0 {
                    let bitmap = bitmap.scaled(wx, wy);
                    self.print_block(&bitmap, offset, "raster image");
                }
            }
            b'(' => self.gs_paren(input, offset)?,
            b'8' => {
                let function = input.byte(name)?;
                let length = input.take(4, name)?;
                let length = u32::from_le_bytes([length[0], length[1], length[2], length[3]]);
                let body = input.take(length as usize, name)?;
                if function == b'L' {
                    self.graphics_command(body, offset);
                } else {
                    self.warn(offset, format!("GS 8 {} ignored", printable(function)));
                }
            }
            b'L' => {
                let n = input.u16(name)? as u32;
                if self.line.is_empty() {
                    self.modes.left_margin = n.min(self.opts.paper_dots.saturating_sub(1));
                } else {
                    self.warn(offset, "GS L in the middle of a line is ignored".into());
                }
            }
            b'W' => {
                let n = input.u16(name)? as u32;
                if self.line.is_empty() {
                    self.modes.area_width = n.clamp(1, self.opts.paper_dots);
                } else {
                    self.warn(offset, "GS W in the middle of a line is ignored".into());
                }
            }
            b'P' | b'$' | b'\\' => {
                input.take(2, name)?;
            }
            b'k' => {
                let m = input.byte(name)?;
                if m <= 6 {
                    while input.byte(name)? != NUL {}
                } else {
                    let n = usize::from(input.byte(name)?);
                    input.take(n, name)?;
                }
                self.warn(offset, "barcodes (GS k) are not drawn".into());
            }
            b'h' | b'w' | b'H' | b'f' | b'x' | b'a' | b'r' | b'I' | b'b' | b'E' | b'j' | b'T' => {
                input.byte(name)?;
            }
            b'/' => {
                input.byte(name)?;
                self.warn(
                    offset,
                    "downloaded bit images (GS /) are not stored: nothing printed".into(),
                );
            }
            b'*' => {
                let size = input.take(2, name)?;
                input.take(usize::from(size[0]) * usize::from(size[1]) * 8, name)?;
                self.warn(
                    offset,
                    "downloaded bit image definitions (GS *) ignored".into(),
                );
            }
            b'^' => {
                input.take(3, name)?;
            }
            b'z' => {
                input.take(3, name)?;
            }
            b'g' => {
                input.take(4, name)?;
            }
            b':' | b'c' => {}
            other => self.warn(offset, format!("unknown command GS {}", printable(other))),
        }
        Ok(())
    }

    /// `GS ( X pL pH ...`
    fn gs_paren(&mut self, input: &mut Input, offset: usize) -> Result<(), Truncated> {
        const WHAT: &str = "a GS ( command";
        let function = input.byte(WHAT)?;
        let length = input.u16(WHAT)?;
        let body = input.take(length, WHAT)?;
        match function {
            b'k' => self.symbol(body, offset),
            b'L' => self.graphics_command(body, offset),
            // Status, settings and paper-layout functions without visible effect.
            b'A' | b'C' | b'D' | b'E' | b'H' | b'K' | b'M' | b'N' | b'P' | b'Q' | b'z' => {}
            other => self.warn(offset, format!("GS ( {} ignored", printable(other))),
        }
        Ok(())
    }

    /// `GS ( k`: two-dimensional symbols. Only QR codes (cn 49) are drawn.
    fn symbol(&mut self, body: &[u8], offset: usize) {
        let (Some(&cn), Some(&function)) = (body.first(), body.get(1)) else {
            self.warn(offset, "GS ( k too short, ignored".into());
            return;
        };
        if cn != 49 {
            self.warn(
                offset,
                format!("GS ( k symbol type {cn} (not QR) is not drawn"),
            );
            return;
        }
        let params = &body[2..];
        match function {
            // Function 165: model.
            65 => {
                if let Some(&model) = params.first() {
                    if model != 50 {
                        self.warn(offset, format!("QR model {model} drawn as model 2"));
                    }
                    self.qr.model = model;
                }
            }
            // Function 167: module size.
            67 => {
                if let Some(&n) = params.first() {
                    if (1..=16).contains(&n) {
                        self.qr.module = u32::from(n);
                    } else {
                        self.warn(offset, format!("QR module size {n} out of range, ignored"));
                    }
                }
            }
            // Function 169: error correction level.
            69 => {
                if let Some(&n) = params.first() {
                    self.qr.ec_level = n;
                }
            }
            // Function 180: store the data (after m = 48).
            80 => self.qr.data = params.get(1..).unwrap_or_default().to_vec(),
            // Function 181: print.
            81 => self.print_qr(offset),
            // Function 182: size information; a status answer, no output.
            82 => {}
            other => self.warn(offset, format!("QR function {other} ignored")),
        }
    }

    fn print_qr(&mut self, offset: usize) {
        if self.qr.data.is_empty() {
            self.warn(
                offset,
                "QR print with no stored data: nothing printed".into(),
            );
            return;
        }
        if self.qr.ec_level != 49 {
            self.warn(
                offset,
                format!(
                    "QR error correction {} drawn at level M: the printer's modules differ",
                    match self.qr.ec_level {
                        48 => "L",
                        50 => "Q",
                        51 => "H",
                        _ => "(invalid)",
                    }
                ),
            );
        }
        let text = match std::str::from_utf8(&self.qr.data) {
            Ok(text) => text.to_owned(),
            Err(_) => {
                self.warn(
                    offset,
                    "QR data is not UTF-8: drawn from its lossy conversion".into(),
                );
                String::from_utf8_lossy(&self.qr.data).into_owned()
            }
        };
        let (side, modules) = match crate::qr::qr_modules(&text) {
            Ok(grid) => grid,
            Err(error) => {
                self.warn(offset, format!("QR not printed: {error}"));
                return;
            }
        };
        let module = self.qr.module;
        let side = side as u32;
        let (_, width) = self.area();
        if side * module > width {
            self.warn(
                offset,
                "QR code wider than the print area is not printed".into(),
            );
            return;
        }
        let mut bitmap = Bitmap::new(side, side);
        for (index, &dark) in modules.iter().enumerate() {
            if dark {
                bitmap.set(index as u32 % side, index as u32 / side, true);
            }
        }
        let bitmap = bitmap.scaled(module, module);
        self.print_block(&bitmap, offset, "QR code");
    }

    /// `GS ( L` / `GS 8 L` body: `m fn ...`.
    fn graphics_command(&mut self, body: &[u8], offset: usize) {
        match body.get(1) {
            // Function 112: store raster graphics in the print buffer.
            Some(112) => {
                let Some(header) = body.get(2..10) else {
                    self.warn(offset, "GS ( L function 112 too short, ignored".into());
                    return;
                };
                let (tone, bx, by, color) = (header[0], header[1], header[2], header[3]);
                let width = usize::from(header[4]) | usize::from(header[5]) << 8;
                let height = usize::from(header[6]) | usize::from(header[7]) << 8;
                let width_bytes = width.div_ceil(8);
                let data = &body[10..];
                if too_large(width, height) {
                    self.warn(
                        offset,
                        "GS ( L graphics larger than any slip, skipped".into(),
                    );
                    return;
                }
                if tone != 48 || data.len() < width_bytes.saturating_mul(height) {
                    self.warn(
                        offset,
                        "GS ( L graphics not monochrome or short, ignored".into(),
                    );
                    return;
                }
                if color != 49 {
                    // Only the first colour prints on a one-colour printer.
                    return;
                }
                let mut bitmap = raster(data, width_bytes, height);
                if bitmap.width as usize > width {
                    let mut exact = Bitmap::new(width as u32, height as u32);
                    for y in 0..exact.height {
                        for x in 0..exact.width {
                            exact.set(x, y, bitmap.get(x, y));
                        }
                    }
                    bitmap = exact;
                }
                let scale = |n: u8| if n == 2 || n == 50 { 2 } else { 1 };
                self.graphics = Some(bitmap.scaled(scale(bx), scale(by)));
            }
            // Function 50: print the graphics in the print buffer.
            Some(50) | Some(2) => {
                if let Some(bitmap) = self.graphics.take() {
                    self.print_block(&bitmap, offset, "graphics");
                }
            }
            // Reference dot density and capacity queries: no visible effect.
            Some(48) | Some(49) | Some(51) | Some(0) | Some(1) | Some(3) => {}
            Some(function) => {
                self.warn(
                    offset,
                    format!("GS ( L function {function} (stored graphics) ignored"),
                );
            }
            None => self.warn(offset, "GS ( L too short, ignored".into()),
        }
    }

    /// `ESC * m nL nH d...`: a column image placed in the line like a character.
    fn column_image(&mut self, input: &mut Input, offset: usize) -> Result<(), Truncated> {
        const WHAT: &str = "ESC * (bit image)";
        let mode = input.byte(WHAT)?;
        let columns = input.u16(WHAT)?;
        // Bytes per column and the size of one data bit in dots (203 dpi printers: 8-dot
        // modes print each bit three dots tall; single density doubles each column).
        let (bytes, wx, wy) = match mode {
            0 => (1, 2, 3),
            1 => (1, 1, 3),
            32 => (3, 2, 1),
            33 => (3, 1, 1),
            _ => {
                let bytes = if mode < 32 { 1 } else { 3 };
                input.take(columns * bytes, WHAT)?;
                self.warn(offset, format!("ESC * mode {mode} unknown, skipped"));
                return Ok(());
            }
        };
        let data = input.take(columns * bytes, WHAT)?;
        if columns == 0 {
            return Ok(());
        }
        let mut bitmap = Bitmap::new(columns as u32, bytes as u32 * 8);
        for (column, chunk) in data.chunks(bytes).enumerate() {
            for (index, &byte) in chunk.iter().enumerate() {
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        bitmap.set(column as u32, index as u32 * 8 + bit, true);
                    }
                }
            }
        }
        let bitmap = bitmap.scaled(wx, wy);
        // The printer drops the part beyond the print area instead of wrapping it.
        let (_, width) = self.area();
        if self.x.saturating_add(bitmap.width) > width && !self.line.is_empty() {
            let keep = width.saturating_sub(self.x);
            let mut clipped = Bitmap::new(keep, bitmap.height);
            for y in 0..bitmap.height {
                for x in 0..keep {
                    clipped.set(x, y, bitmap.get(x, y));
                }
            }
            self.warn(
                offset,
                "ESC * image beyond the print area was cut off".into(),
            );
            self.place(clipped, offset);
        } else {
            self.place(bitmap, offset);
        }
        Ok(())
    }

    /// Prints what is in the line buffer before a command that needs a fresh line.
    fn flush_before(&mut self, offset: usize, what: &str) {
        if !self.line.is_empty() {
            self.warn(
                offset,
                format!("{what} with text in the line buffer: the text is printed first"),
            );
            self.line_feed();
        }
    }
}

/// Whether an image of `width` x `height` dots is larger than any slip the renderer draws.
fn too_large(width: usize, height: usize) -> bool {
    width as u64 * height as u64 > u64::from(MAX_PAPER_DOTS) * u64::from(MAX_HEIGHT_DOTS)
}

fn underline(n: u8) -> u8 {
    match n {
        1 | 49 => 1,
        2 | 50 => 2,
        _ => 0,
    }
}

/// Row-major raster data, `width_bytes` bytes a row, most significant bit leftmost.
fn raster(data: &[u8], width_bytes: usize, height: usize) -> Bitmap {
    let mut bitmap = Bitmap::new((width_bytes * 8) as u32, height as u32);
    for (y, row) in data.chunks(width_bytes.max(1)).take(height).enumerate() {
        for (index, &byte) in row.iter().enumerate() {
            if byte == 0 {
                continue;
            }
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    bitmap.set((index * 8 + bit) as u32, y as u32, true);
                }
            }
        }
    }
    bitmap
}

fn printable(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", char::from(byte))
    } else {
        format!("0x{byte:02X}")
    }
}

fn esc_name(command: u8) -> &'static str {
    match command {
        b'a' => "ESC a",
        b'E' => "ESC E",
        b'G' => "ESC G",
        b'-' => "ESC -",
        b'!' => "ESC !",
        b'M' => "ESC M",
        b't' => "ESC t",
        b' ' => "ESC SP",
        b'3' => "ESC 3",
        b'd' => "ESC d",
        b'J' => "ESC J",
        b'K' => "ESC K",
        b'e' => "ESC e",
        b'$' => "ESC $",
        b'\\' => "ESC \\",
        b'D' => "ESC D",
        b'p' => "ESC p",
        b'c' => "ESC c",
        b'V' => "ESC V",
        b'{' => "ESC {",
        b'W' => "ESC W",
        b'&' => "ESC &",
        b'(' => "ESC (",
        _ => "an ESC command",
    }
}

fn gs_name(command: u8) -> &'static str {
    match command {
        b'!' => "GS !",
        b'B' => "GS B",
        b'V' => "GS V",
        b'v' => "GS v 0 (raster image)",
        b'8' => "GS 8",
        b'L' => "GS L",
        b'W' => "GS W",
        b'k' => "GS k (barcode)",
        b'*' => "GS *",
        _ => "a GS command",
    }
}

fn decode_1252(byte: u8) -> char {
    let bytes = [byte];
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
    text.chars().next().unwrap_or(REPLACEMENT)
}

/// Code page 437, bytes 0x80 to 0xFF.
const PC437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', //
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', //
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', //
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', //
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{A0}',
];

#[cfg(test)]
mod tests {
    use super::*;

    fn slip(bytes: &[u8]) -> RenderedSlip {
        render(bytes, &RenderOptions::PAPER_58MM).unwrap()
    }

    fn ink(image: &GrayImage) -> usize {
        image.pixels().filter(|p| p.0[0] == 0).count()
    }

    #[test]
    fn paper_width_is_checked() {
        for width in [0, MAX_PAPER_DOTS + 1] {
            let opts = RenderOptions {
                paper_dots: width,
                ..RenderOptions::default()
            };
            assert!(matches!(
                render(b"", &opts),
                Err(RenderError::PaperWidth(_))
            ));
        }
        let empty = slip(b"");
        assert_eq!(empty.image.dimensions(), (384, 1));
        assert!(empty.warnings.is_empty());
        assert!(to_png(&empty.image).unwrap().starts_with(b"\x89PNG"));
    }

    #[test]
    fn lines_wrap_at_32_and_42_columns() {
        // 33 characters of font A on 58 mm paper: one wraps onto a second line.
        let mut job = b"\x1b@".to_vec();
        job.extend(std::iter::repeat_n(b'H', 33));
        job.push(LF);
        let wrapped = slip(&job);
        assert_eq!(wrapped.image.height(), 2 * DEFAULT_LINE_SPACING);
        let mut job = b"\x1b@".to_vec();
        job.extend(std::iter::repeat_n(b'H', 32));
        job.push(LF);
        assert_eq!(slip(&job).image.height(), DEFAULT_LINE_SPACING);
        // Font B: 42 columns.
        let mut job = b"\x1b@\x1bM\x01".to_vec();
        job.extend(std::iter::repeat_n(b'H', 42));
        job.push(LF);
        assert_eq!(slip(&job).image.height(), DEFAULT_LINE_SPACING);
        job.insert(job.len() - 1, b'H');
        assert_eq!(slip(&job).image.height(), 2 * DEFAULT_LINE_SPACING);
    }

    #[test]
    fn feeds_and_spacing() {
        assert_eq!(slip(b"\n\n").image.height(), 60);
        assert_eq!(slip(b"\x1b3\x10\n\n").image.height(), 32);
        assert_eq!(slip(b"\x1bd\x03").image.height(), 90);
        assert_eq!(slip(b"\x1bJ\x07").image.height(), 7);
        // A double-height line feeds at least its height.
        assert_eq!(slip(b"\x1d!\x01A\n").image.height(), 48);
        // Text without LF stays unprinted, with a warning.
        let unprinted = slip(b"ABC");
        assert_eq!(ink(&unprinted.image), 0);
        assert!(unprinted.warnings.iter().any(|w| w.contains("not printed")));
    }

    #[test]
    fn column_images_and_raster() {
        // ESC * 33: 24-dot double density, 3 columns of all black.
        let mut job = b"\x1b3\x18\x1b*\x21\x03\x00".to_vec();
        job.extend([0xFF; 9]);
        job.push(LF);
        let image = slip(&job).image;
        assert_eq!(image.height(), 24);
        assert_eq!(ink(&image), 3 * 24);
        // ESC * 0: each bit 2 dots wide and 3 tall.
        let image = slip(b"\x1b*\x00\x01\x00\x80\n").image;
        assert_eq!(ink(&image), 6);
        // GS v 0 quadruple: one byte 0x80, one row: 2x2 dots.
        let image = slip(b"\x1dv0\x03\x01\x00\x01\x00\x80").image;
        assert_eq!(image.height(), 2);
        assert_eq!(ink(&image), 4);
    }

    #[test]
    fn stored_graphics_bands_margins_and_tabs() {
        // GS ( L function 112 (8x2 dots, scaled 2x2) then function 50 prints it.
        let mut job = vec![
            GS, b'(', b'L', 12, 0, 48, 112, 48, 2, 2, 49, 8, 0, 2, 0, 0xF0, 0x0F,
        ];
        job.extend([GS, b'(', b'L', 2, 0, 48, 50]);
        let result = slip(&job);
        assert_eq!(result.image.height(), 4);
        assert_eq!(ink(&result.image), 2 * 4 * 4);
        assert_eq!(result.image.get_pixel(0, 0).0[0], 0);
        assert_eq!(result.image.get_pixel(8, 2).0[0], 0);
        assert!(result.warnings.is_empty(), "{:?}", result.warnings);

        // Two 24-dot bands with 24-dot line spacing join without a gap.
        let mut job = b"\x1b3\x18".to_vec();
        for _ in 0..2 {
            job.extend(b"\x1b*\x21\x01\x00\xff\xff\xff\n");
        }
        let image = slip(&job).image;
        assert_eq!(image.height(), 48);
        assert!((0..48).all(|y| image.get_pixel(0, y).0[0] == 0));

        // GS L moves the left margin; HT goes to the next multiple of 8 columns.
        let image = slip(b"\x1dL\x64\x00\xdb\n").image;
        let first = (0..384).find(|&x| image.get_pixel(x, 10).0[0] == 0);
        assert_eq!(first, Some(100));
        let image = slip(b"\t\xdb\n").image;
        let first = (0..384).find(|&x| image.get_pixel(x, 10).0[0] == 0);
        assert_eq!(first, Some(96));
    }

    #[test]
    fn cuts_are_counted_and_drawn() {
        let result = slip(b"A\n\x1dV\x42\x10\x1dV\x00\x1bi");
        assert_eq!(result.cuts, 3);
        assert_eq!(result.image.height(), DEFAULT_LINE_SPACING + 16 + 1);
        let grey = |y: u32| {
            (0..384)
                .filter(|&x| result.image.get_pixel(x, y).0[0] == 128)
                .count()
        };
        assert!(grey(DEFAULT_LINE_SPACING + 16) > 100);
    }

    #[test]
    fn truncated_commands_end_the_render() {
        for job in [
            &b"A\n\x1d"[..],
            b"\x1b",
            b"\x1dv0\x00\x10\x00\x10\x00\xff",
            b"\x1c&\xb0",
        ] {
            let result = slip(job);
            assert!(
                result.warnings.iter().any(|w| w.contains("input ends")),
                "{job:?}: {:?}",
                result.warnings
            );
        }
    }

    #[test]
    fn endless_feeds_stop_at_the_limit() {
        let job = b"\x1bd\xff".repeat(10_000);
        let result = slip(&job);
        let height = result.image.height();
        assert!(height <= MAX_HEIGHT_DOTS && height + 255 * DEFAULT_LINE_SPACING > MAX_HEIGHT_DOTS);
        assert!(result.warnings.iter().any(|w| w.contains("longer than")));
    }

    #[test]
    fn warnings_are_grouped() {
        let result = slip(&b"\x07".repeat(50));
        assert_eq!(
            result.warnings,
            vec!["byte 0: control byte 0x07 ignored (50 times)".to_string()]
        );
    }
}
