//! Walk-in registration rules: which fields a visitor fills in, how each is normalised, and
//! how a returning visitor is recognised.

use serde::{Deserialize, Serialize};

/// A field of the walk-in form. `kiosk.toml` lists which are required and which optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Name,
    Phone,
    Email,
    Company,
    Host,
    Purpose,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Name,
        Field::Phone,
        Field::Email,
        Field::Company,
        Field::Host,
        Field::Purpose,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Phone => "phone",
            Field::Email => "email",
            Field::Company => "company",
            Field::Host => "host",
            Field::Purpose => "purpose",
        }
    }
}

/// Longest company name accepted, in characters.
pub const COMPANY_MAX_CHARS: usize = 100;
/// Longest visit purpose accepted, in characters.
pub const PURPOSE_MAX_CHARS: usize = 200;
/// Longest host identifier accepted, in characters.
pub const HOST_ID_MAX_CHARS: usize = 64;
/// Longest e-mail address accepted (RFC 5321 path limit minus the angle brackets).
pub const EMAIL_MAX_CHARS: usize = 254;

/// Which fields the walk-in form asks for, from `kiosk.toml`.
///
/// A field in `required` must be filled in; a field in `optional` may be left empty; a field in
/// neither list is not shown and anything typed into it is ignored. A field listed in both is
/// required. The name is always asked and required, whatever the lists say: the badge and the
/// visitor profile cannot do without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkInRules {
    pub required: Vec<Field>,
    pub optional: Vec<Field>,
    /// Longest name accepted, in characters (not bytes) after normalisation.
    pub name_max_chars: usize,
    /// ISO 3166 alpha-2 region (e.g. `"CN"`) for phone numbers typed without a country code.
    pub default_country: String,
}

impl WalkInRules {
    /// Whether the form shows `field`.
    pub fn asks(&self, field: Field) -> bool {
        field == Field::Name || self.required.contains(&field) || self.optional.contains(&field)
    }

    /// Whether `field` must be filled in.
    pub fn requires(&self, field: Field) -> bool {
        field == Field::Name || self.required.contains(&field)
    }
}

/// The walk-in form exactly as typed on the touchscreen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkInForm {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub company: String,
    pub host_id: String,
    pub purpose: String,
}

/// A walk-in form that passed validation, every value normalised.
///
/// Optional fields left empty and fields the rules do not ask for are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidWalkIn {
    pub name: String,
    /// E.164, e.g. `+8613800138000`.
    pub phone_e164: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    pub company: Option<String>,
    /// Trimmed, white space collapsed; whether such a host exists is for the caller to check.
    pub host_id: Option<String>,
    pub purpose: Option<String>,
}

/// What is wrong with one field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FieldErrorKind {
    #[error("this field is required")]
    Missing,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("contains characters that are not allowed")]
    InvalidCharacters,
    #[error("is not a valid phone number")]
    InvalidPhone,
    #[error("is not a valid e-mail address")]
    InvalidEmail,
}

impl FieldErrorKind {
    /// Stable snake_case code for the UI's message catalogue (same as the serde tag).
    pub fn code(self) -> &'static str {
        match self {
            FieldErrorKind::Missing => "missing",
            FieldErrorKind::TooLong { .. } => "too_long",
            FieldErrorKind::InvalidCharacters => "invalid_characters",
            FieldErrorKind::InvalidPhone => "invalid_phone",
            FieldErrorKind::InvalidEmail => "invalid_email",
        }
    }
}

/// A problem with one field, shown inline next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
#[error("{}: {kind}", .field.as_str())]
pub struct FieldError {
    pub field: Field,
    pub kind: FieldErrorKind,
}

/// Validates and normalises a walk-in form, reporting every field's problem at once (in the
/// order of [`Field::ALL`]), so the touchscreen can mark them all in one go.
pub fn validate(form: &WalkInForm, rules: &WalkInRules) -> Result<ValidWalkIn, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut check =
        |field: Field, raw: &str, normalise: &dyn Fn(&str) -> Result<String, FieldErrorKind>| {
            if !rules.asks(field) {
                return None;
            }
            if raw.trim().is_empty() {
                if rules.requires(field) {
                    errors.push(FieldError {
                        field,
                        kind: FieldErrorKind::Missing,
                    });
                }
                return None;
            }
            match normalise(raw) {
                Ok(value) => Some(value),
                Err(kind) => {
                    errors.push(FieldError { field, kind });
                    None
                }
            }
        };

    let name = check(Field::Name, &form.name, &|s| {
        normalize_name(s, rules.name_max_chars)
    });
    let phone_e164 = check(Field::Phone, &form.phone, &|s| {
        normalize_phone(s, &rules.default_country)
    });
    let email = check(Field::Email, &form.email, &normalize_email);
    let company = check(Field::Company, &form.company, &|s| {
        normalize_text(s, COMPANY_MAX_CHARS)
    });
    let host_id = check(Field::Host, &form.host_id, &|s| {
        normalize_text(s, HOST_ID_MAX_CHARS)
    });
    let purpose = check(Field::Purpose, &form.purpose, &|s| {
        normalize_text(s, PURPOSE_MAX_CHARS)
    });

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidWalkIn {
        // The name is always required, so without errors it is present.
        name: name.unwrap_or_default(),
        phone_e164,
        email,
        company,
        host_id,
        purpose,
    })
}

/// Trims `raw` and collapses every run of Unicode white space (ASCII space, tab, line breaks,
/// U+00A0 no-break space, U+3000 ideographic space, ...) into one ASCII space.
fn collapse_whitespace(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Characters that must never reach a badge or the visitor list: control characters, and
/// invisible formatting characters that hide or reorder text (bidirectional embeddings,
/// overrides and isolates, zero-width space, word joiner, byte-order mark, interlinear
/// annotation marks, the replacement character).
fn is_forbidden_in_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{200B}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFD}'
        )
}

/// Normalises free text (company, visit purpose, host identifier): trims, collapses white
/// space, rejects control and invisible formatting characters, and limits the length in
/// characters. Any printable text is allowed, digits and symbols included (`3M`, `A&B Co.`).
pub fn normalize_text(raw: &str, max_chars: usize) -> Result<String, FieldErrorKind> {
    let text = collapse_whitespace(raw);
    if text.is_empty() {
        return Err(FieldErrorKind::Missing);
    }
    if text.chars().any(is_forbidden_in_text) {
        return Err(FieldErrorKind::InvalidCharacters);
    }
    if text.chars().count() > max_chars {
        return Err(FieldErrorKind::TooLong { max: max_chars });
    }
    Ok(text)
}

/// Enclosed and squared letters (Ⓐ, 🄰, ㊥, ...) count as alphabetic in Unicode but are
/// pictographs, not name letters.
fn is_enclosed_form(c: char) -> bool {
    matches!(
        c,
        '\u{2460}'..='\u{24FF}' | '\u{3200}'..='\u{33FF}' | '\u{1F100}'..='\u{1F2FF}'
    )
}

/// Combining marks of the scripts people write names in that Unicode does not already class
/// as alphabetic: generic diacritics (é written as e + U+0301), Cyrillic, Hebrew and Arabic
/// points, the vowel signs, viramas and nuktas of the Indic scripts, Thai and Lao tone marks,
/// kana voicing marks, and ideographic variation selectors (rare name characters). Emoji
/// variation selectors (U+FE00..U+FE0F) are deliberately not included.
fn is_name_mark(c: char) -> bool {
    match c {
        '\u{0300}'..='\u{036F}'
        | '\u{0483}'..='\u{0489}'
        | '\u{0591}'..='\u{05BD}'
        | '\u{05BF}'
        | '\u{05C1}'..='\u{05C2}'
        | '\u{05C4}'..='\u{05C5}'
        | '\u{05C7}'
        | '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06DC}'
        | '\u{06DF}'..='\u{06E4}'
        | '\u{06E7}'..='\u{06E8}'
        | '\u{06EA}'..='\u{06ED}'
        | '\u{0E31}'
        | '\u{0E34}'..='\u{0E3A}'
        | '\u{0E47}'..='\u{0E4E}'
        | '\u{0EB1}'
        | '\u{0EB4}'..='\u{0EBC}'
        | '\u{0EC8}'..='\u{0ECE}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{3099}'..='\u{309A}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{E0100}'..='\u{E01EF}' => true,
        // Devanagari to Sinhala: everything in these blocks except digits and the danda
        // punctuation is a letter or a mark.
        '\u{0900}'..='\u{0DFF}' => !c.is_numeric() && !matches!(c, '\u{0964}' | '\u{0965}'),
        _ => false,
    }
}

/// Punctuation that belongs in names: apostrophes (O'Brien, O’Brien), hyphens, period, comma,
/// and the middle dots of transliterated names (阿卜杜拉·买买提), in their common encodings.
fn is_name_punctuation(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}'
            | '-'
            | '\u{2010}'
            | '\u{2011}'
            | '.'
            | ','
            | '\u{00B7}'
            | '\u{30FB}'
            | '\u{FF65}'
    )
}

fn is_name_letter(c: char) -> bool {
    c.is_alphabetic() && !c.is_numeric() && !is_enclosed_form(c)
}

/// Normalises a visitor's name: trims, collapses every run of white space (U+3000 ideographic
/// space, tabs, no-break space, ...) into one ASCII space, and checks the characters.
///
/// Letters of any script are accepted (王军, 欧阳娜娜, 山田太郎, 김민준, Иван, محمد,
/// José Müller-Lüdenscheidt), with combining marks, apostrophes (`'` and `’`), hyphens,
/// periods, commas and the middle dots `·` (U+00B7) and `・` (U+30FB). Digits (ASCII, full-width
/// or any other), emoji, symbols such as `@ # $ % < > / \ { } [ ] = + * ^ ~ | ; "`, control
/// and invisible characters give [`FieldErrorKind::InvalidCharacters`], as does a name with no
/// letter at all. The length is counted in characters, not bytes, after normalisation; more
/// than `max_chars` gives [`FieldErrorKind::TooLong`]. An empty name gives
/// [`FieldErrorKind::Missing`].
pub fn normalize_name(raw: &str, max_chars: usize) -> Result<String, FieldErrorKind> {
    let name = collapse_whitespace(raw);
    if name.is_empty() {
        return Err(FieldErrorKind::Missing);
    }
    let allowed =
        |c: char| c == ' ' || is_name_letter(c) || is_name_mark(c) || is_name_punctuation(c);
    if !name.chars().all(allowed) || !name.chars().any(is_name_letter) {
        return Err(FieldErrorKind::InvalidCharacters);
    }
    if name.chars().count() > max_chars {
        return Err(FieldErrorKind::TooLong { max: max_chars });
    }
    Ok(name)
}

/// Whether `alpha2` is a region the phone-number rules know (e.g. `"CN"`, `"GB"`), so the
/// configuration can reject an unusable `default_country` up front.
pub fn is_supported_region(alpha2: &str) -> bool {
    region(alpha2).is_some()
}

fn region(alpha2: &str) -> Option<phonenumber::country::Id> {
    alpha2.trim().to_ascii_uppercase().parse().ok()
}

/// More digits than any real number has, national trunk prefix included; longer input is
/// refused before it reaches the parser.
const PHONE_MAX_DIGITS: usize = 17;

/// Normalises a phone number to E.164 (`+8613800138000`).
///
/// Full-width digits and plus (U+FF10..U+FF19, U+FF0B) are folded to ASCII; spaces, hyphens,
/// dots and parentheses (ASCII or full-width) are ignored; a `+` may only come before the
/// first digit. A leading `00` is taken as the international prefix, whatever the region.
/// A number without a country code is read as a number of `default_country` (ISO 3166
/// alpha-2, case-insensitive); if that region is unknown, such a number is refused. The
/// number must be valid for its region according to libphonenumber's metadata. Letters,
/// extensions and anything else give [`FieldErrorKind::InvalidPhone`]; empty input gives
/// [`FieldErrorKind::Missing`].
pub fn normalize_phone(raw: &str, default_country: &str) -> Result<String, FieldErrorKind> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldErrorKind::Missing);
    }
    let mut digits = String::with_capacity(trimmed.len());
    let mut plus = false;
    for c in trimmed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '\u{FF10}'..='\u{FF19}' => {
                let folded = char::from_u32(u32::from(c) - 0xFF10 + u32::from('0'))
                    .ok_or(FieldErrorKind::InvalidPhone)?;
                digits.push(folded);
            }
            '+' | '\u{FF0B}' if !plus && digits.is_empty() => plus = true,
            '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FF0D}' => {}
            '.' | '\u{FF0E}' | '(' | ')' | '\u{FF08}' | '\u{FF09}' => {}
            c if c.is_whitespace() => {}
            _ => return Err(FieldErrorKind::InvalidPhone),
        }
    }
    if !plus {
        if let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_owned();
            plus = true;
        }
    }
    if digits.len() < 3 || digits.len() > PHONE_MAX_DIGITS {
        return Err(FieldErrorKind::InvalidPhone);
    }
    let region = region(default_country);
    if !plus && region.is_none() {
        return Err(FieldErrorKind::InvalidPhone);
    }
    let text = if plus { format!("+{digits}") } else { digits };
    let number = phonenumber::parse(region, &text).map_err(|_| FieldErrorKind::InvalidPhone)?;
    if !phonenumber::is_valid(&number) {
        return Err(FieldErrorKind::InvalidPhone);
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Folds full-width ASCII forms (`＠`, `．`, `Ａ`, ...) and the ideographic full stop `。`,
/// which Chinese input methods easily produce, to ASCII.
fn fold_full_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3002}' => '.',
        _ => c,
    }
}

fn is_email_local_char(c: char) -> bool {
    c.is_ascii_graphic()
        && !matches!(
            c,
            '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']'
        )
}

fn is_valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let labels_ok = labels.iter().all(|label| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    labels_ok && tld_ok
}

/// Normalises an e-mail address: trims, folds full-width forms (`＠`, `。`) to ASCII, checks
/// the shape and lower-cases the result.
///
/// There must be exactly one `@`. The local part has 1 to 64 printable ASCII characters
/// without spaces or `"(),:;<>[\]`, and no leading, trailing or doubled dot. The domain has at
/// most 253 characters and at least two labels of 1 to 63 letters, digits or hyphens (not at
/// either end), the last label alphabetic and at least two long. The whole address has at most
/// 254 characters. Internationalised addresses (non-ASCII local parts, and IDN domains such as
/// `例子.中国` unless typed in their `xn--` form) are refused.
pub fn normalize_email(raw: &str) -> Result<String, FieldErrorKind> {
    let address: String = raw.trim().chars().map(fold_full_width).collect();
    if address.is_empty() {
        return Err(FieldErrorKind::Missing);
    }
    let invalid = FieldErrorKind::InvalidEmail;
    if address.chars().count() > EMAIL_MAX_CHARS {
        return Err(invalid);
    }
    let (local, domain) = address.split_once('@').ok_or(invalid)?;
    if domain.contains('@') {
        return Err(invalid);
    }
    let local_ok = (1..=64).contains(&local.chars().count())
        && local.chars().all(is_email_local_char)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok || !is_valid_domain(domain) {
        return Err(invalid);
    }
    Ok(address.to_ascii_lowercase())
}

/// What a returning visitor is recognised by, strongest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum IdentityKey {
    /// E.164 phone number.
    Phone(String),
    /// Lower-cased e-mail address.
    Email(String),
}

impl IdentityKey {
    /// The normalised phone number or e-mail address.
    pub fn value(&self) -> &str {
        match self {
            IdentityKey::Phone(v) | IdentityKey::Email(v) => v,
        }
    }
}

impl ValidWalkIn {
    /// The keys to look the visitor up by: the phone number first, then the e-mail address.
    /// Empty when the visitor gave neither.
    pub fn identity_keys(&self) -> Vec<IdentityKey> {
        let phone = non_empty(&self.phone_e164).map(|p| IdentityKey::Phone(p.to_owned()));
        let email = non_empty(&self.email).map(|e| IdentityKey::Email(e.to_owned()));
        phone.into_iter().chain(email).collect()
    }
}

/// The outcome of looking a walk-in visitor up by phone and by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recognition<Id> {
    /// No profile matches: create one.
    New,
    /// One profile matches: update it.
    Returning(Id),
    /// The phone and the e-mail belong to two different profiles. Use the phone profile and
    /// flag the visit for staff to reconcile.
    Ambiguous { by_phone: Id, by_email: Id },
}

impl<Id> Recognition<Id> {
    /// The profile to update, if any: the matching one, or the phone profile when ambiguous.
    pub fn profile(&self) -> Option<&Id> {
        match self {
            Recognition::New => None,
            Recognition::Returning(id) | Recognition::Ambiguous { by_phone: id, .. } => Some(id),
        }
    }

    /// Whether staff should look at this visitor's profiles.
    pub fn needs_staff_review(&self) -> bool {
        matches!(self, Recognition::Ambiguous { .. })
    }
}

/// Combines the profile found by phone and the one found by e-mail.
///
/// Neither -> [`Recognition::New`]; one of them, or both the same -> [`Recognition::Returning`];
/// two different profiles -> [`Recognition::Ambiguous`].
pub fn recognise<Id: PartialEq + Clone>(
    by_phone: Option<Id>,
    by_email: Option<Id>,
) -> Recognition<Id> {
    match (by_phone, by_email) {
        (None, None) => Recognition::New,
        (Some(id), None) | (None, Some(id)) => Recognition::Returning(id),
        (Some(by_phone), Some(by_email)) if by_phone == by_email => {
            Recognition::Returning(by_phone)
        }
        (Some(by_phone), Some(by_email)) => Recognition::Ambiguous { by_phone, by_email },
    }
}

/// The stored profile of a visitor, as far as the walk-in form touches it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileFields {
    pub name: String,
    pub phone_e164: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
}

impl From<&ValidWalkIn> for ProfileFields {
    /// The profile of a new visitor.
    fn from(walk_in: &ValidWalkIn) -> Self {
        merge_profile(&ProfileFields::default(), walk_in)
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// Updates a returning visitor's profile from a new walk-in: each value the visitor typed now
/// replaces the stored one, and stored values are kept where the new form left the field
/// empty (or did not ask for it). The result replaces the existing profile, so the visitor is
/// updated, never duplicated.
pub fn merge_profile(existing: &ProfileFields, new: &ValidWalkIn) -> ProfileFields {
    let pick = |new: &Option<String>, old: &Option<String>| {
        non_empty(new).or(non_empty(old)).map(str::to_owned)
    };
    ProfileFields {
        name: if new.name.is_empty() {
            existing.name.clone()
        } else {
            new.name.clone()
        },
        phone_e164: pick(&new.phone_e164, &existing.phone_e164),
        email: pick(&new.email, &existing.email),
        company: pick(&new.company, &existing.company),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> WalkInRules {
        WalkInRules {
            required: vec![Field::Name, Field::Phone, Field::Host],
            optional: vec![Field::Email, Field::Company, Field::Purpose],
            name_max_chars: 64,
            default_country: "CN".to_owned(),
        }
    }

    fn form() -> WalkInForm {
        WalkInForm {
            name: " 王军 ".to_owned(),
            phone: "138 0013 8000".to_owned(),
            email: "Wang.Jun@Example.COM".to_owned(),
            company: "  A&B   Co. ".to_owned(),
            host_id: "h-42".to_owned(),
            purpose: "Interview".to_owned(),
        }
    }

    fn err(field: Field, kind: FieldErrorKind) -> FieldError {
        FieldError { field, kind }
    }

    // ---- rules ----

    #[test]
    fn rules_ask_and_require_from_the_lists() {
        let r = rules();
        assert!(r.asks(Field::Phone) && r.requires(Field::Phone));
        assert!(r.asks(Field::Email) && !r.requires(Field::Email));
        let r = WalkInRules {
            required: vec![Field::Phone],
            optional: vec![Field::Phone],
            ..rules()
        };
        assert!(
            r.requires(Field::Phone),
            "listed in both lists means required"
        );
        assert!(!r.asks(Field::Email) && !r.requires(Field::Email));
        assert!(!r.asks(Field::Host));
    }

    #[test]
    fn the_name_is_always_asked_and_required() {
        let r = WalkInRules {
            required: vec![],
            optional: vec![],
            ..rules()
        };
        assert!(r.asks(Field::Name) && r.requires(Field::Name));
        let got = validate(&WalkInForm::default(), &r).unwrap_err();
        assert_eq!(got, vec![err(Field::Name, FieldErrorKind::Missing)]);
    }

    // ---- validate ----

    #[test]
    fn a_good_form_is_normalised() {
        let v = validate(&form(), &rules()).unwrap();
        assert_eq!(
            v,
            ValidWalkIn {
                name: "王军".to_owned(),
                phone_e164: Some("+8613800138000".to_owned()),
                email: Some("wang.jun@example.com".to_owned()),
                company: Some("A&B Co.".to_owned()),
                host_id: Some("h-42".to_owned()),
                purpose: Some("Interview".to_owned()),
            }
        );
    }

    #[test]
    fn all_errors_are_reported_at_once_in_field_order() {
        let r = WalkInRules {
            required: vec![
                Field::Name,
                Field::Phone,
                Field::Email,
                Field::Company,
                Field::Host,
            ],
            optional: vec![Field::Purpose],
            ..rules()
        };
        let f = WalkInForm {
            name: "R2D2".to_owned(),
            phone: "12".to_owned(),
            email: "not-an-address".to_owned(),
            company: "   ".to_owned(),
            host_id: String::new(),
            purpose: "x".repeat(201),
        };
        assert_eq!(
            validate(&f, &r).unwrap_err(),
            vec![
                err(Field::Name, FieldErrorKind::InvalidCharacters),
                err(Field::Phone, FieldErrorKind::InvalidPhone),
                err(Field::Email, FieldErrorKind::InvalidEmail),
                err(Field::Company, FieldErrorKind::Missing),
                err(Field::Host, FieldErrorKind::Missing),
                err(Field::Purpose, FieldErrorKind::TooLong { max: 200 }),
            ]
        );
    }

    #[test]
    fn optional_fields_left_empty_are_none() {
        let f = WalkInForm {
            email: String::new(),
            company: " \u{3000} ".to_owned(),
            purpose: "\t".to_owned(),
            ..form()
        };
        let v = validate(&f, &rules()).unwrap();
        assert_eq!((v.email, v.company, v.purpose), (None, None, None));
    }

    #[test]
    fn optional_fields_with_bad_values_are_still_errors() {
        let f = WalkInForm {
            email: "a@b".to_owned(),
            ..form()
        };
        assert_eq!(
            validate(&f, &rules()).unwrap_err(),
            vec![err(Field::Email, FieldErrorKind::InvalidEmail)]
        );
    }

    #[test]
    fn fields_not_asked_are_ignored_even_with_text() {
        let r = WalkInRules {
            required: vec![Field::Name],
            optional: vec![],
            ..rules()
        };
        let f = WalkInForm {
            name: "Ann Lee".to_owned(),
            phone: "abc".to_owned(),
            email: "junk".to_owned(),
            company: "Acme".to_owned(),
            host_id: "h-1".to_owned(),
            purpose: "\u{0007}".to_owned(),
        };
        let v = validate(&f, &r).unwrap();
        assert_eq!(
            v,
            ValidWalkIn {
                name: "Ann Lee".to_owned(),
                phone_e164: None,
                email: None,
                company: None,
                host_id: None,
                purpose: None,
            }
        );
    }

    #[test]
    fn the_phone_uses_the_configured_default_country() {
        let r = WalkInRules {
            default_country: "gb".to_owned(),
            ..rules()
        };
        let f = WalkInForm {
            phone: "020 7946 0018".to_owned(),
            ..form()
        };
        assert_eq!(
            validate(&f, &r).unwrap().phone_e164.as_deref(),
            Some("+442079460018")
        );
    }

    // ---- errors ----

    #[test]
    fn error_kinds_have_codes_and_english_messages() {
        let cases = [
            (FieldErrorKind::Missing, "missing", "this field is required"),
            (
                FieldErrorKind::TooLong { max: 64 },
                "too_long",
                "must be at most 64 characters",
            ),
            (
                FieldErrorKind::InvalidCharacters,
                "invalid_characters",
                "contains characters that are not allowed",
            ),
            (
                FieldErrorKind::InvalidPhone,
                "invalid_phone",
                "is not a valid phone number",
            ),
            (
                FieldErrorKind::InvalidEmail,
                "invalid_email",
                "is not a valid e-mail address",
            ),
        ];
        for (kind, code, message) in cases {
            assert_eq!(kind.code(), code);
            assert_eq!(kind.to_string(), message);
        }
        assert_eq!(
            err(Field::Phone, FieldErrorKind::InvalidPhone).to_string(),
            "phone: is not a valid phone number"
        );
    }

    #[test]
    fn field_errors_serialise_with_the_same_codes() {
        let json =
            serde_json::to_value(err(Field::Name, FieldErrorKind::TooLong { max: 64 })).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"field": "name", "kind": {"code": "too_long", "max": 64}})
        );
        let json = serde_json::to_value(err(Field::Email, FieldErrorKind::InvalidEmail)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"field": "email", "kind": {"code": "invalid_email"}})
        );
        let back: FieldError = serde_json::from_value(json).unwrap();
        assert_eq!(back, err(Field::Email, FieldErrorKind::InvalidEmail));
    }

    // ---- names ----

    #[test]
    fn names_in_any_script_are_accepted() {
        for name in [
            "王军",
            "欧阳娜娜",
            "阿卜杜拉·买买提",
            "阿卜杜拉・买买提",
            "山田太郎",
            "やまだ たろう",
            "ヤマダ・タロー",
            "佐々木",
            "김민준",
            "Иван Петров",
            "محمد علي",
            "דוד כהן",
            "प्रिया शर्मा",
            "สมศักดิ์",
            "José Müller-Lüdenscheidt",
            "O'Brien",
            "O’Brien",
            "J. R. R. Tolkien",
            "Smith, John",
            "Nguyễn Văn A",
            "Zoe\u{0308} Saldan\u{0303}a",
            "Wang 王军",
        ] {
            assert_eq!(normalize_name(name, 64).as_deref(), Ok(name), "{name}");
        }
    }

    #[test]
    fn name_whitespace_is_trimmed_and_collapsed() {
        assert_eq!(
            normalize_name("\u{3000}王\u{3000}\u{3000}军\u{3000}", 64).as_deref(),
            Ok("王 军")
        );
        assert_eq!(
            normalize_name("  José\t\u{00A0} Müller \n", 64).as_deref(),
            Ok("José Müller")
        );
        assert_eq!(
            normalize_name(" \u{3000}\t", 64),
            Err(FieldErrorKind::Missing)
        );
        assert_eq!(normalize_name("", 64), Err(FieldErrorKind::Missing));
    }

    #[test]
    fn name_length_is_counted_in_chars_after_normalisation() {
        let ok = "王".repeat(64);
        assert_eq!(ok.len(), 192);
        assert_eq!(normalize_name(&ok, 64).as_deref(), Ok(ok.as_str()));
        assert_eq!(
            normalize_name(&"王".repeat(65), 64),
            Err(FieldErrorKind::TooLong { max: 64 })
        );
        // Collapsed white space does not count against the limit.
        let spaced = format!(
            "{}\u{3000}\u{3000}\u{3000}{}",
            "王".repeat(31),
            "军".repeat(32)
        );
        assert_eq!(
            normalize_name(&spaced, 64).map(|n| n.chars().count()),
            Ok(64)
        );
    }

    #[test]
    fn names_with_digits_emoji_or_symbols_are_rejected() {
        for name in [
            "R2D2",
            "王军1",
            "王军１",
            "Louis XIV Ⅳ",
            "王军😀",
            "👍",
            "Ann 👩\u{200D}💻",
            "Ann\u{FE0F}",
            "Ⓐnn",
            "a\u{200B}b",
            "Ann\u{202E}Lee",
            "Ann\u{0007}",
            "...",
            "-",
            "·",
        ] {
            assert_eq!(
                normalize_name(name, 64),
                Err(FieldErrorKind::InvalidCharacters),
                "{name:?}"
            );
        }
        for symbol in "@#$%<>/\\{}[]=+*^~|;\"&!?_`:()".chars() {
            let name = format!("Ann{symbol}Lee");
            assert_eq!(
                normalize_name(&name, 64),
                Err(FieldErrorKind::InvalidCharacters),
                "{name}"
            );
        }
    }

    // ---- company, purpose, host ----

    #[test]
    fn free_text_allows_digits_and_symbols() {
        assert_eq!(normalize_text("3M", 100).as_deref(), Ok("3M"));
        assert_eq!(
            normalize_text("  A&B \u{3000} Co.  ", 100).as_deref(),
            Ok("A&B Co.")
        );
        assert_eq!(
            normalize_text("华为技术有限公司 (深圳) #2", 100).as_deref(),
            Ok("华为技术有限公司 (深圳) #2")
        );
        assert_eq!(
            normalize_text("Meeting\nwith\tHR", 200).as_deref(),
            Ok("Meeting with HR")
        );
    }

    #[test]
    fn free_text_rejects_control_and_invisible_characters() {
        for text in [
            "Acme\u{0000}",
            "Acme\u{001B}[31m",
            "Ac\u{202E}me",
            "Ac\u{200B}me",
            "\u{FEFF}Acme",
        ] {
            assert_eq!(
                normalize_text(text, 100),
                Err(FieldErrorKind::InvalidCharacters),
                "{text:?}"
            );
        }
        assert_eq!(normalize_text("  ", 100), Err(FieldErrorKind::Missing));
    }

    #[test]
    fn company_and_purpose_limits() {
        let mut f = WalkInForm {
            company: "公".repeat(100),
            purpose: "p".repeat(200),
            ..form()
        };
        assert!(validate(&f, &rules()).is_ok());
        f.company.push('司');
        f.purpose.push('p');
        assert_eq!(
            validate(&f, &rules()).unwrap_err(),
            vec![
                err(
                    Field::Company,
                    FieldErrorKind::TooLong {
                        max: COMPANY_MAX_CHARS
                    }
                ),
                err(
                    Field::Purpose,
                    FieldErrorKind::TooLong {
                        max: PURPOSE_MAX_CHARS
                    }
                ),
            ]
        );
    }

    // ---- phone ----

    #[test]
    fn chinese_mobiles_in_every_common_spelling() {
        for raw in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+86 138-0013-8000",
            "+86 (138) 0013.8000",
            "008613800138000",
            "0086 138 0013 8000",
            "１３８００１３８０００",
            "＋８６　１３８　００１３　８０００",
            "  138\u{3000}0013\u{00A0}8000  ",
        ] {
            assert_eq!(
                normalize_phone(raw, "CN").as_deref(),
                Ok("+8613800138000"),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn beijing_landline() {
        assert_eq!(
            normalize_phone("010 1234 5678", "CN").as_deref(),
            Ok("+861012345678")
        );
        assert_eq!(
            normalize_phone("(010) 1234-5678", "cn").as_deref(),
            Ok("+861012345678")
        );
    }

    #[test]
    fn foreign_numbers_need_their_country_code_or_the_right_default() {
        assert_eq!(
            normalize_phone("+1 (650) 253-0000", "CN").as_deref(),
            Ok("+16502530000")
        );
        assert_eq!(
            normalize_phone("001 650 253 0000", "CN").as_deref(),
            Ok("+16502530000")
        );
        assert_eq!(
            normalize_phone("020 7946 0018", "GB").as_deref(),
            Ok("+442079460018")
        );
        assert_eq!(
            normalize_phone("07400 123456", "GB").as_deref(),
            Ok("+447400123456")
        );
        assert_eq!(
            normalize_phone("+44 20 7946 0018", "CN").as_deref(),
            Ok("+442079460018")
        );
        assert_eq!(
            normalize_phone("0044 20 7946 0018", "US").as_deref(),
            Ok("+442079460018")
        );
    }

    #[test]
    fn junk_phone_numbers_are_rejected() {
        for raw in [
            "12",
            "abc",
            "+999 1",
            "+999 1234 5678",
            "138 0013 800",
            "138001380001234567890",
            "1380013800O",
            "138 0013 8000 ext 12",
            "+86+13800138000",
            "138+00138000",
            "+",
            "--",
            "138/0013/8000",
            "1-800-FLOWERS",
        ] {
            assert_eq!(
                normalize_phone(raw, "CN"),
                Err(FieldErrorKind::InvalidPhone),
                "{raw:?}"
            );
        }
        assert_eq!(normalize_phone("  ", "CN"), Err(FieldErrorKind::Missing));
    }

    #[test]
    fn an_unknown_default_country_only_accepts_international_numbers() {
        assert!(!is_supported_region("XX"));
        assert!(is_supported_region("cn") && is_supported_region("GB"));
        assert_eq!(
            normalize_phone("13800138000", "XX"),
            Err(FieldErrorKind::InvalidPhone)
        );
        assert_eq!(
            normalize_phone("+86 138 0013 8000", "").as_deref(),
            Ok("+8613800138000")
        );
    }

    // ---- e-mail ----

    #[test]
    fn good_addresses_are_lowercased() {
        for (raw, want) in [
            ("Wang.Jun@Example.COM", "wang.jun@example.com"),
            ("  a+tag@sub.example.co.uk ", "a+tag@sub.example.co.uk"),
            ("o'brien@x-y.org", "o'brien@x-y.org"),
            ("wang＠example。com", "wang@example.com"),
            ("user@xn--fsqu00a.com", "user@xn--fsqu00a.com"),
            ("a@b.cn", "a@b.cn"),
        ] {
            assert_eq!(normalize_email(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        let long_domain = format!("a@{}.com", vec!["b".repeat(63); 4].join("."));
        let long_total = format!(
            "{}@{}.com",
            "a".repeat(64),
            vec!["b".repeat(62); 3].join(".")
        );
        for raw in [
            "no-at-sign",
            "a@@example.com",
            "a@b@example.com",
            "@example.com",
            "a@",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
            "a b@example.com",
            "\"a\"@example.com",
            "a(b)@example.com",
            "a,b@example.com",
            "a:b@example.com",
            "a;b@example.com",
            "<a>@example.com",
            "a[b]@example.com",
            "a\\b@example.com",
            "a@example",
            "a@.example.com",
            "a@example..com",
            "a@example.com.",
            "a@-example.com",
            "a@example-.com",
            "a@exa_mple.com",
            "a@example.c",
            "a@example.c0m",
            "a@[127.0.0.1]",
            "a@例子.中国",
            "a@xn--fsqu00a.xn--fiqs8s",
            "王军@example.com",
            long_local.as_str(),
            long_label.as_str(),
            long_domain.as_str(),
            long_total.as_str(),
        ] {
            assert_eq!(
                normalize_email(raw),
                Err(FieldErrorKind::InvalidEmail),
                "{raw}"
            );
        }
        assert_eq!(normalize_email(" "), Err(FieldErrorKind::Missing));
    }

    #[test]
    fn address_length_boundaries() {
        let local = format!("{}@example.com", "a".repeat(64));
        assert!(normalize_email(&local).is_ok());
        let label = format!("a@{}.com", "b".repeat(63));
        assert!(normalize_email(&label).is_ok());
        // 64 + 1 + 189 = 254 characters in all.
        let total = format!(
            "{}@{}.{}.{}.com",
            "a".repeat(64),
            "b".repeat(61),
            "c".repeat(61),
            "d".repeat(61)
        );
        assert_eq!(total.len(), 254);
        assert!(normalize_email(&total).is_ok());
        let over = format!(
            "{}@{}.{}.{}.com",
            "a".repeat(64),
            "b".repeat(62),
            "c".repeat(61),
            "d".repeat(61)
        );
        assert_eq!(normalize_email(&over), Err(FieldErrorKind::InvalidEmail));
    }

    // ---- recognition ----

    fn walk_in(phone: Option<&str>, email: Option<&str>) -> ValidWalkIn {
        ValidWalkIn {
            name: "王军".to_owned(),
            phone_e164: phone.map(str::to_owned),
            email: email.map(str::to_owned),
            company: None,
            host_id: None,
            purpose: None,
        }
    }

    #[test]
    fn identity_keys_put_the_phone_first() {
        let both = walk_in(Some("+8613800138000"), Some("a@b.cn"));
        assert_eq!(
            both.identity_keys(),
            vec![
                IdentityKey::Phone("+8613800138000".to_owned()),
                IdentityKey::Email("a@b.cn".to_owned())
            ]
        );
        assert_eq!(
            walk_in(None, Some("a@b.cn")).identity_keys(),
            vec![IdentityKey::Email("a@b.cn".to_owned())]
        );
        assert_eq!(
            walk_in(Some("+8613800138000"), None).identity_keys(),
            vec![IdentityKey::Phone("+8613800138000".to_owned())]
        );
        assert!(walk_in(None, None).identity_keys().is_empty());
        assert!(walk_in(Some(""), Some("")).identity_keys().is_empty());
        assert_eq!(both.identity_keys()[1].value(), "a@b.cn");
    }

    #[test]
    fn identity_keys_come_from_the_normalised_form() {
        let f = WalkInForm {
            phone: "+86 138-0013-8000".to_owned(),
            email: "A@B.CN".to_owned(),
            ..form()
        };
        let keys = validate(&f, &rules()).unwrap().identity_keys();
        let other = WalkInForm {
            phone: "１３８００１３８０００".to_owned(),
            email: " a@b.cn ".to_owned(),
            ..form()
        };
        assert_eq!(keys, validate(&other, &rules()).unwrap().identity_keys());
    }

    #[test]
    fn recognise_a_new_visitor() {
        let r = recognise::<u32>(None, None);
        assert_eq!(r, Recognition::New);
        assert_eq!(r.profile(), None);
        assert!(!r.needs_staff_review());
    }

    #[test]
    fn recognise_by_phone_or_email_alone() {
        assert_eq!(recognise(Some(7), None), Recognition::Returning(7));
        assert_eq!(recognise(None, Some(9)), Recognition::Returning(9));
        assert_eq!(recognise(None, Some(9)).profile(), Some(&9));
    }

    #[test]
    fn recognise_when_both_agree() {
        let r = recognise(Some("p-1"), Some("p-1"));
        assert_eq!(r, Recognition::Returning("p-1"));
        assert!(!r.needs_staff_review());
    }

    #[test]
    fn recognise_two_different_profiles_as_ambiguous() {
        let r = recognise(Some(1), Some(2));
        assert_eq!(
            r,
            Recognition::Ambiguous {
                by_phone: 1,
                by_email: 2
            }
        );
        assert_eq!(r.profile(), Some(&1), "the phone profile is used");
        assert!(r.needs_staff_review());
    }

    #[test]
    fn merge_profile_overwrites_with_new_values_and_keeps_the_rest() {
        let existing = ProfileFields {
            name: "Wang Jun".to_owned(),
            phone_e164: Some("+8613800138000".to_owned()),
            email: Some("old@example.com".to_owned()),
            company: Some("Old Co.".to_owned()),
        };
        let new = ValidWalkIn {
            company: Some("New Co.".to_owned()),
            ..walk_in(None, Some("new@example.com"))
        };
        assert_eq!(
            merge_profile(&existing, &new),
            ProfileFields {
                name: "王军".to_owned(),
                phone_e164: Some("+8613800138000".to_owned()),
                email: Some("new@example.com".to_owned()),
                company: Some("New Co.".to_owned()),
            }
        );
        let nothing_new = ValidWalkIn {
            name: String::new(),
            ..walk_in(None, None)
        };
        assert_eq!(merge_profile(&existing, &nothing_new), existing);
        let blank = ValidWalkIn {
            email: Some(String::new()),
            ..walk_in(None, None)
        };
        assert_eq!(merge_profile(&existing, &blank).email, existing.email);
    }

    #[test]
    fn merge_profile_fills_gaps_in_the_existing_profile() {
        let existing = ProfileFields {
            name: "王军".to_owned(),
            ..ProfileFields::default()
        };
        let new = walk_in(Some("+8613800138000"), None);
        let merged = merge_profile(&existing, &new);
        assert_eq!(merged.phone_e164.as_deref(), Some("+8613800138000"));
        assert_eq!(merged.email, None);
        assert_eq!(ProfileFields::from(&new), merged);
    }
}
