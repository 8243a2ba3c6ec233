//! The strategy spec's JSON Schema (draft 2020-12), written by hand so that it stays small and readable for the
//! schema-constrained decoder (a derived schema would spell serde's internals), plus a checker for the subset of
//! JSON Schema it uses; tests keep the schema and the serde types in step.

use serde_json::{Value, json};

use super::PRICE_FIELDS;

fn length() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 5000})
}

fn source() -> Value {
    json!({"enum": ["open", "high", "low", "close", "hl2", "hlc3", "ohlc4"]})
}

fn indicator(kind: &str, fields: &[(&str, Value)], required: &[&str]) -> Value {
    let mut properties = serde_json::Map::new();
    properties.insert("id".into(), json!({"$ref": "#/$defs/identifier"}));
    properties.insert("kind".into(), json!({"const": kind}));
    for (name, schema) in fields {
        properties.insert((*name).into(), schema.clone());
    }
    let mut all_required = vec!["id", "kind"];
    all_required.extend_from_slice(required);
    json!({"type": "object", "properties": properties, "required": all_required, "additionalProperties": false})
}

fn level() -> Value {
    let positive = json!({"type": "number", "exclusiveMinimum": 0});
    json!({"oneOf": [
        {"type": "null"},
        {"type": "object", "properties": {"pips": positive}, "required": ["pips"], "additionalProperties": false},
        {"type": "object", "properties": {"percent": positive}, "required": ["percent"], "additionalProperties": false},
        {"type": "object", "properties": {"atr": {"type": "object",
            "properties": {"length": length(), "mult": positive}, "required": ["length", "mult"],
            "additionalProperties": false}}, "required": ["atr"], "additionalProperties": false}
    ]})
}

/// The JSON Schema every strategy spec satisfies.
pub fn json_schema() -> Value {
    let positive = json!({"type": "number", "exclusiveMinimum": 0});
    let pair = json!({"type": "array", "items": {"$ref": "#/$defs/operand"}, "minItems": 2, "maxItems": 2});
    let list = json!({"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1});
    let one = |key: &str, schema: &Value| json!({"type": "object", "properties": {key: schema}, "required": [key], "additionalProperties": false});
    let mut conditions = vec![one("all", &list), one("any", &list), one("not", &json!({"$ref": "#/$defs/condition"}))];
    for key in ["crosses_above", "crosses_below", "gt", "lt", "ge", "le"] {
        conditions.push(one(key, &pair));
    }
    let signal = json!({"oneOf": [{"type": "null"}, {"$ref": "#/$defs/condition"}]});
    let sizing = json!({"oneOf": [one("units", &positive), one("percent_of_equity", &positive), one("risk_percent", &positive)]});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://aio.local/schemas/strategy-spec-v1.json",
        "title": "AI-Indicator-Optimizer strategy spec, version 1",
        "type": "object",
        "properties": {
            "version": {"const": 1},
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "symbol": {"type": "string", "maxLength": 32},
            "timeframe": {"type": "string", "maxLength": 8},
            "indicators": {"type": "array", "items": {"$ref": "#/$defs/indicator"}, "maxItems": 16},
            "long_entry": signal, "long_exit": signal, "short_entry": signal, "short_exit": signal,
            "stop_loss": level(), "take_profit": level(),
            "position": sizing,
            "costs": {"type": "object", "properties": {
                "commission_percent": {"type": "number", "minimum": 0, "exclusiveMaximum": 100},
                "slippage_ticks": {"type": "integer", "minimum": 0, "maximum": 1000},
                "spread_pips": {"type": "number", "minimum": 0}
            }, "additionalProperties": false},
            "initial_capital": positive,
            "process_orders_on_close": {"type": "boolean"}
        },
        "required": ["version", "name", "indicators", "long_entry", "long_exit", "short_entry", "short_exit",
                     "stop_loss", "take_profit", "position", "initial_capital"],
        "additionalProperties": false,
        "$defs": {
            "identifier": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,39}$"},
            "indicator": {"oneOf": [
                indicator("sma", &[("source", source()), ("length", length())], &["length"]),
                indicator("ema", &[("source", source()), ("length", length())], &["length"]),
                indicator("wma", &[("source", source()), ("length", length())], &["length"]),
                indicator("rsi", &[("source", source()), ("length", length())], &["length"]),
                indicator("macd", &[("source", source()), ("fast", length()), ("slow", length()), ("signal", length())],
                          &["fast", "slow", "signal"]),
                indicator("bb", &[("source", source()), ("length", length()), ("mult", positive.clone())], &["length", "mult"]),
                indicator("stoch", &[("k", length()), ("k_smooth", length()), ("d", length())], &["k", "k_smooth", "d"]),
                indicator("atr", &[("length", length())], &["length"]),
                indicator("adx", &[("length", length())], &["length"]),
            ]},
            "operand": {"oneOf": [
                {"type": "number"},
                {"type": "string", "description": format!(
                    "an indicator id, id.output (macd: macd|signal|hist, bb: middle|upper|lower, stoch: k|d, adx: adx|plus_di|minus_di) or a price field: {}",
                    PRICE_FIELDS.join(", "))},
                {"type": "object", "properties": {"prev": {"type": "array", "prefixItems": [
                    {"$ref": "#/$defs/operand"}, {"type": "integer", "minimum": 0, "maximum": 500}],
                    "minItems": 2, "maxItems": 2}}, "required": ["prev"], "additionalProperties": false}
            ]},
            "condition": {"oneOf": conditions}
        }
    })
}

/// Checks `value` against `schema` for the keywords [`json_schema`] uses (`type`, `const`, `enum`, `properties`,
/// `required`, `additionalProperties`, `items`, `prefixItems`, `minItems`, `maxItems`, `minimum`, `maximum`,
/// `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `oneOf`, `$ref` into `$defs`; `pattern` is
/// not checked). The error names the JSON path.
pub fn check_against_schema(value: &Value, schema: &Value) -> Result<(), String> {
    check(value, schema, schema, "$")
}

fn check(value: &Value, schema: &Value, root: &Value, path: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        let target = root.get("$defs").and_then(|d| d.get(name)).ok_or_else(|| format!("unknown $ref {reference}"))?;
        return check(value, target, root, path);
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = branches.iter().filter(|b| check(value, b, root, path).is_ok()).count();
        return match matching {
            1 => Ok(()),
            0 => Err(format!("{path}: matches none of the allowed forms")),
            n => Err(format!("{path}: matches {n} forms, expected exactly one")),
        };
    }
    if let Some(expected) = schema.get("const")
        && value != expected
    {
        return Err(format!("{path}: must be {expected}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{path}: must be one of {}", Value::Array(options.clone())));
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        };
        if !ok {
            return Err(format!("{path}: expected {kind}"));
        }
    }
    if let Some(x) = value.as_f64() {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        let fails = bound("minimum").is_some_and(|m| x < m)
            || bound("maximum").is_some_and(|m| x > m)
            || bound("exclusiveMinimum").is_some_and(|m| x <= m)
            || bound("exclusiveMaximum").is_some_and(|m| x >= m);
        if fails {
            return Err(format!("{path}: {x} is out of range"));
        }
    }
    if let Some(s) = value.as_str() {
        let n = s.chars().count() as u64;
        if schema.get("minLength").and_then(Value::as_u64).is_some_and(|m| n < m)
            || schema.get("maxLength").and_then(Value::as_u64).is_some_and(|m| n > m)
        {
            return Err(format!("{path}: string length {n} is out of range"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for key in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(key) {
                return Err(format!("{path}: missing `{key}`"));
            }
        }
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => check(item, sub, root, &format!("{path}.{key}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{path}: unexpected `{key}`"));
                }
                None => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        let n = items.len() as u64;
        if schema.get("minItems").and_then(Value::as_u64).is_some_and(|m| n < m)
            || schema.get("maxItems").and_then(Value::as_u64).is_some_and(|m| n > m)
        {
            return Err(format!("{path}: {n} items is out of range"));
        }
        let prefix = schema.get("prefixItems").and_then(Value::as_array);
        for (i, item) in items.iter().enumerate() {
            let sub = prefix.and_then(|p| p.get(i)).or_else(|| schema.get("items"));
            if let Some(sub) = sub {
                check(item, sub, root, &format!("{path}[{i}]"))?;
            }
        }
    }
    Ok(())
}

/// Every indicator kind the schema lists (the consistency test reads it).
#[cfg(test)]
fn schema_indicator_kinds(schema: &Value) -> Vec<String> {
    schema
        .pointer("/$defs/indicator/oneOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.pointer("/properties/kind/const").and_then(Value::as_str).map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{IndicatorKind, StrategySpec};

    const FULL: &str = r#"{"version": 1, "name": "everything", "symbol": "EURUSD", "timeframe": "H1",
        "indicators": [
            {"id": "a", "kind": "sma", "source": "hl2", "length": 10}, {"id": "b", "kind": "ema", "length": 20},
            {"id": "c", "kind": "wma", "length": 5}, {"id": "r", "kind": "rsi", "length": 14},
            {"id": "m", "kind": "macd", "fast": 12, "slow": 26, "signal": 9},
            {"id": "bb", "kind": "bb", "length": 20, "mult": 2.0}, {"id": "st", "kind": "stoch", "k": 14, "k_smooth": 3, "d": 3},
            {"id": "t", "kind": "atr", "length": 14}, {"id": "x", "kind": "adx", "length": 14}],
        "long_entry": {"all": [{"crosses_above": ["a", "b"]}, {"not": {"gt": ["r", 70]}}, {"ge": ["x.plus_di", "x.minus_di"]}]},
        "long_exit": {"any": [{"le": ["close", "bb.lower"]}, {"lt": ["st.k", {"prev": ["st.d", 1]}]}]},
        "short_entry": {"crosses_below": ["m", "m.signal"]}, "short_exit": null,
        "stop_loss": {"percent": 1.5}, "take_profit": {"atr": {"length": 14, "mult": 2.5}},
        "position": {"risk_percent": 1.0},
        "costs": {"commission_percent": 0.01, "slippage_ticks": 2, "spread_pips": 0.5},
        "initial_capital": 50000, "process_orders_on_close": true}"#;

    #[test]
    fn schema_accepts_what_serde_accepts_and_the_reverse() {
        let schema = json_schema();
        let spec = StrategySpec::from_json(FULL).expect("valid spec");
        let written: Value = serde_json::to_value(&spec).expect("serialises");
        check_against_schema(&written, &schema).expect("serialised spec fits the schema");
        let raw: Value = serde_json::from_str(FULL).expect("json");
        check_against_schema(&raw, &schema).expect("hand-written spec fits the schema");
        for (from, to) in [
            ("\"length\": 20}", "\"length\": 20, \"extra\": 1}"),
            ("\"kind\": \"wma\"", "\"kind\": \"hma\""),
            ("{\"prev\": [\"st.d\", 1]}", "{\"prev\": [\"st.d\"]}"),
            ("\"crosses_below\"", "\"crosses_under\""),
            ("\"risk_percent\": 1.0", "\"risk_percent\": 0"),
        ] {
            let bad = FULL.replacen(from, to, 1);
            assert_ne!(bad, FULL, "{from}");
            let raw: Value = serde_json::from_str(&bad).expect("json");
            assert!(check_against_schema(&raw, &schema).is_err(), "schema accepted {to}");
            assert!(StrategySpec::from_json(&bad).is_err(), "serde accepted {to}");
        }
    }

    #[test]
    fn schema_lists_every_indicator_kind() {
        assert_eq!(schema_indicator_kinds(&json_schema()), IndicatorKind::NAMES.map(str::to_string).to_vec());
    }
}
