//! The roster, automatic check-out and no-shows, the retention purge and the export.

use chrono::Duration;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::visits::{apply_event, load_visits, VisitRecord};
use super::{audit_in, ts, Result, Store};
use crate::domain::checkout::{no_show_due, AutoCheckoutPolicy};
use crate::domain::visit::{VisitEvent, VisitKind, VisitState};
use crate::domain::Timestamp;

/// One person on site, for the evacuation roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterEntry {
    pub visit_number: i64,
    pub name: String,
    pub company: Option<String>,
    pub host: Option<String>,
    pub checked_in_at: Timestamp,
    pub kind: VisitKind,
    pub vip: bool,
}

/// What a retention purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PurgeReport {
    /// Visits whose names and companies were erased (times and counts stay for reports).
    pub visits_anonymised: usize,
    /// Visitor profiles deleted.
    pub visitors_deleted: usize,
    /// Invites whose visitor details were erased.
    pub invites_anonymised: usize,
    /// Print jobs deleted.
    pub print_jobs_deleted: usize,
    /// Delivered outbox rows deleted.
    pub outbox_deleted: usize,
}

/// One visit in an export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportRow {
    pub visit_number: i64,
    pub visit_id: Uuid,
    pub kind: VisitKind,
    pub state: VisitState,
    pub visitor_name: Option<String>,
    pub visitor_company: Option<String>,
    pub host: Option<String>,
    pub purpose: Option<String>,
    pub checked_in_at: Option<Timestamp>,
    pub checked_out_at: Option<Timestamp>,
    pub checkout_automatic: bool,
    pub duration_minutes: Option<i64>,
    pub host_confirmed_at: Option<Timestamp>,
    pub rating: Option<u8>,
}

impl From<VisitRecord> for ExportRow {
    fn from(v: VisitRecord) -> Self {
        ExportRow {
            visit_number: v.number,
            visit_id: v.id,
            kind: v.kind,
            state: v.state,
            duration_minutes: match (v.checked_in_at, v.checked_out_at) {
                (Some(a), Some(b)) => Some((b - a).num_minutes()),
                _ => None,
            },
            visitor_name: v.visitor_name,
            visitor_company: v.visitor_company,
            host: v.host_name,
            purpose: v.purpose,
            checked_in_at: v.checked_in_at,
            checked_out_at: v.checked_out_at,
            checkout_automatic: v.checkout_automatic,
            host_confirmed_at: v.host_confirmed_at,
            rating: v.rating,
        }
    }
}

impl Store {
    /// Everyone checked in and not yet out, earliest arrival first.
    pub fn roster(&self) -> Result<Vec<RosterEntry>> {
        let visits = load_visits(
            &self.conn,
            "state = 'checked_in' ORDER BY checked_in_at, number",
            [],
        )?;
        Ok(visits
            .into_iter()
            .map(|v| RosterEntry {
                visit_number: v.number,
                name: v
                    .visitor_name
                    .unwrap_or_else(|| format!("Visitor #{}", v.number)),
                company: v.visitor_company,
                host: v.host_name,
                checked_in_at: v.checked_in_at.unwrap_or_default(),
                kind: v.kind,
                vip: v.vip,
            })
            .collect())
    }

    /// Closes every open visit the policy says should be closed by `now`, each at the moment
    /// the rule took effect, marked automatic. Returns the visits closed.
    pub fn run_auto_checkout(
        &mut self,
        policy: &AutoCheckoutPolicy,
        now: Timestamp,
    ) -> Result<Vec<Uuid>> {
        let tx = self.write()?;
        let open = load_visits(&tx, "state = 'checked_in'", [])?;
        let mut closed = Vec::new();
        for v in open {
            let Some(checked_in) = v.checked_in_at else {
                continue;
            };
            if let Some(at) = policy.due(checked_in, v.expected_end, now) {
                apply_event(
                    &tx,
                    &v,
                    VisitEvent::CheckedOut { automatic: true },
                    at,
                    true,
                    json!({}),
                )?;
                closed.push(v.id);
            }
        }
        if !closed.is_empty() {
            audit_in(
                &tx,
                "system",
                "auto_checkout",
                &format!("{} visits", closed.len()),
                now,
            )?;
        }
        tx.commit()?;
        Ok(closed)
    }

    /// Records invites whose window ended more than `grace` ago without a check-in as no-shows.
    pub fn mark_no_shows(&mut self, grace: Duration, now: Timestamp) -> Result<Vec<Uuid>> {
        let tx = self.write()?;
        let cutoff = ts(now - grace);
        let invited = load_visits(
            &tx,
            "state = 'invited' AND invite_id IN
                 (SELECT id FROM invites WHERE status = 'active' AND valid_until <= ?1)",
            [&cutoff],
        )?;
        let mut marked = Vec::new();
        for v in invited {
            let Some(invite_id) = v.invite_id else {
                continue;
            };
            let until: String = tx.query_row(
                "SELECT valid_until FROM invites WHERE id = ?1",
                [invite_id.to_string()],
                |r| r.get(0),
            )?;
            let until = super::parse_ts(&until)?;
            if let Some(at) = no_show_due(until, grace, now) {
                apply_event(&tx, &v, VisitEvent::NoShow, at, true, json!({}))?;
                marked.push(v.id);
            }
        }
        tx.commit()?;
        Ok(marked)
    }

    /// Erases visitor personal data older than `retention_days` (0 keeps it forever).
    /// Visit rows stay, without names, so counts and durations remain for reports. Outbox
    /// rows the hub has not acknowledged are kept until delivered.
    ///
    /// With `keep_undelivered` (a hub is configured) events the hub has not acknowledged are
    /// kept until delivered; a standalone kiosk has no hub, so its old events go too.
    pub fn purge(
        &mut self,
        retention_days: u32,
        keep_undelivered: bool,
        now: Timestamp,
        actor: &str,
    ) -> Result<PurgeReport> {
        if retention_days == 0 {
            return Ok(PurgeReport::default());
        }
        let Some(cutoff) = now.checked_sub_signed(Duration::days(i64::from(retention_days))) else {
            return Ok(PurgeReport::default());
        };
        let cutoff = ts(cutoff);
        let tx = self.write()?;
        // A visit is old once it ended (or, for invites never used, once the window closed)
        // before the cutoff. Visitors still on site are never purged.
        let visits_anonymised = tx.execute(
            "UPDATE visits SET visitor_name = NULL, visitor_company = NULL, visitor_id = NULL,
                 personal_data_purged = 1, updated_at = ?2
             WHERE personal_data_purged = 0 AND state != 'checked_in' AND (
                 checked_out_at < ?1
                 OR (checked_out_at IS NULL AND state != 'invited' AND updated_at < ?1)
                 OR (state = 'invited' AND invite_id IN
                     (SELECT id FROM invites WHERE valid_until < ?1)))",
            (&cutoff, ts(now)),
        )?;
        let invites_anonymised = tx.execute(
            "UPDATE invites SET visitor_name = NULL, visitor_company = NULL,
                 visitor_email = NULL, visitor_phone = NULL, updated_at = ?2
             WHERE valid_until < ?1 AND (visitor_name IS NOT NULL OR visitor_email IS NOT NULL
                 OR visitor_phone IS NOT NULL OR visitor_company IS NOT NULL)
               AND id NOT IN (SELECT invite_id FROM visits
                              WHERE state = 'checked_in' AND invite_id IS NOT NULL)",
            (&cutoff, ts(now)),
        )?;
        let visitors_deleted = tx.execute(
            "DELETE FROM visitors WHERE COALESCE(last_visit_at, created_at) < ?1
               AND id NOT IN (SELECT visitor_id FROM visits
                              WHERE visitor_id IS NOT NULL AND state = 'checked_in')",
            [&cutoff],
        )?;
        let print_jobs_deleted =
            tx.execute("DELETE FROM print_jobs WHERE created_at < ?1", [&cutoff])?;
        let outbox_deleted = tx.execute(
            "DELETE FROM outbox WHERE created_at < ?1 AND (sent_at IS NOT NULL OR ?2 = 0)",
            (&cutoff, keep_undelivered),
        )?;
        let report = PurgeReport {
            visits_anonymised,
            visitors_deleted,
            invites_anonymised,
            print_jobs_deleted,
            outbox_deleted,
        };
        audit_in(
            &tx,
            actor,
            "purge",
            &format!(
                "retention {retention_days} days: {} visits, {} visitors, {} invites",
                report.visits_anonymised, report.visitors_deleted, report.invites_anonymised
            ),
            now,
        )?;
        tx.commit()?;
        Ok(report)
    }

    /// Visits that checked in within `[from, to)`, in order of arrival.
    pub fn export(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ExportRow>> {
        let visits = load_visits(
            &self.conn,
            "checked_in_at >= ?1 AND checked_in_at < ?2 ORDER BY checked_in_at, number",
            [ts(from), ts(to)],
        )?;
        Ok(visits.into_iter().map(ExportRow::from).collect())
    }

    /// Counts of visits by state, for status screens and reports.
    pub fn counts_since(&self, since: Timestamp) -> Result<Vec<(VisitState, u64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT state, COUNT(*) FROM visits
             WHERE checked_in_at >= ?1 OR (state IN ('invited', 'no_show', 'cancelled')
                                           AND updated_at >= ?1)
             GROUP BY state",
        )?;
        let rows = stmt
            .query_map([ts(since)], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<(String, u64)>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, n)| VisitState::parse(&s).map(|s| (s, n)))
            .collect())
    }
}
