//! `lobby-kiosk`: the visitor check-in kiosk and its IT commands.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use lobby_kiosk::config::{self, Config, ConfigError};
use lobby_kiosk::domain::admit::InviteStatus;
use lobby_kiosk::domain::invite::{mint, InviteClaims, SiteTag};
use lobby_kiosk::domain::shortcode::ShortCode;
use lobby_kiosk::domain::walkin::{normalize_email, normalize_name, normalize_phone};
use lobby_kiosk::domain::Timestamp;
use lobby_kiosk::kiosk::{Kiosk, ScanOutcome};
use lobby_kiosk::store::{CheckInOutcome, HostRecord, InviteRecord, InviteSource, Store};
use lobby_kiosk::{keys, qr, text};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the command failed (database, file or device error; the message says which)
  2  invalid configuration or command line
  3  refused: the code was not accepted, or the invite or visit does not exist

Configuration: --config PATH, else $LOBBY_KIOSK_CONFIG, else /etc/lobby-kiosk/kiosk.toml if it
exists, else the embedded defaults (the kiosk.toml shipped with the program).";

#[derive(Parser)]
#[command(name = "lobby-kiosk", version, about = "Visitor check-in kiosk", after_help = EXIT_CODES)]
struct Cli {
    /// Configuration file (default: $LOBBY_KIOSK_CONFIG, /etc/lobby-kiosk/kiosk.toml, or the
    /// embedded defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data directory, overriding storage.data_dir.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// More log output (-v info, -vv debug). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a kiosk.toml: exit 0 when valid, 2 with every problem (file:line:column: key) when not.
    CheckConfig {
        /// The file to check (default: the configuration the kiosk would use).
        path: Option<PathBuf>,
    },
    /// Hash a staff PIN for [staff] pin_hash. Reads the PIN from standard input.
    HashPin,
    /// Invites minted on this kiosk (standalone mode, without a hub).
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Handle a scanned or typed code as the kiosk would: an invite token, a short code, or a
    /// badge slip's check-out code.
    Scan {
        /// The text of the code.
        code: String,
    },
    /// Read QR codes from image files with the kiosk's decoder and show how long each took.
    Decode {
        /// Image files (png, jpg, webp, ...).
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Plain rqrr without the kiosk's image preparation, for comparison.
        #[arg(long)]
        plain: bool,
        /// One JSON object per image: {"path", "texts", "ms", "pass"}.
        #[arg(long)]
        json: bool,
    },
    /// Run the camera and scanners without the touchscreen: print every code read and what
    /// the kiosk did with it. Stops with Ctrl-C, or when a replayed recording ends.
    Watch {
        /// Play a folder of images or an .mjpeg clip instead of the camera.
        #[arg(long, value_name = "PATH")]
        replay: Option<PathBuf>,
        /// Only print the codes; check nobody in or out.
        #[arg(long)]
        dry_run: bool,
    },
    /// Who is on site now, from the local store (no network needed).
    Roster {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also print it on the badge printer (the evacuation roster slip).
        #[arg(long)]
        print: bool,
    },
    /// Print a sample badge on the configured printer (or, for the preview printer, write it
    /// as a PNG in the data directory's preview folder) and report the printer's status.
    PrintTest,
    /// Export visits that checked in within a date range.
    Export(ExportArgs),
    /// Erase visitor personal data older than the retention period.
    Purge {
        /// Days to keep, 0 to 3650 (default: storage.retention_days).
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=3650))]
        days: Option<u32>,
    },
}

#[derive(Subcommand)]
enum InviteCommand {
    /// Mint a signed invite with this kiosk's own key and write its QR code as a PNG.
    New(NewInvite),
    /// Cancel an invite by its short code or id.
    Cancel {
        /// Short code (ABCD-EFGH) or invite id.
        invite: String,
    },
}

#[derive(Args)]
struct NewInvite {
    /// Visitor's name.
    #[arg(long)]
    name: String,
    #[arg(long)]
    company: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// Visitor's phone number (normalised with site.country).
    #[arg(long)]
    phone: Option<String>,
    /// Host's name; added to the local host directory if new.
    #[arg(long)]
    host: Option<String>,
    #[arg(long)]
    purpose: Option<String>,
    /// Start of validity: "now", "YYYY-MM-DD HH:MM" in the site's time zone, or RFC 3339.
    #[arg(long, default_value = "now")]
    from: String,
    /// Length of validity in hours (default: badge.validity_hours).
    #[arg(long)]
    hours: Option<u32>,
    /// Expected length of the meeting in minutes, 1 to 1440 (for the automatic check-out).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1440))]
    meeting_minutes: Option<u32>,
    /// Where to write the QR code PNG (default: invite-<SHORTCODE>.png in the current directory).
    #[arg(long, value_name = "PNG")]
    qr: Option<PathBuf>,
}

#[derive(Args)]
struct ExportArgs {
    /// First day (YYYY-MM-DD, site time zone) or RFC 3339 moment.
    #[arg(long)]
    from: String,
    /// Last day, inclusive (YYYY-MM-DD) or RFC 3339 moment, exclusive. Default: today.
    #[arg(long)]
    to: Option<String>,
    #[arg(long, value_enum, default_value = "csv")]
    format: ExportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csv,
    Json,
}

/// A failure with the exit code it maps to.
enum Failure {
    Config(ConfigError),
    Usage(String),
    Refused(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<lobby_kiosk::store::StoreError> for Failure {
    fn from(e: lobby_kiosk::store::StoreError) -> Self {
        Failure::Other(e.into())
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => {
            eprintln!("invalid configuration:\n{e}");
            ExitCode::from(2)
        }
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Refused(m)) => {
            eprintln!("refused: {m}");
            ExitCode::from(3)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOBBY_KIOSK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Where the configuration comes from: an explicit path, or the embedded defaults.
fn config_source(cli_path: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = cli_path {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("LOBBY_KIOSK_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let etc = Path::new("/etc/lobby-kiosk/kiosk.toml");
    etc.exists().then(|| etc.to_path_buf())
}

fn load_config(cli_path: Option<&Path>) -> Result<Config, Failure> {
    match config_source(cli_path) {
        Some(p) => config::load(&p).map_err(Failure::Config),
        None => Config::embedded().map_err(Failure::Config),
    }
}

fn data_dir(cli: &Cli, config: &Config) -> PathBuf {
    cli.data_dir
        .clone()
        .unwrap_or_else(|| config.resolve_data_dir(&|k| std::env::var(k).ok()))
}

fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::CheckConfig { path } = &cli.command {
        return check_config(path.as_deref().or(cli.config.as_deref()));
    }
    if let Command::HashPin = &cli.command {
        return hash_pin();
    }
    if let Command::Decode {
        images,
        plain,
        json,
    } = &cli.command
    {
        return decode(images, *plain, *json);
    }
    let config = load_config(cli.config.as_deref())?;
    let dir = data_dir(&cli, &config);
    let now = Utc::now();
    match cli.command {
        Command::CheckConfig { .. } | Command::HashPin | Command::Decode { .. } => Ok(()),
        Command::Watch { replay, dry_run } => watch(config, &dir, replay, dry_run),
        Command::Invite(InviteCommand::New(args)) => invite_new(config, &dir, args, now),
        Command::Invite(InviteCommand::Cancel { invite }) => {
            invite_cancel(config, &dir, &invite, now)
        }
        Command::Scan { code } => scan(config, &dir, &code, now),
        Command::Roster { json, print } => roster(config, &dir, json, print, now),
        Command::PrintTest => print_test(config, &dir, now),
        Command::Export(args) => export(config, &dir, args, now),
        Command::Purge { days } => purge(config, &dir, days, now),
    }
}

fn check_config(path: Option<&Path>) -> Result<(), Failure> {
    let (config, origin) = match config_source(path) {
        Some(p) => (config::load(&p), p.display().to_string()),
        None => (Config::embedded(), "the embedded defaults".to_string()),
    };
    let config = config.map_err(Failure::Config)?;
    println!("{origin}: valid");
    for w in config.warnings() {
        println!("note: {w}");
    }
    Ok(())
}

fn hash_pin() -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        eprint!("Staff PIN (4 to 12 digits): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the PIN from standard input")?;
    let hash = config::hash_pin(line.trim()).map_err(|e| Failure::Usage(e.to_string()))?;
    println!("{hash}");
    Ok(())
}

fn decode(images: &[PathBuf], plain: bool, json: bool) -> Result<(), Failure> {
    use lobby_kiosk::domain::invite::{classify, Scanned};
    use lobby_kiosk::scan::decode::Decoder;
    let mut decoder = if plain {
        Decoder::plain()
    } else {
        Decoder::new()
    };
    let mut unreadable = 0;
    let mut out = std::io::stdout().lock();
    for path in images {
        let frame = match image::open(path) {
            Ok(img) => img.to_luma8(),
            Err(e) => {
                eprintln!("{}: cannot read the image: {e}", path.display());
                unreadable += 1;
                continue;
            }
        };
        let start = std::time::Instant::now();
        let decoded = decoder.decode(&frame);
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let line = if json {
            serde_json::json!({
                "path": path.display().to_string(),
                "texts": decoded.texts,
                "ms": ms,
                "pass": decoded.pass,
            })
            .to_string()
        } else if decoded.texts.is_empty() {
            format!("{}: no code found ({ms:.1} ms)", path.display())
        } else {
            let texts: Vec<String> = decoded
                .texts
                .iter()
                .map(|t| {
                    let kind = match classify(t) {
                        Scanned::Invite(_) => "invite token",
                        Scanned::ShortCode(_) => "short code",
                        Scanned::Checkout(_) => "check-out code",
                        Scanned::Foreign => "not an invitation",
                    };
                    format!("{t} [{kind}]")
                })
                .collect();
            format!(
                "{}: {} ({ms:.1} ms, {})",
                path.display(),
                texts.join(" | "),
                decoded.pass.unwrap_or("-")
            )
        };
        writeln!(out, "{line}").context("cannot write")?;
    }
    if unreadable > 0 {
        return Err(Failure::Other(anyhow::anyhow!(
            "{unreadable} of {} images could not be read",
            images.len()
        )));
    }
    Ok(())
}

fn watch(
    config: Config,
    dir: &Path,
    replay: Option<PathBuf>,
    dry_run: bool,
) -> Result<(), Failure> {
    use lobby_kiosk::scan::pipeline::{DeviceStatus, Pipeline, PipelineOptions, ScanEvent};
    if let Some(path) = &replay {
        if !path.exists() {
            return Err(Failure::Usage(format!(
                "--replay {}: no such folder, image or clip",
                path.display()
            )));
        }
    }
    let camera = match replay {
        Some(path) => Some(lobby_kiosk::scan::replay_opener(
            path,
            config.camera.fps,
            false,
        )),
        None => lobby_kiosk::scan::camera_opener(&config.camera),
    };
    let scanners = lobby_kiosk::scan::scanner_openers(&config.scanner);
    if camera.is_none() && scanners.is_empty() {
        return Err(Failure::Usage(
            "no camera (camera.device = \"none\") and no scanner configured: nothing to watch"
                .into(),
        ));
    }
    let inputs = usize::from(camera.is_some()) + scanners.len();
    let tz = config.timezone();
    let mut kiosk = open_kiosk(config, dir)?;
    let (pipeline, events) = Pipeline::start(camera, scanners, PipelineOptions::default());
    let mut ended = 0;
    for event in events.iter() {
        match event {
            ScanEvent::Status { input, status } => {
                eprintln!("{input}: {status}");
                if status == DeviceStatus::Ended {
                    ended += 1;
                    if ended == inputs {
                        break;
                    }
                }
            }
            ScanEvent::Code {
                text,
                input,
                seen_at,
            } => {
                if dry_run {
                    println!("{input}: {text}");
                    continue;
                }
                // One failed scan (the store busy, the disk full) is reported and the kiosk
                // goes on reading codes.
                let outcome = match kiosk.scan(&text, Utc::now()) {
                    Ok(o) => o,
                    Err(e) => {
                        eprintln!("{input}: the code could not be handled: {e}");
                        continue;
                    }
                };
                let ms = seen_at.elapsed().as_secs_f64() * 1000.0;
                let what = match &outcome {
                    ScanOutcome::Invite(CheckInOutcome::CheckedIn(v)) => format!(
                        "checked in: visit #{} at {}",
                        v.number,
                        Utc::now().with_timezone(&tz).format("%H:%M:%S")
                    ),
                    ScanOutcome::Invite(CheckInOutcome::AlreadyCheckedIn(v)) => {
                        format!("already checked in: visit #{}", v.number)
                    }
                    ScanOutcome::Invite(CheckInOutcome::AlreadyClosed(v)) => {
                        format!("visit #{} is {}", v.number, v.state.label())
                    }
                    ScanOutcome::CheckedOut(v) => format!("checked out: visit #{}", v.number),
                    ScanOutcome::NotOnSite(v) => {
                        format!(
                            "visit #{} is not on site: it is {}",
                            v.number,
                            v.state.label()
                        )
                    }
                    ScanOutcome::Rejected(r) | ScanOutcome::Invite(CheckInOutcome::Rejected(r)) => {
                        format!("refused: {r} [{}]", r.code())
                    }
                };
                println!("{input}: {what} ({ms:.0} ms after the code was seen)");
                if matches!(outcome, ScanOutcome::Invite(CheckInOutcome::CheckedIn(_))) {
                    match print_jobs(&kiosk.config, dir, None) {
                        Ok(outcomes) => report_printing(&outcomes, false)?,
                        Err(Failure::Other(e)) => {
                            eprintln!("the badge stays in the print queue: {e:#}")
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    pipeline.stop();
    Ok(())
}

/// Prints queued jobs (or just `only`) on the configured printer; the preview printer writes
/// PNGs into `<data dir>/preview`.
fn print_jobs(
    config: &Config,
    dir: &Path,
    only: Option<&[i64]>,
) -> Result<Vec<lobby_kiosk::print::queue::PrintOutcome>, Failure> {
    use lobby_kiosk::print::queue::{ConfiguredBadges, PrintQueue, PrintTarget};
    let target = PrintTarget::from_config(config, &dir.join("preview"));
    let badges = ConfiguredBadges::new(config, config.language.default);
    let mut queue = PrintQueue::open(dir, target, badges)
        .with_context(|| format!("cannot open the print queue in {}", dir.display()))?;
    Ok(match only {
        Some(ids) => queue.print_now(ids)?,
        None => queue.print_queued()?,
    })
}

/// Says what the printer did; a failed job stays queued. With `must_print`, a failure is
/// the command's failure.
fn report_printing(
    outcomes: &[lobby_kiosk::print::queue::PrintOutcome],
    must_print: bool,
) -> Result<(), Failure> {
    use lobby_kiosk::print::queue::{Delivery, PrintOutcome};
    for o in outcomes {
        match o {
            PrintOutcome::Printed { delivery, .. } => match delivery {
                Delivery::Preview { png } => println!("printed (preview): {}", png.display()),
                Delivery::Printer { .. } => println!("printed"),
            },
            PrintOutcome::Failed { problem, .. } | PrintOutcome::Deferred { problem, .. } => {
                let msg = format!(
                    "not printed, kept in the print queue: {}",
                    problem.staff_message()
                );
                if must_print {
                    return Err(Failure::Other(anyhow::anyhow!(msg)));
                }
                eprintln!("{msg}");
            }
            PrintOutcome::BadgeFailed { reason, .. } => {
                let msg = format!("not printed, kept in the print queue: {reason}");
                if must_print {
                    return Err(Failure::Other(anyhow::anyhow!(msg)));
                }
                eprintln!("{msg}");
            }
        }
    }
    Ok(())
}

fn print_test(config: Config, dir: &Path, now: Timestamp) -> Result<(), Failure> {
    use lobby_kiosk::print::escpos::{encode, PrinterProfile};
    use lobby_kiosk::print::layout::{badge, BadgeInput, BadgeTemplate};
    use lobby_kiosk::print::queue::{Delivery, PrintTarget};
    let input = BadgeInput {
        visit_number: 0,
        visitor_name: "王军 Wang Jun".into(),
        company: Some("Printer Test 打印测试".into()),
        host: Some("Reception 前台".into()),
        checked_in_at: now,
        tz: config.timezone(),
        valid_until: now + Duration::hours(i64::from(config.badge.validity_hours)),
        checkout_code: ShortCode::from_entropy([0, 0, 0, 0, 0]),
        vip: false,
        lang: config.language.default,
    };
    let slip = badge(&input, &BadgeTemplate::from_config(&config));
    let bytes = encode(&slip, &PrinterProfile::from_config(&config.printer))
        .context("cannot lay out the test badge")?;
    let mut target = PrintTarget::from_config(&config, &dir.join("preview"));
    match target.print_slip("print-test.png", &bytes) {
        Ok(Delivery::Preview { png }) => {
            println!(
                "preview printer: {} bytes of ESC/POS drawn into {}",
                bytes.len(),
                png.display()
            );
            Ok(())
        }
        Ok(Delivery::Printer { status_after }) => {
            println!("sent {} bytes to the printer", bytes.len());
            match status_after {
                Some(s) => println!("printer status after the job: {s:?}"),
                None => println!("the printer does not report its status on this connection"),
            }
            Ok(())
        }
        Err(message) => Err(Failure::Other(anyhow::anyhow!(
            "the test badge was not printed: {message}"
        ))),
    }
}

fn open_kiosk(config: Config, dir: &Path) -> Result<Kiosk, Failure> {
    Kiosk::open(config, dir)
        .with_context(|| format!("cannot open the kiosk's store in {}", dir.display()))
        .map_err(Failure::Other)
}

/// Parses "now", "YYYY-MM-DD HH:MM" (site time) or RFC 3339.
fn parse_moment(text: &str, tz: chrono_tz::Tz, now: Timestamp) -> Result<Timestamp, Failure> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, fmt) {
            return local(naive, tz);
        }
    }
    Err(Failure::Usage(format!(
        "{text:?} is not a time: use \"now\", \"YYYY-MM-DD HH:MM\" or RFC 3339"
    )))
}

/// A site-local wall-clock time as UTC; a time skipped by a daylight-saving change (some
/// zones skip midnight) means the first moment after the gap.
fn local(naive: NaiveDateTime, tz: chrono_tz::Tz) -> Result<Timestamp, Failure> {
    (0..=180)
        .find_map(|m| {
            tz.from_local_datetime(&(naive + Duration::minutes(m)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Failure::Usage(format!("{naive} does not exist in {tz}")))
}

/// A day boundary (or an RFC 3339 moment) in the site's time zone.
fn parse_day(text: &str, tz: chrono_tz::Tz, next_day: bool) -> Result<Timestamp, Failure> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Failure::Usage(format!(
            "{text:?} is not a date: use YYYY-MM-DD or RFC 3339"
        ))
    })?;
    let day = if next_day {
        day.succ_opt()
            .ok_or_else(|| Failure::Usage(format!("{text:?} is out of range")))?
    } else {
        day
    };
    local(day.and_time(chrono::NaiveTime::MIN), tz)
}

fn invite_new(config: Config, dir: &Path, a: NewInvite, now: Timestamp) -> Result<(), Failure> {
    let tz = config.timezone();
    let name = normalize_name(&a.name, config.walkin.name_max_chars as usize)
        .map_err(|e| Failure::Usage(format!("--name: {e}")))?;
    let phone = a
        .phone
        .as_deref()
        .map(|p| normalize_phone(p, &config.site.country))
        .transpose()
        .map_err(|e| Failure::Usage(format!("--phone: {e}")))?;
    let email = a
        .email
        .as_deref()
        .map(normalize_email)
        .transpose()
        .map_err(|e| Failure::Usage(format!("--email: {e}")))?;
    let valid_from = parse_moment(&a.from, tz, now)?;
    let hours = a.hours.unwrap_or(config.badge.validity_hours);
    if hours == 0 || hours > 24 * 30 {
        return Err(Failure::Usage("--hours must be 1 to 720".into()));
    }
    let valid_until = valid_from + Duration::hours(i64::from(hours));
    let site = config.site.id.clone();

    let key = keys::load_or_create_signing_key(dir).context("cannot load the signing key")?;
    let mut kiosk = open_kiosk(config, dir)?;
    let host_id = match a.host.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => {
            let id = format!("local:{}", h.to_lowercase());
            if kiosk.store.host(&id)?.is_none() {
                kiosk.store.upsert_host(
                    &HostRecord {
                        id: id.clone(),
                        name: h.to_string(),
                        department: None,
                        email: None,
                        phone: None,
                        search_key: h.to_lowercase(),
                        active: true,
                    },
                    now,
                )?;
            }
            Some(id)
        }
        None => None,
    };
    let mut entropy = [0u8; 5];
    getrandom::getrandom(&mut entropy).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let short_code = ShortCode::from_entropy(entropy);
    let claims = InviteClaims {
        invite_id: Uuid::now_v7(),
        site: SiteTag::of(&site),
        valid_from,
        valid_until,
    };
    let token = mint(&claims, &key).context("cannot sign the invite")?;
    let record = InviteRecord {
        id: claims.invite_id,
        short_code: Some(short_code.clone()),
        site_id: site,
        visitor_name: Some(name.clone()),
        visitor_company: a
            .company
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty()),
        visitor_email: email,
        visitor_phone: phone,
        host_id,
        purpose: a
            .purpose
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
        party_size: 1,
        vip: false,
        valid_from,
        valid_until,
        expected_end: a
            .meeting_minutes
            .map(|m| valid_from + Duration::minutes(i64::from(m))),
        status: InviteStatus::Active,
        cancelled_at: None,
        source: InviteSource::Local,
    };
    // The QR code is written first: an invite nobody can receive is not stored.
    let png = qr::qr_png(&token, 8, 4).context("cannot render the QR code")?;
    let path =
        a.qr.unwrap_or_else(|| PathBuf::from(format!("invite-{}.png", short_code.as_str())));
    std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
    kiosk.store.upsert_invite(&record, now)?;
    kiosk.store.audit(
        "it",
        "invite_new",
        &format!("invite {}", claims.invite_id),
        now,
    )?;
    let show = |t: Timestamp| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string();
    println!("invite:      {}", claims.invite_id);
    println!("visitor:     {name}");
    println!("short code:  {}", short_code.grouped());
    println!("valid:       {} to {}", show(valid_from), show(valid_until));
    println!("qr code:     {}", path.display());
    println!("token:       {token}");
    Ok(())
}

fn find_invite(store: &Store, text: &str) -> Result<Option<InviteRecord>, Failure> {
    if let Ok(id) = Uuid::parse_str(text.trim()) {
        return Ok(store.invite(id)?);
    }
    match ShortCode::parse(text) {
        Ok(code) => Ok(store.invite_by_short_code(&code)?),
        Err(_) => Err(Failure::Usage(format!(
            "{text:?} is neither a short code nor an invite id"
        ))),
    }
}

fn invite_cancel(config: Config, dir: &Path, text: &str, now: Timestamp) -> Result<(), Failure> {
    let mut kiosk = open_kiosk(config, dir)?;
    let Some(invite) = find_invite(&kiosk.store, text)? else {
        return Err(Failure::Refused(format!(
            "no invite {text:?} on this kiosk"
        )));
    };
    let outcome = kiosk.store.cancel_invite(invite.id, now)?;
    kiosk
        .store
        .audit("it", "invite_cancel", &format!("invite {}", invite.id), now)?;
    match outcome {
        lobby_kiosk::store::InviteUpsert::CancelledAfterCheckIn { .. } => println!(
            "cancelled; the visitor had already checked in and stays on the roster, flagged"
        ),
        _ => println!("cancelled"),
    }
    Ok(())
}

fn scan(config: Config, dir: &Path, code: &str, now: Timestamp) -> Result<(), Failure> {
    let tz = config.timezone();
    let mut kiosk = open_kiosk(config, dir)?;
    kiosk.housekeeping(now)?;
    let show = |t: Option<Timestamp>| {
        t.map(|t| t.with_timezone(&tz).format("%H:%M").to_string())
            .unwrap_or_default()
    };
    match kiosk.scan(code, now)? {
        ScanOutcome::Invite(CheckInOutcome::CheckedIn(v)) => {
            println!(
                "checked in: visit #{} {} (host {}) at {}",
                v.number,
                v.visitor_name.as_deref().unwrap_or("(name not synced yet)"),
                v.host_name.as_deref().unwrap_or("-"),
                show(v.checked_in_at)
            );
            println!("check-out code: {}", v.checkout_code.grouped());
            let outcomes = print_jobs(&kiosk.config, dir, None)?;
            report_printing(&outcomes, false)?;
        }
        ScanOutcome::Invite(CheckInOutcome::AlreadyCheckedIn(v)) => println!(
            "already checked in: visit #{} since {}",
            v.number,
            show(v.checked_in_at)
        ),
        ScanOutcome::Invite(CheckInOutcome::AlreadyClosed(v)) => {
            return Err(Failure::Refused(format!(
                "this invite was already used: visit #{} is {}",
                v.number,
                v.state.label()
            )))
        }
        ScanOutcome::CheckedOut(v) => println!(
            "checked out: visit #{} at {}",
            v.number,
            show(v.checked_out_at)
        ),
        ScanOutcome::NotOnSite(v) => {
            return Err(Failure::Refused(format!(
                "visit #{} is not on site: it is {}",
                v.number,
                v.state.label()
            )))
        }
        ScanOutcome::Rejected(r) | ScanOutcome::Invite(CheckInOutcome::Rejected(r)) => {
            return Err(Failure::Refused(format!("{} [{}]", r, r.code())))
        }
    }
    Ok(())
}

fn roster(
    config: Config,
    dir: &Path,
    json: bool,
    print: bool,
    now: Timestamp,
) -> Result<(), Failure> {
    let tz = config.timezone();
    let site = config.site.name.clone();
    let mut kiosk = open_kiosk(config.clone(), dir)?;
    // Visitors whose automatic check-out time has passed are not on site. If the store is
    // busy the roster still shows, as it stands.
    if let Err(e) = kiosk.housekeeping(now) {
        eprintln!("warning: automatic check-outs not applied: {e}");
    }
    let entries = kiosk.store.roster()?;
    // The list comes first: during an evacuation it must appear whatever the printer does.
    write_roster(&site, &entries, json, now, tz)?;
    if print {
        let job = kiosk.store.queue_roster_print("it", now)?;
        let outcomes = print_jobs(&config, dir, Some(&[job]))?;
        if !outcomes.iter().all(|o| o.is_printed()) {
            // A roster is for this moment; a stale one must not print later.
            kiosk.store.discard_print_job(job, now)?;
        }
        report_printing(&outcomes, true)?;
    }
    Ok(())
}

fn write_roster(
    site: &str,
    entries: &[lobby_kiosk::store::RosterEntry],
    json: bool,
    now: Timestamp,
    tz: chrono_tz::Tz,
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({
            "site": site,
            "generated_at": lobby_kiosk::store::ts(now),
            "on_site": entries.len(),
            "visitors": entries,
        });
        writeln!(out, "{doc:#}").context("cannot write")?;
        return Ok(());
    }
    let local_now = now.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z");
    writeln!(out, "{site}: {} on site at {local_now}", entries.len()).context("cannot write")?;
    if entries.is_empty() {
        return Ok(());
    }
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            [
                format!("#{}", e.visit_number),
                e.name.clone(),
                e.company.clone().unwrap_or_default(),
                e.host.clone().unwrap_or_default(),
                e.checked_in_at
                    .with_timezone(&tz)
                    .format("%m-%d %H:%M")
                    .to_string(),
            ]
        })
        .collect();
    let header = ["Visit", "Name", "Company", "Host", "Arrived"].map(String::from);
    for line in text::table(&header, &rows) {
        writeln!(out, "{line}").context("cannot write")?;
    }
    Ok(())
}

fn export(config: Config, dir: &Path, a: ExportArgs, now: Timestamp) -> Result<(), Failure> {
    let tz = config.timezone();
    let from = parse_day(&a.from, tz, false)?;
    let to = match a.to.as_deref() {
        Some(t) => parse_day(t, tz, true)?,
        None => parse_day(
            &now.with_timezone(&tz).format("%Y-%m-%d").to_string(),
            tz,
            true,
        )?,
    };
    if to <= from {
        return Err(Failure::Usage("--to is before --from".into()));
    }
    let mut kiosk = open_kiosk(config, dir)?;
    kiosk.housekeeping(now)?;
    let rows = kiosk.store.export(from, to)?;
    kiosk.store.audit(
        "it",
        "export",
        &format!(
            "{} visits {} to {}",
            rows.len(),
            a.from,
            a.to.as_deref().unwrap_or("today")
        ),
        now,
    )?;
    let mut buf: Vec<u8> = Vec::new();
    match a.format {
        ExportFormat::Json => {
            serde_json::to_writer_pretty(&mut buf, &rows).context("cannot encode JSON")?;
            buf.push(b'\n');
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut buf);
            for r in &rows {
                w.serialize(r).context("cannot encode CSV")?;
            }
            w.flush().context("cannot encode CSV")?;
        }
    }
    match a.output {
        Some(p) => {
            std::fs::write(&p, &buf).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => std::io::stdout()
            .lock()
            .write_all(&buf)
            .context("cannot write")?,
    }
    eprintln!("{} visits exported", rows.len());
    Ok(())
}

/// Deletes preview badge pictures older than the retention period; returns how many.
fn purge_previews(dir: &Path, now: Timestamp, days: u32) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let max_age = std::time::Duration::from_secs(u64::from(days) * 86_400);
    let now: std::time::SystemTime = now.into();
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > max_age)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

fn purge(config: Config, dir: &Path, days: Option<u32>, now: Timestamp) -> Result<(), Failure> {
    let days = days.unwrap_or(config.storage.retention_days);
    let keep_undelivered = !config.hub.standalone();
    let mut kiosk = open_kiosk(config, dir)?;
    // Forgotten visitors are checked out first, so their data ages like everybody's.
    kiosk.housekeeping(now)?;
    if days == 0 {
        println!("retention is 0 days (keep forever): nothing purged");
        return Ok(());
    }
    let r = kiosk.store.purge(days, keep_undelivered, now, "it")?;
    let previews = purge_previews(&dir.join("preview"), now, days);
    println!(
        "purged personal data older than {days} days: {} visits anonymised, {} visitor profiles \
         deleted, {} invites anonymised, {} print jobs, {} sync records and {previews} badge \
         previews deleted",
        r.visits_anonymised,
        r.visitors_deleted,
        r.invites_anonymised,
        r.print_jobs_deleted,
        r.outbox_deleted
    );
    Ok(())
}
