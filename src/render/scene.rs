//! What a chart frame shows, computed on the CPU: the dataset as uploaded once ([`ChartData`]), the pane layout,
//! auto-fitted price ranges, grid and axis labels, annotations, and the list of GPU draws ([`FramePlan`]).
//! Costs O(pixels), not O(bars): ranges and labels are read from the level of detail on screen.

use std::{ops::Range, sync::Arc};

use bytemuck::{Pod, Zeroable};

use super::{
    camera::{self, ChartView, PriceScale, PxRect, Viewport},
    drawings::Drawing,
    gpu::DrawUniform,
    lod::LodPyramid,
};
use crate::{
    domain::Bars,
    indicators::{Column, IndicatorSpec},
};

/// An RGBA colour, sRGB components in 0..=1, straight alpha.
pub type Rgba = [f32; 4];

const fn rgb(r: u8, g: u8, b: u8) -> Rgba {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0, 1.0]
}

const fn rgba(r: u8, g: u8, b: u8, a: u8) -> Rgba {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0, a as f32 / 255.0]
}

/// Every colour of the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartTheme {
    /// Canvas background.
    pub background: Rgba,
    /// Grid lines.
    pub grid: Rgba,
    /// Pane separators and axis borders.
    pub border: Rgba,
    /// Axis and legend text.
    pub text: Rgba,
    /// Up candles.
    pub up: Rgba,
    /// Down candles.
    pub down: Rgba,
    /// Volume of up buckets.
    pub volume_up: Rgba,
    /// Volume of down buckets.
    pub volume_down: Rgba,
    /// Indicator lines by position within an indicator.
    pub lines: [Rgba; 3],
    /// Bollinger Bands.
    pub bands: Rgba,
    /// Overbought/oversold guides.
    pub guide: Rgba,
    /// Bullish markers and winning trades.
    pub bullish: Rgba,
    /// Bearish markers and losing trades.
    pub bearish: Rgba,
    /// Chart-pattern outlines.
    pub pattern: Rgba,
    /// Drawing tools.
    pub drawing: Rgba,
    /// The selected drawing.
    pub selected: Rgba,
    /// Crosshair lines.
    pub crosshair: Rgba,
    /// Background of axis value labels (crosshair, last price).
    pub label_background: Rgba,
}

impl ChartTheme {
    /// TradingView's dark theme colours.
    pub const DARK: Self = Self {
        background: rgb(19, 23, 34),
        grid: rgba(42, 46, 57, 255),
        border: rgb(54, 58, 69),
        text: rgb(178, 181, 190),
        up: rgb(38, 166, 154),
        down: rgb(239, 83, 80),
        volume_up: rgba(38, 166, 154, 90),
        volume_down: rgba(239, 83, 80, 90),
        lines: [rgb(41, 98, 255), rgb(255, 109, 0), rgb(156, 39, 176)],
        bands: rgb(33, 150, 243),
        guide: rgba(120, 123, 134, 200),
        bullish: rgb(0, 200, 83),
        bearish: rgb(213, 0, 0),
        pattern: rgb(255, 193, 7),
        drawing: rgb(41, 98, 255),
        selected: rgb(255, 152, 0),
        crosshair: rgba(150, 152, 161, 220),
        label_background: rgb(54, 58, 69),
    };

    /// TradingView's light theme colours.
    pub const LIGHT: Self = Self {
        background: rgb(255, 255, 255),
        grid: rgb(240, 243, 250),
        border: rgb(224, 227, 235),
        text: rgb(19, 23, 34),
        up: rgb(8, 153, 129),
        down: rgb(242, 54, 69),
        volume_up: rgba(8, 153, 129, 80),
        volume_down: rgba(242, 54, 69, 80),
        lines: [rgb(41, 98, 255), rgb(255, 109, 0), rgb(156, 39, 176)],
        bands: rgb(33, 150, 243),
        guide: rgba(120, 123, 134, 200),
        bullish: rgb(0, 150, 60),
        bearish: rgb(200, 0, 0),
        pattern: rgb(230, 150, 0),
        drawing: rgb(41, 98, 255),
        selected: rgb(255, 109, 0),
        crosshair: rgba(120, 123, 134, 220),
        label_background: rgb(19, 23, 34),
    };

    /// The theme called `name` (`dark` or `light`).
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "dark" => Some(Self::DARK),
            "light" => Some(Self::LIGHT),
            _ => None,
        }
    }

    /// Text colour on [`ChartTheme::label_background`].
    pub fn label_text(&self) -> Rgba {
        rgb(255, 255, 255)
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    /// A polyline.
    Line,
    /// Bars from zero (MACD histogram).
    Histogram,
}

/// One indicator column as uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Column name (legend).
    pub name: String,
    /// One value per bar (the indicator's own column, converted to `f32` only for the chunks uploaded); NaN
    /// for warm-up.
    pub values: Vec<f64>,
    /// Line or histogram.
    pub style: SeriesStyle,
    /// Colour.
    pub color: Rgba,
}

/// A pane: the price pane (index 0) or an indicator pane under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pane {
    /// Title (`rsi:14`); empty for the price pane.
    pub title: String,
    /// Indices into [`ChartData::series`].
    pub series: Vec<usize>,
    /// A fixed value range (0–100 oscillators), else fitted to the visible values.
    pub fixed_range: Option<(f64, f64)>,
    /// Dashed guide levels (30/70).
    pub guides: Vec<f64>,
}

/// True for indicators drawn over the prices (moving averages, bands); others get their own pane.
pub fn is_overlay(spec: &IndicatorSpec) -> bool {
    matches!(
        spec,
        IndicatorSpec::Sma { .. } | IndicatorSpec::Ema { .. } | IndicatorSpec::Wma { .. } | IndicatorSpec::Bb { .. }
    )
}

/// A dataset and its indicator columns as the chart draws them; chunks of it go to the GPU as frames need them.
#[derive(Debug, Clone)]
pub struct ChartData {
    /// The bars.
    pub bars: Arc<Bars>,
    /// Their levels of detail.
    pub pyramid: LodPyramid,
    /// Indicator columns.
    pub series: Vec<Series>,
    /// The price pane, then one pane per oscillator.
    pub panes: Vec<Pane>,
    /// Symbol and timeframe for the legend (`EURUSD · 1h`).
    pub title: String,
    /// Decimals of prices.
    pub price_digits: usize,
    /// Identifies this upload (changes when bars or indicators change).
    pub key: u64,
}

impl ChartData {
    /// Builds the chart data of `bars` with computed indicator columns (as from [`IndicatorSpec::compute`]),
    /// which it keeps: no copy of a column is made.
    pub fn new(
        bars: Arc<Bars>,
        indicators: Vec<(IndicatorSpec, Vec<Column>)>,
        title: String,
        price_digits: usize,
        theme: &ChartTheme,
    ) -> Self {
        let pyramid = LodPyramid::build(&bars);
        let mut series = Vec::new();
        let mut panes = vec![Pane { title: String::new(), series: Vec::new(), fixed_range: None, guides: Vec::new() }];
        let mut names = Vec::with_capacity(indicators.len());
        for (spec, columns) in indicators {
            let overlay = is_overlay(&spec);
            names.push(spec.to_string());
            let mut ids = Vec::new();
            for (k, column) in columns.into_iter().enumerate() {
                let style = if matches!(spec, IndicatorSpec::Macd { .. }) && k == 2 {
                    SeriesStyle::Histogram
                } else {
                    SeriesStyle::Line
                };
                let color = if matches!(spec, IndicatorSpec::Bb { .. }) {
                    theme.bands
                } else {
                    theme.lines[k % theme.lines.len()]
                };
                ids.push(series.len());
                series.push(Series { name: column.name, values: column.values, style, color });
            }
            if overlay {
                panes[0].series.extend(ids);
            } else {
                let (fixed_range, guides) = match spec {
                    IndicatorSpec::Rsi { .. } => (Some((0.0, 100.0)), vec![30.0, 70.0]),
                    IndicatorSpec::Stoch { .. } => (Some((0.0, 100.0)), vec![20.0, 80.0]),
                    IndicatorSpec::Adx { .. } => (None, vec![25.0]),
                    IndicatorSpec::Macd { .. } => (None, vec![0.0]),
                    _ => (None, Vec::new()),
                };
                panes.push(Pane { title: names.last().cloned().unwrap_or_default(), series: ids, fixed_range, guides });
            }
        }
        let key = {
            let mut h = blake3::Hasher::new();
            h.update(&(bars.len() as u64).to_le_bytes());
            if let Some((a, b)) = bars.time_range_nanos() {
                h.update(&a.to_le_bytes());
                h.update(&b.to_le_bytes());
            }
            if let Some(last) = bars.close().last() {
                h.update(&last.to_le_bytes());
            }
            for name in &names {
                h.update(name.as_bytes());
            }
            let bytes = h.finalize();
            u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or_default())
        };
        Self { bars, pyramid, series, panes, title, price_digits, key }
    }
}

/// A backtest trade on the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeMark {
    /// Bar of the entry fill.
    pub entry_bar: usize,
    /// Bar of the exit fill.
    pub exit_bar: usize,
    /// Entry price.
    pub entry_price: f64,
    /// Exit price.
    pub exit_price: f64,
    /// Long (else short).
    pub long: bool,
    /// Closed with a profit.
    pub profit: bool,
}

/// A chart pattern outline: pivots joined by a line, with a label at the first.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternOutline {
    /// Pivots as (bar index, price).
    pub pivots: Vec<(usize, f64)>,
    /// Label.
    pub label: String,
}

/// What is drawn over the data and changes without a re-upload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    /// Candlestick-pattern markers: bar index and bullish (else bearish), sorted by bar.
    pub markers: Vec<(usize, bool)>,
    /// Backtest trades.
    pub trades: Vec<TradeMark>,
    /// Chart patterns.
    pub patterns: Vec<PatternOutline>,
    /// Drawing tools.
    pub drawings: Vec<Drawing>,
    /// Index of the selected drawing.
    pub selected: Option<usize>,
    /// Crosshair position in canvas pixels.
    pub crosshair: Option<[f32; 2]>,
}

/// One overlay instance (`Instance` in `overlay.wgsl`), in canvas pixels.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct OverlayInstance {
    /// First point (rect min corner, segment start, marker centre).
    pub p0: [f32; 2],
    /// Second point (rect max corner, segment end).
    pub p1: [f32; 2],
    /// Colour.
    pub color: Rgba,
    /// Line width or marker size in pixels.
    pub width: f32,
    /// [`OverlayKind`] as u32.
    pub kind: u32,
}

/// Overlay instance kinds (the constants of `overlay.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum OverlayKind {
    /// Filled rectangle.
    Rect = 0,
    /// Solid segment.
    Segment = 1,
    /// Dashed segment.
    Dashed = 2,
    /// Upward triangle marker.
    TriangleUp = 3,
    /// Downward triangle marker.
    TriangleDown = 4,
    /// Diamond marker.
    Diamond = 5,
}

impl OverlayInstance {
    /// A filled rectangle.
    pub fn rect(x0: f32, y0: f32, x1: f32, y1: f32, color: Rgba) -> Self {
        Self { p0: [x0.min(x1), y0.min(y1)], p1: [x0.max(x1), y0.max(y1)], color, width: 0.0, kind: 0 }
    }

    /// A segment `width` pixels wide.
    pub fn segment(p0: [f32; 2], p1: [f32; 2], width: f32, color: Rgba, dashed: bool) -> Self {
        let kind = if dashed { OverlayKind::Dashed } else { OverlayKind::Segment };
        Self { p0, p1, color, width, kind: kind as u32 }
    }

    /// A marker of `size` pixels centred at `p`.
    pub fn marker(p: [f32; 2], size: f32, color: Rgba, kind: OverlayKind) -> Self {
        Self { p0: p, p1: p, color, width: size, kind: kind as u32 }
    }
}

/// One GPU draw of a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Candles of one level of detail.
    Candles {
        /// Transform and colours.
        uniform: DrawUniform,
        /// Level of detail.
        level: usize,
        /// Buckets drawn.
        buckets: Range<u32>,
        /// Clip rectangle.
        clip: PxRect,
    },
    /// Volume histogram of one level of detail.
    Volume {
        /// Transform and colours.
        uniform: DrawUniform,
        /// Level of detail.
        level: usize,
        /// Buckets drawn.
        buckets: Range<u32>,
        /// Clip rectangle.
        clip: PxRect,
    },
    /// An indicator line.
    Line {
        /// Transform and colour.
        uniform: DrawUniform,
        /// Level of detail of its samples (one sample per bucket, at least two pixels apart).
        level: usize,
        /// Index into [`ChartData::series`].
        series: usize,
        /// Samples (buckets) joined.
        samples: Range<u32>,
        /// Clip rectangle.
        clip: PxRect,
    },
    /// An indicator histogram.
    Histogram {
        /// Transform and colours.
        uniform: DrawUniform,
        /// Index into [`ChartData::series`].
        series: usize,
        /// Samples (buckets) drawn.
        samples: Range<u32>,
        /// Clip rectangle.
        clip: PxRect,
    },
    /// A range of the frame's overlay instances.
    Overlay {
        /// Instances drawn.
        instances: Range<u32>,
        /// Clip rectangle.
        clip: PxRect,
    },
}

impl Command {
    /// The clip rectangle in whole pixels `[x, y, w, h]`, inside the canvas.
    pub fn clip_px(&self, canvas: [f32; 2]) -> [u32; 4] {
        let clip = match self {
            Self::Candles { clip, .. }
            | Self::Volume { clip, .. }
            | Self::Line { clip, .. }
            | Self::Histogram { clip, .. }
            | Self::Overlay { clip, .. } => *clip,
        };
        let x0 = clip.x.clamp(0.0, canvas[0]).floor();
        let y0 = clip.y.clamp(0.0, canvas[1]).floor();
        let x1 = clip.right().clamp(0.0, canvas[0]).ceil();
        let y1 = clip.bottom().clamp(0.0, canvas[1]).ceil();
        [x0 as u32, y0 as u32, (x1 - x0).max(0.0) as u32, (y1 - y0).max(0.0) as u32]
    }
}

/// Horizontal anchoring of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text starts at the position.
    Left,
    /// Text is centred on the position.
    Center,
    /// Text ends at the position.
    Right,
}

/// A text label in canvas pixels (vertically centred on `pos`).
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Text.
    pub text: String,
    /// Anchor point.
    pub pos: [f32; 2],
    /// Horizontal anchoring.
    pub align: Align,
    /// Text colour.
    pub color: Rgba,
    /// A filled box behind the text.
    pub background: Option<Rgba>,
    /// Bold (coarser time units, legends).
    pub strong: bool,
}

/// Sizes of the chart's furniture, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayoutStyle {
    /// Width of the price axis on the right.
    pub price_axis_px: f32,
    /// Height of the time axis at the bottom.
    pub time_axis_px: f32,
    /// Height of each indicator pane as a fraction of the canvas.
    pub pane_fraction: f32,
    /// Text height (for label spacing).
    pub text_px: f32,
    /// Candle body width as a fraction of the bar spacing.
    pub body_fraction: f32,
    /// Height of the volume histogram as a fraction of the price pane.
    pub volume_fraction: f32,
}

impl Default for LayoutStyle {
    fn default() -> Self {
        Self {
            price_axis_px: 72.0,
            time_axis_px: 24.0,
            pane_fraction: 0.17,
            text_px: 12.0,
            body_fraction: 0.7,
            volume_fraction: 0.2,
        }
    }
}

impl LayoutStyle {
    /// The style scaled for `pixels_per_point` (HiDPI screens).
    pub fn scaled(pixels_per_point: f32) -> Self {
        let d = Self::default();
        Self {
            price_axis_px: d.price_axis_px * pixels_per_point,
            time_axis_px: d.time_axis_px * pixels_per_point,
            text_px: d.text_px * pixels_per_point,
            ..d
        }
    }
}

/// A frame: GPU draws, overlay instances (in draw order) and text labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FramePlan {
    /// Canvas size in pixels.
    pub canvas: [f32; 2],
    /// Background colour.
    pub background: Rgba,
    /// Draws in order.
    pub commands: Vec<Command>,
    /// Overlay instances referenced by [`Command::Overlay`].
    pub overlays: Vec<OverlayInstance>,
    /// Text drawn over everything.
    pub labels: Vec<Label>,
    /// Each pane's viewport (price pane first), for hit testing.
    pub panes: Vec<Viewport>,
    /// The price axis area.
    pub price_axis: PxRect,
    /// The time axis area.
    pub time_axis: PxRect,
    /// Level of detail drawn.
    pub level: usize,
    /// Bars `[start, end)` on screen.
    pub visible: (usize, usize),
}

/// Empty space above and below the auto-fitted range, as a fraction of it.
const FIT_MARGIN: f64 = 0.08;

/// The axis range of values `[lo, hi]` with a margin, never empty.
fn fitted(scale: PriceScale, lo: f64, hi: f64) -> (f64, f64) {
    let (a, b) = (scale.value_of(lo), scale.value_of(hi));
    let span = (b - a).abs().max(a.abs() * 1e-6).max(1e-9);
    (a - span * FIT_MARGIN, b + span * FIT_MARGIN)
}

/// The min and max of `values` over the samples of `level` covering bars `[start, end)` (NaN skipped).
fn series_range(values: &[f64], bucket_bars: usize, start: usize, end: usize) -> Option<(f64, f64)> {
    let n = values.len();
    if n == 0 || end <= start {
        return None;
    }
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    let first = start / bucket_bars;
    let last = end.div_ceil(bucket_bars);
    for s in first..last {
        let bar = super::lod::sample_bar(s, bucket_bars, n);
        // As the GPU draws it.
        let v = values[bar] as f32;
        if v.is_finite() && v.abs() < 1e37 {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    (lo <= hi).then_some((lo as f64, hi as f64))
}

fn format_price(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

/// An indicator value with four significant digits (at least two decimals): `54.21`, `0.001234`.
fn format_value(value: f64) -> String {
    let decimals = if value == 0.0 { 2 } else { (3.0 - value.abs().log10().floor()).clamp(2.0, 10.0) as usize };
    format!("{value:.decimals$}")
}

/// Plans the frame of `data` seen through `view` on a canvas of `canvas` pixels.
pub fn plan_frame(
    data: &ChartData,
    view: &ChartView,
    canvas: [f32; 2],
    theme: &ChartTheme,
    annotations: &Annotations,
    style: &LayoutStyle,
) -> FramePlan {
    let n = data.bars.len();
    let [cw, ch] = canvas;
    let plot_w = (cw - style.price_axis_px).max(1.0);
    let panes_h = (ch - style.time_axis_px).max(1.0);
    let sub_count = data.panes.len().saturating_sub(1);
    let sub_h =
        if sub_count == 0 { 0.0 } else { (ch * style.pane_fraction).clamp(40.0, (panes_h * 0.6) / sub_count as f32) };
    let main_h = (panes_h - sub_h * sub_count as f32).max(1.0);
    let mut plan = FramePlan {
        canvas,
        background: theme.background,
        price_axis: PxRect::new(plot_w, 0.0, style.price_axis_px, panes_h),
        time_axis: PxRect::new(0.0, panes_h, plot_w, style.time_axis_px),
        ..Default::default()
    };
    let (start, end) = view.visible_bars(n);
    plan.visible = (start, end);
    let bars_per_px = view.span_bars() / plot_w as f64;
    let level = data.pyramid.level_for(bars_per_px, 1.0);
    plan.level = level;
    let bucket_bars = data.pyramid.bucket_bars(level);
    // Indicator lines keep at least two pixels per sample: below that a line segment per bucket costs a software
    // rasteriser more than it shows (a 10M-bar chart fully zoomed out: 8 lines × ~1,300 segments).
    let line_level = data.pyramid.level_for(bars_per_px, 2.0);
    let line_bucket_bars = data.pyramid.bucket_bars(line_level);
    let (b0, b1) = data.pyramid.buckets(level, start, end);
    let digits = data.price_digits;

    // Viewports.
    let main_rect = PxRect::new(0.0, 0.0, plot_w, main_h);
    let main_range = if view.auto_fit {
        let mut range = data.pyramid.price_range(level, start, end);
        for &s in &data.panes[0].series {
            if let Some((lo, hi)) = series_range(&data.series[s].values, bucket_bars, start, end) {
                range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            }
        }
        let (lo, hi) = range.unwrap_or((0.0, 1.0));
        fitted(view.scale, lo.max(if view.scale == PriceScale::Log { 1e-12 } else { f64::MIN }), hi)
    } else {
        (view.scale.value_of(view.price_min), view.scale.value_of(view.price_max))
    };
    let viewport = |rect: PxRect, (y_min, y_max): (f64, f64), scale: PriceScale| Viewport {
        rect,
        x_min: view.x_min,
        x_max: view.x_max,
        y_min,
        y_max,
        scale,
    };
    plan.panes.push(viewport(main_rect, main_range, view.scale));
    for (k, pane) in data.panes.iter().enumerate().skip(1) {
        let rect = PxRect::new(0.0, main_h + sub_h * (k - 1) as f32, plot_w, sub_h);
        let range = pane.fixed_range.unwrap_or_else(|| {
            let mut range: Option<(f64, f64)> = None;
            for &s in &pane.series {
                if let Some((lo, hi)) = series_range(&data.series[s].values, bucket_bars, start, end) {
                    range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                }
            }
            let (lo, hi) = range.unwrap_or((0.0, 1.0));
            let (lo, hi) = if data.series[pane.series[0]].style == SeriesStyle::Histogram || pane.guides.contains(&0.0)
            {
                (lo.min(0.0), hi.max(0.0))
            } else {
                (lo, hi)
            };
            fitted(PriceScale::Linear, lo, hi)
        });
        let range = if pane.fixed_range.is_some() { (range.0 - 4.0, range.1 + 4.0) } else { range };
        plan.panes.push(viewport(rect, range, PriceScale::Linear));
    }

    let uniform_for = |vp: &Viewport| {
        let x_origin = vp.x_min.floor();
        DrawUniform {
            canvas,
            rect_min: [vp.rect.x, vp.rect.y],
            rect_size: [vp.rect.w, vp.rect.h],
            x_frac: (vp.x_min - x_origin) as f32,
            px_per_bar: vp.px_per_bar() as f32,
            x_origin: x_origin.clamp(i32::MIN as f64, i32::MAX as f64) as i32,
            bucket_bars: bucket_bars as u32,
            bar_count: n as u32,
            log_scale: u32::from(vp.scale == PriceScale::Log),
            y_min: vp.y_min as f32,
            px_per_y: vp.px_per_value() as f32,
            width_px: 1.5,
            base: 0.0,
            color_up: theme.up,
            color_down: theme.down,
            body_fraction: if bucket_bars > 1 { 1.0 } else { style.body_fraction },
            chunk_first: 0,
            pad: [0.0; 2],
        }
    };

    // Grid (under the data).
    let mut grid = Vec::new();
    let time_ticks =
        camera::time_ticks(data.bars.ts_nanos(), start, end, (end - start) as f64 * plan.panes[0].px_per_bar(), 80.0);
    for tick in &time_ticks {
        let x = plan.panes[0].screen_x(tick.index as f64).round() as f32 + 0.5;
        grid.push(OverlayInstance::rect(x - 0.5, 0.0, x + 0.5, panes_h, theme.grid));
        let strong = tick.unit >= camera::TimeUnit::Day;
        plan.labels.push(Label {
            text: tick.text.clone(),
            pos: [x, panes_h + style.time_axis_px * 0.5],
            align: Align::Center,
            color: theme.text,
            background: None,
            strong,
        });
    }
    let main = plan.panes[0];
    let (lo_price, hi_price) = (view.scale.price_of(main.y_min), view.scale.price_of(main.y_max));
    let percent_base = data.bars.close().get(start.min(n.saturating_sub(1))).copied().unwrap_or(1.0);
    let (ticks, decimals) = match view.scale {
        PriceScale::Linear => camera::price_ticks(lo_price, hi_price, main.rect.h as f64, style.text_px as f64 * 4.0),
        PriceScale::Log => camera::log_price_ticks(lo_price, hi_price, main.rect.h as f64, style.text_px as f64 * 4.0),
        PriceScale::Percent => {
            camera::percent_ticks(lo_price, hi_price, percent_base, main.rect.h as f64, style.text_px as f64 * 4.0)
        }
    };
    for &t in &ticks {
        let y = main.screen_y(t).round() as f32 + 0.5;
        grid.push(OverlayInstance::rect(0.0, y - 0.5, plot_w, y + 0.5, theme.grid));
        let text = match view.scale {
            PriceScale::Percent => format!("{:.*}%", decimals, (t / percent_base - 1.0) * 100.0),
            _ => format_price(t, decimals),
        };
        plan.labels.push(Label {
            text,
            pos: [plot_w + 6.0, y],
            align: Align::Left,
            color: theme.text,
            background: None,
            strong: false,
        });
    }
    for vp in plan.panes.iter().skip(1) {
        let (ticks, decimals) = camera::price_ticks(
            vp.y_min,
            vp.y_max,
            vp.rect.h as f64,
            (style.text_px as f64 * 3.0).max(vp.rect.h as f64 / 3.0),
        );
        for &t in &ticks {
            let y = vp.screen_y(t).round() as f32 + 0.5;
            grid.push(OverlayInstance::rect(0.0, y - 0.5, plot_w, y + 0.5, theme.grid));
            plan.labels.push(Label {
                text: format_price(t, decimals),
                pos: [plot_w + 6.0, y],
                align: Align::Left,
                color: theme.text,
                background: None,
                strong: false,
            });
        }
        // Pane separator.
        grid.push(OverlayInstance::rect(0.0, vp.rect.y, cw, vp.rect.y + 1.0, theme.border));
    }
    grid.push(OverlayInstance::rect(plot_w, 0.0, plot_w + 1.0, panes_h, theme.border));
    grid.push(OverlayInstance::rect(0.0, panes_h, cw, panes_h + 1.0, theme.border));
    let full = PxRect::new(0.0, 0.0, cw, ch);
    push_overlays(&mut plan, grid, full);

    // Volume and candles.
    if n > 0 && b1 > b0 {
        let buckets = b0 as u32..b1 as u32;
        let volume_h = (main.rect.h as f64 * style.volume_fraction as f64).max(1.0);
        let max_volume = data.pyramid.max_volume(level, start, end);
        if max_volume > 0.0 {
            let mut u = uniform_for(&main);
            u.log_scale = 0;
            u.y_min = 0.0;
            u.px_per_y = (volume_h / max_volume) as f32;
            u.color_up = theme.volume_up;
            u.color_down = theme.volume_down;
            plan.commands.push(Command::Volume { uniform: u, level, buckets: buckets.clone(), clip: main.rect });
        }
        plan.commands.push(Command::Candles { uniform: uniform_for(&main), level, buckets, clip: main.rect });
    }

    // Indicator series.
    for (k, pane) in data.panes.iter().enumerate() {
        let vp = plan.panes[k];
        let mut guides = Vec::new();
        for &g in &pane.guides {
            let y = vp.screen_y(g) as f32;
            guides.push(OverlayInstance::segment([0.0, y], [plot_w, y], 1.0, theme.guide, true));
        }
        push_overlays(&mut plan, guides, vp.rect);
        for &s in &pane.series {
            let series = &data.series[s];
            let mut u = uniform_for(&vp);
            u.color_up = series.color;
            if k > 0 {
                u.log_scale = 0;
            }
            let samples = b0 as u32..b1 as u32;
            match series.style {
                SeriesStyle::Line => {
                    // One sample beyond each side so lines reach the edges; strips (merged buckets) start after
                    // the warm-up, since they cannot skip missing values.
                    let (l0, l1) = data.pyramid.buckets(line_level, start, end);
                    let mut samples = (l0 as u32).saturating_sub(1)
                        ..(l1 as u32 + 1).min(data.pyramid.buckets(line_level, 0, n).1 as u32);
                    u.bucket_bars = line_bucket_bars as u32;
                    if line_bucket_bars > 1 {
                        let first_valid =
                            series.values.iter().position(|v| v.is_finite() && v.abs() < 1e37).unwrap_or(n);
                        samples.start = samples.start.max(first_valid.div_ceil(line_bucket_bars) as u32);
                    }
                    plan.commands.push(Command::Line {
                        uniform: u,
                        level: line_level,
                        series: s,
                        samples,
                        clip: vp.rect,
                    });
                }
                SeriesStyle::Histogram => {
                    u.color_up = theme.volume_up;
                    u.color_down = theme.volume_down;
                    u.color_up[3] = 0.8;
                    u.color_down[3] = 0.8;
                    u.body_fraction = if bucket_bars > 1 { 1.0 } else { 0.6 };
                    plan.commands.push(Command::Histogram { uniform: u, series: s, samples, clip: vp.rect });
                }
            }
        }
        // Legends.
        let legend_y = vp.rect.y + style.text_px;
        let index = annotations
            .crosshair
            .and_then(|[x, _]| {
                let bar = vp.chart_from_screen(x as f64, 0.0)[0].round();
                (bar >= 0.0 && bar < n as f64).then_some(bar as usize)
            })
            .or(n.checked_sub(1));
        if k == 0 {
            if let Some(bar) = index.and_then(|i| data.bars.get(i)) {
                let change = if bar.open > 0.0 { (bar.close / bar.open - 1.0) * 100.0 } else { 0.0 };
                plan.labels.push(Label {
                    text: format!(
                        "{}  O {}  H {}  L {}  C {}  {:+.2}%",
                        data.title,
                        format_price(bar.open, digits),
                        format_price(bar.high, digits),
                        format_price(bar.low, digits),
                        format_price(bar.close, digits),
                        change
                    ),
                    pos: [8.0, legend_y],
                    align: Align::Left,
                    color: theme.text,
                    background: None,
                    strong: true,
                });
            }
        } else {
            let values: Vec<String> = pane
                .series
                .iter()
                .filter_map(|&s| {
                    index.and_then(|i| data.series[s].values.get(i)).filter(|v| v.is_finite()).map(|v| format_value(*v))
                })
                .collect();
            plan.labels.push(Label {
                text: format!("{}  {}", pane.title, values.join("  ")),
                pos: [8.0, legend_y],
                align: Align::Left,
                color: theme.text,
                background: None,
                strong: false,
            });
        }
    }

    // Annotations over the data, clipped to the price pane.
    let mut over = Vec::new();
    let marker_px = (main.px_per_bar() as f32 * 0.8).clamp(5.0, 10.0);
    if end - start <= 1_000 {
        let first = annotations.markers.partition_point(|m| m.0 < start);
        for &(i, bullish) in annotations.markers[first..].iter().take_while(|m| m.0 < end) {
            let x = main.screen_x(i as f64) as f32;
            let (price, dy, kind, color) = if bullish {
                (data.bars.low()[i], marker_px, OverlayKind::TriangleUp, theme.bullish)
            } else {
                (data.bars.high()[i], -marker_px, OverlayKind::TriangleDown, theme.bearish)
            };
            over.push(OverlayInstance::marker([x, main.screen_y(price) as f32 + dy], marker_px, color, kind));
        }
    }
    for p in &annotations.patterns {
        let (Some(first), Some(last)) = (p.pivots.first(), p.pivots.last()) else { continue };
        if last.0 < start || first.0 >= end {
            continue;
        }
        for w in p.pivots.windows(2) {
            let a = main.screen_from_chart(w[0].0 as f64, w[0].1);
            let b = main.screen_from_chart(w[1].0 as f64, w[1].1);
            over.push(OverlayInstance::segment(
                [a[0] as f32, a[1] as f32],
                [b[0] as f32, b[1] as f32],
                2.0,
                theme.pattern,
                false,
            ));
        }
        let top = p.pivots.iter().map(|s| s.1).fold(f64::MIN, f64::max);
        let [x, y] = main.screen_from_chart(first.0 as f64, top);
        plan.labels.push(Label {
            text: p.label.clone(),
            pos: [x as f32, y as f32 - style.text_px],
            align: Align::Left,
            color: theme.pattern,
            background: None,
            strong: false,
        });
    }
    for t in annotations.trades.iter().filter(|t| t.exit_bar >= start && t.entry_bar < end && t.exit_bar < n).take(400)
    {
        let a = main.screen_from_chart(t.entry_bar as f64, t.entry_price);
        let b = main.screen_from_chart(t.exit_bar as f64, t.exit_price);
        let (a, b) = ([a[0] as f32, a[1] as f32], [b[0] as f32, b[1] as f32]);
        let color = if t.profit { theme.bullish } else { theme.bearish };
        over.push(OverlayInstance::segment(a, b, 1.5, color, true));
        let kind = if t.long { OverlayKind::TriangleUp } else { OverlayKind::TriangleDown };
        over.push(OverlayInstance::marker(a, 11.0, if t.long { theme.bullish } else { theme.bearish }, kind));
        over.push(OverlayInstance::marker(b, 9.0, theme.guide, OverlayKind::Diamond));
    }
    let ts = data.bars.ts_nanos();
    for (k, d) in annotations.drawings.iter().enumerate() {
        let (instances, labels) = d.overlay(&main, ts, theme, annotations.selected == Some(k), digits);
        over.extend(instances);
        plan.labels.extend(labels);
    }
    // The last price: a dashed line and a label on the axis.
    if let Some(&last) = data.bars.close().last() {
        let up = data.bars.open().last().is_none_or(|&o| last >= o);
        let color = if up { theme.up } else { theme.down };
        let y = main.screen_y(last) as f32;
        if y >= main.rect.y && y <= main.rect.bottom() {
            over.push(OverlayInstance::segment([0.0, y], [plot_w, y], 1.0, color, true));
            plan.labels.push(Label {
                text: format_price(last, digits),
                pos: [plot_w + 4.0, y],
                align: Align::Left,
                color: theme.label_text(),
                background: Some(color),
                strong: false,
            });
        }
    }
    push_overlays(&mut plan, over, main.rect);

    // Crosshair over every pane.
    if let Some([x, y]) = annotations.crosshair
        && x >= 0.0
        && x < plot_w
        && y >= 0.0
        && y < panes_h
    {
        let bar = main.chart_from_screen(x as f64, 0.0)[0].round();
        let sx = main.screen_x(bar) as f32;
        let lines = vec![
            OverlayInstance::segment([sx, 0.0], [sx, panes_h], 1.0, theme.crosshair, true),
            OverlayInstance::segment([0.0, y], [plot_w, y], 1.0, theme.crosshair, true),
        ];
        push_overlays(&mut plan, lines, PxRect::new(0.0, 0.0, plot_w, panes_h));
        if let Some(vp) = plan.panes.iter().find(|vp| vp.rect.contains(x, y)) {
            let value = vp.chart_from_screen(x as f64, y as f64)[1];
            let text = if vp.rect.y == 0.0 && view.scale == PriceScale::Percent {
                format!("{:.2}%", (value / percent_base - 1.0) * 100.0)
            } else {
                format_price(value, if vp.rect.y == 0.0 { digits } else { 2 })
            };
            plan.labels.push(Label {
                text,
                pos: [plot_w + 4.0, y],
                align: Align::Left,
                color: theme.label_text(),
                background: Some(theme.label_background),
                strong: false,
            });
        }
        if bar >= 0.0
            && let Some(&t) = ts.get(bar as usize)
        {
            plan.labels.push(Label {
                text: chrono::DateTime::from_timestamp_nanos(t).format("%a %d %b '%y %H:%M").to_string(),
                pos: [sx, panes_h + style.time_axis_px * 0.5],
                align: Align::Center,
                color: theme.label_text(),
                background: Some(theme.label_background),
                strong: false,
            });
        }
    }
    plan
}

fn push_overlays(plan: &mut FramePlan, instances: Vec<OverlayInstance>, clip: PxRect) {
    if instances.is_empty() {
        return;
    }
    let start = plan.overlays.len() as u32;
    plan.overlays.extend(instances);
    plan.commands.push(Command::Overlay { instances: start..plan.overlays.len() as u32, clip });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NANOS_PER_SEC;

    fn data(n: usize, indicators: &[IndicatorSpec]) -> ChartData {
        let ts: Vec<i64> = (0..n as i64).map(|i| 1_500_000_000 * NANOS_PER_SEC + i * 3_600 * NANOS_PER_SEC).collect();
        let close: Vec<f64> = (0..n).map(|i| 1.1 + 0.01 * (i as f64 * 0.05).sin()).collect();
        let open: Vec<f64> = std::iter::once(1.1).chain(close.iter().copied()).take(n).collect();
        let high: Vec<f64> = open.iter().zip(&close).map(|(o, c)| o.max(*c) + 0.001).collect();
        let low: Vec<f64> = open.iter().zip(&close).map(|(o, c)| o.min(*c) - 0.001).collect();
        let bars = Arc::new(Bars::new(ts, open, high, low, close, vec![1.0; n]));
        let computed: Vec<(IndicatorSpec, Vec<Column>)> =
            indicators.iter().map(|s| (s.clone(), s.compute(&bars).unwrap_or_default())).collect();
        ChartData::new(bars, computed, "TEST".into(), 5, &ChartTheme::DARK)
    }

    #[test]
    fn a_frame_fits_the_visible_prices_and_draws_only_visible_buckets() {
        let d = data(5_000, &[IndicatorSpec::Sma { period: 20 }, IndicatorSpec::Rsi { period: 14 }]);
        assert_eq!(d.panes.len(), 2);
        let view = ChartView::latest(5_000);
        let plan =
            plan_frame(&d, &view, [1280.0, 720.0], &ChartTheme::DARK, &Annotations::default(), &LayoutStyle::default());
        assert_eq!(plan.level, 0);
        let candles = plan.commands.iter().find_map(|c| match c {
            Command::Candles { buckets, .. } => Some(buckets.clone()),
            _ => None,
        });
        let buckets = candles.unwrap_or_default();
        assert!(buckets.end == 5_000 && buckets.len() <= 160, "{buckets:?}");
        let main = plan.panes[0];
        let (start, end) = plan.visible;
        for i in start..end {
            let (h, l) = (d.bars.high()[i], d.bars.low()[i]);
            assert!(main.screen_y(h) >= main.rect.y as f64 && main.screen_y(l) <= main.rect.bottom() as f64);
        }
        assert!(plan.labels.iter().any(|l| l.text.starts_with("TEST  O ")));
        assert!(plan.labels.iter().any(|l| l.text.starts_with("rsi:14")));
    }

    #[test]
    fn zoomed_out_frames_use_a_coarse_level() {
        let view = ChartView::fit_all(100_000);
        let plan_for = |d: &ChartData| {
            plan_frame(d, &view, [1920.0, 1080.0], &ChartTheme::LIGHT, &Annotations::default(), &LayoutStyle::default())
        };
        let plan = plan_for(&data(100_000, &[]));
        assert!(plan.level >= 6, "level {}", plan.level);
        let drawn: u32 = plan
            .commands
            .iter()
            .map(|c| match c {
                Command::Candles { buckets, .. } => buckets.len() as u32,
                _ => 0,
            })
            .sum();
        assert!(drawn <= 1_920, "{drawn} buckets");
        // Lines keep two pixels per sample: from the next level up, at most ~960 samples across 1,920 pixels.
        let plan = plan_for(&data(100_000, &[IndicatorSpec::Sma { period: 20 }]));
        let lines: Vec<(usize, u32)> = plan
            .commands
            .iter()
            .filter_map(|c| match c {
                Command::Line { level, samples, .. } => Some((*level, samples.len() as u32)),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].0 > plan.level && lines[0].1 <= 962, "{lines:?} at candle level {}", plan.level);
    }
}
