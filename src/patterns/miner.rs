//! The historical pattern miner: finds every occurrence of every candlestick pattern ([`super::candles`]) and
//! chart pattern ([`super::chart`]) in a dataset, measures the forward return after each one, splits the
//! history into an in-sample and an out-of-sample part to see whether an edge found in the past survives on
//! unseen bars, and measures how brittle each pattern definition is by re-running the detector on synthetic
//! variants (noise, scale, time stretch) of the windows where it fired. [`mine`] does all of it.
//!
//! This module may import only [`super::candles`], [`super::chart`], `std`, `serde` and `serde_json` (the
//! chart module brings `chrono` along). It works on plain columns: `time_ns`, open/high/low/close and a Wilder
//! ATR with `NaN` warm-up, computed by the caller. Nothing here panics on data: `NaN` closes only drop the
//! returns that need them.
//!
//! Definitions used throughout:
//! - The **signal bar** of an occurrence is the bar whose close its forward return starts from: the bar TA-Lib
//!   marks for a candlestick pattern (known at its close), `confirm_index` for a confirmed chart pattern, `end`
//!   for an unconfirmed one (see the look-ahead caveat of [`chart_occurrences`]).
//! - The **forward return** over `N = horizon_bars` bars is `r = close[i + N] / close[i] − 1` from the close
//!   of the signal bar `i`; it is missing when `i + N` is past the end or either close (or `r`) is not finite.
//! - The **signed return** is `r × direction`, and `r` itself for direction 0; a **hit** is a signed return
//!   `> 0`.
//! - The **split index** is `⌊bars × (1 − oos_fraction)⌋`: occurrences whose signal bar is before it are
//!   in-sample, the others out-of-sample.

use std::{collections::BTreeMap, fmt, ops::RangeInclusive};

use serde::{Deserialize, Serialize};

use super::{
    candles::{self, CandlePattern, Ohlc},
    chart::{self, ChartConfig, ChartError, ChartInput, ChartPattern, PatternKind},
};

// ---------------------------------------------------------------------------------------------------------
// Input, errors, configuration
// ---------------------------------------------------------------------------------------------------------

/// The miner's input: the chart detectors' columns (times, OHLC and the caller's Wilder ATR).
pub type MinerInput<'a> = ChartInput<'a>;

/// The OHLC columns of `input` for the candlestick detectors.
fn ohlc_of<'a>(input: &MinerInput<'a>) -> Ohlc<'a> {
    Ohlc::new(input.open, input.high, input.low, input.close)
}

impl From<ChartError> for MinerError {
    fn from(err: ChartError) -> Self {
        match err {
            ChartError::Empty => Self::Empty,
            ChartError::LengthMismatch { column, len, expected } => Self::LengthMismatch { column, len, expected },
        }
    }
}

/// Why [`mine`] refused its input or configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum MinerError {
    /// The dataset has no bars.
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
    /// `horizon_bars` is 0.
    ZeroHorizon,
    /// `oos_fraction` is not strictly between 0 and 1 (or is `NaN`).
    OosFraction(f64),
}

impl fmt::Display for MinerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "miner input has no bars"),
            Self::LengthMismatch { column, len, expected } => {
                write!(f, "miner column '{column}' has {len} values but time_ns has {expected}")
            }
            Self::ZeroHorizon => write!(f, "horizon_bars must be at least 1"),
            Self::OosFraction(x) => write!(f, "oos_fraction must lie strictly between 0 and 1, got {x}"),
        }
    }
}

impl std::error::Error for MinerError {}

/// How [`synthesize`] varies a window; [`Default`] gives the documented values, [`Variation::NONE`] none.
///
/// Values are sanitised before use: a negative or non-finite `noise_atr` is 0, `scale` is clamped to
/// `[0, 1]` (non-finite: 0), the stretch bounds are clamped to `[0.1, 10]` (non-finite or ≤ 0: 1) and
/// swapped when `stretch_min > stretch_max`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Variation {
    /// Standard deviation of the Gaussian noise added to every price, in ATR of its bar (default 0.1).
    pub noise_atr: f64,
    /// Half-width `s` of the scale factor drawn uniformly from `[1 − s, 1 + s]` (default 0.1).
    pub scale: f64,
    /// Smallest time-stretch factor (default 0.75).
    pub stretch_min: f64,
    /// Largest time-stretch factor (default 1.5).
    pub stretch_max: f64,
}

impl Default for Variation {
    fn default() -> Self {
        Self { noise_atr: 0.1, scale: 0.1, stretch_min: 0.75, stretch_max: 1.5 }
    }
}

impl Variation {
    /// No noise, no scaling, no stretch: [`synthesize`] returns the window unchanged.
    pub const NONE: Self = Self { noise_atr: 0.0, scale: 0.0, stretch_min: 1.0, stretch_max: 1.0 };

    /// The values actually used (see the type's doc).
    fn sanitized(self) -> Self {
        let noise_atr = if self.noise_atr.is_finite() && self.noise_atr > 0.0 { self.noise_atr } else { 0.0 };
        let scale = if self.scale.is_finite() { self.scale.clamp(0.0, 1.0) } else { 0.0 };
        let bound = |x: f64| if x.is_finite() && x > 0.0 { x.clamp(0.1, 10.0) } else { 1.0 };
        let (a, b) = (bound(self.stretch_min), bound(self.stretch_max));
        Self { noise_atr, scale, stretch_min: a.min(b), stretch_max: a.max(b) }
    }
}

/// Every setting of the miner; [`Default`] gives the documented values, missing JSON fields take them too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MinerConfig {
    /// Forward-return horizon `N` in bars (default 10; 0 is an error).
    pub horizon_bars: usize,
    /// Share of the bars, at the end, that is out of sample (default 0.3; must lie in `(0, 1)`).
    pub oos_fraction: f64,
    /// Minimum returns in each half for a pattern to be validated (default 20).
    pub min_occurrences: usize,
    /// Minimum in-sample `|t|` (default 2.0).
    pub min_t_in_sample: f64,
    /// Minimum out-of-sample t-stat in the in-sample direction (default 1.0).
    pub min_t_out_of_sample: f64,
    /// Bars before a pattern's first bar included in its synthetic windows (default 10).
    pub context_bars: usize,
    /// How the synthetic windows vary (see [`Variation`]).
    pub variation: Variation,
    /// Occurrences per pattern tested for robustness, evenly spaced over its history (default 20; 0 turns
    /// robustness off).
    pub max_samples: usize,
    /// Synthetic windows per tested occurrence (default 10).
    pub variants_per_occurrence: usize,
    /// Seed of every random draw (default 42); the same seed gives the same report.
    pub seed: u64,
    /// Thresholds of the chart-pattern detectors.
    pub chart: ChartConfig,
    /// Also mine unconfirmed chart patterns. Off by default: an unconfirmed pattern is only reported when no
    /// later close invalidated it, so its statistics would look ahead.
    pub include_unconfirmed_chart_patterns: bool,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            horizon_bars: 10,
            oos_fraction: 0.3,
            min_occurrences: 20,
            min_t_in_sample: 2.0,
            min_t_out_of_sample: 1.0,
            context_bars: 10,
            variation: Variation::default(),
            max_samples: 20,
            variants_per_occurrence: 10,
            seed: 42,
            chart: ChartConfig::default(),
            include_unconfirmed_chart_patterns: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Occurrences
// ---------------------------------------------------------------------------------------------------------

/// One occurrence of one named signal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Occurrence {
    /// Signal name: `"{candle}_bull"`, `"{candle}_bear"`, a bare candle name for neutral candles (`doji`,
    /// `spinningtop`), or a chart [`PatternKind::name`].
    pub pattern: String,
    /// The signal bar: the forward return starts at its close.
    pub index: usize,
    /// +1 bullish, −1 bearish, 0 neutral (returns are then taken unsigned).
    pub direction: i8,
    /// First bar of the evidence: a chart pattern's `start`, or a candle's signal bar minus TA-Lib's lookback
    /// (the bars TA-Lib's averages read).
    pub start: usize,
}

/// How a TA-Lib value of a candlestick pattern maps to a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bias {
    /// Indecision: direction 0 whatever the value's sign.
    Neutral,
    /// Always +1.
    Bull,
    /// Always −1.
    Bear,
    /// The sign of TA-Lib's value.
    BySign,
}

/// The reading of each candlestick pattern (see [`candle_signal`]).
fn candle_bias(pattern: CandlePattern) -> Bias {
    use CandlePattern as P;
    match pattern {
        P::Doji | P::SpinningTop => Bias::Neutral,
        P::DragonflyDoji | P::Hammer | P::InvertedHammer | P::Piercing | P::MorningStar | P::ThreeWhiteSoldiers => {
            Bias::Bull
        }
        P::GravestoneDoji
        | P::HangingMan
        | P::ShootingStar
        | P::DarkCloudCover
        | P::EveningStar
        | P::ThreeBlackCrows => Bias::Bear,
        P::Engulfing | P::Harami | P::Marubozu => Bias::BySign,
    }
}

/// `"{base}_bull"` for direction +1, `"{base}_bear"` for −1, `base` for 0.
pub fn signal_name(base: &str, direction: i8) -> String {
    match direction.signum() {
        1 => format!("{base}_bull"),
        -1 => format!("{base}_bear"),
        _ => base.to_owned(),
    }
}

/// The signal name and direction of a non-zero TA-Lib value of `pattern`; `None` for 0.
///
/// Readings: `doji` and `spinningtop` are indecision patterns, direction 0 and no suffix (TA-Lib answers
/// `CDLDOJI` with +100 always and `CDLSPINNINGTOP` with ±100 by the candle's *colour*, which is not a
/// forecast). `engulfing`, `harami` and `marubozu` take the sign of the value (±100 and ±80 alike).
/// `dragonflydoji`, `hammer`, `invertedhammer`, `piercing`, `morningstar`, `3whitesoldiers` are bullish;
/// `hangingman`, `shootingstar`, `darkcloudcover`, `eveningstar`, `3blackcrows` are bearish, as TA-Lib's sign
/// says; `gravestonedoji` is bearish although TA-Lib answers +100 (its sign only means "found"). The suffix
/// follows the direction, so the gravestone doji is `gravestonedoji_bear`.
pub fn candle_signal(pattern: CandlePattern, value: i32) -> Option<(String, i8)> {
    if value == 0 {
        return None;
    }
    let direction = match candle_bias(pattern) {
        Bias::Neutral => 0,
        Bias::Bull => 1,
        Bias::Bear => -1,
        Bias::BySign => value.signum() as i8,
    };
    Some((signal_name(pattern.name(), direction), direction))
}

/// The direction of a chart pattern: +1 for `double_bottom`, `inverse_head_and_shoulders`,
/// `ascending_triangle`; −1 for `double_top`, `head_and_shoulders`, `descending_triangle`; a
/// `symmetric_triangle` takes its breakout direction when confirmed (the confirming close above the middle of
/// its two lines at that bar is +1, below is −1) and 0 when not confirmed.
pub fn chart_direction(p: &ChartPattern, close: &[f64]) -> i8 {
    match p.kind {
        PatternKind::DoubleBottom | PatternKind::InverseHeadAndShoulders | PatternKind::AscendingTriangle => 1,
        PatternKind::DoubleTop | PatternKind::HeadAndShoulders | PatternKind::DescendingTriangle => -1,
        PatternKind::SymmetricTriangle => {
            let (Some(c), true) = (p.confirm_index, p.confirmed) else { return 0 };
            let x = close.get(c).copied().unwrap_or(f64::NAN);
            let mid = p.levels.iter().sum::<f64>() / p.levels.len() as f64;
            if x > mid {
                1
            } else if x < mid {
                -1
            } else {
                0
            }
        }
    }
}

/// The signal bar of a chart pattern: `confirm_index` when confirmed, else `end`.
pub fn chart_signal_bar(p: &ChartPattern) -> usize {
    match (p.confirmed, p.confirm_index) {
        (true, Some(c)) => c,
        _ => p.end,
    }
}

/// Every non-zero value of every candlestick pattern over `bars` (columns cut to the shortest), as
/// [`candle_signal`] names it, ordered by pattern then bar.
pub fn candle_occurrences(bars: Ohlc<'_>) -> Vec<Occurrence> {
    candle_occurrences_from(&candles::detect_all(bars))
}

/// [`candle_occurrences`] from columns already detected (as [`candles::detect_all`] returns them).
pub fn candle_occurrences_from(columns: &[(CandlePattern, Vec<i32>)]) -> Vec<Occurrence> {
    let mut out = Vec::new();
    for &(pattern, ref values) in columns {
        for (index, &value) in values.iter().enumerate() {
            if let Some((name, direction)) = candle_signal(pattern, value) {
                out.push(Occurrence {
                    pattern: name,
                    index,
                    direction,
                    start: index.saturating_sub(pattern.lookback()),
                });
            }
        }
    }
    out
}

/// One occurrence per chart pattern, named by [`PatternKind::name`], at [`chart_signal_bar`] with
/// [`chart_direction`].
///
/// Caveat inherited from [`chart`]: a double top/bottom or head and shoulders is dropped when *any* later
/// close invalidates it, and a fractal swing is only known `swing_strength` bars after its bar, so the
/// unconfirmed patterns (signal bar `end`) carry some look-ahead; confirmed ones are decided by the first
/// event after the pattern and carry at most the swing delay.
pub fn chart_occurrences(patterns: &[ChartPattern], close: &[f64]) -> Vec<Occurrence> {
    patterns
        .iter()
        .map(|p| Occurrence {
            pattern: p.kind.name().to_owned(),
            index: chart_signal_bar(p),
            direction: chart_direction(p, close),
            start: p.start,
        })
        .collect()
}

/// Every occurrence of every candlestick and chart pattern in `input`, ordered by (signal bar, name).
///
/// Never fails: candle columns are cut to the shortest, and input the chart module refuses (empty or
/// unequal columns) simply has no chart occurrences; [`mine`] validates before calling this.
pub fn find_occurrences(input: &MinerInput<'_>, chart_cfg: &ChartConfig) -> Vec<Occurrence> {
    occurrences_filtered(input, chart_cfg, true)
}

/// [`find_occurrences`], keeping unconfirmed chart patterns only when `include_unconfirmed` is set.
fn occurrences_filtered(input: &MinerInput<'_>, chart_cfg: &ChartConfig, include_unconfirmed: bool) -> Vec<Occurrence> {
    let candles = candles::detect_all(ohlc_of(input));
    let chart_patterns = chart::analyze(*input, chart_cfg).map(|a| a.patterns).unwrap_or_default();
    occurrences_from(&candles, &chart_patterns, input.close, include_unconfirmed)
}

/// Every occurrence from patterns already detected, sorted by bar then name; unconfirmed chart patterns only when
/// `include_unconfirmed`.
fn occurrences_from(
    candles: &[(CandlePattern, Vec<i32>)],
    chart_patterns: &[ChartPattern],
    close: &[f64],
    include_unconfirmed: bool,
) -> Vec<Occurrence> {
    let mut out = candle_occurrences_from(candles);
    let kept: Vec<ChartPattern> =
        chart_patterns.iter().filter(|p| include_unconfirmed || p.confirmed).cloned().collect();
    out.extend(chart_occurrences(&kept, close));
    out.sort_by(|a, b| a.index.cmp(&b.index).then_with(|| a.pattern.cmp(&b.pattern)));
    out
}

// ---------------------------------------------------------------------------------------------------------
// Forward returns and statistics
// ---------------------------------------------------------------------------------------------------------

/// `close[index + horizon_bars] / close[index] − 1`; `None` when that bar is past the end or the result is not
/// finite (a `NaN` or zero close).
pub fn forward_return(close: &[f64], index: usize, horizon_bars: usize) -> Option<f64> {
    let later = close.get(index.checked_add(horizon_bars)?)?;
    let r = later / close.get(index)? - 1.0;
    r.is_finite().then_some(r)
}

/// `r × direction`, or `r` unchanged for direction 0.
pub fn signed_return(r: f64, direction: i8) -> f64 {
    if direction == 0 { r } else { r * f64::from(direction.signum()) }
}

/// Summary of a set of signed returns; every field is 0 for an empty set.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ReturnStats {
    /// Number of returns `n`.
    pub count: usize,
    /// Share of returns `> 0`.
    pub hit_rate: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (mean of the two middle values for even `n`).
    pub median: f64,
    /// Sample standard deviation (divisor `n − 1`; 0 when `n < 2`).
    pub std_dev: f64,
    /// `mean / (std_dev / √n)`; 0 when `n < 2` or `std_dev` is 0.
    pub t_stat: f64,
}

impl ReturnStats {
    /// Statistics of `returns`; non-finite values are ignored.
    pub fn from_returns(returns: &[f64]) -> Self {
        let mut xs: Vec<f64> = returns.iter().copied().filter(|x| x.is_finite()).collect();
        let n = xs.len();
        if n == 0 {
            return Self::default();
        }
        let nf = n as f64;
        let mean = xs.iter().sum::<f64>() / nf;
        let std_dev =
            if n < 2 { 0.0 } else { (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt() };
        let t_stat = if n < 2 || std_dev == 0.0 { 0.0 } else { mean / (std_dev / nf.sqrt()) };
        let hit_rate = xs.iter().filter(|&&x| x > 0.0).count() as f64 / nf;
        xs.sort_by(f64::total_cmp);
        let median = if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 };
        Self { count: n, hit_rate, mean, median, std_dev, t_stat }
    }
}

/// Statistics and verdict of one signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternStats {
    /// Signal name (see [`Occurrence::pattern`]).
    pub pattern: String,
    /// +1 or −1 when every occurrence has that direction, else 0 (neutral candles, and symmetric triangles
    /// whose breakouts differ; each return is still signed by its own occurrence's direction).
    pub direction: i8,
    /// The forward-return horizon in bars.
    pub horizon_bars: usize,
    /// Signed returns of every occurrence.
    pub all: ReturnStats,
    /// Signed returns of the occurrences before the split index.
    pub in_sample: ReturnStats,
    /// Signed returns of the occurrences at or after the split index.
    pub out_of_sample: ReturnStats,
    /// Whether the edge passed [`validate_edge`].
    pub validated: bool,
    /// The reason, in words.
    pub verdict: String,
    /// [`robustness`] of the definition (not of the profit); `None` when not measured.
    pub robustness: Option<f64>,
}

/// The common direction of `occurrences`, 0 when they differ or there are none.
fn common_direction<'a>(mut occurrences: impl Iterator<Item = &'a Occurrence>) -> i8 {
    let Some(first) = occurrences.next() else { return 0 };
    if occurrences.all(|o| o.direction == first.direction) { first.direction } else { 0 }
}

/// The statistics of the signal `pattern` among `occurrences` (others are ignored), split at `split_index`
/// and judged by [`validate_edge`]; `robustness` is left `None`.
pub fn pattern_stats(
    pattern: &str,
    occurrences: &[Occurrence],
    close: &[f64],
    split_index: usize,
    cfg: &MinerConfig,
) -> PatternStats {
    let own = || occurrences.iter().filter(|o| o.pattern == pattern);
    let (mut all, mut in_sample, mut out_of_sample) = (Vec::new(), Vec::new(), Vec::new());
    for o in own() {
        let Some(r) = forward_return(close, o.index, cfg.horizon_bars) else { continue };
        let s = signed_return(r, o.direction);
        all.push(s);
        if o.index < split_index { in_sample.push(s) } else { out_of_sample.push(s) }
    }
    let (in_sample, out_of_sample) = (ReturnStats::from_returns(&in_sample), ReturnStats::from_returns(&out_of_sample));
    let (validated, verdict) = validate_edge(&in_sample, &out_of_sample, cfg);
    PatternStats {
        pattern: pattern.to_owned(),
        direction: common_direction(own()),
        horizon_bars: cfg.horizon_bars,
        all: ReturnStats::from_returns(&all),
        in_sample,
        out_of_sample,
        validated,
        verdict,
        robustness: None,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Out-of-sample validation
// ---------------------------------------------------------------------------------------------------------

/// `⌊bars × (1 − oos_fraction)⌋` (with a 1e-9 guard against binary rounding, so 100 bars at 0.3 give 70),
/// clamped to `0..=bars`; a non-finite fraction gives `bars`.
pub fn split_index(bars: usize, oos_fraction: f64) -> usize {
    let x = (bars as f64 * (1.0 - oos_fraction) + 1e-9).floor();
    if x.is_finite() { x.clamp(0.0, bars as f64) as usize } else { bars }
}

/// Judges an in-sample edge on unseen bars; returns (validated, verdict in words).
///
/// Checked in this order, the first failure being the verdict:
/// 1. each half has at least `min_occurrences` returns ("too few in-sample / out-of-sample occurrences
///    (7 < 20)");
/// 2. in-sample `|t| ≥ min_t_in_sample` ("no in-sample edge: …");
/// 3. the out-of-sample mean has the sign of the in-sample mean, and the out-of-sample t-stat in the
///    in-sample direction (`t_oos × sign(mean_in)`) is at least `min_t_out_of_sample` (otherwise "edge did
///    not survive out of sample: …").
pub fn validate_edge(in_sample: &ReturnStats, out_of_sample: &ReturnStats, cfg: &MinerConfig) -> (bool, String) {
    let min = cfg.min_occurrences;
    if in_sample.count < min {
        return (false, format!("too few in-sample occurrences ({} < {min})", in_sample.count));
    }
    if out_of_sample.count < min {
        return (false, format!("too few out-of-sample occurrences ({} < {min})", out_of_sample.count));
    }
    let d = decimals(in_sample.mean, out_of_sample.mean);
    let (m_in, m_out) = (signed_text(in_sample.mean, d), signed_text(out_of_sample.mean, d));
    if in_sample.t_stat.abs() < cfg.min_t_in_sample {
        let t = in_sample.t_stat.abs();
        return (false, format!("no in-sample edge: |t| {t:.2} < {:.2} (mean {m_in})", cfg.min_t_in_sample));
    }
    let sign_in = in_sample.mean.signum();
    if out_of_sample.mean == 0.0 || out_of_sample.mean.signum() != sign_in {
        return (false, format!("edge did not survive out of sample: mean {m_out} vs {m_in} in sample"));
    }
    let t_out = out_of_sample.t_stat * sign_in;
    if t_out < cfg.min_t_out_of_sample {
        let need = cfg.min_t_out_of_sample;
        return (
            false,
            format!(
                "edge did not survive out of sample: t {} < {need:.2} in the in-sample direction (mean {m_out} vs \
                 {m_in} in sample)",
                signed_text(t_out, 2)
            ),
        );
    }
    let (t_in, t_out) = (signed_text(in_sample.t_stat, 2), signed_text(t_out, 2));
    (true, format!("validated: mean {m_in} (t {t_in}) in sample, {m_out} (t {t_out}) out of sample"))
}

/// Decimals for printing two mean returns side by side: two significant digits of the larger and at least one
/// of the smaller non-zero one, clamped to `4..=8` (`+0.0011` / `−0.0004`, `+0.0102` / `−0.0003`,
/// `+0.000031` / `−0.000012`).
fn decimals(a: f64, b: f64) -> usize {
    let leading = |m: f64| if m.is_finite() && m > 0.0 { Some((-m.log10()).floor()) } else { None };
    let (small, large) = (a.abs().min(b.abs()), a.abs().max(b.abs()));
    let need = [leading(large).map(|z| z + 2.0), leading(small).map(|z| z + 1.0)].into_iter().flatten();
    need.fold(4.0, f64::max).min(8.0) as usize
}

/// `x` with an explicit sign (`+0.0011`, `−0.0004`, with a Unicode minus) and `d` decimals.
fn signed_text(x: f64, d: usize) -> String {
    let text = format!("{x:+.d$}");
    match text.strip_prefix('-') {
        Some(rest) => format!("−{rest}"),
        None => text,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic pattern generator
// ---------------------------------------------------------------------------------------------------------

/// Owned OHLC + ATR columns of one window, all of the same length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OhlcWindow {
    /// Opening prices.
    pub open: Vec<f64>,
    /// Highest prices.
    pub high: Vec<f64>,
    /// Lowest prices.
    pub low: Vec<f64>,
    /// Closing prices.
    pub close: Vec<f64>,
    /// ATR per bar (`NaN` where unknown).
    pub atr: Vec<f64>,
}

impl OhlcWindow {
    /// Copies the bars `range` of `input`; `None` when the range is empty or any column is too short.
    pub fn from_input(input: &MinerInput<'_>, range: RangeInclusive<usize>) -> Option<Self> {
        let (start, end) = (*range.start(), *range.end());
        if start > end {
            return None;
        }
        let take = |col: &[f64]| col.get(start..=end).map(<[f64]>::to_vec);
        Some(Self {
            open: take(input.open)?,
            high: take(input.high)?,
            low: take(input.low)?,
            close: take(input.close)?,
            atr: take(input.atr)?,
        })
    }

    /// Number of bars (the shortest column).
    pub fn len(&self) -> usize {
        self.open.len().min(self.high.len()).min(self.low.len()).min(self.close.len()).min(self.atr.len())
    }

    /// Whether the window has no bar.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Borrowed OHLC columns for [`candles::detect`].
    pub fn ohlc(&self) -> Ohlc<'_> {
        Ohlc::new(&self.open, &self.high, &self.low, &self.close)
    }

    /// The five columns, mutably, in the order open, high, low, close, atr.
    fn columns_mut(&mut self) -> [&mut Vec<f64>; 5] {
        [&mut self.open, &mut self.high, &mut self.low, &mut self.close, &mut self.atr]
    }

    /// The four price columns, mutably.
    fn prices_mut(&mut self) -> [&mut Vec<f64>; 4] {
        [&mut self.open, &mut self.high, &mut self.low, &mut self.close]
    }
}

/// SplitMix64 (Steele, Lea & Flood): a tiny, fast, well-mixed deterministic generator.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal by Box–Muller (the cosine branch; `u1` in `(0, 1]` so the logarithm is finite).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// One SplitMix64 output for `x`: mixes seeds and counters into independent-looking seeds.
fn mix(x: u64) -> u64 {
    SplitMix64(x).next_u64()
}

/// A synthetic variant of `window`, deterministic for `rng_seed`.
///
/// Steps, in this order (the generator draws the stretch factor, then the scale factor, then the noise bar by
/// bar in the order open, high, low, close):
/// 1. **stretch**: factor `f` uniform in `[stretch_min, stretch_max]`; the new bar count is
///    `max(2, round(n × f))` (a window of fewer than 2 bars is kept); new bar `j` samples every column,
///    ATR included, at old position `j × (n − 1) / (n' − 1)` by linear interpolation, so the first and last
///    bars are kept exactly;
/// 2. **scale**: factor `g` uniform in `[1 − s, 1 + s]`; every price becomes `o₀ + (p − o₀) × g` with `o₀`
///    the window's first open (ATR is left as is: a scaled window is the same shape, bigger or smaller
///    relative to volatility);
/// 3. **noise**: an independent `N(0, (noise_atr × ATR)²)` is added to each of open, high, low, close, with
///    the bar's ATR, or where that is not finite and positive the mean of the window's usable ATR, else the
///    mean high − low of the window;
/// 4. `high = max(o, h, l, c)` and `low = min(o, h, l, c)` restore `low ≤ open, close ≤ high`.
///
/// Steps with nothing to do (factor exactly 1, noise 0) leave the values bit for bit, so [`Variation::NONE`]
/// returns a valid window unchanged.
pub fn synthesize(window: &OhlcWindow, variation: &Variation, rng_seed: u64) -> OhlcWindow {
    let v = variation.sanitized();
    let mut rng = SplitMix64(rng_seed);
    let stretch_factor = v.stretch_min + (v.stretch_max - v.stretch_min) * rng.next_f64();
    let scale_factor = 1.0 + v.scale * (2.0 * rng.next_f64() - 1.0);
    let mut w = stretch(window, stretch_factor);
    scale_about_first_open(&mut w, scale_factor);
    add_noise(&mut w, v.noise_atr, &mut rng);
    restore_high_low(&mut w);
    w
}

/// Time-stretch by `factor` (step 1 of [`synthesize`]).
fn stretch(window: &OhlcWindow, factor: f64) -> OhlcWindow {
    let n = window.len();
    let target = ((n as f64 * factor).round() as usize).max(2);
    let mut out = OhlcWindow::default();
    if n < 2 || target == n {
        for (dst, src) in out.columns_mut().into_iter().zip(columns(window)) {
            *dst = src[..n].to_vec();
        }
        return out;
    }
    let step = (n - 1) as f64 / (target - 1) as f64;
    for (dst, src) in out.columns_mut().into_iter().zip(columns(window)) {
        *dst = (0..target).map(|j| interpolate(&src[..n], j as f64 * step)).collect();
    }
    out
}

/// The five columns of a window, in the order of [`OhlcWindow::columns_mut`].
fn columns(w: &OhlcWindow) -> [&[f64]; 5] {
    [&w.open, &w.high, &w.low, &w.close, &w.atr]
}

/// Linear interpolation of `values` at fractional position `x` (clamped to the ends; exact at whole
/// positions).
fn interpolate(values: &[f64], x: f64) -> f64 {
    let Some(last) = values.len().checked_sub(1) else { return f64::NAN };
    let k = (x.max(0.0).floor() as usize).min(last);
    let frac = x - k as f64;
    if k == last || frac <= 0.0 {
        return values[k];
    }
    values[k] + (values[k + 1] - values[k]) * frac
}

/// Multiplies every price's deviation from the first open by `factor` (step 2 of [`synthesize`]).
fn scale_about_first_open(w: &mut OhlcWindow, factor: f64) {
    let Some(&anchor) = w.open.first() else { return };
    if factor == 1.0 {
        return;
    }
    for col in w.prices_mut() {
        for p in col.iter_mut() {
            *p = anchor + (*p - anchor) * factor;
        }
    }
}

/// Adds Gaussian noise of `noise_atr` ATR to every price (step 3 of [`synthesize`]).
fn add_noise(w: &mut OhlcWindow, noise_atr: f64, rng: &mut SplitMix64) {
    if noise_atr == 0.0 {
        return;
    }
    let fallback = fallback_atr(w);
    for i in 0..w.len() {
        let a = w.atr[i];
        let sd = noise_atr * if a.is_finite() && a > 0.0 { a } else { fallback };
        for col in w.prices_mut() {
            col[i] += sd * rng.normal();
        }
    }
}

/// Mean of the window's finite positive ATR values, else its mean finite high − low, else 0.
fn fallback_atr(w: &OhlcWindow) -> f64 {
    let mean = |xs: Vec<f64>| if xs.is_empty() { None } else { Some(xs.iter().sum::<f64>() / xs.len() as f64) };
    let atr: Vec<f64> = w.atr.iter().copied().filter(|a| a.is_finite() && *a > 0.0).collect();
    let ranges: Vec<f64> = w.high.iter().zip(&w.low).map(|(h, l)| h - l).filter(|r| r.is_finite()).collect();
    mean(atr).or_else(|| mean(ranges)).unwrap_or(0.0)
}

/// `high = max(o, h, l, c)`, `low = min(o, h, l, c)` on every bar (step 4 of [`synthesize`]).
fn restore_high_low(w: &mut OhlcWindow) {
    for i in 0..w.len() {
        let (o, h, l, c) = (w.open[i], w.high[i], w.low[i], w.close[i]);
        w.high[i] = o.max(h).max(l).max(c);
        w.low[i] = o.min(h).min(l).min(c);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------------------

/// What a signal name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detector {
    /// A candlestick pattern read in a direction.
    Candle(CandlePattern, i8),
    /// A chart pattern kind.
    Chart(PatternKind),
}

/// Parses a signal name produced by [`candle_signal`] or [`chart_occurrences`].
fn parse_signal(name: &str) -> Option<Detector> {
    if let Some(kind) = PatternKind::from_name(name) {
        return Some(Detector::Chart(kind));
    }
    let (base, direction) = match (name.strip_suffix("_bull"), name.strip_suffix("_bear")) {
        (Some(base), _) => (base, 1),
        (_, Some(base)) => (base, -1),
        _ => (name, 0),
    };
    let pattern = CandlePattern::ALL.into_iter().find(|p| p.name() == base)?;
    (candle_signal(pattern, 100)?.0 == name || candle_signal(pattern, -100)?.0 == name)
        .then_some(Detector::Candle(pattern, direction))
}

/// Share of synthetic variants in which the detector still fires the same signal; `None` when `pattern` is
/// unknown, has no occurrence among `occurrences`, or no variant could be built (`max_samples` or
/// `variants_per_occurrence` 0).
///
/// Robustness measures how brittle a pattern *definition* is — whether a slightly different-looking market
/// would still be called the same pattern — not whether the pattern makes money.
///
/// Up to `max_samples` occurrences, evenly spaced over the pattern's history, each get
/// `variants_per_occurrence` windows from [`synthesize`] with `cfg.variation`, seeded from `cfg.seed`, the
/// signal name, the signal bar and the variant number:
/// - **candles**: the window is bars `start − context_bars ..= index` (TA-Lib's lookback + 1 bars plus the
///   context; the signal bar is its last bar). When a stretched window is shorter than lookback + 1 it is
///   padded in front with the real bars before it (or copies of its first bar at the data's start) so that
///   TA-Lib's averages are defined. It fires when [`candles::detect`] on it gives, at the last bar, a value
///   that [`candle_signal`] names the same signal (same direction);
/// - **chart patterns**: the window is bars `start − context_bars ..= index + swing_strength` (cut at the
///   data's end; the extra bars are the ones a fractal swing needs to be seen). It fires when
///   [`chart::analyze`] with `cfg.chart` (times `0, 1, …`) finds a pattern of the same kind anywhere in it.
pub fn robustness(pattern: &str, occurrences: &[Occurrence], input: &MinerInput<'_>, cfg: &MinerConfig) -> Option<f64> {
    let detector = parse_signal(pattern)?;
    let own: Vec<&Occurrence> = occurrences.iter().filter(|o| o.pattern == pattern).collect();
    let (mut fired, mut trials) = (0usize, 0usize);
    for occ in evenly_spaced(&own, cfg.max_samples) {
        let Some(probe) = Probe::new(detector, occ, input, cfg) else { continue };
        for variant in 0..cfg.variants_per_occurrence {
            let seed = mix(mix(mix(cfg.seed ^ fnv1a(pattern)) ^ occ.index as u64) ^ variant as u64);
            fired += usize::from(probe.fires(&synthesize(&probe.window, &cfg.variation, seed), cfg));
            trials += 1;
        }
    }
    (trials > 0).then(|| fired as f64 / trials as f64)
}

/// Up to `max` items of `items`, evenly spaced: item `⌊j × len / max⌋` for `j = 0 … max − 1`.
fn evenly_spaced<'a, T>(items: &[&'a T], max: usize) -> Vec<&'a T> {
    if items.len() <= max {
        return items.to_vec();
    }
    (0..max).filter_map(|j| items.get(j * items.len() / max).copied()).collect()
}

/// FNV-1a hash of a name (part of the robustness seeds).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// One occurrence prepared for robustness trials: its window and, for candles, the history before it.
struct Probe {
    /// What to run.
    detector: Detector,
    /// The window synthetic variants are made from.
    window: OhlcWindow,
    /// Real bars before the window (candles: up to the lookback), padding for shortened variants.
    history: OhlcWindow,
}

impl Probe {
    /// Cuts the window of `occ` (see [`robustness`]); `None` when the bars are not there.
    fn new(detector: Detector, occ: &Occurrence, input: &MinerInput<'_>, cfg: &MinerConfig) -> Option<Self> {
        let start = occ.start.min(occ.index).saturating_sub(cfg.context_bars);
        let last_bar = input.close.len().checked_sub(1)?;
        let (end, history_bars) = match detector {
            Detector::Candle(p, _) => (occ.index, p.lookback()),
            Detector::Chart(_) => ((occ.index.saturating_add(cfg.chart.swing_strength.max(1))).min(last_bar), 0),
        };
        let window = OhlcWindow::from_input(input, start..=end)?;
        let history = match start.checked_sub(1) {
            Some(before) if history_bars > 0 => {
                OhlcWindow::from_input(input, start.saturating_sub(history_bars)..=before).unwrap_or_default()
            }
            _ => OhlcWindow::default(),
        };
        Some(Self { detector, window, history })
    }

    /// Whether the detector fires the same signal on the synthetic window `w`.
    fn fires(&self, w: &OhlcWindow, cfg: &MinerConfig) -> bool {
        match self.detector {
            Detector::Candle(pattern, direction) => {
                let padded = pad_front(w, &self.history, pattern.lookback() + 1);
                let values = candles::detect(pattern, padded.ohlc());
                values.last().and_then(|&v| candle_signal(pattern, v)).is_some_and(|(_, d)| d == direction)
            }
            Detector::Chart(kind) => chart_fires(kind, w, &cfg.chart),
        }
    }
}

/// `w` with bars in front until it has `min_len` bars: the last bars of `history` first, then copies of the
/// first bar.
fn pad_front(w: &OhlcWindow, history: &OhlcWindow, min_len: usize) -> OhlcWindow {
    let n = w.len();
    let missing = min_len.saturating_sub(n);
    if missing == 0 || n == 0 {
        return w.clone();
    }
    let from_history = missing.min(history.len());
    let copies = missing - from_history;
    let mut out = OhlcWindow::default();
    for (dst, (src, hist)) in out.columns_mut().into_iter().zip(columns(w).into_iter().zip(columns(history))) {
        dst.extend(std::iter::repeat_n(src[0], copies));
        dst.extend_from_slice(&hist[history.len() - from_history..history.len()]);
        dst.extend_from_slice(&src[..n]);
    }
    out
}

/// Whether [`chart::analyze`] finds a pattern of `kind` in `w`.
fn chart_fires(kind: PatternKind, w: &OhlcWindow, cfg: &ChartConfig) -> bool {
    let n = w.len();
    let time_ns: Vec<i64> = (0..n as i64).collect();
    let input = ChartInput {
        time_ns: &time_ns,
        open: &w.open[..n],
        high: &w.high[..n],
        low: &w.low[..n],
        close: &w.close[..n],
        atr: &w.atr[..n],
    };
    chart::analyze(input, cfg).is_ok_and(|a| a.patterns.iter().any(|p| p.kind == kind))
}

// ---------------------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------------------

/// The miner's answer for one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiningReport {
    /// Number of bars mined.
    pub bars: usize,
    /// The forward-return horizon in bars.
    pub horizon_bars: usize,
    /// First out-of-sample bar ([`split_index`]).
    pub split_index: usize,
    /// One entry per signal that occurred: validated first, then by `|out_of_sample.t_stat|` descending,
    /// then by name.
    pub stats: Vec<PatternStats>,
}

/// Checks the configuration values [`mine`] depends on.
fn check_config(cfg: &MinerConfig) -> Result<(), MinerError> {
    if cfg.horizon_bars == 0 {
        return Err(MinerError::ZeroHorizon);
    }
    if !(cfg.oos_fraction > 0.0 && cfg.oos_fraction < 1.0) {
        return Err(MinerError::OosFraction(cfg.oos_fraction));
    }
    Ok(())
}

/// Mines `input`: every occurrence ([`find_occurrences`]), statistics per signal ([`pattern_stats`]) with the
/// out-of-sample verdict ([`validate_edge`]) and [`robustness`], sorted as [`MiningReport::stats`] says.
///
/// Errors: empty input, a column whose length differs from `time_ns`, `horizon_bars` 0, `oos_fraction`
/// outside `(0, 1)`. Signals that never occur are omitted; one that occurs only where no forward return
/// exists is reported with empty statistics.
pub fn mine(input: MinerInput<'_>, cfg: &MinerConfig) -> Result<MiningReport, MinerError> {
    input.validate()?;
    check_config(cfg)?;
    let candles = candles::detect_all(ohlc_of(&input));
    let chart_patterns = chart::analyze(input, &cfg.chart).map(|a| a.patterns).unwrap_or_default();
    mine_detected(input, &candles, &chart_patterns, cfg)
}

/// [`mine`] with the candlestick columns ([`candles::detect_all`]) and chart patterns ([`chart::analyze`] with
/// `cfg.chart`) already detected on `input`, so a caller that shows them too detects them once.
pub fn mine_detected(
    input: MinerInput<'_>,
    candles: &[(CandlePattern, Vec<i32>)],
    chart_patterns: &[ChartPattern],
    cfg: &MinerConfig,
) -> Result<MiningReport, MinerError> {
    let bars = input.validate()?;
    check_config(cfg)?;
    let split = split_index(bars, cfg.oos_fraction);
    let occurrences = occurrences_from(candles, chart_patterns, input.close, cfg.include_unconfirmed_chart_patterns);
    let mut by_pattern: BTreeMap<&str, Vec<Occurrence>> = BTreeMap::new();
    for o in &occurrences {
        by_pattern.entry(o.pattern.as_str()).or_default().push(o.clone());
    }
    let mut stats: Vec<PatternStats> = by_pattern
        .iter()
        .map(|(name, own)| {
            let mut s = pattern_stats(name, own, input.close, split, cfg);
            s.robustness = robustness(name, own, &input, cfg);
            s
        })
        .collect();
    stats.sort_by(|a, b| {
        b.validated
            .cmp(&a.validated)
            .then_with(|| b.out_of_sample.t_stat.abs().total_cmp(&a.out_of_sample.t_stat.abs()))
            .then_with(|| a.pattern.cmp(&b.pattern))
    });
    Ok(MiningReport { bars, horizon_bars: cfg.horizon_bars, split_index: split, stats })
}

#[cfg(test)]
mod tests {
    use super::chart::{Regime, VolatilityState};
    use super::*;

    const EPS: f64 = 1e-12;

    /// Owned columns of a constructed series.
    #[derive(Debug, Clone, Default)]
    struct Series {
        time_ns: Vec<i64>,
        open: Vec<f64>,
        high: Vec<f64>,
        low: Vec<f64>,
        close: Vec<f64>,
        atr: Vec<f64>,
    }

    impl Series {
        fn input(&self) -> MinerInput<'_> {
            MinerInput {
                time_ns: &self.time_ns,
                open: &self.open,
                high: &self.high,
                low: &self.low,
                close: &self.close,
                atr: &self.atr,
            }
        }

        fn push(&mut self, o: f64, h: f64, l: f64, c: f64, atr: f64) {
            self.time_ns.push(self.time_ns.len() as i64 * 3_600_000_000_000);
            self.open.push(o);
            self.high.push(h);
            self.low.push(l);
            self.close.push(c);
            self.atr.push(atr);
        }

        /// Flat-wick bars from closes (open = previous close).
        fn from_closes(closes: &[f64]) -> Self {
            let mut s = Self::default();
            for (i, &c) in closes.iter().enumerate() {
                let o = if i == 0 { c } else { closes[i - 1] };
                s.push(o, o.max(c) + 0.1, o.min(c) - 0.1, c, 0.5);
            }
            s
        }
    }

    /// TA-Lib's `CDLENGULFING` white-engulfs-black condition at bar `i` (lookback 2).
    fn bull_engulfing(s: &Series, i: usize) -> bool {
        let (o, c) = (&s.open, &s.close);
        i >= 2
            && c[i] >= o[i]
            && c[i - 1] < o[i - 1]
            && ((c[i] >= o[i - 1] && o[i] < c[i - 1]) || (c[i] > o[i - 1] && o[i] <= c[i - 1]))
    }

    /// A random walk (open = previous close, close = open × (1 + N(0, 0.2 %))) in which every bullish
    /// engulfing on a bar before `edge_until` is followed by ten white bars rising 0.1 % ± 0.03 % each (≈ +1 %
    /// over the horizon). Returns the series and every bullish engulfing bar.
    fn planted(n: usize, edge_until: usize, seed: u64) -> (Series, Vec<usize>) {
        let mut rng = SplitMix64(seed);
        let mut s = Series::default();
        let (mut forced, mut engulfings, mut prev) = (0usize, Vec::new(), 100.0);
        for i in 0..n {
            let o = prev;
            let c = if forced > 0 {
                forced -= 1;
                o * (1.001 + 0.0003 * rng.normal())
            } else {
                o * (1.0 + 0.002 * rng.normal())
            };
            let (up, down) = (0.001 * o * rng.next_f64(), 0.001 * o * rng.next_f64());
            s.push(o, o.max(c) + up, o.min(c) - down, c, 0.002 * o);
            if bull_engulfing(&s, i) {
                engulfings.push(i);
                if i < edge_until {
                    forced = 10;
                }
            }
            prev = c;
        }
        (s, engulfings)
    }

    /// Piecewise-linear path through `(bar, price)` anchors.
    fn path(anchors: &[(usize, f64)], x: f64) -> f64 {
        let first = anchors[0];
        if x <= first.0 as f64 {
            return first.1;
        }
        for w in anchors.windows(2) {
            let ((xa, ya), (xb, yb)) = (w[0], w[1]);
            if x <= xb as f64 {
                return ya + (yb - ya) * (x - xa as f64) / (xb - xa) as f64;
            }
        }
        anchors[anchors.len() - 1].1
    }

    /// Hourly bars through the anchors with micro-noise (the chart module's test construction), ATR 0.001.
    fn chart_series(anchors: &[(usize, f64)], seed: u64) -> Series {
        let n = anchors.last().map_or(0, |a| a.0 + 1);
        let mut rng = SplitMix64(seed);
        let mut s = Series::default();
        for i in 0..n {
            let o = path(anchors, i as f64 - 0.5) + 0.000_003 * (2.0 * rng.next_f64() - 1.0);
            let c = path(anchors, i as f64) + 0.000_003 * (2.0 * rng.next_f64() - 1.0);
            let wick = 0.000_02 + 0.000_003 * (2.0 * rng.next_f64() - 1.0);
            s.push(o, o.max(c) + wick, o.min(c) - wick, c, 0.001);
        }
        s
    }

    const DOUBLE_TOP: [(usize, f64); 6] =
        [(0, 1.0900), (20, 1.1000), (35, 1.0940), (50, 1.1002), (65, 1.0900), (70, 1.0920)];

    fn occ(pattern: &str, index: usize, direction: i8) -> Occurrence {
        Occurrence { pattern: pattern.to_owned(), index, direction, start: index }
    }

    fn close_to(a: f64, b: f64) -> bool {
        (a - b).abs() <= EPS
    }

    // --- forward returns and statistics -------------------------------------------------------------------

    #[test]
    fn forward_returns_and_t_stat_on_a_hand_series() {
        let close = [100.0, 200.0, 125.0, 50.0, 150.0, 100.0];
        // N = 2: r0 = 125/100 − 1 = 0.25, r1 = 50/200 − 1 = −0.75, r2 = 150/125 − 1 = 0.2, r3 = 100/50 − 1 = 1.
        assert_eq!(forward_return(&close, 0, 2), Some(0.25));
        assert_eq!(forward_return(&close, 1, 2), Some(-0.75));
        assert!(close_to(forward_return(&close, 2, 2).unwrap_or(f64::NAN), 0.2));
        assert_eq!(forward_return(&close, 3, 2), Some(1.0));
        assert_eq!(forward_return(&close, 4, 2), None, "bar 6 is past the end");
        assert_eq!(forward_return(&close, usize::MAX, 2), None);

        let occurrences: Vec<Occurrence> =
            [1, -1, 1, -1, 1].iter().enumerate().map(|(i, &d)| occ("x_bull", i, d)).collect();
        let cfg = MinerConfig { horizon_bars: 2, ..MinerConfig::default() };
        let s = pattern_stats("x_bull", &occurrences, &close, 3, &cfg);
        // signed: [0.25, 0.75, 0.2, −1.0] (bar 4 has no return)
        // mean 0.2 / 4 = 0.05; deviations 0.2, 0.7, 0.15, −1.05; squares sum 1.655; sd = √(1.655 / 3)
        let sd = (1.655f64 / 3.0).sqrt();
        assert_eq!(s.all.count, 4);
        assert!(close_to(s.all.mean, 0.05), "{}", s.all.mean);
        assert!(close_to(s.all.median, 0.225), "{}", s.all.median);
        assert!(close_to(s.all.hit_rate, 0.75));
        assert!(close_to(s.all.std_dev, sd), "{}", s.all.std_dev);
        assert!(close_to(s.all.t_stat, 0.05 / (sd / 2.0)), "{}", s.all.t_stat);
        assert!((s.all.t_stat - 0.134_637).abs() < 1e-6, "{}", s.all.t_stat);
        // in sample (bars 0–2): [0.25, 0.75, 0.2], mean 0.4, squares 0.0225 + 0.1225 + 0.04 = 0.185, sd √0.0925
        assert_eq!(s.in_sample.count, 3);
        assert!(close_to(s.in_sample.mean, 0.4));
        assert!(close_to(s.in_sample.median, 0.25));
        assert!(close_to(s.in_sample.std_dev, 0.0925f64.sqrt()));
        assert!(close_to(s.in_sample.t_stat, 0.4 / (0.0925f64.sqrt() / 3f64.sqrt())));
        assert!(close_to(s.in_sample.hit_rate, 1.0));
        // out of sample (bar 3): one return −1 → sd and t are 0
        assert_eq!(
            s.out_of_sample,
            ReturnStats { count: 1, hit_rate: 0.0, mean: -1.0, median: -1.0, std_dev: 0.0, t_stat: 0.0 }
        );
        assert_eq!(s.direction, 0, "mixed directions");
        assert_eq!(s.horizon_bars, 2);
        assert!(!s.validated);
        assert_eq!(s.verdict, "too few in-sample occurrences (3 < 20)");
    }

    #[test]
    fn stats_edge_cases() {
        assert_eq!(ReturnStats::from_returns(&[]), ReturnStats::default());
        let flat = ReturnStats::from_returns(&[0.5, 0.5, 0.5]);
        assert_eq!((flat.std_dev, flat.t_stat, flat.hit_rate), (0.0, 0.0, 1.0));
        let with_nan = ReturnStats::from_returns(&[0.1, f64::NAN, -0.3, f64::INFINITY]);
        assert_eq!(with_nan.count, 2);
        assert!(close_to(with_nan.mean, -0.1));
        // NaN and zero closes drop only the returns that need them
        let close = [100.0, f64::NAN, 110.0, 121.0, 0.0, 5.0];
        assert_eq!(forward_return(&close, 0, 1), None);
        assert_eq!(forward_return(&close, 1, 1), None);
        assert!(close_to(forward_return(&close, 2, 1).unwrap_or(f64::NAN), 0.1));
        assert_eq!(forward_return(&close, 4, 1), None, "division by a zero close");
    }

    #[test]
    fn direction_signing() {
        assert_eq!(signed_return(-0.02, 1), -0.02);
        assert_eq!(signed_return(-0.02, -1), 0.02);
        assert_eq!(signed_return(-0.02, 0), -0.02, "neutral: unsigned");
        // neutral signals hit when the market rises; bearish ones when it falls
        let close = [10.0, 11.0, 9.0, 9.9];
        let occurrences = [occ("doji", 0, 0), occ("doji", 1, 0), occ("doji", 2, 0)];
        let s = pattern_stats("doji", &occurrences, &close, 10, &MinerConfig { horizon_bars: 1, ..Default::default() });
        // r = +0.1, −2/11, +0.1 → 2 hits of 3
        assert!(close_to(s.all.hit_rate, 2.0 / 3.0));
        assert!(close_to(s.all.mean, (0.2 - 2.0 / 11.0) / 3.0));
        let bears = [occ("x_bear", 0, -1), occ("x_bear", 1, -1), occ("x_bear", 2, -1)];
        let s = pattern_stats("x_bear", &bears, &close, 10, &MinerConfig { horizon_bars: 1, ..Default::default() });
        assert!(close_to(s.all.hit_rate, 1.0 / 3.0));
        assert!(close_to(s.all.mean, -(0.2 - 2.0 / 11.0) / 3.0));
        assert_eq!(s.direction, -1);

        // candle readings
        let sig = |p, v| candle_signal(p, v);
        assert_eq!(sig(CandlePattern::Engulfing, 80), Some(("engulfing_bull".to_owned(), 1)));
        assert_eq!(sig(CandlePattern::Engulfing, -100), Some(("engulfing_bear".to_owned(), -1)));
        assert_eq!(sig(CandlePattern::Harami, -80), Some(("harami_bear".to_owned(), -1)));
        assert_eq!(sig(CandlePattern::Doji, 100), Some(("doji".to_owned(), 0)));
        assert_eq!(sig(CandlePattern::SpinningTop, -100), Some(("spinningtop".to_owned(), 0)));
        assert_eq!(sig(CandlePattern::GravestoneDoji, 100), Some(("gravestonedoji_bear".to_owned(), -1)));
        assert_eq!(sig(CandlePattern::DragonflyDoji, 100), Some(("dragonflydoji_bull".to_owned(), 1)));
        assert_eq!(sig(CandlePattern::HangingMan, -100), Some(("hangingman_bear".to_owned(), -1)));
        assert_eq!(sig(CandlePattern::ThreeWhiteSoldiers, 100), Some(("3whitesoldiers_bull".to_owned(), 1)));
        assert_eq!(sig(CandlePattern::Marubozu, -100), Some(("marubozu_bear".to_owned(), -1)));
        assert_eq!(sig(CandlePattern::Hammer, 0), None);
        // every name parses back to its detector, foreign names do not
        for p in CandlePattern::ALL {
            for v in [100, -100] {
                let (name, d) = sig(p, v).unwrap_or_default();
                assert_eq!(parse_signal(&name), Some(Detector::Candle(p, d)), "{name}");
            }
        }
        assert_eq!(parse_signal("doji_bull"), None);
        assert_eq!(parse_signal("hammer_bear"), None);
        assert_eq!(parse_signal("double_top"), Some(Detector::Chart(PatternKind::DoubleTop)));

        // chart directions
        let pattern = |kind, confirm: Option<usize>| ChartPattern {
            kind,
            start: 0,
            end: confirm.unwrap_or(1),
            pivots: Vec::new(),
            levels: vec![1.0, 1.2],
            strength: 1.0,
            confirmed: confirm.is_some(),
            confirm_index: confirm,
            volatility: VolatilityState::Unknown,
            regime: Regime::Unknown,
        };
        let close = [1.1, 1.1, 1.3, 0.9];
        assert_eq!(chart_direction(&pattern(PatternKind::SymmetricTriangle, Some(2)), &close), 1);
        assert_eq!(chart_direction(&pattern(PatternKind::SymmetricTriangle, Some(3)), &close), -1);
        assert_eq!(chart_direction(&pattern(PatternKind::SymmetricTriangle, None), &close), 0);
        assert_eq!(chart_direction(&pattern(PatternKind::SymmetricTriangle, Some(9)), &close), 0, "no such bar");
        assert_eq!(chart_direction(&pattern(PatternKind::DoubleTop, None), &close), -1);
        assert_eq!(chart_direction(&pattern(PatternKind::InverseHeadAndShoulders, None), &close), 1);
        assert_eq!(chart_direction(&pattern(PatternKind::DescendingTriangle, Some(2)), &close), -1);
        assert_eq!(chart_signal_bar(&pattern(PatternKind::DoubleTop, Some(3))), 3);
        assert_eq!(chart_signal_bar(&pattern(PatternKind::DoubleTop, None)), 1);
    }

    // --- out-of-sample validation ----------------------------------------------------------------------------

    #[test]
    fn oos_split_index() {
        assert_eq!(split_index(100, 0.3), 70);
        assert_eq!(split_index(1000, 0.3), 700);
        assert_eq!(split_index(10, 0.25), 7, "⌊7.5⌋");
        assert_eq!(split_index(7, 0.5), 3, "⌊3.5⌋");
        assert_eq!(split_index(3000, 0.3), 2100);
        assert_eq!(split_index(90, 0.3), 63, "90 × (1 − 0.3) is 62.99999999999999 in binary");
        assert_eq!(split_index(350, 0.3), 245);
        assert_eq!(split_index(10, f64::NAN), 10);
        // occurrences before the split are in sample, the split bar itself is out of sample
        let close: Vec<f64> = (0..12).map(|i| 100.0 + i as f64).collect();
        let occurrences: Vec<Occurrence> = (0..11).map(|i| occ("x_bull", i, 1)).collect();
        let s =
            pattern_stats("x_bull", &occurrences, &close, 7, &MinerConfig { horizon_bars: 1, ..Default::default() });
        assert_eq!((s.in_sample.count, s.out_of_sample.count, s.all.count), (7, 4, 11));
    }

    #[test]
    fn verdicts_in_words() {
        let cfg = MinerConfig::default();
        let stats =
            |count, mean, t_stat| ReturnStats { count, hit_rate: 0.5, mean, median: mean, std_dev: 0.01, t_stat };
        let v = |a, b| validate_edge(&a, &b, &cfg);
        assert_eq!(
            v(stats(30, 0.0011, 3.2), stats(7, 0.001, 2.0)),
            (false, "too few out-of-sample occurrences (7 < 20)".to_owned())
        );
        assert_eq!(
            v(stats(19, 0.0011, 3.2), stats(7, 0.001, 2.0)),
            (false, "too few in-sample occurrences (19 < 20)".to_owned())
        );
        assert_eq!(
            v(stats(30, 0.0011, 1.5), stats(25, 0.001, 2.0)),
            (false, "no in-sample edge: |t| 1.50 < 2.00 (mean +0.0011)".to_owned())
        );
        assert_eq!(
            v(stats(30, 0.0011, 3.2), stats(25, -0.0004, -0.8)),
            (false, "edge did not survive out of sample: mean −0.0004 vs +0.0011 in sample".to_owned())
        );
        assert_eq!(
            v(stats(30, 0.0011, 3.2), stats(25, 0.0002, 0.5)),
            (
                false,
                "edge did not survive out of sample: t +0.50 < 1.00 in the in-sample direction (mean +0.0002 vs \
                 +0.0011 in sample)"
                    .to_owned()
            )
        );
        assert_eq!(
            v(stats(30, -0.0011, -3.2), stats(25, -0.0009, -1.8)),
            (true, "validated: mean −0.0011 (t −3.20) in sample, −0.0009 (t +1.80) out of sample".to_owned())
        );
        // small returns get more decimals
        assert_eq!(
            v(stats(30, 0.000_031, 3.2), stats(25, -0.000_012, -0.4)).1,
            "edge did not survive out of sample: mean −0.000012 vs +0.000031 in sample"
        );
        assert_eq!(decimals(0.0102, -0.0003), 4);
        assert_eq!(decimals(0.0, 0.0), 4);
        assert_eq!(decimals(0.0, 1e-12), 8);
        assert_eq!(signed_text(-0.00031, 4), "−0.0003");
        assert_eq!(signed_text(0.0, 2), "+0.00");
    }

    #[test]
    fn planted_edge_is_validated() {
        let (s, engulfings) = planted(3000, 3000, 11);
        let report = mine(s.input(), &MinerConfig::default()).expect("valid input");
        assert_eq!((report.bars, report.horizon_bars, report.split_index), (3000, 10, 2100));
        // the miner finds exactly the bullish engulfings the generator planted
        let found: Vec<usize> = find_occurrences(&s.input(), &ChartConfig::default())
            .into_iter()
            .filter(|o| o.pattern == "engulfing_bull")
            .map(|o| o.index)
            .collect();
        assert_eq!(found, engulfings);
        let with_return = |oos: bool| engulfings.iter().filter(|&&i| i + 10 < 3000 && (i >= 2100) == oos).count();
        let e = report.stats.iter().find(|p| p.pattern == "engulfing_bull").expect("engulfing_bull is reported");
        assert_eq!((e.in_sample.count, e.out_of_sample.count), (with_return(false), with_return(true)));
        assert!(e.out_of_sample.count >= 20, "{}", e.out_of_sample.count);
        assert_eq!(e.direction, 1);
        assert!(e.validated, "{}", e.verdict);
        assert_eq!(e.verdict, "validated: mean +0.0102 (t +117.87) in sample, +0.0099 (t +65.85) out of sample");
        assert!(e.in_sample.mean > 0.009 && e.out_of_sample.mean > 0.009, "{e:?}");
        assert!(e.all.hit_rate > 0.99, "{}", e.all.hit_rate);
        // engulfing has no averaging lookback, so the default variation keeps it firing in most variants
        assert!(e.robustness.is_some_and(|r| r > 0.0 && r < 1.0), "{:?}", e.robustness);
        // ordering: validated first, then |t out of sample| descending
        let first_rejected = report.stats.iter().position(|p| !p.validated).unwrap_or(report.stats.len());
        assert!(report.stats[first_rejected..].iter().all(|p| !p.validated));
        for group in [&report.stats[..first_rejected], &report.stats[first_rejected..]] {
            for w in group.windows(2) {
                assert!(w[0].out_of_sample.t_stat.abs() >= w[1].out_of_sample.t_stat.abs());
            }
        }
        assert!(report.stats.iter().all(|p| p.all.count > 0 || p.in_sample.count == 0));
        // the report survives a JSON round trip
        let json = serde_json::to_string(&report).expect("serializable");
        let back: MiningReport = serde_json::from_str(&json).expect("deserializable");
        assert_eq!(back.stats.len(), report.stats.len());
        assert_eq!(back.stats[0].pattern, report.stats[0].pattern);
    }

    #[test]
    fn edge_only_in_sample_does_not_survive() {
        let (s, engulfings) = planted(3000, 2100, 11);
        let cfg = MinerConfig { max_samples: 0, ..MinerConfig::default() };
        let report = mine(s.input(), &cfg).expect("valid input");
        let e = report.stats.iter().find(|p| p.pattern == "engulfing_bull").expect("engulfing_bull is reported");
        let oos = engulfings.iter().filter(|&&i| (2100..2990).contains(&i)).count();
        assert_eq!(e.out_of_sample.count, oos);
        assert!(oos >= 20, "{oos}");
        assert!(e.in_sample.t_stat > 2.0, "{}", e.in_sample.t_stat);
        assert!(!e.validated);
        assert_eq!(e.verdict, "edge did not survive out of sample: mean −0.0003 vs +0.0102 in sample");
        assert_eq!(e.robustness, None, "max_samples 0 turns robustness off");
    }

    // --- synthetic generator ---------------------------------------------------------------------------------

    fn sample_window() -> OhlcWindow {
        let (s, _) = planted(200, 200, 5);
        OhlcWindow::from_input(&s.input(), 100..=139).expect("bars exist")
    }

    #[test]
    fn synthetic_windows_keep_ohlc_invariants_and_are_deterministic() {
        let w = sample_window();
        assert_eq!(w.len(), 40);
        let v = Variation { noise_atr: 0.5, scale: 0.3, stretch_min: 0.75, stretch_max: 1.5 };
        for seed in 0..50 {
            let syn = synthesize(&w, &v, seed);
            let n = syn.len();
            assert!((30..=60).contains(&n), "{n}");
            assert!([syn.open.len(), syn.high.len(), syn.low.len(), syn.close.len(), syn.atr.len()] == [n; 5]);
            for i in 0..n {
                let (o, h, l, c) = (syn.open[i], syn.high[i], syn.low[i], syn.close[i]);
                assert!([o, h, l, c].iter().all(|x| x.is_finite()));
                assert!(l <= o.min(c) && h >= o.max(c), "bar {i}: {o} {h} {l} {c}");
            }
        }
        assert_eq!(synthesize(&w, &v, 7), synthesize(&w, &v, 7));
        assert_ne!(synthesize(&w, &v, 7), synthesize(&w, &v, 8));
        // noise only: same length, every price moved, low ≤ open/close ≤ high
        let noisy = synthesize(&w, &Variation { noise_atr: 0.5, ..Variation::NONE }, 3);
        assert_eq!(noisy.len(), 40);
        assert!(noisy.close.iter().zip(&w.close).all(|(a, b)| a != b));
        assert_eq!(noisy.atr, w.atr);
        // no variation: unchanged, bit for bit
        assert_eq!(synthesize(&w, &Variation::NONE, 99), w);
    }

    #[test]
    fn stretch_changes_the_length_by_interpolation() {
        let mut s = Series::default();
        for i in 0..20 {
            let x = i as f64;
            s.push(x, x + 0.5, x - 0.5, x + 0.25, 1.0);
        }
        let w = OhlcWindow::from_input(&s.input(), 0..=19).expect("bars exist");
        let fixed = |f: f64| Variation { stretch_min: f, stretch_max: f, ..Variation::NONE };
        let long = synthesize(&w, &fixed(1.5), 1);
        assert_eq!(long.len(), 30, "round(20 × 1.5)");
        // new bar j samples old position j × 19 / 29; the ends are kept exactly
        for j in 0..30 {
            let x = j as f64 * 19.0 / 29.0;
            assert!((long.open[j] - x).abs() < 1e-12 && (long.close[j] - (x + 0.25)).abs() < 1e-12, "{j}");
        }
        assert_eq!((long.close[0], long.close[29]), (0.25, 19.25));
        assert_eq!(synthesize(&w, &fixed(0.75), 1).len(), 15, "round(20 × 0.75)");
        assert_eq!(synthesize(&w, &fixed(1.03), 1).len(), 21, "round(20.6)");
        assert_eq!(synthesize(&w, &fixed(0.01), 1).len(), 2, "clamped to 0.1 → 2 bars, the minimum");
        // swapped bounds are put in order; every length lies in [15, 30]
        let any = Variation { stretch_min: 1.5, stretch_max: 0.75, ..Variation::NONE };
        assert!((0..40).all(|seed| (15..=30).contains(&synthesize(&w, &any, seed).len())));
    }

    #[test]
    fn scale_multiplies_deviations_from_the_first_open() {
        let w = sample_window();
        let syn = synthesize(&w, &Variation { scale: 0.5, ..Variation::NONE }, 4);
        let o0 = w.open[0];
        let g = (syn.close[10] - o0) / (w.close[10] - o0);
        assert!((0.5..=1.5).contains(&g) && (g - 1.0).abs() > 1e-6, "{g}");
        assert_eq!(syn.open[0], o0);
        for i in 0..w.len() {
            for (a, b) in [(syn.high[i], w.high[i]), (syn.low[i], w.low[i]), (syn.close[i], w.close[i])] {
                assert!((a - (o0 + (b - o0) * g)).abs() < 1e-9);
            }
        }
    }

    // --- robustness ------------------------------------------------------------------------------------------

    #[test]
    fn noise_free_robustness_is_one_for_clean_patterns() {
        let (s, _) = planted(600, 600, 3);
        let input = s.input();
        let cfg = MinerConfig { variation: Variation::NONE, ..MinerConfig::default() };
        let occurrences = find_occurrences(&input, &cfg.chart);
        assert_eq!(robustness("engulfing_bull", &occurrences, &input, &cfg), Some(1.0));
        // every candle signal of the series, averaged lookbacks included, fires again on its own window
        let mut names: Vec<&str> = occurrences.iter().map(|o| o.pattern.as_str()).collect();
        names.dedup();
        names.sort_unstable();
        names.dedup();
        assert!(names.len() >= 5, "{names:?}");
        for name in names {
            assert_eq!(robustness(name, &occurrences, &input, &cfg), Some(1.0), "{name}");
        }
        // a chart pattern: the textbook double top, confirmed at bar 60
        let dt = chart_series(&DOUBLE_TOP, 1);
        let occurrences = find_occurrences(&dt.input(), &cfg.chart);
        let tops: Vec<&Occurrence> = occurrences.iter().filter(|o| o.pattern == "double_top").collect();
        assert_eq!(tops, vec![&Occurrence { pattern: "double_top".to_owned(), index: 60, direction: -1, start: 20 }]);
        assert_eq!(robustness("double_top", &occurrences, &dt.input(), &cfg), Some(1.0));
        // noise makes the definition misfire sometimes; unknown or absent patterns have no robustness
        let noisy = MinerConfig { variation: Variation { noise_atr: 1.0, ..Variation::NONE }, ..cfg.clone() };
        assert!(robustness("double_top", &occurrences, &dt.input(), &noisy).is_some_and(|r| r < 1.0));
        assert_eq!(robustness("double_bottom", &occurrences, &dt.input(), &cfg), None);
        assert_eq!(robustness("no_such_pattern", &occurrences, &dt.input(), &cfg), None);
        let off = MinerConfig { variants_per_occurrence: 0, ..cfg };
        assert_eq!(robustness("double_top", &occurrences, &dt.input(), &off), None);
    }

    #[test]
    fn shortened_candle_windows_are_padded_in_front() {
        let w = sample_window();
        let history = OhlcWindow::from_input(&planted(200, 200, 5).0.input(), 95..=99).expect("bars exist");
        let padded = pad_front(&w, &history, 50);
        assert_eq!(padded.len(), 50);
        assert_eq!(padded.close[..5], [w.close[0]; 5], "copies of the first bar once history runs out");
        assert_eq!(padded.close[5..10], history.close[..]);
        assert_eq!(padded.close[10..], w.close[..]);
        assert_eq!(pad_front(&w, &history, 12), w);
    }

    // --- errors and degenerate input -------------------------------------------------------------------------

    #[test]
    fn error_cases() {
        let s = Series::from_closes(&[1.0, 2.0, 3.0]);
        let cfg = MinerConfig::default();
        assert_eq!(mine(Series::default().input(), &cfg), Err(MinerError::Empty));
        let mut short = s.clone();
        short.close.pop();
        assert_eq!(mine(short.input(), &cfg), Err(MinerError::LengthMismatch { column: "close", len: 2, expected: 3 }));
        assert_eq!(mine(s.input(), &MinerConfig { horizon_bars: 0, ..cfg.clone() }), Err(MinerError::ZeroHorizon));
        for bad in [0.0, 1.0, -0.1, 1.5] {
            assert_eq!(
                mine(s.input(), &MinerConfig { oos_fraction: bad, ..cfg.clone() }),
                Err(MinerError::OosFraction(bad))
            );
        }
        let nan = mine(s.input(), &MinerConfig { oos_fraction: f64::NAN, ..cfg.clone() });
        assert!(matches!(nan, Err(MinerError::OosFraction(x)) if x.is_nan()));
        assert_eq!(MinerError::Empty.to_string(), "miner input has no bars");
        assert_eq!(
            MinerError::LengthMismatch { column: "atr", len: 2, expected: 3 }.to_string(),
            "miner column 'atr' has 2 values but time_ns has 3"
        );
        assert_eq!(MinerError::ZeroHorizon.to_string(), "horizon_bars must be at least 1");
        assert_eq!(MinerError::OosFraction(1.0).to_string(), "oos_fraction must lie strictly between 0 and 1, got 1");
        let _: &dyn std::error::Error = &MinerError::Empty;
    }

    #[test]
    fn nan_closes_and_tiny_input_never_panic() {
        let (mut s, _) = planted(400, 400, 9);
        for i in (0..400).step_by(37) {
            s.close[i] = f64::NAN;
            s.atr[i] = f64::NAN;
        }
        let report = mine(s.input(), &MinerConfig::default()).expect("valid lengths");
        for p in &report.stats {
            for r in [p.all, p.in_sample, p.out_of_sample] {
                assert!([r.hit_rate, r.mean, r.median, r.std_dev, r.t_stat].iter().all(|x| x.is_finite()), "{p:?}");
            }
        }
        let one = Series::from_closes(&[1.0]);
        let report = mine(one.input(), &MinerConfig { horizon_bars: 50, ..Default::default() }).expect("valid");
        assert_eq!((report.bars, report.split_index, report.stats.len()), (1, 0, 0));
        // find_occurrences and robustness tolerate unequal columns
        let mut ragged = planted(100, 100, 2).0;
        ragged.high.truncate(60);
        let occurrences = find_occurrences(&ragged.input(), &ChartConfig::default());
        assert!(occurrences.iter().all(|o| o.index < 60));
        for o in &occurrences {
            let _ = robustness(&o.pattern, &occurrences, &ragged.input(), &MinerConfig::default());
        }
    }

    #[test]
    fn config_defaults_and_json() {
        let cfg: MinerConfig = serde_json::from_str("{}").expect("all fields default");
        assert_eq!(cfg, MinerConfig::default());
        assert_eq!(
            (cfg.horizon_bars, cfg.oos_fraction, cfg.min_occurrences, cfg.min_t_in_sample, cfg.min_t_out_of_sample),
            (10, 0.3, 20, 2.0, 1.0)
        );
        assert_eq!((cfg.context_bars, cfg.max_samples, cfg.variants_per_occurrence, cfg.seed), (10, 20, 10, 42));
        assert_eq!(cfg.variation, Variation { noise_atr: 0.1, scale: 0.1, stretch_min: 0.75, stretch_max: 1.5 });
        let partial: MinerConfig =
            serde_json::from_str(r#"{"horizon_bars": 5, "variation": {"noise_atr": 0.2}}"#).expect("partial");
        assert_eq!((partial.horizon_bars, partial.variation.noise_atr, partial.variation.stretch_max), (5, 0.2, 1.5));
    }
}
