//! The instrument registry: every Dukascopy instrument with its digits, point (tick size), pip size and
//! point value, loaded from the embedded `assets/dukascopy_instruments.json`.

use std::{collections::BTreeMap, sync::OnceLock};

/// What kind of market an instrument trades in; decides pip size, lot size and trading hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AssetClass {
    /// Currency pair (both sides ISO 4217 codes).
    Fx,
    /// Precious metal against a currency (XAU, XAG, XPT, XPD).
    Metal,
    /// Stock index CFD (`.IDX`).
    Index,
    /// Commodity CFD (`.CMD`).
    Commodity,
    /// Single stock or ETF CFD (`.US`, `.DE`, …).
    Stock,
    /// Crypto currency (trades every day).
    Crypto,
}

impl AssetClass {
    /// True for markets quoted around the clock on weekdays only (forex, metals).
    pub fn trades_24x5(&self) -> bool {
        matches!(self, Self::Fx | Self::Metal)
    }
}

/// Why an instrument lookup or the registry failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    /// No instrument of that symbol.
    #[error("unknown instrument '{0}' (try a Dukascopy symbol such as EURUSD, USDJPY, XAUUSD, DEUIDXEUR)")]
    Unknown(String),
    /// The registry JSON could not be read.
    #[error("invalid instrument registry: {0}")]
    Registry(String),
}

/// One tradable instrument.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Instrument {
    /// Symbol as used in Dukascopy URLs and in this program: `EURUSD`, `USA500IDXUSD`.
    pub symbol: String,
    /// Display name: `EUR/USD`.
    pub name: String,
    /// Human description: `Euro vs US Dollar`.
    pub description: String,
    /// Integer price = price × decimal factor in Dukascopy's binary files (EURUSD 100000, USDJPY 1000).
    pub decimal_factor: f64,
    /// Decimal places of a quote (EURUSD 5, USDJPY 3).
    pub digits: u32,
    /// Smallest price increment (tick size): `1 / decimal_factor`.
    pub point: f64,
    /// Pip size: 10 points for forex, metals and crypto (EURUSD 0.0001, USDJPY 0.01), 1.0 for indices,
    /// 0.01 for commodities and stocks.
    pub pip_size: f64,
    /// Units in one standard lot (forex 100 000, XAU 100 oz, XAG 5 000 oz, others 1).
    pub lot_size: f64,
    /// Quote-currency value of a one-point move for one standard lot: `point × lot_size`.
    pub point_value: f64,
    /// Market kind.
    pub asset_class: AssetClass,
    /// Base currency or underlying (`EUR`, `DEU.IDX`).
    pub base: String,
    /// Quote currency (`USD`).
    pub quote: String,
    /// First hour with tick data, ISO-8601, as Dukascopy reports it.
    pub first_tick_time: String,
    /// First day with minute candles, ISO-8601.
    pub first_minute_candle_time: String,
}

impl Instrument {
    /// Rounds a price to the instrument's digits.
    pub fn round_price(&self, price: f64) -> f64 {
        (price * self.decimal_factor).round() / self.decimal_factor
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInstrument {
    decimal_factor: f64,
    description: String,
    name: String,
    #[serde(default)]
    start_hour_for_ticks: String,
    #[serde(default)]
    start_day_for_minute_candles: String,
}

const ISO_CURRENCIES: &[&str] = &[
    "AED", "AUD", "CAD", "CHF", "CNH", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY", "MXN", "NOK", "NZD",
    "PLN", "RON", "SAR", "SEK", "SGD", "THB", "TRY", "USD", "ZAR", "RUB", "CNY", "INR", "KRW", "BRL",
];
const METALS: &[&str] = &["XAU", "XAG", "XPT", "XPD"];

/// All known instruments, keyed by upper-case symbol.
#[derive(Debug, Clone, Default)]
pub struct InstrumentRegistry {
    by_symbol: BTreeMap<String, Instrument>,
}

static BUILTIN: OnceLock<InstrumentRegistry> = OnceLock::new();

impl InstrumentRegistry {
    /// The registry built from the embedded Dukascopy instrument list (parsed once).
    pub fn builtin() -> &'static Self {
        BUILTIN.get_or_init(|| {
            // The embedded file is part of the build and checked by a test, so failure here is a build defect.
            Self::from_json(include_str!("../../assets/dukascopy_instruments.json"))
                .unwrap_or_else(|err| panic!("embedded instrument list is broken: {err}"))
        })
    }

    /// Parses a registry in Dukascopy's JSON layout (`{"eurusd": {"decimalFactor": 100000, "name": "EUR/USD", …}}`).
    pub fn from_json(json: &str) -> Result<Self, InstrumentError> {
        let raw: BTreeMap<String, RawInstrument> =
            serde_json::from_str(json).map_err(|e| InstrumentError::Registry(e.to_string()))?;
        let mut by_symbol = BTreeMap::new();
        for (key, r) in raw {
            if !(r.decimal_factor.is_finite() && r.decimal_factor > 0.0) {
                return Err(InstrumentError::Registry(format!("{key}: decimalFactor {} is invalid", r.decimal_factor)));
            }
            let instrument = build_instrument(&key, r);
            by_symbol.insert(instrument.symbol.clone(), instrument);
        }
        Ok(Self { by_symbol })
    }

    /// Looks up an instrument by symbol, ignoring case and separators (`EURUSD`, `eur/usd`, `EUR_USD`).
    pub fn get(&self, symbol: &str) -> Result<&Instrument, InstrumentError> {
        self.by_symbol.get(&normalize_symbol(symbol)).ok_or_else(|| InstrumentError::Unknown(symbol.to_string()))
    }

    /// Number of instruments.
    pub fn len(&self) -> usize {
        self.by_symbol.len()
    }

    /// True when the registry is empty.
    pub fn is_empty(&self) -> bool {
        self.by_symbol.is_empty()
    }

    /// All instruments in symbol order.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.by_symbol.values()
    }

    /// Instruments whose symbol, name or description contains `query` (case-insensitive).
    pub fn search<'a>(&'a self, query: &'a str) -> impl Iterator<Item = &'a Instrument> + 'a {
        let q = query.to_lowercase();
        let q_symbol = normalize_symbol(query);
        self.by_symbol.values().filter(move |i| {
            i.symbol.contains(&q_symbol)
                || i.name.to_lowercase().contains(&q)
                || i.description.to_lowercase().contains(&q)
        })
    }
}

/// Upper-case symbol with `/`, `.`, `_`, `-` and spaces removed.
pub fn normalize_symbol(symbol: &str) -> String {
    symbol.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '+').map(|c| c.to_ascii_uppercase()).collect()
}

fn build_instrument(key: &str, r: RawInstrument) -> Instrument {
    let (base, quote) = match r.name.split_once('/') {
        Some((b, q)) => (b.to_string(), q.to_string()),
        None => (r.name.clone(), String::new()),
    };
    let asset_class = if let Some((_, suffix)) = base.rsplit_once('.') {
        match suffix {
            "IDX" => AssetClass::Index,
            "CMD" => AssetClass::Commodity,
            _ => AssetClass::Stock,
        }
    } else if METALS.contains(&base.as_str()) {
        AssetClass::Metal
    } else if ISO_CURRENCIES.contains(&base.as_str()) && ISO_CURRENCIES.contains(&quote.as_str()) {
        AssetClass::Fx
    } else {
        AssetClass::Crypto
    };
    let point = 1.0 / r.decimal_factor;
    let digits = r.decimal_factor.log10().round().max(0.0) as u32;
    let pip_size = match asset_class {
        AssetClass::Fx | AssetClass::Metal | AssetClass::Crypto => 10.0 * point,
        AssetClass::Index => 1.0,
        AssetClass::Commodity | AssetClass::Stock => 0.01,
    };
    let lot_size = match (asset_class, base.as_str()) {
        (AssetClass::Fx, _) => 100_000.0,
        (AssetClass::Metal, "XAU") => 100.0,
        (AssetClass::Metal, "XAG") => 5_000.0,
        (AssetClass::Metal, _) => 100.0,
        _ => 1.0,
    };
    Instrument {
        symbol: normalize_symbol(key),
        name: r.name,
        description: r.description,
        decimal_factor: r.decimal_factor,
        digits,
        point,
        pip_size,
        lot_size,
        point_value: point * lot_size,
        asset_class,
        base,
        quote,
        first_tick_time: r.start_hour_for_ticks,
        first_minute_candle_time: r.start_day_for_minute_candles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn builtin_registry_covers_every_dukascopy_instrument() {
        let reg = InstrumentRegistry::builtin();
        assert_eq!(reg.len(), 1607);
    }

    #[test]
    fn forex_metal_index_and_crypto_properties() {
        let reg = InstrumentRegistry::builtin();
        let eurusd = reg.get("EUR/USD").unwrap();
        assert_eq!((eurusd.symbol.as_str(), eurusd.digits, eurusd.asset_class), ("EURUSD", 5, AssetClass::Fx));
        assert!(close(eurusd.point, 1e-5) && close(eurusd.pip_size, 1e-4) && close(eurusd.point_value, 1.0));
        let usdjpy = reg.get("usdjpy").unwrap();
        assert_eq!(usdjpy.digits, 3);
        assert!(close(usdjpy.pip_size, 0.01) && close(usdjpy.point_value, 100.0));
        let gold = reg.get("XAUUSD").unwrap();
        assert_eq!(gold.asset_class, AssetClass::Metal);
        assert!(close(gold.pip_size, 0.01) && close(gold.lot_size, 100.0));
        let dax = reg.get("DEUIDXEUR").unwrap();
        assert_eq!((dax.asset_class, dax.base.as_str(), dax.quote.as_str()), (AssetClass::Index, "DEU.IDX", "EUR"));
        let btc = reg.get("BTC_USD").unwrap();
        assert_eq!((btc.asset_class, btc.digits), (AssetClass::Crypto, 1));
        assert!(close(btc.round_price(43_210.123_4), 43_210.1));
        let aapl = reg.get("AAPL.US/USD").unwrap();
        assert_eq!(aapl.asset_class, AssetClass::Stock);
        assert!(matches!(reg.get("NOPE"), Err(InstrumentError::Unknown(_))));
    }

    #[test]
    fn search_finds_by_description() {
        let reg = InstrumentRegistry::builtin();
        let hits: Vec<_> = reg.search("spot gold").map(|i| i.symbol.clone()).collect();
        assert!(hits.contains(&"XAUUSD".to_string()), "{hits:?}");
    }
}
