//! Reading codes: camera frames to decoded text, hardware scanners to text, and both to the
//! same place, the kiosk's scan handling.
//!
//! ```text
//!   camera (nokhwa) ─┐                         ┌─ latest frame wins ─┐
//!   replay folder ───┼─▶ FrameSource ─▶ supervisor ──────────────────▶ decoder worker ─┐
//!   (no camera)      ┘      (retries, status, preview)                (rqrr + passes)   │
//!   serial scanner ──┐                                                                  ├─▶ text
//!   HID scanner ─────┴─▶ CodeSource ─────────────────────────────────────────────────────┘
//! ```

pub mod camera;
pub mod decode;
pub mod hid;
mod inputs;
pub mod pipeline;
pub mod replay;
pub mod serial;
pub mod synth;

pub use inputs::{camera_opener, replay_opener, scanner_openers};

use image::GrayImage;

/// Why a frame or code source could not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// No such device, or it cannot be opened now (unplugged, busy, no permission).
    #[error("{0}")]
    Unavailable(String),
    /// The device was working and stopped (unplugged mid-stream, I/O error).
    #[error("{0}")]
    Disconnected(String),
    /// One frame could not be read (a damaged file in a recording); the source goes on.
    #[error("{0}")]
    BadFrame(String),
    /// A finite source (a replayed folder or clip) has no more frames.
    #[error("end of the recording")]
    Ended,
}

/// Something that produces camera frames: a real camera, a replayed recording, a test.
/// Sources are opened inside the thread that reads them, so they need not be `Send`.
pub trait FrameSource {
    /// A name for logs and the staff status screen.
    fn name(&self) -> String;
    /// Blocks until the next frame and returns it as 8-bit grayscale.
    fn next_frame(&mut self) -> Result<GrayImage, SourceError>;
}

/// Something that produces whole scanned codes: a serial or keyboard-wedge scanner.
pub trait CodeSource {
    /// A name for logs and the staff status screen.
    fn name(&self) -> String;
    /// Blocks until the next complete code (terminator stripped).
    fn next_code(&mut self) -> Result<String, SourceError>;
    /// A flag that, once set, makes a blocked `next_code` return `Ended` within its read
    /// timeout, so the pipeline can stop a scanner that is waiting for input.
    fn stop_flag(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
        None
    }
}
