//! The rule-based analyst: without model weights the loop still ends in a strategy. It picks a family from the
//! chart reading and the market state (breakout on triangles, reversal on double tops/bottoms and head and
//! shoulders, trend following in trends, mean reversion in ranges), parameterises its stop and target from the
//! volatility, sizes every trade by the risk policy (lowered when the leverage cap would be broken), and derives
//! its confidence from the reading and the miner's out-of-sample statistics of the pattern it acts on.

use super::context::{AnalystContext, AnalystOutput};
use crate::{
    indicators::Source,
    patterns::miner::{MiningReport, PatternStats},
    strategy::{Condition, Costs, IndicatorDef, IndicatorKind, Level, MarketContext, Operand, Sizing, StrategySpec},
};

/// The strategy families the rule-based analyst chooses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Bollinger-band breakout in the triangle's direction (both ways for a symmetric one).
    Breakout {
        /// Long entries allowed.
        long: bool,
        /// Short entries allowed.
        short: bool,
    },
    /// MACD cross against the prior move, filtered by RSI, after a reversal pattern.
    Reversal {
        /// `true` for a bullish reversal (double bottom, inverse head and shoulders).
        bullish: bool,
    },
    /// EMA 20/50 cross in the trend's direction with ADX above 20.
    TrendFollowing {
        /// `true` in an up-trend.
        up: bool,
    },
    /// RSI(14) back inside 30/70, both ways, in a range or an unclear market.
    MeanReversion,
}

impl Family {
    /// Short name, e.g. `trend following`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Breakout { .. } => "breakout",
            Self::Reversal { .. } => "reversal",
            Self::TrendFollowing { .. } => "trend following",
            Self::MeanReversion => "mean reversion",
        }
    }
}

/// The family for a reading's pattern and trend.
pub fn choose_family(pattern: &str, trend: &str) -> Family {
    match pattern {
        "ascending_triangle" => Family::Breakout { long: true, short: false },
        "descending_triangle" => Family::Breakout { long: false, short: true },
        "symmetric_triangle" => Family::Breakout { long: true, short: true },
        "double_top" | "head_and_shoulders" => Family::Reversal { bullish: false },
        "double_bottom" | "inverse_head_and_shoulders" => Family::Reversal { bullish: true },
        _ => match trend {
            "up" => Family::TrendFollowing { up: true },
            "down" => Family::TrendFollowing { up: false },
            _ => Family::MeanReversion,
        },
    }
}

fn series(name: &str) -> Operand {
    Operand::Series(name.into())
}

fn pair(a: &str, b: Operand) -> [Operand; 2] {
    [series(a), b]
}

fn indicator(id: &str, kind: IndicatorKind) -> IndicatorDef {
    IndicatorDef { id: id.into(), kind }
}

/// ATR multiple of the stop for a volatility bucket: wider stops in wilder markets.
fn stop_atr_mult(volatility: &str) -> f64 {
    match volatility {
        "low" => 1.5,
        "normal" => 2.0,
        "elevated" => 2.5,
        _ => 3.0,
    }
}

/// The miner's statistics of the chart pattern named `pattern` (its returns signed by the pattern's own
/// direction), if it was mined.
fn stats_for<'a>(mining: Option<&'a MiningReport>, pattern: &str) -> Option<&'a PatternStats> {
    mining?.stats.iter().find(|s| s.pattern == pattern)
}

/// Confidence from the reading's own confidence and, when the miner measured the pattern, its out-of-sample hit
/// rate and verdict: `0.5 · reading + 0.3 · hit rate + 0.2 · validated`, or `0.6 · reading` without statistics
/// (a strategy the miner cannot vouch for is trusted less); clamped to `0.05..=0.95`.
pub fn confidence(reading_confidence: f64, stats: Option<&PatternStats>) -> f64 {
    let base = if reading_confidence.is_finite() { reading_confidence.clamp(0.0, 1.0) } else { 0.0 };
    let value = match stats.filter(|s| s.out_of_sample.count > 0 && s.out_of_sample.hit_rate.is_finite()) {
        Some(s) => 0.5 * base + 0.3 * s.out_of_sample.hit_rate + if s.validated { 0.2 } else { 0.0 },
        None => 0.6 * base,
    };
    value.clamp(0.05, 0.95)
}

/// The rule-based strategy for `ctx`, with rationale, confidence, assumptions and risk.
pub fn propose(
    ctx: &AnalystContext,
    mining: Option<&MiningReport>,
    market: &MarketContext,
    symbol: &str,
    timeframe: &str,
) -> AnalystOutput {
    let reading = &ctx.reading;
    let family = choose_family(&reading.pattern, &reading.trend);
    let close = Source::Close;
    let atr_len = 14;
    let stop_mult = stop_atr_mult(&reading.volatility);
    let target_mult = 2.0 * stop_mult;
    let cross_up = |a: &str, b: Operand| Condition::CrossesAbove(pair(a, b));
    let cross_down = |a: &str, b: Operand| Condition::CrossesBelow(pair(a, b));
    let (indicators, long_entry, long_exit, short_entry, short_exit, rules) = match family {
        Family::Breakout { long, short } => {
            let ind = vec![indicator("bb", IndicatorKind::Bb { source: close, length: 20, mult: 2.0 })];
            let rules = format!(
                "{}{}exit when the close crosses back through the middle band",
                if long { "buy when the close breaks above the upper Bollinger band (20, 2); " } else { "" },
                if short { "sell when the close breaks below the lower band; " } else { "" }
            );
            (
                ind,
                long.then(|| cross_up("close", series("bb.upper"))),
                long.then(|| cross_down("close", series("bb.middle"))),
                short.then(|| cross_down("close", series("bb.lower"))),
                short.then(|| cross_up("close", series("bb.middle"))),
                rules,
            )
        }
        Family::Reversal { bullish } => {
            let ind = vec![
                indicator("macd", IndicatorKind::Macd { source: close, fast: 12, slow: 26, signal: 9 }),
                indicator("rsi", IndicatorKind::Rsi { source: close, length: 14 }),
            ];
            if bullish {
                let entry = Condition::All(vec![
                    cross_up("macd.macd", series("macd.signal")),
                    Condition::Lt(pair("rsi", Operand::Number(60.0))),
                ]);
                let rules = "buy when MACD (12, 26, 9) crosses above its signal while RSI(14) is below 60; exit on \
                             the cross back down"
                    .to_string();
                (ind, Some(entry), Some(cross_down("macd.macd", series("macd.signal"))), None, None, rules)
            } else {
                let entry = Condition::All(vec![
                    cross_down("macd.macd", series("macd.signal")),
                    Condition::Gt(pair("rsi", Operand::Number(40.0))),
                ]);
                let rules = "sell when MACD (12, 26, 9) crosses below its signal while RSI(14) is above 40; exit \
                             on the cross back up"
                    .to_string();
                (ind, None, None, Some(entry), Some(cross_up("macd.macd", series("macd.signal"))), rules)
            }
        }
        Family::TrendFollowing { up } => {
            let ind = vec![
                indicator("fast", IndicatorKind::Ema { source: close, length: 20 }),
                indicator("slow", IndicatorKind::Ema { source: close, length: 50 }),
                indicator("adx", IndicatorKind::Adx { length: 14 }),
            ];
            let strong = Condition::Gt(pair("adx.adx", Operand::Number(20.0)));
            if up {
                let entry = Condition::All(vec![cross_up("fast", series("slow")), strong]);
                let rules = "buy when EMA 20 crosses above EMA 50 with ADX(14) above 20; exit on the cross back \
                             down"
                    .to_string();
                (ind, Some(entry), Some(cross_down("fast", series("slow"))), None, None, rules)
            } else {
                let entry = Condition::All(vec![cross_down("fast", series("slow")), strong]);
                let rules = "sell when EMA 20 crosses below EMA 50 with ADX(14) above 20; exit on the cross back up"
                    .to_string();
                (ind, None, None, Some(entry), Some(cross_up("fast", series("slow"))), rules)
            }
        }
        Family::MeanReversion => {
            let ind = vec![indicator("rsi", IndicatorKind::Rsi { source: close, length: 14 })];
            let rules = "buy when RSI(14) crosses back above 30 and exit above 55; sell when it crosses back below \
                         70 and exit below 45"
                .to_string();
            (
                ind,
                Some(cross_up("rsi", Operand::Number(30.0))),
                Some(cross_up("rsi", Operand::Number(55.0))),
                Some(cross_down("rsi", Operand::Number(70.0))),
                Some(cross_down("rsi", Operand::Number(45.0))),
                rules,
            )
        }
    };

    // Sizing: the policy's risk at the stop, lowered so that the position at the last close stays within the
    // leverage cap (with 10 % headroom) and the risk cap.
    let policy = &ctx.policy;
    let mut risk_percent = policy.risk_percent;
    if let Some(max) = policy.guardrails.max_risk_percent {
        risk_percent = risk_percent.min(max);
    }
    let stop_distance = market.atr.unwrap_or(f64::NAN) * stop_mult;
    if let Some(max_leverage) = policy.guardrails.max_leverage
        && stop_distance.is_finite()
        && stop_distance > 0.0
        && market.price > 0.0
    {
        // units = capital · r / 100 / distance; leverage = units · price / capital = r · price / (100 · distance).
        let at_cap = 0.9 * max_leverage * 100.0 * stop_distance / market.price;
        risk_percent = risk_percent.min(at_cap);
    }
    let risk_percent = (risk_percent * 1000.0).floor() / 1000.0;
    let sizing = if risk_percent > 0.0 { Sizing::RiskPercent(risk_percent) } else { Sizing::Units(1_000.0) };

    let stats = match family {
        Family::Breakout { .. } | Family::Reversal { .. } => stats_for(mining, &reading.pattern),
        _ => None,
    };
    let confidence = confidence(reading.confidence, stats);
    let name = format!("{} {}", family.name(), symbol).chars().take(80).collect::<String>();
    let strategy = StrategySpec {
        version: crate::strategy::SPEC_VERSION,
        name: name.trim().to_string(),
        symbol: symbol.to_string(),
        timeframe: timeframe.to_string(),
        indicators,
        long_entry,
        long_exit,
        short_entry,
        short_exit,
        stop_loss: Some(Level::Atr(crate::strategy::AtrLevel { length: atr_len, mult: stop_mult })),
        take_profit: Some(Level::Atr(crate::strategy::AtrLevel { length: atr_len, mult: target_mult })),
        position: sizing,
        costs: Costs::default(),
        initial_capital: policy.initial_capital,
        process_orders_on_close: false,
    };

    let pattern_words = if reading.pattern == "none" {
        "no chart pattern".to_string()
    } else {
        format!(
            "a {} {} (strength {:.2})",
            if reading.strength >= 0.5 { "clear" } else { "weak" },
            reading.pattern.replace('_', " "),
            reading.strength
        )
    };
    let evidence = match stats {
        Some(s) => format!(
            " In-sample history shows {} {} occurrences; out of sample the move followed through {:.0} % of {} \
             times ({}).",
            s.all.count,
            s.pattern.replace('_', " "),
            s.out_of_sample.hit_rate * 100.0,
            s.out_of_sample.count,
            if s.validated { "a validated edge" } else { "not a validated edge" }
        ),
        None => String::new(),
    };
    let rationale = format!(
        "The chart shows {pattern_words} in a {} market with {} volatility, so a {} strategy fits: {rules}.{evidence}",
        match reading.trend.as_str() {
            "up" => "rising",
            "down" => "falling",
            "sideways" => "sideways",
            _ => "directionless",
        },
        reading.volatility,
        family.name()
    );
    let assumptions = vec![
        "Market orders fill at the next bar's open (TradingView's default); stops and targets by the bar-path rule."
            .to_string(),
        format!("The {} regime seen at the last bar persists for the next trades.", reading.trend),
        "Costs are left at zero: add spread and commission in the spec before trading it.".to_string(),
        "Pattern statistics come from the in-sample bars only; the held-out tail is reported separately.".to_string(),
    ];
    let risk = format!(
        "Risks {risk_percent} % of equity per trade at a {stop_mult}×ATR({atr_len}) stop with a {target_mult}×ATR \
         target (reward to risk 2:1){}.",
        match policy.guardrails.max_leverage {
            Some(max) => format!("; position size capped below {max}× leverage"),
            None => String::new(),
        }
    );
    AnalystOutput { strategy, rationale, confidence, assumptions, risk }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_patterns_then_trend() {
        assert_eq!(choose_family("ascending_triangle", "down"), Family::Breakout { long: true, short: false });
        assert_eq!(choose_family("double_top", "up"), Family::Reversal { bullish: false });
        assert_eq!(choose_family("none", "up"), Family::TrendFollowing { up: true });
        assert_eq!(choose_family("none", "sideways"), Family::MeanReversion);
        assert_eq!(choose_family("none", "unknown"), Family::MeanReversion);
    }

    #[test]
    fn confidence_uses_statistics_when_there_are_some() {
        assert!((confidence(0.5, None) - 0.3).abs() < 1e-12);
        assert_eq!(confidence(f64::NAN, None), 0.05);
        assert_eq!(confidence(2.0, None), 0.6);
        use crate::patterns::miner::ReturnStats;
        // Three of four out-of-sample moves followed through: hit rate 0.75.
        let oos = ReturnStats::from_returns(&[0.01, 0.02, -0.01, 0.03]);
        let mut stats = PatternStats {
            pattern: "double_top".into(),
            direction: -1,
            horizon_bars: 10,
            all: oos,
            in_sample: oos,
            out_of_sample: oos,
            validated: false,
            verdict: String::new(),
            robustness: None,
        };
        assert!((confidence(0.5, Some(&stats)) - (0.25 + 0.3 * 0.75)).abs() < 1e-12);
        stats.validated = true;
        assert!((confidence(0.5, Some(&stats)) - (0.25 + 0.3 * 0.75 + 0.2)).abs() < 1e-12);
        // Never certain: a perfect reading and record still stop at 0.95.
        stats.out_of_sample = ReturnStats::from_returns(&[0.01, 0.02]);
        assert_eq!(confidence(1.0, Some(&stats)), 0.95);
    }
}
