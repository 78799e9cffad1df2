//! The kiosk's use cases, between the inputs (camera, scanner, touchscreen, command line) and
//! the store: one scanned text in, one outcome out. Devices and screens call this; it never
//! calls them.

use std::path::{Path, PathBuf};

use chrono::Duration;
use ed25519_dalek::VerifyingKey;

use crate::config::Config;
use crate::domain::checkout::AutoCheckoutPolicy;
use crate::domain::invite::{classify, decode, verify, Rejection, Scanned};
use crate::domain::visit::{VisitEvent, VisitState};
use crate::domain::walkin::{validate, FieldError, WalkInForm, WalkInRules};
use crate::domain::Timestamp;
use crate::keys;
use crate::store::{CheckInOutcome, Presented, Store, StoreError, VisitRecord, WalkInOutcome};

/// How long after an invite's window closes it is recorded as a no-show.
pub const NO_SHOW_GRACE: Duration = Duration::hours(1);

/// What one scanned (or typed) code led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    /// An invite was presented: checked in, shown again, or refused by the store.
    Invite(CheckInOutcome),
    /// A badge slip's check-out code: the visit is now checked out.
    CheckedOut(VisitRecord),
    /// A badge slip of a visit that is not on site any more.
    NotOnSite(VisitRecord),
    /// Refused before reaching any visit (unreadable, forged, other site, not ours, ...).
    Rejected(Rejection),
}

impl ScanOutcome {
    /// The reason code when the scan was refused.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            ScanOutcome::Rejected(r) | ScanOutcome::Invite(CheckInOutcome::Rejected(r)) => Some(r),
            _ => None,
        }
    }
}

/// The result of a walk-in registration attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkInResult {
    Registered(Box<WalkInOutcome>),
    /// The form has problems; each is shown next to its field. Nothing was stored.
    Invalid(Vec<FieldError>),
}

/// A kiosk: its configuration, its store and the keys it trusts.
pub struct Kiosk {
    pub config: Config,
    pub store: Store,
    data_dir: PathBuf,
    keys: Vec<VerifyingKey>,
}

impl Kiosk {
    /// Opens the kiosk's store in `data_dir` and loads the keys it trusts.
    pub fn open(config: Config, data_dir: &Path) -> Result<Kiosk, StoreError> {
        let store = Store::open_in(data_dir)?;
        let keys = keys::trusted_keys(&config, &store, data_dir);
        Ok(Kiosk {
            config,
            store,
            data_dir: data_dir.to_path_buf(),
            keys,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Reloads the trusted keys (after enrollment, or after a key was created).
    pub fn reload_keys(&mut self) {
        self.keys = keys::trusted_keys(&self.config, &self.store, &self.data_dir);
    }

    pub fn clock_skew(&self) -> Duration {
        Duration::seconds(i64::from(self.config.invites.clock_skew_seconds))
    }

    /// The automatic check-out rules from `kiosk.toml`.
    pub fn auto_checkout_policy(&self) -> AutoCheckoutPolicy {
        policy(&self.config)
    }

    /// The walk-in form rules from `kiosk.toml`.
    pub fn walk_in_rules(&self) -> WalkInRules {
        WalkInRules {
            required: self.config.walkin.required.clone(),
            optional: self.config.walkin.optional.clone(),
            name_max_chars: self.config.walkin.name_max_chars as usize,
            default_country: self.config.site.country.clone(),
        }
    }

    /// Handles one scanned or typed code at moment `at`.
    pub fn scan(&mut self, text: &str, at: Timestamp) -> Result<ScanOutcome, StoreError> {
        let site = self.config.site.id.clone();
        let skew = self.clock_skew();
        let outcome = match classify(text) {
            Scanned::Invite(token) => match verify(&token, &self.keys, &site, at, skew) {
                Ok(claims) => ScanOutcome::Invite(self.store.present_invite(
                    Presented::Token(&claims),
                    &site,
                    skew,
                    at,
                )?),
                // Signature and site are good but the token's own window says no: a meeting
                // moved after the invitation went out is judged by the invite as stored.
                Err(r @ (Rejection::NotYetValid { .. } | Rejection::Expired { .. })) => {
                    match decode(&token) {
                        Ok((claims, _, _)) if self.store.invite(claims.invite_id)?.is_some() => {
                            ScanOutcome::Invite(self.store.present_invite(
                                Presented::Token(&claims),
                                &site,
                                skew,
                                at,
                            )?)
                        }
                        _ => ScanOutcome::Rejected(r),
                    }
                }
                Err(r) => ScanOutcome::Rejected(r),
            },
            Scanned::ShortCode(code) => ScanOutcome::Invite(self.store.present_invite(
                Presented::ShortCode(&code),
                &site,
                skew,
                at,
            )?),
            Scanned::Checkout(code) => match self.store.visit_by_checkout_code(&code)? {
                Some(v) if v.state == VisitState::CheckedIn => {
                    match self
                        .store
                        .record(v.id, VisitEvent::CheckedOut { automatic: false }, at)
                    {
                        Ok(out) => ScanOutcome::CheckedOut(out),
                        // Closed meanwhile (staff, the automatic rule): not on site any more.
                        Err(StoreError::Illegal(_)) => match self.store.visit(v.id)? {
                            Some(now) => ScanOutcome::NotOnSite(now),
                            None => ScanOutcome::Rejected(Rejection::UnknownShortCode),
                        },
                        Err(e) => return Err(e),
                    }
                }
                Some(v) => ScanOutcome::NotOnSite(v),
                None => ScanOutcome::Rejected(Rejection::UnknownShortCode),
            },
            Scanned::Foreign => ScanOutcome::Rejected(Rejection::NotAnInvitation),
        };
        match &outcome {
            ScanOutcome::Rejected(r) | ScanOutcome::Invite(CheckInOutcome::Rejected(r)) => {
                tracing::info!(reason = r.code(), "scan refused")
            }
            ScanOutcome::Invite(CheckInOutcome::CheckedIn(v)) => {
                tracing::info!(visit = v.number, "checked in by invite")
            }
            ScanOutcome::CheckedOut(v) => tracing::info!(visit = v.number, "checked out"),
            _ => tracing::debug!(?outcome, "scan handled"),
        }
        Ok(outcome)
    }

    /// Validates a walk-in form and, if it is complete, registers and checks the visitor in.
    pub fn register_walk_in(
        &mut self,
        form: &WalkInForm,
        at: Timestamp,
    ) -> Result<WalkInResult, StoreError> {
        match validate(form, &self.walk_in_rules()) {
            Ok(valid) => {
                let outcome = self.store.register_walk_in(&valid, at)?;
                tracing::info!(
                    visit = outcome.visit.number,
                    returning = outcome.returning,
                    "walk-in registered"
                );
                Ok(WalkInResult::Registered(Box::new(outcome)))
            }
            Err(errors) => Ok(WalkInResult::Invalid(errors)),
        }
    }

    /// Periodic upkeep: automatic check-outs and no-shows. Returns how many of each.
    pub fn housekeeping(&mut self, now: Timestamp) -> Result<(usize, usize), StoreError> {
        let policy = self.auto_checkout_policy();
        let closed = self.store.run_auto_checkout(&policy, now)?;
        let missed = self.store.mark_no_shows(NO_SHOW_GRACE, now)?;
        if !closed.is_empty() || !missed.is_empty() {
            tracing::info!(
                auto_checked_out = closed.len(),
                no_shows = missed.len(),
                "housekeeping"
            );
        }
        Ok((closed.len(), missed.len()))
    }
}

/// The automatic check-out rules of a configuration.
pub fn policy(config: &Config) -> AutoCheckoutPolicy {
    let minutes = config.checkout.auto_after_expected_end_minutes;
    AutoCheckoutPolicy {
        at_local: config.auto_checkout_time(),
        after_expected_end: (minutes > 0).then(|| Duration::minutes(i64::from(minutes))),
        tz: config.timezone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::invite::{
        encode_public_key, mint, signing_key_from_seed, InviteClaims, SiteTag,
    };
    use crate::store::{InviteRecord, InviteSource};

    fn utc(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_meeting_moved_later_admits_the_old_token_by_the_stored_invite() {
        let dir = tempfile::tempdir().unwrap();
        let key = signing_key_from_seed([3; 32]);
        let mut config = Config::embedded().unwrap();
        config.invites.trusted_keys = vec![encode_public_key(&key.verifying_key())];
        let mut kiosk = Kiosk::open(config, dir.path()).unwrap();
        let claims = InviteClaims {
            invite_id: uuid::Uuid::now_v7(),
            site: SiteTag::of("hq"),
            valid_from: utc("2026-11-24T08:00:00Z"),
            valid_until: utc("2026-11-24T18:00:00Z"),
        };
        let token = mint(&claims, &key).unwrap();
        let at = utc("2026-11-25T09:00:00Z");
        // Unknown to the kiosk: the token's own (past) window decides.
        assert!(matches!(
            kiosk.scan(&token, at).unwrap(),
            ScanOutcome::Rejected(Rejection::Expired { .. })
        ));
        // The hub moved the meeting to today: the stored invite decides.
        let record = InviteRecord {
            visitor_name: Some("Moved Meeting".into()),
            valid_from: utc("2026-11-25T08:00:00Z"),
            valid_until: utc("2026-11-25T18:00:00Z"),
            ..InviteRecord::from_claims(&claims, "hq", InviteSource::Hub)
        };
        kiosk.store.upsert_invite(&record, at).unwrap();
        assert!(matches!(
            kiosk.scan(&token, at).unwrap(),
            ScanOutcome::Invite(CheckInOutcome::CheckedIn(_))
        ));
    }
}
