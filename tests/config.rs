//! Loading and checking `kiosk.toml`.

use std::path::{Path, PathBuf};

use lobby_kiosk::config::{
    self, CameraSelector, Config, ConfigError, Lang, PinError, PrinterEncoding, PrinterTransport,
    Problem, SiteConfig, StaffConfig, StorageConfig, SHIPPED, SHIPPED_PIN,
};
use lobby_kiosk::domain::walkin::Field;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

/// Loads a file that must be rejected and returns its problems and the rendered error.
fn problems_of(name: &str) -> (Vec<Problem>, String) {
    let path = data(name);
    match config::load(&path) {
        Ok(_) => panic!("{name} was accepted"),
        Err(err @ ConfigError::Invalid { .. }) => {
            let text = err.to_string();
            (err.problems().to_vec(), text)
        }
        Err(err) => panic!("{name}: unexpected error {err}"),
    }
}

fn problem<'a>(problems: &'a [Problem], key: &str) -> &'a Problem {
    problems
        .iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no problem for {key} in {problems:#?}"))
}

#[test]
fn shipped_file_parses_and_equals_default() {
    let embedded = Config::embedded().unwrap();
    let default = Config::default();
    assert_eq!(embedded, default);
    // Field by field through the serialised form, so a field left out of PartialEq still counts.
    assert_eq!(
        toml::to_string(&embedded).unwrap(),
        toml::to_string(&default).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&embedded).unwrap(),
        serde_json::to_value(&default).unwrap()
    );
    // The repository copy on disk is the same text and loads cleanly as a file too.
    let on_disk = config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("kiosk.toml")).unwrap();
    assert_eq!(
        serde_json::to_value(&on_disk).unwrap(),
        serde_json::to_value(&default).unwrap()
    );
}

#[test]
fn shipped_values_need_no_devices() {
    let config = Config::embedded().unwrap();
    assert_eq!(config.camera.selector(), CameraSelector::Auto);
    assert_eq!(config.printer.transport, PrinterTransport::Preview);
    assert!(config.hub.standalone());
    assert_eq!(config.logo_path(), None);
    assert_eq!(config.ca_file_path(), None);
    assert_eq!(config.language.default, Lang::ZhCn);
    assert_eq!(
        config.auto_checkout_time(),
        chrono::NaiveTime::from_hms_opt(22, 0, 0)
    );
    assert!(config.staff.verify_pin(SHIPPED_PIN));

    let warnings = config.warnings().join("\n");
    assert!(warnings.contains("staff.pin_hash"), "{warnings}");
    assert!(warnings.contains("2580"), "{warnings}");
    assert!(warnings.contains("standalone"), "{warnings}");
    assert!(!warnings.contains("retention_days"), "{warnings}");
    assert!(!warnings.contains("allow_plain_http"), "{warnings}");
}

/// Every key of `Config` (as serialised from the defaults) is written in the shipped file with
/// a comment line directly above it, and so is every section header.
#[test]
fn every_key_is_documented_in_the_shipped_file() {
    let doc: toml_edit::DocumentMut = SHIPPED.parse().unwrap();
    let defaults = toml::Value::try_from(Config::default()).unwrap();
    let sections = defaults.as_table().unwrap();
    assert!(sections.len() >= 15, "{sections:?}");

    fn comment_directly_above(prefix: &str) -> bool {
        let body = prefix.trim_end_matches([' ', '\t']);
        let Some(before_key) = body.strip_suffix('\n') else {
            return false;
        };
        before_key
            .lines()
            .last()
            .is_some_and(|line| line.trim_start().starts_with('#'))
    }

    let mut checked = 0;
    for (section, keys) in sections {
        let table = doc
            .get(section)
            .and_then(|item| item.as_table())
            .unwrap_or_else(|| panic!("section [{section}] missing from kiosk.toml"));
        let header = table
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("");
        assert!(
            comment_directly_above(header),
            "[{section}] has no comment line directly above it"
        );
        for key in keys.as_table().unwrap().keys() {
            let written = table
                .key(key)
                .unwrap_or_else(|| panic!("{section}.{key} missing from kiosk.toml"));
            let prefix = written
                .leaf_decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("");
            assert!(
                comment_directly_above(prefix),
                "{section}.{key} has no comment line directly above it: {prefix:?}"
            );
            let comment = prefix.to_lowercase();
            assert!(
                comment.contains("default"),
                "the comment of {section}.{key} does not give the default"
            );
            checked += 1;
        }
        // Nothing in the file that Config does not know (deny_unknown_fields also catches it).
        assert_eq!(table.len(), keys.as_table().unwrap().len(), "[{section}]");
    }
    assert!(checked > 50, "only {checked} keys checked");
}

#[test]
fn syntax_error_points_at_the_line() {
    let (problems, text) = problems_of("syntax_error.toml");
    assert_eq!(problems.len(), 1, "{text}");
    let p = &problems[0];
    assert!(p.file.ends_with("syntax_error.toml"), "{text}");
    // Line 4 is `name = "Headquarters`: the string runs to the end of the line unclosed.
    assert_eq!((p.line, p.column), (4, 21), "{text}");
    assert_eq!(p.key, "site.name", "{text}");
    assert!(p.message.contains("string"), "{text}");
    assert!(
        text.contains("syntax_error.toml:4:21: site.name: "),
        "{text}"
    );
    assert!(!text.contains('\n'), "one problem, one line: {text}");
}

#[test]
fn unknown_section_is_rejected() {
    let (problems, text) = problems_of("unknown_section.toml");
    assert_eq!(problems.len(), 1, "{text}");
    let p = &problems[0];
    assert_eq!(p.key, "printr");
    assert_eq!((p.line, p.column), (4, 2), "{text}");
    assert!(p.message.contains("unknown field `printr`"), "{text}");
    assert!(
        p.message.contains("printer"),
        "lists the known sections: {text}"
    );
    assert!(
        text.ends_with(&format!("unknown_section.toml:4:2: printr: {}", p.message)),
        "{text}"
    );
}

#[test]
fn unknown_nested_key_is_rejected() {
    let (problems, text) = problems_of("unknown_key.toml");
    assert_eq!(problems.len(), 1, "{text}");
    let p = &problems[0];
    assert_eq!(p.key, "printer.devise");
    assert_eq!((p.line, p.column), (3, 1), "{text}");
    assert!(p.message.contains("unknown field `devise`"), "{text}");
    assert!(
        p.message.contains("`device`"),
        "suggests the known keys: {text}"
    );
    assert!(
        text.contains("unknown_key.toml:3:1: printer.devise: "),
        "{text}"
    );
}

#[test]
fn wrong_type_is_rejected() {
    let (problems, text) = problems_of("wrong_type.toml");
    assert_eq!(problems.len(), 1, "{text}");
    let p = &problems[0];
    assert_eq!(p.key, "printer.paper_width_mm");
    assert_eq!((p.line, p.column), (4, 18), "{text}");
    assert!(p.message.contains("eighty"), "{text}");
    assert!(p.message.contains("u32"), "{text}");
    assert!(
        text.contains("wrong_type.toml:4:18: printer.paper_width_mm: "),
        "{text}"
    );
}

#[test]
fn wrong_enum_value_names_the_choices() {
    let err = config::parse(
        "[printer]\ntransport = \"bluetooth\"\n",
        Path::new("k.toml"),
    )
    .unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(p.key, "printer.transport");
    assert_eq!((p.line, p.column), (2, 13));
    assert!(
        p.message.contains("bluetooth") && p.message.contains("usb"),
        "{err}"
    );
}

#[test]
fn all_bad_values_are_reported_at_once() {
    let (problems, text) = problems_of("bad_values.toml");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), problems.len(), "{text}");
    assert_eq!(problems.len(), 7, "{text}");
    for line in &lines {
        assert!(line.contains("bad_values.toml:"), "{line}");
    }

    let tz = problem(&problems, "site.timezone");
    assert_eq!((tz.line, tz.column), (3, 12), "{text}");
    assert!(tz.message.contains("Mars/Base"), "{text}");

    let lang = problem(&problems, "language.default");
    assert_eq!((lang.line, lang.column), (7, 11), "{text}");
    assert!(lang.message.contains("zh-CN"), "{text}");
    assert!(lang.message.contains("language.available"), "{text}");

    let color = problem(&problems, "branding.primary_color");
    assert_eq!((color.line, color.column), (10, 17), "{text}");
    assert!(color.message.contains("#RRGGBB"), "{text}");

    let paper = problem(&problems, "printer.paper_width_mm");
    assert_eq!((paper.line, paper.column), (13, 18), "{text}");
    assert!(paper.message.contains("58 or 80"), "{text}");
    assert!(paper.message.contains("70"), "{text}");

    let hub = problem(&problems, "hub.url");
    assert_eq!((hub.line, hub.column), (16, 7), "{text}");
    assert!(hub.message.contains("allow_plain_http"), "{text}");

    let both = problem(&problems, "walkin.optional[1]");
    assert_eq!((both.line, both.column), (20, 22), "{text}");
    assert!(both.message.contains("phone"), "{text}");
    assert!(both.message.contains("both"), "{text}");

    let pin = problem(&problems, "staff.pin_hash");
    assert_eq!((pin.line, pin.column), (23, 12), "{text}");
    assert!(pin.message.contains("hash-pin"), "{text}");

    assert!(
        text.contains("bad_values.toml:13:18: printer.paper_width_mm: must be 58 or 80, not 70"),
        "{text}"
    );
    // Problems come in file order.
    let positions: Vec<(usize, usize)> = problems.iter().map(|p| (p.line, p.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
}

#[test]
fn missing_file_is_an_io_error_with_the_path() {
    let path = data("does-not-exist.toml");
    let err = config::load(&path).unwrap_err();
    match &err {
        ConfigError::Io { path: p, source } => {
            assert_eq!(p, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(err.to_string().contains("does-not-exist.toml"), "{err}");
    assert!(err.problems().is_empty());
}

#[test]
fn empty_file_is_all_defaults() {
    let config = config::parse("", Path::new("/etc/lobby-kiosk/kiosk.toml")).unwrap();
    assert_eq!(
        serde_json::to_value(&config).unwrap(),
        serde_json::to_value(Config::default()).unwrap()
    );
    assert_eq!(
        config.config_dir.as_deref(),
        Some(Path::new("/etc/lobby-kiosk"))
    );
}

#[test]
fn partial_file_keeps_other_defaults() {
    let config = config::load(&data("partial.toml")).unwrap();
    assert_eq!(config.site.id, "shanghai-2");
    assert_eq!(config.timezone(), chrono_tz::Asia::Shanghai);
    assert_eq!(config.site.country, "CN");
    assert_eq!(config.printer.transport, PrinterTransport::Tcp);
    assert_eq!(config.printer.encoding, PrinterEncoding::Gb18030);
    assert_eq!(
        config.printer.tcp_address(),
        Some(("192.0.2.10".to_owned(), 9101))
    );
    assert_eq!(config.printer.baud, 19200);
    assert!(config.printer.native_qr);
    assert!(!config.hub.standalone());
    let pin = config.hub.cert_pin().unwrap();
    assert_eq!(pin[1], 0x11);
    assert_eq!(pin[31], 0xff);
    let keys = config.invites.trusted_key_bytes();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0][31], 31);
    assert_eq!(config.auto_checkout_time(), None);
    assert_eq!(
        config.walkin.required,
        vec![Field::Name, Field::Phone, Field::Host]
    );
    assert!(config.walkin.asks_for(Field::Email));
    assert!(!config.walkin.requires(Field::Email));

    let warnings = config.warnings().join("\n");
    assert!(warnings.contains("retention_days"), "{warnings}");
    assert!(!warnings.contains("standalone"), "{warnings}");
}

#[test]
fn tcp_printer_without_port_uses_9100() {
    let config = config::parse(
        "[printer]\ntransport = \"tcp\"\ndevice = \"badge-printer.lan\"\n",
        Path::new("kiosk.toml"),
    )
    .unwrap();
    assert_eq!(
        config.printer.tcp_address(),
        Some(("badge-printer.lan".to_owned(), 9100))
    );
    let err = config::parse(
        "[printer]\ntransport = \"tcp\"\ndevice = \"badge-printer.lan:99999\"\n",
        Path::new("kiosk.toml"),
    )
    .unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(
        (p.key.as_str(), p.line, p.column),
        ("printer.device", 3, 10)
    );
    assert!(p.message.contains("65535"), "{err}");
}

#[test]
fn device_needed_by_a_transport_is_reported_where_it_is_chosen() {
    let err =
        config::parse("[printer]\ntransport = \"usb\"\n", Path::new("kiosk.toml")).unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(
        (p.key.as_str(), p.line, p.column),
        ("printer.transport", 2, 13)
    );
    assert!(p.message.contains("printer.device"), "{err}");

    let err = config::parse(
        "[scanner]\nkind = \"serial\"\nserial_port = \"\"\n",
        Path::new("kiosk.toml"),
    )
    .unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(
        (p.key.as_str(), p.line, p.column),
        ("scanner.serial_port", 3, 15)
    );

    let err = config::parse(
        "[scanner]\nkind = \"hid\"\nbaud = 1000\n",
        Path::new("kiosk.toml"),
    )
    .unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["scanner.kind", "scanner.baud"], "{err}");
}

#[test]
fn values_are_located_in_dotted_keys_and_inline_tables() {
    let text = "sounds.volume = 1.5\nui = { idle_timeout_seconds = 5 }\n\
                [invites]\ntrusted_keys = [\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\", \"AAEC\"]\n";
    let err = config::parse(text, Path::new("dotted.toml")).unwrap_err();
    let found: Vec<(String, usize, usize)> = err
        .problems()
        .iter()
        .map(|p| (p.key.clone(), p.line, p.column))
        .collect();
    assert_eq!(
        found,
        [
            ("sounds.volume".to_owned(), 1, 17),
            ("ui.idle_timeout_seconds".to_owned(), 2, 31),
            ("invites.trusted_keys[1]".to_owned(), 4, 65),
        ],
        "{err}"
    );
    assert!(err.problems()[2].message.contains("32"), "{err}");
}

#[test]
fn range_and_format_rules() {
    let cases: &[(&str, &str)] = &[
        ("[site]\nid = \"HQ\"", "site.id"),
        ("[site]\nname = \"\"", "site.name"),
        ("[site]\ncountry = \"cn\"", "site.country"),
        ("[language]\navailable = []", "language.available"),
        (
            "[language]\navailable = [\"en\", \"en\"]\ndefault = \"en\"",
            "language.available[1]",
        ),
        ("[branding]\nname = \"", "branding.name"),
        ("[branding]\ntext_color = \"#12345\"", "branding.text_color"),
        ("[camera]\nwidth = 100", "camera.width"),
        ("[camera]\nheight = 4000", "camera.height"),
        ("[camera]\nfps = 0", "camera.fps"),
        ("[camera]\ndevice = \"\"", "camera.device"),
        ("[printer]\nbaud = 14400", "printer.baud"),
        ("[badge]\nvalidity_hours = 0", "badge.validity_hours"),
        ("[hub]\nurl = \"hub.example.com\"", "hub.url"),
        ("[hub]\ncert_pin_sha256 = \"abc\"", "hub.cert_pin_sha256"),
        ("[hub]\nca_file = \"no-such-ca.pem\"", "hub.ca_file"),
        (
            "[invites]\nclock_skew_seconds = 3601",
            "invites.clock_skew_seconds",
        ),
        (
            "[invites]\ntrusted_keys = [\"not base64!\"]",
            "invites.trusted_keys[0]",
        ),
        ("[walkin]\nrequired = [\"phone\"]", "walkin.required"),
        (
            "[walkin]\noptional = [\"email\", \"email\"]",
            "walkin.optional[1]",
        ),
        ("[walkin]\nname_max_chars = 0", "walkin.name_max_chars"),
        ("[checkout]\nauto_at = \"25:00\"", "checkout.auto_at"),
        (
            "[checkout]\nauto_after_expected_end_minutes = 1441",
            "checkout.auto_after_expected_end_minutes",
        ),
        ("[storage]\nretention_days = 3651", "storage.retention_days"),
        ("[staff]\npin_hash = \"\"", "staff.pin_hash"),
        (
            "[staff]\npin_hash = \"$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA\"",
            "staff.pin_hash",
        ),
        (
            "[ui]\nidle_timeout_seconds = 601",
            "ui.idle_timeout_seconds",
        ),
        ("[sounds]\nvolume = -0.1", "sounds.volume"),
    ];
    for (text, key) in cases {
        let text = if *key == "branding.name" {
            format!("{text}{}\"", "x".repeat(61))
        } else {
            (*text).to_owned()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.toml");
        let err = config::parse(&text, &path).expect_err(&text);
        let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, [*key], "{text}\n{err}");
        let p = &err.problems()[0];
        assert_eq!(p.line, 2, "{err}");
        assert!(p.column > 1, "{err}");
    }
}

#[test]
fn camera_device_may_be_a_bare_index() {
    let config = config::parse("[camera]\ndevice = 1\n", Path::new("kiosk.toml")).unwrap();
    assert_eq!(config.camera.selector(), CameraSelector::Index(1));
    let config = config::parse("[camera]\ndevice = \"none\"\n", Path::new("kiosk.toml")).unwrap();
    assert_eq!(config.camera.selector(), CameraSelector::None);
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    let png = [
        0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 0,
    ];
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/logo.png"), png).unwrap();
    std::fs::write(
        dir.path().join("hub-ca.pem"),
        "-----BEGIN CERTIFICATE-----\n",
    )
    .unwrap();
    let path = dir.path().join("kiosk.toml");
    std::fs::write(
        &path,
        "[branding]\nlogo = \"assets/logo.png\"\n[hub]\nca_file = \"hub-ca.pem\"\n\
         [storage]\ndata_dir = \"state\"\n[printer]\ntransport = \"file\"\ndevice = \"out/badges.bin\"\n",
    )
    .unwrap();
    let config = config::load(&path).unwrap();
    assert_eq!(config.logo_path(), Some(dir.path().join("assets/logo.png")));
    assert_eq!(config.ca_file_path(), Some(dir.path().join("hub-ca.pem")));
    assert_eq!(
        config.printer_file_path(),
        Some(dir.path().join("out/badges.bin"))
    );
    assert_eq!(config.resolve_data_dir(&|_| None), dir.path().join("state"));
    assert_eq!(config.resolve_path("/abs/x"), PathBuf::from("/abs/x"));

    // The same file elsewhere misses its logo and CA bundle; both are reported.
    let other = tempfile::tempdir().unwrap();
    let moved = other.path().join("kiosk.toml");
    std::fs::copy(&path, &moved).unwrap();
    let err = config::load(&moved).unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["branding.logo", "hub.ca_file"], "{err}");
    assert!(err.to_string().contains("assets/logo.png"), "{err}");

    // A file that is not a PNG is refused as a logo.
    std::fs::create_dir(other.path().join("assets")).unwrap();
    std::fs::write(other.path().join("assets/logo.png"), "GIF89a").unwrap();
    std::fs::write(other.path().join("hub-ca.pem"), "").unwrap();
    let err = config::load(&moved).unwrap_err();
    assert_eq!(err.problems().len(), 1, "{err}");
    assert!(err.problems()[0].message.contains("PNG"), "{err}");
}

#[test]
fn data_dir_fallbacks() {
    let config = Config::default();
    let env_of = |pairs: &'static [(&'static str, &'static str)]| {
        move |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let all = env_of(&[
        ("STATE_DIRECTORY", "/var/lib/lobby-kiosk:/var/lib/other"),
        ("XDG_DATA_HOME", "/home/kiosk/.data"),
        ("HOME", "/home/kiosk"),
    ]);
    assert_eq!(
        config.resolve_data_dir(&all),
        PathBuf::from("/var/lib/lobby-kiosk")
    );
    let xdg = env_of(&[
        ("XDG_DATA_HOME", "/home/kiosk/.data"),
        ("HOME", "/home/kiosk"),
    ]);
    assert_eq!(
        config.resolve_data_dir(&xdg),
        PathBuf::from("/home/kiosk/.data/lobby-kiosk")
    );
    let home = env_of(&[("STATE_DIRECTORY", ""), ("HOME", "/home/kiosk")]);
    assert_eq!(
        config.resolve_data_dir(&home),
        PathBuf::from("/home/kiosk/.local/share/lobby-kiosk")
    );
    assert_eq!(
        config.resolve_data_dir(&|_| None),
        PathBuf::from("./lobby-kiosk-data")
    );

    let set = Config {
        storage: StorageConfig {
            data_dir: "/srv/kiosk".to_owned(),
            ..StorageConfig::default()
        },
        ..Config::default()
    };
    assert_eq!(set.resolve_data_dir(&all), PathBuf::from("/srv/kiosk"));
}

#[test]
fn local_timezone_resolves() {
    // Whatever the machine's zone, "local" gives a usable zone and never panics.
    let config = Config::default();
    let _ = config.timezone();
    let utc = Config {
        site: SiteConfig {
            timezone: "UTC".to_owned(),
            ..SiteConfig::default()
        },
        ..Config::default()
    };
    assert_eq!(utc.timezone(), chrono_tz::UTC);
}

#[test]
fn pin_hash_round_trip() {
    let hash = config::hash_pin("735019").unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let staff = StaffConfig {
        pin_hash: hash.clone(),
    };
    assert!(staff.verify_pin("735019"));
    assert!(!staff.verify_pin("735018"));
    assert!(!staff.verify_pin(""));
    assert!(!staff.verify_pin("73501９"));
    // Salted: the same PIN hashes differently each time.
    assert_ne!(config::hash_pin("735019").unwrap(), hash);

    // A freshly made hash is accepted in a file.
    let text = format!("[staff]\npin_hash = \"{hash}\"\n");
    let config = config::parse(&text, Path::new("kiosk.toml")).unwrap();
    assert!(config.staff.verify_pin("735019"));
    assert!(!config.warnings().join("\n").contains("staff.pin_hash"));
}

#[test]
fn pin_rules() {
    assert_eq!(config::hash_pin("123"), Err(PinError::Length { len: 3 }));
    assert_eq!(
        config::hash_pin("1234567890123"),
        Err(PinError::Length { len: 13 })
    );
    assert_eq!(config::hash_pin("12a4"), Err(PinError::NotDigits));
    assert_eq!(config::hash_pin("١٢٣٤"), Err(PinError::NotDigits));
    assert_eq!(config::hash_pin(" 1234"), Err(PinError::NotDigits));
    assert!(config::hash_pin("0000").is_ok());
    assert!(config::hash_pin("123456789012").is_ok());
}

#[test]
fn verify_pin_never_panics_on_bad_hashes() {
    for pin_hash in [
        "",
        "2580",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
        "$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=4,r=8,p=1$c2FsdA$aGFzaA",
    ] {
        let staff = StaffConfig {
            pin_hash: pin_hash.to_owned(),
        };
        assert!(!staff.verify_pin("2580"), "{pin_hash}");
    }
}
