//! The USB camera, through nokhwa (video4linux on Linux).
//!
//! A camera is opened inside the thread that reads it (the capture backends are not `Send`),
//! which is why the supervisor takes a function that opens the source rather than a source.

use image::GrayImage;
use nokhwa::pixel_format::LumaFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat,
    RequestedFormatType, Resolution,
};
use nokhwa::Camera;

use super::{FrameSource, SourceError};
use crate::config::{CameraConfig, CameraFormat as ConfigFormat, CameraSelector};

/// A camera found on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraDevice {
    pub index: u32,
    pub name: String,
    pub description: String,
}

/// Lists the cameras the system offers. An empty list (no camera, or no video subsystem)
/// is not an error: the kiosk then takes typed codes.
pub fn list_cameras() -> Vec<CameraDevice> {
    match nokhwa::query(ApiBackend::Auto) {
        Ok(list) => list.iter().filter_map(device).collect(),
        Err(e) => {
            tracing::info!(error = %e, "no cameras could be listed");
            Vec::new()
        }
    }
}

fn device(info: &CameraInfo) -> Option<CameraDevice> {
    let index = match info.index() {
        CameraIndex::Index(i) => *i,
        CameraIndex::String(s) => s.trim_start_matches("/dev/video").parse().ok()?,
    };
    Some(CameraDevice {
        index,
        name: info.human_name(),
        description: info.description().to_string(),
    })
}

/// Picks the camera `kiosk.toml` asks for among those present.
pub fn choose(selector: &CameraSelector, present: &[CameraDevice]) -> Option<CameraDevice> {
    match selector {
        CameraSelector::None => None,
        CameraSelector::Auto => present.first().cloned(),
        CameraSelector::Index(i) => present.iter().find(|d| d.index == *i).cloned(),
        CameraSelector::Name(n) => {
            let n = n.to_lowercase();
            present
                .iter()
                .find(|d| d.name.to_lowercase().contains(&n))
                .cloned()
        }
    }
}

/// A camera delivering grayscale frames.
pub struct UsbCamera {
    camera: Camera,
    label: String,
}

impl UsbCamera {
    /// Opens the configured camera with the requested size, rate and pixel format (the
    /// camera's nearest offer is taken when it has no exact match).
    pub fn open(config: &CameraConfig) -> Result<UsbCamera, SourceError> {
        let selector = config.selector();
        if selector == CameraSelector::None {
            return Err(SourceError::Unavailable(
                "the camera is switched off in kiosk.toml".into(),
            ));
        }
        let present = list_cameras();
        let dev = choose(&selector, &present).ok_or_else(|| {
            SourceError::Unavailable(if present.is_empty() {
                "no camera is connected".to_string()
            } else {
                format!(
                    "no camera matches camera.device; found: {}",
                    present
                        .iter()
                        .map(|d| format!("{} ({})", d.index, d.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        })?;
        let formats: &[FrameFormat] = match config.format {
            ConfigFormat::Auto => &[FrameFormat::MJPEG, FrameFormat::YUYV, FrameFormat::GRAY],
            ConfigFormat::Mjpeg => &[FrameFormat::MJPEG],
            ConfigFormat::Yuyv => &[FrameFormat::YUYV],
        };
        let wanted = CameraFormat::new(
            Resolution::new(config.width, config.height),
            formats[0],
            config.fps,
        );
        let request = RequestedFormat::with_formats(RequestedFormatType::Closest(wanted), formats);
        let mut camera = Camera::new(CameraIndex::Index(dev.index), request)
            .map_err(|e| SourceError::Unavailable(format!("camera {}: {e}", dev.name)))?;
        camera
            .open_stream()
            .map_err(|e| SourceError::Unavailable(format!("camera {}: {e}", dev.name)))?;
        let fmt = camera.camera_format();
        tracing::info!(
            camera = %dev.name,
            width = fmt.width(),
            height = fmt.height(),
            fps = fmt.frame_rate(),
            format = %fmt.format(),
            "camera opened"
        );
        Ok(UsbCamera {
            camera,
            label: format!("{} (video{})", dev.name, dev.index),
        })
    }
}

impl FrameSource for UsbCamera {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn next_frame(&mut self) -> Result<GrayImage, SourceError> {
        let buffer = self
            .camera
            .frame()
            .map_err(|e| SourceError::Disconnected(format!("{}: {e}", self.label)))?;
        // A corrupt MJPEG frame happens on a flaky USB link: report it as a lost frame of a
        // working camera, which the supervisor retries, rather than a dead camera.
        buffer
            .decode_image::<LumaFormat>()
            .map_err(|e| SourceError::Disconnected(format!("{}: bad frame: {e}", self.label)))
    }
}

impl Drop for UsbCamera {
    fn drop(&mut self) {
        if let Err(e) = self.camera.stop_stream() {
            tracing::debug!(error = %e, "closing the camera stream");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devs() -> Vec<CameraDevice> {
        vec![
            CameraDevice {
                index: 0,
                name: "Integrated Webcam".into(),
                description: String::new(),
            },
            CameraDevice {
                index: 2,
                name: "Logitech C920".into(),
                description: String::new(),
            },
        ]
    }

    #[test]
    fn selector_picks_by_auto_index_and_name() {
        assert_eq!(choose(&CameraSelector::Auto, &devs()).unwrap().index, 0);
        assert_eq!(choose(&CameraSelector::Index(2), &devs()).unwrap().index, 2);
        assert_eq!(choose(&CameraSelector::Index(1), &devs()), None);
        assert_eq!(
            choose(&CameraSelector::Name("logitech".into()), &devs())
                .unwrap()
                .index,
            2
        );
        assert_eq!(choose(&CameraSelector::None, &devs()), None);
        assert_eq!(choose(&CameraSelector::Auto, &[]), None);
    }

    #[test]
    fn no_camera_on_this_machine_is_unavailable_not_a_crash() {
        // Machines without /dev/video* list nothing; opening must say so plainly.
        if !list_cameras().is_empty() {
            return;
        }
        let config = CameraConfig::default();
        match UsbCamera::open(&config) {
            Err(SourceError::Unavailable(m)) => assert!(m.contains("no camera"), "{m}"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a camera that is not there"),
        }
    }
}
