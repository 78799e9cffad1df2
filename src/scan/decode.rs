//! Camera frames to QR code texts.
//!
//! rqrr finds and reads QR codes in a black-and-white image. On its own it thresholds the
//! frame with one running row average and checks the three finder patterns ("capstones")
//! of a code against each other using each finder's own outline, which goes wrong once a
//! finder is only a few dozen pixels wide: small, rotated, blurred, glared, dark-mode or
//! moiré-ridden codes are missed. [`Decoder`] therefore does the looking itself:
//!
//! 1. **Locate.** The frame is box-downscaled to about 640 pixels on the long side and
//!    thresholded locally (block black points as in zxing's hybrid binariser). A row scan
//!    for the 1:1:3:1:1 run pattern of finder patterns, cross-checked vertically,
//!    horizontally and diagonally, finds finder candidates in both polarities (dark codes
//!    and light dark-mode codes); candidates of similar size are grouped in threes that
//!    could be one code (or in pairs when no three fit).
//! 2. **Read the region.** For each group, the region of the *full-resolution* frame around
//!    it is cut out and resampled to 5 to 10 pixels per module (small codes are enlarged,
//!    large ones reduced), thresholded in a few ways and handed to rqrr. Regions are small,
//!    so this is cheap, and rqrr sees every code at a size it reads well. Pairs of finders
//!    (the third lost to glare or blur) get the region the code must lie in.
//! 3. **Look closer.** If the downscaled frame showed no usable group, the same is done on
//!    the full-resolution frame (small codes).
//! 4. **Whole-frame passes.** If a strong finder candidate was seen but nothing was read
//!    (or the frame is small), whole-frame passes follow (smoothing, other thresholds,
//!    inversion, enlargement) within a per-frame pixel budget; passes that do not fit run
//!    on the following frames. A camera frame with no finder-like structure stops after
//!    step 3, so empty frames stay cheap (about 3 ms at 1280x720), and scenes full of
//!    finder-like texture are not handed to rqrr at all (its pairing of finders explodes
//!    on them, rqrr issue #50).
//!
//! rqrr can panic on degenerate geometry (rqrr issue #54): every call into it is contained
//! with `catch_unwind`, and a frame that trips it yields nothing. The panic message still
//! reaches the process's panic hook (stderr by default); the decoder logs it at debug level.

use std::panic::{catch_unwind, AssertUnwindSafe};

use image::GrayImage;

/// What a frame held: the texts of every QR code read, and the pass that read them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded {
    /// Decoded texts, in the order found, without duplicates. Empty if nothing was read.
    pub texts: Vec<String>,
    /// Name of the pass that read the texts; `None` if nothing was read.
    pub pass: Option<&'static str>,
}

/// Long side of the image the finder search starts on.
const FAST_LONG_SIDE: usize = 640;
/// Largest side of a resampled region.
const MAX_REGION_SIDE: f32 = 1200.0;
/// At most this many candidate codes are read per search.
const MAX_GROUPS: usize = 3;
/// Finder candidates kept per search (busy scenes produce many).
const MAX_FINDERS: usize = 96;

/// Which resolution a whole-frame pass works at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// The frame as given.
    Full,
    /// Twice the frame's resolution (bilinear), for small codes.
    Up,
}

/// How the gray image is conditioned before thresholding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    None,
    /// A light 3x3 binomial blur against noise and screen moiré.
    Smooth,
    /// A linear stretch of the 1st to 99th percentile to the full range.
    Stretch,
}

/// How the gray image becomes black and white.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threshold {
    /// rqrr's own row-wise running average.
    Native,
    /// Block-wise black points averaged over 5x5 blocks of `block` pixels, with a
    /// minimum contrast below which a block counts as background (as in zxing).
    Hybrid { block: u8 },
    /// Dark where the pixel is `offset` percent below the mean of a window whose side is
    /// `1/div` of the image's short side (integral image; Bradley and Roth).
    Mean { div: u8, offset: u8 },
}

/// One whole-frame pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pass {
    name: &'static str,
    scale: Scale,
    filter: Filter,
    threshold: Threshold,
    /// Swap black and white (light codes on dark screens).
    invert: bool,
}

impl Pass {
    const fn new(
        name: &'static str,
        scale: Scale,
        filter: Filter,
        threshold: Threshold,
        invert: bool,
    ) -> Pass {
        Pass {
            name,
            scale,
            filter,
            threshold,
            invert,
        }
    }
}

const HYBRID: Threshold = Threshold::Hybrid { block: 8 };

/// [`Decoder::plain`]: rqrr alone.
const PLAIN: Pass = Pass::new("plain", Scale::Full, Filter::None, Threshold::Native, false);

/// Whole-frame passes, in the order tried when no region was read (see the budget above).
const WHOLE_FRAME: &[Pass] = &[
    Pass::new(
        "frame-smooth",
        Scale::Full,
        Filter::Smooth,
        Threshold::Hybrid { block: 16 },
        false,
    ),
    Pass::new(
        "frame-smooth-mean",
        Scale::Full,
        Filter::Smooth,
        Threshold::Mean { div: 4, offset: 10 },
        false,
    ),
    Pass::new(
        "frame-smooth-mean-near",
        Scale::Full,
        Filter::Smooth,
        Threshold::Mean { div: 8, offset: 8 },
        false,
    ),
    Pass::new(
        "frame-smooth-mean-fine",
        Scale::Full,
        Filter::Smooth,
        Threshold::Mean { div: 16, offset: 6 },
        false,
    ),
    Pass::new(
        "frame-smooth-mean-finest",
        Scale::Full,
        Filter::Smooth,
        Threshold::Mean { div: 32, offset: 4 },
        false,
    ),
    Pass::new(
        "frame-native-inverted",
        Scale::Full,
        Filter::Smooth,
        Threshold::Native,
        true,
    ),
    Pass::new(
        "frame-mean-inverted",
        Scale::Full,
        Filter::None,
        Threshold::Mean { div: 32, offset: 4 },
        true,
    ),
    Pass::new("frame", Scale::Full, Filter::None, HYBRID, false),
    Pass::new(
        "frame-native",
        Scale::Full,
        Filter::Stretch,
        Threshold::Native,
        false,
    ),
    Pass::new(
        "frame-upscaled",
        Scale::Up,
        Filter::Stretch,
        Threshold::Native,
        false,
    ),
];

/// How a region is prepared for rqrr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RegionPass {
    name: &'static str,
    /// Module size the region is resampled to, in pixels.
    target: u8,
    /// Smooth (3x3 binomial) before thresholding.
    smooth: bool,
    threshold: RegionThreshold,
}

/// Thresholds for regions, whose module size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegionThreshold {
    /// Hybrid with this block size in pixels.
    Hybrid(u8),
    /// Mean over a window of this radius in modules, pixels `offset` percent below.
    Mean { radius: u8, offset: u8 },
}

/// Region passes in the order tried.
const REGION_PASSES: &[RegionPass] = &[
    RegionPass {
        name: "region",
        target: 5,
        smooth: false,
        threshold: RegionThreshold::Hybrid(12),
    },
    RegionPass {
        name: "region-smooth-mean",
        target: 6,
        smooth: true,
        threshold: RegionThreshold::Mean {
            radius: 12,
            offset: 4,
        },
    },
    RegionPass {
        name: "region-smooth-fine",
        target: 10,
        smooth: true,
        threshold: RegionThreshold::Hybrid(4),
    },
    RegionPass {
        name: "region-smooth-mean-near",
        target: 8,
        smooth: true,
        threshold: RegionThreshold::Mean {
            radius: 5,
            offset: 6,
        },
    },
    RegionPass {
        name: "region-smooth",
        target: 5,
        smooth: true,
        threshold: RegionThreshold::Hybrid(12),
    },
];

/// Turns camera frames into the texts of the QR codes in them.
///
/// Holds buffers that are reused from frame to frame; keep one per camera.
pub struct Decoder {
    plain: bool,
    work: Work,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

impl Decoder {
    /// The kiosk's pipeline: locate, read regions, look closer, whole-frame passes.
    pub fn new() -> Decoder {
        Decoder {
            plain: false,
            work: Work::default(),
        }
    }

    /// rqrr alone on the frame as given, for comparison.
    pub fn plain() -> Decoder {
        Decoder {
            plain: true,
            work: Work::default(),
        }
    }

    /// Reads every QR code in `frame`. Never panics: a frame that trips up the detector
    /// yields nothing.
    pub fn decode(&mut self, frame: &GrayImage) -> Decoded {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        if w == 0 || h == 0 || frame.as_raw().len() < w * h {
            return Decoded::default();
        }
        let plain = self.plain;
        let work = &mut self.work;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if plain {
                let found = work.run_pass(frame, &PLAIN);
                return Decoded::from_found(found, PLAIN.name);
            }
            work.decode(frame)
        }));
        outcome.unwrap_or_else(|_| {
            // Only rqrr is expected to panic, and its calls are guarded already; start
            // afresh in case a buffer was left half-written.
            self.work = Work::default();
            Decoded::default()
        })
    }
}

impl Decoded {
    fn from_found(found: Found, pass: &'static str) -> Decoded {
        if found.texts.is_empty() {
            return Decoded::default();
        }
        Decoded {
            texts: found.texts,
            pass: Some(pass),
        }
    }
}

/// What one call into rqrr saw.
#[derive(Debug, Default)]
struct Found {
    texts: Vec<String>,
}

/// A borrowed gray image.
#[derive(Debug, Clone, Copy)]
struct Gray<'a> {
    w: usize,
    h: usize,
    data: &'a [u8],
}

/// A gray or bit plane with its size.
#[derive(Debug, Default)]
struct Plane {
    w: usize,
    h: usize,
    data: Vec<u8>,
}

impl Plane {
    fn view(&self) -> Gray<'_> {
        Gray {
            w: self.w,
            h: self.h,
            data: &self.data,
        }
    }

    fn resize(&mut self, w: usize, h: usize) {
        self.w = w;
        self.h = h;
        self.data.clear();
        self.data.resize(w * h, 0);
    }
}

/// A finder pattern candidate, in the coordinates of the image it was found in (pixel
/// `i` spans `[i, i + 1)`).
#[derive(Debug, Clone, Copy)]
struct Finder {
    x: f32,
    y: f32,
    module: f32,
    hits: u32,
    /// `true` for a dark pattern on light, `false` for a light one on dark.
    dark: bool,
}

/// Finders that could be one code, and the region (left, top, right, bottom, in the
/// coordinates of the image they were found in) that code must lie in.
#[derive(Debug, Clone, Copy)]
struct Group {
    region: (f32, f32, f32, f32),
    module: f32,
    dark: bool,
    /// Lower is more code-like; pairs rank after all trios.
    score: f32,
}

/// Buffers reused across passes and frames, and what they hold for the current frame.
#[derive(Debug, Default)]
struct Work {
    /// Whole-frame pass to start with (passes that did not fit one frame's budget run on
    /// the next frames).
    next_whole_frame: usize,
    down_factor: usize,
    down: Plane,
    down_ready: bool,
    up: Plane,
    up_ready: bool,
    /// The filtered image and the (scale, filter) it was made from.
    filtered: Plane,
    filtered_key: Option<(Scale, Filter)>,
    bits: Plane,
    region: Plane,
    region_work: Plane,
    tmp: Vec<u16>,
    integral: Vec<u64>,
    black_points: Vec<u8>,
    finders: Vec<Finder>,
    groups: Vec<Group>,
}

impl Work {
    fn start(&mut self, frame: &GrayImage) {
        let long = frame.width().max(frame.height()) as usize;
        self.down_factor = long.div_ceil(FAST_LONG_SIDE).max(1);
        self.down_ready = false;
        self.up_ready = false;
        self.filtered_key = None;
    }

    fn decode(&mut self, frame: &GrayImage) -> Decoded {
        self.start(frame);
        let mut saw_finders = false;

        // 1 and 2: locate on the downscaled frame, read regions at full resolution.
        let factor = self.down_factor as f32;
        if let Some(decoded) = self.locate_and_read(frame, factor, &mut saw_finders) {
            return decoded;
        }
        // 3: look closer at full resolution.
        if self.down_factor > 1 {
            if let Some(decoded) = self.locate_and_read(frame, 1.0, &mut saw_finders) {
                return decoded;
            }
        }
        // 4: whole-frame passes, only if something looked like a finder pattern.
        let pixels = frame.width() as usize * frame.height() as usize;
        if saw_finders || pixels <= SMALL_FRAME_PX {
            let mut spent = 0;
            let start = self.next_whole_frame % WHOLE_FRAME.len();
            for k in 0..WHOLE_FRAME.len() {
                let index = (start + k) % WHOLE_FRAME.len();
                let pass = &WHOLE_FRAME[index];
                let cost = if pass.scale == Scale::Up {
                    4 * pixels
                } else {
                    pixels
                };
                if k > 0 && spent + cost > WHOLE_FRAME_BUDGET_PX {
                    // Out of budget: the next frame carries on where this one stopped.
                    self.next_whole_frame = index;
                    return Decoded::default();
                }
                spent += cost;
                let found = self.run_pass(frame, pass);
                if !found.texts.is_empty() {
                    self.next_whole_frame = 0;
                    return Decoded::from_found(found, pass.name);
                }
            }
            self.next_whole_frame = 0;
        }
        Decoded::default()
    }

    /// Thresholds `self.filtered`, finds finder groups in it and reads the region of each
    /// from `frame`; `factor` converts the filtered image's coordinates to the frame's.
    fn locate_and_read(
        &mut self,
        frame: &GrayImage,
        factor: f32,
        saw_finders: &mut bool,
    ) -> Option<Decoded> {
        let (w, h, gray): (usize, usize, &[u8]) = if factor > 1.0 {
            self.ensure_down(frame);
            (self.down.w, self.down.h, &self.down.data)
        } else {
            (
                frame.width() as usize,
                frame.height() as usize,
                frame.as_raw(),
            )
        };
        self.bits.resize(w, h);
        hybrid_threshold(
            Gray { w, h, data: gray },
            8,
            &mut self.black_points,
            &mut self.bits.data,
        );
        self.finders.clear();
        scan_finders(&self.bits, &mut self.finders);
        if self.finders.len() >= MAX_FINDERS {
            // A scene full of finder-like texture, not codes: rqrr would only lose time.
            return None;
        }
        let strong = self
            .finders
            .iter()
            .filter(|f| f.hits >= STRONG_HITS)
            .count();
        // Scenes full of finder-like texture would make rqrr's pairing explode.
        *saw_finders |= strong > 0 && strong <= MAX_STRONG_FINDERS;
        group_finders(&self.finders, &mut self.groups);
        let groups = std::mem::take(&mut self.groups);
        let mut result = None;
        for group in &groups {
            if let Some(decoded) = self.read_region(frame, group, factor) {
                result = Some(decoded);
                break;
            }
        }
        self.groups = groups;
        result
    }

    /// Cuts the region of `group` out of `frame`, resamples it to the target module size
    /// and tries the region thresholds on it.
    fn read_region(&mut self, frame: &GrayImage, group: &Group, factor: f32) -> Option<Decoded> {
        let (fw, fh) = (frame.width() as f32, frame.height() as f32);
        let module = group.module * factor;
        let (x0, y0, x1, y1) = group.region;
        let (x0, y0) = ((x0 * factor).max(0.0), (y0 * factor).max(0.0));
        let (x1, y1) = ((x1 * factor).min(fw), (y1 * factor).min(fh));
        if x1 - x0 < 8.0 || y1 - y0 < 8.0 {
            return None;
        }
        let inside = self
            .finders
            .iter()
            .filter(|f| {
                let (x, y) = (f.x * factor, f.y * factor);
                (x0..x1).contains(&x) && (y0..y1).contains(&y)
            })
            .count();
        if inside > MAX_FINDERS_IN_REGION {
            return None;
        }
        let mut resampled_for = 0u8;
        let invert = !group.dark;
        for pass in REGION_PASSES {
            let name = pass.name;
            if pass.target != resampled_for {
                let target = f32::from(pass.target);
                let s = (target / module).min(MAX_REGION_SIDE / (x1 - x0).max(y1 - y0));
                resample_region(frame, (x0, y0, x1, y1), s, &mut self.region);
                resampled_for = pass.target;
            }
            let (w, h) = (self.region.w, self.region.h);
            let mut source = std::mem::take(&mut self.region_work);
            if pass.smooth {
                source.resize(w, h);
                smooth(&self.region.data, w, h, &mut self.tmp, &mut source.data);
            }
            let gray = if pass.smooth { &source } else { &self.region };
            let found = match pass.threshold {
                RegionThreshold::Hybrid(block) => {
                    self.bits.resize(w, h);
                    hybrid_threshold(
                        gray.view(),
                        usize::from(block),
                        &mut self.black_points,
                        &mut self.bits.data,
                    );
                    read_bits(&self.bits, invert)
                }
                RegionThreshold::Mean { radius, offset } => {
                    self.bits.resize(w, h);
                    let radius = usize::from(pass.target) * usize::from(radius);
                    mean_threshold(
                        gray,
                        radius,
                        u64::from(offset),
                        &mut self.integral,
                        &mut self.bits.data,
                    );
                    read_bits(&self.bits, invert)
                }
            };
            self.region_work = source;
            if !found.texts.is_empty() {
                return Some(Decoded::from_found(found, name));
            }
        }
        None
    }

    /// Runs one whole-frame pass.
    fn run_pass(&mut self, frame: &GrayImage, pass: &Pass) -> Found {
        if pass.threshold == Threshold::Native
            && pass.filter == Filter::None
            && pass.scale == Scale::Full
        {
            let (w, h) = (frame.width() as usize, frame.height() as usize);
            return read_gray(w, h, frame.as_raw(), pass.invert);
        }
        self.ensure_filtered(frame, pass.scale, pass.filter);
        let (w, h) = (self.filtered.w, self.filtered.h);
        self.bits.resize(w, h);
        match pass.threshold {
            Threshold::Native => return read_gray(w, h, &self.filtered.data, pass.invert),
            Threshold::Hybrid { block } => hybrid_threshold(
                self.filtered.view(),
                usize::from(block),
                &mut self.black_points,
                &mut self.bits.data,
            ),
            Threshold::Mean { div, offset } => {
                let radius = (w.min(h) / usize::from(div).max(1) / 2).max(1);
                mean_threshold(
                    &self.filtered,
                    radius,
                    u64::from(offset),
                    &mut self.integral,
                    &mut self.bits.data,
                )
            }
        }
        read_bits(&self.bits, pass.invert)
    }

    fn ensure_down(&mut self, frame: &GrayImage) {
        if !self.down_ready {
            downscale(frame, self.down_factor, &mut self.down);
            self.down_ready = true;
        }
    }

    fn ensure_up(&mut self, frame: &GrayImage) {
        if !self.up_ready {
            let (w, h) = (frame.width() as f32, frame.height() as f32);
            resample_region(frame, (0.0, 0.0, w, h), 2.0, &mut self.up);
            self.up_ready = true;
        }
    }

    fn ensure_filtered(&mut self, frame: &GrayImage, scale: Scale, filter: Filter) {
        if self.filtered_key == Some((scale, filter)) {
            return;
        }
        match scale {
            Scale::Up => self.ensure_up(frame),
            Scale::Full => {}
        }
        let (w, h, source): (usize, usize, &[u8]) = match scale {
            Scale::Full => (
                frame.width() as usize,
                frame.height() as usize,
                frame.as_raw(),
            ),
            Scale::Up => (self.up.w, self.up.h, &self.up.data),
        };
        self.filtered.resize(w, h);
        let out = &mut self.filtered.data;
        match filter {
            Filter::None => out.copy_from_slice(&source[..w * h]),
            Filter::Smooth => smooth(source, w, h, &mut self.tmp, out),
            Filter::Stretch => stretch(&source[..w * h], out),
        }
        self.filtered_key = Some((scale, filter));
    }
}

// ---------------------------------------------------------------------------------------
// Finding finder patterns

/// Rows (of the horizontal scan) a candidate must be seen on to count.
const MIN_HITS: u32 = 3;
/// Rows a candidate must be seen on to justify whole-frame passes.
const STRONG_HITS: u32 = 4;
/// More strong candidates than this in one image is texture, not codes.
const MAX_STRONG_FINDERS: usize = 24;
/// Regions with more finder candidates than this are texture, not codes.
const MAX_FINDERS_IN_REGION: usize = 12;
/// Frames up to this size get the whole-frame passes even without a strong finder
/// candidate: they are cheap there.
const SMALL_FRAME_PX: usize = 640 * 480;
/// Pixels of whole-frame passes per frame (an enlarged pass counts four times its frame).
const WHOLE_FRAME_BUDGET_PX: usize = 2_000_000;

/// The module size if five runs (dark, light, dark, light, dark) are in the 1:1:3:1:1
/// proportion of a finder pattern, each within `tolerance` modules per module.
fn finder_module(runs: &[usize; 5], tolerance: f32) -> Option<f32> {
    let total: usize = runs.iter().sum();
    if total < 7 {
        return None;
    }
    let module = total as f32 / 7.0;
    let tolerance = module * tolerance;
    let near =
        |run: usize, modules: f32| (run as f32 - module * modules).abs() < tolerance * modules;
    (near(runs[0], 1.0)
        && near(runs[1], 1.0)
        && near(runs[2], 3.0)
        && near(runs[3], 1.0)
        && near(runs[4], 1.0))
    .then_some(module)
}

/// Scans the rows of `bits` for finder patterns whose dark parts have the value `dark`
/// and adds confirmed candidates to `out`.
fn scan_finders(bits: &Plane, out: &mut Vec<Finder>) {
    let (w, h) = (bits.w, bits.h);
    if w < 7 || h < 7 {
        return;
    }
    for y in 0..h {
        let row = &bits.data[y * w..(y + 1) * w];
        let mut runs = [0usize; 5];
        let mut completed = 0usize;
        let mut run_value = row[0];
        let mut len = 0usize;
        for x in 0..=w {
            let value = row.get(x).copied().unwrap_or(run_value ^ 1);
            if value == run_value {
                len += 1;
                continue;
            }
            runs.rotate_left(1);
            runs[4] = len;
            completed += 1;
            // Runs alternate, so the last five are dark-light-dark-light-dark in the
            // polarity of the run just completed.
            if completed >= 5 {
                if let Some(module) = finder_module(&runs, 0.5) {
                    let cx = x as f32 - (runs[4] + runs[3]) as f32 - runs[2] as f32 / 2.0;
                    if let Some(finder) = confirm_finder(bits, run_value, cx.max(0.0), y, module) {
                        add_finder(out, finder);
                    }
                }
            }
            run_value = value;
            len = 1;
        }
    }
}

/// Directions of the cross-checks through a finder candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Horizontal,
    Vertical,
    Diagonal,
}

/// Runs outwards from `(x, y)` along `axis`: the dark run through the start (both
/// directions together), then light and dark on each side. Returns the five runs and the
/// centre of the middle run along the axis (as an offset in steps from `(x, y)`), or `None`
/// if a side is missing or a run is longer than `limit`.
fn cross_runs(
    bits: &Plane,
    dark: u8,
    x: usize,
    y: usize,
    axis: Axis,
    limit: usize,
) -> Option<([usize; 5], f32)> {
    let (w, h) = (bits.w as isize, bits.h as isize);
    let (dx, dy) = match axis {
        Axis::Horizontal => (1, 0),
        Axis::Vertical => (0, 1),
        Axis::Diagonal => (1, 1),
    };
    let (x, y) = (x as isize, y as isize);
    let at = |step: isize| {
        let (px, py) = (x + dx * step, y + dy * step);
        if px < 0 || py < 0 || px >= w || py >= h {
            return None;
        }
        Some(bits.data[(py * w + px) as usize] == dark)
    };
    if at(0) != Some(true) {
        return None;
    }
    let mut runs = [0usize; 6];
    // Backwards: centre, light, dark; then forwards the same.
    for (direction, first) in [(-1isize, 0usize), (1, 3)] {
        let mut step = if direction < 0 { 0 } else { 1 };
        for (stage, want_dark) in [(0, true), (1, false), (2, true)] {
            while at(step) == Some(want_dark) && runs[first + stage] <= limit {
                runs[first + stage] += 1;
                step += direction;
            }
        }
    }
    let [back_centre, back_light, back_dark, centre, light, dark_run] = runs;
    let runs = [back_dark, back_light, back_centre + centre, light, dark_run];
    if runs.contains(&0) || runs.iter().any(|&r| r > limit) {
        return None;
    }
    let centre_offset = -(back_centre as f32) + 1.0 + runs[2] as f32 / 2.0;
    Some((runs, centre_offset))
}

/// Confirms a horizontal hit with vertical, horizontal and diagonal cross-checks through
/// its centre, re-centring on the way.
fn confirm_finder(bits: &Plane, dark: u8, cx: f32, y: usize, module: f32) -> Option<Finder> {
    let limit = (module * 5.0) as usize + 2;
    let x = (cx as usize).min(bits.w - 1);
    let (vertical, offset) = cross_runs(bits, dark, x, y, Axis::Vertical, limit)?;
    let module_v = finder_module(&vertical, 0.5)?;
    if module_v > module * 2.0 || module_v < module * 0.5 {
        return None;
    }
    let cy = y as f32 + offset;
    let yc = (cy as usize).min(bits.h - 1);
    let (horizontal, offset) = cross_runs(bits, dark, x, yc, Axis::Horizontal, limit)?;
    let module_h = finder_module(&horizontal, 0.5)?;
    let cx = x as f32 + offset;
    let xc = (cx as usize).min(bits.w - 1);
    let (diagonal, _) = cross_runs(bits, dark, xc, yc, Axis::Diagonal, limit * 2)?;
    finder_module(&diagonal, 0.75)?;
    Some(Finder {
        x: cx,
        y: cy,
        module: (module_h + module_v) / 2.0,
        hits: 1,
        dark: dark == 1,
    })
}

/// Merges `finder` into a nearby candidate of the same polarity and size, or adds it.
fn add_finder(out: &mut Vec<Finder>, finder: Finder) {
    for known in out.iter_mut() {
        let reach = known.module.max(finder.module) * 2.0;
        let ratio = known.module / finder.module;
        if known.dark == finder.dark
            && (known.x - finder.x).abs() <= reach
            && (known.y - finder.y).abs() <= reach
            && (0.5..=2.0).contains(&ratio)
        {
            let n = known.hits as f32;
            known.x = (known.x * n + finder.x) / (n + 1.0);
            known.y = (known.y * n + finder.y) / (n + 1.0);
            known.module = (known.module * n + finder.module) / (n + 1.0);
            known.hits += 1;
            return;
        }
    }
    if out.len() < MAX_FINDERS {
        out.push(finder);
    }
}

/// Groups finder candidates in threes that could be the corners of one code: similar
/// sizes, two legs of similar length at roughly a right angle. Best groups first, each
/// finder in at most one group.
fn group_finders(finders: &[Finder], groups: &mut Vec<Group>) {
    groups.clear();
    let mut candidates: Vec<&Finder> = finders.iter().filter(|f| f.hits >= MIN_HITS).collect();
    candidates.sort_by_key(|f| std::cmp::Reverse(f.hits));
    candidates.truncate(32);
    let n = candidates.len();
    let mut all = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            for k in j + 1..n {
                let trio = [candidates[i], candidates[j], candidates[k]];
                if let Some(group) = trio_group(trio) {
                    all.push((group, [i, j, k]));
                }
            }
        }
    }
    all.sort_by(|p, q| p.0.score.total_cmp(&q.0.score));
    let mut used = vec![false; n];
    for (group, members) in all {
        if groups.len() == MAX_GROUPS {
            return;
        }
        if members.iter().any(|&m| used[m]) {
            continue;
        }
        members.iter().for_each(|&m| used[m] = true);
        groups.push(group);
    }
    // Two finders alone (the third lost to glare, blur or a finger): the code lies within
    // the pair's distance of their midpoint, whichever side or diagonal they are.
    let mut pairs = Vec::new();
    for i in (0..n).filter(|&i| !used[i]) {
        for j in (i + 1..n).filter(|&j| !used[j]) {
            if let Some(group) = pair_group(candidates[i], candidates[j]) {
                pairs.push(group);
            }
        }
    }
    pairs.sort_by(|p, q| p.score.total_cmp(&q.score));
    groups.extend(pairs.into_iter().take(MAX_GROUPS - groups.len()));
}

fn similar_sizes(modules: &[f32], limit: f32) -> bool {
    let min = modules.iter().copied().fold(f32::MAX, f32::min);
    let max = modules.iter().copied().fold(f32::MIN, f32::max);
    max <= min * limit
}

fn trio_group(trio: [&Finder; 3]) -> Option<Group> {
    if trio.iter().any(|f| f.dark != trio[0].dark) || !similar_sizes(&trio.map(|f| f.module), 2.0) {
        return None;
    }
    let module = (trio[0].module + trio[1].module + trio[2].module) / 3.0;
    let mut best: Option<Group> = None;
    for corner in 0..3 {
        let a = trio[corner];
        let b = trio[(corner + 1) % 3];
        let c = trio[(corner + 2) % 3];
        let u = (b.x - a.x, b.y - a.y);
        let v = (c.x - a.x, c.y - a.y);
        let (lu, lv) = (
            (u.0 * u.0 + u.1 * u.1).sqrt(),
            (v.0 * v.0 + v.1 * v.1).sqrt(),
        );
        if lu < 1.0 || lv < 1.0 {
            return None;
        }
        let ratio = lu.min(lv) / lu.max(lv);
        let cos = (u.0 * v.0 + u.1 * v.1) / (lu * lv);
        let legs_in_modules = (lu + lv) / 2.0 / module;
        if ratio < 0.5 || cos.abs() > 0.5 || !(10.0..=220.0).contains(&legs_in_modules) {
            continue;
        }
        let score = (1.0 - ratio) + cos.abs();
        if best.is_some_and(|g| g.score <= score) {
            continue;
        }
        // The fourth corner completes the parallelogram; the code reaches a finder's
        // half-width plus the quiet zone beyond the finder centres.
        let d = (b.x + c.x - a.x, b.y + c.y - a.y);
        let xs = [a.x, b.x, c.x, d.0];
        let ys = [a.y, b.y, c.y, d.1];
        let margin = 8.0 * module;
        best = Some(Group {
            region: (
                xs.iter().copied().fold(f32::MAX, f32::min) - margin,
                ys.iter().copied().fold(f32::MAX, f32::min) - margin,
                xs.iter().copied().fold(f32::MIN, f32::max) + margin,
                ys.iter().copied().fold(f32::MIN, f32::max) + margin,
            ),
            module,
            dark: a.dark,
            score,
        });
    }
    best
}

fn pair_group(p: &Finder, q: &Finder) -> Option<Group> {
    if p.dark != q.dark || !similar_sizes(&[p.module, q.module], 1.5) {
        return None;
    }
    let module = (p.module + q.module) / 2.0;
    let distance = ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt();
    if !(10.0..=220.0).contains(&(distance / module)) {
        return None;
    }
    let (mx, my) = ((p.x + q.x) / 2.0, (p.y + q.y) / 2.0);
    let reach = distance + 8.0 * module;
    Some(Group {
        region: (mx - reach, my - reach, mx + reach, my + reach),
        module,
        dark: p.dark,
        score: 10.0 + 1.0 / (p.hits + q.hits) as f32,
    })
}

// ---------------------------------------------------------------------------------------
// Image operations

/// Box-averages `frame` by an integer `factor` into `out`.
fn downscale(frame: &GrayImage, factor: usize, out: &mut Plane) {
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let src = frame.as_raw();
    let factor = factor.clamp(1, fw.min(fh).max(1));
    let (w, h) = (fw / factor, fh / factor);
    out.resize(w, h);
    if factor == 1 {
        out.data.copy_from_slice(&src[..w * h]);
        return;
    }
    let area = (factor * factor) as u32;
    let mut sums = vec![0u32; w];
    for y in 0..h {
        sums.fill(0);
        for row in src[y * factor * fw..].chunks_exact(fw).take(factor) {
            for (sum, chunk) in sums.iter_mut().zip(row.chunks_exact(factor)) {
                *sum += chunk.iter().map(|&v| u32::from(v)).sum::<u32>();
            }
        }
        for (dst, sum) in out.data[y * w..(y + 1) * w].iter_mut().zip(&sums) {
            *dst = ((sum + area / 2) / area) as u8;
        }
    }
}

/// Resamples the rectangle `(x0, y0, x1, y1)` of `frame` by `scale`: bilinear when
/// enlarging, box-averaged by a whole factor when reducing by more than a third, a plain
/// copy in between.
fn resample_region(frame: &GrayImage, rect: (f32, f32, f32, f32), scale: f32, out: &mut Plane) {
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let src = frame.as_raw();
    let (x0, y0) = (rect.0.max(0.0) as usize, rect.1.max(0.0) as usize);
    let x1 = (rect.2.ceil() as usize).clamp(x0 + 1, fw);
    let y1 = (rect.3.ceil() as usize).clamp(y0 + 1, fh);
    let (rw, rh) = (x1 - x0, y1 - y0);
    if scale < 0.75 {
        let factor = ((1.0 / scale) as usize).clamp(1, rw.min(rh));
        let (w, h) = (rw / factor, rh / factor);
        out.resize(w, h);
        let area = (factor * factor) as u32;
        for oy in 0..h {
            for ox in 0..w {
                let mut sum = 0u32;
                for y in y0 + oy * factor..y0 + (oy + 1) * factor {
                    let row = &src[y * fw + x0 + ox * factor..][..factor];
                    sum += row.iter().map(|&v| u32::from(v)).sum::<u32>();
                }
                out.data[oy * w + ox] = ((sum + area / 2) / area) as u8;
            }
        }
        return;
    }
    if scale <= 1.25 {
        out.resize(rw, rh);
        for y in 0..rh {
            out.data[y * rw..(y + 1) * rw].copy_from_slice(&src[(y0 + y) * fw + x0..][..rw]);
        }
        return;
    }
    let (w, h) = ((rw as f32 * scale) as usize, (rh as f32 * scale) as usize);
    out.resize(w, h);
    // Source position of each output column: index and weight of the right neighbour
    // (0..=256).
    let columns: Vec<(usize, u32)> = (0..w)
        .map(|ox| {
            let sx = ((ox as f32 + 0.5) / scale - 0.5).clamp(0.0, (rw - 1) as f32);
            let i = sx as usize;
            (i, ((sx - i as f32) * 256.0) as u32)
        })
        .collect();
    for oy in 0..h {
        let sy = ((oy as f32 + 0.5) / scale - 0.5).clamp(0.0, (rh - 1) as f32);
        let i = sy as usize;
        let wy = ((sy - i as f32) * 256.0) as u32;
        let r0 = &src[(y0 + i) * fw + x0..][..rw];
        let r1 = &src[(y0 + (i + 1).min(rh - 1)) * fw + x0..][..rw];
        let row = &mut out.data[oy * w..(oy + 1) * w];
        for (dst, &(i, wx)) in row.iter_mut().zip(&columns) {
            let j = (i + 1).min(rw - 1);
            let top = u32::from(r0[i]) * (256 - wx) + u32::from(r0[j]) * wx;
            let bottom = u32::from(r1[i]) * (256 - wx) + u32::from(r1[j]) * wx;
            *dst = ((top * (256 - wy) + bottom * wy + (1 << 15)) >> 16) as u8;
        }
    }
}

/// 3x3 binomial blur ([1 2 1] both ways), edges replicated.
fn smooth(src: &[u8], w: usize, h: usize, tmp: &mut Vec<u16>, out: &mut [u8]) {
    tmp.clear();
    tmp.resize(w * h, 0);
    for (row, dst) in src.chunks_exact(w).zip(tmp.chunks_exact_mut(w)).take(h) {
        for x in 0..w {
            let left = row[x.saturating_sub(1)];
            let right = row[(x + 1).min(w - 1)];
            dst[x] = u16::from(left) + 2 * u16::from(row[x]) + u16::from(right);
        }
    }
    for y in 0..h {
        let up = &tmp[y.saturating_sub(1) * w..][..w];
        let mid = &tmp[y * w..][..w];
        let down = &tmp[(y + 1).min(h - 1) * w..][..w];
        for (x, dst) in out[y * w..(y + 1) * w].iter_mut().enumerate() {
            *dst = ((up[x] + 2 * mid[x] + down[x] + 8) / 16) as u8;
        }
    }
}

/// Stretches the 1st..99th percentile of `src` over 0..255.
fn stretch(src: &[u8], out: &mut [u8]) {
    let mut histogram = [0usize; 256];
    for &v in src {
        histogram[usize::from(v)] += 1;
    }
    let cut = src.len() / 100;
    let low = percentile(&histogram, cut, false);
    let high = percentile(&histogram, cut, true);
    if high <= low {
        out.copy_from_slice(src);
        return;
    }
    let range = (high - low) as u32;
    let mut table = [0u8; 256];
    for (v, entry) in table.iter_mut().enumerate() {
        let clamped = v.clamp(low, high) - low;
        *entry = ((clamped as u32 * 255 + range / 2) / range) as u8;
    }
    for (dst, &v) in out.iter_mut().zip(src) {
        *dst = table[usize::from(v)];
    }
}

/// The gray level with more than `cut` pixels below it (or above it, `from_top`).
fn percentile(histogram: &[usize; 256], cut: usize, from_top: bool) -> usize {
    let mut seen = 0;
    for i in 0..256 {
        let v = if from_top { 255 - i } else { i };
        seen += histogram[v];
        if seen > cut {
            return v;
        }
    }
    if from_top {
        0
    } else {
        255
    }
}

/// Below this spread a block is taken as flat (all background or all code).
const MIN_DYNAMIC_RANGE: u8 = 24;

/// Local thresholding in the manner of zxing's hybrid binariser: a black point per block,
/// then each block thresholded at the mean black point of the 5x5 blocks around it.
/// Writes 1 for dark pixels into `bits`.
fn hybrid_threshold(img: Gray<'_>, block: usize, points: &mut Vec<u8>, bits: &mut [u8]) {
    let (w, h) = (img.w, img.h);
    let block = block.max(2);
    if w < block * 5 || h < block * 5 {
        global_threshold(img, bits);
        return;
    }
    let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
    points.clear();
    points.resize(bw * bh, 0);
    let px = &img.data;
    for by in 0..bh {
        let y0 = (by * block).min(h - block);
        for bx in 0..bw {
            let x0 = (bx * block).min(w - block);
            let (mut sum, mut min, mut max) = (0u32, u8::MAX, 0u8);
            for row in px[y0 * w + x0..].chunks(w).take(block) {
                for &v in &row[..block] {
                    sum += u32::from(v);
                    min = min.min(v);
                    max = max.max(v);
                }
            }
            let mut point = (sum / (block * block) as u32) as u8;
            if max - min <= MIN_DYNAMIC_RANGE {
                // A flat block: assume background unless its neighbours say it is darker
                // than their black point (then it lies inside the code).
                point = min / 2;
                if bx > 0 && by > 0 {
                    let neighbours = (u32::from(points[(by - 1) * bw + bx])
                        + 2 * u32::from(points[by * bw + bx - 1])
                        + u32::from(points[(by - 1) * bw + bx - 1]))
                        / 4;
                    if u32::from(min) < neighbours {
                        point = neighbours as u8;
                    }
                }
            }
            points[by * bw + bx] = point;
        }
    }
    for by in 0..bh {
        let y0 = (by * block).min(h - block);
        let cy = by.clamp(2, bh - 3);
        for bx in 0..bw {
            let x0 = (bx * block).min(w - block);
            let cx = bx.clamp(2, bw - 3);
            let mut sum = 0u32;
            for ny in cy - 2..=cy + 2 {
                for nx in cx - 2..=cx + 2 {
                    sum += u32::from(points[ny * bw + nx]);
                }
            }
            let threshold = (sum / 25) as u8;
            for y in y0..y0 + block {
                let row = &px[y * w + x0..y * w + x0 + block];
                let out = &mut bits[y * w + x0..y * w + x0 + block];
                for (bit, &v) in out.iter_mut().zip(row) {
                    *bit = u8::from(v <= threshold);
                }
            }
        }
    }
}

/// One threshold for the whole image, halfway between its 5th and 95th percentiles; for
/// images too small for local thresholds.
fn global_threshold(img: Gray<'_>, bits: &mut [u8]) {
    let mut histogram = [0usize; 256];
    for &v in img.data {
        histogram[usize::from(v)] += 1;
    }
    let cut = img.data.len() / 20;
    let threshold = (percentile(&histogram, cut, false) + percentile(&histogram, cut, true)) / 2;
    for (bit, &v) in bits.iter_mut().zip(img.data) {
        *bit = u8::from(usize::from(v) <= threshold);
    }
}

/// Bradley and Roth: dark where the pixel is `offset` percent below the mean of the
/// window of the given radius around it (summed-area table in `integral`).
fn mean_threshold(
    img: &Plane,
    radius: usize,
    offset: u64,
    integral: &mut Vec<u64>,
    bits: &mut [u8],
) {
    let (w, h) = (img.w, img.h);
    let stride = w + 1;
    integral.clear();
    integral.resize(stride * (h + 1), 0);
    for y in 0..h {
        let mut row_sum = 0u64;
        for x in 0..w {
            row_sum += u64::from(img.data[y * w + x]);
            integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row_sum;
        }
    }
    let r = radius.max(1);
    let keep = 100 - offset.min(99);
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        let (top, bottom) = (&integral[y0 * stride..], &integral[y1 * stride..]);
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let count = ((x1 - x0) * (y1 - y0)) as u64;
            let sum = bottom[x1] + top[x0] - top[x1] - bottom[x0];
            let v = u64::from(img.data[y * w + x]);
            bits[y * w + x] = u8::from(v * count * 100 < sum * keep);
        }
    }
}

// ---------------------------------------------------------------------------------------
// rqrr

/// Runs rqrr's detector and decoder on a bitmap (1 = dark).
fn read_bits(bits: &Plane, invert: bool) -> Found {
    let (w, h) = (bits.w, bits.h);
    let data = &bits.data;
    // A light margin: codes cropped tight to the image still get a quiet zone.
    let pad = (w.min(h) / 16).max(4);
    guarded(|| {
        let mut image =
            rqrr::PreparedImage::prepare_from_bitmap(w + 2 * pad, h + 2 * pad, |x, y| {
                let (x, y) = (x.wrapping_sub(pad), y.wrapping_sub(pad));
                x < w && y < h && (data[y * w + x] != 0) != invert
            });
        decode_grids(&image.detect_grids())
    })
}

/// Runs rqrr with its own thresholding on a gray image.
fn read_gray(w: usize, h: usize, gray: &[u8], invert: bool) -> Found {
    guarded(|| {
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
            let v = gray[y * w + x];
            if invert {
                255 - v
            } else {
                v
            }
        });
        decode_grids(&image.detect_grids())
    })
}

fn decode_grids<G: rqrr::BitGrid>(grids: &[rqrr::Grid<G>]) -> Found {
    let mut found = Found::default();
    for grid in grids {
        let mut bytes = Vec::new();
        if grid.decode_to(&mut bytes).is_ok() {
            let text = text_from_bytes(bytes);
            if !found.texts.contains(&text) {
                found.texts.push(text);
            }
        }
    }
    found
}

/// Runs `read`, containing any panic inside rqrr (it has a few on degenerate geometry,
/// rqrr issue #54): such a frame yields nothing.
fn guarded(read: impl FnOnce() -> Found) -> Found {
    match catch_unwind(AssertUnwindSafe(read)) {
        Ok(found) => found,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::debug!(%message, "the QR detector gave up on a frame");
            Found::default()
        }
    }
}

/// QR byte segments rarely say their character set (and rqrr ignores the ECI segments that
/// would): UTF-8 when valid, else Shift_JIS when the bytes look like Japanese text (common
/// in older codes), else Latin-1, the QR default, so that every byte maps to a character.
fn text_from_bytes(bytes: Vec<u8>) -> String {
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return text,
        Err(error) => error.into_bytes(),
    };
    if looks_like_shift_jis(&bytes) {
        if let Some(text) =
            encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&bytes)
        {
            return text.into_owned();
        }
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Valid Shift_JIS with at least one double-byte character or a run of half-width katakana.
fn looks_like_shift_jis(bytes: &[u8]) -> bool {
    let (mut double_byte, mut kana_run, mut longest_kana_run) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x81..=0x9f | 0xe0..=0xef => {
                match bytes.get(i + 1) {
                    Some(0x40..=0x7e | 0x80..=0xfc) => double_byte += 1,
                    _ => return false,
                }
                kana_run = 0;
                i += 2;
                continue;
            }
            0xa1..=0xdf => {
                kana_run += 1;
                longest_kana_run = longest_kana_run.max(kana_run);
            }
            0x80 | 0xa0 | 0xf0..=0xff => return false,
            _ => kana_run = 0,
        }
        i += 1;
    }
    double_byte > 0 || longest_kana_run >= 2
}
