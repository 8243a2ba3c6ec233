//! Dense 16-bit matrices kept as stored (f16 or bf16): the embedding and `lm_head` of int4 checkpoints. They are
//! widened to f32 one row at a time inside the product, so memory and the bytes read per token stay half of an
//! f32 copy (the 8B model's `lm_head` is 0.6 GB read per token, not 1.2 GB) and results equal an f32 product of
//! the widened weights up to f32 summation order. For up to [`DIRECT_ROWS`] rows of `x` (decode), an AVX-512 or
//! AVX2 kernel widens and multiplies 16 or 8 values at a time straight from the stored row.

use half::{bf16, f16};
use rayon::prelude::*;

use crate::ai::quant::{Kernel, Ready};

/// Rows handed to one task of the product.
const ROWS_PER_TASK: usize = 64;

/// Rows of `x` up to which the product reads each stored row with a SIMD kernel once per row of `x` (above, a
/// row is widened once into a buffer and reused).
pub const DIRECT_ROWS: usize = 4;

/// The stored 16-bit values.
#[derive(Debug, Clone)]
pub enum HalfData {
    /// IEEE half precision.
    F16(Vec<f16>),
    /// bfloat16.
    BF16(Vec<bf16>),
}

/// A row-major [n, k] matrix of 16-bit floats.
#[derive(Debug, Clone)]
pub struct HalfMatrix {
    data: HalfData,
    n: usize,
    k: usize,
}

impl HalfMatrix {
    /// Wraps `data` of `n × k` values; None when the length does not match.
    pub fn new(data: HalfData, n: usize, k: usize) -> Option<Self> {
        let len = match &data {
            HalfData::F16(v) => v.len(),
            HalfData::BF16(v) => v.len(),
        };
        (len == n * k).then_some(Self { data, n, k })
    }

    /// Random values uniform in ±`scale` (benchmarks).
    pub fn random_f16(n: usize, k: usize, scale: f32, seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let data = (0..n * k).map(|_| f16::from_f32((rng.f32() * 2.0 - 1.0) * scale)).collect();
        Self { data: HalfData::F16(data), n, k }
    }

    /// Rows.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Columns.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Resident bytes.
    pub fn bytes(&self) -> usize {
        self.n * self.k * 2
    }

    /// Row `r` widened to f32 into `out` (`k` long).
    pub fn row_f32(&self, r: usize, out: &mut [f32]) {
        let range = r * self.k..(r + 1) * self.k;
        match &self.data {
            HalfData::F16(v) => half::slice::HalfFloatSliceExt::convert_to_f32_slice(&v[range], out),
            HalfData::BF16(v) => half::slice::HalfFloatSliceExt::convert_to_f32_slice(&v[range], out),
        }
    }

    /// y [m, n] = x [m, k] · selfᵀ on all cores. Panics when the slice lengths do not match (a caller bug).
    pub fn matmul(&self, x: &[f32], m: usize, y: &mut [f32]) {
        let (n, k) = (self.n, self.k);
        assert!(x.len() == m * k && y.len() == m * n, "HalfMatrix::matmul: x or y has the wrong length");
        // yᵀ [n, m] in row blocks, one task per block; transposed into y afterwards.
        let mut y_t = vec![0f32; n * m];
        let direct = Kernel::detect().ready().filter(|k| k.kernel() != Kernel::Scalar && m <= DIRECT_ROWS);
        y_t.par_chunks_mut(ROWS_PER_TASK * m).enumerate().for_each(|(block, out)| {
            let mut row = vec![0f32; if direct.is_some() { 0 } else { k }];
            for (i, out_row) in out.chunks_mut(m).enumerate() {
                let r = block * ROWS_PER_TASK + i;
                if let Some(kernel) = direct {
                    let stored = r * k..(r + 1) * k;
                    for (j, o) in out_row.iter_mut().enumerate() {
                        *o = match &self.data {
                            HalfData::F16(v) => dot_f16(kernel, &v[stored.clone()], &x[j * k..(j + 1) * k]),
                            HalfData::BF16(v) => dot_bf16(kernel, &v[stored.clone()], &x[j * k..(j + 1) * k]),
                        };
                    }
                    continue;
                }
                self.row_f32(r, &mut row);
                for (j, o) in out_row.iter_mut().enumerate() {
                    *o = dot(&row, &x[j * k..(j + 1) * k]);
                }
            }
        });
        for (r, col) in y_t.chunks(m).enumerate() {
            for (j, v) in col.iter().enumerate() {
                y[j * n + r] = *v;
            }
        }
    }
}

/// `Σ f32(w[i]) · x[i]` over the shorter of the two, with a SIMD kernel.
fn dot_f16(kernel: Ready, w: &[f16], x: &[f32]) -> f32 {
    dot_bits::<false>(kernel, half::slice::HalfFloatSliceExt::reinterpret_cast(w), x)
}

/// [`dot_f16`] of a bfloat16 row.
fn dot_bf16(kernel: Ready, w: &[bf16], x: &[f32]) -> f32 {
    dot_bits::<true>(kernel, half::slice::HalfFloatSliceExt::reinterpret_cast(w), x)
}

/// The dot product of 16-bit values given by their bits (`BF16`: bfloat16, else IEEE half) with `x`.
fn dot_bits<const BF16: bool>(kernel: Ready, w: &[u16], x: &[f32]) -> f32 {
    match kernel.kernel() {
        // SAFETY: a `Ready` kernel passed `is_available()`, so the CPU has the target features of the function.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => unsafe { x86::dot_avx512::<BF16>(w.as_ptr(), w.len(), x) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { x86::dot_avx2::<BF16>(w.as_ptr(), w.len(), x) },
        _ => w.iter().zip(x).map(|(&w, x)| widen_one::<BF16>(w) * x).sum(),
    }
}

/// One 16-bit value widened to f32.
fn widen_one<const BF16: bool>(bits: u16) -> f32 {
    if BF16 { f32::from_bits(u32::from(bits) << 16) } else { f16::from_bits(bits).to_f32() }
}

/// The widening dot products: 16-bit values (`BF16`: bfloat16, else IEEE half) times f32, four independent
/// accumulators of 16 (AVX-512) or 8 (AVX2) lanes, the tail one value at a time.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    use super::widen_one;

    /// `Σ widen(w[i]) · x[i]` for `i < min(len, x.len())`.
    ///
    /// # Safety
    /// The CPU must have AVX-512F, AVX2, FMA and F16C, and `w` must point to `len` readable 16-bit values.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub(super) unsafe fn dot_avx512<const BF16: bool>(w: *const u16, len: usize, x: &[f32]) -> f32 {
        let n = len.min(x.len());
        let xp = x.as_ptr();
        // SAFETY (every load below): `i + 16 ≤ n`, so 16 values of `w` (32 bytes) and 16 of `x` are in bounds.
        let widen = |i: usize| -> __m512 {
            let h = unsafe { _mm256_loadu_si256(w.add(i).cast()) };
            if BF16 {
                _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
            } else {
                _mm512_cvtph_ps(h)
            }
        };
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (u, acc) in acc.iter_mut().enumerate() {
                let xv = unsafe { _mm512_loadu_ps(xp.add(i + 16 * u)) };
                *acc = _mm512_fmadd_ps(widen(i + 16 * u), xv, *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            let xv = unsafe { _mm512_loadu_ps(xp.add(i)) };
            acc[0] = _mm512_fmadd_ps(widen(i), xv, acc[0]);
            i += 16;
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        let mut total = _mm512_reduce_add_ps(sum);
        for (j, &xj) in x.iter().enumerate().take(n).skip(i) {
            // SAFETY: j < n ≤ len.
            total += widen_one::<BF16>(unsafe { *w.add(j) }) * xj;
        }
        total
    }

    /// [`dot_avx512`] with 8-lane AVX2 vectors.
    ///
    /// # Safety
    /// The CPU must have AVX2, FMA and F16C, and `w` must point to `len` readable 16-bit values.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_avx2<const BF16: bool>(w: *const u16, len: usize, x: &[f32]) -> f32 {
        let n = len.min(x.len());
        let xp = x.as_ptr();
        // SAFETY (every load below): `i + 8 ≤ n`, so 8 values of `w` (16 bytes) and 8 of `x` are in bounds.
        let widen = |i: usize| -> __m256 {
            let h = unsafe { _mm_loadu_si128(w.add(i).cast()) };
            if BF16 {
                _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
            } else {
                _mm256_cvtph_ps(h)
            }
        };
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (u, acc) in acc.iter_mut().enumerate() {
                let xv = unsafe { _mm256_loadu_ps(xp.add(i + 8 * u)) };
                *acc = _mm256_fmadd_ps(widen(i + 8 * u), xv, *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            let xv = unsafe { _mm256_loadu_ps(xp.add(i)) };
            acc[0] = _mm256_fmadd_ps(widen(i), xv, acc[0]);
            i += 8;
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` holds 8 floats; the store is unaligned.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        let mut total: f32 = lanes.iter().sum();
        for (j, &xj) in x.iter().enumerate().take(n).skip(i) {
            // SAFETY: j < n ≤ len.
            total += widen_one::<BF16>(unsafe { *w.add(j) }) * xj;
        }
        total
    }
}

/// Dot product with eight independent accumulators (vectorised by the compiler).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_equals_the_widened_f32_product() {
        let (n, k) = (131, 70);
        let w = HalfMatrix::random_f16(n, k, 0.5, 3);
        let mut rng = fastrand::Rng::with_seed(9);
        // Direct (SIMD) and buffered products.
        for m in [1, 3, DIRECT_ROWS + 2] {
            let x: Vec<f32> = (0..m * k).map(|_| rng.f32() - 0.5).collect();
            let mut y = vec![0f32; m * n];
            w.matmul(&x, m, &mut y);
            let mut row = vec![0f32; k];
            for r in 0..n {
                w.row_f32(r, &mut row);
                for j in 0..m {
                    let expected: f64 = row.iter().zip(&x[j * k..(j + 1) * k]).map(|(a, b)| f64::from(a * b)).sum();
                    assert!((f64::from(y[j * n + r]) - expected).abs() < 1e-5, "row {r} x {j}");
                }
            }
        }
        // Every kernel this CPU runs, f16 and bf16, rows long enough for the unrolled loops and with tails.
        for kernel in Kernel::available().into_iter().filter_map(Kernel::ready) {
            for k in [1, 15, 16, 17, 64, 100, 4096 + 23] {
                let row: Vec<f32> = (0..k).map(|_| rng.f32() - 0.5).collect();
                let x: Vec<f32> = (0..k).map(|_| rng.f32() - 0.5).collect();
                let halves: Vec<f16> = row.iter().map(|&v| f16::from_f32(v)).collect();
                let brains: Vec<bf16> = row.iter().map(|&v| bf16::from_f32(v)).collect();
                let exact = |w: &mut dyn Iterator<Item = f32>| -> f64 {
                    w.zip(&x).map(|(a, b)| f64::from(a) * f64::from(*b)).sum()
                };
                let want_f16 = exact(&mut halves.iter().map(|h| h.to_f32()));
                let want_bf16 = exact(&mut brains.iter().map(|h| h.to_f32()));
                let (got_f16, got_bf16) = (dot_f16(kernel, &halves, &x), dot_bf16(kernel, &brains, &x));
                let tolerance = 1e-5 * (k as f64).sqrt();
                assert!((f64::from(got_f16) - want_f16).abs() < tolerance, "{kernel:?} f16 k {k}");
                assert!((f64::from(got_bf16) - want_bf16).abs() < tolerance, "{kernel:?} bf16 k {k}");
            }
        }
        let bf = HalfMatrix::new(HalfData::BF16(vec![bf16::from_f32(1.5); 6]), 2, 3).expect("shape");
        let mut y = vec![0f32; 2];
        bf.matmul(&[1.0, 2.0, 3.0], 1, &mut y);
        assert_eq!(y, [9.0, 9.0]);
        assert!(HalfMatrix::new(HalfData::F16(vec![f16::ZERO; 5]), 2, 3).is_none());
    }
}
