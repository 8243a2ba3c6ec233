//! A strategy spec in plain words, for traders: each signal, the stop, the target and the sizing as one line,
//! with indicators named by kind and parameters (`EMA(20)`, `MACD(12, 26, 9) signal`).

use super::{Condition, IndicatorKind, Level, Operand, Sizing, StrategySpec};

/// The name of a series: an indicator id (or `id.output`) as `KIND(params) output`, a price field as itself.
fn series_name(spec: &StrategySpec, name: &str) -> String {
    let (id, output) = match name.split_once('.') {
        Some((id, output)) => (id, Some(output)),
        None => (name, None),
    };
    let Some(def) = spec.indicator(id) else { return name.to_string() };
    let kind = match &def.kind {
        IndicatorKind::Sma { length, .. } => format!("SMA({length})"),
        IndicatorKind::Ema { length, .. } => format!("EMA({length})"),
        IndicatorKind::Wma { length, .. } => format!("WMA({length})"),
        IndicatorKind::Rsi { length, .. } => format!("RSI({length})"),
        IndicatorKind::Macd { fast, slow, signal, .. } => format!("MACD({fast}, {slow}, {signal})"),
        IndicatorKind::Bb { length, mult, .. } => format!("Bollinger({length}, {mult})"),
        IndicatorKind::Stoch { k, k_smooth, d } => format!("Stochastic({k}, {k_smooth}, {d})"),
        IndicatorKind::Atr { length } => format!("ATR({length})"),
        IndicatorKind::Adx { length } => format!("ADX({length})"),
    };
    match output {
        // The bare id and its first output read the same (`macd.macd` is MACD's line).
        Some(o) if def.kind.outputs().first() != Some(&o) => format!("{kind} {}", o.replace('_', " ")),
        _ => kind,
    }
}

fn operand(spec: &StrategySpec, o: &Operand) -> String {
    match o {
        Operand::Number(x) => format!("{x}"),
        Operand::Series(name) => series_name(spec, name),
        Operand::Prev(inner, 1) => format!("{} one bar ago", operand(spec, inner)),
        Operand::Prev(inner, bars) => format!("{} {bars} bars ago", operand(spec, inner)),
    }
}

/// One condition in words.
pub fn describe_condition(spec: &StrategySpec, c: &Condition) -> String {
    let pair = |[a, b]: &[Operand; 2], verb: &str| format!("{} {verb} {}", operand(spec, a), operand(spec, b));
    let list = |items: &[Condition], joiner: &str| {
        let parts: Vec<String> = items
            .iter()
            .map(|c| match c {
                Condition::All(_) | Condition::Any(_) => format!("({})", describe_condition(spec, c)),
                _ => describe_condition(spec, c),
            })
            .collect();
        parts.join(joiner)
    };
    match c {
        Condition::All(items) => list(items, " and "),
        Condition::Any(items) => list(items, " or "),
        Condition::Not(inner) => format!("not ({})", describe_condition(spec, inner)),
        Condition::CrossesAbove(p) => pair(p, "crosses above"),
        Condition::CrossesBelow(p) => pair(p, "crosses below"),
        Condition::Gt(p) => pair(p, "is above"),
        Condition::Lt(p) => pair(p, "is below"),
        Condition::Ge(p) => pair(p, "is at or above"),
        Condition::Le(p) => pair(p, "is at or below"),
    }
}

fn level(l: &Level) -> String {
    match l {
        Level::Pips(p) => format!("{p} pips"),
        Level::Percent(p) => format!("{p} % of the price"),
        Level::Atr(a) => format!("{} × ATR({})", a.mult, a.length),
    }
}

/// The whole strategy as lines: the four signals (those set), then stop, target and sizing.
pub fn describe(spec: &StrategySpec) -> Vec<String> {
    let mut lines = Vec::new();
    let fill = if spec.process_orders_on_close { "at that bar's close" } else { "at the next bar's open" };
    for (name, condition) in [
        ("Buy", &spec.long_entry),
        ("Close the long", &spec.long_exit),
        ("Sell short", &spec.short_entry),
        ("Close the short", &spec.short_exit),
    ] {
        if let Some(c) = condition {
            lines.push(format!("{name} when {}, {fill}.", describe_condition(spec, c)));
        }
    }
    if let Some(stop) = &spec.stop_loss {
        lines.push(format!("Stop loss {} from the entry.", level(stop)));
    }
    if let Some(target) = &spec.take_profit {
        lines.push(format!("Take profit {} from the entry.", level(target)));
    }
    lines.push(match spec.position {
        Sizing::Units(u) => format!("Trade {u} units per entry."),
        Sizing::PercentOfEquity(p) => format!("Trade {p} % of equity per entry."),
        Sizing::RiskPercent(r) => format!("Size each trade to lose {r} % of equity at the stop."),
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_as_sentences() {
        let spec = StrategySpec::from_json(
            r#"{"version": 1, "name": "x", "indicators": [
                {"id": "fast", "kind": "ema", "length": 20}, {"id": "slow", "kind": "ema", "length": 50},
                {"id": "m", "kind": "macd", "fast": 12, "slow": 26, "signal": 9}, {"id": "a", "kind": "adx", "length": 14}],
              "long_entry": {"all": [{"crosses_above": ["fast", "slow"]}, {"gt": ["a.adx", 20]},
                                     {"any": [{"gt": ["m.macd", "m.signal"]}, {"lt": [{"prev": ["close", 1]}, "close"]}]}]},
              "long_exit": {"crosses_below": ["fast", "slow"]}, "short_entry": null, "short_exit": null,
              "stop_loss": {"atr": {"length": 14, "mult": 2.0}}, "take_profit": {"pips": 40},
              "position": {"risk_percent": 1.0}, "initial_capital": 100000}"#,
        )
        .unwrap();
        let lines = describe(&spec);
        assert_eq!(
            lines[0],
            "Buy when EMA(20) crosses above EMA(50) and ADX(14) is above 20 and (MACD(12, 26, 9) is above \
             MACD(12, 26, 9) signal or close one bar ago is below close), at the next bar's open."
        );
        assert_eq!(lines[1], "Close the long when EMA(20) crosses below EMA(50), at the next bar's open.");
        assert_eq!(lines[2], "Stop loss 2 × ATR(14) from the entry.");
        assert_eq!(lines[3], "Take profit 40 pips from the entry.");
        assert_eq!(lines[4], "Size each trade to lose 1 % of equity at the stop.");
    }
}
