//! From the first camera frame in which an invite is readable to a verified check-in: the
//! camera pipeline (latest-frame slot, unchanged-frame skip, decoder passes, debounce) and
//! the kiosk's scan handling (verify + store transaction), as they run in the kiosk.
//!
//! A simulated camera plays 30 frames per second: an empty lobby, then a visitor holding up
//! an invite (one of the synthetic camera-like frames). Goal: under 100 ms.
//!
//! `cargo bench --bench scan_latency` (add `-- --quick` for a short run).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use image::GrayImage;

use lobby_kiosk::config::Config;
use lobby_kiosk::domain::invite::{
    encode_public_key, mint, signing_key_from_seed, InviteClaims, SiteTag,
};
use lobby_kiosk::domain::shortcode::ShortCode;
use lobby_kiosk::kiosk::{Kiosk, ScanOutcome};
use lobby_kiosk::scan::pipeline::{Pipeline, PipelineOptions, ScanEvent};
use lobby_kiosk::scan::synth::invite_frames;
use lobby_kiosk::scan::{FrameSource, SourceError};
use lobby_kiosk::store::{CheckInOutcome, InviteRecord, InviteSource};

/// Plays `empty` frames of a lobby, then the code frame until stopped, at 30 frames/s, and
/// notes when the first code frame was delivered.
struct Lobby {
    empty: GrayImage,
    code: GrayImage,
    empties_left: u32,
    first_code_at: Arc<Mutex<Option<Instant>>>,
    next_due: Instant,
}

impl FrameSource for Lobby {
    fn name(&self) -> String {
        "simulated lobby camera".into()
    }

    fn next_frame(&mut self) -> Result<GrayImage, SourceError> {
        let now = Instant::now();
        if self.next_due > now {
            std::thread::sleep(self.next_due - now);
        }
        self.next_due += Duration::from_micros(33_333);
        if self.empties_left > 0 {
            self.empties_left -= 1;
            return Ok(self.empty.clone());
        }
        let mut first = self.first_code_at.lock().map_err(|_| SourceError::Ended)?;
        if first.is_none() {
            *first = Some(Instant::now());
        }
        Ok(self.code.clone())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = signing_key_from_seed([42; 32]);
    let mut config = Config::embedded().expect("embedded configuration");
    config.invites.trusted_keys = vec![encode_public_key(&key.verifying_key())];
    let site = config.site.id.clone();
    let mut kiosk = Kiosk::open(config, dir.path()).expect("kiosk store");
    let now = Utc::now();

    let kinds = [
        "clean",
        "perspective",
        "rotated",
        "glare",
        "inverted",
        "blur",
    ];
    let trials = if quick { 6 } else { 36 };
    let mut results: Vec<(String, f64)> = Vec::new();
    for t in 0..trials {
        // A fresh invite per trial, so each one is a real check-in.
        let claims = InviteClaims {
            invite_id: uuid::Uuid::now_v7(),
            site: SiteTag::of(&site),
            valid_from: now - chrono::Duration::hours(1),
            valid_until: now + chrono::Duration::hours(8),
        };
        let token = mint(&claims, &key).expect("mint");
        let record = InviteRecord {
            short_code: Some(ShortCode::from_entropy([t as u8, 1, 2, 3, 4])),
            visitor_name: Some(format!("Visitor {t}")),
            ..InviteRecord::from_claims(&claims, &site, InviteSource::Hub)
        };
        kiosk.store.upsert_invite(&record, now).expect("invite");
        let frames = invite_frames(&token, t as u64);
        let kind = kinds[t % kinds.len()];
        let code = frames
            .iter()
            .find(|(name, _)| name.starts_with(kind))
            .or_else(|| frames.first())
            .map(|(_, f)| f.clone())
            .expect("synthetic frames");
        let empty = GrayImage::from_fn(code.width(), code.height(), |x, y| {
            image::Luma([(100 + (x / 40 + y / 30) % 7 * 9) as u8])
        });
        let first_code_at = Arc::new(Mutex::new(None));
        let lobby = {
            let first = first_code_at.clone();
            let mut cell = Some(Lobby {
                empty,
                code,
                empties_left: 10,
                first_code_at: first,
                next_due: Instant::now(),
            });
            Box::new(move || -> Result<Box<dyn FrameSource>, SourceError> {
                cell.take()
                    .map(|l| Box::new(l) as Box<dyn FrameSource>)
                    .ok_or(SourceError::Ended)
            })
        };
        let (pipeline, events) =
            Pipeline::start(Some(lobby), Vec::new(), PipelineOptions::default());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut latency = None;
        while Instant::now() < deadline && latency.is_none() {
            if let Ok(ScanEvent::Code { text, .. }) =
                events.recv_timeout(Duration::from_millis(200))
            {
                let outcome = kiosk.scan(&text, Utc::now()).expect("scan");
                let done = Instant::now();
                if matches!(outcome, ScanOutcome::Invite(CheckInOutcome::CheckedIn(_))) {
                    let first = first_code_at.lock().ok().and_then(|f| *f);
                    latency = first.map(|f| done.duration_since(f).as_secs_f64() * 1000.0);
                }
            }
        }
        pipeline.stop();
        match latency {
            Some(ms) => results.push((kind.to_string(), ms)),
            None => println!("trial {t} ({kind}): the invite was not read within 10 s"),
        }
    }
    let mut all: Vec<f64> = results.iter().map(|r| r.1).collect();
    all.sort_by(f64::total_cmp);
    if all.is_empty() {
        println!("no trial completed");
        return;
    }
    println!(
        "First readable frame -> verified check-in, milliseconds ({} of {trials} trials read)",
        all.len()
    );
    println!(
        "{:<14} {:>6} {:>8} {:>8} {:>8}",
        "frame kind", "runs", "p50", "p95", "max"
    );
    for kind in kinds {
        let mut v: Vec<f64> = results
            .iter()
            .filter(|r| r.0 == kind)
            .map(|r| r.1)
            .collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        println!(
            "{kind:<14} {:>6} {:>8.1} {:>8.1} {:>8.1}",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.95),
            v[v.len() - 1]
        );
    }
    println!(
        "{:<14} {:>6} {:>8.1} {:>8.1} {:>8.1}",
        "all",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        all[all.len() - 1]
    );
}
