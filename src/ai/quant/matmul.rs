//! `y = x · Wᵀ` drivers: work splitting across cores and cache blocking around the kernels.
//!
//! * Few rows (`m ≤ GEMV_MAX_M`): each task streams a contiguous range of 8-column blocks once
//!   and multiplies every row of `x` (in pairs) against each block while it is in L1/L2; this
//!   is the memory-bound decode path (software-prefetched, one pass over the weights).
//! * More rows: a blocked GEMM over slabs of rows. `x` is packed transposed (`[k][mr]` panels,
//!   applying the act-order K permutation); tasks own a range of rows and of 8-column blocks;
//!   for each K block of `KC` they dequantise up to `NC_BLOCKS` blocks into `[8][kc]` f32
//!   panels and run the micro-kernel (rows of `x` in vector lanes, weights broadcast) into a
//!   transposed output, which is transposed into `y` at the end. Dequantisation is amortised
//!   over all rows of a task.

use rayon::prelude::*;

use super::kernel::{self, Kernel, Ready};
use super::layout::NB;
use super::{Int4Linear, QuantError};

/// Largest `m` handled by the matrix-vector path (measured crossover with the GEMM, whose
/// micro-kernel always computes 32 rows with AVX-512).
const GEMV_MAX_M: usize = 12;
/// K block of the GEMM (a multiple of 32): `xᵀ` micro-panels of `KC · mr` floats stay in L1.
const KC: usize = 128;
/// Blocks whose weight panels are decoded together (they and their `yᵀ` tiles stay in L2).
const NC_BLOCKS: usize = 32;
/// Rows per GEMM row chunk (weight panels are decoded once per chunk).
const MC: usize = 256;
/// Bytes of the widest temporary (`xᵀ` or `yᵀ`) per slab of rows.
const SLAB_BYTES: usize = 32 << 20;
/// Fewest blocks a GEMM task is given when rows can be split instead.
const MIN_TASK_BLOCKS: usize = 32;
/// Fewest rows a GEMM task is given when rows are split.
const MIN_TASK_ROWS: usize = 256;

impl Int4Linear {
    /// `y[m, n] = x[m, k] · Wᵀ` on all cores with the fastest available kernel.
    ///
    /// # Panics
    /// If `x.len() != m · k` or `y.len() != m · n` (see [`Int4Linear::try_matmul`]).
    pub fn matmul(&self, x: &[f32], m: usize, y: &mut [f32]) {
        if let Err(e) = self.try_matmul(x, m, y) {
            panic!("Int4Linear::matmul: {e}");
        }
    }

    /// [`Int4Linear::matmul`] returning a [`QuantError::Shape`] for wrong lengths.
    pub fn try_matmul(&self, x: &[f32], m: usize, y: &mut [f32]) -> Result<(), QuantError> {
        self.matmul_with(Kernel::detect(), x, m, y)
    }

    /// [`Int4Linear::try_matmul`] with an explicit kernel (e.g. [`Kernel::Scalar`] in tests).
    pub fn matmul_with(&self, kernel: Kernel, x: &[f32], m: usize, y: &mut [f32]) -> Result<(), QuantError> {
        let Some(ready) = kernel.ready() else {
            return Err(QuantError::KernelUnavailable(kernel));
        };
        if x.len() != m * self.k {
            return Err(QuantError::shape("x", format!("[{m}, {}]", self.k), x.len()));
        }
        if y.len() != m * self.n {
            return Err(QuantError::shape("y", format!("[{m}, {}]", self.n), y.len()));
        }
        if m == 0 {
            return Ok(());
        }
        if m <= GEMV_MAX_M {
            self.gemv(ready, x, m, y);
        } else {
            self.gemm(ready, x, m, y);
        }
        Ok(())
    }

    /// The matrix-vector path.
    fn gemv(&self, kernel: Ready, x: &[f32], m: usize, y: &mut [f32]) {
        let permuted;
        let x = match &self.kperm {
            None => x,
            Some(perm) => {
                permuted = x.chunks(self.k).flat_map(|row| perm.iter().map(|&p| row[p as usize])).collect::<Vec<f32>>();
                &permuted
            }
        };
        let view = self.view();
        let tasks = rayon::current_num_threads() * 4;
        let per_task = self.nblocks.div_ceil(tasks).max(1);
        if m == 1 {
            y.par_chunks_mut(per_task * NB).enumerate().for_each(|(t, ys)| {
                let mut out = [0f32; NB];
                for (i, yb) in ys.chunks_mut(NB).enumerate() {
                    kernel::gemv(kernel, &view, t * per_task + i, x, 1, &mut out);
                    yb.copy_from_slice(&out[..yb.len()]);
                }
            });
            return;
        }
        // yt: [nblocks][m][NB], then scattered into y rows.
        let mut yt = vec![0f32; self.nblocks * m * NB];
        yt.par_chunks_mut(per_task * m * NB).enumerate().for_each(|(t, ys)| {
            for (i, yb) in ys.chunks_mut(m * NB).enumerate() {
                let blk = t * per_task + i;
                let mut r = 0;
                while r < m {
                    let rows = (m - r).min(2);
                    kernel::gemv(kernel, &view, blk, &x[r * self.k..], rows, &mut yb[r * NB..]);
                    r += rows;
                }
            }
        });
        y.par_chunks_mut(self.n).enumerate().for_each(|(r, row)| {
            for (blk, dst) in row.chunks_mut(NB).enumerate() {
                let at = (blk * m + r) * NB;
                dst.copy_from_slice(&yt[at..at + dst.len()]);
            }
        });
    }

    /// The blocked GEMM path, in slabs of rows that bound the temporary buffers.
    fn gemm(&self, kernel: Ready, x: &[f32], m: usize, y: &mut [f32]) {
        let mr = kernel.kernel().mr();
        let widest = self.k.max(self.nblocks * NB);
        let slab = (SLAB_BYTES / (4 * widest)).max(mr) / mr * mr;
        debug_assert!(slab > 0 && m > 0);
        for (xs, ys) in x.chunks(slab * self.k).zip(y.chunks_mut(slab * self.n)) {
            self.gemm_slab(kernel, xs, xs.len() / self.k, ys);
        }
    }

    /// GEMM of `m` rows: pack `xᵀ`, compute `yᵀ` tiles per task, transpose into `y`.
    fn gemm_slab(&self, kernel: Ready, x: &[f32], m: usize, y: &mut [f32]) {
        let (mr, k, n) = (kernel.kernel().mr(), self.k, self.n);
        let npad = self.nblocks * NB;
        let mblocks = m.div_ceil(mr);
        // xᵀ panels [mblocks][k][mr], stored K order, zero rows beyond m.
        let mut xt = vec![0f32; mblocks * k * mr];
        let perm = self.kperm.as_deref();
        xt.par_chunks_mut(k * mr).enumerate().for_each(|(mb, dst)| {
            for r in 0..mr.min(m - mb * mr) {
                let row = mb * mr + r;
                let xr = &x[row * k..(row + 1) * k];
                let d = dst.iter_mut().skip(r).step_by(mr);
                match perm {
                    None => d.zip(xr).for_each(|(d, &v)| *d = v),
                    Some(p) => d.zip(p).for_each(|(d, &pk)| *d = xr[pk as usize]),
                }
            }
        });
        // Task grid: column ranges of blocks, and row ranges when there are many rows.
        let target = rayon::current_num_threads() * 2;
        let max_row_tasks = (m / MIN_TASK_ROWS).max(1);
        let mut col_tasks = self.nblocks.min(target);
        if max_row_tasks > 1 && self.nblocks / col_tasks < MIN_TASK_BLOCKS {
            col_tasks = (self.nblocks / MIN_TASK_BLOCKS).max(1);
        }
        let row_tasks = max_row_tasks.min(target.div_ceil(col_tasks)).max(1);
        let blocks_per_task = self.nblocks.div_ceil(col_tasks);
        let mblocks_per_task = mblocks.div_ceil(row_tasks);
        let rpt = mblocks_per_task * mr;
        // Column stride of yᵀ: padded so that a tile's 8 columns do not share an L1 set.
        let ldc = rpt + 16;
        let row_tasks = mblocks.div_ceil(mblocks_per_task);
        // yᵀ: [row task][npad][ldc].
        let mut yt = vec![0f32; row_tasks * npad * ldc];
        yt.par_chunks_mut(npad * ldc).enumerate().for_each(|(rt, yr)| {
            yr.par_chunks_mut(blocks_per_task * NB * ldc).enumerate().for_each(|(ct, out)| {
                let mb0 = rt * mblocks_per_task;
                let task = Task { mb0, mbs: mblocks_per_task.min(mblocks - mb0), blk0: ct * blocks_per_task, ldc };
                self.gemm_task(kernel, &xt, &task, out);
            });
        });
        // y[r][col] = yᵀ[col][r], eight rows at a time (rpt is a multiple of 8).
        y.par_chunks_mut(8 * n).enumerate().for_each(|(g, rows)| {
            let (rt, lr) = (8 * g / rpt, 8 * g % rpt);
            let count = rows.len() / n;
            for col in 0..n {
                let at = (rt * npad + col) * ldc + lr;
                for (i, &v) in yt[at..at + count].iter().enumerate() {
                    rows[i * n + col] = v;
                }
            }
        });
    }

    /// One task: row blocks `mb0 .. mb0 + mbs` times blocks `blk0 ..` into `out[blks][8][ldc]`.
    fn gemm_task(&self, kernel: Ready, xt: &[f32], task: &Task, out: &mut [f32]) {
        let (mr, k) = (kernel.kernel().mr(), self.k);
        let view = self.view();
        let blks = out.len() / (NB * task.ldc);
        let mut wp = vec![0f32; NC_BLOCKS.min(blks) * NB * KC];
        // Row chunks of about MC rows keep this chunk's yᵀ tiles in L2 across K blocks.
        let mc = (MC / mr).max(1);
        for c0 in (0..blks).step_by(NC_BLOCKS) {
            let cn = NC_BLOCKS.min(blks - c0);
            for m0 in (0..task.mbs).step_by(mc) {
                for kb in (0..k).step_by(KC) {
                    let kc = KC.min(k - kb);
                    for (i, panel) in wp.chunks_mut(NB * kc).take(cn).enumerate() {
                        kernel::decode_block(kernel, &view, task.blk0 + c0 + i, kb, kc, panel);
                    }
                    for mb in m0..task.mbs.min(m0 + mc) {
                        let at = ((task.mb0 + mb) * k + kb) * mr;
                        let a = &xt[at..at + kc * mr];
                        for (i, w) in wp.chunks(NB * kc).take(cn).enumerate() {
                            let c = &mut out[(c0 + i) * NB * task.ldc + mb * mr..];
                            kernel::micro(kernel, a, w, kc, c, task.ldc, kb > 0);
                        }
                    }
                }
            }
        }
    }
}

/// Which rows and columns a GEMM task computes.
struct Task {
    /// First row block (of `mr` rows) of the slab.
    mb0: usize,
    /// Number of row blocks.
    mbs: usize,
    /// First 8-column block.
    blk0: usize,
    /// Stride of `yᵀ` columns (rows per row task plus padding).
    ldc: usize,
}
