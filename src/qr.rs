//! QR codes for invites: PNG images for screens and e-mail, module grids for the badge printer.
//!
//! Every function encodes at error correction level M and lets the encoder pick the smallest
//! version that fits. An invite token (see [`crate::domain::invite`]) always fits version 6.

use image::codecs::png::PngEncoder;
use image::{GrayImage, Luma};
use qrcode::{Color, EcLevel, QrCode, Version};

/// Largest PNG side, in pixels, that [`qr_png`] agrees to render.
pub const MAX_IMAGE_SIDE_PX: u32 = 8192;

/// Why a QR code could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The text cannot be encoded (for instance, it is too long for any QR code).
    #[error("cannot encode a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    /// `module_px` was zero.
    #[error("a QR module must be at least one pixel wide")]
    ZeroModuleSize,
    /// The image would be larger than [`MAX_IMAGE_SIDE_PX`] on a side.
    #[error("the QR image would be too large ({modules} modules of {module_px} px)")]
    TooLarge {
        /// Modules per side, quiet zone included.
        modules: u64,
        /// Pixels per module.
        module_px: u32,
    },
    /// PNG encoding failed.
    #[error("cannot encode the QR image as PNG: {0}")]
    Png(#[from] image::ImageError),
}

/// Renders `text` as a black-on-white QR code PNG.
///
/// Each module is `module_px` pixels square and the code is surrounded by `quiet_zone`
/// light modules on every side (the QR specification asks for 4), so the image is
/// `(width + 2 * quiet_zone) * module_px` pixels on a side.
pub fn qr_png(text: &str, module_px: u32, quiet_zone: u32) -> Result<Vec<u8>, QrError> {
    if module_px == 0 {
        return Err(QrError::ZeroModuleSize);
    }
    let code = encode(text)?;
    let width = code.width();
    let modules = u64::try_from(width)
        .unwrap_or(u64::MAX)
        .saturating_add(2 * u64::from(quiet_zone));
    let side = modules.saturating_mul(u64::from(module_px));
    let side = match u32::try_from(side) {
        Ok(side) if side <= MAX_IMAGE_SIDE_PX => side,
        _ => return Err(QrError::TooLarge { modules, module_px }),
    };
    // Both fit in u32 now: width and quiet_zone are at most `side`.
    let offset = quiet_zone * module_px;

    let mut image = GrayImage::from_pixel(side, side, Luma([255]));
    for (index, color) in code.to_colors().into_iter().enumerate() {
        if color != Color::Dark {
            continue;
        }
        let (row, column) = (index / width, index % width);
        // row, column < width <= side, so these fit in u32.
        let top = offset + row as u32 * module_px;
        let left = offset + column as u32 * module_px;
        for y in top..top + module_px {
            for x in left..left + module_px {
                image.put_pixel(x, y, Luma([0]));
            }
        }
    }

    let mut png = Vec::new();
    image.write_with_encoder(PngEncoder::new(&mut png))?;
    Ok(png)
}

/// The QR version (1..=40) the encoder picks for `text` at error correction level M.
pub fn qr_version(text: &str) -> Result<i16, QrError> {
    Ok(match encode(text)?.version() {
        Version::Normal(version) | Version::Micro(version) => version,
    })
}

/// The module grid of the QR code for `text`: its width in modules and, row by row, `true`
/// for every dark module. No quiet zone is included.
pub fn qr_modules(text: &str) -> Result<(usize, Vec<bool>), QrError> {
    let code = encode(text)?;
    let width = code.width();
    let modules = code
        .into_colors()
        .into_iter()
        .map(|color| color == Color::Dark)
        .collect();
    Ok((width, modules))
}

fn encode(text: &str) -> Result<QrCode, QrError> {
    Ok(QrCode::with_error_correction_level(text, EcLevel::M)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "LKO:7K3QMX9P";

    #[test]
    fn png_decodes_to_the_expected_size_and_colours() {
        let (width, modules) = qr_modules(SAMPLE).unwrap();
        for (module_px, quiet_zone) in [(1, 0), (4, 4), (3, 2), (10, 1)] {
            let png = qr_png(SAMPLE, module_px, quiet_zone).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            let image = image::load_from_memory(&png).unwrap().to_luma8();
            let side = (width as u32 + 2 * quiet_zone) * module_px;
            assert_eq!(image.dimensions(), (side, side));

            // Every pixel matches its module, and the quiet zone is white.
            for (x, y, pixel) in image.enumerate_pixels() {
                let (mx, my) = (x / module_px, y / module_px);
                let inside = (quiet_zone..quiet_zone + width as u32).contains(&mx)
                    && (quiet_zone..quiet_zone + width as u32).contains(&my);
                let dark = inside
                    && modules[(my - quiet_zone) as usize * width + (mx - quiet_zone) as usize];
                assert_eq!(pixel.0[0], if dark { 0 } else { 255 }, "pixel {x},{y}");
            }
        }
    }

    #[test]
    fn modules_are_square_and_row_major() {
        let (width, modules) = qr_modules(SAMPLE).unwrap();
        assert_eq!(width, 21);
        assert_eq!(modules.len(), width * width);
        // Finder patterns: the top-left, top-right and bottom-left corners are dark, and the
        // separator next to the top-left finder is light.
        assert!(modules[0]);
        assert!(modules[width - 1]);
        assert!(modules[(width - 1) * width]);
        assert!(!modules[7]);
        assert!(!modules[7 * width]);
        // The bottom-right corner has no finder pattern; the top-left one is 7x7 with a
        // light ring at distance 1.
        assert!(!modules[width + 1]);
        assert!(modules[2 * width + 2]);
    }

    #[test]
    fn versions_grow_with_the_text() {
        assert_eq!(qr_version(SAMPLE).unwrap(), 1);
        assert!(qr_version(&"A".repeat(150)).unwrap() <= 6);
        assert!(qr_version(&"A".repeat(160)).unwrap() > 6);
    }

    #[test]
    fn errors() {
        assert!(matches!(qr_png(SAMPLE, 0, 4), Err(QrError::ZeroModuleSize)));
        assert!(matches!(
            qr_png(SAMPLE, 1000, 4),
            Err(QrError::TooLarge { .. })
        ));
        assert!(matches!(
            qr_png(SAMPLE, u32::MAX, u32::MAX),
            Err(QrError::TooLarge { .. })
        ));
        let too_long = "x".repeat(5000);
        assert!(matches!(qr_version(&too_long), Err(QrError::Encode(_))));
        assert!(matches!(qr_modules(&too_long), Err(QrError::Encode(_))));
        assert!(matches!(qr_png(&too_long, 4, 4), Err(QrError::Encode(_))));
    }
}
