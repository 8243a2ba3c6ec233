//! `aio render --input FILE --out chart.png [--width 1280] [--height 720] [--from T] [--to T] [--last N]
//! [--indicators SPEC] [--theme dark|light]`: the chart drawn offscreen (wgpu on any adapter, lavapipe without a
//! GPU) and written as PNG, the same picture the workstation exports and the vision model reads.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;

use crate::{
    domain::Timeframe,
    indicators::parse_spec_list,
    ingest::{self, LoadOptions, NoProgress, dukascopy::parse_bound},
    render::{Annotations, ChartData, ChartTheme, ChartView, OffscreenRenderer, PriceScale},
};

/// Arguments of `aio render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Bar file (CSV or Parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// First bar shown: a date (`2018-03-01`) or date and hour (`2018-03-01T13`), UTC.
    #[arg(long)]
    pub from: Option<String>,
    /// Last bar shown (a plain date includes that whole day).
    #[arg(long)]
    pub to: Option<String>,
    /// Show the last N bars (of the --from/--to range if given); default 150 without --from.
    #[arg(long)]
    pub last: Option<usize>,
    /// Indicators, e.g. `sma:20,bb:20:2,rsi:14,macd:12:26:9` (overlays on the price, oscillators in panes).
    #[arg(long, default_value = "")]
    pub indicators: String,
    /// Colour theme: dark or light.
    #[arg(long, default_value = "dark")]
    pub theme: String,
    /// Price scale: linear, log or percent.
    #[arg(long, default_value = "linear")]
    pub scale: String,
    /// Resample to this timeframe first (e.g. H4, D1).
    #[arg(long)]
    pub timeframe: Option<Timeframe>,
    /// Drop invalid input rows instead of refusing the file.
    #[arg(long)]
    pub force: bool,
}

/// Runs `aio render`.
pub fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (16..=16_384).contains(&args.width) && (16..=16_384).contains(&args.height),
        "--width and --height must be between 16 and 16384 pixels"
    );
    let theme = ChartTheme::by_name(&args.theme)
        .with_context(|| format!("unknown --theme {:?} (dark or light)", args.theme))?;
    let scale = match args.scale.as_str() {
        "linear" => PriceScale::Linear,
        "log" => PriceScale::Log,
        "percent" => PriceScale::Percent,
        other => anyhow::bail!("unknown --scale {other:?} (linear, log or percent)"),
    };
    let specs = if args.indicators.trim().is_empty() {
        Vec::new()
    } else {
        parse_spec_list(&args.indicators).context("invalid --indicators")?
    };
    let loaded = ingest::load_path(&args.input, &LoadOptions { force: args.force, ..Default::default() }, &NoProgress)?;
    let mut bars = loaded.bars.clone();
    let mut timeframe = loaded.timeframe;
    if let Some(target) = args.timeframe {
        bars = ingest::resample(&bars, loaded.timeframe, target, 0)
            .with_context(|| format!("resampling {} to {target}", args.input.display()))?;
        timeframe = Some(target);
    }
    anyhow::ensure!(!bars.is_empty(), "{}: no bars", args.input.display());
    let n = bars.len();
    let start = match &args.from {
        Some(t) => bars.index_at_or_after(parse_bound(t, false).context("invalid --from")?),
        None => 0,
    };
    let end = match &args.to {
        Some(t) => bars.index_at_or_after(parse_bound(t, true).context("invalid --to")?),
        None => n,
    };
    anyhow::ensure!(end > start, "no bars between --from and --to in {}", args.input.display());
    let start = match (args.last, &args.from) {
        (Some(last), _) => end.saturating_sub(last.max(1)).max(start),
        (None, None) => end.saturating_sub(150).max(start),
        (None, Some(_)) => start,
    };
    let mut indicators = Vec::new();
    for spec in &specs {
        indicators.push((spec.clone(), spec.compute(&bars).with_context(|| format!("computing {spec}"))?));
    }
    let title = format!(
        "{} · {}",
        loaded.symbol.as_deref().unwrap_or("?"),
        timeframe.map(|t| t.to_string()).unwrap_or_default()
    );
    let data = ChartData::new(Arc::new(bars), indicators, title, loaded.price_digits(), &theme);
    // The bars fill the width, with half a bar on each side and a small margin on the right.
    let span = (end - start) as f64;
    let view = ChartView {
        x_min: start as f64 - 0.5,
        x_max: end as f64 - 0.5 + (span * 0.02).max(1.0),
        scale,
        ..ChartView::latest(n)
    };
    let mut renderer = OffscreenRenderer::new()?;
    let image = renderer.render_chart(&data, &view, [args.width, args.height], &theme, &Annotations::default())?;
    image.write_png(&args.out)?;
    eprintln!(
        "{}: {}x{}, bars {}..{} of {} on {}",
        args.out.display(),
        args.width,
        args.height,
        start,
        end,
        n,
        renderer.adapter_name()
    );
    Ok(ExitCode::SUCCESS)
}
