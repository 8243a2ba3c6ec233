//! `aio generate` and `aio model info|logits` run as a user runs them, on the tiny fixture checkpoints.

use std::{path::PathBuf, process::Command};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpm4").join(name)
}

fn aio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aio")).args(args).env("HF_HUB_OFFLINE", "1").output().expect("aio runs")
}

#[test]
fn model_info_prints_layout_parameters_and_memory() {
    let dir = fixture("tiny-marlin-fused");
    let out = aio(&["model", "info", dir.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in
        ["2 layers, hidden 256, 4 heads / 2 KV heads × 64", "Marlin with fused qkv_proj/gate_up_proj", "1836288", "MiB"]
    {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    let out = aio(&["model", "info", "--json", fixture("tiny-gptq").to_str().expect("utf-8")]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(info["vocab_size"], 512);
    assert!(info["quantization"].as_str().expect("text").contains("GPTQ v1"));
}

#[test]
fn model_logits_writes_the_reference_logits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("logits.safetensors");
    // The short prompt of the reference file.
    let bytes = std::fs::read(fixture("tiny-f32").join("reference.safetensors")).expect("reference");
    let reference = safetensors::SafeTensors::deserialize(&bytes).expect("parses");
    let ids: Vec<String> = reference
        .tensor("input_ids_short")
        .expect("ids")
        .data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")).to_string())
        .collect();
    let out = aio(&[
        "model",
        "logits",
        "--model",
        fixture("tiny-f32").to_str().expect("utf-8"),
        "--ids",
        &ids.join(","),
        "--out",
        out_path.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read(&out_path).expect("written");
    let written = safetensors::SafeTensors::deserialize(&written).expect("parses");
    let logits = written.tensor("logits").expect("logits tensor");
    assert_eq!(logits.dtype(), safetensors::Dtype::F32);
    assert_eq!(logits.shape(), &[ids.len(), 512]);
    let expected = reference.tensor("logits_short").expect("reference logits");
    let diff = logits
        .data()
        .chunks_exact(4)
        .zip(expected.data().chunks_exact(4))
        .map(|(a, b)| {
            (f32::from_le_bytes(a.try_into().expect("4")) - f32::from_le_bytes(b.try_into().expect("4"))).abs()
        })
        .fold(0f32, f32::max);
    assert!(diff < 1e-4, "max |Δ| {diff}");
}

#[test]
fn generate_streams_schema_valid_json_and_reports_speed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schema_path = dir.path().join("schema.json");
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"side": {"enum": ["long", "short"]}, "conf": {"type": "integer", "minimum": 0, "maximum": 100}},
        "required": ["side", "conf"],
        "additionalProperties": false
    });
    std::fs::write(&schema_path, schema.to_string()).expect("schema written");
    let out = aio(&[
        "generate",
        "--model",
        fixture("tiny-marlin").to_str().expect("utf-8"),
        "--prompt",
        "go",
        "--system",
        "JSON.",
        "--temperature",
        "0.8",
        "--seed",
        "11",
        "--max-tokens",
        "200",
        "--json-schema",
        schema_path.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(jsonschema::validator_for(&schema).expect("schema").is_valid(&value), "{value}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("prompt tokens") && stderr.contains("tok/s"), "{stderr}");
}

#[test]
fn generate_names_a_missing_model_and_a_bad_setting() {
    let out = aio(&["generate", "--model", "./no/such/model", "--prompt", "hi"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("./no/such/model"));
    let out =
        aio(&["generate", "--model", fixture("tiny-f32").to_str().expect("utf-8"), "--prompt", "hi", "--top-p", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("top_p"));
}
