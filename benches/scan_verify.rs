//! Scan latency against a realistically sized invite store.
//!
//! Goal: verifying a token and finding its invite among 100,000 invites takes under 1 ms
//! per scan at p99 on the kiosk's 2-core hardware.
//!
//! Setup (not timed): a fresh data directory in the system temp dir (on the same disk the
//! kiosk would use), a configuration that trusts one fixed hub key, 100,000 hub invites
//! stored one by one through the store's public API, tokens minted for a random sample of
//! 1,000 of them, and those 1,000 checked in once so that scanning them again is the
//! read-only "already checked in" path.
//!
//! Measured, first with criterion and then in a plain loop that prints min / p50 / p99 / max:
//!
//! * `verify_token`: decoding and Ed25519 verification only;
//! * `scan_known_invite_already_checked_in`: `Kiosk::scan` of a token whose visitor is
//!   already on site (verify, look up the invite and its visit, nothing written);
//! * `scan_short_code_lookup`: the same through a typed short code;
//! * `scan_check_in_new`: a first scan that checks the visitor in, a write transaction
//!   that is synced to disk before it returns. Each run uses an invite not presented before.
//!
//! Every scan happens at one fixed moment inside all validity windows, so results do not
//! depend on the day the benchmark runs.
//!
//! `cargo bench --bench scan_verify` runs the full size; `cargo test --benches` runs the
//! same code once on a small store, as a quick check that it still works.

use std::fs::OpenOptions;
use std::hint::black_box;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion};
use ed25519_dalek::{SigningKey, VerifyingKey};
use lobby_kiosk::config::Config;
use lobby_kiosk::domain::admit::InviteStatus;
use lobby_kiosk::domain::invite::{
    encode_public_key, mint, signing_key_from_seed, verify, InviteClaims, SiteTag,
};
use lobby_kiosk::domain::shortcode::ShortCode;
use lobby_kiosk::domain::Timestamp;
use lobby_kiosk::kiosk::{Kiosk, ScanOutcome};
use lobby_kiosk::store::{CheckInOutcome, InviteRecord, InviteSource, InviteUpsert};
use tempfile::TempDir;

/// The moment every scan happens: Monday 2 June 2025, 09:00 UTC.
const SCAN_AT_UNIX: i64 = 1_748_854_800;
/// Seed of the hub key that signs every token.
const HUB_SEED: [u8; 32] = [0x4c; 32];
/// Seed of the random choices (ids, windows, sample), so every run builds the same store.
const RNG_SEED: u64 = 0x4c4b_5343_414e;
/// The p99 the read paths must stay under.
const P99_TARGET: Duration = Duration::from_millis(1);

/// How big a run is.
struct Scale {
    invites: usize,
    sample: usize,
    read_runs: usize,
    write_runs: usize,
    fsync_runs: usize,
}

const FULL: Scale = Scale {
    invites: 100_000,
    sample: 1_000,
    read_runs: 2_000,
    write_runs: 500,
    fsync_runs: 200,
};

/// `cargo test --benches`: exercise every path once on a small store.
const QUICK: Scale = Scale {
    invites: 2_000,
    sample: 100,
    read_runs: 50,
    write_runs: 20,
    fsync_runs: 5,
};

/// Invites that have not been presented yet, each used for exactly one first check-in.
struct FreshInvites {
    claims: Vec<InviteClaims>,
    key: SigningKey,
}

impl FreshInvites {
    /// The token of the next invite nobody has presented yet.
    fn next_token(&mut self) -> String {
        let claims = self
            .claims
            .pop()
            .expect("more first check-ins than fresh invites in the store");
        mint(&claims, &self.key).expect("mint a token")
    }
}

/// The kiosk with its filled store, and what the scans present to it.
struct Fixture {
    kiosk: Kiosk,
    keys: Vec<VerifyingKey>,
    site: String,
    skew: chrono::Duration,
    at: Timestamp,
    /// Tokens of the sampled invites, all checked in during setup.
    arrived_tokens: Vec<String>,
    /// The same invites' short codes, as printed on the invitation (`ABCD-EFGH`).
    arrived_codes: Vec<String>,
    fresh: FreshInvites,
    setup_time: Duration,
    invites: usize,
    // Last, so the data directory is removed only after the kiosk has closed its store.
    _data_dir: TempDir,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Same rule criterion applies: without `--bench` (or with `--test`) this is a test run.
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let scale = if full { FULL } else { QUICK };

    let mut fixture = setup(&scale);
    println!(
        "setup: {} invites stored one by one, {} checked in, in {:.1} s",
        fixture.invites,
        fixture.arrived_tokens.len(),
        fixture.setup_time.as_secs_f64()
    );
    sanity_check(&mut fixture);

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_benches(&mut criterion, &mut fixture);
    criterion.final_summary();

    latency_table(&mut fixture, &scale);
}

fn setup(scale: &Scale) -> Fixture {
    let started = Instant::now();
    let at = DateTime::<Utc>::from_timestamp(SCAN_AT_UNIX, 0).expect("valid scan moment");
    let key = signing_key_from_seed(HUB_SEED);
    let mut config = Config::embedded().expect("embedded configuration");
    config.invites.trusted_keys = vec![encode_public_key(&key.verifying_key())];
    let site = config.site.id.clone();
    let site_tag = SiteTag::of(&site);

    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let mut kiosk = Kiosk::open(config, data_dir.path()).expect("open the kiosk");
    let skew = kiosk.clock_skew();

    let mut rng = fastrand::Rng::with_seed(RNG_SEED);
    let mut all = Vec::with_capacity(scale.invites);
    let mut codes = Vec::with_capacity(scale.invites);
    for i in 0..scale.invites {
        let id = uuid::Builder::from_random_bytes(rng.u128(..).to_le_bytes()).into_uuid();
        let code = ShortCode::from_entropy(distinct_entropy(i as u64));
        let valid_from = at - chrono::Duration::minutes(rng.i64(0..240));
        let valid_until = at + chrono::Duration::minutes(rng.i64(60..600));
        let record = InviteRecord {
            id,
            short_code: Some(code.clone()),
            site_id: site.clone(),
            visitor_name: Some(format!("Visitor {i}")),
            visitor_company: Some("Example Ltd".to_owned()),
            visitor_email: Some(format!("visitor{i}@example.com")),
            visitor_phone: None,
            host_id: None,
            purpose: Some("Meeting".to_owned()),
            party_size: 1,
            vip: false,
            valid_from,
            valid_until,
            expected_end: None,
            status: InviteStatus::Active,
            cancelled_at: None,
            source: InviteSource::Hub,
        };
        let stored = kiosk
            .store
            .upsert_invite(&record, at - chrono::Duration::days(1))
            .expect("store an invite");
        assert_eq!(stored, InviteUpsert::Created);
        all.push(InviteClaims {
            invite_id: id,
            site: site_tag,
            valid_from,
            valid_until,
        });
        codes.push(code);
    }

    let mut order: Vec<usize> = (0..scale.invites).collect();
    rng.shuffle(&mut order);
    let (sample, rest) = order.split_at(scale.sample);

    let mut arrived_tokens = Vec::with_capacity(sample.len());
    let mut arrived_codes = Vec::with_capacity(sample.len());
    for &i in sample {
        let token = mint(&all[i], &key).expect("mint a token");
        let outcome = kiosk.scan(&token, at).expect("first scan");
        assert!(
            matches!(outcome, ScanOutcome::Invite(CheckInOutcome::CheckedIn(_))),
            "first scan of a sampled invite: {outcome:?}"
        );
        arrived_tokens.push(token);
        arrived_codes.push(codes[i].grouped());
    }
    let fresh = FreshInvites {
        claims: rest.iter().map(|&i| all[i]).collect(),
        key: key.clone(),
    };

    Fixture {
        kiosk,
        keys: vec![key.verifying_key()],
        site,
        skew,
        at,
        arrived_tokens,
        arrived_codes,
        fresh,
        setup_time: started.elapsed(),
        invites: scale.invites,
        _data_dir: data_dir,
    }
}

/// 40 bits that differ for every `i` below 2^40 (multiplication by an odd number is a
/// bijection modulo 2^40), spread out like randomly drawn codes.
fn distinct_entropy(i: u64) -> [u8; 5] {
    let value = i.wrapping_mul(0x9E_3779_B97F) & ((1 << 40) - 1);
    let bytes = value.to_be_bytes();
    [bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
}

/// Every measured path must produce the outcome it is meant to measure.
fn sanity_check(f: &mut Fixture) {
    let token = &f.arrived_tokens[0];
    assert!(verify(token, &f.keys, &f.site, f.at, f.skew).is_ok());
    assert!(is_already_checked_in(&f.kiosk.scan(token, f.at)));
    assert!(is_already_checked_in(
        &f.kiosk.scan(&f.arrived_codes[0], f.at)
    ));
    // The first check-in path is checked on every run of the plain loop instead, so that no
    // fresh invite is spent here.
}

fn is_already_checked_in<E>(outcome: &Result<ScanOutcome, E>) -> bool {
    matches!(
        outcome,
        Ok(ScanOutcome::Invite(CheckInOutcome::AlreadyCheckedIn(_)))
    )
}

fn is_checked_in<E>(outcome: &Result<ScanOutcome, E>) -> bool {
    matches!(
        outcome,
        Ok(ScanOutcome::Invite(CheckInOutcome::CheckedIn(_)))
    )
}

fn criterion_benches(c: &mut Criterion, f: &mut Fixture) {
    let at = f.at;

    let mut next = 0usize;
    c.bench_function("verify_token", |b| {
        b.iter(|| {
            let token = &f.arrived_tokens[next % f.arrived_tokens.len()];
            next += 1;
            verify(black_box(token), &f.keys, &f.site, at, f.skew)
        })
    });

    let mut next = 0usize;
    c.bench_function("scan_known_invite_already_checked_in", |b| {
        b.iter(|| {
            let token = &f.arrived_tokens[next % f.arrived_tokens.len()];
            next += 1;
            f.kiosk.scan(black_box(token), at)
        })
    });

    let mut next = 0usize;
    c.bench_function("scan_short_code_lookup", |b| {
        b.iter(|| {
            let code = &f.arrived_codes[next % f.arrived_codes.len()];
            next += 1;
            f.kiosk.scan(black_box(code), at)
        })
    });

    // Minting the token of the next fresh invite is setup, outside the timed part.
    c.bench_function("scan_check_in_new", |b| {
        b.iter_batched(
            || f.fresh.next_token(),
            |token| f.kiosk.scan(&token, at),
            BatchSize::SmallInput,
        )
    });
}

/// Times `runs` operations one by one. `prepare` builds each input untimed, `run` is the
/// timed operation and `check` asserts on its result, untimed.
fn time_each<I, T>(
    runs: usize,
    mut prepare: impl FnMut(usize) -> I,
    mut run: impl FnMut(I) -> T,
    check: impl Fn(&T) -> bool,
) -> Vec<Duration> {
    let mut timings = Vec::with_capacity(runs);
    for i in 0..runs {
        let input = prepare(i);
        let started = Instant::now();
        let output = run(input);
        timings.push(started.elapsed());
        assert!(check(&output), "unexpected outcome in run {i}");
    }
    timings
}

/// Cost of one synced 4 KiB write in the data directory: the floor under every check-in.
fn time_fsync(dir: &Path, runs: usize) -> Vec<Duration> {
    let path = dir.join("fsync-probe");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .expect("create the probe file");
    let block = [0x5a_u8; 4096];
    let timings = time_each(
        runs,
        |_| (),
        |()| {
            file.write_all(&block)?;
            file.sync_data()
        },
        |result| result.is_ok(),
    );
    drop(file);
    std::fs::remove_file(&path).expect("remove the probe file");
    timings
}

fn latency_table(f: &mut Fixture, scale: &Scale) {
    let at = f.at;
    let read = scale.read_runs;
    let tokens = &f.arrived_tokens;
    let codes = &f.arrived_codes;

    let verify_only = time_each(
        read,
        |i| &tokens[i % tokens.len()],
        |token| verify(token, &f.keys, &f.site, at, f.skew),
        |result| result.is_ok(),
    );
    let kiosk = &mut f.kiosk;
    let rescan = time_each(
        read,
        |i| &tokens[i % tokens.len()],
        |token| kiosk.scan(token, at),
        is_already_checked_in,
    );
    let short_code = time_each(
        read,
        |i| &codes[i % codes.len()],
        |code| kiosk.scan(code, at),
        is_already_checked_in,
    );
    let fresh = &mut f.fresh;
    let check_in = time_each(
        scale.write_runs,
        |_| fresh.next_token(),
        |token| kiosk.scan(&token, at),
        is_checked_in,
    );
    let fsync = time_fsync(f.kiosk.data_dir(), scale.fsync_runs);

    let db_bytes = std::fs::metadata(f.kiosk.store.path()).map_or(0, |m| m.len());
    println!();
    println!(
        "Scan latency, {} invites in the store ({:.1} MB database), microseconds per operation",
        f.invites,
        db_bytes as f64 / 1e6
    );
    println!(
        "{:<40} {:>6} {:>9} {:>9} {:>9} {:>9}  p99 < 1 ms",
        "operation", "runs", "min", "p50", "p99", "max"
    );
    row("verify_token", &verify_only, true);
    row("scan_known_invite_already_checked_in", &rescan, true);
    row("scan_short_code_lookup", &short_code, true);
    row("scan_check_in_new (write + fsync)", &check_in, true);
    row("fsync of 4 KiB in the data dir", &fsync, false);
}

fn row(label: &str, timings: &[Duration], judged: bool) {
    let mut sorted = timings.to_vec();
    sorted.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let p99 = percentile(&sorted, 99);
    let verdict = match (judged, p99 < P99_TARGET) {
        (false, _) => "(reference)",
        (true, true) => "yes",
        (true, false) => "NO",
    };
    println!(
        "{:<40} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {}",
        label,
        sorted.len(),
        us(sorted[0]),
        us(percentile(&sorted, 50)),
        us(p99),
        us(sorted[sorted.len() - 1]),
        verdict
    );
}

/// Nearest-rank percentile of sorted timings.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}
