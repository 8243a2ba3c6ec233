//! Dense 16-bit matrices kept as stored (f16 or bf16): the embedding and `lm_head` of int4 checkpoints. They are
//! widened to f32 one row at a time inside the product, so memory and the bytes read per token stay half of an
//! f32 copy (the 8B model's `lm_head` is 0.6 GB read per token, not 1.2 GB) and results equal an f32 product of
//! the widened weights.

use half::{bf16, f16};
use rayon::prelude::*;

/// Rows handed to one task of the product.
const ROWS_PER_TASK: usize = 64;

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
        y_t.par_chunks_mut(ROWS_PER_TASK * m).enumerate().for_each(|(block, out)| {
            let mut row = vec![0f32; k];
            for (i, out_row) in out.chunks_mut(m).enumerate() {
                self.row_f32(block * ROWS_PER_TASK + i, &mut row);
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
        let (n, k, m) = (131, 70, 3);
        let w = HalfMatrix::random_f16(n, k, 0.5, 3);
        let mut rng = fastrand::Rng::with_seed(9);
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
        let bf = HalfMatrix::new(HalfData::BF16(vec![bf16::from_f32(1.5); 6]), 2, 3).expect("shape");
        let mut y = vec![0f32; 2];
        bf.matmul(&[1.0, 2.0, 3.0], 1, &mut y);
        assert_eq!(y, [9.0, 9.0]);
        assert!(HalfMatrix::new(HalfData::F16(vec![f16::ZERO; 5]), 2, 3).is_none());
    }
}
