//! Badge slips end to end: layout content and line breaks, ESC/POS bytes in every printer
//! mode, and rendered previews whose QR code must decode to the check-out payload.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use image::GrayImage;

use lobby_kiosk::config::{Config, Lang, PrinterEncoding};
use lobby_kiosk::domain::shortcode::ShortCode;
use lobby_kiosk::print::escpos::{encode, encode_roster, PrinterProfile, TextMode};
use lobby_kiosk::print::layout::{
    badge, checkout_payload, roster, text_dots, Align, Badge, BadgeInput, BadgeTemplate, Block,
    Paper, TextSize,
};
use lobby_kiosk::print::render::{render, to_png, RenderOptions, TextEncoding};
use lobby_kiosk::store::RosterEntry;

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;

fn checked_in() -> DateTime<Utc> {
    // 09:30 in Shanghai.
    Utc.with_ymd_and_hms(2025, 3, 14, 1, 30, 0).unwrap()
}

fn code() -> ShortCode {
    ShortCode::parse("7K3QMX9P").unwrap()
}

fn input(name: &str, company: Option<&str>, host: Option<&str>, lang: Lang) -> BadgeInput {
    BadgeInput {
        visit_number: 1042,
        visitor_name: name.to_owned(),
        company: company.map(str::to_owned),
        host: host.map(str::to_owned),
        checked_in_at: checked_in(),
        tz: chrono_tz::Asia::Shanghai,
        valid_until: checked_in() + Duration::hours(8),
        checkout_code: code(),
        vip: false,
        lang,
    }
}

fn template(paper: Paper, wifi: bool) -> BadgeTemplate {
    BadgeTemplate {
        site_name: "Lakeside Tower 湖畔大厦".to_owned(),
        title: "VISITOR 访客".to_owned(),
        wifi_ssid: if wifi {
            "Lakeside-Guest".into()
        } else {
            String::new()
        },
        wifi_password: if wifi {
            "welcome2025".into()
        } else {
            String::new()
        },
        allowed_areas: vec!["Lobby 大堂".into(), "Meeting rooms 3F 会议室".into()],
        footer: "Please wear this slip visibly. 请佩戴访客凭条。".to_owned(),
        paper,
    }
}

fn profile(paper: Paper, text: TextMode, native_qr: bool) -> PrinterProfile {
    PrinterProfile {
        paper_dots: paper.dots(),
        text,
        native_qr,
    }
}

/// Every text line fits the paper at its size.
fn assert_fits(badge: &Badge) {
    for block in &badge.blocks {
        if let Block::Text { text, size, .. } = block {
            assert!(
                text_dots(text, *size) <= badge.paper.dots(),
                "{text:?} at {size:?} is wider than {:?}",
                badge.paper
            );
            assert!(!text.trim().is_empty(), "blank line in {badge:?}");
        }
    }
}

fn name_block(badge: &Badge) -> Vec<(String, TextSize)> {
    badge
        .blocks
        .iter()
        .filter_map(|block| match block {
            Block::Text {
                text,
                size,
                bold: true,
                align: Align::Center,
            } if *size >= TextSize::Normal && !text.contains("VISITOR") => {
                Some((text.clone(), *size))
            }
            _ => None,
        })
        .take_while(|(text, _)| !text.starts_with("Check out") && !text.starts_with("离开"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

#[test]
fn english_badge_has_every_field() {
    let b = badge(
        &input(
            "Anna Smith",
            Some("Acme Trading Ltd"),
            Some("Li Na"),
            Lang::En,
        ),
        &template(Paper::Mm80, true),
    );
    assert_fits(&b);
    let text = b.text();
    for expected in [
        "Lakeside Tower 湖畔大厦",
        "VISITOR 访客",
        "Anna Smith",
        "Acme Trading Ltd",
        "Host 受访人: Li Na",
        "Checked in 签到时间: 2025-03-14 09:30",
        "Valid until 有效期至: 2025-03-14 17:30",
        "Areas 允许区域:\n  Lobby 大堂, Meeting rooms 3F 会议室",
        "Wi-Fi: Lakeside-Guest",
        "Password 密码: welcome2025",
        "Visit No. 访客编号: 1042",
        "Check out: scan at the exit",
        "离开时请扫码签出",
        "7K3Q-MX9P",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
    assert_eq!(
        name_block(&b),
        vec![("Anna Smith".to_owned(), TextSize::Huge)]
    );
    let qr: Vec<_> = b
        .blocks
        .iter()
        .filter_map(|block| match block {
            Block::Qr { data, module_dots } => Some((data.clone(), *module_dots)),
            _ => None,
        })
        .collect();
    assert_eq!(qr, vec![("LKO:7K3QMX9P".to_owned(), 8)]);
    assert_eq!(checkout_payload(&code()), "LKO:7K3QMX9P");
    assert_eq!(b.blocks.last(), Some(&Block::Cut));
}

#[test]
fn chinese_badges_put_chinese_labels_first() {
    for name in ["王军", "欧阳娜娜"] {
        for paper in [Paper::Mm58, Paper::Mm80] {
            let b = badge(
                &input(name, Some("华东贸易有限公司"), Some("李娜"), Lang::ZhCn),
                &template(paper, true),
            );
            assert_fits(&b);
            let text = b.text();
            assert!(text.contains("受访人 Host: 李娜"), "{text}");
            assert!(text.contains("华东贸易有限公司"), "{text}");
            assert!(
                text.find("离开时请扫码签出") < text.find("Check out"),
                "{text}"
            );
            assert_eq!(name_block(&b), vec![(name.to_owned(), TextSize::Huge)]);
        }
    }
}

#[test]
fn mixed_names_and_fields_wrap_within_the_paper() {
    let b = badge(
        &input(
            "Zhang 张 Wei-Ming 伟明",
            Some("Shenzhen Huaqiang 深圳华强电子科技股份有限公司 (International Sales)"),
            Some("Ouyang 欧阳 Nana"),
            Lang::En,
        ),
        &template(Paper::Mm58, true),
    );
    assert_fits(&b);
    let text = b.text();
    // The company wraps but loses nothing.
    let joined: String = text.split_whitespace().collect();
    assert!(joined.contains("深圳华强电子科技股份有限公司"), "{text}");
    assert!(joined.contains("(InternationalSales)"), "{text}");
    // The host field did not fit on one line at 58 mm with the label: it is split.
    assert!(text.contains("Ouyang 欧阳 Nana"), "{text}");
}

#[test]
fn long_names_shrink_then_wrap_and_keep_every_character() {
    let chinese = "王".repeat(32) + &"欧阳娜".repeat(10) + "李军";
    assert_eq!(chinese.chars().count(), 64);
    let latin = "Maximilian Alexander Konstantin von Hohenzollern-Sigmaringen ".repeat(4);
    let latin = latin.trim_end()[..200.min(latin.trim_end().len())].to_owned();
    assert_eq!(latin.chars().count(), 200);
    for paper in [Paper::Mm58, Paper::Mm80] {
        for name in [&chinese, &latin] {
            let b = badge(
                &input(name, None, None, Lang::ZhCn),
                &template(paper, false),
            );
            assert_fits(&b);
            let lines = name_block(&b);
            assert!(lines.len() > 1, "{lines:?}");
            assert!(lines.iter().all(|(_, size)| *size == TextSize::Normal));
            let printed: String = lines
                .iter()
                .map(|(text, _)| text.replace(' ', ""))
                .collect();
            assert_eq!(printed, name.replace(' ', ""), "characters lost");
            // Still a whole badge after the name.
            assert!(b.text().contains("7K3Q-MX9P"));
            assert!(b.blocks.iter().any(|b| matches!(b, Block::Qr { .. })));
        }
    }
    // Two words that fit at double size on two lines stay large.
    let b = badge(
        &input("Alexander Hamilton", None, None, Lang::En),
        &template(Paper::Mm58, false),
    );
    assert_eq!(
        name_block(&b),
        vec![
            ("Alexander".to_owned(), TextSize::Large),
            ("Hamilton".to_owned(), TextSize::Large)
        ]
    );
}

#[test]
fn missing_fields_are_left_out() {
    let mut visitor = input("Anna Smith", None, Some("   "), Lang::En);
    visitor.company = Some(String::new());
    let mut site = template(Paper::Mm80, false);
    site.allowed_areas.clear();
    site.footer = " ".into();
    let text = badge(&visitor, &site).text();
    for absent in [
        "Host",
        "受访人",
        "Company",
        "Wi-Fi",
        "Password",
        "Areas",
        "wear",
        ": \n",
    ] {
        assert!(!text.contains(absent), "{absent:?} in\n{text}");
    }
    assert!(!text
        .lines()
        .any(|l| l.trim().is_empty() || l.ends_with(':')));
    // Only the password set: no Wi-Fi lines either.
    site.wifi_password = "secret".into();
    assert!(!badge(&visitor, &site).text().contains("secret"));
    // An open network: the name but no password line.
    site.wifi_password.clear();
    site.wifi_ssid = "Lobby-Open".into();
    let text = badge(&visitor, &site).text();
    assert!(text.contains("Wi-Fi: Lobby-Open"));
    assert!(!text.contains("Password"));
}

#[test]
fn times_are_printed_in_the_site_zone() {
    let mut visitor = input("Anna Smith", None, None, Lang::En);
    // 23:30 UTC on the 14th is 08:30 on the 15th in Tokyo, 19:30 on the 14th in New York.
    visitor.checked_in_at = Utc.with_ymd_and_hms(2025, 3, 14, 23, 30, 0).unwrap();
    visitor.valid_until = visitor.checked_in_at + Duration::hours(8);
    visitor.tz = chrono_tz::Asia::Tokyo;
    let text = badge(&visitor, &template(Paper::Mm80, false)).text();
    assert!(text.contains("2025-03-15 08:30"), "{text}");
    assert!(text.contains("2025-03-15 16:30"), "{text}");
    visitor.tz = chrono_tz::America::New_York;
    let text = badge(&visitor, &template(Paper::Mm80, false)).text();
    assert!(text.contains("2025-03-14 19:30"), "{text}");
    assert!(text.contains("2025-03-15 03:30"), "{text}");
}

#[test]
fn vip_visitors_are_marked() {
    let mut visitor = input("王军", None, None, Lang::ZhCn);
    assert!(!badge(&visitor, &template(Paper::Mm58, false))
        .text()
        .contains("VIP"));
    visitor.vip = true;
    assert!(badge(&visitor, &template(Paper::Mm58, false))
        .text()
        .contains("VIP 贵宾"));
}

#[test]
fn template_follows_the_configuration() {
    let mut config = Config::default();
    config.site.name = "Riverside Campus".into();
    config.badge.wifi_ssid = "Guest".into();
    config.badge.footer = "Thank you".into();
    config.printer.paper_width_mm = 58;
    config.printer.encoding = PrinterEncoding::Gb18030;
    config.printer.native_qr = false;
    let site = BadgeTemplate::from_config(&config);
    assert_eq!(site.paper, Paper::Mm58);
    assert_eq!(site.site_name, "Riverside Campus");
    assert_eq!(site.wifi_ssid, "Guest");
    assert_eq!(site.allowed_areas, config.badge.allowed_areas);
    let printer = PrinterProfile::from_config(&config.printer);
    assert_eq!(printer, profile(Paper::Mm58, TextMode::Gb18030, false));
    config.printer.paper_width_mm = 80;
    config.printer.encoding = PrinterEncoding::Raster;
    assert_eq!(
        PrinterProfile::from_config(&config.printer),
        PrinterProfile {
            paper_dots: 576,
            text: TextMode::Raster,
            native_qr: false
        }
    );
}

// ---------------------------------------------------------------------------------------------
// ESC/POS bytes
// ---------------------------------------------------------------------------------------------

/// One command (or run of text bytes) of an encoded slip.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cmd {
    Init,
    Align(u8),
    Bold(u8),
    Font(u8),
    Size(u8),
    Feed(u8),
    ChineseOn,
    ChineseOff,
    Raster { width_bytes: u32, rows: u32 },
    Qr { function: u8, params: Vec<u8> },
    Cut(u8, u8),
    LineFeed,
    Text(Vec<u8>),
}

/// Splits the bytes into the commands the encoder uses; panics on anything else, so a stray
/// control byte in text shows up as a failure.
fn parse(bytes: &[u8]) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    let mut i = 0;
    let at = |i: usize| -> u8 { *bytes.get(i).unwrap_or_else(|| panic!("truncated at {i}")) };
    while i < bytes.len() {
        let cmd = match (bytes[i], bytes.get(i + 1).copied()) {
            (ESC, Some(b'@')) => (Cmd::Init, 2),
            (ESC, Some(b'a')) => (Cmd::Align(at(i + 2)), 3),
            (ESC, Some(b'E')) => (Cmd::Bold(at(i + 2)), 3),
            (ESC, Some(b'M')) => (Cmd::Font(at(i + 2)), 3),
            (ESC, Some(b'J')) => (Cmd::Feed(at(i + 2)), 3),
            (GS, Some(b'!')) => (Cmd::Size(at(i + 2)), 3),
            (GS, Some(b'V')) => (Cmd::Cut(at(i + 2), at(i + 3)), 4),
            (FS, Some(b'&')) => (Cmd::ChineseOn, 2),
            (FS, Some(b'.')) => (Cmd::ChineseOff, 2),
            (GS, Some(b'v')) => {
                assert_eq!((at(i + 2), at(i + 3)), (b'0', 0));
                let width_bytes = u32::from(at(i + 4)) | u32::from(at(i + 5)) << 8;
                let rows = u32::from(at(i + 6)) | u32::from(at(i + 7)) << 8;
                let len = 8 + (width_bytes * rows) as usize;
                assert!(i + len <= bytes.len(), "raster data truncated");
                (Cmd::Raster { width_bytes, rows }, len)
            }
            (GS, Some(b'(')) => {
                assert_eq!(at(i + 2), b'k');
                let len = usize::from(at(i + 3)) | usize::from(at(i + 4)) << 8;
                assert_eq!(at(i + 5), 49, "QR code function");
                let params = bytes[i + 7..i + 5 + len].to_vec();
                (
                    Cmd::Qr {
                        function: at(i + 6),
                        params,
                    },
                    5 + len,
                )
            }
            (b'\n', _) => (Cmd::LineFeed, 1),
            (byte, _) if byte >= 0x20 && byte != 0x7F => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|&&b| b >= 0x20 && b != 0x7F)
                    .count();
                (Cmd::Text(bytes[i..i + len].to_vec()), len)
            }
            (byte, next) => panic!("unexpected byte {byte:#04x} {next:?} at {i}"),
        };
        cmds.push(cmd.0);
        i += cmd.1;
    }
    cmds
}

fn sample_badge(paper: Paper) -> Badge {
    badge(
        &input(
            "欧阳娜娜 Nana Ouyang",
            Some("Acme Trading 艾克美贸易"),
            Some("李娜"),
            Lang::ZhCn,
        ),
        &template(paper, true),
    )
}

const MODES: [(TextMode, bool); 4] = [
    (TextMode::Gb18030, true),
    (TextMode::Gb18030, false),
    (TextMode::Raster, true),
    (TextMode::Raster, false),
];

fn mode_name(text: TextMode, native_qr: bool) -> String {
    format!(
        "{}-{}",
        match text {
            TextMode::Gb18030 => "gb18030",
            TextMode::Raster => "raster",
        },
        if native_qr { "native-qr" } else { "raster-qr" }
    )
}

#[test]
fn every_printer_mode_produces_well_formed_bytes() {
    let mut sizes = Vec::new();
    for paper in [Paper::Mm58, Paper::Mm80] {
        let slip = sample_badge(paper);
        for (text, native_qr) in MODES {
            let bytes = encode(&slip, &profile(paper, text, native_qr)).unwrap();
            let cmds = parse(&bytes);
            assert_eq!(cmds.first(), Some(&Cmd::Init));
            assert_eq!(
                cmds.last(),
                Some(&Cmd::Cut(66, 0)),
                "ends with feed and cut"
            );
            let has = |f: &dyn Fn(&Cmd) -> bool| cmds.iter().any(f);
            assert_eq!(has(&|c| matches!(c, Cmd::Qr { .. })), native_qr);
            assert_eq!(has(&|c| *c == Cmd::ChineseOn), text == TextMode::Gb18030);
            assert_eq!(
                has(&|c| matches!(c, Cmd::Text(_))),
                text == TextMode::Gb18030,
                "raster mode sends no printer text"
            );
            assert!(has(&|c| matches!(c, Cmd::Raster { .. })));
            if text == TextMode::Gb18030 {
                // Chinese mode is left before the cut.
                let off = cmds.iter().rposition(|c| *c == Cmd::ChineseOff);
                assert_eq!(off, Some(cmds.len() - 2));
            }
            for cmd in &cmds {
                if let Cmd::Raster { width_bytes, rows } = cmd {
                    assert!(
                        width_bytes * 8 <= paper.dots(),
                        "{cmd:?} wider than the paper"
                    );
                    assert!((1..=48).contains(rows), "{cmd:?}");
                }
            }
            if native_qr {
                let qr: Vec<_> = cmds
                    .iter()
                    .filter_map(|c| match c {
                        Cmd::Qr { function, params } => Some((*function, params.clone())),
                        _ => None,
                    })
                    .collect();
                let module = if paper == Paper::Mm58 { 6 } else { 8 };
                assert_eq!(
                    qr,
                    vec![
                        (65, vec![50, 0]),
                        (67, vec![module]),
                        (69, vec![49]),
                        (80, [&[48u8][..], b"LKO:7K3QMX9P"].concat()),
                        (81, vec![48]),
                    ]
                );
            }
            sizes.push((paper, mode_name(text, native_qr), bytes.len()));
        }
    }
    println!("| paper | mode | bytes |\n| --- | --- | --- |");
    for (paper, mode, len) in &sizes {
        println!("| {paper:?} | {mode} | {len} |");
    }
    let small = sizes
        .iter()
        .find(|(paper, mode, _)| *paper == Paper::Mm80 && mode == "gb18030-native-qr")
        .map(|s| s.2);
    assert!(small.is_some_and(|len| len <= 4096), "{sizes:?}");
}

#[test]
fn ascii_only_text_needs_no_chinese_mode() {
    let slip = Badge {
        paper: Paper::Mm58,
        blocks: vec![
            Block::Text {
                text: "Anna Smith".into(),
                size: TextSize::Huge,
                bold: true,
                align: Align::Center,
            },
            Block::Cut,
        ],
    };
    let bytes = encode(&slip, &profile(Paper::Mm58, TextMode::Gb18030, true)).unwrap();
    let cmds = parse(&bytes);
    assert!(!cmds.contains(&Cmd::ChineseOn));
    assert!(!cmds.contains(&Cmd::ChineseOff));
    assert!(cmds.contains(&Cmd::Text(b"Anna Smith".to_vec())));
    assert!(cmds.contains(&Cmd::Size(0x22)));
    assert!(cmds.contains(&Cmd::Align(1)));
    assert!(cmds.contains(&Cmd::Bold(1)));
}

#[test]
fn gb18030_text_is_encoded_and_unprintable_characters_replaced() {
    let slip = Badge {
        paper: Paper::Mm80,
        blocks: vec![Block::Text {
            // U+20000 and the emoji need four GB18030 bytes, which printers do not take.
            text: "王军 𠀀 😀 é".into(),
            size: TextSize::Normal,
            bold: false,
            align: Align::Left,
        }],
    };
    let bytes = encode(&slip, &profile(Paper::Mm80, TextMode::Gb18030, true)).unwrap();
    let cmds = parse(&bytes);
    let (expected, _, _) = encoding_rs::GB18030.encode("王军 ? ? é");
    assert!(cmds.contains(&Cmd::Text(expected.to_vec())), "{cmds:?}");
    assert_eq!(&expected[..4], &[0xCD, 0xF5, 0xBE, 0xFC]);
}

#[test]
fn control_characters_in_names_cannot_inject_commands() {
    let evil = "Eve\u{1b}@\u{1d}V\u{42}\u{0}\n\u{1c}&Smith";
    for (text, native_qr) in MODES {
        let slip = badge(
            &input(evil, Some("\u{1b}d\u{ff}Corp"), None, Lang::En),
            &template(Paper::Mm58, false),
        );
        let bytes = encode(&slip, &profile(Paper::Mm58, text, native_qr)).unwrap();
        let cmds = parse(&bytes);
        assert_eq!(cmds.iter().filter(|c| **c == Cmd::Init).count(), 1);
        assert_eq!(cmds.iter().filter(|c| matches!(c, Cmd::Cut(..))).count(), 1);
    }
}

#[test]
fn narrower_printer_than_layout_is_refused() {
    let slip = sample_badge(Paper::Mm80);
    assert!(encode(&slip, &profile(Paper::Mm58, TextMode::Raster, true)).is_err());
    // A 58 mm layout prints on 80 mm paper.
    assert!(encode(
        &sample_badge(Paper::Mm58),
        &profile(Paper::Mm80, TextMode::Raster, true)
    )
    .is_ok());
}

fn roster_entries() -> Vec<RosterEntry> {
    let visit =
        |n: i64, name: &str, company: Option<&str>, host: Option<&str>, minutes: i64| RosterEntry {
            visit_number: n,
            name: name.to_owned(),
            company: company.map(str::to_owned),
            host: host.map(str::to_owned),
            checked_in_at: checked_in() + Duration::minutes(minutes),
            kind: lobby_kiosk::domain::visit::VisitKind::Invite,
            vip: n == 7,
        };
    vec![
        visit(3, "王军", Some("华东贸易"), Some("李娜"), -20 * 60),
        visit(
            7,
            "Anna Smith",
            Some("Acme Trading Ltd"),
            Some("Zhang Wei"),
            0,
        ),
        visit(
            9,
            "欧阳娜娜",
            None,
            Some("Maximilian Alexander Konstantin von Hohenzollern"),
            45,
        ),
    ]
}

#[test]
fn roster_lists_everyone_on_site() {
    let now = checked_in() + Duration::hours(2);
    let tz = chrono_tz::Asia::Shanghai;
    for paper in [Paper::Mm58, Paper::Mm80] {
        let slip = roster(&roster_entries(), "Lakeside Tower", now, tz, paper);
        assert_fits(&slip);
        let text = slip.text();
        for expected in [
            "EVACUATION ROSTER",
            "应急名单",
            "2025-03-14 11:30",
            "On site 在场人数: 3",
            "[ ] 03-13 13:30 王军 #3",
            "[ ] 09:30 Anna Smith VIP #7",
            "[ ] 10:15 欧阳娜娜 #9",
            "    华东贸易 / Host 受访人 李娜",
            "Total 合计: 3",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
        for (text_mode, native_qr) in MODES {
            let bytes = encode_roster(
                &roster_entries(),
                "Lakeside Tower",
                now,
                tz,
                &profile(paper, text_mode, native_qr),
            )
            .unwrap();
            let cmds = parse(&bytes);
            assert_eq!(cmds.last(), Some(&Cmd::Cut(66, 0)));
        }
    }
    let empty = roster(&[], "Lakeside Tower", now, tz, Paper::Mm58).text();
    assert!(empty.contains("Nobody is on site"), "{empty}");
}

// ---------------------------------------------------------------------------------------------
// Rendered previews
// ---------------------------------------------------------------------------------------------

fn out_dir() -> PathBuf {
    // Written for people to look at: target/tmp/badges/*.png.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("badges");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn render_options(paper: Paper) -> RenderOptions {
    RenderOptions {
        paper_dots: paper.dots(),
        chinese_encoding: TextEncoding::Gb18030,
    }
}

/// Renders `bytes`, writes the PNG and checks what every slip must look like: one cut, no
/// renderer warnings, the paper's width.
fn render_slip(bytes: &[u8], paper: Paper, file: &str) -> GrayImage {
    let slip = render(bytes, &render_options(paper)).unwrap();
    assert!(slip.warnings.is_empty(), "{file}: {:?}", slip.warnings);
    assert_eq!(slip.cuts, 1, "{file}");
    std::fs::write(out_dir().join(file), to_png(&slip.image).unwrap()).unwrap();
    let image = slip.image;
    assert_eq!(image.width(), paper.dots());
    image
}

/// Every QR code rqrr finds in `image`.
fn decode_qr(image: &GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}

/// Rows that hold ink, as (first, last) runs.
fn ink_runs(image: &GrayImage) -> Vec<(u32, u32)> {
    let mut runs = Vec::new();
    let mut start = None;
    for y in 0..image.height() {
        let ink = (0..image.width()).any(|x| image.get_pixel(x, y).0[0] == 0);
        match (ink, start) {
            (true, None) => start = Some(y),
            (false, Some(s)) => {
                runs.push((s, y - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, image.height() - 1));
    }
    runs
}

#[test]
fn rendered_badges_are_readable_and_their_qr_decodes() {
    let cases: [(&str, BadgeInput); 4] = [
        (
            "en",
            input(
                "Anna Smith",
                Some("Acme Trading Ltd"),
                Some("Li Na"),
                Lang::En,
            ),
        ),
        (
            "zh",
            input(
                "欧阳娜娜",
                Some("华东贸易有限公司"),
                Some("王军"),
                Lang::ZhCn,
            ),
        ),
        (
            "mixed",
            input(
                "Zhang 张 Wei-Ming 伟明",
                Some("Shenzhen Huaqiang 深圳华强电子科技股份有限公司"),
                Some("Ouyang 欧阳 Nana"),
                Lang::En,
            ),
        ),
        (
            "long",
            input(&"欧阳娜娜王军".repeat(10), None, Some("李娜"), Lang::ZhCn),
        ),
    ];
    for paper in [Paper::Mm58, Paper::Mm80] {
        let width = if paper == Paper::Mm58 { 58 } else { 80 };
        for (name, visitor) in &cases {
            let slip = badge(visitor, &template(paper, true));
            for (text, native_qr) in MODES {
                // Every mode for the mixed badge, the two text paths for the others.
                if *name != "mixed" && !native_qr {
                    continue;
                }
                let bytes = encode(&slip, &profile(paper, text, native_qr)).unwrap();
                let file = format!("{name}-{width}mm-{}.png", mode_name(text, native_qr));
                let image = render_slip(&bytes, paper, &file);
                assert_eq!(decode_qr(&image), vec!["LKO:7K3QMX9P".to_owned()], "{file}");
            }
        }
    }
}

#[test]
fn both_text_paths_print_the_same_lines() {
    // The layout decides line breaks, so both paths print the same number of text lines.
    for paper in [Paper::Mm58, Paper::Mm80] {
        let slip = sample_badge(paper);
        let runs: Vec<usize> = [TextMode::Gb18030, TextMode::Raster]
            .into_iter()
            .map(|text| {
                let bytes = encode(&slip, &profile(paper, text, true)).unwrap();
                let image = render(&bytes, &render_options(paper)).unwrap().image;
                ink_runs(&image).len()
            })
            .collect();
        assert_eq!(runs[0], runs[1], "{paper:?}");
    }
}

#[test]
fn rendered_roster() {
    let now = checked_in() + Duration::hours(2);
    for paper in [Paper::Mm58, Paper::Mm80] {
        let width = if paper == Paper::Mm58 { 58 } else { 80 };
        for text in [TextMode::Gb18030, TextMode::Raster] {
            let bytes = encode_roster(
                &roster_entries(),
                "Lakeside Tower 湖畔大厦",
                now,
                chrono_tz::Asia::Shanghai,
                &profile(paper, text, true),
            )
            .unwrap();
            let file = format!("roster-{width}mm-{}.png", mode_name(text, true));
            render_slip(&bytes, paper, &file);
        }
    }
}

#[test]
fn raster_lines_are_placed_where_the_layout_says() {
    // After a centred native QR code the printer is still centring; raster lines must not be
    // moved twice.
    let line = |text: &str, align| Block::Text {
        text: text.into(),
        size: TextSize::Large,
        bold: true,
        align,
    };
    for paper in [Paper::Mm58, Paper::Mm80] {
        let slip = Badge {
            paper,
            blocks: vec![
                Block::Qr {
                    data: "LKO:7K3QMX9P".into(),
                    module_dots: 4,
                },
                Block::Feed(30),
                line("7K3Q-MX9P", Align::Center),
                Block::Feed(30),
                line("Right", Align::Right),
                Block::Feed(30),
                line("Left", Align::Left),
                Block::Cut,
            ],
        };
        for native_qr in [true, false] {
            let bytes = encode(&slip, &profile(paper, TextMode::Raster, native_qr)).unwrap();
            let image = render(&bytes, &render_options(paper)).unwrap().image;
            let runs = ink_runs(&image);
            assert_eq!(runs.len(), 4, "{runs:?}");
            let columns = |(top, bottom): (u32, u32)| {
                let ink: Vec<u32> = (0..image.width())
                    .filter(|&x| (top..=bottom).any(|y| image.get_pixel(x, y).0[0] == 0))
                    .collect();
                (ink[0], ink[ink.len() - 1])
            };
            let middle = paper.dots() / 2;
            for run in &runs[..2] {
                let (left, right) = columns(*run);
                assert!(
                    (left + right).abs_diff(2 * middle) <= 8,
                    "{paper:?} native {native_qr}: {left}..{right} not centred"
                );
            }
            let (_, right) = columns(runs[2]);
            assert!(
                right >= paper.dots() - 8,
                "right-aligned line ends at {right}"
            );
            let (left, _) = columns(runs[3]);
            assert!(left <= 8, "left-aligned line starts at {left}");
        }
    }
}

#[test]
fn badge_input_from_a_visit_record() {
    use lobby_kiosk::domain::visit::{VisitKind, VisitState};
    use lobby_kiosk::print::layout::BadgeError;
    use lobby_kiosk::store::VisitRecord;

    let mut config = Config::default();
    config.site.timezone = "Asia/Shanghai".into();
    config.badge.validity_hours = 4;
    let mut visit = VisitRecord {
        id: uuid::Uuid::nil(),
        number: 77,
        kind: VisitKind::WalkIn,
        state: VisitState::CheckedIn,
        invite_id: None,
        visitor_id: None,
        visitor_name: Some("  王军\n".into()),
        visitor_company: Some("华东贸易".into()),
        host_id: None,
        host_name: Some("李娜".into()),
        purpose: None,
        vip: true,
        checkout_code: code(),
        expected_end: None,
        checked_in_at: Some(checked_in()),
        checked_out_at: None,
        checkout_automatic: false,
        host_notified_at: None,
        host_confirmed_at: None,
        rating: None,
        cancelled_on_site: false,
    };
    let input = BadgeInput::from_visit(&visit, &config, Lang::ZhCn).unwrap();
    assert_eq!(input.visitor_name, "王军");
    assert_eq!(input.visit_number, 77);
    assert_eq!(input.tz, chrono_tz::Asia::Shanghai);
    assert_eq!(input.valid_until, checked_in() + Duration::hours(4));
    assert!(input.vip);
    let text = badge(&input, &BadgeTemplate::from_config(&config)).text();
    assert!(
        text.contains("有效期至 Valid until: 2025-03-14 13:30"),
        "{text}"
    );
    assert!(text.contains("VIP 贵宾"));

    visit.visitor_name = None;
    let input = BadgeInput::from_visit(&visit, &config, Lang::En).unwrap();
    assert_eq!(input.visitor_name, "Visitor #77");
    visit.checked_in_at = None;
    assert_eq!(
        BadgeInput::from_visit(&visit, &config, Lang::En),
        Err(BadgeError::NotCheckedIn { number: 77 })
    );
}

#[test]
fn wide_raster_lines_are_narrowed_not_cut() {
    // 32 capital Ws fill a 58 mm line in the printer's font; the bundled face draws them wider.
    let slip = Badge {
        paper: Paper::Mm58,
        blocks: vec![
            Block::Text {
                text: "W".repeat(32),
                size: TextSize::Normal,
                bold: true,
                align: Align::Center,
            },
            Block::Cut,
        ],
    };
    let bytes = encode(&slip, &profile(Paper::Mm58, TextMode::Raster, false)).unwrap();
    let widths: Vec<u32> = parse(&bytes)
        .into_iter()
        .filter_map(|c| match c {
            Cmd::Raster { width_bytes, .. } => Some(width_bytes),
            _ => None,
        })
        .collect();
    assert!(!widths.is_empty());
    assert!(widths.iter().all(|&w| w * 8 <= 384), "{widths:?}");
    let image = render(&bytes, &render_options(Paper::Mm58)).unwrap().image;
    assert_eq!(ink_runs(&image).len(), 1, "one line, not wrapped");
}
