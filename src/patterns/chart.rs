//! Chart patterns and market state computed from plain OHLC + ATR columns with no external reference:
//! fractal swing points, support/resistance levels, double tops/bottoms, head and shoulders (and inverse),
//! ascending/descending/symmetric triangles, the market regime, the volatility state, and the
//! [`ChartFinding`] JSON shape shared with the vision model. Every definition and threshold is written in the
//! doc comment of the item that implements it; [`ChartConfig::default`] holds the numbers.
//!
//! This module may import only `std`, `serde`, `serde_json` and `chrono` (for formatting times) — nothing
//! else of this crate — so it compiles standalone.
//!
//! Conventions used by every definition below:
//! - Bars are addressed by their 0-based index; all columns must have the same length ([`ChartInput::validate`]).
//! - The **ATR unit at bar `i`** is `atr[i]` when it is finite and positive, otherwise the fallback
//!   `fallback_atr_fraction × |price|` (the price of the swing or close being measured). Distances written
//!   "in ATR" are divided by this unit.
//! - "Signed price" turns bottoms into tops: `s × price` with `s = +1` for top patterns (built from swing
//!   highs) and `s = −1` for bottom patterns (built from swing lows), so one definition covers both.
//! - The public pattern functions never panic on short or unequal columns: missing values read as NaN and
//!   fail every comparison.

use std::{fmt, ops::RangeInclusive};

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------------------
// Input, errors, configuration
// ---------------------------------------------------------------------------------------------------------

/// Borrowed chart columns; every column must have the same length as `time_ns`.
#[derive(Debug, Clone, Copy)]
pub struct ChartInput<'a> {
    /// Bar open times, UTC nanoseconds since the Unix epoch.
    pub time_ns: &'a [i64],
    /// Open prices (checked for length; no definition here uses them).
    pub open: &'a [f64],
    /// High prices.
    pub high: &'a [f64],
    /// Low prices.
    pub low: &'a [f64],
    /// Close prices.
    pub close: &'a [f64],
    /// Wilder ATR per bar as computed by the caller; NaN during warm-up.
    pub atr: &'a [f64],
}

impl ChartInput<'_> {
    /// Number of bars when every column has the length of `time_ns` and it is not zero.
    ///
    /// A column of another length gives [`ChartError::LengthMismatch`] (checked first, in the order open,
    /// high, low, close, atr); zero bars gives [`ChartError::Empty`].
    pub fn validate(&self) -> Result<usize, ChartError> {
        let expected = self.time_ns.len();
        let columns = [
            ("open", self.open.len()),
            ("high", self.high.len()),
            ("low", self.low.len()),
            ("close", self.close.len()),
            ("atr", self.atr.len()),
        ];
        if let Some(&(column, len)) = columns.iter().find(|(_, len)| *len != expected) {
            return Err(ChartError::LengthMismatch { column, len, expected });
        }
        if expected == 0 { Err(ChartError::Empty) } else { Ok(expected) }
    }
}

/// Why [`analyze`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartError {
    /// All columns are empty.
    Empty,
    /// A column's length differs from the length of `time_ns`.
    LengthMismatch {
        /// Name of the offending column (`open`, `high`, `low`, `close` or `atr`).
        column: &'static str,
        /// Its length.
        len: usize,
        /// The length of `time_ns`.
        expected: usize,
    },
}

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "chart input has no bars"),
            Self::LengthMismatch { column, len, expected } => {
                write!(f, "chart column '{column}' has {len} values but time_ns has {expected}")
            }
        }
    }
}

impl std::error::Error for ChartError {}

/// Every tunable threshold of this module; [`Default`] gives the documented values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChartConfig {
    /// Fractal strength `k` of [`swing_points`] (default 3; values below 1 are treated as 1).
    pub swing_strength: usize,
    /// Fallback ATR as a fraction of price where the ATR is NaN or not positive (default 0.002 = 0.2 %).
    pub fallback_atr_fraction: f64,
    /// Support/resistance clustering tolerance in ATR at the joining swing (default 0.5; with the fallback
    /// ATR that is a relative tolerance of 0.1 % of price).
    pub sr_tolerance_atr: f64,
    /// Minimum number of swings in a cluster for it to be reported as a level (default 2).
    pub sr_min_touches: usize,
    /// Maximum number of levels returned (default 8).
    pub sr_max_levels: usize,
    /// Minimum bars from the first to the last defining pivot of any pattern (default 10).
    pub min_pattern_bars: usize,
    /// Maximum bars from the first to the last defining pivot of any pattern (default 200).
    pub max_pattern_bars: usize,
    /// Double top/bottom: the two peaks differ by at most this many ATR (default 1.0).
    pub double_peak_tolerance_atr: f64,
    /// Double top/bottom and head and shoulders: the neckline lies at least this many ATR beyond the nearer
    /// peak or shoulder (default 1.5).
    pub min_depth_atr: f64,
    /// Head and shoulders: the head exceeds the higher shoulder by at least this many ATR (default 0.5).
    pub hs_head_min_atr: f64,
    /// Head and shoulders: the shoulders differ by at most this many ATR (default 1.5).
    pub hs_shoulder_tolerance_atr: f64,
    /// Triangles: number of consecutive alternating pivots per window (default 6; values below 5 are
    /// treated as 5).
    pub triangle_pivots: usize,
    /// Triangles: a pivot within this many ATR of its fitted line is a touch; also the containment and
    /// breakout margin (default 0.3).
    pub triangle_touch_atr: f64,
    /// Triangles: a line is flat when it moves at most this many ATR across the window (default 0.5).
    pub triangle_flat_atr: f64,
    /// Triangles: a line is rising/falling when it moves at least this many ATR across the window (default 1.0).
    pub triangle_slope_atr: f64,
    /// Regime: number of closes in the regression window (default 50; values below 3 are treated as 3).
    pub regime_bars: usize,
    /// Regime: minimum |regression slope| in ATR per bar for a trend (default 0.05).
    pub regime_slope_atr: f64,
    /// Regime: minimum efficiency ratio for a trend (default 0.3).
    pub regime_efficiency: f64,
    /// Volatility: number of ATR values in the percentile window (default 100).
    pub volatility_bars: usize,
    /// Volatility: minimum finite ATR values in the window, else the state is unknown (default 20).
    pub volatility_min_samples: usize,
}

impl Default for ChartConfig {
    fn default() -> Self {
        Self {
            swing_strength: 3,
            fallback_atr_fraction: 0.002,
            sr_tolerance_atr: 0.5,
            sr_min_touches: 2,
            sr_max_levels: 8,
            min_pattern_bars: 10,
            max_pattern_bars: 200,
            double_peak_tolerance_atr: 1.0,
            min_depth_atr: 1.5,
            hs_head_min_atr: 0.5,
            hs_shoulder_tolerance_atr: 1.5,
            triangle_pivots: 6,
            triangle_touch_atr: 0.3,
            triangle_flat_atr: 0.5,
            triangle_slope_atr: 1.0,
            regime_bars: 50,
            regime_slope_atr: 0.05,
            regime_efficiency: 0.3,
            volatility_bars: 100,
            volatility_min_samples: 20,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Small numeric helpers
// ---------------------------------------------------------------------------------------------------------

/// Value at `i`, NaN when out of range.
fn at(values: &[f64], i: usize) -> f64 {
    values.get(i).copied().unwrap_or(f64::NAN)
}

/// The ATR unit at bar `i`: `atr[i]` when finite and positive, else `fallback × |price|` (NaN if unusable).
fn atr_unit(atr: &[f64], i: usize, price: f64, fallback: f64) -> f64 {
    let a = at(atr, i);
    if a.is_finite() && a > 0.0 {
        return a;
    }
    let f = fallback * price.abs();
    if f.is_finite() && f > 0.0 { f } else { f64::NAN }
}

/// A straight line `price = slope × bar + intercept`.
#[derive(Debug, Clone, Copy)]
struct Line {
    /// Price change per bar.
    slope: f64,
    /// Price at bar 0.
    intercept: f64,
}

impl Line {
    /// Value of the line at bar `x`.
    fn at(self, x: f64) -> f64 {
        self.slope * x + self.intercept
    }

    /// Least-squares fit through `(x, y)` points; `None` for fewer than 2 points or no spread in x.
    fn fit(points: &[(f64, f64)]) -> Option<Self> {
        if points.len() < 2 {
            return None;
        }
        let n = points.len() as f64;
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx <= 0.0 || !sxy.is_finite() {
            return None;
        }
        let slope = sxy / sxx;
        Some(Self { slope, intercept: my - slope * mx })
    }
}

/// Bars after a pattern searched for its confirmation: `last+1 ..= min(last+width, bar_count−1)`.
fn confirm_range(last: usize, width: usize, bar_count: usize) -> RangeInclusive<usize> {
    (last + 1)..=last.saturating_add(width).min(bar_count.saturating_sub(1))
}

/// What the bars after a pattern did first.
enum Outcome {
    /// A close confirmed the pattern at this bar.
    Confirmed(usize),
    /// Price invalidated the pattern before any confirmation.
    Invalidated,
    /// Neither happened inside the range.
    Open,
}

/// Scans `range` bar by bar; the first `Some` returned by `step` decides, otherwise [`Outcome::Open`].
fn scan(range: RangeInclusive<usize>, mut step: impl FnMut(usize) -> Option<Outcome>) -> Outcome {
    range.into_iter().find_map(&mut step).unwrap_or(Outcome::Open)
}

/// Confirmation of a reversal pattern whose last pivot is bar `last`, in signed prices (`s`): the bars after
/// `last` are scanned in order up to the end of the data; a close with `s × close > extreme` drops the
/// pattern (`None`); otherwise the first close with `s × close < s × neckline(c)` on a bar `c ≤ last + width`
/// confirms (`Some(Some(c))`); neither gives `Some(None)` (still forming).
fn reversal_confirmation(
    close: &[f64],
    last: usize,
    width: usize,
    s: f64,
    extreme: f64,
    neckline: impl Fn(usize) -> f64,
) -> Option<Option<usize>> {
    let deadline = last.saturating_add(width);
    let outcome = scan(confirm_range(last, usize::MAX, close.len()), |c| {
        let x = s * at(close, c);
        if x > extreme {
            Some(Outcome::Invalidated)
        } else if c <= deadline && x < s * neckline(c) {
            Some(Outcome::Confirmed(c))
        } else {
            None
        }
    });
    match outcome {
        Outcome::Invalidated => None,
        Outcome::Confirmed(c) => Some(Some(c)),
        Outcome::Open => Some(None),
    }
}

/// `x / scale` clamped to `0..=1` (1 when `scale` is not positive).
fn ratio01(x: f64, scale: f64) -> f64 {
    if scale > 0.0 { (x / scale).clamp(0.0, 1.0) } else { 1.0 }
}

// ---------------------------------------------------------------------------------------------------------
// Swings
// ---------------------------------------------------------------------------------------------------------

/// Whether a swing point is a local high or a local low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwingKind {
    /// Local maximum of `high`.
    High,
    /// Local minimum of `low`.
    Low,
}

/// One swing point: its bar, its price (the bar's high for a swing high, low for a swing low) and kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Swing {
    /// Bar index.
    pub index: usize,
    /// `high[index]` for a swing high, `low[index]` for a swing low.
    pub price: f64,
    /// High or low.
    pub kind: SwingKind,
}

/// Fractal swing points of strength `k = max(strength, 1)`, ordered by bar (a high before a low on one bar).
///
/// Bar `i` is a **swing high** iff `k ≤ i < n−k`, `high[i] > high[j]` for each of the `k` bars `j` before it
/// and `high[i] ≥ high[j]` for each of the `k` bars after it. **Swing low** mirrors this on `low` (`<` before,
/// `≤` after). Ties: a flat top of equal highs yields exactly one swing high, at its first bar (if it is not
/// longer than `k` bars; a longer plateau yields none). The first and last `k` bars are never swings. A bar
/// can be both (outside bar). NaN values fail every comparison, so they are never swings. `n` is the
/// shorter of the two columns.
pub fn swing_points(high: &[f64], low: &[f64], strength: usize) -> Vec<Swing> {
    let k = strength.max(1);
    let n = high.len().min(low.len());
    let mut out = Vec::new();
    if n <= 2 * k {
        return out;
    }
    for i in k..n - k {
        if is_fractal(&high[..n], i, k, |x, y| x > y, |x, y| x >= y) {
            out.push(Swing { index: i, price: high[i], kind: SwingKind::High });
        }
        if is_fractal(&low[..n], i, k, |x, y| x < y, |x, y| x <= y) {
            out.push(Swing { index: i, price: low[i], kind: SwingKind::Low });
        }
    }
    out
}

/// True when `before(v[i], v[j])` holds for the `k` bars before `i` and `after(v[i], v[j])` for the `k` after.
fn is_fractal(v: &[f64], i: usize, k: usize, before: fn(f64, f64) -> bool, after: fn(f64, f64) -> bool) -> bool {
    let x = v[i];
    v[i - k..i].iter().all(|&y| before(x, y)) && v[i + 1..=i + k].iter().all(|&y| after(x, y))
}

/// Alternating pivots: runs of consecutive same-kind swings collapsed to their most extreme member.
///
/// Input must be ordered by bar (as [`swing_points`] returns it). Within a run of highs the highest survives,
/// within a run of lows the lowest; on equal prices the earlier swing survives. The result alternates
/// high/low and is what the pattern detectors work on.
pub fn alternate_swings(swings: &[Swing]) -> Vec<Swing> {
    let mut out: Vec<Swing> = Vec::with_capacity(swings.len());
    for &s in swings {
        match out.last_mut() {
            Some(last) if last.kind == s.kind => {
                let more_extreme = match s.kind {
                    SwingKind::High => s.price > last.price,
                    SwingKind::Low => s.price < last.price,
                };
                if more_extreme {
                    *last = s;
                }
            }
            _ => out.push(s),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Support / resistance
// ---------------------------------------------------------------------------------------------------------

/// Where a level lies relative to the last close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelKind {
    /// Below the last close by more than the tolerance band.
    Support,
    /// Above the last close by more than the tolerance band.
    Resistance,
    /// Within the tolerance band of the last close (price sits on the level).
    Both,
}

/// A support/resistance level: a cluster of swing prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// Mean price of the clustered swings.
    pub price: f64,
    /// Number of swings in the cluster.
    pub touches: usize,
    /// Earliest bar of a clustered swing.
    pub first_index: usize,
    /// Latest bar of a clustered swing.
    pub last_index: usize,
    /// Support, resistance or both, judged against the last close.
    pub kind: LevelKind,
    /// How many of the touches are swing highs (the rest are swing lows).
    pub swing_highs: usize,
}

/// Support/resistance levels from swing prices, strongest first, at most `sr_max_levels`.
///
/// Clustering: swings with finite prices are sorted by price ascending (ties by bar); walking up, a swing
/// joins the current cluster iff `price − mean(cluster) ≤ sr_tolerance_atr × ATR unit at the swing's bar`
/// (fallback: `sr_tolerance_atr × fallback_atr_fraction × price`, i.e. 0.1 % by default), otherwise it
/// starts a new cluster. A cluster with at least `sr_min_touches` swings is a level: price = mean, touches
/// = count, first/last touch = min/max bar. Kind, with `c` the last close and `band = sr_tolerance_atr × ATR
/// unit at the last bar`: `|price − c| ≤ band` → both, `price > c` → resistance, else support. Order: touches
/// descending, then last touch descending (recent first), then price ascending. Empty `close` → no levels.
pub fn support_resistance(swings: &[Swing], close: &[f64], atr: &[f64], cfg: &ChartConfig) -> Vec<Level> {
    let Some(&last_close) = close.last() else {
        return Vec::new();
    };
    let last_bar = close.len() - 1;
    let mut sorted: Vec<Swing> = swings.iter().copied().filter(|s| s.price.is_finite()).collect();
    sorted.sort_by(|a, b| a.price.total_cmp(&b.price).then(a.index.cmp(&b.index)));
    let mut clusters: Vec<Vec<Swing>> = Vec::new();
    for s in sorted {
        let tol = cfg.sr_tolerance_atr * atr_unit(atr, s.index, s.price, cfg.fallback_atr_fraction);
        match clusters.last_mut() {
            Some(c) if s.price - cluster_mean(c) <= tol => c.push(s),
            _ => clusters.push(vec![s]),
        }
    }
    let band = cfg.sr_tolerance_atr * atr_unit(atr, last_bar, last_close, cfg.fallback_atr_fraction);
    let mut levels: Vec<Level> = clusters
        .iter()
        .filter(|c| c.len() >= cfg.sr_min_touches.max(1))
        .map(|c| level_from_cluster(c, last_close, band))
        .collect();
    levels.sort_by(|a, b| {
        b.touches.cmp(&a.touches).then(b.last_index.cmp(&a.last_index)).then(a.price.total_cmp(&b.price))
    });
    levels.truncate(cfg.sr_max_levels);
    levels
}

/// Mean price of a non-empty cluster.
fn cluster_mean(c: &[Swing]) -> f64 {
    c.iter().map(|s| s.price).sum::<f64>() / c.len() as f64
}

/// Builds the [`Level`] of one non-empty cluster.
fn level_from_cluster(c: &[Swing], last_close: f64, band: f64) -> Level {
    let price = cluster_mean(c);
    let kind = if (price - last_close).abs() <= band {
        LevelKind::Both
    } else if price > last_close {
        LevelKind::Resistance
    } else {
        LevelKind::Support
    };
    Level {
        price,
        touches: c.len(),
        first_index: c.iter().map(|s| s.index).min().unwrap_or(0),
        last_index: c.iter().map(|s| s.index).max().unwrap_or(0),
        kind,
        swing_highs: c.iter().filter(|s| s.kind == SwingKind::High).count(),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Patterns: common types
// ---------------------------------------------------------------------------------------------------------

/// The chart patterns this module detects; serialized as snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// Two equal swing highs with a swing low (neckline) between them.
    DoubleTop,
    /// Two equal swing lows with a swing high (neckline) between them.
    DoubleBottom,
    /// Three swing highs, the middle one highest, neckline through the two lows between.
    HeadAndShoulders,
    /// Three swing lows, the middle one lowest, neckline through the two highs between.
    InverseHeadAndShoulders,
    /// Flat upper line, rising lower line.
    AscendingTriangle,
    /// Falling upper line, flat lower line.
    DescendingTriangle,
    /// Falling upper line, rising lower line.
    SymmetricTriangle,
}

impl PatternKind {
    /// The snake_case name used in JSON (`double_top`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::DoubleTop => "double_top",
            Self::DoubleBottom => "double_bottom",
            Self::HeadAndShoulders => "head_and_shoulders",
            Self::InverseHeadAndShoulders => "inverse_head_and_shoulders",
            Self::AscendingTriangle => "ascending_triangle",
            Self::DescendingTriangle => "descending_triangle",
            Self::SymmetricTriangle => "symmetric_triangle",
        }
    }

    /// The kind of a snake_case name, `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Every kind, in declaration order.
    pub const ALL: [Self; 7] = [
        Self::DoubleTop,
        Self::DoubleBottom,
        Self::HeadAndShoulders,
        Self::InverseHeadAndShoulders,
        Self::AscendingTriangle,
        Self::DescendingTriangle,
        Self::SymmetricTriangle,
    ];

    /// True for the three triangle kinds.
    pub fn is_triangle(self) -> bool {
        matches!(self, Self::AscendingTriangle | Self::DescendingTriangle | Self::SymmetricTriangle)
    }

    /// Overlap family for de-duplication: each reversal kind on its own, all triangles together.
    fn family(self) -> u8 {
        match self {
            Self::DoubleTop => 0,
            Self::DoubleBottom => 1,
            Self::HeadAndShoulders => 2,
            Self::InverseHeadAndShoulders => 3,
            _ => 4,
        }
    }
}

/// One detected pattern with its bars, key prices and score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartPattern {
    /// Which pattern.
    pub kind: PatternKind,
    /// First defining pivot's bar (first peak, left shoulder, first pivot of the triangle window).
    pub start: usize,
    /// The confirmation bar when confirmed, otherwise the last defining pivot's bar.
    pub end: usize,
    /// Defining pivots in bar order: double `[peak, trough, peak]`, head and shoulders `[shoulder, trough,
    /// head, trough, shoulder]` (mirrored for the inverse), triangle: the whole pivot window.
    pub pivots: Vec<Swing>,
    /// Key prices ascending: double `[neckline, mean peak]` (top) or `[mean trough, neckline]` (bottom);
    /// head and shoulders: neckline at `end`, mean shoulder, head; triangle: lower and upper line at `end`.
    pub levels: Vec<f64>,
    /// Score in `0..=1`; the formula is in each family's detector doc.
    pub strength: f64,
    /// Whether a close after the pattern confirmed it (see each family).
    pub confirmed: bool,
    /// The confirming bar, when confirmed.
    pub confirm_index: Option<usize>,
    /// [`volatility_state`] at `end`.
    pub volatility: VolatilityState,
    /// [`market_regime`] of the window ending at `end`.
    pub regime: Regime,
}

impl ChartPattern {
    /// Bars of the pivots that identify the pattern for de-duplication: the peaks (tops) or troughs
    /// (bottoms) of doubles and head and shoulders, every pivot of a triangle.
    pub fn defining_indices(&self) -> Vec<usize> {
        let wanted = match self.kind {
            PatternKind::DoubleTop | PatternKind::HeadAndShoulders => Some(SwingKind::High),
            PatternKind::DoubleBottom | PatternKind::InverseHeadAndShoulders => Some(SwingKind::Low),
            _ => None,
        };
        self.pivots.iter().filter(|p| wanted.is_none_or(|k| p.kind == k)).map(|p| p.index).collect()
    }
}

/// Removes heavy overlaps, keeping the strongest, and orders the rest by (start, end, kind).
///
/// Two patterns overlap iff they are in the same family (double top, double bottom, head and shoulders,
/// inverse head and shoulders, or any triangle) and share at least one bar of
/// [`ChartPattern::defining_indices`]. Greedy: patterns sorted by strength descending (ties: later start
/// first, then earlier end) are kept unless they overlap one already kept.
pub fn dedup_patterns(mut patterns: Vec<ChartPattern>) -> Vec<ChartPattern> {
    patterns.sort_by(|a, b| b.strength.total_cmp(&a.strength).then(b.start.cmp(&a.start)).then(a.end.cmp(&b.end)));
    let mut kept: Vec<ChartPattern> = Vec::new();
    for p in patterns {
        let ids = p.defining_indices();
        let overlaps = kept
            .iter()
            .any(|k| k.kind.family() == p.kind.family() && k.defining_indices().iter().any(|i| ids.contains(i)));
        if !overlaps {
            kept.push(p);
        }
    }
    kept.sort_by_key(|p| (p.start, p.end, p.kind));
    kept
}

/// Tops (made of swing highs, `s = +1`) or bottoms (made of swing lows, `s = −1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Double top, head and shoulders.
    Top,
    /// Double bottom, inverse head and shoulders.
    Bottom,
}

impl Side {
    /// `+1` for tops, `−1` for bottoms.
    fn sign(self) -> f64 {
        match self {
            Self::Top => 1.0,
            Self::Bottom => -1.0,
        }
    }

    /// Kind of the peaks of this side.
    fn peak(self) -> SwingKind {
        match self {
            Self::Top => SwingKind::High,
            Self::Bottom => SwingKind::Low,
        }
    }
}

/// Attaches the volatility and regime at the pattern's `end` bar.
fn with_context(mut p: ChartPattern, input: &ChartInput<'_>, cfg: &ChartConfig) -> ChartPattern {
    p.volatility = volatility_state(input.atr, p.end, cfg).state;
    p.regime = market_regime(input.close, input.atr, p.end, cfg).regime;
    p
}

// ---------------------------------------------------------------------------------------------------------
// Double top / bottom
// ---------------------------------------------------------------------------------------------------------

/// Double tops and bottoms among alternating `pivots`, de-duplicated with [`dedup_patterns`].
///
/// A **double top** is two swing highs `a` before `b` (signed prices for bottoms) with:
/// - `min_pattern_bars ≤ b − a ≤ max_pattern_bars` (bars);
/// - every pivot high strictly between them is below both (the two peaks dominate the interval);
/// - `|a − b| ≤ double_peak_tolerance_atr × ATR unit at b`;
/// - neckline `t` = the lowest pivot low between them, and `min(a, b) − t ≥ min_depth_atr` ATR.
///
/// Confirmation: the bars after `b` are scanned in order to the end of the data; a close strictly above
/// `max(a, b)` invalidates (the pattern is dropped); otherwise the first close strictly below `t` on a bar
/// `≤ b + (b − a)` confirms; neither means still forming.
///
/// Strength = `0.4 × (1 − |a − b| / tolerance) + 0.3 × min(1, depth_atr / (2 × min_depth_atr)) + 0.3 ×
/// confirmed`. Double bottoms mirror everything (swing lows, the highest high between as neckline, closes
/// above it confirm, closes below the lower trough invalidate).
pub fn double_tops_bottoms(pivots: &[Swing], input: &ChartInput<'_>, cfg: &ChartConfig) -> Vec<ChartPattern> {
    let mut out = Vec::new();
    for side in [Side::Top, Side::Bottom] {
        for (ai, a) in pivots.iter().enumerate().filter(|(_, p)| p.kind == side.peak()) {
            out.extend(doubles_from(a, &pivots[ai + 1..], side, input, cfg));
        }
    }
    dedup_patterns(out)
}

/// All double patterns whose first peak is `a`, scanning the pivots after it.
fn doubles_from(a: &Swing, rest: &[Swing], side: Side, input: &ChartInput<'_>, cfg: &ChartConfig) -> Vec<ChartPattern> {
    let s = side.sign();
    let mut out = Vec::new();
    let mut inner_max = f64::NEG_INFINITY;
    let mut trough: Option<Swing> = None;
    for b in rest {
        let span = b.index.saturating_sub(a.index);
        if span > cfg.max_pattern_bars {
            break;
        }
        if b.kind != side.peak() {
            if trough.is_none_or(|t| s * b.price < s * t.price) {
                trough = Some(*b);
            }
            continue;
        }
        if s * b.price > inner_max
            && span >= cfg.min_pattern_bars
            && let Some(t) = trough
            && let Some(p) = double_candidate(a, &t, b, side, input, cfg)
        {
            out.push(p);
        }
        inner_max = inner_max.max(s * b.price);
        if inner_max >= s * a.price {
            break;
        }
    }
    out
}

/// Checks tolerance, depth and confirmation of one (peak, trough, peak) triple.
fn double_candidate(
    a: &Swing,
    t: &Swing,
    b: &Swing,
    side: Side,
    input: &ChartInput<'_>,
    cfg: &ChartConfig,
) -> Option<ChartPattern> {
    let s = side.sign();
    let unit = atr_unit(input.atr, b.index, b.price, cfg.fallback_atr_fraction);
    let tol = cfg.double_peak_tolerance_atr * unit;
    let diff = (a.price - b.price).abs();
    let depth_atr = ((s * a.price).min(s * b.price) - s * t.price) / unit;
    if !(diff <= tol && depth_atr >= cfg.min_depth_atr) {
        return None;
    }
    let top = (s * a.price).max(s * b.price);
    let confirm_index = reversal_confirmation(input.close, b.index, b.index - a.index, s, top, |_| t.price)?;
    let equality = if tol > 0.0 { 1.0 - diff / tol } else { 1.0 };
    let depth = ratio01(depth_atr, 2.0 * cfg.min_depth_atr);
    let confirmed = confirm_index.is_some();
    let mut levels = vec![t.price, (a.price + b.price) / 2.0];
    levels.sort_by(f64::total_cmp);
    let pattern = ChartPattern {
        kind: if side == Side::Top { PatternKind::DoubleTop } else { PatternKind::DoubleBottom },
        start: a.index,
        end: confirm_index.unwrap_or(b.index),
        pivots: vec![*a, *t, *b],
        levels,
        strength: 0.4 * equality + 0.3 * depth + 0.3 * f64::from(u8::from(confirmed)),
        confirmed,
        confirm_index,
        volatility: VolatilityState::Unknown,
        regime: Regime::Unknown,
    };
    Some(with_context(pattern, input, cfg))
}

// ---------------------------------------------------------------------------------------------------------
// Head and shoulders
// ---------------------------------------------------------------------------------------------------------

/// Head and shoulders and inverse among alternating `pivots`, de-duplicated with [`dedup_patterns`].
///
/// A **head and shoulders** is three swing highs — left shoulder `l`, head `h`, right shoulder `r` — (signed
/// prices for the inverse) with:
/// - `l` higher than every pivot high between `l` and `h`, and `r` higher than every pivot high between `h`
///   and `r` (so the head is the highest high of the whole pattern);
/// - `min_pattern_bars ≤ r − l ≤ max_pattern_bars`;
/// - `h − max(l, r) ≥ hs_head_min_atr` ATR and `|l − r| ≤ hs_shoulder_tolerance_atr` ATR (ATR unit at `r`);
/// - troughs `t1`, `t2` = the lowest pivot low between `l`–`h` and `h`–`r`; `min(l, r) − max(t1, t2) ≥
///   min_depth_atr` ATR; the neckline is the straight line through `t1` and `t2`.
///
/// Confirmation: the bars after `r` are scanned in order to the end of the data; a close strictly above `h`
/// invalidates (dropped); otherwise the first close strictly below the neckline at that bar, on a bar
/// `≤ r + (r − l)`, confirms; neither means still forming. The inverse mirrors all of this (swing lows, closes
/// above the neckline confirm, closes below the head invalidate).
///
/// Strength = `0.3 × (1 − |l − r| / shoulder tolerance) + 0.2 × min(1, prominence_atr / (2 ×
/// hs_head_min_atr)) + 0.2 × min(1, depth_atr / (2 × min_depth_atr)) + 0.3 × confirmed`, where prominence =
/// `h − max(l, r)` and depth = `min(l, r) − max(t1, t2)`.
pub fn head_and_shoulders(pivots: &[Swing], input: &ChartInput<'_>, cfg: &ChartConfig) -> Vec<ChartPattern> {
    let mut out = Vec::new();
    for side in [Side::Top, Side::Bottom] {
        for (hi, h) in pivots.iter().enumerate().filter(|(_, p)| p.kind == side.peak()) {
            let lefts = shoulders(h, pivots[..hi].iter().rev(), side, cfg);
            let rights = shoulders(h, pivots[hi + 1..].iter(), side, cfg);
            for (l, t1) in &lefts {
                for (r, t2) in &rights {
                    out.extend(hs_candidate([l, t1, h, t2, r], side, input, cfg));
                }
            }
        }
    }
    dedup_patterns(out)
}

/// Shoulder candidates walking away from the head `h`: each peak that is a running record (above every peak
/// between it and the head), paired with the extreme trough between it and the head; stops at a peak not
/// below the head or beyond `max_pattern_bars`.
fn shoulders<'a>(
    h: &Swing,
    walk: impl Iterator<Item = &'a Swing>,
    side: Side,
    cfg: &ChartConfig,
) -> Vec<(Swing, Swing)> {
    let s = side.sign();
    let mut out = Vec::new();
    let mut record = f64::NEG_INFINITY;
    let mut trough: Option<Swing> = None;
    for p in walk {
        if p.index.abs_diff(h.index) > cfg.max_pattern_bars {
            break;
        }
        if p.kind != side.peak() {
            if trough.is_none_or(|t| s * p.price < s * t.price) {
                trough = Some(*p);
            }
        } else if s * p.price >= s * h.price {
            break;
        } else if s * p.price > record {
            record = s * p.price;
            if let Some(t) = trough {
                out.push((*p, t));
            }
        }
    }
    out
}

/// Checks one `[l, t1, h, t2, r]` candidate and its confirmation.
fn hs_candidate(
    [l, t1, h, t2, r]: [&Swing; 5],
    side: Side,
    input: &ChartInput<'_>,
    cfg: &ChartConfig,
) -> Option<ChartPattern> {
    let s = side.sign();
    let span = r.index - l.index;
    if span < cfg.min_pattern_bars || span > cfg.max_pattern_bars {
        return None;
    }
    let unit = atr_unit(input.atr, r.index, r.price, cfg.fallback_atr_fraction);
    let shoulder_tol = cfg.hs_shoulder_tolerance_atr * unit;
    let diff = (l.price - r.price).abs();
    let prominence_atr = (s * h.price - (s * l.price).max(s * r.price)) / unit;
    let depth_atr = ((s * l.price).min(s * r.price) - (s * t1.price).max(s * t2.price)) / unit;
    if !(diff <= shoulder_tol && prominence_atr >= cfg.hs_head_min_atr && depth_atr >= cfg.min_depth_atr) {
        return None;
    }
    let neck_slope = (t2.price - t1.price) / (t2.index - t1.index) as f64;
    let neckline = |x: usize| t1.price + neck_slope * (x as f64 - t1.index as f64);
    let confirm_index = reversal_confirmation(input.close, r.index, span, s, s * h.price, neckline)?;
    let confirmed = confirm_index.is_some();
    let end = confirm_index.unwrap_or(r.index);
    let symmetry = if shoulder_tol > 0.0 { 1.0 - diff / shoulder_tol } else { 1.0 };
    let strength = 0.3 * symmetry
        + 0.2 * ratio01(prominence_atr, 2.0 * cfg.hs_head_min_atr)
        + 0.2 * ratio01(depth_atr, 2.0 * cfg.min_depth_atr)
        + 0.3 * f64::from(u8::from(confirmed));
    let mut levels = vec![neckline(end), (l.price + r.price) / 2.0, h.price];
    levels.sort_by(f64::total_cmp);
    let kind = if side == Side::Top { PatternKind::HeadAndShoulders } else { PatternKind::InverseHeadAndShoulders };
    let pattern = ChartPattern {
        kind,
        start: l.index,
        end,
        pivots: vec![*l, *t1, *h, *t2, *r],
        levels,
        strength,
        confirmed,
        confirm_index,
        volatility: VolatilityState::Unknown,
        regime: Regime::Unknown,
    };
    Some(with_context(pattern, input, cfg))
}

// ---------------------------------------------------------------------------------------------------------
// Triangles
// ---------------------------------------------------------------------------------------------------------

/// Ascending, descending and symmetric triangles over sliding windows of alternating `pivots`.
///
/// Every window of `w = max(triangle_pivots, 5)` consecutive pivots (so at least 2 highs and 2 lows) is
/// tested; `first`/`last` are its first/last pivot bars, `span = last − first`, ATR unit taken at `last`:
/// 1. `min_pattern_bars ≤ span ≤ max_pattern_bars`;
/// 2. least-squares lines through the highs (upper) and the lows (lower), price against bar index;
/// 3. not crossed and converging: `0 < gap(last) < gap(first)` with `gap = upper − lower`;
/// 4. rise of a line = `slope × span` in ATR; flat: `|rise| ≤ triangle_flat_atr`, rising: `rise ≥
///    triangle_slope_atr`, falling: `rise ≤ −triangle_slope_atr`. **Ascending** = flat upper + rising lower;
///    **descending** = falling upper + flat lower; **symmetric** = falling upper + rising lower; anything
///    else (wedges, rectangles, expanding) is no triangle;
/// 5. touches: a pivot within `triangle_touch_atr` ATR of its line; at least 2 touches on each line and
///    at least `w − 1` in total;
/// 6. contained: every close on bars `first..=last` lies within `[lower − tol, upper + tol]`, tol =
///    `triangle_touch_atr` ATR.
///
/// Breakout: bars `last+1 ..= min(last + span, apex, last bar)` are scanned; the first close above `upper +
/// tol` (up) or below `lower − tol` (down) decides. Confirmed iff that first breakout is up for ascending,
/// down for descending, either way for symmetric. Strength = `0.4 × (1 − mean |residual| / tol) + 0.3 ×
/// touches / w + 0.3 × confirmed`. Overlapping windows are then reduced with [`dedup_patterns`] (all
/// triangle kinds are one family, so the strongest reading of a region wins).
pub fn triangles(pivots: &[Swing], input: &ChartInput<'_>, cfg: &ChartConfig) -> Vec<ChartPattern> {
    let w = cfg.triangle_pivots.max(5);
    let found = pivots.windows(w).filter_map(|win| triangle_candidate(win, input, cfg)).collect();
    dedup_patterns(found)
}

/// Classifies a triangle from the rises of its upper and lower lines in ATR (see [`triangles`], step 4).
fn classify_triangle(rise_upper: f64, rise_lower: f64, cfg: &ChartConfig) -> Option<PatternKind> {
    let flat = |r: f64| r.abs() <= cfg.triangle_flat_atr;
    let rising = |r: f64| r >= cfg.triangle_slope_atr;
    let falling = |r: f64| r <= -cfg.triangle_slope_atr;
    if flat(rise_upper) && rising(rise_lower) {
        Some(PatternKind::AscendingTriangle)
    } else if falling(rise_upper) && flat(rise_lower) {
        Some(PatternKind::DescendingTriangle)
    } else if falling(rise_upper) && rising(rise_lower) {
        Some(PatternKind::SymmetricTriangle)
    } else {
        None
    }
}

/// Tests one pivot window for a triangle (see [`triangles`]).
fn triangle_candidate(win: &[Swing], input: &ChartInput<'_>, cfg: &ChartConfig) -> Option<ChartPattern> {
    let (first_pivot, last_pivot) = (win.first()?, win.last()?);
    let (first, last) = (first_pivot.index, last_pivot.index);
    let span = last.checked_sub(first)?;
    if span < cfg.min_pattern_bars || span > cfg.max_pattern_bars {
        return None;
    }
    let points = |kind: SwingKind| -> Vec<(f64, f64)> {
        win.iter().filter(|p| p.kind == kind).map(|p| (p.index as f64, p.price)).collect()
    };
    let upper = Line::fit(&points(SwingKind::High))?;
    let lower = Line::fit(&points(SwingKind::Low))?;
    let gap = |x: usize| upper.at(x as f64) - lower.at(x as f64);
    let (gap_first, gap_last) = (gap(first), gap(last));
    if !(gap_last > 0.0 && gap_first > gap_last) {
        return None;
    }
    let unit = atr_unit(input.atr, last, last_pivot.price, cfg.fallback_atr_fraction);
    let kind = classify_triangle(upper.slope * span as f64 / unit, lower.slope * span as f64 / unit, cfg)?;
    let tol = cfg.triangle_touch_atr * unit;
    let line_of = |p: &Swing| if p.kind == SwingKind::High { upper } else { lower };
    let residuals: Vec<(SwingKind, f64)> =
        win.iter().map(|p| (p.kind, (p.price - line_of(p).at(p.index as f64)).abs())).collect();
    let touches = |kind: SwingKind| residuals.iter().filter(|(k, r)| *k == kind && *r <= tol).count();
    let (touch_hi, touch_lo) = (touches(SwingKind::High), touches(SwingKind::Low));
    if touch_hi < 2 || touch_lo < 2 || touch_hi + touch_lo + 1 < win.len() {
        return None;
    }
    let inside = |c: usize| {
        let x = at(input.close, c);
        x >= lower.at(c as f64) - tol && x <= upper.at(c as f64) + tol
    };
    if !(first..=last).all(inside) {
        return None;
    }
    let apex = first as f64 + gap_first / (gap_first - gap_last) * span as f64;
    let range = confirm_range(last, span.min((apex.floor() as usize).saturating_sub(last)), input.close.len());
    let outcome = scan(range, |c| {
        let x = at(input.close, c);
        let up = x > upper.at(c as f64) + tol;
        let down = x < lower.at(c as f64) - tol;
        let wanted = match kind {
            PatternKind::AscendingTriangle => up,
            PatternKind::DescendingTriangle => down,
            _ => up || down,
        };
        if wanted {
            Some(Outcome::Confirmed(c))
        } else if up || down {
            Some(Outcome::Invalidated)
        } else {
            None
        }
    });
    let confirm_index = match outcome {
        Outcome::Confirmed(c) => Some(c),
        Outcome::Invalidated | Outcome::Open => None,
    };
    let confirmed = confirm_index.is_some();
    let end = confirm_index.unwrap_or(last);
    let mean_residual = residuals.iter().map(|(_, r)| r).sum::<f64>() / residuals.len() as f64;
    let fit = if tol > 0.0 { (1.0 - mean_residual / tol).clamp(0.0, 1.0) } else { 1.0 };
    let strength =
        0.4 * fit + 0.3 * (touch_hi + touch_lo) as f64 / win.len() as f64 + 0.3 * f64::from(u8::from(confirmed));
    let mut levels = vec![lower.at(end as f64), upper.at(end as f64)];
    levels.sort_by(f64::total_cmp);
    let pattern = ChartPattern {
        kind,
        start: first,
        end,
        pivots: win.to_vec(),
        levels,
        strength,
        confirmed,
        confirm_index,
        volatility: VolatilityState::Unknown,
        regime: Regime::Unknown,
    };
    Some(with_context(pattern, input, cfg))
}

// ---------------------------------------------------------------------------------------------------------
// Market regime
// ---------------------------------------------------------------------------------------------------------

/// Trend direction or range; serialized as snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Slope ≥ `regime_slope_atr` ATR/bar and efficiency ≥ `regime_efficiency`.
    TrendUp,
    /// Slope ≤ −`regime_slope_atr` ATR/bar and efficiency ≥ `regime_efficiency`.
    TrendDown,
    /// Neither trend condition holds.
    Range,
    /// Too few bars, a non-finite close, or no usable ATR unit.
    #[default]
    Unknown,
}

impl Regime {
    /// The snake_case name (`trend_up`, `trend_down`, `range`, `unknown`).
    pub fn name(self) -> &'static str {
        match self {
            Self::TrendUp => "trend_up",
            Self::TrendDown => "trend_down",
            Self::Range => "range",
            Self::Unknown => "unknown",
        }
    }
}

/// The regime with the measurements it was judged from.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RegimeReading {
    /// The verdict.
    pub regime: Regime,
    /// Least-squares slope of close against bar index, in ATR per bar (0 when unknown).
    pub slope_atr_per_bar: f64,
    /// Efficiency ratio `|close[last] − close[first]| / Σ |close[i] − close[i−1]|` (0 when unknown or flat).
    pub efficiency: f64,
    /// Number of closes in the window.
    pub bars: usize,
}

/// Market regime of the closes `close[end+1−N ..= end]`, `N = max(regime_bars, 3)` (fewer at the start).
///
/// Unknown when `end` is out of range, fewer than `max(⌈N/2⌉, 3)` closes are available, any close in the
/// window is not finite, or the ATR unit at `end` is unusable. Otherwise `slope` = least-squares slope of
/// close against bar index divided by the ATR unit at `end`, `efficiency` = |net move| / sum of |bar
/// moves| (0 if the sum is 0); trend up iff `slope ≥ regime_slope_atr` and `efficiency ≥
/// regime_efficiency`, trend down iff `slope ≤ −regime_slope_atr` and the same efficiency, else range.
pub fn market_regime(close: &[f64], atr: &[f64], end: usize, cfg: &ChartConfig) -> RegimeReading {
    let n_max = cfg.regime_bars.max(3);
    let start = (end + 1).saturating_sub(n_max);
    let Some(window) = close.get(start..=end) else {
        return RegimeReading::default();
    };
    let unknown = RegimeReading { bars: window.len(), ..RegimeReading::default() };
    if window.len() < n_max.div_ceil(2).max(3) || window.iter().any(|c| !c.is_finite()) {
        return unknown;
    }
    let unit = atr_unit(atr, end, at(close, end), cfg.fallback_atr_fraction);
    let points: Vec<(f64, f64)> = window.iter().enumerate().map(|(i, &c)| (i as f64, c)).collect();
    let Some(line) = Line::fit(&points) else {
        return unknown;
    };
    if !unit.is_finite() {
        return unknown;
    }
    let slope = line.slope / unit;
    let path: f64 = window.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    let net = (window[window.len() - 1] - window[0]).abs();
    let efficiency = if path > 0.0 { net / path } else { 0.0 };
    let trending = efficiency >= cfg.regime_efficiency;
    let regime = if trending && slope >= cfg.regime_slope_atr {
        Regime::TrendUp
    } else if trending && slope <= -cfg.regime_slope_atr {
        Regime::TrendDown
    } else {
        Regime::Range
    };
    RegimeReading { regime, slope_atr_per_bar: slope, efficiency, bars: window.len() }
}

// ---------------------------------------------------------------------------------------------------------
// Volatility
// ---------------------------------------------------------------------------------------------------------

/// Volatility bucket from the ATR percentile; serialized lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolatilityState {
    /// Percentile `< 20`.
    Low,
    /// `20 ≤` percentile `< 70`.
    Normal,
    /// `70 ≤` percentile `< 95`.
    Elevated,
    /// Percentile `≥ 95`.
    Extreme,
    /// The ATR at the bar is not finite, or too few finite ATR values in the window.
    #[default]
    Unknown,
}

impl VolatilityState {
    /// Every state, in declaration order.
    pub const ALL: [Self; 5] = [Self::Low, Self::Normal, Self::Elevated, Self::Extreme, Self::Unknown];

    /// The lowercase name (`low`, `normal`, `elevated`, `extreme`, `unknown`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::Elevated => "elevated",
            Self::Extreme => "extreme",
            Self::Unknown => "unknown",
        }
    }

    /// Bucket of a percentile in `0..=100`: `< 20` low, `< 70` normal, `< 95` elevated, else extreme
    /// (NaN → unknown).
    pub fn from_percentile(p: f64) -> Self {
        if p.is_nan() {
            Self::Unknown
        } else if p < 20.0 {
            Self::Low
        } else if p < 70.0 {
            Self::Normal
        } else if p < 95.0 {
            Self::Elevated
        } else {
            Self::Extreme
        }
    }
}

/// The volatility state with the percentile it was judged from.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct VolatilityReading {
    /// The bucket.
    pub state: VolatilityState,
    /// Mid-rank percentile of the ATR at the bar within the window, `0..=100` (0 when unknown).
    pub percentile: f64,
    /// Number of finite ATR values in the window.
    pub samples: usize,
}

/// Volatility state at bar `end` from the ATR percentile within `atr[end+1−N ..= end]`, `N = volatility_bars`.
///
/// `W` = the finite values of that window (NaN warm-up is skipped), `x = atr[end]`. Unknown when `end` is
/// out of range, `x` is not finite, or `|W| < volatility_min_samples`. Otherwise the mid-rank percentile
/// `p = 100 × (#{v ∈ W : v < x} + ½ × #{v ∈ W : v = x}) / |W|` (`x` itself counts as equal, so a constant
/// series gives 50, a unique maximum of 100 values 99.5) is bucketed by [`VolatilityState::from_percentile`].
pub fn volatility_state(atr: &[f64], end: usize, cfg: &ChartConfig) -> VolatilityReading {
    let start = (end + 1).saturating_sub(cfg.volatility_bars.max(1));
    let Some(window) = atr.get(start..=end) else {
        return VolatilityReading::default();
    };
    let values: Vec<f64> = window.iter().copied().filter(|v| v.is_finite()).collect();
    let x = at(atr, end);
    if !x.is_finite() || values.is_empty() || values.len() < cfg.volatility_min_samples {
        return VolatilityReading { samples: values.len(), ..VolatilityReading::default() };
    }
    let less = values.iter().filter(|&&v| v < x).count() as f64;
    let equal = values.iter().filter(|&&v| v == x).count() as f64;
    let percentile = 100.0 * (less + 0.5 * equal) / values.len() as f64;
    VolatilityReading { state: VolatilityState::from_percentile(percentile), percentile, samples: values.len() }
}

// ---------------------------------------------------------------------------------------------------------
// Analysis and findings
// ---------------------------------------------------------------------------------------------------------

/// Everything [`analyze`] found on one chart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChartAnalysis {
    /// All fractal swing points ([`swing_points`]).
    pub swings: Vec<Swing>,
    /// Alternating pivots ([`alternate_swings`]) the patterns are built from.
    pub pivots: Vec<Swing>,
    /// Support/resistance levels, strongest first ([`support_resistance`]).
    pub levels: Vec<Level>,
    /// De-duplicated patterns of every family, ordered by (start, end, kind).
    pub patterns: Vec<ChartPattern>,
    /// Regime at the last bar ([`market_regime`]).
    pub regime: RegimeReading,
    /// Volatility at the last bar ([`volatility_state`]).
    pub volatility: VolatilityReading,
}

/// Runs every detector on validated input; unequal or empty columns give a [`ChartError`] (never a panic).
///
/// Swings use `swing_strength`; levels are clustered from all swings; patterns from the alternating pivots
/// (doubles, head and shoulders, triangles), then [`dedup_patterns`] across all families; regime and
/// volatility at the last bar.
pub fn analyze(input: ChartInput<'_>, cfg: &ChartConfig) -> Result<ChartAnalysis, ChartError> {
    let n = input.validate()?;
    let swings = swing_points(input.high, input.low, cfg.swing_strength);
    let pivots = alternate_swings(&swings);
    let levels = support_resistance(&swings, input.close, input.atr, cfg);
    let mut patterns = double_tops_bottoms(&pivots, &input, cfg);
    patterns.extend(head_and_shoulders(&pivots, &input, cfg));
    patterns.extend(triangles(&pivots, &input, cfg));
    Ok(ChartAnalysis {
        swings,
        pivots,
        levels,
        patterns: dedup_patterns(patterns),
        regime: market_regime(input.close, input.atr, n - 1, cfg),
        volatility: volatility_state(input.atr, n - 1, cfg),
    })
}

impl ChartAnalysis {
    /// One [`ChartFinding`] per pattern; a pattern whose `start` or `end` bar has no entry in `time_ns` is
    /// skipped.
    pub fn findings(&self, time_ns: &[i64]) -> Vec<ChartFinding> {
        self.patterns
            .iter()
            .filter_map(|p| {
                let (start, end) = (time_ns.get(p.start)?, time_ns.get(p.end)?);
                Some(ChartFinding {
                    pattern: p.kind.name().to_owned(),
                    strength: p.strength,
                    volatility: p.volatility.name().to_owned(),
                    support_resistance: p.levels.clone(),
                    start: rfc3339_utc(*start),
                    end: rfc3339_utc(*end),
                    confirmed: Some(p.confirmed),
                    regime: Some(p.regime.name().to_owned()),
                })
            })
            .collect()
    }
}

/// One pattern in the JSON shape shared with the vision model.
///
/// `pattern` is a [`PatternKind::name`] (kept a string so foreign names from a model still parse),
/// `strength` in `0..=1`, `volatility` a [`VolatilityState::name`], `support_resistance` the pattern's key
/// prices ascending at full precision, `start`/`end` RFC 3339 UTC with `Z`. The optional `confirmed` and
/// `regime` are omitted when `None` and default to `None` when absent. Floats are written at full
/// precision (shortest round-trip text); serde_json reads them back exactly only with its `float_roundtrip`
/// feature, otherwise to within 1 ULP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartFinding {
    /// Pattern name, e.g. `double_top`.
    pub pattern: String,
    /// Score in `0..=1`.
    pub strength: f64,
    /// Volatility bucket at the pattern's end, e.g. `elevated`.
    pub volatility: String,
    /// Key price levels, ascending.
    pub support_resistance: Vec<f64>,
    /// First bar's time, e.g. `2018-03-01T10:00:00Z`.
    pub start: String,
    /// Last bar's time, e.g. `2018-03-09T14:00:00Z`.
    pub end: String,
    /// Whether the pattern is confirmed (`false` = still forming).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    /// [`Regime::name`] at the pattern's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regime: Option<String>,
}

/// JSON Schema of a findings array (what a model asked for chart findings must produce): pattern, volatility and
/// regime names from their enums, strength in `0..=1`, positive levels, RFC 3339 UTC times, at most 20 findings.
pub fn findings_json_schema() -> serde_json::Value {
    let patterns: Vec<&str> = PatternKind::ALL.iter().map(|k| k.name()).collect();
    let volatility: Vec<&str> = VolatilityState::ALL.iter().map(|v| v.name()).collect();
    let regimes: Vec<&str> =
        [Regime::TrendUp, Regime::TrendDown, Regime::Range, Regime::Unknown].iter().map(|r| r.name()).collect();
    let rfc3339_utc =
        "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z$";
    serde_json::json!({
        "type": "array",
        "maxItems": 20,
        "items": {
            "type": "object",
            "properties": {
                "pattern": {"enum": patterns},
                "strength": {"type": "number", "minimum": 0, "maximum": 1},
                "volatility": {"enum": volatility},
                "support_resistance": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "maxItems": 8},
                "start": {"type": "string", "pattern": rfc3339_utc},
                "end": {"type": "string", "pattern": rfc3339_utc},
                "confirmed": {"type": "boolean"},
                "regime": {"enum": regimes}
            },
            "required": ["pattern", "strength", "volatility", "support_resistance", "start", "end"],
            "additionalProperties": false
        }
    })
}

/// Parses bare findings JSON: an array of [`ChartFinding`] objects, or a single object (text not starting
/// with `[` after whitespace).
pub fn parse_findings(json: &str) -> Result<Vec<ChartFinding>, serde_json::Error> {
    if json.trim_start().starts_with('[') {
        serde_json::from_str(json)
    } else {
        serde_json::from_str(json).map(|f| vec![f])
    }
}

/// What an analyst reads in one chart: the findings document shared by the vision model (`aio vision`) and the
/// rule-based pattern engine ([`ChartAnalysis::reading`]), so the orchestrator treats both alike.
///
/// `pattern` is a [`PatternKind::name`] or `none`; `strength` and `confidence` lie in `0..=1`; `volatility` is a
/// [`VolatilityState::name`]; `support_resistance` holds at most 8 positive prices, ascending; `trend` is `up`,
/// `down`, `sideways` or `unknown`; `timeframe_hint` a bar size such as `H1` (or `unknown`); `notes` at most 400
/// characters of plain text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartReading {
    /// The most significant pattern, or `none`.
    pub pattern: String,
    /// How clear the pattern is, `0..=1`.
    pub strength: f64,
    /// Volatility bucket at the last bar.
    pub volatility: String,
    /// Key support and resistance prices, ascending.
    pub support_resistance: Vec<f64>,
    /// Direction of the visible move.
    pub trend: String,
    /// Bar size the chart appears to show.
    pub timeframe_hint: String,
    /// The analyst's confidence in this reading, `0..=1`.
    pub confidence: f64,
    /// Free-text remarks for the trader.
    pub notes: String,
}

/// Trend names of [`ChartReading::trend`].
pub const READING_TRENDS: [&str; 4] = ["up", "down", "sideways", "unknown"];

/// Timeframe names of [`ChartReading::timeframe_hint`].
pub const READING_TIMEFRAMES: [&str; 10] = ["M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1", "MN1", "unknown"];

/// JSON Schema of a [`ChartReading`]: the enums above and the pattern and volatility names, bounded numbers and
/// lengths, every field required, in the struct's order.
pub fn chart_reading_schema() -> serde_json::Value {
    let mut patterns: Vec<&str> = PatternKind::ALL.iter().map(|k| k.name()).collect();
    patterns.push("none");
    let volatility: Vec<&str> = VolatilityState::ALL.iter().map(|v| v.name()).collect();
    serde_json::json!({
        "type": "object",
        "properties": {
            "pattern": {"enum": patterns},
            "strength": {"type": "number", "minimum": 0, "maximum": 1},
            "volatility": {"enum": volatility},
            "support_resistance": {
                "type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e9}, "maxItems": 8
            },
            "trend": {"enum": READING_TRENDS},
            "timeframe_hint": {"enum": READING_TIMEFRAMES},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "notes": {"type": "string", "maxLength": 400}
        },
        "required": ["pattern", "strength", "volatility", "support_resistance", "trend", "timeframe_hint",
                     "confidence", "notes"],
        "additionalProperties": false
    })
}

impl ChartReading {
    /// Checks a reading against [`chart_reading_schema`]'s rules; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.pattern != "none" && PatternKind::from_name(&self.pattern).is_none() {
            return Err(format!("pattern: {:?} is not a known pattern or none", self.pattern));
        }
        for (name, v) in [("strength", self.strength), ("confidence", self.confidence)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name}: {v} is outside 0..=1"));
            }
        }
        if !VolatilityState::ALL.iter().any(|v| v.name() == self.volatility) {
            return Err(format!("volatility: {:?} is not a volatility bucket", self.volatility));
        }
        if self.support_resistance.len() > 8 || self.support_resistance.iter().any(|p| !(p.is_finite() && *p > 0.0)) {
            return Err("support_resistance: at most 8 positive prices".into());
        }
        if !READING_TRENDS.contains(&self.trend.as_str()) {
            return Err(format!("trend: {:?} is not one of {READING_TRENDS:?}", self.trend));
        }
        if !READING_TIMEFRAMES.contains(&self.timeframe_hint.as_str()) {
            return Err(format!("timeframe_hint: {:?} is not one of {READING_TIMEFRAMES:?}", self.timeframe_hint));
        }
        if self.notes.chars().count() > 400 {
            return Err("notes: longer than 400 characters".into());
        }
        Ok(())
    }
}

impl ChartAnalysis {
    /// The rule-based [`ChartReading`]: the strongest pattern ending in the last quarter of the bars (else the
    /// strongest at all, else `none`), the regime as the trend, the volatility at the last bar, the strongest
    /// levels, and a confidence from the pattern's strength and how settled the regime is. `timeframe` is the
    /// chart's bar size (`H1`, …; anything unknown becomes `unknown`); `bars` the number of bars analysed.
    pub fn reading(&self, timeframe: &str, bars: usize) -> ChartReading {
        let recent_from = bars - bars / 4;
        let strongest = |recent: bool| {
            self.patterns
                .iter()
                .filter(|p| !recent || p.end >= recent_from)
                .max_by(|a, b| a.strength.total_cmp(&b.strength).then(a.end.cmp(&b.end)))
        };
        let pattern = strongest(true).or_else(|| strongest(false));
        let trend = match self.regime.regime {
            Regime::TrendUp => "up",
            Regime::TrendDown => "down",
            Regime::Range => "sideways",
            Regime::Unknown => "unknown",
        };
        let mut levels: Vec<f64> =
            self.levels.iter().map(|l| l.price).filter(|p| p.is_finite() && *p > 0.0).take(8).collect();
        levels.sort_by(f64::total_cmp);
        let settled = self.regime.efficiency.clamp(0.0, 1.0);
        let (name, strength) = match pattern {
            Some(p) => (p.kind.name(), p.strength.clamp(0.0, 1.0)),
            None => ("none", 0.0),
        };
        let confidence = match pattern {
            Some(p) => (0.6 * p.strength + 0.2 * settled + if p.confirmed { 0.2 } else { 0.0 }).clamp(0.0, 1.0),
            None => (0.3 * settled).clamp(0.0, 1.0),
        };
        let timeframe_hint =
            READING_TIMEFRAMES.iter().find(|t| t.eq_ignore_ascii_case(timeframe)).copied().unwrap_or("unknown");
        let mut notes = match pattern {
            Some(p) => format!(
                "{} {} (strength {:.2}) over bars {}..={}; regime {}, volatility {}; {} support/resistance levels.",
                if p.confirmed { "Confirmed" } else { "Forming" },
                p.kind.name().replace('_', " "),
                p.strength,
                p.start,
                p.end,
                self.regime.regime.name(),
                self.volatility.state.name(),
                levels.len()
            ),
            None => format!(
                "No chart pattern; regime {}, volatility {}; {} support/resistance levels.",
                self.regime.regime.name(),
                self.volatility.state.name(),
                levels.len()
            ),
        };
        notes.truncate(400);
        ChartReading {
            pattern: name.to_owned(),
            strength,
            volatility: self.volatility.state.name().to_owned(),
            support_resistance: levels,
            trend: trend.to_owned(),
            timeframe_hint: timeframe_hint.to_owned(),
            confidence,
            notes,
        }
    }
}

/// RFC 3339 UTC text of a nanosecond timestamp with a `Z` suffix; fractional seconds only when non-zero.
pub fn rfc3339_utc(time_ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(time_ns).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Constant ATR of every constructed series (10 pips on a 1.1 price).
    const ATR: f64 = 0.0010;
    /// 2018-03-01T10:00:00Z in nanoseconds.
    const T0_NS: i64 = 1_519_898_400_000_000_000;
    /// One hour in nanoseconds (bar spacing).
    const HOUR_NS: i64 = 3_600_000_000_000;

    /// Deterministic 64-bit LCG (Knuth's MMIX constants) for tiny noise.
    struct Lcg(u64);

    impl Lcg {
        /// Uniform value in `[-1, 1)`.
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    /// Piecewise-linear interpolation through `(bar, price)` anchors, clamped at both ends.
    fn path(anchors: &[(usize, f64)], x: f64) -> f64 {
        if x <= anchors[0].0 as f64 {
            return anchors[0].1;
        }
        for w in anchors.windows(2) {
            let ((xa, ya), (xb, yb)) = (w[0], w[1]);
            if x <= xb as f64 {
                return ya + (yb - ya) * (x - xa as f64) / (xb - xa) as f64;
            }
        }
        anchors[anchors.len() - 1].1
    }

    /// Owned columns of a constructed series.
    struct Bars {
        time_ns: Vec<i64>,
        open: Vec<f64>,
        high: Vec<f64>,
        low: Vec<f64>,
        close: Vec<f64>,
        atr: Vec<f64>,
    }

    impl Bars {
        fn input(&self) -> ChartInput<'_> {
            ChartInput {
                time_ns: &self.time_ns,
                open: &self.open,
                high: &self.high,
                low: &self.low,
                close: &self.close,
                atr: &self.atr,
            }
        }
    }

    /// Hourly bars through the anchors (last anchor = last bar): close = path(i), open = path(i − ½), each
    /// ±0.3 µ-price noise, wicks 2 ± 0.3 hundredths of a pip; constant ATR.
    fn bars(anchors: &[(usize, f64)], seed: u64) -> Bars {
        let n = anchors.last().map_or(0, |a| a.0 + 1);
        let mut rng = Lcg(seed);
        let mut b = Bars {
            time_ns: Vec::new(),
            open: Vec::new(),
            high: Vec::new(),
            low: Vec::new(),
            close: Vec::new(),
            atr: vec![ATR; n],
        };
        for i in 0..n {
            let o = path(anchors, i as f64 - 0.5) + 0.000_003 * rng.next();
            let c = path(anchors, i as f64) + 0.000_003 * rng.next();
            let wick = 0.000_02 + 0.000_003 * rng.next();
            b.time_ns.push(T0_NS + i as i64 * HOUR_NS);
            b.open.push(o);
            b.close.push(c);
            b.high.push(o.max(c) + wick);
            b.low.push(o.min(c) - wick);
        }
        b
    }

    /// Anchors reflected around 1.1 (tops become bottoms).
    fn mirror(anchors: &[(usize, f64)]) -> Vec<(usize, f64)> {
        anchors.iter().map(|&(x, y)| (x, 2.2 - y)).collect()
    }

    fn run(b: &Bars) -> ChartAnalysis {
        analyze(b.input(), &ChartConfig::default()).expect("constructed input is valid")
    }

    fn kinds(a: &ChartAnalysis) -> Vec<PatternKind> {
        a.patterns.iter().map(|p| p.kind).collect()
    }

    fn pivot_bars(p: &ChartPattern) -> Vec<usize> {
        p.pivots.iter().map(|s| s.index).collect()
    }

    fn close_to(x: f64, y: f64, eps: f64) -> bool {
        (x - y).abs() <= eps
    }

    const DOUBLE_TOP: [(usize, f64); 6] =
        [(0, 1.0900), (20, 1.1000), (35, 1.0940), (50, 1.1002), (65, 1.0900), (70, 1.0920)];
    const HEAD_SHOULDERS: [(usize, f64); 8] =
        [(0, 1.0900), (20, 1.1000), (30, 1.0950), (40, 1.1050), (50, 1.0950), (60, 1.1000), (80, 1.0880), (85, 1.0900)];
    const ASCENDING: [(usize, f64); 13] = [
        (0, 1.0950),
        (10, 1.0900),
        (20, 1.1000),
        (30, 1.0920),
        (40, 1.1000),
        (50, 1.0940),
        (60, 1.1000),
        (70, 1.0960),
        (80, 1.1000),
        (85, 1.0975),
        (95, 1.1050),
        (100, 1.1040),
        (105, 1.1045),
    ];
    const SYMMETRIC: [(usize, f64); 12] = [
        (0, 1.0950),
        (10, 1.1100),
        (20, 1.0900),
        (30, 1.1080),
        (40, 1.0920),
        (50, 1.1060),
        (60, 1.0940),
        (70, 1.1040),
        (80, 1.0960),
        (85, 1.1025),
        (95, 1.0880),
        (100, 1.0900),
    ];

    #[test]
    fn swings_on_hand_series_with_ties() {
        let high = [1.0, 2.0, 3.0, 3.0, 2.0, 1.0, 2.0, 4.0, 4.0, 4.0, 1.0, 0.5];
        let low = [5.0, 4.0, 3.0, 4.0, 2.0, 2.0, 3.0, 1.0, 2.0, 0.5, 0.5, 0.9];
        let swings = swing_points(&high, &low, 2);
        let got: Vec<(usize, SwingKind)> = swings.iter().map(|s| (s.index, s.kind)).collect();
        // Plateaus 2–3 (highs), 4–5 (lows), 7–9 (highs), 9–10 (lows): each one swing at its first bar.
        assert_eq!(got, vec![(2, SwingKind::High), (4, SwingKind::Low), (7, SwingKind::High), (9, SwingKind::Low)]);
        assert_eq!(swings[2].price, 4.0);
        assert_eq!(swings[3].price, 0.5);
        // k = 1: the maximum on the last bar is never a swing, the interior peak is.
        let s1 = swing_points(&[1.0, 3.0, 2.0, 5.0], &[0.0, 0.0, 0.0, 0.0], 1);
        assert_eq!(s1.iter().filter(|s| s.kind == SwingKind::High).map(|s| s.index).collect::<Vec<_>>(), vec![1]);
        // strength 0 behaves as 1; too short or NaN input gives nothing.
        assert_eq!(swing_points(&[1.0, 3.0, 2.0], &[1.0, 3.0, 2.0], 0).len(), 1);
        assert!(swing_points(&[1.0, 3.0], &[1.0, 3.0], 1).is_empty());
        assert!(swing_points(&[1.0, f64::NAN, 0.5], &[1.0, f64::NAN, 2.0], 1).is_empty());
        // Unequal columns: only the common prefix is used.
        assert_eq!(swing_points(&[1.0, 3.0, 2.0, 9.0, 1.0], &[1.0, 3.0, 2.0], 1).len(), 1);
    }

    #[test]
    fn alternation_keeps_most_extreme_and_earlier_on_ties() {
        let sw = |index, price, kind| Swing { index, price, kind };
        let (h, l) = (SwingKind::High, SwingKind::Low);
        let input = [sw(1, 2.0, h), sw(3, 2.5, h), sw(5, 1.0, l), sw(6, 0.9, l), sw(8, 2.0, h), sw(9, 2.0, h)];
        let got = alternate_swings(&input);
        assert_eq!(got, vec![sw(3, 2.5, h), sw(6, 0.9, l), sw(8, 2.0, h)]);
    }

    #[test]
    fn support_counts_four_bounces_off_1_1000() {
        let anchors = [
            (0, 1.1030),
            (10, 1.1000),
            (20, 1.1060),
            (30, 1.1001),
            (40, 1.1080),
            (50, 1.0999),
            (60, 1.1045),
            (70, 1.1000),
            (80, 1.1100),
            (85, 1.1090),
        ];
        let a = run(&bars(&anchors, 7));
        assert_eq!(a.levels.len(), 1, "only the 1.1000 cluster has two or more touches: {:?}", a.levels);
        let lvl = &a.levels[0];
        assert_eq!(lvl.touches, 4);
        assert_eq!((lvl.first_index, lvl.last_index), (10, 70));
        assert_eq!(lvl.swing_highs, 0);
        assert_eq!(lvl.kind, LevelKind::Support);
        assert!(close_to(lvl.price, 1.1000, 0.0001), "{}", lvl.price);

        // Ordering, kinds against the last close, and the relative fallback when ATR is NaN.
        let sw = |index, price| Swing { index, price, kind: SwingKind::Low };
        let swings = [sw(1, 1.2000), sw(2, 1.2005), sw(3, 1.1000), sw(4, 1.1004), sw(5, 1.1001), sw(6, 1.0500)];
        let close = [1.1002; 8];
        let levels = support_resistance(&swings, &close, &[f64::NAN; 8], &ChartConfig::default());
        let got: Vec<(usize, LevelKind)> = levels.iter().map(|l| (l.touches, l.kind)).collect();
        assert_eq!(got, vec![(3, LevelKind::Both), (2, LevelKind::Resistance)]);
        assert!(support_resistance(&swings, &[], &[], &ChartConfig::default()).is_empty());
    }

    #[test]
    fn textbook_double_top_is_found_and_confirmed() {
        let b = bars(&DOUBLE_TOP, 1);
        let a = run(&b);
        assert_eq!(kinds(&a), vec![PatternKind::DoubleTop]);
        let p = &a.patterns[0];
        assert_eq!(pivot_bars(p), vec![20, 35, 50]);
        assert!(p.confirmed);
        assert_eq!(p.confirm_index, Some(60));
        assert_eq!((p.start, p.end), (20, 60));
        assert!(close_to(p.levels[0], 1.0940, 0.0001) && close_to(p.levels[1], 1.1001, 0.0001), "{:?}", p.levels);
        // 0.4 × (1 − 0.2 ATR / 1 ATR) + 0.3 × 1 + 0.3 × 1 ≈ 0.92.
        assert!(close_to(p.strength, 0.92, 0.01), "{}", p.strength);
        assert_eq!(p.volatility, VolatilityState::Normal);
    }

    #[test]
    fn double_top_is_rejected_when_peaks_differ_by_three_atr() {
        let mut anchors = DOUBLE_TOP;
        anchors[3].1 = 1.1000 + 3.0 * ATR;
        let a = run(&bars(&anchors, 1));
        assert!(!kinds(&a).contains(&PatternKind::DoubleTop), "{:?}", a.patterns);
    }

    #[test]
    fn double_top_forming_and_invalidated() {
        // No neckline break within 30 bars after the second peak: forming.
        let forming = [(0, 1.0900), (20, 1.1000), (35, 1.0940), (50, 1.1002), (60, 1.0960), (70, 1.0980)];
        let a = run(&bars(&forming, 3));
        assert_eq!(kinds(&a), vec![PatternKind::DoubleTop]);
        assert!(!a.patterns[0].confirmed);
        assert_eq!(a.patterns[0].end, 50);
        assert!(close_to(a.patterns[0].strength, 0.62, 0.01), "{}", a.patterns[0].strength);
        // Exceeded later, long after the confirmation window: dropped as well.
        let late = [(0, 1.0900), (20, 1.1000), (35, 1.0940), (50, 1.1002), (60, 1.0960), (80, 1.0980), (95, 1.1030)];
        assert!(!kinds(&run(&bars(&late, 3))).contains(&PatternKind::DoubleTop));
        // A close 2 ATR above the peaks before any break: dropped.
        let broken = [(0, 1.0900), (20, 1.1000), (35, 1.0940), (50, 1.1002), (55, 1.0980), (65, 1.1025), (70, 1.1)];
        assert!(!kinds(&run(&bars(&broken, 3))).contains(&PatternKind::DoubleTop));
    }

    #[test]
    fn double_bottom_mirrors_double_top() {
        let a = run(&bars(&mirror(&DOUBLE_TOP), 2));
        assert_eq!(kinds(&a), vec![PatternKind::DoubleBottom]);
        let p = &a.patterns[0];
        assert_eq!(pivot_bars(p), vec![20, 35, 50]);
        assert_eq!(p.confirm_index, Some(60));
        assert!(p.levels[0] < p.levels[1] && close_to(p.levels[1], 1.1060, 0.0001), "{:?}", p.levels);
    }

    #[test]
    fn head_and_shoulders_is_found_and_confirmed() {
        let a = run(&bars(&HEAD_SHOULDERS, 4));
        assert_eq!(kinds(&a), vec![PatternKind::HeadAndShoulders], "{:?}", a.patterns);
        let p = &a.patterns[0];
        assert_eq!(pivot_bars(p), vec![20, 30, 40, 50, 60]);
        assert_eq!(p.confirm_index, Some(69));
        assert_eq!((p.start, p.end), (20, 69));
        let want = [1.0950, 1.1000, 1.1050];
        assert!(p.levels.iter().zip(want).all(|(x, y)| close_to(*x, y, 0.0001)), "{:?}", p.levels);
        assert!(p.strength > 0.95, "{}", p.strength);
    }

    #[test]
    fn inverse_head_and_shoulders_is_found() {
        let a = run(&bars(&mirror(&HEAD_SHOULDERS), 5));
        assert_eq!(kinds(&a), vec![PatternKind::InverseHeadAndShoulders], "{:?}", a.patterns);
        let p = &a.patterns[0];
        assert_eq!(pivot_bars(p), vec![20, 30, 40, 50, 60]);
        assert_eq!(p.pivots[2].kind, SwingKind::Low);
        assert_eq!(p.confirm_index, Some(69));
        // A head only 0.2 ATR beyond the shoulders is no head and shoulders.
        let mut flat_head = HEAD_SHOULDERS;
        flat_head[3].1 = 1.1002;
        assert!(!kinds(&run(&bars(&flat_head, 5))).contains(&PatternKind::HeadAndShoulders));
    }

    fn triangles_of(a: &ChartAnalysis) -> Vec<&ChartPattern> {
        a.patterns.iter().filter(|p| p.kind.is_triangle()).collect()
    }

    #[test]
    fn ascending_triangle_is_found_and_breaks_up() {
        let a = run(&bars(&ASCENDING, 11));
        // The equal highs are no double top: the breakout closes above them.
        assert_eq!(kinds(&a), vec![PatternKind::AscendingTriangle], "{:?}", a.patterns);
        let t = triangles_of(&a);
        assert_eq!(t[0].kind, PatternKind::AscendingTriangle);
        assert!(t[0].confirmed);
        assert_eq!(t[0].confirm_index, Some(89));
        assert!(close_to(t[0].levels[1], 1.1000, 0.0001), "{:?}", t[0].levels);
        assert!(t[0].levels[0] < t[0].levels[1]);
    }

    #[test]
    fn descending_triangle_is_found_and_breaks_down() {
        let a = run(&bars(&mirror(&ASCENDING), 12));
        assert_eq!(kinds(&a), vec![PatternKind::DescendingTriangle], "{:?}", a.patterns);
        let t = triangles_of(&a);
        assert_eq!(t[0].kind, PatternKind::DescendingTriangle);
        assert_eq!(t[0].confirm_index, Some(89));
        assert!(close_to(t[0].levels[0], 1.1000, 0.0001), "{:?}", t[0].levels);
    }

    #[test]
    fn symmetric_triangle_is_found_and_breaks_down() {
        let a = run(&bars(&SYMMETRIC, 13));
        assert_eq!(kinds(&a), vec![PatternKind::SymmetricTriangle], "{:?}", a.patterns);
        let t = triangles_of(&a);
        assert_eq!(t[0].kind, PatternKind::SymmetricTriangle);
        assert_eq!(t[0].confirm_index, Some(90));
        // The mirrored symmetric triangle is still symmetric (never ascending/descending).
        let m = run(&bars(&mirror(&SYMMETRIC), 14));
        let tm = triangles_of(&m);
        assert_eq!(tm.iter().map(|p| p.kind).collect::<Vec<_>>(), vec![PatternKind::SymmetricTriangle]);
    }

    #[test]
    fn rectangle_and_wedge_are_not_triangles() {
        let rectangle: Vec<(usize, f64)> =
            (0..=10).map(|i| (i * 10, if i % 2 == 0 { 1.0950 } else { 1.1050 })).collect();
        assert!(triangles_of(&run(&bars(&rectangle, 21))).is_empty());
        // Rising wedge: both lines rise.
        let wedge: Vec<(usize, f64)> =
            (0..=10).map(|i| (i * 10, 1.0900 + 0.0005 * i as f64 + if i % 2 == 0 { 0.0 } else { 0.0060 })).collect();
        assert!(triangles_of(&run(&bars(&wedge, 22))).is_empty());
    }

    /// Zig-zag of `cycles` legs pairs: +`up` over 10 bars, then −`down` over 10 bars.
    fn zigzag(cycles: usize, up: f64, down: f64) -> Vec<(usize, f64)> {
        let mut v = vec![(0, 1.1000)];
        for c in 0..cycles {
            let y = v[v.len() - 1].1;
            v.push((20 * c + 10, y + up));
            v.push((20 * c + 20, y + up - down));
        }
        v
    }

    #[test]
    fn regime_up_down_range() {
        let cfg = ChartConfig::default();
        let up = bars(&zigzag(5, 0.0030, 0.0010), 31);
        let r = market_regime(&up.close, &up.atr, up.close.len() - 1, &cfg);
        assert_eq!(r.regime, Regime::TrendUp, "{r:?}");
        assert_eq!(r.bars, 50);
        assert!(close_to(r.slope_atr_per_bar, 0.1, 0.03) && close_to(r.efficiency, 0.35, 0.02), "{r:?}");
        let down = bars(&mirror(&zigzag(5, 0.0030, 0.0010)), 32);
        assert_eq!(market_regime(&down.close, &down.atr, 100, &cfg).regime, Regime::TrendDown);
        let range = bars(&zigzag(5, 0.0100, 0.0100), 33);
        let r = market_regime(&range.close, &range.atr, 100, &cfg);
        assert_eq!(r.regime, Regime::Range, "{r:?}");
        assert!(r.efficiency < 0.3);
        // Fewer than 25 bars, out of range, or NaN close: unknown.
        assert_eq!(market_regime(&up.close, &up.atr, 23, &cfg).regime, Regime::Unknown);
        assert_eq!(market_regime(&up.close, &up.atr, 24, &cfg).bars, 25);
        assert_eq!(market_regime(&up.close, &up.atr, 1000, &cfg).regime, Regime::Unknown);
        let mut nan = up.close.clone();
        nan[90] = f64::NAN;
        assert_eq!(market_regime(&nan, &up.atr, 100, &cfg).regime, Regime::Unknown);
        assert_eq!(run(&up).regime.regime, Regime::TrendUp);
    }

    #[test]
    fn volatility_percentile_buckets() {
        let cfg = ChartConfig::default();
        let state = |v: &[f64]| volatility_state(v, v.len() - 1, &cfg);
        let mut atr: Vec<f64> = (1..=100).map(f64::from).collect();
        let r = state(&atr);
        assert_eq!((r.state, r.percentile, r.samples), (VolatilityState::Extreme, 99.5, 100));
        atr[99] = 80.5; // 80 values below, itself equal: 80.5
        assert_eq!((state(&atr).state, state(&atr).percentile), (VolatilityState::Elevated, 80.5));
        atr[99] = 50.5;
        assert_eq!(state(&atr).state, VolatilityState::Normal);
        atr[99] = 1.0; // ties with atr[0]: (0 + ½·2) / 100 = 1
        assert_eq!((state(&atr).state, state(&atr).percentile), (VolatilityState::Low, 1.0));
        assert_eq!(state(&[ATR; 30]).state, VolatilityState::Normal);
        // Only the last 100 values count: 50 huge old values are outside the window.
        let mut long = vec![1000.0; 50];
        long.extend((1..=100).map(f64::from));
        assert_eq!(state(&long).state, VolatilityState::Extreme);
        // Warm-up NaN skipped; too few samples or NaN last value: unknown.
        let mut warm = vec![f64::NAN; 14];
        warm.extend((1..=30).map(f64::from));
        assert_eq!((state(&warm).samples, state(&warm).state), (30, VolatilityState::Extreme));
        assert_eq!(state(&[1.0; 19]).state, VolatilityState::Unknown);
        assert_eq!(state(&[1.0, 2.0, f64::NAN]).state, VolatilityState::Unknown);
        assert_eq!(volatility_state(&atr, 100, &cfg).state, VolatilityState::Unknown);
        // Bucket boundaries.
        let b = VolatilityState::from_percentile;
        assert_eq!(
            [b(19.99), b(20.0), b(69.99), b(70.0), b(94.99), b(95.0), b(f64::NAN)],
            [
                VolatilityState::Low,
                VolatilityState::Normal,
                VolatilityState::Normal,
                VolatilityState::Elevated,
                VolatilityState::Elevated,
                VolatilityState::Extreme,
                VolatilityState::Unknown
            ]
        );
    }

    #[test]
    fn rule_based_reading_names_the_pattern_and_validates() {
        let b = bars(&DOUBLE_TOP, 1);
        let analysis = run(&b);
        let reading = analysis.reading("h1", b.close.len());
        assert_eq!(reading.pattern, "double_top");
        assert_eq!(reading.timeframe_hint, "H1");
        assert!(reading.confidence > 0.5, "a confirmed pattern: {}", reading.confidence);
        assert!(reading.support_resistance.windows(2).all(|w| w[0] <= w[1]));
        assert!(reading.notes.starts_with("Confirmed double top"), "{}", reading.notes);
        reading.validate().expect("valid");
        // The JSON has exactly the schema's keys.
        let value = serde_json::to_value(&reading).expect("json");
        let schema = chart_reading_schema();
        let mut keys: Vec<&String> = value.as_object().expect("object").keys().collect();
        let mut want: Vec<&String> = schema["properties"].as_object().expect("properties").keys().collect();
        keys.sort();
        want.sort();
        assert_eq!(keys, want);
        // Nothing found: `none`, and a low confidence.
        let empty = ChartAnalysis::default().reading("X9", 0);
        assert_eq!((empty.pattern.as_str(), empty.timeframe_hint.as_str()), ("none", "unknown"));
        empty.validate().expect("valid");
        // Each rule of validate names its field.
        for (bad, field) in [
            (ChartReading { pattern: "cup".into(), ..reading.clone() }, "pattern"),
            (ChartReading { strength: 1.5, ..reading.clone() }, "strength"),
            (ChartReading { confidence: -0.1, ..reading.clone() }, "confidence"),
            (ChartReading { volatility: "wild".into(), ..reading.clone() }, "volatility"),
            (ChartReading { support_resistance: vec![-1.0], ..reading.clone() }, "support_resistance"),
            (ChartReading { trend: "north".into(), ..reading.clone() }, "trend"),
            (ChartReading { timeframe_hint: "H2".into(), ..reading.clone() }, "timeframe_hint"),
            (ChartReading { notes: "x".repeat(401), ..reading.clone() }, "notes"),
        ] {
            assert!(bad.validate().expect_err(field).starts_with(field), "{field}");
        }
    }

    #[test]
    fn findings_json_round_trip_with_exact_field_names() {
        let b = bars(&DOUBLE_TOP, 1);
        let findings = run(&b).findings(&b.time_ns);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.pattern, "double_top");
        assert_eq!(f.volatility, "normal");
        assert_eq!((f.start.as_str(), f.end.as_str()), ("2018-03-02T06:00:00Z", "2018-03-03T22:00:00Z"));
        assert_eq!(f.confirmed, Some(true));
        let json = serde_json::to_string(&findings).expect("serializable");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        // Key order is an implementation detail of serde_json's map (sorted, or insertion order with
        // `preserve_order`, which llguidance turns on): compare the sets.
        let mut keys: Vec<&str> = value[0].as_object().expect("object").keys().map(String::as_str).collect();
        let mut want =
            ["pattern", "strength", "volatility", "support_resistance", "start", "end", "confirmed", "regime"];
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
        // serde_json parses floats to within 1 ULP unless its `float_roundtrip` feature is on: compare floats
        // with a relative tolerance, everything else exactly.
        let back = parse_findings(&json).expect("parses");
        assert_eq!(back.len(), 1);
        let near = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs());
        assert!(near(back[0].strength, f.strength));
        assert_eq!(back[0].support_resistance.len(), f.support_resistance.len());
        assert!(back[0].support_resistance.iter().zip(&f.support_resistance).all(|(x, y)| near(*x, *y)));
        let strip = |g: &ChartFinding| ChartFinding { strength: 0.0, support_resistance: vec![], ..g.clone() };
        assert_eq!(strip(&back[0]), strip(f));

        let model = r#"{"pattern": "double_top", "strength": 0.73, "volatility": "elevated",
            "support_resistance": [1.0835, 1.0860], "start": "2018-03-01T10:00:00Z", "end": "2018-03-09T14:00:00Z"}"#;
        let parsed = parse_findings(model).expect("model shape parses");
        assert_eq!(parsed.len(), 1);
        assert_eq!((parsed[0].strength, parsed[0].support_resistance.as_slice()), (0.73, &[1.0835, 1.0860][..]));
        assert_eq!((parsed[0].confirmed.as_ref(), parsed[0].regime.as_ref()), (None, None));
        let back = serde_json::to_string(&parsed[0]).expect("serializable");
        assert!(!back.contains("confirmed") && !back.contains("regime"), "{back}");
        let missing_end = r#"{"pattern": "double_top", "strength": 0.5, "volatility": "low",
            "support_resistance": [], "start": "2018-03-01T10:00:00Z"}"#;
        assert!(parse_findings(missing_end).expect_err("end is required").to_string().contains("`end`"));
        assert!(parse_findings("[1, 2]").is_err());
        assert_eq!(PatternKind::from_name("inverse_head_and_shoulders"), Some(PatternKind::InverseHeadAndShoulders));
        assert_eq!(serde_json::to_string(&PatternKind::AscendingTriangle).expect("ok"), "\"ascending_triangle\"");
        assert!(PatternKind::ALL.iter().all(|k| PatternKind::from_name(k.name()) == Some(*k)));
        assert_eq!(rfc3339_utc(T0_NS + 1_500_000), "2018-03-01T10:00:00.001500Z");
    }

    #[test]
    fn empty_and_unequal_input_are_errors_not_panics() {
        let cfg = ChartConfig::default();
        let empty = ChartInput { time_ns: &[], open: &[], high: &[], low: &[], close: &[], atr: &[] };
        assert_eq!(analyze(empty, &cfg), Err(ChartError::Empty));
        let b = bars(&DOUBLE_TOP, 1);
        let short = ChartInput { high: &b.high[..10], ..b.input() };
        let err = analyze(short, &cfg).expect_err("unequal lengths");
        assert_eq!(err, ChartError::LengthMismatch { column: "high", len: 10, expected: 71 });
        assert_eq!(err.to_string(), "chart column 'high' has 10 values but time_ns has 71");
        assert_eq!(ChartError::Empty.to_string(), "chart input has no bars");
        // The family functions read missing values as NaN instead of panicking.
        let a = run(&b);
        let truncated = ChartInput { close: &b.close[..5], atr: &b.atr[..5], ..b.input() };
        assert!(double_tops_bottoms(&a.pivots, &truncated, &cfg).iter().all(|p| !p.confirmed));
        let _ = head_and_shoulders(&a.pivots, &truncated, &cfg);
        let _ = triangles(&a.pivots, &truncated, &cfg);
        // Findings skip patterns whose bars have no time.
        assert!(a.findings(&b.time_ns[..30]).is_empty());
        assert_eq!(ChartAnalysis::default().findings(&b.time_ns), vec![]);
    }

    #[test]
    fn dedup_keeps_the_strongest_of_shared_peaks() {
        let sw = |index, price| Swing { index, price, kind: SwingKind::High };
        let mk = |peaks: [usize; 2], strength| ChartPattern {
            kind: PatternKind::DoubleTop,
            start: peaks[0],
            end: peaks[1],
            pivots: vec![sw(peaks[0], 1.0), sw(peaks[1], 1.0)],
            levels: vec![],
            strength,
            confirmed: false,
            confirm_index: None,
            volatility: VolatilityState::Unknown,
            regime: Regime::Unknown,
        };
        let mut other = mk([10, 30], 0.9);
        other.kind = PatternKind::DoubleBottom;
        let kept = dedup_patterns(vec![mk([10, 30], 0.5), mk([30, 50], 0.7), mk([60, 80], 0.1), other]);
        let got: Vec<(PatternKind, usize, f64)> = kept.iter().map(|p| (p.kind, p.start, p.strength)).collect();
        assert_eq!(
            got,
            vec![
                (PatternKind::DoubleBottom, 10, 0.9),
                (PatternKind::DoubleTop, 30, 0.7),
                (PatternKind::DoubleTop, 60, 0.1)
            ]
        );
    }
}
