//! A synthetic 73,448-token vocabulary (the size of MiniCPM4.1-8B's), in both spellings the module reads: byte-level
//! BPE (`Ġ`) and SentencePiece with `<0xNN>` byte fallback (`▁`, as Llama-style MiniCPM tokenizers are). Checks
//! that outputs stay valid and reports trie-build, compile and per-step mask times.

#[path = "common_constrain/mod.rs"]
mod common;

use std::collections::HashSet;
use std::time::Instant;

use aio::ai::constrain::ConstraintCompiler;
use common::*;
use serde_json::{Value, json};

const VOCAB: usize = 73_448;

/// Random token texts (as bytes): words with or without a leading space, numbers, JSON punctuation, CJK.
fn token_texts(rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    const PUNCT: [&str; 24] = [
        "\",", "\":", "{\"", "\"}", "},", "],", "\":\"", "\",\"", "[{", "}]", "\":[", "\":{", "\"]", "\":\"\",", "}}",
        "]]", "\\n", "\\\"", "--", "==", "...", " {", " [", "\":-",
    ];
    const CJK: [&str; 8] = ["市场", "趋势", "价格", "交易", "的", "是", "支撑", "阻力"];
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let kind = rng.next_u64() % 100;
        let mut t = Vec::new();
        if kind < 45 || (60..70).contains(&kind) {
            if rng.next_u64().is_multiple_of(2) {
                t.push(b' ');
            }
            let len = 1 + (rng.next_u64() % 11) as usize;
            for i in 0..len {
                let c = b'a' + (rng.next_u64() % 26) as u8;
                t.push(if i == 0 && kind >= 60 { c.to_ascii_uppercase() } else { c });
            }
        } else if kind < 55 {
            if rng.next_u64().is_multiple_of(3) {
                t.push(b' ');
            }
            for _ in 0..1 + rng.next_u64() % 3 {
                t.push(b'0' + (rng.next_u64() % 10) as u8);
            }
        } else if kind < 60 {
            t.extend_from_slice(PUNCT[(rng.next_u64() % PUNCT.len() as u64) as usize].as_bytes());
            if rng.next_u64().is_multiple_of(2) {
                t.push(b'a' + (rng.next_u64() % 26) as u8);
            }
        } else {
            for _ in 0..1 + rng.next_u64() % 3 {
                t.extend_from_slice(CJK[(rng.next_u64() % CJK.len() as u64) as usize].as_bytes());
            }
        }
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    out
}

/// GPT-2's byte-to-character map, indexed by byte.
fn byte_level_chars() -> Vec<char> {
    let mut next = 0x100u32;
    (0..=255u8)
        .map(|byte| {
            let c = byte as char;
            if matches!(c, '!'..='~' | '\u{A1}'..='\u{AC}' | '\u{AE}'..='\u{FF}') {
                c
            } else {
                next += 1;
                char::from_u32(next - 1).expect("char")
            }
        })
        .collect()
}

fn added(id: usize, content: &str) -> Value {
    json!({"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
           "normalized": false, "special": true})
}

/// A byte-level BPE tokenizer.json with `VOCAB` tokens.
fn byte_level_tokenizer() -> tokenizers::Tokenizer {
    let specials = ["<unk>", "<s>", "</s>", "<|im_end|>", "<|im_start|>"];
    let mut vocab = serde_json::Map::new();
    let mut seen = HashSet::new();
    let chars = byte_level_chars();
    for (i, s) in specials.iter().enumerate() {
        vocab.insert((*s).into(), json!(i));
    }
    for b in 0..=255u8 {
        let s = chars[b as usize].to_string();
        seen.insert(vec![b]);
        vocab.insert(s, json!(vocab.len()));
    }
    let mut rng = Rng::new(7);
    for t in token_texts(&mut rng, VOCAB * 2) {
        if vocab.len() == VOCAB {
            break;
        }
        if seen.insert(t.clone()) {
            let s: String = t.iter().map(|&b| chars[b as usize]).collect();
            vocab.insert(s, json!(vocab.len()));
        }
    }
    let json = json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": specials.iter().enumerate().map(|(i, s)| added(i, s)).collect::<Vec<_>>(),
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": []}
    });
    tokenizers::Tokenizer::from_bytes(json.to_string().as_bytes()).expect("synthetic byte-level tokenizer")
}

/// A SentencePiece-style (Llama / MiniCPM) tokenizer.json with byte fallback and `VOCAB` tokens.
fn sentencepiece_tokenizer() -> tokenizers::Tokenizer {
    let specials = ["<unk>", "<s>", "</s>", "<|im_end|>", "<|im_start|>"];
    let mut vocab = serde_json::Map::new();
    for (i, s) in specials.iter().enumerate() {
        vocab.insert((*s).into(), json!(i));
    }
    for b in 0..=255u8 {
        vocab.insert(format!("<0x{b:02X}>"), json!(vocab.len()));
    }
    let mut rng = Rng::new(11);
    for t in token_texts(&mut rng, VOCAB * 2) {
        if vocab.len() == VOCAB {
            break;
        }
        let s = String::from_utf8(t).expect("utf-8").replace(' ', "\u{2581}");
        if !vocab.contains_key(&s) {
            vocab.insert(s, json!(vocab.len()));
        }
    }
    let json = json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": specials.iter().enumerate().map(|(i, s)| added(i, s)).collect::<Vec<_>>(),
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"},
        "pre_tokenizer": null,
        "post_processor": null,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                  "vocab": vocab, "merges": []}
    });
    tokenizers::Tokenizer::from_bytes(json.to_string().as_bytes()).expect("synthetic sentencepiece tokenizer")
}

fn exercise(name: &str, tokenizer: &tokenizers::Tokenizer) {
    assert_eq!(tokenizer.get_vocab_size(true), VOCAB);
    let t0 = Instant::now();
    let compiler = ConstraintCompiler::new(tokenizer, &EOS).expect("token trie");
    let compiler_ms = t0.elapsed().as_secs_f64() * 1e3;
    for (schema_name, schema) in
        [("strategy", strategy_schema()), ("chart findings", chart_findings_schema()), ("user", user_schema())]
    {
        let t0 = Instant::now();
        let constraint = compiler.compile(&schema).expect("compiles");
        let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
        let (mut steps, mut mask) = (0, std::time::Duration::ZERO);
        for seed in 0..4 {
            let run = generate(&constraint, seed, 8192, 64);
            let text = decode(tokenizer, &run.ids);
            assert!(run.finished, "{name}/{schema_name} seed {seed}: unfinished: {text}");
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}/{schema_name} seed {seed}: not JSON ({e}): {text}"));
            check(&schema, &value).unwrap_or_else(|e| panic!("{name}/{schema_name} seed {seed}: {e}\n{text}"));
            steps += run.steps;
            mask += run.mask_time;
        }
        eprintln!(
            "{name} {VOCAB} tokens: compiler (trie, slices) {compiler_ms:.0} ms; {schema_name}: compile {compile_ms:.0} ms, {steps} steps, \
             mean mask {:.0} µs/step",
            mask.as_secs_f64() * 1e6 / steps.max(1) as f64
        );
    }
}

#[test]
fn byte_level_73k_vocab_outputs_validate() {
    exercise("byte-level", &byte_level_tokenizer());
}

#[test]
fn sentencepiece_73k_vocab_outputs_validate() {
    exercise("sentencepiece", &sentencepiece_tokenizer());
}
