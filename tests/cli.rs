//! The `lobby-kiosk` command line as IT staff and the front desk use it: checking a
//! configuration, hashing the staff PIN, minting invites, scanning codes, the roster, the
//! export and the retention purge. Every test runs the real binary against its own data
//! directory and its own configuration file, so nothing depends on the machine it runs on.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_lobby-kiosk");

/// The site time zone of every test configuration, so dates never depend on the machine.
const SITE_TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A configuration for a standalone kiosk with an explicit time zone. The fixed-time
/// check-out is switched off so that a run close to the evening cut-off cannot empty the
/// roster between two commands.
const TEST_CONFIG: &str = r#"[site]
id = "hq"
name = "Test Lobby"
timezone = "Asia/Shanghai"

[checkout]
auto_at = ""
"#;

/// What one run of the program left behind.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect_code(self, code: i32, what: &str) -> Run {
        assert_eq!(
            self.code, code,
            "{what}: expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    fn ok(self, what: &str) -> Run {
        self.expect_code(0, what)
    }
}

fn run_with(args: &[&str], cwd: &Path, config_env: &str, stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env("LOBBY_KIOSK_CONFIG", config_env)
        .env_remove("LOBBY_KIOSK_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot start lobby-kiosk");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes()).expect("cannot write stdin");
    }
    let out = child
        .wait_with_output()
        .expect("lobby-kiosk did not finish");
    let run = Run {
        code: out
            .status
            .code()
            .unwrap_or_else(|| panic!("lobby-kiosk {args:?} was killed: {:?}", out.status)),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "lobby-kiosk {args:?} panicked:\n{}",
        run.stderr
    );
    run
}

/// A kiosk of its own: a temporary directory holding the configuration file and the data
/// directory.
struct Kiosk {
    dir: TempDir,
    config: PathBuf,
    data: PathBuf,
}

impl Kiosk {
    fn new() -> Kiosk {
        Kiosk::with_config(TEST_CONFIG)
    }

    fn with_config(text: &str) -> Kiosk {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("kiosk.toml");
        std::fs::write(&config, text).expect("write kiosk.toml");
        let data = dir.path().join("data");
        Kiosk { dir, config, data }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file next to the configuration and returns its path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// Runs a command against this kiosk's configuration and data directory.
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec![
            "--config",
            path_str(&self.config),
            "--data-dir",
            path_str(&self.data),
        ];
        all.extend_from_slice(args);
        run_with(&all, self.dir.path(), path_str(&self.config), None)
    }

    /// Runs a command with exactly these arguments (no `--config` or `--data-dir` added),
    /// `$LOBBY_KIOSK_CONFIG` pointing at this kiosk's configuration unless `config_env` says
    /// otherwise.
    fn run_raw(&self, args: &[&str], config_env: Option<&str>, stdin: Option<&str>) -> Run {
        let env = config_env.unwrap_or(path_str(&self.config));
        run_with(args, self.dir.path(), env, stdin)
    }

    fn invite(&self, name: &str, host: Option<&str>) -> Invite {
        let qr = self.path(&format!("invite-{}.png", fastrand::u32(..)));
        let mut args = vec!["invite", "new", "--name", name, "--qr", path_str(&qr)];
        if let Some(h) = host {
            args.extend_from_slice(&["--host", h]);
        }
        let run = self.run(&args).ok("invite new");
        let short_code = field(&run.stdout, "short code:").to_string();
        let token = field(&run.stdout, "token:").to_string();
        assert!(
            run.stdout.contains(name),
            "the invite names the visitor:\n{}",
            run.stdout
        );
        Invite {
            short_code,
            token,
            qr,
        }
    }

    fn roster(&self) -> Value {
        let run = self.run(&["roster", "--json"]).ok("roster --json");
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("roster --json is not JSON ({e}):\n{}", run.stdout))
    }

    fn roster_names(&self) -> Vec<String> {
        let roster = self.roster();
        let visitors = roster["visitors"].as_array().expect("visitors is an array");
        assert_eq!(
            roster["on_site"].as_u64(),
            Some(visitors.len() as u64),
            "on_site counts the visitors listed: {roster:#}"
        );
        visitors
            .iter()
            .map(|v| v["name"].as_str().expect("name is a string").to_string())
            .collect()
    }

    /// Scans a code that must check a visitor in; returns the badge slip's check-out code.
    fn check_in(&self, code: &str) -> String {
        let run = self.run(&["scan", code]).ok("scan to check in");
        assert!(
            run.stdout.contains("checked in:"),
            "scan says checked in:\n{}",
            run.stdout
        );
        let checkout = field(&run.stdout, "check-out code:").to_string();
        assert_short_code(&checkout);
        format!("LKO:{checkout}")
    }
}

/// An invite as `invite new` printed it.
struct Invite {
    short_code: String,
    token: String,
    qr: PathBuf,
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// The value after `label` on the line that starts with it.
fn field<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{stdout}"))
}

/// A short code as shown to people: `ABCD-EFGH` in the Crockford alphabet.
fn assert_short_code(code: &str) {
    let (head, tail) = code
        .split_once('-')
        .unwrap_or_else(|| panic!("{code:?} is not grouped as ABCD-EFGH"));
    for group in [head, tail] {
        assert_eq!(group.len(), 4, "{code:?}");
        assert!(
            group
                .bytes()
                .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)),
            "{code:?} uses letters outside the short-code alphabet"
        );
    }
}

/// Today's date at the site.
fn site_today() -> String {
    chrono::Utc::now()
        .with_timezone(&SITE_TZ)
        .format("%Y-%m-%d")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// check-config
// ---------------------------------------------------------------------------------------------

#[test]
fn check_config_accepts_the_shipped_file() {
    let kiosk = Kiosk::new();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("kiosk.toml");
    let run = kiosk
        .run_raw(&["check-config", path_str(&shipped)], None, None)
        .ok("check-config kiosk.toml");
    assert!(
        run.stdout
            .contains(&format!("{}: valid", shipped.display())),
        "{}",
        run.stdout
    );
    // The shipped staff PIN must be pointed out so that IT changes it.
    assert!(
        run.stdout.contains("note:") && run.stdout.contains("staff.pin_hash"),
        "{}",
        run.stdout
    );

    // The same file given with --config, and the test configuration itself.
    kiosk
        .run_raw(
            &["--config", path_str(&shipped), "check-config"],
            None,
            None,
        )
        .ok("check-config --config kiosk.toml");
    kiosk
        .run_raw(&["check-config", path_str(&kiosk.config)], None, None)
        .ok("check-config of the test configuration");
}

/// Runs check-config on `text` and asserts exit 2 with `file:line:column: key` on stderr.
fn assert_rejected(text: &str, line: usize, column: usize, key: &str, message: &str) {
    let kiosk = Kiosk::new();
    let bad = kiosk.write("broken.toml", text);
    let run = kiosk
        .run_raw(&["check-config", path_str(&bad)], None, None)
        .expect_code(2, "check-config of a broken file");
    let location = format!("{}:{line}:{column}: {key}: ", bad.display());
    assert!(
        run.stderr.contains(&location),
        "stderr names {location:?}:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(message),
        "stderr says {message:?}:\n{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("valid"),
        "nothing claims the file is valid:\n{}",
        run.stdout
    );
}

#[test]
fn check_config_rejects_an_unknown_key() {
    assert_rejected(
        "[site]\ntimezone = \"Asia/Shanghai\"\n\n[printer]\ntransport = \"usb\"\ndevise = \"/dev/usb/lp0\"\n",
        6,
        1,
        "printer.devise",
        "unknown field `devise`",
    );
}

#[test]
fn check_config_rejects_a_wrong_type() {
    assert_rejected(
        "[site]\ntimezone = \"Asia/Shanghai\"\n\n[camera]\nwidth = \"wide\"\n",
        5,
        9,
        "camera.width",
        "wide",
    );
}

#[test]
fn check_config_rejects_a_bad_value() {
    assert_rejected(
        "[site]\ntimezone = \"Asia/Shanghai\"\n\n[printer]\npaper_width_mm = 70\n",
        5,
        18,
        "printer.paper_width_mm",
        "58 or 80",
    );
    assert_rejected(
        "[site]\ntimezone = \"Mars/Base\"\n",
        2,
        12,
        "site.timezone",
        "Mars/Base",
    );
}

#[test]
fn check_config_of_a_missing_file_fails_with_its_path() {
    let kiosk = Kiosk::new();
    let missing = kiosk.path("nowhere/kiosk.toml");
    let run = kiosk
        .run_raw(&["check-config", path_str(&missing)], None, None)
        .expect_code(2, "check-config of a missing file");
    assert!(
        run.stderr.contains(&missing.display().to_string()),
        "stderr names the missing file:\n{}",
        run.stderr
    );

    // Any other command refuses to start on a missing configuration in the same way.
    let data = kiosk.path("data");
    let run = kiosk
        .run_raw(
            &[
                "--config",
                path_str(&missing),
                "--data-dir",
                path_str(&data),
                "roster",
            ],
            None,
            None,
        )
        .expect_code(2, "roster with a missing configuration");
    assert!(
        run.stderr.contains(&missing.display().to_string()),
        "{}",
        run.stderr
    );
}

#[test]
fn check_config_without_a_path_checks_the_configuration_in_use() {
    let kiosk = Kiosk::new();
    let bad = kiosk.write(
        "broken.toml",
        "[site]\ntimezone = \"Asia/Shanghai\"\n\n[badge]\nvalidity_hours = 100\n",
    );
    let location = format!("{}:5:18: badge.validity_hours: ", bad.display());

    // --config names the file.
    let run = kiosk
        .run_raw(&["--config", path_str(&bad), "check-config"], None, None)
        .expect_code(2, "check-config --config broken.toml");
    assert!(run.stderr.contains(&location), "{}", run.stderr);

    // $LOBBY_KIOSK_CONFIG names the file.
    let run = kiosk
        .run_raw(&["check-config"], Some(path_str(&bad)), None)
        .expect_code(2, "check-config with $LOBBY_KIOSK_CONFIG=broken.toml");
    assert!(run.stderr.contains(&location), "{}", run.stderr);

    // A kiosk command with that configuration does not start either.
    let data = kiosk.path("data");
    kiosk
        .run_raw(
            &[
                "--config",
                path_str(&bad),
                "--data-dir",
                path_str(&data),
                "roster",
            ],
            None,
            None,
        )
        .expect_code(2, "roster with a broken configuration");
    assert!(
        !data.join("kiosk.sqlite3").exists(),
        "no database is created when the configuration is broken"
    );

    // And a good file in $LOBBY_KIOSK_CONFIG passes.
    let run = kiosk
        .run_raw(&["check-config"], None, None)
        .ok("check-config with $LOBBY_KIOSK_CONFIG=kiosk.toml");
    assert!(run.stdout.contains("valid"), "{}", run.stdout);
}

// ---------------------------------------------------------------------------------------------
// hash-pin
// ---------------------------------------------------------------------------------------------

#[test]
fn hash_pin_prints_a_hash_the_configuration_accepts() {
    let kiosk = Kiosk::new();
    let run = kiosk
        .run_raw(&["hash-pin"], None, Some("2468\n"))
        .ok("hash-pin 2468");
    let hash = run.stdout.trim();
    assert_eq!(run.stdout.lines().count(), 1, "one line:\n{}", run.stdout);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(
        !hash.contains("2468"),
        "the PIN itself is not printed: {hash}"
    );

    let config = kiosk.write(
        "pinned.toml",
        &format!("{TEST_CONFIG}\n[staff]\npin_hash = \"{hash}\"\n"),
    );
    let run = kiosk
        .run_raw(&["check-config", path_str(&config)], None, None)
        .ok("check-config with the new PIN hash");
    assert!(run.stdout.contains("valid"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("2580"),
        "no warning about the shipped PIN any more:\n{}",
        run.stdout
    );

    // The hash opens the kiosk with 2468 and with nothing else.
    let loaded = lobby_kiosk::config::load(&config).expect("the configuration loads");
    assert!(loaded.staff.verify_pin("2468"));
    assert!(!loaded.staff.verify_pin("2580"));
    assert!(!loaded.staff.verify_pin("24680"));
}

#[test]
fn hash_pin_refuses_a_short_pin() {
    let kiosk = Kiosk::new();
    let run = kiosk
        .run_raw(&["hash-pin"], None, Some("12\n"))
        .expect_code(2, "hash-pin 12");
    assert!(run.stdout.trim().is_empty(), "no hash:\n{}", run.stdout);
    assert!(run.stderr.contains("4 to 12 digits"), "{}", run.stderr);

    let run = kiosk
        .run_raw(&["hash-pin"], None, Some("24a8\n"))
        .expect_code(2, "hash-pin 24a8");
    assert!(run.stdout.trim().is_empty(), "no hash:\n{}", run.stdout);
    assert!(run.stderr.contains("digits"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------------
// Invites and scanning
// ---------------------------------------------------------------------------------------------

#[test]
fn invite_new_writes_a_qr_code_of_the_token() {
    let kiosk = Kiosk::new();
    let invite = kiosk.invite("Ada Lovelace", Some("Grace Hopper"));
    assert_short_code(&invite.short_code);
    assert!(invite.token.starts_with("LK1:"), "{}", invite.token);
    assert_eq!(invite.token.len(), 152, "{}", invite.token);

    let png = std::fs::read(&invite.qr).expect("the QR code PNG was written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .expect("the PNG decodes")
        .to_luma8();
    assert_eq!(image.width(), image.height(), "a QR code is square");

    // The picture holds exactly the printed token: compare it module by module with the
    // code the token encodes to (8 pixels per module, 4 modules of quiet zone).
    let (width, modules) = lobby_kiosk::qr::qr_modules(&invite.token).expect("token encodes");
    let module_px = image.width() / (width as u32 + 8);
    assert!(module_px >= 1, "image too small: {}", image.width());
    assert_eq!(image.width(), (width as u32 + 8) * module_px);
    for (index, dark) in modules.iter().enumerate() {
        let (row, column) = ((index / width) as u32, (index % width) as u32);
        let x = (column + 4) * module_px + module_px / 2;
        let y = (row + 4) * module_px + module_px / 2;
        let pixel = image.get_pixel(x, y).0[0];
        assert_eq!(
            pixel < 128,
            *dark,
            "module ({row}, {column}) differs from the token's QR code"
        );
    }
    // The quiet zone is white.
    assert_eq!(image.get_pixel(0, 0).0[0], 255);
}

#[test]
fn scanning_checks_visitors_in_and_out() {
    let kiosk = Kiosk::new();
    let ada = kiosk.invite("Ada Lovelace", Some("Grace Hopper"));
    let bob = kiosk.invite("Bob Builder", None);
    assert_eq!(kiosk.roster_names(), Vec::<String>::new());

    // Ada scans her QR code.
    let ada_out = kiosk.check_in(&ada.token);
    assert_eq!(kiosk.roster_names(), ["Ada Lovelace"]);
    let roster = kiosk.roster();
    assert_eq!(roster["site"], "Test Lobby");
    assert_eq!(roster["visitors"][0]["host"], "Grace Hopper");

    // Scanning again shows the visit, it does not open a second one.
    let run = kiosk.run(&["scan", &ada.token]).ok("second scan");
    assert!(run.stdout.contains("already checked in"), "{}", run.stdout);
    assert_eq!(kiosk.roster_names(), ["Ada Lovelace"]);

    // Bob types his short code.
    let bob_out = kiosk.check_in(&bob.short_code);
    assert_ne!(ada_out, bob_out, "every visit has its own check-out code");
    assert_eq!(kiosk.roster_names(), ["Ada Lovelace", "Bob Builder"]);

    // Ada leaves with her badge slip.
    let run = kiosk.run(&["scan", &ada_out]).ok("check-out code");
    assert!(run.stdout.contains("checked out"), "{}", run.stdout);
    assert_eq!(kiosk.roster_names(), ["Bob Builder"]);

    // The slip does nothing a second time.
    let run = kiosk
        .run(&["scan", &ada_out])
        .expect_code(3, "check-out code scanned twice");
    assert!(run.stderr.contains("not on site"), "{}", run.stderr);
    assert_eq!(kiosk.roster_names(), ["Bob Builder"]);

    // Her invitation does not bring her back in as a new visit either (the exit code of that
    // scan is checked in `an_invite_of_a_finished_visit_is_refused`).
    let run = kiosk.run(&["scan", &ada.token]);
    assert!(!run.stdout.contains("checked in:"), "{}", run.stdout);
    assert_eq!(kiosk.roster_names(), ["Bob Builder"]);

    // The roster table tells the same story.
    let run = kiosk.run(&["roster"]).ok("roster");
    assert!(run.stdout.contains("1 on site"), "{}", run.stdout);
    assert!(run.stdout.contains("Bob Builder"), "{}", run.stdout);
    assert!(!run.stdout.contains("Ada Lovelace"), "{}", run.stdout);
}

/// A visitor who has left and scans the invitation again is not admitted, so the scan is
/// refused like the used check-out slip is: exit 3, documented as "the code was not accepted".
#[test]
fn an_invite_of_a_finished_visit_is_refused() {
    let kiosk = Kiosk::new();
    let invite = kiosk.invite("Ada Lovelace", None);
    let slip = kiosk.check_in(&invite.token);
    kiosk.run(&["scan", &slip]).ok("check-out code");

    for code in [&invite.token, &invite.short_code] {
        let run = kiosk
            .run(&["scan", code])
            .expect_code(3, "invite of a visit that is over");
        assert!(run.stderr.contains("checked out"), "{}", run.stderr);
    }
    assert_eq!(kiosk.roster_names(), Vec::<String>::new());
}

#[test]
fn scanners_may_send_lowercase_and_line_endings() {
    let kiosk = Kiosk::new();
    let invite = kiosk.invite("Chen Jing", None);
    let scanned = format!("  {}\r\n", invite.token.to_lowercase());
    let slip = kiosk.check_in(&scanned);
    assert_eq!(kiosk.roster_names(), ["Chen Jing"]);
    kiosk
        .run(&["scan", &format!("{}\n", slip.to_lowercase())])
        .ok("lowercase check-out code");
    assert_eq!(kiosk.roster_names(), Vec::<String>::new());
}

#[test]
fn a_cancelled_invite_is_refused() {
    let kiosk = Kiosk::new();
    let invite = kiosk.invite("Eve Example", Some("Grace Hopper"));
    let run = kiosk
        .run(&["invite", "cancel", &invite.short_code])
        .ok("invite cancel");
    assert!(run.stdout.contains("cancelled"), "{}", run.stdout);

    for code in [&invite.token, &invite.short_code] {
        let run = kiosk
            .run(&["scan", code])
            .expect_code(3, "scan of a cancelled invite");
        assert!(run.stderr.contains("cancelled"), "{}", run.stderr);
    }
    assert_eq!(kiosk.roster_names(), Vec::<String>::new());

    // Cancelling something that does not exist is refused.
    kiosk
        .run(&["invite", "cancel", "ZZZZ-ZZZZ"])
        .expect_code(3, "cancel of an unknown short code");
}

#[test]
fn foreign_codes_are_not_invitations() {
    let kiosk = Kiosk::new();
    for text in ["https://example.com", "hello", "4006381333931"] {
        let run = kiosk
            .run(&["scan", text])
            .expect_code(3, &format!("scan {text:?}"));
        assert!(
            run.stderr.contains("not a visitor invitation"),
            "{text:?}:\n{}",
            run.stderr
        );
    }
    assert_eq!(kiosk.roster_names(), Vec::<String>::new());
}

#[test]
fn a_tampered_token_is_refused() {
    let kiosk = Kiosk::new();
    let invite = kiosk.invite("Mallory", None);
    let token = invite.token.as_bytes();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    // The middle of the signature, then a few places anywhere after the prefix.
    let mut positions = vec![100];
    positions.extend((0..4).map(|_| rng.usize(4..token.len())));
    for position in positions {
        let mut forged = token.to_vec();
        let replacement = loop {
            let c = alphabet[rng.usize(..alphabet.len())];
            if c != token[position] {
                break c;
            }
        };
        forged[position] = replacement;
        let forged = String::from_utf8(forged).unwrap();
        let run = kiosk.run(&["scan", &forged]).expect_code(
            3,
            &format!("forged token (seed {seed}, position {position})"),
        );
        assert!(
            run.stderr.contains("[bad_signature]") || run.stderr.contains("[bad_encoding]"),
            "seed {seed}, position {position}:\n{}",
            run.stderr
        );
    }
    // A character that base32 does not have.
    let mut broken = invite.token.clone();
    broken.replace_range(60..61, "1");
    let run = kiosk
        .run(&["scan", &broken])
        .expect_code(3, "token with a foreign character");
    assert!(run.stderr.contains("[bad_encoding]"), "{}", run.stderr);

    assert_eq!(kiosk.roster_names(), Vec::<String>::new());
    // The genuine token still works.
    kiosk.check_in(&invite.token);
    assert_eq!(kiosk.roster_names(), ["Mallory"]);
}

// ---------------------------------------------------------------------------------------------
// Export and purge
// ---------------------------------------------------------------------------------------------

/// A kiosk with two visitors on site and one who has left, all today.
fn busy_kiosk() -> Kiosk {
    let kiosk = Kiosk::new();
    let ada = kiosk.invite("Ada Lovelace", Some("Grace Hopper"));
    let bob = kiosk.invite("Bob Builder", None);
    let eve = kiosk.invite("Eve Example", None);
    kiosk.check_in(&ada.token);
    kiosk.check_in(&bob.short_code);
    let slip = kiosk.check_in(&eve.token);
    kiosk.run(&["scan", &slip]).ok("Eve checks out");
    assert_eq!(kiosk.roster_names(), ["Ada Lovelace", "Bob Builder"]);
    kiosk
}

const ALL_THREE: [&str; 3] = ["Ada Lovelace", "Bob Builder", "Eve Example"];

#[test]
fn export_lists_todays_visitors() {
    // Read before anyone arrives, so the day cannot have changed in between.
    let today = site_today();
    let kiosk = busy_kiosk();

    let run = kiosk
        .run(&["export", "--from", &today, "--format", "csv"])
        .ok("export csv");
    let mut reader = csv::Reader::from_reader(run.stdout.as_bytes());
    let headers = reader.headers().expect("CSV header").clone();
    let name_col = headers
        .iter()
        .position(|h| h == "visitor_name")
        .unwrap_or_else(|| panic!("no visitor_name column: {headers:?}"));
    let state_col = headers.iter().position(|h| h == "state").unwrap();
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("valid CSV");
    let names: Vec<&str> = rows.iter().map(|r| &r[name_col]).collect();
    assert_eq!(names, ALL_THREE, "{}", run.stdout);
    let states: Vec<&str> = rows.iter().map(|r| &r[state_col]).collect();
    assert_eq!(states, ["checked_in", "checked_in", "checked_out"]);
    assert!(run.stderr.contains("3 visits exported"), "{}", run.stderr);

    let run = kiosk
        .run(&["export", "--from", &today, "--format", "json"])
        .ok("export json");
    let rows: Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    let names: Vec<&str> = rows
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|r| r["visitor_name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ALL_THREE, "{}", run.stdout);
    assert_eq!(rows[0]["host"], "Grace Hopper");

    // To a file, for the spreadsheet.
    let out = kiosk.path("visits.csv");
    kiosk
        .run(&["export", "--from", &today, "--output", path_str(&out)])
        .ok("export to a file");
    let text = std::fs::read_to_string(&out).expect("export file written");
    for name in ALL_THREE {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn export_refuses_an_impossible_date() {
    let kiosk = busy_kiosk();
    let run = kiosk
        .run(&["export", "--from", "2026-13-45"])
        .expect_code(2, "export --from 2026-13-45");
    assert!(run.stderr.contains("2026-13-45"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing exported:\n{}", run.stdout);
}

#[test]
fn purge_keeps_todays_visitors() {
    let today = site_today();
    let kiosk = busy_kiosk();
    let before = kiosk.roster()["visitors"].clone();

    let run = kiosk.run(&["purge", "--days", "1"]).ok("purge --days 1");
    assert!(run.stdout.contains("0 visits anonymised"), "{}", run.stdout);
    assert_eq!(kiosk.roster()["visitors"], before, "roster unchanged");

    // The visitor who left today keeps her name too.
    let run = kiosk
        .run(&["export", "--from", &today, "--format", "json"])
        .ok("export after purge");
    let rows: Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    let names: Vec<&str> = rows
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|r| r["visitor_name"].as_str().unwrap_or("(erased)"))
        .collect();
    assert_eq!(names, ALL_THREE);
}

// ---------------------------------------------------------------------------------------------
// Storage problems
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unusable_data_directory_fails_with_its_path() {
    let kiosk = Kiosk::new();
    let file = kiosk.write("not-a-directory", "plain file\n");
    let data = file.join("data");
    let data_str = path_str(&data);
    let config = path_str(&kiosk.config);

    let run = kiosk
        .run_raw(
            &["--config", config, "--data-dir", data_str, "roster"],
            None,
            None,
        )
        .expect_code(1, "roster with an unusable data directory");
    assert!(
        run.stderr.contains(data_str),
        "stderr names {data_str}:\n{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no roster printed:\n{}", run.stdout);

    let run = kiosk
        .run_raw(
            &["--config", config, "--data-dir", data_str, "scan", "hello"],
            None,
            None,
        )
        .expect_code(1, "scan with an unusable data directory");
    assert!(run.stderr.contains(data_str), "{}", run.stderr);
}

#[test]
fn decode_reads_an_invite_image_and_says_what_it_is() {
    let kiosk = Kiosk::new();
    let invite = kiosk.invite("Dora Decoder", None);
    let run = kiosk
        .run(&["decode", path_str(&invite.qr), "--json"])
        .ok("decode --json");
    let line: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["texts"][0], invite.token.as_str());
    assert!(line["ms"].as_f64().unwrap() > 0.0);
    let run = kiosk.run(&["decode", path_str(&invite.qr)]).ok("decode");
    assert!(run.stdout.contains("[invite token]"), "{}", run.stdout);
    let missing = kiosk.path("missing.png");
    kiosk
        .run(&["decode", path_str(&missing)])
        .expect_code(1, "decode of a missing image");
}

#[test]
fn watch_checks_in_the_visitor_seen_in_a_replayed_recording() {
    let kiosk = Kiosk::new();
    let invite = kiosk.invite("Wendy Watcher", Some("Host Person"));
    let frames = kiosk.path("frames");
    std::fs::create_dir_all(&frames).unwrap();
    std::fs::copy(&invite.qr, frames.join("002.png")).unwrap();
    image::GrayImage::from_pixel(320, 240, image::Luma([128]))
        .save(frames.join("001.png"))
        .unwrap();
    let run = kiosk
        .run(&["watch", "--replay", path_str(&frames)])
        .ok("watch --replay");
    assert!(run.stdout.contains("checked in: visit #"), "{}", run.stdout);
    assert!(run.stderr.contains("recording ended"), "{}", run.stderr);
    assert_eq!(kiosk.roster_names(), ["Wendy Watcher"]);
}

#[test]
fn a_check_in_prints_the_badge_and_the_roster_prints_on_request() {
    let kiosk = Kiosk::new();
    let invite = kiosk.invite("Petra Printer", Some("Host Person"));
    let run = kiosk.run(&["scan", &invite.token]).ok("scan");
    // The embedded default printer is the preview: the badge becomes a PNG.
    let png_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("printed (preview): "))
        .unwrap_or_else(|| panic!("no badge printed:\n{}", run.stdout));
    let png = PathBuf::from(png_line.trim_start_matches("printed (preview): "));
    let badge = image::open(&png).unwrap().to_luma8();
    assert_eq!(badge.width(), 576, "80 mm paper");
    assert!(badge.height() > 400);

    let run = kiosk.run(&["roster", "--print"]).ok("roster --print");
    assert!(run.stdout.contains("roster-"), "{}", run.stdout);
    assert!(run.stdout.contains("Petra Printer"), "{}", run.stdout);

    let run = kiosk.run(&["print-test"]).ok("print-test");
    assert!(run.stdout.contains("print-test.png"), "{}", run.stdout);
}

#[test]
fn an_unreachable_printer_keeps_the_visit_and_the_job() {
    // A network printer on a port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kiosk = Kiosk::with_config(&format!(
        "[site]\nname = \"Test Lobby\"\ntimezone = \"Asia/Shanghai\"\n[checkout]\nauto_at = \"\"\n\
         [printer]\ntransport = \"tcp\"\ndevice = \"127.0.0.1:{port}\"\n"
    ));
    let invite = kiosk.invite("Una Reachable", None);
    let run = kiosk
        .run(&["scan", &invite.token])
        .ok("scan with a dead printer");
    assert!(run.stdout.contains("checked in"), "{}", run.stdout);
    assert!(
        run.stderr.contains("kept in the print queue"),
        "{}",
        run.stderr
    );
    assert_eq!(kiosk.roster_names(), ["Una Reachable"]);
    // The evacuation roster still shows, even though it cannot print.
    let run = kiosk
        .run(&["roster", "--print"])
        .expect_code(1, "roster --print on a dead printer");
    assert!(run.stdout.contains("Una Reachable"), "{}", run.stdout);
    assert!(run.stderr.contains("not printed"), "{}", run.stderr);
    let run = kiosk
        .run(&["print-test"])
        .expect_code(1, "print-test on a dead printer");
    assert!(run.stderr.contains("not printed"), "{}", run.stderr);
}
