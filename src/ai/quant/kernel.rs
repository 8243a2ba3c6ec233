//! Kernel selection and the portable scalar kernels.
//!
//! Three operations make up a product, each implemented per [`Kernel`]:
//! * `gemv`: `rows` (1 or 2) rows of `x` times one 8-column block, reading the packed nibbles
//!   directly (table lookup per group and column, lanes along K);
//! * `decode_block`: dequantise `kc` K values of one 8-column block into `[8][kc]` f32;
//! * `micro`: the register-blocked GEMM micro-kernel, `mr` rows of `x` (vector lanes) times
//!   8 columns (broadcast weights), on a transposed `x` panel `[kc][mr]`, writing `yᵀ`.

use std::sync::OnceLock;

use super::layout::{CHUNK_BYTES, CK, NB, SYM_ZERO, View, weight_table};

/// Rows of the scalar micro-kernel.
const SCALAR_MR: usize = 8;

/// An implementation of the int4 kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Portable Rust, any CPU.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-512F (with AVX2, FMA, F16C).
    Avx512,
}

impl Kernel {
    /// Every kernel, fastest last.
    pub const ALL: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

    /// The fastest kernel this CPU runs, unless `AIO_INT4_KERNEL` (`scalar`, `avx2`, `avx512`)
    /// names an available one.
    pub fn detect() -> Kernel {
        static DETECTED: OnceLock<Kernel> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            let forced = std::env::var("AIO_INT4_KERNEL")
                .ok()
                .and_then(|v| Kernel::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(v.trim())));
            match forced {
                Some(k) if k.is_available() => k,
                _ => Kernel::ALL.into_iter().rev().find(|k| k.is_available()).unwrap_or(Kernel::Scalar),
            }
        })
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => Kernel::Avx2.is_available() && is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Kernels this CPU can run.
    pub fn available() -> Vec<Kernel> {
        Kernel::ALL.into_iter().filter(|k| k.is_available()).collect()
    }

    /// Lower-case name, as accepted by `AIO_INT4_KERNEL`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// This kernel with proof that it runs on this CPU, or `None`.
    pub(crate) fn ready(self) -> Option<Ready> {
        self.is_available().then_some(Ready(self))
    }

    /// Rows of `x` per GEMM micro-kernel call (a multiple of 8).
    pub(crate) fn mr(self) -> usize {
        match self {
            Kernel::Scalar => SCALAR_MR,
            Kernel::Avx2 => 16,
            Kernel::Avx512 => 32,
        }
    }
}

/// A kernel checked to run on this CPU: only [`Kernel::ready`] makes one, which is what makes
/// calling its `#[target_feature]` functions sound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ready(Kernel);

impl Ready {
    /// The kernel.
    pub(crate) fn kernel(self) -> Kernel {
        self.0
    }
}

/// `out[r][c] = Σ_k x[r][k] · W[blk·8 + c][k]` for `rows` ∈ {1, 2} rows of `x` (stride `k`).
pub(crate) fn gemv(kernel: Ready, v: &View, blk: usize, x: &[f32], rows: usize, out: &mut [f32]) {
    assert!(rows == 1 || rows == 2, "gemv handles 1 or 2 rows");
    assert!(blk < v.nblocks && x.len() >= rows * v.k && out.len() >= rows * NB);
    match kernel.0 {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            // SAFETY: a `Ready` kernel passed `is_available()`, so the CPU has the target
            // features of this function.
            unsafe {
                if rows == 1 {
                    super::x86::avx512::gemv::<1>(v, blk, x, out)
                } else {
                    super::x86::avx512::gemv::<2>(v, blk, x, out)
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            // SAFETY: as above, a `Ready` kernel is available on this CPU.
            unsafe {
                if rows == 1 {
                    super::x86::avx2::gemv::<1>(v, blk, x, out)
                } else {
                    super::x86::avx2::gemv::<2>(v, blk, x, out)
                }
            }
        }
        _ => {
            if rows == 1 {
                gemv_scalar::<1>(v, blk, x, out)
            } else {
                gemv_scalar::<2>(v, blk, x, out)
            }
        }
    }
}

/// Dequantises stored K `kb .. kb + kc` of block `blk` into `out[8][kc]`.
pub(crate) fn decode_block(kernel: Ready, v: &View, blk: usize, kb: usize, kc: usize, out: &mut [f32]) {
    assert!(blk < v.nblocks && kb.is_multiple_of(CK) && kc.is_multiple_of(CK));
    assert!(kb + kc <= v.k && out.len() >= NB * kc);
    match kernel.0 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Ready` kernel passed `is_available()` on this CPU.
        Kernel::Avx512 => unsafe { super::x86::avx512::decode_block(v, blk, kb, kc, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Ready` kernel passed `is_available()` on this CPU.
        Kernel::Avx2 => unsafe { super::x86::avx2::decode_block(v, blk, kb, kc, out) },
        _ => decode_block_scalar(v, blk, kb, kc, out),
    }
}

/// `yᵀ` tile: `c[col·ldc + r] (+)= Σ_kk a[kk·mr + r] · w[col·kc + kk]` for 8 columns and `mr`
/// rows, overwriting unless `accumulate`.
pub(crate) fn micro(kernel: Ready, a: &[f32], w: &[f32], kc: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
    let mr = kernel.0.mr();
    assert!(a.len() >= kc * mr && w.len() >= NB * kc);
    assert!(ldc >= mr && c.len() >= (NB - 1) * ldc + mr);
    match kernel.0 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Ready` kernel passed `is_available()` on this CPU.
        Kernel::Avx512 => unsafe { super::x86::avx512::micro(a, w, kc, c, ldc, accumulate) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Ready` kernel passed `is_available()` on this CPU.
        Kernel::Avx2 => unsafe { super::x86::avx2::micro(a, w, kc, c, ldc, accumulate) },
        _ => micro_scalar(a, w, kc, c, ldc, accumulate),
    }
}

/// Tables of one block and group: `[NB][16]` weight values.
fn block_tables(v: &View, blk: usize, g: usize) -> [[f32; 16]; NB] {
    let scales = v.block_scales(blk);
    let zeros = v.block_zeros(blk);
    std::array::from_fn(|c| {
        let z = zeros.map_or(SYM_ZERO, |z| z[g * NB + c]);
        weight_table(z, scales[g * NB + c])
    })
}

/// Portable `gemv`.
fn gemv_scalar<const R: usize>(v: &View, blk: usize, x: &[f32], out: &mut [f32]) {
    let q = v.block_q(blk);
    let mut acc = [[0f32; NB]; R];
    for g in 0..v.groups {
        let tables = block_tables(v, blk, g);
        for ch in g * v.cpg..(g + 1) * v.cpg {
            for (c, table) in tables.iter().enumerate() {
                let bytes = &q[(ch * NB + c) * CHUNK_BYTES..][..CHUNK_BYTES];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let xs = &x[r * v.k + ch * CK..][..CK];
                    let mut sum = 0f32;
                    for (j, &b) in bytes.iter().enumerate() {
                        sum += table[usize::from(b & 15)] * xs[j];
                        sum += table[usize::from(b >> 4)] * xs[CHUNK_BYTES + j];
                    }
                    acc[c] += sum;
                }
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        out[r * NB..(r + 1) * NB].copy_from_slice(acc);
    }
}

/// Portable `decode_block`.
fn decode_block_scalar(v: &View, blk: usize, kb: usize, kc: usize, out: &mut [f32]) {
    let q = v.block_q(blk);
    let mut group = usize::MAX;
    let mut tables = [[0f32; 16]; NB];
    for chl in 0..kc / CK {
        let ch = kb / CK + chl;
        if ch / v.cpg != group {
            group = ch / v.cpg;
            tables = block_tables(v, blk, group);
        }
        for (c, table) in tables.iter().enumerate() {
            let bytes = &q[(ch * NB + c) * CHUNK_BYTES..][..CHUNK_BYTES];
            let dst = &mut out[c * kc + chl * CK..][..CK];
            for (j, &b) in bytes.iter().enumerate() {
                dst[j] = table[usize::from(b & 15)];
                dst[CHUNK_BYTES + j] = table[usize::from(b >> 4)];
            }
        }
    }
}

/// Portable `micro` (8 rows).
fn micro_scalar(a: &[f32], w: &[f32], kc: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
    for col in 0..NB {
        let wc = &w[col * kc..(col + 1) * kc];
        let mut sum = [0f32; SCALAR_MR];
        for (av, &wv) in a.chunks_exact(SCALAR_MR).zip(wc) {
            for (s, &x) in sum.iter_mut().zip(av) {
                *s += x * wv;
            }
        }
        let dst = &mut c[col * ldc..col * ldc + SCALAR_MR];
        for (d, s) in dst.iter_mut().zip(sum) {
            *d = if accumulate { *d + s } else { s };
        }
    }
}
