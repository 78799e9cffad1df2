//! Signed invite tokens, verified offline at the kiosk with the hub's public key.
//!
//! `lobby-hub` mints a token for every invitation and sends it to the visitor as a QR code;
//! the kiosk checks it without a network round trip. A token carries **no personal data**:
//! only the invite id, a tag of the site it is valid for and its validity window. Everything
//! else about the visit comes from the local store, looked up by invite id.
//!
//! # Wire format (version 1)
//!
//! ```text
//! token     = "LK1:" base32(payload || signature)
//! payload   = invite_id || site_tag || valid_from || valid_until       (28 bytes)
//!   invite_id   16 bytes  UUID, in its standard byte order
//!   site_tag     4 bytes  first 4 bytes of SHA-256("lobby-kiosk/site/" || site_id)
//!   valid_from   4 bytes  u32 big-endian, Unix seconds
//!   valid_until  4 bytes  u32 big-endian, Unix seconds, strictly after valid_from
//! signature = Ed25519(hub signing key, "LK1" || payload)                 (64 bytes)
//! ```
//!
//! `base32` is RFC 4648 base32 (alphabet `A-Z2-7`) **without padding**; the last symbol's
//! unused low bits must be zero. The 92 bytes become 148 symbols, so a token is always
//! exactly 152 characters, all within the QR alphanumeric set (`LK1:` included). That fits
//! a version 6 QR code at error correction level M (capacity 154 alphanumeric characters).
//! Readers accept the prefix and the base32 symbols in either case, and ignore surrounding
//! whitespace (hardware scanners append CR/LF).
//!
//! The signed message is prefixed with the domain label `LK1` so that a signature made for
//! anything else with the same key can never pass as an invite. Signatures are checked with
//! [`VerifyingKey::verify_strict`], which rejects malleable signatures and weak keys.
//!
//! Times are whole Unix seconds in a `u32`, which covers 1970-01-01 until 2106-02-07;
//! [`mint`] rejects times outside that range and drops sub-second precision.
//!
//! # Scanned text
//!
//! The camera decodes every QR code and barcode in view, so [`classify`] sorts text cheaply
//! into an invite token, a typed-style short code, a check-out code from a badge slip
//! (`LKO:` + short code) or anything else.
//!
//! # Keys
//!
//! Public keys are exchanged as standard base64 of the 32-byte key; a standalone kiosk that
//! mints its own invites keeps the 32-byte Ed25519 seed, base64-encoded, in its key file.

use std::fmt;

use base64::Engine as _;
use chrono::DateTime;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::shortcode::ShortCode;
use super::Timestamp;

/// Prefix of every invite token (version 1 of the format).
pub const TOKEN_PREFIX: &str = "LK1:";
/// Prefix of check-out codes printed on badge slips, followed by a [`ShortCode`].
pub const CHECKOUT_PREFIX: &str = "LKO:";
/// Length of the signed payload in bytes.
pub const PAYLOAD_LEN: usize = 28;
/// Length in characters of every invite token.
pub const TOKEN_LEN: usize = TOKEN_PREFIX.len() + BASE32_LEN;

/// Domain label prepended to the payload before signing.
const SIGNING_CONTEXT: &[u8] = b"LK1";
/// Domain label prepended to a site id before hashing it into a [`SiteTag`].
const SITE_TAG_CONTEXT: &[u8] = b"lobby-kiosk/site/";
const SIGNATURE_LEN: usize = 64;
const TOKEN_BYTES: usize = PAYLOAD_LEN + SIGNATURE_LEN;
/// Unpadded base32 symbols for [`TOKEN_BYTES`] bytes.
const BASE32_LEN: usize = (TOKEN_BYTES * 8).div_ceil(5);
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A short tag naming the site an invite is valid for, derived from the site id.
///
/// Four bytes keep tokens small; they only need to tell the sites of one organisation apart,
/// and the tag is signed along with the rest of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SiteTag([u8; 4]);

impl SiteTag {
    /// The tag of `site_id`: the first four bytes of SHA-256 of
    /// `"lobby-kiosk/site/" || site_id`. The id is used exactly as given (no trimming or
    /// case folding).
    pub fn of(site_id: &str) -> SiteTag {
        let digest = Sha256::new()
            .chain_update(SITE_TAG_CONTEXT)
            .chain_update(site_id.as_bytes())
            .finalize();
        SiteTag([digest[0], digest[1], digest[2], digest[3]])
    }

    /// Wraps tag bytes as read from a token.
    pub fn from_bytes(bytes: [u8; 4]) -> SiteTag {
        SiteTag(bytes)
    }

    /// The four tag bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        self.0
    }
}

impl fmt::Display for SiteTag {
    /// Lowercase hex, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// What a token says: which invitation, for which site, and when it may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteClaims {
    /// The invitation in the hub's (and the local store's) records.
    pub invite_id: uuid::Uuid,
    /// The site the invitation is for.
    pub site: SiteTag,
    /// First moment the invitation may be used.
    pub valid_from: Timestamp,
    /// Last moment the invitation may be used.
    pub valid_until: Timestamp,
}

/// Why an invite could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// The validity window is empty (compared in whole seconds, as encoded).
    #[error(
        "an invitation must end after it starts (valid from {valid_from}, until {valid_until})"
    )]
    EmptyWindow {
        /// The requested start.
        valid_from: Timestamp,
        /// The requested end.
        valid_until: Timestamp,
    },
    /// A time lies outside what a token can carry (1970-01-01 until 2106-02-07).
    #[error("{time} cannot be carried in an invite token (range 1970-01-01 to 2106-02-07)")]
    TimeOutOfRange {
        /// The offending time.
        time: Timestamp,
    },
}

/// Every reason the kiosk turns an invitation away.
///
/// [`verify`] produces the first five; [`Rejection::Cancelled`] and
/// [`Rejection::UnknownShortCode`] are decided by the caller against the store, and
/// [`Rejection::NotAnInvitation`] by whoever handles [`Scanned::Foreign`]. The `Display`
/// text is meant for the visitor on screen; [`Rejection::code`] is for logs and the hub.
/// The times in [`Rejection::NotYetValid`] and [`Rejection::Expired`] are UTC and are left
/// out of the message so that the screen can show them in the site's local time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not a well-formed token: wrong prefix, length or alphabet.
    #[error("This code could not be read. Please try again or ask at the reception desk.")]
    BadEncoding,
    /// The signature does not match any trusted key.
    #[error("This invitation could not be verified. Please ask at the reception desk.")]
    BadSignature,
    /// Valid, but for another site.
    #[error("This is not an invitation for this building.")]
    OtherSite,
    /// Valid, but too early.
    #[error("This invitation is not valid yet.")]
    NotYetValid {
        /// When the invitation becomes valid.
        valid_from: Timestamp,
    },
    /// Valid, but too late.
    #[error("This invitation has expired.")]
    Expired {
        /// When the invitation stopped being valid.
        valid_until: Timestamp,
    },
    /// The invitation was cancelled by the host.
    #[error("This invitation has been cancelled.")]
    Cancelled,
    /// A typed short code matches no invitation.
    #[error("We could not find an invitation with this code. Please check it and try again.")]
    UnknownShortCode,
    /// The scanned code is neither an invitation nor a short code.
    #[error("This is not a visitor invitation.")]
    NotAnInvitation,
}

impl Rejection {
    /// A stable snake_case reason code for logs, events and the hub.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::BadEncoding => "bad_encoding",
            Rejection::BadSignature => "bad_signature",
            Rejection::OtherSite => "other_site",
            Rejection::NotYetValid { .. } => "not_yet_valid",
            Rejection::Expired { .. } => "expired",
            Rejection::Cancelled => "cancelled",
            Rejection::UnknownShortCode => "unknown_short_code",
            Rejection::NotAnInvitation => "not_an_invitation",
        }
    }
}

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not standard base64.
    #[error("the key is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The decoded key has the wrong size.
    #[error("the key should be {expected} bytes, found {found}")]
    WrongLength {
        /// Bytes an Ed25519 key or seed has.
        expected: usize,
        /// Bytes decoded.
        found: usize,
    },
    /// The bytes are not a usable Ed25519 public key (not a curve point, or of small order).
    #[error("the key is not a valid Ed25519 public key")]
    InvalidPublicKey,
}

/// Mints a token for `claims`, signed with the hub's (or a standalone kiosk's) key.
///
/// Times are truncated to whole seconds; the window must still be non-empty after that.
pub fn mint(claims: &InviteClaims, key: &SigningKey) -> Result<String, MintError> {
    let from = unix_seconds(claims.valid_from)?;
    let until = unix_seconds(claims.valid_until)?;
    if until <= from {
        return Err(MintError::EmptyWindow {
            valid_from: claims.valid_from,
            valid_until: claims.valid_until,
        });
    }

    let mut payload = [0u8; PAYLOAD_LEN];
    payload[..16].copy_from_slice(claims.invite_id.as_bytes());
    payload[16..20].copy_from_slice(&claims.site.0);
    payload[20..24].copy_from_slice(&from.to_be_bytes());
    payload[24..28].copy_from_slice(&until.to_be_bytes());

    let signature = key.sign(&signed_message(&payload));

    let mut bytes = [0u8; TOKEN_BYTES];
    bytes[..PAYLOAD_LEN].copy_from_slice(&payload);
    bytes[PAYLOAD_LEN..].copy_from_slice(&signature.to_bytes());

    let mut token = String::with_capacity(TOKEN_LEN);
    token.push_str(TOKEN_PREFIX);
    base32_encode(&bytes, &mut token);
    Ok(token)
}

/// Splits a token into its claims, signature and raw payload, **without** checking the
/// signature. Use [`verify`] to decide whether to let someone in.
///
/// Fails with [`Rejection::BadEncoding`] on a wrong prefix, length or alphabet, non-zero
/// padding bits, or a window that does not end after it starts.
pub fn decode(text: &str) -> Result<(InviteClaims, Signature, [u8; PAYLOAD_LEN]), Rejection> {
    let text = text.trim().as_bytes();
    if text.len() != TOKEN_LEN
        || !text[..TOKEN_PREFIX.len()].eq_ignore_ascii_case(TOKEN_PREFIX.as_bytes())
    {
        return Err(Rejection::BadEncoding);
    }
    let bytes: [u8; TOKEN_BYTES] =
        base32_decode(&text[TOKEN_PREFIX.len()..]).ok_or(Rejection::BadEncoding)?;

    let mut payload = [0u8; PAYLOAD_LEN];
    payload.copy_from_slice(&bytes[..PAYLOAD_LEN]);
    let mut signature = [0u8; SIGNATURE_LEN];
    signature.copy_from_slice(&bytes[PAYLOAD_LEN..]);

    let mut id = [0u8; 16];
    id.copy_from_slice(&payload[..16]);
    let mut site = [0u8; 4];
    site.copy_from_slice(&payload[16..20]);
    let mut from = [0u8; 4];
    from.copy_from_slice(&payload[20..24]);
    let mut until = [0u8; 4];
    until.copy_from_slice(&payload[24..28]);
    let (from, until) = (u32::from_be_bytes(from), u32::from_be_bytes(until));
    if until <= from {
        return Err(Rejection::BadEncoding);
    }

    let claims = InviteClaims {
        invite_id: uuid::Uuid::from_bytes(id),
        site: SiteTag(site),
        valid_from: from_unix_seconds(from).ok_or(Rejection::BadEncoding)?,
        valid_until: from_unix_seconds(until).ok_or(Rejection::BadEncoding)?,
    };
    Ok((claims, Signature::from_bytes(&signature), payload))
}

/// Checks a token completely and returns its claims if the visitor may use it now.
///
/// Checks, in order: the encoding ([`Rejection::BadEncoding`]); the signature, which must be
/// valid under at least one of `keys` ([`Rejection::BadSignature`], also when `keys` is
/// empty); the site ([`Rejection::OtherSite`]); the time window, widened by `clock_skew` on
/// both sides to allow for clocks that drift: [`Rejection::NotYetValid`] if
/// `now + skew < valid_from`, [`Rejection::Expired`] if `now - skew > valid_until`. A
/// negative `clock_skew` is treated as its absolute value.
///
/// Whether the invitation was cancelled is up to the caller, against the store.
pub fn verify(
    text: &str,
    keys: &[VerifyingKey],
    site_id: &str,
    now: Timestamp,
    clock_skew: chrono::Duration,
) -> Result<InviteClaims, Rejection> {
    let (claims, signature, payload) = decode(text)?;

    let message = signed_message(&payload);
    if !keys
        .iter()
        .any(|key| key.verify_strict(&message, &signature).is_ok())
    {
        return Err(Rejection::BadSignature);
    }

    if claims.site != SiteTag::of(site_id) {
        return Err(Rejection::OtherSite);
    }

    super::admit::check_window(claims.valid_from, claims.valid_until, now, clock_skew)?;
    Ok(claims)
}

/// What a frame from the camera (or a hardware scanner) holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// Looks like an invite token (trimmed, otherwise unchecked: pass it to [`verify`]).
    Invite(String),
    /// A short code on its own, as printed on an invitation.
    ShortCode(ShortCode),
    /// A check-out code from a badge slip (`LKO:` + short code).
    Checkout(ShortCode),
    /// Anything else: another QR code, a URL, a product barcode.
    Foreign,
}

/// Sorts scanned text without verifying anything; cheap enough for every decoded frame.
///
/// Surrounding whitespace (including the CR/LF hardware scanners append) is ignored and the
/// prefixes `LK1:` and `LKO:` match in any case.
pub fn classify(text: &str) -> Scanned {
    let text = text.trim();
    if has_prefix_ignore_case(text, TOKEN_PREFIX) {
        return Scanned::Invite(text.to_owned());
    }
    if has_prefix_ignore_case(text, CHECKOUT_PREFIX) {
        return match ShortCode::parse(&text[CHECKOUT_PREFIX.len()..]) {
            Ok(code) => Scanned::Checkout(code),
            Err(_) => Scanned::Foreign,
        };
    }
    // Anything much longer than a spaced-out full-width code cannot be a short code.
    if text.len() > 64 {
        return Scanned::Foreign;
    }
    match ShortCode::parse(text) {
        Ok(code) => Scanned::ShortCode(code),
        Err(_) => Scanned::Foreign,
    }
}

/// Derives a signing key from its 32-byte seed (the key file of a standalone kiosk, or a
/// seed drawn by the caller from a random source).
pub fn signing_key_from_seed(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

/// Standard base64 of the 32-byte public key, as configured at kiosks.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

/// Reads a public key written by [`encode_public_key`]; surrounding whitespace is ignored.
/// Keys of small order are refused: nothing they sign could ever be trusted.
pub fn decode_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = decode_32(text)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPublicKey)?;
    if key.is_weak() {
        return Err(KeyError::InvalidPublicKey);
    }
    Ok(key)
}

/// Standard base64 of the 32-byte seed of `key`, for a standalone kiosk's key file.
pub fn encode_seed(key: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

/// Reads a seed written by [`encode_seed`]; surrounding whitespace is ignored.
pub fn decode_seed(text: &str) -> Result<SigningKey, KeyError> {
    let mut seed = decode_32(text)?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

/// Decodes standard base64 that must hold exactly 32 bytes.
fn decode_32(text: &str) -> Result<[u8; 32], KeyError> {
    let mut bytes = base64::engine::general_purpose::STANDARD.decode(text.trim())?;
    let result = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::WrongLength {
        expected: 32,
        found: bytes.len(),
    });
    bytes.fill(0);
    result
}

fn has_prefix_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// The bytes the signature covers: the domain label, then the payload.
fn signed_message(payload: &[u8; PAYLOAD_LEN]) -> [u8; SIGNING_CONTEXT.len() + PAYLOAD_LEN] {
    let mut message = [0u8; SIGNING_CONTEXT.len() + PAYLOAD_LEN];
    message[..SIGNING_CONTEXT.len()].copy_from_slice(SIGNING_CONTEXT);
    message[SIGNING_CONTEXT.len()..].copy_from_slice(payload);
    message
}

fn unix_seconds(time: Timestamp) -> Result<u32, MintError> {
    u32::try_from(time.timestamp()).map_err(|_| MintError::TimeOutOfRange { time })
}

fn from_unix_seconds(seconds: u32) -> Option<Timestamp> {
    DateTime::from_timestamp(i64::from(seconds), 0)
}

/// Appends the unpadded RFC 4648 base32 form of `bytes` to `out`.
fn base32_encode(bytes: &[u8], out: &mut String) {
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 0x1f) as usize],
            ));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 0x1f) as usize],
        ));
    }
}

/// Decodes unpadded RFC 4648 base32 (either case) of exactly `N` bytes. `None` on a wrong
/// length, a symbol outside the alphabet, or non-zero unused bits in the last symbol.
fn base32_decode<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != (N * 8).div_ceil(5) {
        return None;
    }
    let mut out = [0u8; N];
    let mut written = 0usize;
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &symbol in text {
        let value = match symbol {
            b'A'..=b'Z' => symbol - b'A',
            b'a'..=b'z' => symbol - b'a',
            b'2'..=b'7' => symbol - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(written)? = (buffer >> bits) as u8;
            written += 1;
            buffer &= (1 << bits) - 1;
        }
    }
    (written == N && buffer == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    const SITE: &str = "hq-berlin";

    fn hub_key() -> SigningKey {
        signing_key_from_seed([7; 32])
    }

    fn other_key() -> SigningKey {
        signing_key_from_seed([9; 32])
    }

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    fn claims() -> InviteClaims {
        InviteClaims {
            invite_id: uuid::Uuid::from_u128(0x0190_f3a2_7c4e_7d21_9b3a_5e6f_1a2b_3c4d),
            site: SiteTag::of(SITE),
            valid_from: Utc.with_ymd_and_hms(2025, 3, 14, 8, 0, 0).unwrap(),
            valid_until: Utc.with_ymd_and_hms(2025, 3, 14, 18, 0, 0).unwrap(),
        }
    }

    fn token() -> String {
        mint(&claims(), &hub_key()).unwrap()
    }

    fn noon() -> Timestamp {
        Utc.with_ymd_and_hms(2025, 3, 14, 12, 0, 0).unwrap()
    }

    fn check(text: &str, now: Timestamp, skew: Duration) -> Result<InviteClaims, Rejection> {
        verify(text, &[hub_key().verifying_key()], SITE, now, skew)
    }

    /// Re-encodes raw token bytes, for tampering tests.
    fn encode_bytes(bytes: &[u8]) -> String {
        let mut text = String::from(TOKEN_PREFIX);
        base32_encode(bytes, &mut text);
        text
    }

    fn token_bytes(text: &str) -> Vec<u8> {
        base32_decode::<TOKEN_BYTES>(&text.as_bytes()[TOKEN_PREFIX.len()..])
            .unwrap()
            .to_vec()
    }

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            let mut out = String::new();
            base32_encode(input.as_bytes(), &mut out);
            assert_eq!(out, expected);
        }
        assert_eq!(&base32_decode::<6>(b"MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(&base32_decode::<6>(b"mzxw6ytboi").unwrap(), b"foobar");
        assert_eq!(&base32_decode::<1>(b"MY").unwrap(), b"f");
        // Non-zero unused bits, wrong length, symbols outside the alphabet.
        assert!(base32_decode::<1>(b"MZ").is_none());
        assert!(base32_decode::<6>(b"MZXW6YTBO").is_none());
        assert!(base32_decode::<6>(b"MZXW6YTBOI=").is_none());
        assert!(base32_decode::<6>(b"MZXW6YTB01").is_none());
    }

    #[test]
    fn site_tag_is_a_prefix_of_the_labelled_hash() {
        let digest = Sha256::digest(b"lobby-kiosk/site/hq-berlin");
        assert_eq!(SiteTag::of(SITE).to_bytes(), digest[..4]);
        assert_ne!(SiteTag::of(SITE), SiteTag::of("hq-munich"));
        assert_eq!(
            SiteTag::from_bytes([0xde, 0xad, 0x00, 0x01]).to_string(),
            "dead0001"
        );
    }

    #[test]
    fn mint_verify_round_trip() {
        let token = token();
        assert_eq!(check(&token, noon(), Duration::zero()), Ok(claims()));
        let (decoded, signature, payload) = decode(&token).unwrap();
        assert_eq!(decoded, claims());
        assert_eq!(&payload[..16], claims().invite_id.as_bytes());
        assert!(hub_key()
            .verifying_key()
            .verify_strict(&signed_message(&payload), &signature)
            .is_ok());
        // Ed25519 is deterministic: the same claims give the same token.
        assert_eq!(token, self::token());
    }

    #[test]
    fn token_shape_fits_qr_version_6() {
        let token = token();
        assert_eq!(token.len(), 152);
        assert_eq!(TOKEN_LEN, 152);
        assert!(token.starts_with("LK1:"));
        assert!(token[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        assert!(crate::qr::qr_version(&token).unwrap() <= 6);
        // The extremes of the encodable range fit too.
        let wide = InviteClaims {
            invite_id: uuid::Uuid::max(),
            valid_from: at(0),
            valid_until: at(i64::from(u32::MAX)),
            ..claims()
        };
        let wide_token = mint(&wide, &hub_key()).unwrap();
        assert_eq!(wide_token.len(), 152);
        assert!(crate::qr::qr_version(&wide_token).unwrap() <= 6);
        assert_eq!(decode(&wide_token).unwrap().0, wide);
    }

    #[test]
    fn reader_tolerates_case_and_scanner_line_endings() {
        let token = token();
        let lower = token.to_ascii_lowercase();
        assert_eq!(check(&lower, noon(), Duration::zero()), Ok(claims()));
        let scanned = format!("  {token}\r\n");
        assert_eq!(check(&scanned, noon(), Duration::zero()), Ok(claims()));
    }

    #[test]
    fn mint_rejects_empty_windows_and_unrepresentable_times() {
        let key = hub_key();
        let same = InviteClaims {
            valid_until: claims().valid_from,
            ..claims()
        };
        assert!(matches!(
            mint(&same, &key),
            Err(MintError::EmptyWindow { .. })
        ));
        let backwards = InviteClaims {
            valid_from: claims().valid_until,
            valid_until: claims().valid_from,
            ..claims()
        };
        assert!(matches!(
            mint(&backwards, &key),
            Err(MintError::EmptyWindow { .. })
        ));
        // Less than a second apart: empty once truncated to whole seconds.
        let sub_second = InviteClaims {
            valid_from: at(1000) + Duration::milliseconds(100),
            valid_until: at(1000) + Duration::milliseconds(900),
            ..claims()
        };
        assert!(matches!(
            mint(&sub_second, &key),
            Err(MintError::EmptyWindow { .. })
        ));
        let before_1970 = InviteClaims {
            valid_from: at(-1),
            ..claims()
        };
        assert_eq!(
            mint(&before_1970, &key),
            Err(MintError::TimeOutOfRange { time: at(-1) })
        );
        let after_2106 = InviteClaims {
            valid_until: at(i64::from(u32::MAX) + 1),
            ..claims()
        };
        assert_eq!(
            mint(&after_2106, &key),
            Err(MintError::TimeOutOfRange {
                time: at(i64::from(u32::MAX) + 1)
            })
        );
    }

    #[test]
    fn mint_truncates_to_whole_seconds() {
        let fractional = InviteClaims {
            valid_from: claims().valid_from + Duration::milliseconds(250),
            valid_until: claims().valid_until + Duration::milliseconds(999),
            ..claims()
        };
        let token = mint(&fractional, &hub_key()).unwrap();
        assert_eq!(decode(&token).unwrap().0, claims());
    }

    #[test]
    fn bad_encoding() {
        let token = token();
        let now = noon();
        let zero = Duration::zero();
        let wrong_prefix = format!("LK2:{}", &token[4..]);
        let no_prefix = token[4..].to_owned();
        let truncated = &token[..151];
        let extended = format!("{token}A");
        let non_base32 = format!("{}1{}", &token[..40], &token[41..]);
        let padded = format!("{}=", &token[..151]);
        let empty = "";
        for text in [
            wrong_prefix.as_str(),
            no_prefix.as_str(),
            truncated,
            extended.as_str(),
            non_base32.as_str(),
            padded.as_str(),
            empty,
            "LK1:",
        ] {
            assert_eq!(
                check(text, now, zero),
                Err(Rejection::BadEncoding),
                "{text}"
            );
        }
        // Non-zero unused bits in the last symbol: a second spelling of the same bytes.
        let last = token.as_bytes()[151];
        let index = BASE32_ALPHABET.iter().position(|&b| b == last).unwrap();
        let respelled = format!(
            "{}{}",
            &token[..151],
            char::from(BASE32_ALPHABET[index ^ 1])
        );
        assert_eq!(check(&respelled, now, zero), Err(Rejection::BadEncoding));
        // Multi-byte characters where the prefix should be must not panic.
        let accented = format!("Lé:{}", &token[4..]);
        assert_eq!(accented.len(), 152);
        assert_eq!(check(&accented, now, zero), Err(Rejection::BadEncoding));
    }

    #[test]
    fn bad_signature_on_any_flipped_payload_bit() {
        let bytes = token_bytes(&token());
        for bit in 0..PAYLOAD_LEN * 8 {
            let mut tampered = bytes.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            let text = encode_bytes(&tampered);
            let result = check(&text, noon(), Duration::zero());
            // Flipping a low time bit may empty the window, which decode refuses first.
            assert!(
                result == Err(Rejection::BadSignature) || result == Err(Rejection::BadEncoding),
                "bit {bit}: {result:?}"
            );
            if !(160..224).contains(&bit) {
                assert_eq!(result, Err(Rejection::BadSignature), "bit {bit}");
            }
        }
        // One flipped bit in the invite id, specifically.
        let mut tampered = bytes.clone();
        tampered[3] ^= 0x10;
        assert_eq!(
            check(&encode_bytes(&tampered), noon(), Duration::zero()),
            Err(Rejection::BadSignature)
        );
        // A flipped bit in the signature itself.
        let mut tampered = bytes;
        tampered[PAYLOAD_LEN + 5] ^= 0x01;
        assert_eq!(
            check(&encode_bytes(&tampered), noon(), Duration::zero()),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn bad_signature_from_another_key_or_no_keys() {
        let foreign = mint(&claims(), &other_key()).unwrap();
        assert_eq!(
            check(&foreign, noon(), Duration::zero()),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verify(&token(), &[], SITE, noon(), Duration::zero()),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn signature_is_bound_to_the_domain_label() {
        // A signature over the bare payload (no "LK1" label) must not verify.
        let bytes = token_bytes(&token());
        let mut payload = [0u8; PAYLOAD_LEN];
        payload.copy_from_slice(&bytes[..PAYLOAD_LEN]);
        let bare = hub_key().sign(&payload);
        let mut forged = payload.to_vec();
        forged.extend_from_slice(&bare.to_bytes());
        assert_eq!(
            check(&encode_bytes(&forged), noon(), Duration::zero()),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn second_trusted_key_is_accepted() {
        let rotated = mint(&claims(), &other_key()).unwrap();
        let keys = [hub_key().verifying_key(), other_key().verifying_key()];
        assert_eq!(
            verify(&rotated, &keys, SITE, noon(), Duration::zero()),
            Ok(claims())
        );
        assert_eq!(
            verify(&token(), &keys, SITE, noon(), Duration::zero()),
            Ok(claims())
        );
    }

    #[test]
    fn other_site() {
        assert_eq!(
            verify(
                &token(),
                &[hub_key().verifying_key()],
                "hq-munich",
                noon(),
                Duration::zero()
            ),
            Err(Rejection::OtherSite)
        );
        // The site id is taken exactly as given.
        assert_eq!(
            verify(
                &token(),
                &[hub_key().verifying_key()],
                "HQ-Berlin",
                noon(),
                Duration::zero()
            ),
            Err(Rejection::OtherSite)
        );
    }

    #[test]
    fn signature_is_checked_before_site_and_time() {
        let foreign = mint(&claims(), &other_key()).unwrap();
        let long_ago = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            verify(
                &foreign,
                &[hub_key().verifying_key()],
                "hq-munich",
                long_ago,
                Duration::zero()
            ),
            Err(Rejection::BadSignature)
        );
        // Site before time.
        assert_eq!(
            verify(
                &token(),
                &[hub_key().verifying_key()],
                "hq-munich",
                long_ago,
                Duration::zero()
            ),
            Err(Rejection::OtherSite)
        );
    }

    #[test]
    fn not_yet_valid_and_expired() {
        let c = claims();
        let zero = Duration::zero();
        assert_eq!(
            check(&token(), c.valid_from - Duration::hours(1), zero),
            Err(Rejection::NotYetValid {
                valid_from: c.valid_from
            })
        );
        assert_eq!(
            check(&token(), c.valid_until + Duration::hours(1), zero),
            Err(Rejection::Expired {
                valid_until: c.valid_until
            })
        );
        // Both ends of the window are inclusive.
        assert_eq!(check(&token(), c.valid_from, zero), Ok(c));
        assert_eq!(check(&token(), c.valid_until, zero), Ok(c));
        assert!(check(&token(), c.valid_from - Duration::seconds(1), zero).is_err());
        assert!(check(&token(), c.valid_until + Duration::seconds(1), zero).is_err());
    }

    #[test]
    fn clock_skew_tolerance_on_both_edges() {
        let c = claims();
        let skew = Duration::minutes(5);
        let token = token();
        // Early edge: just inside, exactly on, just outside.
        assert_eq!(
            check(&token, c.valid_from - skew + Duration::seconds(1), skew),
            Ok(c)
        );
        assert_eq!(check(&token, c.valid_from - skew, skew), Ok(c));
        assert_eq!(
            check(&token, c.valid_from - skew - Duration::seconds(1), skew),
            Err(Rejection::NotYetValid {
                valid_from: c.valid_from
            })
        );
        // Late edge.
        assert_eq!(
            check(&token, c.valid_until + skew - Duration::seconds(1), skew),
            Ok(c)
        );
        assert_eq!(check(&token, c.valid_until + skew, skew), Ok(c));
        assert_eq!(
            check(&token, c.valid_until + skew + Duration::seconds(1), skew),
            Err(Rejection::Expired {
                valid_until: c.valid_until
            })
        );
        // A negative skew widens the window just the same.
        assert_eq!(check(&token, c.valid_from - skew, -skew), Ok(c));
        assert_eq!(check(&token, c.valid_until + skew, -skew), Ok(c));
    }

    #[test]
    fn huge_skew_does_not_overflow() {
        let c = claims();
        assert_eq!(check(&token(), noon(), Duration::MAX), Ok(c));
        assert_eq!(check(&token(), noon(), Duration::MIN), Ok(c));
    }

    #[test]
    fn rejection_codes_and_messages() {
        let t = noon();
        let all = [
            (Rejection::BadEncoding, "bad_encoding"),
            (Rejection::BadSignature, "bad_signature"),
            (Rejection::OtherSite, "other_site"),
            (Rejection::NotYetValid { valid_from: t }, "not_yet_valid"),
            (Rejection::Expired { valid_until: t }, "expired"),
            (Rejection::Cancelled, "cancelled"),
            (Rejection::UnknownShortCode, "unknown_short_code"),
            (Rejection::NotAnInvitation, "not_an_invitation"),
        ];
        for (rejection, code) in &all {
            assert_eq!(rejection.code(), *code);
            let message = rejection.to_string();
            assert!(message.ends_with('.'), "{message}");
            assert!(message.starts_with(char::is_uppercase), "{message}");
        }
        assert_eq!(
            Rejection::Expired { valid_until: t }.to_string(),
            "This invitation has expired."
        );
        assert_eq!(
            Rejection::OtherSite.to_string(),
            "This is not an invitation for this building."
        );
    }

    #[test]
    fn classify_invites() {
        let token = token();
        assert_eq!(classify(&token), Scanned::Invite(token.clone()));
        assert_eq!(
            classify(&format!("{token}\r\n")),
            Scanned::Invite(token.clone())
        );
        assert_eq!(
            classify(&format!("{token}\n")),
            Scanned::Invite(token.clone())
        );
        let lower = token.to_ascii_lowercase();
        assert_eq!(classify(&lower), Scanned::Invite(lower.clone()));
        // Still an invite (to be rejected by verify), not a foreign code.
        assert_eq!(
            classify("LK1:garbage"),
            Scanned::Invite("LK1:garbage".to_owned())
        );
    }

    #[test]
    fn classify_short_and_checkout_codes() {
        let code = ShortCode::parse("7K3QMX9P").unwrap();
        assert_eq!(classify("7K3Q-MX9P"), Scanned::ShortCode(code.clone()));
        assert_eq!(classify("7k3qmx9p\r\n"), Scanned::ShortCode(code.clone()));
        assert_eq!(classify("LKO:7K3QMX9P"), Scanned::Checkout(code.clone()));
        assert_eq!(
            classify("lko:7K3Q-MX9P\r\n"),
            Scanned::Checkout(code.clone())
        );
        assert_eq!(classify("LKO:7K3QMX9U"), Scanned::Foreign);
        assert_eq!(classify("LKO:"), Scanned::Foreign);
    }

    #[test]
    fn classify_foreign() {
        for text in [
            "",
            "\r\n",
            "https://example.com/visit?id=42",
            "WIFI:S:Guest;T:WPA;P:secret;;",
            "4006381333931",
            "hello",
            "Lunch menu",
            "ABCDEFGU",
            "LK",
            "LK1",
            "LKO7K3QMX9P",
            "é",
            "BEGIN:VCARD\nVERSION:3.0\nFN:Someone\nEND:VCARD",
        ] {
            assert_eq!(classify(text), Scanned::Foreign, "{text:?}");
        }
        let long = "A".repeat(10_000);
        assert_eq!(classify(&long), Scanned::Foreign);
    }

    #[test]
    fn public_keys_round_trip() {
        let key = hub_key().verifying_key();
        let text = encode_public_key(&key);
        assert_eq!(text.len(), 44);
        assert_eq!(decode_public_key(&text).unwrap(), key);
        assert_eq!(decode_public_key(&format!(" {text}\n")).unwrap(), key);
    }

    #[test]
    fn public_key_errors() {
        assert!(matches!(
            decode_public_key("not base64!"),
            Err(KeyError::Base64(_))
        ));
        assert_eq!(
            decode_public_key("AAAA"),
            Err(KeyError::WrongLength {
                expected: 32,
                found: 3
            })
        );
        // The identity point has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let text = base64::engine::general_purpose::STANDARD.encode(identity);
        assert_eq!(decode_public_key(&text), Err(KeyError::InvalidPublicKey));
    }

    #[test]
    fn seeds_round_trip() {
        let key = hub_key();
        let text = encode_seed(&key);
        assert_eq!(
            text,
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        let back = decode_seed(&format!("{text}\n")).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        assert_eq!(back.verifying_key(), key.verifying_key());
        assert!(matches!(decode_seed("%%%"), Err(KeyError::Base64(_))));
        assert_eq!(
            decode_seed(&base64::engine::general_purpose::STANDARD.encode([1u8; 31])),
            Err(KeyError::WrongLength {
                expected: 32,
                found: 31
            })
        );
    }
}
