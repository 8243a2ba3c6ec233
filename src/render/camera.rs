//! Chart coordinates: the visible window of bars and prices, the transforms between chart space (bar index,
//! price) and screen pixels, and the view operations a trader expects (zoom around the cursor, pan, price-axis
//! scaling, reset, Home/End).
//!
//! The x axis is the bar index (bar `i` is centred on `x = i`), as on TradingView: closed-market hours take no
//! space and every candle has the same width. Percentage scales are linear in price (only their labels differ);
//! log scales are linear in `ln(price)`.

use serde::{Deserialize, Serialize};

/// How prices map to the vertical axis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PriceScale {
    /// Linear in price.
    #[default]
    Linear,
    /// Linear in `ln(price)`.
    Log,
    /// Linear in price, labelled in percent of the first visible close.
    Percent,
}

impl PriceScale {
    /// The axis value of `price` (its logarithm on a log scale).
    pub fn value_of(self, price: f64) -> f64 {
        match self {
            Self::Log => price.max(f64::MIN_POSITIVE).ln(),
            Self::Linear | Self::Percent => price,
        }
    }

    /// The price at axis value `value`.
    pub fn price_of(self, value: f64) -> f64 {
        match self {
            Self::Log => value.exp(),
            Self::Linear | Self::Percent => value,
        }
    }
}

/// A rectangle in pixels, origin at the top left.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PxRect {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl PxRect {
    /// A rectangle from its top-left corner and size.
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self { x, y, w: w.max(0.0), h: h.max(0.0) }
    }

    /// Right edge.
    pub fn right(&self) -> f32 {
        self.x + self.w
    }

    /// Bottom edge.
    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }

    /// True when `(x, y)` lies inside.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x && x < self.right() && y >= self.y && y < self.bottom()
    }
}

/// The window of one pane: which bars and values fill which pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    /// The pane's plot area.
    pub rect: PxRect,
    /// Bar index at the left edge.
    pub x_min: f64,
    /// Bar index at the right edge.
    pub x_max: f64,
    /// Axis value (price, or ln price on a log scale) at the bottom edge.
    pub y_min: f64,
    /// Axis value at the top edge.
    pub y_max: f64,
    /// How prices map to axis values.
    pub scale: PriceScale,
}

impl Viewport {
    /// Pixels per bar.
    pub fn px_per_bar(&self) -> f64 {
        self.rect.w as f64 / (self.x_max - self.x_min).max(1e-9)
    }

    /// Pixels per axis value.
    pub fn px_per_value(&self) -> f64 {
        self.rect.h as f64 / (self.y_max - self.y_min).max(1e-300)
    }

    /// Screen x of bar position `x`.
    pub fn screen_x(&self, x: f64) -> f64 {
        self.rect.x as f64 + (x - self.x_min) * self.px_per_bar()
    }

    /// Screen y of `price`.
    pub fn screen_y(&self, price: f64) -> f64 {
        self.rect.bottom() as f64 - (self.scale.value_of(price) - self.y_min) * self.px_per_value()
    }

    /// Screen position of a chart point (bar position, price).
    pub fn screen_from_chart(&self, x: f64, price: f64) -> [f64; 2] {
        [self.screen_x(x), self.screen_y(price)]
    }

    /// Chart point (bar position, price) under a screen position.
    pub fn chart_from_screen(&self, sx: f64, sy: f64) -> [f64; 2] {
        let x = self.x_min + (sx - self.rect.x as f64) / self.px_per_bar();
        let value = self.y_min + (self.rect.bottom() as f64 - sy) / self.px_per_value();
        [x, self.scale.price_of(value)]
    }
}

/// Fewest bars a view spans.
pub const MIN_VISIBLE_BARS: f64 = 8.0;
/// Bars shown when a dataset opens or the view is reset.
pub const DEFAULT_VISIBLE_BARS: f64 = 150.0;
/// Empty bars kept right of the last bar after a reset or End, as TradingView does.
pub const RIGHT_MARGIN_BARS: f64 = 4.0;

/// The interactive view shared by every pane: the visible bars, and the main pane's price range and scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChartView {
    /// Bar position at the left edge.
    pub x_min: f64,
    /// Bar position at the right edge.
    pub x_max: f64,
    /// Fit the price range to the visible bars on every frame.
    pub auto_fit: bool,
    /// Price at the bottom of the main pane when not auto-fitting.
    pub price_min: f64,
    /// Price at the top of the main pane when not auto-fitting.
    pub price_max: f64,
    /// Price scale of the main pane.
    pub scale: PriceScale,
}

impl Default for ChartView {
    fn default() -> Self {
        Self::latest(0)
    }
}

impl ChartView {
    /// The latest [`DEFAULT_VISIBLE_BARS`] of `bar_count` bars, auto-fitted.
    pub fn latest(bar_count: usize) -> Self {
        let x_max = bar_count as f64 - 0.5 + RIGHT_MARGIN_BARS;
        Self {
            x_min: x_max - DEFAULT_VISIBLE_BARS,
            x_max,
            auto_fit: true,
            price_min: 0.0,
            price_max: 1.0,
            scale: PriceScale::Linear,
        }
    }

    /// The latest `span` bars of `bar_count` bars, auto-fitted.
    pub fn latest_span(bar_count: usize, span: f64) -> Self {
        let mut view = Self::latest(bar_count);
        view.x_min = view.x_max - span.max(MIN_VISIBLE_BARS);
        view.clamp(bar_count);
        view
    }

    /// Every bar of `bar_count` on screen, auto-fitted (double-click on the time axis).
    pub fn fit_all(bar_count: usize) -> Self {
        let n = bar_count as f64;
        let margin = (n * 0.02).max(1.0);
        Self { x_min: -0.5 - margin, x_max: n - 0.5 + margin, ..Self::latest(bar_count) }
    }

    /// Bars spanned.
    pub fn span_bars(&self) -> f64 {
        self.x_max - self.x_min
    }

    /// Keeps the span within `[MIN_VISIBLE_BARS, bar_count + margins]` and some bars on screen.
    pub fn clamp(&mut self, bar_count: usize) {
        let n = bar_count.max(1) as f64;
        let max_span = (n * 1.1 + 2.0 * RIGHT_MARGIN_BARS).max(MIN_VISIBLE_BARS);
        let span = self.span_bars().clamp(MIN_VISIBLE_BARS, max_span);
        let centre = 0.5 * (self.x_min + self.x_max);
        // At least a fifth of the view keeps showing bars.
        let keep = span * 0.2;
        let centre = centre.clamp(-0.5 + keep - 0.5 * span, n - 0.5 - keep + 0.5 * span);
        self.x_min = centre - 0.5 * span;
        self.x_max = centre + 0.5 * span;
    }

    /// Zooms the time axis by `factor` (> 1 shows more bars) keeping bar position `anchor_x` where it is.
    pub fn zoom_x(&mut self, factor: f64, anchor_x: f64, bar_count: usize) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let span = self.span_bars();
        let n = bar_count.max(1) as f64;
        let new_span =
            (span * factor).clamp(MIN_VISIBLE_BARS, (n * 1.1 + 2.0 * RIGHT_MARGIN_BARS).max(MIN_VISIBLE_BARS));
        let t = if span > 0.0 { (anchor_x - self.x_min) / span } else { 0.5 };
        self.x_min = anchor_x - t * new_span;
        self.x_max = self.x_min + new_span;
        self.clamp(bar_count);
    }

    /// Pans by `bars` (positive moves the view to later bars).
    pub fn pan_bars(&mut self, bars: f64, bar_count: usize) {
        if bars.is_finite() {
            self.x_min += bars;
            self.x_max += bars;
            self.clamp(bar_count);
        }
    }

    /// Scales the main pane's price range by `factor` (> 1 shows more prices) around its centre; turns off
    /// auto-fit, as dragging TradingView's price axis does. `current` is the range on screen now.
    pub fn scale_price(&mut self, factor: f64, current: (f64, f64)) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let (lo, hi) = (self.scale.value_of(current.0), self.scale.value_of(current.1));
        let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo) * factor);
        if half > 0.0 && half.is_finite() {
            self.price_min = self.scale.price_of(mid - half);
            self.price_max = self.scale.price_of(mid + half);
            self.auto_fit = false;
        }
    }

    /// Moves the main pane's prices by `pixels` of a pane `height_px` tall (positive moves prices up).
    pub fn pan_price(&mut self, pixels: f64, height_px: f64, current: (f64, f64)) {
        let (lo, hi) = (self.scale.value_of(current.0), self.scale.value_of(current.1));
        let shift = pixels / height_px.max(1.0) * (hi - lo);
        if shift.is_finite() {
            self.price_min = self.scale.price_of(lo + shift);
            self.price_max = self.scale.price_of(hi + shift);
            self.auto_fit = false;
        }
    }

    /// Shows the first bars (Home), keeping the span.
    pub fn home(&mut self, bar_count: usize) {
        let span = self.span_bars();
        self.x_min = -0.5 - RIGHT_MARGIN_BARS;
        self.x_max = self.x_min + span;
        self.clamp(bar_count);
    }

    /// Shows the latest bars (End), keeping the span.
    pub fn end(&mut self, bar_count: usize) {
        let span = self.span_bars();
        self.x_max = bar_count as f64 - 0.5 + RIGHT_MARGIN_BARS;
        self.x_min = self.x_max - span;
        self.clamp(bar_count);
    }

    /// Shows bars `[first, last]` with a margin.
    pub fn show_bars(&mut self, first: usize, last: usize, bar_count: usize) {
        let margin = ((last.saturating_sub(first)) as f64 * 0.5).max(20.0);
        self.x_min = first as f64 - margin;
        self.x_max = last as f64 + margin;
        self.auto_fit = true;
        self.clamp(bar_count);
    }

    /// The bars `[start, end)` at least partly visible.
    pub fn visible_bars(&self, bar_count: usize) -> (usize, usize) {
        let start = (self.x_min + 0.5).floor().max(0.0) as usize;
        let end = ((self.x_max + 0.5).ceil().max(0.0) as usize).min(bar_count);
        (start.min(end), end)
    }
}

/// A "nice" step (1, 2 or 5 × 10^k) near `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
    let frac = raw / base;
    let nice = if frac <= 1.0 {
        1.0
    } else if frac <= 2.0 {
        2.0
    } else if frac <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// Round price levels inside `[lo, hi]`, about one per `spacing_px` of a `height_px` axis, with the number of
/// decimals that shows their step.
pub fn price_ticks(lo: f64, hi: f64, height_px: f64, spacing_px: f64) -> (Vec<f64>, usize) {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return (Vec::new(), 2);
    }
    let count = (height_px / spacing_px.max(1.0)).max(1.0);
    let step = nice_step((hi - lo) / count);
    let decimals = (-step.log10().floor()).clamp(0.0, 10.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last).take(200).map(|k| k as f64 * step).collect();
    (ticks, decimals)
}

/// Round percentages for a percentage scale whose 0 % is `base`, as prices inside `[lo, hi]`.
pub fn percent_ticks(lo: f64, hi: f64, base: f64, height_px: f64, spacing_px: f64) -> (Vec<f64>, usize) {
    if !(base.is_finite() && base > 0.0) {
        return (Vec::new(), 2);
    }
    let pct = |p: f64| (p / base - 1.0) * 100.0;
    let (ticks, decimals) = price_ticks(pct(lo), pct(hi), height_px, spacing_px);
    (ticks.into_iter().map(|t| base * (1.0 + t / 100.0)).collect(), decimals)
}

/// Round price levels for a log scale between `lo` and `hi`: linear ticks where the range is narrow, else
/// 1-2-5 levels per decade.
pub fn log_price_ticks(lo: f64, hi: f64, height_px: f64, spacing_px: f64) -> (Vec<f64>, usize) {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return (Vec::new(), 2);
    }
    if hi / lo < 4.0 {
        return price_ticks(lo, hi, height_px, spacing_px);
    }
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi && ticks.len() < 200 {
        for m in [1.0, 2.0, 5.0] {
            let t = decade * m;
            if t >= lo && t <= hi {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    let decimals = ticks.first().map_or(2, |t| (-t.log10().floor()).clamp(0.0, 10.0) as usize);
    (ticks, decimals)
}

/// Calendar units of time-axis labels, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeUnit {
    /// A minute boundary.
    Minute,
    /// 5 minutes.
    Minutes5,
    /// 15 minutes.
    Minutes15,
    /// 30 minutes.
    Minutes30,
    /// An hour.
    Hour,
    /// 4 hours.
    Hours4,
    /// 12 hours.
    Hours12,
    /// A day.
    Day,
    /// A month.
    Month,
    /// A year.
    Year,
}

impl TimeUnit {
    const ALL: [Self; 10] = [
        Self::Minute,
        Self::Minutes5,
        Self::Minutes15,
        Self::Minutes30,
        Self::Hour,
        Self::Hours4,
        Self::Hours12,
        Self::Day,
        Self::Month,
        Self::Year,
    ];

    /// The coarsest unit whose boundary lies in `(prev, ts]` (UTC), if any.
    pub fn boundary_between(prev_ts_nanos: i64, ts_nanos: i64) -> Option<Self> {
        use chrono::{Datelike, Timelike};
        let a = chrono::DateTime::from_timestamp_nanos(prev_ts_nanos);
        let b = chrono::DateTime::from_timestamp_nanos(ts_nanos);
        if a.year() != b.year() {
            return Some(Self::Year);
        }
        if a.month() != b.month() {
            return Some(Self::Month);
        }
        if a.ordinal() != b.ordinal() {
            return Some(Self::Day);
        }
        let (ma, mb) = (i64::from(a.hour() * 60 + a.minute()), i64::from(b.hour() * 60 + b.minute()));
        for (unit, minutes) in [
            (Self::Hours12, 720),
            (Self::Hours4, 240),
            (Self::Hour, 60),
            (Self::Minutes30, 30),
            (Self::Minutes15, 15),
            (Self::Minutes5, 5),
            (Self::Minute, 1),
        ] {
            if ma / minutes != mb / minutes {
                return Some(unit);
            }
        }
        None
    }

    /// The label of a boundary of this unit at `ts_nanos`: `2018`, `Mar`, `12`, `14:00`.
    pub fn label(self, ts_nanos: i64) -> String {
        let dt = chrono::DateTime::from_timestamp_nanos(ts_nanos);
        match self {
            Self::Year => dt.format("%Y").to_string(),
            Self::Month => dt.format("%b").to_string(),
            Self::Day => dt.format("%-d").to_string(),
            _ => dt.format("%H:%M").to_string(),
        }
    }
}

/// A label on the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeTick {
    /// Bar index of the first bar after the boundary.
    pub index: usize,
    /// The boundary's unit (coarser units are drawn bolder).
    pub unit: TimeUnit,
    /// Text.
    pub text: String,
}

/// Time-axis labels for the bars `[start, end)` of `ts_nanos` on an axis `width_px` wide, about one per
/// `spacing_px`: the finest calendar unit whose boundaries fit (years → months → days → hours → minutes), each
/// labelled by the coarsest boundary it is (a new month shows `Mar`, not `1`). Costs O(pixels): with more bars
/// than pixels only one bar per pixel column is looked at.
pub fn time_ticks(ts_nanos: &[i64], start: usize, end: usize, width_px: f64, spacing_px: f64) -> Vec<TimeTick> {
    let end = end.min(ts_nanos.len());
    if end <= start + 1 || width_px <= 0.0 {
        return Vec::new();
    }
    let stride = (((end - start) as f64 / width_px).floor() as usize).max(1);
    // Boundaries between consecutive samples: (previous sample, sample, coarsest unit crossed).
    let mut boundaries: Vec<(usize, usize, TimeUnit)> = Vec::new();
    let mut prev = start;
    let mut i = start + stride;
    while i < end {
        if let Some(unit) = TimeUnit::boundary_between(ts_nanos[prev], ts_nanos[i]) {
            boundaries.push((prev, i, unit));
        }
        prev = i;
        i += stride;
    }
    // Up to twice the budget: the spacing filter below thins crowded labels, keeping the coarser ones.
    let budget = 2 * (width_px / spacing_px.max(1.0)).floor().max(1.0) as usize;
    let Some(min_unit) =
        TimeUnit::ALL.iter().copied().find(|&u| boundaries.iter().filter(|(_, _, b)| *b >= u).count() <= budget)
    else {
        return Vec::new();
    };
    let px_per_bar = width_px / (end - start) as f64;
    let min_gap_bars = spacing_px * 0.75 / px_per_bar;
    let mut kept: Vec<(usize, usize, TimeUnit)> = Vec::new();
    for (prev, i, unit) in boundaries.into_iter().filter(|(_, _, u)| *u >= min_unit) {
        if let Some(last) = kept.last_mut()
            && ((i - last.1) as f64) < min_gap_bars
        {
            // Keep the coarser of two crowded labels.
            if unit > last.2 {
                *last = (prev, i, unit);
            }
            continue;
        }
        kept.push((prev, i, unit));
    }
    // Only the labels kept look for the first bar after their boundary inside the stride.
    kept.into_iter()
        .map(|(prev, i, unit)| {
            let index = if i == prev + 1 {
                i
            } else {
                let before = |&t: &i64| TimeUnit::boundary_between(ts_nanos[prev], t).is_none_or(|u| u < unit);
                (prev + 1 + ts_nanos[prev + 1..=i].partition_point(before)).min(i)
            };
            TimeTick { index, unit, text: unit.label(ts_nanos[index]) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewport(scale: PriceScale) -> Viewport {
        let (y_min, y_max) = (scale.value_of(1.05), scale.value_of(1.25));
        Viewport { rect: PxRect::new(10.0, 20.0, 800.0, 400.0), x_min: 95.5, x_max: 295.5, y_min, y_max, scale }
    }

    #[test]
    fn screen_and_chart_coordinates_round_trip() {
        for scale in [PriceScale::Linear, PriceScale::Log, PriceScale::Percent] {
            let v = viewport(scale);
            for &(x, p) in &[(95.5, 1.05), (200.0, 1.17234), (295.5, 1.25), (-10.0, 0.9), (1e7, 3.0)] {
                let [sx, sy] = v.screen_from_chart(x, p);
                let [x2, p2] = v.chart_from_screen(sx, sy);
                assert!((x - x2).abs() < 1e-9 * x.abs().max(1.0), "{scale:?} x {x} -> {x2}");
                assert!((p - p2).abs() < 1e-12, "{scale:?} price {p} -> {p2}");
            }
            let [sx, sy] = v.screen_from_chart(95.5, 1.25);
            assert!((sx - 10.0).abs() < 1e-9 && (sy - 20.0).abs() < 1e-9);
            let [sx, sy] = v.screen_from_chart(295.5, 1.05);
            assert!((sx - 810.0).abs() < 1e-9 && (sy - 420.0).abs() < 1e-9);
        }
        // On a log scale equal ratios take equal heights.
        let v = viewport(PriceScale::Log);
        let d1 = v.screen_y(1.1) - v.screen_y(1.21);
        let d2 = v.screen_y(1.0) - v.screen_y(1.1);
        assert!((d1 - d2).abs() < 1e-9);
    }

    #[test]
    fn zoom_keeps_the_anchor_and_pan_moves_the_window() {
        let mut view = ChartView::latest(5_000);
        assert!((view.span_bars() - DEFAULT_VISIBLE_BARS).abs() < 1e-9);
        let anchor = 4_950.0;
        let before = (anchor - view.x_min) / view.span_bars();
        view.zoom_x(0.5, anchor, 5_000);
        assert!((view.span_bars() - 75.0).abs() < 1e-9);
        assert!(((anchor - view.x_min) / view.span_bars() - before).abs() < 1e-9);
        view.zoom_x(1e-6, anchor, 5_000);
        assert_eq!(view.span_bars(), MIN_VISIBLE_BARS);
        view.zoom_x(1e9, anchor, 5_000);
        assert!(view.span_bars() <= 5_000.0 * 1.1 + 2.0 * RIGHT_MARGIN_BARS + 1e-6);
        let mut view = ChartView::latest(5_000);
        let x0 = view.x_min;
        view.pan_bars(-100.0, 5_000);
        assert!((view.x_min - (x0 - 100.0)).abs() < 1e-9);
        view.pan_bars(-1e9, 5_000);
        let (start, end) = view.visible_bars(5_000);
        assert!(start == 0 && end > 20, "panning far left still shows bars: {start}..{end}");
        view.end(5_000);
        assert_eq!(view.visible_bars(5_000).1, 5_000);
        view.home(5_000);
        assert_eq!(view.visible_bars(5_000).0, 0);
    }

    #[test]
    fn price_scaling_turns_off_auto_fit() {
        let mut view = ChartView::latest(100);
        view.scale_price(2.0, (1.0, 1.2));
        assert!(!view.auto_fit);
        assert!((view.price_min - 0.9).abs() < 1e-12 && (view.price_max - 1.3).abs() < 1e-12);
        view.scale = PriceScale::Log;
        view.scale_price(1.0, (1.0, 4.0));
        assert!((view.price_min - 1.0).abs() < 1e-12 && (view.price_max - 4.0).abs() < 1e-12);
    }

    #[test]
    fn price_ticks_are_round_and_inside() {
        let (ticks, decimals) = price_ticks(1.1723, 1.1791, 400.0, 50.0);
        assert_eq!(decimals, 3);
        assert!(ticks.len() >= 4 && ticks.len() <= 9, "{ticks:?}");
        for t in &ticks {
            assert!(*t >= 1.1723 && *t <= 1.1791);
            assert!(((t * 1_000.0).round() - t * 1_000.0).abs() < 1e-6);
        }
        let (log_ticks, _) = log_price_ticks(3.0, 700.0, 400.0, 50.0);
        assert_eq!(log_ticks, vec![5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]);
        let (pct, _) = percent_ticks(1.0, 1.1, 1.0, 400.0, 50.0);
        assert!(pct.iter().any(|p| (p - 1.04).abs() < 1e-12) && pct.len() >= 5, "{pct:?}");
    }

    #[test]
    fn time_ticks_pick_units_by_zoom() {
        let hour = 3_600 * crate::domain::NANOS_PER_SEC;
        // 2017-01-02 00:00 UTC, hourly for two years.
        let t0 = 1_483_315_200 * crate::domain::NANOS_PER_SEC;
        let ts: Vec<i64> = (0..17_520).map(|i| t0 + i * hour).collect();
        let all = time_ticks(&ts, 0, ts.len(), 1_200.0, 90.0);
        assert!(all.iter().any(|t| t.text == "2018" && t.unit == TimeUnit::Year), "{all:?}");
        assert!(all.iter().all(|t| t.unit >= TimeUnit::Month), "{all:?}");
        // Many bars per pixel: the label sits on the first bar of the new year.
        let wide = time_ticks(&ts, 0, ts.len(), 300.0, 90.0);
        let year = wide.iter().find(|t| t.unit == TimeUnit::Year).map(|t| t.index);
        assert_eq!(year.map(|i| TimeUnit::Year.label(ts[i])), Some("2018".to_string()), "{wide:?}");
        assert_eq!(year.map(|i| TimeUnit::Year.label(ts[i - 1])), Some("2017".to_string()));
        let days = time_ticks(&ts, 0, 24 * 10, 1_200.0, 90.0);
        assert!(days.iter().all(|t| t.unit >= TimeUnit::Day) && days.len() >= 5, "{days:?}");
        assert_eq!(days[0].text, "3");
        let hours = time_ticks(&ts, 0, 24, 1_200.0, 90.0);
        assert!(hours.iter().any(|t| t.text == "04:00"), "{hours:?}");
        for w in all.windows(2) {
            assert!(w[1].index > w[0].index);
        }
    }
}
