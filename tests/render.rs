//! The chart renderer: every WGSL file validates with naga; offscreen renders of the embedded EUR/USD sample
//! match the committed reference PNGs within a small per-pixel tolerance; `aio render` writes a PNG and
//! names what is wrong with bad arguments.
//!
//! Reference PNGs are made by this test: `AIO_UPDATE_GOLDEN=1 cargo test --test render` rewrites
//! `tests/fixtures/render/*.png` (look at them before committing).

use std::{path::Path, process::Command, sync::Arc};

use aio::{
    indicators::parse_spec_list,
    ingest,
    render::{
        Anchor, Annotations, ChartData, ChartTheme, ChartView, Drawing, DrawingKind, OffscreenRenderer, PriceScale,
        RgbaImage, gpu::shaders, scene::TradeMark,
    },
};

#[test]
fn every_wgsl_file_validates_with_naga() {
    let mut validated = Vec::new();
    for (name, source) in shaders::modules() {
        let module =
            naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
        validated.push(name.to_owned());
    }
    // Every file in shaders/ is compiled (common.wgsl and segment.wgsl as prefixes of the others).
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".wgsl") && name != "common.wgsl" && name != "segment.wgsl" {
            assert!(validated.contains(&name), "{name} is not compiled by the renderer");
        }
    }
    // A broken shader is caught (the check can fail).
    let broken = format!("{}\nfn oops() -> f32 {{ return draw.missing_field; }}", shaders::COMMON);
    let module = naga::front::wgsl::parse_str(&broken);
    let invalid = module.map(|m| {
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&m)
            .is_err()
    });
    assert!(invalid.unwrap_or(true));
}

fn sample_data(indicators: &str, theme: &ChartTheme) -> ChartData {
    let loaded = ingest::load_sample().expect("embedded sample");
    let specs = parse_spec_list(indicators).unwrap();
    let bars = Arc::new(loaded.bars.clone());
    let computed: Vec<_> = specs.iter().map(|s| (s.clone(), s.compute(&bars).unwrap())).collect();
    ChartData::new(bars, computed, "EURUSD · 1h".into(), 5, theme)
}

/// Compares `image` with the reference PNG `name`: at most 0.5 % of the pixels may differ by more than 24 in a
/// channel (anti-aliasing of another Mesa version), and none may be missing.
fn compare_with_reference(image: &RgbaImage, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render");
    let path = dir.join(name);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    image.write_png(&out).unwrap();
    if std::env::var_os("AIO_UPDATE_GOLDEN").is_some() {
        image.write_png(&path).unwrap();
        eprintln!("rewrote {}", path.display());
        return;
    }
    let reference = image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (make it with AIO_UPDATE_GOLDEN=1)", path.display()))
        .to_rgba8();
    assert_eq!((reference.width(), reference.height()), (image.width, image.height), "{name}: size");
    let differing = reference
        .as_raw()
        .chunks(4)
        .zip(image.pixels.chunks(4))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| (i32::from(*x) - i32::from(*y)).abs() > 24))
        .count();
    let total = (image.width * image.height) as usize;
    assert!(
        differing * 200 <= total,
        "{name}: {differing} of {total} pixels differ from {} (this render: {})",
        path.display(),
        out.display()
    );
}

fn count_color(image: &RgbaImage, c: [f32; 4]) -> usize {
    let c8 = c.map(|v| (v * 255.0).round() as i32);
    image.pixels.chunks(4).filter(|p| (0..3).all(|k| (i32::from(p[k]) - c8[k]).abs() <= 2)).count()
}

#[test]
fn offscreen_renders_match_the_references() {
    let mut renderer = OffscreenRenderer::new().expect("a wgpu adapter (mesa-vulkan-drivers provides lavapipe)");
    eprintln!("adapter: {}", renderer.adapter_name());

    // The last 150 hours, dark, with overlays, oscillator panes, markers, a trade and drawings.
    let theme = ChartTheme::DARK;
    let data = sample_data("sma:20,bb:20:2,rsi:14,macd:12:26:9", &theme);
    let n = data.bars.len();
    let view = ChartView::latest(n);
    let ts = data.bars.ts_nanos();
    let at = |i: usize, price: f64| Anchor { ts_nanos: ts[i], price };
    let annotations = Annotations {
        markers: vec![(n - 100, true), (n - 60, false)],
        trades: vec![TradeMark {
            entry_bar: n - 90,
            exit_bar: n - 70,
            entry_price: data.bars.close()[n - 90],
            exit_price: data.bars.close()[n - 70],
            long: true,
            profit: data.bars.close()[n - 70] > data.bars.close()[n - 90],
        }],
        drawings: vec![
            Drawing::new(
                DrawingKind::TrendLine,
                at(n - 140, data.bars.low()[n - 140]),
                at(n - 20, data.bars.high()[n - 20]),
            ),
            Drawing::new(DrawingKind::HorizontalLine, at(n - 50, data.bars.close()[n - 50]), at(n - 50, 0.0)),
        ],
        crosshair: Some([600.0, 200.0]),
        ..Default::default()
    };
    let image = renderer.render_chart(&data, &view, [1280, 720], &theme, &annotations).unwrap();
    assert_eq!((image.width, image.height), (1280, 720));
    // Both candle colours and the background are there.
    assert!(count_color(&image, theme.up) > 500, "up candles");
    assert!(count_color(&image, theme.down) > 500, "down candles");
    assert!(count_color(&image, theme.background) > 1280 * 720 / 4, "background");
    compare_with_reference(&image, "sample_last150_dark.png");

    // All 5,000 bars, light theme, log scale: drawn from a coarser level of detail.
    let theme = ChartTheme::LIGHT;
    let data = sample_data("ema:50", &theme);
    let view = ChartView { scale: PriceScale::Log, ..ChartView::fit_all(n) };
    let image = renderer.render_chart(&data, &view, [960, 540], &theme, &Annotations::default()).unwrap();
    assert!(count_color(&image, theme.up) > 300, "up envelopes");
    compare_with_reference(&image, "sample_all_light_log.png");
}

fn aio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aio")).args(args).output().expect("run aio")
}

#[test]
fn aio_render_writes_a_png_and_names_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/eurusd_h1_2017_2018.csv");
    let csv = csv.to_str().unwrap();
    let out = dir.path().join("chart.png");
    let o = aio(&[
        "render",
        "--input",
        csv,
        "--out",
        out.to_str().unwrap(),
        "--width",
        "800",
        "--height",
        "450",
        "--from",
        "2017-11-01",
        "--to",
        "2017-11-10",
        "--indicators",
        "sma:20,rsi:14",
        "--theme",
        "light",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = image::open(&out).unwrap().to_rgba8();
    assert_eq!((png.width(), png.height()), (800, 450));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("800x450"), "{stderr}");

    let o = aio(&["render", "--input", csv, "--out", out.to_str().unwrap(), "--theme", "pink"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--theme"), "{}", String::from_utf8_lossy(&o.stderr));
    let missing = dir.path().join("nope.csv");
    let o = aio(&["render", "--input", missing.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.csv"));
    let o = aio(&["render", "--input", csv, "--out", out.to_str().unwrap(), "--indicators", "sma:0"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--indicators"));
}

/// Levels above 65,536 buckets go to the GPU in chunks, each uploaded when a frame first needs it. A view across
/// a chunk seam (at full detail and at the first merged level) draws exactly what the same bars and indicator
/// values draw as a dataset of their own, which has no seam there: no gap in lines, no bucket shifted.
#[test]
fn views_across_chunk_seams_draw_like_a_dataset_without_the_seam() {
    use aio::{
        domain::Bars,
        render::{LayoutStyle, plan_frame},
    };
    let mut renderer = OffscreenRenderer::new().expect("a wgpu adapter (mesa-vulkan-drivers provides lavapipe)");
    let n = 140_000usize;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let (mut ts, mut open, mut high, mut low, mut close, mut volume) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut price = 1.1;
    for i in 0..n {
        let o = price;
        price *= 1.0 + next() * 0.002;
        ts.push(1_500_000_000_000_000_000 + i as i64 * 60_000_000_000);
        open.push(o);
        close.push(price);
        high.push(o.max(price) * (1.0 + (next() + 0.5) * 0.0005));
        low.push(o.min(price) * (1.0 - (next() + 0.5) * 0.0005));
        volume.push(100.0 + 50.0 * next());
    }
    let bars = Arc::new(Bars::new(ts, open, high, low, close, volume));
    let specs = parse_spec_list("sma:20,macd:12:26:9").unwrap();
    let computed: Vec<_> = specs.iter().map(|s| (s.clone(), s.compute(&bars).unwrap())).collect();
    // The cut is a multiple of 2,048 bars, so the buckets of the first levels line up in both datasets.
    let cut = 63_488usize;
    let tail_bars = Arc::new(bars.slice(cut..n));
    let tail_columns: Vec<_> = computed
        .iter()
        .map(|(spec, columns)| {
            let sliced = columns
                .iter()
                .map(|c| aio::indicators::Column { name: c.name.clone(), values: c.values[cut..].to_vec() });
            (spec.clone(), sliced.collect::<Vec<_>>())
        })
        .collect();
    let theme = ChartTheme::DARK;
    let full = ChartData::new(Arc::clone(&bars), computed, "SEAM · M1".into(), 5, &theme);
    let tail = ChartData::new(tail_bars, tail_columns, "SEAM · M1".into(), 5, &theme);
    let size = [1280u32, 720];
    let style = LayoutStyle::default();
    let mut draw = |data: &ChartData, x_min: f64, x_max: f64| {
        let view = ChartView { x_min, x_max, ..ChartView::latest(data.bars.len()) };
        let mut plan =
            plan_frame(data, &view, [size[0] as f32, size[1] as f32], &theme, &Annotations::default(), &style);
        // Time labels may look at bars left of the view; the drawn geometry is what is compared.
        plan.labels.clear();
        let mut dataset = renderer.dataset(data);
        let image = renderer.render(&mut dataset, data, &plan, style.text_px).unwrap();
        (plan.level, image, dataset.chunks_uploaded())
    };
    // (seam, half the view in bars, level of the candles, chunks the view needs). Lines keep two pixels per
    // sample, so they may come from the next level: 500 bars put candles and line quads across the level-0
    // seam; 2,000 bars put merged candles across the level-1 seam (lines from level 2); 1,000 bars put candles
    // across a level-0 seam and line strips across the level-1 seam at the same bar.
    for (seam_bar, half_span, level, needed) in
        [(65_536usize, 250.0, 0usize, 2usize), (131_072, 1_000.0, 1, 3), (131_072, 500.0, 0, 4)]
    {
        let (x_min, x_max) = (seam_bar as f64 - half_span, seam_bar as f64 + half_span);
        let (full_level, full_image, chunks) = draw(&full, x_min, x_max);
        let (tail_level, tail_image, _) = draw(&tail, x_min - cut as f64, x_max - cut as f64);
        assert_eq!((full_level, tail_level), (level, level), "the view is drawn from level {level}");
        // The chunks on both sides of the seams, not the whole pyramid, were uploaded.
        assert_eq!(chunks, needed, "chunks uploaded for a view across the seam at bar {seam_bar}");
        let differing = full_image.pixels.chunks(4).zip(tail_image.pixels.chunks(4)).filter(|(a, b)| a != b).count();
        if differing > 0 {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
            full_image.write_png(&dir.join(format!("seam_{seam_bar}_{half_span}_chunked.png"))).unwrap();
            tail_image.write_png(&dir.join(format!("seam_{seam_bar}_{half_span}_whole.png"))).unwrap();
        }
        assert_eq!(
            differing,
            0,
            "bar {seam_bar} ± {half_span}: pixels differ across the seam (PNGs in {})",
            env!("CARGO_TARGET_TMPDIR")
        );
        assert!(count_color(&full_image, theme.up) > 1_000, "candles drawn");
    }
}
