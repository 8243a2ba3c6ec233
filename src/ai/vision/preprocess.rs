//! MiniCPM-V image preprocessing, reproducing Hugging Face's `MiniCPMVImageProcessor` (MiniCPM-V 2.6 to 4.0).
//!
//! An image is cut into an overview (the whole image resized to about `scale_resolution²` pixels) and, when it is
//! larger than that, a grid of slices of the same area (see [`slice_image`]); every side is a multiple of the patch
//! size. Resizing is Pillow's 8-bit `BICUBIC` resampling bit for bit ([`resize_bicubic`]). Each slice becomes
//! normalised pixels in the reference's `reshape_by_patch` layout ([`pixel_values`]), its size in patches
//! ([`tgt_size`]) and the NaViT position ids of the SigLIP encoder ([`position_ids`]); [`image_placeholder`] is the
//! prompt text that stands for the image.

use std::path::{Path, PathBuf};

use image::{DynamicImage, RgbImage};

/// Largest image, in pixels, that [`resize_bicubic`] creates (its output and its intermediate image).
pub const MAX_RESIZE_PIXELS: u64 = 1 << 28;

/// Pillow's fixed-point precision of 8-bit resampling coefficients (`PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's bicubic filter support radius, in source pixels at scale 1.
const BICUBIC_SUPPORT: f64 = 2.0;

/// What can go wrong while loading or preprocessing an image.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The image file could not be opened or read.
    #[error("cannot read image file {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an image the `image` crate (as built) decodes.
    #[error("cannot decode image file {path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// The image to resize or slice has no pixels.
    #[error("image is empty ({width_px}x{height_px} pixels)")]
    EmptyImage {
        /// Width of the image in pixels.
        width_px: u32,
        /// Height of the image in pixels.
        height_px: u32,
    },
    /// A resize to zero width or height was requested.
    #[error("resize target {width_px}x{height_px} pixels: width and height must be positive")]
    EmptyTarget {
        /// Requested width in pixels.
        width_px: u32,
        /// Requested height in pixels.
        height_px: u32,
    },
    /// A resize would create an image of more than [`MAX_RESIZE_PIXELS`] pixels.
    #[error("resize {what} of {width_px}x{height_px} pixels exceeds the limit of {MAX_RESIZE_PIXELS} pixels")]
    TooLarge {
        /// Which image (`output` or `intermediate`).
        what: &'static str,
        /// Width in pixels.
        width_px: u64,
        /// Height in pixels.
        height_px: u64,
    },
    /// A computed slice or overview side does not fit in `u32`.
    #[error("computed {what} of {value_px} pixels does not fit in u32")]
    SizeOverflow {
        /// Which side.
        what: &'static str,
        /// The computed length in pixels.
        value_px: usize,
    },
    /// A slicing parameter cannot be used.
    #[error("slice config: {field} = {value} is invalid (must be positive)")]
    InvalidConfig {
        /// The field of [`SliceConfig`].
        field: &'static str,
        /// Its value.
        value: usize,
    },
}

/// How images are sliced (`slice_config` / `preprocessor_config.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceConfig {
    /// Most slices besides the overview (`max_slice_nums`); 0 or 1 never slices.
    pub max_slice_nums: usize,
    /// Side in pixels of the square whose area each slice and the overview aim for (`scale_resolution`).
    pub scale_resolution: usize,
    /// Side of an encoder patch in pixels; every slice side is a multiple of it (`patch_size`).
    pub patch_size: usize,
}

impl Default for SliceConfig {
    /// MiniCPM-V's defaults: 9 slices, 448 pixels, 14-pixel patches.
    fn default() -> Self {
        Self { max_slice_nums: 9, scale_resolution: 448, patch_size: 14 }
    }
}

impl SliceConfig {
    /// Checks that the sizes can be used for slicing (positive `patch_size` and `scale_resolution`).
    pub fn validate(&self) -> Result<(), PreprocessError> {
        if self.patch_size == 0 {
            return Err(PreprocessError::InvalidConfig { field: "patch_size", value: self.patch_size });
        }
        if self.scale_resolution == 0 {
            return Err(PreprocessError::InvalidConfig { field: "scale_resolution", value: self.scale_resolution });
        }
        Ok(())
    }
}

/// The token strings of an image placeholder and the number of `<unk>` per slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTokens {
    /// Opens the overview (`<image>`).
    pub im_start: String,
    /// Closes the overview (`</image>`).
    pub im_end: String,
    /// Opens a slice (`<slice>`).
    pub slice_start: String,
    /// Closes a slice (`</slice>`).
    pub slice_end: String,
    /// Stands for one feature vector (`<unk>`).
    pub unk: String,
    /// Opens the image number (`<image_id>`).
    pub im_id_start: String,
    /// Closes the image number (`</image_id>`).
    pub im_id_end: String,
    /// Feature vectors (`unk` tokens) per slice, the resampler's query count.
    pub image_feature_size: usize,
}

impl Default for ImageTokens {
    /// MiniCPM-V's tokens with 64 features per slice.
    fn default() -> Self {
        Self {
            im_start: "<image>".into(),
            im_end: "</image>".into(),
            slice_start: "<slice>".into(),
            slice_end: "</slice>".into(),
            unk: "<unk>".into(),
            im_id_start: "<image_id>".into(),
            im_id_end: "</image_id>".into(),
            image_feature_size: 64,
        }
    }
}

/// An image cut for the encoder.
#[derive(Debug, Clone)]
pub struct SlicedImage {
    /// (columns, rows) of the slice grid; `None` when the image is not sliced.
    pub grid: Option<(usize, usize)>,
    /// Slice 0 is the overview, then the grid's slices row by row; every side is a multiple of the patch size.
    pub slices: Vec<RgbImage>,
}

/// The model input of one image.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// (columns, rows) of the slice grid; `None` when the image is not sliced.
    pub grid: Option<(usize, usize)>,
    /// Per slice, normalised pixels in the layout of [`pixel_values`].
    pub pixel_values: Vec<Vec<f32>>,
    /// Per slice, (height, width) in patches.
    pub tgt_sizes: Vec<(usize, usize)>,
}

/// Reads a PNG (or any format the `image` crate is built with) as 8-bit RGB, converted like PIL's
/// `Image.open(path).convert("RGB")`; see [`rgb_like_pil`].
pub fn load_rgb(path: &Path) -> Result<RgbImage, PreprocessError> {
    let open_err = |source| PreprocessError::Open { path: path.to_path_buf(), source };
    let reader = image::ImageReader::open(path).map_err(open_err)?.with_guessed_format().map_err(open_err)?;
    let decoded = reader.decode().map_err(|source| PreprocessError::Decode { path: path.to_path_buf(), source })?;
    Ok(rgb_like_pil(decoded))
}

/// Converts a decoded image to 8-bit RGB as PIL's `convert("RGB")` does on what PIL decodes from the same PNG:
/// alpha is dropped (not composited), grey is replicated, 16-bit colour keeps the high byte and 16-bit grey
/// saturates at 255 (PIL's `I;16` → `RGB`).
pub fn rgb_like_pil(img: DynamicImage) -> RgbImage {
    fn from_grey<I: Iterator<Item = u8>>(width: u32, height: u32, grey: I) -> RgbImage {
        let raw: Vec<u8> = grey.flat_map(|v| [v, v, v]).collect();
        RgbImage::from_raw(width, height, raw).unwrap_or_else(|| RgbImage::new(0, 0))
    }
    fn from_rgb<I: Iterator<Item = [u8; 3]>>(width: u32, height: u32, rgb: I) -> RgbImage {
        let raw: Vec<u8> = rgb.flatten().collect();
        RgbImage::from_raw(width, height, raw).unwrap_or_else(|| RgbImage::new(0, 0))
    }
    let (width, height) = (img.width(), img.height());
    let high = |v: u16| (v >> 8) as u8;
    match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageRgba8(rgba) => from_rgb(width, height, rgba.pixels().map(|p| [p[0], p[1], p[2]])),
        DynamicImage::ImageLuma8(grey) => from_grey(width, height, grey.pixels().map(|p| p[0])),
        DynamicImage::ImageLumaA8(grey) => from_grey(width, height, grey.pixels().map(|p| p[0])),
        DynamicImage::ImageRgb16(rgb) => {
            from_rgb(width, height, rgb.pixels().map(|p| [high(p[0]), high(p[1]), high(p[2])]))
        }
        DynamicImage::ImageRgba16(rgba) => {
            from_rgb(width, height, rgba.pixels().map(|p| [high(p[0]), high(p[1]), high(p[2])]))
        }
        DynamicImage::ImageLumaA16(grey) => from_grey(width, height, grey.pixels().map(|p| high(p[0]))),
        DynamicImage::ImageLuma16(grey) => {
            from_grey(width, height, grey.pixels().map(|p| u8::try_from(p[0]).unwrap_or(u8::MAX)))
        }
        other => other.to_rgb8(),
    }
}

/// Pillow's bicubic kernel (`a = -0.5`), with its exact operation order.
fn bicubic_filter(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point resampling coefficients of one axis (Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc`).
struct Coefficients {
    /// Per output pixel: first source pixel and number of taps.
    bounds: Vec<(usize, usize)>,
    /// `ksize` coefficients per output pixel (unused tail zero), scaled by `2^PRECISION_BITS`.
    weights: Vec<i32>,
    /// Coefficients per output pixel in `weights`.
    ksize: usize,
}

impl Coefficients {
    fn new(in_size_px: u32, out_size_px: u32) -> Self {
        // Pillow takes the box length as a float; exact for every size below 2^24.
        let in_len = f64::from(in_size_px as f32);
        let scale = in_len / f64::from(out_size_px);
        let filterscale = scale.max(1.0);
        let support = BICUBIC_SUPPORT * filterscale;
        let ksize = (support.ceil() as usize).saturating_mul(2).saturating_add(1);
        let out_len = out_size_px as usize;
        let mut bounds = Vec::with_capacity(out_len);
        let mut weights = vec![0i32; out_len.saturating_mul(ksize)];
        let mut taps = vec![0f64; ksize];
        let ss = 1.0 / filterscale;
        for (xx, row) in weights.chunks_exact_mut(ksize).enumerate() {
            let center = (xx as f64 + 0.5) * scale;
            // C `(int)` truncates toward zero, as Rust's `as` does.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size_px));
            let count = usize::try_from(xmax - xmin).unwrap_or(0).min(ksize);
            let mut sum = 0.0;
            for (x, tap) in taps.iter_mut().enumerate().take(count) {
                let w = bicubic_filter(((x as i64 + xmin) as f64 - center + 0.5) * ss);
                *tap = w;
                sum += w;
            }
            for (k, &tap) in row.iter_mut().zip(&taps).take(count) {
                let w = if sum != 0.0 { tap / sum } else { tap };
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                *k = if w < 0.0 { (-0.5 + scaled) as i32 } else { (0.5 + scaled) as i32 };
            }
            bounds.push((usize::try_from(xmin).unwrap_or(0), count));
        }
        Self { bounds, weights, ksize }
    }

    /// Taps of output pixel `index`: first source pixel and its coefficients.
    fn taps(&self, index: usize) -> (usize, &[i32]) {
        let (start, count) = self.bounds[index];
        (start, &self.weights[index * self.ksize..][..count])
    }
}

/// Pillow's `clip8`: rounds the fixed-point sum down and clamps it to a byte.
fn clip8(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Rejects images of more than [`MAX_RESIZE_PIXELS`] pixels.
fn check_pixels(what: &'static str, width_px: u32, height_px: u32) -> Result<(), PreprocessError> {
    if u64::from(width_px) * u64::from(height_px) > MAX_RESIZE_PIXELS {
        return Err(PreprocessError::TooLarge { what, width_px: width_px.into(), height_px: height_px.into() });
    }
    Ok(())
}

/// An RGB image from a buffer of exactly `width·height·3` bytes.
fn rgb_image(width_px: u32, height_px: u32, raw: Vec<u8>) -> Result<RgbImage, PreprocessError> {
    RgbImage::from_raw(width_px, height_px, raw).ok_or(PreprocessError::TooLarge {
        what: "output",
        width_px: width_px.into(),
        height_px: height_px.into(),
    })
}

/// Horizontal pass: every row resampled to `out_width_px`.
fn resample_horizontal(src: &RgbImage, out_width_px: u32) -> Result<RgbImage, PreprocessError> {
    let coeffs = Coefficients::new(src.width(), out_width_px);
    let (in_w, out_w) = (src.width() as usize, out_width_px as usize);
    let mut raw = vec![0u8; out_w * src.height() as usize * 3];
    for (src_row, dst_row) in src.as_raw().chunks_exact(in_w * 3).zip(raw.chunks_exact_mut(out_w * 3)) {
        for (xx, dst) in dst_row.chunks_exact_mut(3).enumerate() {
            let (start, ks) = coeffs.taps(xx);
            let mut sums = [1i64 << (PRECISION_BITS - 1); 3];
            for (px, &k) in src_row[start * 3..].chunks_exact(3).zip(ks) {
                for (s, &v) in sums.iter_mut().zip(px) {
                    *s += i64::from(v) * i64::from(k);
                }
            }
            for (d, s) in dst.iter_mut().zip(sums) {
                *d = clip8(s);
            }
        }
    }
    rgb_image(out_width_px, src.height(), raw)
}

/// Vertical pass: every column resampled to `out_height_px`.
fn resample_vertical(src: &RgbImage, out_height_px: u32) -> Result<RgbImage, PreprocessError> {
    let coeffs = Coefficients::new(src.height(), out_height_px);
    let line = src.width() as usize * 3;
    let src_raw = src.as_raw();
    let mut raw = vec![0u8; line * out_height_px as usize];
    let mut sums = vec![0i64; line];
    for (yy, dst_row) in raw.chunks_exact_mut(line).enumerate() {
        let (start, ks) = coeffs.taps(yy);
        sums.fill(1i64 << (PRECISION_BITS - 1));
        for (src_row, &k) in src_raw[start * line..].chunks_exact(line).zip(ks) {
            for (s, &v) in sums.iter_mut().zip(src_row) {
                *s += i64::from(v) * i64::from(k);
            }
        }
        for (d, &s) in dst_row.iter_mut().zip(&sums) {
            *d = clip8(s);
        }
    }
    rgb_image(src.width(), out_height_px, raw)
}

/// Resizes like Pillow's `Image.resize((width, height), Image.BICUBIC)` on an RGB image, bit for bit: separable
/// fixed-point convolution, horizontal pass first, a pass skipped when its side is unchanged.
pub fn resize_bicubic(src: &RgbImage, width: u32, height: u32) -> Result<RgbImage, PreprocessError> {
    if width == 0 || height == 0 {
        return Err(PreprocessError::EmptyTarget { width_px: width, height_px: height });
    }
    let (in_w, in_h) = src.dimensions();
    if in_w == 0 || in_h == 0 {
        return Err(PreprocessError::EmptyImage { width_px: in_w, height_px: in_h });
    }
    check_pixels("output", width, height)?;
    let horizontal = if width != in_w {
        check_pixels("intermediate", width, in_h)?;
        Some(resample_horizontal(src, width)?)
    } else {
        None
    };
    match (horizontal, height != in_h) {
        (Some(stage), true) => resample_vertical(&stage, height),
        (None, true) => resample_vertical(src, height),
        (Some(stage), false) => Ok(stage),
        (None, false) => Ok(src.clone()),
    }
}

/// `ensure_divide`: `length` rounded (half to even, as Python's `round`) to a positive multiple of `patch`.
fn ensure_divide(length: f64, patch: usize) -> usize {
    let multiples = (length / patch as f64).round_ties_even() as usize;
    multiples.saturating_mul(patch).max(patch)
}

/// `find_best_resize`: (width, height) scaled to about `scale_resolution²` pixels when larger than that (or always
/// with `allow_upscale`), each rounded to a multiple of `patch`.
fn find_best_resize(
    width: f64,
    height: f64,
    scale_resolution: usize,
    patch: usize,
    allow_upscale: bool,
) -> (usize, usize) {
    let target = scale_resolution as f64;
    let (mut width, mut height) = (width, height);
    if width * height > target * target || allow_upscale {
        let ratio = width / height;
        height = (target / ratio.sqrt()).trunc();
        width = (height * ratio).trunc();
    }
    (ensure_divide(width, patch), ensure_divide(height, patch))
}

/// `get_refine_size`: the size the image is resized to before it is cut into `grid` (columns, rows).
fn refine_size(width: u32, height: u32, grid: (usize, usize), cfg: &SliceConfig) -> (usize, usize) {
    let (cols, rows) = grid;
    let refine_w = ensure_divide(f64::from(width), cols);
    let refine_h = ensure_divide(f64::from(height), rows);
    let cell = find_best_resize(
        refine_w as f64 / cols as f64,
        refine_h as f64 / rows as f64,
        cfg.scale_resolution,
        cfg.patch_size,
        true,
    );
    (cell.0.saturating_mul(cols), cell.1.saturating_mul(rows))
}

/// Divisors of `n` in increasing order.
fn divisors(n: usize) -> Vec<usize> {
    let (mut small, mut large) = (Vec::new(), Vec::new());
    let mut m = 1usize;
    while m <= n / m {
        if n.is_multiple_of(m) {
            small.push(m);
            if m != n / m {
                large.push(n / m);
            }
        }
        m += 1;
    }
    small.extend(large.into_iter().rev());
    small
}

/// `get_sliced_grid`: the (columns, rows) grid an image of `width`×`height` pixels is cut into, or `None` when it
/// is not sliced (area at most `scale_resolution²`, `max_slice_nums` ≤ 1, or an empty image or config).
pub fn sliced_grid(width: u32, height: u32, cfg: &SliceConfig) -> Option<(usize, usize)> {
    if width == 0 || height == 0 || cfg.scale_resolution == 0 {
        return None;
    }
    let log_ratio = (f64::from(width) / f64::from(height)).ln();
    let target = cfg.scale_resolution as f64;
    let ratio = (u64::from(width) * u64::from(height)) as f64 / (target * target);
    let multiple = (ratio.ceil() as usize).min(cfg.max_slice_nums);
    if multiple <= 1 {
        return None;
    }
    let mut best = None;
    let mut min_error = f64::INFINITY;
    for count in [multiple - 1, multiple, multiple.saturating_add(1)] {
        if count == 1 || count > cfg.max_slice_nums {
            continue;
        }
        for cols in divisors(count) {
            let rows = count / cols;
            let error = (log_ratio - (cols as f64 / rows as f64).ln()).abs();
            if error < min_error {
                best = Some((cols, rows));
                min_error = error;
            }
        }
    }
    best
}

/// A computed side as `u32`.
fn side_u32(what: &'static str, value_px: usize) -> Result<u32, PreprocessError> {
    u32::try_from(value_px).map_err(|_| PreprocessError::SizeOverflow { what, value_px })
}

/// Cuts an image like `MiniCPMVImageProcessor.slice_image`: an unsliced image is resized (up or down) to about
/// `scale_resolution²` pixels; a sliced one gives a downscaled overview plus the grid cells of a resized copy.
pub fn slice_image(img: &RgbImage, cfg: &SliceConfig) -> Result<SlicedImage, PreprocessError> {
    cfg.validate()?;
    let (width, height) = img.dimensions();
    if width == 0 || height == 0 {
        return Err(PreprocessError::EmptyImage { width_px: width, height_px: height });
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let (sr, patch) = (cfg.scale_resolution, cfg.patch_size);
    let Some((cols, rows)) = sliced_grid(width, height, cfg) else {
        let (ow, oh) = find_best_resize(w, h, sr, patch, true);
        let overview = resize_bicubic(img, side_u32("overview width", ow)?, side_u32("overview height", oh)?)?;
        return Ok(SlicedImage { grid: None, slices: vec![overview] });
    };
    let (ow, oh) = find_best_resize(w, h, sr, patch, false);
    let overview = resize_bicubic(img, side_u32("overview width", ow)?, side_u32("overview height", oh)?)?;
    let (rw, rh) = refine_size(width, height, (cols, rows), cfg);
    let refine = resize_bicubic(img, side_u32("refine width", rw)?, side_u32("refine height", rh)?)?;
    // The refine size is a multiple of the grid, so the cells tile it exactly.
    let cell_w = side_u32("slice width", rw / cols)?;
    let cell_h = side_u32("slice height", rh / rows)?;
    let mut slices = Vec::with_capacity(1 + cols * rows);
    slices.push(overview);
    for row in 0..rows {
        for col in 0..cols {
            let x = side_u32("slice x", col * cell_w as usize)?;
            let y = side_u32("slice y", row * cell_h as usize)?;
            slices.push(image::imageops::crop_imm(&refine, x, y, cell_w, cell_h).to_image());
        }
    }
    Ok(SlicedImage { grid: Some((cols, rows)), slices })
}

/// (height, width) of a slice in whole patches (`tgt_sizes`); (0, 0) for `patch_size` 0.
pub fn tgt_size(slice: &RgbImage, patch_size: usize) -> (usize, usize) {
    match patch_size {
        0 => (0, 0),
        p => (slice.height() as usize / p, slice.width() as usize / p),
    }
}

/// Normalised slice pixels as the model takes them: `x = u8 / 255` then `(x − mean) / std` per channel in `f32`,
/// laid out by `reshape_by_patch` as `[3, patch, L·patch]` with `out[c][ky][l·patch + kx]` the pixel
/// (`py·patch + ky`, `px·patch + kx`) of patch `l = py·w + px` (row-major). Pixels past the last whole patch are
/// dropped; empty for `patch_size` 0 or a slice smaller than a patch.
pub fn pixel_values(slice: &RgbImage, mean: [f32; 3], std: [f32; 3], patch_size: usize) -> Vec<f32> {
    let (h_patches, w_patches) = tgt_size(slice, patch_size);
    if h_patches == 0 || w_patches == 0 {
        return Vec::new();
    }
    let p = patch_size;
    // transformers' rescale: f64 product cast to f32 (equal to the f32 quotient u8 / 255 for every byte).
    let tables: [[f32; 256]; 3] =
        std::array::from_fn(|c| std::array::from_fn(|v| (((v as f64) * (1.0 / 255.0)) as f32 - mean[c]) / std[c]));
    let line = h_patches * w_patches * p;
    let mut out = vec![0f32; 3 * p * line];
    let width = slice.width() as usize;
    let raw = slice.as_raw();
    for y in 0..h_patches * p {
        let (py, ky) = (y / p, y % p);
        let src_row = &raw[y * width * 3..][..w_patches * p * 3];
        for (x, px) in src_row.chunks_exact(3).enumerate() {
            let l = py * w_patches + x / p;
            let col = l * p + x % p;
            for c in 0..3 {
                out[(c * p + ky) * line + col] = tables[c][usize::from(px[c])];
            }
        }
    }
    out
}

/// Element `index` of a float32 `torch.arange(start, _, step)` of `len` elements as PyTorch's CPU kernel writes
/// it: `f32(start + step·index)` in double precision, except that with `simd_lanes` > 0 blocks of `2·lanes`
/// elements are written as vectors whose lanes are `f32(f64(first) + lane·step)`.
fn torch_arange_f32(start: f64, step: f64, index: usize, len: usize, simd_lanes: usize) -> f32 {
    let block = simd_lanes.saturating_mul(2);
    if block > 0 && index < len / block * block {
        let lane = index % simd_lanes;
        let first = (start + step * (index - lane) as f64) as f32;
        (f64::from(first) + lane as f64 * step) as f32
    } else {
        (start + step * index as f64) as f32
    }
}

/// `torch.bucketize(x, boundaries, right=True)`: number of boundaries ≤ `x`, by the same binary search.
fn bucketize_right(x: f32, len: usize, boundary: impl Fn(usize) -> f32) -> usize {
    let (mut lo, mut hi) = (0usize, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if boundary(mid) > x {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// NaViT position ids of a slice of `h_patches`×`w_patches` patches (SigLIP with `num_patches_per_side` = 70 for
/// 980-pixel / 14-pixel patches): `row_bucket·num_patches_per_side + col_bucket`, row-major, `h·w` ids.
///
/// Follows the reference exactly: boundaries `torch.arange(1/n, 1, 1/n)`, coordinates `torch.arange(0, 1 − 1e-6,
/// 1/h)` with `1/h` a float32 tensor (the sizes are integer tensors), all stored as float32 and bucketized with
/// `right=True`. Uses PyTorch's scalar arange formula; see [`position_ids_simd`] for its vectorised variants.
pub fn position_ids(h_patches: usize, w_patches: usize, num_patches_per_side: usize) -> Vec<u32> {
    position_ids_simd(h_patches, w_patches, num_patches_per_side, 0)
}

/// [`position_ids`] as a PyTorch CPU build with `simd_lanes`-wide float vectors computes `torch.arange` (8 for AVX2,
/// 16 for AVX-512, 0 for the scalar formula). Where a coordinate equals a boundary, the float32 rounding of both
/// decides the bucket, and the vectorised arange rounds some elements differently (for sides up to 70 patches AVX2
/// differs from the scalar formula only at 49 and 58, AVX-512 never). Ids that do not fit `u32` saturate.
pub fn position_ids_simd(
    h_patches: usize,
    w_patches: usize,
    num_patches_per_side: usize,
    simd_lanes: usize,
) -> Vec<u32> {
    if h_patches == 0 || w_patches == 0 {
        return Vec::new();
    }
    let step = 1.0 / num_patches_per_side as f64;
    // torch.arange's length: ceil((end − start) / step) in double precision (69 for 70 patches per side).
    let len = ((1.0 - step) / step).ceil();
    let len = if len.is_finite() && len > 0.0 { len as usize } else { 0 };
    let boundary = |k: usize| torch_arange_f32(step, step, k, len, simd_lanes);
    let buckets = |patches: usize| -> Vec<u64> {
        let step = f64::from(1.0f32 / patches as f32);
        (0..patches)
            .map(|i| bucketize_right(torch_arange_f32(0.0, step, i, patches, simd_lanes), len, boundary) as u64)
            .collect()
    };
    let (rows, cols) = (buckets(h_patches), buckets(w_patches));
    let side = num_patches_per_side as u64;
    let mut ids = Vec::with_capacity(h_patches.saturating_mul(w_patches));
    for &r in &rows {
        ids.extend(cols.iter().map(|&c| u32::try_from(r.saturating_mul(side).saturating_add(c)).unwrap_or(u32::MAX)));
    }
    ids
}

/// The prompt text standing for image number `image_idx` of `width`×`height` pixels
/// (`get_slice_image_placeholder`): optional `<image_id>k</image_id>`, the overview's `<image>` + `<unk>`·n +
/// `</image>`, then per grid row the columns' `<slice>` + `<unk>`·n + `</slice>`, rows joined by `\n`.
pub fn image_placeholder(
    width: u32,
    height: u32,
    image_idx: usize,
    cfg: &SliceConfig,
    tokens: &ImageTokens,
    use_image_id: bool,
) -> String {
    let unks = tokens.unk.repeat(tokens.image_feature_size);
    let mut text = String::new();
    if use_image_id {
        text.push_str(&tokens.im_id_start);
        text.push_str(&image_idx.to_string());
        text.push_str(&tokens.im_id_end);
    }
    text.push_str(&tokens.im_start);
    text.push_str(&unks);
    text.push_str(&tokens.im_end);
    if let Some((cols, rows)) = sliced_grid(width, height, cfg) {
        let slice = format!("{}{}{}", tokens.slice_start, unks, tokens.slice_end);
        let line = slice.repeat(cols);
        text.push_str(&vec![line; rows].join("\n"));
    }
    text
}

/// Slices an image and turns every slice into model input (pixels, size in patches), with the grid.
pub fn preprocess(
    img: &RgbImage,
    cfg: &SliceConfig,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<Preprocessed, PreprocessError> {
    let sliced = slice_image(img, cfg)?;
    let pixel_values = sliced.slices.iter().map(|s| pixel_values(s, mean, std, cfg.patch_size)).collect();
    let tgt_sizes = sliced.slices.iter().map(|s| tgt_size(s, cfg.patch_size)).collect();
    Ok(Preprocessed { grid: sliced.grid, pixel_values, tgt_sizes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_matches_f32_division() {
        for v in 0u8..=255 {
            let product = (f64::from(v) * (1.0 / 255.0)) as f32;
            assert_eq!(product.to_bits(), (f32::from(v) / 255.0).to_bits(), "{v}");
        }
    }

    #[test]
    fn divisors_are_sorted() {
        assert_eq!(divisors(12), [1, 2, 3, 4, 6, 12]);
        assert_eq!(divisors(9), [1, 3, 9]);
        assert_eq!(divisors(1), [1]);
    }

    #[test]
    fn arange_lengths_match_torch() {
        // torch.arange(1/70, 1.0, 1/70) has 69 elements.
        let step = 1.0 / 70.0f64;
        assert_eq!(((1.0 - step) / step).ceil(), 69.0);
        // The coordinates have exactly `n` elements for every practical side.
        for n in 1..=100_000usize {
            let step = f64::from(1.0f32 / n as f32);
            assert_eq!(((1.0 - 1e-6) / step).ceil() as usize, n, "{n}");
        }
    }
}
