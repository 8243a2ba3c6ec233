//! MiniCPM-V's vision path against the reference implementation's outputs on the tiny checkpoint in
//! `tests/fixtures/minicpmv` (see its README): encoder outputs, resampled features, the padded batch, the
//! multimodal prompt's ids and logits, and clear errors on damaged checkpoints.

use std::path::{Path, PathBuf};

use aio::ai::vision::{MiniCpmV, MiniCpmVConfig, image_bounds, preprocess};
use candle_core::Tensor;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpmv")
}

/// The reference tensors by name.
struct Reference {
    tensors: Vec<(String, Vec<usize>, Vec<u8>, safetensors::Dtype)>,
}

impl Reference {
    fn open() -> Self {
        let bytes = std::fs::read(fixture().join("reference.safetensors")).expect("reference file");
        let st = safetensors::SafeTensors::deserialize(&bytes).expect("reference parses");
        let tensors =
            st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec(), v.dtype())).collect();
        Self { tensors }
    }
    fn get(&self, name: &str) -> &(String, Vec<usize>, Vec<u8>, safetensors::Dtype) {
        self.tensors.iter().find(|t| t.0 == name).unwrap_or_else(|| panic!("{name} in the reference"))
    }
    fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let t = self.get(name);
        assert_eq!(t.3, safetensors::Dtype::F32, "{name}");
        (t.1.clone(), t.2.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect())
    }
    fn i64(&self, name: &str) -> Vec<i64> {
        let t = self.get(name);
        assert_eq!(t.3, safetensors::Dtype::I64, "{name}");
        t.2.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
    }
    fn i32(&self, name: &str) -> Vec<i32> {
        let t = self.get(name);
        assert_eq!(t.3, safetensors::Dtype::I32, "{name}");
        t.2.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes"))).collect()
    }
    fn rgb(&self, name: &str) -> image::RgbImage {
        let t = self.get(name);
        assert_eq!(t.3, safetensors::Dtype::U8, "{name}");
        let (h, w) = (t.1[0] as u32, t.1[1] as u32);
        image::RgbImage::from_raw(w, h, t.2.clone()).expect("h·w·3 bytes")
    }
    fn tgt_sizes(&self, img: usize) -> Vec<(usize, usize)> {
        self.i32(&format!("img{img}.tgt_sizes")).chunks_exact(2).map(|p| (p[0] as usize, p[1] as usize)).collect()
    }
    /// The reference's own slices as model input.
    fn pixel_values(&self, img: usize, cfg: &MiniCpmVConfig) -> Vec<Vec<f32>> {
        (0..self.tgt_sizes(img).len())
            .map(|i| {
                let rgb = self.rgb(&format!("img{img}.slice_rgb.{i}"));
                preprocess::pixel_values(&rgb, cfg.norm_mean, cfg.norm_std, cfg.slice.patch_size)
            })
            .collect()
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().and_then(|t| t.to_vec1()).expect("f32 tensor")
}

fn model() -> MiniCpmV {
    MiniCpmV::load(&fixture()).expect("the tiny MiniCPM-V loads")
}

#[test]
fn config_reads_the_llm_without_mup_and_the_vision_fields() {
    let cfg = MiniCpmVConfig::from_dir(&fixture()).expect("config");
    assert_eq!(cfg.query_num, 64);
    assert_eq!(cfg.version, "4.0");
    assert_eq!((cfg.vision.hidden_size, cfg.vision.num_hidden_layers, cfg.vision.patches_per_side()), (64, 2, 70));
    assert_eq!((cfg.slice.max_slice_nums, cfg.slice.scale_resolution, cfg.slice.patch_size), (9, 448, 14));
    // No muP keys: embeddings × 1, residual branches × 1, logits ÷ 1.
    assert_eq!(cfg.llm.scale_emb, 1.0);
    assert!((cfg.llm.residual_scale() - 1.0).abs() < 1e-12);
    assert!((cfg.llm.logits_divisor() - 1.0).abs() < 1e-12);
    assert_eq!(cfg.tokens.unk, "<unk>");
}

#[test]
fn encoder_and_resampler_match_the_reference_for_both_images() {
    let model = model();
    let r = Reference::open();
    let cfg = model.vision.config().clone();
    for img in 0..2 {
        let tgt = r.tgt_sizes(img);
        let encoded = model.vision.encoder().forward(&r.pixel_values(img, &cfg), &tgt).expect("encoder runs");
        for i in 0..tgt.len() {
            let (shape, want) = r.f32(&format!("img{img}.vision_hidden.{i}"));
            let got = encoded.slice(i).expect("slice");
            assert_eq!(got.dims(), shape.as_slice());
            let diff = max_abs_diff(&values(&got), &want);
            eprintln!("img{img} slice {i}: encoder output differs by {diff:e}");
            assert!(diff < 1e-4, "img{img} slice {i}: encoder output differs by {diff}");
        }
        let features = model.vision.resampler().forward(&encoded.hidden, &encoded.tgt_sizes).expect("resampler");
        let (shape, want) = r.f32(&format!("img{img}.features"));
        assert_eq!(features.dims(), shape.as_slice());
        let diff = max_abs_diff(&values(&features), &want);
        eprintln!("img{img}: features differ by {diff:e}");
        assert!(diff < 1e-4, "img{img}: features differ by {diff}");
    }
}

#[test]
fn padded_batch_equals_each_slice_alone() {
    let model = model();
    let r = Reference::open();
    let cfg = model.vision.config().clone();
    // The overview (24×43) and a 29×35 slice differ in length, so the batch pads the shorter one.
    let pv = r.pixel_values(0, &cfg);
    let tgt = r.tgt_sizes(0);
    let batch = model.vision.encoder().forward(&pv[..3], &tgt[..3]).expect("batch");
    let batch_features = model.vision.resampler().forward(&batch.hidden, &batch.tgt_sizes).expect("resampler");
    for i in 0..3 {
        let alone = model.vision.encoder().forward(&pv[i..=i], &tgt[i..=i]).expect("one slice");
        let diff = max_abs_diff(&values(&alone.slice(0).expect("slice")), &values(&batch.slice(i).expect("slice")));
        assert!(diff < 1e-5, "slice {i}: padded batch differs from the slice alone by {diff}");
        let f = model.vision.resampler().forward(&alone.hidden, &alone.tgt_sizes).expect("resampler");
        let diff = max_abs_diff(&values(&f), &values(&batch_features.get(i).expect("row")));
        assert!(diff < 1e-5, "slice {i}: features of the batch differ from the slice alone by {diff}");
    }
}

#[test]
fn from_png_to_features_matches_the_reference() {
    let model = model();
    let r = Reference::open();
    let names = ["chart_1280x720.png", "chart_300x200.png"];
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("reference.json")).expect("json")).expect("json");
    for (img, name) in names.iter().enumerate() {
        let rgb = preprocess::load_rgb(&fixture().join(name)).expect("png");
        let input = model.vision.preprocess(&rgb, img).expect("preprocess");
        assert_eq!(input.tgt_sizes, r.tgt_sizes(img), "{name}");
        assert_eq!(input.placeholder, reference["images"][name]["placeholder"].as_str().expect("text"), "{name}");
        let features = model.vision.features(&input).expect("features");
        let (_, want) = r.f32(&format!("img{img}.features"));
        let diff = max_abs_diff(&values(&features.features), &want);
        eprintln!("{name}: features from the PNG differ by {diff:e}");
        // The slices are Pillow's to the byte, so the PNG path is held to the same bound as the reference slices.
        assert!(diff < 1e-4, "{name}: features from the PNG differ by {diff}");
    }
}

#[test]
fn multimodal_prompt_ids_and_logits_match_the_reference() {
    let model = model();
    let r = Reference::open();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("reference.json")).expect("json")).expect("json");
    let placeholder = reference["images"]["chart_1280x720.png"]["placeholder"].as_str().expect("text").to_owned();
    let ids = model.prompt_ids(&[placeholder], "describe the chart pattern as json").expect("prompt");
    let want_ids: Vec<u32> = r.i64("prompt.input_ids").into_iter().map(|v| v as u32).collect();
    assert_eq!(ids, want_ids, "prompt ids");
    // The bounds the reference reports.
    let tok = model.tokenizer.inner();
    let id = |t: &str| tok.token_to_id(t).expect("token");
    let bounds =
        image_bounds(&ids, &[id("<image>"), id("<slice>")], &[id("</image>"), id("</slice>")]).expect("bounds");
    let want_bounds: Vec<(usize, usize)> = reference["prompt"]["image_bounds"]
        .as_array()
        .expect("array")
        .iter()
        .map(|b| (b[0].as_u64().expect("n") as usize, b[1].as_u64().expect("n") as usize))
        .collect();
    assert_eq!(bounds, want_bounds);
    // Features computed here from the reference slices, then the LLM.
    let cfg = model.vision.config().clone();
    let tgt = r.tgt_sizes(0);
    let encoded = model.vision.encoder().forward(&r.pixel_values(0, &cfg), &tgt).expect("encoder");
    let features = model.vision.resampler().forward(&encoded.hidden, &encoded.tgt_sizes).expect("resampler");
    let logits = model.logits(&ids, Some(&features)).expect("logits");
    let (shape, want) = r.f32("prompt.logits");
    assert_eq!(logits.dims(), shape.as_slice());
    let diff = max_abs_diff(&values(&logits), &want);
    eprintln!("multimodal logits differ by {diff:e}");
    assert!(diff < 1e-4, "multimodal logits differ by {diff}");
    // Without the features the placeholders would be plain <unk> rows: the check is not vacuous.
    let wrong = model.logits(&ids, Some(&(features * 0.5).expect("scaled"))).expect("logits");
    assert!(max_abs_diff(&values(&wrong), &want) > 1e-2);
    // Mismatched counts are errors, not panics.
    let err = model.logits(&ids, None).expect_err("placeholders without features");
    assert!(err.to_string().contains("7 image placeholders"), "{err}");
}

/// A copy of the fixture in a temporary folder, for damaging.
fn copy_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in
        ["config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"]
    {
        std::fs::copy(fixture().join(name), dir.path().join(name)).expect("copy");
    }
    dir
}

/// Rewrites model.safetensors without `drop` and with `reshape` changed.
fn rewrite_checkpoint(dir: &Path, drop: &str, reshape: Option<(&str, Vec<usize>)>) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).expect("read");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("parses");
    let mut kept: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
    for (name, view) in st.tensors() {
        if name == drop {
            continue;
        }
        let view = match &reshape {
            Some((n, shape)) if *n == name => {
                let count: usize = shape.iter().product();
                safetensors::tensor::TensorView::new(view.dtype(), shape.clone(), &view.data()[..count * 4])
                    .expect("view")
            }
            _ => view,
        };
        kept.push((name, view));
    }
    let out = safetensors::serialize(kept, None).expect("serialize");
    std::fs::write(&path, out).expect("write");
}

#[test]
fn damaged_checkpoints_give_clear_errors() {
    let err = |dir: &Path| MiniCpmV::load(dir).err().map(|e| e.to_string()).expect("load fails");

    let d = copy_fixture();
    rewrite_checkpoint(d.path(), "vpm.encoder.layers.1.mlp.fc2.weight", None);
    let e = err(d.path());
    assert!(e.contains("vpm.encoder.layers.1.mlp.fc2.weight") && e.contains("missing"), "{e}");

    let d = copy_fixture();
    rewrite_checkpoint(d.path(), "", Some(("resampler.query", vec![32, 256])));
    let e = err(d.path());
    assert!(e.contains("resampler.query") && e.contains("[32, 256]"), "{e}");

    let d = copy_fixture();
    rewrite_checkpoint(d.path(), "llm.model.norm.weight", None);
    assert!(err(d.path()).contains("llm.model.norm.weight"));

    let d = copy_fixture();
    let bytes = std::fs::read(d.path().join("model.safetensors")).expect("read");
    std::fs::write(d.path().join("model.safetensors"), &bytes[..bytes.len() / 2]).expect("truncate");
    let e = err(d.path());
    assert!(e.contains("truncated") && e.contains("model.safetensors"), "{e}");

    let d = copy_fixture();
    let cfg = std::fs::read_to_string(d.path().join("config.json")).expect("read");
    std::fs::write(d.path().join("config.json"), cfg.replace("\"version\": 4.0", "\"version\": 2.6")).expect("write");
    let e = err(d.path());
    assert!(e.contains("version") && e.contains("config.json"), "{e}");

    let d = copy_fixture();
    let cfg = std::fs::read_to_string(d.path().join("config.json")).expect("read");
    std::fs::write(d.path().join("config.json"), cfg.replace("gelu_pytorch_tanh", "relu")).expect("write");
    let e = err(d.path());
    assert!(e.contains("vision_config.hidden_act"), "{e}");

    let d = copy_fixture();
    let pre = std::fs::read_to_string(d.path().join("preprocessor_config.json")).expect("read");
    std::fs::write(d.path().join("preprocessor_config.json"), pre.replace("\"<slice>\"", "\"<piece>\"")).expect("w");
    let e = err(d.path());
    assert!(e.contains("<piece>") && e.contains("tokenizer.json"), "{e}");
}

/// Writes the fixture's weights as two shards with an index, in `dtype` (BF16 or F16) or f32.
fn write_sharded(dir: &Path, dtype: safetensors::Dtype) {
    let bytes = std::fs::read(fixture().join("model.safetensors")).expect("read");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("parses");
    let mut names: Vec<String> = st.names().into_iter().map(str::to_owned).collect();
    names.sort();
    let converted: Vec<(String, Vec<usize>, Vec<u8>)> = names
        .iter()
        .map(|name| {
            let t = st.tensor(name).expect("tensor");
            let values = t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4")));
            let data: Vec<u8> = match dtype {
                safetensors::Dtype::BF16 => values.flat_map(|v| half::bf16::from_f32(v).to_le_bytes()).collect(),
                safetensors::Dtype::F16 => values.flat_map(|v| half::f16::from_f32(v).to_le_bytes()).collect(),
                _ => t.data().to_vec(),
            };
            (name.clone(), t.shape().to_vec(), data)
        })
        .collect();
    // vpm + resampler in the first shard, the LLM in the second.
    let mut map = serde_json::Map::new();
    for (k, part) in [(1, false), (2, true)] {
        let file = format!("model-0000{k}-of-00002.safetensors");
        let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = converted
            .iter()
            .filter(|(n, _, _)| n.starts_with("llm.") == part)
            .map(|(n, shape, data)| {
                map.insert(n.clone(), serde_json::Value::String(file.clone()));
                (n.as_str(), safetensors::tensor::TensorView::new(dtype, shape.clone(), data).expect("view"))
            })
            .collect();
        std::fs::write(dir.join(&file), safetensors::serialize(views, None).expect("serialize")).expect("write");
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).expect("index");
    std::fs::remove_file(dir.join("model.safetensors")).expect("rm single file");
}

#[test]
fn sharded_and_half_precision_checkpoints_load_and_agree() {
    let r = Reference::open();
    let (_, want) = r.f32("img1.features");
    for (dtype, tolerance) in
        [(safetensors::Dtype::F32, 1e-4), (safetensors::Dtype::F16, 1e-2), (safetensors::Dtype::BF16, 5e-2)]
    {
        let d = copy_fixture();
        write_sharded(d.path(), dtype);
        let model = MiniCpmV::load(d.path()).unwrap_or_else(|e| panic!("{dtype:?} shards load: {e}"));
        let cfg = model.vision.config().clone();
        let encoded = model.vision.encoder().forward(&r.pixel_values(1, &cfg), &r.tgt_sizes(1)).expect("encoder");
        let features = model.vision.resampler().forward(&encoded.hidden, &encoded.tgt_sizes).expect("resampler");
        let diff = max_abs_diff(&values(&features), &want);
        eprintln!("{dtype:?} shards: features differ by {diff:e}");
        assert!(diff < tolerance, "{dtype:?}: features differ by {diff}");
    }
}

#[test]
fn image_bounds_reject_unbalanced_markers() {
    assert_eq!(image_bounds(&[5, 1, 9, 9, 2, 7], &[1], &[2]).expect("balanced"), vec![(2, 4)]);
    assert!(image_bounds(&[1, 9, 1, 2], &[1], &[2]).is_err());
    assert!(image_bounds(&[9, 2], &[1], &[2]).is_err());
    assert!(image_bounds(&[1, 9], &[1], &[2]).is_err());
}
