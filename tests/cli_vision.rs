//! `aio vision`, `aio model vision-features` and `aio model logits --image` run as a user runs them, on the tiny
//! MiniCPM-V checkpoint in `tests/fixtures/minicpmv`; the engine's multimodal generation is checked here too.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use aio::{
    ai::{
        engine::{Engine, LoadedModel},
        generate::{FinishReason, GenerateRequest, Prompt},
        vision::ImageData,
    },
    patterns::chart::{ChartReading, chart_reading_schema},
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpmv")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn aio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aio")).args(args).env("HF_HUB_OFFLINE", "1").output().expect("aio runs")
}

/// f32 (or i32/i64 as integers) values of a tensor in a safetensors file.
fn tensor(file: &Path, name: &str) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(file).expect("file");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("parses");
    let t = st.tensor(name).unwrap_or_else(|_| panic!("{name} in {}", file.display()));
    let values = match t.dtype() {
        safetensors::Dtype::F32 => {
            t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4")) as f64).collect()
        }
        safetensors::Dtype::I32 => {
            t.data().chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().expect("4")) as f64).collect()
        }
        safetensors::Dtype::I64 => {
            t.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8")) as f64).collect()
        }
        other => panic!("{name}: unexpected dtype {other:?}"),
    };
    (t.shape().to_vec(), values)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn vision_features_command_writes_the_reference_features() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("features.safetensors");
    let image = fixture().join("chart_1280x720.png");
    let run =
        aio(&["model", "vision-features", "--model", path(&fixture()), "--image", path(&image), "--out", path(&out)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let reference = fixture().join("reference.safetensors");
    let (shape, tgt) = tensor(&out, "tgt_sizes");
    assert_eq!(shape, vec![7, 2]);
    assert_eq!(tgt, tensor(&reference, "img0.tgt_sizes").1);
    let (shape, features) = tensor(&out, "features");
    assert_eq!(shape, vec![7, 64, 256]);
    let diff = max_abs_diff(&features, &tensor(&reference, "img0.features").1);
    assert!(diff < 1e-4, "features differ by {diff}");
}

#[test]
fn model_logits_with_an_image_and_a_prompt_match_the_reference() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("logits.safetensors");
    let image = fixture().join("chart_1280x720.png");
    let run = aio(&[
        "model",
        "logits",
        "--model",
        path(&fixture()),
        "--image",
        path(&image),
        "--prompt",
        "describe the chart pattern as json",
        "--out",
        path(&out),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let reference = fixture().join("reference.safetensors");
    assert_eq!(tensor(&out, "input_ids").1, tensor(&reference, "prompt.input_ids").1);
    let (shape, logits) = tensor(&out, "logits");
    assert_eq!(shape, vec![502, 320]);
    let diff = max_abs_diff(&logits, &tensor(&reference, "prompt.logits").1);
    assert!(diff < 1e-4, "logits differ by {diff}");

    // The same through --ids holding the placeholder.
    let ids: Vec<String> = tensor(&reference, "prompt.input_ids").1.iter().map(|v| (*v as i64).to_string()).collect();
    let out2 = dir.path().join("logits2.safetensors");
    let ids = ids.join(",");
    let run = aio(&[
        "model",
        "logits",
        "--model",
        path(&fixture()),
        "--image",
        path(&image),
        "--ids",
        &ids,
        "--out",
        path(&out2),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(max_abs_diff(&tensor(&out2, "logits").1, &logits) < 1e-6);

    // Ids with the placeholder but no image: a clear error.
    let run = aio(&["model", "logits", "--model", path(&fixture()), "--ids", &ids, "--out", path(&out2)]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("7 image placeholders") && err.contains("0 slices"), "{err}");
}

#[test]
fn vision_command_answers_with_valid_findings_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("findings.json");
    let image = fixture().join("chart_300x200.png");
    let run = aio(&["vision", "--model", path(&fixture()), "--image", path(&image), "--out", path(&out)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let printed: ChartReading = serde_json::from_slice(&run.stdout).expect("stdout is the findings JSON");
    printed.validate().expect("valid findings");
    let written: ChartReading =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("--out written")).expect("json");
    assert_eq!(printed, written);

    // A text model is refused with a reason; a missing image names its path.
    let text_model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpm4/tiny-f32");
    let run = aio(&["vision", "--model", path(&text_model), "--image", path(&image)]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("text model"));
    let run = aio(&["vision", "--model", path(&fixture()), "--image", "/nonexistent/chart.png"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("/nonexistent/chart.png"));
}

#[test]
fn engine_generates_constrained_findings_from_an_image_with_several_seeds() {
    let engine = Engine::start(&fixture()).expect("engine starts");
    assert!(engine.info().vision);
    let image = ImageData::open(&fixture().join("chart_300x200.png")).expect("png");
    for seed in 0..4 {
        let mut request = GenerateRequest::chat("read the chart", 1500);
        request.sampling.temperature = 1.0;
        request.sampling.seed = seed;
        request.json_schema = Some(chart_reading_schema());
        request.images = vec![image.clone()];
        let generation = engine.generate(request, None).expect("queued").wait().expect("generates");
        assert_eq!(generation.finish, FinishReason::Complete, "seed {seed}: {}", generation.text);
        let reading: ChartReading = serde_json::from_str(&generation.text).expect("findings JSON");
        reading.validate().expect("valid");
        // 502-token-class prompt: 64 features + the text.
        assert!(generation.stats.prompt_tokens > 64, "{}", generation.stats.prompt_tokens);
    }
}

#[test]
fn prompt_input_places_features_and_refuses_images_on_text_models() {
    let loaded = LoadedModel::load(&fixture()).expect("loads");
    let image = ImageData::open(&fixture().join("chart_1280x720.png")).expect("png");
    let mut request = GenerateRequest::chat("describe the chart pattern as json", 1);
    request.images = vec![image.clone()];
    let input = loaded.prompt_input(&request).expect("multimodal prompt");
    assert_eq!(input.ids.len(), 502);
    let embeddings = input.embeddings.expect("embeddings");
    assert_eq!(embeddings.dims(), &[502, 256]);
    // A marker in the text puts the image there instead of first.
    let mut marked = GenerateRequest::chat("before (<image>./</image>) after", 1);
    marked.images = vec![image.clone()];
    let ids = loaded.prompt_ids(&marked).expect("ids");
    let text = loaded.tokenizer.decode(&ids, false).expect("decodes");
    assert!(text.contains("before <image_id>0</image_id><image>") || text.contains("before<image_id>0"), "{text}");
    assert!(text.contains("</slice> after"), "{text}");
    // Two markers but one image.
    let mut wrong = GenerateRequest::chat("(<image>./</image>) and (<image>./</image>)", 1);
    wrong.images = vec![image.clone()];
    assert!(loaded.prompt_ids(&wrong).expect_err("marker count").to_string().contains("2 image markers"));
    // Ids prompts pass through.
    let ids_request = GenerateRequest { prompt: Prompt::Ids(vec![1, 5, 6]), ..GenerateRequest::chat("", 1) };
    assert_eq!(loaded.prompt_ids(&ids_request).expect("ids"), vec![1, 5, 6]);

    let text = LoadedModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minicpm4/tiny-f32"))
        .expect("text model");
    let e = text.prompt_input(&request).err().expect("a text model has no vision tower").to_string();
    assert!(e.contains("text model"), "{e}");
}
