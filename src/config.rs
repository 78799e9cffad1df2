//! Typed kiosk configuration, read from `kiosk.toml`.
//!
//! The documented default file at the root of the source tree is also compiled in ([`SHIPPED`]),
//! so [`Config::default`] and [`Config::embedded`] always describe the same kiosk: one that
//! runs with no camera, no badge printer and no hub.
//!
//! Loading is two-staged. First the text is deserialised: TOML syntax errors, values of the wrong
//! type and unknown keys stop there with a single [`Problem`]. Then every value is checked and
//! *all* bad values are reported together, each pointing at the file, line and column of the
//! value and naming its dotted key, e.g.
//!
//! ```text
//! /etc/lobby-kiosk/kiosk.toml:58:18: printer.paper_width_mm: must be 58 or 80, not 70
//! ```

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};

use crate::domain::walkin::Field;

/// The documented default configuration, compiled into the binary.
pub const SHIPPED: &str = include_str!("../kiosk.toml");

/// Name under which problems in [`SHIPPED`] are reported.
pub const EMBEDDED_ORIGIN: &str = "<embedded kiosk.toml>";

/// The staff PIN whose hash the shipped configuration carries. [`Config::warnings`] reports a
/// kiosk still using it.
pub const SHIPPED_PIN: &str = "2580";

/// Argon2id hash of [`SHIPPED_PIN`], identical to `staff.pin_hash` in [`SHIPPED`].
const SHIPPED_PIN_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$iidWj1vH4ij5hnKHIR6WxQ$Nw/VMB3gcAmOH4DITd5JOdvZEExIw8UDaOgSrlCUpjE";

/// Serial speeds accepted for `scanner.baud` and `printer.baud`.
pub const BAUD_RATES: [u32; 8] = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200];

/// TCP port used for a network printer whose `printer.device` names no port.
pub const PRINTER_TCP_PORT: u16 = 9100;

/// Shortest and longest staff PIN, in digits.
pub const PIN_LENGTH: std::ops::RangeInclusive<usize> = 4..=12;

/// Largest Argon2 memory cost (KiB) accepted in `staff.pin_hash`, so that checking a PIN cannot
/// exhaust the kiosk's memory.
const MAX_PIN_HASH_MEMORY_KIB: u32 = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a usable configuration; every problem found is listed.
    #[error("{}", render_problems(.problems))]
    Invalid { problems: Vec<Problem> },
}

impl ConfigError {
    /// The problems of a [`ConfigError::Invalid`]; empty for [`ConfigError::Io`].
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Io { .. } => &[],
            ConfigError::Invalid { problems } => problems,
        }
    }
}

fn render_problems(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    lines.join("\n")
}

/// One thing wrong with a configuration file, located at a value in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file as given to [`load`] or [`parse`], or [`EMBEDDED_ORIGIN`].
    pub file: String,
    /// 1-based line of the offending value (1 when the key is not in the file).
    pub line: usize,
    /// 1-based column, in characters, of the offending value (1 when the key is not in the file).
    pub column: usize,
    /// Dotted key path such as `printer.paper_width_mm` or `walkin.optional[2]`; for a syntax
    /// error the nearest key before the error, or "" when there is none.
    pub key: String,
    /// What is wrong and, where it helps, what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a staff PIN could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a PIN has {min} to {max} digits, this one has {len}", min = PIN_LENGTH.start(), max = PIN_LENGTH.end())]
    Length { len: usize },
    #[error("a PIN may contain only the digits 0-9")]
    NotDigits,
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
}

// ---------------------------------------------------------------------------------------------
// The configuration
// ---------------------------------------------------------------------------------------------

/// The whole kiosk configuration. Every section has defaults equal to [`SHIPPED`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub site: SiteConfig,
    pub language: LanguageConfig,
    pub branding: BrandingConfig,
    pub camera: CameraConfig,
    pub scanner: ScannerConfig,
    pub printer: PrinterConfig,
    pub badge: BadgeConfig,
    pub hub: HubConfig,
    pub invites: InvitesConfig,
    pub walkin: WalkinConfig,
    pub checkout: CheckoutConfig,
    pub storage: StorageConfig,
    pub staff: StaffConfig,
    pub ui: UiConfig,
    pub sounds: SoundsConfig,
    /// Directory of the file the configuration was read from; relative paths in it (logo,
    /// CA file, data directory, printer output file) resolve against this directory. `None`
    /// for the embedded defaults, whose relative paths stay relative to the working directory.
    /// Not a key of the file.
    #[serde(skip)]
    pub config_dir: Option<PathBuf>,
}

/// `[site]`: the building or lobby the kiosk stands in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    /// Short identifier, `[a-z0-9][a-z0-9-]{0,31}`.
    pub id: String,
    /// Display name, 1 to 80 characters.
    pub name: String,
    /// `"local"` or an IANA time zone name; see [`Config::timezone`].
    pub timezone: String,
    /// ISO 3166 alpha-2 code; default region for phone numbers.
    pub country: String,
}

impl Default for SiteConfig {
    fn default() -> SiteConfig {
        SiteConfig {
            id: "hq".to_owned(),
            name: "Headquarters".to_owned(),
            timezone: "local".to_owned(),
            country: "CN".to_owned(),
        }
    }
}

/// A language of the user interface and the badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Lang {
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// The tag used in `kiosk.toml`: `"zh-CN"` or `"en"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[language]`: languages offered on the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LanguageConfig {
    /// Languages offered, in screen order; non-empty, no duplicates.
    pub available: Vec<Lang>,
    /// Language the screen returns to; one of `available`.
    pub default: Lang,
}

impl Default for LanguageConfig {
    fn default() -> LanguageConfig {
        LanguageConfig {
            available: vec![Lang::ZhCn, Lang::En],
            default: Lang::ZhCn,
        }
    }
}

/// `[branding]`: look of the welcome screen and the badge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrandingConfig {
    /// Welcome text, at most 60 characters.
    pub name: String,
    /// Path to a PNG logo as written in the file, "" for none; see [`Config::logo_path`].
    pub logo: String,
    pub primary_color: String,
    pub accent_color: String,
    pub background_color: String,
    pub text_color: String,
}

impl Default for BrandingConfig {
    fn default() -> BrandingConfig {
        BrandingConfig {
            name: "Welcome".to_owned(),
            logo: String::new(),
            primary_color: "#1D4ED8".to_owned(),
            accent_color: "#F59E0B".to_owned(),
            background_color: "#F8FAFC".to_owned(),
            text_color: "#0F172A".to_owned(),
        }
    }
}

/// An sRGB colour parsed from `"#RRGGBB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    /// Parses `"#RRGGBB"` (either letter case); `None` for anything else.
    pub fn parse(text: &str) -> Option<Rgb> {
        let hex = text.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        Some(Rgb {
            r: byte(0)?,
            g: byte(2)?,
            b: byte(4)?,
        })
    }
}

impl BrandingConfig {
    /// The four colours, in the order primary, accent, background, text. A colour that does not
    /// parse (impossible after validation) falls back to the shipped one.
    pub fn colors(&self) -> [Rgb; 4] {
        let shipped = BrandingConfig::default();
        let pick = |value: &str, fallback: &str| {
            Rgb::parse(value)
                .or_else(|| Rgb::parse(fallback))
                .unwrap_or(Rgb { r: 0, g: 0, b: 0 })
        };
        [
            pick(&self.primary_color, &shipped.primary_color),
            pick(&self.accent_color, &shipped.accent_color),
            pick(&self.background_color, &shipped.background_color),
            pick(&self.text_color, &shipped.text_color),
        ]
    }
}

/// Pixel format requested from the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraFormat {
    Auto,
    Mjpeg,
    Yuyv,
}

/// `[camera]`: the camera that reads invite QR codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CameraConfig {
    /// `"auto"`, `"none"`, an index or a name substring; see [`CameraConfig::selector`].
    /// An integer in the file is accepted and kept as its decimal text.
    #[serde(deserialize_with = "string_or_index")]
    pub device: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub format: CameraFormat,
}

impl Default for CameraConfig {
    fn default() -> CameraConfig {
        CameraConfig {
            device: "auto".to_owned(),
            width: 1280,
            height: 720,
            fps: 30,
            format: CameraFormat::Auto,
        }
    }
}

/// Which camera `camera.device` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSelector {
    /// The first camera found; typed codes when there is none.
    Auto,
    /// No camera: visitors type their code.
    None,
    /// The camera with this index.
    Index(u32),
    /// The first camera whose name contains this text.
    Name(String),
}

impl CameraConfig {
    /// Interprets `device`.
    pub fn selector(&self) -> CameraSelector {
        match self.device.as_str() {
            "auto" => CameraSelector::Auto,
            "none" => CameraSelector::None,
            other => match other.parse::<u32>() {
                Ok(index) if other.bytes().all(|b| b.is_ascii_digit()) => {
                    CameraSelector::Index(index)
                }
                _ => CameraSelector::Name(other.to_owned()),
            },
        }
    }
}

fn string_or_index<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct StringOrIndex;

    impl Visitor<'_> for StringOrIndex {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("\"auto\", \"none\", a camera index or part of a camera name")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            if v < 0 {
                Err(E::invalid_value(Unexpected::Signed(v), &self))
            } else {
                Ok(v.to_string())
            }
        }
    }

    deserializer.deserialize_any(StringOrIndex)
}

/// How a separate barcode scanner is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScannerKind {
    None,
    Serial,
    Hid,
}

/// `[scanner]`: a separate barcode/QR scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerConfig {
    pub kind: ScannerKind,
    pub serial_port: String,
    /// One of [`BAUD_RATES`].
    pub baud: u32,
    pub hid_device: String,
}

impl Default for ScannerConfig {
    fn default() -> ScannerConfig {
        ScannerConfig {
            kind: ScannerKind::None,
            serial_port: String::new(),
            baud: 9600,
            hid_device: String::new(),
        }
    }
}

/// How the badge printer is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrinterTransport {
    /// No printer: badges are shown on screen.
    Preview,
    Usb,
    Serial,
    Tcp,
    /// Raw ESC/POS bytes written to a file.
    File,
}

/// Serial flow control of the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowControl {
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

/// How badge text reaches the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrinterEncoding {
    /// Text in the printer's Chinese GB18030 mode.
    Gb18030,
    /// Text drawn with the bundled font and printed as an image.
    Raster,
}

/// `[printer]`: the ESC/POS badge printer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrinterConfig {
    pub transport: PrinterTransport,
    /// Device node, port, `host[:port]` or file path, depending on `transport`.
    pub device: String,
    /// One of [`BAUD_RATES`].
    pub baud: u32,
    pub flow_control: FlowControl,
    /// 58 or 80.
    pub paper_width_mm: u32,
    pub encoding: PrinterEncoding,
    pub native_qr: bool,
}

impl Default for PrinterConfig {
    fn default() -> PrinterConfig {
        PrinterConfig {
            transport: PrinterTransport::Preview,
            device: String::new(),
            baud: 19200,
            flow_control: FlowControl::None,
            paper_width_mm: 80,
            encoding: PrinterEncoding::Raster,
            native_qr: true,
        }
    }
}

impl PrinterConfig {
    /// Host and port of a network printer (`transport = "tcp"`), the port defaulting to
    /// [`PRINTER_TCP_PORT`]. `None` for other transports or an unusable `device`.
    pub fn tcp_address(&self) -> Option<(String, u16)> {
        if self.transport != PrinterTransport::Tcp {
            return None;
        }
        split_host_port(&self.device)
            .ok()
            .map(|(host, port)| (host.to_owned(), port.unwrap_or(PRINTER_TCP_PORT)))
    }
}

/// `[badge]`: content of the printed badge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BadgeConfig {
    pub wifi_ssid: String,
    pub wifi_password: String,
    pub allowed_areas: Vec<String>,
    /// 1 to 72.
    pub validity_hours: u32,
    /// At most 120 characters.
    pub footer: String,
}

impl Default for BadgeConfig {
    fn default() -> BadgeConfig {
        BadgeConfig {
            wifi_ssid: String::new(),
            wifi_password: String::new(),
            allowed_areas: vec!["Lobby".to_owned(), "Meeting rooms".to_owned()],
            validity_hours: 8,
            footer: String::new(),
        }
    }
}

/// `[hub]`: the central lobby-hub server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// "" for standalone mode.
    pub url: String,
    /// PEM CA bundle as written in the file; see [`Config::ca_file_path`].
    pub ca_file: String,
    /// "" or 64 hex digits, optionally colon-separated byte pairs; see [`HubConfig::cert_pin`].
    pub cert_pin_sha256: String,
    pub enrollment_code: String,
    pub allow_plain_http: bool,
}

impl HubConfig {
    /// True when no hub is configured.
    pub fn standalone(&self) -> bool {
        self.url.trim().is_empty()
    }

    /// The pinned SHA-256 fingerprint, if one is set and well-formed.
    pub fn cert_pin(&self) -> Option<[u8; 32]> {
        parse_cert_pin(&self.cert_pin_sha256).ok().flatten()
    }
}

/// `[invites]`: checking of invite QR codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InvitesConfig {
    /// 0 to 3600.
    pub clock_skew_seconds: u32,
    /// Base64 (standard alphabet) Ed25519 public keys; see [`InvitesConfig::trusted_key_bytes`].
    pub trusted_keys: Vec<String>,
}

impl Default for InvitesConfig {
    fn default() -> InvitesConfig {
        InvitesConfig {
            clock_skew_seconds: 300,
            trusted_keys: Vec::new(),
        }
    }
}

impl InvitesConfig {
    /// The decoded trusted keys; entries that do not decode to 32 bytes are left out (they are
    /// rejected when the configuration is loaded).
    pub fn trusted_key_bytes(&self) -> Vec<[u8; 32]> {
        self.trusted_keys
            .iter()
            .filter_map(|key| decode_public_key(key).ok())
            .collect()
    }
}

/// `[walkin]`: the walk-in registration form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalkinConfig {
    /// Must contain [`Field::Name`].
    pub required: Vec<Field>,
    /// Disjoint from `required`.
    pub optional: Vec<Field>,
    /// 1 to 200.
    pub name_max_chars: u32,
}

impl Default for WalkinConfig {
    fn default() -> WalkinConfig {
        WalkinConfig {
            required: vec![Field::Name, Field::Phone, Field::Host],
            optional: vec![Field::Company, Field::Email, Field::Purpose],
            name_max_chars: 64,
        }
    }
}

impl WalkinConfig {
    /// Whether the form asks for `field` at all.
    pub fn asks_for(&self, field: Field) -> bool {
        self.required.contains(&field) || self.optional.contains(&field)
    }

    /// Whether `field` must be filled in.
    pub fn requires(&self, field: Field) -> bool {
        self.required.contains(&field)
    }
}

/// `[checkout]`: automatic check-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckoutConfig {
    /// `"HH:MM"` site-local time, "" disables; see [`Config::auto_checkout_time`].
    pub auto_at: String,
    /// 0 disables; at most 1440.
    pub auto_after_expected_end_minutes: u32,
}

impl Default for CheckoutConfig {
    fn default() -> CheckoutConfig {
        CheckoutConfig {
            auto_at: "22:00".to_owned(),
            auto_after_expected_end_minutes: 120,
        }
    }
}

/// `[storage]`: the local visit database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// "" picks a directory; see [`Config::resolve_data_dir`].
    pub data_dir: String,
    /// 0 keeps personal data forever; at most 3650.
    pub retention_days: u32,
}

impl Default for StorageConfig {
    fn default() -> StorageConfig {
        StorageConfig {
            data_dir: String::new(),
            retention_days: 30,
        }
    }
}

/// `[staff]`: staff access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffConfig {
    /// Argon2 PHC string of the staff PIN; see [`hash_pin`].
    pub pin_hash: String,
}

impl Default for StaffConfig {
    fn default() -> StaffConfig {
        StaffConfig {
            pin_hash: SHIPPED_PIN_HASH.to_owned(),
        }
    }
}

impl StaffConfig {
    /// Whether `pin` is the staff PIN. False for a PIN that breaks the PIN rules, for an
    /// unusable hash and on any other error.
    pub fn verify_pin(&self, pin: &str) -> bool {
        if check_pin(pin).is_err() {
            return false;
        }
        let Ok(hash) = checked_pin_hash(&self.pin_hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(pin.as_bytes(), &hash)
            .is_ok()
    }
}

/// `[ui]`: touchscreen behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// 10 to 600.
    pub idle_timeout_seconds: u32,
    pub fullscreen: bool,
}

impl Default for UiConfig {
    fn default() -> UiConfig {
        UiConfig {
            idle_timeout_seconds: 30,
            fullscreen: true,
        }
    }
}

/// `[sounds]`: confirmation sounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SoundsConfig {
    pub enabled: bool,
    /// 0.0 to 1.0.
    pub volume: f32,
}

impl Default for SoundsConfig {
    fn default() -> SoundsConfig {
        SoundsConfig {
            enabled: true,
            volume: 0.6,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Reads and checks the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and checks configuration text. `origin` names the file in problems, and relative
/// paths in the text resolve against its directory.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let dir = origin.parent().unwrap_or(Path::new("")).to_path_buf();
    parse_inner(text, &origin.display().to_string(), Some(dir))
}

impl Config {
    /// The compiled-in [`SHIPPED`] configuration.
    pub fn embedded() -> Result<Config, ConfigError> {
        parse_inner(SHIPPED, EMBEDDED_ORIGIN, None)
    }

    /// Non-fatal advice about this configuration, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.staff.verify_pin(SHIPPED_PIN) {
            warnings.push(format!(
                "staff.pin_hash: the staff PIN is still the shipped default {SHIPPED_PIN}; \
                 set a new one with `lobby-kiosk hash-pin`"
            ));
        }
        if self.storage.retention_days == 0 {
            warnings
                .push("storage.retention_days: 0 keeps visitors' personal data forever".to_owned());
        }
        if self.hub.standalone() {
            warnings.push(
                "hub.url: no hub configured; running in standalone mode, visits stay on this \
                 kiosk"
                    .to_owned(),
            );
        }
        if self.hub.allow_plain_http {
            warnings.push(
                "hub.allow_plain_http: http:// hub addresses are allowed; visitor data may be \
                 sent unencrypted"
                    .to_owned(),
            );
        }
        warnings
    }

    /// Resolves a path from the file: absolute paths as they are, relative ones against the
    /// directory of the configuration file (or as they are for the embedded defaults).
    pub fn resolve_path(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        match &self.config_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The logo file, or `None` when `branding.logo` is empty.
    pub fn logo_path(&self) -> Option<PathBuf> {
        non_empty(&self.branding.logo).map(|p| self.resolve_path(p))
    }

    /// The hub CA bundle, or `None` when `hub.ca_file` is empty.
    pub fn ca_file_path(&self) -> Option<PathBuf> {
        non_empty(&self.hub.ca_file).map(|p| self.resolve_path(p))
    }

    /// The output file of `printer.transport = "file"`, `None` for other transports.
    pub fn printer_file_path(&self) -> Option<PathBuf> {
        if self.printer.transport != PrinterTransport::File {
            return None;
        }
        non_empty(&self.printer.device).map(|p| self.resolve_path(p))
    }

    /// Directory of the visit database: `storage.data_dir` when set; else the first entry of
    /// `$STATE_DIRECTORY`; else `$XDG_DATA_HOME/lobby-kiosk`; else
    /// `$HOME/.local/share/lobby-kiosk`; else `./lobby-kiosk-data`. `env` looks up an
    /// environment variable (pass `&|k| std::env::var(k).ok()` for the real one).
    pub fn resolve_data_dir(&self, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
        if let Some(dir) = non_empty(&self.storage.data_dir) {
            return self.resolve_path(dir);
        }
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(first) = var("STATE_DIRECTORY")
            .as_deref()
            .and_then(|v| v.split(':').find(|s| !s.is_empty()))
        {
            return PathBuf::from(first);
        }
        if let Some(xdg) = var("XDG_DATA_HOME").filter(|v| Path::new(v).is_absolute()) {
            return Path::new(&xdg).join("lobby-kiosk");
        }
        if let Some(home) = var("HOME") {
            return Path::new(&home).join(".local/share/lobby-kiosk");
        }
        PathBuf::from("./lobby-kiosk-data")
    }

    /// The site's time zone: `site.timezone`, or for `"local"` the system zone (UTC when it
    /// cannot be determined).
    pub fn timezone(&self) -> chrono_tz::Tz {
        if self.site.timezone != "local" {
            if let Ok(tz) = chrono_tz::Tz::from_str(&self.site.timezone) {
                return tz;
            }
        }
        match iana_time_zone::get_timezone() {
            Ok(name) => match chrono_tz::Tz::from_str(&name) {
                Ok(tz) => tz,
                Err(_) => {
                    tracing::warn!(zone = %name, "unknown system time zone, using UTC");
                    chrono_tz::Tz::UTC
                }
            },
            Err(err) => {
                tracing::warn!(error = %err, "cannot determine the system time zone, using UTC");
                chrono_tz::Tz::UTC
            }
        }
    }

    /// Site-local time of day of the daily automatic check-out, `None` when disabled.
    pub fn auto_checkout_time(&self) -> Option<chrono::NaiveTime> {
        parse_hh_mm(&self.checkout.auto_at).ok().flatten()
    }
}

/// Hashes a staff PIN (4 to 12 ASCII digits) with Argon2id and a random salt, giving the PHC
/// string for `staff.pin_hash`.
pub fn hash_pin(pin: &str) -> Result<String, PinError> {
    check_pin(pin)?;
    let mut salt_bytes = [0u8; 16];
    getrandom::getrandom(&mut salt_bytes)
        .map_err(|err| PinError::Hash(format!("no random salt: {err}")))?;
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|err| PinError::Hash(err.to_string()))?;
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PinError::Hash(err.to_string()))
}

fn check_pin(pin: &str) -> Result<(), PinError> {
    if !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PinError::NotDigits);
    }
    if !PIN_LENGTH.contains(&pin.len()) {
        return Err(PinError::Length { len: pin.len() });
    }
    Ok(())
}

/// Parses a PHC string and checks that it is a complete Argon2 hash with sane parameters.
/// Iteration and lane limits, so checking a PIN never takes more than a moment.
const MAX_PIN_HASH_ITERATIONS: u32 = 10;
const MAX_PIN_HASH_LANES: u32 = 8;

fn checked_pin_hash(text: &str) -> Result<PasswordHash<'_>, String> {
    let hash = PasswordHash::new(text).map_err(|err| format!("not a PHC hash string ({err})"))?;
    let algorithm = hash.algorithm.as_str();
    if !matches!(algorithm, "argon2id" | "argon2i" | "argon2d") {
        return Err(format!("uses {algorithm}, expected argon2id"));
    }
    let params = argon2::Params::try_from(&hash)
        .map_err(|err| format!("has bad Argon2 parameters ({err})"))?;
    if params.m_cost() > MAX_PIN_HASH_MEMORY_KIB {
        return Err(format!(
            "asks for {} KiB of memory, at most {MAX_PIN_HASH_MEMORY_KIB} allowed",
            params.m_cost()
        ));
    }
    if params.t_cost() > MAX_PIN_HASH_ITERATIONS || params.p_cost() > MAX_PIN_HASH_LANES {
        return Err(format!(
            "asks for {} iterations and {} lanes, at most {MAX_PIN_HASH_ITERATIONS} and \
             {MAX_PIN_HASH_LANES} allowed",
            params.t_cost(),
            params.p_cost()
        ));
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err("has no salt or no hash output".to_owned());
    }
    Ok(hash)
}

fn parse_inner(text: &str, file: &str, dir: Option<PathBuf>) -> Result<Config, ConfigError> {
    let deserializer = match toml::Deserializer::parse(text) {
        Ok(deserializer) => deserializer,
        Err(err) => {
            let offset = err.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = line_column(text, offset);
            return Err(ConfigError::Invalid {
                problems: vec![Problem {
                    file: file.to_owned(),
                    line,
                    column,
                    key: nearest_key(text, offset),
                    message: one_line(err.message()),
                }],
            });
        }
    };
    let mut config: Config = match serde_path_to_error::deserialize(deserializer) {
        Ok(config) => config,
        Err(err) => {
            let path = err.path().to_string();
            let key = if path == "." { String::new() } else { path };
            let span = err
                .inner()
                .span()
                .or_else(|| Locator::new(text).find(&key).and_then(|found| found.span));
            let (line, column) = span.map_or((1, 1), |s| line_column(text, s.start));
            return Err(ConfigError::Invalid {
                problems: vec![Problem {
                    file: file.to_owned(),
                    line,
                    column,
                    key,
                    message: one_line(err.inner().message()),
                }],
            });
        }
    };
    config.config_dir = dir;

    let locator = Locator::new(text);
    let mut findings = Vec::new();
    config.check(&locator, &mut findings);
    if findings.is_empty() {
        return Ok(config);
    }
    let mut problems: Vec<Problem> = findings
        .into_iter()
        .map(|(key, message)| {
            let (line, column) = locator.position(&key);
            Problem {
                file: file.to_owned(),
                line,
                column,
                key,
                message,
            }
        })
        .collect();
    problems.sort_by_key(|p| (p.line, p.column));
    Err(ConfigError::Invalid { problems })
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

type Findings = Vec<(String, String)>;

fn bad(findings: &mut Findings, key: impl Into<String>, message: impl Into<String>) {
    findings.push((key.into(), message.into()));
}

fn check_range<T: PartialOrd + fmt::Display>(
    findings: &mut Findings,
    key: &str,
    value: T,
    min: T,
    max: T,
) {
    if value < min || value > max {
        bad(
            findings,
            key,
            format!("must be between {min} and {max}, not {value}"),
        );
    }
}

fn check_max_chars(findings: &mut Findings, key: &str, value: &str, max: usize) {
    let len = value.chars().count();
    if len > max {
        bad(
            findings,
            key,
            format!("is {len} characters long, at most {max} allowed"),
        );
    }
}

fn check_color(findings: &mut Findings, key: &str, value: &str) {
    if Rgb::parse(value).is_none() {
        bad(
            findings,
            key,
            format!("{value:?} is not a colour; write it as \"#RRGGBB\", e.g. \"#1D4ED8\""),
        );
    }
}

fn check_baud(findings: &mut Findings, key: &str, baud: u32) {
    if !BAUD_RATES.contains(&baud) {
        let allowed: Vec<String> = BAUD_RATES.iter().map(u32::to_string).collect();
        bad(
            findings,
            key,
            format!(
                "{baud} is not a supported speed; use one of {}",
                allowed.join(", ")
            ),
        );
    }
}

fn check_file(findings: &mut Findings, key: &str, path: &Path) {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => bad(findings, key, format!("{} is not a file", path.display())),
        Err(err) => bad(
            findings,
            key,
            format!("cannot open {}: {err}", path.display()),
        ),
    }
}

fn check_png(findings: &mut Findings, key: &str, path: &Path) {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    if !path.is_file() {
        check_file(findings, key, path);
        return;
    }
    let mut head = [0u8; 8];
    let read = std::fs::File::open(path).and_then(|mut file| {
        use std::io::Read as _;
        file.read_exact(&mut head)
    });
    if read.is_err() || head != SIGNATURE {
        bad(
            findings,
            key,
            format!("{} is not a PNG image", path.display()),
        );
    }
}

impl Config {
    fn check(&self, loc: &Locator<'_>, out: &mut Findings) {
        self.check_site(out);
        self.check_language(loc, out);
        self.check_branding(out);
        self.check_camera(out);
        self.check_scanner(loc, out);
        self.check_printer(loc, out);
        self.check_badge(out);
        self.check_hub(out);
        self.check_invites(out);
        self.check_walkin(loc, out);
        self.check_checkout(out);
        self.check_storage(out);
        self.check_staff(out);
        check_range(
            out,
            "ui.idle_timeout_seconds",
            self.ui.idle_timeout_seconds,
            10,
            600,
        );
        let volume = self.sounds.volume;
        if !(0.0..=1.0).contains(&volume) {
            bad(
                out,
                "sounds.volume",
                format!("must be between 0.0 and 1.0, not {volume}"),
            );
        }
    }

    fn check_site(&self, out: &mut Findings) {
        let site = &self.site;
        if !is_site_id(&site.id) {
            bad(
                out,
                "site.id",
                format!(
                    "{:?} is not a site id: use 1 to 32 lowercase letters, digits and '-', \
                     starting with a letter or digit",
                    site.id
                ),
            );
        }
        if site.name.trim().is_empty() {
            bad(out, "site.name", "must not be empty");
        }
        check_max_chars(out, "site.name", &site.name, 80);
        if site.timezone != "local" && chrono_tz::Tz::from_str(&site.timezone).is_err() {
            bad(
                out,
                "site.timezone",
                format!(
                    "{:?} is not a known time zone; use \"local\" or an IANA name such as \
                     \"Asia/Shanghai\"",
                    site.timezone
                ),
            );
        }
        if !(site.country.len() == 2 && site.country.bytes().all(|b| b.is_ascii_uppercase())) {
            bad(
                out,
                "site.country",
                format!(
                    "{:?} is not an ISO 3166 country code; use two uppercase letters such as \
                     \"CN\"",
                    site.country
                ),
            );
        }
    }

    fn check_language(&self, loc: &Locator<'_>, out: &mut Findings) {
        let lang = &self.language;
        if lang.available.is_empty() {
            bad(out, "language.available", "must list at least one language");
        }
        for (i, l) in lang.available.iter().enumerate() {
            if lang.available[..i].contains(l) {
                bad(
                    out,
                    format!("language.available[{i}]"),
                    format!("{:?} is listed twice", l.as_str()),
                );
            }
        }
        if !lang.available.is_empty() && !lang.available.contains(&lang.default) {
            bad(
                out,
                loc.first_present(&["language.default", "language.available"]),
                format!(
                    "default language {:?} is not in language.available",
                    lang.default.as_str()
                ),
            );
        }
    }

    fn check_branding(&self, out: &mut Findings) {
        let b = &self.branding;
        check_max_chars(out, "branding.name", &b.name, 60);
        if let Some(path) = self.logo_path() {
            check_png(out, "branding.logo", &path);
        }
        check_color(out, "branding.primary_color", &b.primary_color);
        check_color(out, "branding.accent_color", &b.accent_color);
        check_color(out, "branding.background_color", &b.background_color);
        check_color(out, "branding.text_color", &b.text_color);
    }

    fn check_camera(&self, out: &mut Findings) {
        let cam = &self.camera;
        if cam.device.trim().is_empty() {
            bad(
                out,
                "camera.device",
                "must not be empty; use \"auto\", \"none\", an index or part of a camera name",
            );
        } else if cam.device.bytes().all(|b| b.is_ascii_digit())
            && cam.device.parse::<u32>().is_err()
        {
            bad(
                out,
                "camera.device",
                format!("camera index {} is too large", cam.device),
            );
        }
        check_range(out, "camera.width", cam.width, 160, 3840);
        check_range(out, "camera.height", cam.height, 120, 2160);
        check_range(out, "camera.fps", cam.fps, 1, 120);
    }

    fn check_scanner(&self, loc: &Locator<'_>, out: &mut Findings) {
        let s = &self.scanner;
        check_baud(out, "scanner.baud", s.baud);
        match s.kind {
            ScannerKind::Serial if s.serial_port.trim().is_empty() => bad(
                out,
                loc.first_present(&["scanner.serial_port", "scanner.kind"]),
                "a serial scanner needs scanner.serial_port, e.g. \"/dev/ttyACM0\"",
            ),
            ScannerKind::Hid if s.hid_device.trim().is_empty() => bad(
                out,
                loc.first_present(&["scanner.hid_device", "scanner.kind"]),
                "a keyboard-style scanner needs scanner.hid_device, e.g. \
                 \"/dev/input/by-id/usb-Scanner-event-kbd\"",
            ),
            _ => {}
        }
    }

    fn check_printer(&self, loc: &Locator<'_>, out: &mut Findings) {
        let p = &self.printer;
        check_baud(out, "printer.baud", p.baud);
        if p.paper_width_mm != 58 && p.paper_width_mm != 80 {
            bad(
                out,
                "printer.paper_width_mm",
                format!("must be 58 or 80, not {}", p.paper_width_mm),
            );
        }
        let device = p.device.trim();
        let example = match p.transport {
            PrinterTransport::Preview => return,
            PrinterTransport::Usb => "\"/dev/usb/lp0\"",
            PrinterTransport::Serial => "\"/dev/ttyUSB0\"",
            PrinterTransport::Tcp => "\"192.168.1.50\" or \"printer.example:9100\"",
            PrinterTransport::File => "\"/var/tmp/badges.bin\"",
        };
        if device.is_empty() {
            bad(
                out,
                loc.first_present(&["printer.device", "printer.transport"]),
                format!(
                    "printer transport {:?} needs printer.device, e.g. {example}",
                    transport_name(p.transport)
                ),
            );
        } else if p.transport == PrinterTransport::Tcp {
            if let Err(message) = split_host_port(&p.device) {
                bad(out, "printer.device", message);
            }
        }
    }

    fn check_badge(&self, out: &mut Findings) {
        let b = &self.badge;
        for (i, area) in b.allowed_areas.iter().enumerate() {
            if area.trim().is_empty() {
                bad(
                    out,
                    format!("badge.allowed_areas[{i}]"),
                    "must not be empty",
                );
            }
        }
        check_range(out, "badge.validity_hours", b.validity_hours, 1, 72);
        check_max_chars(out, "badge.footer", &b.footer, 120);
    }

    fn check_hub(&self, out: &mut Findings) {
        let hub = &self.hub;
        if !hub.url.is_empty() {
            if let Err(message) = check_hub_url(&hub.url, hub.allow_plain_http) {
                bad(out, "hub.url", message);
            }
        }
        if let Some(path) = self.ca_file_path() {
            check_file(out, "hub.ca_file", &path);
        }
        if let Err(message) = parse_cert_pin(&hub.cert_pin_sha256) {
            bad(out, "hub.cert_pin_sha256", message);
        }
    }

    fn check_invites(&self, out: &mut Findings) {
        let inv = &self.invites;
        check_range(
            out,
            "invites.clock_skew_seconds",
            inv.clock_skew_seconds,
            0,
            3600,
        );
        for (i, key) in inv.trusted_keys.iter().enumerate() {
            if let Err(message) = decode_public_key(key) {
                bad(out, format!("invites.trusted_keys[{i}]"), message);
            }
        }
    }

    fn check_walkin(&self, loc: &Locator<'_>, out: &mut Findings) {
        let w = &self.walkin;
        if !w.required.contains(&Field::Name) {
            bad(
                out,
                loc.first_present(&["walkin.required"]),
                "must contain \"name\": every visitor gives a name",
            );
        }
        for (list_name, list) in [("required", &w.required), ("optional", &w.optional)] {
            for (i, field) in list.iter().enumerate() {
                if list[..i].contains(field) {
                    bad(
                        out,
                        format!("walkin.{list_name}[{i}]"),
                        format!("{:?} is listed twice", field.as_str()),
                    );
                }
            }
        }
        for (i, field) in w.optional.iter().enumerate() {
            if let Some(j) = w.required.iter().position(|f| f == field) {
                let key = loc.first_present(&[
                    &format!("walkin.optional[{i}]"),
                    &format!("walkin.required[{j}]"),
                ]);
                bad(
                    out,
                    key,
                    format!(
                        "{:?} is in both walkin.required and walkin.optional; keep it in one",
                        field.as_str()
                    ),
                );
            }
        }
        check_range(out, "walkin.name_max_chars", w.name_max_chars, 1, 200);
    }

    fn check_checkout(&self, out: &mut Findings) {
        let c = &self.checkout;
        if let Err(message) = parse_hh_mm(&c.auto_at) {
            bad(out, "checkout.auto_at", message);
        }
        check_range(
            out,
            "checkout.auto_after_expected_end_minutes",
            c.auto_after_expected_end_minutes,
            0,
            1440,
        );
    }

    fn check_storage(&self, out: &mut Findings) {
        check_range(
            out,
            "storage.retention_days",
            self.storage.retention_days,
            0,
            3650,
        );
    }

    fn check_staff(&self, out: &mut Findings) {
        if self.staff.pin_hash.trim().is_empty() {
            bad(
                out,
                "staff.pin_hash",
                "must be set; make one with `lobby-kiosk hash-pin`",
            );
        } else if let Err(message) = checked_pin_hash(&self.staff.pin_hash) {
            bad(
                out,
                "staff.pin_hash",
                format!("{message}; make one with `lobby-kiosk hash-pin`"),
            );
        }
    }
}

fn transport_name(transport: PrinterTransport) -> &'static str {
    match transport {
        PrinterTransport::Preview => "preview",
        PrinterTransport::Usb => "usb",
        PrinterTransport::Serial => "serial",
        PrinterTransport::Tcp => "tcp",
        PrinterTransport::File => "file",
    }
}

fn non_empty(s: &str) -> Option<&str> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

fn is_site_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match bytes.split_first() {
        Some((first, rest)) => {
            allowed(first) && rest.len() <= 31 && rest.iter().all(|b| allowed(b) || *b == b'-')
        }
        None => false,
    }
}

/// `"HH:MM"` to a time; `Ok(None)` for "".
fn parse_hh_mm(text: &str) -> Result<Option<chrono::NaiveTime>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let err = || format!("{text:?} is not a time of day; use \"HH:MM\" (24-hour) or \"\"");
    let b = text.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit) {
        return Err(err());
    }
    let hour = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let minute = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    chrono::NaiveTime::from_hms_opt(hour, minute, 0)
        .filter(|_| hour < 24)
        .map(Some)
        .ok_or_else(err)
}

/// Splits `host`, `host:port` or `[v6]:port`; the port must be 1..=65535.
fn split_host_port(text: &str) -> Result<(&str, Option<u16>), String> {
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: missing ']' after the IPv6 address"))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("{text:?}: expected ':port' after ']'")),
            },
        }
    } else {
        match text.matches(':').count() {
            0 => (text, None),
            1 => match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            },
            // A bare IPv6 address without a port.
            _ => (text, None),
        }
    };
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(format!(
            "{text:?} has no usable host; use \"host\" or \"host:port\""
        ));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n >= 1 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(format!("port {p:?} must be a number from 1 to 65535")),
        },
    };
    Ok((host, port))
}

fn check_hub_url(url: &str, allow_plain_http: bool) -> Result<(), String> {
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        if !allow_plain_http {
            return Err(format!(
                "{url:?} is not encrypted; use https://, or set hub.allow_plain_http = true for \
                 a test hub"
            ));
        }
        rest
    } else {
        return Err(format!(
            "{url:?} must start with https:// (or be \"\" for standalone mode)"
        ));
    };
    if url.chars().any(char::is_whitespace) {
        return Err(format!("{url:?} contains spaces"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    split_host_port(host_port)
        .map(|_| ())
        .map_err(|_| format!("{url:?} has no usable host[:port] after the scheme"))
}

/// `Ok(None)` for "", the 32 bytes for a well-formed pin.
fn parse_cert_pin(text: &str) -> Result<Option<[u8; 32]>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let err = || {
        format!(
            "{text:?} is not a SHA-256 fingerprint; use 64 hex digits, optionally as byte pairs \
             separated by ':'"
        )
    };
    let hex: String = if text.contains(':') {
        let pairs: Vec<&str> = text.split(':').collect();
        if pairs.len() != 32 || pairs.iter().any(|p| p.len() != 2) {
            return Err(err());
        }
        pairs.concat()
    } else {
        text.to_owned()
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2).ok_or_else(err)?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| err())?;
    }
    Ok(Some(out))
}

fn decode_public_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|err| format!("is not standard base64 ({err})"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "decodes to {} bytes; an Ed25519 public key has 32",
            bytes.len()
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Locating keys in the text
// ---------------------------------------------------------------------------------------------

/// Finds where dotted keys (with `[i]` array indices) are written in the configuration text.
struct Locator<'a> {
    text: &'a str,
    doc: Option<toml_edit::Document<&'a str>>,
}

struct Found {
    span: Option<Range<usize>>,
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Option<Vec<Segment<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Segment::Key(name));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let (index, after) = inner.split_once(']')?;
            out.push(Segment::Index(index.parse().ok()?));
            rest = after;
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Locator<'a> {
        Locator {
            text,
            doc: toml_edit::Document::parse(text).ok(),
        }
    }

    /// The value at `path`, if it is written in the text.
    fn find(&self, path: &str) -> Option<Found> {
        let doc = self.doc.as_ref()?;
        let segs = segments(path)?;
        if segs.is_empty() {
            return None;
        }
        let mut item: &toml_edit::Item = doc.as_item();
        let mut iter = segs.iter().peekable();
        while let Some(seg) = iter.next() {
            match seg {
                Segment::Key(key) => {
                    item = item.as_table_like()?.get(key)?;
                }
                Segment::Index(index) => {
                    let value = item.as_array()?.get(*index)?;
                    if iter.peek().is_some() {
                        return None;
                    }
                    return Some(Found { span: value.span() });
                }
            }
        }
        Some(Found { span: item.span() })
    }

    fn has(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    /// The first of `paths` written in the text, else the first of them.
    fn first_present(&self, paths: &[&str]) -> String {
        paths
            .iter()
            .find(|p| self.has(p))
            .or(paths.first())
            .map(|p| (*p).to_owned())
            .unwrap_or_default()
    }

    /// 1-based line and column of the value at `path`; 1:1 when it is not in the text.
    fn position(&self, path: &str) -> (usize, usize) {
        self.find(path)
            .and_then(|found| found.span)
            .map_or((1, 1), |span| line_column(self.text, span.start))
    }
}

/// 1-based line and character column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Best guess at the dotted key a syntax error at `offset` belongs to: the key on that line or
/// the nearest one above it, within the nearest `[section]` above.
fn nearest_key(text: &str, offset: usize) -> String {
    let (line_no, _) = line_column(text, offset);
    let lines: Vec<&str> = text.lines().take(line_no).collect();
    let mut key: Option<String> = None;
    for line in lines.iter().rev() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let name = header
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .replace(['"', '\'', ' '], "");
            return match key {
                Some(key) if !name.is_empty() => format!("{name}.{key}"),
                Some(key) => key,
                None => name,
            };
        }
        if key.is_none() && !trimmed.starts_with('#') {
            if let Some((lhs, _)) = trimmed.split_once('=') {
                let lhs = lhs.trim().replace(['"', '\'', ' '], "");
                if !lhs.is_empty() {
                    key = Some(lhs);
                }
            }
        }
    }
    key.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\n名 = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        let offset = text.find("= \"x").unwrap();
        assert_eq!(line_column(text, offset), (2, 3));
        assert_eq!(line_column(text, 10_000), (3, 1));
    }

    #[test]
    fn key_paths_are_split() {
        let segs = segments("walkin.optional[2]").unwrap();
        assert!(matches!(segs[0], Segment::Key("walkin")));
        assert!(matches!(segs[1], Segment::Key("optional")));
        assert!(matches!(segs[2], Segment::Index(2)));
        assert!(segments("a.b[x]").is_none());
    }

    #[test]
    fn locator_finds_values_in_tables_dotted_keys_and_arrays() {
        let text = "[printer]\npaper_width_mm = 70\n[walkin]\noptional = [\"a\", \"name\"]\n\
                    \n[hub]\nurl = 'x'\n";
        let loc = Locator::new(text);
        assert_eq!(loc.position("printer.paper_width_mm"), (2, 18));
        assert_eq!(loc.position("walkin.optional[1]"), (4, 18));
        assert_eq!(loc.position("hub.url"), (7, 7));
        assert_eq!(loc.position("hub.ca_file"), (1, 1));
        let dotted = Locator::new("sounds.volume = 3.0\nui = { fullscreen = 1 }\n");
        assert_eq!(dotted.position("sounds.volume"), (1, 17));
        assert_eq!(dotted.position("ui.fullscreen"), (2, 21));
    }

    #[test]
    fn nearest_key_uses_section_and_line() {
        let text = "[site]\nid = \"hq\"\n[printer]\nbaud = 19200 19200\n";
        let offset = text.rfind("19200").unwrap();
        assert_eq!(nearest_key(text, offset), "printer.baud");
        assert_eq!(nearest_key("[oops\n", 5), "oops");
        assert_eq!(nearest_key("= 1\n", 0), "");
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("printer"), Ok(("printer", None)));
        assert_eq!(
            split_host_port("10.0.0.5:9101"),
            Ok(("10.0.0.5", Some(9101)))
        );
        assert_eq!(
            split_host_port("[fe80::1]:9100"),
            Ok(("fe80::1", Some(9100)))
        );
        assert_eq!(split_host_port("fe80::1"), Ok(("fe80::1", None)));
        assert!(split_host_port("printer:0").is_err());
        assert!(split_host_port("printer:70000").is_err());
        assert!(split_host_port("printer:").is_err());
        assert!(split_host_port(":9100").is_err());
    }

    #[test]
    fn hub_urls() {
        assert!(check_hub_url("https://hub.example", false).is_ok());
        assert!(check_hub_url("https://hub.example:8443/api", false).is_ok());
        assert!(check_hub_url("http://hub.example", false).is_err());
        assert!(check_hub_url("http://hub.example", true).is_ok());
        assert!(check_hub_url("https://", false).is_err());
        assert!(check_hub_url("https:///path", false).is_err());
        assert!(check_hub_url("ftp://hub", true).is_err());
    }

    #[test]
    fn cert_pins() {
        let plain = "ab".repeat(32);
        assert_eq!(parse_cert_pin(&plain), Ok(Some([0xab; 32])));
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_cert_pin(&colons), Ok(Some([0xab; 32])));
        assert_eq!(parse_cert_pin(""), Ok(None));
        assert!(parse_cert_pin(&"ab".repeat(31)).is_err());
        assert!(parse_cert_pin(&"zz".repeat(32)).is_err());
        assert!(parse_cert_pin("a:bab").is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(
            parse_hh_mm("22:00"),
            Ok(chrono::NaiveTime::from_hms_opt(22, 0, 0))
        );
        assert_eq!(parse_hh_mm(""), Ok(None));
        for bad in ["24:00", "7:30", "12:60", "12-30", "ab:cd"] {
            assert!(parse_hh_mm(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn site_ids() {
        assert!(is_site_id("hq"));
        assert!(is_site_id("0-b"));
        assert!(is_site_id(&"a".repeat(32)));
        assert!(!is_site_id(&"a".repeat(33)));
        assert!(!is_site_id("-hq"));
        assert!(!is_site_id("HQ"));
        assert!(!is_site_id(""));
    }

    #[test]
    fn camera_selector() {
        let mut cam = CameraConfig::default();
        assert_eq!(cam.selector(), CameraSelector::Auto);
        cam.device = "2".to_owned();
        assert_eq!(cam.selector(), CameraSelector::Index(2));
        cam.device = "Logitech".to_owned();
        assert_eq!(cam.selector(), CameraSelector::Name("Logitech".to_owned()));
        cam.device = "+1".to_owned();
        assert_eq!(cam.selector(), CameraSelector::Name("+1".to_owned()));
    }
}
