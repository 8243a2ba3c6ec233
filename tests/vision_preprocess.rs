//! MiniCPM-V image preprocessing against the Hugging Face reference outputs in `tests/fixtures/minicpmv` (see its
//! README): slice grid and sizes, Pillow-bicubic slices, normalised pixels, NaViT position ids and placeholders, plus
//! edge cases that must give errors or sane sizes instead of panics.

use std::path::{Path, PathBuf};

use aio::ai::vision::preprocess::*;
use image::RgbImage;
use safetensors::{Dtype, SafeTensors};

/// The fixture images in the order of `img{k}` in the reference tensors.
const IMAGES: [&str; 2] = ["chart_1280x720.png", "chart_300x200.png"];

/// Patches per side of the SigLIP position table (980-pixel images, 14-pixel patches).
const PATCHES_PER_SIDE: usize = 70;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpmv")
}

/// The reference tensors, owned.
struct Reference {
    bytes: Vec<u8>,
}

impl Reference {
    fn open() -> Self {
        Self { bytes: std::fs::read(fixture().join("reference.safetensors")).expect("read reference.safetensors") }
    }

    fn tensor(&self, name: &str, dtype: Dtype) -> (Vec<usize>, Vec<u8>) {
        let st = SafeTensors::deserialize(&self.bytes).expect("reference.safetensors parses");
        let t = st.tensor(name).unwrap_or_else(|e| panic!("{name} in the reference: {e}"));
        assert_eq!(t.dtype(), dtype, "{name}");
        (t.shape().to_vec(), t.data().to_vec())
    }

    fn rgb(&self, name: &str) -> RgbImage {
        let (shape, data) = self.tensor(name, Dtype::U8);
        assert_eq!(shape.len(), 3, "{name}");
        RgbImage::from_raw(shape[1] as u32, shape[0] as u32, data).expect("h·w·3 bytes")
    }

    fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let (shape, data) = self.tensor(name, Dtype::F32);
        (shape, data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect())
    }

    fn i64(&self, name: &str) -> Vec<i64> {
        let (_, data) = self.tensor(name, Dtype::I64);
        data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
    }

    fn tgt_sizes(&self, img: usize) -> Vec<(usize, usize)> {
        let (_, data) = self.tensor(&format!("img{img}.tgt_sizes"), Dtype::I32);
        let v: Vec<i32> = data.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
        v.chunks_exact(2).map(|p| (p[0] as usize, p[1] as usize)).collect()
    }
}

/// `reference.json`'s entry for one image.
fn reference_json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture().join("reference.json")).expect("read reference.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("reference.json parses");
    json["images"][name].clone()
}

/// (columns, rows) as the reference placeholder lays the slices out.
fn grid_of_placeholder(placeholder: &str) -> Option<(usize, usize)> {
    let slices = placeholder.matches("<slice>").count();
    if slices == 0 {
        return None;
    }
    let rows = placeholder.matches('\n').count() + 1;
    Some((slices / rows, rows))
}

fn load(name: &str) -> RgbImage {
    load_rgb(&fixture().join(name)).expect("fixture image decodes")
}

/// (largest absolute difference, number of differing bytes) of two equally sized images.
fn diff(a: &RgbImage, b: &RgbImage) -> (u8, usize) {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).fold((0, 0), |(max, n), (&x, &y)| {
        let d = x.abs_diff(y);
        (max.max(d), n + usize::from(d != 0))
    })
}

#[test]
fn slices_match_reference() {
    let r = Reference::open();
    let cfg = SliceConfig::default();
    for (k, name) in IMAGES.iter().enumerate() {
        let json = reference_json(name);
        let img = load(name);
        let size = (json["size"][0].as_u64().expect("width"), json["size"][1].as_u64().expect("height"));
        assert_eq!((u64::from(img.width()), u64::from(img.height())), size, "{name}");
        let placeholder = json["placeholder"].as_str().expect("placeholder");

        let sliced = slice_image(&img, &cfg).expect("slice");
        assert_eq!(sliced.grid, grid_of_placeholder(placeholder), "{name} grid");
        assert_eq!(sliced.grid, sliced_grid(img.width(), img.height(), &cfg), "{name} grid");
        assert_eq!(sliced.slices.len() as u64, json["slices"].as_u64().expect("slices"), "{name} slice count");

        let tgt: Vec<(usize, usize)> = sliced.slices.iter().map(|s| tgt_size(s, cfg.patch_size)).collect();
        assert_eq!(tgt, r.tgt_sizes(k), "{name} tgt_sizes");
        let json_tgt: Vec<(usize, usize)> = json["tgt_sizes"]
            .as_array()
            .expect("tgt_sizes")
            .iter()
            .map(|p| (p[0].as_u64().expect("h") as usize, p[1].as_u64().expect("w") as usize))
            .collect();
        assert_eq!(tgt, json_tgt, "{name} tgt_sizes in reference.json");

        for (i, slice) in sliced.slices.iter().enumerate() {
            let reference = r.rgb(&format!("img{k}.slice_rgb.{i}"));
            assert_eq!(slice.dimensions(), reference.dimensions(), "{name} slice {i} size");
            let (max, count) = diff(slice, &reference);
            println!("{name} slice {i}: max diff {max}, {count} of {} bytes differ", reference.as_raw().len());
            assert!(max <= 1, "{name} slice {i}: max diff {max}");
            assert!(count * 1000 <= reference.as_raw().len(), "{name} slice {i}: {count} bytes differ");
        }
    }
}

#[test]
fn pixel_values_match_reference() {
    let r = Reference::open();
    let cfg = SliceConfig::default();
    let (shape, expected) = r.f32("img1.pixel_values.0");
    let rgb = r.rgb("img1.slice_rgb.0");
    let (h, w) = tgt_size(&rgb, cfg.patch_size);
    assert_eq!(shape, [3, cfg.patch_size, h * w * cfg.patch_size]);

    let ours = pixel_values(&rgb, [0.5; 3], [0.5; 3], cfg.patch_size);
    assert_eq!(ours.len(), expected.len());
    let max = ours.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    println!("pixel_values from the reference slice: max abs diff {max:e}");
    assert!(max <= 1e-6, "max diff {max}");

    let own = preprocess(&load(IMAGES[1]), &cfg, [0.5; 3], [0.5; 3]).expect("preprocess");
    assert_eq!(own.grid, None);
    assert_eq!(own.tgt_sizes, r.tgt_sizes(1));
    let max = own.pixel_values[0].iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    println!("pixel_values from our own slice: max abs diff {max:e}");
    assert_eq!(own.pixel_values[0].len(), expected.len());
    assert!(max <= 1e-6, "max diff {max}");
}

#[test]
fn pixel_values_layout() {
    // A 28×14 image: two patches side by side; out[c][ky][l·p + kx] = img[c][py·p + ky][px·p + kx].
    let p = 14;
    let img = RgbImage::from_fn(28, 14, |x, y| image::Rgb([x as u8, y as u8, 200]));
    let v = pixel_values(&img, [0.0; 3], [1.0; 3], p);
    let line = 2 * p;
    assert_eq!(v.len(), 3 * p * line);
    for ky in 0..p {
        for l in 0..2 {
            for kx in 0..p {
                let x = (l * p + kx) as f32;
                assert_eq!(v[ky * line + l * p + kx], ((x as f64 / 255.0) as f32));
                assert_eq!(v[(p + ky) * line + l * p + kx], ((ky as f64 / 255.0) as f32));
            }
        }
    }
    assert!(pixel_values(&img, [0.0; 3], [1.0; 3], 0).is_empty());
    assert!(pixel_values(&RgbImage::new(13, 13), [0.0; 3], [1.0; 3], 14).is_empty());
}

#[test]
fn position_ids_match_reference() {
    let r = Reference::open();
    for (k, _) in IMAGES.iter().enumerate() {
        for (i, &(h, w)) in r.tgt_sizes(k).iter().enumerate() {
            let expected = r.i64(&format!("img{k}.position_ids.{i}"));
            for lanes in [0, 8, 16] {
                let ours: Vec<i64> =
                    position_ids_simd(h, w, PATCHES_PER_SIDE, lanes).into_iter().map(i64::from).collect();
                assert_eq!(ours, expected, "img{k} slice {i} ({h}×{w}) lanes {lanes}");
            }
            let ours: Vec<i64> = position_ids(h, w, PATCHES_PER_SIDE).into_iter().map(i64::from).collect();
            assert_eq!(ours, expected, "img{k} slice {i}");
        }
    }
}

#[test]
fn position_ids_float32_ties() {
    // With a float32 step 1/25 (as the reference's integer tgt_sizes give), coordinate 5/25 = 0.2 falls below the
    // boundary 14/70; a float64 step would put it in bucket 14.
    let ids = position_ids(1, 25, PATCHES_PER_SIDE);
    assert_eq!(ids[5], 13);
    // The scalar formula and AVX-512's vectorised arange agree up to 70 patches; AVX2's differs at 49 and 58.
    let differs =
        |lanes| (1..=70).filter(|&n| position_ids(1, n, 70) != position_ids_simd(1, n, 70, lanes)).collect::<Vec<_>>();
    assert_eq!(differs(16), Vec::<usize>::new());
    assert_eq!(differs(8), [49, 58]);
    // Degenerate sizes give no ids or zeros, never a panic.
    assert!(position_ids(0, 5, 70).is_empty());
    assert_eq!(position_ids(2, 2, 0), [0, 0, 0, 0]);
    assert_eq!(position_ids(3, 4, 70).len(), 12);
}

#[test]
fn placeholders_match_reference() {
    let cfg = SliceConfig::default();
    let tokens = ImageTokens::default();
    for (k, name) in IMAGES.iter().enumerate() {
        let json = reference_json(name);
        let (w, h) = (json["size"][0].as_u64().expect("w") as u32, json["size"][1].as_u64().expect("h") as u32);
        let ours = image_placeholder(w, h, k, &cfg, &tokens, true);
        assert_eq!(ours, json["placeholder"].as_str().expect("placeholder"), "{name}");
    }
    let plain = image_placeholder(300, 200, 3, &cfg, &tokens, false);
    assert_eq!(plain, format!("<image>{}</image>", "<unk>".repeat(64)));
}

#[test]
fn grids_and_sizes_of_edge_cases() {
    let cfg = SliceConfig::default();
    let sizes = |s: &SlicedImage| s.slices.iter().map(|i| i.dimensions()).collect::<Vec<_>>();
    let check_multiples = |s: &SlicedImage| {
        for slice in &s.slices {
            assert!(slice.width() >= 14 && slice.height() >= 14);
            assert_eq!((slice.width() % 14, slice.height() % 14), (0, 0), "{:?}", slice.dimensions());
        }
    };

    // 1×1 and 14×3 are resized up to about 448² pixels.
    let one = slice_image(&RgbImage::from_pixel(1, 1, image::Rgb([10, 20, 30])), &cfg).expect("1x1");
    assert_eq!(one.grid, None);
    assert_eq!(sizes(&one), [(448, 448)]);
    assert!(one.slices[0].pixels().all(|p| p.0 == [10, 20, 30]));
    let thin = slice_image(&RgbImage::new(14, 3), &cfg).expect("14x3");
    assert_eq!(thin.grid, None);
    // r = 14/3: height int(448/√r) = 207 → 210, width int(207·r) = 966.
    assert_eq!(sizes(&thin), [(966, 210)]);

    // Exactly 448×448 is not sliced and keeps its size (Pillow returns a copy).
    let gradient = RgbImage::from_fn(448, 448, |x, y| image::Rgb([x as u8, y as u8, (x ^ y) as u8]));
    let square = slice_image(&gradient, &cfg).expect("448");
    assert_eq!(square.grid, None);
    assert_eq!(square.slices[0], gradient);

    // Extreme aspect ratios: 4000×50 is just under 448² pixels, so it is resized, not sliced (r = 80: height
    // int(448/√80) = 50 → 56, width 4000 → 4004).
    let wide = slice_image(&RgbImage::new(4000, 50), &cfg).expect("4000x50");
    let tall = slice_image(&RgbImage::new(50, 4000), &cfg).expect("50x4000");
    assert_eq!((wide.grid, sizes(&wide)), (None, vec![(4004, 56)]));
    assert_eq!((tall.grid, sizes(&tall)), (None, vec![(56, 4004)]));
    // 8000×50 is sliced 3×1. Overview: r = 160, height int(448/√160) = 35 → round(2.5) = 2 (half to even) → 28,
    // width 5600. Refine: 8001×50 → cells 2667×50, r = 53.34 → 61 → 56 high, int(61·r) = 3253 → 3248 wide.
    let wider = slice_image(&RgbImage::new(8000, 50), &cfg).expect("8000x50");
    let taller = slice_image(&RgbImage::new(50, 8000), &cfg).expect("50x8000");
    assert_eq!(wider.grid, Some((3, 1)));
    assert_eq!(taller.grid, Some((1, 3)));
    assert_eq!(sizes(&wider), [(5600, 28), (3248, 56), (3248, 56), (3248, 56)]);
    // The reference is not symmetric: for 50×8000, r = 1/160 gives height int(448·√160) = 5666 → 5670 and width
    // int(5666/160) = 35 → 28; the cells 50×2667 give 3271 → 3276 high and 61 → 56 wide.
    assert_eq!(sizes(&taller), [(28, 5670), (56, 3276), (56, 3276), (56, 3276)]);
    for s in [&wide, &tall, &wider, &taller] {
        check_multiples(s);
    }
    for s in [&one, &thin, &square] {
        check_multiples(s);
    }

    // The placeholder follows the same grid.
    let ph = image_placeholder(8000, 50, 0, &cfg, &ImageTokens::default(), false);
    assert_eq!(ph.matches("<slice>").count(), 3);
    assert!(!ph.contains('\n'));
    let ph = image_placeholder(50, 8000, 0, &cfg, &ImageTokens::default(), false);
    assert_eq!(ph.matches("<slice>").count(), 3);
    assert_eq!(ph.matches('\n').count(), 2);
    assert!(!image_placeholder(4000, 50, 0, &cfg, &ImageTokens::default(), false).contains("<slice>"));
}

#[test]
fn invalid_inputs_give_errors() {
    let img = RgbImage::new(20, 10);
    for (w, h) in [(0, 5), (5, 0), (0, 0)] {
        let err = resize_bicubic(&img, w, h).expect_err("zero-size resize");
        assert!(err.to_string().contains("must be positive"), "{err}");
    }
    assert!(resize_bicubic(&RgbImage::new(0, 0), 5, 5).is_err());
    assert!(resize_bicubic(&img, u32::MAX, u32::MAX).is_err());
    assert!(slice_image(&RgbImage::new(0, 7), &SliceConfig::default()).is_err());

    for (cfg, field) in [
        (SliceConfig { patch_size: 0, ..SliceConfig::default() }, "patch_size"),
        (SliceConfig { scale_resolution: 0, ..SliceConfig::default() }, "scale_resolution"),
    ] {
        let err = slice_image(&img, &cfg).expect_err("invalid config");
        assert!(err.to_string().contains(field), "{err}");
    }
    // max_slice_nums 0 never slices.
    let unsliced = slice_image(&RgbImage::new(2000, 2000), &SliceConfig { max_slice_nums: 0, ..Default::default() });
    assert_eq!(unsliced.expect("unsliced").slices.len(), 1);
    assert_eq!(tgt_size(&img, 0), (0, 0));

    let missing = fixture().join("no_such_image.png");
    let err = load_rgb(&missing).expect_err("missing file");
    assert!(err.to_string().contains("no_such_image.png"), "{err}");
    let not_image = fixture().join("README.md");
    let err = load_rgb(&not_image).expect_err("not an image");
    assert!(err.to_string().contains("README.md"), "{err}");
}

#[test]
fn alpha_and_grey_convert_like_pil() {
    let dir = std::env::temp_dir().join(format!("aio-vision-preprocess-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let rgba = image::RgbaImage::from_fn(3, 2, |x, y| image::Rgba([x as u8 * 50, y as u8 * 60, 7, (x * 40) as u8]));
    let path = dir.join("rgba.png");
    rgba.save(&path).expect("save rgba");
    let rgb = load_rgb(&path).expect("load rgba");
    assert!(rgb.enumerate_pixels().all(|(x, y, p)| p.0 == [x as u8 * 50, y as u8 * 60, 7]));

    let grey = image::GrayAlphaImage::from_fn(2, 2, |x, y| image::LumaA([(x * 100 + y) as u8, 0]));
    let path = dir.join("la.png");
    grey.save(&path).expect("save la");
    let rgb = load_rgb(&path).expect("load la");
    assert!(rgb.enumerate_pixels().all(|(x, y, p)| p.0 == [(x * 100 + y) as u8; 3]));

    let deep =
        image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_fn(2, 1, |x, _| image::Rgb([0x12ff, 0xff00, x as u16]));
    let path = dir.join("rgb16.png");
    deep.save(&path).expect("save rgb16");
    let rgb = load_rgb(&path).expect("load rgb16");
    assert!(rgb.pixels().all(|p| p.0 == [0x12, 0xff, 0]));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn resize_properties() {
    // A constant image stays constant under any resize (the coefficients sum to 1 in fixed point).
    let flat = RgbImage::from_pixel(37, 23, image::Rgb([90, 0, 255]));
    for (w, h) in [(1, 1), (5, 80), (200, 3), (37, 11), (74, 23)] {
        let out = resize_bicubic(&flat, w, h).expect("resize");
        assert_eq!(out.dimensions(), (w, h));
        assert!(out.pixels().all(|p| p.0 == [90, 0, 255]), "{w}x{h}");
    }
    // Same size is a copy.
    let img = RgbImage::from_fn(9, 4, |x, y| image::Rgb([x as u8 * 20, y as u8 * 50, 3]));
    assert_eq!(resize_bicubic(&img, 9, 4).expect("copy"), img);
}
