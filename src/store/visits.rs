//! Hosts, invites, visitors and visits: check-in, walk-in registration and visit events.

use chrono::Utc;
use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde_json::json;
use uuid::Uuid;

use super::{audit_in, parse_opt_ts, parse_ts, parse_uuid, ts, Result, Store, StoreError};
use crate::domain::admit::{admit, check_window, Admission, InviteStatus};
use crate::domain::invite::{InviteClaims, Rejection};
use crate::domain::shortcode::ShortCode;
use crate::domain::visit::{apply, VisitEvent, VisitKind, VisitState, VisitStatus};
use crate::domain::walkin::{merge_profile, recognise, ProfileFields, Recognition, ValidWalkIn};
use crate::domain::Timestamp;

/// A person visitors can come to see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostRecord {
    pub id: String,
    pub name: String,
    pub department: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Lower-cased name, pinyin and initials, for the host search.
    pub search_key: String,
    pub active: bool,
}

/// Where the kiosk learnt of an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteSource {
    Hub,
    Local,
    Token,
}

impl InviteSource {
    fn as_str(self) -> &'static str {
        match self {
            InviteSource::Hub => "hub",
            InviteSource::Local => "local",
            InviteSource::Token => "token",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "hub" => Ok(InviteSource::Hub),
            "local" => Ok(InviteSource::Local),
            "token" => Ok(InviteSource::Token),
            _ => Err(StoreError::Corrupt(format!("invite source {s:?}"))),
        }
    }
}

/// An invite as the kiosk knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InviteRecord {
    pub id: Uuid,
    pub short_code: Option<ShortCode>,
    pub site_id: String,
    pub visitor_name: Option<String>,
    pub visitor_company: Option<String>,
    pub visitor_email: Option<String>,
    pub visitor_phone: Option<String>,
    pub host_id: Option<String>,
    pub purpose: Option<String>,
    pub party_size: u32,
    pub vip: bool,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub expected_end: Option<Timestamp>,
    pub status: InviteStatus,
    pub cancelled_at: Option<Timestamp>,
    pub source: InviteSource,
}

impl InviteRecord {
    /// An active invite carrying only what a token says: id, site and window. Visitor
    /// details are filled in by whoever knows them.
    pub fn from_claims(claims: &InviteClaims, site_id: &str, source: InviteSource) -> Self {
        InviteRecord {
            id: claims.invite_id,
            short_code: None,
            site_id: site_id.to_string(),
            visitor_name: None,
            visitor_company: None,
            visitor_email: None,
            visitor_phone: None,
            host_id: None,
            purpose: None,
            party_size: 1,
            vip: false,
            valid_from: claims.valid_from,
            valid_until: claims.valid_until,
            expected_end: None,
            status: InviteStatus::Active,
            cancelled_at: None,
            source,
        }
    }
}

/// What storing an invite changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteUpsert {
    Created,
    Updated,
    /// The invite was cancelled before the visitor arrived; the visit is now cancelled.
    Cancelled,
    /// The invite was cancelled while the visitor is (or was) already on site: the visit is
    /// kept and flagged so the front desk can act.
    CancelledAfterCheckIn {
        visit_id: Uuid,
    },
}

/// A visit, with what the badge, the roster and the screens need.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VisitRecord {
    pub id: Uuid,
    pub number: i64,
    pub kind: VisitKind,
    pub state: VisitState,
    pub invite_id: Option<Uuid>,
    pub visitor_id: Option<Uuid>,
    pub visitor_name: Option<String>,
    pub visitor_company: Option<String>,
    pub host_id: Option<String>,
    pub host_name: Option<String>,
    pub purpose: Option<String>,
    pub vip: bool,
    pub checkout_code: ShortCode,
    pub expected_end: Option<Timestamp>,
    pub checked_in_at: Option<Timestamp>,
    pub checked_out_at: Option<Timestamp>,
    pub checkout_automatic: bool,
    pub host_notified_at: Option<Timestamp>,
    pub host_confirmed_at: Option<Timestamp>,
    pub rating: Option<u8>,
    pub cancelled_on_site: bool,
}

impl VisitRecord {
    fn status(&self) -> VisitStatus {
        VisitStatus {
            state: Some(self.state),
            host_confirmed: self.host_confirmed_at.is_some(),
            rated: self.rating.is_some(),
        }
    }
}

/// How a visitor presented an invite.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// A token whose signature, site and window were verified.
    Token(&'a InviteClaims),
    /// A typed short code; the invite must be known to the kiosk.
    ShortCode(&'a ShortCode),
}

/// The result of presenting an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckInOutcome {
    /// Checked in now; the badge is queued for printing.
    CheckedIn(VisitRecord),
    /// Already checked in: the same visit, shown again. Nothing was written.
    AlreadyCheckedIn(VisitRecord),
    /// The visit is over (checked out or a no-show).
    AlreadyClosed(VisitRecord),
    /// Refused. For a cancelled invite the front desk has been alerted through the hub.
    Rejected(Rejection),
}

/// The result of a walk-in registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkInOutcome {
    pub visit: VisitRecord,
    pub visitor_id: Uuid,
    /// The visitor was recognised by phone or e-mail; their profile was updated, not copied.
    pub returning: bool,
    /// Phone and e-mail matched two different profiles; the phone's was used.
    pub ambiguous: bool,
}

/// A badge or roster print job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    pub id: i64,
    pub visit_id: Option<Uuid>,
    pub kind: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

const VISIT_COLUMNS: &str = "id, number, kind, state, invite_id, visitor_id, visitor_name, \
     visitor_company, host_id, host_name, purpose, vip, checkout_code, expected_end, \
     checked_in_at, checked_out_at, checkout_automatic, host_notified_at, host_confirmed_at, \
     rating, cancelled_on_site";

struct RawVisit {
    cols: [Option<String>; 21],
    number: i64,
    vip: bool,
    auto: bool,
    rating: Option<i64>,
    cancelled_on_site: bool,
}

fn raw_visit(r: &Row<'_>) -> rusqlite::Result<RawVisit> {
    let mut cols: [Option<String>; 21] = Default::default();
    for (i, c) in cols.iter_mut().enumerate() {
        if ![1, 11, 16, 19, 20].contains(&i) {
            *c = r.get(i)?;
        }
    }
    Ok(RawVisit {
        cols,
        number: r.get(1)?,
        vip: r.get(11)?,
        auto: r.get(16)?,
        rating: r.get(19)?,
        cancelled_on_site: r.get(20)?,
    })
}

impl RawVisit {
    fn take(&mut self, i: usize) -> Option<String> {
        self.cols[i].take()
    }

    fn need(&mut self, i: usize) -> Result<String> {
        self.take(i)
            .ok_or_else(|| StoreError::Corrupt(format!("visit column {i} is empty")))
    }

    fn into_record(mut self) -> Result<VisitRecord> {
        let kind = self.need(2)?;
        let state = self.need(3)?;
        let code = self.need(12)?;
        Ok(VisitRecord {
            id: parse_uuid(&self.need(0)?)?,
            number: self.number,
            kind: VisitKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("visit kind {kind:?}")))?,
            state: VisitState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("visit state {state:?}")))?,
            invite_id: self.take(4).as_deref().map(parse_uuid).transpose()?,
            visitor_id: self.take(5).as_deref().map(parse_uuid).transpose()?,
            visitor_name: self.take(6),
            visitor_company: self.take(7),
            host_id: self.take(8),
            host_name: self.take(9),
            purpose: self.take(10),
            vip: self.vip,
            checkout_code: ShortCode::parse(&code)
                .map_err(|e| StoreError::Corrupt(format!("checkout code {code:?}: {e}")))?,
            expected_end: parse_opt_ts(self.take(13))?,
            checked_in_at: parse_opt_ts(self.take(14))?,
            checked_out_at: parse_opt_ts(self.take(15))?,
            checkout_automatic: self.auto,
            host_notified_at: parse_opt_ts(self.take(17))?,
            host_confirmed_at: parse_opt_ts(self.take(18))?,
            rating: self.rating.and_then(|r| u8::try_from(r).ok()),
            cancelled_on_site: self.cancelled_on_site,
        })
    }
}

pub(super) fn load_visit(
    conn: &rusqlite::Connection,
    where_sql: &str,
    param: &dyn rusqlite::ToSql,
) -> Result<Option<VisitRecord>> {
    let sql = format!("SELECT {VISIT_COLUMNS} FROM visits WHERE {where_sql}");
    conn.query_row(&sql, [param], raw_visit)
        .optional()?
        .map(RawVisit::into_record)
        .transpose()
}

pub(super) fn load_visits(
    conn: &rusqlite::Connection,
    where_sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<VisitRecord>> {
    let sql = format!("SELECT {VISIT_COLUMNS} FROM visits WHERE {where_sql}");
    let mut stmt = conn.prepare(&sql)?;
    let raws = stmt
        .query_map(params, raw_visit)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(RawVisit::into_record).collect()
}

const INVITE_COLUMNS: &str = "id, short_code, site_id, visitor_name, visitor_company, \
     visitor_email, visitor_phone, host_id, purpose, party_size, vip, valid_from, valid_until, \
     expected_end, status, cancelled_at, source";

fn invite_from_row(r: &Row<'_>) -> rusqlite::Result<[Option<String>; 17]> {
    let mut cols: [Option<String>; 17] = Default::default();
    for (i, c) in cols.iter_mut().enumerate() {
        *c = match i {
            9 | 10 => r.get::<_, Option<i64>>(i)?.map(|v| v.to_string()),
            _ => r.get(i)?,
        };
    }
    Ok(cols)
}

fn invite_record(mut c: [Option<String>; 17]) -> Result<InviteRecord> {
    let mut need = |i: usize| {
        c[i].take()
            .ok_or_else(|| StoreError::Corrupt(format!("invite column {i} is empty")))
    };
    let id = parse_uuid(&need(0)?)?;
    let site_id = need(2)?;
    let party: String = need(9)?;
    let vip: String = need(10)?;
    let valid_from = parse_ts(&need(11)?)?;
    let valid_until = parse_ts(&need(12)?)?;
    let status = need(14)?;
    let source = InviteSource::parse(&need(16)?)?;
    Ok(InviteRecord {
        id,
        short_code: c[1]
            .take()
            .map(|s| {
                ShortCode::parse(&s)
                    .map_err(|e| StoreError::Corrupt(format!("short code {s:?}: {e}")))
            })
            .transpose()?,
        site_id,
        visitor_name: c[3].take(),
        visitor_company: c[4].take(),
        visitor_email: c[5].take(),
        visitor_phone: c[6].take(),
        host_id: c[7].take(),
        purpose: c[8].take(),
        party_size: party.parse().unwrap_or(1),
        vip: vip != "0",
        valid_from,
        valid_until,
        expected_end: parse_opt_ts(c[13].take())?,
        status: InviteStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("invite status {status:?}")))?,
        cancelled_at: parse_opt_ts(c[15].take())?,
        source,
    })
}

fn load_invite(
    conn: &rusqlite::Connection,
    where_sql: &str,
    param: &dyn rusqlite::ToSql,
) -> Result<Option<InviteRecord>> {
    let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE {where_sql}");
    conn.query_row(&sql, [param], invite_from_row)
        .optional()?
        .map(invite_record)
        .transpose()
}

fn random_code() -> Result<ShortCode> {
    let mut b = [0u8; 5];
    getrandom::getrandom(&mut b)
        .map_err(|e| StoreError::Corrupt(format!("no randomness available: {e}")))?;
    Ok(ShortCode::from_entropy(b))
}

/// Creates a visit row (not yet an event) and returns its id.
#[allow(clippy::too_many_arguments)]
fn insert_visit(
    tx: &Transaction<'_>,
    kind: VisitKind,
    state: VisitState,
    invite: Option<&InviteRecord>,
    host: Option<&HostRecord>,
    purpose: Option<&str>,
    now: Timestamp,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let number: i64 = tx.query_row("SELECT COALESCE(MAX(number), 0) + 1 FROM visits", [], |r| {
        r.get(0)
    })?;
    let mut code = random_code()?;
    while tx
        .query_row(
            "SELECT 1 FROM visits WHERE checkout_code = ?1",
            [code.as_str()],
            |_| Ok(()),
        )
        .optional()?
        .is_some()
    {
        code = random_code()?;
    }
    tx.execute(
        "INSERT INTO visits (id, number, kind, state, invite_id, visitor_name, visitor_company,
             host_id, host_name, purpose, vip, checkout_code, expected_end, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
        params![
            id.to_string(),
            number,
            kind.as_str(),
            state.as_str(),
            invite.map(|i| i.id.to_string()),
            invite.and_then(|i| i.visitor_name.clone()),
            invite.and_then(|i| i.visitor_company.clone()),
            host.map(|h| h.id.clone()),
            host.map(|h| h.name.clone()),
            purpose,
            invite.is_some_and(|i| i.vip),
            code.as_str(),
            invite.and_then(|i| i.expected_end).map(ts),
            ts(now),
        ],
    )?;
    Ok(id)
}

/// Applies `event` to the visit: checks the state machine, updates the visit, appends the
/// event and (if `to_hub`) its outbox row, all inside the caller's transaction.
pub(super) fn apply_event(
    tx: &Transaction<'_>,
    visit: &VisitRecord,
    event: VisitEvent,
    occurred_at: Timestamp,
    to_hub: bool,
    hub_data: serde_json::Value,
) -> Result<()> {
    apply_event_from(
        tx,
        visit,
        visit.status(),
        event,
        occurred_at,
        to_hub,
        hub_data,
    )
}

/// [`apply_event`] from an explicit status: a walk-in's row exists before its first event.
fn apply_event_from(
    tx: &Transaction<'_>,
    visit: &VisitRecord,
    status: VisitStatus,
    event: VisitEvent,
    occurred_at: Timestamp,
    to_hub: bool,
    hub_data: serde_json::Value,
) -> Result<()> {
    let next = apply(status, event)?;
    let at = ts(occurred_at);
    let recorded = ts(Utc::now());
    let id = visit.id.to_string();
    let state = next.state.unwrap_or(visit.state).as_str();
    match event {
        VisitEvent::CheckedIn => tx.execute(
            "UPDATE visits SET state = ?2, checked_in_at = ?3, updated_at = ?4 WHERE id = ?1",
            (&id, state, &at, &recorded),
        )?,
        VisitEvent::CheckedOut { automatic } => tx.execute(
            "UPDATE visits SET state = ?2, checked_out_at = ?3, checkout_automatic = ?4,
                 updated_at = ?5 WHERE id = ?1",
            (&id, state, &at, automatic, &recorded),
        )?,
        VisitEvent::HostNotified => tx.execute(
            "UPDATE visits SET host_notified_at = COALESCE(host_notified_at, ?2), updated_at = ?3
             WHERE id = ?1",
            (&id, &at, &recorded),
        )?,
        VisitEvent::HostConfirmed => tx.execute(
            "UPDATE visits SET host_confirmed_at = ?2, updated_at = ?3 WHERE id = ?1",
            (&id, &at, &recorded),
        )?,
        VisitEvent::Rated { stars } => tx.execute(
            "UPDATE visits SET rating = ?2, updated_at = ?3 WHERE id = ?1",
            (&id, stars, &recorded),
        )?,
        VisitEvent::NoShow | VisitEvent::Cancelled => tx.execute(
            "UPDATE visits SET state = ?2, updated_at = ?3 WHERE id = ?1",
            (&id, state, &recorded),
        )?,
        VisitEvent::BadgePrinted => 0,
    };
    let event_id = Uuid::now_v7();
    let data =
        serde_json::to_value(event).map_err(|e| StoreError::Corrupt(format!("event {e}")))?;
    tx.execute(
        "INSERT INTO visit_events (id, visit_id, kind, occurred_at, recorded_at, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        (
            event_id.to_string(),
            &id,
            event.name(),
            &at,
            &recorded,
            data.to_string(),
        ),
    )?;
    if to_hub {
        let payload = json!({
            "event_id": event_id,
            "visit_id": visit.id,
            "visit_number": visit.number,
            "visit_kind": visit.kind,
            "invite_id": visit.invite_id,
            "kind": event.name(),
            "event": data,
            "occurred_at": at,
            "data": hub_data,
        });
        tx.execute(
            "INSERT INTO outbox (id, kind, visit_id, payload, occurred_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (
                event_id.to_string(),
                event.name(),
                &id,
                payload.to_string(),
                &at,
                &recorded,
            ),
        )?;
    }
    Ok(())
}

fn queue_print(tx: &Transaction<'_>, visit_id: Uuid, now: Timestamp) -> Result<i64> {
    tx.execute(
        "INSERT INTO print_jobs (visit_id, kind, status, created_at, updated_at)
         VALUES (?1, 'badge', 'queued', ?2, ?2)",
        (visit_id.to_string(), ts(now)),
    )?;
    Ok(tx.last_insert_rowid())
}

fn host_in(tx: &rusqlite::Connection, id: &str) -> Result<Option<HostRecord>> {
    Ok(tx
        .query_row(
            "SELECT id, name, department, email, phone, search_key, active FROM hosts
             WHERE id = ?1",
            [id],
            |r| {
                Ok(HostRecord {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    department: r.get(2)?,
                    email: r.get(3)?,
                    phone: r.get(4)?,
                    search_key: r.get(5)?,
                    active: r.get(6)?,
                })
            },
        )
        .optional()?)
}

/// Finds or creates the visitor profile for these details; returns (id, returning, ambiguous).
fn upsert_visitor(
    tx: &Transaction<'_>,
    details: &ValidWalkIn,
    now: Timestamp,
) -> Result<(Uuid, bool, bool)> {
    let find = |col: &str, v: &Option<String>| -> Result<Option<String>> {
        match v {
            None => Ok(None),
            Some(v) => Ok(tx
                .query_row(
                    &format!("SELECT id FROM visitors WHERE {col} = ?1"),
                    [v],
                    |r| r.get(0),
                )
                .optional()?),
        }
    };
    let by_phone = find("phone_e164", &details.phone_e164)?;
    let by_email = find("email", &details.email)?;
    let (existing, ambiguous) = match recognise(by_phone, by_email) {
        Recognition::New => (None, false),
        Recognition::Returning(id) => (Some(id), false),
        Recognition::Ambiguous { by_phone, .. } => (Some(by_phone), true),
    };
    let Some(id) = existing else {
        let id = Uuid::now_v7();
        tx.execute(
            "INSERT INTO visitors (id, name, company, phone_e164, email, created_at, updated_at,
                 last_visit_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
            params![
                id.to_string(),
                details.name,
                details.company,
                details.phone_e164,
                details.email,
                ts(now),
            ],
        )?;
        return Ok((id, false, false));
    };
    let current = tx.query_row(
        "SELECT name, phone_e164, email, company FROM visitors WHERE id = ?1",
        [&id],
        |r| {
            Ok(ProfileFields {
                name: r.get(0)?,
                phone_e164: r.get(1)?,
                email: r.get(2)?,
                company: r.get(3)?,
            })
        },
    )?;
    let mut merged = merge_profile(&current, details);
    if ambiguous {
        // The e-mail belongs to another profile; keep this one's own address.
        merged.email = current.email.clone();
    }
    tx.execute(
        "UPDATE visitors SET name = ?2, phone_e164 = ?3, email = ?4, company = ?5,
             updated_at = ?6, last_visit_at = ?6 WHERE id = ?1",
        params![
            id,
            merged.name,
            merged.phone_e164,
            merged.email,
            merged.company,
            ts(now)
        ],
    )?;
    Ok((parse_uuid(&id)?, true, ambiguous))
}

impl Store {
    /// Adds or updates a host in the directory.
    pub fn upsert_host(&mut self, host: &HostRecord, now: Timestamp) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO hosts (id, name, department, email, phone, search_key, active, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, department = excluded.department,
                 email = excluded.email, phone = excluded.phone, search_key = excluded.search_key,
                 active = excluded.active, updated_at = excluded.updated_at",
            params![
                host.id,
                host.name,
                host.department,
                host.email,
                host.phone,
                host.search_key,
                host.active,
                ts(now)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn host(&self, id: &str) -> Result<Option<HostRecord>> {
        host_in(&self.conn, id)
    }

    pub fn invite(&self, id: Uuid) -> Result<Option<InviteRecord>> {
        load_invite(&self.conn, "id = ?1", &id.to_string())
    }

    pub fn invite_by_short_code(&self, code: &ShortCode) -> Result<Option<InviteRecord>> {
        load_invite(&self.conn, "short_code = ?1", &code.as_str())
    }

    /// Stores an invite from the hub (or minted here), creating its visit in the invited
    /// state. A cancellation cancels the visit, or flags it if the visitor already arrived.
    pub fn upsert_invite(&mut self, invite: &InviteRecord, now: Timestamp) -> Result<InviteUpsert> {
        let tx = self.write()?;
        let outcome = upsert_invite_in(&tx, invite, now)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Cancels an invite known to this kiosk (standalone mode, or a cancellation from the hub).
    pub fn cancel_invite(&mut self, id: Uuid, at: Timestamp) -> Result<InviteUpsert> {
        let tx = self.write()?;
        let mut invite = load_invite(&tx, "id = ?1", &id.to_string())?
            .ok_or_else(|| StoreError::NotFound(format!("invite {id}")))?;
        invite.status = InviteStatus::Cancelled;
        invite.cancelled_at = Some(at);
        let outcome = upsert_invite_in(&tx, &invite, at)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// A visitor presents an invite: check them in, show their visit again, or say why not.
    /// `site_id` and `clock_skew` apply to the invite as stored, which may have been moved
    /// since the token was issued.
    pub fn present_invite(
        &mut self,
        presented: Presented<'_>,
        site_id: &str,
        clock_skew: chrono::Duration,
        at: Timestamp,
    ) -> Result<CheckInOutcome> {
        let tx = self.write()?;
        let invite = match presented {
            Presented::Token(claims) => {
                match load_invite(&tx, "id = ?1", &claims.invite_id.to_string())? {
                    Some(i) => i,
                    None => {
                        // Signed by the hub but not synced yet: admit on the token's word.
                        let stub = InviteRecord::from_claims(claims, site_id, InviteSource::Token);
                        upsert_invite_in(&tx, &stub, at)?;
                        stub
                    }
                }
            }
            Presented::ShortCode(code) => {
                match load_invite(&tx, "short_code = ?1", &code.as_str())? {
                    Some(i) => i,
                    None => return Ok(CheckInOutcome::Rejected(Rejection::UnknownShortCode)),
                }
            }
        };
        if invite.site_id != site_id {
            return Ok(CheckInOutcome::Rejected(Rejection::OtherSite));
        }
        let visit = load_visit(&tx, "invite_id = ?1", &invite.id.to_string())?
            .ok_or_else(|| StoreError::Corrupt(format!("invite {} has no visit", invite.id)))?;
        let window = check_window(invite.valid_from, invite.valid_until, at, clock_skew);
        let outcome = match admit(invite.status, visit.state, window) {
            Admission::AlreadyCheckedIn => CheckInOutcome::AlreadyCheckedIn(visit),
            Admission::AlreadyClosed(_) => CheckInOutcome::AlreadyClosed(visit),
            Admission::Rejected(reason) => {
                if reason == Rejection::Cancelled {
                    // The front desk must hear that someone came for a cancelled meeting.
                    let id = Uuid::now_v7();
                    let payload = json!({
                        "event_id": id,
                        "kind": "cancelled_invite_presented",
                        "invite_id": invite.id,
                        "visit_id": visit.id,
                        "occurred_at": ts(at),
                    });
                    tx.execute(
                        "INSERT INTO outbox (id, kind, visit_id, payload, occurred_at, created_at)
                         VALUES (?1, 'cancelled_invite_presented', ?2, ?3, ?4, ?5)",
                        (
                            id.to_string(),
                            visit.id.to_string(),
                            payload.to_string(),
                            ts(at),
                            ts(Utc::now()),
                        ),
                    )?;
                    tx.commit()?;
                }
                return Ok(CheckInOutcome::Rejected(reason));
            }
            Admission::CheckIn => {
                let details = invite_visitor(&invite);
                let visitor = match &details {
                    Some(d) => Some(upsert_visitor(&tx, d, at)?.0),
                    None => None,
                };
                if let Some(v) = visitor {
                    tx.execute(
                        "UPDATE visits SET visitor_id = ?2 WHERE id = ?1",
                        (visit.id.to_string(), v.to_string()),
                    )?;
                }
                apply_event(
                    &tx,
                    &visit,
                    VisitEvent::CheckedIn,
                    at,
                    true,
                    json!({ "visitor_id": visitor }),
                )?;
                queue_print(&tx, visit.id, at)?;
                let fresh = load_visit(&tx, "id = ?1", &visit.id.to_string())?
                    .ok_or_else(|| StoreError::NotFound(format!("visit {}", visit.id)))?;
                CheckInOutcome::CheckedIn(fresh)
            }
        };
        if matches!(outcome, CheckInOutcome::CheckedIn(_)) {
            tx.commit()?;
        }
        Ok(outcome)
    }

    /// Registers a walk-in visitor and checks them in, in one transaction: the visitor
    /// profile (recognised by phone or e-mail, never duplicated), the visit, its event, the
    /// outbox row for the hub and the badge print job.
    pub fn register_walk_in(&mut self, form: &ValidWalkIn, at: Timestamp) -> Result<WalkInOutcome> {
        let tx = self.write()?;
        let host = match &form.host_id {
            Some(id) => {
                Some(host_in(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("host {id}")))?)
            }
            None => None,
        };
        let (visitor_id, returning, ambiguous) = upsert_visitor(&tx, form, at)?;
        let id = insert_visit(
            &tx,
            VisitKind::WalkIn,
            VisitState::CheckedIn,
            None,
            host.as_ref(),
            form.purpose.as_deref(),
            at,
        )?;
        // The row is written first so the event can refer to it; the machine sees the walk-in
        // as not yet registered, the only state that accepts this first check-in.
        tx.execute(
            "UPDATE visits SET visitor_id = ?2, visitor_name = ?3, visitor_company = ?4
             WHERE id = ?1",
            params![
                id.to_string(),
                visitor_id.to_string(),
                form.name,
                form.company
            ],
        )?;
        let visit = load_visit(&tx, "id = ?1", &id.to_string())?
            .ok_or_else(|| StoreError::NotFound(format!("visit {id}")))?;
        apply_event_from(
            &tx,
            &visit,
            VisitStatus::new(VisitKind::WalkIn),
            VisitEvent::CheckedIn,
            at,
            true,
            json!({
                "visitor_id": visitor_id,
                "visitor": {
                    "name": form.name,
                    "company": form.company,
                    "phone": form.phone_e164,
                    "email": form.email,
                },
                "host_id": form.host_id,
                "purpose": form.purpose,
                "returning": returning,
            }),
        )?;
        queue_print(&tx, id, at)?;
        let visit = load_visit(&tx, "id = ?1", &id.to_string())?
            .ok_or_else(|| StoreError::NotFound(format!("visit {id}")))?;
        tx.commit()?;
        Ok(WalkInOutcome {
            visit,
            visitor_id,
            returning,
            ambiguous,
        })
    }

    /// Records a later event of a visit (badge printed, host notified or confirmed, check-out,
    /// rating) at the moment it happened. Illegal events are refused and nothing is written.
    pub fn record(
        &mut self,
        visit_id: Uuid,
        event: VisitEvent,
        at: Timestamp,
    ) -> Result<VisitRecord> {
        let tx = self.write()?;
        let visit = load_visit(&tx, "id = ?1", &visit_id.to_string())?
            .ok_or_else(|| StoreError::NotFound(format!("visit {visit_id}")))?;
        apply_event(&tx, &visit, event, at, true, json!({}))?;
        let fresh = load_visit(&tx, "id = ?1", &visit_id.to_string())?
            .ok_or_else(|| StoreError::NotFound(format!("visit {visit_id}")))?;
        tx.commit()?;
        Ok(fresh)
    }

    pub fn visit(&self, id: Uuid) -> Result<Option<VisitRecord>> {
        load_visit(&self.conn, "id = ?1", &id.to_string())
    }

    pub fn visit_by_invite(&self, invite_id: Uuid) -> Result<Option<VisitRecord>> {
        load_visit(&self.conn, "invite_id = ?1", &invite_id.to_string())
    }

    /// The visit whose badge slip carries this check-out code.
    pub fn visit_by_checkout_code(&self, code: &ShortCode) -> Result<Option<VisitRecord>> {
        load_visit(&self.conn, "checkout_code = ?1", &code.as_str())
    }

    /// The events of a visit in the order they happened: (kind, occurred_at).
    pub fn visit_events(&self, visit_id: Uuid) -> Result<Vec<(String, Timestamp)>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, occurred_at FROM visit_events WHERE visit_id = ?1
             ORDER BY occurred_at, id",
        )?;
        let rows = stmt
            .query_map([visit_id.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(k, t)| Ok((k, parse_ts(&t)?)))
            .collect()
    }

    /// Queues a reprint of a visit's badge, on behalf of a member of staff.
    pub fn queue_reprint(&mut self, visit_id: Uuid, actor: &str, now: Timestamp) -> Result<i64> {
        let tx = self.write()?;
        let visit = load_visit(&tx, "id = ?1", &visit_id.to_string())?
            .ok_or_else(|| StoreError::NotFound(format!("visit {visit_id}")))?;
        let job = queue_print(&tx, visit.id, now)?;
        audit_in(
            &tx,
            actor,
            "reprint_badge",
            &format!("visit #{}", visit.number),
            now,
        )?;
        tx.commit()?;
        Ok(job)
    }

    /// Queues a printout of the evacuation roster, on behalf of a member of staff or IT.
    pub fn queue_roster_print(&mut self, actor: &str, now: Timestamp) -> Result<i64> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO print_jobs (visit_id, kind, status, created_at, updated_at)
             VALUES (NULL, 'roster', 'queued', ?1, ?1)",
            [ts(now)],
        )?;
        let job = tx.last_insert_rowid();
        audit_in(&tx, actor, "print_roster", "", now)?;
        tx.commit()?;
        Ok(job)
    }

    /// Removes an unprinted job that no longer makes sense (a roster that could not print is
    /// out of date by the time the printer works again).
    pub fn discard_print_job(&mut self, job_id: i64, now: Timestamp) -> Result<()> {
        let tx = self.write()?;
        let n = tx.execute(
            "DELETE FROM print_jobs WHERE id = ?1 AND status != 'printed' AND visit_id IS NULL",
            [job_id],
        )?;
        if n > 0 {
            audit_in(
                &tx,
                "system",
                "discard_print_job",
                &format!("job {job_id}"),
                now,
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Print jobs that have not printed yet (queued or failed), oldest first.
    pub fn unprinted_jobs(&self) -> Result<Vec<PrintJob>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, visit_id, kind, status, attempts, last_error, created_at FROM print_jobs
             WHERE status IN ('queued', 'failed') ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, u32>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, v, kind, status, attempts, last_error, at)| {
                Ok(PrintJob {
                    id,
                    visit_id: v.as_deref().map(parse_uuid).transpose()?,
                    kind,
                    status,
                    attempts,
                    last_error,
                    created_at: parse_ts(&at)?,
                })
            })
            .collect()
    }

    /// Records the outcome of a print attempt. A printed badge also becomes a visit event.
    pub fn finish_print_job(
        &mut self,
        job_id: i64,
        result: std::result::Result<(), &str>,
        at: Timestamp,
    ) -> Result<()> {
        let tx = self.write()?;
        let visit: Option<Option<String>> = tx
            .query_row(
                "SELECT visit_id FROM print_jobs WHERE id = ?1",
                [job_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(visit) = visit else {
            return Err(StoreError::NotFound(format!("print job {job_id}")));
        };
        match result {
            Ok(()) => {
                tx.execute(
                    "UPDATE print_jobs SET status = 'printed', attempts = attempts + 1,
                         last_error = NULL, updated_at = ?2 WHERE id = ?1",
                    (job_id, ts(at)),
                )?;
                if let Some(v) = visit {
                    let record = load_visit(&tx, "id = ?1", &v)?
                        .ok_or_else(|| StoreError::NotFound(format!("visit {v}")))?;
                    if record.state == VisitState::CheckedIn {
                        apply_event(&tx, &record, VisitEvent::BadgePrinted, at, true, json!({}))?;
                    }
                }
            }
            Err(why) => {
                tx.execute(
                    "UPDATE print_jobs SET status = 'failed', attempts = attempts + 1,
                         last_error = ?2, updated_at = ?3 WHERE id = ?1",
                    (job_id, why, ts(at)),
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// The visitor details an invite carries, as a profile to recognise or create.
fn invite_visitor(invite: &InviteRecord) -> Option<ValidWalkIn> {
    let name = invite.visitor_name.clone()?;
    if invite.visitor_phone.is_none() && invite.visitor_email.is_none() {
        return None;
    }
    Some(ValidWalkIn {
        name,
        phone_e164: invite.visitor_phone.clone(),
        email: invite.visitor_email.clone(),
        company: invite.visitor_company.clone(),
        host_id: invite.host_id.clone(),
        purpose: invite.purpose.clone(),
    })
}

fn upsert_invite_in(
    tx: &Transaction<'_>,
    invite: &InviteRecord,
    now: Timestamp,
) -> Result<InviteUpsert> {
    let existed = load_invite(tx, "id = ?1", &invite.id.to_string())?;
    tx.execute(
        "INSERT INTO invites (id, short_code, site_id, visitor_name, visitor_company,
             visitor_email, visitor_phone, host_id, purpose, party_size, vip, valid_from,
             valid_until, expected_end, status, cancelled_at, source, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT(id) DO UPDATE SET short_code = excluded.short_code,
             site_id = excluded.site_id, visitor_name = excluded.visitor_name,
             visitor_company = excluded.visitor_company, visitor_email = excluded.visitor_email,
             visitor_phone = excluded.visitor_phone, host_id = excluded.host_id,
             purpose = excluded.purpose, party_size = excluded.party_size, vip = excluded.vip,
             valid_from = excluded.valid_from, valid_until = excluded.valid_until,
             expected_end = excluded.expected_end, status = excluded.status,
             cancelled_at = excluded.cancelled_at, source = excluded.source,
             updated_at = excluded.updated_at",
        params![
            invite.id.to_string(),
            invite.short_code.as_ref().map(|c| c.as_str().to_string()),
            invite.site_id,
            invite.visitor_name,
            invite.visitor_company,
            invite.visitor_email,
            invite.visitor_phone,
            invite.host_id,
            invite.purpose,
            invite.party_size,
            invite.vip,
            ts(invite.valid_from),
            ts(invite.valid_until),
            invite.expected_end.map(ts),
            invite.status.as_str(),
            invite.cancelled_at.map(ts),
            invite.source.as_str(),
            ts(now),
        ],
    )?;
    let host = match &invite.host_id {
        Some(h) => host_in(tx, h)?,
        None => None,
    };
    let visit = match load_visit(tx, "invite_id = ?1", &invite.id.to_string())? {
        Some(v) => {
            // Keep the visit's copy of the details in step while it has not started.
            if v.state == VisitState::Invited {
                tx.execute(
                    "UPDATE visits SET visitor_name = ?2, visitor_company = ?3, host_id = ?4,
                         host_name = ?5, purpose = ?6, vip = ?7, expected_end = ?8,
                         updated_at = ?9 WHERE id = ?1",
                    params![
                        v.id.to_string(),
                        invite.visitor_name,
                        invite.visitor_company,
                        host.as_ref().map(|h| h.id.clone()),
                        host.as_ref().map(|h| h.name.clone()),
                        invite.purpose,
                        invite.vip,
                        invite.expected_end.map(ts),
                        ts(now),
                    ],
                )?;
            } else {
                // Admitted on a token before the invite itself arrived: take the names now.
                tx.execute(
                    "UPDATE visits SET visitor_name = COALESCE(visitor_name, ?2),
                         visitor_company = COALESCE(visitor_company, ?3),
                         host_id = COALESCE(host_id, ?4), host_name = COALESCE(host_name, ?5),
                         purpose = COALESCE(purpose, ?6), updated_at = ?7 WHERE id = ?1",
                    params![
                        v.id.to_string(),
                        invite.visitor_name,
                        invite.visitor_company,
                        host.as_ref().map(|h| h.id.clone()),
                        host.as_ref().map(|h| h.name.clone()),
                        invite.purpose,
                        ts(now),
                    ],
                )?;
            }
            v
        }
        None => {
            let id = insert_visit(
                tx,
                VisitKind::Invite,
                VisitState::Invited,
                Some(invite),
                host.as_ref(),
                invite.purpose.as_deref(),
                now,
            )?;
            load_visit(tx, "id = ?1", &id.to_string())?
                .ok_or_else(|| StoreError::NotFound(format!("visit {id}")))?
        }
    };
    if invite.status == InviteStatus::Cancelled {
        let at = invite.cancelled_at.unwrap_or(now);
        return match visit.state {
            VisitState::Invited => {
                apply_event(tx, &visit, VisitEvent::Cancelled, at, false, json!({}))?;
                Ok(InviteUpsert::Cancelled)
            }
            VisitState::Cancelled | VisitState::NoShow | VisitState::CheckedOut => {
                Ok(InviteUpsert::Updated)
            }
            VisitState::CheckedIn => {
                tx.execute(
                    "UPDATE visits SET cancelled_on_site = 1 WHERE id = ?1",
                    [visit.id.to_string()],
                )?;
                Ok(InviteUpsert::CancelledAfterCheckIn { visit_id: visit.id })
            }
        };
    }
    Ok(if existed.is_some() {
        InviteUpsert::Updated
    } else {
        InviteUpsert::Created
    })
}
