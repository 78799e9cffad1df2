//! Replayed camera input: a folder of images, or a recorded MJPEG clip (the concatenated
//! JPEG frames that USB cameras send and tools such as `ffmpeg -c:v copy out.mjpeg` save).
//! For tests, demonstrations and reproducing a visitor's problem from a recording.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::GrayImage;

use super::{FrameSource, SourceError};

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "bmp", "pgm"];

/// Where the frames of a replay come from.
enum Frames {
    Files(Vec<PathBuf>),
    Clip(Vec<Vec<u8>>),
}

/// Plays frames in order at a fixed rate, once or in a loop.
pub struct Replay {
    label: String,
    frames: Frames,
    next: usize,
    looped: bool,
    interval: Duration,
    last: Option<Instant>,
}

impl Replay {
    /// A folder of images (png, jpg, webp, bmp, pgm), played in file-name order; or a single
    /// image file; or an `.mjpeg`/`.mjpg` clip.
    pub fn open(path: &Path, fps: u32, looped: bool) -> Result<Replay, SourceError> {
        let frames = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| SourceError::Unavailable(format!("{}: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_lowercase().as_str()))
                })
                .collect();
            files.sort();
            Frames::Files(files)
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mjpeg") || e.eq_ignore_ascii_case("mjpg"))
        {
            let bytes = std::fs::read(path)
                .map_err(|e| SourceError::Unavailable(format!("{}: {e}", path.display())))?;
            Frames::Clip(split_mjpeg(&bytes))
        } else if path.is_file() {
            Frames::Files(vec![path.to_path_buf()])
        } else {
            return Err(SourceError::Unavailable(format!(
                "{}: no such folder, image or clip",
                path.display()
            )));
        };
        let count = match &frames {
            Frames::Files(f) => f.len(),
            Frames::Clip(c) => c.len(),
        };
        if count == 0 {
            return Err(SourceError::Unavailable(format!(
                "{}: holds no frames",
                path.display()
            )));
        }
        Ok(Replay {
            label: format!("replay of {}", path.display()),
            frames,
            next: 0,
            looped,
            interval: Duration::from_secs(1) / fps.max(1),
            last: None,
        })
    }

    /// How many frames one pass holds.
    pub fn len(&self) -> usize {
        match &self.frames {
            Frames::Files(f) => f.len(),
            Frames::Clip(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FrameSource for Replay {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn next_frame(&mut self) -> Result<GrayImage, SourceError> {
        if self.next >= self.len() {
            if !self.looped {
                return Err(SourceError::Ended);
            }
            self.next = 0;
        }
        // Keep the camera's pace, so what downstream sees resembles a live stream.
        if let Some(last) = self.last {
            let due = last + self.interval;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        self.last = Some(Instant::now());
        let i = self.next;
        self.next += 1;
        let decoded = match &self.frames {
            Frames::Files(f) => image::open(&f[i]).map_err(|e| (f[i].display().to_string(), e)),
            Frames::Clip(c) => {
                image::load_from_memory(&c[i]).map_err(|e| (format!("clip frame {i}"), e))
            }
        };
        match decoded {
            Ok(img) => Ok(img.to_luma8()),
            // One unreadable frame is a lost frame, as on a real camera: report it, go on.
            Err((what, e)) => Err(SourceError::BadFrame(format!("{what}: {e}"))),
        }
    }
}

/// Splits a concatenation of JPEG images at their start-of-image markers.
pub fn split_mjpeg(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut starts: Vec<usize> = bytes
        .windows(3)
        .enumerate()
        .filter(|(_, w)| w == &[0xFF, 0xD8, 0xFF])
        .map(|(i, _)| i)
        .collect();
    // A start marker can only follow the previous frame's end-of-image marker.
    starts.retain(|&i| i == 0 || bytes[..i].ends_with(&[0xFF, 0xD9]));
    starts
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            let e = starts.get(n + 1).copied().unwrap_or(bytes.len());
            bytes[s..e].to_vec()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Luma};

    fn jpeg(value: u8) -> Vec<u8> {
        let img = GrayImage::from_pixel(32, 24, Luma([value]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_clip_of_three_frames_plays_in_order_then_ends() {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("lobby.mjpeg");
        let bytes: Vec<u8> = [jpeg(10), jpeg(128), jpeg(250)].concat();
        std::fs::write(&clip, bytes).unwrap();
        let mut r = Replay::open(&clip, 1000, false).unwrap();
        assert_eq!(r.len(), 3);
        let levels: Vec<u8> = (0..3)
            .map(|_| r.next_frame().unwrap().get_pixel(5, 5).0[0])
            .collect();
        assert!(levels[0] < 40 && (100..160).contains(&levels[1]) && levels[2] > 220);
        assert_eq!(r.next_frame(), Err(SourceError::Ended));
    }

    #[test]
    fn a_folder_plays_sorted_loops_and_skips_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        for (name, v) in [("b.png", 200u8), ("a.png", 20)] {
            GrayImage::from_pixel(8, 8, Luma([v]))
                .save(dir.path().join(name))
                .unwrap();
        }
        std::fs::write(dir.path().join("c.png"), b"not a png").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let mut r = Replay::open(dir.path(), 1000, true).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.next_frame().unwrap().get_pixel(0, 0).0[0], 20);
        assert_eq!(r.next_frame().unwrap().get_pixel(0, 0).0[0], 200);
        assert!(matches!(r.next_frame(), Err(SourceError::BadFrame(_))));
        assert_eq!(r.next_frame().unwrap().get_pixel(0, 0).0[0], 20, "looped");
    }

    #[test]
    fn missing_or_empty_inputs_are_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Replay::open(&dir.path().join("nope"), 30, false),
            Err(SourceError::Unavailable(_))
        ));
        assert!(matches!(
            Replay::open(dir.path(), 30, false),
            Err(SourceError::Unavailable(_))
        ));
    }
}
