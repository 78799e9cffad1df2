use chrono::Duration;
use uuid::Uuid;

use super::*;
use crate::domain::admit::InviteStatus;
use crate::domain::checkout::AutoCheckoutPolicy;
use crate::domain::invite::{InviteClaims, Rejection, SiteTag};
use crate::domain::shortcode::ShortCode;
use crate::domain::visit::{VisitEvent, VisitKind, VisitState};
use crate::domain::walkin::ValidWalkIn;

const SITE: &str = "hq";

fn utc(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    host(&mut store);
    (dir, store)
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn host(store: &mut Store) -> HostRecord {
    let h = HostRecord {
        id: "h-wang".into(),
        name: "王军 Wang Jun".into(),
        department: Some("R&D".into()),
        email: Some("wang.jun@example.com".into()),
        phone: None,
        search_key: "wang jun wj 王军".into(),
        active: true,
    };
    store.upsert_host(&h, utc("2026-11-01T00:00:00Z")).unwrap();
    h
}

fn invite(code: &str) -> InviteRecord {
    InviteRecord {
        id: Uuid::now_v7(),
        short_code: Some(ShortCode::parse(code).unwrap()),
        site_id: SITE.into(),
        visitor_name: Some("Anna Schmidt".into()),
        visitor_company: Some("Contoso".into()),
        visitor_email: Some("anna@contoso.example".into()),
        visitor_phone: None,
        host_id: Some("h-wang".into()),
        purpose: Some("Interview".into()),
        party_size: 1,
        vip: false,
        valid_from: utc("2026-11-25T08:00:00Z"),
        valid_until: utc("2026-11-25T18:00:00Z"),
        expected_end: Some(utc("2026-11-25T11:00:00Z")),
        status: InviteStatus::Active,
        cancelled_at: None,
        source: InviteSource::Hub,
    }
}

fn claims(inv: &InviteRecord) -> InviteClaims {
    InviteClaims {
        invite_id: inv.id,
        site: SiteTag::of(SITE),
        valid_from: inv.valid_from,
        valid_until: inv.valid_until,
    }
}

fn walk_in(name: &str, phone: Option<&str>, email: Option<&str>) -> ValidWalkIn {
    ValidWalkIn {
        name: name.into(),
        phone_e164: phone.map(Into::into),
        email: email.map(Into::into),
        company: Some("Fabrikam".into()),
        host_id: Some("h-wang".into()),
        purpose: Some("Delivery".into()),
    }
}

const SKEW: Duration = Duration::minutes(5);

#[test]
fn open_sets_up_wal_foreign_keys_and_schema_and_reopens() {
    let (dir, store) = open();
    assert_eq!(store.schema_version().unwrap(), 1);
    let mode: String = store
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let sync: i64 = store
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    drop(store);
    let again = Store::open_in(dir.path()).unwrap();
    assert_eq!(again.schema_version().unwrap(), 1);
    assert!(again.integrity_check().is_ok());
}

#[test]
fn a_newer_database_is_refused_not_damaged() {
    let (dir, store) = open();
    store.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(store);
    match Store::open_in(dir.path()) {
        Err(StoreError::TooNew { found: 99, .. }) => {}
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened a newer database"),
    }
}

#[test]
fn invite_check_in_writes_visit_event_outbox_and_print_job_once() {
    let (_d, mut store) = open();
    let inv = invite("AB12CD34");
    assert_eq!(
        store
            .upsert_invite(&inv, utc("2026-11-20T00:00:00Z"))
            .unwrap(),
        InviteUpsert::Created
    );
    let at = utc("2026-11-25T09:03:00Z");
    let c = claims(&inv);
    let CheckInOutcome::CheckedIn(v) = store
        .present_invite(Presented::Token(&c), SITE, SKEW, at)
        .unwrap()
    else {
        panic!("not checked in")
    };
    assert_eq!(v.state, VisitState::CheckedIn);
    assert_eq!(v.checked_in_at, Some(at));
    assert_eq!(v.visitor_name.as_deref(), Some("Anna Schmidt"));
    assert_eq!(v.host_name.as_deref(), Some("王军 Wang Jun"));
    assert!(v.visitor_id.is_some(), "profile created from the invite");
    assert_eq!(count(&store, "outbox"), 1);
    assert_eq!(store.unprinted_jobs().unwrap().len(), 1);

    // Scanned again, by token or short code: the same visit, nothing new written.
    let again = store
        .present_invite(Presented::Token(&c), SITE, SKEW, at + Duration::minutes(1))
        .unwrap();
    assert_eq!(again, CheckInOutcome::AlreadyCheckedIn(v.clone()));
    let code = inv.short_code.clone().unwrap();
    let again = store
        .present_invite(Presented::ShortCode(&code), SITE, SKEW, at)
        .unwrap();
    assert_eq!(again, CheckInOutcome::AlreadyCheckedIn(v.clone()));
    assert_eq!(count(&store, "visits"), 1);
    assert_eq!(count(&store, "outbox"), 1);
    assert_eq!(count(&store, "print_jobs"), 1);
    let events = store.visit_events(v.id).unwrap();
    assert_eq!(events, vec![("checked_in".to_string(), at)]);
}

#[test]
fn times_are_stored_in_utc() {
    let (_d, mut store) = open();
    let inv = invite("AB12CD34");
    store
        .upsert_invite(&inv, utc("2026-11-20T00:00:00Z"))
        .unwrap();
    let at: Timestamp = chrono::DateTime::parse_from_rfc3339("2026-11-25T17:03:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    store
        .present_invite(Presented::Token(&claims(&inv)), SITE, SKEW, at)
        .unwrap();
    let raw: String = store
        .conn
        .query_row("SELECT checked_in_at FROM visits", [], |r| r.get(0))
        .unwrap();
    assert_eq!(raw, "2026-11-25T09:03:00.000Z");
}

#[test]
fn unknown_short_code_other_site_and_window_are_rejected() {
    let (_d, mut store) = open();
    let inv = invite("AB12CD34");
    store
        .upsert_invite(&inv, utc("2026-11-20T00:00:00Z"))
        .unwrap();
    let unknown = ShortCode::parse("ZZZZZZZZ").unwrap();
    assert_eq!(
        store
            .present_invite(
                Presented::ShortCode(&unknown),
                SITE,
                SKEW,
                utc("2026-11-25T09:00:00Z")
            )
            .unwrap(),
        CheckInOutcome::Rejected(Rejection::UnknownShortCode)
    );
    let code = inv.short_code.clone().unwrap();
    assert_eq!(
        store
            .present_invite(
                Presented::ShortCode(&code),
                "branch-2",
                SKEW,
                utc("2026-11-25T09:00:00Z")
            )
            .unwrap(),
        CheckInOutcome::Rejected(Rejection::OtherSite)
    );
    assert_eq!(
        store
            .present_invite(
                Presented::ShortCode(&code),
                SITE,
                SKEW,
                utc("2026-11-25T18:06:00Z")
            )
            .unwrap(),
        CheckInOutcome::Rejected(Rejection::Expired {
            valid_until: inv.valid_until
        })
    );
    assert_eq!(count(&store, "outbox"), 0);
    assert_eq!(
        store.visit_by_invite(inv.id).unwrap().unwrap().state,
        VisitState::Invited
    );
}

#[test]
fn a_moved_meeting_is_judged_by_the_stored_invite_not_the_old_token() {
    let (_d, mut store) = open();
    let mut inv = invite("AB12CD34");
    store
        .upsert_invite(&inv, utc("2026-11-20T00:00:00Z"))
        .unwrap();
    let old_token = claims(&inv);
    inv.valid_from = utc("2026-11-26T08:00:00Z");
    inv.valid_until = utc("2026-11-26T18:00:00Z");
    assert_eq!(
        store
            .upsert_invite(&inv, utc("2026-11-24T00:00:00Z"))
            .unwrap(),
        InviteUpsert::Updated
    );
    assert_eq!(
        store
            .present_invite(
                Presented::Token(&old_token),
                SITE,
                SKEW,
                utc("2026-11-25T09:00:00Z")
            )
            .unwrap(),
        CheckInOutcome::Rejected(Rejection::NotYetValid {
            valid_from: inv.valid_from
        })
    );
}

#[test]
fn cancelled_invite_is_refused_and_the_front_desk_is_told() {
    let (_d, mut store) = open();
    let inv = invite("AB12CD34");
    store
        .upsert_invite(&inv, utc("2026-11-20T00:00:00Z"))
        .unwrap();
    assert_eq!(
        store
            .cancel_invite(inv.id, utc("2026-11-25T07:00:00Z"))
            .unwrap(),
        InviteUpsert::Cancelled
    );
    let out = store
        .present_invite(
            Presented::Token(&claims(&inv)),
            SITE,
            SKEW,
            utc("2026-11-25T09:00:00Z"),
        )
        .unwrap();
    assert_eq!(out, CheckInOutcome::Rejected(Rejection::Cancelled));
    let pending = store.pending_outbox(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].1.contains("cancelled_invite_presented"));
    let v = store.visit_by_invite(inv.id).unwrap().unwrap();
    assert_eq!(v.state, VisitState::Cancelled);
    assert_eq!(
        store.visit_events(v.id).unwrap(),
        vec![("cancelled".to_string(), utc("2026-11-25T07:00:00Z"))]
    );
}

#[test]
fn cancellation_after_arrival_flags_the_visit_and_keeps_it() {
    let (_d, mut store) = open();
    let inv = invite("AB12CD34");
    store
        .upsert_invite(&inv, utc("2026-11-20T00:00:00Z"))
        .unwrap();
    store
        .present_invite(
            Presented::Token(&claims(&inv)),
            SITE,
            SKEW,
            utc("2026-11-25T09:00:00Z"),
        )
        .unwrap();
    let out = store
        .cancel_invite(inv.id, utc("2026-11-25T09:10:00Z"))
        .unwrap();
    let InviteUpsert::CancelledAfterCheckIn { visit_id } = out else {
        panic!("{out:?}")
    };
    let v = store.visit(visit_id).unwrap().unwrap();
    assert_eq!(v.state, VisitState::CheckedIn);
    assert!(v.cancelled_on_site);
    assert_eq!(store.roster().unwrap().len(), 1);
}

#[test]
fn a_signed_token_not_yet_synced_still_checks_in_once() {
    let (_d, mut store) = open();
    let c = InviteClaims {
        invite_id: Uuid::now_v7(),
        site: SiteTag::of(SITE),
        valid_from: utc("2026-11-25T08:00:00Z"),
        valid_until: utc("2026-11-25T18:00:00Z"),
    };
    let at = utc("2026-11-25T09:00:00Z");
    assert!(matches!(
        store
            .present_invite(Presented::Token(&c), SITE, SKEW, at)
            .unwrap(),
        CheckInOutcome::CheckedIn(_)
    ));
    assert!(matches!(
        store
            .present_invite(Presented::Token(&c), SITE, SKEW, at)
            .unwrap(),
        CheckInOutcome::AlreadyCheckedIn(_)
    ));
    assert_eq!(
        store.invite(c.invite_id).unwrap().unwrap().source,
        InviteSource::Token
    );
    assert_eq!(count(&store, "visits"), 1);
}

#[test]
fn returning_walk_in_is_recognised_by_phone_or_email_never_duplicated() {
    let (_d, mut store) = open();
    let t = utc("2026-11-25T09:00:00Z");
    let first = store
        .register_walk_in(&walk_in("李娜", Some("+8613800138000"), None), t)
        .unwrap();
    assert!(!first.returning);
    assert_eq!(first.visit.kind, VisitKind::WalkIn);
    assert_eq!(first.visit.state, VisitState::CheckedIn);
    assert_eq!(first.visit.checked_in_at, Some(t));
    assert_eq!(first.visit.host_name.as_deref(), Some("王军 Wang Jun"));

    // Same phone, now with an e-mail: same profile, e-mail added.
    let second = store
        .register_walk_in(
            &walk_in("李娜", Some("+8613800138000"), Some("li.na@example.com")),
            t + Duration::days(1),
        )
        .unwrap();
    assert!(second.returning);
    assert_eq!(second.visitor_id, first.visitor_id);
    // Only the e-mail this time.
    let third = store
        .register_walk_in(
            &walk_in("李娜", None, Some("li.na@example.com")),
            t + Duration::days(2),
        )
        .unwrap();
    assert_eq!(third.visitor_id, first.visitor_id);
    assert_eq!(count(&store, "visitors"), 1);
    assert_eq!(count(&store, "visits"), 3);
    assert_ne!(first.visit.number, second.visit.number);
    assert_ne!(first.visit.checkout_code, second.visit.checkout_code);

    // Phone of one profile and e-mail of another: phone wins, flagged.
    let other = store
        .register_walk_in(
            &walk_in("Bob", Some("+14155550100"), Some("bob@example.com")),
            t,
        )
        .unwrap();
    let mixed = store
        .register_walk_in(
            &walk_in("Bob", Some("+14155550100"), Some("li.na@example.com")),
            t,
        )
        .unwrap();
    assert!(mixed.ambiguous);
    assert_eq!(mixed.visitor_id, other.visitor_id);
    assert_eq!(count(&store, "visitors"), 2);
}

#[test]
fn walk_in_with_unknown_host_writes_nothing() {
    let (_d, mut store) = open();
    let mut w = walk_in("Ann", Some("+8613800138000"), None);
    w.host_id = Some("nobody".into());
    assert!(matches!(
        store.register_walk_in(&w, utc("2026-11-25T09:00:00Z")),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(count(&store, "visitors"), 0);
    assert_eq!(count(&store, "visits"), 0);
}

#[test]
fn visit_events_follow_the_state_machine_and_illegal_ones_write_nothing() {
    let (_d, mut store) = open();
    let t = utc("2026-11-25T09:00:00Z");
    let v = store
        .register_walk_in(&walk_in("Ann", Some("+8613800138000"), None), t)
        .unwrap()
        .visit;
    store
        .record(v.id, VisitEvent::HostNotified, t + Duration::seconds(2))
        .unwrap();
    let confirmed = store
        .record(v.id, VisitEvent::HostConfirmed, t + Duration::minutes(3))
        .unwrap();
    assert_eq!(confirmed.host_confirmed_at, Some(t + Duration::minutes(3)));
    let before = count(&store, "visit_events");
    assert!(matches!(
        store.record(v.id, VisitEvent::Rated { stars: 5 }, t),
        Err(StoreError::Illegal(_))
    ));
    assert_eq!(count(&store, "visit_events"), before);
    let out = store
        .record(
            v.id,
            VisitEvent::CheckedOut { automatic: false },
            t + Duration::hours(1),
        )
        .unwrap();
    assert_eq!(out.state, VisitState::CheckedOut);
    assert!(!out.checkout_automatic);
    let rated = store
        .record(v.id, VisitEvent::Rated { stars: 4 }, t + Duration::hours(1))
        .unwrap();
    assert_eq!(rated.rating, Some(4));
    assert!(matches!(
        store.record(v.id, VisitEvent::CheckedOut { automatic: false }, t),
        Err(StoreError::Illegal(_))
    ));
    assert!(store.roster().unwrap().is_empty());
    let kinds: Vec<String> = store
        .visit_events(v.id)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        kinds,
        [
            "checked_in",
            "host_notified",
            "host_confirmed",
            "checked_out",
            "rated"
        ]
    );
    assert_eq!(store.outbox_backlog().unwrap(), 5);
}

#[test]
fn print_jobs_queue_fail_and_reprint() {
    let (_d, mut store) = open();
    let t = utc("2026-11-25T09:00:00Z");
    let v = store
        .register_walk_in(&walk_in("Ann", Some("+8613800138000"), None), t)
        .unwrap()
        .visit;
    let job = store.unprinted_jobs().unwrap()[0].clone();
    assert_eq!(job.visit_id, Some(v.id));
    store.finish_print_job(job.id, Err("paper out"), t).unwrap();
    let failed = store.unprinted_jobs().unwrap();
    assert_eq!(failed[0].status, "failed");
    assert_eq!(failed[0].last_error.as_deref(), Some("paper out"));
    // The visit is kept whatever the printer did.
    assert_eq!(store.roster().unwrap().len(), 1);
    store.finish_print_job(job.id, Ok(()), t).unwrap();
    assert!(store.unprinted_jobs().unwrap().is_empty());
    store.queue_reprint(v.id, "staff", t).unwrap();
    assert_eq!(store.unprinted_jobs().unwrap().len(), 1);
    let kinds: Vec<String> = store
        .visit_events(v.id)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(kinds, ["checked_in", "badge_printed"]);
    let audit = store.audit_log(5).unwrap();
    assert_eq!(audit[0].2, "reprint_badge");
    assert!(
        !audit[0].3.contains("Ann"),
        "no personal data in the audit log"
    );
}

#[test]
fn auto_checkout_closes_forgotten_visits_at_the_rule_time() {
    let (_d, mut store) = open();
    let t = utc("2026-11-25T01:00:00Z"); // 09:00 in Shanghai
    let v = store
        .register_walk_in(&walk_in("Ann", Some("+8613800138000"), None), t)
        .unwrap()
        .visit;
    let policy = AutoCheckoutPolicy {
        at_local: chrono::NaiveTime::from_hms_opt(22, 0, 0),
        after_expected_end: None,
        tz: chrono_tz::Asia::Shanghai,
    };
    assert!(store
        .run_auto_checkout(&policy, utc("2026-11-25T13:00:00Z"))
        .unwrap()
        .is_empty());
    let closed = store
        .run_auto_checkout(&policy, utc("2026-11-26T02:00:00Z"))
        .unwrap();
    assert_eq!(closed, vec![v.id]);
    let v = store.visit(v.id).unwrap().unwrap();
    assert_eq!(v.state, VisitState::CheckedOut);
    assert!(v.checkout_automatic);
    assert_eq!(v.checked_out_at, Some(utc("2026-11-25T14:00:00Z")));
    assert!(store.roster().unwrap().is_empty());
}

#[test]
fn no_shows_are_recorded_at_the_end_of_the_window() {
    let (_d, mut store) = open();
    let inv = invite("AB12CD34");
    store
        .upsert_invite(&inv, utc("2026-11-20T00:00:00Z"))
        .unwrap();
    assert!(store
        .mark_no_shows(Duration::hours(1), utc("2026-11-25T18:30:00Z"))
        .unwrap()
        .is_empty());
    let marked = store
        .mark_no_shows(Duration::hours(1), utc("2026-11-25T19:00:00Z"))
        .unwrap();
    assert_eq!(marked.len(), 1);
    let v = store.visit_by_invite(inv.id).unwrap().unwrap();
    assert_eq!(v.state, VisitState::NoShow);
}

#[test]
fn purge_erases_old_personal_data_and_keeps_visitors_on_site() {
    let (_d, mut store) = open();
    let old = utc("2026-09-01T09:00:00Z");
    let recent = utc("2026-11-24T09:00:00Z");
    let gone = store
        .register_walk_in(&walk_in("Old Visitor", Some("+8613800138001"), None), old)
        .unwrap();
    store
        .record(
            gone.visit.id,
            VisitEvent::CheckedOut { automatic: false },
            old + Duration::hours(2),
        )
        .unwrap();
    // Checked in long ago and never checked out: still on site, never purged.
    let stayer = store
        .register_walk_in(&walk_in("Night Shift", Some("+8613800138002"), None), old)
        .unwrap();
    let fresh = store
        .register_walk_in(
            &walk_in("New Visitor", Some("+8613800138003"), None),
            recent,
        )
        .unwrap();
    let mut old_invite = invite("AB12CD34");
    old_invite.valid_from = utc("2026-09-01T08:00:00Z");
    old_invite.valid_until = utc("2026-09-01T18:00:00Z");
    store.upsert_invite(&old_invite, old).unwrap();

    let report = store
        .purge(30, true, utc("2026-11-25T00:00:00Z"), "it")
        .unwrap();
    assert_eq!(report.visitors_deleted, 1);
    assert_eq!(report.invites_anonymised, 1);
    assert_eq!(report.visits_anonymised, 2, "{report:?}");
    let g = store.visit(gone.visit.id).unwrap().unwrap();
    assert_eq!(g.visitor_name, None);
    assert_eq!(g.visitor_id, None);
    assert_eq!(g.checked_in_at, Some(old), "times stay for reports");
    let s = store.visit(stayer.visit.id).unwrap().unwrap();
    assert_eq!(s.visitor_name.as_deref(), Some("Night Shift"));
    let f = store.visit(fresh.visit.id).unwrap().unwrap();
    assert_eq!(f.visitor_name.as_deref(), Some("New Visitor"));
    let i = store.invite(old_invite.id).unwrap().unwrap();
    assert_eq!(i.visitor_name, None);
    assert_eq!(i.visitor_email, None);
    // 0 means keep forever.
    assert_eq!(
        store
            .purge(0, true, utc("2030-01-01T00:00:00Z"), "it")
            .unwrap(),
        PurgeReport::default()
    );
}

#[test]
fn export_selects_by_check_in_time() {
    let (_d, mut store) = open();
    for (i, day) in ["2026-11-23", "2026-11-24", "2026-11-25"]
        .iter()
        .enumerate()
    {
        let t = utc(&format!("{day}T09:00:00Z"));
        let v = store
            .register_walk_in(&walk_in("Ann", Some(&format!("+861380013800{i}")), None), t)
            .unwrap()
            .visit;
        store
            .record(
                v.id,
                VisitEvent::CheckedOut { automatic: false },
                t + Duration::minutes(45),
            )
            .unwrap();
    }
    let rows = store
        .export(utc("2026-11-24T00:00:00Z"), utc("2026-11-25T00:00:00Z"))
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].duration_minutes, Some(45));
    assert_eq!(rows[0].checked_in_at, Some(utc("2026-11-24T09:00:00Z")));
}

#[test]
fn outbox_rows_are_marked_sent_once() {
    let (_d, mut store) = open();
    store
        .register_walk_in(
            &walk_in("Ann", Some("+8613800138000"), None),
            utc("2026-11-25T09:00:00Z"),
        )
        .unwrap();
    let pending = store.pending_outbox(10).unwrap();
    assert_eq!(pending.len(), 1);
    let payload: serde_json::Value = serde_json::from_str(&pending[0].1).unwrap();
    assert_eq!(payload["kind"], "checked_in");
    assert_eq!(payload["data"]["visitor"]["phone"], "+8613800138000");
    let ids: Vec<Uuid> = pending.iter().map(|p| p.0).collect();
    let now = utc("2026-11-25T09:01:00Z");
    assert_eq!(store.mark_outbox_sent(&ids, now).unwrap(), 1);
    assert_eq!(store.mark_outbox_sent(&ids, now).unwrap(), 0);
    assert_eq!(store.outbox_backlog().unwrap(), 0);
}
