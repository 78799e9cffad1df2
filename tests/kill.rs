//! Durability under SIGKILL: check-ins run in real `lobby-kiosk scan` processes that are
//! killed at random moments. Every check-in the program acknowledged must be in the database
//! exactly once, no check-in may be half-written, and SQLite's integrity check must pass.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::Connection;
use uuid::Uuid;

use lobby_kiosk::domain::admit::InviteStatus;
use lobby_kiosk::domain::invite::{mint, InviteClaims, SiteTag};
use lobby_kiosk::domain::shortcode::ShortCode;
use lobby_kiosk::keys::load_or_create_signing_key;
use lobby_kiosk::store::{InviteRecord, InviteSource, Store, DB_FILE};

const KILLS: usize = 200;
const SITE: &str = "hq";

fn scan(config: &Path, data: &Path, token: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lobby-kiosk"));
    c.arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .arg("scan")
        .arg(token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn count(conn: &Connection, sql: &str, id: &str) -> i64 {
    conn.query_row(sql, [id], |r| r.get(0)).unwrap()
}

#[test]
fn acknowledged_check_ins_survive_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        "[site]\nid = \"hq\"\ntimezone = \"UTC\"\n[checkout]\nauto_at = \"\"\n",
    )
    .unwrap();

    // Invites, as the hub would have synced them, and their tokens.
    let key = load_or_create_signing_key(&data).unwrap();
    let now = Utc::now();
    let mut tokens = Vec::new();
    {
        let mut store = Store::open_in(&data).unwrap();
        for i in 0..(KILLS * 3) {
            let id = Uuid::now_v7();
            let n = i as u64;
            let entropy = [
                (n >> 32) as u8,
                (n >> 24) as u8,
                (n >> 16) as u8,
                (n >> 8) as u8,
                n as u8,
            ];
            let record = InviteRecord {
                id,
                short_code: Some(ShortCode::from_entropy(entropy)),
                site_id: SITE.into(),
                visitor_name: Some(format!("Visitor {i}")),
                visitor_company: None,
                visitor_email: Some(format!("visitor{i}@example.com")),
                visitor_phone: None,
                host_id: None,
                purpose: None,
                party_size: 1,
                vip: false,
                valid_from: now - chrono::Duration::hours(1),
                valid_until: now + chrono::Duration::hours(8),
                expected_end: None,
                status: InviteStatus::Active,
                cancelled_at: None,
                source: InviteSource::Hub,
            };
            store.upsert_invite(&record, now).unwrap();
            let claims = InviteClaims {
                invite_id: id,
                site: SiteTag::of(SITE),
                valid_from: record.valid_from,
                valid_until: record.valid_until,
            };
            tokens.push((id, mint(&claims, &key).unwrap()));
        }
    }

    // How long an undisturbed check-in process lives, to spread the kills over it.
    let mut lifetimes = Vec::new();
    let mut acked: Vec<Uuid> = Vec::new();
    for (id, token) in tokens.iter().take(5) {
        let start = Instant::now();
        let out = scan(&config, &data, token).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lifetimes.push(start.elapsed());
        acked.push(*id);
    }
    let lifetime = lifetimes
        .iter()
        .max()
        .copied()
        .unwrap_or(Duration::from_millis(50));

    let mut kills = 0;
    let mut retried_after_kill = 0;
    let mut next = 5;
    let mut rng = fastrand::Rng::with_seed(0x10bb7);
    while kills < KILLS {
        assert!(
            next < tokens.len(),
            "ran out of invites after {kills} kills"
        );
        let (id, token) = &tokens[next];
        next += 1;
        let mut child = scan(&config, &data, token).spawn().unwrap();
        let wait = lifetime.mul_f64(rng.f64() * 1.2);
        std::thread::sleep(wait);
        let killed = matches!(child.try_wait(), Ok(None));
        if killed {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("checked in"));
            acked.push(*id);
            continue;
        }
        assert!(
            killed,
            "a scan failed on its own: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        kills += 1;
        // Every fourth killed visitor scans again, as a person would: whether or not the
        // killed attempt committed, this one is acknowledged and must not add a second visit.
        if kills % 4 == 0 {
            let out = scan(&config, &data, token).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            acked.push(*id);
            retried_after_kill += 1;
        }
    }
    assert!(retried_after_kill >= KILLS / 4);

    let conn = Connection::open(data.join(DB_FILE)).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");

    // Every acknowledged check-in: exactly one visit, checked in, with exactly one event,
    // one outbox row and one badge job.
    for id in &acked {
        let id = id.to_string();
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM visits WHERE invite_id = ?1 AND state = 'checked_in'",
                &id
            ),
            1,
            "acknowledged check-in of invite {id} is missing"
        );
    }
    // Every invite, acknowledged or not: all or nothing.
    let mut committed_unacked = 0;
    for (id, _) in tokens.iter().take(next) {
        let id = id.to_string();
        let visits = count(
            &conn,
            "SELECT COUNT(*) FROM visits WHERE invite_id = ?1",
            &id,
        );
        assert_eq!(visits, 1, "invite {id} has {visits} visits");
        let checked_in = count(
            &conn,
            "SELECT COUNT(*) FROM visits WHERE invite_id = ?1 AND state = 'checked_in'",
            &id,
        );
        let events = count(
            &conn,
            "SELECT COUNT(*) FROM visit_events e JOIN visits v ON v.id = e.visit_id
             WHERE v.invite_id = ?1 AND e.kind = 'checked_in'",
            &id,
        );
        let outbox = count(
            &conn,
            "SELECT COUNT(*) FROM outbox o JOIN visits v ON v.id = o.visit_id
             WHERE v.invite_id = ?1 AND o.kind = 'checked_in'",
            &id,
        );
        let jobs = count(
            &conn,
            "SELECT COUNT(*) FROM print_jobs p JOIN visits v ON v.id = p.visit_id
             WHERE v.invite_id = ?1",
            &id,
        );
        assert_eq!(
            (events, outbox, jobs),
            (checked_in, checked_in, checked_in),
            "invite {id} was half written"
        );
        if checked_in == 1 && !acked.iter().any(|a| a.to_string() == id) {
            committed_unacked += 1;
        }
    }
    // The store is usable afterwards.
    let store = Store::open_in(&data).unwrap();
    assert!(store.integrity_check().is_ok());
    eprintln!(
        "{kills} kills, {} acknowledged check-ins, {committed_unacked} committed just before \
         the kill, {retried_after_kill} re-scans after a kill",
        acked.len()
    );
}
