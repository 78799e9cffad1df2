//! Automatic check-out and no-show rules.
//!
//! Visitors who forget to check out make the evacuation roster wrong. The kiosk closes such
//! visits itself, at a time of day in the site's time zone (say 22:00), or a while after the
//! visit's expected end, whichever comes first. The check-out is recorded at the moment the
//! rule took effect, not at the moment the kiosk noticed, and it is marked automatic.

use chrono::{Duration, NaiveTime, TimeZone};
use chrono_tz::Tz;

use super::Timestamp;

/// When visits are closed automatically.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoCheckoutPolicy {
    /// Close every open visit at this site-local time of day.
    pub at_local: Option<NaiveTime>,
    /// Close a visit this long after its expected end.
    pub after_expected_end: Option<Duration>,
    /// The site's time zone, for `at_local`.
    pub tz: Tz,
}

impl AutoCheckoutPolicy {
    pub fn disabled() -> AutoCheckoutPolicy {
        AutoCheckoutPolicy {
            at_local: None,
            after_expected_end: None,
            tz: Tz::UTC,
        }
    }

    /// The moment the policy closes a visit that checked in at `checked_in_at`, whether or
    /// not that moment has come yet. `None` when no rule applies to the visit.
    pub fn closes_at(
        &self,
        checked_in_at: Timestamp,
        expected_end: Option<Timestamp>,
    ) -> Option<Timestamp> {
        let by_clock = self
            .at_local
            .and_then(|t| next_local_time_after(checked_in_at, t, self.tz));
        let by_end = match (expected_end, self.after_expected_end) {
            // A visit that is still open past its end; a late check-in gets the full grace
            // period from the moment it arrived.
            (Some(end), Some(grace)) => Some(end.max(checked_in_at) + grace),
            _ => None,
        };
        match (by_clock, by_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `Some(moment)` when the visit should have been closed by `now`, with the moment it was.
    pub fn due(
        &self,
        checked_in_at: Timestamp,
        expected_end: Option<Timestamp>,
        now: Timestamp,
    ) -> Option<Timestamp> {
        self.closes_at(checked_in_at, expected_end)
            .filter(|at| *at <= now)
    }
}

/// The first moment strictly after `after` at which the site's wall clock shows `time`.
/// On a day where that wall-clock time does not exist (a daylight-saving gap), the rule
/// fires at the first valid minute after the gap.
pub fn next_local_time_after(after: Timestamp, time: NaiveTime, tz: Tz) -> Option<Timestamp> {
    let local_date = after.with_timezone(&tz).date_naive();
    for day in 0..3 {
        let date = local_date.checked_add_signed(Duration::days(day))?;
        let naive = date.and_time(time);
        let mut candidate = tz.from_local_datetime(&naive).earliest();
        let mut shift = 0;
        while candidate.is_none() && shift < 180 {
            shift += 1;
            candidate = tz
                .from_local_datetime(&(naive + Duration::minutes(shift)))
                .earliest();
        }
        if let Some(c) = candidate {
            let c = c.with_timezone(&chrono::Utc);
            if c > after {
                return Some(c);
            }
        }
    }
    None
}

/// An invite whose window closed more than `grace` ago without a check-in is a no-show,
/// recorded at the end of its window.
pub fn no_show_due(valid_until: Timestamp, grace: Duration, now: Timestamp) -> Option<Timestamp> {
    (valid_until + grace <= now).then_some(valid_until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn utc(s: &str) -> Timestamp {
        s.parse::<chrono::DateTime<Utc>>().unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn shanghai_at(t: NaiveTime) -> AutoCheckoutPolicy {
        AutoCheckoutPolicy {
            at_local: Some(t),
            after_expected_end: None,
            tz: chrono_tz::Asia::Shanghai,
        }
    }

    #[test]
    fn time_of_day_rule_uses_the_site_time_zone() {
        // 09:00 in Shanghai is 01:00 UTC; 22:00 Shanghai is 14:00 UTC.
        let p = shanghai_at(hm(22, 0));
        let checked_in = utc("2026-11-25T01:00:00Z");
        assert_eq!(
            p.closes_at(checked_in, None),
            Some(utc("2026-11-25T14:00:00Z"))
        );
        assert_eq!(p.due(checked_in, None, utc("2026-11-25T13:59:59Z")), None);
        // Noticed the next morning, recorded at 22:00 the evening before.
        assert_eq!(
            p.due(checked_in, None, utc("2026-11-26T00:30:00Z")),
            Some(utc("2026-11-25T14:00:00Z"))
        );
    }

    #[test]
    fn check_in_after_the_daily_time_closes_the_next_day() {
        let p = shanghai_at(hm(22, 0));
        // 22:30 Shanghai.
        let checked_in = utc("2026-11-25T14:30:00Z");
        assert_eq!(
            p.closes_at(checked_in, None),
            Some(utc("2026-11-26T14:00:00Z"))
        );
    }

    #[test]
    fn expected_end_rule_and_earliest_of_both() {
        let p = AutoCheckoutPolicy {
            at_local: Some(hm(22, 0)),
            after_expected_end: Some(Duration::minutes(120)),
            tz: chrono_tz::Asia::Shanghai,
        };
        let checked_in = utc("2026-11-25T01:00:00Z");
        // Meeting ends 11:00 Shanghai (03:00 UTC): closed at 05:00 UTC, before 22:00.
        let end = utc("2026-11-25T03:00:00Z");
        assert_eq!(
            p.closes_at(checked_in, Some(end)),
            Some(utc("2026-11-25T05:00:00Z"))
        );
        // A meeting that ends late: the evening rule comes first.
        let late_end = utc("2026-11-25T13:30:00Z");
        assert_eq!(
            p.closes_at(checked_in, Some(late_end)),
            Some(utc("2026-11-25T14:00:00Z"))
        );
    }

    #[test]
    fn late_arrival_gets_the_grace_from_arrival() {
        let p = AutoCheckoutPolicy {
            at_local: None,
            after_expected_end: Some(Duration::minutes(60)),
            tz: Tz::UTC,
        };
        let end = utc("2026-11-25T10:00:00Z");
        let arrived = utc("2026-11-25T10:30:00Z");
        assert_eq!(
            p.closes_at(arrived, Some(end)),
            Some(utc("2026-11-25T11:30:00Z"))
        );
    }

    #[test]
    fn disabled_policy_never_closes() {
        let p = AutoCheckoutPolicy::disabled();
        let t = utc("2026-11-25T01:00:00Z");
        assert_eq!(p.closes_at(t, Some(t)), None);
        assert_eq!(p.due(t, Some(t), utc("2030-01-01T00:00:00Z")), None);
        // Only the end rule is configured but the visit has no expected end.
        let p = AutoCheckoutPolicy {
            after_expected_end: Some(Duration::minutes(5)),
            ..AutoCheckoutPolicy::disabled()
        };
        assert_eq!(p.closes_at(t, None), None);
    }

    #[test]
    fn daylight_saving_gap_fires_after_the_gap() {
        // Berlin skips 02:00-03:00 on 2026-03-29.
        let p = AutoCheckoutPolicy {
            at_local: Some(hm(2, 30)),
            after_expected_end: None,
            tz: chrono_tz::Europe::Berlin,
        };
        let checked_in = utc("2026-03-28T20:00:00Z"); // 21:00 CET
        let closes = p.closes_at(checked_in, None).unwrap();
        // 03:00 CEST = 01:00 UTC.
        assert_eq!(closes, utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn no_show_after_window_and_grace() {
        let until = utc("2026-11-25T10:00:00Z");
        let grace = Duration::minutes(30);
        assert_eq!(no_show_due(until, grace, utc("2026-11-25T10:29:00Z")), None);
        assert_eq!(
            no_show_due(until, grace, utc("2026-11-25T10:30:00Z")),
            Some(until)
        );
    }
}
