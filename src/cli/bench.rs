//! `aio bench import|indicators|dukascopy|startup`: measurements printed beside a reference run on the same machine,
//! same run.

use std::{
    io::BufWriter,
    process::{Command, ExitCode},
    time::{Duration, Instant},
};

use anyhow::Context;
use polars::prelude::*;

use crate::ingest::{self, LoadOptions, NoProgress};

/// Arguments of `aio bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: BenchKind,
}

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchKind {
    /// Import of a generated generic CSV to Parquet, against polars' own CSV → Parquet on the same file.
    Import {
        /// Rows to generate.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        /// Repetitions (the best is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// The eight indicators over generated bars, against TA-Lib through numpy on the same bars (needs a Python
    /// with the `ta-lib` package).
    Indicators {
        /// Bars to generate.
        #[arg(long, default_value_t = 10_000_000)]
        bars: usize,
        /// Repetitions (the best is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Python interpreter with `ta-lib` and `numpy` installed.
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// Decoding cached bi5 tick files and aggregating them to M1, against `xz -d` decompressing the same files in
    /// the same run (the decompression limit).
    Dukascopy {
        /// Hourly files to generate.
        #[arg(long, default_value_t = 600)]
        hours: u32,
        /// Ticks per hour.
        #[arg(long, default_value_t = 5_000)]
        ticks_per_hour: u32,
        /// Repetitions (the best is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// The xz binary.
        #[arg(long, default_value = "xz")]
        xz: String,
    },
    /// An SMA-cross backtest over generated M1 bars against backtesting.py 0.6.6 on the same bars (trades must be
    /// identical), then a parameter sweep over the same bars on all cores.
    Backtest {
        /// Bars to generate.
        #[arg(long, default_value_t = 1_000_000)]
        bars: usize,
        /// Sweep combinations (a square grid of fast and slow lengths).
        #[arg(long, default_value_t = 10_000)]
        combinations: usize,
        /// Repetitions (the best is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Python interpreter with `backtesting==0.6.6`, `ta-lib` and `pandas` installed.
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// The analysis loop on the sample's latest 150 bars: time to the first finding and to the full result with
    /// the rule-based analyst (with and without the chart image), with a model when given, and the workstation's
    /// frame times while 8 analyses run beside its idle frames (needs a display; skipped without one).
    Analyze {
        /// Repetitions of the rule-based loop (median and best are reported).
        #[arg(long, default_value_t = 20)]
        repeat: usize,
        /// A model folder to run the loop with as well.
        #[arg(long)]
        model: Option<String>,
        /// Run the model from a copy whose `max_position_embeddings` is this (for the tiny test checkpoints,
        /// whose 64 positions do not hold the prompt).
        #[arg(long)]
        context: Option<usize>,
        /// Analyses started at once in the workstation.
        #[arg(long, default_value_t = 8)]
        concurrent: usize,
    },
    /// Cold start to the first frame with the sample data, against a start with no data (needs a display).
    Startup {
        /// Repetitions.
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
    /// Chart frames drawn offscreen at 1920×1080 (lavapipe without a GPU) for growing bar counts, fully zoomed out
    /// and at a 200-bar view, beside a 2,000-bar chart in the same run; and the first frame after loading.
    Chart {
        /// Bar counts to load (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000,10000000")]
        bars: Vec<usize>,
        /// Frames per case (the mean is reported).
        #[arg(long, default_value_t = 20)]
        frames: usize,
        /// Image width.
        #[arg(long, default_value_t = 1920)]
        width: u32,
        /// Image height.
        #[arg(long, default_value_t = 1080)]
        height: u32,
    },
    /// MiniCPM4 shapes with random int4 weights made in memory: prefill and decode speed beside the memory
    /// bandwidth roofline measured in the same run.
    Llm {
        /// Shapes to run: 8b (MiniCPM4.1-8B) and/or 0.5b (MiniCPM4-0.5B).
        #[arg(long, value_delimiter = ',', default_value = "0.5b,8b")]
        shapes: Vec<String>,
        /// Prompt tokens of the prefill.
        #[arg(long, default_value_t = 2048)]
        prompt: usize,
        /// Tokens decoded after the prefill (the mean time is reported).
        #[arg(long, default_value_t = 16)]
        decode: usize,
    },
    /// MiniCPM-V 4.0's vision path in its real shape (SigLIP so400m, resampler into a 2560-wide LLM) with random
    /// weights: a 1280×720 chart PNG to resampled features, per stage and per slice, beside the machine's own f32
    /// matrix-multiply rate measured in the same run.
    Vision {
        /// The chart image (default: the embedded sample rendered offscreen at 1280×720).
        #[arg(long)]
        image: Option<std::path::PathBuf>,
        /// Repetitions (the best is reported).
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    },
}

/// Runs `aio bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.which {
        BenchKind::Import { rows, repeat } => bench_import(rows, repeat.max(1)),
        BenchKind::Startup { repeat } => bench_startup(repeat.max(1)),
        BenchKind::Analyze { repeat, model, context, concurrent } => {
            bench_analyze(repeat.max(1), model.as_deref(), context, concurrent.max(1))
        }
        BenchKind::Llm { shapes, prompt, decode } => bench_llm(&shapes, prompt, decode),
        BenchKind::Vision { image, repeat } => bench_vision(image.as_deref(), repeat.max(1)),
        BenchKind::Chart { bars, frames, width, height } => bench_chart(&bars, frames.max(1), [width, height]),
        BenchKind::Backtest { bars, combinations, repeat, python } => {
            bench_backtest(bars.max(1000), combinations.max(1), repeat.max(1), &python)
        }
        BenchKind::Indicators { bars, repeat, python } => bench_indicators(bars.max(100), repeat.max(1), &python),
        BenchKind::Dukascopy { hours, ticks_per_hour, repeat, xz } => {
            bench_dukascopy(hours.max(1), ticks_per_hour.max(1), repeat.max(1), &xz)
        }
    }
}

/// Chart frame times: full zoom-out and a 200-bar view per bar count, beside a 2,000-bar zoomed-out chart, and
/// the first frame after loading (levels of detail, upload, plan, draw).
fn bench_chart(counts: &[usize], frames: usize, size: [u32; 2]) -> anyhow::Result<ExitCode> {
    use crate::render::{Annotations, ChartData, ChartTheme, ChartView, LayoutStyle, OffscreenRenderer, plan_frame};
    use std::sync::Arc;
    let mut renderer = OffscreenRenderer::new()?;
    println!(
        "adapter: {}  ({}x{}, SMA 20 + Bollinger 20 + RSI 14 + MACD, mean of {frames} frames)",
        renderer.adapter_name(),
        size[0],
        size[1]
    );
    let theme = ChartTheme::DARK;
    let style = LayoutStyle::default();
    let specs = crate::indicators::parse_spec_list("sma:20,bb:20:2,rsi:14,macd:12:26:9")?;
    let canvas = [size[0] as f32, size[1] as f32];
    let verbose = std::env::var_os("AIO_BENCH_VERBOSE").is_some();
    // Returns (first frame fully zoomed out, first frame at the workstation's opening view, zoomed out, 200 bars),
    // in ms; a first frame counts from the loaded bars: chart data, the chunks it shows uploaded, plan, draw.
    let frame_ms = |renderer: &mut OffscreenRenderer, n: usize| -> anyhow::Result<[f64; 4]> {
        let (ts, open, high, low, close) = random_walk_bars(n, n as u64);
        let volume = (0..n).map(|i| ((i * 7_919) % 1_000) as f64).collect();
        let bars = Arc::new(crate::domain::Bars::new(ts, open, high, low, close, volume));
        let mut indicators = Vec::new();
        for spec in &specs {
            indicators.push((spec.clone(), spec.compute(&bars)?));
        }
        let loaded = Instant::now();
        let data = ChartData::new(Arc::clone(&bars), indicators, "BENCH · M1".into(), 5, &theme);
        let data_ms = loaded.elapsed().as_secs_f64() * 1e3;
        let mut first = |view: &ChartView, what: &str| -> anyhow::Result<(f64, crate::render::GpuDataset)> {
            let start = Instant::now();
            let mut dataset = renderer.dataset(&data);
            let plan = plan_frame(&data, view, canvas, &theme, &Annotations::default(), &style);
            let planned = Instant::now();
            renderer.draw(&mut dataset, &data, &plan)?;
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            let total_ms = data_ms + ms(start, Instant::now());
            if verbose {
                eprintln!(
                    "{n} bars, first frame {what}: chart data (merged levels of detail) {data_ms:.1} ms, plan \
                     {:.1} ms, draw with its chunks uploaded {:.1} ms ({:.1} MB)",
                    ms(start, planned),
                    ms(planned, Instant::now()),
                    dataset.bytes as f64 / 1e6
                );
            }
            Ok((total_ms, dataset))
        };
        let out = ChartView::fit_all(n);
        let (first_out_ms, _) = first(&out, "zoomed out")?;
        let (first_latest_ms, mut dataset) = first(&ChartView::latest(n), "at the opening view")?;
        let mut time = |view: &ChartView| -> anyhow::Result<f64> {
            // One untimed frame uploads the view's chunks.
            let plan = plan_frame(&data, view, canvas, &theme, &Annotations::default(), &style);
            renderer.draw(&mut dataset, &data, &plan)?;
            let t = Instant::now();
            let mut plan_secs = 0.0;
            for k in 0..frames {
                // A moving crosshair, as while the mouse moves: the plan is rebuilt every frame.
                let annotations = Annotations { crosshair: Some([100.0 + k as f32, 300.0]), ..Default::default() };
                let planned = Instant::now();
                let plan = plan_frame(&data, view, canvas, &theme, &annotations, &style);
                plan_secs += planned.elapsed().as_secs_f64();
                renderer.draw(&mut dataset, &data, &plan)?;
            }
            if verbose {
                eprintln!(
                    "  {n} bars, span {:.0}: planning {:.2} ms/frame",
                    view.span_bars(),
                    plan_secs * 1e3 / frames as f64
                );
            }
            Ok(t.elapsed().as_secs_f64() * 1e3 / frames as f64)
        };
        let zoomed_out = time(&out)?;
        let zoomed_in = time(&ChartView::latest_span(n, 200.0))?;
        Ok([first_out_ms, first_latest_ms, zoomed_out, zoomed_in])
    };
    let [_, _, reference, _] = frame_ms(&mut renderer, 2_000)?;
    // The fixed cost of a frame on this adapter: clear, submit and wait, nothing drawn.
    let bare = {
        let bars = Arc::new(crate::domain::Bars::new(vec![0], vec![1.0], vec![1.0], vec![1.0], vec![1.0], vec![0.0]));
        let data = ChartData::new(bars, Vec::new(), String::new(), 5, &theme);
        let mut dataset = renderer.dataset(&data);
        let plan = crate::render::FramePlan { canvas, background: theme.background, ..Default::default() };
        renderer.draw(&mut dataset, &data, &plan)?;
        let t = Instant::now();
        for _ in 0..frames {
            renderer.draw(&mut dataset, &data, &plan)?;
        }
        t.elapsed().as_secs_f64() * 1e3 / frames as f64
    };
    println!(
        "reference: 2,000 bars fully zoomed out: {reference:.2} ms/frame; an empty frame (clear, submit, wait): {bare:.2} ms"
    );
    println!(
        "{:>12} {:>16} {:>10} {:>18} {:>18} {:>18}",
        "bars", "zoomed out (ms)", "× 2k ref", "200-bar view (ms)", "first, all (ms)", "first, latest (ms)"
    );
    for &n in counts {
        let [first_out, first_latest, out, view] = frame_ms(&mut renderer, n.max(2))?;
        println!("{n:>12} {out:>16.2} {:>10.2} {view:>18.2} {first_out:>18.1} {first_latest:>18.1}", out / reference);
    }
    Ok(ExitCode::SUCCESS)
}

/// The PNG bytes of the embedded sample's last 300 bars drawn offscreen at 1280×720 (SMA 20 and RSI 14).
fn sample_chart_png() -> anyhow::Result<Vec<u8>> {
    use crate::render::{Annotations, ChartData, ChartTheme, ChartView, OffscreenRenderer};
    let loaded = ingest::load_sample()?;
    let bars = loaded.bars.clone();
    let mut indicators = Vec::new();
    for spec in crate::indicators::parse_spec_list("sma:20,rsi:14")? {
        let values = spec.compute(&bars)?;
        indicators.push((spec, values));
    }
    let n = bars.len();
    let theme = ChartTheme::DARK;
    let data =
        ChartData::new(std::sync::Arc::new(bars), indicators, "EURUSD · H1".into(), loaded.price_digits(), &theme);
    let view = ChartView { x_min: n as f64 - 300.5, x_max: n as f64 + 5.5, ..ChartView::latest(n) };
    let mut renderer = OffscreenRenderer::new()?;
    let image = renderer.render_chart(&data, &view, [1280, 720], &theme, &Annotations::default())?;
    Ok(image.to_png()?)
}

/// Floating-point operations of the encoder on one slice of `patches` patches.
/// Returns (all, attention's share: scores and weighted values).
fn encoder_flops(cfg: &crate::ai::vision::VisionConfig, patches: usize) -> (f64, f64) {
    let (l, d, m) = (patches as f64, cfg.hidden_size as f64, cfg.intermediate_size as f64);
    let layers = cfg.layers_used() as f64;
    let attention = 4.0 * l * l * d * layers;
    let projections = 2.0 * l * d * (4.0 * d + 2.0 * m) * layers;
    let patch = 2.0 * l * d * (3.0 * (cfg.patch_size * cfg.patch_size) as f64);
    (projections + attention + patch, attention)
}

/// The vision path in MiniCPM-V 4.0's real shape with random weights: PNG decode, slicing, encoder, resampler.
fn bench_vision(image: Option<&std::path::Path>, repeat: usize) -> anyhow::Result<ExitCode> {
    use crate::ai::{
        config::ModelConfig,
        vision::{MiniCpmVConfig, VisionConfig, VisionTower, preprocess, siglip::EncoderProfile},
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let png = match image {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => sample_chart_png().context("rendering the sample chart (pass --image without a GPU adapter)")?,
    };
    // The reference rate: one f32 matmul of an encoder MLP's shape on this machine, in this run.
    let (m, k, n) = (1015, 1152, 4304);
    let a = candle_core::Tensor::randn(0f32, 1.0, (m, k), &candle_core::Device::Cpu)?;
    let b = candle_core::Tensor::randn(0f32, 1.0, (k, n), &candle_core::Device::Cpu)?;
    a.matmul(&b)?;
    let matmul = best_of(3, || {
        std::hint::black_box(a.matmul(&b)?);
        Ok(())
    })?;
    let matmul_gflops = 2.0 * (m * k * n) as f64 / matmul.as_secs_f64() / 1e9;

    let mut llm = ModelConfig::minicpm4_8b();
    llm.hidden_size = 2560;
    let cfg = MiniCpmVConfig::with_shapes(llm, VisionConfig::so400m(), 64);
    eprintln!("building random weights for SigLIP so400m and the resampler ...");
    let tower = VisionTower::random(&cfg)?;
    type Run = (f64, f64, crate::ai::vision::ImageInput, crate::ai::vision::ImageFeatures, EncoderProfile);
    let mut best: Option<Run> = None;
    for _ in 0..repeat {
        let started = Instant::now();
        let decoded = image::load_from_memory(&png).context("decoding the PNG")?;
        let rgb = preprocess::rgb_like_pil(decoded);
        let decode_secs = started.elapsed().as_secs_f64();
        let input = tower.preprocess(&rgb, 0)?;
        let mut profile = EncoderProfile::default();
        let features = tower.features_profiled(&input, &mut profile)?;
        let total = started.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|b| total < b.0) {
            best = Some((total, decode_secs, input, features, profile));
        }
    }
    let (total, decode_secs, input, features, profile) = best.context("no run")?;
    let slices = input.tgt_sizes.len();
    let patches: usize = input.tgt_sizes.iter().map(|(h, w)| h * w).sum();
    let longest = input.tgt_sizes.iter().map(|(h, w)| h * w).max().unwrap_or(0);
    let (slice_flops, slice_attention_flops) = encoder_flops(&cfg.vision, longest);
    let (flops, attention_flops) = (slices as f64 * slice_flops, slices as f64 * slice_attention_flops);
    println!(
        "vision benchmark: MiniCPM-V 4.0 shape (SigLIP so400m: hidden 1152, {} layers, 16 heads, MLP 4304; resampler 64 \
         queries into 2560), random f32 weights ({:.0} M parameters), CPU, {threads} threads, best of {repeat}",
        cfg.vision.layers_used(),
        tower.parameters() as f64 / 1e6
    );
    println!(
        "  image: {} bytes of PNG → {slices} slices {:?} ({patches} patches, padded batch of {slices} × {longest})",
        png.len(),
        input.tgt_sizes
    );
    let stages = [
        ("PNG decode", decode_secs),
        ("resize + slice + normalise", input.preprocess_secs),
        ("encoder (27 blocks)", features.encoder_secs),
        ("resampler", features.resampler_secs),
    ];
    for (name, secs) in stages {
        println!("  {name:<28} {:>9.1} ms  {:>5.1} %", secs * 1e3, secs / total * 100.0);
    }
    println!("  {:<28} {:>9.1} ms  ({:.0} ms per slice)", "total", total * 1e3, total * 1e3 / slices as f64);
    let enc = features.encoder_secs;
    println!(
        "  inside the encoder: projections and MLP matmuls {:.1} % ({:.0} GFLOP/s), attention (scores, softmax, \
         values) {:.1} % ({:.0} GFLOP/s), GELU {:.1} %, LayerNorm and residuals {:.1} %, patch embedding {:.1} %",
        profile.linear_secs / enc * 100.0,
        (flops - attention_flops) / profile.linear_secs / 1e9,
        profile.attention_secs / enc * 100.0,
        attention_flops / profile.attention_secs / 1e9,
        profile.activation_secs / enc * 100.0,
        profile.norm_secs / enc * 100.0,
        profile.embedding_secs / enc * 100.0
    );
    println!(
        "  encoder: {:.0} GFLOP (padded) at {:.1} GFLOP/s = {:.0} % of this machine's f32 matmul rate ({:.1} GFLOP/s for \
         [{m}×{k}]·[{k}×{n}], same run); the seeds' goal is ≤ 700 ms per image on a GPU",
        flops / 1e9,
        flops / features.encoder_secs / 1e9,
        flops / features.encoder_secs / 1e9 / matmul_gflops * 100.0,
        matmul_gflops
    );
    Ok(ExitCode::SUCCESS)
}

fn bench_llm(shapes: &[String], prompt_tokens: usize, decode_tokens: usize) -> anyhow::Result<ExitCode> {
    use crate::ai::{config::ModelConfig, models::minicpm4::MiniCpm4, quant::measure_read_bandwidth_gbs};
    let bandwidth_gbs = measure_read_bandwidth_gbs();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("memory read bandwidth: {bandwidth_gbs:.1} GB/s ({threads} threads, measured in this run)");
    for shape in shapes {
        let cfg = match shape.as_str() {
            "8b" => ModelConfig::minicpm4_8b(),
            "0.5b" => ModelConfig::minicpm4_0_5b(),
            other => anyhow::bail!("unknown shape {other:?} (8b or 0.5b)"),
        };
        eprintln!("building random int4 weights for the {shape} shape ...");
        let model = MiniCpm4::random_int4(cfg, 42)?;
        let vocab = model.config().vocab_size as u32;
        let mut rng = fastrand::Rng::with_seed(7);
        let prompt: Vec<u32> = (0..prompt_tokens.max(1)).map(|_| rng.u32(0..vocab)).collect();
        let mut cache = model.new_cache();
        let started = Instant::now();
        let logits = model.forward(&prompt, &mut cache, false)?;
        let prefill_secs = started.elapsed().as_secs_f64();
        let mut next = crate::ai::models::minicpm4::argmax_last(&logits)?;
        let started = Instant::now();
        for _ in 0..decode_tokens.max(1) {
            let logits = model.forward(&[next], &mut cache, false)?;
            next = crate::ai::models::minicpm4::argmax_last(&logits)?;
        }
        let decode_secs = started.elapsed().as_secs_f64() / decode_tokens.max(1) as f64;
        let int4_bytes = model.int4_bytes_per_token() as f64;
        let all_bytes = model.bytes_per_token() as f64;
        let roofline_tps = bandwidth_gbs * 1e9 / int4_bytes;
        let decode_tps = 1.0 / decode_secs;
        println!(
            "MiniCPM4 {shape}: {:.2} GB int4 weights + {:.2} GB dense lm_head read per token, {:.2} GB resident",
            int4_bytes / 1e9,
            (all_bytes - int4_bytes) / 1e9,
            model.weight_bytes() as f64 / 1e9
        );
        println!(
            "  prefill {prompt_tokens} tokens: {prefill_secs:.2} s ({:.1} tok/s)",
            prompt_tokens as f64 / prefill_secs
        );
        println!(
            "  decode after {prompt_tokens} tokens: {decode_tps:.2} tok/s ({:.0} ms/token); roofline (int4 bytes / \
             bandwidth) {roofline_tps:.2} tok/s; ratio {:.0} % (goal >= 70 %); effective {:.1} GB/s",
            decode_secs * 1e3,
            100.0 * decode_tps / roofline_tps,
            all_bytes / decode_secs / 1e9
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn best_of(repeat: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed());
    }
    Ok(best)
}

fn bench_import(rows: usize, repeat: usize) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("bench.csv");
    ingest::synthetic::write_random_walk_csv(&csv, rows)?;
    let size_mb = std::fs::metadata(&csv)?.len() as f64 / 1e6;
    let ours_out = dir.path().join("ours.parquet");
    let ours = best_of(repeat, || {
        let loaded = ingest::load_path(&csv, &LoadOptions::default(), &NoProgress)?;
        anyhow::ensure!(loaded.bars.len() == rows, "imported {} of {rows} rows", loaded.bars.len());
        ingest::write_parquet(&ours_out, &loaded.bars)?;
        Ok(())
    })?;
    // Reference: polars alone reads the same CSV with a typed schema (time kept as text, no validation)
    // and writes zstd Parquet: the floor for "CSV in, Parquet out" with this library on this machine.
    let ref_out = dir.path().join("reference.parquet");
    let reference = best_of(repeat, || {
        let mut df = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(csv.clone()))?
            .finish()?;
        let file = std::fs::File::create(&ref_out)?;
        ParquetWriter::new(BufWriter::new(file)).with_compression(ParquetCompression::Zstd(None)).finish(&mut df)?;
        Ok(())
    })?;
    println!("import benchmark: {rows} rows, {size_mb:.1} MB generic CSV, best of {repeat}");
    println!("  aio import (parse, validate, Parquet zstd)     {:>8.1} ms", ours.as_secs_f64() * 1e3);
    println!(
        "  reference: polars read_csv → Parquet (no time parsing, no validation) {:>8.1} ms",
        reference.as_secs_f64() * 1e3
    );
    println!(
        "  ratio aio / reference: {:.2}×   goal: ≤ 1000 ms for 1,000,000 rows",
        ours.as_secs_f64() / reference.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn run_startup(args: &[&str]) -> anyhow::Result<(Duration, f64)> {
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let output = Command::new(exe).args(args).env("AIO_NO_PERSIST", "1").output()?;
    let wall = t.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first_frame_ms = stdout
        .lines()
        .find_map(|l| l.strip_prefix("first_frame_ms="))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| {
            format!(
                "the workstation did not report a first frame (is a display available?): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    Ok((wall, first_frame_ms))
}

fn bench_startup(repeat: usize) -> anyhow::Result<ExitCode> {
    let mut sample = Vec::new();
    let mut empty = Vec::new();
    for _ in 0..repeat {
        sample.push(run_startup(&["--sample", "--exit-after-first-frame"])?);
        empty.push(run_startup(&["--empty", "--exit-after-first-frame"])?);
    }
    let median = |v: &mut Vec<(Duration, f64)>| {
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v[v.len() / 2]
    };
    let (first_wall, first_ms) = sample[0];
    let (s_wall, s_ms) = median(&mut sample);
    let (e_wall, e_ms) = median(&mut empty);
    println!("startup benchmark: {repeat} runs each, median");
    println!(
        "  sample (5,000 EUR/USD H1 bars): first frame with data {s_ms:>7.1} ms after process start (process wall {:.1} ms)",
        s_wall.as_secs_f64() * 1e3
    );
    println!(
        "  reference, no data:             first frame           {e_ms:>7.1} ms (process wall {:.1} ms)",
        e_wall.as_secs_f64() * 1e3
    );
    println!("  first (coldest) sample run:     {first_ms:.1} ms (wall {:.1} ms)", first_wall.as_secs_f64() * 1e3);
    println!("  ratio sample / no data: {:.2}×   goal: ≤ 500 ms", s_ms / e_ms);
    Ok(ExitCode::SUCCESS)
}

fn bench_analyze(
    repeat: usize,
    model: Option<&str>,
    context: Option<usize>,
    concurrent: usize,
) -> anyhow::Result<ExitCode> {
    use std::sync::{Arc, atomic::AtomicBool};

    use crate::ai::orchestrator::{AnalysisRequest, AnalystChain, Orchestrator};
    let loaded = crate::ingest::load_sample()?;
    let bars = Arc::new(loaded.bars.clone());
    let request = |image: bool| {
        let mut r = AnalysisRequest::latest(bars.clone(), "EURUSD", loaded.timeframe, 150);
        r.price_digits = loaded.price_digits();
        r.image_size = image.then_some([1280, 720]);
        r
    };
    let t = Instant::now();
    let mut renderer = crate::render::OffscreenRenderer::new().ok();
    let renderer_ms = t.elapsed().as_secs_f64() * 1e3;
    let rule_based = Orchestrator::new(AnalystChain::rule_based());
    let cancel = AtomicBool::new(false);
    println!("analysis benchmark: EUR/USD H1 sample, latest 150 bars, {repeat} runs each (median, best)");
    match &renderer {
        Some(r) => {
            println!("  offscreen renderer ready in {renderer_ms:.0} ms on {} (once per worker pool)", r.adapter_name())
        }
        None => println!("  no offscreen renderer: the runs with an image are skipped"),
    }
    for image in [true, false] {
        if image && renderer.is_none() {
            continue;
        }
        let (mut first, mut total) = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            let result = rule_based.run(&request(image), renderer.as_mut(), &cancel, &|_| {})?;
            first.push(result.first_finding_secs * 1e3);
            total.push(result.total_secs * 1e3);
        }
        for v in [&mut first, &mut total] {
            v.sort_by(f64::total_cmp);
        }
        println!(
            "  rule-based, {}: first finding {:.2} ms (best {:.2}), full result {:.1} ms (best {:.1}); goal <= 300 ms",
            if image { "with the 1280x720 chart image" } else { "no image" },
            first[first.len() / 2],
            first[0],
            total[total.len() / 2],
            total[0]
        );
    }
    if let Some(name) = model {
        let dir = tempfile::tempdir()?;
        let path = match context {
            Some(positions) => {
                let copy = dir.path().join("model");
                std::fs::create_dir_all(&copy)?;
                for entry in std::fs::read_dir(name).with_context(|| format!("reading {name}"))? {
                    let entry = entry?;
                    if entry.file_type()?.is_file() {
                        std::fs::copy(entry.path(), copy.join(entry.file_name()))?;
                    }
                }
                let config_path = copy.join("config.json");
                let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config_path)?)?;
                config["max_position_embeddings"] = positions.into();
                std::fs::write(&config_path, config.to_string())?;
                copy.display().to_string()
            }
            None => name.to_string(),
        };
        let t = Instant::now();
        let chain = AnalystChain::for_model(Some(&path));
        let load_ms = t.elapsed().as_secs_f64() * 1e3;
        let orchestrator = Orchestrator::new(chain);
        // Guardrails off: a test checkpoint's random weights pick random sizes, and the model's answer (not the
        // rule-based fallback) is what is timed here.
        let mut model_request = request(false);
        model_request.policy.guardrails = crate::strategy::Guardrails::none();
        let result = orchestrator.run(&model_request, None, &cancel, &|_| {})?;
        let analyst_secs = result
            .stage_secs
            .windows(2)
            .find(|w| w[0].0 == crate::ai::orchestrator::Stage::Analyst)
            .map_or(0.0, |w| w[1].1 - w[0].1);
        println!(
            "  model {name} (guardrails off): loaded in {load_ms:.0} ms; first finding {:.2} ms, full result {:.1} ms; {} tokens in \
             {:.2} s ({:.0} tokens/s); answered by {}{}",
            result.first_finding_secs * 1e3,
            result.total_secs * 1e3,
            result.tokens,
            analyst_secs,
            result.tokens as f64 / analyst_secs.max(1e-9),
            result.analyst,
            match result.fallbacks.first() {
                Some(f) => format!(" (the model fell back: {})", f.reason),
                None => String::new(),
            }
        );
    }
    let exe = std::env::current_exe()?;
    let library = tempfile::tempdir()?;
    let output = Command::new(exe)
        .args(["--sample", "--bench-analyses", &concurrent.to_string()])
        .env("AIO_NO_PERSIST", "1")
        .env("AIO_LIBRARY", library.path().join("bench.sqlite"))
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().find(|l| l.starts_with("analyses=")) {
        Some(line) => {
            let field = |key: &str| {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or("?")
                    .to_string()
            };
            println!(
                "  workstation, {concurrent} analyses at once ({} ms to finish all): GUI update per frame worst {} ms \
                 (median {}), idle worst {} ms; frame interval worst {} ms (median {}), idle median {} ms \
                 (paint included; lavapipe paints in software); goal: no frame over 50 ms",
                field("analyses_ms"),
                field("busy_worst_ms"),
                field("busy_median_ms"),
                field("idle_worst_ms"),
                field("busy_interval_worst_ms"),
                field("busy_interval_median_ms"),
                field("idle_interval_median_ms"),
            );
        }
        None => println!(
            "  workstation frame times: skipped, the window did not open (run under xvfb-run without a display): {}",
            String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The TA-Lib side of `aio bench indicators`, kept beside the tests.
const TALIB_BENCH_SCRIPT: &str = include_str!("../../tests/bench/talib_indicators.py");

/// The eight indicators the benchmark times, in `--set` syntax.
const BENCH_SPECS: &str = "sma:20,ema:20,rsi:14,macd:12:26:9,bb:20:2,stoch:14:3:3,atr:14,adx:14";

#[derive(serde::Deserialize)]
struct TalibRun {
    talib: String,
    seconds: std::collections::BTreeMap<String, f64>,
    /// Sampled values as the bit patterns of the doubles.
    samples: std::collections::BTreeMap<String, Vec<u64>>,
    sample_at: Vec<usize>,
}

fn bench_indicators(n: usize, repeat: usize, python: &str) -> anyhow::Result<ExitCode> {
    let (ts, open, high, low, close) = random_walk_bars(n, 42);
    let dir = tempfile::tempdir()?;
    let data_path = dir.path().join("bars.f64");
    write_f64_columns(&data_path, &[&open, &high, &low, &close])?;
    let script = dir.path().join("talib_indicators.py");
    std::fs::write(&script, TALIB_BENCH_SCRIPT)?;
    let volume = vec![1.0; n];
    let bars = crate::domain::Bars::new_checked(ts, open, high, low, close, volume)?;
    let specs = crate::indicators::parse_spec_list(BENCH_SPECS)?;

    eprintln!("running TA-Lib on {n} bars with {python} ...");
    let output = Command::new(python)
        .arg(&script)
        .arg(&data_path)
        .arg(n.to_string())
        .arg(repeat.to_string())
        .output()
        .with_context(|| format!("running {python} (install the reference with `pip install ta-lib numpy`)"))?;
    anyhow::ensure!(
        output.status.success(),
        "the TA-Lib reference failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let talib: TalibRun = serde_json::from_slice(&output.stdout).context("reading the TA-Lib reference output")?;

    println!("{n} bars, best of {repeat}; TA-Lib {} through numpy, one call per output family", talib.talib);
    println!("{:<14} {:>12} {:>12} {:>8}", "indicator", "aio ms", "TA-Lib ms", "ratio");
    let mut ours_total = 0.0;
    let mut columns = Vec::new();
    for spec in &specs {
        let mut result = Vec::new();
        let t = best_of(repeat, || {
            // Free the previous run's columns first, as numpy does between the reference's calls.
            drop(std::mem::take(&mut result));
            result = spec.compute(&bars)?;
            Ok(())
        })?
        .as_secs_f64();
        let reference = talib.seconds.get(&spec.to_string()).copied().unwrap_or(f64::NAN);
        ours_total += t;
        println!("{:<14} {:>12.1} {:>12.1} {:>7.2}x", spec.to_string(), t * 1e3, reference * 1e3, reference / t);
        columns.extend(result);
    }
    let talib_total: f64 = talib.seconds.values().sum();
    let parallel = best_of(repeat, || {
        crate::indicators::compute_columns(&bars, &specs)?;
        Ok(())
    })?
    .as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{:<14} {:>12.1} {:>12.1} {:>7.2}x",
        "all, 1 thread",
        ours_total * 1e3,
        talib_total * 1e3,
        talib_total / ours_total
    );
    println!(
        "{:<14} {:>12.1} {:>12.1} {:>7.2}x  (goal >= 1.5x)",
        format!("all, {threads} thr"),
        parallel * 1e3,
        talib_total * 1e3,
        talib_total / parallel
    );

    // Equality at the sampled bars, bit for bit (any NaN equals any NaN).
    let mut checked = 0usize;
    for column in &columns {
        let Some(reference) = talib.samples.get(&column.name) else {
            anyhow::bail!("the TA-Lib reference has no column {}", column.name);
        };
        for (&i, &bits) in talib.sample_at.iter().zip(reference) {
            let (ours, theirs) = (column.values[i], f64::from_bits(bits));
            anyhow::ensure!(
                ours.to_bits() == bits || (ours.is_nan() && theirs.is_nan()),
                "{} bar {i}: ours {ours:e}, TA-Lib {theirs:e}",
                column.name
            );
            checked += 1;
        }
    }
    println!("values: {checked} sampled values bit for bit equal to TA-Lib's");
    Ok(ExitCode::SUCCESS)
}

const BACKTESTING_PY_SCRIPT: &str = include_str!("../../tests/bench/backtesting_py_sma.py");

#[derive(serde::Deserialize)]
struct BacktestingPyRun {
    seconds: f64,
    entry_bar: Vec<usize>,
    exit_bar: Vec<usize>,
    entry_price_bits: Vec<u64>,
    exit_price_bits: Vec<u64>,
    final_equity: f64,
}

fn bench_backtest(n: usize, combinations: usize, repeat: usize, python: &str) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;

    use crate::{
        backtest::{
            Bookkeeping, MarketSpec, SeriesCache, run_range_with,
            sweep::{ParamAxis, RankBy, SweepOptions, run_sweep},
        },
        strategy::StrategySpec,
    };
    const FAST: usize = 20;
    const SLOW: usize = 50;
    const UNITS: usize = 10_000;
    let (ts, open, high, low, close) = random_walk_bars(n, 7);
    let dir = tempfile::tempdir()?;
    let data_path = dir.path().join("bars.f64");
    write_f64_columns(&data_path, &[&open, &high, &low, &close])?;
    let script = dir.path().join("backtesting_py_sma.py");
    std::fs::write(&script, BACKTESTING_PY_SCRIPT)?;
    let volume = vec![1.0; n];
    let bars = Arc::new(crate::domain::Bars::new_checked(ts, open, high, low, close, volume)?);
    let spec = StrategySpec::from_json(&format!(
        r#"{{"version": 1, "name": "SMA cross", "indicators": [{{"id": "fast", "kind": "sma", "length": {FAST}}},
            {{"id": "slow", "kind": "sma", "length": {SLOW}}}], "long_entry": {{"crosses_above": ["fast", "slow"]}},
            "long_exit": {{"crosses_below": ["fast", "slow"]}}, "position": {{"units": {UNITS}}},
            "initial_capital": 1000000000}}"#
    ))?;

    eprintln!("running backtesting.py on {n} bars with {python} ...");
    let output = Command::new(python)
        .arg(&script)
        .args([data_path.display().to_string(), n.to_string(), FAST.to_string(), SLOW.to_string()])
        .args([UNITS.to_string(), repeat.to_string()])
        .output()
        .with_context(|| {
            format!("running {python} (install the reference with `pip install backtesting==0.6.6 ta-lib`)")
        })?;
    anyhow::ensure!(
        output.status.success(),
        "the backtesting.py reference failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let reference: BacktestingPyRun =
        serde_json::from_slice(&output.stdout).context("reading the backtesting.py reference output")?;

    // Indicators included: every repetition starts from an empty cache, as the reference computes its SMAs too
    // (outside its timed run, so this favours the reference). The market data of the statistics (the closes'
    // log returns) is computed anew as well.
    let mut report = None;
    let load_before = load_average();
    let ours = best_of(repeat, || {
        let cache = SeriesCache::new(bars.clone());
        report = Some(run_range_with(&spec, &cache, MarketSpec::default(), 0..n, Bookkeeping::BacktestingPy)?);
        Ok(())
    })?
    .as_secs_f64();
    // The same run on a cache that already holds the SMAs and the market data, as most runs of a sweep find it.
    let warm_cache = SeriesCache::new(bars.clone());
    run_range_with(&spec, &warm_cache, MarketSpec::default(), 0..n, Bookkeeping::BacktestingPy)?;
    let warm = best_of(repeat, || {
        run_range_with(&spec, &warm_cache, MarketSpec::default(), 0..n, Bookkeeping::BacktestingPy)?;
        Ok(())
    })?
    .as_secs_f64();
    let report = report.context("no run")?;
    let parts = backtest_parts(&spec, &bars, &report, repeat)?;
    let trades = &report.trades;
    anyhow::ensure!(
        trades.len() == reference.entry_bar.len(),
        "{} trades, backtesting.py {}",
        trades.len(),
        reference.entry_bar.len()
    );
    for (k, t) in trades.iter().enumerate() {
        anyhow::ensure!(
            t.entry_bar == reference.entry_bar[k]
                && t.exit_bar == reference.exit_bar[k]
                && t.entry_price.to_bits() == reference.entry_price_bits[k]
                && t.exit_price.to_bits() == reference.exit_price_bits[k],
            "trade {k} differs: ours {t:?}, backtesting.py entry bar {} at {:e}, exit bar {} at {:e}",
            reference.entry_bar[k],
            f64::from_bits(reference.entry_price_bits[k]),
            reference.exit_bar[k],
            f64::from_bits(reference.exit_price_bits[k])
        );
    }
    let equity_diff = (report.metrics.final_equity - reference.final_equity).abs();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "backtest benchmark: {n} M1 bars, SMA {FAST}/{SLOW} cross (long only, {UNITS} units), best of {repeat}; \
         {threads} cores, load average {load_before}"
    );
    println!("  aio, cold cache (SMAs, signals, engine, all statistics)  {:>10.2} ms", ours * 1e3);
    println!("  aio, warm cache (SMAs and market data cached)             {:>10.2} ms", warm * 1e3);
    println!("  backtesting.py 0.6.6 Backtest.run (SMAs precomputed)     {:>10.2} ms", reference.seconds * 1e3);
    println!(
        "  parts, each alone: SMAs {:.2} ms, market data for the statistics {:.2} ms (a second thread in the cold \
         run), signals {:.2} ms; engine with the statistics folded in about {:.2} ms (the statistics alone over the \
         stored curve: {:.2} ms)",
        parts.indicators * 1e3,
        parts.market * 1e3,
        parts.signals * 1e3,
        (warm - parts.signals).max(0.0) * 1e3,
        parts.statistics * 1e3,
    );
    println!(
        "  aio {:.2} ms vs backtesting.py {:.2} s = {:.0}x faster (goal >= 1000x); trades identical: yes, {} trades \
         (entry and exit bar and price bit for bit), final equity differs by {equity_diff:.1e}",
        ours * 1e3,
        reference.seconds,
        reference.seconds / ours,
        trades.len()
    );

    let side = (combinations as f64).sqrt().ceil() as usize;
    let grid = vec![
        ParamAxis { path: "fast.length".into(), values: (0..side).map(|k| (2 + k) as f64).collect() },
        ParamAxis { path: "slow.length".into(), values: (0..side).map(|k| (2 + side + k) as f64).collect() },
    ];
    let cache = SeriesCache::new(bars.clone());
    let load_before = load_average();
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let result = run_sweep(
        &spec,
        &grid,
        &cache,
        MarketSpec::default(),
        &SweepOptions { rank_by: RankBy::new("sharpe")?, threads: 0, range: 0..n, cancel: None, progress: None },
    )?;
    let sweep_secs = started.elapsed().as_secs_f64();
    let sweep_cpu_secs = process_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    anyhow::ensure!(result.skipped == 0, "{} combinations skipped: {:?}", result.skipped, result.first_skip_reason);
    println!(
        "sweep: {} combinations (fast 2..={} x slow {}..={}) over {n} bars on {threads} threads in {sweep_secs:.1} s \
         (goal <= 60 s for 10,000 x 1M on 2 cores); {:.2} ms per backtest per thread; load average {load_before} \
         before, {} after",
        result.combinations,
        1 + side,
        2 + side,
        1 + 2 * side,
        sweep_secs * 1e3 / result.combinations as f64 * threads as f64,
        load_average()
    );
    if let Some(cpu) = sweep_cpu_secs {
        println!(
            "  CPU time {cpu:.1} s ({:.0} % of {threads} cores over the wall time): on {threads} otherwise idle cores \
             about {:.1} s",
            cpu / sweep_secs / threads as f64 * 100.0,
            cpu / threads as f64
        );
    }
    if let Some(best) = result.rows.first() {
        let params: Vec<String> = best.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "  best by Sharpe: {} (Sharpe {:.3}, {} trades)",
            params.join(" "),
            best.metrics.sharpe,
            best.metrics.trades
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Seconds (best of `repeat`) of the parts of one backtest, each timed alone.
struct BacktestParts {
    /// The strategy's indicators on an empty cache.
    indicators: f64,
    /// The statistics' market data (closes' log returns, calendar) on an empty cache.
    market: f64,
    /// Compiling the spec into signals, indicators cached.
    signals: f64,
    /// The statistics of the run, market data cached.
    statistics: f64,
}

fn backtest_parts(
    spec: &crate::strategy::StrategySpec,
    bars: &std::sync::Arc<crate::domain::Bars>,
    report: &crate::backtest::BacktestReport,
    repeat: usize,
) -> anyhow::Result<BacktestParts> {
    use crate::backtest::{
        MarketSpec, SeriesCache,
        engine::trade_stats,
        metrics::{self, MetricsInput},
        signals::Signals,
    };
    let n = bars.len();
    let kinds: Vec<_> = spec.indicators.iter().map(|i| i.kind.clone()).collect();
    let indicators = best_of(repeat, || {
        SeriesCache::new(bars.clone()).prefetch(&kinds)?;
        Ok(())
    })?;
    let market = best_of(repeat, || {
        SeriesCache::new(bars.clone()).market_stats(0..n);
        Ok(())
    })?;
    let cache = SeriesCache::new(bars.clone());
    let signals = best_of(repeat, || {
        Signals::compile(spec, &cache, MarketSpec::default().pip_size, 0..n)?;
        Ok(())
    })?;
    let stats: Vec<_> = report.trades.iter().map(|t| trade_stats(t, 0)).collect();
    let market_stats = cache.market_stats(0..n);
    let statistics = best_of(repeat, || {
        let input = MetricsInput {
            ts_nanos: bars.ts_nanos(),
            close: bars.close(),
            equity: &report.equity,
            trades: &stats,
            open_trade_entry_bar: report.open_trade.as_ref().map(|t| t.entry_bar),
            initial_capital: spec.initial_capital,
        };
        std::hint::black_box(metrics::compute_with(&input, &market_stats));
        Ok(())
    })?;
    Ok(BacktestParts {
        indicators: indicators.as_secs_f64(),
        market: market.as_secs_f64(),
        signals: signals.as_secs_f64(),
        statistics: statistics.as_secs_f64(),
    })
}

/// CPU time (user and system) of this process so far, from `/proc/self/stat` (Linux; `None` elsewhere).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (in parentheses, which may hold spaces): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |k: usize| fields.get(k - 3)?.parse::<f64>().ok();
    // USER_HZ, 100 on Linux.
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), or "unknown": the machine may be shared.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// Writes columns one after the other as little-endian f64, the layout the Python reference scripts read.
fn write_f64_columns(path: &std::path::Path, columns: &[&[f64]]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    for column in columns {
        for x in column.iter() {
            w.write_all(&x.to_le_bytes())?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Times, opens, highs, lows and closes.
type BenchBars = (Vec<i64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// A deterministic random walk of valid bars around 1.1 (minute times), for benchmarks.
fn random_walk_bars(n: usize, seed: u64) -> BenchBars {
    let mut state = seed;
    let mut next = move || {
        // SplitMix64: fast and good enough for benchmark data.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let (mut ts, mut open, mut high, mut low, mut close) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut price = 1.1f64;
    for i in 0..n {
        let o = price;
        let c = (o + next() * 0.002).max(0.01);
        let h = o.max(c) + (next() + 0.5) * 0.0008;
        let l = (o.min(c) - (next() + 0.5) * 0.0008).max(0.005);
        ts.push(1_000_000_000_000_000_000 + i as i64 * 60_000_000_000);
        open.push(o);
        high.push(h);
        low.push(l);
        close.push(c);
        price = c;
    }
    (ts, open, high, low, close)
}

fn bench_dukascopy(hours: u32, ticks_per_hour: u32, repeat: usize, xz: &str) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;

    use crate::{
        domain::Timeframe,
        ingest::dukascopy::{self, DataKind, Datafeed, FetchOptions, FetchRequest, PriceSide, Source, bi5},
    };

    let dir = tempfile::tempdir()?;
    let source: Arc<dyn Source> = Arc::new(Datafeed::default());
    // Monday 2024-01-15 00:00 UTC onwards, every hour (the benchmark ignores weekends).
    let from_nanos = dukascopy::parse_hour("2024-01-15T00")?;
    let mut files = Vec::with_capacity(hours as usize);
    let mut compressed_bytes = 0u64;
    for h in 0..hours {
        let hour = from_nanos + i64::from(h) * dukascopy::HOUR_NANOS;
        let ticks = ingest::synthetic::random_walk_hour_ticks(u64::from(h) + 1, ticks_per_hour, 108_500);
        let bytes = bi5::compress(&bi5::tick_records(&ticks))?;
        compressed_bytes += bytes.len() as u64;
        let path =
            dir.path().join(source.cache_path("EURUSD", dukascopy::Resource::HourTicks { hour_start_nanos: hour }));
        dukascopy::fetch::write_cache_file(&path, &bytes)?;
        files.push(path);
    }
    let total_ticks = u64::from(hours) * u64::from(ticks_per_hour);
    let request = |hours: u32| FetchRequest {
        symbol: "EURUSD".into(),
        from_nanos,
        to_nanos: from_nanos + i64::from(hours) * dukascopy::HOUR_NANOS,
        kind: DataKind::Ticks,
        side: PriceSide::Bid,
    };
    let options = |jobs: usize| FetchOptions {
        jobs,
        offline: true,
        now_nanos: Some(i64::MAX),
        ..FetchOptions::with_cache_dir(dir.path().to_path_buf())
    };
    let run = |jobs: usize, hours: u32| -> anyhow::Result<()> {
        let fetched =
            dukascopy::fetch_bars(Arc::clone(&source), &request(hours), Timeframe::M1, 0, &options(jobs), &NoProgress)?;
        anyhow::ensure!(
            fetched.report.records == u64::from(hours) * u64::from(ticks_per_hour),
            "decoded {} ticks",
            fetched.report.records
        );
        Ok(())
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let ours_one = best_of(repeat, || run(1, hours))?;
    let ours_all = best_of(repeat, || run(cores, hours))?;
    let week_hours = 120.min(hours);
    let week = best_of(repeat, || run(cores, week_hours))?;
    // Reference: xz decompressing the same files (one process, all files, output discarded).
    let reference = best_of(repeat, || {
        let status = Command::new(xz)
            .args(["--format=lzma", "--decompress", "--stdout", "--threads=1"])
            .args(&files)
            .stdout(std::process::Stdio::null())
            .status()
            .with_context(|| format!("cannot run {xz} (install xz-utils)"))?;
        anyhow::ensure!(status.success(), "{xz} failed: {status}");
        Ok(())
    })?;
    let rate = |d: Duration| total_ticks as f64 / d.as_secs_f64() / 1e6;
    println!(
        "dukascopy benchmark: {hours} hourly tick files × {ticks_per_hour} ticks = {total_ticks} ticks, {:.1} MB \
         compressed, best of {repeat}",
        compressed_bytes as f64 / 1e6
    );
    println!(
        "  aio decode + aggregate to M1, 1 thread     {:>8.1} ms  {:>6.2} M ticks/s",
        ours_one.as_secs_f64() * 1e3,
        rate(ours_one)
    );
    println!(
        "  aio decode + aggregate to M1, {cores} threads    {:>8.1} ms  {:>6.2} M ticks/s",
        ours_all.as_secs_f64() * 1e3,
        rate(ours_all)
    );
    println!(
        "  reference: xz -d (decompression only)      {:>8.1} ms  {:>6.2} M ticks/s",
        reference.as_secs_f64() * 1e3,
        rate(reference)
    );
    println!(
        "  speed vs xz -d: {:.0} % on 1 thread, {:.0} % on {cores}   goal: ≥ 90 %",
        100.0 * reference.as_secs_f64() / ours_one.as_secs_f64(),
        100.0 * reference.as_secs_f64() / ours_all.as_secs_f64()
    );
    println!(
        "  one trading week ({week_hours} files, {} ticks) from cache to M1: {:.1} ms   goal: well under 1 s",
        u64::from(week_hours) * u64::from(ticks_per_hour),
        week.as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
}
