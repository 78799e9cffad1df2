//! Writes the synthetic camera frames of an invite token to a folder, in the layout of the
//! public QR samples: `NAME.png` and `NAME.txt` (the exact text, no trailing newline).
//!
//! ```text
//! cargo run --release --example synth_frames -- OUTDIR [TOKEN]
//! ```
//!
//! Without TOKEN, an invite is minted with a fixed demo key and fixed times, so the frames
//! are the same on every run.

use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::DateTime;
use lobby_kiosk::domain::invite::{mint, signing_key_from_seed, InviteClaims, SiteTag};
use lobby_kiosk::scan::synth::invite_frames;

/// Seed of the frames' jitter, noise and lighting.
const FRAME_SEED: u64 = 1;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(out_dir) = args.next().map(PathBuf::from) else {
        bail!("usage: synth_frames OUTDIR [TOKEN]");
    };
    let token = match args.next() {
        Some(token) => token,
        None => demo_token()?,
    };
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let frames = invite_frames(&token, FRAME_SEED);
    if frames.is_empty() {
        bail!("the text cannot be encoded as a QR code");
    }
    for (name, frame) in &frames {
        let png = out_dir.join(format!("{name}.png"));
        frame
            .save(&png)
            .with_context(|| format!("cannot write {}", png.display()))?;
        let txt = out_dir.join(format!("{name}.txt"));
        std::fs::write(&txt, &token).with_context(|| format!("cannot write {}", txt.display()))?;
    }
    println!("wrote {} frames to {}", frames.len(), out_dir.display());
    Ok(())
}

/// An invite minted with a fixed demo key, for a fixed site and window.
fn demo_token() -> anyhow::Result<String> {
    let claims = InviteClaims {
        invite_id: uuid::Uuid::from_u128(0x0193_5a7e_4c2b_7d10_9a4f_3b6c_2d1e_0f99),
        site: SiteTag::of("lobby-demo"),
        valid_from: DateTime::from_timestamp(1_767_258_000, 0).context("fixed time")?,
        valid_until: DateTime::from_timestamp(1_767_294_000, 0).context("fixed time")?,
    };
    Ok(mint(&claims, &signing_key_from_seed([7; 32]))?)
}
