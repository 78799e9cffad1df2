//! The running scan pipeline: a capture thread per input and one decoder thread, all off the
//! UI thread, reporting to one channel.
//!
//! - The capture thread opens the camera (or replay), hands each frame to the decoder through
//!   a one-frame slot where the latest frame wins (the decoder never works through a backlog
//!   of stale frames), and publishes a small, throttled preview. When the camera fails or is
//!   unplugged it reports so and retries with backoff; it never takes the kiosk down.
//! - The decoder thread skips frames that did not change, decodes the rest, and reports each
//!   code once per debounce window.
//! - Hardware scanners have their own threads and feed the same channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::imageops::FilterType;
use image::GrayImage;

use super::decode::Decoder;
use super::{CodeSource, FrameSource, SourceError};

/// Where a code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Camera,
    SerialScanner,
    HidScanner,
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Input::Camera => "camera",
            Input::SerialScanner => "serial scanner",
            Input::HidScanner => "keyboard scanner",
        })
    }
}

/// The state of an input device, for the UI and the staff status screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Opening the device.
    Starting,
    /// Delivering frames or codes.
    Running { name: String },
    /// Not working; retrying in the background.
    Retrying { reason: String, retry_in: Duration },
    /// A finite recording has played to its end.
    Ended,
}

impl std::fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceStatus::Starting => f.write_str("starting"),
            DeviceStatus::Running { name } => write!(f, "running: {name}"),
            DeviceStatus::Retrying { reason, retry_in } => {
                write!(f, "not working ({reason}); retrying in {retry_in:.1?}")
            }
            DeviceStatus::Ended => f.write_str("recording ended"),
        }
    }
}

/// What the pipeline reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanEvent {
    /// A code was read. `seen_at` is when the frame holding it was captured (or the scanner
    /// delivered it), for measuring the time to a verified invite.
    Code {
        text: String,
        input: Input,
        seen_at: Instant,
    },
    /// A device changed state.
    Status { input: Input, status: DeviceStatus },
}

/// A small grayscale picture of what the camera sees, for the welcome screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub image: GrayImage,
    pub seq: u64,
}

/// Knobs of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// The same code is reported at most once within this window.
    pub debounce: Duration,
    /// Longest side of the preview picture.
    pub preview_max_side: u32,
    /// Least time between two previews.
    pub preview_interval: Duration,
    /// First retry delay after a device failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive bad frames after which the camera is reopened.
    pub max_bad_frames: u32,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            debounce: Duration::from_secs(3),
            preview_max_side: 320,
            preview_interval: Duration::from_millis(100),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_bad_frames: 5,
        }
    }
}

/// Remembers recently reported codes so a code held in front of the camera is handled once.
#[derive(Debug)]
pub struct Debouncer {
    window: Duration,
    seen: HashMap<String, Instant>,
}

impl Debouncer {
    pub fn new(window: Duration) -> Debouncer {
        Debouncer {
            window,
            seen: HashMap::new(),
        }
    }

    /// True when `text` should be handled now; false when it was handled within the window.
    /// Holding a code continuously keeps it suppressed.
    pub fn accept(&mut self, text: &str, now: Instant) -> bool {
        self.seen
            .retain(|_, at| now.saturating_duration_since(*at) < self.window);
        let fresh = !self.seen.contains_key(text);
        self.seen.insert(text.to_string(), now);
        fresh
    }
}

/// A one-frame slot: the producer replaces, the consumer takes the newest.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Default)]
struct SlotState {
    frame: Option<(GrayImage, Instant)>,
    /// The source has ended: once the last frame is taken, there will be no more.
    ended: bool,
}

/// What the consumer finds in the slot.
enum Taken {
    Frame(GrayImage, Instant),
    Nothing,
    Ended,
}

impl Slot {
    fn put(&self, frame: GrayImage, at: Instant) {
        if let Ok(mut s) = self.state.lock() {
            s.frame = Some((frame, at));
            s.ended = false;
            self.ready.notify_one();
        }
    }

    fn end(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.ended = true;
            self.ready.notify_one();
        }
    }

    fn take(&self, timeout: Duration) -> Taken {
        let Ok(guard) = self.state.lock() else {
            return Taken::Ended;
        };
        let Ok((mut s, _)) = self
            .ready
            .wait_timeout_while(guard, timeout, |s| s.frame.is_none() && !s.ended)
        else {
            return Taken::Ended;
        };
        match s.frame.take() {
            Some((f, at)) => Taken::Frame(f, at),
            None if s.ended => {
                s.ended = false;
                Taken::Ended
            }
            None => Taken::Nothing,
        }
    }
}

/// A coarse fingerprint of a frame: 32x18 block means.
fn fingerprint(img: &GrayImage) -> Vec<u8> {
    image::imageops::resize(img, 32, 18, FilterType::Triangle).into_raw()
}

/// Frames whose fingerprints differ this little show the same scene.
fn same_scene(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .map(|(x, y)| u32::from(x.abs_diff(*y)))
            .sum::<u32>()
            < (a.len() as u32) * 2
}

/// Opens a frame source inside the capture thread.
pub type FrameOpener = Box<dyn FnMut() -> Result<Box<dyn FrameSource>, SourceError> + Send>;
/// Opens a code source inside its thread.
pub type CodeOpener = Box<dyn FnMut() -> Result<Box<dyn CodeSource>, SourceError> + Send>;

/// The running pipeline. Dropping it stops every thread.
pub struct Pipeline {
    stop: Arc<AtomicBool>,
    /// Stop flags of the open scanners, set on shutdown to end their blocked reads.
    scanner_stops: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
    slot: Arc<Slot>,
    preview: Arc<Mutex<Option<Preview>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the decoder thread, a capture thread for `camera` (if any) and a thread per
    /// code source. Events arrive on the returned channel.
    pub fn start(
        camera: Option<FrameOpener>,
        scanners: Vec<(Input, CodeOpener)>,
        options: PipelineOptions,
    ) -> (Pipeline, Receiver<ScanEvent>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut p = Pipeline {
            stop: Arc::new(AtomicBool::new(false)),
            scanner_stops: Arc::new(Mutex::new(Vec::new())),
            slot: Arc::new(Slot::default()),
            preview: Arc::new(Mutex::new(None)),
            threads: Vec::new(),
        };
        if let Some(opener) = camera {
            p.spawn("scan-decode", {
                let (slot, stop, tx, opts) =
                    (p.slot.clone(), p.stop.clone(), tx.clone(), options.clone());
                move || decode_loop(&slot, &stop, &tx, &opts)
            });
            p.spawn("scan-camera", {
                let (slot, stop, tx, preview, opts) = (
                    p.slot.clone(),
                    p.stop.clone(),
                    tx.clone(),
                    p.preview.clone(),
                    options.clone(),
                );
                move || capture_loop(opener, &slot, &stop, &tx, &preview, &opts)
            });
        }
        for (input, opener) in scanners {
            p.spawn("scan-scanner", {
                let (stop, stops, tx, opts) = (
                    p.stop.clone(),
                    p.scanner_stops.clone(),
                    tx.clone(),
                    options.clone(),
                );
                move || code_loop(input, opener, &stop, &stops, &tx, &opts)
            });
        }
        (p, rx)
    }

    fn spawn(&mut self, name: &str, f: impl FnOnce() + Send + 'static) {
        match std::thread::Builder::new().name(name.into()).spawn(f) {
            Ok(h) => self.threads.push(h),
            Err(e) => tracing::error!(thread = name, error = %e, "cannot start a scan thread"),
        }
    }

    /// The latest camera preview, if one is newer than `after_seq`.
    pub fn preview_after(&self, after_seq: u64) -> Option<Preview> {
        let p = self.preview.lock().ok()?;
        p.as_ref().filter(|p| p.seq > after_seq).cloned()
    }

    /// Stops all threads and waits for them (each notices within about a second).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(stops) = self.scanner_stops.lock() {
            for s in stops.iter() {
                s.store(true, Ordering::SeqCst);
            }
        }
        self.slot.ready.notify_all();
        for h in self.threads.drain(..) {
            if h.join().is_err() {
                tracing::error!("a scan thread panicked");
            }
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

fn capture_loop(
    mut opener: FrameOpener,
    slot: &Slot,
    stop: &AtomicBool,
    tx: &Sender<ScanEvent>,
    preview: &Mutex<Option<Preview>>,
    opts: &PipelineOptions,
) {
    let status = |s| {
        let _ = tx.send(ScanEvent::Status {
            input: Input::Camera,
            status: s,
        });
    };
    let mut backoff = opts.min_backoff;
    let mut last_reason = String::new();
    let mut preview_seq = 0u64;
    let mut last_preview: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        status(DeviceStatus::Starting);
        let mut source = match opener() {
            Ok(s) => s,
            Err(e) => {
                let reason = e.to_string();
                if reason != last_reason {
                    tracing::warn!(error = %reason, "camera unavailable; retrying in the background");
                    last_reason = reason;
                } else {
                    tracing::debug!(error = %reason, retry_in = ?backoff, "camera still unavailable");
                }
                status(DeviceStatus::Retrying {
                    reason: e.to_string(),
                    retry_in: backoff,
                });
                sleep_unless_stopped(stop, backoff);
                backoff = (backoff * 2).min(opts.max_backoff);
                continue;
            }
        };
        tracing::info!(camera = %source.name(), "camera running");
        last_reason.clear();
        status(DeviceStatus::Running {
            name: source.name(),
        });
        let mut bad = 0;
        let reason = loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match source.next_frame() {
                Ok(frame) => {
                    bad = 0;
                    backoff = opts.min_backoff;
                    let at = Instant::now();
                    if last_preview.is_none_or(|t| at.duration_since(t) >= opts.preview_interval) {
                        last_preview = Some(at);
                        preview_seq += 1;
                        let small = shrink(&frame, opts.preview_max_side);
                        if let Ok(mut p) = preview.lock() {
                            *p = Some(Preview {
                                image: small,
                                seq: preview_seq,
                            });
                        }
                    }
                    slot.put(frame, at);
                }
                Err(SourceError::Ended) => {
                    // The decoder reports the end once it has read the last frame.
                    slot.end();
                    return;
                }
                Err(SourceError::BadFrame(why)) => {
                    tracing::warn!(reason = %why, "a recorded frame could not be read; skipped");
                }
                Err(e) => {
                    bad += 1;
                    tracing::debug!(error = %e, bad, "camera frame lost");
                    if bad >= opts.max_bad_frames || matches!(e, SourceError::Unavailable(_)) {
                        break e.to_string();
                    }
                }
            }
        };
        drop(source);
        tracing::warn!(reason, retry_in = ?backoff, "camera lost; reopening");
        status(DeviceStatus::Retrying {
            reason,
            retry_in: backoff,
        });
        sleep_unless_stopped(stop, backoff);
        backoff = (backoff * 2).min(opts.max_backoff);
    }
}

fn shrink(frame: &GrayImage, max_side: u32) -> GrayImage {
    let (w, h) = frame.dimensions();
    let long = w.max(h).max(1);
    if long <= max_side {
        return frame.clone();
    }
    let nw = (w * max_side / long).max(1);
    let nh = (h * max_side / long).max(1);
    image::imageops::resize(frame, nw, nh, FilterType::Triangle)
}

fn decode_loop(slot: &Slot, stop: &AtomicBool, tx: &Sender<ScanEvent>, opts: &PipelineOptions) {
    let mut decoder = Decoder::new();
    let mut debouncer = Debouncer::new(opts.debounce);
    let mut last_empty: Option<Vec<u8>> = None;
    while !stop.load(Ordering::SeqCst) {
        let (frame, seen_at) = match slot.take(Duration::from_millis(200)) {
            Taken::Frame(f, at) => (f, at),
            Taken::Nothing => continue,
            Taken::Ended => {
                let _ = tx.send(ScanEvent::Status {
                    input: Input::Camera,
                    status: DeviceStatus::Ended,
                });
                continue;
            }
        };
        // A still scene that held no code last time holds none now.
        let print = fingerprint(&frame);
        if last_empty.as_deref().is_some_and(|p| same_scene(p, &print)) {
            continue;
        }
        let decoded = decoder.decode(&frame);
        if decoded.texts.is_empty() {
            last_empty = Some(print);
            continue;
        }
        last_empty = None;
        for text in decoded.texts {
            // Codes are shown on screens and terminals: no control characters.
            let text: String = text.chars().filter(|c| !c.is_control()).collect();
            if debouncer.accept(&text, Instant::now()) {
                tracing::debug!(pass = decoded.pass, "code read from the camera");
                let _ = tx.send(ScanEvent::Code {
                    text,
                    input: Input::Camera,
                    seen_at,
                });
            }
        }
    }
}

fn code_loop(
    input: Input,
    mut opener: CodeOpener,
    stop: &AtomicBool,
    stops: &Mutex<Vec<Arc<AtomicBool>>>,
    tx: &Sender<ScanEvent>,
    opts: &PipelineOptions,
) {
    let status = |s| {
        let _ = tx.send(ScanEvent::Status { input, status: s });
    };
    let mut backoff = opts.min_backoff;
    let mut debouncer = Debouncer::new(opts.debounce);
    while !stop.load(Ordering::SeqCst) {
        status(DeviceStatus::Starting);
        let mut source = match opener() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(?input, error = %e, "scanner unavailable");
                status(DeviceStatus::Retrying {
                    reason: e.to_string(),
                    retry_in: backoff,
                });
                sleep_unless_stopped(stop, backoff);
                backoff = (backoff * 2).min(opts.max_backoff);
                continue;
            }
        };
        if let Some(flag) = source.stop_flag() {
            if stop.load(Ordering::SeqCst) {
                flag.store(true, Ordering::SeqCst);
            }
            if let Ok(mut v) = stops.lock() {
                v.retain(|f| Arc::strong_count(f) > 1);
                v.push(flag);
            }
        }
        status(DeviceStatus::Running {
            name: source.name(),
        });
        let reason = loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match source.next_code() {
                Ok(text) => {
                    // A scanner that delivers is healthy: later failures start the backoff anew.
                    backoff = opts.min_backoff;
                    let now = Instant::now();
                    if debouncer.accept(&text, now) {
                        let _ = tx.send(ScanEvent::Code {
                            text,
                            input,
                            seen_at: now,
                        });
                    }
                }
                Err(SourceError::Ended) if stop.load(Ordering::SeqCst) => return,
                Err(SourceError::Ended) => {
                    status(DeviceStatus::Ended);
                    return;
                }
                Err(e) => break e.to_string(),
            }
        };
        drop(source);
        tracing::warn!(?input, reason, "scanner lost; reopening");
        status(DeviceStatus::Retrying {
            reason,
            retry_in: backoff,
        });
        sleep_unless_stopped(stop, backoff);
        backoff = (backoff * 2).min(opts.max_backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debouncer_reports_a_held_code_once_and_again_after_the_window() {
        let mut d = Debouncer::new(Duration::from_secs(3));
        let t = Instant::now();
        assert!(d.accept("LK1:A", t));
        assert!(!d.accept("LK1:A", t + Duration::from_secs(1)));
        // Still held: each sighting renews the window.
        assert!(!d.accept("LK1:A", t + Duration::from_millis(3500)));
        assert!(d.accept("LK1:B", t + Duration::from_secs(4)));
        assert!(d.accept("LK1:A", t + Duration::from_secs(7)));
    }

    #[test]
    fn the_slot_keeps_only_the_newest_frame() {
        let slot = Slot::default();
        let t = Instant::now();
        for v in [1u8, 2, 3] {
            slot.put(GrayImage::from_pixel(2, 2, image::Luma([v])), t);
        }
        let Taken::Frame(f, _) = slot.take(Duration::from_millis(10)) else {
            panic!("no frame")
        };
        assert_eq!(f.get_pixel(0, 0).0[0], 3);
        assert!(matches!(
            slot.take(Duration::from_millis(10)),
            Taken::Nothing
        ));
        slot.put(GrayImage::from_pixel(2, 2, image::Luma([4])), t);
        slot.end();
        // The last frame still comes out before the end.
        assert!(matches!(
            slot.take(Duration::from_millis(10)),
            Taken::Frame(..)
        ));
        assert!(matches!(slot.take(Duration::from_millis(10)), Taken::Ended));
    }

    #[test]
    fn fingerprints_tell_a_still_scene_from_a_new_one() {
        let a = GrayImage::from_fn(320, 180, |x, y| image::Luma([((x + y) % 256) as u8]));
        let mut noisy = a.clone();
        noisy.put_pixel(10, 10, image::Luma([255]));
        let b = GrayImage::from_fn(320, 180, |x, _| {
            image::Luma([if x < 160 { 0 } else { 255 }])
        });
        assert!(same_scene(&fingerprint(&a), &fingerprint(&noisy)));
        assert!(!same_scene(&fingerprint(&a), &fingerprint(&b)));
    }

    /// A scanner that waits for input until its stop flag is set, like a real one.
    struct IdleScanner(Arc<AtomicBool>);

    impl CodeSource for IdleScanner {
        fn name(&self) -> String {
            "idle scanner".into()
        }

        fn next_code(&mut self) -> Result<String, SourceError> {
            while !self.0.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(SourceError::Ended)
        }

        fn stop_flag(&self) -> Option<Arc<AtomicBool>> {
            Some(self.0.clone())
        }
    }

    #[test]
    fn stopping_ends_a_scanner_that_waits_for_input() {
        let opener: CodeOpener = Box::new(|| {
            Ok(Box::new(IdleScanner(Arc::new(AtomicBool::new(false)))) as Box<dyn CodeSource>)
        });
        let (pipeline, events) = Pipeline::start(
            None,
            vec![(Input::SerialScanner, opener)],
            PipelineOptions::default(),
        );
        // Wait until the scanner is open and blocked in its read.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(ScanEvent::Status {
                status: DeviceStatus::Running { .. },
                ..
            }) = events.recv_timeout(Duration::from_millis(100))
            {
                break;
            }
        }
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            pipeline.stop();
            let _ = done_tx.send(());
        });
        assert!(
            done_rx.recv_timeout(Duration::from_secs(5)).is_ok(),
            "the pipeline did not stop"
        );
    }

    #[test]
    fn preview_is_small() {
        let big = GrayImage::new(1280, 720);
        assert_eq!(shrink(&big, 320).dimensions(), (320, 180));
        let small = GrayImage::new(100, 50);
        assert_eq!(shrink(&small, 320).dimensions(), (100, 50));
    }
}
