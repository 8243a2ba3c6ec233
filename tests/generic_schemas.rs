//! Tightening and constrained decoding on a range of schema shapes beyond the project's own: recursion,
//! intersections, alternatives next to properties, maps, tuples, "any", type unions.

#[path = "common_constrain/mod.rs"]
mod common;

use aio::ai::constrain::JsonConstraint;
use common::*;
use serde_json::{Value, json};

fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        ("any", json!({})),
        ("true", json!(true)),
        ("nullable string", json!({"type": ["string", "null"], "minLength": 2})),
        (
            "recursive tree",
            json!({"$ref": "#/$defs/tree", "$defs": {"tree": {"type": "object", "properties": {
                "value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/tree"}}},
                "required": ["value"]}}}),
        ),
        (
            "root recursion",
            json!({"type": "object", "properties": {"name": {"type": "string", "maxLength": 5},
                "next": {"anyOf": [{"type": "null"}, {"$ref": "#"}]}}, "required": ["name", "next"]}),
        ),
        (
            "allOf",
            json!({"allOf": [
                {"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}}, "required": ["a"]},
                {"type": "object", "properties": {"b": {"type": "array", "items": {"type": "string"}}}},
                {"required": ["c"]}
            ]}),
        ),
        (
            "anyOf next to properties",
            json!({"type": "object", "properties": {"kind": {"enum": ["x", "y"]}}, "required": ["kind"],
                "anyOf": [{"properties": {"x": {"type": "number"}}, "required": ["x"]}, {"required": ["y"]}]}),
        ),
        ("map", json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}})),
        ("tuple", json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "minItems": 1})),
        ("long tuple minimum", json!({"type": "array", "prefixItems": [{"const": 1}], "minItems": 3})),
        (
            "discriminated oneOf",
            json!({"type": "array", "items": {"oneOf": [
                {"type": "object", "properties": {"t": {"const": "a"}, "v": {"type": "number"}}, "required": ["t"]},
                {"type": "object", "properties": {"t": {"const": "b"}, "w": {}}, "required": ["t"]},
                {"type": "string", "pattern": "^[a-z]{1,3}$"}
            ]}}),
        ),
        (
            "formats and bounds",
            json!({"type": "object", "properties": {
                "when": {"type": "string", "format": "date-time"},
                "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "big": {"type": "integer", "minimum": 1000000},
                "neg": {"type": "number", "maximum": -5.5},
                "step": {"type": "number", "multipleOf": 0.25}
            }, "required": ["when", "ratio", "big", "neg", "step"]}),
        ),
    ]
}

#[test]
fn varied_schemas_give_valid_outputs() {
    let tokenizer = tiny_tokenizer();
    for (name, schema) in schemas() {
        let constraint =
            JsonConstraint::new(&tokenizer, &EOS, &schema).unwrap_or_else(|e| panic!("{name}: {e}\n{:#}", schema));
        let mut longest = 0;
        for seed in 0..30 {
            let run = generate(&constraint, seed, 8192, 0);
            let text = decode(&tokenizer, &run.ids);
            // A scalar root may end at EOS rather than being closed by the grammar.
            let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!("{name} seed {seed}: not JSON ({e}) after {} tokens: {text}", run.ids.len())
            });
            check(&schema, &value).unwrap_or_else(|e| panic!("{name} seed {seed}: {e}\n{text}"));
            check(constraint.tightened_schema(), &value)
                .unwrap_or_else(|e| panic!("{name} seed {seed}: outside the tightened schema: {e}\n{text}"));
            longest = longest.max(run.ids.len());
        }
        eprintln!("{name}: longest {longest} tokens");
    }
}
