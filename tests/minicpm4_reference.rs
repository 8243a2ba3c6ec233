//! The MiniCPM4 engine against Hugging Face transformers' reference outputs on the tiny checkpoints.

use std::path::{Path, PathBuf};

use aio::ai::{
    config::ModelConfig,
    engine::{Engine, LoadedModel},
    generate::{FinishReason, GenerateRequest, Prompt},
    models::minicpm4::MiniCpm4,
    sampling::SamplingParams,
    tokenizer::{ChatMessage, TextTokenizer},
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpm4").join(name)
}

struct Reference {
    tensors: Vec<(String, Vec<usize>, Vec<u8>, safetensors::Dtype)>,
}

impl Reference {
    fn open(dir: &str) -> Self {
        let bytes = std::fs::read(fixture(dir).join("reference.safetensors")).expect("reference file");
        let st = safetensors::SafeTensors::deserialize(&bytes).expect("reference parses");
        let tensors =
            st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec(), v.dtype())).collect();
        Self { tensors }
    }
    fn get(&self, name: &str) -> &(String, Vec<usize>, Vec<u8>, safetensors::Dtype) {
        self.tensors.iter().find(|t| t.0 == name).expect("tensor in reference")
    }
    fn ids(&self, name: &str) -> Vec<u32> {
        let t = self.get(name);
        assert_eq!(t.3, safetensors::Dtype::I64);
        t.2.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as u32).collect()
    }
    fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let t = self.get(name);
        assert_eq!(t.3, safetensors::Dtype::F32);
        (t.1.clone(), t.2.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect())
    }
}

fn load(dir: &str) -> MiniCpm4 {
    let path = fixture(dir);
    let cfg = ModelConfig::from_file(&path.join("config.json")).expect("config");
    MiniCpm4::load(&path, cfg).expect("model loads")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn check_model(dir: &str, reference: &str) {
    let model = load(dir);
    let r = Reference::open(reference);
    for case in ["short", "long"] {
        let ids = r.ids(&format!("input_ids_{case}"));
        let (shape, expected) = r.f32(&format!("logits_{case}"));
        let logits = model.logits(&ids).expect("forward");
        assert_eq!(logits.dims(), &shape[..]);
        let got: Vec<f32> = logits.flatten_all().and_then(|t| t.to_vec1()).expect("to vec");
        let diff = max_abs_diff(&got, &expected);
        assert!(diff < 1e-4, "{dir} {case}: max |Δ| {diff}");
    }
    // Greedy decoding with the KV cache: one prefill, then one token at a time.
    let prompt = r.ids("greedy_prompt");
    let tokens = r.ids("greedy_tokens");
    let (_, step_logits) = r.f32("greedy_step_logits");
    let vocab = model.config().vocab_size;
    let mut cache = model.new_cache();
    let mut logits = model.forward(&prompt, &mut cache, false).expect("prefill");
    for (step, &expected) in tokens.iter().enumerate() {
        let row: Vec<f32> = logits.flatten_all().and_then(|t| t.to_vec1()).expect("to vec");
        let diff = max_abs_diff(&row, &step_logits[step * vocab..(step + 1) * vocab]);
        assert!(diff < 1e-4, "{dir} step {step}: max |Δ| {diff}");
        let next = aio::ai::models::minicpm4::argmax_last(&logits).expect("argmax");
        assert_eq!(next, expected, "{dir} step {step}");
        logits = model.forward(&[next], &mut cache, false).expect("decode");
    }
}

#[test]
fn f32_sharded_checkpoint_matches_transformers() {
    check_model("tiny-f32", "tiny-f32");
}

#[test]
fn transformers_style_config_gives_the_same_logits() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("tiny-f32"), dir.path());
    let path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let obj = cfg.as_object_mut().expect("object");
    let mut rope = obj.remove("rope_scaling").expect("rope_scaling");
    rope["rope_theta"] = obj.remove("rope_theta").expect("rope_theta");
    obj.insert("rope_parameters".into(), rope);
    obj.insert("model_type".into(), "minicpm4".into());
    obj.insert("sparse_config".into(), serde_json::json!({"kernel_size": 32, "topk": 64}));
    std::fs::write(&path, cfg.to_string()).expect("write");
    let r = Reference::open("tiny-f32");
    let model = MiniCpm4::load(dir.path(), ModelConfig::from_file(&path).expect("config")).expect("loads");
    let ids = r.ids("input_ids_long");
    let got: Vec<f32> = model.logits(&ids).and_then(|t| Ok(t.flatten_all()?.to_vec1()?)).expect("logits");
    assert!(max_abs_diff(&got, &r.f32("logits_long").1) < 1e-4);
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
    for entry in std::fs::read_dir(to).expect("read dir") {
        let path = entry.expect("entry").path();
        let mut perms = std::fs::metadata(&path).expect("meta").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&path, perms).expect("chmod");
    }
}

#[test]
fn tokenizer_case_and_chat_template_match_the_fixture() {
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tokenizer-case.json")).expect("case file"))
            .expect("json");
    let text = case["text"].as_str().expect("text");
    let ids: Vec<u32> = case["ids"].as_array().expect("ids").iter().map(|v| v.as_u64().expect("id") as u32).collect();
    for dir in ["tiny-f32", "tiny-gptq", "tiny-marlin", "tiny-marlin-fused"] {
        let tok = TextTokenizer::from_dir(&fixture(dir), &[2, 3]).expect("tokenizer");
        assert_eq!(tok.encode(text).expect("encode"), ids, "{dir}");
        let messages = [ChatMessage::new("user", "EURUSD H1 double top, rsi 71")];
        assert_eq!(tok.render_chat(&messages, true, true).expect("render"), text);
        assert_eq!(tok.encode_chat(&messages, true).expect("encode chat"), ids);
        // MiniCPM4.1's switch: this template has no enable_thinking, so /no_think goes after the user text.
        let no_think = tok.render_chat(&messages, true, false).expect("render");
        assert!(no_think.contains("rsi 71 /no_think<|im_end|>"), "{no_think}");
        assert_eq!(tok.decode(&ids, false).expect("decode"), text);
        assert_eq!(tok.eos_ids(), &[2, 3]);
    }
}

#[test]
fn engine_streams_greedy_tokens_and_reports_stats() {
    let engine = Engine::start(&fixture("tiny-f32")).expect("engine starts");
    assert_eq!(engine.info().vocab_size, 512);
    let r = Reference::open("tiny-f32");
    let prompt = r.ids("greedy_prompt");
    let expected = r.ids("greedy_tokens");
    let (text_tx, text_rx) = std::sync::mpsc::channel();
    let request = GenerateRequest {
        prompt: Prompt::Ids(prompt.clone()),
        max_tokens: expected.len(),
        ..GenerateRequest::chat("", 0)
    };
    // Two requests queue behind each other without blocking the caller.
    let first = engine.generate(request.clone(), Some(text_tx)).expect("queued");
    let second = engine.generate(request, None).expect("queued");
    let generation = first.wait().expect("generates");
    assert_eq!(generation.ids, expected);
    assert_eq!(generation.finish, FinishReason::Length);
    let streamed: String = text_rx.try_iter().collect();
    assert_eq!(streamed, generation.text);
    assert_eq!(generation.stats.prompt_tokens, prompt.len());
    assert_eq!(generation.stats.generated_tokens, expected.len());
    assert!(generation.stats.time_to_first_token_secs > 0.0 && generation.stats.decode_tokens_per_sec > 0.0);
    assert_eq!(second.wait().expect("second").ids, expected);
    // Logits through the engine equal the reference.
    let ids = r.ids("input_ids_short");
    let (shape, logits) = engine.logits(ids).expect("logits");
    assert_eq!(shape, vec![28, 512]);
    assert!(max_abs_diff(&logits, &r.f32("logits_short").1) < 1e-4);
}

#[test]
fn engine_cancel_and_stop_strings_end_generation() {
    let engine = Engine::start(&fixture("tiny-f32")).expect("engine starts");
    let r = Reference::open("tiny-f32");
    let base =
        GenerateRequest { prompt: Prompt::Ids(r.ids("greedy_prompt")), max_tokens: 12, ..GenerateRequest::chat("", 0) };
    let full = engine.generate(base.clone(), None).expect("queued").wait().expect("generates");
    // A stop string from the middle of the greedy text cuts it there.
    let cut = full.text.char_indices().nth(full.text.chars().count() / 2).map(|(i, _)| i).expect("text");
    let stop: String = full.text[cut..].chars().take(2).collect();
    let stopped = engine
        .generate(GenerateRequest { stop_strings: vec![stop.clone()], ..base.clone() }, None)
        .expect("queued")
        .wait()
        .expect("generates");
    assert_eq!(stopped.finish, FinishReason::StopString);
    assert_eq!(stopped.text, full.text[..full.text.find(&stop).expect("stop in text")]);
    let pending = engine.generate(GenerateRequest { max_tokens: 40, ..base }, None).expect("queued");
    pending.cancel();
    let cancelled = pending.wait().expect("returns");
    assert_eq!(cancelled.finish, FinishReason::Cancelled);
}

#[test]
fn engine_start_reports_load_errors() {
    let err = Engine::start(Path::new("/nonexistent/model")).err().expect("fails");
    assert!(err.to_string().contains("/nonexistent/model/config.json"), "{err}");
}

/// Damages a copy of tiny-f32 with `damage` and returns the load error.
fn load_error(damage: impl FnOnce(&Path)) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("tiny-f32"), dir.path());
    damage(dir.path());
    match LoadedModel::load(dir.path()) {
        Ok(_) => panic!("damaged checkpoint loaded"),
        Err(e) => e.to_string(),
    }
}

fn rewrite_shard(path: &Path, edit: impl FnOnce(&mut Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>)) {
    let bytes = std::fs::read(path).expect("read shard");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("parses");
    let mut tensors: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut tensors);
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).expect("view")))
        .collect();
    let out = safetensors::serialize(views, None).expect("serialize");
    std::fs::write(path, out).expect("write shard");
}

#[test]
fn damaged_checkpoints_name_the_file_and_tensor() {
    let shard2 = "model-00002-of-00002.safetensors";
    let err = load_error(|d| std::fs::remove_file(d.join(shard2)).expect("rm"));
    assert!(err.contains(shard2) && err.contains("missing"), "{err}");

    let err = load_error(|d| {
        let p = d.join(shard2);
        let len = std::fs::metadata(&p).expect("meta").len();
        std::fs::OpenOptions::new().write(true).open(&p).expect("open").set_len(len - 1000).expect("truncate");
    });
    assert!(err.contains(shard2) && err.contains("truncated") && err.contains("tensor model."), "{err}");

    let err = load_error(|d| {
        rewrite_shard(&d.join(shard2), |ts| {
            let t = ts.iter_mut().find(|t| t.0 == "model.norm.weight").expect("norm");
            t.2 = vec![128, 2];
        })
    });
    assert!(err.contains("model.norm.weight") && err.contains("[128, 2]") && err.contains(shard2), "{err}");

    let err = load_error(|d| {
        rewrite_shard(&d.join(shard2), |ts| {
            let t = ts.iter_mut().find(|t| t.0 == "model.norm.weight").expect("norm");
            t.1 = safetensors::Dtype::I32;
        })
    });
    assert!(err.contains("model.norm.weight") && err.contains("I32") && err.contains(shard2), "{err}");

    let err = load_error(|d| {
        rewrite_shard(&d.join(shard2), |ts| ts.retain(|t| t.0 != "model.layers.1.self_attn.v_proj.weight"))
    });
    assert!(err.contains("model.layers.1.self_attn.v_proj.weight"), "{err}");

    let err = load_error(|d| std::fs::write(d.join("config.json"), "{\"vocab_size\": 512}").expect("write"));
    assert!(err.contains("config.json") && err.contains("hidden_size"), "{err}");
}

#[test]
fn constrained_generation_with_the_model_is_valid_json_for_100_seeds() {
    let engine = Engine::start(&fixture("tiny-f32")).expect("engine starts");
    // The tiny model's context is 64 positions: prompt and answer must fit in it.
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "side": {"enum": ["long", "short", "flat"]},
            "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
            "ok": {"type": "boolean"}
        },
        "required": ["side", "confidence", "ok"],
        "additionalProperties": false
    });
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..100u64 {
        let mut request = GenerateRequest::chat("JSON", 400);
        request.sampling = SamplingParams { temperature: 1.0, seed, ..SamplingParams::default() };
        request.json_schema = Some(schema.clone());
        let generation = engine.generate(request, None).expect("queued").wait().expect("generates");
        assert_eq!(generation.finish, FinishReason::Complete, "seed {seed}: {}", generation.text);
        let value: serde_json::Value =
            serde_json::from_str(&generation.text).unwrap_or_else(|e| panic!("seed {seed}: {e}: {}", generation.text));
        assert!(validator.is_valid(&value), "seed {seed}: {value}");
        distinct.insert(generation.text);
    }
    // Sampling really varies with the seed: the outputs are not all the same.
    assert!(distinct.len() > 20, "{} distinct outputs", distinct.len());
}

#[test]
fn gptq_checkpoint_matches_transformers() {
    check_model("tiny-gptq", "tiny-int4-reference");
}

#[test]
fn marlin_checkpoint_matches_transformers() {
    check_model("tiny-marlin", "tiny-int4-reference");
}

#[test]
fn fused_marlin_checkpoint_matches_transformers() {
    check_model("tiny-marlin-fused", "tiny-int4-reference");
}

#[test]
fn forward_matches_transformers_on_and_off_the_rayon_pool_and_from_two_callers_at_once() {
    // A caller outside rayon's pool has each pass run on a pool worker; a caller already on a worker (here one of
    // its own pool) runs it in place; two callers at once share the global pool. All must give the reference.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    pool.install(|| {
        assert!(rayon::current_thread_index().is_some());
        check_model("tiny-marlin-fused", "tiny-int4-reference");
    });
    std::thread::scope(|s| {
        let a = s.spawn(|| check_model("tiny-marlin-fused", "tiny-int4-reference"));
        let b = s.spawn(|| check_model("tiny-f32", "tiny-f32"));
        assert!(a.join().is_ok() && b.join().is_ok(), "a concurrent caller failed");
    });
}

#[test]
fn model_info_names_the_int4_layouts() {
    for (dir, layout) in [
        ("tiny-f32", "dense"),
        ("tiny-gptq", "GPTQ v1"),
        ("tiny-marlin", "Marlin per projection"),
        ("tiny-marlin-fused", "Marlin with fused qkv_proj/gate_up_proj"),
    ] {
        let loaded = LoadedModel::load(&fixture(dir)).expect("loads");
        assert!(loaded.info.quantization.contains(layout), "{dir}: {}", loaded.info.quantization);
        // 2 × 512 × 256 (embedding, lm_head) + 2 layers × 786,944 + 256 (final norm).
        assert_eq!(loaded.info.parameters, 1_836_288);
    }
}
