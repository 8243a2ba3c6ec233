//! Int4Linear: hand-built GPTQ / Marlin packings, matmul against the dequantised reference on
//! every kernel, and shape errors.

use aio::ai::quant::{Int4Linear, Kernel, QuantError};
use half::f16;

/// Known 4-bit values `[k][n]` and scales `[k / gs][n]`.
struct Known {
    k: usize,
    n: usize,
    gs: usize,
    q: Vec<u8>,
    s: Vec<f16>,
}

impl Known {
    fn new(k: usize, n: usize, gs: usize, seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let q = (0..k * n).map(|_| rng.u8(0..16)).collect();
        // Scales with full 11-bit mantissas so that (q - 8) · s often needs rounding.
        let s = (0..k / gs * n).map(|_| f16::from_f32(0.001 + 0.05 * rng.f32())).collect();
        Known { k, n, gs, q, s }
    }

    /// Expected `[n][k]` weights, with the group of `kk` given by `group(kk)` and zero `z(g, n)`.
    fn weights(&self, group: impl Fn(usize) -> usize, z: impl Fn(usize, usize) -> u8) -> Vec<f32> {
        let mut w = vec![0f32; self.n * self.k];
        for col in 0..self.n {
            for kk in 0..self.k {
                let g = group(kk);
                let q = f32::from(self.q[kk * self.n + col]);
                let s = self.s[g * self.n + col].to_f32();
                let zero = f32::from(z(g, col));
                w[col * self.k + kk] = f16::from_f64(f64::from((q - zero) * s)).to_f32();
            }
        }
        w
    }

    /// AutoGPTQ v1 `qweight [K/8, N]`.
    fn gptq_qweight(&self) -> Vec<i32> {
        let mut out = vec![0i32; self.k / 8 * self.n];
        for r in 0..self.k / 8 {
            for col in 0..self.n {
                let mut word = 0u32;
                for i in 0..8 {
                    word |= u32::from(self.q[(8 * r + i) * self.n + col]) << (4 * i);
                }
                out[r * self.n + col] = word as i32;
            }
        }
        out
    }

    /// AutoGPTQ v1 `qzeros [G, N/8]` storing `zero - 1`.
    fn gptq_qzeros(&self, z: impl Fn(usize, usize) -> u8) -> Vec<i32> {
        let groups = self.k / self.gs;
        let words = self.n.div_ceil(8);
        let mut out = vec![0i32; groups * words];
        for g in 0..groups {
            for col in 0..self.n {
                let stored = u32::from(z(g, col) - 1) & 15;
                out[g * words + col / 8] |= (stored << (4 * (col % 8))) as i32;
            }
        }
        out
    }

    /// Marlin `B [K/16, 2N]` and `s [G, N]`, following `Layer.pack` step by step.
    fn marlin(&self) -> (Vec<i32>, Vec<f16>) {
        let (k, n) = (self.k, self.n);
        // _get_perms
        let mut perm = Vec::new();
        for i in 0..32usize {
            let mut perm1 = Vec::new();
            let col = i / 4;
            for block in [0, 1] {
                for row in [2 * (i % 4), 2 * (i % 4) + 1, 2 * (i % 4 + 4), 2 * (i % 4 + 4) + 1] {
                    perm1.push(16 * row + col + 8 * block);
                }
            }
            for j in 0..4 {
                perm.extend(perm1.iter().map(|p| p + 256 * j));
            }
        }
        let interleave = [0, 2, 4, 6, 1, 3, 5, 7];
        let perm: Vec<usize> = perm.chunks(8).flat_map(|c| interleave.iter().map(move |&i| c[i])).collect();
        let scale_perm: Vec<usize> = (0..8).flat_map(|i| (0..8).map(move |j| i + 8 * j)).collect();
        let scale_perm_single: Vec<usize> =
            (0..4).flat_map(|i| [0, 1, 8, 9, 16, 17, 24, 25].map(|j| 2 * i + j)).collect();
        // w [K, N] -> [K/16, N/16, 16, 16] -> [K/16, N*16]
        let mut res = vec![0u32; k * n];
        for kt in 0..k / 16 {
            for nt in 0..n / 16 {
                for kk in 0..16 {
                    for nn in 0..16 {
                        res[kt * n * 16 + nt * 256 + kk * 16 + nn] =
                            u32::from(self.q[(kt * 16 + kk) * n + nt * 16 + nn]);
                    }
                }
            }
        }
        let permuted: Vec<u32> = res.chunks(1024).flat_map(|c| perm.iter().map(move |&p| c[p])).collect();
        let b: Vec<i32> = permuted
            .chunks(8)
            .map(|c| c.iter().enumerate().fold(0u32, |w, (i, &v)| w | (v << (4 * i))) as i32)
            .collect();
        let sp = if self.gs == k { &scale_perm_single } else { &scale_perm };
        let s: Vec<f16> = self.s.chunks(sp.len()).flat_map(|c| sp.iter().map(move |&p| c[p])).collect();
        (b, s)
    }
}

fn assert_same(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    if let Some(i) = a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits()) {
        panic!("{what}: element {i}: {} vs {}", a[i], b[i]);
    }
}

#[test]
fn hand_built_gptq_round_trips() {
    for (k, n, gs) in [(256, 40, 128), (64, 8, 32), (96, 24, 96), (512, 64, 64)] {
        let known = Known::new(k, n, gs, 7 + k as u64);
        let qzeros = known.gptq_qzeros(|_, _| 8);
        let g_idx: Vec<i32> = (0..k).map(|i| (i / gs) as i32).collect();
        for g_idx in [None, Some(g_idx.as_slice())] {
            let lin = Int4Linear::from_gptq("t", &known.gptq_qweight(), &qzeros, &known.s, g_idx, k, n).unwrap();
            assert_eq!((lin.n(), lin.k(), lin.group_size()), (n, k, gs));
            assert!(!lin.has_act_order());
            assert_same(&lin.dequantize(), &known.weights(|kk| kk / gs, |_, _| 8), "gptq");
            let unpacked = lin.unpack_q();
            for col in 0..n {
                for kk in 0..k {
                    assert_eq!(unpacked[col * k + kk], known.q[kk * n + col]);
                }
            }
        }
    }
}

#[test]
fn hand_built_gptq_act_order_round_trips() {
    let (k, n, gs) = (256, 24, 64);
    let known = Known::new(k, n, gs, 11);
    // desc_act: a random K order is quantised group by group.
    let mut order: Vec<usize> = (0..k).collect();
    fastrand::Rng::with_seed(3).shuffle(&mut order);
    let mut g_idx = vec![0i32; k];
    for (i, &kk) in order.iter().enumerate() {
        g_idx[kk] = (i / gs) as i32;
    }
    let qzeros = known.gptq_qzeros(|_, _| 8);
    let lin = Int4Linear::from_gptq("t", &known.gptq_qweight(), &qzeros, &known.s, Some(&g_idx), k, n).unwrap();
    assert!(lin.has_act_order());
    let expected = known.weights(|kk| g_idx[kk] as usize, |_, _| 8);
    assert_same(&lin.dequantize(), &expected, "act-order gptq");
    for kernel in Kernel::available() {
        check_matmul(&lin, kernel, &[1, 2, 3, 17, 64], 5);
    }
}

#[test]
fn hand_built_gptq_asymmetric_zeros_round_trip() {
    let (k, n, gs) = (128, 16, 32);
    let known = Known::new(k, n, gs, 12);
    let zero = |g: usize, col: usize| ((g * 7 + col * 3) % 16 + 1) as u8;
    let qzeros = known.gptq_qzeros(zero);
    let lin = Int4Linear::from_gptq("t", &known.gptq_qweight(), &qzeros, &known.s, None, k, n).unwrap();
    assert!(lin.has_zeros());
    assert_same(&lin.dequantize(), &known.weights(|kk| kk / gs, zero), "asymmetric gptq");
    for kernel in Kernel::available() {
        check_matmul(&lin, kernel, &[1, 2, 5, 17], 6);
    }
}

#[test]
fn hand_built_marlin_round_trips() {
    // (K, N, group): several groups (8×8 scale transpose) and a single group (K = 128).
    for (k, n, gs) in [(256, 128, 128), (128, 64, 128), (384, 192, 128), (512, 64, 512)] {
        let known = Known::new(k, n, gs, 21 + n as u64);
        let (b, s) = known.marlin();
        assert_eq!(b.len(), k / 16 * 2 * n);
        let lin = Int4Linear::from_marlin("t", &b, &s, k, n).unwrap();
        assert_eq!(lin.group_size(), gs);
        assert_same(&lin.dequantize(), &known.weights(|kk| kk / gs, |_, _| 8), &format!("marlin {k}x{n}"));
        // The same values through GPTQ give the same layer.
        let qzeros = known.gptq_qzeros(|_, _| 8);
        let gptq = Int4Linear::from_gptq("t", &known.gptq_qweight(), &qzeros, &known.s, None, k, n).unwrap();
        assert_eq!(lin, gptq, "marlin and gptq packings of the same values");
    }
}

#[test]
fn concat_and_split_along_n() {
    let a = Int4Linear::random(13, 64, 32, 1);
    let b = Int4Linear::random(8, 64, 32, 2);
    let c = Int4Linear::random(21, 64, 32, 3);
    let fused = Int4Linear::concat_n(vec![a.clone(), b.clone(), c.clone()]).unwrap();
    assert_eq!((fused.n(), fused.k()), (42, 64));
    let expected: Vec<f32> = [&a, &b, &c].iter().flat_map(|l| l.dequantize()).collect();
    assert_same(&fused.dequantize(), &expected, "concat_n");
    let parts = fused.split_n(&[13, 8, 21]).unwrap();
    assert_eq!(parts, vec![a, b, c]);
}

/// Relative check of `matmul_with` against `x · dequantize()ᵀ` computed in f64.
fn check_matmul(lin: &Int4Linear, kernel: Kernel, ms: &[usize], seed: u64) {
    let (n, k) = (lin.n(), lin.k());
    let w = lin.dequantize();
    let mut rng = fastrand::Rng::with_seed(seed);
    for &m in ms {
        let x: Vec<f32> = (0..m * k).map(|_| rng.f32() * 2.0 - 1.0).collect();
        let mut y = vec![f32::NAN; m * n];
        lin.matmul_with(kernel, &x, m, &mut y).unwrap();
        for r in 0..m {
            let xr = &x[r * k..(r + 1) * k];
            for col in 0..n {
                let wr = &w[col * k..(col + 1) * k];
                let exact: f64 = xr.iter().zip(wr).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
                let scale: f64 = xr.iter().zip(wr).map(|(&a, &b)| f64::from(a * b).abs()).sum();
                let got = f64::from(y[r * n + col]);
                assert!(
                    (got - exact).abs() <= 1e-5 * scale + 1e-30,
                    "{kernel:?} n={n} k={k} m={m} [{r}, {col}]: {got} vs {exact} (scale {scale})"
                );
            }
        }
    }
}

#[test]
fn matmul_matches_dequantized_reference_on_every_kernel() {
    let kernels = Kernel::available();
    assert!(kernels.contains(&Kernel::Scalar));
    // (n, k, group): odd N, several groups per K block, partial last K block (640 = 2·256 + 128).
    let shapes = [(8, 32, 32), (5, 64, 32), (61, 96, 32), (130, 256, 128), (389, 640, 128), (200, 384, 64)];
    for (i, &(n, k, gs)) in shapes.iter().enumerate() {
        let lin = Int4Linear::random(n, k, gs, 100 + i as u64);
        for &kernel in &kernels {
            check_matmul(&lin, kernel, &[1, 2, 3, 4, 5, 17, 64], i as u64);
        }
    }
}

#[test]
fn matmul_large_blocks_single_thread() {
    // One thread: few tasks, so panels are decoded in several NC batches and x is packed in
    // several MC blocks.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        let lin = Int4Linear::random(3360, 64, 32, 9);
        for kernel in Kernel::available() {
            check_matmul(&lin, kernel, &[1, 9], 1);
        }
        let lin = Int4Linear::random(20, 64, 64, 10);
        for kernel in Kernel::available() {
            check_matmul(&lin, kernel, &[1100], 2);
        }
    });
}

#[test]
fn kernels_agree_on_fixture_shapes() {
    // The tiny model's shapes, including the fused ones.
    for (n, k) in [(512, 256), (256, 256), (1536, 256), (256, 768)] {
        let lin = Int4Linear::random(n, k, 128, (n + k) as u64);
        for kernel in Kernel::available() {
            check_matmul(&lin, kernel, &[1, 28], 3);
        }
    }
}

#[test]
fn matmul_shape_errors_name_the_tensor() {
    let lin = Int4Linear::random(16, 64, 32, 0);
    let mut y = vec![0f32; 32];
    match lin.try_matmul(&[0.0; 100], 2, &mut y) {
        Err(QuantError::Shape { tensor, .. }) => assert_eq!(tensor, "x"),
        other => panic!("{other:?}"),
    }
    match lin.try_matmul(&[0.0; 128], 2, &mut y[..31]) {
        Err(QuantError::Shape { tensor, .. }) => assert_eq!(tensor, "y"),
        other => panic!("{other:?}"),
    }
    assert!(lin.try_matmul(&[], 0, &mut []).is_ok());
}

fn tensor_of(e: QuantError) -> String {
    match e {
        QuantError::Shape { tensor, .. }
        | QuantError::Value { tensor, .. }
        | QuantError::Unsupported { tensor, .. } => tensor,
        QuantError::KernelUnavailable(k) => panic!("unexpected {k:?}"),
    }
}

#[test]
fn bad_gptq_tensors_give_errors_naming_them() {
    let known = Known::new(256, 16, 128, 5);
    let (qw, qz, s) = (known.gptq_qweight(), known.gptq_qzeros(|_, _| 8), known.s.clone());
    let gptq = |qw: &[i32], qz: &[i32], s: &[f16], g: Option<&[i32]>, k, n| {
        Int4Linear::from_gptq("L", qw, qz, s, g, k, n).map(|_| ()).map_err(tensor_of)
    };
    assert_eq!(gptq(&qw[1..], &qz, &s, None, 256, 16), Err("L.qweight".into()));
    assert_eq!(gptq(&qw, &qz[1..], &s, None, 256, 16), Err("L.qzeros".into()));
    assert_eq!(gptq(&qw, &qz, &s[1..], None, 256, 16), Err("L.scales".into()));
    assert_eq!(gptq(&qw, &qz, &s[..16], None, 256, 16), Err("L.qzeros".into()));
    assert_eq!(gptq(&qw, &qz, &s, None, 255, 16), Err("L.qweight".into()));
    assert_eq!(gptq(&qw, &qz, &s, Some(&[0; 10]), 256, 16), Err("L.g_idx".into()));
    let mut g_idx: Vec<i32> = (0..256).map(|i| i / 128).collect();
    g_idx[5] = 2;
    assert_eq!(gptq(&qw, &qz, &s, Some(&g_idx), 256, 16), Err("L.g_idx".into()));
    g_idx[5] = -1;
    assert_eq!(gptq(&qw, &qz, &s, Some(&g_idx), 256, 16), Err("L.g_idx".into()));
    // Unequal group sizes: valid GPTQ, but not this layout.
    g_idx[5] = 1;
    match Int4Linear::from_gptq("L", &qw, &qz, &s, Some(&g_idx), 256, 16) {
        Err(QuantError::Unsupported { tensor, .. }) => assert_eq!(tensor, "L.g_idx"),
        other => panic!("{other:?}"),
    }
    // K = 40 is valid AutoGPTQ but not a multiple of 32.
    let small = Known::new(40, 8, 40, 1);
    match Int4Linear::from_gptq("L", &small.gptq_qweight(), &small.gptq_qzeros(|_, _| 8), &small.s, None, 40, 8) {
        Err(QuantError::Unsupported { tensor, .. }) => assert_eq!(tensor, "L.qweight"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_marlin_tensors_give_errors_naming_them() {
    let known = Known::new(256, 128, 128, 6);
    let (b, s) = known.marlin();
    let marlin = |b: &[i32], s: &[f16], k, n| Int4Linear::from_marlin("M", b, s, k, n).map(|_| ()).map_err(tensor_of);
    assert_eq!(marlin(&b[1..], &s, 256, 128), Err("M.B".into()));
    assert_eq!(marlin(&b, &s[1..], 256, 128), Err("M.s".into()));
    assert_eq!(marlin(&b, &s, 256, 96), Err("M.B".into()));
    assert_eq!(marlin(&b, &s, 250, 128), Err("M.B".into()));
    assert_eq!(marlin(&b, &s[..128 * 3 / 2], 256, 128), Err("M.s".into()));
    assert!(marlin(&b, &s, 256, 128).is_ok());
}

#[test]
fn concat_rejects_mismatched_parts() {
    let a = Int4Linear::random(8, 64, 32, 1);
    let b = Int4Linear::random(8, 128, 32, 2);
    let c = Int4Linear::random(8, 64, 64, 3);
    assert!(matches!(Int4Linear::concat_n(vec![]), Err(QuantError::Shape { .. })));
    assert!(matches!(Int4Linear::concat_n(vec![a.clone(), b]), Err(QuantError::Shape { .. })));
    assert!(matches!(Int4Linear::concat_n(vec![a.clone(), c]), Err(QuantError::Shape { .. })));
    assert!(a.split_n(&[4, 3]).is_err());
}

#[test]
fn bytes_counts_packed_storage() {
    let lin = Int4Linear::random(4096, 4096, 128, 0);
    // 4 bits per weight plus one f16 scale per 128 weights.
    assert_eq!(lin.bytes(), 4096 * 4096 / 2 + 4096 * 32 * 2);
    assert_eq!(lin.streamed_bytes(), lin.bytes());
}

/// With one-hot rows of `x`, every product is a single weight: results must be exact.
fn check_exact_columns(lin: &Int4Linear, kernel: Kernel) {
    let (n, k) = (lin.n(), lin.k());
    let w = lin.dequantize();
    // m = k rows (GEMM path) and single rows (GEMV path) for a few K positions.
    let mut x = vec![0f32; k * k];
    for i in 0..k {
        x[i * k + i] = 1.0;
    }
    let mut y = vec![0f32; k * n];
    lin.matmul_with(kernel, &x, k, &mut y).unwrap();
    for r in 0..k {
        for col in 0..n {
            assert_eq!(y[r * n + col], w[col * k + r], "{kernel:?} gemm [{r}, {col}]");
        }
    }
    for r in [0, 1, 15, 16, 17, 31, k - 1] {
        for m in [1, 2] {
            let rows: Vec<f32> = (0..m).flat_map(|_| x[r * k..(r + 1) * k].iter().copied()).collect();
            let mut y = vec![0f32; m * n];
            lin.matmul_with(kernel, &rows, m, &mut y).unwrap();
            for col in 0..n {
                assert_eq!(y[(m - 1) * n + col], w[col * k + r], "{kernel:?} gemv m={m} [{r}, {col}]");
            }
        }
    }
}

#[test]
fn matmul_honours_f16_rounding_exactly() {
    let known = Known::new(128, 37, 32, 77);
    let zero = |g: usize, col: usize| ((g + col) % 16 + 1) as u8;
    let asym =
        Int4Linear::from_gptq("t", &known.gptq_qweight(), &known.gptq_qzeros(zero), &known.s, None, 128, 37).unwrap();
    let mut g_idx: Vec<i32> = (0..128).map(|i| (i * 5) % 128 / 32).collect();
    g_idx.rotate_left(3);
    let act = Int4Linear::from_gptq(
        "t",
        &known.gptq_qweight(),
        &known.gptq_qzeros(|_, _| 8),
        &known.s,
        Some(&g_idx),
        128,
        37,
    )
    .unwrap();
    assert!(act.has_act_order());
    let sym = Int4Linear::from_gptq("t", &known.gptq_qweight(), &known.gptq_qzeros(|_, _| 8), &known.s, None, 128, 37)
        .unwrap();
    // The scales need rounding for most q: make sure this test would notice a missing rounding.
    let w = sym.dequantize();
    let unrounded = (0..37 * 128)
        .filter(|&i| {
            let (col, kk) = (i / 128, i % 128);
            let q = f32::from(known.q[kk * 37 + col]) - 8.0;
            q * known.s[(kk / 32) * 37 + col].to_f32() != w[i]
        })
        .count();
    assert!(unrounded > 500, "only {unrounded} weights needed rounding");
    for kernel in Kernel::available() {
        for lin in [&sym, &asym, &act] {
            check_exact_columns(lin, kernel);
        }
    }
}

#[test]
fn detect_picks_an_available_kernel_and_honours_the_override() {
    let kernel = Kernel::detect();
    assert!(kernel.is_available());
    if let Ok(name) = std::env::var("AIO_INT4_KERNEL") {
        if let Some(wanted) = Kernel::ALL.into_iter().find(|k| k.name() == name)
            && wanted.is_available()
        {
            assert_eq!(kernel, wanted);
        }
    } else {
        assert_eq!(Some(&kernel), Kernel::available().last());
    }
    // The default entry point agrees with the explicit one.
    let lin = Int4Linear::random(24, 64, 32, 4);
    let x: Vec<f32> = (0..3 * 64).map(|i| (i % 11) as f32 - 5.0).collect();
    let (mut a, mut b) = (vec![0f32; 3 * 24], vec![0f32; 3 * 24]);
    lin.matmul(&x, 3, &mut a);
    lin.matmul_with(kernel, &x, 3, &mut b).unwrap();
    assert_eq!(a, b);
}
