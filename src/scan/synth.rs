//! Camera-like frames of an invite QR code, for tests, tuning and demonstrations of the
//! decoder in [`super::decode`].
//!
//! [`invite_frames`] renders one token the way the kiosk's lobby camera sees it: a phone
//! screen or a printed invitation somewhere in a 1280x720 frame, at different sizes, angles
//! and tilts, through soft optics and a noisy sensor, under glare, uneven light and dark-mode
//! colours, and with the moiré a camera picks up from a phone screen's pixel grid.
//!
//! Everything is computed in memory and is deterministic for a given text and seed.

use image::{GenericImage, GrayImage, LumaA};
use imageproc::filter::gaussian_blur_f32;
use imageproc::geometric_transformations::{warp_into, Border, Interpolation, Projection};

/// Width of every synthetic frame, in pixels.
pub const FRAME_WIDTH: u32 = 1280;
/// Height of every synthetic frame, in pixels.
pub const FRAME_HEIGHT: u32 = 720;
/// Frames whose name starts with this prefix are deliberately at or past the edge of what
/// a camera decoder can be expected to read; the others should all decode.
pub const HARD_PREFIX: &str = "hard-";

/// Light modules the QR specification asks for around a code.
const QUIET_ZONE: usize = 4;
/// Blank margin of the screen or paper beyond the quiet zone, in modules.
const MARGIN: usize = 3;
/// Width of a phone's bezel around its screen, in modules.
const BEZEL: usize = 2;
/// Focal length of the simulated camera, in pixels (a typical 70° webcam at 720p).
const FOCAL_PX: f32 = 900.0;

/// What the code is shown on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Medium {
    /// Printed on paper: a white sheet, no bezel.
    Paper,
    /// A phone screen in light mode, with a visible pixel grid of this pitch in modules.
    Screen,
    /// A phone screen in dark mode: light modules on a black screen.
    DarkScreen,
}

/// How one frame is shot.
#[derive(Debug, Clone)]
struct Shot {
    name: String,
    medium: Medium,
    /// Side of the code itself (no quiet zone) in frame pixels, before tilting.
    code_px: f32,
    /// Centre of the code in the frame, as fractions of the frame's width and height.
    centre: (f32, f32),
    /// Rotation in the frame plane, degrees clockwise.
    angle: f32,
    /// Tilt about the code's vertical and horizontal axes, degrees.
    tilt: (f32, f32),
    /// Gray levels of dark and light modules as printed or lit (before lighting).
    dark: f32,
    light: f32,
    /// Gaussian blur on top of the optics, sigma in pixels.
    blur: f32,
    /// Sensor noise, standard deviation in gray levels.
    noise: f32,
    /// A blown-out reflection: centre relative to the code (-1..1 across it) and radius as a
    /// fraction of the code's side.
    glare: Option<(f32, f32, f32)>,
    /// Uneven light: the darkest corner of the frame gets `1 - gradient` of the light.
    gradient: f32,
    /// Amplitude of the moiré interference pattern (0 for none).
    moire: f32,
}

impl Shot {
    fn new(name: &str) -> Shot {
        Shot {
            name: name.to_owned(),
            medium: Medium::Screen,
            code_px: 300.0,
            centre: (0.5, 0.5),
            angle: 0.0,
            tilt: (0.0, 0.0),
            dark: 35.0,
            light: 215.0,
            blur: 0.0,
            noise: 3.0,
            glare: None,
            gradient: 0.0,
            moire: 0.0,
        }
    }
    fn medium(mut self, medium: Medium) -> Shot {
        self.medium = medium;
        self
    }
    fn size(mut self, code_px: f32) -> Shot {
        self.code_px = code_px;
        self
    }
    fn at(mut self, x: f32, y: f32) -> Shot {
        self.centre = (x, y);
        self
    }
    fn angle(mut self, degrees: f32) -> Shot {
        self.angle = degrees;
        self
    }
    fn tilt(mut self, about_vertical: f32, about_horizontal: f32) -> Shot {
        self.tilt = (about_vertical, about_horizontal);
        self
    }
    fn levels(mut self, dark: f32, light: f32) -> Shot {
        self.dark = dark;
        self.light = light;
        self
    }
    fn blur(mut self, sigma: f32) -> Shot {
        self.blur = sigma;
        self
    }
    fn noise(mut self, sigma: f32) -> Shot {
        self.noise = sigma;
        self
    }
    fn glare(mut self, x: f32, y: f32, radius: f32) -> Shot {
        self.glare = Some((x, y, radius));
        self
    }
    fn gradient(mut self, strength: f32) -> Shot {
        self.gradient = strength;
        self
    }
    fn moire(mut self, amplitude: f32) -> Shot {
        self.moire = amplitude;
        self
    }
}

/// The shots [`invite_frames`] renders, in order.
fn shots() -> Vec<Shot> {
    use Medium::{DarkScreen, Paper};
    vec![
        Shot::new("clean").angle(3.0),
        Shot::new("clean-paper")
            .medium(Paper)
            .angle(-4.0)
            .at(0.45, 0.55),
        Shot::new("small").size(120.0).at(0.4, 0.45),
        Shot::new("small-paper")
            .medium(Paper)
            .size(130.0)
            .angle(10.0)
            .at(0.6, 0.6),
        Shot::new("large").size(560.0).angle(-2.0),
        Shot::new("offcentre").size(220.0).at(0.84, 0.25).angle(6.0),
        Shot::new("rotated-15").angle(15.0),
        Shot::new("rotated-45").angle(45.0).size(280.0),
        Shot::new("rotated-100").angle(100.0),
        Shot::new("rotated-190").medium(Paper).angle(190.0),
        Shot::new("perspective-30").tilt(30.0, 0.0).angle(5.0),
        Shot::new("perspective-40").tilt(0.0, 40.0).size(340.0),
        Shot::new("perspective-diagonal")
            .tilt(28.0, 25.0)
            .angle(-12.0),
        Shot::new("blur-1.5").blur(1.5),
        Shot::new("blur-2").blur(2.0).size(340.0),
        Shot::new("blur-2.5").blur(2.5).size(400.0),
        Shot::new("noise").noise(12.0),
        Shot::new("noise-heavy").noise(24.0).size(340.0),
        Shot::new("glare").glare(0.35, -0.3, 0.12),
        Shot::new("glare-paper")
            .medium(Paper)
            .glare(-0.2, 0.25, 0.1)
            .angle(-8.0),
        Shot::new("uneven-light").gradient(0.6),
        Shot::new("uneven-light-strong")
            .gradient(0.8)
            .medium(Paper)
            .angle(7.0),
        Shot::new("inverted").medium(DarkScreen),
        Shot::new("inverted-rotated")
            .medium(DarkScreen)
            .angle(-30.0)
            .size(260.0),
        Shot::new("low-contrast").levels(90.0, 150.0).medium(Paper),
        Shot::new("low-contrast-dim").levels(45.0, 85.0).angle(12.0),
        Shot::new("moire").moire(0.25),
        Shot::new("moire-strong").moire(0.4).size(260.0).angle(8.0),
        Shot::new("perspective-blur-noise")
            .tilt(30.0, 10.0)
            .blur(1.5)
            .noise(10.0),
        Shot::new("glare-rotated")
            .angle(35.0)
            .glare(-0.3, -0.25, 0.11),
        Shot::new("small-blur").size(150.0).blur(1.2),
        Shot::new("low-contrast-noise")
            .levels(90.0, 150.0)
            .noise(10.0)
            .medium(Paper),
        Shot::new("moire-rotated-perspective")
            .moire(0.3)
            .angle(-20.0)
            .tilt(20.0, 15.0),
        Shot::new("inverted-perspective-blur")
            .medium(DarkScreen)
            .tilt(-30.0, 10.0)
            .blur(1.5),
        Shot::new("uneven-light-blur")
            .gradient(0.7)
            .blur(1.8)
            .angle(20.0),
        Shot::new("hard-tiny").size(90.0).at(0.3, 0.6),
        Shot::new("hard-blur-3.5").blur(3.5).size(360.0),
        Shot::new("hard-perspective-55")
            .tilt(55.0, 10.0)
            .size(360.0),
        Shot::new("hard-glare-centre")
            .glare(0.0, 0.0, 0.17)
            .noise(6.0),
    ]
}

/// Camera-like 1280x720 frames of the QR code for `text` (an invite token), each named by
/// what makes it hard: `clean`, `small`, `rotated-45`, `perspective-30`, `blur-2`, `glare`,
/// `inverted`, `moire`, combinations such as `perspective-blur-noise`, and a few frames named
/// `hard-…` (see [`HARD_PREFIX`]) that sit at the edge of readability.
///
/// The same text and seed always give the same frames; the seed moves each shot a little
/// (position, angle, lighting phase, sensor noise). Returns no frames if `text` cannot be
/// encoded as a QR code.
pub fn invite_frames(text: &str, seed: u64) -> Vec<(String, GrayImage)> {
    let Ok((width, modules)) = crate::qr::qr_modules(text) else {
        return Vec::new();
    };
    let mut rng = SplitMix64(seed);
    shots()
        .into_iter()
        .map(|shot| {
            let frame = render(&shot, width, &modules, &mut rng);
            (shot.name, frame)
        })
        .collect()
}

/// A small deterministic pseudo-random generator (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1)`.
    fn signed_unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

fn render(shot: &Shot, width: usize, modules: &[bool], rng: &mut SplitMix64) -> GrayImage {
    let (fw, fh) = (FRAME_WIDTH as usize, FRAME_HEIGHT as usize);
    // Seeded jitter so different seeds give different but equivalent frames.
    let jitter_x = rng.signed_unit() * 12.0;
    let jitter_y = rng.signed_unit() * 12.0;
    let jitter_angle = rng.signed_unit() * 1.5;
    let phase = rng.signed_unit() * std::f32::consts::PI;
    let noise_seed = rng.next_u64();
    let scene_seed = rng.next_u64();

    let mut light = lobby_background(fw, fh, scene_seed);

    // The medium (screen or paper) as a texture with an alpha channel, warped into place.
    let border = if shot.medium == Medium::Paper {
        0
    } else {
        BEZEL
    };
    let side_modules = width + 2 * (QUIET_ZONE + MARGIN + border);
    let module_px = shot.code_px / width as f32;
    // Texture resolution: fine enough that warping never magnifies much.
    let texel = ((module_px * 1.5).ceil() as usize).clamp(3, 16);
    let texture = medium_texture(shot, width, modules, side_modules, texel, border);

    let half = side_modules as f32 * module_px / 2.0;
    let centre = (
        shot.centre.0 * fw as f32 + jitter_x,
        shot.centre.1 * fh as f32 + jitter_y,
    );
    let corners = [(-half, -half), (half, -half), (half, half), (-half, half)]
        .map(|corner| project(corner, shot, jitter_angle, centre));
    let tex_side = (side_modules * texel) as f32;
    let from = [
        (0.0, 0.0),
        (tex_side, 0.0),
        (tex_side, tex_side),
        (0.0, tex_side),
    ];

    // Everything but the background and the sensor noise happens in the region around
    // the code (the rest of the frame is flat), which keeps rendering cheap.
    let reach = 24.0 + shot.blur * 3.0 + shot.glare.map_or(0.0, |g| g.2 * shot.code_px * 2.5);
    let xs = corners.map(|c| c.0);
    let ys = corners.map(|c| c.1);
    let clamp_x = |v: f32| (v.max(0.0) as usize).min(fw);
    let clamp_y = |v: f32| (v.max(0.0) as usize).min(fh);
    let (rx0, rx1) = (
        clamp_x(xs.iter().copied().fold(f32::MAX, f32::min) - reach),
        clamp_x(xs.iter().copied().fold(f32::MIN, f32::max) + reach + 1.0),
    );
    let (ry0, ry1) = (
        clamp_y(ys.iter().copied().fold(f32::MAX, f32::min) - reach),
        clamp_y(ys.iter().copied().fold(f32::MIN, f32::max) + reach + 1.0),
    );
    let region = Region {
        x0: rx0,
        y0: ry0,
        w: rx1.saturating_sub(rx0),
        h: ry1.saturating_sub(ry0),
    };
    let mut coverage = vec![0.0f32; region.w * region.h];
    if region.w > 0 && region.h > 0 {
        let to = corners.map(|(x, y)| (x - rx0 as f32, y - ry0 as f32));
        let mut layer =
            image::ImageBuffer::<LumaA<u8>, Vec<u8>>::new(region.w as u32, region.h as u32);
        if let Some(projection) = Projection::from_control_points(from, to) {
            warp_into(
                &texture,
                projection,
                Interpolation::Bilinear,
                Border::Constant(LumaA([0, 0])),
                &mut layer,
            );
        }
        for (row, (layer_row, coverage_row)) in layer
            .chunks_exact(region.w * 2)
            .zip(coverage.chunks_exact_mut(region.w))
            .enumerate()
        {
            let frame_row = &mut light[(ry0 + row) * fw + rx0..][..region.w];
            for ((value, pixel), alpha) in frame_row
                .iter_mut()
                .zip(layer_row.chunks_exact(2))
                .zip(coverage_row.iter_mut())
            {
                *alpha = f32::from(pixel[1]) / 255.0;
                *value = *value * (1.0 - *alpha) + f32::from(pixel[0]) * *alpha;
            }
        }
    }

    let code_centre = (
        (corners[0].0 + corners[1].0 + corners[2].0 + corners[3].0) / 4.0,
        (corners[0].1 + corners[1].1 + corners[2].1 + corners[3].1) / 4.0,
    );
    apply_lighting(&mut light, &coverage, &region, fw, shot, code_centre, phase);

    let pixels: Vec<u8> = light
        .iter()
        .map(|&value| value.round().clamp(0.0, 255.0) as u8)
        .collect();
    let mut frame = GrayImage::from_raw(FRAME_WIDTH, FRAME_HEIGHT, pixels)
        .unwrap_or_else(|| GrayImage::new(FRAME_WIDTH, FRAME_HEIGHT));
    // Optics are never perfectly sharp; the shot's blur comes on top.
    let sigma = (0.6f32 * 0.6 + shot.blur * shot.blur).sqrt();
    if region.w > 0 && region.h > 0 {
        let crop = image::imageops::crop_imm(
            &frame,
            region.x0 as u32,
            region.y0 as u32,
            region.w as u32,
            region.h as u32,
        )
        .to_image();
        let blurred = gaussian_blur_f32(&crop, sigma);
        let _ = frame.copy_from(&blurred, region.x0 as u32, region.y0 as u32);
    }
    if shot.noise > 0.0 {
        // Sensor noise, roughly Gaussian (a sum of three uniform variables).
        let mut noise = SplitMix64(noise_seed);
        for value in frame.iter_mut() {
            let n = (noise.signed_unit() + noise.signed_unit() + noise.signed_unit()) * shot.noise;
            *value = (f32::from(*value) + n).round().clamp(0.0, 255.0) as u8;
        }
    }
    frame
}

/// The part of the frame around the code, where the code and its lighting are rendered.
struct Region {
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
}

/// A plain lobby behind the code: a soft vertical gradient and a few large shapes (a door,
/// a desk, a poster) so that the frame is not empty.
fn lobby_background(fw: usize, fh: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64(seed);
    let mut pixels = vec![0.0f32; fw * fh];
    for (y, row) in pixels.chunks_exact_mut(fw).enumerate() {
        row.fill(150.0 - 40.0 * y as f32 / fh as f32);
    }
    for _ in 0..5 {
        let x0 = ((rng.signed_unit() + 1.0) / 2.0 * fw as f32) as usize;
        let y0 = ((rng.signed_unit() + 1.0) / 2.0 * fh as f32) as usize;
        let w = 80 + (rng.next_u64() % 400) as usize;
        let h = 60 + (rng.next_u64() % 300) as usize;
        let value = 60.0 + (rng.next_u64() % 140) as f32;
        for y in y0..(y0 + h).min(fh) {
            pixels[y * fw + x0..y * fw + (x0 + w).min(fw)].fill(value);
        }
    }
    pixels
}

/// The screen or paper with the code on it, `texel` texture pixels per module.
fn medium_texture(
    shot: &Shot,
    width: usize,
    modules: &[bool],
    side_modules: usize,
    texel: usize,
    border: usize,
) -> image::ImageBuffer<LumaA<u8>, Vec<u8>> {
    let side = (side_modules * texel) as u32;
    let offset = border + MARGIN + QUIET_ZONE;
    let (dark, light) = (shot.dark.round() as u8, shot.light.round() as u8);
    let (module_dark, module_light) = match shot.medium {
        Medium::DarkScreen => (light, dark / 2),
        Medium::Paper | Medium::Screen => (dark, light),
    };
    let bezel = 20u8;
    // A screen's pixel grid: a slightly darker line every `pitch` texture pixels.
    let pitch = if shot.moire > 0.0 { 3 } else { 0 };
    image::ImageBuffer::from_fn(side, side, |x, y| {
        let (mx, my) = (x as usize / texel, y as usize / texel);
        let in_bezel = mx < border
            || my < border
            || mx >= side_modules - border
            || my >= side_modules - border;
        if in_bezel {
            return LumaA([bezel, 255]);
        }
        let in_code =
            (offset..offset + width).contains(&mx) && (offset..offset + width).contains(&my);
        let dark_module = in_code && modules[(my - offset) * width + (mx - offset)];
        let mut value = if dark_module {
            module_dark
        } else {
            module_light
        };
        if pitch > 0 && (x % pitch == 0 || y % pitch == 0) {
            value = (f32::from(value) * (1.0 - shot.moire)) as u8;
        }
        LumaA([value, 255])
    })
}

/// Where a point of the code's plane (pixels, relative to the code's centre) lands in the
/// frame after tilting, rotating and a pinhole projection.
fn project(point: (f32, f32), shot: &Shot, jitter_angle: f32, centre: (f32, f32)) -> (f32, f32) {
    let (x, y) = point;
    let (ay, ax) = (shot.tilt.0.to_radians(), shot.tilt.1.to_radians());
    // Tilt about the vertical axis, then about the horizontal axis.
    let (x1, z1) = (x * ay.cos(), x * ay.sin());
    let (y2, z2) = (y * ax.cos() - z1 * ax.sin(), y * ax.sin() + z1 * ax.cos());
    // Perspective: the code's centre sits at the focal distance, so its size is kept.
    let scale = FOCAL_PX / (FOCAL_PX + z2);
    let (px, py) = (x1 * scale, y2 * scale);
    let angle = (shot.angle + jitter_angle).to_radians();
    let (s, c) = angle.sin_cos();
    (centre.0 + px * c - py * s, centre.1 + px * s + py * c)
}

/// Uneven light over the frame; glare and moiré in the code's region. `coverage` is how
/// much of each region pixel the screen or paper covers (moiré only appears on a screen).
fn apply_lighting(
    light: &mut [f32],
    coverage: &[f32],
    region: &Region,
    fw: usize,
    shot: &Shot,
    code: (f32, f32),
    phase: f32,
) {
    let fh = light.len() / fw.max(1);
    if shot.gradient > 0.0 {
        // Light falls off from the top-left corner towards the bottom-right one.
        let span = (fw + fh) as f32;
        for (y, row) in light.chunks_exact_mut(fw).enumerate() {
            for (x, value) in row.iter_mut().enumerate() {
                *value *= 1.0 - shot.gradient * (x + y) as f32 / span;
            }
        }
    }
    if shot.glare.is_none() && shot.moire <= 0.0 {
        return;
    }
    let glare = shot.glare.map(|(gx, gy, radius)| {
        let half = shot.code_px / 2.0;
        (
            code.0 + gx * half,
            code.1 + gy * half,
            radius * shot.code_px,
        )
    });
    // Moiré: two interfering gratings give a slowly varying beat across the screen.
    let (f1, f2) = (0.21f32, 0.23f32);
    for ry in 0..region.h {
        let y = region.y0 + ry;
        let yf = y as f32;
        let row = &mut light[y * fw + region.x0..][..region.w];
        let cover = &coverage[ry * region.w..][..region.w];
        for (rx, (value, &covered)) in row.iter_mut().zip(cover).enumerate() {
            let xf = (region.x0 + rx) as f32;
            if shot.moire > 0.0 && covered > 0.0 {
                let wave = (f1 * xf + 0.05 * yf + phase).sin() * (f2 * yf - 0.04 * xf).sin();
                *value *= 1.0 + shot.moire * 0.6 * wave * covered;
            }
            if let Some((gx, gy, r)) = glare {
                let d2 = (xf - gx) * (xf - gx) + (yf - gy) * (yf - gy);
                // A reflection is far brighter than the screen: it saturates the sensor.
                *value += 420.0 * (-d2 / (2.0 * r * r)).exp();
            }
        }
    }
}
