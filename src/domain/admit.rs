//! What happens when a visitor presents an invite: check in, show the visit again, or refuse
//! with a reason. The signature and site were already checked by [`super::invite::verify`]
//! (or the invite was found by its short code); this decides from the invite as the kiosk
//! knows it now, which may be newer than the token the visitor carries (a meeting that was
//! moved or cancelled after the invitation went out).

use chrono::Duration;

use super::invite::Rejection;
use super::visit::VisitState;
use super::Timestamp;

/// The hub's word on an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteStatus {
    Active,
    Cancelled,
}

impl InviteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteStatus::Active => "active",
            InviteStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<InviteStatus> {
        match s {
            "active" => Some(InviteStatus::Active),
            "cancelled" => Some(InviteStatus::Cancelled),
            _ => None,
        }
    }
}

/// The decision for one presentation of an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Check the visitor in now.
    CheckIn,
    /// The visitor is already checked in: show that visit again, make no new one.
    AlreadyCheckedIn,
    /// The visit is over (checked out or recorded as a no-show).
    AlreadyClosed(VisitState),
    /// Refused, with the reason to show.
    Rejected(Rejection),
}

/// Is `now` inside the validity window, allowing `skew` of clock difference either way?
/// Both ends are inclusive; a negative skew counts as its absolute value, and a skew so large
/// that the sum overflows never rejects.
pub fn check_window(
    valid_from: Timestamp,
    valid_until: Timestamp,
    now: Timestamp,
    skew: Duration,
) -> Result<(), Rejection> {
    let skew = skew.abs();
    if now
        .checked_add_signed(skew)
        .is_some_and(|late| late < valid_from)
    {
        return Err(Rejection::NotYetValid { valid_from });
    }
    if now
        .checked_sub_signed(skew)
        .is_some_and(|early| early > valid_until)
    {
        return Err(Rejection::Expired { valid_until });
    }
    Ok(())
}

/// Decides a presentation from the invite's status and window and its visit's state.
pub fn admit(status: InviteStatus, visit: VisitState, window: Result<(), Rejection>) -> Admission {
    match visit {
        // Already here: whatever changed since, the visitor is on site and sees their visit.
        VisitState::CheckedIn => Admission::AlreadyCheckedIn,
        VisitState::CheckedOut | VisitState::NoShow => Admission::AlreadyClosed(visit),
        VisitState::Cancelled => Admission::Rejected(Rejection::Cancelled),
        VisitState::Invited => match (status, window) {
            (InviteStatus::Cancelled, _) => Admission::Rejected(Rejection::Cancelled),
            (InviteStatus::Active, Err(r)) => Admission::Rejected(r),
            (InviteStatus::Active, Ok(())) => Admission::CheckIn,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn window_with_skew_on_both_edges() {
        let from = utc("2026-11-25T09:00:00Z");
        let until = utc("2026-11-25T18:00:00Z");
        let skew = Duration::minutes(5);
        assert!(check_window(from, until, utc("2026-11-25T08:55:00Z"), skew).is_ok());
        assert_eq!(
            check_window(from, until, utc("2026-11-25T08:54:59Z"), skew),
            Err(Rejection::NotYetValid { valid_from: from })
        );
        assert!(check_window(from, until, utc("2026-11-25T18:05:00Z"), skew).is_ok());
        assert_eq!(
            check_window(from, until, utc("2026-11-25T18:05:01Z"), skew),
            Err(Rejection::Expired { valid_until: until })
        );
    }

    #[test]
    fn active_invite_in_its_window_checks_in() {
        assert_eq!(
            admit(InviteStatus::Active, VisitState::Invited, Ok(())),
            Admission::CheckIn
        );
    }

    #[test]
    fn second_scan_shows_the_visit_again_even_if_cancelled_meanwhile() {
        for status in [InviteStatus::Active, InviteStatus::Cancelled] {
            assert_eq!(
                admit(status, VisitState::CheckedIn, Ok(())),
                Admission::AlreadyCheckedIn
            );
        }
    }

    #[test]
    fn cancelled_invite_is_refused_before_the_window_is_considered() {
        let expired = Err(Rejection::Expired {
            valid_until: utc("2026-11-25T18:00:00Z"),
        });
        assert_eq!(
            admit(InviteStatus::Cancelled, VisitState::Invited, expired),
            Admission::Rejected(Rejection::Cancelled)
        );
        assert_eq!(
            admit(InviteStatus::Active, VisitState::Cancelled, Ok(())),
            Admission::Rejected(Rejection::Cancelled)
        );
    }

    #[test]
    fn moved_meeting_reports_the_new_window() {
        let moved = utc("2026-11-26T09:00:00Z");
        assert_eq!(
            admit(
                InviteStatus::Active,
                VisitState::Invited,
                Err(Rejection::NotYetValid { valid_from: moved })
            ),
            Admission::Rejected(Rejection::NotYetValid { valid_from: moved })
        );
    }

    #[test]
    fn closed_visits_are_not_reopened() {
        for s in [VisitState::CheckedOut, VisitState::NoShow] {
            assert_eq!(
                admit(InviteStatus::Active, s, Ok(())),
                Admission::AlreadyClosed(s)
            );
        }
    }
}
