//! The tiny MiniCPM4 int4 fixtures: GPTQ, Marlin and fused Marlin dequantise identically.

use aio::ai::quant::Int4Linear;
use half::f16;
use safetensors::SafeTensors;

const LAYERS: usize = 2;
const PROJ: [&str; 7] = [
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/minicpm4/{name}/model.safetensors", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn i32s(st: &SafeTensors, name: &str) -> (Vec<i32>, Vec<usize>) {
    let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let v = t.data().chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    (v, t.shape().to_vec())
}

fn f16s(st: &SafeTensors, name: &str) -> (Vec<f16>, Vec<usize>) {
    let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let v = t.data().chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]])).collect();
    (v, t.shape().to_vec())
}

fn load_gptq(st: &SafeTensors, prefix: &str) -> Int4Linear {
    let (qweight, qs) = i32s(st, &format!("{prefix}.qweight"));
    let (qzeros, _) = i32s(st, &format!("{prefix}.qzeros"));
    let (scales, _) = f16s(st, &format!("{prefix}.scales"));
    let (g_idx, _) = i32s(st, &format!("{prefix}.g_idx"));
    Int4Linear::from_gptq(prefix, &qweight, &qzeros, &scales, Some(&g_idx), qs[0] * 8, qs[1])
        .unwrap_or_else(|e| panic!("{e}"))
}

fn load_marlin(st: &SafeTensors, prefix: &str, b: &str, s: &str) -> Int4Linear {
    let (bw, bs) = i32s(st, &format!("{prefix}.{b}"));
    let (sv, _) = f16s(st, &format!("{prefix}.{s}"));
    Int4Linear::from_marlin(prefix, &bw, &sv, bs[0] * 16, bs[1] / 2).unwrap_or_else(|e| panic!("{e}"))
}

/// Bitwise equality of two weight matrices, with the first mismatch in the message.
fn assert_same(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    if let Some(i) = a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits()) {
        panic!("{what}: element {i}: {} vs {}", a[i], b[i]);
    }
}

#[test]
fn gptq_marlin_and_fused_marlin_dequantize_identically() {
    let (g, m, f) = (fixture("tiny-gptq"), fixture("tiny-marlin"), fixture("tiny-marlin-fused"));
    let g = SafeTensors::deserialize(&g).unwrap();
    let m = SafeTensors::deserialize(&m).unwrap();
    let f = SafeTensors::deserialize(&f).unwrap();
    for layer in 0..LAYERS {
        let mut gptq = Vec::new();
        let mut marlin = Vec::new();
        for proj in PROJ {
            let prefix = format!("model.layers.{layer}.{proj}");
            let lg = load_gptq(&g, &prefix);
            let lm = load_marlin(&m, &prefix, "B", "s");
            assert_eq!((lg.n(), lg.k()), (lm.n(), lm.k()), "{prefix}");
            assert_eq!(lg.group_size(), 128);
            assert!(!lg.has_act_order() && !lg.has_zeros(), "{prefix}: symmetric, no act-order");
            assert_same(&lg.dequantize(), &lm.dequantize(), &format!("{prefix} gptq vs marlin"));
            gptq.push(lg);
            marlin.push(lm);
        }
        let p = |name: &str| format!("model.layers.{layer}.{name}");
        let qkv = load_marlin(&f, &p("self_attn.qkv_proj"), "qweight", "scales");
        let gate_up = load_marlin(&f, &p("mlp.gate_up_proj"), "qweight", "scales");
        let o = load_marlin(&f, &p("self_attn.o_proj"), "qweight", "scales");
        let down = load_marlin(&f, &p("mlp.down_proj"), "qweight", "scales");
        assert_eq!((qkv.n(), qkv.k()), (512, 256));
        assert_eq!((gate_up.n(), gate_up.k()), (1536, 256));
        // Split the fused ones back and compare each projection.
        let parts = qkv.split_n(&[256, 128, 128]).unwrap();
        for (i, part) in parts.iter().enumerate() {
            assert_same(&part.dequantize(), &gptq[i].dequantize(), &format!("layer {layer} qkv part {i}"));
        }
        let parts = gate_up.split_n(&[768, 768]).unwrap();
        for (i, part) in parts.iter().enumerate() {
            assert_same(&part.dequantize(), &gptq[4 + i].dequantize(), &format!("layer {layer} gate_up part {i}"));
        }
        assert_same(&o.dequantize(), &gptq[3].dequantize(), "fused o_proj");
        assert_same(&down.dequantize(), &gptq[6].dequantize(), "fused down_proj");
        // The fused tensors equal fusing the separate ones, from either format.
        let fused = Int4Linear::concat_n(gptq[..3].to_vec()).unwrap();
        assert_same(&fused.dequantize(), &qkv.dequantize(), "concat_n(gptq q,k,v) vs fused qkv");
        let fused = Int4Linear::concat_n(marlin[4..6].to_vec()).unwrap();
        assert_same(&fused.dequantize(), &gate_up.dequantize(), "concat_n(marlin gate,up) vs fused");
    }
}

#[test]
fn fixture_weights_are_f16_rounded_multiples_of_the_scales() {
    let g = fixture("tiny-gptq");
    let g = SafeTensors::deserialize(&g).unwrap();
    for layer in 0..LAYERS {
        for proj in PROJ {
            let prefix = format!("model.layers.{layer}.{proj}");
            let lin = load_gptq(&g, &prefix);
            // Decode the AutoGPTQ tensors directly, independently of the library's packing.
            let (qweight, qs) = i32s(&g, &format!("{prefix}.qweight"));
            let (qzeros, _) = i32s(&g, &format!("{prefix}.qzeros"));
            let (scales, _) = f16s(&g, &format!("{prefix}.scales"));
            let (k, n) = (qs[0] * 8, qs[1]);
            assert!(qzeros.iter().all(|&w| w as u32 == 0x7777_7777), "{prefix}: zero - 1 = 7");
            let w = lin.dequantize();
            let mut histogram = [0usize; 16];
            for col in 0..n {
                for kk in 0..k {
                    let q = (qweight[(kk / 8) * n + col] as u32 >> (4 * (kk % 8))) & 15;
                    histogram[q as usize] += 1;
                    let s = scales[(kk / 128) * n + col];
                    let expected = f16::from_f32((q as f32 - 8.0) * s.to_f32());
                    let got = w[col * k + kk];
                    assert_eq!(got, expected.to_f32(), "{prefix} [{col}, {kk}] q = {q}, s = {s}");
                    assert_eq!(f16::from_f32(got).to_f32(), got, "{prefix}: representable in f16");
                }
            }
            // Symmetric quantisation: q = 0 (−8) may never occur, every other value does.
            assert!(histogram[1..].iter().all(|&c| c > 0), "{prefix}: {histogram:?}");
        }
    }
}
