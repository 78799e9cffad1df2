//! Badge slip layout: what goes on a 访客凭条 and where the lines break. Pure: no I/O, no clock.
//!
//! A [`Badge`] is a list of [`Block`]s, each [`Block::Text`] holding exactly one printed line.
//! Line breaks are decided here, once, with the printer's own font metrics ([`char_dots`]), so
//! the printer-font path and the raster path of [`super::escpos`] break lines in the same
//! places.
//!
//! # Widths
//!
//! Widths are counted in printer dots (203 dpi): 384 on 58 mm paper, 576 on 80 mm paper.
//! [`TextSize::Normal`] is font A: 12 dots for printable ASCII, 24 dots for every other
//! character. Printers in Chinese mode print *every* double-byte GB18030 character (Cyrillic,
//! accented Latin, curly quotes...) as a full-width 24-dot glyph, so counting all non-ASCII
//! characters as wide is what keeps a line from overflowing. [`TextSize::Large`] doubles width
//! and height, [`TextSize::Huge`] triples them. [`TextSize::Small`] is font B, 9 dots for ASCII;
//! printers keep their 24-dot Chinese font in font B, so wide characters still count 24.

use chrono::{Duration, TimeZone as _};

use crate::config::{Config, Lang};
use crate::domain::invite::CHECKOUT_PREFIX;
use crate::domain::shortcode::ShortCode;
use crate::domain::Timestamp;
use crate::store::{RosterEntry, VisitRecord};

/// Title printed on badges unless configured otherwise.
pub const DEFAULT_TITLE: &str = "VISITOR 访客";

/// Paper rolls the kiosk prints on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Paper {
    /// 58 mm paper, 384 dots a line.
    Mm58,
    /// 80 mm paper, 576 dots a line (72 mm printable).
    Mm80,
}

impl Paper {
    /// Printable dots per line.
    pub fn dots(self) -> u32 {
        match self {
            Paper::Mm58 => 384,
            Paper::Mm80 => 576,
        }
    }

    /// The paper for `printer.paper_width_mm`: 80 mm for 80 and wider, else 58 mm.
    pub fn from_mm(mm: u32) -> Paper {
        if mm >= 80 {
            Paper::Mm80
        } else {
            Paper::Mm58
        }
    }

    /// Dots per QR module on this paper: about 0.75 mm on 58 mm paper, 1 mm on 80 mm paper.
    fn qr_module_dots(self) -> u8 {
        match self {
            Paper::Mm58 => 6,
            Paper::Mm80 => 8,
        }
    }
}

/// Character size of a text line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TextSize {
    /// Font B, 9x17 dots.
    Small,
    /// Font A, 12x24 dots (24x24 for Chinese).
    Normal,
    /// Font A at double width and height.
    Large,
    /// Font A at triple width and height.
    Huge,
}

impl TextSize {
    /// Width multiplier over the base font (GS ! magnification).
    pub fn scale(self) -> u32 {
        match self {
            TextSize::Small | TextSize::Normal => 1,
            TextSize::Large => 2,
            TextSize::Huge => 3,
        }
    }

    /// Height of one line of this size in dots.
    pub fn height_dots(self) -> u32 {
        match self {
            TextSize::Small => 17,
            other => 24 * other.scale(),
        }
    }

    /// Width in dots of a printable ASCII character.
    pub fn narrow_dots(self) -> u32 {
        match self {
            TextSize::Small => 9,
            other => 12 * other.scale(),
        }
    }

    /// Width in dots of any other character (Chinese, full-width, accented...).
    pub fn wide_dots(self) -> u32 {
        24 * self.scale()
    }
}

/// Horizontal placement of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// One element of a printed slip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// One line of text that fits the paper at its size (see [`text_dots`]).
    Text {
        text: String,
        size: TextSize,
        bold: bool,
        align: Align,
    },
    /// A horizontal rule across the paper.
    Rule,
    /// A centred QR code (model 2, error correction M), `module_dots` dots per module. The
    /// quiet zone above and below is left to [`Block::Feed`]s around it.
    Qr { data: String, module_dots: u8 },
    /// Blank paper, in dots.
    Feed(u32),
    /// Feed to the cutter and cut (partial cut).
    Cut,
}

/// A laid-out slip: the blocks in print order, for one paper width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub paper: Paper,
    pub blocks: Vec<Block>,
}

impl Badge {
    /// The text lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.blocks.iter().filter_map(|block| match block {
            Block::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
    }

    /// All text lines joined with newlines (for previews, logs and tests).
    pub fn text(&self) -> String {
        self.lines().collect::<Vec<_>>().join("\n")
    }
}

/// What a badge says about one visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeInput {
    pub visit_number: i64,
    pub visitor_name: String,
    pub company: Option<String>,
    pub host: Option<String>,
    pub checked_in_at: Timestamp,
    /// Site time zone: every time on the badge is printed in it.
    pub tz: chrono_tz::Tz,
    pub valid_until: Timestamp,
    pub checkout_code: ShortCode,
    pub vip: bool,
    /// Which language comes first in bilingual labels.
    pub lang: Lang,
}

/// Why a visit cannot be turned into a badge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadgeError {
    #[error("visit #{number} has not been checked in, so it has no badge")]
    NotCheckedIn { number: i64 },
}

impl BadgeInput {
    /// The badge of a checked-in visit: valid for `badge.validity_hours` from check-in, times in
    /// the site zone ([`Config::timezone`], which asks the system when the site zone is
    /// `"local"`). A visit without a visitor name gets "Visitor #n" / "访客 #n".
    pub fn from_visit(
        visit: &VisitRecord,
        config: &Config,
        lang: Lang,
    ) -> Result<BadgeInput, BadgeError> {
        let checked_in_at = visit.checked_in_at.ok_or(BadgeError::NotCheckedIn {
            number: visit.number,
        })?;
        let validity = Duration::hours(i64::from(config.badge.validity_hours));
        let valid_until = checked_in_at
            .checked_add_signed(validity)
            .unwrap_or(checked_in_at);
        let visitor_name = match visit.visitor_name.as_deref().map(clean) {
            Some(name) if !name.is_empty() => name,
            _ => match lang {
                Lang::En => format!("Visitor #{}", visit.number),
                Lang::ZhCn => format!("访客 #{}", visit.number),
            },
        };
        Ok(BadgeInput {
            visit_number: visit.number,
            visitor_name,
            company: visit.visitor_company.clone(),
            host: visit.host_name.clone(),
            checked_in_at,
            tz: config.timezone(),
            valid_until,
            checkout_code: visit.checkout_code.clone(),
            vip: visit.vip,
            lang,
        })
    }
}

/// What every badge of a site carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeTemplate {
    pub site_name: String,
    pub title: String,
    /// "" for none: the Wi-Fi lines are left out.
    pub wifi_ssid: String,
    /// "" for an open network.
    pub wifi_password: String,
    pub allowed_areas: Vec<String>,
    /// "" for none.
    pub footer: String,
    pub paper: Paper,
}

impl BadgeTemplate {
    /// The template described by `[site]`, `[badge]` and `printer.paper_width_mm`.
    pub fn from_config(config: &Config) -> BadgeTemplate {
        BadgeTemplate {
            site_name: config.site.name.clone(),
            title: DEFAULT_TITLE.to_owned(),
            wifi_ssid: config.badge.wifi_ssid.clone(),
            wifi_password: config.badge.wifi_password.clone(),
            allowed_areas: config.badge.allowed_areas.clone(),
            footer: config.badge.footer.clone(),
            paper: Paper::from_mm(config.printer.paper_width_mm),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring and wrapping
// ---------------------------------------------------------------------------------------------

/// Width in dots of one character at `size`; 0 for characters that print nothing.
pub fn char_dots(c: char, size: TextSize) -> u32 {
    if c.is_ascii() {
        if c.is_ascii_control() {
            0
        } else {
            size.narrow_dots()
        }
    } else if crate::text::char_width(c) == 0 {
        0
    } else {
        size.wide_dots()
    }
}

/// Width in dots of `text` on one line at `size`.
pub fn text_dots(text: &str, size: TextSize) -> u32 {
    text.chars().map(|c| char_dots(c, size)).sum()
}

/// `text` made printable on one line: control characters and line breaks become spaces, runs
/// of spaces collapse to one, characters that print nothing (zero-width marks, joiners) are
/// dropped, and the ends are trimmed.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_control() || (c.is_whitespace() && c != '\u{3000}') {
            space = true;
            continue;
        }
        if crate::text::char_width(c) == 0 || c == '\u{FEFF}' {
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// Characters that may break anywhere around them (Chinese, Japanese, Korean, full-width).
fn breaks_anywhere(c: char) -> bool {
    !c.is_ascii() && crate::text::char_width(c) == 2
}

/// Closing punctuation that must not start a line.
fn no_line_start(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '、'
            | '；'
            | '：'
            | '！'
            | '？'
            | '）'
            | '》'
            | '」'
            | '』'
            | '】'
            | '〕'
            | '〉'
            | '”'
            | '’'
            | '…'
            | '·'
            | '・'
            | '～'
    )
}

/// Opening punctuation that must not end a line.
fn no_line_end(c: char) -> bool {
    matches!(
        c,
        '（' | '《' | '「' | '『' | '【' | '〔' | '〈' | '“' | '‘'
    )
}

/// Pieces of a line that are never split unless one alone is wider than the line.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Whether the last token may take more characters: a word being built, or an opening
    // punctuation mark that must stay with what follows.
    let mut open = false;
    for c in text.chars() {
        if c == ' ' {
            out.push(" ".to_owned());
            open = false;
            continue;
        }
        let glue_to_previous = match out.last() {
            Some(last) if last != " " => open || no_line_start(c),
            _ => false,
        };
        if glue_to_previous {
            if let Some(last) = out.last_mut() {
                last.push(c);
            }
        } else {
            out.push(c.to_string());
        }
        open = no_line_end(c) || !(breaks_anywhere(c) || no_line_start(c));
    }
    out
}

/// Breaks `text` (cleaned first) into lines of at most `max_dots` at `size`: at spaces, and
/// between any two Chinese characters (keeping closing punctuation off the start of a line). A
/// word wider than the line is split between characters; no character is ever cut or lost
/// (spaces at breaks are dropped). Every line holds at least one character.
pub fn wrap(text: &str, size: TextSize, max_dots: u32) -> Vec<String> {
    wrap_checked(text, size, max_dots).0
}

/// [`wrap`], and whether some word had to be split inside.
fn wrap_checked(text: &str, size: TextSize, max_dots: u32) -> (Vec<String>, bool) {
    let space = char_dots(' ', size);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_dots = 0u32;
    let mut pending_space = false;
    let mut split_word = false;
    for token in tokens(&clean(text)) {
        if token == " " {
            pending_space = !line.is_empty();
            continue;
        }
        let dots = text_dots(&token, size);
        let gap = if pending_space { space } else { 0 };
        pending_space = false;
        if line_dots + gap + dots <= max_dots {
            if gap > 0 {
                line.push(' ');
            }
            line.push_str(&token);
            line_dots += gap + dots;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line_dots = 0;
        }
        if dots <= max_dots {
            line.push_str(&token);
            line_dots = dots;
            continue;
        }
        // Wider than a whole line: split between characters.
        split_word = true;
        for c in token.chars() {
            let w = char_dots(c, size);
            if line_dots + w > max_dots && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_dots = 0;
            }
            line.push(c);
            line_dots += w;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    (lines, split_word)
}

/// `segments` joined with `separator` into lines of at most `max_dots`, breaking between
/// segments where possible and inside a segment only when it is wider than a line.
pub fn flow(segments: &[String], separator: &str, size: TextSize, max_dots: u32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for segment in segments.iter().map(|s| clean(s)).filter(|s| !s.is_empty()) {
        let joined = if line.is_empty() {
            segment.clone()
        } else {
            format!("{line}{separator}{segment}")
        };
        if text_dots(&joined, size) <= max_dots {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut pieces = wrap(&segment, size, max_dots);
        line = pieces.pop().unwrap_or_default();
        lines.extend(pieces);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The size and lines of the visitor's name: the largest size at which it fits on one line;
/// else double size on two lines when that needs no word split; else normal size, wrapped.
pub fn fit_name(name: &str, max_dots: u32) -> (TextSize, Vec<String>) {
    let name = clean(name);
    for size in [TextSize::Huge, TextSize::Large] {
        if text_dots(&name, size) <= max_dots {
            return (size, vec![name]);
        }
    }
    let (lines, split_word) = wrap_checked(&name, TextSize::Large, max_dots);
    if lines.len() <= 2 && !split_word {
        return (TextSize::Large, lines);
    }
    (TextSize::Normal, wrap(&name, TextSize::Normal, max_dots))
}

// ---------------------------------------------------------------------------------------------
// Building slips
// ---------------------------------------------------------------------------------------------

/// Accumulates blocks for one paper width.
struct Slip {
    paper: Paper,
    blocks: Vec<Block>,
}

impl Slip {
    fn new(paper: Paper) -> Slip {
        Slip {
            paper,
            blocks: Vec::new(),
        }
    }

    fn width(&self) -> u32 {
        self.paper.dots()
    }

    fn line(&mut self, text: String, size: TextSize, bold: bool, align: Align) {
        self.blocks.push(Block::Text {
            text,
            size,
            bold,
            align,
        });
    }

    /// `text` wrapped to the paper; nothing for blank text.
    fn para(&mut self, text: &str, size: TextSize, bold: bool, align: Align) {
        for line in wrap(text, size, self.width()) {
            self.line(line, size, bold, align);
        }
    }

    /// `label: value` on one line when it fits, else the label on a line of its own and the
    /// value wrapped under it, indented. Nothing when the value is blank.
    fn field(&mut self, label: &str, value: &str) {
        let value = clean(value);
        if value.is_empty() {
            return;
        }
        let one_line = format!("{label}: {value}");
        if text_dots(&one_line, TextSize::Normal) <= self.width() {
            self.line(one_line, TextSize::Normal, false, Align::Left);
            return;
        }
        self.line(format!("{label}:"), TextSize::Normal, false, Align::Left);
        let indent = "  ";
        let room = self.width() - text_dots(indent, TextSize::Normal);
        for line in wrap(&value, TextSize::Normal, room) {
            self.line(
                format!("{indent}{line}"),
                TextSize::Normal,
                true,
                Align::Left,
            );
        }
    }

    /// `text` at double size when it fits on one line, else at normal size; bold, centred.
    fn heading(&mut self, text: &str) {
        let size = if text_dots(&clean(text), TextSize::Large) <= self.width() {
            TextSize::Large
        } else {
            TextSize::Normal
        };
        self.para(text, size, true, Align::Center);
    }

    fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    fn finish(mut self) -> Badge {
        self.push(Block::Feed(24));
        self.push(Block::Cut);
        Badge {
            paper: self.paper,
            blocks: self.blocks,
        }
    }
}

/// A bilingual label, the visitor's language first.
fn label(lang: Lang, en: &str, zh: &str) -> String {
    match lang {
        Lang::En => format!("{en} {zh}"),
        Lang::ZhCn => format!("{zh} {en}"),
    }
}

/// `YYYY-MM-DD HH:MM` in `tz`.
fn local_time(at: Timestamp, tz: chrono_tz::Tz) -> String {
    tz.from_utc_datetime(&at.naive_utc())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value.map(clean).filter(|v| !v.is_empty())
}

/// Lays out the badge slip of one visit.
pub fn badge(input: &BadgeInput, template: &BadgeTemplate) -> Badge {
    let lang = input.lang;
    let mut slip = Slip::new(template.paper);

    slip.para(&template.site_name, TextSize::Normal, false, Align::Center);
    slip.para(&template.title, TextSize::Large, true, Align::Center);
    if input.vip {
        slip.para("VIP 贵宾", TextSize::Normal, true, Align::Center);
    }
    slip.push(Block::Rule);

    let (size, lines) = fit_name(&input.visitor_name, slip.width());
    for line in lines {
        slip.line(line, size, true, Align::Center);
    }
    if let Some(company) = non_blank(input.company.as_deref()) {
        slip.para(&company, TextSize::Normal, false, Align::Center);
    }
    slip.push(Block::Rule);

    if let Some(host) = non_blank(input.host.as_deref()) {
        slip.field(&label(lang, "Host", "受访人"), &host);
    }
    slip.field(
        &label(lang, "Checked in", "签到时间"),
        &local_time(input.checked_in_at, input.tz),
    );
    slip.field(
        &label(lang, "Valid until", "有效期至"),
        &local_time(input.valid_until, input.tz),
    );
    let areas: Vec<String> = template
        .allowed_areas
        .iter()
        .map(|area| clean(area))
        .filter(|area| !area.is_empty())
        .collect();
    if !areas.is_empty() {
        slip.field(&label(lang, "Areas", "允许区域"), &areas.join(", "));
    }
    let ssid = clean(&template.wifi_ssid);
    if !ssid.is_empty() {
        slip.field("Wi-Fi", &ssid);
        slip.field(&label(lang, "Password", "密码"), &template.wifi_password);
    }
    slip.field(
        &label(lang, "Visit No.", "访客编号"),
        &input.visit_number.to_string(),
    );
    slip.push(Block::Rule);

    let (first, second) = match lang {
        Lang::En => ("Check out: scan at the exit", "离开时请扫码签出"),
        Lang::ZhCn => ("离开时请扫码签出", "Check out: scan at the exit"),
    };
    slip.para(first, TextSize::Normal, true, Align::Center);
    slip.para(second, TextSize::Normal, false, Align::Center);
    let module_dots = template.paper.qr_module_dots();
    let quiet = 4 * u32::from(module_dots);
    slip.push(Block::Feed(quiet));
    slip.push(Block::Qr {
        data: checkout_payload(&input.checkout_code),
        module_dots,
    });
    slip.push(Block::Feed(quiet / 2));
    slip.line(
        input.checkout_code.grouped(),
        TextSize::Large,
        true,
        Align::Center,
    );

    let footer = clean(&template.footer);
    if !footer.is_empty() {
        slip.push(Block::Feed(12));
        slip.para(&footer, TextSize::Small, false, Align::Center);
    }
    slip.finish()
}

/// What the check-out QR code on a badge encodes: `LKO:` and the visit's check-out code.
pub fn checkout_payload(code: &ShortCode) -> String {
    format!("{CHECKOUT_PREFIX}{}", code.as_str())
}

/// Lays out the evacuation roster (应急名单): everyone on site with arrival time, company and
/// host, each with a box to tick at the assembly point.
pub fn roster(
    entries: &[RosterEntry],
    site: &str,
    now: Timestamp,
    tz: chrono_tz::Tz,
    paper: Paper,
) -> Badge {
    let mut slip = Slip::new(paper);
    slip.heading("应急名单");
    slip.heading("EVACUATION ROSTER");
    slip.para(site, TextSize::Normal, false, Align::Center);
    slip.push(Block::Rule);
    slip.field("Printed 打印时间", &local_time(now, tz));
    slip.field("On site 在场人数", &entries.len().to_string());
    slip.push(Block::Rule);

    if entries.is_empty() {
        slip.para(
            "Nobody is on site 无人在场",
            TextSize::Normal,
            true,
            Align::Left,
        );
    }
    let today = tz.from_utc_datetime(&now.naive_utc()).date_naive();
    let indent = "    ";
    let room = slip.width() - text_dots(indent, TextSize::Normal);
    for entry in entries {
        let arrived = tz.from_utc_datetime(&entry.checked_in_at.naive_utc());
        let time = if arrived.date_naive() == today {
            arrived.format("%H:%M").to_string()
        } else {
            arrived.format("%m-%d %H:%M").to_string()
        };
        let name = match clean(&entry.name) {
            name if name.is_empty() => format!("#{}", entry.visit_number),
            name => name,
        };
        let vip = if entry.vip { " VIP" } else { "" };
        slip.para(
            &format!("[ ] {time} {name}{vip} #{}", entry.visit_number),
            TextSize::Normal,
            true,
            Align::Left,
        );
        let mut details = Vec::new();
        if let Some(company) = non_blank(entry.company.as_deref()) {
            details.push(company);
        }
        if let Some(host) = non_blank(entry.host.as_deref()) {
            details.push(format!("Host 受访人 {host}"));
        }
        for line in flow(&details, " / ", TextSize::Normal, room) {
            slip.line(
                format!("{indent}{line}"),
                TextSize::Normal,
                false,
                Align::Left,
            );
        }
    }
    slip.push(Block::Rule);
    slip.field("Total 合计", &entries.len().to_string());
    slip.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_printer_fonts() {
        assert_eq!(text_dots("Wang Jun", TextSize::Normal), 8 * 12);
        assert_eq!(text_dots("王军", TextSize::Normal), 48);
        assert_eq!(text_dots("王军", TextSize::Large), 96);
        assert_eq!(text_dots("王军", TextSize::Huge), 144);
        assert_eq!(text_dots("Ab", TextSize::Small), 18);
        assert_eq!(text_dots("é", TextSize::Normal), 24);
        assert_eq!(text_dots("e\u{301}", TextSize::Normal), 12);
        assert_eq!(TextSize::Huge.height_dots(), 72);
        assert_eq!(TextSize::Small.height_dots(), 17);
    }

    #[test]
    fn clean_flattens_controls_and_spaces() {
        assert_eq!(clean("  Anna\t\nSmith\u{1b}@  "), "Anna Smith @");
        assert_eq!(clean("A\u{200B}B\u{FEFF}"), "AB");
        assert_eq!(clean("王\u{3000}军"), "王\u{3000}军");
        assert_eq!(clean(""), "");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_between_chinese_characters() {
        assert_eq!(
            wrap("aaa bbb ccc", TextSize::Normal, 7 * 12),
            vec!["aaa bbb", "ccc"]
        );
        assert_eq!(
            wrap("王军王军王军", TextSize::Normal, 4 * 24),
            vec!["王军王军", "王军"]
        );
        // Closing punctuation stays at the end of the line before.
        assert_eq!(
            wrap("一二三，四", TextSize::Normal, 3 * 24),
            vec!["一二", "三，四"]
        );
        // A word wider than the line is split between characters.
        assert_eq!(
            wrap("abcdefghij", TextSize::Normal, 4 * 12),
            vec!["abcd", "efgh", "ij"]
        );
        assert!(wrap("   ", TextSize::Normal, 100).is_empty());
        // Mixed: Latin words and Chinese.
        let lines = wrap("Meeting 会议室 A and 大堂", TextSize::Normal, 10 * 12);
        for line in &lines {
            assert!(text_dots(line, TextSize::Normal) <= 120, "{line}");
        }
        assert_eq!(lines.concat().replace(' ', ""), "Meeting会议室Aand大堂");
    }

    #[test]
    fn wrap_keeps_every_character() {
        let text = "Ünïcødé 名字 Łukasz-Żółć O'Brien-Smythe 欧阳娜娜 ".repeat(7);
        for size in [TextSize::Small, TextSize::Normal, TextSize::Large] {
            for width in [48, 72, 100, 384, 576] {
                let lines = wrap(&text, size, width);
                for line in &lines {
                    assert!(
                        text_dots(line, size) <= width || line.chars().count() == 1,
                        "{line:?}"
                    );
                    assert!(!line.starts_with(' ') && !line.ends_with(' '));
                }
                assert_eq!(
                    lines.concat().replace(' ', ""),
                    clean(&text).replace(' ', "")
                );
            }
        }
    }

    #[test]
    fn names_shrink_then_wrap() {
        assert_eq!(fit_name("王军", 384), (TextSize::Huge, vec!["王军".into()]));
        assert_eq!(
            fit_name("欧阳娜娜", 384),
            (TextSize::Huge, vec!["欧阳娜娜".into()])
        );
        assert_eq!(
            fit_name("Anna Smith", 384),
            (TextSize::Huge, vec!["Anna Smith".into()])
        );
        assert_eq!(
            fit_name("Alexander Smith", 384),
            (TextSize::Large, vec!["Alexander Smith".into()])
        );
        assert_eq!(
            fit_name("Alexander Hamilton", 384),
            (TextSize::Large, vec!["Alexander".into(), "Hamilton".into()])
        );
        let (size, lines) = fit_name(&"王".repeat(64), 384);
        assert_eq!(size, TextSize::Normal);
        assert_eq!(lines.len(), 4);
        let (size, lines) = fit_name(&"x".repeat(200), 576);
        assert_eq!(size, TextSize::Normal);
        assert_eq!(lines.concat(), "x".repeat(200));
    }
}
