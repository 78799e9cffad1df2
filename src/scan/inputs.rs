//! Building the pipeline's inputs from `kiosk.toml`.

use super::{camera, hid, pipeline, replay, serial, CodeSource, FrameSource};

/// The camera `kiosk.toml` asks for, as an opener for the pipeline; `None` when the camera
/// is switched off (`camera.device = "none"`), in which case visitors type their codes.
pub fn camera_opener(config: &crate::config::CameraConfig) -> Option<pipeline::FrameOpener> {
    if config.selector() == crate::config::CameraSelector::None {
        return None;
    }
    let config = config.clone();
    Some(Box::new(move || {
        camera::UsbCamera::open(&config).map(|c| Box::new(c) as Box<dyn FrameSource>)
    }))
}

/// A replayed folder of images or `.mjpeg` clip, as an opener for the pipeline.
pub fn replay_opener(path: std::path::PathBuf, fps: u32, looped: bool) -> pipeline::FrameOpener {
    Box::new(move || {
        replay::Replay::open(&path, fps, looped).map(|r| Box::new(r) as Box<dyn FrameSource>)
    })
}

/// The hardware scanner `kiosk.toml` configures, as openers for the pipeline.
pub fn scanner_openers(
    config: &crate::config::ScannerConfig,
) -> Vec<(pipeline::Input, pipeline::CodeOpener)> {
    use crate::config::ScannerKind;
    match config.kind {
        ScannerKind::None => Vec::new(),
        ScannerKind::Serial => {
            let (port, baud) = (config.serial_port.clone(), config.baud);
            vec![(
                pipeline::Input::SerialScanner,
                Box::new(move || {
                    serial::SerialScanner::open(&port, baud)
                        .map(|s| Box::new(s) as Box<dyn CodeSource>)
                }),
            )]
        }
        ScannerKind::Hid => {
            let path = std::path::PathBuf::from(&config.hid_device);
            vec![(
                pipeline::Input::HidScanner,
                Box::new(move || {
                    hid::HidScanner::open(&path).map(|s| Box::new(s) as Box<dyn CodeSource>)
                }),
            )]
        }
    }
}
