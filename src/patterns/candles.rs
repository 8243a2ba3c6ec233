//! Candlestick pattern recognition identical to TA-Lib's C `CDL*` functions with TA-Lib's default candle
//! settings, value for value: the same warm-up (bars inside the lookback are 0, as the Python wrapper shows them),
//! the same `±100` / `±80` answers and the same floating-point arithmetic, because traders compare our signals
//! with TA-Lib bar by bar. Pure `std`; imports nothing of ours.
//!
//! What "the same arithmetic" means here:
//!
//! * every "long / short / near" test compares with `factor × average / (2 for shadows)`, where the average is
//!   TA-Lib's rolling *period total* of the candles before the one tested: summed once over the bars before the
//!   first output, then updated after each bar as `total + (newest − oldest)`, never re-summed. An averaging
//!   period of 0 means "the tested candle's own range";
//! * TA-Lib 0.8.1 as shipped in the PyPI wheel runs an FMA build of `CDLMORNINGSTAR` on CPUs that have FMA, so
//!   its "closes well within the first body" threshold `close[i-2] + body[i-2] × penetration` is one fused
//!   multiply-add; we fuse it too ([`f64::mul_add`]). `CDLEVENINGSTAR` and `CDLDARKCLOUDCOVER` are not fused;
//! * the Python wrapper starts TA-Lib at the first bar whose open, high, low and close are all numbers, so leading
//!   `NaN` bars push the warm-up back by as many bars; we do the same.
//!
//! Inputs of unequal length are cut to the shortest column (the output has that length); nothing here panics on
//! data.

use CandleSettingType as S;

/// What a candle setting measures on a candle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeType {
    /// The real body, `|close − open|`.
    RealBody,
    /// The whole range, `high − low`.
    HighLow,
    /// Upper plus lower shadow; its averages are halved (the mean length of one shadow).
    Shadows,
}

/// One TA-Lib candle setting: a part of a candle is "long", "short", "near" … when compared with `factor` times
/// the average `range_type` of the `avg_period` candles before it (the candle's own range when `avg_period` is 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandleSetting {
    /// What is measured.
    pub range_type: RangeType,
    /// How many preceding candles are averaged; 0 means the tested candle's own range.
    pub avg_period: usize,
    /// Multiplier applied to the average.
    pub factor: f64,
}

/// The eleven TA-Lib candle settings (`TA_CandleSettingType`); [`CandleSettingType::default_setting`] gives
/// TA-Lib's defaults, the only values this module uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandleSettingType {
    /// Long real body: body > average body of the 10 previous candles.
    BodyLong,
    /// Very long real body: body > 3 × average body of the 10 previous candles.
    BodyVeryLong,
    /// Short real body: body < average body of the 10 previous candles.
    BodyShort,
    /// Doji body: body ≤ 10 % of the average high-low range of the 10 previous candles.
    BodyDoji,
    /// Long shadow: shadow > the candle's own real body.
    ShadowLong,
    /// Very long shadow: shadow > 2 × the candle's own real body.
    ShadowVeryLong,
    /// Short shadow: shadow < half the average shadow sum of the 10 previous candles.
    ShadowShort,
    /// Very short shadow: shadow < 10 % of the average high-low range of the 10 previous candles.
    ShadowVeryShort,
    /// Near: distance ≤ 20 % of the average high-low range of the 5 previous candles.
    Near,
    /// Far: distance ≥ 60 % of the average high-low range of the 5 previous candles.
    Far,
    /// Equal: distance ≤ 5 % of the average high-low range of the 5 previous candles.
    Equal,
}

impl CandleSettingType {
    /// All settings, in TA-Lib's order.
    pub const ALL: [CandleSettingType; 11] = [
        Self::BodyLong,
        Self::BodyVeryLong,
        Self::BodyShort,
        Self::BodyDoji,
        Self::ShadowLong,
        Self::ShadowVeryLong,
        Self::ShadowShort,
        Self::ShadowVeryShort,
        Self::Near,
        Self::Far,
        Self::Equal,
    ];

    /// TA-Lib's name of the setting without the `TA_` prefix (`"BodyLong"` …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::BodyLong => "BodyLong",
            Self::BodyVeryLong => "BodyVeryLong",
            Self::BodyShort => "BodyShort",
            Self::BodyDoji => "BodyDoji",
            Self::ShadowLong => "ShadowLong",
            Self::ShadowVeryLong => "ShadowVeryLong",
            Self::ShadowShort => "ShadowShort",
            Self::ShadowVeryShort => "ShadowVeryShort",
            Self::Near => "Near",
            Self::Far => "Far",
            Self::Equal => "Equal",
        }
    }

    /// TA-Lib's default value of the setting (`TA_CandleDefaultSettings`).
    pub const fn default_setting(self) -> CandleSetting {
        let (range_type, avg_period, factor) = match self {
            Self::BodyLong => (RangeType::RealBody, 10, 1.0),
            Self::BodyVeryLong => (RangeType::RealBody, 10, 3.0),
            Self::BodyShort => (RangeType::RealBody, 10, 1.0),
            Self::BodyDoji => (RangeType::HighLow, 10, 0.1),
            Self::ShadowLong => (RangeType::RealBody, 0, 1.0),
            Self::ShadowVeryLong => (RangeType::RealBody, 0, 2.0),
            Self::ShadowShort => (RangeType::Shadows, 10, 1.0),
            Self::ShadowVeryShort => (RangeType::HighLow, 10, 0.1),
            Self::Near => (RangeType::HighLow, 5, 0.2),
            Self::Far => (RangeType::HighLow, 5, 0.6),
            Self::Equal => (RangeType::HighLow, 5, 0.05),
        };
        CandleSetting { range_type, avg_period, factor }
    }

    /// The default averaging period (shorthand used by the lookbacks).
    const fn period(self) -> usize {
        self.default_setting().avg_period
    }
}

/// One TA-Lib candlestick pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandlePattern {
    /// `CDLDOJI`: open and close (almost) equal; always 100.
    Doji,
    /// `CDLDRAGONFLYDOJI`: doji at the high with a lower shadow; always 100.
    DragonflyDoji,
    /// `CDLGRAVESTONEDOJI`: doji at the low with an upper shadow; always 100.
    GravestoneDoji,
    /// `CDLHAMMER`: small body near the prior low, long lower shadow, (almost) no upper shadow; 100.
    Hammer,
    /// `CDLHANGINGMAN`: the hammer's shape near the prior high; −100.
    HangingMan,
    /// `CDLINVERTEDHAMMER`: small body gapping down, long upper shadow, (almost) no lower shadow; 100.
    InvertedHammer,
    /// `CDLSHOOTINGSTAR`: the inverted hammer's shape gapping up; −100.
    ShootingStar,
    /// `CDLENGULFING`: a body engulfing the prior opposite-coloured body; ±100, ±80 when one end matches.
    Engulfing,
    /// `CDLHARAMI`: a short body inside the prior long body; ±100, ±80 when one end matches.
    Harami,
    /// `CDLPIERCING`: long white opening below the prior long black's low, closing above its midpoint; 100.
    Piercing,
    /// `CDLDARKCLOUDCOVER`: black opening above the prior long white's high, closing into its body; −100.
    DarkCloudCover,
    /// `CDLMORNINGSTAR`: long black, short star gapping down, white closing into the first body; 100.
    MorningStar,
    /// `CDLEVENINGSTAR`: long white, short star gapping up, black closing into the first body; −100.
    EveningStar,
    /// `CDL3WHITESOLDIERS`: three rising white candles with very short upper shadows; 100.
    ThreeWhiteSoldiers,
    /// `CDL3BLACKCROWS`: a white candle then three falling black candles with very short lower shadows; −100.
    ThreeBlackCrows,
    /// `CDLMARUBOZU`: long body with (almost) no shadows; ±100 by colour.
    Marubozu,
    /// `CDLSPINNINGTOP`: small body with both shadows longer than it; ±100 by colour.
    SpinningTop,
}

impl CandlePattern {
    /// All patterns, in declaration order (the order of [`detect_all`]).
    pub const ALL: [CandlePattern; 17] = [
        Self::Doji,
        Self::DragonflyDoji,
        Self::GravestoneDoji,
        Self::Hammer,
        Self::HangingMan,
        Self::InvertedHammer,
        Self::ShootingStar,
        Self::Engulfing,
        Self::Harami,
        Self::Piercing,
        Self::DarkCloudCover,
        Self::MorningStar,
        Self::EveningStar,
        Self::ThreeWhiteSoldiers,
        Self::ThreeBlackCrows,
        Self::Marubozu,
        Self::SpinningTop,
    ];

    /// TA-Lib's function name without `CDL`, lower case (`"doji"`, `"3whitesoldiers"` …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Doji => "doji",
            Self::DragonflyDoji => "dragonflydoji",
            Self::GravestoneDoji => "gravestonedoji",
            Self::Hammer => "hammer",
            Self::HangingMan => "hangingman",
            Self::InvertedHammer => "invertedhammer",
            Self::ShootingStar => "shootingstar",
            Self::Engulfing => "engulfing",
            Self::Harami => "harami",
            Self::Piercing => "piercing",
            Self::DarkCloudCover => "darkcloudcover",
            Self::MorningStar => "morningstar",
            Self::EveningStar => "eveningstar",
            Self::ThreeWhiteSoldiers => "3whitesoldiers",
            Self::ThreeBlackCrows => "3blackcrows",
            Self::Marubozu => "marubozu",
            Self::SpinningTop => "spinningtop",
        }
    }

    /// TA-Lib's function name (`"CDLDOJI"` …).
    pub const fn talib_name(self) -> &'static str {
        match self {
            Self::Doji => "CDLDOJI",
            Self::DragonflyDoji => "CDLDRAGONFLYDOJI",
            Self::GravestoneDoji => "CDLGRAVESTONEDOJI",
            Self::Hammer => "CDLHAMMER",
            Self::HangingMan => "CDLHANGINGMAN",
            Self::InvertedHammer => "CDLINVERTEDHAMMER",
            Self::ShootingStar => "CDLSHOOTINGSTAR",
            Self::Engulfing => "CDLENGULFING",
            Self::Harami => "CDLHARAMI",
            Self::Piercing => "CDLPIERCING",
            Self::DarkCloudCover => "CDLDARKCLOUDCOVER",
            Self::MorningStar => "CDLMORNINGSTAR",
            Self::EveningStar => "CDLEVENINGSTAR",
            Self::ThreeWhiteSoldiers => "CDL3WHITESOLDIERS",
            Self::ThreeBlackCrows => "CDL3BLACKCROWS",
            Self::Marubozu => "CDLMARUBOZU",
            Self::SpinningTop => "CDLSPINNINGTOP",
        }
    }

    /// The pattern named `name` ([`Self::name`] or [`Self::talib_name`], any case).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name) || p.talib_name().eq_ignore_ascii_case(name))
    }

    /// TA-Lib's lookback with the default settings: the first `lookback` bars (after any leading `NaN` bars) are 0.
    pub fn lookback(self) -> usize {
        match self {
            Self::Doji => S::BodyDoji.period(),
            Self::SpinningTop => S::BodyShort.period(),
            Self::DragonflyDoji | Self::GravestoneDoji => S::BodyDoji.period().max(S::ShadowVeryShort.period()),
            Self::Hammer | Self::HangingMan => {
                S::BodyShort.period().max(S::ShadowLong.period()).max(S::ShadowVeryShort.period()).max(S::Near.period())
                    + 1
            }
            Self::InvertedHammer | Self::ShootingStar => {
                S::BodyShort.period().max(S::ShadowLong.period()).max(S::ShadowVeryShort.period()) + 1
            }
            Self::Engulfing => 2,
            Self::Harami => S::BodyShort.period().max(S::BodyLong.period()) + 1,
            Self::Piercing | Self::DarkCloudCover => S::BodyLong.period() + 1,
            Self::MorningStar | Self::EveningStar => S::BodyShort.period().max(S::BodyLong.period()) + 2,
            Self::ThreeWhiteSoldiers => {
                S::ShadowVeryShort.period().max(S::BodyShort.period()).max(S::Far.period().max(S::Near.period())) + 2
            }
            Self::ThreeBlackCrows => S::ShadowVeryShort.period() + 3,
            Self::Marubozu => S::BodyLong.period().max(S::ShadowVeryShort.period()),
        }
    }

    /// TA-Lib's default penetration for the patterns that take one (0.3 for the stars, 0.5 for dark cloud
    /// cover); `None` for the others.
    pub const fn default_penetration(self) -> Option<f64> {
        match self {
            Self::MorningStar | Self::EveningStar => Some(0.3),
            Self::DarkCloudCover => Some(0.5),
            _ => None,
        }
    }
}

/// Borrowed OHLC columns of equal length (unequal columns are cut to the shortest).
#[derive(Debug, Clone, Copy)]
pub struct Ohlc<'a> {
    /// Opening prices.
    pub open: &'a [f64],
    /// Highest prices.
    pub high: &'a [f64],
    /// Lowest prices.
    pub low: &'a [f64],
    /// Closing prices.
    pub close: &'a [f64],
}

impl<'a> Ohlc<'a> {
    /// Bundles four columns.
    pub fn new(open: &'a [f64], high: &'a [f64], low: &'a [f64], close: &'a [f64]) -> Self {
        Self { open, high, low, close }
    }

    /// Number of bars: the length of the shortest column.
    pub fn len(&self) -> usize {
        self.open.len().min(self.high.len()).min(self.low.len()).min(self.close.len())
    }

    /// Whether there is no complete bar.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Detects one pattern over the whole series with TA-Lib's defaults: a `Vec` as long as the shortest column
/// holding TA-Lib's values (0, ±100, and ±80 for [`CandlePattern::Engulfing`] / [`CandlePattern::Harami`] when
/// the two bodies share an end); bars inside the lookback (after any leading `NaN` bars) are 0.
pub fn detect(pattern: CandlePattern, bars: Ohlc<'_>) -> Vec<i32> {
    run(pattern, bars, pattern.default_penetration().unwrap_or(0.0))
}

/// Same as [`detect`] with the penetration of [`CandlePattern::MorningStar`], [`CandlePattern::EveningStar`]
/// (TA-Lib default 0.3) and [`CandlePattern::DarkCloudCover`] (default 0.5); other patterns ignore it. Like
/// TA-Lib, `-4e37` means "the default"; a negative or infinite penetration, which TA-Lib rejects, yields all 0,
/// as does `NaN` (TA-Lib accepts it, and every comparison with it fails).
pub fn detect_with_penetration(pattern: CandlePattern, bars: Ohlc<'_>, penetration: f64) -> Vec<i32> {
    let penetration = match pattern.default_penetration() {
        Some(default) if penetration == TA_REAL_DEFAULT => default,
        Some(_) if !(0.0..=f64::MAX).contains(&penetration) => return vec![0; bars.len()],
        Some(_) => penetration,
        None => 0.0,
    };
    run(pattern, bars, penetration)
}

/// All patterns with TA-Lib's defaults, in [`CandlePattern::ALL`] order.
pub fn detect_all(bars: Ohlc<'_>) -> Vec<(CandlePattern, Vec<i32>)> {
    CandlePattern::ALL.into_iter().map(|p| (p, detect(p, bars))).collect()
}

/// TA-Lib's "use the default" value of a real optional input (`TA_REAL_DEFAULT`).
const TA_REAL_DEFAULT: f64 = -4e37;

/// Cuts the columns, skips leading `NaN` bars the way the Python wrapper does, and runs one pattern.
fn run(pattern: CandlePattern, bars: Ohlc<'_>, penetration: f64) -> Vec<i32> {
    let n = bars.len();
    let mut out = vec![0; n];
    if n == 0 {
        return out;
    }
    let complete =
        |i: usize| !(bars.open[i].is_nan() || bars.high[i].is_nan() || bars.low[i].is_nan() || bars.close[i].is_nan());
    let first = (0..n).find(|&i| complete(i)).unwrap_or(n - 1);
    let b = Bars {
        open: &bars.open[first..n],
        high: &bars.high[first..n],
        low: &bars.low[first..n],
        close: &bars.close[first..n],
    };
    let start = pattern.lookback();
    if b.len() <= start {
        return out;
    }
    let out_tail = &mut out[first..];
    let scan = match pattern {
        CandlePattern::Doji => doji,
        CandlePattern::DragonflyDoji => dragonfly_doji,
        CandlePattern::GravestoneDoji => gravestone_doji,
        CandlePattern::Hammer => hammer,
        CandlePattern::HangingMan => hanging_man,
        CandlePattern::InvertedHammer => inverted_hammer,
        CandlePattern::ShootingStar => shooting_star,
        CandlePattern::Engulfing => engulfing,
        CandlePattern::Harami => harami,
        CandlePattern::Piercing => piercing,
        CandlePattern::DarkCloudCover => dark_cloud_cover,
        CandlePattern::MorningStar => morning_star,
        CandlePattern::EveningStar => evening_star,
        CandlePattern::ThreeWhiteSoldiers => three_white_soldiers,
        CandlePattern::ThreeBlackCrows => three_black_crows,
        CandlePattern::Marubozu => marubozu,
        CandlePattern::SpinningTop => spinning_top,
    };
    scan(&b, start, penetration, out_tail);
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Candle geometry and TA-Lib's running averages
// ---------------------------------------------------------------------------------------------------------------

/// Equal-length OHLC columns starting at the first complete bar.
struct Bars<'a> {
    open: &'a [f64],
    high: &'a [f64],
    low: &'a [f64],
    close: &'a [f64],
}

impl Bars<'_> {
    /// Number of bars.
    fn len(&self) -> usize {
        self.close.len()
    }

    /// `|close − open|`.
    fn body(&self, i: usize) -> f64 {
        (self.close[i] - self.open[i]).abs()
    }

    /// TA-Lib's candle colour: 1 (white) when close ≥ open, else −1 (black).
    fn color(&self, i: usize) -> i32 {
        if self.close[i] >= self.open[i] { 1 } else { -1 }
    }

    /// `high − top of the body`, the top chosen by colour as TA-Lib does.
    fn upper_shadow(&self, i: usize) -> f64 {
        self.high[i] - if self.close[i] >= self.open[i] { self.close[i] } else { self.open[i] }
    }

    /// `bottom of the body − low`.
    fn lower_shadow(&self, i: usize) -> f64 {
        (if self.close[i] >= self.open[i] { self.open[i] } else { self.close[i] }) - self.low[i]
    }

    /// `max(open, close)` (C `fmax`).
    fn body_top(&self, i: usize) -> f64 {
        self.open[i].max(self.close[i])
    }

    /// `min(open, close)` (C `fmin`).
    fn body_bottom(&self, i: usize) -> f64 {
        self.open[i].min(self.close[i])
    }

    /// TA-Lib's `TA_CANDLERANGE`.
    fn range(&self, range_type: RangeType, i: usize) -> f64 {
        match range_type {
            RangeType::RealBody => self.body(i),
            RangeType::HighLow => self.high[i] - self.low[i],
            RangeType::Shadows => self.upper_shadow(i) + self.lower_shadow(i),
        }
    }
}

/// TA-Lib's rolling period total of one candle setting for the candle `offset` bars before the current bar `i`:
/// the sum of the setting's range over the `avg_period` candles before that candle.
struct PeriodTotal {
    setting: CandleSetting,
    offset: usize,
    total: f64,
}

impl PeriodTotal {
    /// Sums the candles before the first tested one (`start − offset`), oldest first, from 0.
    fn new(kind: CandleSettingType, offset: usize, b: &Bars<'_>, start: usize) -> Self {
        let setting = kind.default_setting();
        let first_tested = start - offset;
        let mut total = 0.0;
        for k in first_tested - setting.avg_period..first_tested {
            total += b.range(setting.range_type, k);
        }
        Self { setting, offset, total }
    }

    /// TA-Lib's `TA_CANDLEAVERAGE` for the candle `i − offset`.
    fn average(&self, b: &Bars<'_>, i: usize) -> f64 {
        let s = self.setting;
        let mean =
            if s.avg_period != 0 { self.total / s.avg_period as f64 } else { b.range(s.range_type, i - self.offset) };
        let halve = if s.range_type == RangeType::Shadows { 2.0 } else { 1.0 };
        s.factor * mean / halve
    }

    /// After bar `i`: `total + (range(newest) − range(oldest))`, exactly TA-Lib's update.
    fn advance(&mut self, b: &Bars<'_>, i: usize) {
        let newest = i - self.offset;
        let rt = self.setting.range_type;
        self.total += b.range(rt, newest) - b.range(rt, newest - self.setting.avg_period);
    }
}

/// `100 × sign` when `hit`, else 0.
fn signal(hit: bool, value: i32) -> i32 {
    if hit { value } else { 0 }
}

// ---------------------------------------------------------------------------------------------------------------
// The patterns: each fills `out[start..]`, bar `i` seeing only bars `..= i`
// ---------------------------------------------------------------------------------------------------------------

/// `CDLDOJI`.
fn doji(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut doji = PeriodTotal::new(S::BodyDoji, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        *o = signal(b.body(i) <= doji.average(b, i), 100);
        doji.advance(b, i);
    }
}

/// `CDLDRAGONFLYDOJI`.
fn dragonfly_doji(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut doji = PeriodTotal::new(S::BodyDoji, 0, b, start);
    let mut very_short = PeriodTotal::new(S::ShadowVeryShort, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.body(i) <= doji.average(b, i)
            && b.upper_shadow(i) < very_short.average(b, i)
            && b.lower_shadow(i) > very_short.average(b, i);
        *o = signal(hit, 100);
        doji.advance(b, i);
        very_short.advance(b, i);
    }
}

/// `CDLGRAVESTONEDOJI`.
fn gravestone_doji(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut doji = PeriodTotal::new(S::BodyDoji, 0, b, start);
    let mut very_short = PeriodTotal::new(S::ShadowVeryShort, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.body(i) <= doji.average(b, i)
            && b.lower_shadow(i) < very_short.average(b, i)
            && b.upper_shadow(i) > very_short.average(b, i);
        *o = signal(hit, 100);
        doji.advance(b, i);
        very_short.advance(b, i);
    }
}

/// The shape shared by hammer and hanging man: small body, long lower shadow, very short upper shadow; `place`
/// tests the body against the prior candle given the `Near` average of that candle.
fn hammer_shape(b: &Bars<'_>, start: usize, out: &mut [i32], value: i32, place: impl Fn(usize, f64) -> bool) {
    let mut body = PeriodTotal::new(S::BodyShort, 0, b, start);
    let mut long = PeriodTotal::new(S::ShadowLong, 0, b, start);
    let mut very_short = PeriodTotal::new(S::ShadowVeryShort, 0, b, start);
    let mut near = PeriodTotal::new(S::Near, 1, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.body(i) < body.average(b, i)
            && b.lower_shadow(i) > long.average(b, i)
            && b.upper_shadow(i) < very_short.average(b, i)
            && place(i, near.average(b, i));
        *o = signal(hit, value);
        body.advance(b, i);
        long.advance(b, i);
        very_short.advance(b, i);
        near.advance(b, i);
    }
}

/// `CDLHAMMER`: the body's bottom at most "near" above the prior low.
fn hammer(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    hammer_shape(b, start, out, 100, |i, near| b.close[i].min(b.open[i]) <= b.low[i - 1] + near);
}

/// `CDLHANGINGMAN`: the body's bottom at least "near" below the prior high.
fn hanging_man(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    hammer_shape(b, start, out, -100, |i, near| b.close[i].min(b.open[i]) >= b.high[i - 1] - near);
}

/// The shape shared by inverted hammer and shooting star: a body gap (`gap`), small body, long upper shadow,
/// very short lower shadow.
fn inverted_shape(b: &Bars<'_>, start: usize, out: &mut [i32], value: i32, gap: impl Fn(usize) -> bool) {
    let mut body = PeriodTotal::new(S::BodyShort, 0, b, start);
    let mut long = PeriodTotal::new(S::ShadowLong, 0, b, start);
    let mut very_short = PeriodTotal::new(S::ShadowVeryShort, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = gap(i)
            && b.body(i) < body.average(b, i)
            && b.upper_shadow(i) > long.average(b, i)
            && b.lower_shadow(i) < very_short.average(b, i);
        *o = signal(hit, value);
        body.advance(b, i);
        long.advance(b, i);
        very_short.advance(b, i);
    }
}

/// `CDLINVERTEDHAMMER`: the body gaps down from the prior body.
fn inverted_hammer(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    inverted_shape(b, start, out, 100, |i| b.body_top(i) < b.body_bottom(i - 1));
}

/// `CDLSHOOTINGSTAR`: the body gaps up from the prior body.
fn shooting_star(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    inverted_shape(b, start, out, -100, |i| b.body_bottom(i) > b.body_top(i - 1));
}

/// `CDLENGULFING`: ±100, or ±80 when the bodies share an end (open = prior close or close = prior open).
fn engulfing(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let (open, close) = (b.open, b.close);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let white_engulfs = b.color(i) == 1
            && b.color(i - 1) == -1
            && ((close[i] >= open[i - 1] && open[i] < close[i - 1])
                || (close[i] > open[i - 1] && open[i] <= close[i - 1]));
        let black_engulfs = b.color(i) == -1
            && b.color(i - 1) == 1
            && ((open[i] >= close[i - 1] && close[i] < open[i - 1])
                || (open[i] > close[i - 1] && close[i] <= open[i - 1]));
        *o = if !(white_engulfs || black_engulfs) {
            0
        } else if open[i] != close[i - 1] && close[i] != open[i - 1] {
            b.color(i) * 100
        } else {
            b.color(i) * 80
        };
    }
}

/// `CDLHARAMI`: long body then a short body inside it; −colour of the first × 100, or × 80 when an end matches.
fn harami(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut long = PeriodTotal::new(S::BodyLong, 1, b, start);
    let mut short = PeriodTotal::new(S::BodyShort, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        *o = if b.body(i - 1) > long.average(b, i) && b.body(i) <= short.average(b, i) {
            let (top, bottom) = (b.close[i].max(b.open[i]), b.close[i].min(b.open[i]));
            let (prior_top, prior_bottom) = (b.close[i - 1].max(b.open[i - 1]), b.close[i - 1].min(b.open[i - 1]));
            if top < prior_top && bottom > prior_bottom {
                -b.color(i - 1) * 100
            } else if top <= prior_top && bottom >= prior_bottom {
                -b.color(i - 1) * 80
            } else {
                0
            }
        } else {
            0
        };
        long.advance(b, i);
        short.advance(b, i);
    }
}

/// `CDLPIERCING`. The midpoint test is fused like TA-Lib's FMA build (exact either way: × 0.5).
fn piercing(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut long_prior = PeriodTotal::new(S::BodyLong, 1, b, start);
    let mut long = PeriodTotal::new(S::BodyLong, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.color(i - 1) == -1
            && b.body(i - 1) > long_prior.average(b, i)
            && b.color(i) == 1
            && b.body(i) > long.average(b, i)
            && b.open[i] < b.low[i - 1]
            && b.close[i] < b.open[i - 1]
            && b.close[i] > b.body(i - 1).mul_add(0.5, b.close[i - 1]);
        *o = signal(hit, 100);
        long_prior.advance(b, i);
        long.advance(b, i);
    }
}

/// `CDLDARKCLOUDCOVER` (threshold not fused, as in TA-Lib).
fn dark_cloud_cover(b: &Bars<'_>, start: usize, penetration: f64, out: &mut [i32]) {
    let mut long_prior = PeriodTotal::new(S::BodyLong, 1, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.color(i - 1) == 1
            && b.body(i - 1) > long_prior.average(b, i)
            && b.color(i) == -1
            && b.open[i] > b.high[i - 1]
            && b.close[i] > b.open[i - 1]
            && b.close[i] < b.close[i - 1] - b.body(i - 1) * penetration;
        *o = signal(hit, -100);
        long_prior.advance(b, i);
    }
}

/// `CDLMORNINGSTAR`. The penetration threshold is one fused multiply-add, as in TA-Lib's FMA build.
fn morning_star(b: &Bars<'_>, start: usize, penetration: f64, out: &mut [i32]) {
    let mut long_first = PeriodTotal::new(S::BodyLong, 2, b, start);
    let mut short_star = PeriodTotal::new(S::BodyShort, 1, b, start);
    let mut short_third = PeriodTotal::new(S::BodyShort, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.color(i - 2) == -1
            && b.color(i) == 1
            && b.body_top(i - 1) < b.body_bottom(i - 2)
            && b.close[i] > b.body(i - 2).mul_add(penetration, b.close[i - 2])
            && b.body(i - 2) > long_first.average(b, i)
            && b.body(i - 1) <= short_star.average(b, i)
            && b.body(i) > short_third.average(b, i);
        *o = signal(hit, 100);
        long_first.advance(b, i);
        short_star.advance(b, i);
        short_third.advance(b, i);
    }
}

/// `CDLEVENINGSTAR` (threshold not fused, as in TA-Lib).
fn evening_star(b: &Bars<'_>, start: usize, penetration: f64, out: &mut [i32]) {
    let mut long_first = PeriodTotal::new(S::BodyLong, 2, b, start);
    let mut short_star = PeriodTotal::new(S::BodyShort, 1, b, start);
    let mut short_third = PeriodTotal::new(S::BodyShort, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.color(i - 2) == 1
            && b.color(i) == -1
            && b.body_bottom(i - 1) > b.body_top(i - 2)
            && b.close[i] < b.close[i - 2] - b.body(i - 2) * penetration
            && b.body(i - 2) > long_first.average(b, i)
            && b.body(i - 1) <= short_star.average(b, i)
            && b.body(i) > short_third.average(b, i);
        *o = signal(hit, -100);
        long_first.advance(b, i);
        short_star.advance(b, i);
        short_third.advance(b, i);
    }
}

/// `CDL3WHITESOLDIERS`.
fn three_white_soldiers(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut very_short = [2, 1, 0].map(|k| PeriodTotal::new(S::ShadowVeryShort, k, b, start));
    let mut near = [2, 1].map(|k| PeriodTotal::new(S::Near, k, b, start));
    let mut far = [2, 1].map(|k| PeriodTotal::new(S::Far, k, b, start));
    let mut short = PeriodTotal::new(S::BodyShort, 0, b, start);
    let (open, close) = (b.open, b.close);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.color(i - 2) == 1
            && b.upper_shadow(i - 2) < very_short[0].average(b, i)
            && b.color(i - 1) == 1
            && b.upper_shadow(i - 1) < very_short[1].average(b, i)
            && b.color(i) == 1
            && b.upper_shadow(i) < very_short[2].average(b, i)
            && close[i] > close[i - 1]
            && close[i - 1] > close[i - 2]
            && open[i - 1] > open[i - 2]
            && open[i - 1] <= close[i - 2] + near[0].average(b, i)
            && open[i] > open[i - 1]
            && open[i] <= close[i - 1] + near[1].average(b, i)
            && b.body(i - 1) > b.body(i - 2) - far[0].average(b, i)
            && b.body(i) > b.body(i - 1) - far[1].average(b, i)
            && b.body(i) > short.average(b, i);
        *o = signal(hit, 100);
        for t in very_short.iter_mut().chain(&mut far).chain(&mut near) {
            t.advance(b, i);
        }
        short.advance(b, i);
    }
}

/// `CDL3BLACKCROWS`.
fn three_black_crows(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut very_short = [2, 1, 0].map(|k| PeriodTotal::new(S::ShadowVeryShort, k, b, start));
    let (open, high, close) = (b.open, b.high, b.close);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.color(i - 3) == 1
            && b.color(i - 2) == -1
            && b.color(i - 1) == -1
            && b.color(i) == -1
            && open[i - 1] < open[i - 2]
            && open[i - 1] > close[i - 2]
            && open[i] < open[i - 1]
            && open[i] > close[i - 1]
            && high[i - 3] > close[i - 2]
            && close[i - 2] > close[i - 1]
            && close[i - 1] > close[i]
            && b.lower_shadow(i - 2) < very_short[0].average(b, i)
            && b.lower_shadow(i - 1) < very_short[1].average(b, i)
            && b.lower_shadow(i) < very_short[2].average(b, i);
        *o = signal(hit, -100);
        for t in &mut very_short {
            t.advance(b, i);
        }
    }
}

/// `CDLMARUBOZU`.
fn marubozu(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut long = PeriodTotal::new(S::BodyLong, 0, b, start);
    let mut very_short = PeriodTotal::new(S::ShadowVeryShort, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.body(i) > long.average(b, i)
            && b.upper_shadow(i) < very_short.average(b, i)
            && b.lower_shadow(i) < very_short.average(b, i);
        *o = signal(hit, b.color(i) * 100);
        long.advance(b, i);
        very_short.advance(b, i);
    }
}

/// `CDLSPINNINGTOP`.
fn spinning_top(b: &Bars<'_>, start: usize, _: f64, out: &mut [i32]) {
    let mut short = PeriodTotal::new(S::BodyShort, 0, b, start);
    for (i, o) in out.iter_mut().enumerate().skip(start) {
        let hit = b.upper_shadow(i) > b.body(i) && b.lower_shadow(i) > b.body(i) && b.body(i) < short.average(b, i);
        *o = signal(hit, b.color(i) * 100);
        short.advance(b, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bars from `(open, high, low, close)` tuples.
    fn columns(rows: &[(f64, f64, f64, f64)]) -> [Vec<f64>; 4] {
        [
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
            rows.iter().map(|r| r.3).collect(),
        ]
    }

    fn run_on(pattern: CandlePattern, rows: &[(f64, f64, f64, f64)]) -> Vec<i32> {
        let [o, h, l, c] = columns(rows);
        detect(pattern, Ohlc::new(&o, &h, &l, &c))
    }

    /// `n` black candles falling by 1.0 each, body 0.8, shadows 0.1.
    fn downtrend(n: usize, from: f64) -> Vec<(f64, f64, f64, f64)> {
        (0..n)
            .map(|k| {
                let o = from - k as f64;
                (o, o + 0.1, o - 0.9, o - 0.8)
            })
            .collect()
    }

    #[test]
    fn lookbacks_are_talibs() {
        let expected = [10, 10, 10, 11, 11, 11, 11, 2, 11, 11, 11, 12, 12, 12, 13, 10, 10];
        let got: Vec<usize> = CandlePattern::ALL.iter().map(|p| p.lookback()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn names_round_trip_in_any_case() {
        for p in CandlePattern::ALL {
            assert_eq!(CandlePattern::from_name(p.name()), Some(p));
            assert_eq!(CandlePattern::from_name(p.talib_name()), Some(p));
            assert_eq!(CandlePattern::from_name(&p.talib_name().to_lowercase()), Some(p));
            assert_eq!(CandlePattern::from_name(&p.name().to_uppercase()), Some(p));
            assert_eq!(p.talib_name(), format!("CDL{}", p.name().to_uppercase()));
        }
        assert_eq!(CandlePattern::from_name("CDLUNKNOWN"), None);
    }

    #[test]
    fn textbook_hammer_after_a_downtrend_is_100() {
        let mut rows = downtrend(12, 30.0);
        // small white body at the prior low, lower shadow four times the body, no upper shadow
        let prior_low = rows[11].2;
        rows.push((prior_low, prior_low + 0.2, prior_low - 0.8, prior_low + 0.2));
        let out = run_on(CandlePattern::Hammer, &rows);
        assert_eq!(out.len(), 13);
        assert_eq!(out[12], 100);
        assert!(out[..12].iter().all(|&v| v == 0));
        assert_eq!(run_on(CandlePattern::HangingMan, &rows)[12], 0);
    }

    #[test]
    fn exact_doji_fires_and_warm_up_bars_are_zero() {
        let mut rows = downtrend(10, 30.0);
        rows.push((19.0, 19.5, 18.5, 19.0));
        rows.push((19.0, 19.5, 18.5, 19.0));
        let out = run_on(CandlePattern::Doji, &rows);
        assert_eq!(out, [vec![0; 10], vec![100, 100]].concat());
        // a doji inside the lookback is not reported
        let out = run_on(CandlePattern::Doji, &rows[10..]);
        assert_eq!(out, vec![0, 0]);
    }

    #[test]
    fn engulfing_with_a_shared_body_end_is_80() {
        let rows = [(10.0, 10.1, 8.9, 9.0), (11.0, 11.2, 10.4, 10.5), (10.5, 11.6, 10.2, 11.5)];
        // bar 2: white opens at the prior close and closes above the prior open → one end matches
        assert_eq!(run_on(CandlePattern::Engulfing, &rows), vec![0, 0, 80]);
        let rows = [(10.0, 10.1, 8.9, 9.0), (11.0, 11.2, 10.4, 10.5), (10.4, 11.6, 10.2, 11.5)];
        assert_eq!(run_on(CandlePattern::Engulfing, &rows), vec![0, 0, 100]);
    }

    #[test]
    fn three_white_soldiers_after_a_downtrend_is_100() {
        let mut rows = downtrend(12, 30.0);
        let base = rows[11].3;
        rows.push((base, base + 1.0, base - 0.05, base + 1.0));
        rows.push((base + 0.6, base + 1.7, base + 0.55, base + 1.7));
        rows.push((base + 1.3, base + 2.5, base + 1.25, base + 2.5));
        let out = run_on(CandlePattern::ThreeWhiteSoldiers, &rows);
        assert_eq!(out[14], 100);
        assert_eq!(out.iter().filter(|&&v| v != 0).count(), 1);
    }

    #[test]
    fn unequal_columns_use_the_shortest() {
        let rows = downtrend(20, 40.0);
        let [o, h, l, c] = columns(&rows);
        let bars = Ohlc::new(&o, &h[..15], &l, &c[..17]);
        assert_eq!(bars.len(), 15);
        for (_, out) in detect_all(bars) {
            assert_eq!(out.len(), 15);
        }
        let empty = Ohlc::new(&[], &h, &l, &c);
        assert!(empty.is_empty());
        assert!(detect_all(empty).iter().all(|(_, out)| out.is_empty()));
    }

    #[test]
    fn leading_nan_bars_delay_the_warm_up() {
        let mut rows = vec![(f64::NAN, 1.0, 1.0, 1.0)];
        rows.extend(downtrend(10, 30.0));
        rows.push((19.0, 19.5, 18.5, 19.0));
        rows.push((19.0, 19.5, 18.5, 19.0));
        let out = run_on(CandlePattern::Doji, &rows);
        // 1 NaN bar + 10 lookback bars are 0; bar 11 is the first doji TA-Lib reports
        assert_eq!(out, [vec![0; 11], vec![100, 100]].concat());
    }

    #[test]
    fn invalid_penetration_reports_nothing() {
        let rows = downtrend(20, 40.0);
        let [o, h, l, c] = columns(&rows);
        let bars = Ohlc::new(&o, &h, &l, &c);
        for p in [CandlePattern::MorningStar, CandlePattern::EveningStar, CandlePattern::DarkCloudCover] {
            assert_eq!(detect_with_penetration(p, bars, -0.1), vec![0; 20]);
            assert_eq!(detect_with_penetration(p, bars, f64::INFINITY), vec![0; 20]);
            assert_eq!(detect_with_penetration(p, bars, f64::NAN), vec![0; 20]);
        }
    }

    #[test]
    fn morning_star_threshold_is_a_fused_multiply_add() {
        // c1 + body * 0.3 rounds differently fused (1.556382) and unfused (1.5563820000000002)
        let (o1, c1) = (1.57895_f64, 1.54671_f64);
        let body = (c1 - o1).abs();
        let plain = c1 + body * 0.3;
        let fused = body.mul_add(0.3, c1);
        assert_ne!(plain, fused, "pick a first candle where the roundings differ");
        let mut rows: Vec<_> = (0..10).map(|_| (1.8, 1.8002, 1.7999, 1.8001)).collect();
        rows.push((o1, o1, c1, c1));
        rows.push((c1 - 0.002, c1 - 0.002, c1 - 0.0021, c1 - 0.0021));
        let third = plain.max(fused);
        rows.push((c1 - 0.0015, third, c1 - 0.0015, third));
        let expected = if fused < plain { 100 } else { 0 };
        assert_eq!(run_on(CandlePattern::MorningStar, &rows)[12], expected);
    }

    #[test]
    fn candle_setting_defaults_are_talibs() {
        let s = CandleSettingType::ShadowShort.default_setting();
        assert_eq!((s.range_type, s.avg_period, s.factor), (RangeType::Shadows, 10, 1.0));
        let s = CandleSettingType::Equal.default_setting();
        assert_eq!((s.range_type, s.avg_period, s.factor), (RangeType::HighLow, 5, 0.05));
        assert_eq!(CandleSettingType::ALL.len(), 11);
        assert_eq!(CandleSettingType::ALL[7].name(), "ShadowVeryShort");
    }
}
