//! Guardrails: caps a strategy must respect before it is backtested or shown to a trader (units, leverage, risk
//! per trade, a required stop). A violation names the rule and the numbers.

use super::{Level, Sizing, StrategyError, StrategySpec};

/// Configurable caps; `None` switches a cap off.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Guardrails {
    /// Most units one entry may trade.
    pub max_units: Option<f64>,
    /// Most notional value per unit of equity (30 = 1:30, the EU retail cap for major pairs).
    pub max_leverage: Option<f64>,
    /// Most equity, in percent, one trade may lose at its stop.
    pub max_risk_percent: Option<f64>,
    /// Every strategy must have a stop loss.
    pub stop_required: bool,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self { max_units: None, max_leverage: Some(30.0), max_risk_percent: Some(2.0), stop_required: false }
    }
}

/// Market numbers the caps are measured with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketContext {
    /// A representative price (the last close).
    pub price: f64,
    /// The instrument's pip size (0.0001 for EURUSD).
    pub pip_size: f64,
    /// The ATR of the stop's length at the reference bar, for ATR stops.
    pub atr: Option<f64>,
}

impl Guardrails {
    /// Nothing capped.
    pub fn none() -> Self {
        Self { max_units: None, max_leverage: None, max_risk_percent: None, stop_required: false }
    }
}

/// The stop distance in price units, when it can be known.
pub fn stop_distance(level: &Level, market: &MarketContext) -> Option<f64> {
    match level {
        Level::Pips(p) => Some(p * market.pip_size),
        Level::Percent(p) => Some(market.price * p / 100.0),
        Level::Atr(a) => market.atr.map(|atr| atr * a.mult),
    }
}

/// Checks `spec` against `rails`; the error names the first rule broken.
pub fn check_guardrails(spec: &StrategySpec, rails: &Guardrails, market: &MarketContext) -> Result<(), StrategyError> {
    let violation = |rule, message| Err(StrategyError::Guardrail { rule, message });
    if rails.stop_required && spec.stop_loss.is_none() {
        return violation("stop_required", "the strategy has no stop_loss".into());
    }
    let capital = spec.initial_capital;
    let distance = spec.stop_loss.as_ref().and_then(|l| stop_distance(l, market)).filter(|d| *d > 0.0);
    let units = match spec.position {
        Sizing::Units(u) => Some(u),
        Sizing::PercentOfEquity(p) => (market.price > 0.0).then(|| capital * p / 100.0 / market.price),
        Sizing::RiskPercent(r) => distance.map(|d| capital * r / 100.0 / d),
    };
    if let (Some(max), Some(units)) = (rails.max_units, units)
        && units > max
    {
        return violation("max_units", format!("{units:.0} units per entry, the cap is {max:.0}"));
    }
    if let (Some(max), Some(units)) = (rails.max_leverage, units) {
        let leverage = units * market.price / capital;
        if leverage > max {
            return violation(
                "max_leverage",
                format!("{units:.0} units at {} is {leverage:.1}× the capital, the cap is {max}×", market.price),
            );
        }
    }
    if let Some(max) = rails.max_risk_percent {
        let risk = match (spec.position.clone(), units, distance) {
            (Sizing::RiskPercent(r), _, _) => Some(r),
            (_, Some(units), Some(d)) => Some(units * d / capital * 100.0),
            _ => None,
        };
        if let Some(risk) = risk
            && risk > max
        {
            return violation(
                "max_risk_percent",
                format!("a stopped-out trade loses {risk:.2} % of equity, the cap is {max} %"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(position: &str, stop: &str) -> StrategySpec {
        StrategySpec::from_json(&format!(
            r#"{{"version": 1, "name": "t", "indicators": [{{"id": "f", "kind": "ema", "length": 5}}],
                "long_entry": {{"gt": ["close", "f"]}}, "position": {position}, "stop_loss": {stop},
                "initial_capital": 10000}}"#
        ))
        .expect("valid spec")
    }

    const EURUSD: MarketContext = MarketContext { price: 1.1, pip_size: 0.0001, atr: Some(0.002) };

    #[test]
    fn leverage_and_risk_caps_reject_with_numbers() {
        let rails = Guardrails::default();
        // 100,000 units × 1.1 on 10,000 capital = 11× leverage: allowed; 30 pips × 100,000 = 300 = 3 % risk: not.
        let err = check_guardrails(&spec(r#"{"units": 100000}"#, r#"{"pips": 30}"#), &rails, &EURUSD).unwrap_err();
        assert!(err.to_string().contains("max_risk_percent") && err.to_string().contains("3.00 %"), "{err}");
        let err = check_guardrails(&spec(r#"{"units": 400000}"#, "null"), &rails, &EURUSD).unwrap_err();
        assert!(err.to_string().contains("44.0×"), "{err}");
        check_guardrails(&spec(r#"{"units": 50000}"#, r#"{"pips": 30}"#), &rails, &EURUSD).expect("1.5 % risk");
        check_guardrails(&spec(r#"{"risk_percent": 1.0}"#, r#"{"atr": {"length": 14, "mult": 2}}"#), &rails, &EURUSD)
            .expect("risk sizing at 1 %");
    }

    #[test]
    fn stop_and_unit_caps() {
        let rails = Guardrails { stop_required: true, max_units: Some(1000.0), ..Guardrails::none() };
        let err = check_guardrails(&spec(r#"{"units": 500}"#, "null"), &rails, &EURUSD).unwrap_err();
        assert!(err.to_string().contains("stop_required"));
        let err =
            check_guardrails(&spec(r#"{"percent_of_equity": 50}"#, r#"{"percent": 1}"#), &rails, &EURUSD).unwrap_err();
        assert!(err.to_string().contains("max_units"), "{err}");
        assert!(check_guardrails(&spec(r#"{"units": 500}"#, "null"), &Guardrails::none(), &EURUSD).is_ok());
    }
}
