//! The camera disappears mid-run and comes back: the pipeline reports it, retries, and reads
//! codes again, without the process noticing anything worse than a status change.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{GrayImage, Luma};

use lobby_kiosk::scan::pipeline::{DeviceStatus, Input, Pipeline, PipelineOptions, ScanEvent};
use lobby_kiosk::scan::{FrameSource, SourceError};

/// A frame showing `text` as a QR code, as a camera would see a phone held up close.
fn qr_frame(text: &str) -> GrayImage {
    let (width, modules) = lobby_kiosk::qr::qr_modules(text).unwrap();
    let scale = 6u32;
    let side = (width as u32 + 8) * scale;
    let (fw, fh) = (640u32, 480u32);
    let (ox, oy) = ((fw - side) / 2, (fh - side) / 2);
    GrayImage::from_fn(fw, fh, |x, y| {
        let inside = x >= ox && y >= oy && x < ox + side && y < oy + side;
        if !inside {
            return Luma([90]);
        }
        let mx = ((x - ox) / scale) as i64 - 4;
        let my = ((y - oy) / scale) as i64 - 4;
        let dark = mx >= 0
            && my >= 0
            && (mx as usize) < width
            && (my as usize) < width
            && modules[my as usize * width + mx as usize];
        Luma([if dark { 20 } else { 235 }])
    })
}

/// A camera that shows a code for a while, then is unplugged (frames fail, reopening fails
/// for a few attempts), then is plugged back in showing another code.
struct FlakyCamera {
    frames_left: u32,
    text: String,
}

impl FrameSource for FlakyCamera {
    fn name(&self) -> String {
        "flaky test camera".into()
    }

    fn next_frame(&mut self) -> Result<GrayImage, SourceError> {
        std::thread::sleep(Duration::from_millis(20));
        if self.frames_left == 0 {
            return Err(SourceError::Disconnected("device unplugged".into()));
        }
        self.frames_left -= 1;
        Ok(qr_frame(&self.text))
    }
}

#[test]
fn camera_unplugged_and_replugged_mid_run_recovers() {
    let opens = Arc::new(AtomicU32::new(0));
    let opener = {
        let opens = opens.clone();
        Box::new(move || -> Result<Box<dyn FrameSource>, SourceError> {
            let n = opens.fetch_add(1, Ordering::SeqCst);
            match n {
                0 => Ok(Box::new(FlakyCamera {
                    frames_left: 15,
                    text: "ABCD-EFGH".into(),
                })),
                // Unplugged: the device node is gone for three attempts.
                1..=3 => Err(SourceError::Unavailable("no camera is connected".into())),
                _ => Ok(Box::new(FlakyCamera {
                    frames_left: u32::MAX,
                    text: "WXYZ-2345".into(),
                })),
            }
        })
    };
    let options = PipelineOptions {
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
        ..PipelineOptions::default()
    };
    let (pipeline, events) = Pipeline::start(Some(opener), Vec::new(), options);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut codes = Vec::new();
    let mut statuses = Vec::new();
    while codes.len() < 2 && Instant::now() < deadline {
        match events.recv_timeout(Duration::from_secs(1)) {
            Ok(ScanEvent::Code { text, input, .. }) => {
                assert_eq!(input, Input::Camera);
                codes.push(text);
            }
            Ok(ScanEvent::Status { status, .. }) => statuses.push(status),
            Err(_) => {}
        }
    }
    // A preview was published while the camera worked.
    assert!(pipeline.preview_after(0).is_some());
    pipeline.stop();

    assert_eq!(codes, ["ABCD-EFGH", "WXYZ-2345"], "statuses: {statuses:?}");
    let running = statuses
        .iter()
        .filter(|s| matches!(s, DeviceStatus::Running { .. }))
        .count();
    let retrying: Vec<&String> = statuses
        .iter()
        .filter_map(|s| match s {
            DeviceStatus::Retrying { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(running, 2, "{statuses:?}");
    assert!(
        retrying.iter().any(|r| r.contains("unplugged")),
        "{retrying:?}"
    );
    assert!(
        retrying.iter().any(|r| r.contains("no camera")),
        "{retrying:?}"
    );
    assert!(opens.load(Ordering::SeqCst) >= 5);
}

#[test]
fn a_replayed_recording_that_ends_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    qr_frame("ABCD-EFGH")
        .save(dir.path().join("001.png"))
        .unwrap();
    GrayImage::from_pixel(640, 480, Luma([128]))
        .save(dir.path().join("002.png"))
        .unwrap();
    let path = dir.path().to_path_buf();
    let opener = Box::new(move || -> Result<Box<dyn FrameSource>, SourceError> {
        Ok(Box::new(lobby_kiosk::scan::replay::Replay::open(
            &path, 30, false,
        )?))
    });
    let (pipeline, events) = Pipeline::start(Some(opener), Vec::new(), PipelineOptions::default());
    let mut code = None;
    let mut ended = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(ended && code.is_some()) && Instant::now() < deadline {
        match events.recv_timeout(Duration::from_millis(500)) {
            Ok(ScanEvent::Code { text, .. }) => code = Some(text),
            Ok(ScanEvent::Status {
                status: DeviceStatus::Ended,
                ..
            }) => ended = true,
            _ => {}
        }
    }
    pipeline.stop();
    assert_eq!(code.as_deref(), Some("ABCD-EFGH"));
    assert!(ended);
}
