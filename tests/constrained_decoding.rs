//! Constrained decoding with random logits: every output of 100 seeds per schema parses and validates against the
//! original schema, within a token budget.

#[path = "common_constrain/mod.rs"]
mod common;

use aio::ai::constrain::{JsonConstraint, Limits};
use aio::{patterns::chart::ChartFinding, strategy::StrategySpec};
use common::*;
use serde_json::Value;

/// Runs 100 seeds; returns the outputs and prints length and mask-time statistics.
fn hundred_seeds(name: &str, schema: &Value, budget: usize) -> Vec<Value> {
    let tokenizer = tiny_tokenizer();
    let t0 = std::time::Instant::now();
    let constraint = JsonConstraint::new(&tokenizer, &EOS, schema).expect("compiles");
    let compile = t0.elapsed();
    let mut outputs = Vec::new();
    let (mut steps, mut mask_time, mut longest) = (0usize, std::time::Duration::ZERO, 0usize);
    for seed in 0..100u64 {
        let run = generate(&constraint, seed, budget, 7);
        let text = decode(&tokenizer, &run.ids);
        assert!(run.finished, "{name} seed {seed}: not finished within {budget} tokens: {text}");
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} seed {seed}: not JSON ({e}): {text}"));
        if let Err(e) = check(schema, &value) {
            panic!("{name} seed {seed}: invalid under the original schema: {e}\n{text}");
        }
        steps += run.steps;
        mask_time += run.mask_time;
        longest = longest.max(run.ids.len());
        outputs.push(value);
    }
    eprintln!(
        "{name}: compile {:.1} ms, {} steps, mean mask {:.1} µs/step, longest output {longest} tokens",
        compile.as_secs_f64() * 1e3,
        steps,
        mask_time.as_secs_f64() * 1e6 / steps.max(1) as f64,
    );
    outputs
}

#[test]
fn strategy_spec_outputs_validate_for_100_seeds() {
    let schema = strategy_schema();
    for value in hundred_seeds("strategy", &schema, 8192) {
        let text = value.to_string();
        let spec: Result<StrategySpec, _> = serde_json::from_str(&text);
        assert!(spec.is_ok(), "the spec deserializer rejects {text}: {:?}", spec.err());
    }
}

#[test]
fn chart_findings_outputs_validate_for_100_seeds() {
    let schema = chart_findings_schema();
    for value in hundred_seeds("chart findings", &schema, 8192) {
        let text = value.to_string();
        let findings: Result<Vec<ChartFinding>, _> = serde_json::from_str(&text);
        assert!(findings.is_ok(), "ChartFinding rejects {text}: {:?}", findings.err());
    }
}

#[test]
fn user_schema_outputs_validate_for_100_seeds() {
    let outputs = hundred_seeds("user", &user_schema(), 4096);
    // Tightening added `additionalProperties: false`: no stray keys.
    for value in outputs {
        let keys: Vec<&String> = value.as_object().expect("object").keys().collect();
        assert!(keys.iter().all(|k| ["direction", "confidence", "use_stop", "levels", "note"].contains(&k.as_str())));
    }
}

#[test]
fn disallowed_tokens_are_rejected_and_leave_the_state_intact() {
    let tokenizer = tiny_tokenizer();
    let constraint = JsonConstraint::new(&tokenizer, &EOS, &user_schema()).expect("compiles");
    let mut m = constraint.matcher().expect("matcher");
    let vocab = constraint.vocab_size();
    // The document starts with `{`: a digit, EOS, a special token and an id past the vocabulary are refused.
    let digit = tokenizer.token_to_id("7").expect("digit token");
    assert_not_allowed(m.accept(digit).expect_err("digit first"));
    assert_not_allowed(m.accept(EOS[0]).expect_err("EOS first"));
    assert_not_allowed(m.accept(4).expect_err("<|im_start|>"));
    assert_not_allowed(m.accept(vocab as u32 + 3).expect_err("pad id"));
    let mut logits = vec![0.0f32; vocab];
    m.mask_logits(&mut logits).expect("mask");
    let allowed: Vec<usize> = (0..vocab).filter(|&i| logits[i].is_finite()).collect();
    assert!(!allowed.is_empty());
    for &i in &allowed {
        let text = tokenizer.decode(&[i as u32], false).expect("decodes");
        assert!(text.starts_with('{'), "allowed first token {i} = {text:?}");
    }
    assert!(!allowed.contains(&(digit as usize)));
    // Still usable after the refusals: a whole valid document by hand.
    let text = r#"{"direction":"flat","confidence":100,"use_stop":false,"levels":[1.5,-2]}"#;
    let ids = tokenizer.encode(text, false).expect("encodes").get_ids().to_vec();
    for (n, &id) in ids.iter().enumerate() {
        assert!(!m.is_finished(), "finished early at token {n}");
        m.accept(id).unwrap_or_else(|e| panic!("token {n} of a valid document: {e}"));
    }
    assert!(m.is_finished());
    // After the end only EOS is allowed.
    let mut logits = vec![0.0f32; vocab + 5];
    m.mask_logits(&mut logits).expect("mask");
    let allowed: Vec<usize> = (0..logits.len()).filter(|&i| logits[i].is_finite()).collect();
    assert_eq!(allowed, vec![2, 3]);
    assert_not_allowed(m.accept(digit).expect_err("after the end"));
    m.accept(EOS[1]).expect("EOS after the end");
    assert!(m.is_finished());
}

#[test]
fn an_invalid_document_is_refused_where_it_goes_wrong() {
    let tokenizer = tiny_tokenizer();
    let constraint = JsonConstraint::new(&tokenizer, &EOS, &user_schema()).expect("compiles");
    // Properties come in schema order; 101 breaks `maximum: 100`; "x" starts no `direction`; `note` is not before
    // `direction`; `use_stop` is a boolean.
    for (good_prefix, bad) in [
        (r#"{"direction":"long","confidence":10"#, "1"),
        (r#"{"direction":""#, "x"),
        (r#"{""#, "note"),
        (r#"{"direction":"long","confidence":1,"use_stop":"#, "1"),
    ] {
        let mut m = constraint.matcher().expect("matcher");
        for &id in tokenizer.encode(good_prefix, false).expect("encodes").get_ids() {
            m.accept(id).unwrap_or_else(|e| panic!("valid prefix {good_prefix}: {e}"));
        }
        let bad_ids = tokenizer.encode(bad, false).expect("encodes").get_ids().to_vec();
        let refused = bad_ids.iter().try_for_each(|&id| m.accept(id));
        assert_not_allowed(refused.expect_err(bad));
    }
}

#[test]
fn logits_shorter_than_the_vocabulary_are_an_error() {
    let tokenizer = tiny_tokenizer();
    let constraint = JsonConstraint::new(&tokenizer, &EOS, &user_schema()).expect("compiles");
    let mut m = constraint.matcher().expect("matcher");
    let mut logits = vec![0.0f32; 100];
    assert!(m.mask_logits(&mut logits).is_err());
}

#[test]
fn bad_inputs_are_errors() {
    let tokenizer = tiny_tokenizer();
    assert!(JsonConstraint::new(&tokenizer, &[], &user_schema()).is_err());
    assert!(JsonConstraint::new(&tokenizer, &[9999], &user_schema()).is_err());
    let overlapping = serde_json::json!({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]});
    let err = JsonConstraint::new(&tokenizer, &EOS, &overlapping).expect_err("overlapping oneOf");
    assert!(err.to_string().contains("oneOf"), "{err}");
    let dangling = serde_json::json!({"$ref": "#/$defs/missing"});
    assert!(JsonConstraint::new(&tokenizer, &EOS, &dangling).is_err());
}

#[test]
fn tightened_schema_is_stricter_and_compiles_small_limits() {
    let tokenizer = tiny_tokenizer();
    let limits = Limits { max_string_length: 4, max_items: 2, max_recursion_depth: 2, ..Limits::default() };
    let schema = strategy_schema();
    let constraint = JsonConstraint::with_limits(&tokenizer, &EOS, &schema, &limits).expect("compiles");
    for seed in 0..20 {
        let run = generate(&constraint, seed, 4096, 0);
        let text = decode(&tokenizer, &run.ids);
        assert!(run.finished, "seed {seed}: {text}");
        let value: Value = serde_json::from_str(&text).expect("json");
        check(&schema, &value).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        check(constraint.tightened_schema(), &value).unwrap_or_else(|e| panic!("tightened, seed {seed}: {e}\n{text}"));
    }
}

#[test]
fn constraint_is_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<JsonConstraint>();
    send_sync::<aio::ai::constrain::ConstraintCompiler>();
    send::<aio::ai::constrain::ConstraintMatcher>();
    let tokenizer = tiny_tokenizer();
    let constraint = JsonConstraint::new(&tokenizer, &EOS, &user_schema()).expect("compiles");
    let handles: Vec<_> = (0..4u64)
        .map(|seed| {
            let c = constraint.clone();
            std::thread::spawn(move || generate(&c, seed, 4096, 0))
        })
        .collect();
    for h in handles {
        let run = h.join().expect("thread");
        assert!(run.finished);
        let value: Value = serde_json::from_str(&decode(&tokenizer, &run.ids)).expect("json");
        check(&user_schema(), &value).expect("valid");
    }
}

#[test]
fn tokenizer_json_text_reads_like_the_tokenizer() {
    use aio::ai::constrain::ConstraintCompiler;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/minicpm4/tiny-f32/tokenizer.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    let from_json = ConstraintCompiler::from_tokenizer_json(&text, &EOS).expect("from json");
    let from_tokenizer = ConstraintCompiler::new(&tiny_tokenizer(), &EOS).expect("from tokenizer");
    assert_eq!(from_json.vocab_size(), 512);
    assert_eq!(from_tokenizer.vocab_size(), 512);
    for id in 0..512 {
        assert_eq!(from_json.token_bytes(id), from_tokenizer.token_bytes(id), "token {id}");
    }
    assert_eq!(from_json.token_bytes(472), Some(&b" decision"[..]));
    assert_eq!(from_json.token_bytes(3), None, "<|im_end|> is special");
    assert_eq!(from_json.token_bytes(512), None);
    // One compiler, several schemas.
    for schema in [user_schema(), chart_findings_schema(), strategy_schema()] {
        let constraint = from_json.compile(&schema).expect("compiles");
        let run = generate(&constraint, 1, 8192, 0);
        assert!(run.finished);
        let value: Value = serde_json::from_str(&decode(&tiny_tokenizer(), &run.ids)).expect("json");
        check(&schema, &value).expect("valid");
    }
}

#[test]
fn bitmask_and_prepared_mask_agree_with_mask_logits() {
    let tokenizer = tiny_tokenizer();
    let constraint = JsonConstraint::new(&tokenizer, &EOS, &chart_findings_schema()).expect("compiles");
    let mut m = constraint.matcher().expect("matcher");
    let mut rng = Rng::new(5);
    let vocab = constraint.vocab_size();
    while !m.is_finished() {
        m.prepare_mask().expect("prepare");
        let bits = m.allowed_bitmask().expect("bits").to_vec();
        let mut logits: Vec<f32> = (0..vocab).map(|_| rng.normal()).collect();
        m.mask_logits(&mut logits).expect("mask");
        for (i, l) in logits.iter().enumerate() {
            assert_eq!(l.is_finite(), bits[i / 32] & (1 << (i % 32)) != 0, "token {i}");
        }
        let allowed = m.allowed_tokens().expect("allowed");
        assert_eq!(allowed.len(), logits.iter().filter(|l| l.is_finite()).count());
        let token = sample(&logits, &mut rng);
        m.accept(token).expect("accept");
    }
    assert!(m.tokens_accepted() > 0);
}
