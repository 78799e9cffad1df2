//! The visit lifecycle as a pure state machine.
//!
//! ```text
//!   invite:   Invited ──check in──▶ CheckedIn ──check out (by hand or automatic)──▶ CheckedOut
//!                │  └──cancel──▶ Cancelled                                           │
//!                └──no-show──▶ NoShow                                      rate once ─┘
//!   walk-in:  (registration) ──check in──▶ CheckedIn ──▶ …
//! ```
//!
//! While a visitor is checked in, the badge may be printed (and reprinted) and the host
//! notified and confirmed; those events do not change the state but are part of the visit's
//! history. Everything else is an [`IllegalTransition`].

use serde::{Deserialize, Serialize};

/// Where a visit is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitState {
    Invited,
    CheckedIn,
    CheckedOut,
    NoShow,
    Cancelled,
}

impl VisitState {
    pub const ALL: [VisitState; 5] = [
        VisitState::Invited,
        VisitState::CheckedIn,
        VisitState::CheckedOut,
        VisitState::NoShow,
        VisitState::Cancelled,
    ];

    /// The stable name stored in the database and sent to the hub.
    pub fn as_str(self) -> &'static str {
        match self {
            VisitState::Invited => "invited",
            VisitState::CheckedIn => "checked_in",
            VisitState::CheckedOut => "checked_out",
            VisitState::NoShow => "no_show",
            VisitState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<VisitState> {
        VisitState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The state in plain English, for messages to people.
    pub fn label(self) -> &'static str {
        match self {
            VisitState::Invited => "invited",
            VisitState::CheckedIn => "checked in",
            VisitState::CheckedOut => "checked out",
            VisitState::NoShow => "recorded as a no-show",
            VisitState::Cancelled => "cancelled",
        }
    }

    /// A visitor in this state is physically on site (the evacuation roster).
    pub fn on_site(self) -> bool {
        self == VisitState::CheckedIn
    }

    /// No event can change this state any more (a rating may still follow a check-out).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            VisitState::CheckedOut | VisitState::NoShow | VisitState::Cancelled
        )
    }
}

/// How the visit came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    /// Pre-registered by a host; the visitor scans or types the invite.
    Invite,
    /// Registered on the touchscreen.
    WalkIn,
}

impl VisitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitKind::Invite => "invite",
            VisitKind::WalkIn => "walk_in",
        }
    }

    pub fn parse(s: &str) -> Option<VisitKind> {
        match s {
            "invite" => Some(VisitKind::Invite),
            "walk_in" => Some(VisitKind::WalkIn),
            _ => None,
        }
    }

    /// The state a visit of this kind starts in before its first event.
    pub fn initial_state(self) -> Option<VisitState> {
        match self {
            VisitKind::Invite => Some(VisitState::Invited),
            // A walk-in visit only exists from the moment it checks in.
            VisitKind::WalkIn => None,
        }
    }
}

/// Something that happened to a visit. Each is stored with the moment it really happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VisitEvent {
    CheckedIn,
    BadgePrinted,
    HostNotified,
    HostConfirmed,
    CheckedOut {
        /// Closed by the automatic check-out rule rather than by the visitor or staff.
        automatic: bool,
    },
    Rated {
        stars: u8,
    },
    NoShow,
    Cancelled,
}

impl VisitEvent {
    /// The stable name stored in the database and sent to the hub.
    pub fn name(&self) -> &'static str {
        match self {
            VisitEvent::CheckedIn => "checked_in",
            VisitEvent::BadgePrinted => "badge_printed",
            VisitEvent::HostNotified => "host_notified",
            VisitEvent::HostConfirmed => "host_confirmed",
            VisitEvent::CheckedOut { .. } => "checked_out",
            VisitEvent::Rated { .. } => "rated",
            VisitEvent::NoShow => "no_show",
            VisitEvent::Cancelled => "cancelled",
        }
    }
}

/// What the machine needs to know about a visit to judge the next event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VisitStatus {
    /// `None` for a walk-in that has not checked in yet.
    pub state: Option<VisitState>,
    pub host_confirmed: bool,
    pub rated: bool,
}

impl VisitStatus {
    pub fn new(kind: VisitKind) -> VisitStatus {
        VisitStatus {
            state: kind.initial_state(),
            host_confirmed: false,
            rated: false,
        }
    }
}

/// An event that is not allowed in the visit's current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed when the visit is {}", state_name(.from))]
pub struct IllegalTransition {
    pub from: Option<VisitState>,
    pub event: &'static str,
    pub reason: IllegalReason,
}

/// Why an event was refused, for messages and for the sync layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IllegalReason {
    /// The state does not accept this event at all.
    WrongState,
    /// The host already confirmed this visit.
    AlreadyConfirmed,
    /// The visit already has its rating.
    AlreadyRated,
    /// A rating must be 1 to 5 stars.
    StarsOutOfRange,
}

fn state_name(s: &Option<VisitState>) -> &'static str {
    match s {
        Some(s) => s.as_str(),
        None => "not yet registered",
    }
}

/// Applies `event` to a visit, returning its new status or why the event is illegal.
pub fn apply(status: VisitStatus, event: VisitEvent) -> Result<VisitStatus, IllegalTransition> {
    use VisitState as S;
    let illegal = |reason| IllegalTransition {
        from: status.state,
        event: event.name(),
        reason,
    };
    let wrong = || illegal(IllegalReason::WrongState);
    let mut next = status;
    match (status.state, event) {
        (None | Some(S::Invited), VisitEvent::CheckedIn) => next.state = Some(S::CheckedIn),
        (Some(S::Invited), VisitEvent::Cancelled) => next.state = Some(S::Cancelled),
        (Some(S::Invited), VisitEvent::NoShow) => next.state = Some(S::NoShow),
        (Some(S::CheckedIn), VisitEvent::BadgePrinted) => {}
        (Some(S::CheckedIn | S::CheckedOut), VisitEvent::HostNotified) => {}
        (Some(S::CheckedIn | S::CheckedOut), VisitEvent::HostConfirmed) => {
            if status.host_confirmed {
                return Err(illegal(IllegalReason::AlreadyConfirmed));
            }
            next.host_confirmed = true;
        }
        (Some(S::CheckedIn), VisitEvent::CheckedOut { .. }) => next.state = Some(S::CheckedOut),
        (Some(S::CheckedOut), VisitEvent::Rated { stars }) => {
            if !(1..=5).contains(&stars) {
                return Err(illegal(IllegalReason::StarsOutOfRange));
            }
            if status.rated {
                return Err(illegal(IllegalReason::AlreadyRated));
            }
            next.rated = true;
        }
        _ => return Err(wrong()),
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use VisitState as S;

    fn at(state: VisitState) -> VisitStatus {
        VisitStatus {
            state: Some(state),
            ..VisitStatus::default()
        }
    }

    const EVENTS: [VisitEvent; 9] = [
        VisitEvent::CheckedIn,
        VisitEvent::BadgePrinted,
        VisitEvent::HostNotified,
        VisitEvent::HostConfirmed,
        VisitEvent::CheckedOut { automatic: false },
        VisitEvent::CheckedOut { automatic: true },
        VisitEvent::Rated { stars: 4 },
        VisitEvent::NoShow,
        VisitEvent::Cancelled,
    ];

    #[test]
    fn invite_path_invited_checked_in_checked_out_rated() {
        let s = VisitStatus::new(VisitKind::Invite);
        assert_eq!(s.state, Some(S::Invited));
        let s = apply(s, VisitEvent::CheckedIn).unwrap();
        let s = apply(s, VisitEvent::BadgePrinted).unwrap();
        let s = apply(s, VisitEvent::BadgePrinted).unwrap(); // a reprint
        let s = apply(s, VisitEvent::HostNotified).unwrap();
        let s = apply(s, VisitEvent::HostConfirmed).unwrap();
        assert!(s.host_confirmed);
        assert_eq!(s.state, Some(S::CheckedIn));
        let s = apply(s, VisitEvent::CheckedOut { automatic: false }).unwrap();
        assert_eq!(s.state, Some(S::CheckedOut));
        let s = apply(s, VisitEvent::Rated { stars: 5 }).unwrap();
        assert!(s.rated);
    }

    #[test]
    fn walk_in_starts_by_checking_in() {
        let s = VisitStatus::new(VisitKind::WalkIn);
        assert_eq!(s.state, None);
        for e in EVENTS.into_iter().filter(|e| *e != VisitEvent::CheckedIn) {
            assert!(apply(s, e).is_err(), "{e:?} before a walk-in checked in");
        }
        assert_eq!(
            apply(s, VisitEvent::CheckedIn).unwrap().state,
            Some(S::CheckedIn)
        );
    }

    #[test]
    fn invite_can_be_cancelled_or_missed_only_before_check_in() {
        assert_eq!(
            apply(at(S::Invited), VisitEvent::Cancelled).unwrap().state,
            Some(S::Cancelled)
        );
        assert_eq!(
            apply(at(S::Invited), VisitEvent::NoShow).unwrap().state,
            Some(S::NoShow)
        );
        for from in [S::CheckedIn, S::CheckedOut, S::NoShow, S::Cancelled] {
            assert!(apply(at(from), VisitEvent::Cancelled).is_err());
            assert!(apply(at(from), VisitEvent::NoShow).is_err());
        }
    }

    #[test]
    fn no_second_check_in_and_nothing_after_final_states() {
        for from in [S::CheckedIn, S::CheckedOut, S::NoShow, S::Cancelled] {
            let err = apply(at(from), VisitEvent::CheckedIn).unwrap_err();
            assert_eq!(err.reason, IllegalReason::WrongState);
            assert_eq!(err.from, Some(from));
        }
        for e in EVENTS {
            assert!(apply(at(S::Cancelled), e).is_err(), "{e:?} after cancel");
            assert!(apply(at(S::NoShow), e).is_err(), "{e:?} after no-show");
        }
    }

    #[test]
    fn check_out_only_from_checked_in() {
        for from in [S::Invited, S::CheckedOut, S::NoShow, S::Cancelled] {
            assert!(apply(at(from), VisitEvent::CheckedOut { automatic: true }).is_err());
        }
    }

    #[test]
    fn badge_prints_only_while_on_site() {
        assert!(apply(at(S::CheckedIn), VisitEvent::BadgePrinted).is_ok());
        for from in [S::Invited, S::CheckedOut, S::NoShow, S::Cancelled] {
            assert!(apply(at(from), VisitEvent::BadgePrinted).is_err());
        }
    }

    #[test]
    fn host_confirms_once_even_after_the_visitor_left() {
        let s = apply(at(S::CheckedOut), VisitEvent::HostConfirmed).unwrap();
        let err = apply(s, VisitEvent::HostConfirmed).unwrap_err();
        assert_eq!(err.reason, IllegalReason::AlreadyConfirmed);
        assert!(apply(at(S::Invited), VisitEvent::HostConfirmed).is_err());
    }

    #[test]
    fn rating_once_from_one_to_five_after_check_out() {
        for stars in [0u8, 6, 200] {
            let err = apply(at(S::CheckedOut), VisitEvent::Rated { stars }).unwrap_err();
            assert_eq!(err.reason, IllegalReason::StarsOutOfRange);
        }
        let s = apply(at(S::CheckedOut), VisitEvent::Rated { stars: 1 }).unwrap();
        let err = apply(s, VisitEvent::Rated { stars: 3 }).unwrap_err();
        assert_eq!(err.reason, IllegalReason::AlreadyRated);
        assert!(apply(at(S::CheckedIn), VisitEvent::Rated { stars: 3 }).is_err());
    }

    #[test]
    fn names_round_trip_and_error_reads_well() {
        for s in VisitState::ALL {
            assert_eq!(VisitState::parse(s.as_str()), Some(s));
        }
        assert_eq!(VisitState::parse("bogus"), None);
        for k in [VisitKind::Invite, VisitKind::WalkIn] {
            assert_eq!(VisitKind::parse(k.as_str()), Some(k));
        }
        let err = apply(at(S::Cancelled), VisitEvent::CheckedIn).unwrap_err();
        assert_eq!(
            err.to_string(),
            "checked_in is not allowed when the visit is cancelled"
        );
        assert!(S::CheckedIn.on_site());
        assert!(!S::CheckedOut.on_site());
    }
}
